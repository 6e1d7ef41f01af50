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

/*
 * db_sync: after the configuration was (re)loaded: update the databases
 * that stay, add new ones, and drop those no longer configured.
 */
void
db_sync(struct pgmigd *d)
{
	struct db **keep;
	size_t i, j, n = 0;

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
			db->conf = cd;
			db->pool = pool_new(d, cd);
		} else {
			db->conf = cd;
			pool_configure(db->pool, cd);
		}
		keep[n++] = db;
	}
	for (j = 0; j < d->ndbs; j++) {
		struct db *gone = d->dbs[j];

		if (gone == NULL)
			continue;
		log_info("database %s is no longer configured", gone->name);
		sched_free(gone);
		if (gone->nruns == 0) {
			db_free(gone);
			continue;
		}
		/* its runs stop, and the last one to end frees it */
		gone->retired = true;
		gone->conf = NULL;
		for (i = gone->nruns; i > 0; i--)
			run_cancel(gone->runs[i - 1], "database removed from "
			    "the configuration", false);
	}
	free(d->dbs);
	d->dbs = keep;
	d->ndbs = n;
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
