/*
 * pgmigd.c: the daemon's main: options, start-up order, the loop,
 * reload, and shutdown order.
 *
 *   conf_load -> timezone -> log -> (--check-config | --once) ->
 *   event base -> control socket -> signals -> notify -> READY -> loop
 *
 * Shutdown runs the same list backwards.
 */
#include "config.h"

#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cmd.h"
#include "cmdspec.h"
#include "conf.h"
#include "ctl_server.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "migfile.h"
#include "migrate.h"
#include "notify.h"
#include "output.h"
#include "pool.h"
#include "sched.h"
#include "pgmigd.h"
#include "proto.h"
#include "util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF SYSCONFDIR "/pgmigd/pgmigd.conf"
#define SHUTDOWN_GRACE_MS 10000

static void __attribute__((noreturn))
usage(int code)
{
	FILE *f = code == 0 ? stdout : stderr;

	fprintf(f,
	    "usage: pgmigd [-c FILE]              run the daemon\n"
	    "       pgmigd [-c FILE] --check-config  validate and print the "
	    "normalized configuration\n"
	    "       pgmigd [-c FILE] [-d DB] [--json] --once COMMAND [ARGS]\n"
	    "                                     run one command without a "
	    "daemon\n"
	    "       pgmigd --version | --help\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default %s)\n"
	    "  -d, --database DB   database for --once commands\n"
	    "  -j, --json          --once prints the JSON result\n"
	    "  -t, --check-config  validate FILE and exit 0 (valid) or 1\n"
	    "  -V, --version       print the version\n"
	    "  -h, --help          this text\n"
	    "\n"
	    "Commands are listed by pgmigctl --help.  See pgmigd(8).\n",
	    DEFAULT_CONF);
	exit(code);
}

static void
print_conf_errors(const struct conf_errors *errs, bool as_log)
{
	size_t i;

	for (i = 0; i < errs->n; i++) {
		if (as_log)
			log_event(LOG_ERR, LOG_EV_CONFIG_ERROR, NULL, 0, "%s",
			    errs->v[i]);
		else
			fprintf(stderr, "pgmigd: %s\n", errs->v[i]);
	}
}

/* apply_timezone: schedules are evaluated in daemon.timezone. */
static void
apply_timezone(const struct conf *conf)
{
	if (setenv("TZ", conf->timezone, 1) == -1)
		fatal("setenv TZ");
	tzset();
}

static gid_t
resolve_group(const struct conf *conf)
{
	struct group *gr;

	if (conf->control_group[0] == '\0')
		return (gid_t)-1;
	errno = 0;
	gr = getgrnam(conf->control_group);
	if (gr == NULL) {
		log_warnx("control_group %s does not exist: only root and "
		    "the daemon's user may run mutating commands, ignoring",
		    conf->control_group);
		return (gid_t)-1;
	}
	return gr->gr_gid;
}

/* pgmigd_maybe_exit: when stopping and nothing is in flight, leave. */
void
pgmigd_maybe_exit(struct pgmigd *d)
{
	size_t i;

	if (!d->stopping || d->nruns > 0)
		return;
	/* the runs are recorded: commands still waiting give up now */
	for (i = 0; i < d->ndbs; i++)
		pool_shutdown(d->dbs[i]->pool);
	if (d->inflight == 0)
		event_base_loopexit(d->base, NULL);
}

/* pgmigd_update_status: the one-line STATUS= for systemctl status. */
void
pgmigd_update_status(struct pgmigd *d)
{
	notify_status("%zu database%s configured, %zu control client%s",
	    d->conf->ndbs, d->conf->ndbs == 1 ? "" : "s",
	    d->ctl != NULL ? ctl_server_nclients(d->ctl) : 0,
	    d->ctl != NULL && ctl_server_nclients(d->ctl) == 1 ? "" : "s");
}

