#!/usr/bin/env python3
"""bench/migrate_bench.py: the migration engine against named baselines
measured in the same run, on one throwaway PostgreSQL 15 cluster
(tests/integration/pgharness.py).  Prints a markdown report on stdout
(progress goes to stderr) and writes it into bench/RESULTS-migrate.md
between the GENERATED markers (text outside them is kept).

  python3 bench/migrate_bench.py [--runs N] [--files N] [--status-runs N]
                                 [--no-diag] [--on-disk] [--out FILE]

1. Apply --files (1000) migrations NNNN_tNNNN.sql, each
       -- pgmig:disable missing-lock-timeout
       CREATE TABLE t_NNNN (id bigint PRIMARY KEY, v text);
       CREATE INDEX t_NNNN_v_idx ON t_NNNN (v);
   each method on a fresh database (CREATE DATABASE ... TEMPLATE template0)
   of the same cluster, --runs (3) rounds, the order of the methods rotated
   each round, no database dropped before the end (see below); wall time =
   fork to exit of the measured command(s):
     b1  psql -X -q -1 -v ON_ERROR_STOP=1 -f all.sql
         (all files concatenated, one transaction, no history)
     b2  psql -X -q -v ON_ERROR_STOP=1 -f floor.sql: one connection; per
         file BEGIN; <file> INSERT INTO schema_migrations (version,
         checksum) VALUES (...); COMMIT; (the table created first, in the
         script): the true floor of one transaction + one history row per
         file
     b3  psql -X -q -1 -v ON_ERROR_STOP=1 -f FILE, once per file (the file
         followed by its INSERT), after `psql -c "CREATE TABLE
         schema_migrations ..."`
     p1  pgmigd -c CONF --once migrate up                  (no daemon)
     p2  pgmigctl -s SOCK migrate up      (a running daemon, started and
         connected before the clock starts)
   and, unless --no-diag, two diagnostics in the same rounds:
     d1  psql -X -q -v ON_ERROR_STOP=1 -f batch.sql: per file exactly the
         SQL text pgmigd sends (BEGIN; file; INSERT ... ON CONFLICT ...;
         COMMIT; the session reset), joined with psql's \\; into one Query
         message per file as pgmigd does
     d2  psql -X -q -c "ANALYZE t_0001, ..., t_1000" on d1's database (pgmigd
         analyzes the tables it touched at the end of `up`)
   For every run: client CPU (getrusage of the children), server CPU (all
   postgres processes of the cluster: live ones from /proc/PID/stat, exited
   backends from the postmaster's cutime/cstime), pgmigd's CPU (daemon, from
   /proc), and from schema_migrations.applied_at (= now(), the start of each
   file's transaction, same clock as ours): time to the first file, the
   span of the files, time after the last file, and the median gap between
   successive files.  Every run is checked: 1000 tables t_NNNN and (except
   b1) 1000 history rows.
2. No-op `migrate status` with the 1000 applied, against a running daemon:
   --status-runs (50) measured rounds after 5 warm-up rounds, the commands
   interleaved: pgmigctl migrate status, pgmigctl --json migrate status,
   pgmigd --once migrate status; baseline psql -X -c "SELECT version,
   checksum FROM schema_migrations"; reference sha256sum over the 1000 files
   and pgmigctl ping (the floor of any pgmigctl command).  Median, p95
   (nearest rank), min, max.
3. Unless --no-diag: strace -c -f of one more `pgmigd --once migrate up` and
   of the daemon during 20 `migrate status`, and perf record (DWARF call
   graphs) of the daemon during 20 more (none of them timed).

Cluster: the harness defaults (fsync = off, synchronous_commit = off,
full_page_writes = off, pg_stat_statements.track = all) and autovacuum =
off, so that one method's 5,000 new catalog rows do not bring autovacuum
into the next method's run.  Its data directory is on tmpfs (/dev/shm)
unless --on-disk: each method creates some 5,000 relation files, and on
this machine's ext4 creating a file costs more the more files were
deleted in the last minutes (__ext4_new_inode -> find_inode_bit ->
recently_deleted, up to 60% of the backend's CPU in perf), which other
sessions' tests do at random times; for the same reason no database is
dropped during the run.

Environment: PGMIG_BUILDDIR (default: this checkout) holds pgmigd and
pgmigctl, copied to a temp dir first (the tree may be rebuilt meanwhile).
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
BUILDDIR = os.environ.get("PGMIG_BUILDDIR") or REPO
os.environ.setdefault("PGMIG_BUILDDIR", BUILDDIR)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from pgharness import Cluster, pg_version  # noqa: E402
import pgmigtest  # noqa: E402
import benchlib  # noqa: E402
from pgmigtest import Daemon, conf_text  # noqa: E402

PGMIGD = os.path.join(BUILDDIR, "pgmigd")
PGMIGCTL = os.path.join(BUILDDIR, "pgmigctl")
TARGET_UP_RATIO = 1.3
TARGET_STATUS_MS = 20.0
TICK = os.sysconf("SC_CLK_TCK")
BEGIN_MARK = "<!-- BEGIN GENERATED by bench/migrate_bench.py -->"
END_MARK = "<!-- END GENERATED -->"

# pgmigd's table (src/migrate.c create_table), for the d1 diagnostic
PGMIG_TABLE = ("CREATE TABLE IF NOT EXISTS public.schema_migrations ("
               " version text PRIMARY KEY, description text NOT NULL,"
               " checksum text NOT NULL,"
               " applied_at timestamptz NOT NULL DEFAULT now(),"
               " execution_ms bigint NOT NULL DEFAULT 0,"
               " applied_by text NOT NULL DEFAULT current_user,"
               " transactional boolean NOT NULL DEFAULT true,"
               " success boolean NOT NULL)")
# the baselines' table
BASE_TABLE = ("CREATE TABLE schema_migrations (version text PRIMARY KEY, "
              "checksum text NOT NULL, applied_at timestamptz NOT NULL "
              "DEFAULT now())")
# src/migrate.c reset_sql() with the defaults (statement_timeout 0,
# lock_timeout 5s)
CHECK_CLIENT = ("SELECT pg_catalog.set_config("
                "'client_connection_check_interval', '1s', false) WHERE "
                "pg_catalog.current_setting('server_version_num')::"
                "pg_catalog.int4 >= 140000")
RESET = ("SET SESSION AUTHORIZATION DEFAULT; RESET ALL; "
         "SET statement_timeout = 0; SET lock_timeout = 5000; "
         "DEALLOCATE ALL; UNLISTEN *; DISCARD TEMP; DISCARD SEQUENCES; "
         + CHECK_CLIENT)


log = benchlib.log
pct = benchlib.pct


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else float("nan")


def fs_of(path):
    """(fstype of the mount holding path, its mount point)"""
    best = ("?", "/")
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and \
                    len(mnt) >= len(best[1]):
                best = (fstype, mnt)
    return "%s on %s" % (best[0], best[1])


def is_tmpfs(path):
    return os.path.isdir(path) and os.access(path, os.W_OK) and \
        fs_of(path).startswith("tmpfs ")


def machine():
    model = benchlib.cpu_model()
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.0f GiB RAM" % (kb / 1048576.0)
    except (OSError, ValueError, IndexError):
        pass
    return "nproc %d, %s, %s, Linux %s" % (os.cpu_count(), model, mem,
                                          os.uname().release)


def snapshot_binaries(tmp):
    """Copy pgmigd and pgmigctl to tmp and use the copies (benchlib)."""
    global PGMIGD, PGMIGCTL
    desc = benchlib.snapshot_binaries(tmp, REPO, PGMIGD, PGMIGCTL)
    PGMIGD, PGMIGCTL = pgmigtest.PGMIGD, pgmigtest.PGMIGCTL
    return desc


# ------------------------------------------------------------ the files

def file_text(i):
    return ("-- pgmig:disable missing-lock-timeout\n"
            "CREATE TABLE t_%04d (id bigint PRIMARY KEY, v text);\n"
            "CREATE INDEX t_%04d_v_idx ON t_%04d (v);\n" % (i, i, i))


def normalized_sha256(raw):
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def sql_lit(s):
    return "'" + s.replace("'", "''") + "'"


def make_files(tmp, n):
    """The migrations dir and every baseline's input; returns paths."""
    mig = os.path.join(tmp, "migrations")
    os.mkdir(mig)
    os.chmod(mig, 0o755)
    names = []
    for i in range(1, n + 1):
        name = "%04d_t%04d.sql" % (i, i)
        with open(os.path.join(mig, name), "w") as f:
            f.write(file_text(i))
        names.append(name)
    t0 = time.perf_counter()
    files = []
    for name in names:
        with open(os.path.join(mig, name), "rb") as f:
            raw = f.read()
        files.append((name, name.split("_", 1)[0],
                      name.split("_", 1)[1][:-4], raw.decode(),
                      normalized_sha256(raw)))
    hash_s = time.perf_counter() - t0
    out = {"mig": mig, "names": names, "hash_s": hash_s}
    # b1: all files, concatenated
    out["all"] = os.path.join(tmp, "all.sql")
    with open(out["all"], "w") as f:
        for _, _, _, text, _ in files:
            f.write(text)
    # b2: one script, a transaction and a history row per file
    out["floor"] = os.path.join(tmp, "floor.sql")
    with open(out["floor"], "w") as f:
        f.write(BASE_TABLE + ";\n")
        for _, v, _, text, c in files:
            f.write("BEGIN;\n%sINSERT INTO schema_migrations (version, "
                    "checksum) VALUES (%s, %s);\nCOMMIT;\n"
                    % (text, sql_lit(v), sql_lit(c)))
    # b3: one file each, the migration then its history row
    out["perfile"] = os.path.join(tmp, "perfile")
    os.mkdir(out["perfile"])
    for name, v, _, text, c in files:
        with open(os.path.join(out["perfile"], name), "w") as f:
            f.write("%sINSERT INTO schema_migrations (version, checksum) "
                    "VALUES (%s, %s);\n" % (text, sql_lit(v), sql_lit(c)))
    # d1: what pgmigd sends per file (src/migrate.c file_start,
    # history_sql, reset_sql), one Query message per file (psql's \;)
    out["batch"] = os.path.join(tmp, "batch.sql")
    who = "pgmigd --once migrate up"
    with open(out["batch"], "w") as f:
        f.write(PGMIG_TABLE + ";\n")
        for _, v, d, text, c in files:
            body = "\n".join(l for l in text.splitlines()
                             if not l.startswith("--"))
            hist = ("INSERT INTO public.schema_migrations (version, "
                    "description, checksum, applied_at, execution_ms, "
                    "applied_by, transactional, success) VALUES (%s, %s, "
                    "%s, now(), (pg_catalog.date_part('epoch', "
                    "pg_catalog.clock_timestamp() - now()) * 1000)::bigint, "
                    "session_user || ' via ' || %s, true, true) ON CONFLICT "
                    "(version) DO UPDATE SET description = "
                    "excluded.description, checksum = excluded.checksum, "
                    "applied_at = excluded.applied_at, execution_ms = "
                    "excluded.execution_ms, applied_by = excluded.applied_by, "
                    "transactional = excluded.transactional, success = "
                    "excluded.success" % (sql_lit(v), sql_lit(d), sql_lit(c),
                                          sql_lit(who)))
            stmts = (["BEGIN"] + [s.strip() for s in body.split(";")
                                  if s.strip()] + [hist, "COMMIT"] +
                     [s.strip() for s in RESET.split("; ")])
            f.write("\\; ".join(s.replace("\n", " ") for s in stmts) + ";\n")
    out["analyze"] = "ANALYZE " + ", ".join(
        "t_%04d" % i for i in range(1, n + 1))
    return out


