/* SPDX-License-Identifier: MIT */
/*
 * lfq_queue: LSCQ, a linked list of lfq_ring segments, reclaimed with userspace RCU.
 *
 *   push: seg = tail; push into seg. Full: finalize seg (its ring's closed bit). Finalized:
 *         help tail to seg->next, or link a fresh segment that already holds our item with
 *         one CAS on seg->next, then swing tail.
 *   pop:  seg = head; pop from seg. Empty and open: the queue is empty. Finalized and
 *         drained: move head to seg->next (if any) and retire seg to the queue's reclaimer.
 *   close: set `closed`, then finalize segments from the tail on and seal the last one's
 *         next pointer (SEALED), so no segment can be linked after it.
 *
 * Every access to a segment is inside an RCU read-side section; a retired segment is reset
 * and cached, or freed, by the queue's reclaimer thread after a grace period
 * (synchronize_rcu), after every section that could see it ended.
 *
 * Segment limit: every segment carries its position in the list (`id`: the first is 0, each
 * linked one its predecessor's + 1), so the segments linked now number tail->id - head->id
 * + 1. A pusher about to link after `seg` checks seg->id - head->id + 1 < max and then
 * competes for seg->next like any other linker: it holds nothing while it allocates, so a
 * pusher stalled there (in malloc, preempted) blocks nobody; and since head only moves on,
 * a check that passed stays true until the CAS, so the limit is never exceeded.
 *
 * Labels (docs/design.md, "lfq_queue"):
 *   Q1 load tail/head            acquire  pairs with Q2/Q3: the segment is initialized
 *   Q2 CAS seg->next (link)      seq_cst  publishes the new segment (reset, our item in it);
 *                                         seq_cst: the publish of a Dekker pair with the
 *                                         waiters of not_empty/not_full (see waitq.h)
 *   Q2s CAS seg->next (close's   seq_cst  the publish before close's N1 of not_empty; a
 *      seal)                              failed one acquires the segment linked meanwhile,
 *                                         which close finalizes next
 *   Q3 CAS tail                  acq_rel  passes the segment on (transitively from Q2)
 *   Q3h CAS head                 seq_cst  as Q3, and the publish of the room it makes under
 *                                         a limit (Dekker with push_wait's W2, via Q7)
 *   Q4 load seg->next            acquire  pairs with Q2
 *   Q4a the same in a pop         seq_cst  a pop after close returned reads the seal (or a
 *      (advance)                          link before it): the real-time promise of close
 *   Q5 closed flag store/load    seq_cst  ordered with the finalize (K1) of the segments
 *   Q6 statistics counters       relaxed  retired/reclaimed; they order nothing
 *   Q6r reclaimed (reclaimer) /   release/ lfq__queue_quiesce (tests) sees what the
 *      its load in quiesce       acquire  reclaimer did for the segments it counted
 *   R1 CAS retired_list (retire) seq_cst  publishes the segment and its retired_next to
 *                                         the reclaimer; the publish before N1; pairs with R2
 *   R2 exchange retired_list     seq_cst  the reclaimer takes the list after W2; pairs
 *                                         with R1 (acquire part) and N1 (Dekker)
 *   R3 store stopping (destroy)  seq_cst  the publish before N1; pairs with R4
 *   R3f, Q7f fences after R3, Q7  seq_cst  redundant in C11; for emulators (see K1f)
 *   R4 load stopping (reclaimer) seq_cst  after W2
 *   Q7 load head, max_segments   seq_cst  for the limit: after W2 of a push_wait, they see
 *      (limit check); store               every Q3h / set_limit that preceded its N1
 *      max_segments (set_limit)
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <lfq/queue.h>
#include <lfq/ring.h>

#include "atomics.h"
#include "queue_internal.h"
#include "rcu.h"
#include "ring_internal.h"
#include "testing.h"
#include "waitq.h"

/* The reclaimer thread's stack: it calls synchronize_rcu and free, nothing deep. */
#define RECLAIMER_STACK (256 * 1024)