/*
 * pgmigd_reload: parse the configuration file again and swap it in only
 * if it is valid.  On failure the old configuration stays whole and
 * *cause says why (caller frees).
 */
int
pgmigd_reload(struct pgmigd *d, char **cause)
{
	struct conf_errors errs = { NULL, 0 };
	struct conf *new;
	struct log_field f[] = { { "PGMIG_OBJECT", d->conf_path } };

	notify_reloading();
	new = conf_load(d->conf_path, &errs);
	if (new == NULL) {
		print_conf_errors(&errs, true);
		log_event(LOG_ERR, LOG_EV_RELOAD_FAILED, f, nitems(f),
		    "not reloading: %s has %zu error%s; keeping the running "
		    "configuration", d->conf_path, errs.n,
		    errs.n == 1 ? "" : "s");
		xasprintf(cause, "%s%s", errs.n > 0 ? errs.v[0] : "invalid",
		    errs.n > 1 ? " (and more, see the log)" : "");
		conf_errors_clear(&errs);
		notify_ready();
		return -1;
	}
	conf_keep_fixed(d->conf, new);
	conf_free(d->conf);
	d->conf = new;
	db_sync(d);
	sched_sync(d);
	if (metrics_listen(d, new->metrics_listen, cause) == -1) {
		log_warnx("%s; metrics are served by pgmigctl metrics only",
		    *cause);
		free(*cause);
		*cause = NULL;
	}
	apply_timezone(new);
	log_init(new->log_target, new->log_level, "pgmigd");
	d->control_gid = resolve_group(new);
	d->reloads++;
	log_event(LOG_NOTICE, LOG_EV_RELOAD, f, nitems(f),
	    "configuration reloaded from %s", d->conf_path);
	notify_ready();
	pgmigd_update_status(d);
	return 0;
}

static void
shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgmigd *d = arg;

	(void)fd;
	(void)what;
	log_warnx("shutdown took longer than %d ms, exiting anyway",
	    SHUTDOWN_GRACE_MS);
	event_base_loopbreak(d->base);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pgmigd *d = arg;
	char *cause = NULL;

	(void)what;
	switch (sig) {
	case SIGHUP:
		if (d->stopping) {
			log_info("SIGHUP while stopping, ignoring");
			break;
		}
		if (pgmigd_reload(d, &cause) == -1)
			free(cause);
		break;
	case SIGTERM:
	case SIGINT:
		if (d->stopping) {
			log_warnx("second %s, exiting now", strsignal(sig));
			event_base_loopbreak(d->base);
			break;
		}
		d->stopping = true;
		notify_stopping();
		log_info("%s: shutting down", strsignal(sig));
		ctl_server_stop_accepting(d->ctl);
		/* running jobs are cancelled on the server and recorded
		 * cancelled; then the pools stop handing out connections */
		sched_stop(d);
		/* commands waiting on a database finish first, within the
		 * grace time */
		pgmigd_maybe_exit(d);
		{
			struct timeval tv = { SHUTDOWN_GRACE_MS / 1000, 0 };

			event_add(d->grace, &tv);
		}
		break;
	}
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* once_reply: print the result of a --once command and remember the code */
static int once_exit = EXIT_OK;
static bool once_json;

static void
once_reply(struct cmd_ctx *ctx)
{
	if (ctx->errmsg != NULL && ctx->result == NULL) {
		output_error(stderr, proto_err_name(ctx->err), ctx->errmsg,
		    false);
		if (once_json)
			output_error(stdout, proto_err_name(ctx->err),
			    ctx->errmsg, true);
		once_exit = proto_err_exit((int)ctx->err);
	} else {
		output_result(stdout, ctx->req.cmd, ctx->result, once_json);
		/* a check that is not ok (health-check) exits 1 */
		once_exit = json_is_false(json_object_get(ctx->result, "ok")) ?
		    EXIT_FAILED : EXIT_OK;
	}
	event_base_loopexit(ctx->d->base, NULL);
	cmd_ctx_free(ctx);
}

