/*
 * cmd_migrate.c: "migrate status|up|down|verify|baseline|repair|lint".
 *
 * up, down, baseline and repair are runs of the engine (migrate.c);
 * status, verify and lint only read: the files, the history and the
 * catalog, with one bounded query each on the pool's urgent slot.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "conf.h"
#include "db.h"
#include "migfile.h"
#include "migplan.h"
#include "migrate.h"
#include "migsql.h"
#include "pgmigd.h"
#include "pool.h"
#include "run.h"
#include "util.h"

/* digits and underscores: what a version is */
static bool
version_valid(const char *v)
{
	size_t i;

	if (v == NULL || v[0] == '\0' || strlen(v) > 64)
		return false;
	for (i = 0; v[i] != '\0'; i++)
		if ((v[i] < '0' || v[i] > '9') && v[i] != '_')
			return false;
	return v[0] != '_';
}

static const char *
arg(struct cmd_ctx *ctx, size_t i)
{
	return json_string_value(json_array_get(ctx->req.args, i));
}

static bool
flag(struct cmd_ctx *ctx, const char *name)
{
	return json_is_true(json_object_get(ctx->req.opts, name));
}

/* ---- up, down, baseline, repair: runs of the engine */

static void
engine_progress(struct run *r, const char *phase, double pct, void *arg)
{
	(void)r;
	cmd_progress(arg, phase, pct);
}

static void
engine_done(struct run *r, void *arg)
{
	struct cmd_ctx *ctx = arg;
	struct migrate *m = ctx->priv;
	json_t *res = migrate_result(m);

	if (res != NULL && run_status(r) == RUN_SUCCEEDED) {
		json_incref(res);
		json_object_set_new(res, "run_id", json_integer(run_id(r)));
	} else
		res = NULL;
	ctx->priv = NULL;
	migrate_free(m);
	cmd_finish_run(ctx, r, res);
}

