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
 * With priorities there is one item ring (aq) per level over the same slab and the same
 * free ring (fq): queue_capacity is shared by all levels.
 *
 * Counters are never shared per job: each worker writes its own lines (taken, started,
 * completed, failed, ...), and submits are counted in per-thread shards (a thread keeps its
 * shard for life; threads share one only when there are more than LFQ_POOL_SHARDS of them),
 * one line per shard holding a counter per priority level.
 *
 * A job that asks for a retry goes into the pool's timer heap (a binary min-heap on the
 * due time, shared by the workers under a lock): it holds no slot, and workers check the heap's
 * top between jobs and sleeps no longer than until it is due.
 */
#ifndef LFQ_POOL_INTERNAL_H
#define LFQ_POOL_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lfq/pool.h>

#include "histogram.h"
#include "pool_slots.h"
#include "waitq.h"

/* Submit-counter shards: enough that a handful of producer threads never share one. */
#define LFQ_POOL_SHARDS 32

struct lfq__pool_shard {
	/* Submits of the threads mapped here that took a slot, per priority: counted before the
	 * job can run (S1) and taken back if the shutdown refused it (S2). For idle detection and
	 * the queued gauges. */
	LFQ_CACHE_ALIGNED _Atomic uint64_t submitted[LFQ_POOL_PRIORITIES_MAX];
	/* Submits that returned 0, per priority: counted after the publish (S3), never taken
	 * back. The public `submitted` counter, which must never go down. */
	_Atomic uint64_t accepted[LFQ_POOL_PRIORITIES_MAX];
};

/* The pool's copy of a job: the public fields where struct lfq_job has them, the pool's own
 * bookkeeping in what it reserves. One cache line. */
struct lfq__task {
	int (*fn)(void *arg);
	void *arg;
	int64_t deadline_ns;
	uint16_t max_attempts;
	uint8_t priority;
	uint8_t flags;	     /* LFQ__TASK_* */
	uint32_t attempts;   /* runs started so far */
	int64_t ready_ns;    /* when it became runnable (submit, or its retry's due time) */
	int32_t last_result; /* the last run's result (0: never ran) */
	uint32_t unused32;
	uint64_t id; /* lfq_pool_submit_id's id (with LFQ__TASK_HAS_ID), else 0 */
	uint64_t unused;
};

/* lfq__task.flags: submitted with an id; its slot's state word is in use (pool_cancel.c). */
#define LFQ__TASK_HAS_ID 0x1u

/* A delayed retry. */
struct lfq__timer {
	int64_t due; /* on the pool's clock */
	struct lfq__task task;
};

/* The pool's delayed retries: one binary min-heap on the due time, shared by the workers
 * (so that a due retry runs on whichever worker is free first, never behind the job that the
 * worker which delayed it runs now), under a lock that workers alone take, briefly (a push
 * or a pop; never a submit). pool_timer.c. */
struct lfq__timers {
	pthread_mutex_t lock; /* guards heap, n, cap */
	struct lfq__timer *heap;
	size_t n, cap;
	/* heap[0].due, INT64_MAX when empty: written under the lock, read without it (T2). */
	_Atomic int64_t next_due;
	_Atomic uint64_t delayed; /* n, a gauge for stats (T1) */
};

struct lfq__pool_worker {
	/* Written by this worker only; read by stats and wait_idle. */
	LFQ_CACHE_ALIGNED _Atomic uint64_t started;
	_Atomic uint64_t completed;
	_Atomic uint64_t failed;
	_Atomic uint64_t exhausted;
	_Atomic uint64_t expired;
	_Atomic uint64_t expired_after_run; /* of expired: runs that ended in it (for running) */
	_Atomic uint64_t retried;
	LFQ_CACHE_ALIGNED _Atomic uint64_t taken[LFQ_POOL_PRIORITIES_MAX]; /* from the rings */
	/* Worker-private state (the joiner reads it after pthread_join). */
	LFQ_CACHE_ALIGNED uint64_t rng; /* splitmix64 state for the jitter */
	unsigned since_guard;		/* jobs taken by priority since the last guard take */
	unsigned guard_level;		/* where the next guard scan starts */
	bool has_redo; /* a retry that could not be delayed (no memory): run it next */
	/* The task whose fn runs now, or NULL (the job context, pool_context.c). */
	const struct lfq__task *current;
	struct lfq__task redo;
	/* Latency histograms (queue wait, run), NULL without LFQ_POOL_METRICS. */
	struct lfq__hist *hist;
	/* Set before the thread starts, read-only afterwards. */
	LFQ_CACHE_ALIGNED struct lfq_pool *pool;
	pthread_t thread;
	unsigned index;
	int cpu; /* -1: unpinned */
	/* Written by the worker before it exits, read by the joiner after pthread_join: a job
	 * it dequeued after the drain timeout and hands back instead of running. */
	bool stashed;
	struct lfq__task stash;
};

