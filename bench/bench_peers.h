// SPDX-License-Identifier: MIT
/*
 * The benchmark peers: the rings and bounded queues a user would pick instead of lfq_ring,
 * each behind the adapter interface of bench_common.h (static create, destroy, push, pop,
 * push_burst, pop_burst, kName; the optional traits of bench_impl_list.h) and used the way
 * its documentation recommends (docs/benchmarks.md, "Baselines and peers", says how and
 * what progress each one guarantees). Each is compiled only if Meson found its Debian
 * package (bench/peers/meson.build defines LFQ_BENCH_HAVE_<PEER>); a peer that was not
 * found is not in PeerRingImpls, and the JSON context lists it under peers_skipped.
 *
 *   ck         libck-dev               ck_ring: ck (MPMC), ck_spsc, ck_mpsc, ck_spmc
 *   boost      libboost-dev            boost::lockfree::queue, fixed_sized
 *   tbb        libtbb-dev              oneTBB concurrent_bounded_queue
 *   dpdk       libdpdk-dev             rte_ring: dpdk (MP/MC), dpdk_rts, dpdk_hts, dpdk_spsc
 *   aq         libatomic-queue-dev     atomic_queue: AtomicQueueB2 / AtomicQueueB with the try
 *                                      calls (aq_b2, aq_b), the blocking calls (aq_b2_blk,
 *                                      aq_b_blk) and in SPSC mode (aq_b2_spsc, aq_b_spsc)
 *   moodycamel libconcurrentqueue-dev  moodycamel::ConcurrentQueue (not linearizable across
 *                                      producers: kFifoAcrossProducers = false)
 *   xenium     libxenium-dev           xenium::vyukov_bounded_queue
 *   libcds     libcds-dev              cds::container::VyukovMPMCCycleQueue
 *
 * Bursts: rte_ring and moodycamel have multi-item calls and use them; for the others
 * push_burst / pop_burst loop over single calls and stop at the first failure.
 */
#ifndef LFQ_BENCH_PEERS_H
#define LFQ_BENCH_PEERS_H

#include <sched.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "bench_impl_list.h"

#if LFQ_BENCH_HAVE_CK
#include "ck_ring_peer.h"
#endif
#if LFQ_BENCH_HAVE_BOOST
#include <boost/lockfree/policies.hpp>
#include <boost/lockfree/queue.hpp>
#endif
#if LFQ_BENCH_HAVE_TBB
#include <tbb/concurrent_queue.h>
#endif
#if LFQ_BENCH_HAVE_DPDK
#include "dpdk_ring_peer.h"
#endif
#if LFQ_BENCH_HAVE_ATOMIC_QUEUE
#include <atomic_queue/atomic_queue.h>
#endif
#if LFQ_BENCH_HAVE_MOODYCAMEL
#include <concurrentqueue/concurrentqueue.h>
#endif
#if LFQ_BENCH_HAVE_XENIUM
#include <xenium/vyukov_bounded_queue.hpp>
#endif
#if LFQ_BENCH_HAVE_LIBCDS
#include <cds/container/vyukov_mpmc_cycle_queue.h>
#endif

