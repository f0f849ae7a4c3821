/* npy.c: .npy and .npz reading and writing by rows (see npy.h).
 *
 * The format: numpy's NEP 1 (numpy/lib/format.py).  Magic "\x93NUMPY",
 * major and minor version bytes, the header length (uint16 little-endian
 * in version 1.0, uint32 in 2.0 and 3.0), then the header: a Python dict
 * literal in latin-1 (1.0, 2.0) or UTF-8 (3.0), padded with spaces and
 * ended by '\n' so that the data starts at a multiple of 64 bytes.
 */
#include "common/npy.h"
#include "common/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#define MAGIC "\x93NUMPY"
#define MAGIC_LEN 6
#define HEADER_MAX (1u << 20) /* numpy itself refuses beyond 10 kB */

/* ---- the header ---- */

struct cursor {
	const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
				 *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int accept(struct cursor *c, char ch)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return 1;
	}
	return 0;
}

/* A quoted Python string without escapes (numpy never writes any). */
static int parse_string(struct cursor *c, char *out, size_t len)
{
	char q;
	const char *s;
	skip_ws(c);
	if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
		return -1;
	q = *c->p++;
	s = c->p;
	while (c->p < c->end && *c->p != q && *c->p != '\\')
		c->p++;
	if (c->p >= c->end || *c->p != q || (size_t)(c->p - s) >= len)
		return -1;
	memcpy(out, s, (size_t)(c->p - s));
	out[c->p - s] = '\0';
	c->p++;
	return 0;
}

static int parse_bool(struct cursor *c, int *v)
{
	skip_ws(c);
	if (c->end - c->p >= 4 && !memcmp(c->p, "True", 4)) {
		c->p += 4;
		*v = 1;
		return 0;
	}
	if (c->end - c->p >= 5 && !memcmp(c->p, "False", 5)) {
		c->p += 5;
		*v = 0;
		return 0;
	}
	return -1;
}

/* (), (3,), (3, 4), with Python 2's optional L suffix. */
static int parse_shape(struct cursor *c, int *ndim, int64_t *shape)
{
	int n = 0;
	if (!accept(c, '('))
		return -1;
	for (;;) {
		int64_t v = 0;
		if (accept(c, ')'))
			break;
		skip_ws(c);
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
			return -1;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
			if (v > (INT64_MAX - 9) / 10)
				return -2;
			v = v * 10 + (*c->p++ - '0');
		}
		if (c->p < c->end && *c->p == 'L')
			c->p++;
		if (n >= QT_MAX_DIMS)
			return -3;
		shape[n++] = v;
		if (accept(c, ')'))
			break;
		if (!accept(c, ','))
			return -1;
	}
	*ndim = n;
	return 0;
}

/* The dtype string, with a message for what quanta cannot read. */
static int parse_descr(const char *d, qt_dtype *dt)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%s", d);
	/* Byte order is meaningless for one-byte types. */
	if (buf[0] == '>' && buf[1] && buf[2] == '1' && !buf[3])
		buf[0] = '|';
	if (buf[0] == '>' && strlen(buf) > 1)
		return qt_error(QT_EFORMAT, "big-endian dtype '%s' is not "
				"supported; save it with arr.astype('<%s')", d,
				d + 1);
	if (strchr(buf, 'O'))
		return qt_error(QT_EFORMAT, "object arrays (dtype=object) cannot "
				"be loaded; save a numeric array");
	if (strchr(buf, 'U') || strchr(buf, 'S') || strchr(buf, 'a'))
		return qt_error(QT_EFORMAT, "string arrays (dtype '%s') cannot "
				"be loaded; encode them as integer class "
				"indices", d);
	if (!strcmp(buf + (buf[0] == '<' || buf[0] == '|' || buf[0] == '='),
		    "f2"))
		return qt_error(QT_EFORMAT, "float16 is not supported; save it "
				"with arr.astype('<f4')");
	if (qt_dtype_parse(buf, strlen(buf), dt) < 0)
		return qt_error(QT_EFORMAT, "unsupported dtype '%s' (quanta "
				"reads f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1)", d);
	return 0;
}

