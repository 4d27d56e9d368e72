/* SPDX-License-Identifier: MIT */
/* lfq_pool's production features under a fake clock: backoff schedule and jitter bounds,
 * retry until success, exhaustion and expiry to the dead-letter hook (exactly once per job),
 * priority order and the starvation guard, cancellation of delayed jobs at shutdown, the log
 * hook. No test asserts a duration: time is the fake clock's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lfq/pool.h>

#include "pool_internal.h"
#include "test_time.h"

#define T0 1000000000LL

static _Atomic int64_t fake_now = T0;

static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return atomic_load(&fake_now);
}

static void advance(struct lfq_pool *pool, int64_t ns)
{
	atomic_fetch_add(&fake_now, ns);
	lfq_pool_clock_changed(pool);
}

static struct lfq_pool_stats stats_of(struct lfq_pool *pool)
{
	struct lfq_pool_stats st;

	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	return st;
}

/* ---- dead letters, recorded per job (arg = job index) ---- */

#define MAXJ 64
static _Atomic int dead_count[MAXJ], dead_reason[MAXJ], dead_attempts[MAXJ], dead_last[MAXJ];
static _Atomic int runs[MAXJ];
static _Atomic int64_t run_time[MAXJ][16];

static void reset(void)
{
	for (int i = 0; i < MAXJ; i++) {
		atomic_store(&dead_count[i], 0);
		atomic_store(&dead_reason[i], 0);
		atomic_store(&runs[i], 0);
	}
	atomic_store(&fake_now, T0);
}

static void on_dead(const struct lfq_job *job, int reason, unsigned attempts, int last, void *ctx)
{
	const uintptr_t i = (uintptr_t)job->arg & 0xff;

	(void)ctx;
	cr_assert_lt(i, MAXJ);
	atomic_fetch_add(&dead_count[i], 1);
	atomic_store(&dead_reason[i], reason);
	atomic_store(&dead_attempts[i], (int)attempts);
	atomic_store(&dead_last[i], last);
}

/* Returns RETRY until it has run arg>>8 times... encoded: low 8 bits index, the rest the
 * number of runs that ask for a retry (255: always). */
static int retry_job(void *arg)
{
	const uintptr_t i = (uintptr_t)arg & 0xff, want = (uintptr_t)arg >> 8;
	/* One run of job i at a time (its retries are sequential), so a load and a store do:
	 * the time is recorded before the count moves, because the tests wait for the count
	 * and then read the time (with fetch_add first, a test could read a time not yet
	 * written: it failed that way under TSan, about 2 runs in 5). */
	const int n = atomic_load(&runs[i]);

	atomic_store(&run_time[i][n < 16 ? n : 15], atomic_load(&fake_now));
	atomic_store(&runs[i], n + 1);
	return want == 255 || (uintptr_t)n < want ? LFQ_JOB_RETRY : 0;
}

static void *job_arg(unsigned index, unsigned retries)
{
	return (void *)(uintptr_t)(index | (retries << 8));
}

static void wait_until(struct lfq_pool *pool, int (*cond)(const struct lfq_pool_stats *, long),
		       long x)
{
	for (;;) {
		const struct lfq_pool_stats st = stats_of(pool);

		if (cond(&st, x))
			return;
		sleep_ms(1);
	}
}

static int delayed_is(const struct lfq_pool_stats *st, long n)
{
	return st->delayed == (uint64_t)n && st->running == 0;
}

/* n jobs, one in four delayed for a retry, the other three in four finished. */
static int settled(const struct lfq_pool_stats *st, long n)
{
	return delayed_is(st, n / 4) && st->succeeded + st->dead == (uint64_t)(3 * n / 4);
}

static int finished_is(const struct lfq_pool_stats *st, long n)
{
	return st->succeeded + st->dead == (uint64_t)n;
}

static struct lfq_pool *make(const struct lfq_pool_config *cfg)
{
	struct lfq_pool *pool = NULL;

	cr_assert_eq(lfq_pool_create(&pool, cfg), 0);
	return pool;
}

/* ---- backoff ---- */

