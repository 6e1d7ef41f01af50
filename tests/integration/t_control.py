#!/usr/bin/env python3
"""The control socket: start-up hygiene, file mode and group, peer
credentials, pgmigctl exit codes, pipelining, and hostile clients (huge
lines, binary, bad JSON, unknown commands, 500 clients, a one-byte-per-
second client, a client that never reads, EMFILE) that must never crash
the daemon or stall the others."""

import grp
import json
import os
import pwd
import resource
import socket
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgmigtest import (Daemon, PGMIGD, Results, connect, ctl, ping_latency,
                       read_all, recv_line, request, wait_for)

R = Results("t_control")
MAX_LATENCY = 1.0   # a generous bound: the loop must not be stalled

# ---------------------------------------------------------------- start-up
d = Daemon().start()
try:
    R.ok(d.answers(), "the daemon answers ping")
    st = os.stat(d.sock)
    R.ok(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660,
         "the socket has control_mode 0660 (got %o)" % stat.S_IMODE(st.st_mode))

    # a second daemon on the same socket refuses and leaves the first alone
    d2 = Daemon(sock=d.sock)
    p = subprocess.run([PGMIGD, "-c", d2.conf], capture_output=True, text=True,
                       timeout=10)
    R.ok(p.returncode == 1 and "another pgmigd is running" in p.stderr,
         "a second pgmigd on the same socket refuses to start", p.stderr)
    R.ok(d.answers(), "the first daemon still answers")
    d2.cleanup()

    # pgmigctl exit codes
    rc, out, err = d.ctl("ping")
    R.ok(rc == 0 and "pong" in out, "pgmigctl ping exits 0")
    rc, out, err = d.ctl("no-such-command")
    R.eq(rc, 2, "an unknown command exits 2")
    rc, out, err = d.ctl("status", "extra-arg")
    R.eq(rc, 2, "too many arguments exits 2")
    rc, out, err = d.ctl("--help")
    R.ok(rc == 0 and "ping" in out and "reload" in out and "status" in out,
         "pgmigctl --help lists the commands")
    rc, out, err = d.ctl("--json", "status")
    st = json.loads(out)
    R.ok(rc == 0 and all(k in st for k in ("version", "pid", "uptime_s",
                                           "config", "databases")),
         "status --json has the DESIGN.md keys", out)
    rc, out, err = d.ctl("-d", "nope", "status")
    R.eq(rc, 1, "status -d with an unconfigured database exits 1")
    rc, out, err = d.ctl("-d", "x;DROP", "status")
    R.eq(rc, 2, "a database name that is not a name is a usage error")
finally:
    d.cleanup()

# the daemon is not running: exit 3 with a clear message
rc, out, err = ctl("ping", sock="/tmp/pgmig-no-such-dir/x.sock")
R.ok(rc == 3 and "not running" in err, "no daemon: exit 3 and says so", err)
rc, out, err = ctl("--json", "ping", sock="/tmp/pgmig-no-such-dir/x.sock")
R.ok(rc == 3 and json.loads(out)["error"]["code"] == "db_unreachable",
     "no daemon with --json: a JSON error on stdout", out)

# a stale socket (nobody listening) is replaced
d = Daemon()
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(d.sock)
    s.close()   # leaves the file behind, nobody listens
    d.start()
    R.ok(d.answers() and "removing stale control socket" in d.logtext(),
         "a stale socket file is replaced", d.logtext())
finally:
    d.cleanup()

# a symlink or a regular file at the path is refused and left alone
for kind in ("symlink", "file"):
    d = Daemon()
    try:
        target = os.path.join(d.tmp, "target")
        open(target, "w").close()
        if kind == "symlink":
            os.symlink(target, d.sock)
        else:
            open(d.sock, "w").close()
        p = subprocess.run([PGMIGD, "-c", d.conf], capture_output=True,
                           text=True, timeout=10)
        R.ok(p.returncode == 1 and "refusing control socket path" in p.stderr,
             "a %s at the socket path is refused" % kind, p.stderr)
        R.ok(os.path.lexists(d.sock) and
             (os.path.islink(d.sock) if kind == "symlink" else
              os.path.isfile(d.sock)) and os.path.exists(target),
             "the %s is left untouched" % kind)
    finally:
        d.cleanup()

