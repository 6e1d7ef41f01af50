#!/usr/bin/env python3
"""Prometheus metrics: `pgmigctl metrics` and the loopback HTTP /metrics
endpoint serve the same text, which a strict parser of the exposition
format accepts (HELP/TYPE before samples, valid names and labels,
histogram buckets cumulative with +Inf = _count), with the series
DESIGN.md names, counting real runs; non-loopback addresses are refused."""

import json
import os
import re
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgharness import Cluster
from pgmigtest import Daemon, PGMIGD, Results, wait_for

R = Results("t_metrics")

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse(text):
    """Exposition format 0.0.4, strictly: returns {family: {"type", "samples":
    [(name, labels, value)]}}; raises ValueError on anything off."""
    fams, types, helps = {}, {}, {}
    if not text.endswith("\n"):
        raise ValueError("no final newline")
    for ln, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if name in helps:
                raise ValueError("%d: HELP twice for %s" % (ln, name))
            helps[name] = True
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            if typ not in ("counter", "gauge", "histogram", "summary", "untyped"):
                raise ValueError("%d: bad type %s" % (ln, typ))
            if name in types:
                raise ValueError("%d: TYPE twice for %s" % (ln, name))
            types[name] = typ
            fams[name] = {"type": typ, "samples": []}
            continue
        if line.startswith("#") or line == "":
            raise ValueError("%d: unexpected line %r" % (ln, line))
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m:
            raise ValueError("%d: bad sample %r" % (ln, line))
        name, labels, value = m.group(1), m.group(3), m.group(4)
        float(value)
        lab = {}
        if labels:
            pos = 0
            for lm in LABEL.finditer(labels):
                if lm.start() != pos:
                    raise ValueError("%d: bad labels %r" % (ln, labels))
                if lm.group(1) in lab:
                    raise ValueError("%d: label twice" % ln)
                lab[lm.group(1)] = lm.group(2)
                pos = lm.end() + 1
            if pos < len(labels):
                raise ValueError("%d: bad labels %r" % (ln, labels))
        fam = name
        for suf in ("_bucket", "_sum", "_count"):
            if name.endswith(suf) and name[:-len(suf)] in types:
                fam = name[:-len(suf)]
        if fam not in types:
            raise ValueError("%d: sample %s before its TYPE" % (ln, name))
        if types[fam] == "counter" and not fam.endswith("_total"):
            raise ValueError("%d: counter %s without _total" % (ln, fam))
        fams[fam]["samples"].append((name, lab, float(value)))
    for fam, f in fams.items():
        if f["type"] != "histogram":
            continue
        series = {}
        for name, lab, v in f["samples"]:
            key = tuple(sorted((k, x) for k, x in lab.items() if k != "le"))
            series.setdefault(key, {"b": [], "count": None})
            if name.endswith("_bucket"):
                series[key]["b"].append((float(lab["le"]), v))
            elif name.endswith("_count"):
                series[key]["count"] = v
        for key, s in series.items():
            les = [le for le, _ in s["b"]]
            vals = [v for _, v in s["b"]]
            if les != sorted(les) or les[-1] != float("inf"):
                raise ValueError("%s %s: buckets not ascending to +Inf" % (fam, key))
            if vals != sorted(vals):
                raise ValueError("%s %s: buckets not cumulative" % (fam, key))
            if s["count"] != vals[-1]:
                raise ValueError("%s %s: +Inf bucket != _count" % (fam, key))
    return fams


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


