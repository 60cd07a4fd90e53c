#!/usr/bin/env bash
# The whole engineer's flow on a TPM (swtpm): enroll, add, unlock, get, exec,
# status, lock, revoke, audit, audit verify.
. "$E2E_DIR/lib.sh"

agent_start || exit 1
ok "the agent prints its socket for eval" grep -q \
    "JIT_AGENT_SOCK=$JIT_AGENT_SOCK; export JIT_AGENT_SOCK;" "$T/agent.env"
ok "socket is 0600" test "$(stat -c %a "$JIT_AGENT_SOCK")" = 600
ok "the agent runs as an ordinary user, as the product does" \
    test "$(stat -c %u "/proc/$AGENT_PID")" != 0

for v in $("$JITCTL_BIN" --help | sed -n '/^Verbs:/,/^$/p' | \
    awk 'NR > 1 { print $1 }'); do
	ok "jitctl $v --help" jitctl "$v" --help
	has "jitctl $v --help shows its usage" "$T/out" "usage: jitctl.* $v"
done
ok "enroll a TPM with a PIN from a descriptor" tpm_enroll laptop
ok "tokens lists it" jitctl tokens
has "tokens names laptop and tpm2" "$T/out" 'laptop.*tpm2'
ok "tokens --json" jitctl tokens --json
has "tokens --json is JSON" "$T/out" '"label": *"laptop"'

ok "add a bare secret from stdin" bash -c \
    "printf 'hunter2' | '$JITCTL_BIN' add db-ro --ttl 30m"
ok "add JSON fields with step-up always" bash -c \
    "printf '{\"PGUSER\":\"dbg\",\"PGPASSWORD\":\"s3cret\"}' | \
    '$JITCTL_BIN' add pg-prod --json --ttl 15m --stepup always"
fails "a second add of the same name is refused" '!' bash -c \
    "printf 'x' | '$JITCTL_BIN' add db-ro --ttl 30m"
ok "credential files exist" test -f "$DATA/creds/db-ro.json" -a \
    -f "$DATA/creds/pg-prod.json"

fails "get before unlock fails" 4 jitctl get db-ro
has "and says to unlock" "$T/err" "jitctl unlock db-ro"

ok "unlock both with one PIN" jitctl unlock db-ro pg-prod --for 10m \
    --pin-fd 3 3<"$T/pin"
ok "get prints the secret" jitctl get db-ro
ok "exactly the secret" test "$(cat "$T/out")" = hunter2
if command -v script >/dev/null; then
	fails "get refuses a terminal" '!' script -qec \
	    "'$JITCTL_BIN' get db-ro" /dev/null
	hasnt "and prints no secret there" "$T/out" hunter2
	ok "get --force prints to a terminal" script -qec \
	    "'$JITCTL_BIN' get db-ro --force" /dev/null
else
	skip "get on a terminal" "script (bsdutils) is not installed"
fi
ok "exec injects fields into the child (step-up always: PIN again)" \
    jitctl exec --no-masking --pin-fd 3 pg-prod -- env 3<"$T/pin"
has "child has PGUSER" "$T/out" '^PGUSER=dbg$'
has "child has PGPASSWORD" "$T/out" '^PGPASSWORD=s3cret$'
ok "exec conceals the fields in the child's output" \
    jitctl exec --pin-fd 3 pg-prod -- env 3<"$T/pin"
has "PGPASSWORD concealed" "$T/out" '^PGPASSWORD=<concealed by jit-agent>$'
ok "get --field picks one field" jitctl get pg-prod --field PGUSER \
    --pin-fd 3 3<"$T/pin"
ok "just that value" test "$(cat "$T/out")" = dbg
hasnt "the agent's environment never holds a field" \
    /proc/"$AGENT_PID"/environ 's3cret|hunter2'

ok "status" jitctl status
has "status shows db-ro unlocked" "$T/out" 'db-ro.*unlocked'
ok "status --json" jitctl status --json
has "status --json has the uses" "$T/out" '"uses": *[1-9]'
has "status --json names the last peer" "$T/out" '"exe": *".*jitctl"'

ok "lock db-ro" jitctl lock db-ro
fails "get after lock fails as locked" 4 jitctl get db-ro
has "saying locked" "$T/err" 'locked'
ok "unlock --all" jitctl unlock --all --pin-fd 3 3<"$T/pin"
ok "get works again" jitctl get db-ro
ok "lock everything" jitctl lock
fails "everything is locked" 4 jitctl get db-ro

ok "revoke db-ro" jitctl revoke db-ro
ok "its file is gone" test ! -e "$DATA/creds/db-ro.json"
fails "get of a revoked credential fails" 4 jitctl get db-ro

ok "audit" jitctl audit
for ev in enroll add unlock use deny lock revoke; do
	has "audit has a $ev event" "$T/out" "$ev"
done
ok "audit --json" jitctl audit --json
has "audit lines carry seq and prev" "$T/out" '"seq":[0-9]+.*"prev":"[0-9a-f]{64}"'
has "use events name the peer executable" "$T/out" \
    '"event":"use".*"exe":"[^"]*jitctl"'
has "a use names the token that opened it" "$T/out" \
    '"event":"use","name":"db-ro",.*"token":"laptop"'
has "a step-up use names the token that answered it" "$T/out" \
    '"event":"use","name":"pg-prod",.*"token":"laptop"'
ok "audit verify" jitctl audit verify

agent_stop
ok "the socket is removed at exit" test ! -e "$JIT_AGENT_SOCK"
has "SIGTERM is audited as a lock" "$DATA/audit.log" '"why":"SIGTERM"'
ok "audit verify without an agent" jitctl --data-dir "$DATA" audit verify

# Nothing secret reached the disk or the logs.
for s in hunter2 s3cret "$PIN"; do
	ok "no '$s' under the data directory" bash -c \
	    "! grep -r -a -F -q -- '$s' '$DATA'"
	ok "no '$s' in the agent's log" bash -c \
	    "! grep -a -F -q -- '$s' '$AGENT_LOG'"
done
e2e_done