/* Marks the last segment of a closed queue: nothing can be linked after it. */
static struct lfq__segment sealed_mark;
#define SEALED (&sealed_mark)

static struct lfq__segment *segment_new(struct lfq_queue *q)
{
#ifdef LFQ_TESTING
	if (atomic_load(&lfq__test_fail_alloc) > 0 &&
	    atomic_fetch_sub(&lfq__test_fail_alloc, 1) > 0)
		return NULL;
#endif
	struct lfq__segment *seg = calloc(1, sizeof(*seg));

	if (!seg)
		return NULL;
	if (lfq_ring_create(&seg->ring, q->segment_capacity, 0) != 0) {
		free(seg);
		return NULL;
	}
	seg->queue = q;
	return seg;
}

static void segment_free(struct lfq__segment *seg)
{
	lfq_ring_destroy(seg->ring);
	free(seg);
}

/* A segment ready to be linked: from the cache (already reset), or new. */
static struct lfq__segment *segment_get(struct lfq_queue *q)
{
	void *cached;

	if (lfq_ring_pop(q->cache, &cached) == 0) {
		struct lfq__segment *seg = cached;

		LFQ_STORE(&seg->next, NULL, memory_order_relaxed); /* published by Q2 */
		return seg;
	}
	return segment_new(q);
}

/* Back into the cache, or freed. Only for a segment no other thread can reach. */
static void segment_put(struct lfq_queue *q, struct lfq__segment *seg)
{
	lfq__ring_reset(seg->ring);
	if (lfq_ring_push(q->cache, seg) != 0)
		segment_free(seg);
}

/*
 * Reclamation. Each queue has a reclaimer thread, started by create: a pop that unlinks a
 * segment pushes it on `retired_list` (R1) and wakes the reclaimer (N1, one load if it is
 * busy); the reclaimer takes the whole list (R2), waits for a grace period
 * (synchronize_rcu: every read-side section that could see those segments has ended), then
 * caches or frees them. Before issue 24 this was liburcu's call_rcu, whose worker thread
 * liburcu starts at the first call and whose failure to start (RLIMIT_AS, no memory) it
 * answers with urcu_die, an abort inside a pop; and destroy's rcu_barrier allocated and died
 * the same way. Now the only thread is started where failing is allowed (create: -EAGAIN),
 * and nothing on the pop or destroy path allocates.
 */
static void reclaim_list(struct lfq_queue *q, struct lfq__segment *list)
{
	urcu_memb_synchronize_rcu();
	LFQ_RCU_ACQUIRE(); /* TSan: the readers' sections happen-before the grace period's end */
	while (list) {
		struct lfq__segment *next = list->retired_next;

		segment_put(q, list);
		/* Q6r: release: lfq__queue_quiesce's acquire sees the segment cached. */
		atomic_fetch_add_explicit(&q->reclaimed, 1, memory_order_release);
		list = next;
	}
}

static void *reclaimer_main(void *arg)
{
	struct lfq_queue *q = arg;

	for (;;) {
		/* W1-W3 before the checks: a retire (R1) or destroy (R3) after them makes the
		 * sleep return at once. */
		const uint32_t key = lfq__waitq_prepare(&q->reclaim_wq);
		/* R2: acquire, pairs with R1: the segments' retired_next links are visible.
		 * seq_cst with W2 for the Dekker pair (R1 is a seq_cst RMW). */
		struct lfq__segment *list =
			atomic_exchange_explicit(&q->retired_list, NULL, memory_order_seq_cst);
		/* R4: pairs with R3. */
		const bool stop = atomic_load_explicit(&q->stopping, memory_order_seq_cst);

		if (list || stop) {
			lfq__waitq_done(&q->reclaim_wq);
			if (!list)
				return NULL; /* destroy: nothing left */
			reclaim_list(q, list);
			continue;
		}
		if (!lfq__waitq_sleep(&q->reclaim_wq, key, -1))
			lfq__waitq_done(&q->reclaim_wq);
	}
}

