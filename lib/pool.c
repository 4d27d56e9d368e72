/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool: worker threads fed by one SCQ ring of job slots (see pool_internal.h for the
 * layout and docs/design.md section 3 for the design and the measurements behind it).
 *
 * The job hand-off is SCQ's, as in lfq_ring: slots[i] = *job (submit) happens-before
 * job = slots[i] (worker) through E4 on aq / D3 on aq, and the worker's copy happens-before
 * the next submit's write of slot i through E4 on fq / D3 on fq (labels in scq.h).
 *
 * Labels of this file:
 *   K1  shutdown: fetch_or aq.tail (closed bit)       seq_cst; pairs with the E1 of every later
 *                                                     submit (which then fails) and with K2
 *   K2  worker/submit: load aq.tail (closed?)         seq_cst, as D6 in scq.h
 *   S1  submit: fetch_add shard.submitted             relaxed: ordered before the publish E4
 *                                                     (a release), see "idle" below
 *   S2  failed submit: fetch_sub shard.submitted      relaxed, same reason
 *   P1  worker: store started                         relaxed: statistics; P2 releases it
 *   P2  worker: store completed / failed              release; pairs with A1
 *   P3  shutdown: store cancelled                     release; pairs with A1
 *   A1  wait_idle/stats: load completed, failed,      acquire; pairs with P2/P3: makes every
 *       cancelled                                     S1 of the finished jobs visible to A2
 *   A2  wait_idle/stats: load shard.submitted         relaxed: sequenced after A1
 *   I1  worker: fence before waking idle waiters      seq_cst; pairs with W2 of wait_idle
 *   X1  worker exit: fetch_sub live                   seq_cst (the publish before N1 of
 *                                                     `exited`); pairs with X2
 *   X2  shutdown: load live                           seq_cst, after W2 of `exited`
 *   C1  shutdown: store cancel / C2 worker: load it   relaxed: a hint deciding run or hand
 *                                                     back for a job already dequeued; both
 *                                                     are correct, and the job's data came
 *                                                     through D3
 *
 * Idle: a job counts as finished when P2 (or P3) has stored it. Each finished job's S1 is
 * visible to whoever reads its P2/P3 with A1 (S1 -> E4 -> D3 -> job -> P2 -> A1). So with the
 * finished counts read first (A1) and the submitted shards after (A2), finished <= submitted
 * in every reading, and equality means every submit seen had finished by the moment between
 * the two phases: the pool was idle then. A job submitting a job does its S1 before its own
 * P2, so a tree of jobs is idle only when all of it is done.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lfq/pool.h>

#include "pool_internal.h"

/* Most free slots a sleeping submit_wait waits for before a worker wakes it (see copy_out). */
#define WAKE_FREE_MAX 64

/* Tries a submit_wait makes (with a pause between them) before it sleeps. */
#define SUBMIT_WAIT_SPINS 16

/* The worker running on this thread, if any: for lfq_pool_worker_index and -EDEADLK. */
static _Thread_local struct lfq__pool_worker *tls_worker;
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

static bool in_own_job(const struct lfq_pool *pool)
{
	return tls_worker && tls_worker->pool == pool;
}

/* ---------------------------------------------------------------------------------------- */
/* The queue. */

/* K2: the closed bit of aq's tail, with the tail value it came with. */
static uint64_t closed_tail(struct lfq_pool *pool)
{
	return atomic_load_explicit(&pool->aq.tail, memory_order_seq_cst);
}

