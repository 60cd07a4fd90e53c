#!/usr/bin/env bash
# OpenSSH's own agent regression tests, run against the built jit-agent.
#
# The scripts come from Debian's openssh source package of the installed
# openssh-client (9.2p1 on Debian 12), fetched with `apt-get source` at test
# time through a deb-src entry derived from this machine's own Debian apt
# sources (deb-src.py) into a private apt state; nothing of it is committed.
# The unpacked tree is kept in $JIT_OPENSSH_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/jit-agent/openssh-regress) for the next run;
# JIT_OPENSSH_SRC names an unpacked tree to use instead.
#
# Every script runs as OpenSSH's Makefile runs it (sh test-exec.sh OBJ
# SCRIPT) with TEST_SSH_SSHAGENT=$JIT_AGENT_BIN and Debian's ssh, sshd,
# ssh-add, ssh-keygen.  What stands between them:
#  - `ssh`, first in PATH and TEST_SSH_SSH, is OpenSSH's ssh with ssh-dss
#    (DSA: jit-agent refuses it, as OpenSSH 10 does) and sk-* (no
#    sk-dummy.so outside a built tree) left out of its -Q key lists;
#  - `sudo`, first in PATH: with -u nobody it runs the command as nobody
#    through the tests' root parent (tests/lib/testuser.py other); else it
#    runs it as the test user, with no privilege: agent-ptrace.sh then
#    checks that the same user cannot attach to the agent;
#  - config.h in BUILDDIR holds the one define of Debian's build the
#    scripts ask about (HAVE_SO_PEERCRED);
#  - hostkey-agent.sh signs with ssh-rsa (SHA-1), and so does
#    agent-pkcs11.sh's `ssh-add -T` of its RSA key: their agents run with
#    ssh_rsa_sha1 = yes in their configuration, the others without;
#  - agent-pkcs11.sh needs SoftHSM2 (Debian's softhsm2: softhsm2-util and
#    libsofthsm2.so under /usr/lib, which -P's default allows) and
#    OpenSSH's ssh-pkcs11-helper (TEST_SSH_SSHPKCS11HELPER below), which
#    jit-agent runs for ssh-add -s as OpenSSH's ssh-agent does.
# A script that fails or prints a skip fails this test.
# Usage: regress.sh [SCRIPT ...]  (default: the list below)
set -u
export LC_ALL=C
: "${JIT_AGENT_BIN:?JIT_AGENT_BIN names the jit-agent to test}"
HERE=$(cd "$(dirname "$0")" && pwd)
TESTUSER="$HERE/../lib/testuser.py"
# The longest first, so that two at a time end together.
SCRIPTS=(agent-restrict sshsig agent hostkey-agent cert-file agent-timeout
	agent-pkcs11 agent-subprocess agent-getpeereid agent-ptrace)
