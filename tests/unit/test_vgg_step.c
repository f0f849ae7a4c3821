/* test_vgg_step.c: whole training steps of the VGG regressor of
 * models/eor.net (size=16: 16x16 maps, 4.3M parameters) through nn/
 * against PyTorch: 'same' 3x3 convolutions without bias, BatchNorm2d and
 * BatchNorm1d (momentum 0.1, eps 1e-3) in training and evaluation, max
 * pooling, dense layers, MSE against a per-sample scalar, Adam (lr 0.01).
 * tests/reference/make_fixtures_vgg.py wrote tests/reference/vgg_step.h5.
 *
 * The initial parameters are a formula both sides evaluate to the same
 * bits: trainable parameter p (qt_net_each_param order, buffers skipped),
 * element i, s = uniform(p, i) in [-1, 1) from splitmix64: weights and
 * the last bias s / sqrt(fan_in), batch norm weight 1 + 0.1 s and bias
 * 0.1 s.  One batch of 4 maps, 3 Adam steps on it in training mode, then
 * the output in evaluation mode (batch norm from the running statistics).
 * The float64 run is repeated on a pool of 3 threads (the kernels'
 * threaded paths).
 *
 * Compared: the loss of each step; for every trainable parameter its
 * initial values (the formula and the order), its gradient of step 1 and
 * its values after steps 1 and 3, each as sum, sum of squares, sum |x|,
 * max |x| and the values at 32 fixed indices; the running mean and
 * variance of the 7 batch norms after step 1 and after step 3 (whole);
 * the evaluation output after step 3.
 *
 * Tolerance |got - want| <= rtol * scale, with scale |want| for losses,
 * sums of squares, sums |x| and max |x|; sum |x| for a sum (an absolute
 * floor: a sum of a million terms may cancel to nothing); |want| + max
 * |want| of the tensor for single values (so that values near zero are
 * judged against the tensor's magnitude).  rtol, and the largest
 * |diff| / scale seen (-O2 -march=native build; -O1 sanitizer build):
 *
 *                       float64: rtol  seen          float32: rtol  seen
 *   init, loss 1,
 *   grad, running1      1e-10   3e-14  9e-14         1e-4   2e-5  4e-5
 *   step1               1e-7    1e-9   1e-9          -
 *   loss 2, 3           1e-8    6e-10  8e-10         0.5    3e-2  8e-2
 *   step3               1e-6    4e-8   5e-8          -
 *   running (step 3)    1e-7    3e-9   2e-9          -
 *   eval_pred           1e-8    9e-11  3e-10         -
 *
 * Whatever depends on the initial parameters only is checked to 1e-10.
 * After an Adam update it cannot be: Adam's first step is lr g / (|g| +
 * eps), about lr sign(g), so a gradient that is zero in exact arithmetic
 * (batchnorm_4's bias for a channel whose 2x2 positions are each alive in
 * all 4 samples or in none: the BatchNorm1d after dense_1 makes the sum
 * over the batch vanish) is rounding noise of 1e-17 that becomes an
 * update of lr * 1e-17 / 1e-8 = 1e-11, and small gradients keep only the
 * relative accuracy of their own rounding.  PyTorch disagrees with itself
 * when the batch is merely reversed (the same sums in another order) by
 * 1.8e-9 after step 1, 2.3e-10 in the later losses, 6.3e-8 after step 3,
 * 4e-9 in the running statistics and 8.5e-10 in the evaluation output
 * (the script prints these); the tolerances are 12 to 55 times that, and
 * quanta lies as close to torch as torch does to itself.  Real errors
 * (bias correction, momentum, biased variance) are 1e-3 or more.
 *
 * Float32, 1e-4 for what step 1 computes: twelve layers and batch norm
 * over 4 samples (subtracting nearly equal means) put torch's own float32
 * gradients 1.7e-5 of the tensor's max from its float64 ones.  After an
 * update float32 is not comparable: a gradient below the float32 rounding
 * of its tensor (1e-5 of its max; dense_1 has thousands) can flip the
 * sign of its update, a change of 2 lr = 0.02, half a dense weight's
 * scale.  torch's float32 and float64 runs differ by 0.47 of the tensor's
 * max after 3 steps, 68% in running statistics, 24% in the evaluation
 * output and 3.3% in the losses.  So float32 checks only that everything
 * stays finite and that the losses of steps 2 and 3 are within 50% (a
 * guard against gross errors: twice the learning rate gives 62 instead
 * of 22 at step 2); the float64 run is the check of the updates.
 */
