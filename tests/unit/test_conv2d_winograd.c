/* test_conv2d_winograd.c: the Winograd F(4x4, 3x3) path of the 3x3
 * stride-1 convolutions (kernels/conv2d_winograd.c) against conv2d's
 * direct path (im2col + GEMM or small-channel, tested against PyTorch by
 * test_conv2d), each forced with qt_conv2d_*_path (kernels/cpu.h).
 *
 * Shapes: odd and even sizes, paddings 0, 1, 2, 3 and uneven ones (the
 * dx convolution then pads by 2 - pad, down to -1), outputs not a
 * multiple of the 4x4 tile, batches of 1 to 7, channel counts that are
 * not multiples of the vector width, blocks of tile rows that run over
 * from one sample to the next, dw by slots (small filters) and by
 * several rounds (float64 filters over 1 MiB transformed: the last two
 * shapes; float32: the last one).
 *
 * Checked: float64 forward y (with bias), dx (overwritten: it starts as
 * NaN), dw and db (accumulated onto random values) to 1e-12 of the
 * tensor's largest magnitude; float32 against the float64 direct result
 * to F32_TOL of it (the measured errors are printed, with those of the
 * direct path in float32 for comparison); each gradient alone (the
 * others NULL); pools of 1, 2 and 3 threads giving the same bits; the
 * automatic choice of the path; and float32 on the eor regressor's
 * layer shapes (models/eor.net at 200x200, one sample), whose errors
 * docs/KERNELS.md quotes.  Workspaces are allocated with exactly the
 * bytes qt_conv2d_workspace_path reports, so that the sanitizer build
 * catches any overrun. */
#include "kernels/cpu.h"
#include "common/threadpool.h"
#include "tests/unit/test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* float32 Winograd against the float64 direct result, relative to the
 * tensor's largest magnitude: measured up to 5.2e-6 (dx of 256 -> 256
 * channels; the direct path in float32: 8.9e-7) */
#define F32_TOL 2e-5
#define F64_TOL 1e-12

static uint64_t rng = 0x9E3779B97F4A7C15ull;

/* uniform in [-1, 1) */
static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 4503599627370496.0 - 1.0;
}

struct shape {
	int64_t n, cin, cout, h, w;
	int pt, pl, pb, pr;
};

