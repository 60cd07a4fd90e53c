#!/usr/bin/env bash
# OpenSSH's own clients against jit-agent: ssh-add (every key type, -t, -c,
# -x/-X, -d, -D, -h), ssh-keygen -Y, ssh and sshd on loopback with a test
# CA, short-lived certificates served from the vault, agent forwarding.
. "$E2E_DIR/lib.sh"
for p in ssh ssh-add ssh-keygen python3; do
	command -v "$p" >/dev/null || { say "1..0 # SKIP no $p"; exit 77; }
done
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || { say "1..0 # SKIP no sshd"; exit 77; }
PEER="python3 $E2E_DIR/sshpeer.py"
# add_cert NAME KEYFILE CERTFILE [STEPUP]: an ssh-cert credential, its
# fields as JSON on stdin (the seed, the certificate line).
add_cert() {
	printf '{"key": "%s", "cert": "%s"}' "$($PEER seed "$2")" \
	    "$(cat "$3")" | "$JITCTL_BIN" add "$1" --ttl 30m --json \
	    --kind ssh-cert ${4:+--stepup "$4"}
}
K="$T/keys"
PRIV="$T/private"		# private key files, away from ssh-keygen -Y
mkdir -p "$K" "$PRIV"
ME=$(id -un)

# One askpass for everyone: ssh-add's lock passphrases, the agent's
# confirmations (SSH_ASKPASS_PROMPT=confirm) and its requests for a PIN.
cat > "$T/askpass" <<EOF
#!/bin/sh
if [ "\${SSH_ASKPASS_PROMPT:-}" = confirm ]; then
	printf '%s\n---\n' "\$*" >> "$T/askpass.prompts"
	[ "\$(cat "$T/confirm.answer")" = yes ]
	exit \$?
fi
case "\$*" in
*PIN*)	cat "$T/pin" ;;
*)	cat "$T/passphrase" ;;
esac
EOF
chmod 0755 "$T/askpass"
export SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force
unset DISPLAY WAYLAND_DISPLAY
export SSH_AUTH_SOCK="$JIT_AGENT_SOCK"
echo yes > "$T/confirm.answer"

agent_start || exit 1

