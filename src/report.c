/*
 * report.c: the common path of every diagnostics command.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "pgconn.h"
#include "report.h"
#include "util.h"

#define REPORT_TIMEOUT_MS 30000

struct report {
	struct db *db;
	char *state_schema;	/* copied: a reload may drop the database */
	enum diag_kind kind;
	struct diag_opts opts;
	char *ext_schema;
	report_done_fn done;
};

/* report_default_opts: timeouts and thresholds before options. */
void
report_default_opts(struct db *db, struct diag_opts *o)
{
	memset(o, 0, sizeof(*o));
	/* never longer than the database allows, never unbounded */
	o->statement_timeout_ms = db->conf->statement_timeout_ms > 0 &&
	    db->conf->statement_timeout_ms < REPORT_TIMEOUT_MS ?
	    db->conf->statement_timeout_ms : REPORT_TIMEOUT_MS;
	o->lock_timeout_ms = db->conf->lock_timeout_ms > 0 ?
	    db->conf->lock_timeout_ms : 5000;
	o->min_rows = 10000;
	o->min_mean_ms = 0;
	o->limit = 20;
	o->idle_ms = 0;
	o->long_ms = 5 * 60 * 1000;
}

/* report_opt_ms: a duration option into *ms; -1 with the error set. */
int
report_opt_ms(struct cmd_ctx *ctx, const char *name, int64_t *ms)
{
	const char *v = cmd_opt(ctx, name), *err;

	if (v == NULL)
		return 0;
	if (duration_parse(v, ms, &err) == -1) {
		(void)cmd_error(ctx, PROTO_E_USAGE, "--%s: %s", name, err);
		return -1;
	}
	return 0;
}

/* report_opt_num: a number option within [lo, hi]; -1 with the error. */
int
report_opt_num(struct cmd_ctx *ctx, const char *name, double lo, double hi,
    double *ret)
{
	const char *v = cmd_opt(ctx, name);
	char *end;
	double d;

	if (v == NULL)
		return 0;
	d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || !(d >= lo && d <= hi)) {
		(void)cmd_error(ctx, PROTO_E_USAGE, "--%s takes a number from "
		    "%g to %g", name, lo, hi);
		return -1;
	}
	*ret = d;
	return 0;
}

static void
report_free(struct report *rp)
{
	free(rp->state_schema);
	free(rp->ext_schema);
	free(rp);
}

static void
report_result(struct cmd_ctx *ctx, PGresult *res, const char *err, void *arg)
{
	struct report *rp = arg;
	json_error_t jerr;
	json_t *j;

	if (res == NULL) {
		enum proto_err code = strcmp(ctx->sqlstate, "42501") == 0 ?
		    PROTO_E_PERMISSION : ctx->sqlstate[0] == '\0' ?
		    PROTO_E_DB_UNREACHABLE : PROTO_E_FAILED;

		if (strstr(err, "shared_preload_libraries") != NULL)
			(void)cmd_error(ctx, code, "%s: add pg_stat_statements "
			    "to shared_preload_libraries in postgresql.conf "
			    "and restart the server", err);
		else
			(void)cmd_error(ctx, code, "%s", err);
		report_free(rp);
		cmd_finish(ctx, CMD_RETURN_ERROR);
		return;
	}
	if (PQntuples(res) != 1 || (j = json_loads(PQgetvalue(res, 0, 0), 0,
	    &jerr)) == NULL) {
		(void)cmd_error(ctx, PROTO_E_INTERNAL, "unexpected report result");
		report_free(rp);
		cmd_finish(ctx, CMD_RETURN_ERROR);
		return;
	}
	/* pgmigd's own state tables are not news */
	diag_drop_schema(j, rp->state_schema);
	if (rp->done != NULL)
		rp->done(ctx, rp->db, j);	/* finishes ctx */
	else {
		ctx->result = j;
		cmd_finish(ctx, CMD_RETURN_NORMAL);
	}
	report_free(rp);
}

static void
report_send(struct cmd_ctx *ctx, struct report *rp)
{
	char *sql;

	rp->opts.ext_schema = rp->ext_schema;
	sql = diag_sql(rp->kind, &rp->opts);
	cmd_query(ctx, rp->db, sql, NULL, 0, report_result, rp);
	free(sql);
}

static void
report_probed(struct cmd_ctx *ctx, PGresult *res, const char *err, void *arg)
{
	struct report *rp = arg;
	const char *ext = diag_extension(rp->kind, &rp->opts);

	if (res == NULL) {
		(void)cmd_error(ctx, PROTO_E_DB_UNREACHABLE, "%s", err);
		report_free(rp);
		cmd_finish(ctx, CMD_RETURN_ERROR);
		return;
	}
	if (PQntuples(res) == 0) {
		(void)cmd_error(ctx, PROTO_E_FAILED, "%s is not installed in "
		    "database %s: run CREATE EXTENSION %s there%s", ext,
		    rp->db->name, ext, strcmp(ext, "pg_stat_statements") == 0 ?
		    " (it must also be in shared_preload_libraries: SHOW "
		    "shared_preload_libraries)" : "");
		report_free(rp);
		cmd_finish(ctx, CMD_RETURN_ERROR);
		return;
	}
	rp->ext_schema = xstrdup(PQgetvalue(res, 0, 0));
	report_send(ctx, rp);
}

/*
 * report_command: run report kind for ctx's database; done (or, if NULL,
 * the JSON itself) makes the result.
 */
enum cmd_retval
report_command(struct cmd_ctx *ctx, enum diag_kind kind,
    struct diag_opts *opts, report_done_fn done)
{
	struct db *db = cmd_db(ctx);
	struct report *rp;
	const char *ext;

	if (db == NULL)
		return CMD_RETURN_ERROR;
	rp = xcalloc(1, sizeof(*rp));
	rp->db = db;
	rp->state_schema = xstrdup(db->conf->state_schema);
	rp->kind = kind;
	rp->opts = *opts;
	rp->done = done;
	ext = diag_extension(kind, opts);
	if (ext != NULL) {
		const char *params[1] = { ext };

		cmd_query(ctx, db, "SELECT pg_catalog.quote_ident(n.nspname) "
		    "FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace"
		    " n ON n.oid = e.extnamespace WHERE e.extname = $1", params,
		    1, report_probed, rp);
	} else
		report_send(ctx, rp);
	return CMD_RETURN_WAIT;
}
