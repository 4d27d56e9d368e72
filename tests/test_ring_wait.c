/* SPDX-License-Identifier: MIT */
/* lfq_ring blocking calls and close: semantics, timeouts, idle CPU, wake-up economy. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <lfq/ring.h>

#ifdef LFQ_TEST_SHARED_RING
#include "shm_util.h"
#endif

#include "test_time.h"
#include "testing.h"
#include "waitq.h"

#define ITEM(v) ((void *)(uintptr_t)(v))

static struct lfq_ring *make(size_t cap)
{
	struct lfq_ring *r = NULL;

#ifdef LFQ_TEST_SHARED_RING
	/* The same suite over a shared ring in a memfd (tests/meson.build builds it twice). */
	r = shm_ring(cap);
#else
	cr_assert_eq(lfq_ring_create(&r, cap, 0), 0);
#endif
	return r;
}

Test(ring_wait, close_stops_pushes_and_pops_drain_then_epipe)
{
	struct lfq_ring *r = make(4);
	void *items[2] = {ITEM(8), ITEM(9)}, *out = NULL;

	cr_assert_not(lfq_ring_is_closed(r));
	for (int i = 1; i <= 3; i++)
		cr_assert_eq(lfq_ring_push(r, ITEM(i)), 0);
	lfq_ring_close(r);
	cr_assert(lfq_ring_is_closed(r));
	cr_assert_eq(lfq_ring_push(r, ITEM(4)), -EPIPE);
	cr_assert_eq(lfq_ring_push_burst(r, items, 2), 0);
	cr_assert_eq(lfq_ring_push_wait(r, ITEM(5), -1), -EPIPE);
	cr_assert_eq(lfq_ring_push_wait(r, ITEM(5), 0), -EPIPE);
	cr_assert_eq(lfq_ring_size(r), 3);
	for (int i = 1; i <= 3; i++) {
		cr_assert_eq(i == 2 ? lfq_ring_pop_wait(r, &out, -1) : lfq_ring_pop(r, &out), 0);
		cr_assert_eq(out, ITEM(i));
	}
	cr_assert_eq(lfq_ring_pop(r, &out), -EPIPE);
	cr_assert_eq(lfq_ring_pop_wait(r, &out, -1), -EPIPE);
	cr_assert_eq(lfq_ring_pop_wait(r, &out, 0), -EPIPE);
	cr_assert_eq(lfq_ring_pop_burst(r, items, 2), 0);
	lfq_ring_close(r); /* idempotent */
	cr_assert_eq(lfq_ring_pop(r, &out), -EPIPE);
	cr_assert_eq(lfq_ring_size(r), 0);
	lfq_ring_destroy(r);
}

Test(ring_wait, closed_full_ring_reports_epipe_not_eagain)
{
	struct lfq_ring *r = make(2);

	cr_assert_eq(lfq_ring_push(r, ITEM(1)), 0);
	cr_assert_eq(lfq_ring_push(r, ITEM(2)), 0);
	cr_assert_eq(lfq_ring_push(r, ITEM(3)), -EAGAIN);
	lfq_ring_close(r);
	cr_assert_eq(lfq_ring_push(r, ITEM(3)), -EPIPE);
	cr_assert_eq(lfq_ring_size(r), 2);
	lfq_ring_destroy(r);
}

