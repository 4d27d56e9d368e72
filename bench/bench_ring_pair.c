/* SPDX-License-Identifier: MIT */
/*
 * The single-thread push+pop pair, in plain C (no Google Benchmark, no C++), so that a cross
 * build can run it too, e.g. under qemu-aarch64: nanoseconds per push and pop of one item
 * through lfq_ring (shared and SP|SC modes), Vyukov's ring and the mutex ring, capacity 1024.
 * One thread, so placement plays no part; under QEMU the figures are the emulator's, not
 * the target CPU's (scripts/test's arm64 stage prints them as that).
 *
 * Each repetition moves --pairs items (default 2,000,000) through each ring in turn (the
 * rings interleaved, a different order each repetition), checking every popped item; the
 * output is the median [min-max] over --reps repetitions (default 7), one line per ring.
 *
 *   bench_ring_pair [--pairs=N] [--reps=R]
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lfq/ring.h>

#include "mutex_ring.h"
#include "vyukov_ring.h"

#define CAPACITY 1024
#define MAX_REPS 99

struct impl {
	const char *name;
	void *ring;
	int (*push)(void *ring, void *item);
	int (*pop)(void *ring, void **item);
	double ns[MAX_REPS];
};

static int lfq_push(void *r, void *item)
{
	return lfq_ring_push(r, item);
}

static int lfq_pop(void *r, void **item)
{
	return lfq_ring_pop(r, item);
}

static int vyukov_push(void *r, void *item)
{
	return vyukov_ring_push(r, item);
}

static int vyukov_pop(void *r, void **item)
{
	return vyukov_ring_pop(r, item);
}

static int mutex_push(void *r, void *item)
{
	return mutex_ring_push(r, item);
}

static int mutex_pop(void *r, void **item)
{
	return mutex_ring_pop(r, item);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per pair, or a negative value when a call failed or an item came back wrong. */
static double run(const struct impl *m, uint64_t pairs)
{
	const double t0 = now_ns();

	for (uint64_t i = 1; i <= pairs; i++) {
		void *out = NULL;

		if (m->push(m->ring, (void *)(uintptr_t)i) != 0 || m->pop(m->ring, &out) != 0 ||
		    out != (void *)(uintptr_t)i)
			return -1;
	}
	return (now_ns() - t0) / (double)pairs;
}

static int cmpd(const void *x, const void *y)
{
	const double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
	uint64_t pairs = 2000000;
	int reps = 7;

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--pairs=", 8))
			pairs = strtoull(argv[i] + 8, NULL, 10);
		else if (!strncmp(argv[i], "--reps=", 7))
			reps = atoi(argv[i] + 7);
		else
			reps = 0;
	}
	if (reps < 1 || reps > MAX_REPS || pairs == 0) {
		fprintf(stderr, "usage: %s [--pairs=N] [--reps=1..%d]\n", argv[0], MAX_REPS);
		return 2;
	}
	struct lfq_ring *shared = NULL, *spsc = NULL;
	struct vyukov_ring *vy = NULL;
	struct mutex_ring *mx = NULL;

	if (lfq_ring_create(&shared, CAPACITY, 0) != 0 ||
	    lfq_ring_create(&spsc, CAPACITY, LFQ_RING_SP | LFQ_RING_SC) != 0 ||
	    vyukov_ring_create(&vy, CAPACITY) != 0 || mutex_ring_create(&mx, CAPACITY) != 0) {
		fprintf(stderr, "bench_ring_pair: a ring could not be created\n");
		return 1;
	}
	struct impl impls[] = {
		{"lfq", shared, lfq_push, lfq_pop, {0}},
		{"lfq_spsc", spsc, lfq_push, lfq_pop, {0}},
		{"vyukov", vy, vyukov_push, vyukov_pop, {0}},
		{"mutex", mx, mutex_push, mutex_pop, {0}},
	};
	const int n = (int)(sizeof(impls) / sizeof(impls[0]));

	for (int k = 0; k < n; k++) /* warm-up: caches, page faults, branch predictors */
		(void)run(&impls[k], pairs / 10 + 1);
	for (int rep = 0; rep < reps; rep++) {
		for (int k = 0; k < n; k++) {
			struct impl *m = &impls[(k + rep) % n]; /* rotate the order */

			m->ns[rep] = run(m, pairs);
			if (m->ns[rep] < 0) {
				fprintf(stderr, "bench_ring_pair: %s lost or changed an item\n",
					m->name);
				return 1;
			}
		}
	}
	printf("push+pop pair, one thread, capacity %d, %llu pairs, median [min-max] of %d "
	       "repetitions:\n",
	       CAPACITY, (unsigned long long)pairs, reps);
	for (int k = 0; k < n; k++) {
		qsort(impls[k].ns, (size_t)reps, sizeof(double), cmpd);
		printf("  %-10s %7.1f ns [%.1f-%.1f]\n", impls[k].name, impls[k].ns[reps / 2],
		       impls[k].ns[0], impls[k].ns[reps - 1]);
	}
	lfq_ring_destroy(shared);
	lfq_ring_destroy(spsc);
	vyukov_ring_destroy(vy);
	mutex_ring_destroy(mx);
	return 0;
}