/* Accepts *job into a slot without the wake-up: returns 0, -EAGAIN or -ESHUTDOWN. */
static int submit_one(struct lfq_pool *pool, const struct lfq_job *job)
{
	const uint64_t i = lfq__scq_dequeue(&pool->fq, LFQ_TP_NONE);

	if (i == LFQ_SCQ_EMPTY)
		return (closed_tail(pool) & LFQ_SCQ_CLOSED) ? -ESHUTDOWN : -EAGAIN;
	pool->slots[i] = *job; /* ours alone: we hold index i */
	struct lfq__pool_shard *shard = my_shard(pool);

	/* S1: counted before it can run (the E4 below releases it); see "Idle" above. */
	atomic_fetch_add_explicit(&shard->submitted, 1, memory_order_relaxed);
	if (!lfq__scq_enqueue(&pool->aq, i, true, LFQ_TP_NONE, LFQ_TP_NONE)) {
		/* Shut down before our ticket: not accepted; the slot goes back. */
		atomic_fetch_sub_explicit(&shard->submitted, 1, memory_order_relaxed); /* S2 */
		lfq__scq_enqueue(&pool->fq, i, false, LFQ_TP_NONE, LFQ_TP_NONE);
		/* A wait_idle may have seen our S1 and be asleep waiting for it. I1: the S2
		 * above is then visible to its re-check, or N1 sees it waiting. */
		atomic_thread_fence(memory_order_seq_cst);
		lfq__waitq_notify(&pool->idle, LFQ_WAITQ_ALL);
		return -ESHUTDOWN;
	}
	return 0;
}

/* Dequeues a job's slot index: returns 0, -EAGAIN (empty) or -EPIPE (shut down, drained). */
static int take_one(struct lfq_pool *pool, uint64_t *slot)
{
	uint64_t i = lfq__scq_dequeue(&pool->aq, LFQ_TP_NONE);

	if (i == LFQ_SCQ_EMPTY) {
		const uint64_t t = closed_tail(pool);

		if (!(t & LFQ_SCQ_CLOSED))
			return -EAGAIN;
		i = lfq__scq_drain(&pool->aq, t & ~LFQ_SCQ_CLOSED, LFQ_TP_NONE);
		if (i == LFQ_SCQ_EMPTY)
			return -EPIPE;
	}
	*slot = i;
	return 0;
}

/* Free slots: a snapshot, never above the capacity. Relaxed: a hint for the wake-up
 * hysteresis only; fq's own tickets are ordered by the ring. After our own enqueue on fq its
 * tail is at least our ticket, so the last slot freed always sees the queue's final state. */
static size_t free_slots(struct lfq_pool *pool)
{
	const uint64_t head = atomic_load_explicit(&pool->fq.head, memory_order_relaxed);
	const uint64_t tail = atomic_load_explicit(&pool->fq.tail, memory_order_relaxed);
	const uint64_t n = tail > head ? tail - head : 0;

	return n > pool->capacity ? pool->capacity : (size_t)n;
}

/* Copies the job out of slot i and frees the slot (waking one submit_wait if any sleeps). */
static void copy_out(struct lfq_pool *pool, uint64_t i, struct lfq_job *job)
{
	*job = pool->slots[i]; /* ours alone until the enqueue below */
	lfq__scq_enqueue(&pool->fq, i, false, LFQ_TP_NONE, LFQ_TP_NONE);
	/* N1 (as in waitq.h): pairs with W1/W2 of a sleeping submit_wait. Only when one sleeps,
	 * and only once wake_free slots are free (hysteresis): waking a submitter for every
	 * freed slot costs a system call and a context switch per job when the queue is full
	 * (measured: 1 us jobs ran at half the rate). Not lost: the submitter slept on a full
	 * queue, so every later slot freed passes here, and the queue drains past wake_free
	 * while there are jobs; shutdown wakes everyone. */
	if (atomic_load_explicit(&pool->not_full.waiters, memory_order_seq_cst) != 0 &&
	    free_slots(pool) >= pool->wake_free)
		lfq__waitq_wake(&pool->not_full, LFQ_WAITQ_ALL);
}

/* Stops intake: K1, then wake everyone who waits for a change. */
static void close_intake(struct lfq_pool *pool)
{
	/* K1: from here on every aq ticket carries the bit and its submit fails. */
	atomic_fetch_or_explicit(&pool->aq.tail, LFQ_SCQ_CLOSED, memory_order_seq_cst);
	lfq__waitq_notify(&pool->not_empty, LFQ_WAITQ_ALL);
	lfq__waitq_notify(&pool->not_full, LFQ_WAITQ_ALL);
}

/* ---------------------------------------------------------------------------------------- */
/* Counters. */

struct totals {
	uint64_t started, completed, failed, cancelled, submitted;
};

