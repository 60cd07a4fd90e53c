#!/usr/bin/env bash
# Backups across backends: a credential wrapped to a TPM, a FIDO2 key and a
# PIV card opens with any one of them, and unenrolling one leaves the
# others working.
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/../lib/pcsc.sh"
: "${JIT_SIM_FIDO2:?}" "${JIT_SIM_PIV:?}"
PCSC_DIR="$T/pcsc"
trap 'pcsc_cleanup; e2e_cleanup' EXIT
R=$PIV_READER
printf '123456' >"$T/pivpin"

wraps_of() { # wraps_of CRED: how many tokens its data key is wrapped to
	python3 -c 'import json,sys
print(len(json.load(open(sys.argv[1]))["wraps"]))' "$DATA/creds/$1.json"
}
opens_with() { # opens_with LABEL [PIN-FILE]: a, unlocked by LABEL alone
	jitctl lock >/dev/null
	if [ -n "${2:-}" ]; then
		ok "$1 alone opens a" jitctl unlock a --token "$1" --pin-fd 3 \
		    3<"$2"
	else
		ok "$1 alone opens a" jitctl unlock a --token "$1"
	fi
	ok "get a after $1" jitctl get a
	ok "is alpha" test "$(cat "$T/out")" = alpha
}

# The agent finds pcscd through PCSCLITE_CSOCK_NAME in its environment.
pcsc_start || exit 1
agent_start || exit 1
ok "a TPM" tpm_enroll laptop
sim_start yk || exit 1
ok "a FIDO2 key, approved by the TPM" jitctl enroll fido2 --label yk \
    --device "sim:$T/yk.sock" --allow-simulated --token laptop \
    --auth-pin-fd 3 3<"$T/pin"
piv_sim_start card --serial 5550100 || exit 1
ok "a PIV card, approved by the TPM" jitctl enroll piv --label card \
    --device "$R" --allow-simulated --pin-fd 4 4<"$T/pivpin" \
    --token laptop --auth-pin-fd 3 3<"$T/pin"
ok "add a" bash -c "printf 'alpha' | '$JITCTL_BIN' add a --ttl 1h"
ok "a is wrapped to all three" test "$(wraps_of a)" = 3

opens_with laptop "$T/pin"
opens_with yk
opens_with card "$T/pivpin"
jitctl lock >/dev/null
ok "unlock a with the card (touch always)" jitctl unlock a --token card \
    --pin-fd 3 3<"$T/pivpin"
has "asks for its touch" "$T/err" 'Touch your security key \(card\)'

ok "the PIV card approves removing the TPM" jitctl unenroll laptop \
    --token card --pin-fd 3 3<"$T/pivpin"
ok "tokens" jitctl tokens
hasnt "the TPM is gone" "$T/out" 'laptop'
ok "a is wrapped to the two left" test "$(wraps_of a)" = 2
opens_with yk
opens_with card "$T/pivpin"

ok "the FIDO2 key approves removing the PIV card" jitctl unenroll card \
    --token yk
ok "a is wrapped to the key left" test "$(wraps_of a)" = 1
opens_with yk
jitctl lock >/dev/null
fails "the card opens nothing now" '!' jitctl unlock a --token card \
    --pin-fd 3 3<"$T/pivpin"

# A card whose slot's touch policy is never: jitctl asks for no touch of it,
# and the card (told to let any touch time out) needs none.
piv_sim_stop card
piv_sim_start nt --serial 5550101 || exit 1
piv_sim_touch nt timeout
ok "a PIV card with touch never, approved by the FIDO2 key" jitctl enroll \
    piv --label nt --touch never --device "$R" --allow-simulated \
    --pin-fd 4 4<"$T/pivpin" --token yk
has "asks to touch the approving key" "$T/err" \
    'Touch your security key \(yk\) to approve enrolling nt\.'
hasnt "and not the new card" "$T/err" 'the new key nt'
ok "tokens --json" jitctl tokens --json
cp "$T/out" "$T/tokens.json"
ok "says which tokens ask for a touch" python3 -c 'import json,sys
t = {x["label"]: x["touch"] for x in json.load(open(sys.argv[1]))["tokens"]}
assert t == {"yk": True, "nt": False}, t' "$T/tokens.json"
ok "add n" bash -c "printf 'november' | '$JITCTL_BIN' add n --ttl 1h"
ok "nt opens n without a touch" jitctl unlock n --token nt --pin-fd 3 \
    3<"$T/pivpin"
hasnt "asking for none" "$T/err" 'Touch'
ok "get n" jitctl get n
ok "is november" test "$(cat "$T/out")" = november
e2e_done
