/*
 * conf.c: load, validate, print and swap the configuration.
 *
 * Each section has a key table: name, type, where the value goes, its
 * default (spelled as in the file and parsed by the same code), range, and
 * for job keys the job types it applies to.  Loading walks the file's keys
 * against the table (unknown keys are errors), then fills defaults.
 * Error messages name keys and lines but never echo values: a conninfo
 * or an sql string may hold a password.
 */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libconfig.h>
#include <libpq-fe.h>

#include "conf.h"
#include "util.h"

#define CONF_MAX_ERRORS 50
#define CONF_MAX_FILE (1024 * 1024)
#define CONF_MAX_DATABASES 1000
#define CONF_MAX_JOBS 1000

enum key_type {
	K_STR,
	K_INT,
	K_FLOAT,
	K_BOOL,
	K_DURATION,
	K_ENUM,
	K_STRLIST,
	K_MODE,
};

typedef const char *(*key_check_fn)(const char *);

struct key {
	const char *name;
	enum key_type type;
	size_t off;
	const char *def;	/* NULL: required (or no default) */
	double min, max;	/* K_INT, K_FLOAT, K_DURATION (ms) */
	const char *const *names; /* K_ENUM */
	key_check_fn check;	/* K_STR, K_STRLIST items */
	bool required;		/* the file must set it */
	unsigned types;		/* job keys: bit per job_type, 0 = all */
	unsigned required_for;	/* job keys: required for these types */
	bool reload;		/* may a reload change it */
	bool secret;		/* never print the value as is */
};

#define T(t) (1u << (t))

static const char *const log_target_names[] = { "auto", "journal", "stderr",
    NULL };
static const char *const log_level_names[] = { "emerg", "alert", "crit",
    "err", "warning", "notice", "info", "debug", NULL };
static const char *const job_type_names[] = { "vacuum", "analyze", "refresh",
    "sql", "slow_queries", "connection_check", "index_usage", "health_check",
    NULL };
static const char *const catch_up_names[] = { "skip", "once", NULL };
static const char *const lint_names[] = { "warn", "error", NULL };

static const char *check_socket_path(const char *);
static const char *check_group(const char *);
static const char *check_timezone(const char *);
static const char *check_metrics_listen(const char *);
static const char *check_name(const char *);
static const char *check_conninfo(const char *);
static const char *check_ident(const char *);
static const char *check_qualified(const char *);
static const char *check_nonempty(const char *);
static const char *check_schedule(const char *);
static const char *check_relname(const char *);

#define D(f) .off = offsetof(struct conf, f)
static const struct key daemon_keys[] = {
	{ "control_socket", K_STR, D(control_socket),
	    .def = "/run/pgmigd/control.sock", .check = check_socket_path },
	{ "control_mode", K_MODE, D(control_mode), .def = "0660",
	    .max = 0777 },
	{ "control_group", K_STR, D(control_group), .def = "pgmig",
	    .check = check_group },
	{ "control_max_clients", K_INT, D(control_max_clients),
	    .def = "1024", .min = 1, .max = 65536, .reload = true },
	{ "control_idle_timeout", K_DURATION, D(control_idle_timeout_ms),
	    .def = "60s", .min = 100, .max = 86400000, .reload = true },
	{ "max_running_jobs", K_INT, D(max_running_jobs), .def = "4",
	    .min = 1, .max = 1000, .reload = true },
	{ "log_target", K_ENUM, D(log_target), .def = "auto",
	    .names = log_target_names, .reload = true },
	{ "log_level", K_ENUM, D(log_level), .def = "info", .min = LOG_ERR,
	    .max = LOG_DEBUG, .names = log_level_names, .reload = true },
	{ "timezone", K_STR, D(timezone), .def = "UTC",
	    .check = check_timezone, .reload = true },
	{ "metrics_listen", K_STR, D(metrics_listen), .def = "",
	    .check = check_metrics_listen, .reload = true },
};
#undef D

#define B(f) .off = offsetof(struct conf_db, f), .reload = true
static const struct key db_keys[] = {
	{ "name", K_STR, B(name), .required = true, .check = check_name },
	{ "conninfo", K_STR, B(conninfo), .required = true,
	    .check = check_conninfo, .secret = true },
	{ "pool_size", K_INT, B(pool_size), .def = "4", .min = 1, .max = 100 },
	{ "state_schema", K_STR, B(state_schema), .def = "pgmig",
	    .check = check_ident },
	{ "migrations_dir", K_STR, B(migrations_dir), .def = "" },
	{ "migrations_table", K_STR, B(migrations_table),
	    .def = "public.schema_migrations", .check = check_qualified },
	{ "backup_command", K_STR, B(backup_command), .def = "" },
	{ "migration_lock_wait", K_DURATION, B(migration_lock_wait_ms),
	    .def = "10min", .max = 86400000 },
	{ "migration_retries", K_INT, B(migration_retries), .def = "5",
	    .max = 20 },
	{ "migrations_lint", K_ENUM, B(migrations_lint), .def = "warn",
	    .names = lint_names },
	{ "lock_timeout", K_DURATION, B(lock_timeout_ms), .def = "5s",
	    .max = 86400000 },
	{ "statement_timeout", K_DURATION, B(statement_timeout_ms),
	    .def = "0", .max = 7 * 86400000.0 },
	{ "history_retention", K_DURATION, B(history_retention_ms),
	    .def = "90d", .min = 3600000, .max = 3650 * 86400000.0 },
};
#undef B

