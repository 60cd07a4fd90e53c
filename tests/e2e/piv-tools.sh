#!/usr/bin/env bash
# jit-sim-piv is a card that tools written elsewhere accept: Yubico's
# yubico-piv-tool (libykpiv) and ykman talk to it through pcscd and vpcd as
# they would to a YubiKey.
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/../lib/pcsc.sh"
: "${JIT_SIM_PIV:?}"
PCSC_DIR="$T/pcsc"
trap 'pcsc_cleanup; e2e_cleanup' EXIT
for _tool in yubico-piv-tool ykman openssl; do
	command -v "$_tool" >/dev/null 2>&1 || {
		fail "$_tool is not installed (contrib/deps.sh installs it)"
		e2e_done
	}
done
R=$PIV_READER
MGM=010203040506070801020304050607080102030405060708
cd "$T" || exit 1

pcsc_start || exit 1
piv_sim_start card --serial 7654321 --version 5.4.3 || exit 1

ok "yubico-piv-tool -a status" yubico-piv-tool -r "$R" -a status
has "shows the version" "$T/out" 'Version:.*5\.4\.3'
has "and the serial" "$T/out" 'Serial Number:.*7654321'
has "and three PIN tries" "$T/out" 'PIN tries left:.*3'
ok "ykman piv info" ykman --reader "$R" piv info
has "says the PIN is the default" "$T/out" 'Using default PIN'
has "and the management key TDES" "$T/out" 'Management key algorithm: TDES'

fails "a wrong PIN fails" '!' yubico-piv-tool -r "$R" -a verify-pin -P 654321
has "saying how many tries are left" "$T/err" '2 tries left'
ok "yubico-piv-tool -a verify-pin" yubico-piv-tool -r "$R" -a verify-pin \
    -P 123456
has "verified" "$T/err" 'Successfully verified PIN'
ok "and the tries are back to 3" yubico-piv-tool -r "$R" -a status
has "3 tries" "$T/out" 'PIN tries left:.*3'

ok "yubico-piv-tool -a generate (P-256, 9a)" yubico-piv-tool -r "$R" \
    -a generate -s 9a -A ECCP256 -o pub9a.pem
ok "writes a P-256 public key" openssl pkey -pubin -in pub9a.pem -noout -text
has "on prime256v1" "$T/out" 'prime256v1|P-256'
ok "ykman piv keys generate (P-384, 9d)" ykman --reader "$R" piv keys \
    generate -a ECCP384 -m "$MGM" 9d pub9d.pem
ok "writes a P-384 public key" openssl pkey -pubin -in pub9d.pem -noout -text
has "on secp384r1" "$T/out" 'secp384r1|P-384'
ok "ykman piv keys generate with touch and PIN policies (9c)" ykman \
    --reader "$R" piv keys generate -a ECCP256 -m "$MGM" \
    --pin-policy ALWAYS --touch-policy ALWAYS 9c pub9c.pem
fails "a generate without the management key fails" '!' yubico-piv-tool \
    -r "$R" -a generate -s 9e -A ECCP256 -k 0102030405060708010203040506070801020304050607ff
ok "ykman piv certificates generate (9a)" ykman --reader "$R" piv \
    certificates generate -s CN=sim9a -m "$MGM" -P 123456 9a pub9a.pem
ok "ykman piv certificates generate (9d)" ykman --reader "$R" piv \
    certificates generate -s CN=sim9d -m "$MGM" -P 123456 9d pub9d.pem
ok "ykman exports 9a's certificate" ykman --reader "$R" piv certificates \
    export 9a cert9a.pem
ok "and 9d's" ykman --reader "$R" piv certificates export 9d cert9d.pem
ok "9a's certificate is signed by 9a's key" openssl verify -check_ss_sig \
    -CAfile cert9a.pem cert9a.pem

ok "yubico-piv-tool -a test-signature (9a)" yubico-piv-tool -r "$R" \
    -a verify-pin -P 123456 -a test-signature -s 9a -i cert9a.pem
grep -q 'Successful ECDSA verification' "$T/out" "$T/err" &&
    pass "Successful ECDSA verification" ||
    fail "no 'Successful ECDSA verification'"
fails "test-signature without the PIN fails" '!' yubico-piv-tool -r "$R" \
    -a test-signature -s 9a -i cert9a.pem
ok "yubico-piv-tool -a test-decipher (ECDH, 9d, P-384)" yubico-piv-tool \
    -r "$R" -a verify-pin -P 123456 -a test-decipher -s 9d -i cert9d.pem
grep -q 'Successfully performed ECDH exchange' "$T/out" "$T/err" &&
    pass "Successfully performed ECDH exchange" ||
    fail "no 'Successfully performed ECDH exchange'"

ok "yubico-piv-tool -a import-certificate (9e, chained PUT DATA)" \
    yubico-piv-tool -r "$R" -a import-certificate -s 9e -i cert9a.pem
ok "yubico-piv-tool -a read-certificate reads it back" yubico-piv-tool \
    -r "$R" -a read-certificate -s 9e -o back9e.pem
ok "the same certificate" cmp <(openssl x509 -in cert9a.pem -outform DER) \
    <(openssl x509 -in back9e.pem -outform DER)

ok "yubico-piv-tool -a attest (9a, 61xx chaining)" yubico-piv-tool -r "$R" \
    -a attest -s 9a -o att9a.pem
