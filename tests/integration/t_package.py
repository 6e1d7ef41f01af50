#!/usr/bin/env python3
"""The Debian package: build it from a clean copy of the source tree with
`dpkg-buildpackage -us -uc -b` (DEB_BUILD_OPTIONS=nocheck), check what the
.deb holds, install it with `dpkg -i`, check the installed system (the
pgmig user, pgmigd --version and --check-config on the shipped conffile,
`systemd-analyze verify` on the installed units, the man pages, the
journal catalog, nothing enabled), purge it and check that everything is
gone.

Needs root (dpkg -i) and debhelper.  It refuses to touch a system where
the package, or any file it would install, is already present.  It leaves
the system as it found it: the package is purged even when a check fails,
and the pgmig user and group, which the package deliberately keeps on
purge (Debian practice for system users), are deleted again when this
test created them.  Nothing skips: a missing tool is a failure.
"""

import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgmigtest import Results, SRCDIR

PKG = "pgmig"
USER = "pgmig"
R = Results("t_package")

# files the package must ship (a unit may be under /lib or /usr/lib)
UNITS = ("pgmigd.service", "pgmigd.socket", "pgmigd@.service")
UNIT_DIRS = ("/lib/systemd/system", "/usr/lib/systemd/system")
FILES = ("/usr/sbin/pgmigd", "/usr/bin/pgmigctl",
         "/etc/pgmigd/pgmigd.conf",
         "/usr/share/man/man8/pgmigd.8.gz",
         "/usr/share/man/man1/pgmigctl.1.gz",
         "/usr/share/man/man5/pgmigd.conf.5.gz",
         "/usr/lib/systemd/catalog/pgmigd.catalog",
         "/usr/lib/sysusers.d/pgmig.conf")
CONFFILE = "/etc/pgmigd/pgmigd.conf"
CATALOG_DB = "/var/lib/systemd/catalog/database"

# what a source tree copy leaves out when it is not a git checkout: build
# products of an in-tree build, of `make distcheck` and of dpkg-buildpackage
EXCLUDE_TOP = {".git", "Makefile", "Makefile.in", "aclocal.m4", "autom4te.cache",
            "build-aux", "config.h", "config.h.in", "config.h.in~",
            "config.log", "config.status", "configure", "configure~",
            "stamp-h1", "pgmigd", "pgmigctl", "_build", "_inst", "build"}
EXCLUDE_ANY = {".deps", ".dirstamp", "__pycache__"}
EXCLUDE_SUFFIX = (".o", ".a", ".log", ".trs", ".tmp", ".tar.gz")
EXCLUDE_REL = {"fuzz/build", "systemd/pgmigd.service", "systemd/pgmigd@.service",
            "systemd/pgmigd.socket", "debian/pgmig", "debian/tmp",
            "debian/.debhelper", "debian/files", "debian/debhelper-build-stamp",
            "debian/autoreconf.before", "debian/autoreconf.after"}

CHILD_ENV_DROP = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKE_TERMOUT",
                  "MAKE_TERMERR", "GNUMAKEFLAGS")


def child_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in CHILD_ENV_DROP}
    env.update(LC_ALL="C.UTF-8", DEBIAN_FRONTEND="noninteractive")
    env["PATH"] = env.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
    env.update(extra)
    return env


def run(args, timeout=300, **kw):
    """Run a command; a missing program gives rc 127 instead of raising."""
    try:
        return subprocess.run(args, capture_output=True, text=True,
                              timeout=timeout, env=kw.pop("env", child_env()),
                              **kw)
    except FileNotFoundError as e:
        return subprocess.CompletedProcess(args, 127, "", str(e))
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(
            args, 124, (e.stdout or b"").decode(errors="replace")
            if isinstance(e.stdout, bytes) else (e.stdout or ""),
            "timed out after %ss" % timeout)


