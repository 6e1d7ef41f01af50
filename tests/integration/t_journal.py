#!/usr/bin/env python3
"""journald: pgmigd's entries, read back with journalctl -o json, carry
SYSLOG_IDENTIFIER=pgmigd, PRIORITY, a MESSAGE_ID per event kind (each in
systemd/pgmigd.catalog) and PGMIG_EVENT; passwords never reach the log.
If no journald answers on this machine, start a real systemd-journald
for the test, and stop only that one afterwards."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgmigtest import Daemon, Results, SRCDIR, wait_for

R = Results("t_journal")
JSOCK = "/run/systemd/journal/socket"
JOURNALD = "/lib/systemd/systemd-journald"


def journal_alive():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.connect(JSOCK)
        return True
    except OSError:
        return False
    finally:
        s.close()


started = None
if not journal_alive():
    if os.geteuid() != 0:
        R.ok(False, "no journald answers and only root can start one")
        R.summary()
    if not os.path.exists(JOURNALD):
        R.ok(False, "%s is missing (install systemd)" % JOURNALD)
        R.summary()
    started = subprocess.Popen([JOURNALD], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    R.ok(wait_for(journal_alive, 10), "started a systemd-journald for the test")


def catalog_ids():
    ids = {}
    with open(os.path.join(SRCDIR, "systemd", "pgmigd.catalog")) as f:
        cur = None
        for line in f:
            m = re.match(r"^-- ([0-9a-f]{32})$", line.strip())
            if m:
                cur = m.group(1)
                ids[cur] = ""
            elif cur and line.startswith("Subject:"):
                ids[cur] = line.split(":", 1)[1].strip()
    return ids


def entries(pid):
    p = subprocess.run(["journalctl", "-o", "json", "--no-pager", "_PID=%d" % pid],
                       capture_output=True, text=True, timeout=30)
    out = []
    for line in p.stdout.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


try:
    d = Daemon(extra_daemon='  log_target = "journal";\n  control_mode = "0666";\n'
               '  control_group = "";\n',
               databases='{ name = "music"; conninfo = '
                         '"host=/nonexistent dbname=music password=Sup3rSecret"; }')
    with d:
        pid = d.proc.pid
        d.ctl("reload")                          # command + reload
        d.ctl("reload", user="nobody")           # control_refused
        good = open(d.conf).read()
        d.write_conf(good.replace('"music"; conninfo', '"music"; pool_size = 0; conninfo'))
        d.signal(signal.SIGHUP)                  # config_error + reload_failed
        time.sleep(0.3)
        d.write_conf(good)
        d.stop()
        R.eq(d.proc.returncode, 0, "pgmigd exits 0")
        R.ok(d.logtext().strip() == "",
             "with log_target journal nothing goes to stderr", d.logtext())

    want = {"control_listen", "startup", "command", "reload", "control_refused",
            "config_error", "reload_failed", "shutdown"}
    got = wait_for(lambda: (lambda e: e if want <= {x.get("PGMIG_EVENT")
                                                    for x in e} else None)(
        entries(pid)), 10) or entries(pid)
    R.ok(len(got) >= len(want), "journalctl -o json returns pgmigd's entries "
         "(%d)" % len(got))
    R.ok(all(e.get("SYSLOG_IDENTIFIER") == "pgmigd" for e in got),
         "every entry has SYSLOG_IDENTIFIER=pgmigd")
    R.ok(all(e.get("PRIORITY", "").isdigit() for e in got),
         "every entry has a PRIORITY")
    events = {e.get("PGMIG_EVENT") for e in got}
    R.ok(want <= events, "events seen: %s" % sorted(x for x in events if x),
         sorted(want - events))
    cat = catalog_ids()
    ids = {}
    for e in got:
        ev = e.get("PGMIG_EVENT")
        if ev is None:
            continue
        ids.setdefault(ev, set()).add(e.get("MESSAGE_ID"))
    R.ok(all(len(v) == 1 and re.match(r"^[0-9a-f]{32}$", next(iter(v)) or "")
             for v in ids.values()),
         "each event kind has one fixed 128-bit MESSAGE_ID", ids)
    R.ok(len({next(iter(v)) for v in ids.values()}) == len(ids),
         "different events have different MESSAGE_IDs")
    R.ok(all(next(iter(v)) in cat for v in ids.values()),
         "every MESSAGE_ID is in systemd/pgmigd.catalog",
         {k: v for k, v in ids.items() if next(iter(v)) not in cat})
    start = [e for e in got if e.get("PGMIG_EVENT") == "startup"]
    R.ok(start and start[0].get("PGMIG_OBJECT", "").endswith("pgmigd.conf") and
         start[0].get("PRIORITY") == "5", "startup carries PGMIG_OBJECT and "
         "priority notice")
    refused = [e for e in got if e.get("PGMIG_EVENT") == "control_refused"]
    R.ok(refused and refused[0].get("PGMIG_COMMAND") == "reload" and
         refused[0].get("PGMIG_PEER_UID") == "65534" and
         refused[0].get("PRIORITY") == "4",
         "control_refused names the command and the peer uid", refused)
    cerr = [e for e in got if e.get("PGMIG_EVENT") == "config_error"]
    R.ok(cerr and re.search(r"pgmigd\.conf:\d+: database music: pool_size",
                            cerr[0].get("MESSAGE", "")),
         "config_error has FILE:LINE in MESSAGE", cerr)
    R.ok(all("Sup3rSecret" not in json.dumps(e) for e in got),
         "the password never reaches the journal")

    # the catalog compiles, and journalctl -x shows its text
    catdir = os.path.join(d.tmp + "-cat")
    os.makedirs(os.path.join(catdir, "usr/lib/systemd/catalog"), exist_ok=True)
    os.makedirs(os.path.join(catdir, "var/lib/systemd"), exist_ok=True)
    with open(os.path.join(SRCDIR, "systemd", "pgmigd.catalog")) as src, \
            open(os.path.join(catdir, "usr/lib/systemd/catalog/pgmigd.catalog"),
                 "w") as dst:
        dst.write(src.read())
    p = subprocess.run(["journalctl", "--root", catdir, "--update-catalog"],
                       capture_output=True, text=True)
    q = subprocess.run(["journalctl", "--root", catdir, "--list-catalog"],
                       capture_output=True, text=True)
    R.ok(p.returncode == 0 and all(i in q.stdout for i in cat),
         "journalctl --update-catalog accepts the catalog (%d entries)" %
         len(cat), p.stderr + q.stderr)
    subprocess.run(["rm", "-rf", catdir])
finally:
    if started is not None:
        started.send_signal(signal.SIGTERM)
        try:
            started.wait(timeout=10)
        except subprocess.TimeoutExpired:
            started.kill()
            started.wait()
        R.ok(True, "stopped the journald this test started")

R.summary()
