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
	mkdir -p "$out"
	nice "$top/tests/fuzz/timed.sh" "$dir/tests/fuzz-$t" \
	    "$top/tests/fuzz/corpus/$t" "$secs" "$out" >"$out/summary" ||
	    status=1
	head -1 "$out/summary"
	if grep -q FAILED "$out/summary"; then
		echo "  see $out/log and $out/crash-*"
	fi
done
exit "$status"
