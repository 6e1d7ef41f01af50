/*
 * proto.c: parse requests and build replies of the control protocol.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "util.h"

static const struct {
	const char *name;
	int exit_code;
} proto_errs[PROTO_E__COUNT] = {
	[PROTO_E_USAGE] = { "usage", EXIT_USAGE },
	[PROTO_E_NOT_FOUND] = { "not_found", EXIT_FAILED },
	[PROTO_E_WRONG_KIND] = { "wrong_kind", EXIT_FAILED },
	[PROTO_E_PERMISSION] = { "permission", EXIT_PERMISSION },
	[PROTO_E_BUSY] = { "busy", EXIT_FAILED },
	[PROTO_E_DB_UNREACHABLE] = { "db_unreachable", EXIT_UNREACHABLE },
	[PROTO_E_FAILED] = { "failed", EXIT_FAILED },
	[PROTO_E_CANCELLED] = { "cancelled", EXIT_FAILED },
	[PROTO_E_INTERNAL] = { "internal", EXIT_FAILED },
};

/* proto_err_name: "not_found" for PROTO_E_NOT_FOUND. */
const char *
proto_err_name(enum proto_err e)
{
	if ((int)e < 0 || e >= PROTO_E__COUNT)
		return "internal";
	return proto_errs[e].name;
}

/* proto_err_parse: PROTO_E_NOT_FOUND for "not_found"; -1 if unknown. */
int
proto_err_parse(const char *s)
{
	int i;

	for (i = 0; i < PROTO_E__COUNT; i++)
		if (strcmp(proto_errs[i].name, s) == 0)
			return i;
	return -1;
}

/* proto_err_exit: the pgmigctl exit code for an error code (-1: failed). */
int
proto_err_exit(int e)
{
	if (e < 0 || e >= PROTO_E__COUNT)
		return EXIT_FAILED;
	return proto_errs[e].exit_code;
}

/* proto_request_clear: free what a parsed request holds. */
void
proto_request_clear(struct proto_request *req)
{
	json_decref(req->id);
	json_decref(req->args);
	json_decref(req->opts);
	free(req->cmd);
	free(req->db);
	memset(req, 0, sizeof(*req));
}

static int
parse_fail(char **ret_err, const char *msg)
{
	*ret_err = xstrdup(msg);
	return -1;
}

/*
 * proto_parse_request: parse one request line (without its newline).
 * On success fills *ret and returns 0; on error returns -1 with a
 * message in *ret_err (caller frees) and the id, if one was readable,
 * still in ret->id so the error can be addressed to it.
 */
