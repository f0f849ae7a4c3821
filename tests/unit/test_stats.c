/* test_stats.c: the streaming statistics of common/stats.h against
 * two-pass results in long double: moments on badly conditioned data,
 * NaN/Inf counting, merging of partial results in any grouping, every
 * dtype, histograms, and per-field summaries of ragged and index fields. */
#include "common/error.h"
#include "common/rng.h"
#include "common/stats.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* Reference: two passes in long double over the finite values. */
struct ref {
	int64_t n, nan, posinf, neginf;
	double mean, var, min, max;
};

static struct ref two_pass(const double *x, int64_t n)
{
	struct ref r = {0};
	long double sum = 0, ss = 0, mean;
	r.min = INFINITY;
	r.max = -INFINITY;
	for (int64_t i = 0; i < n; i++) {
		if (isnan(x[i]))
			r.nan++;
		else if (isinf(x[i]))
			x[i] > 0 ? r.posinf++ : r.neginf++;
		else {
			r.n++;
			sum += x[i];
			r.min = fmin(r.min, x[i]);
			r.max = fmax(r.max, x[i]);
		}
	}
	mean = r.n ? sum / r.n : 0;
	for (int64_t i = 0; i < n; i++)
		if (isfinite(x[i]))
			ss += (x[i] - mean) * (x[i] - mean);
	r.mean = (double)mean;
	r.var = r.n ? (double)(ss / r.n) : NAN;
	return r;
}

static void check_against(const qt_stats *s, const struct ref *r, double rtol)
{
	double got[2] = {s->mean, qt_stats_var(s, 0)};
	double want[2] = {r->mean, r->var};
	CHECK(s->n == r->n);
	CHECK(s->nan == r->nan && s->posinf == r->posinf &&
	      s->neginf == r->neginf);
	CHECK(s->min == r->min && s->max == r->max);
	CHECK_CLOSE(got, want, 2, 1e-300, rtol);
}

static double *random_values(qt_rng *g, int64_t n, double offset,
			     double scale)
{
	double *x = malloc((size_t)n * sizeof *x);
	for (int64_t i = 0; i < n; i++)
		x[i] = offset + scale * qt_rng_normal(g);
	return x;
}

/* Mean 1e9, spread 1 (condition number 1e18): a naive sum of squares
 * loses every digit here; the blocked two-pass + Chan update keeps eight.
 * A spread-to-mean ratio of 1e-3 keeps twelve. */
static void test_moments_ill_conditioned(void)
{
	qt_rng g;
	const int64_t n = 1000003;
	qt_rng_seed(&g, 1, 0);
	double *x = random_values(&g, n, 1e9, 1.0);
	qt_stats s;
	qt_stats_init(&s);
	qt_stats_add(&s, QT_F64, x, n);
	struct ref r = two_pass(x, n);
	check_against(&s, &r, 1e-8);
	CHECK(fabs(qt_stats_std(&s, 0) - 1.0) < 0.01);
	free(x);
	x = random_values(&g, n, 1e3, 1.0);
	qt_stats_init(&s);
	qt_stats_add(&s, QT_F64, x, n);
	r = two_pass(x, n);
	check_against(&s, &r, 1e-12);
	/* ddof = 1 is the sample variance */
	CHECK(fabs(qt_stats_var(&s, 1) * (double)(n - 1) -
		   qt_stats_var(&s, 0) * (double)n) < 1e-6 * (double)n);
	free(x);
}

static void test_nan_inf_counted_apart(void)
{
	double x[] = {1, NAN, 2, INFINITY, 3, -INFINITY, NAN, 4, -INFINITY};
	qt_stats s;
	qt_stats_init(&s);
	qt_stats_add(&s, QT_F64, x, 9);
	struct ref r = two_pass(x, 9);
	check_against(&s, &r, 1e-15);
	CHECK(s.n == 4 && s.nan == 2 && s.posinf == 1 && s.neginf == 2);
	CHECK(s.mean == 2.5 && s.min == 1 && s.max == 4);
	CHECK(qt_stats_total(&s) == 9);
	/* only non-finite values: no moments, NaN variance */
	double y[] = {NAN, INFINITY};
	qt_stats_init(&s);
	qt_stats_add(&s, QT_F64, y, 2);
	CHECK(s.n == 0 && s.nan == 1 && s.posinf == 1);
	CHECK(isnan(qt_stats_var(&s, 0)) && s.min == INFINITY);
	/* float32 NaN/Inf too */
	float f[] = {NAN, 1.5f, INFINITY, -2.5f};
	qt_stats_init(&s);
	qt_stats_add(&s, QT_F32, f, 4);
	CHECK(s.n == 2 && s.nan == 1 && s.posinf == 1 && s.mean == -0.5);
}

