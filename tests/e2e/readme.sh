#!/usr/bin/env bash
# README.md's "Daily use", block by block as written (found by their
# <!-- daily-use: NAME --> markers), in a home of its own, each checked with
# the real tool where Debian has it: the rc line starts an agent that
# jitctl reaches; ssh resolves IdentityAgent to the agent, which lists the
# certificate; botocore runs the credential_process; kubectl (or
# kubecheck.py doing what it does) runs the exec plugin against a TLS API
# stand-in; git credential fill asks the helper; docker's lookup of its
# helper is followed by hand (no docker daemon).  Also the ssh issuer of
# jit-agent.conf(5), run without USER.
. "$E2E_DIR/lib.sh"
ROOT="$E2E_DIR/../.."
R="$T/readme"
mkdir -p "$R"

ok "README.md has every daily-use block" python3 - "$ROOT/README.md" "$R" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
want = ["install", "rc", "ssh", "aws", "kube", "git", "docker"]
found = re.findall(r"<!-- daily-use: ([a-z]+) -->\n```sh\n(.*?)```\n", text, re.S)
names = [n for n, _ in found]
assert names == want, names
for n, body in found:
    open("%s/%s.sh" % (sys.argv[2], n), "w").write(body)
PY
has "the install step is meson install" "$R/install.sh" '^sudo meson install -C build$'

# A home of its own, with jitctl and jit-agent on the PATH as installed.
H="$T/home"
mkdir -p "$H" "$T/bin" "$T/xdgrun"
chmod 0700 "$T/xdgrun"
ln -s "$JITCTL_BIN" "$T/bin/jitctl"
ln -s "$JIT_AGENT_BIN" "$T/bin/jit-agent"
export HOME="$H" PATH="$T/bin:$H/.local/bin:$PATH"
export XDG_CONFIG_HOME="$H/.config"
unset XDG_RUNTIME_DIR

# --- the rc line ----------------------------------------------------------
RC_ENV="env -u JIT_AGENT_SOCK -u SSH_AUTH_SOCK -u SSH_AGENT_PID TMPDIR=$T SHELL=/bin/bash XDG_RUNTIME_DIR=$T/xdgrun XDG_DATA_HOME=$H/.local/share"
ok "the rc line starts an agent that jitctl reaches" $RC_ENV bash -c \
    ". '$R/rc.sh' && jitctl status && echo \"PID=\$JIT_AGENT_PID\""
has "its status" "$T/out" '^jit-agent .*, pid [0-9]+'
RC_PID=$(sed -n 's/^PID=//p' "$T/out")
ok "in a second shell it reuses that agent" $RC_ENV bash -c \
    ". '$R/rc.sh' && jitctl status >/dev/null && echo \"PID=\$JIT_AGENT_PID\" && jit-agent -k"
has "(the same pid)" "$T/out" "^PID=$RC_PID\$"
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; }
for _i in $(seq 100); do gone "$RC_PID" && break; sleep 0.05; done
ok "and jit-agent -k ended it" gone "$RC_PID"

# The rest with the test's own agent (tests/e2e/lib.sh).
agent_start || exit 1
ok "enroll a TPM" tpm_enroll laptop
add_json() { printf '%s' "$3" | jitctl add "$1" --json --kind "$2" --ttl 1h; }
ssh-keygen -q -t ed25519 -N '' -C ca -f "$T/ca"
ssh-keygen -q -t ed25519 -N '' -C prod -f "$T/prod"
ssh-keygen -q -s "$T/ca" -I prod -n "$(id -un)" -V -1m:+1h "$T/prod.pub"
ok "ssh-prod" add_json ssh-prod ssh-cert "$(printf '{"key": "%s", "cert": "%s"}' \
    "$(python3 "$E2E_DIR/sshpeer.py" seed "$T/prod")" "$(cat "$T/prod-cert.pub")")"
ok "aws-prod" add_json aws-prod aws \
    '{"AccessKeyId":"AKIAREADME0000001","SecretAccessKey":"readme-secret-key","SessionToken":"readme-session"}'
ok "kube-prod" add_json kube-prod kube '{"token":"kube-readme-tok"}'
ok "git-prod" add_json git-prod git \
    '{"username":"deploy","password":"pa55-readme-git","host":"git.example.com"}'
ok "registry-prod" add_json registry-prod docker \
    '{"username":"robot","password":"pa55-readme-reg","ServerURL":"registry.example.com"}'
ok "jitctl unlock --all, as in the morning" jitctl unlock --all \
    --pin-fd 3 3<"$T/pin"

# --- ssh ------------------------------------------------------------------
ok "the ssh block" bash -e "$R/ssh.sh"
# ssh reads the config of the user's passwd home: -F names the test's.
ssh() { command ssh -F "$HOME/.ssh/config" "$@"; }
ok "ssh resolves IdentityAgent for a prod host" ssh -G web1.prod.example.com
has "to the agent's socket" "$T/out" "^identityagent $JIT_AGENT_SOCK\$"
ok "not for other hosts" ssh -G example.org
hasnt "(none there)" "$T/out" "^identityagent $JIT_AGENT_SOCK\$"
ok "what ssh would ask lists the certificate" env \
    SSH_AUTH_SOCK="$(ssh -G web1.prod.example.com | sed -n 's/^identityagent //p')" \
    ssh-add -l
