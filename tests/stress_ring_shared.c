/* SPDX-License-Identifier: MIT */
/*
 * stress: one shared lfq_ring (a memfd each worker maps at its own address), P producer and
 * C consumer processes, and a supervisor (the test) that SIGKILLs random workers at random
 * moments, hundreds of times, replacing each one. Checked from per-producer sequence
 * numbers, against include/lfq/ring.h's guarantee for killed processes:
 *   - every item whose push returned 0 (seq <= the producer's acknowledged seq) is popped
 *     exactly once; the only exception allowed is an item popped by a consumer killed
 *     between the pop's atomic step and the store of the item into its "in hand" slot (a
 *     few instructions inside lfq_ring_pop), at most one per consumer kill;
 *   - an item whose push was interrupted is popped at most once; an item never handed to
 *     a push is never popped; nothing is popped twice;
 *   - each consumer sees each producer's items in increasing order (FIFO);
 *   - the workers keep making progress: a window with no completed operation fails;
 *   - at the end the ring is not wedged: it drains to empty, accepts `capacity` pushes,
 *     refuses one more, and yields them back in order.
 * Sizes: LFQ_SHARED_STRESS_KILLS (kills per run, default 500, times LFQ_STRESS_SCALE).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lfq/ring.h>

#include "ring_internal.h"
#include "shm_util.h"
#include "stress_util.h"

#define PRODUCERS 3
#define CONSUMERS 3
#define WORKERS (PRODUCERS + CONSUMERS)
#define MAX_IDS 1024  /* producer processes over a run: each gets a fresh id */
#define MAX_SEQ 16384 /* items per producer process; then it exits and is replaced */
#define BURST 4

/*
 * The bookkeeping, in an anonymous MAP_SHARED region inherited through fork. Workers write
 * it with relaxed atomics (or plain stores into their own slots); the supervisor reads a
 * worker's entries only after waitpid returned for it (process exit orders them), apart
 * from the progress counters and the CAS-recorded `popped`, which are atomic.
 */
struct board {
	_Atomic uint32_t stop;	/* producers: stop pushing and exit */
	_Atomic uint32_t drain; /* consumers: exit at the first "empty" */
	_Atomic uint64_t ops[WORKERS];
	_Atomic uint64_t dups, fifo_breaks, bad_items;
	_Atomic uint64_t acked[MAX_IDS];     /* last seq whose push returned 0 */
	_Atomic uint64_t attempted[MAX_IDS]; /* highest seq handed to a push call */
	void *inhand[CONSUMERS][BURST];	     /* each consumer's pop destination */
	/* The token of the consumer process that popped each item (0: not popped). */
	_Atomic uint16_t popped[MAX_IDS][MAX_SEQ + 1];
};

struct slot {
	pid_t pid;    /* 0: empty (producer ids used up) */
	unsigned tag; /* producer id or consumer token */
};

struct run {
	int fd;
	size_t bytes, capacity;
	struct board *b;
	struct slot slots[WORKERS];
	unsigned next_id, next_token;
	unsigned long kills_p, kills_c, retired, resolved;
	unsigned long exits; /* workers reaped: the watchdog counts them as progress */
};

static struct lfq_ring *worker_attach(const struct run *run)
{
	void *mem = shm_map(run->fd, run->bytes);
	struct lfq_ring *r = NULL;

	if (!mem || lfq_ring_shared_attach(&r, mem, run->bytes) != 0)
		_exit(2);
	return r;
}

