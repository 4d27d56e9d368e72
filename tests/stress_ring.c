/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring under MPMC stress: P producers x C consumers for P, C in {1, 2, 4, 8} on a
 * 2-core machine, mixing single and burst calls. Every item must be popped exactly once and
 * each consumer must see each producer's items in increasing order. The single-side modes
 * (LFQ_RING_SP / LFQ_RING_SC) run the same checks at their shapes, with the all-or-nothing
 * bulk calls mixed into their single side.
 */
#include <errno.h>

#include <lfq/ring.h>

#include "stress_util.h"

struct run {
	struct lfq_ring *ring;
	unsigned producers, consumers, flags;
	size_t per_producer, total;
	_Atomic size_t popped;
	struct ledger ledger;
	pthread_barrier_t start;
};

struct worker {
	struct run *run;
	unsigned id;
	pthread_t thread;
};

static void *producer(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	size_t seq = 1;
	unsigned fails = 0, rnd = w->id * 2654435761u + 1;
	void *batch[8];

	pthread_barrier_wait(&run->start);
	while (seq <= run->per_producer) {
		rnd = rnd * 1103515245u + 12345u;
		if (rnd & 0x10000) {
			if (lfq_ring_push(run->ring, STRESS_ITEM(w->id, seq)) == 0) {
				seq++;
				fails = 0;
			} else {
				stress_backoff(&fails);
			}
			continue;
		}
		size_t n = 1 + (rnd >> 20) % 8;

		if (n > run->per_producer - seq + 1)
			n = run->per_producer - seq + 1;
		for (size_t i = 0; i < n; i++)
			batch[i] = STRESS_ITEM(w->id, seq + i);
		size_t k;

		if ((run->flags & LFQ_RING_SP) && (rnd & 0x20000)) {
			k = lfq_ring_push_bulk(run->ring, batch, n, NULL);
			cr_assert(k == 0 || k == n, "bulk push of %zu pushed %zu", n, k);
		} else {
			k = lfq_ring_push_burst(run->ring, batch, n);
		}

		seq += k;
		if (k == 0)
			stress_backoff(&fails);
		else
			fails = 0;
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	struct order_check order = {{0}};
	unsigned fails = 0, rnd = w->id * 40503u + 7;
	void *batch[8];

	pthread_barrier_wait(&run->start);
	while (atomic_load_explicit(&run->popped, memory_order_relaxed) < run->total) {
		size_t got;

		rnd = rnd * 1103515245u + 12345u;
		if (rnd & 0x10000)
			got = lfq_ring_pop(run->ring, &batch[0]) == 0;
		else if ((run->flags & LFQ_RING_SC) && (rnd & 0x20000)) {
			const size_t n = 1 + (rnd >> 20) % 8;
			size_t left = SIZE_MAX;

			got = lfq_ring_pop_bulk(run->ring, batch, n, &left);
			cr_assert(got == 0 || got == n, "bulk pop of %zu popped %zu", n, got);
			cr_assert_leq(left, lfq_ring_capacity(run->ring));
		} else {
			got = lfq_ring_pop_burst(run->ring, batch, 1 + (rnd >> 20) % 8);
		}
		if (got == 0) {
			stress_backoff(&fails);
			continue;
		}
		fails = 0;
		for (size_t i = 0; i < got; i++) {
			ledger_record(&run->ledger, batch[i]);
			order_record(&order, batch[i]);
		}
		atomic_fetch_add_explicit(&run->popped, got, memory_order_relaxed);
	}
	return NULL;
}

static void stress_mode(unsigned producers, unsigned consumers, size_t capacity, unsigned flags)
{
	struct run run = {.producers = producers, .consumers = consumers, .flags = flags};
	struct worker w[16];

	run.per_producer = stress_items(200000) / producers;
	run.total = run.per_producer * producers;
	cr_assert_eq(lfq_ring_create(&run.ring, capacity, flags), 0);
	ledger_init(&run.ledger, producers, run.per_producer);
	pthread_barrier_init(&run.start, NULL, producers + consumers);
	for (unsigned i = 0; i < producers + consumers; i++) {
		w[i] = (struct worker){.run = &run, .id = i < producers ? i : i - producers};
		cr_assert_eq(pthread_create(&w[i].thread, NULL, i < producers ? producer : consumer,
					    &w[i]),
			     0);
	}
	for (unsigned i = 0; i < producers + consumers; i++)
		pthread_join(w[i].thread, NULL);
	cr_assert_eq(atomic_load(&run.popped), run.total);
	cr_assert_eq(ledger_count(&run.ledger), run.total, "items lost");
	void *extra;

	cr_assert_eq(lfq_ring_pop(run.ring, &extra), -EAGAIN, "item appeared from nowhere");
	cr_assert_eq(lfq_ring_size(run.ring), 0);
	ledger_free(&run.ledger);
	pthread_barrier_destroy(&run.start);
	lfq_ring_destroy(run.ring);
}

static void stress(unsigned producers, unsigned consumers, size_t capacity)
{
	stress_mode(producers, consumers, capacity, LFQ_RING_FLAGS_NONE);
}

#define STRESS(p, c)                                                                               \
	Test(stress_ring, mpmc_##p##p##c##c, .timeout = 240)                                       \
	{                                                                                          \
		stress(p, c, 64);                                                                  \
		stress(p, c, 3);                                                                   \
	}

STRESS(1, 1)
STRESS(1, 2)
STRESS(1, 4)
STRESS(1, 8)
STRESS(2, 1)
STRESS(2, 2)
STRESS(2, 4)
STRESS(2, 8)
STRESS(4, 1)
STRESS(4, 2)
STRESS(4, 4)
STRESS(4, 8)
STRESS(8, 1)
STRESS(8, 2)
STRESS(8, 4)
STRESS(8, 8)

/* The single-side modes: one thread on the single side, oversubscribed on the other. */
#define STRESS_MODE(name, p, c, flags)                                                             \
	Test(stress_ring, name##_##p##p##c##c, .timeout = 240)                                     \
	{                                                                                          \
		stress_mode(p, c, 64, flags);                                                      \
		stress_mode(p, c, 3, flags);                                                       \
		stress_mode(p, c, 1, flags);                                                       \
	}

STRESS_MODE(spsc, 1, 1, LFQ_RING_SP | LFQ_RING_SC)
STRESS_MODE(mpsc, 4, 1, LFQ_RING_SC)
STRESS_MODE(mpsc, 8, 1, LFQ_RING_SC)
STRESS_MODE(spmc, 1, 4, LFQ_RING_SP)
STRESS_MODE(spmc, 1, 8, LFQ_RING_SP)
