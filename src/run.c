/*
 * run.c: run a job against a database and record it (see run.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "pgmigd.h"
#include "diag.h"
#include "pool.h"
#include "run.h"
#include "sched.h"
#include "util.h"

#define RUN_CANCEL_GRACE_MS 5000	/* after pg_cancel_backend, drop */
#define RUN_PROGRESS_MS 1000
#define RUN_LOCK_CLASS "1885826409"	/* advisory lock key 1: 'pgmi' */
#define RUN_MAX_MESSAGE 2000

enum run_step {
	S_ACQUIRE,
	S_PRIMARY,
	S_STATE,
	S_LOCK,
	S_INSERT,
	S_SETUP,
	S_RESOLVE,
	S_BODY,
	S_ABORT,		/* roll back what the body left open */
	S_FINISH,
	S_RESET,
	S_DONE,
};

struct run {
	struct pgmigd *d;
	struct db *db;
	/* what: copied, the configuration may be reloaded meanwhile */
	char *schema;		/* state_schema */
	int64_t db_statement_timeout_ms;
	int64_t db_lock_timeout_ms;
	char *job;
	int type;
	char **objects;
	size_t nobjects;
	char **schemas;
	size_t nschemas;
	bool analyze, full, concurrently;
	char *sql;
	int64_t timeout_ms;
	int64_t lock_timeout_ms;
	enum run_trigger trigger;
	time_t slot;
	int attempt;
	/* state */
	enum run_step step;
	struct pool_wait *wait;
	struct pgconn *conn;
	bool locked;		/* holds the job's advisory lock */
	int64_t run_id;
	int64_t started_ms;
	time_t started;
	int64_t duration_ms;
	enum run_status status;
	char *message;
	char *sqlstate;
	int64_t rows;
	json_t *done_objects;	/* what it worked on */
	char **stmts;		/* the body */
	char **stmt_objects;	/* the object of each statement */
	size_t nstmts, next;
	bool progress_vacuum;
	int backend_pid;
	/* a body of its own (migrations) */
	const struct run_body *body;
	bool body_stopped;
	char *body_sql;		/* what the body runs now */
	char *progress_label;	/* an index build it watches, or NULL */
	char *lock_name;	/* the advisory lock's key text */
	int64_t lock_wait_ms;
	int64_t lock_deadline_ms;
	int lock_tries;
	struct event *lock_timer;
	/* cancelling */
	char *cancel_reason;	/* NULL: not cancelled */
	bool cancel_as_failure;		/* a timeout is a failure */
	struct event *deadline;
	struct event *cancel_timer;
	struct event *progress_timer;
	struct pool_wait *side_wait;	/* connection for the cancel */
	struct pool_wait *prog_wait;	/* connection for progress */
	struct event *later;		/* finish from the loop */
	const char *running_sql;	/* the body statement on the server */
	/* diagnostics jobs: their thresholds, and the report they made */
	struct diag_opts diag;
	struct diag_health health;
	json_t *report;
	bool finish_retried;
	bool recorded;		/* its row has its final status */
	bool configured;	/* a configured job (not an ad-hoc command) */
	bool side_busy;		/* the cancel is on its way */
	bool prog_busy;		/* a progress query is */
	bool zombie;		/* finished; freed when the side query ends */
	bool busy_elsewhere;	/* another daemon holds the job's lock */
	/* who waits: the owner (the scheduler) and an observer (a command) */
	run_done_fn owner_done;
	void *owner_arg;
	run_done_fn done;
	run_started_fn started_cb;
	run_progress_fn progress;
	void *arg;
};

static void run_next(struct run *);
static void run_finish(struct run *);
static void run_fail(struct run *, enum run_status, const char *,
    const char *);

static const char *const status_names[] = { "running", "succeeded", "failed",
    "cancelled", "skipped" };
static const char *const trigger_names[] = { "schedule", "manual",
    "startup" };

/* run_status_name: "succeeded" for RUN_SUCCEEDED. */
const char *
run_status_name(enum run_status s)
{
	return status_names[s];
}

/* run_trigger_name: "schedule" for RUN_SCHEDULE. */
const char *
run_trigger_name(enum run_trigger t)
{
	return trigger_names[t];
}

static char **
strv_copy(const char *const *v, size_t n)
{
	char **out = xcalloc(n + 1, sizeof(*out));
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
set_message(struct run *r, const char *msg)
{
	free(r->message);
	r->message = NULL;
	if (msg == NULL)
		return;
	r->message = xstrdup(msg);
	if (strlen(r->message) > RUN_MAX_MESSAGE)
		r->message[RUN_MAX_MESSAGE] = '\0';
}

static char *
quoted_schema(struct run *r)
{
	char *s;

	xasprintf(&s, "\"%s\"", r->schema);
	return s;
}

/* the report a diagnostics job type runs, or -1 */
static int
report_kind(int type)
{
	switch (type) {
	case JOB_INDEX_USAGE:
		return DIAG_INDEXES;
	case JOB_SLOW_QUERIES:
		return DIAG_QUERIES;
	case JOB_CONNECTION_CHECK:
		return DIAG_CONNECTIONS;
	case JOB_HEALTH_CHECK:
		return DIAG_HEALTH;
	default:
		return -1;
	}
}

/* ---- the run list of a database */

static void
list_add(struct run *r)
{
	struct db *db = r->db;

	db->runs = xreallocarray(db->runs, db->nruns + 1, sizeof(*db->runs));
	db->runs[db->nruns++] = r;
	r->d->nruns++;
}

static void
list_remove(struct run *r)
{
	struct db *db = r->db;
	size_t i;

	for (i = 0; i < db->nruns; i++) {
		if (db->runs[i] == r) {
			db->runs[i] = db->runs[--db->nruns];
			r->d->nruns--;
			return;
		}
	}
}

/* run_find: a run of this daemon by id, or NULL. */
struct run *
run_find(struct pgmigd *d, int64_t id)
{
	size_t i, j;

	for (i = 0; i < d->ndbs; i++)
		for (j = 0; j < d->dbs[i]->nruns; j++)
			if (d->dbs[i]->runs[j]->run_id == id && id != 0)
				return d->dbs[i]->runs[j];
	return NULL;
}

/* run_find_job: the run of job on db, or NULL. */
struct run *
run_find_job(struct db *db, const char *job)
{
	size_t i;

	for (i = 0; i < db->nruns; i++)
		if (strcmp(db->runs[i]->job, job) == 0)
			return db->runs[i];
	return NULL;
}

static void
run_free(struct run *r)
{
	if (r->wait != NULL)
		pool_acquire_cancel(r->wait);
	if (r->side_wait != NULL)
		pool_acquire_cancel(r->side_wait);
	if (r->prog_wait != NULL)
		pool_acquire_cancel(r->prog_wait);
	if (r->later != NULL)
		event_free(r->later);
	if (r->deadline != NULL)
		event_free(r->deadline);
	if (r->cancel_timer != NULL)
		event_free(r->cancel_timer);
	if (r->progress_timer != NULL)
		event_free(r->progress_timer);
	if (r->lock_timer != NULL)
		event_free(r->lock_timer);
	free(r->body_sql);
	free(r->progress_label);
	free(r->lock_name);
	free(r->job);
	free(r->schema);
	strv_free(r->objects, r->nobjects);
	strv_free(r->schemas, r->nschemas);
	strv_free(r->stmts, r->nstmts);
	strv_free(r->stmt_objects, r->nstmts);
	free(r->sql);
	free(r->message);
	free(r->sqlstate);
	free(r->cancel_reason);
	json_decref(r->done_objects);
	json_decref(r->report);
	free(r);
}

/* ---- queries on the run's connection */

static void step_result(struct pgconn *, PGresult *, void *);

static void
query(struct run *r, const char *sql, int n, const char *const *params)
{
	if (pool_query(r->db->pool, r->conn, sql, n, params, step_result, r) ==
	    -1) {
		/* could not even send: the connection is gone */
		step_result(r->conn, NULL, r);
	}
}

static void
exec(struct run *r, const char *sql)
{
	if (pool_exec(r->db->pool, r->conn, sql, step_result, r) == -1)
		step_result(r->conn, NULL, r);
}

/* ---- side connection: cancel and progress */

/*
 * a finished run kept for its side queries: freed with the last one; it
 * holds its database, which a reload may have dropped meanwhile
 */
static void
zombie_done(struct run *r)
{
	struct db *db = r->db;

	if (!r->zombie || r->side_busy || r->prog_busy)
		return;
	run_free(r);
	db_drop(db);
}

static void
side_cancel_done(struct pgconn *c, PGresult *res, void *arg)
{
	struct run *r = arg;

	PQclear(res);
	r->side_busy = false;
	pool_release(r->db->pool, c);
	zombie_done(r);
}

static void
side_cancel_conn(struct pgconn *c, const char *err, void *arg)
{
	struct run *r = arg;
	char pid[16];
	const char *params[2] = { pid, NULL };

	r->side_wait = NULL;
	if (c == NULL) {
		log_warnx("run %lld: cannot cancel: %s", (long long)r->run_id,
		    err);
		r->side_busy = false;
		return;
	}
	snprintf(pid, sizeof(pid), "%d", r->backend_pid);
	params[1] = r->running_sql != NULL ? r->running_sql : "";
	/* cancel only if that backend still runs our statement: a cancel
	 * arriving after it ended would hit the next one (our bookkeeping) */
	/* (the server may keep a truncated query text: ours starts with it) */
	if (pool_query(r->db->pool, c, "SELECT pg_catalog.pg_cancel_backend(pid) "
	    "FROM pg_catalog.pg_stat_activity WHERE pid = $1::pg_catalog.int4 "
	    "AND state = 'active' AND query <> '' AND "
	    "pg_catalog.starts_with($2, query)", 2, params, side_cancel_done,
	    r) == -1) {
		r->side_busy = false;
		pool_discard(r->db->pool, c);
	}
}

static void
cancel_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	(void)fd;
	(void)what;
	if (r->conn == NULL || pgconn_state(r->conn) != PGCONN_BUSY)
		return;
	/* the statement did not stop: drop the connection; the server ends
	 * the backend when it notices, and the run finishes as lost */
	log_warnx("run %lld: statement did not stop %d ms after cancel; "
	    "dropping the connection", (long long)r->run_id,
	    RUN_CANCEL_GRACE_MS);
	pool_discard(r->db->pool, r->conn);
	r->conn = NULL;
	run_fail(r, RUN_CANCELLED, "statement did not stop after cancel; "
	    "connection dropped", NULL);
}

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_finish(arg);
}