Test(pool_retry, backoff_is_full_jitter_under_the_capped_exponential_bound)
{
	const int64_t base = 1000, cap = 100000;
	uint64_t rng = 42;

	for (unsigned n = 1; n <= 70; n++) {
		const int64_t bound = n <= 7 ? base << (n - 1) : cap;
		int64_t lo = INT64_MAX, hi = -1;

		cr_assert_eq(lfq__backoff_bound(base, cap, n), bound);
		cr_assert_eq(lfq__backoff_ns(base, cap, n, (uint64_t)bound), bound);
		for (int k = 0; k < 20000; k++) {
			const int64_t d = lfq__backoff_ns(base, cap, n, lfq__splitmix64(&rng));

			cr_assert(d >= 0 && d <= bound, "retry %u: %lld not in [0, %lld]", n,
				  (long long)d, (long long)bound);
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		/* Full jitter: the whole range is used, not just the top. */
		cr_assert_leq(lo, bound / 50, "retry %u: smallest %lld", n, (long long)lo);
		cr_assert_geq(hi, bound - bound / 50, "retry %u: largest %lld", n, (long long)hi);
	}
}

static _Atomic int64_t hook_bound[16], hook_delay[16];
static _Atomic unsigned hook_calls;

static void record_backoff(unsigned retry, int64_t bound, int64_t delay)
{
	const unsigned k = atomic_fetch_add(&hook_calls, 1);

	cr_assert_eq(k + 1, retry, "retries are numbered 1, 2, ...");
	atomic_store(&hook_bound[retry], bound);
	atomic_store(&hook_delay[retry], delay);
}

Test(pool_retry, backoff_schedule_under_a_fake_clock_then_exhaustion_to_dead_letter)
{
	const int64_t base = 1000000, cap = 5000000; /* 1 ms doubling, capped at 5 ms */
	struct lfq_pool_config cfg = {.workers = 2,
				      .queue_capacity = 8,
				      .clock = fake_clock,
				      .on_dead = on_dead,
				      .max_attempts = 6,
				      .retry_base_ns = base,
				      .retry_cap_ns = cap};

	reset();
	atomic_store(&hook_calls, 0);
	atomic_store(&lfq__pool_test_backoff, record_backoff);
	struct lfq_pool *pool = make(&cfg);

	cr_assert_eq(
		lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job, .arg = job_arg(0, 255)}),
		0);
	for (unsigned n = 1; n <= 5; n++) {
		wait_until(pool, delayed_is, 1); /* run n asked for retry n */
		cr_assert_eq(atomic_load(&runs[0]), (int)n);
		const int64_t bound = atomic_load(&hook_bound[n]);
		const int64_t d = atomic_load(&hook_delay[n]);
		const int64_t want = (base << (n - 1)) < cap ? base << (n - 1) : cap;

		cr_assert_eq(bound, want, "retry %u: bound %lld", n, (long long)bound);
		cr_assert(d >= 0 && d <= bound);
		if (d > 0) {
			/* Not due yet: it must not run. */
			advance(pool, d - 1);
			sleep_ms(5);
			cr_assert_eq(atomic_load(&runs[0]), (int)n, "retry %u ran early", n);
			advance(pool, 1);
		} else {
			lfq_pool_clock_changed(pool);
		}
		while (atomic_load(&runs[0]) == (int)n)
			sleep_ms(1);
		/* It ran exactly when due, on the fake clock. */
		cr_assert_eq(atomic_load(&run_time[0][n]) - atomic_load(&run_time[0][n - 1]), d);
	}
	wait_until(pool, finished_is, 1);
	cr_assert_eq(atomic_load(&runs[0]), 6);
	cr_assert_eq(atomic_load(&dead_count[0]), 1);
	cr_assert_eq(atomic_load(&dead_reason[0]), LFQ_DEAD_EXHAUSTED);
	cr_assert_eq(atomic_load(&dead_attempts[0]), 6);
	cr_assert_eq(atomic_load(&dead_last[0]), LFQ_JOB_RETRY);
	const struct lfq_pool_stats st = stats_of(pool);

	cr_assert_eq(st.retried, 5);
	cr_assert_eq(st.exhausted, 1);
	cr_assert_eq(st.dead, 1);
	cr_assert_eq(st.started, 6);
	cr_assert_eq(st.delayed + st.queued + st.running, 0);
	atomic_store(&lfq__pool_test_backoff, NULL);
	lfq_pool_destroy(pool);
	cr_assert_eq(atomic_load(&dead_count[0]), 1, "dead once, not again at destroy");
}