/* The reclaimer: every signal blocked but the synchronous fault ones (a process-directed
 * signal never lands here), a small stack (it only calls synchronize_rcu and frees).
 * 0 or a negated pthread error. */
static int start_reclaimer(struct lfq_queue *q)
{
#ifdef LFQ_WEAK_MODEL
	/* The weak-memory checker's build (tests/check_weak.c) has no reclaimer: the model
	 * keys its locations by address, so no segment may be freed or reused during a
	 * schedule, and the reclaimer would call into the model beside the scheduled
	 * threads. Retired segments stay on retired_list; destroy frees them. */
	(void)q;
	(void)reclaimer_main;
	return 0;
#endif
	pthread_attr_t attr;
	sigset_t sigs;
	int err = pthread_attr_init(&attr);

	if (err)
		return -err;
	sigfillset(&sigs);
	sigdelset(&sigs, SIGSEGV);
	sigdelset(&sigs, SIGBUS);
	sigdelset(&sigs, SIGFPE);
	sigdelset(&sigs, SIGILL);
	sigdelset(&sigs, SIGTRAP);
	sigdelset(&sigs, SIGSYS);
	err = pthread_attr_setsigmask_np(&attr, &sigs);
	if (!err)
		err = pthread_attr_setstacksize(&attr, RECLAIMER_STACK);
	if (!err)
		err = pthread_create(&q->reclaimer, &attr, reclaimer_main, q);
	pthread_attr_destroy(&attr);
	if (!err)
		(void)pthread_setname_np(q->reclaimer, "lfq-reclaim"); /* cosmetic */
	return -err;
}

int lfq_queue_create(struct lfq_queue **queue, size_t segment_capacity, unsigned flags)
{
	if (!queue || segment_capacity > LFQ_QUEUE_SEGMENT_MAX || flags)
		return -EINVAL;
	if (lfq__rcu_setup() != 0)
		return -EAGAIN;
	struct lfq_queue *q = aligned_alloc(LFQ_CACHE_LINE, sizeof(*q));

	if (!q)
		return -ENOMEM;
	*q = (struct lfq_queue){.segment_capacity = segment_capacity ? segment_capacity
								     : LFQ_QUEUE_SEGMENT_DEFAULT};
	lfq__waitq_init(&q->not_empty);
	lfq__waitq_init(&q->not_full);
	lfq__waitq_init(&q->reclaim_wq);
	atomic_init(&q->retired_list, NULL);
	atomic_init(&q->stopping, false);
	struct lfq__segment *first = NULL;

	if (lfq_ring_create(&q->cache, LFQ_QUEUE_CACHED_SEGMENTS, 0) != 0 ||
	    !(first = segment_new(q))) {
		lfq_ring_destroy(q->cache);
		free(q);
		return -ENOMEM;
	}
	first->id = 0; /* calloc'ed; for the reader */
	atomic_init(&q->head, first);
	atomic_init(&q->tail, first);
	const int rc = start_reclaimer(q);

	if (rc) {
		segment_free(first);
		lfq_ring_destroy(q->cache);
		free(q);
		return rc == -EPERM ? -EAGAIN : rc;
	}
	*queue = q;
	return 0;
}

void lfq_queue_destroy(struct lfq_queue *queue)
{
	if (!queue)
		return;
#ifdef LFQ_WEAK_MODEL
	/* No reclaimer in this build (start_reclaimer): free what it would have taken. */
	for (struct lfq__segment *r = atomic_load(&queue->retired_list), *rn; r; r = rn) {
		rn = r->retired_next;
		segment_free(r);
	}
#else
	/* R3: the reclaimer takes what is left, waits for its grace period, and exits; the
	 * join orders all it did before what follows. No allocation (rcu_barrier's calloc could
	 * fail, and liburcu answered that with an abort). */
	atomic_store_explicit(&queue->stopping, true, memory_order_seq_cst);
	/* R3f: redundant in C11 (R3 and N1 are seq_cst), as the ring close's K1f: QEMU's TCG
	 * on x86-64 hosts lets an arm64 STLR pass a later LDAR, and the join would wait for
	 * good. */
	atomic_thread_fence(memory_order_seq_cst);
	lfq__waitq_notify(&queue->reclaim_wq, LFQ_WAITQ_ALL);
	pthread_join(queue->reclaimer, NULL);
#endif
	struct lfq__segment *seg = atomic_load_explicit(&queue->head, memory_order_acquire);

	while (seg && seg != SEALED) {
		struct lfq__segment *next = atomic_load_explicit(&seg->next, memory_order_acquire);

		segment_free(seg);
		seg = next;
	}
	void *cached;

	while (lfq_ring_pop(queue->cache, &cached) == 0)
		segment_free(cached);
	lfq_ring_destroy(queue->cache);
	free(queue);
}

