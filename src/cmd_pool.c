/*
 * cmd_pool.c: "pool", connection pool statistics per database.
 */
#include "config.h"

#include <string.h>

#include "cmd.h"
#include "db.h"
#include "pgmigd.h"
#include "pool.h"
#include "util.h"

/* cmd_pool_exec: counters and state of each pool. */
enum cmd_retval
cmd_pool_exec(struct cmd_ctx *ctx)
{
	struct pgmigd *d = ctx->d;
	json_t *out = json_array();
	size_t i;

	for (i = 0; i < d->ndbs; i++) {
		const struct pool *p = d->dbs[i]->pool;
		const struct pool_stats *st = pool_stats(p);
		int busy, idle, connecting;
		char when[32];

		if (ctx->req.db != NULL &&
		    strcmp(ctx->req.db, d->dbs[i]->name) != 0)
			continue;
		pool_counts(p, &busy, &idle, &connecting);
		time_rfc3339(st->last_check, when, sizeof(when));
		json_array_append_new(out, json_pack(
		    "{s:s,s:i,s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:o,s:o,s:o}",
		    "database", d->dbs[i]->name,
		    "size", pool_size(p), "in_use", busy, "idle", idle,
		    "connecting", connecting,
		    "created", (json_int_t)st->created,
		    "closed", (json_int_t)st->closed,
		    "failed", (json_int_t)st->failed,
		    "queries", (json_int_t)st->queries,
		    "last_health_check", st->last_check != 0 ?
		    json_string(when) : json_null(),
		    "last_health_check_ok", st->last_check != 0 ?
		    json_boolean(st->last_check_ok) : json_null(),
		    "last_error", pool_last_error(p) != NULL ?
		    json_string(pool_last_error(p)) : json_null()));
	}
	ctx->result = json_pack("{s:o}", "pools", out);
	return CMD_RETURN_NORMAL;
}
