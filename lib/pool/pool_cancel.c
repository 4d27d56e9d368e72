/* SPDX-License-Identifier: MIT */
/*
 * Job ids and lfq_pool_cancel.
 *
 * A job submitted with lfq_pool_submit_id gets id = generation << 24 | slot, and its slot's
 * state word (pool->slot_state[slot]) says generation << 3 | where the job is:
 *
 *     QUEUED      in the ring, not taken by anyone yet
 *     STARTED     a worker (or the shutdown) took it: it runs, or ran, or was handed back
 *     CANCELLING  a cancel claimed it and is copying it out of the slot
 *     CANCELLED   the cancel is done with the slot
 *     ORPHANED    a worker dequeued the slot while it was CANCELLING: the cancel frees it
 *
 * The slot's index stays in the ready ring after a cancel (a ring has no delete): whoever
 * dequeues it (a worker, or a timed-out shutdown) finds the job cancelled and does not run
 * it. The slot is freed by whichever of the two, the cancel or the dequeuer, comes last: the
 * dequeuer if it finds CANCELLED, the cancel if it finds ORPHANED. Neither waits for the
 * other, so a worker never blocks on a cancel (lock-free, and no worker is ever held up by a
 * cancel that was preempted).
 *
 * Generations: each submit_id on a slot bumps the slot's generation, so an id whose slot was
 * reused (its job taken, the slot freed and given to another job) no longer matches and gets
 * -ENOENT: an old id never cancels a newer job. 40 bits of generation per slot: an id is
 * confused only after 2^40 submits through one slot.
 *
 * Labels (docs/design.md section 3 has the argument):
 *   Q1  submit_id: store (gen, QUEUED)          release: the job's copy in the slot before
 *                                               it, for a cancel whose Q2 reads it
 *   Q2  cancel: CAS QUEUED -> CANCELLING        acq_rel (acquire: Q1, so the slot's copy is
 *                                               readable; it is also the one RMW that decides
 *                                               between cancel and run, with Q3)
 *   Q3  dequeuer: CAS QUEUED -> STARTED         acq_rel on success; relaxed would do (the job
 *                                               came through the ring), kept uniform
 *   Q4  dequeuer: CAS CANCELLING -> ORPHANED    acq_rel: release orders its read of the slot
 *                                               before the cancel's free (Q5 failing)
 *   Q5  cancel: CAS CANCELLING -> CANCELLED     acq_rel: release orders the cancel's read of
 *                                               the slot before the dequeuer's free (Q3/Q4
 *                                               failing with acquire); acquire on failure
 *                                               (ORPHANED): the dequeuer's read before ours
 *   Q6  cancel: fetch_add cancelled_by_id       release: the job is finished (its on_dead
 *                                               returned); pairs with A1 in read_totals
 */
#include <errno.h>

#include <lfq/pool.h>

#include "pool_internal.h"

enum {
	ST_QUEUED = 1,
	ST_STARTED = 2,
	ST_CANCELLING = 3,
	ST_CANCELLED = 4,
	ST_ORPHANED = 5,
};

#define SLOT_BITS 24
#define SLOT_MASK ((UINT64_C(1) << SLOT_BITS) - 1)
#define GEN_BITS 40
#define GEN_MASK ((UINT64_C(1) << GEN_BITS) - 1)

_Static_assert(LFQ_POOL_CAPACITY_MAX <= ((size_t)1 << SLOT_BITS), "slot fits in an id");

static uint64_t word(uint64_t gen, unsigned st)
{
	return gen << 3 | st;
}

static uint64_t gen_of(uint64_t w)
{
	return w >> 3;
}

static unsigned st_of(uint64_t w)
{
	return (unsigned)(w & 7);
}

void lfq__cancel_arm(struct lfq_pool *pool, uint64_t slot, struct lfq__task *t, uint64_t *id)
{
	_Atomic uint64_t *s = &pool->slot_state[slot];
	/* Relaxed: the slot is ours (we hold its index), and so is its state word: every
	 * earlier writer of it gave the slot back through the free ring (release/acquire). */
	uint64_t gen = (gen_of(atomic_load_explicit(s, memory_order_relaxed)) + 1) & GEN_MASK;

	if (gen == 0)
		gen = 1; /* an id is never 0 */
	t->flags |= LFQ__TASK_HAS_ID;
	t->id = gen << SLOT_BITS | slot;
	*id = t->id;
	atomic_store_explicit(s, word(gen, ST_QUEUED), memory_order_release); /* Q1 */
}

bool lfq__cancel_claim(struct lfq_pool *pool, uint64_t slot, const struct lfq__task *t)
{
	_Atomic uint64_t *s = &pool->slot_state[slot];
	const uint64_t gen = t->id >> SLOT_BITS;
	uint64_t cur = word(gen, ST_QUEUED);

	/* Q3 */
	if (atomic_compare_exchange_strong_explicit(s, &cur, word(gen, ST_STARTED),
						    memory_order_acq_rel, memory_order_acquire))
		return true;
	if (st_of(cur) == ST_CANCELLING &&
	    atomic_compare_exchange_strong_explicit(s, &cur, word(gen, ST_ORPHANED),
						    memory_order_acq_rel,
						    memory_order_acquire)) /* Q4 */
		return false; /* the cancel frees the slot */
	/* CANCELLED: the cancel has finished with the slot. */
	lfq__pool_free_slot(pool, slot);
	return false;
}

int lfq_pool_cancel(struct lfq_pool *pool, uint64_t id)
{
	if (!pool)
		return -EINVAL;
	const uint64_t slot = id & SLOT_MASK;
	const uint64_t gen = id >> SLOT_BITS;

	if (gen == 0 || gen > GEN_MASK || slot >= pool->capacity)
		return -ENOENT;
	_Atomic uint64_t *s = &pool->slot_state[slot];
	uint64_t cur = atomic_load_explicit(s, memory_order_acquire);

	for (;;) {
		if (gen_of(cur) != gen)
			return -ENOENT; /* never issued, or its slot went on to another job */
		if (st_of(cur) == ST_STARTED)
			return -EBUSY;
		if (st_of(cur) != ST_QUEUED)
			return -EALREADY;
		/* Q2: the one RMW that decides against Q3. */
		if (atomic_compare_exchange_weak_explicit(s, &cur, word(gen, ST_CANCELLING),
							  memory_order_acq_rel,
							  memory_order_acquire))
			break;
	}
	/* CANCELLING: nobody frees or rewrites the slot until Q5 (a dequeuer only reads it). */
	struct lfq__task task = pool->slots[slot];

	cur = word(gen, ST_CANCELLING);
	if (!atomic_compare_exchange_strong_explicit(s, &cur, word(gen, ST_CANCELLED),
						     memory_order_acq_rel,
						     memory_order_acquire)) /* Q5 */
		lfq__pool_free_slot(pool, slot); /* ORPHANED: ours to free */
	lfq__pool_call_dead(pool, &task, LFQ_DEAD_CANCELLED);
	atomic_fetch_add_explicit(&pool->cancelled_by_id, 1, memory_order_release); /* Q6 */
	lfq__pool_notify_idle(pool);
	return 0;
}
