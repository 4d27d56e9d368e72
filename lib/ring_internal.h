/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring internals shared by the public calls (ring.c), lfq_queue's segments and the tests.
 *
 * Two backends implement the same operations, chosen at build time (meson option
 * ring_backend): the cell ring (ring_cells.c: one double-width CAS per push and per pop,
 * where the target has one) and the portable SCQ ring (ring_scq.c: single-width atomics
 * only). Both give every documented semantic of include/lfq/ring.h.
 */
#ifndef LFQ_RING_INTERNAL_H
#define LFQ_RING_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if LFQ_RING_CELLS
#include "ring_cells.h"
#else
#include "ring_scq.h"
#endif

/* Allocates an empty, open ring; capacity and flags (LFQ_RING_SP | LFQ_RING_SC) were
 * validated by the caller. 0 or -ENOMEM. */
int lfq__ring_create(struct lfq_ring **ring, size_t capacity, unsigned flags);
void lfq__ring_destroy(struct lfq_ring *ring);

/*
 * The ring's operations without their wake-up calls, for lfq_queue's segments (which have
 * their own eventcounts). Same results as the public calls: 0, -EAGAIN, -EPIPE. The cell
 * backend defines them inline in ring_cells.h.
 */
#if !LFQ_RING_CELLS
int lfq__ring_push_one(struct lfq_ring *ring, void *item);
int lfq__ring_pop_one(struct lfq_ring *ring, void **item);
size_t lfq__ring_push_burst(struct lfq_ring *ring, void *const *items, size_t n);
size_t lfq__ring_pop_burst(struct lfq_ring *ring, void **items, size_t n);
/* Close without waking anyone: LSCQ's "finalize". */
void lfq__ring_finalize(struct lfq_ring *ring);
bool lfq__ring_closed(const struct lfq_ring *ring);
#endif
/* All or nothing (include/lfq/ring.h): n or 0; only on an SP (push) or SC (pop) ring, else
 * 0. No wake-ups (ring.c makes them). */
size_t lfq__ring_push_bulk(struct lfq_ring *ring, void *const *items, size_t n);
size_t lfq__ring_pop_bulk(struct lfq_ring *ring, void **items, size_t n);
/* Back to empty and open, for reuse. Only while no other thread can reach the ring. */
void lfq__ring_reset(struct lfq_ring *ring);
size_t lfq__ring_size(const struct lfq_ring *ring);

/*
 * Shared rings (ring_shared.c): where the build has them, the public calls (ring.c) test
 * one flag of the ring they are given, and hand a process-local handle from
 * lfq_ring_shared_attach to these checked operations. Same results as the public calls,
 * plus -EBADMSG (include/lfq/ring.h); each bounded in steps whatever the region holds.
 */
#if LFQ_RING_CELLS && !defined(LFQ_TSAN)
#define LFQ__SHARED_RINGS 1
static inline bool lfq__ring_is_handle(const struct lfq_ring *r)
{
	return (r->flags & LFQ__RING_HANDLE) != 0;
}
int lfq__shared_push(struct lfq_ring *h, void *item);
int lfq__shared_pop(struct lfq_ring *h, void **item);
size_t lfq__shared_push_burst(struct lfq_ring *h, void *const *items, size_t n);
size_t lfq__shared_pop_burst(struct lfq_ring *h, void **items, size_t n);
int lfq__shared_push_wait(struct lfq_ring *h, void *item, int64_t timeout_ns);
int lfq__shared_pop_wait(struct lfq_ring *h, void **item, int64_t timeout_ns);
void lfq__shared_close(struct lfq_ring *h);
bool lfq__shared_closed(const struct lfq_ring *h);
size_t lfq__shared_size(const struct lfq_ring *h);
void lfq__shared_detach(struct lfq_ring *h);
#else
#define LFQ__SHARED_RINGS 0
static inline bool lfq__ring_is_handle(const struct lfq_ring *r)
{
	(void)r;
	return false;
}
#endif

#endif /* LFQ_RING_INTERNAL_H */
