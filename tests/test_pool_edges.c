/* SPDX-License-Identifier: MIT */
/* lfq_pool at its edges (issue 13): bad arguments in every build, hooks that call back into
 * the pool, and the counters' promises (per-worker `failed`, a `submitted` that never goes
 * down). Each test here failed on the code before its fix. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lfq/pool.h>

#include "pool_internal.h"
#include "test_time.h"
#include "testing.h"

static _Atomic unsigned long ran;

static int count_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return 0;
}

static struct lfq_pool *make(unsigned workers, size_t capacity)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config cfg = {.workers = workers, .queue_capacity = capacity};

	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	return pool;
}

/* ---- validation at the edges (item 5) ---- */

Test(pool_edges, submit_rejects_null_and_malformed_jobs_in_every_build)
{
	/* Before: asserts only; a release build accepted fn == NULL and a worker died of
	 * SIGSEGV, and nonzero reserved8/reserved32 were accepted in every build. */
	struct lfq_pool *pool = make(1, 8);
	const struct lfq_job good = {.fn = count_job};
	struct lfq_job bad[5];
	struct lfq_pool_stats st;

	for (int i = 0; i < 5; i++)
		bad[i] = good;
	bad[0].fn = NULL;
	bad[1].reserved8 = 1;
	bad[2].reserved32 = 1;
	bad[3].reserved[3] = 1;
	bad[4].priority = 1; /* one level only */
	cr_assert_eq(lfq_pool_submit(NULL, &good), -EINVAL);
	cr_assert_eq(lfq_pool_submit(pool, NULL), -EINVAL);
	cr_assert_eq(lfq_pool_submit_wait(NULL, &good, 0), -EINVAL);
	cr_assert_eq(lfq_pool_submit_wait(pool, NULL, -1), -EINVAL);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(lfq_pool_submit(pool, &bad[i]), -EINVAL, "bad job %d", i);
		cr_assert_eq(lfq_pool_submit_wait(pool, &bad[i], -1), -EINVAL, "bad job %d", i);
	}
	cr_assert_eq(lfq_pool_wait_idle(NULL, -1), -EINVAL);
	cr_assert_eq(lfq_pool_shutdown(NULL, -1), -EINVAL);
	lfq_pool_clock_changed(NULL); /* a no-op */
	cr_assert_eq(lfq_pool_worker_index(NULL), -1);
	/* Nothing bad was accepted, and the worker is alive. */
	atomic_store(&ran, 0);
	cr_assert_eq(lfq_pool_submit(pool, &good), 0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran), 1);
	cr_assert_geq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.submitted, 1);
	lfq_pool_destroy(pool);
}

Test(pool_edges, stats_fills_min_n_workers_per_worker_entries)
{
	/* It returns 0 as every other call; the entries filled are min(n, st.workers). */
	struct lfq_pool *pool = make(2, 8);
	struct lfq_pool_stats st;
	struct lfq_pool_worker_stats ws[5];

	memset(ws, 0xab, sizeof(ws));
	cr_assert_eq(lfq_pool_stats(pool, &st, ws, 5), 0);
	cr_assert_eq(st.workers, 2);
	cr_assert_eq(ws[0].cpu, -1, "entry 0 filled (unpinned)");
	cr_assert_eq(ws[1].cpu, -1, "entry 1 filled (unpinned)");
	for (int i = 2; i < 5; i++) {
		struct lfq_pool_worker_stats untouched;

		memset(&untouched, 0xab, sizeof(untouched));
		cr_assert_eq(memcmp(&ws[i], &untouched, sizeof(untouched)), 0,
			     "entry %d is beyond the workers", i);
	}
	cr_assert_eq(ws[0].completed + ws[1].completed, 0);
	memset(ws, 0xab, sizeof(ws));
	cr_assert_eq(lfq_pool_stats(pool, &st, ws, 1), 0);
	cr_assert_eq(ws[0].cpu, -1);
	cr_assert_neq(ws[1].cpu, -1, "entry 1 is beyond n");
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	lfq_pool_destroy(pool);
}

/* ---- hooks that call back into the pool (item 6) ---- */

