#!/usr/bin/env python3
"""Peers for tests/e2e/client.sh: servers jitctl must refuse, and a client
the agent cannot identify.

clientpeer.py listen SOCK
    A server that is not the user's agent: listen on SOCK (made with umask
    0, so anyone may connect), print "ready", then for each connection
    "conn bytes=N" once it closes or has been quiet for a second.  Never
    answers.  Runs until killed.
clientpeer.py take CTL
    The same server on a socket someone else bound: listen on CTL for one
    connection that passes a bound, not yet listening, socket; call
    listen(2) on that one (so SO_PEERCRED names this process's uid), print
    "ready", then serve it as listen does.
clientpeer.py hand SOCK CTL
    Bind SOCK (as the caller: the file is the caller's) and pass it to the
    "take" peer at CTL; exit once it has it.
clientpeer.py hidden SOCK COMM NAME
    A client the agent cannot identify: name itself COMM (/proc/PID/comm),
    make itself non-dumpable, then ask the agent at SOCK for credential
    NAME (get@jit-agent.dev).  Prints "success" or "failure: MESSAGE".
"""
import ctypes
import json
import os
import select
import socket
import struct
import sys
import time

PR_SET_NAME = 15
PR_SET_DUMPABLE = 4
QUIET_S = 1.0


def out(line):
    print(line, flush=True)


def serve(lsock):
    out("ready")
    while True:
        conn, _ = lsock.accept()
        got = 0
        deadline = time.monotonic() + QUIET_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([conn], [], [], left)[0]:
                break
            data = conn.recv(65536)
            if not data:
                break
            got += len(data)
            deadline = time.monotonic() + QUIET_S
        conn.close()
        out("conn bytes=%d" % got)


def listen(path):
    os.umask(0)
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(8)
    serve(s)


def take(ctl):
    os.umask(0)
    c = socket.socket(socket.AF_UNIX)
    c.bind(ctl)
    c.listen(1)
    conn, _ = c.accept()
    _, fds, _, _ = socket.recv_fds(conn, 16, 1)
    s = socket.socket(fileno=fds[0])
    s.listen(8)
    conn.sendall(b"ok")
    conn.close()
    c.close()
    serve(s)


def hand(path, ctl):
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(10)
    c.connect(ctl)
    socket.send_fds(c, [b"x"], [s.fileno()])
    return 0 if c.recv(2) == b"ok" else 1


def string(b):
    return struct.pack(">I", len(b)) + b


def hidden(path, comm, name):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NAME, comm.encode(), 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        out("prctl failed")
        return 2
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(path)
    args = json.dumps({"name": name, "purpose": "get"}).encode()
    body = b"\x1b" + string(b"get@jit-agent.dev") + string(args)
    s.sendall(struct.pack(">I", len(body)) + body)
    hdr = s.recv(4, socket.MSG_WAITALL)
    n = struct.unpack(">I", hdr)[0]
    r = s.recv(n, socket.MSG_WAITALL)
    if r[0] == 6:
        out("success")
        return 0
    if r[0] == 28:
        k = struct.unpack(">I", r[1:5])[0]
        out("failure: " + json.loads(r[5:5 + k]).get("message", ""))
        return 1
    out("reply type %d" % r[0])
    return 1


def main():
    what = sys.argv[1]
    if what == "listen":
        return listen(sys.argv[2])
    if what == "take":
        return take(sys.argv[2])
    if what == "hand":
        return hand(sys.argv[2], sys.argv[3])
    if what == "hidden":
        return hidden(sys.argv[2], sys.argv[3], sys.argv[4])
    return 2


sys.exit(main())