def run_group(args, timeout, **kw):
    """Run a command in its own process group and return its exit status;
    on a timeout or an interruption end the whole group (make, the
    compilers), not only its leader."""
    try:
        proc = subprocess.Popen(args, start_new_session=True, **kw)
    except FileNotFoundError:
        return 127
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124
    finally:
        if proc.returncode is None:
            end_group(proc)


def end_group(proc):
    """SIGTERM to the process group, then SIGKILL to what is left of it
    after 10 s; returns once the group is empty."""
    def alive():
        try:
            os.killpg(proc.pid, 0)
            return True
        except ProcessLookupError:
            return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None and not alive():
                break
            time.sleep(0.1)
    if proc.poll() is None:
        proc.wait()


def out(p):
    return (p.stdout + p.stderr).strip()


def pkg_status():
    """dpkg's status of the package, "" when dpkg does not know it."""
    p = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", PKG])
    return p.stdout.strip() if p.returncode == 0 else ""


def getent(db, name):
    p = run(["getent", db, name])
    return p.stdout.strip() if p.returncode == 0 else ""


def catalog_ids():
    """MESSAGE_IDs defined by the source tree's journal catalog."""
    with open(os.path.join(SRCDIR, "systemd", "pgmigd.catalog")) as f:
        return re.findall(r"^-- ([0-9a-f]{32})\s*$", f.read(), re.M)


def listed_catalog_ids():
    p = run(["journalctl", "--list-catalog"])
    return {l.split()[0] for l in p.stdout.splitlines() if l.strip()}


def catalog_db_digest():
    """SHA-256 of journald's compiled catalog, None when there is none."""
    try:
        with open(CATALOG_DB, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return None


def enabled_links():
    """Symlinks under /etc/systemd/system that point to our units."""
    found = []
    for d, _, files in os.walk("/etc/systemd/system"):
        for f in files:
            if f.startswith("pgmigd"):
                found.append(os.path.join(d, f))
    return found


def copy_tree(src, dst):
    """Copy the source tree: the files git knows (tracked, and untracked
    ones not ignored, so work in progress and a not yet committed debian/
    are in) in a git checkout, else everything but build products."""
    top = run(["git", "-C", src, "rev-parse", "--show-toplevel"])
    is_git = os.path.exists(os.path.join(src, ".git"))
    if is_git and top.returncode == 127:
        raise RuntimeError("%s is a git checkout but git is missing" % src)
    if is_git and top.returncode == 0 and \
            os.path.realpath(top.stdout.strip()) == os.path.realpath(src):
        p = run(["git", "-C", src, "ls-files", "-z", "--cached", "--others",
                 "--exclude-standard"])
        if p.returncode != 0:
            raise RuntimeError("git ls-files failed: %s" % out(p))
        names = sorted({n for n in p.stdout.split("\0") if n})
        copied = 0
        for n in names:
            s = os.path.join(src, n)
            if not os.path.lexists(s):
                continue            # deleted in the work tree, not yet in git
            d = os.path.join(dst, n)
            os.makedirs(os.path.dirname(d), exist_ok=True)
            if os.path.islink(s):
                os.symlink(os.readlink(s), d)
            elif os.path.isfile(s):
                shutil.copy2(s, d)
            else:
                continue            # a submodule or the like
            copied += 1
        how = "git ls-files (%d files)" % copied
    else:
        def ignore(d, names):
            rel = os.path.relpath(d, src)
            rel = "" if rel == "." else rel + "/"
            skip = set()
            for n in names:
                r = rel + n
                if (not rel and (n in EXCLUDE_TOP or n.startswith("pgmig-")
                                 or n.startswith("pgmig_"))) \
                        or n in EXCLUDE_ANY or n.endswith(EXCLUDE_SUFFIX) \
                        or r in EXCLUDE_REL \
                        or re.match(r"debian/.*\.(substvars|debhelper(\.log)?)$",
                                    r) \
                        or (rel == "tests/" and n.startswith("check_")
                            and not n.endswith(".c")):
                    skip.add(n)
            return skip
        shutil.copytree(src, dst, symlinks=True, ignore=ignore)
        how = "a copy of the tree without build products"
    # a dist tree (make distcheck) is read-only: the build writes in it
    for d, dirs, files in os.walk(dst):
        for n in dirs + files:
            p = os.path.join(d, n)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)
    os.chmod(dst, os.stat(dst).st_mode | stat.S_IWUSR)
    return how


