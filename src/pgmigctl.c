/*
 * pgmigctl.c: the operator's client.  Checks the command line against
 * the shared command table, sends one request, prints progress (on a
 * terminal) and the result, and exits with the code of DESIGN.md.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmdspec.h"
#include "output.h"
#include "proto.h"
#include "util.h"

#define DEFAULT_SOCKET "/run/pgmigd/control.sock"
#define REPLY_TIMEOUT_MS (24 * 3600 * 1000)

static bool opt_json;
static char *pending;		/* the request line, until it is sent */

static void __attribute__((noreturn))
usage(int code)
{
	FILE *f = code == 0 ? stdout : stderr;
	size_t i;

	fprintf(f,
	    "usage: pgmigctl [-s SOCKET] [-d DATABASE] [--json] COMMAND "
	    "[ARGS]\n"
	    "\n"
	    "  -s, --socket PATH    control socket (default $PGMIGD_SOCKET or "
	    "%s)\n"
	    "  -d, --database DB    database, when several are configured\n"
	    "  -j, --json           print the JSON result\n"
	    "  -V, --version        print the version\n"
	    "  -h, --help           this text\n"
	    "\n"
	    "commands:\n", DEFAULT_SOCKET);
	for (i = 0; i < CMD_ID__COUNT; i++) {
		char u[128];

		cmdspec_usage(&cmd_specs[i], u, sizeof(u));
		/* two spaces at least: the completion splits usage from
		 * summary there */
		fprintf(f, "  %-40s  %s%s\n", u, cmd_specs[i].summary,
		    cmd_specs[i].flags & CMD_MUTATE ? " [mutating]" : "");
	}
	fprintf(f, "\nexit codes: 0 ok, 1 failed, 2 usage, 3 daemon or "
	    "database unreachable, 4 permission denied.  See pgmigctl(1).\n");
	exit(code);
}

/* command_help: "pgmigctl COMMAND --help" / "pgmigctl help COMMAND" */
static void __attribute__((noreturn))
command_help(const struct cmd_spec *spec)
{
	char u[256];

	cmdspec_usage(spec, u, sizeof(u));
	printf("usage: pgmigctl [-s SOCKET] [-d DATABASE] [--json] %s\n\n%s.\n",
	    u, spec->summary);
	if (spec->alias != NULL)
		printf("Also called \"%s\".\n", spec->alias);
	printf("%s%s\nSee pgmigctl(1).\n", spec->flags & CMD_MUTATE ?
	    "It changes things: root, the daemon's user or members of its "
	    "control_group may run it.\n" : "Anyone who can open the "
	    "control socket may run it.\n", spec->flags & CMD_DAEMON_ONLY ?
	    "It needs a running daemon (not pgmigd --once).\n" : "");
	exit(0);
}

/* group_help: "pgmigctl migrate" (or "migrate bogus"): its commands */
static void __attribute__((noreturn))
group_help(const char *group, const char *sub)
{
	bool asked = sub != NULL && (strcmp(sub, "--help") == 0 ||
	    strcmp(sub, "-h") == 0);
	FILE *f = asked ? stdout : stderr;
	size_t i, n = strlen(group);

	if (sub != NULL && !asked)
		fprintf(stderr, "pgmigctl: unknown command \"%s %s\"\n", group,
		    sub);
	fprintf(f, "usage: pgmigctl [-s SOCKET] [-d DATABASE] [--json] %s "
	    "SUBCOMMAND\n\n", group);
	for (i = 0; i < CMD_ID__COUNT; i++) {
		char u[128];

		if (strncmp(cmd_specs[i].name, group, n) != 0 ||
		    cmd_specs[i].name[n] != ' ')
			continue;
		cmdspec_usage(&cmd_specs[i], u, sizeof(u));
		fprintf(f, "  %-46s %s%s\n", u, cmd_specs[i].summary,
		    cmd_specs[i].flags & CMD_MUTATE ? " [mutating]" : "");
	}
	exit(asked ? 0 : EXIT_USAGE);
}

static void __attribute__((noreturn, format(printf, 3, 4)))
die(int code, const char *errcode, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	if (opt_json)
		output_error(stdout, errcode, msg, true);
	fprintf(stderr, "pgmigctl: %s\n", msg);
	free(msg);
	free(pending);
	exit(code);
}