int qt_npy_parse_header(const void *buf, size_t len, qt_npy_info *info)
{
	const unsigned char *b = buf;
	size_t hlen, pre;
	struct cursor c;
	char key[32], descr[32] = "";
	int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0;
	if (len < 10 || memcmp(b, MAGIC, MAGIC_LEN))
		return qt_error(QT_EFORMAT, "not a .npy file (no \\x93NUMPY "
				"magic)");
	if (b[6] == 1) {
		hlen = (size_t)b[8] | (size_t)b[9] << 8;
		pre = 10;
	} else if (b[6] == 2 || b[6] == 3) {
		if (len < 12)
			return qt_error(QT_EFORMAT, ".npy header cut short");
		hlen = (size_t)b[8] | (size_t)b[9] << 8 |
		       (size_t)b[10] << 16 | (size_t)b[11] << 24;
		pre = 12;
	} else {
		return qt_error(QT_EFORMAT, ".npy format version %d.%d is not "
				"supported (1.0, 2.0 and 3.0 are)", b[6], b[7]);
	}
	if (hlen > HEADER_MAX)
		return qt_error(QT_EFORMAT, ".npy header of %zu bytes is too "
				"long", hlen);
	if (len < pre + hlen)
		return qt_error(QT_EFORMAT, ".npy header cut short");
	c.p = (const char *)b + pre;
	c.end = c.p + hlen;
	if (!accept(&c, '{'))
		goto bad;
	while (!accept(&c, '}')) {
		if (parse_string(&c, key, sizeof key) < 0 || !accept(&c, ':'))
			goto bad;
		if (!strcmp(key, "descr")) {
			skip_ws(&c);
			if (c.p < c.end && *c.p == '[')
				return qt_error(QT_EFORMAT, "structured arrays "
						"(record dtypes) cannot be "
						"loaded; save each column as "
						"its own array");
			if (parse_string(&c, descr, sizeof descr) < 0)
				goto bad;
			have_descr = 1;
		} else if (!strcmp(key, "fortran_order")) {
			if (parse_bool(&c, &fortran) < 0)
				goto bad;
			have_order = 1;
		} else if (!strcmp(key, "shape")) {
			int rc = parse_shape(&c, &info->ndim, info->shape);
			if (rc == -3)
				return qt_error(QT_EFORMAT, ".npy array has more "
						"than %d dimensions",
						QT_MAX_DIMS);
			if (rc < 0)
				goto bad;
			have_shape = 1;
		} else {
			return qt_error(QT_EFORMAT, ".npy header has an unknown "
					"key '%s'", key);
		}
		if (!accept(&c, ',')) {
			if (!accept(&c, '}'))
				goto bad;
			break;
		}
	}
	if (!have_descr || !have_order || !have_shape)
		return qt_error(QT_EFORMAT, ".npy header lacks '%s'",
				!have_descr ? "descr" : !have_order ?
				"fortran_order" : "shape");
	if (fortran && info->ndim > 1)
		return qt_error(QT_EFORMAT, "Fortran-ordered arrays are not "
				"supported; save np.ascontiguousarray(arr)");
	if (parse_descr(descr, &info->dtype) < 0)
		return QT_EFORMAT;
	if (qt_shape_numel(info->ndim, info->shape) < 0)
		return qt_error(QT_EFORMAT, ".npy shape is too large");
	info->data_offset = pre + hlen;
	return 0;
bad:
	return qt_error(QT_EFORMAT, ".npy header is not a valid numpy header");
}

