/*
 * output.h: how pgmigctl and pgmigd --once show a result: --json prints
 * the result object; otherwise a short sentence or aligned tables.
 */
#ifndef PGMIG_OUTPUT_H
#define PGMIG_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

void output_result(FILE *, const char *, json_t *, bool);
void output_error(FILE *, const char *, const char *, bool);
void output_progress(FILE *, const char *, double);
void output_progress_done(FILE *);

#endif