#define J(f) .off = offsetof(struct conf_job, f), .reload = true
#define TABLE_JOBS (T(JOB_VACUUM) | T(JOB_ANALYZE))
static const struct key job_keys[] = {
	{ "name", K_STR, J(name), .required = true, .check = check_name },
	{ "type", K_ENUM, J(type), .required = true, .names = job_type_names },
	{ "schedule", K_STR, J(schedule), .required = true,
	    .check = check_schedule },
	{ "enabled", K_BOOL, J(enabled), .def = "true" },
	{ "timeout", K_DURATION, J(timeout_ms), .def = "0",
	    .max = 7 * 86400000.0 },
	/* no default: the database's lock_timeout (-1) */
	{ "lock_timeout", K_DURATION, J(lock_timeout_ms), .max = 86400000 },
	{ "jitter", K_DURATION, J(jitter_ms), .def = "0", .max = 86400000 },
	{ "retries", K_INT, J(retries), .def = "0", .max = 10 },
	{ "retry_backoff", K_DURATION, J(retry_backoff_ms), .def = "10s",
	    .min = 100, .max = 86400000 },
	{ "catch_up", K_ENUM, J(catch_up), .def = "skip",
	    .names = catch_up_names },
	{ "tables", K_STRLIST, J(tables), .check = check_relname,
	    .types = TABLE_JOBS },
	{ "schemas", K_STRLIST, J(schemas), .check = check_nonempty,
	    .types = TABLE_JOBS },
	{ "analyze", K_BOOL, J(analyze), .def = "false",
	    .types = T(JOB_VACUUM) },
	{ "full", K_BOOL, J(full), .def = "false", .types = T(JOB_VACUUM) },
	{ "views", K_STRLIST, J(views), .check = check_relname,
	    .types = T(JOB_REFRESH), .required_for = T(JOB_REFRESH) },
	{ "concurrently", K_BOOL, J(concurrently), .def = "true",
	    .types = T(JOB_REFRESH) },
	{ "sql", K_STR, J(sql), .check = check_nonempty, .types = T(JOB_SQL),
	    .required_for = T(JOB_SQL), .secret = true },
	{ "min_mean_ms", K_FLOAT, J(min_mean_ms), .def = "100",
	    .max = 86400000, .types = T(JOB_SLOW_QUERIES) },
	{ "limit", K_INT, J(limit), .def = "20", .min = 1, .max = 1000,
	    .types = T(JOB_SLOW_QUERIES) | T(JOB_INDEX_USAGE) },
	{ "max_usage", K_FLOAT, J(max_usage), .def = "0.8", .max = 1,
	    .types = T(JOB_CONNECTION_CHECK) },
	{ "idle_in_transaction", K_DURATION, J(idle_in_transaction_ms),
	    .def = "5min", .max = 86400000, .types = T(JOB_CONNECTION_CHECK) },
	{ "long_running", K_DURATION, J(long_running_ms), .def = "5min",
	    .max = 86400000, .types = T(JOB_CONNECTION_CHECK) },
	{ "wraparound_warning", K_FLOAT, J(wraparound_warning), .def = "1.5",
	    .max = 20, .types = T(JOB_HEALTH_CHECK) },
	{ "wraparound_critical", K_FLOAT, J(wraparound_critical), .def = "5",
	    .max = 20, .types = T(JOB_HEALTH_CHECK) },
	{ "long_transaction_warning", K_DURATION, J(long_xact_warning_ms),
	    .def = "15min", .max = 7 * 86400000.0, .types = T(JOB_HEALTH_CHECK) },
	{ "long_transaction_critical", K_DURATION, J(long_xact_critical_ms),
	    .def = "1h", .max = 7 * 86400000.0, .types = T(JOB_HEALTH_CHECK) },
	{ "idle_in_transaction_warning", K_DURATION, J(idle_xact_warning_ms),
	    .def = "5min", .max = 7 * 86400000.0, .types = T(JOB_HEALTH_CHECK) },
	{ "idle_in_transaction_critical", K_DURATION, J(idle_xact_critical_ms),
	    .def = "30min", .max = 7 * 86400000.0, .types = T(JOB_HEALTH_CHECK) },
	{ "connections_warning", K_FLOAT, J(connections_warning), .def = "0.8",
	    .max = 1, .types = T(JOB_HEALTH_CHECK) },
	{ "connections_critical", K_FLOAT, J(connections_critical),
	    .def = "0.95", .max = 1, .types = T(JOB_HEALTH_CHECK) },
	{ "replication_lag_warning", K_DURATION, J(lag_warning_ms),
	    .def = "30s", .max = 7 * 86400000.0, .types = T(JOB_HEALTH_CHECK) },
	{ "replication_lag_critical", K_DURATION, J(lag_critical_ms),
	    .def = "5min", .max = 7 * 86400000.0, .types = T(JOB_HEALTH_CHECK) },
};
#undef J

/* ---- checks: each returns NULL when fine, or a reason (never the value) */

