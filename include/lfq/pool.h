/* SPDX-License-Identifier: MIT */
/**
 * @file pool.h
 * lfq_pool: a pool of worker threads (pinned to CPUs only on request), fed by a lock-free ring
 * of jobs.
 *
 * Jobs are small structs (a function, an argument) copied by value into slots the pool
 * allocated at create: submitting never allocates. Any thread may submit, jobs included.
 * Idle workers spin briefly, then sleep on a futex; a submit makes a wake-up system call only
 * when a worker sleeps. An idle pool uses no CPU.
 *
 * Nothing accepted is lost: every job whose submit returned 0 ends exactly once, either as
 * succeeded (a run returned 0) or as dead, through the `on_dead` hook: failed (a permanent
 * failure), exhausted (LFQ_JOB_RETRY with no attempt left), expired (its deadline passed
 * before a run could start) or cancelled (lfq_pool_cancel, or a shutdown's drain timeout
 * passed). lfq_pool_stats shows it: submitted = succeeded + dead once idle.
 *
 * Ownership: the pool never touches what arg points to. Each accepted job reaches exactly
 * one terminal point, the place to free arg: its fn's last run (the one that returned 0),
 * or on_dead (or, in a config without on_dead, on_cancelled for the jobs a timed-out
 * shutdown hands back). on_error is not terminal: a retry may follow. docs/pool.md has the
 * job's lifecycle.
 *
 * Production features: retries with exponential backoff and full jitter, kept in a timer
 * heap the workers share (a delayed job holds no queue slot and no thread); absolute deadlines;
 * up to 8 priority levels with a starvation guard; per-worker counters and latency
 * histograms (p50 .. p99.9, Prometheus text output); a log hook; an injectable clock; job
 * ids and cancellation; a stop request a signal handler may make, which running jobs can
 * see; a completion channel (an eventfd) for event loops.
 *
 * Signals: the workers block every signal except the synchronous fault signals (SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS), whatever the creating thread's mask, so a
 * process-directed signal is never delivered to a worker.
 *
 * Lifecycle:
 *
 *     struct lfq_pool_config cfg = {.workers = 4, .queue_capacity = 1024};
 *     struct lfq_pool *pool;
 *     int rc = lfq_pool_create(&pool, &cfg);          // 0 or -EINVAL, -ENOMEM, ...
 *     rc = lfq_pool_submit(pool, &(struct lfq_job){.fn = work, .arg = p});
 *     ...
 *     rc = lfq_pool_shutdown(pool, LFQ_SEC(5));        // run what was accepted, join
 *     lfq_pool_destroy(pool);
 *
 * Ordering a caller may rely on: everything a thread wrote before a submit that returned 0 is
 * visible to the job when it runs (or to on_cancelled). Everything a job wrote is visible to
 * a thread whose lfq_pool_wait_idle returned 0, or whose lfq_pool_shutdown returned, after
 * that job finished. Within a priority level jobs start in roughly FIFO order (one shared
 * FIFO per level, several workers); higher levels first, see starve_limit; a retry that
 * fell due runs before queued jobs, on the first worker that is free (an idle worker starts
 * it within its sleep's timer slack, typically well under a millisecond after it is due;
 * never behind a job that the worker which delayed it runs). No ordering between two jobs
 * is promised.
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

#include <stdbool.h>
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

/** lfq_pool_config.flags: do not pin the workers (cpus must then be NULL). The default
 *  since workers are pinned only when asked (LFQ_POOL_PIN or cpus); kept so that configs
 *  written for the old default stay valid. */
#define LFQ_POOL_NO_PIN 0x1u
/** lfq_pool_config.flags: pin worker i to the (i % n)-th of the n CPUs of the process's
 *  affinity mask, in increasing order (cpus NULL), as an explicit cpus list would.
 *  Not with LFQ_POOL_NO_PIN. docs/tuning.md says why the default does not pin. */
#define LFQ_POOL_PIN 0x8u

/** A job's return value asking to be run again later (a transient failure): after a backoff
 *  (see lfq_pool_config.retry_base_ns), up to max_attempts runs in all. A value no errno and
 *  no small status code collides with. */
#define LFQ_JOB_RETRY (-0x7fff0001)
/** A job's return value for a permanent failure (any nonzero value other than LFQ_JOB_RETRY
 *  is one too). */
#define LFQ_JOB_FAIL 1

/** Most priority levels a pool may have (lfq_pool_config.priorities). */
#define LFQ_POOL_PRIORITIES_MAX 8
/** Runs a job gets when neither it nor the config says (1 first run + 4 retries). */
#define LFQ_POOL_DEFAULT_MAX_ATTEMPTS 5
/** First retry's backoff bound when the config says 0: 100 ms. */
#define LFQ_POOL_DEFAULT_RETRY_BASE_NS 100000000LL
/** Largest backoff bound when the config says 0: 30 s. */
#define LFQ_POOL_DEFAULT_RETRY_CAP_NS 30000000000LL
/** Consecutive jobs a worker takes by priority before it takes one from a lower waiting
 *  level (the starvation guard), when the config says 0. */
#define LFQ_POOL_DEFAULT_STARVE_LIMIT 16

/**
 * A job: a function and its argument, copied by value into the pool at submit, with optional
 * scheduling fields. Zero means the default for each, so `{.fn = f, .arg = p}` is a complete
 * job. A job is one 64-byte cache line.
 */
