#!/usr/bin/env python3
"""bench/scale_bench.py: what one more configured database costs an idle
pgmigd.  One PostgreSQL 15 cluster (tests/integration/pgharness.py), one
pgmigd per size, sizes 0 (the baseline: the same binary with no database,
its fixed cost), 1, 10 and 50 databases, measured one after another in the
same run.  Prints markdown tables on stdout; progress goes to stderr.
bench/RESULTS-scale.md explains the figures.

  bench/scale_bench.py [--idle-seconds S] [--quick] [--sizes 1,10,50]
                       [--warm-starts N] [--json FILE]

Every database is a fresh one (from template0) of its size's own set, so
each size's first start is a cold start (state schema created), and has
pool_size = 4 and two jobs: "nightly", type analyze, @daily with
jitter = "2h", and "hourly", type sql (SELECT 1), @hourly.

For each size:
  1. start-up: from fork of pgmigd until `pgmigctl --json status` answers
     (control socket up) and until every database in it has
     reachable = true (status polled with pgmigctl every 20 ms).  Once cold
     (first start on the fresh databases), then --warm-starts times more
     after a SIGTERM (state schema already there; median reported).  After
     each stop the script waits until the cluster shows no pgmigd backend.
  2. idle window: the last daemon started is left alone for 2 s, then for
     --idle-seconds (default 60, --quick 15).  Wakeups/s = voluntary +
     nonvoluntary context switches (/proc/PID/status, every thread; pgmigd
     has one) over the window / its length; the counters are also read
     every second (reading /proc does not wake the process) to show when
     the wakeups happen.  Connections held = `SELECT count(*) FROM
     pg_stat_activity WHERE application_name = 'pgmigd'`, sampled every
     5 s by psql (its own backend is not counted).  At the window's end:
     Rss, Pss, Pss_Anon from /proc/PID/smaps_rollup, VmHWM and Threads from
     /proc/PID/status.  Only then is pgmigd asked anything again
     (`pgmigctl --json pool` before and after the window: pool counters,
     health-check queries).
  3. if more than N connections are held at the window's end, the count
     is followed every 2 s for up to 20 s more (the pool reaps a
     connection idle for 60 s, on a 10 s tick), and what the extra
     backends last ran is shown.
  4. job_runs rows written during the window are counted in every
     database: the window is meant to be idle.  A window that would
     contain a whole hour (when @hourly jobs fire) is avoided by waiting
     for the hour to pass first; the @daily jobs' next slots are
     checked from `status` (next_job) and reported.

Per-database cost = (value at N - value at 0) / N.

Last, "N added one by one" (the largest size; --stagger-seconds, default
30, --quick 15, 0 skips it): pgmigd starts with no database and the N
databases of the largest set are added to its configuration one at a
time by `pgmigctl reload`, spread evenly over that many seconds, as when
databases are added over time.  Databases configured at start-up get
their pool timers (health check every 30 s, idle reaping every 10 s) all
armed in the same instant, so they fire together; here they are spread
out, which is the worst case for wakeups.  Then the same idle window (no
start-up timing).

Environment: PGMIG_BUILDDIR (default: this checkout) holds pgmigd and
pgmigctl; they are copied to a temp dir first (the tree may be rebuilt
meanwhile).  The machine's CPU busy share (all processes, /proc/stat) is
reported for every window, since the figures are only as quiet as the
machine.
"""

import argparse
import datetime
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import pgmigtest                                    # noqa: E402
import benchlib  # noqa: E402
from pgharness import Cluster, pg_version           # noqa: E402
from pgmigtest import Daemon                        # noqa: E402

PGMIGD = pgmigtest.PGMIGD
PGMIGCTL = pgmigtest.PGMIGCTL
SETTLE_S = 2.0
TAIL_S = 20.0
CONN_SAMPLE_S = 5.0


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------ environment

