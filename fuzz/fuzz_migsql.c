/*
 * fuzz_migsql.c: libFuzzer harness for what pgmigd reads from migration
 * files: UTF-8 checking, normalization and checksums (migfile.c), and
 * statement splitting, classification and lint on libpg_query's parse
 * tree (migsql.c).  Every statement found must lie inside the text and
 * start on the line reported.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migfile.h"
#include "migsql.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

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
