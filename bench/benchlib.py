"""Helpers shared by the bench/ scripts."""

import hashlib
import math
import os
import shutil
import subprocess
import sys
import time

import pgmigtest


def snapshot_binaries(tmp, repo, pgmigd, pgmigctl):
    """Copy pgmigd and pgmigctl to tmp and make pgmigtest use the copies:
    the tree may be rebuilt while a benchmark runs.  Returns a description
    of them (git revision, sha256, build time)."""
    desc = []
    for name, src in (("pgmigd", pgmigd), ("pgmigctl", pgmigctl)):
        if not os.access(src, os.X_OK):
            raise RuntimeError("%s is not built (make -j2)" % src)
        dst = os.path.join(tmp, name)
        shutil.copy2(src, dst)
        with open(dst, "rb") as f:
            h = hashlib.sha256(f.read()).hexdigest()[:12]
        desc.append("%s sha256 %s… (built %s)" % (
            name, h, time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                   time.gmtime(os.stat(dst).st_mtime))))
    pgmigtest.PGMIGD = os.path.join(tmp, "pgmigd")
    pgmigtest.PGMIGCTL = os.path.join(tmp, "pgmigctl")
    try:
        head = subprocess.run(["git", "-C", repo, "rev-parse", "--short",
                               "HEAD"], capture_output=True, text=True,
                              timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain",
                                "--", "src"], capture_output=True, text=True,
                               timeout=30).stdout.strip()
        desc.insert(0, "git %s%s" % (head, " (src/ modified)" if dirty
                                     else ""))
    except (OSError, subprocess.SubprocessError):
        pass
    return "; ".join(desc)


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def pct(sorted_vals, p):
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_vals:
        return float("nan")
    k = max(1, math.ceil(p / 100.0 * len(sorted_vals)))
    return sorted_vals[min(k, len(sorted_vals)) - 1]


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or "?"."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"
