/* SPDX-License-Identifier: MIT */
/* The system-call half of the eventcount (waitq.h). */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "testing.h"
#include "waitq.h"

int64_t lfq__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Process-private futexes skip the kernel's lookup of the backing page; shared ones (a ring
 * in memory several processes map, each at its own address) are keyed by that page. */
static int private_flag(const struct lfq__waitq *w)
{
	return w->shared ? 0 : FUTEX_PRIVATE_FLAG;
}

bool lfq__waitq_sleep(struct lfq__waitq *w, uint32_t key, int64_t deadline_ns)
{
#ifdef LFQ_WEAK_MODEL
	/* The weak-memory checker's futex: sleeps (not runnable) until a wake (atomics.h). */
	(void)deadline_ns;
	return lfq__wm_futex_wait(&w->seq, key);
#endif
	struct timespec abs, *tsp = NULL;

	if (deadline_ns >= 0) {
		abs.tv_sec = (time_t)(deadline_ns / 1000000000);
		abs.tv_nsec = (long)(deadline_ns % 1000000000);
		tsp = &abs;
	}
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a wait restarted
	 * after a signal does not stretch the timeout. EINTR, EAGAIN (seq already changed) and
	 * ETIMEDOUT all return to the caller, which re-checks its condition and the clock. */
	return syscall(SYS_futex, &w->seq, FUTEX_WAIT_BITSET | private_flag(w), key, tsp, NULL,
		       FUTEX_BITSET_MATCH_ANY) == 0;
}

int lfq__waitq_wake(struct lfq__waitq *w, int n)
{
	/* N2: release: a sleeper that reads the new seq (W3) also sees the publish. */
	LFQ_FETCH_ADD(&w->seq, 1, memory_order_release);
#ifdef LFQ_TESTING
	atomic_fetch_add_explicit(&lfq__test_futex_wakes, 1, memory_order_relaxed);
#endif
#ifdef LFQ_WEAK_MODEL
	const long woken = lfq__wm_futex_wake(&w->seq, n);
#else
	const long woken =
		syscall(SYS_futex, &w->seq, FUTEX_WAKE | private_flag(w), n, NULL, NULL, 0);
#endif

	/* N3: the woken threads' announcements, withdrawn for them (see waitq.h). */
	if (woken > 0)
		LFQ_FETCH_SUB(&w->waiters, (uint32_t)woken, memory_order_relaxed);
	return woken > 0 ? (int)woken : 0;
}

/* This thread's spin budget B (waitq.h); 0 until its first adaptation. */
static _Thread_local int64_t tls_spin_budget;
/* How many more of this thread's waits yield from the start (waitq.h). */
static _Thread_local unsigned tls_yield_first;

int64_t lfq__waitq_spin_budget(void)
{
	return tls_spin_budget ? tls_spin_budget : LFQ_WAIT_SPIN_INIT_NS;
}

unsigned lfq__waitq_yield_first(void)
{
	return tls_yield_first;
}

int64_t lfq__waitq_adapt(int64_t budget_ns, int64_t spun_ns, int64_t slept_ns)
{
	const int64_t b = slept_ns <= spun_ns ? budget_ns * 2 : budget_ns / 2;

	return b < LFQ_WAIT_SPIN_MIN_NS	  ? LFQ_WAIT_SPIN_MIN_NS
	       : b > LFQ_WAIT_SPIN_MAX_NS ? LFQ_WAIT_SPIN_MAX_NS
					  : b;
}

