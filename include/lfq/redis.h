/* SPDX-License-Identifier: MIT */
/**
 * @file redis.h
 * lfq_redis: feeds an lfq_pool from a Redis stream through a consumer group, so that several
 * processes (on several machines) share one durable job queue. Built only when hiredis is
 * found (Meson feature `redis`); linked as liblfq_redis (dependency `lfq_redis_dep`).
 * Needs Redis 6.2 or newer (XAUTOCLAIM, XPENDING IDLE, AUTH with a user name).
 *
 * A source reads entries with XREADGROUP (blocking with a timeout), turns each into a job
 * through a user callback and submits it to a local pool with lfq_pool_submit_wait, so that it
 * stops reading while the pool is full (backpressure). An entry is XACKed only after its job
 * succeeded, or after it was dead-lettered (XADDed to the dead-letter stream, then XACKed).
 * Workers hand finished entries back to the source thread through a lock-free lfq_ring; the
 * source acknowledges them in batches. While a job waits or runs, the source renews its
 * entry's lease (XCLAIM ... JUSTID every min_idle_ms / 3, which resets the entry's idle time
 * without counting a delivery), so other consumers never reclaim live work. Entries left
 * pending by a consumer that died are reclaimed with XAUTOCLAIM once they were idle for
 * min_idle_ms; an entry delivered more than max_deliveries times (a poison entry, one that
 * keeps killing its consumers) is dead-lettered instead of run again.
 *
 * Connection losses and transient server states (the error replies LOADING, BUSY,
 * MASTERDOWN, TRYAGAIN, READONLY, CLUSTERDOWN, OOM, MISCONF, NOREPLICAS and "ERR max number
 * of clients reached") are not errors: the source drops the connection, backs off (capped
 * exponential, with jitter) and reconnects, as long as it takes; finished entries wait in
 * memory and are acknowledged once the server takes commands again. Nothing is acknowledged
 * that did not finish.
 *
 * Delivery is at least once: a job may run more than once (a consumer died after the job ran
 * but before its XACK, the source could not renew a lease for min_idle_ms because the server
 * was unreachable). Jobs must be idempotent, or deduplicated on a job id (see
 * LFQ_REDIS_JOB_ID_FIELD). See docs/scale-out.md.
 *
 * The pool's on_dead hook must forward to lfq_redis_on_dead, or dead jobs are neither
 * dead-lettered nor acknowledged (they are then redelivered after min_idle_ms).
 *
 * TLS: used only when liblfq_redis was built against a hiredis with TLS support (hiredis 1.0
 * or newer with hiredis_ssl; Debian 12's hiredis 0.14 has none). lfq_redis_tls_supported says
 * which; without it a configuration that asks for TLS is refused with -ENOTSUP.
 *
 * Errors are negative errno values; nothing sets `errno`. The library never prints, never
 * exits and installs no signal handlers. hiredis writes to its sockets with write(2): a process
 * that may lose a connection should ignore SIGPIPE itself.
 */
#ifndef LFQ_REDIS_H
#define LFQ_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lfq/common.h>
#include <lfq/pool.h>

