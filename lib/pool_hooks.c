/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's hooks, as every part of the pool calls them: the log hook (filtered by level)
 * and a dead job's way out (the "job dead" event, on_dead, its completion record). No
 * atomics; calls nothing in the pool but the completion channel.
 */
#include <lfq/pool.h>

#include "pool_internal.h"

static const char *const dead_names[] = {"", "failed", "exhausted", "expired", "cancelled"};

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
	const struct lfq_log_field f[] = {
		{.key = "reason", .str = dead_names[reason]},
		{.key = "attempts", .num = t->attempts},
		{.key = "last_result", .num = t->last_result},
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