Test(pool_retry, retry_until_success)
{
	struct lfq_pool_config cfg = {.workers = 3,
				      .queue_capacity = 16,
				      .clock = fake_clock,
				      .on_dead = on_dead,
				      .retry_base_ns = 1000,
				      .retry_cap_ns = 8000};
	const unsigned jobs = 10;

	reset();
	struct lfq_pool *pool = make(&cfg);

	for (unsigned i = 0; i < jobs; i++)
		cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job,
								     .arg = job_arg(i, i % 4)}),
			     0);
	for (;;) {
		const struct lfq_pool_stats st = stats_of(pool);

		if (st.succeeded == jobs)
			break;
		advance(pool, 8000); /* every pending retry is due after this */
		sleep_ms(1);
	}
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	unsigned retries = 0;

	for (unsigned i = 0; i < jobs; i++) {
		cr_assert_eq(atomic_load(&runs[i]), (int)(i % 4) + 1);
		cr_assert_eq(atomic_load(&dead_count[i]), 0);
		retries += i % 4;
	}
	const struct lfq_pool_stats st = stats_of(pool);

	cr_assert_eq(st.retried, retries);
	cr_assert_eq(st.dead, 0);
	cr_assert_eq(st.submitted, st.succeeded);
	lfq_pool_destroy(pool);
}

Test(pool_retry, per_job_max_attempts_overrides_the_config)
{
	struct lfq_pool_config cfg = {.workers = 1,
				      .clock = fake_clock,
				      .on_dead = on_dead,
				      .max_attempts = 10,
				      .retry_base_ns = 10,
				      .retry_cap_ns = 10};

	reset();
	struct lfq_pool *pool = make(&cfg);

	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job,
							     .arg = job_arg(0, 255),
							     .max_attempts = 2}),
		     0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job,
							     .arg = job_arg(1, 255),
							     .max_attempts = 1}),
		     0);
	while (stats_of(pool).dead < 2) {
		advance(pool, 10);
		sleep_ms(1);
	}
	cr_assert_eq(atomic_load(&runs[0]), 2);
	cr_assert_eq(atomic_load(&runs[1]), 1);
	cr_assert_eq(atomic_load(&dead_reason[1]), LFQ_DEAD_EXHAUSTED);
	lfq_pool_destroy(pool);
}

/* ---- deadlines ---- */

static _Atomic int gate_open, gate_entered;

static int gated_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&gate_entered, 1);
	while (!atomic_load(&gate_open))
		sleep_ms(1);
	return 0;
}

static void block_workers(struct lfq_pool *pool, int n)
{
	atomic_store(&gate_open, 0);
	atomic_store(&gate_entered, 0);
	for (int i = 0; i < n; i++)
		cr_assert_eq(lfq_pool_submit(
				     pool, &(struct lfq_job){.fn = gated_job,
							     .arg = (void *)(uintptr_t)(MAXJ - 1)}),
			     0);
	while (atomic_load(&gate_entered) < n)
		sleep_ms(1);
}

