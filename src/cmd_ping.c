/*
 * cmd_ping.c: "ping", a round trip to the daemon.
 */
#include "config.h"

#include <unistd.h>

#include "cmd.h"

/* cmd_ping_exec: answer with our version and pid. */
enum cmd_retval
cmd_ping_exec(struct cmd_ctx *ctx)
{
	ctx->result = json_pack("{s:b,s:s,s:I}", "pong", 1, "version",
	    PACKAGE_VERSION, "pid", (json_int_t)getpid());
	return CMD_RETURN_NORMAL;
}
