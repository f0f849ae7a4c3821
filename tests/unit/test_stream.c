/* test_stream.c: the stream codec: round trips of every dtype and shape,
 * ragged (graph) batches, gather/concat re-offsetting, and rejection of
 * malformed messages. */
#include "common/codec.h"
#include "common/endpoint.h"
#include "common/error.h"
#include "common/stream.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t pack_to(msgpack_sbuffer *sb, const qt_header *h,
		      const qt_batch *b)
{
	msgpack_packer pk;
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (b)
		qt_pack_batch(&pk, h, b);
	else
		qt_pack_header(&pk, h);
	return sb->size;
}

static void fill(qt_tensor *t, unsigned seed)
{
	unsigned char *p = t->data;
	size_t n = qt_tensor_nbytes(t);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 31u + i * 7u);
	if (t->dtype == QT_BOOL)
		for (size_t i = 0; i < n; i++)
			p[i] &= 1;
}

static void test_every_dtype_and_shape(void)
{
	static const int64_t shapes[][3] = {{0}, {3}, {2, 5}, {1, 2, 3}};
	static const int ranks[] = {0, 1, 2, 3};
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	for (int dt = 0; dt < QT_NDTYPES; dt++)
		for (int s = 0; s < 4; s++) {
			qt_header *h = qt_header_new(), *h2 = NULL;
			qt_batch *b = qt_batch_new(1), *b2 = NULL;
			int64_t full[4] = {4};
			CHECK(qt_header_add_field(h, "x", (qt_dtype)dt, ranks[s],
						  shapes[s]) == 0);
			memcpy(full + 1, shapes[s], sizeof shapes[s]);
			b->n = 4;
			b->t[0] = qt_tensor_new((qt_dtype)dt, ranks[s] + 1, full);
			fill(b->t[0], (unsigned)(dt * 10 + s));
			CHECK(qt_batch_validate(h, b) == 0);
			pack_to(&sb, h, NULL);
			CHECK(qt_decode_message(sb.data, sb.size, NULL, &h2, NULL) == 1);
			CHECK(h2 && h2->nfields == 1 && (int)h2->fields[0].dtype == dt &&
			      h2->fields[0].ndim == ranks[s]);
			pack_to(&sb, h, b);
			CHECK(qt_decode_message(sb.data, sb.size, h2, NULL, &b2) == 2);
			CHECK(b2 && b2->n == 4 &&
			      qt_tensor_same_layout(b->t[0], b2->t[0]) &&
			      !memcmp(b->t[0]->data, b2->t[0]->data,
				      qt_tensor_nbytes(b->t[0])));
			qt_batch_free(b);
			qt_batch_free(b2);
			qt_header_free(h);
			qt_header_free(h2);
		}
	msgpack_sbuffer_destroy(&sb);
}

/* Two graphs: 3 and 2 nodes, edges indexing nodes. */
static qt_header *graph_header(void)
{
	qt_header *h = qt_header_new();
	int nodes = qt_header_add_field(h, "nodes", QT_F32, 2, (int64_t[]){-1, 2});
	int edges = qt_header_add_field(h, "edges", QT_I64, 2, (int64_t[]){-1, 2});
	int y = qt_header_add_field(h, "label", QT_I64, 0, NULL);
	const char *cls[] = {"noise", "signal"};
	CHECK(nodes == 0 && edges == 1 && y == 2);
	CHECK(qt_header_set_index_of(h, edges, "nodes") == 0);
	CHECK(qt_header_set_classes(h, y, 2, cls) == 0);
	CHECK(qt_header_validate(h) == 0);
	return h;
}

static qt_batch *graph_batch(void)
{
	qt_batch *b = qt_batch_new(3);
	b->n = 2;
	b->t[0] = qt_tensor_new(QT_F32, 2, (int64_t[]){5, 2});
	for (int i = 0; i < 10; i++)
		((float *)b->t[0]->data)[i] = (float)i;
	b->ptr[0] = qt_tensor_new(QT_I64, 1, (int64_t[]){3});
	memcpy(b->ptr[0]->data, (int64_t[]){0, 3, 5}, 3 * sizeof(int64_t));
	/* graph 0: 0-1, 1-2; graph 1: 3-4 (batch-global indices) */
	b->t[1] = qt_tensor_new(QT_I64, 2, (int64_t[]){3, 2});
	memcpy(b->t[1]->data, (int64_t[]){0, 1, 1, 2, 3, 4}, 6 * sizeof(int64_t));
	b->ptr[1] = qt_tensor_new(QT_I64, 1, (int64_t[]){3});
	memcpy(b->ptr[1]->data, (int64_t[]){0, 2, 3}, 3 * sizeof(int64_t));
	b->t[2] = qt_tensor_new(QT_I64, 1, (int64_t[]){2});
	((int64_t *)b->t[2]->data)[1] = 1;
	return b;
}

