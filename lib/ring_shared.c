/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring in memory shared between processes: lay a cell ring out in a caller's region
 * (init) and validate a region before using it (attach). The ring is position-independent
 * (ring_cells.h: no pointers, cells at a fixed offset from the header), so the handle a
 * process gets is simply the address where it mapped the region, and every ring call works
 * on it unchanged. Why a killed process cannot wedge the ring: docs/design.md, "Shared
 * rings and killed processes".
 *
 * Labels: S1 init: store magic release (publishes the layout; pairs with S2);
 *         S2 attach: load magic acquire;
 *         S3 attach: load each cell's seq relaxed (only its form is checked, and every
 *            value a ring operation writes keeps that form).
 *
 * Where the ring cannot be atomic between processes its calls answer -ENOTSUP: on the
 * portable SCQ backend (not laid out for it), and in ThreadSanitizer builds, where the cell's
 * 16-byte CAS is TSan's emulation under a lock that lives inside each process (arch.h).
 */
#include <errno.h>
#include <stdint.h>

#include <lfq/ring.h>

#include "arch.h"
#include "ring_internal.h"

#if LFQ_RING_CELLS && !defined(LFQ_TSAN)

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

/* Checks a header read from untrusted memory: every field against what init would write. */
static bool header_ok(const struct lfq_ring *r, size_t bytes)
{
	if (r->version != LFQ_RING_LAYOUT_VERSION || r->shared != 1 || r->flags != 0 ||
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

/* Every cell holds seq = position << 2 | state with a known state and the position of this
 * very cell: what init writes and what every push, pop and seal keeps. */
static bool cells_ok(struct lfq_ring *r)
{
	for (uint64_t i = 0; i < r->capacity; i++) {
		/* S3 */
		const uint64_t s =
			atomic_load_explicit(&lfq__cell_at(r, i)->seq, memory_order_relaxed);

		if ((s & 3) > LFQ_CELL_SEALED || ((s >> 2) & r->mask) != i)
			return false;
	}
	return true;
}

int lfq_ring_shared_attach(struct lfq_ring **ring, void *mem, size_t bytes)
{
	if (!ring || !mem || !aligned(mem) || bytes < LFQ_RING_CELLS_OFFSET)
		return -EINVAL;
	struct lfq_ring *r = mem;

	/* S2: pairs with S1. */
	if (atomic_load_explicit(&r->magic, memory_order_acquire) != LFQ_RING_MAGIC)
		return -EINVAL;
	if (!header_ok(r, bytes) || !cells_ok(r))
		return -EINVAL;
	*ring = r;
	return 0;
}

void lfq_ring_shared_detach(struct lfq_ring *ring)
{
	/* The handle is the caller's mapping; nothing was allocated. The ring stays usable by
	 * every other process, and by this one through a new attach. */
	(void)ring;
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
