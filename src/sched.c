/*
 * sched.c: timers for configured jobs, and job_runs housekeeping.
 *
 * Each enabled job has one timer, armed for its next slot (cron_next in
 * daemon.timezone) plus a fixed per-job jitter offset, so @daily jobs of
 * many databases spread out, yet every daemon of an HA pair picks the
 * same offset.  Timers are on the wall clock: when one fires early (the
 * clock was stepped) it is armed again for the rest.
 *
 * A slot whose previous run is still going is recorded as skipped.  A
 * failed run is retried with exponential backoff and jitter, as the same
 * slot.  At most max_running_jobs run at once (and at most pool_size - 1
 * per database, so commands always find a connection); others wait in
 * order.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "migfile.h"
#include "migplan.h"
#include "migrate.h"
#include "pgmigd.h"
#include "pool.h"
#include "run.h"
#include "sched.h"
#include "util.h"

#define SCHED_HOUSEKEEPING_MS (3600 * 1000)
#define SCHED_EARLY_MS 0	/* never start a slot before its time */
#define RUN_LOCK_CLASS "1885826409"	/* as run.c: 'pgmi' */

struct sched_job {
	struct sched *s;
	char *name;
	struct event *timer;	/* next slot */
	struct event *retry;	/* retry of a failed slot */
	time_t slot;		/* the slot timer is armed for */
	int64_t fire_at_ms;	/* wall clock */
	time_t retry_slot;
	int retry_attempt;
	struct run *run;
	time_t run_slot;	/* the slot the run is for */
	bool queued;
};

struct pending {
	struct sched_job *sj;
	time_t slot;
	int attempt;
	enum run_trigger trigger;
};

struct sched {
	struct pgmigd *d;
	struct db *db;
	struct sched_job *jobs;
	size_t njobs;
	bool caught_up;		/* catch_up was decided */
	struct event *housekeeping;
};

/* waiting for a free place under max_running_jobs (all databases) */
static struct pending *pendings;
static size_t npendings;

static void arm(struct sched_job *);
static void clock_start(struct pgmigd *);
static void start_run(struct sched_job *, time_t, int, enum run_trigger);

static int64_t
wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* the job's configuration now (it may have been reloaded) */
static const struct conf_job *
job_conf(struct sched_job *sj)
{
	const struct conf_db *cd = sj->s->db->conf;
	size_t i;

	for (i = 0; i < cd->njobs; i++)
		if (strcmp(cd->jobs[i].name, sj->name) == 0)
			return &cd->jobs[i];
	return NULL;
}

/* sched_type_supported: job types this release can run. */
bool
sched_type_supported(int type)
{
	return type >= 0 && type < JOB__COUNT;
}

/* a stable offset in [0, jitter]: FNV-1a of "db/job" */
static int64_t
jitter_offset(struct sched_job *sj, int64_t jitter_ms)
{
	uint64_t h = 1469598103934665603ULL;
	const char *p;

	if (jitter_ms <= 0)
		return 0;
	for (p = sj->s->db->name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ '/') * 1099511628211ULL;
	for (p = sj->name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (int64_t)(h % (uint64_t)(jitter_ms + 1));
}

static void
arm_at(struct event *ev, int64_t at_ms)
{
	int64_t delay = at_ms - wall_ms();
	struct timeval tv;

	if (delay < 0)
		delay = 0;
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)(delay % 1000) * 1000;
	event_add(ev, &tv);
}

/*
 * arm: the timer for the first slot after both now and the slot that just
 * fired.  "Now" is read from gettimeofday, as the timers are: time() may
 * lag it by a tick and would find the slot that just fired again.
 */
static void
arm(struct sched_job *sj)
{
	const struct conf_job *j = job_conf(sj);
	time_t next, after = (time_t)(wall_ms() / 1000);

	if (j == NULL || !j->enabled || !sched_type_supported(j->type))
		return;
	if (sj->slot > after)
		after = sj->slot;
	if (cron_next(&j->cron, after, &next) == -1)
		return;
	sj->slot = next;
	sj->fire_at_ms = (int64_t)next * 1000 + jitter_offset(sj, j->jitter_ms);
	arm_at(sj->timer, sj->fire_at_ms);
}

