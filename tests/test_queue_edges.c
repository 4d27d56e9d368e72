/* SPDX-License-Identifier: MIT */
/* lfq_queue at its edges (issue 13): wake-ups under a segment limit, progress with a pusher
 * stalled while it grows the queue, bad arguments in every build, and the size limits.
 * Each regression test here failed on the code before its fix. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lfq/queue.h>

#include "queue_internal.h"
#include "test_time.h"
#include "testing.h"

#define ITEM(v) ((void *)(uintptr_t)(v))
/* push_wait waits without a deadline: a lost wake-up hangs it, and the test's timeout fails
 * it (with a deadline, its last re-check would find the room and hide the bug). */
#define WAIT_NS (-1)

static struct lfq_queue *make(size_t seg, size_t limit)
{
	struct lfq_queue *q = NULL;

	cr_assert_eq(lfq_queue_create(&q, seg, 0), 0);
	if (limit)
		cr_assert_eq(lfq_queue_set_limit(q, limit), 0);
	return q;
}

static uint32_t push_sleepers(struct lfq_queue *q)
{
	return atomic_load(&q->not_full.waiters);
}

/* ---- a thread in push_wait, and a victim thread parked at a test point ---- */

struct waiter {
	struct lfq_queue *q;
	void *item;
	int rc;
	_Atomic bool done;
};

static void *push_wait_main(void *arg)
{
	struct waiter *w = arg;

	w->rc = lfq_queue_push_wait(w->q, w->item, WAIT_NS);
	atomic_store(&w->done, true);
	return NULL;
}

static _Thread_local bool is_victim;
static sem_t reached, release;
static _Atomic int park_mode;
static struct waiter *sleeper; /* for PARK_UNTIL_SLEEPER */

enum { PARK_FOREVER = 1, PARK_UNTIL_SLEEPER_THEN_FAIL_ALLOC = 2 };

static void victim_hook(int point)
{
	if (!is_victim || point != LFQ_TP_QUEUE_GROW)
		return;
	is_victim = false; /* once */
	sem_post(&reached);
	if (atomic_load(&park_mode) == PARK_FOREVER) {
		while (sem_wait(&release) != 0)
			;
		return;
	}
	/* Stay here (a slow allocation) until the other pusher sleeps in push_wait, or is
	 * done, then let the allocation fail. */
	while (push_sleepers(sleeper->q) == 0 && !atomic_load(&sleeper->done))
		sleep_ms(1);
	sleep_ms(50); /* it is in the futex wait by now, not in its re-check */
	atomic_store(&lfq__test_fail_alloc, 1);
}

struct victim {
	struct lfq_queue *q;
	void *item;
	int rc;
};

static void *victim_push(void *arg)
{
	struct victim *v = arg;

	is_victim = true;
	v->rc = lfq_queue_push(v->q, v->item);
	return NULL;
}

static void start_victim(pthread_t *t, struct victim *v, int mode)
{
	sem_init(&reached, 0, 0);
	sem_init(&release, 0, 0);
	atomic_store(&park_mode, mode);
	atomic_store(&lfq__test_hook, victim_hook);
	cr_assert_eq(pthread_create(t, NULL, victim_push, v), 0);
	while (sem_wait(&reached) != 0)
		;
}

/* ---- item 1: the -ENOMEM path wakes push_wait ---- */

Test(queue_edges, failed_growth_wakes_push_wait_sleepers, .timeout = 30)
{
	/* Before: the pusher whose allocation failed gave its segment reservation back without
	 * a notify, so a push_wait that had found the limit reached (the reservation counted)
	 * slept on with room in the queue (forever here: the test timed out). */
	struct lfq_queue *q = make(1, 2);
	struct victim v = {.q = q, .item = ITEM(2)};
	struct waiter w = {.q = q, .item = ITEM(3)};
	pthread_t tv, tw;
	void *out;

	sleeper = &w;
	cr_assert_eq(lfq_queue_push(q, ITEM(1)), 0); /* the first segment is full */
	start_victim(&tv, &v, PARK_UNTIL_SLEEPER_THEN_FAIL_ALLOC);
	cr_assert_eq(pthread_create(&tw, NULL, push_wait_main, &w), 0);
	pthread_join(tv, NULL);
	pthread_join(tw, NULL);
	cr_assert_eq(v.rc, -ENOMEM);
	cr_assert_eq(w.rc, 0, "push_wait: %d", w.rc);
	cr_assert_eq(lfq_queue_pop(q, &out), 0);
	cr_assert_eq(out, ITEM(1));
	cr_assert_eq(lfq_queue_pop(q, &out), 0);
	cr_assert_eq(out, ITEM(3));
	cr_assert_eq(lfq_queue_pop(q, &out), -EAGAIN);
	atomic_store(&lfq__test_hook, NULL);
	lfq_queue_destroy(q);
}

