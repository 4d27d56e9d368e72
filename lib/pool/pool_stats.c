/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's counters: a snapshot of every worker's and shard's counts, for lfq_pool_stats,
 * wait_idle's idle test and the metrics (pool_metrics.c), and the wake-up of wait_idle
 * callers when the counts may say idle.
 *
 * Labels of this file (see pool_submit.c, pool_worker.c and pool_shutdown.c for the others):
 *   A1  wait_idle/stats: load completed, failed,      acquire; pairs with P2/P3: makes every
 *       cancelled                                     S1 of the finished jobs visible to A2
 *   A2  wait_idle/stats: load shard.submitted,        relaxed: sequenced after A1
 *       shard.accepted
 *   T1  stats: load timers.delayed                    relaxed: a gauge (pool_timer.c)
 *   I1  notify_idle: fence before waking wait_idle    seq_cst; pairs with W2 of wait_idle
 *       callers                                       (pool_shutdown.c)
 *
 * Finished jobs: completed, failed, exhausted, expired (workers, P2) and cancelled (shutdown,
 * P3). A retried run is not a finished job: its job is still in the timer heap.
 *
 * Idle: a job counts as finished when P2 (or P3) has stored it (after its hooks returned). Each
 * finished job's S1 is visible to whoever reads its P2/P3 with A1 (S1 -> E4 -> D3 -> job -> P2 ->
 * A1). So with the finished counts read first (A1) and the submitted shards after (A2), finished <=
 * submitted in every reading, and equality means every submit seen had finished by the moment
 * between the two phases: the pool was idle then. A job submitting a job does its S1 before its own
 * P2, so a tree of jobs is idle only when all of it is done.
 */
#include <errno.h>
#include <string.h>

#include <lfq/pool.h>

#include "pool_internal.h"

/* Reads the finished counts (A1) before the submitted shards (A2); see "Idle". */
void lfq__pool_read_totals(struct lfq_pool *pool, struct lfq__pool_totals *t,
			   struct lfq_pool_worker_stats *per_worker, size_t n)
{
	memset(t, 0, sizeof(*t));
	for (unsigned w = 0; w < pool->nworkers; w++) {
		struct lfq__pool_worker *wk = &pool->workers[w];
		/* A1: pairs with P2; the worker's P1/M1 and its jobs' S1 are visible after it. */
		const uint64_t c = atomic_load_explicit(&wk->completed, memory_order_acquire);
		const uint64_t f = atomic_load_explicit(&wk->failed, memory_order_acquire);
		const uint64_t ex =
			atomic_load_explicit(&wk->exhausted, memory_order_acquire); /* A1 */

		t->exhausted += ex;
		t->expired += atomic_load_explicit(&wk->expired, memory_order_acquire); /* A1 */
		/* Relaxed (M1, P1): statistics read after A1. */
		const uint64_t ear =
			atomic_load_explicit(&wk->expired_after_run, memory_order_relaxed);
		const uint64_t re = atomic_load_explicit(&wk->retried, memory_order_relaxed);

		t->expired_after_run += ear;
		t->retried += re;
		t->started += atomic_load_explicit(&wk->started, memory_order_relaxed);
		for (unsigned l = 0; l < pool->levels; l++)
			t->taken_by[l] += atomic_load_explicit(&wk->taken[l], memory_order_relaxed);
		t->completed += c;
		t->failed += f;
		if (w < n) {
			per_worker[w].completed = c;
			/* Runs that returned nonzero: a permanent failure (failed), or
			 * LFQ_JOB_RETRY (then exhausted, expired after the run, or delayed for a
			 * retry). */
			per_worker[w].failed = f + ex + ear + re;
			per_worker[w].cpu = wk->cpu;
		}
	}
	/* T1 (pool_timer.c): relaxed, a gauge read after A1. */
	t->delayed = atomic_load_explicit(&pool->timers.delayed, memory_order_relaxed);
	/* A1: pairs with P3. */
	t->cancelled = atomic_load_explicit(&pool->cancelled, memory_order_acquire);
	/* A1: pairs with Q6 (pool_cancel.c). */
	t->cancelled += atomic_load_explicit(&pool->cancelled_by_id, memory_order_acquire);
	for (unsigned l = 0; l < pool->levels; l++)
		/* Relaxed: written with `cancelled`, before its P3. */
		t->taken_by[l] += atomic_load_explicit(&pool->reaped[l], memory_order_relaxed);
	uint64_t accepted = 0;

	for (unsigned s = 0; s < LFQ_POOL_SHARDS; s++) {
		for (unsigned l = 0; l < pool->levels; l++) {
			/* A2: sequenced after every A1 above. */
			const uint64_t v = atomic_load_explicit(&pool->shards[s].submitted[l],
								memory_order_relaxed);

			t->submitted_by[l] += v;
			t->attempted += v;
			accepted += atomic_load_explicit(&pool->shards[s].accepted[l],
							 memory_order_relaxed); /* A2 */
		}
	}
	/* The public count: S3 comes after the publish, so a job may finish before its submit
	 * is counted there; every finished job was accepted, so max(accepted, finished) is
	 * still a count of accepted submits, and it never goes down: both terms only grow
	 * (a counter taken back by S2 is never part of it). */
	const uint64_t fin = lfq__pool_finished(t);

	t->submitted = accepted > fin ? accepted : fin;
}

int lfq_pool_stats(const struct lfq_pool *pool, struct lfq_pool_stats *stats,
		   struct lfq_pool_worker_stats *per_worker, size_t n)
{
	if (!pool || !stats || (!per_worker && n > 0))
		return -EINVAL;
	struct lfq_pool *p = (struct lfq_pool *)pool; /* atomic loads need non-const */
	struct lfq__pool_totals t;

	lfq__pool_read_totals(p, &t, per_worker, n); /* min(n, workers) entries */

	/* Runs that ended: each ends as exactly one of these. */
	const uint64_t ended =
		t.completed + t.failed + t.exhausted + t.expired_after_run + t.retried;

	memset(stats, 0, sizeof(*stats));
	stats->submitted = t.submitted;
	stats->completed = t.completed;
	stats->succeeded = t.completed;
	stats->failed = t.failed;
	stats->exhausted = t.exhausted;
	stats->expired = t.expired;
	stats->cancelled = t.cancelled;
	stats->dead = t.failed + t.exhausted + t.expired + t.cancelled;
	stats->retried = t.retried;
	stats->started = t.started;
	stats->delayed = t.delayed;
	stats->running = t.started > ended ? t.started - ended : 0;
	for (unsigned l = 0; l < pool->levels; l++) {
		const uint64_t q =
			t.submitted_by[l] > t.taken_by[l] ? t.submitted_by[l] - t.taken_by[l] : 0;

		stats->queued_by_priority[l] = q;
		stats->queued += q;
	}
	stats->workers = pool->nworkers;
	return 0;
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
