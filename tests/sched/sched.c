/* SPDX-License-Identifier: MIT */
/*
 * The deterministic scheduler (see sched.h). One baton: a thread runs only while it holds
 * it, and it passes it on with sem_post on the next thread's semaphore before it waits on its
 * own. The semaphores order everything one thread did before the hand-off before everything
 * the next one does, so the scheduler's own state needs no atomics and the library's atomics
 * behave as in one sequentially consistent execution.
 */
#include "sched.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define BIT(i) (1u << (i))
#define SCHED_MAX_SITES 128

/* A point where more than one thread could run next (points with one choice are not kept),
 * or a choice of sched_choose (cur CHOICE, enabled: the alternatives). */
#define CHOICE (-2)
struct decision {
	int8_t cur;	   /* the thread at the point; -1 at the start; CHOICE */
	uint8_t enabled;   /* threads that could run */
	uint8_t chosen;	   /* the one that did */
	uint8_t tried;	   /* DFS: choices already explored here */
	uint16_t preempts; /* preemptions (CHOICE: nonzero choices) before this point */
};

static struct {
	const struct sched_test *t;
	const struct sched_opts *o;
	int nworkers; /* threads created so far; they outlive one sched_explore */
	pthread_t th[SCHED_MAX_THREADS];
	sem_t go[SCHED_MAX_THREADS];
	sem_t main_sem, never;
	bool sems_ready, broken, livelock, nondet;
	bool done[SCHED_MAX_THREADS];
	/* sched_futex_wait: asleep on sleep_on; woken: by a wake, not by the lost wake-up */
	bool asleep[SCHED_MAX_THREADS], woken[SCHED_MAX_THREADS];
	const void *sleep_on[SCHED_MAX_THREADS];
	int lost; /* a thread found asleep with nobody left to wake it, + 1 */
	bool started[SCHED_MAX_THREADS];
	unsigned long steps, max_steps;
	int preempts;
	int stale; /* nonzero sched_choose answers in this schedule */
	/* DFS */
	struct decision *dec;
	size_t ndec, cap, prefix;
	/* STALL: the places seen so far, the barrier set, and who is held */
	struct site {
		const char *file;
		int line;
	} sites[SCHED_MAX_SITES];
	int nsites;
	int barrier[2], nbarrier;
	bool held[SCHED_MAX_THREADS];
	/* PCT */
	int prio[SCHED_MAX_THREADS];
	unsigned long change[16];
	int nchange;
	unsigned long est_steps;
	uint64_t rng;
	/* The schedule as "thread:steps" runs, for the report. */
	char trace[600];
	size_t trace_len;
	int run_tid;
	unsigned long run_len;
} S;

static _Thread_local int me = -1;

static int site_of(const char *file, int line)
{
	for (int i = 0; i < S.nsites; i++)
		if (S.sites[i].line == line && S.sites[i].file == file)
			return i;
	if (S.nsites == SCHED_MAX_SITES)
		return -1;
	S.sites[S.nsites] = (struct site){file, line};
	return S.nsites++;
}

