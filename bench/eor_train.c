/* eor_train.c: training throughput and peak memory of the eor-21cm VGG
 * regressor (models/eor.net) through the nn/ engine, the C side of
 * bench/eor.sh.
 *
 *   build/bench/eor_train --threads 2 [--size 200] [--model models/eor.net]
 *
 * Synthetic data: --batches batches of --batch random maps (1, size, size)
 * (standard normal) with targets xHI uniform in [0, 1), from --seed.  The
 * model is built with `--set size=SIZE` as `quanta train --set` would.  A
 * training step is what quanta-train does per batch: qt_net_load,
 * qt_net_zero_grad, qt_net_forward (training), qt_net_backward,
 * qt_optim_step (Adam, lr 0.01 from the model file), in float32 on a
 * thread pool of --threads threads.  After --warmup untimed steps, each
 * of --runs timed runs covers --steps steps; the median run is reported,
 * with the median time per step of the forward pass (load included), the
 * backward pass (zeroing included) and the optimizer step, as one line of
 * key=value pairs on stdout (the format bench/eor.sh reads):
 *
 *   quanta threads=1 size=200 batch=16 train_sps=... fwd_s=... bwd_s=...
 *          opt_s=... rss_kb=... arena_kb=... params=... loss=...
 *          train_runs=[...]
 *
 * rss_kb is getrusage's peak resident set size of the whole process
 * (data set included: 2.6 MB per batch at 200x200); arena_kb the
 * network's planned activations, gradients, saved buffers and
 * workspaces (nn/plan.c). */
#include "common/error.h"
#include "common/threadpool.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "bench/bench.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_RUNS BENCH_MAX_RUNS

