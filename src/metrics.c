/*
 * metrics.c: counters of job runs, and the Prometheus text rendering.
 *
 * Label cardinality stays bounded: configured jobs are labelled by name,
 * runs of ad-hoc commands (pgmigctl vacuum TABLE, ...) by their type as
 * "manual:vacuum", so no table name ever becomes a series.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "conf.h"
#include "ctl_server.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "pgmigd.h"
#include "pool.h"
#include "run.h"
#include "util.h"

static const double buckets[] = { 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
#define NSTATUS 5

struct series {
	char *db;
	char *job;
	char *type;
	uint64_t runs[NSTATUS];		/* by enum run_status */
	uint64_t hist[NBUCKETS];	/* cumulative when rendered */
	uint64_t count;
	double sum;
	time_t last_success;
};

struct metrics {
	struct series *s;
	size_t n;
	struct evhttp *http;
	char *listen;
};

static struct metrics *
get(struct pgmigd *d)
{
	if (d->metrics == NULL)
		d->metrics = xcalloc(1, sizeof(struct metrics));
	return d->metrics;
}

static struct series *
find(struct metrics *m, const char *db, const char *job, const char *type)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->s[i].db, db) == 0 && strcmp(m->s[i].job, job) == 0)
			return &m->s[i];
	m->s = xreallocarray(m->s, m->n + 1, sizeof(*m->s));
	memset(&m->s[m->n], 0, sizeof(*m->s));
	m->s[m->n].db = xstrdup(db);
	m->s[m->n].job = xstrdup(job);
	m->s[m->n].type = xstrdup(type);
	return &m->s[m->n++];
}

/*
 * metrics_record_run: count one finished run.  job is the configured
 * job's name, or NULL for an ad-hoc command (labelled "manual:TYPE").
 */
void
metrics_record_run(struct pgmigd *d, const char *db, const char *job,
    const char *type, int status, int64_t duration_ms, time_t finished)
{
	struct series *s;
	char manual[64];
	double secs = (double)duration_ms / 1000.0;
	size_t i;

	if (job == NULL) {
		snprintf(manual, sizeof(manual), "manual:%s", type);
		job = manual;
	}
	s = find(get(d), db, job, type);
	if (status >= 0 && status < NSTATUS)
		s->runs[status]++;
	if (status == RUN_SKIPPED)
		return;		/* a skip has no duration */
	for (i = 0; i < NBUCKETS; i++)
		if (secs <= buckets[i])
			s->hist[i]++;
	s->count++;
	s->sum += secs;
	if (status == RUN_SUCCEEDED)
		s->last_success = finished;
}

