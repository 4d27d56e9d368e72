/* SPDX-License-Identifier: MIT */
/*
 * The completion channel (LFQ_POOL_COMPLETIONS): every job that ends (succeeded or dead)
 * leaves a record in a ring, and an eventfd becomes readable, for an event loop to drain the
 * records on its own thread.
 *
 * The records live in a slot queue of their own (pool_slots.h, one level) over an array of
 * struct lfq_pool_completion. It is never full when a job ends: each submit takes a credit
 * first (credits start at the ring's capacity) and each drained record gives one back, so
 * the jobs in flight plus the records not yet drained never exceed the capacity, and posting
 * never waits, fails or allocates. Without a credit a submit is refused like one on a full
 * queue (-EAGAIN; submit_wait sleeps on not_full, which a drain wakes).
 *
 * The eventfd is written only when it is not signalled already (the flag `signalled`), so a
 * busy pool makes one write per drain, not one per job.
 *
 * Labels (docs/design.md section 3 has the argument):
 *   F1  post: fence after the record's publish       seq_cst; Dekker with F2: either the
 *                                                    drain's pop sees the record, or F3 sees
 *                                                    the drain's S1 (false) and writes the fd
 *   F3  post: load signalled                         relaxed (after F1)
 *   F4  post: exchange signalled -> true             acq_rel: one poster of many writes the fd;
 *                                                    acquire: after the drain's eventfd read
 *   S1  drain: store signalled = false               release, after reading (resetting) the
 *                                                    eventfd: a post that reads it writes the
 *                                                    fd after that read
 *   F2  drain: fence before the second pop           seq_cst, pairs with F1
 *   T1  submit: CAS credits - 1                      acquire: pairs with T2, so the record
 *                                                    slot the drain freed is free for the post
 *   T2  drain: fetch_add credits                     seq_cst: the publish before N1 of not_full
 *                                                    (a submit_wait that found no credit sleeps)
 *   T3  failed submit: fetch_add credits             release, as T2 for T1 (no N1: see
 *                                                    lfq__comp_unreserve)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <lfq/pool.h>

#include "arch.h"
#include "pool_internal.h"

struct lfq__pool_comp {
	struct lfq__slotq q;
	struct lfq_pool_completion *recs;
	int fd;
	LFQ_CACHE_ALIGNED _Atomic bool signalled;
	LFQ_CACHE_ALIGNED _Atomic int64_t credits;
};

int lfq__comp_init(struct lfq_pool *pool, size_t capacity)
{
	struct lfq__pool_comp *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fd = -1;
	if (lfq__slotq_init(&c->q, capacity, 1) != 0) {
		lfq__slotq_fini(&c->q);
		free(c);
		return -ENOMEM;
	}
	c->recs = calloc(capacity, sizeof(*c->recs));
	c->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!c->recs || c->fd < 0) {
		const int err = c->fd < 0 ? -errno : -ENOMEM;

		pool->comp = c;
		lfq__comp_fini(pool);
		return err;
	}
	atomic_init(&c->signalled, false);
	atomic_init(&c->credits, (int64_t)capacity);
	pool->comp = c; /* published to the workers by pthread_create */
	return 0;
}

void lfq__comp_fini(struct lfq_pool *pool)
{
	struct lfq__pool_comp *c = pool->comp;

	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->recs);
	lfq__slotq_fini(&c->q);
	free(c);
	pool->comp = NULL;
}

bool lfq__comp_reserve(struct lfq_pool *pool)
{
	struct lfq__pool_comp *c = pool->comp;
	int64_t n = atomic_load_explicit(&c->credits, memory_order_acquire);

	do {
		if (n <= 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		&c->credits, &n, n - 1, memory_order_acquire, memory_order_acquire)); /* T1 */
	return true;
}

static void give_credits(struct lfq_pool *pool, int64_t n)
{
	atomic_fetch_add_explicit(&pool->comp->credits, n, memory_order_seq_cst); /* T2 */
	lfq__waitq_notify(&pool->not_full, LFQ_WAITQ_ALL);
}

/* No wake-up here: a submit that could not use its credit failed on a full queue (or a
 * shutdown); waking the other waiters would only make them fail the same way, and two
 * submit_wait callers on a full queue would wake each other for ever. A submitter that found
 * no credit because of ours is woken by a drain: the credits' other holders are jobs in
 * flight or records waiting to be drained. */
void lfq__comp_unreserve(struct lfq_pool *pool)
{
	atomic_fetch_add_explicit(&pool->comp->credits, 1, memory_order_release); /* T3 */
}

static void signal_fd(struct lfq__pool_comp *c)
{
	if (!atomic_exchange_explicit(&c->signalled, true, memory_order_acq_rel)) { /* F4 */
		const uint64_t one = 1;
		/* Cannot fail: the counter is far from its limit (each drain resets it). */
		const ssize_t w = write(c->fd, &one, sizeof(one));

		(void)w;
	}
}

void lfq__comp_post(struct lfq_pool *pool, const struct lfq__task *t, int reason, int result)
{
	struct lfq__pool_comp *c = pool->comp;
	uint64_t i;

	/* A record slot is free: this job holds a credit (T1). */
	while (!lfq__slotq_get_free(&c->q, &i))
		lfq__cpu_relax();
	c->recs[i] = (struct lfq_pool_completion){
		.fn = t->fn,
		.arg = t->arg,
		.id = (t->flags & LFQ__TASK_HAS_ID) ? t->id : 0,
		.result = result,
		.reason = reason,
		.attempts = t->attempts,
	};
	const bool ok = lfq__slotq_put_ready(&c->q, 0, i); /* never closed */

	(void)ok;
	atomic_thread_fence(memory_order_seq_cst);			/* F1 */
	if (!atomic_load_explicit(&c->signalled, memory_order_relaxed)) /* F3 */
		signal_fd(c);
}

static size_t pop(struct lfq__pool_comp *c, struct lfq_pool_completion *out, size_t n)
{
	size_t k = 0;
	uint64_t i;

	while (k < n && lfq__slotq_get_ready(&c->q, 0, &i) == 0) {
		out[k++] = c->recs[i];
		lfq__slotq_put_free(&c->q, i);
	}
	return k;
}

int lfq_pool_completions_fd(const struct lfq_pool *pool)
{
	if (!pool)
		return -EINVAL;
	return pool->comp ? pool->comp->fd : -EOPNOTSUPP;
}

int lfq_pool_completions_drain(struct lfq_pool *pool, struct lfq_pool_completion *out, size_t n)
{
	if (!pool || (!out && n > 0))
		return -EINVAL;
	struct lfq__pool_comp *c = pool->comp;

	if (!c)
		return -EOPNOTSUPP;
	if (n > INT32_MAX)
		n = INT32_MAX;
	size_t k = pop(c, out, n);

	if (k < n) {
		/* Found it empty: reset the fd, then S1, then look once more (F2): a record
		 * published before a poster read S1 is seen here, and any later one signals
		 * the fd anew. */
		uint64_t v;
		const ssize_t r = read(c->fd, &v, sizeof(v)); /* EAGAIN: not signalled */

		(void)r;
		atomic_store_explicit(&c->signalled, false, memory_order_release); /* S1 */
		atomic_thread_fence(memory_order_seq_cst);			   /* F2 */
		k += pop(c, out + k, n - k);
		if (k == n)
			signal_fd(c); /* there may be more: keep the fd readable */
	}
	if (k > 0)
		give_credits(pool, (int64_t)k);
	return (int)k;
}