static void test_ragged_roundtrip(void)
{
	qt_header *h = graph_header(), *h2 = NULL;
	qt_batch *b = graph_batch(), *b2 = NULL;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	CHECK_OK(qt_batch_validate(h, b));
	pack_to(&sb, h, NULL);
	CHECK(qt_decode_message(sb.data, sb.size, NULL, &h2, NULL) == 1);
	CHECK(h2 && h2->fields[1].index_of[0] && h2->fields[2].nclasses == 2 &&
	      !strcmp(h2->fields[2].classes[1], "signal"));
	pack_to(&sb, h, b);
	CHECK(qt_decode_message(sb.data, sb.size, h2, NULL, &b2) == 2);
	CHECK(b2 && b2->n == 2 && b2->t[0]->shape[0] == 5 &&
	      !memcmp(b2->t[1]->data, b->t[1]->data, 6 * sizeof(int64_t)));
	/* An edge pointing into the other graph is rejected. */
	((int64_t *)b->t[1]->data)[5] = 1;
	CHECK(qt_batch_validate(h, b) == QT_EFORMAT);
	qt_batch_free(b);
	qt_batch_free(b2);
	qt_header_free(h);
	qt_header_free(h2);
	msgpack_sbuffer_destroy(&sb);
}

static void test_take_and_concat(void)
{
	qt_header *h = graph_header();
	qt_batch *b = graph_batch(), *t, *parts[2], *c;
	int64_t idx[3] = {1, 0, 1};
	t = qt_batch_take(h, b, idx, 3);
	CHECK(t && t->n == 3);
	CHECK_OK(qt_batch_validate(h, t));
	/* sample 1 first: its nodes 3,4 become 0,1; its edge 3-4 -> 0-1 */
	const int64_t *e = t->t[1]->data, *p = t->ptr[0]->data;
	CHECK(p[1] == 2 && p[2] == 5 && p[3] == 7);
	CHECK(e[0] == 0 && e[1] == 1 && e[2] == 2 && e[3] == 3 && e[4] == 3 &&
	      e[5] == 4 && e[6] == 5 && e[7] == 6);
	CHECK(((float *)t->t[0]->data)[0] == 6.0f);
	parts[0] = b;
	parts[1] = t;
	c = qt_batch_concat(h, parts, 2);
	CHECK(c && c->n == 5 && c->t[0]->shape[0] == 12);
	CHECK_OK(qt_batch_validate(h, c));
	CHECK(((int64_t *)c->t[1]->data)[6] == 5); /* t's first edge, +5 nodes */
	qt_batch_free(c);
	qt_batch_free(t);
	qt_batch_free(b);
	qt_header_free(h);
}

