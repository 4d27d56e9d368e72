/* SPDX-License-Identifier: MIT */
/**
 * @file ck_ring_peer.h
 * ck_ring_peer: a benchmark peer. Concurrency Kit's ck_ring (libck-dev) behind lfq's calling
 * convention, so that the C++ benchmarks can use it (ck's headers are C only): its
 * multi-producer/multi-consumer mode (ck_ring_peer_push / _pop), and its single-producer
 * and/or single-consumer modes (the _spsc, _mpsc and _spmc calls), which must only be used
 * with as many producers and consumers as their names allow.
 *
 * How ck is used, as its manual pages and ck_ring.h describe it: one `ck_ring_t` plus a
 * caller-owned array of `ck_ring_buffer_t`, `ck_ring_init(ring, size)` with a power-of-two
 * size, `ck_ring_enqueue_mpmc` and `ck_ring_dequeue_mpmc` for any number of producers and
 * consumers. A ck ring of size n holds n - 1 items; the peer gives it n = the capacity
 * rounded up to a power of two, so it holds one item less than lfq_ring of that capacity.
 * ck has no multi-item calls for MPMC rings: the bursts loop over single calls.
 *
 * Progress: ck's MPMC ring is lock-free for consumers (CAS on the consumer head) but, like
 * Vyukov's ring, a producer stopped between reserving and publishing its slot holds up the
 * producers behind it (they wait for the producer tail to move in order). The MPSC mode has
 * the same multi-producer enqueue and a single consumer; the SPMC mode a single producer and
 * the CAS consumers of the MPMC mode; SPSC is wait-free (plain loads and stores). One ring
 * is used in one mode only: the modes' calls must not be mixed on it.
 */
#ifndef LFQ_BENCH_CK_RING_PEER_H
#define LFQ_BENCH_CK_RING_PEER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque ck_ring with its buffer. */
struct ck_ring_peer;

/**
 * @return 0; -EINVAL if @p ring is NULL or @p capacity is below 1 or above 2^30;
 *         -ENOMEM if memory runs out.
 */
int ck_ring_peer_create(struct ck_ring_peer **ring, size_t capacity);
/** Frees the ring. NULL is ignored. Not concurrent with anything. */
void ck_ring_peer_destroy(struct ck_ring_peer *ring);
/** @return 0, or -EAGAIN if the ring is full. Any thread. */
int ck_ring_peer_push(struct ck_ring_peer *ring, void *item);
/** @return 0 and the oldest item in *item, or -EAGAIN if the ring is empty. Any thread. */
int ck_ring_peer_pop(struct ck_ring_peer *ring, void **item);
/** Pushes up to @p n items, one ck call each, stopping at the first failure. @return count. */
size_t ck_ring_peer_push_burst(struct ck_ring_peer *ring, void *const *items, size_t n);
/** Pops up to @p n items, one ck call each, stopping at the first failure. @return count. */
size_t ck_ring_peer_pop_burst(struct ck_ring_peer *ring, void **items, size_t n);

/** ck_ring_enqueue_spsc: one producer thread only. @return 0, or -EAGAIN if full. */
int ck_ring_peer_push_spsc(struct ck_ring_peer *ring, void *item);
/** ck_ring_dequeue_spsc: one consumer thread only. @return 0, or -EAGAIN if empty. */
int ck_ring_peer_pop_spsc(struct ck_ring_peer *ring, void **item);
/** ck_ring_enqueue_mpsc: any number of producers. @return 0, or -EAGAIN if full. */
int ck_ring_peer_push_mpsc(struct ck_ring_peer *ring, void *item);
/** ck_ring_dequeue_mpsc: one consumer thread only. @return 0, or -EAGAIN if empty. */
int ck_ring_peer_pop_mpsc(struct ck_ring_peer *ring, void **item);
/** ck_ring_enqueue_spmc: one producer thread only. @return 0, or -EAGAIN if full. */
int ck_ring_peer_push_spmc(struct ck_ring_peer *ring, void *item);
/** ck_ring_dequeue_spmc: any number of consumers. @return 0, or -EAGAIN if empty. */
int ck_ring_peer_pop_spmc(struct ck_ring_peer *ring, void **item);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_BENCH_CK_RING_PEER_H */
