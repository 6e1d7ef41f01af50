/*
 * cmd_list.h: every command, once.  Both pgmigctl (argument checks, help)
 * and pgmigd (dispatch, privilege) are built from this list; the daemon
 * side of each command lives in its own file, src/cmd_NAME.c, exporting
 * cmd_NAME_exec.
 *
 * CMD(ident, name, alias, usage, min_args, max_args, flags, options, summary)
 *
 * options: comma-separated long options; "name" is a flag, "name=" takes
 * a value.  They travel in the request's "opts" object.
 */
CMD(ping, "ping", NULL, "", 0, 0, CMD_READ, "",
    "round trip to the daemon")
CMD(status, "status", NULL, "", 0, 0, CMD_READ, "",
    "version, uptime, pid, configuration and databases")
CMD(reload, "reload", NULL, "", 0, 0, CMD_MUTATE | CMD_DAEMON_ONLY, "",
    "reload the configuration file (same as SIGHUP)")
CMD(test_connection, "test-connection", NULL, "", 0, 0, CMD_READ, "",
    "round trip to each database: server version, user, latency")
CMD(pool, "pool", NULL, "", 0, 0, CMD_READ, "",
    "pool statistics per database")
CMD(jobs, "jobs", NULL, "", 0, 0, CMD_READ, "",
    "configured jobs: schedule, next run, last run")
CMD(history, "history", NULL, "[JOB] [--limit N]", 0, 1, CMD_READ, "limit=",
    "past runs from job_runs, newest first")
CMD(run, "run", NULL, "JOB [--detach]", 1, 1, CMD_MUTATE, "detach",
    "run a configured job now and wait for it (--detach: print its run id)")
CMD(cancel, "cancel", NULL, "RUN_ID|JOB", 1, 1, CMD_MUTATE | CMD_DAEMON_ONLY,
    "", "cancel a running job on the server; recorded as cancelled")
CMD(refresh, "refresh", NULL, "VIEW [--no-concurrently]", 1, 1, CMD_MUTATE,
    "no-concurrently", "REFRESH MATERIALIZED VIEW CONCURRENTLY")
CMD(vacuum, "vacuum", NULL, "TABLE [--analyze] [--full]", 1, 1, CMD_MUTATE,
    "analyze,full", "VACUUM a table (--full must be asked for)")
CMD(analyze, "analyze", NULL, "[TABLE]", 0, 1, CMD_MUTATE, "",
    "ANALYZE a table, or the whole database")
CMD(analyze_indexes, "analyze-indexes", NULL, "[--limit N]", 0, 0, CMD_READ,
    "limit=", "unused, redundant and invalid indexes; the largest ones")
CMD(missing_indexes, "missing-indexes", NULL, "[--min-rows N]", 0, 0,
    CMD_READ, "min-rows=",
    "foreign keys without an index; large tables read by seq scans")
CMD(analyze_queries, "analyze-queries", "slow-queries",
    "[--limit N] [--min-mean-ms MS] [--order mean|total]", 0, 0, CMD_READ,
    "limit=,min-mean-ms=,order=", "top statements from pg_stat_statements")
CMD(table_stats, "table-stats", NULL, "[--limit N] [--pgstattuple]", 0, 0,
    CMD_READ, "limit=,pgstattuple",
    "size, live and dead tuples, estimated bloat, last (auto)vacuum/analyze")
CMD(connection_stats, "connection-stats", NULL,
    "[--idle-threshold DUR] [--long-threshold DUR]", 0, 0, CMD_READ,
    "idle-threshold=,long-threshold=",
    "connections by state, user, application; idle in transaction")
CMD(lock_info, "lock-info", NULL, "", 0, 0, CMD_READ, "",
    "lock waits and blocking chains")
CMD(health_check, "health-check", NULL, "", 0, 0, CMD_READ, "",
    "wraparound, invalid indexes, long and idle transactions, headroom, "
    "replication lag, stale jobs; exit 1 if any check is not ok")
CMD(metrics, "metrics", NULL, "", 0, 0, CMD_READ | CMD_DAEMON_ONLY, "",
    "Prometheus text: job runs, durations, pools, database up/recovery")
CMD(migrate_status, "migrate status", NULL, "", 0, 0, CMD_READ, "",
    "applied, pending, failed, changed and missing migrations; INVALID "
    "indexes")
CMD(migrate_up, "migrate up", NULL, "[--to V] [--dry-run] [--allow-changed]",
    0, 0, CMD_MUTATE, "to=,dry-run,allow-changed",
    "apply pending migrations, each file in its own transaction")
CMD(migrate_down, "migrate down", NULL, "[--to V] [--steps N]", 0, 0,
    CMD_MUTATE, "to=,steps=",
    "run rollback files, newest first: one, N, or all above V")
CMD(migrate_verify, "migrate verify", NULL, "", 0, 0, CMD_READ, "",
    "checksums of applied files, and the objects they created; exit 1 if "
    "not ok")
CMD(migrate_baseline, "migrate baseline", NULL, "VERSION", 1, 1, CMD_MUTATE,
    "", "adopt an existing database as at VERSION, running nothing")
CMD(migrate_repair, "migrate repair", NULL, "VERSION", 1, 1, CMD_MUTATE, "",
    "clear a failed record, or accept an applied file's new checksum")
CMD(migrate_lint, "migrate lint", NULL, "[FILE|VERSION...]", 0, -1, CMD_READ,
    "", "unsafe-DDL findings in pending (or given) files; exit 1 on errors")
