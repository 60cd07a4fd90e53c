#!/usr/bin/env bash
# TPM attestation: swtpm manufactured with EK certificates from a CA this
# test makes (swtpm_setup --create-ek-cert); enrollment keeps the EK
# certificate and TPM2_Certify of the wrapping key by an attestation key,
# checked against [enroll] attestation_roots.  A TPM without an EK
# certificate, or one certified by another CA, is refused; an attested
# TPM's recipient receives a sealed file.
. "$E2E_DIR/lib.sh"

# ca DIR ORG: a root CA in DIR (signkey.pem, issuercert.pem: swtpm_localca's
# names).
ca() {
	mkdir -p "$1"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/signkey.pem" \
	    -out "$1/issuercert.pem" -days 30 -subj "/O=$2/CN=$2 EK Root CA" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign 2>>"$T/openssl.log"
}
ok "a test CA for EK certificates" ca "$T/ek-ca" "Test TPM Maker"
ok "another CA" ca "$T/other-ca" "Someone Else"
conf() { printf '[enroll]\nattestation_roots = %s\nrequire_attestation = yes\n' \
    "$1" > "$T/config"; }
enroll() { jitctl enroll tpm2 --label "$1" --device "$SWTPM_TCTI" \
    --allow-simulated --pin-fd 3 3<"$T/pin"; }

# A TPM with no EK certificate gives no attestation.
conf "$T/ek-ca/issuercert.pem"
agent_start --config "$T/config" || exit 1
swtpm_start || exit 1
fails "a TPM without an EK certificate is refused" '!' enroll bare
has "saying so" "$T/err" 'gave no attestation, and \[enroll\] require_attestation is on'
swtpm_stop
agent_stop

# The same TPM model, certified by a CA that is not among the roots.
export SWTPM_EK_CA="$T/ek-ca"
swtpm_start || exit 1
conf "$T/other-ca/issuercert.pem"
agent_start --config "$T/config" || exit 1
fails "a TPM whose EK certificate leads elsewhere is refused" '!' enroll tpm
has "naming what failed" "$T/err" \
    'attestation \(tpm2\) is refused: its certificate chain does not lead to the attestation roots'
agent_stop

conf "$T/ek-ca/issuercert.pem"
agent_start --config "$T/config" || exit 1
ok "a TPM certified by the test CA enrolls" enroll tpm
ok "tokens --verbose" jitctl tokens --verbose
has "the format" "$T/out" 'attestation: tpm2'
has "the manufacturer and model from the EK certificate" "$T/out" \
    'model: TPM manufacturer id:00001014, model swtpm'
has "the serial" "$T/out" 'serial: [0-9A-F]+'

ok "export its recipient" jitctl tokens --export tpm --pin-fd 3 3<"$T/pin"
cp "$T/out" "$T/tpm.rcpt"
has "with its attestation" "$T/tpm.rcpt" '^jit-recipient1 tpm2 [0-9a-f]{32} tpm [A-Za-z0-9_-]{43} [A-Za-z0-9_-]+$'
admin() { JIT_AGENT_SOCK="$T/none/agent.sock" "$JITCTL_BIN" "$@"; }
ok "recipient verify against the test CA" admin recipient verify \
    "$T/tpm.rcpt" --roots "$T/ek-ca/issuercert.pem"
has "verified" "$T/out" 'tpm \(tpm2\): verified'
fails "recipient verify against another CA" '!' admin recipient verify \
    "$T/tpm.rcpt" --roots "$T/other-ca/issuercert.pem"
# The statement re-encoded around another key: the certify names the old.
python3 - "$T/tpm.rcpt" "$T/moved.rcpt" <<'PY'
import sys, base64
w = open(sys.argv[1]).read().split()
w[4] = base64.urlsafe_b64encode(bytes(32 * [9])).decode().rstrip("=")
open(sys.argv[2], "w").write(" ".join(w) + "\n")
PY
fails "a TPM attestation moved to another key" '!' admin recipient verify \
    "$T/moved.rcpt" --roots "$T/ek-ca/issuercert.pem"
has "is named" "$T/out" 'TPM2_Certify was made for another recipient'

ok "seal to the TPM's recipient with no agent" bash -c "printf 'tpm-secret' | \
    JIT_AGENT_SOCK='$T/none/agent.sock' '$JITCTL_BIN' seal \
    --to '$T/tpm.rcpt' t --ttl 1h -o '$T/t.sealed'"
ok "import it with the TPM's PIN" jitctl import "$T/t.sealed" --pin-fd 3 \
    3<"$T/pin"
ok "unlock" jitctl unlock t --pin-fd 3 3<"$T/pin"
ok "get" jitctl get t
ok "the secret" test "$(cat "$T/out")" = tpm-secret
e2e_done
