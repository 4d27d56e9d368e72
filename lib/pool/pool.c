/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool: worker threads fed by one SCQ ring of job slots (see pool_internal.h for the
 * layout and docs/design.md section 3 for the design and the measurements behind it).
 *
 * The pool's sources, by concern:
 *   pool.c           create and destroy
 *   pool_hooks.c     the hooks every part calls (log, on_dead)
 *   pool_config.c    validation, defaults, sizes, CPU pinning
 *   pool_submit.c    submit, submit_wait
 *   pool_worker.c    the worker loop: take, run, retry, sleep
 *   pool_shutdown.c  wait_idle, shutdown, handing back what did not start
 *   pool_stats.c     counters and stats (the "Idle" argument)
 *   pool_slots.[ch]  the slot queue; pool_timer.c the retry heap; pool_metrics.c metrics
 * Each file lists the memory-order labels it uses; together they pair as the comments say.
 * Calls go one way: pool.c calls the others; none calls back into pool.c (the helpers they
 * share are in pool_hooks.c, pool_stats.c and pool_timer.c). One cycle is left: a worker's
 * take asks pool_cancel.c whether the job was cancelled, and a cancel frees the slot
 * through pool_worker.c.
 * This file's atomics are initial values (pthread_create publishes them) and X1 for workers
 * that never started (pool_worker.c).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lfq/pool.h>

#include "histogram.h"
#include "pool_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Create. */

static size_t round_up(size_t n, size_t align)
{
	return (n + align - 1) / align * align;
}

/* Frees everything create allocated; the workers are already joined (or never started). */
void lfq__pool_free(struct lfq_pool *pool)
{
	if (pool->workers) {
		for (unsigned i = 0; i < pool->nworkers; i++)
			free(pool->workers[i].hist);
	}
	free(pool->workers);
	free(pool->slots);
	free(pool->slot_state);
	lfq__comp_fini(pool);
	lfq__slotq_fini(&pool->q);
	free(pool);
}

/* Starts the workers; on failure stops and joins those that started. */
static int start_workers(struct lfq_pool *pool, const struct lfq__cpu_mask *mask)
{
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);

	if (err)
		return -err;
	/* Workers start with process signals blocked (pool_context.c). */
	sigset_t sigs;

	lfq__pool_worker_sigmask(&sigs);
	err = pthread_attr_setsigmask_np(&attr, &sigs);
	if (err) {
		pthread_attr_destroy(&attr);
		return -err;
	}
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct lfq__pool_worker *w = &pool->workers[i];

		if (w->cpu >= 0) {
			CPU_ZERO_S(mask->size, mask->set);
			CPU_SET_S((size_t)w->cpu, mask->size, mask->set);
			err = pthread_attr_setaffinity_np(&attr, mask->size, mask->set);
		}
		if (!err)
			err = pthread_create(&w->thread, &attr, lfq__pool_worker_main, w);
		if (err) {
			/* Stop the ones running: they see the close, drain nothing, exit. */
			atomic_fetch_sub_explicit(&pool->live, pool->nworkers - i,
						  memory_order_seq_cst); /* X1 for the unstarted */
			lfq__pool_close_intake(pool);
			for (unsigned j = 0; j < i; j++)
				pthread_join(pool->workers[j].thread, NULL);
			pthread_attr_destroy(&attr);
			return -err;
		}
	}
	pthread_attr_destroy(&attr);
	return 0;
}

/* Allocates the pool, its slot queue, slots and workers (and with metrics their
 * histograms), all zeroed: 0 or -ENOMEM (nothing left allocated). */
