/*
 * jobs_reader.c: readers of a materialized view for bench/jobs_bench.py.
 *
 *   jobs_reader CONNINFO SECONDS GROUPS INTERVAL_US CONNS [VIEW]
 *
 * Opens CONNS libpq connections and prepares "SELECT * FROM VIEW WHERE
 * g = $1" on each (VIEW defaults to mv; it is pasted as is: benchmark
 * input, not user input), with g uniform in 1..GROUPS.
 *
 * INTERVAL_US = 0, closed loop: one connection runs the query back to
 * back for SECONDS, each timed from its send to its result.
 *
 * INTERVAL_US > 0, open loop: for SECONDS one query falls due every
 * INTERVAL_US whatever earlier queries do (as requests of an application
 * with a connection pool); a due query is sent at once on an idle
 * connection (non-blocking libpq, ppoll), or waits in a FIFO for one.  Its
 * latency runs from the moment it fell due to its result, so a query that
 * waits on a lock counts all of its wait, and so do the arrivals behind it
 * (no coordinated omission).
 *
 * Prints one line per query, "LATENCY_US SERVICE_US" (service: from its
 * send; the same as the latency in a closed loop), then "errors=E rows=R
 * maxconns=M" (E failed queries, R rows seen, M most connections busy at
 * once).  Exit 1 on a lost connection.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

struct rconn {
	PGconn *c;
	long q;			/* query in flight, -1: idle */
};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* closed loop on one connection; returns the exit status */
static int
closed_loop(PGconn *c, double seconds, long groups)
{
	double end, *lat = NULL;
	size_t n = 0, cap = 0, i;
	long errors = 0, rows = 0;
	unsigned seed = 12345;

	end = now_us() + seconds * 1e6;
	for (;;) {
		double t0 = now_us(), t1;
		char g[32];
		const char *params[1] = { g };
		PGresult *res;

		if (t0 >= end)
			break;
		snprintf(g, sizeof(g), "%ld", (long)(rand_r(&seed) % groups) +
		    1);
		res = PQexecPrepared(c, "q", 1, params, NULL, NULL, 0);
		t1 = now_us();
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			rows += PQntuples(res);
		else {
			if (errors++ < 3)
				fprintf(stderr, "query: %s",
				    PQerrorMessage(c));
			if (PQstatus(c) != CONNECTION_OK)
				return 1;
		}
		PQclear(res);
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((lat = realloc(lat, cap * sizeof(*lat))) == NULL)
				return 1;
		}
		lat[n++] = t1 - t0;
	}
	for (i = 0; i < n; i++)
		printf("%.1f %.1f\n", lat[i], lat[i]);
	printf("errors=%ld rows=%ld maxconns=1\n", errors, rows);
	free(lat);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *view = argc > 6 ? argv[6] : "mv";
	double seconds, interval, start, *due, *sent, *done;
	long groups, nconns, total, i, arrived = 0, next_send = 0, finished = 0;
	long errors = 0, rows = 0, busy = 0, maxbusy = 0;
	unsigned seed = 12345;
	struct rconn *rc;
	struct pollfd *pfd;
	char sql[256];

	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: jobs_reader CONNINFO SECONDS GROUPS "
		    "INTERVAL_US CONNS [VIEW]\n");
		return 2;
	}
	seconds = strtod(argv[2], NULL);
	groups = strtol(argv[3], NULL, 10);
	interval = strtod(argv[4], NULL);
	nconns = strtol(argv[5], NULL, 10);
	if (seconds <= 0 || groups <= 0 || interval < 0 || nconns <= 0)
		return 2;
	if (interval == 0)
		nconns = 1;
	total = interval > 0 ? (long)(seconds * 1e6 / interval) : 1;
	due = calloc((size_t)total, sizeof(*due));
	sent = calloc((size_t)total, sizeof(*sent));
	done = calloc((size_t)total, sizeof(*done));
	rc = calloc((size_t)nconns, sizeof(*rc));
	pfd = calloc((size_t)nconns, sizeof(*pfd));
	if (due == NULL || sent == NULL || done == NULL || rc == NULL ||
	    pfd == NULL)
		return 1;
	snprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE g = $1", view);
	for (i = 0; i < nconns; i++) {
		PGresult *res;

		rc[i].c = PQconnectdb(argv[1]);
		rc[i].q = -1;
		if (PQstatus(rc[i].c) != CONNECTION_OK) {
			fprintf(stderr, "connect: %s", PQerrorMessage(rc[i].c));
			return 1;
		}
		res = PQprepare(rc[i].c, "q", sql, 1, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "prepare: %s",
			    PQerrorMessage(rc[i].c));
			return 1;
		}
		PQclear(res);
		if (interval > 0 && PQsetnonblocking(rc[i].c, 1) == -1)
			return 1;
	}
	fprintf(stderr, "ready\n");
	if (interval == 0) {
		int ret = closed_loop(rc[0].c, seconds, groups);

		PQfinish(rc[0].c);
		return ret;
	}
	start = now_us();
	while (finished < total) {
		double now = now_us();
		struct timespec ts, *tsp = NULL;
		int np = 0, k;

		/* arrivals */
		while (arrived < total && start + arrived * interval <= now) {
			due[arrived] = start + arrived * interval;
			arrived++;
		}
		/* dispatch, FIFO, lowest idle connection first */
		for (i = 0; i < nconns && next_send < arrived; i++) {
			char g[32];
			const char *params[1] = { g };

			if (rc[i].q != -1)
				continue;
			snprintf(g, sizeof(g), "%ld",
			    (long)(rand_r(&seed) % groups) + 1);
			sent[next_send] = now_us();
			if (!PQsendQueryPrepared(rc[i].c, "q", 1, params, NULL,
			    NULL, 0)) {
				fprintf(stderr, "send: %s",
				    PQerrorMessage(rc[i].c));
				return 1;
			}
			while (PQflush(rc[i].c) == 1)
				;
			rc[i].q = next_send++;
			if (++busy > maxbusy)
				maxbusy = busy;
		}
		for (i = 0; i < nconns; i++) {
			if (rc[i].q == -1)
				continue;
			pfd[np].fd = PQsocket(rc[i].c);
			pfd[np].events = POLLIN;
			pfd[np].revents = 0;
			np++;
		}
		if (arrived < total) {
			double w = start + arrived * interval - now_us();

			if (w < 0)
				w = 0;
			ts.tv_sec = (time_t)(w / 1e6);
			ts.tv_nsec = (long)((w - ts.tv_sec * 1e6) * 1e3);
			tsp = &ts;
		}
		if (np == 0 && tsp == NULL)
			break;
		if (ppoll(pfd, (nfds_t)np, tsp, NULL) == -1 &&
		    errno != EINTR) {
			perror("ppoll");
			return 1;
		}
		/* results: walk busy connections in the same order as pfd */
		for (i = 0, k = 0; i < nconns; i++) {
			PGresult *res;
			long q = rc[i].q;

			if (q == -1)
				continue;
			if ((pfd[k++].revents & (POLLIN | POLLERR | POLLHUP))
			    == 0)
				continue;
			if (!PQconsumeInput(rc[i].c)) {
				fprintf(stderr, "read: %s",
				    PQerrorMessage(rc[i].c));
				return 1;
			}
			/* results until NULL; never PQgetResult while busy */
			res = NULL;
			while (!PQisBusy(rc[i].c) &&
			    (res = PQgetResult(rc[i].c)) != NULL) {
				if (PQresultStatus(res) == PGRES_TUPLES_OK)
					rows += PQntuples(res);
				else if (errors++ < 3)
					fprintf(stderr, "query: %s",
					    PQresultErrorMessage(res));
				PQclear(res);
				res = NULL;
			}
			if (PQisBusy(rc[i].c))
				continue;	/* more to come */
			done[q] = now_us();
			rc[i].q = -1;
			busy--;
			finished++;
		}
	}
	for (i = 0; i < nconns; i++)
		PQfinish(rc[i].c);
	for (i = 0; i < finished; i++)
		printf("%.1f %.1f\n", done[i] - due[i], done[i] - sent[i]);
	printf("errors=%ld rows=%ld maxconns=%ld\n", errors, rows, maxbusy);
	return 0;
}
