/*
 * check_migrate.c: migration files (names, versions, normalization,
 * checksums, scanning) and their SQL (splitting with the real parser,
 * lines, transactional or not, lint rules, the relations a file touches
 * and the objects it creates, drops or renames), and the plans built
 * from files and history (migplan.c: status, up, down, verify).
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "migfile.h"
#include "migplan.h"
#include "migsql.h"
#include "util.h"

START_TEST(test_names)
{
	char *v, *d;
	bool rb;

	ck_assert_int_eq(migfile_split_name("001_initial_schema.sql", &v, &d,
	    &rb), 0);
	ck_assert_str_eq(v, "001");
	ck_assert_str_eq(d, "initial_schema");
	ck_assert(!rb);
	free(v);
	free(d);
	ck_assert_int_eq(migfile_split_name("20250618_075008_add_users.sql",
	    &v, &d, &rb), 0);
	ck_assert_str_eq(v, "20250618_075008");
	ck_assert_str_eq(d, "add_users");
	free(v);
	free(d);
	ck_assert_int_eq(migfile_split_name("002_add_prefs_rollback.sql", &v,
	    &d, &rb), 0);
	ck_assert(rb);
	ck_assert_str_eq(d, "add_prefs");
	free(v);
	free(d);
	ck_assert_int_eq(migfile_split_name("001_2fa_support.sql", &v, &d,
	    &rb), 0);
	ck_assert_str_eq(v, "001");
	ck_assert_str_eq(d, "2fa_support");
	free(v);
	free(d);
	ck_assert_int_eq(migfile_split_name("README.md", &v, &d, &rb), -1);
	ck_assert_int_eq(migfile_split_name("initial.sql", &v, &d, &rb), -1);
	ck_assert_int_eq(migfile_split_name("001.sql", &v, &d, &rb), -1);
	ck_assert_int_eq(migfile_split_name("001_.sql", &v, &d, &rb), -1);
}
END_TEST

START_TEST(test_versions)
{
	ck_assert_int_lt(migfile_version_cmp("001", "002"), 0);
	ck_assert_int_lt(migfile_version_cmp("2", "10"), 0);
	ck_assert_int_eq(migfile_version_cmp("001", "1"), 0);
	ck_assert_int_lt(migfile_version_cmp("20250618_075008",
	    "20250618_075009"), 0);
	ck_assert_int_lt(migfile_version_cmp("20250618", "20250618_000001"),
	    0);
	ck_assert_int_gt(migfile_version_cmp("99999999999999999999", "3"), 0);
	ck_assert_int_lt(migfile_version_cmp("005", "20250618_075008"), 0);
}
END_TEST

START_TEST(test_normalize_checksum)
{
	const char lf[] = "CREATE TABLE t (x int);\nSELECT 1;\n";
	const char crlf[] = "\xef\xbb\xbf" "CREATE TABLE t (x int);\r\nSELECT 1;\r\n";
	char a[65], b[65], *n;
	size_t len;

	n = migfile_normalize(crlf, strlen(crlf), &len);
	ck_assert_str_eq(n, lf);
	migfile_checksum(lf, strlen(lf), a);
	migfile_checksum(n, len, b);
	ck_assert_str_eq(a, b);
	free(n);
	/* sha256sum of the empty string */
	migfile_checksum("", 0, a);
	ck_assert_str_eq(a, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934c"
	    "a495991b7852b855");
	/* a lone CR stays: only CRLF pairs are line endings */
	n = migfile_normalize("a\rb", 3, &len);
	ck_assert_str_eq(n, "a\rb");
	free(n);
}
END_TEST

START_TEST(test_utf8)
{
	ck_assert(migfile_utf8_valid("caf\xc3\xa9", 5));
	ck_assert(migfile_utf8_valid("\xf0\x9f\x8e\xb5", 4));
	ck_assert(!migfile_utf8_valid("caf\xe9", 4));		/* latin-1 */
	ck_assert(!migfile_utf8_valid("\xc0\xaf", 2));		/* overlong */
	ck_assert(!migfile_utf8_valid("\xed\xa0\x80", 3));	/* surrogate */
	ck_assert(!migfile_utf8_valid("\xe2\x82", 2));		/* truncated */
	ck_assert(!migfile_utf8_valid("a\0b", 3));
}
END_TEST

static char dir[64];

static void
put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void
cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

