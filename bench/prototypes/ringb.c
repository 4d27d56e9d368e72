/* SPDX-License-Identifier: MIT */
/*
 * ringb: candidate B of issue 11 (benchmark-only prototype). See ringb.h.
 *
 * Layout. n = the capacity rounded up to a power of two; the ring has N = 2n cells (at least
 * 4, so that the two flag bits never overlap the cycle). Tickets are free-running 64-bit
 * counters starting at N; ticket t maps to cell map(t) and to cycle(t) = t & ~(N - 1), which
 * is stored in the cell's entry word together with
 *   OCC    the cell holds an item of cycle(entry), not yet consumed;
 *   UNSAFE a consumer passed this cell while it held an older item: a producer may only
 *          use the cell if no consumer has yet taken its ticket (head <= t).
 * The item sits in the other half of the 16-byte cell. A producer with ticket t may use the
 * cell if cycle(entry) < cycle(t), !OCC and (!UNSAFE or head <= t); it writes
 * {cycle(t) | OCC, item} with one double-width CAS (P2, its linearization point). A
 * consumer with ticket h finding cycle(entry) == cycle(h) reads the item and clears OCC with
 * one fetch-and (C3). Otherwise it spoils the cell for the late producer of its cycle: an
 * empty cell is moved to cycle(h) (C4), an occupied one of an older cycle gets UNSAFE (C5);
 * that producer's CAS then fails its test and it takes a new ticket.
 *
 * Non-destructive checks (the difference from SCQ2's reference): before taking a ticket a
 * pop compares head with tail (through a cached copy of tail on the consumers' own line,
 * refreshed only when it says "empty"), and a push compares tail - head with the capacity
 * (cached head on the producers' line). Both copies only lag the real counter, so a cached
 * "not empty" / "not full" is true of the real counters too.
 *
 * Livelock threshold, without the wedge of issue 11. As in SCQ, a consumer whose ticket
 * fails spends one unit of a shared budget (4n - 1, the value SCQ2's reference uses for the
 * double-width variant), a producer that succeeds refills it, and a negative budget means
 * empty. The wedge: a consumer's decrement delayed past a refill spends the new budget for a
 * failure that happened before the refill; 3n such late decrements leave the budget negative
 * on a non-empty ring for good. Here the budget word carries an epoch (high 32 bits) that
 * every refill increments; a consumer reads the word before it takes its ticket and spends
 * by CAS only if the epoch is still the one it read. A failure that straddles a refill
 * therefore spends nothing, so every unit spent belongs to a ticket taken after the last
 * refill, which is what SCQ's bound counts. (Epoch wrap after 2^32 refills during one
 * consumer's attempt would let one stale decrement through: one unit, not a wedge.)
 *
 * Capacity. A push takes a ticket only if tail - head < capacity, but producers racing past
 * the check together can put up to capacity + producers - 1 items in (never more than N,
 * the cells enforce that); exact capacity under contention needs more (see the report).
 *
 * Memory orders. Every operation on tail, head, the entries and the budget is seq_cst: the
 * UNSAFE argument (a producer that sees UNSAFE, set or kept by a consumer of its lap after
 * that consumer's FAA on head, must then see that FAA) is an SC argument, and it involves a
 * consumer that only *reads* an entry already marked UNSAFE, so acquire/release would not
 * order it. On x86-64 seq_cst loads are plain loads and seq_cst RMWs are the same locked
 * instructions as any other order, so this costs nothing there; only the hint copies (cached
 * head / tail) are relaxed, since they are validated against the real counters.
 *   P1  push: FAA tail (seq_cst)              ticket
 *   P2  push: cmpxchg16b on the cell (full)   publishes the item; pairs with C2
 *   P3  push: load head (seq_cst)             UNSAFE test; pairs with C1 (see above)
 *   P4  push: CAS head t -> t+1 (seq_cst)     retires the producer's own abandoned ticket
 *   P5  push: budget load + refill            a full answer never leaves the budget spent
 *   C0  pop:  load the head cell's entry      the empty check (no ticket yet)
 *   C1  pop:  FAA head (seq_cst)              ticket
 *   C2  pop:  load entry (seq_cst)            sees P2's item, then reads it
 *   C3  pop:  fetch_and ~OCC (seq_cst)        frees the cell after the item was read; a
 *                                             later lap's P2 reads this value
 *   C4/C5 pop: CAS on the entry (seq_cst)     spoils the cell for the late producer
 *   C6  pop:  CAS tail up to head (seq_cst)   SCQ's catch-up after a failed ticket
 *   T1..T3: the budget (load, epoch CAS, refill CAS), seq_cst
 * Wraparound: tickets are 64-bit and start at N; they do not wrap in practice, and every
 * comparison is a signed difference.
 */
