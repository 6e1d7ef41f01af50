/*
 * check_diag.c: health-check verdicts from metrics (pure), the findings
 * of scheduled reports, and the shape of the report SQL.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "diag.h"
#include "util.h"

static json_t *
metrics(void)
{
	return json_pack("{s:b,s:i,s:s,s:i,s:[],s:n,s:n,s:n,s:n,s:i,s:i,s:i,"
	    "s:i,s:n,s:b,s:b}",
	    "in_recovery", 0, "wraparound_age", 1000, "wraparound_database",
	    "music", "freeze_max_age", 200000000, "invalid_indexes",
	    "oldest_xact_s", "oldest_xact_pid", "idle_in_xact_s",
	    "idle_in_xact_pid", "connections", 10, "max_connections", 100,
	    "reserved", 3, "replicas", 0, "replay_lag_s", "pgss_installed", 1,
	    "pgss_preloaded", 1);
}

static const char *
status_of(json_t *r, const char *name)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(r, "checks"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")),
		    name) == 0)
			return json_string_value(json_object_get(c, "status"));
	return "(missing)";
}

START_TEST(test_healthy)
{
	struct diag_health h;
	json_t *m = metrics(), *r;

	diag_health_defaults(&h);
	r = diag_health_eval(m, &h);
	ck_assert(json_is_true(json_object_get(r, "ok")));
	ck_assert_uint_eq(json_array_size(json_object_get(r, "checks")), 8);
	ck_assert_str_eq(status_of(r, "replication_lag"), "ok");
	json_decref(r);
	json_decref(m);
}
END_TEST

START_TEST(test_thresholds)
{
	struct diag_health h;
	json_t *m = metrics(), *r;

	diag_health_defaults(&h);
	/* 1.6 x freeze_max_age: warning; 6 x: critical */
	json_object_set_new(m, "wraparound_age", json_integer(320000000));
	json_object_set_new(m, "oldest_xact_s", json_real(4000));
	json_object_set_new(m, "idle_in_xact_s", json_real(301));
	json_object_set_new(m, "connections", json_integer(93));
	json_object_set_new(m, "replicas", json_integer(1));
	json_object_set_new(m, "replay_lag_s", json_real(400));
	json_object_set_new(m, "invalid_indexes", json_pack("[s]", "public.x"));
	json_object_set_new(m, "pgss_installed", json_false());
	r = diag_health_eval(m, &h);
	ck_assert(json_is_false(json_object_get(r, "ok")));
	ck_assert_str_eq(status_of(r, "wraparound"), "warning");
	ck_assert_str_eq(status_of(r, "long_transactions"), "critical");
	ck_assert_str_eq(status_of(r, "idle_in_transaction"), "warning");
	ck_assert_str_eq(status_of(r, "connection_headroom"), "critical");
	ck_assert_str_eq(status_of(r, "replication_lag"), "critical");
	ck_assert_str_eq(status_of(r, "invalid_indexes"), "warning");
	ck_assert_str_eq(status_of(r, "pg_stat_statements"), "warning");
	ck_assert_str_eq(status_of(r, "connectivity"), "ok");
	json_decref(r);

	json_object_set_new(m, "wraparound_age", json_integer(1200000000));
	r = diag_health_eval(m, &h);
	ck_assert_str_eq(status_of(r, "wraparound"), "critical");
	json_decref(r);

	/* configured thresholds win */
	h.connections_warning = 0.9;
	h.connections_critical = 0.99;
	r = diag_health_eval(m, &h);
	ck_assert_str_eq(status_of(r, "connection_headroom"), "warning");
	json_decref(r);
	json_decref(m);
}
END_TEST

static int nfound;

static void
count(void *arg, const char *obj, const char *msg, json_t *f)
{
	(void)arg;
	(void)f;
	ck_assert_ptr_nonnull(obj);
	ck_assert_ptr_nonnull(msg);
	nfound++;
}

START_TEST(test_findings)
{
	json_t *r = json_pack("{s:[{s:s},{s:s}],s:[{s:s}],s:[]}", "unused",
	    "index", "public.a", "index", "public.b", "duplicate", "index",
	    "public.c", "invalid");

	nfound = 0;
	ck_assert_uint_eq(diag_findings(DIAG_INDEXES, r, count, NULL), 3);
	ck_assert_int_eq(nfound, 3);
	json_decref(r);
	r = json_pack("{s:b,s:[{s:s,s:s,s:s},{s:s,s:s,s:s}]}", "ok", 0,
	    "checks", "name", "a", "status", "ok", "message", "fine",
	    "name", "b", "status", "critical", "message", "bad");
	ck_assert_uint_eq(diag_findings(DIAG_HEALTH, r, count, NULL), 1);
	json_decref(r);
}
END_TEST

START_TEST(test_sql_shape)
{
	struct diag_opts o;
	int k;

	memset(&o, 0, sizeof(o));
	o.statement_timeout_ms = 30000;
	o.lock_timeout_ms = 5000;
	o.limit = 20;
	o.ext_schema = "\"public\"";
	for (k = DIAG_INDEXES; k <= DIAG_HEALTH; k++) {
		char *sql = diag_sql(k, &o);

		/* bounded, and nothing left on the pooled session */
		ck_assert_msg(strncmp(sql, "BEGIN; SET LOCAL statement_timeout "
		    "= 30000; SET LOCAL lock_timeout = 5000; SET LOCAL jit = "
		    "off; ", 92) == 0, "%d", k);
		ck_assert(strcmp(sql + strlen(sql) - 8, "; COMMIT") == 0);
		/* printf-folded: no doubled %% survives into the SQL */
		ck_assert_msg(strstr(sql, "%%") == NULL, "kind %d", k);
		ck_assert_msg(strstr(sql, "'%I.%I'") != NULL ||
		    k == DIAG_QUERIES || k == DIAG_CONNECTIONS, "kind %d", k);
		free(sql);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("diag");
	TCase *tc = tcase_create("diag");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_healthy);
	tcase_add_test(tc, test_thresholds);
	tcase_add_test(tc, test_findings);
	tcase_add_test(tc, test_sql_shape);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