struct lfq_job {
	/** Runs on a worker thread. Returns 0 on success, LFQ_JOB_RETRY for a transient failure
	 *  (run again after a backoff, while attempts remain), anything else for a permanent
	 *  failure (counted, passed to on_error and on_dead). Must not be NULL. */
	int (*fn)(void *arg);
	/** Passed to fn as is; the pool never dereferences it. */
	void *arg;
	/** Absolute deadline on the pool's clock (CLOCK_MONOTONIC ns unless the config has a
	 *  clock): a run that would start at or after it never starts; the job goes to on_dead
	 *  as LFQ_DEAD_EXPIRED. 0: none. */
	int64_t deadline_ns;
	/** Most runs (first run included); 0: the config's max_attempts. */
	uint16_t max_attempts;
	/** 0 (lowest, the default) .. priorities-1 (highest); submit returns -EINVAL beyond. */
	uint8_t priority;
	/** Reserved; must be zero (submit returns -EINVAL otherwise). */
	uint8_t reserved8;
	/** Reserved; must be zero (submit returns -EINVAL otherwise). */
	uint32_t reserved32;
	/** Reserved (the pool keeps its bookkeeping here in its own copy); must be zero (submit
	 *  returns -EINVAL otherwise). */
	uint64_t reserved[4];
};

/** Why a job went to on_dead. */
enum lfq_dead_reason {
	LFQ_DEAD_FAILED = 1,	/**< it returned a permanent failure */
	LFQ_DEAD_EXHAUSTED = 2, /**< it asked for a retry with no attempt left */
	LFQ_DEAD_EXPIRED = 3,	/**< its deadline came before its (next) run could start */
	LFQ_DEAD_CANCELLED = 4, /**< a shutdown's drain timeout passed before it could run, or
				     lfq_pool_cancel cancelled it */
};

/** Levels of the log hook, most severe first. */
enum lfq_log_level {
	LFQ_LOG_ERROR = 1,
	LFQ_LOG_WARN = 2,
	LFQ_LOG_INFO = 3,
	LFQ_LOG_DEBUG = 4,
};

/** One key=value field of a log event: a string if str is not NULL, else the integer num. */
struct lfq_log_field {
	const char *key;
	const char *str;
	int64_t num;
};

/**
 * How to build a pool. Zero (or a NULL config) means the default for every field, so
 * `struct lfq_pool_config cfg = {.workers = 4};` is a complete configuration.
 */
