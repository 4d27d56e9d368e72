// SPDX-License-Identifier: MIT
/*
 * bench_ring: lfq_ring against the baselines (mutex, Vyukov, spinlock rings), with Google
 * Benchmark. Every benchmark is registered once per adapter in lfqbench::RingImpls, named
 *
 *   ring/pushpop/<impl>                  one thread: push one item, pop it back
 *   ring/burst32/<impl>                  one thread: push_burst 32, pop_burst 32
 *   ring/mpmc/<impl>/P<p>C<c>            p producer and c consumer threads, single-item calls
 *   ring/mpmc_burst32/<impl>/P<p>C<c>    the same with bursts of up to 32
 *
 * (Google Benchmark appends "/iterations:1/manual_time" to the multi-thread names.) Split
 * a name on '/' to get benchmark, implementation and shape; items_per_second is the number
 * to compare. All rings have capacity kCapacity.
 *
 * Multi-thread runs: each iteration creates a ring, starts p + c threads behind a start gate,
 * and moves LFQ_BENCH_ITEMS items (default 1,000,000) split across the producers. The time
 * is wall-clock from opening the gate to the last consumer finishing (thread creation and
 * joining excluded), so items_per_second = items / wall time. A failed push or pop is retried
 * under lfqbench::Retry, the same policy for every implementation. Each iteration checks its
 * own result (count, sum, per-producer order as seen by each consumer) and reports an error
 * instead of a number if anything is off, or if it makes no progress before a deadline
 * (LFQ_BENCH_TIMEOUT seconds, default 60 + 1 per 100,000 items).
 *
 * Environment: LFQ_BENCH_ITEMS, LFQ_BENCH_TIMEOUT, LFQ_BENCH_PIN=1 (pin workers round-robin).
 */
