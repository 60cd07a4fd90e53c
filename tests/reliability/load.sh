#!/usr/bin/env bash
# Load: JIT_REL_CLIENTS clients at once (default 200; contrib/reliability.sh:
# 1,000), each making JIT_REL_REQUESTS requests (default 20; long form 100)
# mixed among list, sign, get and status, with no failure; RLIMIT_NOFILE +
# 100 connection attempts: the listener pauses and resumes, serving
# throughout; clients sending a frame one byte a second are disconnected
# while a quick client is served (tests/reliability/load.c).
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}" "${JIT_REL_LOAD:?}"

CLIENTS=${JIT_REL_CLIENTS:-200}
REQUESTS=${JIT_REL_REQUESTS:-20}
NOFILE=64

sim_start yk1 || exit 1
agent_start || exit 1
ok "enroll yk1" jitctl enroll fido2 --label yk1 --device "sim:$T/yk1.sock" \
    --allow-simulated
ok "add a" bash -c "printf secret-a | '$JITCTL_BIN' add a --ttl 1h"
ok "unlock a" jitctl unlock a --token yk1
ssh-keygen -q -t ed25519 -N '' -C load -f "$T/id" || exit 1
ok "ssh-add a key to sign with" env SSH_AUTH_SOCK="$JIT_AGENT_SOCK" \
    ssh-add "$T/id"

ok "$CLIENTS clients x $REQUESTS mixed requests, none failing" \
    "$JIT_REL_LOAD" mixed "$JIT_AGENT_SOCK" "$CLIENTS" "$REQUESTS" a
say "# $(cat "$T/out")"
ok "the agent is up" kill -0 "$AGENT_PID"
ok "the log verifies" jitctl audit verify
agent_stop

# An agent that may open $NOFILE files.
old=$(ulimit -Sn)
ulimit -Sn "$NOFILE"
agent_start || exit 1
ulimit -Sn "$old"
ok "$((NOFILE + 100)) connection attempts on an agent limited to $NOFILE files" \
    "$JIT_REL_LOAD" flood "$JIT_AGENT_SOCK" $((NOFILE + 100))
say "# $(tr '\n' ' ' <"$T/out")"
has "the listener paused" "$AGENT_LOG" 'connections open: pausing the listener'
ok "and the agent still serves jitctl" jitctl status
agent_stop

agent_start || exit 1
ok "slow clients are disconnected, a quick one is served" \
    "$JIT_REL_LOAD" slow "$JIT_AGENT_SOCK" 20
say "# $(cat "$T/out")"
e2e_done