struct lfq_pool_config {
	/** Worker threads; 0: one per CPU this process may use: the CPUs of its affinity mask
	 *  (the online CPUs unless taskset/cpusets narrowed it), cut to its cgroup v2 CPU quota
	 *  (cpu.max of its cgroup and their ancestors: ceil(quota / period), the smallest), as
	 *  Go's runtime counts GOMAXPROCS. The same count decides whether workers outnumber the
	 *  CPUs (the spinner cap). Read at create. At most LFQ_POOL_WORKERS_MAX. */
	unsigned workers;
	/** Jobs that can wait in the queue (not counting running ones); 0:
	 *  LFQ_POOL_DEFAULT_CAPACITY; at most LFQ_POOL_CAPACITY_MAX. Exact: a pool of 10 queues
	 *  10 jobs and the 11th submit returns -EAGAIN. */
	size_t queue_capacity;
	/** CPUs to pin to: worker i runs on cpus[i % ncpus]. NULL: no pinning, or with
	 *  LFQ_POOL_PIN the CPUs of the process's affinity mask, in increasing order. Each
	 *  must be < sysconf(_SC_NPROCESSORS_CONF), online and in the process's affinity
	 *  mask, else create returns -EINVAL. */
	const unsigned *cpus;
	/** Entries in cpus; must be 0 when cpus is NULL and nonzero when it is not. */
	size_t ncpus;
	/** LFQ_POOL_PIN or LFQ_POOL_NO_PIN, LFQ_POOL_METRICS, LFQ_POOL_COMPLETIONS, or 0.
	 *  Unknown bits are rejected with -EINVAL. */
	unsigned flags;
	/** Empty-queue attempts before an idle worker sleeps; 0: LFQ_POOL_DEFAULT_IDLE_SPIN. */
	unsigned idle_spin;
	/** Thread-name prefix, at most 11 characters: workers are named "<prefix><i>" (shown
	 *  by top -H, perf, gdb). NULL: "lfq-w", giving lfq-w0, lfq-w1, ... */
	const char *name;
	/**
	 * Called on the worker thread, right after a run returned nonzero (LFQ_JOB_RETRY
	 * included: once per failed run), with the job and the result. NULL: failures are only
	 * counted. Must not call lfq_pool_destroy.
	 */
	void (*on_error)(const struct lfq_job *job, int result, void *ctx);
	/**
	 * For configs without on_dead (prefer on_dead, which gets these jobs as
	 * LFQ_DEAD_CANCELLED): called for each accepted job that will never run because a
	 * shutdown's drain timeout expired before it started, if on_dead is NULL. A job reaches
	 * on_dead or on_cancelled, never both (until 0.2 it reached both, so freeing arg in both
	 * was a double free). Called on the thread inside lfq_pool_shutdown (or
	 * lfq_pool_destroy), one job at a time, never concurrently with itself. NULL (and
	 * on_dead NULL): the pool has nowhere to hand jobs back, so
	 * a timed-out shutdown still runs all of them, retries included (and returns
	 * -ETIMEDOUT when they are done). It may submit (-ESHUTDOWN) and read stats; an
	 * lfq_pool_shutdown or lfq_pool_wait_idle it calls returns -EDEADLK at once (the
	 * shutdown it runs inside cannot finish before it returns). Must not call
	 * lfq_pool_destroy.
	 */
	void (*on_cancelled)(const struct lfq_job *job, void *ctx);
	/** Passed as ctx to every hook (on_error, on_cancelled, on_dead, log, clock). */
	void *ctx;
	/** Reserved; must be zero. (Kept before the fields added later, so that code that
	 *  filled the old reserved words still fails with -EINVAL instead of meaning something.) */
	uint64_t reserved[4];
	/**
	 * Called exactly once for every accepted job that will not succeed, with why
	 * (enum lfq_dead_reason), the runs it had and the last one's result (0 if it never
	 * ran): failed and exhausted jobs on the worker that ran them, expired ones on the
	 * worker that found them expired, cancelled ones on the thread inside lfq_pool_shutdown
	 * (on_cancelled is then not called) or lfq_pool_cancel. It is the job's terminal hook:
	 * free arg here. Different workers may call it at once. The
	 * job counts as finished (wait_idle) only once it returned. NULL: dead jobs are only
	 * counted; a timed-out shutdown cancels jobs only if this or on_cancelled is set.
	 * lfq_pool_shutdown and lfq_pool_wait_idle called from it return -EDEADLK, on a worker
	 * (as from a job) and on the shutdown's thread alike. Must not call lfq_pool_destroy.
	 */
	void (*on_dead)(const struct lfq_job *job, int reason, unsigned attempts, int last_result,
			void *ctx);
	/** Log hook: an event at a level (enum lfq_log_level) with a message and key=value
	 *  fields, valid during the call only. Called from any pool thread and from the threads
	 *  in create and shutdown, possibly at once. NULL: the pool logs nothing (it never
	 *  prints by itself). Like on_dead, it gets -EDEADLK from lfq_pool_shutdown and
	 *  lfq_pool_wait_idle while the shutdown that called it is in progress. */
	void (*log)(int level, const char *msg, const struct lfq_log_field *fields, size_t nfields,
		    void *ctx);
	/** Most verbose level passed to log; 0: LFQ_LOG_INFO. */
	unsigned log_level;
	/** The pool's clock, in ns, for deadlines, retry times and latency metrics; must never
	 *  go backwards. NULL: CLOCK_MONOTONIC. A clock that does not follow real time (a
	 *  test's fake clock) must call lfq_pool_clock_changed after moving, so that sleeping
	 *  workers re-check their retry timers. */
	int64_t (*clock)(void *ctx);
	/** Default for lfq_job.max_attempts; 0: LFQ_POOL_DEFAULT_MAX_ATTEMPTS. */
	unsigned max_attempts;
	/** Backoff before retry n (n = 1, 2, ...) is uniform in [0, min(cap, base * 2^(n-1))]
	 *  ("full jitter"). 0: LFQ_POOL_DEFAULT_RETRY_BASE_NS. */
	int64_t retry_base_ns;
	/** The backoff's upper limit; 0: LFQ_POOL_DEFAULT_RETRY_CAP_NS. Must be >= base. */
	int64_t retry_cap_ns;
	/** Priority levels, 1 .. LFQ_POOL_PRIORITIES_MAX; 0: 1. */
	unsigned priorities;
	/** Starvation guard: after this many jobs taken by priority in a row, a worker takes
	 *  its next job from the lowest non-empty level at or above a guard level that cycles
	 *  through 0 .. priorities-2, so every waiting level gets a share. 0:
	 *  LFQ_POOL_DEFAULT_STARVE_LIMIT. */
	unsigned starve_limit;
};

/** lfq_pool_config.flags: record latency histograms (queue wait and run time), which costs
 *  two clock reads per run and one per submit. Counters are always kept. */
#define LFQ_POOL_METRICS 0x2u

/** lfq_pool_config.flags: the completion channel (lfq_pool_completions_fd,
 *  lfq_pool_completions_drain): every job that ends leaves a record there, and an eventfd
 *  becomes readable. Costs, per job, one record in a ring and a fence (an eventfd write only
 *  when it is not signalled already), and per submit one atomic operation on a shared
 *  counter (the credits). */
#define LFQ_POOL_COMPLETIONS 0x4u

/**
 * Counters of a pool: a snapshot (see lfq_pool_stats). Every count only grows, except the
 * gauges queued, queued_by_priority, delayed and running.
 *
 * Accounting: every accepted job ends exactly once, as succeeded or as dead, and
 * dead = failed + exhausted + expired + cancelled. Once a shutdown returned (or whenever the
 * pool is idle), submitted = succeeded + dead, and nothing is queued, delayed or running.
 */
