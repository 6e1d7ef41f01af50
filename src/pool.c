/*
 * pool.c: per-database connection pools.
 *
 * Connections are opened lazily, up to pool_size (one more for urgent
 * requests: cancels and health checks must not queue behind jobs), kept
 * idle for reuse, and closed after POOL_IDLE_MS unused (one stays, for
 * the health check).  A failed connect starts a backoff: capped, jittered
 * and exponential; while it lasts, requests fail at once with the last
 * error, so an operator's command never hangs on a dead server.  Every
 * new connection and every POOL_CHECK_MS the pool asks the server whether
 * it is in recovery, its version and our user.
 *
 * A connection handed out is the holder's until pool_release (back to
 * idle if its session is clean, else closed) or pool_discard.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "conf.h"
#include "log.h"
#include "pgmigd.h"
#include "pool.h"
#include "util.h"

#define POOL_CHECK_MS 30000
#define POOL_IDLE_MS 60000
#define POOL_REAP_MS 10000
#define POOL_BACKOFF_MIN_MS 250
#define POOL_BACKOFF_MAX_MS 30000
#define POOL_CONNECT_TIMEOUT_MS 10000
#define POOL_MAX_CONNS 128

struct pool_wait {
	TAILQ_ENTRY(pool_wait) entry;
	struct pool *pool;
	pool_acquire_cb cb;
	void *arg;
	bool urgent;
};
TAILQ_HEAD(pool_waits, pool_wait);

struct pool_conn {
	struct pgconn *c;
	unsigned generation;	/* conninfo it was opened with */
	bool checking;		/* running the health check */
};

struct pool {
	struct pgmigd *d;
	char *name;
	char *conninfo;
	int size;
	int64_t connect_timeout_ms;
	unsigned generation;
	struct pool_conn conns[POOL_MAX_CONNS];
	int nconns;
	struct pool_waits waits;
	struct event *kick;	/* run the queue from the loop */
	struct event *check;	/* health check */
	struct event *reap;	/* idle reaping */
	int64_t down_until;	/* monotonic ms: backoff in force */
	int64_t backoff_ms;
	char *last_error;
	bool reachable;
	bool checked;		/* reachability known */
	bool in_recovery;
	char *server_version;
	char *user;
	struct pool_stats stats;
	pool_health_cb health;
	void *health_arg;
};

static void pool_kick(struct pool *);
static void arm_reap(struct pool *);
static void start_check(struct pool *, int);

static int
find(struct pool *p, struct pgconn *c)
{
	int i;

	for (i = 0; i < p->nconns; i++)
		if (p->conns[i].c == c)
			return i;
	return -1;
}

static void
remove_at(struct pool *p, int i)
{
	pgconn_close(p->conns[i].c);
	p->conns[i] = p->conns[--p->nconns];
	p->stats.closed++;
}

static void
set_error(struct pool *p, const char *msg)
{
	free(p->last_error);
	p->last_error = xstrdup(msg);
}

static void
notify_health(struct pool *p)
{
	if (p->health != NULL)
		p->health(p, p->health_arg);
}

static void
set_reachable(struct pool *p, bool up)
{
	bool changed = !p->checked || p->reachable != up;
	struct log_field f[] = { { "PGMIG_DATABASE", p->name } };

	p->checked = true;
	p->reachable = up;
	if (!changed)
		return;
	if (up)
		log_event(LOG_INFO, LOG_EV_DB_UP, f, nitems(f),
		    "database %s is reachable", p->name);
	else
		log_event(LOG_WARNING, LOG_EV_DB_DOWN, f, nitems(f),
		    "database %s is unreachable: %s", p->name,
		    p->last_error != NULL ? p->last_error : "?");
	notify_health(p);
}

/* fail every waiter (the database is down) */
static void
fail_waiters(struct pool *p)
{
	struct pool_wait *w;

	while ((w = TAILQ_FIRST(&p->waits)) != NULL) {
		TAILQ_REMOVE(&p->waits, w, entry);
		w->cb(NULL, p->last_error != NULL ? p->last_error :
		    "database unreachable", w->arg);
		free(w);
	}
}