namespace lfqbench
{

/** The largest capacity a peer adapter accepts (the rings index with 32-bit counters). */
constexpr size_t kPeerMaxCapacity = size_t{1} << 30;

/** push_burst for a peer without multi-item calls: @p push on each item until one fails. */
template <class Ring, class Push> size_t push_each(Ring *r, void *const *items, size_t n, Push push)
{
	size_t i = 0;
	while (i < n && push(r, items[i]) == 0)
		i++;
	return i;
}

/** pop_burst for a peer without multi-item calls: @p pop until it fails or n are popped. */
template <class Ring, class Pop> size_t pop_each(Ring *r, void **items, size_t n, Pop pop)
{
	size_t i = 0;
	while (i < n && pop(r, &items[i]) == 0)
		i++;
	return i;
}

/** The smallest power of two >= max(@p n, @p min). */
inline size_t round_up_pow2(size_t n, size_t min)
{
	size_t p = min;
	while (p < n)
		p <<= 1;
	return p;
}

/** new T(args...) into *out: 0, or -ENOMEM if it throws. */
template <class T, class... Args> int new_peer(T **out, Args &&...args)
{
	try {
		*out = new T(std::forward<Args>(args)...);
	} catch (...) {
		return -ENOMEM;
	}
	return 0;
}

#if LFQ_BENCH_HAVE_CK
/** Concurrency Kit's ck_ring in MPMC mode (through the C adapter in bench/peers/ck). */
struct CkRing {
	using ring_type = struct ck_ring_peer;
	static constexpr const char *kName = "ck";

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		return ck_ring_peer_create(r, capacity);
	}
	static void destroy(ring_type *r)
	{
		ck_ring_peer_destroy(r);
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return ck_ring_peer_push(r, item);
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return ck_ring_peer_pop(r, item);
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		return ck_ring_peer_push_burst(r, items, n);
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		return ck_ring_peer_pop_burst(r, items, n);
	}
};
#endif

#if LFQ_BENCH_HAVE_BOOST
/**
 * boost::lockfree::queue<void *> with fixed_sized<true>: all nodes are allocated by the
 * constructor (capacity of them) and push never allocates; bounded_push fails when they are
 * all in use, which is the bounded behaviour the other rings have. Boost's 16-bit node
 * indices limit it to 65534 items. No multi-item calls: the bursts loop.
 */
struct BoostQueue {
	using ring_type = boost::lockfree::queue<void *, boost::lockfree::fixed_sized<true>>;
	static constexpr const char *kName = "boost";
	static constexpr size_t kMaxCapacity = 65534;

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		if (capacity == 0 || capacity > kMaxCapacity)
			return -EINVAL;
		try {
			*r = new ring_type(capacity);
		} catch (...) {
			return -ENOMEM;
		}
		return 0;
	}
	static void destroy(ring_type *r)
	{
		delete r;
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return r->bounded_push(item) ? 0 : -EAGAIN;
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return r->pop(*item) ? 0 : -EAGAIN;
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		size_t i = 0;
		while (i < n && r->bounded_push(items[i]))
			i++;
		return i;
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		size_t i = 0;
		while (i < n && r->pop(items[i]))
			i++;
		return i;
	}
};
#endif

#if LFQ_BENCH_HAVE_TBB
/**
 * oneTBB's concurrent_bounded_queue<void *> with set_capacity(capacity). The non-blocking
 * calls are try_push / try_pop; the blocking ones (WaitRingImpls) are push / pop, which spin
 * briefly and then sleep. TBB has no close: its abort() wakes only the calls already
 * waiting, so close() pushes TBB's usual "poison pill", one sentinel after the last item;
 * a pop_wait that gets it pushes it back for the next consumer and returns -EPIPE. Only
 * an infinite timeout is supported (the benchmarks use no other).
 */
struct TbbQueue {
	using ring_type = tbb::concurrent_bounded_queue<void *>;
	static constexpr const char *kName = "tbb";

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		try {
			*r = new ring_type();
			(*r)->set_capacity(static_cast<std::ptrdiff_t>(capacity));
		} catch (...) {
			return -ENOMEM;
		}
		return 0;
	}
	static void destroy(ring_type *r)
	{
		delete r;
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return r->try_push(item) ? 0 : -EAGAIN;
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return r->try_pop(*item) ? 0 : -EAGAIN;
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		size_t i = 0;
		while (i < n && r->try_push(items[i]))
			i++;
		return i;
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		size_t i = 0;
		while (i < n && r->try_pop(items[i]))
			i++;
		return i;
	}
	[[nodiscard]] static int push_wait(ring_type *r, void *item, int64_t)
	{
		r->push(item);
		return 0;
	}
	[[nodiscard]] static int pop_wait(ring_type *r, void **item, int64_t)
	{
		r->pop(*item);
		if (*item != sentinel())
			return 0;
		r->push(sentinel()); /* for the next consumer; there is room: we just popped */
		return -EPIPE;
	}
	static void close(ring_type *r)
	{
		/* try_push with a limit, so that a broken run (no consumers left) cannot hang. */
		const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
		while (!r->try_push(sentinel()) && std::chrono::steady_clock::now() < give_up)
			sched_yield();
	}

    private:
	static void *sentinel()
	{
		static char pill;
		return &pill;
	}
};
#endif
#if LFQ_BENCH_HAVE_CK
/**
 * ck_ring in one of its single-side modes, through the same C adapter: ck_ring_peer_push_*
 * and ck_ring_peer_pop_* of one mode on a ring created by ck_ring_peer_create.
 */
