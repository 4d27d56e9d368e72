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
/* All or nothing (include/lfq/ring.h): n or 0; only on an SP (push) or SC (pop) ring of the
 * cell backend, else 0. No wake-ups (ring.c makes them). */
size_t lfq__ring_push_bulk(struct lfq_ring *ring, void *const *items, size_t n);
size_t lfq__ring_pop_bulk(struct lfq_ring *ring, void **items, size_t n);
/* Back to empty and open, for reuse. Only while no other thread can reach the ring. */
void lfq__ring_reset(struct lfq_ring *ring);
size_t lfq__ring_size(const struct lfq_ring *ring);

#endif /* LFQ_RING_INTERNAL_H */
