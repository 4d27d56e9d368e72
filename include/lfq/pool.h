/* SPDX-License-Identifier: MIT */
/**
 * @file pool.h
 * lfq_pool: a pool of worker threads, each pinned to a CPU, fed by a lock-free ring of jobs.
 *
 * Jobs are small structs (a function, an argument) copied by value into slots the pool
 * allocated at create: submitting never allocates. Any thread may submit, jobs included.
 * Idle workers spin briefly, then sleep on a futex; a submit makes a wake-up system call only
 * when a worker sleeps. An idle pool uses no CPU.
 *
 * Nothing accepted is lost: every job whose submit returned 0 either runs exactly once or,
 * only when a shutdown's drain timeout expires, is handed back exactly once through the
 * `on_cancelled` hook.
 *
 * Lifecycle:
 *
 *     struct lfq_pool_config cfg = {.workers = 4, .queue_capacity = 1024};
 *     struct lfq_pool *pool;
 *     int rc = lfq_pool_create(&pool, &cfg);          // 0 or -EINVAL, -ENOMEM, ...
 *     rc = lfq_pool_submit(pool, &(struct lfq_job){.fn = work, .arg = p});
 *     ...
 *     rc = lfq_pool_shutdown(pool, 5000000000);        // run what was accepted, join
 *     lfq_pool_destroy(pool);
 *
 * Ordering a caller may rely on: everything a thread wrote before a submit that returned 0 is
 * visible to the job when it runs (or to on_cancelled). Everything a job wrote is visible to
 * a thread whose lfq_pool_wait_idle returned 0, or whose lfq_pool_shutdown returned, after
 * that job finished. Jobs run in roughly FIFO order (one shared FIFO, several workers): no
 * ordering between two jobs is promised.
 *
 * Concurrency: every function except lfq_pool_create and lfq_pool_destroy may be called from
 * any number of threads at once, in any combination, jobs of the pool included (see each
 * function for what it does when called from a job). destroy must not run concurrently with
 * any other call on the same pool, nor from one of its jobs.
 *
 * Errors are negative errno values; nothing sets `errno`. The library never prints, never
 * exits and installs no signal handlers.
 */
#ifndef LFQ_POOL_H
#define LFQ_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <lfq/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest queue_capacity lfq_pool_create accepts (2^24 queued jobs, 1 GiB of slots). */
#define LFQ_POOL_CAPACITY_MAX ((size_t)1 << 24)
/** queue_capacity used when the config says 0. */
#define LFQ_POOL_DEFAULT_CAPACITY 1024
/** Largest number of workers lfq_pool_create accepts. */
#define LFQ_POOL_WORKERS_MAX 1024
/** Attempts an idle worker makes (with a pause between them) before it sleeps, when the
 *  config says 0. Each attempt is one load when the queue is empty. */
#define LFQ_POOL_DEFAULT_IDLE_SPIN 256

/** lfq_pool_config.flags: do not pin the workers (cpus must then be NULL). */
#define LFQ_POOL_NO_PIN 0x1u

/**
 * A job: a function and its argument, copied by value into the pool at submit.
 * Fields not named here are reserved for later use (retries, deadlines, priorities): they
 * must be zero, which is what `{.fn = f, .arg = p}` gives. A job is one 64-byte cache line.
 */
struct lfq_job {
	/** Runs on a worker thread. Returns 0 on success; anything else is a failure, counted
	 *  and passed to on_error. Must not be NULL. */
	int (*fn)(void *arg);
	/** Passed to fn as is; the pool never dereferences it. */
	void *arg;
	/** Reserved; must be zero. */
	uint64_t reserved[6];
};

/**
 * How to build a pool. Zero (or a NULL config) means the default for every field, so
 * `struct lfq_pool_config cfg = {.workers = 4};` is a complete configuration.
 */
