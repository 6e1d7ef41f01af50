/*
 * db.c: keep one struct db (and its pool) per configured database.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "pgmigd.h"
#include "pool.h"
#include "run.h"
#include "sched.h"
#include "util.h"

static void
db_free(struct db *db)
{
	sched_free(db);
	pool_free(db->pool);
	sched_drop_housekeeping(db);
	free(db->runs);
	free(db->name);
	free(db);
}

/* db_release: free a retired database once its last run has ended. */
void
db_release(struct db *db)
{
	db_free(db);
}

/* db_hold: a query is in flight for db: keep it even if removed. */
void
db_hold(struct db *db)
{
	db->users++;
}

/* db_drop: the query is done; a removed database goes with the last. */
void
db_drop(struct db *db)
{
	if (--db->users == 0 && db->retired && db->nruns == 0)
		db_release(db);
}

/*
 * db_sync: after the configuration was (re)loaded: update the databases
 * that stay, add new ones, and drop those no longer configured.  A
 * dropped database whose runs or queries are still going is retired:
 * its runs are cancelled, and the last of them (or of its queries) to
 * end frees it.
 */
void
db_sync(struct pgmigd *d)
{
	struct db **keep, **gone;
	size_t i, j, n = 0, nold = d->ndbs;

	keep = xcalloc(d->conf->ndbs, sizeof(*keep));
	for (i = 0; i < d->conf->ndbs; i++) {
		const struct conf_db *cd = &d->conf->dbs[i];
		struct db *db = NULL;

		for (j = 0; j < d->ndbs; j++) {
			if (d->dbs[j] != NULL && strcmp(d->dbs[j]->name,
			    cd->name) == 0) {
				db = d->dbs[j];
				d->dbs[j] = NULL;
				break;
			}
		}
		if (db == NULL) {
			db = xcalloc(1, sizeof(*db));
			db->name = xstrdup(cd->name);
			db->migrations_pending = -1;
			db->conf = cd;
			db->pool = pool_new(d, cd);
		} else {
			db->conf = cd;
			pool_configure(db->pool, cd);
		}
		keep[n++] = db;
	}
	gone = d->dbs;
	/* the new list is in place before anything below runs callbacks */
	d->dbs = keep;
	d->ndbs = n;
	for (j = 0; j < nold; j++) {
		struct db *db = gone[j];

		if (db == NULL)
			continue;
		log_info("database %s is no longer configured", db->name);
		sched_free(db);
		db->conf = NULL;
		if (db->nruns == 0 && db->users == 0) {
			db_free(db);
			continue;
		}
		db->retired = true;
		for (i = db->nruns; i > 0; i--)
			run_cancel(db->runs[i - 1], "database removed from "
			    "the configuration", false);
	}
	free(gone);
}

/* db_free_all: close every pool (shutdown). */
void
db_free_all(struct pgmigd *d)
{
	size_t i;

	for (i = 0; i < d->ndbs; i++)
		db_free(d->dbs[i]);
	free(d->dbs);
	d->dbs = NULL;
	d->ndbs = 0;
}

/* db_find: the database called name, or NULL. */
struct db *
db_find(struct pgmigd *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->ndbs; i++)
		if (strcmp(d->dbs[i]->name, name) == 0)
			return d->dbs[i];
	return NULL;
}
