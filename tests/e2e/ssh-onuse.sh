#!/usr/bin/env bash
# Unlock on use for ssh: an ssh-cert credential marked --unlock-on-use is
# listed while it is locked (its certificate is public, in its header), so
# ssh offers it; ssh's signature request starts the unlock (a touch, the
# notify command naming ssh and the credential; or the TPM's PIN through
# askpass), then the agent signs and sshd lets ssh in.  A second ssh while
# the unlock is under way waits for it instead of asking again.  A
# declined prompt, or no askpass, fails with a sentence naming 'jitctl
# unlock'; an unmarked locked certificate stays unlisted.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"
for p in ssh ssh-add ssh-keygen python3; do
	command -v "$p" >/dev/null || { say "1..0 # SKIP no $p"; exit 77; }
done
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || { say "1..0 # SKIP no sshd"; exit 77; }
. "$E2E_DIR/sshd-lib.sh"
trap 'sshd_stop; e2e_cleanup' EXIT
unset DISPLAY WAYLAND_DISPLAY SSH_ASKPASS
export SSH_AUTH_SOCK="$JIT_AGENT_SOCK"
PEER="python3 $E2E_DIR/sshpeer.py"
ME=$(id -un)
K="$T/keys"
mkdir -p "$K"
# add_cert NAME KEY [ARGS...]: key KEY and its certificate (ID NAME, from
# the test CA) as an ssh-cert credential.
add_cert() {
	_n=$1 _k=$2; shift 2
	ssh-keygen -q -N '' -t ed25519 -C "$_n" -f "$K/$_k" </dev/null &&
	    ssh-keygen -q -s "$T/ca" -I "$_n" -n "$ME" -V -1m:+1h \
	    "$K/$_k.pub" &&
	    printf '{"key": "%s", "cert": "%s"}' "$($PEER seed "$K/$_k")" \
	    "$(cat "$K/$_k-cert.pub")" | "$JITCTL_BIN" add "$_n" --ttl 1h \
	    --json --kind ssh-cert "$@"
}
# A line of the certificate file, as ssh-add -L prints it (type and blob).
cert_of() { cut -d' ' -f1,2 "$K/$1-cert.pub" | sed 's/[+/]/./g'; }
# wait_for FILE PATTERN: until the file has it (a bounded wait, no timing).
wait_for() {
	for _i in $(seq 300); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
ssh_in() { ssh_to A "$ME@127.0.0.1" true; }
# ssh_bg N: ssh_in in the background, its pid (ssh's own) in SSH<N>.
ssh_bg() {
	(SSH_EXEC=exec ssh_in >"$T/ssh$1.out" 2>&1) &
	eval "SSH$1=\$!"
}

cat >"$T/notify.sh" <<EOF
#!/bin/sh
env | grep '^JIT_NOTIFY_' >>"$T/notify.out"
EOF
chmod 0755 "$T/notify.sh"
printf '[agent]\nnotify = %s\n' "$T/notify.sh" >"$T/onuse.conf"
ok "a test CA" ssh-keygen -q -N '' -t ed25519 -C "test CA" -f "$T/ca"
: >"$T/authorized_keys"
ok "sshd on loopback, trusting the CA" sshd_start A

# --- a touch key ------------------------------------------------------------
agent_start --touch-timeout 10 --config "$T/onuse.conf" || exit 1
sim_start k || exit 1
ok "enroll a touch key" jitctl enroll fido2 --label k \
    --device "sim:$T/k.sock" --allow-simulated
ok "add ssh-onuse, marked --unlock-on-use" add_cert ssh-onuse onuse \
    --unlock-on-use
ok "add ssh-plain, not marked" add_cert ssh-plain plain
has "the certificate is in the credential's header" \
    "$DATA/creds/ssh-onuse.json" '"ssh_cert": *"AAAA'
ok "lock" jitctl lock

ok "locked: ssh-add -L lists the marked certificate" ssh-add -L
has "its certificate, named after the credential" "$T/out" \
    "^$(cert_of onuse) ssh-onuse\$"
hasnt "not the unmarked one" "$T/out" "$(cert_of plain)"

# A slow touch: the notify command has something to say.
sim_touch k delay=2500
ok "ssh while locked: the touch unlocks, and ssh logs in" ssh_in
has "sshd accepted the certificate" "$T/sshd_A.log" \
    "Accepted publickey .*ED25519-CERT.*ID ssh-onuse"
has "the unlock is audited as started by ssh's use" "$DATA/audit.log" \
    '"event":"unlock","names":\["ssh-onuse"\],"token":"k","window":[0-9]+,"trigger":"use",.*"exe":"[^"]*/ssh"'
has "then the signature, as a use" "$DATA/audit.log" \
    '"event":"use","name":"ssh-onuse","purpose":"ssh-sign"'
has "which names the token that opened it" "$DATA/audit.log" \
    '"event":"use","name":"ssh-onuse","purpose":"ssh-sign",.*"token":"k"'
has "the notify command named the credential" "$T/notify.out" \
    '^JIT_NOTIFY_CREDENTIAL=ssh-onuse$'
has "and the client" "$T/notify.out" '^JIT_NOTIFY_EXE=.*/ssh$'
sim_touch k approve
ok "status" jitctl status --json
has "it stays unlocked for the window" "$T/out" '"unlocked": *1,'

ok "lock again" jitctl lock
sim_touch k deny
fails "no touch: ssh is refused" '!' ssh_in
has "the log names the command that unlocks it" "$AGENT_LOG" \
    "ssh-onuse is locked, and no token that opens it answered .*: run 'jitctl unlock ssh-onuse'"
has "audited as a deny of the signature" "$DATA/audit.log" \
    '"event":"deny","name":"ssh-onuse","purpose":"ssh-sign","why":"locked"'
ok "still listed while locked" ssh-add -L
has "the certificate" "$T/out" "ssh-onuse\$"

# Through a forwarded agent (ssh -A), a locked certificate is not shown:
# another host cannot make this one's token be asked.
ok "an ssh-add key for the outer login" ssh-keygen -q -N '' -t ed25519 \
    -C fwd -f "$K/fwd"
cat "$K/fwd.pub" >>"$T/authorized_keys"
ok "ssh-add it" ssh-add "$K/fwd"
ok "ssh -A, then ssh-add -L on the far side" ssh_to A -A "$ME@127.0.0.1" \
    ssh-add -L
has "the far side sees the ssh-add key" "$T/out" " fwd\$"
hasnt "not the locked certificate" "$T/out" "ssh-onuse"
ok "status" jitctl status --json
has "and nothing was unlocked" "$T/out" '"unlocked": *0,'
ok "ssh-add -D" ssh-add -D
sim_touch k approve
agent_stop
sim_stop k

# --- a TPM: the PIN through askpass -----------------------------------------
# The askpass records its prompt and, by its mode file, gives the PIN,
# cancels, or waits for a gate file first (so that a second ssh can be
# started while the first one's unlock is under way).
DATA="$T/data-tpm"
cat >"$T/askpass" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$T/askpass.prompts"
case "\$(cat "$T/askpass.mode")" in
pin)	;;
gate)	i=0; while [ ! -e "$T/gate" ] && [ \$i -lt 300 ]; do
		sleep 0.1; i=\$((i + 1)); done ;;
