/* SPDX-License-Identifier: MIT */
/**
 * @file lfq.h
 * Umbrella header: includes every core lfq component (the ring, the queue, the pool, the
 * version and the error descriptions). liblfq_redis's <lfq/redis.h> is separate: it needs
 * that library (and hiredis) too.
 */
#ifndef LFQ_LFQ_H
#define LFQ_LFQ_H

#include <lfq/common.h>
#include <lfq/error.h>
#include <lfq/pool.h>
#include <lfq/queue.h>
#include <lfq/ring.h>
#include <lfq/version.h>

#endif /* LFQ_LFQ_H */
