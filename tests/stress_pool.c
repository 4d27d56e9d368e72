/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool under contention, with more threads than cores: exactly-once execution with many
 * submitters, shutdown racing with submitters (every accepted job runs or comes back exactly
 * once), wait_idle racing with trees of jobs that submit jobs.
 * Sizes: LFQ_STRESS_ITEMS (jobs per submitter) and LFQ_STRESS_SCALE, see stress_util.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lfq/pool.h>

#include "stress_util.h"

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A little work, different for each job, sometimes with a yield to reshuffle the workers. */
static void busy(uintptr_t x)
{
	static _Thread_local volatile unsigned sink;

	for (unsigned i = 0; i < (unsigned)(x % 64); i++)
		sink = sink + i;
	if (x % 97 == 0)
		sched_yield();
}

/* ---- exactly once ---- */

static struct ledger run_ledger;

static int ledger_job(void *arg)
{
	ledger_record(&run_ledger, arg);
	busy((uintptr_t)arg);
	return 0;
}

struct submitter {
	struct lfq_pool *pool;
	unsigned id;
	size_t n;
	bool use_wait;
	size_t accepted; /* shutdown race: how many were accepted (seq 1 .. accepted) */
};

/* Submits item seq of submitter s: blocking, or retrying -EAGAIN with a backoff. */
static int submit_seq(struct submitter *s, size_t seq, unsigned *fails)
{
	const struct lfq_job job = {.fn = ledger_job, .arg = STRESS_ITEM(s->id, seq)};
	int rc;

	if (s->use_wait)
		return lfq_pool_submit_wait(s->pool, &job, -1);
	while ((rc = lfq_pool_submit(s->pool, &job)) == -EAGAIN)
		stress_backoff(fails);
	return rc;
}

static void *submit_all(void *arg)
{
	struct submitter *s = arg;
	unsigned fails = 0;

	for (size_t seq = 1; seq <= s->n; seq++) {
		const int rc = submit_seq(s, seq, &fails);

		cr_assert_eq(rc, 0, "submitter %u seq %zu: %d", s->id, seq, rc);
	}
	return NULL;
}

static void exactly_once(unsigned submitters, unsigned workers, size_t capacity)
{
	const size_t n = stress_items(100000);
	struct lfq_pool_config cfg = {.workers = workers, .queue_capacity = capacity};
	struct lfq_pool *pool;
	struct submitter s[16];
	pthread_t t[16];
	struct lfq_pool_stats st;

	cr_assert_leq(submitters, 16);
	ledger_init(&run_ledger, submitters, n);
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	for (unsigned p = 0; p < submitters; p++) {
		s[p] = (struct submitter){.pool = pool, .id = p, .n = n, .use_wait = p % 2};
		cr_assert_eq(pthread_create(&t[p], NULL, submit_all, &s[p]), 0);
	}
	for (unsigned p = 0; p < submitters; p++)
		pthread_join(t[p], NULL);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(ledger_count(&run_ledger), submitters * n, "every accepted job ran");
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.submitted, submitters * n);
	cr_assert_eq(st.completed, submitters * n);
	cr_assert_eq(st.queued + st.running + st.failed + st.cancelled, 0);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	lfq_pool_destroy(pool);
	ledger_free(&run_ledger);
}

Test(pool, exactly_once_with_many_submitters_and_more_workers_than_cores)
{
	exactly_once(4, 6, 64);
}

Test(pool, exactly_once_through_a_queue_of_one)
{
	exactly_once(3, 5, 1);
}

/* ---- shutdown racing with submitters ---- */

static struct ledger back_ledger;

static void record_back(const struct lfq_job *job, void *ctx)
{
	cr_assert_eq(ctx, (void *)&back_ledger);
	cr_assert_eq(job->fn, ledger_job);
	ledger_record(&back_ledger, job->arg);
}

