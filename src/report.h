/*
 * report.h: run a diagnostics report (diag.c) for a command: pick the
 * database, look up an extension's schema when the report needs one, run
 * the batch on the pool's urgent connection, and hand the JSON on.
 */
#ifndef PGMIG_REPORT_H
#define PGMIG_REPORT_H

#include "cmd.h"
#include "diag.h"

struct db;
typedef void (*report_done_fn)(struct cmd_ctx *, struct db *, json_t *);

enum cmd_retval report_command(struct cmd_ctx *, enum diag_kind,
    struct diag_opts *, report_done_fn);
void report_default_opts(struct db *, struct diag_opts *);
int report_opt_ms(struct cmd_ctx *, const char *, int64_t *);
int report_opt_num(struct cmd_ctx *, const char *, double, double, double *);

#endif