# ------------------------------------------------- credentials and groups
# control_group "users": nobody may read; nobody in "users" may also mutate
users_gid = grp.getgrnam("users").gr_gid
d = Daemon(extra_daemon='  control_mode = "0666";\n  control_group = "users";\n')
try:
    d.start()
    st = os.stat(d.sock)
    R.ok(st.st_gid == users_gid and stat.S_IMODE(st.st_mode) == 0o666,
         "the socket belongs to control_group with control_mode")
    rc, out, err = d.ctl("status", user="nobody")
    R.eq(rc, 0, "a user outside control_group may run status")
    rc, out, err = d.ctl("reload", user="nobody")
    R.ok(rc == 4 and "permission denied" in err,
         "a user outside control_group gets exit 4 for reload", err)
    rc, out, err = d.ctl("--json", "reload", user="nobody")
    R.ok(rc == 4 and json.loads(out)["error"]["code"] == "permission",
         "... and the JSON error code is permission", out)
    R.ok("reload refused for uid %d" % pwd.getpwnam("nobody").pw_uid
         in d.logtext(), "the refusal is logged with the peer uid")
    rc, out, err = d.ctl("reload", user="nobody", groups=["users"])
    R.eq(rc, 0, "a member of control_group (supplementary) may reload")
    rc, out, err = d.ctl("reload")
    R.eq(rc, 0, "root may reload")
finally:
    d.cleanup()

# a socket the user cannot open at all: exit 4, not "not running"
d = Daemon(extra_daemon='  control_mode = "0600";\n')
try:
    d.start()
    os.chmod(d.tmp, 0o755)
    rc, out, err = d.ctl("status", user="nobody")
    R.ok(rc == 4 and "permission denied" in err,
         "no access to the socket file: exit 4", err)
finally:
    d.cleanup()

# ---------------------------------------------------------- the protocol
d = Daemon(extra_daemon='  control_idle_timeout = "3s";\n'
                        '  control_max_clients = 1000;\n').start()
