/* SPDX-License-Identifier: MIT */
/* lfq_pool's job queue: creation and teardown (the operations are inline in pool_slots.h). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool_slots.h"

#if LFQ_RING_CELLS

int lfq__slotq_init(struct lfq__slotq *q, size_t capacity, unsigned levels)
{
	memset(q, 0, sizeof(*q));
	q->levels = levels;
	q->capacity = capacity;
	if (lfq__ring_create(&q->free, capacity, 0) != 0)
		return -ENOMEM;
	for (unsigned l = 0; l < levels; l++)
		if (lfq__ring_create(&q->ready[l], capacity, 0) != 0)
			return -ENOMEM;
	/* Not shared yet: the pool is published to the workers by pthread_create. */
	for (size_t i = 0; i < capacity; i++)
		lfq__slotq_put_free(q, i);
	return 0;
}

void lfq__slotq_fini(struct lfq__slotq *q)
{
	if (q->free)
		lfq__ring_destroy(q->free);
	for (unsigned l = 0; l < LFQ_SLOTQ_LEVELS_MAX; l++)
		if (q->ready[l])
			lfq__ring_destroy(q->ready[l]);
}

#else

int lfq__slotq_init(struct lfq__slotq *q, size_t capacity, unsigned levels)
{
	unsigned order = 0;

	memset(q, 0, sizeof(*q));
	q->levels = levels;
	q->capacity = capacity;
	while (((size_t)1 << order) < capacity)
		order++;
	/* capacity <= 2^24 (lfq_pool_create checks it): no overflow even with 32-bit size_t. */
	const size_t ring_bytes = lfq__scq_entries(order) * sizeof(_Atomic uint64_t);
	const size_t bytes = (levels + 1) * ring_bytes;

	q->entries = aligned_alloc(LFQ_CACHE_LINE,
				   (bytes + LFQ_CACHE_LINE - 1) / LFQ_CACHE_LINE * LFQ_CACHE_LINE);
	if (!q->entries)
		return -ENOMEM;
	for (unsigned l = 0; l < levels; l++)
		lfq__scq_init(&q->ready[l],
			      (_Atomic uint64_t *)((char *)q->entries + (l + 1) * ring_bytes),
			      order, 0);
	lfq__scq_init(&q->free, (_Atomic uint64_t *)q->entries, order, capacity);
	return 0;
}

void lfq__slotq_fini(struct lfq__slotq *q)
{
	free(q->entries);
}

#endif