START_TEST(test_scan)
{
	struct migset set;
	char *cause = NULL;

	strcpy(dir, "/tmp/pgmig-check-mig-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	put("010_later.sql", "SELECT 10;\n");
	put("002_add_prefs.sql", "SELECT 2;\n");
	put("002_add_prefs_rollback.sql", "SELECT -2;\n");
	put("001_initial_schema.sql", "SELECT 1;\n");
	put("README.md", "not a migration\n");
	ck_assert_int_eq(migset_scan(dir, &set, &cause), 0);
	ck_assert_uint_eq(set.n, 3);
	ck_assert_str_eq(set.v[0].version, "001");
	ck_assert_str_eq(set.v[1].version, "002");
	ck_assert_str_eq(set.v[2].version, "010");
	ck_assert_ptr_nonnull(set.v[1].rollback_path);
	ck_assert_ptr_null(set.v[0].rollback_path);
	ck_assert_str_eq(set.v[0].text, "SELECT 1;\n");
	ck_assert_ptr_nonnull(migset_find(&set, "10"));
	migset_free(&set);

	put("2_again.sql", "SELECT 2;\n");
	ck_assert_int_eq(migset_scan(dir, &set, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "version"));
	free(cause);
	cleanup();

	ck_assert_int_eq(mkdtemp(strcpy(dir, "/tmp/pgmig-check-mig-XXXXXX")) ==
	    NULL, 0);
	put("001_x.sql", "SELECT '\xe9';\n");
	ck_assert_int_eq(migset_scan(dir, &set, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "not UTF-8"));
	free(cause);
	cleanup();

	ck_assert_int_eq(mkdtemp(strcpy(dir, "/tmp/pgmig-check-mig-XXXXXX")) ==
	    NULL, 0);
	put("003_orphan_rollback.sql", "SELECT 1;\n");
	ck_assert_int_eq(migset_scan(dir, &set, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "without its migration"));
	free(cause);
	put("bad-name.sql", "SELECT 1;\n");
	ck_assert_int_eq(migset_scan(dir, &set, &cause), -1);
	free(cause);
	cleanup();

	ck_assert_int_eq(migset_scan("/nonexistent/dir", &set, &cause), -1);
	free(cause);
}
END_TEST

START_TEST(test_split)
{
	const char *sql =
	    "-- a comment; with a semicolon\n"
	    "CREATE TABLE t (x text DEFAULT 'a;b');\n"
	    "\n"
	    "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n"
	    "/* block; */ CREATE INDEX CONCURRENTLY t_x ON t (x);\n"
	    "VACUUM t;\n";
	struct migsql m;

	ck_assert_int_eq(migsql_parse(sql, &m), 0);
	ck_assert_uint_eq(m.n, 4);
	ck_assert_int_eq(m.v[0].line, 2);
	ck_assert_str_eq(m.v[0].kind, "CreateStmt");
	ck_assert_int_eq(m.v[1].line, 4);
	ck_assert_str_eq(m.v[1].kind, "CreateFunctionStmt");
	ck_assert_int_eq(m.v[2].line, 5);
	ck_assert(m.v[2].flags & MS_CONCURRENT);
	ck_assert(m.v[3].flags & MS_NONTX);
	ck_assert(m.nontx);
	ck_assert_int_eq(strncmp(sql + m.v[2].offset, "CREATE INDEX", 12), 0);
	migsql_free(&m);

	ck_assert_int_eq(migsql_parse("CREATE TABLE a (x int);\n"
	    "ALTER TABLE a ADD COLUMN y int;\n", &m), 0);
	ck_assert(!m.nontx);
	migsql_free(&m);

	ck_assert_int_eq(migsql_parse("CREATE TABLE ok (x int);\n\n"
	    "CREATE TABEL broken (x int);\n", &m), -1);
	ck_assert_int_eq(m.error_line, 3);
	ck_assert_ptr_nonnull(strstr(m.error, "syntax error"));
	migsql_free(&m);

	ck_assert_int_eq(migsql_parse("REINDEX INDEX CONCURRENTLY i;", &m), 0);
	ck_assert(m.nontx);
	migsql_free(&m);
	ck_assert_int_eq(migsql_parse("DROP INDEX CONCURRENTLY i;", &m), 0);
	ck_assert(m.nontx);
	migsql_free(&m);
	ck_assert_int_eq(migsql_parse("ANALYZE t;", &m), 0);
	ck_assert(!m.nontx);		/* ANALYZE runs in a transaction */
	migsql_free(&m);
	ck_assert_int_eq(migsql_parse("BEGIN; COMMIT;", &m), 0);
	ck_assert(m.v[0].flags & MS_TXCONTROL);
	migsql_free(&m);
}
END_TEST

static json_t *
lint(const char *sql)
{
	struct migsql m;
	json_t *f;

	ck_assert_msg(migsql_parse(sql, &m) == 0, "%s", m.error);
	f = migsql_lint("x.sql", sql, &m);
	migsql_free(&m);
	return f;
}

static bool
has(json_t *f, const char *rule, int line)
{
	size_t i;
	json_t *e;

	json_array_foreach(f, i, e)
		if (strcmp(json_string_value(json_object_get(e, "rule")),
		    rule) == 0 && (line == 0 || json_integer_value(
		    json_object_get(e, "line")) == line))
			return true;
	return false;
}

START_TEST(test_lint_rules)
{
	json_t *f = lint(
	    "CREATE INDEX tracks_title ON tracks (title);\n"		/* 1 */
	    "ALTER TABLE tracks ADD CONSTRAINT fk FOREIGN KEY (a) "
	    "REFERENCES albums;\n"					/* 2 */
	    "ALTER TABLE tracks ADD CONSTRAINT ck CHECK (x > 0);\n"	/* 3 */
	    "ALTER TABLE tracks ALTER COLUMN title TYPE varchar(10);\n"	/* 4 */
	    "ALTER TABLE tracks ADD COLUMN rating int NOT NULL;\n"	/* 5 */
	    "ALTER TABLE tracks ALTER COLUMN isrc SET NOT NULL;\n"	/* 6 */
	    "DROP TABLE old_stuff;\n"					/* 7 */
	    "ALTER TABLE tracks DROP COLUMN legacy;\n"			/* 8 */
	    "ALTER TABLE tracks RENAME TO songs;\n"			/* 9 */
	    "BEGIN;\n"							/* 10 */
	    "CREATE INDEX CONCURRENTLY c ON songs (x);\n"		/* 11 */
	    "COMMIT;\n");
	const char *rules[] = { "index-not-concurrent", "constraint-not-valid",
	    "alter-column-type", "add-column-not-null", "set-not-null",
	    "drop-table", "drop-column", "rename",
	    "concurrently-in-transaction", "transaction-control" };
	size_t i;

	ck_assert(has(f, "index-not-concurrent", 1));
	ck_assert(has(f, "constraint-not-valid", 2));
	ck_assert(has(f, "constraint-not-valid", 3));
	ck_assert(has(f, "alter-column-type", 4));
	ck_assert(has(f, "add-column-not-null", 5));
	ck_assert(has(f, "set-not-null", 6));
	ck_assert(has(f, "drop-table", 7));
	ck_assert(has(f, "drop-column", 8));
	ck_assert(has(f, "rename", 9));
	ck_assert(has(f, "transaction-control", 10));
	ck_assert(has(f, "concurrently-in-transaction", 11));
	for (i = 0; i < nitems(rules); i++)
		ck_assert_msg(has(f, rules[i], 0), "%s", rules[i]);
	json_decref(f);

	/* the file sets no lock_timeout: informational */
	f = lint("ALTER TABLE t ADD COLUMN c int;\n");
	ck_assert(has(f, "missing-lock-timeout", 1));
	json_decref(f);
}
END_TEST

START_TEST(test_lint_safe)
{
	json_t *f = lint(
	    "SET lock_timeout = '5s';\n"
	    "CREATE TABLE plays (id bigint PRIMARY KEY, track_id int NOT NULL,"
	    " at timestamptz NOT NULL DEFAULT now());\n"
	    "CREATE INDEX plays_at ON plays (at);\n"	/* new table: fine */
	    "ALTER TABLE plays ADD CONSTRAINT fk FOREIGN KEY (track_id) "
	    "REFERENCES tracks;\n"			/* new table: fine */
	    "ALTER TABLE tracks ADD COLUMN rating int NOT NULL DEFAULT 0;\n"
	    "ALTER TABLE tracks ADD CONSTRAINT ck CHECK (rating >= 0) "
	    "NOT VALID;\n");

	ck_assert_msg(json_array_size(f) == 0, "%s", json_dumps(f, 0));
	json_decref(f);

	/* CREATE INDEX CONCURRENTLY alone: non-transactional, no findings */
	f = lint("CREATE INDEX CONCURRENTLY tracks_title ON tracks (title);\n");
	ck_assert_uint_eq(json_array_size(f), 0);
	json_decref(f);
}
END_TEST

START_TEST(test_lint_disable)
{
	json_t *f = lint("-- pgmig:disable drop-table, rename\n"
	    "DROP TABLE x;\nALTER TABLE y RENAME TO z;\n"
	    "ALTER TABLE y DROP COLUMN c;\nSET lock_timeout = 1000;\n");

	ck_assert(!has(f, "drop-table", 0));
	ck_assert(!has(f, "rename", 0));
	ck_assert(has(f, "drop-column", 4));
	json_decref(f);
	/* not in a comment: no effect */
	f = lint("SELECT 'pgmig:disable drop-table';\nDROP TABLE x;\n");
	ck_assert(has(f, "drop-table", 2));
	json_decref(f);
}
END_TEST

/* ---- migsql: what a file works on */

static struct migsql *
parse(const char *sql)
{
	static struct migsql m;

	ck_assert_msg(migsql_parse(sql, &m) == 0, "%s", m.error);
	return &m;
}

/* the elements of a JSON array of strings, joined by spaces */
static const char *
joined(json_t *a)
{
	static char buf[1024];
	size_t i;
	json_t *e;

	buf[0] = '\0';
	json_array_foreach(a, i, e) {
		const char *s = json_is_string(e) ? json_string_value(e) :
		    json_string_value(json_object_get(e, "version"));

		ck_assert_ptr_nonnull(s);
		if (i > 0)
			strcat(buf, " ");
		ck_assert_uint_lt(strlen(buf) + strlen(s), sizeof(buf) - 2);
		strcat(buf, s);
	}
	return buf;
}

START_TEST(test_quote_rel)
{
	json_t *rv;
	struct migsql *m;
	char *q;

	rv = json_pack("{s:s}", "relname", "t");
	q = migsql_quote_rel(rv);
	ck_assert_str_eq(q, "\"t\"");
	free(q);
	json_decref(rv);

	rv = json_pack("{s:s,s:s}", "schemaname", "s", "relname", "a\"b");
	q = migsql_quote_rel(rv);
	ck_assert_str_eq(q, "\"s\".\"a\"\"b\"");
	free(q);
	json_decref(rv);

	rv = json_pack("{s:s,s:s}", "schemaname", "my \"x\"", "relname",
	    "\"");
	q = migsql_quote_rel(rv);
	ck_assert_str_eq(q, "\"my \"\"x\"\"\".\"\"\"\"");
	free(q);
	json_decref(rv);

	/* no relname: NULL */
	rv = json_pack("{s:s}", "schemaname", "s");
	ck_assert_ptr_null(migsql_quote_rel(rv));
	json_decref(rv);
	ck_assert_ptr_null(migsql_quote_rel(NULL));

	/* from the parser: unquoted names are folded, quoted ones kept */
	m = parse("CREATE TABLE Foo.\"Ba\"\"R\" (x int);\n");
	q = migsql_quote_rel(json_object_get(m->v[0].node, "relation"));
	ck_assert_str_eq(q, "\"foo\".\"Ba\"\"R\"");
	free(q);
	migsql_free(m);
}
END_TEST

START_TEST(test_touched)
{
	struct migsql *m = parse(
	    "CREATE TABLE a (x int);\n"
	    "ALTER TABLE a ADD COLUMN y int;\n"
	    "CREATE INDEX ON a (x);\n"
	    "INSERT INTO s.b VALUES (1);\n"
	    "UPDATE c SET x = 1;\n"
	    "DELETE FROM d WHERE x = 2;\n"
	    "COPY e FROM '/tmp/e.csv';\n"
	    "COPY f TO STDOUT;\n"			/* reads: not touched */
	    "CREATE TABLE g AS SELECT 1 AS x;\n"
	    "SELECT * FROM h;\n"			/* not touched */
	    "DROP TABLE z;\n"				/* not touched */
	    "CREATE INDEX i ON s.b (x);\n"		/* again: once */
	    "INSERT INTO a VALUES (1);\n"		/* again: once */
	    "UPDATE \"A\" SET x = 1;\n"			/* not the same as a */
	    "ALTER TABLE s.c ADD COLUMN z int;\n");	/* not the same as c */
	json_t *t = migsql_touched(m);

	ck_assert_str_eq(joined(t),
	    "\"a\" \"s\".\"b\" \"c\" \"d\" \"e\" \"g\" \"A\" \"s\".\"c\"");
	json_decref(t);
	migsql_free(m);

	/* nothing written: empty */
	m = parse("SELECT 1;\nCREATE FUNCTION f() RETURNS int AS "
	    "'SELECT 1' LANGUAGE sql;\n");
	t = migsql_touched(m);
	ck_assert_uint_eq(json_array_size(t), 0);
	json_decref(t);
	migsql_free(m);
}
END_TEST

START_TEST(test_index_target)
{
	struct migsql *m;
	char *table, *index;

	m = parse("CREATE INDEX t_x ON t (x);\n");
	ck_assert_int_eq(migsql_index_target(&m->v[0], &table, &index), 0);
	ck_assert_str_eq(table, "\"t\"");
	ck_assert_str_eq(index, "t_x");
	free(table);
	free(index);
	migsql_free(m);

	/* the index name as the catalog has it, the table quoted */
	m = parse("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"Idx\" "
	    "ON App.\"Tracks\" (x);\n");
	ck_assert_int_eq(migsql_index_target(&m->v[0], &table, &index), 0);
	ck_assert_str_eq(table, "\"app\".\"Tracks\"");
	ck_assert_str_eq(index, "Idx");
	free(table);
	free(index);
	migsql_free(m);

	/* no name, or not an index: -1 */
	table = index = NULL;
	m = parse("CREATE INDEX ON t (x);\nCREATE INDEX CONCURRENTLY ON s.t "
	    "(x);\nCREATE TABLE t2 (x int);\nDROP INDEX t_x;\n");
	ck_assert_uint_eq(m->n, 4);
	ck_assert_int_eq(migsql_index_target(&m->v[0], &table, &index), -1);
	ck_assert_int_eq(migsql_index_target(&m->v[1], &table, &index), -1);
	ck_assert_int_eq(migsql_index_target(&m->v[2], &table, &index), -1);
	ck_assert_int_eq(migsql_index_target(&m->v[3], &table, &index), -1);
	ck_assert_ptr_null(table);
	ck_assert_ptr_null(index);
	migsql_free(m);
}
END_TEST

/* is a[i] {op, kind, name[, new]}? */
static void
obj_is(json_t *a, size_t i, const char *op, const char *kind,
    const char *name, const char *newname)
{
	json_t *o = json_array_get(a, i);

	ck_assert_msg(o != NULL, "no object %zu", i);
	ck_assert_str_eq(json_string_value(json_object_get(o, "op")), op);
	ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), kind);
	ck_assert_str_eq(json_string_value(json_object_get(o, "name")), name);
	if (newname == NULL)
		ck_assert_ptr_null(json_object_get(o, "new"));
	else
		ck_assert_str_eq(json_string_value(json_object_get(o, "new")),
		    newname);
}

