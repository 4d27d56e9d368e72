/* SPDX-License-Identifier: MIT */
/* lfq_pool: configuration, submit/full/shutdown semantics, wait_idle, hooks, pinning, names,
 * idle CPU and wake-up economy. Multi-thread races are in stress_pool.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <lfq/pool.h>

#include "pool_internal.h"
#include "test_time.h"
#include "testing.h"

static struct lfq_pool *make(unsigned workers, size_t capacity)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config cfg = {.workers = workers, .queue_capacity = capacity};

	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	cr_assert_not_null(pool);
	return pool;
}

/* ---- jobs used by several tests ---- */

static _Atomic unsigned long ran;

static int count_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return 0;
}

/* A gate: gated jobs wait until it opens. `entered` counts jobs that reached it. */
static _Atomic int gate_open;
static _Atomic unsigned gate_entered;

static int gated_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&gate_entered, 1);
	while (!atomic_load(&gate_open))
		sleep_ms(1);
	atomic_fetch_add(&ran, 1);
	return 0;
}

static void gate_reset(void)
{
	atomic_store(&gate_open, 0);
	atomic_store(&gate_entered, 0);
	atomic_store(&ran, 0);
}

static void wait_entered(unsigned n)
{
	while (atomic_load(&gate_entered) < n)
		sleep_ms(1);
}

static const struct lfq_job count = {.fn = count_job};
static const struct lfq_job gated = {.fn = gated_job};

/* ---- configuration ---- */

Test(pool, create_rejects_null_out_pointer)
{
	struct lfq_pool_config cfg = {.workers = 1};

	cr_assert_eq(lfq_pool_create(NULL, &cfg), -EINVAL);
	cr_assert_eq(lfq_pool_create(NULL, NULL), -EINVAL);
}

static int create_rc(const struct lfq_pool_config *cfg)
{
	struct lfq_pool *pool = (struct lfq_pool *)&pool; /* must stay untouched on error */
	const int rc = lfq_pool_create(&pool, cfg);

	if (rc == 0)
		lfq_pool_destroy(pool);
	else
		cr_assert_eq(pool, (struct lfq_pool *)&pool, "out-pointer written on error");
	return rc;
}

Test(pool, create_rejects_bad_configs)
{
	const unsigned cpu0[1] = {0};
	struct lfq_pool_config cfg;

	cfg = (struct lfq_pool_config){.workers = LFQ_POOL_WORKERS_MAX + 1};
	cr_assert_eq(create_rc(&cfg), -EINVAL);
	cfg = (struct lfq_pool_config){.workers = 1, .queue_capacity = LFQ_POOL_CAPACITY_MAX + 1};
	cr_assert_eq(create_rc(&cfg), -EINVAL);
	cfg = (struct lfq_pool_config){.workers = 1, .flags = 0x80};
	cr_assert_eq(create_rc(&cfg), -EINVAL);
	cfg = (struct lfq_pool_config){.workers = 1, .cpus = cpu0};
	cr_assert_eq(create_rc(&cfg), -EINVAL, "cpus without ncpus");
	cfg = (struct lfq_pool_config){.workers = 1, .ncpus = 1};
	cr_assert_eq(create_rc(&cfg), -EINVAL, "ncpus without cpus");
	cfg = (struct lfq_pool_config){
		.workers = 1, .cpus = cpu0, .ncpus = 1, .flags = LFQ_POOL_NO_PIN};
	cr_assert_eq(create_rc(&cfg), -EINVAL, "cpus with NO_PIN");
	cfg = (struct lfq_pool_config){.workers = 1, .flags = LFQ_POOL_PIN | LFQ_POOL_NO_PIN};
	cr_assert_eq(create_rc(&cfg), -EINVAL, "PIN with NO_PIN");
	cfg = (struct lfq_pool_config){.workers = 1, .name = "twelve-chars"};
	cr_assert_eq(create_rc(&cfg), -EINVAL, "name too long");
	cfg = (struct lfq_pool_config){.workers = 1};
	cfg.reserved[3] = 1;
	cr_assert_eq(create_rc(&cfg), -EINVAL, "reserved field set");
	/* The largest values are accepted. */
	cfg = (struct lfq_pool_config){.workers = 1, .queue_capacity = 1, .name = "eleven-char"};
	cr_assert_eq(create_rc(&cfg), 0);
}