struct reentry {
	struct lfq_pool *pool;
	_Atomic int calls;
	_Atomic int shutdown_rc, idle_rc;
	_Atomic bool gate;
};

static struct reentry re;

static int gate_job(void *arg)
{
	(void)arg;
	while (!atomic_load(&re.gate))
		sleep_ms(1);
	return 0;
}

static void reenter(void)
{
	if (atomic_fetch_add(&re.calls, 1) == 0) {
		/* Before: shutdown took the shutdown lock this thread already held (a
		 * self-deadlock: the test's timeout failed it), and wait_idle waited for the job
		 * whose hook this is (-ETIMEDOUT, or forever with -1). */
		atomic_store(&re.shutdown_rc, lfq_pool_shutdown(re.pool, -1));
		atomic_store(&re.idle_rc, lfq_pool_wait_idle(re.pool, 200 * MS));
	}
	atomic_store(&re.gate, true); /* let the running job end */
}

static void reenter_cancelled(const struct lfq_job *job, void *ctx)
{
	(void)job;
	(void)ctx;
	reenter();
}

static void reenter_dead(const struct lfq_job *job, int reason, unsigned attempts, int last,
			 void *ctx)
{
	(void)job;
	(void)attempts;
	(void)last;
	(void)ctx;
	cr_assert_eq(reason, LFQ_DEAD_CANCELLED);
	reenter();
}

static void hook_reentry_case(bool use_on_dead)
{
	struct lfq_pool_config cfg = {.workers = 1, .queue_capacity = 8};
	struct lfq_pool_stats st;

	if (use_on_dead)
		cfg.on_dead = reenter_dead;
	else
		cfg.on_cancelled = reenter_cancelled;
	memset(&re, 0, sizeof(re));
	cr_assert_eq(lfq_pool_create(&re.pool, &cfg), 0);
	cr_assert_eq(lfq_pool_submit(re.pool, &(struct lfq_job){.fn = gate_job}), 0);
	while (lfq_pool_stats(re.pool, &st, NULL, 0) == 0 && st.running == 0)
		sleep_ms(1);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(lfq_pool_submit(re.pool, &(struct lfq_job){.fn = count_job}), 0);
	/* Drain timeout 0: the three queued jobs are handed to the hooks on this thread. */
	cr_assert_eq(lfq_pool_shutdown(re.pool, 0), -ETIMEDOUT);
	cr_assert_eq(atomic_load(&re.calls), 3);
	cr_assert_eq(atomic_load(&re.shutdown_rc), -EDEADLK);
	cr_assert_eq(atomic_load(&re.idle_rc), -EDEADLK);
	cr_assert_eq(lfq_pool_stats(re.pool, &st, NULL, 0), 0);
	cr_assert_eq(st.cancelled, 3);
	cr_assert_eq(st.completed, 1);
	/* Outside the hooks both work again. */
	cr_assert_eq(lfq_pool_wait_idle(re.pool, -1), 0);
	cr_assert_eq(lfq_pool_shutdown(re.pool, -1), 0);
	lfq_pool_destroy(re.pool);
}

Test(pool_edges, on_cancelled_calling_shutdown_or_wait_idle_gets_edeadlk, .timeout = 60)
{
	hook_reentry_case(false);
}

Test(pool_edges, on_dead_calling_shutdown_or_wait_idle_gets_edeadlk, .timeout = 60)
{
	hook_reentry_case(true);
}

/* ---- counters (item 7) ---- */

static _Atomic unsigned long errors;

static int fail_job(void *arg)
{
	(void)arg;
	return LFQ_JOB_FAIL;
}

static int retry_job(void *arg)
{
	(void)arg;
	return LFQ_JOB_RETRY;
}

static void count_error(const struct lfq_job *job, int result, void *ctx)
{
	(void)job;
	(void)result;
	(void)ctx;
	atomic_fetch_add(&errors, 1);
}

