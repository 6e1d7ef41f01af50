/*
 * diag.h: the diagnostics reports (analyze-indexes, missing-indexes,
 * analyze-queries, table-stats, connection-stats, lock-info,
 * health-check): each is one catalog query that returns the result
 * object as JSON, run between BEGIN; SET LOCAL statement_timeout,
 * lock_timeout; ... COMMIT so a report never queues behind DDL and never
 * runs away.  Nothing here is one query per table.
 */
#ifndef PGMIG_DIAG_H
#define PGMIG_DIAG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct conf_job;

enum diag_kind {
	DIAG_INDEXES,
	DIAG_MISSING,
	DIAG_QUERIES,
	DIAG_TABLES,
	DIAG_CONNECTIONS,
	DIAG_LOCKS,
	DIAG_HEALTH,
};

struct diag_opts {
	int64_t statement_timeout_ms;
	int64_t lock_timeout_ms;
	int64_t min_rows;		/* missing-indexes: seq-scan heavy */
	double min_mean_ms;		/* analyze-queries */
	int64_t limit;
	bool order_total;		/* analyze-queries --order total */
	int64_t idle_ms;		/* connection-stats thresholds */
	int64_t long_ms;
	const char *ext_schema;		/* quoted schema of pg_stat_statements
					   or pgstattuple, when used */
	const char *state_schema;	/* quoted, for the slow_queries delta */
	const char *db_literal;		/* quoted literal of the db name */
	const char *job_literal;	/* and of the job's */
	bool delta;			/* slow_queries job: since last run */
	double max_usage;		/* connection_check: a finding above */
	bool pgstattuple;		/* table-stats: measure with
					   pgstattuple_approx */
};

/* health thresholds (defaults in diag.c; a health_check job sets them) */
struct diag_health {
	double wraparound_warning, wraparound_critical;	/* x freeze_max_age */
	int64_t long_xact_warning_ms, long_xact_critical_ms;
	int64_t idle_xact_warning_ms, idle_xact_critical_ms;
	double connections_warning, connections_critical;
	int64_t lag_warning_ms, lag_critical_ms;
};

char *diag_sql(enum diag_kind, const struct diag_opts *);
const char *diag_extension(enum diag_kind, const struct diag_opts *);
void diag_health_defaults(struct diag_health *);
void diag_health_from_job(struct diag_health *, const struct conf_job *);
json_t *diag_health_eval(json_t *, const struct diag_health *);
void diag_health_add(json_t *, const char *, const char *, json_t *,
    const char *);
void diag_drop_schema(json_t *, const char *);
size_t diag_findings(enum diag_kind, json_t *, void (*)(void *,
    const char *, const char *, json_t *), void *);

#endif