static const struct shape shapes[] = {
	{1, 1, 1, 4, 4, 1, 1, 1, 1},      /* one tile, one channel */
	{2, 3, 5, 7, 9, 1, 1, 1, 1},      /* odd sizes, partial tiles */
	{3, 16, 16, 8, 8, 1, 1, 1, 1},    /* even, tiles divide */
	{2, 17, 19, 13, 11, 0, 0, 0, 0},  /* valid */
	{5, 5, 7, 6, 6, 3, 0, 0, 3},      /* pads over 2: dx pads -1 */
	{1, 33, 20, 33, 31, 2, 0, 1, 2},  /* uneven padding */
	{7, 9, 11, 5, 5, 1, 1, 1, 1},     /* blocks over several samples */
	{3, 20, 24, 1, 17, 1, 1, 1, 1},   /* one row */
	{2, 12, 13, 70, 70, 1, 1, 1, 1},  /* several blocks per sample */
	{6, 8, 6, 66, 62, 1, 1, 1, 1},    /* several blocks per slot */
	{2, 64, 72, 40, 38, 1, 1, 1, 1},  /* float64 dw by rounds, 3 */
	{2, 96, 80, 40, 38, 1, 1, 1, 1},  /* float32 dw by rounds, 2 */
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

static qt_conv2d_geom geom(const struct shape *s)
{
	return (qt_conv2d_geom){
		.n = s->n, .cin = s->cin, .h = s->h, .w = s->w,
		.cout = s->cout, .kh = 3, .kw = 3,
		.oh = s->h + s->pt + s->pb - 2, .ow = s->w + s->pl + s->pr - 2,
		.sh = 1, .sw = 1, .pt = s->pt, .pl = s->pl};
}

/* A convolution's tensors in float64 (inputs random, outputs NaN, the
 * accumulated gradients random) and their float32 copies. */
struct conv {
	qt_conv2d_geom g;
	size_t nx, ny, nw, nb;
	double *x, *w, *b, *dy, *y, *dx, *dw, *db;
	float *xf, *wf, *bf, *dyf, *yf, *dxf, *dwf, *dbf;
};

static double *new_d(size_t n, int random)
{
	double *p = malloc((n ? n : 1) * sizeof *p);
	for (size_t i = 0; p && i < n; i++)
		p[i] = random ? urand() : NAN;
	return p;
}

static float *new_f(const double *src, size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	for (size_t i = 0; p && i < n; i++)
		p[i] = (float)src[i];
	return p;
}

static void conv_init(struct conv *c, const qt_conv2d_geom *g)
{
	c->g = *g;
	c->nx = (size_t)(g->n * g->cin * g->h * g->w);
	c->ny = (size_t)(g->n * g->cout * g->oh * g->ow);
	c->nw = (size_t)(g->cout * g->cin * g->kh * g->kw);
	c->nb = (size_t)g->cout;
	c->x = new_d(c->nx, 1), c->w = new_d(c->nw, 1), c->b = new_d(c->nb, 1);
	c->dy = new_d(c->ny, 1), c->y = new_d(c->ny, 0), c->dx = new_d(c->nx, 0);
	c->dw = new_d(c->nw, 1), c->db = new_d(c->nb, 1);
	c->xf = new_f(c->x, c->nx), c->wf = new_f(c->w, c->nw);
	c->bf = new_f(c->b, c->nb), c->dyf = new_f(c->dy, c->ny);
	c->yf = new_f(c->y, c->ny), c->dxf = new_f(c->dx, c->nx);
	c->dwf = new_f(c->dw, c->nw), c->dbf = new_f(c->db, c->nb);
}

/* Another set of outputs with the same starting values. */
static void conv_copy_outputs(struct conv *d, const struct conv *c)
{
	*d = *c;
	d->y = new_d(c->ny, 0), d->dx = new_d(c->nx, 0);
	d->dw = malloc(c->nw * sizeof *d->dw), d->db = malloc(c->nb * sizeof *d->db);
	memcpy(d->dw, c->dw, c->nw * sizeof *d->dw);
	memcpy(d->db, c->db, c->nb * sizeof *d->db);
	d->yf = new_f(d->y, c->ny), d->dxf = new_f(d->dx, c->nx);
	d->dwf = new_f(d->dw, c->nw), d->dbf = new_f(d->db, c->nb);
}

static void conv_free_outputs(struct conv *c)
{
	free(c->y), free(c->dx), free(c->dw), free(c->db);
	free(c->yf), free(c->dxf), free(c->dwf), free(c->dbf);
}

static void conv_free(struct conv *c)
{
	conv_free_outputs(c);
	free(c->x), free(c->w), free(c->b), free(c->dy);
	free(c->xf), free(c->wf), free(c->bf), free(c->dyf);
}

/* Forward and backward of one path and dtype, with a workspace of
 * exactly the reported size. */
static void run(struct conv *c, int f32, qt_conv2d_path path, int threads)
{
	qt_pool *pool = qt_pool_new(threads);
	size_t bytes = qt_conv2d_workspace_path(&c->g, threads,
						f32 ? sizeof(float) : sizeof(double),
						path);
	void *work = malloc(bytes ? bytes : 1);
	CHECK(pool && work);
	if (f32) {
		qt_conv2d_forward_path_f32(c->yf, c->xf, c->wf, c->bf, &c->g,
					   work, pool, path);
		qt_conv2d_backward_path_f32(c->dxf, c->dwf, c->dbf, c->dyf,
					    c->xf, c->wf, &c->g, work, pool,
					    path);
	} else {
		qt_conv2d_forward_path_f64(c->y, c->x, c->w, c->b, &c->g, work,
					   pool, path);
		qt_conv2d_backward_path_f64(c->dx, c->dw, c->db, c->dy, c->x,
					    c->w, &c->g, work, pool, path);
	}
	free(work);
	qt_pool_free(pool);
}

static double max_abs(const double *v, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fabs(v[i]) > m ? fabs(v[i]) : m;
	return m;
}

/* got vs want to tol of want's largest magnitude (absolute) and tol
 * relative; returns the error relative to that magnitude. */
static double check_d(const char *what, int k, const double *got,
		      const double *want, size_t n, double tol)
{
	double scale = max_abs(want, n), worst = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs(got[i] - want[i]);
		worst = d > worst || d != d ? d : worst;
	}
	if (!CHECK_CLOSE(got, want, n, tol * (scale > 0 ? scale : 1), tol))
		printf("#   %s, shape %d\n", what, k);
	return scale > 0 ? worst / scale : worst;
}