static int alloc_pool(struct lfq_pool **out, const struct lfq__pool_sizes *sz,
		      const struct lfq__pool_layout *lay, bool metrics)
{
	struct lfq_pool *pool =
		aligned_alloc(LFQ_CACHE_LINE, round_up(sizeof(*pool), LFQ_CACHE_LINE));

	if (!pool)
		return -ENOMEM;
	memset(pool, 0, sizeof(*pool));
	/* The slot queue's rings: at most lay->entries_bytes on either backend (a cell ring of n
	 * indices takes 16 n bytes, an SCQ index ring 16 * 2^order). */
	const int qrc = lfq__slotq_init(&pool->q, sz->capacity, sz->levels);
	pool->slots = aligned_alloc(LFQ_CACHE_LINE, (size_t)lay->slots_bytes);
	pool->workers = aligned_alloc(LFQ_CACHE_LINE, (size_t)lay->workers_bytes);
	if (pool->workers)
		memset(pool->workers, 0, sz->nworkers * sizeof(struct lfq__pool_worker));
	pool->nworkers = sz->nworkers;
	bool hists_ok = true;

	for (unsigned i = 0; pool->workers && metrics && i < sz->nworkers; i++) {
		/* Each worker's two histograms on lines of their own. */
		pool->workers[i].hist = aligned_alloc(
			LFQ_CACHE_LINE, round_up(2 * sizeof(struct lfq__hist), LFQ_CACHE_LINE));
		if (!pool->workers[i].hist) {
			hists_ok = false;
			break;
		}
		lfq__hist_init(&pool->workers[i].hist[0]);
		lfq__hist_init(&pool->workers[i].hist[1]);
	}
	if (qrc != 0 || !pool->slots || !pool->workers || !hists_ok) {
		lfq__pool_free(pool);
		return -ENOMEM;
	}
	*out = pool;
	return 0;
}

/* The wait queues, the shared counters and each worker's identity. */
static void init_state(struct lfq_pool *pool)
{
	lfq__waitq_init(&pool->not_empty);
	lfq__waitq_init(&pool->not_full);
	lfq__waitq_init(&pool->idle);
	lfq__waitq_init(&pool->exited);
	/* Relaxed initial stores: pthread_create publishes them to the workers. */
	atomic_init(&pool->live, pool->nworkers);
	atomic_init(&pool->cancel, false);
	atomic_init(&pool->spinning, 0);
	atomic_init(&pool->waking, 0);
	atomic_init(&pool->cancelled, 0);
	for (unsigned s = 0; s < LFQ_POOL_SHARDS; s++)
		for (unsigned l = 0; l < LFQ_POOL_PRIORITIES_MAX; l++) {
			atomic_init(&pool->shards[s].submitted[l], 0);
			atomic_init(&pool->shards[s].accepted[l], 0);
		}
	for (unsigned l = 0; l < LFQ_POOL_PRIORITIES_MAX; l++)
		atomic_init(&pool->reaped[l], 0);
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct lfq__pool_worker *w = &pool->workers[i];

		/* Already zeroed (the histograms are kept): every counter starts at 0. */
		w->pool = pool;
		w->rng = 0x6c6671706f6f6cull ^ ((uint64_t)i << 32) ^ (uint64_t)(uintptr_t)pool;
		w->index = i;
	}
}

