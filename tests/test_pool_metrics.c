/* SPDX-License-Identifier: MIT */
/* lfq_pool's metrics: histogram percentiles against a sorted reference on random data, run
 * and queue-wait latencies under a fake clock, and the Prometheus text output (checked by
 * its own parser here, and by `promtool check metrics` when promtool is installed). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lfq/pool.h>

#include "histogram.h"
#include "pool_internal.h"

static int cmp_u64(const void *a, const void *b)
{
	const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t exact_quantile(const uint64_t *sorted, size_t n, uint64_t num, uint64_t den)
{
	size_t rank = (size_t)((n * num + den - 1) / den);

	return sorted[(rank ? rank : 1) - 1];
}

static void check_quantile(const struct lfq__hist_snap *s, const uint64_t *sorted, size_t n,
			   uint64_t num, uint64_t den)
{
	const uint64_t want = exact_quantile(sorted, n, num, den);
	const uint64_t got = lfq__hist_quantile(s, num, den);

	/* Never below the exact value, and within 1/64 above it (3 % is the promise). */
	cr_assert_geq(got, want, "q %llu/%llu: %llu < exact %llu", (unsigned long long)num,
		      (unsigned long long)den, (unsigned long long)got, (unsigned long long)want);
	cr_assert_leq((got - want) * 64, want, "q %llu/%llu: %llu vs exact %llu",
		      (unsigned long long)num, (unsigned long long)den, (unsigned long long)got,
		      (unsigned long long)want);
}

Test(pool_metrics, histogram_percentiles_match_a_sorted_reference)
{
	static struct lfq__hist h;
	static struct lfq__hist_snap s;
	const size_t n = 200000;
	uint64_t *v = malloc(n * sizeof(*v));
	uint64_t rng = 7, sum = 0, max = 0;

	cr_assert_not_null(v);
	for (int round = 0; round < 4; round++) {
		lfq__hist_init(&h);
		sum = max = 0;
		for (size_t i = 0; i < n; i++) {
			const uint64_t r = lfq__splitmix64(&rng);

			switch (round) {
			case 0: /* log-uniform over 0 .. 2^40 ns */
				v[i] = (r >> 24) >> (r % 41);
				break;
			case 1: /* small values, where buckets are exact */
				v[i] = r % 200;
				break;
			case 2: /* a narrow cluster, plus outliers */
				v[i] = i % 1000 == 0 ? r % 1000000000 : 50000 + r % 2000;
				break;
			default: /* uniform */
				v[i] = r % 10000000;
			}
			lfq__hist_record(&h, v[i]);
			sum += v[i];
			max = v[i] > max ? v[i] : max;
		}
		memset(&s, 0, sizeof(s));
		lfq__hist_merge(&s, &h);
		qsort(v, n, sizeof(*v), cmp_u64);
		cr_assert_eq(s.count, n);
		cr_assert_eq(s.sum, sum);
		cr_assert_eq(s.max, max);
		check_quantile(&s, v, n, 50, 100);
		check_quantile(&s, v, n, 90, 100);
		check_quantile(&s, v, n, 99, 100);
		check_quantile(&s, v, n, 999, 1000);
		check_quantile(&s, v, n, 1, 1);
		for (unsigned k = 1; k < 40; k++) {
			/* Counts at powers of two (the Prometheus buckets) are exact. */
			size_t le = 0;

			while (le < n && v[le] <= ((uint64_t)1 << k))
				le++;
			cr_assert_eq(lfq__hist_count_le(&s, (uint64_t)1 << k), le, "le 2^%u", k);
		}
	}
	free(v);
}

Test(pool_metrics, bucket_bounds_nest_and_stay_within_a_sixty_fourth)
{
	uint64_t prev = 0;

	for (unsigned i = 1; i < LFQ_HIST_BUCKETS - 1; i++) {
		const uint64_t hi = lfq__hist_upper(i);

		cr_assert_gt(hi, prev);
		cr_assert_eq(lfq__hist_index(hi), i, "bucket %u's upper bound is in it", i);
		cr_assert_eq(lfq__hist_index(prev + 1), i, "bucket %u starts after %llu", i,
			     (unsigned long long)prev);
		cr_assert_leq((hi - prev - 1) * 64, prev + 1, "bucket %u too wide", i);
		prev = hi;
	}
}

/* ---- the pool's histograms under a fake clock ---- */

static _Atomic int64_t fake_now = 1000000000;

static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return atomic_load(&fake_now);
}