ok "ykman piv keys attest (9d)" ykman --reader "$R" piv keys attest 9d \
    att9d.pem
ok "the attestation CA certificate is in f9" yubico-piv-tool -r "$R" \
    -a read-certificate -s f9 -o f9.pem
ok "both attestations chain to it" openssl verify -CAfile f9.pem att9a.pem \
    att9d.pem
ok "the attested key is 9a's key" cmp <(openssl x509 -in att9a.pem -pubkey \
    -noout) <(openssl pkey -pubin -in pub9a.pem)
ok "attestation shows the serial and policies" openssl x509 -in att9a.pem \
    -noout -text
has "the serial extension" "$T/out" '1\.3\.6\.1\.4\.1\.41482\.3\.7'
has "named for the slot" "$T/out" 'Subject: CN *= *YubiKey PIV Attestation 9a'

ok "ykman piv info lists the certificates" ykman --reader "$R" piv info
has "9a" "$T/out" 'Subject DN:.*CN=sim9a'
has "9d" "$T/out" 'Subject DN:.*CN=sim9d'
ok "yubico-piv-tool -a status lists them too" yubico-piv-tool -r "$R" \
    -a status
has "9e" "$T/out" 'Slot 9e'

# PIN and PUK management, the way ykman resets a card.
ok "yubico-piv-tool -a change-pin" yubico-piv-tool -r "$R" -a change-pin \
    -P 123456 -N 24681357
ok "the new PIN verifies" yubico-piv-tool -r "$R" -a verify-pin -P 24681357
for _i in 1 2 3; do
	yubico-piv-tool -r "$R" -a verify-pin -P 11111111 >"$T/out" 2>&1
done
fails "three wrong PINs block it" '!' yubico-piv-tool -r "$R" -a verify-pin \
    -P 24681357
has "saying it is blocked" "$T/err" 'blocked'
ok "yubico-piv-tool -a unblock-pin with the PUK" yubico-piv-tool -r "$R" \
    -a unblock-pin -P 12345678 -N 13572468
ok "the new PIN verifies" yubico-piv-tool -r "$R" -a verify-pin -P 13572468

# The management key: ykman sets an AES-192 key; yubico-piv-tool 2.2.0
# speaks 3DES only, so it is set back to a 3DES key.
AES=0f0e0d0c0b0a090807060504030201000f0e0d0c0b0a0908
ok "ykman sets an AES-192 management key" ykman --reader "$R" piv access \
    change-management-key -m "$MGM" -n "$AES" -a AES192 -f
ok "ykman piv info shows it" ykman --reader "$R" piv info
has "AES192" "$T/out" 'Management key algorithm: AES192'
ok "ykman authenticates with it" ykman --reader "$R" piv keys generate \
    -a ECCP256 -m "$AES" 82 pub82.pem
ok "and sets a 3DES key again" ykman --reader "$R" piv access \
    change-management-key -m "$AES" -n "$MGM" -a TDES -f
ok "which yubico-piv-tool uses" yubico-piv-tool -r "$R" -a generate -s 83 \
    -A ECCP256 -o pub83.pem

ok "ykman piv reset" ykman --reader "$R" piv reset -f
ok "after a reset" ykman --reader "$R" piv info
has "the PIN is the default again" "$T/out" 'Using default PIN'
hasnt "and no certificate is left" "$T/out" 'Slot 9'
ok "the attestation CA survives a reset" yubico-piv-tool -r "$R" \
    -a read-certificate -s f9 -o f9-after.pem
ok "unchanged" cmp f9.pem f9-after.pem

# The state file keeps the card across a restart (pulled and put back).
ok "generate before a restart" yubico-piv-tool -r "$R" -a generate -s 9a \
    -A ECCP256 -o before.pem
piv_sim_stop card
fails "with the card pulled out, the tool fails" '!' yubico-piv-tool \
    -r "$R" -a status
piv_sim_start card || exit 1
ok "the card is back" yubico-piv-tool -r "$R" -a attest -s 9a -o after.pem
ok "with the same key in 9a" cmp <(openssl x509 -in after.pem -pubkey \
    -noout) <(openssl pkey -pubin -in before.pem)

# Yubico's PKCS#11 module (ykcs11) lists only readers named with "Yubico":
# the same card in a reader of that name.
YKCS11=/usr/lib/x86_64-linux-gnu/libykcs11.so
piv_sim_stop card
pcsc_stop
PCSC_READER_NAME="Yubico jit-sim-piv"
PIV_READER="$PCSC_READER_NAME 00 00"
pcsc_start || exit 1
piv_sim_start card || exit 1
ok "a certificate for 9a (ykcs11 shows keys that have one)" ykman \
    --reader "$PIV_READER" piv certificates generate -s CN=ssh -m "$MGM" \
    -P 123456 9a before.pem
ok "ssh-keygen -D reads the card through ykcs11" ssh-keygen -D "$YKCS11"
cp "$T/out" "$T/keys"
ssh-keygen -i -m PKCS8 -f before.pem >"$T/key9a" 2>/dev/null
ok "the key in 9a" grep -qF "$(cut -d' ' -f2 "$T/key9a")" "$T/keys" ||
    sed 's/^/#   /' "$T/keys" "$T/key9a"
e2e_done
