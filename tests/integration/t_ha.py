#!/usr/bin/env python3
"""HA failover, proven on loopback: a primary and a streaming standby
(pg_basebackup -R, second port), one pgmigd on each.  Before the
failover only the primary's daemon runs jobs; then the old primary is
fenced (stopped) and the standby promoted, and the promoted node's daemon
takes over without a restart.  No schedule slot runs twice, none is lost
beyond the catch_up policy, checked from job_runs; status shows each
daemon's view.  PostgreSQL is the coordinator: pg_is_in_recovery() and
advisory locks, no consensus code of ours."""

import calendar
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgharness import Cluster
from pgmigtest import Daemon, Results, wait_for

R = Results("t_ha")


def conf(node, db):
    return ('{ name = "music"; conninfo = "%s"; jobs = ( { name = "tick"; '
            'type = "sql"; schedule = "*/1 * * * * *"; catch_up = "once"; '
            'sql = "SELECT 1"; } ); }' % node.conninfo(db))


def epoch(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def status(d):
    rc, out, err = d.ctl("--json", "status")
    return json.loads(out)["databases"][0] if rc == 0 else {}


# every commit must survive the fencing: synchronous_commit on
with Cluster(extra_conf={"synchronous_commit": "on"}) as primary:
    db = primary.createdb()
    standby = primary.make_standby()
    dp = Daemon(databases=conf(primary, db)).start()
    ds = Daemon(databases=conf(standby, db)).start()
    try:
        time.sleep(4)
        sp, ss = status(dp), status(ds)
        R.ok(sp.get("in_recovery") is False and ss.get("in_recovery") is True,
             "status: the primary's daemon sees a primary, the standby's a "
             "standby", (sp, ss))
        rows = primary.psql("SELECT pid, trigger, details->>'slot' FROM "
                            "pgmig.job_runs WHERE status <> 'skipped' ORDER BY 3",
                            db=db)
        R.ok(len(rows) >= 3 and {r[0] for r in rows} == {str(dp.proc.pid)},
             "before the failover only the primary's daemon runs jobs "
             "(%d runs)" % len(rows), rows)
        R.ok("skipped on music: database is a standby" in ds.logtext() or
             "is a standby" in ds.logtext(), "the standby's daemon skips them")

        # fence the old primary, promote the standby
        t_fence = time.time()
        primary.halt("fast")
        standby.promote()
        t_promoted = time.time()
        R.ok(wait_for(lambda: status(ds).get("in_recovery") is False, 10),
             "after promotion the standby's daemon sees a primary, without a "
             "restart", status(ds))
        time.sleep(4)
        R.ok(dp.answers(), "the fenced primary's daemon keeps serving")
        R.ok(status(dp).get("reachable") is False, "... and reports its "
             "database unreachable", status(dp))
        rows = standby.psql("SELECT pid, trigger, details->>'slot', status "
                            "FROM pgmig.job_runs WHERE status <> 'skipped' "
                            "ORDER BY 3", db=db)
        after = [r for r in rows if r[0] == str(ds.proc.pid)]
        R.ok(len(after) >= 3, "the promoted node's daemon runs the job "
             "(%d runs)" % len(after), rows[-6:])
        slots = [r[2] for r in rows]
        R.ok(len(slots) == len(set(slots)), "no slot ran twice")
        # slots lost: between the last run on the old primary and the first
        # on the new one, beyond what catch_up = once brings back
        ep = sorted(epoch(s) for s in slots)
        gaps = [b - a for a, b in zip(ep, ep[1:]) if b - a > 1]
        window = t_promoted - t_fence + 3
        R.ok(all(g <= window for g in gaps),
             "no slot lost beyond the failover window of %.1f s (gaps %s)" %
             (window, gaps))
        startup = [r for r in rows if r[1] == "startup"]
        R.ok(len(startup) <= 1, "catch_up = once ran at most one missed slot "
             "(%d)" % len(startup), startup)
        R.ok(all(r[3] == "succeeded" for r in after), "every run on the new "
             "primary succeeded", after)
    finally:
        dp.cleanup()
        ds.cleanup()
        standby.stop()

R.summary()
