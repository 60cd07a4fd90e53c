#!/usr/bin/env bash
# The PIV backend (libykpiv) against jit-sim-piv through pcscd and vpcd:
# enrollment, unlocks, the card shared with Yubico's tools, and every way
# an unlock can fail, with the agent working again afterwards.
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/../lib/pcsc.sh"
: "${JIT_SIM_PIV:?}"
PCSC_DIR="$T/pcsc"
trap 'pcsc_cleanup; e2e_cleanup' EXIT
R=$PIV_READER
printf '123456' >"$T/pivpin"
printf '654321' >"$T/pivbad"
export JIT_SIM_TOUCH_TIMEOUT_MS=700

pcsc_start || exit 1
piv_sim_start yk --serial 5550001 || exit 1
agent_start || exit 1

fails "a simulated PIV card needs --allow-simulated" '!' jitctl enroll piv \
    --label yk --device "$R" --pin-fd 3 3<"$T/pivpin"
has "saying so" "$T/err" 'allow-simulated'
fails "a bad slot is refused" '!' jitctl enroll piv --label yk --slot 9b \
    --device "$R" --allow-simulated --pin-fd 3 3<"$T/pivpin"
fails "--touch for another type is refused" 2 jitctl enroll tpm2 \
    --label x --touch never --pin-fd 3 3<"$T/pin"
ok "enroll the simulated card (slot 9d, touch always)" jitctl enroll piv \
    --label yk --device "$R" --allow-simulated --pin-fd 3 3<"$T/pivpin"
ok "tokens" jitctl tokens
has "marks it simulated" "$T/out" 'yk.*piv.*SIMULATED'
has "the enrollment is audited" "$DATA/audit.log" \
    '"event":"enroll".*"token":"yk"'

# What the card looks like to Yubico's tools now.
ok "ykman piv info while the agent runs" ykman --reader "$R" piv info
hasnt "the default management key is gone" "$T/out" \
    'Using default Management key'
has "the new one is stored on the card behind the PIN" "$T/out" \
    'protected by PIN'
ok "the slot's key is P-256 with touch always, PIN once" \
    python3 - "$PCSC_DIR/yk.state" <<'PY'
import json, sys
k = json.load(open(sys.argv[1]))["keys"]["9d"]
assert (k["alg"], k["pin_policy"], k["touch_policy"]) == (0x11, 2, 2), k
PY
ok "yubico-piv-tool attests 9d" yubico-piv-tool -r "$R" -a attest -s 9d \
    -o "$T/att9d.pem"

ok "add two credentials" bash -c "printf 'alpha' | '$JITCTL_BIN' add a --ttl 1h && \
    printf 'bravo' | '$JITCTL_BIN' add b --ttl 1h"
ok "unlock with the PIN and a touch" jitctl unlock a b --pin-fd 3 \
    3<"$T/pivpin"
ok "get a" jitctl get a
ok "is alpha" test "$(cat "$T/out")" = alpha
has "the unlock is audited with the token" "$DATA/audit.log" \
    '"event":"unlock".*"token":"yk"'
ok "yubico-piv-tool works right after (the card is not held)" \
    yubico-piv-tool -r "$R" -a status
has "and reads the card" "$T/out" 'Serial Number:.*5550001'
ok "the record keeps the public key and the attestation (signature and chain)" \
    python3 - "$DATA/tokens.json" "$T/att9d.pem" <<'PY'
import base64, json, ssl, sys
doc = json.load(open(sys.argv[1]))
toks = doc["tokens"] if "tokens" in doc else doc["set"]["tokens"]
be = [t for t in toks if t["label"] == "yk"][0]["backend"]
assert len(base64.b64decode(be["public_key"])) == 65
# lib/attest.h's blob: label, format piv, signature, then 2 certificates.
blob = base64.b64decode(be["attestation"])
assert blob[4:17] == b"jit-attest v1" and blob[21:24] == b"piv", blob[:32]
att = ssl.PEM_cert_to_DER_cert(open(sys.argv[2]).read())
n = int.from_bytes(blob[24:28], "big")
certs = blob[28 + n:]
assert int.from_bytes(certs[:4], "big") == 2, certs[:4]
slot = certs[8:8 + int.from_bytes(certs[4:8], "big")]
assert slot[:2] == b"\x30\x82" and att[:2] == b"\x30\x82", slot[:4]
assert (be["slot"], be["touch"], be["serial"]) == ("9d", "always", 5550001)
PY