#include "common/error.h"
#include "common/threadpool.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "fixture.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

#define FIX "tests/reference/vgg_step.h5"
#define BATCH 4
#define STEPS 3
#define NIDX 32
#define NPARAMS 27 /* trainable tensors of eor.net */
#define NBN 7      /* batch norms */
#define MAX_REPORTS 8 /* failures printed per quantity */

enum { K_INIT, K_LOSS1, K_GRAD, K_RUN1, K_STEP1, K_LOSSN, K_STEP3, K_RUN3,
       K_EVAL, NKINDS };
static const char *const kind_name[NKINDS] = {
	"init", "loss 1", "grad", "running1", "step1", "loss 2,3", "step3",
	"running", "eval_pred"};
/* 0: not compared (float32 after an update; see the top) */
static const double rtol64[NKINDS] = {1e-10, 1e-10, 1e-10, 1e-10, 1e-7,
				      1e-8, 1e-6, 1e-7, 1e-8};
static const double rtol32[NKINDS] = {1e-4, 1e-4, 1e-4, 1e-4, 0, 0.5, 0,
				      0, 0};

struct cmp {
	const char *dtn;
	const double *rtol;
	int kind;
	double worst[NKINDS]; /* max |diff| / (rtol * scale) seen */
	char worst_at[NKINDS][96];
	int nbad[NKINDS];
	int nonfinite;
	/* the parameter set being filled or compared */
	int p, mode;          /* counter; 0 fill with the formula, 1 compare */
	qt_tensor *index, *numel, *stats, *values;
};

/* One number against its reference. */
static void close1(struct cmp *c, const char *what, double got, double want,
		   double scale)
{
	int k = c->kind;
	if (!isfinite(got))
		c->nonfinite++;
	if (c->rtol[k] == 0)
		return;
	double d = fabs(got - want), tol = c->rtol[k] * scale;
	double r = tol > 0 ? d / tol : (d > 0 ? INFINITY : 0);
	if (r > c->worst[k] || r != r) {
		c->worst[k] = r;
		snprintf(c->worst_at[k], sizeof c->worst_at[k], "%s", what);
	}
	if (!(d <= tol)) {
		if (c->nbad[k]++ < MAX_REPORTS)
			printf("# %s %s %s: got %.17g, want %.17g, |diff| %.3g "
			       "> tolerance %.3g\n", c->dtn, kind_name[k], what,
			       got, want, d, tol);
		test_cur_failed = 1;
	}
}

/* A whole tensor against a fixture dataset. */
static void close_tensor(struct cmp *c, const char *what,
			 const qt_tensor *got, const char *path)
{
	qt_tensor *want = fixture_load(FIX, path, QT_F64);
	CHECK(want != NULL);
	if (!want)
		return;
	int64_t n = qt_tensor_numel(want);
	CHECK(qt_tensor_numel(got) == n);
	if (qt_tensor_numel(got) == n) {
		const double *w = want->data;
		double amax = 0;
		for (int64_t i = 0; i < n; i++)
			amax = fmax(amax, fabs(w[i]));
		for (int64_t i = 0; i < n; i++) {
			char at[96];
			snprintf(at, sizeof at, "%s[%lld]", what, (long long)i);
			close1(c, at, qt_tensor_get(got, i), w[i],
			       fabs(w[i]) + amax);
		}
	}
	qt_tensor_free(want);
}