/* Partial results over random cuts, merged left to right and as a tree,
 * equal the one-pass result. */
static void test_merge_partials(void)
{
	qt_rng g;
	const int64_t n = 50000;
	qt_rng_seed(&g, 2, 0);
	double *x = random_values(&g, n, -3e5, 7.0);
	for (int k = 0; k < 40; k++) /* sprinkle non-finite values */
		x[qt_rng_below(&g, n)] = k % 3 == 0 ? NAN :
					 k % 3 == 1 ? INFINITY : -INFINITY;
	struct ref r = two_pass(x, n);
	for (int trial = 0; trial < 20; trial++) {
		qt_stats part[16], left, tree[16];
		int64_t cut[17];
		int np = 1 + (int)qt_rng_below(&g, 16);
		cut[0] = 0;
		cut[np] = n;
		for (int p = 1; p < np; p++) /* sorted random cut points */
			cut[p] = (int64_t)qt_rng_below(&g, (uint64_t)n + 1);
		for (int p = 1; p < np; p++)
			for (int q = p; q > 1 && cut[q - 1] > cut[q]; q--) {
				int64_t t = cut[q];
				cut[q] = cut[q - 1];
				cut[q - 1] = t;
			}
		qt_stats_init(&left);
		for (int p = 0; p < np; p++) {
			qt_stats_init(&part[p]);
			qt_stats_add(&part[p], QT_F64, x + cut[p], cut[p + 1] - cut[p]);
			qt_stats_merge(&left, &part[p]);
			tree[p] = part[p];
		}
		check_against(&left, &r, 1e-11);
		for (int w = 1; w < np; w *= 2) /* pairwise tree */
			for (int p = 0; p + w < np; p += 2 * w)
				qt_stats_merge(&tree[p], &tree[p + w]);
		check_against(&tree[0], &r, 1e-11);
	}
	/* merging an empty result changes nothing */
	qt_stats a, e;
	qt_stats_init(&a);
	qt_stats_init(&e);
	qt_stats_add(&a, QT_F64, x, 1000);
	qt_stats b = a;
	qt_stats_merge(&a, &e);
	CHECK(!memcmp(&a, &b, sizeof a));
	qt_stats_merge(&e, &b);
	CHECK(e.n == b.n && e.mean == b.mean && e.m2 == b.m2);
	free(x);
}

/* Every dtype reads its values as the double two-pass reference does. */
static void test_every_dtype(void)
{
	static const int64_t n = 3001;
	qt_rng g;
	qt_rng_seed(&g, 3, 0);
	for (int dt = 0; dt < QT_NDTYPES; dt++) {
		qt_tensor *t = qt_tensor_new((qt_dtype)dt, 1, &n);
		double *x = malloc((size_t)n * sizeof *x);
		unsigned char *p = t->data;
		for (size_t i = 0; i < qt_tensor_nbytes(t); i++)
			p[i] = (unsigned char)qt_rng_u32(&g);
		if (dt == QT_BOOL)
			for (int64_t i = 0; i < n; i++)
				p[i] &= 1;
		if (dt == QT_F32)
			for (int64_t i = 0; i < n; i++)
				((float *)p)[i] = (float)qt_rng_normal(&g);
		if (dt == QT_F64)
			for (int64_t i = 0; i < n; i++)
				((double *)p)[i] = qt_rng_normal(&g);
		for (int64_t i = 0; i < n; i++)
			x[i] = qt_tensor_get(t, i);
		qt_stats s;
		qt_stats_init(&s);
		qt_stats_add(&s, (qt_dtype)dt, t->data, n);
		struct ref r = two_pass(x, n);
		check_against(&s, &r, 1e-12);
		if (test_cur_failed)
			printf("# dtype %s\n", qt_dtype_name((qt_dtype)dt));
		free(x);
		qt_tensor_free(t);
	}
}

static void test_tallies(void)
{
	qt_tally h;
	CHECK_OK(qt_tally_init(&h, 3));
	double v[] = {0, 1, 1, 2, 2, 2, 3, -1, 0.5, NAN};
	for (int i = 0; i < 10; i++)
		qt_tally_add(&h, v[i]);
	CHECK(h.counts[0] == 1 && h.counts[1] == 2 && h.counts[2] == 3);
	CHECK(h.other == 4);
	qt_tally_free(&h);

	CHECK_OK(qt_tally_init(&h, 0));
	double w[] = {5, -1, 5, 5, 2, -1};
	for (int i = 0; i < 6; i++)
		qt_tally_add(&h, w[i]);
	qt_tally_sort(&h);
	CHECK(h.nvalues == 3 && !h.overflow);
	CHECK(h.values[0] == -1 && h.vcounts[0] == 2);
	CHECK(h.values[1] == 2 && h.vcounts[1] == 1);
	CHECK(h.values[2] == 5 && h.vcounts[2] == 3);
	for (int i = 0; i < QT_TALLY_MAX_VALUES; i++)
		qt_tally_add(&h, 100 + i);
	CHECK(h.overflow);
	qt_tally_free(&h);
}

