#!/usr/bin/env bash
# SIGKILL at random points of the agent's writes: each iteration starts the
# agent under tests/lib/faultinject.c, which kills it at the nth file
# operation under the data directory (before an open, write, fsync, rename,
# unlink or truncate, or halfway through a write), while jitctl adds,
# unlocks, gets, revokes, enrolls and unenrolls.  After each kill: every
# file is whole JSON (the old or the new version), the agent starts again,
# no temporary file is left, every acknowledged add and revoke and the last
# acknowledged enroll or unenroll hold, and `audit verify` passes (a torn
# final line reported as such).
#
# JIT_REL_CRASH_ITER iterations (default 8; contrib/reliability.sh runs
# 200 or more), JIT_REL_SEED for the random choices.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}" "${JIT_FAULTINJECT:?}"

ITER=${JIT_REL_CRASH_ITER:-8}
SEED=${JIT_REL_SEED:-$$}
RANDOM=$SEED
say "# $ITER iterations, seed $SEED (JIT_REL_SEED=$SEED repeats them)"
# The shim is not the first library under ASan: let it be.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0"

# fi_agent_start NTH MODE: the agent killed at the NTH operation (0: never)
# under the data directory; each operation is logged in $T/fi.log.
fi_agent_start() {
	: >"$T/fi.log"
	LD_PRELOAD=$JIT_FAULTINJECT JIT_FI_PATH=$DATA/ JIT_FI_NTH=$1 \
	    JIT_FI_FAIL=$2 JIT_FI_LOG=$T/fi.log agent_start
}

# alive PID: running, not a zombie waiting to be reaped.
alive() {
	_st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) &&
	    [ -n "$_st" ] && [ "$_st" != Z ]
}

# Every JSON file of the store parses; no torn or mixed version.
store_whole() {
	python3 - "$DATA" <<'PY'
import json, os, sys
bad = []
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f.endswith(".json"):
            p = os.path.join(root, f)
            try:
                json.load(open(p))
            except ValueError as e:
                bad.append("%s: %s" % (p, e))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}

# has_cred NAME: status --json lists it.
status_names() {
	jitctl status --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
creds = d["credentials"] if isinstance(d, dict) else d
print("\n".join(c["name"] for c in creds))'
}
token_labels() {
	python3 -c 'import json,sys
print("\n".join(t["label"] for t in json.load(open(sys.argv[1]))["tokens"]))' \
	    "$DATA/tokens.json"
}

sim_start yk1 || exit 1
sim_start yk2 || exit 1
agent_start || exit 1
ok "enroll yk1" jitctl enroll fido2 --label yk1 --device "sim:$T/yk1.sock" \
    --allow-simulated
for n in a0 a1 a2; do
	ok "add $n" bash -c "printf 'secret-$n' | '$JITCTL_BIN' add $n --ttl 1h"
done
agent_stop

: >"$T/acked"	# lines "add NAME", "revoke NAME"
YK2=no		# yk2 enrolled, as last acknowledged
YK2_KNOWN=yes	# no unacknowledged enroll or unenroll since

# One round of everything that writes; stops at the first failure (the
# agent was killed).  Appends what was acknowledged to $T/acked.
workload() {
	_i=$1
	STEP=unlock
	jitctl unlock a0 --token yk1 >/dev/null 2>"$T/wl.err" || return 1
	STEP=add
	printf 'secret-c%s' "$_i" | "$JITCTL_BIN" add "c$_i" --ttl 1h \
	    >/dev/null 2>"$T/wl.err" || return 1
	echo "add c$_i" >>"$T/acked"
	STEP=get
	jitctl unlock "c$_i" --token yk1 >/dev/null 2>"$T/wl.err" || return 1
	[ "$(jitctl get "c$_i" 2>/dev/null)" = "secret-c$_i" ] || return 1
	# The previous iteration's credential goes.
	_prev=$(awk '$1 == "add" && $2 ~ /^c/ { n = $2 } END { print n }' \
	    "$T/acked.before")
	if [ -n "$_prev" ] && ! grep -qx "revoke $_prev" "$T/acked.before"; then
		STEP=revoke
		# Unacknowledged, a revoke may or may not have happened.
		echo "$_prev" >"$T/revoking"
		jitctl revoke "$_prev" >/dev/null 2>"$T/wl.err" || return 1
		echo "revoke $_prev" >>"$T/acked"
		rm -f "$T/revoking"
	fi
	YK2_KNOWN=no
	STEP=enroll
	if token_labels | grep -qx yk2; then
		jitctl unenroll yk2 --token yk1 >/dev/null 2>"$T/wl.err" || return 1
		YK2=no
	else
		jitctl enroll fido2 --label yk2 --device "sim:$T/yk2.sock" \
		    --allow-simulated --token yk1 >/dev/null 2>"$T/wl.err" || return 1
		YK2=yes
	fi
	YK2_KNOWN=yes
	STEP=lock
	jitctl lock >/dev/null 2>"$T/wl.err" || return 1
	STEP=done
	return 0
}