/* Reads the finished counts (A1) before the submitted shards (A2); see "Idle" above. */
static void read_totals(struct lfq_pool *pool, struct totals *t,
			struct lfq_pool_worker_stats *per_worker, size_t n)
{
	memset(t, 0, sizeof(*t));
	for (unsigned w = 0; w < pool->nworkers; w++) {
		struct lfq__pool_worker *wk = &pool->workers[w];
		/* A1: pairs with P2; the worker's P1 and its jobs' S1 are visible after it. */
		const uint64_t c = atomic_load_explicit(&wk->completed, memory_order_acquire);
		const uint64_t f = atomic_load_explicit(&wk->failed, memory_order_acquire);
		/* Relaxed: read after A1, so at least the jobs counted in c + f. */
		const uint64_t s = atomic_load_explicit(&wk->started, memory_order_relaxed);

		t->completed += c;
		t->failed += f;
		t->started += s;
		if (w < n) {
			per_worker[w].completed = c;
			per_worker[w].failed = f;
			per_worker[w].cpu = wk->cpu;
		}
	}
	/* A1: pairs with P3. */
	t->cancelled = atomic_load_explicit(&pool->cancelled, memory_order_acquire);
	for (unsigned s = 0; s < LFQ_POOL_SHARDS; s++)
		/* A2: sequenced after every A1 above. */
		t->submitted +=
			atomic_load_explicit(&pool->shards[s].submitted, memory_order_relaxed);
}

static bool is_idle(struct lfq_pool *pool)
{
	struct totals t;

	read_totals(pool, &t, NULL, 0);
	return t.completed + t.failed + t.cancelled >= t.submitted;
}

/* Called by a worker that finished jobs and then found the queue empty (or is exiting): the
 * pool may be idle now. Costs a fence only on that transition, and a wake-up only if some
 * thread sleeps in wait_idle. */
static void notify_idle(struct lfq_pool *pool)
{
	/* I1: orders this worker's P2 stores before N1's load of the waiter count; pairs with
	 * W2 in wait_idle (Dekker: N1 sees the waiter, or its re-check sees our P2). */
	atomic_thread_fence(memory_order_seq_cst);
	lfq__waitq_notify(&pool->idle, LFQ_WAITQ_ALL);
}

/* ---------------------------------------------------------------------------------------- */
/* Workers. */

/* The queue was empty: spin idle_spin tries, then sleep until a submit (or shutdown) wakes
 * us. Returns 0 with a slot in *slot, or -EPIPE once shut down and drained. */
static int wait_for_job(struct lfq_pool *pool, uint64_t *slot)
{
	int rc;

	for (unsigned i = 0; i < pool->idle_spin; i++) {
		lfq__cpu_relax();
		rc = take_one(pool, slot);
		if (rc != -EAGAIN)
			return rc;
	}
	for (;;) {
		const uint32_t key = lfq__waitq_prepare(&pool->not_empty);

		rc = take_one(pool, slot);
		if (rc != -EAGAIN) {
			lfq__waitq_done(&pool->not_empty);
			return rc;
		}
		if (!lfq__waitq_sleep(&pool->not_empty, key, -1))
			lfq__waitq_done(&pool->not_empty);
	}
}

static void set_thread_name(const struct lfq__pool_worker *w)
{
	char name[16];

	snprintf(name, sizeof(name), "%s%u", w->pool->name, w->index);
	(void)pthread_setname_np(pthread_self(), name); /* cosmetic: failure is harmless */
}

