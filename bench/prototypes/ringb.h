/* SPDX-License-Identifier: MIT */
/*
 * ringb: candidate B of issue 11, a benchmark-only prototype (x86-64 only, needs cmpxchg16b).
 *
 * An SCQ2-style bounded MPMC ring: one array of 16-byte cells {entry, item}, where entry
 * holds the cycle of the ticket that last used the cell plus two flags (occupied, unsafe);
 * fetch-and-add tickets on head and tail; a producer publishes with one double-width CAS on
 * the cell, a consumer consumes with one fetch-and on the entry word. A pop that finds the
 * ring empty and a push that finds it full take no ticket and write nothing shared.
 *
 * Not the library: no close, no _wait, no size(), capacity is exact only while producers do
 * not race (see ringb.c). Every call may run concurrently with every other on the same ring.
 * Progress: lock-free (a thread stopped anywhere holds no cell the others need).
 */
#ifndef LFQ_BENCH_RINGB_H
#define LFQ_BENCH_RINGB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ringb;

/** Cell mapping: consecutive tickets on consecutive cells (4 per cache line)... */
#define RINGB_FLAGS_NONE 0u
/** ...or spread, so consecutive tickets land on different cache lines (as SCQ's remap). */
#define RINGB_FLAGS_SPREAD 1u

/**
 * Creates a ring that holds up to @p capacity items (1 .. 2^28) in *ring.
 * @return 0, -EINVAL (NULL ring, capacity 0 or too large, unknown flags), -ENOMEM.
 */
int ringb_create(struct ringb **ring, size_t capacity, unsigned flags);
/** Frees the ring; NULL is a no-op. No call may be running on it. */
void ringb_destroy(struct ringb *ring);
/** @return 0, or -EAGAIN if the ring is full (nothing shared is written then). */
int ringb_push(struct ringb *ring, void *item);
/** @return 0 and the oldest item in *item, or -EAGAIN if empty (nothing shared written). */
int ringb_pop(struct ringb *ring, void **item);
/** Single-item calls in a loop: @return how many went through, in order. */
size_t ringb_push_burst(struct ringb *ring, void *const *items, size_t n);
size_t ringb_pop_burst(struct ringb *ring, void **items, size_t n);

/** For the stress program: the raw head and tail tickets and the threshold (snapshot). */
void ringb_debug_counters(const struct ringb *ring, uint64_t *head, uint64_t *tail,
			  int64_t *threshold);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_BENCH_RINGB_H */
