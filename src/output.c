/*
 * output.c: render result objects for people.
 *
 * A result is shown generically: scalar members as an aligned
 * "key  value" block, nested objects flattened as "key.sub", and arrays
 * of objects as aligned tables under a heading.  A few commands read
 * better as one sentence; they have a formatter in output_sentences[].
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "util.h"

typedef bool (*sentence_fn)(FILE *, json_t *);

static bool
sentence_ping(FILE *f, json_t *r)
{
	fprintf(f, "pong from pgmigd %s (pid %lld)\n",
	    json_string_value(json_object_get(r, "version")) ?: "?",
	    (long long)json_integer_value(json_object_get(r, "pid")));
	return true;
}

static bool
sentence_reload(FILE *f, json_t *r)
{
	fprintf(f, "configuration reloaded from %s\n",
	    json_string_value(json_object_get(r, "config")) ?: "?");
	return true;
}

static bool
sentence_metrics(FILE *f, json_t *r)
{
	/* the exposition text, as Prometheus would read it */
	fputs(json_string_value(json_object_get(r, "text")) ?: "", f);
	return true;
}

static const struct {
	const char *cmd;
	sentence_fn fn;
} output_sentences[] = {
	{ "metrics", sentence_metrics },
	{ "ping", sentence_ping },
	{ "reload", sentence_reload },
};

/* cell: a scalar as text (caller frees). */
static char *
cell(json_t *v)
{
	char *s;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return xstrdup(json_string_value(v));
	case JSON_INTEGER:
		xasprintf(&s, "%lld", (long long)json_integer_value(v));
		return s;
	case JSON_REAL:
		xasprintf(&s, "%.2f", json_real_value(v));
		return s;
	case JSON_TRUE:
		return xstrdup("yes");
	case JSON_FALSE:
		return xstrdup("no");
	case JSON_NULL:
		return xstrdup("-");
	case JSON_ARRAY: {
		/* a list of scalars: comma-separated */
		size_t i;
		json_t *e;
		char *out = xstrdup(""), *c, *tmp;

		json_array_foreach(v, i, e) {
			c = cell(e);
			xasprintf(&tmp, "%s%s%s", out, i > 0 ? ", " : "", c);
			free(out);
			free(c);
			out = tmp;
		}
		return out;
	}
	case JSON_OBJECT: {
		/* a nested object in a table cell: key=value ... */
		const char *key;
		json_t *sub;
		char *out = xstrdup(""), *c, *tmp;

		json_object_foreach(v, key, sub) {
			c = cell(sub);
			xasprintf(&tmp, "%s%s%s=%s", out, out[0] ? " " : "", key,
			    c);
			free(out);
			free(c);
			out = tmp;
		}
		return out;
	}
	default:
		s = json_dumps(v, JSON_COMPACT);
		return s != NULL ? s : xstrdup("?");
	}
}

/* no control characters from the server or a config reach the terminal */
static void
put_clean(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\n' || *s == '\t' || *s == '\r')
			fputc(' ', f);
		else
			fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s,
			    f);
	}
}

#define CELL_MAX 72	/* a table cell longer than this is cut */

/* table_cell: a cell for a table: one line, at most CELL_MAX bytes */
static char *
table_cell(json_t *v)
{
	char *c = cell(v), *p, *q;

	/* fold white space runs (SQL text) into one space */
	for (p = q = c; *p != '\0'; p++) {
		bool sp = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';

		if (sp && q > c && q[-1] == ' ')
			continue;
		*q++ = sp ? ' ' : *p;
	}
	*q = '\0';
	if (strlen(c) > CELL_MAX) {
		/* cut on a UTF-8 boundary, and say so */
		size_t n = CELL_MAX - 3;

		while (n > 0 && ((unsigned char)c[n] & 0xc0) == 0x80)
			n--;
		memcpy(c + n, "...", 4);
	}
	return c;
}

static void
put_padded(FILE *f, const char *s, size_t width, bool last)
{
	size_t len = strlen(s);

	put_clean(f, s);
	if (!last)
		for (; len < width + 2; len++)
			fputc(' ', f);
}

static bool
is_table(json_t *v)
{
	return json_is_array(v) && (json_array_size(v) == 0 ||
	    json_is_object(json_array_get(v, 0)));
}

static void
collect_scalars(json_t *obj, const char *prefix, json_t *out)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		char *name;

		xasprintf(&name, "%s%s", prefix, key);
		if (json_is_object(v)) {
			char *p;

			xasprintf(&p, "%s.", name);
			collect_scalars(v, p, out);
			free(p);
		} else if (!is_table(v))
			json_object_set(out, name, v);
		free(name);
	}
}

