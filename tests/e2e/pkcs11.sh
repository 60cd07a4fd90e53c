#!/usr/bin/env bash
# ssh-add -s/-e: keys on a PKCS#11 token (SoftHSM2, a private token made
# here) loaded through OpenSSH's ssh-pkcs11-helper, listed, used by ssh
# against sshd on loopback, and gone again with -e, a lock, a lifetime, a
# dead or hung helper; a wrong PIN and a provider outside -P refused.
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/sshd-lib.sh"
trap 'sshd_stop; e2e_cleanup' EXIT
SOFTHSM=/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so
HELPER=${SSH_PKCS11_HELPER:-/usr/lib/openssh/ssh-pkcs11-helper}
for f in "$SOFTHSM" "$HELPER" /usr/bin/softhsm2-util /usr/bin/openssl \
    /usr/sbin/sshd; do
	[ -e "$f" ] || {
		fail "$f is missing (contrib/deps.sh installs softhsm2, openssh-client and openssh-server)"
		e2e_done
	}
done
ME=$(id -un)
TOKEN_PIN=4321-hsm

# A token of our own: SOFTHSM2_CONF reaches the helper through the agent's
# environment, as it would reach OpenSSH's ssh-agent.
export SOFTHSM2_CONF="$T/softhsm2.conf"
mkdir -p "$T/tokens"
cat > "$SOFTHSM2_CONF" <<EOF
directories.tokendir = $T/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
softhsm2-util --init-token --free --label jit-e2e --pin "$TOKEN_PIN" \
    --so-pin 87654321 >"$T/out" 2>&1 || { fail "softhsm2-util --init-token"; e2e_done; }
SLOT=$(sed -n 's/.*reassigned to slot \([0-9]*\).*/\1/p' "$T/out")
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 \
    -out "$T/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 \
    -out "$T/ec.pem" 2>/dev/null
chmod 600 "$T/rsa.pem" "$T/ec.pem"
for k in rsa:01 ec:02; do
	openssl pkcs8 -topk8 -nocrypt -in "$T/${k%:*}.pem" -out "$T/${k%:*}.p8"
	ok "the ${k%:*} key is on the token" softhsm2-util --slot "$SLOT" \
	    --import "$T/${k%:*}.p8" --label "hsm-${k%:*}" --id "${k#*:}" \
	    --pin "$TOKEN_PIN"
	ssh-keygen -y -f "$T/${k%:*}.pem" > "$T/${k%:*}.pub"
done
printf '%s\n' "$TOKEN_PIN" > "$T/token-pin"
printf 'wrong-pin\n' > "$T/token-badpin"