static void *worker_main(void *arg)
{
	struct lfq__pool_worker *w = arg;
	struct lfq_pool *pool = w->pool;
	/* Local copies of this worker's counters: it is their only writer. */
	uint64_t started = 0, completed = 0, failed = 0;
	bool finished_some = false;

	tls_worker = w;
	set_thread_name(w);
	for (;;) {
		uint64_t slot;
		int rc = take_one(pool, &slot);

		if (rc == -EAGAIN) {
			if (finished_some) {
				notify_idle(pool);
				finished_some = false;
			}
			rc = wait_for_job(pool, &slot);
		}
		if (rc != 0)
			break; /* -EPIPE: shut down and drained */

		struct lfq_job job;

		copy_out(pool, slot, &job);
		/* C2: relaxed, see the table. */
		if (atomic_load_explicit(&pool->cancel, memory_order_relaxed)) {
			w->stash = job; /* read by the joiner after pthread_join */
			w->stashed = true;
			break;
		}
		/* P1: statistics only (P2 releases it). */
		atomic_store_explicit(&w->started, ++started, memory_order_relaxed);
		const int result = job.fn(job.arg);

		if (result == 0) {
			/* P2: the job and everything it did (its submits' S1 included) is
			 * finished; pairs with A1. */
			atomic_store_explicit(&w->completed, ++completed, memory_order_release);
		} else {
			/* The hook runs before the job counts as finished: wait_idle covers it. */
			if (pool->on_error)
				pool->on_error(&job, result, pool->ctx);
			/* P2, as above. */
			atomic_store_explicit(&w->failed, ++failed, memory_order_release);
		}
		finished_some = true;
	}
	tls_worker = NULL;
	notify_idle(pool);
	/* X1: the publish before N1 of `exited`; pairs with X2 in wait_exited. */
	atomic_fetch_sub_explicit(&pool->live, 1, memory_order_seq_cst);
	lfq__waitq_notify(&pool->exited, LFQ_WAITQ_ALL);
	return NULL;
}

/* Waits until every worker has left its loop, or the deadline (< 0: none) passes. */
static bool wait_exited(struct lfq_pool *pool, int64_t deadline)
{
	for (;;) {
		const uint32_t key = lfq__waitq_prepare(&pool->exited);
		/* X2: after W2; pairs with X1. */
		const unsigned live = atomic_load_explicit(&pool->live, memory_order_seq_cst);

		if (live == 0 || (deadline >= 0 && lfq__now_ns() >= deadline)) {
			lfq__waitq_done(&pool->exited);
			return live == 0;
		}
		if (!lfq__waitq_sleep(&pool->exited, key, deadline))
			lfq__waitq_done(&pool->exited);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Create and destroy. */

static bool all_zero(const uint64_t *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (words[i])
			return false;
	return true;
}

static unsigned order_for(size_t capacity)
{
	unsigned order = 0;

	while (((size_t)1 << order) < capacity)
		order++;
	return order;
}

static size_t round_up(size_t n, size_t align)
{
	return (n + align - 1) / align * align;
}

/* The CPUs this process may run on (sched_getaffinity already leaves out offline ones). */
struct cpu_mask {
	cpu_set_t *set;
	size_t size;
	long nconf;
};

static int cpu_mask_get(struct cpu_mask *m)
{
	m->nconf = sysconf(_SC_NPROCESSORS_CONF);
	if (m->nconf < 1)
		m->nconf = 1;
	const long nalloc = m->nconf > CPU_SETSIZE ? m->nconf : CPU_SETSIZE;

	m->set = CPU_ALLOC((int)nalloc);
	if (!m->set)
		return -ENOMEM;
	m->size = CPU_ALLOC_SIZE((int)nalloc);
	CPU_ZERO_S(m->size, m->set);
	if (sched_getaffinity(0, m->size, m->set) != 0) {
		const int err = errno;

		CPU_FREE(m->set);
		return -err;
	}
	return 0;
}

static bool cpu_usable(const struct cpu_mask *m, unsigned cpu)
{
	return (long)cpu < m->nconf && (size_t)cpu < m->size * 8 &&
	       CPU_ISSET_S(cpu, m->size, m->set);
}

static int validate(const struct lfq_pool_config *cfg)
{
	if (cfg->workers > LFQ_POOL_WORKERS_MAX || cfg->queue_capacity > LFQ_POOL_CAPACITY_MAX ||
	    (cfg->flags & ~LFQ_POOL_NO_PIN) || (!cfg->cpus != !cfg->ncpus) ||
	    (cfg->cpus && (cfg->flags & LFQ_POOL_NO_PIN)) ||
	    !all_zero(cfg->reserved, sizeof(cfg->reserved) / sizeof(cfg->reserved[0])))
		return -EINVAL;
	if (cfg->name && strlen(cfg->name) > sizeof(((struct lfq_pool *)0)->name) - 1)
		return -EINVAL;
	return 0;
}

/* Frees everything create allocated; the workers are already joined (or never started). */
static void free_pool(struct lfq_pool *pool)
{
	free(pool->workers);
	free(pool->slots);
	free(pool->entries);
	free(pool);
}

/* Starts the workers; on failure stops and joins those that started. */
static int start_workers(struct lfq_pool *pool, const struct cpu_mask *mask)
{
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);

	if (err)
		return -err;
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct lfq__pool_worker *w = &pool->workers[i];

		if (w->cpu >= 0) {
			CPU_ZERO_S(mask->size, mask->set);
			CPU_SET_S((size_t)w->cpu, mask->size, mask->set);
			err = pthread_attr_setaffinity_np(&attr, mask->size, mask->set);
		}
		if (!err)
			err = pthread_create(&w->thread, &attr, worker_main, w);
		if (err) {
			/* Stop the ones running: they see the close, drain nothing, exit. */
			atomic_fetch_sub_explicit(&pool->live, pool->nworkers - i,
						  memory_order_seq_cst); /* X1 for the unstarted */
			close_intake(pool);
			for (unsigned j = 0; j < i; j++)
				pthread_join(pool->workers[j].thread, NULL);
			pthread_attr_destroy(&attr);
			return -err;
		}
	}
	pthread_attr_destroy(&attr);
	return 0;
}

