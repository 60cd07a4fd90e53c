# Shared by the end-to-end tests: a private agent, swtpm and data directory
# per test, checks that count, and cleanup on every exit.  Sourced by bash.
#
# The test runner passes JIT_AGENT_BIN, JITCTL_BIN and E2E_DIR (this folder).
#
# The tests run as the user the product runs as: started as root, a test
# runs as the ordinary user jit-e2e (tests/lib/testuser.py; meson's wrapper
# has already done that), and root is kept for one thing only, as_other_uid.

set -u
export LC_ALL=C
: "${JIT_AGENT_BIN:?}" "${JITCTL_BIN:?}" "${E2E_DIR:?}"
if [ "$(id -u)" = 0 ]; then
	exec python3 "$E2E_DIR/../lib/testuser.py" drop bash "$0" "$@"
fi
. "$E2E_DIR/../lib/swtpm.sh"

E2E_PASS=0
E2E_FAIL=0
E2E_SKIP=0
SIMS=
T=$(mktemp -d "${TMPDIR:-/tmp}/jit-e2e.XXXXXX")
chmod 0700 "$T"
export JIT_AGENT_SOCK="$T/run/agent.sock"
export XDG_DATA_HOME="$T/xdg-data"
DATA="$T/data"
AGENT_LOG="$T/agent.log"
AGENT_PID=
PIN=4711-jit
printf '%s' "$PIN" > "$T/pin"
printf 'wrong-pin' > "$T/badpin"
mkdir -p "$T/run" && chmod 0700 "$T/run"

jitctl() { "$JITCTL_BIN" "$@"; }

e2e_cleanup() {
	agent_stop
	for _s in $SIMS; do sim_stop "$_s"; done
	swtpm_stop_all
	rm -rf "$T"
}
trap e2e_cleanup EXIT

say() { printf '%s\n' "$*"; }

pass() { E2E_PASS=$((E2E_PASS + 1)); say "ok - $1"; }
fail() {
	E2E_FAIL=$((E2E_FAIL + 1))
	say "not ok - $1"
	[ -f "$T/out" ] && sed 's/^/#   out: /' "$T/out" | head -20
	[ -f "$T/err" ] && sed 's/^/#   err: /' "$T/err" | head -20
	return 0
}

# skip DESC REASON: checks that cannot run here; the test exits 77 at the
# end (meson counts it as skipped) unless another check failed.
skip() {
	E2E_SKIP=$((E2E_SKIP + 1))
	say "ok - # SKIP $1: $2"
}

# memory_clean DESC NEEDLE...: no needle is in the agent's memory or
# environment (/proc/PID/mem, which only root may read of a process that is
# not dumpable: the root parent reads it, tests/lib/testuser.py scan).
memory_clean() {
	_d=$1; shift
	other_uid_ready "$_d" || return 0
	python3 "$E2E_DIR/../lib/testuser.py" scan "$AGENT_PID" "$@" \
	    >"$T/scan" 2>&1
	case $? in
	0) pass "$_d: not in the agent's memory" ;;
	1) fail "$_d: in the agent's memory: $(head -3 "$T/scan")" ;;
	*) fail "$_d: the scan failed: $(cat "$T/scan")" ;;
	esac
}

# as_other_uid CMD [ARG...]: run CMD as nobody, a uid that is not the
# test's, with this shell's stdin, stdout, stderr, environment and working
# directory; the status is CMD's.  The root parent that dropped to jit-e2e
# runs it for us (tests/lib/testuser.py other), since the test itself holds
# no privilege.  Guard its use with other_uid_ready.
as_other_uid() { python3 "$E2E_DIR/../lib/testuser.py" other "$@"; }

# as_root CMD [ARG...]: the same, but CMD runs as root (root only for CMD):
# for checking that a root client is served.  Guard it with other_uid_ready.
as_root() { python3 "$E2E_DIR/../lib/testuser.py" root "$@"; }

# other_uid_ready DESC: true when as_other_uid can run.  A test started by
# an ordinary user has no root parent: then the checks named DESC fail with
# a sentence, or are skipped when JIT_E2E_SKIP_OTHER_UID=1.
other_uid_ready() {
	[ -n "${JIT_OTHER_UID_SOCK:-}" ] && return 0
	rm -f "$T/out" "$T/err"
	if [ "${JIT_E2E_SKIP_OTHER_UID:-}" = 1 ]; then
		skip "$1" "running a command as another uid needs the test to start as root (JIT_E2E_SKIP_OTHER_UID=1)"
	else
		fail "$1: running a command as another uid needs the test to start as root, which drops to jit-e2e itself; set JIT_E2E_SKIP_OTHER_UID=1 to skip these checks instead"
	fi
	return 1
}