# ssh-add reads the PIN from stdin when it has no terminal (setsid).
add_token() {	# PINFILE [ssh-add options]
	_pf=$1; shift
	setsid -w ssh-add "$@" -s "$SOFTHSM" < "$_pf"
}
helpers() { pgrep -P "$AGENT_PID" -f ssh-pkcs11-helper; }
# Wait for a line in the agent's log (an event the agent reports): the
# check is the line, not the time it took.
await_log() {
	for _i in $(seq 200); do
		grep -Eq -- "$1" "$AGENT_LOG" && return 0
		sleep 0.05
	done
	return 1
}
# Wait until PATTERN is in the agent's log more than N times.
await_more() {	# N PATTERN
	for _i in $(seq 200); do
		[ "$(grep -Ec -- "$2" "$AGENT_LOG")" -gt "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
gone_pid() {	# PID: the process ends (the agent reaps it)
	for _i in $(seq 200); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}
listed() { ssh-add -L 2>/dev/null | grep -qF "$(cut -d' ' -f2 "$1")"; }

export SSH_AUTH_SOCK="$JIT_AGENT_SOCK"
ok "the agent starts" agent_start
ok "ssh-add -s loads the token's keys" add_token "$T/token-pin"
has "ssh-add says so" "$T/err" "Card added"
ok "ssh-add -l lists them" ssh-add -l
has "the RSA key, with its label as comment" "$T/out" "hsm-rsa \\(RSA\\)"
has "the ECDSA key" "$T/out" "hsm-ec \\(ECDSA\\)"
ok "ssh-add -L shows the RSA key's public half" listed "$T/rsa.pub"
ok "and the ECDSA key's" listed "$T/ec.pub"
ok "one helper runs for the provider" helpers
has "the load is audited" "$AGENT_LOG" '"event":"add".*"why":"ssh-add -s \(PKCS#11\)"'
hasnt "the PIN is in no log line" "$AGENT_LOG" "$TOKEN_PIN"
fails "loading it twice is refused" '!' add_token "$T/token-pin"
has "with a sentence" "$AGENT_LOG" "is loaded already; remove it with ssh-add -e first"

ok "ssh-add -T signs with the ECDSA key" ssh-add -T "$T/ec.pub"
cat "$T/rsa.pub" "$T/ec.pub" > "$T/authorized_keys"
: > "$T/ca.pub"
ok "sshd on loopback" sshd_start A
for k in rsa ec; do
	ok "ssh logs in with the token's $k key" ssh_to A -o IdentitiesOnly=yes \
	    -o IdentityFile="$T/$k.pub" "$ME@127.0.0.1" true
done
has "sshd accepted the RSA key (rsa-sha2)" "$T/sshd_A.log" \
    "Accepted publickey .* RSA SHA256:"
has "and the ECDSA key" "$T/sshd_A.log" "Accepted publickey .* ECDSA SHA256:"
has "each signature is audited" "$AGENT_LOG" '"event":"use".*PKCS#11'
fails "ssh-add -s through a forwarded agent is refused" '!' ssh_to A -A \
    "$ME@127.0.0.1" "setsid -w ssh-add -s '$SOFTHSM' < '$T/token-pin'"
has "saying -O allow-remote-pkcs11 allows it" "$AGENT_LOG" \
    "through a forwarded agent: start the agent with -O allow-remote-pkcs11"
echo "a message" > "$T/message"
ok "ssh-keygen -Y sign signs through the token" ssh-keygen -Y sign \
    -f "$T/rsa.pub" -n file "$T/message"
printf 'me %s\n' "$(cat "$T/rsa.pub")" > "$T/signers"
ok "and the signature verifies" sh -c "ssh-keygen -Y verify -f '$T/signers' \
    -I me -n file -s '$T/message.sig' < '$T/message'"

ok "ssh-add -e removes the provider" ssh-add -e "$SOFTHSM"
fails "its keys are gone" 1 ssh-add -l
fails "and so is its helper" 1 helpers
has "the removal is audited" "$AGENT_LOG" '"event":"remove".*"why":"ssh-add -e"'
fails "ssh-add -e of a provider not loaded fails" '!' ssh-add -e "$SOFTHSM"
has "saying so" "$AGENT_LOG" "is not loaded"

fails "a wrong PIN is refused" '!' add_token "$T/token-badpin"
has "with a sentence" "$AGENT_LOG" "the token refused the PIN, or holds no key"
fails "and no key is added" 1 ssh-add -l
fails "and no helper is left" 1 helpers

cp "$SOFTHSM" "$T/libsofthsm2-copy.so"
fails "a provider outside -P is refused" '!' setsid -w ssh-add \
    -s "$T/libsofthsm2-copy.so" < "$T/token-pin"
has "with a sentence in the agent's log" "$AGENT_LOG" \
    "libsofthsm2-copy.so is not allowed by -P"
fails "and no helper was started for it" 1 helpers

# The helper dies: its keys go, the agent stays, a new load works.
ok "loaded again" add_token "$T/token-pin"
kill -KILL "$(helpers)"
ok "the agent sees its helper die" await_log \
    "the PKCS#11 helper for .*libsofthsm2.so was killed by signal 9"
has "and says what to do" "$AGENT_LOG" "run ssh-add -s again to load them"
fails "its keys are gone" 1 ssh-add -l
fails "the agent still serves (exit 1: no identities)" 1 ssh-add -l
ok "ssh-add -s works again" add_token "$T/token-pin"

# A lock (the kill switch) stops the helper: the PIN must be given again.
ok "jitctl lock" jitctl lock
fails "the token's keys are gone" 1 ssh-add -l
fails "and its helper" 1 helpers

# A lifetime: the keys go at its end, and the helper with the last one.
ok "ssh-add -t 1 -s" add_token "$T/token-pin" -t 1
HPID=$(helpers)
ok "they expire" await_log '"event":"expire".*"comment":"hsm-ec"'
fails "unlisted then" 1 ssh-add -l
ok "and the helper is stopped" gone_pid "$HPID"

# jit-agent -t: the default lifetime applies to a token's keys too.
agent_stop
ok "the agent starts with -t 1" agent_start -t 1
ok "ssh-add -s" add_token "$T/token-pin"
ok "the keys expire by -t" await_log '"event":"expire".*"comment":"hsm-rsa"'

# A hung helper: the signature fails after --touch-timeout, the agent
# serves meanwhile, the helper is killed and its keys removed.
agent_stop
ok "the agent starts with --touch-timeout 2" agent_start --touch-timeout 2
ok "ssh-add -s" add_token "$T/token-pin"
HPID=$(helpers)
kill -STOP "$HPID"
uses=$(grep -Ec '"event":"use"' "$AGENT_LOG")
ssh-add -T "$T/ec.pub" >"$T/hung.out" 2>&1 &
SIGNER=$!
ok "the signature is sent to the hung helper" await_more "$uses" \
    '"event":"use"'
ok "another client is served while the helper hangs" ssh-add -l
wait "$SIGNER"
rc=$?
if [ "$rc" -ne 0 ]; then pass "the hung signature fails"; else
	fail "the hung signature fails (it succeeded)"; fi
has "saying the token did not answer" "$AGENT_LOG" \
    "the token did not answer in time \\(--touch-timeout\\)"
ok "the hung helper is killed" await_log \
    "the PKCS#11 helper for .* did not answer in time and was stopped"
fails "its keys are gone (exit 1: the agent serves, with no identities)" 1 \
    ssh-add -l
ok "the hung helper is reaped" gone_pid "$HPID"
agent_stop
sshd_stop
e2e_done