Test(pool_edges, per_worker_failed_counts_every_run_that_returned_nonzero)
{
	/* Before: per-worker `failed` counted permanent failures only (2 here), not the runs
	 * that returned LFQ_JOB_RETRY, although the header said "returned nonzero". */
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config cfg = {.workers = 2,
				      .queue_capacity = 16,
				      .on_error = count_error,
				      .retry_base_ns = 1000,
				      .retry_cap_ns = 1000};
	struct lfq_pool_stats st;
	struct lfq_pool_worker_stats ws[2];

	atomic_store(&errors, 0);
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = fail_job}), 0); /* 1 run */
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = fail_job}), 0); /* 1 run */
	/* Exhausted at once: 1 run. */
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job, .max_attempts = 1}),
		     0);
	/* Retried twice, then exhausted: 3 runs. */
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = retry_job, .max_attempts = 3}),
		     0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = count_job}), 0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_geq(lfq_pool_stats(pool, &st, ws, 2), 0);
	cr_assert_eq(atomic_load(&errors), 6, "on_error once per nonzero run");
	cr_assert_eq(ws[0].failed + ws[1].failed, 6, "per-worker failed: %llu + %llu",
		     (unsigned long long)ws[0].failed, (unsigned long long)ws[1].failed);
	cr_assert_eq(ws[0].completed + ws[1].completed, 1);
	/* The totals keep counting jobs, not runs. */
	cr_assert_eq(st.failed, 2);
	cr_assert_eq(st.exhausted, 2);
	cr_assert_eq(st.retried, 2);
	cr_assert_eq(st.started, 7);
	lfq_pool_destroy(pool);
}

/* A submitter parked after it counted its submit, before it published the job. */
static _Thread_local bool is_victim;
static sem_t parked, release;

static void park_after_count(int point)
{
	if (is_victim && point == LFQ_TP_POOL_SUBMIT_COUNTED) {
		is_victim = false;
		sem_post(&parked);
		while (sem_wait(&release) != 0)
			;
	}
}

struct victim {
	struct lfq_pool *pool;
	int rc;
};

static void *submit_parked(void *arg)
{
	struct victim *v = arg;

	is_victim = true;
	v->rc = lfq_pool_submit(v->pool, &(struct lfq_job){.fn = count_job});
	return NULL;
}

Test(pool_edges, submitted_never_goes_down_when_shutdown_refuses_a_counted_submit)
{
	/* Before: the submit was counted (1), then refused by the shutdown and uncounted (0):
	 * a Prometheus counter that went down reads as a reset. */
	struct lfq_pool *pool = make(1, 8);
	struct victim v = {.pool = pool};
	struct lfq_pool_stats before, after;
	pthread_t t;

	sem_init(&parked, 0, 0);
	sem_init(&release, 0, 0);
	atomic_store(&lfq__test_hook, park_after_count);
	cr_assert_eq(pthread_create(&t, NULL, submit_parked, &v), 0);
	while (sem_wait(&parked) != 0)
		;
	/* The shutdown drains (the parked job is not in the queue yet) and joins. */
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	cr_assert_geq(lfq_pool_stats(pool, &before, NULL, 0), 0);
	sem_post(&release);
	pthread_join(t, NULL);
	cr_assert_eq(v.rc, -ESHUTDOWN);
	cr_assert_geq(lfq_pool_stats(pool, &after, NULL, 0), 0);
	cr_assert_geq(after.submitted, before.submitted, "submitted went from %llu to %llu",
		      (unsigned long long)before.submitted, (unsigned long long)after.submitted);
	cr_assert_eq(after.submitted, 0, "a refused submit is not counted");
	cr_assert_eq(after.submitted, after.succeeded + after.dead);
	atomic_store(&lfq__test_hook, NULL);
	lfq_pool_destroy(pool);
}

Test(pool_edges, submitted_covers_finished_jobs_in_every_snapshot)
{
	/* The public count is taken after the publish (so that it never goes back); a job may
	 * finish before its submit is counted there, and the snapshot must still satisfy
	 * finished <= submitted. */
	struct lfq_pool *pool = make(2, 64);
	struct lfq_pool_stats st;

	for (int i = 0; i < 20000; i++) {
		if (lfq_pool_submit(pool, &(struct lfq_job){.fn = count_job}) != 0)
			sched_yield();
		if (i % 16 == 0) {
			cr_assert_geq(lfq_pool_stats(pool, &st, NULL, 0), 0);
			cr_assert_leq(st.completed + st.dead, st.submitted);
		}
	}
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_geq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.submitted, st.completed);
	lfq_pool_destroy(pool);
}

