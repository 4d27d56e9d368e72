// SPDX-License-Identifier: MIT
/*
 * bench_ring: lfq_ring against the baselines (mutex, Vyukov, spinlock rings) and the peers
 * found at build time (bench_peers.h: ck_ring, Boost.Lockfree, oneTBB, DPDK rte_ring,
 * atomic_queue, moodycamel, xenium, libcds), with Google Benchmark. Every benchmark is
 * registered once per adapter in lfqbench::RingImpls, where the adapter's traits allow
 * (bench_impl_list.h: single-producer/consumer modes only at shapes within their limits,
 * adapters with blocking calls without the burst benchmarks):
 *
 *   ring/pushpop/<impl>                            one thread: push one item, pop it back
 *   ring/burst32/<impl>                            one thread: push_burst 32, pop_burst 32
 *   ring/mpmc/<impl>/P<p>C<c>/cap<n>[/<placement>] p producers, c consumers, capacity n,
 *                                                  single-item calls; /spread: threads pinned
 *                                                  round-robin over the allowed CPUs,
 *                                                  /packed: all on one CPU, none: unpinned
 *   ring/mpmc_burst32/<impl>/P<p>C<c>/cap<n>[/<placement>] the same with bursts of up to 32
 *   ring/handoff/spread                            the machine, not a ring: one-way time of a
 *                                                  cache line between the first two allowed
 *                                                  CPUs (a ping-pong); the spread figures
 *                                                  depend on it, so it is printed beside them
 *
 * (Google Benchmark appends "/iterations:1/process_time/manual_time" to the multi-thread
 * names.) The grid is every shape of kMpmcShapes (oversubscribed from 2 threads per CPU on)
 * x every capacity of kCapacities x the three placements; scripts/bench picks a subset with
 * --benchmark_filter. The single-thread benchmarks use capacity 1024.
 *
 * Multi-thread runs (bench_mpmc.h): each iteration creates a ring, starts p + c threads behind
 * a start gate, and moves LFQ_BENCH_ITEMS items (default 1,000,000) split across the
 * producers. The time is wall-clock from opening the gate to the last consumer finishing
 * (thread creation and joining excluded), so items_per_second = items / wall time. A failed
 * push or pop is retried under lfqbench::Retry, the same policy for every implementation.
 * Each iteration checks its own result (count, sum, per-producer order as seen by each
 * consumer) and reports an error instead of a number if anything is off. A run that has not
 * finished by a deadline (LFQ_BENCH_TIMEOUT seconds, default 60 + 1 per 100,000 items) is
 * flagged `stalled` (counter 1) and reports the verified items it moved over the deadline.
 * Every multi-thread run happens in a forked child (LFQ_BENCH_ISOLATE=0: in-process) that is
 * killed when it outlives that deadline: a peer spinning inside its own call cannot hang the
 * sweep. Counters cpu_ns_per_item and csw_per_item give the run's on-CPU time and context
 * switches per item, summed over all its threads.
 *
 * Adapters with blocking calls (atomic_queue's push/pop: aq_*_blk) are registered only at
 * shapes with no more threads than allowed CPUs, unless LFQ_BENCH_BLOCKING_OVERSUBSCRIBED=1:
 * their runs cannot be stopped at the deadline.
 *
 * Environment: LFQ_BENCH_ITEMS, LFQ_BENCH_TIMEOUT, LFQ_BENCH_BLOCKING_OVERSUBSCRIBED,
 * LFQ_BENCH_ISOLATE.
 */