def machine():
    model = benchlib.cpu_model()
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = "%.0f GiB RAM" % (int(line.split()[1]) / 1048576.0)
    return "%s, %d CPUs, %s, Linux %s, PostgreSQL %s" % (
        model, os.cpu_count(), mem, os.uname().release, pg_version())


class CpuBusy:
    """Share of all CPUs busy (any process) between start and stop."""

    @staticmethod
    def _read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v[:8]), v[3] + v[4]

    def __init__(self):
        self.t0, self.i0 = self._read()

    def stop(self):
        t1, i1 = self._read()
        dt = t1 - self.t0
        return 100.0 * (dt - (i1 - self.i0)) / dt if dt > 0 else 0.0


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def snapshot_binaries(tmp):
    """Copy pgmigd and pgmigctl to tmp and use the copies (benchlib)."""
    global PGMIGD, PGMIGCTL
    desc = benchlib.snapshot_binaries(tmp, REPO, PGMIGD, PGMIGCTL)
    PGMIGD, PGMIGCTL = pgmigtest.PGMIGD, pgmigtest.PGMIGCTL
    return desc


# ----------------------------------------------------------- measurements

def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def ctxsw(pid, split=False):
    """voluntary + nonvoluntary context switches of every thread (with
    split: the pair)."""
    vol = total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:",
                                        "nonvoluntary_ctxt_switches:")):
                        total += int(line.split()[1])
                        if line.startswith("vol"):
                            vol += int(line.split()[1])
        except OSError:
            pass
    return (vol, total - vol) if split else total


