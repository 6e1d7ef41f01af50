#!/usr/bin/env python3
"""Throw-away PostgreSQL 15 clusters for pgmig integration tests.

Standard library only.  The server is driven with pg_ctl and queried with
the ``psql`` binary over a Unix socket that lives in the cluster's private
temp dir, so clusters never collide with each other or with a system server.

Python use::

    from pgharness import Cluster
    with Cluster() as c:                      # start() ... stop()
        db = c.createdb()
        rows = c.psql("SELECT 1, 'a'", db=db)  # [['1', 'a']]
        dsn = c.conninfo(db)                   # "host=... port=... dbname=... user=postgres"

Shell use::

    eval "$(tests/integration/pgharness.py start /tmp/mydir)"   # exports PGHOST PGPORT PGUSER ...
    tests/integration/pgharness.py createdb /tmp/mydir demo
    tests/integration/pgharness.py stop /tmp/mydir

Running as root: initdb refuses root, so initdb/pg_ctl (and hence the
server) run as the ``postgres`` system user via ``runuser -u postgres --``
(``setpriv`` as fallback).  psql itself runs as the calling user and logs
in as database user ``postgres`` (trust auth, socket only).

Speed: an initdb'd template data dir is cached once per machine (per uid and
PostgreSQL version) under $PGMIG_TEST_CACHE or
/tmp/pgmig-initdb-cache-<uid>-<pgmajor>, guarded by fcntl.flock, and copied
with ``cp -a`` for every new cluster.

Environment:
    PGMIG_PG_BINDIR        force the PostgreSQL bin dir
    PGMIG_TEST_CACHE       template cache dir
    PGMIG_KEEP_TEST_DIRS=1 keep cluster temp dirs after stop() (for debugging)
"""

import atexit
import fcntl
import functools
import itertools
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

__all__ = [
    "Cluster", "HarnessError", "PsqlError",
    "find_bindir", "pg_version", "server_user", "stop_all",
]

PG_MAJOR = "15"
DEFAULT_BINDIR = "/usr/lib/postgresql/%s/bin" % PG_MAJOR
SERVER_USER_WHEN_ROOT = "postgres"
DB_SUPERUSER = "postgres"
FIELD_SEP = "\x1f"    # ASCII unit separator
RECORD_TERM = "\x00"  # psql -0: every record is NUL-terminated
STATE_FILE = "pgharness.json"
HARNESS_CONF = "pgharness.conf"
INCLUDE_LINE = "include_if_exists = '%s'\n" % HARNESS_CONF
# sun_path is 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107

# libpq / server environment variables that must not leak into our
# psql / pg_ctl invocations (PGMIG_* variables are ours and are kept).
_PG_ENV_PREFIX = "PG"
_KEEP_ENV_PREFIX = "PGMIG_"


class HarnessError(RuntimeError):
    """The harness could not provide a working PostgreSQL cluster."""


class PsqlError(HarnessError):
    """psql exited non-zero (SQL error with ON_ERROR_STOP=1, or connection failure)."""

    def __init__(self, message, returncode, stdout, stderr):
        super().__init__(message)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


# ---------------------------------------------------------------- environment

def _has_server_bins(d):
    return bool(d) and all(os.access(os.path.join(d, exe), os.X_OK)
                           for exe in ("initdb", "pg_ctl", "postgres"))


@functools.lru_cache(maxsize=None)
def find_bindir():
    """Return the PostgreSQL 15 bin dir, or raise HarnessError (never skip).

    Order: $PGMIG_PG_BINDIR, /usr/lib/postgresql/15/bin, `pg_config --bindir`
    (the latter only if it reports a PostgreSQL 15 installation)."""
    env = os.environ.get("PGMIG_PG_BINDIR")
    if env:
        if _has_server_bins(env):
            return env
        raise HarnessError("PGMIG_PG_BINDIR=%s does not contain initdb, pg_ctl and postgres" % env)
    tried = [DEFAULT_BINDIR]
    if _has_server_bins(DEFAULT_BINDIR):
        return DEFAULT_BINDIR
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            d = subprocess.run([pg_config, "--bindir"], capture_output=True,
                               text=True, timeout=30, check=True).stdout.strip()
            tried.append(d + " (pg_config)")
            if _has_server_bins(d) and pg_version(d).split(".")[0] == PG_MAJOR:
                return d
        except (OSError, subprocess.SubprocessError):
            pass
    raise HarnessError(
        "PostgreSQL %s server binaries (initdb, pg_ctl, postgres) not found; looked in: %s. "
        "Install postgresql-%s (Debian) or set PGMIG_PG_BINDIR."
        % (PG_MAJOR, ", ".join(tried) or "(nothing)", PG_MAJOR))