static void
backoff(struct pool *p, const char *err)
{
	int64_t jitter;

	p->stats.failed++;
	set_error(p, err);
	p->backoff_ms = p->backoff_ms == 0 ? POOL_BACKOFF_MIN_MS :
	    p->backoff_ms * 2;
	if (p->backoff_ms > POOL_BACKOFF_MAX_MS)
		p->backoff_ms = POOL_BACKOFF_MAX_MS;
	/* full jitter on the upper half, so many pools do not retry in step */
	jitter = p->backoff_ms / 2 + (int64_t)(random() % (p->backoff_ms / 2 + 1));
	p->down_until = now_ms() + jitter;
	set_reachable(p, false);
	fail_waiters(p);
	/* try again when the backoff ends, not at the next regular check */
	if (!p->d->once) {
		struct timeval tv = { (time_t)(jitter / 1000),
		    (suseconds_t)(jitter % 1000) * 1000 };

		event_add(p->check, &tv);
	}
}

static void
connected_cb(struct pgconn *c, const char *err, void *arg)
{
	struct pool *p = arg;
	int i = find(p, c);

	if (i == -1)
		return;
	if (err != NULL) {
		remove_at(p, i);
		p->stats.closed--;	/* it never opened */
		log_debug("database %s: connect failed: %s", p->name, err);
		backoff(p, err);
		return;
	}
	p->stats.created++;
	p->backoff_ms = 0;
	p->down_until = 0;
	/* learn what the server is before anyone uses the connection */
	start_check(p, i);
}

static void
lost_cb(struct pgconn *c, void *arg)
{
	struct pool *p = arg;
	int i = find(p, c);

	log_info("database %s: idle connection lost: %s", p->name,
	    pgconn_error(c));
	if (i != -1)
		remove_at(p, i);
	pool_check_now(p);
}

static void
check_done(struct pgconn *c, PGresult *res, void *arg)
{
	struct pool *p = arg;
	int i = find(p, c);

	if (i == -1) {
		PQclear(res);
		return;
	}
	p->conns[i].checking = false;
	p->stats.last_check = time(NULL);
	if (res == NULL || !pgres_ok(res) || PQntuples(res) != 1) {
		char *msg = res != NULL ? pgres_message(res) :
		    xstrdup(pgconn_error(c));

		p->stats.last_check_ok = false;
		PQclear(res);
		remove_at(p, i);
		/* a server that cannot answer this is as good as down */
		backoff(p, msg);
		free(msg);
		return;
	}
	p->stats.last_check_ok = true;
	if ((PQgetvalue(res, 0, 0)[0] == 't') != p->in_recovery) {
		struct log_field f[] = { { "PGMIG_DATABASE", p->name } };

		p->in_recovery = PQgetvalue(res, 0, 0)[0] == 't';
		if (p->checked)
			log_event(LOG_NOTICE, LOG_EV_NONE, f, nitems(f),
			    "database %s is now a %s", p->name,
			    p->in_recovery ? "standby (in recovery)" : "primary");
	}
	free(p->server_version);
	p->server_version = xstrdup(PQgetvalue(res, 0, 1));
	free(p->user);
	p->user = xstrdup(PQgetvalue(res, 0, 2));
	PQclear(res);
	set_reachable(p, true);
	notify_health(p);
	pool_release(p, c);
}

static void
start_check(struct pool *p, int i)
{
	static const char sql[] = "SELECT pg_catalog.pg_is_in_recovery(), "
	    "pg_catalog.current_setting('server_version'), "
	    "CURRENT_USER::pg_catalog.text";

	pgconn_set_state(p->conns[i].c, PGCONN_HELD);
	p->conns[i].checking = true;
	if (pool_query(p, p->conns[i].c, sql, 0, NULL, check_done, p) == -1) {
		set_error(p, pgconn_error(p->conns[i].c));
		remove_at(p, i);
		set_reachable(p, false);
	}
}

static int
open_conn(struct pool *p)
{
	struct pgconn *c;

	if (p->nconns >= POOL_MAX_CONNS)
		return -1;
	c = pgconn_start(p->d->base, p->conninfo, p->connect_timeout_ms,
	    connected_cb, p);
	pgconn_set_owner(c, p);
	p->conns[p->nconns].c = c;
	p->conns[p->nconns].generation = p->generation;
	p->conns[p->nconns].checking = false;
	p->nconns++;
	return 0;
}

