/*
 * cmd.c: dispatch a request to its command: look it up, check arguments
 * and privilege, run it, and deliver the reply (now or when an async
 * command finishes).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "pgmigd.h"
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
