/*
 * pgconn.c: a non-blocking libpq connection driven by libevent.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "pgconn.h"
#include "util.h"

struct pgconn {
	struct event_base *base;
	PGconn *pg;
	enum pgconn_state state;
	struct event *ev;	/* connecting: one-shot; later: persistent read */
	struct event *wev;	/* pending output */
	struct event *deadline;	/* connect timeout */
	PostgresPollingStatusType poll;
	pgconn_ready_cb ready;
	void *ready_arg;
	pgconn_result_cb cb;
	void *cb_arg;
	pgconn_lost_cb lost;
	void *lost_arg;
	void *owner;
	PGresult *kept;		/* the first error, else the last result */
	int64_t rows;
	int nok;		/* results that succeeded before any error */
	int64_t idle_since;
	char *error;
	int dispatching;	/* inside one of our callbacks */
	bool closed;		/* pgconn_close() while dispatching */
};

static void conn_io_cb(evutil_socket_t, short, void *);

static void
conn_free(struct pgconn *c)
{
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->deadline != NULL)
		event_free(c->deadline);
	PQclear(c->kept);
	if (c->pg != NULL)
		PQfinish(c->pg);	/* non-blocking: sends Terminate if it can */
	free(c->error);
	free(c);
}

/* leave: end of a dispatch; free a connection closed meanwhile. */
static void
leave(struct pgconn *c)
{
	if (--c->dispatching == 0 && c->closed)
		conn_free(c);
}

static void
set_error(struct pgconn *c, const char *msg)
{
	char *p;

	free(c->error);
	c->error = xstrdup(msg != NULL && msg[0] != '\0' ? msg :
	    "connection failed");
	/* libpq messages end with a newline and may span lines */
	for (p = c->error; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	while (p > c->error && p[-1] == ' ')
		*--p = '\0';
}

static void
notice_cb(void *arg, const PGresult *res)
{
	(void)arg;
	log_debug("server notice: %s",
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?: "?");
}

static void
connect_fail(struct pgconn *c, const char *msg)
{
	set_error(c, msg);
	c->state = PGCONN_BROKEN;
	if (c->deadline != NULL)
		event_del(c->deadline);
	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	c->ready(c, c->error, c->ready_arg);
}

static void
connect_step(struct pgconn *c)
{
	short what;

	switch (c->poll) {
	case PGRES_POLLING_READING:
		what = EV_READ;
		break;
	case PGRES_POLLING_WRITING:
		what = EV_WRITE;
		break;
	case PGRES_POLLING_OK:
		event_del(c->deadline);
		if (c->ev != NULL)
			event_free(c->ev);
		c->ev = NULL;
		if (PQsetnonblocking(c->pg, 1) == -1) {
			connect_fail(c, PQerrorMessage(c->pg));
			return;
		}
		(void)PQsetNoticeReceiver(c->pg, notice_cb, c);
		c->ev = event_new(c->base, PQsocket(c->pg), EV_READ | EV_PERSIST,
		    conn_io_cb, c);
		c->wev = event_new(c->base, PQsocket(c->pg), EV_WRITE |
		    EV_PERSIST, conn_io_cb, c);
		if (c->ev == NULL || c->wev == NULL)
			fatalx("event_new failed");
		event_add(c->ev, NULL);
		c->state = PGCONN_IDLE;
		c->idle_since = now_ms();
		c->ready(c, NULL, c->ready_arg);
		return;
	default:
		connect_fail(c, PQerrorMessage(c->pg));
		return;
	}
	/* a fresh one-shot event each step: the socket may have changed */
	if (c->ev != NULL)
		event_free(c->ev);
	c->ev = event_new(c->base, PQsocket(c->pg), what, conn_io_cb, c);
	if (c->ev == NULL)
		fatalx("event_new failed");
	event_add(c->ev, NULL);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgconn *c = arg;

	(void)fd;
	(void)what;
	c->dispatching++;
	if (c->state == PGCONN_CONNECTING)
		connect_fail(c, "connection timed out");
	leave(c);
}

/*
 * deliver: the query is done (or the connection died); hand the kept
 * result to the callback, which owns it.
 */
static void
deliver(struct pgconn *c, bool lost)
{
	pgconn_result_cb cb = c->cb;
	void *arg = c->cb_arg;
	PGresult *res = c->kept;

	c->kept = NULL;
	c->cb = NULL;
	c->cb_arg = NULL;
	if (c->wev != NULL)
		event_del(c->wev);
	if (lost) {
		set_error(c, PQerrorMessage(c->pg));
		c->state = PGCONN_BROKEN;
		PQclear(res);
		res = NULL;
	} else {
		c->state = PGCONN_HELD;
		c->idle_since = now_ms();
	}
	cb(c, res, arg);
}

static void
keep_result(struct pgconn *c, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_TUPLES_OK)
		c->rows += PQntuples(res);
	else if (st == PGRES_COMMAND_OK && PQcmdTuples(res)[0] != '\0')
		c->rows += strtoll(PQcmdTuples(res), NULL, 10);
	if (c->kept != NULL && !pgres_ok(c->kept)) {
		PQclear(res);	/* keep the first error */
		return;
	}
	if (pgres_ok(res))
		c->nok++;
	/* else the last result with rows (a report's SELECT between BEGIN,
	 * SET LOCAL and COMMIT), else the last result */
	if (c->kept != NULL && PQresultStatus(c->kept) == PGRES_TUPLES_OK &&
	    st != PGRES_TUPLES_OK && pgres_ok(res)) {
		PQclear(res);
		return;
	}
	PQclear(c->kept);
	c->kept = res;
}

