/*
 * cmd_metrics.c: "metrics", the Prometheus text of /metrics.
 */
#include "config.h"

#include <stdlib.h>

#include "cmd.h"
#include "metrics.h"

/* cmd_metrics_exec: the exposition text, as {"text": ...}. */
enum cmd_retval
cmd_metrics_exec(struct cmd_ctx *ctx)
{
	char *text = metrics_render(ctx->d);

	ctx->result = json_pack("{s:s}", "text", text);
	free(text);
	return CMD_RETURN_NORMAL;
}
