/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's accounting under stress: many submitters (more threads than cores), random job
 * outcomes (success, permanent failure, retries that succeed, retries that run out, expired
 * deadlines), several priority levels, and a shutdown in the middle with a random drain
 * timeout. Every accepted job must end exactly once, as a success or through on_dead, and
 * lfq_pool_stats must show submitted = succeeded + dead with nothing left.
 * Sizes: LFQ_STRESS_ITEMS (jobs per submitter) and LFQ_STRESS_SCALE, see stress_util.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <lfq/pool.h>

#include "stress_util.h"

#define SUBMITTERS 6

static size_t per_submitter;
/* Per job (submitter, sequence): runs, successes, deaths. */
static _Atomic unsigned char *runs, *succeeded, *dead;

static size_t slot_of(void *it)
{
	return STRESS_PROD(it) * (per_submitter + 1) + STRESS_SEQ(it);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	return x ^ (x >> 27);
}

/* Outcome by hash: 0 succeed, 1 fail, 2 retry once then succeed, 3 retry until exhausted,
 * 4 (deadline in the past, set at submit) never runs. */
static unsigned outcome(void *it)
{
	return (unsigned)(mix((uintptr_t)it) % 5);
}

static int job(void *arg)
{
	cr_assert(STRESS_OK(arg), "corrupted job %p", arg);
	const size_t s = slot_of(arg);
	const unsigned n = atomic_fetch_add(&runs[s], 1);

	switch (outcome(arg)) {
	case 0:
		break;
	case 1:
		return LFQ_JOB_FAIL;
	case 2:
		if (n == 0)
			return LFQ_JOB_RETRY;
		break;
	case 3:
		return LFQ_JOB_RETRY;
	default:
		cr_assert(0, "an expired job ran");
	}
	atomic_fetch_add(&succeeded[s], 1);
	return 0;
}

static void on_dead(const struct lfq_job *j, int reason, unsigned attempts, int last, void *ctx)
{
	const size_t s = slot_of(j->arg);

	(void)ctx;
	cr_assert_eq(atomic_fetch_add(&dead[s], 1), 0, "dead twice");
	cr_assert_eq(atomic_load(&succeeded[s]), 0, "dead after success");
	cr_assert_eq(attempts, atomic_load(&runs[s]));
	switch (reason) {
	case LFQ_DEAD_FAILED:
		cr_assert_eq(outcome(j->arg), 1);
		cr_assert_eq(last, LFQ_JOB_FAIL);
		break;
	case LFQ_DEAD_EXHAUSTED:
		cr_assert_eq(outcome(j->arg), 3);
		cr_assert_eq(attempts, 3);
		break;
	case LFQ_DEAD_EXPIRED:
		cr_assert_eq(outcome(j->arg), 4);
		break;
	default:
		cr_assert_eq(reason, LFQ_DEAD_CANCELLED);
	}
}

struct submitter {
	struct lfq_pool *pool;
	unsigned id;
	size_t accepted;
};

static void *submit_until_shutdown(void *arg)
{
	struct submitter *sub = arg;
	unsigned fails = 0;

	for (size_t seq = 1; seq <= per_submitter; seq++) {
		void *it = STRESS_ITEM(sub->id, seq);
		const struct lfq_job j = {.fn = job,
					  .arg = it,
					  .priority = (uint8_t)(mix(seq) % 4),
					  .deadline_ns = outcome(it) == 4 ? 1 : 0};
		int rc;

		if (sub->id % 2) {
			rc = lfq_pool_submit_wait(sub->pool, &j, -1);
		} else {
			while ((rc = lfq_pool_submit(sub->pool, &j)) == -EAGAIN)
				stress_backoff(&fails);
		}
		if (rc == -ESHUTDOWN)
			break;
		cr_assert_eq(rc, 0);
		sub->accepted = seq;
	}
	return NULL;
}

static void sleep_us(long us)
{
	struct timespec ts = {0, us * 1000};

	nanosleep(&ts, NULL);
}

