/*
 * db.h: the databases pgmigd serves: one entry per configured database,
 * holding its pool (and, later, its scheduler state).  Kept in step with
 * the configuration at start and on every reload.
 */
#ifndef PGMIG_DB_H
#define PGMIG_DB_H

#include <stddef.h>

struct pgmigd;
struct conf_db;
struct pool;

struct db {
	char *name;
	const struct conf_db *conf;	/* into pgmigd's current conf */
	struct pool *pool;
};

void db_sync(struct pgmigd *);
void db_free_all(struct pgmigd *);
struct db *db_find(struct pgmigd *, const char *);

#endif
