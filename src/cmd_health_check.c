/*
 * cmd_health_check.c: "health-check": the server's vital signs, and
 * whether every configured job succeeded as recently as its schedule
 * allows (maintenance that silently stopped).  Exit 1 when any check is
 * not ok.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "conf.h"
#include "cron.h"
#include "db.h"
#include "migfile.h"
#include "migplan.h"
#include "migrate.h"
#include "pgmigd.h"
#include "report.h"
#include "sched.h"
#include "util.h"

struct hc {
	struct db *db;
	json_t *result;
	char *dir;		/* migrations_dir, copied; NULL: none */
	char *table;		/* migrations_table, quoted */
};

static void
hc_finish(struct cmd_ctx *ctx, struct hc *hc)
{
	ctx->result = hc->result;
	free(hc->dir);
	free(hc->table);
	free(hc);
	cmd_finish(ctx, CMD_RETURN_NORMAL);
}

/*
 * the "migrations" check: critical when a migration failed (it blocks
 * migrate up and may be half applied), warning when an applied file
 * changed or is gone; the value is the number pending
 */
static void
migrations_rows(struct cmd_ctx *ctx, PGresult *res, const char *err,
    void *arg)
{
	struct hc *hc = arg;
	struct migset set;
	struct mighist hist = { NULL, 0 };
	char *cause = NULL, msg[512];
	json_t *st, *failed, *changed, *missing, *pending;

	if (res == NULL && err != NULL) {
		diag_health_add(hc->result, "migrations", "warning",
		    json_null(), err);
		hc_finish(ctx, hc);
		return;
	}
	if (migset_scan(hc->dir, &set, &cause) == -1) {
		diag_health_add(hc->result, "migrations", "warning",
		    json_null(), cause);
		free(cause);
		hc_finish(ctx, hc);
		return;
	}
	migrate_history_load(&hist, res);
	st = migplan_status(&set, &hist);
	failed = json_object_get(st, "failed");
	changed = json_object_get(st, "changed");
	missing = json_object_get(st, "missing");
	pending = json_object_get(st, "pending");
	if (json_array_size(failed) > 0) {
		snprintf(msg, sizeof(msg), "migration %s failed and blocks "
		    "migrate up: fix what it left, then migrate repair %s",
		    json_string_value(json_object_get(json_array_get(failed,
		    0), "version")), json_string_value(json_object_get(
		    json_array_get(failed, 0), "version")));
		diag_health_add(hc->result, "migrations", "critical",
		    json_integer((json_int_t)json_array_size(pending)), msg);
	} else if (json_array_size(changed) + json_array_size(missing) > 0) {
		snprintf(msg, sizeof(msg), "%zu applied file%s changed, %zu "
		    "gone (migrate status)", json_array_size(changed),
		    json_array_size(changed) == 1 ? "" : "s",
		    json_array_size(missing));
		diag_health_add(hc->result, "migrations", "warning",
		    json_integer((json_int_t)json_array_size(pending)), msg);
	} else {
		snprintf(msg, sizeof(msg), "%zu pending", json_array_size(
		    pending));
		diag_health_add(hc->result, "migrations", "ok",
		    json_integer((json_int_t)json_array_size(pending)), msg);
	}
	json_decref(st);
	mighist_free(&hist);
	migset_free(&set);
	hc_finish(ctx, hc);
}

static void
migrations_probed(struct cmd_ctx *ctx, PGresult *res, const char *err,
    void *arg)
{
	struct hc *hc = arg;
	char *sql;

	if (res == NULL) {
		migrations_rows(ctx, NULL, err, hc);
		return;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		migrations_rows(ctx, NULL, NULL, hc);	/* none applied */
		return;
	}
	sql = migrate_history_sql(hc->table);
	cmd_query(ctx, hc->db, sql, NULL, 0, migrations_rows, hc);
	free(sql);
}

/* how long a job may go without a success before it counts as stopped */
static int64_t
allowed_s(const struct conf_job *j)
{
	long iv = cron_max_interval(&j->cron);

	if (iv < 0)
		return -1;
	/* a slot and a half, the jitter, a minute; an hour of DST for
	 * schedules of a day or more */
	return iv + iv / 2 + j->jitter_ms / 1000 + 60 +
	    (iv >= 86400 ? 3600 : 0) + j->timeout_ms / 1000;
}

