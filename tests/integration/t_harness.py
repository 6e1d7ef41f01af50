#!/usr/bin/env python3
"""Integration test for tests/integration/pgharness.py (and demo/schema.sql).

Standalone: prints `ok - ...` / `not ok - ...` per check, `# ...` diagnostics,
and finally `N passed, M failed`; exits 0 iff nothing failed.
Needs the PostgreSQL 15 server packages; a missing server is a failure, not a skip.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCHEMA = os.path.join(REPO, "demo", "schema.sql")
sys.path.insert(0, HERE)

import pgharness  # noqa: E402
from pgharness import Cluster, PsqlError  # noqa: E402

passed = 0
failed = 0
created_bases = set()     # every base dir this test made, for the final leak check


def report(ok, msg, detail=None):
    global passed, failed
    if ok:
        passed += 1
        print("ok - %s" % msg)
    else:
        failed += 1
        print("not ok - %s" % msg)
        if detail:
            for line in str(detail).rstrip().splitlines():
                print("#   %s" % line)
    sys.stdout.flush()


def check(msg, fn):
    """Run fn(); it returns True/False or (bool, detail); exceptions count as failure."""
    try:
        r = fn()
        if isinstance(r, tuple):
            report(bool(r[0]), msg, r[1] if not r[0] else None)
        else:
            report(bool(r), msg)
    except Exception:
        report(False, msg, traceback.format_exc())


def diag(msg):
    print("# %s" % msg)
    sys.stdout.flush()


def proc_gone(pid):
    """True if pid no longer exists (a zombie awaiting its parent counts as gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1] == "Z"
    except FileNotFoundError:
        return True
    return False


def proc_uids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError("no Uid line for pid %d" % pid)


def postmaster_pid(datadir):
    with open(os.path.join(datadir, "postmaster.pid")) as f:
        return int(f.readline())


