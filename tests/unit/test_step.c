/* test_step.c: qt_net_train_step.  A network built with cfg.chunked runs
 * a batch in chunks of rows on replicas (nn/step.c): its losses, loss
 * predictions and gradients must equal those of the whole batch run
 * layer by layer (float64, to rounding), must not depend on the thread
 * count (bit for bit), and networks whose layers couple the rows of a
 * batch must not be chunked at all. */
#include "common/error.h"
#include "common/threadpool.h"
#include "nn/net.h"
#include "test.h"

#include <math.h>
#include <string.h>

/* Every row-wise layer kind, a skip connection, two losses. */
static const char *ROWWISE =
	"input img [2, 10, 10]\ninput aux [3]\ntarget y\ntarget v\n"
	"a = img | conv2d(4, kernel=3) | relu | maxpool2d(2)\n"
	"b = img | conv2d(4, kernel=3, padding=same, bias=false) | tanh "
	"| avgpool2d(2) | global_avgpool2d\n"
	"c = a | flatten | dense(6) | sigmoid\n"
	"d = concat(c, b, aux) | dense(6)\n"
	"e = add(d, c) | dense(3)\n"
	"r = d | dense(2)\n"
	"output e r\n"
	"loss cross_entropy(e, y)\nloss mse(r, v)\n";

static qt_net *build(const char *text, qt_dtype dt, int64_t batch,
		     int chunked, qt_pool *pool)
{
	qt_model *m = NULL;
	qt_net *net = NULL;
	qt_net_cfg cfg = {.dtype = dt, .max_batch = batch, .seed = 11,
			  .chunked = chunked,
			  .ctx = {.device = QT_CPU, .pool = pool}};
	int rc = qt_model_parse(&m, "test.net", text);
	if (rc == 0 && (rc = qt_net_build(&net, m, &cfg)) < 0)
		net = NULL;
	if (rc < 0)
		printf("# %s\n", qt_error_message(rc));
	qt_model_free(m);
	return net;
}

static qt_header *header(void)
{
	qt_header *h = qt_header_new();
	qt_header_add_field(h, "img", QT_F32, 3, (int64_t[]){2, 10, 10});
	qt_header_add_field(h, "aux", QT_F32, 1, (int64_t[]){3});
	qt_header_add_field(h, "y", QT_I64, 0, NULL);
	qt_header_add_field(h, "v", QT_F32, 1, (int64_t[]){2});
	return h;
}

static qt_batch *batch(int64_t n)
{
	qt_batch *b = qt_batch_new(4);
	qt_rng rng;
	qt_rng_seed(&rng, 5, 0);
	b->n = n;
	b->t[0] = qt_tensor_new(QT_F32, 4, (int64_t[]){n, 2, 10, 10});
	b->t[1] = qt_tensor_new(QT_F32, 2, (int64_t[]){n, 3});
	b->t[2] = qt_tensor_new(QT_I64, 1, (int64_t[]){n});
	b->t[3] = qt_tensor_new(QT_F32, 2, (int64_t[]){n, 2});
	for (int64_t i = 0; i < n * 200; i++)
		((float *)b->t[0]->data)[i] = (float)qt_rng_normal(&rng);
	for (int64_t i = 0; i < n * 3; i++)
		((float *)b->t[1]->data)[i] = (float)qt_rng_normal(&rng);
	for (int64_t i = 0; i < n; i++)
		((int64_t *)b->t[2]->data)[i] = (int64_t)qt_rng_below(&rng, 3);
	for (int64_t i = 0; i < n * 2; i++)
		((float *)b->t[3]->data)[i] = (float)qt_rng_normal(&rng);
	return b;
}

static int step(qt_net *net, const qt_header *h, const qt_batch *b,
		int64_t n, double *loss)
{
	int rc = qt_net_bind(net, h);
	if (rc == 0)
		rc = qt_net_train_step(net, b, NULL, n, loss);
	return rc;
}

/* Largest |a - b| / (|b| + 1e-6) over every gradient; with exact set,
 * whether every gradient is bit for bit the same. */
static double grad_diff(const qt_net *a, const qt_net *b, int *exact)
{
	double worst = 0;
	*exact = 1;
	for (int i = 0; i < a->nnodes; i++)
		for (int k = 0; k < a->nodes[i].nparams; k++) {
			const qt_tensor *ga = a->nodes[i].params[k].grad;
			const qt_tensor *gb = b->nodes[i].params[k].grad;
			if (!ga)
				continue;
			*exact &= !memcmp(ga->data, gb->data, qt_tensor_nbytes(ga));
			for (int64_t e = 0; e < qt_tensor_numel(ga); e++) {
				double x = qt_tensor_get(ga, e), y = qt_tensor_get(gb, e);
				double d = fabs(x - y) / (fabs(y) + 1e-6);
				worst = d > worst ? d : worst;
			}
		}
	return worst;
}

