/* test_npy.c: the .npy/.npz reader and writer (common/npy.h): round trips
 * of every dtype and several shapes, row-wise reading and skipping,
 * headers as numpy writes them (versions 1.0, 2.0 and 3.0), .npz members
 * stored and deflated, and the rejection of big-endian, Fortran-ordered,
 * object, structured and truncated arrays.  Files live in a fresh
 * temporary folder that the test removes. */
#include "common/error.h"
#include "common/npy.h"
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static const char *in_dir(const char *name)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

/* Number of entries in the folder (to see no temporary file is left). */
static int dir_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void clear_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlink(in_dir(e->d_name));
	closedir(d);
}

static void fill(qt_tensor *t, unsigned seed)
{
	unsigned char *p = t->data;
	size_t n = qt_tensor_nbytes(t);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 131u + i * 29u + (i >> 8));
	if (t->dtype == QT_BOOL)
		for (size_t i = 0; i < n; i++)
			p[i] &= 1;
	/* Keep floats finite so a NaN payload cannot hide a mismatch. */
	if (t->dtype == QT_F32)
		for (int64_t i = 0; i < qt_tensor_numel(t); i++)
			((float *)t->data)[i] = (float)i * 0.25f - (float)seed;
	if (t->dtype == QT_F64)
		for (int64_t i = 0; i < qt_tensor_numel(t); i++)
			((double *)t->data)[i] = (double)i / 3.0 - seed;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(p, 1, n, f);
		fclose(f);
	}
}

static void test_roundtrip_every_dtype(void)
{
	static const int64_t shapes[][3] = {{0}, {5}, {4, 3}, {2, 0, 3}};
	static const int ranks[] = {0, 1, 2, 3};
	for (int dt = 0; dt < QT_NDTYPES; dt++)
		for (int s = 0; s < 4; s++) {
			qt_tensor *t = qt_tensor_new((qt_dtype)dt, ranks[s],
						     shapes[s]), *u = NULL;
			fill(t, (unsigned)(dt * 7 + s));
			CHECK_OK(qt_npy_save(in_dir("a.npy"), t));
			CHECK_OK(qt_npy_load(in_dir("a.npy"), &u));
			CHECK(u && qt_tensor_same_layout(t, u));
			CHECK(u && !memcmp(t->data, u->data, qt_tensor_nbytes(t)));
			if (u && !qt_tensor_same_layout(t, u))
				printf("# dtype %s rank %d\n",
				       qt_dtype_name((qt_dtype)dt), ranks[s]);
			qt_tensor_free(t);
			qt_tensor_free(u);
		}
	CHECK(dir_entries() == 1);
	clear_dir();
}

/* Rows written in pieces come back in other pieces; skip jumps ahead. */
static void test_rows_in_pieces(void)
{
	int64_t row[2] = {3, 2}, shape[3] = {10, 3, 2};
	qt_tensor *t = qt_tensor_new(QT_F32, 3, shape);
	qt_npy_writer *w;
	qt_npy_reader *r;
	float got[6 * 10];
	fill(t, 1);
	CHECK_OK(qt_npy_create(&w, in_dir("rows.npy"), QT_F32, 2, row));
	CHECK_OK(qt_npy_write_rows(w, t->data, 4));
	CHECK_OK(qt_npy_write_rows(w, (float *)t->data + 4 * 6, 0));
	CHECK_OK(qt_npy_write_rows(w, (float *)t->data + 4 * 6, 6));
	/* Nothing under the final name until the writer finishes. */
	CHECK(access(in_dir("rows.npy"), F_OK) != 0);
	CHECK_OK(qt_npy_finish(w, 1));
	CHECK_OK(qt_npy_open(&r, in_dir("rows.npy")));
	const qt_npy_info *in = qt_npy_reader_info(r);
	CHECK(in->dtype == QT_F32 && in->ndim == 3 && in->shape[0] == 10 &&
	      in->shape[1] == 3 && in->shape[2] == 2);
	CHECK(in->data_offset % 64 == 0);
	CHECK_OK(qt_npy_read_rows(r, got, 3));
	CHECK_CLOSE(got, (const float *)t->data, 18, 0, 0);
	CHECK_OK(qt_npy_skip_rows(r, 2));
	CHECK_OK(qt_npy_read_rows(r, got, 5));
	CHECK_CLOSE(got, (const float *)t->data + 5 * 6, 30, 0, 0);
	CHECK(qt_npy_read_rows(r, got, 1) == QT_EUSAGE);
	qt_npy_close(r);
	qt_tensor_free(t);
	/* An abandoned writer leaves nothing behind. */
	CHECK_OK(qt_npy_create(&w, in_dir("gone.npy"), QT_I64, 0, NULL));
	CHECK_OK(qt_npy_write_rows(w, shape, 3));
	CHECK_OK(qt_npy_finish(w, 0));
	CHECK(dir_entries() == 1);
	clear_dir();
}

