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

#endif
