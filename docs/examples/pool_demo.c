/* SPDX-License-Identifier: MIT */
/*
 * pool_demo: the dispatcher/worker/job demo on lfq_pool.
 *
 * A producer submits -n jobs, one every -i milliseconds, to a pool of -w workers with a queue
 * of -q; each job "works" for -d milliseconds. SIGINT or SIGTERM starts a graceful shutdown:
 * the producer stops, the pool refuses new jobs and finishes every job it accepted. With -t,
 * the drain is limited to that many milliseconds and the jobs not started by then are handed
 * back (and logged as cancelled). Every event is one logfmt line on stdout:
 *
 *     level=info msg="job accepted" job=7
 *     level=info msg="job start" job=7 worker=2
 *     level=info msg="job done" job=7 worker=2
 *     level=info msg="stopped" accepted=20 done=20 cancelled=0 failed=0
 *
 * The pool's own events (started, dead jobs, retries, shutdown) come through its log hook and
 * are printed the same way, e.g. `level=info msg="pool started" pool=lfq-w workers=4 ...`;
 * -v adds the debug level.
 *
 * Defaults are the tutorial's: 4 workers, a queue of 10, 20 jobs at 500 ms intervals, each
 * working for 1 s. Build: part of the meson build (tests/meson.build), or
 *     cc -std=c11 -D_GNU_SOURCE pool_demo.c $(pkg-config --cflags --libs lfq)
 *
 * Signals, the idiom docs/using.md recommends: a handler asks the pool to stop
 * (lfq_pool_request_stop, async-signal-safe); the producer sees it (its sleep is cut short,
 * its next submit_wait returns -ESHUTDOWN) and shuts the pool down.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lfq/error.h>
#include <lfq/pool.h>

static struct lfq_pool *pool; /* for the signal handler */
static long work_ms = 1000;
static volatile sig_atomic_t stop_signal; /* the signal that asked to stop, 0 while none did */

/* Logging: one fprintf per line, so lines from different threads never interleave. */
#define LOG(level, ...)                                                                            \
	do {                                                                                       \
		flockfile(stdout);                                                                 \
		printf("level=" level " " __VA_ARGS__);                                            \
		putchar('\n');                                                                     \
		funlockfile(stdout);                                                               \
	} while (0)

/* Sleeps ms milliseconds, or less if a stop was requested meanwhile. */
static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop_signal)
		;
}

static void on_stop_signal(int sig)
{
	stop_signal = sig;
	lfq_pool_request_stop(pool); /* async-signal-safe */
}

static int work(void *arg)
{
	const long id = (long)(intptr_t)arg;
	const int worker = lfq_job_worker_index();

	LOG("info", "msg=\"job start\" job=%ld worker=%d", id, worker);
	sleep_ms(work_ms);
	LOG("info", "msg=\"job done\" job=%ld worker=%d", id, worker);
	return 0;
}

static void on_error(const struct lfq_job *job, int result, void *ctx)
{
	(void)ctx;
	LOG("error", "msg=\"job failed\" job=%ld result=%d", (long)(intptr_t)job->arg, result);
}

static const char *const level_names[] = {"", "error", "warn", "info", "debug"};

/* The pool's log hook: one logfmt line per event (strings quoted when they need it). */
static void log_hook(int level, const char *msg, const struct lfq_log_field *fields, size_t n,
		     void *ctx)
{
	(void)ctx;
	flockfile(stdout);
	printf("level=%s msg=\"%s\"", level_names[level], msg);
	for (size_t i = 0; i < n; i++) {
		if (!fields[i].str)
			printf(" %s=%lld", fields[i].key, (long long)fields[i].num);
		else if (strpbrk(fields[i].str, " =\"") || !*fields[i].str)
			printf(" %s=\"%s\"", fields[i].key, fields[i].str);
		else
			printf(" %s=%s", fields[i].key, fields[i].str);
	}
	putchar('\n');
	funlockfile(stdout);
}

static void on_cancelled(const struct lfq_job *job, void *ctx)
{
	(void)ctx;
	LOG("warn", "msg=\"job cancelled\" job=%ld", (long)(intptr_t)job->arg);
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-w workers] [-q queue] [-n jobs] [-i interval_ms] [-d work_ms] "
		"[-t drain_timeout_ms] [-v]\n",
		argv0);
	exit(2);
}

