#!/usr/bin/env bash
# jitctl's side: it talks only to the user's own agent and sends nothing
# before it has checked; the agent knows which program a client is (run as
# an ordinary user, where /proc/PID/exe is not a given); options are taken
# as declared and never carry a secret; partial unlocks say what failed; the
# agent cleans up after a crash and says why it refuses a directory.
. "$E2E_DIR/lib.sh"

JITCTL_REAL=$(readlink -f "$JITCTL_BIN")
cp "$E2E_DIR/clientpeer.py" "$T/clientpeer.py"
# A place others may write, like /tmp: a directory of this test's, 1777.
P=$(mktemp -d "${TMPDIR:-/tmp}/jit-e2e-pub.XXXXXX")
chmod 1777 "$P"
cp "$E2E_DIR/clientpeer.py" "$P/clientpeer.py"
chmod 0644 "$P/clientpeer.py"
PEERS=

client_cleanup() {
	for _p in $PEERS; do kill "$_p" 2>/dev/null; wait "$_p" 2>/dev/null; done
	# What nobody made in $P is nobody's to remove.
	[ -n "${JIT_OTHER_UID_SOCK:-}" ] && as_other_uid find "$P" -mindepth 1 \
	    -user nobody -delete 2>/dev/null
	rm -rf "$P"
	e2e_cleanup
}
trap client_cleanup EXIT

# peer_start OUT CMD...: a clientpeer.py server in the background; waits for
# its "ready" in OUT.
peer_start() {
	_o=$1; shift
	"$@" >"$_o" 2>&1 &
	PEERS="$PEERS $!"
	for _i in $(seq 100); do
		grep -q ready "$_o" 2>/dev/null && return 0
		sleep 0.05
	done
	say "# the peer did not start:"; sed 's/^/#   /' "$_o"
	return 1
}

# nothing_reached OUT: what the peer got, once any connection is over.
nothing_reached() {
	sleep 0.3
	if grep -Eq 'bytes=[1-9]' "$1"; then
		fail "the server received nothing (it got: $(grep -c 'bytes=[1-9]' "$1") connection(s) with data)"
	else
		pass "the server received nothing"
	fi
}

# ---- options: exactly as declared, and never a secret (exit 2)

secrets_sentence='PINs and secrets come from --pin-fd N, standard input or the terminal prompt, never from the command line'
fails "unlock X --pin 2 is no abbreviation of --pin-fd" 2 \
    jitctl unlock X --pin 2
has "it says where PINs come from" "$T/err" "$secrets_sentence"
fails "unlock X --pin 1234" 2 jitctl unlock X --pin 1234
has "the same sentence" "$T/err" "^jitctl: unlock: --pin looks like a PIN or secret: $secrets_sentence\$"
hasnt "which never repeats the value" "$T/err" 1234
ok "in one line" test "$(wc -l <"$T/err")" = 1
fails "get --pin=1234" 2 jitctl get X --pin=1234
has "the sentence" "$T/err" "$secrets_sentence"
hasnt "without the value" "$T/err" 1234
fails "add --password" 2 jitctl add X --ttl 1h --password hunter2
has "the sentence" "$T/err" "$secrets_sentence"
fails "-pin with one dash" 2 jitctl unlock X -pin 1234
has "the sentence" "$T/err" "$secrets_sentence"
fails "a global --secret" 2 jitctl --secret=x status
has "the sentence" "$T/err" "$secrets_sentence"
fails "unlock X --pin-f 3 is no abbreviation either" 2 \
    jitctl unlock X --pin-f 3 3<"$T/pin"
has "naming the option it is not" "$T/err" \
    'unknown option --pin-f \(options are never abbreviated: did you mean --pin-fd\?\)'
fails "enroll --lab x" 2 jitctl enroll tpm2 --lab x
has "did you mean --label" "$T/err" 'did you mean --label\?'
fails "exec --pin-f 3" 2 jitctl exec X --pin-f 3 -- true
has "did you mean --pin-fd" "$T/err" 'did you mean --pin-fd\?'
fails "a global --sock" 2 jitctl --sock "$JIT_AGENT_SOCK" status
has "did you mean --socket" "$T/err" 'did you mean --socket\?'
fails "unlock --lab x" 2 jitctl unlock --lab x
has "unknown" "$T/err" 'unknown option --lab$'
fails "--pin-fd of a descriptor that is not open" 2 jitctl unlock X \
    --pin-fd 9
has "says so, and where PINs come from" "$T/err" \
    "--pin-fd names a file descriptor that is not open: .*$secrets_sentence"
