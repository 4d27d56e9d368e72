/* SPDX-License-Identifier: MIT */
/* docs/examples/metrics_http: a scrape is answered while slow and idle clients are connected
 * (before, one client at a time with a 2 s receive timeout each: ten idle connections delayed
 * a scrape by 20 s, a slow one by 29 s). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <lfq/pool.h>

#include "../docs/examples/metrics_http.h"
#include "test_time.h"

static int dial(unsigned short port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	const int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* One scrape with a 3 s receive timeout (a generous deadline: an idle server answers in
 * well under a millisecond): the answer's bytes, or what came before the timeout. */
static size_t scrape(unsigned short port, char *buf, size_t size)
{
	const int fd = dial(port);
	const struct timeval tv = {.tv_sec = 3};
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t have = 0;
	ssize_t n;

	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	cr_assert_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	while (have < size - 1 && (n = recv(fd, buf + have, size - 1 - have, 0)) > 0)
		have += (size_t)n;
	buf[have] = '\0';
	close(fd);
	return have;
}

Test(metrics_http, scrapes_are_answered_while_slow_and_idle_clients_wait, .timeout = 60)
{
	struct lfq_pool *pool;
	struct metrics_http *m;
	int idle[10], slow;
	char buf[65536];

	cr_assert_eq(lfq_pool_create(&pool, &(struct lfq_pool_config){.workers = 1}), 0);
	cr_assert_eq(metrics_http_start(&m, pool, 0), 0);
	const unsigned short port = metrics_http_port(m);

	for (int i = 0; i < 10; i++)
		idle[i] = dial(port); /* connect, send nothing */
	slow = dial(port);
	cr_assert_eq(send(slow, "GET / HT", 8, MSG_NOSIGNAL), 8); /* half a request line */
	sleep_ms(50);
	for (int round = 0; round < 3; round++) {
		const size_t n = scrape(port, buf, sizeof(buf));

		cr_assert(n > 0 && strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0,
			  "scrape %d got no answer while other clients waited (%zu bytes)", round,
			  n);
		cr_assert(strstr(buf, "lfq_pool_") != NULL, "the answer has no pool metrics");
	}
	for (int i = 0; i < 10; i++)
		close(idle[i]);
	close(slow);
	metrics_http_stop(m);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	lfq_pool_destroy(pool);
}
