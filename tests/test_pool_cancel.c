/* SPDX-License-Identifier: MIT */
/* Job ids and lfq_pool_cancel (issue 14): a queued job cancelled goes to on_dead as
 * CANCELLED and never runs; started, finished, unknown and stale ids are refused; and under a
 * race of many submitters, cancellers, workers and a timed-out shutdown every job ends
 * exactly once. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lfq/pool.h>

#include "test_time.h"

static atomic_bool gate_open;
static _Atomic int gate_entered;

static int gate(void *arg)
{
	(void)arg;
	atomic_fetch_add(&gate_entered, 1);
	while (!atomic_load(&gate_open))
		sleep_ms(1);
	return 0;
}

/* Per-job outcomes, indexed by the job's arg. */
#define MAXJ 200000
static _Atomic unsigned char ran[MAXJ], dead_cancelled[MAXJ], shutdown_cancelled[MAXJ];
static _Atomic int dead_other;
static _Atomic unsigned dead_attempts; /* sum of the attempts on_dead saw for cancels */

static int mark(void *arg)
{
	atomic_fetch_add(&ran[(uintptr_t)arg], 1);
	return 0;
}

static int spin_mark(void *arg);

static void on_dead(const struct lfq_job *job, int reason, unsigned attempts, int last, void *ctx)
{
	(void)ctx;
	(void)last;
	if (job->fn != mark && job->fn != spin_mark)
		return;
	if (reason == LFQ_DEAD_CANCELLED) {
		atomic_fetch_add(&dead_cancelled[(uintptr_t)job->arg], 1);
		atomic_fetch_add(&dead_attempts, attempts);
	} else {
		atomic_fetch_add(&dead_other, 1);
	}
}

static void on_cancelled(const struct lfq_job *job, void *ctx)
{
	(void)ctx;
	if (job->fn == mark || job->fn == spin_mark)
		atomic_fetch_add(&shutdown_cancelled[(uintptr_t)job->arg], 1);
}

static void reset(size_t n)
{
	atomic_store(&gate_open, false);
	atomic_store(&gate_entered, 0);
	atomic_store(&dead_other, 0);
	atomic_store(&dead_attempts, 0);
	for (size_t i = 0; i < n; i++) {
		atomic_store(&ran[i], 0);
		atomic_store(&dead_cancelled[i], 0);
		atomic_store(&shutdown_cancelled[i], 0);
	}
}

static struct lfq_pool *make(unsigned workers, size_t capacity)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config cfg = {.workers = workers,
				      .queue_capacity = capacity,
				      .flags = LFQ_POOL_NO_PIN,
				      .on_dead = on_dead,
				      .on_cancelled = on_cancelled};

	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	return pool;
}

/* Holds the (one) worker in a gate job. Waits for room: a cancelled job counts as finished
 * for lfq_pool_wait_idle but keeps its slot until the worker reaches it, which may come just
 * after wait_idle returned. */
static void hold_worker(struct lfq_pool *pool)
{
	atomic_store(&gate_open, false);
	const int before = atomic_load(&gate_entered);

	cr_assert_eq(lfq_pool_submit_wait(pool, &(struct lfq_job){.fn = gate}, 10000000000), 0);
	while (atomic_load(&gate_entered) == before)
		sleep_ms(1);
}

#define JOB(k) (&(struct lfq_job){.fn = mark, .arg = (void *)(uintptr_t)(k)})

Test(pool_cancel, a_queued_job_goes_to_on_dead_and_never_runs)
{
	reset(8);
	struct lfq_pool *pool = make(1, 8);
	uint64_t id = 0, id2 = 0;

	hold_worker(pool);
	cr_assert_eq(lfq_pool_submit_id(pool, &(struct lfq_job){.fn = mark, .arg = (void *)1}, &id),
		     0);
	cr_assert_neq(id, 0);
	cr_assert_eq(
		lfq_pool_submit_id(pool, &(struct lfq_job){.fn = mark, .arg = (void *)2}, &id2), 0);
	cr_assert_neq(id, id2);
	cr_assert_eq(lfq_pool_cancel(pool, id), 0);
	/* on_dead ran before cancel returned, on this thread. */
	cr_assert_eq(atomic_load(&dead_cancelled[1]), 1);
	cr_assert_eq(atomic_load(&dead_attempts), 0);
	cr_assert_eq(lfq_pool_cancel(pool, id), -EALREADY);
	atomic_store(&gate_open, true);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran[1]), 0);
	cr_assert_eq(atomic_load(&ran[2]), 1);
	cr_assert_eq(lfq_pool_cancel(pool, id2), -EBUSY); /* ran */
	struct lfq_pool_stats st;

	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.submitted, 3);
	cr_assert_eq(st.succeeded, 2);
	cr_assert_eq(st.cancelled, 1);
	cr_assert_eq(st.dead, 1);
	cr_assert_eq(st.queued, 0);
	lfq_pool_destroy(pool);
}