#include "ringb.h"

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__x86_64__) || !defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16)
#error "ringb is an x86-64 prototype: build with -mcx16"
#endif

#define LINE 64
#define OCC ((uint64_t)1)
#define UNSAFE ((uint64_t)2)
#define FLAGS (OCC | UNSAFE)
#define RINGB_CAPACITY_MAX ((size_t)1 << 28)

struct ringb_cell {
	/* Little-endian: entry is the low half of the 16-byte value cmpxchg16b compares. */
	_Atomic uint64_t entry;
	_Atomic uint64_t item;
} __attribute__((aligned(16)));

struct ringb {
	/* Producers' line: their ticket counter and their copy of head. */
	alignas(LINE) _Atomic uint64_t tail;
	_Atomic uint64_t head_seen;
	/* Consumers' line: their ticket counter and their copy of tail. */
	alignas(LINE) _Atomic uint64_t head;
	_Atomic uint64_t tail_seen;
	/* Written only on failed tickets and on refills after them. */
	alignas(LINE) _Atomic uint64_t budget; /* epoch << 32 | (uint32_t)count */
	/* Read-only after create. */
	alignas(LINE) uint64_t ncells;
	uint64_t capacity;
	int32_t budget_max;
	unsigned spread_shift; /* 0: identity map */
	struct ringb_cell *cells;
};

static inline int64_t diff(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b);
}

static inline int32_t budget_count(uint64_t w)
{
	return (int32_t)(uint32_t)w;
}

static inline uint64_t budget_word(uint64_t epoch_hi, int32_t count)
{
	return (epoch_hi & ~(uint64_t)0xffffffffu) | (uint32_t)count;
}

static inline struct ringb_cell *cell_of(const struct ringb *r, uint64_t t)
{
	uint64_t i = t & (r->ncells - 1);

	if (r->spread_shift != 0) /* 4 cells per line: the low 2 bits pick the line */
		i = (i >> r->spread_shift) | ((i << 2) & (r->ncells - 1));
	return &r->cells[i];
}

/* P2: one cmpxchg16b (lock prefix: a full barrier). @return the value found; equal to
 * expected on success. */
static inline unsigned __int128 cas16(struct ringb_cell *c, unsigned __int128 expected,
				      unsigned __int128 desired)
{
	return __sync_val_compare_and_swap((unsigned __int128 *)(void *)c, expected, desired);
}

static inline unsigned __int128 pair(uint64_t entry, uint64_t item)
{
	return ((unsigned __int128)item << 64) | entry;
}