has "ssh-prod's" "$T/out" 'ssh-prod \(ED25519-CERT\)'

# --- aws ------------------------------------------------------------------
ok "the aws block" bash -e "$R/aws.sh"
ok "botocore runs the credential_process of profile prod" \
    /usr/bin/python3 -c 'import botocore.session
c = botocore.session.Session(profile="prod").get_credentials()
assert c.method == "custom-process", c.method
f = c.get_frozen_credentials()
assert f.access_key == "AKIAREADME0000001" and f.secret_key == "readme-secret-key" and f.token == "readme-session", f
assert c._expiry_time is not None
print("ok")'
if command -v aws >/dev/null && [ "$(head -c 2 "$(command -v aws)")" = '#!' ] && \
    aws --version >/dev/null 2>&1; then
	ok "aws configure export-credentials --profile prod" \
	    aws configure export-credentials --profile prod
	has "the key" "$T/out" 'AKIAREADME0000001'
else
	say "# the aws CLI is not installed for this user: botocore (which it is built on) stands for it above"
fi

# --- kubectl --------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 \
    -keyout "$T/apisrv.key" -out "$T/apisrv.crt" 2>/dev/null
/usr/bin/python3 "$E2E_DIR/apisrv.py" "$T/auth.log" "$T/apisrv.port" \
    "$T/apisrv.crt" "$T/apisrv.key" &
APISRV=$!
for _i in $(seq 100); do [ -s "$T/apisrv.port" ] && break; sleep 0.05; done
ok "the kube block" bash -e "$R/kube.sh"
# Your cluster's: the stand-in's address and certificate.
sed -i -e "s|https://k8s.prod.example.com:6443|https://127.0.0.1:$(cat "$T/apisrv.port")|" \
    -e "s|CA_DATA|$(base64 -w0 "$T/apisrv.crt")|" "$H/.kube/config"
ok "the exec plugin answers what kubectl asks (kubecheck.py)" \
    "$E2E_DIR/kubecheck.py"
has "the server saw the credential's token" "$T/auth.log" \
    '^Bearer kube-readme-tok$'
if command -v kubectl >/dev/null; then
	ok "kubectl get --raw /version" kubectl get --raw /version
	has "answered" "$T/out" 'v1.32.0'
else
	say "# kubectl is not installed (Debian 12 has none recent enough): kubecheck.py stands for it"
fi
kill "$APISRV" 2>/dev/null; wait "$APISRV" 2>/dev/null

# --- git ------------------------------------------------------------------
ok "the git block" bash -e "$R/git.sh"
ok "git credential fill for git.example.com" bash -c \
    "printf 'protocol=https\nhost=git.example.com\n\n' | GIT_TERMINAL_PROMPT=0 git credential fill"
has "the username" "$T/out" '^username=deploy$'
has "the password" "$T/out" '^password=pa55-readme-git$'
ok "git credential approve (after a push) says nothing" bash -c \
    "printf 'protocol=https\nhost=git.example.com\nusername=deploy\npassword=x\n\n' | git credential approve"
ok "(nothing)" test ! -s "$T/err"

# --- docker ---------------------------------------------------------------
ok "the docker block" bash -e "$R/docker.sh"
ok "the helper docker would run for registry.example.com answers" bash -c \
    "h=\$(python3 -c 'import json,os; print(json.load(open(os.path.expanduser(\"~/.docker/config.json\")))[\"credHelpers\"][\"registry.example.com\"])') &&
    echo registry.example.com | docker-credential-\$h get"
cp "$T/out" "$T/docker.json"
ok "with the registry's credentials" python3 -c "import json
d = json.load(open('$T/docker.json'))
assert d == {'ServerURL': 'registry.example.com', 'Username': 'robot', 'Secret': 'pa55-readme-reg'}, d"

# --- jit-agent.conf(5)'s ssh issuer, without USER --------------------------
ok "the issuer of jit-agent.conf(5)" python3 - \
    "$ROOT/docs/jit-agent.conf.5.scd" "$T/ssh-sign" <<'PY'
import sys
text = open(sys.argv[1]).read()
block = text.split("where _ssh-sign_ might be:\n\n```\n", 1)[1].split("```", 1)[0]
open(sys.argv[2], "w").write(block.replace("\\\\", "\\"))
PY
sed -i "s|/etc/ssh/user-ca|$T/ca|" "$T/ssh-sign"
ssh-keygen -q -t ed25519 -N '' -C req -f "$T/req"
ok "signs with USER unset" env -u USER -u LOGNAME \
    JIT_REQUESTER_UID="$(id -u)" JIT_SSH_PUBKEY="$T/req.pub" sh "$T/ssh-sign"
ok "for the requester's login name" bash -c \
    "ssh-keygen -L -f '$T/req-cert.pub' | grep -A1 'Principals:' | grep -qx \"[[:space:]]*$(id -un)\""

e2e_done