/* Runs for arg ns of fake time. */
static int timed_job(void *arg)
{
	atomic_fetch_add(&fake_now, (int64_t)(uintptr_t)arg);
	return 0;
}

Test(pool_metrics, run_and_queue_wait_latencies_under_a_fake_clock)
{
	struct lfq_pool_config cfg = {.workers = 1,
				      .queue_capacity = 256,
				      .clock = fake_clock,
				      .flags = LFQ_POOL_METRICS};
	struct lfq_pool *pool = NULL;
	struct lfq_pool_metrics m;

	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	uint64_t sum = 0;

	for (uintptr_t i = 1; i <= 200; i++) {
		cr_assert_eq(lfq_pool_submit_wait(
				     pool,
				     &(struct lfq_job){.fn = timed_job, .arg = (void *)(i * 1000)},
				     -1),
			     0);
		sum += i * 1000;
		cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0); /* one at a time: no queue wait */
	}
	cr_assert_eq(lfq_pool_metrics(pool, &m), 0);
	cr_assert_eq(m.run.count, 200);
	cr_assert_eq(m.run.sum, sum);
	cr_assert_eq(m.run.max, 200000);
	cr_assert(m.run.p50 >= 100000 && (m.run.p50 - 100000) * 64 <= 100000, "p50 %llu",
		  (unsigned long long)m.run.p50);
	cr_assert(m.run.p99 >= 198000 && (m.run.p99 - 198000) * 64 <= 198000);
	cr_assert_eq(m.queue_wait.count, 200);
	cr_assert_eq(m.queue_wait.max, 0, "the fake clock did not move while jobs waited");
	lfq_pool_destroy(pool);

	/* Without LFQ_POOL_METRICS: nothing recorded. */
	cfg.flags = 0;
	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = timed_job, .arg = (void *)5}),
		     0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);
	cr_assert_eq(lfq_pool_metrics(pool, &m), 0);
	cr_assert_eq(m.run.count + m.queue_wait.count, 0);
	cr_assert_eq(lfq_pool_metrics(NULL, &m), -EINVAL);
	cr_assert_eq(lfq_pool_metrics(pool, NULL), -EINVAL);
	lfq_pool_destroy(pool);
}

/* ---- Prometheus text ---- */

static int fail_job(void *arg)
{
	(void)arg;
	return LFQ_JOB_FAIL;
}

/* Value of a sample line "name{labels} value" whose name and labels start with `prefix`. */
static int has_sample(const char *text, const char *prefix)
{
	for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++)
		if (p == text || p[-1] == '\n')
			return 1;
	return 0;
}

/* Own checks of the exposition format: every line is a HELP/TYPE comment or a sample
 * `name{k="v",...} value` of a declared family; counters end in _total; histogram buckets
 * are cumulative and end with +Inf equal to _count. */
static void check_exposition(const char *text)
{
	char family[128] = "", type[16] = "";
	unsigned long long last_bucket = 0;
	int in_buckets = 0;
	const char *line = text;

	cr_assert_gt(strlen(text), 0);
	cr_assert_eq(text[strlen(text) - 1], '\n', "ends with a newline");
	while (*line) {
		const char *end = strchr(line, '\n');
		char buf[512];
		const size_t len = (size_t)(end - line);

		cr_assert_not_null(end);
		cr_assert_lt(len, sizeof(buf));
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = end + 1;
		if (strncmp(buf, "# HELP ", 7) == 0)
			continue;
		if (strncmp(buf, "# TYPE ", 7) == 0) {
			cr_assert_eq(sscanf(buf + 7, "%127s %15s", family, type), 2, "%s", buf);
			cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
					  strcmp(type, "histogram") == 0,
				  "%s", buf);
			if (strcmp(type, "counter") == 0)
				cr_assert_eq(strcmp(family + strlen(family) - 6, "_total"), 0, "%s",
					     buf);
			in_buckets = 0;
			last_bucket = 0;
			continue;
		}
		cr_assert_neq(buf[0], '#', "unknown comment %s", buf);
		/* name */
		size_t n = strspn(buf, "abcdefghijklmnopqrstuvwxyz_0123456789");

		cr_assert_gt(n, 0, "%s", buf);
		cr_assert_eq(strncmp(buf, family, strlen(family)), 0, "%s not of family %s", buf,
			     family);
		cr_assert_eq(buf[n], '{', "%s", buf);
		const char *close = strchr(buf + n, '}');

		cr_assert_not_null(close, "%s", buf);
		cr_assert_eq(close[1], ' ', "%s", buf);
		char *vend;
		const double value = strtod(close + 2, &vend);

		cr_assert_eq(*vend, '\0', "bad value in %s", buf);
		cr_assert_geq(value, 0);
		if (strcmp(type, "histogram") == 0) {
			const char *suffix = buf + strlen(family);

			if (strncmp(suffix, "_bucket{", 8) == 0) {
				cr_assert_not_null(strstr(buf, "le=\""), "%s", buf);
				cr_assert_geq((unsigned long long)value, last_bucket,
					      "buckets not cumulative: %s", buf);
				last_bucket = (unsigned long long)value;
				in_buckets = strstr(buf, "le=\"+Inf\"") ? 2 : 1;
			} else if (strncmp(suffix, "_count{", 7) == 0) {
				cr_assert_eq(in_buckets, 2, "+Inf bucket missing before %s", buf);
				cr_assert_eq((unsigned long long)value, last_bucket, "%s", buf);
			} else {
				cr_assert_eq(strncmp(suffix, "_sum{", 5), 0, "%s", buf);
			}
		} else {
			cr_assert_eq(buf[strlen(family)], '{', "%s", buf);
		}
	}
}