int lfq_queue_set_limit(struct lfq_queue *queue, size_t max_segments)
{
	if (!queue || max_segments == 1)
		return -EINVAL;
	/* Q7: the publish before N1 (a higher limit, or none, lets push_wait sleepers in). */
	LFQ_SCHED_POINT();
	LFQ_STORE(&queue->max_segments, max_segments, memory_order_seq_cst);
	/* Q7f: redundant in C11 (Q7 and N1 are seq_cst), as the ring close's K1f (QEMU's TCG
	 * on x86-64 hosts lets an arm64 STLR pass a later LDAR). */
	LFQ_SCHED_POINT();
	LFQ_FENCE(memory_order_seq_cst); /* Q7f */
	lfq__waitq_notify(&queue->not_full, LFQ_WAITQ_ALL);
	return 0;
}

/* May a segment be linked after `seg`, the last one? 1: yes; 0: the limit is reached;
 * -1: seg was retired meanwhile (start over from the tail). Inside a read-side section. */
static int below_limit(struct lfq_queue *q, const struct lfq__segment *seg)
{
	/* Q7 */
	LFQ_SCHED_POINT();
	const size_t max = LFQ_LOAD(&q->max_segments, memory_order_seq_cst);

	if (!max)
		return 1;
	/* Q7: head's segment cannot be reclaimed before our section ends, nor its id change. */
	LFQ_SCHED_POINT();
	const struct lfq__segment *head = LFQ_LOAD(&q->head, memory_order_seq_cst);

	if (head->id > seg->id)
		return -1;
	/* Linked now, head .. seg (ids are 64-bit: they never wrap). */
	return seg->id - head->id + 1 < max;
}

/*
 * The tail segment `seg` cannot take the item (rc: -EAGAIN full, -EPIPE finalized).
 * Finalizes it if needed, then helps tail on or links a new segment holding `item`.
 * Returns 0 if the item went into a new segment, 1 to retry with the current tail, or an
 * error. Inside a read-side section.
 */
