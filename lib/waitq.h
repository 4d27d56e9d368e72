/* SPDX-License-Identifier: MIT */
/*
 * An eventcount on a Linux futex: how the _wait calls sleep without adding more than one
 * uncontended load to the lock-free fast paths.
 *
 *   waiter:   key = lfq__waitq_prepare()         (announce: waiters++, then read seq)
 *             re-check the condition; if it holds now: lfq__waitq_done() and go;
 *             else: woken = lfq__waitq_sleep(key, deadline)
 *                   if (!woken) lfq__waitq_done()   (a notifier uncounted a woken thread)
 *   notifier: make the condition true (a seq_cst publish), then lfq__waitq_notify(n):
 *             one load of `waiters`; only if someone waits: seq++, FUTEX_WAKE(n), and
 *             waiters -= the number of threads the kernel actually woke.
 *
 * The notifier uncounts the threads it woke itself, at once: a woken thread may take a
 * long time to run again (its CPU may be busy), and until it does, every further notify
 * would otherwise see waiters != 0 and make another useless system call. A thread that
 * leaves its sleep for any other reason (timeout, signal, seq already changed) uncounts
 * itself. Each announcement is thus withdrawn exactly once.
 *
 * No lost wake-up (docs/design.md, "Sleeping"): W1 (waiters++) and the waiter's seq_cst
 * fence W2 against the notifier's seq_cst publish and N1 (load waiters) form a Dekker pair:
 * either N1 sees the waiter, or the waiter's re-check sees the publish. A notify that lands
 * after the key was read changes `seq`, so the futex wait returns at once.
 *
 * The notifier's side of the contract, in the C11 model: the publish that makes the
 * condition true must be a seq_cst modification of a location the waiter's re-check reads
 * (a seq_cst RMW or store), or be followed by a seq_cst fence before N1. A release store or
 * an acq_rel RMW is not enough: C11 lets N1 read a stale `waiters` while the re-check reads
 * the old value (x86-64 happens to forbid it; arm64 does for release writes but not for
 * relaxed ones). docs/design.md lists every notify and the publish it relies on.
 *
 * An asymmetric waitq (`asym`, for the single-consumer ring's plain release publish, O5 in
 * ring_cells.h) lifts that requirement from the notifier: its waiter adds W2a, a
 * process-wide membarrier(2) after W2, which runs a full barrier on every thread of the
 * process that is running (and a thread not running passed one in its context switch).
 * So between any notifier's publish and its later N1 there is, in effect, a full fence
 * whenever the two straddle W2a: either N1 sees W1, or the re-check sees the publish. This
 * is liburcu's "memb" flavour; its argument is in the Linux kernel memory model (C11 has no
 * word for membarrier), and it costs the waiter one system call per sleep, the notifier
 * nothing. Only for process-private waitqs: the barrier does not reach other processes.
 *
 * Labels: W1 fetch_add waiters seq_cst; W2 fence seq_cst; W3 load seq (key) acquire;
 *         W2a membarrier(PRIVATE_EXPEDITED), asym waitqs only;
 *         W4 fetch_sub waiters relaxed; N1 load waiters seq_cst; N2 fetch_add seq release;
 *         N3 fetch_sub waiters (the woken) relaxed.
 */
#ifndef LFQ_WAITQ_H
#define LFQ_WAITQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "atomics.h"
#include "testing.h"

struct lfq__waitq {
	_Atomic uint32_t seq;	  /* futex word: changes on every notify that found waiters */
	_Atomic uint32_t waiters; /* threads between prepare and done */
	/* 1: the futex may be shared between processes (a shared ring, ring_shared.c), so
	 * sleep and wake use non-private futex operations; 0: FUTEX_PRIVATE_FLAG, cheaper. */
	uint32_t shared;
	/* 1: notifiers may publish with release stores; waiters fence with W2a. */
	uint32_t asym;
};

/* Wake every sleeper: for close. */
#define LFQ_WAITQ_ALL 0x7fffffff

static inline void lfq__waitq_init(struct lfq__waitq *w)
{
	atomic_init(&w->seq, 0);
	atomic_init(&w->waiters, 0);
	w->shared = 0;
	w->asym = 0;
}

/* Registers the process for W2a (once; later calls only read the answer). true if
 * membarrier(2)'s private expedited command is available. Not lock-free (a system call). */
bool lfq__waitq_asym_register(void);
/* W2a. false if membarrier(2) failed although the process registered (a seccomp filter
 * installed after the ring was created): the fence did not happen, so a notifier's release
 * store may still be invisible to the re-check and its notify may be skipped. The waiter then
 * must not rely on being woken: lfq__waitq_wait re-checks every LFQ_WAITQ_UNFENCED_POLL_NS. */
bool lfq__waitq_asym_fence(void);

/* How long a waiter whose W2a failed sleeps before it re-checks by itself (1 ms). */
#define LFQ_WAITQ_UNFENCED_POLL_NS 1000000

/* For a waitq in memory that several processes map (any address in each). */
static inline void lfq__waitq_init_shared(struct lfq__waitq *w)
{
	lfq__waitq_init(w);
	w->shared = 1;
}

/* prepare, which also says whether the waiter may rely on a notify (*fenced false: an
 * asymmetric waitq whose W2a failed; see lfq__waitq_asym_fence). */