Test(pool_metrics, prometheus_output_is_valid_exposition_format)
{
	struct lfq_pool_config cfg = {.workers = 2,
				      .queue_capacity = 64,
				      .priorities = 3,
				      .name = "pro\"m",
				      .flags = LFQ_POOL_METRICS};
	struct lfq_pool *pool = NULL;

	cr_assert_eq(lfq_pool_create(&pool, &cfg), 0);
	for (unsigned i = 0; i < 50; i++)
		cr_assert_eq(lfq_pool_submit(pool, &(struct lfq_job){.fn = fail_job,
								     .priority = (uint8_t)(i % 3)}),
			     0);
	cr_assert_eq(lfq_pool_wait_idle(pool, -1), 0);

	const int64_t need = lfq_pool_metrics_prometheus(pool, NULL, 0);

	cr_assert_gt(need, 0);
	char *text = malloc((size_t)need + 1);

	cr_assert_not_null(text);
	/* Too small: truncated, NUL-terminated, same length reported. */
	cr_assert_eq(lfq_pool_metrics_prometheus(pool, text, 10), need);
	cr_assert_eq(strlen(text), 9);
	cr_assert_eq(lfq_pool_metrics_prometheus(pool, text, (size_t)need + 1), need);
	cr_assert_eq(strlen(text), (size_t)need);
	cr_assert_eq(lfq_pool_metrics_prometheus(NULL, text, 1), -EINVAL);
	cr_assert_eq(lfq_pool_metrics_prometheus(pool, NULL, 1), -EINVAL);

	check_exposition(text);
	cr_assert(has_sample(text, "lfq_pool_jobs_submitted_total{pool=\"pro\\\"m\"} 50\n"));
	cr_assert(has_sample(text, "lfq_pool_jobs_failed_total{pool=\"pro\\\"m\"} 50\n"));
	cr_assert(has_sample(text, "lfq_pool_jobs_dead_total{pool=\"pro\\\"m\"} 50\n"));
	cr_assert(has_sample(text, "lfq_pool_jobs_queued{pool=\"pro\\\"m\",priority=\"2\"} 0\n"));
	cr_assert(has_sample(text,
			     "lfq_pool_run_seconds_bucket{pool=\"pro\\\"m\",le=\"+Inf\"} 50\n"));
	cr_assert(has_sample(text, "lfq_pool_queue_wait_seconds_count{pool=\"pro\\\"m\"} 50\n"));
	cr_assert(has_sample(text,
			     "lfq_pool_run_seconds_bucket{pool=\"pro\\\"m\",le=\"0.000000128\"}"));

	/* promtool, when installed (Debian: prometheus), must accept it too. */
	const char *promtool = "/usr/bin/promtool";

	if (access(promtool, X_OK) == 0) {
		char path[] = "/tmp/lfq-prom-XXXXXX";
		const int fd = mkstemp(path);

		cr_assert_geq(fd, 0);
		cr_assert_eq(write(fd, text, (size_t)need), need);
		close(fd);
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "%s check metrics < %s", promtool, path);
		const int rc = system(cmd);

		unlink(path);
		cr_assert_eq(rc, 0, "promtool check metrics rejected the output:\n%s", text);
		fprintf(stderr, "promtool check metrics: accepted\n");
	} else {
		fprintf(stderr, "promtool not installed: checked the format without it\n");
	}
	free(text);
	lfq_pool_destroy(pool);
}