START_TEST(test_objects)
{
	struct migsql *m = parse(
	    "CREATE TABLE s.t (x int);\n"
	    "CREATE INDEX i ON s.t (x);\n"
	    "CREATE INDEX ON s.t (x);\n"		/* no name: nothing */
	    "CREATE VIEW v AS SELECT 1 AS x;\n"
	    "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x;\n"
	    "CREATE TABLE ta AS SELECT 1 AS x;\n"
	    "CREATE SEQUENCE sq;\n"
	    "CREATE SCHEMA sc;\n"
	    "CREATE SCHEMA AUTHORIZATION bob;\n"	/* no name: nothing */
	    "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql;\n"
	    "ALTER TABLE s.t RENAME TO \"T2\";\n"
	    "ALTER INDEX s.i RENAME TO i2;\n"
	    "ALTER VIEW v RENAME TO v2;\n"
	    "ALTER MATERIALIZED VIEW mv RENAME TO mv2;\n"
	    "ALTER SEQUENCE sq RENAME TO sq2;\n"
	    "ALTER TABLE s.\"T2\" RENAME COLUMN x TO y;\n"	/* nothing */
	    "ALTER TABLE s.\"T2\" ADD COLUMN z int;\n"		/* nothing */
	    "DROP TABLE s.\"T2\", ta;\n"
	    "DROP INDEX s.i2;\n"
	    "DROP VIEW v2;\n"
	    "DROP MATERIALIZED VIEW mv2;\n"
	    "DROP SEQUENCE IF EXISTS sq2;\n"
	    "DROP SCHEMA sc, \"we\"\"ird\" CASCADE;\n"
	    "DROP FUNCTION f();\n");			/* nothing */
	json_t *o = migsql_objects(m);
	size_t i = 0;

	obj_is(o, i++, "create", "relation", "\"s\".\"t\"", NULL);
	obj_is(o, i++, "create", "relation", "\"s\".\"i\"", NULL);
	obj_is(o, i++, "create", "relation", "\"v\"", NULL);
	obj_is(o, i++, "create", "relation", "\"mv\"", NULL);
	obj_is(o, i++, "create", "relation", "\"ta\"", NULL);
	obj_is(o, i++, "create", "relation", "\"sq\"", NULL);
	obj_is(o, i++, "create", "schema", "\"sc\"", NULL);
	obj_is(o, i++, "rename", "relation", "\"s\".\"t\"", "T2");
	obj_is(o, i++, "rename", "relation", "\"s\".\"i\"", "i2");
	obj_is(o, i++, "rename", "relation", "\"v\"", "v2");
	obj_is(o, i++, "rename", "relation", "\"mv\"", "mv2");
	obj_is(o, i++, "rename", "relation", "\"sq\"", "sq2");
	obj_is(o, i++, "drop", "relation", "\"s\".\"T2\"", NULL);
	obj_is(o, i++, "drop", "relation", "\"ta\"", NULL);
	obj_is(o, i++, "drop", "relation", "\"s\".\"i2\"", NULL);
	obj_is(o, i++, "drop", "relation", "\"v2\"", NULL);
	obj_is(o, i++, "drop", "relation", "\"mv2\"", NULL);
	obj_is(o, i++, "drop", "relation", "\"sq2\"", NULL);
	obj_is(o, i++, "drop", "schema", "\"sc\"", NULL);
	obj_is(o, i++, "drop", "schema", "\"we\"\"ird\"", NULL);
	ck_assert_uint_eq(json_array_size(o), i);
	json_decref(o);
	migsql_free(m);

	/* DML and functions: nothing */
	m = parse("INSERT INTO t VALUES (1);\nDROP FUNCTION g();\n"
	    "ALTER TABLE t ADD COLUMN c int;\n");
	o = migsql_objects(m);
	ck_assert_uint_eq(json_array_size(o), 0);
	json_decref(o);
	migsql_free(m);
}
END_TEST

