#!/usr/bin/env bash
# The audit log fails closed and cannot be rewritten: a full disk refuses
# what it cannot record, a short write leaves no torn line, a crash's torn
# line is told from an edit, and the seals catch a chain recomputed after a
# line was dropped, before and after a restart.  The agent runs as the
# test's own user; the disk is "full" by the file size limit (RLIMIT_FSIZE).
. "$E2E_DIR/lib.sh"

LOG="$DATA/audit.log"
REFUSED='the audit log cannot be written \(the file size limit is reached\): nothing is served unaudited'

size() { stat -c %s "$LOG"; }
# The log ends with a newline: on a whole line.
ends_whole() { [ "$(tail -c 1 "$LOG" | od -An -tx1 | tr -d ' ')" = 0a ]; }
# The limit holds for every file the agent writes, its stderr (agent.log)
# too, which says as much as the audit log and more: moved aside, so that
# the agent can still say why it refuses.
log_aside() { cat "$AGENT_LOG" >>"$T/agent.log.before" && : >"$AGENT_LOG"; }
# The running agent's soft file size limit: N bytes, or back to none.
limit() { log_aside && prlimit --pid "$AGENT_PID" --fsize="$1":; }
unlimit() { prlimit --pid "$AGENT_PID" --fsize=unlimited:; }
# The last line's number.
nlines() { wc -l <"$LOG"; }
# sealed EVENT: a seal line follows the last line of that event.
sealed() {
	python3 - "$LOG" "$1" <<'PY'
import json, sys
ev = []
for line in open(sys.argv[1], "rb"):
    try:
        ev.append(json.loads(line).get("event"))
    except ValueError:
        ev.append(None)
last = max(i for i, e in enumerate(ev) if e == sys.argv[2])
sys.exit(0 if "seal" in ev[last:] else 1)
PY
}
# Verify a copy of the log, edited by CMD (the agent keeps its own file).
verify_copy() {
	mkdir -p "$T/copy"
	cp "$LOG" "$T/copy/audit.log"
	(cd "$T/copy" && eval "$1")
	jitctl --data-dir "$T/copy" audit verify
}
# forge FILE EVENT: drop the last line of that event before the last seal
# and recompute the SHA-256 chain, as someone who can write the file does.
# Lines that are not records (torn) are kept as they are.
forge() {
	python3 - "$@" <<'PY'
import hashlib, json, sys
path, event = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read().split(b"\n")
if raw and raw[-1] == b"":
    raw.pop()
recs = []
for b in raw:
    try:
        recs.append(json.loads(b))
    except ValueError:
        recs.append(b)
seals = [i for i, o in enumerate(recs)
         if isinstance(o, dict) and o.get("event") == "seal"]
drop = max(i for i, o in enumerate(recs[:seals[-1]])
           if isinstance(o, dict) and o.get("event") == event)
out, prev, seq = [], "0" * 64, 0
for i, o in enumerate(recs):
    if i == drop:
        continue
    if not isinstance(o, dict):
        out.append(o)
        continue
    seq += 1
    o["seq"], o["prev"] = seq, prev
    b = json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode()
    prev = hashlib.sha256(b).hexdigest()
    out.append(b)
open(path, "wb").write(b"\n".join(out) + b"\n")
print(drop + 1)
PY
}

command -v prlimit >/dev/null || { say "not ok - prlimit (util-linux) is needed"; exit 1; }

# (e) A missing or empty log is an error, never "intact: 0 lines".
mkdir -p "$T/nolog"
fails "verify of a missing log fails" 6 jitctl --data-dir "$T/nolog" \
    audit verify
has "saying there is no log there" "$T/err" "no audit log at $T/nolog/audit.log"
hasnt "and not that it is intact" "$T/out" intact
: >"$T/nolog/audit.log"
fails "verify of an empty log fails" 6 jitctl --data-dir "$T/nolog" \
    audit verify
has "saying it is empty" "$T/err" 'the audit log is empty'
hasnt "and not that it is intact" "$T/out" intact

agent_start || exit 1
ok "enroll" tpm_enroll laptop
ok "add db" bash -c "printf 'hunter2' | '$JITCTL_BIN' add db --ttl 1h"
ok "unlock db" jitctl unlock db --pin-fd 3 3<"$T/pin"
ok "get db" jitctl get db
ok "the log verifies" jitctl audit verify
has "and says it is not sealed" "$T/err" 'the log is not sealed'