@functools.lru_cache(maxsize=None)
def pg_version(bindir=None):
    """Full version string of the server binary, e.g. '15.18 (Debian 15.18-0+deb12u1)'."""
    bindir = bindir or find_bindir()
    out = subprocess.run([os.path.join(bindir, "postgres"), "--version"],
                         capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    return out.split(")", 1)[1].strip() if ")" in out else out


def _find_psql(bindir):
    for p in (os.path.join(bindir, "psql"), shutil.which("psql")):
        if p and os.access(p, os.X_OK):
            return p
    raise HarnessError("psql not found (looked in %s and $PATH); install postgresql-client" % bindir)


def server_user():
    """(name, uid, gid) of the OS user that owns data dirs and runs the server."""
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam(SERVER_USER_WHEN_ROOT)
        except KeyError:
            raise HarnessError("running as root but system user %r does not exist "
                               "(it is created by the postgresql package)" % SERVER_USER_WHEN_ROOT)
        return pw.pw_name, pw.pw_uid, pw.pw_gid
    pw = pwd.getpwuid(os.geteuid())
    return pw.pw_name, pw.pw_uid, os.getegid()


def _as_server_user(argv):
    """Prefix argv so that it runs as the server user (no-op when not root)."""
    if os.geteuid() != 0:
        return list(argv)
    runuser = shutil.which("runuser") or ("/usr/sbin/runuser" if os.path.exists("/usr/sbin/runuser") else None)
    if runuser:
        return [runuser, "-u", SERVER_USER_WHEN_ROOT, "--"] + list(argv)
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, "--reuid=" + SERVER_USER_WHEN_ROOT, "--regid=" + SERVER_USER_WHEN_ROOT,
                "--init-groups", "--"] + list(argv)
    raise HarnessError("running as root but neither runuser nor setpriv is available "
                       "to drop privileges to %r" % SERVER_USER_WHEN_ROOT)


def _clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_PG_ENV_PREFIX) or k.startswith(_KEEP_ENV_PREFIX)}
    env["LC_ALL"] = "C"
    env.pop("LANG", None)
    env.pop("LANGUAGE", None)
    if extra:
        env.update(extra)
    return env


def _run(argv, *, as_server=False, timeout=120, cwd="/", check=True, what=None):
    if as_server:
        argv = _as_server_user(argv)
    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=timeout, cwd=cwd, env=_clean_env())
    except subprocess.TimeoutExpired as e:
        raise HarnessError("%s timed out after %ss: %s" % (what or argv[0], timeout, shlex.join(argv))) from e
    if check and cp.returncode != 0:
        raise HarnessError("%s failed (exit %d): %s\n--- stdout ---\n%s--- stderr ---\n%s"
                           % (what or os.path.basename(argv[0]), cp.returncode, shlex.join(argv),
                              cp.stdout, cp.stderr))
    return cp


def _free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _check_traversable(path, uid):
    """Make sure the server user can reach `path` (matters when root uses e.g. TMPDIR=/root/tmp)."""
    if os.geteuid() != 0:
        return
    p = os.path.dirname(os.path.abspath(path))
    while True:
        st = os.stat(p)
        if not (st.st_uid == uid or st.st_mode & 0o001):
            raise HarnessError("directory %s is not searchable by the server user %r; "
                               "use a base dir under /tmp (e.g. TMPDIR=/tmp)" % (p, SERVER_USER_WHEN_ROOT))
        if p == "/":
            return
        p = os.path.dirname(p)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except OSError:
        pass
    return True


_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


