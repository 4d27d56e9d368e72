/* SPDX-License-Identifier: MIT */
/* ck_ring_peer: Concurrency Kit's ring, in its four modes, behind lfq's calling convention. */
#include "ck_ring_peer.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <ck_ring.h>

#define PEER_CACHELINE 64

struct ck_ring_peer {
	ck_ring_t ring; /* ck pads producer and consumer fields onto their own lines */
	ck_ring_buffer_t *buffer;
};

int ck_ring_peer_create(struct ck_ring_peer **out, size_t capacity)
{
	if (out == NULL || capacity < 1 || capacity > ((size_t)1 << 30))
		return -EINVAL;
	/* ck_ring_init wants a power of two of at least 4. */
	size_t size = 4;
	while (size < capacity)
		size <<= 1;

	/* aligned_alloc wants a size that is a multiple of the alignment. */
	const size_t bytes = (sizeof(struct ck_ring_peer) + PEER_CACHELINE - 1) / PEER_CACHELINE *
			     PEER_CACHELINE;
	struct ck_ring_peer *r = aligned_alloc(PEER_CACHELINE, bytes);
	if (r == NULL)
		return -ENOMEM;
	r->buffer = aligned_alloc(PEER_CACHELINE, size * sizeof(ck_ring_buffer_t));
	if (r->buffer == NULL) {
		free(r);
		return -ENOMEM;
	}
	ck_ring_init(&r->ring, (unsigned int)size);
	*out = r;
	return 0;
}

void ck_ring_peer_destroy(struct ck_ring_peer *r)
{
	if (r == NULL)
		return;
	free(r->buffer);
	free(r);
}

int ck_ring_peer_push(struct ck_ring_peer *r, void *item)
{
	return ck_ring_enqueue_mpmc(&r->ring, r->buffer, item) ? 0 : -EAGAIN;
}

int ck_ring_peer_pop(struct ck_ring_peer *r, void **item)
{
	return ck_ring_dequeue_mpmc(&r->ring, r->buffer, item) ? 0 : -EAGAIN;
}

size_t ck_ring_peer_push_burst(struct ck_ring_peer *r, void *const *items, size_t n)
{
	size_t i = 0;
	while (i < n && ck_ring_enqueue_mpmc(&r->ring, r->buffer, items[i]))
		i++;
	return i;
}

size_t ck_ring_peer_pop_burst(struct ck_ring_peer *r, void **items, size_t n)
{
	size_t i = 0;
	while (i < n && ck_ring_dequeue_mpmc(&r->ring, r->buffer, &items[i]))
		i++;
	return i;
}

int ck_ring_peer_push_spsc(struct ck_ring_peer *r, void *item)
{
	return ck_ring_enqueue_spsc(&r->ring, r->buffer, item) ? 0 : -EAGAIN;
}

int ck_ring_peer_pop_spsc(struct ck_ring_peer *r, void **item)
{
	return ck_ring_dequeue_spsc(&r->ring, r->buffer, item) ? 0 : -EAGAIN;
}

int ck_ring_peer_push_mpsc(struct ck_ring_peer *r, void *item)
{
	return ck_ring_enqueue_mpsc(&r->ring, r->buffer, item) ? 0 : -EAGAIN;
}

int ck_ring_peer_pop_mpsc(struct ck_ring_peer *r, void **item)
{
	return ck_ring_dequeue_mpsc(&r->ring, r->buffer, item) ? 0 : -EAGAIN;
}

int ck_ring_peer_push_spmc(struct ck_ring_peer *r, void *item)
{
	return ck_ring_enqueue_spmc(&r->ring, r->buffer, item) ? 0 : -EAGAIN;
}

int ck_ring_peer_pop_spmc(struct ck_ring_peer *r, void **item)
{
	return ck_ring_dequeue_spmc(&r->ring, r->buffer, item) ? 0 : -EAGAIN;
}
