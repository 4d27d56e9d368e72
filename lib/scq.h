/* SPDX-License-Identifier: MIT */
/*
 * One SCQ index ring (Nikolaev, DISC 2019): a lock-free FIFO of small integers (indices
 * 0 .. half-1) in 2*half entries. lfq_ring builds a queue of pointers from two of them (free
 * indices and allocated indices); lfq_queue links such rings together.
 *
 * Because an index ring never holds more than `half` indices while it has 2*half entries,
 * enqueue always finds room eventually: only dequeue can report "empty". That is why no thread
 * ever waits for another one and the ring is lock-free with single-width CAS.
 *
 * Entry word (64 bits), for a ring of 2*half entries (half = 2^order):
 *
 *     | cycle (high bits) | safe (1 bit) | index (order+1 bits) |
 *
 * index == all ones (IDX_NONE) means "no index" (the paper's bottom). Indices are < half, so
 * they never collide with it, and consuming an entry is one fetch_or of IDX_NONE that keeps the
 * cycle and the safe bit. The cycle of ticket t is t / (2*half); it is kept in place as
 * (t << 1) with the low bits cleared, so entry and ticket cycles compare with one subtraction,
 * wrap-safe as a signed difference.
 *
 * Tickets are free-running 64-bit counters starting at 2*half (cycle 1, so that the initial
 * entries, cycle 0, are older than every ticket). At one ticket per nanosecond they would wrap
 * after 292 years; the closed flag (bit 63 of the item ring's tail) is never reached by tickets.
 *
 * Memory-order labels (pairs are given next to each atomic):
 *   E1  enqueue: FAA tail              seq_cst
 *   E2  enqueue: load entry            acquire
 *   E3  enqueue: load head             seq_cst
 *   E4  enqueue: CAS entry             seq_cst (publishes the index; releases what was written
 *                                      before it, e.g. the item in lfq_ring's data array)
 *   E5  enqueue: reset threshold       seq_cst
 *   D1  dequeue: load threshold        seq_cst
 *   D2  dequeue: FAA head              seq_cst
 *   D3  dequeue: load entry            acquire (pairs with E4: sees what was written before it)
 *   D4  dequeue: fetch_or entry        seq_cst (consumes the index)
 *   D5  dequeue: CAS entry             seq_cst (invalidates a slot for late enqueuers)
 *   D6  dequeue: load tail             seq_cst
 *   D7  dequeue: FAA threshold         seq_cst
 *   C1  catchup: CAS tail / loads      seq_cst
 * docs/design.md argues why these orders suffice; on x86-64 every one of them compiles to the
 * same instruction an acquire/release version would use (lock-prefixed RMW, plain load),
 * except E5, a store done only when the threshold had been spent.
 */
#ifndef LFQ_SCQ_H
#define LFQ_SCQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "atomics.h"
#include "testing.h"

/* Bit 63 of an item ring's tail: set by close; every later enqueue ticket fails. */
#define LFQ_SCQ_CLOSED ((uint64_t)1 << 63)
/* dequeue result meaning "no index". */
#define LFQ_SCQ_EMPTY UINT64_MAX
/* How long a dequeuer that found an empty slot of an older cycle re-reads it before making it
 * unusable: the enqueuer holding the same ticket is usually a few instructions away. */
#ifdef LFQ_TESTING /* the interleaving checker sets it lower: see testing.h */
#define LFQ_SCQ_DEQ_SPINS                                                                          \
	((unsigned)atomic_load_explicit(&lfq__test_deq_spins, memory_order_relaxed))
#else
#define LFQ_SCQ_DEQ_SPINS 64
#endif

struct lfq__scq {
	/* Read-only after init. */
	_Atomic uint64_t *entries; /* 2 * half entries */
	unsigned order;		   /* half = 1 << order */
	uint64_t idx_none;	   /* 2*half - 1: the "no index" value and the index mask */
	uint64_t safe_bit;	   /* 2*half */
	uint64_t low_mask;	   /* 4*half - 1: index and safe bits */
	int64_t threshold_max;	   /* 3*half - 1 */
	/* Consumers' ticket counter. */
	LFQ_CACHE_ALIGNED _Atomic uint64_t head;
	/* A tail value some dequeuer saw (closed bit masked), on the dequeuers' own line: while
	 * head is below it there may be indices to take, and the producers' tail line need not
	 * be read (D0). A hint only: tail never decreases, so it is never above the real one. */
	_Atomic uint64_t tail_seen;
	/* Livelock guard: dequeuers give up after this many failed tickets since the last
	 * enqueue; negative means "certainly empty" and costs one load. */
	LFQ_CACHE_ALIGNED _Atomic int64_t threshold;
	/* Producers' ticket counter (bit 63: closed, item rings only). */
	LFQ_CACHE_ALIGNED _Atomic uint64_t tail;
	LFQ_CACHE_ALIGNED char pad_end;
};

