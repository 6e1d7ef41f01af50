/*
 * metrics.h: Prometheus text exposition of pgmigd's state: job runs,
 * durations and last successes (counted since start), pools, and each
 * database's reachability and role.  Served by "pgmigctl metrics" and,
 * with daemon.metrics_listen, by a loopback HTTP endpoint at /metrics.
 */
#ifndef PGMIG_METRICS_H
#define PGMIG_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct pgmigd;

void metrics_record_run(struct pgmigd *, const char *, const char *,
    const char *, int, int64_t, time_t);
char *metrics_render(struct pgmigd *);
int metrics_listen(struct pgmigd *, const char *, char **);
void metrics_finalise(struct pgmigd *);

#endif