/* kick_cb: hand idle connections to waiters; open more when allowed. */
static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	struct pool_wait *w, *x;
	int i, pending, waiting, limit;

	(void)fd;
	(void)what;
	while ((w = TAILQ_FIRST(&p->waits)) != NULL) {
		for (i = 0; i < p->nconns; i++)
			if (pgconn_state(p->conns[i].c) == PGCONN_IDLE)
				break;
		if (i < p->nconns) {
			TAILQ_REMOVE(&p->waits, w, entry);
			pgconn_set_state(p->conns[i].c, PGCONN_HELD);
			pgconn_set_lost_cb(p->conns[i].c, NULL, NULL);
			w->cb(p->conns[i].c, NULL, w->arg);
			free(w);
			continue;
		}
		if (now_ms() < p->down_until) {
			fail_waiters(p);
			return;
		}
		/* connections being opened (or checked) serve the queue */
		pending = waiting = 0;
		limit = p->size;
		for (i = 0; i < p->nconns; i++)
			if (pgconn_state(p->conns[i].c) == PGCONN_CONNECTING ||
			    p->conns[i].checking)
				pending++;
		TAILQ_FOREACH(x, &p->waits, entry) {
			waiting++;
			if (x->urgent)
				limit = p->size + 1;
		}
		if (pending >= waiting || p->nconns >= limit ||
		    open_conn(p) == -1)
			return;
	}
}

static void
pool_kick(struct pool *p)
{
	struct timeval tv = { 0, 0 };

	event_add(p->kick, &tv);
}

static void
check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	/* on a shared 30 s grid of the monotonic clock: the checks of
	 * many databases wake the loop once, not once each */
	int64_t delay = POOL_CHECK_MS - now_ms() % POOL_CHECK_MS;
	struct timeval tv = { (time_t)(delay / 1000),
	    (suseconds_t)(delay % 1000) * 1000 };

	(void)fd;
	(void)what;
	event_add(p->check, &tv);
	pool_check_now(p);
}

/*
 * pool_check_now: ask the server now (an idle connection is used, or one
 * is opened); the health callback hears the answer.
 */
void
pool_check_now(struct pool *p)
{
	int i;

	for (i = 0; i < p->nconns; i++)
		if (pgconn_state(p->conns[i].c) == PGCONN_IDLE) {
			start_check(p, i);
			return;
		}
	for (i = 0; i < p->nconns; i++)
		if (pgconn_state(p->conns[i].c) == PGCONN_CONNECTING)
			return;		/* its check comes when it connects */
	if (now_ms() < p->down_until)
		return;
	if (p->nconns < p->size + 1)
		(void)open_conn(p);
}

/*
 * arm_reap: with more than one idle connection, look again when the
 * oldest could have been idle long enough.  No timer runs otherwise, so
 * an idle pool does not wake the loop.
 */
static void
arm_reap(struct pool *p)
{
	struct timeval tv = { POOL_REAP_MS / 1000, 0 };
	int busy, idle, connecting;

	if (p->d->once || event_pending(p->reap, EV_TIMEOUT, NULL))
		return;
	pool_counts(p, &busy, &idle, &connecting);
	if (idle > 1)
		event_add(p->reap, &tv);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	int64_t now = now_ms();
	int i, idle = 0;

	(void)fd;
	(void)what;
	for (i = 0; i < p->nconns; i++)
		if (pgconn_state(p->conns[i].c) == PGCONN_IDLE)
			idle++;
	/* keep the newest idle connection for the health check */
	for (i = p->nconns - 1; i >= 0 && idle > 1; i--) {
		struct pgconn *c = p->conns[i].c;

		if (pgconn_state(c) == PGCONN_IDLE &&
		    now - pgconn_idle_since(c) > POOL_IDLE_MS) {
			remove_at(p, i);
			idle--;
		}
	}
	arm_reap(p);
}

static int64_t
conninfo_timeout(const char *conninfo)
{
	PQconninfoOption *opts, *o;
	int64_t ms = POOL_CONNECT_TIMEOUT_MS;

	if ((opts = PQconninfoParse(conninfo, NULL)) == NULL)
		return ms;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 &&
		    o->val != NULL && atoi(o->val) > 0)
			ms = (int64_t)atoi(o->val) * 1000;
	PQconninfoFree(opts);
	return ms;
}

