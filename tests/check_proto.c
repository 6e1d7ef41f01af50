/*
 * check_proto.c: the control protocol parser and replies, the shared
 * command table (argv -> args/opts), and the human output.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "cmdspec.h"
#include "output.h"
#include "proto.h"
#include "util.h"

static int
parse(const char *line, struct proto_request *req, char **err)
{
	*err = NULL;
	return proto_parse_request(line, strlen(line), req, err);
}

START_TEST(test_parse_full)
{
	struct proto_request req;
	char *err;

	ck_assert_int_eq(parse("{\"id\":7,\"cmd\":\"refresh\",\"args\":"
	    "[\"mv_track_popularity\"],\"opts\":{\"no-concurrently\":true},"
	    "\"db\":\"music\"}", &req, &err), 0);
	ck_assert_int_eq(json_integer_value(req.id), 7);
	ck_assert_str_eq(req.cmd, "refresh");
	ck_assert_uint_eq(json_array_size(req.args), 1);
	ck_assert_str_eq(json_string_value(json_array_get(req.args, 0)),
	    "mv_track_popularity");
	ck_assert(json_is_true(json_object_get(req.opts, "no-concurrently")));
	ck_assert_str_eq(req.db, "music");
	proto_request_clear(&req);
}
END_TEST

START_TEST(test_parse_minimal)
{
	struct proto_request req;
	char *err;

	ck_assert_int_eq(parse("{\"cmd\":\"ping\"}", &req, &err), 0);
	ck_assert(json_is_null(req.id));
	ck_assert_uint_eq(json_array_size(req.args), 0);
	ck_assert_uint_eq(json_object_size(req.opts), 0);
	ck_assert_ptr_null(req.db);
	proto_request_clear(&req);

	ck_assert_int_eq(parse("{\"id\":\"abc\",\"cmd\":\"ping\",\"db\":null}",
	    &req, &err), 0);
	ck_assert_str_eq(json_string_value(req.id), "abc");
	proto_request_clear(&req);
}
END_TEST

START_TEST(test_parse_bad)
{
	static const char *bad[] = {
		"", "not json", "[]", "42", "\"ping\"", "{}",
		"{\"cmd\":1}", "{\"cmd\":\"\"}",
		"{\"cmd\":\"ping\"} trailing",
		"{\"cmd\":\"ping\",\"cmd\":\"status\"}",
		"{\"cmd\":\"ping\",\"args\":\"x\"}",
		"{\"cmd\":\"ping\",\"args\":[1]}",
		"{\"cmd\":\"ping\",\"args\":[\"a\\u0000b\"]}",
		"{\"cmd\":\"ping\",\"opts\":[]}",
		"{\"cmd\":\"ping\",\"opts\":{\"a\":{}}}",
		"{\"cmd\":\"ping\",\"db\":\"x; DROP TABLE t\"}",
		"{\"cmd\":\"ping\",\"db\":5}",
		"{\"cmd\":\"ping\",\"id\":[1]}",
		"{\"cmd\":\"ping\",\"id\":1.5}",
		"{\"cmd\":\"ping\",\"extra\":1}",
		"{\"cmd\":\"a\\u0000b\"}",
		"{\"cmd\":\"\xff\xfe\"}",
	};
	struct proto_request req;
	size_t i;
	char *err;

	for (i = 0; i < nitems(bad); i++) {
		ck_assert_msg(parse(bad[i], &req, &err) == -1, "accepted %s",
		    bad[i]);
		ck_assert_ptr_nonnull(err);
		free(err);
		proto_request_clear(&req);
	}
}
END_TEST

START_TEST(test_parse_error_keeps_id)
{
	struct proto_request req;
	char *err;

	ck_assert_int_eq(parse("{\"id\":9,\"cmd\":3}", &req, &err), -1);
	ck_assert_int_eq(json_integer_value(req.id), 9);
	free(err);
	proto_request_clear(&req);
}
END_TEST

START_TEST(test_parse_limits)
{
	struct proto_request req;
	char *line, *err, *p;
	size_t i;

	/* 65 args: over the limit */
	line = xmalloc(4096);
	p = line + sprintf(line, "{\"cmd\":\"x\",\"args\":[");
	for (i = 0; i < 65; i++)
		p += sprintf(p, "%s\"a\"", i ? "," : "");
	strcpy(p, "]}");
	ck_assert_int_eq(parse(line, &req, &err), -1);
	free(err);
	proto_request_clear(&req);
	free(line);

	/* a line over 64 KiB */
	line = xmalloc(PROTO_MAX_LINE + 100);
	memset(line, ' ', PROTO_MAX_LINE + 50);
	memcpy(line, "{\"cmd\":\"ping\"}", 14);
	line[PROTO_MAX_LINE + 50] = '\0';
	ck_assert_int_eq(parse(line, &req, &err), -1);
	free(err);
	proto_request_clear(&req);
	free(line);
}
END_TEST

