/* SPDX-License-Identifier: MIT */
/**
 * @file lfq.h
 * Umbrella header: includes every lfq component.
 */
#ifndef LFQ_LFQ_H
#define LFQ_LFQ_H

#include <lfq/queue.h>
#include <lfq/pool.h>
#include <lfq/ring.h>

#endif /* LFQ_LFQ_H */