/* ---- small state queries: acquire, one statement, release */

typedef void (*state_cb)(struct db *, PGresult *, void *);

/*
 * Housekeeping queries of a database run one after another on one
 * connection: at start-up (stale rows, retention, catch_up) they would
 * otherwise open a connection each, for every database.
 */
struct state_q {
	struct state_q *next;	/* queued behind the running one */
	struct db *db;
	char *sql;
	char *params[8];
	int nparams;
	state_cb cb;
	void *arg;
};

static void state_q_start(struct db *);

static void
state_q_free(struct state_q *q)
{
	int i;

	for (i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->sql);
	free(q);
}

/* state_q_next: the running query is done: free it, start the next */
static void
state_q_next(struct state_q *q)
{
	struct db *db = q->db;

	db->hk_head = q->next;
	if (db->hk_head == NULL)
		db->hk_tail = NULL;
	state_q_free(q);
	if (db->retired) {
		/* a removed database: the queue is dropped with it */
		while ((q = db->hk_head) != NULL) {
			db->hk_head = q->next;
			state_q_free(q);
			db->users--;
		}
		db->hk_tail = NULL;
	} else if (db->hk_head != NULL)
		state_q_start(db);
	db_drop(db);
}

static void
state_q_done(struct pgconn *c, PGresult *res, void *arg)
{
	struct state_q *q = arg;

	if (res != NULL && !pgres_ok(res)) {
		const char *st = pgres_sqlstate(res);

		/* no job_runs yet is not an error: nothing ran */
		if (st == NULL || strcmp(st, "42P01") != 0) {
			char *m = pgres_message(res);

			log_warnx("database %s: job_runs housekeeping: %s",
			    q->db->name, m);
			free(m);
		}
	}
	if (q->cb != NULL)
		q->cb(q->db, pgres_ok(res) ? res : NULL, q->arg);
	PQclear(res);
	if (c != NULL)
		pool_release(q->db->pool, c);
	state_q_next(q);
}

static void
state_q_conn(struct pgconn *c, const char *err, void *arg)
{
	struct state_q *q = arg;

	if (c == NULL) {
		log_debug("database %s: housekeeping postponed: %s",
		    q->db->name, err);
		if (q->cb != NULL)
			q->cb(q->db, NULL, q->arg);
		state_q_next(q);
		return;
	}
	if (pool_query(q->db->pool, c, q->sql, q->nparams,
	    (const char *const *)q->params, state_q_done, q) == -1) {
		pool_discard(q->db->pool, c);
		if (q->cb != NULL)
			q->cb(q->db, NULL, q->arg);
		state_q_next(q);
	}
}

static void
state_q_start(struct db *db)
{
	(void)pool_acquire(db->pool, true, state_q_conn, db->hk_head);
}