Test(pool, create_rejects_impossible_cpus)
{
	const long nconf = sysconf(_SC_NPROCESSORS_CONF);
	const unsigned beyond[1] = {(unsigned)nconf};
	const unsigned huge[2] = {0, 1u << 20};
	struct lfq_pool_config cfg = {.workers = 2, .cpus = beyond, .ncpus = 1};

	cr_assert_eq(create_rc(&cfg), -EINVAL, "cpu %ld (out of range)", nconf);
	cfg.cpus = huge;
	cfg.ncpus = 2;
	cr_assert_eq(create_rc(&cfg), -EINVAL, "cpu 2^20");

	/* A CPU that exists but that this process may not use (offline, or excluded by its
	 * affinity mask): only testable if there is one. */
	cpu_set_t allowed;

	cr_assert_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	for (long c = 0; c < nconf && c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &allowed)) {
			const unsigned excluded[1] = {(unsigned)c};

			cfg.cpus = excluded;
			cfg.ncpus = 1;
			cr_assert_eq(create_rc(&cfg), -EINVAL, "cpu %ld not allowed", c);
			break;
		}
	}
}

Test(pool, null_config_means_one_worker_per_allowed_cpu)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_stats st;
	cpu_set_t allowed;

	cr_assert_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	cr_assert_eq(lfq_pool_create(&pool, NULL), 0);
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.workers, (unsigned)CPU_COUNT(&allowed));
	atomic_store(&ran, 0);
	for (int i = 0; i < LFQ_POOL_DEFAULT_CAPACITY; i++)
		cr_assert_eq(lfq_pool_submit(pool, &count), 0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran), LFQ_POOL_DEFAULT_CAPACITY);
	lfq_pool_destroy(pool);
}

Test(pool, destroy_null_is_a_noop)
{
	lfq_pool_destroy(NULL);
}

Test(pool, stats_rejects_null_arguments)
{
	struct lfq_pool *pool = make(1, 4);
	struct lfq_pool_stats st;

	cr_assert_eq(lfq_pool_stats(NULL, &st, NULL, 0), -EINVAL);
	cr_assert_eq(lfq_pool_stats(pool, NULL, NULL, 0), -EINVAL);
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 1), -EINVAL);
	lfq_pool_destroy(pool);
}

/* ---- submit, full, shutdown ---- */

Test(pool, submitted_jobs_run_exactly_once)
{
	struct lfq_pool *pool = make(3, 16);
	struct lfq_pool_stats st;

	atomic_store(&ran, 0);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(lfq_pool_submit_wait(pool, &count, -1), 0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran), 1000);
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.submitted, 1000);
	cr_assert_eq(st.completed, 1000);
	cr_assert_eq(st.failed + st.cancelled + st.queued + st.running, 0);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran), 1000);
	lfq_pool_destroy(pool);
}

Test(pool, submit_when_full_returns_eagain)
{
	struct lfq_pool *pool = make(1, 2);
	struct lfq_pool_stats st;

	gate_reset();
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	wait_entered(1); /* the only worker is busy: the queue is empty again */
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	cr_assert_eq(lfq_pool_submit(pool, &gated), -EAGAIN, "capacity 2 is exact");
	cr_assert_eq(lfq_pool_submit_wait(pool, &gated, 0), -EAGAIN);
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.submitted, 3);
	cr_assert_eq(st.queued, 2);
	cr_assert_eq(st.running, 1);
	atomic_store(&gate_open, 1);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran), 3);
	lfq_pool_destroy(pool);
}

Test(pool, submit_wait_times_out_on_a_full_queue)
{
	struct lfq_pool *pool = make(1, 1);

	gate_reset();
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	wait_entered(1);
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	const int64_t t0 = now_ns();

	cr_assert_eq(lfq_pool_submit_wait(pool, &gated, 20 * MS), -ETIMEDOUT);
	cr_assert_geq(now_ns() - t0, 20 * MS, "returned before the timeout");
	atomic_store(&gate_open, 1);
	lfq_pool_destroy(pool);
	cr_assert_eq(atomic_load(&ran), 2);
}

struct opener {
	long delay_ms;
};

static void *open_gate_later(void *arg)
{
	const struct opener *o = arg;

	sleep_ms(o->delay_ms);
	atomic_store(&gate_open, 1);
	return NULL;
}

