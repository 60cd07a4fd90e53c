#!/usr/bin/env bash
# Which token is asked, and a replacement key that covers what exists:
# rewrap wraps existing credentials to every enrolled token.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"

wraps_of() { # wraps_of CRED: the token ids its data key is wrapped to
	python3 -c 'import json,sys
print(" ".join(sorted(w["token"] for w in json.load(open(sys.argv[1]))["wraps"])))' \
	    "$DATA/creds/$1.json"
}
id_of() { # id_of LABEL
	python3 -c 'import json,sys
print([t["id"] for t in json.load(open(sys.argv[1]))["tokens"]
       if t["label"] == sys.argv[2]][0])' "$DATA/tokens.json" "$1"
}
ids_of() { for _l in "$@"; do id_of "$_l"; done | sort | tr '\n' ' ' | sed 's/ $//'; }

agent_start --touch-timeout 3 || exit 1
ok "enroll the laptop's TPM" tpm_enroll laptop
ok "add a" bash -c "printf 'alpha' | '$JITCTL_BIN' add a --ttl 1h"
ok "add b" bash -c "printf 'bravo' | '$JITCTL_BIN' add b --ttl 1h"

# ---- a replacement key covers what exists
sim_start yk || exit 1
ok "enroll a backup key, approved with the laptop's PIN" jitctl enroll fido2 \
    --label yk --device "sim:$T/yk.sock" --allow-simulated \
    --auth-pin-fd 3 3<"$T/pin"
has "enroll offers to rewrap what exists" "$T/err" \
    "2 credential\(s\) are not wrapped to yk yet: 'jitctl rewrap --to yk'"
fails "yk opens nothing yet" 5 jitctl unlock a --token yk
ok "rewrap with the laptop's PIN" jitctl rewrap --pin-fd 3 3<"$T/pin"
has "says what it wrapped, to whom, with which token" "$T/err" \
    'rewrapped 2 credential\(s\) to laptop, yk with laptop: a, b'
ok "a is wrapped to both" test "$(wraps_of a)" = "$(ids_of laptop yk)"
ok "b is wrapped to both" test "$(wraps_of b)" = "$(ids_of laptop yk)"
has "the rewrap is audited" "$DATA/audit.log" \
    '"event":"rewrap","names":\["a","b"\],"token":"laptop","to":\["laptop","yk"\]'
ok "yk opens a now" jitctl unlock a --token yk
ok "get a" jitctl get a
ok "is alpha" test "$(cat "$T/out")" = alpha
ok "a second rewrap has nothing to do" jitctl rewrap --pin-fd 3 3<"$T/pin"
has "and says so" "$T/err" 'wrapped to laptop, yk already'

# The laptop is lost: a replacement key, rewrapped with the backup's touch,
# then the laptop unenrolled; everything still opens.
sim_start yk2 || exit 1
ok "enroll the replacement, approved with yk's touch" jitctl enroll fido2 \
    --label yk2 --device "sim:$T/yk2.sock" --allow-simulated --token yk
ok "add c (wrapped to all three at once)" bash -c \
    "printf 'charlie' | '$JITCTL_BIN' add c --ttl 1h"
ok "rewrap just a, to yk2 only, with yk" jitctl rewrap a --to yk2 --token yk
has "asks for yk's touch" "$T/err" 'Touch your security key \(yk\)'
ok "a is wrapped to all three" test "$(wraps_of a)" = "$(ids_of laptop yk yk2)"
ok "b is not wrapped to yk2 yet" test "$(wraps_of b)" = "$(ids_of laptop yk)"
fails "rewrap to a token that is not enrolled" 4 jitctl rewrap --to nope \
    --token yk
has "names it" "$T/err" 'no token is enrolled as nope'
ok "rewrap the rest with yk" jitctl rewrap --token yk
has "b, not the others" "$T/err" 'rewrapped 1 credential\(s\) .* with yk: b$'
ok "unenroll the laptop, approved by yk" jitctl unenroll laptop --token yk
ok "unenroll yk too, approved by yk2" jitctl unenroll yk --token yk2
ok "yk2 alone opens everything" jitctl unlock a b c --token yk2
for n in a b c; do ok "get $n" jitctl get "$n"; done
ok "c is charlie" test "$(cat "$T/out")" = charlie

