/*
 * fuzz_conf.c: libFuzzer harness for the configuration loader.
 *
 * conf_load reads a file, so each input is written to one temporary file
 * (created once per process in /dev/shm, or $TMPDIR, or /tmp, rewritten
 * for every input and removed at exit) and loaded.  A configuration that
 * loads goes through what a reload does with it (conf_keep_fixed against
 * a fixed configuration loaded at start-up, conf_find_db), is printed
 * (conf_print) to /dev/null and freed; errors are cleared.
 * LeakSanitizer checks that everything is freed.
 *
 * A configuration that loads is also printed to a second file and loaded
 * again: conf_print promises output that conf_load reads back, and a
 * refusal aborts (PGMIG_FUZZ_ROUNDTRIP=0 in the environment turns this
 * check off).
 *
 * libconfig 1.5 (Debian 12) leaks the string token being scanned when it
 * meets a syntax error (hyperrealm/libconfig#142, fixed by #155 in 1.7.3):
 * a file holding just "" leaks one byte.  Those leaks, and only those
 * (allocations made by its scanner), are suppressed below; a leak of any
 * setting, i.e. a missing config_destroy, is still reported.  Because such
 * inputs are common, libFuzzer may give up checking every input for leaks
 * after 1000 suppressed ones ("disabled leak detection after every
 * mutation"); LeakSanitizer still checks the whole run at exit, and a leak
 * found then fails the run (without naming the input).
 *
 * libconfig's @include would let an input open any file (/dev/zero,
 * /dev/stdin): inputs including a path with a '/' are rejected, so only
 * names relative to the fuzzer's working directory can be included.
 *
 * Build (tests/integration/t_fuzz.py does this):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -I. \
 *     fuzz/fuzz_conf.c src/conf.c src/cron.c src/util.c src/log.c \
 *     $(pkg-config --cflags --libs jansson libconfig libpq libsystemd)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* LeakSanitizer reads this at start-up: libconfig 1.5's scanner leaks */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig_yylex\n"
	    "leak:strbuf_append\n"
	    "leak:scanctx_take_string\n";
}

static char input_path[4096];
static char print_path[4096];
static FILE *devnull;
static int roundtrip;
static struct conf *base_conf;	/* "the running configuration" */

static const char base_text[] =
    "daemon: {\n"
    "  control_socket = \"/run/pgmigd/control.sock\";\n"
    "  control_mode = \"0660\";\n"
    "  control_group = \"pgmig\";\n"
    "};\n"
    "databases = ( { name = \"music\"; conninfo = \"dbname=music\"; } );\n";

static void write_file(const char *, const uint8_t *, size_t);

static void
cleanup(void)
{
	if (input_path[0] != '\0')
		(void)unlink(input_path);
	if (print_path[0] != '\0')
		(void)unlink(print_path);
}

static void
make_temp(char *buf, size_t len, const char *suffix)
{
	const char *dirs[3] = { "/dev/shm", getenv("TMPDIR"), "/tmp" };
	size_t i;
	int fd;

	for (i = 0; i < 3; i++) {
		if (dirs[i] == NULL || dirs[i][0] == '\0' ||
		    access(dirs[i], W_OK) == -1)
			continue;
		if ((size_t)snprintf(buf, len, "%s/fuzz_conf.%ld.XXXXXX%s",
		    dirs[i], (long)getpid(), suffix) >= len)
			continue;
		fd = mkstemps(buf, (int)strlen(suffix));
		if (fd != -1) {
			close(fd);
			return;
		}
	}
	fprintf(stderr, "fuzz_conf: cannot create a temporary file\n");
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *e = getenv("PGMIG_FUZZ_ROUNDTRIP");

	(void)argc;
	(void)argv;
	struct conf_errors errs = { NULL, 0 };

	roundtrip = e == NULL || strcmp(e, "0") != 0;
	make_temp(input_path, sizeof(input_path), ".conf");
	if (roundtrip)
		make_temp(print_path, sizeof(print_path), ".conf");
	atexit(cleanup);
	if ((devnull = fopen("/dev/null", "w")) == NULL) {
		fprintf(stderr, "fuzz_conf: /dev/null: %s\n", strerror(errno));
		abort();
	}
	/* conf.c logs nothing while loading; keep anything quiet anyway */
	log_init(LOG_TARGET_STDERR, LOG_CRIT, "fuzz_conf");

	write_file(input_path, (const uint8_t *)base_text,
	    sizeof(base_text) - 1);
	if ((base_conf = conf_load(input_path, &errs)) == NULL) {
		fprintf(stderr, "fuzz_conf: the base configuration does not "
		    "load: %s\n", errs.n > 0 ? errs.v[0] : "?");
		abort();
	}
	conf_errors_clear(&errs);
	return 0;
}

/* include_outside: does the input @include a path holding a '/'? */
static int
include_outside(const uint8_t *data, size_t size)
{
	static const char dir[] = "@include";
	const uint8_t *p = data, *end = data + size, *hit;

	while ((hit = memmem(p, (size_t)(end - p), dir, sizeof(dir) - 1)) !=
	    NULL) {
		p = hit + sizeof(dir) - 1;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end || *p != '"')
			continue;
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '/')
				return 1;
			if (*p == '\\' && p + 1 < end)
				p++;
		}
	}
	return 0;
}

static void
write_file(const char *path, const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd == -1) {
		fprintf(stderr, "fuzz_conf: %s: %s\n", path, strerror(errno));
		abort();
	}
	while (off < size) {
		n = write(fd, data + off, size - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "fuzz_conf: write: %s\n",
			    strerror(errno));
			abort();
		}
		off += (size_t)n;
	}
	close(fd);
}

static void
check_roundtrip(const struct conf *conf)
{
	struct conf_errors errs = { NULL, 0 };
	struct conf *again;
	FILE *f;
	size_t i;

	if ((f = fopen(print_path, "w")) == NULL)
		abort();
	conf_print(f, conf);
	fclose(f);
	again = conf_load(print_path, &errs);
	if (again == NULL) {
		fprintf(stderr, "fuzz_conf: conf_print output does not load "
		    "back:\n");
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.v[i]);
		abort();
	}
	conf_free(again);
	conf_errors_clear(&errs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors errs = { NULL, 0 };
	struct conf *conf;

	if (include_outside(data, size))
		return -1;	/* keep it out of the corpus */
	write_file(input_path, data, size);
	conf = conf_load(input_path, &errs);
	if (conf != NULL) {
		if (errs.n != 0) {
			fprintf(stderr, "fuzz_conf: loaded with %zu errors\n",
			    errs.n);
			abort();
		}
		size_t i, j;

		/* what a reload does with a new configuration */
		conf_keep_fixed(base_conf, conf);
		for (i = 0; i < conf->ndbs; i++) {
			if (conf_find_db(conf, conf->dbs[i].name) == NULL) {
				fprintf(stderr, "fuzz_conf: database %zu not "
				    "found by its name\n", i);
				abort();
			}
			for (j = 0; j < conf->dbs[i].njobs; j++)
				(void)conf_job_type_name(
				    conf->dbs[i].jobs[j].type);
		}
		(void)conf_find_db(conf, "music");
		conf_print(devnull, conf);
		fflush(devnull);
		if (roundtrip)
			check_roundtrip(conf);
		conf_free(conf);
	} else if (errs.n == 0) {
		fprintf(stderr, "fuzz_conf: refused without an error\n");
		abort();
	}
	conf_errors_clear(&errs);
	return 0;
}
