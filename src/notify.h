/*
 * notify.h: the sd_notify protocol (READY, RELOADING, STOPPING, STATUS,
 * WATCHDOG).  Every call is a no-op when NOTIFY_SOCKET is unset.
 */
#ifndef PGMIG_NOTIFY_H
#define PGMIG_NOTIFY_H

#include <stdint.h>

struct event_base;

void notify_init(struct event_base *);
void notify_finalise(void);
void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *, ...) __attribute__((format(printf, 1, 2)));
uint64_t notify_watchdog_usec(void);

#endif