# --- ssh-add and ssh-keygen -Y with every key type -------------------------
printf 'a message to sign\n' > "$T/msg"
keygen() {	# NAME ARGS...: a key pair, the private half kept aside
	_n=$1; shift
	ssh-keygen -q -N '' -C "test $_n" "$@" -f "$K/$_n" &&
	    cp "$K/$_n" "$PRIV/$_n"
}
y_sign_verify() {	# NAME [SIGNER-FILE]: sign through the agent only
	rm -f "$T/msg.sig"
	mv "$K/$1" "$K/$1.away" 2>/dev/null
	ssh-keygen -Y sign -f "$K/$1.pub" -n file "$T/msg" &&
	    printf 'me %s\n' "$(cat "${2:-$K/$1.pub}")" > "$T/allowed" &&
	    ssh-keygen -Y verify -f "$T/allowed" -I me -n file \
	    -s "$T/msg.sig" < "$T/msg"
	_rc=$?
	mv "$K/$1.away" "$K/$1" 2>/dev/null
	return $_rc
}
for kt in "ed25519:-t ed25519" "ecdsa256:-t ecdsa -b 256" \
    "ecdsa384:-t ecdsa -b 384" "rsa3072:-t rsa -b 3072"; do
	n=${kt%%:*}
	# shellcheck disable=SC2086
	ok "keygen $n" keygen "$n" ${kt#*:}
	ok "ssh-add $n" ssh-add "$K/$n"
	ok "ssh-add -l" ssh-add -l
	has "ssh-add -l shows the $n fingerprint" "$T/out" \
	    "$(ssh-keygen -lf "$K/$n.pub" | awk '{print $2}' | sed 's/[+/]/./g')"
	ok "ssh-add -L" ssh-add -L
	has "ssh-add -L shows the $n public key" "$T/out" \
	    "$(awk '{print $2}' "$K/$n.pub" | sed 's/[+/]/./g')"
	ok "ssh-keygen -Y sign with $n through the agent verifies" \
	    y_sign_verify "$n"
done

# An ed25519 key with its certificate beside it: ssh-add adds both.
ok "a test CA" ssh-keygen -q -N '' -t ed25519 -C "test CA" -f "$T/ca"
ok "keygen usercert" keygen usercert -t ed25519
ok "the CA signs it" ssh-keygen -q -s "$T/ca" -I usercert -n "$ME" -V -1m:+1h \
    "$K/usercert.pub"
ok "ssh-add KEY with KEY-cert.pub adds both" ssh-add "$K/usercert"
has "saying so" "$T/err" "Certificate added"
ok "list" ssh-add -l
has "the certificate is listed" "$T/out" "ED25519-CERT"
rm -f "$T/msg.sig"
ok "ssh-keygen -Y sign with the certificate" ssh-keygen -Y sign \
    -f "$K/usercert-cert.pub" -n file "$T/msg"
printf '%s cert-authority %s\n' "$ME" "$(cat "$T/ca.pub")" > "$T/allowed-ca"
ok "and its signature verifies against the CA" ssh-keygen -Y verify \
    -f "$T/allowed-ca" -I "$ME" -n file -s "$T/msg.sig" < "$T/msg"

ok "RSA: ssh-rsa (SHA-1) signatures are refused" $PEER sign-sha1 \
    "$JIT_AGENT_SOCK" "$K/rsa3072.pub"
has "and logged" "$AGENT_LOG" "refusing an ssh-rsa \\(SHA-1\\) signature"

# --- sshd on loopback ------------------------------------------------------
. "$E2E_DIR/sshd-lib.sh"
trap 'sshd_stop; e2e_cleanup' EXIT
cat "$K"/ed25519.pub "$K"/ecdsa256.pub "$K"/ecdsa384.pub "$K"/rsa3072.pub \
    > "$T/authorized_keys"
ok "sshd A on loopback" sshd_start A
ok "sshd B on loopback" sshd_start B

for n in ed25519 ecdsa256 ecdsa384; do
	ok "ssh logs in with $n from the agent" ssh_to A -o IdentitiesOnly=yes \
	    -o IdentityFile="$K/$n.pub" "$ME@127.0.0.1" true
done
for alg in rsa-sha2-256 rsa-sha2-512; do
	ok "ssh logs in with rsa3072 and $alg" ssh_to A -o IdentitiesOnly=yes \
	    -o IdentityFile="$K/rsa3072.pub" -o PubkeyAcceptedAlgorithms=$alg \
	    "$ME@127.0.0.1" true
	has "sshd saw $alg" "$T/sshd_A.log" "Accepted publickey .*RSA"
done
ok "ssh logs in with the ssh-add'ed certificate" ssh_to A \
    -o IdentitiesOnly=yes -o IdentityFile="$K/usercert-cert.pub" \
    "$ME@127.0.0.1" true
has "sshd accepted the certificate" "$T/sshd_A.log" \
    "Accepted publickey .*ED25519-CERT"

ok "session binds: forwarded connections, bad signatures" $PEER binds \
    "$JIT_AGENT_SOCK" "$K/ecdsa256.pub" "$K/ed25519.pub"
cat "$T/out"

# --- lifetimes (ssh-add -t), confirmation (ssh-add -c), -d, -D ------------
ok "ssh-add -D" ssh-add -D
fails "nothing is listed" 1 ssh-add -l
ok "ssh-add -t 2" ssh-add -t 2 "$K/ed25519"
ok "listed at once" ssh-add -l
sleep 3
fails "gone after its lifetime" 1 ssh-add -l
has "the expiry is audited" "$DATA/audit.log" \
    '"event":"expire".*"why":"ssh-add -t lifetime"'

ok "ssh-add -c" ssh-add -c "$K/ed25519"
echo yes > "$T/confirm.answer"
ok "askpass says yes: ssh-keygen -Y sign works" y_sign_verify ed25519
has "the prompt named the key" "$T/askpass.prompts" \
    "Allow use of key test ed25519"
echo no > "$T/confirm.answer"
fails "askpass says no: the signature is refused" '!' y_sign_verify ed25519
has "the refusal is audited" "$DATA/audit.log" \
    '"event":"deny".*"why":"use not confirmed"'
ok "ssh-add -d" ssh-add -d "$K/ed25519.pub"
fails "the key is gone" 1 ssh-add -l
fails "ssh-add -d of a key not there fails" 1 ssh-add -d "$K/ed25519.pub"
echo yes > "$T/confirm.answer"

# --- the agent's lock (ssh-add -x / -X) ------------------------------------
ok "ssh-add ecdsa256 again" ssh-add "$K/ecdsa256"
echo "correct horse" > "$T/passphrase"
ok "ssh-add -x locks" ssh-add -x
fails "while locked, -l lists nothing" 1 ssh-add -l
fails "while locked, ssh cannot sign" '!' ssh_to A "$ME@127.0.0.1" true
fails "while locked, a second lock fails" '!' ssh-add -x
ok "jitctl status answers while locked" jitctl status --json
has "and says the agent is locked" "$T/out" '"locked": *true'
fails "while locked, jitctl verbs are refused" '!' jitctl tokens
has "saying the agent is locked" "$T/err" "agent is locked"
echo "wrong horse" > "$T/passphrase"
fails "ssh-add -X with a wrong passphrase fails" '!' ssh-add -X
fails "and again (slower)" '!' ssh-add -X
has "wrong passphrases are audited" "$DATA/audit.log" \
    '"event":"deny".*"why":"wrong agent passphrase".*"failures":2'
echo "correct horse" > "$T/passphrase"
ok "ssh-add -X with the right one unlocks" ssh-add -X
ok "the key is back" ssh-add -l
ok "and ssh signs again" ssh_to A "$ME@127.0.0.1" true

# --- a client of another uid, and root --------------------------------------
if other_uid_ready "ssh-add of root and of another uid"; then
	ok "root is root there" as_root id -u
	has "as_root runs as uid 0" "$T/out" "^0$"
	ok "ssh-add -l of root is served, as OpenSSH serves root" as_root ssh-add -l
	has "and lists the key" "$T/out" "ECDSA"
	chmod 0711 "$T" "$T/run"; chmod 0666 "$JIT_AGENT_SOCK"
	fails "ssh-add of another uid is refused" '!' as_other_uid ssh-add -l
	hasnt "and learns no key" "$T/out" "ECDSA"
	has "the refusal is logged" "$AGENT_LOG" "refused a client of uid"
	chmod 0700 "$T" "$T/run"; chmod 0600 "$JIT_AGENT_SOCK"
fi

# --- ssh-add -s: only the PKCS#11 providers -P allows, resolved first --------
ln -s /usr/bin/true "$T/lib-provider.so"
fails "ssh-add -s of a provider outside -P's default is refused" '!' \
    ssh-add -s "$T/lib-provider.so"
has "with a sentence naming the resolved path and -P" "$AGENT_LOG" \
    "PKCS#11 provider /usr/bin/true is not allowed by -P \\(/usr/lib\\*/\\*,/usr/local/lib\\*/\\*\\)"
fails "ssh-add -s of a provider that is not there is refused" '!' \
    ssh-add -s "$T/no-such-provider.so"
has "saying it cannot be found" "$AGENT_LOG" \
    "cannot find the PKCS#11 provider $T/no-such-provider.so"

# --- agent forwarding and destination constraints (ssh-add -h) -------------
ok "ssh-add -D" ssh-add -D
ok "an unconstrained key" ssh-add "$K/ecdsa256"
REMOTE_SSH="ssh -F /dev/null -p \$PB -o BatchMode=yes \
-o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=yes \
-o HostKeyAlias=hostB -o IdentityFile=$T/no-such-key \
-o PreferredAuthentications=publickey $ME@127.0.0.1 true"
ok "ssh -A to A, and ssh-add -l there works" ssh_to A -A "$ME@127.0.0.1" \
    ssh-add -l
has "listing the key" "$T/out" ECDSA
fails "a jitctl verb through the forwarded socket fails" '!' ssh_to A -A \
    "$ME@127.0.0.1" "$JITCTL_BIN" -s '"$SSH_AUTH_SOCK"' status
has "saying forwarded connections may not use it" "$T/err" \
    "forwarded connections may not"
has "the refusal is audited with the host" "$DATA/audit.log" \
    '"event":"deny".*"verb":"status".*"why":"jitctl verb over a forwarded connection".*"host_key":"SHA256:'
ok "from A, ssh to B with the forwarded agent (unconstrained)" \
    ssh_to A -A "$ME@127.0.0.1" "PB=$PORT_B; $REMOTE_SSH"

ok "ssh-add -D" ssh-add -D
ok "ssh-add -h hostA: the key may be used to reach A only" \
    ssh-add -H "$T/known_hosts" -h hostA "$K/ecdsa256"
ok "ssh to A works" ssh_to A "$ME@127.0.0.1" true
fails "ssh straight to B is refused" '!' ssh_to B "$ME@127.0.0.1" true
fails "from A, ssh to B through the forwarded agent cannot sign" '!' \
    ssh_to A -A "$ME@127.0.0.1" "PB=$PORT_B; $REMOTE_SSH"
ok "from A, ssh-add -l runs" ssh_to A -A "$ME@127.0.0.1" 'ssh-add -l; true'
hasnt "and does not see the key (no use beyond A)" "$T/out" ECDSA

ok "ssh-add -D" ssh-add -D
ok "ssh-add -h hostA -h 'hostA>hostB'" ssh-add -H "$T/known_hosts" \
    -h hostA -h "hostA>hostB" "$K/ecdsa256"
ok "from A, ssh to B through the forwarded agent now signs" \
    ssh_to A -A "$ME@127.0.0.1" "PB=$PORT_B; $REMOTE_SSH"
fails "ssh straight to B is still refused" '!' ssh_to B "$ME@127.0.0.1" true
ok "ssh-add -D" ssh-add -D

# --- SSH certificates from the vault: unlock, expire, lock ----------------
swtpm_start
case $? in
0)	HAVE_TPM=1 ;;
77)	HAVE_TPM=; skip "vault certificates" "swtpm is not installed" ;;
*)	HAVE_TPM=; fail "swtpm" ;;
esac
if [ -n "$HAVE_TPM" ]; then
	ok "enroll a TPM" jitctl enroll tpm2 --label laptop \
	    --device "$SWTPM_TCTI" --allow-simulated --pin-fd 3 3<"$T/pin"
	ok "a key for the credential" keygen jit -t ed25519
	ok "the CA signs it for 10 minutes" ssh-keygen -q -s "$T/ca" -I jit \
	    -n "$ME" -V -1m:+10m "$K/jit.pub"
	ok "add it as an ssh-cert credential" add_cert ssh-prod \
	    "$PRIV/jit" "$K/jit-cert.pub"
	fails "a credential of kind ssh-cert with a foreign key is refused" \
	    '!' add_cert ssh-bad "$PRIV/ed25519" \
	    "$K/jit-cert.pub"
	has "saying why" "$T/err" "not for that key"
	fails "locked: not listed" 1 ssh-add -l
	fails "locked: no login" '!' ssh_to A "$ME@127.0.0.1" true
	ok "jitctl unlock ssh-prod (TPM PIN)" jitctl unlock ssh-prod \
	    --pin-fd 3 3<"$T/pin"
	ok "unlocked: listed" ssh-add -l
	has "as the credential's certificate" "$T/out" "ssh-prod \\(ED25519-CERT\\)"
	ok "ssh logs in with the certificate" ssh_to A "$ME@127.0.0.1" true
	has "sshd accepted the certificate" "$T/sshd_A.log" \
	    "Accepted publickey .*ED25519-CERT.*ID jit"
	has "the signature is audited as a use" "$DATA/audit.log" \
	    '"event":"use".*"name":"ssh-prod".*"purpose":"ssh-sign".*"ssh_key":"SHA256:[^"]+".*"host_key":"SHA256:[^"]+"'
	ok "ssh-keygen -Y sign with it" ssh-keygen -Y sign \
	    -f "$K/jit-cert.pub" -n file "$T/msg"
	ok "ssh-add -d of a credential's certificate is refused" bash -c \
	    "! ssh-add -d '$K/jit-cert.pub'"
	ok "jitctl lock" jitctl lock
	fails "after jitctl lock: not listed" 1 ssh-add -l
	fails "after jitctl lock: no login" '!' ssh_to A "$ME@127.0.0.1" true

	ok "a certificate valid for 6 seconds" ssh-keygen -q -s "$T/ca" \
	    -I short -n "$ME" -V -1m:+6s "$K/jit.pub"
	ok "add it" add_cert ssh-short "$PRIV/jit" \
	    "$K/jit-cert.pub"
	ok "unlock it" jitctl unlock ssh-short --pin-fd 3 3<"$T/pin"
	ok "ssh logs in with it" ssh_to A "$ME@127.0.0.1" true
	sleep 7
	fails "after its valid-before: not listed" 1 ssh-add -l
	fails "after its valid-before: no login" '!' ssh_to A "$ME@127.0.0.1" true
	has "the end was audited" "$DATA/audit.log" \
	    '"event":"expire".*"name":"ssh-short".*"why":"certificate valid-before reached"'

	ok "a certificate for step-up always" ssh-keygen -q -s "$T/ca" \
	    -I always -n "$ME" -V -1m:+10m "$K/jit.pub"
	ok "add it with --stepup always" add_cert ssh-always \
	    "$PRIV/jit" "$K/jit-cert.pub" always
	ok "unlock it" jitctl unlock ssh-always --pin-fd 3 3<"$T/pin"
	ok "listed with no plaintext kept" ssh-add -l
	has "listed" "$T/out" "ssh-always"
	: > "$T/askpass.prompts"
	ok "ssh logs in: the TPM unwraps again (PIN through askpass)" \
	    ssh_to A "$ME@127.0.0.1" true
	n_use=$(grep -c '"event":"use","name":"ssh-always"' "$DATA/audit.log")
	ok "each signature was one audited use" test "$n_use" -ge 1
	cp "$T/pin" "$T/pin.keep"
	cp "$T/badpin" "$T/pin"
	fails "with a wrong PIN the signature is refused" '!' \
	    ssh_to A "$ME@127.0.0.1" true
	cp "$T/pin.keep" "$T/pin"
	has "the refusal is audited" "$DATA/audit.log" \
	    '"event":"deny".*"names":\["ssh-always"\].*"why":"JIT_E_PIN"'

	ok "jitctl lock ssh-always" jitctl lock ssh-always
	ok "a certificate for step-up confirm" ssh-keygen -q -s "$T/ca" \
	    -I confirm -n "$ME" -V -1m:+10m "$K/jit.pub"
	ok "add it with --stepup confirm" add_cert ssh-confirm \
	    "$PRIV/jit" "$K/jit-cert.pub" confirm
	ok "unlock it" jitctl unlock ssh-confirm --pin-fd 3 3<"$T/pin"
	: > "$T/askpass.prompts"
	echo yes > "$T/confirm.answer"
	ok "askpass says yes: ssh logs in" ssh_to A "$ME@127.0.0.1" true
	has "the question named the certificate and the program" \
	    "$T/askpass.prompts" "Allow .*ssh.* to use the SSH certificate ssh-confirm"
	echo no > "$T/confirm.answer"
	fails "askpass says no: no login" '!' ssh_to A "$ME@127.0.0.1" true
	has "the refusal is audited" "$DATA/audit.log" \
	    '"event":"deny".*"name":"ssh-confirm".*"why":"use not confirmed"'
	echo yes > "$T/confirm.answer"
	ok "jitctl lock ssh-confirm" jitctl lock ssh-confirm

	ok "unlock ssh-prod again" jitctl unlock ssh-prod --pin-fd 3 3<"$T/pin"
	ok "ssh-add -x locks the agent" ssh-add -x
	ok "and wiped every jitctl credential" jitctl status --json
	has "none unlocked" "$T/out" '"unlocked": *0'
	ok "ssh-add -X" ssh-add -X
	fails "ssh-prod stays locked after the agent unlocks" 1 ssh-add -l
	has "the lock was audited" "$DATA/audit.log" \
	    '"event":"lock".*"why":"agent locked \(ssh-add -x\)".*"count":[1-9]'