static enum cmd_retval
engine(struct cmd_ctx *ctx, struct migrate_opts *o)
{
	struct db *db = cmd_db(ctx);
	struct migrate *m;
	struct run *r;
	char *err = NULL, who[128], host[64];

	if (db == NULL)
		return CMD_RETURN_ERROR;
	if (gethostname(host, sizeof(host)) == -1)
		strlcpy_(host, "?", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if (ctx->d->once)
		snprintf(who, sizeof(who), "pgmigd --once (uid %ld) on %s",
		    (long)getuid(), host);
	else
		snprintf(who, sizeof(who), "pgmigctl (uid %ld) on %s",
		    (long)ctx->uid, host);
	o->who = who;
	if ((m = migrate_new(ctx->d, db, o, &err)) == NULL) {
		enum cmd_retval rv = cmd_error(ctx, strncmp(err,
		    "migrations_dir is not set", 25) == 0 ? PROTO_E_USAGE :
		    PROTO_E_FAILED, "%s", err);

		free(err);
		return rv;
	}
	ctx->priv = m;
	r = migrate_start(m);
	run_observe(r, engine_done, NULL, engine_progress, ctx);
	return CMD_RETURN_WAIT;
}

/* cmd_migrate_up_exec: apply pending migrations. */
enum cmd_retval
cmd_migrate_up_exec(struct cmd_ctx *ctx)
{
	struct migrate_opts o;

	memset(&o, 0, sizeof(o));
	o.op = MIGRATE_UP;
	o.to = cmd_opt(ctx, "to");
	if (o.to != NULL && !version_valid(o.to))
		return cmd_error(ctx, PROTO_E_USAGE, "--to: not a version: "
		    "%.64s", o.to);
	o.dry_run = flag(ctx, "dry-run");
	o.allow_changed = flag(ctx, "allow-changed");
	return engine(ctx, &o);
}

/* cmd_migrate_down_exec: run rollback files, newest first. */
enum cmd_retval
cmd_migrate_down_exec(struct cmd_ctx *ctx)
{
	struct migrate_opts o;
	const char *steps = cmd_opt(ctx, "steps");
	char *end;

	memset(&o, 0, sizeof(o));
	o.op = MIGRATE_DOWN;
	o.to = cmd_opt(ctx, "to");
	if (o.to != NULL && steps != NULL)
		return cmd_error(ctx, PROTO_E_USAGE, "--to and --steps "
		    "exclude each other");
	if (o.to != NULL && !version_valid(o.to))
		return cmd_error(ctx, PROTO_E_USAGE, "--to: not a version: "
		    "%.64s", o.to);
	if (steps != NULL) {
		long long n = strtoll(steps, &end, 10);

		if (*end != '\0' || n < 1 || n > 100000)
			return cmd_error(ctx, PROTO_E_USAGE, "--steps: a "
			    "number from 1, not %.32s", steps);
		o.steps = n;
	}
	return engine(ctx, &o);
}

/* baseline and repair: one VERSION */
static enum cmd_retval
version_op(struct cmd_ctx *ctx, enum migrate_op op)
{
	struct migrate_opts o;

	memset(&o, 0, sizeof(o));
	o.op = op;
	o.version = arg(ctx, 0);
	if (!version_valid(o.version))
		return cmd_error(ctx, PROTO_E_USAGE, "not a version: %.64s",
		    o.version != NULL ? o.version : "");
	return engine(ctx, &o);
}

/* cmd_migrate_baseline_exec: mark a database as at VERSION. */
enum cmd_retval
cmd_migrate_baseline_exec(struct cmd_ctx *ctx)
{
	return version_op(ctx, MIGRATE_BASELINE);
}

/* cmd_migrate_repair_exec: clear a failed record (or accept an edit). */
enum cmd_retval
cmd_migrate_repair_exec(struct cmd_ctx *ctx)
{
	return version_op(ctx, MIGRATE_REPAIR);
}

/* ---- status, verify, lint: files + history, read only */

enum rd_kind { RD_STATUS, RD_VERIFY, RD_LINT };

struct rd {
	enum rd_kind kind;
	struct db *db;
	struct migset set;
	struct mighist hist;
	char *table;		/* quoted */
	/* copied: a reload may retire the database while a query is out */
	char *table_name;
	char *dir;
	json_t *invalid;	/* INVALID indexes */
	bool reachable;
	json_t *verify;		/* status, while verify checks objects */
};

static void
rd_free(struct rd *rd)
{
	migset_free(&rd->set);
	mighist_free(&rd->hist);
	json_decref(rd->invalid);
	json_decref(rd->verify);
	free(rd->table);
	free(rd->table_name);
	free(rd->dir);
	free(rd);
}

static void rd_rows(struct cmd_ctx *, PGresult *, const char *, void *);
static void rd_report(struct cmd_ctx *, struct rd *);

static void
rd_fail(struct cmd_ctx *ctx, struct rd *rd, const char *err)
{
	enum proto_err code = PROTO_E_FAILED;

	if (ctx->sqlstate[0] == '\0')
		code = PROTO_E_DB_UNREACHABLE;
	else if (strcmp(ctx->sqlstate, "42501") == 0)
		code = PROTO_E_PERMISSION;
	rd_free(rd);
	cmd_finish(ctx, cmd_error(ctx, code, "%s", err));
}

static void
rd_probed(struct cmd_ctx *ctx, PGresult *res, const char *err, void *arg)
{
	struct rd *rd = arg;
	char *sql;

	if (res == NULL) {
		if (rd->kind == RD_LINT && ctx->sqlstate[0] == '\0') {
			/* lint without a database: every file */
			rd->reachable = false;
			rd_report(ctx, rd);
			return;
		}
		rd_fail(ctx, rd, err);
		return;
	}
	rd->reachable = true;
	rd->invalid = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		rd_report(ctx, rd);	/* no table: nothing applied */
		return;
	}
	sql = migrate_history_sql(rd->table);
	cmd_query(ctx, rd->db, sql, NULL, 0, rd_rows, rd);
	free(sql);
}

static void
rd_rows(struct cmd_ctx *ctx, PGresult *res, const char *err, void *arg)
{
	struct rd *rd = arg;

	if (res == NULL) {
		rd_fail(ctx, rd, err);
		return;
	}
	migrate_history_load(&rd->hist, res);
	rd_report(ctx, rd);
}

