/*
 * migplan.c: status and plans from files and history (see migplan.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migplan.h"
#include "migsql.h"
#include "util.h"

/* mighist_add: one row of migrations_table (strings copied). */
void
mighist_add(struct mighist *h, const char *version, const char *description,
    const char *checksum, const char *applied_at, int64_t execution_ms,
    bool transactional, bool success)
{
	struct migrow *r;

	h->v = xreallocarray(h->v, h->n + 1, sizeof(*h->v));
	r = &h->v[h->n++];
	memset(r, 0, sizeof(*r));
	r->version = xstrdup(version);
	r->description = xstrdup(description != NULL ? description : "");
	r->checksum = xstrdup(checksum != NULL ? checksum : "");
	r->applied_at = applied_at != NULL ? xstrdup(applied_at) : NULL;
	r->execution_ms = execution_ms;
	r->transactional = transactional;
	r->success = success;
	r->baseline = strcmp(r->description, MIGPLAN_BASELINE) == 0;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct migrow *ra = a, *rb = b;

	return migfile_version_cmp(ra->version, rb->version);
}

/* mighist_sort: by version, as files sort. */
void
mighist_sort(struct mighist *h)
{
	if (h->n > 1)
		qsort(h->v, h->n, sizeof(*h->v), row_cmp);
}

/* mighist_free: free the rows. */
void
mighist_free(struct mighist *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->v[i].version);
		free(h->v[i].description);
		free(h->v[i].checksum);
		free(h->v[i].applied_at);
	}
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

static int
row_key_cmp(const void *key, const void *elem)
{
	return migfile_version_cmp(key, ((const struct migrow *)elem)->version);
}

/*
 * mighist_find: the row of version (compared as versions), or NULL.
 * The rows are sorted (mighist_sort): a binary search.
 */
const struct migrow *
mighist_find(const struct mighist *h, const char *version)
{
	return h->n == 0 ? NULL : bsearch(version, h->v, h->n,
	    sizeof(*h->v), row_key_cmp);
}

/* mighist_baseline: the newest baseline version, or NULL. */
const char *
mighist_baseline(const struct mighist *h)
{
	const char *b = NULL;
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->v[i].baseline && h->v[i].success)
			b = h->v[i].version;
	return b;
}

/* mighist_current: the newest successfully applied version, or NULL. */
const char *
mighist_current(const struct mighist *h)
{
	const char *c = NULL;
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->v[i].success)
			c = h->v[i].version;
	return c;
}

/* below the baseline: counts as applied without a row */
static bool
baselined(const struct mighist *h, const char *version)
{
	const char *b = mighist_baseline(h);

	return b != NULL && migfile_version_cmp(version, b) <= 0;
}

static json_t *
row_json(const struct migrow *r)
{
	return json_pack("{s:s,s:s,s:o,s:I,s:s,s:b}", "version", r->version,
	    "description", r->description, "applied_at", r->applied_at !=
	    NULL ? json_string(r->applied_at) : json_null(), "execution_ms",
	    (json_int_t)r->execution_ms, "checksum", r->checksum,
	    "transactional", r->transactional);
}

/*
 * migplan_status: the result of `migrate status`: current, applied,
 * pending (in order, each with transactional and, if it does not parse,
 * error), failed, changed (checksum drift), missing (applied, file gone),
 * out_of_order (pending but older than current).
 */
json_t *
migplan_status(const struct migset *set, const struct mighist *h)
{
	json_t *applied = json_array(), *pending = json_array();
	json_t *failed = json_array(), *changed = json_array();
	json_t *missing = json_array(), *ooo = json_array();
	const char *cur = mighist_current(h), *base = mighist_baseline(h);
	size_t i, nbaselined = 0;

	for (i = 0; i < h->n; i++) {
		const struct migrow *r = &h->v[i];
		const struct migfile *f = migset_find(set, r->version);

		if (!r->success)
			json_array_append_new(failed, row_json(r));
		else
			json_array_append_new(applied, row_json(r));
		if (f == NULL && !r->baseline)
			json_array_append_new(missing, json_pack("{s:s,s:s}",
			    "version", r->version, "description",
			    r->description));
		else if (f != NULL && r->success && !r->baseline &&
		    strcmp(f->checksum, r->checksum) != 0)
			json_array_append_new(changed, json_pack(
			    "{s:s,s:s,s:s,s:s}", "version", r->version,
			    "description", r->description, "checksum",
			    r->checksum, "file_checksum", f->checksum));
	}
	for (i = 0; i < set->n; i++) {
		const struct migfile *f = &set->v[i];
		struct migsql m;
		json_t *p;

		if (mighist_find(h, f->version) != NULL)
			continue;
		if (baselined(h, f->version)) {
			nbaselined++;
			continue;
		}
		p = json_pack("{s:s,s:s}", "version", f->version,
		    "description", f->description);
		if (migsql_parse(f->text, &m) == -1) {
			char *e;

			xasprintf(&e, "line %d: %s", m.error_line, m.error);
			json_object_set_new(p, "error", json_string(e));
			json_object_set_new(p, "transactional", json_null());
			free(e);
		} else
			json_object_set_new(p, "transactional",
			    json_boolean(!m.nontx));
		migsql_free(&m);
		if (cur != NULL && migfile_version_cmp(f->version, cur) < 0) {
			json_object_set_new(p, "out_of_order", json_true());
			json_array_append_new(ooo, json_string(f->version));
		}
		json_array_append_new(pending, p);
	}
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I}",
	    "current", cur != NULL ? json_string(cur) : json_null(),
	    "baseline", base != NULL ? json_string(base) : json_null(),
	    "applied", applied, "pending", pending, "failed", failed,
	    "changed", changed, "missing", missing, "out_of_order", ooo,
	    "baselined", (json_int_t)nbaselined);
}

