/* SPDX-License-Identifier: MIT */
/**
 * @file queue.h
 * lfq_queue: an unbounded lock-free multi-producer/multi-consumer FIFO of `void *`.
 *
 * A linked list of lfq_ring segments (LSCQ, Nikolaev, DISC 2019): producers push into the
 * tail segment; a full segment is finalized and a new one linked with one CAS; consumers
 * move the head past drained, finalized segments. A segment unlinked from the list is
 * recycled or freed only after a userspace-RCU grace period (liburcu, "memb" flavour), so no
 * thread ever touches freed memory. Segments are recycled through a small cache
 * (LFQ_QUEUE_CACHED_SEGMENTS per queue), so steady traffic does not call malloc.
 *
 * Progress: push, pop and their bursts are lock-free, with or without a segment limit:
 * a thread stopped anywhere inside a call (preempted, or in malloc while it grows the queue)
 * keeps no other call from completing. A pusher that grows the queue holds nothing while it
 * allocates: it checks the limit, then competes with the other pushers to link its segment,
 * and a stalled one is simply overtaken. The one caveat: linking a new segment allocates
 * memory (malloc) when the segment cache is empty, and malloc itself is not lock-free.
 *
 * RCU: callers need no ceremony. The first lfq_queue call made by a thread registers it
 * with liburcu (urcu-memb), and the thread is unregistered when it exits. A thread that
 * registered itself with urcu-memb already is left as it is (it must then stay registered
 * while it uses lfq_queue). The one rule: lfq_queue_destroy must not be called from inside
 * an RCU read-side critical section or from a call_rcu callback.
 *
 * Ordering a caller may rely on: everything a thread wrote before a push that returned 0
 * is visible to the thread whose pop returns that item. No other ordering is promised.
 *
 * Concurrency: every function except create and destroy may be called from any number of
 * threads at once, in any combination; destroy must not run concurrently with any other
 * call on the same queue.
 *
 * Errors are negative errno values; nothing sets `errno`. A NULL queue (or a NULL out
 * pointer) is rejected in every build: the int-returning calls return -EINVAL, the bursts
 * return 0, close does nothing, is_closed returns false, size and segment_capacity return 0.
 */
#ifndef LFQ_QUEUE_H
#define LFQ_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lfq/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Segment capacity used when 0 is passed to lfq_queue_create. */
#define LFQ_QUEUE_SEGMENT_DEFAULT 512
/** Largest segment capacity lfq_queue_create accepts. */
#define LFQ_QUEUE_SEGMENT_MAX ((size_t)1 << 24)
/** Drained segments each queue keeps for reuse; the rest are freed. */
#define LFQ_QUEUE_CACHED_SEGMENTS 8

/** An opaque unbounded MPMC queue. */
struct lfq_queue;

/**
 * Creates an empty, unbounded queue.
 * @param queue             out: the new queue; untouched on error.
 * @param segment_capacity  items per segment, 1 .. LFQ_QUEUE_SEGMENT_MAX; 0 for
 *                          LFQ_QUEUE_SEGMENT_DEFAULT. Small segments link and retire
 *                          often; a few hundred slots amortize that well.
 * @param flags             0 (no flags are defined yet).
 * @return 0; -EINVAL for a NULL @p queue, a capacity above the maximum or unknown flags;
 *         -ENOMEM when memory runs out; -EAGAIN if the thread-exit hook for RCU
 *         registration cannot be created (out of pthread keys), or the queue's reclaimer
 *         thread cannot be started (another negated pthread_create error is possible).
 * Thread-safety: any thread; allocates, and starts the queue's reclaimer thread (it frees
 *         retired segments after an RCU grace period; so no later call on the queue
 *         allocates for reclamation or starts a thread, and none aborts for lack of
 *         memory).
 */
LFQ_API LFQ_NODISCARD int lfq_queue_create(struct lfq_queue **queue, size_t segment_capacity,
					   unsigned flags);

/**
 * Stops the queue's reclaimer thread (after a last grace period for the segments it still
 * holds) and frees the queue and every segment, cached ones included. Allocates nothing.
 * Items still inside are not touched. NULL is ignored.
 * Thread-safety: not concurrently with any other call on @p queue; not from an RCU
 * read-side critical section.
 */
LFQ_API void lfq_queue_destroy(struct lfq_queue *queue);

/**
 * Limits the queue to @p max_segments linked segments, i.e. at most
 * max_segments x segment_capacity items: pushes then fail with -EAGAIN instead of growing
 * (backpressure). 0 removes the limit (the default). May be called at any time; a limit
 * below the current number of segments takes effect as consumers drain them; a higher one
 * (or 0) wakes the threads in lfq_queue_push_wait. The limit is exact: concurrent pushers
 * never link more than @p max_segments segments between them.
 * @return 0; -EINVAL for a NULL @p queue, or @p max_segments == 1 (a full segment could then
 *         never be retired while it is also the tail: the limit must be 0 or at least 2).
 * Thread-safety: any thread; wait-free (plus one wake-up system call if a push_wait sleeps).
 */
