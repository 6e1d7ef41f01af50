/*
 * check_conf.c: configuration loading: every error is FILE:LINE: message,
 * values are never echoed, defaults fill in, and the normalized print
 * reads back to the same configuration.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "conf.h"
#include "util.h"

static char path[64];

static void
write_conf(const char *text)
{
	FILE *f;
	int fd;

	strcpy(path, "/tmp/pgmig-check-conf-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

static struct conf *
load(const char *text, struct conf_errors *errs)
{
	struct conf *c;

	write_conf(text);
	memset(errs, 0, sizeof(*errs));
	c = conf_load(path, errs);
	unlink(path);
	return c;
}

/* expect_error: loading text fails with an error at line mentioning want */
static void
expect_error(const char *text, int line, const char *want)
{
	struct conf_errors errs;
	struct conf *c = load(text, &errs);
	char prefix[128];
	size_t i;
	bool found = false;

	ck_assert_msg(c == NULL, "accepted: %s", text);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	for (i = 0; i < errs.n; i++)
		if (strncmp(errs.v[i], prefix, strlen(prefix)) == 0 &&
		    strstr(errs.v[i], want) != NULL)
			found = true;
	ck_assert_msg(found, "no \"%s\" at line %d; first error: %s", want,
	    line, errs.n > 0 ? errs.v[0] : "(none)");
	conf_errors_clear(&errs);
}

#define DB_HEAD "databases = ( { name = \"music\"; conninfo = \"dbname=music\";\n"

START_TEST(test_minimal_defaults)
{
	struct conf_errors errs;
	struct conf *c = load("databases = ( { name = \"music\"; "
	    "conninfo = \"dbname=music\"; } );\n", &errs);

	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->control_socket, "/run/pgmigd/control.sock");
	ck_assert_int_eq(c->control_mode, 0660);
	ck_assert_str_eq(c->control_group, "pgmig");
	ck_assert_int_eq(c->log_level, LOG_INFO);
	ck_assert_str_eq(c->timezone, "UTC");
	ck_assert_uint_eq(c->ndbs, 1);
	ck_assert_int_eq(c->dbs[0].pool_size, 4);
	ck_assert_str_eq(c->dbs[0].state_schema, "pgmig");
	ck_assert_str_eq(c->dbs[0].migrations_table, "public.schema_migrations");
	ck_assert_int_eq(c->dbs[0].lock_timeout_ms, 5000);
	ck_assert_int_eq(c->dbs[0].statement_timeout_ms, 0);
	conf_free(c);
}
END_TEST

