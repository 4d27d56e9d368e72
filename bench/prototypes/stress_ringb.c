/* SPDX-License-Identifier: MIT */
/*
 * stress_ringb: checks candidate B (ringb) and exits non-zero on any violation.
 *
 * Single thread, per capacity: a ring of capacity c takes exactly c pushes, then -EAGAIN;
 * a push on the full ring and a pop on the empty ring leave head, tail and the budget as
 * they were (non-destructive); items come back in order, NULL included.
 * Threads: P producers and C consumers (default 3 + 3, RINGB_STRESS_ITEMS items per
 * producer, default 200000) at capacities 1, 2, 3, 4, 64, 1024, each with both cell
 * mappings. Every item carries (producer, seq) and a canary; each consumer checks each
 * producer's seqs arrive in increasing order; at the end every item was popped exactly once
 * (a per-item counter) and the ring is empty. A run that moves nothing for 60 s is reported
 * as stalled (a liveness check, not a timing one).
 */
#define _POSIX_C_SOURCE 200809L
#include "ringb.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NPROD 3
#define NCONS 3
#define SEQ_BITS 32
#define CANARY ((uint64_t)0xa5 << 56)

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static void single_thread(size_t cap, unsigned flags)
{
	struct ringb *r;
	uint64_t h0, t0, h1, t1;
	int64_t b0, b1;
	void *out;
	size_t i;

	CHECK(ringb_create(&r, cap, flags) == 0, "create %zu", cap);
	ringb_debug_counters(r, &h0, &t0, &b0);
	CHECK(ringb_pop(r, &out) == -EAGAIN, "pop on a new ring");
	ringb_debug_counters(r, &h1, &t1, &b1);
	CHECK(h0 == h1 && t0 == t1 && b0 == b1, "empty pop on a new ring wrote head/tail/budget");
	for (int lap = 0; lap < 5; lap++) {
		for (i = 0; i < cap; i++)
			CHECK(ringb_push(r, i == 0 ? NULL : (void *)(uintptr_t)(i + 1)) == 0,
			      "cap %zu: push %zu of %zu", cap, i, cap);
		ringb_debug_counters(r, &h0, &t0, &b0);
		CHECK(ringb_push(r, (void *)1) == -EAGAIN, "cap %zu: push on a full ring", cap);
		ringb_debug_counters(r, &h1, &t1, &b1);
		CHECK(h0 == h1 && t0 == t1 && b0 == b1, "cap %zu: full push wrote", cap);
		for (i = 0; i < cap; i++) {
			out = (void *)7;
			CHECK(ringb_pop(r, &out) == 0 &&
				      out == (i == 0 ? NULL : (void *)(uintptr_t)(i + 1)),
			      "cap %zu lap %d: pop %zu gave %p", cap, lap, i, out);
		}
		ringb_debug_counters(r, &h0, &t0, &b0);
		CHECK(ringb_pop(r, &out) == -EAGAIN, "cap %zu: pop on an empty ring", cap);
		ringb_debug_counters(r, &h1, &t1, &b1);
		CHECK(h0 == h1 && t0 == t1 && b0 == b1, "cap %zu: empty pop wrote", cap);
	}
	ringb_destroy(r);
}

struct run {
	struct ringb *r;
	uint64_t items; /* per producer */
	_Atomic unsigned char *seen;
	atomic_uint_fast64_t popped;
	atomic_uint_fast64_t bad;
	atomic_uint_fast64_t disorder;
	atomic_int next_id;
};