size_t qt_npy_format_header(char *buf, size_t len, qt_dtype dt, int ndim,
			    const int64_t *shape, size_t pad)
{
	char dict[512];
	size_t n, pre, total;
	int w = snprintf(dict, sizeof dict,
			 "{'descr': '%s', 'fortran_order': False, 'shape': (",
			 qt_dtype_str(dt));
	for (int i = 0; i < ndim; i++)
		w += snprintf(dict + w, sizeof dict - (size_t)w, "%s%" PRId64 "%s",
			      i ? " " : "", shape[i], ndim == 1 || i < ndim - 1 ?
			      "," : "");
	w += snprintf(dict + w, sizeof dict - (size_t)w, "), }");
	n = (size_t)w;
	/* + 1 for the closing '\n'. */
	pre = n + 1 + 10 <= 65535 ? 10 : 12;
	total = (pre + n + 1 + 63) / 64 * 64;
	if (pad > total)
		total = (pad + 63) / 64 * 64;
	if (total > len || (pre == 10 && total - pre > 65535))
		return 0;
	memcpy(buf, MAGIC, MAGIC_LEN);
	buf[6] = pre == 10 ? 1 : 2;
	buf[7] = 0;
	size_t hlen = total - pre;
	buf[8] = (char)(hlen & 0xff);
	buf[9] = (char)(hlen >> 8 & 0xff);
	if (pre == 12) {
		buf[10] = (char)(hlen >> 16 & 0xff);
		buf[11] = (char)(hlen >> 24 & 0xff);
	}
	memcpy(buf + pre, dict, n);
	memset(buf + pre + n, ' ', total - pre - n - 1);
	buf[total - 1] = '\n';
	return total;
}

/* ---- reading ---- */

struct qt_npy_reader {
	qt_npy_info info;
	int fd;           /* a .npy file, or -1 */
	zip_file_t *zf;   /* an .npz member, or NULL */
	uint64_t pos;     /* next byte: file offset, or member offset */
	int64_t row;      /* next row */
	size_t row_bytes;
	char what[320];   /* "x.npy" or "x.npz: member 'a.npy'" */
};

static int read_at(qt_npy_reader *r, void *dst, size_t n)
{
	char *p = dst;
	while (n > 0) {
		ssize_t got;
		size_t ask = n > (1u << 30) ? (1u << 30) : n;
		if (r->zf)
			got = (ssize_t)zip_fread(r->zf, p, ask);
		else
			got = pread(r->fd, p, ask, (off_t)r->pos);
		if (got < 0 && !r->zf && errno == EINTR)
			continue;
		if (got < 0)
			return qt_error(QT_EFORMAT, "%s: read error: %s", r->what,
					r->zf ? zip_file_strerror(r->zf)
					      : strerror(errno));
		if (got == 0)
			return qt_error(QT_EFORMAT, "%s: file is truncated",
					r->what);
		p += got;
		n -= (size_t)got;
		r->pos += (uint64_t)got;
	}
	return 0;
}

/* Read and parse the header; check the data is all there (`size`: bytes
 * in the file or member). */
