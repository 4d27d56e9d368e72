/* SPDX-License-Identifier: MIT */
/*
 * spin_ring: the bounded FIFO of mutex_ring under a test-and-test-and-set spinlock.
 * See spin_ring.h.
 *
 * Labels (acquire Ax pairs with release Rx):
 *   A1  lock:   exchange(locked, 1) acquire   pairs with R1 of the previous holder
 *   R1  unlock: store(locked, 0) release      publishes the ring fields written under the
 *                                             lock; pairs with A1 of the next holder
 * Every other field is accessed only with the lock held.
 */
/* POSIX.1-2008 for sched_yield under -std=c11. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "spin_ring.h"

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "baseline_arch.h"

#define SPIN_RING_CAPACITY_MAX ((size_t)1 << 31)

/* Spins on the lock word before yielding the CPU to the (possibly preempted) holder. */
#define SPIN_LOCK_SPINS_BEFORE_YIELD 128

struct spin_ring {
	/* The lock word alone on its line: waiters spin on it. */
	alignas(BASELINE_CACHE_LINE) atomic_bool locked;
	/* Fields guarded by the lock (written by producers and consumers alike). */
	alignas(BASELINE_CACHE_LINE) size_t capacity;
	size_t head;
	size_t tail;
	size_t count;
	void **slots;
};

static void spin_lock(struct spin_ring *r)
{
	unsigned spins = 0;

	/* A1: acquires the fields written by the previous holder; pairs with R1. */
	while (atomic_exchange_explicit(&r->locked, true, memory_order_acquire)) {
		/* Test before test-and-set: spin on a shared copy of the line instead of
		 * stealing it with an exchange. Relaxed: a hint only; A1 does the ordering. */
		while (atomic_load_explicit(&r->locked, memory_order_relaxed)) {
			if (++spins < SPIN_LOCK_SPINS_BEFORE_YIELD) {
				baseline_cpu_relax();
			} else {
				spins = 0;
				sched_yield();
			}
		}
	}
}

static void spin_unlock(struct spin_ring *r)
{
	/* R1: publishes the guarded fields to the next holder; pairs with A1. */
	atomic_store_explicit(&r->locked, false, memory_order_release);
}

int spin_ring_create(struct spin_ring **ring, size_t capacity)
{
	struct spin_ring *r;

	if (ring == NULL || capacity == 0 || capacity > SPIN_RING_CAPACITY_MAX)
		return -EINVAL;
	r = aligned_alloc(alignof(struct spin_ring), sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->slots = calloc(capacity, sizeof(r->slots[0]));
	if (r->slots == NULL) {
		free(r);
		return -ENOMEM;
	}
	atomic_init(&r->locked, false);
	r->capacity = capacity;
	*ring = r;
	return 0;
}

void spin_ring_destroy(struct spin_ring *ring)
{
	if (ring == NULL)
		return;
	free(ring->slots);
	free(ring);
}

size_t spin_ring_push_burst(struct spin_ring *ring, void *const *items, size_t n)
{
	size_t room, i;

	assert(ring != NULL && (items != NULL || n == 0));
	if (n == 0)
		return 0;
	spin_lock(ring);
	room = ring->capacity - ring->count;
	if (n > room)
		n = room;
	for (i = 0; i < n; i++) {
		ring->slots[ring->tail] = items[i];
		if (++ring->tail == ring->capacity)
			ring->tail = 0;
	}
	ring->count += n;
	spin_unlock(ring);
	return n;
}

size_t spin_ring_pop_burst(struct spin_ring *ring, void **items, size_t n)
{
	size_t i;

	assert(ring != NULL && (items != NULL || n == 0));
	if (n == 0)
		return 0;
	spin_lock(ring);
	if (n > ring->count)
		n = ring->count;
	for (i = 0; i < n; i++) {
		items[i] = ring->slots[ring->head];
		if (++ring->head == ring->capacity)
			ring->head = 0;
	}
	ring->count -= n;
	spin_unlock(ring);
	return n;
}

int spin_ring_push(struct spin_ring *ring, void *item)
{
	return spin_ring_push_burst(ring, &item, 1) == 1 ? 0 : -EAGAIN;
}

int spin_ring_pop(struct spin_ring *ring, void **item)
{
	assert(item != NULL);
	return spin_ring_pop_burst(ring, item, 1) == 1 ? 0 : -EAGAIN;
}
