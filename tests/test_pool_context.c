/* SPDX-License-Identifier: MIT */
/* What a job can ask the pool (issue 14): stop requested, the clock, dead-reason names, its
 * own context (lfq_job_*, without a pool pointer); and
 * lfq_pool_request_stop, from a thread and from a signal handler: intake closes, what was
 * accepted still runs, a cooperative job ends within the shutdown's grace period. */
#include <criterion/criterion.h>
#include <time.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <lfq/pool.h>

#include "test_time.h"

static struct lfq_pool *make(unsigned workers, size_t capacity)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config cfg = {
		.workers = workers, .queue_capacity = capacity, .flags = LFQ_POOL_NO_PIN};

	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	return pool;
}

Test(pool_context, dead_reason_names)
{
	cr_assert_eq(strcmp(lfq_dead_reason_name(LFQ_DEAD_FAILED), "failed"), 0);
	cr_assert_eq(strcmp(lfq_dead_reason_name(LFQ_DEAD_EXHAUSTED), "exhausted"), 0);
	cr_assert_eq(strcmp(lfq_dead_reason_name(LFQ_DEAD_EXPIRED), "expired"), 0);
	cr_assert_eq(strcmp(lfq_dead_reason_name(LFQ_DEAD_CANCELLED), "cancelled"), 0);
	cr_assert_eq(strcmp(lfq_dead_reason_name(0), "unknown"), 0);
	cr_assert_eq(strcmp(lfq_dead_reason_name(-1), "unknown"), 0);
	cr_assert_eq(strcmp(lfq_dead_reason_name(5), "unknown"), 0);
}

static _Atomic int64_t fake_now;

static int64_t fake_clock(void *ctx)
{
	cr_assert_eq(ctx, (void *)&fake_now);
	return atomic_load(&fake_now);
}

Test(pool_context, now_reads_the_pools_clock)
{
	struct lfq_pool *pool = make(1, 4);
	const int64_t before = now_ns();
	const int64_t t = lfq_pool_now_ns(pool);

	cr_assert_geq(t, before); /* CLOCK_MONOTONIC without a hook */
	cr_assert_geq(now_ns(), t);
	lfq_pool_destroy(pool);

	struct lfq_pool_config cfg = {
		.workers = 1, .flags = LFQ_POOL_NO_PIN, .clock = fake_clock, .ctx = &fake_now};

	atomic_store(&fake_now, 12345);
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	cr_assert_eq(lfq_pool_now_ns(pool), 12345);
	atomic_store(&fake_now, 99);
	cr_assert_eq(lfq_pool_now_ns(pool), 99);
	lfq_pool_destroy(pool);
	/* Issue 24: NULL gave -EINVAL, a time 22 ns before the clock's origin. Now it is
	 * CLOCK_MONOTONIC's reading, as for a pool without a clock hook. */
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	const int64_t mono0 = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	const int64_t got = lfq_pool_now_ns(NULL);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	cr_assert_geq(got, mono0);
	cr_assert_leq(got, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* A gate the first job waits on, so that the others stay queued. */
static atomic_bool gate_open;
static _Atomic int gate_entered;
static _Atomic int ran;
static _Atomic int saw_stop;

static int gated(void *arg)
{
	struct lfq_pool *pool = arg;

	atomic_fetch_add(&gate_entered, 1);
	while (!atomic_load(&gate_open))
		sleep_ms(1);
	if (lfq_pool_stop_requested(pool))
		atomic_fetch_add(&saw_stop, 1);
	atomic_fetch_add(&ran, 1);
	return 0;
}

static int counted(void *arg)
{
	if (lfq_pool_stop_requested(arg))
		atomic_fetch_add(&saw_stop, 1);
	atomic_fetch_add(&ran, 1);
	return 0;
}

static void reset(void)
{
	atomic_store(&gate_open, false);
	atomic_store(&gate_entered, 0);
	atomic_store(&ran, 0);
	atomic_store(&saw_stop, 0);
}

/* Submits the gated job and `queued` more behind it, and waits until the gate is taken. */
static void fill(struct lfq_pool *pool, int queued)
{
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = gated, .arg = pool}), 0);
	while (atomic_load(&gate_entered) == 0)
		sleep_ms(1);
	for (int i = 0; i < queued; i++)
		cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = counted, .arg = pool}),
			     0);
}