/* Entries an index ring of 2^order indices needs. */
static inline size_t lfq__scq_entries(unsigned order)
{
	return (size_t)2 << order;
}

/* Ticket -> entry position. Consecutive tickets land on different cache lines (8 entries
 * per 64-byte line): the position is the ticket's low bits rotated left by 3. Any rotation
 * is a bijection on [0, 2*half), so no two tickets of one cycle share an entry. */
static inline size_t lfq__scq_pos(const struct lfq__scq *q, uint64_t ticket)
{
	const unsigned bits = q->order + 1;
	const uint64_t mask = ((uint64_t)1 << bits) - 1;
	const uint64_t r = ticket & mask;

	if (bits <= 3)
		return (size_t)r;
	return (size_t)(((r << 3) | (r >> (bits - 3))) & mask);
}

/* Cycle of a ticket, in entry position (low bits clear). */
static inline uint64_t lfq__scq_tcycle(const struct lfq__scq *q, uint64_t ticket)
{
	return (ticket << 1) & ~q->low_mask;
}

/* Wrap-safe a < b for cycles in entry position. */
static inline bool lfq__scq_cycle_lt(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) < 0;
}

/*
 * Puts the ring in its initial state: empty, or, with fill > 0, holding indices 0 .. fill-1.
 * Relaxed stores: the ring is not shared yet; whoever hands it to other threads publishes it
 * (lfq_ring_create's caller, or the segment cache of lfq_queue, with release/acquire).
 */
static inline void lfq__scq_reset(struct lfq__scq *q, uint64_t fill)
{
	const uint64_t n = lfq__scq_entries(q->order);

	for (uint64_t i = 0; i < n; i++) /* cycle 0, safe, empty */
		atomic_store_explicit(&q->entries[i], q->safe_bit | q->idx_none,
				      memory_order_relaxed);
	for (uint64_t i = 0; i < fill; i++) {
		const uint64_t t = n + i;

		atomic_store_explicit(&q->entries[lfq__scq_pos(q, t)],
				      lfq__scq_tcycle(q, t) | q->safe_bit | i,
				      memory_order_relaxed);
	}
	atomic_store_explicit(&q->head, n, memory_order_relaxed);
	atomic_store_explicit(&q->tail_seen, n, memory_order_relaxed);
	atomic_store_explicit(&q->tail, n + fill, memory_order_relaxed);
	atomic_store_explicit(&q->threshold, fill ? q->threshold_max : -1, memory_order_relaxed);
}

/* Sets up a ring of 2^order indices over `entries`, then resets it (see above). */
static inline void lfq__scq_init(struct lfq__scq *q, _Atomic uint64_t *entries, unsigned order,
				 uint64_t fill)
{
	const uint64_t half = (uint64_t)1 << order;
	const uint64_t n = 2 * half;

	q->entries = entries;
	q->order = order;
	q->idx_none = n - 1;
	q->safe_bit = n;
	q->low_mask = 2 * n - 1;
	q->threshold_max = (int64_t)(3 * half - 1);
	lfq__scq_reset(q, fill);
}

/*
 * Tries to store index idx at ticket t. Returns false if the ticket's entry is unusable (the
 * caller then needs another ticket). Does not reset the threshold.
 */
