/* SPDX-License-Identifier: MIT */
/*
 * A thread stopped at a random point inside a ring call, many times over, on rings of 1 and
 * 3 (tests/test_ring_stopped.c stops it at each named test point once; this one stops it at
 * the k-th scheduling point of its call, LFQ_SCHED_POINT in lib/testing.h, which precedes
 * every shared atomic access).
 *
 * One run: a ring gets a random number of items (the "prefill", producer P); a victim thread
 * starts one random call (push, pop, push_burst or pop_burst of up to capacity + 1 items,
 * push_bulk on an LFQ_RING_SP ring, pop_bulk on an LFQ_RING_SC ring) and is held at its k-th
 * scheduling point, k drawn from the points the same call takes when it runs alone (counted
 * on a twin ring first); one run in ten holds it after its call instead. Meanwhile the test
 * thread pushes (producer O) until the ring answers full and pops until it answers empty; on
 * an SP ring it only pops, on an SC ring it only pushes, since the victim is that ring's one
 * producer or consumer. Then the victim resumes and the test thread pops what is left.
 *
 * Checked on every run, on both backends: every item pushed (P, O, and the victim's, V) is
 * popped exactly once, by the pops while the victim is held, by the victim, or after it;
 * each producer's items come out in order; and what the pops see while the victim is held is
 * a FIFO: the P items, then V items, then O items. Then what the backend promises:
 * - cell ring: a stopped thread holds nothing. Pushing until full and popping until empty
 *   moves exactly capacity items: "full" with fewer in (a false full) or "empty" with an item
 *   left in (a false empty) fails the run.
 * - portable (SCQ) backend (docs/ring.md): a thread stopped inside a call holds the slots of
 *   the items it is moving, so the ring may answer full with up to that many fewer items in,
 *   and the items it is moving may be out of sight (its own pushes not yet visible, items its
 *   pop will return missing from the others' pops). Nothing else: an item of any other thread
 *   is never missed, and a thread held after its call costs nothing.
 * The counts (stops inside calls, false full and false empty answers) are printed on stderr
 * and asserted. LFQ_STOP_SEED=<n> replays a run sequence (the seed is printed with every
 * failure); LFQ_STRESS_SCALE above 1 makes more stops.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lfq/ring.h>

#include "testing.h"

#if LFQ_RING_CELLS
#define BACKEND "cell ring"
static const bool cell_ring = true;
#else
#define BACKEND "portable SCQ"
static const bool cell_ring = false;
#endif

/* Stops inside a call per capacity, at LFQ_STRESS_SCALE 1 or below. */
#define STOPS_INSIDE 1500
/* Items of one producer in one run, at most: the prefill and the victim's call move at most
 * capacity + 1, the test thread pushes at most capacity + 1 before failing the run. */
#define MAX_ITEMS 8
#define MAX_SEEN (3 * MAX_ITEMS)

enum producer { PROD_P = 1, PROD_V, PROD_O };
#define ITEM(p, seq) ((void *)(uintptr_t)((uintptr_t)(p) << 16 | (uintptr_t)(seq)))
#define PROD_OF(it) ((unsigned)((uintptr_t)(it) >> 16))
#define SEQ_OF(it) ((size_t)((uintptr_t)(it)&0xffff))

enum op { OP_PUSH, OP_POP, OP_PUSH_BURST, OP_POP_BURST, OP_PUSH_BULK, OP_POP_BULK, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"push",	    "pop",	 "push_burst",
					       "pop_burst", "push_bulk", "pop_bulk"};

static bool op_pushes(enum op op)
{
	return op == OP_PUSH || op == OP_PUSH_BURST || op == OP_PUSH_BULK;
}