/*
 * migplan_up: the files `migrate up [--to V]` applies, in order, as
 * indexes into set.  Refused (-1, *err): a failed record (repair it
 * first), a changed file (unless allow_changed), a pending file older
 * than the current version, --to naming no file.
 */
int
migplan_up(const struct migset *set, const struct mighist *h, const char *to,
    bool allow_changed, size_t **ret, size_t *nret, char **err)
{
	const char *cur = mighist_current(h);
	size_t i, n = 0, *v = xcalloc(set->n + 1, sizeof(*v));

	*ret = NULL;
	*nret = 0;
	for (i = 0; i < h->n; i++) {
		const struct migrow *r = &h->v[i];
		const struct migfile *f = migset_find(set, r->version);

		if (!r->success) {
			xasprintf(err, "migration %s failed (recorded %s) and "
			    "may be half applied: see migrate status, fix what "
			    "it left, then run migrate repair %s", r->version,
			    r->applied_at != NULL ? r->applied_at : "?",
			    r->version);
			goto fail;
		}
		if (!allow_changed && f != NULL && !r->baseline &&
		    strcmp(f->checksum, r->checksum) != 0) {
			xasprintf(err, "%s was changed after it was applied "
			    "(checksum %.12s..., file %.12s...): restore it, or "
			    "accept it with migrate repair %s, or run up "
			    "--allow-changed", f->path != NULL ? f->path :
			    r->version, r->checksum, f->checksum, r->version);
			goto fail;
		}
	}
	if (to != NULL && migset_find(set, to) == NULL &&
	    mighist_find(h, to) == NULL) {
		xasprintf(err, "no migration has version %s", to);
		goto fail;
	}
	for (i = 0; i < set->n; i++) {
		const struct migfile *f = &set->v[i];

		if (mighist_find(h, f->version) != NULL ||
		    baselined(h, f->version))
			continue;
		if (to != NULL && migfile_version_cmp(f->version, to) > 0)
			break;
		if (cur != NULL && migfile_version_cmp(f->version, cur) < 0) {
			xasprintf(err, "%s is older than the applied version %s "
			    "(a branch merged late?): give it a newer version, "
			    "or apply it by hand and record it", f->path !=
			    NULL ? f->path : f->version, cur);
			goto fail;
		}
		v[n++] = i;
	}
	*ret = v;
	*nret = n;
	return 0;
fail:
	free(v);
	return -1;
}

/*
 * migplan_down: the applied files `migrate down` reverts, newest first,
 * as indexes into set: the newest steps (default 1), or all above --to.
 * Each needs its rollback file; a baseline cannot be reverted.
 */
int
migplan_down(const struct migset *set, const struct mighist *h,
    const char *to, int64_t steps, size_t **ret, size_t *nret, char **err)
{
	size_t i, n = 0, *v = xcalloc(h->n + 1, sizeof(*v));

	*ret = NULL;
	*nret = 0;
	if (to == NULL && steps <= 0)
		steps = 1;
	for (i = 0; i < h->n; i++) {
		if (!h->v[i].success) {
			xasprintf(err, "migration %s failed and may be half "
			    "applied: repair it before reverting anything",
			    h->v[i].version);
			goto fail;
		}
	}
	if (to != NULL && mighist_find(h, to) == NULL &&
	    !baselined(h, to) && migset_find(set, to) == NULL) {
		xasprintf(err, "no migration has version %s", to);
		goto fail;
	}
	for (i = h->n; i-- > 0;) {
		const struct migrow *r = &h->v[i];
		const struct migfile *f;
		size_t k;

		if (to != NULL && migfile_version_cmp(r->version, to) <= 0)
			break;
		if (to == NULL && (int64_t)n >= steps)
			break;
		if (r->baseline) {
			xasprintf(err, "cannot revert past the baseline %s",
			    r->version);
			goto fail;
		}
		f = migset_find(set, r->version);
		if (f == NULL) {
			xasprintf(err, "migration %s is applied but its file "
			    "is gone", r->version);
			goto fail;
		}
		if (f->rollback_path == NULL) {
			xasprintf(err, "%s has no rollback file (%s_%s_rollback"
			    ".sql): nothing was reverted", f->path, f->version,
			    f->description);
			goto fail;
		}
		k = (size_t)(f - set->v);
		v[n++] = k;
	}
	*ret = v;
	*nret = n;
	return 0;
fail:
	free(v);
	return -1;
}