/* Two graphs of 3 and 2 nodes; edges stored batch-global. */
static void test_field_stats_ragged(void)
{
	qt_header *hd = qt_header_new();
	qt_header_add_field(hd, "nodes", QT_F32, 2, (int64_t[]){-1, 2});
	qt_header_add_field(hd, "edges", QT_I64, 2, (int64_t[]){-1, 2});
	qt_header_add_field(hd, "label", QT_I64, 0, NULL);
	qt_header_add_field(hd, "onehot", QT_F32, 1, (int64_t[]){3});
	qt_header_set_index_of(hd, 1, "nodes");
	const char *cls[] = {"a", "b", "c"};
	qt_header_set_classes(hd, 2, 3, cls);
	qt_header_set_classes(hd, 3, 3, cls);
	CHECK_OK(qt_header_validate(hd));

	qt_batch *b = qt_batch_new(4);
	b->n = 2;
	b->t[0] = qt_tensor_new(QT_F32, 2, (int64_t[]){5, 2});
	for (int i = 0; i < 10; i++)
		((float *)b->t[0]->data)[i] = (float)i;
	b->ptr[0] = qt_tensor_new(QT_I64, 1, (int64_t[]){3});
	memcpy(b->ptr[0]->data, (int64_t[]){0, 3, 5}, 3 * sizeof(int64_t));
	b->t[1] = qt_tensor_new(QT_I64, 2, (int64_t[]){3, 2});
	memcpy(b->t[1]->data, (int64_t[]){0, 1, 1, 2, 3, 4}, 6 * sizeof(int64_t));
	b->ptr[1] = qt_tensor_new(QT_I64, 1, (int64_t[]){3});
	memcpy(b->ptr[1]->data, (int64_t[]){0, 2, 3}, 3 * sizeof(int64_t));
	b->t[2] = qt_tensor_new(QT_I64, 1, (int64_t[]){2});
	memcpy(b->t[2]->data, (int64_t[]){2, 7}, 2 * sizeof(int64_t));
	b->t[3] = qt_tensor_new(QT_F32, 2, (int64_t[]){2, 3});
	memcpy(b->t[3]->data, (float[]){0, 0, 1, 0.2f, 0.7f, 0.1f},
	       6 * sizeof(float));
	CHECK_OK(qt_batch_validate(hd, b));

	qt_field_stats fs[4];
	for (int f = 0; f < 4; f++) {
		CHECK_OK(qt_field_stats_init(&fs[f], &hd->fields[f]));
		qt_field_stats_add(&fs[f], hd, f, b);
		qt_field_stats_add(&fs[f], hd, f, b); /* the batch twice */
	}
	CHECK(fs[0].rows == 10 && fs[0].min_rows == 2 && fs[0].max_rows == 3);
	CHECK(fs[0].st.n == 20 && fs[0].st.mean == 4.5 && fs[0].st.max == 9);
	/* edges relative to their graph: 0 1 1 2 | 0 1 -> max 2, mean 5/6 */
	CHECK(fs[1].st.n == 12 && fs[1].st.max == 2 && fs[1].st.min == 0);
	CHECK(fabs(fs[1].st.mean - 5.0 / 6.0) < 1e-15);
	CHECK(fs[1].tally_mode == QT_TALLY_NONE);
	/* labels: class 2 twice, 7 is no class */
	CHECK(fs[2].tally_mode == QT_TALLY_ELEMENTS);
	CHECK(fs[2].tally.counts[2] == 2 && fs[2].tally.other == 2);
	/* one-hot rows: argmax 2 and 1 */
	CHECK(fs[3].tally_mode == QT_TALLY_LABELS);
	CHECK(fs[3].tally.counts[0] == 0 && fs[3].tally.counts[1] == 2 &&
	      fs[3].tally.counts[2] == 2);
	for (int f = 0; f < 4; f++)
		qt_field_stats_free(&fs[f]);
	qt_batch_free(b);
	qt_header_free(hd);
}

int main(void)
{
	RUN(test_moments_ill_conditioned);
	RUN(test_nan_inf_counted_apart);
	RUN(test_merge_partials);
	RUN(test_every_dtype);
	RUN(test_tallies);
	RUN(test_field_stats_ragged);
	return test_done();
}