template <int (*Push)(struct ck_ring_peer *, void *), int (*Pop)(struct ck_ring_peer *, void **)>
struct CkRingMode {
	using ring_type = struct ck_ring_peer;

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		return ck_ring_peer_create(r, capacity);
	}
	static void destroy(ring_type *r)
	{
		ck_ring_peer_destroy(r);
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return Push(r, item);
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return Pop(r, item);
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		return push_each(r, items, n, Push);
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		return pop_each(r, items, n, Pop);
	}
};

/** ck_ring_enqueue_spsc / ck_ring_dequeue_spsc: one producer, one consumer (wait-free). */
struct CkSpscRing : CkRingMode<ck_ring_peer_push_spsc, ck_ring_peer_pop_spsc> {
	static constexpr const char *kName = "ck_spsc";
	static constexpr unsigned kMaxProducers = 1;
	static constexpr unsigned kMaxConsumers = 1;
};
/** ck_ring_enqueue_mpsc / ck_ring_dequeue_mpsc: any producers, one consumer. */
struct CkMpscRing : CkRingMode<ck_ring_peer_push_mpsc, ck_ring_peer_pop_mpsc> {
	static constexpr const char *kName = "ck_mpsc";
	static constexpr unsigned kMaxConsumers = 1;
};
/** ck_ring_enqueue_spmc / ck_ring_dequeue_spmc: one producer, any consumers. */
struct CkSpmcRing : CkRingMode<ck_ring_peer_push_spmc, ck_ring_peer_pop_spmc> {
	static constexpr const char *kName = "ck_spmc";
	static constexpr unsigned kMaxProducers = 1;
};
#endif

#if LFQ_BENCH_HAVE_DPDK
/**
 * DPDK's rte_ring in one synchronisation mode (through the C adapter in bench/peers/dpdk,
 * which sets up the ring with RING_F_EXACT_SZ: it holds exactly the capacity). Bursts are
 * rte_ring_enqueue_burst / rte_ring_dequeue_burst.
 */
template <int Mode> struct DpdkRingMode {
	using ring_type = struct dpdk_ring_peer;

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		return dpdk_ring_peer_create(r, capacity, Mode);
	}
	static void destroy(ring_type *r)
	{
		dpdk_ring_peer_destroy(r);
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return dpdk_ring_peer_push(r, item);
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return dpdk_ring_peer_pop(r, item);
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		return dpdk_ring_peer_push_burst(r, items, n);
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		return dpdk_ring_peer_pop_burst(r, items, n);
	}
};

/** The default multi-producer/multi-consumer mode (no sync flags). */
struct DpdkRing : DpdkRingMode<DPDK_RING_PEER_MPMC> {
	static constexpr const char *kName = "dpdk";
};
/** Relaxed tail sync: RING_F_MP_RTS_ENQ | RING_F_MC_RTS_DEQ. */
struct DpdkRtsRing : DpdkRingMode<DPDK_RING_PEER_RTS> {
	static constexpr const char *kName = "dpdk_rts";
};
/** Head/tail sync: RING_F_MP_HTS_ENQ | RING_F_MC_HTS_DEQ. */
struct DpdkHtsRing : DpdkRingMode<DPDK_RING_PEER_HTS> {
	static constexpr const char *kName = "dpdk_hts";
};
/** Single producer, single consumer: RING_F_SP_ENQ | RING_F_SC_DEQ. */
struct DpdkSpscRing : DpdkRingMode<DPDK_RING_PEER_SPSC> {
	static constexpr const char *kName = "dpdk_spsc";
	static constexpr unsigned kMaxProducers = 1;
	static constexpr unsigned kMaxConsumers = 1;
};
#endif