class _Subreaper:
    """While active, orphaned descendants (the postmaster, once pg_ctl exits)
    are re-parented to this process instead of PID 1, so stop() can reap
    them immediately rather than leaving '[postgres] <defunct>' zombies until
    init gets round to it (container inits are often slow or never reap)."""

    _libc = None

    def __enter__(self):
        self.prev = None
        try:
            import ctypes
            if _Subreaper._libc is None:
                _Subreaper._libc = ctypes.CDLL(None, use_errno=True)
            val = ctypes.c_int(0)
            if _Subreaper._libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(val), 0, 0, 0) == 0:
                self.prev = val.value
                if not self.prev:
                    _Subreaper._libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except Exception:   # not Linux / no ctypes: zombies are then init's business
            self.prev = None
        return self

    def __exit__(self, *exc):
        if self.prev == 0:
            _Subreaper._libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        return False


def _reap(pid, timeout=0.0):
    """Wait up to `timeout` s for `pid` to exit, reaping it if it is our child.
    Returns True once it is gone (or only a zombie of somebody else's)."""
    deadline = time.monotonic() + timeout
    ours = True
    while True:
        if ours:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    return True
            except ChildProcessError:       # not our child (or already reaped)
                ours = False
        if not ours and not _pid_alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


# ------------------------------------------------------------ template cache

def _cache_dir(uid_for_name):
    d = os.environ.get("PGMIG_TEST_CACHE")
    if d:
        return os.path.abspath(d)
    return os.path.join("/tmp", "pgmig-initdb-cache-%d-%s" % (uid_for_name, PG_MAJOR))


def _ensure_private_dir(path):
    """Create `path` 0755 owned by us, or verify an existing one is ours and not writable by others."""
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise HarnessError("template cache %s exists but is not a directory" % path)
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise HarnessError("template cache %s is not owned by uid %d or is group/world writable; "
                           "remove it or set PGMIG_TEST_CACHE" % (path, os.geteuid()))


_INITDB_ARGS = ["-A", "trust", "-U", DB_SUPERUSER, "--no-sync", "-E", "UTF8", "--locale=C",
                "--no-instructions"]


def _initdb(bindir, datadir, srv_uid, srv_gid):
    """Run initdb into `datadir` (which must not exist or be empty), as the server user."""
    if not os.path.isdir(datadir):
        os.mkdir(datadir, 0o700)
    if os.geteuid() == 0:
        os.chown(datadir, srv_uid, srv_gid)
    _run([os.path.join(bindir, "initdb"), "-D", datadir] + _INITDB_ARGS,
         as_server=True, timeout=300, cwd=os.path.dirname(datadir), what="initdb")
    with open(os.path.join(datadir, "postgresql.conf"), "a") as f:
        f.write("\n# added by pgmig tests/integration/pgharness.py\n" + INCLUDE_LINE)


def _template_stamp(bindir):
    return {"bindir": os.path.realpath(bindir), "version": pg_version(bindir),
            "initdb_args": _INITDB_ARGS, "include": INCLUDE_LINE, "format": 1}


def _template_ok(tdir, stamp):
    try:
        with open(os.path.join(tdir, "pgharness-template.json")) as f:
            if json.load(f) != stamp:
                return False
    except (OSError, ValueError):
        return False
    return (os.path.isfile(os.path.join(tdir, "PG_VERSION"))
            and os.path.isfile(os.path.join(tdir, "global", "pg_control"))
            and not os.path.exists(os.path.join(tdir, "postmaster.pid")))


def _get_template(bindir, srv_uid, srv_gid, rebuild=False):
    """Path of a valid cached initdb'd data dir; builds it (under flock) if needed."""
    cache = _cache_dir(os.geteuid())
    _ensure_private_dir(cache)
    _check_traversable(os.path.join(cache, "x"), srv_uid)
    tdir = os.path.join(cache, "template")
    stamp = _template_stamp(bindir)
    with open(os.path.join(cache, "lock"), "a+") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        try:
            if not rebuild and _template_ok(tdir, stamp):
                return tdir
            tmp = tempfile.mkdtemp(prefix="template.tmp.", dir=cache)
            try:
                os.chmod(tmp, 0o700)
                _initdb(bindir, tmp, srv_uid, srv_gid)
                sf = os.path.join(tmp, "pgharness-template.json")
                with open(sf, "w") as f:
                    json.dump(stamp, f)
                if os.geteuid() == 0:
                    os.chown(sf, srv_uid, srv_gid)
                if os.path.lexists(tdir):
                    old = tdir + ".old.%d" % os.getpid()
                    os.rename(tdir, old)
                    shutil.rmtree(old, ignore_errors=True)
                os.rename(tmp, tdir)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return tdir
        finally:
            fcntl.flock(lockf, fcntl.LOCK_UN)


