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

# A private system bus on which the test speaks as logind; the agent
# finds it through DBUS_SYSTEM_BUS_ADDRESS, and its session is c7.
BUS_PID=
if [ -n "${JIT_LOGIND_SIGNAL:-}" ] && command -v dbus-daemon >/dev/null; then
	cat > "$T/bus.conf" <<BUSCONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$T/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
BUSCONF
	dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile \
	    2>>"$T/bus.log" &
	BUS_PID=$!
	trap 'kill "$BUS_PID" 2>/dev/null; e2e_cleanup' EXIT
	for _i in $(seq 100); do [ -S "$T/bus.sock" ] && break; sleep 0.05; done
	export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$T/bus.sock"
	export XDG_SESSION_ID=c7
fi
logind() { "$JIT_LOGIND_SIGNAL" "$@"; }

printf '[agent]\nidle_lock = 2s\n' > "$CONF"
chmod 0600 "$CONF"
agent_start --config "$CONF" --touch-timeout 30 || exit 1
sim_start yk1 --verbose || exit 1
ok "enroll the simulated key" jitctl enroll fido2 --label yk1 \
    --device "sim:$T/yk1.sock" --allow-simulated
# a's value is a canary: after each trigger it is in none of the agent's
# memory (memory_clean), as after jitctl lock, expiry and SIGUSR1
# (reliability-secrets).
CANARY=jittrigger-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
ok "add a credential" bash -c "printf '%s' '$CANARY' | '$JITCTL_BIN' add a --ttl 1h"
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
memory_clean "after idle_lock, a's value" "$CANARY"
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

# --- jitctl shell: one process tree, until it exits ---------------------
CANARY_B=jitshell-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
ok "add b" bash -c "printf '%s' '$CANARY_B' | '$JITCTL_BIN' add b --ttl 1h"
ok "inside the shell the credential is served" jitctl shell b -- \
    sh -c '"$0" get b && echo && echo "JIT_SHELL=$JIT_SHELL"' "$JITCTL_BIN"
has "its value" "$T/out" "^$CANARY_B\$"
has "the shell's prompt variable names it" "$T/out" '^JIT_SHELL=b$'
has "the unlock is audited with the shell's pid" "$DATA/audit.log" \
    '"event":"unlock","names":\["b"\],"token":"yk1".*"shell":[0-9]+'
wait_for "the shell's exit wiped it" grep -Eq \
    '"event":"lock","why":"shell pid [0-9]+ exited","names":\["b"\],"count":1' \
    "$DATA/audit.log"
fails "b is locked after the shell" 4 jitctl get b
memory_clean "after the shell's exit, b's value" "$CANARY_B"
# A shell that waits: a process outside it is refused meanwhile.
cat > "$T/inner.sh" <<INNER
#!/bin/sh
: > "$T/inner.ready"
while [ ! -f "$T/inner.go" ]; do sleep 0.05; done
"$JITCTL_BIN" get b > "$T/inner.out" 2>&1
exit 7
INNER
chmod +x "$T/inner.sh"
jitctl shell b -- "$T/inner.sh" >"$T/shell.out" 2>&1 &
SHELL_JOB=$!
wait_for "the shell runs" test -f "$T/inner.ready"
fails "outside the shell the credential is refused" 5 jitctl get b
has "saying whose it is" "$T/err" 'unlocked for the jitctl shell pid [0-9]+ only'
has "the refusal is audited" "$DATA/audit.log" \
    '"event":"deny","name":"b","why":"outside its jitctl shell"'
: > "$T/inner.go"
wait "$SHELL_JOB"
ok "jitctl shell exits with the shell's status" test $? = 7
has "a child of the shell was served" "$T/inner.out" "^$CANARY_B\$"
wait_for "its exit wiped b" bash -c \
    "[ \$(grep -Ec '\"why\":\"shell pid [0-9]+ exited\",\"names\":\\[\"b\"\\]' '$DATA/audit.log') = 2 ]"
fails "b is locked" 4 jitctl get b
sim_touch yk1 deny
fails "a refused touch runs no shell" 5 jitctl shell b -- sh -c ": > '$T/ran'"
ok "nothing ran" test ! -e "$T/ran"
sim_touch yk1 approve

