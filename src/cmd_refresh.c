/*
 * cmd_refresh.c: "refresh VIEW [--no-concurrently]".
 */
#include "config.h"

#include "cmd.h"
#include "conf.h"
#include "run.h"

static json_t *
refresh_result(struct cmd_ctx *ctx, struct run *r)
{
	json_t *objs = run_objects(r);

	return json_pack("{s:O,s:b,s:I,s:I}",
	    "view", json_array_size(objs) > 0 ? json_array_get(objs, 0) :
	    json_null(),
	    "concurrently", !json_is_true(json_object_get(ctx->req.opts,
	    "no-concurrently")),
	    "duration_ms", (json_int_t)run_duration_ms(r),
	    "run_id", (json_int_t)run_id(r));
}

/* cmd_refresh_exec: refresh one materialized view, concurrently. */
enum cmd_retval
cmd_refresh_exec(struct cmd_ctx *ctx)
{
	bool concurrently = !json_is_true(json_object_get(ctx->req.opts,
	    "no-concurrently"));

	return cmd_maintenance(ctx, JOB_REFRESH, json_string_value(
	    json_array_get(ctx->req.args, 0)), false, false, concurrently,
	    refresh_result);
}
