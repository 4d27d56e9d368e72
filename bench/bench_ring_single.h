// SPDX-License-Identifier: MIT
/*
 * The single-thread ring benchmarks shared by bench_ring.cc and bench_ring_proto.cc: a
 * push+pop pair and a burst of 32 in and out, on a ring of kSingleCapacity, each checking
 * that what came out is what went in.
 */
#ifndef LFQ_BENCH_RING_SINGLE_H
#define LFQ_BENCH_RING_SINGLE_H

#include "bench_common.h"
#include "bench_mpmc.h"

namespace lfqbench
{

constexpr size_t kSingleCapacity = 1024;

template <class I> inline void BM_Ring_PushPop(benchmark::State &state)
{
	lfqbench::RingHandle<I> ring(kSingleCapacity);
	if (!ring.ok()) {
		state.SkipWithError("ring create failed");
		return;
	}
	void *in = encode_item(0, 0);
	void *out = nullptr;
	for (auto _ : state) {
		if (I::push(ring.get(), in) != 0 || I::pop(ring.get(), &out) != 0 || out != in) {
			state.SkipWithError(
				"push or pop failed on a ring that is neither full nor empty");
			break;
		}
		benchmark::DoNotOptimize(out);
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

template <class I> inline void BM_Ring_Burst32(benchmark::State &state)
{
	static_assert(!lfqbench::BlockingCalls<I>::value, "no bursts with blocking calls");
	lfqbench::RingHandle<I> ring(kSingleCapacity);
	if (!ring.ok()) {
		state.SkipWithError("ring create failed");
		return;
	}
	void *in[kBurst];
	void *out[kBurst];
	for (size_t i = 0; i < kBurst; i++)
		in[i] = encode_item(0, i);
	for (auto _ : state) {
		if (I::push_burst(ring.get(), in, kBurst) != kBurst ||
		    I::pop_burst(ring.get(), out, kBurst) != kBurst ||
		    out[kBurst - 1] != in[kBurst - 1]) {
			state.SkipWithError("a burst of 32 did not go through a ring of 1024");
			break;
		}
		benchmark::DoNotOptimize(out);
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBurst));
}

} // namespace lfqbench

#endif /* LFQ_BENCH_RING_SINGLE_H */
