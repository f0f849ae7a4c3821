/* threadpool.c: the blocking thread pool of threadpool.h.
 *
 * One job at a time: the caller publishes (fn, arg, n, nchunks) under the
 * mutex, bumps a generation counter and broadcasts `wake`; worker c runs
 * chunk c when c < nchunks and decrements `pending`; the caller runs chunk
 * 0, then sleeps on `done` until `pending` is 0.  A worker without a chunk
 * in a job may sleep through it: it only needs to notice the newest
 * generation, since the caller never publishes a job before every chunk of
 * the previous one is finished. */
#include "threadpool.h"
#include "error.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

/* From OpenBLAS (cblas.h declares it too; declared here so common/ does not
 * need the BLAS headers). */
void openblas_set_num_threads(int num_threads);

#define POOL_MAX_THREADS 1024

struct worker {
	struct qt_pool *pool;
	int index;
	pthread_t thread;
};

struct qt_pool {
	int nthreads;            /* counting the caller */
	int nstarted;            /* workers running */
	struct worker *workers;  /* nthreads - 1 of them */
	pthread_mutex_t call;    /* serialises qt_pool_for callers */
	pthread_mutex_t mu;      /* guards everything below */
	pthread_cond_t wake;     /* a new job, or stop */
	pthread_cond_t done;     /* pending reached 0 */
	uint64_t generation;
	int stop;
	int pending;             /* chunks > 0 not yet finished */
	qt_pool_fn *fn;
	void *arg;
	int64_t n;
	int nchunks;
};

/* Set on pool threads while they run a task, and on a caller while it runs
 * chunk 0: a qt_pool_for from there runs inline. */
static _Thread_local int in_task;

static void chunk_range(int64_t n, int nchunks, int c, int64_t *b, int64_t *e)
{
	/* c*n/k without overflow for any n < 2^63 and k <= 1024 */
	int64_t q = n / nchunks, r = n % nchunks;
	*b = q * c + r * c / nchunks;
	*e = q * (c + 1) + r * (c + 1) / nchunks;
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct qt_pool *pool = w->pool;
	uint64_t seen = 0;

	in_task = 1;
	pthread_mutex_lock(&pool->mu);
	for (;;) {
		while (pool->generation == seen && !pool->stop)
			pthread_cond_wait(&pool->wake, &pool->mu);
		if (pool->stop)
			break;
		seen = pool->generation;
		if (w->index >= pool->nchunks)
			continue;
		qt_pool_fn *fn = pool->fn;
		void *arg = pool->arg;
		int64_t b, e;
		chunk_range(pool->n, pool->nchunks, w->index, &b, &e);
		pthread_mutex_unlock(&pool->mu);

		fn(arg, b, e, w->index);

		pthread_mutex_lock(&pool->mu);
		if (--pool->pending == 0)
			pthread_cond_signal(&pool->done);
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

static void stop_workers(qt_pool *pool)
{
	pthread_mutex_lock(&pool->mu);
	pool->stop = 1;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->mu);
	for (int i = 0; i < pool->nstarted; i++)
		pthread_join(pool->workers[i].thread, NULL);
	pool->nstarted = 0;
}

qt_pool *qt_pool_new(int nthreads)
{
	if (nthreads <= 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = ncpu > 0 ? (int)(ncpu < POOL_MAX_THREADS ? ncpu : POOL_MAX_THREADS) : 1;
	}
	if (nthreads > POOL_MAX_THREADS) {
		qt_error(QT_EUSAGE, "thread pool: %d threads requested, at most %d",
			 nthreads, POOL_MAX_THREADS);
		return NULL;
	}
	qt_pool *pool = calloc(1, sizeof *pool);
	if (!pool) {
		qt_error(QT_ENOMEM, "thread pool: out of memory");
		return NULL;
	}
	pool->nthreads = nthreads;
	pthread_mutex_init(&pool->call, NULL);
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->done, NULL);
	/* One level of parallelism: BLAS runs single-threaded inside tasks.
	 * A one-thread pool sets it too, so that a pool of k threads computes
	 * on exactly k threads and gives the same bits for every k. */
	openblas_set_num_threads(1);
	if (nthreads == 1)
		return pool;

	pool->workers = calloc((size_t)nthreads - 1, sizeof *pool->workers);
	if (!pool->workers) {
		qt_error(QT_ENOMEM, "thread pool: out of memory");
		qt_pool_free(pool);
		return NULL;
	}
	/* Workers inherit a full signal mask: signals go to program threads. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < nthreads - 1; i++) {
		struct worker *w = &pool->workers[i];
		w->pool = pool;
		w->index = i + 1;
		int rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			qt_error(QT_ENOMEM, "thread pool: cannot start thread %d of %d",
				 i + 2, nthreads);
			qt_pool_free(pool);
			return NULL;
		}
		pool->nstarted++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pool;
}

void qt_pool_free(qt_pool *pool)
{
	if (!pool)
		return;
	stop_workers(pool);
	pthread_cond_destroy(&pool->done);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->mu);
	pthread_mutex_destroy(&pool->call);
	free(pool->workers);
	free(pool);
}

int qt_pool_threads(const qt_pool *pool)
{
	return pool ? pool->nthreads : 1;
}

void qt_pool_for(qt_pool *pool, int64_t n, qt_pool_fn *fn, void *arg)
{
	if (n <= 0)
		return;
	if (!pool || pool->nthreads == 1 || n == 1 || in_task) {
		fn(arg, 0, n, 0);
		return;
	}
	int nchunks = n < pool->nthreads ? (int)n : pool->nthreads;
	int64_t b, e;

	pthread_mutex_lock(&pool->call);
	pthread_mutex_lock(&pool->mu);
	pool->fn = fn;
	pool->arg = arg;
	pool->n = n;
	pool->nchunks = nchunks;
	pool->pending = nchunks - 1;
	pool->generation++;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->mu);

	chunk_range(n, nchunks, 0, &b, &e);
	in_task = 1;
	fn(arg, b, e, 0);
	in_task = 0;

	pthread_mutex_lock(&pool->mu);
	while (pool->pending > 0)
		pthread_cond_wait(&pool->done, &pool->mu);
	pthread_mutex_unlock(&pool->mu);
	pthread_mutex_unlock(&pool->call);
}
