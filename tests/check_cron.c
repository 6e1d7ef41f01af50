/*
 * check_cron.c: unit tests for src/cron.c (Check framework).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* timegm, setenv, clock_gettime */
#endif

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"

#define ALL_SEC		((uint64_t)0x0fffffffffffffffULL)	/* 0-59 */
#define ALL_HOUR	((uint32_t)0x00ffffffU)			/* 0-23 */
#define ALL_MDAY	((uint32_t)0xfffffffeU)			/* 1-31 */
#define ALL_MON		((uint16_t)0x1ffeU)			/* 1-12 */
#define ALL_WDAY	((uint8_t)0x7fU)			/* 0-6 */
#define BOTH_STAR	(CRON_F_DOM_STAR | CRON_F_DOW_STAR)
#define DAY		86400L

/*
 * Check records a mark point (a write to its message file) in every
 * ck_assert; hot loops use this instead, which costs nothing on success.
 */
#define REQUIRE(cond, ...) do {						\
	if (!(cond))							\
		ck_abort_msg(__VA_ARGS__);				\
} while (0)

/* Helpers. */

static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* A UTC instant. */
static time_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm	tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (timegm(&tm));
}

/* An unambiguous local time in the current zone. */
static time_t
loc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm	tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	return (mktime(&tm));
}

/* Local wall time of t, as seconds since 1970-01-01 00:00 (no zone). */
static int64_t
wall(time_t t)
{
	struct tm	tm;

	REQUIRE(localtime_r(&t, &tm) != NULL, "localtime_r failed");
	return ((int64_t)timegm(&tm));
}

static const char *
fmt(time_t t, char *buf, size_t len)
{
	struct tm	tm;
	char		tmp[64];

	if (localtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "(bad time %lld)", (long long)t);
	else {
		strftime(tmp, sizeof tmp, "%Y-%m-%d %H:%M:%S %Z", &tm);
		snprintf(buf, len, "%s [%lld]", tmp, (long long)t);
	}
	return (buf);
}

static struct cron
parse_ok(const char *spec)
{
	struct cron	c;
	char		err[128];

	memset(&c, 0, sizeof c);
	ck_assert_msg(cron_parse(spec, &c, err, sizeof err) == 0,
	    "cron_parse(\"%s\") failed: %s", spec, err);
	return (c);
}

/* cron_next must succeed and give expect. */
static void
next_is(const char *spec, time_t after, time_t expect)
{
	struct cron	c = parse_ok(spec);
	time_t		t = 0;
	char		b1[96], b2[96], b3[96];
	int		rc;

	rc = cron_next(&c, after, &t);
	ck_assert_msg(rc == 0, "\"%s\" after %s: returned %d", spec,
	    fmt(after, b1, sizeof b1), rc);
	ck_assert_msg(t == expect, "\"%s\" after %s: got %s, expected %s",
	    spec, fmt(after, b1, sizeof b1), fmt(t, b2, sizeof b2),
	    fmt(expect, b3, sizeof b3));
}

/* Follow a chain of fires: expect[0] after `after`, expect[1] after that. */
static void
chain_is(const char *spec, time_t after, const time_t *expect, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		next_is(spec, after, expect[i]);
		after = expect[i];
	}
}

static void
next_none(const char *spec, time_t after)
{
	struct cron	c = parse_ok(spec);
	time_t		t = 12345;
	char		b1[96], b2[96];

	ck_assert_msg(cron_next(&c, after, &t) == -1,
	    "\"%s\" after %s: expected -1, got %s", spec,
	    fmt(after, b1, sizeof b1), fmt(t, b2, sizeof b2));
}

/*
 * Independent matcher for broken-down wall time: every field, with the
 * Vixie day rule.
 */
static bool
tm_matches(const struct cron *c, const struct tm *tm)
{
	bool	dom, dow;

	if (!((c->sec >> tm->tm_sec) & 1) || !((c->min >> tm->tm_min) & 1) ||
	    !((c->hour >> tm->tm_hour) & 1) ||
	    !((c->mon >> (tm->tm_mon + 1)) & 1))
		return (false);
	dom = (c->mday >> tm->tm_mday) & 1;
	dow = (c->wday >> tm->tm_wday) & 1;
	if (!(c->flags & CRON_F_DOM_STAR) && !(c->flags & CRON_F_DOW_STAR))
		return (dom || dow);
	return (dom && dow);
}

/* Does wall time w (seconds since 1970, no zone) match? */
static bool
wall_matches(const struct cron *c, int64_t w)
{
	time_t		t = (time_t)w;
	struct tm	tm;

	REQUIRE(gmtime_r(&t, &tm) != NULL, "gmtime_r failed");
	return (tm_matches(c, &tm));
}

/* Reject spec; the message must contain want (if not NULL). */
static void
reject(const char *spec, const char *want)
{
	struct cron	c, saved;
	char		err[256];

	memset(&c, 0xa5, sizeof c);
	saved = c;
	memset(err, 0, sizeof err);
	ck_assert_msg(cron_parse(spec, &c, err, sizeof err) == -1,
	    "cron_parse(\"%s\") accepted", spec);
	ck_assert_msg(memcmp(&c, &saved, sizeof c) == 0,
	    "cron_parse(\"%s\") wrote *ret on failure", spec);
	ck_assert_msg(err[0] != '\0', "cron_parse(\"%s\"): empty error",
	    spec);
	ck_assert_msg(strlen(err) < sizeof err, "unterminated error");
	if (want != NULL) {
		ck_assert_msg(strstr(err, want) != NULL,
		    "cron_parse(\"%s\"): error \"%s\" lacks \"%s\"", spec, err,
		    want);
	}
}

static void
same_cron(const struct cron *a, const struct cron *b, const char *what)
{
	ck_assert_msg(a->sec == b->sec, "%s: sec", what);
	ck_assert_msg(a->min == b->min, "%s: min", what);
	ck_assert_msg(a->hour == b->hour, "%s: hour", what);
	ck_assert_msg(a->mday == b->mday, "%s: mday", what);
	ck_assert_msg(a->mon == b->mon, "%s: mon", what);
	ck_assert_msg(a->wday == b->wday, "%s: wday", what);
	ck_assert_msg(a->flags == b->flags, "%s: flags %#x != %#x", what,
	    a->flags, b->flags);
}

static uint64_t
bits(const int *v)
{
	uint64_t	b = 0;

	for (; *v != -1; v++)
		b |= (uint64_t)1 << *v;
	return (b);
}
#define B(...)	bits((const int[]){ __VA_ARGS__, -1 })

/* Parsing: accepted specs. */

START_TEST(test_parse_all_stars)
{
	struct cron	c = parse_ok("* * * * *");

	ck_assert_uint_eq(c.sec, 1);
	ck_assert_uint_eq(c.min, ALL_SEC);
	ck_assert_uint_eq(c.hour, ALL_HOUR);
	ck_assert_uint_eq(c.mday, ALL_MDAY);
	ck_assert_uint_eq(c.mon, ALL_MON);
	ck_assert_uint_eq(c.wday, ALL_WDAY);
	ck_assert_uint_eq(c.flags, BOTH_STAR);

	c = parse_ok("* * * * * *");
	ck_assert_uint_eq(c.sec, ALL_SEC);
	ck_assert_uint_eq(c.min, ALL_SEC);
	ck_assert_uint_eq(c.flags, BOTH_STAR | CRON_F_SECONDS);
}
END_TEST

