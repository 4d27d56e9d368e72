/* SPDX-License-Identifier: MIT */
/*
 * Lock-freedom: one thread is parked forever at an interesting instant inside a push or a
 * pop (test hooks of the lfq_testing build); 4 producers and 4 consumers on 2 cores must
 * still complete all their operations, and only the parked thread's own item may be missing.
 * The single-side modes park their one producer or consumer instead (at the end).
 *
 * Progress is watched, not timed: the harness declares a stall only when no operation at
 * all completed for STALL_SECONDS while work remained. The same harness run on the
 * Vyukov-style baseline ring, with a producer parked between claiming and publishing its
 * slot, must report a stall: that proves the harness can tell the two designs apart.
 */
#include <errno.h>
#include <semaphore.h>
#include <string.h>
#include <stdbool.h>
#include <time.h>

#include <lfq/ring.h>

#include "stress_util.h"
#include "ring_internal.h"
#include "testing.h"
#include "vyukov_ring.h"

#define PRODUCERS 4
#define CONSUMERS 4
#define STALL_SECONDS 5
/* The victim's own items: one, or VICTIM_BURST for the burst variants. */
#define VICTIM_BURST 3
#define VICTIM_ITEM(k) ((void *)(uintptr_t)(0xfeed0000u + (k)))
#define VICTIM_INDEX(it) ((uintptr_t)(it)-0xfeed0000u)
#define IS_VICTIM(it) (VICTIM_INDEX(it) < VICTIM_BURST)

struct impl {
	int (*push)(void *q, void *item);
	int (*pop)(void *q, void **item);
	void *q;
	/* Optional: the victim uses bursts (tickets taken in batches) when set. */
	size_t (*push_burst)(void *q, void *const *items, size_t n);
	size_t (*pop_burst)(void *q, void **items, size_t n);
};

static size_t lfq_push_burst(void *q, void *const *items, size_t n)
{
	return lfq_ring_push_burst(q, items, n);
}

static size_t lfq_pop_burst(void *q, void **items, size_t n)
{
	return lfq_ring_pop_burst(q, items, n);
}

static int lfq_push(void *q, void *item)
{
	return lfq_ring_push(q, item);
}

static int lfq_pop(void *q, void **item)
{
	return lfq_ring_pop(q, item);
}

static int vy_push(void *q, void *item)
{
	return vyukov_ring_push(q, item);
}

static int vy_pop(void *q, void **item)
{
	return vyukov_ring_pop(q, item);
}

/* The victim: the one thread that parks. */
static _Atomic int park_point = -1;
static _Thread_local bool is_victim;
static _Thread_local bool victim_parked;
static sem_t parked_sem, release_sem;

static void park_hook(int point)
{
	if (is_victim && !victim_parked && point == atomic_load(&park_point)) {
		victim_parked = true;
		sem_post(&parked_sem);
		while (sem_wait(&release_sem) != 0)
			;
	}
}

struct harness {
	struct impl impl;
	size_t per_producer;
	struct ledger ledger;
	_Atomic size_t progress; /* completed operations, all threads */
	_Atomic bool producers_done, abort_run;
	bool victim_pops;
	size_t victim_n; /* items the victim pushes or pops */
	void *victim_got[VICTIM_BURST];
	size_t victim_done; /* what its call returned: count, or 1 for a 0 return */
	_Atomic bool victim_seen[VICTIM_BURST];
};

static void *victim_main(void *arg)
{
	struct harness *h = arg;

	void *mine[VICTIM_BURST];

	for (size_t k = 0; k < VICTIM_BURST; k++)
		mine[k] = VICTIM_ITEM(k);
	is_victim = true;
	if (h->victim_n > 1 && h->victim_pops)
		h->victim_done = h->impl.pop_burst(h->impl.q, h->victim_got, h->victim_n);
	else if (h->victim_n > 1)
		h->victim_done = h->impl.push_burst(h->impl.q, mine, h->victim_n);
	else if (h->victim_pops)
		h->victim_done = h->impl.pop(h->impl.q, &h->victim_got[0]) == 0;
	else
		h->victim_done = h->impl.push(h->impl.q, mine[0]) == 0;
	return NULL;
}

struct worker {
	struct harness *h;
	unsigned id;
	pthread_t thread;
};