Test(pool, submit_wait_succeeds_when_a_slot_frees)
{
	struct lfq_pool *pool = make(1, 1);
	struct opener o = {.delay_ms = 20};
	pthread_t t;

	gate_reset();
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	wait_entered(1);
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	cr_assert_eq(pthread_create(&t, NULL, open_gate_later, &o), 0);
	cr_assert_eq(lfq_pool_submit_wait(pool, &gated, -1), 0);
	pthread_join(t, NULL);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran), 3);
	lfq_pool_destroy(pool);
}

/* ---- submit_burst ---- */

static _Atomic unsigned order_next;
static _Atomic unsigned order_seen[16];

static int order_job(void *arg)
{
	atomic_store(&order_seen[atomic_fetch_add(&order_next, 1)], (unsigned)(uintptr_t)arg);
	return 0;
}

Test(pool, submit_burst_queues_every_job_in_order)
{
	struct lfq_pool *pool = make(1, 16);
	struct lfq_job jobs[10];
	int err = 1;

	gate_reset();
	atomic_store(&order_next, 0);
	/* The only worker waits at the gate, so the burst is queued whole before any runs. */
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	wait_entered(1);
	for (unsigned i = 0; i < 10; i++)
		jobs[i] = (struct lfq_job){.fn = order_job, .arg = (void *)(uintptr_t)(i + 1)};
	cr_assert_eq(lfq_pool_submit_burst(pool, jobs, 10, &err), 10);
	cr_assert_eq(err, 0);
	atomic_store(&gate_open, 1);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&order_next), 10, "each job ran once");
	for (unsigned i = 0; i < 10; i++)
		cr_assert_eq(atomic_load(&order_seen[i]), i + 1, "FIFO: run %u", i);
	lfq_pool_destroy(pool);
}

Test(pool, submit_burst_stops_at_a_full_queue)
{
	struct lfq_pool *pool = make(1, 4);
	struct lfq_job jobs[10];
	struct lfq_pool_stats st;
	int err = 0;

	gate_reset();
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	wait_entered(1);
	for (unsigned i = 0; i < 10; i++)
		jobs[i] = count;
	cr_assert_eq(lfq_pool_submit_burst(pool, jobs, 10, &err), 4, "capacity 4 is exact");
	cr_assert_eq(err, -EAGAIN);
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.submitted, 5);
	cr_assert_eq(st.queued, 4);
	atomic_store(&gate_open, 1);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran), 5);
	lfq_pool_destroy(pool);
}

Test(pool, submit_burst_stops_at_an_invalid_job)
{
	struct lfq_pool *pool = make(2, 16);
	struct lfq_job jobs[5] = {count, count, {.fn = NULL}, count, count};
	int err = 0;

	gate_reset();
	cr_assert_eq(lfq_pool_submit_burst(pool, jobs, 5, &err), 2);
	cr_assert_eq(err, -EINVAL);
	jobs[2] = count;
	jobs[3].priority = 1; /* the pool has one level */
	cr_assert_eq(lfq_pool_submit_burst(pool, jobs, 5, NULL), 3);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&ran), 5);
	cr_assert_eq(lfq_pool_submit_burst(NULL, jobs, 5, &err), 0);
	cr_assert_eq(err, -EINVAL);
	cr_assert_eq(lfq_pool_submit_burst(pool, NULL, 1, &err), 0);
	cr_assert_eq(err, -EINVAL);
	err = 1;
	cr_assert_eq(lfq_pool_submit_burst(pool, jobs, 0, &err), 0);
	cr_assert_eq(err, 0);
	lfq_pool_destroy(pool);
}

Test(pool, submit_burst_after_shutdown_accepts_none)
{
	struct lfq_pool *pool = make(1, 8);
	struct lfq_job jobs[3] = {count, count, count};
	int err = 0;

	gate_reset();
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	cr_assert_eq(lfq_pool_submit_burst(pool, jobs, 3, &err), 0);
	cr_assert_eq(err, -ESHUTDOWN);
	cr_assert_eq(atomic_load(&ran), 0);
	lfq_pool_destroy(pool);
}