static double check_f(const char *what, int k, const float *got,
		      const double *want, size_t n, double tol)
{
	double *g = malloc((n ? n : 1) * sizeof *g);
	for (size_t i = 0; i < n; i++)
		g[i] = got[i];
	double r = check_d(what, k, g, want, n, tol);
	free(g);
	return r;
}

/* Float64: Winograd against the direct path. */
static void test_f64(void)
{
	for (int k = 0; k < NSHAPES; k++) {
		qt_conv2d_geom g = geom(&shapes[k]);
		struct conv ref, win;
		conv_init(&ref, &g);
		conv_copy_outputs(&win, &ref);
		run(&ref, 0, QT_CONV2D_DIRECT, 2);
		run(&win, 0, QT_CONV2D_WINOGRAD, 2);
		check_d("f64 y", k, win.y, ref.y, ref.ny, F64_TOL);
		check_d("f64 dx", k, win.dx, ref.dx, ref.nx, F64_TOL);
		check_d("f64 dw", k, win.dw, ref.dw, ref.nw, F64_TOL);
		check_d("f64 db", k, win.db, ref.db, ref.nb, F64_TOL);
		conv_free_outputs(&win);
		conv_free(&ref);
	}
}

/* Float32 Winograd and float32 direct against the float64 direct path. */
static void test_f32(void)
{
	double worst[2][4] = {{0}};
	for (int k = 0; k < NSHAPES; k++) {
		qt_conv2d_geom g = geom(&shapes[k]);
		struct conv ref, win, dir;
		conv_init(&ref, &g);
		conv_copy_outputs(&win, &ref);
		conv_copy_outputs(&dir, &ref);
		run(&ref, 0, QT_CONV2D_DIRECT, 1);
		run(&win, 1, QT_CONV2D_WINOGRAD, 1);
		run(&dir, 1, QT_CONV2D_DIRECT, 1);
		for (int p = 0; p < 2; p++) {
			const struct conv *c = p ? &dir : &win;
			double e[4] = {
				check_f("f32 y", k, c->yf, ref.y, ref.ny, F32_TOL),
				check_f("f32 dx", k, c->dxf, ref.dx, ref.nx, F32_TOL),
				check_f("f32 dw", k, c->dwf, ref.dw, ref.nw, F32_TOL),
				check_f("f32 db", k, c->dbf, ref.db, ref.nb, F32_TOL),
			};
			for (int i = 0; i < 4; i++)
				worst[p][i] = e[i] > worst[p][i] ? e[i] : worst[p][i];
		}
		conv_free_outputs(&win);
		conv_free_outputs(&dir);
		conv_free(&ref);
	}
	for (int p = 0; p < 2; p++)
		printf("# float32 %s: largest error / max |value|: y %.2g, dx "
		       "%.2g, dw %.2g, db %.2g\n", p ? "direct" : "Winograd",
		       worst[p][0], worst[p][1], worst[p][2], worst[p][3]);
}

