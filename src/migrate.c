/*
 * migrate.c: the migration engine (see migrate.h).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "migfile.h"
#include "migplan.h"
#include "migrate.h"
#include "migsql.h"
#include "pgconn.h"
#include "pgmigd.h"
#include "run.h"
#include "util.h"

#define MIG_BACKOFF_MS 1000		/* first pause after a lock timeout */
#define MIG_BACKOFF_MAX_MS 30000
#define MIG_BACKUP_TAIL 400		/* bytes of a failed backup's output */

/*
 * A file goes to the server as one query string; if pgmigd dies while a
 * long statement runs, the server would go on to COMMIT.  With this
 * (PostgreSQL 14+) it checks the client every second during a statement
 * and rolls the file back when pgmigd is gone.
 */
#define CLIENT_UTF8 "SET client_encoding = 'UTF8'"	/* files are UTF-8 */
#define CHECK_CLIENT "SELECT pg_catalog.set_config(" \
	"'client_connection_check_interval', '1s', false) WHERE " \
	"pg_catalog.current_setting('server_version_num')::pg_catalog.int4 " \
	">= 140000"


enum mig_step {
	E_PROBE,
	E_CREATE,
	E_ROWS,
	E_BACKUP,
	E_WRITE,		/* baseline, repair */
	E_TX,			/* a file in its transaction */
	E_TX_ROLLBACK,		/* before trying it again */
	E_DRY_BEGIN,
	E_DRY_FILE,
	E_DRY_END,
	E_NT_MARK,		/* the failed-until-done history row */
	E_NT_CHECK,		/* an INVALID index from an earlier try? */
	E_NT_DROP,
	E_NT_SET,		/* lock_timeout for the next statement */
	E_NT_STMT,
	E_NT_FAILED,		/* record the time of the failure */
	E_NT_DONE,		/* success = true, and the session reset */
	E_ANALYZE_NAMES,
	E_ANALYZE,
	E_WAIT,			/* a timer of ours (backoff) */
};

struct mig_item {
	const struct migfile *f;
	char *row_version;	/* as migrations_table has it ("1" for 001) */
	bool own_lock_timeout;	/* the file sets lock_timeout itself */
	char *name;		/* file name, for messages */
	char *text;		/* the file (or its rollback) */
	struct migsql sql;
};

struct migrate {
	struct pgmigd *d;
	struct db *db;
	enum migrate_op op;
	char *to;
	int64_t steps;
	bool dry_run, allow_changed;
	char *version;
	char *who;
	/* configuration, copied: a reload may change it meanwhile */
	char *table;		/* quoted */
	char *table_name;	/* as configured, for the lock and messages */
	char *schema;		/* quoted */
	char *dir;
	char *backup_command;
	int64_t lock_timeout_ms, statement_timeout_ms, retries;
	int64_t lock_wait_ms;
	int lint;
	/* state */
	struct run *run;
	struct run_body body;
	struct migset set;
	struct mighist hist;
	struct mig_item *items;
	size_t nitems, cur, stmt;
	enum mig_step step;
	int attempt;
	int64_t file_started_ms;
	bool table_exists, schema_exists;
	struct event *timer;
	struct timeval backoff;	/* the pause before the next try */
	char *batch;		/* the file's batch, for error positions */
	json_t *done;		/* applied or reverted */
	json_t *warnings;	/* lint findings of what up applies */
	json_t *touched;	/* tables, for ANALYZE */
	json_t *result;
	json_t *stopped;	/* dry run: where it stopped, and why */
	char *analyze_list;
	/* backup_command */
	pid_t backup_pid;
	int backup_fd;
	struct event *backup_ev;
	struct event *kill_timer;
	char backup_tail[MIG_BACKUP_TAIL + 1];
	size_t backup_len;
};

static void file_next(struct migrate *);
static void file_start(struct migrate *);
static void nt_next(struct migrate *);
static void nt_stmt(struct migrate *);
static void finish_ok(struct migrate *);

/* ---- names */

/* migrate_table_sql: migrations_table ("s.t" or "t") quoted for SQL. */
char *
migrate_table_sql(const char *t)
{
	const char *dot = strchr(t, '.');
	char *a, *b, *out;

	if (dot == NULL) {
		a = sql_quote_ident("public", 6);
		b = sql_quote_ident(t, strlen(t));
	} else {
		a = sql_quote_ident(t, (size_t)(dot - t));
		b = sql_quote_ident(dot + 1, strlen(dot + 1));
	}
	xasprintf(&out, "%s.%s", a, b);
	free(a);
	free(b);
	return out;
}

/* migrate_schema_sql: the schema of migrations_table, quoted. */
char *
migrate_schema_sql(const char *t)
{
	const char *dot = strchr(t, '.');

	return dot == NULL ? sql_quote_ident("public", 6) :
	    sql_quote_ident(t, (size_t)(dot - t));
}

static char *
literal(struct migrate *m, const char *s)
{
	PGconn *pg = run_pg(m->run);
	char *l = PQescapeLiteral(pg, s, strlen(s)), *out;

	if (l == NULL)
		fatalx("PQescapeLiteral: %s", PQerrorMessage(pg));
	out = xstrdup(l);
	PQfreemem(l);
	return out;
}

/* the session as pgmigd set it up, after a file may have changed it */
static char *
reset_sql(struct migrate *m)
{
	char *s;

	xasprintf(&s, "SET SESSION AUTHORIZATION DEFAULT; RESET ALL; "
	    "SET statement_timeout = %lld; SET lock_timeout = %lld; "
	    "DEALLOCATE ALL; UNLISTEN *; DISCARD TEMP; DISCARD SEQUENCES; "
	    CLIENT_UTF8 "; " CHECK_CLIENT, (long long)m->statement_timeout_ms,
	    (long long)m->lock_timeout_ms);
	return s;
}

/* end the open transaction and reset the session, then go to step */
static void
rollback(struct migrate *m, enum mig_step step)
{
	char *reset = reset_sql(m), *sql;

	xasprintf(&sql, "ROLLBACK; %s", reset);
	free(reset);
	m->step = step;
	run_body_exec(m->run, sql);
	free(sql);
}

/* ---- life cycle */

static void
items_free(struct migrate *m)
{
	size_t i;

	for (i = 0; i < m->nitems; i++) {
		free(m->items[i].name);
		free(m->items[i].row_version);
		free(m->items[i].text);
		migsql_free(&m->items[i].sql);
	}
	free(m->items);
	m->items = NULL;
	m->nitems = 0;
}

