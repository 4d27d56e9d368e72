/* SPDX-License-Identifier: MIT */
/* GLib's GThreadPool as a benchmark peer: see glib_pool_peer.h. */
#include "glib_pool_peer.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <glib.h>

struct glib_pool {
	GThreadPool *tp;
	_Atomic(int (*)(void *)) fn;
	_Atomic uint64_t pending; /* submitted, not yet returned */
	_Atomic int next_index;	  /* hands out worker indices */
	uint64_t generation;	  /* tells this pool's threads from earlier pools' */
	GMutex lock;
	GCond idle;
};

/* Which pool the calling thread's index belongs to. */
static _Thread_local uint64_t tls_generation;
static _Thread_local int tls_index;
static _Atomic uint64_t generations;

static void run(gpointer data, gpointer user)
{
	struct glib_pool *p = user;

	if (tls_generation != p->generation) {
		tls_generation = p->generation;
		tls_index = atomic_fetch_add_explicit(&p->next_index, 1, memory_order_relaxed);
	}
	/* Relaxed: the fn was stored before the push that queued this item (GLib's mutex). */
	int (*fn)(void *) = atomic_load_explicit(&p->fn, memory_order_relaxed);

	(void)fn(data);
	/* acq_rel: the last job's effects are visible to wait_idle's acquire load. */
	if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
		g_mutex_lock(&p->lock);
		g_cond_broadcast(&p->idle);
		g_mutex_unlock(&p->lock);
	}
}

int glib_pool_create(struct glib_pool **pool, unsigned workers)
{
	if (!pool || workers == 0 || workers > INT32_MAX)
		return -EINVAL;
	struct glib_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	g_mutex_init(&p->lock);
	g_cond_init(&p->idle);
	p->generation =
		atomic_fetch_add_explicit(&generations, 1, memory_order_relaxed) + 1; /* never 0 */
	GError *err = NULL;

	p->tp = g_thread_pool_new(run, p, (gint)workers, TRUE, &err);
	if (!p->tp) {
		g_clear_error(&err);
		g_cond_clear(&p->idle);
		g_mutex_clear(&p->lock);
		free(p);
		return -EAGAIN;
	}
	*pool = p;
	return 0;
}

void glib_pool_destroy(struct glib_pool *p)
{
	if (!p)
		return;
	g_thread_pool_free(p->tp, FALSE, TRUE); /* run what is queued, then join */
	g_cond_clear(&p->idle);
	g_mutex_clear(&p->lock);
	free(p);
}

int glib_pool_submit(struct glib_pool *p, int (*fn)(void *), void *arg)
{
	int (*expected)(void *) = NULL;

	if (!arg || !fn)
		return -EINVAL;
	/* Relaxed: published to the workers by the push (GAsyncQueue's mutex). */
	if (!atomic_compare_exchange_strong_explicit(&p->fn, &expected, fn, memory_order_relaxed,
						     memory_order_relaxed) &&
	    expected != fn)
		return -EINVAL;
	atomic_fetch_add_explicit(&p->pending, 1, memory_order_relaxed); /* before the push */
	if (!g_thread_pool_push(p->tp, arg, NULL)) {
		atomic_fetch_sub_explicit(&p->pending, 1, memory_order_relaxed);
		return -EAGAIN;
	}
	return 0;
}

int glib_pool_wait_idle(struct glib_pool *p)
{
	g_mutex_lock(&p->lock);
	/* Acquire: pairs with the last job's acq_rel decrement. */
	while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0)
		g_cond_wait(&p->idle, &p->lock);
	g_mutex_unlock(&p->lock);
	return 0;
}

int glib_pool_worker_index(const struct glib_pool *p)
{
	return tls_generation == p->generation ? tls_index : -1;
}