/*
 * run_cancel: stop the run: a statement in progress is cancelled on the
 * server.  reason is recorded; as_failure records a failure (timeouts)
 * instead of a cancellation.
 */
void
run_cancel(struct run *r, const char *reason, bool as_failure)
{
	struct timeval tv = { RUN_CANCEL_GRACE_MS / 1000, 0 };

	if (r->cancel_reason != NULL || r->step >= S_FINISH)
		return;
	r->cancel_reason = xstrdup(reason);
	r->cancel_as_failure = as_failure;
	if (r->step == S_ACQUIRE) {
		/* nothing started: no row, nothing to stop */
		if (r->wait != NULL) {
			pool_acquire_cancel(r->wait);
			r->wait = NULL;
		}
		r->status = RUN_CANCELLED;
		set_message(r, reason);
		r->step = S_DONE;
		{
			/* finish from the loop, not inside the caller */
			struct timeval now = { 0, 0 };

			event_add(r->later, &now);
		}
		return;
	}
	if (r->step == S_LOCK && r->lock_timer != NULL &&
	    evtimer_pending(r->lock_timer, NULL)) {
		/* waiting for the lock: stop waiting now */
		event_del(r->lock_timer);
		event_active(r->lock_timer, EV_TIMEOUT, 0);
		return;
	}
	if (r->body != NULL && r->step == S_BODY && r->conn != NULL &&
	    pgconn_state(r->conn) != PGCONN_BUSY) {
		/* the body waits on a timer of its own */
		r->body->cancel(r, r->body->arg);
		return;
	}
	if (r->conn != NULL && pgconn_state(r->conn) == PGCONN_BUSY &&
	    r->step >= S_SETUP && !r->side_busy) {
		r->side_busy = true;
		r->backend_pid = pgconn_backend_pid(r->conn);
		r->side_wait = pool_acquire(r->db->pool, true, side_cancel_conn,
		    r);
		event_add(r->cancel_timer, &tv);
	}
	/* otherwise the next step sees cancel_reason and stops */
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	char *msg;

	(void)fd;
	(void)what;
	if (r->step >= S_FINISH || r->status != RUN_RUNNING)
		return;		/* over already */
	xasprintf(&msg, "timed out after %lld ms (job timeout)",
	    (long long)r->timeout_ms);
	set_message(r, msg);
	free(msg);
	run_cancel(r, "timeout", true);
}

static void
progress_done(struct pgconn *c, PGresult *res, void *arg)
{
	struct run *r = arg;

	r->prog_busy = false;
	/* a body's watch may have ended while the query was out */
	if (pgres_ok(res) && PQntuples(res) == 1 && r->progress != NULL &&
	    r->step == S_BODY && (r->progress_label != NULL ||
	    (r->body == NULL && r->next > 0 && r->next <= r->nstmts))) {
		char *phase;
		double pct = PQgetisnull(res, 0, 1) ? -1 :
		    strtod(PQgetvalue(res, 0, 1), NULL);

		xasprintf(&phase, "%s: %s", r->progress_label != NULL ?
		    r->progress_label : r->stmt_objects[r->next - 1],
		    PQgetvalue(res, 0, 0));
		r->progress(r, phase, pct, r->arg);
		free(phase);
	}
	PQclear(res);
	pool_release(r->db->pool, c);
	zombie_done(r);
}

static void
progress_conn(struct pgconn *c, const char *err, void *arg)
{
	struct run *r = arg;
	char pid[16];
	const char *params[1] = { pid };

	(void)err;
	r->prog_wait = NULL;
	if (c == NULL) {
		r->prog_busy = false;
		return;
	}
	if (r->conn == NULL || r->step != S_BODY || (r->body != NULL &&
	    r->progress_label == NULL)) {
		r->prog_busy = false;
		pool_release(r->db->pool, c);
		return;
	}
	snprintf(pid, sizeof(pid), "%d", pgconn_backend_pid(r->conn));
	if (pool_query(r->db->pool, c, r->progress_label != NULL ?
	    /* an index build: blocks while scanning, then tuples */
	    "SELECT phase, CASE WHEN blocks_total > 0 THEN round(100.0 * "
	    "blocks_done / blocks_total, 1) WHEN tuples_total > 0 THEN "
	    "round(100.0 * tuples_done / tuples_total, 1) END FROM "
	    "pg_catalog.pg_stat_progress_create_index WHERE pid = "
	    "$1::pg_catalog.int4" :
	    "SELECT phase, CASE WHEN "
	    "heap_blks_total > 0 THEN round(100.0 * heap_blks_scanned / "
	    "heap_blks_total, 1) END FROM pg_catalog.pg_stat_progress_vacuum "
	    "WHERE pid = $1::pg_catalog.int4", 1, params, progress_done, r) ==
	    -1) {
		r->prog_busy = false;
		pool_discard(r->db->pool, c);
	}
}

static void
progress_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	(void)fd;
	(void)what;
	if (r->step != S_BODY || r->prog_busy || r->conn == NULL ||
	    r->cancel_reason != NULL)
		return;
	r->prog_busy = true;
	r->prog_wait = pool_acquire(r->db->pool, true, progress_conn, r);
}

/* ---- steps */

/* run_fail: the outcome is decided (failed, cancelled or skipped). */
static void
run_fail(struct run *r, enum run_status st, const char *msg,
    const char *sqlstate)
{
	r->status = st;
	if (msg != NULL)
		set_message(r, msg);
	free(r->sqlstate);
	r->sqlstate = sqlstate != NULL ? xstrdup(sqlstate) : NULL;
	run_next(r);
}

