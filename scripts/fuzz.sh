#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UBSan) in
# build-fuzz/ and runs each for SECONDS (default 30), seeded from the test
# suite's inputs (fuzz/seeds.py); the corpus grows in build-fuzz/corpus/.
# Prints executions per target and fails on any crash, leak or sanitizer
# report (the input is kept in build-fuzz/crashes/). See fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-30}"
[ $# -gt 0 ] && shift
TARGETS=(fuzz_api fuzz_url fuzz_image)
[ $# -gt 0 ] && TARGETS=("$@")

[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true \
  -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug -Doptimization=1 >/dev/null
ninja -C build-fuzz >/dev/null
python3 fuzz/seeds.py build-fuzz/seeds
mkdir -p build-fuzz/crashes
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
fail=0
for t in "${TARGETS[@]}"; do
  corpus="build-fuzz/corpus/$t"
  mkdir -p "$corpus"
  maxlen=65536
  [ "$t" = fuzz_image ] && maxlen=200000
  log="build-fuzz/$t.log"
  if ./build-fuzz/fuzz/"$t" "$corpus" "build-fuzz/seeds/$t" -max_total_time="$SECONDS_EACH" \
      -max_len="$maxlen" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
      -artifact_prefix=build-fuzz/crashes/"$t"- >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz: $t ok: ${runs:-?} executions in ${SECONDS_EACH} s, corpus $(ls "$corpus" | wc -l) inputs"
  else
    echo "fuzz: $t FAILED (see $log):"
    grep -E "ERROR|SUMMARY|runtime error" "$log" | head -5
    fail=1
  fi
done
exit $fail