def _copy_template(tdir, datadir):
    """cp -a the template and verify the copy looks like a usable data dir."""
    cache = os.path.dirname(tdir)
    with open(os.path.join(cache, "lock"), "a+") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_SH)   # don't copy while someone rebuilds it
        try:
            _run(["cp", "-a", "--", tdir, datadir], timeout=300, what="cp -a template")
        finally:
            fcntl.flock(lockf, fcntl.LOCK_UN)
    for rel in ("PG_VERSION", "global/pg_control", "postgresql.conf", "base"):
        if not os.path.exists(os.path.join(datadir, rel)):
            raise HarnessError("template copy %s is missing %s" % (datadir, rel))
    with open(os.path.join(datadir, "PG_VERSION")) as f:
        if f.read().strip() != PG_MAJOR:
            raise HarnessError("template copy %s is not a PostgreSQL %s data dir" % (datadir, PG_MAJOR))
    os.chmod(datadir, 0o700)


# ------------------------------------------------------ live-cluster registry

_registry_lock = threading.RLock()
_live = []            # clusters started by this process and not yet stopped
_handlers_installed = False
_prev_sigterm = None
_counter = itertools.count(1)


def stop_all(mode="fast"):
    """Stop every cluster this process started and has not stopped/detached yet."""
    with _registry_lock:
        clusters = list(_live)
    for c in clusters:
        if c._owner_pid != os.getpid():   # forked child: parent's clusters are not ours
            continue
        try:
            c.stop(mode=mode)
        except Exception as e:  # keep going: stop the others too
            print("pgharness: failed to stop cluster %s: %s" % (c.base, e), file=sys.stderr)


def _sigterm_handler(signum, frame):
    stop_all(mode="fast")
    prev = _prev_sigterm
    if callable(prev):
        prev(signum, frame)
        return
    if prev == signal.SIG_IGN:
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers():
    global _handlers_installed, _prev_sigterm
    with _registry_lock:
        if _handlers_installed:
            return
        _handlers_installed = True
        atexit.register(stop_all)
        if threading.current_thread() is threading.main_thread():
            prev = signal.getsignal(signal.SIGTERM)
            if prev is not _sigterm_handler:
                _prev_sigterm = prev
                signal.signal(signal.SIGTERM, _sigterm_handler)


# ------------------------------------------------------------------- Cluster

