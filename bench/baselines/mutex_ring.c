/* SPDX-License-Identifier: MIT */
/*
 * mutex_ring: a bounded FIFO under one pthread mutex, with not_empty / not_full condition
 * variables for the waiting calls. See mutex_ring.h.
 *
 * No atomics: every field below is read and written only with `lock` held, so the mutex
 * provides all ordering (lock acquires, unlock releases).
 *
 * Wake-ups: a waiting thread counts itself in push_waiters / pop_waiters while it sleeps, and
 * a thread that makes room or adds items signals only when that count is non-zero, so the
 * non-waiting fast path never enters the kernel. The count is read under the lock and the
 * signal sent after unlocking, so the woken thread does not immediately block on the mutex.
 */
/* POSIX.1-2008 for pthread_condattr_setclock, clock_gettime under -std=c11. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "mutex_ring.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Same limit as LFQ_RING_CAPACITY_MAX, so the baselines accept what lfq accepts. */
#define MUTEX_RING_CAPACITY_MAX ((size_t)1 << 31)

struct mutex_ring {
	pthread_mutex_t lock;
	pthread_cond_t not_empty; /* waited on by pop_wait; signalled when items are added */
	pthread_cond_t not_full;  /* waited on by push_wait; signalled when room is made */
	size_t capacity;
	size_t head;  /* index of the oldest item */
	size_t tail;  /* index the next push writes */
	size_t count; /* items held, 0 .. capacity */
	unsigned push_waiters;
	unsigned pop_waiters;
	bool closed;
	void *slots[];
};

int mutex_ring_create(struct mutex_ring **ring, size_t capacity)
{
	struct mutex_ring *r;
	pthread_condattr_t cattr;
	int rc;

	if (ring == NULL || capacity == 0 || capacity > MUTEX_RING_CAPACITY_MAX)
		return -EINVAL;
	r = calloc(1, sizeof(*r) + capacity * sizeof(r->slots[0]));
	if (r == NULL)
		return -ENOMEM;
	r->capacity = capacity;

	rc = pthread_mutex_init(&r->lock, NULL);
	if (rc != 0)
		goto err_free;
	rc = pthread_condattr_init(&cattr);
	if (rc != 0)
		goto err_mutex;
	/* Timeouts are measured on the monotonic clock, immune to wall-clock changes. */
	rc = pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&r->not_empty, &cattr);
	if (rc == 0) {
		rc = pthread_cond_init(&r->not_full, &cattr);
		if (rc != 0)
			pthread_cond_destroy(&r->not_empty);
	}
	pthread_condattr_destroy(&cattr);
	if (rc != 0)
		goto err_mutex;

	*ring = r;
	return 0;

err_mutex:
	pthread_mutex_destroy(&r->lock);
err_free:
	free(r);
	return -rc;
}

void mutex_ring_destroy(struct mutex_ring *ring)
{
	if (ring == NULL)
		return;
	pthread_cond_destroy(&ring->not_full);
	pthread_cond_destroy(&ring->not_empty);
	pthread_mutex_destroy(&ring->lock);
	free(ring);
}

/* Caller holds the lock and has checked there is room. */
static void put_locked(struct mutex_ring *r, void *item)
{
	r->slots[r->tail] = item;
	if (++r->tail == r->capacity)
		r->tail = 0;
	r->count++;
}

/* Caller holds the lock and has checked the ring is not empty. */
static void *take_locked(struct mutex_ring *r)
{
	void *item = r->slots[r->head];

	if (++r->head == r->capacity)
		r->head = 0;
	r->count--;
	return item;
}

/* Wakes at most n of the threads counted in `waiters` (read under the lock by the caller). */
static void wake(pthread_cond_t *cond, unsigned waiters, size_t n)
{
	size_t i;

	if (waiters == 0 || n == 0)
		return;
	if (n >= waiters) {
		pthread_cond_broadcast(cond);
		return;
	}
	for (i = 0; i < n; i++)
		pthread_cond_signal(cond);
}

int mutex_ring_push(struct mutex_ring *ring, void *item)
{
	unsigned waiters;

	assert(ring != NULL);
	pthread_mutex_lock(&ring->lock);
	if (ring->closed) {
		pthread_mutex_unlock(&ring->lock);
		return -EPIPE;
	}
	if (ring->count == ring->capacity) {
		pthread_mutex_unlock(&ring->lock);
		return -EAGAIN;
	}
	put_locked(ring, item);
	waiters = ring->pop_waiters;
	pthread_mutex_unlock(&ring->lock);
	wake(&ring->not_empty, waiters, 1);
	return 0;
}

int mutex_ring_pop(struct mutex_ring *ring, void **item)
{
	unsigned waiters;

	assert(ring != NULL && item != NULL);
	pthread_mutex_lock(&ring->lock);
	if (ring->count == 0) {
		bool closed = ring->closed;

		pthread_mutex_unlock(&ring->lock);
		return closed ? -EPIPE : -EAGAIN;
	}
	*item = take_locked(ring);
	waiters = ring->push_waiters;
	pthread_mutex_unlock(&ring->lock);
	wake(&ring->not_full, waiters, 1);
	return 0;
}