#if LFQ_BENCH_HAVE_ATOMIC_QUEUE
/*
 * max0x7ba's atomic_queue, its run-time-sized queues with their default options
 * (MAXIMIZE_THROUGHPUT, no TOTAL_ORDER):
 *   AtomicQueueB2<void *>  a state byte per slot beside the element (any T);
 *   AtomicQueueB<T, A, NIL> an atomic element per slot that holds NIL when the slot is
 *                           empty, so NIL can never be pushed. lfq's items include NULL (the
 *                           benchmarks' end markers), so this adapter stores them as
 *                           uintptr_t with NIL = UINTPTR_MAX: (void *)UINTPTR_MAX cannot be
 *                           pushed (no benchmark item has that value).
 * Both round the capacity up to a power of two, and to at least 4096 slots (B2) or 64 (B):
 * their index shuffling spreads consecutive slots over cache lines and needs that many. So
 * at capacities below those they hold more items than the other rings.
 *
 * try_push / try_pop (aq_b2, aq_b) fail when the queue looks full / empty; but once they have
 * claimed a slot (CAS on head / tail) they wait, spinning, for that slot's previous occupant
 * to be popped / its item to be stored. push / pop (aq_b2_blk, aq_b_blk) take a slot with a
 * fetch-and-add and wait, spinning, until it can be used: they never fail. Both are blocking
 * in the progress sense. The SPSC mode (aq_b2_spsc, aq_b_spsc) drops the RMWs for one
 * producer and one consumer.
 *
 * Not FIFO under preemption, not even per producer (kFifoPerProducer = false): the threads
 * holding the same slot on consecutive laps all wait for it, and whichever comes first uses
 * it. A consumer preempted after claiming slot i on lap k can find that the consumer of lap
 * k + 1 took lap k's item, and it then gets lap k + 1's. The benchmarks see this as order
 * inversions at two or more consumers and count them (out_of_order_per_item).
 */
namespace aq
{
constexpr uintptr_t kNil = UINTPTR_MAX;
template <bool Spsc>
using B = atomic_queue::AtomicQueueB<uintptr_t, std::allocator<uintptr_t>, kNil, true, false, Spsc>;
template <bool Spsc>
using B2 = atomic_queue::AtomicQueueB2<void *, std::allocator<void *>, true, false, Spsc>;

template <class Q> struct Base {
	using ring_type = Q;
	static constexpr bool kFifoPerProducer = false;
	using elem_type = typename Q::value_type;

	static elem_type to_elem(void *item)
	{
		if constexpr (std::is_pointer_v<elem_type>)
			return item;
		else
			return reinterpret_cast<elem_type>(item);
	}
	static void *from_elem(elem_type e)
	{
		if constexpr (std::is_pointer_v<elem_type>)
			return e;
		else
			return reinterpret_cast<void *>(e);
	}
	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		if (capacity < 1 || capacity > kPeerMaxCapacity)
			return -EINVAL;
		return new_peer(r, static_cast<unsigned>(capacity));
	}
	static void destroy(ring_type *r)
	{
		delete r;
	}
};

/** The try calls: try_push / try_pop; bursts loop over them. */
template <class Q> struct Try : Base<Q> {
	using Conv = Base<Q>;
	[[nodiscard]] static int push(Q *r, void *item)
	{
		return r->try_push(Conv::to_elem(item)) ? 0 : -EAGAIN;
	}
	[[nodiscard]] static int pop(Q *r, void **item)
	{
		typename Conv::elem_type e;
		if (!r->try_pop(e))
			return -EAGAIN;
		*item = Conv::from_elem(e);
		return 0;
	}
	static size_t push_burst(Q *r, void *const *items, size_t n)
	{
		return push_each(r, items, n, push);
	}
	static size_t pop_burst(Q *r, void **items, size_t n)
	{
		return pop_each(r, items, n, pop);
	}
};

