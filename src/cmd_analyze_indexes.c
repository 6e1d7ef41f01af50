/*
 * cmd_analyze_indexes.c: "analyze-indexes", unused, redundant and invalid indexes.
 */
#include "config.h"

#include "cmd.h"
#include "db.h"
#include "report.h"

/* cmd_analyze_indexes_exec: one catalog query; its JSON is the result. */
enum cmd_retval
cmd_analyze_indexes_exec(struct cmd_ctx *ctx)
{
	struct db *db = cmd_db(ctx);
	struct diag_opts o;
	double limit = 10;

	if (db == NULL)
		return CMD_RETURN_ERROR;
	report_default_opts(db, &o);
	if (report_opt_num(ctx, "limit", 1, 1000, &limit) == -1)
		return CMD_RETURN_ERROR;
	o.limit = (int64_t)limit;
	return report_command(ctx, DIAG_INDEXES, &o, NULL);
}