def servers_under(bases):
    """PIDs of live postgres processes whose command line mentions one of `bases`."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "postgres" in cmd and any(b in cmd for b in bases) and not proc_gone(int(d)):
            found.append((int(d), cmd.strip()))
    return found


def new_cluster(**kw):
    c = Cluster(**kw)
    t0 = time.monotonic()
    c.start()
    created_bases.add(c.base)
    c.t_start = time.monotonic() - t0
    return c


def timed_stop(c):
    t0 = time.monotonic()
    c.stop()
    return time.monotonic() - t0


# ------------------------------------------------------------------ checks

def test_basic(c):
    def version():
        v = c.psql("SELECT version()")
        return v and v[0][0].startswith("PostgreSQL 15"), "version() = %r" % v
    check("SELECT version() reports PostgreSQL 15", version)

    def preload():
        v = c.psql("SHOW shared_preload_libraries")[0][0]
        return "pg_stat_statements" in [x.strip() for x in v.split(",")], "shared_preload_libraries = %r" % v
    check("shared_preload_libraries includes pg_stat_statements", preload)

    def pgss():
        db = c.createdb()
        c.psql("CREATE EXTENSION pg_stat_statements", db=db)
        c.psql("SELECT 42 AS answer", db=db)
        n = c.psql("SELECT count(*) FROM pg_stat_statements", db=db)
        trk = c.psql("SHOW pg_stat_statements.track", db=db)[0][0]
        return (len(n) == 1 and n[0][0].isdigit() and int(n[0][0]) > 0 and trk == "all",
                "count=%r track=%r" % (n, trk))
    check("CREATE EXTENSION pg_stat_statements; SELECT count(*) FROM pg_stat_statements works", pgss)

    def nonroot():
        pid = postmaster_pid(c.datadir)
        uids = proc_uids(pid)
        want = pgharness.server_user()[1]
        return (all(u != 0 for u in uids) and uids[0] == want,
                "postmaster %d uids %r, expected %d" % (pid, uids, want))
    check("postmaster runs as a non-root uid (%s)" % pgharness.server_user()[0], nonroot)

    def settings():
        got = dict(c.psql("SELECT name, setting FROM pg_settings WHERE name IN "
                          "('listen_addresses','port','unix_socket_directories','fsync',"
                          "'synchronous_commit','full_page_writes','max_connections','log_min_messages')"))
        want = {"listen_addresses": "", "port": str(c.port), "unix_socket_directories": c.base,
                "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                "max_connections": "200", "log_min_messages": "warning"}
        sock = os.path.join(c.host, ".s.PGSQL.%d" % c.port)
        return got == want and os.path.exists(sock), "got %r want %r socket %s" % (got, want, sock)
    check("socket-only config: listen_addresses='', socket in temp dir, fsync etc. off", settings)

    def conninfo():
        ci = c.conninfo("foo")
        exp = "host=%s port=%d dbname=foo user=postgres" % (c.host, c.port)
        out = subprocess.run(["psql", "-X", "-A", "-t", "-c", "SELECT current_user", "dbname=postgres " + ci.replace("dbname=foo", "")],
                             capture_output=True, text=True, env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
        return (ci == exp and c.user == "postgres" and out.stdout.strip() == "postgres",
                "conninfo=%r psql=%r %r" % (ci, out.stdout, out.stderr))
    check("conninfo() gives a usable libpq keyword string", conninfo)

    def createdb():
        a, b = c.createdb(), c.createdb()
        named = c.createdb("explicit_name")
        dbs = {r[0] for r in c.psql("SELECT datname FROM pg_database")}
        user_rel = ("SELECT count(*) FROM pg_class WHERE relnamespace NOT IN "
                    "(SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog','information_schema','pg_toast'))")
        empty_a = c.psql(user_rel, db=a)[0][0]
        c.psql("CREATE TABLE only_in_a (x int)", db=a)
        empty_b = c.psql(user_rel, db=b)[0][0]
        ext_b = c.psql("SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql'", db=b)[0][0]
        return (a != b and named == "explicit_name" and {a, b, named} <= dbs
                and empty_a == "0" and empty_b == "0" and ext_b == "0",
                "a=%s b=%s dbs=%r empty_a=%s empty_b=%s ext_b=%s" % (a, b, dbs, empty_a, empty_b, ext_b))
    check("createdb() gives distinct, fresh, empty databases", createdb)

    def parsing():
        rows = c.psql("CREATE TEMP TABLE p (a int, b text);\n"
                      "INSERT INTO p VALUES (1, 'x|y'), (2, NULL), (3, E'two\\nlines\\n'), (4, '');\n"
                      "SELECT a, b FROM p ORDER BY a;\n"
                      "SELECT 'second result';\n"
                      "SELECT 1 WHERE false;")
        want = [["1", "x|y"], ["2", ""], ["3", "two\nlines\n"], ["4", ""], ["second result"]]
        return rows == want and c.psql("SELECT 1 WHERE false") == [], "rows=%r" % rows
    check("psql() returns rows as lists of str (| and newlines in values, several statements)", parsing)

    def errors():
        try:
            c.psql("SELECT 1; SELECT no_such_column; SELECT 2")
            return False, "no PsqlError raised"
        except PsqlError as e:
            ok1 = "no_such_column" in e.stderr and e.returncode != 0
        rows = c.psql("SELECT 'before'; SELECT 1/0; SELECT 'after'", check=False)
        return ok1 and rows == [["before"]], "check=False rows=%r" % rows
    check("psql() raises PsqlError on SQL errors (ON_ERROR_STOP=1); check=False does not", errors)

    def psql_file():
        fd, path = tempfile.mkstemp(suffix=".sql")
        with os.fdopen(fd, "w") as f:
            f.write("CREATE TABLE pf (x int);\nINSERT INTO pf SELECT generate_series(1, 5);\nSELECT sum(x) FROM pf;\n")
        try:
            db = c.createdb()
            return c.psql_file(path, db) == [["15"]]
        finally:
            os.unlink(path)
    check("psql_file() runs a file", psql_file)

    def restart():
        db = c.createdb()
        c.psql("CREATE TABLE survives (x int); INSERT INTO survives VALUES (7)", db=db)
        old_pid, old_port = c.pid, c.port
        c.restart()
        new_pid = c.pid
        rows = c.psql("SELECT x FROM survives", db=db)
        return (rows == [["7"]] and c.port == old_port and new_pid != old_pid and proc_gone(old_pid),
                "rows=%r port %s->%s pid %s->%s" % (rows, old_port, c.port, old_pid, new_pid))
    check("restart() keeps data and port, new postmaster", restart)


def test_two_clusters():
    a = new_cluster()
    b = new_cluster()
    try:
        pid_a, pid_b = a.pid, b.pid
        base_a = a.base
        check("two clusters get distinct ports, dirs and postmasters",
              lambda: (a.port != b.port and a.base != b.base and pid_a != pid_b,
                       "a=%r b=%r" % (a, b)))
        t_stop = timed_stop(a)
        diag("stop (fast) took %.3fs" % t_stop)
        check("after a.stop(): a's postmaster is gone",
              lambda: (proc_gone(pid_a), "pid %d still present" % pid_a))
        check("after a.stop(): b still answers and its postmaster is unchanged",
              lambda: (b.psql("SELECT 1") == [["1"]] and b.pid == pid_b and not proc_gone(pid_b),
                       "b.pid=%r" % b.pid))
        check("after a.stop(): a's temp dir is removed",
              lambda: (not os.path.exists(base_a), "%s still exists" % base_a))

        def idempotent():
            a.stop()
            a.stop()
            return b.psql("SELECT 2") == [["2"]]
        check("stop() is idempotent and never touches other clusters", idempotent)
    finally:
        a.stop()
        b.stop()
    check("context manager starts and stops", context_manager)
    check("start() after stop() gives a new working cluster", start_again)


def start_again():
    c = Cluster()
    try:
        c.start()
        created_bases.add(c.base)
        base1 = c.base
        c.psql("SELECT 1")
        c.stop()
        c.start()
        created_bases.add(c.base)
        ok = c.psql("SELECT 'again'") == [["again"]] and not os.path.exists(base1) and c.base != base1
        return ok, "base1=%s base2=%s" % (base1, c.base)
    finally:
        c.stop()


def context_manager():
    with Cluster() as c:
        created_bases.add(c.base)
        base, pid = c.base, c.pid
        ok = c.psql("SELECT 'cm'") == [["cm"]]
    return ok and proc_gone(pid) and not os.path.exists(base), "base=%s pid=%s" % (base, pid)


def test_tcp():
    c = new_cluster(tcp=True)
    try:
        def tcp():
            la = c.psql("SHOW listen_addresses")[0][0]
            out = subprocess.run(["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(c.port),
                                  "-U", "postgres", "-d", "postgres", "-c", "SELECT inet_server_addr()"],
                                 capture_output=True, text=True, timeout=30)
            return (la == "127.0.0.1" and out.stdout.strip() == "127.0.0.1"
                    and c.tcp_conninfo() == "host=127.0.0.1 port=%d dbname=postgres user=postgres" % c.port,
                    "listen=%r out=%r err=%r" % (la, out.stdout, out.stderr))
        check("Cluster(tcp=True) also listens on 127.0.0.1:<port>", tcp)
    finally:
        c.stop()


def test_keep_env():
    c = new_cluster()
    pid = c.pid
    os.environ["PGMIG_KEEP_TEST_DIRS"] = "1"
    try:
        c.stop()
    finally:
        del os.environ["PGMIG_KEEP_TEST_DIRS"]
    try:
        check("PGMIG_KEEP_TEST_DIRS=1 keeps the temp dir (server still stopped)",
              lambda: (os.path.isdir(c.datadir) and os.path.exists(c.logfile) and proc_gone(pid),
                       "base=%s" % c.base))
    finally:
        shutil.rmtree(c.base, ignore_errors=True)


CHILD = r"""
import os, sys, time
sys.path.insert(0, %(here)r)
import pgharness
c = pgharness.Cluster().start()
print(c.pid, c.base, flush=True)
if sys.argv[1] == "exit":
    sys.exit(0)          # no stop(): atexit must clean up