Test(pool_retry, a_job_not_started_by_its_deadline_never_runs)
{
	struct lfq_pool_config cfg = {.workers = 1,
				      .queue_capacity = 8,
				      .clock = fake_clock,
				      .on_dead = on_dead,
				      .retry_base_ns = 1000000,
				      .retry_cap_ns = 1000000};

	reset();
	struct lfq_pool *pool = make(&cfg);

	block_workers(pool, 1);
	/* 0: expires while queued; 1: deadline later, runs; 2: already past at submit;
	 * 3: asks for a retry that could only start after its deadline. */
	const int64_t now = atomic_load(&fake_now);

	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job,
							     .arg = job_arg(0, 0),
							     .deadline_ns = now + 100}),
		     0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job,
							     .arg = job_arg(1, 0),
							     .deadline_ns = now + 1000}),
		     0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job,
							     .arg = job_arg(2, 0),
							     .deadline_ns = now - 1}),
		     0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job,
							     .arg = job_arg(3, 255),
							     .deadline_ns = now + 2000000,
							     .max_attempts = 1000}),
		     0);
	atomic_store(&fake_now, now + 100); /* job 0's deadline: too late to start */
	atomic_store(&gate_open, 1);
	/* Without moving the clock: 0 and 2 expire, 1 runs, 3 runs once. */
	while (atomic_load(&runs[1]) == 0 || atomic_load(&runs[3]) == 0 ||
	       atomic_load(&dead_count[0]) == 0 || atomic_load(&dead_count[2]) == 0)
		sleep_ms(1);
	/* Job 3 may be delayed or dead: its first retry's backoff is up to 1 ms. */
	while (stats_of(pool).succeeded + stats_of(pool).dead < 5) {
		advance(pool, 100000);
		sleep_ms(1);
	}
	cr_assert_eq(atomic_load(&runs[0]), 0, "expired job ran");
	cr_assert_eq(atomic_load(&dead_count[0]), 1);
	cr_assert_eq(atomic_load(&dead_reason[0]), LFQ_DEAD_EXPIRED);
	cr_assert_eq(atomic_load(&dead_attempts[0]), 0);
	cr_assert_eq(atomic_load(&runs[1]), 1);
	cr_assert_eq(atomic_load(&dead_count[1]), 0);
	cr_assert_eq(atomic_load(&runs[2]), 0);
	cr_assert_eq(atomic_load(&dead_reason[2]), LFQ_DEAD_EXPIRED);
	cr_assert_eq(atomic_load(&dead_count[3]), 1);
	cr_assert_eq(atomic_load(&dead_reason[3]), LFQ_DEAD_EXPIRED);
	cr_assert_geq(atomic_load(&dead_attempts[3]), 1);
	for (int r = 1; r < atomic_load(&runs[3]); r++)
		cr_assert_lt(atomic_load(&run_time[3][r]), now + 2000000, "ran past its deadline");
	const struct lfq_pool_stats st = stats_of(pool);

	cr_assert_eq(st.expired, 3);
	cr_assert_eq(st.submitted, st.succeeded + st.dead);
	lfq_pool_destroy(pool);
}

/* ---- priorities ---- */

static _Atomic int order[MAXJ];
static _Atomic int order_n;

static int prio_job(void *arg)
{
	atomic_store(&order[atomic_fetch_add(&order_n, 1)], (int)(uintptr_t)arg);
	return 0;
}

Test(pool_retry, higher_priorities_run_first)
{
	struct lfq_pool_config cfg = {
		.workers = 1, .queue_capacity = 64, .priorities = 8, .starve_limit = 1000};
	struct lfq_pool *pool = make(&cfg);

	atomic_store(&order_n, 0);
	block_workers(pool, 1);
	for (unsigned i = 0; i < 40; i++) {
		const unsigned p = (i * 5) % 8;

		cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = prio_job,
								     .arg = (void *)(uintptr_t)p,
								     .priority = (uint8_t)p}),
			     0);
	}
	const struct lfq_pool_stats st = stats_of(pool);

	cr_assert_eq(st.queued, 40);
	for (unsigned p = 0; p < 8; p++)
		cr_assert_eq(st.queued_by_priority[p], 5);
	atomic_store(&gate_open, 1);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&order_n), 40);
	for (int i = 1; i < 40; i++)
		cr_assert_geq(atomic_load(&order[i - 1]), atomic_load(&order[i]),
			      "priority %d ran before %d", atomic_load(&order[i - 1]),
			      atomic_load(&order[i]));
	lfq_pool_destroy(pool);
}

