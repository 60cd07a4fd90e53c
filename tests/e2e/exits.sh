#!/usr/bin/env bash
# The exit status of every verb against the table in docs/jitctl.1.scd
# (EXIT STATUS): one row per verb and outcome.
. "$E2E_DIR/lib.sh"

agent_start || exit 1
ok "enroll a TPM" tpm_enroll laptop
add_json() { printf '%s' "$2" | "$JITCTL_BIN" add "$1" --json --ttl 30m "${@:3}"; }
ok "add zeta" add_json zeta '{"A":"1"}'
ok "add mid" add_json mid '{"A":"3"}'
ok "add short (expires in 1s)" bash -c \
    "printf x | '$JITCTL_BIN' add short --ttl 1s"
for _i in $(seq 100); do
	jitctl status --json 2>/dev/null | grep -q '"state": *"expired"' && break
	sleep 0.1
done

# --- exit status: one row per verb and outcome ----------------------------
# CODE|WHAT|COMMAND (run by bash -c, with $J for jitctl).  The wrong PINs
# come last: the TPM locks out after a few.
export J=$JITCTL_BIN
NOSOCK="env JIT_AGENT_SOCK=$T/run/none.sock"
cat > "$T/exits" <<EOF
0|status|\$J status
0|tokens|\$J tokens
0|lock|\$J lock
0|audit|\$J audit
0|audit verify|\$J audit verify
0|get|\$J unlock zeta --pin-fd 3 3<$T/pin && \$J get zeta
0|exec|\$J exec zeta -- true
0|inject|echo '{{ zeta.A }}' | \$J inject
0|add|printf x | \$J add e-add --ttl 1h
0|revoke|\$J revoke e-add
0|enroll|\$J enroll tpm2 --label second --device $SWTPM_TCTI --allow-simulated --pin-fd 3 --auth-pin-fd 4 3<$T/pin 4<$T/pin
0|unenroll|\$J unenroll second --token laptop --pin-fd 3 3<$T/pin
0|aws-credential-process|printf '{"AccessKeyId":"k","SecretAccessKey":"s"}' | \$J add e-aws --json --kind aws --ttl 1h && \$J unlock e-aws --pin-fd 3 3<$T/pin && \$J aws-credential-process e-aws
0|git-credential|\$J git-credential zeta store </dev/null
2|a usage error, for every verb|for v in enroll tokens unenroll add request unlock get exec inject status lock revoke audit aws-credential-process kube-credential git-credential docker-credential; do \$J \$v --no-such-option; [ \$? = 2 ] || { echo "\$v"; exit 1; }; done; exit 2
2|an unknown verb|\$J frobnicate
2|a PIN on the command line|\$J unlock zeta --pin 1234
2|get to a terminal|script -qec "\$J get zeta; echo rc=\\\$?" /dev/null | grep -q rc=2 && exit 2
2|get --format of another kind|\$J get zeta --format nope
2|a simulated token without --allow-simulated|\$J enroll tpm2 --label x --device $SWTPM_TCTI --pin-fd 3 --auth-pin-fd 4 3<$T/pin 4<$T/pin
3|no agent, for every verb that needs one|for v in "tokens" "status" "lock" "unlock zeta" "get zeta" "exec zeta -- true" "revoke zeta" "aws-credential-process zeta" "kube-credential zeta" "docker-credential zeta list" "request p --reason r"; do $NOSOCK \$J \$v </dev/null; [ \$? = 3 ] || { echo "\$v"; exit 1; }; done; exit 3
3|no agent: add|printf x | $NOSOCK \$J add e --ttl 1h
3|no agent: inject|echo x | $NOSOCK \$J inject
3|no agent: enroll|$NOSOCK \$J enroll tpm2 --label x --device $SWTPM_TCTI --allow-simulated --pin-fd 3 3<$T/pin
3|no agent: unenroll|$NOSOCK \$J unenroll laptop --pin-fd 3 3<$T/pin
4|get of a locked credential|\$J lock && \$J get zeta
4|exec of a locked credential|\$J exec zeta -- true
4|aws-credential-process of a locked one|\$J aws-credential-process zeta
4|kube-credential of a locked one|\$J kube-credential zeta
4|git-credential get of a locked one|printf 'protocol=https\nhost=x\n\n' | \$J git-credential zeta get
4|get of an expired one|\$J get short
4|unlock of an unknown name|\$J unlock nosuch --pin-fd 3 3<$T/pin
4|revoke of an unknown name|\$J revoke nosuch
4|inject of an unknown name|echo '{{ nosuch.A }}' | \$J inject
1|unenroll of the only token credentials open with (not 5)|\$J unenroll laptop --pin-fd 3 3<$T/pin
1|exec of two credentials setting one variable|\$J unlock zeta mid --pin-fd 3 3<$T/pin && \$J exec zeta mid -- true
6|audit verify of an edited log|cp $DATA/audit.log $T/saved.log && sed -i '3s/"seq":3/"seq":33/' $DATA/audit.log; \$J audit verify; r=\$?; cp $T/saved.log $DATA/audit.log; exit \$r
5|unlock with a wrong PIN|\$J unlock zeta --pin-fd 3 3<$T/badpin
5|tokens --verify with a wrong PIN|\$J tokens --verify --pin-fd 3 3<$T/badpin
5|enroll approved with a wrong PIN|\$J enroll tpm2 --label third --device $SWTPM_TCTI --allow-simulated --pin-fd 3 --auth-pin-fd 4 3<$T/pin 4<$T/badpin
5|unenroll approved with a wrong PIN|\$J unenroll laptop --pin-fd 3 3<$T/badpin
EOF
while IFS='|' read -r -u 9 code what cmd; do
	[ -n "$code" ] || continue
	fails "exit $code: $what" "$code" bash -c "$cmd"
done 9< "$T/exits"
ok "the man page's table has each of these codes" bash -c \
    "for c in 0 1 2 3 4 5 6; do grep -Eq \"^\\|  \$c\$\" '$E2E_DIR/../../docs/jitctl.1.scd' || exit 1; done"

e2e_done
