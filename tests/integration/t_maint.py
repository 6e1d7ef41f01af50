#!/usr/bin/env python3
"""Maintenance commands on the demo music schema: refresh (CONCURRENTLY
by default; readers never blocked; clear errors without a unique index or
when not populated), vacuum (last_vacuum advances; names are looked up,
never spliced: injection attempts are not-found), analyze, progress on a
terminal, the control socket answering during a long VACUUM, and a
standby: jobs skipped, status in_recovery."""

import json
import os
import pty
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgharness import Cluster
from pgmigtest import Daemon, PGMIGCTL, Results, SRCDIR, ping_latency, wait_for

R = Results("t_maint")
SCHEMA = os.path.join(SRCDIR, "demo", "schema.sql")

with Cluster() as pg:
    db = pg.createdb()
    pg.psql_file(SCHEMA, db=db)
    pg.psql("CREATE MATERIALIZED VIEW mv_no_unique AS SELECT track_id FROM "
            "tracks; CREATE MATERIALIZED VIEW mv_empty AS SELECT track_id "
            "FROM tracks WITH NO DATA; CREATE UNIQUE INDEX ON mv_empty "
            "(track_id); CREATE SCHEMA \"Odd Schema\"; CREATE TABLE "
            "\"Odd Schema\".\"Odd Table\" (x int)", db=db)
    dbs = '{ name = "music"; conninfo = "%s"; lock_timeout = "2s"; }' % \
        pg.conninfo(db)
    with Daemon(databases=dbs) as d:
        # ---------------------------------------------------- refresh
        before = pg.psql("SELECT count(*) FROM mv_track_popularity", db=db)[0][0]
        pg.psql("INSERT INTO tracks (album_id, track_number, title, "
                "duration_ms, isrc) SELECT album_id, 100 + g, 'fresh ' || g, "
                "200000, 'ZZ' || lpad((album_id * 10 + g)::text, 10, '0') "
                "FROM albums, generate_series(1, 2) g WHERE album_id <= 5",
                db=db)
        # a reader holds the view open in a transaction for the whole time
        reader = subprocess.Popen(
            ["psql", "-X", "-q", "-h", pg.host, "-p", str(pg.port), "-U",
             "postgres", "-d", db, "-c",
             "BEGIN; SELECT count(*) FROM mv_track_popularity; "
             "SELECT pg_sleep(4); COMMIT;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        lat = []
        stop = threading.Event()

        def read_loop():
            while not stop.is_set():
                t = time.monotonic()
                pg.psql("SELECT count(*) FROM mv_track_popularity", db=db)
                lat.append(time.monotonic() - t)
        th = threading.Thread(target=read_loop)
        th.start()
        rc, out, err = d.ctl("--json", "refresh", "mv_track_popularity")
        stop.set()
        th.join()
        res = json.loads(out) if rc == 0 else {}
        R.ok(rc == 0 and res.get("view") == "public.mv_track_popularity" and
             res.get("concurrently") is True and "duration_ms" in res,
             "refresh: CONCURRENTLY, result keys as DESIGN.md", out + err)
        R.ok(reader.poll() is None,
             "... it completed while a reader held the view open")
        after = pg.psql("SELECT count(*) FROM mv_track_popularity", db=db)[0][0]
        R.ok(int(after) == int(before) + 10,
             "the view shows the new rows (%s -> %s)" % (before, after))
        R.ok(lat and max(lat) < 2.0, "parallel readers were never blocked "
             "(max %.3f s over %d reads)" % (max(lat or [0]), len(lat)))
        rc, out, err = d.ctl("refresh", "mv_track_popularity",
                             "--no-concurrently")
        R.ok(rc == 1 and "lock timeout" in err,
             "--no-concurrently waits for the reader and gives up at "
             "lock_timeout", err)
        reader.wait(timeout=10)
        rc, out, err = d.ctl("refresh", "mv_no_unique")
        R.ok(rc == 1 and "unique index" in err and "--no-concurrently" in err,
             "a view without a unique index: clear error, exit 1", err)
        rc, out, err = d.ctl("refresh", "mv_empty")
        R.ok(rc == 1 and "not populated" in err,
             "an unpopulated view: clear error, exit 1", err)
        rc, out, err = d.ctl("refresh", "mv_empty", "--no-concurrently")
        R.eq(rc, 0, "--no-concurrently populates it")
        rc, out, err = d.ctl("--json", "refresh", "tracks")
        R.ok(rc == 1 and json.loads(out)["error"]["code"] == "wrong_kind",
             "refresh of a table: wrong_kind", out)
        rc, out, err = d.ctl("--json", "refresh", "nope")
        R.ok(rc == 1 and json.loads(out)["error"]["code"] == "not_found",
             "refresh of a missing view: not_found", out)

        # ---------------------------------------------------- vacuum
        lv = lambda: pg.psql("SELECT coalesce(last_vacuum::text, 'never') "
                             "FROM pg_stat_user_tables WHERE relname = 'tracks'",
                             db=db)[0][0]
        before = lv()
        rc, out, err = d.ctl("--json", "vacuum", "tracks", "--analyze")
        res = json.loads(out) if rc == 0 else {}
        R.ok(rc == 0 and res.get("tables") == ["public.tracks"] and
             res.get("analyze") is True and res.get("full") is False,
             "vacuum --analyze: result keys", out + err)
        R.ok(wait_for(lambda: lv() != before, 5),
             "vacuum tracks advances last_vacuum (%s -> %s)" % (before, lv()))
        for evil in ("tracks; DROP TABLE tracks", "tracks'; DROP TABLE tracks; --",
                     '"tracks"; DROP TABLE tracks', "pg_catalog.pg_class; x"):
            rc, out, err = d.ctl("--json", "vacuum", evil)
            R.ok(rc == 1 and json.loads(out)["error"]["code"] == "not_found",
                 "vacuum %r: not found" % evil, out)
        R.ok(pg.psql("SELECT to_regclass('public.tracks') IS NOT NULL",
                     db=db)[0][0] == "t", "tracks still exists")
        rc, out, err = d.ctl("--json", "vacuum", '"Odd Schema"."Odd Table"')
        R.ok(rc == 0 and json.loads(out)["tables"] ==
             ['"Odd Schema"."Odd Table"'], "quoted names work", out + err)
        rc, out, err = d.ctl("--json", "vacuum", "mv_track_popularity")
        R.eq(rc, 0, "vacuum of a materialized view")
        rc, out, err = d.ctl("--json", "vacuum", "tracks_pkey")
        R.ok(rc == 1 and json.loads(out)["error"]["code"] == "wrong_kind",
             "vacuum of an index: wrong_kind", out)
        la = lambda: pg.psql("SELECT coalesce(last_analyze::text, 'never') "
                             "FROM pg_stat_user_tables WHERE relname = "
                             "'playlists'", db=db)[0][0]
        before = la()
        rc, out, err = d.ctl("analyze", "playlists")
        R.ok(rc == 0 and wait_for(lambda: la() != before, 5),
             "analyze playlists advances last_analyze")
        rc, out, err = d.ctl("analyze")
        R.eq(rc, 0, "analyze of the whole database")
        hist = pg.psql("SELECT job, trigger, status FROM pgmig.job_runs "
                       "WHERE job = 'vacuum:tracks'", db=db)
        R.ok(hist and hist[0][1:] == ["manual", "succeeded"],
             "commands are recorded in job_runs", hist)

        # ----------------------------- a long VACUUM: progress, ping
        pg.psql("CREATE TABLE big (id int, pad text); INSERT INTO big SELECT "
                "g, repeat('x', 200) FROM generate_series(1, 1500000) g; "
                "DELETE FROM big WHERE id % 2 = 0", db=db)
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(PGMIGCTL, [PGMIGCTL, "-s", d.sock, "vacuum", "big",
                                "--full"])
        lats = []
        t0 = time.monotonic()
        done = False
        out = b""
        while not done and time.monotonic() - t0 < 60:
            try:
                chunk = os.read(fd, 4096)
                out += chunk
            except OSError:
                done = True
            lats.append(ping_latency(d.sock))
        _, status = os.waitpid(pid, 0)
        R.ok(os.WEXITSTATUS(status) == 0, "vacuum big --full succeeded")
        R.ok(b"vacuuming public.big" in out,
             "a terminal shows the progress line", out[:300])
        lats.sort()
        R.ok(len(lats) >= 3 and lats[len(lats) // 2] < 0.05,
             "ping answers during the VACUUM (p50 %.1f ms, max %.1f ms, n=%d)"
             % (lats[len(lats) // 2] * 1000, lats[-1] * 1000, len(lats)))

    # -------------------------------------------------- a standby
    pg.psql("CREATE TABLE IF NOT EXISTS t (x int)", db=db)
    sb = pg.make_standby()
    try:
        conf = ('{ name = "music"; conninfo = "%s"; jobs = ( { name = "tick"; '
                'type = "sql"; schedule = "*/1 * * * * *"; sql = "SELECT 1"; } ); }'
                % sb.conninfo(db))
        with Daemon(databases=conf) as d:
            time.sleep(3)
            rc, out, err = d.ctl("--json", "status")
            st = json.loads(out)["databases"][0]
            R.ok(st["in_recovery"] is True and st["reachable"] is True,
                 "status on a standby: in_recovery", st)
            R.ok("skipped on music: database is a standby" in d.logtext() or
                 "tick skipped on music" in d.logtext(),
                 "jobs are skipped on a standby", d.logtext()[-600:])
            n = sb.psql("SELECT count(*) FROM pgmig.job_runs WHERE job = "
                        "'tick'", db=db)[0][0]
            R.eq(n, "0", "no run is recorded by the standby's daemon")
            rc, out, err = d.ctl("run", "tick")
            R.ok(rc == 1 and "standby" in err, "run on a standby says why", err)
    finally:
        sb.stop()

R.summary()
