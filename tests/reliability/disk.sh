#!/usr/bin/env bash
# Disks that fail: ENOSPC and EIO injected (tests/lib/faultinject.c) at the
# nth file operation of add, enroll, request and the audit log, the same
# agent running on.  Each refusal is a sentence; nothing is acknowledged
# that was not stored; nothing is served unaudited; what was stored before
# is still there and opens; once the disk works again, so does the agent.
#
# For each verb its first, middle and last operation are failed, with
# ENOSPC or EIO; with JIT_REL_DISK_ALL=1 (contrib/reliability.sh) every
# operation it makes, up to JIT_REL_DISK_MAX, with both.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}" "${JIT_FAULTINJECT:?}"

MAX=${JIT_REL_DISK_MAX:-1000}
CASES=0
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0"
ARM=$T/fi.arm
arm() { : >"$ARM"; }
disarm() { rm -f "$ARM"; }

# An issuer that hands out a token and a revoke that notes what it got.
mkdir -p "$T/iss"
cat >"$T/iss/issue.sh" <<'EOF'
#!/bin/sh
printf 'tok-%s\n' "$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
EOF
cat >"$T/iss/revoke.sh" <<'EOF'
#!/bin/sh
echo revoked >>"$JIT_REL_DIR/revoked"
EOF
chmod 0755 "$T/iss"/*.sh
export JIT_REL_DIR=$T
cat >"$T/config" <<EOF
[profile tok]
output = raw
issuer = "$T/iss/issue.sh"
revoke = "$T/iss/revoke.sh"
EOF
chmod 0600 "$T/config"

names() {
	jitctl status --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
creds = d["credentials"] if isinstance(d, dict) else d
print("\n".join(c["name"] for c in creds))'
}
labels() {
	python3 -c 'import json,sys
print("\n".join(t["label"] for t in json.load(open(sys.argv[1]))["tokens"]))' \
	    "$DATA/tokens.json"
}
# The credentials stored before still open to their secrets.
stored_before_holds() {
	jitctl unlock base --token yk1 >/dev/null 2>&1 &&
	    [ "$(jitctl get base 2>/dev/null)" = secret-base ]
}

sim_start yk1 || exit 1
sim_start yk2 || exit 1
agent_start --config "$T/config" || exit 1
ok "enroll yk1" jitctl enroll fido2 --label yk1 --device "sim:$T/yk1.sock" \
    --allow-simulated
ok "add base" bash -c "printf secret-base | '$JITCTL_BIN' add base --ttl 1h"
agent_stop

# fi_agent_start NTH ERR: the agent with the shim; while armed, the NTH
# operation under the data directory and every one after it fail with ERR.
fi_agent_start() {
	disarm
	: >"$T/fi.log"
	LD_PRELOAD=$JIT_FAULTINJECT JIT_FI_PATH=$DATA/ JIT_FI_NTH=$1 \
	    JIT_FI_COUNT=0 JIT_FI_FAIL=$2 JIT_FI_ARM=$ARM \
	    JIT_FI_LOG=$T/fi.log agent_start --config "$T/config"
}

# count_ops CMD...: the operations CMD makes the agent do, none failed.
count_ops() {
	fi_agent_start 0 ENOSPC || return 1
	jitctl unlock base --token yk1 >/dev/null 2>&1
	arm
	"$@" >"$T/out" 2>"$T/err"
	_r=$?
	disarm
	_n=$(wc -l <"$T/fi.log")
	cp "$T/fi.log" "$T/fi.count"
	agent_stop
	[ "$_r" = 0 ] || return 1
	echo "$_n"
}

# check_refused WHAT ERR K SENTENCE STORED UNDO CMD...: the disk fails from
# CMD's Kth operation on.  CMD is acknowledged and STORED holds (then and
# after a restart), or it is refused with SENTENCE and STORED does not
# hold; the agent stays up, base still opens, the log verifies; with the
# disk back, UNDO then CMD work in the same agent.
check_refused() {
	_what=$1 _err=$2 _k=$3 _re=$4 _stored=$5 _undo=$6; shift 6
	f0=$E2E_FAIL
	fi_agent_start "$_k" "$_err" || { fail "$_what: start"; return 0; }
	jitctl unlock base --token yk1 >/dev/null 2>&1
	arm
	if "$@" >"$T/out" 2>"$T/err"; then acked=yes; else acked=no; fi
	disarm
	if [ "$acked" = yes ]; then
		eval "$_stored" || fail "$_what: acknowledged but not stored"
	else
		grep -Eq -- "$_re" "$T/err" ||
		    fail "$_what: refused without /$_re/: $(head -c 300 "$T/err")"
		# Stored all the same only when the refusal says so.
		eval "$_stored" && ! grep -q 'is stored but could not be deleted either' "$T/err" &&
		    fail "$_what: refused, yet stored"
	fi
	kill -0 "$AGENT_PID" 2>/dev/null || fail "$_what: the agent died"
	stored_before_holds || fail "$_what: base no longer opens"
	jitctl audit verify >/dev/null 2>"$T/verify.err" ||
	    fail "$_what: audit verify: $(head -c 300 "$T/verify.err")"
	eval "$_undo" >/dev/null 2>&1
	"$@" >/dev/null 2>"$T/err" ||
	    fail "$_what: with the disk back, the same agent refuses: $(head -c 300 "$T/err")"
	eval "$_undo" >/dev/null 2>&1
	agent_stop
	agent_start --config "$T/config" || { fail "$_what: restart"; return 0; }
	find "$DATA" -name '*.tmp.*' | grep -q . &&
	    fail "$_what: a temporary file is left after the next start"
	stored_before_holds || fail "$_what: base lost at restart"
	agent_stop
	[ "$E2E_FAIL" = "$f0" ] && pass "$_what ($acked)"
	return 0
}

# each_op NAME SENTENCE STORED UNDO CMD...: check_refused at every operation
# of CMD, up to MAX, with ENOSPC and with EIO.
each_op() {
	_name=$1 _re=$2 _st=$3 _un=$4; shift 4
	if ! _n=$(count_ops "$@"); then
		fail "$_name works on a good disk: $(head -c 300 "$T/err")"
		return 0
	fi
	eval "$_un" >/dev/null 2>&1
	agent_start --config "$T/config" && { eval "$_un" >/dev/null 2>&1; agent_stop; }
	say "# $_name makes $_n file operations:"
	awk '{ sub(/.*\/data\//, "", $3); sub(/\.tmp\..*/, ".tmp", $3)
	    print "#   " $2, $3 }' "$T/fi.count"
	[ "$_n" -gt 0 ] || fail "$_name makes no file operation to fail"
	# CI: the first, the middle and the last operation, with ENOSPC and
	# EIO in turn; the long form (JIT_REL_DISK_ALL=1): every
	# operation, with both.
	if [ "${JIT_REL_DISK_ALL:-0}" = 1 ]; then
		_ks=$(seq 1 "$_n")
	else
		_ks=$(printf '%s\n' 1 $(((_n + 1) / 2)) "$_n" | sort -nu)
	fi
	for _k in $_ks; do
		[ "$_k" -le "$MAX" ] || break
		_errs="ENOSPC EIO"
		if [ "${JIT_REL_DISK_ALL:-0}" != 1 ]; then
			CASES=$((CASES + 1))
			_errs=ENOSPC
			[ $((CASES % 2)) = 0 ] && _errs=EIO
		fi
		for _e in $_errs; do
			check_refused "$_name, $_e at operation $_k of $_n" \
			    "$_e" "$_k" "$_re" "$_st" "$_un" "$@"
		done
	done
}