Test(ring_wait, burst_across_close_pushes_a_prefix)
{
	struct lfq_ring *r = make(8);
	void *in[3] = {ITEM(1), ITEM(2), ITEM(3)}, *out[8];

	cr_assert_eq(lfq_ring_push_burst(r, in, 3), 3);
	lfq_ring_close(r);
	cr_assert_eq(lfq_ring_push_burst(r, in, 3), 0);
	cr_assert_eq(lfq_ring_pop_burst(r, out, 8), 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(out[i], in[i]);
	lfq_ring_destroy(r);
}

Test(ring_wait, zero_timeout_is_one_try)
{
	struct lfq_ring *r = make(1);
	void *out;

	cr_assert_eq(lfq_ring_pop_wait(r, &out, 0), -EAGAIN);
	cr_assert_eq(lfq_ring_push_wait(r, ITEM(1), 0), 0);
	cr_assert_eq(lfq_ring_push_wait(r, ITEM(2), 0), -EAGAIN);
	cr_assert_eq(lfq_ring_pop_wait(r, &out, 0), 0);
	cr_assert_eq(out, ITEM(1));
	lfq_ring_destroy(r);
}

Test(ring_wait, timeouts_are_not_cut_short)
{
	struct lfq_ring *r = make(1);
	const int64_t timeouts[] = {3000, 50000, 2 * MS, 20 * MS};
	void *out;

	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		int64_t t0 = now_ns();

		cr_assert_eq(lfq_ring_pop_wait(r, &out, timeouts[i]), -ETIMEDOUT);
		cr_assert_geq(now_ns() - t0, timeouts[i], "pop_wait returned early");
	}
	cr_assert_eq(lfq_ring_push(r, ITEM(1)), 0);
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		int64_t t0 = now_ns();

		cr_assert_eq(lfq_ring_push_wait(r, ITEM(2), timeouts[i]), -ETIMEDOUT);
		cr_assert_geq(now_ns() - t0, timeouts[i], "push_wait returned early");
	}
	lfq_ring_destroy(r);
}

struct waiter {
	struct lfq_ring *r;
	int64_t timeout;
	int rc;
	void *item;
	long cpu_us;
};

static long thread_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static void *pop_waiter(void *arg)
{
	struct waiter *w = arg;
	long c0 = thread_cpu_us();

	w->rc = lfq_ring_pop_wait(w->r, &w->item, w->timeout);
	w->cpu_us = thread_cpu_us() - c0;
	return NULL;
}

static void *push_waiter(void *arg)
{
	struct waiter *w = arg;

	w->rc = lfq_ring_push_wait(w->r, w->item, w->timeout);
	return NULL;
}

Test(ring_wait, idle_waiter_sleeps_instead_of_spinning)
{
	struct lfq_ring *r = make(8);
	struct waiter w = {.r = r, .timeout = 200 * MS};
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, pop_waiter, &w), 0);
	pthread_join(t, NULL);
	cr_assert_eq(w.rc, -ETIMEDOUT);
	cr_assert_lt(w.cpu_us, 10000, "a waiter blocked for 200 ms used %ld us of CPU", w.cpu_us);
	lfq_ring_destroy(r);
}

Test(ring_wait, push_wakes_a_sleeping_consumer)
{
	struct lfq_ring *r = make(8);
	struct waiter w = {.r = r, .timeout = -1};
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, pop_waiter, &w), 0);
	sleep_ms(30); /* let it fall asleep; correctness does not depend on it */
	cr_assert_eq(lfq_ring_push(r, ITEM(42)), 0);
	pthread_join(t, NULL);
	cr_assert_eq(w.rc, 0);
	cr_assert_eq(w.item, ITEM(42));
	lfq_ring_destroy(r);
}

Test(ring_wait, pop_wakes_a_sleeping_producer)
{
	struct lfq_ring *r = make(1);
	struct waiter w = {.r = r, .timeout = -1, .item = ITEM(2)};
	pthread_t t;
	void *out;

	cr_assert_eq(lfq_ring_push(r, ITEM(1)), 0);
	cr_assert_eq(pthread_create(&t, NULL, push_waiter, &w), 0);
	sleep_ms(30);
	cr_assert_eq(lfq_ring_pop(r, &out), 0);
	pthread_join(t, NULL);
	cr_assert_eq(w.rc, 0);
	cr_assert_eq(lfq_ring_pop(r, &out), 0);
	cr_assert_eq(out, ITEM(2));
	lfq_ring_destroy(r);
}

Test(ring_wait, close_wakes_every_waiter)
{
	struct lfq_ring *empty = make(4), *full = make(1);
	struct waiter pw[3], cw[3];
	pthread_t pt[3], ct[3];

	cr_assert_eq(lfq_ring_push(full, ITEM(1)), 0);
	for (int i = 0; i < 3; i++) {
		cw[i] = (struct waiter){.r = empty, .timeout = -1};
		pw[i] = (struct waiter){.r = full, .timeout = -1, .item = ITEM(i + 2)};
		cr_assert_eq(pthread_create(&ct[i], NULL, pop_waiter, &cw[i]), 0);
		cr_assert_eq(pthread_create(&pt[i], NULL, push_waiter, &pw[i]), 0);
	}
	sleep_ms(30);
	lfq_ring_close(empty);
	lfq_ring_close(full);
	for (int i = 0; i < 3; i++) {
		pthread_join(ct[i], NULL);
		pthread_join(pt[i], NULL);
		cr_assert_eq(cw[i].rc, -EPIPE);
		cr_assert_eq(pw[i].rc, -EPIPE);
	}
	lfq_ring_destroy(empty);
	lfq_ring_destroy(full);
}

