#!/usr/bin/env python3
"""The migration engine against a real PostgreSQL 15: the seed layout
(001..005, the last CREATE INDEX CONCURRENTLY) with status before and
after and checksums equal to sha256 of the normalized files; a failing
transactional file leaves no trace; a failed CONCURRENTLY build leaves a
failed record and an INVALID index until repair; two migrators at once;
lock timeouts retried; kill -9 mid-file; down --steps 2; changed and CRLF
files; baseline of a hand-made database; lint; backup_command; progress
events; pgmigd --once with the same output."""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgharness import Cluster
from pgmigtest import (Daemon, PGMIGCTL, PGMIGD, Results, SRCDIR, wait_for,
                       conf_text)

R = Results("t_migrate")
SEED = os.path.join(SRCDIR, "demo", "migrations")


def migdir():
    d = tempfile.mkdtemp(prefix="pgmig-mig-")
    os.chmod(d, 0o755)
    for f in sorted(os.listdir(SEED)):
        shutil.copy(os.path.join(SEED, f), d)
    return d


def write(d, name, text, mode="w"):
    with open(os.path.join(d, name), mode) as f:
        f.write(text)


def normalized_sha256(path):
    raw = open(path, "rb").read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def dbconf(pg, db, d, extra=""):
    return ('{ name = "music"; conninfo = "%s"; migrations_dir = "%s"; '
            'lock_timeout = "1s"; %s }' % (pg.conninfo(db), d, extra))


def rows(pg, db, sql):
    return pg.psql(sql, db=db)


def jctl(d, *args, **kw):
    rc, out, err = d.ctl("--json", *args, **kw)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, {}, out + err


def versions(lst):
    return [e["version"] for e in lst]


def schema_snapshot(pg, db):
    return pg.psql(
        "SELECT c.relname, c.relkind, a.attname, pg_catalog.format_type("
        "a.atttypid, a.atttypmod) FROM pg_class c JOIN pg_namespace n ON "
        "n.oid = c.relnamespace LEFT JOIN pg_attribute a ON a.attrelid = "
        "c.oid AND a.attnum > 0 AND NOT a.attisdropped WHERE n.nspname = "
        "'public' AND c.relname <> 'schema_migrations' AND c.relname NOT "
        "LIKE 'schema_migrations%' ORDER BY 1, 3", db=db)


