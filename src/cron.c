/*
 * cron.c: cron schedule parsing and next-fire computation.
 *
 * cron_next searches in local wall-clock time ("civil" time: year, month,
 * day, hour, minute, second, with no time zone attached), skipping whole
 * months, days, hours and minutes that cannot match, and then maps the
 * matching wall time back to an instant with localtime_r.  See cron.h for
 * the DST rules; they all follow from one definition: a schedule fires at
 * the first instant at which the local clock reaches a matching wall time
 * for the first time.
 */

#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L	/* localtime_r, strnlen */
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cron.h"

#define CRON_MAX_DIGITS	3		/* longest number accepted */
#define CRON_ECHO_MAX	32		/* longest input echoed in errors */
#define CRON_YEARS	5		/* cron_next search horizon */
#define CRON_NFIELDS	6

#define SECS_PER_DAY	86400
#define DAYS_PER_CYCLE	146097		/* days in 400 Gregorian years */

#if defined(__GNUC__) || defined(__clang__)
#define CRON_PRINTFLIKE(a, b) __attribute__((__format__(__printf__, a, b)))
#else
#define CRON_PRINTFLIKE(a, b)
#endif

/* One of the six fields of a spec. */
struct cron_field {
	const char		 *name;
	int			  lo;
	int			  hi;
	const char *const	 *names;	/* 3-letter names, or NULL */
	int			  names_base;	/* value of names[0] */
	bool			  qmark;	/* '?' allowed */
};

enum {
	F_SEC,
	F_MIN,
	F_HOUR,
	F_MDAY,
	F_MON,
	F_WDAY
};

static const char *const cron_mon_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};

static const char *const cron_wday_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const struct cron_field cron_fields[CRON_NFIELDS] = {
	[F_SEC] =  { "second", 0, 59, NULL, 0, false },
	[F_MIN] =  { "minute", 0, 59, NULL, 0, false },
	[F_HOUR] = { "hour", 0, 23, NULL, 0, false },
	[F_MDAY] = { "day-of-month", 1, 31, NULL, 0, true },
	[F_MON] =  { "month", 1, 12, cron_mon_names, 1, false },
	[F_WDAY] = { "day-of-week", 0, 7, cron_wday_names, 0, true },
};

static const struct {
	const char	*name;
	const char	*spec;
} cron_macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* The field being parsed, for error messages. */
struct cron_ctx {
	char			*err;
	size_t			 errlen;
	const struct cron_field	*field;
	const char		*text;
	size_t			 len;
};

/* A local wall-clock time; mon is 1-12, mday 1-31. */
struct civil {
	int	year;
	int	mon;
	int	mday;
	int	hour;
	int	min;
	int	sec;
};

static int	cron_error(char *, size_t, const char *, size_t, const char *,
		    ...) CRON_PRINTFLIKE(5, 6);
static int	cron_field_error(const struct cron_ctx *, const char *, ...)
		    CRON_PRINTFLIKE(2, 3);

/* Parsing. */

static bool
cron_isspace(char ch)
{
	return (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	    ch == '\v' || ch == '\f');
}

static bool
cron_isdigit(char ch)
{
	return (ch >= '0' && ch <= '9');
}

static bool
cron_isalpha(char ch)
{
	return ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'));
}

static char
cron_tolower(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ((char)(ch - 'A' + 'a'));
	return (ch);
}

/* Case-insensitive comparison of s (len bytes) with lowercase name. */
static bool
cron_name_eq(const char *s, size_t len, const char *name)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (name[i] == '\0' || cron_tolower(s[i]) != name[i])
			return (false);
	}
	return (name[len] == '\0');
}

/*
 * Copy at most CRON_ECHO_MAX characters of text into buf (which must hold
 * CRON_ECHO_MAX + 4 bytes), replacing unprintable ones by '?' and marking
 * truncation with "...".
 */
