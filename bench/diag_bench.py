#!/usr/bin/env python3
"""bench/diag_bench.py: how long pgmig's catalog reports take on a large
schema, next to check_postgres --action=bloat on the same database.

  bench/diag_bench.py [--tables N | --quick] [--reps N] [--no-jit-off]
                      [--explain] [--json FILE]

It starts a throw-away PostgreSQL 15 (tests/integration/pgharness.py, with
pg_stat_statements preloaded), builds database "big" with N tables
(default 10,000; --quick: 2,000) and 3 indexes each, ANALYZEs it, starts
pgmigd on it (tests/integration/pgmigtest.py) and times, median of --reps
runs (default 3):

  pgmigctl analyze-indexes | missing-indexes | table-stats
  check_postgres --action=bloat                 (the baseline)

For each: the wall time of the command (process start to exit, output
read from a pipe); the server time of the statements it caused, from
pg_stat_statements (execution plus planning; the view is reset before
every run); for the pgmig reports the number of queries pgmigd sent (the
`queries` counter of `pgmigctl --json pool`, before and after) and for
check_postgres the number of statements pg_stat_statements saw.

Every pgmig report gets a newly started pgmigd, so its first run is on a
new server session with empty catalog caches, like every check_postgres
run (check_postgres starts psql, hence a new session, each time); that
first run is shown as "first" and is not in the median, whose runs reuse
pgmigd's pooled session.

Three settings of the same database:
  A. as configured (PostgreSQL 15 defaults: jit on): the headline figures;
  B. the database with jit = off (ALTER DATABASE ... SET jit = off, new
     sessions): what `SET LOCAL jit = off` in a report would give, and
     check_postgres without JIT (--no-jit-off skips this);
  C. check_postgres before ANALYZE (pg_stats empty for the user tables),
     which is how cheap its bloat query is when it has no statistics.

The schema (tables t0..tN-1 in schema public):

  tI (id int PRIMARY KEY, a int, b int, c text, p int)   3 rows each
  index 1: tI_pkey (id)
  index 2: tI_ab (a, b)
  index 3: tI_c (c), except
           I % 500 == 7:   tI_a (a)      a redundant prefix of tI_ab
           I % 1000 == 13: tI_ab2 (a, b) an exact duplicate of tI_ab
  I % 250 == 3: p REFERENCES t0 (id), with no index on p

so every table has exactly 3 indexes (plus the TOAST table and index c
brings), and the reports have known findings, which the bench checks.
After ANALYZE every index of 9 tables in 10 is scanned once (enable_seqscan
off), so about a tenth of the indexes are unused.

The server runs with autovacuum off (it has nothing to do here: every
table has 3 rows and was ANALYZEd; but a worker's pass over tens of
thousands of relations would land inside timed runs on 2 cores) and
pg_stat_statements.track_planning on.  --explain also loads auto_explain
(log_analyze, statements over 200 ms) and prints the plans from the
server log; timings are then inflated by the instrumentation.

Needs: root (or an installed check_postgres), PostgreSQL 15 server
binaries, a built pgmigd and pgmigctl (PGMIG_BUILDDIR, default this
checkout; nothing is rebuilt).  Installs the Debian package check-postgres
with apt-get when /usr/bin/check_postgres(.pl) is missing.  Standard
library only.  Exit status 1 when a report misses its target (under 1 s
and faster than the baseline, setting A) or its findings are not the
schema's.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))

from pgharness import Cluster, pg_version  # noqa: E402
import benchlib  # noqa: E402
import pgmigtest  # noqa: E402
from pgmigtest import Daemon  # noqa: E402

# Debian 12 installs the script as /usr/bin/check_postgres; upstream and
# other distributions as check_postgres.pl
CHECK_POSTGRES_PATHS = ("/usr/bin/check_postgres.pl", "/usr/bin/check_postgres")
CHECK_POSTGRES = None
DBNAME = "big"
TARGET_S = 1.0
BATCH = 250            # tables per transaction while building the schema
WORKERS = 2            # parallel psql sessions while building

REPORTS = [
    # name, pgmigctl args, start of the report statement in pgss
    ("analyze-indexes", ["analyze-indexes"], "WITH idx AS ("),
    ("missing-indexes", ["missing-indexes"], "WITH fk AS ("),
    ("table-stats", ["table-stats"], "WITH t AS ("),
]


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


# ------------------------------------------------------------ check_postgres

def find_check_postgres():
    for p in CHECK_POSTGRES_PATHS:
        if os.access(p, os.X_OK):
            return p
    return None


def ensure_check_postgres():
    global CHECK_POSTGRES
    CHECK_POSTGRES = find_check_postgres()
    if CHECK_POSTGRES:
        return
    if os.geteuid() != 0:
        sys.exit("diag_bench: check_postgres is missing and we are not root: "
                 "apt-get install check-postgres")
    log("installing check-postgres with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends",
           "check-postgres"]
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env,
                       stdout=subprocess.DEVNULL, check=True)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
    CHECK_POSTGRES = find_check_postgres()
    if not CHECK_POSTGRES:
        sys.exit("diag_bench: check-postgres installed but none of %s exists"
                 % ", ".join(CHECK_POSTGRES_PATHS))


def check_postgres_version():
    p = subprocess.run([CHECK_POSTGRES, "--version"], capture_output=True,
                       text=True)
    return (p.stdout.strip() or p.stderr.strip()).splitlines()[0]


# ------------------------------------------------------------------- schema

def kind_of(i):
    """The third index of table i: 'prefix', 'dup' or 'plain'."""
    if i % 500 == 7:
        return "prefix"
    if i % 1000 == 13:
        return "dup"
    return "plain"


def has_fk(i):
    return i % 250 == 3


def used(i):
    return i % 10 != 0


def table_sql(i):
    t = "t%d" % i
    fk = " REFERENCES t0 (id)" if has_fk(i) else ""
    s = ["CREATE TABLE %s (id int PRIMARY KEY, a int, b int, c text, p int%s);"
         % (t, fk),
         "CREATE INDEX %s_ab ON %s (a, b);" % (t, t)]
    k = kind_of(i)
    if k == "prefix":
        s.append("CREATE INDEX %s_a ON %s (a);" % (t, t))
    elif k == "dup":
        s.append("CREATE INDEX %s_ab2 ON %s (a, b);" % (t, t))
    else:
        s.append("CREATE INDEX %s_c ON %s (c);" % (t, t))
    s.append("INSERT INTO %s SELECT g, g %% 3, g * 7, 'row ' || g, %s "
             "FROM generate_series(1, 3) g;"
             % (t, "1" if has_fk(i) else "NULL"))
    return "\n".join(s)


def use_sql(i):
    """Statements that scan table i's indexes once each (the redundant
    one of a prefix or duplicate pair stays unused: the planner picks
    one of the two, the realistic case the report is for)."""
    t = "t%d" % i
    s = ["SELECT count(*) FROM %s WHERE id = 1;" % t,
         "SELECT count(*) FROM %s WHERE a = 1 AND b = 7;" % t]
    if kind_of(i) == "plain":
        s.append("SELECT count(*) FROM %s WHERE c = 'row 1';" % t)
    return "\n".join(s)


def run_parallel(pg, db, chunks, what):
    """Feed each SQL chunk to psql, WORKERS sessions at a time."""
    lock = threading.Lock()
    todo = list(chunks)
    errors = []
    done = [0]

    def worker():
        while True:
            with lock:
                if not todo or errors:
                    return
                sql = todo.pop(0)
            try:
                pg.psql(sql, db=db, timeout=1800)
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(e)
                return
            with lock:
                done[0] += 1
                if done[0] % 10 == 0 or done[0] == len(chunks):
                    log("%s: %d/%d batches" % (what, done[0], len(chunks)))

    ths = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    if errors:
        raise errors[0]


def create_schema(pg, n):
    t0 = time.monotonic()
    pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db=DBNAME)
    # t0 first: the others' foreign keys reference it
    pg.psql("BEGIN;\n" + table_sql(0) + "\nCOMMIT;", db=DBNAME)
    chunks = []
    for start in range(1, n, BATCH):
        body = "\n".join(table_sql(i) for i in range(start, min(n, start + BATCH)))
        chunks.append("BEGIN;\n" + body + "\nCOMMIT;\n")
    run_parallel(pg, DBNAME, chunks, "create")
    return time.monotonic() - t0


def analyze_and_use(pg, n):
    t1 = time.monotonic()
    pg.psql("ANALYZE", db=DBNAME, timeout=1800)
    t_analyze = time.monotonic() - t1
    t2 = time.monotonic()
    ids = [i for i in range(n) if used(i)]
    chunks = []
    for start in range(0, len(ids), 1000):
        body = "\n".join(use_sql(i) for i in ids[start:start + 1000])
        chunks.append("SET enable_seqscan = off;\nSET enable_bitmapscan = off;\n"
                      + body + "\n")
    run_parallel(pg, DBNAME, chunks, "index scans")
    t_use = time.monotonic() - t2
    # index scan counts reach shared memory when a session goes idle or
    # ends; the sessions above have ended, give the last flush a moment
    time.sleep(1.5)
    return t_analyze, t_use


def schema_facts(pg):
    rows = pg.psql("""
        SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n
                ON n.oid = c.relnamespace WHERE n.nspname = 'public'
                AND c.relkind = 'r'),
               (SELECT count(*) FROM pg_index i JOIN pg_class c
                ON c.oid = i.indexrelid JOIN pg_namespace n
                ON n.oid = c.relnamespace WHERE n.nspname = 'public'),
               (SELECT count(*) FROM pg_class c JOIN pg_namespace n
                ON n.oid = c.relnamespace WHERE n.nspname = 'pg_toast'),
               (SELECT count(*) FROM pg_stat_user_indexes WHERE idx_scan > 0),
               pg_size_pretty(pg_database_size(current_database())),
               (SELECT count(*) FROM pg_class),
               (SELECT count(*) FROM pg_attribute),
               (SELECT count(*) FROM pg_stats WHERE schemaname = 'public')
        """, db=DBNAME)[0]
    keys = ["tables", "indexes", "toast_relations", "indexes_used", "db_size",
            "pg_class_rows", "pg_attribute_rows", "pg_stats_rows"]
    return {k: (v if k == "db_size" else int(v)) for k, v in zip(keys, rows)}


def expected(n):
    return {
        "duplicate": sum(1 for i in range(n) if kind_of(i) != "plain"),
        "fk_without_index": sum(1 for i in range(n) if has_fk(i)),
    }


# -------------------------------------------------------------- measuring

def pgss_reset(pg):
    pg.psql("SELECT pg_stat_statements_reset()", db=DBNAME)


def pgss_read(pg):
    """[(calls, exec_ms, plan_ms, query)] since the reset, without ours."""
    rows = pg.psql("""
        SELECT calls, total_exec_time, total_plan_time, query
        FROM pg_stat_statements
        WHERE query NOT LIKE '%pg_stat_statements%'""", db=DBNAME)
    return [(int(r[0]), float(r[1]), float(r[2]), r[3]) for r in rows]


def pool_queries(d):
    rc, out, err = d.ctl("--json", "pool")
    if rc != 0:
        raise RuntimeError("pgmigctl pool failed: %s" % err)
    for p in json.loads(out)["pools"]:
        if p["database"] == DBNAME:
            return p["queries"]
    raise RuntimeError("no pool for %s in %s" % (DBNAME, out))


def timed(argv, env=None):
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, env=env,
                       timeout=600)
    return time.perf_counter() - t, p


def one_run(pg, argv, d=None, env=None, prefix=None):
    """Time argv once; pgss and (with d) the pool counter around it."""
    pgss_reset(pg)
    q0 = pool_queries(d) if d else None
    wall, p = timed(argv, env)
    q1 = pool_queries(d) if d else None
    stm = pgss_read(pg)
    rep = [s for s in stm if prefix and s[3].startswith(prefix)] if prefix else stm
    return p, {
        "wall_s": wall,
        "queries": (q1 - q0) if d else None,
        "statements": sum(s[0] for s in stm),
        "server_ms": sum(s[1] + s[2] for s in stm),
        "stmt_exec_ms": sum(s[1] for s in rep),
        "stmt_plan_ms": sum(s[2] for s in rep),
        "out_bytes": len(p.stdout),
        "exit": p.returncode,
    }


def summarize(name, first, runs, **extra):
    def med(k):
        return statistics.median(r[k] for r in runs)
    r = {"name": name, "first": first, "runs": runs,
         "wall_s": med("wall_s"), "server_ms": med("server_ms"),
         "stmt_exec_ms": med("stmt_exec_ms"), "stmt_plan_ms": med("stmt_plan_ms"),
         "statements": min(x["statements"] for x in runs),
         "queries": (min(x["queries"] for x in runs)
                     if runs[0]["queries"] is not None else None),
         "out_bytes": runs[-1]["out_bytes"]}
    r.update(extra)
    return r


def dbs_conf(pg):
    return '{ name = "%s"; conninfo = "%s"; }' % (DBNAME, pg.conninfo(DBNAME))


def measure_pgmig(pg, name, args, prefix, reps):
    """A new pgmigd, a first run on its new session, then reps runs."""
    with Daemon(databases=dbs_conf(pg)) as d:
        argv = [pgmigtest.PGMIGCTL, "-s", d.sock] + args
        p, first = one_run(pg, argv, d, prefix=prefix)
        if p.returncode != 0:
            return {"name": name, "error": "exit %d: %s" % (p.returncode,
                                                          p.stderr.strip()),
                    "first": first}
        runs = []
        for _ in range(reps):
            p, r = one_run(pg, argv, d, prefix=prefix)
            if p.returncode != 0:
                return {"name": name, "error": "exit %d: %s"
                        % (p.returncode, p.stderr.strip()), "first": first}
            runs.append(r)
        rc, out, err = d.ctl("--json", *args, timeout=600)
        j = json.loads(out) if rc == 0 else {}
    return summarize(name, first, runs, findings=findings(name, j),
                     json_bytes=len(out))


def check_postgres_argv(pg):
    return [CHECK_POSTGRES, "--action=bloat", "--host=" + pg.host,
            "--port=%d" % pg.port, "--dbuser=postgres", "--dbname=" + DBNAME]


def measure_check_postgres(pg, reps, label):
    argv = check_postgres_argv(pg)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    runs = []
    first = None
    for i in range(reps + 1):
        p, r = one_run(pg, argv, env=env)
        # 0 OK, 1 WARNING, 2 CRITICAL are answers; 3 UNKNOWN is a failure
        if p.returncode not in (0, 1, 2):
            return {"name": label, "error": "exit %d: %s %s" % (
                p.returncode, p.stdout.strip(), p.stderr.strip())}
        if i == 0:
            first = r
        else:
            runs.append(r)
    return summarize(label, first, runs, output=p.stdout.strip())


def findings(name, j):
    if name == "analyze-indexes":
        return {"indexes": j.get("indexes"), "unused": len(j.get("unused", [])),
                "duplicate": len(j.get("duplicate", [])),
                "invalid": len(j.get("invalid", []))}
    if name == "missing-indexes":
        return {"fk_without_index": len(j.get("fk_without_index", [])),
                "seq_scan_heavy": len(j.get("seq_scan_heavy", []))}
    if name == "table-stats":
        return {"tables": len(j.get("tables", [])),
                "indexes": len(j.get("indexes", [])),
                "tables_with_bloat_estimate": sum(
                    1 for t in j.get("tables", [])
                    if t.get("bloat_bytes") is not None)}
    return {}


def server_settings(pg):
    rows = pg.psql("SELECT name, setting FROM pg_settings WHERE name IN "
                   "('shared_buffers', 'work_mem', 'jit', 'jit_above_cost', "
                   "'jit_inline_above_cost', 'jit_optimize_above_cost', "
                   "'max_parallel_workers_per_gather', "
                   "'max_locks_per_transaction', 'autovacuum') ORDER BY 1",
                   db=DBNAME)
    return {k: v for k, v in rows}


# --------------------------------------------------------------------- main

def machine():
    cpu = benchlib.cpu_model()
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1048576)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem,
            "kernel": platform.release(), "python": platform.python_version()}


def row(r, base, headline):
    if "error" in r:
        return "| `%s` | failed: %s |||||||||" % (r["name"], r["error"][:200])
    is_base = r["name"].startswith("check_postgres")
    name = ("`%s`" % r["name"]) if is_base else "`pgmigctl %s`" % r["name"]
    walls = " ".join("%.3f" % x["wall_s"] for x in r["runs"])
    if is_base:
        sent = "%d stmts" % r["statements"]
    else:
        qs = sorted({x["queries"] for x in r["runs"]})
        sent = "%d" % qs[0] + ("" if len(qs) == 1 else
                               " (runs: %s)" % ",".join(map(str, qs)))
    target = faster = "-"
    if headline and not is_base:
        target = "yes" if r["wall_s"] < TARGET_S else "**no**"
        faster = ("yes" if base and "error" not in base and
                  r["wall_s"] < base["wall_s"] else "**no**")
    return ("| %s | **%.3f** | %s | %.3f | %s | %.0f | %.0f + %.1f | %d | %s | %s |"
            % (name, r["wall_s"], walls, r["first"]["wall_s"], sent,
               r["server_ms"], r["stmt_exec_ms"], r["stmt_plan_ms"],
               r["out_bytes"], target, faster))


HEADER = ("| command | wall s, median | runs | first run s (new session) "
          "| queries sent | server ms (pgss) | report stmt exec + plan ms "
          "| stdout bytes | < 1 s | faster than baseline |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tables", type=int, default=10000)
    ap.add_argument("--quick", action="store_true", help="2,000 tables")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-jit-off", action="store_true",
                    help="skip setting B (the database with jit = off)")
    ap.add_argument("--explain", action="store_true",
                    help="log auto_explain plans of the reports (slower)")
    ap.add_argument("--json", metavar="FILE", help="write raw results here")
    a = ap.parse_args()
    n = 2000 if a.quick else a.tables
    if n < 2 or a.reps < 1:
        ap.error("--tables must be at least 2 and --reps at least 1")
    for exe in (pgmigtest.PGMIGD, pgmigtest.PGMIGCTL):
        if not os.access(exe, os.X_OK):
            sys.exit("diag_bench: %s is missing: build first (make -j2)" % exe)
    ensure_check_postgres()
    t_start = time.monotonic()

    conf = {"autovacuum": False, "pg_stat_statements.track_planning": True}
    if a.explain:
        conf.update({"shared_preload_libraries":
                     "pg_stat_statements,auto_explain",
                     "auto_explain.log_min_duration": "200ms",
                     "auto_explain.log_analyze": True,
                     "auto_explain.log_buffers": True})
    res = {"machine": machine(), "tables_requested": n,
           "loadavg_start": loadavg(), "reps": a.reps}
    with Cluster(extra_conf=conf) as pg:
        res["postgres"] = pg_version()
        res["check_postgres"] = check_postgres_version()
        pg.createdb(DBNAME)
        log("creating %d tables with 3 indexes each" % n)
        res["create_s"] = create_schema(pg, n)

        log("setting C: check_postgres before ANALYZE")
        res["baseline_no_stats"] = measure_check_postgres(
            pg, a.reps, "check_postgres --action=bloat")
        log("%s" % {k: v for k, v in res["baseline_no_stats"].items() if k != "runs"})

        log("ANALYZE, then an index scan on 9 tables in 10")
        res["analyze_s"], res["index_scans_s"] = analyze_and_use(pg, n)
        res["schema"] = schema_facts(pg)
        res["settings"] = server_settings(pg)
        log("schema: %s" % res["schema"])
        res["expected"] = expected(n)
        log_offset = os.path.getsize(pg.logfile) if pg.logfile else 0

        settings = [("A", "as configured")]
        if not a.no_jit_off:
            settings.append(("B", "jit = off"))
        res["sets"] = {}
        for tag, what in settings:
            if tag == "B":
                pg.psql("ALTER DATABASE %s SET jit = off" % DBNAME)
            out = []
            for name, args, prefix in REPORTS:
                log("%s: timing pgmigctl %s" % (tag, name))
                r = measure_pgmig(pg, name, args, prefix, a.reps)
                out.append(r)
                log("%s" % {k: v for k, v in r.items() if k != "runs"})
            log("%s: timing check_postgres --action=bloat" % tag)
            base = measure_check_postgres(pg, a.reps, "check_postgres --action=bloat")
            log("%s" % {k: v for k, v in base.items() if k != "runs"})
            res["sets"][tag] = {"what": what, "reports": out, "baseline": base}
        if a.explain:
            with open(pg.logfile, errors="replace") as f:
                f.seek(log_offset)
                res["plans"] = f.read()
    res["total_s"] = time.monotonic() - t_start
    res["loadavg_end"] = loadavg()

    # ---- print
    s = res["schema"]
    print("## pgmig reports at %d tables, %d indexes\n" % (s["tables"], s["indexes"]))
    print("- PostgreSQL %s (%s); %s" % (
        res["postgres"], ", ".join("%s=%s" % kv for kv in res["settings"].items()),
        res["check_postgres"]))
    print("- %s, %s cores, %s, Linux %s; load average %s at start, %s at end"
          % (res["machine"]["cpu"], res["machine"]["cores"],
             res["machine"]["memory"], res["machine"]["kernel"],
             res["loadavg_start"], res["loadavg_end"]))
    print("- schema: %(tables)d tables, %(indexes)d indexes, %(toast_relations)d "
          "TOAST relations, %(pg_class_rows)d pg_class rows, %(pg_attribute_rows)d "
          "pg_attribute rows, %(pg_stats_rows)d pg_stats rows, %(db_size)s; "
          "%(indexes_used)d indexes scanned at least once" % s)
    print("- built in %.0f s, ANALYZE %.0f s, index scans %.0f s; whole bench %.0f s"
          % (res["create_s"], res["analyze_s"], res["index_scans_s"], res["total_s"]))
    for tag, st in res["sets"].items():
        print("\n### %s: %s (median of %d)\n" % (tag, st["what"], a.reps))
        print(HEADER)
        for r in st["reports"] + [st["baseline"]]:
            print(row(r, st["baseline"], tag == "A"))
    c = res["baseline_no_stats"]
    print("\n### C: check_postgres before ANALYZE (no pg_stats rows for the "
          "user tables; median of %d)\n" % a.reps)
    print(HEADER)
    print(row(c, None, False))
    print()
    exp = res["expected"]
    for r in res["sets"]["A"]["reports"]:
        if "findings" in r:
            print("- %s findings: %s; --json output %d bytes"
                  % (r["name"], json.dumps(r["findings"]), r["json_bytes"]))
    print("- the schema holds %d redundant indexes and %d foreign keys without "
          "an index" % (exp["duplicate"], exp["fk_without_index"]))
    b = res["sets"]["A"]["baseline"]
    if "output" in b:
        print("- check_postgres said: %s" % b["output"].split(" | ")[0][:300])
    if a.explain:
        print("\n### auto_explain (statements over 200 ms)\n")
        print("```")
        print(res.get("plans", ""))
        print("```")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)

    # ---- verdict
    bad = False
    st = res["sets"]["A"]
    for r in st["reports"]:
        if "error" in r or r["wall_s"] >= TARGET_S or (
                "error" not in st["baseline"] and r["wall_s"] >= st["baseline"]["wall_s"]):
            bad = True
        f = r.get("findings", {})
        if r["name"] == "analyze-indexes" and f.get("duplicate") != exp["duplicate"]:
            print("MISMATCH: analyze-indexes found %s redundant indexes, the schema "
                  "has %d" % (f.get("duplicate"), exp["duplicate"]), file=sys.stderr)
            bad = True
        if r["name"] == "missing-indexes" and \
                f.get("fk_without_index") != exp["fk_without_index"]:
            print("MISMATCH: missing-indexes found %s foreign keys without an index, "
                  "the schema has %d" % (f.get("fk_without_index"),
                                         exp["fk_without_index"]), file=sys.stderr)
            bad = True
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
