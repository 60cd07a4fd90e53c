#!/usr/bin/env bash
# jit-agent as ssh-agent: its shell lines (sh, csh, nothing else on
# stdout), the fresh private socket directory, -k, a command run under the
# agent, -t, the options' refusals, one store per agent (a second agent in
# the same environment serves ssh-add keys only and names the holder;
# --ensure reuses the holder; --data-dir refuses naming its pid and
# socket), and the README's first lines (eval "$(jit-agent)", ssh-add,
# ssh host) against a real sshd.
. "$E2E_DIR/lib.sh"
for p in ssh ssh-add ssh-keygen python3; do
	command -v "$p" >/dev/null || { say "1..0 # SKIP no $p"; exit 77; }
done
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || { say "1..0 # SKIP no sshd"; exit 77; }
AGENT=$JIT_AGENT_BIN
export TMPDIR="$T/tmp" XDG_CONFIG_HOME="$T/xdg-config"
mkdir -p "$TMPDIR" && chmod 0700 "$TMPDIR"
unset JIT_AGENT_SOCK SSH_AUTH_SOCK SSH_AGENT_PID JIT_AGENT_PID DISPLAY
AGENTS=
# Every agent started here is stopped at the end, by its pid.
dropin_cleanup() {
	for _p in $AGENTS; do kill -TERM "$_p" 2>/dev/null; done
	e2e_cleanup
}
trap dropin_cleanup EXIT
# gone SOCKET: the agent that served SOCKET stopped (its socket removed).
gone() {
	for _i in $(seq 200); do [ -e "$1" ] || return 0; sleep 0.05; done
	return 1
}
val() { sed -n "s/^$1=\\([^;]*\\); export $1;\$/\\1/p" "$2"; }
ssh-keygen -q -N '' -t ed25519 -C dropin -f "$T/id_ed25519"

# --- sh lines, nothing else ------------------------------------------------
ok "jit-agent -s starts an agent" "$AGENT" -s
cp "$T/out" "$T/sh.out"
AGENTS="$AGENTS $(val SSH_AGENT_PID "$T/sh.out")"
has "SSH_AUTH_SOCK in a fresh private directory, as ssh-agent's" \
    "$T/sh.out" "^SSH_AUTH_SOCK=$TMPDIR/jit-agent-[A-Za-z0-9]{6}/agent\\.[0-9]+; export SSH_AUTH_SOCK;\$"
has "SSH_AGENT_PID" "$T/sh.out" '^SSH_AGENT_PID=[0-9]+; export SSH_AGENT_PID;$'
has "JIT_AGENT_SOCK" "$T/sh.out" "^JIT_AGENT_SOCK=$TMPDIR/jit-agent-[A-Za-z0-9]{6}/agent\\.[0-9]+; export JIT_AGENT_SOCK;\$"
has "JIT_AGENT_PID" "$T/sh.out" '^JIT_AGENT_PID=[0-9]+; export JIT_AGENT_PID;$'
has "echo Agent pid" "$T/sh.out" '^echo Agent pid [0-9]+;$'
if [ "$(wc -l <"$T/sh.out")" = 5 ] && [ ! -s "$T/err" ]; then
	pass "five lines on stdout, nothing on stderr"
else
	fail "five lines on stdout, nothing on stderr"
fi
eval "$(cat "$T/sh.out")" >/dev/null
S1=$SSH_AUTH_SOCK P1=$SSH_AGENT_PID
if [ "$JIT_AGENT_SOCK" = "$S1" ] && [ "$JIT_AGENT_PID" = "$P1" ]; then
	pass "JIT_AGENT_SOCK and JIT_AGENT_PID name the same agent"
else
	fail "JIT_AGENT_SOCK and JIT_AGENT_PID name the same agent"
fi
if [ "$(stat -c %a "$(dirname "$S1")")" = 700 ]; then
	pass "its directory is private (0700)"