static void on_signal(int sig)
{
	(void)sig;
}

Test(ring_wait, signals_do_not_surface_as_errors)
{
	struct lfq_ring *r = make(4);
	struct waiter w = {.r = r, .timeout = 100 * MS};
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */
	pthread_t t;
	int64_t t0 = now_ns();

	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	cr_assert_eq(pthread_create(&t, NULL, pop_waiter, &w), 0);
	for (int i = 0; i < 10; i++) {
		sleep_ms(5);
		pthread_kill(t, SIGUSR1);
	}
	pthread_join(t, NULL);
	cr_assert_eq(w.rc, -ETIMEDOUT);
	cr_assert_geq(now_ns() - t0, 100 * MS);
	lfq_ring_destroy(r);
}

Test(ring_wait, no_wake_syscall_without_waiters)
{
	struct lfq_ring *r = make(1024);
	void *out, *burst[16];

	atomic_store(&lfq__test_futex_wakes, 0);
	for (long i = 0; i < 1000000; i++) {
		cr_assert_eq(lfq_ring_push(r, ITEM(i)), 0);
		cr_assert_eq(lfq_ring_pop(r, &out), 0);
	}
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(lfq_ring_push_burst(r, burst, 16), 16);
		cr_assert_eq(lfq_ring_pop_burst(r, burst, 16), 16);
	}
	cr_assert_eq(atomic_load(&lfq__test_futex_wakes), 0, "wake calls with nobody waiting");

	/* The counter does count: a sleeping consumer costs at least one wake. */
	struct waiter w = {.r = r, .timeout = -1};
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, pop_waiter, &w), 0);
	sleep_ms(30);
	cr_assert_eq(lfq_ring_push(r, ITEM(7)), 0);
	pthread_join(t, NULL);
	cr_assert_eq(w.rc, 0);
	cr_assert_geq(atomic_load(&lfq__test_futex_wakes), 1);
	lfq_ring_destroy(r);
}

/* Adaptive spinning (waitq.h): the rule, then what a thread's waits do to its budget. */
Test(ring_wait, spin_budget_doubles_after_short_sleeps_and_halves_after_long_ones)
{
	const int64_t b = LFQ_WAIT_SPIN_INIT_NS;

	cr_assert_eq(lfq__waitq_adapt(b, 2 * b, 2 * b), 2 * b, "a sleep as short as the spin");
	cr_assert_eq(lfq__waitq_adapt(b, 2 * b, 100), 2 * b);
	cr_assert_eq(lfq__waitq_adapt(b, 2 * b, 2 * b + 1), b / 2, "a longer sleep");
	cr_assert_eq(lfq__waitq_adapt(b, 2 * b, INT64_MAX), b / 2, "a timeout");
	cr_assert_eq(lfq__waitq_adapt(LFQ_WAIT_SPIN_MAX_NS, 1, 0), LFQ_WAIT_SPIN_MAX_NS);
	cr_assert_eq(lfq__waitq_adapt(LFQ_WAIT_SPIN_MIN_NS, 0, INT64_MAX), LFQ_WAIT_SPIN_MIN_NS);
	int64_t up = LFQ_WAIT_SPIN_MIN_NS, down = LFQ_WAIT_SPIN_MAX_NS;

	for (int i = 0; i < 64; i++) {
		up = lfq__waitq_adapt(up, 2 * up, 0);
		down = lfq__waitq_adapt(down, 2 * down, INT64_MAX);
		cr_assert(up >= LFQ_WAIT_SPIN_MIN_NS && up <= LFQ_WAIT_SPIN_MAX_NS);
		cr_assert(down >= LFQ_WAIT_SPIN_MIN_NS && down <= LFQ_WAIT_SPIN_MAX_NS);
	}
	cr_assert_eq(up, LFQ_WAIT_SPIN_MAX_NS);
	cr_assert_eq(down, LFQ_WAIT_SPIN_MIN_NS);
}

