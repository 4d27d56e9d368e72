/* SPDX-License-Identifier: MIT */
/* metrics_http: see metrics_http.h. */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct metrics_http {
	struct lfq_pool *pool;
	int listen_fd;
	int stop_fd; /* an eventfd: readable once metrics_http_stop was called */
	unsigned short port;
	pthread_t thread;
};

/* Sends all of buf; MSG_NOSIGNAL: a client that went away must not raise SIGPIPE. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		const ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The metrics text in a malloc'd buffer (*len without the NUL), or NULL. */
static char *render(struct lfq_pool *pool, size_t *len)
{
	int64_t need = lfq_pool_metrics_prometheus(pool, NULL, 0);

	for (;;) {
		if (need < 0)
			return NULL;
		char *buf = malloc((size_t)need + 1);

		if (!buf)
			return NULL;
		const int64_t got = lfq_pool_metrics_prometheus(pool, buf, (size_t)need + 1);

		if (got >= 0 && got <= need) {
			*len = (size_t)got;
			return buf;
		}
		free(buf); /* the counters grew between the two calls: size it again */
		need = got;
	}
}

static void answer(struct metrics_http *m, int fd)
{
	/* Read the request head (its content does not matter: every path gets the metrics). */
	char req[2048];
	size_t have = 0;

	while (have < sizeof(req) - 1) {
		const ssize_t n = recv(fd, req + have, sizeof(req) - 1 - have, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		req[have] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	size_t len = 0;
	char *body = render(m->pool, &len);
	char head[160];

	if (!body) {
		static const char err[] = "HTTP/1.1 500 Internal Server Error\r\n"
					  "Content-Length: 0\r\nConnection: close\r\n\r\n";

		(void)send_all(fd, err, sizeof(err) - 1);
		return;
	}
	const int hl = snprintf(head, sizeof(head),
				"HTTP/1.1 200 OK\r\n"
				"Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
				"Content-Length: %zu\r\nConnection: close\r\n\r\n",
				len);

	if (send_all(fd, head, (size_t)hl) == 0)
		(void)send_all(fd, body, len);
	free(body);
}

static void *serve(void *arg)
{
	struct metrics_http *m = arg;

	for (;;) {
		struct pollfd p[2] = {{.fd = m->listen_fd, .events = POLLIN},
				      {.fd = m->stop_fd, .events = POLLIN}};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		const int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			continue;
		/* A client that sends nothing must not hold the server for long. */
		const struct timeval tv = {.tv_sec = 2};

		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		answer(m, fd);
		close(fd);
	}
	return NULL;
}

int metrics_http_start(struct metrics_http **out, struct lfq_pool *pool, unsigned short port)
{
	struct metrics_http *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->pool = pool;
	m->stop_fd = eventfd(0, EFD_CLOEXEC);
	m->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (m->stop_fd < 0 || m->listen_fd < 0)
		err = -errno;
	const int one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	socklen_t salen = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!err)
		(void)setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!err && (bind(m->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		     listen(m->listen_fd, 16) != 0 ||
		     getsockname(m->listen_fd, (struct sockaddr *)&sa, &salen) != 0))
		err = -errno;
	if (!err) {
		m->port = ntohs(sa.sin_port);
		/* The thread starts with every signal blocked, whatever the caller's mask. */
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		err = -pthread_create(&m->thread, NULL, serve, m);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (err) {
		if (m->listen_fd >= 0)
			close(m->listen_fd);
		if (m->stop_fd >= 0)
			close(m->stop_fd);
		free(m);
		return err;
	}
	*out = m;
	return 0;
}

unsigned short metrics_http_port(const struct metrics_http *m)
{
	return m->port;
}

void metrics_http_stop(struct metrics_http *m)
{
	if (!m)
		return;
	const uint64_t one = 1;

	if (write(m->stop_fd, &one, sizeof(one)) != sizeof(one))
		perror("metrics_http: eventfd write");
	pthread_join(m->thread, NULL);
	close(m->listen_fd);
	close(m->stop_fd);
	free(m);
}
