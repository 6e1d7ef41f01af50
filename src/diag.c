/*
 * diag.c: the SQL of every diagnostics report, and the health-check
 * verdicts.  Every report is one statement that builds the result object
 * with json_build_object on the server; pgmigd passes it on.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "diag.h"
#include "util.h"

#define TS(x) "pg_catalog.to_char((" x ") AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define USER_NS(n) "(" n ".nspname <> 'pg_catalog' AND " n ".nspname <> " \
	"'information_schema' AND " n ".nspname !~ '^pg_toast' AND " n \
	".nspname !~ '^pg_temp')"

static const char sql_indexes[] =
    "WITH idx AS ("
    " SELECT i.indexrelid AS oid, i.indrelid, i.indisunique, i.indisvalid,"
    "  (pg_catalog.string_to_array(i.indkey::pg_catalog.text, ' ')"
    "   ::pg_catalog.int2[])[1:i.indnkeyatts] AS keys,"
    "  (pg_catalog.string_to_array(i.indclass::pg_catalog.text, ' '))"
    "   [1:i.indnkeyatts] AS classes,"
    "  i.indcollation::pg_catalog.text AS colls,"
    "  pg_catalog.pg_get_expr(i.indexprs, i.indrelid) AS exprs,"
    "  pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS pred,"
    "  ic.relam, am.amname, coalesce(s.idx_scan, 0) AS scans,"
    "  pg_catalog.pg_relation_size(i.indexrelid) AS size,"
    "  pg_catalog.format('%%I.%%I', n.nspname, ic.relname) AS iname,"
    "  pg_catalog.format('%%I.%%I', tn.nspname, tc.relname) AS tname,"
    /* IN, not a correlated EXISTS: pg_constraint has no index on
     * conindid, and the estimate alone made this costly at 30k indexes */
    "  i.indexrelid IN (SELECT k.conindid FROM pg_catalog.pg_constraint k"
    "   WHERE k.contype IN ('p', 'u', 'x')) AS enforces"
    " FROM pg_catalog.pg_index i"
    " JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
    " JOIN pg_catalog.pg_am am ON am.oid = ic.relam"
    " JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace"
    " JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid"
    " JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace"
    " LEFT JOIN pg_catalog.pg_stat_all_indexes s"
    "  ON s.indexrelid = i.indexrelid"
    " WHERE " USER_NS("n")
    "), dup AS ("
    /* a is redundant next to b: same table, access method, expressions
     * and predicate, and a's key columns (and operator classes) equal
     * b's, or are a strict prefix of b's for btree; a unique index is
     * redundant only next to a unique one; one that backs a constraint
     * never is; of two identical ones the newer is reported */
    " SELECT DISTINCT ON (a.oid) a.oid, a.iname, b.iname AS dup_of,"
    "  a.tname, a.size"
    " FROM idx a JOIN idx b ON a.indrelid = b.indrelid AND a.oid <> b.oid"
    "  AND a.relam = b.relam AND b.indisvalid AND a.indisvalid"
    "  AND a.exprs IS NOT DISTINCT FROM b.exprs"
    "  AND a.pred IS NOT DISTINCT FROM b.pred"
    " WHERE NOT a.enforces AND (NOT a.indisunique OR"
    "  (b.indisunique AND a.keys = b.keys)) AND ("
    "  (a.keys = b.keys AND a.classes = b.classes AND a.colls = b.colls"
    "   AND (b.enforces OR (b.indisunique AND NOT a.indisunique)"
    "    OR (a.indisunique = b.indisunique AND a.oid > b.oid)))"
    "  OR (a.amname = 'btree'"
    "   AND pg_catalog.cardinality(a.keys) < pg_catalog.cardinality(b.keys)"
    "   AND a.keys = b.keys[1:pg_catalog.cardinality(a.keys)]"
    "   AND a.classes = b.classes[1:pg_catalog.cardinality(a.classes)]))"
    " ORDER BY a.oid, b.enforces DESC, b.oid"
    ")"
    "SELECT pg_catalog.json_build_object("
    " 'stats_reset', (SELECT " TS("stats_reset")
    "  FROM pg_catalog.pg_stat_database"
    "  WHERE datname = pg_catalog.current_database()),"
    " 'unused', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.json_build_object('index', iname, 'table', tname,"
    "  'size_bytes', size, 'scans', scans) ORDER BY size DESC, iname)"
    "  FROM idx WHERE scans = 0 AND NOT indisunique AND NOT enforces"
    "  AND indisvalid), '[]'),"
    " 'duplicate', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.json_build_object('index', iname, 'duplicate_of', dup_of,"
    "  'table', tname, 'size_bytes', size) ORDER BY size DESC, iname)"
    "  FROM dup), '[]'),"
    " 'invalid', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.json_build_object('index', iname, 'table', tname,"
    "  'size_bytes', size) ORDER BY iname) FROM idx WHERE NOT indisvalid),"
    "  '[]'),"
    " 'largest', coalesce((SELECT pg_catalog.json_agg(x) FROM"
    "  (SELECT pg_catalog.json_build_object('index', iname, 'table', tname,"
    "  'size_bytes', size, 'scans', scans) AS x FROM idx"
    "  ORDER BY size DESC, iname LIMIT %lld) l), '[]'),"
    " 'indexes', (SELECT pg_catalog.count(*) FROM idx),"
    " 'total_size_bytes', (SELECT coalesce(pg_catalog.sum(size),"
    "  0) FROM idx))";

