// SPDX-License-Identifier: MIT
/*
 * bench_pool_tutorial: the tutorial's table, measured. 100 jobs go through a worker pool,
 * submitted one after another by one thread with the blocking submit; the time is from the
 * first submit to wait_idle returning, printed beside the ideal jobs x S / workers:
 *
 *   pool/tutorial/<impl>/io/S<s>ms/W<w>/Q<q>    each job sleeps S ms (nanosleep): I/O-bound
 *   pool/tutorial/<impl>/cpu/S<s>us/W<w>/Q<q>   each job spins S us on the monotonic clock:
 *                                               CPU-bound
 *
 * for workers w = 1, 2, 4, 8 and queue capacity q = 10, 100, 1000. <impl>: lfq (lfq_pool,
 * the default config), lfq_nopin (LFQ_POOL_NO_PIN), mutex (the mutex +
 * condvar pool of bench/baselines). Counters: ideal_ms = jobs x S / w, seconds in real_time,
 * efficiency = ideal / measured (1.0 = perfect scaling), speedup_vs_1 is left to the report.
 * Sleeping jobs scale with workers whatever the core count; spinning jobs stop scaling at
 * the number of CPUs the process may use, which is what the table is meant to show.
 *
 * Every job adds its argument to a per-worker tally; a run that did not execute each of the
 * jobs exactly once (count and sum) reports an error instead of a time.
 *
 * Environment: LFQ_BENCH_TUTORIAL_SLEEP_MS (default 10), LFQ_BENCH_TUTORIAL_SPIN_US (default
 * 1000), LFQ_BENCH_TUTORIAL_JOBS (default 100).
 */
#include "bench_common.h"

#include <lfq/pool.h>

#include "bench_pool_impls.h"
#include "mutex_pool.h"

#include <time.h>

#include <string>

using lfqbench::kMaxWorkers;
using lfqbench::LfqPoolImpl;
using lfqbench::MutexPoolImpl;
using lfqbench::now_ns;
using lfqbench::tallies;
using lfqbench::Tally;

namespace
{

/* ---- adapters: create, submit_wait, wait_idle, destroy, worker_index ---- */

/* Set before each run, read by the jobs (published by the submit). */
int64_t job_ns;
int (*current_worker_index)(const void *pool);
const void *current_pool;

template <class I> int worker_index_of(const void *pool)
{
	return I::worker_index(static_cast<const typename I::pool_type *>(pool));
}

void tally(void *arg)
{
	const int w = current_worker_index(current_pool);
	Tally &t = tallies[w < 0 || w >= static_cast<int>(kMaxWorkers) ? 0 : w];
	t.count++;
	t.sum += reinterpret_cast<uintptr_t>(arg);
}

int sleep_job(void *arg)
{
	const struct timespec ts = {static_cast<time_t>(job_ns / 1000000000),
				    static_cast<long>(job_ns % 1000000000)};
	nanosleep(&ts, nullptr);
	tally(arg);
	return 0;
}

int spin_job(void *arg)
{
	const int64_t end = now_ns() + job_ns;
	while (now_ns() < end)
		lfqbench::cpu_relax();
	tally(arg);
	return 0;
}

template <class I>
void BM_Tutorial(benchmark::State &state, bool io, int64_t ns, unsigned workers, size_t capacity)
{
	const uint64_t jobs = lfqbench::env_u64("LFQ_BENCH_TUTORIAL_JOBS", 100);
	std::string error;
	for (auto _ : state) {
		typename I::pool_type *pool = nullptr;
		int rc = I::create(&pool, workers, capacity);
		if (rc != 0) {
			error = "create failed: " + std::to_string(rc);
			break;
		}
		for (auto &t : tallies)
			t = Tally{};
		job_ns = ns;
		current_worker_index = worker_index_of<I>;
		current_pool = pool;

		const int64_t t0 = now_ns();
		for (uint64_t v = 1; v <= jobs && rc == 0; v++)
			rc = I::submit_wait(pool, io ? sleep_job : spin_job,
					    reinterpret_cast<void *>(v));
		if (rc == 0)
			rc = I::wait_idle(pool);
		const int64_t t1 = now_ns();
		I::destroy(pool);

		uint64_t count = 0, sum = 0;
		for (const auto &t : tallies) {
			count += t.count;
			sum += t.sum;
		}
		if (rc != 0)
			error = "submit or wait_idle failed: " + std::to_string(rc);
		else if (count != jobs || sum != jobs * (jobs + 1) / 2)
			error = "job check failed: ran " + std::to_string(count) + " of " +
				std::to_string(jobs);
		if (!error.empty())
			break;
		state.SetIterationTime(static_cast<double>(t1 - t0) / 1e9);
	}
	if (!error.empty()) {
		state.SkipWithError(error.c_str());
		return;
	}
	const double ideal_s = static_cast<double>(jobs) * static_cast<double>(ns) / 1e9 /
			       static_cast<double>(workers);
	state.counters["ideal_ms"] = ideal_s * 1e3;
	state.counters["jobs"] = static_cast<double>(jobs);
	state.counters["workers"] = workers;
	state.counters["capacity"] = static_cast<double>(capacity);
	state.counters["job_us"] = static_cast<double>(ns) / 1e3;
	/* efficiency = ideal / measured; kIsIterationInvariantRate would not fit, so the
	 * report computes it from real_time (the median's) and ideal_ms. */
}

template <class I> void register_impl()
{
	const int64_t sleep_ms =
		static_cast<int64_t>(lfqbench::env_u64("LFQ_BENCH_TUTORIAL_SLEEP_MS", 10));
	const int64_t spin_us =
		static_cast<int64_t>(lfqbench::env_u64("LFQ_BENCH_TUTORIAL_SPIN_US", 1000));
	const unsigned workers[] = {1, 2, 4, 8};
	const size_t capacities[] = {10, 100, 1000};
	for (bool io : {true, false}) {
		const std::string job = io ? "io/S" + std::to_string(sleep_ms) + "ms"
					   : "cpu/S" + std::to_string(spin_us) + "us";
		const int64_t ns = io ? sleep_ms * 1000000 : spin_us * 1000;
		for (unsigned w : workers) {
			for (size_t q : capacities) {
				const std::string name = std::string("pool/tutorial/") + I::kName +
							 "/" + job + "/W" + std::to_string(w) +
							 "/Q" + std::to_string(q);
				lfqbench::with_spread(benchmark::RegisterBenchmark(name.c_str(),
										   BM_Tutorial<I>,
										   io, ns, w, q))
					->UseManualTime()
					->Iterations(1)
					->Unit(benchmark::kMillisecond);
			}
		}
	}
}

} // namespace

int main(int argc, char **argv)
{
	return lfqbench::run_main(argc, argv, [] {
		register_impl<LfqPoolImpl<lfqbench::kPinDefault>>();
		register_impl<LfqPoolImpl<lfqbench::kPinNone>>();
		register_impl<MutexPoolImpl>();
	});
}