struct lfq_pool_stats {
	uint64_t submitted; /**< submits that returned 0 */
	/** jobs that succeeded (a run returned 0): the same value as `succeeded`, the name
	 *  to use; kept so that older code compiles, to be removed in 1.0. */
	uint64_t completed;
	uint64_t failed;    /**< jobs dead after a permanent failure */
	uint64_t cancelled; /**< jobs dead because a shutdown's drain timeout passed, or
				 cancelled by lfq_pool_cancel */
	uint64_t queued;    /**< accepted, waiting in the queue (not delayed, started, dead) */
	uint64_t running;   /**< runs started, not yet finished */
	unsigned workers;   /**< worker threads */
	uint64_t succeeded; /**< jobs that succeeded (a run returned 0) */
	uint64_t dead;	    /**< failed + exhausted + expired + cancelled: on_dead calls */
	uint64_t exhausted; /**< jobs dead because they asked for a retry with none left */
	uint64_t expired;   /**< jobs dead because their deadline passed before a run */
	uint64_t retried;   /**< runs that ended in a scheduled retry */
	uint64_t started;   /**< runs started (first runs and retries) */
	uint64_t delayed;   /**< jobs waiting in the workers' timers for a retry */
	/** queued, per priority level (entries beyond the pool's levels are 0). */
	uint64_t queued_by_priority[LFQ_POOL_PRIORITIES_MAX];
};

/** Per-worker counters (see lfq_pool_stats). They count runs, not jobs: a job retried on
 *  several workers shows in each of them. */
struct lfq_pool_worker_stats {
	uint64_t completed; /**< runs on this worker that returned 0 (jobs that succeeded) */
	/** runs on this worker that returned nonzero: permanent failures and LFQ_JOB_RETRY
	 *  alike (one per on_error call this worker made). Summed over the workers it is
	 *  lfq_pool_stats' failed + exhausted + retried + (runs that asked for a retry their
	 *  deadline did not allow), not its job count `failed`. */
	uint64_t failed;
	int cpu; /**< the CPU it is pinned to, or -1 if unpinned */
};

/** Latency distribution of a pool (see lfq_pool_metrics), in ns of the pool's clock. The
 *  percentiles come from log-linear buckets: each is within 1.6 % of the exact
 *  nearest-rank value (exact below 128 ns); max and sum are exact. */
struct lfq_pool_latency {
	uint64_t count; /**< observations */
	uint64_t sum;	/**< their sum */
	uint64_t p50, p90, p99, p999;
	uint64_t max;
};

/** Latency metrics (recorded only with LFQ_POOL_METRICS). */
struct lfq_pool_metrics {
	/** From becoming runnable (submit, or a retry falling due) to the start of the run. */
	struct lfq_pool_latency queue_wait;
	/** From the start of a run to its end (the job's fn only, hooks excluded). */
	struct lfq_pool_latency run;
};

/** An opaque worker pool. */
struct lfq_pool;

/**
 * Creates a pool and starts its workers, each named and (with cpus or LFQ_POOL_PIN) pinned
 * before it runs anything. By default no worker is pinned (docs/tuning.md, "Pinning").
 *
 * @param pool  out: the new pool; untouched on error.
 * @param cfg   the configuration; NULL: all defaults. Read during the call only (the cpus
 *              array and name are copied).
 * @return 0 on success;
 *         -EINVAL if @p pool is NULL, or @p cfg has workers > LFQ_POOL_WORKERS_MAX,
 *                 queue_capacity > LFQ_POOL_CAPACITY_MAX, an unknown flag, cpus with
 *                 LFQ_POOL_NO_PIN, LFQ_POOL_PIN with LFQ_POOL_NO_PIN, cpus and ncpus
 *                 disagreeing, a CPU that is out of range,
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
 * @return 0 (the pool is freed; also for NULL);
 *         -EDEADLK if called from one of this pool's jobs, or from a hook (on_dead,
 *                  on_cancelled, log) that this pool's shutdown runs on this thread: it
 *                  would wait for itself. Refused in every build: nothing is stopped or
 *                  freed, and the owner must still destroy the pool from another thread.
 * Thread-safety: must not run concurrently with any other call on @p pool.
 */
LFQ_API int lfq_pool_destroy(struct lfq_pool *pool);

/**
 * Copies @p job into the queue; a worker will run it.
 * @param job  the job; the pool keeps a copy: @p job may be reused as soon as the call
 *             returns.
 * @return 0 if the job was accepted: it will succeed (after at most max_attempts runs) or
 *           go to on_dead exactly once (on_cancelled instead, for a job a timed-out
 *           shutdown hands back in a config without on_dead);
 *         -EINVAL if @p pool or @p job is NULL, job->fn is NULL, a reserved field of the
 *                 job (reserved8, reserved32, reserved[]) is nonzero, or job->priority is
 *                 not below the pool's priority levels (checked in every build);
 *         -EAGAIN if the queue is full (the job was not accepted);
 *         -ESHUTDOWN if a shutdown has begun (the job was not accepted), also from jobs.
 * Thread-safety: any thread, jobs included; lock-free in every mode, whatever the workers do
 * (it never waits for a worker nor retries a wake-up). Makes at most one wake-up system
 * call, and only if a worker is parked, none spins (when workers outnumber the CPUs) and
 * no wake-up is pending already: a woken worker counts as coming until it has looked for
 * work, and wakes the next one if more is queued.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_submit(struct lfq_pool *pool, const struct lfq_job *job);

/**
 * Copies up to @p n jobs into the queue, in order, as n lfq_pool_submit calls would, but
 * with one wake-up for all of them: at most one system call, as for lfq_pool_submit,
 * waking one parked worker; each woken worker that finds more queued wakes the next.
 * Stops at the first job not accepted.
 * @param jobs  n jobs; the pool keeps copies.
 * @param err   NULL, or out: 0 if all n were accepted (or n is 0), else why jobs[return]
 *              was not: -EINVAL (@p pool or @p jobs NULL, or that job invalid as for
 *              lfq_pool_submit), -EAGAIN (the queue is full) or -ESHUTDOWN.
 * @return how many jobs were accepted: jobs[0] .. jobs[return - 1], each as by
 *         lfq_pool_submit (run or handed to on_dead exactly once); the rest were not.
 * Thread-safety: any thread, jobs included; lock-free (the jobs of one burst are queued one
 * after another: other submitters' jobs may come between them).
 */
