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
        argv = [str(a) for a in req["argv"]]
        env = user_env({str(k): str(v) for k, v in req["env"].items()},
                       nobody)
        env.pop("JIT_OTHER_UID_SOCK", None)
        cwd = req.get("cwd") or "/"
        try:
            proc = subprocess.Popen(
                ["setpriv", "--reuid=%d" % nobody.pw_uid,
                 "--regid=%d" % nobody.pw_gid, "--clear-groups", "--"] + argv,
                stdin=fds[0], stdout=fds[1], stderr=fds[2], env=env, cwd=cwd)
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


def other(cmd):
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
    req = json.dumps({"argv": cmd, "env": dict(os.environ),
                      "cwd": os.getcwd()}).encode()
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
    if len(sys.argv) < 3 or sys.argv[1] not in ("drop", "other"):
        die("usage: testuser.py drop|other CMD [ARG...]", 2)
    if sys.argv[1] == "drop":
        drop(sys.argv[2:])
    else:
        other(sys.argv[2:])


if __name__ == "__main__":
    main()