# (a) The disk is full: what cannot be recorded is not done.
S=$(size)
ok "the file size limit is the log's size" limit "$S"
fails "get is refused" 1 jitctl get db
has "with the sentence" "$T/err" "$REFUSED"
hasnt "and the secret is not served" "$T/out" hunter2
ok "lock db (a lock is never refused)" jitctl lock db
fails "unlock is refused" 1 jitctl unlock db --pin-fd 3 3<"$T/pin"
has "with the sentence" "$T/err" "$REFUSED"
ok "the limit is lifted for a moment" unlimit
fails "nothing stayed unlocked" 4 jitctl get db
S=$(size)
limit "$S"
fails "add is refused" 1 bash -c \
    "printf 'new' | '$JITCTL_BIN' add db2 --ttl 1h"
has "with the sentence" "$T/err" "$REFUSED"
ok "and nothing was stored" test ! -e "$DATA/creds/db2.json"
fails "revoke is refused" 1 jitctl revoke db
has "with the sentence" "$T/err" "$REFUSED"
ok "and db is still there" test -e "$DATA/creds/db.json"
if [ -n "${JIT_SIM_FIDO2:-}" ]; then
	sim_start yk || exit 1
	fails "enroll is refused after the approval" 1 jitctl enroll fido2 \
	    --label yk --device "sim:$T/yk.sock" --allow-simulated \
	    --auth-pin-fd 3 3<"$T/pin"
	has "with the sentence" "$T/err" "$REFUSED"
	hasnt "and yk is not enrolled" "$DATA/tokens.json" '"label": *"yk"'
fi
ok "the log did not grow" test "$(size)" = "$S"
ok "it ends on a whole line" ends_whole
has "the agent's log says why" "$AGENT_LOG" \
    'not in the audit log: the file size limit is reached'
ok "the agent is up" kill -0 "$AGENT_PID"
unlimit
ok "with space again, the log verifies" jitctl audit verify
ok "and unlock works" jitctl unlock db --pin-fd 3 3<"$T/pin"

# (a) again, the agent started under the limit (prlimit --fsize).
agent_stop
S=$(size)
cat >"$T/agent-limited" <<EOF
#!/bin/sh
exec prlimit --fsize=$S "$JIT_AGENT_BIN" "\$@"
EOF
chmod 0755 "$T/agent-limited"
log_aside
JIT_AGENT_BIN="$T/agent-limited" agent_start
ok "an agent started on a full disk is up" kill -0 "$AGENT_PID"
has "and says its start is not in the log" "$AGENT_LOG" \
    'not in the audit log'
fails "its unlock is refused" 1 jitctl unlock db --pin-fd 3 3<"$T/pin"
has "with the sentence" "$T/err" "$REFUSED"
fails "so get finds db locked" 4 jitctl get db
ok "the log is as it was" test "$(size)" = "$S"
agent_stop

# (b) A short write (the limit falls inside the line) is rolled back.
agent_start || exit 1
ok "unlock db" jitctl unlock db --pin-fd 3 3<"$T/pin"
S=$(size)
ok "the limit falls 10 bytes into the next line" limit $((S + 10))
fails "get is refused" 1 jitctl get db
has "with the sentence" "$T/err" "$REFUSED"
ok "the partial line was cut off" test "$(size)" = "$S"
ok "the log ends on a whole line" ends_whole
unlimit
ok "get works again" jitctl get db
ok "the log verifies" jitctl audit verify
hasnt "with no torn line" "$T/err" 'stopped while writing'

# (c) A crash tears the last line: the next agent records it.
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
N=$(nlines)
truncate -s -25 "$LOG"
ok "the torn log verifies" jitctl --data-dir "$DATA" audit verify
has "saying the agent stopped while writing the last line" "$T/err" \
    "the agent stopped while writing line $N "
agent_start || exit 1
has "the start event records the torn line" "$LOG" \
    "\"event\":\"start\".*\"torn\":\\{\"line\":$N,\"length\":[0-9]+,\"sha256\":\"[0-9a-f]{64}\"\\}"
ok "unlock db" jitctl unlock db --pin-fd 3 3<"$T/pin"
ok "get db" jitctl get db
ok "the log verifies through the torn line" jitctl audit verify
has "saying the agent stopped while writing it" "$T/err" \
    "the agent stopped while writing line $N; the next agent recorded it"
