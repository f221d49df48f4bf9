#!/usr/bin/env bash
# Quick start, step 2: install dependencies, build everything, run the whole
# test suite (CTest). CUDA tests report "Not Run" (skipped) without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bash tools/build.sh
jobs=$(nproc 2>/dev/null || echo 2)
ctest --test-dir build --output-on-failure -j"$jobs"
