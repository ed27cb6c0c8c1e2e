#!/usr/bin/env bash
# Installs memscope from BUILD_DIR into a temporary prefix, builds the C
# consumer against it, and runs it on an image with its profile.
# Usage: run.sh SOURCE_DIR BUILD_DIR PROFILE IMAGE
set -euo pipefail
source_dir=$1 build_dir=$2 profile=$3 image=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/tests/install_consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib/x86_64-linux-gnu" "$work/build/consumer" "$profile" "$image"