#include "bench_common.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace
{

using lfqbench::Retry;
using Clock = std::chrono::steady_clock;

constexpr size_t kCapacity = 1024;
constexpr size_t kBurst = 32;

/*
 * Item encoding: value = (producer << kSeqBits) + seq + 1, never 0, so that 0 (NULL) can
 * serve as the end-of-stream marker. seq counts a producer's items from 0.
 */
constexpr unsigned kSeqBits = 40;
constexpr uint64_t kSeqMask = (uint64_t{1} << kSeqBits) - 1;

inline void *encode(uint64_t producer, uint64_t seq)
{
	return reinterpret_cast<void *>(static_cast<uintptr_t>((producer << kSeqBits) + seq + 1));
}

/* ---------------------------------------------------------------------------------------- */
/* Single thread. */

template <class I> void BM_Ring_PushPop(benchmark::State &state)
{
	lfqbench::RingHandle<I> ring(kCapacity);
	if (!ring.ok()) {
		state.SkipWithError("ring create failed");
		return;
	}
	void *in = encode(0, 0);
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

template <class I> void BM_Ring_Burst32(benchmark::State &state)
{
	lfqbench::RingHandle<I> ring(kCapacity);
	if (!ring.ok()) {
		state.SkipWithError("ring create failed");
		return;
	}
	void *in[kBurst];
	void *out[kBurst];
	for (size_t i = 0; i < kBurst; i++)
		in[i] = encode(0, i);
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

/* ---------------------------------------------------------------------------------------- */
/* Multi-producer, multi-consumer. */

/* Per-thread tallies, each on its own cache line so the threads do not share lines. */
struct alignas(64) ProducerStats {
	uint64_t pushed = 0;
	uint64_t sum = 0; /* of the values pushed, modulo 2^64 */
	uint64_t eagain = 0;
};

struct alignas(64) ConsumerStats {
	uint64_t popped = 0;
	uint64_t sum = 0;
	uint64_t eagain = 0;
	uint64_t out_of_order = 0;  /* a producer's items seen by this consumer out of order */
	uint64_t bad_value = 0;	    /* decoded to a producer that does not exist */
	std::vector<uint64_t> last; /* per producer: last seq seen + 1, 0 = none yet */
	Clock::time_point end;
};

/* Shared by the threads of one iteration. */
struct MpmcShared {
	unsigned producers;
	unsigned consumers;
	std::atomic<unsigned> producers_done{0};
	std::atomic<unsigned> markers_popped{0};
	std::atomic<bool> abort{false};
	Clock::time_point deadline;
	lfqbench::StartGate gate;

	/* Called on the slow path (after Retry yielded). @return true if the run must stop. */
	bool should_abort()
	{
		/* Relaxed: a stop request carries no data; results are read after join(). */
		if (abort.load(std::memory_order_relaxed))
			return true;
		if (Clock::now() > deadline) {
			abort.store(true, std::memory_order_relaxed);
			return true;
		}
		return false;
	}
	/* Relaxed: a count of end markers; the popped items' tallies travel by join(). */
	bool all_markers_popped() const
	{
		return markers_popped.load(std::memory_order_relaxed) == consumers;
	}
};

inline void account(ConsumerStats &st, const MpmcShared &sh, void *item)
{
	uint64_t v = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(item)) - 1;
	uint64_t producer = v >> kSeqBits;
	uint64_t seq = v & kSeqMask;
	st.popped++;
	st.sum += v + 1;
	if (producer >= sh.producers) {
		st.bad_value++;
		return;
	}
	if (seq + 1 <= st.last[producer])
		st.out_of_order++;
	st.last[producer] = seq + 1;
}

/* The last producer to finish pushes one end marker (NULL) per consumer. In a FIFO every item
 * is popped before any marker, so once all markers are popped, every item has been. */
template <class I> void push_end_markers(typename I::ring_type *ring, MpmcShared &sh)
{
	/* acq_rel: the last producer's markers are pushed after every other producer's last
	 * push returned (pairs with the other producers' release increments). */
	if (sh.producers_done.fetch_add(1, std::memory_order_acq_rel) + 1 != sh.producers)
		return;
	Retry retry;
	for (unsigned i = 0; i < sh.consumers; i++) {
		while (I::push(ring, nullptr) != 0) {
			if (retry.backoff() && sh.should_abort())
				return;
		}
		retry.reset();
	}
}

template <class I>
void produce(typename I::ring_type *ring, MpmcShared &sh, ProducerStats &st, uint64_t id,
	     uint64_t count, bool burst)
{
	Retry retry;
	sh.gate.arrive_and_wait();
	if (!burst) {
		for (uint64_t seq = 0; seq < count; seq++) {
			void *item = encode(id, seq);
			while (I::push(ring, item) != 0) {
				st.eagain++;
				if (retry.backoff() && sh.should_abort())
					return;
			}
			retry.reset();
			st.pushed++;
			st.sum += reinterpret_cast<uintptr_t>(item);
		}
	} else {
		void *items[kBurst];
		uint64_t seq = 0;
		while (seq < count) {
			size_t n = static_cast<size_t>(std::min<uint64_t>(kBurst, count - seq));
			for (size_t i = 0; i < n; i++)
				items[i] = encode(id, seq + i);
			size_t done = 0;
			while (done < n) {
				size_t k = I::push_burst(ring, items + done, n - done);
				if (k == 0) {
					st.eagain++;
					if (retry.backoff() && sh.should_abort())
						return;
					continue;
				}
				retry.reset();
				for (size_t i = done; i < done + k; i++)
					st.sum += reinterpret_cast<uintptr_t>(items[i]);
				done += k;
			}
			st.pushed += n;
			seq += n;
		}
	}
	push_end_markers<I>(ring, sh);
}

template <class I>
void consume(typename I::ring_type *ring, MpmcShared &sh, ConsumerStats &st, bool burst)
{
	Retry retry;
	void *items[kBurst];
	const size_t want = burst ? kBurst : 1;

	sh.gate.arrive_and_wait();
	for (;;) {
		size_t n;
		if (!burst)
			n = I::pop(ring, &items[0]) == 0 ? 1 : 0;
		else
			n = I::pop_burst(ring, items, want);
		if (n == 0) {
			st.eagain++;
			if (sh.all_markers_popped())
				break;
			if (retry.backoff() && sh.should_abort())
				break;
			continue;
		}
		retry.reset();
		for (size_t i = 0; i < n; i++) {
			if (items[i] == nullptr)
				sh.markers_popped.fetch_add(1, std::memory_order_relaxed);
			else
				account(st, sh, items[i]);
		}
		if (sh.all_markers_popped())
			break;
	}
	st.end = Clock::now();
}

struct MpmcResult {
	double seconds = 0;
	uint64_t push_eagain = 0;
	uint64_t pop_eagain = 0;
	std::string error; /* empty if the iteration verified */
};

template <class I>
MpmcResult run_mpmc(unsigned producers, unsigned consumers, uint64_t total, bool burst,
		    Clock::duration timeout)
{
	MpmcResult res;
	lfqbench::RingHandle<I> ring(kCapacity);
	if (!ring.ok()) {
		res.error = "ring create failed";
		return res;
	}

	MpmcShared sh;
	sh.producers = producers;
	sh.consumers = consumers;
	std::vector<ProducerStats> pstats(producers);
	std::vector<ConsumerStats> cstats(consumers);
	for (auto &c : cstats)
		c.last.assign(producers, 0);

	const bool pin = lfqbench::bench_pin();
	std::vector<std::thread> threads;
	threads.reserve(producers + consumers);
	for (unsigned c = 0; c < consumers; c++) {
		threads.emplace_back(consume<I>, ring.get(), std::ref(sh), std::ref(cstats[c]),
				     burst);
		if (pin)
			lfqbench::pin_thread(threads.back(), c);
	}
	for (unsigned p = 0; p < producers; p++) {
		uint64_t count = total / producers + (p < total % producers ? 1 : 0);
		threads.emplace_back(produce<I>, ring.get(), std::ref(sh), std::ref(pstats[p]),
				     uint64_t{p}, count, burst);
		if (pin)
			lfqbench::pin_thread(threads.back(), consumers + p);
	}

	sh.gate.wait_for(producers + consumers);
	const Clock::time_point start = Clock::now();
	sh.deadline = start + timeout;
	sh.gate.open();
	for (auto &t : threads)
		t.join();

	Clock::time_point end = start;
	uint64_t pushed = 0, push_sum = 0, popped = 0, pop_sum = 0, disorder = 0, bad = 0;
	for (const auto &p : pstats) {
		pushed += p.pushed;
		push_sum += p.sum;
		res.push_eagain += p.eagain;
	}
	for (const auto &c : cstats) {
		popped += c.popped;
		pop_sum += c.sum;
		disorder += c.out_of_order;
		bad += c.bad_value;
		res.pop_eagain += c.eagain;
		end = std::max(end, c.end);
	}
	res.seconds = std::chrono::duration<double>(end - start).count();

	char msg[256];
	if (sh.abort.load(std::memory_order_relaxed)) {
		std::snprintf(msg, sizeof(msg),
			      "no completion before the deadline: pushed %llu, popped %llu of %llu",
			      static_cast<unsigned long long>(pushed),
			      static_cast<unsigned long long>(popped),
			      static_cast<unsigned long long>(total));
		res.error = msg;
	} else if (pushed != total || popped != total || pop_sum != push_sum || bad != 0 ||
		   disorder != 0) {
		std::snprintf(msg, sizeof(msg),
			      "verification failed: pushed %llu, popped %llu of %llu, sums %s, "
			      "%llu bad values, %llu out of order",
			      static_cast<unsigned long long>(pushed),
			      static_cast<unsigned long long>(popped),
			      static_cast<unsigned long long>(total),
			      pop_sum == push_sum ? "equal" : "differ",
			      static_cast<unsigned long long>(bad),
			      static_cast<unsigned long long>(disorder));
		res.error = msg;
	}
	return res;
}

template <class I>
void BM_Ring_Mpmc(benchmark::State &state, unsigned producers, unsigned consumers, bool burst)
{
	const uint64_t total = lfqbench::bench_items();
	const uint64_t timeout_s = lfqbench::env_u64("LFQ_BENCH_TIMEOUT", 60 + total / 100000);
	if (total / producers + 1 > kSeqMask) {
		state.SkipWithError("LFQ_BENCH_ITEMS too large for the item encoding");
		return;
	}

	uint64_t push_eagain = 0, pop_eagain = 0;
	std::string error;
	for (auto _ : state) {
		MpmcResult r = run_mpmc<I>(producers, consumers, total, burst,
					   std::chrono::seconds(timeout_s));
		if (!r.error.empty()) {
			error = r.error;
			state.SkipWithError(error.c_str());
			break;
		}
		state.SetIterationTime(r.seconds);
		push_eagain += r.push_eagain;
		pop_eagain += r.pop_eagain;
	}
	if (!error.empty())
		return;
	const double items = static_cast<double>(state.iterations()) * static_cast<double>(total);
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * total));
	/* Failed attempts per item moved: how often each side found the ring full / empty. */
	state.counters["push_eagain_per_item"] = static_cast<double>(push_eagain) / items;
	state.counters["pop_eagain_per_item"] = static_cast<double>(pop_eagain) / items;
	state.counters["producers"] = producers;
	state.counters["consumers"] = consumers;
}