static void
print_table(FILE *f, const char *title, json_t *rows)
{
	json_t *cols = json_array(), *row, *v;
	size_t i, j, ncols, *width;
	const char *key;

	fprintf(f, "\n%s:", title);
	if (json_array_size(rows) == 0) {
		fputs(" (none)\n", f);
		json_decref(cols);
		return;
	}
	fputc('\n', f);
	/* columns: union of keys, in first-seen order */
	json_array_foreach(rows, i, row) {
		json_object_foreach(row, key, v) {
			bool seen = false;

			for (j = 0; j < json_array_size(cols); j++)
				if (strcmp(json_string_value(
				    json_array_get(cols, j)), key) == 0)
					seen = true;
			if (!seen)
				json_array_append_new(cols, json_string(key));
		}
	}
	ncols = json_array_size(cols);
	width = xcalloc(ncols, sizeof(*width));
	for (j = 0; j < ncols; j++)
		width[j] = strlen(json_string_value(json_array_get(cols, j)));
	json_array_foreach(rows, i, row) {
		for (j = 0; j < ncols; j++) {
			char *c = table_cell(json_object_get(row,
			    json_string_value(json_array_get(cols, j))) ?:
			    json_null());

			if (strlen(c) > width[j])
				width[j] = strlen(c);
			free(c);
		}
	}
	fputs("  ", f);
	for (j = 0; j < ncols; j++)
		put_padded(f, json_string_value(json_array_get(cols, j)),
		    width[j], j + 1 == ncols);
	fputc('\n', f);
	json_array_foreach(rows, i, row) {
		fputs("  ", f);
		for (j = 0; j < ncols; j++) {
			char *c = table_cell(json_object_get(row,
			    json_string_value(json_array_get(cols, j))) ?:
			    json_null());

			put_padded(f, c, width[j], j + 1 == ncols);
			free(c);
		}
		fputc('\n', f);
	}
	free(width);
	json_decref(cols);
}

static void
print_generic(FILE *f, json_t *result)
{
	json_t *scalars = json_object(), *v;
	const char *key;
	size_t width = 0;

	collect_scalars(result, "", scalars);
	json_object_foreach(scalars, key, v)
		if (strlen(key) > width)
			width = strlen(key);
	json_object_foreach(scalars, key, v) {
		char *c = cell(v);

		put_padded(f, key, width, false);
		put_clean(f, c);
		fputc('\n', f);
		free(c);
	}
	json_decref(scalars);
	json_object_foreach(result, key, v)
		if (is_table(v))
			print_table(f, key, v);
}

/*
 * output_result: print the result of cmd: the JSON object itself with
 * asjson, otherwise a sentence or tables for people.
 */
void
output_result(FILE *f, const char *cmd, json_t *result, bool asjson)
{
	size_t i;

	if (asjson) {
		json_dumpf(result, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', f);
		return;
	}
	for (i = 0; i < nitems(output_sentences); i++)
		if (strcmp(output_sentences[i].cmd, cmd) == 0 &&
		    output_sentences[i].fn(f, result))
			return;
	print_generic(f, result);
}

/* output_error: "pgmigctl: message" on f; with asjson, a JSON error. */
void
output_error(FILE *f, const char *code, const char *message, bool asjson)
{
	if (asjson) {
		json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", code,
		    "message", message);

		if (o != NULL) {
			json_dumpf(o, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			fputc('\n', f);
			json_decref(o);
			return;
		}
	}
	fputs("error: ", f);
	put_clean(f, message);
	fputc('\n', f);
}

/* output_progress: a one-line progress indicator, redrawn in place. */
void
output_progress(FILE *f, const char *phase, double pct)
{
	if (pct >= 0) {
		int filled = (int)(pct / 100.0 * 30);
		int i;

		fputs("\r\033[K", f);
		put_clean(f, phase);
		fputs(" [", f);
		for (i = 0; i < 30; i++)
			fputc(i < filled ? '#' : '.', f);
		fprintf(f, "] %5.1f%%", pct);
	} else {
		fputs("\r\033[K", f);
		put_clean(f, phase);
		fputs(" ...", f);
	}
	fflush(f);
}

/* output_progress_done: clear the progress line. */
void
output_progress_done(FILE *f)
{
	fputs("\r\033[K", f);
	fflush(f);
}