else
	fail "its directory is private (0700)"
fi
fails "ssh-add -l: no identities yet" 1 ssh-add -l
ok "jitctl finds it through JIT_AGENT_SOCK" jitctl status
ok "jitctl finds it through SSH_AUTH_SOCK alone" \
    env -u JIT_AGENT_SOCK "$JITCTL_BIN" status
eval "$(ssh-agent -s -a "$T/openssh.sock")" >/dev/null
OPENSSH_AGENT=$SSH_AGENT_PID
AGENTS="$AGENTS $OPENSSH_AGENT"
SSH_AUTH_SOCK=$S1 SSH_AGENT_PID=$P1
fails "SSH_AUTH_SOCK naming OpenSSH's ssh-agent: jitctl says so" '!' \
    env -u JIT_AGENT_SOCK SSH_AUTH_SOCK="$T/openssh.sock" "$JITCTL_BIN" status
has "in a sentence" "$T/err" "the agent at $T/openssh.sock is an ssh-agent but not jit-agent: set JIT_AGENT_SOCK"
kill -TERM "$OPENSSH_AGENT"

# --- csh lines, from $SHELL or -c --------------------------------------------
ok "SHELL=/bin/tcsh: csh lines" env SHELL=/bin/tcsh \
    XDG_DATA_HOME="$T/xdg-csh" "$AGENT"
cp "$T/out" "$T/csh.out"
has "setenv SSH_AUTH_SOCK" "$T/csh.out" '^setenv SSH_AUTH_SOCK [^ ;]+;$'
has "setenv SSH_AGENT_PID" "$T/csh.out" '^setenv SSH_AGENT_PID [0-9]+;$'
has "setenv JIT_AGENT_SOCK" "$T/csh.out" '^setenv JIT_AGENT_SOCK [^ ;]+;$'
hasnt "no sh syntax" "$T/csh.out" 'export'
PC=$(sed -n 's/^setenv SSH_AGENT_PID \([0-9]*\);$/\1/p' "$T/csh.out")
SC=$(sed -n 's/^setenv SSH_AUTH_SOCK \(.*\);$/\1/p' "$T/csh.out")
AGENTS="$AGENTS $PC"
ok "-k -c kills it with csh lines" env SSH_AGENT_PID="$PC" "$AGENT" -k -c
has "unsetenv SSH_AUTH_SOCK" "$T/out" '^unsetenv SSH_AUTH_SOCK;$'
has "echo Agent pid killed" "$T/out" "^echo Agent pid $PC killed;\$"
ok "and it is gone, its socket and directory with it" gone "$SC"
[ -e "$(dirname "$SC")" ] && fail "its directory is removed" ||
    pass "its directory is removed"
ok "-c with a Bourne \$SHELL still gives csh" env SHELL=/bin/bash \
    XDG_DATA_HOME="$T/xdg-csh" "$AGENT" -c
has "setenv" "$T/out" '^setenv SSH_AUTH_SOCK '
PC=$(sed -n 's/^setenv SSH_AGENT_PID \([0-9]*\);$/\1/p' "$T/out")
AGENTS="$AGENTS $PC"
ok "-k with -s and a csh \$SHELL: sh lines" env SHELL=/bin/tcsh \
    SSH_AGENT_PID="$PC" "$AGENT" -s -k
has "unset SSH_AGENT_PID" "$T/out" '^unset SSH_AGENT_PID;$'

# --- a second agent in the same environment (OpenSSH's agent.sh) ----------
ok "a second agent starts in the same environment" "$AGENT" -s
cp "$T/out" "$T/second.out"
S2=$(val SSH_AUTH_SOCK "$T/second.out") P2=$(val SSH_AGENT_PID "$T/second.out")
AGENTS="$AGENTS $P2"
if [ -n "$S2" ] && [ "$S2" != "$S1" ]; then
	pass "with a socket of its own"
