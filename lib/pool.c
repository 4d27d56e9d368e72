/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool: worker threads fed by one SCQ ring of job slots (see pool_internal.h for the
 * layout and docs/design.md section 3 for the design and the measurements behind it).
 *
 * The job hand-off is the slot queue's (pool_slots.h): slots[i] = *job (submit)
 * happens-before job = slots[i] (worker) through the ready ring's publish/acquire pair, and
 * the worker's copy happens-before the next submit's write of slot i through the free ring's.
 *
 * Labels of this file:
 *   K1  shutdown: close the ready rings               seq_cst (pool_slots.h); every later
 *                                                     submit's publish then fails; pairs with K2
 *   K2  worker/submit: load closed                    seq_cst (pool_slots.h)
 *   S1  submit: fetch_add shard.submitted             relaxed: ordered before the publish E4
 *                                                     (a release), see "idle" below
 *   S2  failed submit: fetch_sub shard.submitted      relaxed, same reason
 *   S3  accepted submit: fetch_add shard.accepted     relaxed: statistics (the public
 *                                                     `submitted`), never taken back
 *   P1  worker: store started                         relaxed: statistics; P2 releases it
 *   P2  worker: store completed / failed              release; pairs with A1
 *   P3  shutdown: store cancelled                     release; pairs with A1
 *   A1  wait_idle/stats: load completed, failed,      acquire; pairs with P2/P3: makes every
 *       cancelled                                     S1 of the finished jobs visible to A2
 *   A2  wait_idle/stats: load shard.submitted,        relaxed: sequenced after A1
 *       shard.accepted
 *   I1  worker: fence before waking idle waiters      seq_cst; pairs with W2 of wait_idle
 *   X1  worker exit: fetch_sub live                   seq_cst (the publish before N1 of
 *                                                     `exited`); pairs with X2
 *   X2  shutdown: load live                           seq_cst, after W2 of `exited`
 *   C1  shutdown: store cancel                        seq_cst: the publish before N1 of
 *                                                     not_empty (workers sleeping on a retry
 *                                                     timer must wake); pairs with C2
 *   C2  worker: load cancel                           relaxed: after W2 when it decides to
 *                                                     sleep (Dekker with C1/N1); elsewhere a
 *                                                     hint deciding run or hand back for a job
 *                                                     already dequeued (both are correct, and
 *                                                     the job's data came through D3)
 *   G1  clock_changed: fence before N1                seq_cst: orders the caller's clock store
 *                                                     before N1 (Dekker with W1/W2 of a worker
 *                                                     about to sleep, which then reads the
 *                                                     clock after W2)
 *   M1  worker: store taken[p], retried, delayed,     relaxed: statistics (queued, running,
 *       expired_after_run                             delayed are gauges derived from them)
 *
 * Finished jobs: completed, failed, exhausted, expired (workers, P2) and cancelled (shutdown,
 * P3). A retried run is not a finished job: its job is still in a timer heap.
 *
 * Idle: a job counts as finished when P2 (or P3) has stored it (after its hooks returned). Each
 * finished job's S1 is visible to whoever reads its P2/P3 with A1 (S1 -> E4 -> D3 -> job -> P2 ->
 * A1). So with the finished counts read first (A1) and the submitted shards after (A2), finished <=
 * submitted in every reading, and equality means every submit seen had finished by the moment
 * between the two phases: the pool was idle then. A job submitting a job does its S1 before its own
 * P2, so a tree of jobs is idle only when all of it is done.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lfq/pool.h>

#include "histogram.h"
#include "pool_internal.h"

#ifdef LFQ_TESTING
void (*_Atomic lfq__pool_test_backoff)(unsigned retry, int64_t bound, int64_t delay);
#endif

/* Most free slots a sleeping submit_wait waits for before a worker wakes it (see copy_out). */
#define WAKE_FREE_MAX 64

/* Tries a submit_wait makes (with a pause between them) before it sleeps. */
#define SUBMIT_WAIT_SPINS 16

/* The worker running on this thread, if any: for lfq_pool_worker_index and -EDEADLK. */
static _Thread_local struct lfq__pool_worker *tls_worker;
/* This thread's submit shard + 1 (0: not assigned yet). */
static _Thread_local unsigned tls_shard;
/* Hands out shards round-robin to threads as they first submit. */
static _Atomic unsigned next_shard;

static struct lfq__pool_shard *my_shard(struct lfq_pool *pool)
{
	unsigned s = tls_shard;

	if (s == 0) {
		/* Relaxed: only spreads threads over shards; any value is correct. */
		s = atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) %
			    LFQ_POOL_SHARDS +
		    1;
		tls_shard = s;
	}
	return &pool->shards[s - 1];
}

static bool in_own_job(const struct lfq_pool *pool)
{
	return tls_worker && tls_worker->pool == pool;
}

