/* SPDX-License-Identifier: MIT */
/* lfq_queue layout, and a statistics hook for tests and benchmarks. Private. */
#ifndef LFQ_QUEUE_INTERNAL_H
#define LFQ_QUEUE_INTERNAL_H

#include <pthread.h>
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
	struct lfq__segment *retired_next;   /* the reclaimer's list, once retired (R1) */
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
	LFQ_CACHE_ALIGNED _Atomic size_t retired; /* handed to the reclaimer */
	_Atomic size_t reclaimed;		  /* whose grace period ended */
	/* Retired segments waiting for a grace period (a stack through retired_next), and the
	 * queue's reclaimer thread, started by create, that waits for them (queue.c,
	 * "Reclamation"). */
	LFQ_CACHE_ALIGNED _Atomic(struct lfq__segment *) retired_list;
	_Atomic bool stopping; /* destroy: the reclaimer empties the list and exits */
	pthread_t reclaimer;
	LFQ_CACHE_ALIGNED struct lfq__waitq reclaim_wq;
	LFQ_CACHE_ALIGNED struct lfq__waitq not_empty;
	LFQ_CACHE_ALIGNED struct lfq__waitq not_full;
	LFQ_CACHE_ALIGNED char pad_end;
};

struct lfq__queue_stats {
	size_t segments;  /* linked (head to tail, from their ids) */
	size_t retired;	  /* unlinked and handed to the reclaimer, in total */
	size_t reclaimed; /* of those, whose grace period ended (cached or freed) */
	size_t cached;	  /* in the reuse cache now */
};

/* A snapshot of the segment counters (relaxed loads). retired - reclaimed is the
 * reclaimer's backlog: segments waiting for a grace period. */
void lfq__queue_stats(const struct lfq_queue *queue, struct lfq__queue_stats *out);
/* Waits until every segment retired before the call has been reclaimed (tests: what
 * rcu_barrier did for call_rcu). Polls; not for the fast paths. */
void lfq__queue_quiesce(struct lfq_queue *queue);

#endif /* LFQ_QUEUE_INTERNAL_H */