Test(pool_context, request_stop_closes_intake_and_keeps_what_was_accepted)
{
	reset();
	struct lfq_pool *pool = make(1, 16);

	cr_assert_not(lfq_pool_stop_requested(pool));
	cr_assert_not(lfq_pool_stop_requested(NULL));
	fill(pool, 5);
	cr_assert_eq(lfq_pool_request_stop(pool), 0);
	cr_assert(lfq_pool_stop_requested(pool));
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = counted, .arg = pool}),
		     -ESHUTDOWN);
	cr_assert_eq(lfq_pool_request_stop(pool), 0); /* again: nothing changes */
	atomic_store(&gate_open, true);
	/* The queued jobs still run (and see the stop); the workers exit once drained, and the
	 * shutdown finds nothing left. */
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran), 6);
	cr_assert_eq(atomic_load(&saw_stop), 6);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	struct lfq_pool_stats st;

	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.submitted, 6);
	cr_assert_eq(st.succeeded, 6);
	cr_assert_eq(st.cancelled, 0);
	lfq_pool_destroy(pool);
	cr_assert_eq(lfq_pool_request_stop(NULL), -EINVAL);
}

static struct lfq_pool *handler_pool;
static volatile sig_atomic_t handler_rc = 1;

static void on_sigusr1(int sig)
{
	(void)sig;
	handler_rc = lfq_pool_request_stop(handler_pool);
}

Test(pool_context, request_stop_from_a_signal_handler)
{
	reset();
	struct lfq_pool *pool = make(2, 16);
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	handler_pool = pool;
	cr_assert_eq(sigaction(SIGUSR1, &sa, &old), 0);
	fill(pool, 3);
	errno = 4242;
	cr_assert_eq(raise(SIGUSR1), 0); /* delivered to this thread before raise returns */
	cr_assert_eq(errno, 4242, "the handler left errno changed");
	cr_assert_eq(handler_rc, 0);
	cr_assert(lfq_pool_stop_requested(pool));
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = counted, .arg = pool}),
		     -ESHUTDOWN);
	atomic_store(&gate_open, true);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran), 4);
	cr_assert_eq(sigaction(SIGUSR1, &old, NULL), 0);
	lfq_pool_destroy(pool);
}

/* A job that would run for a minute, but checks for a stop every millisecond. */
static _Atomic int long_started;
static _Atomic int long_cut_short;

static int long_job(void *arg)
{
	struct lfq_pool *pool = arg;
	const int64_t end = now_ns() + 60000 * MS;

	atomic_fetch_add(&long_started, 1);
	while (now_ns() < end) {
		if (lfq_pool_stop_requested(pool)) {
			atomic_fetch_add(&long_cut_short, 1);
			return LFQ_JOB_FAIL; /* cut short: a permanent failure, dead-lettered */
		}
		sleep_ms(1);
	}
	return 0;
}

static _Atomic int dead_failed;

static void count_dead(const struct lfq_job *job, int reason, unsigned attempts, int last,
		       void *ctx)
{
	(void)job, (void)attempts, (void)last, (void)ctx;
	if (reason == LFQ_DEAD_FAILED)
		atomic_fetch_add(&dead_failed, 1);
}

Test(pool_context, a_cooperative_job_ends_within_the_grace_period)
{
	/* Before issue 14 a job could not tell that a shutdown had begun: a shutdown with a
	 * grace period shorter than a running job waited for the job anyway and returned
	 * -ETIMEDOUT. Here each job would run for 60 s; the shutdown's 10 s grace period
	 * can only end in 0 if both jobs saw the stop and returned early. */
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config cfg = {
		.workers = 2, .flags = LFQ_POOL_NO_PIN, .on_dead = count_dead};

	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = long_job, .arg = pool}),
			     0);
	while (atomic_load(&long_started) < 2)
		sleep_ms(1);
	cr_assert_eq(lfq_pool_shutdown(pool, 10000 * MS), 0);
	cr_assert_eq(atomic_load(&long_cut_short), 2);
	cr_assert_eq(atomic_load(&dead_failed), 2);
	lfq_pool_destroy(pool);
}