/* splitmix64: small, and every seed gives a full-period sequence. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static size_t below(uint64_t *state, size_t n)
{
	return (size_t)(next_random(state) % n);
}

/* Who meets a scheduling point: nobody we count, the twin ring's dry run, or the victim. */
enum role { ROLE_NONE, ROLE_COUNT, ROLE_VICTIM };
static _Thread_local enum role role;
static _Thread_local size_t points_met;
/* Set before the victim's call starts (posting `go` orders it) and read only by the victim. */
static size_t stop_at;
/* Written by the victim before it posts `stopped`, read by the test thread after. */
static bool stopped_inside;
/* One victim thread serves every run (creating a thread per run is slow under QEMU): `go`
 * starts its call, `stopped` says it is held, `resume` lets it go on, `finished` says the call
 * returned. Each post orders what its poster wrote before it for the thread that waits. */
static sem_t go, stopped, resume, finished;

static void wait_for(sem_t *sem)
{
	while (sem_wait(sem) != 0)
		;
}

static void hold_victim(bool inside)
{
	stopped_inside = inside;
	sem_post(&stopped);
	wait_for(&resume);
}

static void on_sched_point(const char *file, int line)
{
	(void)file;
	(void)line;
	if (role == ROLE_NONE)
		return;
	points_met++;
	if (role == ROLE_VICTIM && points_met == stop_at)
		hold_victim(true);
}

/* The call under test; returns the count of items it moved. */
static size_t run_op(struct lfq_ring *r, enum op op, void **items, size_t m, int *rc)
{
	*rc = 0;
	switch (op) {
	case OP_PUSH:
		*rc = lfq_ring_push(r, items[0]);
		return *rc == 0;
	case OP_POP:
		*rc = lfq_ring_pop(r, &items[0]);
		return *rc == 0;
	case OP_PUSH_BURST:
		return lfq_ring_push_burst(r, items, m);
	case OP_POP_BURST:
		return lfq_ring_pop_burst(r, items, m);
	case OP_PUSH_BULK:
		return lfq_ring_push_bulk(r, items, m, NULL);
	case OP_POP_BULK:
		return lfq_ring_pop_bulk(r, items, m, NULL);
	default:
		return 0;
	}
}

struct victim {
	struct lfq_ring *r;
	enum op op;
	size_t m, moved;
	int rc;
	void *items[MAX_ITEMS];
};

/* The next call for the victim thread; NULL ends it. */
static struct victim *victim_job;

static void *victim_main(void *arg)
{
	(void)arg;
	role = ROLE_VICTIM;
	for (;;) {
		wait_for(&go);
		struct victim *v = victim_job;

		if (!v)
			return NULL;
		points_met = 0;
		v->moved = run_op(v->r, v->op, v->items, v->m, &v->rc);
		if (points_met < stop_at) /* the call took fewer points: held after it */
			hold_victim(false);
		sem_post(&finished);
	}
}

static unsigned ring_flags(enum op op)
{
	return op == OP_PUSH_BULK ? LFQ_RING_SP : op == OP_POP_BULK ? LFQ_RING_SC : 0;
}

static struct lfq_ring *prefilled_ring(size_t cap, unsigned flags, size_t n)
{
	struct lfq_ring *r;

	cr_assert_eq(lfq_ring_create(&r, cap, flags), 0);
	for (size_t i = 1; i <= n; i++)
		cr_assert_eq(lfq_ring_push(r, ITEM(PROD_P, i)), 0);
	return r;
}

struct tally {
	size_t inside, after, false_full, false_empty, max_deficit, runs;
};

/* What one run saw: G the victim's pops, S the test thread's pops while the victim was held,
 * T its pops after the victim finished. */
struct seen {
	void *g[MAX_ITEMS], *s[MAX_SEEN], *t[MAX_SEEN];
	size_t ng, ns, nt;
};

static size_t count_of(void *const *items, size_t n, unsigned prod)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += PROD_OF(items[i]) == prod;
	return k;
}

