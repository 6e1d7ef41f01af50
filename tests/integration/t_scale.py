#!/usr/bin/env python3
"""Many databases: one pgmigd serves 50 databases of one cluster, each
with its own pool and jobs.  Pools connect lazily and keep one idle
connection, so 50 databases do not hold 200 connections; jitter spreads
@daily jobs instead of firing all at once; -d selects the database in
every command; a job runs on the database it belongs to."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgharness import Cluster
from pgmigtest import Daemon, Results, wait_for

R = Results("t_scale")
N = 50

with Cluster() as pg:
    names = []
    for i in range(N):
        names.append(pg.createdb("scale_%02d" % i))
    dbs = ",\n".join(
        '{ name = "db%02d"; conninfo = "%s"; pool_size = 4; jobs = ( '
        '{ name = "nightly"; type = "analyze"; schedule = "@daily"; '
        'jitter = "2h"; }, { name = "mark"; type = "sql"; schedule = '
        '"@yearly"; sql = "CREATE TABLE IF NOT EXISTS marker (x int)"; } ); }'
        % (i, pg.conninfo(names[i])) for i in range(N))
    with Daemon(databases=dbs) as d:
        st = wait_for(lambda: (lambda s: s if s and all(
            x["reachable"] is True for x in s["databases"]) else None)(
            json.loads(d.ctl("--json", "status")[1] or "{}")), 30)
        R.ok(st and len(st["databases"]) == N, "status lists %d reachable "
             "databases" % N)
        held = int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE "
                           "application_name = 'pgmigd'")[0][0])
        R.ok(held <= N, "%d databases hold %d connections (not %d)" %
             (N, held, 4 * N))
        rc, out, err = d.ctl("--json", "jobs")
        nxt = [j["next_run"] for j in json.loads(out)["jobs"]
               if j["name"] == "nightly"]
        R.ok(len(nxt) == N and len(set(nxt)) >= N * 0.8,
             "jitter spreads the @daily jobs: %d distinct start times for %d "
             "databases" % (len(set(nxt)), N))
        ok = True
        for i in (0, 17, 49):
            name = "db%02d" % i
            for cmd in (["status"], ["test-connection"], ["jobs"], ["pool"],
                        ["table-stats"], ["health-check"]):
                rc, out, err = d.ctl("--json", "-d", name, *cmd)
                if rc not in (0, 1):
                    ok = False
                    print("# %s %s: %d %s" % (name, cmd, rc, err))
        R.ok(ok, "-d selects the database in every command")
        rc, out, err = d.ctl("--json", "-d", "db17", "jobs")
        R.ok({j["database"] for j in json.loads(out)["jobs"]} == {"db17"},
             "jobs -d shows that database's jobs only")
        rc, out, err = d.ctl("run", "mark")
        R.ok(rc == 2 and "-d" in err, "without -d, a command that needs one "
             "database says so", err)
        rc, out, err = d.ctl("-d", "db17", "run", "mark")
        R.eq(rc, 0, "run -d db17 mark")
        where = [n for n in names if pg.psql(
            "SELECT to_regclass('marker') IS NOT NULL", db=n)[0][0] == "t"]
        R.eq(where, [names[17]], "the job ran on db17 only")
        rc, out, err = d.ctl("-d", "db99", "status")
        R.eq(rc, 1, "an unknown -d is an error")

R.summary()