/* ---- the job's own context ---- */

static struct lfq_pool *ctx_pool;
static _Atomic unsigned attempts_seen[4];
static _Atomic uint64_t id_seen;
static _Atomic int worker_seen = -2;

static int retrying(void *arg)
{
	(void)arg;
	const unsigned a = lfq_pool_job_attempt(ctx_pool);

	if (a >= 1 && a <= 3)
		atomic_store(&attempts_seen[a], a);
	atomic_store(&id_seen, lfq_pool_job_id(ctx_pool));
	atomic_store(&worker_seen, lfq_pool_worker_index(ctx_pool));
	return a < 3 ? LFQ_JOB_RETRY : 0;
}

static _Atomic unsigned dead_hook_attempt = 99;

static void dead_hook(const struct lfq_job *job, int reason, unsigned attempts, int last, void *ctx)
{
	(void)job, (void)reason, (void)attempts, (void)last, (void)ctx;
	atomic_store(&dead_hook_attempt, lfq_pool_job_attempt(ctx_pool)); /* a hook: 0 */
}

Test(pool_context, a_job_knows_its_attempt_id_and_worker)
{
	struct lfq_pool_config cfg = {.workers = 1,
				      .flags = LFQ_POOL_NO_PIN,
				      .retry_base_ns = 1000,
				      .retry_cap_ns = 1000,
				      .on_dead = dead_hook};

	cr_assert_eq(lfq_pool_create(&ctx_pool, &cfg), 0);
	uint64_t id = 0;

	cr_assert_eq(lfq_pool_submit_id(ctx_pool, &(struct lfq_job){.fn = retrying}, &id), 0);
	cr_assert_eq(lfq_pool_wait_idle(ctx_pool, -1), 0);
	for (unsigned a = 1; a <= 3; a++)
		cr_assert_eq(atomic_load(&attempts_seen[a]), a, "attempt %u not seen", a);
	cr_assert_eq(atomic_load(&id_seen), id);
	cr_assert_eq(atomic_load(&worker_seen), 0);
	/* Without an id: 0; outside a job: 0. */
	cr_assert_eq(lfq_pool_submit(ctx_pool, &(struct lfq_job){.fn = retrying}), 0);
	cr_assert_eq(lfq_pool_wait_idle(ctx_pool, -1), 0);
	cr_assert_eq(atomic_load(&id_seen), 0);
	cr_assert_eq(lfq_pool_job_attempt(ctx_pool), 0);
	cr_assert_eq(lfq_pool_job_id(ctx_pool), 0);
	cr_assert_eq(lfq_pool_job_attempt(NULL), 0);
	cr_assert_eq(lfq_pool_job_id(NULL), 0);
	/* In a hook on the worker: 0 (the run is over). */
	cr_assert_eq(
		lfq_pool_submit(ctx_pool, &(struct lfq_job){.fn = retrying, .max_attempts = 1}), 0);
	cr_assert_eq(lfq_pool_wait_idle(ctx_pool, -1), 0);
	cr_assert_eq(atomic_load(&dead_hook_attempt), 0);
	lfq_pool_destroy(ctx_pool);
}

/* ---- the same without a pool pointer: lfq_job_* ---- */

/* What a job saw, kept in the job's own arg: no global. */
struct seen {
	struct lfq_pool *pool;
	unsigned attempts[4];
	uint64_t id;
	int worker;
	unsigned hook_attempt;
	struct lfq_pool *hook_pool;
};

static int retrying_no_global(void *arg)
{
	struct seen *s = arg;
	const unsigned a = lfq_job_attempt();

	if (a >= 1 && a <= 3)
		s->attempts[a] = a;
	s->pool = lfq_job_pool();
	s->id = lfq_job_id();
	s->worker = lfq_job_worker_index();
	return a < 3 ? LFQ_JOB_RETRY : 0;
}

