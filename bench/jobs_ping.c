/*
 * jobs_ping.c: control-socket round trips for bench/jobs_bench.py.
 *
 *   jobs_ping SOCKET N [INTERVAL_US]
 *
 * Connects once to SOCKET and sends N requests {"id":K,"cmd":"ping"}, one
 * line each, waiting for each reply line before the next request; between
 * requests it sleeps INTERVAL_US (default 0) so that idle and loaded runs
 * are paced alike.  Prints one round trip per line, in microseconds (from
 * before write() to after the reply's newline arrived), then "errors=E" on
 * the last line (a reply without "ok":true or with the wrong id).  Exit 1
 * if the daemon closed the connection or a syscall failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun;
	char req[128], buf[65536], want[64];
	size_t have = 0;
	long n, i, errors = 0;
	long interval_us = 0;
	double *lat;
	int fd;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: jobs_ping SOCKET N [INTERVAL_US]\n");
		return 2;
	}
	n = strtol(argv[2], NULL, 10);
	if (argc == 4)
		interval_us = strtol(argv[3], NULL, 10);
	if (n <= 0 || (lat = calloc((size_t)n, sizeof(*lat))) == NULL)
		return 2;
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1) {
		perror("socket");
		return 1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "socket path too long\n");
		return 2;
	}
	strcpy(sun.sun_path, argv[1]);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror("connect");
		return 1;
	}
	for (i = 0; i < n; i++) {
		int len = snprintf(req, sizeof(req),
		    "{\"id\":%ld,\"cmd\":\"ping\"}\n", i + 1);
		double t0 = now_us();
		char *nl = NULL;
		ssize_t w, r;
		size_t off = 0;

		while (off < (size_t)len) {
			w = write(fd, req + off, (size_t)len - off);
			if (w == -1 && errno == EINTR)
				continue;
			if (w == -1) {
				perror("write");
				return 1;
			}
			off += (size_t)w;
		}
		for (;;) {
			nl = memchr(buf, '\n', have);
			if (nl != NULL)
				break;
			if (have == sizeof(buf)) {
				fprintf(stderr, "reply line too long\n");
				return 1;
			}
			r = read(fd, buf + have, sizeof(buf) - have);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0) {
				fprintf(stderr, "daemon closed the connection "
				    "after %ld replies\n", i);
				return 1;
			}
			have += (size_t)r;
		}
		lat[i] = now_us() - t0;
		*nl = '\0';
		snprintf(want, sizeof(want), "\"id\":%ld,", i + 1);
		if (strstr(buf, "\"ok\":true") == NULL ||
		    strstr(buf, want) == NULL)
			errors++;
		have -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, have);
		if (interval_us > 0) {
			struct timespec ts = { interval_us / 1000000,
			    (interval_us % 1000000) * 1000 };

			while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
				;
		}
	}
	close(fd);
	for (i = 0; i < n; i++)
		printf("%.1f\n", lat[i]);
	printf("errors=%ld\n", errors);
	free(lat);
	return 0;
}
