/*
 * cmd_connection_stats.c: "connection-stats", connections by state, user
 * and application, usage of max_connections, sessions idle in
 * transaction and long-running queries.
 */
#include "config.h"

#include "cmd.h"
#include "db.h"
#include "report.h"

/* cmd_connection_stats_exec: one pg_stat_activity query. */
enum cmd_retval
cmd_connection_stats_exec(struct cmd_ctx *ctx)
{
	struct db *db = cmd_db(ctx);
	struct diag_opts o;

	if (db == NULL)
		return CMD_RETURN_ERROR;
	report_default_opts(db, &o);
	if (report_opt_ms(ctx, "idle-threshold", &o.idle_ms) == -1 ||
	    report_opt_ms(ctx, "long-threshold", &o.long_ms) == -1)
		return CMD_RETURN_ERROR;
	return report_command(ctx, DIAG_CONNECTIONS, &o, NULL);
}
