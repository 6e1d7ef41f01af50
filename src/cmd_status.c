/*
 * cmd_status.c: "status", the daemon and its databases.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "conf.h"
#include "ctl_server.h"
#include "log.h"
#include "pgmigd.h"
#include "util.h"

/* cmd_status_exec: version, pid, uptime, config file, databases. */
enum cmd_retval
cmd_status_exec(struct cmd_ctx *ctx)
{
	struct pgmigd *d = ctx->d;
	const struct conf *conf = d->conf;
	json_t *dbs = json_array();
	char started[32];
	size_t i;

	for (i = 0; i < conf->ndbs; i++) {
		const struct conf_db *db = &conf->dbs[i];

		if (ctx->req.db != NULL && strcmp(ctx->req.db, db->name) != 0)
			continue;
		json_array_append_new(dbs, json_pack("{s:s,s:I}", "name",
		    db->name, "jobs", (json_int_t)db->njobs));
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