static void *producer(void *arg)
{
	struct run *run = arg;
	/* Relaxed: an id counter; the run is published by pthread_create. */
	uint64_t id = (uint64_t)atomic_fetch_add_explicit(&run->next_id, 1, memory_order_relaxed);

	for (uint64_t s = 0; s < run->items; s++) {
		void *item = (void *)(uintptr_t)(CANARY | id << SEQ_BITS | s);
		while (ringb_push(run->r, item) != 0)
			sched_yield();
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct run *run = arg;
	const uint64_t total = NPROD * run->items;
	uint64_t last[NPROD] = {0}; /* seq + 1 of the last item seen per producer */
	void *item;

	/* Relaxed: a progress count; results are read after join. */
	while (atomic_load_explicit(&run->popped, memory_order_relaxed) < total) {
		if (ringb_pop(run->r, &item) != 0) {
			sched_yield();
			continue;
		}
		uint64_t v = (uint64_t)(uintptr_t)item;
		uint64_t id = (v & ~CANARY) >> SEQ_BITS, s = v & (((uint64_t)1 << SEQ_BITS) - 1);
		atomic_fetch_add_explicit(&run->popped, 1, memory_order_relaxed);
		if ((v & ((uint64_t)0xff << 56)) != CANARY || id >= NPROD || s >= run->items) {
			atomic_fetch_add_explicit(&run->bad, 1, memory_order_relaxed);
			continue;
		}
		if (s + 1 <= last[id])
			atomic_fetch_add_explicit(&run->disorder, 1, memory_order_relaxed);
		last[id] = s + 1;
		atomic_fetch_add_explicit(&run->seen[id * run->items + s], 1, memory_order_relaxed);
	}
	return NULL;
}

static void threaded(size_t cap, unsigned flags, uint64_t items)
{
	struct run run = {.items = items};
	pthread_t th[NPROD + NCONS];
	const uint64_t total = NPROD * items;
	uint64_t last_popped = 0, dup = 0, missing = 0;
	int idle_s = 0;
	void *out;

	CHECK(ringb_create(&run.r, cap, flags) == 0, "create %zu", cap);
	run.seen = calloc(total, 1);
	atomic_init(&run.popped, 0);
	atomic_init(&run.bad, 0);
	atomic_init(&run.disorder, 0);
	atomic_init(&run.next_id, 0);
	for (int i = 0; i < NCONS; i++)
		pthread_create(&th[i], NULL, consumer, &run);
	for (int i = 0; i < NPROD; i++)
		pthread_create(&th[NCONS + i], NULL, producer, &run);
	while (atomic_load_explicit(&run.popped, memory_order_relaxed) < total) {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
		uint64_t p = atomic_load_explicit(&run.popped, memory_order_relaxed);
		idle_s = p == last_popped ? idle_s + 1 : 0;
		last_popped = p;
		if (idle_s >= (getenv("RINGB_STALL_S") ? atoi(getenv("RINGB_STALL_S")) : 60)) {
			fprintf(stderr, "FAIL cap %zu flags %u: stalled at %llu of %llu\n", cap,
				flags, (unsigned long long)p, (unsigned long long)total);
			uint64_t h, t;
			int64_t b;
			ringb_debug_counters(run.r, &h, &t, &b);
			fprintf(stderr, "head %llu tail %llu budget %lld\n", (unsigned long long)h,
				(unsigned long long)t, (long long)b);
			exit(1);
		}
	}
	for (int i = 0; i < NPROD + NCONS; i++)
		pthread_join(th[i], NULL);
	for (uint64_t i = 0; i < total; i++) {
		unsigned char n = atomic_load_explicit(&run.seen[i], memory_order_relaxed);
		dup += n > 1;
		missing += n == 0;
	}
	CHECK(run.bad == 0 && run.disorder == 0 && dup == 0 && missing == 0 && run.popped == total,
	      "cap %zu flags %u: popped %llu of %llu, %llu bad, %llu out of order, %llu "
	      "duplicated, %llu missing",
	      cap, flags, (unsigned long long)run.popped, (unsigned long long)total,
	      (unsigned long long)run.bad, (unsigned long long)run.disorder,
	      (unsigned long long)dup, (unsigned long long)missing);
	CHECK(ringb_pop(run.r, &out) == -EAGAIN, "cap %zu: ring not empty at the end", cap);
	printf("cap %-5zu %s: %llu items through %dP%dC, ok\n", cap, flags ? "spread" : "linear",
	       (unsigned long long)total, NPROD, NCONS);
	fflush(stdout);
	free(run.seen);
	ringb_destroy(run.r);
}

int main(void)
{
	static const size_t caps[] = {1, 2, 3, 4, 64, 1024};
	const char *env = getenv("RINGB_STRESS_ITEMS");
	uint64_t items = env ? strtoull(env, NULL, 10) : 200000;

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		for (unsigned f = 0; f <= RINGB_FLAGS_SPREAD; f++)
			single_thread(caps[i], f);
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		for (unsigned f = 0; f <= RINGB_FLAGS_SPREAD; f++)
			threaded(caps[i], f, items);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	else
		printf("stress_ringb: all passed\n");
	return failures ? 1 : 0;
}
