#!/usr/bin/env python3
"""pgmigd options and configuration: --check-config, --version/--help,
FILE:LINE errors at start, --once, and SIGHUP/reload keeping the old
configuration whole when the new file is broken."""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgmigtest import (Daemon, PGMIGD, Results, SRCDIR, conf_text, wait_for)

R = Results("t_config")


def run(*args, **kw):
    p = subprocess.run([PGMIGD] + list(args), capture_output=True, text=True,
                       timeout=30, **kw)
    return p.returncode, p.stdout, p.stderr


tmp = tempfile.mkdtemp(prefix="pgmig-tc-")

# -- version, help, bad options
rc, out, err = run("--version")
R.ok(rc == 0 and re.match(r"pgmigd \d+\.\d+\.\d+", out), "--version")
rc, out, err = run("--help")
R.ok(rc == 0 and "--check-config" in out and "--once" in out, "--help")
rc, out, err = run("--no-such-option")
R.eq(rc, 2, "unknown option exits 2")

# -- the sample configuration is valid, and its normalized form is stable
sample = os.path.join(SRCDIR, "etc", "pgmigd.conf")
rc, out, err = run("--check-config", "-c", sample)
R.ok(rc == 0 and "databases = (" in out, "etc/pgmigd.conf passes --check-config",
     err)
norm = os.path.join(tmp, "normalized.conf")
with open(norm, "w") as f:
    f.write(out)
rc2, out2, err2 = run("-t", "-c", norm)
R.ok(rc2 == 0 and out2.splitlines()[1:] == out.splitlines()[1:],
     "the normalized configuration reads back to itself", err2)

# -- errors are FILE:LINE: message, values are not echoed, exit 1
bad = os.path.join(tmp, "bad.conf")
with open(bad, "w") as f:
    f.write('daemon: {\n  log_level = "info";\n  bogus_key = 1;\n};\n'
            'databases = (\n  { name = "music";\n'
            '    conninfo = "host=x password=s3cr3t nonsense";\n'
            '    pool_size = 4294967300;\n'
            '    jobs = ( { name = "j"; type = "sql"; schedule = "*/0 * * * *";'
            ' sql = "SELECT 1"; } );\n  }\n);\n')
rc, out, err = run("--check-config", "-c", bad)
R.eq(rc, 1, "a bad file fails --check-config with exit 1")
R.ok("%s:3: daemon: unknown key \"bogus_key\"" % bad in err,
     "unknown key reported as FILE:LINE", err)
R.ok("%s:7: database music: conninfo:" % bad in err, "bad conninfo at its line",
     err)
R.ok("%s:8:" % bad in err and "integer out of range" in err,
     "a value libconfig would wrap is refused at its line", err)
R.ok("%s:9:" % bad in err and "schedule: is not a valid schedule" in err,
     "a bad schedule is refused at its line", err)
R.ok("s3cr3t" not in err and "s3cr3t" not in out, "values are never echoed")

rc, out, err = run("-c", bad)
R.eq(rc, 1, "starting with a bad file exits 1")
R.ok("%s:3:" % bad in err, "start-up error names FILE:LINE", err)

rc, out, err = run("-c", os.path.join(tmp, "missing.conf"))
R.ok(rc == 1 and "missing.conf" in err, "a missing file is a clear error", err)

# -- --once runs commands through the same table, without a daemon
sock = os.path.join(tmp, "never.sock")
good = os.path.join(tmp, "good.conf")
with open(good, "w") as f:
    f.write(conf_text(sock, databases='{ name = "music"; conninfo = '
                      '"dbname=music"; }'))
rc, out, err = run("-c", good, "--once", "ping")
R.ok(rc == 0 and out.startswith("pong from pgmigd"), "--once ping", err)
rc, out, err = run("-c", good, "--json", "--once", "status")
st = json.loads(out) if rc == 0 else {}
R.ok(rc == 0 and st.get("version") and st.get("pid") and
     [x["name"] for x in st.get("databases", [])] == ["music"] and
     {"reachable", "in_recovery", "server_version", "pool"} <=
     set(st["databases"][0]), "--once --json status has the result keys",
     out + err)
R.ok(not os.path.exists(sock), "--once does not open the control socket")
rc, out, err = run("-c", good, "-d", "nosuchdb", "--once", "status")
R.ok(rc == 1 and "not configured" in err,
     "--once with an unknown database: not_found, exit 1 (as via the daemon)",
     err)
rc, out, err = run("-c", good, "--once", "reload")
R.ok(rc == 2 and "running daemon" in err, "--once reload needs a daemon", err)
rc, out, err = run("-c", good, "--once", "frobnicate")
R.eq(rc, 2, "--once with an unknown command exits 2")
rc, out, err = run("-c", good, "--once", "ping", "extra")
R.eq(rc, 2, "--once with too many arguments exits 2")

# -- reload: a broken file keeps the old configuration whole
with Daemon(extra_daemon='  log_level = "info";\n',
            databases='{ name = "music"; conninfo = "dbname=music"; }') as d:
    good_text = open(d.conf).read()
    rc, out, err = d.ctl("--json", "status")
    R.ok(rc == 0 and json.loads(out)["log_level"] == "info", "status before reload")

    d.write_conf(good_text.replace('"music"', '"music"; pool_size = 0'))
    d.signal(signal.SIGHUP)
    R.ok(wait_for(lambda: "not reloading" in d.logtext(), 5),
         "SIGHUP with a broken file logs \"not reloading\"", d.logtext())
    R.ok(":%d: database music: pool_size: must be between 1 and 100" % 6
         in d.logtext() or "pool_size: must be between" in d.logtext(),
         "the reload error names FILE:LINE", d.logtext())
    rc, out, err = d.ctl("--json", "status")
    st = json.loads(out) if rc == 0 else {}
    R.ok(rc == 0 and st["reloads"] == 0 and st["databases"][0]["name"] == "music",
         "the daemon runs on, on the old configuration")

    rc, out, err = d.ctl("reload")
    R.ok(rc == 1 and "not reloading" in err and d.conf in err,
         "pgmigctl reload of a broken file exits 1 with FILE:LINE", err)

    d.write_conf(good_text.replace('log_level = "info"', 'log_level = "debug"')
                 .replace('"music"; conninfo', '"sales"; conninfo'))
    rc, out, err = d.ctl("reload")
    R.ok(rc == 0 and "reloaded" in out, "pgmigctl reload of a fixed file", err)
    rc, out, err = d.ctl("--json", "status")
    st = json.loads(out)
    R.ok(st["log_level"] == "debug" and st["databases"][0]["name"] == "sales"
         and st["reloads"] == 1, "the new configuration is in force", out)

    d.write_conf(good_text.replace(d.sock, d.sock + ".other"))
    d.signal(signal.SIGHUP)
    R.ok(wait_for(lambda: "control_socket changed: a restart applies it" in
                  d.logtext(), 5),
         "a changed control_socket is kept, with a warning", d.logtext())
    R.ok(d.answers(), "still answering on the old socket")
    d.stop()
    R.eq(d.proc.returncode, 0, "SIGTERM exits 0")
    R.ok(not os.path.exists(d.sock), "the socket is removed at exit")

R.summary()
