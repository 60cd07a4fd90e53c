#!/usr/bin/env bash
# Two-person approval: a request waits (through an agent restart) until
# approvals signed with the approvers' own SSH keys meet the quorum; jitctl
# approve and ssh-keygen -Y sign/verify interoperate; each refusal says why.
. "$E2E_DIR/lib.sh" || exit 1

NS=jit-approval@jit-agent
ISS="$T/iss"
mkdir -p "$ISS"
export JIT_TEST_DIR="$T"
ME=$(id -un)

cat > "$ISS/issue.sh" <<'EOF'
#!/bin/sh
# Records that it ran; prints a secret the events must never show.
echo "$JIT_NAME" >> "$JIT_TEST_DIR/issued"
echo "$JIT_NAME $JIT_REQUEST_ID $JIT_APPROVERS" >> "$JIT_TEST_DIR/issued.env"
printf 'canary-S3CRET-%s\n' "$JIT_NAME"
EOF
chmod 0755 "$ISS/issue.sh"

# ---- the approvers' keys, a CA for a certificate, and the allowed_signers
k() { ssh-keygen -q -t "$1" -N '' -C "$2" -f "$T/$2" "${@:3}"; }
k ed25519 self
k ed25519 bob
k ecdsa carol
k rsa dave -b 2048
k ed25519 erin
k ed25519 mallory
k ed25519 old
k ed25519 gitonly
k ed25519 ca
ssh-keygen -q -s "$T/ca" -I erin-cert -n erin@example.com -V -5m:+1h \
    "$T/erin.pub"
pub() { cut -d' ' -f1,2 "$T/$1.pub"; }
cat > "$T/allowed_signers" <<EOF
# the team
"ops@example.com,$ME@example.com" $(pub self)
bob@example.com $(pub bob)
carol@example.com $(pub carol)
dave@example.com $(pub dave)
*@example.com cert-authority $(pub ca)
old@example.com valid-before="20200101Z" $(pub old)
gitonly@example.com namespaces="git" $(pub gitonly)
EOF

cat > "$T/config" <<EOF
[profile prod]
output = raw
issuer = $ISS/issue.sh
approvers = $T/allowed_signers
approvals = 2
max_ttl = 1h

[profile quick]
output = raw
issuer = $ISS/issue.sh
approvers = $T/allowed_signers
approval_window = 1s
EOF
chmod 0600 "$T/config"

# The approvers' own SSH agent (OpenSSH's), holding bob's and erin's keys.
SSHAGENT_PID=
approvals_cleanup() {
	[ -n "$SSHAGENT_PID" ] && kill "$SSHAGENT_PID" 2>/dev/null
	e2e_cleanup
}
trap approvals_cleanup EXIT
ssh-agent -D -a "$T/ssh-agent.sock" >/dev/null 2>&1 &
SSHAGENT_PID=$!
for _i in $(seq 100); do [ -S "$T/ssh-agent.sock" ] && break; sleep 0.05; done
export SSH_AUTH_SOCK="$T/ssh-agent.sock"
ssh-add -q "$T/bob" "$T/erin" 2>/dev/null
ok "the approvers' ssh-agent holds bob's key and erin's certificate" \
    ssh-add -l
has "three identities" "$T/out" "erin"

agent_start --config "$T/config" || exit 1
ok "enroll a TPM" tpm_enroll laptop

# ---- a request waits and prints its text
ok "request prod: it waits for approvals" \
    jitctl request prod --reason "INC-42 db is down" --ttl 10m
cp "$T/out" "$T/req"
has "its text is printed" "$T/req" "^-----BEGIN JIT ACCESS REQUEST-----$"
has "naming the requester" "$T/req" "^requester: $ME@"
has "the reason" "$T/req" "^reason: INC-42 db is down$"
has "saying what to do" "$T/err" "waits for 2 approval\\(s\\)"
ID=$(sed -n 's/^id: //p' "$T/req")
[ -n "$ID" ] && pass "it has an id" || fail "it has an id"
[ ! -e "$T/issued" ] && pass "the issuer has not run" || \
    fail "the issuer has not run"
ok "request prod2 (another request)" \
    jitctl request prod --name prod2 --reason "INC-43" --ttl 5m
cp "$T/out" "$T/req2"
ID2=$(sed -n 's/^id: //p' "$T/req2")