/* The values a step leaves readable: outputs and loss predictions. */
static double output_diff(const qt_net *a, const qt_net *b)
{
	double worst = 0;
	for (int i = 0; i < a->noutputs; i++) {
		qt_tensor x = qt_net_value(a, a->outputs[i]);
		qt_tensor y = qt_net_value(b, b->outputs[i]);
		for (int64_t e = 0; e < qt_tensor_numel(&x); e++) {
			double d = fabs(qt_tensor_get(&x, e) - qt_tensor_get(&y, e));
			worst = d > worst ? d : worst;
		}
	}
	return worst;
}

/* Chunked against whole, for batch sizes around the chunk size. */
static void test_chunked_equals_whole(void)
{
	static const int64_t sizes[] = {300, 257, 200, 129, 64, 5};
	qt_header *h = header();
	qt_batch *b = batch(300);
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		qt_net *c = build(ROWWISE, QT_F64, 300, 1, NULL);
		qt_net *w = build(ROWWISE, QT_F64, 300, 0, NULL);
		double lc = 0, lw = 0;
		int exact;
		CHECK(c && w);
		if (!c || !w)
			break;
		CHECK(qt_net_chunk_rows(c) > 0 && qt_net_chunk_rows(w) == 0);
		CHECK_OK(step(c, h, b, sizes[s], &lc));
		CHECK_OK(step(w, h, b, sizes[s], &lw));
		double gd = grad_diff(c, w, &exact), od = output_diff(c, w);
		CHECK(fabs(lc - lw) <= 1e-13 * fabs(lw));
		CHECK(gd < 1e-11);
		CHECK(od < 1e-13);
		printf("# n=%lld: loss %.15g vs %.15g, gradients within %.2g, "
		       "outputs within %.2g\n", (long long)sizes[s], lc, lw, gd,
		       od);
		qt_net_free(c);
		qt_net_free(w);
	}
	qt_batch_free(b);
	qt_header_free(h);
}

/* One thread or two: the same bits (float32, as training runs). */
static void test_threads_bit_identical(void)
{
	qt_header *h = header();
	qt_batch *b = batch(300);
	qt_pool *pool = qt_pool_new(2);
	qt_net *one = build(ROWWISE, QT_F32, 300, 1, NULL);
	qt_net *two = build(ROWWISE, QT_F32, 300, 1, pool);
	double l1 = 0, l2 = 0;
	int exact = 0;
	CHECK(one && two && pool);
	if (one && two && pool) {
		CHECK_OK(step(one, h, b, 300, &l1));
		CHECK_OK(step(two, h, b, 300, &l2));
		grad_diff(one, two, &exact);
		CHECK(exact);
		CHECK(l1 == l2);
		CHECK(output_diff(one, two) == 0);
		/* a second step reuses the replicas: same again */
		CHECK_OK(qt_net_train_step(one, b, NULL, 300, &l1));
		CHECK_OK(qt_net_train_step(two, b, NULL, 300, &l2));
		grad_diff(one, two, &exact);
		CHECK(exact && l1 == l2);
	}
	qt_net_free(one);
	qt_net_free(two);
	qt_pool_free(pool);
	qt_batch_free(b);
	qt_header_free(h);
}

/* Weights change between steps: the replicas must see the new ones. */
static void test_replicas_follow_weights(void)
{
	qt_header *h = header();
	qt_batch *b = batch(300);
	qt_net *c = build(ROWWISE, QT_F64, 300, 1, NULL);
	qt_net *w = build(ROWWISE, QT_F64, 300, 0, NULL);
	double lc, lw;
	int exact;
	CHECK(c && w);
	if (c && w) {
		CHECK_OK(step(c, h, b, 300, &lc));
		CHECK_OK(step(w, h, b, 300, &lw));
		for (int i = 0; i < c->nnodes; i++)
			for (int k = 0; k < c->nodes[i].nparams; k++) {
				qt_tensor *pc = c->nodes[i].params[k].value;
				qt_tensor *pw = w->nodes[i].params[k].value;
				for (int64_t e = 0; e < qt_tensor_numel(pc); e++) {
					((double *)pc->data)[e] *= 0.5;
					((double *)pw->data)[e] *= 0.5;
				}
			}
		CHECK_OK(qt_net_train_step(c, b, NULL, 300, &lc));
		CHECK_OK(qt_net_train_step(w, b, NULL, 300, &lw));
		CHECK(fabs(lc - lw) <= 1e-13 * fabs(lw));
		CHECK(grad_diff(c, w, &exact) < 1e-11);
	}
	qt_net_free(c);
	qt_net_free(w);
	qt_batch_free(b);
	qt_header_free(h);
}