static void
read_results(struct pgconn *c)
{
	PGresult *res;

	while (c->state == PGCONN_BUSY && !PQisBusy(c->pg)) {
		res = PQgetResult(c->pg);
		if (res == NULL) {
			deliver(c, false);
			return;
		}
		switch (PQresultStatus(res)) {
		case PGRES_COPY_IN:
			/* user SQL asked to be fed: refuse, and carry on */
			PQclear(res);
			if (PQputCopyEnd(c->pg, "pgmigd does not feed COPY FROM "
			    "STDIN") == -1) {
				deliver(c, true);
				return;
			}
			/* the CopyFail may not all be sent yet */
			if (PQflush(c->pg) == 1)
				event_add(c->wev, NULL);
			break;
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			PQclear(res);
			set_error(c, "COPY TO STDOUT is not supported");
			deliver(c, true);
			return;
		default:
			keep_result(c, res);
			break;
		}
	}
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgconn *c = arg;
	int r;

	(void)fd;
	c->dispatching++;
	if (c->state == PGCONN_CONNECTING) {
		c->poll = PQconnectPoll(c->pg);
		connect_step(c);
		leave(c);
		return;
	}
	if (c->state == PGCONN_BROKEN || c->closed) {
		leave(c);
		return;
	}
	if (what & EV_WRITE) {
		r = PQflush(c->pg);
		if (r == 0)
			event_del(c->wev);
		else if (r == -1 && c->state == PGCONN_BUSY) {
			deliver(c, true);
			leave(c);
			return;
		}
	}
	if (what & EV_READ) {
		if (PQconsumeInput(c->pg) == 0) {
			if (c->state == PGCONN_BUSY)
				deliver(c, true);
			else {
				set_error(c, PQerrorMessage(c->pg));
				c->state = PGCONN_BROKEN;
				event_del(c->ev);
				if (c->lost != NULL)
					c->lost(c, c->lost_arg);
			}
			leave(c);
			return;
		}
		/* output may have been blocked on our reading */
		if (c->state == PGCONN_BUSY && PQflush(c->pg) == 1)
			event_add(c->wev, NULL);
		read_results(c);
	}
	leave(c);
}

/*
 * pgconn_start: begin connecting with conninfo (a libpq connection string
 * or URI; its keys override our defaults).  ready is called once, from
 * the loop, with NULL on success or an error message.
 */
struct pgconn *
pgconn_start(struct event_base *base, const char *conninfo,
    int64_t timeout_ms, pgconn_ready_cb ready, void *arg)
{
	/* before "dbname": the expanded conninfo overrides these */
	static const char *const keys[] = { "keepalives", "keepalives_idle",
	    "keepalives_interval", "keepalives_count",
	    "fallback_application_name", "dbname", NULL };
	const char *vals[] = { "1", "30", "10", "3", "pgmigd", conninfo, NULL };
	struct pgconn *c = xcalloc(1, sizeof(*c));
	struct timeval tv = { (time_t)(timeout_ms / 1000),
	    (suseconds_t)(timeout_ms % 1000) * 1000 };

	c->base = base;
	c->ready = ready;
	c->ready_arg = arg;
	c->state = PGCONN_CONNECTING;
	c->deadline = evtimer_new(base, deadline_cb, c);
	if (c->deadline == NULL)
		fatalx("evtimer_new failed");
	c->pg = PQconnectStartParams(keys, vals, 1);
	if (c->pg == NULL)
		fatalx("PQconnectStartParams: out of memory");
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		/* report from the loop, never from inside this call */
		set_error(c, PQerrorMessage(c->pg));
		c->poll = PGRES_POLLING_FAILED;
		tv.tv_sec = 0;
		tv.tv_usec = 0;
		c->ev = evtimer_new(base, conn_io_cb, c);
		event_add(c->ev, &tv);
		return c;
	}
	event_add(c->deadline, &tv);
	c->poll = PGRES_POLLING_WRITING;
	connect_step(c);
	return c;
}

static int
begin_query(struct pgconn *c, pgconn_result_cb cb, void *arg)
{
	int r;

	if (c->state != PGCONN_IDLE && c->state != PGCONN_HELD)
		return -1;
	c->state = PGCONN_BUSY;
	c->cb = cb;
	c->cb_arg = arg;
	c->rows = 0;
	c->nok = 0;
	r = PQflush(c->pg);
	if (r == -1) {
		set_error(c, PQerrorMessage(c->pg));
		c->state = PGCONN_BROKEN;
		c->cb = NULL;
		return -1;
	}
	if (r == 1)
		event_add(c->wev, NULL);
	return 0;
}

