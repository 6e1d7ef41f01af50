/*
 * cmd_lock_info.c: "lock-info", lock waits and blocking chains.
 */
#include "config.h"

#include "cmd.h"
#include "db.h"
#include "report.h"

/* cmd_lock_info_exec: one catalog query; its JSON is the result. */
enum cmd_retval
cmd_lock_info_exec(struct cmd_ctx *ctx)
{
	struct db *db = cmd_db(ctx);
	struct diag_opts o;

	if (db == NULL)
		return CMD_RETURN_ERROR;
	report_default_opts(db, &o);
	return report_command(ctx, DIAG_LOCKS, &o, NULL);
}