static int is_batchnorm(const qt_node *node)
{
	for (int k = 0; k < node->nparams; k++)
		if (!strcmp(node->params[k].name, "running_mean"))
			return 1;
	return 0;
}

/* A number in [-1, 1) for element i of parameter p: splitmix64 of
 * (p << 32) + i, top 53 bits (the script's uniform(); exact in double). */
static double uniform(int p, int64_t i)
{
	uint64_t z = ((uint64_t)p << 32) + (uint64_t)i;
	z += 0x9E3779B97F4A7C15u;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	z ^= z >> 31;
	return 2.0 * ((double)(z >> 11) * 0x1p-53) - 1.0;
}

/* The initial values of trainable parameter number p (the node's first
 * parameter is its weight, whose fan-in scales the bias too). */
static void fill(const qt_node *node, qt_param *prm, int p)
{
	qt_tensor *t = prm->value;
	int64_t n = qt_tensor_numel(t);
	int bn = is_batchnorm(node), gamma = !strcmp(prm->name, "weight");
	const qt_tensor *w = node->params[0].value;
	double scale = 1.0 / sqrt((double)(qt_tensor_numel(w) / w->shape[0]));
	for (int64_t i = 0; i < n; i++) {
		double s = uniform(p, i), v;
		if (bn)
			v = gamma ? 1.0 + 0.1 * s : 0.1 * s;
		else
			v = scale * s;
		if (t->dtype == QT_F64)
			((double *)t->data)[i] = v;
		else
			((float *)t->data)[i] = (float)v;
	}
}

static int each_param(void *arg, qt_node *node, qt_param *prm)
{
	struct cmp *c = arg;
	char at[160];
	if (!prm->grad)
		return 0; /* running statistics: compared whole, elsewhere */
	int p = c->p++;
	if (p >= NPARAMS) {
		CHECK(p < NPARAMS);
		return 1;
	}
	const qt_tensor *t = c->kind == K_GRAD ? prm->grad : prm->value;
	int64_t n = qt_tensor_numel(t);
	const int64_t *numel = c->numel->data;
	if (n != numel[p]) {
		printf("# parameter %d (%s/%s) has %lld elements, the fixture's "
		       "%lld: not quanta's order?\n", p, node->name, prm->name,
		       (long long)n, (long long)numel[p]);
		test_cur_failed = 1;
		return 1;
	}
	if (c->mode == 0) {
		fill(node, prm, p);
		return 0;
	}
	/* Summaries in long double, so that the order of summation does not
	 * matter at 1e-10. */
	long double s = 0, s2 = 0, sa = 0;
	double amax = 0;
	for (int64_t i = 0; i < n; i++) {
		double v = qt_tensor_get(t, i);
		s += v;
		s2 += (long double)v * v;
		sa += fabs(v);
		amax = fmax(amax, fabs(v));
	}
	const double *st = (const double *)c->stats->data + 4 * p;
	const double *val = (const double *)c->values->data + NIDX * p;
	const int64_t *idx = (const int64_t *)c->index->data + NIDX * p;
	snprintf(at, sizeof at, "%s/%s sum", node->name, prm->name);
	close1(c, at, (double)s, st[0], st[2]);
	snprintf(at, sizeof at, "%s/%s sum of squares", node->name, prm->name);
	close1(c, at, (double)s2, st[1], st[1]);
	snprintf(at, sizeof at, "%s/%s sum |x|", node->name, prm->name);
	close1(c, at, (double)sa, st[2], st[2]);
	snprintf(at, sizeof at, "%s/%s max |x|", node->name, prm->name);
	close1(c, at, amax, st[3], st[3]);
	for (int j = 0; j < NIDX; j++) {
		snprintf(at, sizeof at, "%s/%s[%lld]", node->name, prm->name,
			 (long long)idx[j]);
		close1(c, at, qt_tensor_get(t, idx[j]), val[j],
		       fabs(val[j]) + st[3]);
	}
	return 0;
}

