/*
 * migsql.h: a migration file's statements, from libpg_query (the real
 * PostgreSQL parser): where each starts (line), whether the file can run
 * in one transaction, statements a migration must not contain, and the
 * lint rules for unsafe DDL.
 */
#ifndef PGMIG_MIGSQL_H
#define PGMIG_MIGSQL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define MS_NONTX	0x01	/* cannot run inside a transaction block */
#define MS_TXCONTROL	0x02	/* BEGIN, COMMIT, ROLLBACK, SAVEPOINT ... */
#define MS_CONCURRENT	0x04	/* CREATE/DROP/REINDEX ... CONCURRENTLY */

struct migstmt {
	size_t offset;		/* of its first token in the text */
	size_t len;
	int line;		/* 1-based line of its first token */
	unsigned flags;
	const char *kind;	/* parse node name: "IndexStmt", ... */
	json_t *node;		/* its parse node (borrowed from tree) */
};

struct migsql {
	struct migstmt *v;
	size_t n;
	bool nontx;		/* some statement is MS_NONTX */
	json_t *tree;		/* the parse tree (libpg_query JSON) */
	char *error;		/* a syntax error, or NULL */
	int error_line;
};

int migsql_parse(const char *, struct migsql *);
void migsql_free(struct migsql *);
json_t *migsql_lint(const char *, const char *, const struct migsql *);
int migsql_line_at(const char *, size_t);
char *migsql_quote_rel(json_t *);
json_t *migsql_touched(const struct migsql *);
int migsql_index_target(const struct migstmt *, char **, char **);
json_t *migsql_objects(const struct migsql *);

#endif
