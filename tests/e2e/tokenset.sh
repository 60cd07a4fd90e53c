#!/usr/bin/env bash
# The set of enrolled tokens is the user's: a same-uid process cannot enroll
# a token of its own without a token already enrolled approving it, and a
# token record planted or edited on disk never receives a wrap.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"

wraps_of() { # wraps_of CRED: the token ids its data key is wrapped to
	python3 -c 'import json,sys
print(" ".join(w["token"] for w in json.load(open(sys.argv[1]))["wraps"]))' \
	    "$DATA/creds/$1.json"
}
id_of() { # id_of LABEL
	python3 -c 'import json,sys
print([t["id"] for t in json.load(open(sys.argv[1]))["tokens"]
       if t["label"] == sys.argv[2]][0])' "$DATA/tokens.json" "$1"
}

agent_start || exit 1

# One agent per store: a second one on the same data directory would fork
# the audit chain and see other credentials.
printf 'inflight' >"$DATA/creds/x.json.tmp.ABCDEFGH"
fails "a second agent on the same store refuses to start" 1 \
    "$JIT_AGENT_BIN" -D -a "$T/second.sock" --data-dir "$DATA"
has "naming the running one" "$T/err" \
    "another jit-agent uses the data directory .*pid $AGENT_PID, socket $JIT_AGENT_SOCK"
ok "and leaves the running one's files alone" test -e \
    "$DATA/creds/x.json.tmp.ABCDEFGH"
rm -f "$DATA/creds/x.json.tmp.ABCDEFGH"

# A software TPM is a simulator: it needs --allow-simulated like sim:.
swtpm_start || exit 1
fails "a software TPM is refused without --allow-simulated" 2 jitctl enroll \
    tpm2 --label laptop --device "$SWTPM_TCTI" --pin-fd 3 3<"$T/pin"
has "saying it is simulated" "$T/err" 'allow-simulated'
ok "the first token needs no approval" tpm_enroll laptop
ok "tokens" jitctl tokens
has "marks the software TPM SIMULATED" "$T/out" 'laptop.*tpm2.*SIMULATED'
ok "add with the set the agent just made" bash -c \
    "printf 'alpha' | '$JITCTL_BIN' add a --ttl 1h"

# Attack 1: a process of the user enrolls its own token.  Without the
# laptop's PIN nothing is enrolled, and nothing is wrapped to it.
sim_start evil || exit 1
fails "enrolling another token without approval fails" '!' jitctl enroll \
    fido2 --label evil --device "sim:$T/evil.sock" --allow-simulated \
    </dev/null
printf 'not-the-pin' >"$T/guess"
fails "enrolling with a wrong PIN for the enrolled token fails" 5 jitctl \
    enroll fido2 --label evil --device "sim:$T/evil.sock" --allow-simulated \
    --auth-pin-fd 3 3<"$T/guess"
ok "tokens" jitctl tokens
hasnt "the intruder is not enrolled" "$T/out" evil
has "the refusal is audited" "$DATA/audit.log" \
    '"event":"deny".*"token":"evil"'
ok "add b" bash -c "printf 'bravo' | '$JITCTL_BIN' add b --ttl 1h"
ok "b is wrapped to the laptop alone" test "$(wraps_of b)" = "$(id_of laptop)"

# After a restart nothing is wrapped until a token vouches for the set: the
# first unlock does it, or add asks for it.
agent_stop
agent_start || exit 1
fails "add before any token vouched asks for it (no terminal here)" 5 \
    bash -c "printf 'x' | '$JITCTL_BIN' add early --ttl 1h"
ok "nothing was added" test ! -e "$DATA/creds/early.json"
ok "add with the laptop's PIN verifies the set, then adds" bash -c \
    "printf 'x' | '$JITCTL_BIN' add early --ttl 1h --pin-fd 3 3<'$T/pin'"
has "saying which token vouched" "$T/err" 'verify with laptop'
has "the verification is audited" "$DATA/audit.log" \
    '"event":"verify","token":"laptop"'
agent_stop
agent_start || exit 1
ok "after another restart, an unlock vouches for the set" jitctl unlock a \
    --pin-fd 3 3<"$T/pin"
ok "so add needs no PIN" bash -c \
    "printf 'x' | '$JITCTL_BIN' add later --ttl 1h"

# With the enrolled token's approval, a backup is enrolled and audited so.
sim_start yk || exit 1
ok "a backup key, approved with the laptop's PIN" jitctl enroll fido2 \
    --label yk --device "sim:$T/yk.sock" --allow-simulated \
    --auth-pin-fd 3 3<"$T/pin"
