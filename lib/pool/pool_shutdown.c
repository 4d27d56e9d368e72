/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's ends: waiting until it is idle, shutting down (closing the intake, draining,
 * handing back what was not run after the drain timeout, joining the workers), and taking
 * back or discarding the jobs a timed-out shutdown kept (destroy is in pool.c).
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
 *   C1f fence after C1                                seq_cst: redundant in C11, for emulators
 *                                                     (see the ring's K1f)
 */
#include <errno.h>
#include <pthread.h>

#include <lfq/pool.h>

#include "pool_internal.h"

/* The pool whose shutdown this thread is inside (holding shutdown_lock), if any: its hooks
 * (on_cancelled, on_dead, log) run on this thread and must not wait for the pool. */
static _Thread_local const struct lfq_pool *tls_shutting_down;

/* Would a wait for this pool (idle, or the workers joined) wait for the caller itself? */
bool lfq__pool_waits_for_itself(const struct lfq_pool *pool)
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
	if (lfq__pool_waits_for_itself(pool))
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

/* Takes the job from slot i of a ring after the cancel (shutdown_lock held): false if
 * lfq_pool_cancel had taken it already. */
static bool reap_slot(struct lfq_pool *pool, uint64_t slot, unsigned level, struct lfq__task *t)
{
	const bool ours = lfq__pool_copy_out(pool, slot, t);

	/* Relaxed: read with `cancelled`, which P3 releases after it. */
	atomic_store_explicit(&pool->reaped[level],
			      atomic_load_explicit(&pool->reaped[level], memory_order_relaxed) + 1,
			      memory_order_relaxed);
	return ours;
}

/* Takes one job that never started out of the pool (shutdown_lock held, workers joined):
 * a worker's stash or redo, a queued job, or a delayed retry. false if none is left. */
static bool take_one_unstarted(struct lfq_pool *pool, struct lfq__task *t)
{
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct lfq__pool_worker *w = &pool->workers[i];

		if (w->stashed) {
			*t = w->stash;
			w->stashed = false;
			return true;
		}
		if (w->has_redo) {
			*t = w->redo;
			w->has_redo = false;
			return true;
		}
	}
	uint64_t slot;
	unsigned level;

	while (lfq__pool_take_from(pool, 0, true, &slot, &level) == 0)
		if (reap_slot(pool, slot, level, t))
			return true;
	/* The timers: no worker is left to take the lock (held for the pop's T1/T2 only). */
	bool got = false;

	pthread_mutex_lock(&pool->timers.lock);
	if (pool->timers.n > 0) {
		struct lfq__timer tm;

		lfq__timer_pop(&pool->timers, &tm);
		*t = tm.task;
		got = true;
	}
	pthread_mutex_unlock(&pool->timers.lock);
	return got;
}

int lfq_pool_shutdown(struct lfq_pool *pool, int64_t drain_timeout_ns)
{
	if (!pool)
		return -EINVAL;
	const int64_t deadline = lfq__deadline(drain_timeout_ns);

	lfq__pool_close_intake(pool);
	/* From a job, or from a hook this very shutdown called: the lock is ours already, or
	 * the workers we would join include this thread. */
	if (lfq__pool_waits_for_itself(pool))
		return -EDEADLK;

	pthread_mutex_lock(&pool->shutdown_lock);
	if (pool->joined) {
		pthread_mutex_unlock(&pool->shutdown_lock);
		return 0;
	}
	int rc = 0;
	const bool hooks = pool->on_cancelled || pool->on_dead;

	tls_shutting_down = pool;

	lfq__pool_log(pool, LFQ_LOG_INFO, "shutdown: draining", NULL, 0);
	if (!wait_exited(pool, deadline)) {
		rc = -ETIMEDOUT;
		lfq__pool_log(pool, LFQ_LOG_WARN,
			      hooks ? "shutdown: drain timeout, cancelling the jobs not started"
				    : "shutdown: drain timeout, keeping the jobs not started for "
				      "lfq_pool_take_unstarted",
			      NULL, 0);
		/* C1: workers that dequeue a job from now on hand it back (stash it), and those
		 * sleeping on a retry timer wake up and exit (N1 below pairs with their W1/W2;
		 * they check C2 after W2). With or without hooks: the drain timeout bounds the
		 * shutdown by one running job (issue 22). */
		atomic_store_explicit(&pool->cancel, true, memory_order_seq_cst);
		/* C1f: redundant in C11 (C1 and N1 are seq_cst), as the ring close's K1f: QEMU's
		 * TCG on x86-64 hosts lets an arm64 STLR pass a later LDAR. Once per shutdown. */
		atomic_thread_fence(memory_order_seq_cst);
		lfq__waitq_notify(&pool->not_empty, LFQ_WAITQ_ALL);
		uint64_t slot;
		unsigned level;

		/* With hooks, hand the queued jobs back now, while the running ones finish;
		 * without, they stay queued for lfq_pool_take_unstarted. */
		while (hooks && lfq__pool_take_from(pool, 0, true, &slot, &level) == 0) {
			struct lfq__task task;

			if (reap_slot(pool, slot, level, &task)) /* else cancel took it already */
				hand_back(pool, &task);
		}
	}
	for (unsigned i = 0; i < pool->nworkers; i++)
		pthread_join(pool->workers[i].thread, NULL);
	/* The workers are gone: their stashes and the timer heap are ours (pthread_join). With
	 * hooks, everything not started goes to them; without, it waits for
	 * lfq_pool_take_unstarted (or destroy). */
	struct lfq__task task;

	while (hooks && take_one_unstarted(pool, &task))
		hand_back(pool, &task);
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

size_t lfq_pool_take_unstarted(struct lfq_pool *pool, struct lfq_job *jobs, size_t n)
{
	if (!pool || !jobs || n == 0 || lfq__pool_waits_for_itself(pool))
		return 0;
	size_t k = 0;

	pthread_mutex_lock(&pool->shutdown_lock);
	if (pool->joined) {
		struct lfq__task task;

		tls_shutting_down = pool;
		while (k < n && take_one_unstarted(pool, &task)) {
			jobs[k++] = lfq__pool_job_of(&task);
			hand_back(pool, &task); /* counted as cancelled; no hook is set */
		}
		tls_shutting_down = NULL;
	}
	pthread_mutex_unlock(&pool->shutdown_lock);
	if (k > 0)
		lfq__pool_notify_idle(pool); /* they count as finished now */
	return k;
}

void lfq__pool_discard_unstarted(struct lfq_pool *pool)
{
	struct lfq__task task;

	pthread_mutex_lock(&pool->shutdown_lock);
	tls_shutting_down = pool;
	while (take_one_unstarted(pool, &task))
		hand_back(pool, &task);
	tls_shutting_down = NULL;
	pthread_mutex_unlock(&pool->shutdown_lock);
}