else
	fail "with a socket of its own ($S2)"
fi
has "its JIT_AGENT_SOCK is the store's holder" "$T/second.out" \
    "^JIT_AGENT_SOCK=$S1; export JIT_AGENT_SOCK;\$"
has "saying so on stderr, naming the holder" "$T/err" \
    "is in use by another jit-agent \\(pid $P1, socket $S1\\): this agent serves ssh-add keys only"
ok "ssh-add to the second agent" env SSH_AUTH_SOCK="$S2" ssh-add "$T/id_ed25519"
ok "which lists it" env SSH_AUTH_SOCK="$S2" ssh-add -l
fails "the first does not" 1 ssh-add -l
fails "jitctl's verbs at the second are refused" 1 "$JITCTL_BIN" -s "$S2" status
has "naming the holder" "$T/err" \
    "^jitctl: status: this agent serves ssh-add keys only, since the agent pid $P1 \\(socket $S1\\) holds the data directory"
ok "-k of the second" env SSH_AGENT_PID="$P2" "$AGENT" -k
hasnt "leaves JIT_AGENT_SOCK (the holder's) alone" "$T/out" 'JIT_AGENT'
ok "the second is gone" gone "$S2"
if [ "$(find "$TMPDIR" -mindepth 1 -maxdepth 1 | wc -l)" = 1 ]; then
	pass "its socket directory and private store are removed"
else
	fail "its socket directory and private store are removed: $(ls "$TMPDIR")"
fi

# --- --ensure: the rc line reuses the running agent -------------------------
ok "--ensure with a running agent" "$AGENT" --ensure -s
has "prints its SSH_AUTH_SOCK" "$T/out" "^SSH_AUTH_SOCK=$S1; export SSH_AUTH_SOCK;\$"
has "and its pid" "$T/out" "^SSH_AGENT_PID=$P1; export SSH_AGENT_PID;\$"
if [ "$(find "$TMPDIR" -mindepth 1 -maxdepth 1 | wc -l)" = 1 ]; then
	pass "and starts nothing"
else
	fail "and starts nothing: $(ls "$TMPDIR")"
fi
# The rc line, in each shell: the running agent, nothing started.
for sh in sh bash; do
	ok "$sh: eval \"\$(jit-agent --ensure)\" in an rc file" env -u SSH_AUTH_SOCK \
	    -u SSH_AGENT_PID SHELL=/bin/$sh PATH="$(dirname "$AGENT"):$PATH" \
	    $sh -c 'eval "$(jit-agent --ensure)" >/dev/null; echo "$SSH_AUTH_SOCK $SSH_AGENT_PID $JIT_AGENT_SOCK"'
	has "$sh: sets the running agent's variables" "$T/out" "^$S1 $P1 $S1\$"
done
ok "tcsh: eval \`jit-agent --ensure\` in an rc file" env -u SSH_AUTH_SOCK \
    -u SSH_AGENT_PID SHELL=/bin/tcsh PATH="$(dirname "$AGENT"):$PATH" \
    tcsh -f -c 'eval `jit-agent --ensure` >/dev/null; echo "$SSH_AUTH_SOCK $SSH_AGENT_PID $JIT_AGENT_SOCK"'
has "tcsh: sets the running agent's variables" "$T/out" "^$S1 $P1 $S1\$"
if [ "$(find "$TMPDIR" -mindepth 1 -maxdepth 1 | wc -l)" = 1 ]; then
	pass "the rc lines started nothing"
else
	fail "the rc lines started nothing: $(ls "$TMPDIR")"
fi
ok "--ensure with no agent starts one" env XDG_DATA_HOME="$T/xdg-ensure" \
    "$AGENT" --ensure -s
PE=$(val SSH_AGENT_PID "$T/out") SE=$(val SSH_AUTH_SOCK "$T/out")
AGENTS="$AGENTS $PE"
ok "the next --ensure reuses it" env XDG_DATA_HOME="$T/xdg-ensure" \
    "$AGENT" --ensure -s
