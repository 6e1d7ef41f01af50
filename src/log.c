/*
 * log.c: journald or stderr logging with structured PGMIG_* fields.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "log.h"
#include "util.h"

#define LOG_MAX_FIELDS 32

/*
 * The MESSAGE_IDs never change once released: log aggregators and the
 * journal catalog (systemd/pgmigd.catalog) key on them.
 */
static const struct {
	const char *name;
	const char *msgid;
} log_events[LOG_EV__COUNT] = {
	[LOG_EV_NONE] = { NULL, NULL },
	[LOG_EV_STARTUP] = { "startup", "5b1f0c3e8a2d4e7f9c6b1a0d2e3f4a51" },
	[LOG_EV_SHUTDOWN] = { "shutdown", "6c2e1d4f9b3e4f80ad7c2b1e3f4a5b62" },
	[LOG_EV_RELOAD] = { "reload", "7d3f2e50ac4f4091be8d3c2f4a5b6c73" },
	[LOG_EV_RELOAD_FAILED] = { "reload_failed",
	    "8e40f361bd50410acf9e4d305b6c7d84" },
	[LOG_EV_CONFIG_ERROR] = { "config_error",
	    "9f5104720e61421bd0af5e416c7d8e95" },
	[LOG_EV_CONTROL_LISTEN] = { "control_listen",
	    "a06215831f72432ce1b06f527d8e9fa6" },
	[LOG_EV_CONTROL_REFUSED] = { "control_refused",
	    "b17326942083443df2c170638e9fa0b7" },
	[LOG_EV_COMMAND] = { "command", "c284370531944540a3d2817490a0b1c8" },
	[LOG_EV_RUN_START] = { "run_start", "d39548164aa54651b4e39285a1b1c2d9" },
	[LOG_EV_RUN_OK] = { "run_succeeded",
	    "e4a659275bb64762c5f4a396b2c2d3ea" },
	[LOG_EV_RUN_FAILED] = { "run_failed",
	    "f5b76a386cc74873d605b4a7c3d3e4fb" },
	[LOG_EV_RUN_CANCELLED] = { "run_cancelled",
	    "06c87b497dd84984e716c5b8d4e4f50c" },
	[LOG_EV_RUN_SKIPPED] = { "run_skipped",
	    "17d98c5a8ee94a95f827d6c9e5f5061d" },
	[LOG_EV_DB_UP] = { "database_up", "28ea9d6b9ffa4ba6a938e7dafa06172e" },
	[LOG_EV_DB_DOWN] = { "database_down",
	    "39fbae7cab0b4cb7ba49f8eb0b17283f" },
	[LOG_EV_FINDING] = { "finding", "4a0cbf8dbc1c4dd8cb4a09fc1c283940" },
	[LOG_EV_MIGRATION_APPLIED] = { "migration_applied",
	    "737f4490292c42d39030255d47d049d2" },
	[LOG_EV_MIGRATION_FAILED] = { "migration_failed",
	    "79db03b3039447b2ba0d2c30c70325a7" },
	[LOG_EV_MIGRATION_REVERTED] = { "migration_reverted",
	    "c3ff144aceec4b72b881a80762379c24" },
};