/* The pool whose shutdown this thread is inside (holding shutdown_lock), if any: its hooks
 * (on_cancelled, on_dead, log) run on this thread and must not wait for the pool. */
static _Thread_local const struct lfq_pool *tls_shutting_down;

/* Would a wait for this pool (idle, or the workers joined) wait for the caller itself? */
static bool waits_for_itself(const struct lfq_pool *pool)
{
	return in_own_job(pool) || tls_shutting_down == pool;
}

/* ---------------------------------------------------------------------------------------- */
/* The queue. */

/* The pool's clock. */
static int64_t clock_now(const struct lfq_pool *pool)
{
	return pool->clock ? pool->clock(pool->ctx) : lfq__now_ns();
}

/* Accepts *job into a slot without the wake-up: returns 0, -EAGAIN or -ESHUTDOWN. */
static int submit_one(struct lfq_pool *pool, const struct lfq_job *job)
{
	const unsigned p = job->priority;
	uint64_t i;

	if (!lfq__slotq_get_free(&pool->q, &i))
		return lfq__slotq_closed(&pool->q, p) ? -ESHUTDOWN : -EAGAIN; /* K2 */
	struct lfq__task *t = &pool->slots[i]; /* ours alone: we hold index i */

	memcpy(t, job, sizeof(*t));
	t->attempts = 0;
	t->last_result = 0;
	t->ready_ns = pool->metrics ? clock_now(pool) : 0;
	struct lfq__pool_shard *shard = my_shard(pool);

	/* S1: counted before it can run (the publish below releases it); see "Idle" above. */
	atomic_fetch_add_explicit(&shard->submitted[p], 1, memory_order_relaxed);
	LFQ_TEST_POINT(LFQ_TP_POOL_SUBMIT_COUNTED);
	if (!lfq__slotq_put_ready(&pool->q, p, i)) {
		/* Shut down before our publish: not accepted; the slot goes back. */
		atomic_fetch_sub_explicit(&shard->submitted[p], 1, memory_order_relaxed); /* S2 */
		lfq__slotq_put_free(&pool->q, i);
		/* A wait_idle may have seen our S1 and be asleep waiting for it. I1: the S2
		 * above is then visible to its re-check, or N1 sees it waiting. */
		atomic_thread_fence(memory_order_seq_cst);
		lfq__waitq_notify(&pool->idle, LFQ_WAITQ_ALL);
		return -ESHUTDOWN;
	}
	/* S3: accepted for good; the public counter only ever grows. */
	atomic_fetch_add_explicit(&shard->accepted[p], 1, memory_order_relaxed);
	return 0;
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
static int take_from(struct lfq_pool *pool, unsigned first, bool upward, uint64_t *slot,
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
		const int rc = take_from(pool, g, true, slot, level);

		if (rc == 0) {
			w->since_guard = 0;
			w->guard_level = g + 1 < pool->levels - 1 ? g + 1 : 0;
		}
		return rc;
	}
	const int rc = take_from(pool, pool->levels - 1, false, slot, level);

	if (rc == 0)
		w->since_guard++;
	return rc;
}

/* Free slots: a snapshot, never above the capacity (a hint for the wake-up hysteresis). */
static size_t free_slots(struct lfq_pool *pool)
{
	return lfq__slotq_free_count(&pool->q);
}

/* Copies the task out of slot i and frees the slot (waking one submit_wait if any sleeps). */
static void copy_out(struct lfq_pool *pool, uint64_t i, struct lfq__task *task)
{
	*task = pool->slots[i]; /* ours alone until the enqueue below */
	lfq__slotq_put_free(&pool->q, i);
	/* N1 (as in waitq.h): pairs with W1/W2 of a sleeping submit_wait. Only when one sleeps,
	 * and only once wake_free slots are free (hysteresis): waking a submitter for every
	 * freed slot costs a system call and a context switch per job when the queue is full
	 * (measured: 1 us jobs ran at half the rate). Not lost: the submitter slept on a full
	 * queue, so every later slot freed passes here, and the queue drains past wake_free
	 * while there are jobs; shutdown wakes everyone. */
	if (atomic_load_explicit(&pool->not_full.waiters, memory_order_seq_cst) != 0 &&
	    free_slots(pool) >= pool->wake_free)
		lfq__waitq_wake(&pool->not_full, LFQ_WAITQ_ALL);
}

/* Stops intake: K1 on every level, then wake everyone who waits for a change. */
static void close_intake(struct lfq_pool *pool)
{
	lfq__slotq_close(&pool->q); /* K1: from here on every publish on a level fails */
	lfq__waitq_notify(&pool->not_empty, LFQ_WAITQ_ALL);
	lfq__waitq_notify(&pool->not_full, LFQ_WAITQ_ALL);
}

