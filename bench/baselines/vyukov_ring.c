/* SPDX-License-Identifier: MIT */
/*
 * vyukov_ring: Dmitry Vyukov's bounded MPMC queue (per-slot sequence numbers), in C11
 * atomics. See vyukov_ring.h.
 *
 * Slot i (cell) cycles through three states, told apart by its sequence `seq` relative to
 * the position `pos` that maps to it (i = pos & mask):
 *   seq == pos             free: a producer at position pos may claim it
 *   seq == pos + 1         full: holds the item pushed at pos; a consumer at pos may claim it
 *   seq == pos + mask + 1  free again, for the producer at pos + capacity
 * A producer claims by CAS on enqueue_pos, writes the item, then stores seq = pos + 1;
 * a consumer claims by CAS on dequeue_pos, reads the item, then stores seq = pos + capacity.
 *
 * Labels (acquire Ax pairs with release Rx):
 *   A1  push: load of cell->seq        pairs with R2 (the consumer that last freed the slot
 *                                      finished reading the old item before we overwrite it)
 *   R1  push: store cell->seq = pos+1  publishes cell->data; pairs with A2
 *   A2  pop:  load of cell->seq        pairs with R1 (the item written before R1 is visible)
 *   R2  pop:  store cell->seq = pos+cap  frees the slot after reading data; pairs with A1
 * The positions enqueue_pos / dequeue_pos are accessed relaxed: they only arbitrate which
 * thread owns which slot (the CAS's atomicity is all that matters); every transfer of data
 * is ordered by the slot's sequence (A1/R1/A2/R2).
 *
 * Positions and sequences are free-running size_t counters. On 64-bit they do not wrap in
 * practice; even if they did, every comparison is made on the difference of two values less
 * than 2^31 apart, computed in unsigned arithmetic (which wraps) and then read as signed, so
 * it stays correct across wraparound.
 */
#include "vyukov_ring.h"

#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "baseline_arch.h"

#define VYUKOV_RING_CAPACITY_MAX ((size_t)1 << 31)

struct vyukov_cell {
	atomic_size_t seq;
	void *data;
};

struct vyukov_ring {
	/* Producer-side and consumer-side positions on their own cache lines, so producers
	 * and consumers do not invalidate each other's line on every CAS. */
	alignas(BASELINE_CACHE_LINE) atomic_size_t enqueue_pos;
	alignas(BASELINE_CACHE_LINE) atomic_size_t dequeue_pos;
	/* Read-only after create; shared by both sides. */
	alignas(BASELINE_CACHE_LINE) size_t mask;
	struct vyukov_cell *cells;
};

#ifdef BASELINE_TESTING
/* Test-only park hook; an atomic pointer so that setting it while threads run is not a race.
 * Acquire/release so that whatever the test set up before installing the hook is visible to
 * the thread that calls it. */
static void (*_Atomic park_hook)(int point);

void vyukov_ring_set_park_hook(void (*hook)(int point))
{
	atomic_store_explicit(&park_hook, hook, memory_order_release);
}

static inline void park(int point)
{
	void (*hook)(int) = atomic_load_explicit(&park_hook, memory_order_acquire);

	if (hook != NULL)
		hook(point);
}
#else
static inline void park(int point)
{
	(void)point;
}
#endif