class State:
    """What cleanup() must undo."""
    installed_by_us = False


def body(tmp, state):
    # ---- preconditions: root, the tools, a system without the package
    R.ok(os.geteuid() == 0, "running as root (dpkg -i needs it)")
    tools = ("dpkg-buildpackage", "dpkg-deb", "dpkg", "dpkg-query",
             "dpkg-checkbuilddeps", "dh", "getent", "systemd-analyze",
             "journalctl", "man", "ldd", "userdel", "groupdel")
    missing = [t for t in tools if not shutil.which(t, path=child_env()["PATH"])]
    R.ok(not missing, "tools present: %s" % " ".join(tools),
         "missing: %s (debhelper and dpkg-dev are the build's; "
         "scripts/install-deps installs them)" % " ".join(missing))
    if missing or os.geteuid() != 0:
        return
    p = run(["dpkg", "--audit"])
    if not R.ok(p.returncode == 0 and not p.stdout.strip(),
                "dpkg --audit is clean before the test",
                out(p) + "\n(finish that first, e.g. dpkg --configure "
                "--pending: this test will not install into it)"):
        return
    st = pkg_status()
    if not R.ok(st in ("", "un"), "package %s is not installed before the test"
                % PKG, "dpkg status %r: this test would replace or purge it; "
                "remove it first (dpkg --purge %s)" % (st, PKG)):
        return
    ids = catalog_ids()
    R.ok(ids, "systemd/pgmigd.catalog defines MESSAGE_IDs (%d)" % len(ids))
    before_ids = listed_catalog_ids()
    R.ok(not (set(ids) & before_ids),
         "the system's journal catalog has no pgmigd entry before")
    catalog_db = catalog_db_digest()

    # ---- version consistency: configure.ac, debian/changelog
    with open(os.path.join(SRCDIR, "configure.ac")) as f:
        m = re.search(r"AC_INIT\(\[pgmig\],\s*\[([^]]+)\]", f.read())
    upstream = m.group(1) if m else "?"
    with open(os.path.join(SRCDIR, "debian", "changelog")) as f:
        m = re.match(r"pgmig \(([^)]+)\)", f.readline())
    debver = m.group(1) if m else "?"
    R.ok(debver.rsplit("-", 1)[0] == upstream,
         "debian/changelog %s is configure.ac's %s" % (debver, upstream))

    # ---- build from a clean copy
    src = os.path.join(tmp, "pgmig-%s" % upstream)
    try:
        how = copy_tree(SRCDIR, src)
        R.ok(os.path.isfile(os.path.join(src, "debian", "rules")),
             "copied the source tree with %s" % how)
    except (OSError, RuntimeError) as e:
        R.ok(False, "copied the source tree", e)
        return
    log = os.path.join(tmp, "build.log")
    t0 = time.monotonic()
    with open(log, "w") as lf:
        rc = run_group(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src,
                       stdout=lf, stderr=subprocess.STDOUT,
                       env=child_env(DEB_BUILD_OPTIONS="nocheck"),
                       timeout=1800)
    took = time.monotonic() - t0
    with open(log, errors="replace") as lf:
        build_out = lf.read()
    debs = sorted(f for f in os.listdir(tmp)
                  if f.startswith("%s_" % PKG) and f.endswith(".deb"))
    if not R.ok(rc == 0 and len(debs) == 1,
                "dpkg-buildpackage -us -uc -b (nocheck) built %s in %.1f s"
                % (debs[0] if debs else "no .deb", took),
                "rc %d\n" % rc + "\n".join(build_out.splitlines()[-40:])):
        return
    deb = os.path.join(tmp, debs[0])
    R.ok(debs[0] == "%s_%s_%s.deb" % (PKG, debver, run(
        ["dpkg", "--print-architecture"]).stdout.strip()),
        "the .deb is named for version %s (%d bytes)"
        % (debver, os.path.getsize(deb)))
    R.ok("override_dh_auto_test" in build_out and
         not re.search(r"^\s*make -j?\d* check", build_out, re.M),
         "the upstream test suite is not run by the package build")

    # ---- the .deb's contents and control data
    p = run(["dpkg-deb", "-c", deb])
    paths = []
    for line in p.stdout.splitlines():
        f = line.split(None, 5)
        if len(f) == 6:
            name = f[5].split(" -> ")[0]
            paths.append((line[0], name[1:] if name.startswith("./") else name))
    files = {n for t, n in paths if t != "d"}
    R.ok(p.returncode == 0 and files, "dpkg-deb -c lists the contents", out(p))
    for f in FILES:
        R.ok(f in files, "the .deb ships %s" % f)
    for u in UNITS:
        R.ok(any(os.path.join(d, u) in files for d in UNIT_DIRS),
             "the .deb ships the unit %s" % u)
    R.ok(not any(n.startswith("/usr/local") for n in files),
         "nothing under /usr/local")
    p = run(["dpkg-deb", "-I", deb, "conffiles"])
    R.ok(p.returncode == 0 and p.stdout.split() == [CONFFILE],
         "%s is the one conffile" % CONFFILE, out(p))
    p = run(["dpkg-deb", "-f", deb, "Package", "Version", "Depends",
             "Description"])
    ctl = p.stdout
    R.ok("Version: %s" % debver in ctl and "libpq5" in ctl
         and "libevent" in ctl and "libpg-query" in ctl,
         "control: version and the shared library dependencies", ctl)
    R.ok(re.search(r"systemd-sysusers|systemd\b", ctl),
         "control: depends on a systemd-sysusers provider", ctl)
    # the maintainer scripts must not enable or start the service
    ctrl_dir = os.path.join(tmp, "control")
    p = run(["dpkg-deb", "-e", deb, ctrl_dir])
    scripts = ""
    for n in ("preinst", "postinst", "prerm", "postrm"):
        path = os.path.join(ctrl_dir, n)
        if os.path.exists(path):
            with open(path) as f:
                scripts += f.read()
            q = run(["sh", "-n", path])
            R.ok(q.returncode == 0, "%s is valid sh" % n, out(q))
    R.ok(not re.search(r"deb-systemd-invoke\s+(start|\$_dh_action)", scripts),
         "no maintainer script starts a unit")
    R.ok("systemd-sysusers" in scripts and "--update-catalog" in scripts,
         "postinst runs systemd-sysusers and journalctl --update-catalog")

    # ---- nothing on the system that dpkg -i would take over
    clash = sorted(f for f in files if os.path.lexists(f))
    if not R.ok(not clash, "no file of the package exists before installing",
                "present: %s (a `make install` into /usr?)" % " ".join(clash)):
        return

    # ---- install
    state.installed_by_us = True
    p = run_dpkg(["dpkg", "-i", deb])
    R.ok(p.returncode == 0, "dpkg -i %s" % debs[0], out(p))
    R.eq(pkg_status(), "ii", "dpkg reports the package installed")
    pw = getent("passwd", USER)
    f = pw.split(":")
    R.ok(len(f) == 7, "getent passwd %s: the user exists" % USER, pw)
    if len(f) == 7:
        R.ok(int(f[2]) < 1000, "%s is a system user (uid %s)" % (USER, f[2]))
        R.ok(f[6] in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"),
             "%s has no login shell (%s)" % (USER, f[6]))
        gr = getent("group", USER).split(":")
        R.ok(len(gr) == 4 and gr[2] == f[3],
             "group %s exists and is the user's primary group" % USER)
    for f in sorted(files):
        if not R.ok(os.path.exists(f), "installed %s" % f):
            break
    R.ok(oct(os.stat("/usr/sbin/pgmigd").st_mode & 0o7777) == "0o755"
         if os.path.exists("/usr/sbin/pgmigd") else False,
         "/usr/sbin/pgmigd is mode 0755")
    p = run(["dpkg-query", "-W", "-f=${Conffiles}", PKG])
    R.ok(CONFFILE in p.stdout, "dpkg registered %s as a conffile" % CONFFILE,
         out(p))
    p = run(["dpkg", "--verify", PKG])
    R.ok(p.returncode == 0 and not p.stdout.strip(),
         "dpkg --verify %s is clean" % PKG, out(p))

    p = run(["/usr/sbin/pgmigd", "--version"])
    R.ok(p.returncode == 0 and p.stdout.strip() == "pgmigd %s" % upstream,
         "/usr/sbin/pgmigd --version says pgmigd %s" % upstream, out(p))
    p = run(["/usr/bin/pgmigctl", "--version"])
    R.ok(p.returncode == 0 and p.stdout.strip() == "pgmigctl %s" % upstream,
         "pgmigctl --version says pgmigctl %s" % upstream, out(p))
    p = run(["/usr/sbin/pgmigd", "--check-config", "-c", CONFFILE])
    R.ok(p.returncode == 0 and "warning" not in p.stderr.lower(),
         "pgmigd --check-config -c %s exits 0 without warnings" % CONFFILE,
         out(p))
    p = run(["ldd", "/usr/sbin/pgmigd"])
    R.ok(p.returncode == 0 and "not found" not in p.stdout,
         "every shared library of pgmigd resolves", out(p))

    unit_dir = next((d for d in UNIT_DIRS
                     if os.path.join(d, "pgmigd.service") in files), None)
    svc = os.path.join(unit_dir or UNIT_DIRS[0], "pgmigd.service")
    with open(svc) as f:
        text = f.read()
    R.ok(re.search(r"^ExecStart=/usr/sbin/pgmigd -c /etc/pgmigd/pgmigd\.conf$",
                   text, re.M),
         "ExecStart runs /usr/sbin/pgmigd with /etc/pgmigd/pgmigd.conf")
    env = child_env(SYSTEMD_LOG_LEVEL="notice")
    for u in ("pgmigd.service", "pgmigd.socket"):
        p = run(["systemd-analyze", "verify",
                 os.path.join(unit_dir or UNIT_DIRS[0], u)], env=env)
        R.ok(p.returncode == 0 and out(p) == "",
             "systemd-analyze verify %s/%s is clean" % (unit_dir, u), out(p))
    # a template unit is verified through an instance
    inst = os.path.join(tmp, "pgmigd@main.service")
    shutil.copy(os.path.join(unit_dir or UNIT_DIRS[0], "pgmigd@.service"), inst)
    p = run(["systemd-analyze", "verify", inst], env=env)
    R.ok(p.returncode == 0 and out(p) == "",
         "systemd-analyze verify pgmigd@main.service is clean", out(p))
    for page, sec in (("pgmigd", "8"), ("pgmigctl", "1"), ("pgmigd.conf", "5")):
        p = run(["man", "-w", sec, page])
        R.ok(p.returncode == 0 and p.stdout.startswith("/usr/share/man/"),
             "man -w %s %s finds the installed page" % (sec, page), out(p))
    R.ok(set(ids) <= listed_catalog_ids(),
         "journalctl --list-catalog has every pgmigd MESSAGE_ID")
    links = enabled_links()
    R.ok(not links, "no unit is enabled by the installation", links)

    # ---- purge
    p = run_dpkg(["dpkg", "--purge", PKG])
    R.ok(p.returncode == 0, "dpkg --purge %s" % PKG, out(p))
    if p.returncode == 0:
        state.installed_by_us = False
    st = pkg_status()
    R.ok(st in ("", "un", "pn"), "dpkg no longer has the package (%r)" % st)
    left = sorted(f for f in files if os.path.lexists(f))
    R.ok(not left, "every file of the package is gone", left)
    R.ok(not os.path.exists("/etc/pgmigd"), "/etc/pgmigd is gone")
    info = [f for f in os.listdir("/var/lib/dpkg/info")
            if f.startswith(PKG + ".") or f.startswith(PKG + ":")]
    R.ok(not info, "dpkg's records of the package are gone", info)
    state_files = []
    for d in ("/var/lib/systemd/deb-systemd-helper-enabled",
              "/var/lib/systemd/deb-systemd-helper-masked"):
        for dd, _, fs in os.walk(d):
            state_files += [os.path.join(dd, f) for f in fs if "pgmigd" in f]
    R.ok(not state_files and not enabled_links(),
         "no systemd unit state or link left", state_files)
    R.ok(not (set(ids) & listed_catalog_ids()),
         "the journal catalog no longer has pgmigd's entries")
    if catalog_db is not None:
        R.ok(catalog_db_digest() == catalog_db,
             "the compiled journal catalog is byte for byte as before")
    R.ok(getent("passwd", USER),
         "the user %s is kept on purge (Debian practice for system users)"
         % USER)


