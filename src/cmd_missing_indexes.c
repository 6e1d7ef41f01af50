/*
 * cmd_missing_indexes.c: "missing-indexes", foreign keys without an index, tables read by seq scans.
 */
#include "config.h"

#include "cmd.h"
#include "db.h"
#include "report.h"

/* cmd_missing_indexes_exec: one catalog query; its JSON is the result. */
enum cmd_retval
cmd_missing_indexes_exec(struct cmd_ctx *ctx)
{
	struct db *db = cmd_db(ctx);
	struct diag_opts o;
	double rows = 10000;

	if (db == NULL)
		return CMD_RETURN_ERROR;
	report_default_opts(db, &o);
	if (report_opt_num(ctx, "min-rows", 0, 1e15, &rows) == -1)
		return CMD_RETURN_ERROR;
	o.min_rows = (int64_t)rows;
	return report_command(ctx, DIAG_MISSING, &o, NULL);
}