static const char sql_missing[] =
    "WITH fk AS ("
    " SELECT c.conname, c.conrelid, c.conkey,"
    "  pg_catalog.format('%%I.%%I', n.nspname, t.relname) AS tname"
    " FROM pg_catalog.pg_constraint c"
    " JOIN pg_catalog.pg_class t ON t.oid = c.conrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace"
    " WHERE c.contype = 'f' AND " USER_NS("n")
    "), missing AS ("
    /* an index supports the FK when its leading columns are exactly the
     * FK's columns, in any order */
    " SELECT fk.* FROM fk WHERE NOT EXISTS (SELECT 1"
    "  FROM pg_catalog.pg_index i WHERE i.indrelid = fk.conrelid"
    "  AND i.indisvalid AND i.indpred IS NULL"
    "  AND (pg_catalog.string_to_array(i.indkey::pg_catalog.text, ' ')"
    "   ::pg_catalog.int2[])[1:pg_catalog.cardinality(fk.conkey)]"
    "   OPERATOR(pg_catalog.@>) fk.conkey"
    "  AND (pg_catalog.string_to_array(i.indkey::pg_catalog.text, ' ')"
    "   ::pg_catalog.int2[])[1:pg_catalog.cardinality(fk.conkey)]"
    "   OPERATOR(pg_catalog.<@) fk.conkey)"
    ")"
    "SELECT pg_catalog.json_build_object("
    " 'fk_without_index', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.json_build_object('table', m.tname, 'columns',"
    "  (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord)"
    "   FROM pg_catalog.unnest(m.conkey) WITH ORDINALITY AS k(attnum, ord)"
    "   JOIN pg_catalog.pg_attribute a ON a.attrelid = m.conrelid"
    "   AND a.attnum = k.attnum),"
    "  'constraint', m.conname) ORDER BY m.tname, m.conname)"
    "  FROM missing m), '[]'),"
    /* rows: the larger of the live-tuple count and reltuples, which
     * survives a statistics reset */
    " 'seq_scan_heavy', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.json_build_object('table',"
    "  pg_catalog.format('%%I.%%I', s.schemaname, s.relname),"
    "  'seq_scan', s.seq_scan, 'idx_scan', coalesce(s.idx_scan, 0),"
    "  'rows', greatest(s.n_live_tup, c.reltuples::pg_catalog.int8),"
    "  'seq_tup_read', s.seq_tup_read)"
    "  ORDER BY s.seq_tup_read DESC)"
    "  FROM pg_catalog.pg_stat_user_tables s"
    "  JOIN pg_catalog.pg_class c ON c.oid = s.relid"
    "  WHERE greatest(s.n_live_tup, c.reltuples::pg_catalog.int8) >= %lld"
    "  AND s.seq_scan > 0 AND s.seq_scan > coalesce(s.idx_scan, 0)), '[]'),"
    " 'min_rows', %lld)";

/* %s: the extension's schema (quoted); then min mean, order, limit */
static const char sql_queries[] =
    "SELECT pg_catalog.json_build_object("
    " 'order', '%s',"
    " 'queries', coalesce((SELECT pg_catalog.json_agg(x) FROM"
    "  (SELECT pg_catalog.json_build_object('queryid', s.queryid,"
    "   'query', pg_catalog.left(s.query, 2000), 'calls', s.calls,"
    "   'mean_ms', pg_catalog.round(s.mean_exec_time::pg_catalog.numeric, 3),"
    "   'total_ms', pg_catalog.round(s.total_exec_time::pg_catalog.numeric,"
    "   3), 'rows', s.rows) AS x"
    "  FROM %s.pg_stat_statements s"
    "  WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database"
    "   WHERE datname = pg_catalog.current_database())"
    "  AND s.mean_exec_time >= %.3f AND s.queryid IS NOT NULL"
    "  ORDER BY %s DESC LIMIT %lld) q), '[]'))";

/*
 * The scheduled slow_queries job: what ran since the previous run, from a
 * snapshot it keeps in the state schema (replaced in the same statement).
 * Counters that went down were reset: the delta is then the new value.
 */
