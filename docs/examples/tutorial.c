/* SPDX-License-Identifier: MIT */
/*
 * tutorial: the worker-pool tutorial's program on lfq_pool, in C.
 *
 * A producer submits jobs (-n, one every -i ms) to 4 workers (-w) behind a queue of 10 (-q).
 * Each job prints, sleeps -d ms and succeeds, except that every job whose number is a
 * multiple of 7 fails transiently: it asks for a retry (LFQ_JOB_RETRY), the pool runs it
 * again after an exponential backoff with jitter (base -b ms), and after 3 runs it is
 * dead-lettered (on_dead, reason "exhausted"). Metrics are served over HTTP on 127.0.0.1
 * (-p port; 0: a free one, printed at start) for Prometheus.
 *
 * SIGINT or SIGTERM stops it gracefully without losing anything: the producer stops, the pool
 * refuses new jobs and finishes every job it accepted, retries included; the last line gives
 * the books and the throughput:
 *
 *     level=info msg="stopped" accepted=40 succeeded=35 dead=5 elapsed_s=2.1 jobs_per_s=19.0
 *
 * Signals, the idiom docs/using.md recommends: a handler for SIGINT and SIGTERM asks the
 * pool to stop (lfq_pool_request_stop is async-signal-safe: intake closes at once, running
 * jobs can see it); the producer's next submit_wait returns -ESHUTDOWN (one that sleeps on a
 * full queue wakes with it), and it shuts the pool down. The pool's workers block every
 * signal, so the handler runs on one of this program's threads.
 *
 * Jobs learn their worker and attempt from lfq_job_worker_index and lfq_job_attempt: no
 * pool pointer needed (the global is for the signal handler only).
 *
 * Build: part of the meson build (tests/meson.build), or
 *     cc -std=c11 -D_GNU_SOURCE tutorial.c metrics_http.c $(pkg-config --cflags --libs lfq)
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

#include "metrics_http.h"

#define ATTEMPTS 3

static struct lfq_pool *pool; /* for the signal handler */
static long work_ms = 100;
static volatile sig_atomic_t stop_signal; /* the signal that asked to stop, 0 while none did */

#define LOG(level, ...)                                                                            \
	do {                                                                                       \
		flockfile(stdout);                                                                 \
		printf("level=" level " " __VA_ARGS__);                                            \
		putchar('\n');                                                                     \
		funlockfile(stdout);                                                               \
	} while (0)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int work(void *arg)
{
	const long id = (long)(intptr_t)arg;
	const int worker = lfq_job_worker_index();

	LOG("info", "msg=\"job start\" job=%ld worker=%d attempt=%u", id, worker,
	    lfq_job_attempt());
	sleep_ms(work_ms);
	if (id % 7 == 0) {
		LOG("warn", "msg=\"job failed, will retry\" job=%ld worker=%d", id, worker);
		return LFQ_JOB_RETRY;
	}
	LOG("info", "msg=\"job done\" job=%ld worker=%d", id, worker);
	return 0;
}

static void on_dead(const struct lfq_job *job, int reason, unsigned attempts, int last_result,
		    void *ctx)
{
	(void)ctx;
	LOG("warn", "msg=\"job dead\" job=%ld reason=%s attempts=%u last_result=%d",
	    (long)(intptr_t)job->arg, lfq_dead_reason_name(reason), attempts, last_result);
}

/* SIGINT/SIGTERM: ask the pool to stop; the producer's submit_wait returns -ESHUTDOWN. */
static void on_stop_signal(int sig)
{
	stop_signal = sig;
	lfq_pool_request_stop(pool); /* async-signal-safe */
}