static const char *
check_socket_path(const char *s)
{
	if (s[0] != '/')
		return "must be an absolute path";
	if (strlen(s) >= 108)
		return "is too long for a Unix socket path (107 bytes at most)";
	return NULL;
}

static const char *
check_group(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return "is not a valid group name";
	return NULL;
}

static const char *
check_timezone(const char *s)
{
	const char *dir = getenv("TZDIR");
	char path[PATH_MAX];
	struct stat st;

	if (strcmp(s, "UTC") == 0)
		return NULL;
	if (s[0] == '\0' || s[0] == '/' || strstr(s, "..") != NULL)
		return "must be a zone name such as \"UTC\" or \"Europe/Berlin\"";
	if (dir == NULL)
		dir = "/usr/share/zoneinfo";
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, s) >=
	    sizeof(path) || stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return "is not a known time zone (see /usr/share/zoneinfo)";
	return NULL;
}

static const char *
check_metrics_listen(const char *s)
{
	char host[64];
	int port;

	if (s[0] != '\0' && loopback_addr_parse(s, host, sizeof(host),
	    &port) == -1)
		return "must be a loopback address and port, such as "
		    "\"127.0.0.1:9187\" or \"[::1]:9187\" (the endpoint has "
		    "no authentication)";
	return NULL;
}

static const char *
check_name(const char *s)
{
	if (!ident_valid(s, CONF_NAME_MAX))
		return "must be 1 to 63 letters, digits, '_', '-' or '.', "
		    "starting with a letter or digit";
	return NULL;
}

static const char *
check_conninfo(const char *s)
{
	PQconninfoOption *opts;
	char *err = NULL;

	opts = PQconninfoParse(s, &err);
	PQfreemem(err);	/* its text may quote the value */
	if (opts == NULL)
		return "is not a valid libpq connection string or URI "
		    "(value not shown)";
	PQconninfoFree(opts);
	return NULL;
}

