/* SPDX-License-Identifier: MIT */
/*
 * lfq_redis: a Redis Streams consumer-group source feeding an lfq_pool, and a producer.
 *
 * Threads: the source's state is owned by the thread in lfq_redis_source_run, except
 *   - the stop flag (any thread), the stats counters (any reader), and
 *   - a record's result fields (dead_reason, attempts, last_result), written by the worker
 *     that finished its job before it pushes the record into the ack ring.
 *
 * Labels:
 *   P1  submit of a job publishes its record (id, fn, arg) to the worker: lfq_pool_submit's
 *       guarantee (a write before a submit that returned 0 is visible to the job).
 *   P2  a worker's push of a finished record into the ack ring publishes its result fields to
 *       the source thread's pop (lfq_ring's guarantee); pairs with the pops in drain_acks.
 *   S1  stop: relaxed store/load; the flag carries no data, only a request to return. run
 *       clears it (relaxed) as it returns, so a stop is served by exactly one run.
 *   C1  stats counters: relaxed; a snapshot, readers need no ordering with anything.
 *   W1  a worker counts itself into `pushers` before its push (so the source, having popped
 *       the record, sees the count) and out after (release); pairs with A1.
 *   A1  finish waits (acquire) for `pushers` to be 0 after draining every record: no worker
 *       is still inside lfq_ring_push, so the ring may be destroyed.
 *
 * Record slots: max_inflight records are allocated at create; the ack ring holds as many
 * pointers, so a worker's push never finds it full (at most max_inflight records are out).
 *
 * Connection: every failed round trip (no reply, or a transient error reply such as LOADING)
 * drops the connection and schedules the next connect attempt after a jittered backoff
 * (conn_lost); ensure_conn makes the attempt once it is due. Permanent errors (-EACCES,
 * -EPROTO) end run. Records stay owned by the source until their XACK landed: a failed XACK
 * keeps them in `done`, retried after the reconnect.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#ifdef LFQ_REDIS_HAVE_TLS
#include <hiredis/hiredis_ssl.h>
#endif

#include <lfq/redis.h>
#include <lfq/ring.h>

#define ID_MAX 48
#define DETAIL_MAX 128
#define REASON_MALFORMED 100
#define REASON_POISON 101
#define CONNECT_TIMEOUT_MS 2000
#define BACKOFF_MIN_MS 10
#define SUBMIT_SLICE_NS 50000000LL
#define ACK_WAIT_NS 50000000LL
#define IDLE_WAIT_NS 10000000LL

enum rec_state { REC_FREE, REC_INFLIGHT, REC_DONE };

struct rec {
	struct lfq_redis_source *src;
	int (*fn)(void *arg);
	void *arg;
	/* Written by the worker before P2 (0: succeeded). */
	int dead_reason;
	unsigned attempts;
	int last_result;
	/* Source thread only. */
	enum rec_state state;
	bool dlq_written;
	char id[ID_MAX];
	char detail[DETAIL_MAX];
};

/* Where to connect and how to authenticate; shared by sources and producers. */
struct endpoint {
	char *host, *user, *password;
	unsigned port;
	unsigned timeout_ms; /* connect timeout */
#ifdef LFQ_REDIS_HAVE_TLS
	redisSSLContext *ssl;
#endif
};

struct lfq_redis_source {
	struct endpoint ep;
	char *stream, *group, *consumer, *dlq;
	unsigned batch, block_ms, min_idle_ms, max_inflight, reconnect_max_ms, max_deliveries;
	unsigned drain_timeout_ms;
	struct lfq_pool *pool;
	lfq_redis_decode_fn decode;
	void (*release)(void *arg, void *ctx);
	void (*log)(int level, const char *msg, const struct lfq_log_field *fields, size_t n,
		    void *ctx);
	void *ctx;

	redisContext *c;
	struct lfq_ring *acks;
	struct rec *recs;
	unsigned *free_idx;
	unsigned nfree;
	struct rec **done;
	unsigned ndone;
	unsigned inflight;		/* submitted, not yet drained from the ring */
	const char **argv;		/* max_inflight + 8 slots: XACK and XCLAIM commands */
	unsigned long long *deliveries; /* per claimed entry of one XAUTOCLAIM batch */
	int64_t next_claim_ns, next_renew_ns, next_connect_ns;
	unsigned backoff_ms;
	bool connected_once; /* this run: the next connect counts as a reconnect */
	uint64_t rng;
	char claim_cursor[ID_MAX];
	/* The newest entry this source has read with ">": where a group that was deleted is
	 * recreated, so that the entries before it are not all delivered again. "" until then. */
	char last_read[ID_MAX];
	bool pool_shut;
	int fatal;     /* a permanent error met while waiting in take_entry */
	bool claiming; /* a reclaim scan is under way: entries are reclaimed one at a time */

	atomic_bool stop;    /* S1 */
	atomic_bool running; /* guards against two concurrent runs */
	atomic_uint pushers; /* workers inside push_ack (W1, A1) */
	_Atomic uint64_t read, claimed, submitted, acked, dead_letters, malformed, reconnects;
	_Atomic uint64_t transient, poison, renewed;
};

struct lfq_redis_producer {
	struct endpoint ep;
	redisContext *c;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static struct timeval tv_ms(unsigned ms)
{
	return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (long)(ms % 1000) * 1000L};
}

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed); /* C1 */
}

static bool stopping(const struct lfq_redis_source *s)
{
	return atomic_load_explicit(&s->stop, memory_order_relaxed); /* S1 */
}

static bool name_ok(const char *name)
{
	return name && name[0] && strlen(name) <= LFQ_REDIS_NAME_MAX;
}

