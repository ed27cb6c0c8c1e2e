#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/README.md): installs clang and libFuzzer's
# runtime if they are missing (Debian 12: clang, libclang-rt-14-dev), and
# memscope's own packages (./dev.sh deps); configures a separate build with
# clang and -DMEMSCOPE_FUZZ=ON (the library instrumented with libFuzzer's
# coverage, ASan and UBSan); builds every fuzz_* target and the seed tool;
# writes the seed corpora into $FUZZ_BUILD_DIR/fuzz/seeds.
#
# Environment: FUZZ_BUILD_DIR (default ./build-fuzz), JOBS (default 2),
# CMAKE_ARGS (extra configure arguments, e.g. the ccache launcher).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-2}
FUZZ_PACKAGES=(clang libclang-rt-14-dev)

./dev.sh deps
missing=()
for package in "${FUZZ_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz/build.sh: installing ${missing[*]}"
  sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DMEMSCOPE_FUZZ=ON -DMEMSCOPE_BUILD_TESTS=OFF -DMEMSCOPE_BUILD_BENCH=OFF ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
rm -rf "$BUILD_DIR/fuzz/seeds"
"$BUILD_DIR/fuzz/memscope-fuzz-corpus" "$BUILD_DIR/fuzz/seeds"