static void *producer_main(void *arg)
{
	struct worker *w = arg;
	struct harness *h = w->h;
	unsigned fails = 0;

	for (size_t seq = 1; seq <= h->per_producer && !atomic_load(&h->abort_run);) {
		if (h->impl.push(h->impl.q, STRESS_ITEM(w->id, seq)) == 0) {
			seq++;
			atomic_fetch_add_explicit(&h->progress, 1, memory_order_relaxed);
		} else {
			stress_backoff(&fails);
		}
	}
	return NULL;
}

static void take(struct harness *h, struct order_check *order, void *it)
{
	if (IS_VICTIM(it)) {
		cr_assert_not(atomic_exchange(&h->victim_seen[VICTIM_INDEX(it)], true),
			      "victim item delivered twice");
		return;
	}
	ledger_record(&h->ledger, it);
	order_record(order, it);
}

static void *consumer_main(void *arg)
{
	struct worker *w = arg;
	struct harness *h = w->h;
	struct order_check order = {{0}};
	unsigned fails = 0;
	void *it;

	while (!atomic_load(&h->abort_run)) {
		if (h->impl.pop(h->impl.q, &it) == 0) {
			take(h, &order, it);
			atomic_fetch_add_explicit(&h->progress, 1, memory_order_relaxed);
			continue;
		}
		if (atomic_load(&h->producers_done))
			break; /* the main thread drains what is left */
		stress_backoff(&fails);
	}
	return NULL;
}

/* Runs the workload with a victim parked at `point`. Returns true if every producer and
 * consumer finished, false if progress stopped for STALL_SECONDS. */