Test(pool_cancel, started_unknown_and_bad_ids_are_refused)
{
	reset(8);
	struct lfq_pool *pool = make(1, 4);
	uint64_t id = 0;

	cr_assert_eq(lfq_pool_submit_id(pool, &(struct lfq_job){.fn = gate}, &id), 0);
	while (atomic_load(&gate_entered) == 0)
		sleep_ms(1);
	cr_assert_eq(lfq_pool_cancel(pool, id), -EBUSY); /* running */
	cr_assert_eq(lfq_pool_cancel(pool, 0), -ENOENT);
	cr_assert_eq(lfq_pool_cancel(pool, id + 1), -ENOENT); /* another slot, never used */
	cr_assert_eq(lfq_pool_cancel(pool, (1ull << 24) | 5), -ENOENT);	 /* slot beyond capacity */
	cr_assert_eq(lfq_pool_cancel(pool, id + (1ull << 24)), -ENOENT); /* a later generation */
	cr_assert_eq(lfq_pool_cancel(NULL, id), -EINVAL);
	cr_assert_eq(lfq_pool_submit_id(pool, &(struct lfq_job){.fn = mark}, NULL), -EINVAL);
	cr_assert_eq(lfq_pool_submit_id(NULL, &(struct lfq_job){.fn = mark}, &id), -EINVAL);
	cr_assert_eq(lfq_pool_submit_id(pool, &(struct lfq_job){.fn = NULL}, &id), -EINVAL);
	atomic_store(&gate_open, true);
	lfq_pool_destroy(pool);
}

Test(pool_cancel, an_old_id_never_cancels_the_job_that_reused_its_slot)
{
	/* One slot: every job goes through slot 0. */
	reset(8);
	struct lfq_pool *pool = make(1, 1);
	uint64_t a = 0, b = 0;

	hold_worker(pool);
	cr_assert_eq(lfq_pool_submit_id(pool, JOB(1), &a), 0);
	cr_assert_eq(lfq_pool_cancel(pool, a), 0);
	/* The cancelled job still holds the slot until the worker reaches it. */
	cr_assert_eq(lfq_pool_submit(pool, JOB(3)), -EAGAIN);
	atomic_store(&gate_open, true);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	hold_worker(pool);
	cr_assert_eq(lfq_pool_submit_id(pool, JOB(2), &b), 0);
	cr_assert_eq(b & 0xffffff, a & 0xffffff, "the same slot");
	cr_assert_neq(a, b);
	cr_assert_eq(lfq_pool_cancel(pool, a), -ENOENT);
	cr_assert_eq(atomic_load(&dead_cancelled[2]), 0);
	atomic_store(&gate_open, true);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran[2]), 1);
	cr_assert_eq(atomic_load(&ran[1]), 0);
	cr_assert_eq(lfq_pool_cancel(pool, b), -EBUSY);
	lfq_pool_destroy(pool);
}

static void *open_gate_later(void *arg)
{
	(void)arg;
	sleep_ms(50);
	atomic_store(&gate_open, true);
	return NULL;
}

/* Ownership: a job handed back by a timed-out shutdown reaches exactly one terminal hook,
 * on_dead (CANCELLED) when it is set, as every other dead job does (on_cancelled only in a
 * config without on_dead), so that freeing arg there is safe. */
Test(pool_cancel, shutdown_hands_a_job_to_exactly_one_hook)
{
	reset(8);
	struct lfq_pool *pool = make(1, 8);
	pthread_t opener;

	hold_worker(pool);
	for (uintptr_t k = 1; k <= 5; k++)
		cr_assert_eq(lfq_pool_submit(pool, JOB(k)), 0);
	cr_assert_eq(pthread_create(&opener, NULL, open_gate_later, NULL), 0);
	cr_assert_eq(lfq_pool_shutdown(pool, 0), -ETIMEDOUT);
	pthread_join(opener, NULL);
	for (uintptr_t k = 1; k <= 5; k++) {
		cr_assert_eq(atomic_load(&ran[k]), 0);
		cr_assert_eq(atomic_load(&dead_cancelled[k]), 1, "job %zu: on_dead %d", (size_t)k,
			     atomic_load(&dead_cancelled[k]));
		cr_assert_eq(
			atomic_load(&shutdown_cancelled[k]), 0,
			"job %zu reached on_cancelled too: freeing arg in both is a double free",
			(size_t)k);
	}
	struct lfq_pool_stats st;

	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.cancelled, 5);
	cr_assert_eq(st.dead, 5);
	cr_assert_eq(st.submitted, st.succeeded + st.dead);
	lfq_pool_destroy(pool);
}

