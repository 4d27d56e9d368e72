/* SPDX-License-Identifier: MIT */
/**
 * @file uv_pool_peer.h
 * uv_pool_peer: a benchmark peer for lfq_pool. libuv's threadpool (libuv1-dev) behind the
 * calling convention of bench/baselines/mutex_pool.h.
 *
 * How libuv is used, as its documentation describes the threadpool: uv_queue_work(loop, req,
 * work_cb, after_work_cb) runs work_cb(req) on one of the process's threadpool threads and
 * then after_work_cb on the loop's thread, the next time that thread runs uv_run.
 * uv_queue_work may only be called from the thread that runs the loop, so each submitting
 * thread gets its own loop (as a program with one event loop per thread has), which it runs
 * without blocking (UV_RUN_NOWAIT) every 64 submits to take its finished requests back, and
 * to the end (UV_RUN_DEFAULT) when the thread exits. Requests come from a per-thread free
 * list: no allocation per job once warm.
 *
 * libuv has one threadpool per process, sized once, when it is first used, by the
 * environment variable UV_THREADPOOL_SIZE (default 4): uv_pool_create accepts only that
 * many workers (uv_pool_threads). The queue is unbounded: capacity is ignored and submit
 * never waits. "Idle" is counted by the peer (a pending count and a condition variable).
 * Every job of one pool must have the same fn, as in glib_pool_peer.h.
 *
 * Progress: blocking (the threadpool's mutex). Errors are negative errno values.
 */
#ifndef LFQ_BENCH_UV_POOL_PEER_H
#define LFQ_BENCH_UV_POOL_PEER_H

#ifdef __cplusplus
extern "C" {
#endif

struct uv_pool;

/** The threadpool's size as libuv will set it from UV_THREADPOOL_SIZE (read it before the
 * first uv_pool_create; setting the variable afterwards changes nothing). */
unsigned uv_pool_threads(void);
/** @return 0; -EINVAL (NULL pool); -ENOTSUP if workers != uv_pool_threads(); -ENOMEM. */
int uv_pool_create(struct uv_pool **pool, unsigned workers);
/** Waits until every job has returned and frees the pool (the threads stay: libuv's).
 * NULL is ignored. */
void uv_pool_destroy(struct uv_pool *pool);
/** Queues fn(arg) on the calling thread's loop. @return 0; -EINVAL for a fn unlike earlier
 * jobs'; -ENOMEM; or uv_queue_work's error. */
int uv_pool_submit(struct uv_pool *pool, int (*fn)(void *), void *arg);
/** Sleeps until every job submitted so far has returned. @return 0. */
int uv_pool_wait_idle(struct uv_pool *pool);
/** @return the calling threadpool thread's index, or -1 on any other thread. */
int uv_pool_worker_index(const struct uv_pool *pool);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_BENCH_UV_POOL_PEER_H */
