/* SPDX-License-Identifier: MIT */
/* The weak-memory model (see weak.h). */
#ifndef LFQ_WEAK_MODEL
#define LFQ_WEAK_MODEL 1 /* for the prototypes in atomics.h */
#endif
#include "weak.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"

#define NT SCHED_MAX_THREADS
#define MAX_LOCS 64
#define MAX_STORES 1024
/* Older stores a load may choose among (the latest ones). */
#define MAX_CHOICES 8
/* Kept loads (LFQ_LOAD_KEPT) of one location not yet known to precede every later store. */
#define MAX_KEPT 8

struct vc {
	uint32_t c[NT];
};

struct store {
	uint64_t v;
	int tid; /* -1: the initial store */
	uint32_t stamp;
	struct vc rel; /* what an acquire reading it joins */
};

/* A kept load: its thread, that thread's clock at the load, and its site. */
struct kept {
	int tid;
	uint32_t stamp;
	const char *file;
	int line;
};

struct loc {
	uintptr_t addr;
	size_t size;
	int n;
	int sc_last; /* latest seq_cst store, -1 */
	int fenced;  /* latest store sequenced before an executed seq_cst fence, -1 */
	int nkept;
	struct kept kept[MAX_KEPT];
	struct store st[MAX_STORES];
};

struct thread {
	struct vc vc, pending, fence_rel;
	int last[MAX_LOCS];  /* latest store read or written (coherence) */
	int wrote[MAX_LOCS]; /* latest store written */
	int floor[MAX_LOCS]; /* the bounds at this thread's last seq_cst fence */
};

static struct {
	int nlocs;
	struct loc locs[MAX_LOCS];
	struct thread th[NT];
	char failure[256];
	bool failed;
	struct weak_site sites[WEAK_MAX_SITES];
	int nsites;
	const char *mut_file;
	int mut_line, mut_slot, mut_order;
} M;

/* Memory a scheduled thread wrote with plain stores and then published (LFQ_PLAIN_INIT):
 * every other thread's access there must happen after the writer's clock at that point. */
#define MAX_INITS 16
static struct {
	int n;
	struct {
		uintptr_t lo, hi;
		int tid;
		uint32_t stamp;
	} r[MAX_INITS];
} inits;

static void vc_join(struct vc *a, const struct vc *b)
{
	for (int i = 0; i < NT; i++)
		if (b->c[i] > a->c[i])
			a->c[i] = b->c[i];
}

static int max3(int a, int b, int c)
{
	const int m = a > b ? a : b;

	return m > c ? m : c;
}

static const char *base(const char *file)
{
	const char *s = strrchr(file, '/');

	return s ? s + 1 : file;
}

void weak_begin(void)
{
	M.nlocs = 0;
	M.failed = false;
	M.failure[0] = 0;
	memset(M.th, 0, sizeof(M.th));
	inits.n = 0;
	for (int t = 0; t < NT; t++)
		for (int i = 0; i < MAX_LOCS; i++) {
			M.th[t].last[i] = -1;
			M.th[t].wrote[i] = -1;
			M.th[t].floor[i] = -1;
		}
}

const char *weak_failure(void)
{
	return M.failed ? M.failure : NULL;
}

static void fail(const char *fmt, ...)
{
	if (M.failed)
		return;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(M.failure, sizeof(M.failure), fmt, ap);
	va_end(ap);
	M.failed = true;
}

static uint64_t mem_read(const volatile void *p, size_t size)
{
	if (size == 4)
		return __atomic_load_n((const volatile uint32_t *)p, __ATOMIC_SEQ_CST);
	return __atomic_load_n((const volatile uint64_t *)p, __ATOMIC_SEQ_CST);
}

static void mem_write(volatile void *p, size_t size, uint64_t v)
{
	if (size == 4)
		__atomic_store_n((volatile uint32_t *)p, (uint32_t)v, __ATOMIC_SEQ_CST);
	else
		__atomic_store_n((volatile uint64_t *)p, v, __ATOMIC_SEQ_CST);
}

/* An access to p by a scheduled thread: a data race if p is in memory another thread
 * initialized with plain stores (LFQ_PLAIN_INIT) and that does not happen-before it. */
static void init_check(const volatile void *p)
{
	const int tid = sched_self();
	const uintptr_t a = (uintptr_t)p;

	for (int i = 0; tid >= 0 && i < inits.n; i++)
		if (a >= inits.r[i].lo && a < inits.r[i].hi && inits.r[i].tid != tid &&
		    M.th[tid].vc.c[inits.r[i].tid] < inits.r[i].stamp)
			fail("publication: thread %d uses memory that thread %d set up with plain "
			     "stores, which do not happen-before the use (data race)",
			     tid, inits.r[i].tid);
}