static void
cron_echo(char *buf, const char *text, size_t len)
{
	size_t	i, n;

	n = len > CRON_ECHO_MAX ? CRON_ECHO_MAX : len;
	for (i = 0; i < n; i++) {
		if (text[i] >= 0x20 && text[i] < 0x7f)
			buf[i] = text[i];
		else
			buf[i] = '?';
	}
	if (n < len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

/*
 * Write an error message to err, followed by the quoted text if text is
 * not NULL.  Always returns -1.
 */
static int
cron_error(char *err, size_t errlen, const char *text, size_t len,
    const char *fmt, ...)
{
	char	echo[CRON_ECHO_MAX + 4];
	size_t	off;
	va_list	ap;

	if (err == NULL || errlen == 0)
		return (-1);
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (text != NULL) {
		off = strlen(err);
		cron_echo(echo, text, len);
		snprintf(err + off, errlen - off, ": \"%s\"", echo);
	}
	return (-1);
}

/* Error in a field: "<field> field "<text>": <message>". Returns -1. */
static int
cron_field_error(const struct cron_ctx *ctx, const char *fmt, ...)
{
	char	echo[CRON_ECHO_MAX + 4], msg[128];
	va_list	ap;

	if (ctx->err == NULL || ctx->errlen == 0)
		return (-1);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cron_echo(echo, ctx->text, ctx->len);
	snprintf(ctx->err, ctx->errlen, "%s field \"%s\": %s",
	    ctx->field->name, echo, msg);
	return (-1);
}

/* Parse an unsigned decimal number at *pp. */
static int
cron_parse_number(const struct cron_ctx *ctx, const char **pp,
    const char *end, int *ret, const char *what)
{
	const char	*p = *pp;
	int		 n = 0, digits = 0;

	if (p == end || !cron_isdigit(*p))
		return (cron_field_error(ctx, "%s expected", what));
	while (p < end && cron_isdigit(*p)) {
		if (++digits > CRON_MAX_DIGITS)
			return (cron_field_error(ctx, "number too long"));
		n = n * 10 + (*p - '0');
		p++;
	}
	*ret = n;
	*pp = p;
	return (0);
}

/* Parse a value (number or name) at *pp and check its range. */
static int
cron_parse_value(const struct cron_ctx *ctx, const char **pp,
    const char *end, int *ret)
{
	const struct cron_field	*f = ctx->field;
	const char		*p = *pp, *start;
	int			 i;

	if (p < end && cron_isalpha(*p)) {
		if (f->names == NULL) {
			return (cron_field_error(ctx,
			    "names are not allowed here"));
		}
		start = p;
		while (p < end && cron_isalpha(*p))
			p++;
		for (i = 0; f->names[i] != NULL; i++) {
			if (cron_name_eq(start, (size_t)(p - start),
			    f->names[i]))
				break;
		}
		if (f->names[i] == NULL)
			return (cron_field_error(ctx, "unknown name"));
		*ret = f->names_base + i;
		*pp = p;
		return (0);
	}

	if (cron_parse_number(ctx, &p, end, ret, "number") != 0)
		return (-1);
	if (*ret < f->lo || *ret > f->hi) {
		return (cron_field_error(ctx, "value out of range (%d-%d)",
		    f->lo, f->hi));
	}
	*pp = p;
	return (0);
}

/*
 * Parse one list item (between p and end) and set its bits.  *star is set
 * if the item is '*' or '?' with step 1.
 */
static int
cron_parse_item(const struct cron_ctx *ctx, const char *p, const char *end,
    uint64_t *bits, bool *star)
{
	const struct cron_field	*f = ctx->field;
	int			 a, b, step = 1, v;
	bool			 isstar = false, range = false;

	if (p == end)
		return (cron_field_error(ctx, "empty list element"));
	if (*p == '*' || *p == '?') {
		if (*p == '?' && !f->qmark) {
			return (cron_field_error(ctx,
			    "'?' is only allowed in the day fields"));
		}
		a = f->lo;
		b = f->hi;
		isstar = true;
		p++;
	} else {
		if (cron_parse_value(ctx, &p, end, &a) != 0)
			return (-1);
		b = a;
		if (p < end && *p == '-') {
			p++;
			if (cron_parse_value(ctx, &p, end, &b) != 0)
				return (-1);
			if (a > b) {
				return (cron_field_error(ctx,
				    "range start is after range end"));
			}
			range = true;
		}
	}
	if (p < end && *p == '/') {
		p++;
		if (cron_parse_number(ctx, &p, end, &step, "step") != 0)
			return (-1);
		if (step == 0)
			return (cron_field_error(ctx, "step must not be 0"));
		if (step > f->hi - f->lo + 1) {
			return (cron_field_error(ctx, "step too large (max %d)",
			    f->hi - f->lo + 1));
		}
		if (!isstar && !range)
			b = f->hi;	/* "a/n" is "a-max/n" */
	}
	if (p != end)
		return (cron_field_error(ctx, "unexpected character"));

	for (v = a; v <= b; v += step)
		*bits |= (uint64_t)1 << v;
	*star = isstar && step == 1;
	return (0);
}

/* Parse a comma list; *star is set if the field is unrestricted. */
static int
cron_parse_field(const struct cron_ctx *ctx, uint64_t *bits, bool *star)
{
	const char	*p = ctx->text, *end = ctx->text + ctx->len, *comma;
	int		 items = 0;
	bool		 item_star = false;

	*bits = 0;
	for (;;) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma == NULL)
			comma = end;
		if (cron_parse_item(ctx, p, comma, bits, &item_star) != 0)
			return (-1);
		items++;
		if (comma == end)
			break;
		p = comma + 1;
	}
	*star = items == 1 && item_star;
	return (0);
}