with Cluster() as pg:
    db = pg.createdb()
    port = free_port()
    # three migration files, one recorded as applied: two pending
    import tempfile
    migdir = tempfile.mkdtemp(prefix="pgmig-migs-")
    for name in ("001_initial_schema.sql", "002_add_users.sql",
                 "20250618_075008_add_index.sql"):
        with open(os.path.join(migdir, name), "w") as f:
            f.write("SELECT 1;\n")
    # the table as DESIGN.md defines it (pgmigd creates it so)
    pg.psql("CREATE TABLE public.schema_migrations (version text PRIMARY KEY,"
            " description text NOT NULL, checksum text NOT NULL, applied_at "
            "timestamptz NOT NULL DEFAULT now(), execution_ms bigint NOT NULL "
            "DEFAULT 0, applied_by text NOT NULL DEFAULT current_user, "
            "transactional boolean NOT NULL DEFAULT true, success boolean NOT "
            "NULL); INSERT INTO public.schema_migrations (version, "
            "description, checksum, success) VALUES ('1', 'initial_schema', "
            "'', true)", db=db)
    conf = ('{ name = "music"; conninfo = "%s"; migrations_dir = "%s"; jobs = ( '
            '{ name = "tick"; type = "sql"; schedule = "*/1 * * * * *"; sql = "SELECT 1"; },'
            '{ name = "bad"; type = "sql"; schedule = "@yearly"; sql = "SELECT 1/0"; } ); },'
            '{ name = "dead"; conninfo = "host=/nonexistent port=1 dbname=x"; }'
            % (pg.conninfo(db), migdir))
    with Daemon(extra_daemon='  metrics_listen = "127.0.0.1:%d";\n' % port,
                databases=conf) as d:
        time.sleep(3.2)
        d.ctl("-d", "music", "run", "bad")
        d.ctl("-d", "music", "vacuum", "pg_class")
        rc, text, err = d.ctl("metrics")
        try:
            fams = parse(text)
            R.ok(True, "pgmigctl metrics parses as exposition format 0.0.4")
        except ValueError as e:
            fams = {}
            R.ok(False, "pgmigctl metrics parses: %s" % e, text[:2000])
        for fam in ("pgmigd_job_runs_total", "pgmigd_job_duration_seconds",
                    "pgmigd_migrations_pending",
                    "pgmigd_job_last_success_timestamp_seconds",
                    "pgmigd_pool_connections", "pgmigd_database_up",
                    "pgmigd_in_recovery"):
            R.ok(fam in fams, "has %s" % fam)
        runs = {(l["job"], l["status"]): v for n, l, v in
                fams.get("pgmigd_job_runs_total", {}).get("samples", [])
                if l["database"] == "music"}
        R.ok(runs.get(("tick", "succeeded"), 0) >= 2 and
             runs.get(("bad", "failed")) == 1 and
             runs.get(("manual:vacuum", "succeeded")) == 1,
             "job run counters count real runs (ad-hoc commands as "
             "manual:TYPE)", runs)
        up = {l["database"]: v for n, l, v in
              fams.get("pgmigd_database_up", {}).get("samples", [])}
        R.ok(up == {"music": 1.0, "dead": 0.0}, "pgmigd_database_up", up)
        pc = {(l["database"], l["state"]) for n, l, v in
              fams.get("pgmigd_pool_connections", {}).get("samples", [])}
        R.ok(("music", "idle") in pc and ("music", "in_use") in pc,
             "pool connections by state")
        pend = {l["database"]: v for n, l, v in fams.get(
            "pgmigd_migrations_pending", {}).get("samples", [])}
        R.ok(pend == {"music": 2.0}, "pgmigd_migrations_pending counts the "
             "files without a successful row (versions compare numerically)",
             pend)
        ls = [v for n, l, v in fams.get(
            "pgmigd_job_last_success_timestamp_seconds", {}).get("samples", [])
            if l["job"] == "tick"]
        R.ok(ls and abs(ls[0] - time.time()) < 10, "last success timestamp")

        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                    timeout=5) as resp:
            body = resp.read().decode()
            ctype = resp.headers.get("Content-Type", "")
        R.ok(ctype.startswith("text/plain; version=0.0.4"),
             "HTTP /metrics content type", ctype)
        try:
            parse(body)
            R.ok("pgmigd_job_runs_total" in body, "HTTP /metrics serves the "
                 "same families")
        except ValueError as e:
            R.ok(False, "HTTP /metrics parses: %s" % e)
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/other" % port, timeout=5)
            R.ok(False, "other paths are 404")
        except urllib.error.HTTPError as e:
            R.eq(e.code, 404, "other paths are 404")
        # a client that connects and says nothing does not stall the loop
        idle = socket.create_connection(("127.0.0.1", port))
        t = time.monotonic()
        R.ok(d.answers() and time.monotonic() - t < 1,
             "a silent HTTP client does not stall the daemon")
        idle.close()

import shutil
shutil.rmtree(migdir, ignore_errors=True)

# non-loopback addresses are refused by --check-config
for addr in ("0.0.0.0:9187", "10.1.2.3:9187", "example.com:80", "127.0.0.1",
             "127.0.0.1:0", "[::]:9187"):
    d = Daemon(extra_daemon='  metrics_listen = "%s";\n' % addr)
    import subprocess
    p = subprocess.run([PGMIGD, "-t", "-c", d.conf], capture_output=True,
                       text=True)
    R.ok(p.returncode == 1 and "metrics_listen" in p.stderr,
         "metrics_listen %s is refused" % addr, p.stderr)
    d.cleanup()
d = Daemon(extra_daemon='  metrics_listen = "[::1]:9187";\n')
p = subprocess.run([PGMIGD, "-t", "-c", d.conf], capture_output=True, text=True)
R.eq(p.returncode, 0, "metrics_listen [::1]:9187 is accepted")
d.cleanup()

R.summary()