static inline bool lfq__scq_put(struct lfq__scq *q, uint64_t t, uint64_t idx, int tp_stored)
{
	_Atomic uint64_t *slot = &q->entries[lfq__scq_pos(q, t)];
	const uint64_t tc = lfq__scq_tcycle(q, t);
	/* E2: acquire pairs with D4/D5 of the dequeuer that last changed this entry, so the
	 * head load E3 below sees that dequeuer's ticket (D2). */
	LFQ_SCHED_POINT();
	uint64_t e = LFQ_LOAD(slot, memory_order_acquire);

	for (;;) {
		const uint64_t ec = e & ~q->low_mask;

		/* Usable only if older than our cycle and empty... */
		if (!lfq__scq_cycle_lt(ec, tc) || (e & q->idx_none) != q->idx_none)
			return false;
		/* ...and, if a dequeuer marked it unsafe, only while no dequeuer has taken
		 * our ticket yet (it would not come back for the index).
		 */
		LFQ_SCHED_POINT();
		if (!(e & q->safe_bit) &&
		    LFQ_LOAD(&q->head, memory_order_seq_cst) > t) /* E3: pairs with D2 */
			return false;
		/* E4: publish. Releases everything written before (the item), pairs with D3; on
		 * failure e is reloaded (acquire, as E2) and re-tested. */
		LFQ_SCHED_POINT();
		if (LFQ_CAS_WEAK(slot, &e, tc | q->safe_bit | idx, memory_order_seq_cst,
				 memory_order_acquire)) {
			LFQ_TEST_POINT(tp_stored);
			return true;
		}
	}
}

/* E5: gives dequeuers a fresh budget after a publish. The load avoids writing a shared line
 * when it already holds the value. */
static inline void lfq__scq_reset_threshold(struct lfq__scq *q)
{
	LFQ_SCHED_POINT();
	if (LFQ_LOAD(&q->threshold, memory_order_seq_cst) != q->threshold_max) { /* E5 */
		LFQ_SCHED_POINT();
		LFQ_STORE(&q->threshold, q->threshold_max, memory_order_seq_cst); /* E5 */
	}
}

/*
 * Appends index idx (< half). Returns false only if the ring is closed (closable rings);
 * otherwise it always succeeds, after a bounded number of tickets per concurrent dequeuer.
 * tp, tp_stored: test points right after a ticket is taken and right after the index is
 * stored (LFQ_TP_NONE for none).
 */
static inline bool lfq__scq_enqueue(struct lfq__scq *q, uint64_t idx, bool closable, int tp,
				    int tp_stored)
{
	for (;;) {
		/* E1: take a ticket. seq_cst: see docs/design.md, "Memory orders". */
		LFQ_SCHED_POINT();
		const uint64_t t = LFQ_FETCH_ADD(&q->tail, 1, memory_order_seq_cst);

		if (closable && (t & LFQ_SCQ_CLOSED))
			return false;
		LFQ_TEST_POINT(tp);
		if (lfq__scq_put(q, t, idx, tp_stored)) {
			lfq__scq_reset_threshold(q);
			return true;
		}
		/* This ticket's entry is unusable: take another one. */
	}
}

/*
 * Appends idx[0 .. n-1] in this order, taking tickets in batches (one FAA for the lot).
 * If an entry turns out unusable, the rest of that batch's tickets are left unused (their
 * dequeuers invalidate them as for any late enqueuer) and the remaining indices take a new
 * batch, so the order is kept. Returns n, or, on a closed ring, how many went in before the
 * close (a prefix).
 */
static inline size_t lfq__scq_enqueue_batch(struct lfq__scq *q, const uint64_t *idx, size_t n,
					    bool closable, int tp, int tp_stored)
{
	size_t done = 0;

	while (done < n) {
		/* E1 (batch form): tickets t0 .. t0 + n - done - 1. */
		LFQ_SCHED_POINT();
		const uint64_t t0 = LFQ_FETCH_ADD(&q->tail, n - done, memory_order_seq_cst);

		if (closable && (t0 & LFQ_SCQ_CLOSED))
			break;
		LFQ_TEST_POINT(tp);
		/* Every ticket of the batch gets exactly one put, in order, as k single enqueuers
		 * would: a ticket whose entry is unusable is skipped, the next index tries the
		 * next ticket. Abandoning the rest of a batch instead would let unusable entries
		 * at a regular stride starve the burst, and would leave usable tickets unused,
		 * which breaks the threshold's bound (found in review). */
		for (uint64_t t = t0, end = t0 + (n - done); t < end; t++)
			if (lfq__scq_put(q, t, idx[done], tp_stored))
				done++;
	}
	if (done)
		lfq__scq_reset_threshold(q);
	return done;
}

/* Moves tail up to head after dequeuers overtook it, so that enqueuers stop taking tickets
 * whose entries were already invalidated. Stops if tail got ahead or the ring was closed. */
