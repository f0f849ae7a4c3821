/* test_threadpool.c: common/threadpool.h: chunking, inline cases, nested
 * calls, many calls, shared pools, and idle workers that do not spin. */
#include "common/threadpool.h"
#include "common/error.h"
#include "tests/unit/test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int openblas_get_num_threads(void);

#define MAXN 2000
#define MAXCHUNKS 8

struct record {
	int visits[MAXN];
	int64_t begin[MAXCHUNKS], end[MAXCHUNKS];
	int calls[MAXCHUNKS];
	pthread_t thread[MAXCHUNKS];
};

static void record_task(void *arg, int64_t begin, int64_t end, int chunk)
{
	struct record *r = arg;
	for (int64_t i = begin; i < end; i++)
		r->visits[i]++;
	if (chunk >= 0 && chunk < MAXCHUNKS) {
		r->begin[chunk] = begin;
		r->end[chunk] = end;
		r->calls[chunk]++;
		r->thread[chunk] = pthread_self();
	}
}

/* Every index once, chunk c = [c*n/k, (c+1)*n/k) with k = min(threads, n),
 * chunk 0 on the caller, the others on distinct threads. */
static void test_chunks(void)
{
	static const int64_t sizes[] = {0, 1, 2, 3, 5, 7, 100, 1001, MAXN};
	for (int t = 1; t <= 5; t++) {
		qt_pool *pool = qt_pool_new(t);
		CHECK(pool && qt_pool_threads(pool) == t);
		for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
			int64_t n = sizes[s];
			struct record *r = calloc(1, sizeof *r);
			qt_pool_for(pool, n, record_task, r);
			int k = n < t ? (int)n : t, bad = 0;
			for (int64_t i = 0; i < n; i++)
				bad |= r->visits[i] != 1;
			for (int c = 0; c < k; c++) {
				bad |= r->calls[c] != 1;
				bad |= r->begin[c] != c * n / k;
				bad |= r->end[c] != (c + 1) * n / k;
				for (int o = 0; o < c; o++)
					bad |= pthread_equal(r->thread[c],
							     r->thread[o]);
			}
			for (int c = k; c < MAXCHUNKS; c++)
				bad |= r->calls[c] != 0;
			if (k > 0)
				bad |= !pthread_equal(r->thread[0], pthread_self());
			if (bad) {
				printf("# bad chunks for n = %lld, %d threads\n",
				       (long long)n, t);
				test_cur_failed = 1;
			}
			free(r);
		}
		qt_pool_free(pool);
	}
}

static void test_inline(void)
{
	struct record *r = calloc(1, sizeof *r);
	CHECK(qt_pool_threads(NULL) == 1);
	qt_pool_for(NULL, 10, record_task, r);
	CHECK(r->calls[0] == 1 && r->begin[0] == 0 && r->end[0] == 10);
	CHECK(pthread_equal(r->thread[0], pthread_self()));
	qt_pool_for(NULL, 0, record_task, r);
	CHECK(r->calls[0] == 1);
	free(r);
	qt_pool_free(NULL);
}

struct nested {
	qt_pool *pool;
	struct record inner[MAXCHUNKS];
};

static void outer_task(void *arg, int64_t begin, int64_t end, int chunk)
{
	struct nested *n = arg;
	qt_pool_for(n->pool, 50, record_task, &n->inner[chunk]);
}

/* A qt_pool_for from inside a task runs inline as one chunk. */
static void test_nested(void)
{
	struct nested *n = calloc(1, sizeof *n);
	n->pool = qt_pool_new(3);
	qt_pool_for(n->pool, 3, outer_task, n);
	for (int c = 0; c < 3; c++) {
		struct record *r = &n->inner[c];
		CHECK(r->calls[0] == 1 && r->begin[0] == 0 && r->end[0] == 50);
		CHECK(r->calls[1] == 0);
	}
	qt_pool_free(n->pool);
	free(n);
}

static void sum_task(void *arg, int64_t begin, int64_t end, int chunk)
{
	int64_t *parts = arg;
	int64_t s = 0;
	for (int64_t i = begin; i < end; i++)
		s += i;
	parts[chunk] = s;
}

static int sum_ok(qt_pool *pool, int64_t n)
{
	int64_t parts[MAXCHUNKS] = {0}, s = 0;
	qt_pool_for(pool, n, sum_task, parts);
	for (int c = 0; c < MAXCHUNKS; c++)
		s += parts[c];
	return s == n * (n - 1) / 2;
}

static void test_many_calls(void)
{
	qt_pool *pool = qt_pool_new(4);
	int bad = 0;
	for (int i = 0; i < 5000; i++)
		bad += !sum_ok(pool, 1 + i % 37);
	CHECK(bad == 0);
	qt_pool_free(pool);
}

static void *caller_main(void *arg)
{
	intptr_t bad = 0;
	for (int i = 0; i < 500; i++)
		bad += !sum_ok(arg, 100 + i);
	return (void *)bad;
}

/* Two threads sharing one pool: their calls are serialised. */
static void test_shared(void)
{
	qt_pool *pool = qt_pool_new(3);
	pthread_t th[2];
	void *bad[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, caller_main, pool);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], &bad[i]);
	CHECK(bad[0] == NULL && bad[1] == NULL);
	qt_pool_free(pool);
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Idle workers block: a pool of 4 sleeping for 0.3 s costs (almost) no
 * CPU time, before and after it has run work. */
static void test_idle_blocks(void)
{
	qt_pool *pool = qt_pool_new(4);
	struct timespec nap = {0, 300000000};
	double t0 = cpu_seconds();
	nanosleep(&nap, NULL);
	double t1 = cpu_seconds();
	CHECK(sum_ok(pool, 1000));
	double t2 = cpu_seconds();
	nanosleep(&nap, NULL);
	double t3 = cpu_seconds();
	if (t1 - t0 > 0.05 || t3 - t2 > 0.05) {
		printf("# idle pool used %.3f s and %.3f s of CPU\n", t1 - t0,
		       t3 - t2);
		test_cur_failed = 1;
	}
	qt_pool_free(pool);
}

static void test_new(void)
{
	qt_pool *pool = qt_pool_new(0);
	CHECK(pool && qt_pool_threads(pool) >= 1);
	qt_pool_free(pool);
	CHECK(qt_pool_new(100000) == NULL);
	CHECK(strstr(qt_error_message(QT_EUSAGE), "thread pool") != NULL);
	/* one level of parallelism: BLAS is single-threaded under a pool */
	pool = qt_pool_new(2);
	CHECK(openblas_get_num_threads() == 1);
	qt_pool_free(pool);
}

int main(void)
{
	RUN(test_chunks);
	RUN(test_inline);
	RUN(test_nested);
	RUN(test_many_calls);
	RUN(test_shared);
	RUN(test_idle_blocks);
	RUN(test_new);
	return test_done();
}