/* ---- migplan: history, status, plans */

static void
newdir(void)
{
	strcpy(dir, "/tmp/pgmig-check-mig-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
scan(struct migset *set)
{
	char *cause = NULL;

	ck_assert_msg(migset_scan(dir, set, &cause) == 0, "%s", cause);
}

/* a successful row for version, with its file's checksum if it has one
 * (or a made-up one) */
static void
applied(struct mighist *h, const struct migset *set, const char *version)
{
	const struct migfile *f = migset_find(set, version);

	mighist_add(h, version, f != NULL ? f->description : "gone",
	    f != NULL ? f->checksum : "0123456789abcdef", "2025-06-18T07:50:08Z",
	    42, true, true);
}

static void
failed_row(struct mighist *h, const struct migset *set, const char *version)
{
	const struct migfile *f = migset_find(set, version);

	mighist_add(h, version, f != NULL ? f->description : "gone",
	    f != NULL ? f->checksum : "", NULL, 7, true, false);
}

static void
baseline_row(struct mighist *h, const char *version)
{
	mighist_add(h, version, MIGPLAN_BASELINE, "", "2025-06-18T07:50:08Z",
	    0, true, true);
}

/* the versions of a plan, joined by spaces */
static const char *
plan_str(const struct migset *set, const size_t *v, size_t n)
{
	static char buf[512];
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		ck_assert_uint_lt(v[i], set->n);
		if (i > 0)
			strcat(buf, " ");
		strcat(buf, set->v[v[i]].version);
	}
	return buf;
}

START_TEST(test_hist)
{
	struct mighist h = { NULL, 0 };
	const struct migrow *r;

	ck_assert_ptr_null(mighist_current(&h));
	ck_assert_ptr_null(mighist_baseline(&h));
	ck_assert_ptr_null(mighist_find(&h, "1"));
	mighist_sort(&h);

	mighist_add(&h, "10", "ten", "c10", "2025-06-18T07:50:10Z", 10, true,
	    true);
	mighist_add(&h, "2", NULL, NULL, NULL, 2, false, true);
	mighist_add(&h, "001", MIGPLAN_BASELINE, "", NULL, 0, true, true);
	mighist_add(&h, "20250618_075008", "dated", "cd", NULL, 5, true, true);
	mighist_add(&h, "20250618", "day", "cday", NULL, 5, true, false);
	ck_assert_uint_eq(h.n, 5);
	mighist_sort(&h);
	ck_assert_str_eq(h.v[0].version, "001");
	ck_assert_str_eq(h.v[1].version, "2");
	ck_assert_str_eq(h.v[2].version, "10");
	ck_assert_str_eq(h.v[3].version, "20250618");
	ck_assert_str_eq(h.v[4].version, "20250618_075008");

	/* copied strings, NULLs as "" (applied_at stays NULL) */
	ck_assert(h.v[0].baseline);
	ck_assert(!h.v[1].baseline);
	ck_assert_str_eq(h.v[1].description, "");
	ck_assert_str_eq(h.v[1].checksum, "");
	ck_assert_ptr_null(h.v[1].applied_at);
	ck_assert(!h.v[1].transactional);
	ck_assert_str_eq(h.v[2].applied_at, "2025-06-18T07:50:10Z");
	ck_assert_int_eq(h.v[2].execution_ms, 10);

	/* found as versions compare: "1" is "001", "02" is "2" */
	r = mighist_find(&h, "1");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->version, "001");
	r = mighist_find(&h, "02");
	ck_assert_ptr_eq(r, &h.v[1]);
	ck_assert_ptr_null(mighist_find(&h, "3"));
	ck_assert_ptr_null(mighist_find(&h, "20250618_075009"));

	/* current: the newest success (the failed 20250618 does not count
	 * but is older anyway); baseline: the newest successful baseline */
	ck_assert_str_eq(mighist_current(&h), "20250618_075008");
	ck_assert_str_eq(mighist_baseline(&h), "001");
	mighist_free(&h);
	ck_assert_ptr_null(h.v);
	ck_assert_uint_eq(h.n, 0);

	/* a failed newest row: current is the one before it; a failed
	 * baseline is no baseline */
	mighist_add(&h, "3", MIGPLAN_BASELINE, "", NULL, 0, true, false);
	mighist_add(&h, "2", MIGPLAN_BASELINE, "", NULL, 0, true, true);
	mighist_add(&h, "5", "x", "c", NULL, 0, true, true);
	mighist_add(&h, "40", "y", "c", NULL, 0, true, false);
	mighist_sort(&h);
	ck_assert_str_eq(mighist_current(&h), "5");
	ck_assert_str_eq(mighist_baseline(&h), "2");
	ck_assert(h.v[1].baseline && !h.v[1].success);
	mighist_free(&h);

	/* a description that merely mentions baseline is no baseline */
	mighist_add(&h, "1", "baseline", "c", NULL, 0, true, true);
	ck_assert(!h.v[0].baseline);
	ck_assert_ptr_null(mighist_baseline(&h));
	mighist_free(&h);
}
END_TEST