*)	exit 1 ;;
esac
cat "$T/pin"
EOF
chmod 0755 "$T/askpass"
echo cancel >"$T/askpass.mode"
SSH_ASKPASS="$T/askpass" agent_start --config "$T/onuse.conf" || exit 1
ok "enroll a TPM (a PIN token, no touch key)" tpm_enroll tpm
ok "add ssh-tpm on it, marked --unlock-on-use" add_cert ssh-tpm tpmkey \
    --unlock-on-use
ok "lock" jitctl lock
ok "locked: listed" ssh-add -L
has "the certificate" "$T/out" "^$(cert_of tpmkey) ssh-tpm\$"

fails "the askpass cancels: ssh is refused" '!' ssh_in
has "the log names the command that unlocks it" "$AGENT_LOG" \
    "ssh-tpm is locked, and no PIN was given for token tpm: run 'jitctl unlock ssh-tpm'"
has "audited as a deny" "$DATA/audit.log" \
    '"event":"deny","name":"ssh-tpm","purpose":"ssh-sign","why":"no PIN"'

echo pin >"$T/askpass.mode"
: >"$T/askpass.prompts"
ok "the askpass gives the PIN: ssh logs in" ssh_in
has "sshd accepted the certificate" "$T/sshd_A.log" \
    "Accepted publickey .*ED25519-CERT.*ID ssh-tpm"