has "same pid" "$T/out" "^SSH_AGENT_PID=$PE; export SSH_AGENT_PID;\$"
ok "-k of it" env SSH_AGENT_PID="$PE" "$AGENT" -k
ok "it is gone" gone "$SE"

# --- --data-dir: a second agent on a store in use refuses -----------------
fails "--data-dir of a store in use is refused" 1 "$AGENT" -D \
    -a "$T/run/third.sock" --data-dir "$XDG_DATA_HOME/jit-agent"
has "naming the running agent's pid and socket" "$T/err" \
    "another jit-agent uses the data directory $XDG_DATA_HOME/jit-agent \\(pid $P1, socket $S1\\)"

# --- a command under the agent ---------------------------------------------
cat >"$T/cmd.sh" <<EOF
#!/bin/sh
printf '%s %s %s\n' "\$SSH_AUTH_SOCK" "\$SSH_AGENT_PID" "\$JIT_AGENT_SOCK" >"$T/cmd.env"
ssh-add "$T/id_ed25519" 2>/dev/null && ssh-add -l >"$T/cmd.list"
exit 3
EOF
chmod 0755 "$T/cmd.sh"
fails "jit-agent COMMAND: the command's exit status" 3 \
    env XDG_DATA_HOME="$T/xdg-cmd" "$AGENT" "$T/cmd.sh"
read -r SCMD PCMD _ <"$T/cmd.env"
if [ -n "$SCMD" ] && [ -n "$PCMD" ]; then
	pass "the command had SSH_AUTH_SOCK and SSH_AGENT_PID"
else
	fail "the command had SSH_AUTH_SOCK and SSH_AGENT_PID"
fi
AGENTS="$AGENTS $PCMD"
has "and used the agent" "$T/cmd.list" "dropin"
ok "the agent ended with the command" gone "$SCMD"
fails "a command's own options are its own" 0 env XDG_DATA_HOME="$T/xdg-cmd" \
    "$AGENT" sh -c 'exit 0'

# --- -t: the default lifetime of ssh-add keys ----------------------------
ok "-t 1 with -D" env XDG_DATA_HOME="$T/xdg-t" sh -c \
    "'$AGENT' -D -t 1 -a '$T/run/t.sock' >'$T/t.env' 2>'$T/t.log' & echo \$! >'$T/t.pid'"
AGENTS="$AGENTS $(cat "$T/t.pid")"
for _i in $(seq 100); do grep -q '^echo Agent pid' "$T/t.env" && break; sleep 0.05; done
has "-D prints SSH_AUTH_SOCK, not SSH_AGENT_PID (as ssh-agent)" "$T/t.env" \
    "^SSH_AUTH_SOCK=$T/run/t.sock; export SSH_AUTH_SOCK;\$"
hasnt "no SSH_AGENT_PID" "$T/t.env" SSH_AGENT_PID
ok "a key added without -t" env SSH_AUTH_SOCK="$T/run/t.sock" ssh-add "$T/id_ed25519"
has "is added with the agent's lifetime" "$T/t.log" '"event":"add".*"why":"ssh-add -t"'
for _i in $(seq 200); do
	SSH_AUTH_SOCK="$T/run/t.sock" ssh-add -l >/dev/null 2>&1 || break
	sleep 0.1
done
fails "and expires" 1 env SSH_AUTH_SOCK="$T/run/t.sock" ssh-add -l
kill -TERM "$(cat "$T/t.pid")"