static int grow(struct lfq_queue *q, struct lfq__segment *seg, int rc, void *item)
{
	if (rc == -EAGAIN)
		lfq__ring_finalize(seg->ring);
	/* Q4 */
	LFQ_SCHED_POINT();
	struct lfq__segment *next = LFQ_LOAD(&seg->next, memory_order_acquire);

	if (next == SEALED)
		return -EPIPE;
	if (next) {
		/* Q3: help the tail on. */
		LFQ_SCHED_POINT();
		LFQ_CAS(&q->tail, &seg, next, memory_order_acq_rel, memory_order_acquire);
		return 1;
	}
	/* Q5: no new segment after close. */
	LFQ_SCHED_POINT();
	if (LFQ_LOAD(&q->closed, memory_order_seq_cst))
		return -EPIPE;
	const int room = below_limit(q, seg);

	if (room <= 0)
		return room < 0 ? 1 : -EAGAIN;
	/* Nothing is held from here to the CAS: a pusher stalled here delays nobody. */
	LFQ_TEST_POINT(LFQ_TP_QUEUE_GROW);
	struct lfq__segment *fresh = segment_get(q);

	if (!fresh)
		return -ENOMEM;
	fresh->id = seg->id + 1; /* private until Q2 publishes it */
	/* The weak-memory model: its other users must happen after this (Q2, Q4, Q1). */
	LFQ_PLAIN_INIT(fresh, sizeof(*fresh));
	LFQ_PLAIN_INIT(fresh->ring, sizeof(*fresh->ring));
	/* A fresh, unpublished ring of capacity >= 1 takes the item. */
	rc = lfq__ring_push_one(fresh->ring, item);
	assert(rc == 0);
	/* Q2: publish the segment with our item already in it (seq_cst: the publish before
	 * N1 of not_empty and not_full). */
	LFQ_SCHED_POINT();
	if (LFQ_CAS(&seg->next, &next, fresh, memory_order_seq_cst, memory_order_acquire)) {
		/* Q3 */
		LFQ_SCHED_POINT();
		LFQ_CAS(&q->tail, &seg, fresh, memory_order_acq_rel, memory_order_acquire);
		/* The new segment has room for capacity - 1 more: wake push_wait sleepers. */
		lfq__waitq_notify(&q->not_full, LFQ_WAITQ_ALL);
		return 0;
	}
	/* Someone linked first (or sealed): nobody ever saw `fresh`, take it back. */
	segment_put(q, fresh);
	return next == SEALED ? -EPIPE : 1;
}

/* push without the wake-up. */
static int push_one(struct lfq_queue *q, void *item)
{
	int rc;

	lfq__rcu_read_lock();
	for (;;) {
		/* Q1 */
		LFQ_SCHED_POINT();
		struct lfq__segment *seg = LFQ_LOAD(&q->tail, memory_order_acquire);

		rc = lfq__ring_push_one(seg->ring, item);
		if (rc == 0)
			break;
		rc = grow(q, seg, rc, item);
		if (rc <= 0)
			break;
	}
	lfq__rcu_read_unlock();
	return rc;
}

/*
 * The head segment `seg` gave nothing (rc: -EAGAIN empty and open, -EPIPE finalized and
 * drained). Returns 1 to retry with the next segment, or the result for the caller.
 * *retired is set to a segment this thread unlinked and must retire.
 */
static int advance(struct lfq_queue *q, struct lfq__segment *seg, int rc,
		   struct lfq__segment **retired)
{
	if (rc == -EAGAIN)
		return -EAGAIN;
	/* Q4a: seq_cst, not only acquire: a pop that starts after close() returned must read
	 * the seal (Q2s) or a link made before it, never the NULL before them; the finalize it
	 * synchronized with (K1, through the segment's K2) comes before the seal in close. */
	LFQ_SCHED_POINT();
	struct lfq__segment *next = LFQ_LOAD(&seg->next, memory_order_seq_cst);

	if (next == SEALED)
		return -EPIPE; /* closed, and this last segment is drained */
	if (!next)
		return -EAGAIN; /* a producer is about to link the next one */
	/* Q3: tail must never point to a retired segment: move it past seg first (a no-op
	 * unless the producer that linked `next` has not swung tail yet). */
	struct lfq__segment *expected = seg;

	LFQ_SCHED_POINT();
	LFQ_CAS(&q->tail, &expected, next, memory_order_acq_rel, memory_order_acquire); /* Q3 */
	/* Q3h: whoever moves head past seg retires it, exactly once. seq_cst: under a limit
	 * this is the room a push_wait sleeper waits for (the publish before N1 in pop_one). */
	LFQ_SCHED_POINT();
	if (LFQ_CAS(&q->head, &seg, next, memory_order_seq_cst, memory_order_acquire))
		*retired = seg;
	return 1;
}

static void retire(struct lfq_queue *q, struct lfq__segment *seg)
{
	/* Q6 */
	atomic_fetch_add_explicit(&q->retired, 1, memory_order_relaxed);
	struct lfq__segment *top = atomic_load_explicit(&q->retired_list, memory_order_relaxed);

	/* R1: a push on the reclaimer's list (lock-free: a CAS fails only when another retire
	 * or the reclaimer's exchange succeeded). seq_cst: the publish before N1 (waitq.h);
	 * it releases retired_next; pairs with R2. No ABA: the reclaimer only ever swaps the
	 * whole list out. */
	do
		seg->retired_next = top;
	while (!atomic_compare_exchange_weak_explicit(&q->retired_list, &top, seg,
						      memory_order_seq_cst, memory_order_relaxed));
	lfq__waitq_notify(&q->reclaim_wq, 1);
}

