#!/usr/bin/env python3
"""bench/jobs_bench.py: benchmarks of pgmigd's scheduler, control loop,
refresh and footprint against a real PostgreSQL 15, each next to a
baseline measured in the same run.  Prints markdown tables (stdout);
progress goes to stderr.  bench/RESULTS-jobs.md explains the figures.

  bench/jobs_bench.py [--only NAME[,NAME...]] [--quick] [--runs N]
                      [--window S] [--idle-seconds S] [--pings N]
                      [--no-overlap] [--wait-quiet S]

NAME is one of lateness, load, refresh, footprint (default: all four).

  1. lateness: a per-second sql job (`*/1 * * * * *`, `SELECT 1`) for
     --runs scheduled runs; lateness = job_runs.started_at - the slot
     (details->>'slot'), both on the server's clock.  Baseline: the loop
     users run today, a Python script that time.sleep()s to the next whole
     second and runs `psql -c "INSERT INTO lateness_baseline VALUES
     (now(), <slot>)"`, measured the same way.  The first run of each is a
     warm-up (first connection, state table) and is left out.
  2. load: round trips of {"id":N,"cmd":"ping"} on a control connection
     (bench/jobs_ping.c, --pings requests paced 500 us apart, in 10
     rounds) against an idle pgmigd, then while two VACUUM FULL
     (`pgmigctl vacuum tN --full`, restarted back to back on two 1.5M-row
     tables) run.  Control: the same client against bench/jobs_echo.c, a
     blocking one-connection answerer, in the same two states (what the
     kernel and the scheduler cost without any daemon), its rounds
     alternating with pgmigd's; and, as a diagnostic, both again with the
     server and the client under SCHED_FIFO for those rounds (neither
     then waits for a CPU behind the VACUUM backends: what is left is the
     server's own work).  With each server's CPU time and run-queue wait
     per request (/proc/PID/schedstat).
  3. refresh: bench/jobs_reader.c runs `SELECT * FROM mv WHERE g = $1`
     (libpq, prepared) on a 10k-row materialized view over a 1M-row table
     (unique index on g) for --window seconds twice: a closed loop (one
     connection, back to back) and an open loop (500 queries/s due on a
     fixed schedule over up to 100 connections, latency counted from the
     moment a query was due); with no refresh (baseline, measured first
     and again last), during `pgmigctl refresh mv` repeated back to back
     (CONCURRENTLY), and during `pgmigctl refresh mv --no-concurrently`
     repeated back to back.
  4. footprint: pgmigd with pool_size = 4 and four connections opened
     (four concurrent `pgmigctl run` of pg_sleep jobs and four
     `pgmigctl test-connection`), then --idle-seconds idle: RSS, PSS,
     Pss_Anon (/proc/PID/smaps_rollup), wakeups/s (voluntary +
     nonvoluntary context switches of all threads over the window),
     connections held (pg_stat_activity, application_name = 'pgmigd').
     Baseline: the same binary with no database configured.  By default
     the pool is opened between the two lateness phases and the idle
     window runs during the lateness baseline (both idle daemons sleep;
     only three psql samples disturb the baseline loop); --no-overlap
     runs it alone.

Environment: PGMIG_BUILDDIR (default: this checkout) holds pgmigd and
pgmigctl, which are copied to a temp dir first (the tree may be rebuilt
meanwhile); CC (default cc) builds the helpers there.  Every phase
reports how busy the machine's CPUs were (any process), since the
figures are only as quiet as the machine.  Starts its
own PostgreSQL 15 cluster with tests/integration/pgharness.py.
"""

import argparse
import json
import math
import os
import shutil
import signal
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
from pgmigtest import Daemon, PGMIGCTL, PGMIGD  # noqa: E402

CC = os.environ.get("CC") or "cc"
ALL = ("lateness", "load", "refresh", "footprint")

# targets
TARGET_LATENESS_P99_MS = 10.0
TARGET_LOAD_RATIO = 1.5
OPEN_INTERVAL_US = 2000         # open-loop reader: 500 queries/s due
OPEN_CONNS = 100                # open-loop reader: connections
PING_INTERVAL_US = 500          # jobs_ping: requests 500 us apart
PING_ROUNDS = 10                # pgmigd/echo alternate in 10 rounds

BASELINE_LOOP = r'''
import math, subprocess, sys, time
psql, host, port, user, db, n = sys.argv[1:7]
for _ in range(int(n)):
    slot = math.floor(time.time()) + 1
    time.sleep(max(0.0, slot - time.time()))
    subprocess.run([psql, "-X", "-q", "-h", host, "-p", port, "-U", user,
                    "-d", db, "-c",
                    "INSERT INTO lateness_baseline VALUES (now(), "
                    "to_timestamp(%d))" % slot], check=True)
'''


log = benchlib.log
pct = benchlib.pct


def summary(vals):
    v = sorted(vals)
    return {"n": len(v), "p50": pct(v, 50), "p99": pct(v, 99),
            "max": v[-1] if v else float("nan"),
            "mean": sum(v) / len(v) if v else float("nan")}


