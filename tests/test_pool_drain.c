/* SPDX-License-Identifier: MIT */
/*
 * Shutdown's drain with a retry pending: no worker may park for good while the last retry
 * runs on another one. Built on the testing library's test points and a fake clock: one
 * worker is held where it has seen the pool shut down and drained with a retry still
 * pending, the other runs that retry and exits, then the held one goes on. Shutdown must
 * return 0; with a worker asleep without a deadline it would wait out its timeout. No test
 * asserts a duration: the timeout is only the bound of a hang.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>

#include <lfq/pool.h>

#include "pool_internal.h"
#include "test_time.h"
#include "testing.h"

#define T0 1000000000LL

static _Atomic int64_t fake_now = T0;
static _Atomic int runs;

static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return atomic_load(&fake_now);
}

/* Asks for one retry, then succeeds. */
static int retry_once(void *arg)
{
	(void)arg;
	return atomic_fetch_add(&runs, 1) == 0 ? LFQ_JOB_RETRY : 0;
}

/* The first worker that reaches the point is held there until released; others pass. */
static _Atomic bool claimed;
static sem_t held, release;

static void hold_first(int point)
{
	bool no = false;

	if (point == LFQ_TP_POOL_DRAIN_TIMERS &&
	    atomic_compare_exchange_strong(&claimed, &no, true)) {
		sem_post(&held);
		while (sem_wait(&release) != 0)
			;
	}
}

struct shutdown_call {
	struct lfq_pool *pool;
	int rc;
};

static void *shutdown_main(void *arg)
{
	struct shutdown_call *c = arg;

	c->rc = lfq_pool_shutdown(c->pool, LFQ_SEC(10));
	return NULL;
}

Test(pool_drain, a_worker_parked_while_the_last_retry_ran_elsewhere_exits, .timeout = 60)
{
	struct lfq_pool_config cfg = {.workers = 2,
				      .queue_capacity = 8,
				      .clock = fake_clock,
				      .max_attempts = 2,
				      .retry_base_ns = 1000000,
				      .retry_cap_ns = 1000000};
	struct lfq_pool *pool = NULL;
	struct lfq_pool_stats st;

	cr_assert_eq(sem_init(&held, 0, 0), 0);
	cr_assert_eq(sem_init(&release, 0, 0), 0);
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_once}), 0);
	/* The first run asked for its retry: a timer is pending, due within 1 ms of T0. */
	do {
		cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
		sleep_ms(1);
	} while (st.delayed != 1 || st.running != 0);
	cr_assert_eq(atomic_load(&runs), 1);

	atomic_store(&lfq__test_hook, hold_first);
	struct shutdown_call call = {pool, 1};
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, shutdown_main, &call), 0);
	/* A worker saw the pool shut down and drained, the retry pending: held there. */
	while (sem_wait(&held) != 0)
		;
	/* The clock passes the retry's due time: the other worker, asleep until then (its
	 * deadline), runs it, finds the pool drained with no timer left, and exits. Not
	 * lfq_pool_clock_changed: its wake-up would reach the held worker too, and nothing
	 * wakes a worker in the case under test. */
	atomic_fetch_add(&fake_now, 2000000);
	while (atomic_load(&runs) < 2 || atomic_load(&pool->live) > 1)
		sleep_ms(1);
	/* The held worker now looks at the timers (none left) and must not park for good. */
	sem_post(&release);
	pthread_join(t, NULL);
	atomic_store(&lfq__test_hook, NULL);
	cr_assert_eq(call.rc, 0, "shutdown: %d (a worker parked with nothing left to wake it)",
		     call.rc);
	cr_assert_eq(atomic_load(&runs), 2);
	cr_assert_eq(lfq_pool_destroy(pool), 0);
	sem_destroy(&held);
	sem_destroy(&release);
}
