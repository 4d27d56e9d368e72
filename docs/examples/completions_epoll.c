/* SPDX-License-Identifier: MIT */
/*
 * completions_epoll: an epoll event loop that hands work to an lfq_pool and takes the results
 * back on its own thread, through the pool's completion channel (LFQ_POOL_COMPLETIONS).
 *
 * The loop waits on two file descriptors: a timerfd that ticks every -t ms, on which it
 * submits a batch of -b jobs (each sums the squares of its own range of numbers and fails
 * when asked to sum an empty range), and the pool's completions fd, readable when jobs have
 * finished, on which it drains the records and prints the results. State is touched only by
 * the loop's thread: a job writes its answer into its own struct, and the loop reads it after
 * the record said it finished. It stops after -n jobs and checks that each was reported
 * exactly once with the right answer:
 *
 *     level=info msg="job done" job=17 sum=42925 attempts=1
 *     level=warn msg="job dead" job=20 reason=failed
 *     level=info msg="finished" jobs=200 succeeded=190 dead=10 wakeups=37
 *
 * Build: part of the meson build (tests/meson.build), or
 *     cc -std=c11 -D_GNU_SOURCE completions_epoll.c $(pkg-config --cflags --libs lfq)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <lfq/error.h>
#include <lfq/pool.h>

struct task {
	long id;
	uint64_t from, to; /* sum i*i for i in [from, to) */
	uint64_t sum;	   /* the job's answer */
	int reported;	   /* the loop's count of records for it */
};

static int sum_squares(void *arg)
{
	struct task *t = arg;

	if (t->from >= t->to)
		return LFQ_JOB_FAIL; /* nothing to sum: a permanent failure */
	uint64_t s = 0;

	for (uint64_t i = t->from; i < t->to; i++)
		s += i * i;
	t->sum = s;
	return 0;
}

static uint64_t expected(const struct task *t)
{
	uint64_t s = 0;

	for (uint64_t i = t->from; i < t->to; i++)
		s += i * i;
	return s;
}

static long number(const char *s)
{
	char *end;
	const long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1) {
		fprintf(stderr, "usage: completions_epoll [-n jobs] [-b batch] [-t tick_ms]\n");
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long njobs = 200, batch = 10, tick_ms = 5;
	int opt;

	while ((opt = getopt(argc, argv, "n:b:t:")) != -1) {
		if (opt == 'n')
			njobs = number(optarg);
		else if (opt == 'b')
			batch = number(optarg);
		else if (opt == 't')
			tick_ms = number(optarg);
		else
			number("");
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct task *tasks = calloc((size_t)njobs, sizeof(*tasks));
	const struct lfq_pool_config cfg = {
		.workers = 2, .queue_capacity = 16, .flags = LFQ_POOL_COMPLETIONS};
	struct lfq_pool *pool;
	int rc = lfq_pool_create(&pool, &cfg);

	if (!tasks || rc != 0) {
		fprintf(stderr, "completions_epoll: %s\n", lfq_strerror(tasks ? rc : -ENOMEM));
		return 1;
	}
	const int ep = epoll_create1(EPOLL_CLOEXEC);
	const int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	const struct itimerspec every = {.it_interval = {0, tick_ms * 1000000},
					 .it_value = {0, tick_ms * 1000000}};
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = tfd};

	if (ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &every, NULL) != 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) != 0) {
		perror("completions_epoll");
		return 1;
	}
	ev.data.fd = lfq_pool_completions_fd(pool);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev) != 0) {
		perror("completions_epoll: the completions fd");
		return 1;
	}
	long next = 0, done = 0, succeeded = 0, dead = 0, wakeups = 0, bad = 0;

	while (done < njobs) {
		struct epoll_event events[2];
		const int n = epoll_wait(ep, events, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("epoll_wait");
			return 1;
		}
		for (int e = 0; e < n; e++) {
			if (events[e].data.fd == tfd) {
				uint64_t ticks;

				if (read(tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
					perror("timerfd");
				/* A batch per tick; a full pool just waits for the next tick. */
				for (long b = 0; b < batch && next < njobs; b++) {
					struct task *t = &tasks[next];

					t->id = next;
					t->to = (uint64_t)next + 5;
					/* Every 20th range is empty: that job fails. */
					t->from = next % 20 == 19 ? t->to : (uint64_t)next;
					if (lfq_pool_submit(pool,
							    &(struct lfq_job){.fn = sum_squares,
									      .arg = t}) != 0)
						break;
					next++;
				}
				continue;
			}
			/* The completions fd: drain until short. */
			wakeups++;
			struct lfq_pool_completion c[16];
			int k;

			do {
				k = lfq_pool_completions_drain(pool, c, 16);
				for (int i = 0; i < k; i++) {
					struct task *t = c[i].arg;

					t->reported++;
					done++;
					if (c[i].reason == 0) {
						succeeded++;
						if (t->sum != expected(t))
							bad++;
						printf("level=info msg=\"job done\" job=%ld "
						       "sum=%llu "
						       "attempts=%u\n",
						       t->id, (unsigned long long)t->sum,
						       c[i].attempts);
					} else {
						dead++;
						if (t->from < t->to)
							bad++;
						printf("level=warn msg=\"job dead\" job=%ld "
						       "reason=%s\n",
						       t->id, lfq_dead_reason_name(c[i].reason));
					}
				}
			} while (k == 16);
		}
	}
	for (long i = 0; i < njobs; i++)
		if (tasks[i].reported != 1)
			bad++;
	printf("level=%s msg=\"finished\" jobs=%ld succeeded=%ld dead=%ld wakeups=%ld bad=%ld\n",
	       bad ? "error" : "info", done, succeeded, dead, wakeups, bad);
	rc = lfq_pool_shutdown(pool, -1);
	lfq_pool_destroy(pool);
	close(tfd);
	close(ep);
	free(tasks);
	return bad == 0 && rc == 0 ? 0 : 1;
}