class CpuBusy:
    """Share of all CPUs busy (any process, ours or not) between start and
    stop, from /proc/stat: the benchmark runs on a shared machine, and
    foreign load shows here."""

    @staticmethod
    def _read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)       # idle + iowait
        return sum(v[:8]), idle

    def __init__(self):
        self.t0, self.i0 = self._read()
        self.value = None

    def stop(self):
        t1, i1 = self._read()
        dt = t1 - self.t0
        self.value = 100.0 * (dt - (i1 - self.i0)) / dt if dt > 0 else 0.0
        return self.value


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine():
    model = benchlib.cpu_model()
    return "%s, %d CPUs, Linux %s, PostgreSQL %s" % (
        model, os.cpu_count(), os.uname().release, pg_version())


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PG") or k.startswith("PGMIG_")}
    env["LC_ALL"] = "C"
    return env


def build(tmp):
    pq_inc = subprocess.run(["pg_config", "--includedir"], capture_output=True,
                            text=True).stdout.strip() or "/usr/include/postgresql"
    tools = {}
    for name, extra in (("jobs_ping", []), ("jobs_echo", []),
                        ("jobs_reader", ["-I" + pq_inc, "-lpq"])):
        out = os.path.join(tmp, name)
        src = os.path.join(BENCH, name + ".c")
        cmd = [CC, "-O2", "-Wall", "-Wextra", "-o", out, src] + extra
        log("$ " + " ".join(cmd))
        subprocess.run(cmd, check=True)
        tools[name] = out
    return tools


def snapshot_binaries(tmp):
    """Copy pgmigd and pgmigctl to tmp and use the copies (benchlib)."""
    global PGMIGD, PGMIGCTL
    desc = benchlib.snapshot_binaries(tmp, REPO, PGMIGD, PGMIGCTL)
    PGMIGD, PGMIGCTL = pgmigtest.PGMIGD, pgmigtest.PGMIGCTL
    return desc


