/* SPDX-License-Identifier: MIT */
/*
 * The cell backend of lfq_ring (lib/ring_cells.h), at its test points: pushes and pops that
 * race with close and with the seal of the drained frontier, and hints left stale by a thread
 * stopped between its CAS and its hint store.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include <lfq/ring.h>

#include "ring_internal.h"
#include "testing.h"

#define ITEM(k) ((void *)(uintptr_t)(0xce110000u + (k)))

/* One parked thread per point: a thread marked with park_at stops at its first hit. */
static _Thread_local int park_at = -1;
static sem_t at_point[LFQ_TP_COUNT], go[LFQ_TP_COUNT];

static void hook(int point)
{
	if (point == park_at) {
		park_at = -1;
		sem_post(&at_point[point]);
		while (sem_wait(&go[point]) != 0)
			;
	}
}

struct call {
	struct lfq_ring *r;
	int point;
	void *item;
	int rc;
	pthread_t t;
};

static void *push_main(void *arg)
{
	struct call *c = arg;

	park_at = c->point;
	c->rc = lfq_ring_push(c->r, c->item);
	return NULL;
}

static void *pop_main(void *arg)
{
	struct call *c = arg;

	park_at = c->point;
	c->rc = lfq_ring_pop(c->r, &c->item);
	return NULL;
}

static void start(struct call *c, void *(*fn)(void *))
{
	cr_assert_eq(pthread_create(&c->t, NULL, fn, c), 0);
	while (sem_wait(&at_point[c->point]) != 0)
		;
}

static void release(struct call *c)
{
	sem_post(&go[c->point]);
	pthread_join(c->t, NULL);
}

static void setup(void)
{
	for (int i = 0; i < LFQ_TP_COUNT; i++) {
		sem_init(&at_point[i], 0, 0);
		sem_init(&go[i], 0, 0);
	}
	atomic_store(&lfq__test_hook, hook);
}

static void teardown(void)
{
	atomic_store(&lfq__test_hook, NULL);
	for (int i = 0; i < LFQ_TP_COUNT; i++) {
		sem_destroy(&at_point[i]);
		sem_destroy(&go[i]);
	}
}

/* A push that passed the closed check before close, and a pop that seals the empty ring:
 * the seal wins, the push fails and keeps its item. */
Test(ring_cells, push_racing_close_loses_to_the_seal, .timeout = 60)
{
	setup();
	struct lfq_ring *r;
	void *it;

	cr_assert_eq(lfq_ring_create(&r, 4, 0), 0);
	struct call push = {.r = r, .point = LFQ_TP_CELL_PUSH_READ, .item = ITEM(1)};

	start(&push, push_main);
	lfq_ring_close(r);
	cr_assert_eq(lfq_ring_pop(r, &it), -EPIPE, "closed empty ring not reported drained");
	release(&push);
	cr_assert_eq(push.rc, -EPIPE, "a push filled a sealed cell");
	cr_assert_eq(lfq_ring_pop(r, &it), -EPIPE);
	cr_assert_eq(lfq_ring_size(r), 0);
	lfq_ring_destroy(r);
	teardown();
}

/* The same race the other way round: the push fills the cell first, the sealing pop's CAS
 * fails and it returns the item instead; only then is the ring drained. */
Test(ring_cells, push_racing_close_that_wins_is_popped, .timeout = 60)
{
	setup();
	struct lfq_ring *r;
	void *it;

	cr_assert_eq(lfq_ring_create(&r, 4, 0), 0);
	struct call push = {.r = r, .point = LFQ_TP_CELL_PUSH_READ, .item = ITEM(2)};
	struct call pop = {.r = r, .point = LFQ_TP_CELL_POP_SEAL};

	start(&push, push_main);
	lfq_ring_close(r);
	start(&pop, pop_main);
	release(&push);
	cr_assert_eq(push.rc, 0);
	release(&pop);
	cr_assert_eq(pop.rc, 0, "the item of a push that beat the seal was lost");
	cr_assert_eq(pop.item, ITEM(2));
	cr_assert_eq(lfq_ring_pop(r, &it), -EPIPE);
	lfq_ring_destroy(r);
	teardown();
}

/* A pop stopped just before sealing holds nothing: others still get -EPIPE, pushes -EPIPE. */
Test(ring_cells, stopped_sealer_blocks_nobody, .timeout = 60)
{
	setup();
	struct lfq_ring *r;
	void *it;

	cr_assert_eq(lfq_ring_create(&r, 3, 0), 0);
	cr_assert_eq(lfq_ring_push(r, ITEM(3)), 0);
	lfq_ring_close(r);
	cr_assert_eq(lfq_ring_pop(r, &it), 0);
	cr_assert_eq(it, ITEM(3));
	struct call pop = {.r = r, .point = LFQ_TP_CELL_POP_SEAL};

	start(&pop, pop_main);
	cr_assert_eq(lfq_ring_push(r, ITEM(4)), -EPIPE);
	cr_assert_eq(lfq_ring_pop(r, &it), -EPIPE);
	release(&pop);
	cr_assert_eq(pop.rc, -EPIPE);
	lfq_ring_destroy(r);
	teardown();
}