# ok DESC CMD...: CMD succeeds.  Output in $T/out, $T/err.
ok() {
	_d=$1; shift
	if "$@" >"$T/out" 2>"$T/err"; then pass "$_d"; else fail "$_d (exit $?)"; fi
}

# marked_on_use NAME: status --json shows credential NAME marked to unlock
# on use.
marked_on_use() {
	"$JITCTL_BIN" status --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if [c.get("unlock_on_use") for c in d["credentials"]
               if c["name"] == sys.argv[1]] == [True] else 1)' "$1"
}

# fails DESC CODE CMD...: CMD exits with CODE (or any non-zero for '!').
fails() {
	_d=$1; _want=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	_rc=$?
	if [ "$_want" = '!' ] && [ "$_rc" -ne 0 ]; then pass "$_d"
	elif [ "$_rc" = "$_want" ]; then pass "$_d"
	else fail "$_d (exit $_rc, wanted $_want)"; fi
}

# has DESC FILE PATTERN: the file has a line matching the extended regex.
has() {
	if grep -Eq -- "$3" "$2"; then pass "$1"; else
		fail "$1 (no /$3/ in $(basename "$2"))"; fi
}
hasnt() {
	if grep -Eq -- "$3" "$2"; then fail "$1 (found /$3/)"; else
		pass "$1"; fi
}

# agent_start ARGS...: waits AGENT_START_TRIES times 50 ms (default 100).
agent_start() {
	"$JIT_AGENT_BIN" -D -a "$JIT_AGENT_SOCK" --data-dir "$DATA" "$@" \
	    >"$T/agent.env" 2>>"$AGENT_LOG" &
	AGENT_PID=$!
	for _i in $(seq "${AGENT_START_TRIES:-100}"); do
		[ -S "$JIT_AGENT_SOCK" ] && grep -q "^echo Agent pid" "$T/agent.env" \
		    2>/dev/null && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.05
	done
	say "# the agent did not start:"; sed 's/^/#   /' "$AGENT_LOG"
	return 1
}

agent_stop() {
	[ -n "${AGENT_PID:-}" ] || return 0
	kill -TERM "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

# A TPM on swtpm, enrolled as "laptop".
tpm_enroll() {
	swtpm_start || exit $?
	jitctl enroll tpm2 --label "${1:-laptop}" --device "$SWTPM_TCTI" \
	    --allow-simulated --pin-fd 3 3<"$T/pin"
}

e2e_done() {
	agent_stop
	# A sanitizer's report in the agent's log fails the test.
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
	    "$AGENT_LOG" 2>/dev/null; then
		fail "the agent's log has a sanitizer report"
		grep -E -A15 'Sanitizer|runtime error' "$AGENT_LOG" | \
		    sed 's/^/#   /' | head -40
	else
		pass "no sanitizer report in the agent's log"
	fi
	say "# $E2E_PASS passed, $E2E_FAIL failed, $E2E_SKIP skipped"
	[ "$E2E_FAIL" -eq 0 ] || exit 1
	[ "$E2E_SKIP" -eq 0 ] || exit 77
	exit 0
}

# sim_start NAME [ARGS...]: a simulated FIDO2 key on $T/NAME.sock whose
# touch answer is read from $T/NAME.touch before every touch.
sim_start() {
	_n=$1; shift
	: "${JIT_SIM_FIDO2:?}"
	[ -f "$T/$_n.touch" ] || echo approve > "$T/$_n.touch"
	JIT_SIM_TOUCH_FILE="$T/$_n.touch" "$JIT_SIM_FIDO2" --foreground \
	    --socket "$T/$_n.sock" --state "$T/$_n.state" "$@" \
	    >"$T/$_n.out" 2>>"$T/$_n.log" &
	eval "SIM_PID_$_n=$!"
	case " $SIMS " in *" $_n "*) ;; *) SIMS="$SIMS $_n" ;; esac
	for _i in $(seq 100); do
		grep -q ready "$T/$_n.out" 2>/dev/null && return 0
		sleep 0.05
	done
	say "# the simulator $_n did not start"; cat "$T/$_n.log"
	return 1
}
sim_stop() {
	eval "_p=\${SIM_PID_$1:-}"
	[ -n "$_p" ] || return 0
	kill -TERM "$_p" 2>/dev/null; wait "$_p" 2>/dev/null
	eval "SIM_PID_$1="
}
sim_touch() { echo "$2" > "$T/$1.touch"; }

# attest_ca NAME ORG WHAT: a P-256 root CA for attestation keys ($T/NAME.key,
# $T/NAME.pem), subject "O=ORG, CN=ORG WHAT".
attest_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$1.key" -out "$T/$1.pem" -days 30 \
	    -subj "/O=$2/CN=$2 $3" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign 2>>"$T/openssl.log"
}