static bool
simple_ident(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 63 || !(islower((unsigned char)s[0]) ||
	    s[0] == '_'))
		return false;
	for (i = 1; i < len; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static const char *
check_ident(const char *s)
{
	if (!simple_ident(s, strlen(s)))
		return "must be a lower-case SQL identifier";
	return NULL;
}

static const char *
check_qualified(const char *s)
{
	const char *dot = strchr(s, '.');

	if (dot == NULL ? !simple_ident(s, strlen(s)) :
	    !simple_ident(s, (size_t)(dot - s)) ||
	    !simple_ident(dot + 1, strlen(dot + 1)))
		return "must be a lower-case SQL identifier, "
		    "optionally schema-qualified (public.schema_migrations)";
	return NULL;
}

static const char *
check_nonempty(const char *s)
{
	if (s[0] == '\0')
		return "must not be empty";
	return NULL;
}

static const char *
check_relname(const char *s)
{
	if (!sql_name_valid(s))
		return "must hold relation names (name, schema.name, "
		    "\"Quoted Name\")";
	return NULL;
}

static const char *
check_schedule(const char *s)
{
	static char reason[160];
	struct cron c;
	char err[128];

	time_t next;

	if (cron_parse(s, &c, err, sizeof(err)) == -1) {
		snprintf(reason, sizeof(reason), "is not a valid schedule: %s",
		    err);
		return reason;
	}
	if (cron_next(&c, time(NULL), &next) == -1)
		return "is a schedule that never fires (no such date)";
	return NULL;
}

/* ---- error collection */

static void __attribute__((format(printf, 4, 5)))
conf_error(struct conf_errors *errs, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (errs->n >= CONF_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	errs->v = xreallocarray(errs->v, errs->n + 1, sizeof(*errs->v));
	xasprintf(&errs->v[errs->n++], "%s:%d: %s", file, line, msg);
	free(msg);
}

/* conf_errors_clear: free the collected errors. */
void
conf_errors_clear(struct conf_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		free(errs->v[i]);
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

/* ---- generic key handling */

struct ctx {
	const char *path;	/* the main file, when a setting has none */
	struct conf_errors *errs;
};

static const char *
setting_file(struct ctx *ctx, const config_setting_t *s)
{
	const char *f = config_setting_source_file(s);

	return f != NULL ? f : ctx->path;
}

static void
strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
enum_lookup(const char *const *names, const char *s)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcasecmp(names[i], s) == 0)
			return i;
	return -1;
}

static char *
enum_list(const struct key *k)
{
	char *out = xstrdup(""), *tmp;
	int i;

	for (i = 0; k->names[i] != NULL; i++) {
		if (k->max > 0 && (i < k->min || i > k->max))
			continue;
		xasprintf(&tmp, "%s%s%s", out, out[0] == '\0' ? "" : ", ",
		    k->names[i]);
		free(out);
		out = tmp;
	}
	return out;
}

/*
 * set_from_string: parse a textual value (a default, or a string setting)
 * for key k into the structure at base.  Returns a reason on error.
 */
static const char *
set_from_string(const struct key *k, void *base, const char *s)
{
	static char reason[256];
	void *dst = (char *)base + k->off;
	const char *why;
	int64_t ms;
	char *end;
	long long ll;
	int e;

	switch (k->type) {
	case K_STR:
		if (k->check != NULL && (why = k->check(s)) != NULL)
			return why;
		free(*(char **)dst);
		*(char **)dst = xstrdup(s);
		return NULL;
	case K_DURATION:
		if (duration_parse(s, &ms, &why) == -1)
			return why;
		if (ms < k->min || ms > k->max) {
			char lo[32], hi[32];

			duration_format((int64_t)k->min, lo, sizeof(lo));
			duration_format((int64_t)k->max, hi, sizeof(hi));
			snprintf(reason, sizeof(reason),
			    "must be between %s and %s", lo, hi);
			return reason;
		}
		*(int64_t *)dst = ms;
		return NULL;
	case K_ENUM:
		e = enum_lookup(k->names, s);
		if (e == -1 || (k->max > 0 && (e < k->min || e > k->max))) {
			char *list = enum_list(k);

			snprintf(reason, sizeof(reason), "must be one of: %s",
			    list);
			free(list);
			return reason;
		}
		*(int *)dst = e;
		return NULL;
	case K_MODE:
		errno = 0;
		ll = strtoll(s, &end, 8);
		if (s[0] == '\0' || *end != '\0' || errno != 0 || ll < 0 ||
		    ll > k->max)
			return "must be an octal file mode such as \"0660\"";
		*(int64_t *)dst = ll;
		return NULL;
	case K_INT:
		errno = 0;
		ll = strtoll(s, &end, 10);
		if (*end != '\0' || errno != 0 || ll < k->min || ll > k->max)
			return "is out of range";
		*(int64_t *)dst = ll;
		return NULL;
	case K_FLOAT:
		*(double *)dst = strtod(s, NULL);
		return NULL;
	case K_BOOL:
		*(bool *)dst = strcmp(s, "true") == 0;
		return NULL;
	case K_STRLIST:
		return "is a list";
	}
	return "unknown key type";
}

static const char *
type_name(enum key_type t)
{
	switch (t) {
	case K_STR:
	case K_DURATION:
	case K_ENUM:
	case K_MODE:
		return "a string";
	case K_INT:
		return "an integer";
	case K_FLOAT:
		return "a number";
	case K_BOOL:
		return "true or false";
	case K_STRLIST:
		return "a list of strings, [\"a\", \"b\"]";
	}
	return "?";
}

/* set_from_setting: type-check and store one setting for key k. */
static void
set_from_setting(struct ctx *ctx, const struct key *k, void *base,
    const config_setting_t *s, const char *what)
{
	const char *file = setting_file(ctx, s);
	int line = config_setting_source_line(s);
	int type = config_setting_type(s);
	void *dst = (char *)base + k->off;
	const char *why = NULL;
	long long ll;
	double d;
	int i, n;

	switch (k->type) {
	case K_STR:
	case K_DURATION:
	case K_ENUM:
	case K_MODE:
		if (type != CONFIG_TYPE_STRING)
			goto wrong;
		why = set_from_string(k, base, config_setting_get_string(s));
		break;
	case K_INT:
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
			goto wrong;
		/* read as 64 bits: libconfig wraps large values read as int */
		ll = config_setting_get_int64(s);
		if (ll < k->min || ll > k->max) {
			conf_error(ctx->errs, file, line,
			    "%s%s: must be between %.0f and %.0f", what,
			    k->name, k->min, k->max);
			return;
		}
		*(int64_t *)dst = ll;
		break;
	case K_FLOAT:
		if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
			d = (double)config_setting_get_int64(s);
		else if (type == CONFIG_TYPE_FLOAT)
			d = config_setting_get_float(s);
		else
			goto wrong;
		if (!isfinite(d) || d < k->min || d > k->max) {
			conf_error(ctx->errs, file, line,
			    "%s%s: must be between %g and %g", what, k->name,
			    k->min, k->max);
			return;
		}
		*(double *)dst = d;
		break;
	case K_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			goto wrong;
		*(bool *)dst = config_setting_get_bool(s) != 0;
		break;
	case K_STRLIST:
		if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
			goto wrong;
		n = config_setting_length(s);
		strlist_free(dst);
		for (i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s,
			    (unsigned)i);
			struct strlist *l = dst;

			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				goto wrong;
			if (k->check != NULL &&
			    (why = k->check(config_setting_get_string(e))) !=
			    NULL)
				break;
			l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
			l->v[l->n++] = xstrdup(config_setting_get_string(e));
		}
		if (why == NULL && n == 0)
			why = "must not be empty";
		break;
	}
	if (why != NULL)
		conf_error(ctx->errs, file, line, "%s%s: %s", what, k->name,
		    why);
	return;
wrong:
	conf_error(ctx->errs, file, line, "%s%s: must be %s", what, k->name,
	    type_name(k->type));
}

/*
 * load_group: walk the settings of group g against keys[], reporting
 * unknown keys, then fill defaults and report missing required keys.
 * jobtype >= 0 restricts job keys to those that apply to that type.
 */
