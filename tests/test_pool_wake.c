/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's park/wake protocol (pool_worker.c, "Waking"): a submit completes, with at most
 * one wake system call, while workers are frozen at any point of the protocol, and every
 * job runs once they go on; a submit_wait sees a freed slot promptly.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include <lfq/pool.h>

#include "test_time.h"
#include "testing.h"

static _Atomic unsigned long ran;

static int count_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return 0;
}

static const struct lfq_job count = {.fn = count_job};

/* ---- freezing workers at a test point ---- */

static _Atomic int freeze_point = -1;
static _Atomic unsigned frozen; /* threads stopped at freeze_point now */
static _Atomic bool thawed;	/* set: nobody stops any more, the stopped ones go on */

static void freeze_hook(int point)
{
	if (point != atomic_load(&freeze_point) || atomic_load(&thawed))
		return;
	atomic_fetch_add(&frozen, 1);
	while (!atomic_load(&thawed))
		sleep_ms(1);
	atomic_fetch_sub(&frozen, 1);
}

static void freeze_at(int point)
{
	atomic_store(&thawed, false);
	atomic_store(&frozen, 0);
	atomic_store(&freeze_point, point);
	atomic_store(&lfq__test_hook, freeze_hook);
}

static void thaw(void)
{
	atomic_store(&thawed, true);
	while (atomic_load(&frozen) != 0)
		sleep_ms(1);
	atomic_store(&lfq__test_hook, NULL);
	atomic_store(&freeze_point, -1);
}

/* Waits up to 10 s for n threads to stop at the freeze point. */
static bool wait_frozen(unsigned n)
{
	for (int i = 0; i < 10000 && atomic_load(&frozen) < n; i++)
		sleep_ms(1);
	return atomic_load(&frozen) >= n;
}

/* A pool whose workers outnumber its CPUs (created on one CPU: the spinner cap is on), or
 * one worker per CPU (no cap). */
static struct lfq_pool *make(unsigned workers, bool capped)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config cfg = {.workers = workers, .queue_capacity = 256};
	cpu_set_t old, one;

	cr_assert_eq(sched_getaffinity(0, sizeof(old), &old), 0);
	if (capped) {
		int cpu = 0;

		while (!CPU_ISSET(cpu, &old))
			cpu++;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	}
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	cr_assert_eq(sched_setaffinity(0, sizeof(old), &old), 0);
	return pool;
}

/* ---- submits on a thread of their own, so that the test can see whether they return ---- */

struct submitter {
	struct lfq_pool *pool;
	unsigned n;
	_Atomic unsigned done; /* submits returned */
	_Atomic int failed;    /* a submit that did not return 0 */
};

static void *submit_main(void *arg)
{
	struct submitter *s = arg;

	for (unsigned i = 0; i < s->n; i++) {
		const int rc = lfq_pool_submit(s->pool, &count);

		if (rc != 0)
			atomic_store(&s->failed, rc);
		atomic_fetch_add(&s->done, 1);
	}
	return NULL;
}

/* Submits n jobs on another thread; true if all returned within 10 s (the workers stay as
 * they are meanwhile). */
static bool submits_return(struct lfq_pool *pool, unsigned n, unsigned long *wakes)
{
	struct submitter s = {.pool = pool, .n = n};
	pthread_t t;

	const unsigned long w0 = atomic_load(&lfq__test_futex_wakes);

	cr_assert_eq(pthread_create(&t, NULL, submit_main, &s), 0);
	for (int i = 0; i < 10000 && atomic_load(&s.done) < n; i++)
		sleep_ms(1);
	const bool returned = atomic_load(&s.done) == n;

	*wakes = atomic_load(&lfq__test_futex_wakes) - w0;
	if (!returned)
		thaw(); /* let it finish, to fail cleanly */
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&s.failed), 0);
	return returned;
}

/* Freezes every worker that reaches `point`, submits while they are stopped there, then lets
 * them go on: every submit returns meanwhile, with at most one wake call each, and every job
 * runs. */
