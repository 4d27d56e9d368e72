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
 * Labels: W1 fetch_add waiters seq_cst; W2 fence seq_cst; W3 load seq (key) acquire;
 *         W4 fetch_sub waiters relaxed; N1 load waiters seq_cst; N2 fetch_add seq release;
 *         N3 fetch_sub waiters (the woken) relaxed.
 */
#ifndef LFQ_WAITQ_H
#define LFQ_WAITQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch.h"

struct lfq__waitq {
	_Atomic uint32_t seq;	  /* futex word: changes on every notify that found waiters */
	_Atomic uint32_t waiters; /* threads between prepare and done */
	/* 1: the futex may be shared between processes (a shared ring, ring_shared.c), so
	 * sleep and wake use non-private futex operations; 0: FUTEX_PRIVATE_FLAG, cheaper. */
	uint32_t shared;
};

/* Wake every sleeper: for close. */
#define LFQ_WAITQ_ALL 0x7fffffff

static inline void lfq__waitq_init(struct lfq__waitq *w)
{
	atomic_init(&w->seq, 0);
	atomic_init(&w->waiters, 0);
	w->shared = 0;
}

/* For a waitq in memory that several processes map (any address in each). */
static inline void lfq__waitq_init_shared(struct lfq__waitq *w)
{
	lfq__waitq_init(w);
	w->shared = 1;
}

static inline uint32_t lfq__waitq_prepare(struct lfq__waitq *w)
{
	/* W1: announce; pairs with N1. */
	atomic_fetch_add_explicit(&w->waiters, 1, memory_order_seq_cst);
	/* W2: orders W1 before the re-check's loads (they are acquire, not all seq_cst): a
	 * publish that precedes N1 in the single total order is then visible to them. */
	atomic_thread_fence(memory_order_seq_cst);
	/* W3: the key; pairs with N2 (a notify after this point makes the sleep return). */
	return atomic_load_explicit(&w->seq, memory_order_acquire);
}

static inline void lfq__waitq_done(struct lfq__waitq *w)
{
	/* W4: relaxed: only makes future notifies cheaper; a stale nonzero costs a syscall. */
	atomic_fetch_sub_explicit(&w->waiters, 1, memory_order_relaxed);
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
	if (atomic_load_explicit(&w->waiters, memory_order_seq_cst) != 0)
		lfq__waitq_wake(w, n);
}

/*
 * The whole waiting recipe for a _wait call: try(obj, arg) until it returns anything but
 * -EAGAIN, first spinning (LFQ_WAIT_SPINS pause-separated tries, then sched_yield-separated
 * tries for up to LFQ_WAIT_SPIN_NS), then sleeping on wq between tries, until timeout_ns
 * (< 0: none; 0: one try). Returns try's result, or -ETIMEDOUT (-EAGAIN for a zero timeout).
 * try must be lock-free: sleeping stays outside the lock-free core.
 */
int lfq__waitq_wait(struct lfq__waitq *wq, int (*try)(void *obj, void *arg), void *obj, void *arg,
		    int64_t timeout_ns);

/* Spin phase of lfq__waitq_wait. Short: a waiter that spins too long steals the CPU that
 * the thread it waits for may need (threads outnumber cores in many servers). */
#define LFQ_WAIT_SPINS 64
#define LFQ_WAIT_SPIN_NS 20000

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