fails "-p1234: a PIN given as a descriptor number" 2 jitctl unlock X -p1234
hasnt "is not repeated" "$T/err" 1234
fails "jit-agent --touch 3" 2 timeout 10 "$JIT_AGENT_BIN" -D --touch 3
has "is no abbreviation of --touch-timeout" "$T/err" \
    'jit-agent: unknown option --touch \(options are never abbreviated: did you mean --touch-timeout\?\)'
fails "jit-agent --password x" 2 timeout 10 "$JIT_AGENT_BIN" -D \
    --password x
has "the sentence" "$T/err" "jit-agent: --password looks like a PIN or secret: $secrets_sentence"

# ---- an agent that knows its clients, as the ordinary user it runs as

ok "the test runs as an ordinary user" test "$(id -u)" != 0
ISS="$T/iss"
mkdir -p "$ISS"
cat >"$ISS/print.sh" <<'ISS'
#!/bin/sh
printf '%s\n' "$1"
ISS
chmod 0755 "$ISS/print.sh"
cat >"$T/config" <<EOF
[profile only-jitctl]
output = raw
issuer = "$ISS/print.sh" tok-jitctl
allowed_executables = $JITCTL_REAL

[profile only-other]
output = raw
issuer = "$ISS/print.sh" tok-other
allowed_executables = /usr/bin/psql
EOF
chmod 0600 "$T/config"
cat >"$T/askpass" <<ASK
#!/bin/sh
printf '%s\n' "\$1" >> "$T/askpass.prompts"
exit 0
ASK
chmod 0755 "$T/askpass"
SSH_ASKPASS="$T/askpass" agent_start --config "$T/config" || exit 1
ok "enroll a TPM" tpm_enroll laptop

ok "add f, confirmed on every use" bash -c \
    "printf 'foxtrot' | '$JITCTL_BIN' add f --ttl 1h --stepup confirm"
has "the add is audited with jitctl's executable" "$DATA/audit.log" \
    "\"event\":\"add\".*\"exe\":\"$JITCTL_REAL\""
ok "unlock f" jitctl unlock f --pin-fd 3 3<"$T/pin"
ok "get f" jitctl get f
ok "is foxtrot" test "$(cat "$T/out")" = foxtrot
has "the confirm prompt names the jitctl binary" "$T/askpass.prompts" \
    "^Allow $JITCTL_REAL \\(pid [0-9]+\\)( < [^ ]+ \\(pid [0-9]+\\))* \\(uid $(id -u)\\) to use credential f \\(unlocked with [^,]+, [0-9a-z]+ left\\)\\?\$"
has "the use is audited with jitctl's executable" "$DATA/audit.log" \
    "\"event\":\"use\".*\"name\":\"f\".*\"exe\":\"$JITCTL_REAL\""
hasnt "no audit line has an unknown executable" "$DATA/audit.log" \
    '"exe":"\?"'

ok "request only-jitctl" jitctl request only-jitctl --reason test
ok "request only-other" jitctl request only-other --reason test
ok "unlock both" jitctl unlock only-jitctl only-other --pin-fd 3 3<"$T/pin"
ok "allowed_executables lets jitctl get what lists it" \
    jitctl get only-jitctl
ok "the value" test "$(cat "$T/out")" = tok-jitctl
fails "and refuses what lists another program" 5 jitctl get only-other
has "saying which program it was" "$T/err" \
    "only-other may be used only by /usr/bin/psql .*not by $JITCTL_REAL"

# A client that hides its executable (non-dumpable) and calls itself
# jitctl: the agent says what it does not know, and trusts no name.
fails "a non-dumpable client asks for only-jitctl" 1 python3 \
    "$T/clientpeer.py" hidden "$JIT_AGENT_SOCK" jitctl only-jitctl
has "it is refused" "$T/out" \
    "^failure: only-jitctl may be used only by $JITCTL_REAL .*not by an unverified program that calls itself 'jitctl' \\(its executable is unknown: /proc/[0-9]+/exe is not readable: the process is not dumpable\\)"
has "the audit says the executable is unknown, and why" "$DATA/audit.log" \
    '"event":"deny".*"name":"only-jitctl".*"exe":"\?","exe_unknown":"/proc/[0-9]+/exe is not readable: the process is not dumpable","comm_unverified":"jitctl"'
: >"$T/askpass.prompts"
ok "it asks for f (confirm)" python3 "$T/clientpeer.py" hidden \
    "$JIT_AGENT_SOCK" jitctl f
has "the prompt says the name is unverified" "$T/askpass.prompts" \
    "^Allow an unverified program that calls itself 'jitctl' \\(pid [0-9]+; its executable is unknown: /proc/[0-9]+/exe is not readable: the process is not dumpable\\)( < [^ ]+ \\(pid [0-9]+\\))* \\(uid $(id -u)\\) to use credential f \\(unlocked with [^,]+, [0-9a-z]+ left\\)\\?\$"

