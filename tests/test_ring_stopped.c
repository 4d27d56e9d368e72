/* SPDX-License-Identifier: MIT */
/*
 * What a thread stopped inside a push or a pop costs the others, measured strictly on small
 * rings (capacity 1 and 3): a victim thread is held at each point of its call where it may
 * hold something (the test points of the lfq_testing build), and meanwhile another thread
 * pushes until the ring says full and pops until it says empty.
 *
 * The cell ring promises that a stopped thread holds nothing: the others find exactly
 * capacity - (1 if the victim's own push already took effect, or its pop did not yet) items
 * of room, and pop exactly what is in. The portable backend promises less (docs/ring.md): the
 * victim holds one slot, so the others may find one slot less, and the victim's own item may
 * not be visible yet; it must never lose, duplicate or reorder an item. Both are checked as
 * promised, and after the victim resumes every item is accounted for exactly once.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <lfq/ring.h>

#include "testing.h"

#define ITEM(v) ((void *)(uintptr_t)(v))
#define VICTIM_ITEM ITEM(0xbeef)

static _Atomic int stop_at = -1;
static _Thread_local bool is_victim, stopped_once;
static sem_t stopped, resume;

static void hold_victim(int point)
{
	if (is_victim && !stopped_once && point == atomic_load(&stop_at)) {
		stopped_once = true;
		sem_post(&stopped);
		while (sem_wait(&resume) != 0)
			;
	}
}

struct victim {
	struct lfq_ring *r;
	bool pops;
	int rc;
	void *got;
};

static void *victim_main(void *arg)
{
	struct victim *v = arg;

	is_victim = true;
	v->rc = v->pops ? lfq_ring_pop(v->r, &v->got) : lfq_ring_push(v->r, VICTIM_ITEM);
	return NULL;
}

/* One victim held at point, on a ring of capacity cap. linearized: whether the victim's call
 * has taken effect at that point (its item is in / the item it pops is out); on the portable
 * backend holds_slot says it may keep one slot out of use. */
static void stop_and_check(int point, size_t cap, bool pops, bool linearized, bool holds_slot)
{
	struct lfq_ring *r;
	struct victim v = {.pops = pops};
	pthread_t t;
	void *it, *seen[8];
	size_t pushed = 0, npopped = 0, victim_item_seen = 0;

	cr_assert_eq(lfq_ring_create(&r, cap, 0), 0);
	v.r = r;
	if (pops)
		cr_assert_eq(lfq_ring_push(r, VICTIM_ITEM), 0); /* what the victim pops */
	atomic_store(&stop_at, point);
	cr_assert_eq(pthread_create(&t, NULL, victim_main, &v), 0);
	while (sem_wait(&stopped) != 0)
		;

	/* The victim's item is in the ring for the others if its push took effect, or its
	 * pop did not. */
	const bool victim_in = pops ? !linearized : linearized;

	while (pushed < 8 && lfq_ring_push(r, ITEM(pushed + 1)) == 0)
		pushed++;
	const size_t room = cap - (victim_in ? 1 : 0);

	if (holds_slot)
		cr_assert(pushed == room || pushed + 1 == room,
			  "point %d cap %zu: %zu pushed, room for %zu less at most one", point, cap,
			  pushed, room);
	else
		cr_assert_eq(pushed, room, "point %d cap %zu: a stopped thread held a slot", point,
			     cap);
	while (lfq_ring_pop(r, &it) == 0) {
		cr_assert_lt(npopped, 8);
		if (it == VICTIM_ITEM)
			victim_item_seen++;
		else
			seen[npopped++] = it;
	}
	cr_assert_eq(npopped, pushed, "point %d cap %zu: items lost or invented", point, cap);
	for (size_t i = 0; i < npopped; i++)
		cr_assert_eq(seen[i], ITEM(i + 1), "point %d cap %zu: out of order", point, cap);
	if (!holds_slot)
		cr_assert_eq(victim_item_seen, victim_in ? 1 : 0,
			     "point %d cap %zu: the victim's item is %s", point, cap,
			     victim_in ? "in but was not popped" : "out but was popped");
	else
		cr_assert_leq(victim_item_seen, victim_in ? 1 : 0);

	sem_post(&resume);
	cr_assert_eq(pthread_join(t, NULL), 0);
	atomic_store(&stop_at, -1);
	/* Accounted for exactly once: popped by the others, by the victim, or still in. */
	size_t left = 0;

	while (lfq_ring_pop(r, &it) == 0) {
		cr_assert_eq(it, VICTIM_ITEM, "point %d cap %zu: a popped item came back", point,
			     cap);
		left++;
	}
	const size_t victim_got = pops && v.rc == 0 && v.got == VICTIM_ITEM ? 1 : 0;
	const size_t victim_pushed = !pops && v.rc == 0 ? 1 : 0;

	if (pops)
		cr_assert_eq(victim_item_seen + left + victim_got, 1,
			     "point %d cap %zu: the item the victim popped", point, cap);
	else
		cr_assert_eq(victim_item_seen + left, victim_pushed,
			     "point %d cap %zu: the item the victim pushed", point, cap);
	lfq_ring_destroy(r);
}

Test(ring_stopped, a_stopped_thread_costs_what_the_backend_promises, .timeout = 120)
{
	cr_assert_eq(sem_init(&stopped, 0, 0), 0);
	cr_assert_eq(sem_init(&resume, 0, 0), 0);
	atomic_store(&lfq__test_hook, hold_victim);
	for (size_t cap = 1; cap <= 3; cap += 2) {
#if LFQ_RING_CELLS
		/* Before its CAS a call has done nothing; after it, everything. */
		stop_and_check(LFQ_TP_CELL_PUSH_READ, cap, false, false, false);
		stop_and_check(LFQ_TP_CELL_PUSH_DONE, cap, false, true, false);
		stop_and_check(LFQ_TP_CELL_POP_READ, cap, true, false, false);
		stop_and_check(LFQ_TP_CELL_POP_DONE, cap, true, true, false);
#else
		/* Push: from its free-slot ticket until its item's index is stored in aq, the
		 * victim holds a slot and its item is not visible; then it is. Pop: from its
		 * item ticket on, the item is the victim's, and its slot comes back only when the
		 * free-ring enqueue completes. */
		stop_and_check(LFQ_TP_FQ_DEQ_TICKET, cap, false, false, true);
		stop_and_check(LFQ_TP_PUSH_HAVE_SLOT, cap, false, false, true);
		stop_and_check(LFQ_TP_AQ_ENQ_TICKET, cap, false, false, true);
		stop_and_check(LFQ_TP_AQ_ENQ_STORED, cap, false, true, false);
		stop_and_check(LFQ_TP_AQ_DEQ_TICKET, cap, true, true, true);
		stop_and_check(LFQ_TP_POP_HAVE_SLOT, cap, true, true, true);
		stop_and_check(LFQ_TP_FQ_ENQ_TICKET, cap, true, true, true);
#endif
	}
	atomic_store(&lfq__test_hook, NULL);
}
