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
 *   S1  stop: relaxed store/load; the flag carries no data, only a request to return.
 *   C1  stats counters: relaxed; a snapshot, readers need no ordering with anything.
 *   W1  a worker counts itself into `pushers` before its push (so the source, having popped
 *       the record, sees the count) and out after (release); pairs with A1.
 *   A1  finish waits (acquire) for `pushers` to be 0 after draining every record: no worker
 *       is still inside lfq_ring_push, so the ring may be destroyed.
 *
 * Record slots: max_inflight records are allocated at create; the ack ring holds as many
 * pointers, so a worker's push never finds it full (at most max_inflight records are out).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include <lfq/redis.h>
#include <lfq/ring.h>

#define ID_MAX 48
#define DETAIL_MAX 128
#define REASON_MALFORMED 100
#define CONNECT_TIMEOUT_MS 2000
#define BACKOFF_MIN_MS 10
#define SUBMIT_SLICE_NS 50000000LL
#define ACK_WAIT_NS 50000000LL

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

struct lfq_redis_source {
	char *host, *stream, *group, *consumer, *dlq;
	unsigned port, batch, block_ms, min_idle_ms, max_inflight, reconnect_max_ms;
	struct lfq_pool *pool;
	lfq_redis_decode_fn decode;
	void (*release)(void *arg, void *ctx);
	void *ctx;

	redisContext *c;
	struct lfq_ring *acks;
	struct rec *recs;
	unsigned *free_idx;
	unsigned nfree;
	struct rec **done;
	unsigned ndone;
	unsigned inflight; /* submitted, not yet drained from the ring */
	int64_t next_claim_ns;
	char claim_cursor[ID_MAX];
	bool pool_shut;

	atomic_bool stop;    /* S1 */
	atomic_bool running; /* guards against two concurrent runs */
	atomic_uint pushers; /* workers inside push_ack (W1, A1) */
	_Atomic uint64_t read, claimed, submitted, acked, dead_letters, malformed, reconnects;
};

struct lfq_redis_producer {
	redisContext *c;
	char *host;
	unsigned port;
	unsigned timeout_ms;
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
	free(s->host);
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

