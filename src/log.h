/*
 * log.h: one logging path for pgmigd, to journald (structured fields) or to
 * stderr with <N> priority prefixes.  Every entry that a log aggregator
 * keys on carries a MESSAGE_ID (one per event kind, see
 * systemd/pgmigd.catalog) and PGMIG_EVENT.
 */
#ifndef PGMIG_LOG_H
#define PGMIG_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

enum log_target {
	LOG_TARGET_AUTO,
	LOG_TARGET_JOURNAL,
	LOG_TARGET_STDERR,
};

/* Event kinds; each has a fixed MESSAGE_ID and PGMIG_EVENT name (log.c). */
enum log_event {
	LOG_EV_NONE = 0,
	LOG_EV_STARTUP,
	LOG_EV_SHUTDOWN,
	LOG_EV_RELOAD,
	LOG_EV_RELOAD_FAILED,
	LOG_EV_CONFIG_ERROR,
	LOG_EV_CONTROL_LISTEN,
	LOG_EV_CONTROL_REFUSED,
	LOG_EV_COMMAND,
	LOG_EV_RUN_START,
	LOG_EV_RUN_OK,
	LOG_EV_RUN_FAILED,
	LOG_EV_RUN_CANCELLED,
	LOG_EV_RUN_SKIPPED,
	LOG_EV_DB_UP,
	LOG_EV_DB_DOWN,
	LOG_EV_FINDING,
	LOG_EV_MIGRATION_APPLIED,
	LOG_EV_MIGRATION_FAILED,
	LOG_EV_MIGRATION_REVERTED,
	LOG_EV__COUNT
};

/* One structured journal field; name is the full field name (PGMIG_JOB). */
struct log_field {
	const char *name;
	const char *value;
};

void log_init(enum log_target, int, const char *);
void log_set_level(int);
void log_set_target(enum log_target);
int log_get_level(void);
bool log_to_journal(void);

const char *log_event_name(enum log_event);
const char *log_event_msgid(enum log_event);
int log_level_parse(const char *);
const char *log_level_name(int);

void log_event(int, enum log_event, const struct log_field *, size_t,
    const char *, ...) __attribute__((format(printf, 5, 6)));
void log_eventv(int, enum log_event, const struct log_field *, size_t,
    const char *, va_list) __attribute__((format(printf, 5, 0)));

void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