static void
verify_checked(struct cmd_ctx *ctx, PGresult *res, const char *err,
    void *arg)
{
	struct rd *rd = arg;
	json_t *r = rd->verify, *missing = json_array();
	int i, n;
	bool ok;

	rd->verify = NULL;
	if (res == NULL) {
		json_decref(r);
		json_decref(missing);
		rd_fail(ctx, rd, err);
		return;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		if (PQgetvalue(res, i, 3)[0] != 't')
			json_array_append_new(missing, json_pack(
			    "{s:s,s:s,s:s}", "version", PQgetvalue(res, i, 2),
			    "object", PQgetvalue(res, i, 0), "kind",
			    PQgetvalue(res, i, 1)));
	ok = json_array_size(json_object_get(r, "changed")) == 0 &&
	    json_array_size(json_object_get(r, "missing")) == 0 &&
	    json_array_size(json_object_get(r, "failed")) == 0 &&
	    json_array_size(missing) == 0;
	ctx->result = json_pack("{s:b,s:I,s:i,s:O,s:O,s:O,s:o}",
	    "ok", ok,
	    "files_checked", (json_int_t)json_array_size(json_object_get(r,
	    "applied")),
	    "objects_checked", n,
	    "changed", json_object_get(r, "changed"),
	    "missing_files", json_object_get(r, "missing"),
	    "failed", json_object_get(r, "failed"),
	    "missing_objects", missing);
	json_decref(r);
	rd_free(rd);
	cmd_finish(ctx, CMD_RETURN_NORMAL);
}

/* lint one file into findings; a syntax error is a finding too */
static void
lint_file(json_t *findings, const char *name, const char *text)
{
	struct migsql m;
	json_t *f;

	if (migsql_parse(text, &m) == -1) {
		json_array_append_new(findings, json_pack("{s:s,s:i,s:s,s:s,"
		    "s:s}", "file", name, "line", m.error_line, "rule",
		    "syntax", "severity", "error", "message", m.error));
		migsql_free(&m);
		return;
	}
	f = migsql_lint(name, text, &m);
	json_array_extend(findings, f);
	json_decref(f);
	migsql_free(&m);
}

/* lint: pending files (all of them without a database), or those given */
static void
lint_report(struct cmd_ctx *ctx, struct rd *rd)
{
	json_t *findings = json_array(), *files = json_array(), *e;
	size_t i, nargs = json_array_size(ctx->req.args);
	char real_dir[PATH_MAX];
	bool ok = true;

	if (nargs == 0) {
		json_t *st = migplan_status(&rd->set, &rd->hist);

		for (i = 0; i < rd->set.n; i++) {
			const struct migfile *f = &rd->set.v[i];
			size_t j;
			bool pending = !rd->reachable;

			json_array_foreach(json_object_get(st, "pending"), j, e)
				if (strcmp(json_string_value(json_object_get(e,
				    "version")), f->version) == 0)
					pending = true;
			if (!pending)
				continue;
			json_array_append_new(files, json_string(path_base(
			    f->path)));
			lint_file(findings, path_base(f->path), f->text);
		}
		json_decref(st);
	}
	if (realpath(rd->dir, real_dir) == NULL)
		real_dir[0] = '\0';
	for (i = 0; i < nargs; i++) {
		const char *a = arg(ctx, i);
		const struct migfile *f = version_valid(a) ?
		    migset_find(&rd->set, a) : NULL;
		char real[PATH_MAX], *cause = NULL;
		struct migfile lf;
		size_t dl = strlen(real_dir);

		if (f != NULL) {
			json_array_append_new(files, json_string(path_base(
			    f->path)));
			lint_file(findings, path_base(f->path), f->text);
			continue;
		}
		if (a[0] != '/' || realpath(a, real) == NULL) {
			json_decref(findings);
			json_decref(files);
			rd_free(rd);
			cmd_finish(ctx, cmd_error(ctx, PROTO_E_NOT_FOUND,
			    "%.200s: no such file, nor a version in "
			    "migrations_dir (give files as absolute paths; "
			    "pgmigctl does that for you)", a));
			return;
		}
		/* the daemon reads files for clients: outside the
		 * migrations directory only for those it trusts */
		if (!ctx->privileged && (dl == 0 || strncmp(real, real_dir,
		    dl) != 0 || real[dl] != '/')) {
			json_decref(findings);
			json_decref(files);
			rd_free(rd);
			cmd_finish(ctx, cmd_error(ctx, PROTO_E_PERMISSION,
			    "permission denied: linting %.200s, outside "
			    "migrations_dir, needs root, the daemon's user or "
			    "control_group", a));
			return;
		}
		memset(&lf, 0, sizeof(lf));
		if (migfile_load(real, &lf, &cause) == -1) {
			json_decref(findings);
			json_decref(files);
			rd_free(rd);
			cmd_finish(ctx, cmd_error(ctx, PROTO_E_FAILED, "%s",
			    cause));
			free(cause);
			return;
		}
		json_array_append_new(files, json_string(path_base(real)));
		lint_file(findings, path_base(real), lf.text);
		free(lf.text);
	}
	json_array_foreach(findings, i, e)
		if (strcmp(json_string_value(json_object_get(e, "severity")),
		    "error") == 0)
			ok = false;
	ctx->result = json_pack("{s:o,s:o,s:b,s:s}", "findings", findings,
	    "files", files, "ok", ok, "scope", nargs > 0 ? "files given" :
	    rd->reachable ? "pending migrations" :
	    "all files (database unreachable)");
	rd_free(rd);
	cmd_finish(ctx, CMD_RETURN_NORMAL);
}

static void
rd_report(struct cmd_ctx *ctx, struct rd *rd)
{
	json_t *st;

	if (rd->kind == RD_LINT) {
		lint_report(ctx, rd);
		return;
	}
	st = migplan_status(&rd->set, &rd->hist);
	if (rd->kind == RD_STATUS) {
		json_object_set_new(st, "invalid_indexes", rd->invalid != NULL ?
		    json_incref(rd->invalid) : json_array());
		json_object_set_new(st, "table", json_string(rd->table_name));
		json_object_set_new(st, "directory", json_string(rd->dir));
		ctx->result = st;
		rd_free(rd);
		cmd_finish(ctx, CMD_RETURN_NORMAL);
		return;
	}
	/* verify: do the objects the applied files created still exist? */
	{
		json_t *exp = migplan_expected(&rd->set, &rd->hist);
		char *j = json_dumps(exp, JSON_COMPACT);
		const char *params[1] = { j };

		rd->verify = st;
		cmd_query(ctx, rd->db, "SELECT e->>'object', e->>'kind', "
		    "e->>'version', CASE e->>'kind' WHEN 'schema' THEN "
		    "pg_catalog.to_regnamespace(e->>'object') IS NOT NULL ELSE "
		    "pg_catalog.to_regclass(e->>'object') IS NOT NULL END FROM "
		    "pg_catalog.json_array_elements($1::pg_catalog.json) e", params,
		    1, verify_checked, rd);
		free(j);
		json_decref(exp);
	}
}

static enum cmd_retval
reader(struct cmd_ctx *ctx, enum rd_kind kind)
{
	struct db *db = cmd_db(ctx);
	struct rd *rd;
	char *err = NULL;
	const char *params[1];

	if (db == NULL)
		return CMD_RETURN_ERROR;
	if (db->conf->migrations_dir[0] == '\0')
		return cmd_error(ctx, PROTO_E_USAGE, "migrations_dir is not "
		    "set for database %s", db->name);
	rd = xcalloc(1, sizeof(*rd));
	rd->kind = kind;
	rd->db = db;
	if (migset_scan(db->conf->migrations_dir, &rd->set, &err) == -1) {
		enum cmd_retval rv = cmd_error(ctx, PROTO_E_FAILED, "%s", err);

		free(err);
		free(rd);
		return rv;
	}
	rd->table = migrate_table_sql(db->conf->migrations_table);
	rd->table_name = xstrdup(db->conf->migrations_table);
	rd->dir = xstrdup(db->conf->migrations_dir);
	params[0] = rd->table;
	/* does the table exist, and which indexes are INVALID (a failed
	 * CREATE INDEX CONCURRENTLY, or one being built right now) */
	cmd_query(ctx, db, "SELECT pg_catalog.to_regclass($1) IS NOT NULL, "
	    "(SELECT COALESCE(pg_catalog.json_agg("
	    "pg_catalog.json_build_object('index', pg_catalog.format('%I.%I', "
	    "n.nspname, c.relname), 'table', pg_catalog.format('%I.%I', "
	    "tn.nspname, t.relname)) ORDER BY n.nspname, c.relname), '[]') "
	    "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = "
	    "i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = "
	    "c.relnamespace JOIN pg_catalog.pg_class t ON t.oid = i.indrelid "
	    "JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace WHERE "
	    "NOT i.indisvalid)", params, 1, rd_probed, rd);
	return CMD_RETURN_WAIT;
}

/* cmd_migrate_status_exec: applied, pending, failed, changed, missing. */
enum cmd_retval
cmd_migrate_status_exec(struct cmd_ctx *ctx)
{
	return reader(ctx, RD_STATUS);
}

/* cmd_migrate_verify_exec: checksums, and the objects files created. */
enum cmd_retval
cmd_migrate_verify_exec(struct cmd_ctx *ctx)
{
	return reader(ctx, RD_VERIFY);
}

/* cmd_migrate_lint_exec: unsafe DDL in pending (or given) files. */
enum cmd_retval
cmd_migrate_lint_exec(struct cmd_ctx *ctx)
{
	return reader(ctx, RD_LINT);
}