int lfq_pool_create(struct lfq_pool **out, const struct lfq_pool_config *cfg)
{
	static const struct lfq_pool_config defaults;

	if (!out)
		return -EINVAL;
	if (!cfg)
		cfg = &defaults;
	int rc = validate(cfg);

	if (rc)
		return rc;
	struct cpu_mask mask;

	rc = cpu_mask_get(&mask);
	if (rc)
		return rc;
	for (size_t i = 0; i < cfg->ncpus; i++) {
		if (!cpu_usable(&mask, cfg->cpus[i])) {
			CPU_FREE(mask.set);
			return -EINVAL;
		}
	}
	/* The allowed CPUs in order: the default pinning and the default worker count. */
	const unsigned nallowed = (unsigned)CPU_COUNT_S(mask.size, mask.set);
	const bool pin = !(cfg->flags & LFQ_POOL_NO_PIN);
	const unsigned nworkers = cfg->workers ? cfg->workers : (nallowed ? nallowed : 1);
	const size_t capacity =
		cfg->queue_capacity ? cfg->queue_capacity : LFQ_POOL_DEFAULT_CAPACITY;
	const unsigned order = order_for(capacity);
	const size_t ring_bytes = lfq__scq_entries(order) * sizeof(_Atomic uint64_t);

	struct lfq_pool *pool =
		aligned_alloc(LFQ_CACHE_LINE, round_up(sizeof(*pool), LFQ_CACHE_LINE));
	if (!pool) {
		CPU_FREE(mask.set);
		return -ENOMEM;
	}
	memset(pool, 0, sizeof(*pool));
	pool->entries = aligned_alloc(LFQ_CACHE_LINE, round_up(2 * ring_bytes, LFQ_CACHE_LINE));
	pool->slots = aligned_alloc(LFQ_CACHE_LINE,
				    round_up(capacity * sizeof(struct lfq_job), LFQ_CACHE_LINE));
	pool->workers =
		aligned_alloc(LFQ_CACHE_LINE,
			      round_up(nworkers * sizeof(struct lfq__pool_worker), LFQ_CACHE_LINE));
	if (!pool->entries || !pool->slots || !pool->workers) {
		free_pool(pool);
		CPU_FREE(mask.set);
		return -ENOMEM;
	}
	rc = -pthread_mutex_init(&pool->shutdown_lock, NULL);
	if (rc) {
		free_pool(pool);
		CPU_FREE(mask.set);
		return rc;
	}

	lfq__scq_init(&pool->aq, (_Atomic uint64_t *)pool->entries, order, 0);
	lfq__scq_init(&pool->fq, (_Atomic uint64_t *)((char *)pool->entries + ring_bytes), order,
		      capacity);
	pool->capacity = capacity;
	/* Sleeping submitters are woken once this many slots are free: half the queue, at most
	 * WAKE_FREE_MAX (so a big queue does not make them wait for thousands of jobs). */
	pool->wake_free = capacity / 2 < 1		 ? 1
			  : capacity / 2 > WAKE_FREE_MAX ? WAKE_FREE_MAX
							 : capacity / 2;
	pool->nworkers = nworkers;
	pool->idle_spin = cfg->idle_spin ? cfg->idle_spin : LFQ_POOL_DEFAULT_IDLE_SPIN;
	pool->on_error = cfg->on_error;
	pool->on_cancelled = cfg->on_cancelled;
	pool->ctx = cfg->ctx;
	snprintf(pool->name, sizeof(pool->name), "%s", cfg->name ? cfg->name : "lfq-w");
	lfq__waitq_init(&pool->not_empty);
	lfq__waitq_init(&pool->not_full);
	lfq__waitq_init(&pool->idle);
	lfq__waitq_init(&pool->exited);
	/* Relaxed initial stores: pthread_create publishes them to the workers. */
	atomic_init(&pool->live, nworkers);
	atomic_init(&pool->cancel, false);
	atomic_init(&pool->cancelled, 0);
	for (unsigned s = 0; s < LFQ_POOL_SHARDS; s++)
		atomic_init(&pool->shards[s].submitted, 0);

	/* Worker i's CPU: cpus[i % ncpus], or the (i % nallowed)-th allowed CPU. */
	unsigned *allowed = NULL;

	if (pin && !cfg->cpus) {
		allowed = malloc((nallowed ? nallowed : 1) * sizeof(*allowed));
		if (!allowed) {
			pthread_mutex_destroy(&pool->shutdown_lock);
			free_pool(pool);
			CPU_FREE(mask.set);
			return -ENOMEM;
		}
		unsigned k = 0;

		for (long c = 0; c < (long)(mask.size * 8) && k < nallowed; c++)
			if (CPU_ISSET_S((size_t)c, mask.size, mask.set))
				allowed[k++] = (unsigned)c;
	}
	for (unsigned i = 0; i < nworkers; i++) {
		struct lfq__pool_worker *w = &pool->workers[i];

		memset(w, 0, sizeof(*w));
		atomic_init(&w->started, 0);
		atomic_init(&w->completed, 0);
		atomic_init(&w->failed, 0);
		w->pool = pool;
		w->index = i;
		if (!pin || (!cfg->cpus && nallowed == 0))
			w->cpu = -1;
		else
			w->cpu = (int)(cfg->cpus ? cfg->cpus[i % cfg->ncpus]
						 : allowed[i % nallowed]);
	}
	free(allowed);

	rc = start_workers(pool, &mask);
	CPU_FREE(mask.set);
	if (rc) {
		pthread_mutex_destroy(&pool->shutdown_lock);
		free_pool(pool);
		return rc;
	}
	*out = pool;
	return 0;
}

