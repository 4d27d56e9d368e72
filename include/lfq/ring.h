/* SPDX-License-Identifier: MIT */
/**
 * @file ring.h
 * lfq_ring: a bounded, strictly lock-free multi-producer/multi-consumer FIFO of `void *`.
 *
 * Progress: every non-waiting call (`push`, `pop`, `_burst`, `size`, `close`) is lock-free.
 * A thread stopped at any instruction inside any of them (preempted, page-faulting, stopped in
 * a debugger) never prevents other threads from completing theirs; at most the stopped
 * thread's own items are delayed. Where the target has a 16-byte compare-and-swap (x86-64,
 * aarch64), a push is one such CAS on a cell and a pop one CAS on its sequence word, and a push
 * that finds the ring full or a pop that finds it empty writes nothing; elsewhere the ring is
 * the SCQ algorithm (Nikolaev, DISC 2019) with single-width atomics. docs/design.md has both.
 *
 * Blocking: only the `_wait` calls sleep (spin briefly, then a futex), always with a timeout.
 * The non-waiting calls make a wake-up system call only when some thread is asleep in a
 * `_wait` call on the other side; otherwise waiting costs them one uncontended load.
 *
 * Shutdown: `lfq_ring_close` stops intake. Pushes then fail with -EPIPE; pops return what is
 * still inside, then -EPIPE ("closed and drained"). Nothing accepted is lost: a push that
 * races with close either returns -EPIPE (the item stays the caller's) or returns 0 and its
 * item is later popped.
 *
 * Ordering a caller may rely on: everything a thread wrote before a push that returned 0
 * is visible to the thread whose pop returns that item. No other ordering is promised.
 *
 * Concurrency: every function except `lfq_ring_create` and `lfq_ring_destroy` may be called
 * from any number of threads at once, in any combination, except on a ring created with
 * LFQ_RING_SP (one pushing thread at a time) or LFQ_RING_SC (one popping thread at a time).
 * `destroy` must not run concurrently with any other call on the same ring. Every call has
 * the same meaning in every mode (close, drain, waits, bursts, size, exact capacity); close,
 * size, capacity and is_closed may come from any thread in every mode.
 *
 * Errors are negative errno values; nothing sets `errno`. Every call checks its pointer
 * arguments in every build: a NULL ring (or a NULL out-pointer) makes a fallible call return
 * -EINVAL, a burst return 0, close do nothing, is_closed false, capacity and size 0.
 */
#ifndef LFQ_RING_H
#define LFQ_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lfq/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest capacity `lfq_ring_create` accepts (2^31 items). */
#define LFQ_RING_CAPACITY_MAX ((size_t)1 << 31)

/** Creation flags for lfq_ring_create; unknown bits are rejected with -EINVAL. */
#define LFQ_RING_FLAGS_NONE 0u
/**
 * Single producer: only one thread ever pushes (push, push_burst, push_bulk, push_wait).
 * Which thread may change over time, as long as the calls never overlap and the hand-over
 * is synchronized (a mutex, a thread join, a release/acquire pair). A push then claims its
 * cell with an 8-byte compare-and-swap instead of the 16-byte one, and reads no position
 * shared with other producers. Two pushes that overlap on such a ring are undefined
 * behaviour (debug builds assert where it shows).
 */
#define LFQ_RING_SP 1u
/**
 * Single consumer: only one thread ever pops (pop, pop_burst, pop_bulk, pop_wait), with
 * the same hand-over rule. A pop then frees its cell with a plain release store: no
 * read-modify-write. Overlapping pops on such a ring are undefined behaviour.
 */
#define LFQ_RING_SC 2u

/** An opaque bounded MPMC ring. */
struct lfq_ring;