/* state_query: run sql (with %s for the quoted state schema) on db. */
static void
state_query(struct db *db, const char *fmt, const char *const *params,
    int nparams, state_cb cb, void *arg)
{
	struct state_q *q = xcalloc(1, sizeof(*q));
	char schema[80];
	int i;

	snprintf(schema, sizeof(schema), "\"%s\"", db->conf->state_schema);
	q->db = db;
	q->cb = cb;
	q->arg = arg;
	xasprintf(&q->sql, fmt, schema);
	if (nparams > (int)nitems(q->params))
		fatalx("state_query: %d parameters", nparams);
	for (i = 0; i < nparams; i++)
		q->params[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
	q->nparams = nparams;
	db_hold(db);
	if (db->hk_tail != NULL) {
		db->hk_tail->next = q;	/* runs when those before it are done */
		db->hk_tail = q;
		return;
	}
	db->hk_head = db->hk_tail = q;
	state_q_start(db);
}

static void
host_pid(char *host, size_t hlen, char *pid, size_t plen)
{
	if (gethostname(host, hlen) == -1)
		strlcpy_(host, "?", hlen);
	host[hlen - 1] = '\0';
	snprintf(pid, plen, "%ld", (long)getpid());
}

/* record_skip: an overlapping slot becomes a "skipped" row. */
static void
record_skip(struct sched_job *sj, const struct conf_job *j, time_t slot,
    const char *why)
{
	char host[256], pid[16], slotbuf[32], *details;
	struct log_field f[] = {
		{ "PGMIG_DATABASE", sj->s->db->name },
		{ "PGMIG_JOB", sj->name },
		{ "PGMIG_JOB_TYPE", conf_job_type_name(j->type) },
		{ "PGMIG_STATUS", "skipped" },
		{ "PGMIG_TRIGGER", "schedule" },
	};

	host_pid(host, sizeof(host), pid, sizeof(pid));
	time_rfc3339(slot, slotbuf, sizeof(slotbuf));
	xasprintf(&details, "{\"slot\":\"%s\",\"attempt\":1}", slotbuf);
	log_event(LOG_NOTICE, LOG_EV_RUN_SKIPPED, f, nitems(f),
	    "%s skipped on %s: %s", sj->name, sj->s->db->name, why);
	if (sj->s->db->state_ready)
		state_query(sj->s->db, "INSERT INTO %s.job_runs (job, "
		    "job_type, database, trigger, status, finished_at, "
		    "duration_ms, rows, message, host, pid, details) VALUES "
		    "($1, $2, $3, 'schedule', 'skipped', now(), 0, 0, $4, $5, "
		    "$6::pg_catalog.int4, $7::pg_catalog.jsonb)",
		    (const char *[]){ sj->name, conf_job_type_name(j->type),
		    sj->s->db->name, why, host, pid, details }, 7, NULL, NULL);
	free(details);
}

/* ---- running */

static size_t
running_in(struct db *db)
{
	return db->nruns;
}

static bool
may_start(struct sched *s)
{
	struct pgmigd *d = s->d;
	size_t per_db = (size_t)(pool_size(s->db->pool) > 1 ?
	    pool_size(s->db->pool) - 1 : 1);

	return d->nruns < (size_t)d->conf->max_running_jobs &&
	    running_in(s->db) < per_db;
}

static void
start_pending(void)
{
	size_t i = 0;

	while (i < npendings) {
		struct pending p = pendings[i];

		if (!may_start(p.sj->s)) {
			i++;
			continue;
		}
		memmove(&pendings[i], &pendings[i + 1],
		    (npendings - i - 1) * sizeof(*pendings));
		npendings--;
		p.sj->queued = false;
		start_run(p.sj, p.slot, p.attempt, p.trigger);
	}
}

static void
run_done(struct run *r, void *arg)
{
	struct sched_job *sj = arg;
	const struct conf_job *j = job_conf(sj);
	struct pgmigd *d = sj->s->d;

	sj->run = NULL;
	/* scheduled slots are retried; an operator's "run" is not */
	if (j != NULL && run_status(r) == RUN_FAILED &&
	    run_trigger(r) != RUN_MANUAL &&
	    sj->retry_attempt < (int)j->retries && !d->stopping) {
		/* exponential backoff with jitter, same slot */
		int64_t delay = j->retry_backoff_ms << sj->retry_attempt;
		struct timeval tv;

		delay += (int64_t)(random() % (delay / 4 + 1));
		sj->retry_attempt++;
		sj->retry_slot = sj->run_slot;
		tv.tv_sec = (time_t)(delay / 1000);
		tv.tv_usec = (suseconds_t)(delay % 1000) * 1000;
		log_info("%s on %s: retry %d of %lld in %lld ms", sj->name,
		    sj->s->db->name, sj->retry_attempt, (long long)j->retries,
		    (long long)delay);
		event_add(sj->retry, &tv);
	}
	start_pending();
}

static void
launch(struct sched_job *sj, const struct conf_job *j, time_t slot,
    int attempt, enum run_trigger trigger)
{
	struct sched *s = sj->s;
	struct run_params p;

	memset(&p, 0, sizeof(p));
	p.job = j->name;
	p.type = j->type;
	p.objects = (const char *const *)(j->type == JOB_REFRESH ?
	    j->views.v : j->tables.v);
	p.nobjects = j->type == JOB_REFRESH ? j->views.n : j->tables.n;
	p.schemas = (const char *const *)j->schemas.v;
	p.nschemas = j->schemas.n;
	p.analyze = j->analyze;
	p.full = j->full;
	p.concurrently = j->concurrently;
	p.sql = j->sql;
	p.timeout_ms = j->timeout_ms;
	p.lock_timeout_ms = j->lock_timeout_ms;
	p.trigger = trigger;
	p.slot = slot;
	p.attempt = attempt;
	p.conf = j;
	sj->run_slot = slot;
	sj->run = run_start(s->d, s->db, &p, run_done, sj);
}

/* start_run_forced: an operator's "run JOB" does not wait for the cap */
static void
start_run_forced(struct sched_job *sj, enum run_trigger trigger)
{
	const struct conf_job *j = job_conf(sj);

	sj->retry_attempt = 0;
	launch(sj, j, 0, 1, trigger);
}

static void
start_run(struct sched_job *sj, time_t slot, int attempt,
    enum run_trigger trigger)
{
	const struct conf_job *j = job_conf(sj);
	struct sched *s = sj->s;

	if (j == NULL || s->d->stopping)
		return;
	if (sj->run != NULL) {
		char *why;

		if (run_id(sj->run) != 0)
			xasprintf(&why, "previous run %lld is still running",
			    (long long)run_id(sj->run));
		else
			why = xstrdup("previous run is still waiting to start");
		record_skip(sj, j, slot, why);
		free(why);
		return;
	}
	if (!may_start(s)) {
		if (sj->queued)
			return;
		pendings = xreallocarray(pendings, npendings + 1,
		    sizeof(*pendings));
		pendings[npendings].sj = sj;
		pendings[npendings].slot = slot;
		pendings[npendings].attempt = attempt;
		pendings[npendings].trigger = trigger;
		npendings++;
		sj->queued = true;
		return;
	}
	launch(sj, j, slot, attempt, trigger);
}

/*
 * sched_run_now: "run JOB": start a configured job now, as a manual run
 * the scheduler knows of (a slot that comes meanwhile is skipped).
 * NULL with the reason in *cause if it cannot start.
 */
struct run *
sched_run_now(struct db *db, const char *job, char **cause, bool *ret_busy)
{
	struct sched *s = db->sched;
	struct sched_job *sj = NULL;
	const struct conf_job *j;
	size_t k;

	for (k = 0; s != NULL && k < s->njobs; k++)
		if (strcmp(s->jobs[k].name, job) == 0)
			sj = &s->jobs[k];
	*ret_busy = false;
	if (sj == NULL || (j = job_conf(sj)) == NULL) {
		xasprintf(cause, "no job \"%s\" on database %s", job,
		    db->name);
		return NULL;
	}
	if (!sched_type_supported(j->type)) {
		xasprintf(cause, "job type %s is not run by this version",
		    conf_job_type_name(j->type));
		return NULL;
	}
	*ret_busy = true;
	if (sj->run != NULL) {
		xasprintf(cause, "%s is already running (run %lld)", job,
		    (long long)run_id(sj->run));
		return NULL;
	}
	start_run_forced(sj, RUN_MANUAL);
	return sj->run;
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched_job *sj = arg;
	int64_t now = wall_ms();
	time_t slot = sj->slot;

	(void)fd;
	(void)what;
	if (now < sj->fire_at_ms - SCHED_EARLY_MS) {
		arm_at(sj->timer, sj->fire_at_ms);	/* clock stepped back */
		return;
	}
	sj->retry_attempt = 0;
	event_del(sj->retry);
	arm(sj);		/* the next slot, before this run starts */
	start_run(sj, slot, 1, RUN_SCHEDULE);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched_job *sj = arg;

	(void)fd;
	(void)what;
	start_run(sj, sj->retry_slot, sj->retry_attempt + 1, RUN_SCHEDULE);
}

/* ---- catch_up: after downtime, run once what was missed */

static void
caught_up(struct db *db, PGresult *res, void *arg)
{
	struct sched *s = db->sched;
	time_t now = (time_t)(wall_ms() / 1000);
	int i;

	(void)arg;
	if (s == NULL || res == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++) {
		struct sched_job *sj = NULL;
		const struct conf_job *j;
		time_t last, t, missed = 0;
		size_t k;
		int n;

		for (k = 0; k < s->njobs; k++)
			if (strcmp(s->jobs[k].name, PQgetvalue(res, i, 0)) == 0)
				sj = &s->jobs[k];
		if (sj == NULL || (j = job_conf(sj)) == NULL ||
		    j->catch_up != CATCH_UP_ONCE || !j->enabled ||
		    !sched_type_supported(j->type) || PQgetisnull(res, i, 1))
			continue;
		last = (time_t)strtoll(PQgetvalue(res, i, 1), NULL, 10);
		/* the latest slot after the last recorded one, up to now;
		 * search from two intervals back, not from an old last run */
		t = last;
		if (cron_max_interval(&j->cron) > 0 &&
		    now - 2 * cron_max_interval(&j->cron) > t)
			t = now - 2 * cron_max_interval(&j->cron);
		if (cron_next(&j->cron, last, &missed) == -1 || missed >= now)
			continue;	/* nothing was missed */
		for (n = 0; n < 1000 && cron_next(&j->cron, t, &t) == 0 &&
		    t < now; n++)
			missed = t;
		if (missed == 0 || missed == sj->slot)
			continue;
		{
			char when[32];

			time_rfc3339(missed, when, sizeof(when));
			log_notice("%s on %s: slot %s was missed while pgmigd "
			    "or the database was down; catch_up = once runs "
			    "it now", sj->name, db->name, when);
		}
		start_run(sj, missed, 1, RUN_STARTUP);
	}
}

static void
catch_up(struct sched *s)
{
	const char *params[1] = { s->db->name };

	s->caught_up = true;
	state_query(s->db, "SELECT job, pg_catalog.max(pg_catalog.date_part("
	    "'epoch', (details->>'slot')::pg_catalog.timestamptz))"
	    "::pg_catalog.int8 FROM %s.job_runs WHERE database = $1 AND "
	    "trigger IN ('schedule', 'startup') GROUP BY job", params, 1,
	    caught_up, NULL);
}

/* ---- housekeeping of job_runs */

/*
 * close_stale: a row "running" whose job lock nobody holds is stale: its
 * daemon died, or its connection was lost (the lock went with it).  Every
 * run holds its lock from before its row is inserted until after it is
 * finished, so this needs no host or pid bookkeeping and works across the
 * daemons of an HA cluster.
 */
static void
close_stale(struct db *db)
{
	char host[256], pid[16];

	host_pid(host, sizeof(host), pid, sizeof(pid));
	state_query(db, "UPDATE %s.job_runs r SET status = 'failed', "
	    "finished_at = now(), duration_ms = (pg_catalog.date_part('epoch', "
	    "now() - started_at) * 1000)::pg_catalog.int8, message = CASE "
	    "WHEN host = $1 AND pid = $2::pg_catalog.int4 THEN 'connection "
	    "lost during the run' ELSE 'daemon stopped' END "
	    "WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM "
	    "pg_catalog.pg_locks l WHERE l.locktype = 'advisory' AND "
	    "l.classid = " RUN_LOCK_CLASS "::pg_catalog.oid AND l.objid = "
	    "pg_catalog.hashtext(r.database || '/' || r.job)::pg_catalog.oid "
	    "AND l.objsubid = 2 AND l.granted)",
	    (const char *[]){ host, pid }, 2, NULL, NULL);
}

static void
retention(struct db *db)
{
	char ms[32];

	snprintf(ms, sizeof(ms), "%lld",
	    (long long)db->conf->history_retention_ms);
	state_query(db, "DELETE FROM %s.job_runs WHERE started_at < now() - "
	    "$1::pg_catalog.int8 * interval '1 millisecond' AND status <> "
	    "'running'", (const char *[]){ ms }, 1, NULL, NULL);
}

static void
housekeeping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;

	(void)fd;
	(void)what;
	if (pool_reachable(s->db->pool) && !pool_in_recovery(s->db->pool))
		retention(s->db);
}