# --- refusals ---------------------------------------------------------------
fails "-c and -s together" 1 "$AGENT" -c -s
fails "-E of an unknown hash" 1 "$AGENT" -E sha1
has "says which hashes" "$T/err" "sha256 or md5"
fails "-O of an unknown option" 1 "$AGENT" -O frob
has "names the options" "$T/err" "allow-remote-pkcs11, no-restrict-websafe"
fails "-t 0" 1 "$AGENT" -t 0
fails "-k without SSH_AGENT_PID" 1 env -u SSH_AGENT_PID "$AGENT" -k
has "says so" "$T/err" "SSH_AGENT_PID not set, cannot kill agent"
fails "-D with a command" 1 "$AGENT" -D true

# --- the README's first lines, as written, against sshd -------------------
# ssh and ssh-add read ~/.ssh of the passwd entry, not $HOME: the test user's
# own (a user for the tests alone), whose files this test makes and removes.
H=$(getent passwd "$(id -un)" | cut -d: -f6)
README_MADE=
readme_cleanup() {
	for _f in $README_MADE; do rm -f "$_f"; done
	rmdir "$H/.ssh" 2>/dev/null
	dropin_cleanup
}
trap readme_cleanup EXIT
readme_ready=1
mkdir -p "$H/.ssh" && chmod 0700 "$H/.ssh"
for f in id_ed25519 id_ed25519.pub config known_hosts; do
	if [ -e "$H/.ssh/$f" ]; then
		fail "README: the test user's $H/.ssh/$f exists already: the test makes its own, remove it"
		readme_ready=
	fi
done
if [ -n "$readme_ready" ]; then
	README_MADE="$H/.ssh/id_ed25519 $H/.ssh/id_ed25519.pub $H/.ssh/config $H/.ssh/known_hosts"
	cp "$T/id_ed25519" "$T/id_ed25519.pub" "$H/.ssh/"
	ssh-keygen -q -N '' -t ed25519 -f "$T/host_key"
	cp "$T/id_ed25519.pub" "$T/authorized_keys"
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$T/sshd.conf" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $T/host_key
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
LogLevel VERBOSE
EOF
	"$SSHD" -D -e -f "$T/sshd.conf" 2>"$T/sshd.log" &
	SSHD_PID=$!
	AGENTS="$AGENTS $SSHD_PID"
	for _i in $(seq 100); do
		grep -q "Server listening" "$T/sshd.log" && break
		sleep 0.05
	done
	printf '[127.0.0.1]:%s %s\n' "$PORT" \
	    "$(cut -d' ' -f1,2 "$T/host_key.pub")" >"$H/.ssh/known_hosts"
	cat >"$H/.ssh/config" <<EOF
Host host
	HostName 127.0.0.1
	Port $PORT
	BatchMode yes
EOF
	# The key file goes once ssh-add has it: ssh signs through the agent.
	cat >"$T/readme.sh" <<'EOF'
eval "$(jit-agent)"
ssh-add
mv ~/.ssh/id_ed25519 ~/.ssh/id_ed25519.away
ssh host echo logged in through jit-agent
s=$?
mv ~/.ssh/id_ed25519.away ~/.ssh/id_ed25519
jit-agent -k >/dev/null
exit $s
EOF
	ok "README: eval \"\$(jit-agent)\", ssh-add, ssh host" env \
	    -u SSH_AUTH_SOCK -u SSH_AGENT_PID -u JIT_AGENT_SOCK \
	    -u JIT_AGENT_PID XDG_DATA_HOME="$T/xdg-readme" SHELL=/bin/bash \
	    PATH="$(dirname "$AGENT"):$PATH" bash "$T/readme.sh"
	has "ssh ran the command on the host" "$T/out" \
	    "^logged in through jit-agent\$"
	has "ssh-add added the key" "$T/err" "^Identity added: "
	has "sshd accepted the agent's key" "$T/sshd.log" "Accepted publickey"
	hasnt "the shell ran nothing but the agent's lines" "$T/err" \
	    "command not found"
	kill -TERM "$SSHD_PID" 2>/dev/null
fi

ok "-k of the first agent" "$AGENT" -k
ok "it is gone" gone "$S1"
e2e_done
