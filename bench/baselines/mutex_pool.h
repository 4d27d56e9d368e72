/* SPDX-License-Identifier: MIT */
/**
 * @file mutex_pool.h
 * mutex_pool: a benchmark baseline for lfq_pool. The classic worker pool: a bounded FIFO of
 * jobs (function + argument, copied by value) under one pthread mutex, workers sleeping on a
 * condition variable while it is empty, submitters sleeping on another while it is full.
 * Written the way a careful engineer would: signals only when somebody waits, sent after the
 * unlock; no allocation per job. Workers are not pinned.
 *
 * Progress: blocking. Every call takes the mutex.
 *
 * Concurrency: every function except create and destroy may be called from any number of
 * threads at once. destroy must not run concurrently with any other call on the same pool.
 *
 * Errors are negative errno values; nothing sets `errno`.
 */
#ifndef LFQ_BENCH_MUTEX_POOL_H
#define LFQ_BENCH_MUTEX_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque mutex+condvar worker pool. */
struct mutex_pool;

/**
 * Creates a pool of @p workers threads and a queue of @p capacity jobs.
 * @return 0; -EINVAL if @p pool is NULL, @p workers is 0 or @p capacity is 0 or above 2^24;
 *         -ENOMEM; or a negated pthread error (nothing leaks).
 */
int mutex_pool_create(struct mutex_pool **pool, unsigned workers, size_t capacity);

/** Runs every queued job, joins the workers and frees the pool. NULL is ignored. */
void mutex_pool_destroy(struct mutex_pool *pool);

/**
 * Queues fn(arg) without waiting.
 * @return 0 if queued; -EAGAIN if the queue is full; -ESHUTDOWN once destroy has begun.
 */
int mutex_pool_submit(struct mutex_pool *pool, int (*fn)(void *), void *arg);

/**
 * Queues fn(arg), sleeping while the queue is full.
 * @return 0 if queued; -ESHUTDOWN once destroy has begun.
 */
int mutex_pool_submit_wait(struct mutex_pool *pool, int (*fn)(void *), void *arg);

/** Sleeps until no job is queued or running. @return 0. */
int mutex_pool_wait_idle(struct mutex_pool *pool);

/** @return the index of the calling worker thread of @p pool, or -1 if it is not one. */
int mutex_pool_worker_index(const struct mutex_pool *pool);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_BENCH_MUTEX_POOL_H */