/* Threads stopped between their CAS and their hint store, released after the others went
 * several laps: their stale stores move the hints back. Size stays exact, the ring keeps
 * working, and FIFO order holds. */
Test(ring_cells, stale_hint_stores_cost_nothing_but_a_scan, .timeout = 60)
{
	setup();
	struct lfq_ring *r;
	void *it;
	uintptr_t next_in = 100, next_out = 100;

	cr_assert_eq(lfq_ring_create(&r, 5, 0), 0);
	struct call push = {.r = r, .point = LFQ_TP_CELL_PUSH_DONE, .item = ITEM(0)};

	start(&push, push_main);
	struct call pop = {.r = r, .point = LFQ_TP_CELL_POP_DONE};

	start(&pop, pop_main);
	cr_assert_eq(pop.item, NULL); /* not returned yet */
	for (int lap = 0; lap < 7; lap++) {
		for (int i = 0; i < 5; i++)
			cr_assert_eq(lfq_ring_push(r, (void *)next_in++), 0);
		cr_assert_eq(lfq_ring_push(r, (void *)next_in), -EAGAIN);
		cr_assert_eq(lfq_ring_size(r), 5);
		for (int i = 0; i < 3; i++) {
			cr_assert_eq(lfq_ring_pop(r, &it), 0);
			cr_assert_eq(it, (void *)next_out++);
		}
		cr_assert_eq(lfq_ring_size(r), 2);
		for (int i = 0; i < 2; i++) {
			cr_assert_eq(lfq_ring_pop(r, &it), 0);
			cr_assert_eq(it, (void *)next_out++);
		}
	}
	cr_assert_eq(lfq_ring_push(r, (void *)next_in++), 0);
	cr_assert_eq(lfq_ring_push(r, (void *)next_in++), 0);
	release(&push);
	release(&pop);
	cr_assert_eq(push.rc, 0);
	cr_assert_eq(pop.rc, 0);
	cr_assert_eq(pop.item, ITEM(0), "the stopped pop consumed something else");
	cr_assert_eq(lfq_ring_size(r), 2, "size not exact after stale hint stores");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(lfq_ring_pop(r, &it), 0);
		cr_assert_eq(it, (void *)next_out++);
	}
	cr_assert_eq(lfq_ring_pop(r, &it), -EAGAIN);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(lfq_ring_push(r, (void *)next_in++), 0);
	cr_assert_eq(lfq_ring_push(r, (void *)next_in), -EAGAIN, "capacity changed");
	cr_assert_eq(lfq_ring_size(r), 5);
	lfq_ring_destroy(r);
	teardown();
}

#ifdef LFQ_RING_BLIND_PUSH
/* Every free cell of an empty ring holds item 0 and the sequence of its next position (I4),
 * whatever was pushed, NULL included, through the MPMC pops (B5) and the SC ones (B6 or B5). */
static void check_free_cells_hold_zero(struct lfq_ring *r, uint64_t next)
{
	for (uint64_t k = 0; k < r->capacity; k++) {
		const uint64_t p = next + k; /* capacity 4 = lap: positions are counts */
		struct lfq__cell *c = lfq__cell_at(r, p);

		cr_assert_eq(atomic_load(&c->seq), lfq__cell_seq(p, LFQ_CELL_FREE), "cell %llu",
			     (unsigned long long)(p % r->capacity));
		cr_assert_eq(atomic_load(&c->item), 0, "cell %llu holds an item after its pop",
			     (unsigned long long)(p % r->capacity));
	}
}

Test(ring_cells, blind_push_free_cells_hold_zero, .timeout = 60)
{
	const unsigned modes[] = {0, LFQ_RING_SC, LFQ_RING_SP, LFQ_RING_SP | LFQ_RING_SC};

	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct lfq_ring *r;
		uint64_t n = 0;

		cr_assert_eq(lfq_ring_create(&r, 4, modes[m]), 0);
		for (int lap = 0; lap < 5; lap++) {
			void *in[3] = {ITEM(lap), NULL, ITEM(100 + lap)}, *out[3];

			for (int i = 0; i < 3; i++)
				cr_assert_eq(lfq_ring_push(r, in[i]), 0);
			cr_assert_eq(lfq_ring_pop_burst(r, out, 3), 3);
			for (int i = 0; i < 3; i++)
				cr_assert_eq(out[i], in[i], "mode %u lap %d item %d", modes[m], lap,
					     i);
			n += 3;
			check_free_cells_hold_zero(r, n);
		}
		if (!(modes[m] & LFQ_RING_SP)) {
			/* Later laps: the checked pushes refreshed room from the head hint. */
			cr_assert_gt(atomic_load(&r->room), r->lap, "room never refreshed");
		}
		lfq_ring_destroy(r);
	}
}
#endif