static void
once_progress(struct cmd_ctx *ctx, const char *phase, double pct)
{
	(void)ctx;
	if (isatty(STDERR_FILENO))
		output_progress(stderr, phase, pct);
}

/*
 * run_once: run one command through the same table the daemon uses,
 * without a control socket.  Returns the exit code.
 */
static int
run_once(struct pgmigd *d, const char *db, int argc, char **argv)
{
	const struct cmd_spec *spec;
	struct cmd_ctx *ctx;
	json_t *args, *opts;
	char *err = NULL;
	int used;

	if (argc < 1) {
		fprintf(stderr, "pgmigd: --once needs a command\n");
		return EXIT_USAGE;
	}
	if ((spec = cmdspec_find_argv(argc, argv, &used)) == NULL) {
		if (cmdspec_group(argv[0]))
			fprintf(stderr, "pgmigd: %s needs a subcommand "
			    "(pgmigctl --help lists them)\n", argv[0]);
		else
			fprintf(stderr, "pgmigd: unknown command \"%s\" "
			    "(pgmigctl --help lists them)\n", argv[0]);
		return EXIT_USAGE;
	}
	if (cmdspec_parse_argv(spec, argc - used, argv + used, &args, &opts,
	    &err) == -1) {
		fprintf(stderr, "pgmigd: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	cmdspec_absolute_files(spec, args);
	if (db != NULL && !ident_valid(db, CONF_NAME_MAX)) {
		fprintf(stderr, "pgmigd: not a database name: %s\n", db);
		json_decref(args);
		json_decref(opts);
		return EXIT_USAGE;
	}
	ctx = cmd_ctx_new(d);
	ctx->req.id = json_integer(1);
	ctx->req.cmd = xstrdup(spec->name);
	ctx->req.args = args;
	ctx->req.opts = opts;
	ctx->req.db = db != NULL ? xstrdup(db) : NULL;
	ctx->privileged = true;	/* the caller could run the daemon itself */
	ctx->uid = getuid();
	ctx->pid = getpid();
	ctx->owner = d;
	ctx->reply = once_reply;
	ctx->progress = once_progress;
	cmd_run(ctx);
	event_base_dispatch(d->base);
	if (isatty(STDERR_FILENO))
		output_progress_done(stderr);
	return once_exit;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 't' },
		{ "once", no_argument, NULL, 'o' },
		{ "database", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct conf_errors errs = { NULL, 0 };
	struct pgmigd d;
	struct event *sighup, *sigterm, *sigint;
	bool check = false;
	const char *db = NULL;
	char *cause = NULL;
	int ch, code;

	memset(&d, 0, sizeof(d));
	d.conf_path = xstrdup(DEFAULT_CONF);
	log_init(LOG_TARGET_STDERR, LOG_INFO, "pgmigd");

	/* "+": options stop at the command of --once */
	while ((ch = getopt_long(argc, argv, "+c:td:jVh", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			free(d.conf_path);
			/* absolute, so a reload reads the same file whatever
			 * the working directory */
			if ((d.conf_path = realpath(optarg, NULL)) == NULL)
				d.conf_path = xstrdup(optarg);
			break;
		case 't':
			check = true;
			break;
		case 'o':
			d.once = true;
			break;
		case 'd':
			db = optarg;
			break;
		case 'j':
			once_json = true;
			break;
		case 'V':
			printf("pgmigd %s\n", PACKAGE_VERSION);
			free(d.conf_path);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if ((argc > 0 && !d.once) || (check && d.once))
		usage(EXIT_USAGE);

	d.conf = conf_load(d.conf_path, &errs);
	if (d.conf == NULL) {
		print_conf_errors(&errs, false);
		if (!check && !d.once)
			log_event(LOG_ERR, LOG_EV_CONFIG_ERROR, NULL, 0,
			    "not starting: %s has %zu error%s", d.conf_path,
			    errs.n, errs.n == 1 ? "" : "s");
		conf_errors_clear(&errs);
		return 1;
	}
	if (check) {
		conf_print(stdout, d.conf);
		fprintf(stderr, "pgmigd: %s: configuration is valid\n",
		    d.conf_path);
		conf_free(d.conf);
		free(d.conf_path);
		return 0;
	}
	apply_timezone(d.conf);
	if (d.once)
		log_init(LOG_TARGET_STDERR, d.conf->log_level < LOG_NOTICE ?
		    d.conf->log_level : LOG_NOTICE, "pgmigd");
	else
		log_init(d.conf->log_target, d.conf->log_level, "pgmigd");

	(void)signal(SIGPIPE, SIG_IGN);
	{
		/* the precise monotonic clock: the coarse one libevent uses by
		 * default has a 4 ms tick here, most of a job's start lateness */
		struct event_config *cfg = event_config_new();

		if (cfg == NULL ||
		    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) ||
		    (d.base = event_base_new_with_config(cfg)) == NULL)
			fatalx("event_base_new failed");
		event_config_free(cfg);
	}
	d.started = time(NULL);
	d.started_ms = now_ms();
	d.control_gid = resolve_group(d.conf);
	db_sync(&d);
	sched_sync(&d);

	if (d.once) {
		code = run_once(&d, db, argc, argv);
		db_free_all(&d);
		metrics_finalise(&d);
		migrate_shutdown();
	migfile_cache_free();
	event_base_free(d.base);
		conf_free(d.conf);
		free(d.conf_path);
		return code;
	}

	raise_nofile();
	if ((d.ctl = ctl_server_new(&d, &cause)) == NULL) {
		log_event(LOG_ERR, LOG_EV_STARTUP, NULL, 0, "not starting: %s",
		    cause);
		free(cause);
		return 1;
	}
	sighup = evsignal_new(d.base, SIGHUP, signal_cb, &d);
	sigterm = evsignal_new(d.base, SIGTERM, signal_cb, &d);
	sigint = evsignal_new(d.base, SIGINT, signal_cb, &d);
	if (sighup == NULL || sigterm == NULL || sigint == NULL)
		fatalx("evsignal_new failed");
	event_add(sighup, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	if ((d.grace = evtimer_new(d.base, shutdown_timeout_cb, &d)) == NULL)
		fatalx("evtimer_new failed");
	if (metrics_listen(&d, d.conf->metrics_listen, &cause) == -1) {
		log_event(LOG_ERR, LOG_EV_STARTUP, NULL, 0, "not starting: %s",
		    cause);
		free(cause);
		return 1;
	}
	notify_init(d.base);

	{
		char pid[32];
		struct log_field f[] = { { "PGMIG_OBJECT", d.conf_path },
		    { "PGMIG_PID", pid } };

		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		log_event(LOG_NOTICE, LOG_EV_STARTUP, f, nitems(f),
		    "pgmigd %s started (pid %s, %zu database%s, config %s)",
		    PACKAGE_VERSION, pid, d.conf->ndbs,
		    d.conf->ndbs == 1 ? "" : "s", d.conf_path);
	}
	notify_ready();
	pgmigd_update_status(&d);

	if (event_base_dispatch(d.base) == -1)
		log_warnx("event loop failed");

	if (!d.stopping)
		notify_stopping();
	ctl_server_free(d.ctl);
	metrics_finalise(&d);
	db_free_all(&d);
	notify_finalise();
	event_free(sighup);
	event_free(sigterm);
	event_free(sigint);
	event_free(d.grace);
	log_event(LOG_NOTICE, LOG_EV_SHUTDOWN, NULL, 0, "pgmigd stopped");
	migrate_shutdown();
	migfile_cache_free();
	event_base_free(d.base);
	conf_free(d.conf);
	free(d.conf_path);
	return 0;
}
