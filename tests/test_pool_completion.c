/* SPDX-License-Identifier: MIT */
/* The completion channel (issue 14): an eventfd an epoll loop waits on, and drains that hand
 * back every finished job's result exactly once, with one eventfd write per drain rather than
 * per job, and credits that keep the ring from overflowing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <lfq/pool.h>

#include "test_time.h"

static struct lfq_pool *make(unsigned workers, size_t capacity, unsigned extra)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config cfg = {.workers = workers,
				      .queue_capacity = capacity,
				      .flags = LFQ_POOL_NO_PIN | LFQ_POOL_COMPLETIONS | extra};

	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	return pool;
}

/* Job k fails permanently when k % 5 == 4, else succeeds. */
static int job_fn(void *arg)
{
	return (uintptr_t)arg % 5 == 4 ? LFQ_JOB_FAIL : 0;
}

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

#define N 3000

Test(pool_completion, an_epoll_loop_gets_every_result_exactly_once)
{
	static unsigned char seen[N];
	struct lfq_pool *pool = make(3, 64, 0);
	const int fd = lfq_pool_completions_fd(pool);

	cr_assert_geq(fd, 0);
	const int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};

	cr_assert_geq(ep, 0);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	memset(seen, 0, sizeof(seen));
	size_t submitted = 0, got = 0, wakeups = 0;

	/* One thread does it all, as an event loop would: submit while there is room, and
	 * drain when epoll says the fd is readable. */
	while (got < N) {
		while (submitted < N) {
			const int rc = lfq_pool_submit(
				pool, &(struct lfq_job){.fn = job_fn, .arg = (void *)submitted});

			if (rc == -EAGAIN)
				break;
			cr_assert_eq(rc, 0);
			submitted++;
		}
		struct epoll_event out;
		const int n = epoll_wait(ep, &out, 1, 30000);

		cr_assert_eq(n, 1, "no completion within 30 s (got %zu of %d)", got, N);
		wakeups++;
		struct lfq_pool_completion c[8];
		int k;

		while ((k = lfq_pool_completions_drain(pool, c, 8)) > 0) {
			for (int i = 0; i < k; i++) {
				const uintptr_t id = (uintptr_t)c[i].arg;

				cr_assert_lt(id, N);
				cr_assert_eq(c[i].fn, job_fn);
				seen[id]++;
				if (id % 5 == 4) {
					cr_assert_eq(c[i].reason, LFQ_DEAD_FAILED);
					cr_assert_eq(c[i].result, LFQ_JOB_FAIL);
				} else {
					cr_assert_eq(c[i].reason, 0);
					cr_assert_eq(c[i].result, 0);
				}
				cr_assert_eq(c[i].attempts, 1);
				cr_assert_eq(c[i].id, 0);
			}
			got += (size_t)k;
		}
		cr_assert_eq(k, 0);
	}
	for (size_t i = 0; i < N; i++)
		cr_assert_eq(seen[i], 1, "job %zu reported %u times", i, seen[i]);
	/* Everything drained, and a drain that found nothing resets the fd. */
	cr_assert_eq(lfq_pool_completions_drain(pool, NULL, 0), 0);
	struct lfq_pool_completion c;

	cr_assert_eq(lfq_pool_completions_drain(pool, &c, 1), 0);
	cr_assert_not(readable(fd));
	fprintf(stderr, "%d completions in %zu wake-ups\n", N, wakeups);
	close(ep);
	lfq_pool_destroy(pool);
}

