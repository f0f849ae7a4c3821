/* spool.c: a second pass over a stream (see spool.h): re-open a regular
 * file, or replay a copy of the batches from an unlinked temporary file.
 * The copy holds each batch as the MessagePack map the stream format
 * defines (common/codec.h), so replay is decode-and-validate, exactly as
 * from the original input. */
#include "common/spool.h"
#include "common/codec.h"
#include "common/endpoint.h"
#include "common/error.h"

#include <errno.h>
#include <msgpack/fbuffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct qt_spool {
	char *input;       /* endpoint, for re-opening a file */
	qt_header *h;
	FILE *fp;          /* copy mode: the temporary file, else NULL */
	char *dir;         /* its folder, for messages */
	msgpack_packer pk;
	int64_t nb, cap;   /* batches seen in the first pass */
	uint64_t *len;     /* (nb) copy mode: bytes of each batch */
	int64_t *n;        /* (nb) samples of each batch */
	int64_t next;      /* second pass: next batch */
	qt_reader *rd;     /* second pass over a re-opened file */
	uint8_t *buf;      /* copy mode: one message */
	size_t bufcap;
};

static int is_regular_file(const char *input)
{
	struct stat st;
	if (!strcmp(input, "-") || qt_endpoint_is_socket(input))
		return 0;
	return stat(input, &st) == 0 && S_ISREG(st.st_mode);
}