/* Fill (mode 0) or compare (mode 1) every trainable parameter against
 * DT/SET/stats and DT/SET/values. */
static void params(struct cmp *c, qt_net *net, int kind, const char *set,
		   int mode)
{
	char path[64];
	c->kind = kind;
	c->mode = mode;
	c->p = 0;
	snprintf(path, sizeof path, "%s/%s/stats", c->dtn, set);
	c->stats = fixture_load(FIX, path, QT_F64);
	snprintf(path, sizeof path, "%s/%s/values", c->dtn, set);
	c->values = fixture_load(FIX, path, QT_F64);
	CHECK(c->stats && c->values);
	if (c->stats && c->values &&
	    qt_tensor_numel(c->stats) == 4 * NPARAMS &&
	    qt_tensor_numel(c->values) == NIDX * NPARAMS) {
		qt_net_each_param(net, each_param, c);
		CHECK(c->p == NPARAMS);
	}
	qt_tensor_free(c->stats);
	qt_tensor_free(c->values);
	c->stats = c->values = NULL;
}

/* Running statistics of every batch norm against DT/SET/NODE/NAME. */
static void running(struct cmp *c, qt_net *net, int kind, const char *set)
{
	int nbn = 0;
	c->kind = kind;
	for (int i = 0; i < net->nnodes; i++) {
		qt_node *node = &net->nodes[i];
		if (!is_batchnorm(node))
			continue;
		nbn++;
		for (int k = 0; k < node->nparams; k++) {
			qt_param *prm = &node->params[k];
			char path[160], what[96];
			if (prm->grad)
				continue;
			snprintf(path, sizeof path, "%s/%s/%s/%s", c->dtn, set,
				 node->name, prm->name);
			snprintf(what, sizeof what, "%s/%s", node->name,
				 prm->name);
			close_tensor(c, what, prm->value, path);
		}
	}
	CHECK(nbn == NBN);
}