struct opts {
	const char *model;
	int threads, batch, batches, steps, runs, warmup, size;
	long seed;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: eor_train [--threads N] [--size N] [--batch N] "
		"[--batches N] [--steps N]\n"
		"                 [--runs N] [--warmup N] [--seed N] "
		"[--model FILE]\n"
		"Train models/eor.net on synthetic maps and print samples/s "
		"and peak memory.\n"
		"Example: build/bench/eor_train --threads 2 --size 64\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"threads", 1, 0, 't'}, {"batch", 1, 0, 'b'},
		{"batches", 1, 0, 'B'}, {"steps", 1, 0, 's'},
		{"runs", 1, 0, 'r'},    {"warmup", 1, 0, 'w'},
		{"seed", 1, 0, 'S'},    {"model", 1, 0, 'm'},
		{"size", 1, 0, 'z'},    {"help", 0, 0, 'h'},
		{0, 0, 0, 0}};
	struct opts o = {.model = "models/eor.net", .threads = 1, .batch = 16,
			 .batches = 4, .steps = 1, .runs = 5, .warmup = 1,
			 .size = 200, .seed = 1};
	qt_model *m = NULL;
	qt_net *net = NULL;
	qt_pool *pool = NULL;
	qt_header *h = NULL;
	qt_batch **data = NULL;
	qt_optim opt;
	qt_rng rng;
	struct rusage ru;
	char set[32];
	const char *sets[1] = {set};
	double train[MAX_RUNS], *fwd = NULL, *bwd = NULL, *upd = NULL, loss = 0;
	int c, rc = 0, nsteps = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (c) {
		case 't': o.threads = (int)bench_int("eor_train", optarg, "--threads", 1, 256); break;
		case 'b': o.batch = (int)bench_int("eor_train", optarg, "--batch", 2, 1 << 16); break;
		case 'B': o.batches = (int)bench_int("eor_train", optarg, "--batches", 1, 1000); break;
		case 's': o.steps = (int)bench_int("eor_train", optarg, "--steps", 1, 1 << 16); break;
		case 'r': o.runs = (int)bench_int("eor_train", optarg, "--runs", 1, MAX_RUNS); break;
		case 'w': o.warmup = (int)bench_int("eor_train", optarg, "--warmup", 0, 1 << 16); break;
		case 'S': o.seed = bench_int("eor_train", optarg, "--seed", 0, 1L << 62); break;
		case 'z': o.size = (int)bench_int("eor_train", optarg, "--size", 8, 4096); break;
		case 'm': o.model = optarg; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "eor_train: bad option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	nsteps = o.runs * o.steps;
	if (nsteps > MAX_RUNS) {
		fprintf(stderr, "eor_train: --runs times --steps must be at "
			"most %d\n", MAX_RUNS);
		return 2;
	}
	fwd = calloc((size_t)nsteps, sizeof *fwd);
	bwd = calloc((size_t)nsteps, sizeof *bwd);
	upd = calloc((size_t)nsteps, sizeof *upd);
	if (!fwd || !bwd || !upd) {
		rc = qt_error(QT_ENOMEM, "out of memory");
		goto out;
	}

	if (!(pool = qt_pool_new(o.threads))) {
		rc = QT_ENOMEM;
		goto out;
	}
	qt_net_cfg cfg = {.dtype = QT_F32, .max_batch = o.batch,
			  .seed = (uint64_t)o.seed,
			  .ctx = {.device = QT_CPU, .pool = pool}};
	snprintf(set, sizeof set, "size=%d", o.size);
	if ((rc = qt_model_load_set(&m, o.model, sets, 1)) < 0 ||
	    (rc = qt_net_build(&net, m, &cfg)) < 0)
		goto out;
	h = qt_header_new();
	if (!h || qt_header_add_field(h, "maps", QT_F32, 3, (int64_t[]){
					      1, o.size, o.size}) < 0 ||
	    qt_header_add_field(h, "xHI", QT_F32, 0, NULL) < 0) {
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
	int64_t per = (int64_t)o.size * o.size;
	for (int k = 0; k < o.batches; k++) {
		qt_batch *b = data[k] = qt_batch_new(2);
		if (!b || !(b->t[0] = qt_tensor_new(QT_F32, 4, (int64_t[]){
				    o.batch, 1, o.size, o.size})) ||
		    !(b->t[1] = qt_tensor_new(QT_F32, 1, (int64_t[]){o.batch}))) {
			rc = qt_error(QT_ENOMEM, "out of memory");
			goto out;
		}
		b->n = o.batch;
		float *img = b->t[0]->data, *y = b->t[1]->data;
		for (int64_t i = 0; i < o.batch * per; i++)
			img[i] = (float)qt_rng_normal(&rng);
		for (int64_t i = 0; i < o.batch; i++)
			y[i] = (float)qt_rng_uniform(&rng);
	}
	if ((rc = qt_optim_init(&opt, &net->optim, net)) < 0)
		goto out;

	for (int r = -1, step = 0, k = 0; r < o.runs; r++) {
		int n = r < 0 ? o.warmup : o.steps;
		double t0 = bench_now();
		for (int s = 0; s < n; s++, step++) {
			double a = bench_now(), b, c2;
			if ((rc = qt_net_load(net, data[step % o.batches], NULL,
					      o.batch)) < 0 ||
			    (rc = qt_net_forward(net, 1, &loss)) < 0)
				goto out;
			b = bench_now();
			qt_net_zero_grad(net);
			if ((rc = qt_net_backward(net)) < 0)
				goto out;
			c2 = bench_now();
			if ((rc = qt_optim_step(&opt, net)) < 0)
				goto out;
			if (r >= 0) {
				fwd[k] = b - a;
				bwd[k] = c2 - b;
				upd[k++] = bench_now() - c2;
			}
		}
		if (r >= 0)
			train[r] = (double)n * o.batch / (bench_now() - t0);
	}
	getrusage(RUSAGE_SELF, &ru);

	printf("quanta threads=%d size=%d batch=%d train_sps=%.3f fwd_s=%.3f "
	       "bwd_s=%.3f opt_s=%.3f rss_kb=%ld arena_kb=%zu "
	       "params=%lld loss=%.4g train_runs=[", o.threads, o.size,
	       o.batch, bench_median(train, o.runs), bench_median(fwd, nsteps),
	       bench_median(bwd, nsteps), bench_median(upd, nsteps), ru.ru_maxrss,
	       net->arena_bytes / 1024,
	       (long long)qt_net_count_params(net, NULL), loss);
	for (int r = 0; r < o.runs; r++)
		printf("%s%.3f", r ? "," : "", train[r]);
	printf("]\n");
out:
	if (rc < 0)
		fprintf(stderr, "eor_train: %s\n", qt_error_message(rc));
	for (int k = 0; data && k < o.batches; k++)
		qt_batch_free(data[k]);
	free(data);
	free(fwd);
	free(bwd);
	free(upd);
	qt_header_free(h);
	qt_net_free(net);
	qt_model_free(m);
	qt_pool_free(pool);
	if (fflush(stdout) || ferror(stdout))
		return 1;
	return rc < 0 ? 1 : 0;
}