/* does a quoted name a ("s"."t" or "t") name the same as b?  An
 * unqualified one matches the last part of a qualified one. */
static bool
same_name(const char *a, const char *b)
{
	const char *la = strstr(a, "\".\""), *lb = strstr(b, "\".\"");

	if (strcmp(a, b) == 0)
		return true;
	if ((la == NULL) == (lb == NULL))
		return false;
	return strcmp(la != NULL ? la + 2 : a, lb != NULL ? lb + 2 : b) == 0;
}

/* with the schema of name, the quoted new name */
static char *
renamed(const char *name, const char *newname)
{
	const char *dot = strstr(name, "\".\"");
	char *out, *q = sql_quote_ident(newname, strlen(newname));

	if (dot == NULL)
		return q;
	xasprintf(&out, "%.*s.%s", (int)(dot - name + 1), name, q);
	free(q);
	return out;
}

/*
 * migplan_expected: the relations and schemas the applied files created
 * and did not drop or rename later: [{"version","object","kind"}].
 */
json_t *
migplan_expected(const struct migset *set, const struct mighist *h)
{
	json_t *out = json_array();
	size_t i, j, k;
	bool exact;

	for (i = 0; i < h->n; i++) {
		const struct migfile *f;
		struct migsql m;
		json_t *objs, *o;

		if (!h->v[i].success || h->v[i].baseline ||
		    (f = migset_find(set, h->v[i].version)) == NULL)
			continue;
		if (migsql_parse(f->text, &m) == -1) {
			migsql_free(&m);
			continue;
		}
		objs = migsql_objects(&m);
		json_array_foreach(objs, j, o) {
			const char *op = json_string_value(json_object_get(o,
			    "op"));
			const char *name = json_string_value(json_object_get(o,
			    "name"));
			const char *kind = json_string_value(json_object_get(o,
			    "kind"));

			if (strcmp(op, "create") == 0) {
				json_t *t = json_object_get(o, "table");

				json_array_append_new(out, json_pack(
				    "{s:s,s:s,s:s}", "version", f->version,
				    "object", name, "kind", kind));
				if (t != NULL)
					json_object_set(json_array_get(out,
					    json_array_size(out) - 1), "table",
					    t);
				continue;
			}
			/* a name as written first; "t" for "s"."t" only when
			 * nothing is called just "t" */
			exact = false;
			for (k = 0; k < json_array_size(out); k++)
				if (strcmp(json_string_value(json_object_get(
				    json_array_get(out, k), "object")), name) == 0)
					exact = true;
			for (k = json_array_size(out); k-- > 0;) {
				json_t *e = json_array_get(out, k);
				const char *en = json_string_value(
				    json_object_get(e, "object"));
				const char *et = json_string_value(
				    json_object_get(e, "table"));
				bool self = strcmp(json_string_value(
				    json_object_get(e, "kind")), kind) == 0 &&
				    (exact ? strcmp(en, name) == 0 :
				    same_name(en, name));
				/* what lives in a schema, or on a table */
				bool inside = strcmp(kind, "schema") == 0 &&
				    strncmp(en, name, strlen(name)) == 0 &&
				    en[strlen(name)] == '.';
				bool on = strcmp(kind, "relation") == 0 &&
				    et != NULL && (exact ? strcmp(et, name) == 0 :
				    same_name(et, name));

				if (strcmp(op, "drop") == 0) {
					if (self || inside || on)
						json_array_remove(out, k);
					continue;
				}
				if (self || inside) {
					char *nn = renamed(self ? en : name,
					    json_string_value(json_object_get(o,
					    "new")));
					char *full;

					if (inside) {
						/* "s"."t" -> "s2"."t" */
						xasprintf(&full, "%s%s", nn, en +
						    strlen(name));
						free(nn);
						nn = full;
					}
					json_object_set_new(e, "object",
					    json_string(nn));
					free(nn);
				}
			}
		}
		json_decref(objs);
		migsql_free(&m);
	}
	return out;
}