def ctl(d, *args, timeout=600):
    p = subprocess.run([PGMIGCTL, "-s", d.sock] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def sleep_until(t):
    while True:
        dt = t - time.time()
        if dt <= 0:
            return
        time.sleep(dt)


def wait_for(pred, timeout, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def quiesce(pg, db, rels):
    """No autovacuum on the benchmark's relations, and nothing left for it:
    a load leaves dead tuples and dirty buffers that would otherwise be
    worked off during the first measured window."""
    sql = "".join("ALTER %s %s SET (autovacuum_enabled = off); " % (
        "MATERIALIZED VIEW" if r == "mv" else "TABLE", r) for r in rels)
    pg.psql(sql, db=db)
    for r in rels:
        pg.psql("VACUUM (ANALYZE) %s" % r, db=db)
    pg.psql("CHECKPOINT", db=db)
    time.sleep(2)


# --------------------------------------------------------------- 1. lateness

def bench_lateness(pg, opts, before_baseline=None, during_baseline=None):
    n = opts.runs
    db = pg.createdb("lateness")
    conf = ('{ name = "lateness"; conninfo = "%s"; jobs = ( { name = "tick"; '
            'type = "sql"; schedule = "*/1 * * * * *"; sql = "SELECT 1"; } ); }'
            % pg.conninfo(db))
    log("lateness: pgmigd, per-second job, %d runs (+1 warm-up)" % n)
    cpu_d = CpuBusy()
    load_d = loadavg()
    with Daemon(databases=conf) as d:
        # no polling while it runs (a psql every few seconds would be
        # noise on a 2-CPU machine): sleep for the expected time, to the
        # middle of a second, then count
        t_end = math.floor(time.time()) + n + 2.5
        give_up = time.time() + 2 * n + 60
        while True:
            sleep_until(t_end)
            got = int(pg.psql("SELECT count(*) FROM pgmig.job_runs WHERE "
                              "job = 'tick' AND status <> 'running'",
                              db=db)[0][0])
            if got >= n + 1 or time.time() > give_up:
                break
            t_end = math.floor(time.time()) + (n + 1 - got) + 0.5
        alive = d.proc.poll() is None
    cpu_d.stop()
    rows = pg.psql(
        "SELECT run_id, status, trigger, details->>'slot', "
        " 1000 * extract(epoch FROM started_at - "
        "  (details->>'slot')::timestamptz), "
        " extract(epoch FROM (details->>'slot')::timestamptz)::bigint "
        "FROM pgmig.job_runs WHERE job = 'tick' ORDER BY run_id", db=db)
    statuses = {}
    for r in rows:
        statuses[r[1]] = statuses.get(r[1], 0) + 1
    ok = [r for r in rows if r[1] == "succeeded" and r[2] == "schedule"]
    slots = sorted(int(r[5]) for r in rows if r[5])
    missing = 0
    dup = 0
    for a, b in zip(slots, slots[1:]):
        if b - a > 1:
            missing += b - a - 1
        elif b == a:
            dup += 1
    lat_d = [float(r[4]) for r in ok[1:n + 1]]
    pgmigd_res = {"sum": summary(lat_d), "statuses": statuses,
                  "warmup": float(ok[0][4]) if ok else float("nan"),
                  "cpu": cpu_d.value, "loadavg": load_d,
                  "missing_slots": missing, "dup_slots": dup,
                  "alive": alive, "early": sum(1 for x in lat_d if x < 0)}

    log("lateness: baseline loop (time.sleep + psql -c), %d runs (+1)" % n)
    pg.psql("CREATE TABLE lateness_baseline (started_at timestamptz, "
            "slot timestamptz)", db=db)
    script = os.path.join(opts.tmp, "baseline_loop.py")
    with open(script, "w") as f:
        f.write(BASELINE_LOOP)
    if before_baseline is not None:
        before_baseline()
    cpu_b = CpuBusy()
    load_b = loadavg()
    bg = None
    if during_baseline is not None:
        bg = threading.Thread(target=during_baseline, daemon=True)
        bg.start()
    subprocess.run([sys.executable, script, pg.psql_bin, pg.host,
                    str(pg.port), pg.user, db, str(n + 1)], check=True,
                   env=clean_env(), cwd="/", timeout=3 * n + 120)
    cpu_b.stop()
    if bg is not None:
        bg.join()
    rows = pg.psql("SELECT 1000 * extract(epoch FROM started_at - slot) "
                   "FROM lateness_baseline ORDER BY slot", db=db)
    lat_b = [float(r[0]) for r in rows[1:n + 1]]
    warm_b = float(rows[0][0]) if rows else float("nan")
    return {"pgmigd": pgmigd_res, "n": n,
            "baseline": {"sum": summary(lat_b), "cpu": cpu_b.value,
                         "warmup": warm_b,
                         "loadavg": load_b}}


def report_lateness(r, verdicts):
    print("## 1. Start lateness of a per-second job (started_at - slot, "
          "server clock, %d runs each)\n" % r["n"])
    print("| scheduler | runs | p50 ms | p99 ms | max ms | mean ms | "
          "machine CPU busy | load avg at start |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for key, label in (("pgmigd", "pgmigd, `*/1 * * * * *` `SELECT 1`"),
                       ("baseline", "baseline: `time.sleep` loop + "
                        "`psql -c INSERT`")):
        s = r[key]["sum"]
        print("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.0f%% | %s |" % (
            label, s["n"], s["p50"], s["p99"], s["max"], s["mean"],
            r[key]["cpu"], r[key]["loadavg"]))
    p = r["pgmigd"]
    print()
    print("Left out, the warm-up runs: pgmigd %.2f ms, baseline %.2f ms.\n"
          % (r["pgmigd"]["warmup"], r["baseline"]["warmup"]))
    print("pgmigd job_runs rows by status: %s; slots missing between the "
          "first and the last: %d; slots recorded twice: %d; runs started "
          "before their slot: %d; daemon alive at the end: %s.\n" % (
              ", ".join("%s %d" % kv for kv in sorted(p["statuses"].items())),
              p["missing_slots"], p["dup_slots"], p["early"],
              "yes" if p["alive"] else "**no**"))
    p99 = p["sum"]["p99"]
    verdicts.append(("pgmigd start lateness p99 < %.0f ms" %
                     TARGET_LATENESS_P99_MS, "%.2f ms (baseline %.2f ms)" % (
                         p99, r["baseline"]["sum"]["p99"]),
                     p99 < TARGET_LATENESS_P99_MS))


# ------------------------------------------------------------------- 2. load

def client_fifo():
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))


def ping_run(tool, sock, n, interval_us, fifo=False):
    p = subprocess.run([tool, sock, str(n), str(interval_us)],
                       capture_output=True, text=True, timeout=600,
                       preexec_fn=client_fifo if fifo else None)
    if p.returncode != 0:
        raise RuntimeError("jobs_ping %s failed: %s" % (sock, p.stderr))
    lines = p.stdout.split()
    errors = int(lines[-1].split("=", 1)[1])
    return [float(x) for x in lines[:-1]], errors