Test(pool_retry, starvation_guard_lets_lower_levels_through)
{
	const unsigned limit = 3;
	struct lfq_pool_config cfg = {
		.workers = 1, .queue_capacity = 64, .priorities = 3, .starve_limit = limit};
	struct lfq_pool *pool = make(&cfg);

	atomic_store(&order_n, 0);
	block_workers(pool, 1);
	for (unsigned i = 0; i < 10; i++)
		cr_assert_eq(
			lfq_pool_submit(pool, &(struct lfq_job){.fn = prio_job, .arg = (void *)0}),
			0);
	for (unsigned i = 0; i < 10; i++)
		cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = prio_job,
								     .arg = (void *)1,
								     .priority = 1}),
			     0);
	for (unsigned i = 0; i < 30; i++)
		cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = prio_job,
								     .arg = (void *)2,
								     .priority = 2}),
			     0);
	atomic_store(&gate_open, 1);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&order_n), 50);
	/* While a lower level waits, it gets a turn at least every (limit + 1) * (levels - 1)
	 * takes: the guard cycles through the levels below the top. */
	int left[3] = {10, 10, 30};

	for (int l = 0; l < 2; l++) {
		unsigned above = 0;

		for (int i = 0; i < 50 && left[l] > 0; i++) {
			const int p = atomic_load(&order[i]);

			above = p > l ? above + 1 : 0;
			cr_assert_leq(above, (limit + 1) * 2 - 1, "level %d starved at %d", l, i);
		}
	}
	for (int i = 0; i < 50; i++)
		left[atomic_load(&order[i])]--;
	cr_assert(left[0] == 0 && left[1] == 0 && left[2] == 0);
	/* The guard does not reorder a level: level 0 got turns before level 2 was done. */
	int first0 = -1, last2 = -1;

	for (int i = 0; i < 50; i++) {
		if (atomic_load(&order[i]) == 0 && first0 < 0)
			first0 = i;
		if (atomic_load(&order[i]) == 2)
			last2 = i;
	}
	cr_assert_lt(first0, last2, "level 0 waited for all of level 2");
	lfq_pool_destroy(pool);
}

Test(pool_retry, submit_rejects_a_priority_beyond_the_levels)
{
	struct lfq_pool_config cfg = {.workers = 1, .priorities = 2};
	struct lfq_pool *pool = make(&cfg);

	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = prio_job, .priority = 2}),
		     -EINVAL);
	cr_assert_eq(
		lfq_pool_submit_wait(pool, &(struct lfq_job){.fn = prio_job, .priority = 7}, -1),
		-EINVAL);
	lfq_pool_destroy(pool);
}

Test(pool_retry, create_rejects_bad_retry_and_priority_configs)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config cfg = {.workers = 1, .priorities = LFQ_POOL_PRIORITIES_MAX + 1};

	cr_assert_eq(lfq_pool_create(&pool, &cfg), -EINVAL);
	cfg = (struct lfq_pool_config){.workers = 1, .retry_base_ns = 10, .retry_cap_ns = 5};
	cr_assert_eq(lfq_pool_create(&pool, &cfg), -EINVAL);
	cfg = (struct lfq_pool_config){.workers = 1, .retry_base_ns = -1};
	cr_assert_eq(lfq_pool_create(&pool, &cfg), -EINVAL);
	cfg = (struct lfq_pool_config){.workers = 1, .log_level = LFQ_LOG_DEBUG + 1};
	cr_assert_eq(lfq_pool_create(&pool, &cfg), -EINVAL);
	cfg = (struct lfq_pool_config){.workers = 1, .flags = 0x10}; /* the first unknown bit */
	cr_assert_eq(lfq_pool_create(&pool, &cfg), -EINVAL);
	cr_assert_null(pool);
}

/* ---- dead letters exactly once, shutdown cancels delayed jobs ---- */

static int fail_job(void *arg)
{
	atomic_fetch_add(&runs[(uintptr_t)arg], 1);
	return LFQ_JOB_FAIL;
}

static _Atomic int cancelled_count[MAXJ];

static void on_cancelled(const struct lfq_job *job, void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&cancelled_count[(uintptr_t)job->arg & 0xff], 1);
}