/**
 * Creates an empty ring that holds exactly @p capacity items.
 *
 * @param ring      out: the new ring; untouched on error.
 * @param capacity  1 .. LFQ_RING_CAPACITY_MAX; a ring of 3 holds exactly 3 items.
 * @param flags     0 (LFQ_RING_FLAGS_NONE: any number of producers and consumers), or
 *                  LFQ_RING_SP, LFQ_RING_SC, or both. On the portable SCQ backend the flags
 *                  are accepted and checked but the multi-producer/multi-consumer paths serve
 *                  every mode (same results, no fast path).
 * @return 0 on success;
 *         -EINVAL if @p ring is NULL, @p capacity is 0 or above the maximum, or @p flags has
 *                 an unknown bit (nothing is allocated);
 *         -ENOMEM if the memory cannot be allocated.
 * Thread-safety: may be called from any thread; not lock-free (allocates).
 */
LFQ_API LFQ_NODISCARD int lfq_ring_create(struct lfq_ring **ring, size_t capacity, unsigned flags);

/**
 * Frees the ring. Items still inside are not touched (they are the caller's to own).
 * NULL is accepted and ignored. On a handle from lfq_ring_shared_attach it does what
 * lfq_ring_shared_detach does: frees the handle, and leaves the ring in the region alone.
 * Thread-safety: must not run concurrently with any other call on @p ring.
 */
LFQ_API void lfq_ring_destroy(struct lfq_ring *ring);

/**
 * Appends one item (any value, NULL included).
 * @return 0 if the item was accepted;
 *         -EAGAIN if the ring is full (the item is still the caller's; on a shared ring
 *                 also when the search gave up after its step limit, see "Shared rings
 *                 and faulty peers" below);
 *         -EPIPE if the ring is closed (the item is still the caller's);
 *         -EBADMSG on a shared ring whose memory another process corrupted (below);
 *         -EINVAL if @p ring is NULL.
 * Thread-safety: any thread; lock-free.
 */
LFQ_API LFQ_NODISCARD int lfq_ring_push(struct lfq_ring *ring, void *item);

/**
 * Removes the oldest item.
 * @param item  out: the item; untouched unless 0 is returned.
 * @return 0 if an item was removed;
 *         -EAGAIN if the ring is empty (and open; on a shared ring also when the search
 *                 gave up after its step limit);
 *         -EBADMSG on a shared ring whose memory another process corrupted (below);
 *         -EPIPE if the ring is closed and drained: no item whose push returned 0 is left
 *                for this or any later pop (an item already claimed by a concurrent pop is
 *                returned by that pop);
 *         -EINVAL if @p ring or @p item is NULL.
 * Thread-safety: any thread; lock-free.
 */
LFQ_API LFQ_NODISCARD int lfq_ring_pop(struct lfq_ring *ring, void **item);

/**
 * Pushes up to @p n items from @p items, in order, stopping at the first one that does not
 * fit. The pushed items keep their relative order (items of other producers may interleave).
 * @return the number pushed: items[0 .. ret-1] were accepted, the rest are still the
 *         caller's. 0 when the ring is full or closed, or @p n is 0; after a close it is the
 *         count pushed before the close took effect.
 * Thread-safety: any thread; lock-free.
 */
LFQ_API size_t lfq_ring_push_burst(struct lfq_ring *ring, void *const *items, size_t n);

/**
 * Pops up to @p n items into @p items, oldest first.
 * @return the number popped (0 when the ring is empty, closed and drained, or @p n is 0;
 *         lfq_ring_pop tells those apart).
 * Thread-safety: any thread; lock-free.
 */
LFQ_API size_t lfq_ring_pop_burst(struct lfq_ring *ring, void **items, size_t n);

/**
 * Pushes all @p n items from @p items, in order, or none of them.
 * @param free_space  if not NULL, out: the free room after the call, a snapshot as
 *                    capacity - lfq_ring_size (set on every return, 0 for a NULL ring).
 * @return @p n if all were accepted; 0 if the ring had room for fewer than @p n (nothing was
 *         pushed), is closed, @p n is 0 or above the capacity, an argument is NULL, or the
 *         ring was not created with LFQ_RING_SP (an all-or-nothing push needs the room it
 *         saw to stay free, which only a single producer knows; on the SCQ backend too).
 *         A close that races with the call can cut it short: it then returns the count
 *         pushed before the close took effect, as lfq_ring_push_burst does; the rest are
 *         still the caller's. Nothing else stops it part way.
 * Thread-safety: the ring's one producer; wait-free (at most n + 1 cell operations).
 */