struct budget_probe {
	struct lfq_ring *r;
	int64_t before, after_one, after_all;
	int rc[4];
};

static void *timed_out_waits(void *arg)
{
	struct budget_probe *p = arg;
	void *out;

	p->before = lfq__waitq_spin_budget();
	for (int i = 0; i < 4; i++) {
		p->rc[i] = lfq_ring_pop_wait(p->r, &out, 20 * MS);
		if (i == 0)
			p->after_one = lfq__waitq_spin_budget();
	}
	p->after_all = lfq__waitq_spin_budget();
	return NULL;
}

/* A thread whose waits end in timeouts (spinning never pays) spins less and less. */
Test(ring_wait, timed_out_waits_shrink_the_spin_budget)
{
	struct lfq_ring *r = make(4);
	struct budget_probe p = {.r = r};
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, timed_out_waits, &p), 0); /* a fresh budget */
	pthread_join(t, NULL);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(p.rc[i], -ETIMEDOUT);
	cr_assert_eq(p.before, LFQ_WAIT_SPIN_INIT_NS);
	cr_assert_eq(p.after_one, LFQ_WAIT_SPIN_INIT_NS / 2);
	cr_assert_eq(p.after_all, LFQ_WAIT_SPIN_MIN_NS);
	lfq_ring_destroy(r);
}

struct one_cpu {
	struct lfq_ring *r;
	long n;
	int cpus;
	long bad;
};

static void *one_cpu_producer(void *arg)
{
	struct one_cpu *o = arg;

	o->cpus = lfq__waitq_cpus();
	for (long i = 1; i <= o->n; i++)
		if (lfq_ring_push_wait(o->r, ITEM(i), -1) != 0)
			o->bad++;
	return NULL;
}

/* A process allowed a single CPU skips the pause phase (its partner cannot run while it
 * spins): blocking hand-offs through one slot still all arrive, in order. */
Test(ring_wait, one_cpu_process_hands_off_without_pause_spinning)
{
	cpu_set_t saved_main, saved_self, one;

	cr_assert_eq(sched_getaffinity(getpid(), sizeof(saved_main), &saved_main), 0);
	cr_assert_eq(sched_getaffinity(0, sizeof(saved_self), &saved_self), 0);
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &saved_self)) {
			CPU_SET(c, &one);
			break;
		}
	}
	/* The main thread's mask is what the library reads; new threads inherit ours. */
	cr_assert_eq(sched_setaffinity(getpid(), sizeof(one), &one), 0);
	cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);

	struct one_cpu o = {.r = make(1), .n = 20000};
	pthread_t t;
	long got = 0, disorder = 0;
	void *it;

	cr_assert_eq(pthread_create(&t, NULL, one_cpu_producer, &o), 0);
	for (long i = 1; i <= o.n; i++) {
		cr_assert_eq(lfq_ring_pop_wait(o.r, &it, -1), 0);
		got++;
		disorder += (uintptr_t)it != (uintptr_t)i;
	}
	pthread_join(t, NULL);
	sched_setaffinity(0, sizeof(saved_self), &saved_self);
	sched_setaffinity(getpid(), sizeof(saved_main), &saved_main);
	cr_assert_eq(o.cpus, 1);
	cr_assert_eq(o.bad, 0);
	cr_assert_eq(got, o.n);
	cr_assert_eq(disorder, 0);
	lfq_ring_destroy(o.r);
}

struct same_cpu {
	struct lfq_ring *r;
	cpu_set_t cpu;
	long n;
	long bad;
	unsigned yield_first_max;
};

static void *same_cpu_producer(void *arg)
{
	struct same_cpu *s = arg;

	pthread_setaffinity_np(pthread_self(), sizeof(s->cpu), &s->cpu);
	for (long i = 1; i <= s->n; i++)
		if (lfq_ring_push_wait(s->r, ITEM(i), -1) != 0)
			s->bad++;
	return NULL;
}

static void *same_cpu_consumer(void *arg)
{
	struct same_cpu *s = arg;
	void *it;

	pthread_setaffinity_np(pthread_self(), sizeof(s->cpu), &s->cpu);
	for (long i = 1; i <= s->n; i++) {
		if (lfq_ring_pop_wait(s->r, &it, -1) != 0 || (uintptr_t)it != (uintptr_t)i)
			s->bad++;
		const unsigned y = lfq__waitq_yield_first();

		if (y > s->yield_first_max)
			s->yield_first_max = y;
	}
	return NULL;
}

