/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring, portable backend: SCQ's queue of pointers. Two index rings over one data array:
 *
 *     push(x):  i = fq.dequeue() (none: full);  data[i] = x;  aq.enqueue(i)
 *     pop():    i = aq.dequeue() (none: empty); x = data[i];  fq.enqueue(i)
 *
 * The data array needs no atomics: slot i belongs to whoever holds index i, and the index
 * rings hand an index from one owner to the next with release/acquire pairs:
 *   data[i] = x  (push) happens-before  x = data[i]  (pop):  E4 on aq pairs with D3 on aq;
 *   x = data[i]  (pop)  happens-before  data[i] = y  (next push of slot i): E4 on fq pairs
 *   with D3 on fq.
 * The memory-order labels (E1..E5, D1..D7, C1) are defined in scq.h, W1..W4 and N1..N2 in
 * waitq.h. Close (K1) sets the closed bit of aq's tail: every later enqueue ticket fails,
 * and pops then drain aq up to the tail value they read (lfq__scq_drain).
 *
 * K1  close: fetch_or aq.tail     seq_cst (as E1; then both waitqs are notified)
 * K2  closed check: load aq.tail  seq_cst (as D6)
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

int lfq__ring_create(struct lfq_ring **ring, size_t capacity, unsigned flags)
{
	/* The single-side modes are served by the shared paths; only the bulk calls use them
	 * (pop_bulk's stash is the single consumer's). */
	const unsigned order = order_for(capacity);
	const size_t nentries = lfq__scq_entries(order);
	/* Capacity <= 2^31 keeps every product below 2^37; check anyway for 32-bit size_t. */
	const uint64_t head_bytes = round_up(sizeof(struct lfq_ring), LFQ_CACHE_LINE);
	const uint64_t ring_bytes = (uint64_t)nentries * sizeof(_Atomic uint64_t);
	const uint64_t data_bytes = (uint64_t)capacity * sizeof(void *);
	const uint64_t stash_bytes =
		(flags & LFQ_RING_SC) ? (uint64_t)capacity * sizeof(uint64_t) : 0;
	/* aligned_alloc wants a multiple of the alignment. */
	const uint64_t total =
		round_up(head_bytes + 2 * ring_bytes + data_bytes + stash_bytes, LFQ_CACHE_LINE);

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
	r->flags = flags;
	r->stash =
		stash_bytes ? (uint64_t *)(mem + head_bytes + 2 * ring_bytes + data_bytes) : NULL;
	lfq__scq_init(&r->aq, aq_entries, order, 0);
	lfq__scq_init(&r->fq, fq_entries, order, capacity);
	lfq__waitq_init(&r->not_empty);
	lfq__waitq_init(&r->not_full);
	*ring = r;
	return 0;
}

void lfq__ring_destroy(struct lfq_ring *ring)
{
	free(ring);
}

/* K2: the closed bit of aq's tail, with the tail value it came with. */
static inline uint64_t closed_tail(struct lfq_ring *ring)
{
	LFQ_SCHED_POINT();
	return LFQ_LOAD(&ring->aq.tail, memory_order_seq_cst);
}

int lfq__ring_push_one(struct lfq_ring *ring, void *item)
{
	const uint64_t i = lfq__scq_dequeue(&ring->fq, LFQ_TP_FQ_DEQ_TICKET);

	if (i == LFQ_SCQ_EMPTY)
		return (closed_tail(ring) & LFQ_SCQ_CLOSED) ? -EPIPE : -EAGAIN;
	LFQ_TEST_POINT(LFQ_TP_PUSH_HAVE_SLOT);
	LFQ_SLOT_STORE(&ring->data[i], item); /* ours alone: we hold index i */
	if (!lfq__scq_enqueue(&ring->aq, i, true, LFQ_TP_AQ_ENQ_TICKET, LFQ_TP_AQ_ENQ_STORED)) {
		/* Closed before our ticket: the item stays the caller's, the slot goes back. */
#ifndef LFQ_MUTANT_CLOSED_PUSH_LEAKS_SLOT /* test-only mutant: the slot is lost */
		lfq__scq_enqueue(&ring->fq, i, false, LFQ_TP_NONE, LFQ_TP_NONE);
#endif
		return -EPIPE;
	}
	return 0;
}

/* Hands out the oldest stashed index's item (pop_bulk) and frees its slot. */
static void stash_pop(struct lfq_ring *ring, void **item)
{
	const uint64_t i = ring->stash[ring->stash_head++];

	ring->stash_count--;
	*item = LFQ_SLOT_LOAD(&ring->data[i]);
	lfq__scq_enqueue(&ring->fq, i, false, LFQ_TP_FQ_ENQ_TICKET, LFQ_TP_NONE);
}