class Cluster:
    """A private PostgreSQL 15 server in a temp dir.

    Cluster(tcp=False, base=None, keep=None, extra_conf=None, use_template=True)

    tcp        also listen on 127.0.0.1:<port> (default: Unix socket only)
    base       base dir to use instead of a fresh mkdtemp() (created if missing;
               never deleted by stop())
    keep       keep the temp dir after stop(); default (None): keep iff env
               PGMIG_KEEP_TEST_DIRS=1 when stop() runs
    extra_conf dict {name: value} or a string of postgresql.conf lines,
               appended after the harness defaults
    use_template  copy the cached initdb template (default) instead of running initdb
    """

    user = DB_SUPERUSER

    def __init__(self, tcp=False, base=None, keep=None, extra_conf=None, use_template=True):
        self.tcp = bool(tcp)
        self._given_base = os.path.abspath(base) if base else None
        self._keep = keep
        self.extra_conf = extra_conf
        self.use_template = use_template
        self.bindir = find_bindir()
        self.psql_bin = _find_psql(self.bindir)
        self.base = None
        self.datadir = None
        self.host = None
        self.port = None
        self.logfile = None
        self.timings = {}
        self._running = False
        self._pm_pid = None
        self._owner_pid = os.getpid()

    @property
    def keep(self):
        """Whether stop() keeps the base dir: always for an explicit base dir,
        else the `keep` argument, else env PGMIG_KEEP_TEST_DIRS=1 (read at stop time)."""
        if self._given_base is not None:
            return True
        if self._keep is not None:
            return bool(self._keep)
        return os.environ.get("PGMIG_KEEP_TEST_DIRS") == "1"

    # -- lifecycle --------------------------------------------------------
    def start(self):
        """Create the cluster (template copy or initdb), configure and start it. Returns self."""
        if self._running:
            return self
        t0 = time.monotonic()
        _install_handlers()
        srv_name, srv_uid, srv_gid = server_user()
        self._owner_pid = os.getpid()
        if self.base is None or (not self._given_base and not os.path.isdir(self.base)):
            # first start, or start() again after stop() removed the temp dir
            if self._given_base:
                os.makedirs(self._given_base, exist_ok=True)
                self.base = self._given_base
            else:
                self.base = tempfile.mkdtemp(prefix="pgmig-pg-")
            self.datadir = os.path.join(self.base, "data")
            self.logfile = os.path.join(self.base, "server.log")
            self.host = self.base
        fresh_base = not os.path.exists(self.datadir)
        try:
            if len((self.host + "/.s.PGSQL.65535").encode()) > MAX_SOCKET_PATH:
                raise HarnessError("base dir %s is too long for a Unix socket path (max %d bytes); "
                                   "use a shorter dir" % (self.base, MAX_SOCKET_PATH))
            _check_traversable(self.base, srv_uid)
            if os.geteuid() == 0:
                os.chown(self.base, srv_uid, srv_gid)
            os.chmod(self.base, 0o700)
            from_template = False
            if fresh_base:
                from_template = self._create_datadir(srv_uid, srv_gid)
            elif not os.path.isfile(os.path.join(self.datadir, "PG_VERSION")):
                raise HarnessError("%s exists but is not a data dir" % self.datadir)
            self.timings["create"] = time.monotonic() - t0
            with _registry_lock:
                if self not in _live:
                    _live.append(self)
            self._start_server(retry_from_template=from_template, srv=(srv_uid, srv_gid))
        except BaseException:
            self._cleanup_failed_start()
            raise
        self.timings["start_total"] = time.monotonic() - t0
        return self

    def _create_datadir(self, srv_uid, srv_gid):
        src = getattr(self, "_standby_source", None)
        if src is not None:
            # a streaming standby: a base backup of the primary with -R
            _run([os.path.join(self.bindir, "pg_basebackup"), "-D", self.datadir,
                  "-R", "-X", "stream", "-c", "fast", "-h", src.host,
                  "-p", str(src.port), "-U", DB_SUPERUSER],
                 as_server=True, timeout=300, cwd=self.base, what="pg_basebackup")
            return False
        if self.use_template:
            try:
                tdir = _get_template(self.bindir, srv_uid, srv_gid)
                _copy_template(tdir, self.datadir)
                return True
            except HarnessError as e:
                print("pgharness: template cache unusable (%s); falling back to initdb" % e, file=sys.stderr)
                shutil.rmtree(self.datadir, ignore_errors=True)
        _initdb(self.bindir, self.datadir, srv_uid, srv_gid)
        return False

    def _write_conf(self, port=None):
        self.port = port or _free_port()
        lines = [
            "# written by pgharness.py; rewritten on every start",
            "listen_addresses = '%s'" % ("127.0.0.1" if self.tcp else ""),
            "port = %d" % self.port,
            "unix_socket_directories = '%s'" % self.host.replace("'", "''"),
            "shared_preload_libraries = 'pg_stat_statements'",
            "pg_stat_statements.track = all",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 200",
            "log_min_messages = warning",
            "logging_collector = off",
        ]
        if isinstance(self.extra_conf, dict):
            for k, v in self.extra_conf.items():
                if isinstance(v, bool):
                    v = "on" if v else "off"
                if isinstance(v, str):
                    v = "'%s'" % v.replace("'", "''")
                lines.append("%s = %s" % (k, v))
        elif self.extra_conf:
            lines.append(str(self.extra_conf))
        path = os.path.join(self.datadir, HARNESS_CONF)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            _, uid, gid = server_user()
            os.chown(path, uid, gid)
        conf = os.path.join(self.datadir, "postgresql.conf")
        with open(conf) as f:
            has_include = INCLUDE_LINE.strip() in f.read()
        if not has_include:
            with open(conf, "a") as f:
                f.write("\n" + INCLUDE_LINE)

    def _start_server(self, retry_from_template=False, srv=None, port=None):
        # A free TCP port may be grabbed between our probe and the server's bind:
        # retry with a new one (unless the caller insists on `port`, e.g. restart()).
        attempts = 3 if (self.tcp and not port) else 1
        last = None
        for attempt in range(attempts + (1 if retry_from_template else 0)):
            self._write_conf(port)
            t0 = time.monotonic()
            with _Subreaper():
                cp = _run([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-l", self.logfile,
                           "-w", "-t", "60", "start"],
                          as_server=True, timeout=120, cwd=self.base, check=False, what="pg_ctl start")
            if cp.returncode == 0:
                self.timings["pg_ctl_start"] = time.monotonic() - t0
                self._running = True
                self._pm_pid = self.pid
                self._write_state()
                return
            last = cp
            self._kill_own_postmaster()
            if retry_from_template and attempt == 0 and not self._log_says_port_in_use():
                # a broken cached template? rebuild the cache and recreate the data dir once
                print("pgharness: server failed to start from the cached template; rebuilding it",
                      file=sys.stderr)
                shutil.rmtree(self.datadir, ignore_errors=True)
                tdir = _get_template(self.bindir, srv[0], srv[1], rebuild=True)
                _copy_template(tdir, self.datadir)
                retry_from_template = False
        raise HarnessError("pg_ctl start failed (exit %d) for %s\n--- pg_ctl ---\n%s%s\n--- server log (tail) ---\n%s"
                           % (last.returncode, self.datadir, last.stdout, last.stderr, self._log_tail()))

    def _log_says_port_in_use(self):
        return "Address already in use" in self._log_tail()

    def _log_tail(self, n=40):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def _write_state(self):
        state = {"base": self.base, "datadir": self.datadir, "host": self.host, "port": self.port,
                 "user": self.user, "tcp": self.tcp, "logfile": self.logfile, "bindir": self.bindir}
        with open(os.path.join(self.base, STATE_FILE), "w") as f:
            json.dump(state, f, indent=1)

    @property
    def pid(self):
        """PID of this cluster's postmaster (from postmaster.pid), or None."""
        if not self.datadir:
            return None
        try:
            with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def is_running(self):
        pid = self.pid
        return bool(pid) and _pid_alive(pid) and self._pid_is_ours(pid)

    def _pid_is_ours(self, pid):
        """Is `pid` a postgres process serving exactly our data dir?"""
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            return False
        return os.fsencode(self.datadir) in argv

    def _kill_own_postmaster(self):
        """Last resort: kill only the postmaster recorded in OUR postmaster.pid."""
        pid = self.pid
        if not pid or not _pid_alive(pid) or not self._pid_is_ours(pid):
            return
        for sig, wait in ((signal.SIGQUIT, 10), (signal.SIGKILL, 10)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            if _reap(pid, timeout=wait):
                return

    def _stop_server(self, mode="fast"):
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError("mode must be smart, fast or immediate")
        if not self.datadir or not os.path.exists(os.path.join(self.datadir, "postmaster.pid")):
            self._running = False
            return
        t0 = time.monotonic()
        cp = _run([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-m", mode,
                   "-w", "-t", "60", "stop"],
                  as_server=True, timeout=120, cwd=self.base, check=False, what="pg_ctl stop")
        if cp.returncode != 0 or self.is_running():
            self._kill_own_postmaster()
        if self._pm_pid:
            _reap(self._pm_pid, timeout=5)
            self._pm_pid = None
        self.timings["pg_ctl_stop"] = time.monotonic() - t0
        self._running = False

    def stop(self, mode="fast"):
        """Stop this cluster's server (only this one) and remove its temp dir
        (unless keep / PGMIG_KEEP_TEST_DIRS=1 / explicit base). Idempotent."""
        if self.base is None:
            return
        try:
            self._stop_server(mode)
        finally:
            with _registry_lock:
                if self in _live:
                    _live.remove(self)
            if not self.keep and os.path.isdir(self.base) and not self.is_running():
                shutil.rmtree(self.base, ignore_errors=True)

    def restart(self, mode="fast"):
        """Stop and start the server, keeping data dir, host and port."""
        if self.base is None:
            raise HarnessError("restart() before start()")
        self._stop_server(mode)
        with _registry_lock:
            if self not in _live:
                _live.append(self)
        self._start_server(port=self.port)
        return self

    def halt(self, mode="immediate"):
        """Stop the server but keep everything (data dir, port) for resume();
        mode="immediate" is a crash as far as clients can tell."""
        self._stop_server(mode)

    def resume(self):
        """Start the server again after halt(), on the same port."""
        with _registry_lock:
            if self not in _live:
                _live.append(self)
        self._start_server(port=self.port)
        return self

    def make_standby(self):
        """A streaming standby of this (running) cluster: a new Cluster
        started from pg_basebackup -R on its own port and temp dir."""
        sb = Cluster(use_template=False)
        sb._standby_source = self
        return sb.start()

    def promote(self):
        """Promote a standby (pg_ctl promote -w)."""
        _run([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-w",
              "promote"], as_server=True, timeout=120, cwd=self.base,
             what="pg_ctl promote")

    def detach(self):
        """Forget this cluster: it will not be stopped at exit (used by the CLI)."""
        with _registry_lock:
            if self in _live:
                _live.remove(self)

    def _cleanup_failed_start(self):
        try:
            self._kill_own_postmaster()
        finally:
            with _registry_lock:
                if self in _live:
                    _live.remove(self)
            self._running = False
            if self.base and not self.keep and not self._given_base:
                shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def __repr__(self):
        return "<Cluster base=%r port=%r running=%r>" % (self.base, self.port, self._running)

    # -- connection helpers ----------------------------------------------
    def conninfo(self, dbname="postgres"):
        """libpq keyword/value connection string for `dbname` over the Unix socket."""
        def q(v):
            v = str(v)
            if v and not any(ch in v for ch in " '\\"):
                return v
            return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "host=%s port=%s dbname=%s user=%s" % (q(self.host), self.port, q(dbname), q(self.user))

    def tcp_conninfo(self, dbname="postgres"):
        """Like conninfo() but over TCP (requires Cluster(tcp=True))."""
        if not self.tcp:
            raise HarnessError("cluster was not started with tcp=True")
        return "host=127.0.0.1 port=%s dbname=%s user=%s" % (self.port, dbname, self.user)

    def env(self):
        """Environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE) for child processes."""
        return {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user,
                "PGDATABASE": "postgres"}

    def _psql_argv(self, db, extra=()):
        # -F: fields separated by ASCII unit separator 0x1f.
        # -0: records terminated by NUL.  (With -R '\x1e' psql still ends the
        #     last record of every result set with '\n', which is ambiguous
        #     when values contain newlines or several statements return rows;
        #     NUL cannot occur in PostgreSQL text, and with -0 psql terminates
        #     every record, including the last, with it.)
        return [self.psql_bin, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-F", FIELD_SEP, "-0", "-P", "footer=off",
                "-h", self.host, "-p", str(self.port), "-U", self.user] + list(extra) + ["-d", db]

    @staticmethod
    def _parse(out):
        """psql -A -t -F 0x1f -0 output -> list of rows (list of str)."""
        if not out:
            return []
        recs = out.split(RECORD_TERM)
        if recs and recs[-1].strip("\n") == "":
            recs.pop()      # text after the final terminator (normally nothing)
        return [rec.split(FIELD_SEP) for rec in recs]

    def _run_psql(self, argv, input_text, check, timeout):
        if not self._running:
            raise HarnessError("cluster is not running")
        cp = subprocess.run(argv, input=input_text, capture_output=True, text=True,
                            timeout=timeout, cwd="/", env=_clean_env())
        self.last_stderr = cp.stderr
        self.last_returncode = cp.returncode
        if check and cp.returncode != 0:
            raise PsqlError("psql failed (exit %d) on db %s: %s"
                            % (cp.returncode, argv[-1], cp.stderr.strip()),
                            cp.returncode, cp.stdout, cp.stderr)
        return self._parse(cp.stdout)

    def psql(self, sql, db="postgres", check=True, timeout=300):
        """Run SQL (any number of statements / psql meta-commands, fed on stdin) and
        return all result rows as a list of lists of str (NULL -> '').
        Raises PsqlError on failure when check=True."""
        return self._run_psql(self._psql_argv(db), sql, check, timeout)

    def psql_file(self, path, db="postgres", check=True, timeout=600):
        """Run an SQL file with psql -f (ON_ERROR_STOP=1); returns result rows like psql()."""
        return self._run_psql(self._psql_argv(db, ["-f", os.path.abspath(path)]), None, check, timeout)

    def createdb(self, name=None, template="template0"):
        """Create a fresh (empty, from template0) database; returns its name."""
        if name is None:
            name = "t_%d_%d_%s" % (os.getpid(), next(_counter), os.urandom(3).hex())
        ident = '"%s"' % name.replace('"', '""')
        self.psql("CREATE DATABASE %s TEMPLATE %s" % (ident, '"%s"' % template.replace('"', '""')))
        return name

    def dropdb(self, name):
        ident = '"%s"' % name.replace('"', '""')
        self.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % ident)

    # -- CLI support -------------------------------------------------------
    @classmethod
    def attach(cls, base):
        """A Cluster object for a cluster previously started by `pgharness.py start base`."""
        base = os.path.abspath(base)
        try:
            with open(os.path.join(base, STATE_FILE)) as f:
                st = json.load(f)
        except OSError as e:
            raise HarnessError("%s: no %s (was it started with `pgharness.py start`?): %s"
                               % (base, STATE_FILE, e))
        c = cls(tcp=st.get("tcp", False), base=base, keep=True)
        c.base, c.datadir, c.host, c.port = st["base"], st["datadir"], st["host"], st["port"]
        c.logfile = st.get("logfile")
        c._running = c.is_running()
        return c