Test(pool, submit_after_shutdown_returns_eshutdown)
{
	struct lfq_pool *pool = make(2, 8);

	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	cr_assert_eq(lfq_pool_submit(pool, &count), -ESHUTDOWN);
	cr_assert_eq(lfq_pool_submit_wait(pool, &count, 0), -ESHUTDOWN);
	cr_assert_eq(lfq_pool_submit_wait(pool, &count, -1), -ESHUTDOWN);
	cr_assert_eq(lfq_pool_wait_idle(pool, 0), 0);
	lfq_pool_destroy(pool);
}

struct submit_waiter {
	struct lfq_pool *pool;
	int rc;
};

static void *submit_wait_thread(void *arg)
{
	struct submit_waiter *w = arg;

	w->rc = lfq_pool_submit_wait(w->pool, &count, -1);
	return NULL;
}

Test(pool, shutdown_wakes_submit_waiters_with_eshutdown)
{
	struct lfq_pool *pool = make(1, 1);
	struct submit_waiter w = {.pool = pool};
	struct opener o = {.delay_ms = 50};
	pthread_t t, g;

	gate_reset();
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	wait_entered(1);
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	cr_assert_eq(pthread_create(&t, NULL, submit_wait_thread, &w), 0);
	sleep_ms(20); /* let it fall asleep; correctness does not depend on it */
	cr_assert_eq(pthread_create(&g, NULL, open_gate_later, &o), 0);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	pthread_join(t, NULL);
	pthread_join(g, NULL);
	/* Either it got in before the shutdown (and its job ran) or it was refused. */
	cr_assert(w.rc == -ESHUTDOWN || w.rc == 0, "rc %d", w.rc);
	cr_assert_eq(atomic_load(&ran), w.rc == 0 ? 3 : 2);
	lfq_pool_destroy(pool);
}

Test(pool, shutdown_runs_every_accepted_job)
{
	struct lfq_pool *pool = make(2, 64);
	struct lfq_pool_stats st;

	gate_reset();
	for (int i = 0; i < 50; i++)
		cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	struct opener o = {.delay_ms = 20};
	pthread_t g;

	cr_assert_eq(pthread_create(&g, NULL, open_gate_later, &o), 0);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	pthread_join(g, NULL);
	cr_assert_eq(atomic_load(&ran), 50);
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.completed, 50);
	cr_assert_eq(st.cancelled, 0);
	lfq_pool_destroy(pool);
}

Test(pool, destroy_without_shutdown_runs_every_accepted_job)
{
	struct lfq_pool *pool = make(2, 64);

	gate_reset();
	for (int i = 0; i < 40; i++)
		cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	struct opener o = {.delay_ms = 10};
	pthread_t g;

	cr_assert_eq(pthread_create(&g, NULL, open_gate_later, &o), 0);
	lfq_pool_destroy(pool);
	pthread_join(g, NULL);
	cr_assert_eq(atomic_load(&ran), 40);
}

Test(pool, shutdown_twice_returns_zero)
{
	struct lfq_pool *pool = make(2, 8);

	atomic_store(&ran, 0);
	cr_assert_eq(lfq_pool_submit(pool, &count), 0);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	cr_assert_eq(lfq_pool_shutdown(pool, 0), 0);
	cr_assert_eq(atomic_load(&ran), 1);
	lfq_pool_destroy(pool); /* after shutdown: just frees */
}

/* Shutdown timeout: a ledger of which jobs ran and which came back. */
#define HB_JOBS 40
static _Atomic unsigned char hb_ran[HB_JOBS], hb_back[HB_JOBS];

static int hb_job(void *arg)
{
	atomic_fetch_add(&gate_entered, 1);
	while (!atomic_load(&gate_open))
		sleep_ms(1);
	atomic_fetch_add(&hb_ran[(uintptr_t)arg], 1);
	return 0;
}

static void hb_cancelled(const struct lfq_job *job, void *ctx)
{
	cr_assert_eq(ctx, (void *)hb_back, "ctx passed through");
	cr_assert_eq(job->fn, hb_job);
	atomic_fetch_add(&hb_back[(uintptr_t)job->arg], 1);
	atomic_store(&gate_open, 1); /* let the running jobs finish */
}

