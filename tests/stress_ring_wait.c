/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring blocking calls and close under stress, more threads than cores:
 *  - close/drain race: producers pushing (plain, burst and wait) when close lands; every
 *    item whose push reported success is popped exactly once, EPIPE is final, every thread
 *    returns; with one consumer, its EPIPE means nothing accepted was left behind.
 *  - no lost wake-up: only wait calls, capacities 1 and 2, hundreds of thousands of
 *    hand-offs; a lost wake-up hangs the test (and fails it by timeout).
 *  - timed waits: the same with short, varied timeouts (which keep every thread's adaptive
 *    spin budget moving between its bounds): no -ETIMEDOUT before its deadline, no item
 *    lost or doubled.
 */
#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include <lfq/ring.h>

#include "stress_util.h"

struct race {
	struct lfq_ring *ring;
	unsigned producers;
	size_t per_producer;
	struct ledger delivered;
	_Atomic size_t accepted, popped;
	_Atomic bool *accepted_flags; /* per (producer, seq): its push returned 0 */
};

struct worker {
	struct race *race;
	unsigned id;
	pthread_t thread;
	size_t got;
};

static void mark_accepted(struct race *r, unsigned p, size_t seq)
{
	atomic_store_explicit(&r->accepted_flags[p * (r->per_producer + 1) + seq], true,
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&r->accepted, 1, memory_order_relaxed);
}

static void *race_producer(void *arg)
{
	struct worker *w = arg;
	struct race *r = w->race;
	unsigned rnd = w->id * 2654435761u + 3;
	void *batch[4];

	for (size_t seq = 1; seq <= r->per_producer;) {
		int rc;

		rnd = rnd * 1103515245u + 12345u;
		switch ((rnd >> 16) % 3) {
		case 0:
			rc = lfq_ring_push(r->ring, STRESS_ITEM(w->id, seq));
			break;
		case 1:
			rc = lfq_ring_push_wait(r->ring, STRESS_ITEM(w->id, seq),
						(rnd & 1) ? -1 : 100000);
			break;
		default: {
			size_t n = r->per_producer - seq + 1 < 4 ? r->per_producer - seq + 1 : 4;

			for (size_t i = 0; i < n; i++)
				batch[i] = STRESS_ITEM(w->id, seq + i);
			size_t k = lfq_ring_push_burst(r->ring, batch, n);

			for (size_t i = 0; i < k; i++)
				mark_accepted(r, w->id, seq + i);
			seq += k;
			if (k == n)
				continue;
			rc = lfq_ring_is_closed(r->ring) ? -EPIPE : -EAGAIN;
			break;
		}
		}
		if (rc == 0) {
			mark_accepted(r, w->id, seq);
			seq++;
		} else if (rc == -EPIPE) {
			cr_assert(lfq_ring_is_closed(r->ring));
			break;
		} else {
			cr_assert(rc == -EAGAIN || rc == -ETIMEDOUT, "push rc %d", rc);
			sched_yield();
		}
	}
	return NULL;
}

static void *race_consumer(void *arg)
{
	struct worker *w = arg;
	struct race *r = w->race;
	struct order_check order = {{0}};
	void *it;
	int rc;

	while ((rc = lfq_ring_pop_wait(r->ring, &it, -1)) == 0) {
		ledger_record(&r->delivered, it);
		order_record(&order, it);
		atomic_fetch_add_explicit(&r->popped, 1, memory_order_relaxed);
		w->got++;
	}
	cr_assert_eq(rc, -EPIPE);
	/* EPIPE is final. */
	cr_assert_eq(lfq_ring_pop(r->ring, &it), -EPIPE);
	cr_assert_eq(lfq_ring_pop_wait(r->ring, &it, 1000), -EPIPE);
	return NULL;
}

static void close_drain_race_mode(unsigned producers, unsigned consumers, size_t capacity,
				  unsigned flags)
{
	struct race r = {.producers = producers};
	struct worker prod[8], cons[8];

	r.per_producer = stress_items(100000) / producers;
	cr_assert_eq(lfq_ring_create(&r.ring, capacity, flags), 0);
	ledger_init(&r.delivered, producers, r.per_producer);
	r.accepted_flags = calloc((size_t)producers * (r.per_producer + 1), sizeof(_Atomic bool));
	cr_assert_not_null(r.accepted_flags);
	for (unsigned i = 0; i < consumers; i++) {
		cons[i] = (struct worker){.race = &r, .id = i};
		cr_assert_eq(pthread_create(&cons[i].thread, NULL, race_consumer, &cons[i]), 0);
	}
	for (unsigned i = 0; i < producers; i++) {
		prod[i] = (struct worker){.race = &r, .id = i};
		cr_assert_eq(pthread_create(&prod[i].thread, NULL, race_producer, &prod[i]), 0);
	}
	/* Close in the middle of the traffic. */
	while (atomic_load(&r.popped) < r.per_producer * producers / 3)
		sched_yield();
	lfq_ring_close(r.ring);
	for (unsigned i = 0; i < producers; i++)
		pthread_join(prod[i].thread, NULL);
	for (unsigned i = 0; i < consumers; i++)
		pthread_join(cons[i].thread, NULL);

	/* Exactly the accepted items were delivered, each once (the ledger refuses repeats). */
	size_t accepted = atomic_load(&r.accepted);

	cr_assert_eq(ledger_count(&r.delivered), accepted, "accepted %zu, delivered %zu", accepted,
		     ledger_count(&r.delivered));
	for (unsigned p = 0; p < producers; p++)
		for (size_t s = 1; s <= r.per_producer; s++)
			cr_assert_eq(ledger_has(&r.delivered, p, s),
				     atomic_load(&r.accepted_flags[p * (r.per_producer + 1) + s]),
				     "p%u s%zu: accepted and delivered disagree", p, s);
	cr_assert_lt(accepted, r.per_producer * producers, "close landed after all pushes");
	void *it;

	cr_assert_eq(lfq_ring_pop(r.ring, &it), -EPIPE);
	free((void *)r.accepted_flags);
	ledger_free(&r.delivered);
	lfq_ring_destroy(r.ring);
}

