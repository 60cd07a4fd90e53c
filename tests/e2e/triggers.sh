#!/usr/bin/env bash
# The kill switches: every trigger goes through the one lock path, covers
# the keys added with ssh-add, aborts a touch that is awaited, is audited
# with its trigger and shown armed by `jitctl status`.  idle_lock fires on
# its own; a simulated FIDO2 key opens the credentials.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"
for p in ssh-add ssh-keygen; do
	command -v "$p" >/dev/null || { say "1..0 # SKIP no $p"; exit 77; }
done
export SSH_AUTH_SOCK="$JIT_AGENT_SOCK"
CONF="$T/config"

# wait_for DESC CMD...: CMD succeeds within 30 s (a guard against a hang,
# not a measure: the trigger fires when it fires).
wait_for() {
	_d=$1; shift
	for _i in $(seq 300); do
		"$@" >/dev/null 2>&1 && { pass "$_d"; return 0; }
		sleep 0.1
	done
	fail "$_d (not within 30 s)"
}

printf '[agent]\nidle_lock = 2s\n' > "$CONF"
chmod 0600 "$CONF"
agent_start -c "$CONF" --touch-timeout 30 || exit 1
sim_start yk1 --verbose || exit 1
ok "enroll the simulated key" jitctl enroll fido2 --label yk1 \
    --device "sim:$T/yk1.sock" --allow-simulated
ok "add a credential" bash -c "printf 'alpha' | '$JITCTL_BIN' add a --ttl 1h"
ok "a key for ssh-add" ssh-keygen -q -t ed25519 -N '' -C e2e-key \
    -f "$T/id_e2e"
# ssh-keygen -Y sign with a public key alone signs through the agent only.
mkdir -p "$T/pub" && cp "$T/id_e2e.pub" "$T/pub/"
PUB="$T/pub/id_e2e.pub"
echo message > "$T/msg"
sign() { rm -f "$T/msg.sig"; ssh-keygen -Y sign -f "$PUB" -n file "$T/msg"; }

# --- jitctl status shows what is armed ---------------------------------
ok "status" jitctl status
has "lists jitctl lock as armed" "$T/out" 'kill switches armed:.*jitctl lock'
has "and SIGUSR1" "$T/out" 'armed:.*SIGUSR1'
has "and idle, with its time" "$T/out" 'armed:.*idle \(after 2s'
jitctl status --json > "$T/status.json"
ok "in JSON too" python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))["agent"]["triggers"]
sys.exit(0 if {"name": "idle", "armed": True}.items() <=
    [x for x in t if x["name"] == "idle"][0].items() else 1)' "$T/status.json"

# --- idle_lock ---------------------------------------------------------
ok "unlock a" jitctl unlock a
ok "add a key with ssh-add" ssh-add "$T/id_e2e"
# (Waiting on the audit log: a get would be a use, and idle no more.)
wait_for "idle_lock locks on its own" grep -q '"event":"lock","why":"idle for 2s"' \
    "$DATA/audit.log"
fails "a was wiped" 4 jitctl get a
has "audited with its trigger and what it wiped" "$DATA/audit.log" \
    '"event":"lock","why":"idle for 2s","names":\["a"\],"count":1'
has "the ssh-add key is counted in the lock" "$DATA/audit.log" \
    '"event":"lock","why":"idle for 2s".*"ssh_keys":1'
fails "the ssh-add key went with it" 1 ssh-add -l

# --- jitctl lock and SIGUSR1 cover ssh-add keys ------------------------
printf '[agent]\n' > "$CONF"
kill -HUP "$AGENT_PID"
wait_for "after SIGHUP without idle_lock, idle is off" bash -c \
    "'$JITCTL_BIN' status | grep -q 'kill switch off: idle'"
ok "ssh-add again" ssh-add "$T/id_e2e"
ok "listed" ssh-add -l
ok "jitctl lock" jitctl lock
fails "after jitctl lock the ssh-add key is gone" 1 ssh-add -l
has "audited as jitctl lock with the key" "$DATA/audit.log" \
    '"event":"lock","why":"jitctl lock".*"ssh_keys":1'
ok "ssh-add again" ssh-add "$T/id_e2e"
kill -USR1 "$AGENT_PID"
wait_for "SIGUSR1 removes it too" bash -c "! ssh-add -l"
has "audited as SIGUSR1 with the key" "$DATA/audit.log" \
    '"event":"lock","why":"SIGUSR1".*"ssh_keys":1'

# --- ssh_keys_on_lock = hold -------------------------------------------
printf '[agent]\nssh_keys_on_lock = hold\n' > "$CONF"
kill -HUP "$AGENT_PID"
wait_for "the new configuration is read" bash -c \
    "[ \$(grep -c '\"event\":\"config\"' '$DATA/audit.log') -ge 2 ]"
ok "ssh-add" ssh-add "$T/id_e2e"
ok "ssh-keygen -Y sign with it" sign
ok "jitctl lock" jitctl lock
fails "held: not listed" 1 ssh-add -l
fails "held: no signature" '!' sign
ok "an unlock with the token releases it" jitctl unlock a
ok "listed again" ssh-add -l
ok "and it signs" sign
ok "jitctl lock" jitctl lock
fails "held again" 1 ssh-add -l
ok "adding it again releases it too" ssh-add "$T/id_e2e"
ok "listed" ssh-add -l

# --- a lock aborts a touch that is awaited -----------------------------
sim_touch yk1 delay=20000
jitctl unlock a >"$T/pending.out" 2>&1 &
PENDING=$!
wait_for "the simulator waits for the touch" grep -q 'touch: in 20000 ms' \
    "$T/yk1.log"
ok "jitctl lock meanwhile" jitctl lock
wait "$PENDING"
ok "the pending unlock failed" test $? -ne 0
has "saying the lock aborted it" "$T/pending.out" \
    'locked \(jitctl lock\) while the token was asked'
has "the lock counts the aborted touch" "$DATA/audit.log" \
    '"event":"lock","why":"jitctl lock".*"aborted":1'
sim_touch yk1 approve
fails "a stayed locked" 4 jitctl get a

e2e_done
