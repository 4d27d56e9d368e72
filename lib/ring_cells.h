/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring, cell backend (layout and the lock-free operations, inline for the public calls
 * in ring.c and lfq_queue's segments; ring_cells.c has the rest): a ring of 16-byte cells {seq,
 * item} where every push and every pop is one double-width CAS on its cell, and head and tail are
 * only hints.
 *
 * Positions. Position p = (lap number << bits) | index, index < capacity, so the cell of p is
 * p & mask with no division for any capacity; next() steps to index + 1 or to the next lap.
 * Positions only grow; 62 bits of them last centuries.
 *
 * Invariants (docs/design.md, "The cell ring", argues them):
 *   I1  producers fill positions in order: position p is filled only after p - 1 was, and
 *       consumers consume them in order; so the ring's contents are always the positions
 *       [first unconsumed, first unfilled), at most `capacity` of them;
 *   I2  tail <= first unfilled and head <= first unconsumed (hints are lower bounds: a hint
 *       is only ever set to next(p) after p was filled / consumed);
 *   I3  a cell changes only by a CAS on both of its words: FREE(p) -> FULL(p) (push),
 *       FULL(p) -> FREE(p + lap) (pop), FREE(p) -> SEALED(p) (pop on a closed ring).
 * A push linearizes at its successful CAS (C4), a pop at its (C5); "full" at the load (C2)
 * that finds FULL(t - lap) in the cell of position t, "empty" at the load that finds FREE(h).
 * Neither verdict writes anything shared. A thread stopped anywhere holds no position: the
 * others see the cell either before or after its single CAS, and move on.
 *
 * Close: `closed` is set (K1); a push checks it (K2) once it has found a free cell, just
 * before its CAS, and fails. A pop that finds the first unfilled cell empty on a closed ring
 * seals it (C7): a push that checked `closed` just before close can then no longer fill it,
 * so -EPIPE ("closed and drained") is final. A push that beat the seal to that cell has its
 * item popped: the sealing pop's CAS fails, re-reads the cell and takes the item.
 *
 * Memory-order labels:
 *   C1  push: load tail hint            acquire (pairs with C6: the positions below it are
 *                                       filled, and their cells' states are visible)
 *   C2  load cell seq                   seq_cst (pairs with C4/C5/C7 of the last writer;
 *                                       seq_cst, not acquire, so that the full and empty
 *                                       verdicts read the latest seq_cst write of the cell:
 *                                       with acquire, C11 lets a pop that follows its own
 *                                       C5 find the next cell empty although a push filled
 *                                       it before that C5 (tests/check_weak.c finds it).
 *                                       The same MOV on x86-64, LDAR on arm64. The single
 *                                       consumer's C2 and the bulk calls' stay acquire:
 *                                       docs/design.md, "The weak-memory checker")
 *   C3  load cell item                  relaxed (only a CAS operand: C4/C5 compare it)
 *   C4  push: CAS128 FREE(t) -> FULL(t) seq_cst (publishes the item and everything written
 *                                       before it; pairs with C2 and C5 of the consumer;
 *                                       seq_cst for the waitq's Dekker pair)
 *   C5  pop:  CAS FULL(h) -> FREE       seq_cst (hands the cell to the next lap's producer;
 *                                       its acquire half pairs with C4)
 *   C6  store tail / head hint          release (pairs with C1/C8)
 *   C7  pop:  CAS FREE(h) -> SEALED     seq_cst (pairs with C4 of a racing push)
 *   C8  pop:  load head hint            acquire (as C1)
 *   K1  close: store closed             seq_cst
 *   K2  load closed                     seq_cst (with K1: a push that finds a free cell
 *                                       after close fails; a pop that reads "open" after
 *                                       an empty cell may answer -EAGAIN)
 *
 * Blind push (LFQ_RING_BLIND_PUSH, meson -Dring_push=blind; an A/B candidate of issue 23,
 * docs/design.md "Blind push"). One more invariant:
 *   I4  a FREE cell holds item 0 (reset writes 0, B5 and B6 write 0 when a pop frees a cell,
 *       a seal keeps it), but between the single producer's O2 and O3 (SP mode, where no
 *       blind CAS runs);
 * so a push whose position is known to have room can fill it with one CAS expecting
 * {FREE(t), 0}, without reading the cell first (one coherence round for the line, not two).
 * Room is known from `room`, a lower bound of head + lap that the producers share on the
 * tail line: every position below it had its cell's previous lap consumed before it was
 * stored. Without it K2 could read "open" while the ring is full, a pop then free the cell
 * after the close, and the push fill it: a push after the close (check_mutants'
 * CELL_BLIND_UNGUARDED). C2 read the free cell before K2 for the same reason.
 *   B1  push: load room                 acquire (pairs with B3: the consumption of each
 *                                       position below room - lap happened before our K2)
 *   B2  push: CAS128 {FREE(t), 0} ->    seq_cst (C4 without C2/C3 before it: the same
 *             {FULL(t), item}           transition, tested in one step; pairs with B5/B6)
 *   B3  push: store room                release (passes on B4's acquire)
 *   B4  push: load head hint            acquire (pairs with C6 / O4 of the consumers, as O6)
 *   B5  pop:  CAS128 {FULL(h), item} -> seq_cst (C5 clearing the item; both words at once,
 *             {FREE(h + lap), 0}        so no other pop can read the 0 as h's item)
 *   B6  SC:   store item 0              relaxed, before O5's release store of seq: a CAS
 *                                       that finds FREE(h + lap) (B2, C4) finds the 0 too
 */
#ifndef LFQ_RING_CELLS_H
#define LFQ_RING_CELLS_H

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "atomics.h"
#include "testing.h"
#include "waitq.h"

/*
 * One cell serves positions p with (p & mask) == its index. seq = p << 2 | state:
 *   LFQ_CELL_FREE    waiting for position p's item
 *   LFQ_CELL_FULL    holds position p's item
 *   LFQ_CELL_SEALED  position p will never be filled: the ring was closed and drained here
 * Consuming p turns FULL(p) into FREE(p + lap). seq only grows: no ABA.
 */
#define LFQ_CELL_FREE 0u
#define LFQ_CELL_FULL 1u
#define LFQ_CELL_SEALED 2u

struct lfq__cell {
	_Alignas(16) _Atomic uint64_t seq;
	_Atomic uint64_t item; /* a void *; only written together with seq (lfq__cas128) */
};

/*
 * The ring is position-independent: nothing in it is a pointer, and its `capacity` cells
 * follow the header at the fixed offset LFQ_RING_CELLS_OFFSET from the ring's own address
 * (lfq__cell_at). So the same bytes work wherever they are mapped, and a shared ring
 * (ring_shared.c) is this very struct laid out in a caller's memory region; its first line
 * is then the region's header, which attach validates.
 */
struct lfq_ring {
	/* Read-only after create / init, but for `closed` (written once, by close). Exactly one
	 * cache line, as before the header fields were added. */
	_Atomic uint32_t magic; /* LFQ_RING_MAGIC, stored last by init (release) */
	uint32_t version;	/* LFQ_RING_LAYOUT_VERSION */
	unsigned bits;
	uint16_t shared; /* 1: laid out by lfq_ring_shared_init (destroy leaves it alone) */
	uint16_t flags;	 /* LFQ_RING_SP | LFQ_RING_SC | LFQ__RING_SC_PLAIN (0 when shared) */
	uint64_t mask;	 /* lap - 1: position -> cell index */
	uint64_t lap;	 /* 2^bits >= capacity: a position's step to its cell's next lap */
	size_t capacity;
	uint64_t bytes;	       /* lfq__cell_ring_bytes(capacity) */
	uint32_t cells_offset; /* LFQ_RING_CELLS_OFFSET, recorded for attach to check */
	_Atomic uint32_t closed;
	uint64_t check; /* lfq__cell_ring_check of the fields above but `closed` */
	/* Producers' hint: a lower bound of the first unfilled position. */
	LFQ_CACHE_ALIGNED _Atomic uint64_t tail;
	/* LFQ_RING_SP only, the producer's own: positions below it are known free (O6). */
	uint64_t sp_limit;
#ifdef LFQ_RING_BLIND_PUSH
	/* The producers' view of room (B1, B3): each position below it had its cell's previous
	 * lap consumed. Any value stored stays true (consumption is final), so racing stores
	 * that move it back only make pushes take the checked path. */
	_Atomic uint64_t room;
#endif
	/* Consumers' hint: a lower bound of the first unconsumed position. */
	LFQ_CACHE_ALIGNED _Atomic uint64_t head;
	/* Sleepers of pop_wait (woken by pushes) and of push_wait (woken by pops), each on a
	 * line of its own: the fast paths only read them. */
	LFQ_CACHE_ALIGNED struct lfq__waitq not_empty;
	LFQ_CACHE_ALIGNED struct lfq__waitq not_full;
	LFQ_CACHE_ALIGNED char pad_end;
};

#define LFQ_RING_MAGIC 0x6c667172u /* "lfqr" */
/* Bump on any change of struct lfq_ring, struct lfq__cell or struct lfq__waitq. */
#define LFQ_RING_LAYOUT_VERSION 2u
/* Cells start on the first cache line after the header. */
_Static_assert(offsetof(struct lfq_ring, tail) == LFQ_CACHE_LINE, "the header fills one line");
#define LFQ_RING_CELLS_OFFSET                                                                      \
	((sizeof(struct lfq_ring) + LFQ_CACHE_LINE - 1) / LFQ_CACHE_LINE * LFQ_CACHE_LINE)

/* The mode bits (include/lfq/ring.h) as the hot paths test them, and one internal bit:
 * LFQ__RING_SC_PLAIN, the single consumer frees cells with a release store (O5) because
 * push_wait sleepers fence asymmetrically (waitq.h, W2a); without membarrier(2) an SC ring
 * frees them with the seq_cst CAS of the shared path. */
#define LFQ__RING_MODE_SP 1u
#define LFQ__RING_MODE_SC 2u
#define LFQ__RING_SC_PLAIN 0x100u
/* Set only in a process-local handle on a shared ring (struct lfq__ring_handle): the public
 * calls hand such a ring to the checked operations of ring_shared.c. Never set in memory
 * that another process can write (attach checks that the region's flags are 0). */
#define LFQ__RING_HANDLE 0x200u

/*
 * What lfq_ring_shared_attach returns: a process-local copy of the region's header, taken
 * once and validated (the geometry every checked operation indexes with: capacity, mask,
 * lap, bits; flags = LFQ__RING_HANDLE), and where this process mapped the region. Every
 * atomic the operations touch (cells, hints, closed, waitqs) is the region's (`mem`);
 * nothing of `geom` but the geometry is ever read. The region's own header fields are
 * never read again after attach: a peer that rewrites them changes nothing here.
 */
struct lfq__ring_handle {
	struct lfq_ring geom;
	struct lfq_ring *mem;
	uint32_t steps; /* cells one call examines at most (ring_shared.c) */
};

/* Bytes of a ring of `capacity` cells, header included, a multiple of the cache line. */
uint64_t lfq__cell_ring_bytes(size_t capacity);
/* Lays out an empty, open ring at r (LFQ_CACHE_LINE-aligned, lfq__cell_ring_bytes long). */
void lfq__cell_ring_format(struct lfq_ring *r, size_t capacity, bool shared, unsigned flags);
/* A hash of the header's read-only fields: a flipped byte anywhere in them changes it. */
uint64_t lfq__cell_ring_check(const struct lfq_ring *r);

static inline uint64_t lfq__cell_seq(uint64_t pos, unsigned state)
{
	return pos << 2 | state;
}

/* The position after p: the next cell, or index 0 of the next lap. */
static inline uint64_t lfq__cell_next(const struct lfq_ring *r, uint64_t p)
{
	return (p & r->mask) + 1 < r->capacity ? p + 1 : (p | r->mask) + 1;
}

static inline struct lfq__cell *lfq__cell_at(const struct lfq_ring *r, uint64_t p)
{
	/* The same cost as indexing a stored pointer: the offset is a constant. */
	return (struct lfq__cell *)((char *)r + LFQ_RING_CELLS_OFFSET) + (p & r->mask);
}

static inline bool lfq__cell_closed(const struct lfq_ring *r)
{
	/* K2 */
	LFQ_SCHED_POINT();
	return LFQ_LOAD(&((struct lfq_ring *)r)->closed, memory_order_seq_cst) != 0;
}

/*
 * A cell on a later lap than the position we looked for (our hint was stale): where to look
 * next, the position after the last one its state proves done. By I1, FULL(q) proves every
 * position up to q filled; FREE(q) and FULL(q) prove q - lap filled and consumed, but not
 * the positions between (they may still hold items); SEALED(q) proves everything below q
 * filled and consumed, and q itself final.
 */
static inline uint64_t lfq__cell_skip_filled(const struct lfq_ring *r, uint64_t s)
{
	const uint64_t q = s >> 2;

	switch (s & 3) {
	case LFQ_CELL_FULL:
		return lfq__cell_next(r, q);
	case LFQ_CELL_FREE:
#ifdef LFQ_MUTANT_CELL_SKIP_PAST_FREE /* test-only mutant: FREE(q) taken as "q filled" */
		return lfq__cell_next(r, q);
#endif
		return lfq__cell_next(r, q - r->lap);
	default:
		return q;
	}
}

static inline uint64_t lfq__cell_skip_consumed(const struct lfq_ring *r, uint64_t s)
{
	const uint64_t q = s >> 2;

	return (s & 3) == LFQ_CELL_SEALED ? q : lfq__cell_next(r, q - r->lap);
}

/*
 * Changes a cell's seq, keeping its item (pop and seal). On failure *s holds the current seq.
 * On x86-64 a locked CMPXCHG of the seq half is atomic with respect to the CMPXCHG16B of a
 * push on the whole cell (both are locked read-modify-writes of one line), and it is 2-3x
 * cheaper; under ThreadSanitizer, which emulates 16-byte atomics with a lock of its own,
 * every RMW of a cell must be 16 bytes wide to stay atomic, so the pair is swapped as one.
 */
static inline bool lfq__cell_cas_seq(struct lfq__cell *c, uint64_t *s, uint64_t item, uint64_t ns)
{
#ifdef LFQ_TSAN
	return LFQ_CAS128(c, s, &item, ns, item); /* C5 or C7 (the caller's) */
#else
	(void)item;
	/* C5 (pop) or C7 (seal): the caller's label */
	return LFQ_CAS(&c->seq, s, ns, memory_order_seq_cst, memory_order_acquire);
#endif
}

#ifdef LFQ_RING_BLIND_PUSH
/* What lfq__cell_put_blind did besides filling the cell (0) or finding the ring closed. */
#define LFQ__BLIND_FAILED 1  /* B2 failed: *s holds the cell's seq */
#define LFQ__BLIND_NO_ROOM 2 /* t is not below room: not tried, room wants a refresh */

/* Positions ahead of a blind push whose line LFQ_RING_PREFETCH write-prefetches. */
#define LFQ__PREFETCH_AHEAD 32u
#define LFQ__CELLS_PER_LINE (LFQ_CACHE_LINE / sizeof(struct lfq__cell))

/*
 * LFQ_RING_PREFETCH (-Dring_push=blind_prefetch): after a blind push at t, ask for the line
 * of position t + LFQ__PREFETCH_AHEAD in exclusive state (PREFETCHW with -mprfchw), once
 * per line, and only when room (B1's value) proves that position's previous lap consumed:
 * otherwise the prefetch would pull a line the consumer is still reading. Not past the
 * lap's last cell. A hint: it changes no state and orders nothing.
 */
static inline void lfq__cell_prefetch(struct lfq_ring *r, uint64_t t, uint64_t room)
{
#ifdef LFQ_RING_PREFETCH
	const uint64_t i = (t & r->mask) + LFQ__PREFETCH_AHEAD;

	if (i % LFQ__CELLS_PER_LINE == 0 && i < r->capacity && t + LFQ__PREFETCH_AHEAD < room)
		__builtin_prefetch(lfq__cell_at(r, t + LFQ__PREFETCH_AHEAD), 1, 3);
#else
	(void)r;
	(void)t;
	(void)room;
#endif
}

/*
 * The first attempt of a push at position t (a lower bound of the first unfilled position,
 * so every position below t is filled): when room proves t's cell free of its previous lap
 * (B1), K2 and then B2, the cell's CAS with no load before it. By I4 the CAS expects what C2
 * and C3 would have read from a free cell, so it succeeds exactly when C4 would have: the
 * push linearizes at it, as at C4, and K2 after B1 plays the part of K2 after C2.
 */
static inline int lfq__cell_put_blind(struct lfq_ring *r, uint64_t t, void *item, uint64_t *s)
{
	uint64_t room = 0;

#ifndef LFQ_MUTANT_CELL_BLIND_UNGUARDED /* test-only mutant: no room known before K2 */
	/* B1 */
	LFQ_SCHED_POINT();
	room = LFQ_LOAD(&r->room, memory_order_acquire);
	if (t >= room)
		return LFQ__BLIND_NO_ROOM;
#endif
#ifndef LFQ_MUTANT_CELL_EARLY_CLOSED_CHECK /* test-only mutant: checked in push_one */
	/* K2, after B1 */
	if (lfq__cell_closed(r))
		return -EPIPE;
#endif
	uint64_t old = 0;

	*s = lfq__cell_seq(t, LFQ_CELL_FREE);
	LFQ_TEST_POINT(LFQ_TP_CELL_PUSH_READ);
	/* B2: on failure *s / old hold the cell's current words. */
	LFQ_SCHED_POINT();
	if (LFQ_CAS128(lfq__cell_at(r, t), s, &old, lfq__cell_seq(t, LFQ_CELL_FULL),
		       (uint64_t)(uintptr_t)item)) {
		LFQ_TEST_POINT(LFQ_TP_CELL_PUSH_DONE);
		lfq__cell_prefetch(r, t, room);
		return 0;
	}
	return LFQ__BLIND_FAILED;
}

/* B4 + B3: room from the head hint, once a push found the cell of t free with t >= room
 * (stored only if it lets t's successors go blind: then it is above what B1 read too). */
static inline void lfq__cell_room_refresh(struct lfq_ring *r, uint64_t t)
{
	/* B4 */
	LFQ_SCHED_POINT();
	const uint64_t fresh = LFQ_LOAD(&r->head, memory_order_acquire) + r->lap;

	if (fresh > t + 1) { /* B3 */
		LFQ_SCHED_POINT();
		LFQ_STORE(&r->room, fresh, memory_order_release);
	}
}
#endif

/* C5, or B5 in a blind-push build: frees a FULL cell for the push of position ns >> 2. */
static inline bool lfq__cell_cas_free(struct lfq__cell *c, uint64_t *s, uint64_t it, uint64_t ns)
{
#ifdef LFQ_RING_BLIND_PUSH
	return LFQ_CAS128(c, s, &it, ns, 0); /* B5: I4 for the next lap's blind push */
#else
	return lfq__cell_cas_seq(c, s, it, ns);
#endif
}

/*
 * Pushes one item, starting the search at position *tp (a lower bound of the first unfilled
 * position). On success *tp is the position after the one filled.
 */
static inline int lfq__cell_put(struct lfq_ring *r, uint64_t *tp, void *item)
{
	uint64_t t = *tp;
#ifdef LFQ_RING_BLIND_PUSH
	uint64_t seen = 0;
	const int blind = lfq__cell_put_blind(r, t, item, &seen);
	bool have_seq = blind == LFQ__BLIND_FAILED; /* `seen` is t's cell: no C2 needed */
	bool refresh = blind == LFQ__BLIND_NO_ROOM;

	if (blind <= 0) {
		if (blind == 0)
			*tp = lfq__cell_next(r, t);
		return blind;
	}
#endif

	for (;;) {
		struct lfq__cell *c = lfq__cell_at(r, t);
#ifdef LFQ_RING_BLIND_PUSH
		uint64_t s = seen;

		if (!have_seq) { /* C2 */
			LFQ_SCHED_POINT();
			s = LFQ_LOAD(&c->seq, memory_order_seq_cst);
		}
		have_seq = false;
#else
		/* C2 */
		LFQ_SCHED_POINT();
		uint64_t s = LFQ_LOAD(&c->seq, memory_order_seq_cst);
#endif
		const uint64_t want = lfq__cell_seq(t, LFQ_CELL_FREE);

		if (s == want) {
#ifdef LFQ_RING_BLIND_PUSH
			/* The ring has room at t: let the next pushes go blind (once a call). */
			if (refresh)
				lfq__cell_room_refresh(r, t);
			refresh = false;
#endif
			/* K2, after C2: a push that finds room only once the ring is closed fails.
			 * One that read "open" here and fills t later can be linearized just before
			 * the close: t was free then, and any pop that looks at t after the close
			 * seals it first, which makes our CAS fail (design.md, "Close and drain").
			 */
#ifndef LFQ_MUTANT_CELL_EARLY_CLOSED_CHECK /* test-only mutant: checked in push_one */
			if (lfq__cell_closed(r))
				return -EPIPE;
#endif
			/* C3: the old item, only so that the CAS can compare both words. */
			LFQ_SCHED_POINT();
			uint64_t old = LFQ_LOAD(&c->item, memory_order_relaxed);

			LFQ_TEST_POINT(LFQ_TP_CELL_PUSH_READ);
			/* C4: fill position t. On failure s/old hold the cell's current words. */
			LFQ_SCHED_POINT();
			if (LFQ_CAS128(c, &s, &old, lfq__cell_seq(t, LFQ_CELL_FULL),
				       (uint64_t)(uintptr_t)item)) {
				LFQ_TEST_POINT(LFQ_TP_CELL_PUSH_DONE);
				*tp = lfq__cell_next(r, t);
				return 0;
			}
		}
		if (s == lfq__cell_seq(t, LFQ_CELL_FULL)) {
			t = lfq__cell_next(r, t); /* another producer filled t */
		} else if (s == lfq__cell_seq(t, LFQ_CELL_SEALED)) {
			return -EPIPE;
		} else if (s < want) {
			/* FULL(t - lap): the cell still holds the item of one lap ago while every
			 * position below t is filled: `capacity` items are inside. */
			return lfq__cell_closed(r) ? -EPIPE : -EAGAIN;
		} else if (s != want) {
			/* A later lap: t was stale. Jump past what the cell proves filled, or to
			 * the current hint if that is further. C1. */
			LFQ_SCHED_POINT();
			const uint64_t hint = LFQ_LOAD(&r->tail, memory_order_acquire); /* C1 */
			const uint64_t skip = lfq__cell_skip_filled(r, s);

			t = hint > skip ? hint : skip;
		}
	}
}

/* Pops one item, starting at position *hp (a lower bound of the first unconsumed one). */
static inline int lfq__cell_take(struct lfq_ring *r, uint64_t *hp, void **item)
{
	uint64_t h = *hp;

	for (;;) {
		struct lfq__cell *c = lfq__cell_at(r, h);
		/* C2 */
		LFQ_SCHED_POINT();
		uint64_t s = LFQ_LOAD(&c->seq, memory_order_seq_cst);
		const uint64_t want = lfq__cell_seq(h, LFQ_CELL_FULL);

		if (s == want) {
			/* C3: validated by the CAS, which compares it too. */
			LFQ_SCHED_POINT();
			uint64_t it = LFQ_LOAD(&c->item, memory_order_relaxed);

			LFQ_TEST_POINT(LFQ_TP_CELL_POP_READ);
			/* C5: consume position h; the cell now waits for h + lap. */
			LFQ_SCHED_POINT();
			if (lfq__cell_cas_free(c, &s, it,
					       lfq__cell_seq(h + r->lap, LFQ_CELL_FREE))) {
				LFQ_TEST_POINT(LFQ_TP_CELL_POP_DONE);
				*item = (void *)(uintptr_t)it;
				*hp = lfq__cell_next(r, h);
				return 0;
			}
			continue; /* s changed: re-examine the fresh value on the next pass */
		}
		if (s == lfq__cell_seq(h, LFQ_CELL_FREE)) {
			/* Position h is not filled and everything below it is consumed: empty. */
			if (!lfq__cell_closed(r))
				return -EAGAIN;
			LFQ_SCHED_POINT();
			uint64_t it = LFQ_LOAD(&c->item, memory_order_relaxed); /* C3 */

			LFQ_TEST_POINT(LFQ_TP_CELL_POP_SEAL);
#ifdef LFQ_MUTANT_CELL_NO_SEAL /* test-only mutant: closed and empty taken as drained */
			return -EPIPE;
#endif
			/* C7: closed and drained, unless a push fills h first. */
			LFQ_SCHED_POINT();
			if (lfq__cell_cas_seq(c, &s, it, lfq__cell_seq(h, LFQ_CELL_SEALED)))
				return -EPIPE;
			continue;
		}
		if (s == lfq__cell_seq(h, LFQ_CELL_SEALED))
			return -EPIPE;
		if (s > want) {
			/* A later lap: h was stale. C8. */
			LFQ_SCHED_POINT();
			const uint64_t hint = LFQ_LOAD(&r->head, memory_order_acquire); /* C8 */
			const uint64_t skip = lfq__cell_skip_consumed(r, s);

			h = hint > skip ? hint : skip;
			continue;
		}
		/* FULL or FREE of an earlier lap would contradict I2; re-read. */
		assert(!"cell ring: cell behind the head hint");
	}
}

/*
 * Single-side modes (LFQ_RING_SP, LFQ_RING_SC; docs/design.md, "Single-side modes"). The one
 * producer keeps the exact first unfilled position in `tail`, the one consumer the exact first
 * unconsumed one in `head`: each is read and written by its side only (and read by size), so
 * relaxed (O1, O4). No search: the cell of that position is the only one to look at.
 *
 *   O1  load own tail / head          relaxed (written only by this side; a hand-over to
 *                                     another thread is the caller's happens-before)
 *   O2  SP: store item                relaxed (the cell is FREE(t) and nobody else fills it;
 *                                     a reader of the item first acquires FULL(t) from O3)
 *   O3  SP: CAS seq FREE(t) -> FULL(t) seq_cst (publishes O2 and what came before; a seq_cst
 *                                     RMW, as C4, for the seal race (C7) and the waitq pair)
 *   O4  store own tail / head         relaxed (as O1)
 *   O5  SC: store seq FREE(h + lap)   release (hands the cell to the next lap's producer,
 *                                     whose C2 acquires it: our read of the item happens
 *                                     before its write; nobody else writes a FULL cell). A
 *                                     plain store only with LFQ__RING_SC_PLAIN, else C5's CAS.
 *   O6  SP: load head hint            acquire (pairs with C6 / O4 of the consumers: every
 *                                     position below head is consumed and its item read, so
 *                                     each position below head + lap is free for us to fill:
 *                                     the cached view that lets O2/O3 skip the C2 load)
 * O4 is release on the consumer side of an SC ring (for O6); relaxed on the producer's.
 * C2, C3, C7 and K2 are the shared paths' loads, seal and closed check, unchanged.
 */

/* O2 + O3: fill position t of cell c, expected FREE(t) in *s; on failure *s is the seq. */
static inline bool lfq__cell_fill_sp(struct lfq__cell *c, uint64_t *s, uint64_t t, void *item)
{
#if defined(LFQ_MUTANT_CELL_SP_PLAIN_FILL) /* test-only mutant: a store, blind to a seal */
	LFQ_SCHED_POINT();
	LFQ_STORE(&c->item, (uint64_t)(uintptr_t)item, memory_order_relaxed);
	LFQ_TEST_POINT(LFQ_TP_CELL_PUSH_READ);
	LFQ_SCHED_POINT();
	LFQ_STORE(&c->seq, lfq__cell_seq(t, LFQ_CELL_FULL), memory_order_release); /* O3 */
	(void)s;
	return true;
#elif defined(LFQ_TSAN)
	/* TSan's 16-byte emulation is atomic only against other 16-byte RMWs (lfq__cas128). */
	uint64_t old = LFQ_LOAD(&c->item, memory_order_relaxed);

	LFQ_TEST_POINT(LFQ_TP_CELL_PUSH_READ);
	/* O3 */
	LFQ_SCHED_POINT();
	return LFQ_CAS128(c, s, &old, lfq__cell_seq(t, LFQ_CELL_FULL), (uint64_t)(uintptr_t)item);
#else
	/* O2 */
	LFQ_SCHED_POINT();
	LFQ_STORE(&c->item, (uint64_t)(uintptr_t)item, memory_order_relaxed);
	LFQ_TEST_POINT(LFQ_TP_CELL_PUSH_READ);
	/* O3 */
	LFQ_SCHED_POINT();
	return LFQ_CAS(&c->seq, s, lfq__cell_seq(t, LFQ_CELL_FULL), memory_order_seq_cst,
		       memory_order_acquire);
#endif
}

/* Pushes one item at the single producer's position *tp; on success *tp is the next one. */
static inline int lfq__cell_put_sp(struct lfq_ring *r, uint64_t *tp, void *item)
{
	const uint64_t t = *tp;
	struct lfq__cell *c = lfq__cell_at(r, t);
	uint64_t s;

	if (t < r->sp_limit) {
		/* Known free since O6 (only a seal can change it): no C2 needed before K2. */
		s = lfq__cell_seq(t, LFQ_CELL_FREE);
	} else {
		/* C2 */
		LFQ_SCHED_POINT();
		s = LFQ_LOAD(&c->seq, memory_order_seq_cst);
		/* O6: refresh the cached view, but only once the cell says the ring has room: on
		 * a full ring the consumers' hot head line would be read for nothing on every
		 * push (it was a quarter of the push's time at 1P4C, perf). */
		if (s == lfq__cell_seq(t, LFQ_CELL_FREE)) {
			LFQ_SCHED_POINT();
			r->sp_limit = LFQ_LOAD(&r->head, memory_order_acquire) + r->lap; /* O6 */
		}
	}
	if (s == lfq__cell_seq(t, LFQ_CELL_FREE)) {
		/* K2 after C2, as in lfq__cell_put. */
		if (lfq__cell_closed(r))
			return -EPIPE;
		if (lfq__cell_fill_sp(c, &s, t, item)) {
			LFQ_TEST_POINT(LFQ_TP_CELL_PUSH_DONE);
			*tp = lfq__cell_next(r, t);
			return 0;
		}
		/* Only a seal (C7) can change a free cell that only we fill. */
	}
	if (s == lfq__cell_seq(t, LFQ_CELL_SEALED))
		return -EPIPE;
	if (s == lfq__cell_seq(t - r->lap, LFQ_CELL_FULL))
		return lfq__cell_closed(r) ? -EPIPE : -EAGAIN; /* full: t - lap not consumed */
	/* Anything else means another thread filled positions: two producers. */
	assert(!"lfq_ring: an LFQ_RING_SP ring pushed by two threads at once");
	return lfq__cell_put(r, tp, item);
}

/* O5 (or C5 without LFQ__RING_SC_PLAIN): the single consumer frees the cell of h. */
static inline void lfq__cell_free_sc(struct lfq_ring *r, struct lfq__cell *c, uint64_t s,
				     uint64_t it, uint64_t h)
{
	const uint64_t ns = lfq__cell_seq(h + r->lap, LFQ_CELL_FREE);

	LFQ_SCHED_POINT();
	if (r->flags & LFQ__RING_SC_PLAIN) {
#ifdef LFQ_RING_BLIND_PUSH
		/* B6, before O5: while the seq is FULL(h) every CAS on the cell fails (nobody
		 * but us writes a FULL cell), and one that finds O5's FREE(h + lap) finds this
		 * 0 too (stores reach memory in program order, and a release store keeps the
		 * compiler from moving an earlier store after it). */
		LFQ_STORE(&c->item, 0, memory_order_relaxed);
		LFQ_SCHED_POINT();
#endif
		LFQ_STORE(&c->seq, ns, memory_order_release); /* O5 */
		/* The light side of W2a: membarrier orders this store before the notify's N1
		 * in the hardware, but only if the compiler keeps them in program order, which
		 * C11 lets it change for a release store and a later load. */
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		const bool ok = lfq__cell_cas_free(c, &s, it, ns);

		assert(ok && "lfq_ring: an LFQ_RING_SC ring popped by two threads at once");
		(void)ok;
	}
}

/* Pops one item at the single consumer's position *hp; on success *hp is the next one. */
static inline int lfq__cell_take_sc(struct lfq_ring *r, uint64_t *hp, void **item)
{
	const uint64_t h = *hp;
	struct lfq__cell *c = lfq__cell_at(r, h);

	for (;;) {
		/* C2 */
		LFQ_SCHED_POINT();
		uint64_t s = LFQ_LOAD(&c->seq, memory_order_acquire);

		if (s == lfq__cell_seq(h, LFQ_CELL_FULL)) {
			/* C3: nobody else takes it, and its producer is done with it. Kept: no
			 * CAS confirms it, so the next lap's write of the item must come after
			 * it in happens-before (O5, or O4 through O6). */
			LFQ_SCHED_POINT();
			const uint64_t it = LFQ_LOAD_KEPT(&c->item, memory_order_relaxed);

			LFQ_TEST_POINT(LFQ_TP_CELL_POP_READ);
			lfq__cell_free_sc(r, c, s, it, h);
			LFQ_TEST_POINT(LFQ_TP_CELL_POP_DONE);
			*item = (void *)(uintptr_t)it;
			*hp = lfq__cell_next(r, h);
			return 0;
		}
		if (s == lfq__cell_seq(h, LFQ_CELL_FREE)) {
			if (!lfq__cell_closed(r))
				return -EAGAIN;
			LFQ_SCHED_POINT();
			uint64_t it = LFQ_LOAD(&c->item, memory_order_relaxed); /* C3 */

			LFQ_TEST_POINT(LFQ_TP_CELL_POP_SEAL);
			/* C7, as in lfq__cell_take: a push may still fill h first. */
			LFQ_SCHED_POINT();
			if (lfq__cell_cas_seq(c, &s, it, lfq__cell_seq(h, LFQ_CELL_SEALED)))
				return -EPIPE;
			continue;
		}
		if (s == lfq__cell_seq(h, LFQ_CELL_SEALED))
			return -EPIPE;
		assert(!"lfq_ring: an LFQ_RING_SC ring popped by two threads at once");
		return lfq__cell_take(r, hp, item);
	}
}

static inline int lfq__ring_push_one(struct lfq_ring *r, void *item)
{
	if (r->flags & LFQ__RING_MODE_SP) {
		/* O1 */
		LFQ_SCHED_POINT();
		uint64_t t = LFQ_LOAD(&r->tail, memory_order_relaxed);
		const int rc = lfq__cell_put_sp(r, &t, item);

		if (rc == 0) { /* O4 */
			LFQ_SCHED_POINT();
			LFQ_STORE(&r->tail, t, memory_order_relaxed);
		}
		return rc;
	}
#ifdef LFQ_MUTANT_CELL_EARLY_CLOSED_CHECK
	if (lfq__cell_closed(r))
		return -EPIPE;
#endif
	/* C1 (the closed check is K2 in lfq__cell_put, once a free cell is found) */
	LFQ_SCHED_POINT();
	uint64_t t = LFQ_LOAD(&r->tail, memory_order_acquire);
	const int rc = lfq__cell_put(r, &t, item);

	if (rc == 0) { /* C6 */
		LFQ_SCHED_POINT();
		LFQ_STORE(&r->tail, t, memory_order_release);
	}
	return rc;
}

static inline int lfq__ring_pop_one(struct lfq_ring *r, void **item)
{
	if (r->flags & LFQ__RING_MODE_SC) {
		/* O1 */
		LFQ_SCHED_POINT();
		uint64_t h = LFQ_LOAD(&r->head, memory_order_relaxed);
		const int rc = lfq__cell_take_sc(r, &h, item);

		if (rc == 0) { /* O4: release, for O6 */
			LFQ_SCHED_POINT();
			LFQ_STORE(&r->head, h, memory_order_release);
		}
		return rc;
	}
	/* C8 */
	LFQ_SCHED_POINT();
	uint64_t h = LFQ_LOAD(&r->head, memory_order_acquire);
	const int rc = lfq__cell_take(r, &h, item);

	if (rc == 0) { /* C6 */
		LFQ_SCHED_POINT();
		LFQ_STORE(&r->head, h, memory_order_release);
	}
	return rc;
}

static inline size_t lfq__ring_push_burst(struct lfq_ring *r, void *const *items, size_t n)
{
	if (n == 0)
		return 0;
	size_t k = 0;

	if (r->flags & LFQ__RING_MODE_SP) {
		LFQ_SCHED_POINT();
		uint64_t t = LFQ_LOAD(&r->tail, memory_order_relaxed); /* O1 */

		while (k < n && lfq__cell_put_sp(r, &t, items[k]) == 0)
			k++;
		if (k) { /* O4 */
			LFQ_SCHED_POINT();
			LFQ_STORE(&r->tail, t, memory_order_relaxed);
		}
		return k;
	}
	LFQ_SCHED_POINT();
	uint64_t t = LFQ_LOAD(&r->tail, memory_order_acquire); /* C1 */

	while (k < n && lfq__cell_put(r, &t, items[k]) == 0)
		k++;
	if (k) { /* C6: once for the burst */
		LFQ_SCHED_POINT();
		LFQ_STORE(&r->tail, t, memory_order_release);
	}
	return k;
}

static inline size_t lfq__ring_pop_burst(struct lfq_ring *r, void **items, size_t n)
{
	if (n == 0)
		return 0;
	size_t k = 0;

	if (r->flags & LFQ__RING_MODE_SC) {
		LFQ_SCHED_POINT();
		uint64_t h = LFQ_LOAD(&r->head, memory_order_relaxed); /* O1 */

		while (k < n && lfq__cell_take_sc(r, &h, &items[k]) == 0)
			k++;
		if (k) { /* O4: release, for O6 */
			LFQ_SCHED_POINT();
			LFQ_STORE(&r->head, h, memory_order_release);
		}
		return k;
	}
	LFQ_SCHED_POINT();
	uint64_t h = LFQ_LOAD(&r->head, memory_order_acquire); /* C8 */

	while (k < n && lfq__cell_take(r, &h, &items[k]) == 0)
		k++;
	if (k) { /* C6 */
		LFQ_SCHED_POINT();
		LFQ_STORE(&r->head, h, memory_order_release);
	}
	return k;
}

static inline void lfq__ring_finalize(struct lfq_ring *r)
{
	/* K1 */
	LFQ_SCHED_POINT();
	LFQ_STORE(&r->closed, 1, memory_order_seq_cst);
	/* K1f: redundant in C11 (K1 and the notify's N1 are seq_cst, so a sleeper's re-check
	 * after W2 sees `closed` or N1 sees the sleeper), but QEMU's TCG on x86-64 hosts does
	 * not keep an arm64 STLR before a later LDAR (no host fence between them): a pop_wait
	 * sleeper on a closed ring was seen asleep for good there, `waiters` 1, seq unmoved.
	 * Close is rare; the fence costs nothing that matters. */
	LFQ_SCHED_POINT();
	LFQ_FENCE(memory_order_seq_cst); /* K1f */
}

static inline bool lfq__ring_closed(const struct lfq_ring *r)
{
	return lfq__cell_closed(r);
}

#endif /* LFQ_RING_CELLS_H */
