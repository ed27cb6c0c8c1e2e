#!/usr/bin/env bash
# memscope's one entry point for setting up, building and testing.
#
#   ./dev.sh demo   install what is missing, build, run `memscope info`, linux.pstree and `memscope report`
#                   (JSON and an HTML page) on the sample image
#   ./dev.sh test   install what is missing, build, run the whole test suite (ctest), then
#                   build it again with AddressSanitizer and UBSan (into ./build-asan) and
#                   run it there: any leak or undefined behaviour fails it
#   ./dev.sh deps   only install the Debian packages memscope needs
#   ./dev.sh build  only configure and build (into ./build)
#
# Environment: BUILD_DIR (default ./build), BUILD_TYPE (default Release),
# ASAN_BUILD_DIR (default ./build-asan), SANITIZE=0 (test: leave out the
# sanitizer run, for a quicker local check; CI always has it),
# JOBS (default: all cores), MEMSCOPE_FIXTURES (folder of the real test
# images, default ../shared/fixtures).
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-build-asan}
SANITIZE=${SANITIZE:-1}
JOBS=${JOBS:-$(nproc)}

# Debian 12 packages needed to build, test and run memscope.
PACKAGES=(
  build-essential cmake pkg-config
  libboost-dev libboost-program-options-dev nlohmann-json3-dev
  libelf-dev liblz4-dev liblzma-dev zlib1g-dev libzstd-dev liblzo2-dev libsnappy-dev libssl-dev libxxhash-dev
  libcapstone-dev
  libyara-dev
  catch2 libbenchmark-dev
  lz4 zstd xz-utils
  zsh
  python3-jsonschema
)
# Only for `./dev.sh test` (large): the browser the HTML report is tested in.
TEST_PACKAGES=(chromium)

install_deps() {
  local missing=()
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "dev.sh: missing packages (${missing[*]}) and not root, no sudo: install them with apt-get as root" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DMEMSCOPE_WERROR=ON ${CMAKE_ARGS:-} >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

# The sanitizer build: ASan + UBSan (-DMEMSCOPE_SANITIZE=ON), at -O1 (what
# the sanitizers are made for, and the quicker build; tests/CMakeLists.txt
# puts the test files themselves at -O0), no benchmarks.
build_sanitized() {
  cmake -S . -B "$ASAN_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" \
    "-DCMAKE_C_FLAGS_RELEASE=-O1 -DNDEBUG" -DMEMSCOPE_WERROR=ON -DMEMSCOPE_SANITIZE=ON \
    -DMEMSCOPE_BUILD_BENCH=OFF ${CMAKE_ARGS:-} >/dev/null
  cmake --build "$ASAN_BUILD_DIR" -j "$JOBS"
}

# Every report fails the test that caused it: an ASan error or leak stops
# the process (halt_on_error, detect_leaks), and the build makes UBSan's
# reports fatal (-fno-sanitize-recover). .ci/lsan.supp may only name
# third-party libraries (see the comments in it).
run_sanitized_tests() {
  local here
  here=$(pwd)
  (
    cd "$ASAN_BUILD_DIR"
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:report_error_type=1"
    export LSAN_OPTIONS="suppressions=$here/.ci/lsan.supp:print_suppressions=0"
    ctest --output-on-failure -j "$JOBS"
  )
}

case "${1:-}" in
  deps) install_deps ;;
  build) install_deps; build ;;
  demo)
    install_deps
    build
    "$BUILD_DIR/memscope" info -f samples/sample.lime -p samples/sample-profile.json
    echo
    "$BUILD_DIR/memscope" linux.pstree -f samples/sample.lime -p samples/sample-profile.json
    echo
    # A report never replaces an earlier one: the demo starts from an empty folder.
    rm -rf "$BUILD_DIR/demo-report" && mkdir -p "$BUILD_DIR/demo-report"
    "$BUILD_DIR/memscope" report -f samples/sample.lime -p samples/sample-profile.json \
      --out-dir "$BUILD_DIR/demo-report" --html "$BUILD_DIR/demo-report" -q
    report_dir=$(cd "$BUILD_DIR/demo-report" && pwd)
    echo "memscope report: $report_dir/sample.lime.json"
    echo "HTML page (open it in a browser, no server needed): $report_dir/sample.lime.html"
    ;;
  test)
    PACKAGES+=("${TEST_PACKAGES[@]}")
    install_deps
    build
    (cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS")
    if [ "$SANITIZE" != 0 ]; then
      build_sanitized
      run_sanitized_tests
    fi
    ;;
  *)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