/* ---- sizes on 32-bit targets (item 4) ---- */

Test(pool_edges, sizes_at_the_public_limits_fit_a_32_bit_size_t)
{
	/* No -m32 build here (Debian's i386 liburcu and Criterion need a multiarch setup), so
	 * the pool's size arithmetic is checked against a 32-bit SIZE_MAX instead: it is done
	 * in 64 bits and compared with the limit, never wrapped first. */
	struct lfq__pool_layout lay;

	cr_assert_eq(lfq__pool_layout(LFQ_POOL_CAPACITY_MAX, LFQ_POOL_PRIORITIES_MAX,
				      LFQ_POOL_WORKERS_MAX, UINT32_MAX, &lay),
		     0);
	cr_assert_eq(lay.order, 24);
	cr_assert_eq(lay.ring_bytes, ((uint64_t)2 << 24) * 8);
	cr_assert_eq(lay.entries_bytes, (LFQ_POOL_PRIORITIES_MAX + 1) * lay.ring_bytes);
	cr_assert_leq(lay.entries_bytes, UINT32_MAX, "9 rings of 2^25 entries: 2.25 GiB");
	cr_assert_eq(lay.slots_bytes, (uint64_t)LFQ_POOL_CAPACITY_MAX * sizeof(struct lfq_job));
	cr_assert_geq(lay.workers_bytes, (uint64_t)LFQ_POOL_WORKERS_MAX * 64);
	/* A smaller address space: the same pool does not fit, and says so. */
	cr_assert_eq(lfq__pool_layout(LFQ_POOL_CAPACITY_MAX, LFQ_POOL_PRIORITIES_MAX,
				      LFQ_POOL_WORKERS_MAX, (uint64_t)1 << 30, &lay),
		     -ENOMEM);
	cr_assert_eq(lfq__pool_layout(LFQ_POOL_CAPACITY_MAX + 1, 1, 1, UINT64_MAX, &lay), -EINVAL);
	/* Small ones: whole cache lines, 2^order >= capacity. */
	cr_assert_eq(lfq__pool_layout(3, 1, 1, UINT32_MAX, &lay), 0);
	cr_assert_eq(lay.order, 2);
	cr_assert_eq(lay.entries_bytes, 128);
	cr_assert_eq(lay.slots_bytes % 64, 0);
}

Test(pool_edges, timer_heap_growth_refuses_a_size_that_would_wrap)
{
	/* Before: the doubled capacity times the entry size wrapped (on 32-bit a few million
	 * delayed retries suffice; faked here), realloc returned a tiny block and the push
	 * wrote far beyond it (SIGSEGV). Now the push fails and the pool runs the retry at
	 * once (its redo path), losing nothing. */
	struct lfq__timers tm;
	struct lfq__task task = {.fn = count_job};
	struct lfq__timer *heap = malloc(16 * sizeof(*heap));

	cr_assert_not_null(heap);
	memset(&tm, 0, sizeof(tm));
	tm.heap = heap;
	tm.cap = SIZE_MAX / 2 / sizeof(struct lfq__timer) + 1; /* a lie: 16 are there */
	tm.n = tm.cap;
	cr_assert_not(lfq__timer_push(&tm, 1, &task));
	cr_assert_eq(tm.heap, heap, "nothing reallocated");
	cr_assert_eq(tm.n, tm.cap, "nothing pushed");
	free(heap);
}

/* ---- issue 24: destroy from a job; retry due times saturate ---- */

static struct lfq_pool *self_pool;
static _Atomic int destroy_rc = 1;

static int destroys_its_pool(void *arg)
{
	(void)arg;
	atomic_store(&destroy_rc, lfq_pool_destroy(self_pool));
	return 0;
}

