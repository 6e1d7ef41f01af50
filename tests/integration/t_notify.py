#!/usr/bin/env python3
"""sd_notify: a fake NOTIFY_SOCKET listener sees READY=1, WATCHDOG=1 at
half of WATCHDOG_USEC, RELOADING=1 then READY=1 on SIGHUP (also when the
reload fails), STOPPING=1 on SIGTERM; socket activation through
LISTEN_FDS; and everything works with NOTIFY_SOCKET unset."""

import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgmigtest import Daemon, PGMIGD, Results, ctl, request, wait_for

R = Results("t_notify")

WATCHDOG_USEC = 400000      # pings expected every 200 ms


class Listener:
    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.settimeout(0.05)
        self.msgs = []      # (monotonic time, line)

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = self.s.recv(4096)
            except socket.timeout:
                continue
            for line in data.decode().splitlines():
                self.msgs.append((time.monotonic(), line))

    def until(self, pred, timeout=5):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            self.drain(0.05)
        return pred()

    def lines(self):
        return [m for _, m in self.msgs]

    def index(self, line, start=0):
        ls = self.lines()
        for i in range(start, len(ls)):
            if ls[i] == line:
                return i
        return -1


d = Daemon()
lis = Listener(os.path.join(d.tmp, "notify.sock"))
d.env["NOTIFY_SOCKET"] = lis.path
d.env["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
d.start(wait=False)
try:
    R.ok(lis.until(lambda: "READY=1" in lis.lines()), "READY=1 at start",
         lis.lines())
    R.ok(d.answers(), "the control socket answers once READY=1 was sent")
    R.ok(any(l.startswith("STATUS=") for l in lis.lines()), "a STATUS= line")

    t0 = time.monotonic()
    lis.drain(2.0)
    pings = [t for t, l in lis.msgs if l == "WATCHDOG=1" and t >= t0]
    R.ok(7 <= len(pings) <= 13,
         "WATCHDOG=1 at half of WATCHDOG_USEC: %d pings in 2 s (want ~10)" %
         len(pings))
    if len(pings) > 2:
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        R.ok(0.1 < sum(gaps) / len(gaps) < 0.3,
             "mean watchdog interval %.3f s" % (sum(gaps) / len(gaps)))

    n = len(lis.msgs)
    d.signal(signal.SIGHUP)
    R.ok(lis.until(lambda: lis.index("READY=1", lis.index("RELOADING=1", n)) > 0),
         "SIGHUP: RELOADING=1 then READY=1", lis.lines()[n:])

    # a failed reload still ends with READY=1: systemd must not hang
    good = open(d.conf).read()
    d.write_conf("daemon: { this is not valid")
    n = len(lis.msgs)
    d.signal(signal.SIGHUP)
    R.ok(lis.until(lambda: lis.index("READY=1", lis.index("RELOADING=1", n)) > 0),
         "a failed reload: RELOADING=1 then READY=1 too", lis.lines()[n:])
    R.ok(d.answers(), "still serving after the failed reload")
    d.write_conf(good)

    n = len(lis.msgs)
    d.signal(signal.SIGTERM)
    R.ok(lis.until(lambda: lis.index("STOPPING=1", n) >= 0),
         "SIGTERM: STOPPING=1", lis.lines()[n:])
    rc = d.proc.wait(timeout=10)
    R.eq(rc, 0, "SIGTERM exits 0")
finally:
    d.cleanup()

# a stalled loop would stop the pings: SIGSTOP and see them stop
d = Daemon()
lis = Listener(os.path.join(d.tmp, "notify.sock"))
d.env["NOTIFY_SOCKET"] = lis.path
d.env["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
d.start(wait=False)
try:
    lis.until(lambda: "READY=1" in lis.lines())
    d.signal(signal.SIGSTOP)
    time.sleep(0.3)
    t0 = time.monotonic()
    lis.drain(1.0)
    R.ok(not [t for t, l in lis.msgs if l == "WATCHDOG=1" and t >= t0],
         "no WATCHDOG=1 while the process is stopped")
    d.signal(signal.SIGCONT)
    t1 = time.monotonic()
    lis.drain(1.0)
    R.ok([t for t, l in lis.msgs if l == "WATCHDOG=1" and t >= t1],
         "pings resume with the loop")
finally:
    d.cleanup()

# without NOTIFY_SOCKET everything works (no systemd)
d = Daemon()
d.env["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
try:
    d.start()
    d.signal(signal.SIGHUP)
    R.ok(wait_for(lambda: "configuration reloaded" in d.logtext(), 5) and
         d.answers(), "no NOTIFY_SOCKET: start and reload work")
    R.eq(d.stop(), 0, "no NOTIFY_SOCKET: SIGTERM exits 0")
finally:
    d.cleanup()

# socket activation: systemd passes a listening socket as fd 3
d = Daemon()
try:
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(d.sock)
    lsock.listen(16)
    fd = lsock.fileno()

    def pass_fd():
        os.dup2(fd, 3)
        os.set_inheritable(3, True)
        os.environ["LISTEN_PID"] = str(os.getpid())

    env = dict(d.env)
    env["LISTEN_FDS"] = "1"
    logf = open(d.log, "ab")
    # LISTEN_PID must be the daemon's own pid: set it in the child
    p = subprocess.Popen(["/bin/sh", "-c",
                          'LISTEN_PID=$$ exec "$0" -c "$1"', PGMIGD, d.conf],
                         env=env, stdout=logf, stderr=logf, pass_fds=(),
                         preexec_fn=lambda: (os.dup2(fd, 3),
                                             os.set_inheritable(3, True)),
                         close_fds=False)
    lsock.close()
    R.ok(wait_for(d.answers, 5), "socket activation: answers on the passed socket",
         d.logtext())
    R.ok("socket activation" in d.logtext(), "socket activation is logged")
    p.send_signal(signal.SIGTERM)
    R.eq(p.wait(timeout=10), 0, "socket activation: SIGTERM exits 0")
    R.ok(os.path.exists(d.sock),
         "an activated socket is systemd's: pgmigd does not unlink it")
    logf.close()
finally:
    d.cleanup()

R.summary()