static void
load_group(struct ctx *ctx, const config_setting_t *g, const struct key *keys,
    size_t nkeys, void *base, int jobtype, const char *what, const char *skip)
{
	const char *file = setting_file(ctx, g);
	int gline = config_setting_source_line(g);
	bool seen[64] = { false };
	int i, n = config_setting_length(g);
	size_t j;

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g,
		    (unsigned)i);
		const char *name = config_setting_name(s);

		if (skip != NULL && strcmp(name, skip) == 0)
			continue;
		for (j = 0; j < nkeys; j++)
			if (strcmp(keys[j].name, name) == 0)
				break;
		if (j == nkeys) {
			conf_error(ctx->errs, setting_file(ctx, s),
			    config_setting_source_line(s),
			    "%sunknown key \"%s\"", what, name);
			continue;
		}
		if (jobtype >= 0 && keys[j].types != 0 &&
		    (keys[j].types & T(jobtype)) == 0) {
			conf_error(ctx->errs, setting_file(ctx, s),
			    config_setting_source_line(s),
			    "%s%s: does not apply to jobs of type %s", what,
			    name, job_type_names[jobtype]);
			continue;
		}
		seen[j] = true;
		set_from_setting(ctx, &keys[j], base, s, what);
	}
	for (j = 0; j < nkeys; j++) {
		if (seen[j])
			continue;
		if (keys[j].def != NULL) {
			(void)set_from_string(&keys[j], base, keys[j].def);
			continue;
		}
		if (keys[j].required)
			conf_error(ctx->errs, file, gline,
			    "%smissing required key \"%s\"", what,
			    keys[j].name);
		else if (jobtype >= 0 && (keys[j].required_for & T(jobtype)) != 0)
			conf_error(ctx->errs, file, gline,
			    "%smissing required key \"%s\" for type %s", what,
			    keys[j].name, job_type_names[jobtype]);
	}
}

static void
load_job(struct ctx *ctx, const config_setting_t *g, struct conf_db *db,
    struct conf_job *job)
{
	const config_setting_t *t;
	char *what;
	int type = -1;

	job->line = config_setting_source_line(g);
	job->lock_timeout_ms = -1;
	/* the type decides which keys apply, so read it first */
	t = config_setting_get_member(g, "type");
	if (t != NULL && config_setting_type(t) == CONFIG_TYPE_STRING)
		type = enum_lookup(job_type_names, config_setting_get_string(t));
	xasprintf(&what, "database %s: job #%d: ", db->name != NULL ?
	    db->name : "?", (int)db->njobs);
	/* an unknown type is reported by the normal path, as -1 */
	load_group(ctx, g, job_keys, nitems(job_keys), job, type, what, NULL);
	free(what);
	if (job->schedule != NULL)
		(void)cron_parse(job->schedule, &job->cron, (char[8]){ 0 }, 8);
}

static void
job_free(struct conf_job *job)
{
	free(job->name);
	free(job->schedule);
	free(job->sql);
	strlist_free(&job->tables);
	strlist_free(&job->schemas);
	strlist_free(&job->views);
}

static void
load_db(struct ctx *ctx, const config_setting_t *g, struct conf_db *db)
{
	const config_setting_t *jobs = config_setting_get_member(g, "jobs");
	const config_setting_t *name = config_setting_get_member(g, "name");
	char *what;
	int i, n;
	size_t a, b;

	db->line = config_setting_source_line(g);
	if (name != NULL && config_setting_type(name) == CONFIG_TYPE_STRING)
		xasprintf(&what, "database %s: ",
		    ident_valid(config_setting_get_string(name), CONF_NAME_MAX) ?
		    config_setting_get_string(name) : "?");
	else
		what = xstrdup("database: ");

	/* "jobs" is structure, not a key of the table */
	load_group(ctx, g, db_keys, nitems(db_keys), db, -1, what, "jobs");

	if (jobs != NULL) {
		if (config_setting_type(jobs) != CONFIG_TYPE_LIST &&
		    !(config_setting_type(jobs) == CONFIG_TYPE_ARRAY &&
		    config_setting_length(jobs) == 0)) {
			conf_error(ctx->errs, setting_file(ctx, jobs),
			    config_setting_source_line(jobs),
			    "%sjobs: must be a list of groups, ( { ... }, ... )",
			    what);
			free(what);
			return;
		}
		n = config_setting_length(jobs);
		if (n > CONF_MAX_JOBS) {
			conf_error(ctx->errs, setting_file(ctx, jobs),
			    config_setting_source_line(jobs),
			    "%sjobs: more than %d jobs", what, CONF_MAX_JOBS);
			n = CONF_MAX_JOBS;
		}
		db->jobs = xcalloc((size_t)n, sizeof(*db->jobs));
		for (i = 0; i < n; i++) {
			const config_setting_t *jg = config_setting_get_elem(
			    jobs, (unsigned)i);

			if (config_setting_type(jg) != CONFIG_TYPE_GROUP) {
				conf_error(ctx->errs, setting_file(ctx, jg),
				    config_setting_source_line(jg),
				    "%sjobs: each job must be a group { ... }",
				    what);
				continue;
			}
			load_job(ctx, jg, db, &db->jobs[db->njobs]);
			db->njobs++;
		}
		for (a = 0; a < db->njobs; a++)
			for (b = 0; b < a; b++)
				if (db->jobs[a].name != NULL &&
				    db->jobs[b].name != NULL &&
				    strcmp(db->jobs[a].name,
				    db->jobs[b].name) == 0)
					conf_error(ctx->errs, ctx->path,
					    db->jobs[a].line,
					    "%sduplicate job name \"%s\" "
					    "(first at line %d)", what,
					    db->jobs[a].name, db->jobs[b].line);
	}
	free(what);
}