DISK='(no space left|input/output error|cannot be written|cannot store|cannot write|cannot save)'

each_op "add" "$DISK" 'names | grep -qx new' 'jitctl revoke new' \
    bash -c "printf secret-new | '$JITCTL_BIN' add new --ttl 1h"
each_op "enroll" "$DISK" 'labels | grep -qx yk2' \
    'jitctl unenroll yk2 --token yk1' \
    jitctl enroll fido2 --label yk2 --device "sim:$T/yk2.sock" \
    --allow-simulated --token yk1
each_op "request" "$DISK" 'names | grep -qx tok' 'jitctl revoke tok' \
    jitctl request tok --reason reliability
# get serves base only after its use is in the log: acknowledged (the
# secret printed) means a use event after the mark; refused means none and
# no secret printed.
get_audited() {
	wc -l <"$DATA/audit.log" >"$T/mark"
	jitctl get base
}
used_since_mark() {
	tail -n +"$(($(cat "$T/mark") + 1))" "$DATA/audit.log" |
	    grep -q '"event":"use".*"base"'
}
each_op "get (the audit log)" \
    'the audit log cannot be written \((no space left on the device|an input/output error)\): nothing is served unaudited' \
    'used_since_mark && grep -qx secret-base "$T/out"' ':' \
    get_audited

e2e_done
