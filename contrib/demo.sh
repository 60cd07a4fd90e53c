#!/usr/bin/env bash
# Install, build, and walk through jit-agent with a simulated token: enroll,
# add, unlock with a touch, exec, status, lock.  Everything lives in a
# temporary directory and is removed at the end.
#   contrib/demo.sh          the FIDO2 simulator (a TPM on swtpm without it)
#   contrib/demo.sh piv      the PIV simulator, a YubiKey-like card behind a
#                            private pcscd (PIN 123456 and a touch)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

if [ "${JIT_DEMO_SKIP_DEPS:-0}" != 1 ]; then
	echo "== installing dependencies (apt-get)"
	"$top/contrib/deps.sh" >/tmp/jit-deps.log 2>&1 || {
		tail -20 /tmp/jit-deps.log; exit 1; }
fi
echo "== building"
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

agent="$top/build/agent/jit-agent"
jitctl="$top/build/cli/jitctl"
sim="$top/build/hw/sim/jit-sim-fido2"
simpiv="$top/build/hw/sim/jit-sim-piv"
token=${1:-fido2}
T=$(mktemp -d /tmp/jit-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "${SWTPM_DIR:-}" ]; then swtpm_stop_all; fi
	if [ -n "${PCSC_DIR:-}" ]; then pcsc_cleanup; fi
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "$*"; "$@"; }

export XDG_DATA_HOME="$T/xdg-data" XDG_CONFIG_HOME="$T/xdg-config"
export TMPDIR="$T"
: >"$T/pin"
if [ "$token" = piv ]; then
	# A software PIV card in the vpcd reader of a pcscd of our own,
	# started before the agent, which finds it by PCSCLITE_CSOCK_NAME.
	# The card asks for its touch on this terminal, or touches itself
	# after a second without one.
	. "$top/tests/lib/pcsc.sh"
	PCSC_DIR="$T/pcsc" JIT_SIM_PIV="$simpiv"
	mkdir -p "$PCSC_DIR"
	touch=ask
	[ -t 0 ] && [ -e /dev/tty ] || touch=delay=1000
	echo "(starting pcscd and a simulated PIV card: touch mode $touch)"
	pcsc_start
	echo "$touch" >"$PCSC_DIR/demo.touch"
	piv_sim_start demo
fi
step "eval \"\$(jit-agent)\""
"$agent" -s >"$T/agent.env" 2>"$T/agent.log"
cat "$T/agent.env"
eval "$(cat "$T/agent.env")" >/dev/null
pids+=("$SSH_AGENT_PID")

if [ "$token" = piv ]; then
	printf '123456' >"$T/pin"
	run "$jitctl" enroll piv --label demo-piv --device "$PIV_READER" \
	    --allow-simulated --pin-fd 3 3<"$T/pin"
	run yubico-piv-tool -r "$PIV_READER" -a status
	unlock_auth=(--pin-fd 3)
elif [ -x "$sim" ]; then
	# The simulated key asks for its touch on this terminal; without one
	# (CI, a pipe) it touches itself after a second.
	touch=ask
	[ -t 0 ] && [ -e /dev/tty ] || touch=delay=1000
	echo "(starting a simulated FIDO2 security key: touch mode $touch)"
	"$sim" --socket "$T/fido.sock" --touch "$touch" >"$T/sim.out" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do grep -q ready "$T/sim.out" 2>/dev/null && break; sleep 0.1; done
	run "$jitctl" enroll fido2 --label demo-key --device "sim:$T/fido.sock" \
	    --allow-simulated
	unlock_auth=()
else
	. "$top/tests/lib/swtpm.sh"
	echo "(no FIDO2 simulator in this build: using a TPM on swtpm, step-up by PIN)"
	swtpm_start
	printf '1234-demo' >"$T/pin"
	run "$jitctl" enroll tpm2 --label demo-tpm --device "$SWTPM_TCTI" \
	    --allow-simulated --pin-fd 3 3<"$T/pin"
	unlock_auth=(--pin-fd 3)
fi
run "$jitctl" tokens
step "printf 'hunter2' | jitctl add db-ro --ttl 30m"
printf 'hunter2' | "$jitctl" add db-ro --ttl 30m
step "printf '{\"PGUSER\":\"dbg\",\"PGPASSWORD\":\"s3cret\"}' | jitctl add pg-prod --json --ttl 15m"
printf '{"PGUSER":"dbg","PGPASSWORD":"s3cret"}' | "$jitctl" add pg-prod --json --ttl 15m
step "jitctl unlock db-ro pg-prod --for 10m"
"$jitctl" unlock db-ro pg-prod --for 10m "${unlock_auth[@]}" 3<"$T/pin"
step "jitctl exec pg-prod -- sh -c 'echo PGUSER=\$PGUSER PGPASSWORD=\$PGPASSWORD'"
"$jitctl" exec pg-prod -- sh -c 'echo PGUSER=$PGUSER PGPASSWORD=$PGPASSWORD'
step "jitctl get db-ro | wc -c"
"$jitctl" get db-ro | wc -c
run "$jitctl" status
run "$jitctl" lock
run "$jitctl" status
step "jitctl get db-ro   # locked now"
"$jitctl" get db-ro || true
run "$jitctl" audit
run "$jitctl" audit verify
echo
echo "The data directory held only ciphertext and public keys:"
grep -rl -e hunter2 -e s3cret "$XDG_DATA_HOME" || echo "  (no plaintext found under $XDG_DATA_HOME)"
