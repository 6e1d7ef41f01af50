#!/usr/bin/env python3
"""bash completion for pgmigctl (completions/pgmigctl): bash sources the
file, COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT are set as readline would,
_pgmigctl runs and COMPREPLY is printed.  Commands, aliases and options
must match src/cmd_list.h (the script reads them from pgmigctl --help, so
this catches a parser gone stale); database, job and table names come
from a real daemon, honouring -s, --socket=, $PGMIGD_SOCKET and -d; with
no daemon, or one that never answers, nothing is offered, quietly, within
3 seconds; and an interactive bash on a pty completes with TAB."""

import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgharness import Cluster
from pgmigtest import Daemon, PGMIGCTL, Results, SRCDIR

R = Results("t_completion")
COMPLETION = os.path.join(SRCDIR, "completions", "pgmigctl")
TMP = tempfile.mkdtemp(prefix="pgmig-compl-")
os.chmod(TMP, 0o755)
NOSOCK = os.path.join(TMP, "nothing-here.sock")
# pgmigctl from the build dir first; never a system daemon by accident
ENV = dict(os.environ,
           PATH=os.path.dirname(os.path.abspath(PGMIGCTL)) + os.pathsep +
           os.environ.get("PATH", "/usr/bin:/bin"),
           PGMIGD_SOCKET=NOSOCK)

