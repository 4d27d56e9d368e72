/* SPDX-License-Identifier: MIT */
/**
 * @file urcu_queue_peers.h
 * Benchmark peers from liburcu (liburcu-dev): the two unbounded MPMC queues users of
 * userspace RCU reach for, behind lfq's calling convention (liburcu's static inline headers
 * are C only). Both are intrusive linked lists: one node per item. The peers allocate a node
 * with malloc in every push and free it after the pop, as an application that queues
 * pointers it does not own would have to: that allocation is part of what they measure.
 *
 * wfcq_peer: `urcu/wfcqueue.h`, the wait-free concurrent queue. Push is
 * `cds_wfcq_enqueue` (wait-free, no RCU needed). Pop is `cds_wfcq_dequeue_blocking`, which
 * the header documents as the call for several concurrent dequeuers (it takes the queue's
 * internal dequeue mutex, and may wait for an enqueuer that has swapped the tail but not yet
 * linked its node). The node is freed right after its pop: wfcqueue never lets another
 * thread read a dequeued node, so no grace period is needed.
 *
 * rculfq_peer: `urcu/rculfqueue.h`, the RCU lock-free queue, with the urcu-memb flavour
 * (lfq_queue's flavour). As its header requires: every thread registers with urcu-memb
 * (rculfq_peer_thread_enter / _exit), push and pop run inside rcu_read_lock, and a dequeued
 * node is freed only after a grace period, through call_rcu.
 */
#ifndef LFQ_BENCH_URCU_QUEUE_PEERS_H
#define LFQ_BENCH_URCU_QUEUE_PEERS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wfcq_peer;
/** @return 0; -EINVAL if @p q is NULL; -ENOMEM. The queue is unbounded. */
int wfcq_peer_create(struct wfcq_peer **q);
/** Frees the queue and the nodes still in it. NULL is ignored. Not concurrent. */
void wfcq_peer_destroy(struct wfcq_peer *q);
/** @return 0; -ENOMEM if no node could be allocated (the item is still the caller's). */
int wfcq_peer_push(struct wfcq_peer *q, void *item);
/** @return 0 and the oldest item in *item, or -EAGAIN if the queue is empty. */
int wfcq_peer_pop(struct wfcq_peer *q, void **item);

struct rculfq_peer;
/** @return 0; -EINVAL if @p q is NULL; -ENOMEM. The queue is unbounded. */
int rculfq_peer_create(struct rculfq_peer **q);
/** Drains and frees the queue, then waits for pending call_rcu frees (rcu_barrier).
 *  NULL is ignored. Not concurrent; the calling thread must not be registered. */
void rculfq_peer_destroy(struct rculfq_peer *q);
/** Registers the calling thread with urcu-memb; call before its first push or pop. */
void rculfq_peer_thread_enter(void);
/** Unregisters the calling thread; call after its last push or pop. */
void rculfq_peer_thread_exit(void);
/** @return 0; -ENOMEM if no node could be allocated (the item is still the caller's). */
int rculfq_peer_push(struct rculfq_peer *q, void *item);
/** @return 0 and the oldest item in *item, or -EAGAIN if the queue is empty. */
int rculfq_peer_pop(struct rculfq_peer *q, void **item);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_BENCH_URCU_QUEUE_PEERS_H */
