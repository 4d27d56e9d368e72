/* SPDX-License-Identifier: MIT */
/*
 * redis_jobs: a job queue in a Redis stream, shared by several consumer processes
 * (liblfq_redis, docs/scale-out.md).
 *
 *     redis_jobs [-p port] produce N     adds jobs 1 .. N to the stream "jobs"
 *     redis_jobs [-p port] consume NAME  runs them on a local pool of 4 workers, as
 *                                        consumer NAME of the group "workers", until
 *                                        SIGINT or SIGTERM
 *
 * Start several consumers (each with its own NAME, on any machine that reaches the server),
 * then a producer. Each entry has a field "n"; job n "works" for 1 ms and succeeds, except
 * that every n ending in 3 fails for good and is dead-lettered: XADDed, with the reason, to
 * the stream "jobs-dead". A consumer prints one line per job it ran:
 *
 *     done n=42 worker=1
 *
 * and one when it stops:
 *
 *     stopped consumer=a read=60 acked=60 dead_letters=6 reclaimed=0
 *
 * SIGINT or SIGTERM stops a consumer gracefully: the handler calls lfq_redis_source_stop
 * (async-signal-safe, the idiom docs/using.md recommends), the source stops reading, waits
 * for the jobs it already submitted (its in-flight window: up to max_inflight entries, so the
 * stop takes as long as they run) and acknowledges them; then the pool shuts down. Entries
 * not read stay in the stream for the other consumers. If a consumer is killed instead, the
 * entries it held are reclaimed by another one after min_idle_ms (here 2 s): delivery is at
 * least once, so a job may run twice, and jobs must be idempotent.
 *
 * Build: part of the meson build (tests/meson.build, when liblfq_redis is built), or
 *     cc -std=c11 -D_GNU_SOURCE redis_jobs.c $(pkg-config --cflags --libs lfq_redis)
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lfq/error.h>
#include <lfq/pool.h>
#include <lfq/redis.h>

static struct lfq_redis_source *source; /* for the signal handler */

static void on_stop_signal(int sig)
{
	(void)sig;
	lfq_redis_source_stop(source); /* async-signal-safe */
}

static int job(void *arg)
{
	const long n = (long)(intptr_t)arg;

	nanosleep(&(struct timespec){.tv_nsec = LFQ_MS(1)}, NULL);
	if (n % 10 == 3)
		return LFQ_JOB_FAIL; /* dead-lettered by liblfq_redis, then acknowledged */
	printf("done n=%ld worker=%d\n", n, lfq_job_worker_index());
	return 0;
}

/* An entry becomes a job: the field "n", as a C string (fields are not NUL-terminated). */
static int decode(const char *id, const struct lfq_redis_field *fields, size_t nfields,
		  struct lfq_job *out, const char **reason, void *ctx)
{
	(void)id, (void)ctx;
	char value[24], *end;

	if (lfq_redis_field_get(fields, nfields, "n", value, sizeof(value)) != 0) {
		*reason = "no field n, or too long";
		return -1; /* malformed: dead-lettered without running */
	}
	const long n = strtol(value, &end, 10);

	if (*value == '\0' || *end != '\0' || n < 1) {
		*reason = "n is not a positive number";
		return -1;
	}
	out->fn = job;
	out->arg = (void *)(intptr_t)n;
	return 0;
}

/* The pool's dead letters go back to liblfq_redis, which dead-letters the entry. */
static void on_dead(const struct lfq_job *j, int reason, unsigned attempts, int result, void *ctx)
{
	(void)ctx;
	lfq_redis_on_dead(j, reason, attempts, result);
}