static void
acquired(struct pgconn *c, const char *err, void *arg)
{
	struct run *r = arg;

	r->wait = NULL;
	if (c == NULL) {
		char *msg;

		xasprintf(&msg, "database unreachable: %s", err);
		run_fail(r, RUN_FAILED, msg, NULL);
		free(msg);
		return;
	}
	r->conn = c;
	r->step = S_PRIMARY;
	{
		/* is it a primary, and does job_runs exist?  (creating it
		 * with IF NOT EXISTS would want CREATE rights every time) */
		char *t;
		const char *params[1];

		xasprintf(&t, "\"%s\"", r->schema);
		params[0] = t;
		query(r, "SELECT pg_catalog.pg_is_in_recovery(), "
		    "pg_catalog.to_regclass($1 || '.job_runs') IS NOT NULL AND "
		    "pg_catalog.to_regclass($1 || '.pgss_snapshot') IS NOT NULL",
		    1, params);
		free(t);
	}
}

/* state tables; two daemons creating them at once serialize on a lock */
static char *
state_sql(struct run *r)
{
	char *s, *q = quoted_schema(r);

	xasprintf(&s,
	    "BEGIN;"
	    /* bounded: nothing here may wait forever on a lock */
	    "SET LOCAL lock_timeout = '10s'; SET LOCAL statement_timeout = '60s';"
	    "SELECT pg_catalog.pg_advisory_xact_lock(" RUN_LOCK_CLASS ", 0);"
	    /* CREATE SCHEMA IF NOT EXISTS wants CREATE on the database even
	     * when the schema exists (one the role owns, say): ask first */
	    "DO $pgmig$ BEGIN IF pg_catalog.to_regnamespace('%s') IS NULL "
	    "THEN CREATE SCHEMA %s; END IF; END $pgmig$;"
	    "CREATE TABLE IF NOT EXISTS %s.job_runs ("
	    " run_id bigserial PRIMARY KEY,"
	    " job text NOT NULL,"
	    " job_type text NOT NULL,"
	    " database text NOT NULL,"
	    " trigger text NOT NULL CHECK (trigger IN "
	    "  ('schedule', 'manual', 'startup')),"
	    " status text NOT NULL CHECK (status IN "
	    "  ('running', 'succeeded', 'failed', 'cancelled', 'skipped')),"
	    " started_at timestamptz NOT NULL DEFAULT now(),"
	    " finished_at timestamptz,"
	    " duration_ms bigint,"
	    " rows bigint,"
	    " message text,"
	    " details jsonb NOT NULL DEFAULT '{}',"
	    " host text,"
	    " pid int);"
	    /* the slow_queries job's previous pg_stat_statements counters */
	    "CREATE TABLE IF NOT EXISTS %s.pgss_snapshot ("
	    " database text NOT NULL, job text NOT NULL, queryid bigint NOT NULL,"
	    " userid oid NOT NULL, dbid oid NOT NULL, calls bigint NOT NULL,"
	    " total_ms double precision NOT NULL, rows bigint NOT NULL,"
	    " taken_at timestamptz NOT NULL,"
	    " PRIMARY KEY (database, job, queryid, userid, dbid));"
	    "CREATE INDEX IF NOT EXISTS job_runs_job_idx ON %s.job_runs "
	    " (database, job, run_id);"
	    "CREATE INDEX IF NOT EXISTS job_runs_running_idx ON %s.job_runs "
	    " (host, pid) WHERE status = 'running';"
	    /* one run per scheduled slot and attempt, across daemons */
	    "CREATE UNIQUE INDEX IF NOT EXISTS job_runs_slot_idx ON %s.job_runs "
	    " (database, job, (details->>'slot'), (details->>'attempt'))"
	    " WHERE trigger IN ('schedule', 'startup') AND status <> 'skipped';"
	    "COMMIT;", q, q, q, q, q, q, q);
	free(q);
	return s;
}

static char *
lock_key(struct run *r)
{
	char *k;

	if (r->lock_name != NULL)
		return xstrdup(r->lock_name);
	xasprintf(&k, "%s/%s", r->db->name, r->job);
	return k;
}

static void
lock_query(struct run *r)
{
	char *key = lock_key(r);
	const char *params[1] = { key };

	r->step = S_LOCK;
	r->lock_tries++;
	query(r, "SELECT pg_catalog.pg_try_advisory_lock(" RUN_LOCK_CLASS
	    ", pg_catalog.hashtext($1)), (SELECT l.pid FROM pg_catalog.pg_locks "
	    "l WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM "
	    "pg_catalog.pg_database WHERE datname = "
	    "pg_catalog.current_database()) AND l.classid = " RUN_LOCK_CLASS
	    "::pg_catalog.oid AND l.objid::pg_catalog.int8 = "
	    "pg_catalog.hashtext($1)::pg_catalog.int8 & 4294967295 AND "
	    "l.objsubid = 2 AND l.granted AND l.pid <> "
	    "pg_catalog.pg_backend_pid() LIMIT 1)", 1, params);
	free(key);
}

/* lock_timer_cb: try the lock again (or stop: cancelled, waited enough) */
static void
lock_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	(void)fd;
	(void)what;
	if (r->cancel_reason != NULL) {
		run_next(r);
		return;
	}
	lock_query(r);
}