#ifdef __cplusplus
extern "C" {
#endif

/** batch used when the config says 0. */
#define LFQ_REDIS_DEFAULT_BATCH 16
/** Largest batch (entries per XREADGROUP) accepted. */
#define LFQ_REDIS_BATCH_MAX 4096
/** block_ms used when the config says 0. */
#define LFQ_REDIS_DEFAULT_BLOCK_MS 500
/** min_idle_ms used when the config says 0: 60 s. */
#define LFQ_REDIS_DEFAULT_MIN_IDLE_MS 60000
/** max_inflight used when the config says 0: 4 batches. */
#define LFQ_REDIS_DEFAULT_INFLIGHT_BATCHES 4
/** Largest max_inflight accepted. */
#define LFQ_REDIS_INFLIGHT_MAX 65536
/** Longest stream, group, consumer, host or user name, or job id accepted (bytes, without
 *  the NUL). */
#define LFQ_REDIS_NAME_MAX 255
/** Longest password accepted (bytes, without the NUL). */
#define LFQ_REDIS_PASSWORD_MAX 1024
/** Largest maxlen accepted by lfq_redis_produce (the server's limit: a signed 64-bit count). */
#define LFQ_REDIS_MAXLEN_MAX ((size_t)INT64_MAX)
/** Largest block_ms and reconnect_max_ms accepted: one hour. */
#define LFQ_REDIS_TIMEOUT_MS_MAX 3600000
/** max_deliveries used when the config says 0. */
#define LFQ_REDIS_DEFAULT_MAX_DELIVERIES 16
/** drain_timeout_ms used when the config says 0: 30 s. */
#define LFQ_REDIS_DEFAULT_DRAIN_TIMEOUT_MS 30000
/** The field lfq_redis_produce_job sets to the job id, and lfq_redis_job_id finds. */
#define LFQ_REDIS_JOB_ID_FIELD "lfq_job_id"

/** One field of a stream entry: binary-safe key and value (not NUL-terminated). */
struct lfq_redis_field {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
};

/**
 * Turns a stream entry into a job. Called on the source thread, one entry at a time.
 * @param id       the entry id ("ms-seq"), NUL-terminated, valid during the call.
 * @param fields   the entry's fields, valid during the call only.
 * @param job      out: zero-filled on entry; set at least fn. fn, arg, deadline_ns,
 *                 max_attempts and priority are used; the rest must stay zero.
 * @param reason   out: on error, a short human-readable reason (static or valid until the
 *                 callback is called again), written to the dead-letter entry; may be left
 *                 NULL.
 * @return 0 to submit the job; anything else: the entry is malformed and goes to the
 *         dead-letter stream (reason "malformed") and is acknowledged, without running.
 */
typedef int (*lfq_redis_decode_fn)(const char *id, const struct lfq_redis_field *fields,
				   size_t nfields, struct lfq_job *job, const char **reason,
				   void *ctx);

/**
 * TLS settings (used only when lfq_redis_tls_supported() is true). Every field may be NULL;
 * the server's certificate is always verified (against ca_file / ca_path, or the system's
 * default CAs when both are NULL). cert_file and key_file (a client certificate) go together.
 */
struct lfq_redis_tls {
	const char *ca_file;	 /**< PEM file of trusted CAs */
	const char *ca_path;	 /**< directory of trusted CAs */
	const char *cert_file;	 /**< client certificate (PEM) */
	const char *key_file;	 /**< its private key (PEM) */
	const char *server_name; /**< SNI server name; NULL: none sent */
};

/** How to build a source. Zero means the default for every field marked so. */
struct lfq_redis_source_config {
	/** Server address, an IPv4/IPv6 literal or host name; NULL: "127.0.0.1". */
	const char *host;
	/** Server port; 0: 6379. */
	unsigned port;
	/** ACL user name for AUTH (Redis 6+); NULL: the default user. Needs password. */
	const char *user;
	/** Password for AUTH after every connect; NULL: no AUTH. Copied; wiped at destroy. */
	const char *password;
	/** TLS settings; NULL: plain TCP. Non-NULL without TLS support: -ENOTSUP at create. */
	const struct lfq_redis_tls *tls;
	/** The stream to read (required). */
	const char *stream;
	/** The consumer group (required); created at the stream's start ("0") with MKSTREAM if
	 *  it does not exist, so entries added before the first consumer started are read. */
	const char *group;
	/** This consumer's name in the group (required); unique per live process. */
	const char *consumer;
	/** The stream dead letters are XADDed to (required; must differ from stream). */
	const char *dead_letter_stream;
	/** Entries per XREADGROUP / XAUTOCLAIM; 0: LFQ_REDIS_DEFAULT_BATCH. */
	unsigned batch;
	/** How long one XREADGROUP blocks when nothing is in flight; 0:
	 *  LFQ_REDIS_DEFAULT_BLOCK_MS; at most LFQ_REDIS_TIMEOUT_MS_MAX. Bounds how long
	 *  lfq_redis_source_stop takes to be seen. */
	unsigned block_ms;
	/** Pending entries idle at least this long are reclaimed with XAUTOCLAIM (from any
	 *  consumer of the group, this one included). The leases of the entries this source
	 *  holds are renewed every min_idle_ms / 3, so jobs may run longer than this; it only
	 *  has to exceed the longest time the source thread may go without a round trip to the
	 *  server (a server outage: see docs/scale-out.md). 0: LFQ_REDIS_DEFAULT_MIN_IDLE_MS. */
	unsigned min_idle_ms;
	/** An entry reclaimed with a delivery count (XPENDING) above this is dead-lettered
	 *  (reason "poison") instead of run again. 0: LFQ_REDIS_DEFAULT_MAX_DELIVERIES. */
	unsigned max_deliveries;
	/** After a stop, how long the source keeps trying (with backoff) to acknowledge the
	 *  entries whose jobs finished, while the server is unreachable or busy; entries still
	 *  unacknowledged then stay pending (they are redelivered: duplicates).
	 *  0: LFQ_REDIS_DEFAULT_DRAIN_TIMEOUT_MS. */
	unsigned drain_timeout_ms;
	/** Most entries read and not yet acknowledged by this source (the in-flight window,
	 *  which bounds the duplicates a crash can cause); at least batch;
	 *  0: LFQ_REDIS_DEFAULT_INFLIGHT_BATCHES * batch. At most LFQ_REDIS_INFLIGHT_MAX. */
	unsigned max_inflight;
	/** Longest backoff between reconnect attempts (they start at 10 ms and double; each
	 *  wait is drawn uniformly from [backoff / 2, backoff]); the backoff resets after a
	 *  successful read. 0: 2000 ms; at most LFQ_REDIS_TIMEOUT_MS_MAX. */
	unsigned reconnect_max_ms;
	/** The pool jobs are submitted to (required). Its on_dead must call lfq_redis_on_dead. */
	struct lfq_pool *pool;
	/** Turns entries into jobs (required). */
	lfq_redis_decode_fn decode;
	/** Called on the source thread once the job of an entry is finished for this source
	 *  (acknowledged, dead-lettered, or given up because the pool shut down), with the
	 *  job's arg: a place to free it. NULL: nothing is called. */
	void (*release)(void *arg, void *ctx);
	/** Log hook, called on the source thread: connection lost (WARN, fields "command" and
	 *  "error"), a connect attempt failed (WARN, "error"), a transient server state (WARN,
	 *  "command" and "reply"), reconnected (INFO), credentials refused (ERROR, "reply"), a
	 *  command refused for good (ERROR, "command" and "reply"), an entry dead-lettered as
	 *  poison (WARN, "id" and "deliveries"), an entry reclaimed from another consumer with
	 *  XAUTOCLAIM (INFO "redis entry reclaimed", "id" and "deliveries": 0 when unknown).
	 *  Fields are valid during the call only. NULL:
	 *  nothing is logged. */
	void (*log)(int level, const char *msg, const struct lfq_log_field *fields, size_t nfields,
		    void *ctx);
	/** Passed to decode, release and log. */
	void *ctx;
};

/** Counters of a source (a snapshot; see lfq_redis_source_stats). */
struct lfq_redis_source_stats {
	uint64_t read;	       /**< entries received (XREADGROUP and XAUTOCLAIM) */
	uint64_t claimed;      /**< of which reclaimed with XAUTOCLAIM */
	uint64_t submitted;    /**< jobs accepted by the pool */
	uint64_t acked;	       /**< entries acknowledged (done or dead-lettered) */
	uint64_t dead_letters; /**< entries XADDed to the dead-letter stream */
	uint64_t malformed;    /**< of which rejected by decode */
	uint64_t reconnects;   /**< successful reconnections after a connection loss */
	uint64_t transient;    /**< transient error replies (LOADING, BUSY, ...) seen */
	uint64_t poison;       /**< entries dead-lettered for too many deliveries */
	uint64_t renewed;      /**< lease renewals (entries whose idle time XCLAIM reset) */
};

/** An opaque stream source. */
struct lfq_redis_source;

/**
 * Creates a source; does not connect yet (lfq_redis_source_run does).
 * @param src  out: the new source; untouched on error.
 * @param cfg  the configuration, read during the call only (strings are copied).
 * @return 0 on success;
 *         -EINVAL if @p src or @p cfg is NULL, stream, group, consumer, dead_letter_stream,
 *                 pool or decode is missing, a name is empty or longer than
 *                 LFQ_REDIS_NAME_MAX, dead_letter_stream equals stream, port > 65535,
 *                 batch > LFQ_REDIS_BATCH_MAX, max_inflight is below batch or above
 *                 LFQ_REDIS_INFLIGHT_MAX, block_ms or reconnect_max_ms is above
 *                 LFQ_REDIS_TIMEOUT_MS_MAX, user is set without password, or password is
 *                 empty or longer than LFQ_REDIS_PASSWORD_MAX;
 *         -ENOTSUP if tls is set and the library has no TLS support;
 *         -EIO if the TLS settings could not be loaded (a certificate or key file);
 *         -ENOMEM if memory runs out.
 * Thread-safety: any thread.
 */
LFQ_API LFQ_NODISCARD int lfq_redis_source_create(struct lfq_redis_source **src,
						  const struct lfq_redis_source_config *cfg);

/**
 * Runs the source on the calling thread until lfq_redis_source_stop is called or the pool
 * shuts down. Connection losses and transient server states (see the top of this file) are
 * not errors: it reconnects with capped, jittered exponential backoff, as long as it takes.
 * Before returning it waits for the jobs it submitted to finish and acknowledges them,
 * retrying with backoff for up to drain_timeout_ms (entries it cannot acknowledge stay
 * pending and are redelivered after min_idle_ms). If then nothing is pending for this
 * consumer, it removes itself from the group (XGROUP DELCONSUMER). The stop request is
 * cleared when run returns, so the source can be run again.
 * @return 0 after a stop;
 *         -ESHUTDOWN if the pool was shut down (entries not yet submitted stay pending);
 *         -EACCES if the server refused the credentials (wrong password or user, NOAUTH: a
 *                 password is needed) or the ACL user may not run a command the source needs
 *                 (NOPERM); returned at once, without retrying;
 *         -EPROTO if the server answered a command with an error that retrying cannot fix
 *                 (the stream or dead-letter key holds another type, a server older than
 *                 6.2 without XAUTOCLAIM);
 *         -ENOMEM if memory for a dead letter ran out;
 *         -EBUSY if the source is already running on another thread;
 *         -EINVAL if @p src is NULL.
 *         After -EACCES, -EPROTO or -ENOMEM the source can be run again.
 * Thread-safety: one thread at a time per source; may sleep.
 */
LFQ_API LFQ_NODISCARD int lfq_redis_source_run(struct lfq_redis_source *src);

/**
 * Asks a running (or the next) lfq_redis_source_run to return; it notices within about
 * block_ms (or 10 ms while reconnecting), then drains its in-flight jobs. The request is
 * cleared when that run returns.
 * Thread-safety: any thread, signal handlers included (one atomic store); wait-free.
 */
LFQ_API void lfq_redis_source_stop(struct lfq_redis_source *src);

/**
 * Frees the source. NULL is accepted and ignored.
 * Thread-safety: not while lfq_redis_source_run runs on it, and only once every job it
 * submitted has finished (lfq_redis_source_run returned, or the pool was shut down).
 */
LFQ_API void lfq_redis_source_destroy(struct lfq_redis_source *src);

/**
 * Copies the source's counters. A snapshot: may be stale while the source runs.
 * @return 0, or -EINVAL if @p src or @p stats is NULL.
 * Thread-safety: any thread; wait-free.
 */
LFQ_API LFQ_NODISCARD int lfq_redis_source_stats(const struct lfq_redis_source *src,
						 struct lfq_redis_source_stats *stats);

/**
 * The pool's on_dead hook must call this (with the arguments it got). For a job submitted by
 * a source it records the death: failed, exhausted and expired jobs are dead-lettered (with
 * the reason, attempts and last result) and acknowledged; cancelled jobs (a shutdown's drain
 * timeout) are left pending, to be redelivered.
 * @return true if @p job came from a source (it is now handled), false otherwise.
 * Thread-safety: any thread; lock-free.
 */
LFQ_API bool lfq_redis_on_dead(const struct lfq_job *job, int reason, unsigned attempts,
			       int last_result);

/**
 * Finds the job id a producer set with lfq_redis_produce_job (the field
 * LFQ_REDIS_JOB_ID_FIELD) among an entry's fields, for a decode callback: jobs that must not
 * take effect twice record their job id (for instance `SET done:<id> 1 NX` in the same
 * transaction as their effect) and skip ids already recorded. See docs/scale-out.md.
 * @param len  out (may be NULL): the id's length.
 * @return the id (not NUL-terminated, valid as long as @p fields), or NULL if the entry has
 *         no job id field or @p fields is NULL.
 * Thread-safety: any thread; wait-free.
 */
LFQ_API const char *lfq_redis_job_id(const struct lfq_redis_field *fields, size_t nfields,
				     size_t *len);

/**
 * Copies the value of the field named @p key (the first one, if several) into @p buf as a
 * NUL-terminated string: entry fields are binary-safe and not NUL-terminated, and a decode
 * callback usually wants a C string (for strtol, a file name, a log line).
 * @param key  a NUL-terminated field name.
 * @param buf  out: the value and a NUL; truncated to @p len - 1 bytes if it is longer; "" if
 *             there is no such field.
 * @return 0 if the whole value fit;
 *         -ENOSPC if it did not (buf holds its first len - 1 bytes);
 *         -ENOENT if there is no field @p key;
 *         -EINVAL if @p fields, @p key or @p buf is NULL, or @p len is 0.
 * A value with a NUL byte inside is copied whole; strlen(buf) then stops at it.
 * Thread-safety: any thread; wait-free.
 */
LFQ_API LFQ_NODISCARD int lfq_redis_field_get(const struct lfq_redis_field *fields, size_t nfields,
					      const char *key, char *buf, size_t len);

/**
 * Says whether this liblfq_redis was built with TLS support (a hiredis with hiredis_ssl).
 * Thread-safety: any thread; wait-free.
 */
LFQ_API bool lfq_redis_tls_supported(void);

/** An opaque producer connection. */
struct lfq_redis_producer;

/** How to connect a producer. Zero means the default for every field marked so. */
struct lfq_redis_producer_config {
	const char *host;		 /**< NULL: "127.0.0.1" */
	unsigned port;			 /**< 0: 6379 */
	unsigned timeout_ms;		 /**< connect and command timeout; 0: 5000 */
	const char *user;		 /**< ACL user for AUTH; NULL: default user */
	const char *password;		 /**< NULL: no AUTH */
	const struct lfq_redis_tls *tls; /**< NULL: plain TCP */
};

/**
 * Connects a producer, authenticating if the config has a password.
 * @param p    out: the producer; untouched on error.
 * @param cfg  read during the call only (strings are copied).
 * @return 0 on success;
 *         -EINVAL if @p p or @p cfg is NULL, port > 65535, timeout_ms is above
 *                 LFQ_REDIS_TIMEOUT_MS_MAX, a name is too long, user is set without
 *                 password, or password is empty or too long (as for sources);
 *         -EACCES if the server refused the credentials;
 *         -ENOTSUP if tls is set and the library has no TLS support;
 *         -EIO if the TLS settings could not be loaded;
 *         -ECONNREFUSED if the server cannot be reached (or the TLS handshake failed);
 *         -EAGAIN if the server answered AUTH with a transient state (see the top);
 *         -ENOMEM if memory runs out.
 * Thread-safety: any thread.
 */
LFQ_API LFQ_NODISCARD int lfq_redis_producer_connect(struct lfq_redis_producer **p,
						     const struct lfq_redis_producer_config *cfg);

/**
 * Connects a producer without AUTH or TLS: lfq_redis_producer_connect with only host, port
 * and timeout_ms set.
 * @param host        NULL: "127.0.0.1".
 * @param port        0: 6379.
 * @param timeout_ms  connect and command timeout; 0: 5000.
 * @return 0 on success;
 *         -EINVAL if @p p is NULL, @p host is empty or too long, @p port > 65535 or
 *                 @p timeout_ms > LFQ_REDIS_TIMEOUT_MS_MAX;
 *         -ECONNREFUSED if the server cannot be reached;
 *         -ENOMEM if memory runs out.
 * Thread-safety: any thread.
 */
LFQ_API LFQ_NODISCARD int lfq_redis_producer_create(struct lfq_redis_producer **p, const char *host,
						    unsigned port, unsigned timeout_ms);

/** Closes and frees the producer; NULL is ignored. Not concurrently with other calls on it. */
LFQ_API void lfq_redis_producer_destroy(struct lfq_redis_producer *p);

/**
 * Appends one entry to @p stream (XADD, with `MAXLEN ~ maxlen` if @p maxlen > 0: old entries
 * may be trimmed, pending or not). After a connection loss the next call reconnects first.
 * @param fields   at least one field.
 * @param id       out (may be NULL): the new entry's id, NUL-terminated, if @p id_len is
 *                 large enough (48 bytes always are).
 * @return 0 if the server added the entry;
 *         -EINVAL if an argument is NULL, @p nfields is 0 or above 1024, or @p maxlen is
 *                 above LFQ_REDIS_MAXLEN_MAX;
 *         -ECONNRESET (or another negated errno) if the connection failed: the entry may
 *                 or may not have been added (a retry may add it twice: use a job id);
 *         -EAGAIN if the server is in a transient state (LOADING, OOM, READONLY, ...; see
 *                 the top): the entry was not added, try again later;
 *         -EACCES if the server refused the credentials (NOAUTH, WRONGPASS, NOPERM);
 *         -EPROTO if the server answered with another error (the key holds another type).
 * Thread-safety: one thread at a time per producer; may sleep (one round trip).
 */
LFQ_API LFQ_NODISCARD int lfq_redis_produce(struct lfq_redis_producer *p, const char *stream,
					    const struct lfq_redis_field *fields, size_t nfields,
					    size_t maxlen, char *id, size_t id_len);

/**
 * lfq_redis_produce with a job id: adds the field LFQ_REDIS_JOB_ID_FIELD = @p job_id before
 * @p fields, so that a retry after -ECONNRESET (which may add the entry twice) can be
 * deduplicated by the consumers (lfq_redis_job_id).
 * @return as lfq_redis_produce, and -EINVAL if @p job_id is NULL, empty or longer than
 *         LFQ_REDIS_NAME_MAX, @p nfields is above 1023, or @p fields has a job id field.
 * Thread-safety: one thread at a time per producer; may sleep (one round trip).
 */
LFQ_API LFQ_NODISCARD int lfq_redis_produce_job(struct lfq_redis_producer *p, const char *stream,
						const char *job_id,
						const struct lfq_redis_field *fields,
						size_t nfields, size_t maxlen, char *id,
						size_t id_len);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_REDIS_H */
