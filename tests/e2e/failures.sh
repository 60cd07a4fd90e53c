#!/usr/bin/env bash
# Every way the foundation must fail safely: wrong PIN, expiry, locked
# credentials, foreign peers, oversized frames, edited files and logs.
. "$E2E_DIR/lib.sh"
RAW="python3 $E2E_DIR/rawpeer.py $JIT_AGENT_SOCK"

agent_start || exit 1
ok "enroll" tpm_enroll laptop
ok "add db-ro" bash -c "printf 'hunter2' | '$JITCTL_BIN' add db-ro --ttl 30m"

fails "get of a locked credential" 4 jitctl get db-ro
has "says to run jitctl unlock" "$T/err" "jitctl unlock db-ro"

fails "unlock with a wrong PIN" 5 jitctl unlock db-ro --pin-fd 3 3<"$T/badpin"
has "says the PIN was wrong and how many tries remain" "$T/err" \
    'wrong PIN.*[0-9]+ more wrong PIN'
ok "the right PIN still works" jitctl unlock db-ro --pin-fd 3 3<"$T/pin"

# The unlock window (CLOCK_BOOTTIME) and the not-after (wall clock).
ok "unlock for 1 second" jitctl unlock db-ro --for 1s --pin-fd 3 3<"$T/pin"
sleep 2
fails "after the window: locked" 4 jitctl get db-ro
has "saying locked" "$T/err" locked
ok "add a 2-second credential" bash -c \
    "printf 'brief' | '$JITCTL_BIN' add short --ttl 2s"
ok "unlock it" jitctl unlock short --pin-fd 3 3<"$T/pin"
sleep 3
fails "after not-after: expired" 4 jitctl get short
has "saying expired" "$T/err" expired
has "the expiry was audited" "$DATA/audit.log" '"event":"expire".*"name":"short"'
fails "unlocking an expired credential is refused" '!' jitctl unlock short \
    --pin-fd 3 3<"$T/pin"

# SIGUSR1 wipes everything.
ok "unlock again" jitctl unlock db-ro --pin-fd 3 3<"$T/pin"
kill -USR1 "$AGENT_PID"; sleep 0.3
fails "SIGUSR1 wiped it" 4 jitctl get db-ro

# Protocol abuse: the agent stays up and serves the others.
ok "REQUEST_IDENTITIES is answered" $RAW list
ok "an unknown type gets SSH_AGENT_FAILURE" $RAW unknown
ok "malformed extensions get failures, not a crash" $RAW garbage
$RAW partial 3 >/dev/null 2>&1 &
HOLD=$!
ok "a frame of 256 KiB + 1 is refused: disconnect" $RAW oversize
ok "while a client holds half a frame, others are served" jitctl status
wait $HOLD
ok "the agent is still up" kill -0 "$AGENT_PID"

# A peer of another uid: the socket is opened up on purpose so that only
# the SO_PEERCRED check stands in the way.
if other_uid_ready "a client of another uid"; then
	ok "as_other_uid runs a command" as_other_uid id -u
	ok "as a uid that is not the test's" test "$(cat "$T/out")" != "$(id -u)"
	chmod 0711 "$T" "$T/run"; chmod 0666 "$JIT_AGENT_SOCK"
	cp "$JITCTL_BIN" "$T/jitctl-copy"; chmod 0755 "$T/jitctl-copy"
	# jitctl of that uid refuses an agent that is not its own first.
	fails "a jitctl of another uid does not talk to this agent" 3 \
	    as_other_uid "$T/jitctl-copy" status
	has "saying whose directory the socket is in" "$T/err" \
	    "the agent socket's directory .* belongs to uid $(id -u), not to you"
	# A peer that checks nothing on its side: the agent alone refuses.
	cp "$E2E_DIR/rawpeer.py" "$T/rawpeer.py"; chmod 0644 "$T/rawpeer.py"
	fails "a raw peer of another uid gets no answer" 1 as_other_uid \
	    python3 "$T/rawpeer.py" "$JIT_AGENT_SOCK" list
	has "the agent hung up on it" "$T/out" '^closed$'
	has "the refusal is logged" "$AGENT_LOG" "refused a client of uid"
	has "and audited" "$DATA/audit.log" '"event":"deny".*another uid'
	chmod 0700 "$T" "$T/run"; chmod 0600 "$JIT_AGENT_SOCK"
