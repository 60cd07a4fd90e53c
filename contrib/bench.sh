#!/usr/bin/env bash
# The benchmark: jit-agent beside OpenSSH's ssh-agent in one run, on this
# machine, now.  Prints ratios (and the absolute figures they come from).
#   contrib/bench.sh [COUNT] [GETS]     defaults: 1000 credentials, 10000 gets
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
count=${1:-1000}
gets=${2:-10000}
big=${JIT_BENCH_STARTUP:-10000}

dir="$top/build-bench"
[ -d "$dir" ] || meson setup "$dir" --buildtype=release -De2e=false >/dev/null
ninja -C "$dir" >/dev/null
targets=(tests/bench/bench-creds)
[ -f tests/bench/bench-agent.c ] && targets+=(tests/bench/bench-agent)
ninja -C "$dir" "${targets[@]}" >/dev/null

. "$top/tests/lib/swtpm.sh"
T=$(mktemp -d /tmp/jit-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	swtpm_stop
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
swtpm_start
printf 'bench-pin' > "$T/pin"
export JIT_AGENT_SOCK="$T/jit.sock"
agent() {
	"$dir/agent/jit-agent" -D -a "$JIT_AGENT_SOCK" --data-dir "$T/data" \
	    >/dev/null 2>"$T/agent.log" &
	apid=$!
	pids+=("$apid")
}
wait_sock() { for _ in $(seq 400); do [ -S "$1" ] && return 0; sleep 0.005; done; return 1; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

agent; wait_sock "$JIT_AGENT_SOCK"
"$dir/cli/jitctl" enroll tpm2 --label bench --device "$SWTPM_TCTI" \
    --allow-simulated \
    --pin-fd 3 3<"$T/pin" >/dev/null 2>&1
echo "== jit-agent credentials ($count credentials, $gets gets, TPM on swtpm)"
idle_jit=$(rss_kb "$apid")
"$dir/tests/bench/bench-creds" "$JIT_AGENT_SOCK" "$T/pin" "$count" "$gets" \
    | tee "$T/creds.txt"

# Start-up with many credentials on disk.
for i in $(seq "$count" $((big - 1))); do
	printf 'v' | "$dir/cli/jitctl" add "bench-$i" --ttl 1h >/dev/null
done 2>/dev/null
kill "$apid"; wait "$apid" 2>/dev/null || true
start=$(date +%s%N)
agent; wait_sock "$JIT_AGENT_SOCK"
"$dir/cli/jitctl" status --json >/dev/null
end=$(date +%s%N)
n=$(ls "$T/data/creds" | wc -l)
echo "startup_with_${n}_creds_ms $(( (end - start) / 1000000 )) ms"

if [ -x "$dir/tests/bench/bench-agent" ]; then
	echo "== beside OpenSSH's ssh-agent"
	"$dir/tests/bench/bench-agent" "$dir/agent/jit-agent"
fi
# (bench-agent above compares idle memory with ssh-agent's; this is the
# agent once tpm2-tss is loaded and libuv's worker threads are up.)
echo "rss_after_tpm_enroll_jit_agent $idle_jit KiB"