static const char sql_queries_delta[] =
    "WITH cur AS ("
    " SELECT s.queryid, s.userid, s.dbid, s.calls, s.total_exec_time AS"
    "  total, s.rows, s.query FROM %s.pg_stat_statements s"
    " WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database"
    "  WHERE datname = pg_catalog.current_database())"
    "  AND s.queryid IS NOT NULL"
    "), prev AS (SELECT * FROM %s.pgss_snapshot WHERE database = %s"
    " AND job = %s"
    "), d AS ("
    " SELECT c.queryid, c.query,"
    "  CASE WHEN p.calls IS NULL OR c.calls < p.calls THEN c.calls"
    "   ELSE c.calls - p.calls END AS calls,"
    "  CASE WHEN p.calls IS NULL OR c.calls < p.calls THEN c.total"
    "   ELSE c.total - p.total_ms END AS total,"
    "  CASE WHEN p.calls IS NULL OR c.calls < p.calls THEN c.rows"
    "   ELSE c.rows - p.rows END AS rows"
    " FROM cur c LEFT JOIN prev p ON p.queryid = c.queryid"
    "  AND p.userid = c.userid AND p.dbid = c.dbid"
    "), keep AS ("
    " INSERT INTO %s.pgss_snapshot AS t (database, job, queryid, userid,"
    "  dbid, calls, total_ms, rows, taken_at)"
    " SELECT %s, %s, queryid, userid, dbid, calls, total, rows,"
    "  pg_catalog.now()"
    " FROM cur ON CONFLICT (database, job, queryid, userid, dbid)"
    " DO UPDATE SET"
    "  calls = EXCLUDED.calls, total_ms = EXCLUDED.total_ms,"
    "  rows = EXCLUDED.rows, taken_at = EXCLUDED.taken_at"
    "), gone AS ("
    " DELETE FROM %s.pgss_snapshot p WHERE p.database = %s AND p.job = %s"
    " AND NOT EXISTS"
    "  (SELECT 1 FROM cur c WHERE c.queryid = p.queryid"
    "  AND c.userid = p.userid AND c.dbid = p.dbid)"
    ")"
    "SELECT pg_catalog.json_build_object("
    " 'since', (SELECT " TS("pg_catalog.max(taken_at)") " FROM prev),"
    " 'queries', coalesce((SELECT pg_catalog.json_agg(x) FROM"
    "  (SELECT pg_catalog.json_build_object('queryid', queryid,"
    "   'query', pg_catalog.left(query, 2000), 'calls', calls,"
    "   'mean_ms', pg_catalog.round((total / calls)::pg_catalog.numeric, 3),"
    "   'total_ms', pg_catalog.round(total::pg_catalog.numeric, 3),"
    "   'rows', rows) AS x FROM d"
    "  WHERE calls > 0 AND total / calls >= %.3f"
    "  ORDER BY total / calls DESC LIMIT %lld) q), '[]'))";

/*
 * Bloat, the usual statistics-based way: the pages a table would need for
 * reltuples tuples of the average width pg_stats reports (with header,
 * null bitmap, alignment, item pointer and fillfactor), against the pages
 * it has.  btree indexes the same way on their key columns.  Tables with
 * columns pg_stats does not cover (never analyzed, or not readable) get
 * null rather than a guess.
 */
