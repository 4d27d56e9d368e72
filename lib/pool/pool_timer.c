/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's retry timers: one binary min-heap of delayed jobs for the pool, shared by the
 * workers under a mutex (a push when a run asks for a retry, a pop when one is due: never on
 * a submit, never per job otherwise), and the backoff with full jitter.
 *
 * Labels of this file (the readers are in pool_worker.c):
 *   T1  push/pop: store delayed     relaxed: a gauge for stats only
 *   T2  push/pop: store next_due    relaxed: written under the lock; read without it as a
 *                                   hint (is a timer pending, when is the earliest due). A
 *                                   stale read is corrected under the lock before a pop, and
 *                                   a push that makes the earliest due time earlier is followed
 *                                   by the T3 fence and a wake-up of a parked worker
 *                                   (pool_worker.c), which re-reads it after W2
 */
#include <stdint.h>
#include <stdlib.h>

#include "pool_internal.h"

int lfq__timers_init(struct lfq__timers *tm)
{
	tm->heap = NULL;
	tm->n = 0;
	tm->cap = 0;
	atomic_init(&tm->next_due, INT64_MAX);
	atomic_init(&tm->delayed, 0);
	return -pthread_mutex_init(&tm->lock, NULL);
}

void lfq__timers_fini(struct lfq__timers *tm)
{
	pthread_mutex_destroy(&tm->lock);
	free(tm->heap);
	tm->heap = NULL;
}

static void set_hints(struct lfq__timers *tm)
{
	/* T1, T2: relaxed, see the table. */
	atomic_store_explicit(&tm->delayed, tm->n, memory_order_relaxed);
	atomic_store_explicit(&tm->next_due, tm->n ? tm->heap[0].due : INT64_MAX,
			      memory_order_relaxed);
}

bool lfq__timer_push(struct lfq__timers *tm, int64_t due, const struct lfq__task *task)
{
	if (tm->n == tm->cap) {
		/* Doubling must not wrap (a real risk with a 32-bit size_t): refuse instead,
		 * and the caller runs the retry at once rather than lose it. */
		if (tm->cap > SIZE_MAX / 2 / sizeof(struct lfq__timer))
			return false;
		const size_t cap = tm->cap ? 2 * tm->cap : 16;
		struct lfq__timer *h = realloc(tm->heap, cap * sizeof(*h));

		if (!h)
			return false;
		tm->heap = h;
		tm->cap = cap;
	}
	size_t i = tm->n++;

	/* Sift up: earlier due times nearer the root; equal ones keep no particular order. */
	while (i > 0) {
		const size_t parent = (i - 1) / 2;

		if (tm->heap[parent].due <= due)
			break;
		tm->heap[i] = tm->heap[parent];
		i = parent;
	}
	tm->heap[i].due = due;
	tm->heap[i].task = *task;
	set_hints(tm);
	return true;
}

void lfq__timer_pop(struct lfq__timers *tm, struct lfq__timer *out)
{
	*out = tm->heap[0];
	const struct lfq__timer last = tm->heap[--tm->n];
	size_t i = 0;

	/* Sift the last entry down from the root. */
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= tm->n)
			break;
		if (c + 1 < tm->n && tm->heap[c + 1].due < tm->heap[c].due)
			c++;
		if (last.due <= tm->heap[c].due)
			break;
		tm->heap[i] = tm->heap[c];
		i = c;
	}
	if (tm->n > 0)
		tm->heap[i] = last;
	set_hints(tm);
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