Test(pool_retry, dead_letter_exactly_once_per_job_and_shutdown_cancels_delayed_retries)
{
	struct lfq_pool_config cfg = {.workers = 2,
				      .queue_capacity = 64,
				      .clock = fake_clock,
				      .on_dead = on_dead,
				      .on_cancelled = on_cancelled,
				      .max_attempts = 3,
				      .retry_base_ns = 1000000000,
				      .retry_cap_ns = 1000000000};
	const unsigned n = 40;

	reset();
	for (int i = 0; i < MAXJ; i++)
		atomic_store(&cancelled_count[i], 0);
	struct lfq_pool *pool = make(&cfg);

	/* i % 4: 0 succeeds, 1 fails, 2 expired at submit, 3 retries (delayed, far future). */
	for (unsigned i = 0; i < n; i++) {
		struct lfq_job job = {.fn = retry_job, .arg = job_arg(i, 0)};

		if (i % 4 == 1)
			job = (struct lfq_job){.fn = fail_job, .arg = (void *)(uintptr_t)i};
		else if (i % 4 == 2)
			job.deadline_ns = T0;
		else if (i % 4 == 3)
			job.arg = job_arg(i, 255);
		cr_assert_eq(lfq_pool_submit(pool, &job), 0);
	}
	/* Every job ran once: the retries wait in the timers, the others finished. Waited for
	 * as a whole: the statistics are summed over the workers without a lock, so one
	 * snapshot can show the last retry delayed before another worker's last finish. */
	wait_until(pool, settled, n);
	struct lfq_pool_stats st = stats_of(pool);

	cr_assert_eq(st.queued, 0, "a delayed job holds no queue slot");
	cr_assert_eq(lfq_pool_wait_idle(pool, 0), -EAGAIN, "delayed jobs are not finished");
	/* Far-future retries: a shutdown with a short drain timeout cancels them. */
	cr_assert_eq(lfq_pool_shutdown(pool, 1000000), -ETIMEDOUT);
	for (unsigned i = 0; i < n; i++) {
		const int want_dead = i % 4 != 0;

		cr_assert_eq(atomic_load(&dead_count[i]), want_dead, "job %u dead %d times", i,
			     atomic_load(&dead_count[i]));
		if (i % 4 == 1)
			cr_assert_eq(atomic_load(&dead_reason[i]), LFQ_DEAD_FAILED);
		if (i % 4 == 1)
			cr_assert_eq(atomic_load(&dead_last[i]), LFQ_JOB_FAIL);
		if (i % 4 == 2)
			cr_assert_eq(atomic_load(&dead_reason[i]), LFQ_DEAD_EXPIRED);
		if (i % 4 == 3) {
			cr_assert_eq(atomic_load(&dead_reason[i]), LFQ_DEAD_CANCELLED);
			cr_assert_eq(atomic_load(&dead_attempts[i]), 1);
			/* on_dead took it: on_cancelled is only for configs without on_dead. */
			cr_assert_eq(atomic_load(&cancelled_count[i]), 0);
		} else {
			cr_assert_eq(atomic_load(&cancelled_count[i]), 0);
		}
	}
	st = stats_of(pool);
	cr_assert_eq(st.submitted, n);
	cr_assert_eq(st.submitted, st.succeeded + st.dead);
	cr_assert_eq(st.dead, st.failed + st.exhausted + st.expired + st.cancelled);
	cr_assert_eq(st.cancelled, n / 4);
	cr_assert_eq(st.queued + st.delayed + st.running, 0);
	cr_assert_eq(lfq_pool_wait_idle(pool, 0), 0);
	lfq_pool_destroy(pool);
	for (unsigned i = 0; i < n; i++)
		cr_assert_leq(atomic_load(&dead_count[i]), 1);
}

Test(pool_retry, shutdown_without_timeout_waits_for_delayed_retries)
{
	struct lfq_pool_config cfg = {.workers = 1,
				      .on_dead = on_dead,
				      .retry_base_ns = 1000000, /* real clock: up to 1 ms */
				      .retry_cap_ns = 1000000};

	reset();
	struct lfq_pool *pool = make(&cfg);

	cr_assert_eq(
		lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job, .arg = job_arg(0, 2)}), 0);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	cr_assert_eq(atomic_load(&runs[0]), 3, "both retries ran during the drain");
	cr_assert_eq(atomic_load(&dead_count[0]), 0);
	lfq_pool_destroy(pool);
}