#include "bench_common.h"
#include "bench_mpmc.h"
#include "bench_ring_single.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace
{

/* ---------------------------------------------------------------------------------------- */
/* Single thread. */

template <class I>
void BM_Ring_Mpmc(benchmark::State &state, unsigned producers, unsigned consumers, size_t capacity,
		  bool burst, lfqbench::Placement where)
{
	lfqbench::MpmcParams p;
	p.producers = producers;
	p.consumers = consumers;
	p.capacity = capacity;
	p.total = lfqbench::bench_items();
	p.burst = burst;
	p.placement = where;
	p.isolate = lfqbench::bench_isolate();
	p.timeout = std::chrono::seconds(lfqbench::bench_timeout_s());

	if (!lfqbench::run_mpmc_benchmark<I>(state, p))
		return;
	state.counters["capacity"] = static_cast<double>(capacity);
	state.counters["pinned"] = where != lfqbench::Placement::kFree ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The machine's cross-CPU hand-off. */

/* Two threads on the first two allowed CPUs bounce a counter: each waits for the other's
 * value, then stores the next. One round trip is two one-way hand-offs of the line. */
void BM_Handoff(benchmark::State &state)
{
	const uint64_t rounds = 200000;
	double one_way_ns = 0;
	for (auto _ : state) {
		alignas(64) std::atomic<uint64_t> turn{0};
		lfqbench::StartGate gate;
		auto player = [&](uint64_t me) {
			gate.arrive_and_wait();
			for (uint64_t i = me; i < 2 * rounds; i += 2) {
				/* Acquire/release: the counter is the only data; the orders keep
				 * each store after the load it answers. */
				while (turn.load(std::memory_order_acquire) != i)
					lfqbench::cpu_relax();
				turn.store(i + 1, std::memory_order_release);
			}
		};
		std::thread a(player, 0), b(player, 1);
		lfqbench::place_thread(a.native_handle(), 0, lfqbench::Placement::kSpread);
		lfqbench::place_thread(b.native_handle(), 1, lfqbench::Placement::kSpread);
		gate.wait_for(2);
		const auto t0 = std::chrono::steady_clock::now();
		gate.open();
		a.join();
		b.join();
		const double secs =
			std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
				.count();
		state.SetIterationTime(secs);
		one_way_ns = secs * 1e9 / static_cast<double>(2 * rounds);
	}
	state.counters["handoff_ns"] = one_way_ns;
}

/* ---------------------------------------------------------------------------------------- */

struct Shape {
	unsigned producers;
	unsigned consumers;
};

constexpr Shape kMpmcShapes[] = {{1, 1}, {2, 2}, {4, 4}, {8, 8}, {1, 4}, {4, 1}};
constexpr size_t kCapacities[] = {64, 1024, 16384, 65536};

template <class I>
void register_mpmc(const char *bench, const Shape &s, size_t capacity, bool burst,
		   lfqbench::Placement where)
{
	/* Single-producer or single-consumer modes only where their limits allow. */
	if (!lfqbench::supports_shape<I>(s.producers, s.consumers))
		return;
	/* Blocking calls (atomic_queue's push/pop) spin inside the call without yielding and
	 * cannot be stopped at the deadline: oversubscribed, a run of them takes minutes (16k
	 * items/s at 8P8C on 2 vCPUs). Only with threads <= CPUs, unless asked for. */
	if (lfqbench::BlockingCalls<I>::value &&
	    lfqbench::threads_per_cpu(s.producers + s.consumers) > 1.0 &&
	    lfqbench::env_u64("LFQ_BENCH_BLOCKING_OVERSUBSCRIBED", 0) == 0)
		return;
	std::string name = std::string("ring/") + bench + "/" + I::kName + "/P" +
			   std::to_string(s.producers) + "C" + std::to_string(s.consumers) +
			   "/cap" + std::to_string(capacity);
	if (where != lfqbench::Placement::kFree)
		name += std::string("/") + lfqbench::placement_name(where);
	lfqbench::with_spread(benchmark::RegisterBenchmark(name.c_str(), BM_Ring_Mpmc<I>,
							   s.producers, s.consumers, capacity,
							   burst, where))
		->UseManualTime()
		->MeasureProcessCPUTime()
		->Iterations(1)
		->Unit(benchmark::kMillisecond);
}

void register_ring_benchmarks()
{
	lfqbench::with_spread(benchmark::RegisterBenchmark("ring/handoff/spread", BM_Handoff))
		->UseManualTime()
		->Iterations(1)
		->Unit(benchmark::kMillisecond);
	lfqbench::for_each_impl(lfqbench::RingImpls{}, [](auto tag) {
		using I = typename decltype(tag)::type;
		const std::string impl = I::kName;
		lfqbench::with_spread(benchmark::RegisterBenchmark(("ring/pushpop/" + impl).c_str(),
								   lfqbench::BM_Ring_PushPop<I>));
		if constexpr (!lfqbench::BlockingCalls<I>::value)
			lfqbench::with_spread(benchmark::RegisterBenchmark(
				("ring/burst32/" + impl).c_str(), lfqbench::BM_Ring_Burst32<I>));
	});
	lfqbench::for_each_impl(lfqbench::RingImpls{}, [](auto tag) {
		using I = typename decltype(tag)::type;
		for (lfqbench::Placement where :
		     {lfqbench::Placement::kFree, lfqbench::Placement::kSpread,
		      lfqbench::Placement::kPacked}) {
			for (const Shape &s : kMpmcShapes)
				for (size_t cap : kCapacities)
					register_mpmc<I>("mpmc", s, cap, false, where);
			if constexpr (!lfqbench::BlockingCalls<I>::value)
				for (size_t cap : kCapacities)
					register_mpmc<I>("mpmc_burst32", Shape{1, 1}, cap, true,
							 where);
		}
	});
}

} // namespace

int main(int argc, char **argv)
{
	return lfqbench::run_main(argc, argv, [] { register_ring_benchmarks(); });
}
