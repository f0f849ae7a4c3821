/* test_show.c: common/show.h prints arrays in numpy's str() layout
 * (brackets, alignment, summarising with "...") and as strict JSON. */
#include "common/show.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static char *capture_array(qt_dtype dt, const void *data, int ndim,
			   const int64_t *shape, int indent, int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (json)
		qt_show_json_array(f, dt, data, ndim, shape);
	else
		qt_show_array(f, dt, data, ndim, shape, indent);
	fclose(f);
	return buf;
}

#define CHECK_STR(got, want)                                               \
	do {                                                               \
		if (strcmp((got), (want))) {                               \
			printf("# %s:%d: got\n# [%s]\n# want\n# [%s]\n",   \
			       __FILE__, __LINE__, (got), (want));         \
			test_cur_failed = 1;                               \
		}                                                          \
	} while (0)

static void test_values(void)
{
	char b[64];
	float f[] = {1.0f, 0.5f, NAN, -INFINITY, 1e-5f};
	uint8_t t[] = {1, 0};
	int64_t i[] = {-7};
	qt_show_value(b, sizeof b, QT_F32, f, 0);
	CHECK_STR(b, "1.");
	qt_show_value(b, sizeof b, QT_F32, f, 1);
	CHECK_STR(b, "0.5");
	qt_show_value(b, sizeof b, QT_F32, f, 2);
	CHECK_STR(b, "nan");
	qt_show_value(b, sizeof b, QT_F32, f, 3);
	CHECK_STR(b, "-inf");
	qt_show_value(b, sizeof b, QT_F32, f, 4);
	CHECK_STR(b, "1e-05");
	qt_show_value(b, sizeof b, QT_BOOL, t, 0);
	CHECK_STR(b, "True");
	qt_show_value(b, sizeof b, QT_I64, i, 0);
	CHECK_STR(b, "-7");
}

static void test_layout(void)
{
	int32_t a[6] = {1, 2, 3, 40, 5, 6};
	char *s = capture_array(QT_I32, a, 2, (int64_t[]){2, 3}, 0, 0);
	CHECK_STR(s, "[[ 1  2  3]\n [40  5  6]]");
	free(s);
	s = capture_array(QT_I32, a, 3, (int64_t[]){2, 1, 3}, 2, 0);
	CHECK_STR(s, "[[[ 1  2  3]]\n\n   [[40  5  6]]]");
	free(s);
	s = capture_array(QT_I32, a, 0, NULL, 0, 0);
	CHECK_STR(s, "1");
	free(s);
	s = capture_array(QT_I32, a, 1, (int64_t[]){0}, 0, 0);
	CHECK_STR(s, "[]");
	free(s);
}

/* More than 1000 elements: three at each end of every dimension. */
static void test_summarised(void)
{
	int64_t shape[2] = {100, 20};
	int16_t *a = malloc(2000 * sizeof *a);
	for (int i = 0; i < 2000; i++)
		a[i] = (int16_t)i;
	char *s = capture_array(QT_I16, a, 2, shape, 0, 0);
	CHECK_STR(s, "[[   0    1    2 ...   17   18   19]\n"
		     " [  20   21   22 ...   37   38   39]\n"
		     " [  40   41   42 ...   57   58   59]\n"
		     " ...\n"
		     " [1940 1941 1942 ... 1957 1958 1959]\n"
		     " [1960 1961 1962 ... 1977 1978 1979]\n"
		     " [1980 1981 1982 ... 1997 1998 1999]]");
	free(s);
	free(a);
}

/* Rows wider than numpy's 75 columns wrap, indented under the brackets
 * (expected strings are numpy 1.24's str()). */
static void test_wrapped(void)
{
	int64_t a[30];
	for (int i = 0; i < 30; i++)
		a[i] = 1000 * i;
	char *s = capture_array(QT_I64, a, 2, (int64_t[]){2, 15}, 0, 0);
	CHECK_STR(s, "[[    0  1000  2000  3000  4000  5000  6000  7000  8000  9000 10000 11000\n"
		     "  12000 13000 14000]\n"
		     " [15000 16000 17000 18000 19000 20000 21000 22000 23000 24000 25000 26000\n"
		     "  27000 28000 29000]]");
	free(s);
	for (int i = 0; i < 26; i++)
		a[i] = i;
	s = capture_array(QT_I64, a, 1, (int64_t[]){26}, 0, 0);
	CHECK_STR(s, "[ 0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16 17 18 19 20 21 22 23\n"
		     " 24 25]");
	free(s);
}

static void test_json(void)
{
	double d[4] = {0.1, NAN, -2, 1e300};
	uint8_t t[2] = {0, 1};
	char *s = capture_array(QT_F64, d, 2, (int64_t[]){2, 2}, 0, 1);
	CHECK_STR(s, "[[0.10000000000000001,null],[-2,1.0000000000000001e+300]]");
	free(s);
	s = capture_array(QT_BOOL, t, 1, (int64_t[]){2}, 0, 1);
	CHECK_STR(s, "[false,true]");
	free(s);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	qt_show_json_string(f, "a\"b\\c\n\x01");
	qt_show_json_number(f, INFINITY);
	qt_show_json_number(f, 3);
	fclose(f);
	CHECK_STR(buf, "\"a\\\"b\\\\c\\n\\u0001\"null3");
	free(buf);
}

int main(void)
{
	RUN(test_values);
	RUN(test_layout);
	RUN(test_summarised);
	RUN(test_wrapped);
	RUN(test_json);
	return test_done();
}