# ---- a partial unlock says what opened and what did not

jitctl lock >/dev/null
ok "add h1" bash -c "printf 'one' | '$JITCTL_BIN' add h1 --ttl 1h"
ok "add h2" bash -c "printf 'two' | '$JITCTL_BIN' add h2 --ttl 1h"
agent_stop
python3 - "$DATA/creds/h1.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["not_after"] += 86400          # a later expiry, written by an attacker
json.dump(d, open(p, "w"))
PY
# Left by a write that a crash interrupted (fs_write_atomic's names).
printf x >"$DATA/creds/h3.json.tmp.0123abcd"
printf x >"$DATA/tokens.json.tmp.89abcdef"
mkdir -p "$DATA/tokens"
printf x >"$DATA/tokens/old.json.tmp.deadbeef"
printf x >"$DATA/creds/keep.tmp.notours"
# A torn credential file: read after the start, reported, never dropped
# silently, and left on disk for a person.
printf '{ "version": 1, "na' >"$DATA/creds/torn.json"
SSH_ASKPASS="$T/askpass" agent_start --config "$T/config" || exit 1
ok "status with a damaged file" jitctl status
has "status lists the damaged file and why" "$T/out" \
    '^  torn\.json: malformed input$'
has "status says what to do" "$T/out" \
    '^1 damaged credential file\(s\), skipped: move each away'
has "the log names it" "$AGENT_LOG" 'skipping credential file .*/torn\.json'
ok "status --json counts it" jitctl status --json
has "damaged_total in the JSON" "$T/out" '"damaged_total": ?1'
ok "the damaged file is left on disk" test -e "$DATA/creds/torn.json"
rm -f "$DATA/creds/torn.json"
ok "the temporary files are gone" test ! -e "$DATA/creds/h3.json.tmp.0123abcd" \
    -a ! -e "$DATA/tokens.json.tmp.89abcdef" \
    -a ! -e "$DATA/tokens/old.json.tmp.deadbeef"
ok "a file not named so is kept" test -e "$DATA/creds/keep.tmp.notours"
has "one log line says how many" "$AGENT_LOG" \
    'removed 3 temporary files left by an interrupted write'
fails "unlock h1 h2: h1 was edited" 1 jitctl unlock h1 h2 --pin-fd 3 \
    3<"$T/pin"
has "says what was unlocked" "$T/err" '^unlocked h2 for '
has "and what was refused, and why" "$T/err" \
    '^jitctl: unlock: h1 was not unlocked: its file was altered'
ok "h2 is open" jitctl get h2
ok "is two" test "$(cat "$T/out")" = two
fails "a shell for h1 h2: h1 was edited" 1 jitctl shell --pin-fd 3 h1 h2 \
    -- sh -c ": > '$T/shell-ran'" 3<"$T/pin"
has "names h1 and why" "$T/err" \
    '^jitctl: shell: h1 was not unlocked: its file was altered'
has "and starts no shell" "$T/err" 'not every credential was unlocked: no shell'
ok "the shell did not run" test ! -e "$T/shell-ran"
fails "h1 is not" 4 jitctl get h1
fails "unlock h1 alone" 1 jitctl unlock h1 --pin-fd 3 3<"$T/pin"
has "says in words that nothing opened" "$T/err" \
    'nothing was unlocked: h1: its file was altered'
agent_stop

# ---- the agent says why it refuses a directory

mkdir -p "$T/real"
ln -s "$T/real" "$T/datalink"
fails "a symlinked data directory is refused" 1 timeout 10 \
    "$JIT_AGENT_BIN" -D -a "$T/run/other.sock" --data-dir "$T/datalink"
has "saying it is a symbolic link" "$T/err" \
    "^jit-agent: the data directory $T/datalink is a symbolic link: refusing it"
mkdir -p "$T/open" && chmod 0777 "$T/open"
fails "a data directory of mode 0777 is refused" 1 timeout 10 \
    "$JIT_AGENT_BIN" -D -a "$T/run/other.sock" --data-dir "$T/open"
has "saying who may write it" "$T/err" \
    "^jit-agent: the data directory $T/open is writable by others \\(mode 0777\\): refusing it"
touch "$T/afile"
fails "a data directory under a file" 1 timeout 10 \
    "$JIT_AGENT_BIN" -D -a "$T/run/other.sock" --data-dir "$T/afile/data"
has "names the parent that is not a directory" "$T/err" \
    "$T/afile, a parent of the data directory $T/afile/data, is not a directory"
