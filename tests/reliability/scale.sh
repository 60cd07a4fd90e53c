#!/usr/bin/env bash
# Scale: JIT_REL_SCALE credentials on disk (default 2,000; contrib/
# reliability.sh: 100,000), sealed by the store's own code
# (tests/reliability/gencreds.c) to an enrolled FIDO2 key.  The agent
# starts with all of them; status pages through every one, none twice,
# none missing; unlocking JIT_REL_SCALE_UNLOCK of them (default all, at
# most 10,000) with one touch opens each; lock wipes them all; unlocked
# again they open from the token's key cache; up to 1,000 rewrapped to a
# second key open with it; a restart keeps them all.  Times are printed ("# scale ..."), never asserted.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}" "${JIT_REL_GENCREDS:?}"

N=${JIT_REL_SCALE:-2000}
U=${JIT_REL_SCALE_UNLOCK:-$N}
[ "$U" -le 10000 ] || U=10000
[ "$U" -le "$N" ] || U=$N

# agent_start waits 5 s for the agent; reading 100,000 files on a loaded
# machine can take longer.  Wait up to 5 minutes (a bound on a hang, not a
# measure: the time is printed).
big_agent_start() {
	"$JIT_AGENT_BIN" -D -a "$JIT_AGENT_SOCK" --data-dir "$DATA" \
	    >"$T/agent.env" 2>>"$AGENT_LOG" &
	AGENT_PID=$!
	for _i in $(seq 3000); do
		grep -q "^echo Agent pid" "$T/agent.env" 2>/dev/null && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	say "# the agent did not start:"; tail -5 "$AGENT_LOG" | sed 's/^/#   /'
	return 1
}

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# status --json's names and states, one a line (jitctl gathers the pages
# and sorts them by name: a page sent twice shows as a name twice, a page
# skipped as names missing), then the total the agent gave.
names_of() {
	/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["credentials"]:
    print(c["name"], c["state"])
print("total", d.get("total"))
' "$1"
}

sim_start yk1 || exit 1
agent_start || exit 1
ok "enroll yk1" jitctl enroll fido2 --label yk1 --device "sim:$T/yk1.sock" \
    --allow-simulated
agent_stop
ok "seal $N credentials" "$JIT_REL_GENCREDS" "$DATA" "$N" scale
say "# scale: $(cat "$T/out")"

t0=$(date +%s%N)
big_agent_start || exit 1
say "# scale: agent ready with $N credentials in $(ms_since "$t0") ms"
t0=$(date +%s%N)
ok "status with $N credentials" jitctl status --json
say "# scale: status of $N credentials (every page) in $(ms_since "$t0") ms"
cp "$T/out" "$T/status.json"
names_of "$T/status.json" >"$T/names" 2>"$T/err"
# Every credential once: scale-000000 .. scale-(N-1), locked.
seq -f 'scale-%06g locked' 0 $((N - 1)) >"$T/want"
echo "total $N" >>"$T/want"
if cmp -s "$T/want" "$T/names"; then
	pass "status pages through all $N credentials, none twice, none missing"
else
	fail "status pages through all $N credentials: $(diff "$T/want" "$T/names" | head -5 | tr '\n' ' ')"
fi
ok "the agent's log has no skipped file" \
    bash -c "! grep -q skipping '$AGENT_LOG'"

# Unlock U of them by name (the first U), one touch.
seq -f 'scale-%06g' 0 $((U - 1)) >"$T/unlock-names"
t0=$(date +%s%N)
ok "unlock $U credentials with one touch" \
    xargs -s 1048576 -a "$T/unlock-names" "$JITCTL_BIN" unlock --token yk1
say "# scale: unlock of $U credentials in $(ms_since "$t0") ms (jitctl's status, the touch and the unwraps)"
# EVENT is in the audit log naming the first U, each once, 128 at most a
# line (one line would be over the audit's size limit).
audited() {
	/usr/bin/python3 -c '
import json, sys
names = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == sys.argv[2] and e.get("names"):
        assert len(e["names"]) <= 128, len(e["names"])
        names += e["names"]
assert sorted(names) == ["scale-%06d" % i for i in range(int(sys.argv[3]))]
' "$DATA/audit.log" "$1" "$U"
}
ok "the unlock is audited, every name, in lines under the limit" \
    audited unlock
ok "status after the unlock" jitctl status --json
names_of "$T/out" >"$T/names"
{
	seq -f 'scale-%06g unlocked' 0 $((U - 1))
	[ "$U" -lt "$N" ] && seq -f 'scale-%06g locked' "$U" $((N - 1))
	echo "total $N"
} >"$T/want"
if cmp -s "$T/want" "$T/names"; then
	pass "the $U unlocked are unlocked, the others locked"