static const char sql_tables[] =
    /* the largest tables first (by relpages, which costs no file
     * access); sizes are then read only for those */
    "WITH t AS (SELECT * FROM ("
    " SELECT c.oid, n.nspname, c.relname, c.reltuples, c.relkind,"
    "  pg_catalog.pg_relation_size(c.oid) AS main_size,"
    "  pg_catalog.pg_table_size(c.oid) AS size,"
    "  pg_catalog.current_setting('block_size')::pg_catalog.int8 AS bs,"
    "  coalesce((SELECT pg_catalog.substr(o, 12)::pg_catalog.int4"
    "   FROM pg_catalog.unnest(c.reloptions) o"
    "   WHERE o LIKE 'fillfactor=%%'), 100) AS ff,"
    "  s.n_live_tup, s.n_dead_tup, s.last_vacuum, s.last_autovacuum,"
    "  s.last_analyze, s.last_autoanalyze"
    " FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid"
    " WHERE c.relkind IN ('r', 'm') AND " USER_NS("n")
    " ORDER BY c.relpages DESC, n.nspname, c.relname %s) x"
    "), cols AS ("
    " SELECT a.attrelid AS oid, pg_catalog.count(*) AS ncols,"
    "  pg_catalog.count(st.avg_width) AS nstats,"
    "  pg_catalog.sum((1 - st.null_frac) * st.avg_width) AS width,"
    "  pg_catalog.bool_or(st.null_frac > 0) AS nulls"
    " FROM pg_catalog.pg_attribute a"
    " JOIN t ON t.oid = a.attrelid"
    " LEFT JOIN pg_catalog.pg_stats st ON st.schemaname = t.nspname"
    "  AND st.tablename = t.relname AND st.attname = a.attname"
    "  AND NOT st.inherited"
    " WHERE a.attnum > 0 AND NOT a.attisdropped"
    " GROUP BY a.attrelid"
    "), est AS ("
    " SELECT t.*, CASE WHEN cols.ncols = cols.nstats AND t.reltuples >= 0"
    "  THEN pg_catalog.ceil(t.reltuples / greatest(1,"
    "   pg_catalog.floor((t.bs - 24) * t.ff / 100.0 / ("
    "    8 * pg_catalog.ceil((23 + CASE WHEN cols.nulls THEN"
    "     pg_catalog.ceil(cols.ncols / 8.0) ELSE 0 END) / 8.0)"
    "    + 8 * pg_catalog.ceil(coalesce(cols.width, 0) / 8.0)"
    "    + 4))))"
    "  END AS pages_needed"
    " FROM t LEFT JOIN cols ON cols.oid = t.oid"
    "), aw AS ("
    /* every column's average width, read from pg_stats once */
    " SELECT a.attrelid, a.attnum, st.avg_width"
    " FROM pg_catalog.pg_attribute a"
    " JOIN t ON t.oid = a.attrelid"
    " LEFT JOIN pg_catalog.pg_stats st ON st.schemaname = t.nspname"
    "  AND st.tablename = t.relname AND st.attname = a.attname"
    "  AND NOT st.inherited"
    " WHERE a.attnum > 0 AND NOT a.attisdropped"
    "), ixk AS ("
    " SELECT i.indexrelid, i.indrelid, k.attnum"
    " FROM pg_catalog.pg_index i"
    " JOIN t ON t.oid = i.indrelid,"
    " pg_catalog.unnest((pg_catalog.string_to_array("
    "  i.indkey::pg_catalog.text, ' ')::pg_catalog.int2[])"
    "  [1:i.indnkeyatts]) k(attnum)"
    " WHERE i.indisvalid AND i.indexprs IS NULL"
    "), ixw AS ("
    " SELECT ixk.indexrelid, CASE WHEN pg_catalog.count(aw.avg_width) ="
    "  pg_catalog.count(*) THEN pg_catalog.sum(aw.avg_width) END AS width"
    " FROM ixk LEFT JOIN aw ON aw.attrelid = ixk.indrelid"
    "  AND aw.attnum = ixk.attnum"
    " GROUP BY ixk.indexrelid"
    "), ix AS ("
    " SELECT i.indexrelid, i.indrelid,"
    "  pg_catalog.format('%%I.%%I', n.nspname, ic.relname) AS iname,"
    "  pg_catalog.format('%%I.%%I', n.nspname, tc.relname) AS tname,"
    "  pg_catalog.pg_relation_size(i.indexrelid) AS size, ic.reltuples,"
    "  pg_catalog.current_setting('block_size')::pg_catalog.int8 AS bs,"
    "  ixw.width"
    " FROM ixw"
    " JOIN pg_catalog.pg_index i ON i.indexrelid = ixw.indexrelid"
    " JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
    " JOIN pg_catalog.pg_am am ON am.oid = ic.relam AND am.amname = 'btree'"
    " JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = tc.relnamespace"
    ")"
    "SELECT pg_catalog.json_build_object("
    " 'method', '%s', 'listed', (SELECT pg_catalog.count(*) FROM t),"
    " 'tables', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.json_build_object("
    "  'table', pg_catalog.format('%%I.%%I', nspname, relname),"
    "  'size_bytes', size, 'live_tuples', n_live_tup,"
    "  'dead_tuples', n_dead_tup,"
    "  'dead_pct', CASE WHEN n_live_tup + n_dead_tup > 0 THEN"
    "   pg_catalog.round(100.0 * n_dead_tup / (n_live_tup + n_dead_tup), 1)"
    "   END,"
    "  'bloat_bytes', %s,"
    "  'last_vacuum', " TS("last_vacuum") ","
    "  'last_autovacuum', " TS("last_autovacuum") ","
    "  'last_analyze', " TS("last_analyze") ","
    "  'last_autoanalyze', " TS("last_autoanalyze") ")"
    "  ORDER BY size DESC, nspname, relname) FROM est), '[]'),"
    " 'indexes', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.json_build_object('index', iname, 'table', tname,"
    "  'size_bytes', size, 'bloat_bytes', CASE WHEN width IS NOT NULL"
    "  AND reltuples >= 0 THEN greatest(0, size - bs * (1 +"
    "   pg_catalog.ceil(reltuples * (8 + 8 * pg_catalog.ceil(width / 8.0)"
    "   + 4) / ((bs - 24 - 16) * 0.9))))::pg_catalog.int8 END)"
    "  ORDER BY size DESC, iname) FROM ix), '[]'))";