/* The race: submitters that cancel (their own latest job, or a random earlier one), workers
 * that start jobs, and, once half the jobs are in, a shutdown with a zero drain timeout that
 * hands back what is still queued while the racers go on (their submits then fail). Every
 * accepted job must end exactly once: ran, cancelled by lfq_pool_cancel (which then returned
 * 0, and on_dead said CANCELLED), or handed back by the shutdown (on_dead CANCELLED only:
 * on_cancelled is not called when on_dead is set). */
#define RACERS 4
static struct lfq_pool *race_pool;
static uint64_t race_ids[MAXJ];
static _Atomic unsigned char cancel_ok[MAXJ], accepted[MAXJ];
static _Atomic size_t race_submitted;
static size_t per_racer;

/* A little work, so that the queue stays populated and cancels find jobs queued. */
static int spin_mark(void *arg)
{
	for (volatile int i = 0; i < 20000; i++)
		;
	return mark(arg);
}

static void *racer(void *arg)
{
	const uintptr_t r = (uintptr_t)arg;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (r + 1);

	for (size_t n = 0; n < per_racer; n++) {
		const uintptr_t k = r * per_racer + n;
		const struct lfq_job j = {.fn = spin_mark, .arg = (void *)k};
		int rc;

		while ((rc = lfq_pool_submit_id(race_pool, &j, &race_ids[k])) == -EAGAIN)
			sched_yield();
		if (rc == -ESHUTDOWN)
			break;
		cr_assert_eq(rc, 0);
		atomic_store(&accepted[k], 1);
		atomic_fetch_add(&race_submitted, 1);
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		/* Half the time the job just submitted, else one of this racer's earlier ones. */
		const uintptr_t victim = (rng & 1) ? k : r * per_racer + (rng >> 8) % (n + 1);
		const int c = lfq_pool_cancel(race_pool, race_ids[victim]);

		if (c == 0)
			atomic_fetch_add(&cancel_ok[victim], 1);
		else
			cr_assert(c == -EBUSY || c == -EALREADY || c == -ENOENT, "cancel: %d", c);
	}
	return NULL;
}

Test(pool_cancel, cancel_races_workers_and_shutdown_exactly_once)
{
	const char *scale = getenv("LFQ_STRESS_SCALE");
	const double s = scale ? atof(scale) : 1.0;

	per_racer = (size_t)(20000 * (s > 0 ? s : 1.0));
	if (per_racer * RACERS > MAXJ)
		per_racer = MAXJ / RACERS;
	const size_t total = per_racer * RACERS;

	reset(total);
	for (size_t i = 0; i < total; i++) {
		atomic_store(&cancel_ok[i], 0);
		atomic_store(&accepted[i], 0);
	}
	atomic_store(&race_submitted, 0);
	race_pool = make(3, 64);
	pthread_t th[RACERS];

	for (uintptr_t r = 0; r < RACERS; r++)
		cr_assert_eq(pthread_create(&th[r], NULL, racer, (void *)r), 0);
	while (atomic_load(&race_submitted) < total / 2)
		sched_yield();
	const int rc = lfq_pool_shutdown(race_pool, 0);

	cr_assert(rc == 0 || rc == -ETIMEDOUT);
	for (int r = 0; r < RACERS; r++)
		pthread_join(th[r], NULL);
	size_t nacc = 0, nran = 0, ncancel = 0, nshut = 0;

	for (size_t k = 0; k < total; k++) {
		/* on_dead CANCELLED: by lfq_pool_cancel (o) or handed back by the shutdown. */
		const unsigned a = ran[k], c = dead_cancelled[k], o = cancel_ok[k];

		cr_assert_eq(shutdown_cancelled[k], 0, "job %zu: on_cancelled despite on_dead", k);
		cr_assert_leq(o, c, "job %zu: cancel returned 0 but on_dead did not see it", k);
		const unsigned h = c - o;

		cr_assert_eq(a + o + h, accepted[k],
			     "job %zu (accepted %u): ran %u, cancelled %u, handed back %u", k,
			     (unsigned)accepted[k], a, o, h);
		nacc += accepted[k];
		nran += a;
		ncancel += o;
		nshut += h;
	}
	cr_assert_eq(atomic_load(&dead_other), 0);
	struct lfq_pool_stats st;

	cr_assert_eq(lfq_pool_stats(race_pool, &st, NULL, 0), 0);
	cr_assert_eq(st.submitted, nacc);
	cr_assert_eq(st.succeeded, nran);
	cr_assert_eq(st.cancelled, ncancel + nshut);
	cr_assert_eq(st.submitted, st.succeeded + st.dead);
	cr_assert_eq(st.queued, 0);
	fprintf(stderr,
		"%zu jobs accepted: %zu ran, %zu cancelled, %zu handed back by the shutdown\n",
		nacc, nran, ncancel, nshut);
	lfq_pool_destroy(race_pool);
}