else
	fail "the $U unlocked are unlocked: $(diff "$T/want" "$T/names" | head -5 | tr '\n' ' ')"
fi
# Each one opens to its own value: about 20 spread over them, and the last.
bad=0
for i in $(seq 0 $((U / 20 > 0 ? U / 20 : 1)) $((U - 1))) $((U - 1)); do
	v=$(jitctl get "$(printf 'scale-%06d' "$i")" 2>>"$T/get.err")
	[ "$v" = "value-$i" ] || { bad=$((bad + 1)); say "# scale-$i: '$v'"; }
done
[ "$bad" = 0 ] && pass "unlocked credentials hold their own values" ||
    fail "$bad unlocked credentials do not hold their values"

t0=$(date +%s%N)
ok "lock" jitctl lock
say "# scale: lock of $U unlocked credentials in $(ms_since "$t0") ms"
ok "the lock is audited, every name, in lines under the limit" \
    audited lock
ok "status after the lock" jitctl status --json
names_of "$T/out" >"$T/names"
if grep -q ' unlocked$' "$T/names"; then
	fail "lock wipes every credential ($(grep -c ' unlocked$' "$T/names") still unlocked)"
else
	pass "lock wipes every credential"
fi
/usr/bin/python3 -c '
import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))["agent"]["unlocked"] == 0 else 1)
' "$T/out" && pass "the vault is empty" || fail "the vault is empty"
fails "a locked credential is not served" '!' jitctl get scale-000000

# Again: yk1's key cache holds their data keys now (the first unlock
# unwrapped each, as its log line says).
ok "the first unlock unwrapped each" grep -q \
    "yk1 opened $U credentials\\?: 0 data keys\\? from its key cache, $U unwrapped" \
    "$AGENT_LOG"
t0=$(date +%s%N)
ok "unlock the $U again" \
    xargs -s 1048576 -a "$T/unlock-names" "$JITCTL_BIN" unlock --token yk1
say "# scale: unlock of $U credentials again in $(ms_since "$t0") ms (from the token's key cache)"
ok "from the key cache, none unwrapped" grep -q \
    "yk1 opened $U credentials\\?: $U data keys\\? from its key cache, 0 unwrapped" \
    "$AGENT_LOG"
ok "unlocked credentials hold their own values" \
    test "$(jitctl get scale-000000)" = value-0
ok "lock" jitctl lock

# A second key, and the first R wrapped to it with one touch of yk1 (the
# unwraps and new wraps are shared among the cores, as an unlock's are):
# yk2 alone then opens each to its own value.
R=$((U < 1000 ? U : 1000))
sim_start yk2 || exit 1
ok "enroll yk2" jitctl enroll fido2 --label yk2 --device "sim:$T/yk2.sock" \
    --allow-simulated
seq -f 'scale-%06g' 0 $((R - 1)) >"$T/rewrap-names"
t0=$(date +%s%N)
ok "rewrap $R credentials to yk2 with one touch of yk1" \
    xargs -s 1048576 -a "$T/rewrap-names" "$JITCTL_BIN" rewrap --to yk2 \
    --token yk1
say "# scale: rewrap of $R credentials in $(ms_since "$t0") ms"
ok "unlock $R credentials with yk2" \
    xargs -s 1048576 -a "$T/rewrap-names" "$JITCTL_BIN" unlock --token yk2
bad=0
for i in 0 $((R / 3)) $((R / 2)) $((R - 1)); do
	v=$(jitctl get "$(printf 'scale-%06d' "$i")" 2>>"$T/get.err")
	[ "$v" = "value-$i" ] || { bad=$((bad + 1)); say "# scale-$i: '$v'"; }
done
[ "$bad" = 0 ] && pass "credentials rewrapped to yk2 open to their own values with it" ||
    fail "$bad credentials rewrapped to yk2 do not open to their values"
ok "lock" jitctl lock

agent_stop
t0=$(date +%s%N)
big_agent_start || exit 1
say "# scale: agent ready again in $(ms_since "$t0") ms"
ok "status after a restart" jitctl status --json
names_of "$T/out" | grep -c '^scale-' >"$T/count"
[ "$(cat "$T/count")" = "$N" ] && pass "a restart keeps all $N credentials" ||
    fail "a restart keeps all $N credentials ($(cat "$T/count"))"
ok "the log verifies" jitctl audit verify
e2e_done