struct lfq_pool {
	/* Indices of free slots and, per level, of slots holding queued jobs, in FIFO order;
	 * shutdown closes the ready rings (from then on every submit fails). pool_slots.h. */
	struct lfq__slotq q;

	/* Read-only after create. */
	LFQ_CACHE_ALIGNED struct lfq__task *slots; /* slot i belongs to whoever holds index i */
	/* Per slot: generation << 3 | state of a job submitted with an id (pool_cancel.c). */
	_Atomic uint64_t *slot_state;
	/* The completion channel (pool_completion.c), NULL without LFQ_POOL_COMPLETIONS. */
	struct lfq__pool_comp *comp;
	size_t capacity;
	size_t wake_free; /* free slots before sleeping submitters are woken */
	unsigned nworkers;
	unsigned idle_spin; /* lfq__pool_spin_budget */
	unsigned spin_cap;  /* most workers spinning at once; 0: not counted */
	void (*on_error)(const struct lfq_job *job, int result, void *ctx);
	void (*on_cancelled)(const struct lfq_job *job, void *ctx);
	void (*on_dead)(const struct lfq_job *job, int reason, unsigned attempts, int last_result,
			void *ctx);
	void (*log)(int level, const char *msg, const struct lfq_log_field *fields, size_t n,
		    void *ctx);
	int64_t (*clock)(void *ctx);
	void *ctx;
	unsigned log_level;
	unsigned levels; /* priority levels */
	unsigned starve_limit;
	unsigned max_attempts;
	int64_t retry_base_ns, retry_cap_ns;
	bool metrics;
	char name[12];
	struct lfq__pool_worker *workers;

	/* Sleeping workers (woken by submits), submit_wait callers (woken by workers freeing
	 * slots), wait_idle callers (woken by workers that find the queue empty) and shutdown
	 * (woken by exiting workers), each on a line of its own: the fast paths only read them. */
	LFQ_CACHE_ALIGNED struct lfq__waitq not_empty;
	/* Workers spinning on an empty queue (counted only with a spin cap), and whether a
	 * wake-up is pending: set by the waker, cleared by the worker that takes it over once
	 * it has looked for work (pool_worker.c, "Waking"). Read by a submit only when a
	 * worker is parked. */
	LFQ_CACHE_ALIGNED _Atomic unsigned spinning;
	_Atomic unsigned waking;
	LFQ_CACHE_ALIGNED struct lfq__waitq not_full;
	LFQ_CACHE_ALIGNED struct lfq__waitq idle;
	LFQ_CACHE_ALIGNED struct lfq__waitq exited;
	_Atomic unsigned live;	    /* workers that have not exited */
	_Atomic bool cancel;	    /* the drain timeout passed: hand back, do not run */
	_Atomic uint64_t cancelled; /* written under shutdown_lock only */
	/* Jobs shutdown took out of the rings itself, per level (under shutdown_lock only). */
	_Atomic uint64_t reaped[LFQ_POOL_PRIORITIES_MAX];
	pthread_mutex_t shutdown_lock; /* serializes shutdowns; guards joined */
	bool joined;		       /* workers joined, everything accounted for */

	struct lfq__pool_shard shards[LFQ_POOL_SHARDS];

	/* Delayed retries, on lines of their own (pool_timer.c). */
	LFQ_CACHE_ALIGNED struct lfq__timers timers;

	/* Jobs cancelled by lfq_pool_cancel (Q6, pool_cancel.c), on a line of its own: the
	 * fields above are read on every submit. */
	LFQ_CACHE_ALIGNED _Atomic uint64_t cancelled_by_id;
};