/* state_probed: job_runs exists (or not): housekeep, decide catch_up */
static void
state_probed(struct db *db, PGresult *res, void *arg)
{
	(void)arg;
	if (db->retired || res == NULL || PQntuples(res) != 1 ||
	    PQgetvalue(res, 0, 0)[0] != 't') {
		if (db->sched != NULL)
			db->sched->caught_up = true;	/* nothing ran yet */
		return;
	}
	close_stale(db);
	retention(db);
	if (db->sched != NULL && !db->sched->caught_up)
		catch_up(db->sched);
}

/*
 * Pending migrations, for pgmigd_migrations_pending: the files of
 * migrations_dir whose version has no successful row in
 * migrations_table (all of them while the table does not exist).
 * Counted at most once a minute, from the health check.
 */
#define MIGRATIONS_CHECK_MS 60000

/* count_pending: res holds the history (NULL: no table yet); pending is
 * what migrate status calls pending (a baseline covers older files) */
static void
count_pending(struct db *db, PGresult *res)
{
	struct migset set;
	struct mighist hist = { NULL, 0 };
	char *cause = NULL;
	json_t *st;

	if (db->retired || db->conf == NULL)
		return;
	if (migset_scan(db->conf->migrations_dir, &set, &cause) == -1) {
		log_debug("database %s: %s", db->name, cause);
		free(cause);
		db->migrations_pending = -1;
		return;
	}
	migrate_history_load(&hist, res);
	st = migplan_status(&set, &hist);
	db->migrations_pending = (int64_t)json_array_size(json_object_get(st,
	    "pending"));
	json_decref(st);
	mighist_free(&hist);
	migset_free(&set);
}

