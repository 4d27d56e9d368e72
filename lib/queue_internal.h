/* SPDX-License-Identifier: MIT */
/* lfq_queue layout, and a statistics hook for tests and benchmarks. Private. */
#ifndef LFQ_QUEUE_INTERNAL_H
#define LFQ_QUEUE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "rcu.h"
#include "waitq.h"

struct lfq_ring;
struct lfq_queue;

struct lfq__segment {
	struct lfq_ring *ring;		     /* finalized (closed bit) once full */
	_Atomic(struct lfq__segment *) next; /* NULL, the next segment, or SEALED */
	struct rcu_head rcu;		     /* for call_rcu when retired */
	struct lfq_queue *queue;	     /* whose cache takes it back */
	uint64_t id; /* position in the list (first: 0); set before it is linked (Q2) */
};

struct lfq_queue {
	/* Consumers' end. */
	LFQ_CACHE_ALIGNED _Atomic(struct lfq__segment *) head;
	/* Producers' end. */
	LFQ_CACHE_ALIGNED _Atomic(struct lfq__segment *) tail;
	/* Read-mostly. */
	LFQ_CACHE_ALIGNED size_t segment_capacity;
	struct lfq_ring *cache; /* reset segments ready for reuse */
	_Atomic bool closed;
	_Atomic size_t max_segments; /* 0: unlimited */
	/* Written once per segment, not per item. */
	LFQ_CACHE_ALIGNED _Atomic size_t retired; /* handed to call_rcu */
	_Atomic size_t reclaimed;		  /* whose callback ran */
	LFQ_CACHE_ALIGNED struct lfq__waitq not_empty;
	LFQ_CACHE_ALIGNED struct lfq__waitq not_full;
	LFQ_CACHE_ALIGNED char pad_end;
};

struct lfq__queue_stats {
	size_t segments;  /* linked (head to tail, from their ids) */
	size_t retired;	  /* unlinked and handed to call_rcu, in total */
	size_t reclaimed; /* of those, whose grace period ended (cached or freed) */
	size_t cached;	  /* in the reuse cache now */
};

/* A snapshot of the segment counters (relaxed loads). retired - reclaimed is the call_rcu
 * backlog: segments waiting for a grace period. */
void lfq__queue_stats(const struct lfq_queue *queue, struct lfq__queue_stats *out);

#endif /* LFQ_QUEUE_INTERNAL_H */