int lfq__waitq_cpus(void)
{
	/* Per thread, read at its first wait: no shared cache line, and a process whose CPUs
	 * change sees it in its new threads. */
	static _Thread_local int tls_cpus;

	if (tls_cpus == 0) {
		cpu_set_t set;
		int n;

		/* The main thread's mask (its id is the process id), not the caller's: a thread
		 * pinned to one CPU may well wait for threads on other CPUs. */
		if (sched_getaffinity(getpid(), sizeof(set), &set) == 0)
			n = CPU_COUNT(&set);
		else
			n = (int)sysconf(_SC_NPROCESSORS_ONLN);
		tls_cpus = n < 1 ? 1 : n;
	}
	return tls_cpus;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int lfq__waitq_wait(struct lfq__waitq *wq, int (*try)(void *obj, void *arg), void *obj, void *arg,
		    int64_t timeout_ns)
{
	int rc = try(obj, arg);

	if (rc != -EAGAIN || timeout_ns == 0)
		return rc;
#ifdef LFQ_WEAK_MODEL
	/* The weak-memory checker: no spinning (its clock reads would make schedules differ
	 * between replays), straight to the sleep. */
	const int64_t start = lfq__now_ns(), deadline = -1, budget = lfq__waitq_spin_budget();
	const int64_t planned = 0, slept_from = start;
	int64_t now = start;
	(void)timeout_ns;
#else
	/* No pause phase on one CPU, nor for a while after a yield was what helped: the thread we
	 * wait for was on our CPU, and pausing only keeps it from running. */
	const bool yield_first = tls_yield_first > 0;

	if (yield_first)
		tls_yield_first--;
	const bool pause_spin = !yield_first && lfq__waitq_cpus() > 1;

	/* A first block of tries before the clock is read: most hand-offs between running
	 * threads complete within it (well under a microsecond). */
	if (pause_spin) {
		for (unsigned i = 0; i < LFQ_WAIT_SPIN_BLOCK; i++) {
			lfq__cpu_relax();
			rc = try(obj, arg);
			if (rc != -EAGAIN)
				return rc;
		}
	}
	const int64_t start = lfq__now_ns();
	const int64_t deadline =
		timeout_ns < 0 || timeout_ns > INT64_MAX - start ? -1 : start + timeout_ns;
	const int64_t budget = lfq__waitq_spin_budget();
	const int64_t limit = deadline < 0 ? INT64_MAX : deadline;
	const int64_t pause_end = min64(pause_spin ? start + budget : start, limit);
	const int64_t spin_end = min64(pause_end + budget, limit);
	int64_t now = start;

	/* Spin: pause-separated tries while the thread we wait for is likely running on another
	 * CPU, then yields, which let it run if it shares our CPU. */
	while (now < pause_end) {
		for (unsigned i = 0; i < LFQ_WAIT_SPIN_BLOCK; i++) {
			lfq__cpu_relax();
			rc = try(obj, arg);
			if (rc != -EAGAIN)
				return rc;
		}
		now = lfq__now_ns();
	}
	while (now < spin_end) {
		sched_yield();
		rc = try(obj, arg);
		if (rc != -EAGAIN) {
			/* Only a yield helped: the one we waited for shares our CPU, and the pause
			 * phase kept it from running. */
			tls_spin_budget = lfq__waitq_adapt(budget, 0, INT64_MAX);
			/* Armed only by a wait that paused first, so that every
			 * LFQ_WAIT_YIELD_FIRST waits one probes whether pausing pays again. */
			if (!yield_first)
				tls_yield_first = LFQ_WAIT_YIELD_FIRST;
			return rc;
		}
		now = lfq__now_ns();
	}
	/* Sleep. The adaptation compares the sleep with the planned spin (a preempted yield can
	 * stretch the actual one). */
	const int64_t planned = spin_end - start, slept_from = now;
#endif

	for (;;) {
		bool fenced;
		const uint32_t key = lfq__waitq_prepare_fenced(wq, &fenced);

		rc = try(obj, arg);
		const bool late =
			rc == -EAGAIN && deadline >= 0 && (now = lfq__now_ns()) >= deadline;

		if (rc != -EAGAIN || late) {
			lfq__waitq_done(wq);
			if (!late)
				now = lfq__now_ns();
			tls_spin_budget = lfq__waitq_adapt(budget, planned,
							   late ? INT64_MAX : now - slept_from);
			return late ? -ETIMEDOUT : rc;
		}
		/* Unfenced (W2a failed), a notify may be skipped: sleep in short slices and
		 * re-check, so that the wait still ends within a slice of the room appearing. */
		int64_t until = deadline;

		if (!fenced) {
			const int64_t slice = lfq__now_ns() + LFQ_WAITQ_UNFENCED_POLL_NS;

			until = deadline < 0 ? slice : min64(deadline, slice);
		}
		if (!lfq__waitq_sleep(wq, key, until))
			lfq__waitq_done(wq);
	}
}

/* 0: not asked yet; 1: registered; 2: unavailable (old kernel, seccomp). Relaxed: the answer
 * is the kernel's, idempotent; a thread that reads 0 just asks again. */
static _Atomic int asym_state;

bool lfq__waitq_asym_register(void)
{
#ifdef LFQ_WEAK_MODEL
	/* The weak-memory checker models W2a itself (lfq__wm_membarrier): the same paths on
	 * every host, whether its kernel has membarrier(2) or not. */
	return true;
#endif
	int st = atomic_load_explicit(&asym_state, memory_order_relaxed);

	if (st == 0) {
		const long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
		const bool ok = q > 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
				syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
					0, 0) == 0;

		st = ok ? 1 : 2;
		atomic_store_explicit(&asym_state, st, memory_order_relaxed);
	}
	return st == 1;
}

bool lfq__waitq_asym_fence(void)
{
	/* It can fail after a successful register: a seccomp filter installed later answers
	 * EPERM (or kills, which no library can help). */
#ifdef LFQ_TESTING
	/* Relaxed: set by a test before the threads that read it start. */
	if (atomic_load_explicit(&lfq__test_fail_membarrier, memory_order_relaxed))
		return false;
#endif
#ifdef LFQ_WEAK_MODEL
	lfq__wm_membarrier(); /* W2a: a seq_cst fence of every thread */
	return true;
#endif
	return syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}