def cleanup(tmp, state, user_before, group_before):
    if state.installed_by_us and pkg_status():
        p = run(["dpkg", "--purge", PKG], timeout=900)
        R.ok(p.returncode == 0, "cleanup: dpkg --purge %s" % PKG, out(p))
    if not user_before and getent("passwd", USER):
        p = run(["userdel", USER])
        R.ok(p.returncode == 0, "cleanup: removed the user %s this test "
             "created" % USER, out(p))
    if not group_before and getent("group", USER):
        p = run(["groupdel", USER])
        R.ok(p.returncode == 0, "cleanup: removed the group %s" % USER, out(p))
    p = run(["dpkg", "--audit"])
    R.ok(p.returncode == 0 and not p.stdout.strip(),
         "dpkg --audit is clean after the test", out(p))
    R.ok(bool(getent("passwd", USER)) == bool(user_before) and
         bool(getent("group", USER)) == bool(group_before),
         "the pgmig user and group are as before the test")
    shutil.rmtree(tmp, ignore_errors=True)


class Interrupted(BaseException):
    """SIGTERM or SIGINT: stop the checks, still clean up."""


_critical = [False, None]       # inside dpkg -i/--purge; a signal then waits


def _on_signal(signum, frame):
    if _critical[0]:
        _critical[1] = signum   # never kill dpkg halfway: raise once it ends
    else:
        raise Interrupted(signal.Signals(signum).name)


def run_dpkg(args):
    """dpkg -i / --purge, not interrupted halfway by our signals."""
    _critical[0] = True
    try:
        return run(args, timeout=900)
    finally:
        _critical[0] = False
        if _critical[1] is not None:
            signum, _critical[1] = _critical[1], None
            raise Interrupted(signal.Signals(signum).name)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    tmp = tempfile.mkdtemp(prefix="pgmig-pkg-")
    os.chmod(tmp, 0o755)
    state = State()
    user_before = getent("passwd", USER)
    group_before = getent("group", USER)
    try:
        try:
            body(tmp, state)
        except Interrupted as e:
            R.ok(False, "the test ran to its end", "interrupted by %s" % e)
        except Exception as e:      # report it, then clean up and count it
            R.ok(False, "the test ran to its end",
                 "%s: %s" % (type(e).__name__, e))
        finally:
            # cleanup runs to its end whatever arrives meanwhile
            _critical[0] = True
            cleanup(tmp, state, user_before, group_before)
    except Interrupted:
        pass
    R.summary()