size_t mutex_ring_push_burst(struct mutex_ring *ring, void *const *items, size_t n)
{
	unsigned waiters;
	size_t room, i;

	assert(ring != NULL && (items != NULL || n == 0));
	if (n == 0)
		return 0;
	pthread_mutex_lock(&ring->lock);
	if (ring->closed) {
		pthread_mutex_unlock(&ring->lock);
		return 0;
	}
	room = ring->capacity - ring->count;
	if (n > room)
		n = room;
	for (i = 0; i < n; i++)
		put_locked(ring, items[i]);
	waiters = ring->pop_waiters;
	pthread_mutex_unlock(&ring->lock);
	wake(&ring->not_empty, waiters, n);
	return n;
}

size_t mutex_ring_pop_burst(struct mutex_ring *ring, void **items, size_t n)
{
	unsigned waiters;
	size_t i;

	assert(ring != NULL && (items != NULL || n == 0));
	if (n == 0)
		return 0;
	pthread_mutex_lock(&ring->lock);
	if (n > ring->count)
		n = ring->count;
	for (i = 0; i < n; i++)
		items[i] = take_locked(ring);
	waiters = ring->push_waiters;
	pthread_mutex_unlock(&ring->lock);
	wake(&ring->not_full, waiters, n);
	return n;
}

/* Absolute CLOCK_MONOTONIC time @p timeout_ns from now (timeout_ns > 0). */
static struct timespec deadline_after(int64_t timeout_ns)
{
	struct timespec ts;
	int64_t sec = timeout_ns / 1000000000;
	long nsec = (long)(timeout_ns % 1000000000);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)sec;
	ts.tv_nsec += nsec;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/*
 * Sleeps once on @p cond, counted in @p *waiters. Returns 0 when woken (possibly
 * spuriously), 1 when the deadline passed, or a negative errno.
 */
static int sleep_on(struct mutex_ring *r, pthread_cond_t *cond, unsigned *waiters,
		    int64_t timeout_ns, const struct timespec *deadline)
{
	int rc;

	(*waiters)++;
	if (timeout_ns < 0)
		rc = pthread_cond_wait(cond, &r->lock);
	else
		rc = pthread_cond_timedwait(cond, &r->lock, deadline);
	(*waiters)--;
	if (rc == ETIMEDOUT)
		return 1;
	return -rc;
}

int mutex_ring_push_wait(struct mutex_ring *ring, void *item, int64_t timeout_ns)
{
	struct timespec deadline = {0, 0};
	bool expired = timeout_ns == 0;
	unsigned waiters;
	int rc;

	assert(ring != NULL);
	if (timeout_ns > 0)
		deadline = deadline_after(timeout_ns);
	pthread_mutex_lock(&ring->lock);
	for (;;) {
		if (ring->closed) {
			rc = -EPIPE;
			break;
		}
		if (ring->count < ring->capacity) {
			put_locked(ring, item);
			waiters = ring->pop_waiters;
			pthread_mutex_unlock(&ring->lock);
			wake(&ring->not_empty, waiters, 1);
			return 0;
		}
		/* The condition is checked once more after the deadline passed, then we give up. */
		if (expired) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = sleep_on(ring, &ring->not_full, &ring->push_waiters, timeout_ns, &deadline);
		if (rc < 0)
			break;
		expired = rc == 1;
	}
	pthread_mutex_unlock(&ring->lock);
	return rc;
}

int mutex_ring_pop_wait(struct mutex_ring *ring, void **item, int64_t timeout_ns)
{
	struct timespec deadline = {0, 0};
	bool expired = timeout_ns == 0;
	unsigned waiters;
	int rc;

	assert(ring != NULL && item != NULL);
	if (timeout_ns > 0)
		deadline = deadline_after(timeout_ns);
	pthread_mutex_lock(&ring->lock);
	for (;;) {
		if (ring->count > 0) {
			*item = take_locked(ring);
			waiters = ring->push_waiters;
			pthread_mutex_unlock(&ring->lock);
			wake(&ring->not_full, waiters, 1);
			return 0;
		}
		/* Closed and drained. */
		if (ring->closed) {
			rc = -EPIPE;
			break;
		}
		if (expired) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = sleep_on(ring, &ring->not_empty, &ring->pop_waiters, timeout_ns, &deadline);
		if (rc < 0)
			break;
		expired = rc == 1;
	}
	pthread_mutex_unlock(&ring->lock);
	return rc;
}

void mutex_ring_close(struct mutex_ring *ring)
{
	unsigned push_waiters, pop_waiters;

	assert(ring != NULL);
	pthread_mutex_lock(&ring->lock);
	ring->closed = true;
	push_waiters = ring->push_waiters;
	pop_waiters = ring->pop_waiters;
	pthread_mutex_unlock(&ring->lock);
	/* Every waiter must see the close, so broadcast rather than signal. */
	if (push_waiters != 0)
		pthread_cond_broadcast(&ring->not_full);
	if (pop_waiters != 0)
		pthread_cond_broadcast(&ring->not_empty);
}