/* ---- the log hook ---- */

static _Atomic int logged_started, logged_dead, logged_retry, logged_shutdown;

static void log_hook(int level, const char *msg, const struct lfq_log_field *f, size_t n, void *ctx)
{
	(void)ctx;
	cr_assert(level >= LFQ_LOG_ERROR && level <= LFQ_LOG_DEBUG);
	for (size_t i = 0; i < n; i++)
		cr_assert_not_null(f[i].key);
	if (strcmp(msg, "pool started") == 0)
		atomic_fetch_add(&logged_started, 1);
	if (strcmp(msg, "job dead") == 0) {
		cr_assert_eq(level, LFQ_LOG_WARN);
		cr_assert_eq(strcmp(f[0].key, "reason"), 0);
		cr_assert_eq(strcmp(f[0].str, "failed"), 0);
		atomic_fetch_add(&logged_dead, 1);
	}
	if (strcmp(msg, "job retry scheduled") == 0)
		atomic_fetch_add(&logged_retry, 1);
	if (strcmp(msg, "shutdown: done") == 0)
		atomic_fetch_add(&logged_shutdown, 1);
}

/* The "job dead" event names the job (id, arg) and its result by name. */
static char dead_event[256];

static const struct lfq_log_field *field(const struct lfq_log_field *f, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return &f[i];
	return NULL;
}

static void dead_event_hook(int level, const char *msg, const struct lfq_log_field *f, size_t n,
			    void *ctx)
{
	(void)level, (void)ctx;
	if (strcmp(msg, "job dead") != 0)
		return;
	const struct lfq_log_field *id = field(f, n, "id"), *arg = field(f, n, "arg"),
				   *last = field(f, n, "last_result");

	cr_assert(id && id->str && arg && arg->str && last,
		  "job dead lacks id, arg or last_result");
	snprintf(dead_event, sizeof(dead_event), "id=%s arg=%s last_result=%s/%lld", id->str,
		 arg->str, last->str ? last->str : "-", (long long)last->num);
}

Test(pool_retry, dead_event_names_the_job_and_its_result)
{
	struct lfq_pool_config cfg = {.workers = 1,
				      .log = dead_event_hook,
				      .max_attempts = 2,
				      .retry_base_ns = LFQ_US(1),
				      .retry_cap_ns = LFQ_US(1)};
	struct lfq_pool *pool = make(&cfg);
	uint64_t id = 0;
	char want[256];

	reset();
	dead_event[0] = 0;
	cr_assert_eq(lfq_pool_submit_id(
			     pool, &(struct lfq_job){.fn = retry_job, .arg = job_arg(3, 255)}, &id),
		     0);
	cr_assert_eq(lfq_pool_wait_idle(pool, LFQ_FOREVER), 0);
	snprintf(want, sizeof(want), "id=%llu arg=%p last_result=retry/%d", (unsigned long long)id,
		 job_arg(3, 255), LFQ_JOB_RETRY);
	cr_assert_eq(strcmp(dead_event, want), 0, "%s", dead_event);

	dead_event[0] = 0;
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = fail_job, .arg = (void *)5}), 0);
	cr_assert_eq(lfq_pool_wait_idle(pool, LFQ_FOREVER), 0);
	snprintf(want, sizeof(want), "id=0 arg=%p last_result=fail/%d", (void *)5, LFQ_JOB_FAIL);
	cr_assert_eq(strcmp(dead_event, want), 0, "%s", dead_event);
	lfq_pool_destroy(pool);

	cr_assert_eq(strcmp(lfq_job_result_name(0), "success"), 0, "%s", lfq_job_result_name(0));
	cr_assert_eq(strcmp(lfq_job_result_name(LFQ_JOB_RETRY), "retry"), 0, "%s",
		     lfq_job_result_name(LFQ_JOB_RETRY));
	cr_assert_eq(strcmp(lfq_job_result_name(LFQ_JOB_FAIL), "fail"), 0, "%s",
		     lfq_job_result_name(LFQ_JOB_FAIL));
	cr_assert_eq(strcmp(lfq_job_result_name(-EIO), "other"), 0, "%s",
		     lfq_job_result_name(-EIO));
	cr_assert_eq(strcmp(lfq_job_result_name(2), "other"), 0, "%s", lfq_job_result_name(2));
}