_Static_assert(sizeof(struct lfq__task) == sizeof(struct lfq_job), "a task is a job");
_Static_assert(LFQ_SLOTQ_LEVELS_MAX >= LFQ_POOL_PRIORITIES_MAX, "a ready ring per level");
_Static_assert(offsetof(struct lfq__task, deadline_ns) == offsetof(struct lfq_job, deadline_ns),
	       "same layout");
_Static_assert(offsetof(struct lfq__task, max_attempts) == offsetof(struct lfq_job, max_attempts),
	       "same layout");
_Static_assert(offsetof(struct lfq__task, priority) == offsetof(struct lfq_job, priority),
	       "same layout");

/* A snapshot of every counter (pool_stats.c). */
struct lfq__pool_totals {
	uint64_t started, completed, failed, exhausted, expired, expired_after_run, retried,
		cancelled, delayed;
	uint64_t attempted; /* the shards' `submitted` (S1 - S2): compared with finished for idle */
	uint64_t submitted; /* max(accepted, finished): public, monotonic, >= finished */
	uint64_t submitted_by[LFQ_POOL_PRIORITIES_MAX], taken_by[LFQ_POOL_PRIORITIES_MAX];
};
void lfq__pool_read_totals(struct lfq_pool *pool, struct lfq__pool_totals *t,
			   struct lfq_pool_worker_stats *per_worker, size_t n);

/* The sizes create allocates, computed in 64 bits and checked against size_max (SIZE_MAX in
 * create; a test passes UINT32_MAX to check a 32-bit target's limits). 0, -EINVAL for a
 * value out of the public limits, or -ENOMEM if a size does not fit in size_max. */
struct lfq__pool_layout {
	unsigned order;		/* index rings of 2^order slots */
	uint64_t ring_bytes;	/* one index ring's entries */
	uint64_t entries_bytes; /* every ring's entries (levels + the free ring), whole lines */
	uint64_t slots_bytes;	/* the job slots, whole lines */
	uint64_t workers_bytes; /* the worker structs, whole lines */
};
int lfq__pool_layout(size_t capacity, unsigned levels, unsigned nworkers, uint64_t size_max,
		     struct lfq__pool_layout *out);

/* The finished jobs of a snapshot: each ends as exactly one of these. */
static inline uint64_t lfq__pool_finished(const struct lfq__pool_totals *t)
{
	return t->completed + t->failed + t->exhausted + t->expired + t->cancelled;
}

/* ---- Configuration (pool_config.c). */

/* Whether n words are all zero (reserved fields). */
static inline bool lfq__all_zero(const uint64_t *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (words[i])
			return false;
	return true;
}

/* The CPUs this process may run on (sched_getaffinity already leaves out offline ones). */
struct lfq__cpu_mask {
	cpu_set_t *set;
	size_t size;
	long nconf;
};
/* 0, -ENOMEM or sched_getaffinity's negated errno. */
int lfq__cpu_mask_get(struct lfq__cpu_mask *m);
void lfq__cpu_mask_free(struct lfq__cpu_mask *m);
/* ceil(quota / period) from a cgroup v2 cpu.max file ("max 100000", "150000 100000"); 0
 * for no limit, or a file that cannot be read or parsed. */
unsigned lfq__cpu_max_limit(const char *path);
/* The CPU limit of this process's cgroup v2 (the smallest over its ancestors), 0 for none. */
unsigned lfq__cpu_quota(void);
/* The CPUs the pool may use: the affinity mask's count, cut to the cgroup quota (as Go's
 * runtime does for GOMAXPROCS). */
unsigned lfq__pool_cpu_count(const struct lfq__cpu_mask *mask);
#ifdef LFQ_TESTING
/* Test hook: the path of a cpu.max file read instead of the process's cgroup (relaxed: set
 * before the pool is created). */
extern const char *_Atomic lfq__pool_test_cpu_max;
#endif

/* 0 or -EINVAL: every field within the public limits (the CPUs are checked apart). */
int lfq__pool_validate(const struct lfq_pool_config *cfg);
/* 0 or -EINVAL: every CPU in cfg->cpus is one this process may run on. */
int lfq__pool_check_cpus(const struct lfq_pool_config *cfg, const struct lfq__cpu_mask *mask);