static const struct {
	const char	*spec;
	uint64_t	 sec, min;
	uint32_t	 hour, mday;
	uint16_t	 mon;
	uint8_t		 wday;
	unsigned	 flags;
} bitmask_cases[] = {
	{ "0 0 1 1 *", 1, 1, 1, 1U << 1, 1U << 1, ALL_WDAY,
	    CRON_F_DOW_STAR },
	{ "59 23 31 12 6", 1, 1ULL << 59, 1U << 23, 1U << 31, 1U << 12,
	    1U << 6, 0 },
	{ "1,2,3 * * * *", 1, 0xe, ALL_HOUR, ALL_MDAY, ALL_MON, ALL_WDAY,
	    BOTH_STAR },
	{ "0-59/15 * * * *", 1, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) |
	    (1ULL << 45), ALL_HOUR, ALL_MDAY, ALL_MON, ALL_WDAY, BOTH_STAR },
	{ "*/15 * * * *", 1, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) |
	    (1ULL << 45), ALL_HOUR, ALL_MDAY, ALL_MON, ALL_WDAY, BOTH_STAR },
	{ "5/15 * * * *", 1, (1ULL << 5) | (1ULL << 20) | (1ULL << 35) |
	    (1ULL << 50), ALL_HOUR, ALL_MDAY, ALL_MON, ALL_WDAY, BOTH_STAR },
	{ "10-20/3 */7 * * *", 1, (1ULL << 10) | (1ULL << 13) |
	    (1ULL << 16) | (1ULL << 19), (1U << 0) | (1U << 7) | (1U << 14) |
	    (1U << 21), ALL_MDAY, ALL_MON, ALL_WDAY, BOTH_STAR },
	{ "0 9-17 * * *", 1, 1, 0x3fe00, ALL_MDAY, ALL_MON, ALL_WDAY,
	    BOTH_STAR },
	{ "0 0 */2 * *", 1, 1, 1, 0xaaaaaaaaU, ALL_MON, ALL_WDAY,
	    CRON_F_DOW_STAR },
	{ "0 0 1-31/10 */3 *", 1, 1, 1, (1U << 1) | (1U << 11) | (1U << 21) |
	    (1U << 31), (1U << 1) | (1U << 4) | (1U << 7) | (1U << 10),
	    ALL_WDAY, CRON_F_DOW_STAR },
	{ "0 0 * * 1-5", 1, 1, 1, ALL_MDAY, ALL_MON, 0x3e, CRON_F_DOM_STAR },
	{ "0 0 * * 0-7/2", 1, 1, 1, ALL_MDAY, ALL_MON, 0x55, CRON_F_DOM_STAR },
	{ "0 0 * * 1/2", 1, 1, 1, ALL_MDAY, ALL_MON, 0x2b, CRON_F_DOM_STAR },
	{ "0 0 15 * 5", 1, 1, 1, 1U << 15, ALL_MON, 1U << 5, 0 },
	{ "05 007 * * *", 1, 1ULL << 5, 1U << 7, ALL_MDAY, ALL_MON, ALL_WDAY,
	    BOTH_STAR },
	{ "1,5-7,30-59/29 * * * *", 1, (1ULL << 1) | (1ULL << 5) |
	    (1ULL << 6) | (1ULL << 7) | (1ULL << 30) | (1ULL << 59), ALL_HOUR,
	    ALL_MDAY, ALL_MON, ALL_WDAY, BOTH_STAR },
	{ "*/60 */24 */31 */12 */8", 1, 1, 1, 1U << 1, 1U << 1, 1, 0 },
	{ "7 * * * * *", 1ULL << 7, ALL_SEC, ALL_HOUR, ALL_MDAY, ALL_MON,
	    ALL_WDAY, BOTH_STAR | CRON_F_SECONDS },
	{ "*/20 0 12 * * *", (1ULL << 0) | (1ULL << 20) | (1ULL << 40), 1,
	    1U << 12, ALL_MDAY, ALL_MON, ALL_WDAY, BOTH_STAR |
	    CRON_F_SECONDS },
	{ "0 0 12 ? * mon", 1, 1, 1U << 12, ALL_MDAY, ALL_MON, 1U << 1,
	    CRON_F_DOM_STAR | CRON_F_SECONDS },
};

START_TEST(test_parse_bitmasks)
{
	struct cron	c = parse_ok(bitmask_cases[_i].spec);
	const char	*s = bitmask_cases[_i].spec;

	ck_assert_msg(c.sec == bitmask_cases[_i].sec, "%s: sec %#llx", s,
	    (unsigned long long)c.sec);
	ck_assert_msg(c.min == bitmask_cases[_i].min, "%s: min %#llx", s,
	    (unsigned long long)c.min);
	ck_assert_msg(c.hour == bitmask_cases[_i].hour, "%s: hour %#x", s,
	    (unsigned)c.hour);
	ck_assert_msg(c.mday == bitmask_cases[_i].mday, "%s: mday %#x", s,
	    (unsigned)c.mday);
	ck_assert_msg(c.mon == bitmask_cases[_i].mon, "%s: mon %#x", s,
	    (unsigned)c.mon);
	ck_assert_msg(c.wday == bitmask_cases[_i].wday, "%s: wday %#x", s,
	    (unsigned)c.wday);
	ck_assert_msg(c.flags == bitmask_cases[_i].flags, "%s: flags %#x", s,
	    c.flags);
}
END_TEST

START_TEST(test_parse_names)
{
	struct cron	c;

	c = parse_ok("0 0 * jan-mar mon-fri");
	ck_assert_uint_eq(c.mon, B(1, 2, 3));
	ck_assert_uint_eq(c.wday, B(1, 2, 3, 4, 5));
	ck_assert_uint_eq(c.flags, CRON_F_DOM_STAR);

	c = parse_ok("0 0 * JAN,Jul,dEc SUN,sat");
	ck_assert_uint_eq(c.mon, B(1, 7, 12));
	ck_assert_uint_eq(c.wday, B(0, 6));

	c = parse_ok("0 0 * jan,feb,mar,apr,may,jun,jul,aug,sep,oct,nov,dec "
	    "sun,mon,tue,wed,thu,fri,sat");
	ck_assert_uint_eq(c.mon, ALL_MON);
	ck_assert_uint_eq(c.wday, ALL_WDAY);
	ck_assert_uint_eq(c.flags, CRON_F_DOM_STAR);

	c = parse_ok("0 0 * 1-jun tue-5");
	ck_assert_uint_eq(c.mon, B(1, 2, 3, 4, 5, 6));
	ck_assert_uint_eq(c.wday, B(2, 3, 4, 5));

	c = parse_ok("0 0 * feb/3 mon/2");
	ck_assert_uint_eq(c.mon, B(2, 5, 8, 11));
	ck_assert_uint_eq(c.wday, B(1, 3, 5, 0));	/* 7 folds to 0 */

	c = parse_ok("0 0 * jan-dec/6 sun-sat/3");
	ck_assert_uint_eq(c.mon, B(1, 7));
	ck_assert_uint_eq(c.wday, B(0, 3, 6));
}
END_TEST

START_TEST(test_parse_sunday_7)
{
	struct cron	c;

	c = parse_ok("0 0 * * 7");
	ck_assert_uint_eq(c.wday, B(0));
	ck_assert_uint_eq(c.flags, CRON_F_DOM_STAR);
	c = parse_ok("0 0 * * 0,7");
	ck_assert_uint_eq(c.wday, B(0));
	c = parse_ok("0 0 * * 5-7");
	ck_assert_uint_eq(c.wday, B(0, 5, 6));
	c = parse_ok("0 0 * * fri-7");
	ck_assert_uint_eq(c.wday, B(0, 5, 6));
	c = parse_ok("0 0 * * 0-7");
	ck_assert_uint_eq(c.wday, ALL_WDAY);
	ck_assert_uint_eq(c.flags, CRON_F_DOM_STAR);	/* restricted */
	c = parse_ok("0 0 * * sun");
	ck_assert_uint_eq(c.wday, B(0));
}
END_TEST

