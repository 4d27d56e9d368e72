/* SPDX-License-Identifier: MIT */
/*
 * A weak-memory model for the interleaving checker (tests only): the C11 model of the atomic
 * accesses that lib/atomics.h routes here in the lfq_weak build (-DLFQ_WEAK_MODEL).
 *
 * One thread runs at a time (sched.h), so memory itself always holds the latest store of
 * each location: the modification order is the order of execution. What the model adds is
 * which store a load may read. Per location it keeps every store of the schedule, each with
 * its writer, the writer's clock and a release clock; per thread a vector clock. A load may
 * read any store not older than
 *   - the latest store that happens-before it (write-read coherence through happens-before),
 *   - the latest store this thread already read or wrote there (read-read, write-read),
 *   - for a seq_cst load: the latest seq_cst store there, and the latest store there that
 *     is sequenced before a seq_cst fence already executed (C11 7.17.3p9-p11 with the
 *     seq_cst order S = the order of execution),
 *   - after a seq_cst fence of this thread: what the two bounds above were at that fence.
 * Which one it reads is a choice the scheduler explores (sched_choose): the latest store
 * first, then older ones, at most `stale` older reads per schedule (sched_opts). A
 * read-modify-write reads the latest store and continues its release sequence. An acquire
 * load joins the release clock of the store it read; a relaxed one keeps it for a later
 * acquire fence. A release store's release clock is its writer's clock; a relaxed store's
 * is the writer's clock at its last release fence. membarrier(2) (the waitq's W2a) is a
 * seq_cst fence of every thread at once. A failed compare-exchange reads the latest store
 * (stronger than C11, where it is a load that may read an older one).
 *
 * Plain payload accesses (weak_plain_write / weak_plain_read) check that the write read
 * happens-before the read: a data race is reported as a failure of the schedule. So do the
 * library's plain writes that it publishes through atomics (LFQ_PLAIN_INIT, lib/atomics.h: an
 * lfq_queue segment set up before its link): an access to that memory by another scheduled
 * thread that does not happen after the setup fails the schedule ("publication").
 *
 * Locations first touched in a schedule start with an initial store that happens-before
 * everything: the schedule's setup wrote it before the threads started. Outside a schedule
 * (setup, checks) every access is the plain atomic one.
 */
#ifndef LFQ_TESTS_WEAK_H
#define LFQ_TESTS_WEAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched.h"

/* Forgets every location and clock: the next schedule starts. */
void weak_begin(void);
/* The first violation the model saw in this schedule (a data race), or NULL. */
const char *weak_failure(void);

/* A plain write and read of a payload word by a scheduled thread. */
void weak_plain_write(uint64_t *p, uint64_t v);
uint64_t weak_plain_read(const uint64_t *p);

/* An event of thread tid (its clock ticks); copies its vector clock to vc. */
void weak_event(int tid, uint32_t vc[SCHED_MAX_THREADS]);

/* membarrier(2): a seq_cst fence of every thread at this instant. */
void weak_membarrier(void);

/* One site of the library: where an atomic access is (file basename and line), what it is,
 * and its orders as written. */
enum weak_kind { WK_LOAD, WK_STORE, WK_RMW, WK_CAS, WK_CAS128, WK_FENCE };
struct weak_site {
	const char *file; /* basename */
	int line;
	enum weak_kind kind;
	int order; /* memory_order; the success order of a CAS */
	int fail;  /* a CAS's failure order, else -1 */
	unsigned long hits;
};

/* The sites met since the process started (at most WEAK_MAX_SITES). */
#define WEAK_MAX_SITES 128
int weak_sites(const struct weak_site **sites);

/* From now on the site at file:line uses `order` instead of its own (slot 0: the order, or
 * a CAS's success order; slot 1: a CAS's failure order). file NULL: no mutation. */
void weak_mutate(const char *file, int line, int slot, int order);

const char *weak_order_name(int order);
const char *weak_kind_name(enum weak_kind k);

#endif /* LFQ_TESTS_WEAK_H */
