/*
 * cmd_jobs.c: "jobs", configured jobs with their next and last runs.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "conf.h"
#include "db.h"
#include "pgmigd.h"
#include "sched.h"
#include "util.h"

struct jobs {
	struct cmd_ctx *ctx;
	json_t *out;
	int pending;
};

struct jobs_db {
	struct jobs *js;
	struct db *db;
};

static void
jobs_finish(struct jobs *js)
{
	struct cmd_ctx *ctx = js->ctx;

	if (--js->pending > 0)
		return;
	ctx->result = json_pack("{s:o}", "jobs", js->out);
	free(js);
	cmd_finish(ctx, CMD_RETURN_NORMAL);
}

static void
jobs_last(struct cmd_ctx *ctx, PGresult *res, const char *err, void *arg)
{
	struct jobs_db *jd = arg;
	struct jobs *js = jd->js;
	size_t k;
	int i;

	(void)ctx;
	(void)err;	/* unreachable or no job_runs yet: no last runs */
	for (k = 0; res != NULL && k < json_array_size(js->out); k++) {
		json_t *j = json_array_get(js->out, k);

		if (strcmp(json_string_value(json_object_get(j, "database")),
		    jd->db->name) != 0)
			continue;
		for (i = 0; i < PQntuples(res); i++) {
			if (strcmp(PQgetvalue(res, i, 0), json_string_value(
			    json_object_get(j, "name"))) != 0)
				continue;
			json_object_set_new(j, "last_run", json_pack(
			    "{s:I,s:s,s:s,s:o}",
			    "run_id", (json_int_t)strtoll(PQgetvalue(res, i, 1),
			    NULL, 10),
			    "status", PQgetvalue(res, i, 2),
			    "started_at", PQgetvalue(res, i, 3),
			    "duration_ms", PQgetisnull(res, i, 4) ? json_null() :
			    json_integer(strtoll(PQgetvalue(res, i, 4), NULL,
			    10))));
		}
	}
	free(jd);
	jobs_finish(js);
}

/* cmd_jobs_exec: every configured job (of -d, or of all databases). */
enum cmd_retval
cmd_jobs_exec(struct cmd_ctx *ctx)
{
	struct pgmigd *d = ctx->d;
	struct jobs *js = xcalloc(1, sizeof(*js));
	size_t i, k;

	js->ctx = ctx;
	js->out = json_array();
	js->pending = 1;
	for (i = 0; i < d->ndbs; i++) {
		struct db *db = d->dbs[i];
		struct jobs_db *jd;
		const char *params[1] = { db->name };
		char *sql;

		if (ctx->req.db != NULL && strcmp(ctx->req.db, db->name) != 0)
			continue;
		for (k = 0; k < db->conf->njobs; k++)
			json_array_append_new(js->out, sched_job_json(db,
			    &db->conf->jobs[k]));
		if (db->conf->njobs == 0)
			continue;
		/* each database's last runs: one query, not one per job */
		jd = xcalloc(1, sizeof(*jd));
		jd->js = js;
		jd->db = db;
		js->pending++;
		xasprintf(&sql, "SELECT DISTINCT ON (job) job, run_id, status, "
		    "pg_catalog.to_char(started_at AT TIME ZONE 'UTC', "
		    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), duration_ms FROM "
		    "\"%s\".job_runs WHERE database = $1 AND status <> "
		    "'running' ORDER BY job, run_id DESC",
		    db->conf->state_schema);
		cmd_query(ctx, db, sql, params, 1, jobs_last, jd);
		free(sql);
	}
	js->pending--;	/* the queries answer from the loop, never before */
	if (js->pending == 0) {
		ctx->result = json_pack("{s:o}", "jobs", js->out);
		free(js);
		return CMD_RETURN_NORMAL;
	}
	return CMD_RETURN_WAIT;
}
