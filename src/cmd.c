/*
 * cmd.c: dispatch a request to its command: look it up, check arguments
 * and privilege, run it, and deliver the reply (now or when an async
 * command finishes).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "pgmigd.h"
#include "pool.h"
#include "run.h"
#include "util.h"

static const cmd_exec_fn cmd_execs[CMD_ID__COUNT] = {
#define CMD(id, ...) [CMD_ID_##id] = cmd_##id##_exec,
#include "cmd_list.h"
#undef CMD
};

/* cmd_ctx_new: an empty context for one request. */
struct cmd_ctx *
cmd_ctx_new(struct pgmigd *d)
{
	struct cmd_ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->d = d;
	ctx->uid = (uid_t)-1;
	return ctx;
}

/* cmd_ctx_free: free a context; NULL is fine. */
void
cmd_ctx_free(struct cmd_ctx *ctx)
{
	if (ctx == NULL)
		return;
	proto_request_clear(&ctx->req);
	json_decref(ctx->result);
	free(ctx->errmsg);
	free(ctx);
}

/* cmd_error: record an error for the reply; returns CMD_RETURN_ERROR. */
enum cmd_retval
cmd_error(struct cmd_ctx *ctx, enum proto_err err, const char *fmt, ...)
{
	va_list ap;

	free(ctx->errmsg);
	va_start(ap, fmt);
	xvasprintf(&ctx->errmsg, fmt, ap);
	va_end(ap);
	ctx->err = err;
	return CMD_RETURN_ERROR;
}

/* cmd_progress: pass a progress event to the client, if it listens. */
void
cmd_progress(struct cmd_ctx *ctx, const char *phase, double pct)
{
	if (ctx->progress != NULL && ctx->owner != NULL)
		ctx->progress(ctx, phase, pct);
}

/*
 * cmd_finish: the command is done; deliver the reply.  The reply
 * callback owns ctx from here (it frees it).
 */
void
cmd_finish(struct cmd_ctx *ctx, enum cmd_retval r)
{
	struct pgmigd *d = ctx->d;
	bool waited = ctx->waiting;

	if (r == CMD_RETURN_NORMAL && ctx->result == NULL)
		ctx->result = json_object();
	if (r == CMD_RETURN_ERROR && ctx->errmsg == NULL)
		(void)cmd_error(ctx, PROTO_E_INTERNAL, "command failed");
	if (ctx->reply != NULL)
		ctx->reply(ctx);
	else
		cmd_ctx_free(ctx);
	if (waited) {
		d->inflight--;
		pgmigd_maybe_exit(d);
	}
}

/*
 * cmd_db: the database a command works on: -d, or the only one
 * configured.  NULL with the error set when that is ambiguous.
 */
struct db *
cmd_db(struct cmd_ctx *ctx)
{
	struct pgmigd *d = ctx->d;

	if (ctx->req.db != NULL)
		return db_find(d, ctx->req.db);	/* checked in cmd_run */
	if (d->ndbs == 1)
		return d->dbs[0];
	if (d->ndbs == 0)
		(void)cmd_error(ctx, PROTO_E_USAGE, "no database is configured");
	else
		(void)cmd_error(ctx, PROTO_E_USAGE, "%zu databases are "
		    "configured: pick one with -d NAME", d->ndbs);
	return NULL;
}

static void
cmd_audit(struct cmd_ctx *ctx, bool allowed)
{
	char uid[32], pid[32];
	struct log_field f[] = {
		{ "PGMIG_COMMAND", ctx->spec->name },
		{ "PGMIG_DATABASE", ctx->req.db },
		{ "PGMIG_PEER_UID", uid },
		{ "PGMIG_PEER_PID", pid },
	};

	snprintf(uid, sizeof(uid), "%ld", (long)ctx->uid);
	snprintf(pid, sizeof(pid), "%ld", (long)ctx->pid);
	if (allowed)
		log_event(LOG_INFO, LOG_EV_COMMAND, f, nitems(f),
		    "%s requested by uid %s (pid %s)", ctx->spec->name, uid, pid);
	else
		log_event(LOG_WARNING, LOG_EV_CONTROL_REFUSED, f, nitems(f),
		    "%s refused for uid %s (pid %s): not root, the daemon's "
		    "user or in control_group", ctx->spec->name, uid, pid);
}

/*
 * cmd_run: run ctx->req.  The reply is delivered through ctx->reply,
 * immediately or, for a command that waits, later.
 */