START_TEST(test_full_example)
{
	struct conf_errors errs;
	struct conf *c = load(
	    "daemon: {\n"
	    "  control_socket = \"/tmp/x.sock\";\n"
	    "  control_mode = \"0600\";\n"
	    "  control_group = \"\";\n"
	    "  log_target = \"stderr\"; log_level = \"debug\";\n"
	    "  timezone = \"Europe/Berlin\";\n"
	    "  metrics_listen = \"\";\n"
	    "};\n"
	    DB_HEAD
	    "  pool_size = 8; lock_timeout = \"250ms\";\n"
	    "  statement_timeout = \"10min\";\n"
	    "  jobs = (\n"
	    "   { name = \"slow-queries\"; type = \"slow_queries\"; schedule = \"@daily\"; min_mean_ms = 100; },\n"
	    "   { name = \"connections\"; type = \"connection_check\"; schedule = \"@daily\"; max_usage = 0.8; },\n"
	    "   { name = \"refresh-views\"; type = \"refresh\"; schedule = \"@weekly\"; views = [\"mv_track_popularity\"]; },\n"
	    "   { name = \"index-usage\"; type = \"index_usage\"; schedule = \"@weekly\"; },\n"
	    "   { name = \"vacuum\"; type = \"vacuum\"; schedule = \"@monthly\"; analyze = true; lock_timeout = \"1s\"; },\n"
	    "   { name = \"custom\"; type = \"sql\"; schedule = \"*/15 * * * *\"; sql = \"SELECT 1\"; retries = 3; catch_up = \"once\"; jitter = \"30s\"; }\n"
	    "  ); } );\n", &errs);

	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "");
	ck_assert_int_eq(c->control_mode, 0600);
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	ck_assert_int_eq(c->log_target, LOG_TARGET_STDERR);
	ck_assert_uint_eq(c->dbs[0].njobs, 6);
	ck_assert_int_eq(c->dbs[0].jobs[0].type, JOB_SLOW_QUERIES);
	ck_assert(c->dbs[0].jobs[0].min_mean_ms == 100.0);
	ck_assert(c->dbs[0].jobs[1].max_usage == 0.8);
	ck_assert_uint_eq(c->dbs[0].jobs[2].views.n, 1);
	ck_assert_str_eq(c->dbs[0].jobs[2].views.v[0], "mv_track_popularity");
	ck_assert(c->dbs[0].jobs[2].concurrently);
	ck_assert(c->dbs[0].jobs[4].analyze);
	ck_assert_int_eq(c->dbs[0].jobs[4].lock_timeout_ms, 1000);
	ck_assert_int_eq(c->dbs[0].jobs[3].lock_timeout_ms, -1);
	ck_assert_int_eq(c->dbs[0].jobs[5].retries, 3);
	ck_assert_int_eq(c->dbs[0].jobs[5].catch_up, CATCH_UP_ONCE);
	ck_assert_int_eq(c->dbs[0].jobs[5].jitter_ms, 30000);
	ck_assert(c->dbs[0].jobs[5].cron.min & (1ULL << 45));
	ck_assert(!(c->dbs[0].jobs[5].cron.min & (1ULL << 44)));
	conf_free(c);
}
END_TEST

START_TEST(test_syntax_error_line)
{
	expect_error("daemon: {\n  log_level = \"info\";\n  timezone = = \"UTC\";\n};\n",
	    3, "syntax error");
	expect_error("daemon: {\n  log_level = \"info;\n};\n", 4, "syntax error");
}
END_TEST

START_TEST(test_unknown_keys)
{
	expect_error("daemon: {\n  log_levl = \"info\";\n};\n", 2,
	    "unknown key \"log_levl\"");
	expect_error("deamon: { };\n", 1, "unknown key \"deamon\"");
	expect_error(DB_HEAD "  poolsize = 3; } );\n", 2,
	    "unknown key \"poolsize\"");
	expect_error(DB_HEAD "  jobs = ( { name = \"j\"; type = \"sql\";\n"
	    "   schedule = \"@daily\"; sql = \"SELECT 1\"; shedule = \"x\"; } ); } );\n",
	    3, "unknown key \"shedule\"");
}
END_TEST

START_TEST(test_wrong_types)
{
	expect_error(DB_HEAD "  pool_size = \"4\"; } );\n", 2,
	    "pool_size: must be an integer");
	expect_error(DB_HEAD "  lock_timeout = 5; } );\n", 2,
	    "lock_timeout: must be a string");
	expect_error("daemon: { control_mode = 0660; };\n", 1,
	    "control_mode: must be a string");
	expect_error(DB_HEAD "  jobs = ( { name = \"j\"; type = \"refresh\";\n"
	    " schedule = \"@daily\"; views = \"mv\"; } ); } );\n", 3,
	    "views: must be a list");
	expect_error(DB_HEAD "  jobs = ( { name = \"j\"; type = \"vacuum\";\n"
	    " schedule = \"@daily\"; analyze = \"yes\"; } ); } );\n", 3,
	    "analyze: must be true or false");
	expect_error("databases = { name = \"x\"; };\n", 1,
	    "databases: must be a list");
}
END_TEST