/* migrate_free: free m (the run is over). */
void
migrate_free(struct migrate *m)
{
	if (m == NULL)
		return;
	if (m->timer != NULL)
		event_free(m->timer);
	if (m->backup_ev != NULL)
		event_free(m->backup_ev);
	if (m->kill_timer != NULL)
		event_free(m->kill_timer);
	if (m->backup_fd >= 0)
		close(m->backup_fd);
	items_free(m);
	migset_free(&m->set);
	mighist_free(&m->hist);
	json_decref(m->done);
	json_decref(m->warnings);
	json_decref(m->touched);
	json_decref(m->result);
	json_decref(m->stopped);
	free(m->analyze_list);
	free(m->batch);
	free(m->to);
	free(m->version);
	free(m->who);
	free(m->table);
	free(m->table_name);
	free(m->schema);
	free(m->dir);
	free(m->backup_command);
	free(m);
}

/* migrate_result: the command's result (borrowed), once it succeeded. */
json_t *
migrate_result(struct migrate *m)
{
	return m->result;
}

/* ---- ending */

static void
log_file(struct migrate *m, enum log_event ev, const char *version,
    int64_t ms, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
log_file(struct migrate *m, enum log_event ev, const char *version,
    int64_t ms, const char *sqlstate, const char *fmt, ...)
{
	char id[32], dur[32], *msg;
	va_list ap;
	struct log_field f[] = {
		{ "PGMIG_DATABASE", m->db->name },
		{ "PGMIG_JOB", "migrate" },
		{ "PGMIG_JOB_TYPE", "migrate" },
		{ "PGMIG_RUN_ID", id },
		{ "PGMIG_MIGRATION", version },
		{ "PGMIG_DURATION_MS", dur },
		{ "PGMIG_SQLSTATE", sqlstate },
	};

	snprintf(id, sizeof(id), "%lld", (long long)run_id(m->run));
	snprintf(dur, sizeof(dur), "%lld", (long long)ms);
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	log_event(ev == LOG_EV_MIGRATION_FAILED ? LOG_ERR : LOG_INFO, ev, f,
	    nitems(f), "%s", msg);
	free(msg);
}

static json_t *
report(struct migrate *m)
{
	static const char *const ops[] = { "up", "down", "baseline",
	    "repair" };

	return json_pack("{s:s,s:O,s:b}", "op", ops[m->op], m->op ==
	    MIGRATE_DOWN ? "reverted" : "applied", m->done, "dry_run",
	    m->dry_run);
}

static void
fail(struct migrate *m, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct migrate *m, const char *sqlstate, const char *fmt, ...)
{
	va_list ap;
	char *msg, *full;
	size_t i;
	json_t *e;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	/* what did happen before the failure is part of the story */
	if (json_array_size(m->done) > 0 && !m->dry_run) {
		char *list = xstrdup(""), *tmp;

		json_array_foreach(m->done, i, e) {
			xasprintf(&tmp, "%s%s%s", list, i > 0 ? ", " : "",
			    json_string_value(json_object_get(e, "version")));
			free(list);
			list = tmp;
		}
		xasprintf(&full, "%s (%s before it: %s)", msg, m->op ==
		    MIGRATE_DOWN ? "reverted" : "applied", list);
		free(list);
	} else
		full = xstrdup(msg);
	free(msg);
	m->db->migrations_checked_ms = 0;
	run_set_report(m->run, report(m));
	run_body_done(m->run, false, full, sqlstate);
	free(full);
}

static void set_result(struct migrate *);

static void
finish_ok(struct migrate *m)
{
	m->db->migrations_checked_ms = 0;	/* metrics: count again */
	set_result(m);
	run_set_rows(m->run, (int64_t)json_array_size(m->done));
	run_set_report(m->run, report(m));
	run_body_done(m->run, true, NULL, NULL);
}

/* ---- the error's place in a file */

/*
 * the file line of a batch error: the statement that failed (the
 * results before it succeeded), refined by the error's position
 * (characters from the start of the batch) when there is one
 */
/*
 * the line of the batch at an error position: characters (not bytes:
 * UTF-8 lead bytes only) from its start, 1-based
 */
static int
position_line(const char *batch, const char *pos)
{
	long chars = strtol(pos, NULL, 10), c = 0;
	const unsigned char *p = (const unsigned char *)batch;
	int l = 1;

	for (; *p != '\0'; p++) {
		if ((*p & 0xc0) != 0x80 && ++c >= chars)
			break;
		if (*p == '\n')
			l++;
	}
	return l;
}

static int
error_line(struct migrate *m, PGresult *res, const char *batch,
    int prefix_results, int prefix_lines, int *stmt)
{
	struct mig_item *it = &m->items[m->cur];
	int k = pgconn_results_ok(run_conn(m->run)) - prefix_results;
	const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	int line = -1, l = pos != NULL && batch != NULL ?
	    position_line(batch, pos) - prefix_lines : -1;

	*stmt = k;
	if (k < 0 && l >= 1) {
		/* refused as a whole (a syntax this server does not know):
		 * nothing ran; the position names the line */
		*stmt = 0;
		if (l <= migsql_line_at(it->text, strlen(it->text)))
			return l;
		/* past the file: something in it (a string or comment the
		 * server reads differently) swallowed what follows; the last
		 * statement is where to look */
		if (it->sql.n > 0)
			return it->sql.v[it->sql.n - 1].line;
		*stmt = -1;
		return -1;
	}
	if (k < 0 || (size_t)k >= it->sql.n)
		return -1;
	line = it->sql.v[k].line;
	/* within the failing statement: the exact line */
	if (l >= line && ((size_t)k + 1 >= it->sql.n ||
	    l <= it->sql.v[k + 1].line))
		line = l;
	return line;
}

/* ---- backoff */

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct migrate *m = arg;

	(void)fd;
	(void)what;
	if (run_cancelling(m->run)) {
		run_body_done(m->run, false, NULL, NULL);
		return;
	}
	if (m->items[m->cur].sql.nontx)
		nt_next(m);
	else
		file_start(m);
}

/* retry: a lock timeout or deadlock: again later, or give up */
static bool
retry_later(struct migrate *m, const char *state, bool arm)
{
	int64_t ms;
	struct timeval tv;
	char *phase;

	if (state == NULL || (strcmp(state, "55P03") != 0 &&
	    strcmp(state, "40P01") != 0) || m->attempt > m->retries ||
	    run_cancelling(m->run))
		return false;
	ms = MIG_BACKOFF_MS << (m->attempt - 1 < 5 ? m->attempt - 1 : 5);
	if (ms > MIG_BACKOFF_MAX_MS)
		ms = MIG_BACKOFF_MAX_MS;
	ms = ms / 2 + (int64_t)(random() % (ms / 2 + 1));
	xasprintf(&phase, "%s: %s; try %d of %lld in %.1f s",
	    m->items[m->cur].name, strcmp(state, "55P03") == 0 ?
	    "lock timeout" : "deadlock", m->attempt + 1,
	    (long long)m->retries + 1, (double)ms / 1000.0);
	log_info("%s on %s", phase, m->db->name);
	run_body_progress(m->run, phase, -1);
	free(phase);
	m->attempt++;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	m->backoff = tv;
	if (arm) {
		m->step = E_WAIT;
		evtimer_add(m->timer, &tv);
	}
	return true;
}