static long number(const char *s)
{
	char *end;
	const long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr,
			"usage: tutorial [-w workers] [-q queue] [-n jobs] [-i interval_ms] "
			"[-d work_ms] [-b retry_base_ms] [-p port]\n");
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long workers = 4, queue = 10, jobs = 100, interval_ms = 50, base_ms = 200, port = 0;
	int opt;

	while ((opt = getopt(argc, argv, "w:q:n:i:d:b:p:")) != -1) {
		switch (opt) {
		case 'w':
			workers = number(optarg);
			break;
		case 'q':
			queue = number(optarg);
			break;
		case 'n':
			jobs = number(optarg);
			break;
		case 'i':
			interval_ms = number(optarg);
			break;
		case 'd':
			work_ms = number(optarg);
			break;
		case 'b':
			base_ms = number(optarg);
			break;
		case 'p':
			port = number(optarg);
			break;
		default:
			number("");
		}
	}
	if (optind != argc || workers < 1 || queue < 1 || base_ms < 1 || port > 65535)
		number("");
	setvbuf(stdout, NULL, _IOLBF, 0);

	const struct lfq_pool_config cfg = {
		.workers = (unsigned)workers,
		.queue_capacity = (size_t)queue,
		.flags = LFQ_POOL_METRICS,
		.name = "tutorial",
		.on_dead = on_dead,
		.max_attempts = ATTEMPTS,
		.retry_base_ns = base_ms * 1000000LL,
		.retry_cap_ns = 8 * base_ms * 1000000LL,
	};
	int rc = lfq_pool_create(&pool, &cfg);

	if (rc != 0) {
		LOG("error", "msg=\"cannot create the pool\" err=\"%s\"", lfq_strerror(rc));
		return 1;
	}
	struct metrics_http *http = NULL;

	rc = metrics_http_start(&http, pool, (unsigned short)port);
	if (rc != 0) {
		LOG("error", "msg=\"cannot serve metrics\" err=\"%s\"", lfq_strerror(rc));
		lfq_pool_destroy(pool);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_stop_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	LOG("info", "msg=\"started\" workers=%ld queue=%ld jobs=%ld metrics=http://127.0.0.1:%u/",
	    workers, queue, jobs, metrics_http_port(http));

	const double t0 = now_s();
	long accepted = 0;

	for (long id = 1; id <= jobs; id++) {
		const struct lfq_job job = {.fn = work, .arg = (void *)(intptr_t)id};

		/* A full queue makes the producer wait: back-pressure. */
		rc = lfq_pool_submit_wait(pool, &job, -1);
		if (rc == -ESHUTDOWN)
			break; /* a stop was requested */
		if (rc != 0) {
			LOG("error", "msg=\"job rejected\" job=%ld err=\"%s\"", id,
			    lfq_strerror(rc));
			break;
		}
		accepted++;
		LOG("info", "msg=\"job accepted\" job=%ld", id);
		if (interval_ms > 0 && id < jobs)
			sleep_ms(interval_ms);
	}
	const int sig = stop_signal;

	if (sig)
		LOG("info", "msg=\"shutdown requested\" signal=%s accepted=%ld",
		    sig == SIGINT ? "SIGINT" : "SIGTERM", accepted);
	else
		LOG("info", "msg=\"all jobs submitted, draining\" accepted=%ld", accepted);

	rc = lfq_pool_shutdown(pool, -1); /* every accepted job runs, retries included */
	const double elapsed = now_s() - t0;
	struct lfq_pool_stats st;

	if (lfq_pool_stats(pool, &st, NULL, 0) != 0)
		memset(&st, 0, sizeof(st));
	LOG("info",
	    "msg=\"stopped\" accepted=%ld submitted=%llu succeeded=%llu dead=%llu elapsed_s=%.3f "
	    "jobs_per_s=%.1f rc=\"%s\"",
	    accepted, (unsigned long long)st.submitted, (unsigned long long)st.succeeded,
	    (unsigned long long)st.dead, elapsed,
	    elapsed > 0 ? (double)(st.succeeded + st.dead) / elapsed : 0.0, lfq_strerror(rc));

	metrics_http_stop(http);
	signal(SIGINT, SIG_DFL); /* no handler may use the pool once it is destroyed */
	signal(SIGTERM, SIG_DFL);
	lfq_pool_destroy(pool);
	return rc == 0 ? 0 : 1;
}
