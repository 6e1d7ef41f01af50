/*
 * migfile.c: scan, name, normalize and checksum migration files.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "migfile.h"
#include "util.h"

/*
 * migfile_split_name: "001_initial_schema.sql" -> version "001",
 * description "initial_schema"; "..._rollback.sql" sets *ret_rollback.
 * The version is the leading run of all-digit groups separated by '_';
 * the description starts at the first group with anything else.
 * -1 if the name is not a migration file name.
 */
int
migfile_split_name(const char *name, char **ret_version, char **ret_desc,
    bool *ret_rollback)
{
	size_t len = strlen(name), vend = 0, i = 0;
	char *desc;
	bool rb = false;

	if (len < 5 || strcmp(name + len - 4, ".sql") != 0)
		return -1;
	len -= 4;
	for (;;) {
		size_t start = i;

		while (i < len && isdigit((unsigned char)name[i]))
			i++;
		if (i == start || (i < len && name[i] != '_'))
			break;		/* not an all-digit group */
		vend = i;
		if (i == len)
			break;
		i++;		/* the '_' */
	}
	if (vend == 0 || vend >= len || name[vend] != '_' || vend + 1 >= len)
		return -1;	/* no version, or no description */
	desc = strndup(name + vend + 1, len - vend - 1);
	if (desc == NULL)
		abort();
	if (strlen(desc) > 9 && strcmp(desc + strlen(desc) - 9,
	    "_rollback") == 0) {
		desc[strlen(desc) - 9] = '\0';
		rb = true;
	}
	if (desc[0] == '\0') {
		free(desc);
		return -1;
	}
	*ret_version = strndup(name, vend);
	if (*ret_version == NULL)
		abort();
	*ret_desc = desc;
	*ret_rollback = rb;
	return 0;
}

/* compare two all-digit strings as numbers, leading zeros aside */
static int
numcmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c;

	while (alen > 1 && *a == '0') {
		a++;
		alen--;
	}
	while (blen > 1 && *b == '0') {
		b++;
		blen--;
	}
	if (alen != blen)
		return alen < blen ? -1 : 1;
	c = memcmp(a, b, alen);
	return c < 0 ? -1 : c > 0;
}

/*
 * migfile_version_cmp: numeric comparison group by group: "2" < "10",
 * "001" == "1", "20250618_075008" < "20250618_075009", and a version
 * that is a prefix of another ("1" vs "1_1") sorts first.
 */
int
migfile_version_cmp(const char *a, const char *b)
{
	for (;;) {
		size_t al = strcspn(a, "_"), bl = strcspn(b, "_");
		int c = numcmp(a, al, b, bl);

		if (c != 0)
			return c;
		a += al;
		b += bl;
		if (*a == '\0' || *b == '\0')
			return *a == *b ? 0 : *a == '\0' ? -1 : 1;
		a++;
		b++;
	}
}

/*
 * migfile_normalize: the text without a UTF-8 BOM and with CRLF as LF
 * (caller frees); what is checksummed and what runs.
 */
char *
migfile_normalize(const char *in, size_t len, size_t *ret_len)
{
	char *out = xmalloc(len + 1), *q = out;
	size_t i = 0;

	if (len >= 3 && (unsigned char)in[0] == 0xef &&
	    (unsigned char)in[1] == 0xbb && (unsigned char)in[2] == 0xbf)
		i = 3;
	for (; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			continue;
		*q++ = in[i];
	}
	*q = '\0';
	*ret_len = (size_t)(q - out);
	return out;
}

