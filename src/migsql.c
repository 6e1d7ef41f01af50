/*
 * migsql.c: parse a migration with libpg_query and judge its statements.
 *
 * Lint rules, each a finding {file, line, rule, severity, message}:
 *   index-not-concurrent   CREATE INDEX without CONCURRENTLY on a table
 *                          this file did not create (it blocks writes)
 *   constraint-not-valid   ADD FOREIGN KEY / CHECK without NOT VALID on a
 *                          table this file did not create (full scan under
 *                          lock; add NOT VALID, then VALIDATE CONSTRAINT)
 *   alter-column-type      ALTER COLUMN ... TYPE (rewrites the table)
 *   add-column-not-null    ADD COLUMN ... NOT NULL without DEFAULT (fails
 *                          on a table with rows)
 *   set-not-null           SET NOT NULL (scans under ACCESS EXCLUSIVE)
 *   drop-table, drop-column  (data loss; running code may still use them)
 *   rename                 RENAME (running code still uses the old name)
 *   concurrently-in-transaction  CONCURRENTLY after BEGIN in the file
 *   transaction-control    BEGIN/COMMIT/ROLLBACK in a migration (pgmigd
 *                          wraps each file in its own transaction)
 *   missing-lock-timeout   a transactional file with DDL that does not
 *                          SET lock_timeout itself (pgmigd applies the
 *                          configured one; informational)
 * "-- pgmig:disable RULE[,RULE]" anywhere in the file silences rules.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "migsql.h"
#include "util.h"

/* migsql_line_at: the 1-based line of byte offset off in text. */
int
migsql_line_at(const char *text, size_t off)
{
	int line = 1;
	size_t i;

	for (i = 0; i < off && text[i] != '\0'; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

/* skip white space and comments: where the statement's first token is */
static size_t
skip_blank(const char *t, size_t off, size_t end)
{
	while (off < end) {
		if (t[off] == ' ' || t[off] == '\t' || t[off] == '\n' ||
		    t[off] == '\r' || t[off] == '\f')
			off++;
		else if (t[off] == '-' && off + 1 < end && t[off + 1] == '-') {
			while (off < end && t[off] != '\n')
				off++;
		} else if (t[off] == '/' && off + 1 < end && t[off + 1] == '*') {
			int depth = 1;

			off += 2;
			while (off < end && depth > 0) {
				if (t[off] == '/' && off + 1 < end &&
				    t[off + 1] == '*') {
					depth++;
					off += 2;
				} else if (t[off] == '*' && off + 1 < end &&
				    t[off + 1] == '/') {
					depth--;
					off += 2;
				} else
					off++;
			}
		} else
			break;
	}
	return off;
}

static bool
node_true(json_t *n, const char *key)
{
	return json_is_true(json_object_get(n, key));
}

/* the flags of one statement node ({"IndexStmt": {...}}) */
static unsigned
classify(const char *kind, json_t *n)
{
	size_t i;
	json_t *e;

	if (strcmp(kind, "TransactionStmt") == 0)
		return MS_TXCONTROL;
	if (strcmp(kind, "IndexStmt") == 0 && node_true(n, "concurrent"))
		return MS_NONTX | MS_CONCURRENT;
	if (strcmp(kind, "DropStmt") == 0 && node_true(n, "concurrent"))
		return MS_NONTX | MS_CONCURRENT;
	if (strcmp(kind, "ReindexStmt") == 0) {
		const char *rk = json_string_value(json_object_get(n, "kind"));

		/* a whole database or system: one transaction per table */
		if (rk != NULL && (strcmp(rk, "REINDEX_OBJECT_DATABASE") == 0 ||
		    strcmp(rk, "REINDEX_OBJECT_SYSTEM") == 0))
			return MS_NONTX;
		json_array_foreach(json_object_get(n, "params"), i, e) {
			const char *d = json_string_value(json_object_get(
			    json_object_get(e, "DefElem"), "defname"));

			if (d != NULL && strcmp(d, "concurrently") == 0)
				return MS_NONTX | MS_CONCURRENT;
		}
		return 0;
	}
	if (strcmp(kind, "VacuumStmt") == 0 && node_true(n, "is_vacuumcmd"))
		return MS_NONTX;
	/* CLUSTER without a table does every clustered table */
	if (strcmp(kind, "ClusterStmt") == 0 &&
	    json_object_get(n, "relation") == NULL)
		return MS_NONTX;
	if (strcmp(kind, "AlterTableStmt") == 0) {
		json_array_foreach(json_object_get(n, "cmds"), i, e) {
			json_t *c = json_object_get(e, "AlterTableCmd");
			json_t *pc = json_object_get(json_object_get(c, "def"),
			    "PartitionCmd");

			if (pc != NULL && node_true(pc, "concurrent"))
				return MS_NONTX | MS_CONCURRENT;
		}
		return 0;
	}
	if (strcmp(kind, "CreatedbStmt") == 0 ||
	    strcmp(kind, "DropdbStmt") == 0 ||
	    strcmp(kind, "AlterSystemStmt") == 0 ||
	    strcmp(kind, "CreateTableSpaceStmt") == 0 ||
	    strcmp(kind, "DropTableSpaceStmt") == 0)
		return MS_NONTX;
	return 0;
}

/*
 * migsql_parse: split and classify text.  0, or -1 with a syntax error
 * (ret->error, ret->error_line) and nothing else set.
 */
int
migsql_parse(const char *text, struct migsql *ret)
{
	PgQueryParseResult r;
	json_t *stmts, *s;
	size_t i, tlen = strlen(text);

	memset(ret, 0, sizeof(*ret));
	r = pg_query_parse(text);
	if (r.error != NULL) {
		xasprintf(&ret->error, "%s", r.error->message);
		ret->error_line = migsql_line_at(text, r.error->cursorpos > 0 ?
		    (size_t)r.error->cursorpos - 1 : 0);
		pg_query_free_parse_result(r);
		return -1;
	}
	ret->tree = json_loads(r.parse_tree, 0, NULL);
	pg_query_free_parse_result(r);
	if (ret->tree == NULL) {
		ret->error = xstrdup("cannot read the parse tree");
		ret->error_line = 1;
		return -1;
	}
	stmts = json_object_get(ret->tree, "stmts");
	ret->v = xcalloc(json_array_size(stmts) + 1, sizeof(*ret->v));
	json_array_foreach(stmts, i, s) {
		json_t *stmt = json_object_get(s, "stmt");
		size_t loc = (size_t)json_integer_value(json_object_get(s,
		    "stmt_location"));
		size_t len = json_object_get(s, "stmt_len") != NULL ?
		    (size_t)json_integer_value(json_object_get(s, "stmt_len")) :
		    tlen - loc;
		struct migstmt *m = &ret->v[ret->n];
		void *it = json_object_iter(stmt);

		if (it == NULL || loc > tlen)
			continue;
		m->offset = skip_blank(text, loc, loc + len <= tlen ?
		    loc + len : tlen);
		m->len = loc + len - m->offset;
		m->line = migsql_line_at(text, m->offset);
		m->kind = json_object_iter_key(it);
		m->node = json_object_iter_value(it);
		m->flags = classify(m->kind, json_object_iter_value(it));
		if (m->flags & MS_NONTX)
			ret->nontx = true;
		ret->n++;
	}
	return 0;
}

/* migsql_free: free a parsed file; NULL members are fine. */
void
migsql_free(struct migsql *m)
{
	json_decref(m->tree);
	free(m->v);
	free(m->error);
	memset(m, 0, sizeof(*m));
}

/* ---- lint */

struct lint {
	const char *file;
	const char *text;
	json_t *findings;
	json_t *created;	/* relnames this file creates */
};

static bool
disabled(const char *text, const char *rule)
{
	const char *p = text;
	size_t rl = strlen(rule);

	while ((p = strstr(p, "pgmig:disable")) != NULL) {
		const char *q = p + 13;

		/* only in a -- comment */
		const char *ls = p;

		while (ls > text && ls[-1] != '\n')
			ls--;
		if (strstr(ls, "--") == NULL || strstr(ls, "--") > p) {
			p = q;
			continue;
		}
		while (*q == ' ' || *q == '\t')
			q++;
		while (*q != '\0' && *q != '\n') {
			size_t wl = strcspn(q, " ,\t\n");

			if (wl == rl && strncmp(q, rule, rl) == 0)
				return true;
			q += wl;
			while (*q == ' ' || *q == ',' || *q == '\t')
				q++;
		}
		p = q;
	}
	return false;
}

static void
add(struct lint *l, int line, const char *rule, const char *severity,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
add(struct lint *l, int line, const char *rule, const char *severity,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (disabled(l->text, rule))
		return;
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	json_array_append_new(l->findings, json_pack("{s:s,s:i,s:s,s:s,s:s}",
	    "file", l->file, "line", line, "rule", rule, "severity", severity,
	    "message", msg));
	free(msg);
}

static const char *
relname(json_t *rel)
{
	return json_string_value(json_object_get(rel, "relname"));
}

static bool
created_here(struct lint *l, json_t *rel)
{
	const char *n = relname(rel);
	size_t i;
	json_t *e;

	if (n == NULL)
		return false;
	json_array_foreach(l->created, i, e)
		if (strcmp(json_string_value(e), n) == 0)
			return true;
	return false;
}

static void
lint_alter(struct lint *l, int line, json_t *n)
{
	json_t *rel = json_object_get(n, "relation"), *c;
	const char *t = relname(rel) != NULL ? relname(rel) : "?";
	bool fresh = created_here(l, rel);
	size_t i;

	json_array_foreach(json_object_get(n, "cmds"), i, c) {
		json_t *cmd = json_object_get(c, "AlterTableCmd");
		const char *sub = json_string_value(json_object_get(cmd,
		    "subtype"));
		json_t *def = json_object_get(cmd, "def");

		if (sub == NULL)
			continue;
		if (strcmp(sub, "AT_AddConstraint") == 0 && !fresh) {
			json_t *con = json_object_get(def, "Constraint");
			const char *ct = json_string_value(json_object_get(con,
			    "contype"));

			if (ct != NULL && (strcmp(ct, "CONSTR_FOREIGN") == 0 ||
			    strcmp(ct, "CONSTR_CHECK") == 0) &&
			    !node_true(con, "skip_validation"))
				add(l, line, "constraint-not-valid", "warning",
				    "ADD %s on %s without NOT VALID scans the "
				    "table under lock: add it NOT VALID, then "
				    "VALIDATE CONSTRAINT in a later migration",
				    strcmp(ct, "CONSTR_FOREIGN") == 0 ?
				    "FOREIGN KEY" : "CHECK", t);
		} else if (strcmp(sub, "AT_AlterColumnType") == 0)
			add(l, line, "alter-column-type", "warning",
			    "ALTER COLUMN %s TYPE on %s rewrites the table "
			    "under an ACCESS EXCLUSIVE lock",
			    json_string_value(json_object_get(cmd, "name")) ?:
			    "?", t);
		else if (strcmp(sub, "AT_AddColumn") == 0 && !fresh) {
			json_t *col = json_object_get(def, "ColumnDef"), *k;
			bool nn = false, dflt = false;
			size_t j;

			json_array_foreach(json_object_get(col, "constraints"),
			    j, k) {
				const char *ct = json_string_value(
				    json_object_get(json_object_get(k,
				    "Constraint"), "contype"));

				if (ct != NULL && strcmp(ct, "CONSTR_NOTNULL") == 0)
					nn = true;
				if (ct != NULL && (strcmp(ct,
				    "CONSTR_DEFAULT") == 0 || strcmp(ct,
				    "CONSTR_IDENTITY") == 0 || strcmp(ct,
				    "CONSTR_GENERATED") == 0))
					dflt = true;
			}
			if (nn && !dflt)
				add(l, line, "add-column-not-null", "error",
				    "ADD COLUMN %s NOT NULL without a DEFAULT "
				    "fails on %s if it has rows",
				    json_string_value(json_object_get(col,
				    "colname")) ?: "?", t);
		} else if (strcmp(sub, "AT_SetNotNull") == 0 && !fresh)
			add(l, line, "set-not-null", "warning",
			    "SET NOT NULL on %s.%s scans the table under an "
			    "ACCESS EXCLUSIVE lock: add a CHECK (... IS NOT "
			    "NULL) NOT VALID and validate it first", t,
			    json_string_value(json_object_get(cmd, "name")) ?:
			    "?");
		else if (strcmp(sub, "AT_DropColumn") == 0)
			add(l, line, "drop-column", "warning",
			    "DROP COLUMN %s.%s loses data, and running code may "
			    "still read it", t, json_string_value(
			    json_object_get(cmd, "name")) ?: "?");
	}
}

/*
 * migsql_lint: the findings of the rules above for one parsed file, as a
 * JSON array of {file, line, rule, severity, message}.
 */
json_t *
migsql_lint(const char *file, const char *text, const struct migsql *m)
{
	struct lint l = { file, text, json_array(), json_array() };
	json_t *stmts = json_object_get(m->tree, "stmts"), *s;
	bool in_block = false, has_ddl = false, sets_lock = false;
	size_t i, k = 0;

	/* first, what this file creates: indexes and constraints on those
	 * tables are safe, as nobody can be using them yet */
	json_array_foreach(stmts, i, s) {
		json_t *cs = json_object_get(json_object_get(s, "stmt"),
		    "CreateStmt");

		if (cs != NULL && relname(json_object_get(cs, "relation")))
			json_array_append_new(l.created, json_string(relname(
			    json_object_get(cs, "relation"))));
	}
	json_array_foreach(stmts, i, s) {
		json_t *stmt = json_object_get(s, "stmt");
		void *it = json_object_iter(stmt);
		const char *kind;
		json_t *n;
		int line;

		if (it == NULL || k >= m->n)
			continue;
		line = m->v[k++].line;
		kind = json_object_iter_key(it);
		n = json_object_iter_value(it);
		if (strcmp(kind, "TransactionStmt") == 0) {
			const char *tk = json_string_value(json_object_get(n,
			    "kind"));

			add(&l, line, "transaction-control", "error",
			    "transaction control in a migration: pgmigd runs "
			    "each file in its own transaction (or statement "
			    "by statement when it must)");
			if (tk != NULL && (strcmp(tk, "TRANS_STMT_BEGIN") == 0 ||
			    strcmp(tk, "TRANS_STMT_START") == 0))
				in_block = true;
			else if (tk != NULL && (strcmp(tk,
			    "TRANS_STMT_COMMIT") == 0 || strcmp(tk,
			    "TRANS_STMT_ROLLBACK") == 0))
				in_block = false;
			continue;
		}
		if ((classify(kind, n) & MS_CONCURRENT) && in_block)
			add(&l, line, "concurrently-in-transaction", "error",
			    "CONCURRENTLY cannot run inside a transaction "
			    "block");
		if (strcmp(kind, "VariableSetStmt") == 0) {
			const char *name = json_string_value(json_object_get(n,
			    "name"));

			if (name != NULL && strcmp(name, "lock_timeout") == 0)
				sets_lock = true;
			continue;
		}
		if (strcmp(kind, "IndexStmt") == 0) {
			has_ddl = true;
			if (!node_true(n, "concurrent") && !created_here(&l,
			    json_object_get(n, "relation")))
				add(&l, line, "index-not-concurrent", "warning",
				    "CREATE INDEX on %s without CONCURRENTLY "
				    "blocks writes to it for the whole build",
				    relname(json_object_get(n, "relation")) ?:
				    "?");
		} else if (strcmp(kind, "AlterTableStmt") == 0) {
			has_ddl = true;
			lint_alter(&l, line, n);
		} else if (strcmp(kind, "DropStmt") == 0) {
			const char *rt = json_string_value(json_object_get(n,
			    "removeType"));

			has_ddl = true;
			if (rt != NULL && strcmp(rt, "OBJECT_TABLE") == 0)
				add(&l, line, "drop-table", "warning",
				    "DROP TABLE loses data, and running code may "
				    "still use the table");
		} else if (strcmp(kind, "RenameStmt") == 0) {
			has_ddl = true;
			add(&l, line, "rename", "warning", "RENAME breaks running "
			    "code that still uses the old name: add the new "
			    "name alongside first");
		} else if (strstr(kind, "Create") != NULL ||
		    strstr(kind, "Alter") != NULL)
			has_ddl = true;
	}
	if (!m->nontx && has_ddl && !sets_lock)
		add(&l, 1, "missing-lock-timeout", "info", "the file sets no "
		    "lock_timeout; pgmigd applies the configured one, and "
		    "retries on lock timeouts");
	json_decref(l.created);
	return l.findings;
}

/* ---- what a file works on */

/* a quoted identifier: "name", with " doubled */
static void
quote_ident_into(char **out, const char *name)
{
	char *q = sql_quote_ident(name, strlen(name)), *tmp;

	if (*out == NULL)
		*out = q;
	else {
		xasprintf(&tmp, "%s.%s", *out, q);
		free(*out);
		free(q);
		*out = tmp;
	}
}

/*
 * migsql_quote_rel: a RangeVar as a quoted name ("s"."t" or "t"), as
 * to_regclass() and ANALYZE take it; NULL without a relname.
 */
char *
migsql_quote_rel(json_t *rv)
{
	const char *sch = json_string_value(json_object_get(rv, "schemaname"));
	const char *rel = relname(rv);
	char *out = NULL;

	if (rel == NULL)
		return NULL;
	if (sch != NULL)
		quote_ident_into(&out, sch);
	quote_ident_into(&out, rel);
	return out;
}

static void
add_unique(json_t *a, char *name)
{
	size_t i;
	json_t *e;

	if (name == NULL)
		return;
	json_array_foreach(a, i, e) {
		if (strcmp(json_string_value(e), name) == 0) {
			free(name);
			return;
		}
	}
	json_array_append_new(a, json_string(name));
	free(name);
}

/*
 * migsql_touched: the tables a file creates, alters, indexes or writes,
 * as quoted names (once each): what ANALYZE should look at afterwards.
 */
json_t *
migsql_touched(const struct migsql *m)
{
	json_t *out = json_array();
	size_t i;

	for (i = 0; i < m->n; i++) {
		const char *k = m->v[i].kind;
		json_t *n = m->v[i].node;

		if (strcmp(k, "CreateStmt") == 0 ||
		    strcmp(k, "AlterTableStmt") == 0 ||
		    strcmp(k, "IndexStmt") == 0 ||
		    strcmp(k, "InsertStmt") == 0 ||
		    strcmp(k, "UpdateStmt") == 0 ||
		    strcmp(k, "DeleteStmt") == 0 ||
		    (strcmp(k, "CopyStmt") == 0 && node_true(n, "is_from")))
			add_unique(out, migsql_quote_rel(json_object_get(n,
			    "relation")));
		else if (strcmp(k, "CreateTableAsStmt") == 0)
			add_unique(out, migsql_quote_rel(json_object_get(
			    json_object_get(n, "into"), "rel")));
	}
	return out;
}

/*
 * migsql_index_target: for CREATE INDEX with a name, its table (quoted)
 * and its name (as the catalog has it).  0, or -1 for anything else.
 */
int
migsql_index_target(const struct migstmt *s, char **table, char **index)
{
	const char *idx;

	if (strcmp(s->kind, "IndexStmt") != 0 || (idx = json_string_value(
	    json_object_get(s->node, "idxname"))) == NULL)
		return -1;
	if ((*table = migsql_quote_rel(json_object_get(s->node,
	    "relation"))) == NULL)
		return -1;
	*index = xstrdup(idx);
	return 0;
}

/* a qualified name from a List of String nodes (DROP's objects) */
static char *
list_name(json_t *list)
{
	json_t *items = json_object_get(json_object_get(list, "List"), "items");
	json_t *e;
	char *out = NULL;
	size_t i;

	json_array_foreach(items, i, e) {
		const char *s = json_string_value(json_object_get(
		    json_object_get(e, "String"), "sval"));

		if (s == NULL) {
			free(out);
			return NULL;
		}
		quote_ident_into(&out, s);
	}
	return out;
}

static void
add_object(json_t *a, const char *op, const char *kind, char *name,
    const char *newname)
{
	if (name == NULL)
		return;
	json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "op", op, "kind",
	    kind, "name", name));
	if (newname != NULL)
		json_object_set_new(json_array_get(a, json_array_size(a) - 1),
		    "new", json_string(newname));
	free(name);
}

/*
 * migsql_objects: the relations and schemas a file creates, drops or
 * renames, in order: [{"op":"create|drop|rename","kind":"relation|schema",
 * "name":quoted, "new":plain}].  migrate verify checks they still exist.
 */
json_t *
migsql_objects(const struct migsql *m)
{
	json_t *out = json_array(), *e;
	size_t i, j;

	for (i = 0; i < m->n; i++) {
		const char *k = m->v[i].kind;
		json_t *n = m->v[i].node;

		if (strcmp(k, "CreateStmt") == 0) {
			const char *pers = json_string_value(json_object_get(
			    json_object_get(n, "relation"), "relpersistence"));

			/* a temporary table ends with the session */
			if (pers == NULL || strcmp(pers, "t") != 0)
				add_object(out, "create", "relation",
				    migsql_quote_rel(json_object_get(n,
				    "relation")), NULL);
		} else if (strcmp(k, "SelectStmt") == 0 &&
		    json_object_get(n, "intoClause") != NULL)
			add_object(out, "create", "relation", migsql_quote_rel(
			    json_object_get(json_object_get(n, "intoClause"),
			    "rel")), NULL);
		else if (strcmp(k, "CreateSeqStmt") == 0)
			add_object(out, "create", "relation", migsql_quote_rel(
			    json_object_get(n, "sequence")), NULL);
		else if (strcmp(k, "ViewStmt") == 0)
			add_object(out, "create", "relation", migsql_quote_rel(
			    json_object_get(n, "view")), NULL);
		else if (strcmp(k, "CreateTableAsStmt") == 0)
			add_object(out, "create", "relation", migsql_quote_rel(
			    json_object_get(json_object_get(n, "into"), "rel")),
			    NULL);
		else if (strcmp(k, "IndexStmt") == 0) {
			const char *idx = json_string_value(json_object_get(n,
			    "idxname"));
			const char *sch = json_string_value(json_object_get(
			    json_object_get(n, "relation"), "schemaname"));
			char *name = NULL;

			char *table;

			if (idx == NULL)
				continue;
			/* an index lives in its table's schema */
			if (sch != NULL)
				quote_ident_into(&name, sch);
			quote_ident_into(&name, idx);
			add_object(out, "create", "relation", name, NULL);
			/* and goes when its table goes */
			table = migsql_quote_rel(json_object_get(n, "relation"));
			if (table != NULL)
				json_object_set_new(json_array_get(out,
				    json_array_size(out) - 1), "table",
				    json_string(table));
			free(table);
		} else if (strcmp(k, "CreateSchemaStmt") == 0 &&
		    json_string_value(json_object_get(n, "schemaname")) != NULL) {
			char *name = NULL;

			quote_ident_into(&name, json_string_value(
			    json_object_get(n, "schemaname")));
			add_object(out, "create", "schema", name, NULL);
		} else if (strcmp(k, "DropStmt") == 0) {
			const char *rt = json_string_value(json_object_get(n,
			    "removeType"));
			bool rel = rt != NULL && (strcmp(rt, "OBJECT_TABLE") == 0 ||
			    strcmp(rt, "OBJECT_INDEX") == 0 ||
			    strcmp(rt, "OBJECT_VIEW") == 0 ||
			    strcmp(rt, "OBJECT_MATVIEW") == 0 ||
			    strcmp(rt, "OBJECT_SEQUENCE") == 0);

			if (rt != NULL && strcmp(rt, "OBJECT_SCHEMA") == 0) {
				json_array_foreach(json_object_get(n, "objects"),
				    j, e) {
					const char *s = json_string_value(
					    json_object_get(json_object_get(e,
					    "String"), "sval"));
					char *name = NULL;

					if (s == NULL)
						continue;
					quote_ident_into(&name, s);
					add_object(out, "drop", "schema", name,
					    NULL);
				}
			} else if (rel) {
				json_array_foreach(json_object_get(n, "objects"),
				    j, e)
					add_object(out, "drop", "relation",
					    list_name(e), NULL);
			}
		} else if (strcmp(k, "RenameStmt") == 0) {
			const char *rt = json_string_value(json_object_get(n,
			    "renameType"));
			const char *nn = json_string_value(json_object_get(n,
			    "newname"));

			if (rt != NULL && nn != NULL && strcmp(rt,
			    "OBJECT_SCHEMA") == 0 && json_string_value(
			    json_object_get(n, "subname")) != NULL) {
				char *name = NULL;

				quote_ident_into(&name, json_string_value(
				    json_object_get(n, "subname")));
				add_object(out, "rename", "schema", name, nn);
			} else if (rt != NULL && nn != NULL && (strcmp(rt,
			    "OBJECT_TABLE") == 0 || strcmp(rt, "OBJECT_INDEX") ==
			    0 || strcmp(rt, "OBJECT_VIEW") == 0 || strcmp(rt,
			    "OBJECT_MATVIEW") == 0 || strcmp(rt,
			    "OBJECT_SEQUENCE") == 0))
				add_object(out, "rename", "relation",
				    migsql_quote_rel(json_object_get(n,
				    "relation")), nn);
		}
	}
	return out;
}