static void wipe_free(char *secret)
{
	if (secret) {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
}

/* xorshift64*: the jitter of the backoff; quality hardly matters. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* ---- server replies ---- */

/* Does an error reply start with the word w (followed by a space or the end)? */
static bool error_is(const redisReply *r, const char *w)
{
	size_t n = strlen(w);

	return r->len >= n && strncmp(r->str, w, n) == 0 && (r->len == n || r->str[n] == ' ');
}

/* Classifies an error reply: -EAGAIN for a transient server state (retry later on a new
 * connection), -EACCES for refused credentials or permissions, -ENOENT for a missing group or
 * stream, -EPROTO for everything else. */
static int classify_error(const redisReply *r)
{
	static const char *const transient[] = {"LOADING",  "BUSY",	  "MASTERDOWN",
						"TRYAGAIN", "READONLY",	  "CLUSTERDOWN",
						"MISCONF",  "NOREPLICAS", "NOMASTERLINK"};

	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (error_is(r, transient[i]))
			return -EAGAIN;
	if (strncmp(r->str, "ERR max number of clients reached", 33) == 0)
		return -EAGAIN;
	if (error_is(r, "NOAUTH") || error_is(r, "WRONGPASS") || error_is(r, "NOPERM") ||
	    strncmp(r->str, "ERR invalid password", 20) == 0)
		return -EACCES;
	if (error_is(r, "NOGROUP") || error_is(r, "UNBLOCKED"))
		return -ENOENT;
	/* maxmemory reached: the server refuses the commands that may grow the dataset (XADD,
	 * XGROUP CREATE) and still runs the others (XACK, XCLAIM, XREADGROUP) on the same
	 * connection. */
	if (error_is(r, "OOM"))
		return -ENOSPC;
	return -EPROTO;
}

/* ---- connections (sources and producers) ---- */

static void endpoint_free(struct endpoint *ep)
{
	free(ep->host);
	free(ep->user);
	wipe_free(ep->password);
#ifdef LFQ_REDIS_HAVE_TLS
	if (ep->ssl)
		redisFreeSSLContext(ep->ssl);
#endif
	memset(ep, 0, sizeof(*ep));
}

/* Validates and copies host, port, credentials and TLS settings. */
static int endpoint_init(struct endpoint *ep, const char *host, unsigned port, const char *user,
			 const char *password, const struct lfq_redis_tls *tls, unsigned timeout_ms)
{
	memset(ep, 0, sizeof(*ep));
	if ((host && !name_ok(host)) || port > 65535 || (user && !name_ok(user)) ||
	    (user && !password) ||
	    (password && (!password[0] || strlen(password) > LFQ_REDIS_PASSWORD_MAX)))
		return -EINVAL;
#ifndef LFQ_REDIS_HAVE_TLS
	if (tls)
		return -ENOTSUP;
#endif
	ep->host = strdup(host ? host : "127.0.0.1");
	ep->user = user ? strdup(user) : NULL;
	ep->password = password ? strdup(password) : NULL;
	ep->port = port ? port : 6379;
	ep->timeout_ms = timeout_ms;
	if (!ep->host || (user && !ep->user) || (password && !ep->password)) {
		endpoint_free(ep);
		return -ENOMEM;
	}
#ifdef LFQ_REDIS_HAVE_TLS
	if (tls) {
		redisSSLContextError err = REDIS_SSL_CTX_NONE;

		(void)redisInitOpenSSL();
		ep->ssl = redisCreateSSLContext(tls->ca_file, tls->ca_path, tls->cert_file,
						tls->key_file, tls->server_name, &err);
		if (!ep->ssl) {
			endpoint_free(ep);
			return -EIO;
		}
	}
#endif
	return 0;
}

/* Writes all of buf to the connection's socket (blocking, with its send timeout). */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		const ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * Sends AUTH and returns the reply (NULL: c->errstr says why). Without TLS the command is
 * formatted in a buffer of ours, written to the socket directly and wiped, so that the
 * password is in no buffer of hiredis's (which frees its command buffers without clearing
 * them). Over TLS it goes through hiredis and OpenSSL, whose buffers the library cannot
 * reach (docs/scale-out.md says so).
 */
static redisReply *authenticate(const struct endpoint *ep, redisContext *c)
{
	const char *argv[3] = {"AUTH", ep->user ? ep->user : ep->password, ep->password};
	const int argc = ep->user ? 3 : 2;
	redisReply *r = NULL;

#ifdef LFQ_REDIS_HAVE_TLS
	if (ep->ssl)
		return redisCommandArgv(c, argc, argv, NULL);
#endif
	/* RESP: *N, then $len and the bytes of each argument; names and the password are
	 * bounded (LFQ_REDIS_NAME_MAX, LFQ_REDIS_PASSWORD_MAX). */
	char buf[64 + LFQ_REDIS_NAME_MAX + 2 * LFQ_REDIS_PASSWORD_MAX];
	size_t len = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n", argc);

	for (int i = 0; i < argc; i++) {
		const size_t n = strlen(argv[i]);

		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "$%zu\r\n", n);
		memcpy(buf + len, argv[i], n);
		memcpy(buf + len + n, "\r\n", 2);
		len += n + 2;
	}
	if (!write_all(c->fd, buf, len))
		snprintf(c->errstr, sizeof(c->errstr), "AUTH: %s", strerror(errno));
	else if (redisGetReply(c, (void **)&r) != REDIS_OK)
		r = NULL;
	explicit_bzero(buf, sizeof(buf));
	return r;
}

/* Connects and authenticates. On success *out is a connection with command timeout
 * cmd_timeout_ms. Returns 0, -ECONNREFUSED (unreachable, TLS handshake failed), -EAGAIN
 * (AUTH met a transient state), -EACCES (credentials refused) or -ENOMEM; why gets a
 * copy of the reason, for the log. */
static int endpoint_connect(const struct endpoint *ep, unsigned cmd_timeout_ms, redisContext **out,
			    char *why, size_t why_len)
{
	redisContext *c = redisConnectWithTimeout(ep->host, (int)ep->port, tv_ms(ep->timeout_ms));
	int rc = 0;

	why[0] = '\0';
	if (!c)
		return -ENOMEM;
	if (c->err || redisSetTimeout(c, tv_ms(cmd_timeout_ms)) != REDIS_OK) {
		snprintf(why, why_len, "%s", c->err ? c->errstr : "cannot set the timeout");
		redisFree(c);
		return -ECONNREFUSED;
	}
#ifdef LFQ_REDIS_HAVE_TLS
	if (ep->ssl && redisInitiateSSLWithContext(c, ep->ssl) != REDIS_OK) {
		snprintf(why, why_len, "TLS: %s", c->errstr);
		redisFree(c);
		return -ECONNREFUSED;
	}
#endif
	if (ep->password) {
		redisReply *r = authenticate(ep, c);

		if (!r) {
			snprintf(why, why_len, "%s", c->errstr);
			rc = -ECONNREFUSED;
		} else if (r->type == REDIS_REPLY_ERROR) {
			snprintf(why, why_len, "%s", r->str);
			rc = classify_error(r) == -EAGAIN ? -EAGAIN : -EACCES;
		}
		freeReplyObject(r);
	}
	if (rc) {
		redisFree(c);
		return rc;
	}
	*out = c;
	return 0;
}

bool lfq_redis_tls_supported(void)
{
#ifdef LFQ_REDIS_HAVE_TLS
	return true;
#else
	return false;
#endif
}

/* ---- workers' side ---- */

/* Hands a finished record to the source thread. r must not be touched afterwards (the
 * source may reuse it), and the source must not destroy the ring while we are inside push. */
static void push_ack(struct rec *r)
{
	struct lfq_redis_source *s = r->src;
	int rc;

	atomic_fetch_add_explicit(&s->pushers, 1, memory_order_seq_cst); /* W1 */
	rc = lfq_ring_push(s->acks, r);					 /* P2 */
	(void)rc; /* cannot fail: the ring holds every record (see the top comment) */
	atomic_fetch_sub_explicit(&s->pushers, 1, memory_order_release); /* W1: pairs with A1 */
}

static int job_trampoline(void *arg)
{
	struct rec *r = arg;
	int rc = r->fn(r->arg);

	if (rc == 0) {
		r->dead_reason = 0;
		push_ack(r);
	}
	return rc;
}

bool lfq_redis_on_dead(const struct lfq_job *job, int reason, unsigned attempts, int last_result)
{
	struct rec *r;

	if (!job || job->fn != job_trampoline)
		return false;
	r = job->arg;
	r->dead_reason = reason;
	r->attempts = attempts;
	r->last_result = last_result;
	push_ack(r);
	return true;
}

const char *lfq_redis_job_id(const struct lfq_redis_field *fields, size_t nfields, size_t *len)
{
	const size_t klen = sizeof(LFQ_REDIS_JOB_ID_FIELD) - 1;

	if (!fields)
		return NULL;
	for (size_t i = 0; i < nfields; i++) {
		if (fields[i].key && fields[i].key_len == klen &&
		    memcmp(fields[i].key, LFQ_REDIS_JOB_ID_FIELD, klen) == 0) {
			if (len)
				*len = fields[i].value_len;
			return fields[i].value ? fields[i].value : "";
		}
	}
	return NULL;
}