# --- token removal: the simulator's socket going away -----------------
ok "status" jitctl status
has "removal is armed" "$T/out" 'armed:.*removal \(.*simulators \(their socket\)'
ok "unlock a" jitctl unlock a
sim_stop yk1
wait_for "the simulator gone, the agent locks" grep -q \
    '"event":"lock","why":"token yk1 removed (its socket went away)"' \
    "$DATA/audit.log"
fails "a is wiped" 4 jitctl get a
memory_clean "after the token's removal, a's value" "$CANARY"
sim_start yk1 --verbose || exit 1
ok "back: unlock a" jitctl unlock a
printf '[agent]\nlock_on_removal = no\n' > "$CONF"
kill -HUP "$AGENT_PID"
wait_for "lock_on_removal = no: status says removal is off" bash -c \
    "'$JITCTL_BIN' status | grep -q 'kill switch off: removal: lock_on_removal = no'"
sim_stop yk1
wait_for "the log says what stays unlocked" grep -q \
    'token yk1 removed (its socket went away); lock_on_removal = no' \
    "$AGENT_LOG"
ok "a stays unlocked" jitctl get a
sim_start yk1 --verbose || exit 1
printf '[agent]\n' > "$CONF"
kill -HUP "$AGENT_PID"
wait_for "removal armed again" bash -c \
    "'$JITCTL_BIN' status | grep -q 'armed:.*removal'"
ok "jitctl lock" jitctl lock

# --- the notify command: only while a touch is awaited ----------------
cat > "$T/notify.sh" <<NOTIFY
#!/bin/sh
printf '%s|%s|%s|%s|%s\n' "\$JIT_NOTIFY_EVENT" "\$JIT_NOTIFY_CREDENTIAL" \
    "\$JIT_NOTIFY_TOKEN" "\$JIT_NOTIFY_WINDOW" "\$JIT_NOTIFY_TEXT" \
    >> "$T/notified"
NOTIFY
chmod +x "$T/notify.sh"
printf '[agent]\nnotify = %s\n' "$T/notify.sh" > "$CONF"
NCONF=$(grep -c '"event":"config"' "$DATA/audit.log")
kill -HUP "$AGENT_PID"
wait_for "the notify command is configured" bash -c \
    "[ \$(grep -c '\"event\":\"config\"' '$DATA/audit.log') -gt $NCONF ]"
fails "an unknown name is refused before any touch" '!' jitctl unlock nosuch
hasnt "jitctl says nothing of a touch for it" "$T/err" 'Touch your'
ok "and no notice was shown for it" test ! -e "$T/notified"
ok "a credential that expires in 1 s" bash -c \
    "printf x | '$JITCTL_BIN' add short --ttl 1s"
sleep 2
fails "expired: refused before any touch" '!' jitctl unlock short
has "saying it expired" "$T/err" 'expired'
hasnt "with no word of a touch" "$T/err" 'Touch your'
fails "jitctl shell of an unknown name: refused before any touch" '!' \
    jitctl shell nosuch -- true
hasnt "with no word of a touch either" "$T/err" 'Touch your'
# The simulator answers after 6 s: the notice shows after 2 s.
sim_touch yk1 delay=6000
ok "a slow touch unlocks a" jitctl unlock a --for 10m
wait_for "the notice is withdrawn when the touch arrives" grep -q \
    '^withdraw|' "$T/notified"
ok "shown once, then withdrawn" test "$(cut -d'|' -f1 "$T/notified" | tr '\n' ' ')" = "show withdraw "
has "it names the credential, the token and the window" "$T/notified" \
    '^show\|a\|yk1\|600\|'
has "and says who asks, with the parent chain" "$T/notified" \
    '^show\|.*\|Touch yk1: [^|]*jitctl \(pid [0-9]+\) < [^|]*\(pid [0-9]+\)[^|]* asks to open a for 10m'
sim_touch yk1 approve
printf '[agent]\n' > "$CONF"
kill -HUP "$AGENT_PID"
ok "jitctl lock" jitctl lock

# --- logind: suspend and screen lock, on the private bus ---------------
if [ -z "$BUS_PID" ]; then
	skip "suspend and screen lock" "no dbus-daemon, or built without libsystemd (JIT_LOGIND_SIGNAL unset)"