void
cmd_run(struct cmd_ctx *ctx)
{
	enum cmd_retval r;
	char *err = NULL;

	ctx->spec = cmdspec_find(ctx->req.cmd);
	if (ctx->spec == NULL) {
		cmd_finish(ctx, cmd_error(ctx, PROTO_E_USAGE,
		    "unknown command \"%.64s\" (pgmigctl --help lists them)",
		    ctx->req.cmd));
		return;
	}
	if (cmdspec_check(ctx->spec, ctx->req.args, ctx->req.opts, &err) ==
	    -1) {
		cmd_finish(ctx, cmd_error(ctx, PROTO_E_USAGE, "%s", err));
		free(err);
		return;
	}
	if (ctx->spec->flags & CMD_MUTATE) {
		cmd_audit(ctx, ctx->privileged);
		if (!ctx->privileged) {
			cmd_finish(ctx, cmd_error(ctx, PROTO_E_PERMISSION,
			    "permission denied: %s changes things and needs "
			    "root, the daemon's user or membership in "
			    "control_group", ctx->spec->name));
			return;
		}
	}
	if (ctx->req.db != NULL && conf_find_db(ctx->d->conf, ctx->req.db) ==
	    NULL) {
		cmd_finish(ctx, cmd_error(ctx, PROTO_E_NOT_FOUND,
		    "database \"%s\" is not configured", ctx->req.db));
		return;
	}
	if ((ctx->spec->flags & CMD_MUTATE) && ctx->d->stopping) {
		cmd_finish(ctx, cmd_error(ctx, PROTO_E_BUSY, "pgmigd is "
		    "stopping"));
		return;
	}
	if ((ctx->spec->flags & CMD_DAEMON_ONLY) && ctx->d->once) {
		cmd_finish(ctx, cmd_error(ctx, PROTO_E_USAGE,
		    "%s needs a running daemon (use pgmigctl)",
		    ctx->spec->name));
		return;
	}
	r = cmd_execs[ctx->spec - cmd_specs](ctx);
	if (r == CMD_RETURN_WAIT) {
		ctx->waiting = true;
		ctx->d->inflight++;
	} else
		cmd_finish(ctx, r);
}

/* cmd_opt: the value of option name as a string, or NULL. */
const char *
cmd_opt(struct cmd_ctx *ctx, const char *name)
{
	json_t *v = json_object_get(ctx->req.opts, name);
	static char buf[32];

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(v));
		return buf;
	}
	return NULL;
}

/* ---- waiting for a run */

static void
wait_started(struct run *r, void *arg)
{
	struct cmd_ctx *ctx = arg;

	/* --detach: the run id is all the caller wanted */
	if (json_is_true(json_object_get(ctx->req.opts, "detach"))) {
		run_detach(r);
		ctx->result = json_pack("{s:I,s:s,s:s}", "run_id",
		    (json_int_t)run_id(r), "job", run_job(r), "status",
		    "running");
		cmd_finish(ctx, CMD_RETURN_NORMAL);
	}
}

static void
wait_progress(struct run *r, const char *phase, double pct, void *arg)
{
	(void)r;
	cmd_progress(arg, phase, pct);
}

/*
 * cmd_finish_run: finish ctx with the outcome of run r: result (taken)
 * when it succeeded, else the error its status and SQLSTATE call for.
 */
void
cmd_finish_run(struct cmd_ctx *ctx, struct run *r, json_t *result)
{
	const char *st = run_sqlstate(r);
	const char *msg = run_message(r) != NULL ? run_message(r) : "failed";

	switch (run_status(r)) {
	case RUN_SUCCEEDED:
		ctx->result = result;
		cmd_finish(ctx, CMD_RETURN_NORMAL);
		return;
	case RUN_CANCELLED:
		json_decref(result);
		cmd_finish(ctx, cmd_error(ctx, PROTO_E_CANCELLED, "%s", msg));
		return;
	case RUN_SKIPPED:
		json_decref(result);
		cmd_finish(ctx, cmd_error(ctx, run_is_busy_error(r) ?
		    PROTO_E_BUSY : PROTO_E_FAILED, "%s", msg));
		return;
	default:
		break;
	}
	json_decref(result);
	if (st != NULL && (strcmp(st, "42P01") == 0 ||
	    strcmp(st, "3F000") == 0) && run_body_kind(r) == 0)
		cmd_finish(ctx, cmd_error(ctx, PROTO_E_NOT_FOUND, "%s", msg));
	else if (st != NULL && strcmp(st, "42809") == 0 &&
	    run_body_kind(r) == 0)
		cmd_finish(ctx, cmd_error(ctx, PROTO_E_WRONG_KIND, "%s", msg));
	else if (st != NULL && strcmp(st, "42501") == 0)
		cmd_finish(ctx, cmd_error(ctx, PROTO_E_PERMISSION, "%s", msg));
	else if (strncmp(msg, "database unreachable", 20) == 0 ||
	    strncmp(msg, "connection lost", 15) == 0)
		cmd_finish(ctx, cmd_error(ctx, PROTO_E_DB_UNREACHABLE, "%s",
		    msg));
	else
		cmd_finish(ctx, cmd_error(ctx, PROTO_E_FAILED, "%s", msg));
}

static void
wait_done(struct run *r, void *arg)
{
	struct cmd_ctx *ctx = arg;
	cmd_run_result_fn fn = (cmd_run_result_fn)ctx->priv;

	cmd_finish_run(ctx, r, run_status(r) == RUN_SUCCEEDED ? fn(ctx, r) :
	    NULL);
}

