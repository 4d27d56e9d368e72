/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring: SCQ's queue of pointers. Two index rings over one data array:
 *
 *     push(x):  i = fq.dequeue() (none: full);  data[i] = x;  aq.enqueue(i)
 *     pop():    i = aq.dequeue() (none: empty); x = data[i];  fq.enqueue(i)
 *
 * The data array needs no atomics: slot i belongs to whoever holds index i, and the index
 * rings hand an index from one owner to the next with release/acquire pairs:
 *   data[i] = x  (push) happens-before  x = data[i]  (pop):  E4 on aq pairs with D3 on aq;
 *   x = data[i]  (pop)  happens-before  data[i] = y  (next push of slot i): E4 on fq pairs
 *   with D3 on fq.
 * The memory-order labels (E1..E5, D1..D7, C1) are defined in scq.h.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lfq/ring.h>

#include "ring_internal.h"

/* Smallest order with 2^order >= capacity. */
static unsigned order_for(size_t capacity)
{
	unsigned order = 0;

	while (((size_t)1 << order) < capacity)
		order++;
	return order;
}

static uint64_t round_up(uint64_t n, uint64_t align)
{
	return (n + align - 1) / align * align;
}

int lfq_ring_create(struct lfq_ring **ring, size_t capacity, unsigned flags)
{
	if (!ring || capacity == 0 || capacity > LFQ_RING_CAPACITY_MAX ||
	    (flags & ~LFQ_RING_FLAGS_NONE))
		return -EINVAL;

	const unsigned order = order_for(capacity);
	const size_t nentries = lfq__scq_entries(order);
	/* Capacity <= 2^31 keeps every product below 2^37; check anyway for 32-bit size_t. */
	const uint64_t head_bytes = round_up(sizeof(struct lfq_ring), LFQ_CACHE_LINE);
	const uint64_t ring_bytes = (uint64_t)nentries * sizeof(_Atomic uint64_t);
	const uint64_t data_bytes = (uint64_t)capacity * sizeof(void *);
	/* aligned_alloc wants a multiple of the alignment. */
	const uint64_t total =
		round_up(head_bytes + 2 * ring_bytes + data_bytes, LFQ_CACHE_LINE);

	if (total > SIZE_MAX)
		return -ENOMEM;
	char *mem = aligned_alloc(LFQ_CACHE_LINE, (size_t)total);

	if (!mem)
		return -ENOMEM;
	struct lfq_ring *r = (struct lfq_ring *)mem;

	memset(r, 0, sizeof(*r));
	_Atomic uint64_t *aq_entries = (_Atomic uint64_t *)(mem + head_bytes);
	_Atomic uint64_t *fq_entries = (_Atomic uint64_t *)(mem + head_bytes + ring_bytes);

	r->data = (void **)(mem + head_bytes + 2 * ring_bytes);
	r->capacity = capacity;
	lfq__scq_init(&r->aq, aq_entries, order, 0);
	lfq__scq_init(&r->fq, fq_entries, order, capacity);
	*ring = r;
	return 0;
}

void lfq_ring_destroy(struct lfq_ring *ring)
{
	free(ring);
}

int lfq_ring_push(struct lfq_ring *ring, void *item)
{
	assert(ring);
	const uint64_t i = lfq__scq_dequeue(&ring->fq, LFQ_TP_FQ_DEQ_TICKET);

	if (i == LFQ_SCQ_EMPTY)
		return -EAGAIN;
	LFQ_TEST_POINT(LFQ_TP_PUSH_HAVE_SLOT);
	ring->data[i] = item; /* ours alone: we hold index i */
	lfq__scq_enqueue(&ring->aq, i, true, LFQ_TP_AQ_ENQ_TICKET, LFQ_TP_AQ_ENQ_STORED);
	return 0;
}

int lfq_ring_pop(struct lfq_ring *ring, void **item)
{
	assert(ring && item);
	const uint64_t i = lfq__scq_dequeue(&ring->aq, LFQ_TP_AQ_DEQ_TICKET);

	if (i == LFQ_SCQ_EMPTY)
		return -EAGAIN;
	LFQ_TEST_POINT(LFQ_TP_POP_HAVE_SLOT);
	*item = ring->data[i];
	lfq__scq_enqueue(&ring->fq, i, false, LFQ_TP_FQ_ENQ_TICKET, LFQ_TP_NONE);
	return 0;
}

size_t lfq_ring_push_burst(struct lfq_ring *ring, void *const *items, size_t n)
{
	size_t k = 0;

	assert(ring && (items || n == 0));
	while (k < n && lfq_ring_push(ring, items[k]) == 0)
		k++;
	return k;
}

size_t lfq_ring_pop_burst(struct lfq_ring *ring, void **items, size_t n)
{
	size_t k = 0;

	assert(ring && (items || n == 0));
	while (k < n && lfq_ring_pop(ring, &items[k]) == 0)
		k++;
	return k;
}

size_t lfq_ring_capacity(const struct lfq_ring *ring)
{
	assert(ring);
	return ring->capacity;
}

size_t lfq_ring_size(const struct lfq_ring *ring)
{
	assert(ring);
	struct lfq_ring *r = (struct lfq_ring *)ring; /* atomic loads need non-const */
	/* Relaxed: a snapshot. Head first, so that a concurrent push+pop between the loads can
	 * only make the estimate larger, which the clamp bounds. */
	const uint64_t head = atomic_load_explicit(&r->aq.head, memory_order_relaxed);
	const uint64_t tail =
		atomic_load_explicit(&r->aq.tail, memory_order_relaxed) & ~LFQ_SCQ_CLOSED;

	if (tail <= head)
		return 0;
	return tail - head > ring->capacity ? ring->capacity : (size_t)(tail - head);
}
