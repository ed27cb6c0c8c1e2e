#!/usr/bin/env bash
# Installs memscope from BUILD_DIR into a temporary prefix, builds the C
# programs of this folder against it, and runs one of them with the
# arguments given. CC, CFLAGS and LDFLAGS choose the compiler and reach it
# (the sanitizer build instruments the programs as it does the library).
# Usage: run.sh SOURCE_DIR BUILD_DIR PROGRAM [ARGS...]   (PROGRAM: consumer or procs)
set -euo pipefail
source_dir=$1 build_dir=$2 program=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/tests/install_consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib/x86_64-linux-gnu" "$work/build/$program" "$@"