static bool run_with_parked_thread(struct harness *h, int point, bool victim_pops, size_t victim_n)
{
	pthread_t victim;
	struct worker prod[PRODUCERS], cons[CONSUMERS];
	struct timespec ts;

	h->per_producer = stress_items(40000) / PRODUCERS;
	h->victim_pops = victim_pops;
	h->victim_n = victim_n;
	ledger_init(&h->ledger, PRODUCERS, h->per_producer);
	sem_init(&parked_sem, 0, 0);
	sem_init(&release_sem, 0, 0);
	atomic_store(&park_point, point);
	if (victim_pops) /* the victim needs items to be parked with */
		for (size_t k = 0; k < victim_n; k++)
			cr_assert_eq(h->impl.push(h->impl.q, VICTIM_ITEM(k)), 0);
	cr_assert_eq(pthread_create(&victim, NULL, victim_main, h), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	cr_assert_eq(sem_timedwait(&parked_sem, &ts), 0, "victim never reached point %d", point);

	for (unsigned i = 0; i < PRODUCERS; i++) {
		prod[i] = (struct worker){.h = h, .id = i};
		cr_assert_eq(pthread_create(&prod[i].thread, NULL, producer_main, &prod[i]), 0);
	}
	for (unsigned i = 0; i < CONSUMERS; i++) {
		cons[i] = (struct worker){.h = h, .id = i};
		cr_assert_eq(pthread_create(&cons[i].thread, NULL, consumer_main, &cons[i]), 0);
	}

	/* Watch progress until the producers are done and the ring is drained. */
	const size_t target = h->per_producer * PRODUCERS;
	size_t last = (size_t)-1;
	unsigned idle_ticks = 0;
	bool finished = false;

	for (;;) {
		struct timespec tick = {0, 10 * 1000 * 1000};
		size_t now = atomic_load(&h->progress);

		if (now >= 2 * target) {
			finished = true;
			break;
		}
		if (now != last) {
			last = now;
			idle_ticks = 0;
		} else if (++idle_ticks > STALL_SECONDS * 100) {
			break;
		}
		nanosleep(&tick, NULL);
	}
	/* The verdict is in; now let everyone finish, the victim too (a thread stuck inside a
	 * stalled ring's pop only returns once the victim publishes its slot). */
	atomic_store(&h->producers_done, true);
	if (!finished)
		atomic_store(&h->abort_run, true);
	sem_post(&release_sem);
	for (unsigned i = 0; i < PRODUCERS; i++)
		pthread_join(prod[i].thread, NULL);
	for (unsigned i = 0; i < CONSUMERS; i++)
		pthread_join(cons[i].thread, NULL);
	pthread_join(victim, NULL);
	atomic_store(&park_point, -1);
	sem_destroy(&parked_sem);
	sem_destroy(&release_sem);
	return finished;
}

/* Everything but the victim's item arrived exactly once, in per-producer order. */
static void check_all_delivered(struct harness *h)
{
	struct order_check order = {{0}};
	void *it;

	/* Quiescent now: the consumers left the last items (and maybe the victim's) to us. */
	while (h->impl.pop(h->impl.q, &it) == 0)
		take(h, &order, it);
	/* The victim, released, finished its call: what it popped counts before the tally. Its
	 * own item may have gone to a consumer meanwhile, and then its retried pop took a
	 * producer's item (counting that one after the tally reported it lost: seen once under
	 * load). It is one more consumer, with an order of its own. */
	if (h->victim_pops) {
		struct order_check victim_order = {{0}};

		for (size_t k = 0; k < h->victim_done; k++)
			take(h, &victim_order, h->victim_got[k]);
	}
	cr_assert_eq(ledger_count(&h->ledger), h->per_producer * PRODUCERS, "items lost");
	/* Its items are each somewhere exactly once. */
	for (size_t k = 0; k < h->victim_n; k++) {
		bool seen = atomic_load(&h->victim_seen[k]);

		if (h->victim_pops || k < h->victim_done)
			cr_assert(seen, "victim item %zu lost", k);
		else
			cr_assert_not(seen, "victim item %zu not pushed yet delivered", k);
	}
	ledger_free(&h->ledger);
}

static void lfq_parked_at(int point, bool victim_pops, size_t victim_n)
{
	struct lfq_ring *r;
	struct harness h = {0};

	cr_assert_eq(lfq_ring_create(&r, 8, 0), 0);
	h.impl = (struct impl){lfq_push, lfq_pop, r, lfq_push_burst, lfq_pop_burst};
	atomic_store(&lfq__test_hook, park_hook);
	bool finished = run_with_parked_thread(&h, point, victim_pops, victim_n);

	atomic_store(&lfq__test_hook, NULL);
	cr_assert(finished, "lfq_ring stalled with a thread parked at point %d", point);
	check_all_delivered(&h);
	lfq_ring_destroy(r);
}

#define PARKED(name, point, pops)                                                                  \
	Test(lockfree, ring_completes_with_thread_parked_##name, .timeout = 120)                   \
	{                                                                                          \
		lfq_parked_at(point, pops, 1);                                                     \
	}
#define PARKED_BURST(name, point, pops)                                                            \
	Test(lockfree, ring_completes_with_burst_parked_##name, .timeout = 120)                    \
	{                                                                                          \
		lfq_parked_at(point, pops, VICTIM_BURST);                                          \
	}

#if LFQ_RING_CELLS
/* The cell ring: a thread holds nothing anywhere; these are the instants around its CASes. */
PARKED(push_before_its_cas, LFQ_TP_CELL_PUSH_READ, false)
PARKED(push_after_its_cas, LFQ_TP_CELL_PUSH_DONE, false)
PARKED(pop_before_its_cas, LFQ_TP_CELL_POP_READ, true)
PARKED(pop_after_its_cas, LFQ_TP_CELL_POP_DONE, true)
PARKED_BURST(push_before_a_cas, LFQ_TP_CELL_PUSH_READ, false)
PARKED_BURST(push_after_a_cas, LFQ_TP_CELL_PUSH_DONE, false)
PARKED_BURST(pop_before_a_cas, LFQ_TP_CELL_POP_READ, true)
PARKED_BURST(pop_after_a_cas, LFQ_TP_CELL_POP_DONE, true)
#else
PARKED(push_after_free_ticket, LFQ_TP_FQ_DEQ_TICKET, false)
PARKED(push_holding_free_slot, LFQ_TP_PUSH_HAVE_SLOT, false)
PARKED(push_after_item_ticket, LFQ_TP_AQ_ENQ_TICKET, false)
PARKED(push_after_publishing, LFQ_TP_AQ_ENQ_STORED, false)
PARKED(pop_after_item_ticket, LFQ_TP_AQ_DEQ_TICKET, true)
PARKED(pop_holding_slot, LFQ_TP_POP_HAVE_SLOT, true)
PARKED(pop_after_free_ticket, LFQ_TP_FQ_ENQ_TICKET, true)
PARKED_BURST(push_after_free_tickets, LFQ_TP_FQ_DEQ_TICKET, false)
PARKED_BURST(push_holding_free_slots, LFQ_TP_PUSH_HAVE_SLOT, false)
PARKED_BURST(push_after_item_tickets, LFQ_TP_AQ_ENQ_TICKET, false)
PARKED_BURST(pop_after_item_tickets, LFQ_TP_AQ_DEQ_TICKET, true)
PARKED_BURST(pop_holding_slots, LFQ_TP_POP_HAVE_SLOT, true)
PARKED_BURST(pop_after_free_tickets, LFQ_TP_FQ_ENQ_TICKET, true)
#endif

Test(lockfree, harness_detects_vyukov_ring_stall, .timeout = 120)
{
	struct vyukov_ring *r;
	struct harness h = {0};

	cr_assert_eq(vyukov_ring_create(&r, 8), 0);
	h.impl = (struct impl){.push = vy_push, .pop = vy_pop, .q = r};
	vyukov_ring_set_park_hook(park_hook);
	bool finished = run_with_parked_thread(&h, VYUKOV_RING_PARK_PUSH_CLAIMED, false, 1);

	vyukov_ring_set_park_hook(NULL);
	cr_assert_not(finished, "a producer parked between claim and publish should stall the "
				"Vyukov ring's consumers");
	cr_assert_lt(ledger_count(&h.ledger), h.per_producer * PRODUCERS);
	ledger_free(&h.ledger);
	vyukov_ring_destroy(r);
}

#if !LFQ_RING_CELLS
/*
 * Regression (review finding): consumers parked right after taking their item tickets keep
 * their items in entries at a regular stride (every 4th position of a ring of 16 entries).
 * A burst push whose batch starts on such a position must still complete, skipping the
 * blocked entries, while those consumers stay parked, and its items must stay reachable.
 */
static _Thread_local bool stride_parker;
static sem_t stride_parked, stride_release;

static void stride_hook(int point)
{
	if (stride_parker && point == LFQ_TP_AQ_DEQ_TICKET) {
		stride_parker = false;
		sem_post(&stride_parked);
		while (sem_wait(&stride_release) != 0)
			;
	}
}

struct stride_popper {
	struct lfq_ring *r;
	pthread_t t;
	int rc;
	void *item;
};

static void *stride_pop(void *arg)
{
	struct stride_popper *p = arg;

	stride_parker = true;
	p->rc = lfq_ring_pop(p->r, &p->item);
	return NULL;
}

struct stride_burst {
	struct lfq_ring *r;
	_Atomic size_t done;
};

static void *stride_push_burst(void *arg)
{
	struct stride_burst *b = arg;
	void *items[4] = {VICTIM_ITEM(0), VICTIM_ITEM(1), VICTIM_ITEM(2), (void *)(uintptr_t)7};

	atomic_store(&b->done, 1 + lfq_ring_push_burst(b->r, items, 4));
	return NULL;
}

Test(lockfree, burst_push_skips_entries_held_by_parked_consumers, .timeout = 120)
{
	struct lfq_ring *r;
	struct stride_popper p[4];
	struct stride_burst b = {0};
	pthread_t bt;
	void *it;

	cr_assert_eq(lfq_ring_create(&r, 8, 0), 0);
	sem_init(&stride_parked, 0, 0);
	sem_init(&stride_release, 0, 0);
	atomic_store(&lfq__test_hook, stride_hook);
	for (uintptr_t i = 0; i < 4; i++) {
		cr_assert_eq(lfq_ring_push(r, (void *)(10 + i)), 0);
		p[i] = (struct stride_popper){.r = r};
		cr_assert_eq(pthread_create(&p[i].t, NULL, stride_pop, &p[i]), 0);
		while (sem_wait(&stride_parked) != 0)
			;
		for (int j = 0; j < 3; j++) /* move on to the next position of the stride */
			cr_assert_eq(lfq_ring_push(r, (void *)(uintptr_t)50), 0);
		for (int j = 0; j < 3; j++)
			cr_assert_eq(lfq_ring_pop(r, &it), 0);
	}
	/* Align the item ring's tail with the stride, so the burst starts on a blocked entry,
	 * and fill the 4 free slots and fail one push, so the free ring's cached tail is fresh
	 * and the burst gets all 4 slots in one batch; then empty it again. */
	for (int attempt = 0; attempt < 16; attempt++) {
		for (int pad = 0; pad < attempt % 4; pad++) { /* filling may skip tickets */
			cr_assert_eq(lfq_ring_push(r, (void *)(uintptr_t)77), 0);
			cr_assert_eq(lfq_ring_pop(r, &it), 0);
		}
		for (int j = 0; j < 4; j++)
			cr_assert_eq(lfq_ring_push(r, (void *)(uintptr_t)60), 0);
		cr_assert_eq(lfq_ring_push(r, (void *)(uintptr_t)61), -EAGAIN);
		for (int j = 0; j < 4; j++)
			cr_assert_eq(lfq_ring_pop(r, &it), 0);
		if (atomic_load(&r->aq.tail) % 4 == 0)
			break;
	}
	cr_assert_eq(atomic_load(&r->aq.tail) % 4, 0);
	b.r = r;
	cr_assert_eq(pthread_create(&bt, NULL, stride_push_burst, &b), 0);
	/* Progress, not speed: the burst must finish while the consumers are still parked. */
	for (int i = 0; i < 2000 && atomic_load(&b.done) == 0; i++) {
		struct timespec tick = {0, 5 * 1000 * 1000};

		nanosleep(&tick, NULL);
	}
	const size_t pushed = atomic_load(&b.done);

	for (int i = 0; i < 4; i++)
		sem_post(&stride_release);
	for (int i = 0; i < 4; i++) {
		pthread_join(p[i].t, NULL);
		cr_assert_eq(p[i].rc, 0);
		cr_assert_eq(p[i].item, (void *)(10 + (uintptr_t)i));
	}
	pthread_join(bt, NULL);
	atomic_store(&lfq__test_hook, NULL);
	cr_assert_eq(pushed, 1 + 4, "the burst did not complete while consumers were parked");
	for (uintptr_t i = 0; i < 4; i++) {
		cr_assert_eq(lfq_ring_pop(r, &it), 0, "burst item %zu unreachable", (size_t)i);
		cr_assert_eq(it, i < 3 ? VICTIM_ITEM(i) : (void *)(uintptr_t)7);
	}
	cr_assert_eq(lfq_ring_pop(r, &it), -EAGAIN);
	sem_destroy(&stride_parked);
	sem_destroy(&stride_release);
	lfq_ring_destroy(r);
}
#endif /* !LFQ_RING_CELLS */

#if LFQ_RING_CELLS
/*
 * The single-side modes: the one producer (LFQ_RING_SP) or the one consumer (LFQ_RING_SC) is
 * parked at each instant of its call, and the other side, close, size and the drain must
 * still complete. Parked producer: the consumers take what is in, then the ring is closed and
 * they must reach -EPIPE while the push is still parked; released, the push either published
 * its item before the seal (it was delivered, the push returned 0) or fails with -EPIPE.
 * Parked consumer: the producers fill the ring and get -EAGAIN, close makes them fail with
 * -EPIPE; released, the consumer and then the main thread drain everything in FIFO order.
 */
#define MODE_OTHERS 4
#define MODE_CAP 8
#define MODE_JOIN_SECONDS 30

struct mode_run {
	struct lfq_ring *r;
	unsigned flags;
	bool victim_pops;
	int victim_rc;
	void *victim_item;
	_Atomic size_t popped, pushed;
	_Atomic uintptr_t got[MODE_OTHERS][MODE_CAP + 1];
};

struct mode_worker {
	struct mode_run *m;
	unsigned id;
	pthread_t thread;
};

static void *mode_victim(void *arg)
{
	struct mode_run *m = arg;

	is_victim = true;
	if (m->victim_pops)
		m->victim_rc = lfq_ring_pop(m->r, &m->victim_item);
	else
		m->victim_rc = lfq_ring_push(m->r, VICTIM_ITEM(0));
	return NULL;
}

/* Other side, the victim pushes: pop until -EPIPE, in order per consumer. */
static void *mode_consumer(void *arg)
{
	struct mode_worker *w = arg;
	struct mode_run *m = w->m;
	unsigned fails = 0;
	size_t n = 0;
	void *it;
	int rc;

	while ((rc = lfq_ring_pop(m->r, &it)) != -EPIPE) {
		if (rc == 0) {
			cr_assert_lt(n, MODE_CAP + 1);
			atomic_store(&m->got[w->id][n++], (uintptr_t)it);
			atomic_fetch_add(&m->popped, 1);
		} else {
			stress_backoff(&fails);
		}
	}
	return NULL;
}

/* Other side, the victim pops: push until the ring is full for good, then until closed. */
static void *mode_producer(void *arg)
{
	struct mode_worker *w = arg;
	struct mode_run *m = w->m;
	size_t seq = 1;
	int rc;

	while ((rc = lfq_ring_push(m->r, STRESS_ITEM(w->id, seq))) != -EPIPE) {
		if (rc == 0) {
			seq++;
			atomic_fetch_add(&m->pushed, 1);
		} else {
			sched_yield();
		}
	}
	return NULL;
}

static void join_or_fail(pthread_t t, const char *what)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += MODE_JOIN_SECONDS;
	cr_assert_eq(pthread_timedjoin_np(t, NULL, &ts), 0, "%s did not complete", what);
}

static void wait_for(_Atomic size_t *v, size_t want, const char *what)
{
	for (int i = 0; atomic_load(v) < want; i++) {
		cr_assert_lt(i, MODE_JOIN_SECONDS * 1000, "%s stalled", what);
		struct timespec tick = {0, 1000 * 1000};

		nanosleep(&tick, NULL);
	}
}

static void mode_parked_at(unsigned flags, int point, bool victim_pops)
{
	static struct mode_run m;
	struct mode_worker others[MODE_OTHERS];
	const bool single_other = victim_pops ? (flags & LFQ_RING_SP) : (flags & LFQ_RING_SC);
	const unsigned n_others = single_other ? 1 : MODE_OTHERS;
	pthread_t victim;
	void *it;

	memset(&m, 0, sizeof(m));
	m.flags = flags;
	m.victim_pops = victim_pops;
	cr_assert_eq(lfq_ring_create(&m.r, MODE_CAP, flags), 0);
	/* Before the victim starts, the main thread is the producer (thread creation hands
	 * the role over). A parked seal needs a closed, empty ring. */
	const size_t pre = point == LFQ_TP_CELL_POP_SEAL ? 0 : 3;

	for (size_t k = 1; k <= pre; k++)
		cr_assert_eq(lfq_ring_push(m.r, STRESS_ITEM(7, k)), 0);
	if (point == LFQ_TP_CELL_POP_SEAL)
		lfq_ring_close(m.r);
	sem_init(&parked_sem, 0, 0);
	sem_init(&release_sem, 0, 0);
	atomic_store(&park_point, point);
	atomic_store(&lfq__test_hook, park_hook);
	cr_assert_eq(pthread_create(&victim, NULL, mode_victim, &m), 0);
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += MODE_JOIN_SECONDS;
	cr_assert_eq(sem_timedwait(&parked_sem, &ts), 0, "victim never reached point %d", point);
	for (unsigned i = 0; i < n_others; i++) {
		others[i] = (struct mode_worker){.m = &m, .id = i};
		cr_assert_eq(pthread_create(&others[i].thread, NULL,
					    victim_pops ? mode_producer : mode_consumer,
					    &others[i]),
			     0);
	}
	if (!victim_pops) {
		/* The consumers take what is in while the producer is parked, then drain. */
		wait_for(&m.popped, pre, "pops with the producer parked");
		lfq_ring_close(m.r);
		for (unsigned i = 0; i < n_others; i++)
			join_or_fail(others[i].thread, "drain with the producer parked");
	} else if (point != LFQ_TP_CELL_POP_SEAL) {
		/* The producers fill the ring up (the parked pop's cell maybe not yet free). */
		wait_for(&m.pushed, MODE_CAP - pre, "pushes with the consumer parked");
		cr_assert_geq(lfq_ring_size(m.r), MODE_CAP - 1);
		lfq_ring_close(m.r);
		for (unsigned i = 0; i < n_others; i++)
			join_or_fail(others[i].thread, "pushes with the consumer parked");
	} else {
		for (unsigned i = 0; i < n_others; i++)
			join_or_fail(others[i].thread, "pushes with the sealing pop parked");
	}
	cr_assert(lfq_ring_is_closed(m.r));
	sem_post(&release_sem);
	join_or_fail(victim, "the released victim");
	atomic_store(&lfq__test_hook, NULL);
	atomic_store(&park_point, -1);
	/* Main is now the only thread: it may take both roles. */
	cr_assert_eq(lfq_ring_push(m.r, STRESS_ITEM(9, 1)), -EPIPE);
	if (!victim_pops) {
		size_t total = 0;
		bool victim_seen = false;

		for (unsigned i = 0; i < n_others; i++) {
			uintptr_t last = 0;

			for (size_t k = 0; k < MODE_CAP + 1 && atomic_load(&m.got[i][k]); k++) {
				const uintptr_t v = atomic_load(&m.got[i][k]);

				total++;
				if ((void *)v == VICTIM_ITEM(0)) {
					victim_seen = true;
					continue;
				}
				cr_assert_gt(v, last, "consumer %u out of order", i);
				last = v;
			}
		}
		cr_assert_eq(victim_seen, m.victim_rc == 0,
			     "parked push returned %d, its item %sdelivered", m.victim_rc,
			     victim_seen ? "" : "not ");
		cr_assert(m.victim_rc == 0 || m.victim_rc == -EPIPE);
		cr_assert_eq(total, pre + (m.victim_rc == 0), "items lost or repeated");
		cr_assert_eq(lfq_ring_pop(m.r, &it), -EPIPE);
	} else if (point == LFQ_TP_CELL_POP_SEAL) {
		cr_assert_eq(m.victim_rc, -EPIPE);
		cr_assert_eq(lfq_ring_pop(m.r, &it), -EPIPE);
	} else {
		struct order_check order = {{0}};
		size_t n = 1;

		cr_assert_eq(m.victim_rc, 0);
		cr_assert_eq(m.victim_item, STRESS_ITEM(7, 1), "the parked pop lost its item");
		for (size_t k = 2; k <= pre; k++, n++) {
			cr_assert_eq(lfq_ring_pop(m.r, &it), 0);
			cr_assert_eq(it, STRESS_ITEM(7, k));
		}
		while (lfq_ring_pop(m.r, &it) == 0) {
			order_record(&order, it);
			n++;
		}
		cr_assert_eq(n, pre + atomic_load(&m.pushed), "items lost");
		cr_assert_eq(lfq_ring_pop(m.r, &it), -EPIPE);
	}
	sem_destroy(&parked_sem);
	sem_destroy(&release_sem);
	lfq_ring_destroy(m.r);
}

#define MODE_PARKED(name, flags, point, pops)                                                      \
	Test(lockfree, mode_completes_with_##name, .timeout = 120)                                 \
	{                                                                                          \
		mode_parked_at(flags, point, pops);                                                \
	}

#define SPSC (LFQ_RING_SP | LFQ_RING_SC)
MODE_PARKED(spsc_push_before_its_cas, SPSC, LFQ_TP_CELL_PUSH_READ, false)
MODE_PARKED(spsc_push_after_its_cas, SPSC, LFQ_TP_CELL_PUSH_DONE, false)
MODE_PARKED(spsc_pop_before_its_store, SPSC, LFQ_TP_CELL_POP_READ, true)
MODE_PARKED(spsc_pop_after_its_store, SPSC, LFQ_TP_CELL_POP_DONE, true)
MODE_PARKED(spsc_pop_before_its_seal, SPSC, LFQ_TP_CELL_POP_SEAL, true)
MODE_PARKED(spmc_push_before_its_cas, LFQ_RING_SP, LFQ_TP_CELL_PUSH_READ, false)
MODE_PARKED(spmc_push_after_its_cas, LFQ_RING_SP, LFQ_TP_CELL_PUSH_DONE, false)
MODE_PARKED(mpsc_pop_before_its_store, LFQ_RING_SC, LFQ_TP_CELL_POP_READ, true)
MODE_PARKED(mpsc_pop_after_its_store, LFQ_RING_SC, LFQ_TP_CELL_POP_DONE, true)
MODE_PARKED(mpsc_pop_before_its_seal, LFQ_RING_SC, LFQ_TP_CELL_POP_SEAL, true)
#endif
