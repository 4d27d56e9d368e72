/* SPDX-License-Identifier: MIT */
/*
 * What a job (or any thread) may ask a pool about: the running job's attempt and id (also
 * without a pool pointer: the lfq_job_* getters), its clock, whether a stop was requested,
 * the names of dead reasons; the request to stop, which a signal handler may make; and the
 * signal mask workers start with.
 *
 * Labels (docs/design.md section 3 has the argument):
 *   R1  request_stop: close the ready rings     seq_cst, as K1 in pool.c (the same store); then
 *                                               N1 on not_empty and not_full, as close_intake
 *   R2  stop_requested: load closed             seq_cst, as K2 (one plain load on x86)
 *
 * A stop request is the first half of a shutdown: intake closes (every later submit returns
 * -ESHUTDOWN, sleeping submit_wait callers wake with it), the workers go on running what was
 * accepted, retries included, and exit once nothing is left; lfq_pool_shutdown later waits
 * for that with its drain timeout and joins. Nothing here locks or allocates: R1 is one store
 * per level and the wake-ups are futex system calls, all async-signal-safe.
 */
#include <errno.h>
#include <signal.h>

#include <lfq/pool.h>

#include "pool_internal.h"

const char *lfq_dead_reason_name(int reason)
{
	switch (reason) {
	case LFQ_DEAD_FAILED:
		return "failed";
	case LFQ_DEAD_EXHAUSTED:
		return "exhausted";
	case LFQ_DEAD_EXPIRED:
		return "expired";
	case LFQ_DEAD_CANCELLED:
		return "cancelled";
	default:
		return "unknown";
	}
}

const char *lfq_job_result_name(int result)
{
	switch (result) {
	case 0:
		return "success";
	case LFQ_JOB_RETRY:
		return "retry";
	case LFQ_JOB_FAIL:
		return "fail";
	default:
		return "other";
	}
}

int64_t lfq_pool_now_ns(const struct lfq_pool *pool)
{
	if (!pool)
		return lfq__now_ns(); /* a time, never an errno (issue 24) */
	return lfq__pool_now(pool);
}

int lfq_pool_request_stop(struct lfq_pool *pool)
{
	if (!pool)
		return -EINVAL;
	const int saved = errno; /* a signal handler must leave errno as it found it */

	lfq__pool_close_intake(pool); /* R1: K1, then N1 on not_empty and not_full */
	errno = saved;
	return 0;
}

unsigned lfq_pool_job_attempt(const struct lfq_pool *pool)
{
	const struct lfq__pool_worker *w = lfq__pool_self(pool);

	return w && w->current ? w->current->attempts : 0;
}

uint64_t lfq_pool_job_id(const struct lfq_pool *pool)
{
	const struct lfq__pool_worker *w = lfq__pool_self(pool);

	return w && w->current && (w->current->flags & LFQ__TASK_HAS_ID) ? w->current->id : 0;
}

/* The job the calling worker runs now, or NULL: the lfq_job_* getters need no pool. */
static const struct lfq__pool_worker *running_worker(void)
{
	const struct lfq__pool_worker *w = lfq__pool_current_worker();

	return w && w->current ? w : NULL;
}

struct lfq_pool *lfq_job_pool(void)
{
	const struct lfq__pool_worker *w = running_worker();

	return w ? w->pool : NULL;
}

unsigned lfq_job_attempt(void)
{
	const struct lfq__pool_worker *w = running_worker();

	return w ? w->current->attempts : 0;
}

int lfq_job_worker_index(void)
{
	const struct lfq__pool_worker *w = running_worker();

	return w ? (int)w->index : -1;
}

uint64_t lfq_job_id(void)
{
	const struct lfq__pool_worker *w = running_worker();

	return w && (w->current->flags & LFQ__TASK_HAS_ID) ? w->current->id : 0;
}

void lfq__pool_worker_sigmask(sigset_t *set)
{
	/* Blocking these would not stop a fault from raising them (the kernel kills the
	 * process instead), and sanitizers and debuggers rely on their handlers. */
	static const int synchronous[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};

	sigfillset(set);
	for (size_t i = 0; i < sizeof(synchronous) / sizeof(synchronous[0]); i++)
		sigdelset(set, synchronous[i]);
}

bool lfq_pool_stop_requested(const struct lfq_pool *pool)
{
	if (!pool)
		return false;
	/* R2: every level is closed by the same call; level 0 always exists. */
	return lfq__slotq_closed(&((struct lfq_pool *)pool)->q, 0);
}
