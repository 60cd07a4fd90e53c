#!/usr/bin/env bash
# Secrets after the fact: a canary is in the agent's memory while its
# credential is unlocked (so the scan can see it), and nowhere in the
# agent's memory or environment after add, lock, expiry and SIGUSR1 (the
# kill switch), nor in any file or log; the agent is not dumpable and
# holds locked memory while unlocked.  The scan reads /proc/PID/mem, which
# only root may do to a process that is not dumpable: the root parent that
# dropped to the test user does it (tests/lib/testuser.py scan).
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"

other_uid_ready "scanning the agent's memory" || e2e_done
CANARY=jitcanary-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
CANARY2=jitfield-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

# clean WHAT: neither canary is in the agent's memory or environment.
clean() { memory_clean "$1: the canaries" "$CANARY" "$CANARY2"; }
# status_of FIELD: the agent's /proc status line's value.
status_of() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$AGENT_PID/status"; }
# locked_within SECONDS NAME: status says NAME is no longer unlocked.
locked_within() {
	for _i in $(seq $(($1 * 10))); do
		jitctl status --json | grep -q '"state": *"unlocked"' || return 0
		sleep 0.1
	done
	return 1
}

sim_start yk1 || exit 1
agent_start || exit 1
ok "enroll yk1" jitctl enroll fido2 --label yk1 --device "sim:$T/yk1.sock" \
    --allow-simulated
ok "add the canary" bash -c "printf '%s' '$CANARY' | '$JITCTL_BIN' add c1 --ttl 1h"
ok "add a field canary" bash -c \
    "printf '{\"TOKEN\":\"%s\"}' '$CANARY2' | '$JITCTL_BIN' add c2 --json --ttl 1h"
clean "after add"

ok "unlock both" jitctl unlock c1 c2 --token yk1
python3 "$E2E_DIR/../lib/testuser.py" scan "$AGENT_PID" "$CANARY" \
    >"$T/scan" 2>&1
ok "while unlocked, the scan finds the canary (it can see)" test $? = 1
# Not dumpable: the kernel gives its /proc files to root, and its own
# user may not read its mappings.
ok "not dumpable while unlocked: /proc/PID/mem is root's" test \
    "$(stat -c %u "/proc/$AGENT_PID/mem")" = 0
fails "and its own user cannot read its mappings" '!' cat \
    "/proc/$AGENT_PID/maps"
ok "and holding locked memory (VmLck > 0)" test "$(status_of VmLck)" -gt 0
ok "get prints it" jitctl get c1
ok "exactly" test "$(cat "$T/out")" = "$CANARY"
ok "exec passes the field to its child" jitctl exec --no-masking c2 -- env
has "in the child's environment" "$T/out" "^TOKEN=$CANARY2\$"
ok "lock" jitctl lock
clean "after lock"

ok "unlock c1 for 2 seconds" jitctl unlock c1 --for 2s --token yk1
ok "it expires (within 30 s)" locked_within 30
clean "after the window expired"

ok "unlock both again" jitctl unlock c1 c2 --token yk1
ok "SIGUSR1" kill -USR1 "$AGENT_PID"
ok "locks everything (within 30 s)" locked_within 30
clean "after SIGUSR1"

# The exec's child is gone: no process of the test user (the agent, the
# simulator, jitctl, this shell) has either canary in its environment.
ok "no process has a canary in its environment" bash -c \
    "! grep -l -a -F -e '$CANARY' -e '$CANARY2' /proc/[0-9]*/environ \
    2>/dev/null | grep -q ."

agent_stop
for s in "$CANARY" "$CANARY2"; do
	ok "no canary under the data directory" bash -c \
	    "! grep -r -a -F -q -- '$s' '$DATA'"
	ok "nor in the agent's log" bash -c "! grep -a -F -q -- '$s' '$AGENT_LOG'"
	ok "nor in the simulator's state or log" bash -c \
	    "! grep -a -F -q -- '$s' '$T/yk1.state' '$T/yk1.log'"
done
e2e_done
