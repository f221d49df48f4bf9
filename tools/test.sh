#!/usr/bin/env bash
# Quick start, step 2: install dependencies, build everything, run the whole
# test suite (CTest). CUDA tests report "Not Run" (skipped) without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bash tools/build.sh
jobs=$(nproc 2>/dev/null || echo 2)
# Test processes run side by side: idle OpenMP workers sleep instead of spinning.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
ctest --test-dir build --output-on-failure -j"$jobs"
