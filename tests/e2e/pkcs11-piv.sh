#!/usr/bin/env bash
# ssh-add -s with Yubico's PKCS#11 module (ykcs11) against the simulated
# PIV card (jit-sim-piv in a pcscd+vpcd reader named with "Yubico", which
# ykcs11 insists on): a key generated in 9a with yubico-piv-tool is loaded
# through OpenSSH's ssh-pkcs11-helper, listed, and signs.
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/../lib/pcsc.sh"
: "${JIT_SIM_PIV:?}"
PCSC_DIR="$T/pcsc"
trap 'pcsc_cleanup; e2e_cleanup' EXIT
YKCS11=/usr/lib/x86_64-linux-gnu/libykcs11.so
for f in "$YKCS11" /usr/bin/yubico-piv-tool /usr/bin/ykman \
    /usr/lib/openssh/ssh-pkcs11-helper; do
	[ -e "$f" ] || {
		fail "$f is missing (contrib/deps.sh installs ykcs11, yubico-piv-tool, yubikey-manager and openssh-client)"
		e2e_done
	}
done
MGM=010203040506070801020304050607080102030405060708
PCSC_READER_NAME="Yubico jit-sim-piv"
PIV_READER="$PCSC_READER_NAME 00 00"
cd "$T" || exit 1
pcsc_start || exit 1
piv_sim_start card || exit 1

ok "yubico-piv-tool generates a P-256 key in 9a" yubico-piv-tool \
    -r "$PIV_READER" -a generate -s 9a -A ECCP256 -o pub9a.pem
# ykcs11 shows the keys that have a certificate.
ok "with a certificate (ykman)" ykman --reader "$PIV_READER" piv \
    certificates generate -s CN=ssh -m "$MGM" -P 123456 9a pub9a.pem
ssh-keygen -i -m PKCS8 -f pub9a.pem > key9a.pub
printf '123456\n' > piv-pin

# The agent reaches pcscd through PCSCLITE_CSOCK_NAME in its environment,
# which the helper inherits.
export SSH_AUTH_SOCK="$JIT_AGENT_SOCK"
ok "the agent starts" agent_start
ok "ssh-add -s libykcs11.so loads the card's key" sh -c \
    "setsid -w ssh-add -s '$YKCS11' < piv-pin"
ok "ssh-add -L lists the key in 9a" sh -c \
    "ssh-add -L | grep -qF '$(cut -d' ' -f2 key9a.pub)'"
has "its load is audited" "$AGENT_LOG" '"event":"add".*"why":"ssh-add -s \(PKCS#11\)"'
echo "signed by the card" > message
ok "ssh-keygen -Y sign signs with it through the agent" ssh-keygen -Y sign \
    -f key9a.pub -n file message
printf 'card %s\n' "$(cat key9a.pub)" > signers
ok "the signature verifies" sh -c \
    "ssh-keygen -Y verify -f signers -I card -n file -s message.sig < message"
has "the signature is audited" "$AGENT_LOG" '"event":"use".*PKCS#11'
ok "ssh-add -e removes it" ssh-add -e "$YKCS11"
fails "the agent holds no key then" 1 ssh-add -l
agent_stop
e2e_done
