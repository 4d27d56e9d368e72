/* SPDX-License-Identifier: MIT */
/* libuv's threadpool as a benchmark peer: see uv_pool_peer.h. */
#include "uv_pool_peer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <uv.h>

/* Submits between two non-blocking runs of a submitter's loop. */
#define RUN_EVERY 64
/* Requests allocated at once when a submitter's free list is empty. */
#define CHUNK 256

struct uv_pool {
	_Atomic(int (*)(void *)) fn;
	_Atomic uint64_t pending; /* submitted, not yet returned */
};

/* Where wait_idle sleeps: global and never destroyed, because the job that brings pending to
 * zero signals after its decrement, when the pool may already be gone (a wait_idle that saw
 * the zero and a destroy can run before its signal). Other pools' signals are harmless. */
static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;

struct item {
	uv_work_t req; /* first: the callbacks get &req */
	struct uv_pool *pool;
	void *arg;
	struct item *next; /* on the free list */
};

struct chunk {
	struct chunk *next;
	struct item items[CHUNK];
};

/* One per submitting thread: its loop and its requests. */
struct submitter {
	uv_loop_t loop;
	struct item *free;
	struct chunk *chunks;
	unsigned since_run;
};

static pthread_key_t submitter_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static _Atomic int next_worker;
static _Thread_local int tls_worker = -1;

/* At thread exit: wait for this thread's requests, then free its loop. */
static void submitter_exit(void *v)
{
	struct submitter *s = v;

	uv_run(&s->loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&s->loop);
	while (s->chunks) {
		struct chunk *c = s->chunks;

		s->chunks = c->next;
		free(c);
	}
	free(s);
}

static void make_key(void)
{
	(void)pthread_key_create(&submitter_key, submitter_exit);
}

static struct submitter *my_submitter(void)
{
	pthread_once(&key_once, make_key);
	struct submitter *s = pthread_getspecific(submitter_key);

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (uv_loop_init(&s->loop) != 0) {
		free(s);
		return NULL;
	}
	s->loop.data = s;
	if (pthread_setspecific(submitter_key, s) != 0) {
		(void)uv_loop_close(&s->loop);
		free(s);
		return NULL;
	}
	return s;
}

static void work(uv_work_t *req)
{
	struct item *it = (struct item *)req;
	struct uv_pool *p = it->pool;

	if (tls_worker < 0)
		tls_worker = atomic_fetch_add_explicit(&next_worker, 1, memory_order_relaxed);
	/* Relaxed: stored before uv_queue_work, which hands the request over under a mutex. */
	int (*fn)(void *) = atomic_load_explicit(&p->fn, memory_order_relaxed);

	(void)fn(it->arg);
	/* acq_rel: the last job's effects are visible to wait_idle's acquire load. */
	if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
		/* p may be freed from here on: only the globals. */
		pthread_mutex_lock(&idle_lock);
		pthread_cond_broadcast(&idle_cond);
		pthread_mutex_unlock(&idle_lock);
	}
}

static void after_work(uv_work_t *req, int status)
{
	struct item *it = (struct item *)req;
	struct submitter *s = req->loop->data;

	(void)status;
	it->next = s->free;
	s->free = it;
}

unsigned uv_pool_threads(void)
{
	/* As libuv 1.44 reads it: atoi, at least 1, at most 1024; unset: 4. */
	const char *v = getenv("UV_THREADPOOL_SIZE");
	long n = v ? strtol(v, NULL, 10) : 4;

	if (n < 1)
		n = 1;
	if (n > 1024)
		n = 1024;
	return (unsigned)n;
}

int uv_pool_create(struct uv_pool **pool, unsigned workers)
{
	if (!pool)
		return -EINVAL;
	if (workers != uv_pool_threads())
		return -ENOTSUP;
	struct uv_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	*pool = p;
	return 0;
}

void uv_pool_destroy(struct uv_pool *p)
{
	if (!p)
		return;
	(void)uv_pool_wait_idle(p);
	/* This thread's finished requests point at p: take them back now. */
	struct submitter *s = pthread_getspecific(submitter_key);

	if (s)
		uv_run(&s->loop, UV_RUN_DEFAULT);
	free(p);
}

int uv_pool_submit(struct uv_pool *p, int (*fn)(void *), void *arg)
{
	int (*expected)(void *) = NULL;

	if (!fn)
		return -EINVAL;
	/* Relaxed: published to the threadpool by uv_queue_work (its mutex). */
	if (!atomic_compare_exchange_strong_explicit(&p->fn, &expected, fn, memory_order_relaxed,
						     memory_order_relaxed) &&
	    expected != fn)
		return -EINVAL;
	struct submitter *s = my_submitter();

	if (!s)
		return -ENOMEM;
	if (!s->free) {
		struct chunk *c = malloc(sizeof(*c));

		if (!c)
			return -ENOMEM;
		c->next = s->chunks;
		s->chunks = c;
		for (unsigned i = 0; i < CHUNK; i++) {
			c->items[i].next = s->free;
			s->free = &c->items[i];
		}
	}
	struct item *it = s->free;

	s->free = it->next;
	it->pool = p;
	it->arg = arg;
	atomic_fetch_add_explicit(&p->pending, 1, memory_order_relaxed); /* before the queue */
	const int rc = uv_queue_work(&s->loop, &it->req, work, after_work);

	if (rc != 0) {
		atomic_fetch_sub_explicit(&p->pending, 1, memory_order_relaxed);
		it->next = s->free;
		s->free = it;
		return rc; /* libuv's errors are negative errno values */
	}
	if (++s->since_run >= RUN_EVERY) {
		s->since_run = 0;
		uv_run(&s->loop, UV_RUN_NOWAIT);
	}
	return 0;
}

int uv_pool_wait_idle(struct uv_pool *p)
{
	pthread_mutex_lock(&idle_lock);
	/* Acquire: pairs with the last job's acq_rel decrement. */
	while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0)
		pthread_cond_wait(&idle_cond, &idle_lock);
	pthread_mutex_unlock(&idle_lock);
	return 0;
}

int uv_pool_worker_index(const struct uv_pool *p)
{
	(void)p;
	return tls_worker;
}