START_TEST(test_ranges)
{
	/* libconfig would wrap these into an int: they must be refused */
	expect_error(DB_HEAD "  pool_size = 4294967300; } );\n", 2,
	    "integer out of range");
	expect_error(DB_HEAD "  pool_size = 4294967297L; } );\n", 2,
	    "pool_size: must be between 1 and 100");
	expect_error(DB_HEAD "  pool_size = 9223372036854775807; } );\n", 2,
	    "integer out of range");
	expect_error(DB_HEAD "  pool_size = 99999999999999999999L; } );\n", 2,
	    "integer out of range");
	expect_error(DB_HEAD "  pool_size = -4294967295; } );\n", 2,
	    "integer out of range");
	expect_error(DB_HEAD "  jobs = ( { name = \"j\"; type = \"sql\"; sql = \"SELECT 4294967300\";\n"
	    "  # 4294967300 in a comment is fine\n"
	    "  schedule = \"@daily\"; retries = 0x100000001; } ); } );\n", 4,
	    "integer out of range");
	expect_error(DB_HEAD "  pool_size = -1; } );\n", 2,
	    "pool_size: must be between 1 and 100");
	expect_error(DB_HEAD "  pool_size = 0; } );\n", 2,
	    "pool_size: must be between");
	expect_error(DB_HEAD "  lock_timeout = \"2d\"; } );\n", 2,
	    "lock_timeout: must be between 0 and 1d");
	expect_error(DB_HEAD "  lock_timeout = \"5 parsecs\"; } );\n", 2,
	    "lock_timeout: unknown duration unit");
	expect_error("daemon: { control_mode = \"0999\"; };\n", 1,
	    "control_mode: must be an octal file mode");
	expect_error("daemon: { log_level = \"loud\"; };\n", 1,
	    "log_level: must be one of");
	expect_error("daemon: { log_level = \"emerg\"; };\n", 1,
	    "log_level: must be one of: err, warning, notice, info, debug");
	expect_error("daemon: { timezone = \"Mars/Olympus\"; };\n", 1,
	    "timezone: is not a known time zone");
	expect_error("daemon: { timezone = \"../../etc/passwd\"; };\n", 1,
	    "timezone: must be a zone name");
	expect_error("daemon: { control_socket = \"relative.sock\"; };\n", 1,
	    "control_socket: must be an absolute path");
	expect_error(DB_HEAD "  jobs = ( { name = \"c\"; type = \"connection_check\";\n"
	    " schedule = \"@daily\"; max_usage = 1.5; } ); } );\n", 3,
	    "max_usage: must be between 0 and 1");
	expect_error(DB_HEAD "  state_schema = \"Bad Schema\"; } );\n", 2,
	    "state_schema: must be a lower-case SQL identifier");
	expect_error(DB_HEAD "  migrations_table = \"a.b.c\"; } );\n", 2,
	    "migrations_table: must be");
}
END_TEST

START_TEST(test_required_and_duplicates)
{
	expect_error("databases = ( { name = \"music\"; } );\n", 1,
	    "missing required key \"conninfo\"");
	expect_error("databases = (\n { conninfo = \"dbname=x\"; } );\n", 2,
	    "missing required key \"name\"");
	expect_error(DB_HEAD " },\n { name = \"music\"; conninfo = \"dbname=y\"; } );\n",
	    3, "duplicate database name \"music\" (first at line 1)");
	expect_error(DB_HEAD "  jobs = (\n"
	    "   { name = \"a\"; type = \"sql\"; schedule = \"@daily\"; sql = \"SELECT 1\"; },\n"
	    "   { name = \"a\"; type = \"sql\"; schedule = \"@daily\"; sql = \"SELECT 2\"; }\n"
	    "  ); } );\n", 4, "duplicate job name \"a\" (first at line 3)");
	expect_error(DB_HEAD "  jobs = ( { name = \"r\"; type = \"refresh\";\n"
	    " schedule = \"@daily\"; } ); } );\n", 2,
	    "missing required key \"views\" for type refresh");
	expect_error(DB_HEAD "  jobs = ( { name = \"s\"; type = \"sql\";\n"
	    " schedule = \"@daily\"; } ); } );\n", 2,
	    "missing required key \"sql\" for type sql");
	expect_error(DB_HEAD "  jobs = ( { name = \"s\"; type = \"sql\";\n"
	    " sql = \"SELECT 1\"; } ); } );\n", 2,
	    "missing required key \"schedule\"");
	expect_error(DB_HEAD "  jobs = ( { name = \"s\"; type = \"teleport\";\n"
	    " schedule = \"@daily\"; } ); } );\n", 2, "type: must be one of");
	expect_error(DB_HEAD "  jobs = ( { name = \"v\"; type = \"vacuum\";\n"
	    " schedule = \"@daily\"; views = [\"x\"]; } ); } );\n", 3,
	    "views: does not apply to jobs of type vacuum");
	expect_error("databases = ( { name = \"bad name\"; conninfo = \"x=1\"; } );\n",
	    1, "name: must be");
}
END_TEST