# ------------------------------------------------------------ measuring

def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def proc_cpu(pid, with_children=False):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return 0.0
    v = s[s.rindex(")") + 2:].split()
    # fields 14.. (utime) are v[11..]; cutime, cstime v[13], v[14]
    t = int(v[11]) + int(v[12])
    if with_children:
        t += int(v[13]) + int(v[14])
    return t / float(TICK)


def server_cpu(pm):
    """CPU seconds of the whole cluster so far: the postmaster with its
    reaped children, plus every live child."""
    total = proc_cpu(pm, with_children=True)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        v = s[s.rindex(")") + 2:].split()
        if int(v[1]) == pm:
            total += (int(v[11]) + int(v[12])) / float(TICK)
    return total


def cpu_stat():
    """(all jiffies, idle + iowait jiffies) of the machine"""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]), v[3] + v[4]


class Meter:
    def __init__(self, pm, daemon_pid=None):
        self.pm = pm
        self.dpid = daemon_pid
        self.c0 = children_cpu()
        self.s0 = server_cpu(pm)
        self.d0 = proc_cpu(daemon_pid) if daemon_pid else 0.0
        self.m0 = cpu_stat()
        self.e0 = time.time()
        self.t0 = time.perf_counter()

    def stop(self):
        wall = time.perf_counter() - self.t0
        m1 = cpu_stat()
        dt = m1[0] - self.m0[0]
        busy = 100.0 * (dt - (m1[1] - self.m0[1])) / dt if dt > 0 else 0.0
        # the backend of a client that just exited may not be reaped yet
        time.sleep(0.25)
        return {"wall": wall, "busy": busy, "epoch0": self.e0,
                "epoch1": self.e0 + wall,
                "client_cpu": children_cpu() - self.c0,
                "server_cpu": server_cpu(self.pm) - self.s0,
                "daemon_cpu": (proc_cpu(self.dpid) - self.d0) if self.dpid
                else 0.0}