LFQ_API size_t lfq_pool_submit_burst(struct lfq_pool *pool, const struct lfq_job *jobs, size_t n,
				     int *err);

/**
 * Like lfq_pool_submit, but waits up to @p timeout_ns for room in a full queue. A slot that
 * frees while it waits is seen within 1 ms (plus the time the calling thread waits for a
 * CPU): a sleeping caller is woken at once when workers have freed a batch of slots
 * (min(capacity/2, 64)), and otherwise looks again at least once a millisecond.
 * @param timeout_ns  < 0: as long as it takes; 0: one try; > 0: nanoseconds on
 *                    CLOCK_MONOTONIC. Signals do not cut it short.
 * @return 0 if the job was accepted;
 *         -EINVAL as for lfq_pool_submit;
 *         -ETIMEDOUT if the queue stayed full for the whole timeout (-EAGAIN if it was 0);
 *         -ESHUTDOWN if a shutdown has begun or begins while waiting (waiters wake promptly).
 * Thread-safety: any thread; may sleep. From a job, a negative timeout can deadlock if every
 * worker does the same on a full queue: give jobs a finite timeout.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_submit_wait(struct lfq_pool *pool, const struct lfq_job *job,
					       int64_t timeout_ns);

/**
 * Like lfq_pool_submit, and gives the job an id that lfq_pool_cancel takes (and that its
 * completion record carries, see LFQ_POOL_COMPLETIONS).
 * @param id  out: the job's id, never 0; written only when the call returns 0. An id stays
 *            unique while its job is queued; once the job was taken and its queue slot
 *            reused by a later submit_id, the old id is refused (-ENOENT) and never
 *            confused with the new job (a 40-bit generation per slot: an id could repeat
 *            only after 2^40 submits through one slot).
 * @return as lfq_pool_submit; also -EINVAL if @p id is NULL.
 * Thread-safety: any thread, jobs included; lock-free. Costs one store more than
 *            lfq_pool_submit (the slot's state), and a worker one compare-and-swap more.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_submit_id(struct lfq_pool *pool, const struct lfq_job *job,
					     uint64_t *id);

/**
 * Cancels a job that was submitted with lfq_pool_submit_id and has not started: it never
 * runs. Before this call returns, the job goes to the config's on_dead on this thread as
 * LFQ_DEAD_CANCELLED (attempts 0, last_result 0; on_cancelled, which is the shutdown's hook,
 * is not called), counts as cancelled and dead in lfq_pool_stats and as finished for
 * lfq_pool_wait_idle, and leaves a completion record (LFQ_POOL_COMPLETIONS). Its queue slot
 * stays taken until a worker reaches it in the queue and skips it (a ring has no delete).
 *
 * A cancel races fairly with the workers: for a job queued when the call began, exactly one
 * of the two wins: the job runs (-EBUSY) or it is cancelled (0), never both, never neither.
 * @return 0 if the job was cancelled;
 *         -EBUSY if it had started (it is running, waiting for a retry, or finished: a
 *                started job is not stopped; see lfq_pool_stop_requested for that);
 *         -EALREADY if it was cancelled already;
 *         -ENOENT if @p id is 0, was never returned by this pool, or its job was taken
 *                 and its slot reused since (the job has long started);
 *         -EINVAL if @p pool is NULL.
 * Thread-safety: any thread, jobs and hooks included; lock-free: it never waits for a
 *         worker and no worker waits for it (not async-signal-safe: it calls on_dead).
 *         on_dead, called from here, must not call lfq_pool_wait_idle without a timeout
 *         (the job counts as finished only once on_dead returned).
 */
LFQ_API LFQ_NODISCARD int lfq_pool_cancel(struct lfq_pool *pool, uint64_t id);