LFQ_API size_t lfq_ring_push_bulk(struct lfq_ring *ring, void *const *items, size_t n,
				  size_t *free_space);

/**
 * Pops exactly @p n items into @p items, oldest first, or none.
 * @param available  if not NULL, out: the items left after the call, a snapshot as
 *                   lfq_ring_size (set on every return, 0 for a NULL ring).
 * @return @p n if @p n items were popped; 0 if fewer than @p n were in (nothing was popped),
 *         @p n is 0 or above the capacity, an argument is NULL, or the ring was not
 *         created with LFQ_RING_SC (only a single consumer can know the items it saw stay
 *         there). Items that are in stay in, whether the ring is closed or not.
 * Thread-safety: the ring's one consumer; wait-free (at most n + 1 cell operations).
 */
LFQ_API size_t lfq_ring_pop_bulk(struct lfq_ring *ring, void **items, size_t n, size_t *available);

/**
 * Pushes one item, waiting up to @p timeout_ns for room.
 * @param timeout_ns  < 0: wait as long as it takes; 0: one try; > 0: nanoseconds on
 *                    CLOCK_MONOTONIC (a few microseconds work). Signals do not cut it short.
 * @return 0 if the item was accepted;
 *         -ETIMEDOUT if the ring stayed full for the whole timeout (-EAGAIN if it was 0);
 *         -EPIPE if the ring is or becomes closed (waiters wake promptly);
 *         -EBADMSG on a corrupted shared ring (as lfq_ring_push);
 *         -EINVAL if @p ring is NULL.
 * Thread-safety: any thread; may sleep.
 */
LFQ_API LFQ_NODISCARD int lfq_ring_push_wait(struct lfq_ring *ring, void *item, int64_t timeout_ns);

/**
 * Pops one item, waiting up to @p timeout_ns for one to arrive.
 * @param timeout_ns  as for lfq_ring_push_wait.
 * @return 0 if an item was removed into @p item;
 *         -ETIMEDOUT if the ring stayed empty for the whole timeout (-EAGAIN if it was 0);
 *         -EPIPE if the ring is closed and drained (see lfq_ring_pop);
 *         -EBADMSG on a corrupted shared ring (as lfq_ring_pop);
 *         -EINVAL if @p ring or @p item is NULL.
 * Thread-safety: any thread; may sleep.
 */
LFQ_API LFQ_NODISCARD int lfq_ring_pop_wait(struct lfq_ring *ring, void **item, int64_t timeout_ns);

/**
 * Closes the ring: later pushes fail with -EPIPE, pops drain what is inside and then return
 * -EPIPE, and every thread waiting in a `_wait` call wakes up. Idempotent; safe from any
 * thread, concurrently with any call but destroy.
 * Thread-safety: any thread; lock-free (makes a wake-up call only if threads wait).
 */
LFQ_API void lfq_ring_close(struct lfq_ring *ring);

/** @return true once lfq_ring_close has been called. Thread-safety: any thread; wait-free. */
LFQ_API bool lfq_ring_is_closed(const struct lfq_ring *ring);

/** @return the capacity given to lfq_ring_create. Thread-safety: any thread; wait-free. */
LFQ_API size_t lfq_ring_capacity(const struct lfq_ring *ring);

/**
 * @return the number of items in the ring: a snapshot that may be stale by the time it
 *         returns while other threads push or pop, but never above the capacity. Exact
 *         when no push or pop is in progress (on the portable SCQ backend, with one
 *         exception: after a thread was stalled inside a call while the others went a full
 *         lap around the ring, it can read low by the tickets they had to skip, until the
 *         next push passes them).
 * Thread-safety: any thread; wait-free (at most capacity + 1 cell reads per hint).
 */
