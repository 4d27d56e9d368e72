/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the stress suites: sizes from the environment, item encoding with a
 * canary, exactly-once and per-producer-order checking, and a polite retry loop.
 */
#ifndef LFQ_TESTS_STRESS_UTIL_H
#define LFQ_TESTS_STRESS_UTIL_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* Items per producer: LFQ_STRESS_ITEMS (default given), scaled by LFQ_STRESS_SCALE (the
 * sanitizer builds run smaller). */
static inline size_t stress_items(size_t dflt)
{
	const char *s = getenv("LFQ_STRESS_ITEMS");
	const char *k = getenv("LFQ_STRESS_SCALE");
	double n = s ? strtod(s, NULL) : (double)dflt;

	if (k)
		n *= strtod(k, NULL);
	return n < 16 ? 16 : (size_t)n;
}

/* An item: canary in the top byte, producer in the next 12 bits, sequence (from 1) below. */
#define STRESS_CANARY ((uintptr_t)0x5a << 56)
#define STRESS_ITEM(p, seq) ((void *)(STRESS_CANARY | ((uintptr_t)(p) << 40) | (uintptr_t)(seq)))
#define STRESS_PROD(it) ((unsigned)(((uintptr_t)(it) >> 40) & 0xfff))
#define STRESS_SEQ(it) ((size_t)((uintptr_t)(it) & (((uintptr_t)1 << 40) - 1)))
#define STRESS_OK(it) (((uintptr_t)(it) & ((uintptr_t)0xff << 56)) == STRESS_CANARY)

/* Exactly-once ledger: one counter per (producer, sequence). */
struct ledger {
	unsigned producers;
	size_t per_producer;
	_Atomic unsigned char *seen;
};

static inline void ledger_init(struct ledger *l, unsigned producers, size_t per_producer)
{
	l->producers = producers;
	l->per_producer = per_producer;
	l->seen = calloc((size_t)producers * (per_producer + 1), 1);
	cr_assert_not_null(l->seen);
}

/* Records one popped item; checks its canary and that it was never seen before. */
static inline void ledger_record(struct ledger *l, void *it)
{
	cr_assert(STRESS_OK(it), "corrupted item %p", it);
	unsigned p = STRESS_PROD(it);
	size_t s = STRESS_SEQ(it);

	cr_assert(p < l->producers && s >= 1 && s <= l->per_producer, "bad item %p", it);
	unsigned char before = atomic_fetch_add_explicit(&l->seen[p * (l->per_producer + 1) + s], 1,
							 memory_order_relaxed);
	cr_assert_eq(before, 0, "item p%u s%zu delivered twice", p, s);
}

/* Number of distinct items seen; every one of them was seen exactly once. */
static inline size_t ledger_count(const struct ledger *l)
{
	size_t n = 0;

	for (size_t i = 0; i < (size_t)l->producers * (l->per_producer + 1); i++)
		n += atomic_load_explicit(&l->seen[i], memory_order_relaxed) != 0;
	return n;
}

static inline int ledger_has(const struct ledger *l, unsigned p, size_t s)
{
	return atomic_load_explicit(&l->seen[p * (l->per_producer + 1) + s],
				    memory_order_relaxed) != 0;
}

static inline void ledger_free(struct ledger *l)
{
	free((void *)l->seen);
}

/* Per-consumer order check: each producer's items must arrive in increasing order. */
struct order_check {
	size_t last[64];
};

static inline void order_record(struct order_check *o, void *it)
{
	unsigned p = STRESS_PROD(it);

	cr_assert(p < 64);
	cr_assert_gt(STRESS_SEQ(it), o->last[p], "producer %u: %zu after %zu", p, STRESS_SEQ(it),
		     o->last[p]);
	o->last[p] = STRESS_SEQ(it);
}

/* Backoff after a failed attempt: spin a little, then give the CPU away (threads outnumber
 * cores here on purpose). */
static inline void stress_backoff(unsigned *fails)
{
	if (++*fails < 32) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	} else {
		*fails = 0;
		sched_yield();
	}
}

#endif /* LFQ_TESTS_STRESS_UTIL_H */
