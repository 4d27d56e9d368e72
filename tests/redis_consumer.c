/* SPDX-License-Identifier: MIT */
/*
 * A consumer process for tests/test_redis.c: runs a pool fed by a Redis stream source and
 * appends the index of every job it runs ("n\n") to a log file shared by all consumers
 * (O_APPEND: each line is one atomic write). SIGTERM stops it gracefully; the test may also
 * SIGKILL it mid-batch. An entry with a field "crash" is a poison entry: its job logs "cn\n"
 * and then kills its own process with SIGKILL, as a job that crashes its consumer would.
 *
 * usage: redis_consumer PORT CONSUMER LOGFILE MIN_IDLE_MS MAX_INFLIGHT [MAX_DELIVERIES]
 * Exit status: 0 if lfq_redis_source_run returned 0 (after SIGTERM), 1 otherwise.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lfq/pool.h>
#include <lfq/redis.h>

#define CRASH_FLAG ((uintptr_t)1 << 40)

static struct lfq_redis_source *src;
static int log_fd;

static void on_term(int sig)
{
	(void)sig;
	lfq_redis_source_stop(src);
}

static int job(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	char line[24];
	int len = snprintf(line, sizeof(line), "%s%lu\n", v & CRASH_FLAG ? "c" : "",
			   (unsigned long)(v & ~CRASH_FLAG) - 1);
	struct timespec ts = {.tv_nsec = 2000000};

	nanosleep(&ts, NULL);
	if (write(log_fd, line, (size_t)len) != len)
		return LFQ_JOB_FAIL;
	if (v & CRASH_FLAG)
		kill(getpid(), SIGKILL);
	return 0;
}

static bool has_field(const struct lfq_redis_field *f, size_t nf, const char *key)
{
	for (size_t i = 0; i < nf; i++)
		if (f[i].key_len == strlen(key) && memcmp(f[i].key, key, f[i].key_len) == 0)
			return true;
	return false;
}

static int decode(const char *id, const struct lfq_redis_field *f, size_t nf, struct lfq_job *j,
		  const char **reason, void *ctx)
{
	char buf[24];

	(void)id;
	(void)ctx;
	for (size_t i = 0; i < nf; i++) {
		if (f[i].key_len != 1 || f[i].key[0] != 'n')
			continue;
		if (f[i].value_len == 0 || f[i].value_len >= sizeof(buf))
			break;
		memcpy(buf, f[i].value, f[i].value_len);
		buf[f[i].value_len] = '\0';
		j->fn = job;
		j->arg = (void *)((uintptr_t)(strtoul(buf, NULL, 10) + 1) |
				  (has_field(f, nf, "crash") ? CRASH_FLAG : 0));
		return 0;
	}
	*reason = "no n field";
	return -1;
}

static void on_dead(const struct lfq_job *j, int reason, unsigned attempts, int last, void *ctx)
{
	(void)ctx;
	(void)lfq_redis_on_dead(j, reason, attempts, last);
}

int main(int argc, char **argv)
{
	struct lfq_pool_config pc = {
		.workers = 2, .queue_capacity = 8, .flags = LFQ_POOL_NO_PIN, .on_dead = on_dead};
	struct lfq_pool *pool;
	struct sigaction sa;
	int rc;

	if (argc != 6 && argc != 7)
		return 2;
	log_fd = open(argv[3], O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (log_fd < 0 || lfq_pool_create(&pool, &pc) != 0)
		return 1;
	struct lfq_redis_source_config cfg = {.port = (unsigned)atoi(argv[1]),
					      .stream = "jobs",
					      .group = "workers",
					      .consumer = argv[2],
					      .dead_letter_stream = "jobs-dead",
					      .batch = 16,
					      .block_ms = 100,
					      .min_idle_ms = (unsigned)atoi(argv[4]),
					      .max_inflight = (unsigned)atoi(argv[5]),
					      .max_deliveries =
						      argc == 7 ? (unsigned)atoi(argv[6]) : 0,
					      .reconnect_max_ms = 200,
					      .pool = pool,
					      .decode = decode};
	if (lfq_redis_source_create(&src, &cfg) != 0)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* test_redis.c spawns it with SIGTERM blocked, so that a SIGTERM sent before this point
	 * waits for the handler; one that came meanwhile is handled now (the stop request stays
	 * set, and run returns promptly). */
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &term, NULL);
	rc = lfq_redis_source_run(src);
	if (lfq_pool_shutdown(pool, -1) != 0)
		rc = 1;
	lfq_redis_source_destroy(src);
	lfq_pool_destroy(pool);
	close(log_fd);
	return rc == 0 ? 0 : 1;
}
