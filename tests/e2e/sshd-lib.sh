# sshd on loopback for the e2e tests that log in through the agent:
# sshd_start NAME (its own host key, its port in PORT_NAME, trusting
# $T/authorized_keys and $T/ca.pub), ssh_to NAME [ssh options] [command]
# (keys from the agent alone), sshd_stop.  Sourced after lib.sh.
SSHD=${SSHD:-$(command -v sshd || echo /usr/sbin/sshd)}
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
SSHD_PIDS=
sshd_start() {	# NAME: an sshd with its own host key, port in PORT_<NAME>
	_n=$1
	ssh-keygen -q -N '' -t ed25519 -C "host $_n" -f "$T/host_$_n"
	cat > "$T/sshd_$_n.conf" <<EOF
ListenAddress 127.0.0.1
HostKey $T/host_$_n
PidFile $T/sshd_$_n.pid
AuthorizedKeysFile $T/authorized_keys
TrustedUserCAKeys $T/ca.pub
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
MaxAuthTries 50
AllowAgentForwarding yes
LogLevel VERBOSE
EOF
	for _try in 1 2 3 4 5; do
		_p=$(free_port)
		"$SSHD" -D -e -f "$T/sshd_$_n.conf" -p "$_p" \
		    2>>"$T/sshd_$_n.log" &
		_pid=$!
		for _i in $(seq 50); do
			grep -q "Server listening" "$T/sshd_$_n.log" 2>/dev/null &&
			    break
			kill -0 "$_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$_pid" 2>/dev/null; then
			SSHD_PIDS="$SSHD_PIDS $_pid"
			eval "PORT_$_n=$_p"
			printf '%s %s\n' "host$_n" "$(cut -d' ' -f1,2 \
			    "$T/host_$_n.pub")" >> "$T/known_hosts"
			return 0
		fi
	done
	return 1
}
sshd_stop() {
	for _p in $SSHD_PIDS; do kill "$_p" 2>/dev/null; wait "$_p" 2>/dev/null; done
	SSHD_PIDS=
}
# ssh to hostNAME as this user, through the agent, keys from it alone.
# With SSH_EXEC=exec (in a subshell) ssh replaces it: $! is ssh's pid.
ssh_to() {	# NAME [ssh options...] [command]
	_n=$1; shift
	eval "_port=\$PORT_$_n"
	${SSH_EXEC:-} ssh -F /dev/null -p "$_port" -o BatchMode=yes \
	    -o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes \
	    -o HostKeyAlias="host$_n" -o IdentityAgent="$JIT_AGENT_SOCK" \
	    -o IdentityFile="$T/no-such-key" -o PreferredAuthentications=publickey \
	    -o ConnectTimeout=10 "$@"
}