/* A .npy file with the given header dictionary and `data` bytes. */
static void write_npy(const char *name, int major, const char *dict,
		      const void *data, size_t n)
{
	char buf[512];
	size_t pre = major == 1 ? 10 : 12, len = strlen(dict);
	size_t total = (pre + len + 1 + 63) / 64 * 64, hlen = total - pre;
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (char)major;
	buf[7] = 0;
	buf[8] = (char)(hlen & 0xff);
	buf[9] = (char)(hlen >> 8);
	if (major > 1)
		buf[10] = buf[11] = 0;
	memcpy(buf + pre, dict, len);
	memset(buf + pre + len, ' ', total - pre - len - 1);
	buf[total - 1] = '\n';
	memcpy(buf + total, data, n);
	write_bytes(in_dir(name), buf, total + n);
}

static void test_numpy_headers(void)
{
	int32_t v[6] = {1, 2, 3, 4, 5, 6};
	qt_tensor *t = NULL;
	/* As numpy 1.x writes it (version 1.0). */
	write_npy("v1.npy", 1, "{'descr': '<i4', 'fortran_order': False, "
		  "'shape': (2, 3), }", v, sizeof v);
	CHECK_OK(qt_npy_load(in_dir("v1.npy"), &t));
	CHECK(t && t->dtype == QT_I32 && t->ndim == 2 && t->shape[1] == 3 &&
	      !memcmp(t->data, v, sizeof v));
	qt_tensor_free(t);
	/* Version 2.0 and 3.0, keys in another order, Python 2's 3L. */
	write_npy("v2.npy", 2, "{'shape': (6L,), 'fortran_order': False, "
		  "'descr': '<u4'}", v, sizeof v);
	CHECK_OK(qt_npy_load(in_dir("v2.npy"), &t));
	CHECK(t && t->dtype == QT_U32 && t->ndim == 1 && t->shape[0] == 6);
	qt_tensor_free(t);
	write_npy("v3.npy", 3, "{\"descr\": \"|b1\", \"fortran_order\": False, "
		  "\"shape\": (3, 2)}", "\1\0\1\1\0\0", 6);
	CHECK_OK(qt_npy_load(in_dir("v3.npy"), &t));
	CHECK(t && t->dtype == QT_BOOL && t->shape[0] == 3);
	qt_tensor_free(t);
	/* Fortran order of a 1-D array is the same bytes. */
	write_npy("f1.npy", 1, "{'descr': '<i4', 'fortran_order': True, "
		  "'shape': (6,), }", v, sizeof v);
	CHECK_OK(qt_npy_load(in_dir("f1.npy"), &t));
	qt_tensor_free(t);
	clear_dir();
}

/* Each bad file fails with QT_EFORMAT and a message naming `word`. */
static void expect_reject(const char *name, const char *word)
{
	qt_tensor *t = NULL;
	int rc = qt_npy_load(in_dir(name), &t);
	CHECK(rc == QT_EFORMAT && t == NULL);
	if (rc != QT_EFORMAT || !strstr(qt_error_message(rc), word))
		printf("# %s: rc %d, message '%s' (wanted '%s')\n", name, rc,
		       qt_error_message(rc), word);
	CHECK(strstr(qt_error_message(rc), word) != NULL);
	CHECK(strstr(qt_error_message(rc), name) != NULL);
}

