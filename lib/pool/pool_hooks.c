/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's hooks, as every part of the pool calls them: the log hook (filtered by level)
 * and a dead job's way out (the "job dead" event naming the job, on_dead or, for a job a
 * timed-out shutdown hands back, exactly one of on_dead / on_cancelled, its completion record). No
 * atomics; calls nothing in the pool but the completion channel.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <lfq/pool.h>

#include "pool_internal.h"

void lfq__pool_log(const struct lfq_pool *pool, int level, const char *msg,
		   const struct lfq_log_field *fields, size_t n)
{
	if (pool->log && (unsigned)level <= pool->log_level)
		pool->log(level, msg, fields, n, pool->ctx);
}

static void log_dead(const struct lfq_pool *pool, const struct lfq__task *t, int reason)
{
	if (!pool->log || pool->log_level < LFQ_LOG_WARN)
		return;
	/* The job by its id (0: submitted without one) and its arg (as %p prints it); the
	 * result by name where it has one (lfq_job_result_name), else as a number. */
	char arg[2 + 2 * sizeof(void *) + 1], id[21];

	snprintf(arg, sizeof(arg), "%p", t->arg);
	snprintf(id, sizeof(id), "%llu",
		 (unsigned long long)((t->flags & LFQ__TASK_HAS_ID) ? t->id : 0));
	const char *result = lfq_job_result_name(t->last_result);
	const bool named = strcmp(result, "other") != 0;
	const struct lfq_log_field f[] = {
		{.key = "reason", .str = lfq_dead_reason_name(reason)},
		{.key = "id", .str = id},
		{.key = "arg", .str = arg},
		{.key = "attempts", .num = t->attempts},
		{.key = "last_result", .str = named ? result : NULL, .num = t->last_result},
		{.key = "priority", .num = t->priority},
	};

	lfq__pool_log(pool, LFQ_LOG_WARN, "job dead", f, sizeof(f) / sizeof(f[0]));
}

/* Hands a dead job to the hooks (the caller counts it afterwards, as finished). */
void lfq__pool_call_dead(const struct lfq_pool *pool, const struct lfq__task *t, int reason)
{
	log_dead(pool, t, reason);
	if (pool->on_dead) {
		const struct lfq_job job = lfq__pool_job_of(t);

		pool->on_dead(&job, reason, t->attempts, t->last_result, pool->ctx);
	}
	if (pool->comp)
		lfq__comp_post((struct lfq_pool *)pool, t, reason, t->last_result);
}

/* Hands a job that a timed-out shutdown takes back to exactly one terminal hook: on_dead
 * (CANCELLED) if the config has it, else on_cancelled (the older hook, for configs without
 * on_dead); logged and recorded as dead either way. on_dead wins because it is the hook every
 * other dead job reaches (and liblfq_redis needs it for every dead job). */
void lfq__pool_call_cancelled(const struct lfq_pool *pool, const struct lfq__task *t)
{
	const struct lfq_job job = lfq__pool_job_of(t);

	log_dead(pool, t, LFQ_DEAD_CANCELLED);
	if (pool->on_dead)
		pool->on_dead(&job, LFQ_DEAD_CANCELLED, t->attempts, t->last_result, pool->ctx);
	else if (pool->on_cancelled)
		pool->on_cancelled(&job, pool->ctx);
	if (pool->comp)
		lfq__comp_post((struct lfq_pool *)pool, t, LFQ_DEAD_CANCELLED, t->last_result);
}