static long number(const char *s, const char *argv0)
{
	char *end;
	const long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0)
		usage(argv0);
	return v;
}

int main(int argc, char **argv)
{
	long workers = 4, queue = 10, jobs = 20, interval_ms = 500, drain_ms = -1;
	unsigned log_level = LFQ_LOG_INFO;
	int opt;

	while ((opt = getopt(argc, argv, "w:q:n:i:d:t:v")) != -1) {
		switch (opt) {
		case 'w':
			workers = number(optarg, argv[0]);
			break;
		case 'q':
			queue = number(optarg, argv[0]);
			break;
		case 'n':
			jobs = number(optarg, argv[0]);
			break;
		case 'i':
			interval_ms = number(optarg, argv[0]);
			break;
		case 'd':
			work_ms = number(optarg, argv[0]);
			break;
		case 't':
			drain_ms = number(optarg, argv[0]);
			break;
		case 'v':
			log_level = LFQ_LOG_DEBUG;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc || workers < 1 || queue < 1)
		usage(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct lfq_pool_config cfg = {
		.workers = (unsigned)workers,
		.queue_capacity = (size_t)queue,
		.on_error = on_error,
		.on_cancelled = on_cancelled,
		.log = log_hook,
		.log_level = log_level,
	};
	int rc = lfq_pool_create(&pool, &cfg);

	if (rc != 0) {
		LOG("error", "msg=\"cannot create the pool\" err=\"%s\"", lfq_strerror(rc));
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_stop_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	LOG("info", "msg=\"started\" workers=%ld queue=%ld jobs=%ld interval_ms=%ld work_ms=%ld",
	    workers, queue, jobs, interval_ms, work_ms);

	long accepted = 0;

	for (long id = 1; id <= jobs; id++) {
		const struct lfq_job job = {.fn = work, .arg = (void *)(intptr_t)id};

		/* A full queue makes the producer wait; a stop request wakes it (-ESHUTDOWN). */
		while ((rc = lfq_pool_submit_wait(pool, &job, LFQ_MS(100))) == -ETIMEDOUT)
			LOG("warn", "msg=\"queue full, waiting\" job=%ld", id);
		if (rc == -ESHUTDOWN)
			break; /* a signal asked to stop */
		if (rc != 0) {
			LOG("error", "msg=\"job rejected\" job=%ld err=\"%s\"", id,
			    lfq_strerror(rc));
			break;
		}
		accepted++;
		LOG("info", "msg=\"job accepted\" job=%ld", id);
		if (id < jobs)
			sleep_ms(interval_ms);
		if (stop_signal)
			break;
	}
	const int sig = stop_signal;

	if (sig)
		LOG("info", "msg=\"shutdown requested\" signal=%s accepted=%ld",
		    sig == SIGINT ? "SIGINT" : "SIGTERM", accepted);
	else
		LOG("info", "msg=\"all jobs submitted, shutting down\" accepted=%ld", accepted);

	rc = lfq_pool_shutdown(pool, drain_ms < 0 ? -1 : drain_ms * 1000000LL);

	struct lfq_pool_stats st;

	if (lfq_pool_stats(pool, &st, NULL, 0) != 0)
		memset(&st, 0, sizeof(st));
	if (rc == 0)
		LOG("info", "msg=\"stopped\" accepted=%ld done=%llu cancelled=%llu failed=%llu",
		    accepted, (unsigned long long)st.succeeded, (unsigned long long)st.cancelled,
		    (unsigned long long)st.failed);
	else
		LOG("warn",
		    "msg=\"stopped\" accepted=%ld done=%llu cancelled=%llu failed=%llu "
		    "err=\"%s\"",
		    accepted, (unsigned long long)st.succeeded, (unsigned long long)st.cancelled,
		    (unsigned long long)st.failed, lfq_strerror(rc));
	signal(SIGINT, SIG_DFL); /* no handler may use the pool once it is destroyed */
	signal(SIGTERM, SIG_DFL);
	lfq_pool_destroy(pool);
	return rc == 0 ? 0 : 1;
}