has "the prompt names the client, the certificate and the token" \
    "$T/askpass.prompts" \
    'Allow [^ ]*/ssh \(pid [0-9]+, uid [0-9]+\) to use the SSH certificate ssh-tpm \(SHA256:[^)]+\)\? .*PIN of token tpm'
has "the unlock is audited as started by the use" "$DATA/audit.log" \
    '"event":"unlock","names":\["ssh-tpm"\],"token":"tpm","window":[0-9]+,"trigger":"use"'
hasnt "the PIN is in no log" "$AGENT_LOG" "$PIN"
hasnt "nor in the audit" "$DATA/audit.log" "$PIN"

# Two ssh at once: one prompt, one unlock, both in.
ok "lock" jitctl lock
echo gate >"$T/askpass.mode"
: >"$T/askpass.prompts"
ssh_bg 1
if wait_for "$T/askpass.prompts" "ssh-tpm"; then
	pass "the first ssh's signature asks for the PIN"
else
	fail "the first ssh's signature asks for the PIN"
fi
ssh_bg 2
if wait_for "$AGENT_LOG" "ssh-tpm: a signature for ssh \\(pid [0-9]+\\) waits for the unlock under way"; then
	pass "the second waits for that unlock"
else
	fail "the second waits for that unlock"
fi
touch "$T/gate"
ok "the first ssh logs in" wait "$SSH1"
ok "the second too" wait "$SSH2"
ok "askpass was asked once" test "$(grep -c 'ssh-tpm' "$T/askpass.prompts")" = 1
ok "one unlock for the two logins (the cancelled prompt opened nothing)" test \
    "$(grep -c '"event":"unlock","names":\["ssh-tpm"\]' "$DATA/audit.log")" = 2
rm -f "$T/gate"

# Clients that leave while the PIN is asked: the prompt goes, the agent
# stays, and a signature that waited for the one who left is refused.
ok "lock" jitctl lock
: >"$T/askpass.prompts"
ssh_bg 1
wait_for "$T/askpass.prompts" "ssh-tpm" || fail "the PIN is asked"
ssh_bg 2
ssh_bg 3
if wait_for "$AGENT_LOG" "pid $SSH3\\) waits for the unlock under way" &&
    wait_for "$AGENT_LOG" "pid $SSH2\\) waits for the unlock under way"; then
	pass "two more wait for it"
else
	fail "two more wait for it"
fi
kill "$SSH3"; wait "$SSH3"
kill "$SSH1"; wait "$SSH1"
fails "the one that waited for the ssh that left is refused" 255 wait "$SSH2"
has "saying why, and which command unlocks it" "$AGENT_LOG" \
    "ssh-tpm: the client that started its unlock left: run 'jitctl unlock ssh-tpm'"
ok "the agent still serves" ssh-add -L
agent_stop

# --- no askpass: the failure says which command unlocks -------------------
agent_start --config "$T/onuse.conf" || exit 1
fails "no askpass to ask the PIN with: ssh is refused" '!' ssh_in
has "saying so, and which command unlocks it" "$AGENT_LOG" \
    "ssh-tpm is locked, and token tpm wants a PIN that cannot be asked \\(the agent has no SSH_ASKPASS\\): run 'jitctl unlock ssh-tpm'"
ok "jitctl unlock ssh-tpm" jitctl unlock ssh-tpm --pin-fd 3 3<"$T/pin"
ok "unlocked by hand, ssh logs in" ssh_in

sshd_stop
e2e_done
