/*
 * fuzz_migsql.c: libFuzzer harness for what pgmigd reads from migration
 * files: UTF-8 checking, normalization and checksums (migfile.c), and
 * statement splitting, classification and lint on libpg_query's parse
 * tree (migsql.c), and what a file works on (touched tables, created,
 * dropped and renamed objects, CREATE INDEX targets).  Every statement
 * found must lie inside the text and start on the line reported, and
 * every name returned must be a quoted identifier.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migfile.h"
#include "migsql.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* quoted identifiers joined by dots ("x", "s"."x"), quotes inside doubled */
static void
check_quoted(const char *q)
{
	size_t i, n;
	int parts = 0;

	if (q == NULL)
		abort();
	n = strlen(q);
	for (i = 0; i < n;) {
		if (q[i] != '"')
			abort();
		for (i++; i < n; i++) {
			if (q[i] != '"')
				continue;
			if (i + 1 < n && q[i + 1] == '"') {
				i++;
				continue;
			}
			break;
		}
		if (i >= n)
			abort();	/* unterminated */
		i++;
		parts++;
		if (i < n && q[i++] != '.')
			abort();
		if (i == n && q[n - 1] == '.')
			abort();
	}
	if (parts < 1)
		abort();
}

static void
check_what(const struct migsql *m)
{
	json_t *t, *o, *e;
	char *table, *index;
	size_t i;

	t = migsql_touched(m);
	if (!json_is_array(t))
		abort();
	json_array_foreach(t, i, e)
		check_quoted(json_string_value(e));
	json_decref(t);
	o = migsql_objects(m);
	if (!json_is_array(o))
		abort();
	json_array_foreach(o, i, e) {
		const char *op = json_string_value(json_object_get(e, "op"));
		const char *kind = json_string_value(json_object_get(e,
		    "kind"));

		if (op == NULL || kind == NULL)
			abort();
		if (strcmp(op, "create") != 0 && strcmp(op, "drop") != 0 &&
		    strcmp(op, "rename") != 0)
			abort();
		if (strcmp(kind, "relation") != 0 && strcmp(kind, "schema") != 0)
			abort();
		if ((strcmp(op, "rename") == 0) != (json_object_get(e,
		    "new") != NULL))
			abort();
		check_quoted(json_string_value(json_object_get(e, "name")));
	}
	json_decref(o);
	for (i = 0; i < m->n; i++) {
		table = index = NULL;
		if (migsql_index_target(&m->v[i], &table, &index) == 0) {
			if (strcmp(m->v[i].kind, "IndexStmt") != 0 ||
			    index == NULL)
				abort();
			check_quoted(table);
			free(table);
			free(index);
		} else if (table != NULL || index != NULL)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct migsql m;
	char sum[65], *text, *v, *d;
	size_t len, i;
	bool rb;
	json_t *f;

	if (size > 256 * 1024)
		return 0;
	if (!migfile_utf8_valid((const char *)data, size))
		return 0;
	text = migfile_normalize((const char *)data, size, &len);
	migfile_checksum(text, len, sum);
	if (strlen(sum) != 64)
		abort();
	if (migsql_parse(text, &m) == 0) {
		for (i = 0; i < m.n; i++) {
			if (m.v[i].offset > len || m.v[i].offset + m.v[i].len >
			    len + 1)
				abort();
			if (m.v[i].line != migsql_line_at(text, m.v[i].offset))
				abort();
		}
		f = migsql_lint("fuzz.sql", text, &m);
		json_decref(f);
		check_what(&m);
	} else if (m.error == NULL || m.error_line < 1)
		abort();
	migsql_free(&m);
	/* the first line as a file name */
	for (i = 0; i < len && i < 200 && text[i] != '\n'; i++)
		;
	{
		char *name = strndup(text, i);

		if (name != NULL && migfile_split_name(name, &v, &d, &rb) == 0) {
			if (v[0] == '\0' || d[0] == '\0')
				abort();
			(void)migfile_version_cmp(v, v);
			free(v);
			free(d);
		}
		free(name);
	}
	free(text);
	return 0;
}
