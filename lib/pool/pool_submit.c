/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's submissions: a job is copied into a free slot and its index published on its
 * level's ready ring (pool_slots.h), then one sleeping worker is woken if no worker spins
 * (pool_worker.c, "Waking").
 *
 * Labels of this file (the rest of the pool's are in pool_worker.c, pool_shutdown.c and
 * pool_stats.c; "Idle" in pool_stats.c says why the relaxed counts are enough):
 *   K2  submit: load closed                           seq_cst (pool_slots.h); pairs with K1
 *   S1  submit: fetch_add shard.submitted             relaxed: ordered before the publish E4
 *                                                     (a release), see "Idle"
 *   S2  failed submit: fetch_sub shard.submitted      relaxed, same reason
 *   S3  accepted submit: fetch_add shard.accepted     relaxed: statistics (the public
 *                                                     `submitted`), never taken back
 *   I1  failed submit: fence before waking idle       seq_cst; pairs with W2 of wait_idle
 *       waiters
 *   V3  submit: lfq__pool_wake_worker after the       its loads are seq_cst, after the
 *       publish                                       publish E4 (a seq_cst RMW); pairs with
 *                                                     V2 and V5/V6 (pool_worker.c)
 */
#include <errno.h>
#include <string.h>

#include <lfq/pool.h>

#include "pool_internal.h"

/* Tries a submit_wait makes (with a pause between them) before it sleeps. */
#define SUBMIT_WAIT_SPINS 16
/* Longest sleep of a submit_wait between two tries: the bound pool.h documents on how long
 * a freed slot can go unseen. Workers wake sleeping submitters only once wake_free slots
 * are free (the hysteresis, pool_worker.c), so without this a submitter could sleep while
 * a few slots stay free (issue 22). A submitter asleep on a queue that stays full thus
 * costs one wake-up per millisecond. */
#define SUBMIT_WAIT_POLL_NS 1000000

/* This thread's submit shard + 1 (0: not assigned yet). */
static _Thread_local unsigned tls_shard;
/* Hands out shards round-robin to threads as they first submit. */
static _Atomic unsigned next_shard;

static struct lfq__pool_shard *my_shard(struct lfq_pool *pool)
{
	unsigned s = tls_shard;

	if (s == 0) {
		/* Relaxed: only spreads threads over shards; any value is correct. */
		s = atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) %
			    LFQ_POOL_SHARDS +
		    1;
		tls_shard = s;
	}
	return &pool->shards[s - 1];
}

/* Accepts *job into a slot without the wake-up: returns 0, -EAGAIN or -ESHUTDOWN. With an
 * id pointer, gives the job an id (pool_cancel.c). With the completion channel, takes a
 * credit first (pool_completion.c). */