/* ---------------------------------------------------------------------------------------- */

struct Shape {
	unsigned producers;
	unsigned consumers;
};

constexpr Shape kMpmcShapes[] = {{1, 1}, {2, 2}, {4, 4}, {8, 8}};
constexpr Shape kMpmcBurstShapes[] = {{1, 1}};

template <class I> void register_mpmc(const char *bench, const Shape &s, bool burst)
{
	std::string name = std::string("ring/") + bench + "/" + I::kName + "/P" +
			   std::to_string(s.producers) + "C" + std::to_string(s.consumers);
	benchmark::RegisterBenchmark(name.c_str(), BM_Ring_Mpmc<I>, s.producers, s.consumers, burst)
		->UseManualTime()
		->MeasureProcessCPUTime()
		->Iterations(1)
		->Unit(benchmark::kMillisecond);
}

void register_ring_benchmarks()
{
	lfqbench::for_each_impl(lfqbench::RingImpls{}, [](auto tag) {
		using I = typename decltype(tag)::type;
		const std::string impl = I::kName;
		benchmark::RegisterBenchmark(("ring/pushpop/" + impl).c_str(), BM_Ring_PushPop<I>);
		benchmark::RegisterBenchmark(("ring/burst32/" + impl).c_str(), BM_Ring_Burst32<I>);
	});
	lfqbench::for_each_impl(lfqbench::RingImpls{}, [](auto tag) {
		using I = typename decltype(tag)::type;
		for (const Shape &s : kMpmcShapes)
			register_mpmc<I>("mpmc", s, false);
		for (const Shape &s : kMpmcBurstShapes)
			register_mpmc<I>("mpmc_burst32", s, true);
	});
}

} // namespace

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	lfqbench::add_machine_context();
	register_ring_benchmarks();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