static void *submit_until_shutdown(void *arg)
{
	struct submitter *s = arg;
	unsigned fails = 0;

	for (size_t seq = 1; seq <= s->n; seq++) {
		const int rc = submit_seq(s, seq, &fails);

		if (rc == -ESHUTDOWN)
			break;
		cr_assert_eq(rc, 0);
		s->accepted = seq;
	}
	return NULL;
}

Test(pool, shutdown_racing_with_submitters_loses_nothing)
{
	const size_t n = stress_items(20000);
	const unsigned submitters = 3, rounds = 24;
	const int64_t timeouts[4] = {0, 100000, 2000000, -1};

	for (unsigned round = 0; round < rounds; round++) {
		struct lfq_pool_config cfg = {.workers = 3,
					      .queue_capacity = 32,
					      .on_cancelled = record_back,
					      .ctx = &back_ledger};
		struct lfq_pool *pool;
		struct submitter s[3];
		pthread_t t[3];
		struct lfq_pool_stats st;

		ledger_init(&run_ledger, submitters, n);
		ledger_init(&back_ledger, submitters, n);
		cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
		for (unsigned p = 0; p < submitters; p++) {
			s[p] = (struct submitter){
				.pool = pool, .id = p, .n = n, .use_wait = (p + round) % 2};
			cr_assert_eq(pthread_create(&t[p], NULL, submit_until_shutdown, &s[p]), 0);
		}
		/* Let some jobs in (a different amount each round), then shut down. */
		const int64_t until = now_ns() + (int64_t)(round % 5) * 200000;

		while (now_ns() < until)
			sched_yield();
		const int64_t timeout = timeouts[round % 4];
		const int rc = lfq_pool_shutdown(pool, timeout);

		cr_assert(rc == 0 || (rc == -ETIMEDOUT && timeout >= 0), "shutdown: %d", rc);
		for (unsigned p = 0; p < submitters; p++)
			pthread_join(t[p], NULL);

		size_t accepted = 0;

		for (unsigned p = 0; p < submitters; p++) {
			accepted += s[p].accepted;
			for (size_t q = 1; q <= n; q++) {
				const int r = ledger_has(&run_ledger, p, q);
				const int b = ledger_has(&back_ledger, p, q);

				if (q <= s[p].accepted)
					cr_assert_eq(r + b, 1, "p%u s%zu ran %d, back %d", p, q, r,
						     b);
				else
					cr_assert_eq(r + b, 0, "p%u s%zu never accepted", p, q);
			}
		}
		cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
		cr_assert_eq(st.submitted, accepted);
		cr_assert_eq(st.completed + st.cancelled, accepted);
		cr_assert_eq(st.cancelled, ledger_count(&back_ledger));
		if (rc == 0)
			cr_assert_eq(st.cancelled, 0);
		lfq_pool_destroy(pool);
		ledger_free(&run_ledger);
		ledger_free(&back_ledger);
	}
}

/* ---- wait_idle racing with trees of jobs ---- */

struct forest {
	struct lfq_pool *pool;
	_Atomic unsigned long nodes[8];
};
static struct forest forest;

/* arg: tree (low 8 bits) and remaining depth (above). */
static int forest_job(void *arg)
{
	const uintptr_t a = (uintptr_t)arg;
	const uintptr_t tree = a & 0xff, depth = a >> 8;

	busy(a * 2654435761u);
	atomic_fetch_add_explicit(&forest.nodes[tree], 1, memory_order_relaxed);
	if (depth > 0)
		for (int c = 0; c < 2; c++) {
			const struct lfq_job child = {.fn = forest_job,
						      .arg = (void *)(((depth - 1) << 8) | tree)};

			cr_assert_eq(lfq_pool_submit(forest.pool, &child), 0);
		}
	return 0;
}

struct planter {
	unsigned tree, rounds;
};

