#!/usr/bin/env bash
# FIDO2 through libfido2 against the simulated authenticator: touches that
# are given, denied, late or slow; UV and PINs; backup tokens; step-up.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"
printf '1234' > "$T/simpin"
printf '9999' > "$T/simbad"

# The askpass the agent runs for step-up confirm: its answer is a file.
cat > "$T/askpass" <<ASK
#!/bin/sh
printf '%s\n' "\$1" >> "$T/askpass.prompts"
exit "\$(cat "$T/askpass.answer")"
ASK
chmod +x "$T/askpass"
echo 0 > "$T/askpass.answer"
SSH_ASKPASS="$T/askpass" agent_start --touch-timeout 3 || exit 1
sim_start yk1 || exit 1

fails "a simulated token needs --allow-simulated" "!" \
    jitctl enroll fido2 --label yk1 --device "sim:$T/yk1.sock"
has "saying so" "$T/err" 'allow-simulated'
ok "enroll the simulated key" jitctl enroll fido2 --label yk1 \
    --device "sim:$T/yk1.sock" --allow-simulated
ok "tokens" jitctl tokens
has "marks it simulated" "$T/out" 'yk1.*fido2.*SIMULATED'
has "the enrollment is audited as simulated" "$DATA/audit.log" \
    '"event":"enroll".*"simulated":true'
ok "status marks it too" jitctl status
has "in status" "$T/out" 'SIMULATED'

ok "add two credentials" bash -c "printf 'alpha' | '$JITCTL_BIN' add a --ttl 1h && \
    printf 'bravo' | '$JITCTL_BIN' add b --ttl 1h"
ok "unlock with a touch" jitctl unlock a b
has "jitctl asks for the touch" "$T/err" 'Touch your security key \(yk1\)'
ok "get a" jitctl get a
ok "is alpha" test "$(cat "$T/out")" = alpha
has "the unlock is audited with the token" "$DATA/audit.log" \
    '"event":"unlock".*"token":"yk1"'

jitctl lock >/dev/null
sim_touch yk1 deny
fails "a denied touch" 5 jitctl unlock a
has "says it was denied" "$T/err" 'denied'
has "the denial is audited" "$DATA/audit.log" '"event":"deny".*JIT_E_DENIED'
sim_touch yk1 timeout
fails "no touch in time" 5 jitctl unlock a
has "says so" "$T/err" 'no touch'
ok "the agent is unharmed" jitctl status

# A slow touch: other clients are served meanwhile.
sim_touch yk1 approve
ok "unlock b" jitctl unlock b
sim_touch yk1 delay=2500
jitctl unlock a >"$T/slow.out" 2>&1 &
SLOW=$!
sleep 0.5
ok "while a touch is pending, status answers" timeout 1 "$JITCTL_BIN" status
ok "and get answers" timeout 1 "$JITCTL_BIN" get b
ok "and REQUEST_IDENTITIES answers" timeout 1 python3 "$E2E_DIR/rawpeer.py" \
    "$JIT_AGENT_SOCK" list
ok "the touch was still pending then" kill -0 "$SLOW"
ok "the slow unlock completes" wait "$SLOW"

# A client that goes away while its touch is pending abandons the unlock:
# the wait is cancelled and nothing opens for it, whatever the key says.
ok "lock" jitctl lock
sim_touch yk1 delay=2500
"$JITCTL_BIN" unlock a b >/dev/null 2>&1 &
GONE=$!
sleep 0.5
kill -KILL "$GONE"; wait "$GONE" 2>/dev/null
sleep 3
fails "a stayed locked" 4 jitctl get a
fails "b stayed locked" 4 jitctl get b
has "the abandoned unlock is audited" "$DATA/audit.log" \
    '"event":"abandoned","names":\["a","b"\],"verb":"unlock"'
has "and the touch wait was cancelled, not merely ignored" "$DATA/audit.log" \
    '"event":"abandoned","names":\["a","b"\],"verb":"unlock","why":"JIT_E_CANCELLED"'
hasnt "and no unlock of a and b after the lock" "$DATA/audit.log" \
    '"event":"lock".*"event":"unlock","names":\["a","b"\]'
sim_touch yk1 approve

# Step-up always: every get is a fresh touch.
ok "add c with step-up always" bash -c \
    "printf 'charlie' | '$JITCTL_BIN' add c --ttl 1h --stepup always"
ok "unlock c" jitctl unlock c
ok "get c (touch)" jitctl get c
sim_touch yk1 deny
fails "get c with the touch denied" 5 jitctl get c
sim_touch yk1 approve
ok "get c again" jitctl get c
ok "is charlie" test "$(cat "$T/out")" = charlie

# Step-up confirm: the person approves each use in a prompt that names
# the requesting program.
ok "add f with step-up confirm" bash -c \
    "printf 'foxtrot' | '$JITCTL_BIN' add f --ttl 1h --stepup confirm"
ok "unlock f" jitctl unlock f
ok "get f, confirmed" jitctl get f
ok "is foxtrot" test "$(cat "$T/out")" = foxtrot
has "the prompt named the program and the credential" "$T/askpass.prompts" \
    'Allow .*jitctl \(pid [0-9]+\) < .*\(pid [0-9]+\).* \(uid [0-9]+\) to use credential f \(unlocked with yk1, [0-9a-z]+ left\)\?'
