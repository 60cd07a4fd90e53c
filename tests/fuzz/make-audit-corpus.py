#!/usr/bin/env python3
"""Write the sealed and torn audit logs of the fuzz-audit corpus.

make-audit-corpus.py CORPUS_DIR

The logs follow lib/audit.c and lib/fss.c, written again here from their
description: SHA-256 chain, torn lines recorded by the next record, seals
with HMAC-SHA256 under keys that evolve by SHA-256.  They are sealed with
the fixed verification key of tests/fuzz/fuzz-audit.c, so that the harness
reaches the MAC checks; a log this script writes that the C code does not
accept (or the reverse) is a disagreement worth a look.
"""
import hashlib
import hmac
import json
import os
import struct
import sys

K0 = bytes(range(32))
START, INTERVAL = 0x6553F100, 60  # 2023-11-14T22:13:20Z, 1 min
KEY_ID = hashlib.sha256(b"jit-agent audit fss id v1\0" + K0 +
                        struct.pack(">QI", START, INTERVAL)).hexdigest()[:32]


def key(epoch):
    k = K0
    for _ in range(epoch):
        k = hashlib.sha256(b"jit-agent audit fss evolve v1\0" + k).digest()
    return k


def when(s):
    """Seconds after START as the log's time."""
    import time
    t = START + s
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"


class Log:
    def __init__(self):
        self.lines = []
        self.seq = 0
        self.prev = "0" * 64
        self.torn = None

    def add(self, t, **members):
        o = {"seq": self.seq + 1, "time": when(t), "prev": self.prev}
        o.update(members)
        if self.torn is not None:
            o["torn"] = self.torn
            self.torn = None
        b = json.dumps(o, separators=(",", ":")).encode()
        self.lines.append(b)
        self.seq += 1
        self.prev = hashlib.sha256(b).hexdigest()

    def seal(self, t, epoch):
        msg = (b"jit-agent audit seal v1\0" +
               struct.pack(">QQ", epoch, self.seq + 1) +
               bytes.fromhex(self.prev) +
               struct.pack(">I", len(when(t))) + when(t).encode())
        mac = hmac.new(key(epoch), msg, hashlib.sha256).hexdigest()
        self.add(t, event="seal", epoch=epoch, key_id=KEY_ID, mac=mac)

    def tear(self, n):
        """A crash n bytes into the next record."""
        frag = json.dumps({"seq": self.seq + 1, "time": when(0)},
                          separators=(",", ":")).encode()[:n]
        self.lines.append(frag)
        self.torn = {"line": len(self.lines), "length": len(frag),
                     "sha256": hashlib.sha256(frag).hexdigest()}

    def bytes(self, final_newline=True):
        return b"\n".join(self.lines) + (b"\n" if final_newline else b"")


def sealed():
    log = Log()
    log.add(0, event="start", pid=1)
    log.add(1, event="fss-setup", key_id=KEY_ID, start=START,
            interval=INTERVAL, uid=1000)
    log.add(5, event="use", name="pg-prod", uid=1000, pid=7, exe="/bin/psql")
    log.seal(61, 0)
    log.add(70, event="use", name="pg-prod", uid=1000, pid=8, exe="/bin/psql")
    return log


def main():
    out = sys.argv[1]
    files = {}
    log = sealed()
    files["sealed"] = log.bytes()
    # A crash tears a line; the next start records it; its seal is late.
    log.tear(23)
    log.add(400, event="start", pid=2)
    log.seal(401, 1)
    log.add(402, event="use", name="pg-prod", uid=1000, pid=9, exe="/x")
    log.tear(12)
    files["sealed-torn"] = log.bytes(final_newline=False)
    # The first use dropped and the chain recomputed.
    log = sealed()
    rest = [json.loads(b) for i, b in enumerate(log.lines) if i != 2]
    forged, prev = [], "0" * 64
    for i, o in enumerate(rest):
        o["seq"], o["prev"] = i + 1, prev
        b = json.dumps(o, separators=(",", ":")).encode()
        forged.append(b)
        prev = hashlib.sha256(b).hexdigest()
    files["sealed-forged"] = b"\n".join(forged) + b"\n"
    # A torn line in the middle that nobody recorded.
    log = Log()
    log.add(0, event="start", pid=1)
    log.lines.append(b'{"seq":2,"ti')
    log.add(3, event="use", name="a")
    files["torn-unrecorded"] = log.bytes()
    # A seal for the same epoch twice.
    log = sealed()
    log.seal(62, 0)
    files["seal-replayed"] = log.bytes()
    # A second set-up of another key.
    log = sealed()
    log.add(80, event="fss-setup", key_id="0" * 32, start=START + 80,
            interval=60)
    files["setup-replaced"] = log.bytes()
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
