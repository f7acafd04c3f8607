#!/usr/bin/env python3
"""Drives the official full-screen `openclaw tui` in a pseudo-terminal, as a
user would: waits for it to connect and show the session, types a message,
waits for the reply, quits. Used by scripts/interop-diff.sh (against the
official gateway through the frame recorder, and against our node directly
and through the edge).

    interop-tui.py --expect TEXT --screen FILE -- COMMAND...

Exits 0 when the screen showed `connected`, the session header, the typed
message twice (the user's line and the echo agent's reply) and went back to
`idle`; 1 otherwise (the screen text, ANSI stripped, is in FILE).
"""
import argparse, fcntl, os, pty, re, select, signal, struct, sys, termios, time

ap = argparse.ArgumentParser()
ap.add_argument("--expect", required=True, help="the message to type (the echo agent sends it back)")
ap.add_argument("--screen", required=True, help="where the screen text goes")
ap.add_argument("--replies", type=int, default=2, help="how often the message must show: 2 = typed + echoed")
ap.add_argument("command", nargs="+")
a = ap.parse_args()

pid, fd = pty.fork()
if pid == 0:
    os.environ.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
    os.execvp(a.command[0], a.command)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
raw = b""


def text():
    t = re.sub(rb"\x1b\[[0-9;?<>=]*[a-zA-Z~]", b"", raw)
    return re.sub(rb"\x1b\][^\x07]*\x07", b"", t).decode("utf-8", "replace")


def wait_for(pred, secs):
    """Reads the terminal until pred(screen text) holds or secs pass."""
    global raw
    end = time.time() + secs
    while time.time() < end:
        if pred(text()):
            return True
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            raw += data
    return pred(text())


def tail():
    return text()[-3000:]


ok = wait_for(lambda t: "connected | idle" in t and "session main" in t, 60)
if ok:
    mark = len(text())
    os.write(fd, a.expect.encode())
    time.sleep(0.5)
    os.write(fd, b"\r")
    # The reply shows and the last status line is the idle one
    # ("connected | idle"), not a busy one ("⠋ waiting • 3s | connected").
    ok = wait_for(lambda t: t[mark:].count(a.expect) >= a.replies
                  and t.rfind("connected | idle") > t.rfind("| connected"), 30)
os.write(fd, b"\x03")
time.sleep(0.3)
os.write(fd, b"\x03")
wait_for(lambda t: False, 2)
try:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
except (ProcessLookupError, ChildProcessError):
    pass
open(a.screen, "w").write(text())
print(("ok" if ok else "FAIL") + f": {a.expect!r} " + ("echoed, back to idle" if ok else "not echoed or not idle"))
if not ok:
    sys.stderr.write(tail() + "\n")
sys.exit(0 if ok else 1)