void lfq_pool_destroy(struct lfq_pool *pool)
{
	if (!pool)
		return;
	assert(!in_own_job(pool));
	/* With no timeout every accepted job runs; the result can only be 0. */
	const int rc = lfq_pool_shutdown(pool, -1);

	assert(rc == 0);
	(void)rc;
	pthread_mutex_destroy(&pool->shutdown_lock);
	free_pool(pool);
}

/* ---------------------------------------------------------------------------------------- */
/* Submitting, waiting, shutting down. */

int lfq_pool_submit(struct lfq_pool *pool, const struct lfq_job *job)
{
	assert(pool && job && job->fn);
	assert(all_zero(job->reserved, sizeof(job->reserved) / sizeof(job->reserved[0])));
	const int rc = submit_one(pool, job);

	if (rc == 0)
		lfq__waitq_notify(&pool->not_empty, 1);
	return rc;
}

int lfq_pool_submit_wait(struct lfq_pool *pool, const struct lfq_job *job, int64_t timeout_ns)
{
	assert(pool && job && job->fn);
	assert(all_zero(job->reserved, sizeof(job->reserved) / sizeof(job->reserved[0])));
	int rc = submit_one(pool, job);

	if (rc == -EAGAIN && timeout_ns != 0) {
		const int64_t deadline = lfq__deadline(timeout_ns);

		for (unsigned i = 0; i < SUBMIT_WAIT_SPINS && rc == -EAGAIN; i++) {
			lfq__cpu_relax();
			rc = submit_one(pool, job);
		}
		while (rc == -EAGAIN) {
			const uint32_t key = lfq__waitq_prepare(&pool->not_full);

			rc = submit_one(pool, job);
			if (rc == -EAGAIN && deadline >= 0 && lfq__now_ns() >= deadline)
				rc = -ETIMEDOUT;
			if (rc != -EAGAIN || !lfq__waitq_sleep(&pool->not_full, key, deadline))
				lfq__waitq_done(&pool->not_full);
		}
	}
	if (rc == 0)
		lfq__waitq_notify(&pool->not_empty, 1);
	return rc;
}

