/* test_net.c: model files and the network engine: parsing and its error
 * positions, shapes and parameter counts of the jets network, a finite-
 * difference check of the whole network's gradients in float64, and
 * `param` overrides.  The jets network against PyTorch is in
 * test_jets_step.c, the VGG regressor in test_vgg_step.c. */
#include "common/error.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "fixture.h"
#include "test.h"

#include <math.h>
#include <string.h>

static qt_net *build(const char *text, qt_dtype dt, int64_t batch)
{
	qt_model *m = NULL;
	qt_net *net = NULL;
	qt_net_cfg cfg = {.dtype = dt, .max_batch = batch, .seed = 7};
	int rc = qt_model_parse(&m, "test.net", text);
	if (rc < 0) {
		printf("# parse: %s\n", qt_error_message(rc));
		return NULL;
	}
	rc = qt_net_build(&net, m, &cfg);
	if (rc < 0)
		printf("# build: %s\n", qt_error_message(rc));
	qt_model_free(m);
	return net;
}

/* Expect `text` to fail with a message starting "test.net:LINE:COL:". */
static void expect_error(const char *text, int line, int col, const char *frag)
{
	qt_model *m = NULL;
	qt_net *net = NULL;
	qt_net_cfg cfg = {.dtype = QT_F32, .max_batch = 2};
	char want[64];
	int rc = qt_model_parse(&m, "test.net", text);
	if (rc == 0) {
		rc = qt_net_build(&net, m, &cfg);
		qt_net_free(net);
		qt_model_free(m);
	}
	snprintf(want, sizeof want, "test.net:%d:%d:", line, col);
	CHECK(rc < 0);
	if (rc < 0 && (strncmp(qt_error_message(rc), want, strlen(want)) ||
		       !strstr(qt_error_message(rc), frag))) {
		printf("# expected '%s...%s', got '%s'\n", want, frag,
		       qt_error_message(rc));
		CHECK(0);
	}
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	static char buf[65536];
	size_t n;
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void test_jets_shapes(void)
{
	qt_net *net = build(read_text("models/jets.net"), QT_F32, 8);
	int64_t tr;
	CHECK(net != NULL);
	if (!net)
		return;
	/* PyTorch: 130 + 1260 + 1230 + 620 + 210 + 55 */
	CHECK(qt_net_count_params(net, &tr) == 3505 && tr == 3505);
	CHECK(net->optim.lr == 0.03 && !strcmp(net->optim.name, "adam"));
	CHECK(net->epochs == 15 && net->batch == 1000);
	CHECK(net->noutputs == 1);
	const qt_node *out = &net->nodes[net->outputs[0]];
	CHECK(out->ndim == 1 && out->shape[0] == 5 && !strcmp(out->name, "dense_4"));
	CHECK(!strcmp(net->nodes[1].name, "conv2d_1"));
	qt_net_free(net);
}

static void test_parse_errors(void)
{
	expect_error("input x [4]\ny = dense(x, 3, kernal=2)\n", 2, 17, "no option 'kernal'");
	expect_error("input x [4]\ny = dense(x, 3\n", 3, 1, "expected ',' or ')'");
	expect_error("input x [4]\ny = x | densse(3)\n", 2, 9, "unknown layer");
	expect_error("input x [4]\ny = dense(z, 3)\n", 2, 11, "not a value");
	expect_error("input x [1, 8, 8]\ny = conv2d(x, 4, kernel=9)\n", 2, 5, "does not fit");
	expect_error("input x [4]\ny = dense(x, 3, bias=maybe)\n", 2, 22, "true or false");
	expect_error("input x [4]\ny = dense(x, 3)\nloss mse(y, t)\n", 3, 13, "not a declared target");
	expect_error("input x [4]\ny = dense(x, 3)\noptimizer adam(lr=0.1, momentum=0.9)\n", 3, 24, "no option 'momentum'");
	expect_error("input x [4]\ny = dense(x, 3) @\n", 2, 17, "unexpected character");
	expect_error("input x [4\n", 2, 1, "expected ',' or ']'");
}

/* Whole-network gradient check in float64: d(loss)/d(param) by central
 * differences against backward, for a net with every layer kind. */
static void test_fd_whole_net(void)
{
	const char *text =
		"input img [2, 6, 6]\ninput aux [3]\ntarget y\n"
		"a = img | conv2d(3, kernel=3, padding=same) | batchnorm | tanh\n"
		"b = img | conv2d(3, kernel=[2, 3], stride=1, bias=false) | sigmoid\n"
		"c = a | maxpool2d(2) | flatten | dense(5)\n"
		"d = b | avgpool2d(2, stride=1) | global_avgpool2d | dense(5)\n"
		"e = add(c, d) | relu\n"
		"f = concat(e, aux, c) | dense(4)\n"
		"output f\nloss cross_entropy(f, y, weight=[1, 2, 0.5, 1])\n";
	qt_net *net = build(text, QT_F64, 3);
	qt_header *h = qt_header_new();
	qt_batch *b = qt_batch_new(3);
	qt_rng rng;
	double maxrel = 0;
	CHECK(net != NULL);
	if (!net)
		return;
	qt_header_add_field(h, "img", QT_F64, 3, (int64_t[]){2, 6, 6});
	qt_header_add_field(h, "aux", QT_F32, 1, (int64_t[]){3});
	qt_header_add_field(h, "y", QT_I64, 0, NULL);
	b->n = 3;
	b->t[0] = qt_tensor_new(QT_F64, 4, (int64_t[]){3, 2, 6, 6});
	b->t[1] = qt_tensor_new(QT_F32, 2, (int64_t[]){3, 3});
	b->t[2] = qt_tensor_new(QT_I64, 1, (int64_t[]){3});
	qt_rng_seed(&rng, 3, 0);
	for (int i = 0; i < 216; i++)
		((double *)b->t[0]->data)[i] = qt_rng_normal(&rng);
	for (int i = 0; i < 9; i++)
		((float *)b->t[1]->data)[i] = (float)qt_rng_normal(&rng);
	((int64_t *)b->t[2]->data)[0] = 1;
	((int64_t *)b->t[2]->data)[2] = 3;
	CHECK_OK(qt_net_bind(net, h));
	CHECK_OK(qt_net_load(net, b, NULL, 3));
	double loss;
	qt_net_zero_grad(net);
	CHECK_OK(qt_net_forward(net, 1, &loss));
	CHECK_OK(qt_net_backward(net));
	for (int i = 0; i < net->nnodes; i++)
		for (int k = 0; k < net->nodes[i].nparams; k++) {
			qt_param *p = &net->nodes[i].params[k];
			int64_t cnt;
			if (!p->grad)
				continue;
			cnt = qt_tensor_numel(p->value);
			for (int64_t j = 0; j < cnt; j += 1 + cnt / 7) {
				double *w = (double *)p->value->data + j, save = *w;
				double lp, lm, h2 = 1e-6, num, ana;
				/* Batchnorm running stats move in training
				 * forwards; they do not affect the loss. */
				*w = save + h2;
				qt_net_forward(net, 1, &lp);
				*w = save - h2;
				qt_net_forward(net, 1, &lm);
				*w = save;
				num = (lp - lm) / (2 * h2);
				ana = ((double *)p->grad->data)[j];
				/* absolute 1e-8 for gradients that are zero in
				 * exact arithmetic (a bias before batchnorm) */
				double rel = fabs(num - ana) / (fabs(num) + 1e-3);
				if (rel > maxrel)
					maxrel = rel;
				if (fabs(num - ana) > 1e-8 + 1e-5 * fabs(num))
					printf("# %s.%s[%lld]: numeric %.10g analytic %.10g\n",
					       net->nodes[i].name, p->name,
					       (long long)j, num, ana);
			}
		}
	CHECK(maxrel < 1e-5);
	printf("# max relative difference %.3g\n", maxrel);
	qt_batch_free(b);
	qt_header_free(h);
	qt_net_free(net);
}

/* `param` values stand for numbers and dimensions; --set replaces them. */
static void test_params(void)
{
	const char *text = "param size = 12\nparam width = 7\n"
			   "input x [1, size, size]\n"
			   "y = x | conv2d(2, kernel=3) | flatten | dense(width)\n";
	const char *set[] = {"size=8"}, *bad[] = {"depth=3"}, *junk[] = {"size"};
	qt_model *m = NULL;
	qt_net *net = NULL;
	qt_net_cfg cfg = {.dtype = QT_F32, .max_batch = 2};
	CHECK_OK(qt_model_parse_set(&m, "p.net", text, set, 1));
	if (m) {
		CHECK_OK(qt_net_build(&net, m, &cfg));
		CHECK(net && net->nodes[0].shape[1] == 8 &&
		      net->nodes[net->nnodes - 1].shape[0] == 7);
		/* conv 2x6x6 -> 72 features into dense(7) */
		CHECK(net && net->nodes[net->nnodes - 1].params[0].value->shape[1] == 72);
		qt_net_free(net);
		qt_model_free(m);
	}
	m = NULL;
	CHECK(qt_model_parse_set(&m, "p.net", text, bad, 1) == QT_EUSAGE);
	CHECK(strstr(qt_error_message(QT_EUSAGE), "depth=3") != NULL);
	CHECK(qt_model_parse_set(&m, "p.net", text, junk, 1) == QT_EUSAGE);
}

int main(void)
{
	RUN(test_jets_shapes);
	RUN(test_parse_errors);
	RUN(test_fd_whole_net);
	RUN(test_params);
	return test_done();
}