int lfq__ring_pop_one(struct lfq_ring *ring, void **item)
{
	if (ring->stash_count) { /* only ever nonzero on an SC ring, read by its consumer */
		stash_pop(ring, item);
		return 0;
	}
	uint64_t i = lfq__scq_dequeue(&ring->aq, LFQ_TP_AQ_DEQ_TICKET);

	if (i == LFQ_SCQ_EMPTY) {
		const uint64_t t = closed_tail(ring);

		if (!(t & LFQ_SCQ_CLOSED))
			return -EAGAIN;
#ifdef LFQ_MUTANT_CLOSE_SKIPS_DRAIN /* test-only mutant: closed and "empty" taken as drained */
		return -EPIPE;
#endif
		i = lfq__scq_drain(&ring->aq, t & ~LFQ_SCQ_CLOSED, LFQ_TP_AQ_DEQ_TICKET);
		if (i == LFQ_SCQ_EMPTY)
			return -EPIPE;
	}
	LFQ_TEST_POINT(LFQ_TP_POP_HAVE_SLOT);
#ifdef LFQ_MUTANT_FREE_BEFORE_READ /* test-only mutant: the slot goes back before the read */
	lfq__scq_enqueue(&ring->fq, i, false, LFQ_TP_FQ_ENQ_TICKET, LFQ_TP_NONE);
	*item = LFQ_SLOT_LOAD(&ring->data[i]);
#else
	*item = LFQ_SLOT_LOAD(&ring->data[i]);
	lfq__scq_enqueue(&ring->fq, i, false, LFQ_TP_FQ_ENQ_TICKET, LFQ_TP_NONE);
#endif
	return 0;
}

/* Bursts move up to this many items per ticket batch (indices live on the stack). */
#define BURST_CHUNK 64

/* Takes free slots and item tickets in batches: one FAA on each index ring per chunk
 * instead of one per item. */
size_t lfq__ring_push_burst(struct lfq_ring *ring, void *const *items, size_t n)
{
	uint64_t idx[BURST_CHUNK];
	size_t k = 0;

	while (k < n) {
		const size_t want = n - k < BURST_CHUNK ? n - k : BURST_CHUNK;
		const size_t got =
			lfq__scq_dequeue_batch(&ring->fq, idx, want, LFQ_TP_FQ_DEQ_TICKET);

		if (got == 0) {
			/* The batch gives up on contention; the single path decides "full" (or
			 * closed) with SCQ's own rules. */
			if (lfq__ring_push_one(ring, items[k]) != 0)
				break;
			k++;
			continue;
		}
		LFQ_TEST_POINT(LFQ_TP_PUSH_HAVE_SLOT);
		for (size_t j = 0; j < got; j++)
			LFQ_SLOT_STORE(&ring->data[idx[j]], items[k + j]);
		const size_t placed = lfq__scq_enqueue_batch(
			&ring->aq, idx, got, true, LFQ_TP_AQ_ENQ_TICKET, LFQ_TP_AQ_ENQ_STORED);

		k += placed;
		if (placed < got) {
			/* Closed: the rest stay the caller's, their slots go back. */
			lfq__scq_enqueue_batch(&ring->fq, idx + placed, got - placed, false,
					       LFQ_TP_NONE, LFQ_TP_NONE);
			break;
		}
	}
	return k;
}

/* Batched like lfq__ring_push_burst. */
size_t lfq__ring_pop_burst(struct lfq_ring *ring, void **items, size_t n)
{
	uint64_t idx[BURST_CHUNK];
	size_t k = 0;

	while (k < n && ring->stash_count) /* what a pop_bulk left first: it is older */
		stash_pop(ring, &items[k++]);
	while (k < n) {
		const size_t want = n - k < BURST_CHUNK ? n - k : BURST_CHUNK;
		const size_t got =
			lfq__scq_dequeue_batch(&ring->aq, idx, want, LFQ_TP_AQ_DEQ_TICKET);

		if (got == 0) {
			/* Empty, contended, or closed and draining: the single path decides. */
			if (lfq__ring_pop_one(ring, &items[k]) != 0)
				break;
			k++;
			continue;
		}
		LFQ_TEST_POINT(LFQ_TP_POP_HAVE_SLOT);
		for (size_t j = 0; j < got; j++)
			items[k + j] = LFQ_SLOT_LOAD(&ring->data[idx[j]]);
		lfq__scq_enqueue_batch(&ring->fq, idx, got, false, LFQ_TP_FQ_ENQ_TICKET,
				       LFQ_TP_NONE);
		k += got;
	}
	return k;
}

void lfq__ring_finalize(struct lfq_ring *ring)
{
	/* K1: from here on every aq ticket carries the bit and its enqueue fails. */
	LFQ_SCHED_POINT();
	LFQ_FETCH_OR(&ring->aq.tail, LFQ_SCQ_CLOSED, memory_order_seq_cst);
}

void lfq__ring_reset(struct lfq_ring *ring)
{
	ring->stash_head = 0;
	ring->stash_count = 0;
	lfq__scq_reset(&ring->aq, 0);
	lfq__scq_reset(&ring->fq, ring->capacity);
}

bool lfq__ring_closed(const struct lfq_ring *ring)
{
	return closed_tail((struct lfq_ring *)ring) & LFQ_SCQ_CLOSED;
}

