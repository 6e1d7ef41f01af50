/*
 * util.c: small helpers every module uses.
 */
#include "config.h"

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static void __attribute__((noreturn))
oom(void)
{
	static const char msg[] = "pgmig: out of memory\n";

	(void)!write(2, msg, sizeof(msg) - 1);
	abort();
}

/* xmalloc: malloc that aborts instead of returning NULL. */
void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		oom();
	return p;
}

/* xcalloc: calloc that aborts instead of returning NULL. */
void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);

	if (p == NULL)
		oom();
	return p;
}

/* xreallocarray: overflow-checked realloc that aborts on failure. */
void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		oom();
	p = realloc(p, nmemb * size == 0 ? 1 : nmemb * size);
	if (p == NULL)
		oom();
	return p;
}

/* xstrdup: strdup that aborts instead of returning NULL. */
char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

/* xvasprintf: vasprintf that aborts instead of failing. */
int
xvasprintf(char **ret, const char *fmt, va_list ap)
{
	int n = vasprintf(ret, fmt, ap);

	if (n < 0)
		oom();
	return n;
}

/* xasprintf: asprintf that aborts instead of failing. */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = xvasprintf(ret, fmt, ap);
	va_end(ap);
	return n;
}

/* strlcpy_: copy with truncation, always NUL-terminated; returns strlen(src). */
size_t
strlcpy_(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len >= size ? size - 1 : len;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

static const struct {
	const char *unit;
	int64_t ms;
} duration_units[] = {
	{ "ms", 1 },
	{ "s", 1000 },
	{ "min", 60 * 1000 },
	{ "h", 60 * 60 * 1000 },
	{ "d", 24 * 60 * 60 * 1000 },
};

/*
 * duration_parse: parse a postgresql.conf style duration ("250ms", "5s",
 * "10min", "2h", "7d", or "0" for none) into milliseconds.  Whitespace
 * between number and unit is allowed.  On error returns -1 and points
 * *ret_err at a static reason; *ret_ms is written only on success.
 */
int
duration_parse(const char *s, int64_t *ret_ms, const char **ret_err)
{
	const char *p = s;
	int64_t v = 0;
	size_t i;

	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p)) {
		*ret_err = "a duration is a number with a unit: 250ms, 5s, 10min, 2h, 7d, or 0";
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (INT64_MAX - 9) / 10) {
			*ret_err = "duration is too large";
			return -1;
		}
		v = v * 10 + (*p - '0');
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0') {
		if (v != 0) {
			*ret_err = "a duration needs a unit: ms, s, min, h or d";
			return -1;
		}
		*ret_ms = 0;
		return 0;
	}
	for (i = 0; i < nitems(duration_units); i++) {
		size_t n = strlen(duration_units[i].unit);

		if (strncmp(p, duration_units[i].unit, n) != 0)
			continue;
		p += n;
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '\0')
			break;
		if (v > INT64_MAX / duration_units[i].ms) {
			*ret_err = "duration is too large";
			return -1;
		}
		*ret_ms = v * duration_units[i].ms;
		return 0;
	}
	*ret_err = "unknown duration unit (use ms, s, min, h or d)";
	return -1;
}

/* duration_format: the shortest exact spelling of ms, e.g. "90s", "5min". */
void
duration_format(int64_t ms, char *buf, size_t len)
{
	size_t i;

	if (ms == 0) {
		strlcpy_(buf, "0", len);
		return;
	}
	for (i = nitems(duration_units); i-- > 0;) {
		if (ms % duration_units[i].ms == 0) {
			snprintf(buf, len, "%lld%s",
			    (long long)(ms / duration_units[i].ms),
			    duration_units[i].unit);
			return;
		}
	}
}

/* time_rfc3339: format t as RFC 3339 in UTC ("2026-01-02T03:04:05Z"). */
void
time_rfc3339(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy_(buf, "", len);
}

/* now_ms: the monotonic clock in milliseconds, for durations. */
int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * ident_valid: a name we accept for databases and jobs in the config:
 * letters, digits, '_', '-' and '.', starting with a letter or digit.
 */
bool
ident_valid(const char *s, size_t maxlen)
{
	size_t n = 0;

	if (!isalnum((unsigned char)s[0]))
		return false;
	for (; *s != '\0'; s++, n++) {
		if (n >= maxlen)
			return false;
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return false;
	}
	return true;
}

/*
 * sql_name_valid: is s a relation name as a user would type it: one to
 * three dot-separated parts, each an unquoted identifier (letters,
 * digits, '_', '$', not starting with a digit or '$') or a double-quoted
 * one ("" for a quote)?  Anything else is not a name, and is reported as
 * not found without asking the server.
 */
bool
sql_name_valid(const char *s)
{
	int parts = 0;

	if (strlen(s) > 3 * 130)
		return false;
	for (;;) {
		if (*s == '"') {
			for (s++;; s++) {
				if (*s == '\0')
					return false;
				if (*s == '"') {
					if (s[1] != '"')
						break;
					s++;
				}
			}
			s++;
		} else {
			if (!(isalpha((unsigned char)*s) || *s == '_' ||
			    (unsigned char)*s >= 0x80))
				return false;
			while (isalnum((unsigned char)*s) || *s == '_' ||
			    *s == '$' || (unsigned char)*s >= 0x80)
				s++;
		}
		parts++;
		if (*s == '\0')
			return parts <= 3;
		if (*s != '.')
			return false;
		s++;
	}
}

/*
 * loopback_addr_parse: "127.0.0.1:9187" or "[::1]:9187" into host and
 * port; only loopback addresses (the endpoint has no authentication).
 */
int
loopback_addr_parse(const char *s, char *host, size_t hlen, int *port)
{
	const char *colon;
	char *end;
	long p;
	struct in_addr a4;
	struct in6_addr a6;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':' || (size_t)(rb - s - 1) >= hlen)
			return -1;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= hlen)
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || p < 1 || p > 65535)
		return -1;
	*port = (int)p;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127 ? 0 : -1;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ? 0 : -1;
	return -1;
}


/* sql_quote_ident: the n bytes of s as a quoted identifier, " doubled. */
char *
sql_quote_ident(const char *s, size_t n)
{
	char *q = xmalloc(2 * n + 3), *p = q;
	size_t i;

	*p++ = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			*p++ = '"';
		*p++ = s[i];
	}
	*p++ = '"';
	*p = '\0';
	return q;
}

/* path_base: the last component of a path (borrowed). */
const char *
path_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}