struct lfq_pool_config {
	/** Worker threads; 0: one per CPU this process may run on (its affinity mask, which is
	 *  the online CPUs unless taskset/cgroups narrowed it). At most LFQ_POOL_WORKERS_MAX. */
	unsigned workers;
	/** Jobs that can wait in the queue (not counting running ones); 0:
	 *  LFQ_POOL_DEFAULT_CAPACITY; at most LFQ_POOL_CAPACITY_MAX. Exact: a pool of 10 queues
	 *  10 jobs and the 11th submit returns -EAGAIN. */
	size_t queue_capacity;
	/** CPUs to pin to: worker i runs on cpus[i % ncpus]. NULL: the CPUs of the process's
	 *  affinity mask, in increasing order. Each must be < sysconf(_SC_NPROCESSORS_CONF),
	 *  online and in the process's affinity mask, else create returns -EINVAL. */
	const unsigned *cpus;
	/** Entries in cpus; must be 0 when cpus is NULL and nonzero when it is not. */
	size_t ncpus;
	/** LFQ_POOL_NO_PIN or 0. Unknown bits are rejected with -EINVAL. */
	unsigned flags;
	/** Empty-queue attempts before an idle worker sleeps; 0: LFQ_POOL_DEFAULT_IDLE_SPIN. */
	unsigned idle_spin;
	/** Thread-name prefix, at most 11 characters: workers are named "<prefix><i>" (shown
	 *  by top -H, perf, gdb). NULL: "lfq-w", giving lfq-w0, lfq-w1, ... */
	const char *name;
	/**
	 * Called on the worker thread, right after a job returned nonzero, with the job and
	 * its result. NULL: failures are only counted. Must not call lfq_pool_destroy.
	 */
	void (*on_error)(const struct lfq_job *job, int result, void *ctx);
	/**
	 * Called for each accepted job that will never run because a shutdown's drain timeout
	 * expired before it started. Called on the thread inside lfq_pool_shutdown (or
	 * lfq_pool_destroy), one job at a time, never concurrently with itself. NULL: the pool
	 * has nowhere to hand jobs back, so a timed-out shutdown still runs all of them (and
	 * returns -ETIMEDOUT when they are done).
	 */
	void (*on_cancelled)(const struct lfq_job *job, void *ctx);
	/** Passed as ctx to on_error and on_cancelled. */
	void *ctx;
	/** Reserved for later use (retry policy, metrics hooks); must be zero. */
	uint64_t reserved[8];
};

/**
 * Counters of a pool: a snapshot (see lfq_pool_stats). Every count only grows, except queued
 * and running.
 */
struct lfq_pool_stats {
	uint64_t submitted; /**< submits that returned 0 */
	uint64_t completed; /**< jobs that ran and returned 0 */
	uint64_t failed;    /**< jobs that ran and returned nonzero */
	uint64_t cancelled; /**< jobs handed back through on_cancelled */
	uint64_t queued;    /**< accepted, not yet started (nor cancelled) */
	uint64_t running;   /**< started, not yet finished */
	unsigned workers;   /**< worker threads */
};

/** Per-worker counters (see lfq_pool_stats). */
struct lfq_pool_worker_stats {
	uint64_t completed; /**< jobs this worker ran that returned 0 */
	uint64_t failed;    /**< jobs this worker ran that returned nonzero */
	int cpu;	    /**< the CPU it is pinned to, or -1 if unpinned */
};

/** An opaque worker pool. */
struct lfq_pool;

/**
 * Creates a pool and starts its workers, each named and (unless LFQ_POOL_NO_PIN) pinned
 * before it runs anything.
 *
 * @param pool  out: the new pool; untouched on error.
 * @param cfg   the configuration; NULL: all defaults. Read during the call only (the cpus
 *              array and name are copied).
 * @return 0 on success;
 *         -EINVAL if @p pool is NULL, or @p cfg has workers > LFQ_POOL_WORKERS_MAX,
 *                 queue_capacity > LFQ_POOL_CAPACITY_MAX, an unknown flag, cpus with
 *                 LFQ_POOL_NO_PIN, cpus and ncpus disagreeing, a CPU that is out of range,
 *                 offline or outside the process's affinity mask, a name longer than 11
 *                 characters, or a nonzero reserved field;
 *         -ENOMEM if memory runs out;
 *         -EAGAIN (or another negated pthread error) if a thread cannot be started; the
 *                 workers already started are stopped and joined, nothing leaks.
 * Thread-safety: any thread; allocates and starts threads.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_create(struct lfq_pool **pool,
					  const struct lfq_pool_config *cfg);

/**
 * Shuts the pool down with no timeout if that was not done (see lfq_pool_shutdown: every
 * accepted job runs), then frees it. NULL is accepted and ignored.
 * Thread-safety: must not run concurrently with any other call on @p pool, nor from one of
 * its jobs (asserted).
 */
LFQ_API void lfq_pool_destroy(struct lfq_pool *pool);

