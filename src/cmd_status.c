/*
 * cmd_status.c: "status", the daemon and its databases.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "conf.h"
#include "ctl_server.h"
#include "db.h"
#include "log.h"
#include "pgmigd.h"
#include "pool.h"
#include "sched.h"
#include "util.h"

/* cmd_status_db: one database's entry (also used by other commands). */
static json_t *
status_db(const struct db *db)
{
	const struct pool *p = db->pool;
	const char *v = pool_server_version(p);

	return json_pack("{s:s,s:o,s:o,s:o,s:o,s:I,s:o,s:o}",
	    "name", db->name,
	    "reachable", pool_checked(p) ? json_boolean(pool_reachable(p)) :
	    json_null(),
	    "in_recovery", pool_checked(p) && pool_reachable(p) ?
	    json_boolean(pool_in_recovery(p)) : json_null(),
	    "server_version", v != NULL ? json_string(v) : json_null(),
	    "pool", pool_json(p),
	    "jobs", (json_int_t)db->conf->njobs,
	    "next_job", sched_next_json((struct db *)db),
	    "last_error", !pool_reachable(p) && pool_last_error(p) != NULL ?
	    json_string(pool_last_error(p)) : json_null());
}

/* cmd_status_exec: version, pid, uptime, config file, databases. */
enum cmd_retval
cmd_status_exec(struct cmd_ctx *ctx)
{
	struct pgmigd *d = ctx->d;
	json_t *dbs = json_array();
	char started[32];
	size_t i;

	for (i = 0; i < d->ndbs; i++) {
		if (ctx->req.db != NULL &&
		    strcmp(ctx->req.db, d->dbs[i]->name) != 0)
			continue;
		json_array_append_new(dbs, status_db(d->dbs[i]));
	}
	time_rfc3339(d->started, started, sizeof(started));
	ctx->result = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:I,s:I,s:o}",
	    "version", PACKAGE_VERSION,
	    "pid", (json_int_t)getpid(),
	    "uptime_s", (json_int_t)((now_ms() - d->started_ms) / 1000),
	    "started_at", started,
	    "config", d->conf_path,
	    "log_level", log_level_name(log_get_level()),
	    "clients", (json_int_t)(d->ctl != NULL ?
	    ctl_server_nclients(d->ctl) : 0),
	    "reloads", (json_int_t)d->reloads,
	    "databases", dbs);
	return CMD_RETURN_NORMAL;
}
