/*
 * migrate.h: the migration engine: `migrate up`, `down`, `baseline` and
 * `repair` as a recorded run (job "migrate" in job_runs) whose body walks
 * the plan on the run's connection, one query at a time:
 *
 *   advisory lock (pg_try_advisory_lock on a timer) -> migrations_table
 *   (created if missing) -> history -> plan (migplan.c) -> lint ->
 *   backup_command -> per file: BEGIN; file; history row; COMMIT; reset
 *   session (or, for a file that cannot run in a transaction: statement
 *   by statement, recorded success=false until the last one succeeds)
 *   -> ANALYZE of the tables touched.
 *
 * A lock timeout (55P03) or deadlock (40P01) rolls the file back and
 * tries it again after a jittered, growing pause, migration_retries
 * times.  An INVALID index left by a failed CREATE INDEX CONCURRENTLY is
 * dropped concurrently before the statement runs again.
 */
#ifndef PGMIG_MIGRATE_H
#define PGMIG_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

struct pgmigd;
struct db;
struct run;
struct migrate;

enum migrate_op {
	MIGRATE_UP,
	MIGRATE_DOWN,
	MIGRATE_BASELINE,
	MIGRATE_REPAIR,
};

struct migrate_opts {
	enum migrate_op op;
	const char *to;		/* up/down --to */
	int64_t steps;		/* down --steps; 0: default */
	bool dry_run;
	bool allow_changed;
	const char *version;	/* baseline, repair */
	const char *who;	/* for applied_by */
};

struct migrate *migrate_new(struct pgmigd *, struct db *,
    const struct migrate_opts *, char **);
struct run *migrate_start(struct migrate *);
json_t *migrate_result(struct migrate *);
void migrate_free(struct migrate *);
char *migrate_table_sql(const char *);
char *migrate_schema_sql(const char *);
void migrate_shutdown(void);
char *migrate_history_sql(const char *);
struct mighist;
void migrate_history_load(struct mighist *, PGresult *);

#endif