/* ---- backup_command */

/*
 * Children whose run ended before they did: killed (the whole process
 * group: a pipeline in backup_command is several processes) and reaped
 * from a timer, never with a blocking waitpid.
 */
static struct event *reap_ev;
static pid_t reap_pids[16];

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, 200000 };
	bool left = false;
	size_t i;

	(void)fd;
	(void)what;
	(void)arg;
	for (i = 0; i < nitems(reap_pids); i++) {
		if (reap_pids[i] <= 0)
			continue;
		if (waitpid(reap_pids[i], NULL, WNOHANG) != 0)
			reap_pids[i] = 0;
		else
			left = true;
	}
	if (left)
		evtimer_add(reap_ev, &tv);
}

static void
orphan(struct migrate *m, pid_t pid)
{
	struct timeval tv = { 0, 50000 };
	size_t i;

	(void)kill(-pid, SIGKILL);
	if (reap_ev == NULL && (reap_ev = evtimer_new(m->d->base, reap_cb,
	    NULL)) == NULL)
		fatalx("evtimer_new failed");
	for (i = 0; i < nitems(reap_pids); i++) {
		if (reap_pids[i] <= 0) {
			reap_pids[i] = pid;
			break;
		}
	}
	evtimer_add(reap_ev, &tv);
}

/* migrate_shutdown: the loop is about to go (pgmigd exits). */
void
migrate_shutdown(void)
{
	if (reap_ev != NULL)
		event_free(reap_ev);
	reap_ev = NULL;
}

static void backup_reap(struct migrate *);

static void
backup_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct migrate *m = arg;
	char buf[4096];
	ssize_t n;

	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		/* keep the tail: the end of the output says what failed */
		if ((size_t)n >= MIG_BACKUP_TAIL) {
			memcpy(m->backup_tail, buf + n - MIG_BACKUP_TAIL,
			    MIG_BACKUP_TAIL);
			m->backup_len = MIG_BACKUP_TAIL;
		} else {
			size_t keep = MIG_BACKUP_TAIL - (size_t)n;

			if (m->backup_len > keep) {
				memmove(m->backup_tail, m->backup_tail +
				    m->backup_len - keep, keep);
				m->backup_len = keep;
			}
			memcpy(m->backup_tail + m->backup_len, buf, (size_t)n);
			m->backup_len += (size_t)n;
		}
		return;
	}
	/* EOF: the command (and whatever it started) closed its output */
	event_free(m->backup_ev);
	m->backup_ev = NULL;
	close(m->backup_fd);
	m->backup_fd = -1;
	backup_reap(m);
}

static void
backup_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	backup_reap(arg);
}

static void
backup_reap(struct migrate *m)
{
	int status;
	pid_t p = waitpid(m->backup_pid, &status, WNOHANG);

	if (p == 0) {
		/* output closed, not exited yet: look again shortly */
		struct timeval tv = { 0, 20000 };

		event_free(m->timer);
		m->timer = evtimer_new(m->d->base, backup_poll_cb, m);
		evtimer_add(m->timer, &tv);
		return;
	}
	event_free(m->timer);
	m->timer = evtimer_new(m->d->base, timer_cb, m);
	if (m->timer == NULL)
		fatalx("evtimer_new failed");
	if (m->kill_timer != NULL)
		event_del(m->kill_timer);
	m->backup_pid = 0;
	if (p == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *p2;

		m->backup_tail[m->backup_len] = '\0';
		for (p2 = m->backup_tail; *p2 != '\0'; p2++)
			if (*p2 == '\n' || *p2 == '\r' || *p2 == '\t')
				*p2 = ' ';
		if (run_cancelling(m->run)) {
			run_body_done(m->run, false, NULL, NULL);
			return;
		}
		if (p != -1 && WIFSIGNALED(status))
			fail(m, NULL, "backup_command was killed by signal %d; "
			    "nothing was applied: %s", WTERMSIG(status),
			    m->backup_tail);
		else
			fail(m, NULL, "backup_command failed (exit %d); "
			    "nothing was applied: %s", p != -1 &&
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			    m->backup_tail);
		return;
	}
	log_info("backup_command for %s succeeded", m->db->name);
	m->cur = 0;
	file_start(m);
}

/* the command with %d (database), %t (UTC time stamp) and %% expanded */
static char *
backup_expand(struct migrate *m)
{
	PGconn *pg = run_pg(m->run);
	const char *dbn = PQdb(pg) != NULL ? PQdb(pg) : m->db->name;
	char stamp[32], *out = xstrdup(""), *tmp;
	const char *p;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (p = m->backup_command; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'd') {
			xasprintf(&tmp, "%s%s", out, dbn);
			p++;
		} else if (p[0] == '%' && p[1] == 't') {
			xasprintf(&tmp, "%s%s", out, stamp);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			xasprintf(&tmp, "%s%%", out);
			p++;
		} else
			xasprintf(&tmp, "%s%c", out, *p);
		free(out);
		out = tmp;
	}
	return out;
}

/*
 * backup_start: run backup_command with /bin/sh, its output to a pipe we
 * read on the loop; PGHOST, PGPORT, PGDATABASE, PGUSER name the database
 * of the migration so "pg_dump -Fc -f /var/backups/%d-%t.dump" needs no
 * conninfo (a password comes from the passfile, as for pgmigd).
 */
