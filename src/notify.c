/*
 * notify.c: readiness, status and watchdog pings to systemd.  The watchdog
 * ping comes from a loop timer at half of WATCHDOG_USEC, so a stalled loop
 * stops the pings and systemd restarts us.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"
#include "util.h"

static struct {
	struct event *watchdog;
	uint64_t usec;
} notify;

static void
notify_send(const char *state)
{
	int r = sd_notify(0, state);

	if (r < 0)
		log_debug("sd_notify %s failed: error %d, ignoring", state, -r);
}

static void
notify_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_send("WATCHDOG=1");
}

/*
 * notify_init: start the watchdog timer when systemd asked for one
 * (WATCHDOG_USEC, and WATCHDOG_PID naming us if set).
 */
void
notify_init(struct event_base *base)
{
	uint64_t usec = 0;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return;
	notify.usec = usec;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	notify.watchdog = event_new(base, -1, EV_PERSIST, notify_watchdog_cb,
	    NULL);
	if (notify.watchdog == NULL)
		fatalx("event_new failed");
	event_add(notify.watchdog, &tv);
	log_debug("watchdog ping every %llu ms",
	    (unsigned long long)usec / 1000);
}

/* notify_finalise: stop the watchdog timer. */
void
notify_finalise(void)
{
	if (notify.watchdog != NULL)
		event_free(notify.watchdog);
	notify.watchdog = NULL;
}

/* notify_watchdog_usec: WATCHDOG_USEC, or 0 when there is no watchdog. */
uint64_t
notify_watchdog_usec(void)
{
	return notify.usec;
}

/* notify_ready: READY=1, after start and after a reload. */
void
notify_ready(void)
{
	notify_send("READY=1");
}

/* notify_reloading: RELOADING=1, before a reload. */
void
notify_reloading(void)
{
	notify_send("RELOADING=1");
}

/* notify_stopping: STOPPING=1, when shutdown starts. */
void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

/* notify_status: STATUS=<one line>. */
void
notify_status(const char *fmt, ...)
{
	va_list ap;
	char *msg, *state;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	xasprintf(&state, "STATUS=%s", msg);
	notify_send(state);
	free(state);
	free(msg);
}