static void dead_no_global(const struct lfq_job *job, int reason, unsigned attempts, int last,
			   void *ctx)
{
	(void)reason, (void)attempts, (void)last, (void)ctx;
	struct seen *s = job->arg;

	s->hook_attempt = lfq_job_attempt(); /* a hook: 0 */
	s->hook_pool = lfq_job_pool();	     /* a hook: NULL */
}

Test(pool_context, job_getters_need_no_pool_pointer)
{
	struct lfq_pool *pools[2];

	for (int i = 0; i < 2; i++) {
		struct lfq_pool_config cfg = {.workers = 2,
					      .flags = LFQ_POOL_NO_PIN,
					      .retry_base_ns = LFQ_US(1),
					      .retry_cap_ns = LFQ_US(1),
					      .on_dead = dead_no_global};

		cr_assert_eq(lfq_pool_create(&pools[i], &cfg), 0);
	}
	for (int i = 0; i < 2; i++) {
		struct seen s = {.worker = -2, .hook_attempt = 99};
		uint64_t id = 0;

		cr_assert_eq(lfq_pool_submit_id(
				     pools[i],
				     &(struct lfq_job){.fn = retrying_no_global, .arg = &s}, &id),
			     0);
		cr_assert_eq(lfq_pool_wait_idle(pools[i], LFQ_FOREVER), 0);
		for (unsigned a = 1; a <= 3; a++)
			cr_assert_eq(s.attempts[a], a, "pool %d: attempt %u not seen", i, a);
		cr_assert_eq(s.pool, pools[i], "pool %d: lfq_job_pool names another pool", i);
		cr_assert_eq(s.id, id);
		cr_assert(s.worker == 0 || s.worker == 1, "worker %d", s.worker);

		/* Without an id: 0. In on_dead on the worker: no job context. */
		struct seen t = {.worker = -2, .id = 7, .hook_attempt = 99, .hook_pool = pools[i]};

		cr_assert_eq(lfq_pool_submit(pools[i], &(struct lfq_job){.fn = retrying_no_global,
									 .arg = &t,
									 .max_attempts = 1}),
			     0);
		cr_assert_eq(lfq_pool_wait_idle(pools[i], LFQ_FOREVER), 0);
		cr_assert_eq(t.id, 0);
		cr_assert_eq(t.attempts[1], 1);
		cr_assert_eq(t.hook_attempt, 0);
		cr_assert_null(t.hook_pool);
	}
	/* Outside any job. */
	cr_assert_null(lfq_job_pool());
	cr_assert_eq(lfq_job_attempt(), 0);
	cr_assert_eq(lfq_job_worker_index(), -1);
	cr_assert_eq(lfq_job_id(), 0);
	for (int i = 0; i < 2; i++)
		lfq_pool_destroy(pools[i]);
}

static _Atomic int mask_checked;
static _Atomic int mask_bad;

static int check_mask(void *arg)
{
	(void)arg;
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	const int blocked[] = {SIGINT,	SIGTERM, SIGHUP,  SIGUSR1,
			       SIGUSR2, SIGPIPE, SIGCHLD, SIGALRM};
	const int open_[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};

	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
		if (!sigismember(&cur, blocked[i]))
			atomic_fetch_add(&mask_bad, 1);
	for (size_t i = 0; i < sizeof(open_) / sizeof(open_[0]); i++)
		if (sigismember(&cur, open_[i]))
			atomic_fetch_add(&mask_bad, 1);
	atomic_fetch_add(&mask_checked, 1);
	return 0;
}

Test(pool_context, workers_block_process_signals_whatever_the_creators_mask)
{
	/* Before: the workers inherited the creating thread's mask, so a process-directed
	 * SIGTERM could land on a worker in the middle of a job. */
	sigset_t none, old;

	sigemptyset(&none);
	cr_assert_eq(pthread_sigmask(SIG_SETMASK, &none, &old), 0);
	struct lfq_pool *pool = make(2, 8);

	cr_assert_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(lfq_pool_submit_wait(pool, &(struct lfq_job){.fn = check_mask}, -1),
			     0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&mask_checked), 4);
	cr_assert_eq(atomic_load(&mask_bad), 0);
	lfq_pool_destroy(pool);
}
