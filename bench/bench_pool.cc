// SPDX-License-Identifier: MIT
/*
 * lfq_pool against the mutex+condvar pool (bench/baselines/mutex_pool) and, in a separate
 * program, a Go pool on a buffered channel (bench/peers/go/pool). Same jobs, same checks.
 *
 *   pool/throughput/<impl>/<job>/W<w>/S<s>/C<c>   w workers, s submitter threads, queue
 *                                            capacity c; <job> is "empty" or "1us" (spins 1 us on
 *                                            the monotonic clock); each submitter submits
 *                                            LFQ_BENCH_POOL_JOBS jobs (default 100000; 1us: a
 *                                            fifth of them)
 *   pool/latency/<impl>                      2 workers, capacity 1024: one job at a time on an
 *                                            idle pool (200 us pause before each, so lfq's
 *                                            workers are asleep): submit -> job starts
 *
 * <impl>: lfq (the default config), lfq_pin (workers pinned to the allowed CPUs,
 * round-robin), lfq_nopin (LFQ_POOL_NO_PIN), mutex, and the peers glib (GThreadPool) and uv
 * (libuv's threadpool) where found. GThreadPool's and libuv's queues are unbounded (C is
 * ignored) and libuv has one threadpool per process: its rows exist for W = its size only
 * (UV_THREADPOOL_SIZE, which this program sets to LFQ_BENCH_UV_THREADS, default 2, the
 * latency benchmark's, unless it is set already).
 *
 *   pool/features/<variant>/empty/W<w>/C1024   the cost of issue 6's features, same jobs:
 *                                            plain (no metrics, 1 level), metrics
 *                                            (LFQ_POOL_METRICS: 3 clock reads and 2
 *                                            histogram updates per job), prio8 (8 levels,
 *                                            jobs spread over them), metrics_prio8 (both).
 *                                            Run with --benchmark_enable_random_interleaving
 *                                            and repetitions, so that drift hits all alike.
 *
 * Every submitter uses the blocking submit (lfq_pool_submit_wait(-1), mutex_pool_submit_wait,
 * g_thread_pool_push and uv_queue_work, which never block, a channel send in Go). Time runs from
 * opening the start gate to wait_idle returning. Each job adds its argument to its worker's padded
 * tally; a run whose tallies do not add up to exactly the jobs submitted (count and sum) is
 * reported with SkipWithError.
 *
 * Run: build/poolbench/bench/bench_pool --benchmark_repetitions=5
 *          --benchmark_report_aggregates_only=true
 */
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <lfq/pool.h>

#include "bench_common.h"
#include "bench_pool_impls.h"
#include "mutex_pool.h"

using lfqbench::kMaxWorkers;
using lfqbench::kPinAll;
using lfqbench::kPinDefault;
using lfqbench::kPinNone;
using lfqbench::LfqPoolImpl;
using lfqbench::MutexPoolImpl;
using lfqbench::now_ns;
using lfqbench::tallies;
using lfqbench::Tally;

