#!/usr/bin/python3
"""ptyrun.py ANSWER CMD...: run CMD on a terminal of its own, answer each
"PIN" prompt with the contents of the file ANSWER, print what the terminal
showed, and exit with CMD's status.  For checks of what jitctl asks."""
import os
import pty
import sys

answer = open(sys.argv[1], "rb").read().strip() + b"\n"
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
seen = b""
since = b""
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    seen += data
    since += data
    # The prompt is written once echo is off: answering now loses nothing.
    if b"PIN" in since and since.rstrip().endswith(b":"):
        os.write(fd, answer)
        since = b""
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
