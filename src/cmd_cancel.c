/*
 * cmd_cancel.c: "cancel RUN_ID|JOB".
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "pgmigd.h"
#include "run.h"
#include "util.h"

/* cmd_cancel_exec: cancel a run of this daemon, on the server. */
enum cmd_retval
cmd_cancel_exec(struct cmd_ctx *ctx)
{
	const char *what = json_string_value(json_array_get(ctx->req.args, 0));
	struct pgmigd *d = ctx->d;
	struct run *r = NULL;
	char *reason;
	const char *p;
	size_t i;

	for (p = what; isdigit((unsigned char)*p); p++)
		;
	if (*p == '\0' && p != what && strlen(what) < 19)
		r = run_find(d, strtoll(what, NULL, 10));
	for (i = 0; r == NULL && i < d->ndbs; i++) {
		if (ctx->req.db != NULL && strcmp(ctx->req.db,
		    d->dbs[i]->name) != 0)
			continue;
		r = run_find_job(d->dbs[i], what);
	}
	if (r == NULL)
		return cmd_error(ctx, PROTO_E_NOT_FOUND, "no run \"%.64s\" is "
		    "running on this pgmigd", what);
	xasprintf(&reason, "cancelled by uid %ld", (long)ctx->uid);
	ctx->result = json_pack("{s:o,s:s,s:s,s:b}", "run_id", run_id(r) != 0 ?
	    json_integer(run_id(r)) : json_null(), "job", run_job(r),
	    "database", run_db(r)->name, "cancel_requested", 1);
	run_cancel(r, reason, false);
	free(reason);
	return CMD_RETURN_NORMAL;
}
