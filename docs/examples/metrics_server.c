/* SPDX-License-Identifier: MIT */
/*
 * metrics_server: a pool whose Prometheus metrics are served over HTTP on 127.0.0.1.
 *
 * It runs -n jobs (every -f-th fails permanently, 0: none) on -w workers, waits until they
 * finished, then serves lfq_pool_metrics_prometheus at http://127.0.0.1:PORT/metrics (-p;
 * 0, the default, lets the kernel pick a free port) until SIGINT or SIGTERM. Its one line of
 * output says where:
 *
 *     listening port=39513 jobs=100
 *
 * A Prometheus scrape configuration for it:
 *
 *     scrape_configs:
 *       - job_name: lfq
 *         scrape_interval: 1s
 *         static_configs: [{targets: ['127.0.0.1:39513']}]
 *
 * The server (metrics_http.c) is a plain socket loop on a thread of its own; the library
 * needs nothing for it. Build: part of the meson build (tests/meson.build), or
 *     cc -std=c11 -D_GNU_SOURCE metrics_server.c metrics_http.c $(pkg-config --cflags --libs lfq)
 *
 * Signals, the idiom docs/using.md recommends: a handler asks the pool to stop
 * (lfq_pool_request_stop, async-signal-safe). Main has nothing else to do, so it waits for
 * that in sigsuspend, with SIGINT and SIGTERM blocked outside it (no signal is missed
 * between its check and its wait).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lfq/error.h>
#include <lfq/pool.h>

#include "metrics_http.h"

static long fail_every;

static int work(void *arg)
{
	const long id = (long)(intptr_t)arg;

	return fail_every > 0 && id % fail_every == 0 ? LFQ_JOB_FAIL : 0;
}

static long number(const char *s)
{
	char *end;
	const long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr,
			"usage: metrics_server [-w workers] [-n jobs] [-f fail_every] [-p port]\n");
		exit(2);
	}
	return v;
}

static struct lfq_pool *pool; /* for the signal handler */

static void on_stop_signal(int sig)
{
	(void)sig;
	lfq_pool_request_stop(pool); /* async-signal-safe */
}

int main(int argc, char **argv)
{
	long workers = 2, jobs = 100, port = 0;
	int opt;

	while ((opt = getopt(argc, argv, "w:n:f:p:")) != -1) {
		if (opt == 'w')
			workers = number(optarg);
		else if (opt == 'n')
			jobs = number(optarg);
		else if (opt == 'f')
			fail_every = number(optarg);
		else if (opt == 'p')
			port = number(optarg);
		else
			number("");
	}
	if (workers < 1 || port > 65535)
		number("");
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* SIGINT and SIGTERM blocked (outside sigsuspend below) before any thread starts; the
	 * pool's workers and the HTTP thread block every signal anyway. */
	sigset_t stop, unblocked;

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, &unblocked);

	struct lfq_pool_config cfg = {
		.workers = (unsigned)workers,
		.flags = LFQ_POOL_METRICS | LFQ_POOL_NO_PIN,
		.name = "demo",
	};
	int rc = lfq_pool_create(&pool, &cfg);

	if (rc != 0) {
		fprintf(stderr, "metrics_server: lfq_pool_create: %s\n", lfq_strerror(rc));
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_stop_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (long id = 1; id <= jobs; id++) {
		const struct lfq_job job = {.fn = work, .arg = (void *)(intptr_t)id};

		rc = lfq_pool_submit_wait(pool, &job, -1);
		if (rc != 0) {
			fprintf(stderr, "metrics_server: submit: %s\n", lfq_strerror(rc));
			return 1;
		}
	}
	rc = lfq_pool_wait_idle(pool, -1);
	struct metrics_http *http = NULL;

	if (rc == 0)
		rc = metrics_http_start(&http, pool, (unsigned short)port);
	if (rc != 0) {
		fprintf(stderr, "metrics_server: %s\n", lfq_strerror(rc));
		return 1;
	}
	printf("listening port=%u jobs=%ld\n", metrics_http_port(http), jobs);

	while (!lfq_pool_stop_requested(pool))
		sigsuspend(&unblocked); /* returns after the handler ran */
	metrics_http_stop(http);
	rc = lfq_pool_shutdown(pool, LFQ_FOREVER);
	signal(SIGINT, SIG_DFL); /* no handler may use the pool once it is destroyed */
	signal(SIGTERM, SIG_DFL);
	lfq_pool_destroy(pool);
	return rc == 0 ? 0 : 1;
}