static int
cron_parse_macro(const char *p, const char *end, struct cron *ret,
    char *err, size_t errlen)
{
	const char	*q;
	size_t		 i, len = (size_t)(end - p);

	for (q = p; q < end; q++) {
		if (cron_isspace(*q)) {
			return (cron_error(err, errlen, p, len,
			    "unexpected text after macro"));
		}
	}
	if (cron_name_eq(p, len, "@reboot")) {
		return (cron_error(err, errlen, NULL, 0,
		    "@reboot is not supported"));
	}
	for (i = 0; i < sizeof cron_macros / sizeof cron_macros[0]; i++) {
		if (cron_name_eq(p, len, cron_macros[i].name)) {
			return (cron_parse(cron_macros[i].spec, ret, err,
			    errlen));
		}
	}
	return (cron_error(err, errlen, p, len, "unknown macro"));
}

int
cron_parse(const char *spec, struct cron *ret, char *err, size_t errlen)
{
	struct cron	 c;
	struct cron_ctx	 ctx;
	const char	*p, *end, *tok[CRON_NFIELDS];
	size_t		 len, toklen[CRON_NFIELDS];
	uint64_t	 bits;
	int		 nf, i, first;
	bool		 star;

	if (err != NULL && errlen != 0)
		err[0] = '\0';
	if (spec == NULL)
		return (cron_error(err, errlen, NULL, 0, "no schedule"));
	len = strnlen(spec, CRON_MAX_LEN + 1);
	if (len > CRON_MAX_LEN) {
		return (cron_error(err, errlen, NULL, 0,
		    "schedule too long (max %d characters)", CRON_MAX_LEN));
	}

	p = spec;
	end = spec + len;
	while (p < end && cron_isspace(*p))
		p++;
	while (end > p && cron_isspace(end[-1]))
		end--;
	if (p == end)
		return (cron_error(err, errlen, NULL, 0, "empty schedule"));
	if (*p == '@')
		return (cron_parse_macro(p, end, ret, err, errlen));

	nf = 0;
	while (p < end) {
		if (nf == CRON_NFIELDS) {
			return (cron_error(err, errlen, NULL, 0,
			    "too many fields (expected 5 or 6)"));
		}
		tok[nf] = p;
		while (p < end && !cron_isspace(*p))
			p++;
		toklen[nf] = (size_t)(p - tok[nf]);
		nf++;
		while (p < end && cron_isspace(*p))
			p++;
	}
	if (nf < CRON_NFIELDS - 1) {
		return (cron_error(err, errlen, NULL, 0,
		    "too few fields (expected 5 or 6)"));
	}

	memset(&c, 0, sizeof c);
	c.sec = 1;
	first = nf == CRON_NFIELDS ? F_SEC : F_MIN;
	if (nf == CRON_NFIELDS)
		c.flags |= CRON_F_SECONDS;
	ctx.err = err;
	ctx.errlen = errlen;
	for (i = 0; i < nf; i++) {
		ctx.field = &cron_fields[first + i];
		ctx.text = tok[i];
		ctx.len = toklen[i];
		if (cron_parse_field(&ctx, &bits, &star) != 0)
			return (-1);
		switch (first + i) {
		case F_SEC:
			c.sec = bits;
			break;
		case F_MIN:
			c.min = bits;
			break;
		case F_HOUR:
			c.hour = (uint32_t)bits;
			break;
		case F_MDAY:
			c.mday = (uint32_t)bits;
			if (star)
				c.flags |= CRON_F_DOM_STAR;
			break;
		case F_MON:
			c.mon = (uint16_t)bits;
			break;
		case F_WDAY:
			if (bits & (1U << 7))
				bits = (bits | 1U) & ~(uint64_t)(1U << 7);
			c.wday = (uint8_t)bits;
			if (star)
				c.flags |= CRON_F_DOW_STAR;
			break;
		}
	}
	if (ret != NULL)
		*ret = c;
	return (0);
}

