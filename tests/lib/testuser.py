#!/usr/bin/env python3
"""Run the tests as the user the product runs as.

testuser.py drop CMD [ARG...]
    Started as root: run CMD as the test user ($JIT_TEST_USER, default
    jit-e2e; contrib/deps.sh creates it) through setpriv, with HOME, USER
    and LOGNAME set to that user's and the rest of the environment kept;
    while CMD runs, serve "testuser.py other" for it on the socket named
    by $JIT_OTHER_UID_SOCK.  Exits with CMD's status; everything it serves
    dies with it.  Started by anyone else: exec CMD unchanged.
    tests/meson.build makes this the wrapper of every test, and
    tests/e2e/lib.sh runs a script started by hand as root through it.

testuser.py other CMD [ARG...]
    Run CMD as nobody through the root parent's runner: with this
    process's stdin, stdout and stderr, environment (HOME, USER and LOGNAME
    nobody's) and working directory, and exit with its status.  Killing
    this process kills CMD.  Without $JIT_OTHER_UID_SOCK (the tests were
    not started as root) it says so and exits 125.

testuser.py root CMD [ARG...]
    The same as "other", but CMD runs as root: for the few checks that a
    root client is served as OpenSSH serves it.  Root only for CMD.

testuser.py scan PID NEEDLE...
    Search the memory (/proc/PID/mem, every mapping of 256 MiB or less,
    unreadable pages included) and the environment of PID, a process of
    the test user, for each NEEDLE, through the root parent: the agent is
    not dumpable, so only root can read it.  Prints where each was found;
    exits 0 when none was, 1 when one was, 125 when it could not look.
"""
import json
import os
import pwd
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading

NOT_RUN = 125
REQUEST_MAX = 1 << 20
SCAN_REGION_MAX = 256 << 20
SCAN_CHUNK = 1 << 20
running = set()         # the other-uid commands running now


def die(msg, code=1):
    print("testuser.py: " + msg, file=sys.stderr)
    sys.exit(code)


def die_by_signal(sig):
    """End as a command killed by SIG ended, for whoever waits for us."""
    try:
        signal.signal(sig, signal.SIG_DFL)
    except (OSError, ValueError):
        pass            # SIGKILL, SIGSTOP: always the default
    os.kill(os.getpid(), sig)
    sys.exit(128 + sig)


def user_env(env, pw):
    env = dict(env)
    env["HOME"] = pw.pw_dir
    env["USER"] = env["LOGNAME"] = pw.pw_name
    # Root's session directory is not this user's.
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def peer_uid(conn):
    cred = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                           struct.calcsize("3i"))
    return struct.unpack("3i", cred)[1]


def scan(pid, needles, user_uid, out):
    """Where the needles are in the memory and environment of pid."""
    if os.stat("/proc/%d" % pid).st_uid != user_uid:
        raise ValueError("process %d is not the test user's" % pid)
    found = 0
    longest = max(len(n) for n in needles)
    with open("/proc/%d/environ" % pid, "rb") as f:
        env = f.read()
    for n in needles:
        if n in env:
            out.write("found %r in the environment\n" % n)
            found += 1
    regions = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if hi - lo <= SCAN_REGION_MAX:
                regions.append((lo, hi, parts[5].strip()
                                if len(parts) > 5 else "[anon]"))
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for lo, hi, what in regions:
            tail = b""
            for at in range(lo, hi, SCAN_CHUNK):
                try:
                    mem.seek(at)
                    buf = mem.read(min(SCAN_CHUNK, hi - at))
                except (OSError, ValueError, OverflowError):
                    tail = b""
                    continue
                hay = tail + buf
                for n in needles:
                    i = hay.find(n)
                    if i >= 0:
                        out.write("found %r at %#x (%s)\n"
                                  % (n, at - len(tail) + i, what))
                        found += 1
                tail = buf[-(longest - 1):] if longest > 1 else b""
    return found


def serve_scan(conn, req, fds, user_uid):
    with os.fdopen(os.dup(fds[1]), "w") as out:
        try:
            needles = [str(n).encode() for n in req["needles"]]
            if not needles or min(len(n) for n in needles) < 8:
                raise ValueError("needles of 8 bytes or more, please")
            found = scan(int(req["scan"]), needles, user_uid, out)
        except (OSError, ValueError, KeyError, TypeError) as e:
            out.write("cannot scan: %s\n" % e)
            out.flush()
            conn.send(b"exit %d" % NOT_RUN)
            return
        out.flush()
    conn.send(b"exit %d" % (1 if found else 0))