# bash -c DRIVER COMPLETION WORD...: the last word is the one completed
# (at its end), as bash calls a -F function: $1 command, $2 cur, $3 prev.
DRIVER = r'''
source "$0" || exit 99
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
_pgmigctl "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
    "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''

stderr_seen = []


def complete(*words, env=None):
    """COMPREPLY for the command line words (last one being completed),
    and the seconds it took."""
    e = dict(ENV)
    if env:
        e.update(env)
    t = time.monotonic()
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", DRIVER,
                        COMPLETION] + list(words),
                       capture_output=True, text=True, env=e, cwd=TMP,
                       timeout=30)
    took = time.monotonic() - t
    if p.returncode != 0 or p.stderr:
        stderr_seen.append("%r: exit %d: %s" % (words, p.returncode,
                                                   p.stderr))
    return [w for w in p.stdout.split("\n") if w], took


sockets = {}    # socket path: its short name in messages


def show(words):
    """The command line, "|" where the cursor is, sockets shortened."""
    line = "pgmigctl %s|" % " ".join(words[1:])
    for path, short in sockets.items():
        line = line.replace(path, short)
    return line


def check(words, want, msg=None, env=None):
    got, _ = complete(*words, env=env)
    R.eq(sorted(got), sorted(want), msg or show(words))


def cmd_list():
    """(name, alias, usage, options) of every CMD in src/cmd_list.h."""
    with open(os.path.join(SRCDIR, "src", "cmd_list.h")) as f:
        text = f.read()
    out = []
    for m in re.finditer(r'CMD\(\w+,\s*"([^"]+)",\s*(NULL|"[^"]*"),\s*'
                         r'"([^"]*)",\s*-?\d+,\s*-?\d+,\s*[^,]+,\s*'
                         r'"([^"]*)"', text):
        alias = None if m.group(2) == "NULL" else m.group(2).strip('"')
        opts = ["--" + o.rstrip("=") for o in m.group(4).split(",") if o]
        out.append((m.group(1), alias, m.group(3), opts))
    return out


def pty_complete(keys, env=None, timeout=10):
    """Type keys into an interactive bash on a pty that has sourced the
    completion; Ctrl-T prints the edited line as <<LINE>>.  Returns LINE
    (None if it never came)."""
    e = dict(ENV, PS1="$ ", TERM="dumb", INPUTRC="/dev/null")
    if env:
        e.update(env)
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.chdir(TMP)
            os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], e)
        finally:
            os._exit(127)
    out = b""

    def read_until(pred, secs):
        nonlocal out
        end = time.monotonic() + secs
        while time.monotonic() < end and not pred(out):
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    break
        return pred(out)

    try:
        os.write(fd, b"source '%s'; bind -x '\"\\C-t\": printf "
                 b"\"\\n<<%%s>>\\n\" \"$READLINE_LINE\"'; echo READY\n" %
                 COMPLETION.encode())
        read_until(lambda o: b"\nREADY" in o.replace(b"\r", b""), timeout)
        out = b""
        os.write(fd, keys.encode())
        time.sleep(0.2)         # let TAB finish before asking for the line
        os.write(fd, b"\x14")
        read_until(lambda o: re.search(rb"<<.*>>", o), timeout)
        m = re.search(rb"<<(.*)>>", out)
        return m.group(1).decode() if m else None
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


try:
    # ------------------------------------------------- without a daemon
    R.ok(os.path.isfile(COMPLETION), "completions/pgmigctl exists")
    check(["pgmigctl", "st"], ["status"])
    check(["pgmigctl", "va"], ["vacuum"])
    check(["pgmigctl", "vacuum", "tracks", "--a"], ["--analyze"])
    check(["pgmigctl", "--j"], ["--json"])
    check(["pgmigctl", "--d"], ["--database"])
    check(["pgmigctl", "-"], ["-s", "--socket", "-d", "--database", "-j",
                              "--json", "-V", "--version", "-h", "--help"])

    cmds = cmd_list()
    R.ok(len(cmds) >= 20, "src/cmd_list.h parsed (%d commands)" % len(cmds))
    # a two-word command ("migrate up") is offered by its first word
    names = sorted(set(c[0].split()[0] for c in cmds)) + \
        [c[1] for c in cmds if c[1]] + ["help"]
    check(["pgmigctl", ""], names,
          "every command and alias of cmd_list.h, and help")
    check(["pgmigctl", "-j", "-s", "/x", "-d", "db", ""], names,
          "commands after global options and their values")
    check(["pgmigctl", "sl"], ["slow-queries"], "alias slow-queries")
    for name, alias, usage, opts in cmds:
        check(["pgmigctl"] + name.split() + ["--"], opts,
              "%s: its options from cmd_list.h %s" % (name, opts))
        if alias:
            check(["pgmigctl", alias, "--"], opts,
                  "alias %s: the options of %s" % (alias, name))
    subs = sorted(c[0].split()[1] for c in cmds if c[0].startswith("migrate "))
    R.ok(len(subs) == 7, "seven migrate subcommands in cmd_list.h")
    check(["pgmigctl", "migrate", ""], subs, "migrate: its subcommands")
    check(["pgmigctl", "migrate", "u"], ["up"])
    check(["pgmigctl", "-d", "db", "migrate", "down", "--s"], ["--steps"])
    check(["pgmigctl", "analyze-queries", "--order", ""], ["mean", "total"])
    check(["pgmigctl", "analyze-queries", "--limit", "5", "--order", "t"],
          ["total"])
    check(["pgmigctl", "history", "--limit", ""], [],
          "no guess for a number")
    check(["pgmigctl", "vacuum", "tracks", ""], ["--analyze", "--full"],
          "after the table: its options")
    check(["pgmigctl", "vacuum", "--full", "tracks", "--"], ["--analyze",
                                                            "--full"])
    check(["pgmigctl", "help", "va"], ["vacuum"])
    check(["pgmigctl", "ping", ""], [], "ping: nothing to offer")

    open(os.path.join(TMP, "control-x.sock"), "w").close()
    check(["pgmigctl", "-s", os.path.join(TMP, "control-")],
          [os.path.join(TMP, "control-x.sock")], "-s completes files")
    check(["pgmigctl", "--socket", "=", os.path.join(TMP, "control-")],
          [os.path.join(TMP, "control-x.sock")],
          "--socket=PATH (split at = by readline) completes files")

    for words in (["pgmigctl", "run", ""], ["pgmigctl", "-d", ""],
                  ["pgmigctl", "vacuum", ""], ["pgmigctl", "history", "n"]):
        got, took = complete(*words)
        R.ok(got == [] and took < 3.0,
             "no daemon: %s offers nothing in %.2f s" % (show(words), took),
             got)

    # a socket that accepts (in the backlog) and never answers
    hung = os.path.join(TMP, "hung.sock")
    sockets[hung] = "HUNG"
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(hung)
    ls.listen(16)
    for words in (["pgmigctl", "-s", hung, "run", ""],
                  ["pgmigctl", "-s", hung, "-d", ""]):
        got, took = complete(*words)
        R.ok(got == [] and took < 3.0,
             "daemon never answers: %s offers nothing in %.2f s" %
             (show(words), took), got)
    ls.close()

    line = pty_complete("pgmigctl sta\t")
    R.eq(line, "pgmigctl status ", "interactive bash: TAB completes sta")
    line = pty_complete("pgmigctl vacuum tracks --f\t")
    R.eq(line, "pgmigctl vacuum tracks --full ",
         "interactive bash: TAB completes --f")

    # ---------------------------------------------------- with a daemon
    with Cluster() as pg:
        db = pg.createdb()
        pg.psql("CREATE TABLE tracks (id int PRIMARY KEY); "
                "CREATE SCHEMA other_s; CREATE TABLE other_s.albums (id int); "
                "CREATE MATERIALIZED VIEW mv_pop AS SELECT 1 AS x; "
                "CREATE TABLE \"$(touch PWNED)\" (x int); "
                "CREATE TABLE \"Odd Name\" (x int)", db=db)
        dbs = ('{ name = "music"; conninfo = "%s"; jobs = ( { name = '
               '"nightly"; type = "sql"; schedule = "@daily"; sql = '
               '"SELECT 1"; } ); }' % pg.conninfo(db))
        with Daemon(databases=dbs) as d:
            S = d.sock
            sockets[S] = "SOCK"
            check(["pgmigctl", "-s", S, "-d", ""], ["music"])
            check(["pgmigctl", "-s", S, "--database", "mu"], ["music"])
            check(["pgmigctl", "-s", S, "--database", "=", "mu"], ["music"],
                  "--database=mu (split at = by readline)")
            check(["pgmigctl", "-d", ""], ["music"],
                  "-d: the daemon of $PGMIGD_SOCKET",
                  env={"PGMIGD_SOCKET": S})
            check(["pgmigctl", "-s", S, "run", ""], ["nightly"])
            check(["pgmigctl", "-s", S, "--json", "run", "--detach", "n"],
                  ["nightly"], "run --detach n")
            check(["pgmigctl", "-s", S, "history", "ni"], ["nightly"])
            check(["pgmigctl", "-s", S, "cancel", ""], ["nightly"])
            check(["pgmigctl", "run", ""], ["nightly"],
                  "run: the daemon of $PGMIGD_SOCKET",
                  env={"PGMIGD_SOCKET": S})
            check(["pgmigctl", "--socket=" + S, "run", ""], ["nightly"],
                  "--socket=SOCK as one word")
            check(["pgmigctl", "--socket", "=", S, "run", ""], ["nightly"],
                  "--socket=SOCK split at = by readline")
            check(["pgmigctl", "-s" + S, "run", ""], ["nightly"],
                  "-sSOCK")
            check(["pgmigctl", "-s", S, "-d", "music", "run", ""],
                  ["nightly"], "run, -d music")
            check(["pgmigctl", "-s", S, "-d", "nosuchdb", "run", ""], [],
                  "run, -d of an unknown database: nothing")
            check(["pgmigctl", "-s", S, "run", "nightly", ""], ["--detach"],
                  "after the job: --detach")

            got, _ = complete("pgmigctl", "-s", S, "vacuum", "tr")
            R.ok(got in (["tracks"], ["public.tracks"],
                         ["public.tracks", "tracks"]),
                 "pgmigctl -s SOCK vacuum tr| offers tracks (%r)" % got)
            check(["pgmigctl", "-s", S, "vacuum", "public.t"],
                  ["public.tracks"])
            check(["pgmigctl", "-s", S, "analyze", "other_s."],
                  ["other_s.albums"])
            check(["pgmigctl", "-s", S, "refresh", "mv"], ["mv_pop"])
            got, _ = complete("pgmigctl", "-s", S, "vacuum", "")
            R.ok({"public.tracks", "tracks", "other_s.albums"} <= set(got),
                 "vacuum: every table", got)
            R.ok(not any("PWNED" in g or "Odd" in g for g in got) and
                 not os.path.exists(os.path.join(TMP, "PWNED")),
                 "quoted names are left out and never expanded", got)
            check(["pgmigctl", "-s", S, "vacuum", "tracks", "--", ""], [],
                  "after --: no options")

            line = pty_complete("pgmigctl --socket=%s run \t" % S)
            R.eq(line, "pgmigctl --socket=%s run nightly " % S,
                 "interactive bash: TAB completes the job (--socket=SOCK)")
            line = pty_complete("pgmigctl -d mu\t",
                                env={"PGMIGD_SOCKET": S})
            R.eq(line, "pgmigctl -d music ",
                 "interactive bash: TAB completes the database")

        # two databases: -d picks one's jobs and tables
        dbs2 = dbs + (', { name = "archive"; conninfo = "%s"; jobs = ( { '
                      'name = "weekly"; type = "sql"; schedule = "@weekly"; '
                      'sql = "SELECT 1"; } ); }' % pg.conninfo(db))
        with Daemon(databases=dbs2) as d:
            S = d.sock
            sockets[S] = "SOCK2"
            check(["pgmigctl", "-s", S, "-d", ""], ["archive", "music"],
                  "two databases")
            check(["pgmigctl", "-s", S, "run", ""], ["nightly", "weekly"],
                  "run: the jobs of every database")
            check(["pgmigctl", "-s", S, "-d", "archive", "run", ""],
                  ["weekly"], "run, -d archive: its jobs only")
            check(["pgmigctl", "-d", "music", "-s", S, "history", ""],
                  ["nightly"], "history, -d music before -s")
            check(["pgmigctl", "-s", S, "-d", "music", "vacuum", "tr"],
                  ["tracks"], "vacuum, -d music")

    R.ok(not stderr_seen, "completion never wrote to stderr nor failed",
         "\n".join(stderr_seen))
finally:
    if os.environ.get("PGMIG_KEEP_TEST_DIRS") != "1":
        shutil.rmtree(TMP, ignore_errors=True)

R.summary()