# ---- it survives a restart of the agent
agent_stop
agent_start --config "$T/config" || exit 1
ls "$DATA/requests/$ID.json" >/dev/null 2>&1 && \
    pass "the request is stored in the data directory" || \
    fail "the request is stored in the data directory"

# ---- jitctl approve signs through SSH_AUTH_SOCK; ssh-keygen accepts it
ok "bob approves with jitctl approve" \
    jitctl approve "$T/req" --key "$T/bob.pub" --yes --output "$T/bob.sig"
has "after showing who, what and why" "$T/err" "why: +INC-42 db is down"
ok "ssh-keygen -Y verify accepts jitctl's approval" \
    ssh-keygen -Y verify -f "$T/allowed_signers" -I bob@example.com \
    -n "$NS" -s "$T/bob.sig" < "$T/req"
fails "approve with several keys and no --key" '!' \
    jitctl approve "$T/req" --yes
has "asks which" "$T/err" "holds 3 keys: choose one with --key"
fails "approve asks on a terminal unless --yes" '!' \
    jitctl approve "$T/req" --key "$T/bob.pub" < /dev/null

sign() { # KEY FILE [NS]: ssh-keygen's approval of FILE
	rm -f "$2.sig"
	ssh-keygen -q -Y sign -f "$T/$1" -n "${3:-$NS}" "$2" 2>/dev/null
}
approve() { jitctl request --approval "$1" "${2:-$ID}" --pin-fd 3 3<"$T/pin"; }

# ---- each refusal, with its sentence
cp "$T/req" "$T/r-self"; sign self "$T/r-self"
fails "the requester approving their own request" '!' approve "$T/r-self.sig"
has "is refused" "$T/err" "made request $ID and cannot approve it"
cp "$T/req" "$T/r-mal"; sign mallory "$T/r-mal"
fails "an approver not in the file" '!' approve "$T/r-mal.sig"
has "is refused" "$T/err" "is not in the approvers' allowed_signers file"
cp "$T/req" "$T/r-old"; sign old "$T/r-old"
fails "an approver past valid-before" '!' approve "$T/r-old.sig"
has "is refused" "$T/err" "outside its valid-after/valid-before window"
cp "$T/req" "$T/r-git"; sign gitonly "$T/r-git"
fails "an approver outside its namespaces=" '!' approve "$T/r-git.sig"
has "is refused" "$T/err" "may sign only in namespaces git"
cp "$T/req" "$T/r-ns"; sign bob "$T/r-ns" file
fails "a signature in another namespace" '!' approve "$T/r-ns.sig"
has "is refused" "$T/err" "is for namespace 'file', not $NS"
sed 's/^ttl: 600$/ttl: 3600/' "$T/req" > "$T/r-edit"; sign bob "$T/r-edit"
fails "a signature over an edited request" '!' approve "$T/r-edit.sig"
has "is refused" "$T/err" "does not verify over request $ID"
cp "$T/req2" "$T/r-other"; sign bob "$T/r-other"
fails "a signature over another request" '!' approve "$T/r-other.sig"
has "is refused" "$T/err" "made over another request or an edited copy"
printf 'not a signature\n' > "$T/r-junk"
fails "something that is no signature" '!' approve "$T/r-junk"
has "is refused" "$T/err" "is not an OpenSSH signature"

ok "bob's approval counts" approve "$T/bob.sig"
has "one of two" "$T/err" "1 of 2 approvals"
[ ! -e "$T/issued" ] && pass "the issuer waits for the quorum" || \
    fail "the issuer waits for the quorum"
fails "bob's approval twice" '!' approve "$T/bob.sig"
has "counts once" "$T/err" "has already approved request $ID: each approver counts once"
cp "$T/req" "$T/r-bob2"; sign bob "$T/r-bob2"
fails "bob again, signed anew by ssh-keygen" '!' approve "$T/r-bob2.sig"
has "counts once" "$T/err" "each approver counts once"

# ---- carol's ecdsa approval from ssh-keygen completes the quorum
cp "$T/req" "$T/r-carol"; sign carol "$T/r-carol"
ok "carol's approval by ssh-keygen -Y sign meets the quorum" \
    approve "$T/r-carol.sig"
