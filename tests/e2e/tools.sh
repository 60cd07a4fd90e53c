#!/usr/bin/env bash
# jitctl exec and inject with real tools: kinds mapped to their variables
# (botocore reads the aws ones, kubectl the kubeconfig, ssh-add and
# ssh-keygen the private agent), several credentials, values concealed in
# the child's output, the child's status and signals passed through.
. "$E2E_DIR/lib.sh"
C='<concealed by jit-agent>'

agent_start || exit 1
tpm_enroll laptop >/dev/null 2>&1 || { fail "enroll a TPM"; e2e_done; }

add_json() { # NAME KIND JSON
	printf '%s' "$3" | "$JITCTL_BIN" add "$1" --json --kind "$2" --ttl 30m
}
ok "an env credential" add_json pg env \
    '{"PGUSER":"dbg","PGPASSWORD":"s3cret-pg-pass"}'
ok "an aws credential, as aws sts prints it" add_json aws aws \
    '{"Credentials":{"AccessKeyId":"AKIAJITTEST123456","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYJITKEY","SessionToken":"FwoGZXIvYXdzEJIT//session"}}'
ok "a secret" bash -c "printf 'hunter2-db' | '$JITCTL_BIN' add db-ro --ttl 30m"
ok "a second env credential setting PGUSER" add_json pg2 env \
    '{"PGUSER":"other"}'
ok "unlock them" jitctl unlock --all --pin-fd 3 3<"$T/pin"

# --- concealment ----------------------------------------------------------
ok "exec pg -- env" jitctl exec pg -- env
has "the password is concealed" "$T/out" "^PGPASSWORD=$C\$"
has "so is the user" "$T/out" "^PGUSER=$C\$"
hasnt "no value shows" "$T/out" 's3cret-pg-pass|=dbg$'
ok "exec pg -- sh: on stderr too" jitctl exec pg -- sh -c \
    'echo "pw $PGPASSWORD" >&2'
has "concealed on stderr" "$T/err" "^pw $C\$"
ok "a value written one byte at a time" jitctl exec pg -- /usr/bin/python3 \
    -c 'import os
for b in os.environ["PGPASSWORD"].encode(): os.write(1, bytes([b]))
os.write(1, b"|end\n")'
ok "is still concealed whole" test "$(cat "$T/out")" = "$C|end"
ok "exec --no-masking leaves it alone" jitctl exec --no-masking pg -- env
has "the password shows" "$T/out" '^PGPASSWORD=s3cret-pg-pass$'
# Every byte value, NUL included, in runs that hold no value.
/usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 1200)' \
    > "$T/bytes"
ok "binary output passes unchanged" jitctl exec pg -- cat "$T/bytes"
cp "$T/out" "$T/bytes.out"
ok "byte for byte" cmp "$T/bytes.out" "$T/bytes"

# --- several credentials, each as its tools read it -----------------------
ok "exec --no-masking pg aws db-ro -- env" jitctl exec --no-masking \
    pg aws db-ro -- env
has "pg's fields" "$T/out" '^PGPASSWORD=s3cret-pg-pass$'
has "AWS_ACCESS_KEY_ID" "$T/out" '^AWS_ACCESS_KEY_ID=AKIAJITTEST123456$'
has "AWS_SECRET_ACCESS_KEY" "$T/out" \
    '^AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYJITKEY$'
has "AWS_SESSION_TOKEN" "$T/out" '^AWS_SESSION_TOKEN=FwoGZXIvYXdzEJIT//session$'
has "AWS_CREDENTIAL_EXPIRATION in RFC 3339" "$T/out" \
    '^AWS_CREDENTIAL_EXPIRATION=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
hasnt "no AccessKeyId= variable" "$T/out" '^(Credentials\.)?AccessKeyId='
has "the secret as JIT_SECRET" "$T/out" '^JIT_SECRET=hunter2-db$'
ok "botocore finds the aws credential in the environment" jitctl exec aws \
    -- /usr/bin/python3 -c 'import botocore.session, sys
c = botocore.session.get_session().get_credentials()
sys.exit(0 if c is not None and c.method == "env" and c.access_key == "AKIAJITTEST123456" and c.token.endswith("session") else 1)'
fails "two credentials setting one variable are refused" 1 \
    jitctl exec pg pg2 -- true
has "saying which" "$T/err" 'pg and pg2 both set PGUSER'
fails "an unknown credential is refused before the command runs" 4 \
    jitctl exec pg nosuch -- touch "$T/ran"
ok "and the command did not run" test ! -e "$T/ran"

# --- status and signals ---------------------------------------------------
fails "the child's exit status" 7 jitctl exec pg -- sh -c 'exit 7'
fails "a child killed by a signal: 128 + N" 143 jitctl exec pg -- \
    sh -c 'kill -TERM $$'