/* liblfq_redis's events (connection lost, reconnected, entry reclaimed, ...) on stderr. */
static void on_log(int level, const char *msg, const struct lfq_log_field *f, size_t n, void *ctx)
{
	(void)level, (void)ctx;
	flockfile(stderr);
	fprintf(stderr, "redis_jobs: %s", msg);
	for (size_t i = 0; i < n; i++) {
		if (f[i].str)
			fprintf(stderr, " %s=%s", f[i].key, f[i].str);
		else
			fprintf(stderr, " %s=%lld", f[i].key, (long long)f[i].num);
	}
	fputc('\n', stderr);
	funlockfile(stderr);
}

static int produce(unsigned port, long jobs)
{
	struct lfq_redis_producer *p;
	int rc = lfq_redis_producer_create(&p, NULL, port, 0);

	if (rc != 0) {
		fprintf(stderr, "redis_jobs: connect: %s\n", lfq_strerror(rc));
		return 1;
	}
	for (long n = 1; n <= jobs && rc == 0; n++) {
		char value[24], job_id[32];

		snprintf(value, sizeof(value), "%ld", n);
		snprintf(job_id, sizeof(job_id), "job-%ld", n); /* for deduplication */
		const struct lfq_redis_field f = {"n", 1, value, strlen(value)};

		rc = lfq_redis_produce_job(p, "jobs", job_id, &f, 1, 0, NULL, 0);
	}
	lfq_redis_producer_destroy(p);
	if (rc != 0) {
		fprintf(stderr, "redis_jobs: XADD: %s\n", lfq_strerror(rc));
		return 1;
	}
	printf("produced %ld jobs\n", jobs);
	return 0;
}

static int consume(unsigned port, const char *name)
{
	const struct lfq_pool_config pc = {.workers = 4, .on_dead = on_dead, .max_attempts = 1};
	struct lfq_pool *pool;
	int rc = lfq_pool_create(&pool, &pc);

	if (rc != 0) {
		fprintf(stderr, "redis_jobs: lfq_pool_create: %s\n", lfq_strerror(rc));
		return 1;
	}
	const struct lfq_redis_source_config sc = {.port = port,
						   .stream = "jobs",
						   .group = "workers",
						   .consumer = name,
						   .dead_letter_stream = "jobs-dead",
						   .min_idle_ms = 2000,
						   .pool = pool,
						   .decode = decode,
						   .log = on_log};

	rc = lfq_redis_source_create(&source, &sc);
	if (rc != 0) {
		fprintf(stderr, "redis_jobs: lfq_redis_source_create: %s\n", lfq_strerror(rc));
		lfq_pool_destroy(pool);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_stop_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a lost connection must not kill the process */

	rc = lfq_redis_source_run(source); /* until a signal stops it; drains what it took */
	signal(SIGINT, SIG_DFL);	   /* no handler may use the source once it is freed */
	signal(SIGTERM, SIG_DFL);
	const int down = lfq_pool_shutdown(pool, LFQ_FOREVER);
	struct lfq_redis_source_stats st;

	if (lfq_redis_source_stats(source, &st) == 0)
		printf("stopped consumer=%s read=%llu acked=%llu dead_letters=%llu "
		       "reclaimed=%llu\n",
		       name, (unsigned long long)st.read, (unsigned long long)st.acked,
		       (unsigned long long)st.dead_letters, (unsigned long long)st.claimed);
	if (rc != 0)
		fprintf(stderr, "redis_jobs: source: %s\n", lfq_strerror(rc));
	lfq_redis_source_destroy(source);
	lfq_pool_destroy(pool);
	return rc == 0 && down == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	unsigned port = 6379;
	int i = 1;

	if (argc > 2 && strcmp(argv[1], "-p") == 0) {
		port = (unsigned)strtoul(argv[2], NULL, 10);
		i = 3;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == i + 2 && strcmp(argv[i], "produce") == 0)
		return produce(port, atol(argv[i + 1]));
	if (argc == i + 2 && strcmp(argv[i], "consume") == 0)
		return consume(port, argv[i + 1]);
	fprintf(stderr, "usage: redis_jobs [-p port] produce N | consume NAME\n");
	return 2;
}