Test(pool, shutdown_timeout_hands_back_exactly_the_unstarted_jobs)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config cfg = {
		.workers = 2, .queue_capacity = 64, .on_cancelled = hb_cancelled, .ctx = hb_back};
	struct lfq_pool_stats st;

	gate_reset();
	memset((void *)hb_ran, 0, sizeof(hb_ran));
	memset((void *)hb_back, 0, sizeof(hb_back));
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	for (uintptr_t i = 0; i < HB_JOBS; i++)
		cr_assert_eq(
			lfq_pool_submit(pool, &(struct lfq_job){.fn = hb_job, .arg = (void *)i}),
			0);
	wait_entered(2); /* both workers hold a job; 38 wait in the queue */
	const int64_t t0 = now_ns();

	cr_assert_eq(lfq_pool_shutdown(pool, 10 * MS), -ETIMEDOUT);
	cr_assert_geq(now_ns() - t0, 10 * MS);
	unsigned nran = 0, nback = 0;

	for (int i = 0; i < HB_JOBS; i++) {
		cr_assert_eq(hb_ran[i] + hb_back[i], 1, "job %d ran %d, came back %d", i, hb_ran[i],
			     hb_back[i]);
		nran += hb_ran[i];
		nback += hb_back[i];
	}
	cr_assert_eq(nran, 2, "only the two started jobs ran");
	cr_assert_eq(nback, HB_JOBS - 2);
	cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
	cr_assert_eq(st.cancelled, HB_JOBS - 2);
	cr_assert_eq(st.completed, 2);
	cr_assert_eq(st.queued + st.running, 0);
	cr_assert_eq(lfq_pool_submit(pool, &count), -ESHUTDOWN);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	lfq_pool_destroy(pool);
}

/* Opens the gate once a shutdown's drain timeout has passed (the pool hands jobs back from
 * then on instead of starting them): however late this thread or the test's runs, no job
 * but the one running can start. */
static void *open_gate_after_cancel(void *arg)
{
	struct lfq_pool *pool = arg;

	while (!atomic_load(&pool->cancel))
		sleep_ms(1);
	atomic_store(&gate_open, 1);
	return NULL;
}

Test(pool, shutdown_timeout_without_hook_keeps_the_rest_for_take_unstarted)
{
	/* Before issue 22 every job ran (the timeout bounded nothing); now the ones not started
	 * are kept, and nothing is dropped: ran + taken back = submitted. */
	struct lfq_pool *pool = make(1, 16);
	pthread_t g;

	gate_reset();
	for (int i = 0; i < 10; i++)
		cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	wait_entered(1);
	cr_assert_eq(pthread_create(&g, NULL, open_gate_after_cancel, pool), 0);
	cr_assert_eq(lfq_pool_shutdown(pool, 1 * MS), -ETIMEDOUT);
	pthread_join(g, NULL);
	struct lfq_job back[16];
	const size_t n = lfq_pool_take_unstarted(pool, back, 16);

	cr_assert_eq(atomic_load(&ran), 1, "only the running job ran");
	cr_assert_eq(atomic_load(&ran) + n, 10, "nothing is dropped");
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(back[i].fn, gated.fn);
	lfq_pool_destroy(pool);
}

/* ---- calls from inside jobs ---- */

struct inner {
	struct lfq_pool *pool;
	_Atomic int shutdown_rc, submit_rc, idle_rc, index;
};

static int shutdown_from_job(void *arg)
{
	struct inner *in = arg;

	atomic_store(&in->idle_rc, lfq_pool_wait_idle(in->pool, -1));
	atomic_store(&in->index, lfq_pool_worker_index(in->pool));
	atomic_store(&in->shutdown_rc, lfq_pool_shutdown(in->pool, -1));
	atomic_store(&in->submit_rc, lfq_pool_submit(in->pool, &count));
	atomic_fetch_add(&ran, 1);
	return 0;
}

Test(pool, shutdown_from_a_job_stops_intake_and_returns_edeadlk)
{
	struct lfq_pool *pool = make(1, 16);
	struct inner in = {.pool = pool};

	gate_reset();
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	wait_entered(1);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = shutdown_from_job, .arg = &in}),
		     0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(lfq_pool_submit(pool, &count), 0);
	atomic_store(&gate_open, 1);
	/* Wait (without wait_idle) until the job has shut the pool's intake. The 16 slots may
	 * fill first (the worker is still busy): -EAGAIN is not the answer we wait for. */
	int rc;

	while ((rc = lfq_pool_submit(pool, &count)) == 0 || rc == -EAGAIN)
		sleep_ms(1);
	cr_assert_eq(rc, -ESHUTDOWN);
	cr_assert_eq(lfq_pool_submit(pool, &count), -ESHUTDOWN);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	cr_assert_eq(atomic_load(&in.shutdown_rc), -EDEADLK);
	cr_assert_eq(atomic_load(&in.idle_rc), -EDEADLK);
	cr_assert_eq(atomic_load(&in.submit_rc), -ESHUTDOWN);
	cr_assert_eq(atomic_load(&in.index), 0);
	cr_assert_eq(lfq_pool_worker_index(pool), -1);
	lfq_pool_destroy(pool);
}