/* The whole run in dtype dt on a pool of `threads` (0: no pool). */
static void run(qt_dtype dt, int threads)
{
	struct cmp c = {.dtn = dt == QT_F64 ? "f64" : "f32",
			.rtol = dt == QT_F64 ? rtol64 : rtol32};
	qt_model *m = NULL;
	qt_net *net = NULL;
	qt_pool *pool = threads ? qt_pool_new(threads) : NULL;
	qt_net_cfg cfg = {.dtype = dt, .max_batch = BATCH, .seed = 1,
			  .ctx = {.device = QT_CPU, .pool = pool}};
	qt_header *h = qt_header_new();
	qt_batch *b = qt_batch_new(2);
	qt_tensor *maps = NULL, *xhi = NULL, *loss = NULL;
	qt_optim opt;
	char path[64];

	c.index = fixture_load(FIX, "params/index", QT_I64);
	c.numel = fixture_load(FIX, "params/numel", QT_I64);
	maps = fixture_load(FIX, "maps", QT_F32);
	xhi = fixture_load(FIX, "xHI", QT_F32);
	snprintf(path, sizeof path, "%s/loss", c.dtn);
	loss = fixture_load(FIX, path, QT_F64);
	CHECK(c.index && c.numel && maps && xhi && loss && h && b);
	if (!c.index || !c.numel || !maps || !xhi || !loss || !h || !b)
		goto out;
	CHECK(qt_tensor_numel(c.numel) == NPARAMS &&
	      qt_tensor_numel(c.index) == NPARAMS * NIDX &&
	      qt_tensor_numel(maps) == BATCH * 16 * 16 &&
	      qt_tensor_numel(xhi) == BATCH && qt_tensor_numel(loss) == STEPS);
	if (test_cur_failed)
		goto out;

	CHECK_OK(qt_model_load_set(&m, "models/eor.net",
				   (const char *[]){"size=16"}, 1));
	if (!m)
		goto out;
	CHECK_OK(qt_net_build(&net, m, &cfg));
	if (!net)
		goto out;
	CHECK(qt_header_add_field(h, "maps", QT_F32, 3,
				  (int64_t[]){1, 16, 16}) >= 0);
	CHECK(qt_header_add_field(h, "xHI", QT_F32, 0, NULL) >= 0);
	CHECK_OK(qt_net_bind(net, h));
	b->n = BATCH;
	b->t[0] = maps;
	b->t[1] = xhi;
	maps = xhi = NULL;
	CHECK_OK(qt_net_load(net, b, NULL, BATCH));

	params(&c, net, K_INIT, "init", 0);
	if (test_cur_failed)
		goto out;
	params(&c, net, K_INIT, "init", 1);
	/* The model's optimizer, as the fixture's: Adam, torch's defaults. */
	CHECK(!strcmp(net->optim.name, "adam") && net->optim.lr == 0.01 &&
	      net->optim.beta1 == 0.9 && net->optim.beta2 == 0.999 &&
	      net->optim.eps == 1e-8 && net->optim.weight_decay == 0 &&
	      !net->optim.amsgrad);
	CHECK_OK(qt_optim_init(&opt, &net->optim, net));

	for (int step = 1; step <= STEPS; step++) {
		double l = NAN;
		char what[32];
		qt_net_zero_grad(net);
		CHECK_OK(qt_net_forward(net, 1, &l));
		CHECK_OK(qt_net_backward(net));
		c.kind = step == 1 ? K_LOSS1 : K_LOSSN;
		snprintf(what, sizeof what, "step %d", step);
		close1(&c, what, l, ((double *)loss->data)[step - 1],
		       fabs(((double *)loss->data)[step - 1]));
		if (step == 1) {
			params(&c, net, K_GRAD, "grad", 1);
			running(&c, net, K_RUN1, "running1");
		}
		CHECK_OK(qt_optim_step(&opt, net));
		if (step == 1 || step == STEPS)
			params(&c, net, step == 1 ? K_STEP1 : K_STEP3,
			       step == 1 ? "step1" : "step3", 1);
	}
	running(&c, net, K_RUN3, "running");

	/* Evaluation mode: batch norm from the running statistics. */
	double l;
	CHECK_OK(qt_net_forward(net, 0, &l));
	CHECK(net->noutputs == 1);
	if (net->noutputs == 1) {
		qt_tensor pred = qt_net_value(net, net->outputs[0]);
		snprintf(path, sizeof path, "%s/eval_pred", c.dtn);
		c.kind = K_EVAL;
		close_tensor(&c, "output", &pred, path);
	}
	if (c.nonfinite)
		printf("# %s: %d non-finite values\n", c.dtn, c.nonfinite);
	CHECK(c.nonfinite == 0);

	for (int k = 0; k < NKINDS; k++) {
		if (c.nbad[k] > MAX_REPORTS)
			printf("# %s %s: %d values out of tolerance in all\n",
			       c.dtn, kind_name[k], c.nbad[k]);
		if (c.worst_at[k][0])
			printf("# %s %-9s max |diff| / tolerance %.2g (rtol %g)"
			       " at %s\n", c.dtn, kind_name[k], c.worst[k],
			       c.rtol[k], c.worst_at[k]);
	}
out:
	qt_tensor_free(c.index);
	qt_tensor_free(c.numel);
	qt_tensor_free(maps);
	qt_tensor_free(xhi);
	qt_tensor_free(loss);
	qt_batch_free(b);
	qt_header_free(h);
	qt_net_free(net);
	qt_model_free(m);
	qt_pool_free(pool);
}

static void test_vgg_step_f64(void)
{
	run(QT_F64, 0);
}

/* The kernels' threaded paths (a pool of 3 over a batch of 4). */
static void test_vgg_step_f64_pool(void)
{
	run(QT_F64, 3);
}

static void test_vgg_step_f32(void)
{
	run(QT_F32, 0);
}

int main(void)
{
	RUN(test_vgg_step_f64);
	RUN(test_vgg_step_f64_pool);
	RUN(test_vgg_step_f32);
	return test_done();
}