Test(pool_completion, one_eventfd_write_while_it_stays_signalled)
{
	/* Before the `signalled` flag, every finished job wrote the eventfd: its counter (what
	 * a read returns) was the number of jobs. */
	struct lfq_pool *pool = make(2, 256, 0);
	const int fd = lfq_pool_completions_fd(pool);

	for (uintptr_t k = 0; k < 200; k++)
		cr_assert_eq(
			lfq_pool_submit(pool, &(struct lfq_job){.fn = job_fn, .arg = (void *)k}),
			0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0); /* every record posted, none drained */
	uint64_t v = 0;

	cr_assert_eq(read(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	cr_assert_eq(v, 1, "the eventfd was written %llu times for 200 jobs",
		     (unsigned long long)v);
	struct lfq_pool_completion c[256];

	cr_assert_eq(lfq_pool_completions_drain(pool, c, 256), 200);
	cr_assert_not(readable(fd));
	lfq_pool_destroy(pool);
}

static int quick(void *arg)
{
	(void)arg;
	return 0;
}

static struct lfq_pool *credit_pool;
static _Atomic int waiter_rc = 1;

static void *blocked_submit(void *arg)
{
	(void)arg;
	atomic_store(&waiter_rc,
		     lfq_pool_submit_wait(credit_pool, &(struct lfq_job){.fn = quick}, -1));
	return NULL;
}

Test(pool_completion, undrained_results_hold_credits)
{
	/* Capacity: queue 4 + 1 worker = 5 jobs in flight or undrained. */
	struct lfq_pool *pool = make(1, 4, 0);
	struct lfq_pool_completion c[8];

	for (int i = 0; i < 5; i++) /* _wait: the queue of 4 may be full for a moment */
		cr_assert_eq(lfq_pool_submit_wait(pool, &(struct lfq_job){.fn = quick}, -1), 0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	/* The queue is empty, but five results wait: no credit left. */
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = quick}), -EAGAIN);
	cr_assert_eq(lfq_pool_submit_wait(pool, &(struct lfq_job){.fn = quick}, 0), -EAGAIN);
	credit_pool = pool;
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, blocked_submit, NULL), 0);
	sleep_ms(50); /* let it sleep (if it has not yet, it finds the credit at once) */
	cr_assert_eq(atomic_load(&waiter_rc), 1, "submit_wait returned without a credit");
	cr_assert_eq(lfq_pool_completions_drain(pool, c, 2), 2);
	pthread_join(th, NULL); /* the drain's credits woke it */
	cr_assert_eq(atomic_load(&waiter_rc), 0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = quick}), 0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(lfq_pool_completions_drain(pool, c, 8), 5);
	lfq_pool_destroy(pool);
}

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

Test(pool_completion, cancelled_and_ided_jobs_and_errors)
{
	struct lfq_pool *pool = NULL;
	struct lfq_pool_config plain = {.workers = 1, .flags = LFQ_POOL_NO_PIN};

	cr_assert_eq(lfq_pool_create(&pool, &plain), 0);
	cr_assert_eq(lfq_pool_completions_fd(pool), -EOPNOTSUPP);
	cr_assert_eq(lfq_pool_completions_drain(pool, NULL, 0), -EOPNOTSUPP);
	lfq_pool_destroy(pool);
	cr_assert_eq(lfq_pool_completions_fd(NULL), -EINVAL);
	cr_assert_eq(lfq_pool_completions_drain(NULL, NULL, 0), -EINVAL);

	pool = make(1, 8, 0);
	struct lfq_pool_completion c[4];
	uint64_t gid = 0, id = 0;

	cr_assert_eq(lfq_pool_completions_drain(pool, NULL, 1), -EINVAL);
	cr_assert_eq(lfq_pool_submit_id(pool, &(struct lfq_job){.fn = gate}, &gid), 0);
	while (atomic_load(&gate_entered) == 0)
		sleep_ms(1);
	cr_assert_eq(
		lfq_pool_submit_id(pool, &(struct lfq_job){.fn = quick, .arg = (void *)7}, &id), 0);
	cr_assert_eq(lfq_pool_cancel(pool, id), 0);
	/* The cancel's record is there before the gate opens. */
	cr_assert(readable(lfq_pool_completions_fd(pool)));
	cr_assert_eq(lfq_pool_completions_drain(pool, c, 4), 1);
	cr_assert_eq(c[0].id, id);
	cr_assert_eq(c[0].arg, (void *)7);
	cr_assert_eq(c[0].reason, LFQ_DEAD_CANCELLED);
	cr_assert_eq(c[0].attempts, 0);
	atomic_store(&gate_open, true);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(lfq_pool_completions_drain(pool, c, 4), 1);
	cr_assert_eq(c[0].id, gid);
	cr_assert_eq(c[0].fn, gate);
	cr_assert_eq(c[0].reason, 0);
	cr_assert_eq(c[0].attempts, 1);
	lfq_pool_destroy(pool);
}