/* Calendar arithmetic. */

static bool
cron_leap(int y)
{
	return ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0);
}

static int
cron_mdays(int y, int m)
{
	static const int	days[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && cron_leap(y))
		return (29);
	return (days[m - 1]);
}

/*
 * Days from 1970-01-01 to y-m-d (proleptic Gregorian).  Counts from a
 * year that starts on March 1 so that the leap day comes last.
 */
static int64_t
cron_days(int y, int m, int d)
{
	int64_t	yy, cycle, yoc, doy;

	yy = (int64_t)y - (m <= 2);
	cycle = (yy >= 0 ? yy : yy - 399) / 400;
	yoc = yy - cycle * 400;				/* 0-399 */
	doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;	/* 0-365 */
	return (cycle * DAYS_PER_CYCLE + yoc * 365 + yoc / 4 - yoc / 100 +
	    doy - 719468);
}

/* Day of week, Sunday = 0; 1970-01-01 was a Thursday. */
static int
cron_weekday(int y, int m, int d)
{
	int64_t	w;

	w = (cron_days(y, m, d) + 4) % 7;
	return ((int)(w < 0 ? w + 7 : w));
}

/* Wall-clock seconds since 1970-01-01 00:00:00 (no zone). */
static int64_t
cron_civil_secs(const struct civil *t)
{
	return (cron_days(t->year, t->mon, t->mday) * SECS_PER_DAY +
	    t->hour * 3600 + t->min * 60 + t->sec);
}

static void
cron_civil_next_day(struct civil *t)
{
	t->hour = t->min = t->sec = 0;
	if (++t->mday > cron_mdays(t->year, t->mon)) {
		t->mday = 1;
		if (++t->mon > 12) {
			t->mon = 1;
			t->year++;
		}
	}
}

static void
cron_civil_next_hour(struct civil *t)
{
	t->min = t->sec = 0;
	if (++t->hour > 23)
		cron_civil_next_day(t);
}

static void
cron_civil_next_min(struct civil *t)
{
	t->sec = 0;
	if (++t->min > 59)
		cron_civil_next_hour(t);
}

static void
cron_civil_next_sec(struct civil *t)
{
	if (++t->sec > 59)
		cron_civil_next_min(t);
}

