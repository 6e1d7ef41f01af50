/*
 * cmdspec.h: the command table shared by pgmigctl and pgmigd: names,
 * usage, argument counts, options, and which commands mutate.
 */
#ifndef PGMIG_CMDSPEC_H
#define PGMIG_CMDSPEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define CMD_READ 0x00
#define CMD_MUTATE 0x01		/* needs root, our uid or control_group */
#define CMD_DAEMON_ONLY 0x02	/* makes no sense with pgmigd --once */

struct cmd_spec {
	const char *name;
	const char *alias;
	const char *usage;
	int min_args;
	int max_args;		/* -1: no limit */
	unsigned flags;
	const char *options;
	const char *summary;
};

enum cmd_id {
#define CMD(id, ...) CMD_ID_##id,
#include "cmd_list.h"
#undef CMD
	CMD_ID__COUNT
};

extern const struct cmd_spec cmd_specs[CMD_ID__COUNT];

const struct cmd_spec *cmdspec_find(const char *);
const struct cmd_spec *cmdspec_find_argv(int, char **, int *);
bool cmdspec_group(const char *);
void cmdspec_absolute_files(const struct cmd_spec *, json_t *);
int cmdspec_parse_argv(const struct cmd_spec *, int, char **, json_t **,
    json_t **, char **);
int cmdspec_check(const struct cmd_spec *, json_t *, json_t *, char **);
void cmdspec_usage(const struct cmd_spec *, char *, size_t);

#endif
