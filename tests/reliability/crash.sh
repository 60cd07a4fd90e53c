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
# Then kills aimed at each step that must survive one (add, revoke, enroll,
# unenroll), a torn audit append, a torn temporary file and the write of a
# token's key cache, so that a short run covers them too.
#
# JIT_REL_CRASH_ITER random rounds (default 6; contrib/reliability.sh runs
# 200 or more) and one aimed kill per step per 40 of them (at least one),
# JIT_REL_SEED for the random choices.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}" "${JIT_FAULTINJECT:?}"

ITER=${JIT_REL_CRASH_ITER:-6}
SEED=${JIT_REL_SEED:-$$}
RANDOM=$SEED
say "# $ITER iterations, seed $SEED (JIT_REL_SEED=$SEED repeats them)"
# The shim is not the first library under ASan: let it be.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0"

# fi_agent_start NTH MODE [PATH [OPS]]: the agent killed at the NTH
# operation (0: never) under PATH (default the data directory), counting
# only OPS ("write,rename"; default all) and, while $T/arm names a step
# (fi_step), only that step's; each counted operation is logged in $T/fi.log.
fi_agent_start() {
	: >"$T/fi.log"
	LD_PRELOAD=$JIT_FAULTINJECT JIT_FI_PATH=${3:-$DATA/} JIT_FI_NTH=$1 \
	    JIT_FI_FAIL=$2 JIT_FI_OPS=${4:-} JIT_FI_ARM=${ARM_STEP:+$T/arm} \
	    JIT_FI_LOG=$T/fi.log agent_start
}

# fi_step NAME: the workload enters step NAME.  Operations count only
# inside $ARM_STEP when it is set; $T/steps gets "NAME FIRST-OPERATION".
fi_step() {
	STEP=$1
	if [ "${ARM_STEP:-}" = "$1" ]; then touch "$T/arm"; else rm -f "$T/arm"; fi
	echo "$1 $(($(wc -l <"$T/fi.log") + 1))" >>"$T/steps"
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

# yk2_toggle: enroll yk2 when it is not enrolled, unenroll it when it is.
yk2_toggle() {
	YK2_KNOWN=no
	if token_labels | grep -qx yk2; then
		fi_step unenroll
		jitctl unenroll yk2 --token yk1 >/dev/null 2>"$T/wl.err" || return 1
		YK2=no
	else
		fi_step enroll
		jitctl enroll fido2 --label yk2 --device "sim:$T/yk2.sock" \
		    --allow-simulated --token yk1 >/dev/null 2>"$T/wl.err" || return 1
		YK2=yes
	fi
	YK2_KNOWN=yes
}

# One round of everything that writes, an enroll and an unenroll included;
# stops at the first failure (the agent was killed).  Appends what was
# acknowledged to $T/acked; $STEP is where it stopped.
workload() {
	_i=$1
	: >"$T/steps"
	fi_step unlock
	jitctl unlock a0 --token yk1 >/dev/null 2>"$T/wl.err" || return 1
	fi_step add
	printf 'secret-c%s' "$_i" | "$JITCTL_BIN" add "c$_i" --ttl 1h \
	    >/dev/null 2>"$T/wl.err" || return 1
	echo "add c$_i" >>"$T/acked"
	fi_step get
	jitctl unlock "c$_i" --token yk1 >/dev/null 2>"$T/wl.err" || return 1
	[ "$(jitctl get "c$_i" 2>/dev/null)" = "secret-c$_i" ] || return 1
	# The previous iteration's credential goes.
	_prev=$(awk '$1 == "add" && $2 ~ /^c/ { n = $2 } END { print n }' \
	    "$T/acked.before")
	if [ -n "$_prev" ] && ! grep -qx "revoke $_prev" "$T/acked.before"; then
		fi_step revoke
		# Unacknowledged, a revoke may or may not have happened.
		echo "$_prev" >"$T/revoking"
		jitctl revoke "$_prev" >/dev/null 2>"$T/wl.err" || return 1
		echo "revoke $_prev" >>"$T/acked"
		rm -f "$T/revoking"
	fi
	yk2_toggle || return 1
	yk2_toggle || return 1
	fi_step lock
	jitctl lock >/dev/null 2>"$T/wl.err" || return 1
	fi_step done
	return 0
}

# Two rounds without a kill: the first counts a round's operations, the
# second (which also revokes the first's credential) each step's.
for i in 0 1; do
	cp "$T/acked" "$T/acked.before"
	fi_agent_start 0 KILL || exit 1
	ok "round $i with no kill" workload "$i"
	agent_stop
done
TOTAL=$(wc -l <"$T/fi.log")
say "# a round makes $TOTAL file operations under the data directory:"
awk '{ sub(/.*\/data\//, "", $3); sub(/\.tmp\..*/, ".tmp", $3)
    sub(/^keycache\.[0-9a-f]*/, "keycache.ID", $3); print "#   " $2, $3 }' \
    "$T/fi.log" | uniq -c | sed 's/^ */#   /'
ok "a round has operations to kill at" test "$TOTAL" -gt 10
# STEP_OPS_<step>: how many operations that step makes.
while read -r name first; do
	[ -z "${prev_name:-}" ] ||
	    eval "STEP_OPS_$prev_name=$((first - prev_first))"
	prev_name=$name prev_first=$first