size_t lfq__ring_size(const struct lfq_ring *ring)
{
	struct lfq_ring *r = (struct lfq_ring *)ring; /* atomic loads need non-const */
	/* Counted from the free-index ring: its tickets are never inflated by pushes that
	 * fail after close. Relaxed: a snapshot, clamped to [0, capacity]. When no operation
	 * is in progress, tail - head is the number of free slots (see design.md, "size",
	 * for the one exception). */
	LFQ_SCHED_POINT();
	const uint64_t head = LFQ_LOAD(&r->fq.head, memory_order_relaxed);
	LFQ_SCHED_POINT();
	const uint64_t tail = LFQ_LOAD(&r->fq.tail, memory_order_relaxed);
	const uint64_t free_slots = tail <= head ? 0 : tail - head;

	return free_slots >= ring->capacity ? 0 : ring->capacity - (size_t)free_slots;
}

/* No index: the end of the chain of slots a push_bulk holds. */
#define NO_INDEX UINT64_MAX

/* The chain link kept in slot i while push_bulk holds it. */
static uint64_t link_of(const struct lfq_ring *ring, uint64_t i)
{
	return (uint64_t)(uintptr_t)LFQ_SLOT_LOAD(&ring->data[i]);
}

static void set_link(struct lfq_ring *ring, uint64_t i, uint64_t next)
{
	LFQ_SLOT_STORE(&ring->data[i], (void *)(uintptr_t)next);
}

/* Gives the chain of held slots from i on back to fq. */
static void release_chain(struct lfq_ring *ring, uint64_t i)
{
	while (i != NO_INDEX) {
		const uint64_t next = link_of(ring, i);

		lfq__scq_enqueue(&ring->fq, i, false, LFQ_TP_NONE, LFQ_TP_NONE);
		i = next;
	}
}

/*
 * All or nothing, for the single producer: it takes n free slots first, one at a time,
 * remembering them as a chain through the slots themselves (each holds the index of the one
 * taken before it: no memory beyond the ring). If fq runs out first, it gives them all back
 * and pushes nothing. Otherwise it reverses the chain (first slot first), writes the items
 * and enqueues the slots on aq in order. Only a close can stop that part way (the rest of
 * the slots go back; the count says what was pushed), as on the cell backend.
 */
size_t lfq__ring_push_bulk(struct lfq_ring *ring, void *const *items, size_t n)
{
	uint64_t top = NO_INDEX, prev = NO_INDEX;
	size_t k;

	if (!(ring->flags & LFQ_RING_SP) || n == 0 || n > ring->capacity)
		return 0;
	for (k = 0; k < n; k++) {
		const uint64_t i = lfq__scq_dequeue(&ring->fq, LFQ_TP_FQ_DEQ_TICKET);

		if (i == LFQ_SCQ_EMPTY)
			break;
		set_link(ring, i, top);
		top = i;
	}
	if (k < n) {
		release_chain(ring, top);
		return 0;
	}
	while (top != NO_INDEX) { /* reverse: the first slot taken first */
		const uint64_t next = link_of(ring, top);

		set_link(ring, top, prev);
		prev = top;
		top = next;
	}
	LFQ_TEST_POINT(LFQ_TP_PUSH_HAVE_SLOT);
	for (k = 0, top = prev; top != NO_INDEX; k++) {
		const uint64_t next = link_of(ring, top);

		LFQ_SLOT_STORE(&ring->data[top], items[k]);
		if (!lfq__scq_enqueue(&ring->aq, top, true, LFQ_TP_AQ_ENQ_TICKET,
				      LFQ_TP_AQ_ENQ_STORED)) {
			/* Closed: this item and the rest stay the caller's. */
			set_link(ring, top, next);
			release_chain(ring, top);
			break;
		}
		top = next;
	}
	return k;
}

/*
 * All or nothing, for the single consumer: it takes indices from aq (in FIFO order) into
 * its stash until it holds n. With fewer in, it keeps them stashed, oldest first, and
 * returns 0: the items stay in the ring (their slots stay occupied) and every later pop,
 * burst or bulk hands them out first, so neither FIFO order nor capacity changes.
 */
size_t lfq__ring_pop_bulk(struct lfq_ring *ring, void **items, size_t n)
{
	if (!(ring->flags & LFQ_RING_SC) || n == 0 || n > ring->capacity)
		return 0;
	if (ring->stash_head) { /* to the front: at most capacity entries ever */
		memmove(ring->stash, ring->stash + ring->stash_head,
			ring->stash_count * sizeof(*ring->stash));
		ring->stash_head = 0;
	}
	while (ring->stash_count < n) {
		uint64_t i = lfq__scq_dequeue(&ring->aq, LFQ_TP_AQ_DEQ_TICKET);

		if (i == LFQ_SCQ_EMPTY) {
			const uint64_t t = closed_tail(ring);

			if (t & LFQ_SCQ_CLOSED) /* closed: what is left in is still ours */
				i = lfq__scq_drain(&ring->aq, t & ~LFQ_SCQ_CLOSED,
						   LFQ_TP_AQ_DEQ_TICKET);
			if (i == LFQ_SCQ_EMPTY)
				return 0;
		}
		ring->stash[ring->stash_count++] = i;
	}
	for (size_t k = 0; k < n; k++)
		stash_pop(ring, &items[k]);
	return n;
}
