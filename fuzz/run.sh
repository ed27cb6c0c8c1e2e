#!/usr/bin/env bash
# Runs fuzz targets (fuzz/README.md), one after the other, each for a fixed
# time (default 600 s), from its seeds and the corpus it grew before, with
# its dictionary. Not part of CI: run by hand after fuzz/build.sh.
#
#   fuzz/run.sh                 every target, 10 minutes each
#   fuzz/run.sh lime elf        only these
#   SECONDS_PER_TARGET=60 fuzz/run.sh
#
# Per target, in $FUZZ_BUILD_DIR/fuzz: corpus/<target> (kept between runs),
# logs/<target>.log, artifacts/<target>/ (crash-*, leak-*, timeout-*, oom-*
# inputs). The figures (executions, coverage, corpus) of each run are
# appended to results.md, one table row per target, as fuzz/README.md
# records them. Exits 1 if any target found a crash, leak, timeout or
# out-of-memory input.
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-600}
ALL=(raw lime elf lz4 lz4_seekable kdump avml lime_zlib detect isf profile_cache btf kallsyms vmcoreinfo overlay paging)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")
OUT="$BUILD_DIR/fuzz"
mkdir -p "$OUT/logs"
RESULTS="$OUT/results.md"
[ -f "$RESULTS" ] || echo "| target | seconds | executions | exec/s | cov (edges) | ft (features) | corpus | findings |" > "$RESULTS"

failed=0
for target in "${TARGETS[@]}"; do
  binary="$OUT/fuzz_$target"
  if [ ! -x "$binary" ]; then
    echo "fuzz/run.sh: no $binary (run fuzz/build.sh first)" >&2
    exit 2
  fi
  mkdir -p "$OUT/corpus/$target" "$OUT/artifacts/$target"
  dict=()
  [ -f "fuzz/dicts/$target.dict" ] && dict=(-dict="fuzz/dicts/$target.dict")
  echo "== $target: ${SECONDS_PER_TARGET}s"
  # -timeout: one input running longer is a hang; -rss_limit_mb also caps
  # any single allocation (malloc_limit_mb defaults to it): an image must
  # never make memscope allocate without bound.
  nice -n 10 "$binary" "${dict[@]}" -max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$target/" \
    "$OUT/corpus/$target" "$OUT/seeds/$target" > "$OUT/logs/$target.log" 2>&1
  status=$?
  done_line=$(grep -E "^#[0-9]+ +DONE" "$OUT/logs/$target.log" | tail -1)
  [ -z "$done_line" ] && done_line=$(grep -E "^#[0-9]+" "$OUT/logs/$target.log" | tail -1)
  execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$OUT/logs/$target.log" | grep -oE "[0-9]+$")
  rate=$(grep -oE "stat::average_exec_per_sec: *[0-9]+" "$OUT/logs/$target.log" | grep -oE "[0-9]+$")
  cov=$(echo "$done_line" | grep -oE "cov: [0-9]+" | grep -oE "[0-9]+")
  ft=$(echo "$done_line" | grep -oE "ft: [0-9]+" | grep -oE "[0-9]+")
  corp=$(echo "$done_line" | grep -oE "corp: [0-9]+/[0-9]+[a-zA-Z]*" | cut -d' ' -f2)
  findings=$(ls "$OUT/artifacts/$target" 2>/dev/null | wc -l)
  verdict="none"
  if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
    verdict="$findings input(s) in artifacts/$target (exit $status)"
    failed=1
  fi
  echo "| $target | $SECONDS_PER_TARGET | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $verdict |" | tee -a "$RESULTS"
done
exit $failed
