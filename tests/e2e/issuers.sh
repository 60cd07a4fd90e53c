#!/usr/bin/env bash
# Issuers and their tools: jitctl request against a real PostgreSQL and an
# SSH CA, issuers that fail, hang or babble, upstream revocation (by hand,
# at expiry, on lock, with retries), allowed executables, the config file,
# and the helpers git, botocore, kubectl and docker call.
. "$E2E_DIR/lib.sh" || exit 1

ISS="$T/my issuers"		# a blank in the path: argv quoting is tested
mkdir -p "$ISS"
export JIT_TEST_DIR="$T"

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PGD=
pg_stop() {
	[ -n "$PGD" ] || return 0
	"$PGBIN/pg_ctl" -D "$PGD/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$PGD"
	PGD=
}
issuers_cleanup() { pg_stop; e2e_cleanup; }
trap issuers_cleanup EXIT

# A private cluster run by the test's own (ordinary) user.
pg_start() {
	[ -x "$PGBIN/postgres" ] && command -v psql >/dev/null || return 1
	PGD=$(mktemp -d "${TMPDIR:-/tmp}/jit-pg.XXXXXX") || return 1
	chmod 0700 "$PGD"
	"$PGBIN/initdb" -D "$PGD/data" -U postgres -A trust \
	    >"$T/initdb.log" 2>&1 || return 1
	# The superuser over the socket; every other role with its password.
	printf 'local all postgres trust\nlocal all all scram-sha-256\n' \
	    > "$PGD/data/pg_hba.conf"
	"$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/log" -w -o \
	    "-k $PGD -c listen_addresses=''" start >"$T/pgctl.log" 2>&1
}
superuser() { psql -h "$PGD" -U postgres -d postgres -XAtq "$@"; }

# ---- issuers and revokes: small scripts, run as argv, never a shell line
cat > "$ISS/pg issue.sh" <<'EOF'
#!/bin/sh
# A login role valid for $JIT_TTL seconds with a fresh random password.
set -eu
sock=$1
env > "$JIT_TEST_DIR/issuer.env"
printf '%s\n' "$@" > "$JIT_TEST_DIR/issuer.argv"
role="jit_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
pw="$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"
until=$(date -u -d "@$(( $(date +%s) + JIT_TTL ))" '+%Y-%m-%d %H:%M:%S+00')
psql -h "$sock" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 >&2 <<SQL
CREATE ROLE "$role" LOGIN PASSWORD '$pw' VALID UNTIL '$until';
SQL
printf '{"PGUSER":"%s","PGPASSWORD":"%s","PGHOST":"%s","PGDATABASE":"postgres"}\n' \
    "$role" "$pw" "$sock"
EOF
cat > "$ISS/pg revoke.sh" <<'EOF'
#!/bin/sh
# Drop the role named by the public field PGUSER; nothing secret is needed.
set -eu
case "${JIT_FIELD_PGUSER:-}" in jit_*) ;; *) echo "no jit_ role" >&2; exit 2;; esac
env > "$JIT_TEST_DIR/revoke.env"
psql -h "$1" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 \
    -c "DROP ROLE IF EXISTS \"$JIT_FIELD_PGUSER\""
EOF
cat > "$ISS/fail.sh" <<'EOF'
#!/bin/sh
echo "boom: the policy engine said no" >&2
echo "second line" >&2
exit 1
EOF
cat > "$ISS/hang.sh" <<'EOF'
#!/bin/sh
echo $$ > "$JIT_TEST_DIR/hang.pid"
sleep 120 &
echo $! > "$JIT_TEST_DIR/hang-child.pid"
wait
EOF
cat > "$ISS/garbage.sh" <<'EOF'
#!/bin/sh
echo 'this is not { json'
EOF
cat > "$ISS/print.sh" <<'EOF'
#!/bin/sh
# Print the first word: a token, or JSON.
printf '%s\n' "$1"
EOF
cat > "$ISS/cat.sh" <<'EOF'
#!/bin/sh
exec cat "$1"
EOF
cat > "$T/aws-out.json" <<'EOF'
{"Credentials": {"AccessKeyId": "ASIAJITTEST0001",
  "SecretAccessKey": "wJalr/K7+secret", "SessionToken": "FwoG\"tok",
  "Expiration": "2030-01-01T00:00:00Z"}}