# An edited credential file is not rewrapped: its data key does not open
# its ciphertext under the edited header.
ok "edit b's expiry on disk" python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); d["not_after"] += 3600
json.dump(d, open(sys.argv[1], "w"))' "$DATA/creds/b.json"
agent_stop
agent_start --touch-timeout 3 || exit 1
sim_start yk3 || exit 1
ok "enroll yk3" jitctl enroll fido2 --label yk3 --device "sim:$T/yk3.sock" \
    --allow-simulated --token yk2
fails "rewrap reports the edited file" 1 jitctl rewrap --token yk2
has "naming b" "$T/err" 'b was not rewrapped: its file was altered'
ok "b got no wrap to yk3" test "$(wraps_of b)" = "$(ids_of yk2)"
ok "a did" test "$(wraps_of a)" = "$(ids_of yk2 yk3)"
sim_start yk4 || exit 1
fails "enroll --rewrap wraps what exists to the new key at once (b, edited, is named)" 1 \
    jitctl enroll fido2 --label yk4 --device "sim:$T/yk4.sock" --allow-simulated \
    --token yk2 --rewrap
has "saying so" "$T/err" 'rewrapped 2 credential\(s\) to yk4 with yk2: a, c'
ok "a is wrapped to yk4" test "$(wraps_of a)" = "$(ids_of yk2 yk3 yk4)"

# ---- which token is asked for
# A second store: a touch key enrolled first, then the laptop's TPM.
agent_stop
DATA="$T/choice"
agent_start --touch-timeout 3 || exit 1
PTY="python3 $E2E_DIR/ptyrun.py $T/pin"
sim_start k1 || exit 1
ok "enroll a touch key first" jitctl enroll fido2 --label k1 \
    --device "sim:$T/k1.sock" --allow-simulated
ok "then the laptop's TPM, approved with its touch" tpm_enroll laptop
ok "add x" bash -c "printf 'xray' | '$JITCTL_BIN' add x --ttl 1h"
ok "add s, step-up always" bash -c \
    "printf 'sierra' | '$JITCTL_BIN' add s --ttl 1h --stepup always"
ok "both present and no preference: a touch opens x" jitctl unlock x </dev/null
has "and only the touch is asked for" "$T/err" 'Touch your security key \(k1\)'
has "by k1" "$DATA/audit.log" '"event":"unlock","names":\["x"\],"token":"k1"'
jitctl lock >/dev/null
sim_stop k1
ok "with the key unplugged, unlock goes on to the TPM's PIN" $PTY \
    "$JITCTL_BIN" unlock x
has "asking for the laptop's PIN" "$T/out" 'PIN for TPM token laptop'
hasnt "not for a touch, and no error about the key" "$T/out" \
    'Touch your security key|k1|jitctl: unlock'
has "the laptop opened it" "$DATA/audit.log" \
    '"event":"unlock","names":\["x"\],"token":"laptop"'
ok "unlock s with the laptop" jitctl unlock s --pin-fd 3 3<"$T/pin"
ok "step-up always asks exactly for the laptop" $PTY "$JITCTL_BIN" get s \
    --force
has "its PIN" "$T/out" 'PIN for TPM token laptop'
hasnt "and nothing about the key" "$T/out" 'Touch your security key|k1|jitctl: get'
has "the value" "$T/out" sierra
fails "--token still forces the absent key" 5 jitctl unlock x --token k1 \
    </dev/null
has "which is named as absent" "$T/err" "no simulated token is running at .*k1.sock"

# [agent] prefer = laptop: the TPM is asked first though the key is back.
agent_stop
printf '[agent]\nprefer = laptop, k1\n' >"$T/choice.conf"
agent_start --touch-timeout 3 --config "$T/choice.conf" || exit 1
sim_start k1 || exit 1
ok "with prefer = laptop, unlock asks for the TPM's PIN" $PTY \
    "$JITCTL_BIN" unlock x
has "the laptop's PIN" "$T/out" 'PIN for TPM token laptop'
hasnt "not the key's touch" "$T/out" 'Touch your security key'
has "the laptop opened it" "$DATA/audit.log" \
    '"event":"unlock","names":\["x"\],"token":"laptop".*"window"'
ok "--token k1 still forces the key" jitctl unlock x --token k1 </dev/null
has "its touch" "$T/err" 'Touch your security key \(k1\)'

e2e_done