static void
db_free(struct conf_db *db)
{
	size_t i;

	free(db->name);
	free(db->conninfo);
	free(db->state_schema);
	free(db->migrations_dir);
	free(db->migrations_table);
	free(db->backup_command);
	for (i = 0; i < db->njobs; i++)
		job_free(&db->jobs[i]);
	free(db->jobs);
}

/* conf_free: free a configuration; NULL is fine. */
void
conf_free(struct conf *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	free(conf->path);
	free(conf->control_socket);
	free(conf->control_group);
	free(conf->timezone);
	free(conf->metrics_listen);
	for (i = 0; i < conf->ndbs; i++)
		db_free(&conf->dbs[i]);
	free(conf->dbs);
	free(conf);
}

/*
 * scan_integers: libconfig 1.5 reads an integer literal without an "L"
 * suffix into a C int, silently wrapping 4294967300 to 4.  Its API cannot
 * tell, so scan the file's text for integer literals outside strings and
 * comments and refuse any that would not survive that read.
 */
static void
scan_integers(struct ctx *ctx, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	const char *key = NULL;	/* the last identifier: the setting's name */
	size_t keylen = 0;
	int line = 1;

	while (p < end) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (*p == '/' && p + 1 < end &&
		    p[1] == '/') || (*p == '@' && (p == text || p[-1] == '\n'))) {
			while (p < end && *p != '\n')
				p++;
		} else if (*p == '/' && p + 1 < end && p[1] == '*') {
			for (p += 2; p < end && !(*p == '*' && p + 1 < end &&
			    p[1] == '/'); p++)
				if (*p == '\n')
					line++;
			p += 2;
		} else if (*p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (*p == '\n')
					line++;
			}
			p++;
		} else if (isalpha((unsigned char)*p) || *p == '_' || *p == '*') {
			key = p;
			while (p < end && (isalnum((unsigned char)*p) ||
			    *p == '_' || *p == '-' || *p == '*'))
				p++;
			keylen = (size_t)(p - key);
		} else if (isdigit((unsigned char)*p) || ((*p == '-' ||
		    *p == '+') && p + 1 < end && isdigit((unsigned char)p[1]))) {
			const char *start = p;
			char tok[64];
			bool is_float = false, is_hex, is_long;
			size_t n;
			long long v;
			char *e;

			p++;
			while (p < end && (isalnum((unsigned char)*p) ||
			    *p == '.' || ((*p == '-' || *p == '+') &&
			    (p[-1] == 'e' || p[-1] == 'E'))))
				p++;
			n = (size_t)(p - start);
			if (n >= sizeof(tok)) {
				conf_error(ctx->errs, ctx->path, line,
				    "%.*s: integer out of range", (int)keylen,
				    key != NULL ? key : "?");
				continue;
			}
			memcpy(tok, start, n);
			tok[n] = '\0';
			is_hex = strstr(tok, "0x") != NULL ||
			    strstr(tok, "0X") != NULL;
			if (!is_hex && strpbrk(tok, ".eE") != NULL)
				is_float = true;
			if (is_float)
				continue;
			is_long = tok[n - 1] == 'L';
			errno = 0;
			v = strtoll(tok, &e, is_hex ? 16 : 10);
			if (errno == ERANGE || (!is_long && !is_hex &&
			    (v < INT_MIN || v > INT_MAX)) || (!is_long &&
			    is_hex && (v < 0 || v > (long long)UINT_MAX)))
				conf_error(ctx->errs, ctx->path, line,
				    "%.*s: integer out of range", (int)keylen,
				    key != NULL ? key : "?");
		} else
			p++;
	}
}

/*
 * refuse_include: the configuration is one file.  libconfig's @include
 * would read whatever the path names (a directory makes it exit the
 * process), so an @include line is an error at its line.
 */
static int
refuse_include(const char *path, const char *text, size_t len,
    struct conf_errors *errs)
{
	const char *p = text, *end = text + len;
	int line = 1, found = 0;

	while (p < end) {
		const char *q = p;

		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if ((size_t)(end - q) >= 8 && strncmp(q, "@include", 8) == 0) {
			conf_error(errs, path, line, "@include is not supported: "
			    "keep the configuration in one file");
			found = 1;
		}
		while (p < end && *p != '\n')
			p++;
		p++;
		line++;
	}
	return found ? -1 : 0;
}

