/* SPDX-License-Identifier: MIT */
/*
 * mutex_pool: one mutex over a ring of jobs, three condition variables (work for sleeping
 * workers, room for sleeping submitters, idle for wait_idle). See mutex_pool.h.
 *
 * No atomics: every shared field is read and written with `lock` held; the mutex orders
 * everything (lock acquires, unlock releases). Waiter counts make signalling conditional, so
 * a submit to a pool whose workers are all busy never enters the kernel.
 */
#include "mutex_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define MUTEX_POOL_CAPACITY_MAX ((size_t)1 << 24)

struct mutex_pool_job {
	int (*fn)(void *);
	void *arg;
};

struct mutex_pool_worker {
	struct mutex_pool *pool;
	pthread_t thread;
	unsigned index;
};

struct mutex_pool {
	pthread_mutex_t lock;
	pthread_cond_t work; /* workers wait here while the queue is empty */
	pthread_cond_t room; /* submit_wait waits here while it is full */
	pthread_cond_t idle; /* wait_idle waits here while jobs are queued or running */
	size_t capacity, head, count;
	unsigned busy; /* workers running a job */
	unsigned work_waiters, room_waiters, idle_waiters;
	bool stopping;
	unsigned nworkers;
	struct mutex_pool_worker *workers;
	struct mutex_pool_job *jobs;
};

static _Thread_local const struct mutex_pool_worker *tls_worker;

static void *worker_main(void *arg)
{
	struct mutex_pool_worker *w = arg;
	struct mutex_pool *p = w->pool;

	tls_worker = w;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->count == 0 && !p->stopping) {
			if (p->busy == 0 && p->idle_waiters)
				pthread_cond_broadcast(&p->idle);
			p->work_waiters++;
			pthread_cond_wait(&p->work, &p->lock);
			p->work_waiters--;
		}
		if (p->count == 0)
			break; /* stopping and drained */
		const struct mutex_pool_job job = p->jobs[p->head];

		p->head = (p->head + 1) % p->capacity;
		p->count--;
		p->busy++;
		const bool wake_submitter = p->room_waiters != 0;

		pthread_mutex_unlock(&p->lock);
		if (wake_submitter)
			pthread_cond_signal(&p->room);
		(void)job.fn(job.arg);
		pthread_mutex_lock(&p->lock);
		p->busy--;
	}
	if (p->busy == 0 && p->idle_waiters)
		pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void stop_and_join(struct mutex_pool *p, unsigned started)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_mutex_unlock(&p->lock);
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->room);
	for (unsigned i = 0; i < started; i++)
		pthread_join(p->workers[i].thread, NULL);
}

static void free_pool(struct mutex_pool *p)
{
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->room);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->jobs);
	free(p->workers);
	free(p);
}

int mutex_pool_create(struct mutex_pool **pool, unsigned workers, size_t capacity)
{
	if (!pool || workers == 0 || capacity == 0 || capacity > MUTEX_POOL_CAPACITY_MAX)
		return -EINVAL;
	struct mutex_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->jobs = calloc(capacity, sizeof(*p->jobs));
	p->workers = calloc(workers, sizeof(*p->workers));
	if (!p->jobs || !p->workers) {
		free(p->jobs);
		free(p->workers);
		free(p);
		return -ENOMEM;
	}
	/* Default attributes cannot fail to initialise on Linux. */
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->room, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->capacity = capacity;
	p->nworkers = workers;
	for (unsigned i = 0; i < workers; i++) {
		p->workers[i] = (struct mutex_pool_worker){.pool = p, .index = i};
		const int err =
			pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);

		if (err) {
			stop_and_join(p, i);
			free_pool(p);
			return -err;
		}
	}
	*pool = p;
	return 0;
}

void mutex_pool_destroy(struct mutex_pool *pool)
{
	if (!pool)
		return;
	stop_and_join(pool, pool->nworkers);
	free_pool(pool);
}

/* Lock held: appends the job; returns whether a worker must be signalled. */
static bool push_locked(struct mutex_pool *p, int (*fn)(void *), void *arg)
{
	p->jobs[(p->head + p->count) % p->capacity] = (struct mutex_pool_job){fn, arg};
	p->count++;
	return p->work_waiters != 0;
}

int mutex_pool_submit(struct mutex_pool *p, int (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&p->lock);
	if (p->stopping || p->count == p->capacity) {
		const int rc = p->stopping ? -ESHUTDOWN : -EAGAIN;

		pthread_mutex_unlock(&p->lock);
		return rc;
	}
	const bool wake = push_locked(p, fn, arg);

	pthread_mutex_unlock(&p->lock);
	if (wake)
		pthread_cond_signal(&p->work);
	return 0;
}

int mutex_pool_submit_wait(struct mutex_pool *p, int (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&p->lock);
	while (!p->stopping && p->count == p->capacity) {
		p->room_waiters++;
		pthread_cond_wait(&p->room, &p->lock);
		p->room_waiters--;
	}
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		return -ESHUTDOWN;
	}
	const bool wake = push_locked(p, fn, arg);

	pthread_mutex_unlock(&p->lock);
	if (wake)
		pthread_cond_signal(&p->work);
	return 0;
}

int mutex_pool_wait_idle(struct mutex_pool *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->count != 0 || p->busy != 0) {
		p->idle_waiters++;
		pthread_cond_wait(&p->idle, &p->lock);
		p->idle_waiters--;
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int mutex_pool_worker_index(const struct mutex_pool *pool)
{
	return tls_worker && tls_worker->pool == pool ? (int)tls_worker->index : -1;
}
