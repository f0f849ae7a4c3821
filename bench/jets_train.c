/* jets_train.c: training and inference throughput of the jets CNN
 * (models/jets.net) through the nn/ engine, the C side of bench/run.sh.
 *
 *   build/bench/jets_train --threads 2 [--model models/jets.net]
 *
 * Synthetic data: --batches batches of --batch random 20x20 images
 * (standard normal) with labels in 0..4, from --seed.  A training step is
 * what quanta-train does per batch: qt_net_load, qt_net_zero_grad,
 * qt_net_forward (training), qt_net_backward, qt_optim_step (Adam,
 * lr 0.03 from the model file).  Inference is qt_net_load +
 * qt_net_forward in evaluation mode.  The network runs in float32 on a
 * thread pool of --threads threads (qt_pool_new, in qt_net_cfg.ctx.pool).
 * Each of --runs timed runs covers --steps batches, after untimed steps
 * for --warmup seconds (caches, page faults, and OpenBLAS's threads,
 * which spin for a while after the library starts even though quanta
 * calls it single-threaded); the median run is reported, as one line of key=value pairs on
 * stdout (the format bench/run.sh reads):
 *
 *   quanta threads=1 train_sps=... infer_sps=... fwd_flops=...
 *          train_runs=[...] infer_runs=[...]
 *
 * fwd_flops is the forward pass's floating-point operations per sample,
 * counted from the network: 2 K Cin Cout OH OW per convolution (K the
 * kernel's pixels) and 2 in out per dense layer.  bench/run.sh counts a
 * training step as 3 times that (backward twice the forward), as is
 * customary, although the first convolution needs no input gradient. */
#include "common/error.h"
#include "common/threadpool.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "bench/bench.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
	const char *model;
	int threads, batch, batches, steps, runs, whole;
	double warmup;
	long seed;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: jets_train [--threads N] [--batch N] [--batches N] "
		"[--steps N] [--runs N]\n"
		"                  [--warmup SECONDS] [--seed N] [--model FILE] "
		"[--whole-batch]\n"
		"Train and run models/jets.net on synthetic 20x20 images and "
		"print samples/s.\n"
		"--whole-batch runs every training step layer by layer over the "
		"whole batch,\nnot in cache-sized chunks (qt_net_train_step).\n"
		"Example: build/bench/jets_train --threads 2 --runs 7\n");
}

/* Forward FLOPs per sample of the conv2d and dense layers, told apart by
 * their weights: (Cout, Cin, KH, KW) and (out, in). */