fi

# --- the same behind a touch: a simulated FIDO2 key -----------------------
if [ -n "${JIT_SIM_FIDO2:-}" ] && [ -x "${JIT_SIM_FIDO2:-}" ]; then
	ok "jitctl lock" jitctl lock
	ok "a simulated FIDO2 key" sim_start yk
	ok "enroll it (the TPM approves)" jitctl enroll fido2 --label yk \
	    --device "sim:$T/yk.sock" --allow-simulated \
	    --auth-pin-fd 3 3<"$T/pin"
	[ -f "$PRIV/jit" ] || ok "a key for the credential" keygen jit -t ed25519
	ok "a certificate behind a touch" ssh-keygen -q -s "$T/ca" -I touch \
	    -n "$ME" -V -1m:+10m "$K/jit.pub"
	ok "add it with --stepup always" add_cert ssh-touch \
	    "$PRIV/jit" "$K/jit-cert.pub" always
	sim_touch yk approve
	ok "unlock it with a touch" jitctl unlock ssh-touch --token yk
	ok "ssh logs in: one more touch for the signature" \
	    ssh_to A "$ME@127.0.0.1" true
	has "audited as a use" "$DATA/audit.log" \
	    '"event":"use".*"name":"ssh-touch".*"purpose":"ssh-sign"'
	sim_touch yk deny
	fails "a denied touch: no login" '!' ssh_to A "$ME@127.0.0.1" true
	has "the denial is audited" "$DATA/audit.log" \
	    '"event":"deny".*"names":\["ssh-touch"\].*"why":"JIT_E_DENIED"'
	sim_touch yk approve
	ok "a touch again: login" ssh_to A "$ME@127.0.0.1" true
	sim_stop yk
else
	skip "FIDO2 touch" "no simulator (JIT_SIM_FIDO2)"
fi

sshd_stop
ok "audit verify" jitctl audit verify
for s in "correct horse" "$PIN"; do
	ok "no '$s' in the agent's log" bash -c \
	    "! grep -a -F -q -- '$s' '$AGENT_LOG'"
	ok "no '$s' under the data directory" bash -c \
	    "! grep -r -a -F -q -- '$s' '$DATA'"
done
e2e_done
