# A private pcscd with vsmartcard's vpcd reader, and jit-sim-piv cards in
# it, for tests; meant to be sourced (bash).
#
#	. tests/lib/pcsc.sh
#	pcsc_start || exit 1	# exports PCSCLITE_CSOCK_NAME; sets PIV_READER
#	piv_sim_start yk --serial 4242	# a card in the reader
#	yubico-piv-tool -r "$PIV_READER" -a status
#	piv_sim_stop yk		# the card is pulled out
#	pcsc_stop
#
# pcscd runs as the test user, unprivileged: it insists on making
# /run/pcscd, so it runs in a user and mount namespace of its own where a
# directory of the test is mounted on /run.  Its socket is that directory's
# pcscd/pcscd.comm; clients (libpcsclite) are pointed at it with
# PCSCLITE_CSOCK_NAME.  vpcd listens on a TCP port given by the reader
# configuration (CHANNELID), and on the next one for a second reader
# ("Virtual PCD 00 01"): both are chosen at random and retried if taken.
#
# Needs PCSC_DIR (a private directory) and JIT_SIM_PIV (the simulator).

PCSC_TRIES=${PCSC_TRIES:-8}
PCSC_PID=
# The reader's name: "Virtual PCD" as vsmartcard ships it (ykcs11 lists
# only readers named with "Yubico": PCSC_READER_NAME="Yubico ..." for it).
PCSC_READER_NAME=${PCSC_READER_NAME:-Virtual PCD}
PIV_READER="$PCSC_READER_NAME 00 00"
VPCD_DRIVER=${VPCD_DRIVER:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}

pcsc_random_port() {
	_n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $((20000 + _n % 40000 / 2 * 2))
}

pcsc_start() {
	: "${PCSC_DIR:?}"
	if ! command -v pcscd >/dev/null 2>&1 || [ ! -e "$VPCD_DRIVER" ]; then
		echo "# pcscd or the vpcd driver is not installed (contrib/deps.sh installs pcscd and vsmartcard-vpcd)"
		return 1
	fi
	mkdir -p "$PCSC_DIR/run" "$PCSC_DIR/conf"
	_try=0
	while [ "$_try" -lt "$PCSC_TRIES" ]; do
		_try=$((_try + 1))
		VPCD_PORT=$(pcsc_random_port)
		printf 'FRIENDLYNAME "%s"\nDEVICENAME /dev/null:%d\nLIBPATH %s\nCHANNELID %d\n' \
		    "$PCSC_READER_NAME" "$VPCD_PORT" "$VPCD_DRIVER" "$VPCD_PORT" \
		    >"$PCSC_DIR/conf/vpcd"
		rm -rf "$PCSC_DIR/run/pcscd"
		unshare --user --map-root-user --mount sh -c \
		    'mount --bind "$1" /run && exec pcscd -f -i -c "$2"' sh \
		    "$PCSC_DIR/run" "$PCSC_DIR/conf" >"$PCSC_DIR/log" 2>&1 &
		PCSC_PID=$!
		export PCSCLITE_CSOCK_NAME="$PCSC_DIR/run/pcscd/pcscd.comm"
		for _i in $(seq 100); do
			kill -0 "$PCSC_PID" 2>/dev/null || break
			grep -q 'daemon ready' "$PCSC_DIR/log" && break
			sleep 0.05
		done
		if kill -0 "$PCSC_PID" 2>/dev/null &&
		    grep -q 'daemon ready' "$PCSC_DIR/log" &&
		    ! grep -q 'Could not initialize' "$PCSC_DIR/log"; then
			return 0
		fi
		pcsc_stop
	done
	echo "# pcscd did not start with the vpcd reader:"
	sed 's/^/#   /' "$PCSC_DIR/log" | tail -20
	return 1
}

pcsc_stop() {
	[ -n "${PCSC_PID:-}" ] || return 0
	kill -TERM "$PCSC_PID" 2>/dev/null
	wait "$PCSC_PID" 2>/dev/null
	PCSC_PID=
}

# piv_sim_start NAME [ARGS...]: the card NAME (state $PCSC_DIR/NAME.state,
# touch answer read from $PCSC_DIR/NAME.touch before every touch) put into
# the reader; returns once pcscd has powered it up.  A NAME still running
# (left in the reader of a pcscd stopped since) is stopped first: it would
# outlive the test, calling a port another test may take.
piv_sim_start() {
	_n=$1
	shift
	: "${JIT_SIM_PIV:?}"
	eval "_old=\${PIV_SIM_PID_$_n:-}"
	if [ -n "$_old" ]; then
		kill -TERM "$_old" 2>/dev/null
		wait "$_old" 2>/dev/null
	fi
	[ -f "$PCSC_DIR/$_n.touch" ] || echo approve >"$PCSC_DIR/$_n.touch"
	: >"$PCSC_DIR/$_n.out"
	_in=$(grep -c 'Card inserted into' "$PCSC_DIR/log" 2>/dev/null || true)
	JIT_SIM_TOUCH_FILE="$PCSC_DIR/$_n.touch" "$JIT_SIM_PIV" \
	    --vpcd "127.0.0.1:$VPCD_PORT" --state "$PCSC_DIR/$_n.state" \
	    --verbose "$@" \
	    >"$PCSC_DIR/$_n.out" 2>>"$PCSC_DIR/$_n.log" &
	eval "PIV_SIM_PID_$_n=$!"
	case " ${PIV_SIMS:-} " in *" $_n "*) ;; *) PIV_SIMS="${PIV_SIMS:-} $_n" ;; esac
	for _i in $(seq 200); do
		grep -q ready "$PCSC_DIR/$_n.out" 2>/dev/null && break
		eval "_p=\$PIV_SIM_PID_$_n"
		kill -0 "$_p" 2>/dev/null || break
		sleep 0.05
	done
	# Ready once pcscd has seen it too (else a client's connect can find
	# the reader still empty).
	for _i in $(seq 200); do
		grep -q ready "$PCSC_DIR/$_n.out" 2>/dev/null || break
		[ "$(grep -c 'Card inserted into' "$PCSC_DIR/log" || true)" -gt "${_in:-0}" ] &&
		    return 0
		sleep 0.05
	done
	echo "# the PIV card $_n did not come up in the reader:"
	sed 's/^/#   /' "$PCSC_DIR/$_n.log" | tail -20
	return 1
}

# piv_sim_stop NAME: the card is pulled out; returns once pcscd has seen
# it go (as a person is slower than its 0.4 s polling: a card put back
# before pcscd noticed would be taken for the one that was never gone).
piv_sim_stop() {
	eval "_p=\${PIV_SIM_PID_$1:-}"
	[ -n "$_p" ] || return 0
	_gone=$(grep -c 'Card Removed From' "$PCSC_DIR/log" 2>/dev/null || true)
	kill -TERM "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	eval "PIV_SIM_PID_$1="
	[ -n "${PCSC_PID:-}" ] || return 0
	for _i in $(seq 100); do
		[ "$(grep -c 'Card Removed From' "$PCSC_DIR/log" || true)" -gt "$_gone" ] &&
		    return 0
		sleep 0.05
	done
	echo "# pcscd did not notice that the card $1 was pulled out"
}

piv_sim_touch() { echo "$2" >"$PCSC_DIR/$1.touch"; }

pcsc_cleanup() {
	for _s in ${PIV_SIMS:-}; do piv_sim_stop "$_s"; done
	pcsc_stop
}