time.sleep(120)          # wait for SIGTERM
"""


def test_abort_cleanup():
    for how in ("exit", "sigterm"):
        def run(how=how):
            p = subprocess.Popen([sys.executable, "-c", CHILD % {"here": HERE}, how],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = p.stdout.readline().split()
            if len(line) != 2:
                p.kill()
                return False, "child said %r, stderr %r" % (line, p.stderr.read())
            pid, base = int(line[0]), line[1]
            created_bases.add(base)
            if how == "sigterm":
                p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=60)
            deadline = time.monotonic() + 10
            while not proc_gone(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            want_rc = 0 if how == "exit" else -signal.SIGTERM
            return (proc_gone(pid) and not os.path.exists(base) and rc == want_rc,
                    "rc=%s pid gone=%s base exists=%s" % (rc, proc_gone(pid), os.path.exists(base)))
        check("a test process that %s without stop() leaves no server/temp dir behind"
              % ("exits" if how == "exit" else "gets SIGTERM"), run)


def test_cli():
    base = tempfile.mkdtemp(prefix="pgmig-cli-")
    shutil.rmtree(base)                    # `start` must create a missing DIR
    created_bases.add(base)
    cli = [sys.executable, os.path.join(HERE, "pgharness.py")]
    try:
        def cli_roundtrip():
            # as subreaper, the CLI's orphaned postmaster becomes our child, so we can
            # reap it after `stop` instead of leaving a zombie for init
            with pgharness._Subreaper():
                out = subprocess.run(cli + ["start", base], capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                return False, "start failed: %s" % out.stderr
            script = out.stdout + '\nprintf "%s\\n" "$PGHOST" "$PGPORT" "$PGUSER"\n' \
                'psql -X -A -t -v ON_ERROR_STOP=1 -d postgres -c "SELECT current_user"\n'
            sh = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60,
                                env={k: v for k, v in os.environ.items() if not k.startswith("PG")})
            vals = sh.stdout.split()
            if sh.returncode != 0 or len(vals) != 4 or vals[0] != base or vals[2] != "postgres" \
                    or vals[3] != "postgres":
                return False, "eval output failed: %r %r %r" % (out.stdout, sh.stdout, sh.stderr)
            port = int(vals[1])
            mk = subprocess.run(cli + ["createdb", base, "cli_db"], capture_output=True, text=True, timeout=60)
            c = Cluster.attach(base)
            dbs = [r[0] for r in c.psql("SELECT datname FROM pg_database WHERE datname = 'cli_db'")]
            pid = c.pid
            st = subprocess.run(cli + ["stop", base], capture_output=True, text=True, timeout=120)
            pgharness._reap(pid, timeout=10)
            return (mk.returncode == 0 and dbs == ["cli_db"] and c.port == port and st.returncode == 0
                    and proc_gone(pid) and os.path.isdir(os.path.join(base, "data")),
                    "createdb rc=%s %r dbs=%r stop rc=%s %r pid gone=%s"
                    % (mk.returncode, mk.stderr, dbs, st.returncode, st.stderr, proc_gone(pid)))
        check("CLI: start DIR (eval-able PGHOST/PGPORT/PGUSER), createdb DIR NAME, stop DIR (DIR kept)",
              cli_roundtrip)
    finally:
        subprocess.run(cli + ["stop", base], capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def test_schema(c):
    def load():
        db = c.createdb()
        t0 = time.monotonic()
        c.psql_file(SCHEMA, db)
        dt = time.monotonic() - t0
        diag("demo/schema.sql loaded in %.2fs" % dt)
        counts = c.psql("SELECT (SELECT count(*) FROM artists), (SELECT count(*) FROM albums), "
                        "(SELECT count(*) FROM tracks), (SELECT count(*) FROM playlists), "
                        "(SELECT count(*) FROM playlist_tracks), (SELECT count(*) FROM user_interactions), "
                        "(SELECT count(*) FROM mv_track_popularity)", db=db)
        c.psql("REFRESH MATERIALIZED VIEW CONCURRENTLY mv_track_popularity", db=db)
        unindexed = c.psql(
            "SELECT c.conrelid::regclass || '.' || a.attname FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "WHERE c.contype = 'f' AND NOT EXISTS (SELECT 1 FROM pg_index i "
            "WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])", db=db)
        c.psql_file(SCHEMA, db)            # idempotent reload
        want = [["200", "1000", "10000", "500", "20000", "50000", "10000"]]
        return (counts == want and unindexed == [["user_interactions.track_id"]] and dt < 10,
                "counts=%r unindexed=%r load=%.2fs" % (counts, unindexed, dt))
    check("demo/schema.sql loads (row counts, REFRESH ... CONCURRENTLY, one unindexed FK, reloadable)", load)


def main():
    diag("PostgreSQL bin dir %s, version %s, server user %s"
         % (pgharness.find_bindir(), pgharness.pg_version(), pgharness.server_user()[0]))
    t0 = time.monotonic()
    c = None
    try:
        c = new_cluster()
        diag("first start() took %.3fs (timings %s)"
             % (c.t_start, {k: round(v, 3) for k, v in c.timings.items()}))
        cache = pgharness._cache_dir(os.geteuid())
        check("initdb template cached in %s" % cache,
              lambda: os.path.isfile(os.path.join(cache, "template", "PG_VERSION")))
        test_basic(c)
        test_schema(c)
    finally:
        if c is not None:
            base = c.base
            diag("stop() took %.3fs" % timed_stop(c))
            check("stop() removes the temp dir", lambda: not os.path.exists(base))
    test_two_clusters()
    test_tcp()
    test_keep_env()
    test_abort_cleanup()
    test_cli()

    leaks = servers_under(created_bases)
    check("no postgres process left running from this test",
          lambda: (not leaks, "\n".join("%d %s" % l for l in leaks)))
    diag("total %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    try:
        rc = main()
    except Exception:
        traceback.print_exc()
        print("not ok - test harness crashed")
        print("%d passed, %d failed" % (passed, failed + 1))
        rc = 1
    sys.exit(rc)
