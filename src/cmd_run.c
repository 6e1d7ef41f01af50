/*
 * cmd_run.c: "run JOB [--detach]".
 */
#include "config.h"

#include <stdlib.h>

#include "cmd.h"
#include "db.h"
#include "pgmigd.h"
#include "run.h"
#include "sched.h"

static json_t *
run_result(struct cmd_ctx *ctx, struct run *r)
{
	(void)ctx;
	return run_json(r);
}

/* cmd_run_exec: start a configured job now; wait unless --detach. */
enum cmd_retval
cmd_run_exec(struct cmd_ctx *ctx)
{
	struct db *db = cmd_db(ctx);
	bool detach = json_is_true(json_object_get(ctx->req.opts, "detach"));
	char *cause = NULL;
	bool busy = false;
	enum cmd_retval rv;
	struct run *r;

	if (db == NULL)
		return CMD_RETURN_ERROR;
	if (detach && ctx->d->once)
		return cmd_error(ctx, PROTO_E_USAGE, "--detach needs a running "
		    "daemon");
	r = sched_run_now(db, json_string_value(json_array_get(ctx->req.args,
	    0)), &cause, &busy);
	if (r == NULL) {
		rv = cmd_error(ctx, busy ? PROTO_E_BUSY : PROTO_E_NOT_FOUND, "%s",
		    cause);
		free(cause);
		return rv;
	}
	return cmd_wait_run(ctx, r, detach, run_result);
}
