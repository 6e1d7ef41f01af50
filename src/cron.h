/*
 * cron.h: cron schedule parsing and next-fire computation.
 *
 * Syntax: five fields "minute hour day-of-month month day-of-week", or six
 * with a leading "second" field.  A five-field spec fires at second 0.
 * Each field is a comma list of items; an item is "*", a number, a range
 * "a-b" (a <= b, no wrap-around), optionally followed by a step "/n"
 * (n >= 1); "a/n" means "a-max/n".  "?" is accepted in the day-of-month and
 * day-of-week fields only and means the same as "*".  Months may be given
 * as jan..dec and weekdays as sun..sat (case-insensitive, also in ranges
 * such as mon-fri); weekday 7 is Sunday, like 0.  Macros: @yearly,
 * @annually, @monthly, @weekly, @daily, @midnight and @hourly (any case);
 * @reboot is rejected.  Fields are separated by spaces or tabs; leading and
 * trailing white space (including a newline) is ignored.  Numbers have at
 * most 3 digits; a step may not exceed the number of values in its field
 * (60, 60, 24, 31, 12 and 8 for 0-7).
 *
 * Day matching follows Vixie cron: when both the day-of-month and the
 * day-of-week field are restricted, a day matches if EITHER matches;
 * otherwise both must match.  A field counts as unrestricted only if it is
 * exactly "*" or "?" (or "*" or "?" with a step of 1); unlike Vixie cron
 * and cronie, which look only at the first character, a star with a step
 * greater than 1 (every other day, say) is restricted.
 *
 * Time zones: cron_next works on local wall-clock time (localtime_r) and
 * fires at the first instant at which the local clock reaches, for the
 * first time, a wall time the schedule matches.  Consequently:
 *  - spring forward: wall times skipped by the gap (e.g. 02:00-02:59 when
 *    the clock jumps from 02:00 to 03:00) fire once, at the transition
 *    instant (03:00 local), and only if the schedule matches at least one
 *    skipped wall time or 03:00 itself; several skipped matches (such as
 *    02:00, 02:15, 02:30 and 02:45 for a job every 15 minutes) collapse
 *    into that one fire;
 *  - fall back: a wall time that occurs twice fires only at its first
 *    occurrence, for every schedule.  While the clock repeats an hour
 *    nothing fires, so "0 * * * *" fires at 01:00 (first occurrence) and
 *    then 02:00, two real hours later.
 * The sequence of fire times is therefore strictly increasing both in real
 * time and in local wall-clock time.  This is exact as long as the zone
 * changes its UTC offset at most once in any 48 hours, which holds for
 * every zone in tzdata from 1970 to 2040; with changes closer together
 * (possible with a contrived POSIX TZ rule) a wall time repeated by a
 * fall-back may fire at its second occurrence instead of its first.
 * Nothing is ever returned at or before `after`.
 */

#ifndef CRON_H
#define CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CRON_MAX_LEN 256

struct cron {
	uint64_t sec;   /* bit n set: second n (0-59) matches */
	uint64_t min;   /* 0-59 */
	uint32_t hour;  /* 0-23 */
	uint32_t mday;  /* 1-31 */
	uint16_t mon;   /* 1-12 */
	uint8_t  wday;  /* 0-6, Sunday = 0 */
	unsigned flags; /* CRON_F_* */
};

#define CRON_F_DOM_STAR 0x01  /* day-of-month field was unrestricted ('*' or '?') */
#define CRON_F_DOW_STAR 0x02
#define CRON_F_SECONDS  0x04  /* a 6-field spec with a leading seconds field */

/*
 * cron_parse: 0 on success (writes *ret only then); -1 with a short English
 * reason in err (never echo more than 32 chars of the input).  err may be
 * NULL or errlen 0; the message is truncated to errlen and NUL-terminated.
 * ret may be NULL to check the syntax only.
 * Specs longer than CRON_MAX_LEN characters are rejected.
 */
int cron_parse(const char *spec, struct cron *ret, char *err, size_t errlen);

/*
 * cron_next: the first instant strictly after `after` matching c, evaluated
 * in the process's local time zone (TZ/tzset, which the daemon sets).  0
 * and *ret_next on success; -1 when nothing matches within 5 years (e.g.
 * "0 0 30 2 *"; precisely: no matching wall time before the end of the
 * fifth calendar year after the one containing `after`, so "0 0 29 2 *"
 * gives -1 between 2096-02-29 and 2099-01-01 because 2100 is not a leap
 * year).  DST handling is described at the top of this file.
 */
int cron_next(const struct cron *c, time_t after, time_t *ret_next);

/*
 * cron_max_interval: an upper bound in seconds between two consecutive
 * fires (used to decide that a job is overdue); e.g. 86400 for @daily,
 * 7*86400 for @weekly, 31*86400 for @monthly, 366*86400 for @yearly.  The
 * value is exact and measured in wall-clock time over the whole 400-year
 * Gregorian cycle (so "0 0 29 2 *" gives the 8-year gap across 2100).  DST
 * can make a real interval longer by the size of the shift (one hour in
 * most zones), so callers should add that much slack.  -1 if c never fires.
 */
long cron_max_interval(const struct cron *c);

#endif /* CRON_H */