/* A job that submits `arg` more levels of two children each. */
struct tree {
	struct lfq_pool *pool;
	_Atomic unsigned long nodes;
};
static struct tree tree;

static int tree_job(void *arg)
{
	const uintptr_t depth = (uintptr_t)arg;

	sleep_ms(depth % 2); /* children finish after their parents returned, sometimes */
	atomic_fetch_add(&tree.nodes, 1);
	if (depth > 0)
		for (int c = 0; c < 2; c++)
			cr_assert_eq(lfq_pool_submit(tree.pool,
						     &(struct lfq_job){.fn = tree_job,
								       .arg = (void *)(depth - 1)}),
				     0);
	return 0;
}

Test(pool, wait_idle_counts_jobs_submitted_by_jobs)
{
	tree.pool = make(3, 128); /* room for a whole tree: no submit fails */
	atomic_store(&tree.nodes, 0);
	for (int round = 0; round < 3; round++) {
		cr_assert_eq(lfq_pool_submit(tree.pool,
					     &(struct lfq_job){.fn = tree_job, .arg = (void *)6}),
			     0);
		cr_assert_eq(lfq_pool_wait_idle(tree.pool, -1), 0);
		cr_assert_eq(atomic_load(&tree.nodes), (unsigned long)(round + 1) * 127);
	}
	lfq_pool_destroy(tree.pool);
}

Test(pool, wait_idle_times_out_while_a_job_runs)
{
	struct lfq_pool *pool = make(2, 8);

	gate_reset();
	cr_assert_eq(lfq_pool_wait_idle(pool, 0), 0, "a new pool is idle");
	cr_assert_eq(lfq_pool_submit(pool, &gated), 0);
	cr_assert_eq(lfq_pool_wait_idle(pool, 0), -EAGAIN);
	const int64_t t0 = now_ns();

	cr_assert_eq(lfq_pool_wait_idle(pool, 20 * MS), -ETIMEDOUT);
	cr_assert_geq(now_ns() - t0, 20 * MS);
	atomic_store(&gate_open, 1);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	lfq_pool_destroy(pool);
}

/* ---- failures ---- */

static _Atomic int errors_seen, last_error;

static int failing_job(void *arg)
{
	return (int)(intptr_t)arg;
}

static void on_error(const struct lfq_job *job, int result, void *ctx)
{
	cr_assert_eq(ctx, (void *)&errors_seen);
	cr_assert_eq(job->fn, failing_job);
	cr_assert_eq((int)(intptr_t)job->arg, result);
	atomic_store(&last_error, result);
	atomic_fetch_add(&errors_seen, 1);
}

Test(pool, failing_job_is_counted_and_reported)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config cfg = {.workers = 2,
				      .queue_capacity = 8,
				      .on_error = on_error,
				      .ctx = (void *)&errors_seen};
	struct lfq_pool_stats st;
	struct lfq_pool_worker_stats ws[2];

	atomic_store(&errors_seen, 0);
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = failing_job, .arg = (void *)-5}),
		     0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = failing_job, .arg = (void *)0}),
		     0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = failing_job, .arg = (void *)7}),
		     0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(atomic_load(&errors_seen), 2, "on_error finished before wait_idle returned");
	cr_assert(atomic_load(&last_error) == -5 || atomic_load(&last_error) == 7);
	cr_assert_eq(lfq_pool_stats(pool, &st, ws, 2), 0);
	cr_assert_eq(st.failed, 2);
	cr_assert_eq(st.completed, 1);
	cr_assert_eq(st.submitted, 3);
	cr_assert_eq(ws[0].failed + ws[1].failed, 2);
	cr_assert_eq(ws[0].completed + ws[1].completed, 1);
	lfq_pool_destroy(pool);
}

