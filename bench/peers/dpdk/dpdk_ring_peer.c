/* SPDX-License-Identifier: MIT */
/* dpdk_ring_peer: DPDK's rte_ring, initialised on our own memory, behind lfq's convention. */
/* ssize_t (rte_ring_get_memsize) is POSIX; DPDK's headers also use GNU extensions. */
#define _GNU_SOURCE
#include "dpdk_ring_peer.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <rte_ring.h>

int dpdk_ring_peer_create(struct dpdk_ring_peer **out, size_t capacity, int mode)
{
	static const unsigned int mode_flags[] = {
		[DPDK_RING_PEER_MPMC] = 0,
		[DPDK_RING_PEER_RTS] = RING_F_MP_RTS_ENQ | RING_F_MC_RTS_DEQ,
		[DPDK_RING_PEER_HTS] = RING_F_MP_HTS_ENQ | RING_F_MC_HTS_DEQ,
		[DPDK_RING_PEER_SPSC] = RING_F_SP_ENQ | RING_F_SC_DEQ,
	};
	if (out == NULL || capacity < 1 || capacity > ((size_t)1 << 30) || mode < 0 ||
	    (size_t)mode >= sizeof(mode_flags) / sizeof(mode_flags[0]))
		return -EINVAL;

	/* With RING_F_EXACT_SZ, rte_ring_init sizes the object table as the power of two
	 * above capacity (one slot tells full from empty): the memory must be for that. */
	unsigned int slots = 1;
	while (slots < capacity + 1)
		slots <<= 1;
	ssize_t bytes = rte_ring_get_memsize(slots);
	if (bytes < 0)
		return (int)bytes;
	/* aligned_alloc wants a size that is a multiple of the alignment. */
	size_t alloc = ((size_t)bytes + RTE_CACHE_LINE_SIZE - 1) / RTE_CACHE_LINE_SIZE *
		       RTE_CACHE_LINE_SIZE;
	struct rte_ring *r = aligned_alloc(RTE_CACHE_LINE_SIZE, alloc);
	if (r == NULL)
		return -ENOMEM;
	int err = rte_ring_init(r, "lfq_bench", (unsigned int)capacity,
				mode_flags[mode] | RING_F_EXACT_SZ);
	if (err != 0) {
		free(r);
		return err < 0 ? err : -EINVAL;
	}
	*out = (struct dpdk_ring_peer *)r;
	return 0;
}

void dpdk_ring_peer_destroy(struct dpdk_ring_peer *ring)
{
	free(ring);
}

int dpdk_ring_peer_push(struct dpdk_ring_peer *ring, void *item)
{
	return rte_ring_enqueue((struct rte_ring *)ring, item) == 0 ? 0 : -EAGAIN;
}

int dpdk_ring_peer_pop(struct dpdk_ring_peer *ring, void **item)
{
	return rte_ring_dequeue((struct rte_ring *)ring, item) == 0 ? 0 : -EAGAIN;
}

size_t dpdk_ring_peer_push_burst(struct dpdk_ring_peer *ring, void *const *items, size_t n)
{
	return rte_ring_enqueue_burst((struct rte_ring *)ring, items, (unsigned int)n, NULL);
}

size_t dpdk_ring_peer_pop_burst(struct dpdk_ring_peer *ring, void **items, size_t n)
{
	return rte_ring_dequeue_burst((struct rte_ring *)ring, items, (unsigned int)n, NULL);
}