	if (!out || !cfg || !cfg->pool || !cfg->decode)
		return -EINVAL;
	if (!name_ok(cfg->stream) || !name_ok(cfg->group) || !name_ok(cfg->consumer) ||
	    !name_ok(cfg->dead_letter_stream) || (cfg->host && !name_ok(cfg->host)))
		return -EINVAL;
	if (strcmp(cfg->stream, cfg->dead_letter_stream) == 0 || cfg->port > 65535 ||
	    cfg->batch > LFQ_REDIS_BATCH_MAX)
		return -EINVAL;
	batch = cfg->batch ? cfg->batch : LFQ_REDIS_DEFAULT_BATCH;
	inflight =
		cfg->max_inflight ? cfg->max_inflight : LFQ_REDIS_DEFAULT_INFLIGHT_BATCHES * batch;
	if (inflight < batch || inflight > LFQ_REDIS_INFLIGHT_MAX)
		return -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->port = cfg->port ? cfg->port : 6379;
	s->batch = batch;
	s->max_inflight = inflight;
	s->block_ms = cfg->block_ms ? cfg->block_ms : LFQ_REDIS_DEFAULT_BLOCK_MS;
	s->min_idle_ms = cfg->min_idle_ms ? cfg->min_idle_ms : LFQ_REDIS_DEFAULT_MIN_IDLE_MS;
	s->reconnect_max_ms = cfg->reconnect_max_ms ? cfg->reconnect_max_ms : 2000;
	s->pool = cfg->pool;
	s->decode = cfg->decode;
	s->release = cfg->release;
	s->ctx = cfg->ctx;
	s->host = strdup(cfg->host ? cfg->host : "127.0.0.1");
	s->stream = strdup(cfg->stream);
	s->group = strdup(cfg->group);
	s->consumer = strdup(cfg->consumer);
	s->dlq = strdup(cfg->dead_letter_stream);
	s->recs = calloc(inflight, sizeof(*s->recs));
	s->free_idx = calloc(inflight, sizeof(*s->free_idx));
	s->done = calloc(inflight, sizeof(*s->done));
	if (!s->host || !s->stream || !s->group || !s->consumer || !s->dlq || !s->recs ||
	    !s->free_idx || !s->done || lfq_ring_create(&s->acks, inflight, 0) != 0) {
		lfq_redis_source_destroy(s);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < inflight; i++) {
		s->recs[i].src = s;
		s->free_idx[i] = inflight - 1 - i;
	}
	s->nfree = inflight;
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

/* ---- source: connection ---- */

static void drop_conn(struct lfq_redis_source *s)
{
	if (s->c) {
		redisFree(s->c);
		s->c = NULL;
	}
}

/* A reply of NULL means the connection failed: -ECONNRESET. An error reply: -EPROTO, or
 * -ENOENT for NOGROUP (the stream or group vanished, e.g. a server restart without data). */
static int reply_error(struct lfq_redis_source *s, const redisReply *r)
{
	if (!r) {
		drop_conn(s);
		return -ECONNRESET;
	}
	if (r->type == REDIS_REPLY_ERROR)
		return strncmp(r->str, "NOGROUP", 7) == 0 ? -ENOENT : -EPROTO;
	return 0;
}

static int ensure_group(struct lfq_redis_source *s)
{
	const char *argv[] = {"XGROUP", "CREATE", s->stream, s->group, "0", "MKSTREAM"};
	redisReply *r = redisCommandArgv(s->c, 6, argv, NULL);
	int rc = reply_error(s, r);

	if (rc == -EPROTO && strncmp(r->str, "BUSYGROUP", 9) == 0)
		rc = 0;
	freeReplyObject(r);
	return rc;
}

/* Connects (with capped exponential backoff) and makes sure the group exists. Returns 0, or
 * -EINTR if a stop came first, or -EPROTO. */
static int connect_source(struct lfq_redis_source *s, bool reconnect)
{
	unsigned backoff = BACKOFF_MIN_MS;

	while (!stopping(s)) {
		s->c = redisConnectWithTimeout(s->host, (int)s->port, tv_ms(CONNECT_TIMEOUT_MS));
		if (s->c && !s->c->err &&
		    redisSetTimeout(s->c, tv_ms(s->block_ms + 5000)) == REDIS_OK) {
			int rc = ensure_group(s);

			if (rc == 0) {
				if (reconnect)
					count(&s->reconnects, 1);
				return 0;
			}
			if (rc == -EPROTO) {
				drop_conn(s);
				return rc;
			}
		}
		drop_conn(s);
		for (unsigned slept = 0; slept < backoff && !stopping(s); slept += 10)
			sleep_ms(10);
		backoff = backoff * 2 > s->reconnect_max_ms ? s->reconnect_max_ms : backoff * 2;
	}
	return -EINTR;
}

/* ---- source: acks and dead letters ---- */

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
	int rc = reply_error(s, orig);

