// SPDX-License-Identifier: MIT
/*
 * bench_ring_proto: the issue-11 ring prototypes (bench/prototypes) against Vyukov's ring,
 * today's lfq_ring and the mutex ring, with the same self-checking MPMC run as bench_ring
 * (bench_mpmc.h). Rows:
 *
 *   ring_proto/pushpop/<impl>                       one thread: push one item, pop it back
 *   ring_proto/burst32/<impl>                       one thread: push_burst 32, pop_burst 32
 *   ring_proto/mpmc/<impl>/P<n>C<n>/cap<c>          n = 1, 2, 4, 8; c = 1024, 65536
 *   ring_proto/mpmc_burst32/<impl>/P1C1/cap<c>      bursts of up to 32
 *
 * Implementations: ringb (candidate B, consecutive tickets on consecutive cells),
 * ringb_spread (the same with SCQ's remap: consecutive tickets on different cache lines),
 * vyukov, lfq, mutex. Built only where the prototypes are (x86-64).
 * Environment: LFQ_BENCH_ITEMS, LFQ_BENCH_TIMEOUT (as bench_ring).
 */
#include "bench_common.h"
#include "bench_mpmc.h"
#include "bench_ring_single.h"

#include "ringb.h"

#include <string>

namespace
{

template <unsigned Flags, const char *Name> struct RingbAdapter {
	using ring_type = struct ringb;
	static constexpr const char *kName = Name;

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		return ringb_create(r, capacity, Flags);
	}
	static void destroy(ring_type *r)
	{
		ringb_destroy(r);
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return ringb_push(r, item);
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return ringb_pop(r, item);
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		return ringb_push_burst(r, items, n);
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		return ringb_pop_burst(r, items, n);
	}
};

constexpr char kRingbName[] = "ringb";
constexpr char kRingbSpreadName[] = "ringb_spread";
using Ringb = RingbAdapter<RINGB_FLAGS_NONE, kRingbName>;
using RingbSpread = RingbAdapter<RINGB_FLAGS_SPREAD, kRingbSpreadName>;

using ProtoImpls = lfqbench::ImplList<Ringb, RingbSpread, lfqbench::VyukovRing, lfqbench::LfqRing,
				      lfqbench::MutexRing>;

template <class I> void BM_Mpmc(benchmark::State &state, unsigned n, size_t capacity, bool burst)
{
	lfqbench::MpmcParams p;
	p.producers = n;
	p.consumers = n;
	p.capacity = capacity;
	p.total = lfqbench::bench_items();
	p.burst = burst;
	p.timeout = std::chrono::seconds(lfqbench::bench_timeout_s());
	if (!lfqbench::run_mpmc_benchmark<I>(state, p))
		return;
	state.counters["capacity"] = static_cast<double>(capacity);
}

void register_proto_benchmarks()
{
	lfqbench::for_each_impl(ProtoImpls{}, [](auto tag) {
		using I = typename decltype(tag)::type;
		const std::string impl = I::kName;
		lfqbench::with_spread(benchmark::RegisterBenchmark(
			("ring_proto/pushpop/" + impl).c_str(), lfqbench::BM_Ring_PushPop<I>));
		lfqbench::with_spread(benchmark::RegisterBenchmark(
			("ring_proto/burst32/" + impl).c_str(), lfqbench::BM_Ring_Burst32<I>));
	});
	lfqbench::for_each_impl(ProtoImpls{}, [](auto tag) {
		using I = typename decltype(tag)::type;
		const std::string impl = I::kName;
		for (size_t cap : {size_t{1024}, size_t{65536}}) {
			for (unsigned n : {1u, 2u, 4u, 8u}) {
				const std::string name =
					"ring_proto/mpmc/" + impl + "/P" + std::to_string(n) + "C" +
					std::to_string(n) + "/cap" + std::to_string(cap);
				lfqbench::with_spread(benchmark::RegisterBenchmark(name.c_str(),
										   BM_Mpmc<I>, n,
										   cap, false))
					->UseManualTime()
					->MeasureProcessCPUTime()
					->Iterations(1)
					->Unit(benchmark::kMillisecond);
			}
			const std::string name = "ring_proto/mpmc_burst32/" + impl + "/P1C1/cap" +
						 std::to_string(cap);
			lfqbench::with_spread(benchmark::RegisterBenchmark(name.c_str(), BM_Mpmc<I>,
									   1u, cap, true))
				->UseManualTime()
				->MeasureProcessCPUTime()
				->Iterations(1)
				->Unit(benchmark::kMillisecond);
		}
	});
}

} // namespace

int main(int argc, char **argv)
{
	return lfqbench::run_main(argc, argv, [] { register_proto_benchmarks(); });
}