/* the element of a status array with that version, or NULL */
static json_t *
by_version(json_t *st, const char *key, const char *version)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(st, key), i, e)
		if (strcmp(json_string_value(json_object_get(e, "version")),
		    version) == 0)
			return e;
	return NULL;
}

START_TEST(test_status)
{
	struct migset set;
	struct mighist h = { NULL, 0 };
	json_t *st, *e;
	const struct migfile *f;

	newdir();
	put("001_a.sql", "CREATE TABLE a (x int);\n");
	put("002_b.sql", "CREATE TABLE b (x int);\n");
	put("003_c.sql", "CREATE TABLE c (x int);\n");
	put("005_late.sql", "CREATE TABLE late (x int);\n");
	put("006_e.sql", "CREATE TABLE e (x int);\n");
	put("007_conc.sql", "SET lock_timeout = '1s';\n"
	    "CREATE INDEX CONCURRENTLY a_x ON a (x);\n");
	put("008_bad.sql", "CREATE TABLE ok (x int);\n"
	    "CREATE TABEL broken (x int);\n");
	put("10_f.sql", "ALTER TABLE a ADD COLUMN y int;\n");
	put("9_g.sql", "INSERT INTO a VALUES (1);\n");
	scan(&set);

	/* nothing applied: everything pending, in version order */
	st = migplan_status(&set, &h);
	ck_assert(json_is_null(json_object_get(st, "current")));
	ck_assert(json_is_null(json_object_get(st, "baseline")));
	ck_assert_str_eq(joined(json_object_get(st, "pending")),
	    "001 002 003 005 006 007 008 9 10");
	ck_assert_uint_eq(json_array_size(json_object_get(st, "applied")), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(st,
	    "out_of_order")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "baselined")),
	    0);
	json_decref(st);

	applied(&h, &set, "001");
	/* 002 applied, then edited */
	mighist_add(&h, "002", "b", "00000000feedface", "2025-06-18T08:00:00Z",
	    3, true, true);
	failed_row(&h, &set, "003");
	applied(&h, &set, "004");			/* its file is gone */
	applied(&h, &set, "006");
	mighist_sort(&h);
	st = migplan_status(&set, &h);

	ck_assert_str_eq(json_string_value(json_object_get(st, "current")),
	    "006");
	ck_assert(json_is_null(json_object_get(st, "baseline")));
	ck_assert_str_eq(joined(json_object_get(st, "applied")),
	    "001 002 004 006");
	ck_assert_str_eq(joined(json_object_get(st, "failed")), "003");
	ck_assert_str_eq(joined(json_object_get(st, "changed")), "002");
	ck_assert_str_eq(joined(json_object_get(st, "missing")), "004");
	ck_assert_str_eq(joined(json_object_get(st, "pending")),
	    "005 007 008 9 10");
	ck_assert_str_eq(joined(json_object_get(st, "out_of_order")), "005");
	ck_assert_int_eq(json_integer_value(json_object_get(st, "baselined")),
	    0);

	/* an applied row as recorded */
	e = by_version(st, "applied", "001");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(json_string_value(json_object_get(e, "description")),
	    "a");
	ck_assert_str_eq(json_string_value(json_object_get(e, "applied_at")),
	    "2025-06-18T07:50:08Z");
	ck_assert_int_eq(json_integer_value(json_object_get(e,
	    "execution_ms")), 42);
	ck_assert_str_eq(json_string_value(json_object_get(e, "checksum")),
	    set.v[0].checksum);
	ck_assert(json_is_true(json_object_get(e, "transactional")));
	e = by_version(st, "failed", "003");
	ck_assert(json_is_null(json_object_get(e, "applied_at")));

	/* changed: the recorded checksum and the file's */
	e = by_version(st, "changed", "002");
	f = migset_find(&set, "2");
	ck_assert_str_eq(json_string_value(json_object_get(e, "checksum")),
	    "00000000feedface");
	ck_assert_str_eq(json_string_value(json_object_get(e,
	    "file_checksum")), f->checksum);

	/* pending: transactional or not, syntax errors, out of order */
	e = by_version(st, "pending", "005");
	ck_assert(json_is_true(json_object_get(e, "out_of_order")));
	ck_assert(json_is_true(json_object_get(e, "transactional")));
	ck_assert_ptr_null(json_object_get(e, "error"));
	e = by_version(st, "pending", "007");
	ck_assert(json_is_false(json_object_get(e, "transactional")));
	ck_assert_ptr_null(json_object_get(e, "out_of_order"));
	e = by_version(st, "pending", "008");
	ck_assert(json_is_null(json_object_get(e, "transactional")));
	ck_assert_ptr_nonnull(json_object_get(e, "error"));
	ck_assert_msg(strncmp(json_string_value(json_object_get(e, "error")),
	    "line 2: ", 8) == 0, "%s", json_string_value(json_object_get(e,
	    "error")));
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(e,
	    "error")), "syntax error"));
	e = by_version(st, "pending", "10");
	ck_assert_str_eq(json_string_value(json_object_get(e, "description")),
	    "f");
	ck_assert(json_is_true(json_object_get(e, "transactional")));
	ck_assert_ptr_null(json_object_get(e, "out_of_order"));
	json_decref(st);
	mighist_free(&h);

	/* a baseline at 005: 001 to 003 count as applied without rows
	 * (baselined), the baseline row itself is never missing */
	baseline_row(&h, "005");
	applied(&h, &set, "006");
	mighist_sort(&h);
	st = migplan_status(&set, &h);
	ck_assert_str_eq(json_string_value(json_object_get(st, "baseline")),
	    "005");
	ck_assert_str_eq(json_string_value(json_object_get(st, "current")),
	    "006");
	ck_assert_int_eq(json_integer_value(json_object_get(st, "baselined")),
	    3);
	ck_assert_str_eq(joined(json_object_get(st, "applied")), "005 006");
	ck_assert_str_eq(joined(json_object_get(st, "pending")),
	    "007 008 9 10");
	ck_assert_uint_eq(json_array_size(json_object_get(st, "missing")), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(st, "changed")), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(st,
	    "out_of_order")), 0);
	json_decref(st);
	mighist_free(&h);

	/* a baseline with no file of its version: not missing either */
	baseline_row(&h, "004");
	st = migplan_status(&set, &h);
	ck_assert_uint_eq(json_array_size(json_object_get(st, "missing")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "baselined")),
	    3);
	ck_assert_str_eq(json_string_value(json_object_get(st, "current")),
	    "004");
	ck_assert_str_eq(joined(json_object_get(st, "pending")),
	    "005 006 007 008 9 10");
	json_decref(st);
	mighist_free(&h);
	migset_free(&set);
	cleanup();
}
END_TEST

