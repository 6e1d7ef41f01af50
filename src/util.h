/*
 * util.h: allocation wrappers that abort on failure, string helpers,
 * duration parsing and time formatting shared by pgmigd and pgmigctl.
 */
#ifndef PGMIG_UTIL_H
#define PGMIG_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
int xasprintf(char **, const char *, ...) __attribute__((format(printf, 2, 3)));
int xvasprintf(char **, const char *, va_list) __attribute__((format(printf, 2, 0)));

size_t strlcpy_(char *, const char *, size_t);

int duration_parse(const char *, int64_t *, const char **);
void duration_format(int64_t, char *, size_t);

void time_rfc3339(time_t, char *, size_t);
int64_t now_ms(void);

bool ident_valid(const char *, size_t);
bool sql_name_valid(const char *);
char *sql_quote_ident(const char *, size_t);
const char *path_base(const char *);
int loopback_addr_parse(const char *, char *, size_t, int *);

#endif