done <"$T/steps"
for s in add revoke enroll unenroll; do
	eval "n=\${STEP_OPS_$s:-0}"
	say "#   $s: $n operations"
	ok "$s writes (a point to kill at)" test "$n" -gt 0
done

killed=0 torn_made=0 torn_seen=0 iter_fail=0 rounds=0 tmp_left=0
: >"$T/landed"	# one line a kill: "STEP OP FILE"

# round I NTH MODE [PATH [OPS]]: one round killed at the NTH operation
# (counted as fi_agent_start says), then every check.
round() {
	i=$1 nth=$2 mode=$3
	rounds=$((rounds + 1))
	cp "$T/acked" "$T/acked.before"
	STEP=start
	# A kill while it starts is one more point.
	fi_agent_start "$nth" "$mode" "${4:-}" "${5:-}" >/dev/null &&
	    workload "$i"
	rm -f "$T/arm"
	if alive "$AGENT_PID"; then
		kill -KILL "$AGENT_PID"
		op="after the round, which stopped at $STEP: $(head -c 200 "$T/wl.err")"
	else
		killed=$((killed + 1))
		op=$(sed -n "${nth}p" "$T/fi.log" | cut -d' ' -f2-)
		# Where it landed: the step, the operation, the kind of file.
		echo "$STEP $op" | awk '{ f = $3; sub(/.*\/data\//, "", f);
		    sub(/\.tmp\..*/, ".tmp", f); sub(/^creds\/[^\/.]*/, "creds/NAME", f);
		    sub(/^keycache\.[0-9a-f]*/, "keycache.ID", f);
		    print $1, $2, f }' >>"$T/landed"
	fi
	wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
	what="iteration $i ($mode at $nth${ARM_STEP:+ of $ARM_STEP}: $op)"
	f0=$E2E_FAIL
	ok "$what: every file is whole JSON" store_whole
	[ -z "$(find "$DATA" -name '*.tmp.*' | head -1)" ] ||
	    tmp_left=$((tmp_left + 1))
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
		return 1
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
	if token_labels | grep -qx yk2; then now=yes; else now=no; fi
	if [ "$YK2_KNOWN" = yes ]; then
		[ "$now" = "$YK2" ] ||
		    fail "$what: yk2 enrolled is $now, acknowledged $YK2"
	fi
	# An enroll or unenroll cut off left the old or the new set: either
	# holds from now on.
	YK2=$now YK2_KNOWN=yes
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
	return 0
}

# Random points of whole rounds.
ARM_STEP=
for i in $(seq 2 $((ITER + 1))); do
	nth=$((RANDOM % (TOTAL + 2) + 1))
	mode=KILL
	[ $((RANDOM % 4)) = 0 ] && mode=TORN
	round "$i" "$nth" "$mode" || break
done
random_killed=$killed

# Then kills aimed at each step that must survive one (the random ones
# may miss a step in a short run), a torn audit line (an add's audit
# append cut halfway), a torn temporary file (an add's credential
# written halfway, which the next start must remove), and the key cache
# the get step's unlock of a new credential writes (its temporary file's
# open, write, fsync or rename).  The long form aims ITER / 40 of each.
reps=$((ITER / 40)); [ "$reps" -ge 1 ] || reps=1
aimed_killed=0
for r in $(seq "$reps"); do
	for s in add revoke enroll unenroll audit tmp keycache; do
		i=$((i + 1)); k0=$killed
		if [ "$s" = audit ]; then
			ARM_STEP=add round "$i" 1 TORN "$DATA/audit.log" write ||
			    break 2
		elif [ "$s" = tmp ]; then
			ARM_STEP=add round "$i" 1 TORN "$DATA/creds/" write ||
			    break 2
		elif [ "$s" = keycache ]; then
			ARM_STEP=get round "$i" $((RANDOM % 4 + 1)) KILL \
			    "$DATA/keycache." || break 2
		else
			eval "n=\$STEP_OPS_$s"
			ARM_STEP=$s round "$i" $((RANDOM % n + 1)) KILL || break 2
		fi
		[ "$killed" = "$k0" ] && fail "the kill aimed at $s did not land"
		aimed_killed=$((aimed_killed + killed - k0))
	done
done

say "# $rounds rounds ($ITER at random points, $((rounds - ITER)) aimed): $killed killed inside a round ($random_killed of the random ones, $aimed_killed aimed), $torn_made audit lines torn, $torn_seen reported so, $tmp_left left a temporary file (gone after the next start), $iter_fail failed"
say "# where the kills landed (step, operation, file):"
sort "$T/landed" | uniq -c | sort -rn | sed 's/^ */#   /'
say "# by step: $(awk '{ print $1 }' "$T/landed" | sort | uniq -c |
    awk '{ printf "%s%s %d", (NR > 1 ? ", " : ""), $2, $1 }')"
ok "every round held" test "$iter_fail" = 0
ok "most random rounds killed the agent inside a round" \
    test $((random_killed * 2)) -ge "$ITER"
for s in add revoke enroll unenroll; do
	ok "kills landed in $s" grep -q "^$s " "$T/landed"
done
ok "kills landed in an audit append" grep -q ' write audit.log$' "$T/landed"
ok "kills landed in a key cache's write" grep -q ' keycache\.' "$T/landed"
ok "a torn audit line was made and reported as such" \
    test "$torn_made" -gt 0 -a "$torn_seen" = "$torn_made"
ok "a kill left a temporary file (which the next start removed)" \
    test "$tmp_left" -gt 0
e2e_done