/* Each gradient alone (the others NULL, and left as they were). */
static void null_grads(const struct shape *sh)
{
	qt_conv2d_geom g = geom(sh);
	struct conv base, ref;
	conv_init(&base, &g);
	conv_copy_outputs(&ref, &base);
	run(&ref, 0, QT_CONV2D_DIRECT, 1);
	size_t bytes = qt_conv2d_workspace_path(&g, 1, sizeof(double),
						QT_CONV2D_WINOGRAD);
	void *work = malloc(bytes);
	for (int mask = 0; mask < 8; mask++) {
		struct conv c;
		conv_copy_outputs(&c, &base);
		qt_conv2d_backward_path_f64(mask & 1 ? c.dx : NULL,
					    mask & 2 ? c.dw : NULL,
					    mask & 4 ? c.db : NULL, c.dy, c.x,
					    c.w, &g, work, NULL,
					    QT_CONV2D_WINOGRAD);
		if (mask & 1)
			check_d("dx alone", mask, c.dx, ref.dx, ref.nx, F64_TOL);
		else
			CHECK(isnan(c.dx[0]) && isnan(c.dx[ref.nx - 1]));
		if (mask & 2)
			check_d("dw alone", mask, c.dw, ref.dw, ref.nw, F64_TOL);
		else
			CHECK(!memcmp(c.dw, base.dw, ref.nw * sizeof(double)));
		if (mask & 4)
			check_d("db alone", mask, c.db, ref.db, ref.nb, F64_TOL);
		else
			CHECK(!memcmp(c.db, base.db, ref.nb * sizeof(double)));
		conv_free_outputs(&c);
	}
	free(work);
	conv_free_outputs(&ref);
	conv_free(&base);
}

/* With dw by slots (float64 filters up to 1 MiB) and by rounds. */
static void test_null_grads(void)
{
	null_grads(&shapes[5]);
	null_grads(&shapes[NSHAPES - 1]);
}

/* Pools of 1, 2 and 3 threads give the same bits. */
static void test_threads(void)
{
	for (int f32 = 0; f32 < 2; f32++)
	for (int k = 0; k < NSHAPES; k++) {
		qt_conv2d_geom g = geom(&shapes[k]);
		struct conv c[3];
		conv_init(&c[0], &g);
		conv_copy_outputs(&c[1], &c[0]);
		conv_copy_outputs(&c[2], &c[0]);
		for (int t = 0; t < 3; t++)
			run(&c[t], f32, QT_CONV2D_WINOGRAD, t + 1);
		for (int t = 1; t < 3; t++) {
			int same = f32 ?
				!memcmp(c[t].yf, c[0].yf, c[0].ny * sizeof(float)) &&
				!memcmp(c[t].dxf, c[0].dxf, c[0].nx * sizeof(float)) &&
				!memcmp(c[t].dwf, c[0].dwf, c[0].nw * sizeof(float)) &&
				!memcmp(c[t].dbf, c[0].dbf, c[0].nb * sizeof(float)) :
				!memcmp(c[t].y, c[0].y, c[0].ny * sizeof(double)) &&
				!memcmp(c[t].dx, c[0].dx, c[0].nx * sizeof(double)) &&
				!memcmp(c[t].dw, c[0].dw, c[0].nw * sizeof(double)) &&
				!memcmp(c[t].db, c[0].db, c[0].nb * sizeof(double));
			if (!same) {
				printf("# %s shape %d: %d threads differ from 1\n",
				       f32 ? "f32" : "f64", k, t + 1);
				test_cur_failed = 1;
			}
		}
		conv_free_outputs(&c[1]);
		conv_free_outputs(&c[2]);
		conv_free(&c[0]);
	}
}

/* QT_CONV2D_AUTO (conv2d.c's conv_wino): Winograd for 3x3 stride 1 with
 * outputs of 36 pixels or more, off the small-channel path, with 16 input
 * channels or more, or 4 or more and at most 4 times as many outputs,
 * and rows of tiles whose transforms take at most 8 MiB; the direct path
 * otherwise, and for forced Winograd where it does not apply. */
