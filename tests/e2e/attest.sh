#!/usr/bin/env bash
# Attestation kept at enrollment and checked against the configured roots:
# the FIDO2 simulator attests (packed) with a certificate of a CA this test
# makes; a key certified by another CA, or one that only self-attests, is
# refused with a sentence.  Exported recipients are checked offline.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"

AAGUID=6a69742d-7465-7374-2d61-747465737431
AAGUID_HEX=$(printf '%s' "$AAGUID" | tr -d -)
# ca NAME ORG: a root CA; leaf NAME CA: an attestation key and certificate
# for the simulator's model, signed by that CA.
ca() { attest_ca "$1" "$2" "FIDO Root CA"; }
leaf() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$1.key" -out "$T/$1.csr" \
	    -subj "/C=SE/O=Test Vendor/OU=Authenticator Attestation/CN=Test Key $1" \
	    2>>"$T/openssl.log"
	printf 'basicConstraints=critical,CA:FALSE\n1.3.6.1.4.1.45724.1.1.4=DER:0410%s\n' \
	    "$AAGUID_HEX" > "$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.pem" -CAkey "$T/$2.key" \
	    -set_serial 0x1234abcd -days 30 -extfile "$T/$1.ext" \
	    -out "$T/$1.pem" 2>>"$T/openssl.log"
}
ok "a test CA" ca vendor-ca "Test Vendor"
ok "another CA" ca other-ca "Someone Else"
ok "an attestation certificate from the test CA" leaf good vendor-ca
ok "one from the other CA" leaf forged other-ca

cat > "$T/config" <<CONF
[enroll]
attestation_roots = $T/vendor-ca.pem
require_attestation = yes
CONF
agent_start --config "$T/config" --touch-timeout 3 || exit 1
sim_start good --aaguid "$AAGUID_HEX" --attest-key "$T/good.key" \
    --attest-cert "$T/good.pem" || exit 1
sim_start forged --aaguid "$AAGUID_HEX" --attest-key "$T/forged.key" \
    --attest-cert "$T/forged.pem" || exit 1
sim_start selfie || exit 1

ok "a key attested by the test CA enrolls" jitctl enroll fido2 \
    --label good --device "sim:$T/good.sock" --allow-simulated
ok "tokens --verbose" jitctl tokens --verbose
has "shows the format" "$T/out" 'attestation: fido2-packed'
has "the vendor" "$T/out" 'vendor: Test Vendor'
has "the model (AAGUID)" "$T/out" "model: AAGUID $AAGUID"
has "the serial" "$T/out" 'serial: 1234ABCD'
ok "the record keeps the statement" grep -q '"attestation"' "$DATA/tokens.json"

fails "a key certified by another CA is refused" '!' jitctl enroll fido2 \
    --label forged --device "sim:$T/forged.sock" --allow-simulated
has "naming what failed" "$T/err" \
    "attestation \(fido2-packed\) is refused: its certificate chain does not lead to the attestation roots in .*vendor-ca.pem: unable to get local issuer certificate"
fails "a key that only self-attests is refused" '!' jitctl enroll fido2 \
    --label selfie --device "sim:$T/selfie.sock" --allow-simulated
has "naming what failed" "$T/err" 'fido2-self\) is refused: the token gave only self attestation'
ok "tokens" jitctl tokens
hasnt "neither was enrolled" "$T/out" 'forged|selfie'
has "refusals are audited" "$DATA/audit.log" '"event":"deny".*"token":"forged"'

# Recipients checked offline, with no agent.
ok "export the attested recipient" jitctl tokens --export good
cp "$T/out" "$T/good.rcpt"
admin() { JIT_AGENT_SOCK="$T/none/agent.sock" "$JITCTL_BIN" "$@"; }
ok "recipient verify against the test CA" admin recipient verify \
    "$T/good.rcpt" --roots "$T/vendor-ca.pem"
has "says what it proves" "$T/out" 'good \(fido2\): verified'
has "the vendor" "$T/out" 'vendor: Test Vendor'
fails "recipient verify against another CA" '!' admin recipient verify \
    "$T/good.rcpt" --roots "$T/other-ca.pem"
has "does not verify" "$T/out" 'DOES NOT VERIFY: its certificate chain does not lead'
# The attestation moved onto another key: it signs the old recipient.
python3 - "$T/good.rcpt" "$T/moved.rcpt" <<'PY'
import sys, base64
w = open(sys.argv[1]).read().split()
w[4] = base64.urlsafe_b64encode(bytes(32 * [7])).decode().rstrip("=")
open(sys.argv[2], "w").write(" ".join(w) + "\n")
PY
fails "an attestation moved to another key" '!' admin recipient verify \
    "$T/moved.rcpt" --roots "$T/vendor-ca.pem"
has "is named" "$T/out" 'signature does not verify with its certificate for this recipient'
cut -d' ' -f1-5 "$T/good.rcpt" > "$T/bare.rcpt"
fails "a recipient without attestation" '!' admin recipient verify \
    "$T/bare.rcpt" --roots "$T/vendor-ca.pem"
has "is named" "$T/out" 'NOT ATTESTED'

# require_attestation alone is a configuration error.
printf '[enroll]\nrequire_attestation = yes\n' > "$T/bad.conf"
fails "require_attestation without roots" '!' "$JIT_AGENT_BIN" -D \
    -a "$T/bad.sock" --data-dir "$T/baddata" --config "$T/bad.conf"
has "says what is missing" "$T/err" 'require_attestation needs attestation_roots'
e2e_done