static void test_rejects_bad_messages(void)
{
	qt_header *h = qt_header_new(), *h2 = NULL;
	qt_batch *b = qt_batch_new(1), *b2 = NULL;
	msgpack_sbuffer sb;
	size_t n;
	qt_header_add_field(h, "x", QT_F32, 1, (int64_t[]){3});
	b->n = 2;
	b->t[0] = qt_tensor_new(QT_F32, 2, (int64_t[]){2, 3});
	msgpack_sbuffer_init(&sb);
	n = pack_to(&sb, h, b);
	/* every truncation is an error, never a crash */
	for (size_t k = 0; k < n; k++)
		CHECK(qt_decode_message(sb.data, k, h, NULL, &b2) < 0);
	/* hostile counts: array32 of 2^32-1 items, bin32 of 4 GB */
	CHECK(qt_decode_message("\xdd\xff\xff\xff\xff", 5, h, NULL, &b2) == QT_EFORMAT);
	CHECK(qt_decode_message("\xc6\xff\xff\xff\xff", 5, h, NULL, &b2) == QT_EFORMAT);
	CHECK(qt_decode_message("\xc1", 1, h, NULL, &b2) == QT_EFORMAT);
	/* a batch whose shape disagrees with the header */
	b->t[0]->shape[1] = 2;
	b->t[0]->shape[0] = 3;
	n = pack_to(&sb, h, b);
	CHECK(qt_decode_message(sb.data, n, h, NULL, &b2) == QT_ESHAPE);
	/* a batch before any header */
	CHECK(qt_decode_message(sb.data, n, NULL, &h2, &b2) == QT_EFORMAT);
	/* data bytes that do not match the shape: patch shape 3 -> 4 */
	b->t[0]->shape[0] = 2;
	b->t[0]->shape[1] = 3;
	n = pack_to(&sb, h, b);
	char *p = memmem(sb.data, n, "\xc4\x05shape\x92\x02\x03", 9);
	CHECK(p != NULL);
	if (p) {
		p[8] = 4;
		CHECK(qt_decode_message(sb.data, n, h, NULL, &b2) == QT_EFORMAT);
		CHECK(strstr(qt_error_message(QT_EFORMAT), "do not match") != NULL);
	}
	qt_batch_free(b);
	qt_header_free(h);
	msgpack_sbuffer_destroy(&sb);
}

static void test_header_rules(void)
{
	qt_header *h = qt_header_new();
	CHECK(qt_header_add_field(h, "bad name", QT_F32, 0, NULL) == QT_EUSAGE);
	CHECK(qt_header_add_field(h, "x.ptr", QT_F32, 0, NULL) == QT_EUSAGE);
	CHECK(qt_header_add_field(h, "x", QT_F32, 0, NULL) == 0);
	CHECK(qt_header_add_field(h, "x", QT_F32, 0, NULL) == QT_EUSAGE);
	CHECK(qt_header_add_field(h, "y", QT_F32, 2, (int64_t[]){3, -1}) == QT_ESHAPE);
	CHECK(qt_header_add_field(h, "e", QT_I64, 2, (int64_t[]){-1, 2}) == 1);
	CHECK_OK(qt_header_validate(h));
	CHECK(qt_header_set_index_of(h, 1, "x") == 0); /* x is not ragged */
	CHECK(qt_header_validate(h) == QT_EFORMAT);
	qt_header_free(h);
	h = qt_header_new();
	CHECK(qt_header_validate(h) == QT_EFORMAT); /* no fields */
	qt_header_free(h);
}

/* Writer and reader through a file: atomic rename, end marker,
 * truncation detected. */
static void test_file_roundtrip(void)
{
	char path[] = "/tmp/qt_test_streamXXXXXX";
	int fd = mkstemp(path);
	qt_header *h = graph_header();
	qt_batch *b = graph_batch(), *r;
	qt_writer *w;
	qt_reader *rd;
	int got = 0, rc;
	close(fd);
	CHECK_OK(qt_writer_open(&w, path, h));
	for (int i = 0; i < 3; i++)
		CHECK_OK(qt_writer_write(w, b));
	CHECK_OK(qt_writer_close(w));
	CHECK_OK(qt_reader_open(&rd, path));
	while ((rc = qt_reader_next(rd, &r)) > 0) {
		got++;
		CHECK(r->n == 2);
		qt_batch_free(r);
	}
	CHECK(rc == 0 && got == 3);
	qt_reader_close(rd);
	/* cut the last 3 bytes (inside the end map): an error, not an end */
	FILE *f = fopen(path, "r+");
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	CHECK(truncate(path, size - 3) == 0);
	CHECK_OK(qt_reader_open(&rd, path));
	while ((rc = qt_reader_next(rd, &r)) > 0)
		qt_batch_free(r);
	CHECK(rc == QT_EFORMAT);
	qt_reader_close(rd);
	/* an aborted writer leaves nothing behind */
	unlink(path);
	CHECK_OK(qt_writer_open(&w, path, h));
	CHECK_OK(qt_writer_write(w, b));
	qt_writer_abort(w);
	CHECK(access(path, F_OK) != 0);
	qt_batch_free(b);
	qt_header_free(h);
}

int main(void)
{
	RUN(test_every_dtype_and_shape);
	RUN(test_ragged_roundtrip);
	RUN(test_take_and_concat);
	RUN(test_rejects_bad_messages);
	RUN(test_header_rules);
	RUN(test_file_roundtrip);
	return test_done();
}