static void check_frozen_at(int point, unsigned workers, bool capped)
{
	atomic_store(&ran, 0);
	freeze_at(point);
	struct lfq_pool *pool = make(workers, capped);
	unsigned submitted = 0;

	if (point == LFQ_TP_POOL_WOKEN) {
		/* Only a sleeping worker gets there: submit until one was woken. */
		for (int i = 0; i < 500 && atomic_load(&frozen) == 0; i++) {
			cr_assert_eq(lfq_pool_submit(pool, &count), 0);
			submitted++;
			sleep_ms(20);
		}
	}
	cr_assert(wait_frozen(point == LFQ_TP_POOL_PARK_REGISTERED ||
					      point == LFQ_TP_POOL_PARK_CHECKED ||
					      point == LFQ_TP_POOL_PARK_SLEEP
				      ? workers
				      : 1),
		  "no worker stopped at point %d", point);
	unsigned long wakes = 0;
	const unsigned n = 50;

	cr_assert(submits_return(pool, n, &wakes), "a submit did not return (point %d)", point);
	submitted += n;
	cr_assert_leq(wakes, n, "%lu wake calls for %u submits (point %d)", wakes, n, point);
	thaw();
	cr_assert_eq(lfq_pool_wait_idle(pool, 10000 * MS), 0, "jobs stranded (point %d)", point);
	cr_assert_eq(atomic_load(&ran), submitted);
	lfq_pool_destroy(pool);
}

Test(pool_wake, submit_returns_with_a_worker_frozen_while_spinning)
{
	check_frozen_at(LFQ_TP_POOL_SPINNING, 2, true);
}

Test(pool_wake, submit_returns_with_workers_frozen_after_registering)
{
	check_frozen_at(LFQ_TP_POOL_PARK_REGISTERED, 2, true);
	check_frozen_at(LFQ_TP_POOL_PARK_REGISTERED, 1, false);
}

Test(pool_wake, submit_returns_with_workers_frozen_after_the_recheck)
{
	check_frozen_at(LFQ_TP_POOL_PARK_CHECKED, 2, true);
	check_frozen_at(LFQ_TP_POOL_PARK_CHECKED, 1, false);
}

Test(pool_wake, submit_returns_with_workers_frozen_before_the_sleep)
{
	check_frozen_at(LFQ_TP_POOL_PARK_SLEEP, 2, true);
	check_frozen_at(LFQ_TP_POOL_PARK_SLEEP, 1, false);
}

Test(pool_wake, submit_returns_with_a_worker_frozen_after_its_wake_up)
{
	check_frozen_at(LFQ_TP_POOL_WOKEN, 2, true);
	check_frozen_at(LFQ_TP_POOL_WOKEN, 1, false);
}

Test(pool_wake, one_submit_makes_at_most_one_wake_call_with_registered_workers_held)
{
	/* Issue 22: with a worker registered but not yet asleep, one submit retried its wake-up
	 * until the worker slept (thousands of wake calls, and no return while it was held). */
	atomic_store(&ran, 0);
	freeze_at(LFQ_TP_POOL_PARK_REGISTERED);
	struct lfq_pool *pool = make(2, true);

	cr_assert(wait_frozen(2));
	unsigned long wakes = 0;

	cr_assert(submits_return(pool, 1, &wakes), "the submit waited for the held workers");
	cr_assert_leq(wakes, 1, "%lu wake calls for one submit", wakes);
	thaw();
	cr_assert_eq(lfq_pool_wait_idle(pool, 10000 * MS), 0);
	cr_assert_eq(atomic_load(&ran), 1);
	lfq_pool_destroy(pool);
}

/* ---- submit_wait sees room promptly ---- */

/* Jobs that block until their gate (one of a few) opens. */
static _Atomic bool gates[3];
static _Atomic unsigned entered;

static int gate_job(void *arg)
{
	const uintptr_t g = (uintptr_t)arg;

	atomic_fetch_add(&entered, 1);
	while (!atomic_load(&gates[g]))
		sleep_ms(1);
	atomic_fetch_add(&ran, 1);
	return 0;
}

struct waiter {
	struct lfq_pool *pool;
	_Atomic int rc;
	_Atomic int64_t returned_ns;
};

static void *submit_wait_main(void *arg)
{
	struct waiter *wt = arg;
	const struct lfq_job job = {.fn = count_job};

	atomic_store(&wt->rc, lfq_pool_submit_wait(wt->pool, &job, 500 * MS));
	atomic_store(&wt->returned_ns, now_ns());
	return NULL;
}

