#!/usr/bin/env python3
"""The scheduler and job runs against a real PostgreSQL 15: a per-second
job runs on time and its job_runs rows carry status, duration and host;
overlapping slots are recorded skipped; retries; catch_up; cancel stops
the backend and records cancelled; a timeout fails naming the timeout;
pg_ctl stop -m immediate mid-run is survived and recorded; two daemons
never run a slot twice; stale rows of a dead daemon are closed at start."""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgharness import Cluster
from pgmigtest import Daemon, Results, wait_for

R = Results("t_jobs")


def job(name, sql, schedule="@yearly", extra=""):
    return ('{ name = "%s"; type = "sql"; schedule = "%s"; sql = "%s"; %s }'
            % (name, schedule, sql, extra))


def dbconf(pg, db, jobs):
    return ('{ name = "music"; conninfo = "%s"; pool_size = 4;\n'
            '  jobs = (\n    %s\n  ); }' % (pg.conninfo(db), ",\n    ".join(jobs)))


def runs(pg, db, where="true"):
    if pg.psql("SELECT to_regclass('pgmig.job_runs') IS NULL", db=db)[0][0] == "t":
        return []
    return pg.psql("SELECT run_id, job, trigger, status, duration_ms, host, "
                   "coalesce(message, ''), details->>'slot', "
                   "coalesce(details->>'attempt', ''), "
                   "date_part('epoch', started_at) FROM pgmig.job_runs "
                   "WHERE %s ORDER BY run_id" % where, db=db)