/* pop without the wake-up. */
static int pop_one(struct lfq_queue *q, void **item)
{
	struct lfq__segment *retired = NULL;
	int rc;

	lfq__rcu_read_lock();
	for (;;) {
		/* Q1 */
		LFQ_SCHED_POINT();
		struct lfq__segment *seg = LFQ_LOAD(&q->head, memory_order_acquire);

		rc = lfq__ring_pop_one(seg->ring, item);
		if (rc == 0)
			break;
		rc = advance(q, seg, rc, &retired);
		if (rc <= 0)
			break;
		if (retired) {
			/* retire outside the section keeps the section short */
			lfq__rcu_read_unlock();
			retire(q, retired);
			retired = NULL;
			/* Room under a segment limit appears only here (and when a segment is
			 * linked): every push_wait sleeper may now proceed. */
			lfq__waitq_notify(&q->not_full, LFQ_WAITQ_ALL);
			lfq__rcu_read_lock();
		}
	}
	lfq__rcu_read_unlock();
	return rc;
}

int lfq_queue_push(struct lfq_queue *queue, void *item)
{
	if (!queue)
		return -EINVAL;
	const int rc = push_one(queue, item);

	if (rc == 0)
		lfq__waitq_notify(&queue->not_empty, 1);
	return rc;
}

int lfq_queue_pop(struct lfq_queue *queue, void **item)
{
	if (!queue || !item)
		return -EINVAL;
	/* No not_full notify per pop: under a segment limit, room appears only when a whole
	 * segment is retired, and pop_one notifies then. */
	return pop_one(queue, item);
}

size_t lfq_queue_push_burst(struct lfq_queue *queue, void *const *items, size_t n)
{
	size_t k = 0;

	if (!queue || !items)
		return 0;
	while (k < n) {
		lfq__rcu_read_lock();
		LFQ_SCHED_POINT();
		struct lfq__segment *seg = LFQ_LOAD(&queue->tail, memory_order_acquire); /* Q1 */

		k += lfq__ring_push_burst(seg->ring, items + k, n - k);
		lfq__rcu_read_unlock();
		/* The segment filled up or was finalized: the single path moves on. */
		if (k < n && push_one(queue, items[k]) != 0)
			break;
		k += k < n;
	}
	if (k)
		lfq__waitq_notify(&queue->not_empty, k > LFQ_WAITQ_ALL ? LFQ_WAITQ_ALL : (int)k);
	return k;
}

size_t lfq_queue_pop_burst(struct lfq_queue *queue, void **items, size_t n)
{
	size_t k = 0;

	if (!queue || !items)
		return 0;
	while (k < n) {
		lfq__rcu_read_lock();
		LFQ_SCHED_POINT();
		struct lfq__segment *seg = LFQ_LOAD(&queue->head, memory_order_acquire); /* Q1 */

		k += lfq__ring_pop_burst(seg->ring, items + k, n - k);
		lfq__rcu_read_unlock();
		/* Empty, or the segment is drained: the single path moves on or says empty. */
		if (k < n && pop_one(queue, &items[k]) != 0)
			break;
		k += k < n;
	}
	return k;
}

/* The blocking calls: lfq__waitq_wait's spin-then-sleep over the lock-free calls. */
static int try_push(void *q, void *item)
{
	return push_one(q, item);
}

static int try_pop(void *q, void *item)
{
	return pop_one(q, item);
}

int lfq_queue_push_wait(struct lfq_queue *queue, void *item, int64_t timeout_ns)
{
	if (!queue)
		return -EINVAL;
	const int rc = lfq__waitq_wait(&queue->not_full, try_push, queue, item, timeout_ns);

	if (rc == 0)
		lfq__waitq_notify(&queue->not_empty, 1);
	return rc;
}