# Failures, each a sentence, the agent unharmed.
jitctl lock >/dev/null
fails "a wrong PIN" '!' jitctl unlock a --pin-fd 3 3<"$T/pivbad"
has "says how many tries are left" "$T/err" 'wrong PIN.*2 tries left'
piv_sim_touch yk timeout
fails "no touch in time" '!' jitctl unlock a --pin-fd 3 3<"$T/pivpin"
has "says it was not touched" "$T/err" 'not touched in time'
piv_sim_touch yk approve
ok "the PIN counter was reset by the right PIN" yubico-piv-tool -r "$R" \
    -a status
has "3 tries" "$T/out" 'PIN tries left:.*3'

piv_sim_stop yk
fails "with the card absent" '!' jitctl unlock a --pin-fd 3 3<"$T/pivpin"
has "says to insert it" "$T/err" 'yk \(PIV, serial 5550001\) is not inserted'
piv_sim_start other --serial 5550002 || exit 1
fails "with another card in the reader" '!' jitctl unlock a --pin-fd 3 \
    3<"$T/pivpin"
has "names both serials" "$T/err" 'serial 5550002, not 5550001'
piv_sim_stop other
piv_sim_start yk || exit 1
ok "with the card back, the unlock works" jitctl unlock a --pin-fd 3 \
    3<"$T/pivpin"
jitctl lock >/dev/null

# Pulled out while it waits for the touch.
piv_sim_touch yk delay=4000
_waits=$(grep -c 'touch: waiting' "$PCSC_DIR/yk.log")
jitctl unlock a --pin-fd 3 3<"$T/pivpin" >"$T/mid.out" 2>&1 &
MID=$!
for _i in $(seq 100); do
	[ "$(grep -c 'touch: waiting' "$PCSC_DIR/yk.log")" -gt "$_waits" ] && break
	sleep 0.05
done
piv_sim_stop yk
wait "$MID"
MIDRC=$?
ok "removed mid-operation, the unlock fails" test "$MIDRC" -ne 0
cp "$T/mid.out" "$T/err"
has "saying it stopped answering" "$T/err" 'stopped answering'
ok "the agent is unharmed" jitctl status
piv_sim_touch yk approve
piv_sim_start yk || exit 1
ok "with the card back, the unlock works again" jitctl unlock a --pin-fd 3 \
    3<"$T/pivpin"
jitctl lock >/dev/null

for _i in 1 2; do
	jitctl unlock a --pin-fd 3 3<"$T/pivbad" >/dev/null 2>&1
done
fails "the third wrong PIN" '!' jitctl unlock a --pin-fd 3 3<"$T/pivbad"
fails "then the PIN is blocked" '!' jitctl unlock a --pin-fd 3 3<"$T/pivpin"
has "says to unblock it with the PUK" "$T/err" 'blocked.*PUK'
ok "unblock it with yubico-piv-tool" yubico-piv-tool -r "$R" \
    -a unblock-pin -P 12345678 -N 123456
ok "the unlock works again" jitctl unlock a --pin-fd 3 3<"$T/pivpin"

jitctl lock >/dev/null
pcsc_stop
fails "without pcscd" '!' jitctl unlock a --pin-fd 3 3<"$T/pivpin"
has "says no reader is available" "$T/err" 'no smart-card reader'
pcsc_start || exit 1
piv_sim_start yk || exit 1
ok "with pcscd back, the unlock works" jitctl unlock a b --pin-fd 3 \
    3<"$T/pivpin"
ok "get b" jitctl get b
ok "is bravo" test "$(cat "$T/out")" = bravo
e2e_done
