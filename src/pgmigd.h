/*
 * pgmigd.h: the daemon's top-level state, handed to each module that
 * needs it (never reached as a global).
 */
#ifndef PGMIG_PGMIGD_H
#define PGMIG_PGMIGD_H

#include <sys/types.h>

#include <stdbool.h>
#include <time.h>

struct event_base;
struct conf;
struct ctl_server;
struct event;
struct db;
struct metrics;

struct pgmigd {
	struct event_base *base;
	struct conf *conf;	/* swapped whole on a successful reload */
	char *conf_path;
	time_t started;
	int64_t started_ms;	/* monotonic */
	struct ctl_server *ctl;	/* NULL with --once */
	bool once;
	bool stopping;
	struct event *grace;	/* bounds the shutdown */
	gid_t control_gid;	/* (gid_t)-1: no control group */
	unsigned reloads;
	struct db **dbs;	/* one per configured database (db.c) */
	size_t ndbs;
	unsigned inflight;	/* commands waiting on the database */
	size_t nruns;		/* job runs in progress, all databases */
	struct metrics *metrics;	/* counters and /metrics (metrics.c) */
};

int pgmigd_reload(struct pgmigd *, char **);
void pgmigd_update_status(struct pgmigd *);
void pgmigd_maybe_exit(struct pgmigd *);

#endif
