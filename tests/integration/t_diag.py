#!/usr/bin/env python3
"""Diagnostics against a real PostgreSQL 15 with crafted fixtures: each
condition is created on purpose and detected, a clean schema shows no
false positive, health-check exits 0 / 1 naming the check, the scheduled
slow_queries job reports only what ran since its previous run, findings
are journald-style entries with PGMIG_* fields, reports work as a
pg_monitor role without superuser and cost one query each, and the
duplicate and bloat findings agree with independent implementations
(a hand-written catalog query, and pgstattuple)."""

import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgharness import Cluster
from pgmigtest import Daemon, Results, wait_for

R = Results("t_diag")


def js(d, *args):
    rc, out, err = d.ctl("--json", *args)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, {}, err


def bg_psql(pg, db, sql):
    """A psql session running sql (kept open by the sql itself)."""
    return subprocess.Popen(["psql", "-X", "-q", "-h", pg.host, "-p",
                             str(pg.port), "-U", "postgres", "-d", db],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)


CLEAN = """
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE artist (id int PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE album (id int PRIMARY KEY, artist_id int NOT NULL REFERENCES artist);
CREATE INDEX album_artist_idx ON album (artist_id);
INSERT INTO artist SELECT g, 'a' || g FROM generate_series(1, 100) g;
INSERT INTO album SELECT g, 1 + g % 100 FROM generate_series(1, 300) g;
SELECT count(*) FROM album WHERE artist_id = 5;
ANALYZE;
"""

