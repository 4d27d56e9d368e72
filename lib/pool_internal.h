/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool layout. Private: the public header exposes an opaque struct and no atomics.
 *
 * The queue is SCQ's two index rings over a slab of job slots, exactly as in lfq_ring but
 * with `struct lfq_job` copies (one cache line each) instead of pointers:
 *
 *     submit:  i = fq.dequeue() (none: full);  slots[i] = *job;  aq.enqueue(i)
 *     worker:  i = aq.dequeue() (none: empty); job = slots[i];   fq.enqueue(i); run job
 *
 * Counters are never shared per job: each worker writes its own line (started, completed,
 * failed), and submits are counted in per-thread shards (a thread keeps its shard for life;
 * threads share one only when there are more than LFQ_POOL_SHARDS of them).
 */
#ifndef LFQ_POOL_INTERNAL_H
#define LFQ_POOL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lfq/pool.h>

#include "scq.h"
#include "waitq.h"

/* Submit-counter shards: enough that a handful of producer threads never share one. */
#define LFQ_POOL_SHARDS 32

struct lfq__pool_shard {
	/* Accepted submits of the threads mapped here (in-flight ones included, see S1). */
	LFQ_CACHE_ALIGNED _Atomic uint64_t submitted;
};

struct lfq__pool_worker {
	/* Written by this worker only; read by stats and wait_idle. One line per worker. */
	LFQ_CACHE_ALIGNED _Atomic uint64_t started;
	_Atomic uint64_t completed;
	_Atomic uint64_t failed;
	/* Set before the thread starts, read-only afterwards. */
	LFQ_CACHE_ALIGNED struct lfq_pool *pool;
	pthread_t thread;
	unsigned index;
	int cpu; /* -1: unpinned */
	/* Written by the worker before it exits, read by the joiner after pthread_join: a job
	 * it dequeued after the drain timeout and hands back instead of running. */
	bool stashed;
	struct lfq_job stash;
};

struct lfq_pool {
	/* Indices of slots holding queued jobs, in FIFO order; its tail carries the closed bit
	 * (set by shutdown: from then on every submit fails). */
	struct lfq__scq aq;
	/* Indices of free slots; exactly `capacity` of them at creation. */
	struct lfq__scq fq;

	/* Read-only after create. */
	LFQ_CACHE_ALIGNED struct lfq_job *slots; /* slot i belongs to whoever holds index i */
	size_t capacity;
	size_t wake_free; /* free slots before sleeping submitters are woken */
	unsigned nworkers;
	unsigned idle_spin;
	void (*on_error)(const struct lfq_job *job, int result, void *ctx);
	void (*on_cancelled)(const struct lfq_job *job, void *ctx);
	void *ctx;
	char name[12];
	struct lfq__pool_worker *workers;
	void *entries; /* both rings' entry arrays, one allocation */

	/* Sleeping workers (woken by submits), submit_wait callers (woken by workers freeing
	 * slots), wait_idle callers (woken by workers that find the queue empty) and shutdown
	 * (woken by exiting workers), each on a line of its own: the fast paths only read them. */
	LFQ_CACHE_ALIGNED struct lfq__waitq not_empty;
	LFQ_CACHE_ALIGNED struct lfq__waitq not_full;
	LFQ_CACHE_ALIGNED struct lfq__waitq idle;
	LFQ_CACHE_ALIGNED struct lfq__waitq exited;
	_Atomic unsigned live;	       /* workers that have not exited */
	_Atomic bool cancel;	       /* the drain timeout passed: hand back, do not run */
	_Atomic uint64_t cancelled;    /* written under shutdown_lock only */
	pthread_mutex_t shutdown_lock; /* serializes shutdowns; guards joined */
	bool joined;		       /* workers joined, everything accounted for */

	struct lfq__pool_shard shards[LFQ_POOL_SHARDS];
};

#endif /* LFQ_POOL_INTERNAL_H */
