#!/usr/bin/env bash
# Messages that say what is true and what to do, and refusals made when
# they can first be known (at add, at enroll) rather than at first use.
. "$E2E_DIR/lib.sh"

# A missing socket directory is reported as missing.
fails "jitctl with no socket directory" 3 env \
    JIT_AGENT_SOCK="$T/nowhere/agent.sock" "$JITCTL_BIN" status
has "says the directory does not exist" "$T/err" \
    "directory $T/nowhere does not exist: jit-agent is not running"
hasnt "not permission denied or an I/O error" "$T/err" \
    'ermission denied|input/output'
fails "jitctl with no socket in the directory" 3 env \
    JIT_AGENT_SOCK="$T/run/agent.sock" "$JITCTL_BIN" status
has "says there is no socket" "$T/err" "there is no socket $T/run/agent.sock"

unset SSH_ASKPASS DISPLAY WAYLAND_DISPLAY
agent_start || exit 1

# TPM PIN rules are stated at enroll; a short PIN is refused.
printf '7' >"$T/pin1"
swtpm_start || exit 1
fails "a 1-character TPM PIN is refused" '!' jitctl enroll tpm2 --label \
    laptop --device "$SWTPM_TCTI" --allow-simulated --pin-fd 3 3<"$T/pin1"
has "saying the minimum" "$T/err" 'at least 6 characters'
ok "enroll with a longer PIN" tpm_enroll laptop
has "enroll states the lockout rules" "$T/err" \
    'counts wrong PINs for everything that uses it.*a correct PIN does not reset'

ok "add db" bash -c "printf 'hunter2' | '$JITCTL_BIN' add db --ttl 1h"
fails "a wrong PIN" 5 jitctl unlock db --pin-fd 3 3<"$T/badpin"
has "says how many more lock the TPM out" "$T/err" \
    'wrong PIN: [0-9]+ more wrong PINs? locks? the TPM out'
has "that the count is shared and a correct PIN does not reset it" \
    "$T/err" 'shared with everything that uses this TPM, and a correct PIN does not reset it'
hasnt "and no tries-left count of its own" "$T/err" 'tries? left'
ok "the right PIN" jitctl unlock db --pin-fd 3 3<"$T/pin"

# Expired: the sentence names the command that works.
ok "add a 1-second credential" bash -c \
    "printf 'brief' | '$JITCTL_BIN' add short --ttl 1s"
for _i in $(seq 100); do
	jitctl status --json >"$T/st" 2>/dev/null
	grep -q '"state": *"expired"' "$T/st" && break
	sleep 0.1
done
fails "unlock of an expired credential" 4 jitctl unlock short \
    --pin-fd 3 3<"$T/pin"
has "says add --replace stores a new one" "$T/err" \
    "short expired at .*'jitctl add short --replace'"
fails "a plain add is refused, as said" '!' bash -c \
    "printf 'again' | '$JITCTL_BIN' add short --ttl 1h"
ok "add --replace works, as said" bash -c \
    "printf 'again' | '$JITCTL_BIN' add short --ttl 1h --replace"

# Refusals known at add time are made at add time.
fails "an env credential with a field PG-USER is refused at add" 2 bash -c \
    "printf '{\"PG-USER\":\"u\",\"PGPASSWORD\":\"p\"}' | '$JITCTL_BIN' add pg --json --kind env --ttl 1h"
has "naming the field" "$T/err" 'field PG-USER of an env credential cannot be an environment'
ok "nothing was stored" test ! -e "$DATA/creds/pg.json"
ok "PGUSER is fine" bash -c \
    "printf '{\"PGUSER\":\"u\",\"PGPASSWORD\":\"p\"}' | '$JITCTL_BIN' add pg --json --kind env --ttl 1h"
fails "--stepup confirm with no askpass is refused at add" '!' bash -c \
    "printf 'x' | '$JITCTL_BIN' add conf --ttl 1h --stepup confirm"
has "saying why" "$T/err" 'step-up confirm asks through an askpass program, and the agent has none'
ok "nothing was stored" test ! -e "$DATA/creds/conf.json"
ssh-keygen -q -t ed25519 -N '' -C e2e -f "$T/key" || exit 1
fails "ssh-add -c with no askpass is refused at add" '!' env \
    SSH_AUTH_SOCK="$JIT_AGENT_SOCK" ssh-add -c "$T/key"
has "the agent says why" "$AGENT_LOG" 'cannot add the key with -c: .*the agent has none'
ok "the key was not added" bash -c \
    "! SSH_AUTH_SOCK='$JIT_AGENT_SOCK' ssh-add -l"

agent_stop
printf '#!/bin/sh\nexit 0\n' >"$T/askpass"
chmod 0755 "$T/askpass"
SSH_ASKPASS="$T/askpass" agent_start || exit 1
ok "with an askpass, --stepup confirm is accepted" bash -c \
    "printf 'x' | '$JITCTL_BIN' add conf --ttl 1h --stepup confirm --pin-fd 3 3<'$T/pin'"
ok "and ssh-add -c" env SSH_AUTH_SOCK="$JIT_AGENT_SOCK" ssh-add -c "$T/key"

e2e_done