int lfq_queue_pop_wait(struct lfq_queue *queue, void **item, int64_t timeout_ns)
{
	if (!queue || !item)
		return -EINVAL;
	return lfq__waitq_wait(&queue->not_empty, try_pop, queue, item, timeout_ns);
}

void lfq_queue_close(struct lfq_queue *queue)
{
	if (!queue)
		return;
	/* Q5: no segment is linked after this (grow checks it before linking)... */
	LFQ_SCHED_POINT();
	LFQ_STORE(&queue->closed, true, memory_order_seq_cst);
	lfq__rcu_read_lock();
	LFQ_SCHED_POINT();
	struct lfq__segment *seg = LFQ_LOAD(&queue->tail, memory_order_acquire); /* Q1 */

	for (;;) {
		/* ...and none after a segment that a linker saw before the flag: finalize each
		 * segment from the tail on, and seal the last one's next pointer. */
		lfq__ring_finalize(seg->ring);
		struct lfq__segment *next = NULL;

		/* Q2s, Q2's sealing form: seq_cst, the publish before N1 of not_empty (a pop_wait
		 * sleeper on a drained last segment re-checks its next pointer). */
		LFQ_SCHED_POINT();
		if (LFQ_CAS(&seg->next, &next, SEALED, memory_order_seq_cst,
			    memory_order_acquire) ||
		    next == SEALED)
			break;
		seg = next;
	}
	lfq__rcu_read_unlock();
	lfq__waitq_notify(&queue->not_empty, LFQ_WAITQ_ALL);
	lfq__waitq_notify(&queue->not_full, LFQ_WAITQ_ALL);
}

bool lfq_queue_is_closed(const struct lfq_queue *queue)
{
	if (!queue)
		return false;
	/* Q5 */
	LFQ_SCHED_POINT();
	return LFQ_LOAD(&((struct lfq_queue *)queue)->closed, memory_order_seq_cst);
}

size_t lfq_queue_size(const struct lfq_queue *queue)
{
	struct lfq_queue *q = (struct lfq_queue *)queue;
	size_t n = 0;

	if (!queue)
		return 0;
	lfq__rcu_read_lock();
	struct lfq__segment *seg = atomic_load_explicit(&q->head, memory_order_acquire);

	while (seg && seg != SEALED) {
		n += lfq_ring_size(seg->ring);
		seg = atomic_load_explicit(&seg->next, memory_order_acquire);
	}
	lfq__rcu_read_unlock();
	return n;
}

size_t lfq_queue_segment_capacity(const struct lfq_queue *queue)
{
	return queue ? queue->segment_capacity : 0;
}

void lfq__queue_stats(const struct lfq_queue *queue, struct lfq__queue_stats *out)
{
	struct lfq_queue *q = (struct lfq_queue *)queue;

	lfq__rcu_read_lock();
	/* Q1: head first: tail is never behind it, so the difference is never negative. */
	const struct lfq__segment *head = atomic_load_explicit(&q->head, memory_order_acquire);
	const struct lfq__segment *tail = atomic_load_explicit(&q->tail, memory_order_acquire);

	out->segments = (size_t)(tail->id - head->id + 1);
	lfq__rcu_read_unlock();
	out->retired = atomic_load_explicit(&q->retired, memory_order_relaxed);
	out->reclaimed = atomic_load_explicit(&q->reclaimed, memory_order_relaxed);
	out->cached = lfq_ring_size(q->cache);
}

void lfq__queue_quiesce(struct lfq_queue *queue)
{
	/* Q6: relaxed, a snapshot; Q6r below. */
	const size_t target = atomic_load_explicit(&queue->retired, memory_order_relaxed);
	const struct timespec tick = {0, 100000};

	while (atomic_load_explicit(&queue->reclaimed, memory_order_acquire) < target)
		nanosleep(&tick, NULL);
}
