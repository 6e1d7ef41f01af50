#!/usr/bin/env python3
"""systemd units and manuals: `systemd-analyze verify` on the generated
units (in a scratch root holding the built pgmigd where ExecStart points),
`systemd-analyze security --offline=true` exposure at most 2.0, the
directives the contract needs, and `mandoc -T lint` on the man pages."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgmigtest import BUILDDIR, PGMIGD, Results, SRCDIR

R = Results("t_systemd")
units = {n: os.path.join(BUILDDIR, "systemd", n)
         for n in ("pgmigd.service", "pgmigd@.service", "pgmigd.socket")}
for n, p in units.items():
    R.ok(os.path.exists(p), "%s was generated" % n)

text = {n: open(p).read() for n, p in units.items() if os.path.exists(p)}
svc = text.get("pgmigd.service", "")
for directive in ("Type=notify", "NotifyAccess=main", "WatchdogSec=",
                  "ExecReload=", "Restart=on-failure", "RuntimeDirectory=",
                  "User=pgmig", "NoNewPrivileges=yes", "ProtectSystem=strict"):
    R.ok(re.search(r"^%s" % re.escape(directive), svc, re.M),
         "pgmigd.service has %s" % directive)
R.ok(not re.search(r"^PrivateUsers=", svc, re.M),
     "pgmigd.service does not set PrivateUsers (it breaks SO_PEERCRED)")
m = re.search(r"^ExecStart=(\S+)", svc, re.M)
R.ok(m and m.group(1).endswith("/pgmigd") and "@" not in m.group(1),
     "ExecStart names the installed pgmigd")
R.ok("ListenStream=/run/pgmigd/control.sock" in text.get("pgmigd.socket", ""),
     "pgmigd.socket listens on the default control socket")

# a scratch root: the system's units, /bin/kill, and pgmigd at ExecStart
root = tempfile.mkdtemp(prefix="pgmig-units-")
try:
    shutil.copytree("/usr/lib/systemd/system",
                    os.path.join(root, "usr/lib/systemd/system"), symlinks=True)
    for b in ("bin", "usr/bin", "usr/sbin", "sbin"):
        os.makedirs(os.path.join(root, b), exist_ok=True)
    shutil.copy("/bin/kill", os.path.join(root, "bin/kill"))
    exe = os.path.join(root, m.group(1).lstrip("/"))
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    shutil.copy(PGMIGD, exe)
    unitdir = os.path.join(root, "etc/systemd/system")
    os.makedirs(unitdir, exist_ok=True)
    for n, p in units.items():
        shutil.copy(p, os.path.join(unitdir, n))
    shutil.copy(units["pgmigd@.service"], os.path.join(unitdir,
                                                       "pgmigd@main.service"))
    # Documentation=man:... must resolve: a man tree with our pages
    mantree = os.path.join(root, "man")
    for page in ("pgmigd.8", "pgmigctl.1", "pgmigd.conf.5"):
        sec = os.path.join(mantree, "man" + page.rsplit(".", 1)[1])
        os.makedirs(sec, exist_ok=True)
        shutil.copy(os.path.join(SRCDIR, "man", page), sec)
    env = dict(os.environ)
    env["MANPATH"] = mantree + ":/usr/share/man"
    env["SYSTEMD_LOG_LEVEL"] = "notice"
    for n in ("pgmigd.service", "pgmigd.socket", "pgmigd@main.service"):
        p = subprocess.run(["systemd-analyze", "verify", "--root=" + root, n],
                           capture_output=True, text=True, env=env, timeout=60)
        out = (p.stdout + p.stderr).strip()
        R.ok(p.returncode == 0 and out == "",
             "systemd-analyze verify %s" % n, out)
    for n in ("pgmigd.service", "pgmigd@main.service"):
        p = subprocess.run(["systemd-analyze", "security", "--offline=true",
                            os.path.join(unitdir, n)],
                           capture_output=True, text=True, timeout=60)
        m2 = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout)
        level = float(m2.group(1)) if m2 else 99.0
        R.ok(level <= 2.0, "%s exposure %.1f <= 2.0" % (n, level),
             p.stdout[-2000:] + p.stderr)
finally:
    shutil.rmtree(root, ignore_errors=True)

# manuals
pages = [os.path.join(SRCDIR, "man", f) for f in
         ("pgmigd.8", "pgmigctl.1", "pgmigd.conf.5")]
p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning"] + pages,
                   capture_output=True, text=True)
R.ok(p.returncode == 0 and (p.stdout + p.stderr).strip() == "",
     "mandoc -T lint -W warning is clean", p.stdout + p.stderr)
for page, words in (("pgmigctl.1", ("ping", "status", "reload", "--json")),
                    ("pgmigd.8", ("--check-config", "--once", "SIGHUP",
                                  "WATCHDOG")),
                    ("pgmigd.conf.5", ("control_socket", "pool_size",
                                       "schedule", "lock_timeout"))):
    t = open(os.path.join(SRCDIR, "man", page)).read()
    R.ok(all(w.replace("-", "\\-") in t or w in t for w in words),
         "%s documents %s" % (page, ", ".join(words)))

R.summary()