/* a label value, escaped as the exposition format wants */
static void
label(struct evbuffer *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

static void
head(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
series_start(struct evbuffer *b, const char *name, const char *db,
    const char *job)
{
	evbuffer_add_printf(b, "%s{database=\"", name);
	label(b, db);
	if (job != NULL) {
		evbuffer_add(b, "\",job=\"", 7);
		label(b, job);
	}
	evbuffer_add(b, "\"", 1);
}

/* make sure every configured job has its series, even at zero */
static void
seed(struct pgmigd *d)
{
	size_t i, k;

	for (i = 0; i < d->ndbs; i++)
		for (k = 0; k < d->dbs[i]->conf->njobs; k++)
			(void)find(get(d), d->dbs[i]->name,
			    d->dbs[i]->conf->jobs[k].name, conf_job_type_name(
			    d->dbs[i]->conf->jobs[k].type));
}

/* metrics_render: the exposition text (caller frees). */
char *
metrics_render(struct pgmigd *d)
{
	static const char *const st[NSTATUS] = { "running", "succeeded",
	    "failed", "cancelled", "skipped" };
	struct evbuffer *b = evbuffer_new();
	struct metrics *m;
	size_t i, j, len;
	char *out;

	if (b == NULL)
		fatalx("evbuffer_new failed");
	seed(d);
	m = get(d);
	head(b, "pgmigd_info", "gauge", "pgmigd's version.");
	evbuffer_add_printf(b, "pgmigd_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	head(b, "pgmigd_start_time_seconds", "gauge",
	    "When pgmigd started, in seconds since the epoch.");
	evbuffer_add_printf(b, "pgmigd_start_time_seconds %lld\n",
	    (long long)d->started);
	head(b, "pgmigd_control_clients", "gauge",
	    "Clients connected to the control socket.");
	evbuffer_add_printf(b, "pgmigd_control_clients %zu\n",
	    d->ctl != NULL ? ctl_server_nclients(d->ctl) : (size_t)0);

	head(b, "pgmigd_database_up", "gauge",
	    "1 when the database answered its last health check.");
	for (i = 0; i < d->ndbs; i++) {
		series_start(b, "pgmigd_database_up", d->dbs[i]->name, NULL);
		evbuffer_add_printf(b, "} %d\n",
		    pool_reachable(d->dbs[i]->pool) ? 1 : 0);
	}
	head(b, "pgmigd_in_recovery", "gauge",
	    "1 when the database is a standby (jobs do not run there).");
	for (i = 0; i < d->ndbs; i++) {
		series_start(b, "pgmigd_in_recovery", d->dbs[i]->name, NULL);
		evbuffer_add_printf(b, "} %d\n",
		    pool_in_recovery(d->dbs[i]->pool) ? 1 : 0);
	}
	head(b, "pgmigd_pool_connections", "gauge",
	    "Pooled connections by state.");
	for (i = 0; i < d->ndbs; i++) {
		int busy, idle, connecting;

		pool_counts(d->dbs[i]->pool, &busy, &idle, &connecting);
		series_start(b, "pgmigd_pool_connections", d->dbs[i]->name,
		    NULL);
		evbuffer_add_printf(b, ",state=\"in_use\"} %d\n", busy);
		series_start(b, "pgmigd_pool_connections", d->dbs[i]->name,
		    NULL);
		evbuffer_add_printf(b, ",state=\"idle\"} %d\n", idle);
		series_start(b, "pgmigd_pool_connections", d->dbs[i]->name,
		    NULL);
		evbuffer_add_printf(b, ",state=\"connecting\"} %d\n",
		    connecting);
	}
	head(b, "pgmigd_pool_queries_total", "counter",
	    "Queries sent through the pool.");
	for (i = 0; i < d->ndbs; i++) {
		series_start(b, "pgmigd_pool_queries_total", d->dbs[i]->name,
		    NULL);
		evbuffer_add_printf(b, "} %llu\n", (unsigned long long)
		    pool_stats(d->dbs[i]->pool)->queries);
	}
	head(b, "pgmigd_pool_connect_failures_total", "counter",
	    "Connection attempts that failed.");
	for (i = 0; i < d->ndbs; i++) {
		series_start(b, "pgmigd_pool_connect_failures_total",
		    d->dbs[i]->name, NULL);
		evbuffer_add_printf(b, "} %llu\n", (unsigned long long)
		    pool_stats(d->dbs[i]->pool)->failed);
	}

	head(b, "pgmigd_migrations_pending", "gauge",
	    "Files of migrations_dir not yet applied (databases with a "
	    "migrations_dir).");
	for (i = 0; i < d->ndbs; i++) {
		if (d->dbs[i]->migrations_pending < 0)
			continue;
		series_start(b, "pgmigd_migrations_pending", d->dbs[i]->name,
		    NULL);
		evbuffer_add_printf(b, "} %lld\n",
		    (long long)d->dbs[i]->migrations_pending);
	}
	head(b, "pgmigd_job_runs_total", "counter",
	    "Finished job runs by status (since pgmigd started).");
	for (i = 0; i < m->n; i++) {
		for (j = 1; j < NSTATUS; j++) {
			series_start(b, "pgmigd_job_runs_total", m->s[i].db,
			    m->s[i].job);
			evbuffer_add_printf(b, ",status=\"%s\"} %llu\n", st[j],
			    (unsigned long long)m->s[i].runs[j]);
		}
	}
	head(b, "pgmigd_job_duration_seconds", "histogram",
	    "How long job runs took.");
	for (i = 0; i < m->n; i++) {
		for (j = 0; j < NBUCKETS; j++) {
			series_start(b, "pgmigd_job_duration_seconds_bucket",
			    m->s[i].db, m->s[i].job);
			evbuffer_add_printf(b, ",le=\"%g\"} %llu\n", buckets[j],
			    (unsigned long long)m->s[i].hist[j]);
		}
		series_start(b, "pgmigd_job_duration_seconds_bucket",
		    m->s[i].db, m->s[i].job);
		evbuffer_add_printf(b, ",le=\"+Inf\"} %llu\n",
		    (unsigned long long)m->s[i].count);
		series_start(b, "pgmigd_job_duration_seconds_sum", m->s[i].db,
		    m->s[i].job);
		evbuffer_add_printf(b, "} %.3f\n", m->s[i].sum);
		series_start(b, "pgmigd_job_duration_seconds_count",
		    m->s[i].db, m->s[i].job);
		evbuffer_add_printf(b, "} %llu\n",
		    (unsigned long long)m->s[i].count);
	}
	head(b, "pgmigd_job_last_success_timestamp_seconds", "gauge",
	    "When the job last succeeded (since pgmigd started), in seconds "
	    "since the epoch.");
	for (i = 0; i < m->n; i++) {
		if (m->s[i].last_success == 0)
			continue;
		series_start(b, "pgmigd_job_last_success_timestamp_seconds",
		    m->s[i].db, m->s[i].job);
		evbuffer_add_printf(b, "} %lld\n",
		    (long long)m->s[i].last_success);
	}
	len = evbuffer_get_length(b);
	out = xmalloc(len + 1);
	evbuffer_remove(b, out, len);
	out[len] = '\0';
	evbuffer_free(b);
	return out;
}

/* ---- the HTTP endpoint */

static void
http_metrics(struct evhttp_request *req, void *arg)
{
	struct pgmigd *d = arg;
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	char *text;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, 405, "only GET");
		return;
	}
	text = metrics_render(d);
	evbuffer_add(out, text, strlen(text));
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
http_other(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "see /metrics");
}