def schedstat(pid):
    """(ns on CPU, ns waiting on a run queue) of a process's main thread
    (/proc/PID/schedstat, CONFIG_SCHED_INFO), or None."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            v = f.read().split()
        return int(v[0]), int(v[1])
    except (OSError, ValueError, IndexError):
        return None


def vacuum_loop(d, table, stop, out):
    while not stop.is_set():
        rc, o, e = ctl(d, "--json", "vacuum", table, "--full")
        if rc != 0:
            out.append(("error", rc, e.strip()))
            time.sleep(0.5)
            continue
        out.append(("ok", json.loads(o)["duration_ms"]))


# servers of the load benchmark: key, label
LOAD_SERVERS = (
    ("pgmigd", "pgmigd"),
    ("echo", "jobs_echo.c (control: no daemon)"),
    ("pgmigd-fifo", "pgmigd, it and the client under SCHED_FIFO "
     "(diagnostic)"),
    ("echo-fifo", "jobs_echo.c, it and the client under SCHED_FIFO "
     "(diagnostic)"),
)


def set_fifo(pid, on):
    """SCHED_FIFO priority 10 for pid (on) or back to SCHED_OTHER; False
    when not permitted (needs CAP_SYS_NICE)."""
    try:
        if on:
            os.sched_setscheduler(pid, os.SCHED_FIFO, os.sched_param(10))
        else:
            os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
        return True
    except (OSError, AttributeError):
        return False


def bench_load(pg, opts, tools):
    db = pg.createdb("load")
    log("load: two tables of 1.5M rows (1M live after a delete)")
    for t in ("t1", "t2"):
        pg.psql("CREATE TABLE %s (id int, pad text); INSERT INTO %s SELECT g, "
                "repeat('x', 100) FROM generate_series(1, 1500000) g; "
                "CREATE INDEX ON %s (id); DELETE FROM %s WHERE id %% 3 = 0"
                % (t, t, t, t), db=db)
    quiesce(pg, db, ("t1", "t2"))
    conf = '{ name = "load"; conninfo = "%s"; }' % pg.conninfo(db)
    echo_sock = os.path.join(opts.tmp, "echo.sock")
    echo = subprocess.Popen([tools["jobs_echo"], echo_sock])
    res = {"n": opts.pings, "interval_us": PING_INTERVAL_US,
           "rounds": PING_ROUNDS}

    def measure(state):
        """opts.pings requests to each server, in PING_ROUNDS rounds
        alternating between them, so that all see the same phases of the
        load; with each server's CPU and run-queue time per request."""
        lat = {k: [] for k, _ in LOAD_SERVERS}
        errors = dict.fromkeys(lat, 0)
        sched = dict.fromkeys(lat, (0, 0))
        per = max(1, opts.pings // PING_ROUNDS)
        res[("loadavg", state)] = loadavg()
        busy = CpuBusy()
        for _ in range(PING_ROUNDS):
            for srv, _ in LOAD_SERVERS:
                is_echo = srv.startswith("echo")
                fifo = srv.endswith("-fifo")
                sock = echo_sock if is_echo else d.sock
                pid = echo.pid if is_echo else d.proc.pid
                if fifo and not set_fifo(pid, True):
                    continue
                try:
                    s0 = schedstat(pid)
                    v, e = ping_run(tools["jobs_ping"], sock, per,
                                    PING_INTERVAL_US, fifo)
                    s1 = schedstat(pid)
                finally:
                    if fifo:
                        set_fifo(pid, False)
                lat[srv] += v
                errors[srv] += e
                if s0 is not None and s1 is not None and \
                        sched[srv] is not None:
                    sched[srv] = (sched[srv][0] + s1[0] - s0[0],
                                  sched[srv][1] + s1[1] - s0[1])
                else:
                    sched[srv] = None
        res[("cpu", state)] = busy.stop()
        for srv in lat:
            if not lat[srv]:
                continue
            x = res[(srv, state)] = summary(lat[srv])
            x["errors"] = errors[srv]
            x["cpu_us"] = x["wait_us"] = None
            if sched[srv] is not None and lat[srv]:
                x["cpu_us"] = sched[srv][0] / 1e3 / len(lat[srv])
                x["wait_us"] = sched[srv][1] / 1e3 / len(lat[srv])

    try:
        wait_for(lambda: os.path.exists(echo_sock), 5)
        with Daemon(databases=conf) as d:
            rc, _, e = ctl(d, "test-connection")
            if rc != 0:
                raise RuntimeError("test-connection: " + e)
            ping_run(tools["jobs_ping"], d.sock, 50, 500)     # warm-up
            log("load: %d pings each, idle" % opts.pings)
            measure("idle")
            log("load: two VACUUM FULL loops")
            stop = threading.Event()
            outs = {"t1": [], "t2": []}
            threads = [threading.Thread(target=vacuum_loop,
                                        args=(d, t, stop, outs[t]))
                       for t in ("t1", "t2")]
            for th in threads:
                th.start()
            # client backends only: VACUUM FULL rebuilds the index with
            # parallel workers, which show the same query
            q = ("SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE "
                 "datname = '%s' AND state = 'active' AND backend_type = "
                 "'client backend' AND query ILIKE 'VACUUM%%FULL%%'" % db)
            try:
                both = wait_for(lambda: pg.psql(q, db=db)[0][0] == "2", 30,
                                0.01)
                if not both:
                    raise RuntimeError("the two VACUUM FULL never ran at "
                                       "once: %r" % outs)
                t0 = time.monotonic()
                log("load: %d pings each during the VACUUM FULLs"
                    % opts.pings)
                measure("load")
                res["active_end"] = pg.psql(q, db=db)[0][0]
                res["window_s"] = time.monotonic() - t0
            finally:
                stop.set()
                for th in threads:
                    th.join()
            res["vacuums"] = outs
            res["alive"] = d.proc.poll() is None
    finally:
        echo.send_signal(signal.SIGTERM)
        echo.wait(timeout=5)
    return res


def report_load(r, verdicts):
    print("## 2. Control round trip under load (`ping`: %d requests per "
          "server and state, paced %d µs apart, in %d rounds alternating "
          "between the servers)\n" % (r["n"], r["interval_us"], r["rounds"]))
    print("CPU and run-queue wait are the server's own, per request, from "
          "/proc/PID/schedstat.\n")
    print("| server | state | p50 µs | p99 µs | max µs | errors | "
          "server CPU µs/req | server run-queue wait µs/req |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")

    def opt(v):
        return "n/a" if v is None else "%.1f" % v

    for srv, label in LOAD_SERVERS:
        for st, sl in (("idle", "idle (baseline)"),
                       ("load", "2 × VACUUM FULL running")):
            if (srv, st) not in r:
                continue
            s = r[(srv, st)]
            print("| %s | %s | %.1f | %.1f | %.1f | %d | %s | %s |" % (
                label, sl, s["p50"], s["p99"], s["max"], s["errors"],
                opt(s["cpu_us"]), opt(s["wait_us"])))
    print()
    print("Machine CPU busy (all processes, of %d CPUs): idle state %.0f%% "
          "(load average %s), loaded state %.0f%% (load average %s).\n" % (
              os.cpu_count(), r[("cpu", "idle")], r[("loadavg", "idle")],
              r[("cpu", "load")], r[("loadavg", "load")]))
    print("| ratio load / idle | p50 | p99 |")
    print("| --- | ---: | ---: |")
    for srv, label in LOAD_SERVERS:
        if (srv, "idle") not in r or (srv, "load") not in r:
            continue
        i, l = r[(srv, "idle")], r[(srv, "load")]
        print("| %s | %.2fx | %.2fx |" % (label, l["p50"] / i["p50"],
                                          l["p99"] / i["p99"]))
    print()
    desc = []
    for t in ("t1", "t2"):
        oks = [x[1] for x in r["vacuums"][t] if x[0] == "ok"]
        errs = [x for x in r["vacuums"][t] if x[0] != "ok"]
        desc.append("%s: %d VACUUM FULL (mean %.0f ms)%s" % (
            t, len(oks), sum(oks) / len(oks) if oks else float("nan"),
            ", %d failed: %s" % (len(errs), errs[0][2]) if errs else ""))
    print("The loaded window took %.1f s; %s; VACUUM FULL running at its end: "
          "%s; daemon alive: %s.\n" % (
              r["window_s"], "; ".join(desc), r["active_end"],
              "yes" if r["alive"] else "**no**"))
    i, l = r[("pgmigd", "idle")], r[("pgmigd", "load")]
    ratio = l["p99"] / i["p99"]
    verdicts.append(("pgmigd ping p99 under 2 VACUUM FULL within %.1fx of "
                     "idle" % TARGET_LOAD_RATIO,
                     "%.2fx (%.0f µs vs %.0f µs; echo control %.2fx)" % (
                         ratio, l["p99"], i["p99"],
                         r[("echo", "load")]["p99"] /
                         r[("echo", "idle")]["p99"]),
                     ratio <= TARGET_LOAD_RATIO))


# ---------------------------------------------------------------- 3. refresh

def refresh_loop(d, args, stop, out, span):
    span.append(time.monotonic())
    while not stop.is_set():
        rc, o, e = ctl(d, "--json", "refresh", "mv", *args)
        if rc != 0:
            out.append(("error", rc, e.strip()))
            time.sleep(0.2)
            continue
        out.append(("ok", json.loads(o)["duration_ms"]))
    span.append(time.monotonic())


READERS = (
    ("closed", "1 connection, back to back", 0, 1),
    ("open", "%d q/s due on a fixed schedule, %d connections"
     % (1000000 // OPEN_INTERVAL_US, OPEN_CONNS), OPEN_INTERVAL_US,
     OPEN_CONNS),
)
REFRESH_MODES = (
    ("none", "none (baseline)", None),
    ("concurrently", "`pgmigctl refresh mv` back to back (CONCURRENTLY)", []),
    ("plain", "`pgmigctl refresh mv --no-concurrently` back to back",
     ["--no-concurrently"]),
    ("none2", "none, again (drift check)", None),
)


def reader_run(tool, conninfo, seconds, interval_us, conns):
    p = subprocess.run([tool, conninfo, str(seconds), "10000",
                        str(interval_us), str(conns)], capture_output=True,
                       text=True, timeout=seconds + 120)
    if p.returncode != 0:
        raise RuntimeError("jobs_reader failed: %s" % p.stderr)
    lines = p.stdout.split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    tail = dict(kv.split("=") for kv in lines[-1].split())
    lat = []
    svc = []
    for x in lines[:-1]:
        a, b = x.split()
        lat.append(float(a))
        svc.append(float(b))
    s = summary(lat)
    s["svc"] = summary(svc)
    slow = [x for x in lat if x >= 10000]
    s["slow10"] = len(slow)
    s["slow10_time"] = sum(slow) / 1e6 / seconds   # share of the window
    s["errors"] = int(tail["errors"])
    s["maxconns"] = int(tail["maxconns"])
    return s


def bench_refresh(pg, opts, tools):
    db = pg.createdb("refresh")
    log("refresh: 1M-row table, 10k-row materialized view")
    pg.psql("CREATE TABLE facts (id int, g int, v int); "
            "INSERT INTO facts SELECT i, 1 + i % 10000, i % 997 "
            "FROM generate_series(1, 1000000) i; ANALYZE facts; "
            "CREATE MATERIALIZED VIEW mv AS SELECT g, count(*) AS n, "
            "sum(v) AS total, avg(v) AS mean FROM facts GROUP BY g; "
            "CREATE UNIQUE INDEX mv_g ON mv (g); ANALYZE mv", db=db)
    quiesce(pg, db, ("facts", "mv"))
    conf = '{ name = "refresh"; conninfo = "%s"; }' % pg.conninfo(db)
    ci = pg.conninfo(db)
    res = {"window": opts.window}
    with Daemon(databases=conf) as d:
        rc, _, e = ctl(d, "refresh", "mv")      # warm-up, and it works
        if rc != 0:
            raise RuntimeError("refresh mv: " + e)
        for key, _, args in REFRESH_MODES:
            stop = threading.Event()
            out = []
            span = []
            th = None
            if args is not None:
                th = threading.Thread(target=refresh_loop,
                                      args=(d, args, stop, out, span))
                th.start()
                wait_for(lambda: len(out) >= 1, 30, 0.01)  # one done: warm
            try:
                for rkey, _, interval, conns in READERS:
                    log("refresh: %s reader for %d s, refresh: %s"
                        % (rkey, opts.window, key))
                    busy = CpuBusy()
                    la = loadavg()
                    res[(key, rkey)] = reader_run(
                        tools["jobs_reader"], ci, opts.window, interval,
                        conns)
                    res[(key, rkey)]["cpu"] = busy.stop()
                    res[(key, rkey)]["loadavg"] = la
            finally:
                stop.set()
                if th is not None:
                    th.join()
            res[(key, "refreshes")] = out
            res[(key, "loop_s")] = span[1] - span[0] if len(span) == 2 \
                else float("nan")
        res["alive"] = d.proc.poll() is None
    return res


def report_refresh(r, verdicts):
    print("## 3. Readers of a 10k-row materialized view during a refresh "
          "(`SELECT * FROM mv WHERE g = $1`, %d s per reader and mode)\n"
          % r["window"])
    print("Closed loop: one connection runs the query back to back, "
          "latency from send to result (a blocked reader sends nothing "
          "meanwhile, so one blocked query per refresh is all it shows). "
          "Open loop: queries fall due on a fixed schedule whatever earlier "
          "ones do, latency from the moment a query was due (a query held "
          "up behind a lock counts all its wait, and so do the arrivals "
          "behind it).  \"≥ 10 ms time\": share of the window the closed-"
          "loop reader spent in queries of 10 ms or more.\n")
    print("| refresh running | reader | queries | p50 ms | p99 ms | max ms | "
          "queries ≥ 10 ms | ≥ 10 ms time | errors | machine CPU busy | "
          "load avg at start |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
          "| --- |")
    for key, label, _ in REFRESH_MODES:
        for rkey, rlabel, _, _ in READERS:
            s = r[(key, rkey)]
            print("| %s | %s | %d | %.3f | %.3f | %.1f | %.2f%% | %s | %d | "
                  "%.0f%% | %s |"
                  % (label, rlabel, s["n"], s["p50"] / 1000, s["p99"] / 1000,
                     s["max"] / 1000, 100.0 * s["slow10"] / max(1, s["n"]),
                     "%.1f%%" % min(100.0, 100 * s["slow10_time"])
                     if rkey == "closed"
                     else "-", s["errors"], s["cpu"], s["loadavg"]))
    print()
    for key, label, args in REFRESH_MODES:
        if args is None:
            continue
        out = r[(key, "refreshes")]
        oks = [x[1] for x in out if x[0] == "ok"]
        errs = [x for x in out if x[0] != "ok"]
        loop_s = r[(key, "loop_s")]
        print("- %s: %d refreshes in the loop's %.1f s (it also covers the "
              "readers' start-up), duration_ms mean %.0f, max %d, %.0f%% of "
              "the loop's time inside a refresh%s." % (
                  label, len(oks), loop_s,
                  sum(oks) / len(oks) if oks else float("nan"),
                  max(oks) if oks else -1,
                  100.0 * sum(oks) / 1000 / loop_s if loop_s > 0 else 0,
                  "; %d failed: %s" % (len(errs), errs[0][2])
                  if errs else ""))
    print()
    print("Reference measured before (another method, another machine): no "
          "refresh p99 0.17 ms, CONCURRENTLY 3.5 ms, plain REFRESH 95 ms.  "
          "Daemon alive at the end: %s.\n" % ("yes" if r["alive"]
                                              else "**no**"))
    c, p, n = r[("concurrently", "open")], r[("plain", "open")], \
        r[("none", "open")]
    verdicts.append(("readers (open loop): CONCURRENTLY p99 far below plain "
                     "REFRESH p99 (no numeric target)",
                     "%.2f ms vs %.1f ms (no refresh %.2f ms)" % (
                         c["p99"] / 1000, p["p99"] / 1000, n["p99"] / 1000),
                     c["p99"] * 10 < p["p99"]))


# -------------------------------------------------------------- 4. footprint

def ctxsw(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:",
                                        "nonvoluntary_ctxt_switches:")):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def rollup(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


class Footprint:
    """Two idle daemons: one with an open 4-connection pool, one without
    a database.  setup() opens the pool; measure() is the idle window."""

    def __init__(self, pg, opts):
        self.pg = pg
        self.opts = opts
        self.res = {"window": opts.idle_seconds}

    def setup(self):
        pg = self.pg
        self.db = pg.createdb("footprint")
        jobs = ", ".join('{ name = "hold%d"; type = "sql"; schedule = '
                         '"@yearly"; sql = "SELECT pg_sleep(1)"; }' % i
                         for i in range(1, 5))
        conf = ('{ name = "footprint"; conninfo = "%s"; pool_size = 4; '
                'jobs = ( %s ); }' % (pg.conninfo(self.db), jobs))
        self.dpool = Daemon(databases=conf).start()
        self.dnone = Daemon().start()
        log("footprint: opening the pool (4 runs + 4 test-connection)")
        procs = [subprocess.Popen([PGMIGCTL, "-s", self.dpool.sock, "run",
                                   "hold%d" % i], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
                 for i in range(1, 5)]
        procs += [subprocess.Popen([PGMIGCTL, "-s", self.dpool.sock,
                                    "test-connection"],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
                  for _ in range(4)]
        time.sleep(0.5)
        self.res["during"] = self.conns()
        rc, o, _ = ctl(self.dpool, "--json", "pool")
        self.res["pool_during"] = json.loads(o)["pools"][0] if rc == 0 else None
        fails = [p.wait(timeout=60) for p in procs]
        self.res["setup_failures"] = sum(1 for x in fails if x != 0)
        rc, o, _ = ctl(self.dpool, "--json", "pool")
        self.res["pool_after"] = json.loads(o)["pools"][0] if rc == 0 else None
        time.sleep(1)

    def conns(self):
        return int(self.pg.psql(
            "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE "
            "application_name = 'pgmigd' AND datname = '%s'" % self.db)[0][0])

    def measure(self):
        try:
            self._measure()
        except Exception as e:      # reported, not lost in a thread
            self.res["error"] = "%s: %s" % (type(e).__name__, e)
        finally:
            self.cleanup()

    def cleanup(self):
        for d in (getattr(self, "dpool", None), getattr(self, "dnone", None)):
            if d is not None:
                d.cleanup()

    def _measure(self):
        w = self.opts.idle_seconds
        pids = {"pool": self.dpool.proc.pid, "none": self.dnone.proc.pid}
        log("footprint: %d s idle window" % w)
        try:
            busy = CpuBusy()
            self.res["loadavg"] = loadavg()
            c0 = {k: ctxsw(p) for k, p in pids.items()}
            self.res["conns_start"] = self.conns()
            t0 = time.monotonic()
            time.sleep(w)
            c1 = {k: ctxsw(p) for k, p in pids.items()}
            el = time.monotonic() - t0
            self.res["cpu"] = busy.stop()
            self.res["conns_end"] = self.conns()
            for k, p in pids.items():
                ru = rollup(p)
                with open("/proc/%d/status" % p) as f:
                    st = dict(line.split(":", 1) for line in f)
                self.res[k] = {
                    "rss": ru.get("Rss"), "pss": ru.get("Pss"),
                    "pss_anon": ru.get("Pss_Anon"),
                    "vmhwm": int(st["VmHWM"].split()[0]),
                    "threads": int(st["Threads"]),
                    "wakeups": (c1[k] - c0[k]) / el,
                    "ctxsw": c1[k] - c0[k]}
            # the pool closes connections unused for 60 s (one stays):
            # look again after two more reaper periods
            time.sleep(self.opts.reap_seconds)
            self.res["conns_later"] = self.conns()
            rc, o, _ = ctl(self.dpool, "--json", "pool")
            self.res["pool_end"] = json.loads(o)["pools"][0] if rc == 0 else None
            self.res["alive"] = (self.dpool.proc.poll() is None and
                                 self.dnone.proc.poll() is None)
        finally:
            self.cleanup()
        time.sleep(0.5)
        self.res["conns_after_stop"] = self.conns()


def report_footprint(r, verdicts):
    print("## 4. Footprint, idle %d s\n" % r["window"])
    if "error" in r:
        print("Failed: %s\n" % r["error"])
        verdicts.append(("footprint measured", r["error"], False))
        return
    print("| pgmigd | RSS KiB | PSS KiB | Pss_Anon KiB | VmHWM KiB | "
          "wakeups/s | connections held |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key, label, conns in (
            ("none", "no database (baseline)", "0"),
            ("pool", "1 database, pool_size 4, pool opened",
             "%d at start, %d at end" % (r["conns_start"], r["conns_end"]))):
        x = r[key]
        print("| %s | %d | %d | %d | %d | %.3f | %s |" % (
            label, x["rss"], x["pss"], x["pss_anon"], x["vmhwm"],
            x["wakeups"], conns))
    print()
    print("Machine CPU busy during the window (all processes, of %d CPUs): "
          "%.0f%% (load average %s at its start).\n" % (
              os.cpu_count(), r["cpu"], r["loadavg"]))
    pd, pa, pe = r["pool_during"], r["pool_after"], r["pool_end"]
    print("Opening the pool: %d connections while the 4 runs and 4 "
          "test-connection were in flight (pool in_use %s idle %s), "
          "%d command failures; after them `pgmigctl pool` said in_use %s "
          "idle %s created %s closed %s.  %d s after the window: %d "
          "connections (pool: idle %s, created %s, closed %s); after the "
          "daemon stopped: %d.  Daemons alive: %s.\n" % (
              r["during"], pd and pd["in_use"], pd and pd["idle"],
              r["setup_failures"], pa and pa["in_use"], pa and pa["idle"],
              pa and pa["created"], pa and pa["closed"], r["reap_seconds"],
              r["conns_later"], pe and pe["idle"], pe and pe["created"],
              pe and pe["closed"], r["conns_after_stop"],
              "yes" if r["alive"] else "**no**"))
    verdicts.append(("footprint: connections released when pgmigd stops",
                     "%d left" % r["conns_after_stop"],
                     r["conns_after_stop"] == 0))


# ------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(ALL),
                    help="comma-separated: " + ", ".join(ALL))
    ap.add_argument("--quick", action="store_true",
                    help="30 runs, 15 s idle window, 5 s reader windows, "
                    "500 pings")
    ap.add_argument("--runs", type=int, default=None,
                    help="scheduled runs for lateness (default 200)")
    ap.add_argument("--window", type=int, default=None,
                    help="window per reader and refresh mode, s "
                    "(default 15)")
    ap.add_argument("--idle-seconds", type=int, default=None,
                    help="footprint idle window, s (default 60)")
    ap.add_argument("--pings", type=int, default=None,
                    help="ping requests per measurement (default 2000)")
    ap.add_argument("--wait-quiet", type=int, default=0, metavar="S",
                    help="first wait up to S seconds for a 5 s spell with "
                    "the machine's CPUs under 10%% busy (a shared machine)")
    ap.add_argument("--no-overlap", action="store_true",
                    help="run the footprint window alone, not during the "
                    "lateness baseline")
    opts = ap.parse_args()
    which = [w.strip() for w in opts.only.split(",") if w.strip()]
    for w in which:
        if w not in ALL:
            ap.error("unknown benchmark %r" % w)
    opts.runs = opts.runs or (30 if opts.quick else 200)
    opts.window = opts.window or (5 if opts.quick else 15)
    opts.idle_seconds = opts.idle_seconds or (15 if opts.quick else 60)
    opts.pings = opts.pings or (500 if opts.quick else 2000)
    opts.reap_seconds = 20

    quiet = None
    if opts.wait_quiet > 0:
        end = time.monotonic() + opts.wait_quiet
        while True:
            b = CpuBusy()
            time.sleep(5)
            quiet = b.stop()
            if quiet < 10 or time.monotonic() >= end:
                break
            log("waiting for a quiet machine: CPUs %.0f%% busy" % quiet)

    opts.tmp = tempfile.mkdtemp(prefix="pgmig-jobs-bench.")
    os.chmod(opts.tmp, 0o755)
    t_start = time.monotonic()
    results = {}
    fp = None
    try:
        tools = build(opts.tmp)
        build_id = snapshot_binaries(opts.tmp)
        with Cluster() as pg:
            if "footprint" in which:
                fp = Footprint(pg, opts)
            if "lateness" in which:
                overlap = fp is not None and not opts.no_overlap
                results["lateness"] = bench_lateness(
                    pg, opts, fp.setup if overlap else None,
                    fp.measure if overlap else None)
                if overlap:
                    results["footprint"] = fp.res
            if fp is not None and "footprint" not in results:
                fp.setup()
                fp.measure()
                results["footprint"] = fp.res
            if "load" in which:
                results["load"] = bench_load(pg, opts, tools)
            if "refresh" in which:
                results["refresh"] = bench_refresh(pg, opts, tools)
    finally:
        if fp is not None:
            fp.cleanup()
        shutil.rmtree(opts.tmp, ignore_errors=True)

    results["footprint"] = results.get("footprint")
    if results["footprint"] is not None:
        results["footprint"]["reap_seconds"] = opts.reap_seconds
    print("# pgmigd job benchmarks\n")
    print("Machine: %s.  Binaries: %s.  Total run time %.0f s%s.\n" % (
        machine(), build_id, time.monotonic() - t_start,
        "" if quiet is None else "; CPUs %.0f%% busy in the 5 s before it"
        % quiet))
    verdicts = []
    if "lateness" in results:
        report_lateness(results["lateness"], verdicts)
    if "load" in results:
        report_load(results["load"], verdicts)
    if "refresh" in results:
        report_refresh(results["refresh"], verdicts)
    if results["footprint"] is not None:
        report_footprint(results["footprint"], verdicts)
    print("## Targets\n")
    print("| target | measured | met |")
    print("| --- | --- | --- |")
    for what, got, ok in verdicts:
        print("| %s | %s | %s |" % (what, got, "yes" if ok else "**no**"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
