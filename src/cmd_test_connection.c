/*
 * cmd_test_connection.c: "test-connection", a round trip to each
 * database (or the one named with -d) through its pool.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "pgmigd.h"
#include "pool.h"
#include "util.h"

struct probe {
	struct tc *tc;
	struct db *db;
	int64_t started;
};

struct tc {
	struct cmd_ctx *ctx;
	json_t *out;
	int pending;
	int failed;
	char *errors;
};

static void
tc_add_error(struct tc *tc, const char *db, const char *msg)
{
	char *s;

	xasprintf(&s, "%s%s%s: %s", tc->errors != NULL ? tc->errors : "",
	    tc->errors != NULL ? "; " : "", db, msg);
	free(tc->errors);
	tc->errors = s;
	tc->failed++;
}

static void
tc_done(struct tc *tc)
{
	struct cmd_ctx *ctx = tc->ctx;

	if (--tc->pending > 0)
		return;
	if (tc->failed > 0) {
		(void)cmd_error(ctx, PROTO_E_DB_UNREACHABLE, "%s", tc->errors);
		json_decref(tc->out);
		free(tc->errors);
		free(tc);
		cmd_finish(ctx, CMD_RETURN_ERROR);
		return;
	}
	ctx->result = json_pack("{s:o}", "databases", tc->out);
	free(tc->errors);
	free(tc);
	cmd_finish(ctx, CMD_RETURN_NORMAL);
}

static void
probe_result(struct pgconn *c, PGresult *res, void *arg)
{
	struct probe *pr = arg;
	struct tc *tc = pr->tc;

	if (res == NULL || !pgres_ok(res) || PQntuples(res) != 1) {
		char *msg = res != NULL ? pgres_message(res) :
		    xstrdup(pgconn_error(c));

		tc_add_error(tc, pr->db->name, msg);
		free(msg);
	} else {
		json_array_append_new(tc->out, json_pack(
		    "{s:s,s:b,s:s,s:s,s:s,s:b,s:I}",
		    "name", pr->db->name, "ok", 1,
		    "server_version", PQgetvalue(res, 0, 0),
		    "user", PQgetvalue(res, 0, 1),
		    "database", PQgetvalue(res, 0, 2),
		    "in_recovery", PQgetvalue(res, 0, 3)[0] == 't',
		    "latency_ms", (json_int_t)(now_ms() - pr->started)));
	}
	PQclear(res);
	pool_release(pr->db->pool, c);
	free(pr);
	tc_done(tc);
}

static void
probe_conn(struct pgconn *c, const char *err, void *arg)
{
	struct probe *pr = arg;
	static const char sql[] = "SELECT "
	    "pg_catalog.current_setting('server_version'), "
	    "CURRENT_USER::pg_catalog.text, "
	    "pg_catalog.current_database()::pg_catalog.text, "
	    "pg_catalog.pg_is_in_recovery()";

	if (c == NULL) {
		tc_add_error(pr->tc, pr->db->name, err);
		struct tc *tc = pr->tc;
		free(pr);
		tc_done(tc);
		return;
	}
	if (pool_query(pr->db->pool, c, sql, 0, NULL, probe_result, pr) ==
	    -1) {
		struct tc *tc = pr->tc;

		tc_add_error(tc, pr->db->name, pgconn_error(c));
		pool_discard(pr->db->pool, c);
		free(pr);
		tc_done(tc);
	}
}

/* cmd_test_connection_exec: probe every (or the chosen) database. */
enum cmd_retval
cmd_test_connection_exec(struct cmd_ctx *ctx)
{
	struct pgmigd *d = ctx->d;
	struct tc *tc;
	size_t i;

	if (d->ndbs == 0)
		return cmd_error(ctx, PROTO_E_USAGE, "no database is configured");
	tc = xcalloc(1, sizeof(*tc));
	tc->ctx = ctx;
	tc->out = json_array();
	tc->pending = 1;	/* until every probe is started */
	for (i = 0; i < d->ndbs; i++) {
		struct probe *pr;

		if (ctx->req.db != NULL && strcmp(ctx->req.db,
		    d->dbs[i]->name) != 0)
			continue;
		pr = xcalloc(1, sizeof(*pr));
		pr->tc = tc;
		pr->db = d->dbs[i];
		pr->started = now_ms();
		tc->pending++;
		(void)pool_acquire(d->dbs[i]->pool, true, probe_conn, pr);
	}
	tc->pending--;	/* probes answer from the loop, never before this */
	return CMD_RETURN_WAIT;
}
