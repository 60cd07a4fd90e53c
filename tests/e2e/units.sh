#!/usr/bin/env bash
# The systemd user units (systemd-analyze verify), socket activation
# (LISTEN_FDS through systemd-socket-activate), and the bash completion
# with names from the agent.
. "$E2E_DIR/lib.sh"
: "${JIT_TEST_UNITS:?}" "${JIT_SOURCE_DIR:?}" "${JIT_SIM_FIDO2:?}"
BIN_DIR=$(dirname "$JITCTL_BIN")

# --- the units --------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/units" "$T/xdg-run" && chmod 0700 "$T/xdg-run"
	cp "$JIT_TEST_UNITS/test-jit-agent.service" "$T/units/jit-agent.service"
	cp "$JIT_SOURCE_DIR/contrib/systemd/jit-agent.socket" "$T/units/"
	ok "systemd-analyze verify the socket and service units" \
	    env XDG_RUNTIME_DIR="$T/xdg-run" systemd-analyze --user verify \
	    --man=no "$T/units/jit-agent.socket" "$T/units/jit-agent.service"
	hasnt "without a warning" "$T/err" '.'
	has "the service makes the data directory before the sandbox" \
	    "$T/units/jit-agent.service" \
	    '^ExecStartPre=\+/bin/mkdir -p -m 0700 %h/.local/share/jit-agent$'
	# The check can fail: a unit whose program is missing does.
	sed 's|^ExecStart=.*|ExecStart=/nonexistent/jit-agent -f|' \
	    "$T/units/jit-agent.service" > "$T/units/broken.service"
	fails "a broken unit fails the same check" '!' \
	    env XDG_RUNTIME_DIR="$T/xdg-run" systemd-analyze --user verify \
	    --man=no "$T/units/broken.service"
else
	skip "systemd-analyze verify" "systemd-analyze is not installed"
fi

# --- socket activation ------------------------------------------------
if command -v systemd-socket-activate >/dev/null; then
	mkdir -p "$T/act" && chmod 0700 "$T/act"
	ACT="$T/act/agent.sock"
	# As the .socket unit: the socket is made before the agent runs,
	# which starts at the first connection.
	systemd-socket-activate -l "$ACT" "$JIT_AGENT_BIN" -D --data-dir "$DATA" \
	    >"$T/act.out" 2>>"$AGENT_LOG" &
	ACT_PID=$!
	for _i in $(seq 100); do [ -S "$ACT" ] && break; sleep 0.05; done
	ok "the first connection starts the agent on the passed socket" \
	    env JIT_AGENT_SOCK="$ACT" "$JITCTL_BIN" status --json
	has "status names the socket systemd made" "$T/out" \
	    "\"socket\": *\"$ACT\""
	ok "a second client is served by the same agent" \
	    env JIT_AGENT_SOCK="$ACT" "$JITCTL_BIN" status
	kill -TERM "$ACT_PID" 2>/dev/null
	# The agent is the activator's exec'd self: the same pid.
	wait "$ACT_PID" 2>/dev/null
	ok "the socket file stays systemd's (the agent does not remove it)" \
	    test -S "$ACT"
	# Passed a socket but unable to load libsystemd: a sentence, no agent.
	mkdir -p "$T/badlib" && : >"$T/badlib/libsystemd.so.0"
	rm -f "$ACT"
	systemd-socket-activate -l "$ACT" env LD_LIBRARY_PATH="$T/badlib" \
	    "$JIT_AGENT_BIN" -D --data-dir "$DATA" \
	    >"$T/act.out" 2>"$T/act.err" &
	ACT_PID=$!
	for _i in $(seq 100); do [ -S "$ACT" ] && break; sleep 0.05; done
	fails "without a loadable libsystemd, the activated agent refuses" '!' \
	    env JIT_AGENT_SOCK="$ACT" "$JITCTL_BIN" status
	kill -TERM "$ACT_PID" 2>/dev/null
	wait "$ACT_PID" 2>/dev/null
	has "and says why" "$T/act.err" \
	    'systemd passed a socket \(LISTEN_FDS\) but libsystemd cannot be loaded'
else
	skip "socket activation" "systemd-socket-activate is not installed"
fi

# --- completions --------------------------------------------------------
agent_start || exit 1
sim_start yk1 || exit 1
ok "enroll" jitctl enroll fido2 --label yk1 --device "sim:$T/yk1.sock" \
    --allow-simulated
ok "jitctl complete tokens" jitctl complete tokens
has "lists the token" "$T/out" '^yk1$'
ok "add a credential" bash -c "printf 'x' | '$JITCTL_BIN' add db-prod --ttl 1h"
ok "jitctl complete verbs" jitctl complete verbs
has "lists shell" "$T/out" '^shell$'
ok "jitctl complete names" jitctl complete names
has "lists the credential" "$T/out" '^db-prod$'
complete_words() {	# the words bash would offer for the command line "$@"
	PATH="$BIN_DIR:$PATH" bash -c '
		complete() { :; }
		. "$0"
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_jitctl
		printf "%s\n" "${COMPREPLY[@]}"' \
	    "$JIT_SOURCE_DIR/contrib/completions/jitctl.bash" "$@"
}
ok "bash completes a verb" complete_words jitctl unl
has "unlock" "$T/out" '^unlock$'
ok "bash completes a credential name from the agent" \
    complete_words jitctl unlock db-
has "db-prod" "$T/out" '^db-prod$'
if command -v zsh >/dev/null; then
	ok "the zsh completion parses" zsh -n "$JIT_SOURCE_DIR/contrib/completions/_jitctl"
else
	skip "zsh completion" "zsh is not installed"
fi

e2e_done
