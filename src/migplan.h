/*
 * migplan.h: what to do with a migration directory given the history in
 * migrations_table.  Pure logic (no database, no loop): status, the plan
 * of `migrate up` and of `migrate down`, and the objects `migrate verify`
 * expects.  Unit-tested in tests/check_migrate.c.
 *
 * A baseline (`migrate baseline V`) is one row whose description is
 * MIGPLAN_BASELINE: files up to V count as applied without a row each.
 */
#ifndef PGMIG_MIGPLAN_H
#define PGMIG_MIGPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "migfile.h"

#define MIGPLAN_BASELINE "<< baseline >>"

struct migrow {
	char *version;
	char *description;
	char *checksum;
	char *applied_at;	/* RFC 3339, or NULL */
	int64_t execution_ms;
	bool transactional;
	bool success;
	bool baseline;
};

struct mighist {
	struct migrow *v;	/* sorted by version */
	size_t n;
};

void mighist_add(struct mighist *, const char *, const char *, const char *,
    const char *, int64_t, bool, bool);
void mighist_sort(struct mighist *);
void mighist_free(struct mighist *);
const struct migrow *mighist_find(const struct mighist *, const char *);
const char *mighist_baseline(const struct mighist *);
const char *mighist_current(const struct mighist *);

json_t *migplan_status(const struct migset *, const struct mighist *);
int migplan_up(const struct migset *, const struct mighist *, const char *,
    bool, size_t **, size_t *, char **);
int migplan_down(const struct migset *, const struct mighist *, const char *,
    int64_t, size_t **, size_t *, char **);
json_t *migplan_expected(const struct migset *, const struct mighist *);

#endif