static const char sql_connections[] =
    /* every client connection counts, this one too; only the lists of
     * sessions leave it out */
    "WITH a AS (SELECT * FROM pg_catalog.pg_stat_activity"
    " WHERE backend_type = 'client backend')"
    "SELECT pg_catalog.json_build_object("
    " 'max_connections',"
    "  pg_catalog.current_setting('max_connections')::pg_catalog.int4,"
    " 'superuser_reserved_connections', pg_catalog.current_setting("
    "  'superuser_reserved_connections')::pg_catalog.int4,"
    " 'total', (SELECT pg_catalog.count(*) FROM a),"
    " 'usage', pg_catalog.round(((SELECT pg_catalog.count(*) FROM a)"
    "  / pg_catalog.current_setting('max_connections')::pg_catalog.numeric),"
    "  3),"
    " 'by_state', (SELECT coalesce(pg_catalog.json_object_agg("
    "  k, v), '{}') FROM (SELECT coalesce(state, 'unknown') k,"
    "  pg_catalog.count(*) v FROM a GROUP BY 1) x),"
    " 'by_user', (SELECT coalesce(pg_catalog.json_object_agg("
    "  k, v), '{}') FROM (SELECT coalesce(usename::pg_catalog.text,"
    "  '?') k, pg_catalog.count(*) v FROM a GROUP BY 1) x),"
    " 'by_application', (SELECT coalesce("
    "  pg_catalog.json_object_agg(k, v), '{}') FROM (SELECT"
    "  coalesce(nullif(application_name, ''),"
    "  '(none)') k, pg_catalog.count(*) v FROM a GROUP BY 1) x),"
    " 'by_database', (SELECT coalesce(pg_catalog.json_object_agg("
    "  k, v), '{}') FROM (SELECT coalesce(datname::pg_catalog.text,"
    "  '?') k, pg_catalog.count(*) v FROM a GROUP BY 1) x),"
    " 'idle_in_transaction', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.json_build_object('pid', pid, 'duration_s',"
    "  pg_catalog.round(pg_catalog.date_part('epoch', pg_catalog.now() -"
    "  state_change)::pg_catalog.numeric, 1), 'user', usename,"
    "  'application', application_name, 'database', datname,"
    "  'query', pg_catalog.left(query, 500)) ORDER BY state_change)"
    "  FROM a WHERE state LIKE 'idle in transaction%%'"
    "  AND pid <> pg_catalog.pg_backend_pid()"
    "  AND pg_catalog.now() - state_change >= %lld * interval '1 ms'), '[]'),"
    " 'long_running', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.json_build_object('pid', pid, 'duration_s',"
    "  pg_catalog.round(pg_catalog.date_part('epoch', pg_catalog.now() -"
    "  query_start)::pg_catalog.numeric, 1), 'user', usename,"
    "  'database', datname, 'query', pg_catalog.left(query, 500))"
    "  ORDER BY query_start) FROM a WHERE state = 'active'"
    "  AND pid <> pg_catalog.pg_backend_pid()"
    "  AND pg_catalog.now() - query_start >= %lld * interval '1 ms'), '[]'))";

static const char sql_locks[] =
    "WITH b AS ("
    " SELECT a.pid, pg_catalog.pg_blocking_pids(a.pid) AS blockers,"
    "  a.query, a.usename, a.datname, a.query_start"
    " FROM pg_catalog.pg_stat_activity a"
    " WHERE pg_catalog.cardinality(pg_catalog.pg_blocking_pids(a.pid)) > 0"
    "), w AS ("
    " SELECT DISTINCT ON (l.pid) l.pid, l.mode, l.locktype, l.waitstart,"
    "  CASE WHEN c.oid IS NOT NULL THEN"
    "   pg_catalog.format('%%I.%%I', n.nspname, c.relname) END AS rel"
    " FROM pg_catalog.pg_locks l"
    " LEFT JOIN pg_catalog.pg_class c ON c.oid = l.relation"
    " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE NOT l.granted ORDER BY l.pid, l.waitstart"
    ")"
    "SELECT pg_catalog.json_build_object("
    " 'blocked', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.json_build_object('pid', b.pid, 'blocked_by',"
    "  pg_catalog.to_json(b.blockers), 'wait_s', pg_catalog.round("
    "  pg_catalog.date_part('epoch', pg_catalog.now() - coalesce("
    "  w.waitstart, b.query_start))::pg_catalog.numeric, 1),"
    "  'query', pg_catalog.left(b.query, 500), 'mode', w.mode,"
    "  'relation', w.rel, 'locktype', w.locktype, 'user', b.usename,"
    "  'database', b.datname) ORDER BY w.waitstart NULLS LAST, b.pid)"
    "  FROM b LEFT JOIN w ON w.pid = b.pid), '[]'),"
    " 'blockers', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.json_build_object('pid', a.pid, 'state', a.state,"
    "  'query', pg_catalog.left(a.query, 500), 'xact_age_s',"
    "  pg_catalog.round(pg_catalog.date_part('epoch', pg_catalog.now() -"
    "  a.xact_start)::pg_catalog.numeric, 1), 'user', a.usename,"
    "  'blocked_by', pg_catalog.to_json(pg_catalog.pg_blocking_pids(a.pid))"
    "  ) ORDER BY a.pid) FROM pg_catalog.pg_stat_activity a"
    "  WHERE a.pid IN (SELECT pg_catalog.unnest(blockers) FROM b)), '[]'))";

