#!/usr/bin/env python3
"""A raw ssh-agent protocol peer for the end-to-end tests.

rawpeer.py SOCKET oversize      send a 256 KiB + 1 length; expect a hang-up
rawpeer.py SOCKET list          REQUEST_IDENTITIES; print the reply type
rawpeer.py SOCKET unknown       an unknown type; expect SSH_AGENT_FAILURE
rawpeer.py SOCKET partial SECS  send half a frame and hold it SECS seconds
rawpeer.py SOCKET garbage       malformed extension bodies; expect failures
"""
import socket
import struct
import sys
import time

FRAME_MAX = 256 * 1024


def frame(body):
    return struct.pack(">I", len(body)) + body


def string(b):
    return struct.pack(">I", len(b)) + b


def reply(s):
    try:
        hdr = s.recv(4, socket.MSG_WAITALL)
    except ConnectionResetError:    # closed with our request unread
        return None
    if len(hdr) < 4:
        return None
    n = struct.unpack(">I", hdr)[0]
    return s.recv(n, socket.MSG_WAITALL)


def main():
    path, what = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    if what == "oversize":
        s.sendall(struct.pack(">I", FRAME_MAX + 1) + b"\x1b")
        try:
            data = s.recv(1)
        except ConnectionResetError:
            data = b""
        print("closed" if data == b"" else "answered")
        return 0 if data == b"" else 1
    if what == "list":
        try:
            s.sendall(frame(b"\x0b"))
        except (BrokenPipeError, ConnectionResetError):
            pass            # closed before we spoke: reply() says so
        r = reply(s)
        print(r[0] if r else "closed")
        return 0 if r and r[0] == 12 else 1
    if what == "unknown":
        s.sendall(frame(b"\xc8hello"))
        r = reply(s)
        return 0 if r == b"\x05" else 1
    if what == "partial":
        s.sendall(struct.pack(">I", 100) + b"\x1b" + b"x" * 10)
        time.sleep(float(sys.argv[3]))
        print("held")
        return 0
    if what == "garbage":
        bad = [
            b"\x1b",                                  # no name
            b"\x1b" + string(b"status@jit-agent.dev"),  # no args
            b"\x1b" + string(b"status@jit-agent.dev") + string(b"[1]"),
            b"\x1b" + string(b"status@jit-agent.dev") + string(b"{}") +
            b"\x00",                                  # trailing byte
            b"\x1b" + string(b"get@jit-agent.dev") + string(b'{"name":5}'),
            b"\x1b" + string(b"add@jit-agent.dev") +
            string(b'{"name":"a","ttl":9}') + string(b"\xff" * 8),
            b"\x1b" + string(b"nope@jit-agent.dev") + string(b"{}"),
            b"\x1b" + string(b"status@jit-agent.dev\x00x") + string(b"{}"),
        ]
        for b in bad:
            s.sendall(frame(b))
            r = reply(s)
            if r is None or r[0] not in (5, 28):
                print("unexpected reply", r)
                return 1
        return 0
    return 2


sys.exit(main())