"$JITCTL_BIN" exec pg -- sh -c 'trap "echo got-term; exit 3" TERM; echo ready
while :; do sleep 0.1; done' >"$T/sig.out" 2>&1 &
EXEC_PID=$!
for _i in $(seq 200); do grep -q ready "$T/sig.out" && break; sleep 0.05; done
kill -TERM "$EXEC_PID"
wait "$EXEC_PID"
RC=$?
ok "SIGTERM to jitctl reaches the child, and its status comes back" \
    test "$RC" = 3
has "the child saw SIGTERM" "$T/sig.out" '^got-term$'
ok "with masking the child writes to a pipe" script -qec \
    "'$JITCTL_BIN' exec pg -- sh -c 'test -t 1 || echo piped'" /dev/null
has "(its output filtered)" "$T/out" 'piped'
ok "with --no-masking a terminal stays a terminal" script -qec \
    "'$JITCTL_BIN' exec --no-masking pg -- sh -c 'test -t 0 && test -t 1 && echo tty'" \
    /dev/null
has "(the child saw a terminal)" "$T/out" '^tty'
# --- kube: a temporary kubeconfig that kubectl reads ------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
    -keyout "$T/apisrv.key" -out "$T/apisrv.crt" 2>/dev/null
/usr/bin/python3 "$E2E_DIR/apisrv.py" "$T/auth.log" "$T/apisrv.port" \
    "$T/apisrv.crt" "$T/apisrv.key" &
APISRV=$!
for _i in $(seq 100); do [ -s "$T/apisrv.port" ] && break; sleep 0.05; done
ok "a kube credential with its cluster" add_json kube kube \
    "{\"server\":\"https://127.0.0.1:$(cat "$T/apisrv.port")\",\"certificate-authority-data\":\"$(base64 -w0 "$T/apisrv.crt")\",\"token\":\"kube-tok-jit-123\"}"
ok "unlock it" jitctl unlock kube --pin-fd 3 3<"$T/pin"
ok "exec kube: KUBECONFIG is a 0600 file of ours" jitctl exec kube -- \
    sh -c 'stat -c "%a %U" "$KUBECONFIG"; echo "$KUBECONFIG" >&2'
has "mode 0600, the user's" "$T/out" "^600 $(id -un)\$"
KC=$(cat "$T/err")
ok "removed when the command ends" test -n "$KC" -a ! -e "$KC"
ok "it holds no secret: its user runs jitctl kube-credential" \
    jitctl exec --no-masking kube -- sh -c 'cat "$KUBECONFIG"'
has "the plugin" "$T/out" '"kube-credential"'
hasnt "no token" "$T/out" 'kube-tok-jit-123'
ok "a client doing what kubectl does with it (tests/e2e/kubecheck.py)" \
    jitctl exec kube -- "$E2E_DIR/kubecheck.py"
has "reaches the server" "$T/out" 'v1.32.0'
has "with the credential's token" "$T/auth.log" '^Bearer kube-tok-jit-123$'
if command -v kubectl >/dev/null; then
	: > "$T/auth.log"
	ok "kubectl uses it" jitctl exec kube -- kubectl get --raw /version
	has "kubectl's answer" "$T/out" 'v1.32.0'
	has "and sent the credential's token" "$T/auth.log" \
	    '^Bearer kube-tok-jit-123$'
else
	say "# kubectl is not installed (Debian 12 has none recent enough): kubecheck.py above stands for it"
fi
kill "$APISRV" 2>/dev/null; wait "$APISRV" 2>/dev/null

# --- ssh-cert: a private agent with that certificate only -----------------
ssh-keygen -q -t ed25519 -N '' -C ca -f "$T/ca"
ssh-keygen -q -t ed25519 -N '' -C jit -f "$T/jit"
mkdir -p "$T/priv"	# the other key's private half, where ssh-keygen -Y cannot see it
ssh-keygen -q -t ed25519 -N '' -C other -f "$T/priv/other"
cp "$T/priv/other.pub" "$T/other.pub"
ssh-keygen -q -s "$T/ca" -I jit -n "$(id -un)" -V -1m:+10m "$T/jit.pub"
ok "an ssh-cert credential" bash -c "printf '{\"key\": \"%s\", \"cert\": \"%s\"}' \
    \"\$(python3 '$E2E_DIR/sshpeer.py' seed '$T/jit')\" \"\$(cat '$T/jit-cert.pub')\" |
    '$JITCTL_BIN' add ssh-prod --ttl 30m --json --kind ssh-cert"
ok "unlock it" jitctl unlock ssh-prod --pin-fd 3 3<"$T/pin"
ok "another key in the agent" env SSH_AUTH_SOCK="$JIT_AGENT_SOCK" \
    ssh-add "$T/priv/other"
ok "the agent lists both" env SSH_AUTH_SOCK="$JIT_AGENT_SOCK" ssh-add -l
has "(two)" "$T/out" 'ED25519-CERT'
has "(two)" "$T/out" 'other \(ED25519\)'
ok "exec ssh-prod -- ssh-add -l" jitctl exec ssh-prod -- ssh-add -l