static void
backup_start(struct migrate *m)
{
	PGconn *pg = run_pg(m->run);
	char *cmd = backup_expand(m), *phase;
	int fds[2];
	pid_t pid;

	sigset_t all, old;

	m->step = E_BACKUP;
	if (pipe2(fds, O_CLOEXEC) == -1) {
		free(cmd);
		fail(m, NULL, "backup_command: pipe: %s", strerror(errno));
		return;
	}
	/* no signal may reach the child's copy of libevent's handlers (they
	 * would write to the daemon's signal pipe): blocked until exec */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == -1) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(fds[0]);
		close(fds[1]);
		free(cmd);
		fail(m, NULL, "backup_command: fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC), sig;
		sigset_t none;

		/* its own process group: a cancel stops the whole pipeline */
		(void)setpgid(0, 0);
		if (null != -1)
			dup2(null, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		for (sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				(void)signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (PQhost(pg) != NULL && PQhost(pg)[0] != '\0')
			setenv("PGHOST", PQhost(pg), 1);
		if (PQport(pg) != NULL && PQport(pg)[0] != '\0')
			setenv("PGPORT", PQport(pg), 1);
		if (PQdb(pg) != NULL)
			setenv("PGDATABASE", PQdb(pg), 1);
		if (PQuser(pg) != NULL)
			setenv("PGUSER", PQuser(pg), 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	(void)setpgid(pid, pid);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fds[1]);
	m->backup_pid = pid;
	m->backup_fd = fds[0];
	(void)fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
	m->backup_ev = event_new(m->d->base, fds[0], EV_READ | EV_PERSIST,
	    backup_read_cb, m);
	if (m->backup_ev == NULL)
		fatalx("event_new failed");
	event_add(m->backup_ev, NULL);
	xasprintf(&phase, "running backup_command (pid %ld)", (long)pid);
	log_info("%s for %s: %s", phase, m->db->name, cmd);
	run_body_progress(m->run, phase, -1);
	free(phase);
	free(cmd);
}

/* ---- steps */

static void
probe(struct migrate *m)
{
	const char *params[2] = { m->table, m->schema };

	m->step = E_PROBE;
	run_body_query(m->run, "SELECT pg_catalog.to_regclass($1) IS NOT NULL, "
	    "pg_catalog.to_regnamespace($2) IS NOT NULL, (" CHECK_CLIENT "), "
	    "pg_catalog.set_config('client_encoding', 'UTF8', false)",
	    2, params);
}

static void
create_table(struct migrate *m)
{
	char *sql;

	m->step = E_CREATE;
	/* CREATE SCHEMA IF NOT EXISTS wants CREATE on the database even when
	 * the schema exists: only when it does not */
	xasprintf(&sql, "%s%s%sCREATE TABLE IF NOT EXISTS %s ("
	    " version text PRIMARY KEY,"
	    " description text NOT NULL,"
	    " checksum text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now(),"
	    " execution_ms bigint NOT NULL DEFAULT 0,"
	    " applied_by text NOT NULL DEFAULT current_user,"
	    " transactional boolean NOT NULL DEFAULT true,"
	    " success boolean NOT NULL)",
	    m->schema_exists ? "" : "CREATE SCHEMA IF NOT EXISTS ",
	    m->schema_exists ? "" : m->schema, m->schema_exists ? "" : "; ",
	    m->table);
	run_body_exec(m->run, sql);
	free(sql);
}

/*
 * migrate_history_sql: the query every reader of migrations_table (the
 * quoted name) runs; migrate_history_load turns its result into rows.
 */
char *
migrate_history_sql(const char *table)
{
	char *sql;

	xasprintf(&sql, "SELECT version, description, checksum, "
	    "pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), execution_ms, transactional, "
	    "success FROM %s", table);
	return sql;
}

/* migrate_history_load: the rows of migrate_history_sql, sorted. */
void
migrate_history_load(struct mighist *h, PGresult *res)
{
	int i;

	for (i = 0; res != NULL && i < PQntuples(res); i++)
		mighist_add(h, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2), PQgetisnull(res, i, 3) ? NULL :
		    PQgetvalue(res, i, 3), strtoll(PQgetvalue(res, i, 4), NULL,
		    10), PQgetvalue(res, i, 5)[0] == 't',
		    PQgetvalue(res, i, 6)[0] == 't');
	mighist_sort(h);
}

static void
read_rows(struct migrate *m)
{
	char *sql = migrate_history_sql(m->table);

	m->step = E_ROWS;
	run_body_query(m->run, sql, 0, NULL);
	free(sql);
}

/* load and parse the plan's files; refuse what cannot run */
static int
load_items(struct migrate *m, const size_t *idx, size_t n)
{
	size_t i;

	m->items = xcalloc(n + 1, sizeof(*m->items));
	for (i = 0; i < n; i++) {
		struct mig_item *it = &m->items[m->nitems++];
		const struct migfile *f = &m->set.v[idx[i]];
		const char *path = m->op == MIGRATE_DOWN ? f->rollback_path :
		    f->path;
		size_t k;

		it->f = f;
		it->name = xstrdup(path_base(path));
		it->row_version = xstrdup(m->op == MIGRATE_DOWN &&
		    mighist_find(&m->hist, f->version) != NULL ?
		    mighist_find(&m->hist, f->version)->version : f->version);
		if (m->op == MIGRATE_DOWN) {
			struct migfile rb;
			char *cause = NULL;

			memset(&rb, 0, sizeof(rb));
			if (migfile_load(path, &rb, &cause) == -1) {
				fail(m, NULL, "%s; nothing was %s", cause,
				    "reverted");
				free(cause);
				return -1;
			}
			it->text = rb.text;
		} else
			it->text = xstrdup(f->text);
		if (migsql_parse(it->text, &it->sql) == -1) {
			fail(m, "42601", "%s:%d: %s; nothing was %s", it->name,
			    it->sql.error_line, it->sql.error, m->op ==
			    MIGRATE_DOWN ? "reverted" : "applied");
			return -1;
		}
		for (k = 0; k < it->sql.n; k++) {
			const char *var = json_string_value(json_object_get(
			    it->sql.v[k].node, "name"));

			if (strcmp(it->sql.v[k].kind, "VariableSetStmt") == 0 &&
			    var != NULL && strcmp(var, "lock_timeout") == 0)
				it->own_lock_timeout = true;
			if (it->sql.v[k].flags & MS_TXCONTROL) {
				fail(m, "25000", "%s:%d: transaction control "
				    "(BEGIN, COMMIT, ROLLBACK, SAVEPOINT) in a "
				    "migration: pgmigd runs each file in its "
				    "own transaction; remove it (nothing was "
				    "%s)", it->name, it->sql.v[k].line,
				    m->op == MIGRATE_DOWN ? "reverted" :
				    "applied");
				return -1;
			}
		}
		if (it->sql.n == 0) {
			fail(m, NULL, "%s: no statements; nothing was %s",
			    it->name, m->op == MIGRATE_DOWN ? "reverted" :
			    "applied");
			return -1;
		}
	}
	return 0;
}

/* up: the lint findings of what it applies; an error with lint=error */
static int
lint_items(struct migrate *m)
{
	size_t i, j, errors = 0;
	json_t *e;

	for (i = 0; i < m->nitems; i++) {
		json_t *f = migsql_lint(m->items[i].name, m->items[i].text,
		    &m->items[i].sql);

		json_array_foreach(f, j, e)
			if (strcmp(json_string_value(json_object_get(e,
			    "severity")), "error") == 0)
				errors++;
		json_array_extend(m->warnings, f);
		json_decref(f);
	}
	if (m->lint == 1 && errors > 0 && !m->dry_run) {
		json_t *first = NULL;

		json_array_foreach(m->warnings, j, e)
			if (strcmp(json_string_value(json_object_get(e,
			    "severity")), "error") == 0 && first == NULL)
				first = e;
		fail(m, NULL, "migrations_lint = \"error\": %zu lint error%s, "
		    "first %s:%lld: %s (%s); nothing was applied (migrate "
		    "lint lists them; -- pgmig:disable RULE silences one)",
		    errors, errors == 1 ? "" : "s", json_string_value(
		    json_object_get(first, "file")), (long long)
		    json_integer_value(json_object_get(first, "line")),
		    json_string_value(json_object_get(first, "message")),
		    json_string_value(json_object_get(first, "rule")));
		return -1;
	}
	return 0;
}

static void
write_simple(struct migrate *m, const char *sql)
{
	m->step = E_WRITE;
	run_body_exec(m->run, sql);
}

/* plan: the history is in m->hist; decide, and start */
static void
plan(struct migrate *m)
{
	size_t *idx = NULL, n = 0;
	char *err = NULL, *sql;

	switch (m->op) {
	case MIGRATE_BASELINE: {
		const struct migfile *f = migset_find(&m->set, m->version);
		char *v, *c, *who;

		if (m->hist.n > 0) {
			fail(m, NULL, "%s already holds %zu migration record%s: "
			    "baseline is for a database that has none (use "
			    "migrate status)", m->table_name, m->hist.n,
			    m->hist.n == 1 ? "" : "s");
			return;
		}
		v = literal(m, m->version);
		c = literal(m, f != NULL ? f->checksum : "");
		who = literal(m, m->who);
		xasprintf(&sql, "INSERT INTO %s (version, description, "
		    "checksum, applied_at, execution_ms, applied_by, "
		    "transactional, success) VALUES (%s, '" MIGPLAN_BASELINE
		    "', %s, now(), 0, session_user || ' via ' || %s, true, "
		    "true)", m->table, v, c, who);
		free(v);
		free(c);
		free(who);
		json_array_append_new(m->done, json_pack("{s:s,s:I}",
		    "version", m->version, "execution_ms", (json_int_t)0));
		write_simple(m, sql);
		free(sql);
		return;
	}
	case MIGRATE_REPAIR: {
		const struct migrow *r = mighist_find(&m->hist, m->version);
		const struct migfile *f = migset_find(&m->set, m->version);
		char *v;

		if (r == NULL) {
			fail(m, NULL, "%s has no record of migration %s",
			    m->table_name, m->version);
			return;
		}
		v = literal(m, r->version);
		if (!r->success) {
			xasprintf(&sql, "DELETE FROM %s WHERE version = %s "
			    "AND NOT success", m->table, v);
			json_array_append_new(m->done, json_pack("{s:s,s:s}",
			    "version", r->version, "action", "removed the "
			    "failed record: up runs it again"));
		} else if (f != NULL && !r->baseline &&
		    strcmp(f->checksum, r->checksum) != 0) {
			char *c = literal(m, f->checksum);

			xasprintf(&sql, "UPDATE %s SET checksum = %s WHERE "
			    "version = %s", m->table, c, v);
			free(c);
			json_array_append_new(m->done, json_pack("{s:s,s:s}",
			    "version", r->version, "action", "recorded the "
			    "edited file's checksum"));
		} else {
			free(v);
			fail(m, NULL, "migration %s needs no repair: it "
			    "succeeded and its file is unchanged", m->version);
			return;
		}
		free(v);
		write_simple(m, sql);
		free(sql);
		return;
	}
	case MIGRATE_UP:
		if (migplan_up(&m->set, &m->hist, m->to, m->allow_changed,
		    &idx, &n, &err) == -1) {
			fail(m, NULL, "%s", err);
			free(err);
			return;
		}
		break;
	case MIGRATE_DOWN:
		if (migplan_down(&m->set, &m->hist, m->to, m->steps, &idx, &n,
		    &err) == -1) {
			fail(m, NULL, "%s", err);
			free(err);
			return;
		}
		break;
	}
	if (load_items(m, idx, n) == -1) {
		free(idx);
		return;
	}
	free(idx);
	if (m->op == MIGRATE_UP && lint_items(m) == -1)
		return;
	if (m->nitems == 0) {
		finish_ok(m);
		return;
	}
	m->cur = 0;
	if (m->dry_run) {
		m->step = E_DRY_BEGIN;
		run_body_exec(m->run, "BEGIN");
		return;
	}
	if (m->op == MIGRATE_UP && m->backup_command[0] != '\0') {
		backup_start(m);
		return;
	}
	file_start(m);
}

/* the history row of a transactional file, in its transaction */
static char *
history_sql(struct migrate *m, bool success, bool transactional)
{
	struct mig_item *it = &m->items[m->cur];
	char *v = literal(m, it->f->version), *d = literal(m,
	    it->f->description), *c = literal(m, it->f->checksum);
	char *who = literal(m, m->who), *sql;

	xasprintf(&sql, "INSERT INTO %s (version, description, checksum, "
	    "applied_at, execution_ms, applied_by, transactional, success) "
	    "VALUES (%s, %s, %s, now(), (pg_catalog.date_part('epoch', "
	    "pg_catalog.clock_timestamp() - now()) * 1000)::bigint, "
	    "session_user || ' via ' || %s, %s, %s) ON CONFLICT (version) DO "
	    "UPDATE SET description = excluded.description, checksum = "
	    "excluded.checksum, applied_at = excluded.applied_at, "
	    "execution_ms = excluded.execution_ms, applied_by = "
	    "excluded.applied_by, transactional = excluded.transactional, "
	    "success = excluded.success", m->table, v, d, c, who,
	    transactional ? "true" : "false", success ? "true" : "false");
	free(v);
	free(d);
	free(c);
	free(who);
	return sql;
}

static void
progress_file(struct migrate *m, const char *what)
{
	char *phase;

	xasprintf(&phase, "%s %s", what, m->items[m->cur].name);
	run_body_progress(m->run, phase, 100.0 * (double)m->cur /
	    (double)m->nitems);
	free(phase);
}

/* file_start: the current file, from its first statement */
static void
file_start(struct migrate *m)
{
	struct mig_item *it = &m->items[m->cur];
	char *sql, *tail, *reset;

	if (run_cancelling(m->run)) {
		run_body_done(m->run, false, NULL, NULL);
		return;
	}
	if (m->attempt == 0)
		m->attempt = 1;
	m->file_started_ms = now_ms();
	progress_file(m, m->dry_run ? "trying" : m->op == MIGRATE_DOWN ?
	    "reverting" : "applying");
	if (m->dry_run) {
		if (it->sql.nontx) {
			/* cannot be tried and rolled back; nor can what
			 * follows it be tried without it */
			json_t *r = json_pack("{s:s,s:s}", "version",
			    it->f->version, "reason", "runs outside a "
			    "transaction: cannot be tried and rolled back; "
			    "the files after it were not tried either");

			m->stopped = r;
			rollback(m, E_DRY_END);
			return;
		}
		m->step = E_DRY_FILE;
		reset = reset_sql(m);
		xasprintf(&sql, "%s\n;%s", it->text, reset);
		free(reset);
		free(m->batch);
		m->batch = sql;
		run_body_exec(m->run, sql);
		return;
	}
	if (it->sql.nontx) {
		m->stmt = 0;
		m->step = E_NT_MARK;
		if (m->op == MIGRATE_DOWN) {
			/* the record stays until the last statement; marked
			 * failed meanwhile, so a crash leaves it blocking */
			char *v = literal(m, it->row_version);

			xasprintf(&sql, "UPDATE %s SET success = false WHERE "
			    "version = %s", m->table, v);
			free(v);
		} else
			sql = history_sql(m, false, false);
		run_body_exec(m->run, sql);
		free(sql);
		return;
	}
	reset = reset_sql(m);
	if (m->op == MIGRATE_DOWN) {
		char *v = literal(m, it->row_version);

		xasprintf(&tail, "DELETE FROM %s WHERE version = %s", m->table,
		    v);
		free(v);
	} else
		tail = history_sql(m, true, true);
	/* the file on lines of its own: a trailing -- comment or a missing
	 * semicolon cannot swallow what follows */
	xasprintf(&sql, "BEGIN;\n%s\n;%s;COMMIT;%s", it->text, tail, reset);
	free(tail);
	free(reset);
	m->step = E_TX;
	free(m->batch);
	m->batch = sql;
	run_body_exec(m->run, sql);
}

/* file_done: the current file is applied (or reverted) */
static void
file_done(struct migrate *m)
{
	struct mig_item *it = &m->items[m->cur];
	int64_t ms = now_ms() - m->file_started_ms;
	json_t *t;

	json_array_append_new(m->done, json_pack("{s:s,s:s,s:I,s:b}",
	    "version", it->f->version, "description", it->f->description,
	    "execution_ms", (json_int_t)ms, "transactional", !it->sql.nontx));
	if (!m->dry_run) {
		if (m->op == MIGRATE_DOWN)
			log_file(m, LOG_EV_MIGRATION_REVERTED, it->f->version,
			    ms, NULL, "migration %s reverted on %s by %s in "
			    "%lld ms", it->f->version, m->db->name, it->name,
			    (long long)ms);
		else
			log_file(m, LOG_EV_MIGRATION_APPLIED, it->f->version,
			    ms, NULL, "migration %s applied to %s in %lld ms "
			    "(%s)", it->f->version, m->db->name,
			    (long long)ms, it->name);
		if (m->op == MIGRATE_UP) {
			t = migsql_touched(&it->sql);
			json_array_extend(m->touched, t);
			json_decref(t);
		}
	}
	file_next(m);
}

static void
file_next(struct migrate *m)
{
	m->cur++;
	m->attempt = 0;
	if (m->cur < m->nitems) {
		file_start(m);
		return;
	}
	if (m->dry_run) {
		rollback(m, E_DRY_END);
		return;
	}
	if (m->op == MIGRATE_UP && json_array_size(m->touched) > 0) {
		char *names = json_dumps(m->touched, JSON_COMPACT);
		const char *params[1] = { names };

		m->step = E_ANALYZE_NAMES;
		run_body_progress(m->run, "analyzing the tables touched", -1);
		run_body_query(m->run, "SELECT pg_catalog.string_agg("
		    "pg_catalog.format('%I.%I', n.nspname, c.relname), ', ' "
		    "ORDER BY n.nspname, c.relname) FROM (SELECT DISTINCT "
		    "pg_catalog.to_regclass(g) AS oid FROM "
		    "pg_catalog.json_array_elements_text($1::pg_catalog.json) g) x"
		    " JOIN pg_catalog.pg_class c ON c.oid = x.oid JOIN "
		    "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE "
		    "c.relkind IN ('r', 'p', 'm') AND c.relpersistence <> 't'",
		    1, params);
		free(names);
		return;
	}
	finish_ok(m);
}

/* the result of `up`/`down` */
static void
set_result(struct migrate *m)
{
	json_t *stopped = m->stopped;

	m->stopped = NULL;
	json_decref(m->result);
	m->result = NULL;
	if (m->op == MIGRATE_DOWN)
		m->result = json_pack("{s:O}", "reverted", m->done);
	else if (m->op == MIGRATE_UP) {
		json_t *an = json_array();

		if (m->analyze_list != NULL) {
			char *p = m->analyze_list, *q;

			/* "a, b, c" back into a list */
			while (p != NULL && *p != '\0') {
				q = strstr(p, ", ");
				json_array_append_new(an, json_stringn(p, q !=
				    NULL ? (size_t)(q - p) : strlen(p)));
				p = q != NULL ? q + 2 : NULL;
			}
		}
		m->result = json_pack("{s:O,s:b,s:O,s:o,s:o}", "applied",
		    m->done, "dry_run", m->dry_run, "warnings", m->warnings,
		    "analyzed", an, "stopped_at", stopped != NULL ? stopped :
		    json_null());
		return;
	} else
		m->result = json_pack("{s:s,s:O}", m->op == MIGRATE_BASELINE ?
		    "baseline" : "repaired", m->version, "records", m->done);
	json_decref(stopped);
}

/* ---- files that cannot run in a transaction */

static void
nt_fail(struct migrate *m, PGresult *res)
{
	struct mig_item *it = &m->items[m->cur];
	char *msg = pgres_message(res), *v, *sql;
	const char *st = pgres_sqlstate(res);

	log_file(m, LOG_EV_MIGRATION_FAILED, it->f->version, now_ms() -
	    m->file_started_ms, st, "migration %s failed on %s: %s:%d: %s",
	    it->f->version, m->db->name, it->name, it->sql.v[m->stmt].line,
	    msg);
	/* keep the message for after the bookkeeping */
	json_decref(m->result);
	m->result = json_pack("{s:s,s:i,s:s,s:s?}", "message", msg, "line",
	    it->sql.v[m->stmt].line, "file", it->name, "sqlstate", st);
	free(msg);
	v = literal(m, it->row_version);
	xasprintf(&sql, "UPDATE %s SET execution_ms = %lld, success = false "
	    "WHERE version = %s", m->table, (long long)(now_ms() -
	    m->file_started_ms), v);
	free(v);
	m->step = E_NT_FAILED;
	run_body_exec(m->run, sql);
	free(sql);
}

/* nt_next: the next statement of a file outside a transaction */
static void
nt_next(struct migrate *m)
{
	struct mig_item *it = &m->items[m->cur];
	struct migstmt *s;
	char *table, *index, *sql;

	if (run_cancelling(m->run)) {
		run_body_done(m->run, false, NULL, NULL);
		return;
	}
	if (m->stmt >= it->sql.n) {
		char *v = literal(m, it->row_version), *reset = reset_sql(m);

		m->step = E_NT_DONE;
		if (m->op == MIGRATE_DOWN)
			xasprintf(&sql, "DELETE FROM %s WHERE version = %s; %s",
			    m->table, v, reset);
		else
			xasprintf(&sql, "UPDATE %s SET success = true, "
			    "execution_ms = %lld, applied_at = now() WHERE "
			    "version = %s; %s", m->table, (long long)(now_ms() -
			    m->file_started_ms), v, reset);
		free(v);
		free(reset);
		run_body_exec(m->run, sql);
		free(sql);
		return;
	}
	s = &it->sql.v[m->stmt];
	if ((s->flags & MS_CONCURRENT) && m->step != E_NT_CHECK &&
	    m->step != E_NT_DROP && migsql_index_target(s, &table, &index) ==
	    0) {
		/* an INVALID index of that name, from an earlier attempt?
		 * IF NOT EXISTS would keep it, invalid, for good */
		const char *params[2] = { table, index };

		m->step = E_NT_CHECK;
		run_body_query(m->run, "SELECT pg_catalog.format('%I.%I', "
		    "n.nspname, c.relname) FROM pg_catalog.pg_class c JOIN "
		    "pg_catalog.pg_index i ON i.indexrelid = c.oid JOIN "
		    "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE "
		    "i.indrelid = pg_catalog.to_regclass($1) AND c.relname = $2 "
		    "AND NOT i.indisvalid", 2, params);
		free(table);
		free(index);
		return;
	}
	/* CONCURRENTLY waits for older transactions by design, without
	 * blocking anyone: no lock_timeout for it; the rest keeps it (the
	 * file's own, when it sets one) */
	if (it->own_lock_timeout) {
		nt_stmt(m);
		return;
	}
	m->step = E_NT_SET;
	xasprintf(&sql, "SET lock_timeout = %lld", (s->flags & MS_CONCURRENT) ?
	    0LL : (long long)m->lock_timeout_ms);
	run_body_exec(m->run, sql);
	free(sql);
}

static void
nt_stmt(struct migrate *m)
{
	struct mig_item *it = &m->items[m->cur];
	struct migstmt *s = &it->sql.v[m->stmt];
	char *sql, *label;

	if (run_cancelling(m->run)) {
		run_body_done(m->run, false, NULL, NULL);
		return;
	}
	sql = xmalloc(s->len + 1);

	memcpy(sql, it->text + s->offset, s->len);
	sql[s->len] = '\0';

	if (strcmp(s->kind, "IndexStmt") == 0 || strcmp(s->kind,
	    "ReindexStmt") == 0) {
		xasprintf(&label, "%s:%d", it->name, s->line);
		run_body_watch_index(m->run, label);
		free(label);
	}
	m->step = E_NT_STMT;
	run_body_exec(m->run, sql);
	free(sql);
}

/* ---- results */

static void
body_result(struct run *r, PGresult *res, void *arg)
{
	struct migrate *m = arg;
	struct mig_item *it = m->nitems > 0 && m->cur < m->nitems ?
	    &m->items[m->cur] : NULL;
	bool ok = pgres_ok(res);
	const char *st = pgres_sqlstate(res);
	char *msg;

	(void)r;
	switch (m->step) {
	case E_PROBE:
		if (!ok)
			break;
		m->table_exists = PQgetvalue(res, 0, 0)[0] == 't';
		m->schema_exists = PQgetvalue(res, 0, 1)[0] == 't';
		if (!m->table_exists && (m->op == MIGRATE_UP && m->dry_run)) {
			plan(m);	/* nothing recorded: all pending */
			return;
		}
		if (!m->table_exists && (m->op == MIGRATE_DOWN ||
		    m->op == MIGRATE_REPAIR)) {
			fail(m, NULL, "%s does not exist: nothing was ever "
			    "applied with pgmigd here", m->table_name);
			return;
		}
		if (!m->table_exists)
			create_table(m);
		else
			read_rows(m);
		return;
	case E_CREATE:
		if (!ok)
			break;
		log_info("created the migrations table %s on %s",
		    m->table_name, m->db->name);
		read_rows(m);
		return;
	case E_ROWS:
		if (!ok)
			break;
		migrate_history_load(&m->hist, res);
		plan(m);
		return;
	case E_WRITE:
		if (!ok)
			break;
		finish_ok(m);
		return;
	case E_DRY_BEGIN:
		if (!ok)
			break;
		file_start(m);
		return;
	case E_DRY_FILE:
	case E_TX: {
		int stmt, line;

		if (ok) {
			file_done(m);
			return;
		}
		if (m->step == E_TX && (size_t)pgconn_results_ok(run_conn(
		    m->run)) >= it->sql.n + 3) {
			/* BEGIN, the file, the row and COMMIT went through:
			 * only the session reset after it failed */
			msg = pgres_message(res);
			log_warnx("%s: applied, but resetting the session "
			    "failed: %s", it->name, msg);
			free(msg);
			file_done(m);
			return;
		}
		/* the line: the statement that failed, from the results
		 * before it (BEGIN first, except in a dry run) */
		line = error_line(m, res, m->batch, m->step == E_TX ? 1 : 0,
		    m->step == E_TX ? 1 : 0, &stmt);
		msg = pgres_message(res);
		if (m->step == E_TX && retry_later(m, st, false)) {
			free(msg);
			/* the transaction is aborted: end it first */
			rollback(m, E_TX_ROLLBACK);
			return;
		}
		if (!m->dry_run)
			log_file(m, LOG_EV_MIGRATION_FAILED, it->f->version,
			    now_ms() - m->file_started_ms, st, "migration %s "
			    "failed on %s: %s:%d: %s", it->f->version,
			    m->db->name, it->name, line, msg);
		if (line > 0)
			fail(m, st, "%s:%d: %s (%s: nothing of %s was %s)",
			    it->name, line, msg, m->dry_run ? "dry run" :
			    "rolled back", it->f->version, m->op ==
			    MIGRATE_DOWN ? "reverted" : "applied");
		else
			fail(m, st, "%s: at %s: %s (rolled back: nothing of %s "
			    "was %s)", it->name, stmt >= 0 ? "COMMIT or the "
			    "history row" : "BEGIN", msg, it->f->version,
			    m->op == MIGRATE_DOWN ? "reverted" : "applied");
		free(msg);
		return;
	}
	case E_TX_ROLLBACK: {
		/* the pause was computed in retry_later; start it now */
		if (!ok)
			break;
		if (run_cancelling(m->run)) {
			run_body_done(m->run, false, NULL, NULL);
			return;
		}
		m->step = E_WAIT;
		evtimer_add(m->timer, &m->backoff);
		return;
	}
	case E_DRY_END:
		if (!ok)
			break;
		finish_ok(m);
		return;
	case E_NT_MARK:
		if (!ok)
			break;
		nt_next(m);
		return;
	case E_NT_CHECK:
		if (!ok)
			break;
		if (PQntuples(res) == 1) {
			char *sql, *phase;
			const char *idx = PQgetvalue(res, 0, 0);

			xasprintf(&phase, "%s: dropping the INVALID index %s "
			    "left by an earlier attempt, to build it again",
			    it->name, idx);
			log_info("%s on %s", phase, m->db->name);
			run_body_progress(m->run, phase, -1);
			free(phase);
			m->step = E_NT_DROP;
			xasprintf(&sql, "DROP INDEX CONCURRENTLY IF EXISTS %s",
			    idx);
			run_body_exec(m->run, sql);
			free(sql);
			return;
		}
		m->step = E_NT_DROP;	/* checked: on to the statement */
		nt_next(m);
		return;
	case E_NT_DROP:
		if (!ok) {
			nt_fail(m, res);
			return;
		}
		nt_next(m);
		return;
	case E_NT_SET:
		if (!ok)
			break;
		nt_stmt(m);
		return;
	case E_NT_STMT:
		run_body_watch_index(m->run, NULL);
		if (ok) {
			m->stmt++;
			m->step = E_NT_MARK;	/* the next one is checked */
			nt_next(m);
			return;
		}
		if (retry_later(m, st, true))
			return;
		nt_fail(m, res);
		return;
	case E_NT_FAILED: {
		json_t *e = m->result;

		m->result = NULL;
		fail(m, json_string_value(json_object_get(e, "sqlstate")),
		    "%s:%lld: %s (outside a transaction: the statements "
		    "before it stay applied; %s is recorded as failed and "
		    "blocks up: fix what it left (migrate status shows "
		    "INVALID indexes), then migrate repair %s)",
		    json_string_value(json_object_get(e, "file")),
		    (long long)json_integer_value(json_object_get(e, "line")),
		    json_string_value(json_object_get(e, "message")),
		    it->f->version, it->f->version);
		json_decref(e);
		return;
	}
	case E_NT_DONE:
		if (!ok)
			break;
		file_done(m);
		return;
	case E_ANALYZE_NAMES:
		if (!ok || PQgetisnull(res, 0, 0)) {
			finish_ok(m);
			return;
		}
		m->analyze_list = xstrdup(PQgetvalue(res, 0, 0));
		{
			char *sql;

			xasprintf(&sql, "ANALYZE %s", m->analyze_list);
			m->step = E_ANALYZE;
			run_body_exec(m->run, sql);
			free(sql);
		}
		return;
	case E_ANALYZE:
		if (!ok) {
			/* the migrations are in; statistics can wait */
			msg = pgres_message(res);
			log_warnx("ANALYZE after migrating %s failed: %s",
			    m->db->name, msg);
			free(msg);
			free(m->analyze_list);
			m->analyze_list = NULL;
		}
		finish_ok(m);
		return;
	case E_BACKUP:
	case E_WAIT:
		break;
	}
	msg = pgres_message(res);
	fail(m, st, "%s", msg);
	free(msg);
}

static void
body_start(struct run *r, void *arg)
{
	struct migrate *m = arg;

	m->run = r;
	probe(m);
}

static void
kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct migrate *m = arg;

	(void)fd;
	(void)what;
	if (m->backup_pid > 0)
		(void)kill(-m->backup_pid, SIGKILL);
}