static inline uint32_t lfq__waitq_prepare_fenced(struct lfq__waitq *w, bool *fenced)
{
	/* W1: announce; pairs with N1. (Scheduling points only on the waiter's side: the
	 * interleaving checker's scenarios without waits keep their schedules.) */
	LFQ_SCHED_POINT();
	LFQ_FETCH_ADD(&w->waiters, 1, memory_order_seq_cst);
	/* W2: orders W1 before the re-check's loads (they are acquire, not all seq_cst): a
	 * publish that precedes N1 in the single total order is then visible to them. */
	LFQ_FENCE(memory_order_seq_cst); /* W2 */
	*fenced = !w->asym || lfq__waitq_asym_fence();
	/* W3: the key; pairs with N2 (a notify after this point makes the sleep return). */
	LFQ_SCHED_POINT();
	return LFQ_LOAD(&w->seq, memory_order_acquire);
}

/* Only for waitqs that are never asymmetric (every one but the ring's not_full). */
static inline uint32_t lfq__waitq_prepare(struct lfq__waitq *w)
{
	bool fenced;

	return lfq__waitq_prepare_fenced(w, &fenced);
}

static inline void lfq__waitq_done(struct lfq__waitq *w)
{
	/* W4: relaxed: only makes future notifies cheaper; a stale nonzero costs a syscall. */
	LFQ_FETCH_SUB(&w->waiters, 1, memory_order_relaxed);
}

/* Sleeps while seq == key, until deadline_ns (CLOCK_MONOTONIC; < 0: no deadline). Returns
 * true if a notify woke it (and so already withdrew its announcement), false if it returned
 * for another reason (timeout, signal, seq had changed): the caller then calls
 * lfq__waitq_done. Either way the caller re-checks its condition. */
bool lfq__waitq_sleep(struct lfq__waitq *w, uint32_t key, int64_t deadline_ns);

/* The slow half of notify: bump seq, wake up to n sleepers, uncount the ones woken. Returns
 * how many the kernel woke. */
int lfq__waitq_wake(struct lfq__waitq *w, int n);

/* Called after making the condition true. The fast path is this one load. */
static inline void lfq__waitq_notify(struct lfq__waitq *w, int n)
{
	/* N1: pairs with W1/W2 (Dekker, see above). */
	if (LFQ_LOAD(&w->waiters, memory_order_seq_cst) != 0)
		lfq__waitq_wake(w, n);
}

/*
 * The whole waiting recipe for a _wait call: try(obj, arg) until it returns anything but
 * -EAGAIN, first spinning (pause-separated tries, then sched_yield-separated tries, for the
 * calling thread's adaptive spin budget, below), then sleeping on wq between tries, until
 * timeout_ns (< 0: none; 0: one try). Returns try's result, or -ETIMEDOUT (-EAGAIN for a
 * zero timeout). try must be lock-free: sleeping stays outside the lock-free core.
 */
int lfq__waitq_wait(struct lfq__waitq *wq, int (*try)(void *obj, void *arg), void *obj, void *arg,
		    int64_t timeout_ns);

/*
 * Adaptive spinning (docs/design.md, "Sleeping"). Each thread keeps a spin budget B: a wait
 * that the first try does not satisfy tries with a pause in between for B ns (not at all
 * when the process may use only one CPU: the thread it waits for cannot run meanwhile),
 * then with sched_yield in between for another B ns, then sleeps. After a wait that had to
 * sleep, B doubles if the sleep was no longer than the spin (spinning twice as long would
 * have saved the sleep and the waker's system call), and halves otherwise (and after a
 * timeout): the spin was wasted CPU. A wait that a yield satisfied halves B too (the thread
 * it waited for shares its CPU, so pausing only delayed it), and the thread's next
 * LFQ_WAIT_YIELD_FIRST waits yield from the start, without a pause phase; the one after
 * them probes with pauses again. A wait that a pause-separated try satisfied leaves B as
 * it is.
 * Per thread, so the budget costs no shared write and follows that thread's own pattern.
 */
#define LFQ_WAIT_SPIN_MIN_NS 1000
#define LFQ_WAIT_SPIN_INIT_NS 4000
#define LFQ_WAIT_SPIN_MAX_NS 64000
/* Waits that skip the pause phase after one that only a yield satisfied. */
#define LFQ_WAIT_YIELD_FIRST 32
/* Tries between two clock reads in the pause phase (a clock read costs tens of ns). */
#define LFQ_WAIT_SPIN_BLOCK 16

/* B after a wait that spun for spun_ns and then slept for slept_ns (INT64_MAX: it timed out),
 * within [LFQ_WAIT_SPIN_MIN_NS, LFQ_WAIT_SPIN_MAX_NS]. Pure, for the tests. */
int64_t lfq__waitq_adapt(int64_t budget_ns, int64_t spun_ns, int64_t slept_ns);

/* The calling thread's current B (LFQ_WAIT_SPIN_INIT_NS before its first wait). */
int64_t lfq__waitq_spin_budget(void);

/* How many more of the calling thread's waits will yield from the start (tests). */
unsigned lfq__waitq_yield_first(void);

/* CPUs the process may use (the main thread's affinity, read once per thread);
 * pause-spinning is skipped when it is 1. */
int lfq__waitq_cpus(void);

/* CLOCK_MONOTONIC now, in ns. */
int64_t lfq__now_ns(void);

/* Absolute deadline for a relative timeout: -1 (none) for timeout < 0, saturating. */
static inline int64_t lfq__deadline(int64_t timeout_ns)
{
	if (timeout_ns < 0)
		return -1;
	const int64_t now = lfq__now_ns();

	return timeout_ns > INT64_MAX - now ? -1 : now + timeout_ns;
}

#endif /* LFQ_WAITQ_H */