/* What a validated config asks for, defaults filled in. */
struct lfq__pool_sizes {
	unsigned nworkers;
	size_t capacity;
	unsigned levels;
};
void lfq__pool_sizes(const struct lfq_pool_config *cfg, const struct lfq__cpu_mask *mask,
		     struct lfq__pool_sizes *out);
/* Copies the settings (defaults filled in) into a pool whose capacity is set. */
void lfq__pool_apply_config(struct lfq_pool *pool, const struct lfq_pool_config *cfg);
/* Sets each worker's cpu (-1: unpinned): 0 or -ENOMEM. */
int lfq__pool_assign_cpus(struct lfq_pool *pool, const struct lfq_pool_config *cfg,
			  const struct lfq__cpu_mask *mask);

/* ---- Create and destroy (pool.c). */

/* Frees everything create allocated; the workers are already joined (or never started). */
void lfq__pool_free(struct lfq_pool *pool);

/* ---- Workers (pool_worker.c). */

/* The idle spin budget: `configured` if nonzero, else the default, cut down when the workers
 * outnumber the CPUs the pool may run on (ncpus). */
unsigned lfq__pool_spin_budget(unsigned configured, unsigned nworkers, unsigned ncpus);
/* How many workers may spin at once (0: no limit, and no spinner count: every submit wakes a
 * sleeping worker): 0 with a configured budget or when the workers fit the CPUs, else the
 * CPU count. */
unsigned lfq__pool_spin_cap(unsigned configured, unsigned nworkers, unsigned ncpus);
/* After a publish: wakes one parked worker if none spins (with a spin cap), one is parked
 * and no wake-up is pending; at most one wake system call, no loop (pool_worker.c,
 * "Waking"). */
void lfq__pool_wake(struct lfq_pool *pool);
/* The thread body of a worker (arg: its struct lfq__pool_worker). */
void *lfq__pool_worker_main(void *arg);
/* Is the calling thread one of this pool's workers (running one of its jobs or hooks)? */
bool lfq__pool_in_own_job(const struct lfq_pool *pool);
/* Takes a job's slot from the levels in order (upward: `first` up to the top, then first-1
 * down to 0; else `first` down to 0): 0 with the slot and its level, -EAGAIN if every level
 * is empty, -EPIPE if every level is closed and drained. */
int lfq__pool_take_from(struct lfq_pool *pool, unsigned first, bool upward, uint64_t *slot,
			unsigned *level);
/* Copies the task out of slot i and frees the slot (waking sleeping submit_waits). */
bool lfq__pool_copy_out(struct lfq_pool *pool, uint64_t i, struct lfq__task *task);
/* Gives slot i back to the free ring, waking sleeping submitters per the hysteresis. */
void lfq__pool_free_slot(struct lfq_pool *pool, uint64_t i);
/* The calling thread's worker if it is one of pool's, else NULL. */
const struct lfq__pool_worker *lfq__pool_self(const struct lfq_pool *pool);
/* The calling thread's worker, of whichever pool, or NULL (the lfq_job_* getters). */
const struct lfq__pool_worker *lfq__pool_current_worker(void);

/* Jobs were published: lfq__pool_wake (one load, N1, if no worker is parked). A burst
 * wakes one worker too: each woken worker that finds more queued wakes the next. */
static inline void lfq__pool_wake_worker(struct lfq_pool *pool)
{
	lfq__pool_wake(pool);
}

/* ---- Idle and shutdown (pool_shutdown.c). */

/* Stops intake (K1) and wakes everyone who waits for a change. */
void lfq__pool_close_intake(struct lfq_pool *pool);
/* Would a wait for this pool (idle, or the workers joined) wait for the caller itself (a
 * job of the pool, or a hook its shutdown runs on this thread)? */
bool lfq__pool_waits_for_itself(const struct lfq_pool *pool);
/* After shutdown joined the workers: hands every job not started to hand_back (counted as
 * cancelled, logged, completion records), for destroy. */
void lfq__pool_discard_unstarted(struct lfq_pool *pool);
/* The pool may be idle now: fence (I1), then wake wait_idle callers if any sleep
 * (pool_stats.c). */
void lfq__pool_notify_idle(struct lfq_pool *pool);

/* ---- Shared helpers. */

/* The pool's clock. */
static inline int64_t lfq__pool_now(const struct lfq_pool *pool)
{
	return pool->clock ? pool->clock(pool->ctx) : lfq__now_ns();
}