/** The blocking calls: push / pop wait inside until they succeed (kBlockingCalls). */
template <class Q> struct Blocking : Base<Q> {
	using Conv = Base<Q>;
	static constexpr bool kBlockingCalls = true;
	[[nodiscard]] static int push(Q *r, void *item)
	{
		r->push(Conv::to_elem(item));
		return 0;
	}
	[[nodiscard]] static int pop(Q *r, void **item)
	{
		*item = Conv::from_elem(r->pop());
		return 0;
	}
};
} // namespace aq

struct AqB2 : aq::Try<aq::B2<false>> {
	static constexpr const char *kName = "aq_b2";
};
struct AqB : aq::Try<aq::B<false>> {
	static constexpr const char *kName = "aq_b";
};
struct AqB2Blocking : aq::Blocking<aq::B2<false>> {
	static constexpr const char *kName = "aq_b2_blk";
};
struct AqBBlocking : aq::Blocking<aq::B<false>> {
	static constexpr const char *kName = "aq_b_blk";
};
struct AqB2Spsc : aq::Try<aq::B2<true>> {
	static constexpr const char *kName = "aq_b2_spsc";
	static constexpr unsigned kMaxProducers = 1;
	static constexpr unsigned kMaxConsumers = 1;
	static constexpr bool kFifoPerProducer = true; /* one consumer: no lap race */
};
struct AqBSpsc : aq::Try<aq::B<true>> {
	static constexpr const char *kName = "aq_b_spsc";
	static constexpr unsigned kMaxProducers = 1;
	static constexpr unsigned kMaxConsumers = 1;
	static constexpr bool kFifoPerProducer = true; /* one consumer: no lap race */
};
#endif

#if LFQ_BENCH_HAVE_MOODYCAMEL
/**
 * moodycamel::ConcurrentQueue<void *> without tokens (each producer thread gets an
 * implicit sub-queue of its own). try_enqueue never allocates blocks, which bounds the
 * queue by the blocks the constructor preallocates: the (capacity, 0, kProducers)
 * constructor preallocates enough for at least `capacity` items with up to kProducers
 * producer threads (8, the most in the benchmark grid): ceil(capacity / 32) + 15 blocks of
 * 32 items. So it holds at least the capacity, and at small capacities far more (4: 512).
 * Bursts are try_enqueue_bulk (all or nothing; on failure the items go one at a time) and
 * try_dequeue_bulk.
 *
 * Not linearizable across producers: a pop takes from one producer's sub-queue, so an item
 * pushed after another producer's push returned may be popped first. Each producer's items
 * still come out in the order it pushed them (kFifoAcrossProducers = false).
 */
struct MoodycamelQueue {
	using ring_type = moodycamel::ConcurrentQueue<void *>;
	static constexpr const char *kName = "moodycamel";
	static constexpr bool kFifoAcrossProducers = false;
	static constexpr size_t kProducers = 8;

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		if (capacity < 1 || capacity > kPeerMaxCapacity)
			return -EINVAL;
		return new_peer(r, capacity, size_t{0}, kProducers);
	}
	static void destroy(ring_type *r)
	{
		delete r;
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return r->try_enqueue(item) ? 0 : -EAGAIN;
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return r->try_dequeue(*item) ? 0 : -EAGAIN;
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		if (r->try_enqueue_bulk(items, n))
			return n;
		return push_each(r, items, n, push);
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		return r->try_dequeue_bulk(items, n);
	}
};
#endif

#if LFQ_BENCH_HAVE_XENIUM
/**
 * xenium::vyukov_bounded_queue<void *>, default policies: try_push / try_pop are the
 * "strong" variants, which fail only when the queue is really full / empty and otherwise
 * retry inside the call (so a thread stopped between claiming and publishing a slot makes
 * the others spin there). The size must be a power of two (at least 2): the adapter rounds
 * the capacity up.
 */