/* Whether each producer's items in items[0..n) come in increasing sequence order. */
static bool in_order(void *const *items, size_t n)
{
	size_t last[PROD_O + 1] = {0};

	for (size_t i = 0; i < n; i++) {
		const unsigned p = PROD_OF(items[i]);

		if (p < PROD_P || p > PROD_O || SEQ_OF(items[i]) <= last[p])
			return false;
		last[p] = SEQ_OF(items[i]);
	}
	return true;
}

/* Whether items[0..n) hold P items first, then V items, then O items: the order in which
 * they were pushed, when each producer's pushes ended before the next one's began. */
static bool by_producer(void *const *items, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (PROD_OF(items[i - 1]) > PROD_OF(items[i]))
			return false;
	return true;
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			char lfq__m[160];                                                          \
			snprintf(lfq__m, sizeof(lfq__m), __VA_ARGS__);                             \
			cr_assert(false, "%s: %s (%s)", what, lfq__m, #cond);                      \
		}                                                                                  \
	} while (0)

static void one_run(uint64_t seed, uint64_t *rng, size_t cap, struct tally *tally)
{
	const enum op op = (enum op)below(rng, OP_COUNT);
	const size_t n = below(rng, cap + 1);
	size_t m = 1;

	if (op == OP_PUSH_BURST || op == OP_POP_BURST)
		m = 1 + below(rng, cap + 1); /* one more than fits, sometimes */
	else if (op == OP_PUSH_BULK || op == OP_POP_BULK)
		m = 1 + below(rng, cap);
	const unsigned flags = ring_flags(op);
	const bool others_push = op != OP_PUSH_BULK, others_pop = op != OP_POP_BULK;
	struct victim v = {.op = op, .m = m};

	for (size_t i = 0; i < m; i++)
		v.items[i] = op_pushes(op) ? ITEM(PROD_V, i + 1) : NULL;

	/* The call alone on a twin ring: how many points it meets. */
	struct lfq_ring *twin = prefilled_ring(cap, flags, n);
	void *scratch[MAX_ITEMS];
	int rc;

	memcpy(scratch, v.items, sizeof(scratch));
	role = ROLE_COUNT;
	points_met = 0;
	(void)run_op(twin, op, scratch, m, &rc);
	role = ROLE_NONE;
	const size_t points = points_met;
	lfq_ring_destroy(twin);
	stop_at = points == 0 || below(rng, 10) == 0 ? points + 1 : 1 + below(rng, points);

	char what[200];
	snprintf(what, sizeof(what),
		 BACKEND " seed %#" PRIx64 " run %zu: ring of %zu with %zu in, %s of %zu held at "
			 "point %zu of %zu",
		 seed, tally->runs, cap, n, op_names[op], m, stop_at, points);

	v.r = prefilled_ring(cap, flags, n);
	victim_job = &v;
	sem_post(&go);
	wait_for(&stopped);
	const bool inside = stopped_inside;
	struct seen sn = {.ng = 0};
	size_t pushed = 0;

	if (others_push) {
		while ((rc = lfq_ring_push(v.r, ITEM(PROD_O, pushed + 1))) == 0) {
			pushed++;
			CHECK(pushed <= cap, "%zu pushes accepted", pushed);
		}
		CHECK(rc == -EAGAIN, "push answered %d", rc);
	}
	if (others_pop) {
		while ((rc = lfq_ring_pop(v.r, &sn.s[sn.ns])) == 0) {
			sn.ns++;
			CHECK(sn.ns <= cap, "%zu pops succeeded", sn.ns);
		}
		CHECK(rc == -EAGAIN, "pop answered %d", rc);
	}
	sem_post(&resume);
	wait_for(&finished);
	while (lfq_ring_pop(v.r, &sn.t[sn.nt]) == 0) {
		sn.nt++;
		CHECK(sn.nt <= cap, "%zu pops succeeded after the victim", sn.nt);
	}
	lfq_ring_destroy(v.r);
	if (op == OP_PUSH || op == OP_POP)
		CHECK(v.rc == 0 || v.rc == -EAGAIN, "the victim's call answered %d", v.rc);
	CHECK(v.moved <= m, "the victim moved %zu", v.moved);
	if (!op_pushes(op)) {
		memcpy(sn.g, v.items, v.moved * sizeof(void *));
		sn.ng = v.moved;
	}

	/* Exactly once: P1..Pn, O1..O_pushed and the victim's V1..V_moved, each popped once. */
	unsigned char times[PROD_O + 1][MAX_ITEMS + 2] = {{0}};
	void *const *lists[3] = {sn.g, sn.s, sn.t};
	const size_t lens[3] = {sn.ng, sn.ns, sn.nt};
	const size_t pushed_by[PROD_O + 1] = {
		[PROD_P] = n, [PROD_V] = op_pushes(op) ? v.moved : 0, [PROD_O] = pushed};

	for (int l = 0; l < 3; l++)
		for (size_t i = 0; i < lens[l]; i++) {
			const unsigned p = PROD_OF(lists[l][i]);
			const size_t s = SEQ_OF(lists[l][i]);

			CHECK(p >= PROD_P && p <= PROD_O && s >= 1 && s <= pushed_by[p],
			      "popped %p, never pushed", lists[l][i]);
			times[p][s]++;
		}
	for (unsigned p = PROD_P; p <= PROD_O; p++)
		for (size_t s = 1; s <= pushed_by[p]; s++)
			CHECK(times[p][s] == 1, "item %u.%zu popped %u times", p, s, times[p][s]);

	/* Each producer's order, for each consumer; the test thread's pops are one sequence. */
	void *st[2 * MAX_SEEN];

	memcpy(st, sn.s, sn.ns * sizeof(void *));
	memcpy(st + sn.ns, sn.t, sn.nt * sizeof(void *));
	CHECK(in_order(sn.g, sn.ng), "the victim popped out of order");
	CHECK(in_order(st, sn.ns + sn.nt), "the test thread popped out of order");

	const size_t allowed = cell_ring || !inside ? 0 : m;
	bool false_full = false, false_empty = false;

	if (others_pop) {
		/* While the victim was held: P items, then V items, then O items. */
		CHECK(by_producer(sn.s, sn.ns), "popped out of FIFO order");
		/* An item of the prefill or of the test thread that these pops missed: the pop
		 * answered "empty" while it was in. Only the victim's pop may hold such items
		 * (they are what it returns). */
		const size_t missed_later = sn.nt - count_of(sn.t, sn.nt, PROD_V);
		const size_t missed_by_victim = count_of(sn.g, sn.ng, PROD_O);

		CHECK(missed_later == 0, "%zu items the pops missed came out after the victim",
		      missed_later);
		if (missed_by_victim) {
			false_empty = true;
			CHECK(missed_by_victim <= allowed, "the held pop took %zu pushed later",
			      missed_by_victim);
		}
		if (op_pushes(op))
			CHECK(count_of(sn.s, sn.ns, PROD_P) == n,
			      "%zu of %zu prefilled items popped", count_of(sn.s, sn.ns, PROD_P),
			      n);
	}
	if (others_push && others_pop) {
		/* Pushed until full, then popped until empty with nobody else moving: capacity
		 * items, less only what the held call may keep. */
		const size_t deficit = cap - sn.ns;

		if (deficit) {
			false_full = true;
			CHECK(deficit <= allowed, "full and then empty after %zu pops", sn.ns);
		}
		if (deficit > tally->max_deficit)
			tally->max_deficit = deficit;
	}
	if (!others_pop) {
		/* The ring's one consumer was held: the pushes must have found at least the room
		 * that was free before it started, and at most that plus what it took. */
		const size_t took = count_of(sn.g, sn.ng, PROD_P);

		if (pushed < cap - n) {
			false_full = true;
			CHECK(false, "full after %zu pushes with %zu in", pushed, n);
		}
		CHECK(pushed <= cap - n + took, "%zu pushes with %zu in, %zu taken", pushed, n,
		      took);
		/* One consumer throughout (the victim, then this thread once its call returned). */
		void *gt[MAX_ITEMS + MAX_SEEN];

		memcpy(gt, sn.g, sn.ng * sizeof(void *));
		memcpy(gt + sn.ng, sn.t, sn.nt * sizeof(void *));
		CHECK(by_producer(gt, sn.ng + sn.nt), "popped out of FIFO order");
	}
	if (op == OP_PUSH_BULK || op == OP_POP_BULK)
		CHECK(v.moved == 0 || v.moved == m, "bulk call moved %zu of %zu", v.moved, m);

	tally->runs++;
	if (inside)
		tally->inside++;
	else
		tally->after++;
	tally->false_full += false_full;
	tally->false_empty += false_empty;
}