int lfq_pool_wait_idle(struct lfq_pool *pool, int64_t timeout_ns)
{
	assert(pool);
	if (in_own_job(pool))
		return -EDEADLK;
	if (is_idle(pool))
		return 0;
	if (timeout_ns == 0)
		return -EAGAIN;
	const int64_t deadline = lfq__deadline(timeout_ns);

	for (;;) {
		/* W1-W3: announce, then re-check (pairs with I1 in the workers). */
		const uint32_t key = lfq__waitq_prepare(&pool->idle);
		const bool idle = is_idle(pool);

		if (idle || (deadline >= 0 && lfq__now_ns() >= deadline)) {
			lfq__waitq_done(&pool->idle);
			return idle ? 0 : -ETIMEDOUT;
		}
		if (!lfq__waitq_sleep(&pool->idle, key, deadline))
			lfq__waitq_done(&pool->idle);
	}
}

/* Hands one job back (shutdown_lock held: the only writer of `cancelled`). */
static void hand_back(struct lfq_pool *pool, const struct lfq_job *job)
{
	pool->on_cancelled(job, pool->ctx);
	const uint64_t n = atomic_load_explicit(&pool->cancelled, memory_order_relaxed) + 1;

	/* P3: the job is finished as far as wait_idle goes; pairs with A1. */
	atomic_store_explicit(&pool->cancelled, n, memory_order_release);
}

int lfq_pool_shutdown(struct lfq_pool *pool, int64_t drain_timeout_ns)
{
	assert(pool);
	const int64_t deadline = lfq__deadline(drain_timeout_ns);

	close_intake(pool);
	if (in_own_job(pool))
		return -EDEADLK;

	pthread_mutex_lock(&pool->shutdown_lock);
	if (pool->joined) {
		pthread_mutex_unlock(&pool->shutdown_lock);
		return 0;
	}
	int rc = 0;

	if (!wait_exited(pool, deadline)) {
		rc = -ETIMEDOUT;
		if (pool->on_cancelled) {
			/* C1: workers that dequeue a job from now on hand it back. */
			atomic_store_explicit(&pool->cancel, true, memory_order_relaxed);
			uint64_t slot;

			while (take_one(pool, &slot) == 0) {
				struct lfq_job job;

				copy_out(pool, slot, &job);
				hand_back(pool, &job);
			}
		}
	}
	for (unsigned i = 0; i < pool->nworkers; i++)
		pthread_join(pool->workers[i].thread, NULL);
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct lfq__pool_worker *w = &pool->workers[i];

		if (w->stashed) {
			hand_back(pool, &w->stash);
			w->stashed = false;
		}
	}
	pool->joined = true;
	pthread_mutex_unlock(&pool->shutdown_lock);
	notify_idle(pool); /* cancelled jobs count as finished */
	return rc;
}

int lfq_pool_stats(const struct lfq_pool *pool, struct lfq_pool_stats *stats,
		   struct lfq_pool_worker_stats *per_worker, size_t n)
{
	if (!pool || !stats || (!per_worker && n > 0))
		return -EINVAL;
	struct lfq_pool *p = (struct lfq_pool *)pool; /* atomic loads need non-const */
	struct totals t;

	read_totals(p, &t, per_worker, n);
	const uint64_t finished = t.completed + t.failed;

	stats->submitted = t.submitted;
	stats->completed = t.completed;
	stats->failed = t.failed;
	stats->cancelled = t.cancelled;
	stats->running = t.started > finished ? t.started - finished : 0;
	stats->queued =
		t.submitted > t.started + t.cancelled ? t.submitted - t.started - t.cancelled : 0;
	stats->workers = pool->nworkers;
	return 0;
}

int lfq_pool_worker_index(const struct lfq_pool *pool)
{
	return in_own_job(pool) ? (int)tls_worker->index : -1;
}