/* The public view of a task. */
static struct lfq_job job_of(const struct lfq__task *t)
{
	return (struct lfq_job){.fn = t->fn,
				.arg = t->arg,
				.deadline_ns = t->deadline_ns,
				.max_attempts = t->max_attempts,
				.priority = t->priority};
}

static const char *const dead_names[] = {"", "failed", "exhausted", "expired", "cancelled"};

/* ---------------------------------------------------------------------------------------- */
/* Logging. */

void lfq__pool_log(const struct lfq_pool *pool, int level, const char *msg,
		   const struct lfq_log_field *fields, size_t n)
{
	if (pool->log && (unsigned)level <= pool->log_level)
		pool->log(level, msg, fields, n, pool->ctx);
}

static void log_dead(const struct lfq_pool *pool, const struct lfq__task *t, int reason)
{
	if (!pool->log || pool->log_level < LFQ_LOG_WARN)
		return;
	const struct lfq_log_field f[] = {
		{.key = "reason", .str = dead_names[reason]},
		{.key = "attempts", .num = t->attempts},
		{.key = "last_result", .num = t->last_result},
		{.key = "priority", .num = t->priority},
	};

	lfq__pool_log(pool, LFQ_LOG_WARN, "job dead", f, sizeof(f) / sizeof(f[0]));
}

