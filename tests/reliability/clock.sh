#!/usr/bin/env bash
# Clocks: libfaketime moves the agent's wall clock a year forward and a
# year back while credentials are unlocked and while the agent is stopped
# (its monotonic and boot clocks untouched).  No window is ever extended,
# a credential past its not-after never opens, and an ssh-add key keeps
# its lifetime.  (A suspend, where the boot clock runs on and libuv's
# monotonic one does not, is tests/unit/test-vault.c's
# a_suspend_ends_the_window, with the vault's clocks injected.)
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"

FT=
for d in /usr/lib/x86_64-linux-gnu/faketime /usr/lib/*/faketime \
    /usr/local/lib/faketime; do
	[ -f "$d/libfaketimeMT.so.1" ] && { FT=$d/libfaketimeMT.so.1; break; }
done
if [ -z "$FT" ]; then
	say "not ok - libfaketime is needed (Debian: faketime, contrib/deps.sh installs it)"
	exit 1
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0"

# The agent's wall clock is the real one plus what $T/faketime says, read
# again at each call; its monotonic and boot clocks are the real ones.
echo "+0" >"$T/faketime"
wall() { echo "$1" >"$T/faketime"; }
ft_agent_start() {
	LD_PRELOAD=$FT FAKETIME_TIMESTAMP_FILE=$T/faketime FAKETIME_NO_CACHE=1 \
	    FAKETIME_DONT_FAKE_MONOTONIC=1 agent_start "$@"
}

# field NAME KEY: that credential's KEY in status --json ("" for null).
field() {
	jitctl status --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
creds = d["credentials"] if isinstance(d, dict) else d
for c in creds:
    if c["name"] == sys.argv[1]:
        v = c.get(sys.argv[2])
        print("" if v is None else v)' "$1" "$2"
}
# at_most NAME SECONDS: its window has no more than SECONDS left.
at_most() {
	_l=$(field "$1" time_left)
	[ -n "$_l" ] && [ "$_l" -le "$2" ]
}
# gone_within SECONDS CMD...: CMD fails within SECONDS (polled).
gone_within() {
	_s=$1; shift
	for _i in $(seq $((_s * 10))); do
		"$@" >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	return 1
}

sim_start yk1 || exit 1
ft_agent_start || exit 1
ok "enroll yk1" jitctl enroll fido2 --label yk1 --device "sim:$T/yk1.sock" \
    --allow-simulated
ok "add day (not-after in a day)" bash -c \
    "printf secret-day | '$JITCTL_BIN' add day --ttl 1d"
ok "add week" bash -c "printf secret-week | '$JITCTL_BIN' add week --ttl 7d"
NA_DAY=$(field day not_after)

# ---- while unlocked: a year back, then a year forward
ok "unlock day and week for 10 minutes" jitctl unlock day week --for 10m \
    --token yk1
ok "day's window is at most 10 minutes" at_most day 600
wall "-365d"
ok "the agent's wall clock is a year back (a new add's not-after)" bash -c \
    "printf p | '$JITCTL_BIN' add probe --ttl 1h"
ok "its not-after is 300 days or more before now" test \
    "$(field probe not_after)" -lt $(($(date +%s) - 300 * 86400))
ok "a year back, day's window is still at most 10 minutes" at_most day 600
ok "and week's" at_most week 600
ok "week opens" jitctl get week
ok "to its secret" test "$(cat "$T/out")" = secret-week
ok "unlock day again for 5 minutes" jitctl unlock day --for 5m --token yk1
ok "its window is at most 5 minutes" at_most day 300

wall "+365d"
ok "revoke probe" jitctl revoke probe
ok "add probe a year on" bash -c "printf p | '$JITCTL_BIN' add probe --ttl 1h"
ok "its not-after is 300 days or more after now" test \
    "$(field probe not_after)" -gt $(($(date +%s) + 300 * 86400))
fails "day is past its not-after: get fails" '!' jitctl get day
hasnt "and no secret is printed" "$T/out" secret-day
fails "so is week" '!' jitctl get week
hasnt "and no secret is printed" "$T/out" secret-week
ok "status shows neither open" bash -c \
    "! jitctl status --json | grep -q '\"state\": *\"unlocked\"'"
fails "unlock of day fails" '!' jitctl unlock day --token yk1
ok "its not-after is unchanged" test "$(field day not_after)" = "$NA_DAY"
wall "+0"
fails "back to now, week stayed locked" 4 jitctl get week
ok "revoke probe" jitctl revoke probe

# A short window runs out on the boot clock, whatever the wall says.
ok "unlock week for 2 seconds" jitctl unlock week --for 2s --token yk1
wall "-365d"
ok "a year back, it still closes (within 30 s)" gone_within 30 jitctl get week
wall "+0"

# ---- ssh-add lifetimes
ssh-keygen -q -t ed25519 -N '' -C rel -f "$T/id" || exit 1
export SSH_AUTH_SOCK=$JIT_AGENT_SOCK
ok "ssh-add -t 3" ssh-add -t 3 "$T/id"
wall "-365d"
ok "a year back, the key is still listed" ssh-add -l
ok "and goes when its 3 seconds are over (within 30 s)" gone_within 30 \
    ssh-add -l
wall "+0"
ok "ssh-add -t 600" ssh-add -t 600 "$T/id"
wall "+365d"
ok "a year forward, the 10-minute key is still listed" ssh-add -l
has "the key itself" "$T/out" 'rel \(ED25519\)'
wall "+0"
ok "ssh-add -D" ssh-add -D
agent_stop

# ---- while stopped: started a year later, a year earlier
wall "+365d"
ft_agent_start || exit 1
fails "started a year later, week is past its not-after: unlock fails" '!' \
    jitctl unlock week --token yk1
fails "and get fails" '!' jitctl get week
hasnt "with no secret" "$T/out" secret-week
agent_stop
wall "-365d"
ft_agent_start || exit 1
ok "started a year earlier, unlock week for 10m" jitctl unlock week --for 10m \
    --token yk1
ok "its window is at most 10 minutes" at_most week 600
ok "its not-after did not move" test "$(field day not_after)" = "$NA_DAY"
agent_stop
wall "+0"
ft_agent_start || exit 1
ok "back to now, the log verifies" jitctl audit verify
e2e_done
