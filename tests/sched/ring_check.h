/* SPDX-License-Identifier: MIT */
/*
 * The interleaving checker for lfq_ring (tests only): scenarios of 1-4 threads, each running
 * a short script of ring calls on a tiny ring under the deterministic scheduler (sched.h).
 * Every schedule's history is checked against a sequential FIFO specification of capacity C
 * with close (linearizability, by search over the orders that respect real time), then the
 * quiescent ring is checked: size() must equal the specification's count, and draining it,
 * refilling it to capacity and draining it again must give exactly what the specification
 * gives (a wedge -- a non-full ring refusing a push, a non-empty one refusing a pop -- fails
 * here).
 *
 * Scripts are strings of calls: 'u' push, 'o' pop, 'U'n push_burst of n, 'O'n pop_burst of
 * n, 'c' close. Pushed values are unique per schedule.
 */
#ifndef LFQ_TESTS_RING_CHECK_H
#define LFQ_TESTS_RING_CHECK_H

#include "sched.h"

struct ring_scenario {
	const char *name;
	size_t capacity;
	int prefill;			       /* items pushed before the threads start */
	const char *script[SCHED_MAX_THREADS]; /* NULL ends the list of threads */
	unsigned flags;			       /* lfq_ring_create's: LFQ_RING_SP, LFQ_RING_SC */
};

/*
 * Explores s under o; fills r. strict: check plain linearizability (a push or pop is one
 * atomic step), which lfq_ring does not promise for full/empty reports while calls are in
 * progress (see ring_check.c); otherwise the two-step contract. Returns sched_explore's value.
 */
int ring_check(const struct ring_scenario *s, const struct sched_opts *o, bool strict,
	       struct sched_result *r);

#endif /* LFQ_TESTS_RING_CHECK_H */