Test(pool_wake, submit_wait_sees_one_freed_slot_promptly)
{
	/* Issue 22: sleepers were woken only once min(capacity/2, 64) slots were free, so with
	 * one slot free submit_wait slept until its deadline. */
	struct lfq_pool *pool = NULL;
	const struct lfq_pool_config cfg = {.workers = 1, .queue_capacity = 8};

	atomic_store(&ran, 0);
	atomic_store(&entered, 0);
	for (int g = 0; g < 3; g++)
		atomic_store(&gates[g], false);
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	struct lfq_job job = {.fn = gate_job, .arg = (void *)0};

	cr_assert_eq(lfq_pool_submit(pool, &job), 0); /* the worker holds it */
	while (atomic_load(&entered) < 1)
		sleep_ms(1);
	job.arg = (void *)1;
	cr_assert_eq(lfq_pool_submit(pool, &job), 0); /* the next one holds the worker again */
	job.arg = (void *)2;
	for (int i = 0; i < 7; i++)
		cr_assert_eq(lfq_pool_submit(pool, &job), 0);
	cr_assert_eq(lfq_pool_submit(pool, &job), -EAGAIN, "the queue is full");

	struct waiter wt = {.pool = pool, .rc = 1};
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, submit_wait_main, &wt), 0);
	sleep_ms(50); /* it sleeps on the full queue (correctness does not depend on it) */
	const int64_t freed = now_ns();

	atomic_store(&gates[0], true); /* the worker takes the next job: one slot frees */
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&wt.rc), 0, "submit_wait: %d", atomic_load(&wt.rc));
	const int64_t took = atomic_load(&wt.returned_ns) - freed;

	/* The bound is 1 ms plus scheduling; 300 ms is far from it and far below 500 ms. */
	cr_assert_lt(took, 300 * MS, "submit_wait returned %lld ms after a slot freed",
		     (long long)(took / MS));
	atomic_store(&gates[1], true);
	atomic_store(&gates[2], true);
	cr_assert_eq(lfq_pool_wait_idle(pool, 10000 * MS), 0);
	cr_assert_eq(atomic_load(&ran), 10);
	lfq_pool_destroy(pool);
}

/* The look-ahead pipeline: job i waits until job i+7 was submitted. */
#define PIPE_JOBS 60
static _Atomic unsigned pipe_submitted;
static _Atomic int pipe_gave_up;

static int pipe_job(void *arg)
{
	const unsigned i = (unsigned)(uintptr_t)arg;
	const unsigned need = i + 8 < PIPE_JOBS ? i + 8 : PIPE_JOBS;
	const int64_t give_up = now_ns() + 2000 * MS;

	while (atomic_load(&pipe_submitted) < need && !atomic_load(&pipe_gave_up)) {
		if (now_ns() > give_up) {
			atomic_store(&pipe_gave_up, 1);
			break;
		}
		sleep_ms(1);
	}
	atomic_fetch_add(&ran, 1);
	return 0;
}

Test(pool_wake, look_ahead_pipeline_completes)
{
	/* Fits: 2 jobs run, 8 are queued, and job i needs only up to i+7 submitted. Before,
	 * the submitter slept with 2-3 slots free and the pipeline deadlocked. */
	struct lfq_pool *pool = NULL;
	const struct lfq_pool_config cfg = {.workers = 2, .queue_capacity = 8};

	atomic_store(&ran, 0);
	atomic_store(&pipe_submitted, 0);
	atomic_store(&pipe_gave_up, 0);
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	for (unsigned i = 0; i < PIPE_JOBS; i++) {
		const struct lfq_job job = {.fn = pipe_job, .arg = (void *)(uintptr_t)i};

		const int rc = lfq_pool_submit_wait(pool, &job, 5000 * MS);

		if (rc != 0) {
			atomic_store(&pipe_gave_up, 1);
			lfq_pool_destroy(pool);
			cr_assert_eq(rc, 0, "submit_wait of job %u", i);
		}
		atomic_fetch_add(&pipe_submitted, 1);
	}
	cr_assert_eq(lfq_pool_wait_idle(pool, 20000 * MS), 0);
	cr_assert_eq(atomic_load(&pipe_gave_up), 0, "a job waited 2 s for a later submit");
	cr_assert_eq(atomic_load(&ran), PIPE_JOBS);
	lfq_pool_destroy(pool);
}