/*
 * pool_configure: apply a (re)loaded database section.  A changed
 * conninfo closes idle connections now and busy ones when released.
 */
void
pool_configure(struct pool *p, const struct conf_db *db)
{
	int i;

	p->size = (int)db->pool_size;
	if (p->conninfo == NULL || strcmp(p->conninfo, db->conninfo) != 0) {
		free(p->conninfo);
		p->conninfo = xstrdup(db->conninfo);
		p->connect_timeout_ms = conninfo_timeout(db->conninfo);
		p->generation++;
		p->down_until = 0;
		p->backoff_ms = 0;
		for (i = p->nconns - 1; i >= 0; i--)
			if (pgconn_state(p->conns[i].c) == PGCONN_IDLE ||
			    pgconn_state(p->conns[i].c) == PGCONN_CONNECTING)
				remove_at(p, i);
	}
	pool_kick(p);
}

/* pool_new: a pool for db; connects lazily, checks health at once. */
struct pool *
pool_new(struct pgmigd *d, const struct conf_db *db)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	struct timeval tv = { 0, 0 };

	p->d = d;
	p->name = xstrdup(db->name);
	TAILQ_INIT(&p->waits);
	p->kick = evtimer_new(d->base, kick_cb, p);
	p->check = evtimer_new(d->base, check_cb, p);
	p->reap = evtimer_new(d->base, reap_cb, p);
	if (p->kick == NULL || p->check == NULL || p->reap == NULL)
		fatalx("event_new failed");
	pool_configure(p, db);
	if (!d->once)
		event_add(p->check, &tv);	/* first check right away */
	return p;
}

/* pool_free: close everything; waiters hear "shutting down". NULL ok. */
void
pool_free(struct pool *p)
{
	struct pool_wait *w;

	if (p == NULL)
		return;
	while ((w = TAILQ_FIRST(&p->waits)) != NULL) {
		TAILQ_REMOVE(&p->waits, w, entry);
		w->cb(NULL, "pgmigd is shutting down", w->arg);
		free(w);
	}
	while (p->nconns > 0)
		remove_at(p, p->nconns - 1);
	event_free(p->kick);
	event_free(p->check);
	event_free(p->reap);
	free(p->name);
	free(p->conninfo);
	free(p->last_error);
	free(p->server_version);
	free(p->user);
	free(p);
}

/*
 * pool_note_recovery: a run just asked the server whether it is in
 * recovery: a failover shows in status at once, not at the next check.
 */
void
pool_note_recovery(struct pool *p, bool in_recovery)
{
	struct log_field f[] = { { "PGMIG_DATABASE", p->name } };

	if (p->in_recovery == in_recovery)
		return;
	p->in_recovery = in_recovery;
	log_event(LOG_NOTICE, LOG_EV_NONE, f, nitems(f),
	    "database %s is now a %s", p->name,
	    in_recovery ? "standby (in recovery)" : "primary");
	notify_health(p);
}

/* pool_shutdown: no more waiting: every waiter hears "shutting down". */
void
pool_shutdown(struct pool *p)
{
	set_error(p, "pgmigd is shutting down");
	p->down_until = INT64_MAX;
	fail_waiters(p);
}

/* pool_name: the database's configured name. */
const char *
pool_name(const struct pool *p)
{
	return p->name;
}

/*
 * pool_acquire: ask for a connection; cb runs from the loop (never inside
 * this call) with the connection, or NULL and a reason.  urgent may use
 * one connection over pool_size.  The returned handle cancels the wait
 * until cb has run.
 */
struct pool_wait *
pool_acquire(struct pool *p, bool urgent, pool_acquire_cb cb, void *arg)
{
	struct pool_wait *w = xcalloc(1, sizeof(*w));

	w->pool = p;
	w->cb = cb;
	w->arg = arg;
	w->urgent = urgent;
	if (urgent)
		TAILQ_INSERT_HEAD(&p->waits, w, entry);
	else
		TAILQ_INSERT_TAIL(&p->waits, w, entry);
	pool_kick(p);
	return w;
}

/* pool_acquire_cancel: withdraw a wait whose callback has not run. */
void
pool_acquire_cancel(struct pool_wait *w)
{
	TAILQ_REMOVE(&w->pool->waits, w, entry);
	free(w);
}