static void
jobs_checked(struct cmd_ctx *ctx, PGresult *res, const char *err, void *arg)
{
	struct hc *hc = arg;
	const struct conf_db *cd = hc->db->conf;	/* NULL: removed */
	time_t now = time(NULL);
	size_t k;
	int i;

	(void)err;	/* no job_runs yet: nothing has run */
	for (k = 0; cd != NULL && k < cd->njobs; k++) {
		const struct conf_job *j = &cd->jobs[k];
		int64_t allowed = allowed_s(j);
		time_t last = 0, first = 0;
		char name[128], msg[256], when[32];

		if (!j->enabled || !sched_type_supported(j->type) ||
		    allowed < 0)
			continue;
		for (i = 0; res != NULL && i < PQntuples(res); i++) {
			if (strcmp(PQgetvalue(res, i, 0), j->name) != 0)
				continue;
			if (!PQgetisnull(res, i, 1))
				last = (time_t)strtoll(PQgetvalue(res, i, 1),
				    NULL, 10);
			first = (time_t)strtoll(PQgetvalue(res, i, 2), NULL, 10);
		}
		snprintf(name, sizeof(name), "job:%s", j->name);
		if (last != 0 && now - last <= allowed) {
			time_rfc3339(last, when, sizeof(when));
			snprintf(msg, sizeof(msg), "last succeeded %s",
			    when);
			diag_health_add(hc->result, name, "ok",
			    json_integer((json_int_t)(now - last)), msg);
		} else if (last != 0 || (first != 0 && now - first > allowed) ||
		    (first == 0 && !ctx->d->once &&
		    now - ctx->d->started > allowed)) {
			if (last != 0)
				time_rfc3339(last, when, sizeof(when));
			snprintf(msg, sizeof(msg), "%s %s, more than its "
			    "schedule (%s) allows: maintenance stopped?",
			    last != 0 ? "last succeeded" : first != 0 ?
			    "never succeeded" : "never ran", last != 0 ? when :
			    first != 0 ? "since its first run" :
			    "since pgmigd started",
			    j->schedule);
			diag_health_add(hc->result, name, "warning",
			    last != 0 ? json_integer((json_int_t)(now - last)) :
			    json_null(), msg);
		} else
			diag_health_add(hc->result, name, "ok", json_null(),
			    "not due yet");
	}
	if (hc->dir != NULL) {
		const char *params[1] = { hc->table };

		cmd_query(ctx, hc->db, "SELECT pg_catalog.to_regclass($1) IS "
		    "NOT NULL", params, 1, migrations_probed, hc);
		return;
	}
	hc_finish(ctx, hc);
}

static void
health_done(struct cmd_ctx *ctx, struct db *db, json_t *metrics)
{
	struct diag_health h;
	struct hc *hc;
	const char *params[1];
	char *sql;
	size_t k;

	diag_health_defaults(&h);
	if (db->conf == NULL) {
		/* the database was removed by a reload meanwhile */
		ctx->result = diag_health_eval(metrics, &h);
		json_decref(metrics);
		cmd_finish(ctx, CMD_RETURN_NORMAL);
		return;
	}
	for (k = 0; k < db->conf->njobs; k++)
		if (db->conf->jobs[k].type == JOB_HEALTH_CHECK) {
			diag_health_from_job(&h, &db->conf->jobs[k]);
			break;
		}
	hc = xcalloc(1, sizeof(*hc));
	hc->db = db;
	hc->result = diag_health_eval(metrics, &h);
	json_decref(metrics);
	if (db->conf->migrations_dir[0] != '\0') {
		hc->dir = xstrdup(db->conf->migrations_dir);
		hc->table = migrate_table_sql(db->conf->migrations_table);
	}
	params[0] = db->name;
	xasprintf(&sql, "SELECT job, pg_catalog.floor(pg_catalog.date_part("
	    "'epoch', pg_catalog.max(finished_at) FILTER (WHERE status = "
	    "'succeeded')))::pg_catalog.int8, pg_catalog.floor("
	    "pg_catalog.date_part('epoch', pg_catalog.min(started_at)))"
	    "::pg_catalog.int8 FROM \"%s\".job_runs WHERE database = $1 "
	    "GROUP BY job", db->conf->state_schema);
	cmd_query(ctx, db, sql, params, 1, jobs_checked, hc);
	free(sql);
}

/* cmd_health_check_exec: the vital signs, then the jobs. */
enum cmd_retval
cmd_health_check_exec(struct cmd_ctx *ctx)
{
	struct db *db = cmd_db(ctx);
	struct diag_opts o;

	if (db == NULL)
		return CMD_RETURN_ERROR;
	report_default_opts(db, &o);
	return report_command(ctx, DIAG_HEALTH, &o, health_done);
}
