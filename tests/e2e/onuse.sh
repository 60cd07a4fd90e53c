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
printf '#!/bin/sh\necho tok-issued\n' >"$T/issue.sh"
chmod 0755 "$T/issue.sh"
# An issuer's profile marks what it issues so.
cat >"$T/onuse.conf" <<EOF
[agent]
notify = $T/notify.sh

[profile tok]
output = raw
issuer = $T/issue.sh
unlock_on_use = true
EOF
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
has "which names the token that opened it" "$DATA/audit.log" \
    '"event":"use","name":"aws",.*"token":"k"'
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

sim_touch k approve
ok "request from a profile with unlock_on_use" jitctl request tok --reason t
ok "what it issued is marked so" marked_on_use tok
ok "lock" jitctl lock
ok "a get while it is locked unlocks it with a touch" jitctl get tok
ok "and hands it out" test "$(cat "$T/out")" = tok-issued
has "the unlock is audited as started by the use" "$DATA/audit.log" \
    '"event":"unlock","names":\["tok"\],"token":"k","window":[0-9]+,"trigger":"use"'

# A TPM wants a PIN: the agent asks it through its askpass, naming the
# client, the credential and the token.  This askpass records its prompt
# and prints the PIN, or cancels.
agent_stop
DATA="$T/data-tpm"
cat >"$T/askpass" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$T/askpass.prompts"
[ "\$(cat "$T/askpass.mode")" = pin ] || exit 1
cat "$T/pin"
EOF
chmod 0755 "$T/askpass"
echo cancel >"$T/askpass.mode"
SSH_ASKPASS="$T/askpass" agent_start --config "$T/onuse.conf" || exit 1
ok "enroll a TPM (a PIN token, no touch key)" tpm_enroll tpm
ok "add db on the TPM alone, marked --unlock-on-use" bash -c "printf '%s' \
    '{\"AccessKeyId\":\"ASIATPM\",\"SecretAccessKey\":\"sk-tpm\"}' |
    '$JITCTL_BIN' add db --json --kind aws --ttl 1h --unlock-on-use"
ok "lock" jitctl lock
fails "the askpass cancels: refused" 4 jitctl aws-credential-process db
has "naming the command that unlocks it" "$T/err" \
    "db is locked, and no PIN was given for token tpm: run 'jitctl unlock db'"
has "audited as a deny" "$DATA/audit.log" '"event":"deny","name":"db","why":"no PIN"'
echo pin >"$T/askpass.mode"
ok "the askpass gives the PIN: served" jitctl aws-credential-process db
has "the keys" "$T/out" '"AccessKeyId":"ASIATPM"'
has "the prompt names the client, the credential and the token" \
    "$T/askpass.prompts" \
    'Allow [^ ]*jitctl \(pid [0-9]+, uid [0-9]+\) to use credential db\? .*PIN of token tpm'
has "the unlock is audited as started by the use" "$DATA/audit.log" \
    '"event":"unlock","names":\["db"\],"token":"tpm","window":[0-9]+,"trigger":"use"'
hasnt "the PIN is in no log" "$AGENT_LOG" "$PIN"
hasnt "nor in the audit" "$DATA/audit.log" "$PIN"

e2e_done
