/* SPDX-License-Identifier: MIT */
/**
 * @file vyukov_ring.h
 * vyukov_ring: a benchmark baseline. Dmitry Vyukov's bounded MPMC queue: one sequence number
 * per slot; a producer claims a slot by CAS on the enqueue position and then publishes it by
 * storing the slot's sequence; consumers do the same on the dequeue side.
 *
 * Progress: blocking, although it takes no lock. A producer stopped between claiming its slot
 * and publishing it keeps every consumer from getting past that slot (they see the ring as
 * empty), and a consumer stopped between claiming and releasing a slot keeps producers from
 * reusing it (they see the ring as full). This is the property lfq_ring removes.
 *
 * Ordering a caller may rely on: everything a thread wrote before a push that returned 0 is
 * visible to the thread whose pop returns that item. No other ordering is promised.
 *
 * Concurrency: every function except create and destroy may be called from any number of
 * threads at once. destroy must not run concurrently with any other call on the same ring.
 *
 * Errors are negative errno values; nothing sets `errno`.
 */
#ifndef LFQ_BENCH_VYUKOV_RING_H
#define LFQ_BENCH_VYUKOV_RING_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque Vyukov bounded MPMC ring. */
struct vyukov_ring;

/**
 * Creates an empty ring; @p capacity is rounded up to a power of two (at least 2).
 * @return 0 on success; -EINVAL if @p ring is NULL or @p capacity is 0 or above 2^31;
 *         -ENOMEM if memory runs out.
 */
int vyukov_ring_create(struct vyukov_ring **ring, size_t capacity);

/** Frees the ring; items still inside are the caller's. NULL is ignored. Not concurrent. */
void vyukov_ring_destroy(struct vyukov_ring *ring);

/** @return the capacity after rounding. */
size_t vyukov_ring_capacity(const struct vyukov_ring *ring);

/**
 * Appends one item.
 * @return 0 if accepted; -EAGAIN if the ring is full, or its next slot is still being read
 *         by a consumer that claimed it.
 */
int vyukov_ring_push(struct vyukov_ring *ring, void *item);

/**
 * Removes the oldest item.
 * @return 0 if an item was removed into @p item; -EAGAIN if the ring is empty, or its next
 *         slot has been claimed by a producer that has not published it yet.
 */
int vyukov_ring_pop(struct vyukov_ring *ring, void **item);

/** Pushes up to @p n items one by one, stopping at the first failure. @return the count. */
size_t vyukov_ring_push_burst(struct vyukov_ring *ring, void *const *items, size_t n);

/** Pops up to @p n items one by one, stopping at the first failure. @return the count. */
size_t vyukov_ring_pop_burst(struct vyukov_ring *ring, void **items, size_t n);

/** Park point in push: the slot is claimed (enqueue CAS done) but not yet published. */
#define VYUKOV_RING_PARK_PUSH_CLAIMED 1
/** Park point in pop: the slot is claimed (dequeue CAS done) but not yet released. */
#define VYUKOV_RING_PARK_POP_CLAIMED 2

#ifdef BASELINE_TESTING

/**
 * Test hook (only in the lfq_baselines_testing library). When set, push calls
 * `hook(VYUKOV_RING_PARK_PUSH_CLAIMED)` right after its CAS on the enqueue position succeeded
 * and before it writes the item and publishes the slot's sequence; pop calls
 * `hook(VYUKOV_RING_PARK_POP_CLAIMED)` right after its CAS on the dequeue position succeeded
 * and before it reads the item and releases the slot. A hook that blocks therefore parks the
 * thread inside the window in which it stalls the other side. NULL removes the hook.
 * The hook is process-wide (shared by every vyukov_ring); set it before starting threads
 * that should see it. Setting it is atomic, so changing it while threads run is also safe.
 */
void vyukov_ring_set_park_hook(void (*hook)(int point));
#endif

#ifdef __cplusplus
}
#endif

#endif /* LFQ_BENCH_VYUKOV_RING_H */
