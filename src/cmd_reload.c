/*
 * cmd_reload.c: "reload", the same as SIGHUP.
 */
#include "config.h"

#include <stdlib.h>

#include "cmd.h"
#include "pgmigd.h"

/* cmd_reload_exec: reload; a bad file keeps the old configuration. */
enum cmd_retval
cmd_reload_exec(struct cmd_ctx *ctx)
{
	char *cause = NULL;
	enum cmd_retval r;

	if (pgmigd_reload(ctx->d, &cause) == -1) {
		r = cmd_error(ctx, PROTO_E_FAILED, "not reloading: %s", cause);
		free(cause);
		return r;
	}
	ctx->result = json_pack("{s:b,s:s}", "reloaded", 1, "config",
	    ctx->d->conf_path);
	return CMD_RETURN_NORMAL;
}