static inline void lfq__scq_catchup(struct lfq__scq *q, uint64_t tail, uint64_t head)
{
	/* C1: seq_cst, like the ticket counters it compares. */
	LFQ_SCHED_POINT();
	while (!LFQ_CAS_WEAK(&q->tail, &tail, head, memory_order_seq_cst, memory_order_seq_cst)) {
		LFQ_SCHED_POINT();
		head = LFQ_LOAD(&q->head, memory_order_seq_cst); /* C1 */
		LFQ_SCHED_POINT();
		tail = LFQ_LOAD(&q->tail, memory_order_seq_cst); /* C1 */
		if (tail >= head) /* also true when the closed bit is set */
			break;
		LFQ_SCHED_POINT();
	}
}

/*
 * Examines the entry of dequeue ticket h. Returns the index found there, or LFQ_SCQ_EMPTY
 * after making the entry unusable for a late enqueuer of ticket h.
 */
static inline uint64_t lfq__scq_take(struct lfq__scq *q, uint64_t h, unsigned max_spins)
{
	_Atomic uint64_t *slot = &q->entries[lfq__scq_pos(q, h)];
	const uint64_t hc = lfq__scq_tcycle(q, h);
	unsigned spins = 0;
	/* D3: acquire pairs with E4 (the enqueuer's publish, or a later RMW in its release
	 * sequence): everything the producer wrote before it is visible. */
	LFQ_SCHED_POINT();
	uint64_t e = LFQ_LOAD(slot, memory_order_acquire);

	for (;;) {
		const uint64_t ec = e & ~q->low_mask;
		uint64_t desired;

		if (ec == hc) {
			/* D4: consume. Only this ticket's owner consumes this cycle's index. */
			LFQ_SCHED_POINT();
			LFQ_FETCH_OR(slot, q->idx_none, memory_order_seq_cst);
			return e & q->idx_none;
		}
		if (!lfq__scq_cycle_lt(ec, hc))
			return LFQ_SCQ_EMPTY; /* a later cycle already owns it */
		if ((e & q->idx_none) != q->idx_none) {
			/* An older cycle's index still sits here: warn a late enqueuer of our
			 * cycle that we have passed (it must then check head). The CAS is done
			 * even when the bit is already clear: it puts our D2 into the entry's
			 * release sequence, which is what makes a late enqueuer's E3 see it
			 * under C11 (an RMW-free early return would not; see design.md). */
			desired = e & ~q->safe_bit;
		} else {
			/* Worth waiting only if an enqueuer already holds ticket h and the ring
			 * is open (after close, late enqueuers fail anyway). D6 form. */
			if (spins == 0) {
				LFQ_SCHED_POINT();
				const uint64_t t =
					LFQ_LOAD(&q->tail, memory_order_seq_cst); /* D6 */

				if ((t & LFQ_SCQ_CLOSED) || t <= h)
					spins = max_spins;
			}
			if (spins++ < max_spins) {
				lfq__cpu_relax();
				LFQ_SCHED_POINT();
				e = LFQ_LOAD(slot, memory_order_acquire); /* D3, again */
				continue;
			}
			/* Empty slot of an older cycle: move it to our cycle so the enqueuer of
			 * ticket h can no longer use it. */
			desired = hc | (e & q->safe_bit) | q->idx_none;
		}
		/* D5: pairs with E2 of a late enqueuer (it then sees our D2 through E3). */
		LFQ_SCHED_POINT();
		if (LFQ_CAS_WEAK(slot, &e, desired, memory_order_seq_cst, memory_order_acquire))
			return LFQ_SCQ_EMPTY;
	}
}

/*
 * D0: how many tickets are worth taking, at most: tail - head, or 0 when head has caught up
 * with tail. Then every index enqueued so far belongs to a dequeuer that already holds its
 * ticket, and taking one anyway would only invalidate the entry an enqueuer is about to
 * use. Reads the producers' tail line only when the cached tail_seen says "maybe empty".
 * tail_seen is relaxed: a hint; SCQ's own checks (D1, D6, D7) decide, this only skips
 * hopeless tickets. head and tail are loaded seq_cst like every other ticket access.
 */
static inline uint64_t lfq__scq_available_to(struct lfq__scq *q, uint64_t *end)
{
	LFQ_SCHED_POINT();
	const uint64_t head = LFQ_LOAD(&q->head, memory_order_seq_cst); /* D0 */
	LFQ_SCHED_POINT();
	const uint64_t seen = LFQ_LOAD(&q->tail_seen, memory_order_relaxed);
	uint64_t tail = seen;

	if (head >= tail) {
		LFQ_SCHED_POINT();
		tail = LFQ_LOAD(&q->tail, memory_order_seq_cst) & ~LFQ_SCQ_CLOSED; /* D0 */
		if (tail != seen) { /* an empty ring's pops then write nothing */
			LFQ_SCHED_POINT();
			LFQ_STORE(&q->tail_seen, tail, memory_order_relaxed);
		}
	}
	*end = tail;
	return head >= tail ? 0 : tail - head;
}

