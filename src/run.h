/*
 * run.h: one run of a job (scheduled, manual, or a maintenance command)
 * against one database, recorded in <state_schema>.job_runs and in
 * journald.  A run is a state machine over one pooled connection:
 *
 *   acquire -> primary? -> state tables -> advisory lock -> insert row ->
 *   session settings -> resolve objects -> statements... -> finish row ->
 *   reset session -> release -> journald, callback
 *
 * Every step is one query; nothing blocks.  Cancel (by an operator, the
 * deadline, or shutdown) uses pg_cancel_backend() from a second pooled
 * connection, and drops the connection if the statement has not stopped
 * in time.
 */
#ifndef PGMIG_RUN_H
#define PGMIG_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

struct pgmigd;
struct db;
struct conf_job;
struct run;

enum run_trigger {
	RUN_SCHEDULE,
	RUN_MANUAL,
	RUN_STARTUP,
};

enum run_status {
	RUN_RUNNING,
	RUN_SUCCEEDED,
	RUN_FAILED,
	RUN_CANCELLED,
	RUN_SKIPPED,
};

/*
 * A body of its own (the migration engine): once the run holds its lock
 * and its row, start() is called on the loop; the body runs queries on
 * the run's connection with run_body_query/run_body_exec, gets every
 * result in result() (errors included; the run owns and clears res),
 * and ends with run_body_done().  cancel() asks it to stop waiting on a
 * timer of its own; stop() says the run is over (drop timers, no more
 * calls).  A lost connection or a server-side cancel ends the run
 * without the body's help.
 */
struct run_body {
	void (*start)(struct run *, void *);
	void (*result)(struct run *, PGresult *, void *);
	void (*cancel)(struct run *, void *);
	void (*stop)(struct run *, void *);
	void *arg;
};

/* What to run: a configured job, or what a command asks for. */
struct run_params {
	const char *job;	/* job_runs.job */
	int type;		/* enum job_type */
	const char *const *objects;	/* tables or views, as given */
	size_t nobjects;
	const char *const *schemas;	/* vacuum/analyze: every table in */
	size_t nschemas;
	bool analyze;
	bool full;
	bool concurrently;
	const char *sql;
	int64_t timeout_ms;	/* 0: none */
	int64_t lock_timeout_ms;	/* -1: the database's */
	enum run_trigger trigger;
	time_t slot;		/* scheduled time, 0 when not scheduled */
	int attempt;		/* 1, 2, ... with retries */
	const struct conf_job *conf;	/* diagnostics thresholds, or NULL */
	const struct run_body *body;	/* JOB_MIGRATE */
	const char *lock_key;	/* NULL: "database/job" */
	int64_t lock_wait_ms;	/* 0: skip when the lock is taken; else
				   retry pg_try_advisory_lock this long */
};

typedef void (*run_done_fn)(struct run *, void *);
typedef void (*run_started_fn)(struct run *, void *);
typedef void (*run_progress_fn)(struct run *, const char *, double, void *);

struct run *run_start(struct pgmigd *, struct db *, const struct run_params *,
    run_done_fn, void *);
void run_set_owner(struct run *, run_done_fn, void *);
void run_observe(struct run *, run_done_fn, run_started_fn, run_progress_fn,
    void *);
void run_cancel(struct run *, const char *, bool);
void run_detach(struct run *);

int64_t run_id(const struct run *);
const char *run_job(const struct run *);
enum run_status run_status(const struct run *);
const char *run_message(const struct run *);
const char *run_sqlstate(const struct run *);
bool run_is_busy_error(const struct run *);
json_t *run_json(const struct run *);
json_t *run_objects(const struct run *);
int64_t run_duration_ms(const struct run *);
struct db *run_db(const struct run *);
enum run_trigger run_trigger(const struct run *);
struct run *run_find(struct pgmigd *, int64_t);
struct run *run_find_job(struct db *, const char *);
const char *run_status_name(enum run_status);
const char *run_trigger_name(enum run_trigger);

void run_body_query(struct run *, const char *, int, const char *const *);
void run_body_exec(struct run *, const char *);
void run_body_done(struct run *, bool, const char *, const char *);
void run_body_progress(struct run *, const char *, double);
void run_body_watch_index(struct run *, const char *);
void run_set_report(struct run *, json_t *);
void run_set_rows(struct run *, int64_t);
bool run_cancelling(const struct run *);
int run_body_kind(const struct run *);
PGconn *run_pg(const struct run *);
struct pgconn *run_conn(const struct run *);

#endif