/**
 * Waits until every accepted job has finished (run, or cancelled): no job queued or running.
 * Jobs submitted by jobs are counted, so "idle" means the whole tree is done. Jobs submitted
 * concurrently with this call may or may not be waited for.
 * @param timeout_ns  as for lfq_pool_submit_wait.
 * @return 0 once the pool was idle at some instant during the call (every job whose submit
 *           returned before the call began has finished by then);
 *         -ETIMEDOUT if it was not idle during the whole timeout (-EAGAIN if it was 0);
 *         -EDEADLK if called from one of this pool's jobs, or from a hook (on_dead,
 *                  on_cancelled, log) run by this pool's shutdown on the shutdown's thread:
 *                  it would wait for itself;
 *         -EINVAL if @p pool is NULL.
 * Thread-safety: any thread; may sleep. Workers that finish a job wake the waiters only
 * when the queue is empty, and only if there are waiters.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_wait_idle(struct lfq_pool *pool, int64_t timeout_ns);

/**
 * Stops intake and drains: from the moment the call begins every submit returns -ESHUTDOWN
 * (threads waiting in submit_wait wake up with it); the workers run every accepted job,
 * retries included (a delayed job is waited for until it is due: the drain covers the timer
 * heaps too), then exit and are joined.
 *
 * If @p drain_timeout_ns passes before everything drained, no job starts any more: the
 * call waits only for the running jobs to finish (so it returns within the timeout plus the
 * longest running job), joins the workers and returns -ETIMEDOUT. The jobs not yet started
 * (queued, or waiting for a retry; a run that asks for a retry now counts too) are handed
 * back, never lost, each to exactly one place:
 *  - with on_dead set, to on_dead (LFQ_DEAD_CANCELLED); else, with on_cancelled set, to
 *    on_cancelled; one at a time on this thread, before the call returns;
 *  - with neither, they stay in the pool for lfq_pool_take_unstarted, which gives them to
 *    the caller as copies of their struct lfq_job (lfq_pool_destroy discards what is left,
 *    counted as cancelled and logged as dead jobs).
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
 *                  which joins; also if called from a hook (on_cancelled, on_dead, log)
 *                  that a shutdown of this pool is running on this thread (intake is
 *                  already stopped; the outer shutdown goes on);
 *         -EINVAL if @p pool is NULL.
 * Thread-safety: any thread; may sleep.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_shutdown(struct lfq_pool *pool, int64_t drain_timeout_ns);

/**
 * Takes back the jobs that a timed-out lfq_pool_shutdown did not start, when the config set
 * neither on_cancelled nor on_dead: copies up to @p n of them into @p jobs (the fields of
 * the submitted struct lfq_job: fn, arg, deadline_ns, max_attempts, priority). Each one
 * taken counts as cancelled in lfq_pool_stats (and leaves a completion record, see
 * LFQ_POOL_COMPLETIONS); call it until it returns less than @p n. The caller decides what to
 * do with them: persist them, run them elsewhere, or drop them knowingly.
 * @return how many jobs were copied: 0 if none is left, if the pool has not been shut down
 *         (or its shutdown has not returned yet), or if @p pool or @p jobs is NULL or @p n
 *         is 0. Also 0 from one of this pool's jobs or hooks.
 * Thread-safety: any thread, after lfq_pool_shutdown returned; calls serialize with each
 *         other (a lock). Not from a signal handler.
 */
LFQ_API size_t lfq_pool_take_unstarted(struct lfq_pool *pool, struct lfq_job *jobs, size_t n);

/**
 * Takes a snapshot of the pool's counters. The per-worker counters live on one cache line
 * per worker and submits are counted in per-thread shards: nothing shared is written per job;
 * the reader sums. Under concurrency the snapshot may be stale, and its fields are read at
 * slightly different instants; finished counts (completed, failed, cancelled) are read before
 * submitted, so completed + failed + cancelled <= submitted always holds in a snapshot.
 * `submitted` never goes down, even while a shutdown refuses submits that were in flight.
 * @param stats       out: the totals.
 * @param per_worker  out (may be NULL): the first min(n, stats->workers) entries, one per
 *                    worker, in worker order; entries beyond the workers are left untouched.
 * @param n           entries in @p per_worker.
 * @return 0 (until 0.2 it returned the number of per_worker entries filled, which is
 *         min(n, stats->workers));
 *         -EINVAL if @p pool or @p stats is NULL, or @p per_worker is NULL with n > 0.
 *         It fails only on invalid arguments, so it is not LFQ_NODISCARD: `(void)` works.
 * Thread-safety: any thread; wait-free.
 */
LFQ_API int lfq_pool_stats(const struct lfq_pool *pool, struct lfq_pool_stats *stats,
			   struct lfq_pool_worker_stats *per_worker, size_t n);

/**
 * Merges the workers' latency histograms into percentiles. Each worker records into its own
 * histogram, without locks or shared writes; the reader sums them (a snapshot that may be
 * stale; counts of different buckets are read at slightly different instants).
 * @param m  out: the latencies; all zero if the pool was created without LFQ_POOL_METRICS.
 * @return 0, or -EINVAL if @p pool or @p m is NULL (only invalid arguments: not
 *         LFQ_NODISCARD).
 * Thread-safety: any thread; wait-free (reads every bucket of every worker: O(workers)).
 */
LFQ_API int lfq_pool_metrics(const struct lfq_pool *pool, struct lfq_pool_metrics *m);

