/*
 * conf.h: the configuration file (libconfig) as validated C structures.
 * Every key lives in one table in conf.c with its type, default, range
 * and whether a reload may change it.  A file with any error is refused
 * whole, and every error is reported as FILE:LINE: message.
 */
#ifndef PGMIG_CONF_H
#define PGMIG_CONF_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cron.h"
#include "log.h"

#define CONF_NAME_MAX 63

enum job_type {
	JOB_VACUUM,
	JOB_ANALYZE,
	JOB_REFRESH,
	JOB_SQL,
	JOB_SLOW_QUERIES,
	JOB_CONNECTION_CHECK,
	JOB_INDEX_USAGE,
	JOB_HEALTH_CHECK,
	JOB__COUNT,
	JOB_MIGRATE = JOB__COUNT,	/* migrate up/down/...: not a job type of
					   the configuration file */
};

enum catch_up {
	CATCH_UP_SKIP,
	CATCH_UP_ONCE,
};

struct strlist {
	char **v;
	size_t n;
};

struct conf_job {
	char *name;
	int type;		/* enum job_type */
	char *schedule;
	struct cron cron;
	bool enabled;
	int64_t timeout_ms;	/* 0: none */
	int64_t lock_timeout_ms; /* -1: the database's */
	int64_t jitter_ms;
	int64_t retries;
	int64_t retry_backoff_ms;
	int catch_up;		/* enum catch_up */
	/* per type; conf.c says which key applies to which type */
	struct strlist tables;
	struct strlist schemas;
	struct strlist views;
	bool analyze;
	bool full;
	bool concurrently;
	char *sql;
	double min_mean_ms;
	int64_t limit;
	double max_usage;
	int64_t idle_in_transaction_ms;
	int64_t long_running_ms;
	int64_t min_rows;
	/* health_check thresholds */
	double wraparound_warning, wraparound_critical;
	int64_t long_xact_warning_ms, long_xact_critical_ms;
	int64_t idle_xact_warning_ms, idle_xact_critical_ms;
	double connections_warning, connections_critical;
	int64_t lag_warning_ms, lag_critical_ms;
	int line;
};

struct conf_db {
	char *name;
	char *conninfo;
	int64_t pool_size;
	char *state_schema;
	char *migrations_dir;
	char *migrations_table;
	char *backup_command;
	int64_t migration_lock_wait_ms;
	int64_t migration_retries;
	int migrations_lint;	/* 0 warn, 1 error */
	int64_t lock_timeout_ms;
	int64_t statement_timeout_ms;
	int64_t history_retention_ms;
	struct conf_job *jobs;
	size_t njobs;
	int line;
};

struct conf {
	char *path;
	/* daemon section */
	char *control_socket;
	int64_t control_mode;
	char *control_group;
	int64_t control_max_clients;
	int64_t control_idle_timeout_ms;
	int64_t max_running_jobs;
	int log_target;		/* enum log_target */
	int log_level;		/* LOG_* */
	char *timezone;
	char *metrics_listen;
	struct conf_db *dbs;
	size_t ndbs;
};

/* Errors found while loading; each is "FILE:LINE: message". */
struct conf_errors {
	char **v;
	size_t n;
};

struct conf *conf_load(const char *, struct conf_errors *);
void conf_free(struct conf *);
void conf_errors_clear(struct conf_errors *);
void conf_print(FILE *, const struct conf *);
void conf_keep_fixed(const struct conf *, struct conf *);
const struct conf_db *conf_find_db(const struct conf *, const char *);
const char *conf_job_type_name(int);

#endif
