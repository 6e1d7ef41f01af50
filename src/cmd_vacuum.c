/*
 * cmd_vacuum.c: "vacuum TABLE [--analyze] [--full]".
 */
#include "config.h"

#include "cmd.h"
#include "conf.h"
#include "run.h"

static json_t *
vacuum_result(struct cmd_ctx *ctx, struct run *r)
{
	return json_pack("{s:O,s:b,s:b,s:I,s:I}",
	    "tables", run_objects(r),
	    "analyze", json_is_true(json_object_get(ctx->req.opts, "analyze")),
	    "full", json_is_true(json_object_get(ctx->req.opts, "full")),
	    "duration_ms", (json_int_t)run_duration_ms(r),
	    "run_id", (json_int_t)run_id(r));
}

/* cmd_vacuum_exec: VACUUM one table; FULL only when asked for. */
enum cmd_retval
cmd_vacuum_exec(struct cmd_ctx *ctx)
{
	return cmd_maintenance(ctx, JOB_VACUUM, json_string_value(
	    json_array_get(ctx->req.args, 0)),
	    json_is_true(json_object_get(ctx->req.opts, "analyze")),
	    json_is_true(json_object_get(ctx->req.opts, "full")), false,
	    vacuum_result);
}