# crash tests need commits that survive pg_ctl stop -m immediate
with Cluster(extra_conf={"synchronous_commit": "on"}) as pg:
    # ------------------------------------------------ a per-second job
    db = pg.createdb()
    with Daemon(databases=dbconf(pg, db, [
            job("tick", "SELECT 1", "*/1 * * * * *"),
            job("overlap", "SELECT pg_sleep(2.5)", "*/1 * * * * *")])) as d:
        time.sleep(4.5)
        rc, out, err = d.ctl("--json", "jobs")
        jobs = {j["name"]: j for j in json.loads(out)["jobs"]}
        R.ok(rc == 0 and jobs["tick"]["next_run"] and
             jobs["tick"]["last_run"]["status"] == "succeeded",
             "jobs shows next_run and last_run", out)
        R.ok(jobs["overlap"]["running_run_id"] is not None,
             "jobs shows the running run id of a long job")
    ticks = runs(pg, db, "job = 'tick'")
    R.ok(len(ticks) >= 3 and all(r[3] == "succeeded" for r in ticks),
         "a */1 * * * * * job ran every second (%d runs)" % len(ticks), ticks)
    R.ok(all(r[4] != "" and r[5] == socket.gethostname() for r in ticks),
         "its rows carry duration_ms and host")
    late = [float(r[9]) - time.mktime(time.strptime(r[7], "%Y-%m-%dT%H:%M:%SZ"))
            + time.mktime(time.gmtime(0)) for r in ticks]
    R.ok(all(-0.002 <= x < 1.0 for x in late),
         "each started within 1 s of its slot (max %.3f s)" % max(late), late)
    slots = [r[7] for r in ticks]
    R.ok(len(set(slots)) == len(slots), "one run per slot")
    ov = runs(pg, db, "job = 'overlap'")
    R.ok(any(r[3] == "skipped" and "still running" in r[6] for r in ov) and
         any(r[3] in ("succeeded", "cancelled") for r in ov),
         "an overlapping slot is recorded skipped", ov)
    R.ok(any(r[3] == "cancelled" and r[6] == "daemon stopping" for r in ov),
         "SIGTERM cancels a running job and records it cancelled", ov)

    # ------------------------------------------------ cancel and timeout
    db = pg.createdb()
    with Daemon(databases=dbconf(pg, db, [
            job("sleepy", "SELECT pg_sleep(60)"),
            job("slow", "SELECT pg_sleep(10)", extra='timeout = "1s";'),
            job("quick", "SELECT 42"),
            job("openx", "BEGIN; SELECT 1"),
            job("copyin", "CREATE TEMP TABLE c (x int); COPY c FROM STDIN"),
            '{ name = "vacall"; type = "vacuum"; schedule = "@yearly"; }'])) as d:
        rc, out, err = d.ctl("run", "openx")
        last = runs(pg, db, "job = 'openx'")
        R.ok(rc == 1 and "transaction open" in err and last and
             last[-1][3] == "failed", "SQL that leaves a transaction open: "
             "rolled back, recorded failed", last)
        rc, out, err = d.ctl("run", "copyin")
        R.ok(rc == 1 and "COPY FROM STDIN" in err, "a job that wants COPY FROM "
             "STDIN fails cleanly", err)
        rc, out, err = d.ctl("run", "vacall")
        R.ok(rc == 0 and runs(pg, db, "job = 'vacall'")[-1][3] == "succeeded",
             "a vacuum job with no tables vacuums the database (and the "
             "pool carried on after the COPY)", err)
        rc, out, err = d.ctl("--json", "status")
        nj = json.loads(out)["databases"][0]["next_job"]
        R.ok(nj and nj["name"] and nj["at"], "status shows the next job", nj)
        rc, out, err = d.ctl("--json", "run", "sleepy", "--detach")
        rid = json.loads(out)["run_id"] if rc == 0 else None
        R.ok(rc == 0 and rid, "run --detach prints the run id", out + err)
        R.ok(wait_for(lambda: pg.psql("SELECT count(*) FROM pg_stat_activity "
                                      "WHERE query LIKE 'SELECT pg_sleep(60)%%' "
                                      "AND state = 'active'", db=db)[0][0] == "1", 10),
             "the job's statement runs on the server")
        t0 = time.monotonic()
        rc, out, err = d.ctl("cancel", str(rid))
        R.eq(rc, 0, "cancel RUN_ID exits 0")
        R.ok(wait_for(lambda: pg.psql("SELECT count(*) FROM pg_stat_activity "
                                      "WHERE query LIKE 'SELECT pg_sleep(60)%%' "
                                      "AND state = 'active'", db=db)[0][0] == "0", 5),
             "the backend stopped %.2f s after cancel" % (time.monotonic() - t0))
        R.ok(wait_for(lambda: runs(pg, db, "run_id = %d" % rid)[0][3] ==
                      "cancelled", 5),
             "the run is recorded cancelled", runs(pg, db, "run_id = %d" % rid))
        rc, out, err = d.ctl("cancel", "sleepy")
        R.eq(rc, 1, "cancel of a job that is not running exits 1")

        rc, out, err = d.ctl("run", "slow")
        R.ok(rc == 1 and "time" in err, "a job over its timeout fails, naming "
             "the timeout", err)
        last = runs(pg, db, "job = 'slow'")[-1]
        R.ok(last[3] == "failed" and "time" in last[6] and int(last[4]) < 5000,
             "... recorded failed with the timeout in its message", last)
        rc, out, err = d.ctl("--json", "run", "quick")
        R.ok(rc == 0 and json.loads(out)["status"] == "succeeded" and
             json.loads(out)["rows"] == 1, "run waits and returns the run", out)
        rc, out, err = d.ctl("run", "no-such-job")
        R.eq(rc, 1, "run of an unknown job exits 1")
        rc, out, err = d.ctl("--json", "history", "quick")
        h = json.loads(out)["runs"] if rc == 0 else []
        R.ok(len(h) == 1 and h[0]["status"] == "succeeded" and
             h[0]["trigger"] == "manual" and h[0]["duration_ms"] is not None,
             "history JOB shows the run", out)
        rc, out, err = d.ctl("--json", "history", "--limit", "2")
        R.ok(rc == 0 and len(json.loads(out)["runs"]) == 2, "history --limit")

        # ------------------------------------------------ the server dies
        rc, out, err = d.ctl("--json", "run", "sleepy", "--detach")
        rid = json.loads(out)["run_id"]
        wait_for(lambda: pg.psql("SELECT count(*) FROM pg_stat_activity WHERE "
                                 "query LIKE 'SELECT pg_sleep(60)%%'",
                                 db=db)[0][0] == "1", 10)
        pg.halt("immediate")
        rc, out, err = d.ctl("--json", "status")
        R.ok(rc == 0, "status answers while the server is down")
        R.ok(wait_for(lambda: "sleepy failed" in d.logtext(), 10),
             "the run ends as failed in the log", d.logtext()[-800:])
        pg.resume()
        R.ok(wait_for(lambda: runs(pg, db, "run_id = %d" % rid)[0][3] ==
                      "failed", 40),
             "after the restart its row is closed as failed",
             runs(pg, db, "run_id = %d" % rid))
        rc, out, err = d.ctl("run", "quick")
        R.eq(rc, 0, "the pool reconnected: the next run succeeds")

    # ------------------------------------------------ retries, catch_up
    db = pg.createdb()
    sec = (int(time.time()) + 3) % 60
    jobs = [job("flaky", "SELECT 1/0", "%d * * * * *" % sec,
                'retries = 2; retry_backoff = "200ms";'),
            job("tock", "SELECT 1", "*/1 * * * * *", 'catch_up = "once";'),
            job("tick", "SELECT 1", "*/1 * * * * *")]
    d = Daemon(databases=dbconf(pg, db, jobs)).start()
    try:
        R.ok(wait_for(lambda: len(runs(pg, db, "job = 'flaky'")) >= 3, 10),
             "a failing job is retried")
        fl = runs(pg, db, "job = 'flaky'")
        R.ok(len(fl) == 3 and [r[8] for r in fl] == ["1", "2", "3"] and
             len({r[7] for r in fl}) == 1 and all(r[3] == "failed" for r in fl),
             "retries = 2: attempts 1, 2, 3 of the same slot, then it stops",
             fl)
        d.stop()
        time.sleep(3)
        # a row left running by a daemon that died, holding no lock
        pg.psql("INSERT INTO pgmig.job_runs (job, job_type, database, trigger,"
                " status, host, pid) VALUES ('ghost', 'sql', 'music', "
                "'schedule', 'running', 'elsewhere', 999999)", db=db)
        d.start()
        R.ok(wait_for(lambda: len(runs(pg, db, "trigger = 'startup'")) >= 1,
                      10), "catch_up = once runs a missed slot after downtime")
        st = runs(pg, db, "trigger = 'startup'")
        R.ok(len(st) == 1 and st[0][1] == "tock",
             "... once, and only for the job that asks for it", st)
        R.ok(wait_for(lambda: runs(pg, db, "job = 'ghost'")[0][3] == "failed",
                      10) and runs(pg, db, "job = 'ghost'")[0][6] ==
             "daemon stopped", "a stale running row is closed at start",
             runs(pg, db, "job = 'ghost'"))
    finally:
        d.cleanup()

    # ------------------------------------------------ two daemons
    db = pg.createdb()
    conf = dbconf(pg, db, [job("tick", "SELECT pg_sleep(0.05)", "*/1 * * * * *")])
    d1 = Daemon(databases=conf).start()
    d2 = Daemon(databases=conf).start()
    try:
        time.sleep(5)
    finally:
        d1.cleanup()
        d2.cleanup()
    dup = pg.psql("SELECT details->>'slot', count(*) FROM pgmig.job_runs "
                  "WHERE status <> 'skipped' GROUP BY 1 HAVING count(*) > 1",
                  db=db)
    n = pg.psql("SELECT count(*), count(DISTINCT pid) FROM pgmig.job_runs WHERE "
                "status = 'succeeded'", db=db)[0]
    R.ok(dup == [] and int(n[0]) >= 3,
         "two daemons, one job: %s runs, no slot twice" % n[0], dup)

    # ------------------------------------------------ a role that is not superuser
    db = pg.createdb()
    pg.psql("CREATE ROLE jobber LOGIN; CREATE SCHEMA pgmig AUTHORIZATION "
            "jobber; CREATE TABLE t (x int); ALTER TABLE t OWNER TO jobber",
            db=db)
    conn = pg.conninfo(db).replace("user=postgres", "user=jobber")
    with Daemon(databases='{ name = "music"; conninfo = "%s"; jobs = ( '
                '{ name = "vac"; type = "vacuum"; schedule = "@yearly"; '
                'tables = ["t"]; } ); }' % conn) as d:
        rc, out, err = d.ctl("run", "vac")
        R.ok(rc == 0 and runs(pg, db)[-1][3] == "succeeded",
             "a role without CREATE on the database runs jobs in a schema "
             "it owns", err)

    # ------------------------------------------------ reload drops a database
    db = pg.createdb()
    with Daemon(databases=dbconf(pg, db, [job("sleepy", "SELECT pg_sleep(60)")])) as d:
        rc, out, err = d.ctl("--json", "run", "sleepy", "--detach")
        rid = json.loads(out)["run_id"]
        d.write_conf(open(d.conf).read().split("databases = (")[0] +
                     "databases = (\n);\n")
        rc, out, err = d.ctl("reload")
        R.eq(rc, 0, "reload without the database of a running job")
        R.ok(wait_for(lambda: runs(pg, db, "run_id = %d" % rid)[0][3] ==
                      "cancelled", 10) and "removed" in
             runs(pg, db, "run_id = %d" % rid)[0][6],
             "its run is cancelled and recorded", runs(pg, db))
        rc, out, err = d.ctl("--json", "status")
        R.ok(rc == 0 and json.loads(out)["databases"] == [],
             "the daemon serves on without it")
        R.eq(d.stop(), 0, "and exits 0")

R.summary()