static void test_auto(void)
{
	static const struct {
		qt_conv2d_geom g;
		qt_conv2d_path same_as;
	} cases[] = {
		{{2, 16, 24, 24, 40, 3, 3, 24, 24, 1, 1, 1, 1}, QT_CONV2D_WINOGRAD},
		{{2, 8, 64, 64, 32, 3, 3, 64, 64, 1, 1, 1, 1}, QT_CONV2D_WINOGRAD},
		{{2, 32, 6, 7, 64, 3, 3, 6, 6, 1, 1, 1, 0}, QT_CONV2D_WINOGRAD},
		{{2, 8, 64, 64, 40, 3, 3, 64, 64, 1, 1, 1, 1}, QT_CONV2D_DIRECT},
		{{2, 1, 40, 40, 32, 3, 3, 40, 40, 1, 1, 1, 1}, QT_CONV2D_DIRECT},
		{{2, 64, 4, 4, 64, 3, 3, 4, 4, 1, 1, 1, 1}, QT_CONV2D_DIRECT},
		{{2, 16, 10, 10, 16, 3, 3, 10, 10, 1, 1, 1, 1}, QT_CONV2D_DIRECT},
		{{1, 64, 4, 6000, 64, 3, 3, 4, 6000, 1, 1, 1, 1}, QT_CONV2D_DIRECT},
		{{2, 16, 10, 10, 16, 5, 5, 10, 10, 1, 1, 2, 2}, QT_CONV2D_DIRECT},
		{{2, 16, 11, 11, 16, 3, 3, 6, 6, 2, 2, 1, 1}, QT_CONV2D_DIRECT},
	};
	for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
		const qt_conv2d_geom *g = &cases[k].g;
		struct conv a, b, c;
		conv_init(&a, g);
		conv_copy_outputs(&b, &a);
		conv_copy_outputs(&c, &a);
		run(&a, 1, QT_CONV2D_AUTO, 2);
		run(&b, 1, cases[k].same_as, 2);
		/* forced Winograd falls back where it does not apply */
		run(&c, 1, QT_CONV2D_WINOGRAD, 2);
		CHECK(!memcmp(a.yf, b.yf, a.ny * sizeof(float)));
		CHECK(!memcmp(a.dxf, b.dxf, a.nx * sizeof(float)));
		CHECK(!memcmp(a.dwf, b.dwf, a.nw * sizeof(float)));
		CHECK(qt_conv2d_workspace_cpu(g, 2, sizeof(float)) ==
		      qt_conv2d_workspace_path(g, 2, sizeof(float),
					       cases[k].same_as));
		if (g->kh != 3 || g->sh != 1)
			CHECK(!memcmp(c.yf, b.yf, a.ny * sizeof(float)));
		if (test_cur_failed)
			printf("#   case %d\n", k);
		conv_free_outputs(&b);
		conv_free_outputs(&c);
		conv_free(&a);
	}
}

/* Float32 on the eor regressor's convolutions (one 200x200 map): the
 * errors docs/KERNELS.md quotes. */
static void test_eor_layers(void)
{
	static const int64_t layers[][3] = {
		{32, 32, 200}, {32, 64, 100}, {64, 64, 100}, {64, 128, 50},
		{128, 128, 50}, {128, 256, 25}, {256, 256, 25},
	};
	for (int k = 0; k < (int)(sizeof layers / sizeof layers[0]); k++) {
		int64_t s = layers[k][2];
		qt_conv2d_geom g = {1, layers[k][0], s, s, layers[k][1], 3, 3,
				    s, s, 1, 1, 1, 1};
		struct conv ref, win, dir;
		double e[2][3];
		conv_init(&ref, &g);
		conv_copy_outputs(&win, &ref);
		conv_copy_outputs(&dir, &ref);
		run(&ref, 0, QT_CONV2D_DIRECT, 2);
		run(&win, 1, QT_CONV2D_WINOGRAD, 2);
		run(&dir, 1, QT_CONV2D_DIRECT, 2);
		for (int p = 0; p < 2; p++) {
			const struct conv *c = p ? &dir : &win;
			e[p][0] = check_f("eor y", k, c->yf, ref.y, ref.ny, F32_TOL);
			e[p][1] = check_f("eor dx", k, c->dxf, ref.dx, ref.nx, F32_TOL);
			e[p][2] = check_f("eor dw", k, c->dwf, ref.dw, ref.nw, F32_TOL);
		}
		printf("# %3lld -> %3lld at %3lldx%-3lld float32 error / max: "
		       "Winograd y %.2g dx %.2g dw %.2g; direct y %.2g dx %.2g "
		       "dw %.2g\n", (long long)g.cin, (long long)g.cout,
		       (long long)s, (long long)s, e[0][0], e[0][1], e[0][2],
		       e[1][0], e[1][1], e[1][2]);
		conv_free_outputs(&win);
		conv_free_outputs(&dir);
		conv_free(&ref);
	}
}

int main(void)
{
	RUN(test_f64);
	RUN(test_f32);
	RUN(test_null_grads);
	RUN(test_threads);
	RUN(test_auto);
	RUN(test_eor_layers);
	return test_done();
}