else
	wait_for "status shows sleep armed once the bus confirmed" bash -c \
	    "'$JITCTL_BIN' status | grep -q 'armed:.*sleep (logind PrepareForSleep)'"
	ok "and the screen lock of session c7" bash -c \
	    "'$JITCTL_BIN' status | grep -q 'screen lock (logind Lock of session c7)'"
	ok "unlock a" jitctl unlock a
	ok "ssh-add" ssh-add "$T/id_e2e"
	ok "PrepareForSleep(false) (waking up)" logind sleep false
	ok "Lock of another session (c9)" logind lock c9
	ok "PrepareForSleep(true)" logind sleep true
	wait_for "suspend locks" grep -q '"event":"lock","why":"suspend' \
	    "$DATA/audit.log"
	fails "a is wiped" 4 jitctl get a
	memory_clean "after suspend, a's value" "$CANARY"
	has "audited with its trigger and the ssh-add key" "$DATA/audit.log" \
	    '"event":"lock","why":"suspend \(logind PrepareForSleep\)","names":\["a"\],"count":1,"ssh_keys":1'
	hasnt "waking up and another session's lock did not lock" \
	    "$DATA/audit.log" '"why":"screen locked'
	ok "unlock a again" jitctl unlock a
	ok "Lock of session c7" logind lock c7
	wait_for "the screen lock locks" grep -Eq \
	    '"event":"lock","why":"screen locked \(logind Lock\)","names":\["a"\]' \
	    "$DATA/audit.log"
	fails "a is wiped" 4 jitctl get a
	memory_clean "after the screen lock, a's value" "$CANARY"
	kill "$BUS_PID"; wait "$BUS_PID" 2>/dev/null
	wait_for "the bus gone, status says the triggers are off" bash -c \
	    "'$JITCTL_BIN' status | grep -q 'kill switch off: sleep: the system bus went away'"
	has "and the log says so" "$AGENT_LOG" 'the system bus connection ended'
fi

# --- without a system bus: said once, shown off ------------------------
# (Built without libsystemd, the agent says that instead, bus or not.)
agent_stop
why='no system bus'
[ -n "${JIT_LOGIND_SIGNAL:-}" ] || why='built without libsystemd'
said=$(grep -c "$why" "$AGENT_LOG")
DBUS_SYSTEM_BUS_ADDRESS="unix:path=$T/no-bus.sock" agent_start --config "$CONF" || exit 1
ok "status" jitctl status
has "says sleep is off: $why" "$T/out" "kill switch off: sleep: $why"
has "and the screen lock" "$T/out" "kill switch off: screen lock: $why"
ok "the log says it once" test "$(grep -c "$why" "$AGENT_LOG")" = $((said + 1))
# libsystemd (1.3 MiB resident with its libraries) is loaded on need only.
ok "without a bus, libsystemd is not loaded" \
    bash -c "! grep -q libsystemd /proc/$AGENT_PID/maps"

# --- a bus, but a libsystemd that cannot be loaded: said, shown off ----
# (JIT_LOGIND_SIGNAL is there when the agent is built with libsystemd.)
if [ -n "${JIT_LOGIND_SIGNAL:-}" ]; then
	agent_stop
	mkdir -p "$T/badlib" && : >"$T/badlib/libsystemd.so.0"
	printf '[agent]\nevent_log = journal\n' > "$CONF"
	LD_LIBRARY_PATH="$T/badlib" DBUS_SYSTEM_BUS_ADDRESS="unix:abstract=jit-e2e-$$" \
	    agent_start --config "$CONF" || exit 1
	ok "status" jitctl status
	has "says sleep is off: libsystemd cannot be loaded" "$T/out" \
	    'kill switch off: sleep: libsystemd cannot be loaded'
	has "the log says why" "$AGENT_LOG" \
	    'libsystemd cannot be loaded \(.+\): the sleep and screen lock'
	ok "a lock (an event for the journal) still works" jitctl lock
	wait_for "the journal sink says once it cannot send" grep -q \
	    'event_log = journal: libsystemd cannot be loaded' "$AGENT_LOG"
	ok "a second lock" jitctl lock
	ok "it says so once" test "$(grep -c 'event_log = journal: libsystemd cannot be loaded' "$AGENT_LOG")" = 1
	ok "the agent still serves" jitctl status
fi

e2e_done
