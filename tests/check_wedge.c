/* SPDX-License-Identifier: MIT */
/*
 * SCQ's threshold wedge (issue 11, "Fix the threshold wedge") under the interleaving checker's
 * stall search: on a ring of capacity 1 holding one item, a pop gives the only slot back while
 * three pushes' free-ring tickets fail; the schedule that wedges it holds the pop right after
 * its ticket (E2) three times and each push before its catch-up and threshold decrement (C1,
 * D7) until the pop has published, so the late decrements drive the threshold negative and
 * the quiet, empty ring refuses every push.
 *
 * Built twice (tests/meson.build), both on the SCQ ring: as shipped (with the fix, lib/scq.h
 * lfq__scq_sweep), where every schedule must pass, and with LFQ_MUTANT_THRESHOLD_WEDGE, which
 * re-creates the pre-fix order, where the checker must find the wedge.
 */
#include "sched/check_run.h"

Test(check_wedge, threshold_wedge_cap1, .timeout = 600)
{
	const struct ring_scenario s = {"threshold_wedge_cap1", 1, 1, {"o", "u", "u", "u"}, 0};
	struct sched_result r;

	/* 100 per set of places in every build: it finds the wedge after 13,299 schedules. */
	check_stall(&s, false, 100, &r);
#ifdef LFQ_MUTANT_THRESHOLD_WEDGE
	cr_assert(r.failed, "the checker did not find the threshold wedge");
	fprintf(stderr, "found: %s\n", r.msg);
	cr_assert(strncmp(r.msg, "quiescent wedge", 15) == 0, "not the wedge: %s", r.msg);
#else
	cr_assert(!r.failed, "%s", r.msg);
#endif
}