	if (rc) {
		freeReplyObject(orig);
		return rc;
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
	rc = reply_error(s, rep);
	freeReplyObject(rep);
	if (rc == 0) {
		r->dlq_written = true;
		count(&s->dead_letters, 1);
	}
	return rc;
}

/* Dead-letters the dead records among the done ones, then XACKs all of them in one command,
 * then frees them. Cancelled jobs are freed without an ack (redelivered later). On an error
 * nothing is freed that was not acknowledged. */
static int flush_done(struct lfq_redis_source *s)
{
	const char **argv;
	unsigned nack = 0;
	redisReply *rep;
	int rc;

	if (s->ndone == 0)
		return 0;
	for (unsigned i = 0; i < s->ndone; i++) {
		struct rec *r = s->done[i];

		if (r->dead_reason && r->dead_reason != LFQ_DEAD_CANCELLED && !r->dlq_written) {
			rc = dead_letter(s, r);
			if (rc)
				return rc;
		}
	}
	argv = calloc(3 + s->ndone, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	argv[0] = "XACK";
	argv[1] = s->stream;
	argv[2] = s->group;
	for (unsigned i = 0; i < s->ndone; i++)
		if (s->done[i]->dead_reason != LFQ_DEAD_CANCELLED)
			argv[3 + nack++] = s->done[i]->id;
	rc = 0;
	if (nack > 0) {
		rep = redisCommandArgv(s->c, 3 + (int)nack, argv, NULL);
		rc = reply_error(s, rep);
		if (rc == -ENOENT)
			rc = 0; /* the group is gone: nothing left to acknowledge */
		freeReplyObject(rep);
	}
	free(argv);
	if (rc)
		return rc;
	count(&s->acked, nack);
	for (unsigned i = 0; i < s->ndone; i++)
		rec_put(s, s->done[i]);
	s->ndone = 0;
	return 0;
}

/* ---- source: entries ---- */

/* Takes one entry ([id, [k, v, ...]]): decodes and submits it, or marks it malformed. Returns
 * 0, or -ESHUTDOWN / -EINTR when the entry was left pending (pool shut down, stop). */
static int take_entry(struct lfq_redis_source *s, const redisReply *e, bool claimed)
{
	struct lfq_redis_field fields[64], *fv = fields;
	const redisReply *kv;
	struct lfq_job job;
	const char *why = NULL;
	struct rec *r;
	size_t nf;
	int rc;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= ID_MAX)
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
		/* Pool full: keep acknowledging what finishes while we wait. */
		drain_acks(s);
		if (s->c)
			(void)flush_done(s);
		if (stopping(s))
			break;
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
	if (rc == -ESHUTDOWN)
		s->pool_shut = true;
	return rc == -ESHUTDOWN ? -ESHUTDOWN : -EINTR;

malformed:
	count(&s->malformed, 1);
	r->dead_reason = REASON_MALFORMED;
	snprintf(r->detail, sizeof(r->detail), "%s", why);
	r->state = REC_DONE;
	s->done[s->ndone++] = r;
	return 0;
}

static int take_entries(struct lfq_redis_source *s, const redisReply *list, bool claimed)
{
	for (size_t i = 0; i < list->elements; i++) {
		int rc;

		if (s->pool_shut || stopping(s))
			return 0; /* the rest stays pending */
		rc = take_entry(s, list->element[i], claimed);
		if (rc == -ESHUTDOWN)
			return rc;
	}
	return 0;
}

static unsigned room(const struct lfq_redis_source *s)
{
	return s->max_inflight - (s->inflight + s->ndone);
}

static int claim(struct lfq_redis_source *s)
{
	char idle[16], cnt[16];
	unsigned n = room(s) < s->batch ? room(s) : s->batch;
	const char *argv[] = {"XAUTOCLAIM", s->stream,	     s->group, s->consumer,
			      idle,	    s->claim_cursor, "COUNT",  cnt};
	redisReply *rep;
	int rc;

	if (n == 0)
		return 0;
	snprintf(idle, sizeof(idle), "%u", s->min_idle_ms);
	snprintf(cnt, sizeof(cnt), "%u", n);
	rep = redisCommandArgv(s->c, 8, argv, NULL);
	rc = reply_error(s, rep);
	if (rc == 0 && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
	    rep->element[0]->type == REDIS_REPLY_STRING && rep->element[0]->len < ID_MAX &&
	    rep->element[1]->type == REDIS_REPLY_ARRAY) {
		memcpy(s->claim_cursor, rep->element[0]->str, rep->element[0]->len + 1);
		rc = take_entries(s, rep->element[1], true);
		if (strcmp(s->claim_cursor, "0-0") == 0) {
			unsigned every = s->min_idle_ms / 2 > 10 ? s->min_idle_ms / 2 : 10;

			s->next_claim_ns = now_ns() + (int64_t)every * 1000000;
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
	rc = reply_error(s, rep);
	/* Reply: nil (timeout) or [[stream, [entries...]]]. */
	if (rc == 0 && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
	    rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2 &&
	    rep->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
		rc = take_entries(s, rep->element[0]->element[1], false);
	freeReplyObject(rep);
	return rc;
}

/* After a stop: waits for the submitted jobs, acknowledging them. Gives up on jobs the pool
 * no longer holds (its on_dead does not forward to lfq_redis_on_dead), and on acks the server
 * does not take after a few reconnects: those entries stay pending. */
static void finish(struct lfq_redis_source *s)
{
	unsigned idle_rounds = 0, attempts = 0;

	while (s->inflight > 0 && idle_rounds < 3) {
		void *item;

		if (lfq_ring_pop_wait(s->acks, &item, ACK_WAIT_NS) == 0) { /* P2 */
			struct rec *r = item;

			r->state = REC_DONE;
			s->done[s->ndone++] = r;
			s->inflight--;
			drain_acks(s);
			idle_rounds = 0;
		} else {
			struct lfq_pool_stats st;

			if (lfq_pool_stats(s->pool, &st, NULL, 0) == 0 && st.queued == 0 &&
			    st.running == 0 && st.delayed == 0)
				idle_rounds++;
		}
		if (s->c && s->ndone >= s->batch)
			(void)flush_done(s);
	}
	while (s->ndone > 0 && attempts++ < 3) {
		if (!s->c) {
			s->c = redisConnectWithTimeout(s->host, (int)s->port,
						       tv_ms(CONNECT_TIMEOUT_MS));
			if (!s->c || s->c->err) {
				drop_conn(s);
				sleep_ms(BACKOFF_MIN_MS << attempts);
				continue;
			}
			(void)redisSetTimeout(s->c, tv_ms(CONNECT_TIMEOUT_MS));
		}
		(void)flush_done(s);
	}
	for (unsigned i = 0; i < s->ndone; i++)
		rec_put(s, s->done[i]);
	s->ndone = 0;
	/* Jobs lost by the pool: their records are released without an ack. */
	for (unsigned i = 0; i < s->max_inflight; i++)
		if (s->recs[i].state != REC_FREE)
			rec_put(s, &s->recs[i]);
	s->inflight = 0;
	drop_conn(s);
	/* A1: pairs with W1; a worker leaves push right after publishing its record. */
	for (unsigned i = 0; i < 100000 && atomic_load_explicit(&s->pushers, memory_order_acquire);
	     i++)
		sleep_ms(1);
}

int lfq_redis_source_run(struct lfq_redis_source *s)
{
	int rc = 0;
	bool ever = false;

	if (!s)
		return -EINVAL;
	if (atomic_exchange_explicit(&s->running, true, memory_order_acquire))
		return -EBUSY;
	s->pool_shut = false;
	s->next_claim_ns = 0;
	while (!stopping(s) && !s->pool_shut) {
		if (!s->c) {
			rc = connect_source(s, ever);
			if (rc == -EINTR) {
				rc = 0;
				break;
			}
			if (rc)
				break;
			ever = true;
		}
		drain_acks(s);
		rc = flush_done(s);
		if (rc == 0 && now_ns() >= s->next_claim_ns)
			rc = claim(s);
		if (rc == 0 && room(s) == 0) {
			void *item;

			if (lfq_ring_pop_wait(s->acks, &item, ACK_WAIT_NS) == 0) { /* P2 */
				struct rec *r = item;

				r->state = REC_DONE;
				s->done[s->ndone++] = r;
				s->inflight--;
			}
			continue;
		}
		if (rc == 0)
			rc = read_new(s);
		if (rc == -ENOENT && s->c)
			rc = ensure_group(s); /* the server lost the group: recreate, read on */
		if (rc == -ECONNRESET || rc == -ENOENT) {
			drop_conn(s);
			rc = 0;
			continue;
		}
		if (rc == -ESHUTDOWN) {
			s->pool_shut = true;
			rc = 0;
		}
		if (rc)
			break;
	}
	finish(s);
	if (rc == 0 && s->pool_shut)
		rc = -ESHUTDOWN;
	atomic_store_explicit(&s->running, false, memory_order_release);
	return rc;
}

/* ---- producer ---- */

static int producer_connect(struct lfq_redis_producer *p)
{
	p->c = redisConnectWithTimeout(p->host, (int)p->port, tv_ms(p->timeout_ms));
	if (!p->c)
		return -ENOMEM;
	if (p->c->err || redisSetTimeout(p->c, tv_ms(p->timeout_ms)) != REDIS_OK) {
		redisFree(p->c);
		p->c = NULL;
		return -ECONNREFUSED;
	}
	return 0;
}

int lfq_redis_producer_create(struct lfq_redis_producer **out, const char *host, unsigned port,
			      unsigned timeout_ms)
{
	struct lfq_redis_producer *p;
	int rc;

	if (!out || port > 65535 || (host && !name_ok(host)))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->host = strdup(host ? host : "127.0.0.1");
	if (!p->host) {
		free(p);
		return -ENOMEM;
	}
	p->port = port ? port : 6379;
	p->timeout_ms = timeout_ms ? timeout_ms : 5000;
	rc = producer_connect(p);
	if (rc) {
		free(p->host);
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void lfq_redis_producer_destroy(struct lfq_redis_producer *p)
{
	if (!p)
		return;
	if (p->c)
		redisFree(p->c);
	free(p->host);
	free(p);
}

int lfq_redis_produce(struct lfq_redis_producer *p, const char *stream,
		      const struct lfq_redis_field *fields, size_t nfields, size_t maxlen, char *id,
		      size_t id_len)
{
	const char *argv[6 + 2 * 1024];
	size_t lens[6 + 2 * 1024];
	char ml[24];
	int argc = 0, rc;
	redisReply *rep;

	if (!p || !stream || !fields || nfields == 0 || nfields > 1024)
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
		rc = producer_connect(p);
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
	if (rep->type == REDIS_REPLY_ERROR)
		rc = -EPROTO;
	else if (id && rep->type == REDIS_REPLY_STRING && rep->len < id_len)
		memcpy(id, rep->str, rep->len + 1);
	freeReplyObject(rep);
	return rc;
}