static void test_rejects(void)
{
	int32_t v[6] = {0};
	qt_tensor *t = NULL;
	write_npy("be.npy", 1, "{'descr': '>f4', 'fortran_order': False, "
		  "'shape': (6,), }", v, sizeof v);
	expect_reject("be.npy", "big-endian");
	write_npy("fo.npy", 1, "{'descr': '<i4', 'fortran_order': True, "
		  "'shape': (2, 3), }", v, sizeof v);
	expect_reject("fo.npy", "Fortran");
	write_npy("ob.npy", 1, "{'descr': '|O', 'fortran_order': False, "
		  "'shape': (3,), }", v, 24);
	expect_reject("ob.npy", "object");
	write_npy("st.npy", 1, "{'descr': [('a', '<i4'), ('b', '<f4')], "
		  "'fortran_order': False, 'shape': (3,), }", v, 24);
	expect_reject("st.npy", "structured");
	write_npy("f2.npy", 1, "{'descr': '<f2', 'fortran_order': False, "
		  "'shape': (3,), }", v, 6);
	expect_reject("f2.npy", "float16");
	write_npy("tr.npy", 1, "{'descr': '<i4', 'fortran_order': False, "
		  "'shape': (2, 3), }", v, sizeof v - 4);
	expect_reject("tr.npy", "truncated");
	write_npy("bad.npy", 1, "{'descr': '<i4', 'fortran_order': False, "
		  "'shape': (2, 3}", v, sizeof v);
	expect_reject("bad.npy", "header");
	write_bytes(in_dir("txt.npy"), "hello, world\n", 13);
	expect_reject("txt.npy", "not a .npy");
	/* A single-byte big-endian dtype has no byte order to get wrong. */
	write_npy("u1.npy", 1, "{'descr': '>u1', 'fortran_order': False, "
		  "'shape': (6,), }", v, 6);
	CHECK_OK(qt_npy_load(in_dir("u1.npy"), &t));
	qt_tensor_free(t);
	CHECK(qt_npy_load(in_dir("missing.npy"), &t) == QT_EUSAGE);
	clear_dir();
}

static void test_npz(void)
{
	for (int compress = 0; compress <= 6; compress += 6) {
		int64_t row = 4, n = 1000;
		qt_tensor *a = qt_tensor_new(QT_F64, 2, (int64_t[]){n, row});
		qt_tensor *b = qt_tensor_new(QT_U8, 1, &n);
		qt_npz_writer *z;
		qt_npy_writer *wa, *wb;
		qt_npz *in;
		qt_npy_reader *ra, *rb;
		double got[4 * 10];
		uint8_t gb[10];
		fill(a, 3);
		fill(b, 4);
		CHECK_OK(qt_npz_create(&z, in_dir("z.npz"), compress));
		CHECK_OK(qt_npz_add(z, "alpha", QT_F64, 1, &row, &wa));
		CHECK_OK(qt_npz_add(z, "beta", QT_U8, 0, NULL, &wb));
		for (int64_t i = 0; i < n; i += 250) {
			CHECK_OK(qt_npy_write_rows(wa, (double *)a->data + i * row,
						   250));
			CHECK_OK(qt_npy_write_rows(wb, (uint8_t *)b->data + i, 250));
		}
		CHECK_OK(qt_npz_finish(z, 1));
		CHECK(dir_entries() == 1);
		CHECK_OK(qt_npz_open(&in, in_dir("z.npz")));
		CHECK(qt_npz_count(in) == 2);
		CHECK(!strcmp(qt_npz_name(in, 0), "alpha") &&
		      !strcmp(qt_npz_name(in, 1), "beta"));
		/* Two members open at once, read in turns. */
		CHECK_OK(qt_npz_open_member(in, 0, &ra));
		CHECK_OK(qt_npz_open_member(in, 1, &rb));
		CHECK_OK(qt_npy_skip_rows(ra, 500));
		CHECK_OK(qt_npy_skip_rows(rb, 500));
		CHECK_OK(qt_npy_read_rows(ra, got, 10));
		CHECK_OK(qt_npy_read_rows(rb, gb, 10));
		CHECK_CLOSE(got, (const double *)a->data + 500 * row, 40, 0, 0);
		CHECK(!memcmp(gb, (uint8_t *)b->data + 500, 10));
		qt_npy_close(ra);
		qt_npy_close(rb);
		qt_npz_close(in);
		/* Abandoned: no archive, no member files. */
		CHECK_OK(qt_npz_create(&z, in_dir("y.npz"), compress));
		CHECK_OK(qt_npz_add(z, "alpha", QT_F64, 1, &row, &wa));
		CHECK_OK(qt_npy_write_rows(wa, a->data, 3));
		CHECK_OK(qt_npz_finish(z, 0));
		CHECK(dir_entries() == 1);
		qt_tensor_free(a);
		qt_tensor_free(b);
		clear_dir();
	}
	write_bytes(in_dir("no.npz"), "not a zip", 9);
	qt_npz *z;
	CHECK(qt_npz_open(&z, in_dir("no.npz")) == QT_EFORMAT);
	clear_dir();
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/quanta-npy.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		printf("not ok 1 - cannot make a temporary folder\n");
		return 1;
	}
	RUN(test_roundtrip_every_dtype);
	RUN(test_rows_in_pieces);
	RUN(test_numpy_headers);
	RUN(test_rejects);
	RUN(test_npz);
	clear_dir();
	rmdir(dir);
	return test_done();
}