fails "an edit after the torn line is still caught" 6 verify_copy \
    "sed -i '$((N + 2))s/\"event\":\"[a-z]*\"/\"event\":\"forged\"/' audit.log"
has "and named" "$T/err" "bad line $((N + 2)):"
fails "a torn line that was changed later is an edit" 6 verify_copy \
    "sed -i '${N}s/^{\"seq\"/{\"SEQ\"/' audit.log"
has "naming it" "$T/err" "bad line $N: .*edited"
fails "a torn line nobody recorded is an edit" 6 verify_copy \
    "sed -i '$((N + 1))d' audit.log"
has "naming it" "$T/err" "bad line $N: .*edited"

# (d) Seals: dropping a use line and recomputing the chain is caught with
# the verification key, and only with it, before and after a restart.
ok "set up sealing (1 s epochs)" bash -c \
    "'$JITCTL_BIN' audit setup-keys --interval 1s >'$T/vkey1'"
has "the key is printed once" "$T/vkey1" '^fss1-[0-9a-f]{64}/[0-9a-f]+-1$'
has "with the sentence" "$T/err" 'Keep it off this machine'
ok "the key file is private" test "$(stat -c %a "$DATA/audit.fss")" = 600
fails "a second set-up needs --force" 1 jitctl audit setup-keys
has "saying so" "$T/err" 'sealed already.*--force'
ok "replace the key" bash -c \
    "'$JITCTL_BIN' audit setup-keys --force --interval 1s >'$T/vkey'"
fails "the verification key is refused on the command line" 2 jitctl audit \
    verify --verify-key "$(cat "$T/vkey")"
has "saying where it goes" "$T/err" 'never goes on the command line'
ok "get db" jitctl get db
for _i in $(seq 50); do sealed use && break; sleep 0.1; done
ok "the use is sealed within the next epoch" sealed use
has "a seal line" "$LOG" '"event":"seal","epoch":[0-9]+,"key_id":"[0-9a-f]{32}","mac":"[0-9a-f]{64}"'
ok "verify with the key" jitctl audit verify --verify-key "$T/vkey"
has "checks the seals" "$T/out" 'seals checked: [1-9]'
ok "the key from standard input" jitctl audit verify --verify-key - \
    <"$T/vkey"
fails "the old key says the key was replaced" 6 jitctl audit verify \
    --verify-key "$T/vkey1"
has "saying so" "$T/err" 'another sealing key.*replaced'
ok "both keys verify" jitctl audit verify --verify-key "$T/vkey1" \
    --verify-key "$T/vkey"
ok "without a key, verify says the seals were not checked" jitctl audit verify
has "and how to check them" "$T/err" \
    "seals \\([0-9]+\\) were not checked.*--verify-key FILE"

cp "$LOG" "$T/log.d"
L=$(forge "$LOG" use)
ok "a use line dropped (line $L), the chain recomputed" test -n "$L"
fails "the running agent's head catches it without a key" 6 jitctl audit \
    verify
fails "and the seal with the key" 6 jitctl audit verify --verify-key "$T/vkey"
agent_stop
cp "$T/log.d" "$LOG"
L=$(forge "$LOG" use)
ok "again with the agent stopped" test -n "$L"
ok "before a restart, the chain alone passes" jitctl --data-dir "$DATA" \
    audit verify
has "saying the seals were not checked" "$T/err" 'were not checked'
fails "the key finds the drop" 6 jitctl --data-dir "$DATA" audit verify \
    --verify-key "$T/vkey"
has "at a seal after the dropped line" "$T/err" \
    'bad line [0-9]+: the seal at line [0-9]+ does not match'
agent_start || exit 1
ok "after a restart (the agent adopts the forged head) the chain passes" \
    jitctl audit verify
fails "the key still finds the drop" 6 jitctl audit verify \
    --verify-key "$T/vkey"
has "at the same seal" "$T/err" 'the seal at line [0-9]+ does not match'

# Nothing secret in the log, on disk or in the agent's log.
for s in hunter2 "$PIN" "$(cut -c6-69 "$T/vkey")"; do
	ok "no '${s:0:12}...' under the data directory" bash -c \
	    "! grep -r -a -F -q -- '$s' '$DATA'"
	ok "no '${s:0:12}...' in the agent's log" bash -c \
	    "! grep -a -F -q -- '$s' '$AGENT_LOG'"
done

e2e_done
