/*
 * check_migrate.c: migration files (names, versions, normalization,
 * checksums, scanning) and their SQL (splitting with the real parser,
 * lines, transactional or not, lint rules).
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "migfile.h"
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
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
