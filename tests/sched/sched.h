/* SPDX-License-Identifier: MIT */
/*
 * A deterministic scheduler for the interleaving checker (tests only).
 *
 * It runs N (<= SCHED_MAX_THREADS) real threads, but only one at a time: every scheduling
 * point of the library (LFQ_SCHED_POINT, just before each shared atomic access of the ring)
 * calls into the scheduler, which either lets the caller go on or hands the baton to another
 * thread and blocks the caller until it is picked again. A schedule is therefore the sequence
 * of choices made at the points, and the same choices replay the same execution.
 *
 * Exploration:
 *   SCHED_DFS  every schedule with at most `bound` preemptions (a switch away from a thread
 *              that could have gone on; switching when a thread finishes is free), depth
 *              first, by replaying a prefix and changing its last choice (CHESS-style
 *              iterative context bounding, without partial-order reduction);
 *   SCHED_PCT  seeded random schedules with priorities and bound-1 priority change points
 *              (Burckhardt et al., "probabilistic concurrency testing");
 *   SCHED_STALL for every set of one or two places (file:line of a scheduling point): threads
 *              run without preemption, but every thread arriving at one of those places is
 *              held there, and any other thread (held or not) goes on; every choice of who
 *              goes on when a thread is held or finishes is explored (depth first, `limit`
 * schedules per set). It reaches bugs that need several threads stopped at the same place while
 * another one goes on -- the shape of SCQ's threshold wedge, 6 preemptions deep -- with few choices
 * per schedule.
 */
#ifndef LFQ_TESTS_SCHED_H
#define LFQ_TESTS_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_MAX_THREADS 4

enum sched_strategy { SCHED_DFS, SCHED_PCT, SCHED_STALL };

struct sched_test {
	int nthreads;
	/* Optional: same[i] is the first thread whose body is the same as thread i's (symmetry
	 * reduction: unstarted threads with the same body are interchangeable). */
	const int *same;
	void *ctx;
	/* Before each schedule, on the calling (unscheduled) thread: a fresh object to check. */
	void (*setup)(void *ctx);
	/* The body of thread tid (0 .. nthreads-1), run under the scheduler. */
	void (*thread)(void *ctx, int tid);
	/* After each schedule, unscheduled. Returns false and fills msg on a violation. */
	bool (*check)(void *ctx, char *msg, size_t len);
};

struct sched_opts {
	enum sched_strategy strategy;
	int bound; /* DFS: preemptions; PCT: depth d (d - 1 change points) */
	/* limit: STALL: per barrier set */
	unsigned long limit;	 /* stop after this many schedules (0: DFS until exhausted) */
	unsigned long max_steps; /* per schedule: more means a livelock (0: 100000) */
	uint64_t seed;		 /* PCT */
	/* DFS and STALL: loads per schedule that may read an older store than the latest one
	 * (the weak-memory model's choices, sched_choose); 0: none. */
	int stale;
};

struct sched_result {
	unsigned long schedules; /* schedules run, including a failing one */
	unsigned long steps;	 /* scheduling points passed, over all schedules */
	bool exhausted;		 /* DFS explored every schedule within the bound */
	bool failed;
	char msg[1024]; /* the violation, then the failing schedule */
};

/*
 * Explores schedules of t until one fails its check, the limit is reached, or (DFS) every
 * schedule within the bound has run. Returns 0, or -1 when the scheduler itself could not
 * run (thread creation). A schedule that exceeds max_steps fails ("livelock"); its threads
 * stay blocked forever and the scheduler cannot be used again in this process.
 */
int sched_explore(const struct sched_test *t, const struct sched_opts *o, struct sched_result *r);

/* The scheduled thread calling (0 .. nthreads-1), or -1 for any other thread. */
int sched_self(void);

/*
 * A choice among n alternatives (n <= 8) made by the running thread, explored like the choice
 * of the next thread: 0 first, then (DFS, STALL) each other one, as long as the schedule has
 * made at most sched_opts.stale nonzero choices. PCT and unscheduled threads always get 0.
 */
int sched_choose(int n);

/*
 * A futex for the weak-memory checker. sched_futex_wait: the running thread sleeps on addr
 * (its caller has compared the word) and is not runnable until sched_futex_wake(addr) wakes it;
 * returns true then. If no thread is left runnable while some sleep, the schedule has lost a
 * wake-up: it fails, and the sleepers return false (as after a timeout) so that it can end.
 */
bool sched_futex_wait(const void *addr);
/* Wakes up to n threads sleeping on addr; returns how many. */
int sched_futex_wake(const void *addr, int n);

/* Reads a positive integer from the environment, or returns def. */
unsigned long sched_env(const char *name, unsigned long def);

#endif /* LFQ_TESTS_SCHED_H */