int lfq_redis_field_get(const struct lfq_redis_field *fields, size_t nfields, const char *key,
			char *buf, size_t len)
{
	if (!fields || !key || !buf || len == 0)
		return -EINVAL;
	const size_t klen = strlen(key);

	for (size_t i = 0; i < nfields; i++) {
		if (!fields[i].key || fields[i].key_len != klen ||
		    memcmp(fields[i].key, key, klen) != 0)
			continue;
		const size_t vlen = fields[i].value_len;
		const size_t n = vlen < len ? vlen : len - 1;

		if (n)
			memcpy(buf, fields[i].value, n);
		buf[n] = '\0';
		return vlen < len ? 0 : -ENOSPC;
	}
	buf[0] = '\0';
	return -ENOENT;
}

/* ---- source: create/destroy ---- */

void lfq_redis_source_destroy(struct lfq_redis_source *s)
{
	if (!s)
		return;
	if (s->c)
		redisFree(s->c);
	lfq_ring_destroy(s->acks);
	free(s->recs);
	free(s->free_idx);
	free(s->done);
	free(s->argv);
	free(s->deliveries);
	endpoint_free(&s->ep);
	free(s->stream);
	free(s->group);
	free(s->consumer);
	free(s->dlq);
	free(s);
}

int lfq_redis_source_create(struct lfq_redis_source **out,
			    const struct lfq_redis_source_config *cfg)
{
	struct lfq_redis_source *s;
	unsigned batch, inflight;
	int rc;

	if (!out || !cfg || !cfg->pool || !cfg->decode)
		return -EINVAL;
	if (!name_ok(cfg->stream) || !name_ok(cfg->group) || !name_ok(cfg->consumer) ||
	    !name_ok(cfg->dead_letter_stream))
		return -EINVAL;
	if (strcmp(cfg->stream, cfg->dead_letter_stream) == 0 || cfg->batch > LFQ_REDIS_BATCH_MAX ||
	    cfg->block_ms > LFQ_REDIS_TIMEOUT_MS_MAX ||
	    cfg->reconnect_max_ms > LFQ_REDIS_TIMEOUT_MS_MAX)
		return -EINVAL;
	batch = cfg->batch ? cfg->batch : LFQ_REDIS_DEFAULT_BATCH;
	inflight =
		cfg->max_inflight ? cfg->max_inflight : LFQ_REDIS_DEFAULT_INFLIGHT_BATCHES * batch;
	if (inflight < batch || inflight > LFQ_REDIS_INFLIGHT_MAX)
		return -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = endpoint_init(&s->ep, cfg->host, cfg->port, cfg->user, cfg->password, cfg->tls,
			   CONNECT_TIMEOUT_MS);
	if (rc) {
		free(s);
		return rc;
	}
	s->batch = batch;
	s->max_inflight = inflight;
	s->block_ms = cfg->block_ms ? cfg->block_ms : LFQ_REDIS_DEFAULT_BLOCK_MS;
	s->min_idle_ms = cfg->min_idle_ms ? cfg->min_idle_ms : LFQ_REDIS_DEFAULT_MIN_IDLE_MS;
	s->reconnect_max_ms = cfg->reconnect_max_ms ? cfg->reconnect_max_ms : 2000;
	if (s->reconnect_max_ms < BACKOFF_MIN_MS)
		s->reconnect_max_ms = BACKOFF_MIN_MS;
	s->max_deliveries =
		cfg->max_deliveries ? cfg->max_deliveries : LFQ_REDIS_DEFAULT_MAX_DELIVERIES;
	s->drain_timeout_ms =
		cfg->drain_timeout_ms ? cfg->drain_timeout_ms : LFQ_REDIS_DEFAULT_DRAIN_TIMEOUT_MS;
	s->pool = cfg->pool;
	s->decode = cfg->decode;
	s->release = cfg->release;
	s->log = cfg->log;
	s->ctx = cfg->ctx;
	s->stream = strdup(cfg->stream);
	s->group = strdup(cfg->group);
	s->consumer = strdup(cfg->consumer);
	s->dlq = strdup(cfg->dead_letter_stream);
	s->recs = calloc(inflight, sizeof(*s->recs));
	s->free_idx = calloc(inflight, sizeof(*s->free_idx));
	s->done = calloc(inflight, sizeof(*s->done));
	s->argv = calloc(inflight + 8, sizeof(*s->argv));
	s->deliveries = calloc(batch, sizeof(*s->deliveries));
	if (!s->stream || !s->group || !s->consumer || !s->dlq || !s->recs || !s->free_idx ||
	    !s->done || !s->argv || !s->deliveries || lfq_ring_create(&s->acks, inflight, 0) != 0) {
		lfq_redis_source_destroy(s);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < inflight; i++) {
		s->recs[i].src = s;
		s->free_idx[i] = inflight - 1 - i;
	}
	s->nfree = inflight;
	s->rng = (uint64_t)now_ns() ^ (uint64_t)(uintptr_t)s ^ 0x9E3779B97F4A7C15ULL;
	if (s->rng == 0)
		s->rng = 1;
	strcpy(s->claim_cursor, "0-0");
	atomic_init(&s->stop, false);
	atomic_init(&s->running, false);
	atomic_init(&s->pushers, 0);
	*out = s;
	return 0;
}

void lfq_redis_source_stop(struct lfq_redis_source *s)
{
	if (s)
		atomic_store_explicit(&s->stop, true, memory_order_relaxed); /* S1 */
}

int lfq_redis_source_stats(const struct lfq_redis_source *s, struct lfq_redis_source_stats *st)
{
	if (!s || !st)
		return -EINVAL;
	st->read = atomic_load_explicit(&s->read, memory_order_relaxed); /* C1 */
	st->claimed = atomic_load_explicit(&s->claimed, memory_order_relaxed);
	st->submitted = atomic_load_explicit(&s->submitted, memory_order_relaxed);
	st->acked = atomic_load_explicit(&s->acked, memory_order_relaxed);
	st->dead_letters = atomic_load_explicit(&s->dead_letters, memory_order_relaxed);
	st->malformed = atomic_load_explicit(&s->malformed, memory_order_relaxed);
	st->reconnects = atomic_load_explicit(&s->reconnects, memory_order_relaxed);
	st->transient = atomic_load_explicit(&s->transient, memory_order_relaxed);
	st->poison = atomic_load_explicit(&s->poison, memory_order_relaxed);
	st->renewed = atomic_load_explicit(&s->renewed, memory_order_relaxed);
	return 0;
}

/* ---- source: logging and connection state ---- */

static void log_event(const struct lfq_redis_source *s, int level, const char *msg,
		      const struct lfq_log_field *f, size_t n)
{
	if (s->log)
		s->log(level, msg, f, n, s->ctx);
}

static void drop_conn(struct lfq_redis_source *s)
{
	if (s->c) {
		redisFree(s->c);
		s->c = NULL;
	}
}

/* Drops the connection after a failure and schedules the next attempt after a jittered
 * backoff drawn from [backoff / 2, backoff]; the backoff then doubles, up to the cap. */
static void conn_lost(struct lfq_redis_source *s)
{
	unsigned b = s->backoff_ms ? s->backoff_ms : BACKOFF_MIN_MS;
	unsigned wait = b / 2 + (unsigned)(next_random(&s->rng) % (b / 2 + 1));

	drop_conn(s);
	s->next_connect_ns = now_ns() + (int64_t)wait * 1000000LL;
	s->backoff_ms = b > s->reconnect_max_ms / 2 ? s->reconnect_max_ms : b * 2;
}