def spawn_wait(argv, env=None, cwd="/", stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL, timeout=600):
    """Run argv to its end; (exit code, seconds from spawn to exit).  A
    blocking wait4(): subprocess's wait(timeout=...) polls with sleeps that
    double from 0.5 ms, which would round every time up to 1.5, 3.5, 7.5,
    15.5, 31.5, 63.5 ms (and then by up to 50 ms)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                         stderr=stderr, env=env, cwd=cwd)
    killer = threading.Timer(timeout, p.kill)
    killer.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        killer.cancel()
    dt = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    spawn_wait.last_cpu = ru.ru_utime + ru.ru_stime
    return p.returncode, dt


def run(argv, env=None, cwd="/", timeout=600):
    with tempfile.TemporaryFile() as err:
        rc, _ = spawn_wait(argv, env=env, cwd=cwd, stderr=err,
                           timeout=timeout)
        if rc != 0:
            err.seek(0)
            raise RuntimeError("%s: exit %d\n%s" % (
                shlex.join(argv), rc, err.read().decode()[-3000:]))


class Bench:
    def __init__(self, pg, opts, files, tmp):
        self.pg = pg
        self.opts = opts
        self.f = files
        self.tmp = tmp
        self.n = opts.files
        self.pm = pg.pid() if callable(pg.pid) else pg.pid
        # the server's own psql binary: Debian's /usr/bin/psql is
        # pg_wrapper, a Perl script that costs ~25 ms of CPU per start
        self.psql = pg.psql_bin

    def env(self, db):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("PG") or k.startswith("PGMIG_")}
        e.update(self.pg.env())
        e["PGDATABASE"] = db
        e["LC_ALL"] = "C"
        return e

    def conf(self, db, sock):
        return conf_text(sock, databases=(
            '{ name = "bench"; conninfo = "%s"; migrations_dir = "%s"; }'
            % (self.pg.conninfo(db), self.f["mig"])))

    # -- the methods; each returns the Meter's dict

    def m_b1(self, db):
        env = self.env(db)
        m = Meter(self.pm)
        run([self.psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f",
             self.f["all"]], env=env)
        return m.stop()

    def m_b2(self, db):
        env = self.env(db)
        m = Meter(self.pm)
        run([self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f",
             self.f["floor"]], env=env)
        return m.stop()

    def m_b3(self, db):
        env = self.env(db)
        d = self.f["perfile"]
        m = Meter(self.pm)
        run([self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", BASE_TABLE],
            env=env)
        for name in self.f["names"]:
            run([self.psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f",
                 os.path.join(d, name)], env=env)
        return m.stop()

    def m_p1(self, db):
        conf = os.path.join(self.tmp, "once-%s.conf" % db)
        with open(conf, "w") as f:
            f.write(self.conf(db, os.path.join(self.tmp, "unused.sock")))
        m = Meter(self.pm)
        run([PGMIGD, "-c", conf, "--once", "migrate", "up"])
        return m.stop()

    def start_daemon(self, db):
        dtmp = tempfile.mkdtemp(prefix="d-", dir=self.tmp)
        os.chmod(dtmp, 0o755)
        sock = os.path.join(dtmp, "control.sock")
        d = Daemon(conf=self.conf(db, sock), tmp=dtmp, sock=sock)
        d.start()

        def reachable():
            p = subprocess.run([PGMIGCTL, "-s", d.sock, "--json", "status"],
                               capture_output=True, text=True, timeout=30)
            try:
                st = json.loads(p.stdout)
            except ValueError:
                return False
            dbs = st.get("databases") or []
            return bool(dbs) and all(x.get("reachable") is True for x in dbs)
        if not pgmigtest.wait_for(reachable, timeout=20, interval=0.05):
            raise RuntimeError("daemon never reached the database:\n" +
                               d.logtext())
        return d

    def m_p2(self, db):
        d = self.start_daemon(db)
        try:
            m = Meter(self.pm, d.proc.pid)
            run([PGMIGCTL, "-s", d.sock, "migrate", "up"])
            r = m.stop()
        finally:
            d.cleanup()
        return r

    def m_d1(self, db):
        env = self.env(db)
        m = Meter(self.pm)
        run([self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f",
             self.f["batch"]], env=env)
        r = m.stop()
        m = Meter(self.pm)
        run([self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
             self.f["analyze"]], env=env)
        r["analyze"] = m.stop()
        return r

    # -- checks and the history's timeline

    def check(self, key, db, r):
        q = self.pg.psql
        tables = int(q("SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                       "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                       "AND c.relkind = 'r' AND c.relname ~ '^t_[0-9]{4}$'",
                       db=db)[0][0])
        idx = int(q("SELECT count(*) FROM pg_class WHERE relkind = 'i' AND "
                    "relname ~ '^t_[0-9]{4}_v_idx$'", db=db)[0][0])
        if tables != self.n or idx != self.n:
            raise RuntimeError("%s: %d tables, %d indexes" % (key, tables,
                                                             idx))
        if key == "b1":
            return
        rows = q("SELECT count(*), count(DISTINCT checksum), "
                 "count(DISTINCT applied_at) FROM schema_migrations", db=db)
        cnt, sums, ts = (int(x) for x in rows[0])
        if cnt != self.n or sums != self.n:
            raise RuntimeError("%s: %d history rows, %d checksums" % (
                key, cnt, sums))
        r["distinct_tx"] = ts
        # applied_at = now() = the start of each file's transaction
        tl = q("SELECT extract(epoch FROM min(applied_at)), "
               "extract(epoch FROM max(applied_at)), "
               "percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FROM ("
               "SELECT applied_at, 1000 * extract(epoch FROM applied_at - "
               "lag(applied_at) OVER (ORDER BY version)) AS gap FROM "
               "schema_migrations) x", db=db)[0]
        first, last, gap = float(tl[0]), float(tl[1]), float(tl[2])
        r["to_first"] = first - r["epoch0"]
        r["span"] = last - first
        r["after_last"] = r["epoch1"] - last
        r["gap_ms"] = gap
        if key in ("p1", "p2", "d1"):
            ex = q("SELECT sum(execution_ms), percentile_cont(0.5) WITHIN "
                   "GROUP (ORDER BY execution_ms), bool_and(success AND "
                   "transactional) FROM schema_migrations", db=db)[0]
            r["exec_sum_ms"] = float(ex[0])
            r["exec_med_ms"] = float(ex[1])
            if ex[2] != "t":
                raise RuntimeError("%s: a row is not success+transactional"
                                   % key)


METHODS = [
    ("b1", "baseline 1: one psql, all files concatenated, one transaction"),
    ("b2", "baseline 2 (floor): one psql, per file BEGIN; file; INSERT "
     "history row; COMMIT"),
    ("b3", "baseline 3: psql -1 -f per file (a process and a connection "
     "per file)"),
    ("p1", "pgmig: `pgmigd --once migrate up`"),
    ("p2", "pgmig: `pgmigctl migrate up` (running daemon)"),
    ("d1", "diagnostic: one psql, pgmigd's exact SQL per file, one Query "
     "each"),
]


def commands(bench):
    f = bench.f
    return {
        "b1": "psql -X -q -1 -v ON_ERROR_STOP=1 -f all.sql",
        "b2": "psql -X -q -v ON_ERROR_STOP=1 -f floor.sql",
        "b3": 'psql -X -q -v ON_ERROR_STOP=1 -c "CREATE TABLE '
              'schema_migrations ..."; for f in perfile/*.sql; do psql -X -q '
              '-1 -v ON_ERROR_STOP=1 -f "$f"; done',
        "p1": "pgmigd -c CONF --once migrate up",
        "p2": "pgmigctl -s SOCK migrate up",
        "d1": "psql -X -q -v ON_ERROR_STOP=1 -f batch.sql; then psql -X -q "
              '-c "ANALYZE t_0001, ..., t_%04d" (timed apart)' % bench.n,
    }


def bench_up(bench, opts):
    keys = [k for k, _ in METHODS if opts.diag or not k.startswith("d")]
    res = {k: [] for k in keys}
    keep = {}
    for rnd in range(opts.runs):
        order = keys[rnd % len(keys):] + keys[:rnd % len(keys)]
        for k in order:
            db = bench.pg.createdb()
            bench.pg.psql("CHECKPOINT")
            time.sleep(0.3)
            log("round %d/%d: %s on %s" % (rnd + 1, opts.runs, k, db))
            r = getattr(bench, "m_" + k)(db)
            bench.check(k, db, r)
            log("  %.3f s wall, client CPU %.2f s, server CPU %.2f s%s" % (
                r["wall"], r["client_cpu"], r["server_cpu"],
                ", daemon CPU %.2f s" % r["daemon_cpu"] if r["daemon_cpu"]
                else ""))
            res[k].append(r)
            # no DROP DATABASE until the cluster goes: on ext4, thousands of
            # just-deleted files make every file creation after them slower
            # (__ext4_new_inode -> recently_deleted), in the next run
            keep[k] = db
    return res, keep


# ------------------------------------------------------------ status

def bench_status(bench, db, opts):
    d = bench.start_daemon(db)
    env = bench.env(db)
    conf = d.conf
    files = [os.path.join(bench.f["mig"], n) for n in bench.f["names"]]
    psql_q = "SELECT version, checksum FROM schema_migrations"
    cmds = [
        ("ctl", "pgmig", "pgmigctl -s SOCK migrate status",
         [PGMIGCTL, "-s", d.sock, "migrate", "status"], None),
        ("ctljson", "pgmig", "pgmigctl -s SOCK --json migrate status",
         [PGMIGCTL, "-s", d.sock, "--json", "migrate", "status"], None),
        ("once", "pgmig, no daemon", "pgmigd -c CONF --once migrate status",
         [PGMIGD, "-c", conf, "--once", "migrate", "status"], None),
        ("psql", "baseline", 'psql -X -c "%s"' % psql_q,
         [bench.psql, "-X", "-c", psql_q], env),
        ("sha", "reference", "sha256sum -- migrations/*.sql (%d files)"
         % bench.n, ["sha256sum", "--"] + files, None),
        ("ping", "reference", "pgmigctl -s SOCK ping",
         [PGMIGCTL, "-s", d.sock, "ping"], None),
    ]
    out = {}
    try:
        for key, _, _, argv, e in cmds:
            p = subprocess.run(argv, capture_output=True, env=e, timeout=60)
            if p.returncode != 0:
                raise RuntimeError("%s: exit %d: %s" % (
                    shlex.join(argv[:6]), p.returncode, p.stderr[-2000:]))
            out[key] = len(p.stdout)
        st = json.loads(subprocess.run(
            [PGMIGCTL, "-s", d.sock, "--json", "migrate", "status"],
            capture_output=True, text=True, timeout=60).stdout)
        if len(st.get("applied", [])) != bench.n or st.get("pending"):
            raise RuntimeError("status does not show %d applied" % bench.n)
        times = {c[0]: [] for c in cmds}
        cpus = {c[0]: [] for c in cmds}
        log("status: 5 warm-up + %d measured rounds of %d commands" % (
            opts.status_runs, len(cmds)))
        cpu0 = proc_cpu(d.proc.pid)
        m0 = cpu_stat()
        for rnd in range(5 + opts.status_runs):
            for key, _, _, argv, e in cmds:
                rc, dt = spawn_wait(argv, env=e, timeout=60)
                if rc != 0:
                    raise RuntimeError("%s failed in round %d" % (key, rnd))
                if rnd >= 5:
                    times[key].append(dt * 1000.0)
                    cpus[key].append(spawn_wait.last_cpu * 1000.0)
        dcpu = proc_cpu(d.proc.pid) - cpu0
        m1 = cpu_stat()
        busy = 100.0 * ((m1[0] - m0[0]) - (m1[1] - m0[1])) / max(
            1, m1[0] - m0[0])
        # the server's and the daemon's share of one request, alone
        n_alone = 20
        s0, c0 = server_cpu(bench.pm), proc_cpu(d.proc.pid)
        t0 = time.perf_counter()
        for _ in range(n_alone):
            spawn_wait([PGMIGCTL, "-s", d.sock, "--json", "migrate",
                        "status"], timeout=60)
        alone = {"n": n_alone,
                 "wall_ms": 1000.0 * (time.perf_counter() - t0) / n_alone}
        time.sleep(0.25)
        alone["server_ms"] = 1000.0 * (server_cpu(bench.pm) - s0) / n_alone
        alone["daemon_ms"] = 1000.0 * (proc_cpu(d.proc.pid) - c0) / n_alone
        strace = perf = None
        if opts.diag and shutil.which("strace"):
            strace = strace_daemon_status(d)
        if opts.diag and shutil.which("perf"):
            perf = perf_daemon_status(d)
    finally:
        d.cleanup()
    rows = []
    for key, label, shown, _, _ in cmds:
        v = sorted(times[key])
        rows.append({"key": key, "label": label, "cmd": shown, "n": len(v),
                     "cpu": median(cpus[key]),
                     "p50": pct(v, 50), "p95": pct(v, 95), "min": v[0],
                     "max": v[-1], "bytes": out[key]})
    return {"rows": rows, "daemon_cpu_per_status_ms":
            1000.0 * dcpu / (2 * (5 + opts.status_runs)),
            "busy": busy, "alone": alone, "strace": strace, "perf": perf}


def strace_summary(path, top=8):
    """The top rows of an `strace -c` table, and its total."""
    rows, total = [], None
    with open(path) as f:
        for line in f:
            p = line.split()
            if line.strip().endswith("total") and len(p) >= 4:
                total = (float(p[1]), int(p[3]))
            elif len(p) >= 5 and re.match(r"^[0-9.]+$", p[0]):
                name = p[-1]
                calls = int(p[3])
                errs = int(p[4]) if len(p) == 6 else 0
                rows.append((name, float(p[1]), calls, errs))
    rows.sort(key=lambda x: -x[2])
    return {"rows": rows[:top], "total": total}


def strace_daemon_status(d):
    out = os.path.join(os.path.dirname(d.conf), "strace-status.txt")
    tr = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p",
                           str(d.proc.pid)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    for _ in range(20):
        subprocess.run([PGMIGCTL, "-s", d.sock, "--json", "migrate",
                        "status"], stdout=subprocess.DEVNULL, timeout=60)
    time.sleep(0.2)
    tr.send_signal(2)
    tr.wait(timeout=30)
    s = strace_summary(out)
    s["requests"] = 20
    return s


PERF_SKIP = re.compile(r"^(0x[0-9a-f]+|_start|main|__libc_start.*|"
                       r"event_base_loop|entry_SYSCALL.*|do_syscall_64|"
                       r"event_process_active.*|bufferevent_run.*)$")


def perf_daemon_status(d, n=20):
    """perf record (DWARF call graphs) of the daemon during n
    `pgmigctl --json migrate status`: the functions with the largest
    share of its samples, callees included."""
    data = os.path.join(os.path.dirname(d.conf), "perf-status.data")
    pr = subprocess.Popen(["perf", "record", "--call-graph", "dwarf", "-F",
                           "1000", "-p", str(d.proc.pid), "-o", data],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    for _ in range(n):
        subprocess.run([PGMIGCTL, "-s", d.sock, "--json", "migrate",
                        "status"], stdout=subprocess.DEVNULL, timeout=60)
    time.sleep(0.2)
    pr.send_signal(2)
    try:
        pr.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pr.kill()
        pr.wait()
        return None
    rep = subprocess.run(["perf", "report", "-i", data, "--children",
                          "--sort", "symbol", "--stdio", "-g", "none",
                          "--percent-limit", "2"], capture_output=True,
                         text=True, timeout=300)
    rows = []
    for line in rep.stdout.splitlines():
        m = re.match(r"^\s+([\d.]+)%\s+([\d.]+)%\s+\[(.)\]\s+(\S+)", line)
        if not m or PERF_SKIP.match(m.group(4)):
            continue
        rows.append((m.group(4), float(m.group(1)), float(m.group(2)),
                     m.group(3) == "k"))
    try:
        os.unlink(data)
    except OSError:
        pass
    return {"rows": rows[:20], "requests": n} if rows else None


def strace_once_up(bench):
    db = bench.pg.createdb()
    conf = os.path.join(bench.tmp, "strace.conf")
    with open(conf, "w") as f:
        f.write(bench.conf(db, os.path.join(bench.tmp, "unused.sock")))
    out = os.path.join(bench.tmp, "strace-up.txt")
    t = time.perf_counter()
    run(["strace", "-c", "-f", "-o", out, PGMIGD, "-c", conf, "--once",
         "migrate", "up"])
    wall = time.perf_counter() - t
    s = strace_summary(out)
    s["wall"] = wall
    return s


# ------------------------------------------------------------ report

def fmt_s(x):
    return "%.3f" % x if x == x else "–"


def report(bench, opts, up, status, strace_up, ctx):
    L = []
    p = L.append
    cmds = commands(bench)
    p("Generated %s by `python3 bench/migrate_bench.py%s`." % (
        ctx["date"], (" " + " ".join(sys.argv[1:])) if sys.argv[1:] else ""))
    p("")
    p("- Machine: %s" % ctx["machine"])
    p("- PostgreSQL %s (pgharness cluster: fsync, synchronous_commit and "
      "full_page_writes off, pg_stat_statements.track = all, autovacuum "
      "off); data directory on %s" % (ctx["pg"], ctx["where"]))
    p("- Binaries: %s" % ctx["bins"])
    p("- %d migration files, %d rounds (median), methods rotated each round; "
      "each run on a fresh database; total run time %.0f s" % (
          bench.n, opts.runs, ctx["elapsed"]))
    p("")
    p("### Apply %d migrations" % bench.n)
    p("")
    p("| method | command | wall s (median) | min | max | client CPU s | "
      "server CPU s | pgmigd CPU s | / b1 | / b2 |")
    p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    med = {k: median([r["wall"] for r in v]) for k, v in up.items()}
    for k, label in METHODS:
        if k not in up:
            continue
        v = up[k]
        walls = [r["wall"] for r in v]
        dcpu = ""
        if k == "p1":
            dcpu = "%.2f (all client)" % median([r["client_cpu"] for r in v])
        elif k == "p2":
            dcpu = "%.2f" % median([r["daemon_cpu"] for r in v])
        p("| %s | `%s` | **%s** | %s | %s | %.2f | %.2f | %s | %.2fx | %.2fx |"
          % (label, cmds[k], fmt_s(med[k]), fmt_s(min(walls)),
             fmt_s(max(walls)), median([r["client_cpu"] for r in v]),
             median([r["server_cpu"] for r in v]), dcpu or "–",
             med[k] / med["b1"], med[k] / med["b2"]))
    if "d1" in up:
        a = [r["analyze"]["wall"] for r in up["d1"]]
        p("| diagnostic: ANALYZE of the %d tables (what `up` does at its "
          "end) | `psql -X -q -c \"ANALYZE t_0001, ..., t_%04d\"` | **%s** | "
          "%s | %s | %.2f | %.2f | – | – | – |" % (
              bench.n, bench.n, fmt_s(median(a)), fmt_s(min(a)),
              fmt_s(max(a)),
              median([r["analyze"]["client_cpu"] for r in up["d1"]]),
              median([r["analyze"]["server_cpu"] for r in up["d1"]])))
    p("")
    p("Every run was checked: %d tables and %d indexes; except b1, %d "
      "history rows with %d distinct checksums, and %d distinct "
      "transaction start times (one transaction per file)." % (
          bench.n, bench.n, bench.n, bench.n, bench.n))
    p("")
    p("Timeline from `schema_migrations.applied_at` (= `now()`, the start "
      "of each file's transaction), medians over the rounds:")
    p("")
    p("| method | start to 1st file's tx s | 1st to last file s | after the "
      "last file's start s | gap between files ms (median) | "
      "execution_ms per file (median; sum) |")
    p("| --- | ---: | ---: | ---: | ---: | ---: |")
    for k, label in METHODS:
        if k not in up or k == "b1":
            continue
        v = up[k]
        ex = "–"
        if "exec_med_ms" in v[0]:
            ex = "%.0f; %.0f ms" % (median([r["exec_med_ms"] for r in v]),
                                    median([r["exec_sum_ms"] for r in v]))
        p("| %s | %.3f | %.3f | %.3f | %.2f | %s |" % (
            k, median([r["to_first"] for r in v]),
            median([r["span"] for r in v]),
            median([r["after_last"] for r in v]),
            median([r["gap_ms"] for r in v]), ex))
    p("")
    ratio = max(med["p1"], med["p2"]) / med["b1"]
    p("**Target: pgmig within %.1fx of baseline 1: %s** (p1 %.2fx, p2 %.2fx "
      "of b1; %.2fx and %.2fx of the floor b2).  Computing the %d "
      "checksums for b2/b3 in Python took %.1f ms (not in their times)." % (
          TARGET_UP_RATIO, "met" if ratio <= TARGET_UP_RATIO else "missed",
          med["p1"] / med["b1"], med["p2"] / med["b1"],
          med["p1"] / med["b2"], med["p2"] / med["b2"], bench.n,
          1000 * bench.f["hash_s"]))
    p("")
    p("Raw wall times in round order (s; in brackets, how busy the "
      "machine's %d CPUs were during the run, any process: 50 %% is one "
      "CPU):" % os.cpu_count())
    p("")
    for k, _ in METHODS:
        if k in up:
            p("- %s: %s" % (k, ", ".join("%.3f [%.0f %%]" % (r["wall"],
                                                            r["busy"])
                                         for r in up[k])))
    p("")
    p("### No-op `migrate status`, %d applied" % bench.n)
    p("")
    p("| | command | runs | median ms | p95 ms | min ms | max ms | "
      "its own CPU ms (median) | stdout bytes |")
    p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in status["rows"]:
        p("| %s | `%s` | %d | **%.1f** | %.1f | %.1f | %.1f | %.1f | %d |" % (
            r["label"], r["cmd"], r["n"], r["p50"], r["p95"], r["min"],
            r["max"], r["cpu"], r["bytes"]))
    p("")
    by = {r["key"]: r for r in status["rows"]}
    def verdict(k):
        return "%s median %.1f ms (%s), p95 %.1f ms (%s)" % (
            k, by[k]["p50"], "met" if by[k]["p50"] < TARGET_STATUS_MS
            else "**missed**", by[k]["p95"], "met" if by[k]["p95"] <
            TARGET_STATUS_MS else "**missed**")
    p("**Target: no-op status under %.0f ms** (pgmigctl against the "
      "daemon): %s; %s.  Without a daemon: %s.  Daemon CPU per status "
      "request: %.1f ms.  The machine's CPUs were %.0f %% busy during the "
      "measured rounds (any process)." % (
          TARGET_STATUS_MS, verdict("ctl").replace("ctl ", "text: ", 1),
          verdict("ctljson").replace("ctljson ", "--json: ", 1),
          verdict("once").replace("once ", "`pgmigd --once`: ", 1),
          status["daemon_cpu_per_status_ms"], status["busy"]))
    p("")
    a = status["alone"]
    p("Each command timed from fork to exit, stdout to /dev/null, "
      "interleaved round by round after 5 warm-up rounds; its own CPU is "
      "the process's user + system time (wait4), not the daemon's or the "
      "server's.  Then %d `pgmigctl --json migrate status` back to back: "
      "%.1f ms each, of which CPU: the daemon %.1f ms, PostgreSQL %.1f ms "
      "(all its processes)." % (a["n"], a["wall_ms"], a["daemon_ms"],
                                a["server_ms"]))
    for title, s in (("`strace -c -f pgmigd --once migrate up` (one more "
                      "run, on a fresh database)", strace_up),
                     ("`strace -c -f -p DAEMON` during 20 `pgmigctl --json "
                      "migrate status`", status.get("strace"))):
        if not s:
            continue
        p("")
        p("%s%s: %s syscalls in total; the most frequent:" % (
            title, " (%.2f s under strace)" % s["wall"] if "wall" in s
            else "", s["total"][1] if s["total"] else "?"))
        p("")
        p("| syscall | calls | errors | seconds |")
        p("| --- | ---: | ---: | ---: |")
        for name, secs, calls, errs in s["rows"]:
            p("| %s | %d | %d | %.4f |" % (name, calls, errs, secs))
    pf = status.get("perf")
    if pf:
        p("")
        p("`perf record --call-graph dwarf -p DAEMON` during %d `pgmigctl "
          "--json migrate status`: share of the daemon's samples in each "
          "function, callees included (`perf report --children`), "
          "functions above 2 %%:" % pf["requests"])
        p("")
        p("| function | with callees | self |")
        p("| --- | ---: | ---: |")
        for name, ch, sf, kern in pf["rows"]:
            p("| %s`%s` | %.1f %% | %.1f %% |" % ("kernel " if kern else "",
                                                 name, ch, sf))
    p("")
    p("Commands (in the bench's temp dir; `psql` is %s, not Debian's Perl "
      "`pg_wrapper` /usr/bin/psql, which costs ~25 ms of CPU per start; it "
      "gets PGHOST, PGPORT, PGUSER and PGDATABASE from the environment):"
      % bench.psql)
    p("")
    p("```")
    for k, _ in METHODS:
        if k in up:
            p("%s: %s" % (k, cmds[k]))
    for r in status["rows"]:
        p("status: %s" % r["cmd"])
    p("```")
    p("")
    p("floor.sql per file (b2); perfile/NNNN_tNNNN.sql is the same without "
      "BEGIN/COMMIT (b3):")
    p("")
    p("```sql")
    p("BEGIN;")
    p(file_text(1).rstrip("\n"))
    p("INSERT INTO schema_migrations (version, checksum) VALUES ('0001', "
      "'<sha256 of the file>');")
    p("COMMIT;")
    p("```")
    return "\n".join(L) + "\n"


def write_results(path, body):
    head = ("# Migration engine benchmark: results\n\n"
            "`bench/migrate_bench.py` applies 1,000 generated migrations "
            "with pgmig and\nwith plain psql baselines, and times a no-op "
            "`migrate status`, all against\none throwaway PostgreSQL 15 "
            "cluster.  The part between the markers below is\nrewritten by "
            "every run; the text outside them is not.\n\n")
    tail = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if BEGIN_MARK in old and END_MARK in old:
            head = old[:old.index(BEGIN_MARK)]
            tail = old[old.index(END_MARK) + len(END_MARK):]
    with open(path, "w") as f:
        f.write(head + BEGIN_MARK + "\n\n" + body + "\n" + END_MARK + tail)
    if not tail.endswith("\n"):
        with open(path, "a") as f:
            f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--status-runs", type=int, default=50)
    ap.add_argument("--no-diag", dest="diag", action="store_false")
    ap.add_argument("--on-disk", action="store_true",
                    help="the cluster where pgharness puts it (under /tmp) "
                    "instead of on tmpfs (/dev/shm)")
    ap.add_argument("--out", default=os.path.join(BENCH,
                                                  "RESULTS-migrate.md"))
    opts = ap.parse_args()
    if not 1 <= opts.files <= 9999:
        ap.error("--files: 1..9999")
    start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="pgmig-migbench-", dir="/tmp")
    os.chmod(tmp, 0o755)
    cleanup = [tmp]
    try:
        bins = snapshot_binaries(tmp)
        files = make_files(tmp, opts.files)
        base = None
        if not opts.on_disk:
            if not is_tmpfs("/dev/shm"):
                ap.error("/dev/shm is not a tmpfs: use --on-disk")
            base = tempfile.mkdtemp(prefix="pgmig-migbench-pg-",
                                    dir="/dev/shm")
            cleanup.append(base)
        where = ("tmpfs (%s)" % base if base else "disk (%s)" %
                 fs_of(tempfile.gettempdir()))
        log("cluster on %s" % where)
        with Cluster(extra_conf={"autovacuum": False}, base=base) as pg:
            bench = Bench(pg, opts, files, tmp)
            up, keep = bench_up(bench, opts)
            status = bench_status(bench, keep.get("p2") or keep["p1"], opts)
            strace_up = None
            if opts.diag and shutil.which("strace"):
                log("strace -c -f of one more pgmigd --once migrate up")
                strace_up = strace_once_up(bench)
        ctx = {"date": datetime.datetime.now(datetime.timezone.utc).strftime(
                   "%Y-%m-%d %H:%M UTC"),
               "machine": machine(), "pg": pg_version(), "bins": bins,
               "elapsed": time.monotonic() - start, "where": where}
        body = report(bench, opts, up, status, strace_up, ctx)
        print(body)
        write_results(opts.out, body)
        log("wrote %s (%.0f s)" % (opts.out, time.monotonic() - start))
    finally:
        if os.environ.get("PGMIG_KEEP_TEST_DIRS") != "1":
            for d in cleanup:
                shutil.rmtree(d, ignore_errors=True)
        else:
            log("kept %s" % " ".join(cleanup))


if __name__ == "__main__":
    main()
