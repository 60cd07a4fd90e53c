#!/usr/bin/env bash
# Tokens that vanish: the FIDO2 simulator killed and the PIV card pulled
# out of its reader while they wait for the touch of an enroll, an unlock
# and a step-up, and swtpm killed while it hangs in an enroll and an
# unlock.  Each ends in a sentence, nothing is half-enrolled, the agent
# serves another client meanwhile, and once the token is back, it works
# again.  Without PIV built (JIT_SIM_PIV unset) the PIV part is skipped.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"
PIV=no
if [ -n "${JIT_SIM_PIV:-}" ]; then
	. "$E2E_DIR/../lib/pcsc.sh"
	PCSC_DIR="$T/pcsc"
	trap 'pcsc_cleanup; e2e_cleanup' EXIT
	printf '123456' >"$T/pivpin"
	PIV=yes
fi

# wait_touch NAME: the simulator NAME waits for a touch (its log says so).
wait_touch() {
	for _i in $(seq 300); do
		grep -q 'touch: in' "$T/$1.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# vanish NAME: the simulator NAME is pulled out (SIGKILL).
vanish() {
	eval "_p=\${SIM_PID_$1:-}"
	kill -KILL "$_p"; wait "$_p" 2>/dev/null
	eval "SIM_PID_$1="
	: >"$T/$1.log"
}
# served DESC: another client is served while a token hangs.
served() {
	ok "$1: another client gets a" jitctl get a
	ok "$1: its secret" test "$(cat "$T/out")" = secret-a
}
# finished PID: the background jitctl PID ended; its status in $RC.
finished() { wait "$1"; RC=$?; }
labels() {
	python3 -c 'import json,sys
print("\n".join(t["label"] for t in json.load(open(sys.argv[1]))["tokens"]))' \
	    "$DATA/tokens.json"
}

sim_start yk1 --verbose || exit 1
sim_start yk2 --verbose || exit 1
# Tokens vanish here to prove the agent keeps serving what is open; a
# token removed would otherwise lock it all (the kill switch, which
# e2e-triggers proves), so this agent has lock_on_removal = no.
printf '[agent]\nlock_on_removal = no\n' >"$T/rel.conf"
# The PIV card answers the step-up below (not yk1, enrolled first).
echo 'prefer = pv' >>"$T/rel.conf"
# The agent finds pcscd through PCSCLITE_CSOCK_NAME in its environment.
if [ "$PIV" = yes ]; then pcsc_start || exit 1; fi
agent_start --touch-timeout 60 --config "$T/rel.conf" || exit 1
ok "enroll yk1" jitctl enroll fido2 --label yk1 --device "sim:$T/yk1.sock" \
    --allow-simulated
ok "enroll yk2, approved by yk1" jitctl enroll fido2 --label yk2 \
    --device "sim:$T/yk2.sock" --allow-simulated --token yk1
ok "add a" bash -c "printf secret-a | '$JITCTL_BIN' add a --ttl 1h"
ok "add b" bash -c "printf secret-b | '$JITCTL_BIN' add b --ttl 1h"
ok "add s, step-up always" bash -c \
    "printf secret-s | '$JITCTL_BIN' add s --ttl 1h --stepup always"
ok "unlock a" jitctl unlock a --token yk1

# ---- FIDO2 pulled out during an unlock
sim_touch yk2 delay=60000
jitctl unlock b --token yk2 >"$T/bg.out" 2>"$T/bg.err" &
BG=$!
ok "unlock b waits for yk2's touch" wait_touch yk2
served "while yk2 waits"
vanish yk2
finished "$BG"
ok "unlock b fails when yk2 is pulled out" test "$RC" != 0
has "with a sentence saying it went" "$T/bg.err" \
    '^jitctl: unlock: yk2 at .* went away .*plug it in and try again'
say "# $(cat "$T/bg.err")"
fails "b stays locked" 4 jitctl get b
served "after yk2 went"
sim_touch yk2 approve
ok "yk2 is back" sim_start yk2 --verbose
ok "and unlocks b" jitctl unlock b --token yk2
ok "get b" jitctl get b
ok "to its secret" test "$(cat "$T/out")" = secret-b

# ---- FIDO2 pulled out during a step-up
ok "unlock s" jitctl unlock s --token yk1
sim_touch yk1 delay=60000
jitctl get s >"$T/bg.out" 2>"$T/bg.err" &
BG=$!
ok "get s waits for yk1's touch (step-up)" wait_touch yk1
served "while the step-up waits"
vanish yk1
finished "$BG"
ok "the step-up fails when yk1 is pulled out" test "$RC" != 0
has "with a sentence saying it went" "$T/bg.err" \
    '^jitctl: get: yk1 at .* went away .*plug it in and try again'
say "# $(cat "$T/bg.err")"
hasnt "and no secret" "$T/bg.out" secret-s
served "after yk1 went"
sim_touch yk1 approve
ok "yk1 is back" sim_start yk1 --verbose
ok "get s with the step-up" jitctl get s
ok "to its secret" test "$(cat "$T/out")" = secret-s

# ---- FIDO2 pulled out during an enroll
sim_start yk3 --verbose || exit 1
sim_touch yk3 delay=60000
cp "$DATA/tokens.json" "$T/tokens.before"
jitctl enroll fido2 --label yk3 --device "sim:$T/yk3.sock" \
    --allow-simulated --token yk1 >"$T/bg.out" 2>"$T/bg.err" &
BG=$!
ok "enroll yk3 waits for its touch" wait_touch yk3
served "while yk3's enroll waits"
vanish yk3
finished "$BG"
ok "the enroll fails when yk3 is pulled out" test "$RC" != 0
has "with a sentence saying it went" "$T/bg.err" \
    '^jitctl: enroll: yk3 at .* went away .*plug it in and try again'
say "# $(cat "$T/bg.err")"
ok "nothing is half-enrolled: the token set is as before" \
    cmp "$DATA/tokens.json" "$T/tokens.before"
ok "add c after it" bash -c "printf secret-c | '$JITCTL_BIN' add c --ttl 1h"
sim_touch yk3 approve
ok "yk3 is back" sim_start yk3 --verbose
ok "and enrolls" jitctl enroll fido2 --label yk3 --device "sim:$T/yk3.sock" \
    --allow-simulated --token yk1

# ---- a PIV card pulled out during an enroll, an unlock and a step-up
# wait_piv_touch NAME: the card NAME waits for a touch (its log says so).
wait_piv_touch() {
	for _i in $(seq 300); do
		grep -q 'touch: waiting' "$PCSC_DIR/$1.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# pull NAME: the card NAME leaves the reader in the middle of its touch.
pull() {
	piv_sim_stop "$1"
	: >"$PCSC_DIR/$1.log"
}
piv_back() {
	piv_sim_touch "$1" approve
	piv_sim_start "$1"
}
if [ "$PIV" = yes ]; then
	R=$PIV_READER
	piv_sim_start pv --serial 5550001 || exit 1
	piv_sim_touch pv delay=60000
	cp "$DATA/tokens.json" "$T/tokens.before"
	jitctl enroll piv --label pv --device "$R" --allow-simulated \
	    --pin-fd 4 4<"$T/pivpin" --token yk1 >"$T/bg.out" 2>"$T/bg.err" &
	BG=$!
	ok "enroll pv waits for the card's touch" wait_piv_touch pv
	served "while pv's enroll waits"
	pull pv
	finished "$BG"
	ok "the enroll fails when pv is pulled out" test "$RC" != 0
	has "with a sentence saying the card went" "$T/bg.err" \
	    '^jitctl: enroll: pv stopped answering .*removed.*insert it and try again'
	say "# $(cat "$T/bg.err")"
	ok "nothing is half-enrolled: the token set is as before" \
	    cmp "$DATA/tokens.json" "$T/tokens.before"
	served "after pv went"
	ok "pv is back" piv_back pv
	ok "and enrolls" jitctl enroll piv --label pv --device "$R" \
	    --allow-simulated --pin-fd 4 4<"$T/pivpin" --token yk1
	ok "add p (wrapped to pv too)" bash -c \
	    "printf secret-p | '$JITCTL_BIN' add p --ttl 1h"
	ok "add q, step-up always" bash -c \
	    "printf secret-q | '$JITCTL_BIN' add q --ttl 1h --stepup always"

	piv_sim_touch pv delay=60000
	jitctl unlock p --token pv --pin-fd 3 3<"$T/pivpin" >"$T/bg.out" \
	    2>"$T/bg.err" &
	BG=$!
	ok "unlock p waits for pv's touch" wait_piv_touch pv
	served "while pv's unlock waits"
	pull pv
	finished "$BG"
	ok "the unlock fails when pv is pulled out" test "$RC" != 0
	has "with a sentence saying the card went" "$T/bg.err" \
	    '^jitctl: unlock: pv stopped answering .*removed.*insert it and try again'
	say "# $(cat "$T/bg.err")"
	fails "p stays locked" 4 jitctl get p
	served "after pv went"
	ok "pv is back" piv_back pv
	ok "and unlocks p" jitctl unlock p --token pv --pin-fd 3 3<"$T/pivpin"
	ok "get p" jitctl get p
	ok "to its secret" test "$(cat "$T/out")" = secret-p

	ok "unlock q with pv" jitctl unlock q --token pv --pin-fd 3 3<"$T/pivpin"
	piv_sim_touch pv delay=60000
	jitctl get q --pin-fd 3 3<"$T/pivpin" >"$T/bg.out" 2>"$T/bg.err" &
	BG=$!
	ok "get q waits for pv's touch (step-up)" wait_piv_touch pv
	served "while pv's step-up waits"
	pull pv
	finished "$BG"
	ok "the step-up fails when pv is pulled out" test "$RC" != 0
	has "with a sentence saying the card went" "$T/bg.err" \
	    '^jitctl: get: pv stopped answering .*removed.*insert it and try again'
	say "# $(cat "$T/bg.err")"
	hasnt "and no secret" "$T/bg.out" secret-q
	served "after pv went"
	ok "pv is back" piv_back pv
	ok "get q with the step-up on pv" jitctl get q --pin-fd 3 3<"$T/pivpin"
	ok "to its secret" test "$(cat "$T/out")" = secret-q
	has "the step-up was pv's touch" "$PCSC_DIR/pv.log" 'touch: approved'
else
	skip "a PIV card pulled out" "built without PIV (-Dpiv=enabled builds it)"
fi

# ---- swtpm killed while it hangs
# swtpm_again: swtpm back on the same port with the same state.
swtpm_again() {
	swtpm socket --tpm2 --tpmstate dir="$SWTPM_DIR" \
	    --server type=tcp,port="$SWTPM_PORT",bindaddr=127.0.0.1 \
	    --ctrl type=tcp,port=$((SWTPM_PORT + 1)),bindaddr=127.0.0.1 \
	    --flags not-need-init,startup-clear \
	    --log file="$SWTPM_DIR/log" >/dev/null 2>&1 &
	SWTPM_PID=$!
	for _i in $(seq 100); do
		swtpm_port_open "$SWTPM_PORT" && return 0
		sleep 0.1
	done
	return 1
}
swtpm_start || exit 1
cp "$DATA/tokens.json" "$T/tokens.before"
kill -STOP "$SWTPM_PID"
jitctl enroll tpm2 --label laptop --device "$SWTPM_TCTI" --allow-simulated \
    --token yk1 --pin-fd 3 3<"$T/pin" >"$T/bg.out" 2>"$T/bg.err" &
BG=$!
# Nothing tells when the agent reached the stopped TPM; others are served
# whether or not it has.
served "while the TPM hangs in an enroll"
kill -KILL "$SWTPM_PID"; wait "$SWTPM_PID" 2>/dev/null
finished "$BG"
ok "the enroll fails when swtpm dies" test "$RC" != 0
ok "with a sentence saying the TPM went" grep -Eq \
    'no TPM at|the TPM at .* stopped answering' "$T/bg.err"
say "# $(cat "$T/bg.err")"
ok "nothing is half-enrolled" cmp "$DATA/tokens.json" "$T/tokens.before"
ok "swtpm is back" swtpm_again
ok "and enrolls" jitctl enroll tpm2 --label laptop --device "$SWTPM_TCTI" \
    --allow-simulated --token yk1 --pin-fd 3 3<"$T/pin"
ok "add t (wrapped to the TPM too)" bash -c \
    "printf secret-t | '$JITCTL_BIN' add t --ttl 1h"

kill -STOP "$SWTPM_PID"
jitctl unlock t --token laptop --pin-fd 3 3<"$T/pin" >"$T/bg.out" \
    2>"$T/bg.err" &
BG=$!
served "while the TPM hangs in an unlock"
kill -KILL "$SWTPM_PID"; wait "$SWTPM_PID" 2>/dev/null
finished "$BG"
ok "the unlock fails when swtpm dies" test "$RC" != 0
ok "with a sentence saying the TPM went" grep -Eq \
    'no TPM at|the TPM at .* stopped answering' "$T/bg.err"
say "# $(cat "$T/bg.err")"
fails "t stays locked" 4 jitctl get t
ok "swtpm is back" swtpm_again
ok "and unlocks t" jitctl unlock t --token laptop --pin-fd 3 3<"$T/pin"
ok "get t" jitctl get t
ok "to its secret" test "$(cat "$T/out")" = secret-t
ok "the log verifies" jitctl audit verify
e2e_done
