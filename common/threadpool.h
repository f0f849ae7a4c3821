/* threadpool.h: a small blocking thread pool for data-parallel loops.
 *
 *   qt_pool *pool = qt_pool_new(0);            // one thread per CPU
 *   qt_pool_for(pool, n, fn, arg);             // fn(arg, begin, end, chunk)
 *   qt_pool_free(pool);
 *
 * qt_pool_for splits [0, n) into min(nthreads, n) contiguous chunks of
 * near-equal size: chunk c is [c*n/k, (c+1)*n/k).  The split depends only
 * on n and the thread count, so a computation whose result depends only on
 * its chunks is reproducible bit for bit for a given thread count.  Chunk 0
 * runs on the calling thread, chunk c > 0 on worker c; the call returns when
 * every chunk is done.  The chunk index lets a task use its own slice of a
 * workspace.
 *
 * Idle workers sleep on a condition variable; they never spin, so an idle
 * pool costs no CPU time on a shared machine.
 *
 * One level of parallelism per op: inside a task, BLAS must run on one
 * thread.  qt_pool_new() therefore calls openblas_set_num_threads(1), a
 * process-wide setting; it does so for a one-thread pool too, so that a
 * pool of k threads computes on exactly k threads.  (Without any pool,
 * OpenBLAS keeps its own threading, whose results can differ from the
 * single-threaded ones in the last bits.)  A qt_pool_for() called from
 * inside a task (a nested loop) does not deadlock: it runs inline on that
 * thread as a single chunk 0, like a NULL pool.
 *
 * A pool may be shared by several threads: their qt_pool_for calls are
 * serialised.  Workers block all signals, so signal handlers run on the
 * program's own threads.
 */
#ifndef QT_THREADPOOL_H
#define QT_THREADPOOL_H

#include <stdint.h>

typedef struct qt_pool qt_pool;

/* A task: process indices [begin, end) as chunk number `chunk`
 * (0 <= chunk < qt_pool_threads(pool)). */
typedef void qt_pool_fn(void *arg, int64_t begin, int64_t end, int chunk);

/* Start a pool of `nthreads` threads counting the caller (nthreads - 1
 * workers); nthreads <= 0 means one per online CPU.  Returns NULL with
 * qt_error set (QT_EUSAGE for nthreads > 1024, QT_ENOMEM when threads
 * cannot be started). */
qt_pool *qt_pool_new(int nthreads);

/* Stop and join the workers, free the pool.  NULL is a no-op.  Must not be
 * called while a qt_pool_for on this pool is running. */
void qt_pool_free(qt_pool *pool);

/* Threads of the pool including the caller; 1 for NULL. */
int qt_pool_threads(const qt_pool *pool);

/* Run fn over [0, n) in contiguous chunks (see above) and wait for all of
 * them.  pool == NULL, a one-thread pool, or a nested call run
 * fn(arg, 0, n, 0) on the caller.  n <= 0 calls nothing. */
void qt_pool_for(qt_pool *pool, int64_t n, qt_pool_fn *fn, void *arg);

#endif
