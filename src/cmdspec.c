/*
 * cmdspec.c: look up commands and turn argv into args/opts by the spec.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdspec.h"
#include "util.h"

const struct cmd_spec cmd_specs[CMD_ID__COUNT] = {
#define CMD(id, name, alias, usage, min, max, flags, options, summary) \
	[CMD_ID_##id] = { name, alias, usage, min, max, flags, options, summary },
#include "cmd_list.h"
#undef CMD
};

/* cmdspec_find: the command named (or aliased) name, or NULL. */
const struct cmd_spec *
cmdspec_find(const char *name)
{
	size_t i;

	for (i = 0; i < CMD_ID__COUNT; i++) {
		if (strcmp(cmd_specs[i].name, name) == 0 ||
		    (cmd_specs[i].alias != NULL &&
		    strcmp(cmd_specs[i].alias, name) == 0))
			return &cmd_specs[i];
	}
	return NULL;
}

/*
 * cmdspec_find_argv: the command argv starts with: two words first
 * ("migrate up"), then one.  *used is how many words it took.
 */
const struct cmd_spec *
cmdspec_find_argv(int argc, char **argv, int *used)
{
	const struct cmd_spec *spec;
	char two[128];

	if (argc >= 2 && snprintf(two, sizeof(two), "%s %s", argv[0],
	    argv[1]) < (int)sizeof(two) && (spec = cmdspec_find(two)) != NULL) {
		*used = 2;
		return spec;
	}
	*used = 1;
	return argc >= 1 ? cmdspec_find(argv[0]) : NULL;
}

/*
 * cmdspec_absolute_files: "migrate lint FILE": a relative file name is
 * the caller's, not the daemon's: make it absolute here.  Versions
 * (digits and underscores) stay as they are.
 */
void
cmdspec_absolute_files(const struct cmd_spec *spec, json_t *args)
{
	size_t i;
	json_t *v;

	if (strcmp(spec->name, "migrate lint") != 0)
		return;
	json_array_foreach(args, i, v) {
		const char *a = json_string_value(v);
		char *real;

		if (a == NULL || a[0] == '/' || strspn(a, "0123456789_") ==
		    strlen(a))
			continue;
		if ((real = realpath(a, NULL)) != NULL) {
			json_array_set_new(args, i, json_string(real));
			free(real);
		}
	}
}

/* cmdspec_group: does some command start with word (as in "migrate")? */
bool
cmdspec_group(const char *word)
{
	size_t i, n = strlen(word);

	for (i = 0; i < CMD_ID__COUNT; i++)
		if (strncmp(cmd_specs[i].name, word, n) == 0 &&
		    cmd_specs[i].name[n] == ' ')
			return true;
	return false;
}

/*
 * option_lookup: is name an option of spec?  Returns 1 for a flag, 2 for
 * an option that takes a value, 0 if unknown.
 */
static int
option_lookup(const struct cmd_spec *spec, const char *name, size_t len)
{
	const char *p = spec->options;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		bool value = n > 0 && p[n - 1] == '=';

		if ((value ? n - 1 : n) == len && strncmp(p, name, len) == 0)
			return value ? 2 : 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* cmdspec_usage: "refresh VIEW [--no-concurrently]" into buf. */
void
cmdspec_usage(const struct cmd_spec *spec, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", spec->name, spec->usage[0] != '\0' ?
	    " " : "", spec->usage);
}

static int
usage_error(const struct cmd_spec *spec, char **ret_err, const char *what,
    const char *name)
{
	char usage[256];

	cmdspec_usage(spec, usage, sizeof(usage));
	if (name != NULL)
		xasprintf(ret_err, "%s %s; usage: %s", what, name, usage);
	else
		xasprintf(ret_err, "%s; usage: %s", what, usage);
	return -1;
}

/*
 * cmdspec_check: are args and opts right for spec (argument count, known
 * options, values where values are due)?  The daemon checks every
 * request with it, whatever client sent it.
 */
int
cmdspec_check(const struct cmd_spec *spec, json_t *args, json_t *opts,
    char **ret_err)
{
	int nargs = (int)json_array_size(args);
	const char *key;
	json_t *v;

	if (nargs < spec->min_args)
		return usage_error(spec, ret_err, "too few arguments", NULL);
	if (spec->max_args >= 0 && nargs > spec->max_args)
		return usage_error(spec, ret_err, "too many arguments", NULL);
	json_object_foreach(opts, key, v) {
		int kind = option_lookup(spec, key, strlen(key));

		if (kind == 0)
			return usage_error(spec, ret_err, "unknown option --",
			    key);
		if (kind == 2 && !json_is_string(v) && !json_is_integer(v))
			return usage_error(spec, ret_err, "a value is needed "
			    "for --", key);
		if (kind == 1 && !json_is_boolean(v))
			return usage_error(spec, ret_err, "no value is taken "
			    "by --", key);
	}
	return 0;
}

/*
 * cmdspec_parse_argv: argv (after the command name) into an args array
 * and an opts object.  "--opt", "--opt=V", "--opt V"; "--" ends options.
 */
int
cmdspec_parse_argv(const struct cmd_spec *spec, int argc, char **argv,
    json_t **ret_args, json_t **ret_opts, char **ret_err)
{
	json_t *args = json_array(), *opts = json_object();
	bool options = true;
	int i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (options && strcmp(a, "--") == 0) {
			options = false;
			continue;
		}
		if (options && strncmp(a, "--", 2) == 0) {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq != NULL ? (size_t)(eq - name) :
			    strlen(name);
			int kind = option_lookup(spec, name, len);
			char *key = strndup(name, len);

			if (key == NULL)
				abort();
			if (kind == 0 || (kind == 1 && eq != NULL) ||
			    (kind == 2 && eq == NULL && i + 1 >= argc)) {
				usage_error(spec, ret_err, kind == 0 ?
				    "unknown option" : kind == 1 ?
				    "no value is taken by" :
				    "a value is needed for", a);
				free(key);
				goto fail;
			}
			if (kind == 1)
				json_object_set_new(opts, key, json_true());
			else
				json_object_set_new(opts, key, json_string(
				    eq != NULL ? eq + 1 : argv[++i]));
			free(key);
			continue;
		}
		if (json_array_append_new(args, json_string(a)) == -1) {
			usage_error(spec, ret_err, "argument is not UTF-8:",
			    "");
			goto fail;
		}
	}
	if (cmdspec_check(spec, args, opts, ret_err) == -1)
		goto fail;
	*ret_args = args;
	*ret_opts = opts;
	return 0;
fail:
	json_decref(args);
	json_decref(opts);
	return -1;
}