/*
 * metrics_listen: serve /metrics on addr ("" stops serving).  A reload
 * with another address moves the endpoint.
 */
int
metrics_listen(struct pgmigd *d, const char *addr, char **cause)
{
	struct metrics *m = get(d);
	char host[64];
	int port;

	if (m->listen != NULL && strcmp(m->listen, addr) == 0)
		return 0;
	if (m->http != NULL) {
		evhttp_free(m->http);
		m->http = NULL;
	}
	free(m->listen);
	m->listen = NULL;
	if (addr[0] == '\0')
		return 0;
	if (loopback_addr_parse(addr, host, sizeof(host), &port) == -1) {
		xasprintf(cause, "metrics_listen %s is not a loopback "
		    "address:port", addr);
		return -1;
	}
	if ((m->http = evhttp_new(d->base)) == NULL)
		fatalx("evhttp_new failed");
	evhttp_set_timeout(m->http, 10);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 1024);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_cb(m->http, "/metrics", http_metrics, d);
	evhttp_set_gencb(m->http, http_other, d);
	if (evhttp_bind_socket(m->http, host, (uint16_t)port) == -1) {
		xasprintf(cause, "cannot listen on %s for metrics", addr);
		evhttp_free(m->http);
		m->http = NULL;
		return -1;
	}
	m->listen = xstrdup(addr);
	log_info("metrics on http://%s/metrics", addr);
	return 0;
}

/* metrics_finalise: stop serving, free the counters. */
void
metrics_finalise(struct pgmigd *d)
{
	struct metrics *m = d->metrics;
	size_t i;

	if (m == NULL)
		return;
	if (m->http != NULL)
		evhttp_free(m->http);
	for (i = 0; i < m->n; i++) {
		free(m->s[i].db);
		free(m->s[i].job);
		free(m->s[i].type);
	}
	free(m->s);
	free(m->listen);
	free(m);
	d->metrics = NULL;
}