static const char sql_health[] =
    "WITH a AS (SELECT * FROM pg_catalog.pg_stat_activity"
    " WHERE backend_type = 'client backend'"
    " AND pid <> pg_catalog.pg_backend_pid())"
    "SELECT pg_catalog.json_build_object("
    " 'in_recovery', pg_catalog.pg_is_in_recovery(),"
    " 'wraparound_age', (SELECT pg_catalog.max(pg_catalog.age(datfrozenxid))"
    "  FROM pg_catalog.pg_database WHERE datallowconn),"
    " 'wraparound_database', (SELECT datname FROM pg_catalog.pg_database"
    "  WHERE datallowconn ORDER BY pg_catalog.age(datfrozenxid) DESC LIMIT 1),"
    " 'freeze_max_age', pg_catalog.current_setting("
    "  'autovacuum_freeze_max_age')::pg_catalog.int8,"
    " 'invalid_indexes', coalesce((SELECT pg_catalog.json_agg("
    "  pg_catalog.format('%%I.%%I', n.nspname, c.relname))"
    "  FROM pg_catalog.pg_index i"
    "  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "  WHERE NOT i.indisvalid), '[]'),"
    " 'oldest_xact_s', (SELECT pg_catalog.max(pg_catalog.date_part('epoch',"
    "  pg_catalog.now() - xact_start)) FROM a"
    "  WHERE xact_start IS NOT NULL),"
    " 'oldest_xact_pid', (SELECT pid FROM a WHERE xact_start IS NOT NULL"
    "  ORDER BY xact_start LIMIT 1),"
    " 'idle_in_xact_s', (SELECT pg_catalog.max(pg_catalog.date_part('epoch',"
    "  pg_catalog.now() - state_change)) FROM a"
    "  WHERE state LIKE 'idle in transaction%%'),"
    " 'idle_in_xact_pid', (SELECT pid FROM a"
    "  WHERE state LIKE 'idle in transaction%%'"
    "  ORDER BY state_change LIMIT 1),"
    " 'connections', (SELECT pg_catalog.count(*) + 1 FROM a),"
    " 'max_connections',"
    "  pg_catalog.current_setting('max_connections')::pg_catalog.int4,"
    " 'reserved', pg_catalog.current_setting("
    "  'superuser_reserved_connections')::pg_catalog.int4,"
    " 'replicas', (SELECT pg_catalog.count(*)"
    "  FROM pg_catalog.pg_stat_replication),"
    " 'replay_lag_s', (SELECT pg_catalog.max(pg_catalog.date_part('epoch',"
    "  replay_lag)) FROM pg_catalog.pg_stat_replication),"
    " 'pgss_installed', EXISTS (SELECT 1 FROM pg_catalog.pg_extension"
    "  WHERE extname = 'pg_stat_statements'),"
    " 'pgss_preloaded', pg_catalog.current_setting("
    "  'shared_preload_libraries') ~ 'pg_stat_statements')";

/*
 * diag_extension: the extension a report needs looked up first (its
 * schema goes into the SQL), or NULL.
 */
const char *
diag_extension(enum diag_kind kind, const struct diag_opts *o)
{
	if (kind == DIAG_TABLES && o->pgstattuple)
		return "pgstattuple";
	return kind == DIAG_QUERIES ? "pg_stat_statements" : NULL;
}

/*
 * diag_sql: the whole batch for a report: BEGIN, SET LOCAL timeouts (so
 * nothing is left on the pooled session), the report, COMMIT.
 */
char *
diag_sql(enum diag_kind kind, const struct diag_opts *o)
{
	char *body = NULL, *out;

	switch (kind) {
	case DIAG_INDEXES:
		xasprintf(&body, sql_indexes, (long long)(o->limit > 0 ?
		    o->limit : 10));
		break;
	case DIAG_MISSING:
		xasprintf(&body, sql_missing, (long long)o->min_rows,
		    (long long)o->min_rows);
		break;
	case DIAG_QUERIES:
		if (o->delta)
			xasprintf(&body, sql_queries_delta, o->ext_schema,
			    o->state_schema, o->db_literal, o->job_literal,
			    o->state_schema, o->db_literal, o->job_literal,
			    o->state_schema, o->db_literal, o->job_literal,
			    o->min_mean_ms, (long long)o->limit);
		else
			xasprintf(&body, sql_queries, o->order_total ? "total" :
			    "mean", o->ext_schema, o->min_mean_ms,
			    o->order_total ? "s.total_exec_time" :
			    "s.mean_exec_time", (long long)o->limit);
		break;
	case DIAG_TABLES: {
		char limit[48] = "";

		if (o->limit > 0)
			snprintf(limit, sizeof(limit), "LIMIT %lld",
			    (long long)o->limit);
		if (o->pgstattuple) {
			char *expr;

			/* measured, not estimated: free space plus dead tuples
			 * from the visibility map and a sample of pages */
			xasprintf(&expr, "(SELECT (p.approx_free_space + "
			    "p.dead_tuple_len)::pg_catalog.int8 FROM "
			    "%s.pgstattuple_approx(oid) p)", o->ext_schema);
			xasprintf(&body, sql_tables, limit, "pgstattuple_approx",
			    expr);
			free(expr);
		} else
			xasprintf(&body, sql_tables, limit, "statistics",
			    "CASE WHEN pages_needed IS NOT NULL THEN "
			    "greatest(0, main_size - pages_needed * bs)"
			    "::pg_catalog.int8 END");
		break;
	}
	case DIAG_CONNECTIONS:
		xasprintf(&body, sql_connections, (long long)o->idle_ms,
		    (long long)o->long_ms);
		break;
	case DIAG_LOCKS:
		xasprintf(&body, sql_locks);	/* folds its %% */
		break;
	case DIAG_HEALTH:
		xasprintf(&body, sql_health);
		break;
	}
	/* JIT never pays off on catalog queries, and its compile time
	 * dominated reports at 30k indexes */
	xasprintf(&out, "BEGIN; SET LOCAL statement_timeout = %lld; "
	    "SET LOCAL lock_timeout = %lld; SET LOCAL jit = off; %s; COMMIT",
	    (long long)o->statement_timeout_ms, (long long)o->lock_timeout_ms,
	    body);
	free(body);
	return out;
}