/* ---- raising the limit wakes push_wait ---- */

Test(queue_edges, raising_the_limit_wakes_push_wait_sleepers, .timeout = 30)
{
	/* Before: set_limit did not notify, so a push_wait blocked by the old limit slept on
	 * (forever here: the test timed out) although the new limit had room. */
	struct lfq_queue *q = make(1, 2);
	struct waiter w = {.q = q, .item = ITEM(3)};
	pthread_t tw;

	cr_assert_eq(lfq_queue_push(q, ITEM(1)), 0);
	cr_assert_eq(lfq_queue_push(q, ITEM(2)), 0);
	cr_assert_eq(lfq_queue_push(q, ITEM(3)), -EAGAIN);
	cr_assert_eq(pthread_create(&tw, NULL, push_wait_main, &w), 0);
	while (push_sleepers(q) == 0)
		sleep_ms(1);
	sleep_ms(50); /* in the futex wait by now */
	cr_assert_eq(lfq_queue_set_limit(q, 3), 0);
	pthread_join(tw, NULL);
	cr_assert_eq(w.rc, 0, "push_wait: %d", w.rc);
	cr_assert_eq(lfq_queue_size(q), 3);
	lfq_queue_destroy(q);
}

/* ---- item 2: a pusher stalled while growing blocks nobody ---- */

#define OTHERS 100000

Test(queue_edges, a_pusher_stalled_while_growing_blocks_no_other_push, .timeout = 120)
{
	/* Before: the stalled pusher held the last segment reservation under the limit, so
	 * every other push on the (empty) queue returned -EAGAIN: 0 of OTHERS succeeded. */
	struct lfq_queue *q = make(4, 2);
	struct victim v = {.q = q, .item = ITEM(0xdead)};
	pthread_t tv;
	void *out;
	size_t ok = 0;

	for (uintptr_t i = 1; i <= 4; i++)
		cr_assert_eq(lfq_queue_push(q, ITEM(i)), 0); /* the first segment is full */
	start_victim(&tv, &v, PARK_FOREVER);
	for (uintptr_t i = 1; i <= 4; i++) {
		cr_assert_eq(lfq_queue_pop(q, &out), 0);
		cr_assert_eq(out, ITEM(i));
	}
	/* The queue is empty; the victim is parked between the limit check and the link. */
	for (uintptr_t i = 1; i <= OTHERS; i++) {
		if (lfq_queue_push(q, ITEM(i)) != 0)
			continue;
		ok++;
		cr_assert_eq(lfq_queue_pop(q, &out), 0);
		cr_assert_eq(out, ITEM(i));
	}
	cr_assert_eq(ok, OTHERS, "%zu of %d pushes succeeded while one pusher was stalled", ok,
		     OTHERS);
	/* The limit still holds while the victim is stalled. */
	for (uintptr_t i = 1; i <= 8; i++)
		cr_assert_eq(lfq_queue_push(q, ITEM(i)), 0);
	cr_assert_eq(lfq_queue_push(q, ITEM(9)), -EAGAIN);
	sem_post(&release);
	pthread_join(tv, NULL);
	for (uintptr_t i = 1; i <= 8; i++) {
		cr_assert_eq(lfq_queue_pop(q, &out), 0);
		cr_assert_eq(out, ITEM(i));
	}
	/* The victim went in after it woke up, or found the limit reached. */
	if (v.rc == 0) {
		cr_assert_eq(lfq_queue_pop(q, &out), 0);
		cr_assert_eq(out, ITEM(0xdead));
	} else {
		cr_assert_eq(v.rc, -EAGAIN);
	}
	cr_assert_eq(lfq_queue_pop(q, &out), -EAGAIN);
	atomic_store(&lfq__test_hook, NULL);
	lfq_queue_destroy(q);
}

