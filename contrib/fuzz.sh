#!/usr/bin/env bash
# Run every libFuzzer target (or those named) for a fixed time each.
#
#   contrib/fuzz.sh [SECONDS [TARGET...]]     default: 60 s, every target
#
# Builds build-fuzz with clang, ASan and UBSan if it is missing.  Each
# target starts from its seed corpus, tests/fuzz/corpus/TARGET (read only:
# what libFuzzer finds goes to build-fuzz/fuzz-out/TARGET/new), and writes
# a crash to build-fuzz/fuzz-out/TARGET/crash-*.  Copy a crash into the seed
# corpus once its bug is fixed: `meson test --suite fuzz` replays it then.
# Prints each target's runs and time; exits 1 when a target crashed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
secs=${1:-60}
shift 2>/dev/null || true
dir="$top/build-fuzz"

case $secs in
'' | *[!0-9]*) echo "usage: contrib/fuzz.sh [SECONDS [TARGET...]]" >&2; exit 2 ;;
esac
if [ ! -d "$dir" ]; then
	log=$(mktemp)
	CC=clang meson setup "$dir" -Dfuzzing=true -De2e=false \
	    -Db_sanitize=address,undefined -Db_lundef=false >"$log" 2>&1 ||
	    { tail -20 "$log"; rm -f "$log"; exit 1; }
	rm -f "$log"
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for c in "$top"/tests/fuzz/corpus/*/; do
		targets+=("$(basename "$c")")
	done
fi
nice ninja -C "$dir" $(printf 'tests/fuzz-%s ' "${targets[@]}") >/dev/null ||
    exit 1

status=0
for t in "${targets[@]}"; do
	out="$dir/fuzz-out/$t"
	mkdir -p "$out/new"
	# libcbor 0.8 allocates what a CBOR header declares before reading
	# it (tests/fuzz/fuzz-fido2-reply.c): a refused allocation is no bug,
	# and in fork mode an out-of-memory child does not end the run.
	extra=()
	case $t in
	fido2-reply) extra=(-fork=1 -ignore_ooms=1) ;;
	esac
	start=$(date +%s)
	ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}allocator_may_return_null=1 \
	    nice "$dir/tests/fuzz-$t" -max_total_time="$secs" \
	    -print_final_stats=1 "${extra[@]}" -artifact_prefix="$out/" \
	    "$out/new" "$top/tests/fuzz/corpus/$t" >"$out/log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" |
	    tail -1)
	# Fork mode prints "#RUNS: cov: ..." lines instead.
	[ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' \
	    "$out/log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz-$t: ${runs:-?} runs in $(($(date +%s) - start)) s, clean"
	else
		echo "fuzz-$t: FAILED (exit $rc) after $(($(date +%s) - start)) s: see $out/log and $out/crash-*"
		status=1
	fi
done
exit "$status"
