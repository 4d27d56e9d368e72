/* SPDX-License-Identifier: MIT */
/*
 * Lock-freedom: one thread is parked forever at an interesting instant inside a push or a
 * pop (test hooks of the lfq_testing build); 4 producers and 4 consumers on 2 cores must
 * still complete all their operations, and only the parked thread's own item may be missing.
 *
 * Progress is watched, not timed: the harness declares a stall only when no operation at
 * all completed for STALL_SECONDS while work remained. The same harness run on the
 * Vyukov-style baseline ring, with a producer parked between claiming and publishing its
 * slot, must report a stall: that proves the harness can tell the two designs apart.
 */
#include <errno.h>
#include <semaphore.h>
#include <stdbool.h>
#include <time.h>

#include <lfq/ring.h>

#include "stress_util.h"
#include "testing.h"
#include "vyukov_ring.h"

#define PRODUCERS 4
#define CONSUMERS 4
#define STALL_SECONDS 5
#define VICTIM_ITEM ((void *)(uintptr_t)0xfeedface)

struct impl {
	int (*push)(void *q, void *item);
	int (*pop)(void *q, void **item);
	void *q;
};

static int lfq_push(void *q, void *item)
{
	return lfq_ring_push(q, item);
}

static int lfq_pop(void *q, void **item)
{
	return lfq_ring_pop(q, item);
}

static int vy_push(void *q, void *item)
{
	return vyukov_ring_push(q, item);
}

static int vy_pop(void *q, void **item)
{
	return vyukov_ring_pop(q, item);
}

/* The victim: the one thread that parks. */
static _Atomic int park_point = -1;
static _Thread_local bool is_victim;
static _Thread_local bool victim_parked;
static sem_t parked_sem, release_sem;

static void park_hook(int point)
{
	if (is_victim && !victim_parked && point == atomic_load(&park_point)) {
		victim_parked = true;
		sem_post(&parked_sem);
		while (sem_wait(&release_sem) != 0)
			;
	}
}

struct harness {
	struct impl impl;
	size_t per_producer;
	struct ledger ledger;
	_Atomic size_t progress; /* completed operations, all threads */
	_Atomic bool producers_done, abort_run;
	bool victim_pops;
	void *victim_got;
	int victim_rc;
};

static void *victim_main(void *arg)
{
	struct harness *h = arg;

	is_victim = true;
	if (h->victim_pops)
		h->victim_rc = h->impl.pop(h->impl.q, &h->victim_got);
	else
		h->victim_rc = h->impl.push(h->impl.q, VICTIM_ITEM);
	return NULL;
}

struct worker {
	struct harness *h;
	unsigned id;
	pthread_t thread;
};

static void *producer_main(void *arg)
{
	struct worker *w = arg;
	struct harness *h = w->h;
	unsigned fails = 0;

	for (size_t seq = 1; seq <= h->per_producer && !atomic_load(&h->abort_run);) {
		if (h->impl.push(h->impl.q, STRESS_ITEM(w->id, seq)) == 0) {
			seq++;
			atomic_fetch_add_explicit(&h->progress, 1, memory_order_relaxed);
		} else {
			stress_backoff(&fails);
		}
	}
	return NULL;
}

static void take(struct harness *h, struct order_check *order, void *it)
{
	if (it == VICTIM_ITEM) {
		cr_assert_null(h->victim_got, "victim item delivered twice");
		h->victim_got = it;
		return;
	}
	ledger_record(&h->ledger, it);
	order_record(order, it);
}

static void *consumer_main(void *arg)
{
	struct worker *w = arg;
	struct harness *h = w->h;
	struct order_check order = {{0}};
	unsigned fails = 0;
	void *it;

	while (!atomic_load(&h->abort_run)) {
		if (h->impl.pop(h->impl.q, &it) == 0) {
			take(h, &order, it);
			atomic_fetch_add_explicit(&h->progress, 1, memory_order_relaxed);
			continue;
		}
		if (atomic_load(&h->producers_done))
			break; /* the main thread drains what is left */
		stress_backoff(&fails);
	}
	return NULL;
}

/* Runs the workload with a victim parked at `point`. Returns true if every producer and
 * consumer finished, false if progress stopped for STALL_SECONDS. */