Test(pool_edges, destroy_from_a_job_is_refused_and_frees_nothing)
{
	/* Before: asserted only (an abort in debug builds); in release builds shutdown said
	 * -EDEADLK and destroy freed the pool under its running workers. */
	const struct lfq_pool_config cfg = {.workers = 1, .queue_capacity = 8};
	const struct lfq_job job = {.fn = destroys_its_pool};

	cr_assert_eq(lfq_pool_create(&self_pool, &cfg), 0);
	atomic_store(&ran, 0);
	cr_assert_eq(lfq_pool_submit(self_pool, &job), 0);
	cr_assert_eq(lfq_pool_wait_idle(self_pool, 10000 * MS), 0);
	cr_assert_eq(atomic_load(&destroy_rc), -EDEADLK);
	/* Still whole, still taking jobs: the refused call changed nothing. */
	const struct lfq_job c = {.fn = count_job};

	cr_assert_eq(lfq_pool_submit(self_pool, &c), 0);
	cr_assert_eq(lfq_pool_wait_idle(self_pool, 10000 * MS), 0);
	cr_assert_eq(atomic_load(&ran), 1);
	cr_assert_eq(lfq_pool_destroy(self_pool), 0);
	cr_assert_eq(lfq_pool_destroy(NULL), 0);
}

static _Atomic int64_t late_now;
static _Atomic unsigned late_runs, late_dead;

static int64_t late_clock(void *ctx)
{
	(void)ctx;
	return atomic_load(&late_now);
}

static int retries_once(void *arg)
{
	(void)arg;
	return atomic_fetch_add(&late_runs, 1) == 0 ? LFQ_JOB_RETRY : 0;
}

static void count_dead(const struct lfq_job *job, int reason, unsigned attempts, int last,
		       void *ctx)
{
	(void)job, (void)attempts, (void)last, (void)ctx;
	if (reason == LFQ_DEAD_CANCELLED)
		atomic_fetch_add(&late_dead, 1);
}

Test(pool_edges, a_retry_due_in_decades_waits_instead_of_wrapping)
{
	/* A clock 1 s short of INT64_MAX and a backoff of up to ~146 years: now + delay
	 * wrapped into the past and the retry ran at once. */
	const struct lfq_pool_config cfg = {.workers = 1,
					    .queue_capacity = 8,
					    .retry_base_ns = INT64_MAX / 2,
					    .retry_cap_ns = INT64_MAX / 2,
					    .clock = late_clock,
					    .on_dead = count_dead};
	const struct lfq_job job = {.fn = retries_once};
	struct lfq_pool *pool = NULL;
	struct lfq_pool_stats st;

	atomic_store(&late_now, INT64_MAX - 1000000000);
	atomic_store(&late_runs, 0);
	atomic_store(&late_dead, 0);
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	cr_assert_eq(lfq_pool_submit(pool, &job), 0);
	for (int i = 0; i < 10000 && atomic_load(&late_runs) == 0; i++)
		sleep_ms(1);
	sleep_ms(200); /* time for a wrapped retry to run */
	cr_assert_eq(atomic_load(&late_runs), 1, "the retry ran at once");
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.delayed, 1);
	cr_assert_eq(lfq_pool_shutdown(pool, 0), -ETIMEDOUT);
	cr_assert_eq(atomic_load(&late_dead), 1, "handed back at shutdown");
	cr_assert_eq(lfq_pool_destroy(pool), 0);
}

/* ---- issue 22: the grace period bounds shutdown without hooks ---- */

static _Atomic unsigned slow_ran;

static int runs_200ms(void *arg)
{
	(void)arg;
	sleep_ms(200);
	atomic_fetch_add(&slow_ran, 1);
	return 0;
}