def rollup(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def conns(pg):
    return int(pg.psql("SELECT count(*) FROM pg_catalog.pg_stat_activity "
                       "WHERE application_name = 'pgmigd'")[0][0])


def conn_breakdown(pg):
    """pgmigd backends grouped by state and last statement."""
    return pg.psql(
        "SELECT count(*), state, left(regexp_replace(query, '\\s+', ' ', "
        "'g'), 70) FROM pg_catalog.pg_stat_activity WHERE application_name "
        "= 'pgmigd' GROUP BY 2, 3 ORDER BY 1 DESC")


def ctl_json(d, *args, timeout=30):
    p = subprocess.run([PGMIGCTL, "-s", d.sock, "--json"] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        return None
    try:
        return json.loads(p.stdout)
    except ValueError:
        return None


def job_runs_since(pg, dbs, since_sql):
    """job_runs rows started at or after since_sql, in all of dbs (one psql
    process, \\c between databases)."""
    if not dbs:
        return 0
    # job_runs is created by the first run: no table, no run
    script = "".join(
        "\\c %s\nSELECT CASE WHEN to_regclass('pgmig.job_runs') IS NULL "
        "THEN 0 ELSE (xpath('/row/c/text()', query_to_xml('SELECT count(*) "
        "AS c FROM pgmig.job_runs WHERE started_at >= ''%s''', false, true, "
        "'')))[1]::text::int END;\n" % (db, since_sql) for db in dbs)
    return sum(int(r[0]) for r in pg.psql(script, db=dbs[0]))


def db_conf(names, pg):
    return ",\n".join(
        '{ name = "db%02d"; conninfo = "%s"; pool_size = 4; jobs = (\n'
        '  { name = "nightly"; type = "analyze"; schedule = "@daily"; '
        'jitter = "2h"; },\n'
        '  { name = "hourly"; type = "sql"; schedule = "@hourly"; '
        'sql = "SELECT 1"; } ); }' % (i, pg.conninfo(n))
        for i, n in enumerate(names))


def start_timed(d, n, timeout=120):
    """Start d; returns (s until status answers, s until all reachable)."""
    t0 = time.monotonic()
    d.start(wait=False)
    t_answer = None
    while True:
        now = time.monotonic()
        if now - t0 > timeout:
            raise RuntimeError("pgmigd: not all %d databases reachable after "
                               "%d s:\n%s" % (n, timeout, d.logtext()[-3000:]))
        if d.proc.poll() is not None:
            raise RuntimeError("pgmigd exited %s:\n%s" % (
                d.proc.returncode, d.logtext()[-3000:]))
        p = subprocess.run([PGMIGCTL, "-s", d.sock, "--json", "status"],
                           capture_output=True, text=True, timeout=30)
        t = time.monotonic() - t0
        if p.returncode == 0:
            if t_answer is None:
                t_answer = t
            st = json.loads(p.stdout)
            dbs = st["databases"]
            if len(dbs) == n and all(x["reachable"] is True for x in dbs):
                return t_answer, t
        time.sleep(0.02)


def stop_and_drain(d, pg, timeout=30):
    d.stop()
    end = time.monotonic() + timeout
    while conns(pg) and time.monotonic() < end:
        time.sleep(0.05)
    return conns(pg)


def wait_off_the_hour(need_s):
    """@hourly jobs fire at hh:00:00: if the next need_s seconds contain
    it, wait until 15 s past it (the daemon is not running meanwhile)."""
    now = time.time()
    nxt = (int(now) // 3600 + 1) * 3600
    if now + need_s + 5 >= nxt:
        wait = nxt + 15 - now
        log("an hour boundary would fall in the window: waiting %.0f s" %
            wait)
        time.sleep(wait)
        return wait
    return 0.0


def next_job_min(st):
    """Earliest next_job of any database in a status reply (str or None)."""
    best = None
    for x in (st or {}).get("databases", []):
        nj = x.get("next_job")
        at = None
        if isinstance(nj, dict):
            at = nj.get("at") or nj.get("next_run") or nj.get("time")
        elif isinstance(nj, str):
            at = nj
        if at and (best is None or at < best):
            best = at
    return best


def wait_reachable(d, n, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = ctl_json(d, "status")
        if st and len(st["databases"]) == n and all(
                x["reachable"] is True for x in st["databases"]):
            return
        time.sleep(0.05)
    raise RuntimeError("not all %d databases reachable" % n)


def measure(pg, n, names, opts, stagger=0.0):
    """One size: start-ups, then the idle window.  With stagger > 0: no
    start-up timing; pgmigd starts with no database and the N databases
    are added one by one by reload, spread over stagger seconds."""
    r = {"n": n, "staggered": stagger > 0, "cold": None, "warm": []}
    need = (opts.warm_starts * 5 + SETTLE_S + opts.idle_seconds + TAIL_S +
            30 + stagger)
    r["hour_wait"] = wait_off_the_hour(need)
    d = Daemon(databases="" if stagger else db_conf(names, pg))
    try:
        if stagger:
            log("N=%d: adding the databases one by one over %.0f s" %
                (n, stagger))
            d.start()
            for i in range(1, n + 1):
                t = time.monotonic()
                d.write_conf(pgmigtest.conf_text(
                    d.sock, databases=db_conf(names[:i], pg)))
                rc, _, err = d.ctl("reload")
                if rc != 0:
                    raise RuntimeError("reload failed: %s" % err)
                time.sleep(max(0.0, stagger / n - (time.monotonic() - t)))
            wait_reachable(d, n)
        else:
            log("N=%d: cold start" % n)
            r["cold"] = start_timed(d, n)
            for _ in range(opts.warm_starts):
                left = stop_and_drain(d, pg)
                if left:
                    raise RuntimeError("%d pgmigd backends left after stop"
                                       % left)
                r["warm"].append(start_timed(d, n))
        r["conns_at_ready"] = conns(pg)
        pid = d.proc.pid
        st = ctl_json(d, "status")
        r["next_job"] = next_job_min(st)
        time.sleep(SETTLE_S)
        pool0 = ctl_json(d, "pool")
        since = pg.psql("SELECT now()")[0][0]

        log("N=%d: %d s idle window" % (n, opts.idle_seconds))
        busy = CpuBusy()
        r["loadavg"] = loadavg()
        samples = []            # (t, ctxsw)
        csamples = []           # (t, connections)
        t0 = time.monotonic()
        v0 = ctxsw(pid, split=True)
        c0 = sum(v0)
        samples.append((0.0, c0))
        next_conn = 0.0
        while True:
            t = time.monotonic() - t0
            if t >= opts.idle_seconds:
                break
            if t >= next_conn:
                csamples.append((t, conns(pg)))
                next_conn += CONN_SAMPLE_S
            time.sleep(max(0.0, min(1.0 - (t % 1.0),
                                    opts.idle_seconds - t)))
            samples.append((time.monotonic() - t0, ctxsw(pid)))
        v1 = ctxsw(pid, split=True)
        c1 = sum(v1)
        el = time.monotonic() - t0
        ru = rollup(pid)
        ps = proc_status(pid)
        r["cpu_busy"] = busy.stop()
        end_conns = conns(pg)
        csamples.append((el, end_conns))
        r["window"] = el
        r["ctxsw"] = c1 - c0
        r["wakeups"] = (c1 - c0) / el
        r["vol"] = v1[0] - v0[0]
        r["nonvol"] = v1[1] - v0[1]
        r["rss"], r["pss"] = ru.get("Rss"), ru.get("Pss")
        r["pss_anon"] = ru.get("Pss_Anon")
        r["vmhwm"] = int(ps["VmHWM"].split()[0])
        r["threads"] = int(ps["Threads"])
        r["conns"] = end_conns
        r["conn_samples"] = csamples
        # per-second context switches, to see their period
        per_s = [b[1] - a[1] for a, b in zip(samples, samples[1:])]
        r["per_second"] = per_s
        r["busy_seconds"] = sum(1 for x in per_s if x > 0)

        pool1 = ctl_json(d, "pool")
        r["pool0"], r["pool1"] = pool0, pool1
        if pool0 and pool1:
            q0 = sum(p["queries"] for p in pool0["pools"])
            q1 = sum(p["queries"] for p in pool1["pools"])
            r["queries"] = q1 - q0
            r["created"] = (sum(p["created"] for p in pool1["pools"]) -
                            sum(p["created"] for p in pool0["pools"]))
            r["closed"] = (sum(p["closed"] for p in pool1["pools"]) -
                           sum(p["closed"] for p in pool0["pools"]))
            r["idle_after"] = sum(p["idle"] for p in pool1["pools"])
        r["breakdown"] = conn_breakdown(pg) if end_conns > n else []
        tail = []
        if end_conns > n:
            log("N=%d: %d connections held (> N): following them" %
                (n, end_conns))
            tt = time.monotonic()
            while time.monotonic() - tt < TAIL_S:
                time.sleep(2)
                c = conns(pg)
                tail.append((round(el + time.monotonic() - tt), c))
                if c <= n:
                    break
        r["tail"] = tail
        r["job_runs"] = job_runs_since(pg, names, since)
        r["alive"] = d.proc.poll() is None
    finally:
        r["conns_after_stop"] = stop_and_drain(d, pg) if d.proc else None
        d.cleanup()
    return r


# ----------------------------------------------------------------- report

def fmt_s(x):
    return "%.3f" % x


def label(r):
    return "%d, added one by one" % r["n"] if r["staggered"] else \
        "%d" % r["n"]


def warm_median(r):
    return statistics.median(w[1] for w in r["warm"]) if r["warm"] else None


def report(res, opts, info):
    base = res[0]
    out = []
    p = out.append
    p("# pgmigd scale benchmark\n")
    p("Machine: %s.  %s.\n" % (info["machine"], info["binaries"]))
    p("Idle window %d s per size (after start-up and %.0f s of settling); "
      "each database: pool_size = 4, an @daily analyze job (jitter 2h) and "
      "an @hourly sql job.  Run %s.\n" % (
          opts.idle_seconds, SETTLE_S, info["when"]))
    p("## Absolute figures\n")
    p("| databases | RSS KiB | PSS KiB | Pss_Anon KiB | VmHWM KiB | "
      "connections held | wakeups/s | start: control answers s | "
      "start: all reachable, cold s | start: all reachable, warm s "
      "(median of %d) |" % opts.warm_starts)
    p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
      "| ---: |")
    for r in res:
        wm = warm_median(r)
        p("| %s | %d | %d | %d | %d | %d | %.3f | %s | %s | %s |" % (
            label(r), r["rss"], r["pss"], r["pss_anon"], r["vmhwm"],
            r["conns"], r["wakeups"],
            fmt_s(r["cold"][0]) if r["cold"] else "-",
            fmt_s(r["cold"][1]) if r["cold"] else "-",
            fmt_s(wm) if wm is not None else "-"))
    p("")
    p("## Per database: (value at N - value at 0) / N\n")
    p("| N | RSS KiB | PSS KiB | Pss_Anon KiB | connections | wakeups/s | "
      "expected wakeups/s (1/30) | start, cold ms | start, warm ms |")
    p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    bwarm = warm_median(base) or 0.0
    for r in res[1:]:
        n = r["n"]
        wm = warm_median(r)
        p("| %s | %.1f | %.1f | %.1f | %.2f | %.4f | %.4f | %s | %s |" % (
            label(r), (r["rss"] - base["rss"]) / n,
            (r["pss"] - base["pss"]) / n,
            (r["pss_anon"] - base["pss_anon"]) / n,
            (r["conns"] - base["conns"]) / n,
            (r["wakeups"] - base["wakeups"]) / n, 1 / 30.0,
            "%.1f" % (1000 * (r["cold"][1] - base["cold"][1]) / n)
            if r["cold"] else "-",
            "%.1f" % (1000 * (wm - bwarm) / n) if wm is not None else "-"))
    p("")
    big = [r for r in res[1:] if r["n"] > 1 and not r["staggered"]]
    if len(big) >= 2:
        a, b = big[-2], big[-1]
        dn = b["n"] - a["n"]
        p("Marginal cost from %d to %d databases (linearity check): "
          "Pss_Anon %.1f KiB, RSS %.1f KiB, connections %.2f, wakeups/s "
          "%.4f, cold start %.1f ms per database.\n" % (
              a["n"], b["n"], (b["pss_anon"] - a["pss_anon"]) / dn,
              (b["rss"] - a["rss"]) / dn, (b["conns"] - a["conns"]) / dn,
              (b["wakeups"] - a["wakeups"]) / dn,
              1000 * (b["cold"][1] - a["cold"][1]) / dn))
    p("## Details per size\n")
    p("| databases | CPU busy (machine) | load avg | context switches "
      "(voluntary + nonvoluntary) | seconds with a wakeup | pool queries "
      "(health checks) | connections opened / closed in window | "
      "connections over the window (s: count) | after the window | "
      "job_runs in window | hour wait s | earliest next job |")
    p("| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | --- | ---: "
      "| ---: | --- |")
    for r in res:
        p("| %s | %.0f%% | %s | %d (%d + %d) | %d / %d | %s | %s / %s | %s "
          "| %s | %d | %.0f | %s |" % (
              label(r), r["cpu_busy"], r["loadavg"], r["ctxsw"], r["vol"],
              r["nonvol"], r["busy_seconds"], len(r["per_second"]),
              r.get("queries", "?"), r.get("created", "?"),
              r.get("closed", "?"),
              " ".join("%d:%d" % (t, c) for t, c in r["conn_samples"]),
              " ".join("+%ds:%d" % (t - r["window"], c)
                       for t, c in r["tail"]) or "-",
              r["job_runs"], r["hour_wait"], r["next_job"] or "-"))
    p("")
    for r in res:
        if r["breakdown"]:
            p("Backends held at the end of the window with %s databases "
              "(count, state, last statement):\n" % label(r))
            for row in r["breakdown"]:
                p("- %s × %s: `%s`" % (row[0], row[1], row[2]))
            p("")
    p("Per-second context switches during the window:\n")
    for r in res:
        p("- %s databases: %s" % (label(r), " ".join(
            str(x) for x in r["per_second"])))
    p("")
    p("Start-ups (s until status answers / until all reachable): " + "; ".join(
        "%d dbs: cold %s/%s, warm %s" % (
            r["n"], fmt_s(r["cold"][0]), fmt_s(r["cold"][1]),
            ", ".join("%s/%s" % (fmt_s(a), fmt_s(b)) for a, b in r["warm"]))
        for r in res if r["cold"]) + ".\n")
    p("## Expectation\n")
    p("| check | figure | holds |")
    p("| --- | --- | --- |")
    for r in res[1:]:
        n = r["n"]
        lab = label(r)
        pa = (r["pss_anon"] - base["pss_anon"]) / n
        p("| %s dbs: Pss_Anon per database < 100 KiB | %.1f KiB | %s |" % (
            lab, pa, "yes" if pa < 100 else "**no**"))
        p("| %s dbs: connections held <= N | %d | %s |" % (
            lab, r["conns"], "yes" if r["conns"] <= n else "**no**"))
        lim = n / 30.0 + 1
        p("| %s dbs: wakeups/s <= N/30 + 1 = %.2f | %.3f | %s |" % (
            lab, lim, r["wakeups"], "yes" if r["wakeups"] <= lim
            else "**no**"))
        p("| %s dbs: no job ran in the window | %d rows | %s |" % (
            lab, r["job_runs"], "yes" if r["job_runs"] == 0 else "**no**"))
    p("| daemons alive at the end, no backend left after stop | %s | %s |" %
      (", ".join("%s:%s/%s" % (label(r), "alive" if r["alive"] else "dead",
                               r["conns_after_stop"]) for r in res),
       "yes" if all(r["alive"] and r["conns_after_stop"] == 0 for r in res)
       else "**no**"))
    p("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--idle-seconds", type=float, default=None)
    ap.add_argument("--quick", action="store_true",
                    help="15 s idle windows, one warm start, 15 s stagger")
    ap.add_argument("--sizes", default="1,10,50")
    ap.add_argument("--warm-starts", type=int, default=None)
    ap.add_argument("--stagger-seconds", type=float, default=None,
                    help="spread of the staggered run (0: skip it)")
    ap.add_argument("--json", default=None, help="also write raw results")
    opts = ap.parse_args()
    if opts.idle_seconds is None:
        opts.idle_seconds = 15 if opts.quick else 60
    if opts.warm_starts is None:
        opts.warm_starts = 1 if opts.quick else 3
    if opts.stagger_seconds is None:
        opts.stagger_seconds = 15 if opts.quick else 30
    sizes = [int(x) for x in opts.sizes.split(",") if x.strip()]
    tmp = tempfile.mkdtemp(prefix="pgmig-scale-")
    t_start = time.monotonic()
    try:
        info = {"binaries": snapshot_binaries(tmp),
                "when": datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%d %H:%M UTC")}
        with Cluster() as pg:
            info["machine"] = machine()
            sets = {}
            for n in sizes:
                log("creating %d databases" % n)
                sets[n] = [pg.createdb("scale%d_%02d" % (n, i))
                           for i in range(n)]
            runs = [(0, 0.0)] + [(n, 0.0) for n in sizes]
            if opts.stagger_seconds > 0 and sizes:
                runs.append((max(sizes), opts.stagger_seconds))
            res = []
            for n, stagger in runs:
                res.append(measure(pg, n, sets.get(n, []), opts, stagger))
                r = res[-1]
                log("N=%s: rss %d pss_anon %d conns %d wakeups %.3f/s%s" % (
                    label(r), r["rss"], r["pss_anon"], r["conns"],
                    r["wakeups"], " cold %.3f s" % r["cold"][1]
                    if r["cold"] else ""))
        text = report(res, opts, info)
        print(text)
        print("Total run time %.0f s." % (time.monotonic() - t_start))
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump({"info": info, "results": res}, f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