LFQ_API size_t lfq_ring_size(const struct lfq_ring *ring);

/**
 * @name Rings in memory shared between processes
 *
 * A ring can live in a memory region that several processes map (`memfd_create` or
 * `shm_open`, then `mmap(MAP_SHARED)`; or an anonymous `MAP_SHARED` mapping inherited
 * through `fork`). One process lays the ring out with lfq_ring_shared_init; every process,
 * the initializing one included, gets a handle with lfq_ring_shared_attach, and then uses
 * every ring call above on it unchanged: push, pop, the bursts, close, size, capacity and
 * the `_wait` calls, which sleep and wake across processes (shared futexes). Each process
 * may map the region at a different address: nothing inside it is a pointer.
 *
 * Items are 64-bit values carried as `void *`. A pointer means nothing in another process:
 * pass offsets into a shared region, or indices.
 *
 * The guarantee when processes die. A process may be killed (SIGKILL, a crash) at any
 * instruction, inside any ring call. Then:
 *  - the other processes keep completing their operations: the ring never wedges (a ring
 *    that is not full accepts a push, one that is not empty yields a pop);
 *  - every item whose push returned 0 is popped exactly once (unless the ring is never
 *    drained, and apart from an item that a killed consumer had already popped: that pop
 *    completed, and the item died with its consumer);
 *  - an item whose push was interrupted by the death of its producer is popped at most
 *    once: the push either took effect or did not;
 *  - nothing is ever popped twice.
 * Every operation takes effect at one atomic instruction, and a process holds nothing
 * between them, so there is nothing for a dead process to leave half done. One leftover
 * only costs time: a process killed inside a `_wait` call after it announced itself as a
 * sleeper leaves that announcement counted, so every later push (or pop, for a push_wait
 * sleeper) on that ring makes one futex wake-up system call that wakes nobody, until the
 * region is initialized again.
 *
 * Shared rings and faulty peers. Every process that maps the region can write anything
 * into it at any time, so this process trusts nothing it reads there. A faulty or hostile
 * peer can lose items, invent items (any 64-bit value), pop one item twice, close the ring,
 * make calls fail (-EAGAIN, -EPIPE, -EBADMSG) or miss wake-ups (a `_wait` call then
 * ends at its timeout). It cannot make a call in this process crash, read or write outside
 * the first lfq_ring_shared_size(capacity) bytes of the region, or run unbounded: the
 * geometry (capacity and what derives from it) is read once, by attach, into this
 * process's handle; every position read from the region is reduced to a valid cell before
 * it is used; a cell in a state no operation writes makes the call return -EBADMSG; and
 * every non-waiting call examines at most 65536 cells (2 * capacity + 4096 on smaller
 * rings) before it gives up with -EAGAIN, saving how far it got so that a retry goes on
 * from there (only a stale position hint on a ring larger than that can make an honest
 * call need more). A `_wait` call with a timeout returns within it, give or take one such
 * try (milliseconds at most). docs/ring.md has the details.
 *
 * The caller must map the whole region, lfq_ring_shared_size(capacity) bytes, and pass
 * its true length to attach: a shorter mapping (a backing file truncated by a peer, say,
 * which turns accesses past its end into SIGBUS) is outside what attach can check. Check
 * the file's size with fstat(2) before mapping it, and do not let peers shrink it.
 *
 * These calls are available on the cell backend (x86-64, aarch64). On the portable SCQ backend,
 * and in ThreadSanitizer builds (TSan emulates the cell's 16-byte CAS under a lock inside
 * each process, which is not atomic between processes), lfq_ring_shared_size returns 0 and
 * init and attach return -ENOTSUP.
 * @{
 */

/**
 * @return the number of bytes a shared ring of @p capacity items needs (a multiple of 64),
 *         or 0 if @p capacity is 0 or above LFQ_RING_CAPACITY_MAX, @p flags has an unknown
 *         bit, or the backend has no shared rings.
 * Thread-safety: any thread; wait-free (pure).
 */
