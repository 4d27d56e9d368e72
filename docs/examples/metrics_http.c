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
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

struct metrics_http {
	struct lfq_pool *pool;
	int listen_fd;
	int stop_fd; /* an eventfd: readable once metrics_http_stop was called */
	unsigned short port;
	pthread_t thread;
};

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

/* One client connection: its request head as read so far, then the answer being sent. */
struct client {
	int fd; /* -1: a free entry */
	char req[2048];
	size_t have;
	char *out; /* the answer (head and body), once the request head is in */
	size_t out_len, sent;
	int64_t deadline_ms; /* closed if not done by then */
};

/* At most this many clients at once; more wait in the listen backlog. */
#define MAX_CLIENTS 64
/* A client has this long to send its request and read the answer. */
#define CLIENT_TIMEOUT_MS 5000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The whole HTTP answer for one scrape, in a malloc'd buffer, or NULL. */
static char *answer(struct metrics_http *m, size_t *len)
{
	static const char err[] = "HTTP/1.1 500 Internal Server Error\r\n"
				  "Content-Length: 0\r\nConnection: close\r\n\r\n";
	size_t body_len = 0;
	char *body = render(m->pool, &body_len);
	char head[160];
	char *out;

	if (!body) {
		out = strdup(err);
		*len = out ? sizeof(err) - 1 : 0;
		return out;
	}
	const int hl = snprintf(head, sizeof(head),
				"HTTP/1.1 200 OK\r\n"
				"Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
				"Content-Length: %zu\r\nConnection: close\r\n\r\n",
				body_len);

	out = malloc((size_t)hl + body_len);
	if (out) {
		memcpy(out, head, (size_t)hl);
		memcpy(out + hl, body, body_len);
		*len = (size_t)hl + body_len;
	}
	free(body);
	return out;
}

static void drop(struct client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
}

/* Reads what the client sent; once its request head is complete (its content does not
 * matter: every path gets the metrics), prepares the answer. false: done with it. */
static bool on_readable(struct metrics_http *m, struct client *c)
{
	for (;;) {
		const ssize_t n = recv(c->fd, c->req + c->have, sizeof(c->req) - 1 - c->have, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false; /* closed or failed before its request was complete */
		c->have += (size_t)n;
		c->req[c->have] = '\0';
		if (strstr(c->req, "\r\n\r\n") || c->have == sizeof(c->req) - 1) {
			c->out = answer(m, &c->out_len);
			return c->out != NULL;
		}
	}
}

/* Sends what the socket takes now. false: done with it (all sent, or the client is gone). */
static bool on_writable(struct client *c)
{
	while (c->sent < c->out_len) {
		/* MSG_NOSIGNAL: a client that went away must not raise SIGPIPE. */
		const ssize_t n = send(c->fd, c->out + c->sent, c->out_len - c->sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false;
		c->sent += (size_t)n;
	}
	return false;
}

/*
 * One thread, many clients: every socket is non-blocking and poll says which can make
 * progress, so a client that is slow to send its request or to read the answer, or that
 * connects and sends nothing, delays nobody else; each is closed CLIENT_TIMEOUT_MS after it
 * connected if it is not done.
 */
static void *serve(void *arg)
{
	struct metrics_http *m = arg;
	struct client clients[MAX_CLIENTS];
	struct pollfd p[MAX_CLIENTS + 2];

	for (int i = 0; i < MAX_CLIENTS; i++) {
		clients[i].fd = -1;
		clients[i].out = NULL;
	}
	for (;;) {
		int nfds = 2, free_slot = -1, map[MAX_CLIENTS + 2];
		int64_t next = -1;
		const int64_t now = now_ms();

		p[0] = (struct pollfd){.fd = m->stop_fd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = m->listen_fd, .events = 0};
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &clients[i];

			if (c->fd >= 0 && now >= c->deadline_ms)
				drop(c);
			if (c->fd < 0) {
				free_slot = free_slot < 0 ? i : free_slot;
				continue;
			}
			map[nfds] = i;
			p[nfds++] =
				(struct pollfd){.fd = c->fd, .events = c->out ? POLLOUT : POLLIN};
			if (next < 0 || c->deadline_ms < next)
				next = c->deadline_ms;
		}
		if (free_slot >= 0)
			p[1].events = POLLIN; /* room for one more client */
		if (poll(p, (nfds_t)nfds, next < 0 ? -1 : (int)(next - now + 1)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		for (int k = 2; k < nfds; k++) {
			struct client *c = &clients[map[k]];
			bool keep;

			if (!p[k].revents)
				continue;
			if (c->out)
				keep = on_writable(c);
			else /* and once the request is in, answer at once if the socket takes it */
				keep = on_readable(m, c) && (!c->out || on_writable(c));
			if (!keep)
				drop(c);
		}
		if (free_slot >= 0 && (p[1].revents & POLLIN)) {
			const int fd =
				accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (fd >= 0)
				clients[free_slot] = (struct client){
					.fd = fd, .deadline_ms = now_ms() + CLIENT_TIMEOUT_MS};
		}
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			drop(&clients[i]);
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