static uint64_t seed_from_env(void)
{
	const char *e = getenv("LFQ_STOP_SEED");

	if (e && *e)
		return strtoull(e, NULL, 0);
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
}

static size_t stops_wanted(void)
{
	const char *k = getenv("LFQ_STRESS_SCALE");
	const double scale = k ? strtod(k, NULL) : 1;

	return scale > 1 ? (size_t)(STOPS_INSIDE * scale) : STOPS_INSIDE;
}

Test(ring_stopped_random, a_thread_stopped_at_random_points_costs_what_the_backend_promises,
     .timeout = 300)
{
	const uint64_t seed = seed_from_env();
	const size_t wanted = stops_wanted();
	uint64_t rng = seed;

	pthread_t victim;

	cr_assert_eq(sem_init(&go, 0, 0), 0);
	cr_assert_eq(sem_init(&stopped, 0, 0), 0);
	cr_assert_eq(sem_init(&resume, 0, 0), 0);
	cr_assert_eq(sem_init(&finished, 0, 0), 0);
	/* Relaxed: installed before the victim thread that meets the points starts. */
	atomic_store_explicit(&lfq__sched_hook, on_sched_point, memory_order_relaxed);
	cr_assert_eq(pthread_create(&victim, NULL, victim_main, NULL), 0);
	for (size_t cap = 1; cap <= 3; cap += 2) {
		struct tally tally = {0};

		while (tally.inside < wanted && tally.runs < 4 * wanted)
			one_run(seed, &rng, cap, &tally);
		fprintf(stderr,
			"ring_stopped_random: " BACKEND ", ring of %zu: %zu stops, %zu inside a "
			"call, %zu after; false full %zu, false empty %zu (largest shortfall %zu); "
			"LFQ_STOP_SEED=%#" PRIx64 "\n",
			cap, tally.runs, tally.inside, tally.after, tally.false_full,
			tally.false_empty, tally.max_deficit, seed);
		cr_assert_geq(tally.inside, wanted, "seed %#" PRIx64 ": %zu stops inside a call",
			      seed, tally.inside);
		/* Most stops are inside a call (about one in ten is held after it). */
		cr_assert_lt(tally.after * 4, tally.inside, "seed %#" PRIx64 ": %zu stops after",
			     seed, tally.after);
#if LFQ_RING_CELLS
		cr_assert_eq(tally.false_full + tally.false_empty, 0);
#else
		/* What docs/ring.md says SCQ does: a ring of 1 whose only pusher is stopped answers
		 * "full" to a push while a pop finds nothing. Asserted, so that a change of the
		 * design that removes it is noticed and the docs are updated. */
		if (cap == 1)
			cr_assert_gt(tally.false_full, 0, "seed %#" PRIx64, seed);
#endif
	}
	victim_job = NULL;
	sem_post(&go);
	cr_assert_eq(pthread_join(victim, NULL), 0);
	atomic_store_explicit(&lfq__sched_hook, NULL, memory_order_relaxed);
}