static int submit_one(struct lfq_pool *pool, const struct lfq_job *job, uint64_t *id)
{
	const unsigned p = job->priority;
	uint64_t i;

	if (pool->comp && !lfq__comp_reserve(pool))
		return lfq__slotq_closed(&pool->q, p) ? -ESHUTDOWN : -EAGAIN; /* K2 */
	if (!lfq__slotq_get_free(&pool->q, &i)) {
		if (pool->comp)
			lfq__comp_unreserve(pool);
		return lfq__slotq_closed(&pool->q, p) ? -ESHUTDOWN : -EAGAIN; /* K2 */
	}
	struct lfq__task *t = &pool->slots[i]; /* ours alone: we hold index i */

	memcpy(t, job, sizeof(*t));
	if (id)
		lfq__cancel_arm(pool, i, t, id); /* Q1, before the publish */
	t->attempts = 0;
	t->last_result = 0;
	t->ready_ns = pool->metrics ? lfq__pool_now(pool) : 0;
	struct lfq__pool_shard *shard = my_shard(pool);

	/* S1: counted before it can run (the publish below releases it); see "Idle" in
	 * pool_stats.c. */
	atomic_fetch_add_explicit(&shard->submitted[p], 1, memory_order_relaxed);
	LFQ_TEST_POINT(LFQ_TP_POOL_SUBMIT_COUNTED);
	if (!lfq__slotq_put_ready(&pool->q, p, i)) {
		/* Shut down before our publish: not accepted; the slot goes back. */
		atomic_fetch_sub_explicit(&shard->submitted[p], 1, memory_order_relaxed); /* S2 */
		lfq__slotq_put_free(&pool->q, i);
		if (pool->comp)
			lfq__comp_unreserve(pool);
		/* A wait_idle may have seen our S1 and be asleep waiting for it. I1: the S2
		 * above is then visible to its re-check, or N1 sees it waiting. */
		atomic_thread_fence(memory_order_seq_cst);
		lfq__waitq_notify(&pool->idle, LFQ_WAITQ_ALL);
		return -ESHUTDOWN;
	}
	/* S3: accepted for good; the public counter only ever grows. */
	atomic_fetch_add_explicit(&shard->accepted[p], 1, memory_order_relaxed);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The public calls. */

/* Checked in every build: a bad job would crash a worker later, far from its cause. */
static bool job_ok(const struct lfq_pool *pool, const struct lfq_job *job)
{
	return job && job->fn && job->priority < pool->levels && !job->reserved8 &&
	       !job->reserved32 &&
	       lfq__all_zero(job->reserved, sizeof(job->reserved) / sizeof(job->reserved[0]));
}

int lfq_pool_submit(struct lfq_pool *pool, const struct lfq_job *job)
{
	if (!pool || !job_ok(pool, job))
		return -EINVAL;
	const int rc = submit_one(pool, job, NULL);

	if (rc == 0)
		lfq__pool_wake_worker(pool); /* V3 */
	return rc;
}

int lfq_pool_submit_id(struct lfq_pool *pool, const struct lfq_job *job, uint64_t *id)
{
	if (!pool || !id || !job_ok(pool, job))
		return -EINVAL;
	const int rc = submit_one(pool, job, id);

	if (rc == 0)
		lfq__pool_wake_worker(pool); /* V3 */
	return rc;
}

size_t lfq_pool_submit_burst(struct lfq_pool *pool, const struct lfq_job *jobs, size_t n, int *err)
{
	int rc = 0;
	size_t done = 0;

	if (!pool || !jobs)
		rc = n ? -EINVAL : 0;
	for (; rc == 0 && done < n; done++) {
		if (!job_ok(pool, &jobs[done]))
			rc = -EINVAL;
		else
			rc = submit_one(pool, &jobs[done], NULL);
		if (rc != 0)
			break;
	}
	if (err)
		*err = rc;
	/* One wake-up for the burst: one parked worker, and each woken worker wakes the next
	 * while jobs remain. */
	if (done > 0)
		lfq__pool_wake_worker(pool); /* V3 */
	return done;
}

int lfq_pool_submit_wait(struct lfq_pool *pool, const struct lfq_job *job, int64_t timeout_ns)
{
	if (!pool || !job_ok(pool, job))
		return -EINVAL;
	int rc = submit_one(pool, job, NULL);

	if (rc == -EAGAIN && timeout_ns != 0) {
		const int64_t deadline = lfq__deadline(timeout_ns);

		for (unsigned i = 0; i < SUBMIT_WAIT_SPINS && rc == -EAGAIN; i++) {
			lfq__cpu_relax();
			rc = submit_one(pool, job, NULL);
		}
		while (rc == -EAGAIN) {
			const uint32_t key = lfq__waitq_prepare(&pool->not_full);

			rc = submit_one(pool, job, NULL);
			const int64_t now = lfq__now_ns();

			if (rc == -EAGAIN && deadline >= 0 && now >= deadline)
				rc = -ETIMEDOUT;
			const int64_t until = deadline >= 0 && deadline - now < SUBMIT_WAIT_POLL_NS
						      ? deadline
						      : now + SUBMIT_WAIT_POLL_NS;

			if (rc != -EAGAIN || !lfq__waitq_sleep(&pool->not_full, key, until))
				lfq__waitq_done(&pool->not_full);
		}
	}
	if (rc == 0)
		lfq__pool_wake_worker(pool); /* V3 */
	return rc;
}
