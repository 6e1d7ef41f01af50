/*
 * db.h: the databases pgmigd serves: one entry per configured database,
 * holding its pool (and, later, its scheduler state).  Kept in step with
 * the configuration at start and on every reload.
 */
#ifndef PGMIG_DB_H
#define PGMIG_DB_H

#include <stdbool.h>
#include <stddef.h>

struct pgmigd;
struct conf_db;
struct pool;

struct run;
struct sched;
struct state_q;

struct db {
	char *name;
	const struct conf_db *conf;	/* into pgmigd's current conf */
	struct pool *pool;
	struct run **runs;		/* running now (run.c) */
	size_t nruns;
	bool state_ready;		/* job_runs exists (run.c) */
	bool was_reachable;		/* for reconnect clean-up (sched.c) */
	struct sched *sched;		/* its jobs' timers (sched.c) */
	bool retired;			/* no longer configured; runs end */
	int64_t migrations_pending;	/* -1: unknown (sched.c, metrics) */
	int64_t migrations_checked_ms;	/* monotonic */
	int users;			/* commands and housekeeping queries
					   in flight (db_hold, db_drop) */
	bool stale_rows;		/* a run could not close its row */
	struct state_q *hk_head;	/* housekeeping queue (sched.c) */
	struct state_q *hk_tail;
};

void db_sync(struct pgmigd *);
void db_free_all(struct pgmigd *);
struct db *db_find(struct pgmigd *, const char *);
void db_release(struct db *);
void db_hold(struct db *);
void db_drop(struct db *);

#endif
