/* SPDX-License-Identifier: MIT */
/*
 * metrics_http: serves a pool's lfq_pool_metrics_prometheus text over HTTP on 127.0.0.1, from
 * a thread of its own, for the examples (metrics_server.c, tutorial.c). Plain sockets and
 * poll: no library beyond libc. Every request, whatever its path, gets the metrics; each
 * connection is closed after its answer (Prometheus opens a new one per scrape). Up to 64
 * clients are served at once, each given 5 s to send its request and read the answer, so a
 * slow or idle client delays no scrape.
 */
#ifndef LFQ_EXAMPLE_METRICS_HTTP_H
#define LFQ_EXAMPLE_METRICS_HTTP_H

#include <lfq/pool.h>

struct metrics_http;

/* Listens on 127.0.0.1:port (0: a free port the kernel picks) and starts serving. Returns 0
 * or a negative errno. The thread blocks every signal: signals stay the main thread's. */
int metrics_http_start(struct metrics_http **out, struct lfq_pool *pool, unsigned short port);

/* The port it listens on. */
unsigned short metrics_http_port(const struct metrics_http *m);

/* Stops the thread, closes the socket, frees. NULL is ignored. */
void metrics_http_stop(struct metrics_http *m);

#endif