/* Builds a pool ready to start its workers: sizes, memory, settings, CPUs. */
static int build_pool(struct lfq_pool **out, const struct lfq_pool_config *cfg,
		      const struct lfq__cpu_mask *mask)
{
	int rc = lfq__pool_check_cpus(cfg, mask);

	if (rc)
		return rc;
	struct lfq__pool_sizes sz;
	struct lfq__pool_layout lay;

	lfq__pool_sizes(cfg, mask, &sz);
	rc = lfq__pool_layout(sz.capacity, sz.levels, sz.nworkers, SIZE_MAX, &lay);
	if (rc)
		return rc;
	struct lfq_pool *pool;

	rc = alloc_pool(&pool, &sz, &lay, (cfg->flags & LFQ_POOL_METRICS) != 0);
	if (rc)
		return rc;
	/* Issue 14: the slots' id states, and the completion channel if asked for. */
	pool->slot_state = calloc(sz.capacity, sizeof(*pool->slot_state));
	rc = !pool->slot_state			 ? -ENOMEM
	     : cfg->flags & LFQ_POOL_COMPLETIONS ? lfq__comp_init(pool, sz.capacity + sz.nworkers)
						 : 0;
	if (rc) {
		lfq__pool_free(pool);
		return rc;
	}
	rc = -pthread_mutex_init(&pool->shutdown_lock, NULL);
	if (rc) {
		lfq__pool_free(pool);
		return rc;
	}
	rc = lfq__timers_init(&pool->timers);
	if (rc) {
		pthread_mutex_destroy(&pool->shutdown_lock);
		lfq__pool_free(pool);
		return rc;
	}
	pool->levels = sz.levels;
	pool->capacity = sz.capacity;
	lfq__pool_apply_config(pool, cfg);
	const unsigned ncpus = lfq__pool_cpu_count(mask);

	pool->idle_spin = lfq__pool_spin_budget(cfg->idle_spin, sz.nworkers, ncpus);
	pool->spin_cap = lfq__pool_spin_cap(cfg->idle_spin, sz.nworkers, ncpus);
	init_state(pool);
	rc = lfq__pool_assign_cpus(pool, cfg, mask);
	if (rc) {
		pthread_mutex_destroy(&pool->shutdown_lock);
		lfq__timers_fini(&pool->timers);
		lfq__pool_free(pool);
		return rc;
	}
	*out = pool;
	return 0;
}

static void log_started(const struct lfq_pool *pool)
{
	const struct lfq_log_field f[] = {
		{.key = "pool", .str = pool->name},
		{.key = "workers", .num = pool->nworkers},
		{.key = "capacity", .num = (int64_t)pool->capacity},
		{.key = "priorities", .num = pool->levels},
		{.key = "metrics", .str = pool->metrics ? "on" : "off"},
	};

	lfq__pool_log(pool, LFQ_LOG_INFO, "pool started", f, sizeof(f) / sizeof(f[0]));
}

int lfq_pool_create(struct lfq_pool **out, const struct lfq_pool_config *cfg)
{
	static const struct lfq_pool_config defaults;

	if (!out)
		return -EINVAL;
	if (!cfg)
		cfg = &defaults;
	int rc = lfq__pool_validate(cfg);

	if (rc)
		return rc;
	struct lfq__cpu_mask mask;

	rc = lfq__cpu_mask_get(&mask);
	if (rc)
		return rc;
	struct lfq_pool *pool = NULL;

	rc = build_pool(&pool, cfg, &mask);
	if (rc == 0) {
		rc = start_workers(pool, &mask);
		if (rc) {
			const struct lfq_log_field f[] = {{.key = "err", .num = rc}};

			lfq__pool_log(pool, LFQ_LOG_ERROR, "cannot start the workers", f, 1);
			pthread_mutex_destroy(&pool->shutdown_lock);
			lfq__timers_fini(&pool->timers);
			lfq__pool_free(pool);
		}
	}
	lfq__cpu_mask_free(&mask);
	if (rc)
		return rc;
	log_started(pool);
	*out = pool;
	return 0;
}

int lfq_pool_destroy(struct lfq_pool *pool)
{
	if (!pool)
		return 0;
	/* Refused in every build (issue 24: only asserted before, and in release builds the
	 * pool was freed under its running workers). Checked before anything changes. */
	if (lfq__pool_waits_for_itself(pool))
		return -EDEADLK;
	/* With no timeout every accepted job runs (after an earlier shutdown: 0 at once). */
	const int rc = lfq_pool_shutdown(pool, -1);

	(void)rc;
	/* Jobs a timed-out shutdown kept and the owner did not take back: discarded, each
	 * counted as cancelled, logged ("job dead") and given a completion record. */
	lfq__pool_discard_unstarted(pool);
	pthread_mutex_destroy(&pool->shutdown_lock);
	lfq__timers_fini(&pool->timers);
	lfq__pool_free(pool);
	return 0;
}