fi

# An edited credential header makes the file unopenable.
ok "add victim" bash -c "printf 'v' | '$JITCTL_BIN' add victim --ttl 10m"
python3 - "$DATA/creds/victim.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["not_after"] += 86400          # a later expiry, written by an attacker
json.dump(d, open(p, "w"))
PY
agent_stop
ok "restart the agent (it loads the edited file)" agent_start
fails "the edited credential does not unlock" '!' jitctl unlock victim \
    --pin-fd 3 3<"$T/pin"
has "saying it was altered" "$T/err" altered
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
ok "the dead agent's socket is still there" test -S "$JIT_AGENT_SOCK"
ok "a new agent takes its place" agent_start
fails "a second agent on a live socket is refused" 1 "$JIT_AGENT_BIN" -D \
    -a "$JIT_AGENT_SOCK" --data-dir "$T/data2"
has "saying so" "$T/err" "another agent is listening"

# The audit log: edits and deletions are found and named.
ok "the log verifies" jitctl audit verify
agent_stop
cp "$DATA/audit.log" "$T/audit.orig"
sed -i '3s/"event":"[a-z]*"/"event":"forged"/' "$DATA/audit.log"
fails "an edited line is detected" 6 jitctl --data-dir "$DATA" audit verify
cat "$T/out" "$T/err" > "$T/both"
has "the edited line is named" "$T/both" 'line 3'
cp "$T/audit.orig" "$DATA/audit.log"
sed -i '4d' "$DATA/audit.log"
fails "a deleted line is detected" 6 jitctl --data-dir "$DATA" audit verify
cat "$T/out" "$T/err" > "$T/both"
has "the gap is named" "$T/both" 'line 4'
cp "$T/audit.orig" "$DATA/audit.log"
ok "the restored log verifies" jitctl --data-dir "$DATA" audit verify
ok "an agent on the restored log" agent_start
ok "appends and still verifies" jitctl audit verify
head -n -1 "$DATA/audit.log" > "$T/trunc"; cp "$T/trunc" "$DATA/audit.log"
fails "a dropped last line is caught against the agent's head" 6 \
    jitctl audit verify
cat "$T/out" "$T/err" > "$T/both"
has "saying lines were dropped from the end" "$T/both" 'dropped'

# No plaintext, no PIN anywhere on disk or in the log.
for s in hunter2 brief "$PIN"; do
	ok "no '$s' under the data directory" bash -c \
	    "! grep -r -a -F -q -- '$s' '$DATA'"
	ok "no '$s' in the agent's log" bash -c \
	    "! grep -a -F -q -- '$s' '$AGENT_LOG'"
done

# Memory that cannot be locked: the agent refuses to hold plaintext.  The
# test holds no capability, so the limit it lowers binds the agent.
# (AddressSanitizer makes mlock a no-op, so that build cannot tell.)
if ldd "$JIT_AGENT_BIN" 2>/dev/null | grep -q libasan; then
	say "# mlock refusal: checked by the build without AddressSanitizer, whose mlock is a no-op"
else
	ok "the test holds no capability (CAP_IPC_LOCK would ignore the limit)" \
	    grep -Eq '^CapEff:[[:space:]]+0+$' /proc/self/status
	fails "without lockable memory the agent refuses to start" 1 \
	    timeout 10 prlimit --memlock=0 "$JIT_AGENT_BIN" -D \
	    -a "$T/run/nomlock.sock" --data-dir "$T/nomlock"
	has "saying memory cannot be locked" "$T/err" "cannot be locked"
fi
e2e_done