static void
migrations_counted(struct db *db, PGresult *res, void *arg)
{
	(void)arg;
	if (res != NULL)
		count_pending(db, res);
}

static void
migrations_probed(struct db *db, PGresult *res, void *arg)
{
	char *q, *sql;

	(void)arg;
	if (db->retired || db->conf == NULL || res == NULL ||
	    PQntuples(res) != 1)
		return;
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		count_pending(db, NULL);	/* nothing applied yet */
		return;
	}
	q = migrate_table_sql(db->conf->migrations_table);
	sql = migrate_history_sql(q);
	/* state_query formats with the state schema: no other % here */
	state_query(db, sql, NULL, 0, migrations_counted, NULL);
	free(sql);
	free(q);
}

static void
migrations_check(struct db *db)
{
	const char *params[1];
	char *q;

	if (db->conf->migrations_dir[0] == '\0' || now_ms() -
	    db->migrations_checked_ms < MIGRATIONS_CHECK_MS)
		return;
	db->migrations_checked_ms = now_ms();
	q = migrate_table_sql(db->conf->migrations_table);
	params[0] = q;
	state_query(db, "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
	    params, 1, migrations_probed, NULL);
	free(q);
}

/* health: reachability changed or a check finished */
static void
health_cb(struct pool *p, void *arg)
{
	struct db *db = arg;
	bool up = pool_reachable(p) && !pool_in_recovery(p);

	if (up && !db->was_reachable) {
		/* ask whether job_runs exists first: housekeeping of a table
		 * that is not there would only fill the server's log */
		db->stale_rows = false;
		state_query(db, "SELECT pg_catalog.to_regclass('%s.job_runs') "
		    "IS NOT NULL", NULL, 0, state_probed, NULL);
	} else if (up && db->stale_rows) {
		/* a run lost its connection without an outage being seen */
		db->stale_rows = false;
		close_stale(db);
	}
	if (pool_reachable(p) && db->conf != NULL)
		migrations_check(db);
	db->was_reachable = up;
}

