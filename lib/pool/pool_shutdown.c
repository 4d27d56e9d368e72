/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's ends: waiting until it is idle, shutting down (closing the intake, draining,
 * handing back what was not run after the drain timeout, joining the workers) and
 * destroying it.
 *
 * Labels of this file (see pool_submit.c, pool_worker.c and pool_stats.c for the others):
 *   K1  shutdown: close the ready rings               seq_cst (pool_slots.h); every later
 *                                                     submit's publish then fails; pairs with K2
 *   P3  shutdown: store cancelled                     release; pairs with A1
 *   I1  fence before waking idle waiters              seq_cst; pairs with W2 of wait_idle
 *   X2  shutdown: load live                           seq_cst, after W2 of `exited`; pairs
 *                                                     with X1
 *   C1  shutdown: store cancel                        seq_cst: the publish before N1 of
 *                                                     not_empty (workers sleeping on a retry
 *                                                     timer must wake); pairs with C2
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>

#include <lfq/pool.h>

#include "pool_internal.h"

/* The pool whose shutdown this thread is inside (holding shutdown_lock), if any: its hooks
 * (on_cancelled, on_dead, log) run on this thread and must not wait for the pool. */
static _Thread_local const struct lfq_pool *tls_shutting_down;

/* Would a wait for this pool (idle, or the workers joined) wait for the caller itself? */
static bool waits_for_itself(const struct lfq_pool *pool)
{
	return lfq__pool_in_own_job(pool) || tls_shutting_down == pool;
}

/* Stops intake: K1 on every level, then wake everyone who waits for a change. */
void lfq__pool_close_intake(struct lfq_pool *pool)
{
	lfq__slotq_close(&pool->q); /* K1: from here on every publish on a level fails */
	lfq__waitq_notify(&pool->not_empty, LFQ_WAITQ_ALL);
	lfq__waitq_notify(&pool->not_full, LFQ_WAITQ_ALL);
}

static bool is_idle(struct lfq_pool *pool)
{
	struct lfq__pool_totals t;

	lfq__pool_read_totals(pool, &t, NULL, 0);
	return lfq__pool_finished(&t) >= t.attempted;
}

/* Called by a worker that finished jobs and then found the queue empty (or is exiting): the
 * pool may be idle now. Costs a fence only on that transition, and a wake-up only if some
 * thread sleeps in wait_idle. */
void lfq__pool_notify_idle(struct lfq_pool *pool)
{
	/* I1: orders this worker's P2 stores before N1's load of the waiter count; pairs with
	 * W2 in wait_idle (Dekker: N1 sees the waiter, or its re-check sees our P2). */
	atomic_thread_fence(memory_order_seq_cst);
	lfq__waitq_notify(&pool->idle, LFQ_WAITQ_ALL);
}

/* Waits until every worker has left its loop, or the deadline (< 0: none) passes. */
static bool wait_exited(struct lfq_pool *pool, int64_t deadline)
{
	for (;;) {
		const uint32_t key = lfq__waitq_prepare(&pool->exited);
		/* X2: after W2; pairs with X1. */
		const unsigned live = atomic_load_explicit(&pool->live, memory_order_seq_cst);

		if (live == 0 || (deadline >= 0 && lfq__now_ns() >= deadline)) {
			lfq__waitq_done(&pool->exited);
			return live == 0;
		}
		if (!lfq__waitq_sleep(&pool->exited, key, deadline))
			lfq__waitq_done(&pool->exited);
	}
}

int lfq_pool_wait_idle(struct lfq_pool *pool, int64_t timeout_ns)
{
	if (!pool)
		return -EINVAL;
	if (waits_for_itself(pool))
		return -EDEADLK;
	if (is_idle(pool))
		return 0;
	if (timeout_ns == 0)
		return -EAGAIN;
	const int64_t deadline = lfq__deadline(timeout_ns);

	for (;;) {
		/* W1-W3: announce, then re-check (pairs with I1 in the workers). */
		const uint32_t key = lfq__waitq_prepare(&pool->idle);
		const bool idle = is_idle(pool);

		if (idle || (deadline >= 0 && lfq__now_ns() >= deadline)) {
			lfq__waitq_done(&pool->idle);
			return idle ? 0 : -ETIMEDOUT;
		}
		if (!lfq__waitq_sleep(&pool->idle, key, deadline))
			lfq__waitq_done(&pool->idle);
	}
}