[ $# -gt 0 ] && SCRIPTS=("$@")

say() { printf '%s\n' "$*"; }
die() { say "openssh-regress: $*" >&2; exit 1; }

# The source: Debian's package for the installed client.
version=$(dpkg-query -W -f='${source:Version}' openssh-client 2>/dev/null) ||
	die "openssh-client is not installed (contrib/deps.sh installs it)"
fetch_source() {
	local cache=$1 apt
	apt=$(mktemp -d "${TMPDIR:-/tmp}/jit-openssh-apt.XXXXXX") || return 1
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/src"
	"$HERE/deb-src.py" >"$apt/deb-src.sources" || { rm -rf "$apt"; return 1; }
	local opts=(-q -o "Dir::Etc::SourceList=$apt/deb-src.sources"
		-o Dir::Etc::SourceParts=/nonexistent
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
		-o Debug::NoLocking=1)
	[ "$(id -u)" = 0 ] || opts+=(-o "APT::Sandbox::User=$(id -un)")
	say "# fetching Debian's openssh $version source (apt-get source)"
	# update fails as a whole when any one index does: the source says.
	apt-get "${opts[@]}" update >"$apt/update.log" 2>&1
	if ! (cd "$apt/src" && apt-get "${opts[@]}" source --download-only \
	    "openssh=$version") >"$apt/source.log" 2>&1 ||
	    ! (cd "$apt/src" && dpkg-source -x ./*.dsc tree) \
	    >>"$apt/source.log" 2>&1; then
		sed 's/^/#   /' "$apt/update.log" "$apt/source.log"
		rm -rf "$apt"
		return 1
	fi
	rm -rf "$cache"
	mkdir -p "$(dirname "$cache")" && mv "$apt/src/tree" "$cache"
	rm -rf "$apt"
}
if [ -n "${JIT_OPENSSH_SRC:-}" ]; then
	SRC=$JIT_OPENSSH_SRC
else
	SRC=${JIT_OPENSSH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jit-agent/openssh-regress}/$version
	[ -f "$SRC/regress/test-exec.sh" ] || fetch_source "$SRC" ||
		die "cannot fetch Debian's openssh $version source: see above"
fi
REGRESS=$SRC/regress
[ -f "$REGRESS/test-exec.sh" ] || die "no regress/test-exec.sh in $SRC"

T=$(mktemp -d "${TMPDIR:-/tmp}/jit-openssh.XXXXXX") || exit 1
chmod 0755 "$T"
cleanup() {
	# Agents a failed script left behind: each holds the lock of its
	# store (the scripts' own, or a keys-only agent's in TMPDIR), which
	# names its pid.
	local lock pid
	while IFS= read -r lock; do
		flock -n "$lock" true 2>/dev/null && continue
		pid=$(sed -n 's/^pid \([0-9]*\),.*/\1/p' "$lock")
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done < <(find "$T" -name agent.lock 2>/dev/null)
	if [ "${JIT_OPENSSH_KEEP:-}" = 1 ]; then
		say "# kept $T (JIT_OPENSSH_KEEP=1)"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

mkdir -p "$T/bin" "$T/build"
REAL_SSH=$(command -v ssh) || die "no ssh in PATH"
cat >"$T/bin/ssh" <<EOF
#!/bin/sh
# OpenSSH's ssh, with DSA and sk- key types out of its -Q lists (the
# regress's log wrapper puts -E LOGFILE before -Q).
q=
for a in "\$@"; do
	[ "\$q" = next ] && { q=\$a; break; }
	[ "\$a" = -Q ] && q=next
done
case "\$q" in
key|key-plain|key-sig|key-cert|sig|HostKeyAlgorithms|PubkeyAcceptedAlgorithms)
	"$REAL_SSH" "\$@" | grep -v -e '^ssh-dss' -e '^sk-'
	exit 0 ;;
esac
exec "$REAL_SSH" "\$@"
EOF
cat >"$T/bin/sudo" <<EOF
#!/bin/sh
# -u nobody: as nobody, through the tests' root parent; else as this user.
user=
while [ \$# -gt 0 ]; do
	case "\$1" in
	-S|-n) shift ;;
	-u) user=\$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "sudo (regress): unsupported option \$1" >&2; exit 1 ;;
	*) break ;;
	esac
done
case "\$user" in
"") exec "\$@" ;;
nobody) exec /usr/bin/python3 "$TESTUSER" other "\$@" ;;
*) echo "sudo (regress): only -u nobody" >&2; exit 1 ;;
esac
EOF
chmod 0755 "$T/bin/ssh" "$T/bin/sudo"
printf '#define HAVE_SO_PEERCRED 1\n' >"$T/build/config.h"

# A free port for each script that starts sshd.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

export PATH="$T/bin:$PATH"
export TEST_SHELL=sh TEST_SSH_UNSAFE_PERMISSIONS=1
export TEST_SSH_SSH="$T/bin/ssh" TEST_SSH_SSHAGENT="$JIT_AGENT_BIN"
export TEST_SSH_SSHD=/usr/sbin/sshd TEST_SSH_SSHADD=$(command -v ssh-add)
export TEST_SSH_SSHKEYGEN=$(command -v ssh-keygen)
export TEST_SSH_SSHKEYSCAN=$(command -v ssh-keyscan)
export TEST_SSH_SFTP=$(command -v sftp) TEST_SSH_SCP=$(command -v scp)
export TEST_SSH_SFTPSERVER=/usr/lib/openssh/sftp-server
export TEST_SSH_SSHPKCS11HELPER=/usr/lib/openssh/ssh-pkcs11-helper
export BUILDDIR="$T/build"
unset SSH_AUTH_SOCK SSH_AGENT_PID JIT_AGENT_SOCK JIT_AGENT_PID DISPLAY