START_TEST(test_bad_schedules)
{
	static const char *bad[] = { "*/0 * * * *", "60 * * * *",
	    "* * * *", "@reboot", "@fortnightly", "* * * 13 *",
	    "1 2 3 4 5 6 7", "0 0 30 2 *" };
	char text[512];
	size_t i;

	for (i = 0; i < nitems(bad); i++) {
		snprintf(text, sizeof(text), DB_HEAD
		    "  jobs = ( { name = \"j\"; type = \"index_usage\";\n"
		    "   schedule = \"%s\"; } ); } );\n", bad[i]);
		expect_error(text, 3, "schedule: is ");
	}
}
END_TEST

START_TEST(test_values_never_echoed)
{
	struct conf_errors errs;
	struct conf *c;
	size_t i;

	c = load("databases = ( { name = \"music\";\n"
	    "  conninfo = \"host=x password=hunter2 bogus_option=1\"; } );\n",
	    &errs);
	ck_assert_ptr_null(c);
	ck_assert_uint_ge(errs.n, 1);
	for (i = 0; i < errs.n; i++) {
		ck_assert_ptr_null(strstr(errs.v[i], "hunter2"));
		ck_assert_ptr_nonnull(strstr(errs.v[i], ":2: "));
	}
	conf_errors_clear(&errs);

	c = load("databases = ( { name = \"music\";\n"
	    "  conninfo = \"host=x password=hunter2\"; pool_size = \"hunter3\"; } );\n",
	    &errs);
	ck_assert_ptr_null(c);
	for (i = 0; i < errs.n; i++)
		ck_assert_ptr_null(strstr(errs.v[i], "hunter3"));
	conf_errors_clear(&errs);
}
END_TEST

START_TEST(test_include_refused)
{
	/* libconfig 1.5 exits the process on an @include of a directory */
	expect_error("daemon: { };\n  @include \".\"\n", 2,
	    "@include is not supported");
}
END_TEST

START_TEST(test_many_errors_reported)
{
	struct conf_errors errs;
	struct conf *c = load("daemon: { a = 1; b = 2; c = 3; };\n"
	    "databases = ( { name = \"x\"; } );\n", &errs);

	ck_assert_ptr_null(c);
	ck_assert_uint_eq(errs.n, 4);
	conf_errors_clear(&errs);
}
END_TEST

START_TEST(test_missing_file)
{
	struct conf_errors errs = { NULL, 0 };

	ck_assert_ptr_null(conf_load("/nonexistent/pgmigd.conf", &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.v[0], "/nonexistent/pgmigd.conf:0: "));
	conf_errors_clear(&errs);
	ck_assert_ptr_null(conf_load("/tmp", &errs));
	ck_assert_ptr_nonnull(strstr(errs.v[0], "not a regular file"));
	conf_errors_clear(&errs);
}
END_TEST