EOF
echo '{"username":"bob","password":"d0cker-pw","ServerURL":"registry.example.com"}' \
    > "$T/registry-out.json"
cat > "$ISS/flaky revoke.sh" <<'EOF'
#!/bin/sh
# Fails until the test allows it.
echo "$JIT_NAME $JIT_REVOKE_WHY" >> "$JIT_TEST_DIR/flaky.calls"
[ -e "$JIT_TEST_DIR/revoke-ok" ] || { echo "upstream is down" >&2; exit 7; }
EOF
cat > "$ISS/mark.sh" <<'EOF'
#!/bin/sh
echo "$JIT_NAME $JIT_REVOKE_WHY" >> "$JIT_TEST_DIR/marks"
EOF
cat > "$ISS/ssh sign.sh" <<'EOF'
#!/bin/sh
# A user certificate for the key the agent made; stdin is that key too.
set -eu
cmp -s - "$JIT_SSH_PUBKEY" || { echo "stdin is not the public key" >&2; exit 3; }
ssh-keygen -q -s "$1" -I "uid-$JIT_REQUESTER_UID" -n jit-test -V +5m \
    "$JIT_SSH_PUBKEY" 2>/dev/null
cat "${JIT_SSH_PUBKEY%.pub}-cert.pub"
EOF
cat > "$ISS/notify.sh" <<'EOF'
#!/bin/sh
# Whole or not at all: the withdraw (JIT_NOTIFY_EVENT) follows the show.
env | grep '^JIT_NOTIFY_' > "$JIT_TEST_DIR/notified.$$"
mv "$JIT_TEST_DIR/notified.$$" "$JIT_TEST_DIR/notified"
EOF
chmod 0755 "$ISS"/*.sh

JITCTL_REAL=$(readlink -f "$JITCTL_BIN")
ssh-keygen -q -t ed25519 -N '' -C test-ca -f "$T/ca"

write_config() {
	cat > "$T/config" <<EOF
; jit-agent.conf for the tests
[agent]
default_window = 10m
notify = "$ISS/notify.sh"

[profile pg]
kind = env
issuer = "$ISS/pg issue.sh" "$PGD"
revoke = '$ISS/pg revoke.sh' $PGD
revoke_fields = PGUSER
field.PGUSER = PGUSER
field.PGPASSWORD = PGPASSWORD
field.PGHOST = PGHOST
field.PGDATABASE = PGDATABASE
default_ttl = 30m
max_ttl = 1h

[profile pg-lock]
issuer = "$ISS/pg issue.sh" "$PGD"
revoke = "$ISS/pg revoke.sh" "$PGD"
revoke_fields = PGUSER
revoke_on_lock = yes

[profile bad-exit]
issuer = "$ISS/fail.sh"

[profile hang]
issuer = "$ISS/hang.sh"
timeout = 2s

[profile garbage]
issuer = "$ISS/garbage.sh"

[profile no-field]
issuer = "$ISS/print.sh" '{"user":"u"}'
field.PGPASSWORD = password

[profile flaky]
output = raw
issuer = "$ISS/print.sh" tok-flaky
revoke = "$ISS/flaky revoke.sh"

[profile only-psql]
output = raw
issuer = "$ISS/print.sh" s3cr3t-only
allowed_executables = /usr/bin/psql

[profile only-jitctl]
output = raw
issuer = "$ISS/print.sh" s3cr3t-jitctl
allowed_executables = /usr/bin/psql $JITCTL_REAL

[profile git]
kind = git
; an indented line continues the command: one more word
issuer = "$ISS/print.sh"
  '{"username":"alice","password":"pa55-git","host":"example.com"}'

[profile aws]
kind = aws
issuer = "$ISS/cat.sh" "$T/aws-out.json"
field.AccessKeyId = Credentials.AccessKeyId
field.SecretAccessKey = Credentials.SecretAccessKey
field.SessionToken = Credentials.SessionToken

[profile kube]
kind = kube
issuer = "$ISS/print.sh" '{"token":"kube-tok-123"}'

[profile registry]
kind = docker
issuer = "$ISS/cat.sh" "$T/registry-out.json"

[profile sshc]
kind = ssh-cert
issuer = "$ISS/ssh sign.sh" "$T/ca"
max_ttl = 8h

[profile sshc-always]
kind = ssh-cert
stepup = always
issuer = "$ISS/ssh sign.sh" "$T/ca"
EOF
	chmod 0600 "$T/config"
}

# ---- the configuration file
printf '[agent]\ndefault_window = 5m\n\n[profile x]\nissuer = "/bin/true\n' \
    > "$T/bad.conf"
fails "a config error stops the agent" 1 "$JIT_AGENT_BIN" -D \
    -a "$T/run/bad.sock" --data-dir "$DATA" --config "$T/bad.conf"
has "naming the file, the line and what is wrong" "$T/err" \
    "bad.conf:5: issuer: a double quote is not closed"
printf '[profile y]\nissuer = /bin/true\nfrobnicate = 1\n' > "$T/bad2.conf"
fails "an unknown key too" 1 "$JIT_AGENT_BIN" -D -a "$T/run/bad.sock" \
    --data-dir "$DATA" --config "$T/bad2.conf"
has "by name and line" "$T/err" "bad2.conf:3: unknown key 'frobnicate'"
printf '[profile z]\nissuer = sh -c true\n' > "$T/bad3.conf"
fails "a program without a path" 1 "$JIT_AGENT_BIN" -D -a "$T/run/bad.sock" \
    --data-dir "$DATA" --config "$T/bad3.conf"
has "is refused: no \$PATH, no shell" "$T/err" "must be an absolute path"
printf '[profile w]\nissuer = /bin/true\n' > "$T/open.conf"
chmod 0666 "$T/open.conf"
fails "a config others may write is refused" 1 "$JIT_AGENT_BIN" -D \
    -a "$T/run/bad.sock" --data-dir "$DATA" --config "$T/open.conf"
has "saying why" "$T/err" "writable by no one else"
fails "--config names a file that must exist" 1 "$JIT_AGENT_BIN" -D \
    -a "$T/run/bad.sock" --data-dir "$DATA" --config "$T/nonesuch"
mkdir -p "$T/xdg-empty"
XDG_CONFIG_HOME="$T/xdg-empty" agent_start || exit 1
ok "an absent default config is no error" jitctl status
fails "and has no profiles" 4 jitctl request pg --reason test
has "saying where it looked" "$T/err" "no profile named pg in .*xdg-empty/jit-agent/config"
agent_stop

HAVE_PG=0
if [ ! -x "$PGBIN/postgres" ] || ! command -v psql >/dev/null; then
	skip "PostgreSQL" "it is not installed (contrib/deps.sh installs it)"
elif pg_start; then
	HAVE_PG=1
else
	fail "a private PostgreSQL starts (its logs follow)"
	cat "$T/initdb.log" "$T/pgctl.log" "$PGD/log" 2>/dev/null | \
	    sed 's/^/#   /' | tail -30
fi
write_config
agent_start --config "$T/config" || exit 1
ok "enroll a TPM" tpm_enroll laptop

fails "a reason is required" 2 jitctl request pg
fails "a ttl over max_ttl is refused" '!' jitctl request pg --reason x --ttl 2h
has "naming the limit" "$T/err" "at most 1h00m00s"

# ---- PostgreSQL: request, unlock, exec psql, revoke, the role is gone
if [ "$HAVE_PG" = 1 ]; then
	ok "request a database role" jitctl request pg \
	    --reason "INC-4521: slow queries"
	has "says what it got" "$T/err" "got pg \(env: PGUSER, PGPASSWORD"
	ROLE=$(superuser -c "select rolname from pg_roles where rolname like 'jit_%'")
	ok "the role exists upstream" test -n "$ROLE"
	ok "with VALID UNTIL set" test -n "$(superuser -c \
	    "select rolvaliduntil from pg_roles where rolname='$ROLE'")"
	has "the reason reached the issuer in its environment" \
	    "$T/issuer.env" '^JIT_REASON=INC-4521: slow queries$'
	has "so did the ttl" "$T/issuer.env" '^JIT_TTL=1800$'
	has "the requester" "$T/issuer.env" "^JIT_REQUESTER_EXE=$JITCTL_REAL\$"
	has "and the profile" "$T/issuer.env" '^JIT_PROFILE=pg$'
	ok "its argv is the configured words only" test \
	    "$(cat "$T/issuer.argv")" = "$PGD"
	ok "status lists it, locked" jitctl status --json
	has "with its profile" "$T/out" '"profile": "pg"'
	ok "its file keeps the profile, the reason, and the role name in clear" \
	    python3 -c "import json
d = json.load(open('$DATA/creds/pg.json'))
assert d['profile'] == 'pg' and d['reason'] == 'INC-4521: slow queries', d
assert d['public'] == {'PGUSER': '$ROLE'}, d"
	has "the request is audited with its reason" "$DATA/audit.log" \
	    '"event":"request".*"name":"pg".*"reason":"INC-4521: slow queries".*"status":0'
	fails "a second request while it is valid is refused" '!' \
	    jitctl request pg --reason again
	has "saying so" "$T/err" "pg exists"

	ok "unlock it" jitctl unlock pg --pin-fd 3 3<"$T/pin"
	ok "psql runs with the credential in its environment" \
	    jitctl exec --no-masking pg -- psql -XAtc 'select current_user'
	ok "as the issued role" test "$(cat "$T/out")" = "$ROLE"
	jitctl get pg --field PGPASSWORD > "$T/oldpw"
	ok "the password works" env PGPASSWORD="$(cat "$T/oldpw")" \
	    psql -h "$PGD" -U "$ROLE" -d postgres -XAtc 'select 1'
	for f in "$DATA/creds/pg.json" "$DATA/audit.log" "$AGENT_LOG"; do
		ok "no password in $(basename "$f")" bash -c \
		    "! grep -a -F -q -- '$(cat "$T/oldpw")' '$f'"
	done
	ok "nor in the agent's environment" bash -c \
	    "! grep -a -F -q -- '$(cat "$T/oldpw")' /proc/$AGENT_PID/environ"

	ok "revoke it" jitctl revoke pg
	has "here and upstream" "$T/err" "revoked pg, here and upstream"
	has "the revoke got the role name" "$T/revoke.env" "^JIT_FIELD_PGUSER=$ROLE\$"
	hasnt "and no password" "$T/revoke.env" "$(cat "$T/oldpw")"
	ok "the role is gone" test "$(superuser -c \
	    "select count(*) from pg_roles where rolname='$ROLE'")" = 0
	fails "the old password no longer logs in" '!' env \
	    PGPASSWORD="$(cat "$T/oldpw")" psql -h "$PGD" -U "$ROLE" \
	    -d postgres -XAtc 'select 1'
	has "the upstream revoke is audited" "$DATA/audit.log" \
	    '"event":"revoke-done".*"name":"pg".*"why":"revoke"'

	# Expiry runs the revoke too.
	ok "request a 3-second role" jitctl request pg --name pg-short \
	    --reason "expiry test" --ttl 3s
	ROLE2=$(superuser -c "select rolname from pg_roles where rolname like 'jit_%'")
	ok "it exists" test -n "$ROLE2"
	for _i in $(seq 40); do
		[ "$(superuser -c "select count(*) from pg_roles where \
		    rolname='$ROLE2'")" = 0 ] && break
		sleep 0.25
	done
	ok "after its not-after the role is gone" test "$(superuser -c \
	    "select count(*) from pg_roles where rolname='$ROLE2'")" = 0
	has "revoked because it expired" "$DATA/audit.log" \
	    '"event":"revoke-done".*"name":"pg-short".*"why":"expire"'
	ok "and its file is gone" test ! -e "$DATA/creds/pg-short.json"
	ok "status says so" jitctl status
	has "upstream: done, why: expire" "$T/out" 'pg-short +pg +expire +done'

	# revoke_on_lock: the kill switch reaches upstream.
	ok "request with revoke_on_lock" jitctl request pg-lock --reason lock
	ROLE3=$(superuser -c "select rolname from pg_roles where rolname like 'jit_%'")
	ok "unlock it" jitctl unlock pg-lock --pin-fd 3 3<"$T/pin"
	ok "lock everything" jitctl lock
	has "saying it was revoked" "$T/err" "revoked pg-lock \(revoke_on_lock\)"
	for _i in $(seq 20); do
		[ "$(superuser -c "select count(*) from pg_roles where \
		    rolname='$ROLE3'")" = 0 ] && break
		sleep 0.25
	done
	ok "the role is gone after the lock" test "$(superuser -c \
	    "select count(*) from pg_roles where rolname='$ROLE3'")" = 0
fi

# ---- issuers that fail: a clear error, nothing stored
fails "an issuer that exits 1" 1 jitctl request bad-exit --reason x
has "says how it failed" "$T/err" 'exited with status 1'
has "quoting its stderr, escaped and capped" "$T/err" \
    'boom: the policy engine said no / second line'
has "and that nothing was stored" "$T/err" 'nothing was stored'
ok "nothing was" test ! -e "$DATA/creds/bad-exit.json"
has "the failure is audited with the status" "$DATA/audit.log" \
    '"event":"request".*"name":"bad-exit".*"status":1.*"result":"JIT_E_ISSUER"'
hasnt "the audit never quotes stderr" "$DATA/audit.log" 'policy engine'

fails "an issuer that hangs" 1 jitctl request hang --reason x
has "times out" "$T/err" 'did not finish within 2 s and was killed'
ok "nothing stored" test ! -e "$DATA/creds/hang.json"
sleep 0.5
# Gone, or a zombie nobody reaped yet: either way not running.
running() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat"; }
not_running() { if running "$(cat "$2")"; then fail "$1"; else pass "$1"; fi; }
not_running "the issuer was killed" "$T/hang.pid"
not_running "and what it started (its process group)" "$T/hang-child.pid"

fails "an issuer that prints garbage" 1 jitctl request garbage --reason x
has "is not JSON" "$T/err" 'not a JSON object'
ok "nothing stored" test ! -e "$DATA/creds/garbage.json"
fails "an output without a mapped field" 1 jitctl request no-field --reason x
has "names the missing path" "$T/err" 'has no "password" \(for field.PGPASSWORD\)'
ok "nothing stored" test ! -e "$DATA/creds/no-field.json"
fails "a reason with a newline" '!' jitctl request flaky \
    --reason "$(printf 'a\nb')"

# ---- a failing revoke: audited, shown, retried until it works
rm -f "$T/revoke-ok"
ok "request flaky" jitctl request flaky --reason retry
fails "its revoke fails upstream" 1 jitctl revoke flaky
has "saying so, and that it is retried" "$T/err" \
    'upstream revoke failed: exited with status 7 \(stderr: "upstream is down"\); it is tried again'
has "audited as revoke-failed" "$DATA/audit.log" \
    '"event":"revoke-failed".*"name":"flaky".*"attempt":1.*"status":7'
ok "status" jitctl status
has "shows it failed, and when it is tried again" "$T/out" \
    'flaky +flaky +revoke +failed 1 time, next try in'
ok "status --json too" jitctl status --json
has "with its state" "$T/out" '"state": "failed"'
touch "$T/revoke-ok"
for _i in $(seq 40); do
	jitctl status --json >"$T/st" 2>&1
	grep -q '"name": "flaky".*' "$T/st" && \
	    tr -d '\n' < "$T/st" | grep -q '"name": "flaky", *"profile": "flaky", *"why": "revoke", *"state": "done"' && break
	sleep 0.25
done
ok "a retry succeeds" bash -c "tr -d '\n' < '$T/st' | grep -q '\"name\": \"flaky\", *\"profile\": \"flaky\", *\"why\": \"revoke\", *\"state\": \"done\"'"
has "and is audited" "$DATA/audit.log" '"event":"revoke-done".*"name":"flaky".*"attempt":2'
ok "it ran twice" test "$(grep -c 'flaky revoke' "$T/flaky.calls")" = 2

# ---- allowed executables: enforced by the agent on the peer
ok "request only-psql" jitctl request only-psql --reason x
ok "request only-jitctl" jitctl request only-jitctl --reason x
ok "unlock both" jitctl unlock only-psql only-jitctl --pin-fd 3 3<"$T/pin"
fails "jitctl may not get a credential only psql may use" 5 \
    jitctl get only-psql
has "the sentence names the executable" "$T/err" \
    "only-psql may be used only by /usr/bin/psql .*not by $JITCTL_REAL"
has "audited as a deny" "$DATA/audit.log" \
    '"event":"deny".*"name":"only-psql".*"why":"executable not allowed"'
ok "one that lists jitctl is served" jitctl get only-jitctl
ok "the value" test "$(cat "$T/out")" = s3cr3t-jitctl

# ---- helpers, each in its tool's protocol
ok "request git, aws, kube, registry" bash -c "
    '$JITCTL_BIN' request git --reason x &&
    '$JITCTL_BIN' request aws --reason x &&
    '$JITCTL_BIN' request kube --reason x &&
    '$JITCTL_BIN' request registry --reason x"
fails "a locked credential is refused" 4 jitctl aws-credential-process aws
has "pointing at jitctl unlock" "$T/err" "jitctl unlock aws"
fails "by every helper" 4 bash -c \
    "printf 'protocol=https\nhost=example.com\n\n' | '$JITCTL_BIN' git-credential git get"
has "the same way" "$T/err" "jitctl unlock git"
ok "unlock them" jitctl unlock git aws kube registry --pin-fd 3 3<"$T/pin"

if command -v git >/dev/null; then
	ok "git credential fill calls the helper" bash -c "
	    printf 'protocol=https\nhost=example.com\n\n' |
	    GIT_TERMINAL_PROMPT=0 git -c credential.helper= \
	    -c credential.helper='!\"$JITCTL_BIN\" git-credential git' \
	    credential fill"
	has "username from the credential" "$T/out" '^username=alice$'
	has "password from the credential" "$T/out" '^password=pa55-git$'
	fails "another host is not answered" '!' bash -c "
	    printf 'protocol=https\nhost=evil.example\n\n' |
	    GIT_TERMINAL_PROMPT=0 git -c credential.helper= \
	    -c credential.helper='!\"$JITCTL_BIN\" git-credential git' \
	    credential fill"
	hasnt "so nothing leaks there" "$T/out" 'pa55-git'
	ok "store is accepted and ignored" bash -c \
	    "printf 'protocol=https\nhost=example.com\nusername=a\npassword=b\n\n' |
	    '$JITCTL_BIN' git-credential git store"
	ok "without a word (git sends store after every push)" \
	    test ! -s "$T/err" -a ! -s "$T/out"
else
	skip "git credential helper" "git is not installed (contrib/deps.sh installs it)"
fi

ok "aws-credential-process" jitctl aws-credential-process aws
cp "$T/out" "$T/aws.json"
ok "is the documented credential_process JSON" python3 - "$T/aws.json" <<'EOF'
import json, sys, datetime
d = json.load(open(sys.argv[1]))
assert d["Version"] == 1, d
assert d["AccessKeyId"] == "ASIAJITTEST0001"
assert d["SecretAccessKey"] == "wJalr/K7+secret"
assert d["SessionToken"] == 'FwoG"tok'
t = datetime.datetime.fromisoformat(d["Expiration"].replace("Z", "+00:00"))
assert t.tzinfo is not None and t > datetime.datetime.now(datetime.timezone.utc)
EOF
printf '[profile jit]\ncredential_process = %s aws-credential-process aws\n' \
    "$JITCTL_BIN" > "$T/aws-config"
if python3 -c 'import botocore' 2>/dev/null; then
	ok "botocore's credential_process provider reads it" env \
	    AWS_CONFIG_FILE="$T/aws-config" AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	    python3 -c 'import botocore.session as s
c = s.Session(profile="jit").get_credentials().get_frozen_credentials()
print(c.access_key, c.token)'
	has "the key and the session token" "$T/out" '^ASIAJITTEST0001 FwoG"tok$'
else
	skip "botocore" "python3 cannot import botocore (contrib/deps.sh installs python3-botocore)"
fi

ok "kube-credential (v1 without KUBERNETES_EXEC_INFO)" \
    jitctl kube-credential kube
cp "$T/out" "$T/kube.json"
ok "is an ExecCredential" python3 - "$T/kube.json" v1 <<'EOF'
import json, sys, datetime
d = json.load(open(sys.argv[1]))
assert d["apiVersion"] == "client.authentication.k8s.io/" + sys.argv[2], d
assert d["kind"] == "ExecCredential"
assert d["status"]["token"] == "kube-tok-123"
t = datetime.datetime.fromisoformat(
    d["status"]["expirationTimestamp"].replace("Z", "+00:00"))
assert t > datetime.datetime.now(datetime.timezone.utc)
EOF
ok "answers in the apiVersion kubectl asks for" env \
    KUBERNETES_EXEC_INFO='{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}' \
    "$JITCTL_BIN" kube-credential kube
cp "$T/out" "$T/kube1b.json"
ok "v1beta1" python3 - "$T/kube1b.json" v1beta1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["apiVersion"] == "client.authentication.k8s.io/" + sys.argv[2], d
assert d["status"]["token"] == "kube-tok-123"
EOF
if command -v kubectl >/dev/null && command -v openssl >/dev/null; then
	# An API server stand-in that records the bearer token it is sent
	# (client-go runs exec plugins for TLS servers only).
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
	    -keyout "$T/apisrv.key" -out "$T/apisrv.crt" 2>/dev/null
	cat > "$T/apisrv.py" <<'EOF'
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        open(sys.argv[1], "a").write(self.headers.get("Authorization", "-") + "\n")
        body = b'{"major":"1","minor":"32","gitVersion":"v1.32.0"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[3], sys.argv[4])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
	python3 "$T/apisrv.py" "$T/auth.log" "$T/apisrv.port" \
	    "$T/apisrv.crt" "$T/apisrv.key" &
	APISRV=$!
	for _i in $(seq 50); do [ -s "$T/apisrv.port" ] && break; sleep 0.1; done
	cat > "$T/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$(cat "$T/apisrv.port")
    certificate-authority-data: $(base64 -w0 "$T/apisrv.crt")
users:
- name: jit
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: $JITCTL_BIN
      args: [kube-credential, kube]
      interactiveMode: Never
contexts:
- name: test
  context: {cluster: test, user: jit}
current-context: test
EOF
	ok "kubectl runs the plugin" kubectl --kubeconfig "$T/kubeconfig" \
	    get --raw /version
	has "and sends its token" "$T/auth.log" '^Bearer kube-tok-123$'
	kill "$APISRV" 2>/dev/null; wait "$APISRV" 2>/dev/null
else
	say "# kubectl or openssl is not installed: kubectl running the plugin is not checked (Debian 12 has no kubectl recent enough; the ExecCredential JSON above is checked)"
fi

ok "docker-credential get" bash -c \
    "echo registry.example.com | '$JITCTL_BIN' docker-credential registry get"
cp "$T/out" "$T/docker.json"
ok "is the helper protocol's JSON" python3 - "$T/docker.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d == {"ServerURL": "registry.example.com", "Username": "bob",
             "Secret": "d0cker-pw"}, d
EOF
ok "docker-credential list" jitctl docker-credential registry list
cp "$T/out" "$T/docker-list.json"
ok "is {URL: username}" python3 -c "import json,sys
assert json.load(open('$T/docker-list.json')) == {'registry.example.com': 'bob'}"
fails "another registry is not found" 1 bash -c \
    "echo other.example.com | '$JITCTL_BIN' docker-credential registry get"
has "as docker expects" "$T/out" '^credentials not found in native keychain$'
fails "store is refused" 1 bash -c \
    "echo '{\"ServerURL\":\"x\",\"Username\":\"u\",\"Secret\":\"s\"}' |
    '$JITCTL_BIN' docker-credential registry store"
has "read-only" "$T/err" 'read-only'

# ---- ssh-cert: a key made in the agent, certified by the issuer's CA
ok "request an SSH certificate" jitctl request sshc --reason "deploy" --ttl 2h
ok "status" jitctl status --json
cp "$T/out" "$T/st.json"
ok "kind ssh-cert, fields key and cert, not-after from the certificate" \
    python3 - "$T/st.json" <<'EOF'
import json, sys, time
d = json.load(open(sys.argv[1]))
c = [c for c in d["credentials"] if c["name"] == "sshc"][0]
assert c["kind"] == "ssh-cert", c
assert c["fields"] == ["key", "cert"], c
# -V +5m, though 2h were asked for
assert c["not_after"] <= time.time() + 5 * 60 + 5, c
EOF
ok "unlock it" jitctl unlock sshc --pin-fd 3 3<"$T/pin"
jitctl get sshc --field cert > "$T/sshc-cert.pub"
ok "ssh-keygen reads the certificate" ssh-keygen -L -f "$T/sshc-cert.pub"
has "a user certificate" "$T/out" 'ssh-ed25519-cert-v01@openssh.com user certificate'
has "for the requester" "$T/out" 'Key ID: "uid-'"$(id -u)"'"'
cp "$T/out" "$T/sshc-L.txt"
ok "signed by the test CA" grep -qF \
    "Signing CA: ED25519 $(ssh-keygen -lf "$T/ca.pub" | awk '{print $2}')" \
    "$T/sshc-L.txt"
ok "the key is a 32-byte seed" python3 -c "import base64,subprocess
k = subprocess.run(['$JITCTL_BIN', 'get', 'sshc', '--field', 'key'],
    capture_output=True, check=True).stdout
assert len(base64.b64decode(k, validate=True)) == 32"
if command -v ssh-add >/dev/null; then
	ok "ssh-add -L lists the certificate" env SSH_AUTH_SOCK="$JIT_AGENT_SOCK" \
	    ssh-add -L
	cp "$T/out" "$T/ssh-add-L.txt"
	ok "it is there" grep -qF "$(cut -d' ' -f1-2 "$T/sshc-cert.pub")" \
	    "$T/ssh-add-L.txt"
else
	skip "ssh-add -L" "ssh-add is not installed (contrib/deps.sh installs openssh-client)"
fi

# ---- notify: a transparent client waits for a touch
if [ -n "${JIT_SIM_FIDO2:-}" ]; then
	sim_start yk1 || exit 1
	ok "enroll a simulated key (the TPM approves)" jitctl enroll fido2 \
	    --label yk1 --device "sim:$T/yk1.sock" --allow-simulated \
	    --auth-pin-fd 4 4<"$T/pin"
	ok "request an SSH certificate with step-up always" \
	    jitctl request sshc-always --reason notify
	ok "unlock it with the key" jitctl unlock sshc-always --token yk1
	jitctl get sshc-always --field cert >"$T/always-cert.pub" 2>/dev/null
	sim_touch yk1 delay=3500
	echo data > "$T/to-sign"
	rm -f "$T/notified"
	ok "ssh-keygen -Y sign waits for the touch" env \
	    SSH_AUTH_SOCK="$JIT_AGENT_SOCK" ssh-keygen -Y sign -n file \
	    -f "$T/always-cert.pub" "$T/to-sign"
	ok "after 2 s without a touch, notify ran" test -s "$T/notified"
	has "naming the credential" "$T/notified" '^JIT_NOTIFY_CREDENTIAL=sshc-always$'
	has "and the token" "$T/notified" '^JIT_NOTIFY_TOKEN=yk1$'
	sim_touch yk1 approve
	sim_stop yk1
else
	skip "notify while a touch is pending" "no FIDO2 simulator in this build (libfido2 is missing)"
fi

# ---- SIGHUP: a good config is taken, a bad one is refused
printf '\n[profile late]\noutput = raw\nissuer = "%s" late-tok\n' \
    "$ISS/print.sh" >> "$T/config"
cp "$T/config" "$T/config.good"
kill -HUP "$AGENT_PID"; sleep 0.3
ok "a profile added and SIGHUP" jitctl request late --reason hup
printf '\n[profile broken\n' >> "$T/config"
kill -HUP "$AGENT_PID"; sleep 0.3
has "a broken config is logged" "$AGENT_LOG" 'keeping the configuration in use'
ok "and the old one still serves" jitctl request late --name late2 --reason hup

# The profile, reason and public fields are in the authenticated header.
agent_stop
sed -i 's/"reason": *"hup"/"reason":"edited"/' "$DATA/creds/late.json"
ok "the file was edited" grep -q '"reason":"edited"' "$DATA/creds/late.json"
agent_start --config "$T/config.good" || exit 1
fails "an edited reason makes it unopenable" '!' jitctl unlock late \
    --pin-fd 3 3<"$T/pin"
has "saying the file was altered" "$T/err" "altered"
ok "the untouched one still opens" jitctl unlock late2 --pin-fd 3 3<"$T/pin"

ok "audit verify" jitctl audit verify
e2e_done
