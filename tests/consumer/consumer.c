/* SPDX-License-Identifier: MIT */
/*
 * consumer: the small program every packaging test builds the way a user of lfq would
 * (tests/consumer/: a Makefile with pkg-config, a CMake project, a Meson parent project).
 * It includes only the umbrella header, uses the ring, the queue and the pool, and prints
 *
 *     lfq consumer ok: headers 0.2.0, library 0.2.0, 100 jobs
 *
 * on success, or one line saying what went wrong on stderr (exit status 1).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lfq/lfq.h>

#define JOBS 100

static struct lfq_ring *done;

/* Each job hands its number back through the ring (capacity JOBS: never full). */
static int job(void *arg)
{
	return lfq_ring_push(done, arg);
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "lfq consumer: %s: %s (%d)\n", what, lfq_strerror(rc), rc);
	return 1;
}

int main(void)
{
	struct lfq_queue *queue;
	struct lfq_pool *pool;
	void *item;
	int rc;

	if (strcmp(lfq_version(), LFQ_VERSION_STRING) != 0) {
		fprintf(stderr, "lfq consumer: headers are %s but the library is %s\n",
			LFQ_VERSION_STRING, lfq_version());
		return 1;
	}

	rc = lfq_queue_create(&queue, 8, 0);
	if (rc != 0)
		return fail("lfq_queue_create", rc);
	rc = lfq_queue_push(queue, &rc);
	if (rc != 0)
		return fail("lfq_queue_push", rc);
	rc = lfq_queue_pop(queue, &item);
	if (rc != 0)
		return fail("lfq_queue_pop", rc);
	lfq_queue_close(queue);
	rc = lfq_queue_pop(queue, &item);
	if (rc != -EPIPE)
		return fail("lfq_queue_pop after close (expected -EPIPE)", rc);
	lfq_queue_destroy(queue);

	rc = lfq_ring_create(&done, JOBS, LFQ_RING_FLAGS_NONE);
	if (rc != 0)
		return fail("lfq_ring_create", rc);
	struct lfq_pool_config cfg = {
		.workers = 2, .queue_capacity = JOBS, .flags = LFQ_POOL_NO_PIN};
	rc = lfq_pool_create(&pool, &cfg);
	if (rc != 0)
		return fail("lfq_pool_create", rc);
	for (uintptr_t i = 1; i <= JOBS; i++) {
		struct lfq_job j = {.fn = job, .arg = (void *)i};
		rc = lfq_pool_submit(pool, &j);
		if (rc != 0)
			return fail("lfq_pool_submit", rc);
	}
	rc = lfq_pool_shutdown(pool, -1);
	if (rc != 0)
		return fail("lfq_pool_shutdown", rc);
	lfq_pool_destroy(pool);

	/* Every job ran exactly once: the numbers 1..JOBS, each once, add up to JOBS(JOBS+1)/2. */
	uintptr_t sum = 0;
	size_t n = 0;
	while (lfq_ring_pop(done, &item) == 0) {
		sum += (uintptr_t)item;
		n++;
	}
	lfq_ring_destroy(done);
	if (n != JOBS || sum != (uintptr_t)JOBS * (JOBS + 1) / 2) {
		fprintf(stderr, "lfq consumer: %zu jobs ran (sum %ju), expected %d\n", n,
			(uintmax_t)sum, JOBS);
		return 1;
	}

	printf("lfq consumer ok: headers %s, library %s, %d jobs\n", LFQ_VERSION_STRING,
	       lfq_version(), JOBS);
	return 0;
}