static int read_header(qt_npy_reader *r, uint64_t size)
{
	unsigned char pre[12];
	unsigned char *buf;
	size_t hlen, plen;
	int rc;
	if (size < 10 || (rc = read_at(r, pre, 10)) < 0)
		return qt_error(QT_EFORMAT, "%s: not a .npy file (too short)",
				r->what);
	if (memcmp(pre, MAGIC, MAGIC_LEN))
		return qt_error(QT_EFORMAT, "%s: not a .npy file (no \\x93NUMPY "
				"magic)", r->what);
	plen = pre[6] == 1 ? 10 : 12;
	if (plen == 12 && (rc = read_at(r, pre + 10, 2)) < 0)
		return rc;
	hlen = plen == 10 ? ((size_t)pre[8] | (size_t)pre[9] << 8)
			  : ((size_t)pre[8] | (size_t)pre[9] << 8 |
			     (size_t)pre[10] << 16 | (size_t)pre[11] << 24);
	if (hlen > HEADER_MAX || pre[6] < 1 || pre[6] > 3) {
		qt_npy_info dummy;
		return qt_error_prefix(qt_npy_parse_header(pre, plen, &dummy),
				       "%s: ", r->what);
	}
	if (!(buf = malloc(plen + hlen)))
		return qt_error(QT_ENOMEM, "out of memory");
	memcpy(buf, pre, plen);
	if ((rc = read_at(r, buf + plen, hlen)) < 0) {
		free(buf);
		return rc;
	}
	if ((rc = qt_npy_parse_header(buf, plen + hlen, &r->info)) < 0) {
		free(buf);
		return qt_error_prefix(rc, "%s: ", r->what);
	}
	free(buf);
	int64_t numel = qt_shape_numel(r->info.ndim, r->info.shape);
	size_t es = qt_dtype_size(r->info.dtype);
	uint64_t need = (uint64_t)numel * es;
	if (numel > 0 && (uint64_t)numel > UINT64_MAX / es)
		return qt_error(QT_EFORMAT, "%s: array is too large", r->what);
	if (size - r->info.data_offset < need)
		return qt_error(QT_EFORMAT, "%s: file is truncated: its shape "
				"needs %" PRIu64 " bytes of data, it has %" PRIu64,
				r->what, need, size - r->info.data_offset);
	r->row_bytes = es * (size_t)(r->info.ndim > 0
		? qt_shape_numel(r->info.ndim - 1, r->info.shape + 1) : 1);
	return 0;
}

int qt_npy_open(qt_npy_reader **rp, const char *path)
{
	qt_npy_reader *r = calloc(1, sizeof *r);
	struct stat st;
	int rc;
	if (!r)
		return qt_error(QT_ENOMEM, "out of memory");
	snprintf(r->what, sizeof r->what, "%s", path);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		rc = qt_error(QT_EUSAGE, "cannot open '%s': %s", path,
			      strerror(errno));
		free(r);
		return rc;
	}
	if (fstat(r->fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		rc = qt_error(QT_EUSAGE, "cannot read '%s': %s", path,
			      S_ISDIR(st.st_mode) ? "is a directory"
						  : strerror(errno));
		qt_npy_close(r);
		return rc;
	}
	if ((rc = read_header(r, (uint64_t)st.st_size)) < 0) {
		qt_npy_close(r);
		return rc;
	}
	r->pos = r->info.data_offset;
	*rp = r;
	return 0;
}

const qt_npy_info *qt_npy_reader_info(const qt_npy_reader *r)
{
	return &r->info;
}

static int check_rows(qt_npy_reader *r, int64_t k)
{
	if (r->info.ndim < 1)
		return qt_error(QT_EFORMAT, "%s: a 0-d array has no rows",
				r->what);
	if (k < 0 || k > r->info.shape[0] - r->row)
		return qt_error(QT_EUSAGE, "%s: rows [%lld, %lld) are past its "
				"%lld rows", r->what, (long long)r->row,
				(long long)(r->row + k),
				(long long)r->info.shape[0]);
	return 0;
}

int qt_npy_read_rows(qt_npy_reader *r, void *dst, int64_t k)
{
	int rc = check_rows(r, k);
	if (rc < 0)
		return rc;
	if ((rc = read_at(r, dst, (size_t)k * r->row_bytes)) < 0)
		return rc;
	r->row += k;
	return 0;
}

int qt_npy_skip_rows(qt_npy_reader *r, int64_t k)
{
	int rc = check_rows(r, k);
	if (rc < 0)
		return rc;
	if (!r->zf) {
		r->pos += (uint64_t)k * r->row_bytes;
		r->row += k;
		return 0;
	}
	/* A deflated member can only be read forward. */
	size_t left = (size_t)k * r->row_bytes, chunk = 1u << 20;
	char *scratch = malloc(chunk);
	if (!scratch)
		return qt_error(QT_ENOMEM, "out of memory");
	while (left > 0 && rc == 0) {
		size_t n = left < chunk ? left : chunk;
		rc = read_at(r, scratch, n);
		left -= n;
	}
	free(scratch);
	if (rc == 0)
		r->row += k;
	return rc;
}