static void
body_cancel(struct run *r, void *arg)
{
	struct migrate *m = arg;

	(void)r;
	if (m->backup_pid > 0) {
		/* its exit ends the body; the whole process group, and
		 * SIGKILL if it is still there in 5 s */
		struct timeval tv = { 5, 0 };

		(void)kill(-m->backup_pid, SIGTERM);
		if (m->kill_timer == NULL && (m->kill_timer = evtimer_new(
		    m->d->base, kill_cb, m)) == NULL)
			fatalx("evtimer_new failed");
		evtimer_add(m->kill_timer, &tv);
		return;
	}
	if (evtimer_pending(m->timer, NULL)) {
		event_del(m->timer);
		run_body_done(m->run, false, NULL, NULL);
	}
}

static void
body_stop(struct run *r, void *arg)
{
	struct migrate *m = arg;

	(void)r;
	if (m->timer != NULL)
		event_del(m->timer);
	if (m->backup_ev != NULL) {
		event_free(m->backup_ev);
		m->backup_ev = NULL;
	}
	if (m->kill_timer != NULL)
		event_del(m->kill_timer);
	if (m->backup_pid > 0) {
		/* the run is over (connection lost): stop the backup too */
		orphan(m, m->backup_pid);
		m->backup_pid = 0;
	}
}