static inline uint64_t lfq__scq_available(struct lfq__scq *q)
{
	uint64_t end;

	return lfq__scq_available_to(q, &end);
}

/*
 * One pass over the tickets below end (a tail value read just before), for a dequeuer that
 * found the threshold negative while tickets were outstanding. Like lfq__scq_drain, it takes
 * at most end - head tickets in total, so it cannot livelock; unlike it, it waits briefly for
 * an enqueuer holding a ticket (the ring is open) and catches tail up after a failed last
 * ticket, as D6 does. An index found means the threshold was wrong: it is reset (E5).
 */
static inline uint64_t lfq__scq_sweep(struct lfq__scq *q, uint64_t end, int tp)
{
	for (;;) {
		/* D2 (load form) */
		LFQ_SCHED_POINT();
		if (LFQ_LOAD(&q->head, memory_order_seq_cst) >= end)
			return LFQ_SCQ_EMPTY;
		LFQ_SCHED_POINT();
		const uint64_t h = LFQ_FETCH_ADD(&q->head, 1, memory_order_seq_cst); /* D2 */

		LFQ_TEST_POINT(tp);
		const uint64_t idx = lfq__scq_take(q, h, LFQ_SCQ_DEQ_SPINS);

		if (idx != LFQ_SCQ_EMPTY) {
			lfq__scq_reset_threshold(q);
			return idx;
		}
		if (h + 1 >= end) {
			LFQ_SCHED_POINT();
			const uint64_t t = LFQ_LOAD(&q->tail, memory_order_seq_cst); /* D6 */

			if (!(t & LFQ_SCQ_CLOSED) && t <= h + 1)
				lfq__scq_catchup(q, t, h + 1);
			return LFQ_SCQ_EMPTY;
		}
	}
}

/*
 * Removes the oldest index, or returns LFQ_SCQ_EMPTY. tp: test point after a ticket is taken.
 * The item ring's tail may carry the closed bit; an "empty" verdict on a closed ring is not
 * final (see lfq__scq_drain).
 */
static inline uint64_t lfq__scq_dequeue(struct lfq__scq *q, int tp)
{
	/* D1: a negative threshold means empty (see design.md for why seq_cst)... */
	LFQ_SCHED_POINT();
	if (LFQ_LOAD(&q->threshold, memory_order_seq_cst) < 0) {
#ifdef LFQ_MUTANT_THRESHOLD_WEDGE /* test-only mutant: the paper's order, which can wedge */
		return LFQ_SCQ_EMPTY;
#else
		/* ...unless tickets are outstanding. Dequeuers whose failed tickets predate an
		 * enqueue can decrement after that enqueue's reset (E5 before a late D7): enough
		 * of them drive the threshold negative with an index inside, and no enqueue may
		 * come to reset it (the threshold wedge). A negative threshold with head < tail
		 * is therefore checked by one bounded sweep (D0 reads tail). */
		uint64_t end;

		return lfq__scq_available_to(q, &end) ? lfq__scq_sweep(q, end, tp) : LFQ_SCQ_EMPTY;
#endif
	}
	if (lfq__scq_available(q) == 0) /* D0 */
		return LFQ_SCQ_EMPTY;
	for (;;) {
		/* D2: take a ticket; pairs with E3. */
		LFQ_SCHED_POINT();
		const uint64_t h = LFQ_FETCH_ADD(&q->head, 1, memory_order_seq_cst);

		LFQ_TEST_POINT(tp);
		const uint64_t idx = lfq__scq_take(q, h, LFQ_SCQ_DEQ_SPINS);

		if (idx != LFQ_SCQ_EMPTY)
			return idx;
		/* D6 */
		LFQ_SCHED_POINT();
		const uint64_t t = LFQ_LOAD(&q->tail, memory_order_seq_cst);

		if ((t & ~LFQ_SCQ_CLOSED) <= h + 1) {
			if (!(t & LFQ_SCQ_CLOSED)) /* a closed tail stays where it is */
				lfq__scq_catchup(q, t, h + 1);
			LFQ_TEST_POINT(LFQ_TP_SCQ_DEQ_FAILED);
			/* D7 */
			LFQ_SCHED_POINT();
			LFQ_FETCH_SUB(&q->threshold, 1, memory_order_seq_cst);
			return LFQ_SCQ_EMPTY;
		}
		LFQ_TEST_POINT(LFQ_TP_SCQ_DEQ_FAILED);
		/* D7: spend one unit of the budget. */
		LFQ_SCHED_POINT();
		if (LFQ_FETCH_SUB(&q->threshold, 1, memory_order_seq_cst) <= 0)
			return LFQ_SCQ_EMPTY;
	}
}