/* ---- item 5: bad arguments in every build ---- */

Test(queue_edges, null_arguments_are_rejected_in_every_build)
{
	/* Before: assert() only (a crash in a debug build, undefined behaviour in a release
	 * build). */
	struct lfq_queue *q = make(4, 0);
	void *out = ITEM(7), *items[2] = {ITEM(1), ITEM(2)};

	cr_assert_eq(lfq_queue_push(NULL, ITEM(1)), -EINVAL);
	cr_assert_eq(lfq_queue_pop(NULL, &out), -EINVAL);
	cr_assert_eq(lfq_queue_pop(q, NULL), -EINVAL);
	cr_assert_eq(lfq_queue_push_wait(NULL, ITEM(1), -1), -EINVAL);
	cr_assert_eq(lfq_queue_pop_wait(NULL, &out, -1), -EINVAL);
	cr_assert_eq(lfq_queue_pop_wait(q, NULL, -1), -EINVAL);
	cr_assert_eq(lfq_queue_set_limit(NULL, 0), -EINVAL);
	cr_assert_eq(lfq_queue_push_burst(NULL, items, 2), 0);
	cr_assert_eq(lfq_queue_push_burst(q, NULL, 2), 0);
	cr_assert_eq(lfq_queue_pop_burst(NULL, items, 2), 0);
	cr_assert_eq(lfq_queue_pop_burst(q, NULL, 2), 0);
	lfq_queue_close(NULL);
	cr_assert_not(lfq_queue_is_closed(NULL));
	cr_assert_eq(lfq_queue_size(NULL), 0);
	cr_assert_eq(lfq_queue_segment_capacity(NULL), 0);
	cr_assert_eq(out, ITEM(7), "untouched");
	/* The queue itself was not disturbed. */
	cr_assert_eq(lfq_queue_size(q), 0);
	cr_assert_eq(lfq_queue_push(q, ITEM(1)), 0);
	cr_assert_eq(lfq_queue_pop(q, &out), 0);
	cr_assert_eq(out, ITEM(1));
	lfq_queue_destroy(q);
}

/* ---- issue 24: no abort inside liburcu under memory pressure ---- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LFQ_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LFQ_TEST_SANITIZED 1
#endif
#endif

/* The child: with the address space capped just above what it uses, no new thread can be
 * created (no room for its stack). Retiring segments and destroying the queue must not need
 * one: before, the first retire started liburcu's call_rcu thread, failed, and urcu_die
 * aborted (exit 134). */
static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int capped_child(void)
{
	struct lfq_queue *q = NULL;

	if (lfq_queue_create(&q, 4, 0) != 0)
		return 10;
	/* glibc reuses the stacks of threads that ended (the test runner's): take them all,
	 * so that a thread created from here on needs a fresh mapping. */
	for (int i = 0; i < 16; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
			return 16;
	}
	long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%ld", &pages) != 1)
		return 11;
	fclose(f);
	const rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (1u << 20);
	const struct rlimit rl = {.rlim_cur = cap, .rlim_max = cap};

	if (setrlimit(RLIMIT_AS, &rl) != 0)
		return 12;
	static int items[64];

	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 64; i++)
			if (lfq_queue_push(q, &items[i]) != 0)
				return 13;
		for (int i = 0; i < 64; i++) {
			void *it;

			if (lfq_queue_pop(q, &it) != 0 || it != &items[i])
				return 14;
		}
	}
	lfq_queue_destroy(q);
	/* A queue created now may be refused, never abort. */
	const int rc = lfq_queue_create(&q, 4, 0);

	if (rc == 0)
		lfq_queue_destroy(q);
	else if (rc != -EAGAIN && rc != -ENOMEM)
		return 15;
	return 0;
}

Test(queue_edges, retiring_segments_under_an_address_space_cap_does_not_abort)
{
#ifdef LFQ_TEST_SANITIZED
	/* The sanitizers' own allocators abort when the address space is capped. */
	return;
#else
	const pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(capped_child());
	int status = 0;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died of signal %d",
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), 0, "the child failed at step %d", WEXITSTATUS(status));
#endif
}
