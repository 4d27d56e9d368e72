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
 * Usage: bench_ring_shared [--items=N] [--trips=M] [--reps=R] [--placement=P] [--out=FILE.json]
 * (defaults 4000000, 200000, 7, and spread, or LFQ_BENCH_PLACEMENT): R repetitions of each
 * measurement, the two modes interleaved; P = spread (the two sides on two CPUs), packed
 * (both on one) or free (unpinned). Each measurement is printed as its median [min-max], and
 * written to FILE.json. A consumer that pops a wrong sum fails the run.
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

/* Where each side runs: -1 unpinned, else the CPU (placement: spread puts the sides on two
 * CPUs, packed on one). */
static int cpu_of_side[2] = {-1, -1};

static void pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set); /* this thread (or process) only */
}

struct side {
	void *(*fn)(void *);
	struct job *j;
	int cpu;
};

static void *run_side(void *arg)
{
	const struct side *s = arg;

	pin_self(s->cpu);
	return s->fn(s->j);
}

/* Runs side1 here and side2 in a thread (threads) or a child process (!threads), each where
 * the placement says. For the child the rings must already be shared ones it can reach (a
 * fork keeps the mapping). Returns 0 when both sides ran and returned NULL (no error). */
static int run_pair(bool threads, void *(*side1)(void *), void *(*side2)(void *), struct job *j)
{
	struct side s2 = {side2, j, cpu_of_side[1]};
	cpu_set_t before;
	void *r1, *r2 = NULL;

	if (sched_getaffinity(0, sizeof(before), &before) != 0)
		return -1;
	if (threads) {
		pthread_t t;

		if (pthread_create(&t, NULL, run_side, &s2) != 0)
			return -1;
		pin_self(cpu_of_side[0]);
		r1 = side1(j);
		pthread_join(t, &r2);
	} else {
		const pid_t pid = fork();

		if (pid < 0)
			return -1;
		if (pid == 0)
			_exit(run_side(&s2) == NULL ? 0 : 1);
		pin_self(cpu_of_side[0]);
		r1 = side1(j);
		int status;

		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			r2 = (void *)1;
	}
	(void)sched_setaffinity(0, sizeof(before), &before);
	return r1 == NULL && r2 == NULL ? 0 : -1;
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

static int cmpd(const void *x, const void *y)
{
	const double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static FILE *json;
static int results;

/* One measurement's repetitions: printed as median [min-max] and written to the JSON as a
 * median with its min and max. */
static void report(const char *name, const char *mode, const char *where, double *v, int reps,
		   const char *unit)
{
	qsort(v, (size_t)reps, sizeof(double), cmpd);
	const double med = v[reps / 2], lo = v[0], hi = v[reps - 1];

	printf("%-18s %-10s %-7s %14.1f [%.1f-%.1f] %s\n", name, mode, where, med, lo, hi, unit);
	if (json)
		fprintf(json,
			"%s\n    {\"name\": \"%s/%s/%s\", \"value\": %.1f, \"min\": %.1f, "
			"\"max\": %.1f, \"repetitions\": %d, \"unit\": \"%s\"}",
			results++ ? "," : "", name, mode, where, med, lo, hi, reps, unit);
}

/* The first two CPUs this process may run on, for the placements. */
static int place(const char *where)
{
	cpu_set_t set;
	int cpus[2], n = 0;

	if (!strcmp(where, "free"))
		return 0;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	if (!strcmp(where, "packed") || n < 2) {
		if (strcmp(where, "packed") != 0)
			return -1; /* spread needs two CPUs */
		cpu_of_side[0] = cpu_of_side[1] = cpus[0];
		return 0;
	}
	if (strcmp(where, "spread") != 0)
		return -1;
	cpu_of_side[0] = cpus[0];
	cpu_of_side[1] = cpus[1];
	return 0;
}

#define MAX_REPS 99

int main(int argc, char **argv)
{
	size_t items = 4000000, trips = 200000;
	int reps = 7;
	const char *out = NULL, *where = getenv("LFQ_BENCH_PLACEMENT");

	if (!where || !*where)
		where = "spread";
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--items=", 8))
			items = strtoull(argv[i] + 8, NULL, 10);
		else if (!strncmp(argv[i], "--trips=", 8))
			trips = strtoull(argv[i] + 8, NULL, 10);
		else if (!strncmp(argv[i], "--reps=", 7))
			reps = atoi(argv[i] + 7);
		else if (!strncmp(argv[i], "--placement=", 12))
			where = argv[i] + 12;
		else if (!strncmp(argv[i], "--out=", 6))
			out = argv[i] + 6;
		else
			reps = -1;
	}
	if (reps < 1 || reps > MAX_REPS || items == 0 || trips == 0 || place(where) != 0) {
		fprintf(stderr,
			"usage: %s [--items=N] [--trips=M] [--reps=1..%d] "
			"[--placement=spread|packed|free] [--out=FILE]\n",
			argv[0], MAX_REPS);
		return 2;
	}
	if (lfq_ring_shared_size(1, 0) == 0) {
		fprintf(stderr, "shared rings are not supported by this build's ring backend\n");
		return 0;
	}
	if (out && !(json = fopen(out, "w")))
		return 1;
	if (json)
		fprintf(json, "{\"placement\": \"%s\", \"benchmarks\": [", where);
	int64_t *rtt = mmap(NULL, (trips + 1000) * sizeof(int64_t), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	/* [threads, processes][throughput, p50, p99][repetition] */
	static double v[2][3][MAX_REPS];

	if (rtt == MAP_FAILED)
		return 1;
	/* Repetitions interleave the two modes (threads, processes, threads, ...). */
	for (int rep = 0; rep < reps; rep++) {
		for (int threads = 1; threads >= 0; threads--) {
			struct job j = {make_ring(threads, 1024), NULL, items, NULL};

			if (!j.a)
				return 1;
			const int64_t t0 = now_ns();

			if (run_pair(threads, produce, consume, &j) != 0) {
				fprintf(stderr, "throughput: a side failed (wrong sum?)\n");
				return 1;
			}
			v[threads][0][rep] = (double)items * 1e9 / (double)(now_ns() - t0);
			struct job p = {make_ring(threads, 64), make_ring(threads, 64),
					trips + 1000, rtt};

			if (!p.a || !p.b || run_pair(threads, initiate, echo, &p) != 0)
				return 1;
			qsort(rtt + 1000, trips, sizeof(int64_t), cmp64);
			v[threads][1][rep] = (double)rtt[1000 + trips / 2];
			v[threads][2][rep] = (double)rtt[1000 + trips * 99 / 100];
			if (threads) {
				lfq_ring_destroy(j.a);
				lfq_ring_destroy(p.a);
				lfq_ring_destroy(p.b);
			}
		}
	}
	for (int threads = 1; threads >= 0; threads--) {
		const char *mode = threads ? "threads" : "processes";

		report("throughput", mode, where, v[threads][0], reps, "items/s");
		report("pingpong_rtt_p50", mode, where, v[threads][1], reps, "ns");
		report("pingpong_rtt_p99", mode, where, v[threads][2], reps, "ns");
	}
	if (json) {
		fprintf(json, "\n]}\n");
		fclose(json);
	}
	return 0;
}