static void *plant(void *arg)
{
	const struct planter *pl = arg;
	const uintptr_t depth = 7; /* 255 nodes */

	for (unsigned r = 1; r <= pl->rounds; r++) {
		const struct lfq_job root = {.fn = forest_job,
					     .arg = (void *)((depth << 8) | pl->tree)};

		cr_assert_eq(lfq_pool_submit(forest.pool, &root), 0);
		cr_assert_eq(lfq_pool_wait_idle(forest.pool, -1), 0);
		/* The root's submit returned before wait_idle began, so the root and (through
		 * it) its whole tree had finished. Relaxed: wait_idle orders it (A1/P2). */
		cr_assert_eq(atomic_load_explicit(&forest.nodes[pl->tree], memory_order_relaxed),
			     (unsigned long)r * 255, "tree %u round %u", pl->tree, r);
	}
	return NULL;
}

Test(pool, wait_idle_racing_with_jobs_that_submit_jobs)
{
	const unsigned planters = 3;
	const unsigned rounds = (unsigned)(stress_items(100000) / 2000);
	struct lfq_pool_config cfg = {.workers = 5, .queue_capacity = 3 * 256};
	struct planter pl[3];
	pthread_t t[3];

	memset(&forest, 0, sizeof(forest));
	cr_assert_eq(lfq_pool_create(&forest.pool, &cfg), 0);
	for (unsigned p = 0; p < planters; p++) {
		pl[p] = (struct planter){.tree = p, .rounds = rounds};
		cr_assert_eq(pthread_create(&t[p], NULL, plant, &pl[p]), 0);
	}
	for (unsigned p = 0; p < planters; p++)
		pthread_join(t[p], NULL);
	lfq_pool_destroy(forest.pool);
}

/* ---- parking and waking ---- */

/*
 * Workers park and wake all the time: bursts separated by idle gaps (long enough for every
 * worker to stop spinning and sleep). One thread submits gated bursts: k <= workers jobs that
 * each wait until all k have started, so the burst finishes only if k workers run at once
 * (a job left queued behind a running one while a worker sleeps hangs it: the wake-up
 * policy must spread a burst, submitted one by one or with one submit_burst call). The
 * other threads submit plain bursts. Every job must run exactly once.
 */
#define WAKE_WORKERS 6 /* the largest gated burst; the pool has at least as many workers */

static struct ledger wake_ledger;
/* Per gated job (by seq): its round, and per round: its size and the jobs started. A job
 * waits on its own round's count, so a slow one never mixes rounds. Written by the
 * submitter before the submit (the pool's hand-off publishes them). */
static unsigned *gate_round_of;
static unsigned *gate_size;
static _Atomic unsigned *gate_started;

static int gated_ledger_job(void *arg)
{
	const unsigned r = gate_round_of[STRESS_SEQ(arg)];

	ledger_record(&wake_ledger, arg);
	atomic_fetch_add(&gate_started[r], 1);
	while (atomic_load(&gate_started[r]) < gate_size[r])
		sched_yield();
	return 0;
}

static void idle_gap(void)
{
	const struct timespec ts = {.tv_nsec = 2000000};

	nanosleep(&ts, NULL);
}

struct waker {
	struct lfq_pool *pool;
	unsigned id;
	size_t rounds;
	_Atomic size_t ran; /* this thread's plain jobs finished */
};

static _Atomic size_t plain_ran[4];

static int plain_ledger_job(void *arg)
{
	ledger_record(&wake_ledger, arg);
	atomic_fetch_add(&plain_ran[STRESS_PROD(arg)], 1);
	return 0;
}