/* Checks a reply. NULL: the connection failed (-ECONNRESET, connection dropped). A transient
 * error reply is handled the same way (-ECONNRESET). Otherwise an error reply gives
 * classify_error's code (-EACCES, -ENOENT or -EPROTO), and anything else 0. */
static int reply_error(struct lfq_redis_source *s, const redisReply *r, const char *command)
{
	if (!r) {
		const struct lfq_log_field f[] = {{.key = "command", .str = command},
						  {.key = "error", .str = s->c->errstr}};

		log_event(s, LFQ_LOG_WARN, "redis connection lost", f, 2);
		conn_lost(s);
		return -ECONNRESET;
	}
	if (r->type != REDIS_REPLY_ERROR)
		return 0;
	int rc = classify_error(r);
	const struct lfq_log_field f[] = {{.key = "command", .str = command},
					  {.key = "reply", .str = r->str}};

	if (rc == -EAGAIN) {
		count(&s->transient, 1);
		log_event(s, LFQ_LOG_WARN, "redis server busy, retrying", f, 2);
		conn_lost(s);
		return -ECONNRESET;
	}
	if (rc == -ENOSPC) {
		count(&s->transient, 1);
		log_event(s, LFQ_LOG_WARN, "redis out of memory, write refused, retrying", f, 2);
	}
	if (rc == -EACCES || rc == -EPROTO)
		log_event(s, LFQ_LOG_ERROR, "redis command refused", f, 2);
	return rc;
}

/*
 * Creates the group if it does not exist. A new group starts at the stream's beginning ("0");
 * one that disappeared while this source was reading it (XGROUP DESTROY, a server that lost
 * its data) is recreated after the newest entry this source read, so that what the old group
 * had delivered is not all delivered again: only entries newer than that which other
 * consumers had read run twice. Refused for lack of memory (-ENOSPC), the group is assumed
 * to exist: a read that finds it missing comes back here.
 */
static int ensure_group(struct lfq_redis_source *s)
{
	const char *from = s->last_read[0] ? s->last_read : "0";
	const char *argv[] = {"XGROUP", "CREATE", s->stream, s->group, from, "MKSTREAM"};
	redisReply *r = redisCommandArgv(s->c, 6, argv, NULL);
	int rc;

	if (r && r->type == REDIS_REPLY_ERROR && error_is(r, "BUSYGROUP"))
		rc = 0;
	else
		rc = reply_error(s, r, "XGROUP CREATE");
	if (rc == 0 && r && r->type != REDIS_REPLY_ERROR && s->last_read[0]) {
		const struct lfq_log_field f[] = {{.key = "group", .str = s->group},
						  {.key = "after", .str = s->last_read}};

		log_event(s, LFQ_LOG_ERROR,
			  "redis consumer group was missing: recreated after the last entry read",
			  f, 2);
	}
	freeReplyObject(r);
	return rc == -ENOSPC ? 0 : rc;
}

/* Makes sure there is a connection: 0 if there is one (or a new one is made now);
 * -ECONNRESET if the next attempt is not due yet or failed (retried later); -EACCES or
 * -EPROTO for a permanent error; -ENOMEM. */
static int ensure_conn(struct lfq_redis_source *s)
{
	char why[128];
	int rc;

	if (s->c)
		return 0;
	if (now_ns() < s->next_connect_ns)
		return -ECONNRESET;
	rc = endpoint_connect(&s->ep, s->block_ms + 5000, &s->c, why, sizeof(why));
	if (rc == -EACCES) {
		const struct lfq_log_field f[] = {{.key = "reply", .str = why}};

		log_event(s, LFQ_LOG_ERROR, "redis refused the credentials", f, 1);
		conn_lost(s); /* not retried by run; finish's attempts stay spaced out */
		return rc;
	}
	if (rc) {
		const struct lfq_log_field f[] = {{.key = "error", .str = why}};

		if (rc == -EAGAIN)
			count(&s->transient, 1);
		log_event(s, LFQ_LOG_WARN, "redis connect failed, retrying", f, 1);
		conn_lost(s);
		return -ECONNRESET;
	}
	rc = ensure_group(s);
	if (rc == -ENOENT) {
		conn_lost(s);
		rc = -ECONNRESET;
	}
	if (rc) {
		conn_lost(s);
		return rc;
	}
	if (s->connected_once) {
		count(&s->reconnects, 1);
		log_event(s, LFQ_LOG_INFO, "redis reconnected", NULL, 0);
	}
	s->connected_once = true;
	s->next_renew_ns = 0; /* renew the leases at once: the outage may have been long */
	return 0;
}

/* ---- source: records ---- */

static struct rec *rec_get(struct lfq_redis_source *s)
{
	struct rec *r;

	if (s->nfree == 0)
		return NULL;
	r = &s->recs[s->free_idx[--s->nfree]];
	r->fn = NULL;
	r->arg = NULL;
	r->dead_reason = 0;
	r->attempts = 0;
	r->last_result = 0;
	r->dlq_written = false;
	r->detail[0] = '\0';
	r->state = REC_INFLIGHT;
	return r;
}

/* Gives a record back; the job's arg is released. The entry is acked or left pending by the
 * caller. */
static void rec_put(struct lfq_redis_source *s, struct rec *r)
{
	if (r->arg && s->release)
		s->release(r->arg, s->ctx);
	r->arg = NULL;
	r->state = REC_FREE;
	s->free_idx[s->nfree++] = (unsigned)(r - s->recs);
}

static bool id_in_use(const struct lfq_redis_source *s, const char *id)
{
	for (unsigned i = 0; i < s->max_inflight; i++)
		if (s->recs[i].state != REC_FREE && strcmp(s->recs[i].id, id) == 0)
			return true;
	return false;
}

static unsigned drain_acks(struct lfq_redis_source *s)
{
	void *items[64];
	size_t n, total = 0;

	while ((n = lfq_ring_pop_burst(s->acks, items, 64)) > 0) { /* P2 */
		for (size_t i = 0; i < n; i++) {
			struct rec *r = items[i];

			r->state = REC_DONE;
			s->done[s->ndone++] = r;
		}
		s->inflight -= (unsigned)n;
		total += n;
	}
	return (unsigned)total;
}

/* Waits up to timeout_ns for a finished record; true if one (or more) came. */
static bool wait_acks(struct lfq_redis_source *s, int64_t timeout_ns)
{
	void *item;

	if (lfq_ring_pop_wait(s->acks, &item, timeout_ns) != 0) /* P2 */
		return false;
	struct rec *r = item;

	r->state = REC_DONE;
	s->done[s->ndone++] = r;
	s->inflight--;
	drain_acks(s);
	return true;
}

/* ---- source: acks, dead letters, leases ---- */

static const char *reason_name(int reason)
{
	switch (reason) {
	case LFQ_DEAD_FAILED:
		return "failed";
	case LFQ_DEAD_EXHAUSTED:
		return "exhausted";
	case LFQ_DEAD_EXPIRED:
		return "expired";
	case REASON_MALFORMED:
		return "malformed";
	case REASON_POISON:
		return "poison";
	default:
		return "dead";
	}
}

/* XADDs the dead letter of r: metadata fields, then the original entry's fields (read back
 * with XRANGE; absent if the entry was trimmed meanwhile). */
