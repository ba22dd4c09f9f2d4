#!/usr/bin/env bash
# The whole test suite: set-up, C unit tests (release and ASan/UBSan builds),
# end-to-end tests of the real `i2v` (release build, and a subset under
# ASan/UBSan), and a short run of every libFuzzer target (I2V_FUZZ_SECONDS
# each, default 30). Ends with one summary line; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --asan || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

PY=/usr/bin/python3   # Debian's python3, with pytest and numpy from apt
passed=0 failed=0
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

count_meson() { # $1 = build dir
  local json="$1/meson-logs/testlog.json" ok fail
  ok=$(grep -c '"result": "OK"' "$json" 2>/dev/null || true)
  fail=$(grep -c '"result": "\(FAIL\|ERROR\|TIMEOUT\)"' "$json" 2>/dev/null || true)
  ok=${ok:-0}; fail=${fail:-0}
  [ "$ok" -gt 0 ] || fail=$((fail + 1))  # no unit test ran: a failure
  passed=$((passed + ok)); failed=$((failed + fail))
  echo "unit tests ($1): $ok passed, $fail failed"
}

run_pytest() { # $1 = label, rest = pytest args
  local label=$1; shift
  local out
  out=$(mktemp)
  $PY -m pytest -p no:cacheprovider -q "$@" 2>&1 | tee "$out"
  local line p f e
  line=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)|[0-9]+ (passed|failed|error)' "$out" | tail -n 1)
  p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
  f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0)
  e=$(echo "$line" | grep -oE '[0-9]+ error' | grep -oE '[0-9]+' || echo 0)
  [ -n "$p" ] || p=0; [ -n "$f" ] || f=0; [ -n "$e" ] || e=0
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$e" -eq 0 ]; then f=1; fi  # nothing ran: a failure
  passed=$((passed + p)); failed=$((failed + f + e))
  echo "$label: $p passed, $((f + e)) failed"
  rm -f "$out"
}

echo "== unit tests, release build"
meson test -C build --print-errorlogs >/dev/null 2>&1; count_meson build
echo "== unit tests, AddressSanitizer + UBSan build"
meson test -C build-asan --print-errorlogs >/dev/null 2>&1; count_meson build-asan
if grep -q '"result": "\(FAIL\|ERROR\|TIMEOUT\)"' build/meson-logs/testlog.json build-asan/meson-logs/testlog.json; then
  meson test -C build-asan --print-errorlogs 2>&1 | tail -n 60
fi

echo "== end-to-end tests (release build)"
I2V_BIN=build/i2v run_pytest "end-to-end" tests/e2e

echo "== end-to-end subset under AddressSanitizer + UBSan"
I2V_BIN=build-asan/i2v run_pytest "end-to-end (asan)" tests/e2e \
  -k "not postgres and not scaleout and not test_browser and ((every_move and (ZOOM_IN or AUTO_REVERSE or PAN_UP)) or errors or webp or unwritable or output_sizes and coffee or like_the_seed or validated or webhook_retried or range or private or kill_9_in_the_middle or first_last or tour or soundtrack or looks or reaches_our_network or same_guard or bombs or megabyte or slow_headers or idempotency or racing or corpus or fenced or cancel or (stream and not thousand) or upload or redeliver or secret_rotation or refused_output or accepted_output or metrics_count or session or csrf or quote or revoking or sign_in_attempts or pages_headers or document_served or wrong_methods_answer)"

echo "== fuzzing: each libFuzzer target for ${I2V_FUZZ_SECONDS:-30} s (clang, ASan + UBSan)"
fuzz_out=$(mktemp)
bash scripts/fuzz.sh "${I2V_FUZZ_SECONDS:-30}" 2>&1 | tee "$fuzz_out"
fp=$(grep -c '^fuzz: .* ok:' "$fuzz_out" || true)
ff=$(grep -c '^fuzz: .* FAILED' "$fuzz_out" || true)
[ "${fp:-0}" -eq 3 ] || ff=$(( ${ff:-0} + 3 - ${fp:-0} ))
passed=$((passed + ${fp:-0})); failed=$((failed + ${ff:-0}))
echo "fuzzing: ${fp:-0} passed, ${ff:-0} failed"
rm -f "$fuzz_out"

echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