/* ---- set-up */

/* sched_free: stop db's timers (its runs go on). */
void
sched_free(struct db *db)
{
	struct sched *s = db->sched;
	size_t i, k;

	if (s == NULL)
		return;
	for (i = 0; i < s->njobs; i++) {
		struct sched_job *sj = &s->jobs[i];

		if (sj->run != NULL)
			run_set_owner(sj->run, NULL, NULL);
		for (k = 0; k < npendings; k++) {
			if (pendings[k].sj == sj) {
				memmove(&pendings[k], &pendings[k + 1],
				    (npendings - k - 1) * sizeof(*pendings));
				npendings--;
				k--;
			}
		}
		event_free(sj->timer);
		event_free(sj->retry);
		free(sj->name);
	}
	free(s->jobs);
	event_free(s->housekeeping);
	pool_set_health_cb(db->pool, NULL, NULL);
	free(s);
	db->sched = NULL;
	if (npendings == 0) {
		free(pendings);
		pendings = NULL;
	}
}

/*
 * sched_sync: (re)build every database's timers from the configuration;
 * runs in progress go on, and stay linked to their job by name.
 */
void
sched_sync(struct pgmigd *d)
{
	size_t i, k;

	clock_start(d);
	for (i = 0; i < d->ndbs; i++) {
		struct db *db = d->dbs[i];
		struct sched *s;
		bool caught = db->sched != NULL && db->sched->caught_up;
		struct timeval tv = { SCHED_HOUSEKEEPING_MS / 1000, 0 };

		sched_free(db);
		s = xcalloc(1, sizeof(*s));
		s->d = d;
		s->db = db;
		s->caught_up = caught;
		s->njobs = db->conf->njobs;
		s->jobs = xcalloc(s->njobs, sizeof(*s->jobs));
		s->housekeeping = event_new(d->base, -1, EV_PERSIST,
		    housekeeping_cb, s);
		db->sched = s;
		if (!d->once) {
			/* pgmigd --once runs what it is asked, nothing else */
			event_add(s->housekeeping, &tv);
			pool_set_health_cb(db->pool, health_cb, db);
		}
		for (k = 0; k < s->njobs; k++) {
			const struct conf_job *j = &db->conf->jobs[k];
			struct sched_job *sj = &s->jobs[k];

			sj->s = s;
			sj->name = xstrdup(j->name);
			sj->timer = evtimer_new(d->base, timer_cb, sj);
			sj->retry = evtimer_new(d->base, retry_cb, sj);
			if (sj->timer == NULL || sj->retry == NULL)
				fatalx("evtimer_new failed");
			sj->run = run_find_job(db, j->name);
			if (sj->run != NULL)
				run_set_owner(sj->run, run_done, sj);
			if (d->once)
				continue;
			if (j->enabled && !sched_type_supported(j->type))
				log_warnx("database %s: job %s: type %s is not "
				    "run by this version of pgmigd, ignoring",
				    db->name, j->name,
				    conf_job_type_name(j->type));
			arm(sj);
		}
	}
}