/*
 * pgconn_query: send one statement with text parameters ($1...).  cb gets
 * the result (it must PQclear it), or NULL if the connection was lost.
 * Returns -1 (cb not called) if it could not be sent.
 */
int
pgconn_query(struct pgconn *c, const char *sql, int nparams,
    const char *const *params, pgconn_result_cb cb, void *arg)
{
	if (c->state != PGCONN_IDLE && c->state != PGCONN_HELD)
		return -1;
	if (!PQsendQueryParams(c->pg, sql, nparams, NULL, params, NULL, NULL,
	    0)) {
		set_error(c, PQerrorMessage(c->pg));
		c->state = PGCONN_BROKEN;
		return -1;
	}
	return begin_query(c, cb, arg);
}

/*
 * pgconn_exec: send SQL that may hold several statements (simple query
 * protocol, as psql sends a file's statements).  The result passed to cb
 * is the first error, else the last one that returned rows, else the
 * last statement's.
 */
int
pgconn_exec(struct pgconn *c, const char *sql, pgconn_result_cb cb,
    void *arg)
{
	if (c->state != PGCONN_IDLE && c->state != PGCONN_HELD)
		return -1;
	if (!PQsendQuery(c->pg, sql)) {
		set_error(c, PQerrorMessage(c->pg));
		c->state = PGCONN_BROKEN;
		return -1;
	}
	return begin_query(c, cb, arg);
}

/*
 * pgconn_results_ok: how many statements of the last query succeeded
 * before the first error (the failing one's index, counting from 0).
 */
int
pgconn_results_ok(const struct pgconn *c)
{
	return c->nok;
}

/* pgconn_close: close and free (later, if inside its own callback). */
void
pgconn_close(struct pgconn *c)
{
	if (c == NULL)
		return;
	c->cb = NULL;
	c->lost = NULL;
	c->ready = NULL;
	if (c->dispatching > 0) {
		c->closed = true;
		if (c->ev != NULL)
			event_del(c->ev);
		if (c->wev != NULL)
			event_del(c->wev);
		event_del(c->deadline);
		return;
	}
	conn_free(c);
}

/* pgconn_set_lost_cb: who to tell when an idle connection dies. */
void
pgconn_set_lost_cb(struct pgconn *c, pgconn_lost_cb cb, void *arg)
{
	c->lost = cb;
	c->lost_arg = arg;
}

/* pgconn_set_state: the pool moves a connection between idle and held. */
void
pgconn_set_state(struct pgconn *c, enum pgconn_state st)
{
	if (st == PGCONN_IDLE)
		c->idle_since = now_ms();
	c->state = st;
}

/* pgconn_state: see enum pgconn_state. */
enum pgconn_state
pgconn_state(const struct pgconn *c)
{
	return c->state;
}

/* pgconn_pg: the libpq handle (for escaping and status only). */
PGconn *
pgconn_pg(const struct pgconn *c)
{
	return c->pg;
}

/* pgconn_backend_pid: the server process serving us. */
int
pgconn_backend_pid(const struct pgconn *c)
{
	return c->pg != NULL ? PQbackendPID(c->pg) : 0;
}

/* pgconn_rows: rows returned or affected by the last query. */
int64_t
pgconn_rows(const struct pgconn *c)
{
	return c->rows;
}

/* pgconn_idle_since: monotonic ms when it last became idle. */
int64_t
pgconn_idle_since(const struct pgconn *c)
{
	return c->idle_since;
}

/* pgconn_error: the last connection-level error, one line. */
const char *
pgconn_error(const struct pgconn *c)
{
	return c->error != NULL ? c->error : "connection lost";
}

/* pgconn_owner: the pool's back pointer. */
void *
pgconn_owner(const struct pgconn *c)
{
	return c->owner;
}

/* pgconn_set_owner: see pgconn_owner. */
void
pgconn_set_owner(struct pgconn *c, void *owner)
{
	c->owner = owner;
}

/* pgres_ok: a result that is not an error. */
bool
pgres_ok(const PGresult *res)
{
	ExecStatusType st;

	if (res == NULL)
		return false;
	st = PQresultStatus(res);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
	    st == PGRES_EMPTY_QUERY;
}

/* pgres_sqlstate: the SQLSTATE of an error result, or NULL. */
const char *
pgres_sqlstate(const PGresult *res)
{
	return res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
}

/* pgres_message: the primary message of an error, one line (caller frees). */
char *
pgres_message(const PGresult *res)
{
	const char *m = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char *s, *p;

	if (m == NULL && res != NULL)
		m = PQresultErrorMessage(res);
	s = xstrdup(m != NULL && m[0] != '\0' ? m : "unknown error");
	for (p = s; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	return s;
}