static void
do_insert(struct run *r)
{
	char *sql, *q = quoted_schema(r), *details, host[256], pid[16];
	char slot[32];
	json_t *dj = json_object();
	const char *params[7];

	if (r->slot != 0) {
		time_rfc3339(r->slot, slot, sizeof(slot));
		json_object_set_new(dj, "slot", json_string(slot));
		json_object_set_new(dj, "attempt", json_integer(r->attempt));
	}
	details = json_dumps(dj, JSON_COMPACT);
	json_decref(dj);
	if (gethostname(host, sizeof(host)) == -1)
		strlcpy_(host, "?", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	params[0] = r->job;
	params[1] = conf_job_type_name(r->type);
	params[2] = r->db->name;
	params[3] = trigger_names[r->trigger];
	params[4] = host;
	params[5] = pid;
	params[6] = details;
	xasprintf(&sql, "INSERT INTO %s.job_runs (job, job_type, database, "
	    "trigger, status, host, pid, details) VALUES ($1, $2, $3, $4, "
	    "'running', $5, $6::pg_catalog.int4, $7::pg_catalog.jsonb) "
	    "ON CONFLICT DO NOTHING RETURNING run_id, "
	    "pg_catalog.floor(pg_catalog.date_part('epoch', started_at))::pg_catalog.int8",
	    q);
	r->step = S_INSERT;
	query(r, sql, 7, params);
	free(sql);
	free(q);
	free(details);
}

static void
do_setup(struct run *r)
{
	int64_t st = r->timeout_ms > 0 ? r->timeout_ms :
	    r->db_statement_timeout_ms;
	int64_t lt = r->lock_timeout_ms >= 0 ? r->lock_timeout_ms :
	    r->db_lock_timeout_ms;
	char *sql;

	xasprintf(&sql, "SET statement_timeout = %lld; SET lock_timeout = %lld",
	    (long long)st, (long long)lt);
	r->step = S_SETUP;
	exec(r, sql);
	free(sql);
}

static void
add_stmt(struct run *r, char *sql, const char *object)
{
	r->stmts = xreallocarray(r->stmts, r->nstmts + 1, sizeof(*r->stmts));
	r->stmt_objects = xreallocarray(r->stmt_objects, r->nstmts + 1,
	    sizeof(*r->stmt_objects));
	r->stmts[r->nstmts] = sql;
	r->stmt_objects[r->nstmts] = xstrdup(object);
	r->nstmts++;
}

/* a {"a","b"} array literal for a text[] parameter */
static char *
array_literal(char *const *v, size_t n)
{
	char *out = xstrdup("{"), *tmp;
	size_t i;
	const char *p;

	for (i = 0; i < n; i++) {
		xasprintf(&tmp, "%s%s\"", out, i > 0 ? "," : "");
		free(out);
		out = tmp;
		for (p = v[i]; *p != '\0'; p++) {
			xasprintf(&tmp, "%s%s%c", out, *p == '"' || *p == '\\' ?
			    "\\" : "", *p);
			free(out);
			out = tmp;
		}
		xasprintf(&tmp, "%s\"", out);
		free(out);
		out = tmp;
	}
	xasprintf(&tmp, "%s}", out);
	free(out);
	return tmp;
}

/*
 * do_resolve: look the objects up in the catalog, with bound parameters:
 * to_regclass() takes a name as a user would type it (qualified or on the
 * search path), and an injection attempt is simply not found.
 */
static void
do_resolve(struct run *r)
{
	char *names = array_literal(r->objects, r->nobjects);
	char *schemas = array_literal(r->schemas, r->nschemas);
	const char *params[2] = { names, schemas };

	r->step = S_RESOLVE;
	for (size_t i = 0; i < r->nobjects; i++) {
		if (!sql_name_valid(r->objects[i])) {
			char *msg;

			xasprintf(&msg, "%s \"%.200s\" does not exist",
			    r->type == JOB_REFRESH ? "materialized view" :
			    "table", r->objects[i]);
			free(names);
			free(schemas);
			run_fail(r, RUN_FAILED, msg, "42P01");
			free(msg);
			return;
		}
	}
	if (r->body != NULL) {
		free(names);
		free(schemas);
		r->step = S_BODY;
		r->body->start(r, r->body->arg);
		return;
	}
	if (report_kind(r->type) != -1) {
		free(names);
		free(schemas);
		if (report_kind(r->type) == DIAG_QUERIES) {
			const char *p[1] = { "pg_stat_statements" };

			/* where the extension lives goes into the SQL */
			query(r, "SELECT pg_catalog.quote_ident(n.nspname) FROM "
			    "pg_catalog.pg_extension e JOIN pg_catalog."
			    "pg_namespace n ON n.oid = e.extnamespace WHERE "
			    "e.extname = $1", 1, p);
			return;
		}
		add_stmt(r, diag_sql(report_kind(r->type), &r->diag), "report");
		r->next = 0;
		run_next(r);
		return;
	}
	if (r->type == JOB_SQL) {
		free(names);
		free(schemas);
		add_stmt(r, xstrdup(r->sql), "sql");
		r->next = 0;
		run_next(r);
		return;
	}
	/* one row per name given (NULL oid: not found), then one per table
	 * of the given schemas; never one query per table */
	query(r,
	    "SELECT g.name, n.nspname, c.relname, c.relkind, c.relispopulated,"
	    " EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
	    "  WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid"
	    "  AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL),"
	    " g.ord, CASE WHEN c.oid IS NOT NULL THEN"
	    "  pg_catalog.format('%I.%I', n.nspname, c.relname) END"
	    " FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY"
	    "  AS g(name, ord)"
	    " LEFT JOIN pg_catalog.pg_class c"
	    "  ON c.oid = pg_catalog.to_regclass(g.name)"
	    " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	    " UNION ALL"
	    " SELECT NULL, n.nspname, c.relname, c.relkind, c.relispopulated,"
	    "  false, 1000000 + row_number() OVER (ORDER BY n.nspname, c.relname),"
	    "  pg_catalog.format('%I.%I', n.nspname, c.relname)"
	    " FROM pg_catalog.pg_class c"
	    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	    " WHERE n.nspname = ANY ($2::pg_catalog.text[])"
	    "  AND c.relkind IN ('r', 'm') AND c.relpersistence <> 't'"
	    " ORDER BY 7", 2, params);
	free(names);
	free(schemas);
}

static char *
qualified(struct run *r, const char *nsp, const char *rel)
{
	PGconn *pg = pgconn_pg(r->conn);
	char *qn = PQescapeIdentifier(pg, nsp, strlen(nsp));
	char *qr = PQescapeIdentifier(pg, rel, strlen(rel));
	char *out;

	if (qn == NULL || qr == NULL)
		fatalx("PQescapeIdentifier: %s", PQerrorMessage(pg));
	xasprintf(&out, "%s.%s", qn, qr);
	PQfreemem(qn);
	PQfreemem(qr);
	return out;
}

/* resolved: turn the catalog rows into statements, or refuse. */
static void
resolved(struct run *r, PGresult *res)
{
	int i, n = PQntuples(res);

	for (i = 0; i < n; i++) {
		const char *given = PQgetisnull(res, i, 0) ? NULL :
		    PQgetvalue(res, i, 0);
		char *obj, *qobj, *sql, *msg;
		char kind;

		if (PQgetisnull(res, i, 2)) {
			xasprintf(&msg, "%s \"%s\" does not exist",
			    r->type == JOB_REFRESH ? "materialized view" :
			    "table", given != NULL ? given : "?");
			run_fail(r, RUN_FAILED, msg, "42P01");
			free(msg);
			return;
		}
		kind = PQgetvalue(res, i, 3)[0];
		/* quoted for SQL by PQescapeIdentifier; shown as format(%I) */
		qobj = qualified(r, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
		obj = xstrdup(PQgetvalue(res, i, 7));
		if (r->type == JOB_REFRESH) {
			if (kind != 'm') {
				xasprintf(&msg, "%s is not a materialized view",
				    obj);
				free(obj);
				free(qobj);
				run_fail(r, RUN_FAILED, msg, "42809");
				free(msg);
				return;
			}
			if (r->concurrently && PQgetvalue(res, i, 4)[0] != 't') {
				xasprintf(&msg, "%s is not populated: "
				    "REFRESH ... CONCURRENTLY needs a populated "
				    "view; refresh it once with --no-concurrently",
				    obj);
				free(obj);
				free(qobj);
				run_fail(r, RUN_FAILED, msg, "55000");
				free(msg);
				return;
			}
			if (r->concurrently && PQgetvalue(res, i, 5)[0] != 't') {
				xasprintf(&msg, "%s has no usable unique index: "
				    "REFRESH ... CONCURRENTLY needs a unique "
				    "index on plain columns without WHERE; create "
				    "one, or use --no-concurrently (which blocks "
				    "readers)", obj);
				free(obj);
				free(qobj);
				run_fail(r, RUN_FAILED, msg, "55000");
				free(msg);
				return;
			}
			xasprintf(&sql, "REFRESH MATERIALIZED VIEW %s%s",
			    r->concurrently ? "CONCURRENTLY " : "", qobj);
		} else {
			if (kind != 'r' && kind != 'm' && kind != 'p') {
				xasprintf(&msg, "%s is not a table", obj);
				free(obj);
				free(qobj);
				run_fail(r, RUN_FAILED, msg, "42809");
				free(msg);
				return;
			}
			if (r->type == JOB_VACUUM)
				xasprintf(&sql, "VACUUM (%s%sVERBOSE false) %s",
				    r->full ? "FULL, " : "",
				    r->analyze ? "ANALYZE, " : "", qobj);
			else
				xasprintf(&sql, "ANALYZE %s", qobj);
		}
		add_stmt(r, sql, obj);
		json_array_append_new(r->done_objects, json_string(obj));
		free(obj);
		free(qobj);
	}
	/* neither tables nor schemas: the whole database, as vacuumdb does */
	if (r->type == JOB_ANALYZE && r->nobjects == 0 && r->nschemas == 0)
		add_stmt(r, xstrdup("ANALYZE"), "database");
	if (r->type == JOB_VACUUM && r->nobjects == 0 && r->nschemas == 0) {
		char *sql;

		xasprintf(&sql, "VACUUM (%s%sVERBOSE false)", r->full ?
		    "FULL, " : "", r->analyze ? "ANALYZE, " : "");
		add_stmt(r, sql, "database");
	}
	if (r->nstmts == 0) {
		run_fail(r, RUN_FAILED, "nothing to do: no table matched",
		    NULL);
		return;
	}
	r->progress_vacuum = r->type == JOB_VACUUM;
	r->next = 0;
	run_next(r);
}

/* resolved_report: pg_stat_statements' schema is known (or missing). */
static void
resolved_report(struct run *r, PGresult *res)
{
	PGconn *pg = pgconn_pg(r->conn);
	char *lit, *joblit, *schema;

	if (PQntuples(res) == 0) {
		run_fail(r, RUN_FAILED, "pg_stat_statements is not installed in "
		    "this database: CREATE EXTENSION pg_stat_statements (and "
		    "add it to shared_preload_libraries)", "58P01");
		return;
	}
	joblit = PQescapeLiteral(pg, r->job, strlen(r->job));
	lit = PQescapeLiteral(pg, r->db->name, strlen(r->db->name));
	schema = quoted_schema(r);
	if (lit == NULL || joblit == NULL)
		fatalx("PQescapeLiteral: %s", PQerrorMessage(pg));
	r->diag.ext_schema = PQgetvalue(res, 0, 0);
	r->diag.job_literal = joblit;
	r->diag.state_schema = schema;
	r->diag.db_literal = lit;
	r->diag.delta = true;
	add_stmt(r, diag_sql(DIAG_QUERIES, &r->diag), "report");
	r->diag.ext_schema = r->diag.state_schema = r->diag.db_literal = NULL;
	r->diag.job_literal = NULL;
	PQfreemem(lit);
	PQfreemem(joblit);
	free(schema);
	r->next = 0;
	run_next(r);
}

static void
emit_finding(void *arg, const char *object, const char *msg, json_t *f)
{
	struct run *r = arg;
	char id[32], mean[32], calls[32];
	json_t *m = json_object_get(f, "mean_ms");
	json_t *c = json_object_get(f, "calls");
	struct log_field fields[] = {
		{ "PGMIG_DATABASE", r->db->name },
		{ "PGMIG_JOB", r->job },
		{ "PGMIG_JOB_TYPE", conf_job_type_name(r->type) },
		{ "PGMIG_RUN_ID", id },
		{ "PGMIG_OBJECT", r->type != JOB_SLOW_QUERIES ? object : NULL },
		{ "PGMIG_QUERYID", r->type == JOB_SLOW_QUERIES ? object : NULL },
		{ "PGMIG_MEAN_MS", json_is_number(m) ? mean : NULL },
		{ "PGMIG_CALLS", json_is_integer(c) ? calls : NULL },
	};

	snprintf(id, sizeof(id), "%lld", (long long)r->run_id);
	snprintf(mean, sizeof(mean), "%.3f", json_number_value(m));
	snprintf(calls, sizeof(calls), "%lld",
	    (long long)json_integer_value(c));
	log_event(LOG_WARNING, LOG_EV_FINDING, fields, nitems(fields),
	    "%s on %s: %s", r->job, r->db->name, msg);
}

/* reported: a diagnostics job's report: findings to journald, the
 * report to job_runs.details; a health check that is not ok fails */
static void
reported(struct run *r, PGresult *res)
{
	int kind = report_kind(r->type);
	json_t *j = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0,
	    NULL) : NULL;

	if (j == NULL) {
		run_fail(r, RUN_FAILED, "unexpected report result", NULL);
		return;
	}
	diag_drop_schema(j, r->schema);	/* pgmigd's own tables are not news */
	if (kind == DIAG_HEALTH) {
		json_t *h = diag_health_eval(j, &r->health);

		json_decref(j);
		j = h;
	}
	r->rows = (int64_t)diag_findings(kind, j, emit_finding, r);
	if (kind == DIAG_CONNECTIONS && r->diag.max_usage > 0 &&
	    json_number_value(json_object_get(j, "usage")) >=
	    r->diag.max_usage) {
		char *msg;

		xasprintf(&msg, "connection usage %.2f of max_connections is at "
		    "or above max_usage %.2f", json_number_value(
		    json_object_get(j, "usage")), r->diag.max_usage);
		emit_finding(r, "max_connections", msg, j);
		free(msg);
		r->rows++;
	}
	r->report = j;
	if (kind == DIAG_HEALTH && json_is_false(json_object_get(j, "ok"))) {
		char *msg = xstrdup("checks not ok:"), *tmp;
		size_t i;
		json_t *c;

		json_array_foreach(json_object_get(j, "checks"), i, c) {
			if (strcmp(json_string_value(json_object_get(c,
			    "status")) ?: "ok", "ok") == 0)
				continue;
			xasprintf(&tmp, "%s %s (%s)", msg, json_string_value(
			    json_object_get(c, "name")), json_string_value(
			    json_object_get(c, "status")));
			free(msg);
			msg = tmp;
		}
		run_fail(r, RUN_FAILED, msg, NULL);
		free(msg);
		return;
	}
	if (r->rows > 0) {
		char *msg;

		xasprintf(&msg, "%lld finding%s", (long long)r->rows,
		    r->rows == 1 ? "" : "s");
		set_message(r, msg);
		free(msg);
	}
	run_next(r);
}

static void
start_body_stmt(struct run *r)
{
	struct timeval tv = { RUN_PROGRESS_MS / 1000, 0 };
	char *phase;

	if (r->progress != NULL) {
		xasprintf(&phase, "%s %s", r->type == JOB_REFRESH ?
		    "refreshing" : r->type == JOB_VACUUM ? "vacuuming" :
		    r->type == JOB_ANALYZE ? "analyzing" : "running",
		    r->stmt_objects[r->next]);
		r->progress(r, phase, r->nstmts > 1 ?
		    100.0 * (double)r->next / (double)r->nstmts : -1, r->arg);
		free(phase);
		if (r->progress_vacuum)
			event_add(r->progress_timer, &tv);
	}
	r->step = S_BODY;
	/* user SQL may hold several statements: sent as psql -c would */
	r->running_sql = r->stmts[r->next];
	exec(r, r->stmts[r->next++]);
}

static void
do_finish(struct run *r)
{
	char *sql, *q = quoted_schema(r), *details;
	char id[32], dur[32], rows[32];
	json_t *dj;
	const char *params[6];

	r->duration_ms = now_ms() - r->started_ms;
	dj = json_pack("{s:O}", "objects", r->done_objects);
	if (r->report != NULL)
		json_object_set(dj, "report", r->report);
	if (r->sqlstate != NULL)
		json_object_set_new(dj, "sqlstate", json_string(r->sqlstate));
	details = json_dumps(dj, JSON_COMPACT);
	json_decref(dj);
	snprintf(id, sizeof(id), "%lld", (long long)r->run_id);
	snprintf(dur, sizeof(dur), "%lld", (long long)r->duration_ms);
	snprintf(rows, sizeof(rows), "%lld", (long long)r->rows);
	params[0] = id;
	params[1] = status_names[r->status];
	params[2] = dur;
	params[3] = rows;
	params[4] = r->message;
	params[5] = details;
	xasprintf(&sql, "UPDATE %s.job_runs SET status = $2, finished_at = "
	    "now(), duration_ms = $3::pg_catalog.int8, rows = "
	    "$4::pg_catalog.int8, message = $5, details = details || "
	    "$6::pg_catalog.jsonb WHERE run_id = $1::pg_catalog.int8", q);
	r->step = S_FINISH;
	query(r, sql, 6, params);
	free(sql);
	free(q);
	free(details);
}

static void
do_reset(struct run *r)
{
	r->step = S_RESET;
	/* an open transaction (user SQL) is rolled back first; DISCARD ALL
	 * also drops our advisory lock and any session state */
	if (PQtransactionStatus(pgconn_pg(r->conn)) != PQTRANS_IDLE)
		exec(r, "ROLLBACK; DISCARD ALL");
	else
		exec(r, "DISCARD ALL");
}

/*
 * run_next: the current step succeeded (or decided the outcome): start
 * the next one.  Once the status is decided, the rest is: record it (if
 * a row exists), reset the session, release, report.
 */
static void
run_next(struct run *r)
{
	/* a cancel takes effect at the next step boundary */
	if (r->cancel_reason != NULL && r->status == RUN_RUNNING) {
		r->status = r->cancel_as_failure ? RUN_FAILED : RUN_CANCELLED;
		if (!r->cancel_as_failure || r->message == NULL)
			set_message(r, r->cancel_reason);
	}
	if (r->status == RUN_RUNNING) {
		switch (r->step) {
		case S_PRIMARY:
			if (!r->db->state_ready) {
				char *sql = state_sql(r);

				r->step = S_STATE;
				exec(r, sql);
				free(sql);
				return;
			}
			/* FALLTHROUGH */
		case S_STATE:
			r->lock_deadline_ms = now_ms() + r->lock_wait_ms;
			lock_query(r);
			return;
		case S_LOCK:
			do_insert(r);
			return;
		case S_INSERT:
			do_setup(r);
			return;
		case S_SETUP:
			do_resolve(r);
			return;
		case S_RESOLVE:
		case S_BODY:
			if (r->next < r->nstmts) {
				start_body_stmt(r);
				return;
			}
			r->status = RUN_SUCCEEDED;
			if (r->type == JOB_VACUUM || r->type == JOB_ANALYZE ||
			    r->type == JOB_REFRESH)
				r->rows = (int64_t)r->nstmts;
			break;
		default:
			r->status = RUN_FAILED;
			break;
		}
	}
	if (r->step < S_ABORT && r->conn != NULL &&
	    pgconn_state(r->conn) != PGCONN_BROKEN &&
	    PQtransactionStatus(pgconn_pg(r->conn)) != PQTRANS_IDLE) {
		/* the row is written outside what the body left open */
		r->step = S_ABORT;
		exec(r, "ROLLBACK");
		return;
	}
	if (r->step < S_FINISH && r->run_id != 0 && r->conn != NULL) {
		do_finish(r);
		return;
	}
	if (r->step < S_RESET && r->conn != NULL &&
	    pgconn_state(r->conn) != PGCONN_BROKEN) {
		do_reset(r);
		return;
	}
	r->step = S_DONE;
	run_finish(r);
}

/*
 * step_result: every query of the run comes back here; the step says
 * what it was.
 */
static void
step_result(struct pgconn *c, PGresult *res, void *arg)
{
	struct run *r = arg;
	char *msg;

	(void)c;
	if (res == NULL) {
		/* the connection is gone */
		xasprintf(&msg, "connection lost: %s", r->conn != NULL ?
		    pgconn_error(r->conn) : "?");
		if (r->conn != NULL)
			pool_discard(r->db->pool, r->conn);
		r->conn = NULL;
		r->locked = false;
		if (r->step == S_STATE || r->step == S_INSERT)
			r->db->state_ready = false;
		if (r->step >= S_FINISH) {
			free(msg);
			r->step = S_DONE;
			run_finish(r);
			return;
		}
		/* a row left "running" is closed when the pool reconnects */
		if (r->status == RUN_RUNNING)
			r->status = r->cancel_reason != NULL &&
			    !r->cancel_as_failure ? RUN_CANCELLED : RUN_FAILED;
		if (r->cancel_reason == NULL || r->message == NULL)
			set_message(r, msg);
		free(msg);
		run_next(r);
		return;
	}
	if (r->step == S_BODY && r->body != NULL && !r->body_stopped &&
	    !(r->cancel_reason != NULL && pgres_sqlstate(res) != NULL &&
	    strcmp(pgres_sqlstate(res), "57014") == 0)) {
		event_del(r->progress_timer);
		r->body->result(r, res, r->body->arg);
		PQclear(res);
		return;
	}
	if (!pgres_ok(res) && r->step != S_RESET && r->step != S_ABORT) {
		char state[6] = "";

		if (pgres_sqlstate(res) != NULL)
			strlcpy_(state, pgres_sqlstate(res), sizeof(state));
		msg = pgres_message(res);
		PQclear(res);
		if (r->step == S_STATE || r->step == S_INSERT)
			r->db->state_ready = false;
		if (r->step == S_FINISH) {
			if (!r->finish_retried && strcmp(state, "57014") == 0) {
				/* a late cancel hit the bookkeeping: again */
				r->finish_retried = true;
				free(msg);
				do_finish(r);
				return;
			}
			log_warnx("run %lld: cannot record the result: %s",
			    (long long)r->run_id, msg);
			free(msg);
			run_next(r);
			return;
		}
		if (strcmp(state, "57014") == 0 && r->cancel_reason != NULL) {
			/* our cancel: the reason was recorded already */
			free(msg);
			run_fail(r, r->cancel_as_failure ? RUN_FAILED :
			    RUN_CANCELLED, r->cancel_as_failure ? NULL :
			    r->cancel_reason, "57014");
			return;
		}
		if (r->step == S_BODY && r->nstmts > 1) {
			char *m2;

			xasprintf(&m2, "%s: %s", r->stmt_objects[r->next - 1],
			    msg);
			free(msg);
			msg = m2;
		}
		run_fail(r, RUN_FAILED, msg, state[0] != '\0' ? state : NULL);
		free(msg);
		return;
	}
	switch (r->step) {
	case S_PRIMARY:
		pool_note_recovery(r->db->pool, PQgetvalue(res, 0, 0)[0] == 't');
		if (PQgetvalue(res, 0, 1)[0] == 't')
			r->db->state_ready = true;
		if (PQgetvalue(res, 0, 0)[0] == 't') {
			/* a standby cannot run jobs, nor record them */
			PQclear(res);
			run_fail(r, RUN_SKIPPED, "database is a standby (in "
			    "recovery)", NULL);
			return;
		}
		break;
	case S_STATE:
		r->db->state_ready = true;
		break;
	case S_LOCK:
		if (PQgetvalue(res, 0, 0)[0] != 't' && r->lock_wait_ms > 0 &&
		    now_ms() < r->lock_deadline_ms && r->cancel_reason == NULL) {
			/* wait with pg_try_advisory_lock on a timer, never a
			 * blocking pg_advisory_lock: a waiter in the lock
			 * queue would hold up CREATE INDEX CONCURRENTLY of
			 * the holder (it waits for every older transaction) */
			int64_t ms = r->lock_tries < 5 ? 100 << r->lock_tries :
			    2000;
			struct timeval tv;
			char *phase;

			ms = ms / 2 + (int64_t)(random() % (ms / 2 + 1));
			tv.tv_sec = (time_t)(ms / 1000);
			tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
			if (r->lock_tries == 1)
				log_info("%s on %s: waiting for the lock held by "
				    "pid %s", r->job, r->db->name,
				    PQgetisnull(res, 0, 1) ? "?" :
				    PQgetvalue(res, 0, 1));
			if (r->progress != NULL && (r->lock_tries == 1 ||
			    r->lock_tries % 10 == 0)) {
				xasprintf(&phase, "waiting for the lock of "
				    "%s (held by pid %s)", r->job,
				    PQgetisnull(res, 0, 1) ? "?" :
				    PQgetvalue(res, 0, 1));
				r->progress(r, phase, -1, r->arg);
				free(phase);
			}
			PQclear(res);
			evtimer_add(r->lock_timer, &tv);
			return;
		}
		if (PQgetvalue(res, 0, 0)[0] != 't') {
			if (r->lock_wait_ms > 0 && r->cancel_reason == NULL) {
				char *why;

				xasprintf(&why, "another migrator (pid %s) "
				    "held the lock of %s for longer than "
				    "migration_lock_wait", PQgetisnull(res, 0,
				    1) ? "?" : PQgetvalue(res, 0, 1), r->job);
				PQclear(res);
				r->busy_elsewhere = true;
				run_fail(r, RUN_FAILED, why, "55P03");
				free(why);
				return;
			}
			PQclear(res);
			if (r->cancel_reason != NULL) {
				run_next(r);
				return;
			}
			r->busy_elsewhere = true;
			run_fail(r, RUN_SKIPPED, "already running (another "
			    "pgmigd holds its lock)", NULL);
			return;
		}
		r->locked = true;
		break;
	case S_INSERT:
		if (PQntuples(res) != 1) {
			PQclear(res);
			run_fail(r, RUN_SKIPPED, "this slot already ran (on "
			    "another pgmigd)", NULL);
			return;
		}
		r->run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		r->started = (time_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		r->started_ms = now_ms();
		if (r->started_cb != NULL)
			r->started_cb(r, r->arg);
		{
			char id[32];
			struct log_field f[] = {
				{ "PGMIG_DATABASE", r->db->name },
				{ "PGMIG_JOB", r->job },
				{ "PGMIG_JOB_TYPE", conf_job_type_name(r->type) },
				{ "PGMIG_RUN_ID", id },
				{ "PGMIG_TRIGGER", trigger_names[r->trigger] },
			};

			snprintf(id, sizeof(id), "%lld", (long long)r->run_id);
			log_event(LOG_INFO, LOG_EV_RUN_START, f, nitems(f),
			    "run %s of %s on %s started (%s)", id, r->job,
			    r->db->name, trigger_names[r->trigger]);
		}
		break;
	case S_RESOLVE:
		if (report_kind(r->type) != -1) {
			resolved_report(r, res);
			PQclear(res);
			return;
		}
		if (r->type != JOB_SQL) {
			resolved(r, res);
			PQclear(res);
			return;
		}
		break;
	case S_BODY:
		event_del(r->progress_timer);
		if (r->type == JOB_SQL)
			r->rows = pgconn_rows(r->conn);
		if (report_kind(r->type) != -1) {
			reported(r, res);
			PQclear(res);
			return;
		}
		break;
	case S_FINISH:
		r->recorded = true;
		break;
	case S_RESET:
		if (!pgres_ok(res)) {
			PQclear(res);
			pool_discard(r->db->pool, r->conn);
			r->conn = NULL;
			r->locked = false;
			run_next(r);
			return;
		}
		r->locked = false;
		break;
	default:
		break;
	}
	PQclear(res);
	if (r->step == S_BODY && r->type == JOB_SQL &&
	    PQtransactionStatus(pgconn_pg(r->conn)) != PQTRANS_IDLE) {
		run_fail(r, RUN_FAILED, "the SQL left a transaction open; "
		    "it was rolled back", NULL);
		return;
	}
	run_next(r);
}

static void
log_run(struct run *r)
{
	char id[32], dur[32];
	struct log_field f[] = {
		{ "PGMIG_DATABASE", r->db->name },
		{ "PGMIG_JOB", r->job },
		{ "PGMIG_JOB_TYPE", conf_job_type_name(r->type) },
		{ "PGMIG_RUN_ID", r->run_id != 0 ? id : NULL },
		{ "PGMIG_STATUS", status_names[r->status] },
		{ "PGMIG_DURATION_MS", dur },
		{ "PGMIG_SQLSTATE", r->sqlstate },
		{ "PGMIG_TRIGGER", trigger_names[r->trigger] },
	};
	static const struct {
		int prio;
		enum log_event ev;
	} kinds[] = {
		[RUN_RUNNING] = { LOG_INFO, LOG_EV_RUN_OK },
		[RUN_SUCCEEDED] = { LOG_INFO, LOG_EV_RUN_OK },
		[RUN_FAILED] = { LOG_ERR, LOG_EV_RUN_FAILED },
		[RUN_CANCELLED] = { LOG_WARNING, LOG_EV_RUN_CANCELLED },
		[RUN_SKIPPED] = { LOG_NOTICE, LOG_EV_RUN_SKIPPED },
	};

	snprintf(id, sizeof(id), "%lld", (long long)r->run_id);
	snprintf(dur, sizeof(dur), "%lld", (long long)r->duration_ms);
	if (r->run_id != 0)
		log_event(kinds[r->status].prio, kinds[r->status].ev, f,
		    nitems(f), "%s %s on %s: run %s%s%s", r->job,
		    status_names[r->status], r->db->name, id,
		    r->message != NULL ? ": " : "",
		    r->message != NULL ? r->message : "");
	else
		log_event(kinds[r->status].prio, kinds[r->status].ev, f,
		    nitems(f), "%s %s on %s%s%s", r->job,
		    status_names[r->status], r->db->name,
		    r->message != NULL ? ": " : "",
		    r->message != NULL ? r->message : "");
}

/* run_finish: the run is over: release, log, tell, free. */
static void
run_finish(struct run *r)
{
	struct pgmigd *d;
	struct db *db;

	event_del(r->deadline);
	event_del(r->cancel_timer);
	event_del(r->progress_timer);
	event_del(r->lock_timer);
	if (r->body != NULL && !r->body_stopped) {
		r->body_stopped = true;
		r->body->stop(r, r->body->arg);
	}
	if (r->status == RUN_RUNNING)
		r->status = RUN_FAILED;
	if (r->duration_ms == 0 && r->started_ms != 0)
		r->duration_ms = now_ms() - r->started_ms;
	if (r->conn != NULL) {
		if (r->locked)
			pool_discard(r->db->pool, r->conn);
		else
			pool_release(r->db->pool, r->conn);
		r->conn = NULL;
	}
	if (r->run_id != 0 && !r->recorded)
		r->db->stale_rows = true;	/* closed at the next check */
	list_remove(r);
	log_run(r);
	metrics_record_run(r->d, r->db->name, r->configured ? r->job : NULL,
	    conf_job_type_name(r->type), (int)r->status, r->duration_ms,
	    time(NULL));
	if (r->owner_done != NULL)
		r->owner_done(r, r->owner_arg);
	if (r->done != NULL)
		r->done(r, r->arg);
	r->owner_done = NULL;
	r->done = NULL;
	r->started_cb = NULL;
	r->progress = NULL;
	d = r->d;
	db = r->db;
	if (r->side_wait != NULL) {
		pool_acquire_cancel(r->side_wait);
		r->side_wait = NULL;
		r->side_busy = false;
	}
	if (r->prog_wait != NULL) {
		pool_acquire_cancel(r->prog_wait);
		r->prog_wait = NULL;
		r->prog_busy = false;
	}
	if (r->side_busy || r->prog_busy) {
		r->zombie = true;	/* the side query frees it */
		db_hold(db);
	} else
		run_free(r);
	sched_kick(d);	/* a place under max_running_jobs is free */
	if (db->retired && db->nruns == 0 && db->users == 0)
		db_release(db);		/* dropped by a reload: last run ended */
	pgmigd_maybe_exit(d);
}

/*
 * run_start: start a run; owner_done is called once when it is over
 * (also when it never started: database down, standby, already running).
 * run_observe adds a waiting command.
 */
struct run *
run_start(struct pgmigd *d, struct db *db, const struct run_params *p,
    run_done_fn owner_done, void *owner_arg)
{
	struct run *r = xcalloc(1, sizeof(*r));

	r->d = d;
	r->db = db;
	r->schema = xstrdup(db->conf->state_schema);
	r->db_statement_timeout_ms = db->conf->statement_timeout_ms;
	r->db_lock_timeout_ms = db->conf->lock_timeout_ms;
	r->job = xstrdup(p->job);
	r->type = p->type;
	r->objects = strv_copy(p->objects, p->nobjects);
	r->nobjects = p->nobjects;
	r->schemas = strv_copy(p->schemas, p->nschemas);
	r->nschemas = p->nschemas;
	r->analyze = p->analyze;
	r->full = p->full;
	r->concurrently = p->concurrently;
	r->sql = p->sql != NULL ? xstrdup(p->sql) : NULL;
	r->timeout_ms = p->timeout_ms;
	r->lock_timeout_ms = p->lock_timeout_ms;
	r->trigger = p->trigger;
	r->slot = p->slot;
	/* diagnostics jobs: the report's limits and thresholds */
	memset(&r->diag, 0, sizeof(r->diag));
	r->diag.statement_timeout_ms = p->timeout_ms > 0 ? p->timeout_ms :
	    db->conf->statement_timeout_ms > 0 ?
	    db->conf->statement_timeout_ms : 60000;
	r->diag.lock_timeout_ms = p->lock_timeout_ms >= 0 ?
	    p->lock_timeout_ms : db->conf->lock_timeout_ms > 0 ?
	    db->conf->lock_timeout_ms : 5000;
	r->diag.limit = 20;
	r->diag.min_rows = 10000;
	r->diag.long_ms = 5 * 60 * 1000;
	r->diag.idle_ms = 5 * 60 * 1000;
	diag_health_defaults(&r->health);
	r->configured = p->conf != NULL;
	if (p->conf != NULL) {
		r->diag.limit = p->conf->limit;
		r->diag.min_mean_ms = p->conf->min_mean_ms;
		r->diag.idle_ms = p->conf->idle_in_transaction_ms;
		r->diag.long_ms = p->conf->long_running_ms;
		r->diag.max_usage = p->conf->max_usage;
		if (p->type == JOB_HEALTH_CHECK)
			diag_health_from_job(&r->health, p->conf);
	}
	r->attempt = p->attempt > 0 ? p->attempt : 1;
	r->owner_done = owner_done;
	r->owner_arg = owner_arg;
	r->status = RUN_RUNNING;
	r->started_ms = now_ms();
	r->started = time(NULL);
	r->done_objects = json_array();
	r->deadline = evtimer_new(d->base, deadline_cb, r);
	r->cancel_timer = evtimer_new(d->base, cancel_timer_cb, r);
	r->progress_timer = event_new(d->base, -1, EV_PERSIST, progress_cb, r);
	r->later = evtimer_new(d->base, later_cb, r);
	r->lock_timer = evtimer_new(d->base, lock_timer_cb, r);
	r->body = p->body;
	r->lock_name = p->lock_key != NULL ? xstrdup(p->lock_key) : NULL;
	r->lock_wait_ms = p->lock_wait_ms;
	if (r->lock_timer == NULL || r->deadline == NULL || r->cancel_timer == NULL ||
	    r->progress_timer == NULL || r->later == NULL)
		fatalx("event_new failed");
	list_add(r);
	if (r->timeout_ms > 0) {
		/* the deadline covers the whole run, waiting included */
		struct timeval tv = { (time_t)(r->timeout_ms / 1000),
		    (suseconds_t)(r->timeout_ms % 1000) * 1000 };

		event_add(r->deadline, &tv);
	}
	r->step = S_ACQUIRE;
	r->wait = pool_acquire(db->pool, false, acquired, r);
	return r;
}

/* run_set_owner: who hears first when the run is over (the scheduler). */
void
run_set_owner(struct run *r, run_done_fn done, void *arg)
{
	r->owner_done = done;
	r->owner_arg = arg;
}

/* run_observe: a command that waits for the run, streaming progress. */
void
run_observe(struct run *r, run_done_fn done, run_started_fn started,
    run_progress_fn progress, void *arg)
{
	r->done = done;
	r->started_cb = started;
	r->progress = progress;
	r->arg = arg;
}

/* run_detach: the observer is gone; the run goes on. */
void
run_detach(struct run *r)
{
	r->done = NULL;
	r->started_cb = NULL;
	r->progress = NULL;
}

/* run_id: the job_runs row, 0 before it exists. */
int64_t
run_id(const struct run *r)
{
	return r->run_id;
}

/* run_job: the job name. */
const char *
run_job(const struct run *r)
{
	return r->job;
}

/* run_status: see enum run_status. */
enum run_status
run_status(const struct run *r)
{
	return r->status;
}

/* run_message: why it failed, was cancelled or skipped. */
const char *
run_message(const struct run *r)
{
	return r->message;
}

/* run_is_busy_error: skipped because another daemon runs the job. */
bool
run_is_busy_error(const struct run *r)
{
	return r->busy_elsewhere;
}

/* run_sqlstate: the server's SQLSTATE of a failure, or NULL. */
const char *
run_sqlstate(const struct run *r)
{
	return r->sqlstate;
}

/* run_json: the result object of run and history entries. */
json_t *
run_json(const struct run *r)
{
	char started[32], finished[32];

	time_rfc3339(r->started, started, sizeof(started));
	time_rfc3339(r->started + (time_t)(r->duration_ms / 1000), finished,
	    sizeof(finished));
	return json_pack("{s:o,s:s,s:s,s:s,s:o,s:I,s:o,s:I,s:o}",
	    "run_id", r->run_id != 0 ? json_integer(r->run_id) : json_null(),
	    "job", r->job,
	    "database", r->db->name,
	    "status", status_names[r->status],
	    "started_at", json_string(started),
	    "duration_ms", (json_int_t)r->duration_ms,
	    "finished_at", r->status == RUN_RUNNING ? json_null() :
	    json_string(finished),
	    "rows", (json_int_t)r->rows,
	    "message", r->message != NULL ? json_string(r->message) :
	    json_null());
}

/* run_objects: the objects it worked on, schema-qualified (borrowed). */
json_t *
run_objects(const struct run *r)
{
	return r->done_objects;
}

/* run_duration_ms: how long it ran. */
int64_t
run_duration_ms(const struct run *r)
{
	return r->duration_ms;
}

/* run_db: the database it runs on. */
struct db *
run_db(const struct run *r)
{
	return r->db;
}

/* run_trigger: schedule, manual or startup. */
enum run_trigger
run_trigger(const struct run *r)
{
	return r->trigger;
}

/* ---- a body of its own (see struct run_body) */

/* run_body_query: one statement with parameters on the run's connection. */
void
run_body_query(struct run *r, const char *sql, int n,
    const char *const *params)
{
	free(r->body_sql);
	r->body_sql = xstrdup(sql);
	r->running_sql = r->body_sql;
	query(r, r->body_sql, n, params);
}

/* run_body_exec: SQL that may hold several statements, as one query. */
void
run_body_exec(struct run *r, const char *sql)
{
	free(r->body_sql);
	r->body_sql = xstrdup(sql);
	r->running_sql = r->body_sql;
	exec(r, r->body_sql);
}

/*
 * run_body_done: the body is over: ok, or failed with msg and sqlstate;
 * a NULL msg means it stopped for the run's cancel.
 */
void
run_body_done(struct run *r, bool ok, const char *msg, const char *sqlstate)
{
	free(r->progress_label);
	r->progress_label = NULL;
	if (ok) {
		/* what it did is done, even if a cancel came late */
		r->status = RUN_SUCCEEDED;
		run_next(r);
	} else if (msg == NULL && r->cancel_reason != NULL)
		run_next(r);
	else if (msg == NULL)
		run_fail(r, RUN_FAILED, "stopped", sqlstate);
	else
		run_fail(r, RUN_FAILED, msg, sqlstate);
}

/* run_body_progress: a progress event for the observer, if any. */
void
run_body_progress(struct run *r, const char *phase, double pct)
{
	if (r->progress != NULL)
		r->progress(r, phase, pct, r->arg);
}

/*
 * run_body_watch_index: while the next statement runs, report index
 * build progress from pg_stat_progress_create_index, labelled; NULL: no.
 */
void
run_body_watch_index(struct run *r, const char *label)
{
	struct timeval tv = { RUN_PROGRESS_MS / 1000, 0 };

	free(r->progress_label);
	r->progress_label = label != NULL ? xstrdup(label) : NULL;
	if (label != NULL && r->progress != NULL)
		event_add(r->progress_timer, &tv);
	else
		event_del(r->progress_timer);
}

/* run_set_report: what goes into job_runs.details.report (taken). */
void
run_set_report(struct run *r, json_t *report)
{
	json_decref(r->report);
	r->report = report;
}

/* run_set_rows: job_runs.rows. */
void
run_set_rows(struct run *r, int64_t rows)
{
	r->rows = rows;
}

/* run_body_kind: 1 for a run with a body of its own, else 0. */
int
run_body_kind(const struct run *r)
{
	return r->body != NULL;
}

/* run_cancelling: has a cancel been asked for? */
bool
run_cancelling(const struct run *r)
{
	return r->cancel_reason != NULL;
}

/* run_pg: the run's libpq connection (escaping), or NULL. */
PGconn *
run_pg(const struct run *r)
{
	return r->conn != NULL ? pgconn_pg(r->conn) : NULL;
}

/* run_conn: the run's connection, or NULL. */
struct pgconn *
run_conn(const struct run *r)
{
	return r->conn;
}
