#!/usr/bin/env bash
# A PIV card pulled out of its reader locks what it opened: the agent
# follows pcscd's reader events (jit-sim-piv leaving vpcd's reader).
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/../lib/pcsc.sh"
: "${JIT_SIM_PIV:?}"
PCSC_DIR="$T/pcsc"
CONF="$T/config"
trap 'pcsc_cleanup; e2e_cleanup' EXIT
R=$PIV_READER
printf '123456' >"$T/pivpin"
printf '[agent]\n' >"$CONF"

pcsc_start || exit 1
piv_sim_start yk --serial 5550001 || exit 1
agent_start --config "$CONF" || exit 1
ok "enroll the simulated card" jitctl enroll piv --label yk --device "$R" \
    --allow-simulated --pin-fd 3 3<"$T/pivpin"
ok "add a" bash -c "printf 'alpha' | '$JITCTL_BIN' add a --ttl 1h"
ok "unlock a with the card" jitctl unlock a --pin-fd 3 3<"$T/pivpin"
ok "status" jitctl status
has "PIV removal is armed" "$T/out" 'armed:.*PIV removal \(PIV cards \(PC/SC'

piv_sim_stop yk
wait_for "the card pulled out, the agent locks" grep -q \
    "\"event\":\"lock\",\"why\":\"token yk removed (card pulled from $R)\"" \
    "$DATA/audit.log"
has "the lock is audited with its trigger and what it wiped" \
    "$DATA/audit.log" \
    '"event":"lock","why":"token yk removed \(card pulled from [^"]*\)","names":\["a"\],"count":1'
fails "a is wiped" 4 jitctl get a

piv_sim_start yk || exit 1
ok "card back: unlock a" jitctl unlock a --pin-fd 3 3<"$T/pivpin"
printf '[agent]\nlock_on_removal = no\n' >"$CONF"
kill -HUP "$AGENT_PID"
wait_for "lock_on_removal = no: status says PIV removal is off" bash -c \
    "'$JITCTL_BIN' status | grep -q 'kill switch off: PIV removal: lock_on_removal = no'"
piv_sim_stop yk
wait_for "the log says what stays unlocked" grep -q \
    "token yk removed (card pulled from $R); lock_on_removal = no" \
    "$AGENT_LOG"
ok "a stays unlocked" jitctl get a
ok "is alpha" test "$(cat "$T/out")" = alpha
ok "jitctl lock" jitctl lock

# pcscd gone: said once; watched again from the next unlock.
printf '[agent]\n' >"$CONF"
kill -HUP "$AGENT_PID"
pcsc_stop
wait_for "pcscd gone, the log says PIV removal is off" grep -q \
    'pcscd went away: pulling a PIV card will not lock' "$AGENT_LOG"
ok "status" jitctl status
has "status says why" "$T/out" 'kill switch off: PIV removal: pcscd went away'
pcsc_start || exit 1
piv_sim_start yk || exit 1
ok "pcscd back: unlock a" jitctl unlock a --pin-fd 3 3<"$T/pivpin"
ok "status" jitctl status
has "PIV removal is armed again" "$T/out" 'armed:.*PIV removal'
piv_sim_stop yk
wait_for "pulled out again, the agent locks" bash -c \
    "[ \$(grep -c '\"event\":\"lock\",\"why\":\"token yk removed (card pulled' '$DATA/audit.log') = 2 ]"
fails "a is wiped" 4 jitctl get a
e2e_done