def serve_one(conn, user_uid, nobody):
    """One request: argv, env and cwd as JSON, stdin/out/err as fds."""
    fds = []
    proc = None
    try:
        if peer_uid(conn) not in (user_uid, 0):
            return
        msg, fds, _, _ = socket.recv_fds(conn, REQUEST_MAX, 3)
        if len(fds) != 3:
            conn.send(b"error: stdin, stdout and stderr were not passed")
            return
        req = json.loads(msg)
        if "scan" in req:
            serve_scan(conn, req, fds, user_uid)
            return
        argv = [str(a) for a in req["argv"]]
        who = pwd.getpwuid(0) if req.get("root") else nobody
        env = user_env({str(k): str(v) for k, v in req["env"].items()},
                       who)
        env.pop("JIT_OTHER_UID_SOCK", None)
        cwd = req.get("cwd") or "/"
        if not req.get("root"):
            argv = ["setpriv", "--reuid=%d" % nobody.pw_uid,
                    "--regid=%d" % nobody.pw_gid, "--clear-groups",
                    "--"] + argv
        try:
            proc = subprocess.Popen(
                argv, stdin=fds[0], stdout=fds[1], stderr=fds[2], env=env,
                cwd=cwd)
        except OSError as e:
            conn.send(("error: %s" % e).encode())
            return
        running.add(proc)
        for fd in fds:
            os.close(fd)
        fds = []
        # Wait for the command; a client that goes away takes it along.
        p = select.poll()
        p.register(conn, select.POLLIN | select.POLLHUP)
        while proc.poll() is None:
            if p.poll(100):
                proc.kill()
                proc.wait()
                return
        rc = proc.returncode
        conn.send(b"signal %d" % -rc if rc < 0 else b"exit %d" % rc)
    except (OSError, ValueError, KeyError, TypeError) as e:
        try:
            conn.send(("error: %s" % e).encode())
        except OSError:
            pass
    finally:
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            running.discard(proc)
        for fd in fds:
            os.close(fd)
        conn.close()


def serve(lsock, user_uid, nobody):
    while True:
        try:
            conn, _ = lsock.accept()
        except OSError:
            return
        threading.Thread(target=serve_one, args=(conn, user_uid, nobody),
                         daemon=True).start()


def drop(cmd):
    if os.geteuid() != 0:
        os.execvp(cmd[0], cmd)
    name = os.environ.get("JIT_TEST_USER", "jit-e2e")
    try:
        pw = pwd.getpwnam(name)
        nobody = pwd.getpwnam("nobody")
    except KeyError as e:
        die("the tests run as the ordinary user %s, and there is no such "
            "user (%s): run contrib/deps.sh, which creates it, or name "
            "another in JIT_TEST_USER" % (name, e.args[0]))
    if pw.pw_uid == 0 or pw.pw_uid == nobody.pw_uid:
        die("JIT_TEST_USER=%s: the test user must be an ordinary user, "
            "neither root nor nobody" % name)
    if shutil.which("setpriv") is None:
        die("setpriv (util-linux) is needed to drop root for the tests")

    # A directory only root can list; the socket only the test user opens.
    sdir = tempfile.mkdtemp(prefix="jit-otheruid.")
    try:
        os.chmod(sdir, 0o711)
        path = os.path.join(sdir, "runner.sock")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        lsock.bind(path)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, 0o600)
        lsock.listen(16)
        threading.Thread(target=serve, args=(lsock, pw.pw_uid, nobody),
                         daemon=True).start()

        env = user_env(os.environ, pw)
        env["JIT_OTHER_UID_SOCK"] = path
        child = subprocess.Popen(
            ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
             "--init-groups", "--"] + cmd, env=env)

        def forward(sig, _frame):
            child.send_signal(sig)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, forward)
        rc = child.wait()
        lsock.close()
    finally:
        for proc in list(running):
            proc.kill()
        shutil.rmtree(sdir, ignore_errors=True)
    if rc < 0:
        die_by_signal(-rc)
    sys.exit(rc)


def other(cmd, scan_req=None, root=False):
    path = os.environ.get("JIT_OTHER_UID_SOCK")
    if not path:
        die("running a command as another uid needs the tests to be started "
            "as root (they drop to an ordinary user themselves and keep a "
            "runner for this)", NOT_RUN)
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_RDWR))
    req = json.dumps(scan_req if scan_req is not None else
                     {"argv": cmd, "env": dict(os.environ),
                      "cwd": os.getcwd(), "root": root}).encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
        socket.send_fds(s, [req], fds)
        ans = s.recv(4096).decode()
    except OSError as e:
        die("the runner at %s did not answer: %s" % (path, e), NOT_RUN)
    kind, _, val = ans.partition(" ")
    if kind == "exit":
        sys.exit(int(val))
    if kind == "signal":
        die_by_signal(int(val))
    die("the runner could not run %s: %s" % (cmd[0], ans or "no answer"),
        NOT_RUN)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("drop", "other", "root",
                                                "scan"):
        die("usage: testuser.py drop|other|root CMD [ARG...] | "
            "scan PID NEEDLE...", 2)
    if sys.argv[1] == "drop":
        drop(sys.argv[2:])
    elif sys.argv[1] == "scan":
        other(sys.argv[2:], {"scan": sys.argv[2], "needles": sys.argv[3:]})
    else:
        other(sys.argv[2:], root=sys.argv[1] == "root")


if __name__ == "__main__":
    main()
