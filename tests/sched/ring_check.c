/* SPDX-License-Identifier: MIT */
/* The lfq_ring scenarios, history and FIFO specification of the interleaving checker (also
 * the history checker of the lfq_queue scenarios, queue_check.c). */
#include "ring_check.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lfq/ring.h>

#include "testing.h"
#include "weak.h"

#define MAX_OPS 16  /* calls per thread */
#define MAX_BURST 4 /* items per burst */
#define MAX_SOPS 96 /* single steps of the specification per history */
#define MAX_ITEMS 16

/* One call as a thread made it. inv and resp are ticks of a clock that only the thread
 * holding the scheduler's baton advances, so they order calls in real time exactly. */
struct call {
	char kind; /* 'u', 'o', 'U', 'O', 'c', 'i', 'L' */
	int n;	   /* burst size; set_limit's limit */
	uintptr_t in[MAX_BURST], out[MAX_BURST];
	int rc;	  /* single calls */
	size_t k; /* bursts */
	unsigned inv, resp;
	/* The weak-memory mode: the thread's vector clock at the invocation, and its own
	 * clock at the response (a call precedes another if its response happens-before the
	 * other's invocation: C11 has no real time across threads). */
	uint32_t inv_vc[SCHED_MAX_THREADS];
	uint32_t resp_stamp;
};

/*
 * The specification: a FIFO of published items, a count of free slots, and the closed flag.
 * A call is one or more atomic steps inside its interval; an order of all steps that respects
 * real time and each call's own step order must give every call its observed result.
 *
 * A push is two steps, taking a free slot (ACQ) and publishing its item (PUB); a pop takes
 * the oldest item (TAKE) and later frees its slot (REL). That is the documented contract of
 * the two-ring design: while a push is between its steps the ring can be full for pushers and
 * empty for poppers at once (strictly linearizable full/empty reports would forbid it; the
 * `strict` mode checks that stronger form, which lfq_ring does not have). A failed call is one
 * CHECK step (full: no free slot and open; closed; empty: no item); a failed push may hold
 * slots it gives back (GRAB before, DROP after: after a close a push returns its slot).
 * Bursts are the steps of their items, ACQ/TAKE in order, PUB/REL in order, each item's ACQ
 * before its PUB (TAKE before REL), then, if short, one failed call.
 *
 * An unbounded container (lfq_queue, check_ops.unbounded) has MAX_ITEMS free slots, or
 * limit x capacity under a segment limit; "full" there means "a limit is set": a queue at its
 * limit may refuse a push while holding fewer items (segments are retired whole). LIMIT is
 * set_limit: afterwards the slots are MAX_ITEMS more (a changed limit bounds nothing here).
 * is_closed is one CHECK step.
 */
enum sop_kind {
	S_ACQ,
	S_PUB,
	S_TAKE,
	S_REL,
	S_GRAB,
	S_CHECK,
	S_DROP,
	S_CLOSE,
	S_PUSH1,
	S_POP1,
	S_LIMIT
};
enum sop_want {
	W_OK,
	W_FULL,
	W_CLOSED,
	W_FULL_OR_CLOSED,
	W_EMPTY_OPEN,
	W_EMPTY_CLOSED,
	W_EMPTY,
	W_OPEN
};
struct sop {
	enum sop_kind kind;
	enum sop_want want; /* S_CHECK */
	uintptr_t v;	    /* S_PUB, S_TAKE */
	int grab;	    /* S_GRAB: at most this many slots */
	unsigned inv, resp;
	int prev, prev2; /* steps that must come first, or -1 */
	int call;	 /* index of the call's first step (GRAB/DROP pair up by it) */
	int tid;	 /* -1: unscheduled (prefill, quiescent checks) */
	char label;	 /* the call: 'u', 'o', 'U', 'O', 'c', 'i', 'L' */
	int rc;
	size_t k, n;
	uintptr_t show; /* the call's first item, for the report */
	const struct call *from;
};

struct spec {
	uintptr_t items[MAX_ITEMS];
	int count;
	int free;
	bool closed;
	bool unbounded; /* full: a segment limit is set (above) */
	bool limited;
	uint8_t held[MAX_SOPS]; /* slots a failing push holds, by its first step */
};

