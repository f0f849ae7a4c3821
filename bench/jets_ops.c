/* jets_ops.c: time each kernel call of one jets training step (models/
 * jets.net at batch 1000, float32), to see where bench/jets_train's time
 * goes without a profiler.
 *
 *   build/bench/jets_ops [--threads N] [--batch N] [--reps N]
 *
 * Calls the kernels.h ops with the network's shapes on random data, in
 * the order of a training step, each --reps times, and prints the median
 * time of each in microseconds per batch and nanoseconds per sample.
 * --only NAME runs just the ops whose name contains NAME, for perf. */
#include "common/error.h"
#include "common/rng.h"
#include "common/threadpool.h"
#include "kernels/kernels.h"
#include "bench/bench.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXREPS 101

static qt_tensor *rnd(qt_rng *rng, int ndim, const int64_t *shape)
{
	qt_tensor *t = qt_tensor_new(QT_F32, ndim, shape);
	if (!t) {
		fprintf(stderr, "jets_ops: out of memory\n");
		exit(1);
	}
	float *d = t->data;
	for (int64_t i = 0; i < qt_tensor_numel(t); i++)
		d[i] = (float)qt_rng_normal(rng) * 0.3f;
	return t;
}

#define T4(a, b, c, d) 4, (int64_t[]){a, b, c, d}
#define T2(a, b) 2, (int64_t[]){a, b}
#define T1(a) 1, (int64_t[]){a}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"threads", 1, 0, 't'}, {"batch", 1, 0, 'b'},
		{"reps", 1, 0, 'r'},    {"only", 1, 0, 'o'},
		{"help", 0, 0, 'h'},    {0, 0, 0, 0}};
	int threads = 1, reps = 21, c;
	const char *only = NULL;
	int64_t N = 1000;
	char *end;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		if (c == 'o') {
			only = optarg;
			continue;
		}
		long v = optarg ? strtol(optarg, &end, 10) : 0;
		if (optarg && (*end || v < 1 || v > 1000000)) {
			fprintf(stderr, "jets_ops: bad value '%s'\n", optarg);
			return 2;
		}
		switch (c) {
		case 't': threads = (int)v; break;
		case 'b': N = v; break;
		case 'r': reps = v > MAXREPS ? MAXREPS : (int)v; break;
		case 'h':
			printf("Usage: jets_ops [--threads N] [--batch N] "
			       "[--reps N] [--only NAME]\n"
			       "--only times the ops whose name contains NAME "
			       "(for a profiler)\n"
			       "Example: build/bench/jets_ops --threads 2\n");
			return 0;
		default:
			fprintf(stderr, "jets_ops: bad option '%s'\n",
				argv[optind - 1]);
			return 2;
		}
	}

	qt_pool *pool = qt_pool_new(threads);
	qt_ctx ctx = {.device = QT_CPU, .pool = pool};
	qt_rng rng;
	qt_rng_seed(&rng, 1, 0);
	qt_conv2d_opts valid = {.stride_h = 1, .stride_w = 1};

	/* activations and their gradients */
	qt_tensor *x0 = rnd(&rng, T4(N, 1, 20, 20));
	qt_tensor *c1 = rnd(&rng, T4(N, 5, 16, 16)), *r1 = rnd(&rng, T4(N, 5, 16, 16));
	qt_tensor *p1 = rnd(&rng, T4(N, 5, 8, 8));
	qt_tensor *c2 = rnd(&rng, T4(N, 10, 4, 4)), *r2 = rnd(&rng, T4(N, 10, 4, 4));
	qt_tensor *p2 = rnd(&rng, T4(N, 10, 2, 2));
	qt_tensor *dc1 = rnd(&rng, T4(N, 5, 16, 16)), *dr1 = rnd(&rng, T4(N, 5, 16, 16));
	qt_tensor *dp1 = rnd(&rng, T4(N, 5, 8, 8));
	qt_tensor *dc2 = rnd(&rng, T4(N, 10, 4, 4)), *dr2 = rnd(&rng, T4(N, 10, 4, 4));
	qt_tensor *dp2 = rnd(&rng, T4(N, 10, 2, 2));
	qt_tensor *a1 = qt_tensor_new(QT_I32, T4(N, 5, 8, 8));
	qt_tensor *a2 = qt_tensor_new(QT_I32, T4(N, 10, 2, 2));
	qt_tensor *w1 = rnd(&rng, T4(5, 1, 5, 5)), *b1 = rnd(&rng, T1(5));
	qt_tensor *w2 = rnd(&rng, T4(10, 5, 5, 5)), *b2 = rnd(&rng, T1(10));
	qt_tensor *gw1 = rnd(&rng, T4(5, 1, 5, 5)), *gb1 = rnd(&rng, T1(5));
	qt_tensor *gw2 = rnd(&rng, T4(10, 5, 5, 5)), *gb2 = rnd(&rng, T1(10));
	qt_tensor *d1 = rnd(&rng, T2(N, 30)), *dd1 = rnd(&rng, T2(N, 30));
	qt_tensor *wd1 = rnd(&rng, T2(30, 40)), *bd1 = rnd(&rng, T1(30));
	qt_tensor *gwd1 = rnd(&rng, T2(30, 40)), *gbd1 = rnd(&rng, T1(30));
	qt_tensor flat = qt_tensor_wrap(QT_F32, T2(N, 40), p2->data);
	qt_tensor dflat = qt_tensor_wrap(QT_F32, T2(N, 40), dp2->data);
	size_t wb1, wb2;
	qt_conv2d_workspace(&wb1, x0, w1, &valid, &ctx);
	qt_conv2d_workspace(&wb2, p1, w2, &valid, &ctx);
	size_t wb = wb1 > wb2 ? wb1 : wb2;
	void *work = qt_alloc(wb ? wb : 64);

	struct op {
		const char *name;
		int id;
	} ops[] = {
		{"conv1 forward", 0}, {"relu1 forward", 1}, {"pool1 forward", 2},
		{"conv2 forward", 3}, {"relu2 forward", 4}, {"pool2 forward", 5},
		{"dense1 forward", 6}, {"dense1 backward", 7},
		{"pool2 backward", 8}, {"relu2 backward", 9},
		{"conv2 backward", 10}, {"  of which dw, db", 14},
		{"  of which dx", 15}, {"pool1 backward", 11},
		{"relu1 backward", 12}, {"conv1 backward (no dx)", 13},
	};
	int nops = (int)(sizeof ops / sizeof ops[0]);
	double total = 0;
	printf("jets ops, batch %lld, %d thread%s: median of %d\n", (long long)N,
	       threads, threads > 1 ? "s" : "", reps);
	for (int o = 0; o < nops; o++) {
		double t[MAXREPS];
		if (only && !strstr(ops[o].name, only))
			continue;
		for (int r = 0; r < reps; r++) {
			double t0 = bench_now();
			int rc = 0;
			switch (ops[o].id) {
			case 0: rc = qt_conv2d_forward(c1, x0, w1, b1, &valid, work, wb, &ctx); break;
			case 1: rc = qt_relu_forward(r1, c1, &ctx); break;
			case 2: rc = qt_maxpool2d_forward(p1, a1, r1, 2, 2, 2, 2, &ctx); break;
			case 3: rc = qt_conv2d_forward(c2, p1, w2, b2, &valid, work, wb, &ctx); break;
			case 4: rc = qt_relu_forward(r2, c2, &ctx); break;
			case 5: rc = qt_maxpool2d_forward(p2, a2, r2, 2, 2, 2, 2, &ctx); break;
			case 6: rc = qt_dense_forward(d1, &flat, wd1, bd1, &ctx); break;
			case 7: rc = qt_dense_backward(&dflat, gwd1, gbd1, dd1, &flat, wd1, &ctx); break;
			case 8: rc = qt_maxpool2d_backward(dr2, dp2, a2, &ctx); break;
			case 9: rc = qt_relu_backward(dc2, dr2, r2, &ctx); break;
			case 10: rc = qt_conv2d_backward(dp1, gw2, gb2, dc2, p1, w2, &valid, work, wb, &ctx); break;
			case 11: rc = qt_maxpool2d_backward(dr1, dp1, a1, &ctx); break;
			case 12: rc = qt_relu_backward(dc1, dr1, r1, &ctx); break;
			case 13: rc = qt_conv2d_backward(NULL, gw1, gb1, dc1, x0, w1, &valid, work, wb, &ctx); break;
			case 14: rc = qt_conv2d_backward(NULL, gw2, gb2, dc2, p1, w2, &valid, work, wb, &ctx); break;
			case 15: rc = qt_conv2d_backward(dp1, NULL, NULL, dc2, p1, w2, &valid, work, wb, &ctx); break;
			}
			if (rc < 0) {
				fprintf(stderr, "jets_ops: %s: %s\n", ops[o].name,
					qt_error_message(rc));
				return 1;
			}
			t[r] = bench_now() - t0;
		}
		qsort(t, (size_t)reps, sizeof *t, bench_cmp_double);
		if (ops[o].id < 14)
			total += t[reps / 2];
		printf("%-24s %9.1f us %8.1f ns/sample\n", ops[o].name,
		       1e6 * t[reps / 2], 1e9 * t[reps / 2] / (double)N);
	}
	printf("%-24s %9.1f us %8.1f ns/sample (%.0f samples/s)\n", "total",
	       1e6 * total, 1e9 * total / (double)N, (double)N / total);
	qt_free(work);
	qt_pool_free(pool);
	return 0;
}