int ringb_create(struct ringb **ring, size_t capacity, unsigned flags)
{
	struct ringb *r;
	uint64_t n = 1, i;
	unsigned log2n = 0;

	if (ring == NULL || capacity == 0 || capacity > RINGB_CAPACITY_MAX ||
	    (flags & ~RINGB_FLAGS_SPREAD) != 0)
		return -EINVAL;
	while (n < capacity)
		n <<= 1;
	r = aligned_alloc(alignof(struct ringb), sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->ncells = 2 * n < 4 ? 4 : 2 * n;
	while (((uint64_t)1 << log2n) < r->ncells)
		log2n++;
	r->cells = aligned_alloc(LINE, r->ncells * sizeof(struct ringb_cell) < LINE
					       ? LINE
					       : r->ncells * sizeof(struct ringb_cell));
	if (r->cells == NULL) {
		free(r);
		return -ENOMEM;
	}
	r->capacity = capacity;
	r->budget_max = (int32_t)(4 * n - 1);
	r->spread_shift = (flags & RINGB_FLAGS_SPREAD) && log2n > 2 ? log2n - 2 : 0;
	/* Relaxed: nothing is shared yet; the caller publishes the ring (thread creation). */
	for (i = 0; i < r->ncells; i++) {
		atomic_init(&r->cells[i].entry, 0); /* cycle 0 < every ticket's cycle */
		atomic_init(&r->cells[i].item, 0);
	}
	atomic_init(&r->tail, r->ncells);
	atomic_init(&r->head, r->ncells);
	atomic_init(&r->head_seen, r->ncells);
	atomic_init(&r->tail_seen, r->ncells);
	atomic_init(&r->budget, budget_word(0, -1));
	*ring = r;
	return 0;
}

void ringb_destroy(struct ringb *ring)
{
	if (ring == NULL)
		return;
	free(ring->cells);
	free(ring);
}

/* Full if t - head >= capacity, judged on the cached head first. */
static bool looks_full(struct ringb *r, uint64_t t)
{
	/* Relaxed: a lower bound of head, only used to skip loading head itself. */
	uint64_t h = atomic_load_explicit(&r->head_seen, memory_order_relaxed);

	if (diff(t, h) < (int64_t)r->capacity)
		return false;
	h = atomic_load_explicit(&r->head, memory_order_seq_cst);
	/* Relaxed: a hint; a stale or smaller value only costs a reload. */
	atomic_store_explicit(&r->head_seen, h, memory_order_relaxed);
	return diff(t, h) >= (int64_t)r->capacity;
}

/* T3: refill the budget after a successful push, starting a new epoch. */
static void refill(struct ringb *r)
{
	uint64_t w = atomic_load_explicit(&r->budget, memory_order_seq_cst);

	while (budget_count(w) != r->budget_max) {
		uint64_t nw = budget_word(w + ((uint64_t)1 << 32), r->budget_max);

		if (atomic_compare_exchange_weak_explicit(&r->budget, &w, nw, memory_order_seq_cst,
							  memory_order_seq_cst))
			break;
	}
}

int ringb_push(struct ringb *r, void *item)
{
	const uint64_t nmask = r->ncells - 1;
	/* Relaxed: only for the full check, which P1's ticket does not depend on. */
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (looks_full(r, t))
		return -EAGAIN;
	for (;;) {
		/* P1 */
		t = atomic_fetch_add_explicit(&r->tail, 1, memory_order_seq_cst);
		const uint64_t tcycle = t & ~nmask;
		struct ringb_cell *c = cell_of(r, t);
		uint64_t e = atomic_load_explicit(&c->entry, memory_order_seq_cst);
		/* Relaxed: only the CAS's expected value; a torn pair just fails the CAS. */
		uint64_t p = atomic_load_explicit(&c->item, memory_order_relaxed);

		for (;;) {
			if (diff(e & ~nmask, tcycle) >= 0 || (e & OCC) != 0)
				break;
			/* P3 */
			if ((e & UNSAFE) != 0 &&
			    diff(atomic_load_explicit(&r->head, memory_order_seq_cst), t) > 0)
				break;
			unsigned __int128 want = pair(e, p);
			unsigned __int128 got =
				cas16(c, want, pair(tcycle | OCC, (uint64_t)(uintptr_t)item));
			if (got == want) {
				refill(r);
				return 0;
			}
			e = (uint64_t)got;
			p = (uint64_t)(got >> 64);
		}
		/* This ticket's cell is spoilt or still holds an item one lap old (its consumer
		 * is between C1 and C3). P4: if no consumer has taken ticket t yet, retire it
		 * ourselves by moving head past it: we are its only producer and we give it
		 * up, so no item of cycle(t) will ever be in cell(t) and no consumer needs to
		 * visit it. Without this an abandoned ticket counts as an item in tail - head
		 * until some consumer takes it (a capacity-1 ring would answer full). */
		uint64_t expect = t;
		(void)atomic_compare_exchange_strong_explicit(
			&r->head, &expect, t + 1, memory_order_seq_cst, memory_order_seq_cst);
		if (looks_full(r, t + 1)) {
			/* P5: a full answer with a spent budget would leave consumers answering
			 * empty without taking the tickets that make room (abandoned ones that
			 * P4 could not retire): refill, so that they do. */
			if (budget_count(atomic_load_explicit(&r->budget, memory_order_seq_cst)) <
			    0)
				refill(r);
			return -EAGAIN;
		}
	}
}

/* C6: tail fell behind head (consumers' failed tickets): bring it up to h. */
static void catch_up(struct ringb *r, uint64_t t, uint64_t h)
{
	while (!atomic_compare_exchange_weak_explicit(&r->tail, &t, h, memory_order_seq_cst,
						      memory_order_seq_cst)) {
		h = atomic_load_explicit(&r->head, memory_order_seq_cst);
		if (diff(t, h) >= 0)
			break;
	}
}

/* T2: spend one unit if the epoch is still that of @p w. @return the count before, or
 * INT32_MAX if a refill came in between (nothing spent). */
static int32_t spend(struct ringb *r, uint64_t w)
{
	const uint64_t epoch = w >> 32;

	while ((w >> 32) == epoch) {
		if (atomic_compare_exchange_weak_explicit(
			    &r->budget, &w, budget_word(w, budget_count(w) - 1),
			    memory_order_seq_cst, memory_order_seq_cst))
			return budget_count(w);
	}
	return INT32_MAX;
}

int ringb_pop(struct ringb *r, void **item)
{
	const uint64_t nmask = r->ncells - 1;

	for (;;) {
		/* T1: a negative budget means empty. Read before the ticket: see spend(). */
		uint64_t w = atomic_load_explicit(&r->budget, memory_order_seq_cst);
		if (budget_count(w) < 0)
			return -EAGAIN;
		/* Empty check before taking a ticket. C0 looks at the head cell: if it holds
		 * our cycle's item there is something to take, and tail need not be read.
		 * Otherwise take a ticket only if tail is ahead of head. (Not "more than one
		 * ahead": a producer that abandoned its ticket and returned full leaves
		 * exactly that state on an empty ring, and only a consumer taking the ticket
		 * retires it; tried, and it deadlocked the stress run at capacity 1.)
		 * Relaxed on tail_seen: a lower bound of tail, so "ahead" by it is true of
		 * tail. */
		uint64_t h = atomic_load_explicit(&r->head, memory_order_seq_cst);
		uint64_t e0 = atomic_load_explicit(&cell_of(r, h)->entry, memory_order_seq_cst);
		if ((e0 & ~nmask) != (h & ~nmask) &&
		    diff(atomic_load_explicit(&r->tail_seen, memory_order_relaxed), h) <= 0) {
			uint64_t t = atomic_load_explicit(&r->tail, memory_order_seq_cst);
			/* Relaxed: a hint, as head_seen. */
			atomic_store_explicit(&r->tail_seen, t, memory_order_relaxed);
			if (diff(t, h) <= 0)
				return -EAGAIN;
		}

		/* C1 */
		h = atomic_fetch_add_explicit(&r->head, 1, memory_order_seq_cst);
		const uint64_t hcycle = h & ~nmask;
		struct ringb_cell *c = cell_of(r, h);
		/* C2 */
		uint64_t e = atomic_load_explicit(&c->entry, memory_order_seq_cst);
		for (;;) {
			uint64_t ne;

			if ((e & ~nmask) == hcycle && (e & OCC) == 0)
				break; /* cannot happen (only we move a cell to cycle(h)); safe */
			if ((e & ~nmask) == hcycle) {
				/* Only our ticket's producer writes cycle(h) with OCC; it is here.
				 * Relaxed: C2 (or the failed CAS that returned e) ordered the item
				 * after P2, and C3 below orders this read before the next lap's P2.
				 */
				uint64_t p = atomic_load_explicit(&c->item, memory_order_relaxed);
				/* C3 */
				atomic_fetch_and_explicit(&c->entry, ~OCC, memory_order_seq_cst);
				*item = (void *)(uintptr_t)p;
				return 0;
			}
			if (diff(e & ~nmask, hcycle) > 0)
				break; /* a later lap already passed: nothing for us */
			if ((e & OCC) != 0) {
				ne = e | UNSAFE; /* C5 */
				if (ne == e)
					break;
			} else {
				ne = hcycle | (e & UNSAFE); /* C4 */
			}
			if (atomic_compare_exchange_weak_explicit(
				    &c->entry, &e, ne, memory_order_seq_cst, memory_order_seq_cst))
				break;
		}
		/* Ticket h failed. */
		uint64_t t = atomic_load_explicit(&r->tail, memory_order_seq_cst);
		if (diff(t, h + 1) <= 0) {
			catch_up(r, t, h + 1);
			(void)spend(r, w);
			return -EAGAIN;
		}
		if (spend(r, w) <= 0)
			return -EAGAIN;
	}
}

size_t ringb_push_burst(struct ringb *ring, void *const *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ringb_push(ring, items[i]) != 0)
			break;
	return i;
}

size_t ringb_pop_burst(struct ringb *ring, void **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ringb_pop(ring, &items[i]) != 0)
			break;
	return i;
}

void ringb_debug_counters(const struct ringb *ring, uint64_t *head, uint64_t *tail,
			  int64_t *threshold)
{
	/* Relaxed: a snapshot for a quiescent ring. */
	*head = atomic_load_explicit(&((struct ringb *)ring)->head, memory_order_relaxed);
	*tail = atomic_load_explicit(&((struct ringb *)ring)->tail, memory_order_relaxed);
	*threshold = budget_count(
		atomic_load_explicit(&((struct ringb *)ring)->budget, memory_order_relaxed));
}