/*
 * The job timers wait on the monotonic clock for a wall-clock time.  When
 * the wall clock is stepped (NTP at boot, a VM resumed) they would fire
 * late by the step: one timer a minute compares the two clocks and arms
 * every job again when they drifted apart.
 */
static struct event *clock_watch;
static int64_t clock_offset;

static void
clock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgmigd *d = arg;
	int64_t off = wall_ms() - now_ms();
	size_t i, k;

	(void)fd;
	(void)what;
	if (llabs(off - clock_offset) > 1000) {
		log_notice("the wall clock moved by %lld ms; re-arming job "
		    "timers", (long long)(off - clock_offset));
		for (i = 0; i < d->ndbs; i++) {
			struct sched *s = d->dbs[i]->sched;

			for (k = 0; s != NULL && k < s->njobs; k++)
				if (event_pending(s->jobs[k].timer, EV_TIMEOUT,
				    NULL))
					arm_at(s->jobs[k].timer,
					    s->jobs[k].fire_at_ms);
		}
	}
	clock_offset = off;
}

static void
clock_start(struct pgmigd *d)
{
	struct timeval tv = { 60, 0 };

	if (clock_watch != NULL || d->once)
		return;
	clock_watch = event_new(d->base, -1, EV_PERSIST, clock_cb, d);
	if (clock_watch == NULL)
		fatalx("event_new failed");
	clock_offset = wall_ms() - now_ms();
	event_add(clock_watch, &tv);
}

