#!/usr/bin/env python3
"""Build the libFuzzer harnesses (fuzz/fuzz_proto.c, fuzz/fuzz_conf.c,
fuzz/fuzz_migsql.c) and run
each for a bounded time over a copy of its seed corpus.

Standalone: prints `ok - ...` / `not ok - ...` per check, `# ...` diagnostics,
and finally `N passed, M failed`; exits 0 iff nothing failed.

Environment (set by `make check`; by hand they default to this checkout):
  PGMIG_SRCDIR    source tree (fuzz/, src/)
  PGMIG_BUILDDIR  build tree (config.h); binaries go to fuzz/build/ there
  FUZZ_CC         clang with libFuzzer (default: clang)
  FUZZ_TIME       seconds per harness (default 20)

A missing clang or libFuzzer runtime is a failure, not a skip:
scripts/install-deps installs clang and libclang-rt-dev.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SRCDIR = os.environ.get("PGMIG_SRCDIR") or REPO
BUILDDIR = os.environ.get("PGMIG_BUILDDIR") or REPO
FUZZ_CC = os.environ.get("FUZZ_CC") or "clang"
FUZZ_TIME = int(os.environ.get("FUZZ_TIME") or "20")
MIN_RUNS = 1000

CFLAGS = ["-g", "-O1", "-fsanitize=fuzzer,address,undefined",
          "-fno-sanitize-recover=undefined", "-std=gnu11"]
PKGS = ["jansson", "libconfig", "libpq", "libsystemd", "libcrypto"]

HARNESSES = [
    # name, harness source, src/ files it needs, corpus dir
    ("fuzz_proto", "fuzz/fuzz_proto.c", ["proto.c", "util.c"], "proto"),
    ("fuzz_conf", "fuzz/fuzz_conf.c", ["conf.c", "cron.c", "util.c", "log.c"],
     "conf"),
    ("fuzz_migsql", "fuzz/fuzz_migsql.c", ["migsql.c", "migfile.c", "util.c"],
     "migsql"),
]

passed = 0
failed = 0


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


def diag(msg):
    print("# %s" % msg)
    sys.stdout.flush()


def tail(text, n=40):
    lines = text.rstrip().splitlines()
    return "\n".join(lines[-n:])


def find_cc():
    """The compiler's path, or None."""
    argv = shlex.split(FUZZ_CC)
    if not argv:
        return None
    return shutil.which(argv[0])


def pkg_flags():
    p = subprocess.run(["pkg-config", "--cflags", "--libs"] + PKGS,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("pkg-config %s failed: %s" %
                           (" ".join(PKGS), p.stderr.strip()))
    return shlex.split(p.stdout)


def build(name, harness, srcs, outdir, pcflags):
    out = os.path.join(outdir, name)
    cmd = (shlex.split(FUZZ_CC) + CFLAGS +
           ["-iquote", os.path.join(SRCDIR, "src"), "-I" + BUILDDIR,
            os.path.join(SRCDIR, harness)] +
           [os.path.join(SRCDIR, "src", s) for s in srcs] +
           pcflags + ["-lpg_query", "-lm", "-o", out])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        hint = ""
        if "clang_rt" in p.stderr or "fuzzer" in p.stderr:
            hint = ("\n(the libFuzzer runtime may be missing: "
                    "scripts/install-deps installs libclang-rt-dev)")
        return None, "%s\n%s%s" % (" ".join(cmd), tail(p.stderr), hint)
    return out, None


def run(name, binary, corpus_src, artifacts):
    """Run binary over a copy of corpus_src; (ok, runs, detail)."""
    with tempfile.TemporaryDirectory(prefix="pgmig-%s-" % name) as tmp:
        corpus = os.path.join(tmp, "corpus")
        shutil.copytree(corpus_src, corpus)
        os.makedirs(artifacts, exist_ok=True)
        cmd = [binary, "-max_total_time=%d" % FUZZ_TIME,
               "-rss_limit_mb=2048", "-timeout=5", "-print_final_stats=1",
               "-artifact_prefix=" + artifacts + "/", corpus]
        env = dict(os.environ)
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env["TMPDIR"] = tmp
        p = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True,
                           errors="replace", env=env,
                           timeout=FUZZ_TIME + 120)
        m = re.findall(r"^Done (\d+) runs in (\d+) second", p.stderr, re.M)
        runs = int(m[-1][0]) if m else None
        if runs is None:
            m = re.findall(r"stat::number_of_executed_units:\s*(\d+)",
                           p.stderr)
            runs = int(m[-1]) if m else None
        detail = "%s\nexit status %d\n%s" % (" ".join(cmd), p.returncode,
                                             tail(p.stderr))
        if p.returncode != 0:
            found = sorted(os.listdir(artifacts))
            if found:
                detail += "\nreproducers kept in %s: %s" % (
                    artifacts, ", ".join(found))
        return p.returncode == 0, runs, detail


def main():
    cc = find_cc()
    report(cc is not None, "fuzz compiler %s found" % FUZZ_CC,
           "FUZZ_CC=%s is not installed: scripts/install-deps installs "
           "clang and libclang-rt-dev (libFuzzer)" % FUZZ_CC)
    if cc is None:
        return
    try:
        pcflags = pkg_flags()
        report(True, "pkg-config flags for %s" % ", ".join(PKGS))
    except Exception as e:
        report(False, "pkg-config flags for %s" % ", ".join(PKGS), str(e))
        return
    config_h = os.path.join(BUILDDIR, "config.h")
    report(os.path.exists(config_h), "config.h in the build dir",
           "%s is missing: run ./configure first" % config_h)

    outdir = os.path.join(BUILDDIR, "fuzz", "build")
    os.makedirs(outdir, exist_ok=True)
    for name, harness, srcs, corpus in HARNESSES:
        corpus_src = os.path.join(SRCDIR, "fuzz", "corpus", corpus)
        seeds = os.listdir(corpus_src) if os.path.isdir(corpus_src) else []
        report(len(seeds) > 0, "%s: seed corpus fuzz/corpus/%s has %d inputs"
               % (name, corpus, len(seeds)))
        try:
            binary, err = build(name, harness, srcs, outdir, pcflags)
        except Exception:
            binary, err = None, traceback.format_exc()
        report(binary is not None, "%s: builds with %s" % (name, FUZZ_CC), err)
        if binary is None or not seeds:
            continue
        artifacts = os.path.join(outdir, "artifacts-" + name)
        if os.path.isdir(artifacts):
            shutil.rmtree(artifacts)
        try:
            ok, runs, detail = run(name, binary, corpus_src, artifacts)
        except Exception:
            ok, runs, detail = False, None, traceback.format_exc()
        if runs is not None:
            diag("%s: %d runs in %d s" % (name, runs, FUZZ_TIME))
        report(ok, "%s: %d s of fuzzing without a crash, leak or timeout"
               % (name, FUZZ_TIME), detail)
        report(runs is not None and runs >= MIN_RUNS,
               "%s: executed at least %d inputs (%s)" %
               (name, MIN_RUNS, runs),
               "no final \"Done N runs\" line in libFuzzer's output"
               if runs is None else None)
        if ok and os.path.isdir(artifacts) and not os.listdir(artifacts):
            os.rmdir(artifacts)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        report(False, "t_fuzz.py ran to the end", traceback.format_exc())
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