struct XeniumRing {
	using ring_type = xenium::vyukov_bounded_queue<void *>;
	static constexpr const char *kName = "xenium";

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		if (capacity < 1 || capacity > kPeerMaxCapacity)
			return -EINVAL;
		return new_peer(r, round_up_pow2(capacity, 2));
	}
	static void destroy(ring_type *r)
	{
		delete r;
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return r->try_push(item) ? 0 : -EAGAIN;
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return r->try_pop(*item) ? 0 : -EAGAIN;
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		return push_each(r, items, n, push);
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		return pop_each(r, items, n, pop);
	}
};
#endif

#if LFQ_BENCH_HAVE_LIBCDS
/**
 * libcds's cds::container::VyukovMPMCCycleQueue<void *> with its default traits (dynamic
 * buffer rounded up to a power of two, exponential back-off, relaxed memory model, no item
 * counter). It uses no garbage collector, so it needs neither cds::Initialize() nor thread
 * attachment. enqueue / dequeue fail on full / empty; a slot claimed by a stopped thread
 * makes the others back off and retry inside the call.
 */
struct LibcdsRing {
	using ring_type = cds::container::VyukovMPMCCycleQueue<void *>;
	static constexpr const char *kName = "libcds";

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		if (capacity < 1 || capacity > kPeerMaxCapacity)
			return -EINVAL;
		return new_peer(r, round_up_pow2(capacity, 2));
	}
	static void destroy(ring_type *r)
	{
		delete r;
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return r->enqueue(item) ? 0 : -EAGAIN;
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return r->dequeue(*item) ? 0 : -EAGAIN;
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		return push_each(r, items, n, push);
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		return pop_each(r, items, n, pop);
	}
};
#endif

/* The lists: each peer's adapters, or nothing if it was not found. */
#if LFQ_BENCH_HAVE_CK
using CkList = ImplList<CkRing, CkSpscRing, CkMpscRing, CkSpmcRing>;
#else
using CkList = ImplList<>;
#endif
#if LFQ_BENCH_HAVE_BOOST
using BoostList = ImplList<BoostQueue>;
#else
using BoostList = ImplList<>;
#endif
#if LFQ_BENCH_HAVE_TBB
using TbbList = ImplList<TbbQueue>;
#else
using TbbList = ImplList<>;
#endif
#if LFQ_BENCH_HAVE_DPDK
using DpdkList = ImplList<DpdkRing, DpdkRtsRing, DpdkHtsRing, DpdkSpscRing>;
#else
using DpdkList = ImplList<>;
#endif
#if LFQ_BENCH_HAVE_ATOMIC_QUEUE
using AqList = ImplList<AqB2, AqB, AqB2Blocking, AqBBlocking, AqB2Spsc, AqBSpsc>;
#else
using AqList = ImplList<>;
#endif
#if LFQ_BENCH_HAVE_MOODYCAMEL
using MoodycamelList = ImplList<MoodycamelQueue>;
#else
using MoodycamelList = ImplList<>;
#endif
#if LFQ_BENCH_HAVE_XENIUM
using XeniumList = ImplList<XeniumRing>;
#else
using XeniumList = ImplList<>;
#endif
#if LFQ_BENCH_HAVE_LIBCDS
using LibcdsList = ImplList<LibcdsRing>;
#else
using LibcdsList = ImplList<>;
#endif

/** The peer rings that were found, in a fixed order. */
using PeerRingImpls = Concat<CkList, BoostList, TbbList, DpdkList, AqList, MoodycamelList,
			     XeniumList, LibcdsList>::type;
/** The peers with lfq's blocking calls (push_wait, pop_wait, close): bench_ring_wait.cc. */
using PeerWaitRingImpls = TbbList;

} // namespace lfqbench

#endif // LFQ_BENCH_PEERS_H