namespace
{

using lfqbench::StartGate;

void spin_ns(int64_t ns)
{
	const int64_t end = now_ns() + ns;
	while (now_ns() < end)
		lfqbench::cpu_relax();
}

/* ---- adapters ---- */

/* lfq_pool with issue 6's features on or off (see the file comment). */
enum Features { kPlain, kMetrics, kPrio8, kMetricsPrio8 };

template <Features F> struct LfqFeatureImpl : LfqPoolImpl<lfqbench::kPinDefault> {
	static constexpr const char *kName = F == kPlain     ? "features/plain"
					     : F == kMetrics ? "features/metrics"
					     : F == kPrio8   ? "features/prio8"
							     : "features/metrics_prio8";
	static constexpr bool kPrio = F == kPrio8 || F == kMetricsPrio8;

	static int create(pool_type **p, unsigned workers, size_t capacity)
	{
		struct lfq_pool_config cfg = {};
		cfg.workers = workers;
		cfg.queue_capacity = capacity;
		cfg.flags = (F == kMetrics || F == kMetricsPrio8) ? LFQ_POOL_METRICS : 0;
		cfg.priorities = kPrio ? 8 : 1;
		return lfq_pool_create(p, &cfg);
	}
	static int submit_wait(pool_type *p, int (*fn)(void *), void *arg)
	{
		struct lfq_job job = {};
		job.fn = fn;
		job.arg = arg;
		job.priority =
			kPrio ? static_cast<uint8_t>(reinterpret_cast<uintptr_t>(arg) % 8) : 0;
		return lfq_pool_submit_wait(p, &job, -1);
	}
};

template <class I> struct Current {
	static inline typename I::pool_type *pool;
};

template <class I, bool Work> int job(void *arg)
{
	const int w = I::worker_index(Current<I>::pool);
	Tally &t = tallies[w < 0 ? 0 : w];
	t.count++;
	t.sum += reinterpret_cast<uintptr_t>(arg);
	if (Work)
		spin_ns(1000);
	return 0;
}

/* ---- throughput ---- */

uint64_t jobs_per_submitter(bool work)
{
	const uint64_t n = lfqbench::env_u64("LFQ_BENCH_POOL_JOBS", 100000);
	return std::max<uint64_t>(1, work ? n / 5 : n);
}

template <class I, bool Work>
void BM_Pool_Throughput(benchmark::State &state, unsigned workers, unsigned submitters,
			size_t capacity)
{
	const uint64_t items = jobs_per_submitter(Work) * submitters;
	const lfqbench::Placement where = lfqbench::pool_placement.where;
	std::string error;
	double seconds = 0;
	lfqbench::ProcessCost cost;

	for (auto _ : state) {
		typename I::pool_type *pool = nullptr;
		lfqbench::pool_placement.first_worker = submitters;
		int rc = I::create(&pool, workers, capacity);
		if (rc != 0) {
			error = "create failed: " + std::to_string(rc);
			break;
		}
		Current<I>::pool = pool;
		for (auto &t : tallies)
			t = Tally{};
		StartGate gate;
		std::atomic<int> submit_error{0};
		std::vector<std::thread> threads;
		for (unsigned s = 0; s < submitters; s++) {
			threads.emplace_back([&, s] {
				const uint64_t begin = items * s / submitters + 1;
				const uint64_t end = items * (s + 1) / submitters + 1;
				gate.arrive_and_wait();
				for (uint64_t v = begin; v < end; v++) {
					const int r = I::submit_wait(pool, job<I, Work>,
								     reinterpret_cast<void *>(v));
					if (r != 0) {
						submit_error.store(r, std::memory_order_relaxed);
						return;
					}
				}
			});
			lfqbench::place_thread(threads.back().native_handle(), s, where);
		}
		gate.wait_for(submitters);
		const lfqbench::ProcessCost cost0 = lfqbench::ProcessCost::now();
		const int64_t t0 = now_ns();
		gate.open();
		for (auto &t : threads)
			t.join();
		rc = I::wait_idle(pool);
		const int64_t t1 = now_ns();
		const lfqbench::ProcessCost spent = lfqbench::ProcessCost::now() - cost0;
		cost.cpu_ns += spent.cpu_ns;
		cost.switches += spent.switches;
		seconds = static_cast<double>(t1 - t0) / 1e9;
		state.SetIterationTime(seconds);

		uint64_t count = 0, sum = 0;
		for (const auto &t : tallies) {
			count += t.count;
			sum += t.sum;
		}
		I::destroy(pool);
		if (rc != 0 || submit_error.load() != 0)
			error = "submit or wait_idle failed: " + std::to_string(rc) + " / " +
				std::to_string(submit_error.load());
		else if (count != items || sum != items * (items + 1) / 2)
			error = "job check failed: ran " + std::to_string(count) + " of " +
				std::to_string(items);
		if (!error.empty())
			break;
	}
	if (!error.empty()) {
		state.SkipWithError(error.c_str());
		return;
	}
	state.counters["jobs_per_s"] = static_cast<double>(items) / seconds;
	/* On-CPU time and context switches of the whole process (submitters, workers, any
	 * helper thread) per job, from the gate opening to wait_idle returning. */
	const double runs = static_cast<double>(state.iterations());
	state.counters["cpu_ns_per_job"] = cost.cpu_ns / runs / static_cast<double>(items);
	state.counters["csw_per_job"] = cost.switches / runs / static_cast<double>(items);
	state.SetLabel(lfqbench::placement_name(where));
	state.counters["workers"] = workers;
	state.counters["submitters"] = submitters;
	state.counters["capacity"] = static_cast<double>(capacity);
}

/* ---- latency ---- */

std::atomic<int64_t> job_started_ns;

int latency_job(void *)
{
	/* Release pairs with the acquire in the waiting loop below. */
	job_started_ns.store(now_ns(), std::memory_order_release);
	return 0;
}

double percentile(std::vector<int64_t> v, double q)
{
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	size_t rank = static_cast<size_t>(q * static_cast<double>(v.size()) + 0.999999);
	rank = std::min(std::max<size_t>(rank, 1), v.size());
	return static_cast<double>(v[rank - 1]);
}

template <class I> void BM_Pool_Latency(benchmark::State &state)
{
	const uint64_t samples = lfqbench::env_u64("LFQ_BENCH_LAT_SAMPLES", 2000);
	std::vector<int64_t> lat;
	std::string error;

	for (auto _ : state) {
		typename I::pool_type *pool = nullptr;
		if (I::create(&pool, 2, 1024) != 0) {
			error = "create failed";
			break;
		}
		lat.clear();
		const int64_t t_begin = now_ns();
		for (uint64_t i = 0; i < samples; i++) {
			const struct timespec pause = {0, 200000};
			nanosleep(&pause, nullptr);
			job_started_ns.store(0, std::memory_order_relaxed);
			const int64_t t0 = now_ns();
			if (I::submit_wait(pool, latency_job, nullptr) != 0) {
				error = "submit failed";
				break;
			}
			int64_t started;
			while ((started = job_started_ns.load(std::memory_order_acquire)) == 0)
				lfqbench::cpu_relax();
			lat.push_back(started - t0);
		}
		(void)I::wait_idle(pool);
		I::destroy(pool);
		state.SetIterationTime(static_cast<double>(now_ns() - t_begin) / 1e9);
		if (!error.empty())
			break;
	}
	if (!error.empty() || lat.size() != samples) {
		state.SkipWithError(error.empty() ? "missing samples" : error.c_str());
		return;
	}
	state.counters["p50_ns"] = percentile(lat, 0.50);
	state.counters["p99_ns"] = percentile(lat, 0.99);
	state.counters["p999_ns"] = percentile(lat, 0.999);
	state.counters["samples"] = static_cast<double>(samples);
}

template <class I> void register_features()
{
	for (unsigned w : {1u, 2u}) {
		const std::string name =
			std::string("pool/") + I::kName + "/empty/W" + std::to_string(w) + "/C1024";
		lfqbench::with_spread(benchmark::RegisterBenchmark(name.c_str(),
								   BM_Pool_Throughput<I, false>, w,
								   w, 1024))
			->UseManualTime()
			->Iterations(1)
			->Unit(benchmark::kMillisecond);
	}
}

void register_throughput(const std::string &name,
			 void (*fn)(benchmark::State &, unsigned, unsigned, size_t), unsigned w,
			 unsigned s, size_t c)
{
	lfqbench::with_spread(benchmark::RegisterBenchmark(name.c_str(), fn, w, s, c))
		->UseManualTime()
		->Iterations(1)
		->Unit(benchmark::kMillisecond);
}

/* W in {1,2,4,8} x S in {1,4} at capacity 1024, and W2 x S in {1,4} at 64 and 65536. */
template <class I> void register_impl(unsigned only_workers = 0)
{
	for (int work = 0; work < 2; work++) {
		for (unsigned w : {1u, 2u, 4u, 8u}) {
			if (only_workers && w != only_workers)
				continue;
			for (unsigned s : {1u, 4u}) {
				for (size_t c : {size_t{64}, size_t{1024}, size_t{65536}}) {
					if (c != 1024 && w != 2)
						continue;
					const std::string name =
						std::string("pool/throughput/") + I::kName +
						(work ? "/1us" : "/empty") + "/W" +
						std::to_string(w) + "/S" + std::to_string(s) +
						"/C" + std::to_string(c);
					register_throughput(name,
							    work ? BM_Pool_Throughput<I, true>
								 : BM_Pool_Throughput<I, false>,
							    w, s, c);
				}
			}
		}
	}
	if (only_workers && only_workers != 2)
		return; /* the latency benchmark has 2 workers */
	lfqbench::with_spread(
		benchmark::RegisterBenchmark((std::string("pool/latency/") + I::kName).c_str(),
					     BM_Pool_Latency<I>))
		->UseManualTime()
		->Iterations(1)
		->Unit(benchmark::kMillisecond);
}

} // namespace

int main(int argc, char **argv)
{
#ifdef LFQ_BENCH_HAVE_UV
	/* libuv sizes its one threadpool from this, once, at its first use (below). */
	const std::string uv_threads = std::to_string(lfqbench::env_u64("LFQ_BENCH_UV_THREADS", 2));
	setenv("UV_THREADPOOL_SIZE", uv_threads.c_str(), 0);
#endif
	return lfqbench::run_main(argc, argv, [] {
		register_impl<LfqPoolImpl<kPinDefault>>();
		register_impl<LfqPoolImpl<kPinAll>>();
		register_impl<LfqPoolImpl<kPinNone>>();
		register_impl<MutexPoolImpl>();
#ifdef LFQ_BENCH_HAVE_GLIB
		register_impl<lfqbench::GlibPoolImpl>();
#endif
#ifdef LFQ_BENCH_HAVE_UV
		register_impl<lfqbench::UvPoolImpl>(uv_pool_threads());
#endif
		register_features<LfqFeatureImpl<kPlain>>();
		register_features<LfqFeatureImpl<kMetrics>>();
		register_features<LfqFeatureImpl<kPrio8>>();
		register_features<LfqFeatureImpl<kMetricsPrio8>>();
	});
}