static void *gated_bursts(void *arg)
{
	struct waker *w = arg;
	size_t seq = 0;

	for (size_t r = 0; r < w->rounds; r++) {
		const unsigned k = 2 + (unsigned)(r % (WAKE_WORKERS - 1)); /* 2 .. workers */
		struct lfq_job jobs[WAKE_WORKERS];

		gate_size[r] = k;
		for (unsigned j = 0; j < k; j++) {
			gate_round_of[++seq] = (unsigned)r;
			jobs[j] = (struct lfq_job){.fn = gated_ledger_job,
						   .arg = STRESS_ITEM(w->id, seq)};
		}
		if (r % 2) {
			/* Non-blocking: a full queue takes part of the burst; retry the rest. */
			unsigned done = 0, fails = 0;

			while (done < k) {
				int err = 0;

				done += (unsigned)lfq_pool_submit_burst(w->pool, jobs + done,
									k - done, &err);
				cr_assert(err == 0 || err == -EAGAIN, "err %d", err);
				if (done < k)
					stress_backoff(&fails);
			}
		} else {
			for (unsigned j = 0; j < k; j++)
				cr_assert_eq(lfq_pool_submit_wait(w->pool, &jobs[j], -1), 0);
		}
		while (atomic_load(&gate_started[r]) < k)
			sched_yield(); /* hangs (test timeout) if a job is stranded */
		idle_gap();
	}
	w->ran = seq;
	return NULL;
}

static void *plain_bursts(void *arg)
{
	struct waker *w = arg;
	size_t seq = 0;

	for (size_t r = 0; r < w->rounds; r++) {
		const unsigned k = 1 + (unsigned)((r * 7) % 23);

		for (unsigned j = 0; j < k; j++) {
			const struct lfq_job job = {.fn = plain_ledger_job,
						    .arg = STRESS_ITEM(w->id, ++seq)};

			cr_assert_eq(lfq_pool_submit_wait(w->pool, &job, -1), 0);
		}
		while (atomic_load(&plain_ran[w->id]) < seq)
			sched_yield(); /* hangs (test timeout) if a job is stranded */
		idle_gap();
	}
	w->ran = seq;
	return NULL;
}

Test(pool, bursts_after_idle_gaps_wake_enough_workers_and_strand_no_job)
{
	const size_t rounds = stress_items(100000) / 250 + 20; /* 420 by default */
	/* More workers than CPUs, so the pool caps its spinners (lfq__pool_spin_cap). */
	const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	const unsigned nw =
		ncpu > 0 && 2 * ncpu + 2 > WAKE_WORKERS ? (unsigned)(2 * ncpu + 2) : WAKE_WORKERS;
	struct lfq_pool_config cfg = {.workers = nw < 64 ? nw : 64, .queue_capacity = 16};
	struct lfq_pool *pool;
	struct waker w[4];
	pthread_t t[4];
	struct lfq_pool_stats st;

	/* Upper bound of every thread's items: a gated round has at most WAKE_WORKERS jobs. */
	ledger_init(&wake_ledger, 4, rounds * 23);
	gate_round_of = calloc(rounds * WAKE_WORKERS + 1, sizeof(*gate_round_of));
	gate_size = calloc(rounds, sizeof(*gate_size));
	gate_started = calloc(rounds, sizeof(*gate_started));
	cr_assert(gate_round_of && gate_size && gate_started);
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	for (unsigned p = 0; p < 4; p++) {
		w[p] = (struct waker){.pool = pool, .id = p, .rounds = rounds};
		atomic_store(&plain_ran[p], 0);
		cr_assert_eq(
			pthread_create(&t[p], NULL, p == 0 ? gated_bursts : plain_bursts, &w[p]),
			0);
	}
	size_t total = 0;

	for (unsigned p = 0; p < 4; p++) {
		pthread_join(t[p], NULL);
		total += w[p].ran;
	}
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(ledger_count(&wake_ledger), total, "every job ran once");
	for (unsigned p = 0; p < 4; p++)
		for (size_t s = 1; s <= w[p].ran; s++)
			cr_assert(ledger_has(&wake_ledger, p, s), "thread %u job %zu", p, s);
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.completed, total);
	cr_assert_eq(st.queued + st.running, 0);
	lfq_pool_destroy(pool);
	ledger_free(&wake_ledger);
	free(gate_round_of);
	free(gate_size);
	free((void *)gate_started);
}
