/*
 * cmd_analyze.c: "analyze [TABLE]".
 */
#include "config.h"

#include "cmd.h"
#include "conf.h"
#include "run.h"

static json_t *
analyze_result(struct cmd_ctx *ctx, struct run *r)
{
	(void)ctx;
	return json_pack("{s:O,s:b,s:b,s:I,s:I}",
	    "tables", run_objects(r), "analyze", 1, "full", 0,
	    "duration_ms", (json_int_t)run_duration_ms(r),
	    "run_id", (json_int_t)run_id(r));
}

/* cmd_analyze_exec: ANALYZE one table, or the whole database. */
enum cmd_retval
cmd_analyze_exec(struct cmd_ctx *ctx)
{
	return cmd_maintenance(ctx, JOB_ANALYZE, json_array_size(
	    ctx->req.args) > 0 ? json_string_value(json_array_get(
	    ctx->req.args, 0)) : NULL, false, false, false, analyze_result);
}
