/*
 * sched.h: the scheduler: one timer per enabled job at its next slot (no
 * polling), jitter, no overlap (an overlapping slot is recorded skipped),
 * retries with backoff, catch_up after downtime, a global cap on running
 * jobs, and per-database housekeeping of job_runs (stale rows, retention).
 */
#ifndef PGMIG_SCHED_H
#define PGMIG_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

struct pgmigd;
struct db;
struct conf_job;

void sched_sync(struct pgmigd *);
void sched_free(struct db *);
void sched_drop_housekeeping(struct db *);
void sched_stop(struct pgmigd *);
void sched_kick(struct pgmigd *);
json_t *sched_job_json(struct db *, const struct conf_job *);
json_t *sched_next_json(struct db *);
bool sched_type_supported(int);
struct run *sched_run_now(struct db *, const char *, char **, bool *);

#endif
