/*
 * cmd_history.c: "history [JOB] [--limit N]", from job_runs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "conf.h"
#include "db.h"
#include "pgconn.h"
#include "util.h"

#define HISTORY_DEFAULT 20
#define HISTORY_MAX 10000

/* the columns of a run, as run and history show it */
#define RUN_COLUMNS \
	"run_id, job, job_type, trigger, status, " \
	"pg_catalog.to_char(started_at AT TIME ZONE 'UTC', " \
	"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
	"pg_catalog.to_char(finished_at AT TIME ZONE 'UTC', " \
	"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
	"duration_ms, rows, message, host, pid"

static json_t *
col(PGresult *res, int row, int c, bool number)
{
	if (PQgetisnull(res, row, c))
		return json_null();
	if (number)
		return json_integer(strtoll(PQgetvalue(res, row, c), NULL, 10));
	return json_string(PQgetvalue(res, row, c)) ?:
	    json_string("(not UTF-8)");
}

static void
history_done(struct cmd_ctx *ctx, PGresult *res, const char *err,
    void *arg)
{
	json_t *runs;
	int i;

	(void)arg;
	if (res == NULL) {
		cmd_finish(ctx, cmd_error(ctx, strstr(err, "does not exist") !=
		    NULL ? PROTO_E_NOT_FOUND : PROTO_E_DB_UNREACHABLE,
		    "cannot read job_runs: %s", err));
		return;
	}
	runs = json_array();
	for (i = 0; i < PQntuples(res); i++)
		json_array_append_new(runs, json_pack(
		    "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
		    "run_id", col(res, i, 0, true), "job", col(res, i, 1, false),
		    "job_type", col(res, i, 2, false),
		    "trigger", col(res, i, 3, false),
		    "status", col(res, i, 4, false),
		    "started_at", col(res, i, 5, false),
		    "finished_at", col(res, i, 6, false),
		    "duration_ms", col(res, i, 7, true),
		    "rows", col(res, i, 8, true),
		    "message", col(res, i, 9, false),
		    "host", col(res, i, 10, false),
		    "pid", col(res, i, 11, true)));
	ctx->result = json_pack("{s:o}", "runs", runs);
	cmd_finish(ctx, CMD_RETURN_NORMAL);
}

/* cmd_history_exec: the newest runs of a database, or of one job. */
enum cmd_retval
cmd_history_exec(struct cmd_ctx *ctx)
{
	struct db *db = cmd_db(ctx);
	const char *limit = cmd_opt(ctx, "limit");
	const char *job = json_string_value(json_array_get(ctx->req.args, 0));
	const char *params[3];
	char lim[16], *sql, *end;
	long n = HISTORY_DEFAULT;

	if (db == NULL)
		return CMD_RETURN_ERROR;
	if (limit != NULL) {
		n = strtol(limit, &end, 10);
		if (*end != '\0' || n < 1 || n > HISTORY_MAX)
			return cmd_error(ctx, PROTO_E_USAGE, "--limit takes a "
			    "number from 1 to %d", HISTORY_MAX);
	}
	snprintf(lim, sizeof(lim), "%ld", n);
	params[0] = db->name;
	params[1] = job;
	params[2] = lim;
	xasprintf(&sql, "SELECT " RUN_COLUMNS " FROM \"%s\".job_runs "
	    "WHERE database = $1 AND ($2::pg_catalog.text IS NULL OR job = $2) "
	    "ORDER BY run_id DESC LIMIT $3::pg_catalog.int4",
	    db->conf->state_schema);
	cmd_query(ctx, db, sql, params, 3, history_done, NULL);
	free(sql);
	return CMD_RETURN_WAIT;
}