/* ---- health-check verdicts */

/* diag_health_defaults: the thresholds without a health_check job. */
void
diag_health_defaults(struct diag_health *h)
{
	h->wraparound_warning = 1.5;
	h->wraparound_critical = 5.0;
	h->long_xact_warning_ms = 15 * 60 * 1000;
	h->long_xact_critical_ms = 60 * 60 * 1000;
	h->idle_xact_warning_ms = 5 * 60 * 1000;
	h->idle_xact_critical_ms = 30 * 60 * 1000;
	h->connections_warning = 0.8;
	h->connections_critical = 0.95;
	h->lag_warning_ms = 30 * 1000;
	h->lag_critical_ms = 5 * 60 * 1000;
}

/* diag_health_from_job: the thresholds a health_check job configures. */
void
diag_health_from_job(struct diag_health *h, const struct conf_job *j)
{
	h->wraparound_warning = j->wraparound_warning;
	h->wraparound_critical = j->wraparound_critical;
	h->long_xact_warning_ms = j->long_xact_warning_ms;
	h->long_xact_critical_ms = j->long_xact_critical_ms;
	h->idle_xact_warning_ms = j->idle_xact_warning_ms;
	h->idle_xact_critical_ms = j->idle_xact_critical_ms;
	h->connections_warning = j->connections_warning;
	h->connections_critical = j->connections_critical;
	h->lag_warning_ms = j->lag_warning_ms;
	h->lag_critical_ms = j->lag_critical_ms;
}

/* diag_health_add: append one check to the result's "checks". */
void
diag_health_add(json_t *result, const char *name, const char *status,
    json_t *value, const char *message)
{
	json_t *checks = json_object_get(result, "checks");

	json_array_append_new(checks, json_pack("{s:s,s:s,s:o,s:s}", "name",
	    name, "status", status, "value", value != NULL ? value :
	    json_null(), "message", message));
	if (strcmp(status, "ok") != 0)
		json_object_set_new(result, "ok", json_false());
}

static const char *
level(double v, double warn, double crit)
{
	if (v >= crit)
		return "critical";
	if (v >= warn)
		return "warning";
	return "ok";
}

