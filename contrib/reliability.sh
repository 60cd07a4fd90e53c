#!/usr/bin/env bash
# The reliability suite's long form: the same tests as CI's
# `meson test --suite reliability`, with the long counts.  Run as root (the
# tests drop to the user jit-e2e themselves, as in CI).
#
#   contrib/reliability.sh [CRASHES [CLIENTS [REQUESTS [CREDENTIALS [TEST...]]]]]
#
#   CRASHES   SIGKILLs at random file operations (default 200; CI: 6),
#             and one aimed at each step per 40 of them
#   CLIENTS   concurrent clients of the load test (default 1000; CI: 200)
#   REQUESTS  requests per client (default 100; CI: 20)
#   CREDENTIALS  on disk for the scale test (default 100,000; CI: 2,000),
#             10,000 of them unlocked (CI: all)
#   TEST      run only these (crash, disk, clock, secrets, tokens, load,
#             valgrind, scale)
#
# Every file operation of add, enroll, request and get is failed with
# ENOSPC and with EIO (CI: the first, middle and last, with one of them).
# JIT_REL_SEED=N repeats a run's random choices (each test prints its
# seed).  The build is build-rel, made here if missing (-Dwerror=true); the
# log is in build-rel/meson-logs/testlog.txt.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
crashes=${1:-200}
clients=${2:-1000}
requests=${3:-100}
creds=${4:-100000}
shift 4 2>/dev/null || shift $#
tests=()
for t in "$@"; do
	tests+=("reliability-$t")
done
dir="$top/build-rel"

for n in "$crashes" "$clients" "$requests" "$creds"; do
	case $n in
	'' | *[!0-9]*)
		echo "usage: contrib/reliability.sh [CRASHES [CLIENTS [REQUESTS [CREDENTIALS [TEST...]]]]] (whole numbers, then test names)" >&2
		exit 2
		;;
	esac
done
if [ ! -d "$dir" ]; then
	log=$(mktemp)
	meson setup "$dir" -Dwerror=true >"$log" 2>&1 ||
	    { tail -20 "$log"; rm -f "$log"; exit 1; }
	rm -f "$log"
fi
nice ninja -C "$dir" >/dev/null || exit 1
start=$(date +%s)
JIT_REL_CRASH_ITER=$crashes JIT_REL_CLIENTS=$clients \
    JIT_REL_REQUESTS=$requests JIT_REL_DISK_ALL=1 \
    JIT_REL_SCALE=$creds JIT_REL_SCALE_UNLOCK=10000 \
    meson test -C "$dir" --suite reliability --print-errorlogs \
    --timeout-multiplier 20 --num-processes 1 "${tests[@]}"
status=$?
grep -h '^# ' "$dir/meson-logs/testlog.txt" | grep -E 'iterations|rounds|landed|by step|  [0-9]+ [a-z]+ [a-z]+ |clients|makes|seed|scale' || true
echo "reliability: $(($(date +%s) - start)) s, exit $status"
exit "$status"
