#!/usr/bin/env bash
# Quick start, step 1: install dependencies, build, and run the main example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bash tools/build.sh -DGALEN_BUILD_TESTS=OFF -DGALEN_BUILD_BENCHMARKS=OFF
./build/examples/fit_regression