/* Rows picked by an index, as the trainer's shuffled order: the same
 * gradients chunked or whole. */
static void test_index(void)
{
	qt_header *h = header();
	qt_batch *b = batch(300);
	qt_net *c = build(ROWWISE, QT_F64, 300, 1, NULL);
	qt_net *w = build(ROWWISE, QT_F64, 300, 0, NULL);
	int64_t idx[250];
	double lc = 0, lw = 0;
	int exact;
	for (int i = 0; i < 250; i++)
		idx[i] = (i * 7919) % 300;
	CHECK(c && w);
	if (c && w) {
		CHECK_OK(qt_net_bind(c, h));
		CHECK_OK(qt_net_bind(w, h));
		CHECK_OK(qt_net_train_step(c, b, idx, 250, &lc));
		CHECK_OK(qt_net_train_step(w, b, idx, 250, &lw));
		CHECK(fabs(lc - lw) <= 1e-13 * fabs(lw));
		CHECK(grad_diff(c, w, &exact) < 1e-11);
		CHECK(output_diff(c, w) < 1e-13);
	}
	qt_net_free(c);
	qt_net_free(w);
	qt_batch_free(b);
	qt_header_free(h);
}

/* A bad row in a later chunk: the error of the whole batch's load. */
static void test_bad_rows(void)
{
	qt_header *h = header();
	qt_batch *b = batch(300);
	qt_net *c = build(ROWWISE, QT_F32, 300, 1, NULL);
	qt_net *w = build(ROWWISE, QT_F32, 300, 0, NULL);
	char want[256];
	int rc;
	CHECK(c && w);
	if (c && w) {
		/* rows 250 (chunk 3) and 270 (chunk 4, the first replica's) */
		((float *)b->t[0]->data)[250 * 200 + 17] = NAN;
		((float *)b->t[0]->data)[270 * 200 + 3] = INFINITY;
		rc = step(w, h, b, 300, NULL);
		CHECK(rc == QT_ENUMERIC);
		snprintf(want, sizeof want, "%s", qt_error_message(rc));
		rc = step(c, h, b, 300, NULL);
		CHECK(rc == QT_ENUMERIC);
		CHECK(!strcmp(qt_error_message(rc), want));
		((float *)b->t[0]->data)[250 * 200 + 17] = 0;
		((float *)b->t[0]->data)[270 * 200 + 3] = 0;
		((int64_t *)b->t[2]->data)[299] = 3; /* 3 classes: 0..2 */
		rc = step(c, h, b, 300, NULL);
		CHECK(rc == QT_EFORMAT);
		CHECK(strstr(qt_error_message(rc), "outside") != NULL);
	}
	qt_net_free(c);
	qt_net_free(w);
	qt_batch_free(b);
	qt_header_free(h);
}

/* Layers or losses that couple rows keep the whole batch together. */
static void test_not_chunked(void)
{
	static const char *const texts[] = {
		"input x [8]\ntarget y\nz = x | dense(8) | batchnorm | dense(3)\n"
		"loss cross_entropy(z, y)\n",
		"input x [8]\ntarget y\nz = x | dense(8) | dropout(0.5) | dense(3)\n"
		"loss cross_entropy(z, y)\n",
		"input x [8]\ntarget y\nz = x | dense(3)\n"
		"loss cross_entropy(z, y, weight=[1, 2, 3])\n",
	};
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
		qt_net *net = build(texts[i], QT_F32, 1000, 1, NULL);
		CHECK(net && qt_net_chunk_rows(net) == 0);
		qt_net_free(net);
	}
	/* the same row-wise network chunks only when asked, and only for
	 * batches of at least two chunks */
	qt_net *small = build(ROWWISE, QT_F32, 100, 1, NULL);
	CHECK(small && qt_net_chunk_rows(small) == 0);
	qt_net_free(small);
}

int main(void)
{
	RUN(test_chunked_equals_whole);
	RUN(test_threads_bit_identical);
	RUN(test_replicas_follow_weights);
	RUN(test_index);
	RUN(test_bad_rows);
	RUN(test_not_chunked);
	return test_done();
}