static void producer(const struct run *run, unsigned slot, unsigned id)
{
	struct lfq_ring *r = worker_attach(run);
	struct board *b = run->b;
	unsigned seed = id * 7919u + 1;
	uint64_t seq = 1;

	while (!atomic_load_explicit(&b->stop, memory_order_relaxed) && seq <= MAX_SEQ) {
		const unsigned mode = (unsigned)rand_r(&seed) % 3;
		size_t n = 0;

		if (mode < 2) {
			void *it = STRESS_ITEM(id, seq);

			/* Relaxed: read by the supervisor only after this process died. */
			atomic_store_explicit(&b->attempted[id], seq, memory_order_relaxed);
			n = (mode == 0 ? lfq_ring_push(r, it)
				       : lfq_ring_push_wait(r, it, 1000000)) == 0;
		} else {
			void *items[BURST];
			size_t k = 0;

			while (k < BURST && seq + k <= MAX_SEQ) {
				items[k] = STRESS_ITEM(id, seq + k);
				k++;
			}
			atomic_store_explicit(&b->attempted[id], seq + k - 1, memory_order_relaxed);
			n = lfq_ring_push_burst(r, items, k);
		}
		if (n) {
			seq += n;
			atomic_store_explicit(&b->acked[id], seq - 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&b->ops[slot], n, memory_order_relaxed);
		}
	}
	_exit(0);
}

/* Records one popped item for the consumer with @p token: its first and only pop. */
static void record(struct board *b, void *it, uint16_t token, uint64_t *last)
{
	if (!STRESS_OK(it) || STRESS_PROD(it) >= MAX_IDS || STRESS_SEQ(it) < 1 ||
	    STRESS_SEQ(it) > MAX_SEQ) {
		atomic_fetch_add_explicit(&b->bad_items, 1, memory_order_relaxed);
		return;
	}
	const unsigned p = STRESS_PROD(it);
	const uint64_t s = STRESS_SEQ(it);
	uint16_t none = 0;

	/* Relaxed CAS: only its atomicity matters (who recorded first). */
	if (!atomic_compare_exchange_strong_explicit(&b->popped[p][s], &none, token,
						     memory_order_relaxed, memory_order_relaxed))
		atomic_fetch_add_explicit(&b->dups, 1, memory_order_relaxed);
	if (last) {
		if (s <= last[p])
			atomic_fetch_add_explicit(&b->fifo_breaks, 1, memory_order_relaxed);
		last[p] = s;
	}
}

static void consumer(const struct run *run, unsigned slot, unsigned token)
{
	struct lfq_ring *r = worker_attach(run);
	struct board *b = run->b;
	void **hand = b->inhand[slot - PRODUCERS];
	uint64_t *last = calloc(MAX_IDS, sizeof(*last));
	unsigned seed = token * 104729u + 3;

	if (!last)
		_exit(2);
	for (;;) {
		const unsigned mode = (unsigned)rand_r(&seed) % 3;
		size_t n;

		memset(hand, 0, sizeof(void *) * BURST);
		/* The pops write straight into the shared hand: a kill after the pop's atomic
		 * step leaves the item there for the supervisor, but for a few instructions. */
		if (mode == 0)
			n = lfq_ring_pop(r, &hand[0]) == 0;
		else if (mode == 1)
			n = lfq_ring_pop_wait(r, &hand[0], 1000000) == 0;
		else
			n = lfq_ring_pop_burst(r, hand, BURST);
		if (n == 0 && atomic_load_explicit(&b->drain, memory_order_relaxed))
			_exit(0);
		for (size_t i = 0; i < n; i++)
			record(b, hand[i], (uint16_t)token, last);
		if (n)
			atomic_fetch_add_explicit(&b->ops[slot], n, memory_order_relaxed);
	}
}