/* Local wall time of instant t. */
static int
cron_local(time_t t, struct civil *ret)
{
	struct tm	tm;

	if (localtime_r(&t, &tm) == NULL)
		return (-1);
	if (tm.tm_year < -1000000 || tm.tm_year > 1000000)
		return (-1);	/* keep year arithmetic far from overflow */
	ret->year = tm.tm_year + 1900;
	ret->mon = tm.tm_mon + 1;
	ret->mday = tm.tm_mday;
	ret->hour = tm.tm_hour;
	ret->min = tm.tm_min;
	ret->sec = tm.tm_sec > 59 ? 59 : tm.tm_sec;	/* leap second */
	return (0);
}

/* Local wall time of instant t in wall-clock seconds. */
static int
cron_wall(int64_t t, int64_t *ret)
{
	struct civil	c;

	if ((int64_t)(time_t)t != t || cron_local((time_t)t, &c) != 0)
		return (-1);
	*ret = cron_civil_secs(&c);
	return (0);
}

/* Schedule matching. */

static bool
cron_bit(uint64_t mask, int n)
{
	return ((mask >> n) & 1);
}

/* Lowest set bit n with from <= n <= to, or -1. */
static int
cron_next_bit(uint64_t mask, int from, int to)
{
	int	n;

	for (n = from; n <= to; n++) {
		if (cron_bit(mask, n))
			return (n);
	}
	return (-1);
}

/* Does day-of-month d, which falls on weekday wd, match? */
static bool
cron_day_matches(const struct cron *c, int d, int wd)
{
	bool	dom, dow;

	dom = cron_bit(c->mday, d);
	dow = cron_bit(c->wday, wd);
	if ((c->flags & (CRON_F_DOM_STAR | CRON_F_DOW_STAR)) == 0)
		return (dom || dow);
	return (dom && dow);
}

/* Does c contain at least one value in every field? */
static bool
cron_valid(const struct cron *c)
{
	return (cron_next_bit(c->sec, 0, 59) != -1 &&
	    cron_next_bit(c->min, 0, 59) != -1 &&
	    cron_next_bit(c->hour, 0, 23) != -1 &&
	    cron_next_bit(c->mday, 1, 31) != -1 &&
	    cron_next_bit(c->mon, 1, 12) != -1 &&
	    cron_next_bit(c->wday, 0, 6) != -1);
}

/*
 * Advance t to the first wall time >= t matching c.  -1 if there is none
 * up to the end of year ylimit.
 */
static int
cron_match(const struct cron *c, struct civil *t, int ylimit)
{
	int	n;

	for (;;) {
		if (t->year > ylimit)
			return (-1);
		if (!cron_bit(c->mon, t->mon)) {
			n = cron_next_bit(c->mon, t->mon + 1, 12);
			if (n == -1) {
				t->year++;
				n = cron_next_bit(c->mon, 1, 12);
			}
			t->mon = n;
			t->mday = 1;
			t->hour = t->min = t->sec = 0;
			continue;
		}
		if (t->mday > cron_mdays(t->year, t->mon)) {
			t->mday = cron_mdays(t->year, t->mon);
			cron_civil_next_day(t);
			continue;
		}
		if (!cron_day_matches(c, t->mday,
		    cron_weekday(t->year, t->mon, t->mday))) {
			if ((c->flags & (CRON_F_DOM_STAR |
			    CRON_F_DOW_STAR)) != 0 && c->wday == 0x7f) {
				/* Only day-of-month matters: jump. */
				n = cron_next_bit(c->mday, t->mday + 1, 31);
				t->hour = t->min = t->sec = 0;
				if (n != -1 &&
				    n <= cron_mdays(t->year, t->mon)) {
					t->mday = n;
					continue;
				}
				t->mday = cron_mdays(t->year, t->mon);
			}
			cron_civil_next_day(t);
			continue;
		}
		if (!cron_bit(c->hour, t->hour)) {
			n = cron_next_bit(c->hour, t->hour + 1, 23);
			if (n == -1) {
				cron_civil_next_day(t);
				continue;
			}
			t->hour = n;
			t->min = t->sec = 0;
		}
		if (!cron_bit(c->min, t->min)) {
			n = cron_next_bit(c->min, t->min + 1, 59);
			if (n == -1) {
				cron_civil_next_hour(t);
				continue;
			}
			t->min = n;
			t->sec = 0;
		}
		if (!cron_bit(c->sec, t->sec)) {
			n = cron_next_bit(c->sec, t->sec + 1, 59);
			if (n == -1) {
				cron_civil_next_min(t);
				continue;
			}
			t->sec = n;
		}
		return (0);
	}
}

