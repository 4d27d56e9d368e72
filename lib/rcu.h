/* SPDX-License-Identifier: MIT */
/*
 * lfq's use of userspace RCU (liburcu, memb flavour): automatic thread registration and
 * read-side sections, plus the ThreadSanitizer annotations that let TSan see a grace period.
 *
 * Flavour: memb. Readers pay no fence (writers use the membarrier system call), and threads
 * need not report quiescent states, which a library cannot ask of its callers' threads
 * (qsbr would). See docs/design.md, "lfq_queue".
 */
#ifndef LFQ_RCU_H
#define LFQ_RCU_H

#include <stdbool.h>

#if defined(__SANITIZE_THREAD__)
#define LFQ_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LFQ_TSAN 1
#endif
#endif

/* Inline read-side primitives (they meet LGPL's 10-line rule), except under TSan: liburcu's
 * inline code synchronizes with hand-written asm that TSan cannot follow, so that build calls
 * the out-of-line versions and TSan checks lfq's code only. rcu.c needs the static header for
 * the reader's "registered" flag. */
#if !defined(LFQ_TSAN) || defined(LFQ_RCU_STATIC)
#define _LGPL_SOURCE
#endif
#include <urcu/urcu-memb.h>

#ifdef LFQ_TSAN
/* TSan cannot see the membarrier-based grace period inside liburcu. Each reader "releases"
 * one process-wide domain object as it leaves its read-side section, and each reclamation
 * callback "acquires" it (and releases it for rcu_barrier's caller, who acquires): the
 * happens-before edges a grace period and rcu_barrier guarantee. */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char lfq__rcu_tsan_domain;
#define LFQ_RCU_RELEASE() __tsan_release(&lfq__rcu_tsan_domain)
#define LFQ_RCU_ACQUIRE() __tsan_acquire(&lfq__rcu_tsan_domain)
#else
#define LFQ_RCU_RELEASE() ((void)0)
#define LFQ_RCU_ACQUIRE() ((void)0)
#endif

/* Prepares automatic unregistration at thread exit; 0 or -EAGAIN. Called by constructors. */
int lfq__rcu_setup(void);

/* Registers the calling thread with urcu-memb unless it is already registered. */
void lfq__rcu_register_slow(void);

extern _Thread_local bool lfq__rcu_registered;

static inline void lfq__rcu_read_lock(void)
{
	if (!lfq__rcu_registered)
		lfq__rcu_register_slow();
	urcu_memb_read_lock();
}

static inline void lfq__rcu_read_unlock(void)
{
	LFQ_RCU_RELEASE();
	urcu_memb_read_unlock();
}

#endif /* LFQ_RCU_H */