echo 1 > "$T/askpass.answer"
fails "get f, refused in the prompt" 5 jitctl get f
has "saying it was not confirmed" "$T/err" 'not confirmed'
has "the refusal is audited" "$DATA/audit.log" '"event":"deny".*"not confirmed"'

# Step-up pin needs a token that checks a PIN: yk1 (no UV) cannot serve it.
ok "add g with step-up pin" bash -c \
    "printf 'golf' | '$JITCTL_BIN' add g --ttl 1h --stepup pin"
fails "yk1 alone cannot open a step-up pin credential" '!' jitctl unlock g
has "saying what it needs" "$T/err" 'needs a TPM or a FIDO2 key enrolled with --uv'

# The simulator restarted with its state: the enrollment still opens.
sim_stop yk1
fails "with the key gone, unlock says so" 5 jitctl unlock a
has "saying the token is not present" "$T/err" 'not present|absent|went away|no FIDO|plug|no simulated token is running'
ok "adding needs no hardware (the key is unplugged)" bash -c \
    "printf 'india' | '$JITCTL_BIN' add i --ttl 1h"
sim_start yk1 || exit 1
ok "restarted with --state, it opens again" jitctl unlock a

# UV: a key with a PIN, enrolled with --uv.
sim_start yk2 --pin-fd 3 3<"$T/simpin" || exit 1
ok "enroll with UV" jitctl enroll fido2 --label yk2 --device "sim:$T/yk2.sock" \
    --allow-simulated --uv --pin-fd 3 3<"$T/simpin"
ok "add d (wrapped to yk1 and yk2)" bash -c \
    "printf 'delta' | '$JITCTL_BIN' add d --ttl 1h"
ok "unlock d with yk2 and its PIN" jitctl unlock d --token yk2 \
    --pin-fd 3 3<"$T/simpin"
fails "a wrong PIN" 5 jitctl unlock d --token yk2 --pin-fd 3 3<"$T/simbad"
has "says how many tries are left" "$T/err" 'wrong PIN.*[0-9]+ tr'
fails "a second wrong PIN" 5 jitctl unlock d --token yk2 --pin-fd 3 3<"$T/simbad"
fails "a third wrong PIN" 5 jitctl unlock d --token yk2 --pin-fd 3 3<"$T/simbad"
fails "then the key wants a power cycle" 5 jitctl unlock d --token yk2 \
    --pin-fd 3 3<"$T/simpin"
has "saying so" "$T/err" 'remove and re-insert|blocked'
sim_stop yk2; sim_start yk2 || exit 1
ok "after re-insertion the right PIN works" jitctl unlock d --token yk2 \
    --pin-fd 3 3<"$T/simpin"
for i in 1 2 3 4 5 6 7 8; do
	jitctl unlock d --token yk2 --pin-fd 3 3<"$T/simbad" >/dev/null 2>&1
	if [ $((i % 3)) = 0 ]; then sim_stop yk2; sim_start yk2 || exit 1; fi
done
fails "after 8 wrong PINs the PIN is blocked" 5 jitctl unlock d --token yk2 \
    --pin-fd 3 3<"$T/simpin"
has "saying the PIN is blocked" "$T/err" 'blocked'
ok "the other key still opens d" jitctl unlock d --token yk1

# Backup tokens: a TPM beside the key; either opens what is added after.
ok "enroll a TPM too" tpm_enroll laptop
ok "add e (wrapped to yk1, yk2 and laptop)" bash -c \
    "printf 'echo' | '$JITCTL_BIN' add e --ttl 1h"
ok "tokens lists all three" jitctl tokens
has "yk1" "$T/out" yk1
has "laptop" "$T/out" laptop
sim_stop yk1
ok "with yk1 gone, the TPM opens e" jitctl unlock e --token laptop \
    --pin-fd 3 3<"$T/pin"
fails "unenroll of the only token of a..c is refused" '!' jitctl unenroll yk1 \
    --token laptop --pin-fd 3 3<"$T/pin"
has "naming the credentials at stake" "$T/err" 'open only with yk1'
ok "unenroll yk2, approved by the TPM" jitctl unenroll yk2 --token laptop \
    --pin-fd 3 3<"$T/pin"
ok "e still opens with the TPM" jitctl unlock e --token laptop \
    --pin-fd 3 3<"$T/pin"
ok "e keeps two wraps (yk1, laptop) after yk2 is gone" test "$(python3 -c \
    'import json,sys; print(len(json.load(open(sys.argv[1]))["wraps"]))' \
    "$DATA/creds/e.json")" = 2

# A PIN token enrolled before the touch token: sent no PIN, the agent passes
# over the TPM and the touch opens it.
ok "unenroll yk1 --force (deletes what only it opened)" jitctl unenroll yk1 \
    --force --pin-fd 3 3<"$T/pin"
sim_start yk1 || exit 1
ok "enroll yk1 again, after the TPM" jitctl enroll fido2 --label yk1 \
    --device "sim:$T/yk1.sock" --allow-simulated --auth-pin-fd 3 3<"$T/pin"
ok "add h (laptop, then yk1)" bash -c \
    "printf 'hotel' | '$JITCTL_BIN' add h --ttl 1h"
ok "unlock h with a touch and no PIN" jitctl unlock h </dev/null
has "jitctl asked for the touch" "$T/err" 'Touch your security key \(yk1\)'
has "the touch token opened it" "$DATA/audit.log" \
    '"event":"unlock","names":\["h"\],"token":"yk1"'
e2e_done
