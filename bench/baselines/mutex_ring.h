/* SPDX-License-Identifier: MIT */
/**
 * @file mutex_ring.h
 * mutex_ring: a benchmark baseline. A bounded FIFO of `void *` guarded by one pthread mutex
 * and two condition variables (not_empty, not_full), written the way a careful engineer
 * would write it so that it is a fair point of comparison for lfq_ring: one lock per call or
 * per burst, condition variables signalled only when somebody is waiting.
 *
 * Progress: blocking. Every call takes the mutex; a thread preempted while holding it stalls
 * every other caller. The `_wait` calls may sleep.
 *
 * Ordering a caller may rely on: the mutex orders everything, so everything a thread wrote
 * before a push that returned 0 is visible to the thread whose pop returns that item.
 *
 * Concurrency: every function except create and destroy may be called from any number of
 * threads at once. destroy must not run concurrently with any other call on the same ring.
 *
 * Errors are negative errno values; nothing sets `errno`.
 */
#ifndef LFQ_BENCH_MUTEX_RING_H
#define LFQ_BENCH_MUTEX_RING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque mutex-guarded bounded ring. */
struct mutex_ring;

/**
 * Creates an empty ring holding exactly @p capacity items.
 * @return 0 on success; -EINVAL if @p ring is NULL or @p capacity is 0 or too large;
 *         -ENOMEM if memory runs out; another negative errno if a pthread object cannot be
 *         initialised.
 */
int mutex_ring_create(struct mutex_ring **ring, size_t capacity);

/** Frees the ring; items still inside are the caller's. NULL is ignored. Not concurrent. */
void mutex_ring_destroy(struct mutex_ring *ring);

/**
 * Appends one item without waiting for space.
 * @return 0 if accepted; -EAGAIN if the ring is full; -EPIPE if the ring is closed.
 */
int mutex_ring_push(struct mutex_ring *ring, void *item);

/**
 * Removes the oldest item without waiting for one.
 * @return 0 if an item was removed into @p item; -EAGAIN if the ring is empty;
 *         -EPIPE if the ring is closed and empty.
 */
int mutex_ring_pop(struct mutex_ring *ring, void **item);

/**
 * Pushes up to @p n items under a single lock acquisition, in order.
 * @return the number pushed (0 when full, closed, or @p n is 0).
 */
size_t mutex_ring_push_burst(struct mutex_ring *ring, void *const *items, size_t n);

/**
 * Pops up to @p n items under a single lock acquisition, oldest first.
 * @return the number popped (0 when empty or @p n is 0).
 */
size_t mutex_ring_pop_burst(struct mutex_ring *ring, void **items, size_t n);

/**
 * Appends one item, sleeping on not_full while the ring is full.
 * @param timeout_ns  longest time to wait, in nanoseconds; negative waits forever; 0 is a try.
 * @return 0 if accepted; -ETIMEDOUT if still full when the timeout expired;
 *         -EPIPE if the ring is (or becomes) closed.
 */
int mutex_ring_push_wait(struct mutex_ring *ring, void *item, int64_t timeout_ns);

/**
 * Removes the oldest item, sleeping on not_empty while the ring is empty.
 * @param timeout_ns  longest time to wait, in nanoseconds; negative waits forever; 0 is a try.
 * @return 0 if an item was removed; -ETIMEDOUT if still empty when the timeout expired;
 *         -EPIPE if the ring is closed and empty.
 */
int mutex_ring_pop_wait(struct mutex_ring *ring, void **item, int64_t timeout_ns);

/**
 * Closes the ring: later pushes fail with -EPIPE, pops drain what is left and then fail with
 * -EPIPE, and every waiting thread is woken. Closing twice is harmless.
 */
void mutex_ring_close(struct mutex_ring *ring);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_BENCH_MUTEX_RING_H */