Test(pool_edges, shutdown_grace_period_bounds_it_without_hooks)
{
	/* Before: with neither on_cancelled nor on_dead every job ran: 1 s, not 100 ms + one
	 * job. Now the jobs not started are kept for lfq_pool_take_unstarted. */
	const struct lfq_pool_config cfg = {.workers = 1, .queue_capacity = 8};
	const struct lfq_job job = {.fn = runs_200ms, .arg = (void *)(uintptr_t)7};
	struct lfq_pool *pool = NULL;

	atomic_store(&slow_ran, 0);
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(lfq_pool_submit(pool, &job), 0);
	const int64_t t0 = now_ns();

	cr_assert_eq(lfq_pool_shutdown(pool, 100 * MS), -ETIMEDOUT);
	const int64_t took = now_ns() - t0;

	/* 100 ms + one 200 ms job; 700 ms is generous, and far below the 1 s of all five. */
	cr_assert_lt(took, 700 * MS, "shutdown(100 ms) took %lld ms", (long long)(took / MS));
	cr_assert_eq(atomic_load(&slow_ran), 1, "only the job running at the deadline ran");
	/* The four not started are handed back, as they were submitted. */
	struct lfq_job back[8];
	struct lfq_pool_stats st;

	cr_assert_eq(lfq_pool_take_unstarted(pool, back, 3), 3);
	cr_assert_eq(lfq_pool_take_unstarted(pool, back + 3, 5), 1);
	cr_assert_eq(lfq_pool_take_unstarted(pool, back, 8), 0);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(back[i].fn, runs_200ms);
		cr_assert_eq(back[i].arg, (void *)(uintptr_t)7);
	}
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.cancelled, 4);
	cr_assert_eq(st.submitted, st.succeeded + st.dead);
	cr_assert_eq(lfq_pool_destroy(pool), 0);
}

/* ---- issue 22: the CPUs the pool counts include the cgroup v2 quota ---- */

static const char *write_cpu_max(const char *text)
{
	static char path[64];

	snprintf(path, sizeof(path), "/tmp/lfq_cpu_max_%d", (int)getpid());
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

Test(pool_edges, cpu_max_is_read_as_ceil_quota_over_period)
{
	cr_assert_eq(lfq__cpu_max_limit(write_cpu_max("max 100000\n")), 0);
	cr_assert_eq(lfq__cpu_max_limit(write_cpu_max("150000 100000\n")), 2);
	cr_assert_eq(lfq__cpu_max_limit(write_cpu_max("200000 100000\n")), 2);
	cr_assert_eq(lfq__cpu_max_limit(write_cpu_max("100000 100000\n")), 1);
	cr_assert_eq(lfq__cpu_max_limit(write_cpu_max("5000 100000\n")), 1);
	cr_assert_eq(lfq__cpu_max_limit(write_cpu_max("250000 50000")), 5);
	cr_assert_eq(lfq__cpu_max_limit(write_cpu_max("garbage\n")), 0);
	cr_assert_eq(lfq__cpu_max_limit(write_cpu_max("12x 100000\n")), 0);
	cr_assert_eq(lfq__cpu_max_limit(write_cpu_max("100000 0\n")), 0);
	unlink(write_cpu_max(""));
	cr_assert_eq(lfq__cpu_max_limit("/nonexistent/cpu.max"), 0);
}

/* Workers of a pool created with the default worker count. */
static unsigned default_workers(void)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_stats st;
	struct lfq_pool_worker_stats per[LFQ_POOL_WORKERS_MAX > 256 ? 256 : LFQ_POOL_WORKERS_MAX];

	cr_assert_eq(lfq_pool_create(&pool, NULL), 0);
	cr_assert_eq(lfq_pool_stats(pool, &st, per, sizeof(per) / sizeof(per[0])), 0);
	cr_assert_eq(lfq_pool_destroy(pool), 0);
	return st.workers;
}

Test(pool_edges, default_workers_follow_the_cgroup_cpu_quota)
{
	/* Before: only the affinity mask counted; a pod limited to one CPU on a bigger node
	 * got a worker per node CPU. */
	cpu_set_t set;

	cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	const unsigned allowed = (unsigned)CPU_COUNT(&set);

	atomic_store(&lfq__pool_test_cpu_max, write_cpu_max("max 100000\n"));
	cr_assert_eq(default_workers(), allowed < 256 ? allowed : 256, "no quota: the mask");
	atomic_store(&lfq__pool_test_cpu_max, write_cpu_max("50000 100000\n"));
	cr_assert_eq(default_workers(), 1, "half a CPU: one worker");
	if (allowed >= 3) {
		atomic_store(&lfq__pool_test_cpu_max, write_cpu_max("150000 100000\n"));
		cr_assert_eq(default_workers(), 2, "1.5 CPUs: two workers");
	}
	unlink(write_cpu_max(""));
	atomic_store(&lfq__pool_test_cpu_max, NULL);
}