/**
 * Renders the pool's counters, gauges and (with LFQ_POOL_METRICS) latency histograms in the
 * Prometheus text exposition format (version 0.0.4): `lfq_pool_jobs_*_total` counters,
 * `lfq_pool_jobs_queued{priority="p"}`, `lfq_pool_jobs_delayed`, `lfq_pool_jobs_running`,
 * `lfq_pool_workers` gauges, and the histograms `lfq_pool_queue_wait_seconds` and
 * `lfq_pool_run_seconds` with cumulative `le` buckets at powers of two nanoseconds (exact:
 * the internal buckets nest in them), `_sum` and `_count`. Every sample carries the label
 * `pool="<name>"` (the thread-name prefix).
 *
 * snprintf-like: writes at most @p len bytes, NUL included; the text is complete and
 * NUL-terminated if the result is < @p len.
 * @param buf  where to write (may be NULL if @p len is 0).
 * @return the length of the whole text (without the NUL), whether it fit or not: call with
 *         len 0 to size a buffer, and again if the counters grew meanwhile;
 *         -EINVAL if @p pool is NULL, or @p buf is NULL with len > 0.
 * Thread-safety: any thread; wait-free, allocates nothing. A snapshot, as lfq_pool_stats.
 */
LFQ_API LFQ_NODISCARD int64_t lfq_pool_metrics_prometheus(const struct lfq_pool *pool, char *buf,
							  size_t len);

/**
 * Tells the workers that the pool's clock (lfq_pool_config.clock) moved in a way that real
 * time did not: sleeping workers wake up and re-check their retry timers. Needed only with
 * a clock that does not run at CLOCK_MONOTONIC's pace (a test's fake clock); harmless
 * otherwise. Ordering: a retry due at or before the clock's value when this is called runs
 * (or expires) without waiting for real time to pass. NULL is ignored.
 * Thread-safety: any thread, jobs included; lock-free (one wake-up system call if a worker
 * sleeps).
 */
LFQ_API void lfq_pool_clock_changed(struct lfq_pool *pool);

/**
 * @return the index (0 .. workers-1) of the worker running the calling thread if it is one of
 *         @p pool's workers (that is, from inside a job), else -1 (also for NULL).
 * Thread-safety: any thread; wait-free.
 */
LFQ_API int lfq_pool_worker_index(const struct lfq_pool *pool);

/**
 * The attempt the calling job is on: 1 on its first run, 2 on its first retry, and so on
 * (the `attempts` on_dead will see if this run fails for good).
 * @return the attempt number, from inside a job of @p pool (its fn, on the worker); 0
 *         anywhere else (another thread, a hook, another pool's job, NULL).
 * Thread-safety: any thread; wait-free (thread-local reads).
 */
LFQ_API unsigned lfq_pool_job_attempt(const struct lfq_pool *pool);

/**
 * @return the id of the calling job, if it was submitted with lfq_pool_submit_id and this
 *         is one of @p pool's jobs running; 0 otherwise.
 * Thread-safety: any thread; wait-free (thread-local reads).
 */
LFQ_API uint64_t lfq_pool_job_id(const struct lfq_pool *pool);

/*
 * The running job's context, without a pool pointer. A job's fn gets only its arg; these
 * read the calling thread's own record of the job it runs (a thread-local the worker sets
 * just before fn and clears just after), so a job needs no global to learn its pool,
 * attempt, worker or id. Outside a job's fn (another thread, a hook such as on_error or
 * on_dead, a signal handler) they return their "no job" value. Called from a job of pool A
 * that runs a job of nothing else, they describe that job; a pool has no nested runs.
 *
 * Ids: lfq_job_id is the pool's cancel handle (lfq_pool_submit_id), 0 for a job submitted
 * otherwise; it is not chosen by the caller. To name jobs yourself, put your id in what arg
 * points to (every hook and completion record gets arg back).
 *
 * Thread-safety: any thread; async-signal-safe and wait-free (thread-local reads only).
 */

/** @return the pool whose worker runs the calling job; NULL outside a job's fn. */
LFQ_API struct lfq_pool *lfq_job_pool(void);

/** @return the calling job's attempt: 1 on its first run, 2 on its first retry, ...
 *          (the `attempts` on_dead will see if this run fails for good); 0 outside a
 *          job's fn. */
LFQ_API unsigned lfq_job_attempt(void);

/** @return the index (0 .. workers-1) of the worker running the calling job; -1 outside a
 *          job's fn. */
LFQ_API int lfq_job_worker_index(void);

/** @return the calling job's id if it was submitted with lfq_pool_submit_id, else 0;
 *          0 outside a job's fn. */
LFQ_API uint64_t lfq_job_id(void);

/**
 * Asks the pool to stop, without waiting: the first half of lfq_pool_shutdown, and the call
 * to make from a signal handler. Intake closes at once: every later submit returns
 * -ESHUTDOWN and threads sleeping in submit_wait wake up with it. What was accepted is kept
 * and still runs: the workers go on taking queued jobs and due retries, and exit once
 * nothing is left; running jobs (and queued ones, when they start) see
 * lfq_pool_stop_requested return true and may end early. Nothing is joined or freed: the
 * owner still calls lfq_pool_shutdown (whose drain timeout then applies: the grace period)
 * and lfq_pool_destroy. Calling it again, or after a shutdown, changes nothing.
 *
 * The SIGTERM grace-period pattern (Kubernetes sends SIGTERM, waits
 * terminationGracePeriodSeconds, then SIGKILL): the handler calls request_stop; the main
 * thread notices (its submits fail with -ESHUTDOWN, or it polls lfq_pool_stop_requested)
 * and calls lfq_pool_shutdown(pool, grace) with a little less than the grace period, so that
 * jobs not started by then are handed to on_dead (CANCELLED) rather than lost to the SIGKILL.
 *
 * @return 0, or -EINVAL if @p pool is NULL.
 * Thread-safety: any thread, jobs and hooks included; async-signal-safe: only atomic
 * stores and loads and futex wake-ups, no lock, no allocation, errno preserved. Wait-free
 * apart from those system calls. The pool must not have been destroyed (a handler must be
 * uninstalled, or the signal blocked, before lfq_pool_destroy).
 */