/* The location at p; created with its initial store (the value in memory) on first touch. */
static int loc_of(const volatile void *p, size_t size)
{
	init_check(p);
	for (int i = 0; i < M.nlocs; i++)
		if (M.locs[i].addr == (uintptr_t)p)
			return i;
	if (M.nlocs == MAX_LOCS) {
		fprintf(stderr, "weak model: more than %d locations\n", MAX_LOCS);
		abort();
	}
	struct loc *l = &M.locs[M.nlocs];

	l->addr = (uintptr_t)p;
	l->size = size;
	l->n = 1;
	l->sc_last = -1;
	l->fenced = -1;
	l->nkept = 0;
	l->st[0] = (struct store){.v = mem_read(p, size), .tid = -1};
	return M.nlocs++;
}

static int record_site(const char *file, int line, enum weak_kind kind, int order, int fail_order)
{
	const char *b = base(file);

	for (int i = 0; i < M.nsites; i++)
		if (M.sites[i].line == line && strcmp(M.sites[i].file, b) == 0) {
			M.sites[i].hits++;
			return i;
		}
	if (M.nsites == WEAK_MAX_SITES)
		return -1;
	M.sites[M.nsites] = (struct weak_site){b, line, kind, order, fail_order, 1};
	return M.nsites++;
}

/* The order the site uses: its own, or the mutant's. */
static int order_at(const char *file, int line, int slot, int order)
{
	if (M.mut_file && M.mut_line == line && M.mut_slot == slot &&
	    strcmp(M.mut_file, base(file)) == 0)
		return M.mut_order;
	return order;
}

static bool is_acquire(int mo)
{
	return mo == memory_order_acquire || mo == memory_order_consume ||
	       mo == memory_order_acq_rel || mo == memory_order_seq_cst;
}

static bool is_release(int mo)
{
	return mo == memory_order_release || mo == memory_order_acq_rel ||
	       mo == memory_order_seq_cst;
}

/* The calling scheduled thread, its clock ticked; NULL outside a schedule. */
static struct thread *self(int *tid)
{
	*tid = sched_self();
	if (*tid < 0)
		return NULL;
	struct thread *t = &M.th[*tid];

	t->vc.c[*tid]++;
	return t;
}

static bool happens_before(const struct store *s, const struct thread *t)
{
	return s->tid < 0 || t->vc.c[s->tid] >= s->stamp;
}

/* The store a load of location li by thread t (ordered mo) reads: a choice. */
static int choose_store(struct thread *t, int li, int mo)
{
	struct loc *l = &M.locs[li];
	int lo = 0;

	for (int i = l->n - 1; i > 0; i--)
		if (happens_before(&l->st[i], t)) {
			lo = i;
			break;
		}
	lo = max3(lo, t->last[li], t->floor[li]);
	if (mo == memory_order_seq_cst)
		lo = max3(lo, l->sc_last, l->fenced);
	int k = l->n - lo;

	if (k > MAX_CHOICES)
		k = MAX_CHOICES;
	return l->n - 1 - sched_choose(k);
}

static void take(struct thread *t, int tid, int li, int idx, int mo)
{
	(void)tid;
	if (idx > t->last[li])
		t->last[li] = idx;
	if (is_acquire(mo))
		vc_join(&t->vc, &M.locs[li].st[idx].rel);
	else
		vc_join(&t->pending, &M.locs[li].st[idx].rel);
}

/*
 * Before a store by t to l: a kept load of l by another thread that does not happen-before
 * this store could read it (C11 allows it: nothing orders the two, and coherence does not
 * forbid it since that thread has not touched l since). A kept load by t itself is followed by
 * this store in program order, and one that happens-before it never can: both are dropped.
 */
static void check_kept(const struct thread *t, int tid, struct loc *l)
{
	int keep = 0;

	for (int i = 0; i < l->nkept; i++) {
		const struct kept *k = &l->kept[i];

		if (k->tid == tid || t->vc.c[k->tid] >= k->stamp)
			continue;
		fail("load buffering: thread %d's kept load at %s:%d does not happen-before "
		     "thread %d's later store to the same word, so C11 lets it read that store "
		     "(a data race if the word is plain)",
		     k->tid, base(k->file), k->line, tid);
		l->kept[keep++] = *k;
	}
	l->nkept = keep;
}

/* A load by thread tid ends its earlier kept loads of l (coherence: they cannot read a store
 * newer than what this one reads), and a kept load starts one. */
