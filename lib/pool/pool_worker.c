/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's workers: each takes jobs from the ready rings (highest level first, with the
 * starvation guard), runs them, accounts for them, delays retries in its timer heap and
 * sleeps when there is nothing to do.
 *
 * The job hand-off is the slot queue's (pool_slots.h): slots[i] = *job (submit)
 * happens-before job = slots[i] (worker) through the ready ring's publish/acquire pair, and
 * the worker's copy happens-before the next submit's write of slot i through the free ring's.
 *
 * Labels of this file (see pool_submit.c, pool_shutdown.c and pool_stats.c for the others):
 *   K2  worker: load closed                           seq_cst (pool_slots.h); pairs with K1
 *   P1  worker: store started                         relaxed: statistics; P2 releases it
 *   P2  worker: store completed / failed              release; pairs with A1
 *   I1  worker: fence before waking idle waiters      seq_cst; pairs with W2 of wait_idle
 *   X1  worker exit: fetch_sub live                   seq_cst (the publish before N1 of
 *                                                     `exited`); pairs with X2
 *   C2  worker: load cancel                           relaxed: after W2 when it decides to
 *                                                     sleep (Dekker with C1/N1); elsewhere a
 *                                                     hint deciding run or hand back for a job
 *                                                     already dequeued (both are correct, and
 *                                                     the job's data came through D3)
 *   T3  retry_later: fence before N1 when a retry     seq_cst: orders T2 (pool_timer.c) before
 *       is due earlier than every other timer         N1; Dekker with W1/W2 of a parking worker
 *   G1  clock_changed: fence before N1                seq_cst: orders the caller's clock store
 *                                                     before N1 (Dekker with W1/W2 of a worker
 *                                                     about to sleep, which then reads the
 *                                                     clock after W2)
 *   M1  worker: store taken[p], retried, delayed,     relaxed: statistics (queued, running,
 *       expired_after_run                             delayed are gauges derived from them)
 *   V1  worker: fetch_add spinning (starts spinning)  seq_cst: with V2, the spinning count
 *                                                     (only with a spin cap)
 *   V2  worker: fetch_sub spinning (stops spinning)   seq_cst; pairs with V3 (a submit that
 *                                                     saw it spinning relies on its next take
 *                                                     or on its re-check before parking)
 *   V3  lfq__pool_wake: load spinning, load waiters   seq_cst, after the publish (a seq_cst
 *       (N1), load waking                             RMW); pairs with V2, W1/W2 and V5/V6
 *   V4  lfq__pool_wake: CAS waking 0 -> 1, then one   seq_cst; pairs with V5/V6. Never
 *       futex wake (N2/N3, waitq.h)                   retried, never undone by the waker
 *   V5  parking worker: exchange waking -> 0 after    seq_cst; pairs with V4: takes over a
 *       finding nothing, then look again              pending wake-up instead of sleeping
 *   V6  worker leaving the park loop with a job:      seq_cst; pairs with V4: the wake-up
 *       exchange waking -> 0                          was for it (or it takes it over)
 *   V7  worker: fence, then the ready count, after    seq_cst: orders V6 (or V2) before the
 *       V6 (or after taking a job as last spinner)    count; see "Waking"
 * Waking, in short (docs/design.md, "Sleeping and waking"): a submit wakes one parked worker
 * only when no worker spins (with a spin cap), one is parked and no wake-up is pending; the
 * wake-up stays pending until a worker has looked for work after it, so that one job wakes
 * at most one worker; a worker that takes a job after parking wakes the next if more are
 * queued. No loop anywhere on the submit side: at most one wake system call per submit.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include <lfq/pool.h>

#include "histogram.h"
#include "pool_internal.h"
#include "testing.h"

#ifdef LFQ_TESTING
void (*_Atomic lfq__pool_test_backoff)(unsigned retry, int64_t bound, int64_t delay);
#endif

/* The least spin budget lfq__pool_spin_budget picks. */
#define MIN_IDLE_SPIN 16

/* The worker running on this thread, if any: for lfq_pool_worker_index and -EDEADLK. */
static _Thread_local struct lfq__pool_worker *tls_worker;

bool lfq__pool_in_own_job(const struct lfq_pool *pool)
{
	return tls_worker && tls_worker->pool == pool;
}

/* Dequeues a slot index from one level: returns 0, -EAGAIN (empty) or -EPIPE (shut down,
 * drained). */
static int take_level(struct lfq_pool *pool, unsigned level, uint64_t *slot)
{
	return lfq__slotq_get_ready(&pool->q, level, slot);
}

/* Tries the levels from `first` up to the top, then from first-1 down to 0 (first = 0:
 * lowest first; first = top: highest first). Returns 0 with the slot and its level, -EAGAIN
 * if every level is empty, or -EPIPE if every level is closed and drained (a level found
 * closed and drained stays so: no enqueue can succeed after the close). */
int lfq__pool_take_from(struct lfq_pool *pool, unsigned first, bool upward, uint64_t *slot,
			unsigned *level)
{
	int rc = -EPIPE;

	for (unsigned k = 0; k < pool->levels; k++) {
		unsigned l;

		if (upward)
			l = first + k < pool->levels ? first + k : pool->levels - 1 - k;
		else
			l = first - k;
		const int r = take_level(pool, l, slot);

		if (r == 0) {
			*level = l;
			return 0;
		}
		if (r == -EAGAIN)
			rc = -EAGAIN;
	}
	return rc;
}

/* A worker's take: highest level first, except that every starve_limit+1-th take starts at
 * the guard level and goes up (the starvation guard, see docs/design.md section 3). */
static int take_one(struct lfq__pool_worker *w, uint64_t *slot, unsigned *level)
{
	struct lfq_pool *pool = w->pool;

	if (pool->levels == 1) {
		*level = 0;
		return take_level(pool, 0, slot);
	}
	if (w->since_guard >= pool->starve_limit) {
		const unsigned g = w->guard_level;
		const int rc = lfq__pool_take_from(pool, g, true, slot, level);

		if (rc == 0) {
			w->since_guard = 0;
			w->guard_level = g + 1 < pool->levels - 1 ? g + 1 : 0;
		}
		return rc;
	}
	const int rc = lfq__pool_take_from(pool, pool->levels - 1, false, slot, level);

	if (rc == 0)
		w->since_guard++;
	return rc;
}

/* Free slots: a snapshot, never above the capacity (a hint for the wake-up hysteresis). */
static size_t free_slots(struct lfq_pool *pool)
{
	return lfq__slotq_free_count(&pool->q);
}

/* Copies the task out of slot i and frees the slot; false if it was a job cancelled by
 * lfq_pool_cancel (pool_cancel.c: the slot is dealt with, there is nothing to run). */
bool lfq__pool_copy_out(struct lfq_pool *pool, uint64_t i, struct lfq__task *task)
{
	*task = pool->slots[i]; /* ours alone until the enqueue below */
	if ((task->flags & LFQ__TASK_HAS_ID) && !lfq__cancel_claim(pool, i, task))
		return false;
	lfq__pool_free_slot(pool, i);
	return true;
}

/* Gives slot i back (waking one submit_wait if any sleeps). */
void lfq__pool_free_slot(struct lfq_pool *pool, uint64_t i)
{
	lfq__slotq_put_free(&pool->q, i);
	/* N1 (as in waitq.h): pairs with W1/W2 of a sleeping submit_wait. Only when one sleeps,
	 * and only once wake_free slots are free (hysteresis): waking a submitter for every
	 * freed slot costs a system call and a context switch per job when the queue is full
	 * (measured: 1 us jobs ran at half the rate). Not lost: the submitter slept on a full
	 * queue, so every later slot freed passes here, and the queue drains past wake_free
	 * while there are jobs; shutdown wakes everyone. A queue that stays short of
	 * wake_free is seen by the submitter's own timed retry (pool_submit.c, 1 ms). */
	if (atomic_load_explicit(&pool->not_full.waiters, memory_order_seq_cst) != 0 &&
	    free_slots(pool) >= pool->wake_free)
		lfq__waitq_wake(&pool->not_full, LFQ_WAITQ_ALL);
}

/* ---------------------------------------------------------------------------------------- */
/* Workers. */

/* C2: the drain timeout passed (relaxed: see the table). */
static bool cancelling(struct lfq_pool *pool)
{
	return atomic_load_explicit(&pool->cancel, memory_order_relaxed);
}

/* If the earliest timer is due, pops it into *task and returns true. Reads the clock only
 * when a timer is pending (T2, one load otherwise); *wait_ns gets how long until the earliest
 * is due (-1: no timer). Any worker pops any due timer: a retry runs on whichever worker is
 * free first. */
static bool timer_due(struct lfq__pool_worker *w, struct lfq__task *task, int64_t *wait_ns)
{
	struct lfq__timers *tm = &w->pool->timers;

	*wait_ns = -1;
	if (w->has_redo) {
		*task = w->redo;
		w->has_redo = false;
		return true;
	}
	/* T2: relaxed, a hint (pool_timer.c); checked again under the lock. */
	const int64_t next = atomic_load_explicit(&tm->next_due, memory_order_relaxed);

	if (next == INT64_MAX)
		return false;
	const int64_t now = lfq__pool_now(w->pool);

	if (next > now) {
		*wait_ns = next - now;
		return false;
	}
	bool got = false;

	pthread_mutex_lock(&tm->lock);
	if (tm->n > 0 && tm->heap[0].due <= now) {
		struct lfq__timer t;

		lfq__timer_pop(tm, &t);
		*task = t.task;
		got = true;
	} else if (tm->n > 0) {
		*wait_ns = tm->heap[0].due - now; /* another worker took the due one */
	}
	pthread_mutex_unlock(&tm->lock);
	return got;
}

/* Shut down and nothing left for this worker: the rings drained (-EPIPE) and no timer
 * pending, or cancelling. A worker that delays a retry later checks the timers itself
 * before it exits, so the last one out never leaves a timer behind. */
static bool done_for_good(struct lfq_pool *pool, int rc)
{
	return rc == -EPIPE && (!lfq__timers_pending(&pool->timers) || cancelling(pool));
}

/* Takes a job from the rings: 0 with the task in *task, -EAGAIN or -EPIPE. */
static int take_task(struct lfq__pool_worker *w, struct lfq__task *task)
{
	uint64_t slot;
	unsigned level;
	int rc;
	bool ours = false;

	while (!ours && (rc = take_one(w, &slot, &level)) == 0) {
		ours = lfq__pool_copy_out(w->pool, slot, task); /* false: cancelled, skip it */
		/* M1: relaxed, statistics. */
		atomic_store_explicit(&w->taken[level],
				      atomic_load_explicit(&w->taken[level], memory_order_relaxed) +
					      1,
				      memory_order_relaxed);
	}
	return rc;
}

unsigned lfq__pool_spin_budget(unsigned configured, unsigned nworkers, unsigned ncpus)
{
	if (configured)
		return configured;
	/* More workers than CPUs: a spinning worker holds a CPU that a submitter (or a worker
	 * with a job) needs, so it spins in proportion to the CPUs (a submitter counted). */
	if (ncpus == 0 || nworkers <= ncpus)
		return LFQ_POOL_DEFAULT_IDLE_SPIN;
	const uint64_t s = (uint64_t)LFQ_POOL_DEFAULT_IDLE_SPIN * ncpus / (nworkers + 1);

	return s < MIN_IDLE_SPIN ? MIN_IDLE_SPIN : (unsigned)s;
}

unsigned lfq__pool_spin_cap(unsigned configured, unsigned nworkers, unsigned ncpus)
{
	/* Workers that fit the CPUs: every submit may wake one (it has a CPU to run on), and
	 * counting spinners would cost two contended RMWs per job (measured: W2/S1 on 2 CPUs
	 * ran at half the rate). A configured budget is the caller's choice for every worker. */
	if (configured || ncpus == 0 || nworkers <= ncpus)
		return 0;
	return ncpus;
}

void lfq__pool_wake(struct lfq_pool *pool)
{
	/* V3: after our publish (a seq_cst RMW), so a spinner that stops later sees the job in
	 * its next take or its re-check (V2 before W1/W2). Without a spin cap nobody counts
	 * itself as spinning and this is always 0. */
	if (pool->spin_cap && atomic_load_explicit(&pool->spinning, memory_order_seq_cst) != 0)
		return;
	/* N1: nobody parked (or about to): a worker that parks later re-checks after W1/W2
	 * and sees the job. */
	if (atomic_load_explicit(&pool->not_empty.waiters, memory_order_seq_cst) == 0)
		return;
	unsigned none = 0;

	/* V4: a wake-up pending already (its wakee, or a registered waiter that takes it over
	 * at V5/V6, looks at the rings after taking it, and sees our job); else it is ours.
	 * The load (seq_cst: the skip relies on it, see docs/design.md) saves the CAS on a
	 * line that is busy while it is set. */
	if (atomic_load_explicit(&pool->waking, memory_order_seq_cst) != 0 ||
	    !atomic_compare_exchange_strong_explicit(&pool->waking, &none, 1, memory_order_seq_cst,
						     memory_order_relaxed))
		return;
	/* N2/N3 (waitq.h). Whether it woke a sleeper or not, `waking` stays set: a worker
	 * counted in `waiters` but not asleep yet finds its futex word changed (the seq bump),
	 * or finds `waking` set at V5, and looks again. No retry here: a submit makes at most
	 * this one system call. */
	lfq__waitq_wake(&pool->not_empty, 1);
}

/* A worker took a job on its way to park (or after a wake-up): takes over the pending
 * wake-up if any (V6), and if more jobs are queued wakes the next worker (a burst spreads
 * over the workers one wake-up at a time, each woken worker waking the next). V7: the fence
 * orders V6 (or V2) before the count's loads, which read what the publish wrote with its
 * seq_cst RMW (the cells from the tail hint on; SCQ's tail ticket): a submit that skipped
 * its wake-up because it saw `waking` set (or us spinning) published before the fence, so
 * its job is counted. */
static void wake_next(struct lfq_pool *pool)
{
	/* V6: seq_cst; pairs with V4 (see "Waking" in docs/design.md). The load saves the
	 * RMW when nothing is pending. */
	if (atomic_load_explicit(&pool->waking, memory_order_seq_cst) != 0)
		atomic_exchange_explicit(&pool->waking, 0, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst); /* V7 */
	for (unsigned l = 0; l < pool->levels; l++) {
		if (lfq__slotq_ready_count(&pool->q, l) > 0) {
			lfq__pool_wake(pool);
			return;
		}
	}
}

/* Stops spinning (V2); with a job, as the last spinner, wakes the next if more wait. */
static void stop_spinning(struct lfq_pool *pool, bool took)
{
	const unsigned before =
		atomic_fetch_sub_explicit(&pool->spinning, 1, memory_order_seq_cst); /* V2 */

	if (took && before == 1)
		wake_next(pool);
}

/* Nothing to run now: spin idle_spin tries (if fewer than spin_cap workers spin), then sleep
 * until a submit, a due timer, the cancel or a clock change. Returns 0 with a task, or
 * -EPIPE when the worker should exit (shut down, drained, and no timers left or
 * cancelling). */
static int wait_for_job(struct lfq__pool_worker *w, struct lfq__task *task)
{
	struct lfq_pool *pool = w->pool;
	int64_t wait_ns;
	int rc;

	if (pool->spin_cap == 0) {
		for (unsigned i = 0; i < pool->idle_spin; i++) {
			lfq__cpu_relax();
			if (timer_due(w, task, &wait_ns))
				return 0;
			rc = take_task(w, task);
			if (rc == 0)
				return 0;
			if (done_for_good(pool, rc))
				return -EPIPE;
		}
	} else if (atomic_load_explicit(&pool->spinning, memory_order_relaxed) < pool->spin_cap) {
		/* Relaxed: only limits the spinners; a stale value lets one more spin or
		 * parks one sooner, both correct. */
		atomic_fetch_add_explicit(&pool->spinning, 1, memory_order_seq_cst); /* V1 */
		LFQ_TEST_POINT(LFQ_TP_POOL_SPINNING);
		for (unsigned i = 0; i < pool->idle_spin; i++) {
			lfq__cpu_relax();
			if (timer_due(w, task, &wait_ns)) {
				stop_spinning(pool, true);
				return 0;
			}
			rc = take_task(w, task);
			if (rc == 0) {
				stop_spinning(pool, true);
				return 0;
			}
			if (done_for_good(pool, rc)) {
				stop_spinning(pool, false);
				return -EPIPE;
			}
		}
		stop_spinning(pool, false);
	}
	for (;;) {
		/* W1/W2 before the checks: a submit, cancel (C1) or clock change (G1) after
		 * them bumps seq and the sleep returns at once. After V2 (or V5): a submit that
		 * saw us spinning (or saw `waking` set) published before them, and the take
		 * below sees its job. */
		const uint32_t key = lfq__waitq_prepare(&pool->not_empty);

		LFQ_TEST_POINT(LFQ_TP_POOL_PARK_REGISTERED);
		rc = take_task(w, task);
		if (rc == 0 || done_for_good(pool, rc)) {
			lfq__waitq_done(&pool->not_empty);
			if (rc == 0)
				wake_next(pool);
			return rc;
		}
		if (rc == -EPIPE)
			LFQ_TEST_POINT(LFQ_TP_POOL_DRAIN_TIMERS);
		if (timer_due(w, task, &wait_ns)) {
			lfq__waitq_done(&pool->not_empty);
			wake_next(pool);
			return 0;
		}
		LFQ_TEST_POINT(LFQ_TP_POOL_PARK_CHECKED);
		/* V5: a wake-up is pending (perhaps meant for us, perhaps sent while we were
		 * counted but not asleep, so that it woke nobody): take it over and look
		 * again instead of sleeping. seq_cst; pairs with V4. */
		if (atomic_load_explicit(&pool->waking, memory_order_seq_cst) != 0 &&
		    atomic_exchange_explicit(&pool->waking, 0, memory_order_seq_cst) != 0) {
			lfq__waitq_done(&pool->not_empty);
			continue;
		}
		/* Sleep no longer than until the earliest timer is due (in real time: the pool's
		 * clock is assumed to run at CLOCK_MONOTONIC's pace, see clock_changed). */
		const int64_t deadline = wait_ns < 0 ? -1 : lfq__deadline(wait_ns);

		LFQ_TEST_POINT(LFQ_TP_POOL_PARK_SLEEP);
		if (!lfq__waitq_sleep(&pool->not_empty, key, deadline))
			lfq__waitq_done(&pool->not_empty);
		LFQ_TEST_POINT(LFQ_TP_POOL_WOKEN);
		/* Woken or not, look again: the wake-up stays pending (`waking` set) until we
		 * have looked, so that no other worker is woken for the same job (V5 or V6
		 * clears it). */
	}
}

static void set_thread_name(const struct lfq__pool_worker *w)
{
	char name[16];

	snprintf(name, sizeof(name), "%s%u", w->pool->name, w->index);
	(void)pthread_setname_np(pthread_self(), name); /* cosmetic: failure is harmless */
}

/* Adds one to a counter only this worker writes; P2 (release): the job is finished, its
 * hooks returned and everything it did (its submits' S1 included) is visible; pairs with
 * A1. */
static void count_finished(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_release);
}