LFQ_API int lfq_pool_request_stop(struct lfq_pool *pool);

/**
 * @return true once a stop was requested: lfq_pool_request_stop or lfq_pool_shutdown has
 *         begun (from then on submits return -ESHUTDOWN); false before, and for NULL. A job
 *         that runs long should check it now and then and return early when it is true
 *         (with whatever result fits: a job that returns LFQ_JOB_RETRY is retried, and the
 *         drain waits for its retries, so a job cut short usually returns a failure, or 0
 *         after saving its progress).
 * Thread-safety: any thread; async-signal-safe; wait-free: one load.
 */
LFQ_API bool lfq_pool_stop_requested(const struct lfq_pool *pool);

/**
 * @return the pool's clock now, in ns: the config's clock hook if it has one, else
 *         CLOCK_MONOTONIC. lfq_job.deadline_ns is absolute on this clock, so a deadline 2 s
 *         from now is `lfq_pool_now_ns(pool) + 2000000000`. For a NULL @p pool,
 *         CLOCK_MONOTONIC (never an error code: every value is a time).
 * Thread-safety: any thread (with a clock hook: whatever the hook allows); wait-free
 *         without a hook.
 */
LFQ_API int64_t lfq_pool_now_ns(const struct lfq_pool *pool);

/**
 * @return the name of an enum lfq_dead_reason value, as the log hook's "job dead" event
 *         spells it: "failed", "exhausted", "expired", "cancelled"; "unknown" for any other
 *         value. A static string, never NULL.
 * Thread-safety: any thread; async-signal-safe; wait-free.
 */
LFQ_API const char *lfq_dead_reason_name(int reason);

/**
 * @return the name of a job's result (what fn returned, on_error's result, on_dead's
 *         last_result), as the log hook's events spell it: "success" for 0, "retry" for
 *         LFQ_JOB_RETRY, "fail" for LFQ_JOB_FAIL, and "other" for any other value (a code of
 *         the job's own: print the number beside it). A static string, never NULL.
 * Thread-safety: any thread; async-signal-safe; wait-free.
 */
LFQ_API const char *lfq_job_result_name(int result);

/** A finished job, as lfq_pool_completions_drain hands it back. */
struct lfq_pool_completion {
	int (*fn)(void *arg); /**< the job's fn */
	void *arg;	      /**< the job's arg */
	uint64_t id;	      /**< its id (lfq_pool_submit_id), 0 if it was submitted without */
	int reason;	      /**< 0: succeeded; else why it is dead (enum lfq_dead_reason) */
	int result;	      /**< the last run's result (0 for success; 0 if it never ran) */
	unsigned attempts;    /**< runs it had */
};

/**
 * The completion channel's file descriptor: an eventfd (nonblocking, close-on-exec) that is
 * readable while finished jobs wait to be drained, for epoll, poll or select. Owned by the
 * pool (closed by lfq_pool_destroy): do not read, write or close it; drain instead.
 * Level-triggered use is simplest: drain until a call returns fewer records than asked for;
 * then the fd is unreadable until another job ends. (With EPOLLET, the same rule: drain
 * until short.)
 * @return the fd; -EOPNOTSUPP if the pool was created without LFQ_POOL_COMPLETIONS;
 *         -EINVAL if @p pool is NULL.
 * Thread-safety: any thread; wait-free.
 */
LFQ_API int lfq_pool_completions_fd(const struct lfq_pool *pool);

/**
 * Takes up to @p n records of finished jobs (succeeded or dead, every job exactly once, in
 * roughly the order they ended) into @p out. Every job that ends leaves one: on the worker
 * (succeeded, failed, exhausted, expired), in lfq_pool_cancel, or in a timed-out shutdown
 * (cancelled), after its hooks returned and before it counts as finished for
 * lfq_pool_wait_idle.
 *
 * Room: the jobs in flight (queued, running, waiting for a retry) plus the records not yet
 * drained are at most queue_capacity + workers; a submit beyond that is refused like one on a
 * full queue (-EAGAIN; submit_wait sleeps until a drain makes room). So the ring never
 * overflows and nothing is dropped, but a pool whose records are never drained stops
 * accepting jobs.
 *
 * @return the number of records written (0 .. n); fewer than @p n means the channel was
 *         empty, and the fd is then reset (unreadable until the next job ends);
 *         -EOPNOTSUPP without LFQ_POOL_COMPLETIONS; -EINVAL if @p pool is NULL or @p out is
 *         NULL with n > 0.
 * Thread-safety: any thread, usually the event loop's; several drainers at once are safe
 *         (each record goes to one). Lock-free, apart from one read(2) of the eventfd when
 *         the channel runs empty.
 */
LFQ_API LFQ_NODISCARD int lfq_pool_completions_drain(struct lfq_pool *pool,
						     struct lfq_pool_completion *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_POOL_H */