static bool run_with_parked_thread(struct harness *h, int point, bool victim_pops)
{
	pthread_t victim;
	struct worker prod[PRODUCERS], cons[CONSUMERS];
	struct timespec ts;

	h->per_producer = stress_items(40000) / PRODUCERS;
	h->victim_pops = victim_pops;
	ledger_init(&h->ledger, PRODUCERS, h->per_producer);
	sem_init(&parked_sem, 0, 0);
	sem_init(&release_sem, 0, 0);
	atomic_store(&park_point, point);
	if (victim_pops) /* the victim needs an item to be parked with */
		cr_assert_eq(h->impl.push(h->impl.q, VICTIM_ITEM), 0);
	cr_assert_eq(pthread_create(&victim, NULL, victim_main, h), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	cr_assert_eq(sem_timedwait(&parked_sem, &ts), 0, "victim never reached point %d", point);

	for (unsigned i = 0; i < PRODUCERS; i++) {
		prod[i] = (struct worker){.h = h, .id = i};
		cr_assert_eq(pthread_create(&prod[i].thread, NULL, producer_main, &prod[i]), 0);
	}
	for (unsigned i = 0; i < CONSUMERS; i++) {
		cons[i] = (struct worker){.h = h, .id = i};
		cr_assert_eq(pthread_create(&cons[i].thread, NULL, consumer_main, &cons[i]), 0);
	}

	/* Watch progress until the producers are done and the ring is drained. */
	const size_t target = h->per_producer * PRODUCERS;
	size_t last = (size_t)-1;
	unsigned idle_ticks = 0;
	bool finished = false;

	for (;;) {
		struct timespec tick = {0, 10 * 1000 * 1000};
		size_t now = atomic_load(&h->progress);

		if (now >= 2 * target) {
			finished = true;
			break;
		}
		if (now != last) {
			last = now;
			idle_ticks = 0;
		} else if (++idle_ticks > STALL_SECONDS * 100) {
			break;
		}
		nanosleep(&tick, NULL);
	}
	/* The verdict is in; now let everyone finish, the victim too (a thread stuck inside a
	 * stalled ring's pop only returns once the victim publishes its slot). */
	atomic_store(&h->producers_done, true);
	if (!finished)
		atomic_store(&h->abort_run, true);
	sem_post(&release_sem);
	for (unsigned i = 0; i < PRODUCERS; i++)
		pthread_join(prod[i].thread, NULL);
	for (unsigned i = 0; i < CONSUMERS; i++)
		pthread_join(cons[i].thread, NULL);
	pthread_join(victim, NULL);
	atomic_store(&park_point, -1);
	sem_destroy(&parked_sem);
	sem_destroy(&release_sem);
	return finished;
}

/* Everything but the victim's item arrived exactly once, in per-producer order. */
static void check_all_delivered(struct harness *h)
{
	struct order_check order = {{0}};
	void *it;

	/* Quiescent now: the consumers left the last items (and maybe the victim's) to us. */
	while (h->impl.pop(h->impl.q, &it) == 0)
		take(h, &order, it);
	cr_assert_eq(ledger_count(&h->ledger), h->per_producer * PRODUCERS, "items lost");
	if (!h->victim_pops)
		cr_assert(h->victim_rc == 0 || h->victim_rc == -EAGAIN);
	ledger_free(&h->ledger);
}

static void lfq_parked_at(int point, bool victim_pops)
{
	struct lfq_ring *r;
	struct harness h = {0};

	cr_assert_eq(lfq_ring_create(&r, 8, 0), 0);
	h.impl = (struct impl){lfq_push, lfq_pop, r};
	atomic_store(&lfq__test_hook, park_hook);
	bool finished = run_with_parked_thread(&h, point, victim_pops);

	atomic_store(&lfq__test_hook, NULL);
	cr_assert(finished, "lfq_ring stalled with a thread parked at point %d", point);
	check_all_delivered(&h);
	lfq_ring_destroy(r);
}

#define PARKED(name, point, pops)                                                                  \
	Test(lockfree, ring_completes_with_thread_parked_##name, .timeout = 120)                   \
	{                                                                                          \
		lfq_parked_at(point, pops);                                                        \
	}

PARKED(push_after_free_ticket, LFQ_TP_FQ_DEQ_TICKET, false)
PARKED(push_holding_free_slot, LFQ_TP_PUSH_HAVE_SLOT, false)
PARKED(push_after_item_ticket, LFQ_TP_AQ_ENQ_TICKET, false)
PARKED(push_after_publishing, LFQ_TP_AQ_ENQ_STORED, false)
PARKED(pop_after_item_ticket, LFQ_TP_AQ_DEQ_TICKET, true)
PARKED(pop_holding_slot, LFQ_TP_POP_HAVE_SLOT, true)
PARKED(pop_after_free_ticket, LFQ_TP_FQ_ENQ_TICKET, true)

Test(lockfree, harness_detects_vyukov_ring_stall, .timeout = 120)
{
	struct vyukov_ring *r;
	struct harness h = {0};

	cr_assert_eq(vyukov_ring_create(&r, 8), 0);
	h.impl = (struct impl){vy_push, vy_pop, r};
	vyukov_ring_set_park_hook(park_hook);
	bool finished = run_with_parked_thread(&h, VYUKOV_RING_PARK_PUSH_CLAIMED, false);

	vyukov_ring_set_park_hook(NULL);
	cr_assert_not(finished, "a producer parked between claim and publish should stall the "
				"Vyukov ring's consumers");
	cr_assert_lt(ledger_count(&h.ledger), h.per_producer * PRODUCERS);
	ledger_free(&h.ledger);
	vyukov_ring_destroy(r);
}