static const char *log_levels[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

static struct {
	bool journal;
	int level;
	const char *ident;
} log_state = { false, LOG_INFO, "pgmigd" };

/* journal_stream_is_stderr: systemd connected our stderr to the journal. */
static bool
journal_stream_is_stderr(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* log_set_target: choose journal or stderr; auto follows JOURNAL_STREAM. */
void
log_set_target(enum log_target target)
{
	switch (target) {
	case LOG_TARGET_JOURNAL:
		log_state.journal = true;
		break;
	case LOG_TARGET_STDERR:
		log_state.journal = false;
		break;
	case LOG_TARGET_AUTO:
		log_state.journal = journal_stream_is_stderr();
		break;
	}
}

/* log_init: set target, level and SYSLOG_IDENTIFIER. */
void
log_init(enum log_target target, int level, const char *ident)
{
	log_state.ident = ident;
	log_state.level = level;
	log_set_target(target);
}

/* log_set_level: drop entries less severe than level. */
void
log_set_level(int level)
{
	log_state.level = level;
}

/* log_get_level: the current level. */
int
log_get_level(void)
{
	return log_state.level;
}

/* log_to_journal: entries go to journald. */
bool
log_to_journal(void)
{
	return log_state.journal;
}

/* log_event_name: the PGMIG_EVENT value of ev, or NULL. */
const char *
log_event_name(enum log_event ev)
{
	return ev > LOG_EV_NONE && ev < LOG_EV__COUNT ?
	    log_events[ev].name : NULL;
}

/* log_event_msgid: the 32-hex-digit MESSAGE_ID of ev, or NULL. */
const char *
log_event_msgid(enum log_event ev)
{
	return ev > LOG_EV_NONE && ev < LOG_EV__COUNT ?
	    log_events[ev].msgid : NULL;
}

/* log_level_parse: "info" -> LOG_INFO; -1 if unknown. */
int
log_level_parse(const char *s)
{
	size_t i;

	for (i = 0; i < nitems(log_levels); i++)
		if (strcasecmp(s, log_levels[i]) == 0)
			return (int)i;
	return -1;
}

/* log_level_name: LOG_INFO -> "info". */
const char *
log_level_name(int level)
{
	if (level < 0 || (size_t)level >= nitems(log_levels))
		return "?";
	return log_levels[level];
}

static void
log_stderr(int prio, enum log_event ev, const struct log_field *fields,
    size_t nfields, const char *msg)
{
	char *line = NULL, *tmp;
	size_t i;

	xasprintf(&line, "<%d>%s", prio, msg);
	if (log_event_name(ev) != NULL) {
		xasprintf(&tmp, "%s event=%s", line, log_event_name(ev));
		free(line);
		line = tmp;
	}
	for (i = 0; i < nfields; i++) {
		const char *n = fields[i].name;

		if (fields[i].value == NULL)
			continue;
		if (strncmp(n, "PGMIG_", 6) == 0)
			n += 6;
		xasprintf(&tmp, "%s %s=%s", line, n, fields[i].value);
		/* field names are upper case in the journal, lower here */
		for (char *p = tmp + strlen(line) + 1; *p != '='; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		free(line);
		line = tmp;
	}
	/* one entry is one line, whatever the message holds */
	for (tmp = line; *tmp != '\0'; tmp++)
		if (*tmp == '\n' || *tmp == '\r')
			*tmp = ' ';
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
	free(line);
}

static int
log_journal(int prio, enum log_event ev, const struct log_field *fields,
    size_t nfields, const char *msg)
{
	struct iovec iov[LOG_MAX_FIELDS + 6];
	char *strs[LOG_MAX_FIELDS + 6];
	size_t n = 0, i;
	int r;

	xasprintf(&strs[n++], "MESSAGE=%s", msg);
	xasprintf(&strs[n++], "PRIORITY=%d", prio);
	xasprintf(&strs[n++], "SYSLOG_IDENTIFIER=%s", log_state.ident);
	if (log_event_name(ev) != NULL) {
		xasprintf(&strs[n++], "MESSAGE_ID=%s", log_event_msgid(ev));
		xasprintf(&strs[n++], "PGMIG_EVENT=%s", log_event_name(ev));
	}
	for (i = 0; i < nfields && n < nitems(strs); i++) {
		if (fields[i].value != NULL)
			xasprintf(&strs[n++], "%s=%s", fields[i].name,
			    fields[i].value);
	}
	for (i = 0; i < n; i++) {
		iov[i].iov_base = strs[i];
		iov[i].iov_len = strlen(strs[i]);
	}
	r = sd_journal_sendv(iov, (int)n);
	for (i = 0; i < n; i++)
		free(strs[i]);
	return r;
}

/*
 * log_eventv: emit one entry of kind ev at priority prio with extra
 * structured fields.  Falls back to stderr when journald is unreachable.
 */
void
log_eventv(int prio, enum log_event ev, const struct log_field *fields,
    size_t nfields, const char *fmt, va_list ap)
{
	char *msg;
	int saved = errno;

	if (prio > log_state.level)
		return;
	xvasprintf(&msg, fmt, ap);
	if (!log_state.journal ||
	    log_journal(prio, ev, fields, nfields, msg) < 0)
		log_stderr(prio, ev, fields, nfields, msg);
	free(msg);
	errno = saved;
}

/* log_event: see log_eventv. */
void
log_event(int prio, enum log_event ev, const struct log_field *fields,
    size_t nfields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_eventv(prio, ev, fields, nfields, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 3, 0)))
log_plain(int prio, bool with_errno, const char *fmt, va_list ap)
{
	char *msg;
	int saved = errno;

	if (prio > log_state.level)
		return;
	xvasprintf(&msg, fmt, ap);
	if (with_errno)
		log_event(prio, LOG_EV_NONE, NULL, 0, "%s: %s", msg,
		    strerror(saved));
	else
		log_event(prio, LOG_EV_NONE, NULL, 0, "%s", msg);
	free(msg);
	errno = saved;
}

/* log_warn: a warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_plain(LOG_WARNING, true, fmt, ap);
	va_end(ap);
}

/* log_warnx: a warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_plain(LOG_WARNING, false, fmt, ap);
	va_end(ap);
}

/* log_notice: a normal but significant condition. */
void
log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_plain(LOG_NOTICE, false, fmt, ap);
	va_end(ap);
}

/* log_info: an informational message. */
void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_plain(LOG_INFO, false, fmt, ap);
	va_end(ap);
}

/* log_debug: a debugging message. */
void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_plain(LOG_DEBUG, false, fmt, ap);
	va_end(ap);
}

/* fatal: log an error with strerror(errno) and exit 1. */
void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_plain(LOG_ERR, true, fmt, ap);
	va_end(ap);
	exit(1);
}

/* fatalx: log an error and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_plain(LOG_ERR, false, fmt, ap);
	va_end(ap);
	exit(1);
}