with Cluster() as pg:
    # ------------------------------------------------ a clean schema
    clean = pg.createdb()
    pg.psql(CLEAN, db=clean)
    pg.psql("SELECT pg_stat_reset()", db=clean)
    pg.psql("SET enable_seqscan = off; SELECT count(*) FROM album WHERE "
            "artist_id = 5", db=clean)
    dbs = ('{ name = "clean"; conninfo = "%s"; }' % pg.conninfo(clean))
    with Daemon(databases=dbs) as d:
        rc, r, err = js(d, "analyze-indexes")
        R.ok(rc == 0 and r["unused"] == [] and r["duplicate"] == [] and
             r["invalid"] == [], "clean: no unused, redundant or invalid "
             "index", r)
        R.ok(set(r) >= {"unused", "duplicate", "invalid"}, "analyze-indexes "
             "has the DESIGN.md keys")
        rc, r, err = js(d, "missing-indexes")
        R.ok(rc == 0 and r["fk_without_index"] == [] and
             r["seq_scan_heavy"] == [], "clean: no missing index", r)
        rc, r, err = js(d, "lock-info")
        R.ok(rc == 0 and r["blocked"] == [], "clean: nobody waits")
        rc, r, err = js(d, "health-check")
        R.ok(rc == 0 and r["ok"] is True and
             {c["name"] for c in r["checks"]} >= {
                 "wraparound", "invalid_indexes", "long_transactions",
                 "idle_in_transaction", "connection_headroom",
                 "replication_lag", "pg_stat_statements"},
             "clean: health-check exits 0 with every check", r)

    # ------------------------------------------------ crafted trouble
    db = pg.createdb()
    pg.psql(CLEAN + """
CREATE EXTENSION pgstattuple;
CREATE TABLE plays (id bigint PRIMARY KEY, album_id int NOT NULL REFERENCES album,
                    listener int NOT NULL, at timestamptz NOT NULL, note text);
INSERT INTO plays SELECT g, 1 + g % 300, g % 1000, now(), repeat('x', 40)
  FROM generate_series(1, 50000) g;
CREATE INDEX plays_listener_idx ON plays (listener);          -- unused
CREATE INDEX plays_listener_at_idx ON plays (listener, at);   -- makes the one above redundant
CREATE INDEX plays_at_dup ON plays (at);
CREATE INDEX plays_at_dup2 ON plays (at);                     -- exact duplicate
CREATE TABLE dupes (x int);
INSERT INTO dupes VALUES (1), (1);
CREATE TABLE churn (id int PRIMARY KEY, v text);
INSERT INTO churn SELECT g, repeat('y', 100) FROM generate_series(1, 20000) g;
ANALYZE;
""", db=db)
    # counters from here on: "unused" means unused since this reset
    pg.psql("SELECT pg_stat_reset(); SELECT pg_stat_statements_reset(); "
            "ANALYZE", db=db)
    # an INVALID index: CREATE UNIQUE INDEX CONCURRENTLY fails on duplicates
    pg.psql("CREATE UNIQUE INDEX CONCURRENTLY dupes_x_key ON dupes (x)",
            db=db, check=False)
    # 20 % dead tuples, not yet vacuumed
    pg.psql("ALTER TABLE churn SET (autovacuum_enabled = off); "
            "DELETE FROM churn WHERE id % 5 = 0", db=db)
    # large table read by seq scans
    for _ in range(3):
        pg.psql("SELECT count(*) FROM plays WHERE note = 'z'", db=db)
    time.sleep(1.5)     # statistics reach shared memory within a second
    dbs = ('{ name = "music"; conninfo = "%s";\n'
           '  jobs = ( { name = "slow"; type = "slow_queries"; schedule = '
           '"@yearly"; min_mean_ms = 100; },\n'
           '    { name = "idx"; type = "index_usage"; schedule = "@yearly"; },\n'
           '    { name = "conns"; type = "connection_check"; schedule = '
           '"@yearly"; idle_in_transaction = "1s"; },\n'
           '    { name = "health"; type = "health_check"; schedule = "@yearly";'
           ' idle_in_transaction_warning = "1s"; } ); }' % pg.conninfo(db))
    with Daemon(databases=dbs) as d:
        rc, r, err = js(d, "analyze-indexes")
        unused = {x["index"] for x in r.get("unused", [])}
        dup = {x["index"]: x["duplicate_of"] for x in r.get("duplicate", [])}
        inv = {x["index"] for x in r.get("invalid", [])}
        R.ok("public.plays_listener_idx" in unused and
             "public.plays_pkey" not in unused and
             "public.artist_name_key" not in unused,
             "an unused index is found; constraint indexes are not", unused)
        R.ok(dup.get("public.plays_listener_idx") == "public.plays_listener_at_idx",
             "a redundant prefix index is found", dup)
        R.ok(dup.get("public.plays_at_dup2") == "public.plays_at_dup" and
             "public.plays_at_dup" not in dup,
             "of two identical indexes, the newer is reported", dup)
        R.ok(inv == {"public.dupes_x_key"}, "the INVALID index from a failed "
             "CREATE UNIQUE INDEX CONCURRENTLY is found", inv)
        R.ok(r.get("stats_reset") is not None and r["unused"][0]["size_bytes"] > 0,
             "sizes and the stats-reset time are shown")

        # cross-check the redundant indexes with an independent query
        ref = pg.psql("""
SELECT a.indexrelid::regclass, b.indexrelid::regclass
FROM pg_index a JOIN pg_index b ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid
WHERE a.indrelid = 'plays'::regclass AND NOT a.indisunique AND b.indisvalid
  AND (b.indkey::text = a.indkey::text AND a.indexrelid > b.indexrelid
       OR b.indkey::text LIKE a.indkey::text || ' %')
ORDER BY 1""", db=db)
        R.eq(sorted(["public." + x[0] for x in ref]),
             sorted(k for k in dup if k.startswith("public.plays")),
             "redundant indexes agree with a hand-written catalog query")

        rc, r, err = js(d, "missing-indexes")
        fk = [(x["table"], x["columns"], x["constraint"]) for x in
              r.get("fk_without_index", [])]
        R.eq(fk, [("public.plays", ["album_id"], "plays_album_id_fkey")],
             "an FK without an index is found (and album's is not)")
        heavy = {x["table"] for x in r.get("seq_scan_heavy", [])}
        R.ok("public.plays" in heavy, "a large table read by seq scans", r)

        rc, r, err = js(d, "table-stats")
        t = {x["table"]: x for x in r.get("tables", [])}
        R.ok(rc == 0 and t["public.churn"]["dead_tuples"] == 4000 and
             19.0 <= t["public.churn"]["dead_pct"] <= 21.0,
             "a table with 20%% dead tuples (%s)" % t.get("public.churn"))
        R.ok(all(k in t["public.plays"] for k in (
            "size_bytes", "live_tuples", "dead_tuples", "bloat_bytes",
            "last_vacuum", "last_autovacuum", "last_analyze",
            "last_autoanalyze")), "table-stats has the DESIGN.md keys")
        # bloat against pgstattuple: vacuum the churn table (dead space
        # becomes free space), then compare
        pg.psql("DELETE FROM churn WHERE id % 2 = 0; VACUUM churn; ANALYZE churn",
                db=db)
        rc, r, err = js(d, "table-stats")
        est = {x["table"]: x for x in r["tables"]}["public.churn"]["bloat_bytes"]
        ref = pg.psql("SELECT free_space + dead_tuple_len FROM "
                      "pgstattuple('churn')", db=db)[0][0]
        R.ok(est is not None and abs(est - int(ref)) <= 0.25 * int(ref),
             "bloat estimate %s within 25%% of pgstattuple's %s" % (est, ref))
        rc, rp, err = js(d, "table-stats", "--pgstattuple")
        exact = {x["table"]: x for x in rp.get("tables", [])}
        R.ok(rc == 0 and rp["method"] == "pgstattuple_approx" and
             abs(exact["public.churn"]["bloat_bytes"] - int(ref)) <= 0.1 * int(ref),
             "--pgstattuple measures with pgstattuple_approx (%s)" %
             exact.get("public.churn", {}).get("bloat_bytes"), err)
        plays_b = {x["table"]: x for x in r["tables"]}["public.plays"]["bloat_bytes"]
        R.ok(plays_b is not None and plays_b < 0.15 *
             {x["table"]: x for x in r["tables"]}["public.plays"]["size_bytes"],
             "a freshly loaded table shows little bloat (%s)" % plays_b)

        rc, r, err = js(d, "slow-queries", "--min-mean-ms", "200")
        R.ok(rc == 0 and not [x for x in r["queries"] if "slow_marker" in
                               x["query"]], "stats were reset: nothing slow yet",
             r)
        pg.psql("SELECT pg_sleep(0.25) AS slow_marker", db=db)
        pg.psql("SELECT pg_sleep(0.25) AS slow_marker", db=db)
        rc, r, err = js(d, "analyze-queries", "--min-mean-ms", "200")
        q = [x for x in r.get("queries", []) if "slow_marker" in x["query"]]
        R.ok(rc == 0 and len(q) == 1 and q[0]["calls"] == 2 and
             q[0]["mean_ms"] >= 240 and set(q[0]) >= {
                 "queryid", "query", "calls", "mean_ms", "total_ms", "rows"},
             "a statement slow on average is found", r)
        rc, r2, err = js(d, "slow-queries", "--order", "total", "--limit", "1")
        R.ok(rc == 0 and len(r2["queries"]) == 1 and r2["order"] == "total",
             "--order total --limit 1")

        # the scheduled job: only what ran since its previous run
        rc, out, err = d.ctl("--json", "run", "slow")
        first = json.loads(out) if rc == 0 else {}
        R.ok(rc == 0 and first["rows"] >= 1, "slow_queries job: first run "
             "reports %s" % first.get("rows"), err)
        R.ok("event=finding" in d.logtext() and "queryid=%s" % q[0]["queryid"]
             in d.logtext() and "mean_ms=" in d.logtext() and "calls=2" in
             d.logtext(), "each finding is an entry with PGMIG_QUERYID, "
             "PGMIG_MEAN_MS, PGMIG_CALLS", d.logtext()[-1500:])
        rc, out, err = d.ctl("--json", "run", "slow")
        second = pg.psql("SELECT details->'report'->'queries' FROM "
                         "pgmig.job_runs WHERE job = 'slow' ORDER BY run_id "
                         "DESC LIMIT 1", db=db)[0][0]
        R.ok(rc == 0 and "slow_marker" not in second,
             "the second run does not report it again", second)
        pg.psql("SELECT pg_sleep(0.2) AS slow_marker", db=db)
        pg.psql("SELECT pg_sleep(0.2), 1 AS other_marker", db=db)
        rc, out, err = d.ctl("--json", "run", "slow")
        third = json.loads(pg.psql("SELECT details->'report' FROM pgmig.job_runs "
                                   "WHERE job = 'slow' ORDER BY run_id DESC "
                                   "LIMIT 1", db=db)[0][0])
        sm = [x for x in third["queries"] if "slow_marker" in x["query"]]
        R.ok(sm and sm[0]["calls"] == 1 and
             any("other_marker" in x["query"] for x in third["queries"]),
             "the third run reports the delta only (1 call, not 3)",
             third["queries"])

        rc, out, err = d.ctl("--json", "run", "idx")
        R.ok(rc == 0 and "object=public.plays_listener_idx" in d.logtext(),
             "index_usage findings carry PGMIG_OBJECT")

        # idle in transaction, and a blocking chain of three sessions
        s1 = bg_psql(pg, db, "")
        s1.stdin.write("BEGIN; SELECT 1; UPDATE artist SET name = name "
                       "WHERE id = 1;\n")
        s1.stdin.flush()
        s2 = bg_psql(pg, db, "")
        s2.stdin.write("BEGIN; UPDATE artist SET name = name WHERE id = 1;\n")
        s2.stdin.flush()
        time.sleep(0.5)
        s3 = bg_psql(pg, db, "")
        s3.stdin.write("BEGIN; LOCK TABLE artist IN ACCESS EXCLUSIVE MODE;\n")
        s3.stdin.flush()
        time.sleep(1.5)
        rc, r, err = js(d, "lock-info")
        blocked = {x["pid"]: x for x in r.get("blocked", [])}
        chain = sorted(len(x["blocked_by"]) for x in blocked.values())
        R.ok(rc == 0 and len(blocked) == 2 and
             all(x["mode"] and x["wait_s"] >= 0 and x["query"]
                 for x in blocked.values()) and
             any(x["relation"] == "public.artist" and
                 x["mode"] == "AccessExclusiveLock" and
                 len(x["blocked_by"]) == 2 for x in blocked.values()),
             "a blocking chain of three sessions: two waiters with mode, "
             "relation, wait and query", r)
        R.ok(any(len(x["blocked_by"]) >= 1 for x in blocked.values()) and
             len(r.get("blockers", [])) >= 1, "the blockers are listed with "
             "their queries", r.get("blockers"))
        rc, r, err = js(d, "connection-stats", "--idle-threshold", "1s")
        R.ok(rc == 0 and len(r["idle_in_transaction"]) == 1 and
             r["idle_in_transaction"][0]["duration_s"] >= 1 and
             r["by_application"].get("pgmigd", 0) >= 1 and
             set(r) >= {"max_connections", "total", "by_state", "by_user",
                        "by_application", "idle_in_transaction"},
             "a session idle in transaction over the threshold", r)
        rc, out, err = d.ctl("run", "conns")
        R.ok(rc == 0 and "session idle in transaction" in d.logtext(),
             "connection_check reports it as a finding")
        rc, r, err = js(d, "health-check")
        bad = {c["name"]: c["status"] for c in r.get("checks", [])
               if c["status"] != "ok"}
        R.ok(rc == 1 and r["ok"] is False and "invalid_indexes" in bad,
             "health-check exits 1 naming the invalid index check", bad)
        rc, out, err = d.ctl("run", "health")
        R.ok(rc == 1 and "invalid_indexes" in err and "idle_in_transaction"
             in err, "the health_check job fails naming the checks", err)
        for s in (s3, s2, s1):
            s.stdin.close()
            s.kill()
            s.wait()

        # reports cost one query each (no N+1)
        rc, r, err = js(d, "pool")
        q0 = r["pools"][0]["queries"]
        for c in ("analyze-indexes", "missing-indexes", "table-stats",
                  "connection-stats", "lock-info"):
            d.ctl(c)
        rc, r, err = js(d, "pool")
        R.eq(r["pools"][0]["queries"] - q0, 5, "five reports, five queries")

    # ------------------------------------------------ pg_monitor, no superuser
    pg.psql("CREATE ROLE watcher LOGIN IN ROLE pg_monitor", db=db)
    conn = pg.conninfo(db).replace("user=postgres", "user=watcher")
    with Daemon(databases='{ name = "music"; conninfo = "%s"; }' % conn) as d:
        ok = []
        for c in ("analyze-indexes", "missing-indexes", "analyze-queries",
                  "table-stats", "connection-stats", "lock-info"):
            rc, out, err = d.ctl(c)
            ok.append((c, rc))
        R.ok(all(rc == 0 for _, rc in ok), "every report works as a "
             "pg_monitor role without superuser", ok)
        rc, r, err = js(d, "health-check")
        R.ok("checks" in r, "health-check runs as pg_monitor", err)

    # ------------------------------------------------ no pg_stat_statements
    nop = pg.createdb()
    with Daemon(databases='{ name = "x"; conninfo = "%s"; }' %
                pg.conninfo(nop)) as d:
        rc, out, err = d.ctl("slow-queries")
        R.ok(rc == 1 and "CREATE EXTENSION pg_stat_statements" in err,
             "without the extension: says exactly how to enable it", err)
        rc, out, err = d.ctl("table-stats", "--pgstattuple")
        R.ok(rc == 1 and "CREATE EXTENSION pgstattuple" in err,
             "table-stats --pgstattuple without it: says so", err)

R.summary()
