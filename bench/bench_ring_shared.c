/* SPDX-License-Identifier: MIT */
/*
 * Cross-process lfq_ring: throughput and hand-off latency between two processes sharing a
 * ring (lfq_ring_shared_*, a memfd each maps at its own address), beside the same program
 * with two threads of one process on an lfq_ring_create ring.
 *
 *   throughput  one producer, one consumer, a ring of 1024; busy retry on full / empty
 *               (pause, then sched_yield): items per second over N items.
 *   ping-pong   two rings of 64; one side pushes on A and pops the echo from B, the other
 *               pops A and pushes on B, both busy-polling: the round trip is two hand-offs;
 *               p50 and p99 of the round trip over M trips (after 1000 warm-up trips).
 *
 * Usage: bench_ring_shared [--items=N] [--trips=M] [--out=FILE.json]
 * (defaults 4000000 and 200000). Each measurement is printed as a line, and to FILE.json.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lfq/ring.h>

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void backoff(unsigned *fails)
{
	if (++*fails < 64) {
		__builtin_ia32_pause();
	} else {
		*fails = 0;
		sched_yield();
	}
}

static void push_spin(struct lfq_ring *r, uintptr_t v)
{
	unsigned fails = 0;

	while (lfq_ring_push(r, (void *)v) != 0)
		backoff(&fails);
}

static uintptr_t pop_spin(struct lfq_ring *r)
{
	unsigned fails = 0;
	void *out;

	while (lfq_ring_pop(r, &out) != 0)
		backoff(&fails);
	return (uintptr_t)out;
}

/* The two sides of each measurement; `a` and `b` are rings, `n` the count. */
struct job {
	struct lfq_ring *a, *b;
	size_t n;
	int64_t *rtt; /* ping-pong: the initiator's round trips */
};

static void *produce(void *arg)
{
	const struct job *j = arg;

	for (size_t i = 1; i <= j->n; i++)
		push_spin(j->a, i);
	return NULL;
}

static void *consume(void *arg)
{
	const struct job *j = arg;
	uintptr_t sum = 0;

	for (size_t i = 1; i <= j->n; i++)
		sum += pop_spin(j->a);
	return (void *)(uintptr_t)(sum != (uintptr_t)j->n * (j->n + 1) / 2); /* keeps the pops */
}

static void *echo(void *arg)
{
	const struct job *j = arg;

	for (size_t i = 0; i < j->n; i++)
		push_spin(j->b, pop_spin(j->a));
	return NULL;
}

static void *initiate(void *arg)
{
	const struct job *j = arg;

	for (size_t i = 0; i < j->n; i++) {
		const int64_t t0 = now_ns();

		push_spin(j->a, i + 1);
		(void)pop_spin(j->b);
		j->rtt[i] = now_ns() - t0;
	}
	return NULL;
}

/* Runs side1 here and side2 in a thread (threads) or a child process (!threads). For the
 * child the rings must already be shared ones it can reach (a fork keeps the mapping). */
static int run_pair(bool threads, void *(*side1)(void *), void *(*side2)(void *), struct job *j)
{
	if (threads) {
		pthread_t t;

		if (pthread_create(&t, NULL, side2, j) != 0)
			return -1;
		side1(j);
		pthread_join(t, NULL);
		return 0;
	}
	const pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		side2(j);
		_exit(0);
	}
	side1(j);
	int status;

	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? 0 : -1;
}

/* A ring: in-process (lfq_ring_create), or shared: a memfd mapped here (a fork inherits the
 * mapping, so the child uses the same handle; position independence is tested elsewhere). */
static struct lfq_ring *make_ring(bool threads, size_t cap)
{
	struct lfq_ring *r = NULL;

	if (threads)
		return lfq_ring_create(&r, cap, 0) == 0 ? r : NULL;
	const size_t bytes = lfq_ring_shared_size(cap, 0);
	const int fd = memfd_create("bench_ring_shared", MFD_CLOEXEC);

	if (bytes == 0 || fd < 0 || ftruncate(fd, (off_t)bytes) != 0)
		return NULL;
	void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	close(fd);
	if (mem == MAP_FAILED || lfq_ring_shared_init(mem, bytes, cap, 0) != 0 ||
	    lfq_ring_shared_attach(&r, mem, bytes) != 0)
		return NULL;
	return r;
}

static int cmp64(const void *x, const void *y)
{
	const int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

static FILE *json;
static int results;

static void report(const char *name, const char *mode, double value, const char *unit)
{
	printf("%-22s %-14s %14.1f %s\n", name, mode, value, unit);
	if (json)
		fprintf(json, "%s\n    {\"name\": \"%s/%s\", \"value\": %.1f, \"unit\": \"%s\"}",
			results++ ? "," : "", name, mode, value, unit);
}

int main(int argc, char **argv)
{
	size_t items = 4000000, trips = 200000;
	const char *out = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--items=", 8))
			items = strtoull(argv[i] + 8, NULL, 10);
		else if (!strncmp(argv[i], "--trips=", 8))
			trips = strtoull(argv[i] + 8, NULL, 10);
		else if (!strncmp(argv[i], "--out=", 6))
			out = argv[i] + 6;
		else {
			fprintf(stderr, "usage: %s [--items=N] [--trips=M] [--out=FILE]\n",
				argv[0]);
			return 2;
		}
	}
	if (lfq_ring_shared_size(1, 0) == 0) {
		fprintf(stderr, "shared rings are not supported by this build's ring backend\n");
		return 0;
	}
	if (out && !(json = fopen(out, "w")))
		return 1;
	if (json)
		fprintf(json, "{\"benchmarks\": [");
	int64_t *rtt = mmap(NULL, (trips + 1000) * sizeof(int64_t), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (rtt == MAP_FAILED)
		return 1;
	for (int threads = 1; threads >= 0; threads--) {
		const char *mode = threads ? "threads" : "processes";
		struct job j = {make_ring(threads, 1024), NULL, items, NULL};

		if (!j.a)
			return 1;
		const int64_t t0 = now_ns();

		if (run_pair(threads, produce, consume, &j) != 0)
			return 1;
		report("throughput", mode, (double)items * 1e9 / (double)(now_ns() - t0),
		       "items/s");
		struct job p = {make_ring(threads, 64), make_ring(threads, 64), trips + 1000, rtt};

		if (!p.a || !p.b || run_pair(threads, initiate, echo, &p) != 0)
			return 1;
		qsort(rtt + 1000, trips, sizeof(int64_t), cmp64);
		report("pingpong_rtt_p50", mode, (double)rtt[1000 + trips / 2], "ns");
		report("pingpong_rtt_p99", mode, (double)rtt[1000 + trips * 99 / 100], "ns");
		if (threads) {
			lfq_ring_destroy(j.a);
			lfq_ring_destroy(p.a);
			lfq_ring_destroy(p.b);
		}
	}
	if (json) {
		fprintf(json, "\n]}\n");
		fclose(json);
	}
	return 0;
}