START_TEST(test_replies)
{
	json_t *id = json_integer(7), *o;
	char *line;

	line = proto_reply_ok(id, json_pack("{s:s}", "view",
	    "public.mv_track_popularity"));
	ck_assert_str_eq(line, "{\"id\":7,\"ok\":true,\"result\":{\"view\":"
	    "\"public.mv_track_popularity\"}}\n");
	free(line);

	line = proto_reply_error(id, PROTO_E_NOT_FOUND,
	    "materialized view \"x\" does not exist");
	o = json_loads(line, 0, NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_is_false(json_object_get(o, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o,
	    "error"), "code")), "not_found");
	ck_assert(line[strlen(line) - 1] == '\n');
	ck_assert(strchr(line, '\n') == line + strlen(line) - 1);
	json_decref(o);
	free(line);

	/* a message that is not UTF-8 still makes a valid line */
	line = proto_reply_error(id, PROTO_E_FAILED, "bad \xff byte");
	o = json_loads(line, 0, NULL);
	ck_assert_ptr_nonnull(o);
	json_decref(o);
	free(line);

	line = proto_reply_progress(id, "refreshing", NAN);
	ck_assert_str_eq(line, "{\"id\":7,\"event\":\"progress\",\"phase\":"
	    "\"refreshing\",\"pct\":null}\n");
	free(line);
	json_decref(id);
}
END_TEST

START_TEST(test_err_codes)
{
	ck_assert_int_eq(proto_err_exit(proto_err_parse("permission")), 4);
	ck_assert_int_eq(proto_err_exit(proto_err_parse("db_unreachable")), 3);
	ck_assert_int_eq(proto_err_exit(proto_err_parse("usage")), 2);
	ck_assert_int_eq(proto_err_exit(proto_err_parse("not_found")), 1);
	ck_assert_int_eq(proto_err_exit(proto_err_parse("failed")), 1);
	ck_assert_int_eq(proto_err_exit(proto_err_parse("nonsense")), 1);
	ck_assert_str_eq(proto_err_name(PROTO_E_WRONG_KIND), "wrong_kind");
}
END_TEST

START_TEST(test_cmdspec)
{
	const struct cmd_spec *spec;
	json_t *args, *opts;
	char *err = NULL;
	char *argv1[] = { "extra" };

	ck_assert_ptr_null(cmdspec_find("nope"));
	ck_assert_ptr_null(cmdspec_find(""));
	spec = cmdspec_find("ping");
	ck_assert_ptr_nonnull(spec);
	ck_assert(!(spec->flags & CMD_MUTATE));
	ck_assert(cmdspec_find("reload")->flags & CMD_MUTATE);

	ck_assert_int_eq(cmdspec_parse_argv(spec, 0, NULL, &args, &opts, &err),
	    0);
	json_decref(args);
	json_decref(opts);
	ck_assert_int_eq(cmdspec_parse_argv(spec, 1, argv1, &args, &opts,
	    &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "too many"));
	free(err);
}
END_TEST

/* a spec with options, as later commands have */
static const struct cmd_spec fake = { "vacuum", NULL,
    "TABLE [--analyze] [--full]", 1, 1, CMD_MUTATE, "analyze,full,limit=",
    "x" };