static int open_temp(qt_spool *s)
{
	const char *dir = getenv("TMPDIR");
	size_t len;
	char *path;
	int fd;
	if (!dir || !*dir)
		dir = "/tmp";
	len = strlen(dir) + 32;
	if (!(s->dir = strdup(dir)) || !(path = malloc(len)))
		return qt_error(QT_ENOMEM, "out of memory");
	snprintf(path, len, "%s/quanta-spool.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	free(path);
	if (fd < 0)
		return qt_error(QT_EIO, "cannot make a temporary file in %s "
				"(set TMPDIR to a writable folder): %s", dir,
				strerror(errno));
	if (!(s->fp = fdopen(fd, "w+b"))) {
		close(fd);
		return qt_error(QT_EIO, "cannot open a temporary file in %s: %s",
				dir, strerror(errno));
	}
	msgpack_packer_init(&s->pk, s->fp, msgpack_fbuffer_write);
	return 0;
}

int qt_spool_open(qt_spool **sp, const char *input, const qt_header *h)
{
	qt_spool *s = calloc(1, sizeof *s);
	int rc = 0;
	*sp = NULL;
	if (!s || !(s->input = strdup(input)) || !(s->h = qt_header_clone(h)))
		rc = qt_error(QT_ENOMEM, "out of memory");
	if (!rc && !is_regular_file(input))
		rc = open_temp(s);
	if (rc < 0) {
		qt_spool_close(s);
		return rc;
	}
	*sp = s;
	return 0;
}

int qt_spool_is_copy(const qt_spool *s)
{
	return s->fp != NULL;
}

static int write_error(const qt_spool *s)
{
	return qt_error(QT_EIO, "writing the temporary copy of the input in "
			"%s: %s (set TMPDIR to a folder with room, or give the "
			"input as a file, which is read twice instead)", s->dir,
			strerror(errno ? errno : EIO));
}

int qt_spool_add(qt_spool *s, const qt_batch *b)
{
	if (s->nb == s->cap) {
		int64_t cap = s->cap ? 2 * s->cap : 64;
		uint64_t *len = realloc(s->len, (size_t)cap * sizeof *len);
		if (len)
			s->len = len;
		int64_t *n = realloc(s->n, (size_t)cap * sizeof *n);
		if (n)
			s->n = n;
		if (!len || !n)
			return qt_error(QT_ENOMEM, "out of memory");
		s->cap = cap;
	}
	s->n[s->nb] = b->n;
	if (s->fp) {
		off_t start = ftello(s->fp), end;
		int rc;
		errno = 0;
		if ((rc = qt_pack_batch(&s->pk, s->h, b)) < 0)
			return rc;
		end = ftello(s->fp);
		if (start < 0 || end < 0 || ferror(s->fp))
			return write_error(s);
		s->len[s->nb] = (uint64_t)(end - start);
	}
	s->nb++;
	return 0;
}

/* 1 when a re-opened file still declares the same fields. */
static int same_fields(const qt_header *a, const qt_header *b)
{
	if (a->nfields != b->nfields)
		return 0;
	for (int i = 0; i < a->nfields; i++) {
		const qt_field *x = &a->fields[i], *y = &b->fields[i];
		if (strcmp(x->name, y->name) || x->dtype != y->dtype ||
		    x->ndim != y->ndim ||
		    memcmp(x->shape, y->shape, (size_t)x->ndim * sizeof *x->shape))
			return 0;
	}
	return 1;
}

int qt_spool_rewind(qt_spool *s)
{
	int rc;
	s->next = 0;
	if (s->fp) {
		errno = 0;
		if (fflush(s->fp) != 0 || ferror(s->fp))
			return write_error(s);
		if (fseeko(s->fp, 0, SEEK_SET) != 0)
			return qt_error(QT_EIO, "rewinding the temporary copy of "
					"the input: %s", strerror(errno));
		return 0;
	}
	qt_reader_close(s->rd);
	s->rd = NULL;
	if ((rc = qt_reader_open(&s->rd, s->input)) < 0)
		return qt_error_prefix(rc, "reading '%s' a second time: ",
				       s->input);
	if (!same_fields(qt_reader_header(s->rd), s->h))
		return qt_error(QT_EFORMAT, "'%s' changed while it was being "
				"read (its fields are not the same the second "
				"time)", s->input);
	return 0;
}

static int next_copy(qt_spool *s, qt_batch **b)
{
	uint64_t len = s->len[s->next];
	qt_header *hh = NULL;
	int rc;
	if (len > s->bufcap) {
		uint8_t *nb = realloc(s->buf, (size_t)len);
		if (!nb)
			return qt_error(QT_ENOMEM, "out of memory (a batch of "
					"%llu bytes)", (unsigned long long)len);
		s->buf = nb;
		s->bufcap = (size_t)len;
	}
	if (fread(s->buf, 1, (size_t)len, s->fp) != len)
		return qt_error(QT_EIO, "reading the temporary copy of the "
				"input in %s: %s", s->dir,
				ferror(s->fp) ? strerror(errno) : "too short");
	rc = qt_decode_message(s->buf, (size_t)len, s->h, &hh, b);
	qt_header_free(hh);
	if (rc < 0)
		return qt_error_prefix(rc, "replaying batch %lld: ",
				       (long long)s->next + 1);
	if (rc != 2)
		return qt_error(QT_EINTERNAL, "the temporary copy of the input "
				"holds something other than a batch");
	return 1;
}

int qt_spool_next(qt_spool *s, qt_batch **b)
{
	int rc;
	*b = NULL;
	if (s->fp) {
		if (s->next == s->nb)
			return 0;
		rc = next_copy(s, b);
	} else {
		if (!s->rd)
			return qt_error(QT_EINTERNAL, "qt_spool_next before "
					"qt_spool_rewind");
		rc = qt_reader_next(s->rd, b);
		if (rc < 0)
			return qt_error_prefix(rc, "reading '%s' a second time: ",
					       s->input);
		if ((rc == 0) != (s->next == s->nb) ||
		    (rc > 0 && (*b)->n != s->n[s->next])) {
			qt_batch_free(*b);
			*b = NULL;
			return qt_error(QT_EFORMAT, "'%s' changed while it was "
					"being read (batch %lld is not the same "
					"the second time)", s->input,
					(long long)s->next + 1);
		}
		if (rc == 0)
			return 0;
	}
	if (rc > 0)
		s->next++;
	return rc;
}

void qt_spool_close(qt_spool *s)
{
	if (!s)
		return;
	if (s->fp)
		fclose(s->fp);
	qt_reader_close(s->rd);
	qt_header_free(s->h);
	free(s->input);
	free(s->dir);
	free(s->len);
	free(s->n);
	free(s->buf);
	free(s);
}
