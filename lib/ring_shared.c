/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring in memory shared between processes: lay a cell ring out in a caller's region
 * (init), validate a region and take a process-local handle on it (attach), and the ring's
 * operations on such a handle, checked against whatever the region holds.
 *
 * Threat model (docs/ring.md, "What a faulty peer can do"): every other process that maps
 * the region may write any value into any word of it at any time. It can lose, invent or
 * duplicate items and make this process's calls fail; it must not make them crash, hang,
 * or write outside the region. So nothing read from the region is trusted:
 *   - the geometry (capacity, mask, lap, bits) is read once, at attach, into the handle
 *     (struct lfq__ring_handle, process memory), validated there, and never read from the
 *     region again;
 *   - every position read from the region (a hint, or the position a cell's seq names) is
 *     reduced to a valid one (fix(): index < capacity, below LFQ__POS_LIMIT) before it
 *     indexes a cell, so every cell touched lies inside [mem, mem + bytes);
 *   - a cell whose seq has a form no operation writes (state 3, another cell's index, a
 *     position past LFQ__POS_LIMIT) is reported, -EBADMSG; a cell behind the position we
 *     look at (I2 forbids it: a peer moved a hint ahead, or rewrote the cell) is believed,
 *     and the search resumes at the position the cell names, which repairs the hint;
 *   - every loop ends after a fixed number of cells (handle->steps): then the call saves
 *     the position it reached into the hint and answers -EAGAIN, so a retry continues
 *     from there. An honest ring needs that many only after a hint went stale by more
 *     than that many positions (docs/design.md, "Shared rings and faulty peers").
 * The operations are those of ring_cells.h (the same steps and labels, C1-C8, K1, K2, with
 * the same pairings), with these checks added; the private ring's inline paths are not
 * touched (ring.c sends a handle here on one flag test).
 *
 * Labels (besides ring_cells.h's):
 *   S1 init: store magic             release (publishes the layout; pairs with S2)
 *   S2 attach: load magic            acquire
 *   S3 attach: load each cell's seq  relaxed (only its form is checked; the handle keeps
 *                                    nothing of it)
 *   S4 attach: load tail / head      relaxed (only checked against the cells, which are
 *                                    read after them: cells only move forward)
 *
 * Where the ring cannot be atomic between processes its calls answer -ENOTSUP: on the
 * portable SCQ backend (not laid out for it), and in ThreadSanitizer builds, where the cell's
 * 16-byte CAS is TSan's emulation under a lock that lives inside each process (arch.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lfq/ring.h>

#include "arch.h"
#include "ring_internal.h"

#if LFQ__SHARED_RINGS

/*
 * Positions at or past 2^61 never occur in an honest ring (at 10^9 operations a second it
 * takes 73 years to get there): a cell that names one is corrupt, and a hint that holds one
 * is reduced below it. Below it, p + lap and seq = p << 2 | state never overflow.
 */
#define LFQ__POS_LIMIT ((uint64_t)1 << 61)
/* Cells one checked call examines at most: 2 * capacity + 4096, at most 65536 (a few ms
 * when every one is a cache miss). An honest call that needs more resumes on its retry. */
#define LFQ__STEPS_MIN 4096u
#define LFQ__STEPS_MAX 65536u

/* The region's start: struct lfq_ring is cache-line aligned, its cells 16-byte aligned. */
static bool aligned(const void *mem)
{
	return ((uintptr_t)mem & (LFQ_CACHE_LINE - 1)) == 0;
}

static bool capacity_ok(size_t capacity)
{
	return capacity >= 1 && capacity <= LFQ_RING_CAPACITY_MAX;
}

size_t lfq_ring_shared_size(size_t capacity, unsigned flags)
{
	if (!capacity_ok(capacity) || (flags & ~LFQ_RING_FLAGS_NONE))
		return 0;
	const uint64_t bytes = lfq__cell_ring_bytes(capacity);

	return bytes > SIZE_MAX ? 0 : (size_t)bytes;
}

int lfq_ring_shared_init(void *mem, size_t bytes, size_t capacity, unsigned flags)
{
	const size_t need = lfq_ring_shared_size(capacity, flags);

	if (!mem || !aligned(mem) || need == 0 || bytes < need)
		return -EINVAL;
	struct lfq_ring *r = mem;

	lfq__cell_ring_format(r, capacity, true, 0);
	/* S1: whoever reads the magic (S2) also sees the layout written before it. format
	 * stored it relaxed; store it again as the release that publishes everything. */
	atomic_store_explicit(&r->magic, LFQ_RING_MAGIC, memory_order_release);
	return 0;
}

/* Checks a header copied out of untrusted memory: every field against what init writes. */
static bool header_ok(const struct lfq_ring *r, size_t bytes)
{
	/* Relaxed: r is this process's copy (attach's memcpy); nobody else writes it. */
	if (atomic_load_explicit(&((struct lfq_ring *)r)->magic, memory_order_relaxed) !=
		    LFQ_RING_MAGIC ||
	    r->version != LFQ_RING_LAYOUT_VERSION || r->shared != 1 || r->flags != 0 ||
	    r->cells_offset != LFQ_RING_CELLS_OFFSET)
		return false;
	const size_t capacity = r->capacity;

	if (!capacity_ok(capacity) || r->bits > 31 || r->lap != (uint64_t)1 << r->bits ||
	    r->mask != r->lap - 1 || r->lap < capacity || (r->bits && r->lap / 2 >= capacity))
		return false;
	if (r->bytes != lfq__cell_ring_bytes(capacity) || r->bytes > bytes)
		return false;
	if (r->not_empty.shared != 1 || r->not_full.shared != 1 || r->not_empty.asym != 0 ||
	    r->not_full.asym != 0)
		return false;
	return r->check == lfq__cell_ring_check(r);
}

static inline struct lfq__ring_handle *handle_of(const struct lfq_ring *ring)
{
	/* geom is the handle's first member: the handle's address is the ring pointer. */
	return (struct lfq__ring_handle *)ring;
}

/* A position reduced to a valid one: below LFQ__POS_LIMIT, with an index < capacity (an
 * index past the last cell of a lap moves to the next lap's first cell, as next() does).
 * Two masks and a compare. */
static inline uint64_t fix(const struct lfq_ring *g, uint64_t p)
{
	p &= LFQ__POS_LIMIT - 1;
	if ((p & g->mask) >= g->capacity)
		p = ((p | g->mask) + 1) & (LFQ__POS_LIMIT - 1);
	return p;
}

/* The cell of a valid position p (fix() or next() of a valid one): inside the region. */
static inline struct lfq__cell *cell_of(const struct lfq__ring_handle *hd, uint64_t p)
{
	return (struct lfq__cell *)((char *)hd->mem + LFQ_RING_CELLS_OFFSET) + (p & hd->geom.mask);
}

/* A seq that some operation could have written into the cell of position p: a known
 * state, a position of this very cell, below the limit. */
static inline bool form_ok(const struct lfq_ring *g, uint64_t s, uint64_t p)
{
	return (s & 3) <= LFQ_CELL_SEALED && (s >> 2) < LFQ__POS_LIMIT &&
	       ((s >> 2) & g->mask) == (p & g->mask);
}

/* lfq__cell_put, checked (see the file comment). */
static int put(const struct lfq__ring_handle *hd, uint64_t *tp, void *item)
{
	const struct lfq_ring *g = &hd->geom;
	struct lfq_ring *m = hd->mem;
	uint64_t t = fix(g, *tp);

	for (uint32_t n = 0; n < hd->steps; n++) {
		struct lfq__cell *c = cell_of(hd, t);
		/* C2 */
		uint64_t s = atomic_load_explicit(&c->seq, memory_order_acquire);
		const uint64_t want = lfq__cell_seq(t, LFQ_CELL_FREE);

		if (!form_ok(g, s, t))
			return -EBADMSG;
		if (s == want) {
			/* K2 after C2, as in lfq__cell_put. */
			if (lfq__cell_closed(m))
				return -EPIPE;
			/* C3 */
			uint64_t old = atomic_load_explicit(&c->item, memory_order_relaxed);

			/* C4 */
			if (lfq__cas128(c, &s, &old, lfq__cell_seq(t, LFQ_CELL_FULL),
					(uint64_t)(uintptr_t)item)) {
				*tp = lfq__cell_next(g, t);
				return 0;
			}
			continue; /* the cell changed: check its new seq on the next pass */
		}
		if (s == lfq__cell_seq(t, LFQ_CELL_FULL)) {
			t = lfq__cell_next(g, t);
		} else if ((s & 3) == LFQ_CELL_SEALED) {
			/* A seal follows a close (C7 after K2): no push can succeed any more. */
			return -EPIPE;
		} else if (s > want) {
			/* A later lap: t was stale. C1. */
			const uint64_t hint =
				fix(g, atomic_load_explicit(&m->tail, memory_order_acquire));
			const uint64_t skip = lfq__cell_skip_filled(g, s);

			t = hint > skip ? hint : skip;
		} else if (t >= g->lap && s == lfq__cell_seq(t - g->lap, LFQ_CELL_FULL)) {
			return lfq__cell_closed(m) ? -EPIPE : -EAGAIN; /* full */
		} else {
			/* Behind t, which I2 forbids (t is at most the first unfilled position): a
			 * peer moved the tail hint ahead, or rewrote the cell. Believe the cell:
			 * FREE(q) says q is unfilled, FULL(q) that q is filled. */
			t = (s & 3) == LFQ_CELL_FULL ? lfq__cell_next(g, s >> 2) : s >> 2;
		}
	}
	/* Out of steps: C6, so that the next call goes on from here (a lower bound of the
	 * first unfilled position, as any hint). */
	atomic_store_explicit(&m->tail, t, memory_order_release);
	return -EAGAIN;
}

/* lfq__cell_take, checked. */
static int take(const struct lfq__ring_handle *hd, uint64_t *hp, void **item)
{
	const struct lfq_ring *g = &hd->geom;
	struct lfq_ring *m = hd->mem;
	uint64_t h = fix(g, *hp);

	for (uint32_t n = 0; n < hd->steps; n++) {
		struct lfq__cell *c = cell_of(hd, h);
		/* C2 */
		uint64_t s = atomic_load_explicit(&c->seq, memory_order_acquire);
		const uint64_t want = lfq__cell_seq(h, LFQ_CELL_FULL);

		if (!form_ok(g, s, h))
			return -EBADMSG;
		if (s == want) {
			/* C3 */
			uint64_t it = atomic_load_explicit(&c->item, memory_order_relaxed);

			/* C5 */
			if (lfq__cell_cas_seq(c, &s, it,
					      lfq__cell_seq(h + g->lap, LFQ_CELL_FREE))) {
				*item = (void *)(uintptr_t)it;
				*hp = lfq__cell_next(g, h);
				return 0;
			}
			continue;
		}
		if (s == lfq__cell_seq(h, LFQ_CELL_FREE)) {
			if (!lfq__cell_closed(m)) /* K2 */
				return -EAGAIN;
			uint64_t it = atomic_load_explicit(&c->item, memory_order_relaxed); /* C3 */

			/* C7 */
			if (lfq__cell_cas_seq(c, &s, it, lfq__cell_seq(h, LFQ_CELL_SEALED)))
				return -EPIPE;
			continue;
		}
		if (s == lfq__cell_seq(h, LFQ_CELL_SEALED))
			return -EPIPE;
		if (s > want) {
			/* A later lap: h was stale. C8. */
			const uint64_t hint =
				fix(g, atomic_load_explicit(&m->head, memory_order_acquire));
			const uint64_t skip = fix(g, lfq__cell_skip_consumed(g, s));

			h = hint > skip ? hint : skip;
			continue;
		}
		/* Behind h, which I2 forbids (the debug assert of lfq__cell_take): a peer moved
		 * the head hint ahead, or rewrote the cell. Resume at the position it names:
		 * FULL(q) is popped next, FREE(q) reads as empty. */
		h = s >> 2;
	}
	/* Out of steps: C6, so that the next call goes on from here. */
	atomic_store_explicit(&m->head, h, memory_order_release);
	return -EAGAIN;
}

/* The push, pop and their bursts without wake-ups (the _wait calls' tries). */
static int push_one(struct lfq_ring *ring, void *item)
{
	const struct lfq__ring_handle *hd = handle_of(ring);
	/* C1 */
	uint64_t t = atomic_load_explicit(&hd->mem->tail, memory_order_acquire);
	const int rc = put(hd, &t, item);

	if (rc == 0) /* C6 */
		atomic_store_explicit(&hd->mem->tail, t, memory_order_release);
	return rc;
}

static int pop_one(struct lfq_ring *ring, void **item)
{
	const struct lfq__ring_handle *hd = handle_of(ring);
	/* C8 */
	uint64_t h = atomic_load_explicit(&hd->mem->head, memory_order_acquire);
	const int rc = take(hd, &h, item);

	if (rc == 0) /* C6 */
		atomic_store_explicit(&hd->mem->head, h, memory_order_release);
	return rc;
}

int lfq__shared_push(struct lfq_ring *ring, void *item)
{
	const int rc = push_one(ring, item);

	if (rc == 0)
		lfq__waitq_notify(&handle_of(ring)->mem->not_empty, 1);
	return rc;
}

int lfq__shared_pop(struct lfq_ring *ring, void **item)
{
	const int rc = pop_one(ring, item);

	if (rc == 0)
		lfq__waitq_notify(&handle_of(ring)->mem->not_full, 1);
	return rc;
}

static int notify_count(size_t k)
{
	return k > LFQ_WAITQ_ALL ? LFQ_WAITQ_ALL : (int)k;
}

size_t lfq__shared_push_burst(struct lfq_ring *ring, void *const *items, size_t n)
{
	const struct lfq__ring_handle *hd = handle_of(ring);
	/* C1 */
	uint64_t t = atomic_load_explicit(&hd->mem->tail, memory_order_acquire);
	size_t k = 0;

	while (k < n && put(hd, &t, items[k]) == 0)
		k++;
	if (k) { /* C6: once for the burst */
		atomic_store_explicit(&hd->mem->tail, t, memory_order_release);
		lfq__waitq_notify(&hd->mem->not_empty, notify_count(k));
	}
	return k;
}

size_t lfq__shared_pop_burst(struct lfq_ring *ring, void **items, size_t n)
{
	const struct lfq__ring_handle *hd = handle_of(ring);
	/* C8 */
	uint64_t h = atomic_load_explicit(&hd->mem->head, memory_order_acquire);
	size_t k = 0;

	while (k < n && take(hd, &h, &items[k]) == 0)
		k++;
	if (k) { /* C6 */
		atomic_store_explicit(&hd->mem->head, h, memory_order_release);
		lfq__waitq_notify(&hd->mem->not_full, notify_count(k));
	}
	return k;
}

static int try_push(void *ring, void *item)
{
	return push_one(ring, item);
}

static int try_pop(void *ring, void *item)
{
	return pop_one(ring, item);
}

/* Each try is bounded (put/take), so the wait ends by its deadline, give or take one try.
 * A peer can only make it return early (an error) or miss a wake-up (then the deadline or
 * the next try ends the sleep). */
int lfq__shared_push_wait(struct lfq_ring *ring, void *item, int64_t timeout_ns)
{
	struct lfq_ring *m = handle_of(ring)->mem;
	const int rc = lfq__waitq_wait(&m->not_full, try_push, ring, item, timeout_ns);

	if (rc == 0)
		lfq__waitq_notify(&m->not_empty, 1);
	return rc;
}

int lfq__shared_pop_wait(struct lfq_ring *ring, void **item, int64_t timeout_ns)
{
	struct lfq_ring *m = handle_of(ring)->mem;
	const int rc = lfq__waitq_wait(&m->not_empty, try_pop, ring, item, timeout_ns);

	if (rc == 0)
		lfq__waitq_notify(&m->not_full, 1);
	return rc;
}

void lfq__shared_close(struct lfq_ring *ring)
{
	struct lfq_ring *m = handle_of(ring)->mem;

	lfq__ring_finalize(m); /* K1 */
	lfq__waitq_notify(&m->not_empty, LFQ_WAITQ_ALL);
	lfq__waitq_notify(&m->not_full, LFQ_WAITQ_ALL);
}

bool lfq__shared_closed(const struct lfq_ring *ring)
{
	return lfq__cell_closed(handle_of(ring)->mem); /* K2 */
}

/* Number of positions before p (p valid). */
static uint64_t count_of(const struct lfq_ring *g, uint64_t p)
{
	return (p >> g->bits) * g->capacity + (p & g->mask);
}

/* lfq__ring_size, checked: positions fixed, both walks bounded by min(capacity + 1, steps),
 * a malformed cell ends a walk. Relaxed loads: a snapshot. */
size_t lfq__shared_size(const struct lfq_ring *ring)
{
	const struct lfq__ring_handle *hd = handle_of(ring);
	const struct lfq_ring *g = &hd->geom;
	struct lfq_ring *m = hd->mem;
	const uint64_t walk = g->capacity + 1 < hd->steps ? g->capacity + 1 : hd->steps;
	uint64_t h = fix(g, atomic_load_explicit(&m->head, memory_order_relaxed));
	uint64_t t = fix(g, atomic_load_explicit(&m->tail, memory_order_relaxed));

	for (uint64_t i = 0; i < walk; i++) {
		const uint64_t s = atomic_load_explicit(&cell_of(hd, h)->seq, memory_order_relaxed);

		if (!form_ok(g, s, h) || s <= lfq__cell_seq(h, LFQ_CELL_SEALED))
			break;
		h = fix(g, lfq__cell_skip_consumed(g, s));
	}
	for (uint64_t i = 0; i < walk; i++) {
		const uint64_t s = atomic_load_explicit(&cell_of(hd, t)->seq, memory_order_relaxed);

		if (!form_ok(g, s, t) || s <= lfq__cell_seq(t, LFQ_CELL_FREE) ||
		    s == lfq__cell_seq(t, LFQ_CELL_SEALED))
			break;
		t = fix(g, lfq__cell_skip_filled(g, s));
	}
	const uint64_t hc = count_of(g, h), tc = count_of(g, t);

	if (tc <= hc)
		return 0;
	return tc - hc >= g->capacity ? g->capacity : (size_t)(tc - hc);
}

void lfq__shared_detach(struct lfq_ring *ring)
{
	free(handle_of(ring));
}

int lfq_ring_shared_attach(struct lfq_ring **ring, void *mem, size_t bytes)
{
	if (!ring || !mem || !aligned(mem) || bytes < LFQ_RING_CELLS_OFFSET)
		return -EINVAL;
	struct lfq_ring *r = mem;

	/* S2: pairs with S1. */
	if (atomic_load_explicit(&r->magic, memory_order_acquire) != LFQ_RING_MAGIC)
		return -EINVAL;
	struct lfq__ring_handle *hd = aligned_alloc(LFQ_CACHE_LINE, sizeof(*hd));

	if (!hd)
		return -ENOMEM;
	/* The header, read once: everything below checks this copy, and only this copy is
	 * used from now on. A peer rewriting the header meanwhile gives a torn copy, which
	 * fails the checks (or is a valid header: either way nothing reads the region's). */
	memcpy(&hd->geom, r, sizeof(hd->geom));
	struct lfq_ring *g = &hd->geom;

	if (!header_ok(g, bytes))
		goto invalid;
	/* Only the geometry stays; the rest of the copy is state that lives in the region. */
	memset((char *)g + offsetof(struct lfq_ring, tail), 0,
	       sizeof(*g) - offsetof(struct lfq_ring, tail));
	/* Relaxed: the handle is not shared yet; its `closed` is never read (the region's is). */
	atomic_store_explicit(&g->closed, 0, memory_order_relaxed);
	g->flags = LFQ__RING_HANDLE;
	hd->mem = r;
	const uint64_t steps = 2 * (uint64_t)g->capacity + LFQ__STEPS_MIN;

	hd->steps = steps < LFQ__STEPS_MAX ? (uint32_t)steps : LFQ__STEPS_MAX;
	/* S4: the hints, before the cells (cells only move forward, so an honest hint is at
	 * most one position past the furthest position any cell names when read later). */
	const uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	const uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t furthest = 0;

	/* Every cell holds seq = position << 2 | state with a known state and the position
	 * of this very cell: what init writes and what every push, pop and seal keeps. */
	for (uint64_t i = 0; i < g->capacity; i++) {
		/* S3 */
		const uint64_t s = atomic_load_explicit(&cell_of(hd, i)->seq, memory_order_relaxed);

		if (!form_ok(g, s, i))
			goto invalid;
		if ((s >> 2) > furthest)
			furthest = s >> 2;
	}
	if (fix(g, tail) != tail || fix(g, head) != head || tail > furthest + g->lap ||
	    head > furthest + g->lap)
		goto invalid;
	*ring = g;
	return 0;
invalid:
	free(hd);
	return -EINVAL;
}

void lfq_ring_shared_detach(struct lfq_ring *ring)
{
	/* Frees this process's handle; the ring in the region is untouched. */
	if (ring && lfq__ring_is_handle(ring))
		lfq__shared_detach(ring);
}

#else /* the SCQ backend, or a ThreadSanitizer build */

size_t lfq_ring_shared_size(size_t capacity, unsigned flags)
{
	(void)capacity;
	(void)flags;
	return 0;
}

int lfq_ring_shared_init(void *mem, size_t bytes, size_t capacity, unsigned flags)
{
	(void)mem;
	(void)bytes;
	(void)capacity;
	(void)flags;
	return -ENOTSUP;
}

int lfq_ring_shared_attach(struct lfq_ring **ring, void *mem, size_t bytes)
{
	(void)ring;
	(void)mem;
	(void)bytes;
	return -ENOTSUP;
}

void lfq_ring_shared_detach(struct lfq_ring *ring)
{
	(void)ring;
}

#endif