has "and the issuer ran" "$T/issued" "^prod$"
has "told who approved" "$T/issued.env" \
    "^prod $ID bob@example.com \\(SHA256:[^)]+\\), carol@example.com \\(SHA256:"
ok "prod is stored" jitctl status
has "listed" "$T/out" "prod"
fails "the served request takes no more approvals" '!' \
    approve "$T/r-carol.sig"
has "saying so" "$T/err" "no request $ID waits for approval"
[ ! -e "$DATA/requests/$ID.json" ] && pass "its file is gone" || \
    fail "its file is gone"

# ---- an RSA key and a certificate (through the ssh-agent) on request 2
cp "$T/req2" "$T/r-dave"; sign dave "$T/r-dave"
ok "dave's rsa-sha2-512 approval counts" approve "$T/r-dave.sig" "$ID2"
ok "erin approves with her certificate through jitctl approve" \
    jitctl approve "$T/req2" --key "$T/erin-cert.pub" --yes \
    --output "$T/erin.sig"
ok "ssh-keygen -Y verify accepts the certificate's approval" \
    ssh-keygen -Y verify -f "$T/allowed_signers" -I erin@example.com \
    -n "$NS" -s "$T/erin.sig" < "$T/req2"
ok "erin's approval meets the quorum of request 2" \
    approve "$T/erin.sig" "$ID2"
has "and its issuer ran" "$T/issued" "^prod2$"

# ---- an expired request
ok "request quick (waits 1s)" jitctl request quick --reason "short" \
    --pin-fd 3 3<"$T/pin"
cp "$T/out" "$T/r-quick"
IDQ=$(sed -n 's/^id: //p' "$T/r-quick")
sign bob "$T/r-quick"
sleep 2
fails "an approval of an expired request" '!' approve "$T/r-quick.sig" "$IDQ"
has "is refused" "$T/err" "request $IDQ expired"

# ---- jit-agent itself as the approver's SSH agent (its keys' step-up)
fails "a malformed request id" '!' approve "$T/bob.sig" "../../x"
has "is refused" "$T/err" "a request id is the 32 hex digits"
ok "request prod3" jitctl request prod --name prod3 --reason "INC-44" \
    --pin-fd 3 3<"$T/pin"
cp "$T/out" "$T/req3"
ID3=$(sed -n 's/^id: //p' "$T/req3")
ok "carol's key is added to jit-agent" env SSH_AUTH_SOCK="$JIT_AGENT_SOCK" \
    ssh-add "$T/carol"
ok "carol approves through jit-agent's ssh-agent" \
    env SSH_AUTH_SOCK="$JIT_AGENT_SOCK" "$JITCTL_BIN" approve "$T/req3" --yes \
    --output "$T/carol3.sig"
ok "ssh-keygen -Y verify accepts it" \
    ssh-keygen -Y verify -f "$T/allowed_signers" -I carol@example.com \
    -n "$NS" -s "$T/carol3.sig" < "$T/req3"
ok "and the agent counts it" approve "$T/carol3.sig" "$ID3"
has "one of two" "$T/err" "1 of 2 approvals"

# ---- the audit names each approver's principal and key fingerprint
agent_stop
# A fingerprint as an extended regex (it has '+' and '/').
fpre() { ssh-keygen -lf "$1" | cut -d' ' -f2 | sed 's/[+.]/\\&/g'; }
BOBFP=$(fpre "$T/bob.pub")
ERINFP=$(fpre "$T/erin.pub")
has "the audit names bob and his key" "$AGENT_LOG" \
    "\"event\":\"approved\".*\"approver\":\"bob@example.com\",\"fingerprint\":\"$BOBFP\""
has "the certificate's principal and key" "$AGENT_LOG" \
    "\"approver\":\"erin@example.com\",\"fingerprint\":\"$ERINFP\""
has "the request line lists the approvers" "$AGENT_LOG" \
    "\"event\":\"request\".*\"request_id\":\"$ID\",\"approvers\":\"bob@example.com \\($BOBFP\\), carol@example.com"
has "each refusal is audited" "$AGENT_LOG" \
    "\"event\":\"approval-refused\".*cannot approve it"
has "the expiry is audited" "$AGENT_LOG" \
    "\"event\":\"request-expired\",\"request_id\":\"$IDQ\""
hasnt "no secret in the log" "$AGENT_LOG" "canary-S3CRET"
e2e_done