/* ---- pinning and names ---- */

#define PIN_JOBS 200
static struct pin_record {
	_Atomic int cpu, worker;
	char name[16];
} pin_records[PIN_JOBS];
static struct lfq_pool *pin_pool;

static int pin_job(void *arg)
{
	struct pin_record *r = &pin_records[(uintptr_t)arg];

	pthread_getname_np(pthread_self(), r->name, sizeof(r->name));
	atomic_store(&r->worker, lfq_pool_worker_index(pin_pool));
	atomic_store(&r->cpu, sched_getcpu());
	return 0;
}

static void run_pin_jobs(const struct lfq_pool_config *cfg, struct lfq_pool_worker_stats *ws,
			 size_t n)
{
	cr_assert_eq(lfq_pool_create(&pin_pool, cfg), 0);
	for (uintptr_t i = 0; i < PIN_JOBS; i++)
		cr_assert_eq(
			lfq_pool_submit_wait(
				pin_pool, &(struct lfq_job){.fn = pin_job, .arg = (void *)i}, -1),
			0);
	cr_assert_eq(lfq_pool_wait_idle(pin_pool, -1), 0);
	struct lfq_pool_stats st;

	cr_assert_eq(lfq_pool_stats(pin_pool, &st, ws, n), 0);
	lfq_pool_destroy(pin_pool);
}

