#!/usr/bin/env bash
# PIV attestation: jit-sim-piv's attestation key (f9) certified by a CA
# this test makes, as Yubico's CA certifies a YubiKey's.  Enrollment keeps
# the slot's certificate, f9's, and the slot key's signature of the
# enrollment's challenge, checked against [enroll] attestation_roots; a
# card certified by another CA is refused.  Exported recipients are checked
# offline: another CA, an edited chain, a slot certificate of another key,
# a recipient swapped, no chain.
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/../lib/pcsc.sh"
: "${JIT_SIM_PIV:?}"
PCSC_DIR="$T/pcsc"
trap 'pcsc_cleanup; e2e_cleanup' EXIT
R=$PIV_READER
printf '123456' >"$T/pivpin"

ok "a test CA" attest_ca vendor-ca "Test Vendor" "PIV Root CA"
ok "another CA" attest_ca other-ca "Someone Else" "PIV Root CA"
printf '[enroll]\nattestation_roots = %s\nrequire_attestation = yes\n' \
    "$T/vendor-ca.pem" >"$T/config"
enroll() { jitctl enroll piv --label "$1" --device "$R" --allow-simulated \
    --pin-fd 3 3<"$T/pivpin"; }

pcsc_start || exit 1
agent_start --config "$T/config" || exit 1

piv_sim_start forged --serial 5550102 --attest-ca-key "$T/other-ca.key" \
    --attest-ca-cert "$T/other-ca.pem" || exit 1
fails "a card certified by another CA is refused" '!' enroll forged
has "naming what failed" "$T/err" \
    "attestation \(piv\) is refused: its certificate chain does not lead to the attestation roots in .*vendor-ca.pem: unable to get local issuer certificate"
piv_sim_stop forged
piv_sim_start selfie --serial 5550103 || exit 1
fails "a card whose f9 certifies itself is refused" '!' enroll selfie
has "naming what failed" "$T/err" \
    'attestation \(piv\) is refused: its certificate chain does not lead to the attestation roots.*self-signed certificate'
piv_sim_stop selfie

piv_sim_start good --serial 5550101 --version 5.7.1 \
    --attest-ca-key "$T/vendor-ca.key" --attest-ca-cert "$T/vendor-ca.pem" ||
    exit 1
# Another key of the same card, attested by the same f9, for later.
ok "a key in 9a (yubico-piv-tool)" yubico-piv-tool -r "$R" -a generate \
    -s 9a -A ECCP256 -o "$T/pub9a.pem"
ok "its attestation" yubico-piv-tool -r "$R" -a attest -s 9a \
    -o "$T/att9a.pem"
ok "a card certified by the test CA enrolls" enroll good
ok "tokens --verbose" jitctl tokens --verbose
has "the format" "$T/out" 'attestation: piv'
has "the vendor (f9's issuer)" "$T/out" 'vendor: Test Vendor'
has "the model" "$T/out" 'model: YubiKey 5 \(PIV\), USB-A keychain'
has "the card's serial" "$T/out" 'serial: 5550101$'
has "the firmware" "$T/out" 'firmware: 5\.7\.1$'
has "the slot's policies" "$T/out" 'policies: PIN once, touch always$'
ok "tokens" jitctl tokens
hasnt "neither refused card was enrolled" "$T/out" 'forged|selfie'
has "refusals are audited" "$DATA/audit.log" '"event":"deny".*"token":"forged"'

ok "export the recipient" jitctl tokens --export good
cp "$T/out" "$T/good.rcpt"
has "with its attestation" "$T/good.rcpt" \
    '^jit-recipient1 piv [0-9a-f]{32} good [A-Za-z0-9_-]{43} [A-Za-z0-9_-]+$'
admin() { JIT_AGENT_SOCK="$T/none/agent.sock" "$JITCTL_BIN" "$@"; }
ok "recipient verify against the test CA" admin recipient verify \
    "$T/good.rcpt" --roots "$T/vendor-ca.pem"
has "verified" "$T/out" 'good \(piv\): verified'
has "the serial it proves" "$T/out" 'serial: 5550101$'
has "the policies it proves" "$T/out" 'policies: PIN once, touch always$'
fails "recipient verify against another CA" '!' admin recipient verify \
    "$T/good.rcpt" --roots "$T/other-ca.pem"
has "does not verify" "$T/out" 'DOES NOT VERIFY: its certificate chain does not lead'

# tamper MODE OUT [PEM]: the exported line with its PIV statement altered.
tamper() {
	python3 - "$T/good.rcpt" "$T/$2" "$1" "${3:-}" <<'PY'
import base64, ssl, sys
def b64d(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def b64e(b): return base64.urlsafe_b64encode(b).decode().rstrip("=")
def strings(b, off, k):
    out = []
    for _ in range(k):
        n = int.from_bytes(b[off:off + 4], "big")
        out.append(b[off + 4:off + 4 + n])
        off += 4 + n
    return out, off
def s(b): return len(b).to_bytes(4, "big") + b
w = open(sys.argv[1]).read().split()
blob = b64d(w[5])
(label, fmt, sig), off = strings(blob, 0, 3)
assert fmt == b"piv"
certs, end = strings(blob, off + 4, int.from_bytes(blob[off:off + 4], "big"))
assert end == len(blob) and len(certs) == 2
mode = sys.argv[3]
if mode == "swap":
    certs[0] = ssl.PEM_cert_to_DER_cert(open(sys.argv[4]).read())
elif mode == "edit":
    c = bytearray(certs[0]); c[-3] ^= 0x01; certs[0] = bytes(c)
elif mode == "nochain":
    certs = []
elif mode == "moved":
    w[4] = b64e(bytes(32 * [7]))
w[5] = b64e(s(label) + s(fmt) + s(sig) + len(certs).to_bytes(4, "big") +
    b"".join(s(c) for c in certs))
open(sys.argv[2], "w").write(" ".join(w) + "\n")
PY
}
ok "a chain with the slot certificate edited" tamper edit edited.rcpt
fails "is refused" '!' admin recipient verify "$T/edited.rcpt" \
    --roots "$T/vendor-ca.pem"
has "naming what failed" "$T/out" \
    "DOES NOT VERIFY: its slot certificate is not signed by the card's attestation key \(f9\)"
ok "9a's slot certificate in place of 9d's" tamper swap swapped.rcpt \
    "$T/att9a.pem"
fails "is refused (another key than the token's)" '!' admin recipient \
    verify "$T/swapped.rcpt" --roots "$T/vendor-ca.pem"
has "naming what failed" "$T/out" \
    'DOES NOT VERIFY: the key its slot certificate attests did not sign this recipient'
ok "the attestation moved to another recipient" tamper moved moved.rcpt
fails "is refused" '!' admin recipient verify "$T/moved.rcpt" \
    --roots "$T/vendor-ca.pem"
has "naming what failed" "$T/out" \
    'DOES NOT VERIFY: the key its slot certificate attests did not sign this recipient'
ok "a statement without its chain" tamper nochain nochain.rcpt
fails "is refused" '!' admin recipient verify "$T/nochain.rcpt" \
    --roots "$T/vendor-ca.pem"
has "naming what failed" "$T/out" 'DOES NOT VERIFY: it has no certificate chain'
cut -d' ' -f1-5 "$T/good.rcpt" >"$T/bare.rcpt"
fails "a recipient without attestation" '!' admin recipient verify \
    "$T/bare.rcpt" --roots "$T/vendor-ca.pem"
has "is named" "$T/out" 'NOT ATTESTED'
e2e_done
