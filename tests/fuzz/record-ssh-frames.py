#!/usr/bin/env python3
"""Record the requests real ssh-agent clients send, as fuzz seeds.

record-ssh-frames.py LISTEN_SOCKET AGENT_SOCKET CORPUS_DIR

A proxy between clients (ssh-add, ssh, ssh-keygen -Y: point SSH_AUTH_SOCK
at LISTEN_SOCKET) and an agent.  Every frame a client sends is passed on
unchanged and also written, without its length, to CORPUS_DIR as one file
named by its SHA-1: the input fuzz-ssh-dispatch takes.  Replies are passed
back.  Stops on SIGINT or SIGTERM.
"""
import hashlib
import os
import signal
import socket
import struct
import sys
import threading


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def save(corpus, body):
    name = hashlib.sha1(body).hexdigest()
    path = os.path.join(corpus, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(body)


def relay(client, agent_path, corpus):
    agent = socket.socket(socket.AF_UNIX)
    try:
        agent.connect(agent_path)
        while True:
            hdr = read_exact(client, 4)
            if hdr is None:
                return
            body = read_exact(client, struct.unpack(">I", hdr)[0])
            if body is None:
                return
            save(corpus, body)
            agent.sendall(hdr + body)
            rhdr = read_exact(agent, 4)
            if rhdr is None:
                return
            reply = read_exact(agent, struct.unpack(">I", rhdr)[0])
            if reply is None:
                return
            client.sendall(rhdr + reply)
    except OSError:
        return
    finally:
        client.close()
        agent.close()


def main():
    listen, agent_path, corpus = sys.argv[1:4]
    os.makedirs(corpus, exist_ok=True)
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(listen)
    os.chmod(listen, 0o600)
    srv.listen(16)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        while True:
            c, _ = srv.accept()
            threading.Thread(target=relay, args=(c, agent_path, corpus),
                             daemon=True).start()
    except KeyboardInterrupt:
        pass
    finally:
        os.unlink(listen)


if __name__ == "__main__":
    main()