Test(pool, workers_run_on_the_cpus_they_are_pinned_to)
{
	cpu_set_t allowed;
	unsigned cpus[CPU_SETSIZE];
	size_t ncpus = 0;

	cr_assert_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	for (unsigned c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[ncpus++] = c;
	/* Reverse order, so that worker i does not land on CPU i by accident. */
	for (size_t i = 0; i < ncpus / 2; i++) {
		const unsigned t = cpus[i];

		cpus[i] = cpus[ncpus - 1 - i];
		cpus[ncpus - 1 - i] = t;
	}
	const unsigned workers = 2 * (unsigned)ncpus + 1; /* more workers than CPUs */
	struct lfq_pool_config cfg = {
		.workers = workers, .queue_capacity = 16, .cpus = cpus, .ncpus = ncpus};
	struct lfq_pool_worker_stats ws[2 * CPU_SETSIZE + 1];

	run_pin_jobs(&cfg, ws, workers);
	for (unsigned w = 0; w < workers; w++)
		cr_assert_eq(ws[w].cpu, (int)cpus[w % ncpus], "worker %u", w);
	for (int i = 0; i < PIN_JOBS; i++) {
		const int w = atomic_load(&pin_records[i].worker);

		cr_assert(w >= 0 && w < (int)workers, "job %d ran on worker %d", i, w);
		cr_assert_eq(atomic_load(&pin_records[i].cpu), (int)cpus[w % ncpus],
			     "job %d: worker %d ran on cpu %d", i, w,
			     atomic_load(&pin_records[i].cpu));
	}
}

Test(pool, workers_are_named_after_their_index)
{
	struct lfq_pool_config cfg = {.workers = 3, .queue_capacity = 8};
	struct lfq_pool_worker_stats ws[3];
	char want[16];

	run_pin_jobs(&cfg, ws, 3);
	for (int i = 0; i < PIN_JOBS; i++) {
		snprintf(want, sizeof(want), "lfq-w%d", atomic_load(&pin_records[i].worker));
		cr_assert_eq(strcmp(pin_records[i].name, want), 0, "job %d on thread '%s'", i,
			     pin_records[i].name);
	}
	cfg.name = "srv-io-";
	run_pin_jobs(&cfg, ws, 3);
	for (int i = 0; i < PIN_JOBS; i++) {
		snprintf(want, sizeof(want), "srv-io-%d", atomic_load(&pin_records[i].worker));
		cr_assert_eq(strcmp(pin_records[i].name, want), 0);
	}
}

Test(pool, default_config_leaves_workers_unpinned)
{
	struct lfq_pool_config cfg = {.workers = 2, .queue_capacity = 8};
	struct lfq_pool_worker_stats ws[2];

	run_pin_jobs(&cfg, ws, 2);
	cr_assert_eq(ws[0].cpu, -1);
	cr_assert_eq(ws[1].cpu, -1);
}

Test(pool, pin_flag_pins_round_robin_over_the_allowed_cpus)
{
	cpu_set_t allowed;
	unsigned cpus[CPU_SETSIZE];
	size_t ncpus = 0;

	cr_assert_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	for (unsigned c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[ncpus++] = c;
	const unsigned workers = (unsigned)ncpus + 1; /* wraps around once */
	struct lfq_pool_config cfg = {
		.workers = workers, .queue_capacity = 16, .flags = LFQ_POOL_PIN};
	struct lfq_pool_worker_stats ws[CPU_SETSIZE + 1];

	run_pin_jobs(&cfg, ws, workers);
	for (unsigned w = 0; w < workers; w++)
		cr_assert_eq(ws[w].cpu, (int)cpus[w % ncpus], "worker %u", w);
	for (int i = 0; i < PIN_JOBS; i++) {
		const int w = atomic_load(&pin_records[i].worker);

		cr_assert(w >= 0 && w < (int)workers);
		cr_assert_eq(atomic_load(&pin_records[i].cpu), (int)cpus[w % ncpus]);
	}
}

Test(pool, no_pin_leaves_workers_unpinned)
{
	struct lfq_pool_config cfg = {.workers = 2, .queue_capacity = 8, .flags = LFQ_POOL_NO_PIN};
	struct lfq_pool_worker_stats ws[2];

	run_pin_jobs(&cfg, ws, 2);
	cr_assert_eq(ws[0].cpu, -1);
	cr_assert_eq(ws[1].cpu, -1);
	for (int i = 0; i < PIN_JOBS; i++)
		cr_assert_geq(atomic_load(&pin_records[i].cpu), 0);
}

/* ---- idle CPU and wake-up economy ---- */

static long process_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

Test(pool, idle_pool_uses_no_cpu)
{
	struct lfq_pool *pool = make(4, 64);

	atomic_store(&ran, 0);
	cr_assert_eq(lfq_pool_submit(pool, &count), 0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	sleep_ms(20); /* the workers finish spinning and fall asleep */
	const long c0 = process_cpu_us();

	sleep_ms(1000);
	const long used = process_cpu_us() - c0;

	/* Issue 12's bound: under 1 % of one core (10 ms of CPU in 1 s), the whole process. */
	cr_assert_lt(used, 10000, "4 idle workers used %ld us of CPU in 1 s", used);
	lfq_pool_destroy(pool);
}

Test(pool, submit_makes_no_wake_call_while_no_worker_sleeps)
{
	/* Workers that never stop spinning never sleep: no submit needs to wake anyone. */
	struct lfq_pool_config cfg = {.workers = 2, .queue_capacity = 256, .idle_spin = UINT_MAX};
	struct lfq_pool *pool = NULL;
	struct lfq_pool_stats st;

	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	atomic_store(&ran, 0);
	atomic_store(&lfq__test_futex_wakes, 0);
	for (int i = 0; i < 20000; i++) {
		int rc;

		/* Not submit_wait: a sleeping submitter would be woken by the workers. */
		while ((rc = lfq_pool_submit(pool, &count)) == -EAGAIN)
			sched_yield();
		cr_assert_eq(rc, 0);
	}
	do {
		cr_assert_eq(lfq_pool_stats(pool, &st, NULL, 0), 0);
		sched_yield();
	} while (st.completed < 20000);
	cr_assert_eq(atomic_load(&lfq__test_futex_wakes), 0, "wake calls with nobody asleep");
	lfq_pool_destroy(pool);
	cr_assert_eq(atomic_load(&ran), 20000);
}

Test(pool, submit_wakes_a_sleeping_worker)
{
	struct lfq_pool *pool = make(1, 8);

	atomic_store(&ran, 0);
	sleep_ms(30); /* the worker falls asleep; correctness does not depend on it */
	atomic_store(&lfq__test_futex_wakes, 0);
	cr_assert_eq(lfq_pool_submit(pool, &count), 0);
	while (atomic_load(&ran) == 0)
		sleep_ms(1);
	cr_assert_geq(atomic_load(&lfq__test_futex_wakes), 1);
	lfq_pool_destroy(pool);
}

Test(pool, worker_index_is_minus_one_outside_jobs)
{
	struct lfq_pool *pool = make(2, 8);

	cr_assert_eq(lfq_pool_worker_index(pool), -1);
	lfq_pool_destroy(pool);
}