/*
 * First instant in (lo, hi] whose wall time is >= w, given that the wall
 * time at lo is < w and at hi is >= w; assumes at most one offset change
 * in between.
 */
static int
cron_bisect(int64_t lo, int64_t hi, int64_t w, int64_t *ret)
{
	int64_t	mid, wall;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (cron_wall(mid, &wall) != 0)
			return (-1);
		if (wall >= w)
			hi = mid;
		else
			lo = mid;
	}
	*ret = hi;
	return (0);
}

/*
 * The first instant at which the local wall clock reads w or later: the
 * instant of w itself, the first one if w occurs twice, or the end of the
 * gap if w is skipped.
 */
static int
cron_reach(int64_t w, int64_t *ret)
{
	int64_t	oa, ob, ta, tb, wa, wb, wall, prev, t;

	/*
	 * Offsets a day either side; with at most one transition near w,
	 * w happens at w - oa or w - ob (or in a gap between them).
	 */
	if (cron_wall(w - SECS_PER_DAY, &oa) != 0 ||
	    cron_wall(w + SECS_PER_DAY, &ob) != 0)
		return (-1);
	oa -= w - SECS_PER_DAY;
	ob -= w + SECS_PER_DAY;

	ta = w - oa;
	if (cron_wall(ta, &wa) != 0)
		return (-1);
	if (wa == w) {
		*ret = ta;
		return (0);
	}
	tb = w - ob;
	if (cron_wall(tb, &wb) != 0)
		return (-1);
	if (wb == w) {
		*ret = tb;
		return (0);
	}
	/* In a gap: the clock jumps past w between tb and ta. */
	if (oa < ob && wb < w && wa > w)
		return (cron_bisect(tb, ta, w, ret));

	/*
	 * Several transitions close together: scan minute by minute from
	 * before the earliest possible instant, then bisect.
	 */
	prev = w - 27 * 3600;
	if (cron_wall(prev, &wall) != 0 || wall >= w)
		return (-1);
	for (t = prev + 60; t <= w + 27 * 3600; t += 60) {
		if (cron_wall(t, &wall) != 0)
			return (-1);
		if (wall >= w)
			return (cron_bisect(t - 60, t, w, ret));
	}
	return (-1);
}

/*
 * The last instant in [t, after) before the clock went back, given that the
 * wall time at after is below the one at t; assumes one offset change in
 * between.  Its wall time is the highest one reached in [t, after].
 */
static int
cron_last_before_back(int64_t t, int64_t after, int64_t *ret)
{
	int64_t	lo = t, hi = after, mid, wall, off;

	if (cron_wall(t, &wall) != 0)
		return (-1);
	off = wall - t;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (cron_wall(mid, &wall) != 0)
			return (-1);
		if (wall - mid == off)
			lo = mid;
		else
			hi = mid;
	}
	*ret = lo;
	return (0);
}