/* M1: a statistic only this worker writes. */
static void count_stat(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* The run asked for a retry: delay it, or end it as exhausted or expired. */
static void retry_later(struct lfq__pool_worker *w, struct lfq__task *t, int64_t now)
{
	struct lfq_pool *pool = w->pool;
	const unsigned max = t->max_attempts ? t->max_attempts : pool->max_attempts;

	if (t->attempts >= max) {
		lfq__pool_call_dead(pool, t, LFQ_DEAD_EXHAUSTED);
		count_finished(&w->exhausted);
		return;
	}
	const unsigned n = t->attempts; /* this is retry n */
	const int64_t bound = lfq__backoff_bound(pool->retry_base_ns, pool->retry_cap_ns, n);
	const int64_t delay = lfq__backoff_ns(pool->retry_base_ns, pool->retry_cap_ns, n,
					      lfq__splitmix64(&w->rng));
#ifdef LFQ_TESTING
	void (*hook)(unsigned, int64_t, int64_t) = atomic_load_explicit(
		&lfq__pool_test_backoff, memory_order_relaxed); /* set before */
	if (hook)
		hook(n, bound, delay);
#endif
	(void)bound;
	/* Saturating (issue 24): a retry due in decades must not wrap into the past and run at
	 * once. INT64_MAX - 1 at most: INT64_MAX means "no timer" to the T2 hint. */
	const int64_t due = now > 0 && delay > INT64_MAX - 1 - now ? INT64_MAX - 1 : now + delay;

	if (t->deadline_ns && due >= t->deadline_ns) {
		/* It could never start in time: dead now rather than at its deadline. */
		lfq__pool_call_dead(pool, t, LFQ_DEAD_EXPIRED);
		count_stat(&w->expired_after_run);
		count_finished(&w->expired);
		return;
	}
	if (pool->log && pool->log_level >= LFQ_LOG_DEBUG) {
		const struct lfq_log_field f[] = {
			{.key = "attempt", .num = t->attempts},
			{.key = "delay_ns", .num = delay},
			{.key = "priority", .num = t->priority},
		};

		lfq__pool_log(pool, LFQ_LOG_DEBUG, "job retry scheduled", f, 3);
	}
	t->ready_ns = due;
	count_stat(&w->retried);
	struct lfq__timers *tm = &pool->timers;

	pthread_mutex_lock(&tm->lock);
	/* T2 under the lock: the earliest due time before this push. */
	const int64_t before = atomic_load_explicit(&tm->next_due, memory_order_relaxed);
	const bool pushed = lfq__timer_push(tm, due, t);

	pthread_mutex_unlock(&tm->lock);
	if (!pushed) {
		/* No memory for the timer: run it again without the backoff rather than lose
		 * it. */
		lfq__pool_log(pool, LFQ_LOG_ERROR, "no memory for a retry timer: retrying now",
			      NULL, 0);
		w->redo = *t;
		w->has_redo = true;
	} else if (due < before) {
		/* The earliest due time moved earlier: a parked worker sleeps until the old one
		 * (or without a deadline). Wake one to re-arm its sleep, so that the retry runs
		 * when due even if this worker is busy by then. T3: the fence orders T2 before
		 * N1 (Dekker with W1/W2 of a worker about to park, which reads T2 after W2). */
		atomic_thread_fence(memory_order_seq_cst);
		lfq__waitq_notify(&pool->not_empty, 1);
	}
}

/*
 * Runs one task (or finds it expired) and accounts for it. *last_end: the clock when the
 * previous task this worker ran ended, if it took this one straight after (else 0). With
 * metrics on, that serves as this task's start time: it saves one clock read per job (a
 * third of the metrics' cost), and the difference is one dequeue, a fraction of a
 * microsecond. Deadlines always read the clock: a job must not start after its deadline.
 */
static void run_task(struct lfq__pool_worker *w, struct lfq__task *t, uint64_t *started,
		     int64_t *last_end)
{
	struct lfq_pool *pool = w->pool;
	int64_t now = 0;

	if (t->deadline_ns || (pool->metrics && !*last_end))
		now = lfq__pool_now(pool);
	else if (pool->metrics)
		now = *last_end;
	*last_end = 0; /* set again below when the job ran with metrics on */
	if (t->deadline_ns && now >= t->deadline_ns) {
		lfq__pool_call_dead(pool, t, LFQ_DEAD_EXPIRED);
		count_finished(&w->expired);
		return;
	}
	if (pool->metrics)
		lfq__hist_record(&w->hist[0],
				 now > t->ready_ns ? (uint64_t)(now - t->ready_ns) : 0);
	/* P1: statistics only (P2 releases it). */
	atomic_store_explicit(&w->started, ++*started, memory_order_relaxed);
	t->attempts++;
	w->current = t; /* the job context (pool_context.c) */
	const int result = t->fn(t->arg);

	w->current = NULL;
	int64_t end = 0;

	if (pool->metrics) {
		end = lfq__pool_now(pool);
		lfq__hist_record(&w->hist[1], end > now ? (uint64_t)(end - now) : 0);
	}
	*last_end = end;
	if (result == 0) {
		if (pool->comp)
			lfq__comp_post(pool, t, 0, 0);
		count_finished(&w->completed); /* P2 */
		return;
	}
	t->last_result = result;
	/* The hooks run before the job counts as finished: wait_idle covers them. */
	if (pool->on_error) {
		const struct lfq_job job = lfq__pool_job_of(t);

		pool->on_error(&job, result, pool->ctx);
	}
	if (result == LFQ_JOB_RETRY) {
		retry_later(w, t, pool->metrics ? end : lfq__pool_now(pool));
		return;
	}
	lfq__pool_call_dead(pool, t, LFQ_DEAD_FAILED);
	count_finished(&w->failed); /* P2 */
}

void *lfq__pool_worker_main(void *arg)
{
	struct lfq__pool_worker *w = arg;
	struct lfq_pool *pool = w->pool;
	uint64_t started = 0; /* local copy: this worker is the only writer */
	int64_t last_end = 0; /* see run_task */
	bool finished_some = false;

	tls_worker = w;
	set_thread_name(w);
	for (;;) {
		struct lfq__task task;
		int64_t wait_ns;
		int rc = 0;

		/* Due retries first, then the rings. The clock is read only with timers. */
		if (!timer_due(w, &task, &wait_ns)) {
			rc = take_task(w, &task);
			if (rc != 0) {
				last_end = 0; /* it will wait: the next start needs the clock */
				if (finished_some) {
					lfq__pool_notify_idle(pool);
					finished_some = false;
				}
				rc = wait_for_job(w, &task);
			}
		}
		if (rc != 0)
			break; /* -EPIPE: shut down, drained, no timers (or cancelling) */
		if (cancelling(pool)) {
			w->stash = task; /* read by the joiner after pthread_join */
			w->stashed = true;
			break;
		}
		run_task(w, &task, &started, &last_end);
		finished_some = true;
	}
	tls_worker = NULL;
	lfq__pool_notify_idle(pool);
	/* X3: a worker leaving a drained pool wakes the parked ones. One of them may have seen a
	 * retry pending (done_for_good: no), then found no timer left (this worker took it) and
	 * parked without a deadline: with nobody to wake it, shutdown would wait out its
	 * timeout. The fence orders this worker's last look at the timers (T2 read INT64_MAX)
	 * and the pop that emptied them before N1: Dekker with W1/W2 of a parking worker, which
	 * reads T2 after W2. Before X1, so the pool is still alive (the joiner may free it once
	 * `live` is 0). */
	atomic_thread_fence(memory_order_seq_cst);
	lfq__waitq_notify(&pool->not_empty, LFQ_WAITQ_ALL);
	/* X1: the publish before N1 of `exited`; pairs with X2 in wait_exited (pool_shutdown.c). */
	atomic_fetch_sub_explicit(&pool->live, 1, memory_order_seq_cst);
	lfq__waitq_notify(&pool->exited, LFQ_WAITQ_ALL);
	return NULL;
}

void lfq_pool_clock_changed(struct lfq_pool *pool)
{
	if (!pool)
		return;
	/* G1: the caller's clock store before N1; see the table. */
	atomic_thread_fence(memory_order_seq_cst);
	lfq__waitq_notify(&pool->not_empty, LFQ_WAITQ_ALL);
}

const struct lfq__pool_worker *lfq__pool_self(const struct lfq_pool *pool)
{
	return lfq__pool_in_own_job(pool) ? tls_worker : NULL;
}

int lfq_pool_worker_index(const struct lfq_pool *pool)
{
	return lfq__pool_in_own_job(pool) ? (int)tls_worker->index : -1;
}

const struct lfq__pool_worker *lfq__pool_current_worker(void)
{
	return tls_worker;
}
