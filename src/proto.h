/*
 * proto.h: the control protocol, newline-delimited JSON (DESIGN.md).
 *
 *   -> {"id":7,"cmd":"refresh","args":["mv"],"opts":{},"db":"music"}
 *   <- {"id":7,"event":"progress","phase":"refreshing","pct":null}
 *   <- {"id":7,"ok":true,"result":{...}}
 *   <- {"id":8,"ok":false,"error":{"code":"not_found","message":"..."}}
 *
 * Parsing is pure (no I/O), so it is unit-tested and fuzzed directly.
 */
#ifndef PGMIG_PROTO_H
#define PGMIG_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define PROTO_MAX_LINE 65536	/* bytes, newline excluded */
#define PROTO_MAX_ARGS 64
#define PROTO_MAX_CMD 64

/* Error codes of DESIGN.md, and the pgmigctl exit code for each. */
enum proto_err {
	PROTO_E_USAGE,
	PROTO_E_NOT_FOUND,
	PROTO_E_WRONG_KIND,
	PROTO_E_PERMISSION,
	PROTO_E_BUSY,
	PROTO_E_DB_UNREACHABLE,
	PROTO_E_FAILED,
	PROTO_E_CANCELLED,
	PROTO_E_INTERNAL,
	PROTO_E__COUNT
};

/* Exit codes of DESIGN.md. */
#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3
#define EXIT_PERMISSION 4

struct proto_request {
	json_t *id;		/* any scalar the client chose, or null */
	char *cmd;
	json_t *args;		/* array of strings */
	json_t *opts;		/* object of scalars */
	char *db;		/* NULL: not given */
};

int proto_parse_request(const char *, size_t, struct proto_request *,
    char **);
void proto_request_clear(struct proto_request *);
json_t *proto_request_json(const struct proto_request *);

char *proto_reply_ok(json_t *, json_t *);
char *proto_reply_error(json_t *, enum proto_err, const char *);
char *proto_reply_progress(json_t *, const char *, double);

const char *proto_err_name(enum proto_err);
int proto_err_parse(const char *);
int proto_err_exit(int);

#endif