void qt_npy_close(qt_npy_reader *r)
{
	if (!r)
		return;
	if (r->zf)
		zip_fclose(r->zf);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

int qt_npy_load(const char *path, qt_tensor **out)
{
	qt_npy_reader *r;
	qt_tensor *t;
	int rc = qt_npy_open(&r, path);
	if (rc < 0)
		return rc;
	t = qt_tensor_new(r->info.dtype, r->info.ndim, r->info.shape);
	if (!t) {
		qt_npy_close(r);
		return QT_ENOMEM;
	}
	rc = read_at(r, t->data, qt_tensor_nbytes(t));
	qt_npy_close(r);
	if (rc < 0) {
		qt_tensor_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* ---- .npz reading ---- */

struct qt_npz {
	zip_t *za;
	char *path;
	int n;
	zip_uint64_t *index; /* archive index of each .npy member */
	char **names;
};

static int zip_open_error(const char *path, int code)
{
	zip_error_t e;
	int rc;
	zip_error_init_with_code(&e, code);
	if (code == ZIP_ER_NOENT || code == ZIP_ER_OPEN || code == ZIP_ER_READ)
		rc = qt_error(QT_EUSAGE, "cannot open '%s': %s", path,
			      zip_error_strerror(&e));
	else if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS)
		rc = qt_error(QT_EFORMAT, "'%s' is not an .npz file (%s)", path,
			      zip_error_strerror(&e));
	else
		rc = qt_error(QT_EFORMAT, "cannot read '%s': %s", path,
			      zip_error_strerror(&e));
	zip_error_fini(&e);
	return rc;
}

int qt_npz_open(qt_npz **zp, const char *path)
{
	qt_npz *z = calloc(1, sizeof *z);
	zip_int64_t total;
	int err = 0;
	struct stat st;
	if (!z)
		return qt_error(QT_ENOMEM, "out of memory");
	if (stat(path, &st) != 0) {
		free(z);
		return qt_error(QT_EUSAGE, "cannot open '%s': %s", path,
				strerror(errno));
	}
	if (!(z->za = zip_open(path, ZIP_RDONLY, &err))) {
		free(z);
		return zip_open_error(path, err);
	}
	z->path = strdup(path);
	total = zip_get_num_entries(z->za, 0);
	z->index = calloc((size_t)total + 1, sizeof *z->index);
	z->names = calloc((size_t)total + 1, sizeof *z->names);
	if (!z->path || !z->index || !z->names) {
		qt_npz_close(z);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	for (zip_int64_t i = 0; i < total; i++) {
		const char *name = zip_get_name(z->za, (zip_uint64_t)i, 0);
		size_t len = name ? strlen(name) : 0;
		if (len <= 4 || strcmp(name + len - 4, ".npy"))
			continue;
		if (!(z->names[z->n] = strndup(name, len - 4))) {
			qt_npz_close(z);
			return qt_error(QT_ENOMEM, "out of memory");
		}
		z->index[z->n++] = (zip_uint64_t)i;
	}
	*zp = z;
	return 0;
}

int qt_npz_count(const qt_npz *z)
{
	return z->n;
}

const char *qt_npz_name(const qt_npz *z, int i)
{
	return i >= 0 && i < z->n ? z->names[i] : NULL;
}

int qt_npz_open_member(qt_npz *z, int i, qt_npy_reader **rp)
{
	qt_npy_reader *r;
	zip_stat_t st;
	int rc;
	if (i < 0 || i >= z->n)
		return qt_error(QT_EINTERNAL, "no member %d", i);
	if (!(r = calloc(1, sizeof *r)))
		return qt_error(QT_ENOMEM, "out of memory");
	r->fd = -1;
	snprintf(r->what, sizeof r->what, "%s: member '%s.npy'", z->path,
		 z->names[i]);
	zip_stat_init(&st);
	if (zip_stat_index(z->za, z->index[i], 0, &st) < 0 ||
	    !(st.valid & ZIP_STAT_SIZE) ||
	    !(r->zf = zip_fopen_index(z->za, z->index[i], 0))) {
		rc = qt_error(QT_EFORMAT, "%s: %s", r->what,
			      zip_strerror(z->za));
		qt_npy_close(r);
		return rc;
	}
	if ((rc = read_header(r, st.size)) < 0) {
		qt_npy_close(r);
		return rc;
	}
	*rp = r;
	return 0;
}

void qt_npz_close(qt_npz *z)
{
	if (!z)
		return;
	if (z->za)
		zip_discard(z->za);
	for (int i = 0; i < z->n; i++)
		free(z->names[i]);
	free(z->names);
	free(z->index);
	free(z->path);
	free(z);
}

/* ---- writing ---- */

struct qt_npy_writer {
	int fd;
	char *path, *tmp;
	qt_dtype dtype;
	int ndim;                   /* full rank */
	int64_t shape[QT_MAX_DIMS]; /* shape[0]: rows written so far */
	size_t row_bytes, reserved; /* header bytes reserved at the start */
	int err;
};

/* A temporary file beside `path` (".NAME.tmpXXXXXX", or
 * ".NAME.MEMBER.tmpXXXXXX"), with an ordinary file's mode. */
static int make_temp(const char *path, const char *member, char **tmp)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0, fd;
	size_t n = strlen(path) + (member ? strlen(member) : 0) + 32;
	mode_t um;
	if (!(*tmp = malloc(n)))
		return qt_error(QT_ENOMEM, "out of memory");
	snprintf(*tmp, n, "%.*s.%s%s%s.tmpXXXXXX", dirlen, path, path + dirlen,
		 member ? "." : "", member ? member : "");
	if ((fd = mkostemp(*tmp, O_CLOEXEC)) < 0) {
		int rc = qt_error(QT_EUSAGE, "cannot write '%s': %s", path,
				  strerror(errno));
		free(*tmp);
		*tmp = NULL;
		return rc;
	}
	um = umask(0);
	umask(um);
	(void)fchmod(fd, 0666 & ~um);
	return fd;
}

static int write_all(int fd, const void *buf, size_t n, off_t at,
		     const char *path)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = at >= 0 ? pwrite(fd, p, n, at) : write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return qt_error(QT_EIO, "writing '%s': %s", path,
					w < 0 ? strerror(errno) : "no progress");
		p += w;
		n -= (size_t)w;
		if (at >= 0)
			at += w;
	}
	return 0;
}