static int dead_letter(struct lfq_redis_source *s, struct rec *r)
{
	const char *rargv[] = {"XRANGE", s->stream, r->id, r->id, "COUNT", "1"};
	redisReply *orig = redisCommandArgv(s->c, 6, rargv, NULL);
	redisReply *fields = NULL, *rep;
	const char **argv;
	size_t *lens, argc = 0, nf = 0;
	char attempts[24], result[24];
	int rc = reply_error(s, orig, "XRANGE");

	if (rc) {
		freeReplyObject(orig);
		return rc == -ENOENT ? -EPROTO : rc;
	}
	if (orig->type == REDIS_REPLY_ARRAY && orig->elements == 1 &&
	    orig->element[0]->type == REDIS_REPLY_ARRAY && orig->element[0]->elements == 2 &&
	    orig->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
		fields = orig->element[0]->element[1];
		nf = fields->elements;
	}
	argv = calloc(15 + nf, sizeof(*argv));
	lens = calloc(15 + nf, sizeof(*lens));
	if (!argv || !lens) {
		free(argv);
		free(lens);
		freeReplyObject(orig);
		return -ENOMEM;
	}
	snprintf(attempts, sizeof(attempts), "%u", r->attempts);
	snprintf(result, sizeof(result), "%d", r->last_result);
	const char *fixed[] = {"XADD",	     s->dlq,	   "*",
			       "lfq_id",     r->id,	   "lfq_stream",
			       s->stream,    "lfq_reason", reason_name(r->dead_reason),
			       "lfq_detail", r->detail,	   "lfq_attempts",
			       attempts,     "lfq_result", result};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		argv[argc] = fixed[i];
		lens[argc++] = strlen(fixed[i]);
	}
	for (size_t i = 0; i + 1 < nf; i += 2) {
		if (fields->element[i]->type != REDIS_REPLY_STRING ||
		    fields->element[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		argv[argc] = fields->element[i]->str;
		lens[argc++] = fields->element[i]->len;
		argv[argc] = fields->element[i + 1]->str;
		lens[argc++] = fields->element[i + 1]->len;
	}
	rep = redisCommandArgv(s->c, (int)argc, argv, lens);
	free(argv);
	free(lens);
	freeReplyObject(orig);
	rc = reply_error(s, rep, "XADD");
	freeReplyObject(rep);
	if (rc == 0) {
		r->dlq_written = true;
		count(&s->dead_letters, 1);
	}
	return rc == -ENOENT ? -EPROTO : rc;
}

/* Whether a finished record is acknowledged in this round: not a cancelled one (redelivered
 * later), nor a dead one whose dead letter is not written yet. */
static bool acks_now(const struct rec *r)
{
	return r->dead_reason != LFQ_DEAD_CANCELLED && (!r->dead_reason || r->dlq_written);
}

/* Dead-letters the dead records among the done ones, then XACKs all of them in one command,
 * then frees them. Cancelled jobs are freed without an ack (redelivered later). On an error
 * nothing is freed: the records stay in `done` and the XACK is retried later. Needs a
 * connection. */
static int flush_done(struct lfq_redis_source *s)
{
	const char **argv = s->argv;
	unsigned nack = 0;
	redisReply *rep;
	int rc;

	if (s->ndone == 0)
		return 0;
	for (unsigned i = 0; i < s->ndone; i++) {
		struct rec *r = s->done[i];

		if (r->dead_reason && r->dead_reason != LFQ_DEAD_CANCELLED && !r->dlq_written) {
			rc = dead_letter(s, r);
			/* Out of memory: this one waits for its dead letter (not acked, so not
			 * lost); the others are acknowledged meanwhile. */
			if (rc && rc != -ENOSPC)
				return rc;
		}
	}
	argv[0] = "XACK";
	argv[1] = s->stream;
	argv[2] = s->group;
	for (unsigned i = 0; i < s->ndone; i++)
		if (acks_now(s->done[i]))
			argv[3 + nack++] = s->done[i]->id;
	if (nack > 0) {
		rep = redisCommandArgv(s->c, 3 + (int)nack, argv, NULL);
		rc = reply_error(s, rep, "XACK");
		if (rc == -ENOENT)
			rc = 0; /* the group is gone: nothing left to acknowledge */
		freeReplyObject(rep);
		if (rc)
			return rc;
	}
	count(&s->acked, nack);
	unsigned kept = 0;

	for (unsigned i = 0; i < s->ndone; i++) {
		struct rec *r = s->done[i];

		if (r->dead_reason == LFQ_DEAD_CANCELLED || acks_now(r))
			rec_put(s, r);
		else
			s->done[kept++] = r; /* its dead letter was refused: retried next time */
	}
	s->ndone = kept;
	return 0;
}

/* Renews the leases of every entry this source holds (queued or running in the pool, or
 * finished and not yet acknowledged) when due: XCLAIM with min-idle 0 and JUSTID resets their
 * idle time without counting a delivery, so no consumer's XAUTOCLAIM takes them. An entry
 * another consumer reclaimed meanwhile (after an outage longer than min_idle_ms) is taken
 * back; both then run it, and the first XACK settles it. Needs a connection. */
static int renew_leases(struct lfq_redis_source *s)
{
	const int64_t now = now_ns();
	const unsigned every = s->min_idle_ms / 3 ? s->min_idle_ms / 3 : 1;
	const char **argv = s->argv;
	unsigned n = 0;
	redisReply *rep;
	int rc;

	if (now < s->next_renew_ns)
		return 0;
	s->next_renew_ns = now + (int64_t)every * 1000000LL;
	argv[0] = "XCLAIM";
	argv[1] = s->stream;
	argv[2] = s->group;
	argv[3] = s->consumer;
	argv[4] = "0";
	for (unsigned i = 0; i < s->max_inflight; i++)
		if (s->recs[i].state != REC_FREE)
			argv[5 + n++] = s->recs[i].id;
	if (n == 0)
		return 0;
	argv[5 + n] = "JUSTID";
	rep = redisCommandArgv(s->c, 6 + (int)n, argv, NULL);
	rc = reply_error(s, rep, "XCLAIM");
	if (rc == 0 && rep->type == REDIS_REPLY_ARRAY)
		count(&s->renewed, rep->elements);
	freeReplyObject(rep);
	return rc == -ENOENT ? 0 : rc;
}

/* What the source does while it waits (for room in the pool, for finished jobs): collects
 * finished records, reconnects when due, acknowledges and renews leases. Returns 0, or a
 * permanent error (-EACCES, -EPROTO, -ENOMEM). */
static int tend(struct lfq_redis_source *s)
{
	int rc;

	drain_acks(s);
	rc = ensure_conn(s);
	if (rc == 0)
		rc = flush_done(s);
	if (rc == 0)
		rc = renew_leases(s);
	return rc == -ECONNRESET || rc == -ENOENT || rc == -ENOSPC ? 0 : rc;
}

/* ---- source: entries ---- */

static bool entry_ok(const redisReply *e)
{
	return e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
	       e->element[0]->type == REDIS_REPLY_STRING && e->element[0]->len < ID_MAX;
}

/* Orders two entry ids "ms-seq" numerically. */
static int id_cmp(const char *a, const char *b)
{
	char *end;
	unsigned long long am = strtoull(a, &end, 10), as = 0, bm, bs = 0;

	if (*end == '-')
		as = strtoull(end + 1, NULL, 10);
	bm = strtoull(b, &end, 10);
	if (*end == '-')
		bs = strtoull(end + 1, NULL, 10);
	if (am != bm)
		return am < bm ? -1 : 1;
	return as < bs ? -1 : as > bs;
}

static void mark_done(struct lfq_redis_source *s, struct rec *r, int reason)
{
	r->dead_reason = reason;
	r->state = REC_DONE;
	s->done[s->ndone++] = r;
}

/* Takes one entry ([id, [k, v, ...]]): decodes and submits it, or marks it malformed or
 * poison (deliveries: its delivery count, 0 if unknown). An entry read is submitted even
 * after a stop (the drain runs it). Returns 0, or -ESHUTDOWN when the entry was left pending
 * because the pool shut down. */
static int take_entry(struct lfq_redis_source *s, const redisReply *e, bool claimed,
		      unsigned long long deliveries)
{
	struct lfq_redis_field fields[64], *fv = fields;
	const redisReply *kv;
	struct lfq_job job;
	const char *why = NULL;
	struct rec *r;
	size_t nf;
	int rc;

	if (!entry_ok(e))
		return 0; /* a deleted entry (nil) or a shape we do not know: skip it */
	if (claimed && id_in_use(s, e->element[0]->str))
		return 0; /* already ours and in flight */
	count(&s->read, 1);
	if (claimed)
		count(&s->claimed, 1);
	r = rec_get(s);
	if (!r)
		return -EINTR; /* cannot happen: reads ask for at most room() entries */
	memcpy(r->id, e->element[0]->str, e->element[0]->len + 1);
	if (!claimed) /* ">" delivers in id order: the newest read so far */
		memcpy(s->last_read, r->id, sizeof(s->last_read));
	if (deliveries > s->max_deliveries) {
		const struct lfq_log_field f[] = {
			{.key = "id", .str = r->id},
			{.key = "deliveries", .num = (int64_t)deliveries}};

		count(&s->poison, 1);
		log_event(s, LFQ_LOG_WARN, "redis poison entry dead-lettered", f, 2);
		snprintf(r->detail, sizeof(r->detail), "delivered %llu times, max_deliveries %u",
			 deliveries, s->max_deliveries);
		mark_done(s, r, REASON_POISON);
		return 0;
	}
	if (claimed) {
		/* Another consumer's entry (one that died, or lost its lease): say which. */
		const struct lfq_log_field f[] = {
			{.key = "id", .str = r->id},
			{.key = "deliveries", .num = (int64_t)deliveries}};

		log_event(s, LFQ_LOG_INFO, "redis entry reclaimed", f, 2);
	}
	kv = e->element[1];
	if (kv->type != REDIS_REPLY_ARRAY || kv->elements % 2 != 0) {
		why = "entry has no fields";
		goto malformed;
	}
	nf = kv->elements / 2;
	if (nf > 64) {
		fv = calloc(nf, sizeof(*fv));
		if (!fv) {
			why = "out of memory decoding the entry";
			goto malformed;
		}
	}
	for (size_t i = 0; i < nf; i++) {
		fv[i] = (struct lfq_redis_field){kv->element[2 * i]->str, kv->element[2 * i]->len,
						 kv->element[2 * i + 1]->str,
						 kv->element[2 * i + 1]->len};
	}
	memset(&job, 0, sizeof(job));
	rc = s->decode(r->id, fv, nf, &job, &why, s->ctx);
	if (fv != fields)
		free(fv);
	if (rc != 0) {
		if (!why)
			why = "decode callback rejected the entry";
		r->arg = job.arg;
		goto malformed;
	}
	r->arg = job.arg;
	if (!job.fn || job.reserved8 || job.reserved32 || job.reserved[0] || job.reserved[1] ||
	    job.reserved[2] || job.reserved[3]) {
		why = "decode returned a job without fn or with reserved fields set";
		goto malformed;
	}
	r->fn = job.fn;
	job.fn = job_trampoline;
	job.arg = r;
	for (;;) {
		rc = lfq_pool_submit_wait(s->pool, &job, SUBMIT_SLICE_NS); /* P1 */
		if (rc != -ETIMEDOUT)
			break;
		/* Pool full: keep acknowledging what finishes, and renewing leases, meanwhile. */
		int trc = tend(s);

		if (trc && !s->fatal)
			s->fatal = trc;
	}
	if (rc == 0) {
		s->inflight++;
		count(&s->submitted, 1);
		return 0;
	}
	if (rc == -EINVAL) {
		why = "job priority beyond the pool's levels";
		goto malformed;
	}
	rec_put(s, r); /* left pending: redelivered after min_idle_ms */
	s->pool_shut = true;
	return -ESHUTDOWN;

malformed:
	count(&s->malformed, 1);
	snprintf(r->detail, sizeof(r->detail), "%s", why);
	mark_done(s, r, REASON_MALFORMED);
	return 0;
}

static int take_entries(struct lfq_redis_source *s, const redisReply *list,
			const unsigned long long *deliveries)
{
	for (size_t i = 0; i < list->elements; i++) {
		int rc;

		if (s->pool_shut)
			return 0; /* the rest stays pending */
		rc = take_entry(s, list->element[i], deliveries != NULL,
				deliveries && i < s->batch ? deliveries[i] : 0);
		if (rc == -ESHUTDOWN)
			return rc;
	}
	return 0;
}

static unsigned room(const struct lfq_redis_source *s)
{
	return s->max_inflight - (s->inflight + s->ndone);
}

/* Fills s->deliveries[i] with the delivery count of the i-th entry of an XAUTOCLAIM batch
 * (now owned by this consumer): XPENDING over the batch's id range, filtered to this
 * consumer, merged by id (both lists are in id order). Unknown counts stay 0. */
static int fetch_deliveries(struct lfq_redis_source *s, const redisReply *list)
{
	size_t n = list->elements < s->batch ? list->elements : s->batch, first = n, last = 0;
	char cnt[24];
	redisReply *rep;
	int rc;

	for (size_t i = 0; i < n; i++) {
		s->deliveries[i] = 0;
		if (entry_ok(list->element[i])) {
			if (first == n)
				first = i;
			last = i;
		}
	}
	if (first == n)
		return 0;
	snprintf(cnt, sizeof(cnt), "%zu", n + s->max_inflight);
	const char *argv[] = {"XPENDING",
			      s->stream,
			      s->group,
			      list->element[first]->element[0]->str,
			      list->element[last]->element[0]->str,
			      cnt,
			      s->consumer};
	rep = redisCommandArgv(s->c, 7, argv, NULL);
	rc = reply_error(s, rep, "XPENDING");
	if (rc == 0 && rep->type == REDIS_REPLY_ARRAY) {
		size_t i = 0;

		for (size_t k = 0; k < rep->elements; k++) {
			const redisReply *p = rep->element[k];

			if (p->type != REDIS_REPLY_ARRAY || p->elements < 4 ||
			    p->element[0]->type != REDIS_REPLY_STRING ||
			    p->element[3]->type != REDIS_REPLY_INTEGER)
				continue;
			while (i < n &&
			       (!entry_ok(list->element[i]) ||
				id_cmp(list->element[i]->element[0]->str, p->element[0]->str) < 0))
				i++;
			if (i < n &&
			    strcmp(list->element[i]->element[0]->str, p->element[0]->str) == 0)
				s->deliveries[i] = (unsigned long long)p->element[3]->integer;
		}
	}
	freeReplyObject(rep);
	return rc == -ENOENT ? 0 : rc;
}

/* Reclaims one idle entry (XAUTOCLAIM ... COUNT 1), to be run alone: the caller calls this
 * only with nothing else in flight, and reads nothing new until the entry is acknowledged.
 * So a reclaimed entry that crashes its consumer takes only itself down, and only its own
 * delivery count grows (an entry that was merely in flight beside a poison entry is not
 * mistaken for one). Ends the scan (claiming = false) when XAUTOCLAIM finds nothing more. */
static int claim(struct lfq_redis_source *s)
{
	char idle[16];
	const char *argv[] = {"XAUTOCLAIM", s->stream,	     s->group, s->consumer,
			      idle,	    s->claim_cursor, "COUNT",  "1"};
	redisReply *rep;
	int rc;

	snprintf(idle, sizeof(idle), "%u", s->min_idle_ms);
	rep = redisCommandArgv(s->c, 8, argv, NULL);
	rc = reply_error(s, rep, "XAUTOCLAIM");
	if (rc == 0 && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
	    rep->element[0]->type == REDIS_REPLY_STRING && rep->element[0]->len < ID_MAX &&
	    rep->element[1]->type == REDIS_REPLY_ARRAY) {
		memcpy(s->claim_cursor, rep->element[0]->str, rep->element[0]->len + 1);
		if (rep->element[1]->elements > 0)
			rc = fetch_deliveries(s, rep->element[1]);
		/* On a failure the claimed entries stay pending here and are reclaimed later. */
		if (rc == 0)
			rc = take_entries(s, rep->element[1], s->deliveries);
		/* The scan ends when the cursor is back at the start and nothing was taken (an
		 * entry deleted from the stream comes back as nil on Redis 6.2). */
		if (strcmp(s->claim_cursor, "0-0") == 0 && s->inflight + s->ndone == 0)
			s->claiming = false;
	}
	freeReplyObject(rep);
	return rc;
}

/* Due every min_idle_ms / 2: asks (XPENDING ... IDLE, without claiming anything) whether some
 * consumer's entry has been idle for min_idle_ms; if so, a reclaim scan starts. */
static int probe_idle(struct lfq_redis_source *s)
{
	char idle[16];
	const char *argv[] = {"XPENDING", s->stream, s->group, "IDLE", idle, "-", "+", "1"};
	const unsigned every = s->min_idle_ms / 2 > 10 ? s->min_idle_ms / 2 : 10;
	redisReply *rep;
	int rc;

	snprintf(idle, sizeof(idle), "%u", s->min_idle_ms);
	rep = redisCommandArgv(s->c, 8, argv, NULL);
	rc = reply_error(s, rep, "XPENDING IDLE");
	if (rc == 0) {
		s->next_claim_ns = now_ns() + (int64_t)every * 1000000;
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0) {
			s->claiming = true;
			strcpy(s->claim_cursor, "0-0");
		}
	}
	freeReplyObject(rep);
	return rc;
}