int
proto_parse_request(const char *line, size_t len, struct proto_request *ret,
    char **ret_err)
{
	json_t *root, *v;
	json_error_t jerr;
	const char *key;
	size_t i;

	memset(ret, 0, sizeof(*ret));
	if (len > PROTO_MAX_LINE)
		return parse_fail(ret_err, "request line too long");
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		char *msg;

		xasprintf(&msg, "invalid JSON at column %d: %s", jerr.column,
		    jerr.text);
		*ret_err = msg;
		return -1;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return parse_fail(ret_err, "a request is a JSON object");
	}

	v = json_object_get(root, "id");
	if (v != NULL && !json_is_integer(v) && !json_is_string(v) &&
	    !json_is_null(v)) {
		json_decref(root);
		return parse_fail(ret_err, "\"id\" must be an integer or a string");
	}
	if (v != NULL && json_is_string(v) && json_string_length(v) > 128) {
		json_decref(root);
		return parse_fail(ret_err, "\"id\" is too long");
	}
	ret->id = v != NULL ? json_incref(v) : json_null();

	json_object_foreach(root, key, v) {
		if (strcmp(key, "id") != 0 && strcmp(key, "cmd") != 0 &&
		    strcmp(key, "args") != 0 && strcmp(key, "opts") != 0 &&
		    strcmp(key, "db") != 0) {
			json_decref(root);
			return parse_fail(ret_err, "unknown request member");
		}
	}

	v = json_object_get(root, "cmd");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > PROTO_MAX_CMD ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		json_decref(root);
		return parse_fail(ret_err, "\"cmd\" must be a command name");
	}
	ret->cmd = xstrdup(json_string_value(v));

	v = json_object_get(root, "args");
	if (v == NULL || json_is_null(v))
		ret->args = json_array();
	else if (!json_is_array(v) || json_array_size(v) > PROTO_MAX_ARGS) {
		json_decref(root);
		return parse_fail(ret_err, "\"args\" must be an array of at "
		    "most 64 strings");
	} else {
		for (i = 0; i < json_array_size(v); i++) {
			json_t *a = json_array_get(v, i);

			if (!json_is_string(a) ||
			    strlen(json_string_value(a)) != json_string_length(a)) {
				json_decref(root);
				return parse_fail(ret_err,
				    "\"args\" must be an array of strings");
			}
		}
		ret->args = json_incref(v);
	}

	v = json_object_get(root, "opts");
	if (v == NULL || json_is_null(v))
		ret->opts = json_object();
	else if (!json_is_object(v)) {
		json_decref(root);
		return parse_fail(ret_err, "\"opts\" must be an object");
	} else {
		json_t *o;

		json_object_foreach(v, key, o) {
			if (json_is_object(o) || json_is_array(o) ||
			    (json_is_string(o) && strlen(json_string_value(o)) !=
			    json_string_length(o))) {
				json_decref(root);
				return parse_fail(ret_err,
				    "\"opts\" values must be scalars");
			}
		}
		ret->opts = json_incref(v);
	}

	v = json_object_get(root, "db");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 63 ||
		    !ident_valid(json_string_value(v), 63)) {
			json_decref(root);
			return parse_fail(ret_err, "\"db\" must be a database name");
		}
		ret->db = xstrdup(json_string_value(v));
	}
	json_decref(root);
	return 0;
}

/* proto_request_json: the request as a JSON object (for the client). */
json_t *
proto_request_json(const struct proto_request *req)
{
	json_t *o = json_object();

	json_object_set(o, "id", req->id != NULL ? req->id : json_null());
	json_object_set_new(o, "cmd", json_string(req->cmd));
	json_object_set(o, "args", req->args != NULL ? req->args :
	    json_array());
	json_object_set(o, "opts", req->opts != NULL ? req->opts :
	    json_object());
	if (req->db != NULL)
		json_object_set_new(o, "db", json_string(req->db));
	return o;
}

static char *
dump_line(json_t *o)
{
	char *s, *line;

	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (s == NULL)
		abort();
	xasprintf(&line, "%s\n", s);
	free(s);
	return line;
}

/* proto_reply_ok: the reply line for a result (steals result). */
char *
proto_reply_ok(json_t *id, json_t *result)
{
	json_t *o = json_object();

	json_object_set(o, "id", id != NULL ? id : json_null());
	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "result", result != NULL ? result :
	    json_object());
	return dump_line(o);
}

/* proto_reply_error: the reply line for an error. */
char *
proto_reply_error(json_t *id, enum proto_err code, const char *message)
{
	json_t *o = json_object(), *e = json_object();
	json_t *m = json_string(message);

	/* messages may carry server text: keep the line valid UTF-8 */
	if (m == NULL)
		m = json_string("(message is not valid UTF-8)");
	json_object_set(o, "id", id != NULL ? id : json_null());
	json_object_set_new(o, "ok", json_false());
	json_object_set_new(e, "code", json_string(proto_err_name(code)));
	json_object_set_new(e, "message", m);
	json_object_set_new(o, "error", e);
	return dump_line(o);
}

/* proto_reply_progress: a progress event; pct < 0 or NaN is null. */
char *
proto_reply_progress(json_t *id, const char *phase, double pct)
{
	json_t *o = json_object();

	json_object_set(o, "id", id != NULL ? id : json_null());
	json_object_set_new(o, "event", json_string("progress"));
	json_object_set_new(o, "phase", json_string(phase));
	json_object_set_new(o, "pct", isnan(pct) || pct < 0 ? json_null() :
	    json_real(pct));
	return dump_line(o);
}
