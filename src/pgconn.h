/*
 * pgconn.h: one non-blocking libpq connection on the event loop.
 *
 * Connect with PQconnectStartParams/PQconnectPoll (a fresh one-shot event
 * at each step: the socket may change), then one query at a time with
 * PQsendQueryParams (or PQsendQuery for user SQL that may hold several
 * statements), PQflush until done, PQconsumeInput/PQisBusy/PQgetResult
 * on readable.  Nothing here ever blocks.
 *
 * A connection is freed only outside its own callbacks: pgconn_close()
 * from a callback marks it and the dispatcher frees it on return.
 */
#ifndef PGMIG_PGCONN_H
#define PGMIG_PGCONN_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

struct event_base;
struct pgconn;

/* The connection's state; the comment names who holds it in that state. */
enum pgconn_state {
	PGCONN_CONNECTING,	/* pool: connecting list */
	PGCONN_IDLE,		/* pool: idle list */
	PGCONN_BUSY,		/* a query runs; pool: busy list */
	PGCONN_HELD,		/* leased out, no query; pool: busy list */
	PGCONN_BROKEN,		/* failed; its owner closes it */
};

typedef void (*pgconn_ready_cb)(struct pgconn *, const char *, void *);
typedef void (*pgconn_result_cb)(struct pgconn *, PGresult *, void *);
typedef void (*pgconn_lost_cb)(struct pgconn *, void *);

struct pgconn *pgconn_start(struct event_base *, const char *, int64_t,
    pgconn_ready_cb, void *);
int pgconn_query(struct pgconn *, const char *, int, const char *const *,
    pgconn_result_cb, void *);
int pgconn_exec(struct pgconn *, const char *, pgconn_result_cb, void *);
void pgconn_close(struct pgconn *);
void pgconn_set_lost_cb(struct pgconn *, pgconn_lost_cb, void *);
void pgconn_set_state(struct pgconn *, enum pgconn_state);

enum pgconn_state pgconn_state(const struct pgconn *);
PGconn *pgconn_pg(const struct pgconn *);
int pgconn_backend_pid(const struct pgconn *);
int64_t pgconn_rows(const struct pgconn *);
int pgconn_results_ok(const struct pgconn *);
int64_t pgconn_idle_since(const struct pgconn *);
const char *pgconn_error(const struct pgconn *);
void *pgconn_owner(const struct pgconn *);
void pgconn_set_owner(struct pgconn *, void *);

bool pgres_ok(const PGresult *);
const char *pgres_sqlstate(const PGresult *);
char *pgres_message(const PGresult *);

#endif
