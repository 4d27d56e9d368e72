/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's retry timers: a binary min-heap of delayed jobs per worker (owned by that worker:
 * no atomics, no locks), and the backoff with full jitter.
 *
 * Labels of this file:
 *   T1  push/pop: store w->delayed   relaxed: a gauge for stats only; the heap itself is
 *                                    private to the worker (and to the joiner, after
 *                                    pthread_join, which orders everything)
 */
#include <stdint.h>
#include <stdlib.h>

#include "pool_internal.h"

static void set_gauge(struct lfq__pool_worker *w)
{
	/* T1: relaxed, see the table. */
	atomic_store_explicit(&w->delayed, w->nheap, memory_order_relaxed);
}

bool lfq__timer_push(struct lfq__pool_worker *w, int64_t due, const struct lfq__task *task)
{
	if (w->nheap == w->heap_cap) {
		/* Doubling must not wrap (a real risk with a 32-bit size_t): refuse instead,
		 * and the caller runs the retry at once rather than lose it. */
		if (w->heap_cap > SIZE_MAX / 2 / sizeof(struct lfq__timer))
			return false;
		const size_t cap = w->heap_cap ? 2 * w->heap_cap : 16;
		struct lfq__timer *h = realloc(w->heap, cap * sizeof(*h));

		if (!h)
			return false;
		w->heap = h;
		w->heap_cap = cap;
	}
	size_t i = w->nheap++;

	/* Sift up: earlier due times nearer the root; equal ones keep no particular order. */
	while (i > 0) {
		const size_t parent = (i - 1) / 2;

		if (w->heap[parent].due <= due)
			break;
		w->heap[i] = w->heap[parent];
		i = parent;
	}
	w->heap[i].due = due;
	w->heap[i].task = *task;
	set_gauge(w);
	return true;
}

void lfq__timer_pop(struct lfq__pool_worker *w, struct lfq__timer *out)
{
	*out = w->heap[0];
	const struct lfq__timer last = w->heap[--w->nheap];
	size_t i = 0;

	/* Sift the last entry down from the root. */
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= w->nheap)
			break;
		if (c + 1 < w->nheap && w->heap[c + 1].due < w->heap[c].due)
			c++;
		if (last.due <= w->heap[c].due)
			break;
		w->heap[i] = w->heap[c];
		i = c;
	}
	if (w->nheap > 0)
		w->heap[i] = last;
	set_gauge(w);
}

int64_t lfq__backoff_bound(int64_t base, int64_t cap, unsigned n)
{
	/* base * 2^(n-1), without overflowing: stop doubling once past cap. */
	if (n >= 1 && n - 1 < 62 && base <= (cap >> (n - 1)))
		return base << (n - 1);
	return cap;
}

int64_t lfq__backoff_ns(int64_t base, int64_t cap, unsigned n, uint64_t rnd)
{
	const int64_t bound = lfq__backoff_bound(base, cap, n);

	return bound <= 0 ? 0 : (int64_t)(rnd % ((uint64_t)bound + 1));
}

uint64_t lfq__splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
