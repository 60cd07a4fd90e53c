#!/usr/bin/env bash
# Unlock on use: a credential marked --unlock-on-use, asked for by a tool
# that knows nothing of the agent (a credential helper) while it is locked,
# starts the unlock: the agent waits for the touch off the loop, the
# notify command names the client and the credential, and the unlock is
# audited.  Unmarked, or when no token answers, the refusal names the
# command that unlocks it.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"

cat >"$T/notify.sh" <<EOF
#!/bin/sh
env | grep '^JIT_NOTIFY_' >>"$T/notify.out"
EOF
chmod 0755 "$T/notify.sh"
printf '[agent]\nnotify = %s\n' "$T/notify.sh" >"$T/onuse.conf"
agent_start --touch-timeout 10 --config "$T/onuse.conf" || exit 1
sim_start k || exit 1
ok "enroll a touch key" jitctl enroll fido2 --label k \
    --device "sim:$T/k.sock" --allow-simulated
ok "add aws, marked --unlock-on-use" bash -c "printf '%s' \
    '{\"AccessKeyId\":\"ASIAONUSE\",\"SecretAccessKey\":\"sk-onuse\"}' |
    '$JITCTL_BIN' add aws --json --kind aws --ttl 1h --unlock-on-use"
ok "add aws2, not marked" bash -c "printf '%s' \
    '{\"AccessKeyId\":\"ASIAPLAIN\",\"SecretAccessKey\":\"sk-plain\"}' |
    '$JITCTL_BIN' add aws2 --json --kind aws --ttl 1h"
ok "status" jitctl status --json
has "shows the mark" "$T/out" '"unlock_on_use": *true'

# A slow touch, so that the notify command has something to say.
sim_touch k delay=3500
ok "credential_process on a locked, marked credential waits for the touch" \
    jitctl aws-credential-process aws
has "and hands out the keys" "$T/out" '"AccessKeyId":"ASIAONUSE"'
has "the unlock is audited as started by the use, naming the client" \
    "$DATA/audit.log" \
    '"event":"unlock","names":\["aws"\],"token":"k","window":[0-9]+,"trigger":"use",.*"exe":"[^"]*jitctl"'
has "then the use" "$DATA/audit.log" '"event":"use","name":"aws"'
has "the notify command named the credential" "$T/notify.out" \
    '^JIT_NOTIFY_CREDENTIAL=aws$'
has "the token" "$T/notify.out" '^JIT_NOTIFY_TOKEN=k$'
has "and the client" "$T/notify.out" '^JIT_NOTIFY_EXE=.*jitctl$'
ok "it stays unlocked for the window" jitctl status --json
has "unlocked" "$T/out" '"name": *"aws".*'
sim_touch k approve
ok "the next use needs no touch" jitctl aws-credential-process aws

fails "an unmarked locked credential is refused" 4 \
    jitctl aws-credential-process aws2
has "naming the command that unlocks it" "$T/err" "jitctl unlock aws2"

ok "lock" jitctl lock
sim_touch k deny
fails "no touch: refused" 4 jitctl aws-credential-process aws
has "saying which command unlocks it" "$T/err" \
    "aws is locked, and no token that opens it answered .*: run 'jitctl unlock aws'"
has "audited as a deny" "$DATA/audit.log" '"event":"deny","name":"aws","why":"locked"'

e2e_done