static void close_drain_race(unsigned producers, unsigned consumers, size_t capacity)
{
	close_drain_race_mode(producers, consumers, capacity, LFQ_RING_FLAGS_NONE);
}

/* The single-side modes: the seal still decides every push that races the close. */
Test(stress_ring_wait, close_drain_race_modes, .timeout = 300)
{
	close_drain_race_mode(1, 1, 3, LFQ_RING_SP | LFQ_RING_SC);
	close_drain_race_mode(1, 1, 64, LFQ_RING_SP | LFQ_RING_SC);
	close_drain_race_mode(4, 1, 3, LFQ_RING_SC);
	close_drain_race_mode(1, 4, 3, LFQ_RING_SP);
}

Test(stress_ring_wait, close_drain_race_4p4c, .timeout = 300)
{
	close_drain_race(4, 4, 64);
	close_drain_race(4, 4, 3);
}

/* With a single consumer, its EPIPE (after which it stops) must leave nothing accepted. */
Test(stress_ring_wait, close_drain_race_8p1c, .timeout = 300)
{
	close_drain_race(8, 1, 16);
}

struct handoff {
	struct lfq_ring *ring;
	size_t per_producer;
	struct ledger ledger;
};

static void *handoff_producer(void *arg)
{
	struct worker *w = arg;
	struct handoff *h = (struct handoff *)w->race;

	for (size_t seq = 1; seq <= h->per_producer; seq++)
		cr_assert_eq(lfq_ring_push_wait(h->ring, STRESS_ITEM(w->id, seq), -1), 0);
	return NULL;
}

static void *handoff_consumer(void *arg)
{
	struct worker *w = arg;
	struct handoff *h = (struct handoff *)w->race;
	struct order_check order = {{0}};
	void *it;
	int rc;

	while ((rc = lfq_ring_pop_wait(h->ring, &it, -1)) == 0) {
		ledger_record(&h->ledger, it);
		order_record(&order, it);
	}
	cr_assert_eq(rc, -EPIPE);
	return NULL;
}

static void no_lost_wakeup_mode(unsigned producers, unsigned consumers, size_t capacity,
				unsigned flags)
{
	struct handoff h;
	struct worker prod[8], cons[8];

	h.per_producer = stress_items(300000) / producers;
	cr_assert_eq(lfq_ring_create(&h.ring, capacity, flags), 0);
	ledger_init(&h.ledger, producers, h.per_producer);
	for (unsigned i = 0; i < consumers; i++) {
		cons[i] = (struct worker){.race = (struct race *)&h, .id = i};
		cr_assert_eq(pthread_create(&cons[i].thread, NULL, handoff_consumer, &cons[i]), 0);
	}
	for (unsigned i = 0; i < producers; i++) {
		prod[i] = (struct worker){.race = (struct race *)&h, .id = i};
		cr_assert_eq(pthread_create(&prod[i].thread, NULL, handoff_producer, &prod[i]), 0);
	}
	for (unsigned i = 0; i < producers; i++)
		pthread_join(prod[i].thread, NULL);
	lfq_ring_close(h.ring);
	for (unsigned i = 0; i < consumers; i++)
		pthread_join(cons[i].thread, NULL);
	cr_assert_eq(ledger_count(&h.ledger), h.per_producer * producers);
	ledger_free(&h.ledger);
	lfq_ring_destroy(h.ring);
}

static void no_lost_wakeup(unsigned producers, unsigned consumers, size_t capacity)
{
	no_lost_wakeup_mode(producers, consumers, capacity, LFQ_RING_FLAGS_NONE);
}

/* The single consumer frees cells with a release store; push_wait sleepers rely on the
 * asymmetric fence (waitq.h, W2a) instead of a seq_cst publish. */