START_TEST(test_cmdspec_options)
{
	json_t *args, *opts;
	char *err = NULL;
	char *a1[] = { "tracks", "--analyze", "--limit", "5" };
	char *a2[] = { "--limit=7", "--", "--weird-table" };
	char *a3[] = { "tracks", "--bogus" };
	char *a4[] = { "tracks", "--analyze=yes" };
	char *a5[] = { "tracks", "--limit" };

	ck_assert_int_eq(cmdspec_parse_argv(&fake, 4, a1, &args, &opts, &err),
	    0);
	ck_assert_str_eq(json_string_value(json_array_get(args, 0)), "tracks");
	ck_assert(json_is_true(json_object_get(opts, "analyze")));
	ck_assert_str_eq(json_string_value(json_object_get(opts, "limit")), "5");
	json_decref(args);
	json_decref(opts);

	ck_assert_int_eq(cmdspec_parse_argv(&fake, 3, a2, &args, &opts, &err),
	    0);
	ck_assert_str_eq(json_string_value(json_array_get(args, 0)),
	    "--weird-table");
	json_decref(args);
	json_decref(opts);

	ck_assert_int_eq(cmdspec_parse_argv(&fake, 2, a3, &args, &opts, &err),
	    -1);
	free(err);
	ck_assert_int_eq(cmdspec_parse_argv(&fake, 2, a4, &args, &opts, &err),
	    -1);
	free(err);
	ck_assert_int_eq(cmdspec_parse_argv(&fake, 2, a5, &args, &opts, &err),
	    -1);
	free(err);

	/* the daemon's check of what any client sent */
	args = json_pack("[s]", "t");
	opts = json_pack("{s:s}", "analyze", "x");
	ck_assert_int_eq(cmdspec_check(&fake, args, opts, &err), -1);
	free(err);
	json_decref(opts);
	opts = json_pack("{s:b}", "limit", 1);
	ck_assert_int_eq(cmdspec_check(&fake, args, opts, &err), -1);
	free(err);
	json_decref(opts);
	json_decref(args);
}
END_TEST

static char *
render(const char *cmd, json_t *result, bool asjson)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	output_result(f, cmd, result, asjson);
	fclose(f);
	json_decref(result);
	return buf;
}

START_TEST(test_output)
{
	char *s;

	s = render("status", json_pack("{s:s,s:i,s:[{s:s,s:i},{s:s,s:i}],"
	    "s:{s:i}}", "version", "0.1.0", "pid", 42, "databases", "name",
	    "music", "jobs", 6, "name", "analytics-eu", "jobs", 12, "pool",
	    "size", 4), false);
	ck_assert_ptr_nonnull(strstr(s, "version    0.1.0\n"));
	ck_assert_ptr_nonnull(strstr(s, "pool.size  4\n"));
	ck_assert_ptr_nonnull(strstr(s, "\ndatabases:\n"));
	ck_assert_ptr_nonnull(strstr(s, "  name          jobs\n"));
	ck_assert_ptr_nonnull(strstr(s, "  analytics-eu  12\n"));
	free(s);

	/* control characters from outside never reach the terminal */
	s = render("status", json_pack("{s:s}", "x", "a\033[2Jb"), false);
	ck_assert_ptr_null(strchr(s, '\033'));
	free(s);

	s = render("ping", json_pack("{s:s,s:i}", "version", "0.1.0", "pid", 7),
	    false);
	ck_assert_str_eq(s, "pong from pgmigd 0.1.0 (pid 7)\n");
	free(s);

	s = render("ping", json_pack("{s:i}", "pid", 7), true);
	ck_assert_str_eq(s, "{\n  \"pid\": 7\n}\n");
	free(s);

	/* long SQL in a table: one line, cut, white space folded */
	{
		char longq[300];

		memset(longq, 'x', sizeof(longq) - 1);
		longq[sizeof(longq) - 1] = '\0';
		memcpy(longq, "SELECT\n\n  a", 11);
		s = render("x", json_pack("{s:[{s:s}]}", "queries", "query",
		    longq), false);
		ck_assert_ptr_nonnull(strstr(s, "SELECT a"));
		ck_assert_ptr_nonnull(strstr(s, "...\n"));
		ck_assert_uint_lt(strlen(s), 120);
		free(s);
	}

	s = render("x", json_pack("{s:[]}", "runs"), false);
	ck_assert_str_eq(s, "\nruns: (none)\n");
	free(s);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("proto");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_parse_full);
	tcase_add_test(tc, test_parse_minimal);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_parse_error_keeps_id);
	tcase_add_test(tc, test_parse_limits);
	tcase_add_test(tc, test_replies);
	tcase_add_test(tc, test_err_codes);
	tcase_add_test(tc, test_cmdspec);
	tcase_add_test(tc, test_cmdspec_options);
	tcase_add_test(tc, test_output);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