# ----------------------------------------------------------------------- CLI

def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="pgharness.py", description="throw-away PostgreSQL clusters for pgmig tests")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("start", help="start a cluster in DIR (created if missing, never auto-deleted); "
                                     "prints shell-evaluable PGHOST=/PGPORT=/PGUSER= lines")
    p.add_argument("dir")
    p.add_argument("--tcp", action="store_true", help="also listen on 127.0.0.1")
    p = sub.add_parser("stop", help="stop the cluster in DIR (DIR is kept)")
    p.add_argument("dir")
    p.add_argument("--mode", default="fast", choices=("smart", "fast", "immediate"))
    p = sub.add_parser("createdb", help="create database NAME in the cluster in DIR")
    p.add_argument("dir")
    p.add_argument("name")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "start":
            base = os.path.abspath(a.dir)
            if os.path.exists(os.path.join(base, STATE_FILE)):
                old = Cluster.attach(base)
                if old.is_running():
                    raise HarnessError("a cluster is already running in %s (port %s)" % (base, old.port))
            c = Cluster(tcp=a.tcp, base=base, keep=True)
            c.start()
            c.detach()
            out = [("PGHOST", c.host), ("PGPORT", str(c.port)), ("PGUSER", c.user),
                   ("PGDATA", c.datadir), ("PGMIG_CONNINFO", c.conninfo("postgres"))]
            for k, v in out:
                print("%s=%s" % (k, shlex.quote(v)))
            print("export " + " ".join(k for k, _ in out))
        elif a.cmd == "stop":
            c = Cluster.attach(a.dir)
            c._stop_server(a.mode)
        elif a.cmd == "createdb":
            c = Cluster.attach(a.dir)
            if not c._running:
                raise HarnessError("cluster in %s is not running" % c.base)
            print(c.createdb(a.name))
    except HarnessError as e:
        print("pgharness: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