with Cluster() as pg:
    # ------------------------------------------------- the seed layout
    db = pg.createdb()
    d1 = migdir()
    with Daemon(databases=dbconf(pg, db, d1)) as d:
        rc, st, err = jctl(d, "migrate", "status")
        R.ok(rc == 0 and st.get("current") is None and
             versions(st.get("pending", [])) == ["001", "002", "003", "004",
                                                "005"] and
             st["pending"][4]["transactional"] is False and
             st["pending"][0]["transactional"] is True and
             st.get("applied") == [],
             "status before: 001..005 pending, 005 not transactional", err)
        R.ok(rows(pg, db, "SELECT to_regclass('public.schema_migrations') "
                  "IS NULL")[0][0] == "t",
             "... and status created nothing")

        rc, up, err = jctl(d, "migrate", "up")
        R.ok(rc == 0 and versions(up.get("applied", [])) ==
             ["001", "002", "003", "004", "005"] and up.get("dry_run") is False,
             "up applies 001..005 in order", err)
        R.ok("public.plays" in up.get("analyzed", []) and
             "public.users" in up.get("analyzed", []),
             "... and ANALYZEs the tables it touched", up.get("analyzed"))
        an = rows(pg, db, "SELECT last_analyze IS NOT NULL FROM "
                  "pg_stat_user_tables WHERE relname = 'plays'")
        R.ok(an and an[0][0] == "t", "pg_stat_user_tables.last_analyze "
             "of plays is set")
        rc, st, err = jctl(d, "migrate", "status")
        R.ok(rc == 0 and st.get("current") == "005" and
             versions(st.get("applied", [])) == ["001", "002", "003", "004",
                                                "005"] and
             st.get("pending") == [] and st.get("failed") == [] and
             st.get("changed") == [],
             "status after: current 005, all applied, nothing pending", err)
        table = dict((r[0], r[1:]) for r in rows(
            pg, db, "SELECT version, checksum, success, transactional, "
            "description, applied_by FROM schema_migrations"))
        good = all(table[v][0] == normalized_sha256(os.path.join(d1, f))
                   for v, f in (("001", "001_initial_schema.sql"),
                                ("002", "002_add_user_email_index.sql"),
                                ("003", "003_add_pii_hash_columns.sql"),
                                ("004", "004_add_users_email_encrypted.sql"),
                                ("005", "005_add_performance_indexes.sql")))
        R.ok(len(table) == 5 and good,
             "migrations_table checksums equal sha256sum of the files")
        R.ok(table["005"][1] == "t" and table["005"][2] == "f" and
             table["001"][2] == "t" and table["002"][3] ==
             "add_user_email_index" and "pgmigctl" in table["001"][4],
             "rows: success, transactional, description, applied_by",
             table.get("005"))
        idx = rows(pg, db, "SELECT c.relname, i.indisvalid FROM pg_index i "
                   "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname "
                   "IN ('plays_track_played_idx', 'plays_user_idx') ORDER BY 1")
        R.eq(idx, [["plays_track_played_idx", "t"], ["plays_user_idx", "t"]],
             "005's CONCURRENTLY indexes exist and are valid")
        fn = rows(pg, db, "SELECT track_label(t) FROM tracks t ORDER BY "
                  "track_id LIMIT 1")
        R.ok(fn and "; " in fn[0][0], "a $$ body with ';' inside was "
             "split correctly (function works: %s)" % (fn[0][0] if fn else "?"))
        runs = rows(pg, db, "SELECT job, job_type, status, rows FROM "
                    "pgmig.job_runs ORDER BY run_id DESC LIMIT 1")
        R.eq(runs, [["migrate", "migrate", "succeeded", "5"]],
             "job_runs records the migrate run")
        log = d.logtext()
        R.ok(all("event=migration_applied" in l and "migration=%s" % v in l
                 for v in ("001", "005") for l in [next(
                     (x for x in log.splitlines() if "migration=%s" % v in x),
                     "")]),
             "journald fields: PGMIG_EVENT=migration_applied with "
             "PGMIG_MIGRATION per file")
        rc, v, err = jctl(d, "migrate", "verify")
        R.ok(rc == 0 and v.get("ok") is True and v.get("objects_checked", 0)
             >= 7, "verify: ok, %s objects checked" % v.get("objects_checked"),
             err)
        rc, up, err = jctl(d, "migrate", "up")
        R.ok(rc == 0 and up.get("applied") == [], "up again: nothing to do")

        # ---------------------------------------------- --once parity
        rc1, o1, e1 = d.ctl("--json", "migrate", "status")
        p = subprocess.run([PGMIGD, "-c", d.conf, "--once", "--json",
                            "migrate", "status"], capture_output=True,
                           text=True, timeout=30)
        R.ok(p.returncode == rc1 == 0 and json.loads(p.stdout) ==
             json.loads(o1), "pgmigd --once migrate status: same JSON and "
             "exit code as pgmigctl", p.stderr)
        p = subprocess.run([PGMIGD, "-c", d.conf, "--once", "migrate"],
                           capture_output=True, text=True, timeout=30)
        R.ok(p.returncode == 2 and "subcommand" in p.stderr,
             "pgmigd --once migrate (no subcommand) is a usage error",
             p.stderr)
        rc, out, err = d.ctl("migrate", "bogus")
        R.ok(rc == 2 and "migrate up" in err, "pgmigctl migrate bogus: usage, "
             "lists the migrate commands", err)
        rc, out, err = d.ctl("migrate", "baseline", "1; DROP TABLE users")
        R.ok(rc == 2 and "not a version" in err, "a version that tries SQL "
             "is a usage error", err)
        rc, out, err = d.ctl("migrate", "up", "--to", "x'--")
        R.ok(rc == 2, "--to that is not a version: usage error", err)

        # ----------------------------------------- down --steps 2
        rc, dn, err = jctl(d, "migrate", "down", "--steps", "2")
        R.ok(rc == 0 and versions(dn.get("reverted", [])) == ["005", "004"],
             "down --steps 2 reverts 005 then 004", err)
        snap_down = schema_snapshot(pg, db)
        left = rows(pg, db, "SELECT version FROM schema_migrations ORDER BY 1")
        R.eq(left, [["001"], ["002"], ["003"]], "their rows are gone")
        # the state before 004: a database brought to 003 only
        db3 = pg.createdb()
        with Daemon(databases=dbconf(pg, db3, d1)) as d3:
            rc, out, err = d3.ctl("migrate", "up", "--to", "003")
        R.ok(rc == 0 and schema_snapshot(pg, db3) == snap_down,
             "the schema after down equals the schema of up --to 003", err)
        rc, up, err = jctl(d, "migrate", "up")
        R.ok(rc == 0 and versions(up["applied"]) == ["004", "005"],
             "up re-applies 004, 005", err)

        # ------------------------------------ changed files, CRLF, BOM
        p2 = os.path.join(d1, "002_add_user_email_index.sql")
        orig = open(p2, "rb").read()
        write(d1, "002_add_user_email_index.sql", orig.decode() +
              "-- an edit after the fact\n")
        rc, st, err = jctl(d, "migrate", "status")
        R.ok(versions(st.get("changed", [])) == ["002"],
             "an edited applied file shows as changed", st.get("changed"))
        write(d1, "006_add_genre.sql", "SET lock_timeout = '5s';\n"
              "ALTER TABLE tracks ADD COLUMN genre text;\n")
        rc, out, err = d.ctl("migrate", "up")
        R.ok(rc == 1 and "changed" in err and "002" in err,
             "a changed checksum blocks up", err)
        R.ok(rows(pg, db, "SELECT count(*) FROM schema_migrations WHERE "
                  "version = '006'")[0][0] == "0", "... and 006 did not run")
        write(d1, "002_add_user_email_index.sql",
              b"\xef\xbb\xbf" + orig.replace(b"\n", b"\r\n"), "wb")
        rc, st, err = jctl(d, "migrate", "status")
        R.ok(rc == 0 and st.get("changed") == [],
             "the same file with CRLF line endings and a BOM is not changed",
             st.get("changed"))
        rc, up, err = jctl(d, "migrate", "up")
        R.ok(rc == 0 and versions(up["applied"]) == ["006"], "up goes on", err)

        # ----------------------- a failing transactional file: no trace
        write(d1, "007_broken.sql",
              "SET lock_timeout = '5s';\n"
              "CREATE TABLE broken_t (a int);\n"
              "INSERT INTO broken_t VALUES (1);\n"
              "INSERT INTO broken_t\n"
              "  SELECT x FROM no_such_table;\n"
              "CREATE TABLE broken_after (b int);\n")
        rc, out, err = d.ctl("migrate", "up")
        R.ok(rc == 1 and "007_broken.sql:5" in err and "no_such_table" in err,
             "a failing statement: exit 1, error with file and line", err)
        R.ok(rows(pg, db, "SELECT to_regclass('broken_t') IS NULL AND "
                  "to_regclass('broken_after') IS NULL, (SELECT count(*) FROM "
                  "schema_migrations WHERE version = '007')")[0] == ["t", "0"],
             "... no table, no history row")
        rc, st, err = jctl(d, "migrate", "status")
        R.ok(versions(st.get("pending", [])) == ["007"] and
             st.get("failed") == [], "status: 007 still pending, not failed")
        rc, dry, err = jctl(d, "migrate", "up", "--dry-run")
        R.ok(rc == 1 and "007_broken.sql:5" in err and "dry run" in err,
             "--dry-run finds the same error", err)
        os.unlink(os.path.join(d1, "007_broken.sql"))

        # --------- a CONCURRENTLY build failing on duplicates: INVALID
        pg.psql("CREATE TABLE dup_t (v int); INSERT INTO dup_t VALUES "
                "(1), (2), (2), (3)", db=db)
        write(d1, "007_unique_dup.sql",
              "-- the duplicates make this fail halfway\n"
              "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS dup_t_v_key "
              "ON dup_t (v);\n")
        rc, out, err = d.ctl("migrate", "up")
        R.ok(rc == 1 and "007_unique_dup.sql:2" in err and "repair" in err,
             "a failed CONCURRENTLY build: exit 1, file and line, the way "
             "out", err)
        st_row = rows(pg, db, "SELECT success FROM schema_migrations WHERE "
                      "version = '007'")
        inv = rows(pg, db, "SELECT indisvalid FROM pg_index WHERE "
                   "indexrelid = 'dup_t_v_key'::regclass")
        R.ok(st_row == [["f"]] and inv == [["f"]],
             "a failed record (success=false) and an INVALID index remain")
        rc, st, err = jctl(d, "migrate", "status")
        R.ok(versions(st.get("failed", [])) == ["007"] and
             any(i["index"] == "public.dup_t_v_key" for i in
                 st.get("invalid_indexes", [])),
             "status reports the failed migration and the INVALID index",
             st)
        rc, out, err = d.ctl("migrate", "up")
        R.ok(rc == 1 and "repair" in err, "up is blocked until repair", err)
        rc, hc, err = jctl(d, "health-check")
        mig = [c for c in hc.get("checks", []) if c["name"] == "migrations"]
        R.ok(rc == 1 and mig and mig[0]["status"] == "critical" and
             "007" in mig[0]["message"],
             "health-check: the failed migration is critical", mig)
        pg.psql("DELETE FROM dup_t WHERE ctid = (SELECT max(ctid) FROM dup_t "
                "WHERE v = 2)", db=db)
        rc, out, err = d.ctl("migrate", "repair", "007")
        R.ok(rc == 0 and rows(pg, db, "SELECT count(*) FROM schema_migrations "
                               "WHERE version = '007'")[0][0] == "0",
             "repair 007 clears the failed record", err)
        rc, up, err = jctl(d, "migrate", "up")
        inv = rows(pg, db, "SELECT indisvalid FROM pg_index WHERE "
                   "indexrelid = 'dup_t_v_key'::regclass")
        R.ok(rc == 0 and versions(up.get("applied", [])) == ["007"] and
             inv == [["t"]], "after the data fix, up succeeds and the index "
             "is valid (dropped and rebuilt despite IF NOT EXISTS)", err)
        R.ok("dropping the INVALID index" in d.logtext(),
             "the INVALID index was reported and dropped")
        rc, hc, err = jctl(d, "health-check")
        mig = [c for c in hc.get("checks", []) if c["name"] == "migrations"]
        R.ok(mig and mig[0]["status"] == "ok" and mig[0]["value"] == 0,
             "health-check: migrations ok again, none pending", mig)
        rc, out, err = d.ctl("migrate", "repair", "007")
        R.ok(rc == 1 and "needs no repair" in err, "repair of a good record "
             "is refused", err)

        # -------------------- a lock held elsewhere: time out, retry
        write(d1, "008_users_flag.sql", "ALTER TABLE users ADD COLUMN "
              "flagged boolean NOT NULL DEFAULT false;\n")
        holder = subprocess.Popen(
            ["psql", "-X", "-q", "-h", pg.host, "-p", str(pg.port), "-U",
             "postgres", "-d", db, "-c", "BEGIN; LOCK TABLE users IN ACCESS "
             "SHARE MODE; SELECT pg_sleep(3.5); COMMIT;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        waiting = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                r = pg.psql("SELECT count(*) FROM pg_locks l JOIN "
                            "pg_stat_activity a USING (pid) WHERE NOT "
                            "l.granted AND a.application_name LIKE "
                            "'pgmigd%'", db=db)
                waiting.append(int(r[0][0]))
                time.sleep(0.1)
        th = threading.Thread(target=sample)
        th.start()
        t0 = time.monotonic()
        rc, up, err = jctl(d, "migrate", "up")
        took = time.monotonic() - t0
        stop.set()
        th.join()
        holder.wait(timeout=20)
        R.ok(rc == 0 and versions(up.get("applied", [])) == ["008"] and
             took >= 2.5, "with a conflicting lock held, up times out, "
             "retries and succeeds once it is released (%.1f s)" % took, err)
        R.ok("lock timeout" in d.logtext() and "try 2" in d.logtext(),
             "the retries are logged")
        R.ok(waiting and waiting.count(0) > 0 and
             rows(pg, db, "SELECT count(*) FROM pg_locks WHERE NOT "
                  "granted")[0][0] == "0",
             "no lock queue is left behind: the migrator waited in the "
             "queue only until each lock_timeout (%d of %d samples had a "
             "waiter)" % (len(waiting) - waiting.count(0), len(waiting)))

        # -------------------------------- progress in the protocol
        write(d1, "009_plays_played_idx.sql",
              "CREATE INDEX CONCURRENTLY plays_played_idx ON plays "
              "(played_at);\n")
        old = subprocess.Popen(
            ["psql", "-X", "-q", "-h", pg.host, "-p", str(pg.port), "-U",
             "postgres", "-d", db, "-c", "BEGIN ISOLATION LEVEL REPEATABLE "
             "READ; SELECT count(*) FROM plays; SELECT pg_sleep(2.5); "
             "COMMIT;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.4)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        s.sendall(b'{"id":1,"cmd":"migrate up","args":[],"opts":{}}\n')
        buf = b""
        s.settimeout(30)
        events = []
        final = None
        while final is None:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                obj = json.loads(line)
                if obj.get("event") == "progress":
                    events.append(obj.get("phase", ""))
                else:
                    final = obj
        s.close()
        old.wait(timeout=20)
        R.ok(final and final.get("ok") is True,
             "migrate up over the raw protocol", final)
        R.ok(any("applying 009_plays_played_idx.sql" in e for e in events) and
             any("009_plays_played_idx.sql:1:" in e and
                 ("waiting" in e or "building" in e) for e in events),
             "progress events: the file, then pg_stat_progress_create_index "
             "phases", events)

        # ----------------------------------------- backup_command
        write(d1, "010_add_album_year.sql",
              "ALTER TABLE tracks ADD COLUMN year int;\n")
        bdir = tempfile.mkdtemp(prefix="pgmig-bk-")
        os.chmod(bdir, 0o777)
        d.write_conf(conf_text(d.sock, databases=dbconf(
            pg, db, d1, 'backup_command = "echo no space left >&2; exit 3";')))
        d.ctl("reload")
        rc, out, err = d.ctl("migrate", "up")
        R.ok(rc == 1 and "backup_command failed (exit 3)" in err and
             "no space left" in err, "a failing backup_command stops up", err)
        R.ok(rows(pg, db, "SELECT count(*) FROM schema_migrations WHERE "
                  "version = '010'")[0][0] == "0", "... before anything ran")
        d.write_conf(conf_text(d.sock, databases=dbconf(
            pg, db, d1, 'backup_command = "pg_dump -Fc -f %s/%%d-%%t.dump";'
            % bdir)))
        d.ctl("reload")
        rc, up, err = jctl(d, "migrate", "up")
        dumps = os.listdir(bdir)
        R.ok(rc == 0 and versions(up.get("applied", [])) == ["010"] and
             len(dumps) == 1 and dumps[0].startswith(db + "-") and
             os.path.getsize(os.path.join(bdir, dumps[0])) > 1000,
             "backup_command (pg_dump, %%d %%t) ran first: %s" % dumps, err)
        shutil.rmtree(bdir, ignore_errors=True)

    # ---------------------- two migrators at once, two daemons, CIC
    db2 = pg.createdb()
    d2 = migdir()
    write(d2, "006_slow.sql", "CREATE TABLE slow_t (a int);\n"
          "SELECT pg_sleep(1.5);\n")
    write(d2, "007_more_indexes.sql",
          "CREATE INDEX CONCURRENTLY IF NOT EXISTS tracks_title_idx ON "
          "tracks (title);\n")
    write(d2, "008_after.sql", "CREATE TABLE after_t (a int);\n")
    with Daemon(databases=dbconf(pg, db2, d2)) as a, \
            Daemon(databases=dbconf(pg, db2, d2)) as b:
        res = {}

        def go(name, dmn):
            res[name] = jctl(dmn, "migrate", "up", timeout=120)
        ta = threading.Thread(target=go, args=("a", a))
        tb = threading.Thread(target=go, args=("b", b))
        t0 = time.monotonic()
        ta.start()
        time.sleep(0.2)
        tb.start()
        ta.join(120)
        tb.join(120)
        took = time.monotonic() - t0
        ra, rb = res.get("a"), res.get("b")
        applied = (versions(ra[1].get("applied", [])) if ra else []) + \
            (versions(rb[1].get("applied", [])) if rb else [])
        R.ok(ra and rb and ra[0] == 0 and rb[0] == 0 and
             sorted(applied) == ["001", "002", "003", "004", "005", "006",
                                 "007", "008"],
             "two daemons migrate at once: both succeed, each version "
             "applied exactly once (%.1f s)" % took, (ra, rb))
        cnt = rows(pg, db2, "SELECT count(*), count(DISTINCT version) FROM "
                   "schema_migrations")
        R.eq(cnt, [["8", "8"]], "eight rows, eight versions")
        R.ok("waiting for the lock" in (b.logtext() + a.logtext()) and
             min(len(ra[1].get("applied", [])), len(rb[1].get("applied",
                                                             []))) == 0,
             "the second waited for the migration lock, then found nothing "
             "to do (no deadlock with CREATE INDEX CONCURRENTLY)")

    # --------------------- kill -9 in the middle of a long migration
    write(d2, "009_long.sql", "CREATE TABLE long_t (a int);\n"
          "INSERT INTO long_t VALUES (1);\n"
          "SELECT pg_sleep(30);\n")
    with Daemon(databases=dbconf(pg, db2, d2)) as k:
        ctlp = subprocess.Popen([PGMIGCTL, "-s", k.sock, "migrate", "up"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        got = wait_for(lambda: rows(pg, db2, "SELECT count(*) FROM "
                                    "pg_stat_activity WHERE query LIKE "
                                    "'%pg_sleep(30)%' AND pid <> "
                                    "pg_backend_pid()")[0][0] == "1", 10)
        R.ok(got, "the long file is running")
        k.proc.kill()
        k.proc.wait()
        ctlp.wait(timeout=10)
        gone = wait_for(lambda: rows(pg, db2, "SELECT count(*) FROM "
                                     "pg_stat_activity WHERE query LIKE "
                                     "'%pg_sleep(30)%' AND pid <> "
                                     "pg_backend_pid()")[0][0] == "0", 10)
        R.ok(gone, "the server noticed within seconds and stopped the file "
             "(client_connection_check_interval)")
        R.ok(rows(pg, db2, "SELECT to_regclass('long_t') IS NULL, (SELECT "
                  "count(*) FROM schema_migrations WHERE version = '009')")[0]
             == ["t", "0"], "after kill -9: no table, no row: the database "
             "is as before that file")
        k.start()
        wait_for(lambda: rows(pg, db2, "SELECT count(*) FROM pgmig.job_runs "
                              "WHERE status = 'running'")[0][0] == "0", 15)
        R.ok(rows(pg, db2, "SELECT status, message FROM pgmig.job_runs WHERE "
                  "job = 'migrate' ORDER BY run_id DESC LIMIT 1")[0][0] ==
             "failed", "the next start closes the stale run row as failed")
        rc, st, err = jctl(k, "migrate", "status")
        R.ok(versions(st.get("pending", [])) == ["009"] and
             st.get("failed") == [] and st.get("current") == "008",
             "status tells the truth: 009 pending, current 008", st)

        # SIGTERM in the middle of the same file: cancelled on the server
        ctlp = subprocess.Popen([PGMIGCTL, "-s", k.sock, "migrate", "up"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        wait_for(lambda: rows(pg, db2, "SELECT count(*) FROM "
                              "pg_stat_activity WHERE query LIKE "
                              "'%pg_sleep(30)%' AND pid <> "
                              "pg_backend_pid()")[0][0] == "1", 10)
        t0 = time.monotonic()
        code = k.stop(timeout=20)
        took = time.monotonic() - t0
        out, err = ctlp.communicate(timeout=10)
        R.ok(code == 0 and took < 10 and ctlp.returncode == 1 and
             "daemon stopping" in err, "SIGTERM mid-file: pgmigd exits 0 "
             "in %.1f s, the client hears why" % took, err)
        R.ok(rows(pg, db2, "SELECT status FROM pgmig.job_runs WHERE job = "
                  "'migrate' ORDER BY run_id DESC LIMIT 1") == [["cancelled"]]
             and rows(pg, db2, "SELECT to_regclass('long_t') IS NULL, "
                      "(SELECT count(*) FROM schema_migrations WHERE version "
                      "= '009')")[0] == ["t", "0"],
             "... recorded cancelled, and the file rolled back")
        os.unlink(os.path.join(d2, "009_long.sql"))

    # ----------------------------- baseline of a hand-made database
    db4 = pg.createdb()
    for f in ("001_initial_schema.sql", "002_add_user_email_index.sql",
              "003_add_pii_hash_columns.sql"):
        pg.psql_file(os.path.join(SEED, f), db=db4)
    d4 = migdir()
    with Daemon(databases=dbconf(pg, db4, d4)) as d:
        rc, out, err = d.ctl("migrate", "up", "--dry-run")
        R.ok(rc == 1 and "already exists" in err,
             "without a baseline, up would re-create what is there "
             "(dry run says so)", err)
        rc, out, err = d.ctl("migrate", "baseline", "003")
        R.ok(rc == 0, "baseline 003 on a database created by hand", err)
        rc, st, err = jctl(d, "migrate", "status")
        R.ok(versions(st.get("pending", [])) == ["004", "005"] and
             st.get("baseline") == "003" and st.get("baselined") == 2,
             "status: baseline 003, 001 and 002 covered, 004 and 005 "
             "pending", st)
        rc, up, err = jctl(d, "migrate", "up")
        R.ok(rc == 0 and versions(up.get("applied", [])) == ["004", "005"],
             "up applies only 004 and onwards", err)
        rc, out, err = d.ctl("migrate", "baseline", "002")
        R.ok(rc == 1 and "already holds" in err,
             "a second baseline is refused", err)
        rc, out, err = d.ctl("migrate", "down", "--steps", "3")
        R.ok(rc == 1 and "baseline" in err and rows(
            pg, db4, "SELECT count(*) FROM schema_migrations")[0][0] == "3",
            "down cannot go past the baseline, and reverts nothing", err)

    # ------------- a LATIN1 database; a backup pipeline cancelled
    pg.psql("CREATE DATABASE latin1db ENCODING 'LATIN1' LC_COLLATE 'C' "
            "LC_CTYPE 'C' TEMPLATE template0")
    d6 = tempfile.mkdtemp(prefix="pgmig-l1-")
    os.chmod(d6, 0o755)
    write(d6, "001_enc.sql", "CREATE TABLE enc (s text DEFAULT 'café');\n")
    with Daemon(databases=dbconf(pg, "latin1db", d6)) as d:
        rc, out, err = d.ctl("migrate", "up")
        ln = rows(pg, "latin1db", "SELECT length(pg_get_expr(adbin, adrelid)) "
                  "FROM pg_attrdef WHERE adrelid = 'enc'::regclass")
        R.ok(rc == 0 and ln == [["12"]], "UTF-8 files reach a LATIN1 "
             "database intact ('café'::text is 12 characters: %s)" % ln, err)
        write(d6, "002_more.sql", "CREATE TABLE more_t (a int);\n")
        d.write_conf(conf_text(d.sock, databases=dbconf(
            pg, "latin1db", d6, 'backup_command = "sleep 20 | cat";')))
        d.ctl("reload")
        bg = subprocess.Popen([PGMIGCTL, "-s", d.sock, "migrate", "up"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
        wait_for(lambda: "running backup_command" in d.logtext(), 10)
        t0 = time.monotonic()
        d.ctl("cancel", "migrate")
        out, err = bg.communicate(timeout=30)
        took = time.monotonic() - t0
        left = subprocess.run(["pgrep", "-f", "^sleep 20$"],
                              capture_output=True, text=True).stdout.split()
        R.ok(bg.returncode == 1 and "cancel" in err and took < 3 and not left,
             "cancel stops a backup_command pipeline (its process group) "
             "at once: %.1f s, %d left" % (took, len(left)), err)
        R.ok(rows(pg, "latin1db", "SELECT to_regclass('more_t') IS NULL")[0][0]
             == "t", "... and nothing was applied")

    # ---------------------------------------------------------- lint
    d5 = tempfile.mkdtemp(prefix="pgmig-lint-")
    os.chmod(d5, 0o755)
    write(d5, "001_unsafe.sql",
          "CREATE INDEX tracks_title_idx ON tracks (title);\n"
          "ALTER TABLE plays ADD CONSTRAINT plays_user_fk FOREIGN KEY "
          "(user_id) REFERENCES users;\n"
          "ALTER TABLE plays ADD CONSTRAINT plays_pos CHECK (play_id > 0);\n"
          "ALTER TABLE tracks ALTER COLUMN title TYPE varchar(200);\n"
          "ALTER TABLE users ADD COLUMN tier text NOT NULL;\n"
          "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
          "DROP TABLE old_stuff;\n"
          "ALTER TABLE users DROP COLUMN legacy;\n"
          "ALTER TABLE tracks RENAME COLUMN title TO name;\n")
    write(d5, "002_concurrently_in_tx.sql",
          "BEGIN;\nCREATE INDEX CONCURRENTLY i1 ON tracks (title);\n"
          "COMMIT;\n")
    write(d5, "003_safe.sql",
          "SET lock_timeout = '5s';\n"
          "CREATE TABLE genres (genre_id int PRIMARY KEY, name text NOT NULL);\n"
          "CREATE INDEX genres_name_idx ON genres (name);\n"
          "ALTER TABLE plays ADD CONSTRAINT plays_track_fk FOREIGN KEY "
          "(track_id) REFERENCES tracks NOT VALID;\n"
          "ALTER TABLE tracks ADD COLUMN note text DEFAULT '' NOT NULL;\n")
    write(d5, "004_silenced.sql",
          "-- pgmig:disable index-not-concurrent, missing-lock-timeout\n"
          "CREATE INDEX plays_played_idx2 ON plays (played_at);\n")
    db5 = pg.createdb()
    with Daemon(databases=dbconf(pg, db5, d5),
                extra_daemon='  control_mode = "0666";\n') as d:
        rc, li, err = jctl(d, "migrate", "lint",
                           os.path.join(d5, "001_unsafe.sql"))
        found = {}
        for f in li.get("findings", []):
            found.setdefault(f["rule"], f["line"])
        want = {"index-not-concurrent": 1, "constraint-not-valid": 2,
                "alter-column-type": 4, "add-column-not-null": 5,
                "set-not-null": 6, "drop-table": 7, "drop-column": 8,
                "rename": 9, "missing-lock-timeout": 1}
        R.ok(all(found.get(k) == v for k, v in want.items()) and
             sum(1 for f in li["findings"] if f["rule"] ==
                 "constraint-not-valid") == 2,
             "lint finds each rule with its line", found)
        R.ok(rc == 1 and li.get("ok") is False and
             all("severity" in f and "message" in f for f in li["findings"]),
             "... with severities; errors make it exit 1", rc)
        rc, li, err = jctl(d, "migrate", "lint", "002")
        rules = sorted(f["rule"] for f in li.get("findings", []))
        R.ok("concurrently-in-transaction" in rules and
             "transaction-control" in rules,
             "CONCURRENTLY inside BEGIN...COMMIT (by version)", rules)
        rc, li, err = jctl(d, "migrate", "lint", "003", "004")
        R.ok(rc == 0 and li.get("findings") == [] and li.get("ok") is True,
             "nothing in a safe file, nor in one that disables its rules",
             li.get("findings"))
        rc, out, err = d.ctl("migrate", "lint", "/etc/passwd",
                             user="nobody")
        R.ok(rc == 4, "an unprivileged client cannot have the daemon read "
             "files outside migrations_dir", err)
        rc, out, err = d.ctl("migrate", "up")
        R.ok(rc == 1 and "002_concurrently_in_tx.sql:1" in err and
             "transaction control" in err and rows(
                 pg, db5, "SELECT to_regclass('genres') IS NULL")[0][0] == "t",
             "up refuses a file with BEGIN/COMMIT before running anything",
             err)

sys.exit(R.summary())
