/*
 * cmd_table_stats.c: "table-stats", sizes, tuples, estimated bloat, vacuum and analyze times.
 */
#include "config.h"

#include "cmd.h"
#include "db.h"
#include "report.h"

/* cmd_table_stats_exec: one catalog query; its JSON is the result. */
enum cmd_retval
cmd_table_stats_exec(struct cmd_ctx *ctx)
{
	struct db *db = cmd_db(ctx);
	struct diag_opts o;
	double limit = 100;

	if (db == NULL)
		return CMD_RETURN_ERROR;

	report_default_opts(db, &o);
	/* the largest tables first; --limit 0 for all of them */
	if (report_opt_num(ctx, "limit", 0, 1e9, &limit) == -1)
		return CMD_RETURN_ERROR;
	o.limit = (int64_t)limit;
	o.pgstattuple = json_is_true(json_object_get(ctx->req.opts,
	    "pgstattuple"));
	return report_command(ctx, DIAG_TABLES, &o, NULL);
}