/*
 * Removes up to n indices into out[], oldest first, taking its tickets with one FAA. Takes
 * at most as many tickets as tail - head promised when it looked (D0), so it rarely
 * overshoots; failed tickets are accounted as in lfq__scq_dequeue (catch-up, threshold).
 * Returns the number removed (0: empty, or every ticket failed; callers fall back to
 * lfq__scq_dequeue, whose "empty" verdict is authoritative).
 */
static inline size_t lfq__scq_dequeue_batch(struct lfq__scq *q, uint64_t *out, size_t n, int tp)
{
	/* D1, D0 as in lfq__scq_dequeue. */
	LFQ_SCHED_POINT();
	if (LFQ_LOAD(&q->threshold, memory_order_seq_cst) < 0)
		return 0;
	const uint64_t avail = lfq__scq_available(q); /* D0 */

	if (avail == 0 || n == 0)
		return 0;
	const uint64_t k = avail < n ? avail : n;
	/* D2 (batch form): tickets h0 .. h0 + k - 1. */
	LFQ_SCHED_POINT();
	const uint64_t h0 = LFQ_FETCH_ADD(&q->head, k, memory_order_seq_cst);
	size_t got = 0;

	LFQ_TEST_POINT(tp);
	for (uint64_t h = h0; h < h0 + k; h++) {
		const uint64_t idx = lfq__scq_take(q, h, LFQ_SCQ_DEQ_SPINS);

		if (idx != LFQ_SCQ_EMPTY)
			out[got++] = idx;
	}
	if (got < k) {
		/* D6, D7 for the failed tickets, as a sequence of single dequeues would. */
		LFQ_SCHED_POINT();
		const uint64_t t = LFQ_LOAD(&q->tail, memory_order_seq_cst);

		if (!(t & LFQ_SCQ_CLOSED) && t <= h0 + k)
			lfq__scq_catchup(q, t, h0 + k);
		LFQ_SCHED_POINT();
		LFQ_FETCH_SUB(&q->threshold, (int64_t)(k - got), memory_order_seq_cst); /* D7 */
	}
	return got;
}

/*
 * Dequeue on a closed item ring. end is any tail value read after the closed bit was set
 * (bit masked off): at least the ticket count at close time, the only tickets enqueuers could
 * still use. Ignores the threshold: with end fixed, every failed ticket brings head closer to
 * it, so this finishes in at most end - head tickets in total. It does not wait for late
 * enqueuers (max_spins 0): after close they may fail. LFQ_SCQ_EMPTY here is final: every
 * ticket below end has been handed to some dequeuer, and each index stored at such a ticket is
 * returned by the dequeuer holding it.
 */
static inline uint64_t lfq__scq_drain(struct lfq__scq *q, uint64_t end, int tp)
{
	for (;;) {
		/* D2 (load form): seq_cst like the ticket FAA. */
		LFQ_SCHED_POINT();
#ifdef LFQ_MUTANT_DRAIN_EARLY /* test-only mutant: the drain stops one ticket early */
		if (LFQ_LOAD(&q->head, memory_order_seq_cst) + 1 >= end) /* D2 */
			return LFQ_SCQ_EMPTY;
#else
		if (LFQ_LOAD(&q->head, memory_order_seq_cst) >= end) /* D2 */
			return LFQ_SCQ_EMPTY;
#endif
		LFQ_SCHED_POINT();
		const uint64_t h = LFQ_FETCH_ADD(&q->head, 1, memory_order_seq_cst); /* D2 */

		LFQ_TEST_POINT(tp);
		const uint64_t idx = lfq__scq_take(q, h, 0);

		if (idx != LFQ_SCQ_EMPTY)
			return idx;
		if (h + 1 >= end)
			return LFQ_SCQ_EMPTY;
	}
}

#endif /* LFQ_SCQ_H */