try:
    # several requests per connection, pipelined, answered in order
    s = connect(d.sock)
    s.sendall(b"".join(json.dumps({"id": i, "cmd": "ping"}).encode() + b"\n"
                       for i in range(100)))
    ids, buf = [], b""
    for _ in range(100):
        line, buf = recv_line(s, buf)
        ids.append(json.loads(line)["id"])
    R.eq(ids, list(range(100)), "100 pipelined requests answered in order")
    # an unknown command is an error for that request; the connection stays
    s.sendall(b'{"id":"x","cmd":"frobnicate"}\n{"id":"y","cmd":"ping"}\n')
    line, buf = recv_line(s, buf)
    r = json.loads(line)
    R.ok(r["id"] == "x" and r["ok"] is False and r["error"]["code"] == "usage",
         "an unknown command gets a usage error", r)
    line, buf = recv_line(s, buf)
    R.ok(json.loads(line)["ok"] is True, "the connection serves the next request")
    # a bad option for a command is a usage error from the daemon itself
    s.sendall(b'{"id":3,"cmd":"status","opts":{"bogus":true}}\n')
    line, buf = recv_line(s, buf)
    R.eq(json.loads(line)["error"]["code"], "usage",
         "an unknown option is refused by the daemon")
    s.sendall(b'{"id":4,"cmd":"status","args":["a","b"]}\n')
    line, buf = recv_line(s, buf)
    R.eq(json.loads(line)["error"]["code"], "usage",
         "extra arguments are refused by the daemon")
    s.close()

    # half-close after sending: the reply still arrives
    s = connect(d.sock)
    s.sendall(b'{"id":5,"cmd":"ping"}\n')
    s.shutdown(socket.SHUT_WR)
    data = read_all(s)
    R.ok(data.count(b"\n") == 1 and json.loads(data)["ok"],
         "a request followed by EOF is answered")
    s.close()

    def hostile(payload, name):
        s = connect(d.sock)
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = read_all(s, timeout=5)
        s.close()
        lat = ping_latency(d.sock)
        return data, lat

    data, lat = hostile(b"x" * (70 * 1024), "oversized")
    R.ok(b"too long" in data and lat < MAX_LATENCY,
         "an oversized line gets an error and EOF; others unaffected", data[:200])
    data, lat = hostile(b'{"cmd":"ping","args":["' + b"a" * 70000 + b'"]}\n',
                        "oversized with newline")
    R.ok(b"too long" in data and lat < MAX_LATENCY,
         "an oversized complete line is refused too", data[:200])
    data, lat = hostile(bytes(range(256)) * 4 + b"\n", "binary")
    R.ok(data.count(b"\n") == 1 and json.loads(data)["ok"] is False and
         lat < MAX_LATENCY, "binary bytes get an error and EOF", data[:200])
    data, lat = hostile(b'{"cmd": "ping", \n', "invalid json")
    r = json.loads(data) if data else {}
    R.ok(r.get("ok") is False and r["error"]["code"] == "usage" and
         "invalid JSON" in r["error"]["message"] and lat < MAX_LATENCY,
         "invalid JSON gets a usage error and EOF", data[:200])
    data, lat = hostile(b'{"id":1,"cmd":"ping","db":"x\'; DROP TABLE t; --"}\n',
                        "injection in db")
    R.ok(b'"ok":false' in data, "a db name with SQL in it is refused", data)
    data, lat = hostile(b"[" * 100000 + b"\n", "deep nesting")
    R.ok(b'"ok":false' in data and lat < MAX_LATENCY,
         "deeply nested JSON is refused", data[:200])
    R.ok(d.proc.poll() is None, "the daemon survived every hostile input")

    # 500 concurrent clients: all are served, and a newcomer is served fast
    socks = []
    for i in range(500):
        socks.append(connect(d.sock, timeout=10))
    for i, s in enumerate(socks):
        s.sendall(json.dumps({"id": i, "cmd": "ping"}).encode() + b"\n")
    lat = ping_latency(d.sock)
    got = 0
    for i, s in enumerate(socks):
        line, _ = recv_line(s)
        if line and json.loads(line)["id"] == i:
            got += 1
        s.close()
    R.eq(got, 500, "500 concurrent clients all answered")
    R.ok(lat < MAX_LATENCY, "a 501st client is answered in %.3fs" % lat)

    # one byte per second: never stalls the others, closed at idle timeout
    slow = connect(d.sock, timeout=10)
    stop = threading.Event()
    closed_at = []

    def trickle():
        t0 = time.monotonic()
        for b in b'{"id":1,"cmd":"ping"':
            if stop.is_set():
                return
            try:
                slow.send(bytes([b]))
            except OSError:
                closed_at.append(time.monotonic() - t0)
                return
            time.sleep(1)
    th = threading.Thread(target=trickle)
    th.start()
    lats = []
    for _ in range(5):
        time.sleep(0.5)
        lats.append(ping_latency(d.sock))
    R.ok(max(lats) < MAX_LATENCY,
         "others are served while a client sends 1 byte/s (max %.3fs)" %
         max(lats))
    slow.settimeout(10)
    try:
        eof = slow.recv(100) == b""
    except OSError:
        eof = True
    R.ok(eof, "the trickling client is closed by control_idle_timeout")
    stop.set()
    th.join()
    slow.close()

    # an idle client is closed after control_idle_timeout
    idle = connect(d.sock, timeout=10)
    t0 = time.monotonic()
    gone = idle.recv(10) == b""
    R.ok(gone and 2.0 < time.monotonic() - t0 < 8.0,
         "an idle client is closed after ~3s (%.1fs)" % (time.monotonic() - t0))
    idle.close()

    # a client that sends many requests and never reads is dropped
    greedy = connect(d.sock, timeout=30)
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    req = b'{"id":1,"cmd":"status"}\n' * 2000
    sent = 0
    greedy.setblocking(False)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        try:
            sent += greedy.send(req)
        except BlockingIOError:
            time.sleep(0.05)
        except OSError:
            break
    lat = ping_latency(d.sock)
    R.ok(lat < MAX_LATENCY and d.proc.poll() is None,
         "a client that never reads does not stall the daemon (%.3fs)" % lat)
    greedy.close()
finally:
    rc = d.stop()
    R.eq(rc, 0, "the daemon exits 0 after all that")
    d.cleanup()

# -------------------------------------------------------------- EMFILE
def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

d = Daemon(preexec=low_nofile).start()
try:
    cpu0 = sum(os.times()[:2])
    socks = []
    for i in range(60):
        try:
            socks.append(connect(d.sock, timeout=2))
        except OSError:
            break
    time.sleep(2.5)
    with open("/proc/%d/stat" % d.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    R.ok(ticks < 100, "at EMFILE the daemon does not spin (%d ticks)" % ticks)
    R.ok("not accepting for 1000 ms" in d.logtext(),
         "EMFILE pauses accepting, and says so", d.logtext()[-500:])
    for s in socks:
        s.close()
    R.ok(wait_for(d.answers, 5), "after clients leave, accepting resumes")
finally:
    d.cleanup()

R.summary()
