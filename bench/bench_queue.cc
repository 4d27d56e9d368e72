// SPDX-License-Identifier: MIT
/*
 * bench_queue: lfq_queue (unbounded, ring segments reclaimed with RCU) beside lfq_ring of the
 * same total capacity, liburcu's wfcqueue and rculfqueue (when liburcu's headers were found),
 * and the mutex ring, with Google Benchmark:
 *
 *   queue/stream/<impl>/P<p>C<c>   p producers push their share of LFQ_BENCH_ITEMS items as
 *                                  fast as they can while c consumers pop
 *   queue/bursty/<impl>/P<p>C<c>   each producer pushes kChunk (10,000) items as fast as it
 *                                  can, sleeps kPauseNs, and again; chunk_p50_us and
 *                                  chunk_p99_us are the times one chunk took to push
 *
 * <impl>:
 *   lfq_queue      lfq_queue, segments of LFQ_QUEUE_SEGMENT_DEFAULT (512), no limit
 *   lfq_queue_lim  the same with lfq_queue_set_limit(kTotalCapacity / 512): at most
 *                  kTotalCapacity items, like the rings
 *   lfq_ring       lfq_ring of kTotalCapacity (16384) slots
 *   mutex          the mutex ring baseline of kTotalCapacity slots
 *   wfcq, rculfq   liburcu's linked queues (bench/peers/urcu): malloc per push, free per pop
 *                  (rculfq: through call_rcu), counted in the time as a user would pay it
 *
 * The run, its checks (count, sum, per-producer order) and the retry policy on -EAGAIN are
 * bench_mpmc.h's, the same as bench_ring's. Environment: LFQ_BENCH_ITEMS, LFQ_BENCH_TIMEOUT,
 * LFQ_BENCH_PLACEMENT=spread|packed|free (bench_common.h; LFQ_BENCH_PIN=1: spread).
 */
#include "bench_common.h"
#include "bench_mpmc.h"

#include <lfq/queue.h>

#if LFQ_BENCH_HAVE_URCU
#include "urcu_queue_peers.h"
#endif

#include <string>

namespace
{

constexpr size_t kTotalCapacity = 16384;
constexpr uint64_t kChunk = 10000;
constexpr int64_t kPauseNs = 1000000; /* 1 ms between a producer's chunks */

/** lfq_queue, unbounded (capacity is ignored). */
struct LfqQueue {
	using ring_type = struct lfq_queue;
	static constexpr const char *kName = "lfq_queue";

	[[nodiscard]] static int create(ring_type **q, size_t)
	{
		return lfq_queue_create(q, LFQ_QUEUE_SEGMENT_DEFAULT, 0);
	}
	static void destroy(ring_type *q)
	{
		lfq_queue_destroy(q);
	}
	[[nodiscard]] static int push(ring_type *q, void *item)
	{
		return lfq_queue_push(q, item);
	}
	[[nodiscard]] static int pop(ring_type *q, void **item)
	{
		return lfq_queue_pop(q, item);
	}
	static size_t push_burst(ring_type *q, void *const *items, size_t n)
	{
		return lfq_queue_push_burst(q, items, n);
	}
	static size_t pop_burst(ring_type *q, void **items, size_t n)
	{
		return lfq_queue_pop_burst(q, items, n);
	}
};

/** lfq_queue limited to capacity / LFQ_QUEUE_SEGMENT_DEFAULT segments. */
struct LfqQueueLimited : LfqQueue {
	static constexpr const char *kName = "lfq_queue_lim";

	[[nodiscard]] static int create(ring_type **q, size_t capacity)
	{
		int rc = lfq_queue_create(q, LFQ_QUEUE_SEGMENT_DEFAULT, 0);
		if (rc != 0)
			return rc;
		size_t segments = capacity / LFQ_QUEUE_SEGMENT_DEFAULT;
		rc = lfq_queue_set_limit(*q, segments < 2 ? 2 : segments);
		if (rc != 0)
			lfq_queue_destroy(*q);
		return rc;
	}
};

/** lfq_ring under its own name here (bench_ring calls it "lfq"). */
struct LfqRingNamed : lfqbench::LfqRing {
	static constexpr const char *kName = "lfq_ring";
};

#if LFQ_BENCH_HAVE_URCU
/* liburcu's queues have no multi-item calls; bench_mpmc.h needs the names (unused here). */
template <class Q> struct LoopBursts {
	static size_t push_burst(typename Q::ring_type *q, void *const *items, size_t n)
	{
		size_t i = 0;
		while (i < n && Q::push(q, items[i]) == 0)
			i++;
		return i;
	}
	static size_t pop_burst(typename Q::ring_type *q, void **items, size_t n)
	{
		size_t i = 0;
		while (i < n && Q::pop(q, &items[i]) == 0)
			i++;
		return i;
	}
};

struct WfcqQueue {
	using ring_type = struct wfcq_peer;
	static constexpr const char *kName = "wfcq";