struct ctx {
	const struct ring_scenario *s;
	const struct check_ops *ops;
	size_t limit; /* the queue's segment limit at the start */
	void *obj;    /* the ring or the queue */
	int nthreads;
	bool strict;
	bool weak; /* the weak-memory model decides what loads read (weak.h) */
	/* Weak mode on a single-consumer ring: -EAGAIN (full, empty) is not checked. Its O5 is
	 * a release store, so a push can find the cell full after the pop that freed it has
	 * returned while that pop's thread finds the next cell empty (store buffering, even on
	 * x86-64): those verdicts are snapshots there (docs/design.md, "The weak-memory
	 * checker"). */
	bool loose;
	/* The weak mode's payloads: a producer writes one before it pushes its item, the
	 * consumer reads it after the pop (weak_plain_read reports a data race). */
	uint64_t payload[5 * 64];
	char failure[200];
	bool failed;
	unsigned clock;
	struct call calls[SCHED_MAX_THREADS][MAX_OPS];
	int ncalls[SCHED_MAX_THREADS];
	struct sop sops[MAX_SOPS];
	int nsops;
	size_t capacity; /* the specification's slots at the start */
	/* Memo of (steps placed, state) pairs from which no order exists. */
	uint64_t memo[1 << 14][2];
	unsigned memo_gen[1 << 14], gen;
};

static bool check_want(const struct spec *q, enum sop_want w)
{
	const bool full = q->unbounded ? q->limited : q->free == 0;

	switch (w) {
	case W_OK:
		return true;
	case W_FULL:
		return full && !q->closed;
	case W_CLOSED:
		return q->closed;
	case W_OPEN:
		return !q->closed;
	case W_FULL_OR_CLOSED:
		return full || q->closed;
	case W_EMPTY_OPEN:
		return q->count == 0 && !q->closed;
	case W_EMPTY_CLOSED:
		return q->count == 0 && q->closed;
	case W_EMPTY:
		return q->count == 0;
	}
	return false;
}

/* Applies step i; for S_GRAB, `take` is how many slots it takes. */
static bool spec_apply(struct spec *q, const struct sop *o, int i, int take)
{
	switch (o->kind) {
	case S_ACQ:
		if (q->free == 0)
			return false;
		q->free--;
		return true;
	case S_PUB:
		if (q->closed || q->count == MAX_ITEMS)
			return false;
		q->items[q->count++] = o->v;
		return true;
	case S_TAKE:
		if (q->count == 0 || q->items[0] != o->v)
			return false;
		memmove(q->items, q->items + 1, (size_t)(q->count - 1) * sizeof(q->items[0]));
		q->count--;
		return true;
	case S_REL:
		q->free++;
		return true;
	case S_GRAB:
		if (take > q->free)
			return false;
		q->free -= take;
		q->held[i] = (uint8_t)take;
		return true;
	case S_CHECK:
		return check_want(q, o->want);
	case S_DROP:
		q->free += q->held[o->call];
		q->held[o->call] = 0;
		return true;
	case S_CLOSE:
		q->closed = true;
		return true;
	case S_PUSH1:
		if (q->free == 0 || q->closed)
			return false;
		q->free--;
		q->items[q->count++] = o->v;
		return true;
	case S_POP1:
		if (q->count == 0 || q->items[0] != o->v)
			return false;
		memmove(q->items, q->items + 1, (size_t)(q->count - 1) * sizeof(q->items[0]));
		q->count--;
		q->free++;
		return true;
	case S_LIMIT:
		q->limited = o->v != 0;
		q->free += MAX_ITEMS;
		return true;
	}
	return false;
}