/* migfile_checksum: lower-case hex SHA-256 of text. */
void
migfile_checksum(const char *text, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		abort();
	for (i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* migfile_utf8_valid: well-formed UTF-8 (no overlongs, no surrogates),
 * and no NUL byte. */
bool
migfile_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n;
		unsigned int cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return false;
		if (i + n >= len)
			return false;	/* truncated sequence */
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 ||
		    cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/*
 * A cache of loaded files, by path, valid while the file's inode, size,
 * mtime and ctime are the same: migrate status reads the whole directory
 * at every call, and 1000 files would otherwise be opened, read and
 * hashed each time.  A file changed less than MIGFILE_RACY_S ago is not
 * cached (an edit within the clock's granularity would look unchanged).
 */
#define MIGFILE_RACY_S 2

struct mf_cached {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	char *text;
	size_t len;
	char checksum[65];
};

static struct mf_cached *mf_cache;
static size_t mf_ncache, mf_cap;	/* open addressing, power of 2 */

static size_t
mf_hash(const char *s)
{
	size_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct mf_cached *
mf_slot(const char *path)
{
	size_t i;

	if (mf_cap == 0)
		return NULL;
	for (i = mf_hash(path) & (mf_cap - 1);; i = (i + 1) & (mf_cap - 1))
		if (mf_cache[i].path == NULL ||
		    strcmp(mf_cache[i].path, path) == 0)
			return &mf_cache[i];
}

static bool
mf_same(const struct mf_cached *c, const struct stat *st)
{
	return c->dev == st->st_dev && c->ino == st->st_ino &&
	    c->size == st->st_size &&
	    c->mtime.tv_sec == st->st_mtim.tv_sec &&
	    c->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	    c->ctime.tv_sec == st->st_ctim.tv_sec &&
	    c->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static void
mf_store(const char *path, const struct stat *st, const struct migfile *f)
{
	struct mf_cached *c;

	if (time(NULL) - st->st_mtime < MIGFILE_RACY_S ||
	    time(NULL) - st->st_ctime < MIGFILE_RACY_S)
		return;
	if (2 * (mf_ncache + 1) > mf_cap) {
		struct mf_cached *old = mf_cache;
		size_t i, ocap = mf_cap;

		mf_cap = mf_cap == 0 ? 64 : 2 * mf_cap;
		mf_cache = xcalloc(mf_cap, sizeof(*mf_cache));
		for (i = 0; i < ocap; i++)
			if (old[i].path != NULL)
				*mf_slot(old[i].path) = old[i];
		free(old);
	}
	c = mf_slot(path);
	if (c->path == NULL) {
		c->path = xstrdup(path);
		mf_ncache++;
	} else
		free(c->text);
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->size = st->st_size;
	c->mtime = st->st_mtim;
	c->ctime = st->st_ctim;
	c->text = xmalloc(f->len + 1);
	memcpy(c->text, f->text, f->len + 1);
	c->len = f->len;
	memcpy(c->checksum, f->checksum, sizeof(c->checksum));
}

/* migfile_cache_free: forget every cached file (at exit). */
void
migfile_cache_free(void)
{
	size_t i;

	for (i = 0; i < mf_cap; i++) {
		free(mf_cache[i].path);
		free(mf_cache[i].text);
	}
	free(mf_cache);
	mf_cache = NULL;
	mf_ncache = mf_cap = 0;
}

/*
 * migfile_load: read path into f (size limit, UTF-8, normalized text and
 * checksum).  -1 with a reason in *cause.
 */
int
migfile_load(const char *path, struct migfile *f, char **cause)
{
	struct stat st;
	struct mf_cached *c;
	char *raw;
	ssize_t r;
	size_t n = 0;
	int fd;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (c = mf_slot(path)) != NULL && c->path != NULL && mf_same(c, &st)) {
		f->text = xmalloc(c->len + 1);
		memcpy(f->text, c->text, c->len + 1);
		f->len = c->len;
		memcpy(f->checksum, c->checksum, sizeof(f->checksum));
		return 0;
	}

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		xasprintf(cause, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_size > MIGFILE_MAX_SIZE) {
		xasprintf(cause, "%s: larger than %d MiB", path,
		    MIGFILE_MAX_SIZE / 1024 / 1024);
		close(fd);
		return -1;
	}
	raw = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size && (r = read(fd, raw + n,
	    (size_t)st.st_size - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (!migfile_utf8_valid(raw, n)) {
		xasprintf(cause, "%s: not UTF-8 text", path);
		free(raw);
		return -1;
	}
	f->text = migfile_normalize(raw, n, &f->len);
	free(raw);
	migfile_checksum(f->text, f->len, f->checksum);
	mf_store(path, &st, f);
	return 0;
}

static int
file_cmp(const void *a, const void *b)
{
	return migfile_version_cmp(((const struct migfile *)a)->version,
	    ((const struct migfile *)b)->version);
}

static void
migfile_clear(struct migfile *f)
{
	free(f->version);
	free(f->description);
	free(f->path);
	free(f->rollback_path);
	free(f->text);
	memset(f, 0, sizeof(*f));
}

/*
 * migset_scan: every migration of dir, sorted by version, with their
 * rollback files.  Refused (-1, *cause): duplicate versions, a rollback
 * without its migration, files that are not UTF-8 or are too large.
 * Files whose names are not migration names (README.md, ...) are
 * ignored, but a .sql file with a malformed name is an error.
 */
int
migset_scan(const char *dir, struct migset *ret, char **cause)
{
	struct migset set = { NULL, 0 };
	struct dirent *de;
	char **rbs = NULL, **rbv = NULL;
	size_t nrb = 0, i, k;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		xasprintf(cause, "migrations_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	*cause = NULL;
	while (*cause == NULL && (de = readdir(d)) != NULL) {
		char *version, *desc, *path;
		bool rb;

		if (de->d_name[0] == '.')
			continue;
		if (migfile_split_name(de->d_name, &version, &desc, &rb) == -1) {
			size_t l = strlen(de->d_name);

			if (l > 4 && strcmp(de->d_name + l - 4, ".sql") == 0)
				xasprintf(cause, "%s/%s: not named "
				    "VERSION_DESCRIPTION.sql", dir, de->d_name);
			continue;
		}
		xasprintf(&path, "%s/%s", dir, de->d_name);
		if (rb) {
			rbs = xreallocarray(rbs, nrb + 1, sizeof(*rbs));
			rbv = xreallocarray(rbv, nrb + 1, sizeof(*rbv));
			rbs[nrb] = path;
			rbv[nrb++] = version;
			free(desc);
			continue;
		}
		set.v = xreallocarray(set.v, set.n + 1, sizeof(*set.v));
		memset(&set.v[set.n], 0, sizeof(*set.v));
		set.v[set.n].version = version;
		set.v[set.n].description = desc;
		set.v[set.n].path = path;
		if (migfile_load(path, &set.v[set.n], cause) == -1) {
			set.n++;
			break;
		}
		set.n++;
	}
	closedir(d);
	if (*cause == NULL && set.n > 1) {
		qsort(set.v, set.n, sizeof(*set.v), file_cmp);
		for (i = 1; i < set.n && *cause == NULL; i++)
			if (migfile_version_cmp(set.v[i - 1].version,
			    set.v[i].version) == 0)
				xasprintf(cause, "version %s twice: %s and %s",
				    set.v[i].version, set.v[i - 1].path,
				    set.v[i].path);
	}
	for (k = 0; k < nrb; k++) {
		const struct migfile *mf = *cause == NULL ?
		    migset_find(&set, rbv[k]) : NULL;
		bool found = mf != NULL;

		if (mf != NULL) {
			i = (size_t)(mf - set.v);
			if (set.v[i].rollback_path != NULL)
				xasprintf(cause, "two rollback files for "
				    "version %s", rbv[k]);
			else {
				set.v[i].rollback_path = rbs[k];
				rbs[k] = NULL;
			}
		}
		if (!found && *cause == NULL)
			xasprintf(cause, "%s: a rollback file without its "
			    "migration", rbs[k]);
		free(rbs[k]);
		free(rbv[k]);
	}
	free(rbs);
	free(rbv);
	if (*cause != NULL) {
		migset_free(&set);
		return -1;
	}
	*ret = set;
	return 0;
}

/* migset_free: free a scanned set. */
void
migset_free(struct migset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		migfile_clear(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

static int
file_key_cmp(const void *key, const void *elem)
{
	return migfile_version_cmp(key,
	    ((const struct migfile *)elem)->version);
}

/* migset_find: the migration with version v, or NULL. */
const struct migfile *
migset_find(const struct migset *set, const char *v)
{
	/* sorted by version: status looks up every history row */
	return set->n == 0 ? NULL : bsearch(v, set->v, set->n,
	    sizeof(*set->v), file_key_cmp);
}