static void spawn(struct run *run, unsigned slot)
{
	struct slot *s = &run->slots[slot];

	if (slot < PRODUCERS) {
		if (run->next_id >= MAX_IDS) {
			s->pid = 0;
			return;
		}
		s->tag = run->next_id++;
	} else {
		cr_assert_lt(run->next_token, 65535);
		s->tag = run->next_token++;
	}
	const pid_t parent = getpid(), pid = fork();

	cr_assert(pid >= 0, "fork");
	if (pid == 0) {
		/* A failed assertion ends the supervisor: its workers must not outlive it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(2);
		if (slot < PRODUCERS)
			producer(run, slot, s->tag);
		consumer(run, slot, s->tag);
	}
	s->pid = pid;
}

/* A consumer died: what it held in its hand is popped, by it. */
static void resolve_hand(struct run *run, unsigned slot)
{
	void **hand = run->b->inhand[slot - PRODUCERS];
	const uint16_t token = (uint16_t)run->slots[slot].tag;

	for (size_t i = 0; i < BURST; i++) {
		void *it = hand[i];

		if (!it)
			continue;
		if (STRESS_OK(it) && STRESS_PROD(it) < MAX_IDS && STRESS_SEQ(it) <= MAX_SEQ &&
		    atomic_load_explicit(&run->b->popped[STRESS_PROD(it)][STRESS_SEQ(it)],
					 memory_order_relaxed) == 0)
			run->resolved++;
		/* Recorded by this consumer already: nothing; by another: a duplicate. */
		if (atomic_load_explicit(&run->b->popped[STRESS_PROD(it)][STRESS_SEQ(it)],
					 memory_order_relaxed) != token)
			record(run->b, it, token, NULL);
	}
	/* The slot's next consumer must not find this one's items. */
	memset(hand, 0, sizeof(void *) * BURST);
}

/* Reaps one worker's exit (@p status of @p pid): a kill we made, or a producer retiring. */
static void reaped(struct run *run, pid_t pid, int status, bool killed)
{
	for (unsigned i = 0; i < WORKERS; i++) {
		if (run->slots[i].pid != pid)
			continue;
		const bool by_kill = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && killed;

		cr_assert(by_kill || (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
				      (i < PRODUCERS || atomic_load(&run->b->drain))),
			  "worker %u (%s) ended with status %#x", i,
			  i < PRODUCERS ? "producer" : "consumer", status);
		if (i >= PRODUCERS)
			resolve_hand(run, i);
		if (by_kill)
			*(i < PRODUCERS ? &run->kills_p : &run->kills_c) += 1;
		else if (i < PRODUCERS)
			run->retired++;
		run->slots[i].pid = 0;
		run->exits++;
		return;
	}
	cr_assert(0, "unknown child %d", (int)pid);
}

static double scale(void)
{
	const char *k = getenv("LFQ_STRESS_SCALE");
	const double s = k ? strtod(k, NULL) : 1.0;

	return s > 0 ? s : 1.0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Completed operations, plus exits if @p exits (the wind-down ends by exits, not operations;
 * during the storm only operations count, as our kills cause exits whatever the ring does). */
static uint64_t progress(const struct run *run, bool exits)
{
	uint64_t sum = exits ? run->exits : 0;

	for (unsigned i = 0; i < WORKERS; i++)
		sum += atomic_load_explicit(&run->b->ops[i], memory_order_relaxed);
	return sum;
}

/* Fails when no operation completed for a whole window (a wedged ring stops them all). */
struct watchdog {
	uint64_t seen;
	int64_t since, window;
};

static void watch(struct watchdog *w, const struct run *run, const char *phase, bool exits)
{
	const uint64_t p = progress(run, exits);
	const int64_t t = now_ns();

	if (p != w->seen) {
		w->seen = p;
		w->since = t;
		return;
	}
	if (t - w->since > w->window) {
		for (unsigned i = 0; i < WORKERS; i++)
			if (run->slots[i].pid > 0)
				kill(run->slots[i].pid, SIGKILL);
		cr_assert(0, "%s: no operation completed for %.1f s", phase, w->window / 1e9);
	}
}

static void kill_storm(size_t capacity)
{
	struct run run = {.capacity = capacity, .next_id = 0, .next_token = 1};
	const double k = scale();
	const char *e = getenv("LFQ_SHARED_STRESS_KILLS");
	const unsigned long target = (unsigned long)((e ? strtod(e, NULL) : 500) * k);
	struct watchdog wd = {.window = (int64_t)(5e9 / (k < 1 ? k : 1))};

	run.bytes = lfq_ring_shared_size(capacity, 0);
	run.fd = shm_region(run.bytes);
	void *mem = shm_map(run.fd, run.bytes);

	cr_assert_not_null(mem);
	cr_assert_eq(lfq_ring_shared_init(mem, run.bytes, capacity, 0), 0);
	run.b = mmap(NULL, sizeof(struct board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	cr_assert(run.b != MAP_FAILED);
	for (unsigned i = 0; i < WORKERS; i++)
		spawn(&run, i);
	unsigned seed = (unsigned)capacity;

	wd.since = now_ns();
	while (run.kills_p + run.kills_c < (target < 20 ? 20 : target)) {
		struct timespec pause = {0, (1 + rand_r(&seed) % 15) * 1000000l};
		int status;
		pid_t pid;
		bool any = false;

		nanosleep(&pause, NULL);
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			reaped(&run, pid, status, false);
		for (unsigned i = 0; i < WORKERS; i++) {
			if (run.slots[i].pid == 0)
				spawn(&run, i);
			any |= i < PRODUCERS && run.slots[i].pid > 0;
		}
		if (!any)
			break; /* producer ids used up */
		const unsigned victim = (unsigned)rand_r(&seed) % WORKERS;
		const pid_t vp = run.slots[victim].pid;

		if (vp > 0) {
			cr_assert_eq(kill(vp, SIGKILL), 0);
			cr_assert_eq(waitpid(vp, &status, 0), vp);
			reaped(&run, vp, status, true);
			spawn(&run, victim);
		}
		watch(&wd, &run, "kill storm", false);
	}
	/* Wind down: producers stop, then consumers drain the ring and exit. */
	atomic_store(&run.b->stop, 1);
	for (unsigned phase = 0; phase < 2; phase++) {
		if (phase == 1)
			atomic_store(&run.b->drain, 1);
		for (;;) {
			bool alive = false;
			int status;
			pid_t pid;

			while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
				reaped(&run, pid, status, false);
			for (unsigned i = phase ? PRODUCERS : 0; i < (phase ? WORKERS : PRODUCERS);
			     i++)
				alive |= run.slots[i].pid > 0;
			if (!alive)
				break;
			usleep(1000);
			watch(&wd, &run, phase ? "drain" : "producers' exit", true);
		}
	}
	/* The verdicts. */
	struct board *b = run.b;
	unsigned long lost = 0, phantom = 0, interrupted_popped = 0, acked_total = 0;

	cr_assert_eq(atomic_load(&b->bad_items), 0, "corrupted items popped");
	cr_assert_eq(atomic_load(&b->dups), 0, "items popped twice");
	cr_assert_eq(atomic_load(&b->fifo_breaks), 0, "a producer's items out of order");
	for (unsigned id = 0; id < run.next_id; id++) {
		const uint64_t acked = atomic_load(&b->acked[id]);
		const uint64_t tried = atomic_load(&b->attempted[id]);

		acked_total += acked;
		for (uint64_t s = 1; s <= MAX_SEQ; s++) {
			const bool popped = atomic_load(&b->popped[id][s]) != 0;

			if (s <= acked)
				lost += !popped;
			else if (s <= tried)
				interrupted_popped += popped;
			else
				phantom += popped;
		}
	}
	fprintf(stderr,
		"capacity %zu: %lu producer and %lu consumer kills, %lu producers retired, "
		"%lu items acknowledged, %lu lost in a killed consumer's pop, %lu recovered "
		"from killed consumers' hands, %lu interrupted pushes popped\n",
		capacity, run.kills_p, run.kills_c, run.retired, acked_total, lost, run.resolved,
		interrupted_popped);
	cr_assert_eq(phantom, 0, "%lu items popped that no push was given", phantom);
	cr_assert_leq(lost, run.kills_c, "%lu acknowledged items never popped, %lu consumer kills",
		      lost, run.kills_c);
	cr_assert_gt(run.kills_p, 0);
	cr_assert_gt(run.kills_c, 0);
	cr_assert_gt(acked_total, 0);
	/* Not wedged: drained to empty, accepts exactly `capacity`, yields them in order. */
	struct lfq_ring *r = NULL;
	void *out = NULL;

	cr_assert_eq(lfq_ring_shared_attach(&r, mem, run.bytes), 0);
	cr_assert_eq(lfq_ring_size(r), 0);
	cr_assert_eq(lfq_ring_pop(r, &out), -EAGAIN);
	for (uintptr_t i = 1; i <= capacity; i++)
		cr_assert_eq(lfq_ring_push(r, (void *)i), 0, "push %zu after the storm", (size_t)i);
	cr_assert_eq(lfq_ring_push(r, (void *)1), -EAGAIN);
	for (uintptr_t i = 1; i <= capacity; i++) {
		cr_assert_eq(lfq_ring_pop(r, &out), 0);
		cr_assert_eq(out, (void *)i);
	}
	cr_assert_eq(lfq_ring_pop(r, &out), -EAGAIN);
	lfq_ring_shared_detach(r);
	munmap(run.b, sizeof(struct board));
	munmap(mem, run.bytes);
	close(run.fd);
}

Test(stress_ring_shared, killed_processes_capacity_8, .timeout = 300)
{
	kill_storm(8);
}

Test(stress_ring_shared, killed_processes_capacity_64, .timeout = 300)
{
	kill_storm(64);
}

/*
 * The scribbler (issue 24): two worker processes use a shared ring (every call, short
 * timeouts) while the supervisor writes random 1-3-word values into one region of it at
 * random moments: the hints, the cells or the header (its first line and the waitq lines).
 * LFQ_SCRIBBLE_TRIALS trials per region (default and minimum 30). Checked, against the
 * threat model in include/lfq/ring.h: no worker crashes or hangs (each has an alarm), no
 * call outlives its timeout by more than SCRIBBLE_SLACK_NS (a non-waiting call's timeout
 * being 0), no call returns anything undocumented, size never exceeds the capacity, and
 * no write lands outside the region (each worker's mapping is fenced by canary and
 * PROT_NONE pages, shm_util.h). Items may be lost or invented: that is allowed.
 */
#define SCRIBBLE_SLACK_NS (250 * 1000000ll) /* scheduling on a loaded 2-CPU machine */
#define SCRIBBLE_RUN_NS (40 * 1000000ll)

enum { SCRIBBLE_HINTS, SCRIBBLE_CELLS, SCRIBBLE_HEADER, SCRIBBLE_REGIONS };
static const char *const scribble_names[] = {"hints", "cells", "header"};

struct scribble_board {
	_Atomic uint64_t calls, overruns, bad_results, canaries, refused;
	_Atomic int64_t worst_over_ns; /* the most a call took past its timeout */
};

static void scribble_note(struct scribble_board *b, int64_t took, int64_t timeout, bool ok)
{
	const int64_t over = took - timeout;
	int64_t worst = atomic_load_explicit(&b->worst_over_ns, memory_order_relaxed);

	/* Relaxed: the supervisor reads the board after waitpid. */
	atomic_fetch_add_explicit(&b->calls, 1, memory_order_relaxed);
	if (over > SCRIBBLE_SLACK_NS)
		atomic_fetch_add_explicit(&b->overruns, 1, memory_order_relaxed);
	while (over > worst &&
	       !atomic_compare_exchange_weak_explicit(&b->worst_over_ns, &worst, over,
						      memory_order_relaxed, memory_order_relaxed))
		;
	if (!ok)
		atomic_fetch_add_explicit(&b->bad_results, 1, memory_order_relaxed);
}

static bool scribble_rc_ok(int rc)
{
	return rc == 0 || rc == -EAGAIN || rc == -EPIPE || rc == -EBADMSG || rc == -ETIMEDOUT;
}

static void scribble_worker(struct guarded *g, struct scribble_board *b, unsigned seed)
{
	struct lfq_ring *r = NULL;

	alarm(10);
	if (lfq_ring_shared_attach(&r, g->mem, g->bytes) != 0) {
		/* Already scribbled on: a refusal is a fine answer. */
		atomic_fetch_add_explicit(&b->refused, 1, memory_order_relaxed);
		_exit(guarded_intact(g) ? 0 : 4);
	}
	const size_t cap = lfq_ring_capacity(r);
	const int64_t end = now_ns() + SCRIBBLE_RUN_NS;
	uintptr_t next = 1;

	while (now_ns() < end) {
		const unsigned op = (unsigned)rand_r(&seed) % 10;
		const int64_t timeout = (rand_r(&seed) % 4) * 500000ll; /* 0 .. 1.5 ms */
		void *items[4] = {(void *)next, (void *)(next + 1), (void *)(next + 2),
				  (void *)(next + 3)};
		void *out = NULL;
		const int64_t t0 = now_ns();
		int64_t limit = 0;
		bool ok = true;
		size_t n;

		next += 4;
		switch (op) {
		case 0:
		case 1:
			ok = scribble_rc_ok(lfq_ring_push(r, items[0]));
			break;
		case 2:
		case 3:
			ok = scribble_rc_ok(lfq_ring_pop(r, &out));
			break;
		case 4:
			limit = timeout;
			ok = scribble_rc_ok(lfq_ring_push_wait(r, items[0], timeout));
			break;
		case 5:
			limit = timeout;
			ok = scribble_rc_ok(lfq_ring_pop_wait(r, &out, timeout));
			break;
		case 6:
			ok = lfq_ring_push_burst(r, items, 4) <= 4;
			break;
		case 7:
			ok = lfq_ring_pop_burst(r, items, 4) <= 4;
			break;
		case 8:
			ok = lfq_ring_size(r) <= cap;
			(void)lfq_ring_is_closed(r);
			break;
		default:
			n = lfq_ring_size(r);
			ok = n <= cap;
			if (rand_r(&seed) % 64 == 0)
				lfq_ring_close(r);
			break;
		}
		scribble_note(b, now_ns() - t0, limit, ok);
	}
	lfq_ring_shared_detach(r);
	if (!guarded_intact(g))
		atomic_fetch_add_explicit(&b->canaries, 1, memory_order_relaxed);
	_exit(0);
}

/* A value a peer might write: random bits, or one close to what is there (a position a
 * lap or a few steps off, another state, a small number), which gets past coarse checks. */
static uint64_t scribble_value(uint64_t old, unsigned *seed)
{
	const uint64_t rnd = (uint64_t)rand_r(seed) << 33 ^ (uint64_t)rand_r(seed) << 11 ^
			     (uint64_t)rand_r(seed);

	switch (rand_r(seed) % 6) {
	case 0:
		return rnd;
	case 1:
		return rnd & 0xff;
	case 2:
		return old + ((uint64_t)(rand_r(seed) % 9) << 2) - 16; /* a few positions off */
	case 3:
		return old ^ (uint64_t)(rand_r(seed) % 4); /* another state */
	case 4:
		return old + ((uint64_t)1 << (rand_r(seed) % 40)); /* laps ahead */
	default:
		return rand_r(seed) % 2 ? ~(uint64_t)0 : (uint64_t)1 << 40;
	}
}

/* 1-3 consecutive words at a random place of @p region. */
static void scribble(struct guarded *g, int region, unsigned *seed)
{
	uint64_t *words = (uint64_t *)g->mem;
	size_t first, span;

	if (region == SCRIBBLE_HINTS) {
		first = (rand_r(seed) % 2 ? offsetof(struct lfq_ring, tail)
					  : offsetof(struct lfq_ring, head)) /
			8;
		span = 1;
	} else if (region == SCRIBBLE_CELLS) {
		first = LFQ_RING_CELLS_OFFSET / 8;
		span = (g->bytes - LFQ_RING_CELLS_OFFSET) / 8;
	} else if (rand_r(seed) % 2) {
		first = 0; /* the header line */
		span = LFQ_CACHE_LINE / 8;
	} else {
		first = (rand_r(seed) % 2 ? offsetof(struct lfq_ring, not_empty)
					  : offsetof(struct lfq_ring, not_full)) /
			8;
		span = sizeof(struct lfq__waitq) / 8;
	}
	const size_t n = 1 + (size_t)rand_r(seed) % 3;
	size_t at = first + (size_t)rand_r(seed) % span;

	for (size_t i = 0; i < n && at < g->bytes / 8; i++, at++) {
		_Atomic uint64_t *w = (_Atomic uint64_t *)&words[at];

		atomic_store_explicit(w, scribble_value(atomic_load(w), seed),
				      memory_order_relaxed);
	}
}

Test(stress_ring_shared, scribbled_on_by_a_peer_never_crash_hang_or_overrun, .timeout = 600)
{
	static const size_t caps[] = {1, 3, 8, 64, 232};
	const char *e = getenv("LFQ_SCRIBBLE_TRIALS");
	const unsigned trials = e && atoi(e) > 30 ? (unsigned)atoi(e) : 30;
	struct scribble_board *b =
		mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned seed = 2024;
	unsigned long crashes = 0, hangs = 0, failed = 0, scribbles = 0;
	const int64_t start = now_ns();

	cr_assert(b != MAP_FAILED);
	for (int region = 0; region < SCRIBBLE_REGIONS; region++) {
		for (unsigned trial = 0; trial < trials; trial++) {
			struct guarded g = guarded_ring(caps[(trial + region) % 5]);
			pid_t pids[2];

			for (int i = 0; i < 2; i++) {
				const unsigned wseed = seed + 17u * (unsigned)i;

				fflush(NULL);
				pids[i] = fork();
				cr_assert(pids[i] >= 0);
				if (pids[i] == 0) {
					prctl(PR_SET_PDEATHSIG, SIGKILL);
					scribble_worker(&g, b, wseed);
				}
			}
			/* 1-6 scribbles at random moments of the workers' run. */
			const unsigned k = 1 + (unsigned)rand_r(&seed) % 6;

			for (unsigned i = 0; i < k; i++) {
				usleep((useconds_t)(rand_r(&seed) % 8000));
				scribble(&g, region, &seed);
				scribbles++;
			}
			for (int i = 0; i < 2; i++) {
				int status;

				cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
				if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
					hangs++;
				else if (WIFSIGNALED(status))
					crashes++;
				else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
					failed++;
			}
			munmap(g.base, g.mapped + 4 * g.page);
			close(g.fd);
		}
	}
	fprintf(stderr,
		"scribbler: %u trials x %d regions (%s, %s, %s), %lu scribbles, %lu calls, "
		"%lu attaches refused; %lu crashes, %lu hangs, %lu other failures, %lu writes "
		"outside the region, %lu calls past their timeout + %lld ms (worst: %.1f ms past), "
		"%lu undocumented results; %.1f s\n",
		trials, SCRIBBLE_REGIONS, scribble_names[0], scribble_names[1], scribble_names[2],
		scribbles, (unsigned long)atomic_load(&b->calls),
		(unsigned long)atomic_load(&b->refused), crashes, hangs, failed,
		(unsigned long)atomic_load(&b->canaries), (unsigned long)atomic_load(&b->overruns),
		SCRIBBLE_SLACK_NS / 1000000, (double)atomic_load(&b->worst_over_ns) / 1e6,
		(unsigned long)atomic_load(&b->bad_results), (double)(now_ns() - start) / 1e9);
	cr_assert_eq(crashes, 0);
	cr_assert_eq(hangs, 0);
	cr_assert_eq(failed, 0);
	cr_assert_eq(atomic_load(&b->canaries), 0);
	cr_assert_eq(atomic_load(&b->overruns), 0);
	cr_assert_eq(atomic_load(&b->bad_results), 0);
	cr_assert_gt(atomic_load(&b->calls), 0);
	munmap(b, sizeof(*b));
}