static uint64_t spec_hash(const struct spec *q, int n)
{
	uint64_t h = 1469598103934665603ull;
	const unsigned char *p = (const unsigned char *)q;
	const size_t len = offsetof(struct spec, held) + (size_t)n;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static bool memo_failed(struct ctx *c, uint64_t done, uint64_t h, bool insert)
{
	const size_t slot = (size_t)((done * 0x9e3779b97f4a7c15ull ^ h) >> 50);

	if (insert) {
		c->memo[slot][0] = done;
		c->memo[slot][1] = h;
		c->memo_gen[slot] = c->gen;
		return true;
	}
	return c->memo_gen[slot] == c->gen && c->memo[slot][0] == done && c->memo[slot][1] == h;
}

/* Whether step j's call precedes step i's: in the weak mode by happens-before between
 * scheduled threads, otherwise (and for unscheduled calls, ordered by the baton) by time. */
static bool precedes(const struct sop *j, const struct sop *i)
{
	if (!j->from || !i->from || j->tid == i->tid)
		return j->resp < i->inv;
	/* Except a close: the ring promises that a call started after close() returned, in
	 * any thread, sees it (K1/K2 are seq_cst for that), so its return orders later calls
	 * in time; one thread runs at a time, so time is the order of execution. */
	if (j->label == 'c' && j->resp < i->inv)
		return true;
	return i->from->inv_vc[j->tid] >= j->from->resp_stamp;
}

/* Weak mode: some step not placed yet precedes step i. */
static bool blocked(const struct ctx *c, int n, uint64_t done, int i)
{
	for (int j = 0; j < n; j++)
		if (j != i && !(done & (1ull << j)) && precedes(&c->sops[j], &c->sops[i]))
			return true;
	return false;
}

/* Depth-first search for an order of sops[0..n-1] from state q. done: steps placed. */
static bool linearize(struct ctx *c, int n, uint64_t done, const struct spec *q, struct spec *final)
{
	if (done == (n == 64 ? ~0ull : (1ull << n) - 1)) {
		*final = *q;
		return true;
	}
	const uint64_t h = spec_hash(q, n);

	if (memo_failed(c, done, h, false))
		return false;
	/* The earliest response among the steps not placed: a step invoked after it cannot
	 * come next. */
	unsigned min_resp = ~0u;

	for (int i = 0; i < n; i++)
		if (!(done & (1ull << i)) && c->sops[i].resp < min_resp)
			min_resp = c->sops[i].resp;
	for (int i = 0; i < n; i++) {
		const struct sop *o = &c->sops[i];

		if ((done & (1ull << i)) || (c->weak ? blocked(c, n, done, i) : o->inv > min_resp))
			continue;
		if ((o->prev >= 0 && !(done & (1ull << o->prev))) ||
		    (o->prev2 >= 0 && !(done & (1ull << o->prev2))))
			continue;
		for (int take = 0; take <= (o->kind == S_GRAB ? o->grab : 0); take++) {
			struct spec next = *q;

			if (spec_apply(&next, o, i, take) &&
			    linearize(c, n, done | (1ull << i), &next, final))
				return true;
		}
	}
	memo_failed(c, done, h, true);
	return false;
}

static bool linearizable(struct ctx *c, int n, struct spec *final)
{
	struct spec q = {
		.free = (int)c->capacity, .unbounded = c->ops->unbounded, .limited = c->limit != 0};

	c->gen++;
	return linearize(c, n, 0, &q, final);
}

static int add_sop(struct ctx *c, const struct call *k, int tid, enum sop_kind kind,
		   enum sop_want want, uintptr_t v, int prev, int prev2, int call)
{
	if (c->nsops >= MAX_SOPS)
		return -1;
	const int i = c->nsops++;

	c->sops[i] = (struct sop){.kind = kind,
				  .want = want,
				  .v = v,
				  .inv = k->inv,
				  .resp = k->resp,
				  .prev = prev,
				  .prev2 = prev2,
				  .call = call < 0 ? i : call,
				  .tid = tid,
				  .label = k->kind,
				  .rc = k->rc,
				  .k = k->k,
				  .n = (size_t)k->n,
				  .show = k->kind == 'u' ? k->in[0] : k->out[0],
				  .from = tid < 0 || !c->weak ? NULL : k};
	return i;
}

/* A failed push: GRAB (up to `grab` slots), CHECK, DROP. */
static void add_failed_push(struct ctx *c, const struct call *k, int tid, enum sop_want want,
			    int grab, int prev)
{
	if (c->strict || grab == 0) {
		add_sop(c, k, tid, S_CHECK, want, 0, prev, -1, -1);
		return;
	}
	const int g = add_sop(c, k, tid, S_GRAB, W_OK, 0, prev, -1, -1);

	if (g < 0)
		return;
	c->sops[g].grab = grab;
	const int ch = add_sop(c, k, tid, S_CHECK, want, 0, g, -1, g);

	add_sop(c, k, tid, S_DROP, W_OK, 0, ch, -1, g);
}

/* Appends the steps of one call (unscheduled calls too). */
static void add_call(struct ctx *c, const struct call *k, int tid)
{
	const bool push = k->kind == 'u' || k->kind == 'U' || k->kind == 'B';
	const bool single = k->kind == 'u' || k->kind == 'o';
	const bool bulk = k->kind == 'B' || k->kind == 'b';
	const size_t ok = single ? (k->rc == 0) : k->k;
	int first = -1, second = -1;

	if (k->kind == 'c') {
		add_sop(c, k, tid, S_CLOSE, W_OK, 0, -1, -1, -1);
		return;
	}
	if (k->kind == 'i') {
		add_sop(c, k, tid, S_CHECK, k->rc ? W_CLOSED : W_OPEN, 0, -1, -1, -1);
		return;
	}
	if (k->kind == 'L') {
		add_sop(c, k, tid, S_LIMIT, W_OK, (uintptr_t)k->n, -1, -1, -1);
		return;
	}
	if (k->kind == 's')
		return; /* size: checked on its own (size_bounds) */
	for (size_t j = 0; j < ok; j++) {
		const uintptr_t v = push ? k->in[j] : k->out[j];

		if (c->strict) { /* one step per item: slot and item at once */
			first = add_sop(c, k, tid, push ? S_PUSH1 : S_POP1, W_OK, v, first, -1, -1);
			continue;
		}
		const int a = add_sop(c, k, tid, push ? S_ACQ : S_TAKE, W_OK, push ? 0 : v, first,
				      -1, -1);
		const int b =
			add_sop(c, k, tid, push ? S_PUB : S_REL, W_OK, push ? v : 0, a, second, -1);

		first = a;
		second = b;
	}
	const int last = c->strict ? first : second;

	if (single && k->rc == 0)
		return;
	if (!single && k->k == (size_t)k->n)
		return;
	if (bulk) {
		/* All or nothing but for a close: none moved is not checked (the call needs n
		 * free slots or items, which the specification does not count); some moved
		 * means that the ring was closed in between. A push may hold the slots of the
		 * items it did not move until it gives them back. */
		const enum sop_want w = ok == 0 ? W_OK : W_CLOSED;

		if (push)
			add_failed_push(c, k, tid, w, k->n - (int)ok, last);
		else
			add_sop(c, k, tid, S_CHECK, w, 0, last, -1, -1);
		return;
	}
	if (push) {
		enum sop_want w = !single ? W_FULL_OR_CLOSED : k->rc == -EAGAIN ? W_FULL : W_CLOSED;

		if (c->loose && w != W_CLOSED)
			w = W_OK;
		/* A push that fails on a closed ring may hold the slots it got (a burst: up to
		 * the rest of its items) until it gives them back. */
		add_failed_push(c, k, tid, w, w == W_FULL ? 0 : k->n - (int)ok, last);
	} else {
		enum sop_want w = !single	     ? W_EMPTY
				  : k->rc == -EAGAIN ? W_EMPTY_OPEN
						     : W_EMPTY_CLOSED;

		if (c->loose && w != W_EMPTY_CLOSED)
			w = W_OK;

		add_sop(c, k, tid, S_CHECK, w, 0, last, -1, -1);
	}
}

static const char *step_name(enum sop_kind k)
{
	static const char *const names[] = {"acq",  "pub",   "take", "rel", "grab", "check",
					    "drop", "close", "push", "pop", "limit"};
	return names[k];
}

/* The calls of the history, one per first step. */
static void describe(const struct ctx *c, char *msg, size_t len)
{
	size_t at = strlen(msg);
	const size_t start = at;

	for (int i = 0; i < c->nsops && at + 48 < len; i++) {
		const struct sop *o = &c->sops[i];
		int w;

		if (o->call != i ||
		    (i > 0 && c->sops[i - 1].inv == o->inv && c->sops[i - 1].tid == o->tid))
			continue;
		if (o->label == 'u' || o->label == 'o')
			w = snprintf(msg + at, len - at, "%s%c%d %s%s %lx [%u,%u]",
				     at > start ? ", " : "", o->tid < 0 ? 'Q' : 'T',
				     o->tid < 0 ? 0 : o->tid, o->label == 'u' ? "push" : "pop",
				     o->rc == 0		? ""
				     : o->rc == -EAGAIN ? " -EAGAIN"
							: " -EPIPE",
				     (unsigned long)o->show, o->inv, o->resp);
		else if (o->label == 'c')
			w = snprintf(msg + at, len - at, "%sT%d close [%u,%u]",
				     at > start ? ", " : "", o->tid, o->inv, o->resp);
		else if (o->label == 'i' || o->label == 'L')
			w = snprintf(msg + at, len - at, "%sT%d %s %d [%u,%u]",
				     at > start ? ", " : "", o->tid,
				     o->label == 'i' ? "is_closed" : "set_limit",
				     o->label == 'i' ? o->rc : (int)o->v, o->inv, o->resp);
		else
			w = snprintf(msg + at, len - at, "%sT%d %s %zu/%zu [%u,%u]",
				     at > start ? ", " : "", o->tid,
				     o->label == 'U'   ? "push_burst"
				     : o->label == 'O' ? "pop_burst"
				     : o->label == 'B' ? "push_bulk"
						       : "pop_bulk",
				     o->k, o->n, o->inv, o->resp);
		if (w > 0)
			at += (size_t)w;
	}
	(void)step_name;
}

/* An unscheduled call, recorded as a step after everything before it. */
static int quiet_push(struct ctx *c, uintptr_t v)
{
	struct call k = {.kind = 'u', .in = {v}, .inv = ++c->clock};

	k.rc = c->ops->push(c->obj, (void *)v);
	k.resp = ++c->clock;
	add_call(c, &k, -1);
	return k.rc;
}

static int quiet_pop(struct ctx *c)
{
	struct call k = {.kind = 'o', .inv = ++c->clock};
	void *p = NULL;

	k.rc = c->ops->pop(c->obj, &p);
	k.out[0] = (uintptr_t)p;
	k.resp = ++c->clock;
	add_call(c, &k, -1);
	return k.rc;
}

/* Values: 0x100 * (tid + 1) + n for a thread's n-th item, 0x1000 + i for prefill item i. */
static size_t payload_slot(uintptr_t v)
{
	return v >= 0x1000 ? (size_t)(v - 0x1000) % 64 : (size_t)(v >> 8) % 5 * 64 + (v & 63);
}

/* Weak mode: the producer's payload write, before its push. */
static void produce(struct ctx *c, uintptr_t v)
{
	if (c->weak)
		weak_plain_write(&c->payload[payload_slot(v)], v);
}

/* Weak mode: the consumer's payload read, after its pop; a wrong value is a failure too. */
static void consume(struct ctx *c, uintptr_t v, int tid)
{
	if (!c->weak || c->failed)
		return;
	const uint64_t got = weak_plain_read(&c->payload[payload_slot(v)]);

	if (got != v) {
		snprintf(c->failure, sizeof(c->failure),
			 "payload: thread %d popped %#lx and reads payload %#llx", tid,
			 (unsigned long)v, (unsigned long long)got);
		c->failed = true;
	}
}

static void setup(void *arg)
{
	struct ctx *c = arg;

	/* The previous object; after a livelock the scheduler stops before coming back here. */
	if (c->obj)
		c->ops->destroy(c->obj);
	c->obj = c->ops->create(c->s, c->limit);
	if (!c->obj)
		abort();
	c->clock = 0;
	c->nsops = 0;
	c->failed = false;
	memset(c->ncalls, 0, sizeof(c->ncalls));
	memset(c->payload, 0, sizeof(c->payload));
	for (int i = 0; i < c->s->prefill; i++) {
		c->payload[payload_slot(0x1000 + (uintptr_t)i)] = 0x1000 + (uintptr_t)i;
		quiet_push(c, 0x1000 + (uintptr_t)i);
	}
	if (c->weak)
		weak_begin();
}

static void thread_body(void *arg, int tid)
{
	struct ctx *c = arg;
	const char *p = c->s->script[tid];
	uintptr_t next = 0x100 * (uintptr_t)(tid + 1);

	while (*p && c->ncalls[tid] < MAX_OPS) {
		struct call *k = &c->calls[tid][c->ncalls[tid]++];
		void *items[MAX_BURST];

		*k = (struct call){.kind = *p++};
		if (k->kind == 'U' || k->kind == 'O' || k->kind == 'B' || k->kind == 'b') {
			const bool in = k->kind == 'U' || k->kind == 'B';

			k->n = *p >= '1' && *p <= '0' + MAX_BURST ? *p++ - '0' : 2;
			for (int j = 0; j < k->n; j++)
				k->in[j] = in ? ++next : 0;
		} else if (k->kind == 'L') {
			k->n = *p >= '0' && *p <= '9' ? *p++ - '0' : 0;
		} else if (k->kind == 'u' || k->kind == 'w') {
			k->in[0] = ++next;
		}
		for (int j = 0; j < (k->kind == 'u' || k->kind == 'w' ? 1 : k->n); j++)
			if (k->in[j])
				produce(c, k->in[j]);
		k->inv = ++c->clock;
		if (c->weak)
			weak_event(tid, k->inv_vc);
		const struct check_ops *ops = c->ops;

		switch (k->kind) {
		case 'u':
			k->rc = ops->push(c->obj, (void *)k->in[0]);
			break;
		case 'o':
			k->rc = ops->pop(c->obj, &items[0]);
			k->out[0] = k->rc == 0 ? (uintptr_t)items[0] : 0;
			break;
		case 'U':
			for (int j = 0; j < k->n; j++)
				items[j] = (void *)k->in[j];
			k->k = ops->push_burst(c->obj, items, (size_t)k->n);
			break;
		case 'O':
			k->k = ops->pop_burst(c->obj, items, (size_t)k->n);
			for (size_t j = 0; j < k->k; j++)
				k->out[j] = (uintptr_t)items[j];
			break;
		case 'B':
			for (int j = 0; j < k->n; j++)
				items[j] = (void *)k->in[j];
			k->k = ops->push_bulk(c->obj, items, (size_t)k->n);
			break;
		case 'b':
			k->k = ops->pop_bulk(c->obj, items, (size_t)k->n);
			for (size_t j = 0; j < k->k; j++)
				k->out[j] = (uintptr_t)items[j];
			break;
		case 's':
			k->k = ops->size(c->obj);
			break;
		case 'w': /* push_wait, no timeout: checked as a push */
			k->rc = ops->push_wait(c->obj, (void *)k->in[0]);
			k->kind = 'u';
			break;
		case 'p': /* pop_wait, no timeout: checked as a pop */
			k->rc = ops->pop_wait(c->obj, &items[0]);
			k->out[0] = k->rc == 0 ? (uintptr_t)items[0] : 0;
			k->kind = 'o';
			break;
		case 'c':
			ops->close(c->obj);
			break;
		case 'i':
			k->rc = ops->is_closed(c->obj);
			break;
		case 'L':
			k->rc = ops->set_limit(c->obj, (size_t)k->n);
			break;
		}
		if (k->kind == 'o' && k->rc == 0)
			consume(c, k->out[0], tid);
		if (k->kind == 'O' || k->kind == 'b')
			for (size_t j = 0; j < k->k; j++)
				consume(c, k->out[j], tid);
		k->resp = ++c->clock;
		if (c->weak) {
			uint32_t vc[SCHED_MAX_THREADS];

			weak_event(tid, vc);
			k->resp_stamp = vc[tid];
		}
	}
}

/*
 * A size() call during the schedule: at least the items its own thread pushed before it (and
 * the prefill) less every item popped in the history, at most every item pushed less those
 * its own thread popped before it. Both bounds hold under any interleaving: its own calls
 * happen-before it, and no other call can move the count past them.
 */
/* Adds the items call k moved to *pushed or *popped. */
static void count_moved(const struct call *k, long *pushed, long *popped)
{
	const long n = k->kind == 'u' || k->kind == 'o' ? k->rc == 0 : (long)k->k;

	if (k->kind == 'u' || k->kind == 'U' || k->kind == 'B')
		*pushed += n;
	else if (k->kind == 'o' || k->kind == 'O' || k->kind == 'b')
		*popped += n;
}

static bool size_bounds(const struct ctx *c, char *msg, size_t len)
{
	long pushed_all = c->s->prefill, popped_all = 0;

	for (int t = 0; t < c->nthreads; t++)
		for (int i = 0; i < c->ncalls[t]; i++)
			count_moved(&c->calls[t][i], &pushed_all, &popped_all);
	for (int t = 0; t < c->nthreads; t++) {
		long own_pushed = c->s->prefill, own_popped = 0;

		for (int i = 0; i < c->ncalls[t]; i++) {
			const struct call *k = &c->calls[t][i];

			count_moved(k, &own_pushed, &own_popped);
			if (k->kind != 's')
				continue;
			const long lo = own_pushed - popped_all, hi = pushed_all - own_popped;
			const long sz = (long)k->k;

			if (sz > (long)c->capacity || sz < lo || sz > hi) {
				snprintf(
					msg, len,
					"size: thread %d's size() returned %ld, outside [%ld, %ld]",
					t, sz, lo < 0 ? 0 : lo, hi);
				return false;
			}
		}
	}
	return true;
}

static bool check(void *arg, char *msg, size_t len)
{
	struct ctx *c = arg;
	struct spec final;
	const char *race = c->weak ? weak_failure() : NULL;

	if (race || c->failed) {
		snprintf(msg, len, "%s", race ? race : c->failure);
		return false;
	}
	if (!size_bounds(c, msg, len))
		return false;
	for (int t = 0; t < c->nthreads; t++)
		for (int i = 0; i < c->ncalls[t]; i++)
			add_call(c, &c->calls[t][i], t);
	const int concurrent = c->nsops;

	if (!linearizable(c, concurrent, &final)) {
		snprintf(msg, len, "linearizability: no legal FIFO order for: ");
		describe(c, msg, len);
		return false;
	}
	/* Quiescent: size() is exact. Every linearization ends with the same count. */
	const size_t size = c->ops->size(c->obj);

	if (size != (size_t) final.count) {
		snprintf(msg, len,
			 "size: %zu at quiescence, the specification holds %d; history: ", size,
			 final.count);
		describe(c, msg, len);
		return false;
	}
	/* Quiescent: drain, refill to capacity (+1 that must fail; a queue takes it into its
	 * next segment), drain again. */
	for (size_t i = 0; i <= c->capacity && quiet_pop(c) == 0; i++)
		;
	for (size_t i = 0; i <= c->s->capacity && quiet_push(c, 0x2000 + (uintptr_t)i) == 0; i++)
		;
	const size_t full = c->ops->size(c->obj);

	for (size_t i = 0; i <= c->capacity && quiet_pop(c) == 0; i++)
		;
	if (c->nsops >= MAX_SOPS || c->nsops > 64) {
		snprintf(msg, len, "checker: history too long (%d steps)", c->nsops);
		return false;
	}
	if (!linearizable(c, c->nsops, &final)) {
		snprintf(
			msg, len,
			"quiescent wedge: draining, refilling and draining the quiet ring does not "
			"fit the history: ");
		describe(c, msg, len);
		return false;
	}
	if (!c->ops->unbounded && !final.closed && full != c->capacity) {
		snprintf(msg, len, "size: %zu when refilled to capacity %zu", full, c->capacity);
		return false;
	}
	return true;
}

int check_scenario(const struct ring_scenario *s, size_t limit, const struct check_ops *ops,
		   const struct sched_opts *o, bool strict, bool weak, struct sched_result *r)
{
	static struct ctx c; /* large; one check at a time */
	struct sched_test t = {.ctx = &c, .setup = setup, .thread = thread_body, .check = check};

	if (c.obj)
		c.ops->destroy(c.obj);
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.ops = ops;
	c.limit = limit;
	c.strict = strict;
	c.weak = weak;
	c.loose = weak && (s->flags & LFQ_RING_SC);
	c.capacity = !ops->unbounded ? s->capacity : limit ? limit * s->capacity : MAX_ITEMS;
	while (c.nthreads < SCHED_MAX_THREADS && s->script[c.nthreads])
		c.nthreads++;
	t.nthreads = c.nthreads;
	static int same[SCHED_MAX_THREADS];

	for (int i = 0; i < c.nthreads; i++) {
		same[i] = i;
		for (int j = 0; j < i; j++)
			if (strcmp(s->script[i], s->script[j]) == 0) {
				same[i] = j;
				break;
			}
	}
	t.same = same;
	/* A dequeuer re-reads an empty entry LFQ_SCQ_DEQ_SPINS times before it gives up on the
	 * enqueuer of its ticket. The count is a tuning choice that correctness cannot depend
	 * on (that enqueuer may be stopped for any time); 64 re-reads are 64 scheduling points
	 * the search would spend its preemptions on, so the checker uses LFQ_CHECK_SPINS
	 * (default 2). */
	const int spins = atomic_load_explicit(&lfq__test_deq_spins, memory_order_relaxed);

	atomic_store_explicit(&lfq__test_deq_spins, (int)sched_env("LFQ_CHECK_SPINS", 2),
			      memory_order_relaxed);
	const int rc = sched_explore(&t, o, r);

	atomic_store_explicit(&lfq__test_deq_spins, spins, memory_order_relaxed);

	if (!r->failed && c.obj) {
		ops->destroy(c.obj);
		c.obj = NULL;
	}
	return rc;
}

static void *ring_create(const struct ring_scenario *s, size_t limit)
{
	struct lfq_ring *ring;

	(void)limit;
	return lfq_ring_create(&ring, s->capacity, s->flags) == 0 ? ring : NULL;
}

static void ring_destroy(void *obj)
{
	lfq_ring_destroy(obj);
}

static int ring_push(void *obj, void *item)
{
	return lfq_ring_push(obj, item);
}

static int ring_pop(void *obj, void **item)
{
	return lfq_ring_pop(obj, item);
}

static int ring_push_wait(void *obj, void *item)
{
	return lfq_ring_push_wait(obj, item, -1);
}

static int ring_pop_wait(void *obj, void **item)
{
	return lfq_ring_pop_wait(obj, item, -1);
}

static size_t ring_push_burst(void *obj, void *const *items, size_t n)
{
	return lfq_ring_push_burst(obj, items, n);
}

static size_t ring_pop_burst(void *obj, void **items, size_t n)
{
	return lfq_ring_pop_burst(obj, items, n);
}

static size_t ring_push_bulk(void *obj, void *const *items, size_t n)
{
	return lfq_ring_push_bulk(obj, items, n, NULL);
}

static size_t ring_pop_bulk(void *obj, void **items, size_t n)
{
	return lfq_ring_pop_bulk(obj, items, n, NULL);
}

static void ring_close(void *obj)
{
	lfq_ring_close(obj);
}

static size_t ring_size(void *obj)
{
	return lfq_ring_size(obj);
}

static const struct check_ops ring_ops = {
	.create = ring_create,
	.destroy = ring_destroy,
	.push = ring_push,
	.pop = ring_pop,
	.push_wait = ring_push_wait,
	.pop_wait = ring_pop_wait,
	.push_burst = ring_push_burst,
	.pop_burst = ring_pop_burst,
	.push_bulk = ring_push_bulk,
	.pop_bulk = ring_pop_bulk,
	.close = ring_close,
	.size = ring_size,
};

int ring_check(const struct ring_scenario *s, const struct sched_opts *o, bool strict,
	       struct sched_result *r)
{
	return check_scenario(s, 0, &ring_ops, o, strict, false, r);
}

int ring_check_weak(const struct ring_scenario *s, const struct sched_opts *o,
		    struct sched_result *r)
{
	return check_scenario(s, 0, &ring_ops, o, false, true, r);
}