LFQ_API LFQ_NODISCARD int lfq_queue_set_limit(struct lfq_queue *queue, size_t max_segments);

/**
 * Appends one item (any value, NULL included).
 * @return 0 if accepted;
 *         -EAGAIN if a segment limit is set and reached;
 *         -ENOMEM if a new segment was needed and could not be allocated;
 *         -EPIPE if the queue is closed;
 *         -EINVAL if @p queue is NULL.
 *         On every error the item is still the caller's.
 * Thread-safety: any thread; lock-free (but see the note on malloc above).
 */
LFQ_API LFQ_NODISCARD int lfq_queue_push(struct lfq_queue *queue, void *item);

/**
 * Removes the oldest item.
 * @return 0 if an item was removed into @p item;
 *         -EAGAIN if the queue is empty (and open);
 *         -EPIPE if the queue is closed and drained: no item whose push returned 0 is left
 *                for this or a later pop (an item claimed by a concurrent pop is returned
 *                by that pop);
 *         -EINVAL if @p queue or @p item is NULL.
 * Thread-safety: any thread; lock-free.
 */
LFQ_API LFQ_NODISCARD int lfq_queue_pop(struct lfq_queue *queue, void **item);

/**
 * Pushes up to @p n items in order, stopping at the first that cannot go in (limit, memory,
 * close). @return the count pushed: items[0 .. ret-1] were accepted, the rest are still the
 * caller's (0 if @p queue or @p items is NULL).
 * Thread-safety: any thread; lock-free.
 */
LFQ_API size_t lfq_queue_push_burst(struct lfq_queue *queue, void *const *items, size_t n);

/**
 * Pops up to @p n items, oldest first. @return the count (0 when empty, or closed and
 * drained, lfq_queue_pop tells those apart; 0 if @p queue or @p items is NULL).
 * Thread-safety: any thread; lock-free.
 */
LFQ_API size_t lfq_queue_pop_burst(struct lfq_queue *queue, void **items, size_t n);

/**
 * lfq_queue_push, waiting up to @p timeout_ns while a segment limit keeps it from going in.
 * @param timeout_ns  < 0: no limit; 0: one try; > 0: nanoseconds on CLOCK_MONOTONIC.
 * @return 0; -ETIMEDOUT (-EAGAIN for a zero timeout); -ENOMEM; -EPIPE; -EINVAL if
 *         @p queue is NULL.
 * Thread-safety: any thread; may sleep. Woken when room appears: a segment retired by a
 * pop, a segment linked by another push, a higher limit, or close.
 */
LFQ_API LFQ_NODISCARD int lfq_queue_push_wait(struct lfq_queue *queue, void *item,
					      int64_t timeout_ns);

/**
 * lfq_queue_pop, waiting up to @p timeout_ns for an item.
 * @param timeout_ns  as for lfq_queue_push_wait.
 * @return 0; -ETIMEDOUT (-EAGAIN for a zero timeout); -EPIPE (closed and drained); -EINVAL
 *         if @p queue or @p item is NULL.
 * Thread-safety: any thread; may sleep.
 */
LFQ_API LFQ_NODISCARD int lfq_queue_pop_wait(struct lfq_queue *queue, void **item,
					     int64_t timeout_ns);

/**
 * Closes the queue: later pushes fail with -EPIPE, pops drain every segment and then
 * return -EPIPE, and every thread in a `_wait` call wakes up. Idempotent; any thread; a
 * NULL @p queue is ignored.
 * Thread-safety: any thread, concurrently with anything but destroy; lock-free.
 */
LFQ_API void lfq_queue_close(struct lfq_queue *queue);

/**
 * @return true once lfq_queue_close has been called. A push that started before close
 *         returned may still succeed (and its item is then drained); one that starts after
 *         close returned fails with -EPIPE; false for a NULL @p queue. Thread-safety: any
 *         thread.
 */
LFQ_API bool lfq_queue_is_closed(const struct lfq_queue *queue);

/**
 * @return the number of items in the queue: a snapshot (it walks the segments) that may be
 *         stale under concurrency; exact when no operation is in progress (with the same
 *         exception as lfq_ring_size); 0 for a NULL @p queue.
 * Thread-safety: any thread; lock-free.
 */
LFQ_API size_t lfq_queue_size(const struct lfq_queue *queue);

/** @return the segment capacity in use (0 for a NULL @p queue). Thread-safety: any thread;
 *  wait-free. */
LFQ_API size_t lfq_queue_segment_capacity(const struct lfq_queue *queue);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_QUEUE_H */
