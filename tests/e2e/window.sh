#!/usr/bin/env bash
# What the credential helpers hand out ends with the unlock window: the
# expiry each tool is told is the earlier of the window's end and the
# credential's own, and after 'jitctl lock' or the window's end the tool's
# next refresh fails.
. "$E2E_DIR/lib.sh"

agent_start || exit 1
ok "enroll a TPM" tpm_enroll laptop
ok "add an aws credential valid for 2h" bash -c "printf '%s' \
    '{\"AccessKeyId\":\"ASIAWINDOW\",\"SecretAccessKey\":\"sk-window\",\"SessionToken\":\"tok-window\"}' |
    '$JITCTL_BIN' add aws --json --kind aws --ttl 2h"
ok "a kube credential" bash -c \
    "printf '{\"token\":\"kube-window\"}' | '$JITCTL_BIN' add kube --json --kind kube --ttl 2h"
ok "a git credential" bash -c \
    "printf '{\"username\":\"al\",\"password\":\"git-window\"}' | '$JITCTL_BIN' add git --json --kind git --ttl 2h"
ok "a docker credential" bash -c \
    "printf '{\"username\":\"al\",\"password\":\"dock-window\"}' | '$JITCTL_BIN' add reg --json --kind docker --ttl 2h"
ok "unlock them for 10 minutes" jitctl unlock aws kube git reg --for 10m \
    --pin-fd 3 3<"$T/pin"

# Each expiry is within the window (10 minutes), not the 2 hours of the
# credential.
soon() { # soon FILE: the JSON or git answer expires in 11 minutes at most
	python3 - "$1" <<'EOF'
import datetime, json, sys, time
s = open(sys.argv[1]).read()
if s.startswith("{"):
    d = json.loads(s)
    v = d.get("Expiration") or d["status"]["expirationTimestamp"]
    t = datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
else:
    t = int([l.split("=", 1)[1] for l in s.splitlines()
             if l.startswith("password_expiry_utc=")][0])
assert time.time() < t <= time.time() + 11 * 60, (t, time.time())
EOF
}
ok "aws-credential-process" jitctl aws-credential-process aws
cp "$T/out" "$T/aws.json"
ok "its Expiration is the window's end" soon "$T/aws.json"
ok "kube-credential" jitctl kube-credential kube
cp "$T/out" "$T/kube.json"
ok "its expirationTimestamp is the window's end" soon "$T/kube.json"
ok "git-credential get" bash -c \
    "printf 'protocol=https\nhost=example.com\n\n' | '$JITCTL_BIN' git-credential git get"
cp "$T/out" "$T/git.txt"
ok "its password_expiry_utc is the window's end" soon "$T/git.txt"
ok "docker-credential get" bash -c \
    "echo registry.example.com | '$JITCTL_BIN' docker-credential reg get"

# A long-running boto3 process: botocore refreshes a credential_process
# credential that expires within 10 minutes before every use, so after
# 'jitctl lock' its next use fails instead of going on with the old keys.
printf '[profile jit]\ncredential_process = %s aws-credential-process aws\n' \
    "$JITCTL_BIN" > "$T/aws-config"
ok "unlock aws for 5 minutes" jitctl unlock aws --for 5m --pin-fd 3 3<"$T/pin"
if python3 -c 'import botocore' 2>/dev/null; then
	ok "boto3's credentials end with jitctl lock" env \
	    AWS_CONFIG_FILE="$T/aws-config" AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	    python3 - "$JITCTL_BIN" <<'EOF'
import subprocess, sys
import botocore.session
creds = botocore.session.Session(profile="jit").get_credentials()
assert creds.get_frozen_credentials().access_key == "ASIAWINDOW"
subprocess.run([sys.argv[1], "lock"], check=True)
try:
    creds.get_frozen_credentials()
except Exception as e:
    print("refresh refused:", e)
    sys.exit(0)
sys.exit("botocore went on with the credentials after jitctl lock")
EOF
	has "the refresh ran the helper and it was refused" "$T/out" \
	    'refresh refused'
else
	fail "python3 cannot import botocore (contrib/deps.sh installs python3-botocore)"
fi

fails "after lock, aws's next refresh fails" 4 jitctl aws-credential-process aws
has "saying how to unlock" "$T/err" "jitctl unlock aws"
fails "so does kubectl's" 4 jitctl kube-credential kube
fails "git's" 4 bash -c \
    "printf 'protocol=https\nhost=example.com\n\n' | '$JITCTL_BIN' git-credential git get"
fails "and docker's" '!' bash -c \
    "echo registry.example.com | '$JITCTL_BIN' docker-credential reg get"

# The window's end does the same as lock.
ok "unlock kube for 2 seconds" jitctl unlock kube --for 2s --pin-fd 3 3<"$T/pin"
ok "kube-credential inside the window" jitctl kube-credential kube
for _i in $(seq 200); do
	jitctl status --json >"$T/st" 2>/dev/null
	python3 -c 'import json,sys
c = [c for c in json.load(open(sys.argv[1]))["credentials"] if c["name"] == "kube"][0]
sys.exit(0 if c["state"] != "unlocked" else 1)' "$T/st" && break
	sleep 0.1
done
fails "after the window's end, kubectl's next refresh fails" 4 \
    jitctl kube-credential kube

e2e_done