LFQ_API size_t lfq_ring_shared_size(size_t capacity, unsigned flags);

/**
 * Lays out an empty, open ring of @p capacity items at @p mem, overwriting the first
 * lfq_ring_shared_size(capacity, flags) bytes. Does not allocate; the region stays the
 * caller's. Processes then use it through lfq_ring_shared_attach.
 *
 * @param mem       the region; 64-byte aligned (a mapping's start is).
 * @param bytes     the region's length: at least lfq_ring_shared_size(capacity, flags).
 * @param capacity  1 .. LFQ_RING_CAPACITY_MAX.
 * @param flags     0 (LFQ_RING_FLAGS_NONE). The single-side modes are not offered for
 *                  shared rings: their wake-up protocol relies on a process-wide barrier
 *                  (membarrier(2)), which does not reach other processes.
 * @return 0 on success;
 *         -EINVAL if @p mem is NULL or not 64-byte aligned, @p capacity or @p flags is
 *                 invalid, or @p bytes is too small (nothing is written);
 *         -ENOTSUP on the SCQ backend and in ThreadSanitizer builds.
 * Ordering: a process that attaches after it observed init's return (through any
 * synchronization, fork included) sees the whole layout.
 * Thread-safety: must not run while any thread or process uses a ring in the region;
 * not lock-free (writes every cell).
 */
LFQ_API LFQ_NODISCARD int lfq_ring_shared_init(void *mem, size_t bytes, size_t capacity,
					       unsigned flags);

/**
 * Validates the ring that lfq_ring_shared_init laid out at @p mem and returns a handle on
 * it for this process: a small allocation that holds a copy of the ring's geometry and
 * the address @p mem. It stays valid while the region stays mapped at that address, until
 * lfq_ring_shared_detach (or lfq_ring_destroy) frees it; every ring call accepts it.
 *
 * Attach reads only the first @p bytes of @p mem, reads the header once (into the handle)
 * and checks that copy before it uses anything: the alignment, that @p bytes covers the
 * header, the magic number and layout version, the capacity and every size derived from
 * it against @p bytes, the flags, a check word over the header; then the form of every
 * cell and both position hints. A foreign region, garbage, a flipped byte in the header, a
 * layout of another version of this library, a header a peer rewrites during the call:
 * -EINVAL, never a crash. What peers write into the region later cannot change the
 * handle's geometry (see "Shared rings and faulty peers" above).
 *
 * @param ring   out: the handle; untouched on error.
 * @param mem    where this process mapped the region; 64-byte aligned. The mapping must
 *               cover the whole ring (lfq_ring_shared_size bytes): see above.
 * @param bytes  the length of this process's mapping.
 * @return 0 on success;
 *         -EINVAL if @p ring or @p mem is NULL, @p mem is misaligned, @p bytes is smaller
 *                 than the ring, or the region does not hold a valid shared ring;
 *         -ENOMEM if the handle cannot be allocated;
 *         -ENOTSUP on the SCQ backend and in ThreadSanitizer builds.
 * Thread-safety: any thread, concurrently with every call on the ring (other processes
 * may be using it); not lock-free (allocates), reads each cell once (O(capacity)).
 */
LFQ_API LFQ_NODISCARD int lfq_ring_shared_attach(struct lfq_ring **ring, void *mem, size_t bytes);

/**
 * Gives up this process's handle and frees it: after it returns, the caller may unmap the
 * region. The ring itself is untouched and other processes keep using it; items inside
 * stay there. lfq_ring_destroy on a handle does the same. NULL, and anything that is not
 * a handle from lfq_ring_shared_attach, is accepted and ignored.
 * Thread-safety: must not run concurrently with this process's other calls on @p ring.
 */
LFQ_API void lfq_ring_shared_detach(struct lfq_ring *ring);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* LFQ_RING_H */
