/* SPDX-License-Identifier: MIT */
/*
 * The checker has teeth: built once per test-only mutant (LFQ_MUTANT_*, lib/meson.build),
 * each executable asserts that the checker finds its mutant, and with which check. The
 * results (schedules until found, and whether the stress suites notice) are in
 * docs/design.md, "How it is tested".
 */
#include <lfq/ring.h>

#include "sched/check_run.h"

#define FINDS(test, check, cap, pre, ...)                                                          \
	Test(check_mutants, test, .timeout = 300)                                                  \
	{                                                                                          \
		const struct ring_scenario s = {#test, cap, pre, {__VA_ARGS__}, 0};                \
		check_finds(&s, false, check);                                                     \
	}

#define FINDS_MODE(test, flags, check, cap, pre, ...)                                              \
	Test(check_mutants, test, .timeout = 300)                                                  \
	{                                                                                          \
		const struct ring_scenario s = {#test, cap, pre, {__VA_ARGS__}, flags};            \
		check_finds(&s, false, check);                                                     \
	}

#if defined(LFQ_MUTANT_DRAIN_EARLY)
/* A pop that sees the close after its empty verdict drains one ticket short: -EPIPE while
 * the item of a push that returned 0 is still inside. */
FINDS(drain_early, "linearizability", 1, 0, "u", "c", "o")
#elif defined(LFQ_MUTANT_CLOSE_SKIPS_DRAIN)
/* A pop whose empty verdict came before a push and the close answers -EPIPE at once. */
FINDS(close_skips_drain, "linearizability", 1, 0, "u", "c", "o")
#elif defined(LFQ_MUTANT_CLOSED_PUSH_LEAKS_SLOT)
/* A push that got a slot but lost the race with close keeps the slot: size() counts it. */
FINDS(closed_push_leaks_slot, "size", 1, 0, "u", "c", "o")
#elif defined(LFQ_MUTANT_FREE_BEFORE_READ)
/* A pop gives its slot back before reading the item: a push overwrites it first. */
FINDS(free_before_read, "linearizability", 1, 0, "uo", "uo")
#elif defined(LFQ_MUTANT_CELL_SKIP_PAST_FREE)
/* The cell ring: a push with a stale hint that finds FREE(q) of a later lap jumps past q
 * (as if q were filled) and stores that hint: the quiet, empty ring then refuses pushes. */
FINDS(cell_skip_past_free, "quiescent wedge", 2, 0, "u", "uu", "o")
#elif defined(LFQ_MUTANT_CELL_NO_SEAL)
/* The cell ring: a pop on a closed, empty ring answers -EPIPE without sealing the cell, so a
 * push that checked `closed` before the close still fills it. */
FINDS(cell_no_seal, "linearizability", 1, 0, "u", "c", "o")
#elif defined(LFQ_MUTANT_CELL_EARLY_CLOSED_CHECK)
/* The cell ring: push checks `closed` only at its start, and fills a cell that a pop freed
 * after the close (what the checker found in the first version of the close). */
FINDS(cell_early_closed_check, "linearizability", 1, 1, "u", "c", "oo")
#elif defined(LFQ_MUTANT_CELL_SP_PLAIN_FILL)
/* The single producer publishes with a plain store instead of its CAS (O3): a seal made
 * between its closed check and its store is overwritten, and the sealing pop's -EPIPE loses
 * the item of a push that returned 0. Why O3 must stay a read-modify-write. */
FINDS_MODE(cell_sp_plain_fill, LFQ_RING_SP | LFQ_RING_SC, "linearizability", 1, 0, "u", "c", "o")
#elif defined(LFQ_MUTANT_CELL_BLIND_UNGUARDED)
/* The blind push (-Dring_push=blind) without its room check: K2 reads "open" on a full ring,
 * a pop frees the cell after the close, and the blind CAS fills it: a push after the close.
 * Why B1 must prove room before K2, as C2 does on the checked path. */
FINDS(cell_blind_unguarded, "linearizability", 1, 1, "u", "c", "oo")
#else
#error "check_mutants.c is built once per LFQ_MUTANT_* (see tests/meson.build)"
#endif