# The number of operations of a whole round, counted without a kill.
cp "$T/acked" "$T/acked.before"
fi_agent_start 0 KILL || exit 1
ok "a round with no kill" workload 0
agent_stop
TOTAL=$(wc -l <"$T/fi.log")
say "# a round makes $TOTAL file operations under the data directory:"
awk '{ sub(/.*\/data\//, "", $3); sub(/\.tmp\..*/, ".tmp", $3); print "#   " $2, $3 }' \
    "$T/fi.log" | uniq -c | sed 's/^ */#   /'
ok "a round has operations to kill at" test "$TOTAL" -gt 10

killed=0 torn_made=0 torn_seen=0 iter_fail=0
for i in $(seq 1 "$ITER"); do
	cp "$T/acked" "$T/acked.before"
	nth=$((RANDOM % (TOTAL + 2) + 1))
	mode=KILL
	[ $((RANDOM % 4)) = 0 ] && mode=TORN
	# A kill while it starts is one more point.
	fi_agent_start "$nth" "$mode" >/dev/null
	workload "$i"
	if alive "$AGENT_PID"; then
		kill -KILL "$AGENT_PID"
		op="after the round, which stopped at $STEP: $(head -c 200 "$T/wl.err")"
	else
		killed=$((killed + 1))
		op=$(sed -n "${nth}p" "$T/fi.log" | cut -d' ' -f2-)
	fi
	wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
	what="iteration $i ($mode at $nth: $op)"
	f0=$E2E_FAIL
	ok "$what: every file is whole JSON" store_whole
	# Before the next start: the log verifies, a torn last line told.
	if ! jitctl --data-dir "$DATA" audit verify >"$T/out" 2>"$T/err"; then
		fail "$what: audit verify before the restart"
	elif [ "$mode" = TORN ] && case $op in "write "*/audit.log) true ;;
	    *) false ;; esac; then
		torn_made=$((torn_made + 1))
		if grep -q "stopped while writing line [0-9]* (a crash, or a full disk): it is not a record" "$T/err"; then
			torn_seen=$((torn_seen + 1))
		else
			fail "$what: the torn last line is not reported: $(cat "$T/err")"
		fi
	fi
	if ! agent_start; then
		fail "$what: the agent starts again"
		break
	fi
	stale=$(find "$DATA" -name '*.tmp.*' | head -3)
	[ -z "$stale" ] || fail "$what: temporary files left after the start: $stale"
	status_names >"$T/names"
	revoking=$(cat "$T/revoking" 2>/dev/null)
	rm -f "$T/revoking"
	while read -r verb name; do
		case $verb in
		add)
			grep -qx "revoke $name" "$T/acked" && continue
			[ "$name" = "$revoking" ] && continue
			grep -qx "$name" "$T/names" ||
			    fail "$what: acknowledged add of $name lost"
			;;
		revoke)
			grep -qx "$name" "$T/names" &&
			    fail "$what: acknowledged revoke of $name undone"
			;;
		esac
	done <"$T/acked"
	# A revoke that was cut off but happened counts from now on.
	if [ -n "$revoking" ] && ! grep -qx "$revoking" "$T/names"; then
		echo "revoke $revoking" >>"$T/acked"
	fi
	if [ "$YK2_KNOWN" = yes ]; then
		if token_labels | grep -qx yk2; then now=yes; else now=no; fi
		[ "$now" = "$YK2" ] ||
		    fail "$what: yk2 enrolled is $now, acknowledged $YK2"
	fi
	if grep -qx "add c$i" "$T/acked" && ! grep -qx "revoke c$i" "$T/acked"; then
		jitctl unlock "c$i" --token yk1 >/dev/null 2>&1 &&
		    [ "$(jitctl get "c$i" 2>/dev/null)" = "secret-c$i" ] ||
		    fail "$what: c$i does not open to its secret"
		jitctl lock >/dev/null 2>&1
	fi
	jitctl audit verify >"$T/out" 2>"$T/err" ||
	    fail "$what: audit verify after the restart: $(cat "$T/err")"
	agent_stop
	[ "$E2E_FAIL" = "$f0" ] || iter_fail=$((iter_fail + 1))
done
say "# $ITER iterations: $killed killed inside a round, $torn_made audit lines torn, $torn_seen reported so, $iter_fail failed"
ok "every iteration held" test "$iter_fail" = 0
ok "most iterations killed the agent inside a round" \
    test $((killed * 2)) -ge "$ITER"
e2e_done
