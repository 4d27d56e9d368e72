/* SPDX-License-Identifier: MIT */
/**
 * @file spin_ring.h
 * spin_ring: a benchmark baseline. The same bounded FIFO of `void *` as mutex_ring, guarded
 * by a test-and-test-and-set spinlock instead of a mutex, and without waiting calls.
 *
 * Progress: blocking. A thread preempted while holding the lock makes every other caller spin
 * (the lock yields the CPU after a bounded number of spins, so an oversubscribed machine
 * still makes progress, slowly).
 *
 * Ordering a caller may rely on: the lock orders everything, so everything a thread wrote
 * before a push that returned 0 is visible to the thread whose pop returns that item.
 *
 * Concurrency: every function except create and destroy may be called from any number of
 * threads at once. destroy must not run concurrently with any other call on the same ring.
 *
 * Errors are negative errno values; nothing sets `errno`.
 */
#ifndef LFQ_BENCH_SPIN_RING_H
#define LFQ_BENCH_SPIN_RING_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque spinlock-guarded bounded ring. */
struct spin_ring;

/**
 * Creates an empty ring holding exactly @p capacity items.
 * @return 0 on success; -EINVAL if @p ring is NULL or @p capacity is 0 or too large;
 *         -ENOMEM if memory runs out.
 */
int spin_ring_create(struct spin_ring **ring, size_t capacity);

/** Frees the ring; items still inside are the caller's. NULL is ignored. Not concurrent. */
void spin_ring_destroy(struct spin_ring *ring);

/** Appends one item. @return 0 if accepted; -EAGAIN if the ring is full. */
int spin_ring_push(struct spin_ring *ring, void *item);

/** Removes the oldest item. @return 0 if an item was removed; -EAGAIN if the ring is empty. */
int spin_ring_pop(struct spin_ring *ring, void **item);

/** Pushes up to @p n items under one lock acquisition. @return the number pushed. */
size_t spin_ring_push_burst(struct spin_ring *ring, void *const *items, size_t n);

/** Pops up to @p n items under one lock acquisition. @return the number popped. */
size_t spin_ring_pop_burst(struct spin_ring *ring, void **items, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_BENCH_SPIN_RING_H */