static double forward_flops(const qt_net *net)
{
	double f = 0;
	for (int i = 0; i < net->nnodes; i++) {
		const qt_node *n = &net->nodes[i];
		if (!n->layer || !n->nparams ||
		    strcmp(n->params[0].name, "weight"))
			continue;
		const qt_tensor *w = n->params[0].value;
		if (w->ndim == 4 && n->ndim == 3)
			f += 2.0 * (double)qt_tensor_numel(w) *
			     (double)(n->shape[1] * n->shape[2]);
		else if (w->ndim == 2)
			f += 2.0 * (double)qt_tensor_numel(w);
	}
	return f;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"threads", 1, 0, 't'}, {"batch", 1, 0, 'b'},
		{"batches", 1, 0, 'B'}, {"steps", 1, 0, 's'},
		{"runs", 1, 0, 'r'},    {"warmup", 1, 0, 'w'},
		{"seed", 1, 0, 'S'},    {"model", 1, 0, 'm'},
		{"whole-batch", 0, 0, 'W'},
		{"help", 0, 0, 'h'},    {0, 0, 0, 0}};
	struct opts o = {.model = "models/jets.net", .threads = 1,
			 .batch = 1000, .batches = 10, .steps = 20, .runs = 7,
			 .warmup = 1.0, .seed = 1};
	qt_model *m = NULL;
	qt_net *net = NULL;
	qt_pool *pool = NULL;
	qt_header *h = NULL;
	qt_batch **data = NULL;
	qt_optim opt;
	qt_rng rng;
	double train[BENCH_MAX_RUNS], infer[BENCH_MAX_RUNS], loss = 0;
	int c, rc = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (c) {
		case 't': o.threads = (int)bench_int("jets_train", optarg, "--threads", 1, 256); break;
		case 'b': o.batch = (int)bench_int("jets_train", optarg, "--batch", 1, 1 << 20); break;
		case 'B': o.batches = (int)bench_int("jets_train", optarg, "--batches", 1, 1000); break;
		case 's': o.steps = (int)bench_int("jets_train", optarg, "--steps", 1, 1 << 20); break;
		case 'r': o.runs = (int)bench_int("jets_train", optarg, "--runs", 1, BENCH_MAX_RUNS); break;
		case 'w': o.warmup = (double)bench_int("jets_train", optarg, "--warmup", 0, 3600); break;
		case 'S': o.seed = bench_int("jets_train", optarg, "--seed", 0, 1L << 62); break;
		case 'm': o.model = optarg; break;
		case 'W': o.whole = 1; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "jets_train: bad option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	if (!(pool = qt_pool_new(o.threads))) {
		rc = QT_ENOMEM;
		goto out;
	}
	qt_net_cfg cfg = {.dtype = QT_F32, .max_batch = o.batch,
			  .seed = (uint64_t)o.seed,
			  .ctx = {.device = QT_CPU, .pool = pool},
			  .chunked = !o.whole};
	if ((rc = qt_model_load(&m, o.model)) < 0 ||
	    (rc = qt_net_build(&net, m, &cfg)) < 0)
		goto out;
	h = qt_header_new();
	if (!h || qt_header_add_field(h, "images", QT_F32, 3,
				      (int64_t[]){1, 20, 20}) < 0 ||
	    qt_header_add_field(h, "labels", QT_I64, 0, NULL) < 0) {
		rc = qt_error(QT_ENOMEM, "cannot make the header");
		goto out;
	}
	if ((rc = qt_net_bind(net, h)) < 0)
		goto out;

	/* The synthetic data set. */
	data = calloc((size_t)o.batches, sizeof *data);
	if (!data) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}
	qt_rng_seed(&rng, (uint64_t)o.seed, 1);
	for (int k = 0; k < o.batches; k++) {
		qt_batch *b = data[k] = qt_batch_new(2);
		if (!b || !(b->t[0] = qt_tensor_new(QT_F32, 4, (int64_t[]){
				    o.batch, 1, 20, 20})) ||
		    !(b->t[1] = qt_tensor_new(QT_I64, 1, (int64_t[]){o.batch}))) {
			rc = qt_error(QT_ENOMEM, "out of memory");
			goto out;
		}
		b->n = o.batch;
		float *img = b->t[0]->data;
		int64_t *lab = b->t[1]->data;
		for (int64_t i = 0; i < (int64_t)o.batch * 400; i++)
			img[i] = (float)qt_rng_normal(&rng);
		for (int64_t i = 0; i < o.batch; i++)
			lab[i] = (int64_t)qt_rng_below(&rng, 5);
	}
	if ((rc = qt_optim_init(&opt, &net->optim, net)) < 0)
		goto out;

	/* Training: run -1 is the warm-up, steps until o.warmup seconds. */
	for (int r = -1, step = 0; r < o.runs; r++) {
		double t0 = bench_now();
		for (int s = 0; r < 0 ? s < 1 || bench_now() - t0 < o.warmup
				      : s < o.steps; s++, step++) {
			if ((rc = qt_net_train_step(net, data[step % o.batches],
						     NULL, o.batch, &loss)) < 0 ||
			    (rc = qt_optim_step(&opt, net)) < 0)
				goto out;
		}
		if (r >= 0)
			train[r] = (double)o.steps * o.batch / (bench_now() - t0);
	}
	/* Inference. */
	for (int r = -1, step = 0; r < o.runs; r++) {
		double t0 = bench_now();
		for (int s = 0; r < 0 ? s < 1 || bench_now() - t0 < o.warmup
				      : s < o.steps; s++, step++) {
			if ((rc = qt_net_load(net, data[step % o.batches], NULL,
					      o.batch)) < 0 ||
			    (rc = qt_net_forward(net, 0, NULL)) < 0)
				goto out;
		}
		if (r >= 0)
			infer[r] = (double)o.steps * o.batch / (bench_now() - t0);
	}

	printf("quanta threads=%d train_sps=%.0f infer_sps=%.0f fwd_flops=%.0f "
	       "loss=%.4f train_runs=[", o.threads, bench_median(train, o.runs),
	       bench_median(infer, o.runs), forward_flops(net), loss);
	for (int r = 0; r < o.runs; r++)
		printf("%s%.0f", r ? "," : "", train[r]);
	printf("] infer_runs=[");
	for (int r = 0; r < o.runs; r++)
		printf("%s%.0f", r ? "," : "", infer[r]);
	printf("]\n");
out:
	if (rc < 0)
		fprintf(stderr, "jets_train: %s\n", qt_error_message(rc));
	for (int k = 0; data && k < o.batches; k++)
		qt_batch_free(data[k]);
	free(data);
	qt_header_free(h);
	qt_net_free(net);
	qt_model_free(m);
	qt_pool_free(pool);
	if (fflush(stdout) || ferror(stdout))
		return 1;
	return rc < 0 ? 1 : 0;
}
