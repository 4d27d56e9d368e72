/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring's public calls: argument checks, wake-ups and the blocking calls, over the
 * lock-free operations of the backend the build selected (ring_internal.h).
 *
 * Every call checks its pointers in every build (one predictable branch): NULL gives -EINVAL,
 * or a neutral answer for the calls that cannot fail.
 *
 * Wake-ups: a push that returned 0 notifies not_empty, a pop not_full (N1 in waitq.h). The
 * Dekker pair with the waiter (W1/W2) needs the operation's linearizing RMW to be seq_cst;
 * both backends' are (C4/C5 in ring_cells.c, E4/D4 in scq.h), and so is the single
 * producer's (O3); the single consumer's plain release store (O5) relies on not_full being
 * an asymmetric waitq instead (W2a in waitq.h).
 */
#include <errno.h>
#include <stdint.h>

#include <lfq/ring.h>

#include "ring_internal.h"

/*
 * A handle on a shared ring (lfq_ring_shared_attach) goes to the checked operations of
 * ring_shared.c: one test of a flag that the private ring's fast path loads anyway (its mode
 * bits share the word), so a private ring pays one predictable branch and nothing else.
 */
#if LFQ__SHARED_RINGS
#define SHARED_RING(ring, call)                                                                    \
	do {                                                                                       \
		if (lfq__ring_is_handle(ring))                                                     \
			return call;                                                               \
	} while (0)
#else
#define SHARED_RING(ring, call) ((void)0)
#endif

static size_t size_of(const struct lfq_ring *ring)
{
	SHARED_RING(ring, lfq__shared_size(ring));
	return lfq__ring_size(ring);
}

int lfq_ring_create(struct lfq_ring **ring, size_t capacity, unsigned flags)
{
	if (!ring || capacity == 0 || capacity > LFQ_RING_CAPACITY_MAX ||
	    (flags & ~(LFQ_RING_SP | LFQ_RING_SC)))
		return -EINVAL;
	return lfq__ring_create(ring, capacity, flags);
}

void lfq_ring_destroy(struct lfq_ring *ring)
{
	if (!ring)
		return;
#if LFQ__SHARED_RINGS
	if (lfq__ring_is_handle(ring)) {
		lfq__shared_detach(ring);
		return;
	}
#endif
	lfq__ring_destroy(ring);
}

int lfq_ring_push(struct lfq_ring *ring, void *item)
{
	if (!ring)
		return -EINVAL;
	SHARED_RING(ring, lfq__shared_push(ring, item));
	const int rc = lfq__ring_push_one(ring, item);

	if (rc == 0)
		lfq__waitq_notify(&ring->not_empty, 1);
	return rc;
}

int lfq_ring_pop(struct lfq_ring *ring, void **item)
{
	if (!ring || !item)
		return -EINVAL;
	SHARED_RING(ring, lfq__shared_pop(ring, item));
	const int rc = lfq__ring_pop_one(ring, item);

	if (rc == 0)
		lfq__waitq_notify(&ring->not_full, 1);
	return rc;
}

size_t lfq_ring_push_burst(struct lfq_ring *ring, void *const *items, size_t n)
{
	if (!ring || !items || n == 0)
		return 0;
	SHARED_RING(ring, lfq__shared_push_burst(ring, items, n));
	const size_t k = lfq__ring_push_burst(ring, items, n);

	if (k)
		lfq__waitq_notify(&ring->not_empty, k > LFQ_WAITQ_ALL ? LFQ_WAITQ_ALL : (int)k);
	return k;
}

size_t lfq_ring_pop_burst(struct lfq_ring *ring, void **items, size_t n)
{
	if (!ring || !items || n == 0)
		return 0;
	SHARED_RING(ring, lfq__shared_pop_burst(ring, items, n));
	const size_t k = lfq__ring_pop_burst(ring, items, n);

	if (k)
		lfq__waitq_notify(&ring->not_full, k > LFQ_WAITQ_ALL ? LFQ_WAITQ_ALL : (int)k);
	return k;
}

size_t lfq_ring_push_bulk(struct lfq_ring *ring, void *const *items, size_t n, size_t *free_space)
{
	size_t k = 0;

	if (ring && items && n)
		k = lfq__ring_push_bulk(ring, items, n);
	if (k)
		lfq__waitq_notify(&ring->not_empty, k > LFQ_WAITQ_ALL ? LFQ_WAITQ_ALL : (int)k);
	if (free_space)
		*free_space = ring ? ring->capacity - size_of(ring) : 0;
	return k;
}

size_t lfq_ring_pop_bulk(struct lfq_ring *ring, void **items, size_t n, size_t *available)
{
	size_t k = 0;

	if (ring && items && n)
		k = lfq__ring_pop_bulk(ring, items, n);
	if (k)
		lfq__waitq_notify(&ring->not_full, k > LFQ_WAITQ_ALL ? LFQ_WAITQ_ALL : (int)k);
	if (available)
		*available = ring ? size_of(ring) : 0;
	return k;
}

/* The blocking calls: lfq__waitq_wait's spin-then-sleep over the lock-free calls. */
static int try_push(void *ring, void *item)
{
	return lfq__ring_push_one(ring, item);
}

static int try_pop(void *ring, void *item)
{
	return lfq__ring_pop_one(ring, item);
}

int lfq_ring_push_wait(struct lfq_ring *ring, void *item, int64_t timeout_ns)
{
	if (!ring)
		return -EINVAL;
	SHARED_RING(ring, lfq__shared_push_wait(ring, item, timeout_ns));
	const int rc = lfq__waitq_wait(&ring->not_full, try_push, ring, item, timeout_ns);

	if (rc == 0)
		lfq__waitq_notify(&ring->not_empty, 1);
	return rc;
}

int lfq_ring_pop_wait(struct lfq_ring *ring, void **item, int64_t timeout_ns)
{
	if (!ring || !item)
		return -EINVAL;
	SHARED_RING(ring, lfq__shared_pop_wait(ring, item, timeout_ns));
	const int rc = lfq__waitq_wait(&ring->not_empty, try_pop, ring, item, timeout_ns);

	if (rc == 0)
		lfq__waitq_notify(&ring->not_full, 1);
	return rc;
}

void lfq_ring_close(struct lfq_ring *ring)
{
	if (!ring)
		return;
#if LFQ__SHARED_RINGS
	if (lfq__ring_is_handle(ring)) {
		lfq__shared_close(ring);
		return;
	}
#endif
	lfq__ring_finalize(ring);
	/* Waiters of both kinds re-check and see the close (W2 pairs with the seq_cst close as
	 * with a publish). */
	lfq__waitq_notify(&ring->not_empty, LFQ_WAITQ_ALL);
	lfq__waitq_notify(&ring->not_full, LFQ_WAITQ_ALL);
}

bool lfq_ring_is_closed(const struct lfq_ring *ring)
{
	if (!ring)
		return false;
	SHARED_RING(ring, lfq__shared_closed(ring));
	return lfq__ring_closed(ring);
}

size_t lfq_ring_capacity(const struct lfq_ring *ring)
{
	return ring ? ring->capacity : 0;
}

size_t lfq_ring_size(const struct lfq_ring *ring)
{
	return ring ? size_of(ring) : 0;
}