static void note_load(struct loc *l, int tid, uint32_t stamp, const char *file, int line, bool kept)
{
	int keep = 0;

	for (int i = 0; i < l->nkept; i++)
		if (l->kept[i].tid != tid)
			l->kept[keep++] = l->kept[i];
	l->nkept = keep;
	if (!kept)
		return;
	if (l->nkept == MAX_KEPT) {
		fprintf(stderr, "weak model: more than %d kept loads of one location\n", MAX_KEPT);
		abort();
	}
	l->kept[l->nkept++] = (struct kept){tid, stamp, file, line};
}

/* Appends a store by t; rmw: it read the latest store and continues its release sequence. */
static void put(struct thread *t, int tid, int li, uint64_t v, int mo, bool rmw)
{
	struct loc *l = &M.locs[li];

	if (l->n == MAX_STORES) {
		fprintf(stderr, "weak model: more than %d stores to one location\n", MAX_STORES);
		abort();
	}
	check_kept(t, tid, l);
	struct store *s = &l->st[l->n];

	*s = (struct store){.v = v, .tid = tid, .stamp = t->vc.c[tid]};
	s->rel = is_release(mo) ? t->vc : t->fence_rel;
	if (rmw)
		vc_join(&s->rel, &l->st[l->n - 1].rel);
	if (mo == memory_order_seq_cst)
		l->sc_last = l->n;
	t->last[li] = l->n;
	t->wrote[li] = l->n;
	l->n++;
	mem_write((volatile void *)l->addr, l->size, v);
}

static void sc_fence(struct thread *t)
{
	for (int i = 0; i < M.nlocs; i++)
		if (t->wrote[i] > M.locs[i].fenced)
			M.locs[i].fenced = t->wrote[i];
	for (int i = 0; i < M.nlocs; i++)
		t->floor[i] = max3(t->floor[i], M.locs[i].sc_last, M.locs[i].fenced);
}

static void fence(struct thread *t, int mo)
{
	if (is_acquire(mo))
		vc_join(&t->vc, &t->pending);
	if (is_release(mo))
		t->fence_rel = t->vc;
	if (mo == memory_order_seq_cst)
		sc_fence(t);
}

static uint64_t load(const volatile void *p, size_t size, int mo, const char *file, int line,
		     bool kept)
{
	record_site(file, line, WK_LOAD, mo, -1);
	int tid;
	struct thread *t = self(&tid);

	if (!t)
		return mem_read(p, size);
	mo = order_at(file, line, 0, mo);
	const int li = loc_of(p, size);
	const int idx = choose_store(t, li, mo);

	take(t, tid, li, idx, mo);
	note_load(&M.locs[li], tid, t->vc.c[tid], file, line, kept);
	return M.locs[li].st[idx].v;
}

uint64_t lfq__wm_load(const volatile void *p, size_t size, int mo, const char *file, int line)
{
	return load(p, size, mo, file, line, false);
}

uint64_t lfq__wm_load_kept(const volatile void *p, size_t size, int mo, const char *file, int line)
{
	return load(p, size, mo, file, line, true);
}

void lfq__wm_store(volatile void *p, size_t size, uint64_t v, int mo, const char *file, int line)
{
	record_site(file, line, WK_STORE, mo, -1);
	int tid;
	struct thread *t = self(&tid);

	if (size == 4)
		v = (uint32_t)v;
	if (!t) {
		mem_write(p, size, v);
		return;
	}
	mo = order_at(file, line, 0, mo);
	put(t, tid, loc_of(p, size), v, mo, false);
}

/* A read-modify-write's read: the latest store, with the read half of its order. */
static uint64_t rmw_read(struct thread *t, int tid, int li, int mo)
{
	const int idx = M.locs[li].n - 1;

	take(t, tid, li, idx, mo);
	note_load(&M.locs[li], tid, t->vc.c[tid], NULL, 0, false);
	return M.locs[li].st[idx].v;
}

