#!/usr/bin/python3
"""A subscriber of jit-agent's events that never reads them.

eventpeer.py SOCKET N   subscribe on one connection and read nothing; on
                        another, send N lock requests (each audited as an
                        event), reading each reply; then drain the first
                        connection and print "dropped" if the agent closed
                        it, "kept" if it is still open.
"""
import json
import socket
import struct
import sys


def request(s, verb, args):
    name = (verb + "@jit-agent.dev").encode()
    js = json.dumps(args).encode()
    body = b"\x1b" + struct.pack(">I", len(name)) + name + \
        struct.pack(">I", len(js)) + js
    s.sendall(struct.pack(">I", len(body)) + body)


def reply(s):
    hdr = s.recv(4, socket.MSG_WAITALL)
    if len(hdr) < 4:
        return None
    n = struct.unpack(">I", hdr)[0]
    return s.recv(n, socket.MSG_WAITALL)


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    sub = socket.socket(socket.AF_UNIX)
    sub.settimeout(20)
    sub.connect(path)
    request(sub, "events", {})
    first = reply(sub)
    if not first or first[0] != 6:
        print("not subscribed")
        return 1
    gen = socket.socket(socket.AF_UNIX)
    gen.settimeout(20)
    gen.connect(path)
    for _ in range(n):
        request(gen, "lock", {"names": []})
        r = reply(gen)
        if not r or r[0] != 6:
            print("a lock failed while the subscriber did not read")
            return 1
    # The agent answered every lock: its loop never waited.  Now read.
    got = 0
    sub.settimeout(5)
    try:
        while True:
            data = sub.recv(65536)
            if not data:
                print("dropped after", got, "bytes", file=sys.stderr)
                print("dropped")
                return 0
            got += len(data)
    except ConnectionResetError:
        print("dropped")
        return 0
    except socket.timeout:
        pass
    print("kept")
    return 0


sys.exit(main())