fails "a socket in a directory that does not exist" 1 timeout 10 \
    "$JIT_AGENT_BIN" -D -a "$T/nowhere/agent.sock" --data-dir "$T/real"
has "says so" "$T/err" \
    "the socket directory $T/nowhere does not exist"
fails "a socket in a directory others may write" 1 timeout 10 \
    "$JIT_AGENT_BIN" -D -a "$P/agent.sock" --data-dir "$T/real"
has "is refused as jitctl would refuse it" "$T/err" \
    "the socket directory $P is writable by others \\(mode 1777\\)"
hasnt "no I/O error anywhere" "$T/err" 'input/output'
if other_uid_ready "a data directory of another uid"; then
	ok "nobody makes a directory" as_other_uid mkdir -m 0700 "$P/theirs-data"
	fails "a data directory of another uid is refused" 1 timeout 10 \
	    "$JIT_AGENT_BIN" -D -a "$T/run/other.sock" --data-dir "$P/theirs-data"
	has "saying whose it is" "$T/err" \
	    "^jit-agent: the data directory $P/theirs-data belongs to uid [0-9]+, not to this user \\(uid $(id -u)\\)"
fi

# ---- jitctl talks only to the user's own agent, and checks first

# A server in a directory others may write (/tmp, say): refused unheard.
peer_start "$T/ww.out" python3 "$T/clientpeer.py" listen "$P/agent.sock" ||
    exit 1
fails "a server in a world-writable directory is refused" 3 \
    jitctl -s "$P/agent.sock" status
has "saying what is wrong" "$T/err" \
    "^jitctl: status: the agent socket's directory $P is writable by others: refusing to talk to it\$"
fails "add sends it no secret" 3 bash -c \
    "printf 'hunter2' | '$JITCTL_BIN' -s '$P/agent.sock' add x --ttl 1h"
has "the same sentence" "$T/err" "writable by others: refusing to talk to it"
nothing_reached "$T/ww.out"

if other_uid_ready "servers of another uid"; then
	# The agent's directory re-created by another user after it exited.
	ok "nobody makes a directory like the agent's" as_other_uid mkdir -m \
	    0755 "$P/jit-agent-theirs"
	peer_start "$T/theirs.out" as_other_uid python3 "$P/clientpeer.py" \
	    listen "$P/jit-agent-theirs/agent.sock" || exit 1
	for verb in status "unlock x --pin-fd 3" "aws-credential-process x" \
	    "kube-credential x" "git-credential x get" \
	    "docker-credential x get"; do
		fails "$verb: a socket in another uid's directory is refused" 3 \
		    bash -c "printf 'host=x\n\n' | '$JITCTL_BIN' -s \
		    '$P/jit-agent-theirs/agent.sock' $verb 3<'$T/pin'"
		has "saying whose directory it is" "$T/err" \
		    "the agent socket's directory $P/jit-agent-theirs belongs to uid [0-9]+, not to you \\(uid $(id -u)\\) or root: refusing to talk to it"
	done
	fails "add: refused too" 3 bash -c "printf 'hunter2' | \
	    '$JITCTL_BIN' -s '$P/jit-agent-theirs/agent.sock' add x --ttl 1h"
	nothing_reached "$T/theirs.out"

	# A socket file of ours in our own directory, listened on by another
	# uid: only SO_PEERCRED tells.
	mkdir -m 0700 "$T/peer"
	as_other_uid python3 "$P/clientpeer.py" take "$P/ctl.sock" \
	    >"$T/take.out" 2>&1 &
	PEERS="$PEERS $!"
	for _i in $(seq 100); do [ -S "$P/ctl.sock" ] && break; sleep 0.05; done
	ok "hand a socket of ours to a process of another uid" python3 \
	    "$T/clientpeer.py" hand "$T/peer/agent.sock" "$P/ctl.sock"
	for _i in $(seq 100); do
		grep -q ready "$T/take.out" && break
		sleep 0.05
	done
	ok "the socket is ours, in our private directory" test \
	    "$(stat -c %u "$T/peer/agent.sock")" = "$(id -u)"
	fails "a server of another uid is refused" 3 bash -c "printf 'hunter2' | \
	    '$JITCTL_BIN' -s '$T/peer/agent.sock' add x --ttl 1h"
	has "saying who serves it" "$T/err" \
	    "^jitctl: add: the agent at $T/peer/agent.sock runs as uid [0-9]+, not as you \\(uid $(id -u)\\) or root: refusing to talk to it\$"
	fails "get too" 3 jitctl -s "$T/peer/agent.sock" get x
	nothing_reached "$T/take.out"
	ok "it was connected to, and got zero bytes" grep -q 'conn bytes=0' \
	    "$T/take.out"
fi

e2e_done
