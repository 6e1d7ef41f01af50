"""Shared helpers for pgmig integration tests: start the real pgmigd with a
config in a temp dir, run the real pgmigctl (optionally as another user),
speak the control protocol directly, and report results.

Every test prints `ok - ...` / `not ok - ...` lines and ends with
`N passed, M failed`; its exit status is 1 when anything failed.  Nothing
here skips: a missing tool is a failure.
"""

import json
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("PGMIG_SRCDIR", os.path.dirname(os.path.dirname(HERE)))
BUILDDIR = os.environ.get("PGMIG_BUILDDIR", SRCDIR)
PGMIGD = os.environ.get("PGMIGD", os.path.join(BUILDDIR, "pgmigd"))
PGMIGCTL = os.environ.get("PGMIGCTL", os.path.join(BUILDDIR, "pgmigctl"))


class Results:
    """Counts checks; summary() prints the closing line and exits."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def ok(self, cond, msg, detail=None):
        if cond:
            self.passed += 1
            print("ok - %s" % msg, flush=True)
        else:
            self.failed += 1
            print("not ok - %s" % msg, flush=True)
            if detail is not None:
                for line in str(detail).splitlines()[:40]:
                    print("#   %s" % line, flush=True)
        return cond

    def eq(self, got, want, msg):
        return self.ok(got == want, "%s (got %r, want %r)" % (msg, got, want)
                       if got != want else msg)

    def summary(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed),
              flush=True)
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        sys.exit(0 if self.failed == 0 and self.passed > 0 else 1)


def wait_for(pred, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


def conf_text(sock, extra_daemon="", databases=""):
    """A config for tests: our socket, stderr logging, no control group
    (unless extra_daemon sets these keys itself)."""
    lines = ['  control_socket = "%s";\n' % sock]
    if "control_group" not in extra_daemon:
        lines.append('  control_group = "";\n')
    if "log_target" not in extra_daemon:
        lines.append('  log_target = "stderr";\n')
    return ("daemon: {\n%s%s};\ndatabases = (\n%s\n);\n" %
            ("".join(lines), extra_daemon, databases))


class Daemon:
    """A pgmigd process with its own temp dir, socket and config."""

    def __init__(self, conf=None, extra_daemon="", databases="", env=None,
                 tmp=None, sock=None, preexec=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="pgmig-t-")
        os.chmod(self.tmp, 0o755)
        self.sock = sock or os.path.join(self.tmp, "control.sock")
        self.conf = os.path.join(self.tmp, "pgmigd.conf")
        self.write_conf(conf if conf is not None else
                        conf_text(self.sock, extra_daemon, databases))
        self.log = os.path.join(self.tmp, "pgmigd.log")
        self.env = dict(os.environ)
        self.env.pop("NOTIFY_SOCKET", None)
        self.env.pop("LISTEN_FDS", None)
        self.env.pop("LISTEN_PID", None)
        self.env.pop("WATCHDOG_USEC", None)
        if env:
            self.env.update(env)
        self.proc = None
        self.preexec = preexec

    def write_conf(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, wait=True, args=()):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([PGMIGD, "-c", self.conf] + list(args),
                                     stdout=self.logf, stderr=self.logf,
                                     env=self.env, preexec_fn=self.preexec)
        if wait:
            ok = wait_for(lambda: self.answers() or self.proc.poll() is not None,
                          timeout=10)
            if self.proc.poll() is not None:
                raise RuntimeError("pgmigd exited %s:\n%s" %
                                   (self.proc.returncode, self.logtext()))
            if not ok:
                raise RuntimeError("pgmigd did not answer:\n" + self.logtext())
        return self

    def answers(self):
        try:
            r = request(self.sock, {"id": 0, "cmd": "ping"}, timeout=1)
            return r.get("ok") is True
        except OSError:
            return False

    def logtext(self):
        try:
            with open(self.log, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        if os.environ.get("PGMIG_KEEP_TEST_DIRS") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.cleanup()

    def ctl(self, *args, **kw):
        return ctl(*args, sock=self.sock, **kw)


def user_preexec(user=None, groups=()):
    """A preexec_fn dropping to user (name) with exactly these groups."""
    if user is None:
        return None
    pw = pwd.getpwnam(user)
    gids = [grp.getgrnam(g).gr_gid if isinstance(g, str) else g for g in groups]

    def fn():
        os.setgroups(gids)
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return fn


def ctl(*args, sock=None, user=None, groups=(), timeout=30, env=None):
    """Run pgmigctl; returns (exit code, stdout, stderr)."""
    cmd = [PGMIGCTL]
    if sock:
        cmd += ["-s", sock]
    cmd += list(args)
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       preexec_fn=user_preexec(user, groups), env=e)
    return p.returncode, p.stdout, p.stderr


def connect(path, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)     # blocking: waits while the backlog is full
    s.settimeout(timeout)
    return s


def recv_line(s, buf=b""):
    """Read one line; returns (line or None at EOF, rest)."""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None, buf
        buf += chunk
    line, rest = buf.split(b"\n", 1)
    return line, rest


def request(path, obj, timeout=5):
    s = connect(path, timeout)
    try:
        s.sendall(json.dumps(obj).encode() + b"\n")
        line, _ = recv_line(s)
        if line is None:
            raise OSError("connection closed")
        return json.loads(line)
    finally:
        s.close()


def ping_latency(path):
    t = time.monotonic()
    r = request(path, {"id": 1, "cmd": "ping"})
    assert r["ok"]
    return time.monotonic() - t


def read_all(s, timeout=5):
    """Everything until EOF (or timeout); returns bytes."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            out += c
    except (socket.timeout, ConnectionResetError):
        pass
    return out