static int writer_new(qt_npy_writer **wp, const char *path,
		      const char *member, qt_dtype dt, int row_ndim,
		      const int64_t *row_shape)
{
	qt_npy_writer *w;
	char hdr[1024];
	int64_t big[QT_MAX_DIMS];
	int rc;
	if (row_ndim < 0 || row_ndim >= QT_MAX_DIMS ||
	    (unsigned)dt >= QT_NDTYPES)
		return qt_error(QT_ESHAPE, "'%s': bad shape or dtype", path);
	if (!(w = calloc(1, sizeof *w)))
		return qt_error(QT_ENOMEM, "out of memory");
	w->fd = -1;
	w->dtype = dt;
	w->ndim = row_ndim + 1;
	w->row_bytes = qt_dtype_size(dt);
	for (int i = 0; i < row_ndim; i++) {
		w->shape[i + 1] = row_shape[i];
		w->row_bytes *= (size_t)row_shape[i];
	}
	/* Reserve room for the header of any row count. */
	memcpy(big, w->shape, sizeof big);
	big[0] = INT64_MAX;
	w->reserved = qt_npy_format_header(hdr, sizeof hdr, dt, w->ndim, big, 0);
	if (!(w->path = strdup(path))) {
		free(w);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	if ((rc = make_temp(path, member, &w->tmp)) < 0) {
		free(w->path);
		free(w);
		return rc;
	}
	w->fd = rc;
	memset(hdr, ' ', w->reserved);
	if ((rc = write_all(w->fd, hdr, w->reserved, -1, path)) < 0) {
		qt_npy_finish(w, 0);
		return rc;
	}
	*wp = w;
	return 0;
}

int qt_npy_create(qt_npy_writer **w, const char *path, qt_dtype dt,
		  int row_ndim, const int64_t *row_shape)
{
	return writer_new(w, path, NULL, dt, row_ndim, row_shape);
}

int qt_npy_write_rows(qt_npy_writer *w, const void *rows, int64_t k)
{
	int rc;
	if (w->err)
		return w->err;
	if (k <= 0)
		return 0;
	if ((rc = write_all(w->fd, rows, (size_t)k * w->row_bytes, -1,
			    w->path)) < 0)
		return w->err = rc;
	w->shape[0] += k;
	return 0;
}

/* Write the real header over the reserved space; close the file. */
static int writer_seal(qt_npy_writer *w, int sync)
{
	char hdr[1024];
	size_t n;
	int rc = w->err;
	if (!rc) {
		n = qt_npy_format_header(hdr, sizeof hdr, w->dtype, w->ndim,
					 w->shape, w->reserved);
		if (n != w->reserved)
			rc = qt_error(QT_EINTERNAL, "'%s': header does not fit",
				      w->path);
		else
			rc = write_all(w->fd, hdr, n, 0, w->path);
	}
	if (!rc && sync && fsync(w->fd) != 0)
		rc = qt_error(QT_EIO, "writing '%s': %s", w->path,
			      strerror(errno));
	if (close(w->fd) != 0 && !rc)
		rc = qt_error(QT_EIO, "writing '%s': %s", w->path,
			      strerror(errno));
	w->fd = -1;
	return rc;
}

static void writer_free(qt_npy_writer *w, int unlink_tmp)
{
	if (w->fd >= 0)
		close(w->fd);
	if (unlink_tmp && w->tmp)
		unlink(w->tmp);
	free(w->tmp);
	free(w->path);
	free(w);
}

int qt_npy_finish(qt_npy_writer *w, int commit)
{
	int rc = 0;
	if (!w)
		return 0;
	if (commit) {
		rc = writer_seal(w, 1);
		if (!rc && rename(w->tmp, w->path) != 0)
			rc = qt_error(QT_EIO, "cannot rename to '%s': %s",
				      w->path, strerror(errno));
	}
	writer_free(w, !commit || rc);
	return rc;
}

int qt_npy_save(const char *path, const qt_tensor *t)
{
	qt_npy_writer *w;
	int rc;
	if (t->ndim == 0) {
		/* A 0-d array: its header has no rows to count. */
		char hdr[1024], *tmp;
		size_t n = qt_npy_format_header(hdr, sizeof hdr, t->dtype, 0,
						t->shape, 0);
		int fd = make_temp(path, NULL, &tmp);
		if (fd < 0)
			return fd;
		rc = write_all(fd, hdr, n, -1, path);
		if (!rc)
			rc = write_all(fd, t->data, qt_dtype_size(t->dtype), -1,
				       path);
		if (!rc && fsync(fd) != 0)
			rc = qt_error(QT_EIO, "writing '%s': %s", path,
				      strerror(errno));
		close(fd);
		if (!rc && rename(tmp, path) != 0)
			rc = qt_error(QT_EIO, "cannot rename to '%s': %s", path,
				      strerror(errno));
		if (rc)
			unlink(tmp);
		free(tmp);
		return rc;
	}
	if ((rc = qt_npy_create(&w, path, t->dtype, t->ndim - 1,
				t->shape + 1)) < 0)
		return rc;
	rc = qt_npy_write_rows(w, t->data, t->shape[0]);
	int rc2 = qt_npy_finish(w, rc == 0);
	return rc ? rc : rc2;
}

/* ---- .npz writing ---- */

#define NPZ_MAX_MEMBERS 256

struct qt_npz_writer {
	char *path;
	int compress;
	int n;
	qt_npy_writer *m[NPZ_MAX_MEMBERS];
	char *names[NPZ_MAX_MEMBERS];
};

int qt_npz_create(qt_npz_writer **zp, const char *path, int compress)
{
	qt_npz_writer *z = calloc(1, sizeof *z);
	char *tmp;
	int fd;
	if (!z || !(z->path = strdup(path))) {
		free(z);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	/* Check now that the place is writable, not after all the data. */
	if ((fd = make_temp(path, NULL, &tmp)) < 0) {
		free(z->path);
		free(z);
		return fd;
	}
	close(fd);
	unlink(tmp);
	free(tmp);
	z->compress = compress;
	*zp = z;
	return 0;
}

int qt_npz_add(qt_npz_writer *z, const char *name, qt_dtype dt,
	       int row_ndim, const int64_t *row_shape, qt_npy_writer **member)
{
	int rc;
	if (z->n >= NPZ_MAX_MEMBERS)
		return qt_error(QT_EUSAGE, "'%s': more than %d members", z->path,
				NPZ_MAX_MEMBERS);
	if (strlen(name) > 1000)
		return qt_error(QT_EUSAGE, "member name '%.40s...' is too long",
				name);
	if (!(z->names[z->n] = strdup(name)))
		return qt_error(QT_ENOMEM, "out of memory");
	rc = writer_new(&z->m[z->n], z->path, name, dt, row_ndim, row_shape);
	if (rc < 0) {
		free(z->names[z->n]);
		return rc;
	}
	*member = z->m[z->n++];
	return 0;
}

static int zip_members(qt_npz_writer *z, const char *tmp)
{
	zip_t *za;
	int err = 0, rc = 0;
	if (!(za = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &err)))
		return zip_open_error(tmp, err);
	for (int i = 0; i < z->n && !rc; i++) {
		char member[1024];
		zip_source_t *src;
		zip_int64_t idx;
		snprintf(member, sizeof member, "%s.npy", z->names[i]);
		src = zip_source_file(za, z->m[i]->tmp, 0, -1);
		if (!src || (idx = zip_file_add(za, member, src,
						ZIP_FL_ENC_UTF_8)) < 0) {
			if (src)
				zip_source_free(src);
			rc = qt_error(QT_EIO, "writing '%s': %s", z->path,
				      zip_strerror(za));
			break;
		}
		if (zip_set_file_compression(za, (zip_uint64_t)idx,
					     z->compress ? ZIP_CM_DEFLATE
							 : ZIP_CM_STORE,
					     (zip_uint32_t)z->compress) < 0)
			rc = qt_error(QT_EIO, "writing '%s': %s", z->path,
				      zip_strerror(za));
	}
	if (rc) {
		zip_discard(za);
		return rc;
	}
	if (zip_close(za) < 0) {
		rc = qt_error(QT_EIO, "writing '%s': %s", z->path,
			      zip_strerror(za));
		zip_discard(za);
	}
	return rc;
}

int qt_npz_finish(qt_npz_writer *z, int commit)
{
	char *tmp = NULL;
	int rc = 0, fd;
	if (!z)
		return 0;
	for (int i = 0; i < z->n && commit && !rc; i++)
		rc = writer_seal(z->m[i], 0);
	if (commit && !rc) {
		if ((fd = make_temp(z->path, NULL, &tmp)) < 0) {
			rc = fd;
		} else {
			close(fd);
			rc = zip_members(z, tmp);
			if (!rc && ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0 ||
				    fsync(fd) != 0))
				rc = qt_error(QT_EIO, "writing '%s': %s",
					      z->path, strerror(errno));
			if (fd >= 0)
				close(fd);
			if (!rc && rename(tmp, z->path) != 0)
				rc = qt_error(QT_EIO, "cannot rename to '%s': "
					      "%s", z->path, strerror(errno));
			if (rc)
				unlink(tmp);
			free(tmp);
		}
	}
	for (int i = 0; i < z->n; i++) {
		writer_free(z->m[i], 1);
		free(z->names[i]);
	}
	free(z->path);
	free(z);
	return rc;
}
