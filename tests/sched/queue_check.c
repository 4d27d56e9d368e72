/* SPDX-License-Identifier: MIT */
/* The lfq_queue calls behind ring_check.c's history checker (queue_check.h). */
#include "queue_check.h"

#include <stdlib.h>

#include <lfq/queue.h>

static void *queue_create(const struct ring_scenario *s, size_t limit)
{
	struct lfq_queue *q;

	if (lfq_queue_create(&q, s->capacity, 0) != 0)
		return NULL;
	if (limit && lfq_queue_set_limit(q, limit) != 0)
		abort();
	return q;
}

static void queue_destroy(void *obj)
{
	lfq_queue_destroy(obj);
}

static int queue_push(void *obj, void *item)
{
	return lfq_queue_push(obj, item);
}

static int queue_pop(void *obj, void **item)
{
	return lfq_queue_pop(obj, item);
}

static int queue_push_wait(void *obj, void *item)
{
	return lfq_queue_push_wait(obj, item, -1);
}

static int queue_pop_wait(void *obj, void **item)
{
	return lfq_queue_pop_wait(obj, item, -1);
}

static size_t queue_push_burst(void *obj, void *const *items, size_t n)
{
	return lfq_queue_push_burst(obj, items, n);
}

static size_t queue_pop_burst(void *obj, void **items, size_t n)
{
	return lfq_queue_pop_burst(obj, items, n);
}

static void queue_close(void *obj)
{
	lfq_queue_close(obj);
}

static bool queue_is_closed(void *obj)
{
	return lfq_queue_is_closed(obj);
}

static size_t queue_size(void *obj)
{
	return lfq_queue_size(obj);
}

static int queue_set_limit(void *obj, size_t max)
{
	return lfq_queue_set_limit(obj, max);
}

static const struct check_ops queue_ops = {
	.create = queue_create,
	.destroy = queue_destroy,
	.push = queue_push,
	.pop = queue_pop,
	.push_wait = queue_push_wait,
	.pop_wait = queue_pop_wait,
	.push_burst = queue_push_burst,
	.pop_burst = queue_pop_burst,
	.close = queue_close,
	.is_closed = queue_is_closed,
	.size = queue_size,
	.set_limit = queue_set_limit,
	.unbounded = true,
};

int queue_check_weak(const struct queue_scenario *s, const struct sched_opts *o,
		     struct sched_result *r)
{
	return check_scenario(&s->s, s->limit, &queue_ops, o, false, true, r);
}