/* Hands a dead job to the hooks (the caller counts it afterwards, as finished). */
static void call_dead(const struct lfq_pool *pool, const struct lfq__task *t, int reason)
{
	log_dead(pool, t, reason);
	if (pool->on_dead) {
		const struct lfq_job job = job_of(t);

		pool->on_dead(&job, reason, t->attempts, t->last_result, pool->ctx);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Counters. */

static uint64_t finished(const struct lfq__pool_totals *t)
{
	return t->completed + t->failed + t->exhausted + t->expired + t->cancelled;
}

/* Reads the finished counts (A1) before the submitted shards (A2); see "Idle" above. */
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
		t->delayed += atomic_load_explicit(&wk->delayed, memory_order_relaxed);
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
	/* A1: pairs with P3. */
	t->cancelled = atomic_load_explicit(&pool->cancelled, memory_order_acquire);
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
	const uint64_t fin = finished(t);

	t->submitted = accepted > fin ? accepted : fin;
}

static bool is_idle(struct lfq_pool *pool)
{
	struct lfq__pool_totals t;

	lfq__pool_read_totals(pool, &t, NULL, 0);
	return finished(&t) >= t.attempted;
}

/* Called by a worker that finished jobs and then found the queue empty (or is exiting): the
 * pool may be idle now. Costs a fence only on that transition, and a wake-up only if some
 * thread sleeps in wait_idle. */
static void notify_idle(struct lfq_pool *pool)
{
	/* I1: orders this worker's P2 stores before N1's load of the waiter count; pairs with
	 * W2 in wait_idle (Dekker: N1 sees the waiter, or its re-check sees our P2). */
	atomic_thread_fence(memory_order_seq_cst);
	lfq__waitq_notify(&pool->idle, LFQ_WAITQ_ALL);
}

/* ---------------------------------------------------------------------------------------- */
/* Workers. */

/* C2: the drain timeout passed (relaxed: see the table). */
static bool cancelling(struct lfq_pool *pool)
{
	return atomic_load_explicit(&pool->cancel, memory_order_relaxed);
}

/* If the earliest timer is due, pops it into *task and returns true. Reads the clock only
 * when there is a timer; *wait_ns gets how long until it is due (-1: no timer). */
static bool timer_due(struct lfq__pool_worker *w, struct lfq__task *task, int64_t *wait_ns)
{
	*wait_ns = -1;
	if (w->has_redo) {
		*task = w->redo;
		w->has_redo = false;
		return true;
	}
	if (w->nheap == 0)
		return false;
	const int64_t now = clock_now(w->pool);

	if (w->heap[0].due > now) {
		*wait_ns = w->heap[0].due - now;
		return false;
	}
	struct lfq__timer t;

	lfq__timer_pop(w, &t);
	*task = t.task;
	return true;
}

/* Takes a job from the rings: 0 with the task in *task, -EAGAIN or -EPIPE. */
static int take_task(struct lfq__pool_worker *w, struct lfq__task *task)
{
	uint64_t slot;
	unsigned level;
	const int rc = take_one(w, &slot, &level);

	if (rc == 0) {
		copy_out(w->pool, slot, task);
		/* M1: relaxed, statistics. */
		atomic_store_explicit(&w->taken[level],
				      atomic_load_explicit(&w->taken[level], memory_order_relaxed) +
					      1,
				      memory_order_relaxed);
	}
	return rc;
}

/* Nothing to run now: spin idle_spin tries, then sleep until a submit, a due timer, the
 * cancel or a clock change. Returns 0 with a task, or -EPIPE when the worker should exit
 * (shut down, drained, and no timers left or cancelling). */
static int wait_for_job(struct lfq__pool_worker *w, struct lfq__task *task)
{
	struct lfq_pool *pool = w->pool;
	int64_t wait_ns;
	int rc;

	for (unsigned i = 0; i < pool->idle_spin; i++) {
		lfq__cpu_relax();
		if (timer_due(w, task, &wait_ns))
			return 0;
		rc = take_task(w, task);
		if (rc == 0)
			return 0;
		if (rc == -EPIPE && (w->nheap == 0 || cancelling(pool)))
			return -EPIPE;
	}
	for (;;) {
		/* W1/W2 before the checks: a submit, cancel (C1) or clock change (G1) after
		 * them bumps seq and the sleep returns at once. */
		const uint32_t key = lfq__waitq_prepare(&pool->not_empty);

		rc = take_task(w, task);
		if (rc == 0 || (rc == -EPIPE && (w->nheap == 0 || cancelling(pool)))) {
			lfq__waitq_done(&pool->not_empty);
			return rc;
		}
		if (timer_due(w, task, &wait_ns)) {
			lfq__waitq_done(&pool->not_empty);
			return 0;
		}
		/* Sleep no longer than until the earliest timer is due (in real time: the pool's
		 * clock is assumed to run at CLOCK_MONOTONIC's pace, see clock_changed). */
		const int64_t deadline = wait_ns < 0 ? -1 : lfq__deadline(wait_ns);

		if (!lfq__waitq_sleep(&pool->not_empty, key, deadline))
			lfq__waitq_done(&pool->not_empty);
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
		call_dead(pool, t, LFQ_DEAD_EXHAUSTED);
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
	const int64_t due = now + delay;

	if (t->deadline_ns && due >= t->deadline_ns) {
		/* It could never start in time: dead now rather than at its deadline. */
		call_dead(pool, t, LFQ_DEAD_EXPIRED);
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
	if (!lfq__timer_push(w, due, t)) {
		/* No memory for the timer: run it again without the backoff rather than lose
		 * it. */
		lfq__pool_log(pool, LFQ_LOG_ERROR, "no memory for a retry timer: retrying now",
			      NULL, 0);
		w->redo = *t;
		w->has_redo = true;
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
		now = clock_now(pool);
	else if (pool->metrics)
		now = *last_end;
	*last_end = 0; /* set again below when the job ran with metrics on */
	if (t->deadline_ns && now >= t->deadline_ns) {
		call_dead(pool, t, LFQ_DEAD_EXPIRED);
		count_finished(&w->expired);
		return;
	}
	if (pool->metrics)
		lfq__hist_record(&w->hist[0],
				 now > t->ready_ns ? (uint64_t)(now - t->ready_ns) : 0);
	/* P1: statistics only (P2 releases it). */
	atomic_store_explicit(&w->started, ++*started, memory_order_relaxed);
	t->attempts++;
	const int result = t->fn(t->arg);
	int64_t end = 0;

	if (pool->metrics) {
		end = clock_now(pool);
		lfq__hist_record(&w->hist[1], end > now ? (uint64_t)(end - now) : 0);
	}
	*last_end = end;
	if (result == 0) {
		count_finished(&w->completed); /* P2 */
		return;
	}
	t->last_result = result;
	/* The hooks run before the job counts as finished: wait_idle covers them. */
	if (pool->on_error) {
		const struct lfq_job job = job_of(t);

		pool->on_error(&job, result, pool->ctx);
	}
	if (result == LFQ_JOB_RETRY) {
		retry_later(w, t, pool->metrics ? end : clock_now(pool));
		return;
	}
	call_dead(pool, t, LFQ_DEAD_FAILED);
	count_finished(&w->failed); /* P2 */
}

static void *worker_main(void *arg)
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
					notify_idle(pool);
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
	notify_idle(pool);
	/* X1: the publish before N1 of `exited`; pairs with X2 in wait_exited. */
	atomic_fetch_sub_explicit(&pool->live, 1, memory_order_seq_cst);
	lfq__waitq_notify(&pool->exited, LFQ_WAITQ_ALL);
	return NULL;
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

/* ---------------------------------------------------------------------------------------- */
/* Create and destroy. */

static bool all_zero(const uint64_t *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (words[i])
			return false;
	return true;
}

static size_t round_up(size_t n, size_t align)
{
	return (n + align - 1) / align * align;
}

/* n rounded up to a whole number of cache lines, in 64-bit arithmetic; 0 if that exceeds
 * size_max (or n does). */
static uint64_t lines_within(uint64_t n, uint64_t size_max)
{
	if (n > size_max || n > UINT64_MAX - LFQ_CACHE_LINE)
		return 0;
	n = (n + LFQ_CACHE_LINE - 1) / LFQ_CACHE_LINE * LFQ_CACHE_LINE;
	return n > size_max ? 0 : n;
}

static unsigned order_for(size_t capacity)
{
	unsigned order = 0;

	while (((size_t)1 << order) < capacity)
		order++;
	return order;
}

int lfq__pool_layout(size_t capacity, unsigned levels, unsigned nworkers, uint64_t size_max,
		     struct lfq__pool_layout *out)
{
	if (capacity == 0 || capacity > LFQ_POOL_CAPACITY_MAX || levels == 0 ||
	    levels > LFQ_POOL_PRIORITIES_MAX || nworkers == 0)
		return -EINVAL;
	out->order = order_for(capacity);
	/* Every product in 64 bits (order <= 24, capacity <= 2^24, nworkers < 2^32: each is
	 * far below 2^64), then checked against size_max: on a 32-bit target
	 * `(size_t)2 << order` and the products would wrap before any check could run. */
	const uint64_t entries = (uint64_t)2 << out->order;

	out->ring_bytes = entries * sizeof(_Atomic uint64_t);
	out->entries_bytes = lines_within((uint64_t)(levels + 1) * out->ring_bytes, size_max);
	out->slots_bytes = lines_within((uint64_t)capacity * sizeof(struct lfq__task), size_max);
	out->workers_bytes =
		lines_within((uint64_t)nworkers * sizeof(struct lfq__pool_worker), size_max);
	if (!out->entries_bytes || !out->slots_bytes || !out->workers_bytes)
		return -ENOMEM;
	return 0;
}

/* The CPUs this process may run on (sched_getaffinity already leaves out offline ones). */
struct cpu_mask {
	cpu_set_t *set;
	size_t size;
	long nconf;
};

static int cpu_mask_get(struct cpu_mask *m)
{
	m->nconf = sysconf(_SC_NPROCESSORS_CONF);
	if (m->nconf < 1)
		m->nconf = 1;
	const long nalloc = m->nconf > CPU_SETSIZE ? m->nconf : CPU_SETSIZE;

	m->set = CPU_ALLOC((int)nalloc);
	if (!m->set)
		return -ENOMEM;
	m->size = CPU_ALLOC_SIZE((int)nalloc);
	CPU_ZERO_S(m->size, m->set);
	if (sched_getaffinity(0, m->size, m->set) != 0) {
		const int err = errno;

		CPU_FREE(m->set);
		return -err;
	}
	return 0;
}

static bool cpu_usable(const struct cpu_mask *m, unsigned cpu)
{
	return (long)cpu < m->nconf && (size_t)cpu < m->size * 8 &&
	       CPU_ISSET_S(cpu, m->size, m->set);
}

static int validate(const struct lfq_pool_config *cfg)
{
	const int64_t base =
		cfg->retry_base_ns ? cfg->retry_base_ns : LFQ_POOL_DEFAULT_RETRY_BASE_NS;
	const int64_t cap = cfg->retry_cap_ns ? cfg->retry_cap_ns : LFQ_POOL_DEFAULT_RETRY_CAP_NS;

	if (cfg->priorities > LFQ_POOL_PRIORITIES_MAX || cfg->log_level > LFQ_LOG_DEBUG ||
	    base < 0 || cap < base)
		return -EINVAL;
	if (cfg->workers > LFQ_POOL_WORKERS_MAX || cfg->queue_capacity > LFQ_POOL_CAPACITY_MAX ||
	    (cfg->flags & ~(LFQ_POOL_NO_PIN | LFQ_POOL_METRICS)) || (!cfg->cpus != !cfg->ncpus) ||
	    (cfg->cpus && (cfg->flags & LFQ_POOL_NO_PIN)) ||
	    !all_zero(cfg->reserved, sizeof(cfg->reserved) / sizeof(cfg->reserved[0])))
		return -EINVAL;
	if (cfg->name && strlen(cfg->name) > sizeof(((struct lfq_pool *)0)->name) - 1)
		return -EINVAL;
	return 0;
}

/* Frees everything create allocated; the workers are already joined (or never started). */
static void free_pool(struct lfq_pool *pool)
{
	if (pool->workers) {
		for (unsigned i = 0; i < pool->nworkers; i++) {
			free(pool->workers[i].heap);
			free(pool->workers[i].hist);
		}
	}
	free(pool->workers);
	free(pool->slots);
	lfq__slotq_fini(&pool->q);
	free(pool);
}

/* Starts the workers; on failure stops and joins those that started. */
static int start_workers(struct lfq_pool *pool, const struct cpu_mask *mask)
{
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);

	if (err)
		return -err;
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct lfq__pool_worker *w = &pool->workers[i];

		if (w->cpu >= 0) {
			CPU_ZERO_S(mask->size, mask->set);
			CPU_SET_S((size_t)w->cpu, mask->size, mask->set);
			err = pthread_attr_setaffinity_np(&attr, mask->size, mask->set);
		}
		if (!err)
			err = pthread_create(&w->thread, &attr, worker_main, w);
		if (err) {
			/* Stop the ones running: they see the close, drain nothing, exit. */
			atomic_fetch_sub_explicit(&pool->live, pool->nworkers - i,
						  memory_order_seq_cst); /* X1 for the unstarted */
			close_intake(pool);
			for (unsigned j = 0; j < i; j++)
				pthread_join(pool->workers[j].thread, NULL);
			pthread_attr_destroy(&attr);
			return -err;
		}
	}
	pthread_attr_destroy(&attr);
	return 0;
}

int lfq_pool_create(struct lfq_pool **out, const struct lfq_pool_config *cfg)
{
	static const struct lfq_pool_config defaults;

	if (!out)
		return -EINVAL;
	if (!cfg)
		cfg = &defaults;
	int rc = validate(cfg);

	if (rc)
		return rc;
	struct cpu_mask mask;

	rc = cpu_mask_get(&mask);
	if (rc)
		return rc;
	for (size_t i = 0; i < cfg->ncpus; i++) {
		if (!cpu_usable(&mask, cfg->cpus[i])) {
			CPU_FREE(mask.set);
			return -EINVAL;
		}
	}
	/* The allowed CPUs in order: the default pinning and the default worker count. */
	const unsigned nallowed = (unsigned)CPU_COUNT_S(mask.size, mask.set);
	const bool pin = !(cfg->flags & LFQ_POOL_NO_PIN);
	const unsigned nworkers = cfg->workers ? cfg->workers : (nallowed ? nallowed : 1);
	const size_t capacity =
		cfg->queue_capacity ? cfg->queue_capacity : LFQ_POOL_DEFAULT_CAPACITY;
	const unsigned levels = cfg->priorities ? cfg->priorities : 1;
	struct lfq__pool_layout lay;

	rc = lfq__pool_layout(capacity, levels, nworkers, SIZE_MAX, &lay);
	if (rc) {
		CPU_FREE(mask.set);
		return rc;
	}
	struct lfq_pool *pool =
		aligned_alloc(LFQ_CACHE_LINE, round_up(sizeof(*pool), LFQ_CACHE_LINE));
	if (!pool) {
		CPU_FREE(mask.set);
		return -ENOMEM;
	}
	memset(pool, 0, sizeof(*pool));
	/* The slot queue's rings: at most lay.entries_bytes on either backend (a cell ring of n
	 * indices takes 16 n bytes, an SCQ index ring 16 * 2^order). */
	const int qrc = lfq__slotq_init(&pool->q, capacity, levels);
	pool->slots = aligned_alloc(LFQ_CACHE_LINE, (size_t)lay.slots_bytes);
	pool->workers = aligned_alloc(LFQ_CACHE_LINE, (size_t)lay.workers_bytes);
	if (pool->workers)
		memset(pool->workers, 0, nworkers * sizeof(struct lfq__pool_worker));
	pool->nworkers = nworkers;
	bool hists_ok = true;

	for (unsigned i = 0; pool->workers && (cfg->flags & LFQ_POOL_METRICS) && i < nworkers;
	     i++) {
		/* Each worker's two histograms on lines of their own. */
		pool->workers[i].hist = aligned_alloc(
			LFQ_CACHE_LINE, round_up(2 * sizeof(struct lfq__hist), LFQ_CACHE_LINE));
		if (!pool->workers[i].hist) {
			hists_ok = false;
			break;
		}
		lfq__hist_init(&pool->workers[i].hist[0]);
		lfq__hist_init(&pool->workers[i].hist[1]);
	}
	if (qrc != 0 || !pool->slots || !pool->workers || !hists_ok) {
		free_pool(pool);
		CPU_FREE(mask.set);
		return -ENOMEM;
	}
	rc = -pthread_mutex_init(&pool->shutdown_lock, NULL);
	if (rc) {
		free_pool(pool);
		CPU_FREE(mask.set);
		return rc;
	}

	pool->levels = levels;
	pool->starve_limit = cfg->starve_limit ? cfg->starve_limit : LFQ_POOL_DEFAULT_STARVE_LIMIT;
	pool->max_attempts = cfg->max_attempts ? cfg->max_attempts : LFQ_POOL_DEFAULT_MAX_ATTEMPTS;
	pool->retry_base_ns =
		cfg->retry_base_ns ? cfg->retry_base_ns : LFQ_POOL_DEFAULT_RETRY_BASE_NS;
	pool->retry_cap_ns = cfg->retry_cap_ns ? cfg->retry_cap_ns : LFQ_POOL_DEFAULT_RETRY_CAP_NS;
	pool->metrics = (cfg->flags & LFQ_POOL_METRICS) != 0;
	pool->on_dead = cfg->on_dead;
	pool->log = cfg->log;
	pool->log_level = cfg->log_level ? cfg->log_level : LFQ_LOG_INFO;
	pool->clock = cfg->clock;
	pool->capacity = capacity;
	/* Sleeping submitters are woken once this many slots are free: half the queue, at most
	 * WAKE_FREE_MAX (so a big queue does not make them wait for thousands of jobs). */
	pool->wake_free = capacity / 2 < 1		 ? 1
			  : capacity / 2 > WAKE_FREE_MAX ? WAKE_FREE_MAX
							 : capacity / 2;
	pool->idle_spin = cfg->idle_spin ? cfg->idle_spin : LFQ_POOL_DEFAULT_IDLE_SPIN;
	pool->on_error = cfg->on_error;
	pool->on_cancelled = cfg->on_cancelled;
	pool->ctx = cfg->ctx;
	snprintf(pool->name, sizeof(pool->name), "%s", cfg->name ? cfg->name : "lfq-w");
	lfq__waitq_init(&pool->not_empty);
	lfq__waitq_init(&pool->not_full);
	lfq__waitq_init(&pool->idle);
	lfq__waitq_init(&pool->exited);
	/* Relaxed initial stores: pthread_create publishes them to the workers. */
	atomic_init(&pool->live, nworkers);
	atomic_init(&pool->cancel, false);
	atomic_init(&pool->cancelled, 0);
	for (unsigned s = 0; s < LFQ_POOL_SHARDS; s++)
		for (unsigned l = 0; l < LFQ_POOL_PRIORITIES_MAX; l++) {
			atomic_init(&pool->shards[s].submitted[l], 0);
			atomic_init(&pool->shards[s].accepted[l], 0);
		}
	for (unsigned l = 0; l < LFQ_POOL_PRIORITIES_MAX; l++)
		atomic_init(&pool->reaped[l], 0);

	/* Worker i's CPU: cpus[i % ncpus], or the (i % nallowed)-th allowed CPU. */
	unsigned *allowed = NULL;

	if (pin && !cfg->cpus) {
		allowed = malloc((nallowed ? nallowed : 1) * sizeof(*allowed));
		if (!allowed) {
			pthread_mutex_destroy(&pool->shutdown_lock);
			free_pool(pool);
			CPU_FREE(mask.set);
			return -ENOMEM;
		}
		unsigned k = 0;

		for (long c = 0; c < (long)(mask.size * 8) && k < nallowed; c++)
			if (CPU_ISSET_S((size_t)c, mask.size, mask.set))
				allowed[k++] = (unsigned)c;
	}
	for (unsigned i = 0; i < nworkers; i++) {
		struct lfq__pool_worker *w = &pool->workers[i];

		/* Already zeroed (the histograms are kept): every counter starts at 0. */
		w->pool = pool;
		w->rng = 0x6c6671706f6f6cull ^ ((uint64_t)i << 32) ^ (uint64_t)(uintptr_t)pool;
		w->index = i;
		if (!pin || (!cfg->cpus && nallowed == 0))
			w->cpu = -1;
		else
			w->cpu = (int)(cfg->cpus ? cfg->cpus[i % cfg->ncpus]
						 : allowed[i % nallowed]);
	}
	free(allowed);

	rc = start_workers(pool, &mask);
	CPU_FREE(mask.set);
	if (rc) {
		const struct lfq_log_field f[] = {{.key = "err", .num = rc}};

		lfq__pool_log(pool, LFQ_LOG_ERROR, "cannot start the workers", f, 1);
		pthread_mutex_destroy(&pool->shutdown_lock);
		free_pool(pool);
		return rc;
	}
	const struct lfq_log_field f[] = {
		{.key = "pool", .str = pool->name},
		{.key = "workers", .num = nworkers},
		{.key = "capacity", .num = (int64_t)capacity},
		{.key = "priorities", .num = levels},
		{.key = "metrics", .str = pool->metrics ? "on" : "off"},
	};

	lfq__pool_log(pool, LFQ_LOG_INFO, "pool started", f, sizeof(f) / sizeof(f[0]));
	*out = pool;
	return 0;
}

void lfq_pool_destroy(struct lfq_pool *pool)
{
	if (!pool)
		return;
	assert(!in_own_job(pool));
	/* With no timeout every accepted job runs; the result can only be 0. */
	const int rc = lfq_pool_shutdown(pool, -1);

	assert(rc == 0);
	(void)rc;
	pthread_mutex_destroy(&pool->shutdown_lock);
	free_pool(pool);
}

/* ---------------------------------------------------------------------------------------- */
/* Submitting, waiting, shutting down. */

/* Checked in every build: a bad job would crash a worker later, far from its cause. */
static bool job_ok(const struct lfq_pool *pool, const struct lfq_job *job)
{
	return job && job->fn && job->priority < pool->levels && !job->reserved8 &&
	       !job->reserved32 &&
	       all_zero(job->reserved, sizeof(job->reserved) / sizeof(job->reserved[0]));
}

int lfq_pool_submit(struct lfq_pool *pool, const struct lfq_job *job)
{
	if (!pool || !job_ok(pool, job))
		return -EINVAL;
	const int rc = submit_one(pool, job);

	if (rc == 0)
		lfq__waitq_notify(&pool->not_empty, 1);
	return rc;
}

int lfq_pool_submit_wait(struct lfq_pool *pool, const struct lfq_job *job, int64_t timeout_ns)
{
	if (!pool || !job_ok(pool, job))
		return -EINVAL;
	int rc = submit_one(pool, job);

	if (rc == -EAGAIN && timeout_ns != 0) {
		const int64_t deadline = lfq__deadline(timeout_ns);

		for (unsigned i = 0; i < SUBMIT_WAIT_SPINS && rc == -EAGAIN; i++) {
			lfq__cpu_relax();
			rc = submit_one(pool, job);
		}
		while (rc == -EAGAIN) {
			const uint32_t key = lfq__waitq_prepare(&pool->not_full);

			rc = submit_one(pool, job);
			if (rc == -EAGAIN && deadline >= 0 && lfq__now_ns() >= deadline)
				rc = -ETIMEDOUT;
			if (rc != -EAGAIN || !lfq__waitq_sleep(&pool->not_full, key, deadline))
				lfq__waitq_done(&pool->not_full);
		}
	}
	if (rc == 0)
		lfq__waitq_notify(&pool->not_empty, 1);
	return rc;
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
	if (pool->on_cancelled) {
		const struct lfq_job job = job_of(task);

		pool->on_cancelled(&job, pool->ctx);
	}
	call_dead(pool, task, LFQ_DEAD_CANCELLED);
	const uint64_t n = atomic_load_explicit(&pool->cancelled, memory_order_relaxed) + 1;

	/* P3: the job is finished as far as wait_idle goes; pairs with A1. */
	atomic_store_explicit(&pool->cancelled, n, memory_order_release);
}

int lfq_pool_shutdown(struct lfq_pool *pool, int64_t drain_timeout_ns)
{
	if (!pool)
		return -EINVAL;
	const int64_t deadline = lfq__deadline(drain_timeout_ns);

	close_intake(pool);
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

			while (take_from(pool, 0, true, &slot, &level) == 0) {
				struct lfq__task task;

				copy_out(pool, slot, &task);
				/* Relaxed: read with `cancelled`, which P3 releases after it. */
				atomic_store_explicit(&pool->reaped[level],
						      atomic_load_explicit(&pool->reaped[level],
									   memory_order_relaxed) +
							      1,
						      memory_order_relaxed);
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
	notify_idle(pool); /* cancelled jobs count as finished */
	if (pool->log && pool->log_level >= LFQ_LOG_INFO) {
		struct lfq__pool_totals t;

		lfq__pool_read_totals(pool, &t, NULL, 0);
		const struct lfq_log_field f[] = {
			{.key = "submitted", .num = (int64_t)t.submitted},
			{.key = "succeeded", .num = (int64_t)t.completed},
			{.key = "dead", .num = (int64_t)(finished(&t) - t.completed)},
			{.key = "timed_out", .str = rc ? "true" : "false"},
		};

		lfq__pool_log(pool, LFQ_LOG_INFO, "shutdown: done", f, sizeof(f) / sizeof(f[0]));
	}
	return rc;
}

int lfq_pool_stats(const struct lfq_pool *pool, struct lfq_pool_stats *stats,
		   struct lfq_pool_worker_stats *per_worker, size_t n)
{
	if (!pool || !stats || (!per_worker && n > 0))
		return -EINVAL;
	struct lfq_pool *p = (struct lfq_pool *)pool; /* atomic loads need non-const */
	struct lfq__pool_totals t;

	lfq__pool_read_totals(p, &t, per_worker, n);
	const size_t filled = n < pool->nworkers ? n : pool->nworkers;

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
	return (int)filled; /* <= LFQ_POOL_WORKERS_MAX */
}

void lfq_pool_clock_changed(struct lfq_pool *pool)
{
	if (!pool)
		return;
	/* G1: the caller's clock store before N1; see the table. */
	atomic_thread_fence(memory_order_seq_cst);
	lfq__waitq_notify(&pool->not_empty, LFQ_WAITQ_ALL);
}

int lfq_pool_worker_index(const struct lfq_pool *pool)
{
	return in_own_job(pool) ? (int)tls_worker->index : -1;
}
