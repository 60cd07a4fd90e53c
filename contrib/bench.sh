#!/usr/bin/env bash
# The benchmark: jit-agent beside OpenSSH's ssh-agent in one run, on this
# machine, now.  Prints ratios (and the absolute figures they come from).
#   contrib/bench.sh [COUNT] [GETS]     defaults: 1000 credentials, 10000 gets
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
count=${1:-1000}
gets=${2:-10000}
big=${JIT_BENCH_STARTUP:-10000 100000} # credentials on disk at start-up
only_startup=${JIT_BENCH_ONLY_STARTUP:-} # 1: stop after the start-up part

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
	swtpm_stop_all
	if [ -n "${PCSC_DIR:-}" ]; then pcsc_cleanup; fi
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

# Start-up with many credentials on disk, sealed by the store's own code
# (jit-rel-gencreds) to the token enrolled above: the time from exec to the
# agent's "ready" line (the store read, the audit log walked, the socket
# listening), the median of 3; then one `jitctl status` of every page.
kill "$apid"; wait "$apid" 2>/dev/null || true
ninja -C "$dir" tests/reliability/jit-rel-gencreds >/dev/null
have=$count # bench-creds' own
for n in $big; do
	"$dir/tests/reliability/jit-rel-gencreds" "$T/data" $((n - have)) \
	    "start$n" >/dev/null
	have=$n
	ms=()
	cpu=()
	for _ in 1 2 3; do
		# The agent prints its environment lines when ready: read
		# them from a FIFO (a poll that starts grep and sleep would
		# add their own start-up, several ms each on a small VM).
		rm -f "$T/ready"; mkfifo "$T/ready"
		start=$EPOCHREALTIME
		"$dir/agent/jit-agent" -D -a "$JIT_AGENT_SOCK" \
		    --data-dir "$T/data" >"$T/ready" 2>"$T/agent.log" &
		apid=$!
		pids+=("$apid")
		exec 7<"$T/ready"
		read -r -t 300 _ <&7 || true
		end=$EPOCHREALTIME
		ms+=($(( (${end/./} - ${start/./}) / 1000 )))
		# The agent's own user+sys CPU at its ready line: what a
		# loaded machine changes least.
		cpu+=($(sed -n 's/.*ready: .*cpu user \([0-9]*\)\.\([0-9]*\) s, sys \([0-9]*\)\.\([0-9]*\) s.*/\1 \2 \3 \4/p' \
		    "$T/agent.log" | awk '{ print $1 * 1000 + $2 + $3 * 1000 + $4 }'))
		# Then the background pass reads every file.
		for _ in $(seq 3000); do
			grep -q 'read every credential file' "$T/agent.log" &&
			    break
			sleep 0.1
		done
		pass_ms=$(sed -n 's/.*read every credential file in \([0-9]*\) ms.*/\1/p' \
		    "$T/agent.log")
		kill "$apid"; wait "$apid" 2>/dev/null || true
		exec 7<&-
	done
	n_on_disk=$(ls "$T/data/creds" | wc -l)
	echo "startup_with_${n_on_disk}_creds_ms $(printf '%s\n' "${ms[@]}" | sort -n | sed -n 2p) ms (runs: ${ms[*]})"
	echo "startup_with_${n_on_disk}_creds_cpu_ms $(printf '%s\n' "${cpu[@]}" | sort -n | sed -n 2p) ms (user+sys at ready; runs: ${cpu[*]})"
	echo "background_read_of_${n_on_disk}_creds_ms ${pass_ms:-?} ms (the last run's, after ready)"
	agent; wait_sock "$JIT_AGENT_SOCK"
	start=$(date +%s%N)
	"$dir/cli/jitctl" status --json >/dev/null
	end=$(date +%s%N)
	echo "status_all_pages_${n_on_disk}_creds_ms $(( (end - start) / 1000000 )) ms"
	kill "$apid"; wait "$apid" 2>/dev/null || true
done
[ -z "$only_startup" ] || exit 0
agent; wait_sock "$JIT_AGENT_SOCK"

if [ -x "$dir/tests/bench/bench-agent" ]; then
	echo "== beside OpenSSH's ssh-agent"
	"$dir/tests/bench/bench-agent" "$dir/agent/jit-agent"
fi
# (bench-agent above compares idle memory with ssh-agent's; this is the
# agent once tpm2-tss is loaded and libuv's worker threads are up.)
echo "rss_after_tpm_enroll_jit_agent $idle_jit KiB"

# One unlock per kind of token, each alone: a TPM (swtpm), a FIDO2 key and
# a PIV card (the simulators; the card behind pcscd and vpcd).  The median
# of 5, jitctl's start included.
echo "== one unlock per token type (median of 5)"
. "$top/tests/lib/pcsc.sh"
PCSC_DIR="$T/pcsc" JIT_SIM_PIV="$dir/hw/sim/jit-sim-piv"
mkdir -p "$PCSC_DIR"
pcsc_ok=0
pcsc_start >"$T/pcsc.out" && piv_sim_start bench >>"$T/pcsc.out" && pcsc_ok=1
kill "$apid"; wait "$apid" 2>/dev/null || true
rm -rf "$T/data"
agent; wait_sock "$JIT_AGENT_SOCK"   # after pcscd: PCSCLITE_CSOCK_NAME
jc() { "$dir/cli/jitctl" "$@"; }
jc enroll tpm2 --label t-tpm --device "$SWTPM_TCTI" --allow-simulated \
    --pin-fd 3 3<"$T/pin" >/dev/null 2>&1
types=(tpm2)
if [ -x "$dir/hw/sim/jit-sim-fido2" ]; then
	"$dir/hw/sim/jit-sim-fido2" --socket "$T/fido.sock" >"$T/fido.out" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do grep -q ready "$T/fido.out" && break; sleep 0.05; done
	jc enroll fido2 --label t-fido2 --device "sim:$T/fido.sock" \
	    --allow-simulated --token t-tpm --auth-pin-fd 3 3<"$T/pin" \
	    >/dev/null 2>&1 && types+=(fido2)
fi
printf '123456' >"$T/pivpin"
if [ "$pcsc_ok" = 1 ]; then
	jc enroll piv --label t-piv --device "$PIV_READER" --allow-simulated \
	    --pin-fd 4 4<"$T/pivpin" --token t-tpm --auth-pin-fd 3 \
	    3<"$T/pin" >/dev/null 2>&1 && types+=(piv)
fi
printf 'v' | jc add one --ttl 1h >/dev/null
for t in tpm2 fido2 piv; do
	case " ${types[*]} " in *" $t "*) ;; *)
		echo "unlock_${t}_ms n/a (no $t token here)"; continue ;; esac
	ms=()
	for _ in 1 2 3 4 5; do
		jc lock >/dev/null
		start=$(date +%s%N)
		case $t in
		fido2) jc unlock one --token t-fido2 >/dev/null 2>&1 ;;
		tpm2) jc unlock one --token t-tpm --pin-fd 3 3<"$T/pin" \
		    >/dev/null 2>&1 ;;
		piv) jc unlock one --token t-piv --pin-fd 3 3<"$T/pivpin" \
		    >/dev/null 2>&1 ;;
		esac
		end=$(date +%s%N)
		ms+=($(( (end - start) / 1000000 )))
	done
	echo "unlock_${t}_ms $(printf '%s\n' "${ms[@]}" | sort -n | sed -n 3p) ms"
done
pcsc_cleanup
