/* SPDX-License-Identifier: MIT */
/**
 * @file dpdk_ring_peer.h
 * dpdk_ring_peer: a benchmark peer. DPDK's rte_ring (libdpdk-dev 22.11) behind lfq's calling
 * convention, in one of its synchronisation modes, so that the C++ benchmarks can use it
 * without DPDK's compiler flags (its headers want -march and a forced include, and are C).
 *
 * How rte_ring is used, as DPDK's programmer's guide describes it for memory that the
 * application owns: `rte_ring_get_memsize(size)` bytes, cache-line aligned, then
 * `rte_ring_init(r, name, capacity, flags | RING_F_EXACT_SZ)`. No EAL is initialised: the
 * ring calls need none (rte_ring_create, which would need EAL's memzones, is not used).
 * RING_F_EXACT_SZ makes the ring hold exactly @p capacity items, like lfq_ring, instead of
 * a power of two minus one. The calls are the generic ones, which follow the mode chosen at
 * init: rte_ring_enqueue / rte_ring_dequeue for single items and rte_ring_enqueue_burst /
 * rte_ring_dequeue_burst for bursts (DPDK's own multi-item calls: one head move per burst).
 *
 * Progress (DPDK's documentation and rte_ring_*_pvt.h): in every multi-thread mode a thread
 * that moved the head but has not yet moved the tail holds up the threads behind it:
 * - MP/MC (the default): each thread waits, spinning, for the threads that reserved before
 *   it to publish (the tail moves in reservation order): blocking.
 * - RTS (relaxed tail sync): the tail moves when the last thread in flight finishes; a
 *   stopped thread keeps it from moving, and the head may run at most htd_max (capacity / 8)
 *   ahead of the tail: blocking, with a bounded head/tail distance.
 * - HTS (head/tail sync): one operation in flight per side at a time (the head may move only
 *   when head == tail): blocking, a spinlock in effect.
 * - SP/SC: one producer and one consumer only (the benchmarks use it only at P1C1).
 */
#ifndef LFQ_BENCH_DPDK_RING_PEER_H
#define LFQ_BENCH_DPDK_RING_PEER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The synchronisation mode of a ring (rte_ring's init flags). */
enum dpdk_ring_peer_mode {
	DPDK_RING_PEER_MPMC = 0, /**< no flags: multi-producer, multi-consumer */
	DPDK_RING_PEER_RTS = 1,	 /**< RING_F_MP_RTS_ENQ | RING_F_MC_RTS_DEQ */
	DPDK_RING_PEER_HTS = 2,	 /**< RING_F_MP_HTS_ENQ | RING_F_MC_HTS_DEQ */
	DPDK_RING_PEER_SPSC = 3, /**< RING_F_SP_ENQ | RING_F_SC_DEQ */
};

/** An opaque rte_ring with its object table, in one allocation. */
struct dpdk_ring_peer;

/**
 * Creates a ring that holds exactly @p capacity items, in mode @p mode.
 * @return 0; -EINVAL if @p ring is NULL, @p mode is not one of the above or @p capacity is
 *         below 1 or above 2^30; -ENOMEM if memory runs out; rte_ring_init's negative errno.
 */
int dpdk_ring_peer_create(struct dpdk_ring_peer **ring, size_t capacity, int mode);
/** Frees the ring. NULL is ignored. Not concurrent with anything. */
void dpdk_ring_peer_destroy(struct dpdk_ring_peer *ring);
/** rte_ring_enqueue. @return 0, or -EAGAIN if the ring is full. */
int dpdk_ring_peer_push(struct dpdk_ring_peer *ring, void *item);
/** rte_ring_dequeue. @return 0 and the oldest item in *item, or -EAGAIN if it is empty. */
int dpdk_ring_peer_pop(struct dpdk_ring_peer *ring, void **item);
/** rte_ring_enqueue_burst: up to @p n items, in order. @return how many. */
size_t dpdk_ring_peer_push_burst(struct dpdk_ring_peer *ring, void *const *items, size_t n);
/** rte_ring_dequeue_burst: up to @p n items, oldest first. @return how many. */
size_t dpdk_ring_peer_pop_burst(struct dpdk_ring_peer *ring, void **items, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_BENCH_DPDK_RING_PEER_H */