has "jitctl says who approved" "$T/err" 'approved with laptop'
has "the enrollment names its approver" "$DATA/audit.log" \
    '"event":"enroll".*"token":"yk".*"approved_by":"laptop"'

# Attack 2: a token record planted in tokens.json (taken from another
# store, label and device edited) is named and never receives a wrap.
agent_stop
mkdir -p "$T/other"
JIT_AGENT_SOCK="$T/other.sock" "$JIT_AGENT_BIN" -D -a "$T/other.sock" \
    --data-dir "$T/other" >/dev/null 2>>"$AGENT_LOG" &
OTHER=$!
for _i in $(seq 100); do [ -S "$T/other.sock" ] && break; sleep 0.05; done
ok "another store enrolls the intruder's key" env JIT_AGENT_SOCK="$T/other.sock" \
    "$JITCTL_BIN" enroll fido2 --label evil --device "sim:$T/evil.sock" \
    --allow-simulated
kill "$OTHER"; wait "$OTHER" 2>/dev/null
cp "$DATA/tokens.json" "$T/tokens.good"
ok "plant it in this store's tokens.json" python3 -c 'import json,sys
mine = json.load(open(sys.argv[1]))
evil = json.load(open(sys.argv[2]))["tokens"][0]
evil["label"] = "yk-backup"; evil["simulated"] = False
mine["tokens"].append(evil)
json.dump(mine, open(sys.argv[1], "w"))' "$DATA/tokens.json" \
    "$T/other/tokens.json"
agent_start || exit 1
ok "tokens" jitctl tokens
has "the set is not verified yet" "$T/out" 'not verified since the agent started'
fails "add asks a token to vouch; the laptop names the planted one" 1 bash -c \
    "printf 'charlie' | '$JITCTL_BIN' add c --ttl 1h --pin-fd 3 3<'$T/pin'"
has "naming it" "$T/err" 'yk-backup \(fido2, sim:.*evil.sock\) (holds no key|was added or edited)'
ok "nothing was added" test ! -e "$DATA/creds/c.json"
ok "tokens" jitctl tokens
has "tokens says the set does not verify" "$T/out" \
    'DO NOT VERIFY.*yk-backup'
has "the altered set is audited" "$DATA/audit.log" \
    '"event":"deny".*"why":"token set altered"'
fails "the planted key opens nothing" '!' jitctl unlock a --token yk-backup
ok "the laptop still opens a" jitctl unlock a --token laptop \
    --pin-fd 3 3<"$T/pin"
fails "an enrollment is refused while the set does not verify" 1 jitctl \
    enroll fido2 --label yk2 --device "sim:$T/evil.sock" --allow-simulated \
    --token laptop --auth-pin-fd 3 3<"$T/pin"
ok "the laptop approves removing the planted token" jitctl unenroll yk-backup \
    --token laptop --pin-fd 3 3<"$T/pin"
ok "add c now" bash -c "printf 'charlie' | '$JITCTL_BIN' add c --ttl 1h"
ok "c is wrapped to laptop and yk only" test \
    "$(wraps_of c | tr ' ' '\n' | sort | tr '\n' ' ')" = \
    "$(printf '%s\n' "$(id_of laptop)" "$(id_of yk)" | sort | tr '\n' ' ')"

# An edited record (a token's device, its label) is named too.
agent_stop
ok "edit the backup key's device" python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))
for t in s["tokens"]:
    if t["label"] == "yk": t["device"] = "sim:/elsewhere.sock"
json.dump(s, open(sys.argv[1], "w"))' "$DATA/tokens.json"
agent_start || exit 1
fails "tokens --verify with the laptop fails" 1 jitctl tokens --verify --token laptop \
    --pin-fd 3 3<"$T/pin"
has "naming the edited token" "$T/err" 'token yk \(fido2, sim:/elsewhere.sock\) was added or edited'

# A deleted set with credentials left: no first enrollment for anyone.
agent_stop
rm -f "$DATA/tokens.json"
agent_start || exit 1
fails "a first enrollment over stored credentials is refused" 5 jitctl \
    enroll fido2 --label evil --device "sim:$T/evil.sock" --allow-simulated
has "saying the set was deleted" "$T/err" 'tokens.json was deleted'

# An unreadable set: nothing enrolls, nothing is wrapped, a sentence.
agent_stop
printf '{"version": 1, "tokens": [' >"$DATA/tokens.json"
agent_start || exit 1
fails "enroll over an unreadable set" 1 jitctl enroll fido2 --label evil \
    --device "sim:$T/evil.sock" --allow-simulated
has "says tokens.json cannot be read" "$T/err" 'tokens.json cannot be read'
cp "$T/tokens.good" "$DATA/tokens.json"

e2e_done
