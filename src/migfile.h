/*
 * migfile.h: a directory of migration files: {version}_{description}.sql
 * with optional {version}_{description}_rollback.sql.  Versions compare
 * numerically, group by group ("001" < "002" < "10"; "20250618_075008").
 * Checksums are the SHA-256 of the text with a UTF-8 BOM removed and CRLF
 * line endings turned into LF, so neither changes a checksum.
 *
 * This is the file side of the migration engine (the engine itself and
 * the migrate commands are not part of this release).
 */
#ifndef PGMIG_MIGFILE_H
#define PGMIG_MIGFILE_H

#include <stdbool.h>
#include <stddef.h>

#define MIGFILE_MAX_SIZE (16 * 1024 * 1024)

struct migfile {
	char *version;
	char *description;
	char *path;
	char *rollback_path;	/* NULL: none */
	char *text;		/* normalized */
	size_t len;
	char checksum[65];	/* hex SHA-256 of text */
};

struct migset {
	struct migfile *v;	/* sorted by version */
	size_t n;
};

int migfile_split_name(const char *, char **, char **, bool *);
int migfile_version_cmp(const char *, const char *);
char *migfile_normalize(const char *, size_t, size_t *);
void migfile_checksum(const char *, size_t, char[65]);
bool migfile_utf8_valid(const char *, size_t);
int migfile_load(const char *, struct migfile *, char **);
void migfile_cache_free(void);
int migset_scan(const char *, struct migset *, char **);
void migset_free(struct migset *);
const struct migfile *migset_find(const struct migset *, const char *);

#endif