static double
num(json_t *m, const char *key)
{
	json_t *v = json_object_get(m, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

/*
 * diag_health_eval: turn the metrics of sql_health into the result
 * {"ok","checks":[{name,status,value,message}]}.  Pure: unit-tested.
 */
json_t *
diag_health_eval(json_t *m, const struct diag_health *h)
{
	json_t *r = json_pack("{s:b,s:[]}", "ok", 1, "checks");
	char msg[512];
	double v, ratio;
	const char *st;

	diag_health_add(r, "connectivity", "ok", json_true(),
	    json_is_true(json_object_get(m, "in_recovery")) ?
	    "connected; the server is a standby" : "connected to the primary");

	v = num(m, "wraparound_age");
	ratio = num(m, "freeze_max_age") > 0 ? v / num(m, "freeze_max_age") : 0;
	st = level(ratio, h->wraparound_warning, h->wraparound_critical);
	snprintf(msg, sizeof(msg), "oldest datfrozenxid age %.0f (%s) is "
	    "%.2f x autovacuum_freeze_max_age%s", v,
	    json_string_value(json_object_get(m, "wraparound_database")) ?: "?",
	    ratio, strcmp(st, "ok") == 0 ? "" : ": autovacuum is not keeping "
	    "up; VACUUM (FREEZE) that database");
	diag_health_add(r, "wraparound", st, json_real(round(ratio * 1000) /
	    1000), msg);

	v = (double)json_array_size(json_object_get(m, "invalid_indexes"));
	snprintf(msg, sizeof(msg), v == 0 ? "no invalid indexes" :
	    "%.0f invalid index(es), e.g. from a failed CREATE INDEX "
	    "CONCURRENTLY: drop and rebuild them", v);
	diag_health_add(r, "invalid_indexes", v == 0 ? "ok" : "warning",
	    json_deep_copy(json_object_get(m, "invalid_indexes")), msg);

	v = num(m, "oldest_xact_s");
	st = level(v * 1000, (double)h->long_xact_warning_ms,
	    (double)h->long_xact_critical_ms);
	snprintf(msg, sizeof(msg), json_is_null(json_object_get(m,
	    "oldest_xact_s")) ? "no open transactions" :
	    "oldest transaction open %.0f s (pid %lld)", v,
	    (long long)json_integer_value(json_object_get(m,
	    "oldest_xact_pid")));
	diag_health_add(r, "long_transactions", st, json_real(round(v)), msg);

	v = num(m, "idle_in_xact_s");
	st = level(v * 1000, (double)h->idle_xact_warning_ms,
	    (double)h->idle_xact_critical_ms);
	snprintf(msg, sizeof(msg), json_is_null(json_object_get(m,
	    "idle_in_xact_s")) ? "no session idle in transaction" :
	    "a session is idle in transaction for %.0f s (pid %lld)", v,
	    (long long)json_integer_value(json_object_get(m,
	    "idle_in_xact_pid")));
	diag_health_add(r, "idle_in_transaction", st, json_real(round(v)),
	    msg);

	ratio = num(m, "max_connections") - num(m, "reserved") > 0 ?
	    num(m, "connections") / (num(m, "max_connections") -
	    num(m, "reserved")) : 1;
	st = level(ratio, h->connections_warning, h->connections_critical);
	snprintf(msg, sizeof(msg), "%.0f of %.0f connections in use (%.0f "
	    "reserved for superusers)", num(m, "connections"),
	    num(m, "max_connections"), num(m, "reserved"));
	diag_health_add(r, "connection_headroom", st,
	    json_real(round(ratio * 1000) / 1000), msg);

	if (num(m, "replicas") > 0) {
		v = num(m, "replay_lag_s");
		st = level(v * 1000, (double)h->lag_warning_ms,
		    (double)h->lag_critical_ms);
		snprintf(msg, sizeof(msg), "%.0f replica(s), largest replay "
		    "lag %.1f s", num(m, "replicas"), v);
		diag_health_add(r, "replication_lag", st, json_real(v), msg);
	} else
		diag_health_add(r, "replication_lag", "ok", json_null(),
		    "no replicas are connected");

	if (!json_is_true(json_object_get(m, "pgss_preloaded")))
		diag_health_add(r, "pg_stat_statements", "warning", json_false(),
		    "pg_stat_statements is not in shared_preload_libraries: "
		    "add it there, restart, then CREATE EXTENSION "
		    "pg_stat_statements");
	else if (!json_is_true(json_object_get(m, "pgss_installed")))
		diag_health_add(r, "pg_stat_statements", "warning", json_false(),
		    "pg_stat_statements is loaded but not created in this "
		    "database: CREATE EXTENSION pg_stat_statements");
	else
		diag_health_add(r, "pg_stat_statements", "ok", json_true(),
		    "pg_stat_statements is available");
	return r;
}

/*
 * diag_findings: one call of emit(arg, object, message, finding) per
 * finding of a scheduled report (journald gets one entry each); returns
 * how many.
 */
size_t
diag_findings(enum diag_kind kind, json_t *res, void (*emit)(void *,
    const char *, const char *, json_t *), void *arg)
{
	static const struct {
		enum diag_kind kind;
		const char *list;
		const char *object;
		const char *what;
	} lists[] = {
		{ DIAG_INDEXES, "unused", "index", "unused index" },
		{ DIAG_INDEXES, "duplicate", "index", "redundant index" },
		{ DIAG_INDEXES, "invalid", "index", "invalid index" },
		{ DIAG_QUERIES, "queries", "queryid", "slow statement" },
		{ DIAG_CONNECTIONS, "idle_in_transaction", "pid",
		    "session idle in transaction" },
		{ DIAG_CONNECTIONS, "long_running", "pid", "long-running query" },
		{ DIAG_HEALTH, "checks", "name", "health check" },
	};
	size_t i, k, n = 0;
	json_t *e;

	for (i = 0; i < nitems(lists); i++) {
		if (lists[i].kind != kind)
			continue;
		json_array_foreach(json_object_get(res, lists[i].list), k, e) {
			json_t *o = json_object_get(e, lists[i].object);
			char *obj, *msg;

			if (kind == DIAG_HEALTH && strcmp(json_string_value(
			    json_object_get(e, "status")) ?: "ok", "ok") == 0)
				continue;
			obj = json_is_string(o) ? xstrdup(json_string_value(o)) :
			    json_dumps(o, JSON_ENCODE_ANY);
			if (kind == DIAG_HEALTH)
				xasprintf(&msg, "%s: %s: %s", lists[i].what,
				    json_string_value(json_object_get(e,
				    "status")), json_string_value(
				    json_object_get(e, "message")));
			else
				xasprintf(&msg, "%s %s", lists[i].what, obj);
			emit(arg, obj, msg, e);
			free(obj);
			free(msg);
			n++;
		}
	}
	return n;
}

/*
 * diag_drop_schema: remove from a report's lists the entries of schema
 * (pgmigd's own state tables: an unused index there is not news).
 */
void
diag_drop_schema(json_t *report, const char *schema)
{
	size_t plen = strlen(schema), i;
	const char *key;
	json_t *list, *e;

	json_object_foreach(report, key, list) {
		if (!json_is_array(list))
			continue;
		for (i = json_array_size(list); i > 0; i--) {
			const char *t;

			e = json_array_get(list, i - 1);
			t = json_string_value(json_object_get(e, "table"));
			if (t == NULL)
				t = json_string_value(json_object_get(e,
				    "index"));
			if (t != NULL && strncmp(t, schema, plen) == 0 &&
			    t[plen] == '.')
				json_array_remove(list, i - 1);
		}
	}
}
