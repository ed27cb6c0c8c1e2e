#!/usr/bin/env bash
# Installs memscope from BUILD_DIR into OUT/prefix and builds, against that
# installed package only, as plugin authors would:
#   OUT/plugins/linux_kthreads.so    examples/kthreads with its own CMakeLists (find_package)
#   OUT/pkgconfig/linux_kthreads.so  the same source with g++ and pkg-config memscope
#   OUT/bad/*.so                     libraries memscope must refuse (this folder's CMakeLists)
# CC, CXX, CFLAGS, CXXFLAGS and LDFLAGS choose the compilers and reach
# them (the sanitizer build instruments the plugins as it does the library).
# Usage: build.sh SOURCE_DIR BUILD_DIR OUT
set -euo pipefail
source_dir=$1 build_dir=$2 out=$3
mkdir -p "$out"
cmake --install "$build_dir" --prefix "$out/prefix" >/dev/null

cmake -S "$source_dir/examples/kthreads" -B "$out/build-kthreads" -DCMAKE_PREFIX_PATH="$out/prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$out/build-kthreads" >/dev/null
mkdir -p "$out/plugins"
cp "$out/build-kthreads/linux_kthreads.so" "$out/plugins/"

pc_dir=$(dirname "$(find "$out/prefix" -name memscope.pc | head -n 1)")
mkdir -p "$out/pkgconfig"
# shellcheck disable=SC2046
"${CXX:-g++}" -std=c++20 -O2 -fPIC -shared ${CXXFLAGS:-} ${LDFLAGS:-} $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags memscope) \
  "$source_dir/examples/kthreads/kthreads.cpp" -o "$out/pkgconfig/linux_kthreads.so" \
  $(PKG_CONFIG_PATH="$pc_dir" pkg-config --libs memscope)

cmake -S "$source_dir/tests/plugin_consumer" -B "$out/build-bad" -DCMAKE_PREFIX_PATH="$out/prefix" >/dev/null
cmake --build "$out/build-bad" >/dev/null
mkdir -p "$out/bad"
cp "$out"/build-bad/*.so "$out/bad/"