/* The public view of a task. */
static inline struct lfq_job lfq__pool_job_of(const struct lfq__task *t)
{
	return (struct lfq_job){.fn = t->fn,
				.arg = t->arg,
				.deadline_ns = t->deadline_ns,
				.max_attempts = t->max_attempts,
				.priority = t->priority};
}

/* Logs a dead job and calls on_dead (the caller counts it afterwards, as finished).
 * pool_hooks.c */
void lfq__pool_call_dead(const struct lfq_pool *pool, const struct lfq__task *t, int reason);
/* The same for a job a timed-out shutdown hands back: on_dead if set, else on_cancelled. */
void lfq__pool_call_cancelled(const struct lfq_pool *pool, const struct lfq__task *t);

/* Timer heap and backoff (pool_timer.c). */
/* 0 or a negated pthread error. */
int lfq__timers_init(struct lfq__timers *tm);
/* Frees the heap (no timer left, or the caller handed them back). */
void lfq__timers_fini(struct lfq__timers *tm);
/* Pushes a timer (lock held); returns false if memory ran out (nothing changed). */
bool lfq__timer_push(struct lfq__timers *tm, int64_t due, const struct lfq__task *task);
/* Removes the earliest timer into *out (lock held). The heap must not be empty. */
void lfq__timer_pop(struct lfq__timers *tm, struct lfq__timer *out);
/* Any timer pending? A hint (T2): a worker that delays a retry checks again itself. */
static inline bool lfq__timers_pending(struct lfq__timers *tm)
{
	/* T2: relaxed, see pool_timer.c. */
	return atomic_load_explicit(&tm->next_due, memory_order_relaxed) != INT64_MAX;
}
/* The bound min(cap, base * 2^(n-1)) of retry n >= 1 (cap >= base >= 0). */
int64_t lfq__backoff_bound(int64_t base, int64_t cap, unsigned n);
/* Backoff before retry n >= 1: uniform in [0, lfq__backoff_bound], from rnd. */
int64_t lfq__backoff_ns(int64_t base, int64_t cap, unsigned n, uint64_t rnd);
/* Next pseudo-random number of a splitmix64 state. */
uint64_t lfq__splitmix64(uint64_t *state);

/* Emits a log event if the pool has a hook and the level is enabled (pool_hooks.c). */
void lfq__pool_log(const struct lfq_pool *pool, int level, const char *msg,
		   const struct lfq_log_field *fields, size_t n);

/* Issue 14 (pool_context.c, pool_cancel.c, pool_completion.c). */
/* The signal mask workers start with: every signal but the synchronous ones a fault raises. */
void lfq__pool_worker_sigmask(sigset_t *set);
/* Submit side, holding slot i with its copy in *t (before the publish): gives the task an
 * id (Q1). */
void lfq__cancel_arm(struct lfq_pool *pool, uint64_t slot, struct lfq__task *t, uint64_t *id);
/* Dequeue side, for a task with LFQ__TASK_HAS_ID copied out of slot i: true if the caller
 * takes it (runs it, and frees the slot); false if it was cancelled (the slot is freed here
 * or by the cancel: the caller must not touch it). */
bool lfq__cancel_claim(struct lfq_pool *pool, uint64_t slot, const struct lfq__task *t);
/* The completion channel of `capacity` records: 0, -ENOMEM or a negated eventfd error. */
int lfq__comp_init(struct lfq_pool *pool, size_t capacity);
void lfq__comp_fini(struct lfq_pool *pool);
/* A submit's credit: false if none is left (the submit is refused with -EAGAIN). */
bool lfq__comp_reserve(struct lfq_pool *pool);
/* Gives back the credit of a submit that was not accepted. */
void lfq__comp_unreserve(struct lfq_pool *pool);
/* Records that t ended (reason 0: succeeded) with the last run's result. Never waits. */
void lfq__comp_post(struct lfq_pool *pool, const struct lfq__task *t, int reason, int result);

#ifdef LFQ_TESTING
/* Test hook: called with each retry's attempt number (1 = first retry), its bound and the
 * backoff chosen, on the worker, before the job is delayed. */
extern void (*_Atomic lfq__pool_test_backoff)(unsigned retry, int64_t bound, int64_t delay);
#endif

#endif /* LFQ_POOL_INTERNAL_H */
