/* SPDX-License-Identifier: MIT */
/*
 * How the Criterion tests drive the checker: a depth-first search of every schedule within
 * LFQ_CHECK_BOUND preemptions (default 2; 1 in sanitizer builds, where each hand-off costs
 * far more), then LFQ_CHECK_PCT seeded PCT schedules (default 300; 100 in sanitizer builds)
 * of depth LFQ_CHECK_DEPTH (default 3) from seed LFQ_CHECK_SEED (default 1), then the stall
 * search (sched.h, SCHED_STALL) with LFQ_CHECK_STALL schedules per pair of places (default
 * 50; 10 in sanitizer builds).
 */
#ifndef LFQ_TESTS_CHECK_RUN_H
#define LFQ_TESTS_CHECK_RUN_H

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ring_check.h"

#ifdef LFQ_CHECK_REDUCED
#define CHECK_DEFAULT_BOUND 1
#define CHECK_DEFAULT_PCT 100
#define CHECK_DEFAULT_STALL 10
#else
#define CHECK_DEFAULT_STALL 50
#define CHECK_DEFAULT_BOUND 2
#define CHECK_DEFAULT_PCT 300
#endif

/* The stall search alone, `limit` schedules per set of places unless LFQ_CHECK_STALL says. */
static inline void check_stall(const struct ring_scenario *s, bool strict, unsigned long limit,
			       struct sched_result *r)
{
	struct sched_opts stall = {.strategy = SCHED_STALL,
				   .limit = sched_env("LFQ_CHECK_STALL", limit)};

	cr_assert_eq(ring_check(s, &stall, strict, r), 0, "the scheduler could not start");
	fprintf(stderr, "%s: stall search, %lu per pair of places: %lu schedules%s%s\n", s->name,
		stall.limit, r->schedules, r->exhausted ? ", every pair" : "",
		r->failed ? ", FOUND a violation" : "");
}

/* Runs the DFS, then (if it found nothing) PCT, then the stall search. The result of the
 * first failing search, or of the last. */
static inline void check_explore(const struct ring_scenario *s, bool strict, struct sched_result *r)
{
	struct sched_opts dfs = {.strategy = SCHED_DFS,
				 .bound = (int)sched_env("LFQ_CHECK_BOUND", CHECK_DEFAULT_BOUND)};
	struct sched_opts pct = {.strategy = SCHED_PCT,
				 .bound = (int)sched_env("LFQ_CHECK_DEPTH", 3),
				 .limit = sched_env("LFQ_CHECK_PCT", CHECK_DEFAULT_PCT),
				 .seed = sched_env("LFQ_CHECK_SEED", 1)};

	cr_assert_eq(ring_check(s, &dfs, strict, r), 0, "the scheduler could not start");
	fprintf(stderr, "%s: DFS bound %d: %lu schedules, %lu points%s%s\n", s->name, dfs.bound,
		r->schedules, r->steps, r->exhausted ? ", exhausted" : "",
		r->failed ? ", FOUND a violation" : "");
	if (r->failed)
		return;
	cr_assert(r->exhausted, "the depth-first search stopped early");
	cr_assert_eq(ring_check(s, &pct, strict, r), 0, "the scheduler could not start");
	fprintf(stderr, "%s: PCT depth %d seed %lu: %lu schedules%s\n", s->name, pct.bound,
		(unsigned long)pct.seed, r->schedules, r->failed ? ", FOUND a violation" : "");
	if (r->failed)
		return;
	check_stall(s, strict, CHECK_DEFAULT_STALL, r);
}

/* Every schedule of s passes every check. */
static inline void check_passes(const struct ring_scenario *s)
{
	struct sched_result r;

	check_explore(s, false, &r);
	cr_assert(!r.failed, "%s: %s", s->name, r.msg);
}

/* Some schedule of s fails, and the first failure is reported by the check named `check`
 * (the start of the message: "linearizability", "size", "quiescent wedge", "livelock"). */
static inline void check_finds(const struct ring_scenario *s, bool strict, const char *check)
{
	struct sched_result r;

	check_explore(s, strict, &r);
	cr_assert(r.failed, "%s: no schedule failed", s->name);
	fprintf(stderr, "%s: found after %lu schedules: %s\n", s->name, r.schedules, r.msg);
	cr_assert(strncmp(r.msg, check, strlen(check)) == 0, "%s: expected a %s failure, got: %s",
		  s->name, check, r.msg);
}

#endif /* LFQ_TESTS_CHECK_RUN_H */