Test(pool_dead, every_accepted_job_ends_exactly_once_across_a_shutdown)
{
	const unsigned rounds = 24;
	const int64_t timeouts[4] = {0, 200000, 5000000, -1};

	per_submitter = stress_items(20000);
	const size_t cells = SUBMITTERS * (per_submitter + 1);

	runs = calloc(cells, 1);
	succeeded = calloc(cells, 1);
	dead = calloc(cells, 1);
	cr_assert(runs && succeeded && dead);
	for (unsigned round = 0; round < rounds; round++) {
		struct lfq_pool_config cfg = {.workers = 3,
					      .queue_capacity = round % 2 ? 16 : 256,
					      .priorities = 4,
					      .starve_limit = 4,
					      .on_dead = on_dead,
					      .max_attempts = 3,
					      .retry_base_ns = 20000,
					      .retry_cap_ns = 200000,
					      .flags = round % 3 ? LFQ_POOL_METRICS : 0};
		struct lfq_pool *pool;
		struct submitter s[SUBMITTERS];
		pthread_t t[SUBMITTERS];

		for (size_t i = 0; i < cells; i++) {
			atomic_store_explicit(&runs[i], 0, memory_order_relaxed);
			atomic_store_explicit(&succeeded[i], 0, memory_order_relaxed);
			atomic_store_explicit(&dead[i], 0, memory_order_relaxed);
		}
		cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
		for (unsigned p = 0; p < SUBMITTERS; p++) {
			s[p] = (struct submitter){.pool = pool, .id = p};
			cr_assert_eq(pthread_create(&t[p], NULL, submit_until_shutdown, &s[p]), 0);
		}
		/* Shut down in the middle: once traffic has started (thread start-up can take
		 * longer than the pause below on a loaded machine), then after a pause. */
		for (struct lfq_pool_stats now = {0}; now.submitted < 8; sched_yield())
			cr_assert_eq(lfq_pool_stats(pool, &now, NULL, 0), 0);
		sleep_us(500 + 700 * (round % 5));
		const int rc = lfq_pool_shutdown(pool, timeouts[round % 4]);

		cr_assert(rc == 0 || rc == -ETIMEDOUT, "shutdown: %d", rc);
		for (unsigned p = 0; p < SUBMITTERS; p++)
			pthread_join(t[p], NULL);

		struct lfq_pool_stats st;
		uint64_t accepted = 0, ok = 0, gone = 0;

		cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
		for (unsigned p = 0; p < SUBMITTERS; p++) {
			accepted += s[p].accepted;
			for (size_t seq = 1; seq <= per_submitter; seq++) {
				const size_t c = p * (per_submitter + 1) + seq;
				const unsigned ends =
					atomic_load(&succeeded[c]) + atomic_load(&dead[c]);

				if (seq <= s[p].accepted)
					cr_assert_eq(ends, 1,
						     "round %u job p%u s%zu ended %u times", round,
						     p, seq, ends);
				else
					cr_assert_eq(ends + atomic_load(&runs[c]), 0);
				ok += atomic_load(&succeeded[c]);
				gone += atomic_load(&dead[c]);
			}
		}
		cr_assert_eq(st.submitted, accepted);
		cr_assert_eq(st.succeeded, ok);
		cr_assert_eq(st.dead, gone);
		cr_assert_eq(st.submitted, st.succeeded + st.dead, "the accounting invariant");
		cr_assert_eq(st.dead, st.failed + st.exhausted + st.expired + st.cancelled);
		cr_assert_eq(st.queued + st.delayed + st.running, 0);
		cr_assert_gt(accepted, 0);
		if (getenv("LFQ_STRESS_VERBOSE"))
			fprintf(stderr,
				"round %u: accepted %llu succeeded %llu failed %llu exhausted %llu "
				"expired %llu cancelled %llu retried %llu\n",
				round, (unsigned long long)accepted,
				(unsigned long long)st.succeeded, (unsigned long long)st.failed,
				(unsigned long long)st.exhausted, (unsigned long long)st.expired,
				(unsigned long long)st.cancelled, (unsigned long long)st.retried);
		if (rc == 0)
			cr_assert_eq(st.cancelled, 0);
		lfq_pool_destroy(pool);
	}
	free((void *)runs);
	free((void *)succeeded);
	free((void *)dead);
}