has "the child's agent lists the certificate" "$T/out" 'ED25519-CERT'
ok "and nothing else" test "$(wc -l < "$T/out")" = 1
has "jitctl took only the certificate, not the key (audit: field cert)" \
    "$DATA/audit.log" '"event":"use".*"name":"ssh-prod".*"field":"cert"'
ok "never the whole credential" python3 -c "import json
uses = [l for l in map(json.loads, open('$DATA/audit.log'))
        if l.get('event') == 'use' and l.get('name') == 'ssh-prod']
assert uses and all(l.get('field') == 'cert' for l in uses), uses"
ok "SSH_AUTH_SOCK is private" jitctl exec ssh-prod -- sh -c \
    'stat -c %a "$(dirname "$SSH_AUTH_SOCK")"; echo "$SSH_AUTH_SOCK" >&2'
has "(0700)" "$T/out" '^700$'
SOCKP=$(cat "$T/err")
ok "and gone after" test -n "$SOCKP" -a ! -e "$SOCKP"
echo data > "$T/signme"
ok "ssh-keygen -Y sign with the certificate through it" jitctl exec \
    ssh-prod -- ssh-keygen -Y sign -f "$T/jit-cert.pub" -n file "$T/signme"
ok "the signature verifies against the CA" sh -c "printf '%s cert-authority %s\n' \
    \"\$(id -un)\" \"\$(cat '$T/ca.pub')\" > '$T/allowed' &&
    ssh-keygen -Y verify -f '$T/allowed' -I \"\$(id -un)\" -n file \
    -s '$T/signme.sig' < '$T/signme'"
rm -f "$T/signme.sig"
fails "signing with the agent's other key is refused" '!' jitctl exec \
    ssh-prod -- ssh-keygen -Y sign -f "$T/other.pub" -n file "$T/signme"
fails "adding a key through it is refused" '!' jitctl exec ssh-prod -- \
    ssh-add "$T/priv/other"

# --- inject ---------------------------------------------------------------
printf 'host=db\nuser={{ pg.PGUSER }}\npassword={{pg.PGPASSWORD}}\naws={{ aws.Credentials.AccessKeyId }}\n' > "$T/tpl"
ok "inject fills a template to stdout" jitctl inject -i "$T/tpl"
ok "every reference" test "$(cat "$T/out")" = "$(printf 'host=db\nuser=dbg\npassword=s3cret-pg-pass\naws=AKIAJITTEST123456')"
ok "from stdin too" bash -c "'$JITCTL_BIN' inject < '$T/tpl' | grep -qx 'user=dbg'"
printf 'a={{ pq.PGUSER }}\n' > "$T/bad1"
fails "an unknown name is refused" 4 jitctl inject -i "$T/bad1"
has "with a sentence, its line and the nearest name" "$T/err" \
    'template line 1: no credential named pq \(did you mean pg\?\)'
ok "and nothing is printed" test ! -s "$T/out"
printf 'x\n{{ pg.NOPE }}\n' > "$T/bad2"
fails "an unknown field is refused" 4 jitctl inject -i "$T/bad2"
has "naming the fields there are" "$T/err" \
    "template line 2: pg has no field 'NOPE' \\(its fields: PGUSER, PGPASSWORD\\)"
printf 'x {{ pg.PGUSER\n' > "$T/bad3"
fails "an unclosed reference is refused" 4 jitctl inject -i "$T/bad3"
has "saying so" "$T/err" "template line 1: '\\{\\{' opens no"
head -c 70000 /dev/zero | tr '\0' x > "$T/big"
fails "a template over 64 KiB is refused" 2 jitctl inject -i "$T/big"
has "saying the limit" "$T/err" 'larger than 64 KiB'
SHM=$(mktemp -d /dev/shm/jit-e2e.XXXXXX)
ok "inject -o FILE -- COMMAND: the file is there for the command" \
    jitctl inject -i "$T/tpl" -o "$SHM/app.conf" -- sh -c \
    'stat -c %a "$1"; grep "^password=" "$1"' sh "$SHM/app.conf"
has "mode 0600" "$T/out" '^600$'
has "the command's output is filtered" "$T/out" "^password=$C\$"
ok "and removed when it ends" test ! -e "$SHM/app.conf"
fails "the command's status comes back" 5 jitctl inject -i "$T/tpl" \
    -o "$SHM/app.conf" -- sh -c 'exit 5'
ok "(removed then too)" test ! -e "$SHM/app.conf"
fails "a file on disk is refused" 2 jitctl inject -i "$T/tpl" \
    -o "$T/app.conf" -- true
has "saying why" "$T/err" 'not on a memory file system'
ok "nothing written" test ! -e "$T/app.conf"
: > "$SHM/exists"
fails "an existing file is refused" 2 jitctl inject -i "$T/tpl" \
    -o "$SHM/exists" -- true
ok "and left alone" test -e "$SHM/exists" -a ! -s "$SHM/exists"
rm -rf "$SHM"

e2e_done
