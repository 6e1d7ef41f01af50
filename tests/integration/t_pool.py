#!/usr/bin/env python3
"""The connection pool against a real PostgreSQL 15: status shows
reachable/in_recovery/server_version/pool per database, test-connection
exits 0 or 3, sessions carry application_name=pgmigd, the pool stays
within pool_size, and a server restart (pg_ctl stop -m immediate) is
survived: pgmigd keeps answering, reports the database unreachable, and
reconnects by itself."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgharness import Cluster
from pgmigtest import Daemon, Results, wait_for

R = Results("t_pool")


def status(d, db=None):
    args = ["--json"] + (["-d", db] if db else []) + ["status"]
    rc, out, err = d.ctl(*args)
    return json.loads(out) if rc == 0 else {"rc": rc, "err": err}


with Cluster() as pg:
    dbname = pg.createdb()
    dbs = ('{ name = "music"; conninfo = "%s"; pool_size = 2; },\n'
           '{ name = "dead"; conninfo = "host=/nonexistent port=1 dbname=x '
           'connect_timeout=2"; }' % pg.conninfo(dbname))
    with Daemon(databases=dbs) as d:
        st = wait_for(lambda: (lambda s: s if all(
            x["reachable"] is not None for x in s.get("databases", []))
            else None)(status(d)), 10) or status(d)
        m = {x["name"]: x for x in st["databases"]}
        R.ok(m["music"]["reachable"] is True and
             m["music"]["in_recovery"] is False and
             m["music"]["server_version"].startswith("15"),
             "status: music is reachable, a primary, PostgreSQL 15", m["music"])
        R.ok(set(m["music"]["pool"]) >= {"size", "in_use", "idle"} and
             m["music"]["pool"]["size"] == 2, "status: pool size/in_use/idle")
        R.ok(m["dead"]["reachable"] is False and m["dead"]["last_error"],
             "status: an unreachable database says so, with the error",
             m["dead"])

        rc, out, err = d.ctl("-d", "music", "--json", "test-connection")
        tc = json.loads(out) if rc == 0 else {}
        R.ok(rc == 0 and tc["databases"][0]["server_version"].startswith("15")
             and tc["databases"][0]["user"] == "postgres" and
             tc["databases"][0]["database"] == dbname,
             "test-connection -d music: server version, user, database", out + err)
        rc, out, err = d.ctl("-d", "dead", "test-connection")
        R.ok(rc == 3 and "dead:" in err, "test-connection to a dead database "
             "exits 3 quickly", err)
        rc, out, err = d.ctl("test-connection")
        R.eq(rc, 3, "test-connection of all, one dead: exit 3")

        rows = pg.psql("SELECT count(*), min(application_name) FROM "
                       "pg_stat_activity WHERE datname = '%s' AND pid <> "
                       "pg_backend_pid()" % dbname)
        R.ok(rows[0][1] == "pgmigd" and 1 <= int(rows[0][0]) <= 3,
             "sessions carry application_name=pgmigd (%s open)" % rows[0][0])

        for _ in range(20):
            d.ctl("-d", "music", "test-connection")
        n = int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname"
                        " = '%s' AND application_name = 'pgmigd'" % dbname)[0][0])
        R.ok(n <= 3, "20 round trips later, at most pool_size + 1 sessions "
             "(%d)" % n)
        rc, out, err = d.ctl("--json", "pool")
        pools = {x["database"]: x for x in json.loads(out)["pools"]}
        R.ok(pools["music"]["created"] >= 1 and pools["music"]["queries"] >= 21
             and pools["music"]["last_health_check_ok"] is True and
             pools["dead"]["failed"] >= 1,
             "pool statistics: created, queries, failed, last health check",
             pools)

        # the server dies under us: pgmigd stays up and says so
        pg.halt("immediate")
        R.ok(d.answers(), "the daemon answers while the server is down")
        st = wait_for(lambda: (lambda s: s if s["databases"][0]["reachable"]
                               is False else None)(status(d, "music")), 35)
        R.ok(st and st["databases"][0]["reachable"] is False,
             "status shows the database unreachable", st)
        rc, out, err = d.ctl("-d", "music", "test-connection")
        R.eq(rc, 3, "test-connection while down: exit 3")
        pg.resume()
        st = wait_for(lambda: (lambda s: s if s["databases"][0]["reachable"]
                               is True else None)(status(d, "music")), 40)
        R.ok(st, "after the restart the pool reconnects by itself", st)
        rc, out, err = d.ctl("-d", "music", "test-connection")
        R.eq(rc, 0, "test-connection after the restart: exit 0")
        R.ok(d.proc.poll() is None, "pgmigd never exited")
        rc = d.stop()
        R.eq(rc, 0, "SIGTERM exits 0")

R.summary()