/*
 * pool_release: give a connection back.  It goes back to idle only if it
 * is healthy, its session is not inside a transaction, and it was opened
 * with the current conninfo; otherwise it is closed.
 */
void
pool_release(struct pool *p, struct pgconn *c)
{
	int i = find(p, c);
	int busy, idle, connecting;

	if (i == -1)
		return;
	pool_counts(p, &busy, &idle, &connecting);
	if (pgconn_state(c) == PGCONN_BROKEN ||
	    PQtransactionStatus(pgconn_pg(c)) != PQTRANS_IDLE ||
	    p->conns[i].generation != p->generation ||
	    p->nconns > p->size + 1 ||
	    (p->nconns > p->size && TAILQ_EMPTY(&p->waits))) {
		if (pgconn_state(c) == PGCONN_BROKEN)
			set_error(p, pgconn_error(c));
		remove_at(p, i);
	} else {
		pgconn_set_state(c, PGCONN_IDLE);
		pgconn_set_lost_cb(c, lost_cb, p);
		arm_reap(p);
	}
	pool_kick(p);
}

/* pool_discard: close a connection the holder cannot trust any more. */
void
pool_discard(struct pool *p, struct pgconn *c)
{
	int i = find(p, c);

	if (i != -1)
		remove_at(p, i);
	pool_kick(p);
}

/* pool_query: pgconn_query, counted in the pool's statistics. */
int
pool_query(struct pool *p, struct pgconn *c, const char *sql, int n,
    const char *const *params, pgconn_result_cb cb, void *arg)
{
	p->stats.queries++;
	return pgconn_query(c, sql, n, params, cb, arg);
}

/* pool_exec: pgconn_exec, counted in the pool's statistics. */
int
pool_exec(struct pool *p, struct pgconn *c, const char *sql,
    pgconn_result_cb cb, void *arg)
{
	p->stats.queries++;
	return pgconn_exec(c, sql, cb, arg);
}

/* pool_set_health_cb: hear about checks and reachability changes. */
void
pool_set_health_cb(struct pool *p, pool_health_cb cb, void *arg)
{
	p->health = cb;
	p->health_arg = arg;
}

/* pool_reachable: the last connect or check succeeded. */
bool
pool_reachable(const struct pool *p)
{
	return p->reachable;
}

/* pool_checked: reachability is known (a connect or check finished). */
bool
pool_checked(const struct pool *p)
{
	return p->checked;
}

/* pool_in_recovery: the server is a standby. */
bool
pool_in_recovery(const struct pool *p)
{
	return p->in_recovery;
}

/* pool_server_version: "15.18 (Debian ...)", or NULL before a check. */
const char *
pool_server_version(const struct pool *p)
{
	return p->server_version;
}

/* pool_user: the role we log in as, or NULL before a check. */
const char *
pool_user(const struct pool *p)
{
	return p->user;
}

/* pool_last_error: the last connection error, or NULL. */
const char *
pool_last_error(const struct pool *p)
{
	return p->last_error;
}

/* pool_counts: connections in use, idle, and being opened. */
void
pool_counts(const struct pool *p, int *ret_busy, int *ret_idle,
    int *ret_connecting)
{
	int i;

	*ret_busy = *ret_idle = *ret_connecting = 0;
	for (i = 0; i < p->nconns; i++) {
		switch (pgconn_state(p->conns[i].c)) {
		case PGCONN_IDLE:
			(*ret_idle)++;
			break;
		case PGCONN_CONNECTING:
			(*ret_connecting)++;
			break;
		default:
			(*ret_busy)++;
			break;
		}
	}
}

/* pool_size: the configured maximum. */
int
pool_size(const struct pool *p)
{
	return p->size;
}

/* pool_stats: counters for the pool command and metrics. */
const struct pool_stats *
pool_stats(const struct pool *p)
{
	return &p->stats;
}

/* pool_json: the "pool" object of status: size, in use, idle. */
json_t *
pool_json(const struct pool *p)
{
	int busy, idle, connecting;

	pool_counts(p, &busy, &idle, &connecting);
	return json_pack("{s:i,s:i,s:i,s:i}", "size", p->size, "in_use", busy,
	    "idle", idle, "connecting", connecting);
}