/*
 * migrate_new: an operation on db; the directory is read now, so a bad
 * file is an error before anything else (-1... NULL with *err).
 */
struct migrate *
migrate_new(struct pgmigd *d, struct db *db, const struct migrate_opts *o,
    char **err)
{
	const struct conf_db *c = db->conf;
	struct migrate *m;

	if (c->migrations_dir[0] == '\0') {
		xasprintf(err, "migrations_dir is not set for database %s",
		    db->name);
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->backup_fd = -1;
	if (migset_scan(c->migrations_dir, &m->set, err) == -1) {
		free(m);
		return NULL;
	}
	m->d = d;
	m->db = db;
	m->op = o->op;
	m->to = o->to != NULL ? xstrdup(o->to) : NULL;
	m->steps = o->steps;
	m->dry_run = o->dry_run;
	m->allow_changed = o->allow_changed;
	m->version = o->version != NULL ? xstrdup(o->version) : NULL;
	m->who = xstrdup(o->who != NULL ? o->who : "pgmigd");
	m->table = migrate_table_sql(c->migrations_table);
	m->schema = migrate_schema_sql(c->migrations_table);
	m->table_name = xstrdup(c->migrations_table);
	m->dir = xstrdup(c->migrations_dir);
	m->backup_command = xstrdup(c->backup_command);
	m->lock_timeout_ms = c->lock_timeout_ms;
	m->statement_timeout_ms = c->statement_timeout_ms;
	m->retries = c->migration_retries;
	m->lock_wait_ms = c->migration_lock_wait_ms;
	m->lint = c->migrations_lint;
	m->done = json_array();
	m->warnings = json_array();
	m->touched = json_array();
	m->timer = evtimer_new(d->base, timer_cb, m);
	if (m->timer == NULL)
		fatalx("evtimer_new failed");
	m->body.start = body_start;
	m->body.result = body_result;
	m->body.cancel = body_cancel;
	m->body.stop = body_stop;
	m->body.arg = m;
	return m;
}

/*
 * migrate_start: the run: job "migrate" in job_runs, under the lock of
 * the migrations table (waited for, up to migration_lock_wait).
 */
struct run *
migrate_start(struct migrate *m)
{
	struct run_params p;
	char *key;
	struct run *r;

	memset(&p, 0, sizeof(p));
	xasprintf(&key, "migrate:%s", m->table);
	p.job = "migrate";
	p.type = JOB_MIGRATE;
	p.lock_timeout_ms = -1;
	p.trigger = RUN_MANUAL;
	p.body = &m->body;
	p.lock_key = key;
	p.lock_wait_ms = m->lock_wait_ms > 0 ? m->lock_wait_ms : 1;
	r = run_start(m->d, m->db, &p, NULL, NULL);
	free(key);
	m->run = r;
	return r;
}