/* Hands one job back (shutdown_lock held: the only writer of `cancelled`). */
static void hand_back(struct lfq_pool *pool, const struct lfq__task *task)
{
	lfq__pool_call_cancelled(pool, task); /* on_dead, or on_cancelled: one of them */
	const uint64_t n = atomic_load_explicit(&pool->cancelled, memory_order_relaxed) + 1;

	/* P3: the job is finished as far as wait_idle goes; pairs with A1. */
	atomic_store_explicit(&pool->cancelled, n, memory_order_release);
}

int lfq_pool_shutdown(struct lfq_pool *pool, int64_t drain_timeout_ns)
{
	if (!pool)
		return -EINVAL;
	const int64_t deadline = lfq__deadline(drain_timeout_ns);

	lfq__pool_close_intake(pool);
	/* From a job, or from a hook this very shutdown called: the lock is ours already, or
	 * the workers we would join include this thread. */
	if (waits_for_itself(pool))
		return -EDEADLK;

	pthread_mutex_lock(&pool->shutdown_lock);
	if (pool->joined) {
		pthread_mutex_unlock(&pool->shutdown_lock);
		return 0;
	}
	int rc = 0;

	tls_shutting_down = pool;

	lfq__pool_log(pool, LFQ_LOG_INFO, "shutdown: draining", NULL, 0);
	if (!wait_exited(pool, deadline)) {
		rc = -ETIMEDOUT;
		if (pool->on_cancelled || pool->on_dead) {
			lfq__pool_log(pool, LFQ_LOG_WARN,
				      "shutdown: drain timeout, cancelling the jobs not started",
				      NULL, 0);
			/* C1: workers that dequeue a job from now on hand it back, and those
			 * sleeping on a retry timer wake up and exit (N1 below pairs with their
			 * W1/W2; they check C2 after W2). */
			atomic_store_explicit(&pool->cancel, true, memory_order_seq_cst);
			lfq__waitq_notify(&pool->not_empty, LFQ_WAITQ_ALL);
			uint64_t slot;
			unsigned level;

			while (lfq__pool_take_from(pool, 0, true, &slot, &level) == 0) {
				struct lfq__task task;

				const bool ours = lfq__pool_copy_out(pool, slot, &task);

				/* Relaxed: read with `cancelled`, which P3 releases after it. */
				atomic_store_explicit(&pool->reaped[level],
						      atomic_load_explicit(&pool->reaped[level],
									   memory_order_relaxed) +
							      1,
						      memory_order_relaxed);
				if (ours) /* else lfq_pool_cancel took it already */
					hand_back(pool, &task);
			}
		}
	}
	for (unsigned i = 0; i < pool->nworkers; i++)
		pthread_join(pool->workers[i].thread, NULL);
	/* The workers are gone: their stashes and timer heaps are ours (pthread_join). */
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct lfq__pool_worker *w = &pool->workers[i];

		if (w->stashed) {
			hand_back(pool, &w->stash);
			w->stashed = false;
		}
		if (w->has_redo) {
			hand_back(pool, &w->redo);
			w->has_redo = false;
		}
		while (w->nheap > 0) {
			struct lfq__timer t;

			lfq__timer_pop(w, &t);
			hand_back(pool, &t.task);
		}
	}
	pool->joined = true;
	tls_shutting_down = NULL;
	pthread_mutex_unlock(&pool->shutdown_lock);
	lfq__pool_notify_idle(pool); /* cancelled jobs count as finished */
	if (pool->log && pool->log_level >= LFQ_LOG_INFO) {
		struct lfq__pool_totals t;

		lfq__pool_read_totals(pool, &t, NULL, 0);
		const struct lfq_log_field f[] = {
			{.key = "submitted", .num = (int64_t)t.submitted},
			{.key = "succeeded", .num = (int64_t)t.completed},
			{.key = "dead", .num = (int64_t)(lfq__pool_finished(&t) - t.completed)},
			{.key = "timed_out", .str = rc ? "true" : "false"},
		};

		lfq__pool_log(pool, LFQ_LOG_INFO, "shutdown: done", f, sizeof(f) / sizeof(f[0]));
	}
	return rc;
}

void lfq_pool_destroy(struct lfq_pool *pool)
{
	if (!pool)
		return;
	assert(!lfq__pool_in_own_job(pool));
	/* With no timeout every accepted job runs; the result can only be 0. */
	const int rc = lfq_pool_shutdown(pool, -1);

	assert(rc == 0);
	(void)rc;
	pthread_mutex_destroy(&pool->shutdown_lock);
	lfq__pool_free(pool);
}
