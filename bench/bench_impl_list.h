// SPDX-License-Identifier: MIT
/*
 * Compile-time lists of benchmark adapters (bench_common.h, bench_peers.h) and the optional
 * traits an adapter may declare. An adapter is a struct of static members (create, destroy,
 * push, pop, push_burst, pop_burst, kName; see LfqRing in bench_common.h). Besides those it
 * may declare:
 *
 *   static constexpr unsigned kMaxProducers, kMaxConsumers
 *       the most producer / consumer threads it supports at once (single-producer or
 *       single-consumer modes: 1). Default: any number. Benchmarks skip shapes beyond them.
 *   static constexpr bool kFifoAcrossProducers
 *       false for a queue that is FIFO per producer but not linearizable across producers
 *       (moodycamel::ConcurrentQueue: per-producer sub-queues). An item pushed after
 *       another producer's push returned may still be popped before it, so the end-of-
 *       stream markers of bench_mpmc.h may overtake items: the consumers then also count
 *       the items before they stop. Default: true.
 *   static constexpr bool kFifoPerProducer
 *       false for a queue that does not even keep each producer's items in order under
 *       preemption (atomic_queue: a slot claimed by a thread that is then preempted can be
 *       used first by the thread holding the same slot one lap later). The runs then count
 *       the order inversions (counter out_of_order_per_item) instead of failing, and stop
 *       as for kFifoAcrossProducers = false. Count, sum and value checks still apply.
 *       Default: true.
 *   static constexpr bool kBlockingCalls
 *       true if push and pop wait inside the call until they succeed (never -EAGAIN), as
 *       atomic_queue's push() and pop() do. Such an adapter has no bursts, and a run
 *       cannot be stopped at its deadline. Default: false.
 *   static void thread_enter(), thread_exit()
 *       called in every worker thread (bench_mpmc.h: HasThreadHooks).
 */
#ifndef LFQ_BENCH_IMPL_LIST_H
#define LFQ_BENCH_IMPL_LIST_H

#include <climits>
#include <type_traits>

namespace lfqbench
{

/** A compile-time list of adapters; for_each_impl calls f(ImplTag<I>{}) for each. */
template <class... Impls> struct ImplList {
};
template <class I> struct ImplTag {
	using type = I;
};
template <class F, class... Impls> void for_each_impl(ImplList<Impls...>, F &&f)
{
	(f(ImplTag<Impls>{}), ...);
}

/** ImplList concatenation: Concat<ImplList<A...>, ImplList<B...>, ...>::type. */
template <class... Lists> struct Concat;
template <> struct Concat<> {
	using type = ImplList<>;
};
template <class... A> struct Concat<ImplList<A...>> {
	using type = ImplList<A...>;
};
template <class... A, class... B, class... Rest>
struct Concat<ImplList<A...>, ImplList<B...>, Rest...> {
	using type = typename Concat<ImplList<A..., B...>, Rest...>::type;
};

/* The optional traits, with their defaults. */
template <class I, class = void> struct MaxProducers {
	static constexpr unsigned value = UINT_MAX;
};
template <class I> struct MaxProducers<I, std::void_t<decltype(I::kMaxProducers)>> {
	static constexpr unsigned value = I::kMaxProducers;
};
template <class I, class = void> struct MaxConsumers {
	static constexpr unsigned value = UINT_MAX;
};
template <class I> struct MaxConsumers<I, std::void_t<decltype(I::kMaxConsumers)>> {
	static constexpr unsigned value = I::kMaxConsumers;
};
template <class I, class = void> struct FifoAcrossProducers {
	static constexpr bool value = true;
};
template <class I> struct FifoAcrossProducers<I, std::void_t<decltype(I::kFifoAcrossProducers)>> {
	static constexpr bool value = I::kFifoAcrossProducers;
};
template <class I, class = void> struct FifoPerProducer {
	static constexpr bool value = true;
};
template <class I> struct FifoPerProducer<I, std::void_t<decltype(I::kFifoPerProducer)>> {
	static constexpr bool value = I::kFifoPerProducer;
};
/** Whether the end-of-stream markers of bench_mpmc.h come out after every item. */
template <class I> constexpr bool markers_come_last()
{
	return FifoAcrossProducers<I>::value && FifoPerProducer<I>::value;
}
template <class I, class = void> struct BlockingCalls {
	static constexpr bool value = false;
};
template <class I> struct BlockingCalls<I, std::void_t<decltype(I::kBlockingCalls)>> {
	static constexpr bool value = I::kBlockingCalls;
};

/** @return whether adapter I supports @p producers producers and @p consumers consumers. */
template <class I> constexpr bool supports_shape(unsigned producers, unsigned consumers)
{
	return producers <= MaxProducers<I>::value && consumers <= MaxConsumers<I>::value;
}

/** @return whether adapter I may be used by any number of producers and consumers. */
template <class I> constexpr bool is_mpmc()
{
	return MaxProducers<I>::value == UINT_MAX && MaxConsumers<I>::value == UINT_MAX;
}

} // namespace lfqbench

#endif // LFQ_BENCH_IMPL_LIST_H
