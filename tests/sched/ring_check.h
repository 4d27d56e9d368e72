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
 * n, 'c' close (and, in any mode, 'B'n push_bulk, 'b'n pop_bulk, 's' size). Pushed values are
 * unique per schedule.
 *
 * The same history checker drives lfq_queue (queue_check.h) through struct check_ops.
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

/*
 * The same under the weak-memory model (weak.h; the ring must be the lfq_weak build): loads
 * read what C11 allows (o->stale older stores per schedule at most), calls are ordered by
 * happens-before instead of time, and every popped item's payload, written by its producer
 * before the push, must be read without a data race. Scripts may also use 'B'n push_bulk,
 * 'b'n pop_bulk and 's' size (checked against what its own thread did before it), and
 * 'w' push_wait and 'p' pop_wait without a timeout (a wait that sleeps with nobody left to
 * wake it fails the schedule: "lost wake-up").
 */
int ring_check_weak(const struct ring_scenario *s, const struct sched_opts *o,
		    struct sched_result *r);

/*
 * What a scenario's calls run on: lfq_ring (ring_check.c) or lfq_queue (queue_check.c). Each
 * call gets the object create returned; a member may be NULL for a call the container does
 * not have (no script uses it then). Scripts may also use 'i' is_closed and 'L'n set_limit(n).
 */
struct check_ops {
	/* A fresh, empty object for s, with a segment limit (lfq_queue; 0: none); NULL: failed. */
	void *(*create)(const struct ring_scenario *s, size_t limit);
	void (*destroy)(void *obj);
	int (*push)(void *obj, void *item);
	int (*pop)(void *obj, void **item);
	int (*push_wait)(void *obj, void *item); /* without a timeout */
	int (*pop_wait)(void *obj, void **item);
	size_t (*push_burst)(void *obj, void *const *items, size_t n);
	size_t (*pop_burst)(void *obj, void **items, size_t n);
	size_t (*push_bulk)(void *obj, void *const *items, size_t n);
	size_t (*pop_bulk)(void *obj, void **items, size_t n);
	void (*close)(void *obj);
	bool (*is_closed)(void *obj);
	size_t (*size)(void *obj);
	int (*set_limit)(void *obj, size_t max);
	/*
	 * lfq_queue: no capacity of its own. A push fails with -EAGAIN only while a segment
	 * limit is set (and the queue is open); a limit of L segments of s->capacity bounds
	 * the items to L x capacity, until a script changes it ('L'). The quiescent refill
	 * pushes capacity + 1 items (into a second segment).
	 */
	bool unbounded;
};

/* ring_check / ring_check_weak on any container: limit as for create. */
int check_scenario(const struct ring_scenario *s, size_t limit, const struct check_ops *ops,
		   const struct sched_opts *o, bool strict, bool weak, struct sched_result *r);

#endif /* LFQ_TESTS_RING_CHECK_H */