static uint64_t next_rand(void)
{
	/* splitmix64 */
	uint64_t z = (S.rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void trace_flush(void)
{
	if (S.run_tid < 0 || S.trace_len >= sizeof(S.trace) - 1)
		return;
	int n = snprintf(S.trace + S.trace_len, sizeof(S.trace) - S.trace_len, "%sT%d:%lu",
			 S.trace_len ? " " : "", S.run_tid, S.run_len);

	if (n > 0)
		S.trace_len += (size_t)n;
	if (S.trace_len >= sizeof(S.trace))
		S.trace_len = sizeof(S.trace) - 1;
}

static void trace_run(int tid)
{
	if (tid == S.run_tid) {
		S.run_len++;
		return;
	}
	trace_flush();
	S.run_tid = tid;
	S.run_len = 1;
}

static int lowest(unsigned mask)
{
	return __builtin_ctz(mask);
}

static unsigned enabled_mask(void)
{
	unsigned m = 0;

	for (int i = 0; i < S.t->nthreads; i++)
		if (!S.done[i] && !S.held[i] && !S.asleep[i])
			m |= BIT(i);
	return m;
}

/* Symmetry: of the threads not started yet that run the same body (t->same), only the first
 * needs to be tried; starting another one instead gives the same executions, renamed. */
static unsigned symmetric(unsigned mask)
{
	if (!S.t->same)
		return mask;
	for (int i = 1; i < S.t->nthreads; i++) {
		if (!(mask & BIT(i)) || S.started[i])
			continue;
		for (int j = 0; j < i; j++)
			if (S.t->same[j] == S.t->same[i] && (mask & BIT(j)) && !S.started[j]) {
				mask &= ~BIT(i);
				break;
			}
	}
	return mask;
}

/* The index of the schedule's next decision (replayed below S.prefix, new above). */
static size_t next_decision(void)
{
	const size_t i = S.ndec++;

	if (i == S.cap) {
		S.cap = S.cap ? 2 * S.cap : 1024;
		S.dec = realloc(S.dec, S.cap * sizeof(*S.dec));
		if (!S.dec)
			abort();
	}
	return i;
}

static int decide_dfs(int cur, unsigned enabled)
{
	const bool cur_enabled = cur >= 0 && (enabled & BIT(cur));
	int c;

	enabled = symmetric(enabled);
	if (__builtin_popcount(enabled) == 1) {
		c = lowest(enabled);
	} else {
		const size_t i = next_decision();

		if (i < S.prefix) {
			if (S.dec[i].cur != cur || S.dec[i].enabled != enabled)
				S.nondet = true;
			c = S.dec[i].chosen;
		} else {
			c = cur_enabled ? cur : lowest(enabled);
			S.dec[i] = (struct decision){.cur = (int8_t)cur,
						     .enabled = (uint8_t)enabled,
						     .chosen = (uint8_t)c,
						     .tried = (uint8_t)BIT(c),
						     .preempts = (uint16_t)S.preempts};
		}
	}
	if (cur_enabled && c != cur)
		S.preempts++;
	S.started[c] = true;
	return c;
}

static int decide_pct(int cur, unsigned enabled)
{
	if (cur >= 0 && (enabled & BIT(cur)))
		for (int j = 0; j < S.nchange; j++)
			if (S.change[j] == S.steps)
				S.prio[cur] = j + 1; /* below every initial priority */
	int best = -1;

	for (int i = 0; i < S.t->nthreads; i++)
		if ((enabled & BIT(i)) && (best < 0 || S.prio[i] > S.prio[best]))
			best = i;
	if (cur >= 0 && (enabled & BIT(cur)) && best != cur)
		S.preempts++;
	return best;
}

/*
 * STALL: a thread runs until it finishes or arrives at a barrier place, where it is held;
 * then any thread that is not finished may go on, held or not (a choice; a held one is
 * released). The depth-first search explores every such choice.
 */
static int decide_stall(int cur, unsigned enabled)
{
	if (cur >= 0 && (enabled & BIT(cur)))
		return cur;
	unsigned options = enabled;

	for (int i = 0; i < S.t->nthreads; i++)
		if (S.held[i])
			options |= BIT(i);
	if (!options)
		return -1;
	const int c = decide_dfs(-1, options);

	S.held[c] = false;
	return c;
}

/* The threads the stall search holds (they may still be released). */
static unsigned held_mask(void)
{
	unsigned m = 0;

	for (int i = 0; i < S.t->nthreads; i++)
		if (S.held[i] && !S.done[i])
			m |= BIT(i);
	return m;
}

/* Who runs next, after `cur` reached a point (cur finished: done[cur] is set). -1: nobody. */
static int decide(int cur)
{
	unsigned enabled = enabled_mask();

	if (!enabled && !held_mask()) {
		/* Sleepers that nobody can wake any more: a lost wake-up. They return as from a
		 * timeout, so that the schedule can finish; it fails (run_one). */
		for (int i = 0; i < S.t->nthreads; i++)
			if (S.asleep[i]) {
				if (!S.lost)
					S.lost = i + 1;
				S.asleep[i] = false;
				S.woken[i] = false;
			}
		enabled = enabled_mask();
	}
	if (S.o->strategy == SCHED_STALL)
		return decide_stall(cur, enabled);
	if (!enabled)
		return -1;
	return S.o->strategy == SCHED_DFS ? decide_dfs(cur, enabled) : decide_pct(cur, enabled);
}

int sched_self(void)
{
	return me;
}

int sched_choose(int n)
{
	if (me < 0 || n <= 1 || S.o->strategy == SCHED_PCT)
		return 0;
	if (n > 8)
		n = 8;
	const unsigned alts = (1u << n) - 1;
	const size_t i = next_decision();
	int c;

	if (i < S.prefix) {
		if (S.dec[i].cur != CHOICE || S.dec[i].enabled != alts)
			S.nondet = true;
		c = S.dec[i].chosen;
	} else {
		c = 0;
		S.dec[i] = (struct decision){.cur = CHOICE,
					     .enabled = (uint8_t)alts,
					     .chosen = 0,
					     .tried = 1,
					     .preempts = (uint16_t)S.stale};
	}
	if (c)
		S.stale++;
	return c;
}

/* Hands the baton to the next thread and waits for it to come back (c: who is next). */
static void switch_to(int id, int c)
{
	trace_run(c);
	if (c != id) {
		sem_post(&S.go[c]);
		while (sem_wait(&S.go[id]) != 0)
			;
	}
}

bool sched_futex_wait(const void *addr)
{
	const int id = me;

	if (id < 0)
		return false;
	S.asleep[id] = true;
	S.woken[id] = false;
	S.sleep_on[id] = addr;
	if (S.lost && !enabled_mask() && !held_mask()) {
		/* Back to sleep after a lost wake-up with still nobody to wake it: its condition
		 * never came true. The schedule ends here (run_one reports the lost wake-up). */
		S.livelock = true;
		sem_post(&S.main_sem);
		for (;;)
			sem_wait(&S.never);
	}
	switch_to(id, decide(id));
	return S.woken[id];
}

int sched_futex_wake(const void *addr, int n)
{
	int k = 0;

	for (int i = 0; i < S.t->nthreads && k < n; i++)
		if (S.asleep[i] && S.sleep_on[i] == addr) {
			S.asleep[i] = false;
			S.woken[i] = true;
			k++;
		}
	return k;
}

static void sched_point(const char *file, int line)
{
	const int id = me;

	if (id < 0)
		return; /* not a scheduled thread: setup and checks run freely */
	const int site = site_of(file, line);

	for (int i = 0; i < S.nbarrier; i++)
		if (site == S.barrier[i])
			S.held[id] = true;
	if (++S.steps > S.max_steps) {
		S.livelock = true;
		sem_post(&S.main_sem);
		for (;;)
			sem_wait(&S.never);
	}
	switch_to(id, decide(id));
}

static void *worker(void *arg)
{
	const int id = (int)(intptr_t)arg;

	me = id;
	for (;;) {
		while (sem_wait(&S.go[id]) != 0)
			;
		S.t->thread(S.t->ctx, id);
		S.done[id] = true;
		const int c = decide(id);

		if (c < 0) {
			sem_post(&S.main_sem);
		} else {
			trace_run(c);
			sem_post(&S.go[c]);
		}
	}
	return NULL;
}

static int start_workers(int n)
{
	if (!S.sems_ready) {
		for (int i = 0; i < SCHED_MAX_THREADS; i++)
			sem_init(&S.go[i], 0, 0);
		sem_init(&S.main_sem, 0, 0);
		sem_init(&S.never, 0, 0);
		S.sems_ready = true;
	}
	while (S.nworkers < n) {
		if (pthread_create(&S.th[S.nworkers], NULL, worker, (void *)(intptr_t)S.nworkers))
			return -1;
		pthread_detach(S.th[S.nworkers]);
		S.nworkers++;
	}
	return 0;
}

static void pct_init(void)
{
	const int n = S.t->nthreads;
	const int d = S.o->bound < 1 ? 1 : S.o->bound > 16 ? 16 : S.o->bound;

	for (int i = 0; i < n; i++)
		S.prio[i] = d + i;
	for (int i = n - 1; i > 0; i--) {
		const int j = (int)(next_rand() % (uint64_t)(i + 1));
		const int x = S.prio[i];

		S.prio[i] = S.prio[j];
		S.prio[j] = x;
	}
	S.nchange = d - 1;
	for (int j = 0; j < S.nchange; j++)
		S.change[j] = 1 + next_rand() % S.est_steps;
}

/* Runs one schedule; false if it failed (r->msg says why). */
static bool run_one(struct sched_result *r)
{
	const struct sched_test *t = S.t;

	S.steps = 0;
	S.ndec = 0;
	S.preempts = 0;
	S.stale = 0;
	S.lost = 0;
	S.nondet = false;
	S.trace_len = 0;
	S.trace[0] = 0;
	S.run_tid = -1;
	for (int i = 0; i < SCHED_MAX_THREADS; i++) {
		S.done[i] = i >= t->nthreads;
		S.held[i] = false;
		S.started[i] = false;
		S.asleep[i] = false;
	}
	if (S.o->strategy == SCHED_PCT)
		pct_init();
	t->setup(t->ctx);
	const int c = decide(-1);

	trace_run(c);
	sem_post(&S.go[c]);
	while (sem_wait(&S.main_sem) != 0)
		;
	trace_flush();
	r->schedules++;
	r->steps += S.steps;
	if (S.steps > S.est_steps)
		S.est_steps = S.steps;
	if (S.lost) {
		S.broken = S.livelock;
		snprintf(r->msg, sizeof(r->msg),
			 "lost wake-up: thread %d slept with no thread left to wake it; "
			 "schedule %lu (%d preemptions): %s",
			 S.lost - 1, r->schedules, S.preempts, S.trace);
		return false;
	}
	if (S.livelock) {
		S.broken = true;
		snprintf(r->msg, sizeof(r->msg),
			 "livelock: no thread finished within %lu scheduling points; schedule: %s",
			 S.max_steps, S.trace);
		return false;
	}
	char msg[512] = "";

	if (S.nondet) {
		snprintf(r->msg, sizeof(r->msg), "the replayed schedule diverged (nondeterminism)");
		return false;
	}
	if (!t->check(t->ctx, msg, sizeof(msg))) {
		snprintf(r->msg, sizeof(r->msg), "%s; schedule %lu (%d preemptions): %s", msg,
			 r->schedules, S.preempts, S.trace);
		return false;
	}
	return true;
}

static bool backtrack(void)
{
	for (size_t i = S.ndec; i-- > 0;) {
		struct decision *d = &S.dec[i];
		const bool cur_enabled = d->cur >= 0 && (d->enabled & BIT(d->cur));
		const unsigned cand = d->enabled & ~d->tried;

		if (d->cur == CHOICE && (!cand || d->preempts + 1 > S.o->stale))
			continue;
		if (!cand ||
		    (cur_enabled && d->preempts + 1 > S.o->bound && S.o->strategy != SCHED_STALL))
			continue;
		const int c = lowest(cand);

		d->tried |= (uint8_t)BIT(c);
		d->chosen = (uint8_t)c;
		S.prefix = i + 1;
		return true;
	}
	return false;
}

/* Every barrier set of one or two places seen (places found on the way are added), each
 * with its own depth-first search, at most o->limit schedules each. */
static void explore_stall(struct sched_result *r)
{
	S.nbarrier = 0;
	S.nsites = 0;
	if (!run_one(r)) { /* the plain run also finds the first places */
		r->failed = true;
		return;
	}
	for (int i = 0; i < S.nsites; i++) {
		for (int j = i; j < S.nsites; j++) {
			unsigned long n = 0;

			S.barrier[0] = i;
			S.barrier[1] = j;
			S.nbarrier = i == j ? 1 : 2;
			S.prefix = 0;
			S.ndec = 0;
			for (;;) {
				n++;
				if (!run_one(r)) {
					r->failed = true;
					snprintf(r->msg + strlen(r->msg),
						 sizeof(r->msg) - strlen(r->msg),
						 " (held at %s:%d and %s:%d)", S.sites[i].file,
						 S.sites[i].line, S.sites[j].file, S.sites[j].line);
					return;
				}
				if ((S.o->limit && n >= S.o->limit) || !backtrack())
					break;
			}
		}
	}
	r->exhausted = true;
}

int sched_explore(const struct sched_test *t, const struct sched_opts *o, struct sched_result *r)
{
	memset(r, 0, sizeof(*r));
	if (S.broken || t->nthreads < 1 || t->nthreads > SCHED_MAX_THREADS ||
	    start_workers(t->nthreads))
		return -1;
	S.t = t;
	S.o = o;
	S.max_steps = o->max_steps ? o->max_steps : 100000;
	S.prefix = 0;
	S.ndec = 0;
	S.est_steps = 64;
	S.rng = o->seed;
	S.livelock = false;
	S.nbarrier = 0;
	/* Relaxed: the workers read it after a semaphore hand-off from this thread. */
	atomic_store_explicit(&lfq__sched_hook, sched_point, memory_order_relaxed);
	if (o->strategy == SCHED_STALL) {
		explore_stall(r);
		goto out;
	}
	for (;;) {
		if (!run_one(r)) {
			r->failed = true;
			break;
		}
		if (o->limit && r->schedules >= o->limit)
			break;
		if (o->strategy == SCHED_DFS) {
			if (!backtrack()) {
				r->exhausted = true;
				break;
			}
		}
	}
out:
	if (!S.broken)
		atomic_store_explicit(&lfq__sched_hook, NULL, memory_order_relaxed);
	return 0;
}

unsigned long sched_env(const char *name, unsigned long def)
{
	const char *s = getenv(name);
	char *end;

	if (!s || !*s)
		return def;
	unsigned long v = strtoul(s, &end, 10);

	return *end || v == 0 ? def : v;
}
