/*
 * pool.h: one pool of pgconn per configured database: lazy connects up to
 * pool_size, a FIFO wait queue, idle reaping, reconnect backoff (capped,
 * jittered, exponential), a periodic health check, and statistics.
 */
#ifndef PGMIG_POOL_H
#define PGMIG_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "pgconn.h"

struct pgmigd;
struct conf_db;
struct pool;
struct pool_wait;

/* conn is NULL on failure, with a one-line reason in err. */
typedef void (*pool_acquire_cb)(struct pgconn *, const char *, void *);
/* called after every health check and reachability change */
typedef void (*pool_health_cb)(struct pool *, void *);

struct pool_stats {
	uint64_t created;
	uint64_t closed;
	uint64_t failed;	/* connection attempts that failed */
	uint64_t queries;
	time_t last_check;	/* wall clock of the last health check */
	bool last_check_ok;
};

struct pool *pool_new(struct pgmigd *, const struct conf_db *);
void pool_free(struct pool *);
void pool_shutdown(struct pool *);
void pool_note_recovery(struct pool *, bool);
void pool_configure(struct pool *, const struct conf_db *);
const char *pool_name(const struct pool *);

struct pool_wait *pool_acquire(struct pool *, bool, pool_acquire_cb, void *);
void pool_acquire_cancel(struct pool_wait *);
void pool_release(struct pool *, struct pgconn *);
void pool_discard(struct pool *, struct pgconn *);
int pool_query(struct pool *, struct pgconn *, const char *, int,
    const char *const *, pgconn_result_cb, void *);
int pool_exec(struct pool *, struct pgconn *, const char *,
    pgconn_result_cb, void *);
void pool_check_now(struct pool *);
void pool_set_health_cb(struct pool *, pool_health_cb, void *);

bool pool_reachable(const struct pool *);
bool pool_in_recovery(const struct pool *);
bool pool_checked(const struct pool *);
const char *pool_server_version(const struct pool *);
const char *pool_user(const struct pool *);
const char *pool_last_error(const struct pool *);
void pool_counts(const struct pool *, int *, int *, int *);
int pool_size(const struct pool *);
const struct pool_stats *pool_stats(const struct pool *);
json_t *pool_json(const struct pool *);

#endif