/* sched_stop: shutdown: no new runs; cancel the running ones. */
void
sched_stop(struct pgmigd *d)
{
	size_t i, k;

	for (i = 0; i < d->ndbs; i++) {
		struct sched *s = d->dbs[i]->sched;

		if (s == NULL)
			continue;
		for (k = 0; k < s->njobs; k++) {
			event_del(s->jobs[k].timer);
			event_del(s->jobs[k].retry);
		}
	}
	npendings = 0;
	if (clock_watch != NULL) {
		event_free(clock_watch);
		clock_watch = NULL;
	}
	for (i = 0; i < d->ndbs; i++)
		for (k = d->dbs[i]->nruns; k > 0; k--)
			run_cancel(d->dbs[i]->runs[k - 1], "daemon stopping",
			    false);
}

/* sched_job_json: the "jobs" entry of j, without its last run. */
json_t *
sched_job_json(struct db *db, const struct conf_job *j)
{
	struct sched *s = db->sched;
	struct sched_job *sj = NULL;
	char next[32];
	size_t k;

	for (k = 0; s != NULL && k < s->njobs; k++)
		if (strcmp(s->jobs[k].name, j->name) == 0)
			sj = &s->jobs[k];
	if (sj != NULL && event_pending(sj->timer, EV_TIMEOUT, NULL))
		time_rfc3339((time_t)(sj->fire_at_ms / 1000), next,
		    sizeof(next));
	else
		next[0] = '\0';
	return json_pack("{s:s,s:s,s:s,s:s,s:b,s:o,s:o,s:o}",
	    "name", j->name, "database", db->name,
	    "type", conf_job_type_name(j->type), "schedule", j->schedule,
	    "enabled", j->enabled && sched_type_supported(j->type),
	    "next_run", next[0] != '\0' ? json_string(next) : json_null(),
	    "running_run_id", sj != NULL && sj->run != NULL &&
	    run_id(sj->run) != 0 ? json_integer(run_id(sj->run)) :
	    json_null(),
	    "last_run", json_null());
}

/* sched_next_json: {"name","at"} of db's next scheduled job, or null. */
json_t *
sched_next_json(struct db *db)
{
	struct sched *s = db->sched;
	struct sched_job *best = NULL;
	char at[32];
	size_t k;

	for (k = 0; s != NULL && k < s->njobs; k++) {
		struct sched_job *sj = &s->jobs[k];

		if (!event_pending(sj->timer, EV_TIMEOUT, NULL))
			continue;
		if (best == NULL || sj->fire_at_ms < best->fire_at_ms)
			best = sj;
	}
	if (best == NULL)
		return json_null();
	time_rfc3339((time_t)(best->fire_at_ms / 1000), at, sizeof(at));
	return json_pack("{s:s,s:s}", "name", best->name, "at", at);
}

/* sched_drop_housekeeping: free queued housekeeping (db going away). */
void
sched_drop_housekeeping(struct db *db)
{
	struct state_q *q, *next;

	for (q = db->hk_head; q != NULL; q = next) {
		next = q->next;
		state_q_free(q);
	}
	db->hk_head = db->hk_tail = NULL;
}

/* sched_kick: a run ended: start what waits for a place. */
void
sched_kick(struct pgmigd *d)
{
	if (npendings > 0 && !d->stopping)
		start_pending();
}