static int
connect_socket(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		die(EXIT_USAGE, "usage", "socket path too long: %s", path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy_(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die(EXIT_FAILED, "internal", "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		if (e == EACCES || e == EPERM)
			die(EXIT_PERMISSION, "permission",
			    "permission denied on %s: join the daemon's "
			    "control group or ask root", path);
		if (e == ENOENT || e == ECONNREFUSED)
			die(EXIT_UNREACHABLE, "db_unreachable",
			    "pgmigd is not running (nothing answers on %s); "
			    "start it with systemctl start pgmigd, or use "
			    "pgmigd --once", path);
		die(EXIT_UNREACHABLE, "db_unreachable", "cannot connect to %s: %s",
		    path, strerror(e));
	}
	return fd;
}

static void
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			die(EXIT_UNREACHABLE, "db_unreachable",
			    "lost the daemon while sending: %s",
			    strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * read_line: the next reply line from fd (blocking, with a deadline);
 * NULL at EOF.  buf keeps what follows the line.
 */
static char *
read_line(int fd, char **buf, size_t *have)
{
	char chunk[4096], *nl, *line;
	ssize_t n;

	for (;;) {
		if (*buf != NULL && (nl = memchr(*buf, '\n', *have)) != NULL) {
			size_t len = (size_t)(nl - *buf);

			line = xmalloc(len + 1);
			memcpy(line, *buf, len);
			line[len] = '\0';
			memmove(*buf, nl + 1, *have - len - 1);
			*have -= len + 1;
			return line;
		}
		struct pollfd pfd = { fd, POLLIN, 0 };

		if (poll(&pfd, 1, REPLY_TIMEOUT_MS) == 0)
			die(EXIT_UNREACHABLE, "db_unreachable",
			    "no reply from the daemon");
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		if (*have + (size_t)n > 64 * 1024 * 1024)
			die(EXIT_FAILED, "internal", "reply too large");
		*buf = xreallocarray(*buf, *have + (size_t)n + 1, 1);
		memcpy(*buf + *have, chunk, (size_t)n);
		*have += (size_t)n;
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "database", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = getenv("PGMIGD_SOCKET");
	const struct cmd_spec *spec;
	struct proto_request req;
	const char *db = NULL;
	char *err = NULL, *s, *line, *buf = NULL;
	size_t have = 0;
	json_t *reqj, *reply;
	bool tty = isatty(STDERR_FILENO), shown = false;
	int ch, fd, used = 1;

	if (path == NULL || path[0] == '\0')
		path = DEFAULT_SOCKET;
	while ((ch = getopt_long(argc, argv, "+s:d:jVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'j':
			opt_json = true;
			break;
		case 'V':
			printf("pgmigctl %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage(EXIT_USAGE);
	if (strcmp(argv[0], "help") == 0 && argc == 1)
		usage(0);
	if (strcmp(argv[0], "help") == 0 && argc >= 2 &&
	    (spec = cmdspec_find_argv(argc - 1, argv + 1, &used)) != NULL)
		command_help(spec);
	if (strcmp(argv[0], "help") == 0 && argc == 2 && cmdspec_group(argv[1]))
		group_help(argv[1], "--help");
	if ((spec = cmdspec_find_argv(argc, argv, &used)) == NULL) {
		if (cmdspec_group(argv[0]))
			group_help(argv[0], argc > 1 ? argv[1] : NULL);
		die(EXIT_USAGE, "usage", "unknown command \"%s\" (pgmigctl "
		    "--help lists them)", argv[0]);
	}
	for (ch = used; ch < argc; ch++) {
		if (strcmp(argv[ch], "--") == 0)
			break;
		if (strcmp(argv[ch], "--help") == 0 ||
		    strcmp(argv[ch], "-h") == 0)
			command_help(spec);
	}
	if (db != NULL && !ident_valid(db, 63))
		die(EXIT_USAGE, "usage", "not a database name: %s", db);

	memset(&req, 0, sizeof(req));
	if (cmdspec_parse_argv(spec, argc - used, argv + used, &req.args,
	    &req.opts, &err) == -1)
		die(EXIT_USAGE, "usage", "%s", err);
	cmdspec_absolute_files(spec, req.args);
	req.id = json_integer(1);
	req.cmd = xstrdup(spec->name);
	req.db = db != NULL ? xstrdup(db) : NULL;
	reqj = proto_request_json(&req);
	s = json_dumps(reqj, JSON_COMPACT);
	json_decref(reqj);
	proto_request_clear(&req);
	if (s == NULL)
		die(EXIT_FAILED, "internal", "cannot encode the request");
	if (strlen(s) > PROTO_MAX_LINE) {
		free(s);
		die(EXIT_USAGE, "usage", "request too long");
	}

	pending = s;		/* die() frees it */
	fd = connect_socket(path);
	{
		/* one write: the daemon wakes once */
		char *reqline;

		xasprintf(&reqline, "%s\n", s);
		send_all(fd, reqline, strlen(reqline));
		free(reqline);
	}
	free(s);
	pending = NULL;

	while ((line = read_line(fd, &buf, &have)) != NULL) {
		json_t *ok, *result, *error;

		reply = json_loads(line, 0, NULL);
		free(line);
		if (!json_is_object(reply))
			die(EXIT_FAILED, "internal", "bad reply from the daemon");
		if (json_object_get(reply, "event") != NULL) {
			json_t *pct = json_object_get(reply, "pct");

			if (tty && !opt_json) {
				output_progress(stderr, json_string_value(
				    json_object_get(reply, "phase")) ?: "",
				    json_is_number(pct) ?
				    json_number_value(pct) : -1);
				shown = true;
			}
			json_decref(reply);
			continue;
		}
		if (shown)
			output_progress_done(stderr);
		ok = json_object_get(reply, "ok");
		result = json_object_get(reply, "result");
		error = json_object_get(reply, "error");
		if (json_is_true(ok)) {
			/* a check that is not ok (health-check) exits 1 */
			int code = json_is_false(json_object_get(result, "ok")) ?
			    EXIT_FAILED : EXIT_OK;

			output_result(stdout, spec->name, result != NULL ?
			    result : json_object(), opt_json);
			json_decref(reply);
			close(fd);
			free(buf);
			return code;
		} else {
			const char *code = json_string_value(json_object_get(
			    error, "code")) ?: "internal";
			const char *msg = json_string_value(json_object_get(
			    error, "message")) ?: "unknown error";
			int exit_code = proto_err_exit(proto_err_parse(code));

			if (opt_json)
				output_error(stdout, code, msg, true);
			fprintf(stderr, "pgmigctl: ");
			output_error(stderr, code, msg, false);
			json_decref(reply);
			close(fd);
			free(buf);
			return exit_code;
		}
	}
	die(EXIT_UNREACHABLE, "db_unreachable",
	    "the daemon closed the connection without a reply");
}
