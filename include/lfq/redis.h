/* SPDX-License-Identifier: MIT */
/**
 * @file redis.h
 * lfq_redis: feeds an lfq_pool from a Redis stream through a consumer group, so that several
 * processes (on several machines) share one durable job queue. Built only when hiredis is
 * found (Meson feature `redis`); linked as liblfq_redis (dependency `lfq_redis_dep`).
 *
 * A source reads entries with XREADGROUP (blocking with a timeout), turns each into a job
 * through a user callback and submits it to a local pool with lfq_pool_submit_wait, so that it
 * stops reading while the pool is full (backpressure). An entry is XACKed only after its job
 * succeeded, or after it was dead-lettered (XADDed to the dead-letter stream, then XACKed).
 * Workers hand finished entries back to the source thread through a lock-free lfq_ring; the
 * source acknowledges them in batches. Entries left pending by a consumer that died are
 * reclaimed with XAUTOCLAIM once they were idle for min_idle_ms. On connection loss the source
 * reconnects with capped exponential backoff; nothing is acknowledged that did not finish.
 *
 * Delivery is at least once: a job may run more than once (a consumer died after the job ran
 * but before its XACK, a job outlived min_idle_ms and was reclaimed elsewhere). Jobs must be
 * idempotent. See docs/scale-out.md.
 *
 * The pool's on_dead hook must forward to lfq_redis_on_dead, or dead jobs are neither
 * dead-lettered nor acknowledged (they are then redelivered after min_idle_ms).
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
/** Longest stream, group, consumer or host name accepted (bytes, without the NUL). */
#define LFQ_REDIS_NAME_MAX 255

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

/** How to build a source. Zero means the default for every field marked so. */
struct lfq_redis_source_config {
	/** Server address, an IPv4/IPv6 literal or host name; NULL: "127.0.0.1". */
	const char *host;
	/** Server port; 0: 6379. */
	unsigned port;
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
	 *  LFQ_REDIS_DEFAULT_BLOCK_MS. Bounds how long lfq_redis_source_stop takes to be seen. */
	unsigned block_ms;
	/** Pending entries idle at least this long are reclaimed with XAUTOCLAIM (from any
	 *  consumer of the group, this one included). Must exceed the longest time a job may
	 *  wait and run, or live jobs are run twice. 0: LFQ_REDIS_DEFAULT_MIN_IDLE_MS. */
	unsigned min_idle_ms;
	/** Most entries read and not yet acknowledged by this source (the in-flight window,
	 *  which bounds the duplicates a crash can cause); at least batch;
	 *  0: LFQ_REDIS_DEFAULT_INFLIGHT_BATCHES * batch. At most LFQ_REDIS_INFLIGHT_MAX. */
	unsigned max_inflight;
	/** Longest backoff between reconnect attempts (they start at 10 ms and double);
	 *  0: 2000 ms. */
	unsigned reconnect_max_ms;
	/** The pool jobs are submitted to (required). Its on_dead must call lfq_redis_on_dead. */
	struct lfq_pool *pool;
	/** Turns entries into jobs (required). */
	lfq_redis_decode_fn decode;
	/** Called on the source thread once the job of an entry is finished for this source
	 *  (acknowledged, dead-lettered, or given up because the pool shut down), with the
	 *  job's arg: a place to free it. NULL: nothing is called. */
	void (*release)(void *arg, void *ctx);
	/** Passed to decode and release. */
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
 *                 batch > LFQ_REDIS_BATCH_MAX, or max_inflight is below batch or above
 *                 LFQ_REDIS_INFLIGHT_MAX;
 *         -ENOMEM if memory runs out.
 * Thread-safety: any thread.
 */
LFQ_API LFQ_NODISCARD int lfq_redis_source_create(struct lfq_redis_source **src,
						  const struct lfq_redis_source_config *cfg);

/**
 * Runs the source on the calling thread until lfq_redis_source_stop is called or the pool
 * shuts down. Connection losses are not errors: it reconnects with capped exponential
 * backoff, as long as it takes. Before returning it waits for the jobs it submitted to
 * finish and acknowledges them (while the server answers; entries it cannot acknowledge
 * stay pending and are redelivered after min_idle_ms).
 * @return 0 after a stop;
 *         -ESHUTDOWN if the pool was shut down (entries not yet submitted stay pending);
 *         -EPROTO if the server answered a command with an unexpected error (for instance
 *                 the stream key holds another type); the source can be run again;
 *         -ENOMEM if memory for a dead letter or an XACK command ran out;
 *         -EBUSY if the source is already running on another thread;
 *         -EINVAL if @p src is NULL.
 * Thread-safety: one thread at a time per source; may sleep.
 */
LFQ_API LFQ_NODISCARD int lfq_redis_source_run(struct lfq_redis_source *src);

/**
 * Asks a running (or the next) lfq_redis_source_run to return; it notices within about
 * block_ms (or the current reconnect backoff), then drains its in-flight jobs.
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

/** An opaque producer connection. */
struct lfq_redis_producer;

/**
 * Connects a producer.
 * @param host        NULL: "127.0.0.1".
 * @param port        0: 6379.
 * @param timeout_ms  connect and command timeout; 0: 5000.
 * @return 0 on success;
 *         -EINVAL if @p p is NULL or @p port > 65535;
 *         -ECONNREFUSED (or another negated errno) if the server cannot be reached;
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
 *         -EINVAL if an argument is NULL, @p nfields is 0 or above 1024;
 *         -ECONNRESET (or another negated errno) if the connection failed: the entry may
 *                 or may not have been added;
 *         -EPROTO if the server answered with an error.
 * Thread-safety: one thread at a time per producer; may sleep (one round trip).
 */
LFQ_API LFQ_NODISCARD int lfq_redis_produce(struct lfq_redis_producer *p, const char *stream,
					    const struct lfq_redis_field *fields, size_t nfields,
					    size_t maxlen, char *id, size_t id_len);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_REDIS_H */
