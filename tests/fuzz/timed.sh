#!/usr/bin/env bash
# One libFuzzer target for a fixed time, from its seed corpus:
#
#   tests/fuzz/timed.sh BINARY CORPUS SECONDS [OUT]
#
# CORPUS is read only: what libFuzzer finds goes to OUT/new, a crash to
# OUT/crash-* (OUT: a temporary directory, removed at the end, when not
# given).  Prints the runs and the time; on a crash, libFuzzer's report
# and the input in base64, and exits 1.  contrib/fuzz.sh runs it for each
# target, and with -Dfuzzing=true meson's suite fuzz-timed does
# (contrib/test.sh: 60 s each in CI).
set -uo pipefail
if [ $# -lt 3 ]; then
	echo "usage: tests/fuzz/timed.sh BINARY CORPUS SECONDS [OUT]" >&2
	exit 2
fi
bin=$1 corpus=$2 secs=$3 out=${4:-}
name=$(basename "$bin")
if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/jit-fuzz.XXXXXX") || exit 1
	trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out/new" || exit 1
# libcbor 0.8 allocates what a CBOR header declares before reading it
# (tests/fuzz/fuzz-fido2-reply.c): a refused allocation is no bug, and in
# fork mode an out-of-memory child does not end the run.
extra=()
case $name in
fuzz-fido2-reply) extra=(-fork=1 -ignore_ooms=1) ;;
esac
start=$(date +%s)
# A UBSan report ends the run as a crash does.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}allocator_may_return_null=1 \
    "$bin" -max_total_time="$secs" -print_final_stats=1 "${extra[@]}" \
    -artifact_prefix="$out/" "$out/new" "$corpus" >"$out/log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -1)
# Fork mode prints "#RUNS: cov: ..." lines instead.
[ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$out/log" |
    tail -1)
took=$(($(date +%s) - start))
# Fork mode exits with the status of its last job: when that job ran out
# of memory, which -ignore_ooms passes over, the status is libFuzzer's
# out-of-memory one (71) though nothing failed.
if [ "$rc" -eq 71 ] && [ ${#extra[@]} -gt 0 ] &&
    ! compgen -G "$out/crash-*" >/dev/null &&
    ! compgen -G "$out/leak-*" >/dev/null &&
    ! grep -Eq 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error' \
    "$out/log"; then
	rc=0
fi
if [ "$rc" -eq 0 ]; then
	echo "$name: ${runs:-?} runs in $took s, clean"
	exit 0
fi
echo "$name: FAILED (exit $rc) after $took s"
if grep -Eq '^==[0-9]+==ERROR|^SUMMARY|runtime error|deadly signal' \
    "$out/log"; then
	grep -E -A40 '^==[0-9]+==ERROR|^SUMMARY|runtime error|deadly signal' \
	    "$out/log" | head -80
else
	tail -30 "$out/log"
fi
for c in "$out"/crash-* "$out"/leak-* "$out"/timeout-*; do
	[ -f "$c" ] || continue
	echo "input $(basename "$c") ($(stat -c %s "$c") bytes), base64:"
	head -c 4096 "$c" | base64 -w 76
done
exit 1
