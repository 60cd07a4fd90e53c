#!/usr/bin/env bash
# The agent under valgrind's memcheck for one lean end-to-end flow: enroll
# a FIDO2 key (the simulator) and a TPM (swtpm), add, unlock, get, exec,
# ssh-add and signatures through the agent (ssh-keygen -Y sign, as ssh
# signs), request an SSH certificate from an issuer, lock, and SIGTERM.
# Memcheck must report no error and no definite leak (exit status and
# summary both); a suppression is for a third-party library only, each
# with the reason (valgrind.supp).  The non-sanitized build runs it.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}" "${JIT_VALGRIND_SUPP:?}"
for p in valgrind ssh-add ssh-keygen; do
	command -v "$p" >/dev/null ||
	    { say "1..0 # SKIP no $p (contrib/deps.sh installs it)"; exit 77; }
done
VG_EXIT=99

# The agent, run through valgrind by agent_start.
REAL_AGENT=$JIT_AGENT_BIN
cat >"$T/vg-agent" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --leak-check=full \\
    --show-leak-kinds=definite --errors-for-leak-kinds=definite \\
    --error-exitcode=$VG_EXIT --child-silent-after-fork=yes \\
    --num-callers=30 --suppressions="$JIT_VALGRIND_SUPP" \\
    --log-file="$T/vg.log" "$REAL_AGENT" "\$@"
EOF
chmod 0755 "$T/vg-agent"
JIT_AGENT_BIN=$T/vg-agent

# Valgrind starts the agent slowly: up to a minute.
AGENT_START_TRIES=1200

# An SSH CA and an issuer that signs the agent's key with it.
ssh-keygen -q -t ed25519 -N '' -C test-ca -f "$T/ca"
cat >"$T/ssh-sign" <<'EOF'
#!/bin/sh
set -eu
ssh-keygen -q -s "$1" -I "uid-$JIT_REQUESTER_UID" -n jit-test -V +5m \
    "$JIT_SSH_PUBKEY" 2>/dev/null
cat "${JIT_SSH_PUBKEY%.pub}-cert.pub"
EOF
chmod 0755 "$T/ssh-sign"
cat >"$T/config" <<EOF
[profile sshc]
kind = ssh-cert
issuer = "$T/ssh-sign" "$T/ca"
EOF
chmod 0600 "$T/config"

sim_start yk1 || exit 1
swtpm_start || exit 1
if ! agent_start --touch-timeout 120 --config "$T/config"; then
	fail "the agent starts under valgrind"
	sed 's/^/#   /' "$T/vg.log" | tail -30
	e2e_done
fi
export SSH_AUTH_SOCK=$JIT_AGENT_SOCK

ok "enroll a FIDO2 key" jitctl enroll fido2 --label yk1 \
    --device "sim:$T/yk1.sock" --allow-simulated
ok "enroll a TPM, approved by the key" jitctl enroll tpm2 --label laptop \
    --device "$SWTPM_TCTI" --allow-simulated --pin-fd 3 3<"$T/pin" \
    --token yk1
ok "add a secret" bash -c "printf hunter2 | '$JITCTL_BIN' add db --ttl 30m"
ok "add env fields" bash -c \
    "printf '{\"PGUSER\":\"dbg\",\"PGPASSWORD\":\"s3cret\"}' | \
    '$JITCTL_BIN' add pg --json --ttl 15m"
ok "unlock both with the key" jitctl unlock db pg --token yk1
ok "get db" jitctl get db
ok "to its secret" test "$(cat "$T/out")" = hunter2
ok "exec with pg's fields" jitctl exec --no-masking pg -- env
has "in the child's environment" "$T/out" '^PGPASSWORD=s3cret$'
ok "lock" jitctl lock
fails "db is locked" 4 jitctl get db
ok "unlock db with the TPM's PIN" jitctl unlock db --token laptop \
    --pin-fd 3 3<"$T/pin"
ok "get db again" jitctl get db

ssh-keygen -q -t ed25519 -N '' -C vg -f "$T/id"
ok "ssh-add a key" ssh-add "$T/id"
ok "ssh-add -l lists it" ssh-add -l
printf 'a message\n' >"$T/msg"
mv "$T/id" "$T/id.away"	# the agent alone holds the private key
ok "ssh-keygen -Y sign through the agent" ssh-keygen -Y sign -f "$T/id.pub" \
    -n file "$T/msg"
printf 'me %s\n' "$(cat "$T/id.pub")" >"$T/allowed"
ok "the signature verifies" bash -c "ssh-keygen -Y verify -f '$T/allowed' \
    -I me -n file -s '$T/msg.sig' <'$T/msg'"

ok "request an SSH certificate" jitctl request sshc --reason valgrind
ok "unlock it" jitctl unlock sshc --token yk1
ok "ssh-add -L lists the certificate" ssh-add -L
has "it is there" "$T/out" 'ssh-ed25519-cert-v01@openssh.com'
jitctl get sshc --field cert >"$T/sshc-cert.pub" 2>/dev/null
rm -f "$T/msg.sig"
ok "ssh-keygen -Y sign with the certificate's key" ssh-keygen -Y sign \
    -f "$T/sshc-cert.pub" -n file "$T/msg"
ok "status" jitctl status
ok "audit verify" jitctl audit verify
ok "revoke db" jitctl revoke db
ok "ssh-add -D" ssh-add -D
ok "lock" jitctl lock

# SIGTERM: the agent wipes and exits; memcheck reports then.
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
AGENT_PID=
sed -n '/HEAP SUMMARY/,$p' "$T/vg.log" | sed 's/^==[0-9]*== /#   /'
ok "the agent exits 0 under valgrind (memcheck's exit is not 0 on an error)" \
    test "$rc" = 0
has "memcheck ran to the end" "$T/vg.log" 'ERROR SUMMARY: '
has "no errors" "$T/vg.log" 'ERROR SUMMARY: 0 errors'
hasnt "no definite leak" "$T/vg.log" 'definitely lost: [1-9]'
if [ "$rc" != 0 ] || ! grep -q 'ERROR SUMMARY: 0 errors' "$T/vg.log"; then
	say "# memcheck's log:"
	sed -n '1,/HEAP SUMMARY/p' "$T/vg.log" | sed 's/^==[0-9]*== /#   /' |
	    head -300
	say "# the agent's log:"
	tail -30 "$AGENT_LOG" | sed 's/^/#   /'
fi
e2e_done
