/*
 * bare.c: the idle-footprint baseline.  Links the libraries pgmigd links
 * (libevent, libpq, libconfig, libsystemd, jansson, libpg_query,
 * libcrypto), touches each once so none is dropped or left unmapped, then
 * sleeps in event_base_dispatch until SIGTERM or SIGINT.  Whatever pgmigd
 * uses beyond this, in memory or wakeups, is its own.
 *
 *   cc -O2 -o bare bare.c -Wl,--no-as-needed -levent -lpq -lconfig \
 *     -lsystemd -ljansson -lpg_query -lcrypto -lm
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>
#include <jansson.h>
#include <libconfig.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <systemd/sd-daemon.h>

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

int
main(void)
{
	struct event_base *base;
	struct event *term, *intr;
	config_t cfg;
	json_t *j;
	uint64_t usec;

	/* touch each library once */
	config_init(&cfg);
	config_destroy(&cfg);
	j = json_pack("{s:i}", "pid", 1);
	json_decref(j);
	(void)PQlibVersion();
	(void)OpenSSL_version_num();
	(void)sd_watchdog_enabled(0, &usec);

	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		return 1;
	term = evsignal_new(base, SIGTERM, on_signal, base);
	intr = evsignal_new(base, SIGINT, on_signal, base);
	if (term == NULL || intr == NULL)
		return 1;
	event_add(term, NULL);
	event_add(intr, NULL);
	(void)sd_notify(0, "READY=1");
	event_base_dispatch(base);
	event_free(term);
	event_free(intr);
	event_base_free(base);
	return 0;
}
