// SPDX-License-Identifier: MIT
/*
 * Shared by the pool benchmarks (bench_pool.cc, bench_pool_tutorial.cc): the pool adapters
 * (create, submit_wait, wait_idle, destroy, worker_index over lfq_pool and the mutex pool
 * baseline) and the per-worker tallies the jobs add to.
 */
#ifndef LFQ_BENCH_POOL_IMPLS_H
#define LFQ_BENCH_POOL_IMPLS_H

#include <cstdint>
#include <ctime>

#include <lfq/pool.h>

#include "bench_common.h"
#include "mutex_pool.h"

namespace lfqbench
{

inline int64_t now_ns()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/** lfq_pool, workers pinned (the default) or not. */
template <bool Pin> struct LfqPoolImpl {
	using pool_type = struct lfq_pool;
	static constexpr const char *kName = Pin ? "lfq" : "lfq_nopin";

	static int create(pool_type **p, unsigned workers, size_t capacity)
	{
		struct lfq_pool_config cfg = {};
		cfg.workers = workers;
		cfg.queue_capacity = capacity;
		cfg.flags = Pin ? 0 : LFQ_POOL_NO_PIN;
		/* LFQ_BENCH_POOL_SPIN: idle_spin (0: the library's default). */
		cfg.idle_spin = static_cast<unsigned>(env_u64("LFQ_BENCH_POOL_SPIN", 0));
		return lfq_pool_create(p, &cfg);
	}
	static void destroy(pool_type *p)
	{
		lfq_pool_destroy(p);
	}
	static int submit_wait(pool_type *p, int (*fn)(void *), void *arg)
	{
		struct lfq_job job = {};
		job.fn = fn;
		job.arg = arg;
		return lfq_pool_submit_wait(p, &job, -1);
	}
	static int wait_idle(pool_type *p)
	{
		return lfq_pool_wait_idle(p, static_cast<int64_t>(bench_timeout_s()) * 1000000000);
	}
	static int worker_index(const pool_type *p)
	{
		return lfq_pool_worker_index(p);
	}
};

/** The pthread mutex + condvar pool baseline (bench/baselines/mutex_pool.c). */
struct MutexPoolImpl {
	using pool_type = struct mutex_pool;
	static constexpr const char *kName = "mutex";

	static int create(pool_type **p, unsigned workers, size_t capacity)
	{
		return mutex_pool_create(p, workers, capacity);
	}
	static void destroy(pool_type *p)
	{
		mutex_pool_destroy(p);
	}
	static int submit_wait(pool_type *p, int (*fn)(void *), void *arg)
	{
		return mutex_pool_submit_wait(p, fn, arg);
	}
	static int wait_idle(pool_type *p)
	{
		return mutex_pool_wait_idle(p);
	}
	static int worker_index(const pool_type *p)
	{
		return mutex_pool_worker_index(p);
	}
};

constexpr unsigned kMaxWorkers = 64;

/* One line per worker; written only by that worker, read after wait_idle. */
struct alignas(64) Tally {
	uint64_t count;
	uint64_t sum;
};
inline Tally tallies[kMaxWorkers];

} // namespace lfqbench

#endif /* LFQ_BENCH_POOL_IMPLS_H */