# agent-ptrace.sh runs regress/setuid-allowed.c, built here from its source
# (it needs nothing of OpenSSH's but an includes.h).
if [[ " ${SCRIPTS[*]} " == *" agent-ptrace "* ]]; then
	: >"$T/build/includes.h"
	cc -I"$T/build" -DHAVE_SYS_STATVFS_H -include sys/statvfs.h \
	    -o "$T/setuid-allowed" "$REGRESS/setuid-allowed.c" ||
		die "cannot build regress/setuid-allowed.c"
fi
# agent-getpeereid.sh needs a client of another uid.
other_uid_ok=0
if [ -n "${JIT_OTHER_UID_SOCK:-}" ] &&
    [ "$(sudo -u nobody id -un 2>/dev/null)" = nobody ]; then
	other_uid_ok=1
fi

# One script, in its own OBJ directory (named by number: hostkey-agent.sh
# drops every sshd_config line that mentions "hostkey", paths included).
run_one() {
	local s=$1 obj=$2 t0 rc secs sudo_var=
	mkdir -p "$obj"
	cp "$T/setuid-allowed" "$obj/" 2>/dev/null
	# Each script's agents get a store and a configuration of their own.
	mkdir -p "$obj/xdg/config/jit-agent" "$obj/xdg/data" "$obj/tmp"
	if [ "$s" = hostkey-agent ] || [ "$s" = agent-pkcs11 ]; then
		printf '[agent]\nssh_rsa_sha1 = yes\n' \
		    >"$obj/xdg/config/jit-agent/config"
	fi
	if [ "$s" = agent-getpeereid ] || [ "$s" = agent-ptrace ]; then
		sudo_var=sudo
	fi
	t0=$(date +%s)
	(cd "$REGRESS" && SUDO=$sudo_var TEST_SSH_PORT=$(free_port) \
	    XDG_CONFIG_HOME="$obj/xdg/config" XDG_DATA_HOME="$obj/xdg/data" \
	    TMPDIR="$obj/tmp" sh test-exec.sh "$obj" "$REGRESS/$s.sh") \
	    >"$obj/out" 2>&1 </dev/null
	rc=$?
	secs=$(($(date +%s) - t0))
	if [ $rc = 0 ] && ! grep -qiE '^skipped' "$obj/out"; then
		say "ok $s (${secs}s)" >"$obj/result"
		return
	fi
	{
		say "not ok $s (exit $rc, ${secs}s):"
		sed 's/^/#   /' "$obj/out"
		for f in failed-regress.log failed-ssh.log failed-sshd.log; do
			[ -f "$obj/$f" ] || continue
			say "#   --- $f (last 40 lines)"
			tail -40 "$obj/$f" | sed 's/^/#   /'
		done
	} >"$obj/result"
}

# JIT_OPENSSH_JOBS scripts at a time (2: CI's cores).
jobs_max=${JIT_OPENSSH_JOBS:-2}
start_all=$(date +%s)
i=0
for s in "${SCRIPTS[@]}"; do
	i=$((i + 1))
	if [ "$s" = agent-getpeereid ] && [ $other_uid_ok = 0 ]; then
		if [ "${JIT_E2E_SKIP_OTHER_UID:-}" = 1 ]; then
			say "# $s: skipped (JIT_E2E_SKIP_OTHER_UID=1)" \
			    >"$T/o$i.result"
		else
			say "not ok $s: a client of another uid needs the test to start as root (it drops to jit-e2e itself); JIT_E2E_SKIP_OTHER_UID=1 skips it" \
			    >"$T/o$i.result"
		fi
		continue
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
		wait -n
	done
	run_one "$s" "$T/o$i" &
done
wait
pass=0 failed=()
i=0
for s in "${SCRIPTS[@]}"; do
	i=$((i + 1))
	r="$T/o$i/result"
	[ -f "$r" ] || r="$T/o$i.result"
	cat "$r" 2>/dev/null || say "not ok $s: no result"
	if grep -q "^ok $s " "$r" 2>/dev/null; then
		pass=$((pass + 1))
	elif ! grep -q "^# $s: skipped" "$r" 2>/dev/null; then
		failed+=("$s")
	fi
done
say "# openssh $version regress against $JIT_AGENT_BIN: $pass passed, ${#failed[@]} failed${failed:+ (${failed[*]})}, $(($(date +%s) - start_all))s"
[ ${#failed[@]} = 0 ]