static char *
read_text(const char *path, size_t *ret_len)
{
	struct stat st;
	char *buf;
	ssize_t r;
	size_t n = 0;
	int fd;

	/* O_NONBLOCK: a FIFO at the path must not block us */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONF_MAX_FILE) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size && (r = read(fd, buf + n,
	    (size_t)st.st_size - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	if (strlen(buf) != n) {
		free(buf);
		errno = EILSEQ;	/* a NUL byte: not a text file */
		return NULL;
	}
	*ret_len = n;
	return buf;
}

/*
 * conf_load: read and validate path.  Returns the configuration, or NULL
 * with every problem found in errs (the caller prints them).
 */
struct conf *
conf_load(const char *path, struct conf_errors *errs)
{
	struct ctx ctx = { path, errs };
	const config_setting_t *root, *daemon, *dbs, *s;
	struct conf *conf;
	config_t cfg;
	struct stat st;
	char *text;
	size_t textlen;
	int i, n;
	size_t a, b;

	if (stat(path, &st) == -1) {
		conf_error(errs, path, 0, "%s", strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_error(errs, path, 0, "not a regular file");
		return NULL;
	}
	/* our own checks of the text come first: libconfig 1.5 exits the
	 * process on an @include of a directory, and would block on a FIFO */
	if ((text = read_text(path, &textlen)) == NULL) {
		conf_error(errs, path, 0, "%s", strerror(errno));
		return NULL;
	}
	if (refuse_include(path, text, textlen, errs) == -1) {
		free(text);
		return NULL;
	}
	config_init(&cfg);
	/* parse the very text checked above (no second open) */
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		free(text);
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			conf_error(errs, path, 0, "cannot read file");
		else
			conf_error(errs, config_error_file(&cfg) != NULL ?
			    config_error_file(&cfg) : path,
			    config_error_line(&cfg), "%s",
			    config_error_text(&cfg));
		config_destroy(&cfg);
		return NULL;
	}

	scan_integers(&ctx, text, textlen);
	free(text);

	conf = xcalloc(1, sizeof(*conf));
	conf->path = xstrdup(path);
	root = config_root_setting(&cfg);
	n = config_setting_length(root);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(root, (unsigned)i);
		if (strcmp(config_setting_name(s), "daemon") != 0 &&
		    strcmp(config_setting_name(s), "databases") != 0)
			conf_error(errs, setting_file(&ctx, s),
			    config_setting_source_line(s),
			    "unknown key \"%s\" (expected daemon or databases)",
			    config_setting_name(s));
	}

	daemon = config_setting_get_member(root, "daemon");
	if (daemon != NULL && config_setting_type(daemon) != CONFIG_TYPE_GROUP) {
		conf_error(errs, setting_file(&ctx, daemon),
		    config_setting_source_line(daemon),
		    "daemon: must be a group { ... }");
		daemon = NULL;
	}
	if (daemon != NULL)
		load_group(&ctx, daemon, daemon_keys, nitems(daemon_keys), conf,
		    -1, "daemon: ", NULL);
	else {
		for (a = 0; a < nitems(daemon_keys); a++)
			(void)set_from_string(&daemon_keys[a], conf,
			    daemon_keys[a].def);
	}

	dbs = config_setting_get_member(root, "databases");
	if (dbs != NULL && config_setting_type(dbs) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(dbs) == CONFIG_TYPE_ARRAY &&
	    config_setting_length(dbs) == 0)) {
		conf_error(errs, setting_file(&ctx, dbs),
		    config_setting_source_line(dbs),
		    "databases: must be a list of groups, ( { ... }, ... )");
		dbs = NULL;
	}
	if (dbs != NULL) {
		n = config_setting_length(dbs);
		if (n > CONF_MAX_DATABASES) {
			conf_error(errs, setting_file(&ctx, dbs),
			    config_setting_source_line(dbs),
			    "databases: more than %d databases",
			    CONF_MAX_DATABASES);
			n = CONF_MAX_DATABASES;
		}
		conf->dbs = xcalloc((size_t)n, sizeof(*conf->dbs));
		for (i = 0; i < n; i++) {
			s = config_setting_get_elem(dbs, (unsigned)i);
			if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
				conf_error(errs, setting_file(&ctx, s),
				    config_setting_source_line(s),
				    "databases: each database must be a group "
				    "{ ... }");
				continue;
			}
			load_db(&ctx, s, &conf->dbs[conf->ndbs++]);
		}
		for (a = 0; a < conf->ndbs; a++)
			for (b = 0; b < a; b++)
				if (conf->dbs[a].name != NULL &&
				    conf->dbs[b].name != NULL &&
				    strcmp(conf->dbs[a].name,
				    conf->dbs[b].name) == 0)
					conf_error(errs, path, conf->dbs[a].line,
					    "duplicate database name \"%s\" "
					    "(first at line %d)",
					    conf->dbs[a].name, conf->dbs[b].line);
	}
	config_destroy(&cfg);
	if (errs->n > 0) {
		conf_free(conf);
		return NULL;
	}
	return conf;
}

/* ---- printing the normalized configuration */

static void
print_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* conninfo with any password replaced, for printing */
static char *
conninfo_masked(const char *conninfo)
{
	PQconninfoOption *opts, *o;
	char *out = xstrdup(""), *tmp;

	opts = PQconninfoParse(conninfo, NULL);
	if (opts == NULL)
		return xstrdup("(invalid)");
	for (o = opts; o->keyword != NULL; o++) {
		const char *v = o->val;
		const char *q;

		if (v == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0)
			v = "********";
		xasprintf(&tmp, "%s%s%s='", out, out[0] == '\0' ? "" : " ",
		    o->keyword);
		free(out);
		out = tmp;
		for (q = v; *q != '\0'; q++) {
			xasprintf(&tmp, "%s%s%c", out,
			    *q == '\'' || *q == '\\' ? "\\" : "", *q);
			free(out);
			out = tmp;
		}
		xasprintf(&tmp, "%s'", out);
		free(out);
		out = tmp;
	}
	PQconninfoFree(opts);
	return out;
}

