# Start and stop a private swtpm for tests; meant to be sourced (POSIX sh).
#
#	. tests/lib/swtpm.sh
#	swtpm_start || exit 77		# 77: swtpm is not installed
#	trap swtpm_stop EXIT
#	tpm2_getcap properties-variable	# TPM2TOOLS_TCTI is exported
#	jitctl enroll tpm2 --device "$SWTPM_TCTI" ...
#
# swtpm_start sets SWTPM_DIR (its state), SWTPM_PORT, SWTPM_PID, SWTPM_TCTI
# ("swtpm:host=127.0.0.1,port=N") and exports TPM2TOOLS_TCTI.
# With SWTPM_EK_CA set to a directory holding a CA of the test's
# (signkey.pem, issuercert.pem), the TPM is first manufactured with
# swtpm_setup --create-ek-cert: its EK certificates are signed by that CA.  It returns
# 77 when swtpm is not installed and 1 when it cannot be started.  Both
# functions work under "set -eu".

SWTPM_TRIES=${SWTPM_TRIES:-10}

# A port in [20000, 60000) with the one after it, chosen at random.
swtpm_random_port() {
	_n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $((20000 + _n % 40000 / 2 * 2))
}

# Succeeds once swtpm answers on its control port, $1 + 1: it answers only
# from its main loop, which runs once both sockets are listening.
swtpm_port_open() {
	if command -v swtpm_ioctl >/dev/null 2>&1; then
		swtpm_ioctl --tcp "127.0.0.1:$(($1 + 1))" -c >/dev/null 2>&1
	elif command -v nc >/dev/null 2>&1; then
		nc -z 127.0.0.1 "$1" >/dev/null 2>&1
	else
		bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" >/dev/null 2>&1
	fi
}

# swtpm_manufacture: EK key pairs and certificates from $SWTPM_EK_CA.
swtpm_manufacture() {
	command -v swtpm_setup >/dev/null 2>&1 || return 77
	printf 'statedir = %s\nsigningkey = %s/signkey.pem\nissuercert = %s/issuercert.pem\ncertserial = %s/certserial\n' \
	    "$SWTPM_DIR" "$SWTPM_EK_CA" "$SWTPM_EK_CA" "$SWTPM_DIR" \
	    > "$SWTPM_DIR/localca.conf"
	printf -- '--platform-manufacturer jit-test\n--platform-version 2.1\n--platform-model jit-test\n' \
	    > "$SWTPM_DIR/localca.options"
	printf 'create_certs_tool = %s\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha256\n' \
	    "$(command -v swtpm_localca)" "$SWTPM_DIR/localca.conf" \
	    "$SWTPM_DIR/localca.options" > "$SWTPM_DIR/setup.conf"
	swtpm_setup --tpm2 --tpmstate "$SWTPM_DIR" --create-ek-cert \
	    --config "$SWTPM_DIR/setup.conf" --overwrite \
	    >"$SWTPM_DIR/setup.log" 2>&1
}

swtpm_start() {
	command -v swtpm >/dev/null 2>&1 || return 77
	SWTPM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/jit-swtpm.XXXXXX") || return 1
	if [ -n "${SWTPM_EK_CA:-}" ] && ! swtpm_manufacture; then
		echo "swtpm: swtpm_setup could not manufacture the TPM" \
		    "(see $SWTPM_DIR/setup.log)" >&2
		return 1
	fi
	_try=0
	while [ "$_try" -lt "$SWTPM_TRIES" ]; do
		_try=$((_try + 1))
		SWTPM_PORT=$(swtpm_random_port)
		_ctrl=$((SWTPM_PORT + 1))
		swtpm socket --tpm2 --tpmstate dir="$SWTPM_DIR" \
		    --server type=tcp,port="$SWTPM_PORT",bindaddr=127.0.0.1 \
		    --ctrl type=tcp,port="$_ctrl",bindaddr=127.0.0.1 \
		    --flags not-need-init,startup-clear \
		    --log file="$SWTPM_DIR/log" >/dev/null 2>&1 &
		SWTPM_PID=$!
		# Up to 5 s for it to listen; if it died, the port was taken.
		_wait=0
		while [ "$_wait" -lt 50 ]; do
			if ! kill -0 "$SWTPM_PID" 2>/dev/null; then
				wait "$SWTPM_PID" 2>/dev/null || true
				SWTPM_PID=
				break
			fi
			if swtpm_port_open "$SWTPM_PORT"; then
				SWTPM_TCTI=swtpm:host=127.0.0.1,port=$SWTPM_PORT
				TPM2TOOLS_TCTI=$SWTPM_TCTI
				export SWTPM_DIR SWTPM_PORT SWTPM_PID SWTPM_TCTI
				export TPM2TOOLS_TCTI
				SWTPM_ALL="${SWTPM_ALL:-} $SWTPM_PID:$SWTPM_DIR"
				return 0
			fi
			sleep 0.1
			_wait=$((_wait + 1))
		done
		if [ -n "$SWTPM_PID" ]; then
			swtpm_kill_pid "$SWTPM_PID"
		fi
		SWTPM_PID=
	done
	echo "swtpm: could not start after $SWTPM_TRIES tries" \
	    "(see $SWTPM_DIR/log)" >&2
	return 1
}

# TERM, then KILL after 2 s; reaps the child.
swtpm_kill_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	_wait=0
	while kill -0 "$1" 2>/dev/null && [ "$_wait" -lt 20 ]; do
		sleep 0.1
		_wait=$((_wait + 1))
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	return 0
}

# Stop swtpm and remove its state; safe to call twice or without a start.
swtpm_stop() {
	if [ -n "${SWTPM_PID:-}" ]; then
		swtpm_kill_pid "$SWTPM_PID"
		SWTPM_PID=
	fi
	case "${SWTPM_DIR:-}" in
	*/jit-swtpm.*)	rm -rf "$SWTPM_DIR" ;;
	esac
	SWTPM_DIR=
	return 0
}

# Stop every swtpm this shell started (a test that enrolls two TPMs starts
# two; SWTPM_PID names only the last) and remove their state.
swtpm_stop_all() {
	for _e in ${SWTPM_ALL:-}; do
		swtpm_kill_pid "${_e%%:*}"
		case "${_e#*:}" in
		*/jit-swtpm.*)	rm -rf "${_e#*:}" ;;
		esac
	done
	SWTPM_ALL=
	swtpm_stop
}
