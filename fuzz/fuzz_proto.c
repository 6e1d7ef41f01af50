/*
 * fuzz_proto.c: libFuzzer harness for the control protocol parser.
 *
 * Feeds each input to proto_parse_request as one request line.  When it
 * parses, the request is turned back into JSON (proto_request_json) and
 * into ok, error and progress replies; every reply must be one valid
 * JSON line addressed to the request's id, and the request, dumped and
 * parsed again, must give the same request.  When it does not parse, the
 * error reply for whatever id was read is built too.  Everything is
 * freed: LeakSanitizer checks that after each input.
 *
 * Build (tests/integration/t_fuzz.py does this):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -I. \
 *     fuzz/fuzz_proto.c src/proto.c src/util.c -ljansson -lm
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_proto: check failed at %s:%d: %s\n", \
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* check_reply: line is one JSON object + "\n", addressed to id. */
static void
check_reply(const char *line, json_t *id)
{
	size_t len = strlen(line);
	json_error_t jerr;
	json_t *o, *rid;

	CHECK(len >= 2 && line[len - 1] == '\n');
	CHECK(memchr(line, '\n', len - 1) == NULL);
	o = json_loadb(line, len - 1, 0, &jerr);
	CHECK(o != NULL);
	CHECK(json_is_object(o));
	rid = json_object_get(o, "id");
	CHECK(rid != NULL);
	CHECK(json_equal(rid, id != NULL ? id : json_null()) ||
	    (id == NULL && json_is_null(rid)));
	json_decref(o);
}

static bool
request_equal(const struct proto_request *a, const struct proto_request *b)
{
	return json_equal(a->id, b->id) && strcmp(a->cmd, b->cmd) == 0 &&
	    json_equal(a->args, b->args) && json_equal(a->opts, b->opts) &&
	    ((a->db == NULL && b->db == NULL) ||
	    (a->db != NULL && b->db != NULL && strcmp(a->db, b->db) == 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_request req, again;
	char *err = NULL, *line, *dumped, *msg;
	json_t *j;
	int r;

	r = proto_parse_request((const char *)data, size, &req, &err);
	if (r == -1) {
		CHECK(err != NULL);
		line = proto_reply_error(req.id, PROTO_E_USAGE, err);
		check_reply(line, req.id);
		free(line);
		free(err);
		proto_request_clear(&req);
		return 0;
	}
	CHECK(r == 0);
	CHECK(req.cmd != NULL && req.args != NULL && req.opts != NULL);
	CHECK(json_is_array(req.args) && json_is_object(req.opts));

	/* the request as JSON, dumped and parsed again, is the same */
	j = proto_request_json(&req);
	CHECK(j != NULL);
	dumped = json_dumps(j, JSON_COMPACT);
	CHECK(dumped != NULL);
	json_decref(j);
	CHECK(proto_parse_request(dumped, strlen(dumped), &again, &err) == 0);
	CHECK(request_equal(&req, &again));
	proto_request_clear(&again);
	free(dumped);

	/* an ok reply carrying the request (proto_reply_ok steals it) */
	line = proto_reply_ok(req.id, proto_request_json(&req));
	check_reply(line, req.id);
	free(line);
	line = proto_reply_ok(req.id, NULL);
	check_reply(line, req.id);
	free(line);

	/* error replies: a command name, and raw bytes that may not be
	 * UTF-8 (the reply must stay valid) */
	line = proto_reply_error(req.id,
	    (enum proto_err)(size % (PROTO_E__COUNT + 1)), req.cmd);
	check_reply(line, req.id);
	free(line);
	msg = malloc(size + 1);
	CHECK(msg != NULL);
	memcpy(msg, data, size);
	msg[size] = '\0';
	line = proto_reply_error(req.id, PROTO_E_FAILED, msg);
	check_reply(line, req.id);
	free(line);
	free(msg);

	line = proto_reply_progress(req.id, req.cmd,
	    size % 3 == 0 ? -1.0 : (double)(size % 101));
	check_reply(line, req.id);
	free(line);

	(void)proto_err_exit(proto_err_parse(req.cmd));
	(void)proto_err_name((enum proto_err)proto_err_parse(req.cmd));

	proto_request_clear(&req);
	return 0;
}