/* the shortest spelling that reads back to the same double */
static void
print_double(FILE *f, double v)
{
	char buf[64];
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
	if (strpbrk(buf, ".eEn") == NULL)
		fputs(".0", f);		/* libconfig reads it as a float */
}

static void
print_keys(FILE *f, const struct key *keys, size_t nkeys, const void *base,
    int jobtype, const char *indent)
{
	char buf[64];
	size_t i, j;

	for (i = 0; i < nkeys; i++) {
		const struct key *k = &keys[i];
		const void *p = (const char *)base + k->off;

		if (jobtype >= 0 && k->types != 0 && (k->types & T(jobtype)) == 0)
			continue;
		if (k->type == K_STRLIST && ((const struct strlist *)p)->n == 0)
			continue;
		if (k->type == K_DURATION && *(const int64_t *)p < 0)
			continue;	/* inherited */
		fprintf(f, "%s%s = ", indent, k->name);
		switch (k->type) {
		case K_STR:
			if (k->secret && strcmp(k->name, "conninfo") == 0) {
				char *m = conninfo_masked(*(char *const *)p);

				print_string(f, m);
				free(m);
			} else
				print_string(f, *(char *const *)p);
			break;
		case K_DURATION:
			duration_format(*(const int64_t *)p, buf, sizeof(buf));
			print_string(f, buf);
			break;
		case K_ENUM:
			print_string(f, k->names[*(const int *)p]);
			break;
		case K_MODE:
			snprintf(buf, sizeof(buf), "%04llo",
			    (unsigned long long)*(const int64_t *)p);
			print_string(f, buf);
			break;
		case K_INT:
			fprintf(f, "%lld", (long long)*(const int64_t *)p);
			break;
		case K_FLOAT:
			print_double(f, *(const double *)p);
			break;
		case K_BOOL:
			fputs(*(const bool *)p ? "true" : "false", f);
			break;
		case K_STRLIST:
			fputc('[', f);
			for (j = 0; j < ((const struct strlist *)p)->n; j++) {
				if (j > 0)
					fputs(", ", f);
				print_string(f, ((const struct strlist *)p)->v[j]);
			}
			fputc(']', f);
			break;
		}
		fputs(";\n", f);
	}
}

/*
 * conf_print: write the normalized configuration, every default filled
 * in, in libconfig syntax (which conf_load reads back).  Passwords in
 * conninfo are masked.
 */
void
conf_print(FILE *f, const struct conf *conf)
{
	size_t i, j;

	fprintf(f, "# normalized from %s\n", conf->path);
	fputs("daemon: {\n", f);
	print_keys(f, daemon_keys, nitems(daemon_keys), conf, -1, "  ");
	fputs("};\ndatabases = (\n", f);
	for (i = 0; i < conf->ndbs; i++) {
		const struct conf_db *db = &conf->dbs[i];

		fputs("  {\n", f);
		print_keys(f, db_keys, nitems(db_keys), db, -1, "    ");
		fputs("    jobs = (\n", f);
		for (j = 0; j < db->njobs; j++) {
			fputs("      {\n", f);
			print_keys(f, job_keys, nitems(job_keys), &db->jobs[j],
			    db->jobs[j].type, "        ");
			fprintf(f, "      }%s\n", j + 1 < db->njobs ? "," : "");
		}
		fputs("    );\n", f);
		fprintf(f, "  }%s\n", i + 1 < conf->ndbs ? "," : "");
	}
	fputs(");\n", f);
}

/*
 * conf_keep_fixed: keys a reload may not change keep their old values in
 * the new configuration, each with a warning.
 */
void
conf_keep_fixed(const struct conf *old, struct conf *new)
{
	size_t i;

	for (i = 0; i < nitems(daemon_keys); i++) {
		const struct key *k = &daemon_keys[i];
		void *np = (char *)new + k->off;
		const void *op = (const char *)old + k->off;
		bool same;

		if (k->reload)
			continue;
		if (k->type == K_STR)
			same = strcmp(*(char **)np, *(char *const *)op) == 0;
		else
			same = *(int64_t *)np == *(const int64_t *)op;
		if (same)
			continue;
		log_warnx("daemon.%s changed: a restart applies it, ignoring",
		    k->name);
		if (k->type == K_STR) {
			free(*(char **)np);
			*(char **)np = xstrdup(*(char *const *)op);
		} else
			*(int64_t *)np = *(const int64_t *)op;
	}
}

/* conf_find_db: the database called name, or NULL. */
const struct conf_db *
conf_find_db(const struct conf *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->ndbs; i++)
		if (strcmp(conf->dbs[i].name, name) == 0)
			return &conf->dbs[i];
	return NULL;
}

/* conf_job_type_name: "vacuum" for JOB_VACUUM. */
const char *
conf_job_type_name(int type)
{
	if (type == JOB_MIGRATE)
		return "migrate";
	if (type < 0 || type >= JOB__COUNT)
		return "?";
	return job_type_names[type];
}