bool lfq__wm_cas(volatile void *p, size_t size, void *expected, uint64_t desired, int ok,
		 int fail_mo, const char *file, int line)
{
	record_site(file, line, WK_CAS, ok, fail_mo);
	int tid;
	struct thread *t = self(&tid);
	uint64_t want = size == 4 ? *(uint32_t *)expected : *(uint64_t *)expected;

	if (!t) {
		if (size == 4) {
			uint32_t e = (uint32_t)want;
			const bool r = __atomic_compare_exchange_n(
				(volatile uint32_t *)p, &e, (uint32_t)desired, false,
				__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);

			*(uint32_t *)expected = e;
			return r;
		}
		return __atomic_compare_exchange_n((volatile uint64_t *)p, (uint64_t *)expected,
						   desired, false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	}
	ok = order_at(file, line, 0, ok);
	fail_mo = order_at(file, line, 1, fail_mo);
	const int li = loc_of(p, size);
	const uint64_t cur = M.locs[li].st[M.locs[li].n - 1].v;

	if (cur != want) {
		rmw_read(t, tid, li, fail_mo);
		if (size == 4)
			*(uint32_t *)expected = (uint32_t)cur;
		else
			*(uint64_t *)expected = cur;
		return false;
	}
	rmw_read(t, tid, li, ok);
	put(t, tid, li, size == 4 ? (uint32_t)desired : desired, ok, true);
	return true;
}

/* fetch_add (or) / fetch_or: one read-modify-write of the latest store. */
static uint64_t fetch_op(volatile void *p, size_t size, uint64_t v, bool or, int mo,
			 const char *file, int line)
{
	record_site(file, line, WK_RMW, mo, -1);
	int tid;
	struct thread *t = self(&tid);

	if (!t) {
		if (size == 4)
			return or ? __atomic_fetch_or((volatile uint32_t *)p, (uint32_t)v,
						      __ATOMIC_SEQ_CST)
				  : __atomic_fetch_add((volatile uint32_t *)p, (uint32_t)v,
						       __ATOMIC_SEQ_CST);
		return or ? __atomic_fetch_or((volatile uint64_t *)p, v, __ATOMIC_SEQ_CST)
			  : __atomic_fetch_add((volatile uint64_t *)p, v, __ATOMIC_SEQ_CST);
	}
	mo = order_at(file, line, 0, mo);
	const int li = loc_of(p, size);
	const uint64_t old = rmw_read(t, tid, li, mo);
	const uint64_t sum = or ? old | v : old + v;

	put(t, tid, li, size == 4 ? (uint32_t)sum : sum, mo, true);
	return old;
}

uint64_t lfq__wm_fetch_add(volatile void *p, size_t size, uint64_t v, int mo, const char *file,
			   int line)
{
	return fetch_op(p, size, v, false, mo, file, line);
}

uint64_t lfq__wm_fetch_or(volatile void *p, size_t size, uint64_t v, int mo, const char *file,
			  int line)
{
	return fetch_op(p, size, v, true, mo, file, line);
}

void lfq__wm_fence(int mo, const char *file, int line)
{
	record_site(file, line, WK_FENCE, mo, -1);
	int tid;
	struct thread *t = self(&tid);

	if (!t) {
		atomic_thread_fence(memory_order_seq_cst);
		return;
	}
	fence(t, order_at(file, line, 0, mo));
}

bool lfq__wm_cas128(void *p, uint64_t *lo, uint64_t *hi, uint64_t nlo, uint64_t nhi, int mo,
		    const char *file, int line)
{
	record_site(file, line, WK_CAS128, mo, -1);
	int tid;
	struct thread *t = self(&tid);
	uint64_t *w = p;

	if (!t) {
		const bool ok = w[0] == *lo && w[1] == *hi;

		if (ok) {
			mem_write(&w[0], 8, nlo);
			mem_write(&w[1], 8, nhi);
		} else {
			*lo = w[0];
			*hi = w[1];
		}
		return ok;
	}
	mo = order_at(file, line, 0, mo);
	const int l0 = loc_of(&w[0], 8), l1 = loc_of(&w[1], 8);
	const uint64_t c0 = M.locs[l0].st[M.locs[l0].n - 1].v;
	const uint64_t c1 = M.locs[l1].st[M.locs[l1].n - 1].v;

	rmw_read(t, tid, l0, mo);
	rmw_read(t, tid, l1, mo);
	if (c0 != *lo || c1 != *hi) {
		*lo = c0;
		*hi = c1;
		return false;
	}
	put(t, tid, l0, nlo, mo, true);
	put(t, tid, l1, nhi, mo, true);
	return true;
}

void weak_membarrier(void)
{
	int tid;
	struct thread *t = self(&tid);

	if (!t)
		return;
	for (int i = 0; i < NT; i++)
		fence(&M.th[i], memory_order_seq_cst);
}

/* The kernel compares the futex word as it is now: the latest store. The wake orders
 * nothing in the model (the waitq re-checks with its own atomics). */
bool lfq__wm_futex_wait(const volatile void *addr, uint32_t key)
{
	if (sched_self() < 0 || mem_read(addr, 4) != key)
		return false;
	return sched_futex_wait((const void *)addr);
}

int lfq__wm_futex_wake(const volatile void *addr, int n)
{
	return sched_futex_wake((const void *)addr, n);
}

void lfq__wm_membarrier(void)
{
	weak_membarrier();
}

void weak_plain_write(uint64_t *p, uint64_t v)
{
	int tid;
	struct thread *t = self(&tid);

	if (!t) {
		*p = v;
		return;
	}
	put(t, tid, loc_of(p, 8), v, memory_order_relaxed, false);
}

/* A plain read by t of location li: the latest store, which must happen-before the read
 * (else a data race, reported as `what`, with the read's place when file is not NULL). */
static const struct store *plain_read(struct thread *t, int tid, int li, const char *what,
				      const char *file, int line)
{
	const struct loc *l = &M.locs[li];
	const struct store *s = &l->st[l->n - 1];

	if (!happens_before(s, t) && file)
		fail("%s at %s:%d: thread %d reads %#llx, written by thread %d, which does not "
		     "happen-before the read (data race)",
		     what, base(file), line, tid, (unsigned long long)s->v, s->tid);
	else if (!happens_before(s, t))
		fail("%s: thread %d reads %#llx, written by thread %d, which does not "
		     "happen-before the read (data race)",
		     what, tid, (unsigned long long)s->v, s->tid);
	if (l->n - 1 > t->last[li])
		t->last[li] = l->n - 1;
	return s;
}

uint64_t weak_plain_read(const uint64_t *p)
{
	int tid;
	struct thread *t = self(&tid);

	if (!t)
		return *p;
	return plain_read(t, tid, loc_of(p, 8), "payload", NULL, 0)->v;
}

/* An item slot (LFQ_SLOT_LOAD): a plain read, kept (check_kept) until this thread touches the
 * slot again. */
void *lfq__wm_slot_load(void *const *p, const char *file, int line)
{
	int tid;
	struct thread *t = self(&tid);

	if (!t)
		return *p;
	const int li = loc_of(p, sizeof(*p));
	const struct store *s = plain_read(t, tid, li, "item slot", file, line);

	note_load(&M.locs[li], tid, t->vc.c[tid], file, line, true);
	return (void *)(uintptr_t)s->v;
}

/* LFQ_SLOT_STORE: the store it replaces must happen-before it, and so must the reads of that
 * store (check_kept, in put). */
void lfq__wm_slot_store(void **p, void *v, const char *file, int line)
{
	int tid;
	struct thread *t = self(&tid);

	if (!t) {
		*p = v;
		return;
	}
	const int li = loc_of(p, sizeof(*p));
	const struct store *s = &M.locs[li].st[M.locs[li].n - 1];

	if (!happens_before(s, t))
		fail("data race: thread %d writes the slot at %s:%d, last written by thread %d, "
		     "which does not happen-before this write",
		     tid, base(file), line, s->tid);
	put(t, tid, li, (uint64_t)(uintptr_t)v, memory_order_relaxed, false);
}

void lfq__wm_plain_init(const volatile void *p, size_t n)
{
	int tid;
	struct thread *t = self(&tid);
	int i = 0;

	if (!t)
		return;
	while (i < inits.n && inits.r[i].lo != (uintptr_t)p)
		i++; /* memory reused within a schedule: its latest initialization */
	if (i == MAX_INITS) {
		fprintf(stderr, "weak model: more than %d initialized regions\n", MAX_INITS);
		abort();
	}
	inits.n += i == inits.n;
	inits.r[i].lo = (uintptr_t)p;
	inits.r[i].hi = (uintptr_t)p + n;
	inits.r[i].tid = tid;
	inits.r[i].stamp = t->vc.c[tid];
}

void weak_event(int tid, uint32_t vc[SCHED_MAX_THREADS])
{
	struct thread *t = &M.th[tid];

	t->vc.c[tid]++;
	memcpy(vc, t->vc.c, sizeof(t->vc.c));
}

int weak_sites(const struct weak_site **sites)
{
	*sites = M.sites;
	return M.nsites;
}

void weak_mutate(const char *file, int line, int slot, int order)
{
	M.mut_file = file ? base(file) : NULL;
	M.mut_line = line;
	M.mut_slot = slot;
	M.mut_order = order;
}

const char *weak_order_name(int order)
{
	static const char *const names[] = {"relaxed", "consume", "acquire",
					    "release", "acq_rel", "seq_cst"};
	return order >= 0 && order <= 5 ? names[order] : "-";
}

const char *weak_kind_name(enum weak_kind k)
{
	static const char *const names[] = {"load", "store", "RMW", "CAS", "CAS128", "fence"};
	return names[k];
}