/* Two threads on one CPU in a process with more: pausing cannot help them (the other cannot
 * run meanwhile), a yield does, and then they skip the pause phase for a while. */
Test(ring_wait, waits_on_a_shared_cpu_learn_to_yield_first)
{
	struct same_cpu s = {.n = 2000};
	cpu_set_t mine;
	pthread_t p, c;

	cr_assert_eq(sched_getaffinity(0, sizeof(mine), &mine), 0);
	CPU_ZERO(&s.cpu);
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (CPU_ISSET(i, &mine)) {
			CPU_SET(i, &s.cpu);
			break;
		}
	}
	/* Whether some wait ends in the yield phase is the scheduler's choice (a preemption
	 * during the pause phase, or a slow sanitizer build, can make a round end every wait in
	 * another phase): a few rounds, each with fresh threads (the budget is per thread). */
	for (int round = 0; round < 8 && s.yield_first_max == 0; round++) {
		s.r = make(1);
		cr_assert_eq(pthread_create(&c, NULL, same_cpu_consumer, &s), 0);
		cr_assert_eq(pthread_create(&p, NULL, same_cpu_producer, &s), 0);
		pthread_join(p, NULL);
		pthread_join(c, NULL);
		lfq_ring_destroy(s.r);
		cr_assert_eq(s.bad, 0);
	}
	cr_assert_gt(s.yield_first_max, 0, "no wait was satisfied by a yield in 8 rounds");
	cr_assert_leq(s.yield_first_max, LFQ_WAIT_YIELD_FIRST);
}

#if LFQ_RING_CELLS && !defined(LFQ_TEST_SHARED_RING)
#include "ring_internal.h"

struct unfenced {
	struct lfq_ring *r;
	int rc;
	_Atomic int done;
};

static void *unfenced_pusher(void *arg)
{
	struct unfenced *u = arg;

	u->rc = lfq_ring_push_wait(u->r, ITEM(2), 10000 * MS);
	atomic_store(&u->done, 1);
	return NULL;
}

/* membarrier(2) failing after the ring was created (a seccomp filter installed later): a
 * push_wait sleeper on a single-consumer ring has lost its fence (W2a), so the consumer's
 * plain release publish may reach it after the consumer saw no waiter and skipped the
 * notify. That skipped notify is made certain here by freeing the cell with the internal pop,
 * which notifies nobody: the sleeper must see the room by itself, within a few polls, not at
 * its 10 s deadline. */
Test(ring_wait, push_wait_without_its_membarrier_does_not_rely_on_the_notify, .timeout = 30)
{
	struct unfenced u = {0};
	void *item;

	cr_assert_eq(lfq_ring_create(&u.r, 1, LFQ_RING_SC), 0);
	if (!u.r->not_full.asym) {
		/* membarrier(2) is unavailable here, so the ring never relies on it (its O5 stays
		 * the seq_cst CAS): the case this test makes cannot arise. */
		fprintf(stderr,
			"push_wait_without_its_membarrier: no membarrier, nothing to test\n");
		lfq_ring_destroy(u.r);
		return;
	}
	cr_assert_eq(lfq_ring_push(u.r, ITEM(1)), 0);
	atomic_store(&lfq__test_fail_membarrier, 1);
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, unfenced_pusher, &u), 0);
	sleep_ms(50); /* past its spin phase: asleep */
	cr_assert_eq(lfq__ring_pop_one(u.r, &item), 0);
	cr_assert_eq(item, ITEM(1));
	const int64_t t0 = now_ns();

	while (!atomic_load(&u.done) && now_ns() - t0 < 2000 * MS)
		sleep_ms(1);
	const bool in_time = atomic_load(&u.done);

	pthread_join(t, NULL);
	atomic_store(&lfq__test_fail_membarrier, 0);
	cr_assert(in_time, "push_wait slept through the freed cell (waited for its deadline)");
	cr_assert_eq(u.rc, 0);
	cr_assert_eq(lfq_ring_pop(u.r, &item), 0);
	cr_assert_eq(item, ITEM(2));
	lfq_ring_destroy(u.r);
}
#endif
