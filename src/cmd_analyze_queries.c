/*
 * cmd_analyze_queries.c: "analyze-queries" (alias "slow-queries"), the
 * top statements from pg_stat_statements by mean or total time.
 */
#include "config.h"

#include <string.h>

#include "cmd.h"
#include "db.h"
#include "report.h"

/* cmd_analyze_queries_exec: top statements of this database. */
enum cmd_retval
cmd_analyze_queries_exec(struct cmd_ctx *ctx)
{
	struct db *db = cmd_db(ctx);
	const char *order = cmd_opt(ctx, "order");
	struct diag_opts o;
	double limit = 20, mean = 0;

	if (db == NULL)
		return CMD_RETURN_ERROR;
	report_default_opts(db, &o);
	if (report_opt_num(ctx, "limit", 1, 1000, &limit) == -1 ||
	    report_opt_num(ctx, "min-mean-ms", 0, 1e9, &mean) == -1)
		return CMD_RETURN_ERROR;
	if (order != NULL && strcmp(order, "mean") != 0 &&
	    strcmp(order, "total") != 0)
		return cmd_error(ctx, PROTO_E_USAGE, "--order is mean or total");
	o.limit = (int64_t)limit;
	o.min_mean_ms = mean;
	o.order_total = order != NULL && strcmp(order, "total") == 0;
	return report_command(ctx, DIAG_QUERIES, &o, NULL);
}
