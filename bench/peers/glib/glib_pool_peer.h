/* SPDX-License-Identifier: MIT */
/**
 * @file glib_pool_peer.h
 * glib_pool_peer: a benchmark peer for lfq_pool. GLib's GThreadPool (libglib2.0-dev) behind
 * the calling convention of bench/baselines/mutex_pool.h, so that the C++ pool benchmarks
 * can use it.
 *
 * How GLib is used, as its reference manual describes GThreadPool: g_thread_pool_new(func,
 * user_data, workers, exclusive = TRUE) starts `workers` threads owned by this pool;
 * g_thread_pool_push(pool, data) queues one item for func(data, user_data). GThreadPool's
 * queue (a GAsyncQueue: a mutex, a condition variable and a linked list) is unbounded, so
 * the capacity argument is ignored and submit never waits. GThreadPool has no "wait until
 * idle": the peer counts pending jobs and signals a GCond when the count reaches zero (as
 * the Go peer does with its sync.WaitGroup). No allocation per job: GThreadPool calls one
 * function per pool, so the peer keeps the jobs' fn in the pool (every job of one pool must
 * have the same fn, which both pool benchmarks satisfy) and passes arg as the item (arg must
 * not be NULL: GLib rejects NULL items).
 *
 * Progress: blocking (GAsyncQueue's mutex). Thread-safety: as mutex_pool.h.
 * Errors are negative errno values.
 */
#ifndef LFQ_BENCH_GLIB_POOL_PEER_H
#define LFQ_BENCH_GLIB_POOL_PEER_H

#ifdef __cplusplus
extern "C" {
#endif

struct glib_pool;

/** @return 0; -EINVAL (NULL pool, 0 workers); -ENOMEM; -EAGAIN if GLib could not start
 * the threads. */
int glib_pool_create(struct glib_pool **pool, unsigned workers);
/** Waits for every queued job, stops the threads and frees the pool. NULL is ignored. */
void glib_pool_destroy(struct glib_pool *pool);
/** Queues fn(arg). @return 0; -EINVAL for a NULL arg or a fn unlike earlier jobs'. */
int glib_pool_submit(struct glib_pool *pool, int (*fn)(void *), void *arg);
/** Sleeps until every job submitted so far has returned. @return 0. */
int glib_pool_wait_idle(struct glib_pool *pool);
/** @return the calling thread's index among @p pool's threads, or -1 if it is not one. */
int glib_pool_worker_index(const struct glib_pool *pool);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_BENCH_GLIB_POOL_PEER_H */
