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
#include <vector>

#include <sched.h>

#include <lfq/pool.h>

#include "bench_common.h"
#include "mutex_pool.h"
#ifdef LFQ_BENCH_HAVE_GLIB
#include "glib_pool_peer.h"
#endif
#ifdef LFQ_BENCH_HAVE_UV
#include "uv_pool_peer.h"
#endif

namespace lfqbench
{

inline int64_t now_ns()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/** How LfqPoolImpl places the workers: the library's default, pinned to the allowed CPUs
 * round-robin (an explicit cpus list), or LFQ_POOL_NO_PIN. */
enum PinMode { kPinDefault, kPinAll, kPinNone };

/* The CPUs this process may run on, in order (at least one entry: CPU 0 if unknown). */
inline std::vector<unsigned> allowed_cpus()
{
	std::vector<unsigned> cpus;
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (unsigned c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				cpus.push_back(c);
	if (cpus.empty())
		cpus.push_back(0);
	return cpus;
}

/**
 * Where the pool benchmark's threads run (bench_common.h's Placement, from
 * LFQ_BENCH_PLACEMENT): the submitters are threads 0 .. S-1 of the run, and lfq's workers
 * (the default `lfq` adapter) threads S, S+1, ..., so that spread puts a submitter and the
 * first worker on different CPUs and packed puts all of them on the first allowed CPU. The
 * peers and the mutex baseline own their threads: they get placement through the process's
 * affinity only (scripts/bench runs packed under taskset), as their users would.
 */
struct PoolPlacement {
	Placement where = bench_placement();
	unsigned first_worker = 0; /* the run's thread index of worker 0 (= submitters) */
};
inline PoolPlacement pool_placement;

/** lfq_pool in one of the PinModes. */
template <PinMode Pin> struct LfqPoolImpl {
	using pool_type = struct lfq_pool;
	static constexpr const char *kName = Pin == kPinDefault ? "lfq"
					     : Pin == kPinAll	? "lfq_pin"
								: "lfq_nopin";

	static int create(pool_type **p, unsigned workers, size_t capacity)
	{
		static const std::vector<unsigned> cpus = allowed_cpus();
		struct lfq_pool_config cfg = {};
		cfg.workers = workers;
		cfg.queue_capacity = capacity;
		cfg.flags = Pin == kPinNone ? LFQ_POOL_NO_PIN : 0;
		if (Pin == kPinAll) {
			cfg.cpus = cpus.data();
			cfg.ncpus = cpus.size();
		}
		/* The default adapter follows the run's placement: worker i is thread
		 * first_worker + i of the run (see PoolPlacement). */
		std::vector<unsigned> placed;
		if (Pin == kPinDefault && pool_placement.where != Placement::kFree) {
			for (size_t i = 0; i < cpus.size(); i++)
				placed.push_back(pool_placement.where == Placement::kPacked
							 ? cpus[0]
							 : cpus[(pool_placement.first_worker + i) %
								cpus.size()]);
			cfg.cpus = placed.data();
			cfg.ncpus = placed.size();
		}
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

#ifdef LFQ_BENCH_HAVE_GLIB
/** GLib's GThreadPool (bench/peers/glib): unbounded, so capacity is ignored. */
struct GlibPoolImpl {
	using pool_type = struct glib_pool;
	static constexpr const char *kName = "glib";

	static int create(pool_type **p, unsigned workers, size_t)
	{
		return glib_pool_create(p, workers);
	}
	static void destroy(pool_type *p)
	{
		glib_pool_destroy(p);
	}
	static int submit_wait(pool_type *p, int (*fn)(void *), void *arg)
	{
		/* GLib refuses NULL items: the latency job, which reads no argument, gets a
		 * dummy. */
		return glib_pool_submit(p, fn, arg ? arg : reinterpret_cast<void *>(1));
	}
	static int wait_idle(pool_type *p)
	{
		return glib_pool_wait_idle(p);
	}
	static int worker_index(const pool_type *p)
	{
		return glib_pool_worker_index(p);
	}
};
#endif

#ifdef LFQ_BENCH_HAVE_UV
/** libuv's threadpool (bench/peers/uv): one per process, uv_pool_threads() workers. */
struct UvPoolImpl {
	using pool_type = struct uv_pool;
	static constexpr const char *kName = "uv";

	static int create(pool_type **p, unsigned workers, size_t)
	{
		return uv_pool_create(p, workers);
	}
	static void destroy(pool_type *p)
	{
		uv_pool_destroy(p);
	}
	static int submit_wait(pool_type *p, int (*fn)(void *), void *arg)
	{
		return uv_pool_submit(p, fn, arg);
	}
	static int wait_idle(pool_type *p)
	{
		return uv_pool_wait_idle(p);
	}
	static int worker_index(const pool_type *p)
	{
		return uv_pool_worker_index(p);
	}
};
#endif

constexpr unsigned kMaxWorkers = 64;

/* One line per worker; written only by that worker, read after wait_idle. */
struct alignas(64) Tally {
	uint64_t count;
	uint64_t sum;
};
inline Tally tallies[kMaxWorkers];

} // namespace lfqbench

#endif /* LFQ_BENCH_POOL_IMPLS_H */
