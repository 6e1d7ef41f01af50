/*
 * check_util.c: durations, names, time formatting.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "util.h"

START_TEST(test_duration_ok)
{
	static const struct {
		const char *in;
		int64_t ms;
	} cases[] = {
		{ "0", 0 }, { "250ms", 250 }, { "5s", 5000 },
		{ "10min", 600000 }, { "2h", 7200000 }, { "7d", 604800000 },
		{ " 5 s ", 5000 }, { "0s", 0 }, { "1000ms", 1000 },
	};
	size_t i;

	for (i = 0; i < nitems(cases); i++) {
		int64_t ms = -1;
		const char *err = NULL;

		ck_assert_msg(duration_parse(cases[i].in, &ms, &err) == 0,
		    "%s: %s", cases[i].in, err);
		ck_assert_int_eq(ms, cases[i].ms);
	}
}
END_TEST

START_TEST(test_duration_bad)
{
	static const char *bad[] = { "", "5", "s", "-5s", "5m", "5 sec",
	    "5sx", "1.5s", "99999999999999999999s", "9223372036854775807d",
	    "5s5", "ms" };
	size_t i;

	for (i = 0; i < nitems(bad); i++) {
		int64_t ms = 42;
		const char *err = NULL;

		ck_assert_msg(duration_parse(bad[i], &ms, &err) == -1,
		    "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(err);
		ck_assert_int_eq(ms, 42);	/* untouched on error */
	}
}
END_TEST

START_TEST(test_duration_format)
{
	char buf[32];

	duration_format(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0");
	duration_format(90000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "90s");
	duration_format(300000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "5min");
	duration_format(86400000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1d");
	duration_format(1500, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1500ms");
}
END_TEST

START_TEST(test_ident)
{
	ck_assert(ident_valid("music", 63));
	ck_assert(ident_valid("music-eu_1.x", 63));
	ck_assert(!ident_valid("", 63));
	ck_assert(!ident_valid("-x", 63));
	ck_assert(!ident_valid("a b", 63));
	ck_assert(!ident_valid("x;DROP", 63));
	ck_assert(!ident_valid("abcd", 3));
	ck_assert(ident_valid("abc", 3));
}
END_TEST

START_TEST(test_sql_name)
{
	static const char *good[] = { "tracks", "public.tracks", "_x$1",
	    "\"Weird Name\"", "\"a\"\"b\"", "db.s.t", "s.\"T\"", "Tracks",
	    "caf\xc3\xa9" };
	static const char *bad[] = { "", "x; DROP TABLE t", "tracks;",
	    "a.b.c.d", "1abc", "$x", "\"unterminated", "a..b", ".a", "a.",
	    "a b", "t--", "t/*", "\"a\"b", "a-b" };
	size_t i;

	for (i = 0; i < nitems(good); i++)
		ck_assert_msg(sql_name_valid(good[i]), "refused %s", good[i]);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_msg(!sql_name_valid(bad[i]), "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_rfc3339)
{
	char buf[32];

	time_rfc3339(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	time_rfc3339(1750232408, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2025-06-18T07:40:08Z");
}
END_TEST

START_TEST(test_strlcpy)
{
	char buf[4];

	ck_assert_uint_eq(strlcpy_(buf, "abcdef", sizeof(buf)), 6);
	ck_assert_str_eq(buf, "abc");
	ck_assert_uint_eq(strlcpy_(buf, "ab", sizeof(buf)), 2);
	ck_assert_str_eq(buf, "ab");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_duration_ok);
	tcase_add_test(tc, test_duration_bad);
	tcase_add_test(tc, test_duration_format);
	tcase_add_test(tc, test_ident);
	tcase_add_test(tc, test_rfc3339);
	tcase_add_test(tc, test_sql_name);
	tcase_add_test(tc, test_strlcpy);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
