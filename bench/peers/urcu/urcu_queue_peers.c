/* SPDX-License-Identifier: MIT */
/* liburcu's wfcqueue and rculfqueue behind lfq's calling convention: see the header. */
#define _LGPL_SOURCE /* liburcu's inline fast paths, as an application built with it gets */
#include "urcu_queue_peers.h"

#include <errno.h>
#include <stdlib.h>

#include <urcu/urcu-memb.h>
#include <urcu/wfcqueue.h>
#include <urcu/rculfqueue.h>

/* ---- wfcqueue ---- */

struct wfcq_peer {
	/* liburcu lays head and tail out on separate cache lines itself. */
	struct cds_wfcq_head head;
	struct cds_wfcq_tail tail;
};

struct wfcq_item {
	struct cds_wfcq_node node;
	void *item;
};

int wfcq_peer_create(struct wfcq_peer **out)
{
	if (out == NULL)
		return -EINVAL;
	struct wfcq_peer *q = malloc(sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	cds_wfcq_init(&q->head, &q->tail);
	*out = q;
	return 0;
}

void wfcq_peer_destroy(struct wfcq_peer *q)
{
	if (q == NULL)
		return;
	struct cds_wfcq_node *n;
	while ((n = cds_wfcq_dequeue_blocking(&q->head, &q->tail)) != NULL)
		free(caa_container_of(n, struct wfcq_item, node));
	cds_wfcq_destroy(&q->head, &q->tail);
	free(q);
}

int wfcq_peer_push(struct wfcq_peer *q, void *item)
{
	struct wfcq_item *it = malloc(sizeof(*it));
	if (it == NULL)
		return -ENOMEM;
	cds_wfcq_node_init(&it->node);
	it->item = item;
	(void)cds_wfcq_enqueue(&q->head, &q->tail, &it->node);
	return 0;
}

int wfcq_peer_pop(struct wfcq_peer *q, void **item)
{
	struct cds_wfcq_node *n = cds_wfcq_dequeue_blocking(&q->head, &q->tail);
	if (n == NULL)
		return -EAGAIN;
	struct wfcq_item *it = caa_container_of(n, struct wfcq_item, node);
	*item = it->item;
	free(it);
	return 0;
}

/* ---- rculfqueue ---- */

struct rculfq_peer {
	struct cds_lfq_queue_rcu q;
};

struct rculfq_item {
	struct cds_lfq_node_rcu node;
	struct rcu_head rcu;
	void *item;
};

int rculfq_peer_create(struct rculfq_peer **out)
{
	if (out == NULL)
		return -EINVAL;
	struct rculfq_peer *q = malloc(sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	cds_lfq_init_rcu(&q->q, urcu_memb_call_rcu);
	*out = q;
	return 0;
}

static void free_item(struct rcu_head *head)
{
	free(caa_container_of(head, struct rculfq_item, rcu));
}

void rculfq_peer_destroy(struct rculfq_peer *q)
{
	if (q == NULL)
		return;
	urcu_memb_register_thread();
	void *item;
	while (rculfq_peer_pop(q, &item) == 0)
		;
	(void)cds_lfq_destroy_rcu(&q->q); /* 0: the queue is empty now */
	urcu_memb_unregister_thread();
	urcu_memb_barrier(); /* every free_item has run */
	free(q);
}

void rculfq_peer_thread_enter(void)
{
	urcu_memb_register_thread();
}

void rculfq_peer_thread_exit(void)
{
	urcu_memb_unregister_thread();
}

int rculfq_peer_push(struct rculfq_peer *q, void *item)
{
	struct rculfq_item *it = malloc(sizeof(*it));
	if (it == NULL)
		return -ENOMEM;
	cds_lfq_node_init_rcu(&it->node);
	it->item = item;
	urcu_memb_read_lock();
	cds_lfq_enqueue_rcu(&q->q, &it->node);
	urcu_memb_read_unlock();
	return 0;
}

int rculfq_peer_pop(struct rculfq_peer *q, void **item)
{
	urcu_memb_read_lock();
	struct cds_lfq_node_rcu *n = cds_lfq_dequeue_rcu(&q->q);
	urcu_memb_read_unlock();
	if (n == NULL)
		return -EAGAIN;
	struct rculfq_item *it = caa_container_of(n, struct rculfq_item, node);
	*item = it->item;
	urcu_memb_call_rcu(&it->rcu, free_item);
	return 0;
}