/**
 * Copies @p job into the queue; a worker will run it.
 * @param job  fn must be non-NULL and the reserved fields zero (asserted). The pool keeps a
 *             copy: @p job may be reused as soon as the call returns.
 * @return 0 if the job was accepted (it will run exactly once, or be handed to on_cancelled);
 *         -EAGAIN if the queue is full (the job was not accepted);
 *         -ESHUTDOWN if a shutdown has begun (the job was not accepted), also from jobs.
 * Thread-safety: any thread, jobs included; lock-free. Makes a wake-up system call only if a
 * worker sleeps.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_submit(struct lfq_pool *pool, const struct lfq_job *job);

/**
 * Like lfq_pool_submit, but waits up to @p timeout_ns for room in a full queue.
 * @param timeout_ns  < 0: as long as it takes; 0: one try; > 0: nanoseconds on
 *                    CLOCK_MONOTONIC. Signals do not cut it short.
 * @return 0 if the job was accepted;
 *         -ETIMEDOUT if the queue stayed full for the whole timeout (-EAGAIN if it was 0);
 *         -ESHUTDOWN if a shutdown has begun or begins while waiting (waiters wake promptly).
 * Thread-safety: any thread; may sleep. From a job, a negative timeout can deadlock if every
 * worker does the same on a full queue: give jobs a finite timeout.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_submit_wait(struct lfq_pool *pool, const struct lfq_job *job,
					       int64_t timeout_ns);

/**
 * Waits until every accepted job has finished (run, or cancelled): no job queued or running.
 * Jobs submitted by jobs are counted, so "idle" means the whole tree is done. Jobs submitted
 * concurrently with this call may or may not be waited for.
 * @param timeout_ns  as for lfq_pool_submit_wait.
 * @return 0 once the pool was idle at some instant during the call (every job whose submit
 *           returned before the call began has finished by then);
 *         -ETIMEDOUT if it was not idle during the whole timeout (-EAGAIN if it was 0);
 *         -EDEADLK if called from one of this pool's jobs (it would wait for itself).
 * Thread-safety: any thread; may sleep. Workers that finish a job wake the waiters only
 * when the queue is empty, and only if there are waiters.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_wait_idle(struct lfq_pool *pool, int64_t timeout_ns);

/**
 * Stops intake and drains: from the moment the call begins every submit returns -ESHUTDOWN
 * (threads waiting in submit_wait wake up with it); the workers run every accepted job, then
 * exit and are joined.
 *
 * If @p drain_timeout_ns passes before the queue is drained, the jobs not yet started are
 * taken out and handed, one at a time on this thread, to the config's on_cancelled; the call
 * then waits for the running jobs to finish, joins the workers and returns -ETIMEDOUT. (With
 * no on_cancelled, nothing can be handed back: every job runs, then -ETIMEDOUT.)
 *
 * @param drain_timeout_ns  < 0: no timeout; 0: hand back whatever has not started at once;
 *                          > 0: nanoseconds on CLOCK_MONOTONIC.
 * @return 0 if every accepted job ran and the workers were joined (or the pool had already
 *           been shut down: a second call, or one racing with the first, waits for the
 *           first to finish and returns 0);
 *         -ETIMEDOUT if the timeout passed first (see above); the workers are joined;
 *         -EDEADLK if called from one of this pool's jobs: intake stops and the pool drains,
 *                  but a job cannot wait for the workers (its own among them): the call
 *                  returns at once, and the owner must still call shutdown or destroy,
 *                  which joins.
 * Thread-safety: any thread; may sleep.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_shutdown(struct lfq_pool *pool, int64_t drain_timeout_ns);

/**
 * Takes a snapshot of the pool's counters. The per-worker counters live on one cache line
 * per worker and submits are counted in per-thread shards: nothing shared is written per job;
 * the reader sums. Under concurrency the snapshot may be stale, and its fields are read at
 * slightly different instants; finished counts (completed, failed, cancelled) are read before
 * submitted, so completed + failed + cancelled <= submitted always holds in a snapshot.
 * @param stats       out: the totals.
 * @param per_worker  out (may be NULL): up to @p n entries, one per worker, in worker order.
 * @param n           entries in @p per_worker.
 * @return 0, or -EINVAL if @p pool or @p stats is NULL, or @p per_worker is NULL with n > 0.
 * Thread-safety: any thread; wait-free.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_stats(const struct lfq_pool *pool, struct lfq_pool_stats *stats,
					 struct lfq_pool_worker_stats *per_worker, size_t n);

/**
 * @return the index (0 .. workers-1) of the worker running the calling thread if it is one of
 *         @p pool's workers (that is, from inside a job), else -1.
 * Thread-safety: any thread; wait-free.
 */
LFQ_API int lfq_pool_worker_index(const struct lfq_pool *pool);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_POOL_H */