Test(stress_ring_wait, no_lost_wakeup_modes, .timeout = 300)
{
	no_lost_wakeup_mode(1, 1, 1, LFQ_RING_SP | LFQ_RING_SC);
	no_lost_wakeup_mode(3, 1, 1, LFQ_RING_SC);
	no_lost_wakeup_mode(1, 3, 1, LFQ_RING_SP);
}

Test(stress_ring_wait, no_lost_wakeup_capacity_1, .timeout = 300)
{
	no_lost_wakeup(3, 3, 1);
}

Test(stress_ring_wait, no_lost_wakeup_capacity_2, .timeout = 300)
{
	no_lost_wakeup(2, 4, 2);
}

Test(stress_ring_wait, no_lost_wakeup_ping_pong_1p1c, .timeout = 300)
{
	no_lost_wakeup(1, 1, 1);
}

/* Timed hand-offs: every wait has a timeout between 1 us and ~4 ms, retried on -ETIMEDOUT. */
struct timed {
	struct lfq_ring *ring;
	size_t per_producer;
	struct ledger ledger;
	_Atomic unsigned producers_left;
	_Atomic size_t early; /* -ETIMEDOUT returned before its deadline */
	_Atomic size_t timeouts;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t next_timeout(unsigned *rnd)
{
	*rnd = *rnd * 1103515245u + 12345u;
	return 1000 << ((*rnd >> 16) % 13); /* 1 us .. 4 ms */
}

static void timed_result(struct timed *t, int rc, int64_t start, int64_t timeout)
{
	if (rc != -ETIMEDOUT)
		return;
	atomic_fetch_add_explicit(&t->timeouts, 1, memory_order_relaxed);
	if (mono_ns() < start + timeout)
		atomic_fetch_add_explicit(&t->early, 1, memory_order_relaxed);
}

static void *timed_producer(void *arg)
{
	struct worker *w = arg;
	struct timed *t = (struct timed *)w->race;
	unsigned rnd = w->id * 2654435761u + 7;

	for (size_t seq = 1; seq <= t->per_producer;) {
		const int64_t timeout = next_timeout(&rnd), start = mono_ns();
		const int rc = lfq_ring_push_wait(t->ring, STRESS_ITEM(w->id, seq), timeout);

		timed_result(t, rc, start, timeout);
		if (rc == 0)
			seq++;
		else
			cr_assert_eq(rc, -ETIMEDOUT);
	}
	if (atomic_fetch_sub_explicit(&t->producers_left, 1, memory_order_acq_rel) == 1)
		lfq_ring_close(t->ring);
	return NULL;
}

static void *timed_consumer(void *arg)
{
	struct worker *w = arg;
	struct timed *t = (struct timed *)w->race;
	struct order_check order = {{0}};
	unsigned rnd = w->id * 2246822519u + 11;
	void *it;

	for (;;) {
		const int64_t timeout = next_timeout(&rnd), start = mono_ns();
		const int rc = lfq_ring_pop_wait(t->ring, &it, timeout);

		timed_result(t, rc, start, timeout);
		if (rc == -EPIPE)
			return NULL;
		if (rc == 0) {
			ledger_record(&t->ledger, it);
			order_record(&order, it);
		} else {
			cr_assert_eq(rc, -ETIMEDOUT);
		}
	}
}

static void timed_handoffs(unsigned producers, unsigned consumers, size_t capacity)
{
	struct timed t = {.producers_left = producers};
	struct worker prod[8], cons[8];

	t.per_producer = stress_items(100000) / producers;
	cr_assert_eq(lfq_ring_create(&t.ring, capacity, 0), 0);
	ledger_init(&t.ledger, producers, t.per_producer);
	for (unsigned i = 0; i < consumers; i++) {
		cons[i] = (struct worker){.race = (struct race *)&t, .id = i};
		cr_assert_eq(pthread_create(&cons[i].thread, NULL, timed_consumer, &cons[i]), 0);
	}
	for (unsigned i = 0; i < producers; i++) {
		prod[i] = (struct worker){.race = (struct race *)&t, .id = i};
		cr_assert_eq(pthread_create(&prod[i].thread, NULL, timed_producer, &prod[i]), 0);
	}
	for (unsigned i = 0; i < producers; i++)
		pthread_join(prod[i].thread, NULL);
	for (unsigned i = 0; i < consumers; i++)
		pthread_join(cons[i].thread, NULL);
	cr_assert_eq(ledger_count(&t.ledger), t.per_producer * producers);
	cr_assert_eq(atomic_load(&t.early), 0, "%zu of %zu timeouts came early",
		     atomic_load(&t.early), atomic_load(&t.timeouts));
	ledger_free(&t.ledger);
	lfq_ring_destroy(t.ring);
}

Test(stress_ring_wait, timed_handoffs_6p6c_capacity_2, .timeout = 300)
{
	timed_handoffs(6, 6, 2);
}

Test(stress_ring_wait, timed_handoffs_1p1c_capacity_1, .timeout = 300)
{
	timed_handoffs(1, 1, 1);
}
