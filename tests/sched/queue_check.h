/* SPDX-License-Identifier: MIT */
/*
 * lfq_queue scenarios for the weak-memory checker (tests only; the queue must be the lfq_weak
 * build): the history checker of ring_check.c drives an lfq_queue of tiny segments instead
 * of a ring, with the same checks (linearizability against a FIFO that is unbounded but for
 * a segment limit, payloads read without a data race, lost wake-ups of the _wait calls, size
 * and draining once quiet). Scripts: ring_check.h's 'u', 'o', 'U'n, 'O'n, 'c', 's', 'w', 'p',
 * and 'i' is_closed, 'L'n set_limit(n).
 */
#ifndef LFQ_TESTS_QUEUE_CHECK_H
#define LFQ_TESTS_QUEUE_CHECK_H

#include "ring_check.h"

struct queue_scenario {
	struct ring_scenario s; /* capacity: each segment's; flags: 0 */
	size_t limit;		/* segments, set before the prefill (0: none) */
	int stale;		/* the older reads per schedule its search needs (the caller's) */
};

/* As ring_check_weak. */
int queue_check_weak(const struct queue_scenario *s, const struct sched_opts *o,
		     struct sched_result *r);

#endif /* LFQ_TESTS_QUEUE_CHECK_H */