/*
 * cmd_wait_run: reply when r ends (or, with detach, once its row exists),
 * streaming its progress meanwhile; fn builds the result of a success.
 */
enum cmd_retval
cmd_wait_run(struct cmd_ctx *ctx, struct run *r, bool detach,
    cmd_run_result_fn fn)
{
	ctx->priv = (void *)fn;
	run_observe(r, wait_done, detach ? wait_started : NULL, wait_progress,
	    ctx);
	return CMD_RETURN_WAIT;
}

/*
 * cmd_maintenance: refresh, vacuum, analyze of one object (or, for
 * analyze, of the whole database), as a recorded manual run.
 */
enum cmd_retval
cmd_maintenance(struct cmd_ctx *ctx, int type, const char *object,
    bool analyze, bool full, bool concurrently, cmd_run_result_fn fn)
{
	struct db *db = cmd_db(ctx);
	struct run_params p;
	const char *objs[1] = { object };
	char *job;
	struct run *r;

	if (db == NULL)
		return CMD_RETURN_ERROR;
	/* a name is looked up in the catalog; text that is not a name
	 * cannot be one there either */
	if (object != NULL && !sql_name_valid(object))
		return cmd_error(ctx, PROTO_E_NOT_FOUND, "%s \"%.200s\" does "
		    "not exist", type == JOB_REFRESH ? "materialized view" :
		    "table", object);
	memset(&p, 0, sizeof(p));
	/* the job name carries the object: two operators may vacuum two
	 * tables at once, but not the same one twice */
	xasprintf(&job, "%s%s%s", conf_job_type_name(type),
	    object != NULL ? ":" : "", object != NULL ? object : "");
	p.job = job;
	p.type = type;
	p.objects = object != NULL ? objs : NULL;
	p.nobjects = object != NULL ? 1 : 0;
	p.analyze = analyze;
	p.full = full;
	p.concurrently = concurrently;
	p.lock_timeout_ms = -1;
	p.trigger = RUN_MANUAL;
	r = run_start(ctx->d, db, &p, NULL, NULL);
	free(job);
	return cmd_wait_run(ctx, r, false, fn);
}

/* ---- one query on a database for a command */

struct cmd_q {
	struct cmd_ctx *ctx;
	struct db *db;
	char *sql;
	char *params[8];
	int n;
	cmd_query_fn cb;
	void *arg;
};

static void
cmd_q_free(struct cmd_q *q)
{
	int i;

	for (i = 0; i < q->n; i++)
		free(q->params[i]);
	free(q->sql);
	free(q);
}

static void
cmd_q_done(struct pgconn *c, PGresult *res, void *arg)
{
	struct cmd_q *q = arg;
	struct db *db;
	char *msg = NULL;

	q->ctx->sqlstate[0] = '\0';
	if (res == NULL)
		msg = xstrdup(pgconn_error(c));
	else if (!pgres_ok(res)) {
		msg = pgres_message(res);
		strlcpy_(q->ctx->sqlstate, pgres_sqlstate(res) != NULL ?
		    pgres_sqlstate(res) : "XX000", sizeof(q->ctx->sqlstate));
	}
	pool_release(q->db->pool, c);
	q->cb(q->ctx, msg == NULL ? res : NULL, msg, q->arg);
	free(msg);
	PQclear(res);
	db = q->db;
	cmd_q_free(q);
	db_drop(db);
}

static void
cmd_q_conn(struct pgconn *c, const char *err, void *arg)
{
	struct cmd_q *q = arg;

	if (c == NULL) {
		struct db *db = q->db;

		q->ctx->sqlstate[0] = '\0';
		q->cb(q->ctx, NULL, err, q->arg);
		cmd_q_free(q);
		db_drop(db);
		return;
	}
	/* without parameters the SQL may be a batch (BEGIN; SET LOCAL ...;
	 * SELECT ...; COMMIT), sent as one simple query */
	if ((q->n == 0 ? pool_exec(q->db->pool, c, q->sql, cmd_q_done, q) :
	    pool_query(q->db->pool, c, q->sql, q->n,
	    (const char *const *)q->params, cmd_q_done, q)) == -1) {
		struct db *db = q->db;

		pool_discard(q->db->pool, c);
		q->cb(q->ctx, NULL, "connection lost", q->arg);
		cmd_q_free(q);
		db_drop(db);
	}
}

/*
 * cmd_query: run one read-only statement on db for ctx; cb gets the
 * result, or NULL and a message.  Uses the pool's urgent slot, so a
 * report never waits behind running jobs.
 */
void
cmd_query(struct cmd_ctx *ctx, struct db *db, const char *sql,
    const char *const *params, int n, cmd_query_fn cb, void *arg)
{
	struct cmd_q *q = xcalloc(1, sizeof(*q));
	int i;

	q->ctx = ctx;
	q->db = db;
	q->sql = xstrdup(sql);
	q->cb = cb;
	q->arg = arg;
	for (i = 0; i < n && i < 8; i++)
		q->params[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
	q->n = n;
	db_hold(db);
	(void)pool_acquire(db->pool, true, cmd_q_conn, q);
}
