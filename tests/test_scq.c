/* SPDX-License-Identifier: MIT */
/*
 * SCQ index rings (lib/scq.h), as used by the portable ring backend, lfq_queue's segments on
 * that backend, and lfq_pool's job slots.
 *
 * The threshold wedge (review finding): a dequeuer whose ticket failed is delayed between
 * catching tail up and decrementing the threshold (D7); meanwhile an enqueuer publishes and
 * resets the threshold (E5); the late decrement lands after the reset. With 3 * half such
 * late decrements the threshold is negative with an index inside, and before the fix nothing
 * reset it: the index was stranded (every dequeue said empty) until the next enqueue.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <criterion/criterion.h>

#include "scq.h"
#include "testing.h"

/* Thread roles for the hook: the enqueuer parks after taking each ticket, each dequeuer
 * parks once, before its threshold decrement. */
enum role { ROLE_NONE, ROLE_ENQUEUER, ROLE_DEQUEUER };
static _Thread_local enum role role;
static _Thread_local bool dequeuer_parked;
static sem_t enq_at_ticket, enq_go;
static sem_t deq_at_d7, deq_go;

static void sem_wait_all(sem_t *s)
{
	while (sem_wait(s) != 0)
		;
}

static void hook(int point)
{
	if (role == ROLE_ENQUEUER && point == LFQ_TP_AQ_ENQ_TICKET) {
		sem_post(&enq_at_ticket);
		sem_wait_all(&enq_go);
	} else if (role == ROLE_DEQUEUER && point == LFQ_TP_SCQ_DEQ_FAILED && !dequeuer_parked) {
		dequeuer_parked = true;
		sem_post(&deq_at_d7);
		sem_wait_all(&deq_go);
	}
}

static struct lfq__scq q;
static _Atomic uint64_t entries[2]; /* half = 1: 2 entries */

static void *enqueuer(void *arg)
{
	(void)arg;
	role = ROLE_ENQUEUER;
	lfq__scq_enqueue(&q, 0, false, LFQ_TP_AQ_ENQ_TICKET, LFQ_TP_NONE);
	return NULL;
}

static void *dequeuer(void *arg)
{
	role = ROLE_DEQUEUER;
	*(uint64_t *)arg = lfq__scq_dequeue(&q, LFQ_TP_NONE);
	return NULL;
}

Test(scq, late_threshold_decrements_do_not_strand_an_index, .timeout = 60)
{
	pthread_t enq, deq[3];
	uint64_t got[3];

	lfq__scq_init(&q, entries, 0, 0);
	sem_init(&enq_at_ticket, 0, 0);
	sem_init(&enq_go, 0, 0);
	sem_init(&deq_at_d7, 0, 0);
	sem_init(&deq_go, 0, 0);
	/* One enqueue and dequeue first, so that the threshold is at its maximum (2). */
	lfq__scq_enqueue(&q, 0, false, LFQ_TP_NONE, LFQ_TP_NONE);
	cr_assert_eq(lfq__scq_dequeue(&q, LFQ_TP_NONE), 0);
	atomic_store(&lfq__test_hook, hook);

	/* The enqueuer takes a ticket and parks; a dequeuer takes the same ticket, finds no
	 * index, invalidates the entry and parks before D7. Three times: the enqueuer's next
	 * ticket each time. */
	cr_assert_eq(pthread_create(&enq, NULL, enqueuer, NULL), 0);
	for (int i = 0; i < 3; i++) {
		sem_wait_all(&enq_at_ticket);
		cr_assert_eq(pthread_create(&deq[i], NULL, dequeuer, &got[i]), 0);
		sem_wait_all(&deq_at_d7);
		sem_post(&enq_go); /* its ticket is spent: it takes another one */
	}
	/* The fourth ticket is usable: the enqueuer stores the index and resets the threshold. */
	sem_wait_all(&enq_at_ticket);
	sem_post(&enq_go);
	pthread_join(enq, NULL);
	/* The three late decrements: 2 - 3 = -1. */
	for (int i = 0; i < 3; i++)
		sem_post(&deq_go);
	for (int i = 0; i < 3; i++) {
		pthread_join(deq[i], NULL);
		cr_assert_eq(got[i], LFQ_SCQ_EMPTY);
	}
	atomic_store(&lfq__test_hook, NULL);
	cr_assert_lt(atomic_load(&q.threshold), 0,
		     "the scenario did not drive the threshold negative");

	/* The index is inside; a quiescent dequeue must return it, and the ring then works. */
	cr_assert_eq(lfq__scq_dequeue(&q, LFQ_TP_NONE), 0,
		     "index stranded by a negative threshold");
	cr_assert_eq(lfq__scq_dequeue(&q, LFQ_TP_NONE), LFQ_SCQ_EMPTY);
	lfq__scq_enqueue(&q, 0, false, LFQ_TP_NONE, LFQ_TP_NONE);
	cr_assert_eq(lfq__scq_dequeue(&q, LFQ_TP_NONE), 0);
	sem_destroy(&enq_at_ticket);
	sem_destroy(&enq_go);
	sem_destroy(&deq_at_d7);
	sem_destroy(&deq_go);
}