int vyukov_ring_create(struct vyukov_ring **ring, size_t capacity)
{
	struct vyukov_ring *r;
	size_t cap = 2, cells_size, i;

	if (ring == NULL || capacity == 0 || capacity > VYUKOV_RING_CAPACITY_MAX)
		return -EINVAL;
	/* The design needs at least two slots: with one, a producer at pos + 1 would find the
	 * freshly filled slot's seq == pos + 1 and overwrite it. */
	while (cap < capacity)
		cap <<= 1;

	/* aligned_alloc needs a size that is a multiple of the alignment: the struct's size
	 * is, since its members are cache-line aligned. */
	r = aligned_alloc(alignof(struct vyukov_ring), sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	/* Rounded up to whole cache lines, as aligned_alloc requires (a 2-slot ring's cells
	 * take only 32 bytes). */
	cells_size = (cap * sizeof(r->cells[0]) + BASELINE_CACHE_LINE - 1) &
		     ~(size_t)(BASELINE_CACHE_LINE - 1);
	r->cells = aligned_alloc(BASELINE_CACHE_LINE, cells_size);
	if (r->cells == NULL) {
		free(r);
		return -ENOMEM;
	}
	r->mask = cap - 1;
	/* Relaxed: nothing is shared yet; the caller hands the ring to other threads through
	 * some synchronising operation (thread creation, a release store, a lock). */
	for (i = 0; i < cap; i++) {
		atomic_init(&r->cells[i].seq, i);
		r->cells[i].data = NULL;
	}
	atomic_init(&r->enqueue_pos, 0);
	atomic_init(&r->dequeue_pos, 0);
	*ring = r;
	return 0;
}

void vyukov_ring_destroy(struct vyukov_ring *ring)
{
	if (ring == NULL)
		return;
	free(ring->cells);
	free(ring);
}

size_t vyukov_ring_capacity(const struct vyukov_ring *ring)
{
	assert(ring != NULL);
	return ring->mask + 1;
}

int vyukov_ring_push(struct vyukov_ring *ring, void *item)
{
	struct vyukov_cell *cell;
	size_t pos, seq;
	intptr_t dif;

	assert(ring != NULL);
	/* Relaxed: only a guess at the position to claim; the CAS below validates it. */
	pos = atomic_load_explicit(&ring->enqueue_pos, memory_order_relaxed);
	for (;;) {
		cell = &ring->cells[pos & ring->mask];
		/* A1: pairs with R2 in pop; the previous item in this slot has been read. */
		seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
		dif = (intptr_t)(seq - pos);
		if (dif == 0) {
			/* Relaxed CAS (success and failure): it only decides ownership of the
			 * slot; the data is ordered by A1 above and R1 below. On failure, pos is
			 * reloaded with the current position. */
			if (atomic_compare_exchange_weak_explicit(&ring->enqueue_pos, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (dif < 0) {
			/* The slot still holds the item from one lap ago (ring full, or its
			 * consumer has claimed but not yet released it). */
			return -EAGAIN;
		} else {
			/* Another producer claimed pos already; catch up (relaxed: a guess,
			 * validated by the next CAS). */
			pos = atomic_load_explicit(&ring->enqueue_pos, memory_order_relaxed);
		}
	}
	/* Slot claimed, not yet published: consumers reaching it now see the ring as empty. */
	park(VYUKOV_RING_PARK_PUSH_CLAIMED);
	cell->data = item;
	/* R1: publishes cell->data; pairs with A2 in pop. */
	atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
	return 0;
}

int vyukov_ring_pop(struct vyukov_ring *ring, void **item)
{
	struct vyukov_cell *cell;
	size_t pos, seq;
	intptr_t dif;

	assert(ring != NULL && item != NULL);
	/* Relaxed: only a guess at the position to claim; the CAS below validates it. */
	pos = atomic_load_explicit(&ring->dequeue_pos, memory_order_relaxed);
	for (;;) {
		cell = &ring->cells[pos & ring->mask];
		/* A2: pairs with R1 in push; makes cell->data written by the producer visible. */
		seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
		dif = (intptr_t)(seq - (pos + 1));
		if (dif == 0) {
			/* Relaxed CAS: ownership only, as in push. */
			if (atomic_compare_exchange_weak_explicit(&ring->dequeue_pos, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (dif < 0) {
			/* Not yet published for this lap: ring empty, or its producer has claimed
			 * but not yet published it. */
			return -EAGAIN;
		} else {
			/* Another consumer claimed pos already; catch up (relaxed guess). */
			pos = atomic_load_explicit(&ring->dequeue_pos, memory_order_relaxed);
		}
	}
	/* Slot claimed, not yet released: producers coming round to it see the ring as full. */
	park(VYUKOV_RING_PARK_POP_CLAIMED);
	*item = cell->data;
	/* R2: frees the slot for the producer one lap ahead, after the read of cell->data
	 * above; pairs with A1 in push. */
	atomic_store_explicit(&cell->seq, pos + ring->mask + 1, memory_order_release);
	return 0;
}

size_t vyukov_ring_push_burst(struct vyukov_ring *ring, void *const *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (vyukov_ring_push(ring, items[i]) != 0)
			break;
	return i;
}

size_t vyukov_ring_pop_burst(struct vyukov_ring *ring, void **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (vyukov_ring_pop(ring, &items[i]) != 0)
			break;
	return i;
}
