#!/usr/bin/env python3
"""A raw ssh-agent protocol peer for tests/e2e/ssh.sh (standard library only).

sshpeer.py seed KEYFILE
    print the base64 of the 32-byte seed of an unencrypted OpenSSH ed25519
    private key file (what an ssh-cert credential's "key" field holds)
sshpeer.py sign-sha1 SOCKET PUBFILE
    ask for a signature with flags 0 (ssh-rsa, SHA-1); succeed if refused
sshpeer.py binds SOCKET HOSTPUB USERPUB
    session-bind@openssh.com checks: a good bind (its host signature made
    by the agent itself with HOSTPUB's key) marks the connection as
    forwarded, so jitctl verbs are refused; a bad signature is refused and
    that connection can no longer sign or list; a connection bound for
    authentication takes no second bind
"""
import base64
import os
import socket
import struct
import sys

SSH_AGENT_FAILURE = 5
SSH_AGENT_SUCCESS = 6
REQUEST_IDENTITIES = 11
IDENTITIES_ANSWER = 12
SIGN_REQUEST = 13
SIGN_RESPONSE = 14
EXTENSION = 27
EXTENSION_FAILURE = 28


def string(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def get_string(buf, off):
    n = struct.unpack(">I", buf[off:off + 4])[0]
    return buf[off + 4:off + 4 + n], off + 4 + n


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(path)
    return s


def request(s, body):
    s.sendall(struct.pack(">I", len(body)) + body)
    hdr = s.recv(4, socket.MSG_WAITALL)
    if len(hdr) < 4:
        return None
    n = struct.unpack(">I", hdr)[0]
    return s.recv(n, socket.MSG_WAITALL)


def pub_blob(path):
    with open(path) as f:
        return base64.b64decode(f.read().split()[1])


def ed25519_seed(path):
    with open(path) as f:
        lines = [l.strip() for l in f if not l.startswith("-----")]
    d = base64.b64decode("".join(lines))
    magic = b"openssh-key-v1\0"
    if not d.startswith(magic):
        raise SystemExit("not an OpenSSH private key file")
    off = len(magic)
    cipher, off = get_string(d, off)
    kdf, off = get_string(d, off)
    _, off = get_string(d, off)
    if cipher != b"none" or kdf != b"none":
        raise SystemExit("the key file is encrypted")
    nkeys = struct.unpack(">I", d[off:off + 4])[0]
    off += 4
    if nkeys != 1:
        raise SystemExit("expected one key")
    _, off = get_string(d, off)
    priv, _ = get_string(d, off)
    p = 8                               # two check integers
    ktype, p = get_string(priv, p)
    if ktype != b"ssh-ed25519":
        raise SystemExit("not an ed25519 key")
    _, p = get_string(priv, p)          # public key
    sk, p = get_string(priv, p)         # seed || public key
    return sk[:32]


def sign(s, blob, data, flags):
    return request(s, bytes([SIGN_REQUEST]) + string(blob) + string(data) +
                   struct.pack(">I", flags))


def cmd_sign_sha1(sock, pubfile):
    r = sign(connect(sock), pub_blob(pubfile), b"data to sign", 0)
    print("reply type", r[0] if r else "closed")
    return 0 if r == bytes([SSH_AGENT_FAILURE]) else 1


def bind(s, hostblob, sid, sig, fwd):
    return request(s, bytes([EXTENSION]) + string("session-bind@openssh.com") +
                   string(hostblob) + string(sid) + string(sig) + bytes([fwd]))


def nkeys(r):
    if r is None or r[0] != IDENTITIES_ANSWER:
        return -1
    return struct.unpack(">I", r[1:5])[0]


def cmd_binds(sock, hostpub, userpub):
    host, user = pub_blob(hostpub), pub_blob(userpub)
    fails = 0

    def check(what, cond):
        nonlocal fails
        print(("ok   " if cond else "FAIL ") + what)
        fails += 0 if cond else 1

    # The host key is in the agent: it signs the session id for us.
    sid = os.urandom(32)
    r = sign(connect(sock), host, sid, 0)
    check("the agent signs a session id with the host key",
          r is not None and r[0] == SIGN_RESPONSE)
    sig = get_string(r, 1)[0]

    c = connect(sock)
    check("a good forwarding bind is accepted",
          bind(c, host, sid, sig, 1) == bytes([SSH_AGENT_SUCCESS]))
    check("the same bind again is accepted (idempotent)",
          bind(c, host, sid, sig, 1) == bytes([SSH_AGENT_SUCCESS]))
    r = request(c, bytes([EXTENSION]) + string("status@jit-agent.dev") +
                string("{}"))
    msg = get_string(r, 1)[0].decode() if r and len(r) > 5 else ""
    check("a jitctl verb on the bound connection is refused",
          r is not None and r[0] == EXTENSION_FAILURE and
          "JIT_E_PEER" in msg and "forwarded connections may not" in msg)
    check("it still lists keys",
          nkeys(request(c, bytes([REQUEST_IDENTITIES]))) > 0)
    check("and signs with an unconstrained key",
          sign(c, user, b"x" * 32, 0)[0] == SIGN_RESPONSE)

    c = connect(sock)
    bad = bytearray(sig)
    bad[-1] ^= 1
    r = bind(c, host, sid, bytes(bad), 0)
    check("a bind with a bad host signature is refused",
          r is not None and r[0] in (SSH_AGENT_FAILURE, EXTENSION_FAILURE))
    check("that connection can no longer sign",
          sign(c, user, b"x" * 32, 0) == bytes([SSH_AGENT_FAILURE]))
    check("nor see any key",
          nkeys(request(c, bytes([REQUEST_IDENTITIES]))) == 0)

    c = connect(sock)
    check("a bind for authentication is accepted",
          bind(c, host, sid, sig, 0) == bytes([SSH_AGENT_SUCCESS]))
    sid2 = os.urandom(32)
    r2 = sign(connect(sock), host, sid2, 0)
    sig2 = get_string(r2, 1)[0]
    r = bind(c, host, sid2, sig2, 0)
    check("no further bind after one for authentication",
          r is not None and r[0] != SSH_AGENT_SUCCESS)
    return 1 if fails else 0


def main():
    cmd = sys.argv[1]
    if cmd == "seed":
        print(base64.b64encode(ed25519_seed(sys.argv[2])).decode())
        return 0
    if cmd == "sign-sha1":
        return cmd_sign_sha1(sys.argv[2], sys.argv[3])
    if cmd == "binds":
        return cmd_binds(sys.argv[2], sys.argv[3], sys.argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
