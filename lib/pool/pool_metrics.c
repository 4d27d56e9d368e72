/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's metrics on read: the workers' latency histograms merged into percentiles, and
 * the Prometheus text exposition of every counter, gauge and histogram. Nothing here writes
 * shared state: the workers record (histogram.h, pool_worker.c), readers only load (H2, A1/A2).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lfq/pool.h>

#include "histogram.h"
#include "pool_internal.h"

/* Prometheus buckets: le = 2^k ns for k in [LE_MIN_EXP, LE_MAX_EXP] (128 ns .. 68.7 s). */
#define LE_MIN_EXP 7
#define LE_MAX_EXP 36

/* Merges histogram `which` (0: queue wait, 1: run) of every worker. */
static void merge(const struct lfq_pool *pool, unsigned which, struct lfq__hist_snap *s)
{
	memset(s, 0, sizeof(*s));
	if (!pool->metrics)
		return;
	for (unsigned w = 0; w < pool->nworkers; w++)
		lfq__hist_merge(s, &pool->workers[w].hist[which]);
}

static void latency_of(const struct lfq__hist_snap *s, struct lfq_pool_latency *l)
{
	l->count = s->count;
	l->sum = s->sum;
	l->max = s->max;
	l->p50 = lfq__hist_quantile(s, 50, 100);
	l->p90 = lfq__hist_quantile(s, 90, 100);
	l->p99 = lfq__hist_quantile(s, 99, 100);
	l->p999 = lfq__hist_quantile(s, 999, 1000);
}

int lfq_pool_metrics(const struct lfq_pool *pool, struct lfq_pool_metrics *m)
{
	if (!pool || !m)
		return -EINVAL;
	struct lfq__hist_snap s; /* about 20 KiB of stack */

	merge(pool, 0, &s);
	latency_of(&s, &m->queue_wait);
	merge(pool, 1, &s);
	latency_of(&s, &m->run);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Text output, snprintf-style: counts every byte, writes what fits. */

struct out {
	char *buf;
	size_t len;
	size_t pos; /* bytes the text needs so far */
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	char *dst = o->pos < o->len ? o->buf + o->pos : NULL;
	const size_t room = o->pos < o->len ? o->len - o->pos : 0;

	va_start(ap, fmt);
	const int n = vsnprintf(dst, room, fmt, ap);

	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

/* ns as decimal seconds, exactly ("0.000000128", "68.719476736", "0"). */
static void seconds(char *dst, size_t len, uint64_t ns)
{
	char frac[16];
	int n = snprintf(frac, sizeof(frac), "%09llu", (unsigned long long)(ns % 1000000000u));

	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	if (n == 0)
		snprintf(dst, len, "%llu", (unsigned long long)(ns / 1000000000u));
	else
		snprintf(dst, len, "%llu.%s", (unsigned long long)(ns / 1000000000u), frac);
}

static void header(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct out *o, const char *label, const char *name, const char *help,
		    uint64_t v)
{
	header(o, name, "counter", help);
	put(o, "%s{%s} %llu\n", name, label, (unsigned long long)v);
}

static void gauge(struct out *o, const char *label, const char *name, const char *help, uint64_t v)
{
	header(o, name, "gauge", help);
	put(o, "%s{%s} %llu\n", name, label, (unsigned long long)v);
}

static void histogram(struct out *o, const char *label, const char *name, const char *help,
		      const struct lfq__hist_snap *s)
{
	char num[48];

	header(o, name, "histogram", help);
	for (unsigned k = LE_MIN_EXP; k <= LE_MAX_EXP; k++) {
		seconds(num, sizeof(num), (uint64_t)1 << k);
		put(o, "%s_bucket{%s,le=\"%s\"} %llu\n", name, label, num,
		    (unsigned long long)lfq__hist_count_le(s, (uint64_t)1 << k));
	}
	put(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, label, (unsigned long long)s->count);
	seconds(num, sizeof(num), s->sum);
	put(o, "%s_sum{%s} %s\n", name, label, num);
	put(o, "%s_count{%s} %llu\n", name, label, (unsigned long long)s->count);
}

int64_t lfq_pool_metrics_prometheus(const struct lfq_pool *pool, char *buf, size_t len)
{
	if (!pool || (!buf && len > 0))
		return -EINVAL;
	struct out o = {.buf = buf, .len = len};
	struct lfq_pool_stats st;
	char label[64];
	size_t k = 0;

	/* pool="<name>", escaped as the format requires (backslash, quote, newline). */
	k += (size_t)snprintf(label, sizeof(label), "pool=\"");
	for (const char *c = pool->name; *c && k + 3 < sizeof(label); c++) {
		if (*c == '\\' || *c == '"' || *c == '\n')
			label[k++] = '\\';
		label[k++] = *c == '\n' ? 'n' : *c;
	}
	label[k++] = '"';
	label[k] = '\0';

	if (lfq_pool_stats(pool, &st, NULL, 0) != 0)
		return -EINVAL;
	counter(&o, label, "lfq_pool_jobs_submitted_total", "Jobs accepted by submit.",
		st.submitted);
	counter(&o, label, "lfq_pool_jobs_succeeded_total", "Jobs whose run returned 0.",
		st.succeeded);
	counter(&o, label, "lfq_pool_jobs_failed_total", "Jobs dead after a permanent failure.",
		st.failed);
	counter(&o, label, "lfq_pool_jobs_exhausted_total",
		"Jobs dead after asking for a retry with no attempt left.", st.exhausted);
	counter(&o, label, "lfq_pool_jobs_expired_total",
		"Jobs dead because their deadline passed before a run.", st.expired);
	counter(&o, label, "lfq_pool_jobs_cancelled_total",
		"Jobs cancelled: lfq_pool_cancel, or a shutdown's drain timeout.", st.cancelled);
	counter(&o, label, "lfq_pool_jobs_dead_total", "Jobs handed to the dead-letter hook.",
		st.dead);
	counter(&o, label, "lfq_pool_runs_started_total", "Runs started, retries included.",
		st.started);
	counter(&o, label, "lfq_pool_runs_retried_total", "Runs that ended in a scheduled retry.",
		st.retried);
	header(&o, "lfq_pool_jobs_queued", "gauge", "Jobs waiting in the queue, per priority.");
	for (unsigned l = 0; l < pool->levels; l++)
		put(&o, "lfq_pool_jobs_queued{%s,priority=\"%u\"} %llu\n", label, l,
		    (unsigned long long)st.queued_by_priority[l]);
	gauge(&o, label, "lfq_pool_jobs_delayed", "Jobs waiting in a timer for their retry.",
	      st.delayed);
	gauge(&o, label, "lfq_pool_jobs_running", "Runs in progress.", st.running);
	gauge(&o, label, "lfq_pool_workers", "Worker threads.", st.workers);
	if (pool->metrics) {
		struct lfq__hist_snap s;

		merge(pool, 0, &s);
		histogram(&o, label, "lfq_pool_queue_wait_seconds",
			  "Time from runnable (submit or retry due) to the start of a run.", &s);
		merge(pool, 1, &s);
		histogram(&o, label, "lfq_pool_run_seconds", "Run time of jobs.", &s);
	}
	return (int64_t)o.pos;
}