int
cron_next(const struct cron *c, time_t after, time_t *ret_next)
{
	struct civil	start, w, high;
	int64_t		ws, t, last;
	int		ylimit, i;

	if (c == NULL || !cron_valid(c))
		return (-1);
	if (cron_local(after, &start) != 0)
		return (-1);
	cron_civil_next_sec(&start);
	ylimit = start.year + CRON_YEARS;

	/* Normally one round; more only in the repeated hour of a fall-back. */
	for (i = 0; i < 16; i++) {
		w = start;
		if (cron_match(c, &w, ylimit) != 0)
			return (-1);
		ws = cron_civil_secs(&w);
		if (cron_reach(ws, &t) != 0)
			return (-1);
		if (t > (int64_t)after) {
			if ((int64_t)(time_t)t != t)
				return (-1);
			*ret_next = (time_t)t;
			return (0);
		}

		/*
		 * w was already reached at or before after, so the clock has
		 * gone back since (we are in the repeated part of a
		 * fall-back).  Everything up to the highest wall time reached
		 * so far has had its turn: continue after it.
		 */
		if (cron_last_before_back(t, (int64_t)after, &last) != 0 ||
		    cron_local((time_t)last, &high) != 0)
			return (-1);
		start = cron_civil_secs(&high) > ws ? high : w;
		cron_civil_next_sec(&start);
	}
	return (-1);
}

/*
 * The largest distance between consecutive set bits of mask in [lo, hi]
 * (0 if fewer than two are set); the first and last set bits go to *first
 * and *last.
 */
static int
cron_bits_gap(uint64_t mask, int lo, int hi, int *first, int *last)
{
	int	n, prev = -1, gap = 0;

	*first = -1;
	for (n = lo; n <= hi; n++) {
		if (!cron_bit(mask, n))
			continue;
		if (prev == -1)
			*first = n;
		else if (n - prev > gap)
			gap = n - prev;
		prev = n;
	}
	*last = prev;
	return (gap);
}

/*
 * Fires happen at every time of day in hour x minute x second on every
 * matching day.  So the longest interval is either inside a day (between
 * consecutive seconds, minutes or hours) or between the last fire of a day
 * and the first fire of the next matching day.  Matching days repeat with
 * the 400-year Gregorian cycle (146097 days, a whole number of weeks), so
 * one cycle is scanned.
 */
long
cron_max_interval(const struct cron *c)
{
	int64_t	day, prev = -1, first = -1, gap = 0, best, v;
	int	sg, sf, sl, mg, mf, ml, hg, hf, hl, y, m, d, wd, md;
	int	sod_first, sod_last;

	if (c == NULL || !cron_valid(c))
		return (-1);
	sg = cron_bits_gap(c->sec, 0, 59, &sf, &sl);
	mg = cron_bits_gap(c->min, 0, 59, &mf, &ml);
	hg = cron_bits_gap(c->hour, 0, 23, &hf, &hl);

	day = 0;
	wd = cron_weekday(2000, 1, 1);
	for (y = 2000; y < 2400; y++) {
		for (m = 1; m <= 12; m++) {
			md = cron_mdays(y, m);
			if (!cron_bit(c->mon, m)) {
				day += md;
				wd = (wd + md) % 7;
				continue;
			}
			for (d = 1; d <= md; d++, day++, wd = (wd + 1) % 7) {
				if (!cron_day_matches(c, d, wd))
					continue;
				if (prev == -1)
					first = day;
				else if (day - prev > gap)
					gap = day - prev;
				prev = day;
			}
		}
	}
	if (prev == -1)
		return (-1);
	if (first + DAYS_PER_CYCLE - prev > gap)
		gap = first + DAYS_PER_CYCLE - prev;

	sod_first = hf * 3600 + mf * 60 + sf;
	sod_last = hl * 3600 + ml * 60 + sl;
	best = gap * SECS_PER_DAY - (sod_last - sod_first);
	if (hg > 0) {
		v = (int64_t)hg * 3600 - ((ml * 60 + sl) - (mf * 60 + sf));
		if (v > best)
			best = v;
	}
	if (mg > 0) {
		v = (int64_t)mg * 60 - (sl - sf);
		if (v > best)
			best = v;
	}
	if (sg > best)
		best = sg;
	return ((long)best);
}