Test(pool_retry, log_hook_gets_levelled_key_value_events)
{
	for (unsigned level = LFQ_LOG_INFO; level <= LFQ_LOG_DEBUG; level++) {
		struct lfq_pool_config cfg = {.workers = 1,
					      .log = log_hook,
					      .log_level = level,
					      .retry_base_ns = 1000,
					      .retry_cap_ns = 1000};

		reset();
		atomic_store(&logged_started, 0);
		atomic_store(&logged_dead, 0);
		atomic_store(&logged_retry, 0);
		atomic_store(&logged_shutdown, 0);
		struct lfq_pool *pool = make(&cfg);

		cr_assert_eq(
			lfq_pool_submit(pool, &(struct lfq_job){.fn = fail_job, .arg = (void *)0}),
			0);
		cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job,
								     .arg = job_arg(1, 1)}),
			     0);
		cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
		lfq_pool_destroy(pool);
		cr_assert_eq(atomic_load(&logged_started), 1);
		cr_assert_eq(atomic_load(&logged_dead), 1);
		cr_assert_eq(atomic_load(&logged_shutdown), 1);
		cr_assert_eq(atomic_load(&logged_retry), level == LFQ_LOG_DEBUG ? 1 : 0);
	}
}

/* ---- a due retry runs on any idle worker (issue 22) ---- */

static _Atomic unsigned a_runs;
static _Atomic int64_t a_retry_ns, b_started_ns;

static int fails_once(void *arg)
{
	(void)arg;
	if (atomic_fetch_add(&a_runs, 1) == 0)
		return LFQ_JOB_RETRY;
	atomic_store(&a_retry_ns, now_ns());
	return 0;
}

static int runs_ms(void *arg)
{
	if ((uintptr_t)arg == 10)
		atomic_store(&b_started_ns, now_ns());
	sleep_ms((long)(uintptr_t)arg);
	return 0;
}

Test(pool_retry, a_due_retry_runs_on_an_idle_worker_not_behind_a_long_job)
{
	/* 2 workers. B runs 10 ms on one; A fails once with a backoff of at most 1 ms on the
	 * other, which then takes C (300 ms). Before, A's retry sat in that worker's own timer
	 * heap until C ended, although B's worker was idle from 10 ms on. */
	const struct lfq_pool_config cfg = {.workers = 2,
					    .queue_capacity = 16,
					    .retry_base_ns = 1000000,
					    .retry_cap_ns = 1000000};

	for (int round = 0; round < 3; round++) {
		struct lfq_pool *pool = NULL;

		atomic_store(&a_runs, 0);
		atomic_store(&a_retry_ns, 0);
		atomic_store(&b_started_ns, 0);
		cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
		const struct lfq_job b = {.fn = runs_ms, .arg = (void *)(uintptr_t)10};
		const struct lfq_job ac[2] = {{.fn = fails_once},
					      {.fn = runs_ms, .arg = (void *)(uintptr_t)300}};

		cr_assert_eq(lfq_pool_submit(pool, &b), 0);
		while (atomic_load(&b_started_ns) == 0)
			sleep_ms(1);
		const int64_t t0 = now_ns();

		cr_assert_eq(lfq_pool_submit_burst(pool, ac, 2, NULL), 2);
		cr_assert_eq(lfq_pool_wait_idle(pool, 10000 * MS), 0);
		cr_assert_eq(atomic_load(&a_runs), 2);
		const int64_t after = atomic_load(&a_retry_ns) - t0;

		/* Due within 1 ms; B's worker is free at 10 ms. 150 ms is generous. */
		cr_assert_lt(after, 150 * MS, "round %d: A's retry started at %lld ms", round,
			     (long long)(after / MS));
		lfq_pool_destroy(pool);
	}
}