START_TEST(test_parse_star_flags)
{
	ck_assert_uint_eq(parse_ok("0 0 ? * ?").flags, BOTH_STAR);
	ck_assert_uint_eq(parse_ok("0 0 * * ?").flags, BOTH_STAR);
	ck_assert_uint_eq(parse_ok("0 0 ? * 1").flags, CRON_F_DOM_STAR);
	ck_assert_uint_eq(parse_ok("0 0 1 * ?").flags, CRON_F_DOW_STAR);
	ck_assert_uint_eq(parse_ok("0 0 */1 * */1").flags, BOTH_STAR);
	ck_assert_uint_eq(parse_ok("0 0 ?/1 * ?/1").flags, BOTH_STAR);
	ck_assert_uint_eq(parse_ok("0 0 */2 * *").flags, CRON_F_DOW_STAR);
	ck_assert_uint_eq(parse_ok("0 0 * * */2").flags, CRON_F_DOM_STAR);
	ck_assert_uint_eq(parse_ok("0 0 1-31 * 0-6").flags, 0);
	ck_assert_uint_eq(parse_ok("0 0 *,1 * *,1").flags, 0);
	ck_assert_uint_eq(parse_ok("0 0 ?/2 * *").mday, B(1, 3, 5, 7, 9, 11,
	    13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
	/* Other fields never set star flags. */
	ck_assert_uint_eq(parse_ok("1 2 3 4 5").flags, 0);
	ck_assert_uint_eq(parse_ok("1 2 3 4 5 6").flags, CRON_F_SECONDS);
}
END_TEST

START_TEST(test_parse_whitespace)
{
	struct cron	a = parse_ok("5 4 * * *"), b;

	b = parse_ok("   5 4 * * *");
	same_cron(&a, &b, "leading spaces");
	b = parse_ok("5 4 * * *   ");
	same_cron(&a, &b, "trailing spaces");
	b = parse_ok("\t5\t\t4  *\t * *\t\n");
	same_cron(&a, &b, "tabs");
	b = parse_ok("5 4 * * *\r\n");
	same_cron(&a, &b, "crlf");
	b = parse_ok("  @daily \t");
	a = parse_ok("0 0 * * *");
	same_cron(&a, &b, "macro with spaces");
}
END_TEST

START_TEST(test_parse_macros)
{
	static const char *const macros[][2] = {
		{ "@yearly", "0 0 1 1 *" },
		{ "@annually", "0 0 1 1 *" },
		{ "@monthly", "0 0 1 * *" },
		{ "@weekly", "0 0 * * 0" },
		{ "@daily", "0 0 * * *" },
		{ "@midnight", "0 0 * * *" },
		{ "@hourly", "0 * * * *" },
		{ "@DAILY", "0 0 * * *" },
		{ "@Weekly", "0 0 * * 0" },
	};
	struct cron	a, b;
	size_t		i;

	for (i = 0; i < sizeof macros / sizeof macros[0]; i++) {
		a = parse_ok(macros[i][0]);
		b = parse_ok(macros[i][1]);
		same_cron(&a, &b, macros[i][0]);
		ck_assert_uint_eq(a.sec, 1);
		ck_assert_uint_eq(a.flags & CRON_F_SECONDS, 0);
	}
	a = parse_ok("@weekly");
	ck_assert_uint_eq(a.flags, CRON_F_DOM_STAR);
	ck_assert_uint_eq(a.wday, 1);
	a = parse_ok("@yearly");
	ck_assert_uint_eq(a.flags, CRON_F_DOW_STAR);
	ck_assert_uint_eq(a.mon, 2);
	ck_assert_uint_eq(a.mday, 2);
}
END_TEST

START_TEST(test_parse_max_len)
{
	char		buf[CRON_MAX_LEN + 64], *p;
	struct cron	c;

	/* Exactly CRON_MAX_LEN characters: accepted. */
	memset(buf, ' ', sizeof buf);
	memcpy(buf, "0 0 * *", 7);
	buf[CRON_MAX_LEN - 1] = '1';
	buf[CRON_MAX_LEN] = '\0';
	c = parse_ok(buf);
	ck_assert_uint_eq(c.wday, B(1));

	/* One more: rejected, even if it is only white space. */
	memset(buf, ' ', sizeof buf);
	memcpy(buf, "0 0 * * 1", 9);
	buf[CRON_MAX_LEN + 1] = '\0';
	reject(buf, "too long");

	/* A long list that would otherwise be valid. */
	buf[0] = '\0';
	while (strlen(buf) < CRON_MAX_LEN)
		strcat(buf, "1,");
	strcat(buf, "1 * * * *");
	reject(buf, "too long");

	/* Not NUL-terminated: read no more than CRON_MAX_LEN + 1 bytes. */
	p = malloc(CRON_MAX_LEN + 1);
	ck_assert_ptr_nonnull(p);
	memset(p, '1', CRON_MAX_LEN + 1);
	reject(p, "too long");
	free(p);
}
END_TEST

/* Parsing: rejected specs. */

static const struct {
	const char	*spec;
	const char	*want;
} reject_cases[] = {
	{ "", "empty" },
	{ "   ", "empty" },
	{ "\t\n", "empty" },
	{ "* * * *", "too few" },
	{ "*", "too few" },
	{ "* * * * * * *", "too many" },
	{ "0 0 * * * * * * *", "too many" },
	/* out of range */
	{ "60 * * * *", "minute" },
	{ "60 * * * *", "out of range" },
	{ "* 24 * * *", "hour" },
	{ "* * 0 * *", "day-of-month" },
	{ "* * 32 * *", "out of range" },
	{ "* * * 0 *", "month" },
	{ "* * * 13 *", "out of range" },
	{ "* * * * 8", "day-of-week" },
	{ "60 * * * * *", "second" },
	{ "0 60 * * * *", "minute" },
	{ "0-60 * * * *", "out of range" },
	{ "100 * * * *", "out of range" },
	{ "* * 1-32 * *", "out of range" },
	{ "5-60/5 * * * *", "out of range" },
	/* absurd numbers */
	{ "0000005 * * * *", "too long" },
	{ "99999999999999999999999 * * * *", "too long" },
	{ "*/99999999999999999999 * * * *", "too long" },
	{ "1-99999999999999999999 * * * *", "too long" },
	/* reversed ranges */
	{ "5-1 * * * *", "range" },
	{ "0 0 * dec-jan *", "range" },
	{ "0 0 * * fri-mon", "range" },
	{ "0 0 * * sat-sun", "range" },
	{ "0 0 * * 7-1", "range" },
	{ "0 0 31-1 * *", "range" },
	/* steps */
	{ "*/0 * * * *", "step" },
	{ "0-10/0 * * * *", "step" },
	{ "5/0 * * * *", "step" },
	{ "*/ * * * *", "step" },
	{ "*/x * * * *", "step" },
	{ "*/-1 * * * *", "step" },
	{ "*/61 * * * *", "step" },
	{ "* */25 * * *", "step" },
	{ "0 0 * */13 *", "step" },
	{ "0 0 * * */9", "step" },
	{ "1/2/3 * * * *", "unexpected" },
	{ "/5 * * * *", NULL },
	/* empty elements and garbage */
	{ "1,,2 * * * *", "empty" },
	{ "1, * * * *", "empty" },
	{ ",1 * * * *", "empty" },
	{ ", * * * *", "empty" },
	{ "1- * * * *", NULL },
	{ "-1 * * * *", NULL },
	{ "1-2-3 * * * *", "unexpected" },
	{ "5x * * * *", "unexpected" },
	{ "* * * * 1x", "unexpected" },
	{ "** * * * *", "unexpected" },
	{ "*-5 * * * *", "unexpected" },
	{ "*1 * * * *", "unexpected" },
	{ "1.5 * * * *", "unexpected" },
	{ "+1 * * * *", NULL },
	{ "* * * * * *x", "unexpected" },
	{ "0 0 * * mon-", NULL },
	{ "0 0 * * -mon", NULL },
	{ "\x01 * * * *", NULL },
	{ "\xc3\xa9 * * * *", NULL },
	/* names */
	{ "0 0 * * funday", "unknown name" },
	{ "0 0 * * monday", "unknown name" },
	{ "0 0 * * mo", "unknown name" },
	{ "0 0 * jan-foo *", "unknown name" },
	{ "0 0 * january *", "unknown name" },
	{ "0 0 * * jan", "unknown name" },
	{ "0 0 * sun *", "unknown name" },
	{ "0 0 mon * *", "names" },
	{ "jan * * * *", "names" },
	{ "0 noon * * *", "names" },
	/* '?' outside the day fields */
	{ "? * * * *", "'?'" },
	{ "* ? * * *", "'?'" },
	{ "* * * ? *", "'?'" },
	{ "? * * * * *", "'?'" },
	{ "0 0 ?? * *", "unexpected" },
	{ "0 0 1? * *", "unexpected" },
	/* macros */
	{ "@reboot", "not supported" },
	{ "@REBOOT", "not supported" },
	{ "@foo", "unknown macro" },
	{ "@", "unknown macro" },
	{ "@dailyx", "unknown macro" },
	{ "@daily extra", "after macro" },
	{ "@daily *", "after macro" },
	{ "@hourly\t@daily", "after macro" },
	{ "0 @daily", NULL },
	{ "@ daily", NULL },
};

START_TEST(test_parse_reject)
{
	reject(reject_cases[_i].spec, reject_cases[_i].want);
}
END_TEST

START_TEST(test_parse_reject_null)
{
	struct cron	c;
	char		err[64];

	ck_assert_int_eq(cron_parse(NULL, &c, err, sizeof err), -1);
	ck_assert_str_ne(err, "");
	/* ret may be NULL: validation only. */
	ck_assert_int_eq(cron_parse("*/5 * * * *", NULL, err, sizeof err), 0);
	ck_assert_int_eq(cron_parse("@daily", NULL, NULL, 0), 0);
	ck_assert_int_eq(cron_parse("61 * * * *", NULL, err, sizeof err), -1);
	ck_assert_int_eq(cron_parse("@reboot", NULL, NULL, 0), -1);
}
END_TEST

START_TEST(test_parse_error_buffer)
{
	struct cron	c;
	char		err[256], spec[200], *p;
	size_t		i;

	/* NULL err or errlen 0 must be fine. */
	ck_assert_int_eq(cron_parse("60 * * * *", &c, NULL, 0), -1);
	ck_assert_int_eq(cron_parse("60 * * * *", &c, NULL, 100), -1);
	err[0] = 'x';
	ck_assert_int_eq(cron_parse("60 * * * *", &c, err, 0), -1);
	ck_assert_int_eq(err[0], 'x');
	ck_assert_int_eq(cron_parse("@nope", &c, NULL, 0), -1);
	ck_assert_int_eq(cron_parse("", &c, NULL, 0), -1);

	/* Truncated but terminated. */
	memset(err, 'Z', sizeof err);
	ck_assert_int_eq(cron_parse("60 * * * *", &c, err, 1), -1);
	ck_assert_int_eq(err[0], '\0');
	ck_assert_int_eq(err[1], 'Z');
	memset(err, 'Z', sizeof err);
	ck_assert_int_eq(cron_parse("60 * * * *", &c, err, 8), -1);
	ck_assert_uint_eq(strlen(err), 7);
	ck_assert_int_eq(err[8], 'Z');

	/* Never more than 32 characters of input echoed. */
	memset(spec, 'q', 100);
	strcpy(spec + 100, " * * * *");
	ck_assert_int_eq(cron_parse(spec, &c, err, sizeof err), -1);
	ck_assert_ptr_null(strstr(err, "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"));
	ck_assert_ptr_nonnull(strstr(err, "minute"));

	spec[0] = '@';
	memset(spec + 1, 'm', 150);
	spec[151] = '\0';
	ck_assert_int_eq(cron_parse(spec, &c, err, sizeof err), -1);
	ck_assert_ptr_null(strstr(err, "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"));

	strcpy(spec, "0 0 * * ");
	p = spec + strlen(spec);
	for (i = 0; i < 40; i++) {
		memcpy(p, "1-2,", 4);
		p += 4;
	}
	strcpy(p, "9");
	ck_assert_int_eq(cron_parse(spec, &c, err, sizeof err), -1);
	ck_assert_ptr_null(strstr(err, "1-2,1-2,1-2,1-2,1-2,1-2,1-2,1-2,1"));

	/* Control characters are not echoed raw. */
	ck_assert_int_eq(cron_parse("1\x1b[2J * * * *", &c, err, sizeof err),
	    -1);
	ck_assert_ptr_null(strchr(err, '\x1b'));
}
END_TEST

/* cron_next in UTC. */

START_TEST(test_next_macros)
{
	set_tz("UTC0");

	/* @hourly */
	next_is("@hourly", utc(2024, 1, 1, 0, 0, 0), utc(2024, 1, 1, 1, 0, 0));
	next_is("@hourly", utc(2024, 1, 1, 0, 59, 59),
	    utc(2024, 1, 1, 1, 0, 0));
	next_is("@hourly", utc(2024, 1, 1, 0, 0, 1), utc(2024, 1, 1, 1, 0, 0));
	next_is("@hourly", utc(2024, 12, 31, 23, 30, 0),
	    utc(2025, 1, 1, 0, 0, 0));
	next_is("@hourly", utc(2024, 2, 28, 23, 0, 0),
	    utc(2024, 2, 29, 0, 0, 0));

	/* @daily, @midnight */
	next_is("@daily", utc(2024, 6, 15, 12, 0, 0),
	    utc(2024, 6, 16, 0, 0, 0));
	next_is("@daily", utc(2024, 6, 15, 0, 0, 0),
	    utc(2024, 6, 16, 0, 0, 0));
	next_is("@daily", utc(2024, 6, 14, 23, 59, 59),
	    utc(2024, 6, 15, 0, 0, 0));
	next_is("@midnight", utc(2024, 6, 30, 1, 0, 0),
	    utc(2024, 7, 1, 0, 0, 0));
	next_is("@daily", utc(2023, 2, 28, 5, 0, 0),
	    utc(2023, 3, 1, 0, 0, 0));

	/* @weekly: Sundays; 2024-06-16 is a Sunday. */
	next_is("@weekly", utc(2024, 6, 15, 12, 0, 0),
	    utc(2024, 6, 16, 0, 0, 0));
	next_is("@weekly", utc(2024, 6, 16, 0, 0, 0),
	    utc(2024, 6, 23, 0, 0, 0));
	next_is("@weekly", utc(2024, 6, 16, 0, 0, 1),
	    utc(2024, 6, 23, 0, 0, 0));
	next_is("@weekly", utc(2024, 6, 10, 0, 0, 0),
	    utc(2024, 6, 16, 0, 0, 0));
	next_is("@weekly", utc(2024, 12, 30, 0, 0, 0),
	    utc(2025, 1, 5, 0, 0, 0));

	/* @monthly */
	next_is("@monthly", utc(2024, 1, 31, 12, 0, 0),
	    utc(2024, 2, 1, 0, 0, 0));
	next_is("@monthly", utc(2024, 2, 1, 0, 0, 0),
	    utc(2024, 3, 1, 0, 0, 0));
	next_is("@monthly", utc(2024, 12, 1, 0, 0, 0),
	    utc(2025, 1, 1, 0, 0, 0));
	next_is("@monthly", utc(2024, 4, 30, 23, 59, 59),
	    utc(2024, 5, 1, 0, 0, 0));

	/* @yearly, @annually */
	next_is("@yearly", utc(2024, 12, 31, 23, 59, 59),
	    utc(2025, 1, 1, 0, 0, 0));
	next_is("@yearly", utc(2024, 1, 1, 0, 0, 0),
	    utc(2025, 1, 1, 0, 0, 0));
	next_is("@yearly", utc(2024, 6, 15, 0, 0, 0),
	    utc(2025, 1, 1, 0, 0, 0));
	next_is("@annually", utc(2023, 12, 31, 0, 0, 0),
	    utc(2024, 1, 1, 0, 0, 0));
}
END_TEST

START_TEST(test_next_strictly_after)
{
	set_tz("UTC0");
	next_is("* * * * *", utc(2024, 5, 5, 10, 0, 0),
	    utc(2024, 5, 5, 10, 1, 0));
	next_is("* * * * *", utc(2024, 5, 5, 10, 0, 30),
	    utc(2024, 5, 5, 10, 1, 0));
	next_is("* * * * *", utc(2024, 5, 5, 10, 0, 59),
	    utc(2024, 5, 5, 10, 1, 0));
	next_is("* * * * * *", utc(2024, 5, 5, 10, 0, 0),
	    utc(2024, 5, 5, 10, 0, 1));
	next_is("* * * * * *", utc(2024, 12, 31, 23, 59, 59),
	    utc(2025, 1, 1, 0, 0, 0));
	next_is("30 10 5 5 *", utc(2024, 5, 5, 10, 30, 0),
	    utc(2025, 5, 5, 10, 30, 0));
	next_is("30 10 5 5 *", utc(2024, 5, 5, 10, 29, 59),
	    utc(2024, 5, 5, 10, 30, 0));
}
END_TEST

START_TEST(test_next_month_ends)
{
	time_t	e31[5], e30[4];

	set_tz("UTC0");
	/* The 31st skips short months. */
	e31[0] = utc(2024, 1, 31, 0, 0, 0);
	e31[1] = utc(2024, 3, 31, 0, 0, 0);
	e31[2] = utc(2024, 5, 31, 0, 0, 0);
	e31[3] = utc(2024, 7, 31, 0, 0, 0);
	e31[4] = utc(2024, 8, 31, 0, 0, 0);
	chain_is("0 0 31 * *", utc(2024, 1, 1, 0, 0, 0), e31, 5);
	next_is("0 0 31 * *", utc(2024, 8, 31, 0, 0, 0),
	    utc(2024, 10, 31, 0, 0, 0));
	next_is("0 0 31 * *", utc(2024, 12, 31, 0, 0, 0),
	    utc(2025, 1, 31, 0, 0, 0));

	/* The 30th skips February only. */
	e30[0] = utc(2023, 1, 30, 0, 0, 0);
	e30[1] = utc(2023, 3, 30, 0, 0, 0);
	e30[2] = utc(2023, 4, 30, 0, 0, 0);
	e30[3] = utc(2023, 5, 30, 0, 0, 0);
	chain_is("0 0 30 * *", utc(2023, 1, 15, 0, 0, 0), e30, 4);

	/* Last days of months and of the year. */
	next_is("59 23 28-31 2 *", utc(2023, 2, 28, 0, 0, 0),
	    utc(2023, 2, 28, 23, 59, 0));
	next_is("59 23 28-31 2 *", utc(2023, 2, 28, 23, 59, 0),
	    utc(2024, 2, 28, 23, 59, 0));
	next_is("59 23 28-31 2 *", utc(2024, 2, 28, 23, 59, 0),
	    utc(2024, 2, 29, 23, 59, 0));
	next_is("0 12 31 4,6,9,11,12 *", utc(2024, 1, 1, 0, 0, 0),
	    utc(2024, 12, 31, 12, 0, 0));
	next_is("0 0 1 * *", utc(2024, 4, 30, 12, 0, 0),
	    utc(2024, 5, 1, 0, 0, 0));
}
END_TEST

START_TEST(test_next_leap)
{
	time_t	e[4];

	set_tz("UTC0");
	e[0] = utc(2024, 2, 29, 0, 0, 0);
	e[1] = utc(2028, 2, 29, 0, 0, 0);
	e[2] = utc(2032, 2, 29, 0, 0, 0);
	e[3] = utc(2036, 2, 29, 0, 0, 0);
	chain_is("0 0 29 2 *", utc(2023, 1, 1, 0, 0, 0), e, 4);
	next_is("0 0 29 2 *", utc(2024, 3, 1, 0, 0, 0),
	    utc(2028, 2, 29, 0, 0, 0));
	next_is("0 0 29 2 *", utc(2024, 2, 28, 23, 59, 59),
	    utc(2024, 2, 29, 0, 0, 0));
	next_is("30 12 29 feb *", utc(2000, 1, 1, 0, 0, 0),
	    utc(2000, 2, 29, 12, 30, 0));	/* 2000 is a leap year */
	next_is("0 0 29 2 *", utc(2099, 3, 1, 0, 0, 0),
	    utc(2104, 2, 29, 0, 0, 0));		/* 2100 is not */
	/* 2096-03 to 2104-02 is more than 5 years: give up. */
	next_none("0 0 29 2 *", utc(2096, 3, 1, 0, 0, 0));
	next_none("0 0 29 2 *", utc(2096, 2, 29, 0, 0, 0));
	next_none("0 0 29 2 *", utc(2098, 12, 31, 23, 59, 58));
	next_is("0 0 29 2 *", utc(2098, 12, 31, 23, 59, 59),
	    utc(2104, 2, 29, 0, 0, 0));
	/* Feb 29 or any Thursday in February (2024-02-01 is a Thursday). */
	e[0] = utc(2024, 2, 8, 0, 0, 0);
	e[1] = utc(2024, 2, 15, 0, 0, 0);
	e[2] = utc(2024, 2, 22, 0, 0, 0);
	e[3] = utc(2024, 2, 29, 0, 0, 0);	/* Thursday and the 29th */
	chain_is("0 0 29 2 thu", utc(2024, 2, 1, 0, 0, 0), e, 4);
	next_is("0 0 29 2 thu", utc(2024, 2, 29, 0, 0, 0),
	    utc(2025, 2, 6, 0, 0, 0));
}
END_TEST

START_TEST(test_next_impossible)
{
	set_tz("UTC0");
	next_none("0 0 30 2 *", utc(2024, 1, 1, 0, 0, 0));
	next_none("0 0 31 2 *", utc(2024, 1, 1, 0, 0, 0));
	next_none("0 0 30,31 2 *", utc(1999, 1, 1, 0, 0, 0));
	next_none("0 0 31 4,6,9,11 *", utc(2024, 1, 1, 0, 0, 0));
	next_none("0 0 30 2 ?", utc(2024, 1, 1, 0, 0, 0));
	next_none("0 0 31 feb-apr/2 *", utc(2024, 1, 1, 0, 0, 0));
	/* With the OR rule the weekday still fires: 2024-02-05 is Monday. */
	next_is("0 0 30 2 mon", utc(2024, 1, 31, 0, 0, 0),
	    utc(2024, 2, 5, 0, 0, 0));
	/* A zeroed struct never matches. */
	{
		struct cron	c;
		time_t		t;

		memset(&c, 0, sizeof c);
		ck_assert_int_eq(cron_next(&c, 0, &t), -1);
		ck_assert_int_eq(cron_next(NULL, 0, &t), -1);
	}
	/* Times localtime cannot represent. */
	{
		struct cron	c = parse_ok("* * * * * *");
		time_t		t = 0;

		ck_assert_int_eq(cron_next(&c, (time_t)INT64_MAX, &t), -1);
		ck_assert_int_eq(cron_next(&c, (time_t)INT64_MIN, &t), -1);
		ck_assert_int_eq(cron_next(&c, (time_t)INT64_MAX / 2, &t), -1);
		ck_assert_int_eq(t, 0);
	}
}
END_TEST

START_TEST(test_next_vixie_or)
{
	time_t	e[6];

	set_tz("UTC0");
	/* 13th of the month OR Friday; 2024-09-01 is a Sunday. */
	e[0] = utc(2024, 9, 6, 0, 0, 0);	/* Fri */
	e[1] = utc(2024, 9, 13, 0, 0, 0);	/* Fri the 13th */
	e[2] = utc(2024, 9, 20, 0, 0, 0);	/* Fri */
	e[3] = utc(2024, 9, 27, 0, 0, 0);	/* Fri */
	e[4] = utc(2024, 10, 4, 0, 0, 0);	/* Fri */
	e[5] = utc(2024, 10, 11, 0, 0, 0);	/* Fri */
	chain_is("0 0 13 * 5", utc(2024, 9, 1, 0, 0, 0), e, 6);
	next_is("0 0 13 * 5", utc(2024, 10, 11, 0, 0, 0),
	    utc(2024, 10, 13, 0, 0, 0));	/* Sunday the 13th */
	next_is("0 0 13 * fri", utc(2024, 10, 13, 0, 0, 0),
	    utc(2024, 10, 18, 0, 0, 0));

	/* 1st or 15th or Monday: 2024-07-01 is a Monday. */
	next_is("0 8 1,15 * 1", utc(2024, 7, 1, 8, 0, 0),
	    utc(2024, 7, 8, 8, 0, 0));
	next_is("0 8 1,15 * 1", utc(2024, 7, 8, 8, 0, 0),
	    utc(2024, 7, 15, 8, 0, 0));
	next_is("0 8 1,15 * 1", utc(2024, 7, 15, 8, 0, 0),
	    utc(2024, 7, 22, 8, 0, 0));
	next_is("0 8 1,15 * 1", utc(2024, 7, 29, 8, 0, 0),
	    utc(2024, 8, 1, 8, 0, 0));	/* Thursday the 1st */

	/* Restricted by step: still OR (this is not Vixie's '*' quirk). */
	next_is("0 0 */10 * mon", utc(2024, 7, 1, 0, 0, 0),
	    utc(2024, 7, 8, 0, 0, 0));	/* Monday; the 11th is later */
	next_is("0 0 */10 * mon", utc(2024, 7, 8, 0, 0, 0),
	    utc(2024, 7, 11, 0, 0, 0));

	/* The month still restricts both. */
	next_is("0 0 13 6 5", utc(2024, 7, 1, 0, 0, 0),
	    utc(2025, 6, 6, 0, 0, 0));	/* first Fri in June 2025 */
}
END_TEST

START_TEST(test_next_and_rule)
{
	set_tz("UTC0");
	/* dom '*': only the weekday counts. 2024-09-01 is a Sunday. */
	next_is("0 0 * * 5", utc(2024, 9, 1, 0, 0, 0),
	    utc(2024, 9, 6, 0, 0, 0));
	next_is("0 0 ? * fri", utc(2024, 9, 6, 0, 0, 0),
	    utc(2024, 9, 13, 0, 0, 0));
	/* dow '*': only the day of month counts. */
	next_is("0 0 13 * *", utc(2024, 9, 1, 0, 0, 0),
	    utc(2024, 9, 13, 0, 0, 0));
	next_is("0 0 13 * ?", utc(2024, 9, 13, 0, 0, 0),
	    utc(2024, 10, 13, 0, 0, 0));
	/* 6-field Quartz-like spelling. */
	next_is("0 0 12 ? * mon-fri", utc(2024, 9, 6, 12, 0, 0),
	    utc(2024, 9, 9, 12, 0, 0));
	/* Weekdays 9-17 Monday to Friday: from Friday evening to Monday. */
	next_is("0 9-17 * * mon-fri", utc(2024, 9, 6, 17, 0, 0),
	    utc(2024, 9, 9, 9, 0, 0));
	next_is("0 9-17 * * mon-fri", utc(2024, 9, 9, 9, 0, 0),
	    utc(2024, 9, 9, 10, 0, 0));
	next_is("0 0 * * 7", utc(2024, 9, 1, 0, 0, 0),
	    utc(2024, 9, 8, 0, 0, 0));
}
END_TEST

START_TEST(test_next_seconds)
{
	time_t	e[4];

	set_tz("UTC0");
	e[0] = utc(2024, 1, 1, 0, 0, 20);
	e[1] = utc(2024, 1, 1, 0, 0, 40);
	e[2] = utc(2024, 1, 1, 0, 1, 0);
	e[3] = utc(2024, 1, 1, 0, 1, 20);
	chain_is("*/20 * * * * *", utc(2024, 1, 1, 0, 0, 0), e, 4);
	next_is("30 0 0 * * *", utc(2024, 1, 1, 0, 0, 0),
	    utc(2024, 1, 1, 0, 0, 30));
	next_is("30 0 0 * * *", utc(2024, 1, 1, 0, 0, 30),
	    utc(2024, 1, 2, 0, 0, 30));
	next_is("59 59 23 31 12 *", utc(2024, 1, 1, 0, 0, 0),
	    utc(2024, 12, 31, 23, 59, 59));
	next_is("5-7 * * * * *", utc(2024, 1, 1, 0, 0, 6),
	    utc(2024, 1, 1, 0, 0, 7));
	next_is("5-7 * * * * *", utc(2024, 1, 1, 0, 0, 7),
	    utc(2024, 1, 1, 0, 1, 5));
	/* 5 fields fire at second 0 only. */
	next_is("* * * * *", utc(2024, 1, 1, 0, 0, 0),
	    utc(2024, 1, 1, 0, 1, 0));
	next_is("0 * * * * *", utc(2024, 1, 1, 0, 0, 0),
	    utc(2024, 1, 1, 0, 1, 0));
}
END_TEST

START_TEST(test_next_steps)
{
	time_t	e[4];

	set_tz("UTC0");
	e[0] = utc(2024, 3, 1, 9, 0, 0);
	e[1] = utc(2024, 3, 1, 13, 0, 0);
	e[2] = utc(2024, 3, 1, 17, 0, 0);
	e[3] = utc(2024, 3, 2, 9, 0, 0);
	chain_is("0 9-17/4 * * *", utc(2024, 3, 1, 0, 0, 0), e, 4);
	e[0] = utc(2024, 3, 1, 0, 10, 0);
	e[1] = utc(2024, 3, 1, 0, 15, 0);
	e[2] = utc(2024, 3, 1, 0, 20, 0);
	e[3] = utc(2024, 3, 1, 1, 10, 0);
	chain_is("10-20/5 * * * *", utc(2024, 3, 1, 0, 0, 0), e, 4);
	e[0] = utc(2024, 3, 1, 0, 50, 0);
	e[1] = utc(2024, 3, 1, 1, 5, 0);
	chain_is("5/45 * * * *", utc(2024, 3, 1, 0, 5, 0), e, 2);
	next_is("0 0 */5 * *", utc(2024, 1, 26, 0, 0, 0),
	    utc(2024, 1, 31, 0, 0, 0));
	next_is("0 0 */5 * *", utc(2024, 1, 31, 0, 0, 0),
	    utc(2024, 2, 1, 0, 0, 0));
	next_is("0 0 1 */4 *", utc(2024, 1, 1, 0, 0, 0),
	    utc(2024, 5, 1, 0, 0, 0));
	next_is("0 0 1 */4 *", utc(2024, 9, 1, 0, 0, 0),
	    utc(2025, 1, 1, 0, 0, 0));
}
END_TEST

START_TEST(test_next_year_rollover)
{
	set_tz("UTC0");
	next_is("0 0 1 1 *", utc(2024, 12, 31, 12, 0, 0),
	    utc(2025, 1, 1, 0, 0, 0));
	next_is("59 23 31 12 *", utc(2024, 12, 31, 23, 59, 0),
	    utc(2025, 12, 31, 23, 59, 0));
	next_is("0 0 * 1 *", utc(2024, 2, 1, 0, 0, 0),
	    utc(2025, 1, 1, 0, 0, 0));
	next_is("* * * * *", utc(2024, 12, 31, 23, 59, 0),
	    utc(2025, 1, 1, 0, 0, 0));
	next_is("0 0 * * mon", utc(2024, 12, 31, 0, 0, 0),
	    utc(2025, 1, 6, 0, 0, 0));
	next_is("0 0 1 jan *", utc(1999, 12, 31, 23, 59, 59),
	    utc(2000, 1, 1, 0, 0, 0));
	next_is("0 0 1 jan *", utc(2037, 6, 1, 0, 0, 0),
	    utc(2038, 1, 1, 0, 0, 0));
	next_is("0 0 * * *", utc(2038, 1, 19, 3, 14, 8),
	    utc(2038, 1, 20, 0, 0, 0));
	next_is("0 0 * * *", utc(1969, 7, 20, 20, 17, 0),
	    utc(1969, 7, 21, 0, 0, 0));
}
END_TEST

START_TEST(test_next_weekday_names)
{
	set_tz("UTC0");
	/* 2024-09-06 is a Friday. */
	next_is("0 12 * * mon-fri", utc(2024, 9, 6, 13, 0, 0),
	    utc(2024, 9, 9, 12, 0, 0));
	next_is("0 12 * * sat,sun", utc(2024, 9, 6, 13, 0, 0),
	    utc(2024, 9, 7, 12, 0, 0));
	next_is("0 12 * * SUN", utc(2024, 9, 7, 13, 0, 0),
	    utc(2024, 9, 8, 12, 0, 0));
	next_is("0 12 * mar-may *", utc(2024, 9, 6, 0, 0, 0),
	    utc(2025, 3, 1, 12, 0, 0));
}
END_TEST

/* DST. */

START_TEST(test_dst_berlin_spring)
{
	time_t	e[4];

	set_tz("Europe/Berlin");
	/* 2024-03-31 02:00 CET -> 03:00 CEST at 01:00 UTC. */
	e[0] = utc(2024, 3, 30, 1, 30, 0);	/* 02:30 CET */
	e[1] = utc(2024, 3, 31, 1, 0, 0);	/* 03:00 CEST: skipped 02:30 */
	e[2] = utc(2024, 4, 1, 0, 30, 0);	/* 02:30 CEST */
	e[3] = utc(2024, 4, 2, 0, 30, 0);
	chain_is("30 2 * * *", loc(2024, 3, 29, 12, 0, 0), e, 4);
	chain_is("0 30 2 * * *", loc(2024, 3, 29, 12, 0, 0), e, 4);
	next_is("0 2 * * *", loc(2024, 3, 30, 12, 0, 0),
	    utc(2024, 3, 31, 1, 0, 0));
	next_is("0 3 * * *", loc(2024, 3, 30, 12, 0, 0),
	    utc(2024, 3, 31, 1, 0, 0));
	next_is("0 3 * * *", utc(2024, 3, 31, 1, 0, 0),
	    utc(2024, 4, 1, 1, 0, 0));
	next_is("59 1 * * *", loc(2024, 3, 30, 12, 0, 0),
	    utc(2024, 3, 31, 0, 59, 0));
	next_is("59 1 * * *", utc(2024, 3, 31, 0, 59, 0),
	    utc(2024, 3, 31, 23, 59, 0));
	/* Every 15 minutes: 02:00-02:45 and 03:00 collapse into one fire. */
	e[0] = utc(2024, 3, 31, 0, 45, 0);	/* 01:45 CET */
	e[1] = utc(2024, 3, 31, 1, 0, 0);	/* 03:00 CEST */
	e[2] = utc(2024, 3, 31, 1, 15, 0);	/* 03:15 CEST */
	chain_is("*/15 * * * *", utc(2024, 3, 31, 0, 30, 0), e, 3);
	/* Every 20 seconds. */
	e[0] = utc(2024, 3, 31, 0, 59, 40);
	e[1] = utc(2024, 3, 31, 1, 0, 0);
	e[2] = utc(2024, 3, 31, 1, 0, 20);
	chain_is("*/20 * * * * *", utc(2024, 3, 31, 0, 59, 30), e, 3);
	/* Midnight is unaffected. */
	e[0] = utc(2024, 3, 30, 23, 0, 0);	/* 00:00 CET */
	e[1] = utc(2024, 3, 31, 22, 0, 0);	/* 00:00 CEST */
	chain_is("@daily", loc(2024, 3, 30, 12, 0, 0), e, 2);
	/* Not in the gap: 04:00 runs normally, no extra fire at 03:00. */
	next_is("0 4 * * *", loc(2024, 3, 30, 12, 0, 0),
	    utc(2024, 3, 31, 2, 0, 0));
	/* Skipped hour, restricted to the transition day. */
	next_is("30 2 31 3 *", utc(2023, 6, 1, 0, 0, 0),
	    utc(2024, 3, 31, 1, 0, 0));
}
END_TEST

START_TEST(test_dst_berlin_fall)
{
	time_t	e[4];

	set_tz("Europe/Berlin");
	/* 2024-10-27 03:00 CEST -> 02:00 CET at 01:00 UTC. */
	e[0] = utc(2024, 10, 27, 0, 30, 0);	/* 02:30 CEST (first) */
	e[1] = utc(2024, 10, 28, 1, 30, 0);	/* 02:30 CET next day */
	chain_is("30 2 * * *", loc(2024, 10, 26, 12, 0, 0), e, 2);
	/* Hourly: 02:00 CEST, then 03:00 CET; no second 02:00. */
	e[0] = utc(2024, 10, 27, 0, 0, 0);	/* 02:00 CEST */
	e[1] = utc(2024, 10, 27, 2, 0, 0);	/* 03:00 CET */
	e[2] = utc(2024, 10, 27, 3, 0, 0);	/* 04:00 CET */
	chain_is("0 * * * *", utc(2024, 10, 26, 23, 30, 0), e, 3);
	next_is("*/15 * * * *", utc(2024, 10, 27, 0, 45, 0),
	    utc(2024, 10, 27, 2, 0, 0));
	next_is("0 3 * * *", loc(2024, 10, 26, 12, 0, 0),
	    utc(2024, 10, 27, 2, 0, 0));
	next_is("0 2 * * *", loc(2024, 10, 26, 12, 0, 0),
	    utc(2024, 10, 27, 0, 0, 0));
	next_is("0 2 * * *", utc(2024, 10, 27, 0, 0, 0),
	    utc(2024, 10, 28, 1, 0, 0));
	/* Asked during the repeated hour (02:10 CET). */
	next_is("*/15 * * * *", utc(2024, 10, 27, 1, 10, 0),
	    utc(2024, 10, 27, 2, 0, 0));
	next_is("30 2 * * *", utc(2024, 10, 27, 1, 10, 0),
	    utc(2024, 10, 28, 1, 30, 0));
	next_is("0 3 * * *", utc(2024, 10, 27, 1, 10, 0),
	    utc(2024, 10, 27, 2, 0, 0));
	next_is("* * * * * *", utc(2024, 10, 27, 1, 0, 0),
	    utc(2024, 10, 27, 2, 0, 0));
	next_is("* * * * * *", utc(2024, 10, 27, 0, 59, 58),
	    utc(2024, 10, 27, 0, 59, 59));
	next_is("* * * * * *", utc(2024, 10, 27, 0, 59, 59),
	    utc(2024, 10, 27, 2, 0, 0));
	next_is("* * * * * *", utc(2024, 10, 27, 1, 59, 59),
	    utc(2024, 10, 27, 2, 0, 0));
}
END_TEST

START_TEST(test_dst_new_york_spring)
{
	time_t	e[3];

	set_tz("America/New_York");
	/* 2024-03-10 02:00 EST -> 03:00 EDT at 07:00 UTC. */
	e[0] = utc(2024, 3, 9, 7, 30, 0);	/* 02:30 EST */
	e[1] = utc(2024, 3, 10, 7, 0, 0);	/* 03:00 EDT, once */
	e[2] = utc(2024, 3, 11, 6, 30, 0);	/* 02:30 EDT */
	chain_is("30 2 * * *", loc(2024, 3, 8, 12, 0, 0), e, 3);
	e[0] = utc(2024, 3, 10, 6, 45, 0);	/* 01:45 EST */
	e[1] = utc(2024, 3, 10, 7, 0, 0);	/* 03:00 EDT */
	e[2] = utc(2024, 3, 10, 7, 15, 0);	/* 03:15 EDT */
	chain_is("*/15 * * * *", utc(2024, 3, 10, 6, 40, 0), e, 3);
	e[0] = utc(2024, 3, 10, 6, 0, 0);	/* 01:00 EST */
	e[1] = utc(2024, 3, 10, 7, 0, 0);	/* 03:00 EDT */
	e[2] = utc(2024, 3, 10, 8, 0, 0);	/* 04:00 EDT */
	chain_is("0 * * * *", utc(2024, 3, 10, 5, 30, 0), e, 3);
	e[0] = utc(2024, 3, 10, 5, 0, 0);	/* 00:00 EST */
	e[1] = utc(2024, 3, 11, 4, 0, 0);	/* 00:00 EDT */
	chain_is("@daily", loc(2024, 3, 9, 12, 0, 0), e, 2);
}
END_TEST

START_TEST(test_dst_new_york_fall)
{
	struct cron	c = parse_ok("30 1 * * *");
	time_t		e[3], t, end;
	int		n;

	set_tz("America/New_York");
	/* 2024-11-03 02:00 EDT -> 01:00 EST at 06:00 UTC. */
	e[0] = utc(2024, 11, 3, 5, 30, 0);	/* 01:30 EDT (first) */
	e[1] = utc(2024, 11, 4, 6, 30, 0);	/* 01:30 EST next day */
	chain_is("30 1 * * *", loc(2024, 11, 2, 12, 0, 0), e, 2);

	/* 01:30 fires exactly once on the transition day. */
	t = utc(2024, 11, 3, 4, 0, 0);		/* 00:00 EDT */
	end = utc(2024, 11, 4, 5, 0, 0);	/* 00:00 EST next day */
	for (n = 0; cron_next(&c, t, &t) == 0 && t < end; n++)
		;
	ck_assert_int_eq(n, 1);

	e[0] = utc(2024, 11, 3, 5, 0, 0);	/* 01:00 EDT */
	e[1] = utc(2024, 11, 3, 7, 0, 0);	/* 02:00 EST */
	e[2] = utc(2024, 11, 3, 8, 0, 0);	/* 03:00 EST */
	chain_is("0 * * * *", utc(2024, 11, 3, 4, 30, 0), e, 3);
	next_is("*/15 * * * *", utc(2024, 11, 3, 5, 45, 0),
	    utc(2024, 11, 3, 7, 0, 0));
	next_is("0 2 * * *", loc(2024, 11, 2, 12, 0, 0),
	    utc(2024, 11, 3, 7, 0, 0));
	next_is("0 2 * * *", utc(2024, 11, 3, 7, 0, 0),
	    utc(2024, 11, 4, 7, 0, 0));
	/* Asked during the repeated hour (01:10 EST). */
	next_is("*/15 * * * *", utc(2024, 11, 3, 6, 10, 0),
	    utc(2024, 11, 3, 7, 0, 0));
	next_is("30 1 * * *", utc(2024, 11, 3, 6, 10, 0),
	    utc(2024, 11, 4, 6, 30, 0));
	next_is("30 1 * * *", utc(2024, 11, 3, 6, 0, 0),
	    utc(2024, 11, 4, 6, 30, 0));
	next_is("30 1 * * *", utc(2024, 11, 3, 5, 59, 59),
	    utc(2024, 11, 4, 6, 30, 0));
	next_is("30 1 * * *", utc(2024, 11, 3, 5, 29, 59),
	    utc(2024, 11, 3, 5, 30, 0));
	/* Midnight unaffected. */
	e[0] = utc(2024, 11, 3, 4, 0, 0);	/* 00:00 EDT */
	e[1] = utc(2024, 11, 4, 5, 0, 0);	/* 00:00 EST */
	chain_is("@daily", loc(2024, 11, 2, 12, 0, 0), e, 2);
}
END_TEST

/*
 * Compare cron_next with a brute-force model, second by second over
 * [from, to]: an instant fires when the local clock reaches, for the first
 * time, a matching wall time (it may skip several in a gap).
 */
static void
oracle_check(const char *spec, time_t from, time_t to)
{
	struct cron	c = parse_ok(spec);
	int64_t		hwm, w, x;
	time_t		t, next;
	bool		fires;
	char		b1[96], b2[96];

	hwm = wall(from);
	ck_assert_int_eq(cron_next(&c, from, &next), 0);
	for (t = from + 1; t <= to; t++) {
		w = wall(t);
		fires = false;
		if (w > hwm) {
			for (x = hwm + 1; x <= w && !fires; x++)
				fires = wall_matches(&c, x);
			hwm = w;
		}
		if (fires) {
			REQUIRE(next == t, "\"%s\": expected fire at %s, "
			    "cron_next gave %s", spec, fmt(t, b1, sizeof b1),
			    fmt(next, b2, sizeof b2));
			REQUIRE(cron_next(&c, t, &next) == 0,
			    "\"%s\": cron_next failed", spec);
		} else {
			REQUIRE(next > t, "\"%s\": unexpected fire at %s",
			    spec, fmt(next, b1, sizeof b1));
		}
	}
}

static const char *const oracle_specs[] = {
	"* * * * *",
	"*/15 * * * *",
	"0 * * * *",
	"30 * * * *",
	"30 2 * * *",
	"30 1 * * *",
	"0 2 * * *",
	"0 3 * * *",
	"15,45 1-3 * * *",
	"*/7 * * * * *",
	"0 0 * * *",
	"59 59 1 * * *",
};

static const struct {
	const char	*tz;
	int		 y, m, d, h;	/* UTC, near a transition */
} oracle_points[] = {
	{ "Europe/Berlin", 2024, 3, 31, 1 },
	{ "Europe/Berlin", 2024, 10, 27, 1 },
	{ "America/New_York", 2024, 3, 10, 7 },
	{ "America/New_York", 2024, 11, 3, 6 },
	{ "Australia/Lord_Howe", 2024, 4, 6, 15 },	/* back 30 min */
	{ "Australia/Lord_Howe", 2024, 10, 5, 15 },	/* forward 30 min */
	/* Transitions a day or less apart (POSIX rules, not in tzdata). */
	{ "XST-1XDT,J80/2,J81/2", 2024, 3, 21, 1 },	/* 1 day of DST */
	{ "XST-1XDT,J80/2,J81/2", 2024, 3, 22, 0 },
	{ "XST-1XDT-3,J80/2,J80/3", 2024, 3, 21, 0 },	/* +3, inverted */
};

START_TEST(test_dst_oracle)
{
	size_t	i;
	time_t	center;

	for (i = 0; i < sizeof oracle_points / sizeof oracle_points[0]; i++) {
		set_tz(oracle_points[i].tz);
		center = utc(oracle_points[i].y, oracle_points[i].m,
		    oracle_points[i].d, oracle_points[i].h, 0, 0);
		oracle_check(oracle_specs[_i], center - 2 * 3600 - 17,
		    center + 2 * 3600);
	}
}
END_TEST

/*
 * Iterate cron_next n times from start: results strictly increase in real
 * and wall time, and each one matches, or is a spring-forward transition
 * that skipped a matching wall time.
 */
static void
check_sequence(const char *spec, time_t start, int n)
{
	struct cron	c = parse_ok(spec);
	struct tm	tm;
	time_t		prev = start, t;
	int64_t		w, wprev = 0, wb, x;
	bool		found;
	char		b1[96], b2[96];
	int		i;

	for (i = 0; i < n; i++) {
		REQUIRE(cron_next(&c, prev, &t) == 0,
		    "\"%s\": cron_next failed after %s", spec,
		    fmt(prev, b1, sizeof b1));
		REQUIRE(t > prev, "\"%s\": %s not after %s", spec,
		    fmt(t, b1, sizeof b1), fmt(prev, b2, sizeof b2));
		w = wall(t);
		REQUIRE(i == 0 || w > wprev,
		    "\"%s\": wall time of %s repeats or goes back", spec,
		    fmt(t, b1, sizeof b1));
		REQUIRE(localtime_r(&t, &tm) != NULL, "localtime_r");
		if (!tm_matches(&c, &tm)) {
			wb = wall(t - 1);
			REQUIRE(wb + 1 < w, "\"%s\": %s does not match",
			    spec, fmt(t, b1, sizeof b1));
			found = false;
			for (x = wb + 1; x < w && !found; x++)
				found = wall_matches(&c, x);
			REQUIRE(found, "\"%s\": %s is a gap without "
			    "a match", spec, fmt(t, b1, sizeof b1));
		}
		prev = t;
		wprev = w;
	}
}

/* Schedules whose 10,000 fires span at least a year. */
static const char *const long_specs[] = {
	"0 * * * *",
	"30 2 * * *",
	"30 1 * * *",
	"*/30 0-3 * * *",
	"15,45 1-3 * * *",
	"0 0 13 * 5",
	"@daily",
	"0 9-17 * * mon-fri",
};

/* Dense schedules, started shortly before each transition. */
static const char *const dense_specs[] = {
	"* * * * *",
	"*/15 * * * *",
	"*/10 * * * * *",
	"*/7 */2 * * * *",
};

static const char *const seq_zones[] = {
	"Europe/Berlin",
	"America/New_York",
	"Australia/Lord_Howe",
	"UTC0",
};

START_TEST(test_dst_monotonic_long)
{
	size_t	i;

	for (i = 0; i < sizeof seq_zones / sizeof seq_zones[0]; i++) {
		set_tz(seq_zones[i]);
		check_sequence(long_specs[_i], loc(2024, 1, 1, 0, 0, 0),
		    10000);
	}
}
END_TEST

START_TEST(test_dst_monotonic_dense)
{
	static const struct {
		const char	*tz;
		int		 y, m, d, h;
	} points[] = {
		{ "Europe/Berlin", 2024, 3, 31, 1 },
		{ "Europe/Berlin", 2024, 10, 27, 1 },
		{ "America/New_York", 2024, 3, 10, 7 },
		{ "America/New_York", 2024, 11, 3, 6 },
		{ "Australia/Lord_Howe", 2024, 4, 6, 15 },
		{ "Australia/Lord_Howe", 2024, 10, 5, 15 },
		/*
		 * 3 hours of DST: outside what cron_next is exact for (see
		 * cron.h), but the sequence must still be sane.
		 */
		{ "XST-1XDT,J80/2,J80/5", 2024, 3, 21, 2 },
	};
	size_t	i;
	time_t	start;

	for (i = 0; i < sizeof points / sizeof points[0]; i++) {
		set_tz(points[i].tz);
		start = utc(points[i].y, points[i].m, points[i].d, points[i].h,
		    0, 0) - 3600;
		check_sequence(dense_specs[_i], start, 10000);
	}
}
END_TEST

/* cron_max_interval. */

START_TEST(test_interval_macros)
{
	struct cron	c;

	c = parse_ok("@hourly");
	ck_assert_int_eq(cron_max_interval(&c), 3600);
	c = parse_ok("@daily");
	ck_assert_int_eq(cron_max_interval(&c), DAY);
	c = parse_ok("@midnight");
	ck_assert_int_eq(cron_max_interval(&c), DAY);
	c = parse_ok("@weekly");
	ck_assert_int_eq(cron_max_interval(&c), 7 * DAY);
	c = parse_ok("@monthly");
	ck_assert_int_eq(cron_max_interval(&c), 31 * DAY);
	c = parse_ok("@yearly");
	ck_assert_int_eq(cron_max_interval(&c), 366 * DAY);
	c = parse_ok("@annually");
	ck_assert_int_eq(cron_max_interval(&c), 366 * DAY);
}
END_TEST

START_TEST(test_interval_misc)
{
	static const struct {
		const char	*spec;
		long		 want;
	} cases[] = {
		{ "* * * * *", 60 },
		{ "* * * * * *", 1 },
		{ "*/20 * * * * *", 20 },
		{ "0,30 * * * *", 1800 },
		{ "0,10 * * * *", 3000 },
		{ "5 0 * * * *", 3600 },
		{ "0 9-17 * * *", 16 * 3600 },
		{ "0 9-17 * * mon-fri", 64 * 3600 },
		{ "*/5 9-17 * * *", 15 * 3600 + 5 * 60 },
		{ "0 0 1,15 * *", 17 * DAY },
		{ "0 0 31 * *", 61 * DAY },
		{ "0 0 13 * 5", 7 * DAY },
		{ "0 0 * * 1,2", 6 * DAY },
		{ "0 0 1 1,7 *", 184 * DAY },
		{ "30 2 * * *", DAY },
		{ "0 12 1 * * *", DAY },
	};
	struct cron	c;
	size_t		i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		c = parse_ok(cases[i].spec);
		ck_assert_msg(cron_max_interval(&c) == cases[i].want,
		    "\"%s\": %ld, expected %ld", cases[i].spec,
		    cron_max_interval(&c), cases[i].want);
	}
	/* Feb 29: 2096 to 2104, as 2100 is not a leap year. */
	c = parse_ok("0 0 29 2 *");
	ck_assert_int_eq(cron_max_interval(&c),
	    (long)(utc(2104, 2, 29, 0, 0, 0) - utc(2096, 2, 29, 0, 0, 0)));
	c = parse_ok("0 0 13 * *");
	ck_assert_int_eq(cron_max_interval(&c), 31 * DAY);
	/* Never. */
	c = parse_ok("0 0 30 2 *");
	ck_assert_int_eq(cron_max_interval(&c), -1);
	memset(&c, 0, sizeof c);
	ck_assert_int_eq(cron_max_interval(&c), -1);
	ck_assert_int_eq(cron_max_interval(NULL), -1);
}
END_TEST

/* Simulated gaps (UTC) never exceed, and reach, cron_max_interval. */
START_TEST(test_interval_simulated)
{
	static const char *const specs[] = {
		"@hourly", "@daily", "@weekly", "@monthly", "@yearly",
		"0 9-17 * * mon-fri", "0 0 1,15 * *", "0 0 31 * *",
		"0 0 13 * 5", "*/7 */5 * * *", "15,45 1-3 * * *",
		"0 0 * * 1,2", "*/20 0 0 2 * *",
	};
	struct cron	c;
	time_t		t, prev, end;
	long		gap, max;
	size_t		i;

	set_tz("UTC0");
	end = utc(2026, 1, 1, 0, 0, 0);
	for (i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		c = parse_ok(specs[i]);
		max = 0;
		prev = utc(2020, 1, 1, 0, 0, 0);
		ck_assert_int_eq(cron_next(&c, prev, &prev), 0);
		while (prev < end) {
			REQUIRE(cron_next(&c, prev, &t) == 0, "%s", specs[i]);
			gap = (long)(t - prev);
			if (gap > max)
				max = gap;
			prev = t;
		}
		ck_assert_msg(max == cron_max_interval(&c),
		    "\"%s\": simulated %ld, cron_max_interval %ld", specs[i],
		    max, cron_max_interval(&c));
	}
}
END_TEST

/* Speed. */

static bool
under_valgrind(void)
{
	const char	*p = getenv("LD_PRELOAD");

	return (p != NULL && (strstr(p, "vgpreload") != NULL ||
	    strstr(p, "valgrind") != NULL));
}

START_TEST(test_perf)
{
	static const char *const specs[] = {
		"*/15 * * * *", "30 2 * * *", "0 0 29 2 *", "0 0 13 * 5",
		"0 9-17 * * mon-fri", "@yearly", "*/10 * * * * *",
	};
	struct cron	c;
	struct timespec	a, b;
	time_t		t, base;
	double		us, limit;
	size_t		i;
	int		n, calls = 0;

	set_tz("Europe/Berlin");
	base = utc(2024, 1, 1, 0, 0, 0);
	limit = under_valgrind() ? 5000.0 : 50.0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		c = parse_ok(specs[i]);
		for (n = 0; n < 2000; n++, calls++) {
			REQUIRE(cron_next(&c, base + n * 86413L, &t) == 0,
			    "%s", specs[i]);
		}
	}
	/* The worst case: nothing within 5 years. */
	c = parse_ok("0 0 30 2 *");
	for (n = 0; n < 2000; n++, calls++) {
		REQUIRE(cron_next(&c, n * 86400L, &t) == -1,
		    "0 0 30 2 * fired");
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	us = ((double)(b.tv_sec - a.tv_sec) * 1e6 +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e3) / calls;
	ck_assert_msg(us < limit, "%.2f us per cron_next call", us);

	/* cron_max_interval is called rarely, but must not be slow. */
	c = parse_ok("0 0 13 * 5");
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (n = 0; n < 20; n++) {
		REQUIRE(cron_max_interval(&c) == 7 * DAY,
		    "cron_max_interval");
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	us = ((double)(b.tv_sec - a.tv_sec) * 1e6 +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e3) / 20;
	ck_assert_msg(us < limit * 200, "%.0f us per cron_max_interval", us);
}
END_TEST

#define NELEM(a)	((int)(sizeof (a) / sizeof (a)[0]))

static Suite *
cron_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("cron");

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_all_stars);
	tcase_add_loop_test(tc, test_parse_bitmasks, 0, NELEM(bitmask_cases));
	tcase_add_test(tc, test_parse_names);
	tcase_add_test(tc, test_parse_sunday_7);
	tcase_add_test(tc, test_parse_star_flags);
	tcase_add_test(tc, test_parse_whitespace);
	tcase_add_test(tc, test_parse_macros);
	tcase_add_test(tc, test_parse_max_len);
	tcase_add_loop_test(tc, test_parse_reject, 0, NELEM(reject_cases));
	tcase_add_test(tc, test_parse_reject_null);
	tcase_add_test(tc, test_parse_error_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("next");
	tcase_add_test(tc, test_next_macros);
	tcase_add_test(tc, test_next_strictly_after);
	tcase_add_test(tc, test_next_month_ends);
	tcase_add_test(tc, test_next_leap);
	tcase_add_test(tc, test_next_impossible);
	tcase_add_test(tc, test_next_vixie_or);
	tcase_add_test(tc, test_next_and_rule);
	tcase_add_test(tc, test_next_seconds);
	tcase_add_test(tc, test_next_steps);
	tcase_add_test(tc, test_next_year_rollover);
	tcase_add_test(tc, test_next_weekday_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("dst");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_dst_berlin_spring);
	tcase_add_test(tc, test_dst_berlin_fall);
	tcase_add_test(tc, test_dst_new_york_spring);
	tcase_add_test(tc, test_dst_new_york_fall);
	tcase_add_loop_test(tc, test_dst_oracle, 0, NELEM(oracle_specs));
	tcase_add_loop_test(tc, test_dst_monotonic_long, 0,
	    NELEM(long_specs));
	tcase_add_loop_test(tc, test_dst_monotonic_dense, 0,
	    NELEM(dense_specs));
	suite_add_tcase(s, tc);

	tc = tcase_create("interval");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_interval_macros);
	tcase_add_test(tc, test_interval_misc);
	tcase_add_test(tc, test_interval_simulated);
	suite_add_tcase(s, tc);

	tc = tcase_create("perf");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_perf);
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(cron_suite());
	srunner_set_fork_status(sr, CK_FORK);	/* CK_FORK=no overrides */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