static char *
print_to_string(const struct conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	conf_print(f, c);
	fclose(f);
	/* drop the first line: it names the file */
	memmove(buf, strchr(buf, '\n') + 1, strlen(strchr(buf, '\n') + 1) + 1);
	return buf;
}

START_TEST(test_print_round_trip)
{
	struct conf_errors errs;
	struct conf *c, *c2;
	char *p1, *p2;

	c = load(DB_HEAD "  pool_size = 8; lock_timeout = \"90s\";\n"
	    "  jobs = (\n"
	    "   { name = \"v\"; type = \"vacuum\"; schedule = \"0 3 * * sun\"; tables = [\"tracks\", \"albums\"]; full = true; },\n"
	    "   { name = \"q\"; type = \"sql\"; schedule = \"@hourly\"; sql = \"SELECT \\\"x\\\"\\n\"; },\n"
	    "   { name = \"c\"; type = \"connection_check\"; schedule = \"@daily\"; max_usage = 0.8; }\n"
	    "  ); } );\n", &errs);
	ck_assert_ptr_nonnull(c);
	p1 = print_to_string(c);
	ck_assert_ptr_nonnull(strstr(p1, "lock_timeout = \"90s\";"));
	ck_assert_ptr_nonnull(strstr(p1, "tables = [\"tracks\", \"albums\"];"));
	ck_assert_ptr_nonnull(strstr(p1, "max_usage = 0.8;"));
	write_conf(p1);
	c2 = conf_load(path, &errs);
	unlink(path);
	ck_assert_msg(c2 != NULL, "%s", errs.n ? errs.v[0] : "");
	p2 = print_to_string(c2);
	ck_assert_str_eq(p1, p2);
	free(p1);
	free(p2);
	conf_free(c);
	conf_free(c2);
}
END_TEST

START_TEST(test_password_masked_in_print)
{
	struct conf_errors errs;
	struct conf *c = load("databases = ( { name = \"m\";\n"
	    " conninfo = \"host=db password=hunter2 user=pgmig\"; } );\n", &errs);
	char *p;

	ck_assert_ptr_nonnull(c);
	p = print_to_string(c);
	ck_assert_ptr_null(strstr(p, "hunter2"));
	ck_assert_ptr_nonnull(strstr(p, "password='********'"));
	ck_assert_ptr_nonnull(strstr(p, "user='pgmig'"));
	free(p);
	conf_free(c);
}
END_TEST

START_TEST(test_keep_fixed)
{
	struct conf_errors errs;
	struct conf *old = load("daemon: { control_socket = \"/tmp/a.sock\"; "
	    "log_level = \"info\"; };\n", &errs);
	struct conf *new = load("daemon: { control_socket = \"/tmp/b.sock\"; "
	    "log_level = \"debug\"; };\n", &errs);

	ck_assert_ptr_nonnull(old);
	ck_assert_ptr_nonnull(new);
	conf_keep_fixed(old, new);
	ck_assert_str_eq(new->control_socket, "/tmp/a.sock");
	ck_assert_int_eq(new->log_level, LOG_DEBUG);
	conf_free(old);
	conf_free(new);
	conf_free(NULL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");
	SRunner *sr;
	int failed;

	log_init(LOG_TARGET_STDERR, LOG_ERR, "check_conf");
	tcase_add_test(tc, test_minimal_defaults);
	tcase_add_test(tc, test_full_example);
	tcase_add_test(tc, test_syntax_error_line);
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_ranges);
	tcase_add_test(tc, test_required_and_duplicates);
	tcase_add_test(tc, test_bad_schedules);
	tcase_add_test(tc, test_values_never_echoed);
	tcase_add_test(tc, test_many_errors_reported);
	tcase_add_test(tc, test_include_refused);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_print_round_trip);
	tcase_add_test(tc, test_password_masked_in_print);
	tcase_add_test(tc, test_keep_fixed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