START_TEST(test_plan_up)
{
	struct migset set;
	struct mighist h = { NULL, 0 };
	size_t *v, n;
	char *err = NULL;

	newdir();
	put("001_a.sql", "CREATE TABLE a (x int);\n");
	put("002_b.sql", "CREATE TABLE b (x int);\n");
	put("003_c.sql", "CREATE TABLE c (x int);\n");
	put("10_d.sql", "CREATE TABLE d (x int);\n");
	put("9_e.sql", "CREATE TABLE e (x int);\n");
	scan(&set);

	/* nothing applied: all of them, in version order */
	ck_assert_int_eq(migplan_up(&set, &h, NULL, false, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "001 002 003 9 10");
	free(v);

	applied(&h, &set, "001");
	ck_assert_int_eq(migplan_up(&set, &h, NULL, false, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "002 003 9 10");
	free(v);

	/* --to: up to and including it, compared as versions */
	ck_assert_int_eq(migplan_up(&set, &h, "3", false, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "002 003");
	free(v);
	ck_assert_int_eq(migplan_up(&set, &h, "9", false, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "002 003 9");
	free(v);
	ck_assert_int_eq(migplan_up(&set, &h, "010", false, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "002 003 9 10");
	free(v);
	/* --to an applied version: nothing to do */
	ck_assert_int_eq(migplan_up(&set, &h, "1", false, &v, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	free(v);
	/* --to naming no version */
	ck_assert_int_eq(migplan_up(&set, &h, "4", false, &v, &n, &err), -1);
	ck_assert_ptr_null(v);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(strstr(err, "no migration has version 4"));
	free(err);
	err = NULL;

	/* all applied: nothing to do */
	applied(&h, &set, "002");
	applied(&h, &set, "003");
	applied(&h, &set, "9");
	applied(&h, &set, "10");
	mighist_sort(&h);
	ck_assert_int_eq(migplan_up(&set, &h, NULL, false, &v, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	free(v);
	mighist_free(&h);

	/* a failed record: refused, repair it first */
	applied(&h, &set, "001");
	failed_row(&h, &set, "002");
	mighist_sort(&h);
	ck_assert_int_eq(migplan_up(&set, &h, NULL, false, &v, &n, &err), -1);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "002"));
	ck_assert_ptr_nonnull(strstr(err, "repair"));
	free(err);
	err = NULL;
	/* not even --allow-changed or --to gets past it */
	ck_assert_int_eq(migplan_up(&set, &h, "1", true, &v, &n, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "repair"));
	free(err);
	err = NULL;
	mighist_free(&h);

	/* a changed file: refused unless allow_changed */
	mighist_add(&h, "001", "a", "00000000feedface", NULL, 1, true, true);
	ck_assert_int_eq(migplan_up(&set, &h, NULL, false, &v, &n, &err), -1);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "changed"));
	ck_assert_ptr_nonnull(strstr(err, "001_a.sql"));
	ck_assert_ptr_nonnull(strstr(err, "repair 001"));
	free(err);
	err = NULL;
	ck_assert_int_eq(migplan_up(&set, &h, NULL, true, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "002 003 9 10");
	free(v);
	mighist_free(&h);

	/* a pending file older than the current version: refused */
	applied(&h, &set, "001");
	applied(&h, &set, "003");
	mighist_sort(&h);
	ck_assert_int_eq(migplan_up(&set, &h, NULL, false, &v, &n, &err), -1);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "002_b.sql"));
	ck_assert_ptr_nonnull(strstr(err, "older"));
	ck_assert_ptr_nonnull(strstr(err, "003"));
	free(err);
	err = NULL;
	/* applied rows numerically: 9 < 10, so 9 is out of order after 10 */
	mighist_free(&h);
	applied(&h, &set, "001");
	applied(&h, &set, "002");
	applied(&h, &set, "003");
	applied(&h, &set, "10");
	mighist_sort(&h);
	ck_assert_int_eq(migplan_up(&set, &h, NULL, false, &v, &n, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "9_e.sql"));
	free(err);
	err = NULL;
	mighist_free(&h);

	/* a baseline: versions at or below it are skipped, and its row's
	 * checksum is not compared with the file's */
	baseline_row(&h, "002");
	ck_assert_int_eq(migplan_up(&set, &h, NULL, false, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "003 9 10");
	free(v);
	ck_assert_int_eq(migplan_up(&set, &h, "9", false, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "003 9");
	free(v);
	mighist_free(&h);
	/* a baseline between files, with no file of its own */
	baseline_row(&h, "5");
	ck_assert_int_eq(migplan_up(&set, &h, NULL, false, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "9 10");
	free(v);
	/* --to the baseline's version (a row, no file): nothing to do */
	ck_assert_int_eq(migplan_up(&set, &h, "5", false, &v, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	free(v);
	mighist_free(&h);

	ck_assert_ptr_null(err);
	migset_free(&set);
	cleanup();
}
END_TEST

START_TEST(test_plan_down)
{
	struct migset set;
	struct mighist h = { NULL, 0 };
	size_t *v, n;
	char *err = NULL;

	newdir();
	put("001_a.sql", "CREATE TABLE a (x int);\n");
	put("001_a_rollback.sql", "DROP TABLE a;\n");
	put("002_b.sql", "CREATE TABLE b (x int);\n");
	put("002_b_rollback.sql", "DROP TABLE b;\n");
	put("003_c.sql", "CREATE TABLE c (x int);\n");
	put("003_c_rollback.sql", "DROP TABLE c;\n");
	put("004_norb.sql", "CREATE TABLE d (x int);\n");
	put("9_e.sql", "CREATE TABLE e (x int);\n");
	put("9_e_rollback.sql", "DROP TABLE e;\n");
	put("10_f.sql", "CREATE TABLE f (x int);\n");
	put("10_f_rollback.sql", "DROP TABLE f;\n");
	scan(&set);

	/* nothing applied: nothing to revert */
	ck_assert_int_eq(migplan_down(&set, &h, NULL, 0, &v, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	free(v);

	applied(&h, &set, "001");
	applied(&h, &set, "002");
	applied(&h, &set, "003");
	mighist_sort(&h);
	/* default: one step, the newest */
	ck_assert_int_eq(migplan_down(&set, &h, NULL, 0, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "003");
	free(v);
	ck_assert_int_eq(migplan_down(&set, &h, NULL, -3, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "003");
	free(v);
	/* --steps N: newest first */
	ck_assert_int_eq(migplan_down(&set, &h, NULL, 2, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "003 002");
	free(v);
	ck_assert_int_eq(migplan_down(&set, &h, NULL, 99, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "003 002 001");
	free(v);
	/* --to V: everything above V, V itself stays */
	ck_assert_int_eq(migplan_down(&set, &h, "1", 0, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "003 002");
	free(v);
	ck_assert_int_eq(migplan_down(&set, &h, "002", 0, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "003");
	free(v);
	ck_assert_int_eq(migplan_down(&set, &h, "3", 0, &v, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	free(v);
	/* --to a pending file's version: nothing above it is applied */
	ck_assert_int_eq(migplan_down(&set, &h, "4", 0, &v, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	free(v);
	/* --to naming no version */
	ck_assert_int_eq(migplan_down(&set, &h, "0", 0, &v, &n, &err), -1);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "no migration has version 0"));
	free(err);
	err = NULL;

	/* the newest has no rollback file: refused, naming the file */
	applied(&h, &set, "004");
	mighist_sort(&h);
	ck_assert_int_eq(migplan_down(&set, &h, NULL, 0, &v, &n, &err), -1);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "no rollback file"));
	ck_assert_ptr_nonnull(strstr(err, "004_norb_rollback.sql"));
	free(err);
	err = NULL;
	/* ... even when it is not the first to go */
	applied(&h, &set, "9");
	applied(&h, &set, "10");
	mighist_sort(&h);
	ck_assert_int_eq(migplan_down(&set, &h, NULL, 2, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "10 9");	/* 9 < 10 */
	free(v);
	ck_assert_int_eq(migplan_down(&set, &h, "2", 0, &v, &n, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "004_norb_rollback.sql"));
	free(err);
	err = NULL;
	mighist_free(&h);

	/* applied, but the file is gone */
	applied(&h, &set, "001");
	applied(&h, &set, "5");
	mighist_sort(&h);
	ck_assert_int_eq(migplan_down(&set, &h, NULL, 0, &v, &n, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "gone"));
	free(err);
	err = NULL;
	mighist_free(&h);

	/* a baseline: what is above it can go, not the baseline itself */
	baseline_row(&h, "002");
	applied(&h, &set, "003");
	mighist_sort(&h);
	ck_assert_int_eq(migplan_down(&set, &h, NULL, 1, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "003");
	free(v);
	ck_assert_int_eq(migplan_down(&set, &h, "2", 0, &v, &n, &err), 0);
	ck_assert_str_eq(plan_str(&set, v, n), "003");
	free(v);
	ck_assert_int_eq(migplan_down(&set, &h, NULL, 2, &v, &n, &err), -1);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "baseline"));
	free(err);
	err = NULL;
	/* --to a version below the baseline (baselined, no row) */
	ck_assert_int_eq(migplan_down(&set, &h, "1", 0, &v, &n, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "baseline"));
	free(err);
	err = NULL;
	mighist_free(&h);

	/* a failed row: refused, whatever is asked */
	applied(&h, &set, "001");
	applied(&h, &set, "002");
	failed_row(&h, &set, "003");
	mighist_sort(&h);
	ck_assert_int_eq(migplan_down(&set, &h, NULL, 0, &v, &n, &err), -1);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "003"));
	ck_assert_ptr_nonnull(strstr(err, "repair"));
	free(err);
	err = NULL;
	ck_assert_int_eq(migplan_down(&set, &h, "1", 0, &v, &n, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "repair"));
	free(err);
	err = NULL;
	mighist_free(&h);

	migset_free(&set);
	cleanup();
}
END_TEST

/* is a[i] {version, object, kind}? */
static void
exp_is(json_t *a, size_t i, const char *version, const char *object,
    const char *kind)
{
	json_t *o = json_array_get(a, i);

	ck_assert_msg(o != NULL, "no expected object %zu", i);
	ck_assert_str_eq(json_string_value(json_object_get(o, "version")),
	    version);
	ck_assert_str_eq(json_string_value(json_object_get(o, "object")),
	    object);
	ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), kind);
}

START_TEST(test_expected)
{
	struct migset set;
	struct mighist h = { NULL, 0 };
	json_t *e;
	size_t i;

	newdir();
	put("001_create.sql",
	    "CREATE TABLE t (x int);\n"
	    "CREATE TABLE public.old (y int);\n"
	    "CREATE SCHEMA s;\n"
	    "CREATE TABLE s.u (z int);\n"
	    "CREATE VIEW vw AS SELECT 1 AS x;\n"
	    "CREATE SCHEMA gone;\n"
	    "CREATE TABLE gone (x int);\n");
	put("002_rename.sql",
	    "ALTER TABLE t RENAME TO t2;\n"
	    "ALTER TABLE s.u RENAME TO \"V\";\n");
	put("003_index.sql",
	    "CREATE INDEX t2_x ON t2 (x);\n"
	    "CREATE INDEX ON t2 (x);\n"			/* no name */
	    "CREATE INDEX v_z ON s.\"V\" (z);\n"
	    "CREATE SEQUENCE sq;\n");
	put("004_drop.sql",
	    "DROP TABLE old;\n"				/* was public.old */
	    "DROP VIEW vw;\n"
	    "DROP SCHEMA gone;\n"			/* not the table */
	    "ALTER SEQUENCE sq RENAME TO sq2;\n");
	put("005_pending.sql", "CREATE TABLE p (x int);\n");
	put("006_failed.sql", "CREATE TABLE f (x int);\n");
	put("007_broken.sql", "CREATE TABEL broken (x int);\n");
	scan(&set);

	/* nothing applied: nothing expected */
	e = migplan_expected(&set, &h);
	ck_assert_uint_eq(json_array_size(e), 0);
	json_decref(e);

	/* after 001 only */
	applied(&h, &set, "001");
	e = migplan_expected(&set, &h);
	i = 0;
	exp_is(e, i++, "001", "\"t\"", "relation");
	exp_is(e, i++, "001", "\"public\".\"old\"", "relation");
	exp_is(e, i++, "001", "\"s\"", "schema");
	exp_is(e, i++, "001", "\"s\".\"u\"", "relation");
	exp_is(e, i++, "001", "\"vw\"", "relation");
	exp_is(e, i++, "001", "\"gone\"", "schema");
	exp_is(e, i++, "001", "\"gone\"", "relation");
	ck_assert_uint_eq(json_array_size(e), i);
	json_decref(e);

	/* created, renamed, indexed, dropped; 005 pending, 006 failed and
	 * 007 unparsable (and recorded, say by hand) add nothing */
	applied(&h, &set, "002");
	applied(&h, &set, "003");
	applied(&h, &set, "004");
	failed_row(&h, &set, "006");
	applied(&h, &set, "007");
	mighist_sort(&h);
	e = migplan_expected(&set, &h);
	i = 0;
	exp_is(e, i++, "001", "\"t2\"", "relation");
	exp_is(e, i++, "001", "\"s\"", "schema");
	exp_is(e, i++, "001", "\"s\".\"V\"", "relation");
	exp_is(e, i++, "001", "\"gone\"", "relation");
	exp_is(e, i++, "003", "\"t2_x\"", "relation");
	exp_is(e, i++, "003", "\"s\".\"v_z\"", "relation");
	exp_is(e, i++, "003", "\"sq2\"", "relation");
	ck_assert_msg(json_array_size(e) == i, "%zu objects",
	    json_array_size(e));
	json_decref(e);
	mighist_free(&h);

	/* a baseline at 002: what 001 and 002 made is not known (no rows
	 * of theirs); 004's drops and renames of it change nothing */
	baseline_row(&h, "002");
	applied(&h, &set, "003");
	applied(&h, &set, "004");
	mighist_sort(&h);
	e = migplan_expected(&set, &h);
	i = 0;
	exp_is(e, i++, "003", "\"t2_x\"", "relation");
	exp_is(e, i++, "003", "\"s\".\"v_z\"", "relation");
	exp_is(e, i++, "003", "\"sq2\"", "relation");
	ck_assert_uint_eq(json_array_size(e), i);
	json_decref(e);
	mighist_free(&h);

	migset_free(&set);
	cleanup();
}
END_TEST

/* rename keeps the schema and quotes the new name; drops of a qualified
 * name match an unqualified create, and the reverse */
START_TEST(test_expected_names)
{
	struct migset set;
	struct mighist h = { NULL, 0 };
	json_t *e;
	size_t i;

	newdir();
	put("1_a.sql", "CREATE TABLE app.t (x int);\n"
	    "CREATE TABLE k (x int);\n"
	    "CREATE TABLE app.keep (x int);\n"
	    "CREATE TABLE other.keep2 (x int);\n");
	put("2_b.sql", "ALTER TABLE t RENAME TO \"we\"\"ird\";\n"
	    "DROP TABLE public.k;\n"
	    "DROP TABLE app.keep2;\n");			/* other schema */
	put("10_c.sql", "DROP TABLE app.\"we\"\"ird\";\n"
	    "CREATE TABLE app.\"we\"\"ird\" (y int);\n");
	scan(&set);
	applied(&h, &set, "1");
	applied(&h, &set, "2");
	e = migplan_expected(&set, &h);
	i = 0;
	exp_is(e, i++, "1", "\"app\".\"we\"\"ird\"", "relation");
	exp_is(e, i++, "1", "\"app\".\"keep\"", "relation");
	exp_is(e, i++, "1", "\"other\".\"keep2\"", "relation");
	ck_assert_uint_eq(json_array_size(e), i);
	json_decref(e);

	/* 10 after 2 (numerically): dropped, then created again by 10 */
	applied(&h, &set, "10");
	mighist_sort(&h);
	e = migplan_expected(&set, &h);
	i = 0;
	exp_is(e, i++, "1", "\"app\".\"keep\"", "relation");
	exp_is(e, i++, "1", "\"other\".\"keep2\"", "relation");
	exp_is(e, i++, "10", "\"app\".\"we\"\"ird\"", "relation");
	ck_assert_uint_eq(json_array_size(e), i);
	json_decref(e);
	mighist_free(&h);
	migset_free(&set);
	cleanup();
}
END_TEST

/* what goes with a table or a schema, temporary tables, SELECT INTO */
START_TEST(test_expected_cascade)
{
	struct migset set;
	struct mighist h = { NULL, 0 };
	json_t *e;
	size_t i;

	newdir();
	put("1_a.sql", "CREATE SCHEMA s;\n"
	    "CREATE TABLE s.t (x int);\n"
	    "CREATE TABLE t (x int);\n"
	    "CREATE INDEX t_x ON t (x);\n"
	    "CREATE TEMP TABLE scratch (x int);\n"
	    "SELECT 1 AS x INTO copied;\n"
	    "CREATE SCHEMA gone;\n"
	    "CREATE TABLE gone.g (x int);\n");
	put("2_b.sql", "DROP TABLE t;\n"
	    "ALTER SCHEMA s RENAME TO s2;\n"
	    "DROP SCHEMA gone CASCADE;\n");
	scan(&set);
	applied(&h, &set, "1");
	applied(&h, &set, "2");
	e = migplan_expected(&set, &h);
	i = 0;
	exp_is(e, i++, "1", "\"s2\"", "schema");
	exp_is(e, i++, "1", "\"s2\".\"t\"", "relation");
	exp_is(e, i++, "1", "\"copied\"", "relation");
	ck_assert_uint_eq(json_array_size(e), i);
	json_decref(e);
	mighist_free(&h);
	migset_free(&set);
	cleanup();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("migrate");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_versions);
	tcase_add_test(tc, test_normalize_checksum);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_scan);
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_lint_rules);
	tcase_add_test(tc, test_lint_safe);
	tcase_add_test(tc, test_lint_disable);
	tcase_add_test(tc, test_quote_rel);
	tcase_add_test(tc, test_touched);
	tcase_add_test(tc, test_index_target);
	tcase_add_test(tc, test_objects);
	tcase_add_test(tc, test_hist);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_plan_up);
	tcase_add_test(tc, test_plan_down);
	tcase_add_test(tc, test_expected);
	tcase_add_test(tc, test_expected_names);
	tcase_add_test(tc, test_expected_cascade);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