static int read_new(struct lfq_redis_source *s)
{
	char block[16], cnt[16];
	unsigned n = room(s) < s->batch ? room(s) : s->batch;
	/* With jobs in flight, block briefly only, so their acks go out promptly. */
	unsigned b = s->inflight > 0 && s->block_ms > 10 ? 10 : s->block_ms;
	const char *argv[] = {"XREADGROUP", "GROUP", s->group,	s->consumer, "COUNT", cnt,
			      "BLOCK",	    block,   "STREAMS", s->stream,   ">"};
	redisReply *rep;
	int rc;

	snprintf(block, sizeof(block), "%u", b);
	snprintf(cnt, sizeof(cnt), "%u", n);
	rep = redisCommandArgv(s->c, 11, argv, NULL);
	rc = reply_error(s, rep, "XREADGROUP");
	if (rc == 0)
		s->backoff_ms = BACKOFF_MIN_MS; /* the server works: the next outage starts over */
	/* Reply: nil (timeout) or [[stream, [entries...]]]. */
	if (rc == 0 && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
	    rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2 &&
	    rep->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
		rc = take_entries(s, rep->element[0]->element[1], NULL);
	freeReplyObject(rep);
	return rc;
}

/* On a clean stop: if nothing is pending for this consumer any more, it leaves the group
 * (XGROUP DELCONSUMER would drop its pending entries, hence the XPENDING check first; only
 * this consumer adds entries to its own pending list, and it reads no more). */
static void leave_group(struct lfq_redis_source *s)
{
	const char *pargv[] = {"XPENDING", s->stream, s->group, "-", "+", "1", s->consumer};
	const char *dargv[] = {"XGROUP", "DELCONSUMER", s->stream, s->group, s->consumer};
	redisReply *rep = redisCommandArgv(s->c, 7, pargv, NULL);
	bool empty = reply_error(s, rep, "XPENDING") == 0 && rep->type == REDIS_REPLY_ARRAY &&
		     rep->elements == 0;

	freeReplyObject(rep);
	if (!empty || !s->c)
		return;
	rep = redisCommandArgv(s->c, 5, dargv, NULL);
	(void)reply_error(s, rep, "XGROUP DELCONSUMER");
	freeReplyObject(rep);
}

/* After the loop: waits for the submitted jobs (renewing their leases), acknowledges them,
 * retrying with backoff until drain_timeout_ms, and leaves the group if nothing is pending.
 * Records are given up only once the pool no longer holds them: finished ones whose XACK
 * never landed (they stay pending, redelivered later), and ones the pool dropped (its
 * on_dead does not forward to lfq_redis_on_dead: the pool is idle and they never came back). */
static void finish(struct lfq_redis_source *s, bool clean)
{
	unsigned idle_rounds = 0;
	bool lost;
	int64_t deadline;

	while (s->inflight > 0 && idle_rounds < 3) {
		if (wait_acks(s, ACK_WAIT_NS)) {
			idle_rounds = 0;
		} else {
			struct lfq_pool_stats st;

			if (lfq_pool_stats(s->pool, &st, NULL, 0) == 0 && st.queued == 0 &&
			    st.running == 0 && st.delayed == 0)
				idle_rounds++;
		}
		(void)tend(s);
	}
	lost = s->inflight > 0;
	deadline = now_ns() + (int64_t)s->drain_timeout_ms * 1000000LL;
	while (s->ndone > 0 && now_ns() < deadline) {
		int rc = ensure_conn(s);

		if (rc == 0)
			rc = flush_done(s);
		if (rc == -EACCES || rc == -EPROTO || rc == -ENOMEM)
			break;
		if (s->ndone > 0)
			sleep_ms(IDLE_WAIT_NS / 1000000);
	}
	clean = clean && s->ndone == 0 && !lost;
	for (unsigned i = 0; i < s->ndone; i++)
		rec_put(s, s->done[i]);
	s->ndone = 0;
	if (lost)
		for (unsigned i = 0; i < s->max_inflight; i++)
			if (s->recs[i].state != REC_FREE)
				rec_put(s, &s->recs[i]);
	s->inflight = 0;
	if (clean && s->c)
		leave_group(s);
	drop_conn(s);
	/* A1: pairs with W1; a worker leaves push right after publishing its record. */
	for (unsigned i = 0; i < 100000 && atomic_load_explicit(&s->pushers, memory_order_acquire);
	     i++)
		sleep_ms(1);
}

int lfq_redis_source_run(struct lfq_redis_source *s)
{
	int rc = 0;

	if (!s)
		return -EINVAL;
	if (atomic_exchange_explicit(&s->running, true, memory_order_acquire))
		return -EBUSY;
	s->pool_shut = false;
	s->claiming = false;
	s->fatal = 0;
	s->next_claim_ns = 0;
	s->next_renew_ns = 0;
	s->next_connect_ns = 0;
	s->backoff_ms = BACKOFF_MIN_MS;
	s->connected_once = false;
	while (!stopping(s) && !s->pool_shut) {
		drain_acks(s);
		rc = ensure_conn(s);
		if (rc == -ECONNRESET) {
			(void)wait_acks(s, IDLE_WAIT_NS); /* until the next attempt is due */
			rc = 0;
			continue;
		}
		if (rc)
			break;
		rc = flush_done(s);
		if (rc == 0)
			rc = renew_leases(s);
		if (rc == 0 && !s->claiming && now_ns() >= s->next_claim_ns)
			rc = probe_idle(s);
		if (rc == 0 && s->claiming) {
			/* Reclaimed entries run alone: drain first, read nothing new meanwhile. */
			if (s->inflight + s->ndone > 0) {
				(void)wait_acks(s, ACK_WAIT_NS);
				continue;
			}
			rc = claim(s);
		} else if (rc == 0 && !s->fatal && room(s) == 0) {
			(void)wait_acks(s, ACK_WAIT_NS);
			continue;
		} else if (rc == 0 && !s->fatal) {
			rc = read_new(s);
		}
		if (rc == -ENOENT && s->c)
			rc = ensure_group(s); /* the server lost the group: recreate, read on */
		if (rc == -ENOENT) {
			conn_lost(s);
			rc = 0;
		}
		if (rc == -ENOSPC) { /* out of memory: what needed room waits, the rest goes on */
			(void)wait_acks(s, IDLE_WAIT_NS);
			rc = 0;
		}
		if (rc == -ECONNRESET || rc == -EINTR)
			rc = 0;
		if (rc == 0 && s->fatal)
			rc = s->fatal;
		if (rc == -ESHUTDOWN) {
			s->pool_shut = true;
			rc = 0;
		}
		if (rc)
			break;
	}
	finish(s, rc == 0);
	if (rc == 0 && s->pool_shut)
		rc = -ESHUTDOWN;
	/* S1: the request is served; a stop from now on is for the next run. */
	atomic_store_explicit(&s->stop, false, memory_order_relaxed);
	atomic_store_explicit(&s->running, false, memory_order_release);
	return rc;
}

/* ---- producer ---- */

int lfq_redis_producer_connect(struct lfq_redis_producer **out,
			       const struct lfq_redis_producer_config *cfg)
{
	struct lfq_redis_producer *p;
	char why[128];
	unsigned timeout;
	int rc;

	if (!out || !cfg || cfg->timeout_ms > LFQ_REDIS_TIMEOUT_MS_MAX)
		return -EINVAL;
	timeout = cfg->timeout_ms ? cfg->timeout_ms : 5000;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = endpoint_init(&p->ep, cfg->host, cfg->port, cfg->user, cfg->password, cfg->tls,
			   timeout);
	if (rc == 0)
		rc = endpoint_connect(&p->ep, timeout, &p->c, why, sizeof(why));
	if (rc) {
		endpoint_free(&p->ep);
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int lfq_redis_producer_create(struct lfq_redis_producer **out, const char *host, unsigned port,
			      unsigned timeout_ms)
{
	const struct lfq_redis_producer_config cfg = {
		.host = host, .port = port, .timeout_ms = timeout_ms};

	return lfq_redis_producer_connect(out, &cfg);
}

void lfq_redis_producer_destroy(struct lfq_redis_producer *p)
{
	if (!p)
		return;
	if (p->c)
		redisFree(p->c);
	endpoint_free(&p->ep);
	free(p);
}

static int produce(struct lfq_redis_producer *p, const char *stream, const char *job_id,
		   const struct lfq_redis_field *fields, size_t nfields, size_t maxlen, char *id,
		   size_t id_len)
{
	const char *argv[8 + 2 * 1024];
	size_t lens[8 + 2 * 1024];
	char ml[24], why[128];
	int argc = 0, rc;
	redisReply *rep;

	if (!p || !stream || !fields || nfields == 0 || nfields > (job_id ? 1023 : 1024) ||
	    maxlen > LFQ_REDIS_MAXLEN_MAX)
		return -EINVAL;
	if (job_id && (!name_ok(job_id) || lfq_redis_job_id(fields, nfields, NULL)))
		return -EINVAL;
	for (size_t i = 0; i < nfields; i++)
		if ((!fields[i].key && fields[i].key_len) ||
		    (!fields[i].value && fields[i].value_len))
			return -EINVAL;
	if (!p->c || p->c->err) {
		if (p->c) {
			redisFree(p->c);
			p->c = NULL;
		}
		rc = endpoint_connect(&p->ep, p->ep.timeout_ms, &p->c, why, sizeof(why));
		if (rc)
			return rc;
	}
	argv[argc] = "XADD";
	lens[argc++] = 4;
	argv[argc] = stream;
	lens[argc++] = strlen(stream);
	if (maxlen > 0) {
		snprintf(ml, sizeof(ml), "%zu", maxlen);
		argv[argc] = "MAXLEN";
		lens[argc++] = 6;
		argv[argc] = "~";
		lens[argc++] = 1;
		argv[argc] = ml;
		lens[argc++] = strlen(ml);
	}
	argv[argc] = "*";
	lens[argc++] = 1;
	if (job_id) {
		argv[argc] = LFQ_REDIS_JOB_ID_FIELD;
		lens[argc++] = sizeof(LFQ_REDIS_JOB_ID_FIELD) - 1;
		argv[argc] = job_id;
		lens[argc++] = strlen(job_id);
	}
	for (size_t i = 0; i < nfields; i++) {
		argv[argc] = fields[i].key ? fields[i].key : "";
		lens[argc++] = fields[i].key_len;
		argv[argc] = fields[i].value ? fields[i].value : "";
		lens[argc++] = fields[i].value_len;
	}
	rep = redisCommandArgv(p->c, argc, argv, lens);
	if (!rep)
		return -ECONNRESET;
	rc = 0;
	if (rep->type == REDIS_REPLY_ERROR) {
		rc = classify_error(rep);
		if (rc == -ENOENT)
			rc = -EPROTO;
		if (rc == -ENOSPC) /* out of memory: for a producer, one transient state more */
			rc = -EAGAIN;
	} else if (id && rep->type == REDIS_REPLY_STRING && rep->len < id_len) {
		memcpy(id, rep->str, rep->len + 1);
	}
	freeReplyObject(rep);
	return rc;
}

int lfq_redis_produce(struct lfq_redis_producer *p, const char *stream,
		      const struct lfq_redis_field *fields, size_t nfields, size_t maxlen, char *id,
		      size_t id_len)
{
	return produce(p, stream, NULL, fields, nfields, maxlen, id, id_len);
}

int lfq_redis_produce_job(struct lfq_redis_producer *p, const char *stream, const char *job_id,
			  const struct lfq_redis_field *fields, size_t nfields, size_t maxlen,
			  char *id, size_t id_len)
{
	if (!job_id)
		return -EINVAL;
	return produce(p, stream, job_id, fields, nfields, maxlen, id, id_len);
}
