/*
 * cmd.h: running a command inside pgmigd, for a control client or for
 * pgmigd --once.  Each command's exec returns CMD_RETURN_NORMAL (result
 * set), CMD_RETURN_ERROR (error set) or CMD_RETURN_WAIT (it continues
 * asynchronously and calls cmd_finish when done).
 */
#ifndef PGMIG_CMD_H
#define PGMIG_CMD_H

#include <sys/types.h>

#include <stdbool.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "cmdspec.h"
#include "proto.h"

struct pgmigd;
struct cmd_ctx;

enum cmd_retval {
	CMD_RETURN_NORMAL,
	CMD_RETURN_ERROR,
	CMD_RETURN_WAIT,
};

typedef void (*cmd_reply_fn)(struct cmd_ctx *);
typedef void (*cmd_progress_fn)(struct cmd_ctx *, const char *, double);

struct cmd_ctx {
	struct pgmigd *d;
	const struct cmd_spec *spec;
	struct proto_request req;
	bool privileged;
	uid_t uid;		/* peer, for the audit log */
	pid_t pid;
	json_t *result;		/* on success */
	enum proto_err err;	/* on error */
	char *errmsg;
	cmd_reply_fn reply;	/* delivers result or error; may be NULL */
	cmd_progress_fn progress;
	void *owner;		/* the client, or NULL once it has gone */
	bool waiting;		/* returned CMD_RETURN_WAIT */
	void *priv;		/* the command's own state */
	char sqlstate[6];	/* of cmd_query's last error, or "" */
};

typedef enum cmd_retval (*cmd_exec_fn)(struct cmd_ctx *);

struct cmd_ctx *cmd_ctx_new(struct pgmigd *);
void cmd_ctx_free(struct cmd_ctx *);
void cmd_run(struct cmd_ctx *);
void cmd_finish(struct cmd_ctx *, enum cmd_retval);
enum cmd_retval cmd_error(struct cmd_ctx *, enum proto_err, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void cmd_progress(struct cmd_ctx *, const char *, double);
struct db *cmd_db(struct cmd_ctx *);

struct run;
typedef json_t *(*cmd_run_result_fn)(struct cmd_ctx *, struct run *);
typedef void (*cmd_query_fn)(struct cmd_ctx *, PGresult *, const char *,
    void *);
void cmd_finish_run(struct cmd_ctx *, struct run *, json_t *);
enum cmd_retval cmd_wait_run(struct cmd_ctx *, struct run *, bool,
    cmd_run_result_fn);
enum cmd_retval cmd_maintenance(struct cmd_ctx *, int, const char *,
    bool, bool, bool, cmd_run_result_fn);
void cmd_query(struct cmd_ctx *, struct db *, const char *,
    const char *const *, int, cmd_query_fn, void *);
const char *cmd_opt(struct cmd_ctx *, const char *);

#define CMD(id, ...) enum cmd_retval cmd_##id##_exec(struct cmd_ctx *);
#include "cmd_list.h"
#undef CMD

#endif