	[[nodiscard]] static int create(ring_type **q, size_t)
	{
		return wfcq_peer_create(q);
	}
	static void destroy(ring_type *q)
	{
		wfcq_peer_destroy(q);
	}
	[[nodiscard]] static int push(ring_type *q, void *item)
	{
		return wfcq_peer_push(q, item);
	}
	[[nodiscard]] static int pop(ring_type *q, void **item)
	{
		return wfcq_peer_pop(q, item);
	}
	static size_t push_burst(ring_type *q, void *const *items, size_t n)
	{
		return LoopBursts<WfcqQueue>::push_burst(q, items, n);
	}
	static size_t pop_burst(ring_type *q, void **items, size_t n)
	{
		return LoopBursts<WfcqQueue>::pop_burst(q, items, n);
	}
};

struct RculfqQueue {
	using ring_type = struct rculfq_peer;
	static constexpr const char *kName = "rculfq";

	[[nodiscard]] static int create(ring_type **q, size_t)
	{
		return rculfq_peer_create(q);
	}
	static void destroy(ring_type *q)
	{
		rculfq_peer_destroy(q);
	}
	static void thread_enter()
	{
		rculfq_peer_thread_enter();
	}
	static void thread_exit()
	{
		rculfq_peer_thread_exit();
	}
	[[nodiscard]] static int push(ring_type *q, void *item)
	{
		return rculfq_peer_push(q, item);
	}
	[[nodiscard]] static int pop(ring_type *q, void **item)
	{
		return rculfq_peer_pop(q, item);
	}
	static size_t push_burst(ring_type *q, void *const *items, size_t n)
	{
		return LoopBursts<RculfqQueue>::push_burst(q, items, n);
	}
	static size_t pop_burst(ring_type *q, void **items, size_t n)
	{
		return LoopBursts<RculfqQueue>::pop_burst(q, items, n);
	}
};
using UrcuList = lfqbench::ImplList<WfcqQueue, RculfqQueue>;
#else
using UrcuList = lfqbench::ImplList<>;
#endif

using QueueImpls = lfqbench::Concat<
	lfqbench::ImplList<LfqQueue, LfqQueueLimited, LfqRingNamed, lfqbench::MutexRing>,
	UrcuList>::type;

template <class I>
void BM_Queue(benchmark::State &state, unsigned producers, unsigned consumers, bool bursty)
{
	lfqbench::MpmcParams p;
	p.producers = producers;
	p.consumers = consumers;
	p.capacity = kTotalCapacity;
	p.total = lfqbench::bench_items();
	p.placement = lfqbench::bench_placement();
	p.timeout = std::chrono::seconds(lfqbench::bench_timeout_s());
	if (bursty) {
		p.chunk_items = kChunk;
		p.pause_ns = kPauseNs;
	}

	std::vector<double> chunks;
	if (!lfqbench::run_mpmc_benchmark<I>(state, p, &chunks))
		return;
	if (bursty) {
		state.counters["chunk_p50_us"] = lfqbench::percentile_of(chunks, 0.50) * 1e6;
		state.counters["chunk_p99_us"] = lfqbench::percentile_of(chunks, 0.99) * 1e6;
	}
}

struct Shape {
	unsigned producers;
	unsigned consumers;
};

constexpr Shape kShapes[] = {{1, 1}, {4, 4}};

void register_queue_benchmarks()
{
	for (bool bursty : {false, true}) {
		lfqbench::for_each_impl(QueueImpls{}, [bursty](auto tag) {
			using I = typename decltype(tag)::type;
			for (const Shape &s : kShapes) {
				const std::string name =
					std::string("queue/") + (bursty ? "bursty/" : "stream/") +
					I::kName + "/P" + std::to_string(s.producers) + "C" +
					std::to_string(s.consumers);
				lfqbench::with_spread(benchmark::RegisterBenchmark(
							      name.c_str(), BM_Queue<I>,
							      s.producers, s.consumers, bursty))
					->UseManualTime()
					->MeasureProcessCPUTime()
					->Iterations(1)
					->Unit(benchmark::kMillisecond);
			}
		});
	}
}

} // namespace

int main(int argc, char **argv)
{
	return lfqbench::run_main(argc, argv, [] {
		benchmark::AddCustomContext("queue_total_capacity", std::to_string(kTotalCapacity));
		benchmark::AddCustomContext("queue_bursty_chunk",
					    std::to_string(kChunk) + " items, then " +
						    std::to_string(kPauseNs / 1000) + " us pause");
		register_queue_benchmarks();
	});
}
