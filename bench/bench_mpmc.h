// SPDX-License-Identifier: MIT
/*
 * The multi-producer/multi-consumer run shared by bench_ring.cc and bench_queue.cc: p
 * producer and c consumer threads behind a start gate move a number of items through one
 * ring or queue (any adapter with the static interface of bench_common.h), with the retry
 * policy lfqbench::Retry on -EAGAIN, and check the result.
 *
 * Item encoding: value = (producer << kSeqBits) + seq + 1, never 0, so that 0 (NULL) serves
 * as the end-of-stream marker; seq counts a producer's items from 0. The last producer to
 * finish pushes one marker per consumer; in a FIFO every item is popped before any marker,
 * so once all markers are popped, every item has been. For an adapter that is FIFO only per
 * producer (kFifoAcrossProducers = false, bench_impl_list.h) or not even that
 * (kFifoPerProducer = false), markers may overtake items: its consumers stop once all
 * markers are popped and the items they popped, added up, are all the items. For an adapter whose
 * pop waits inside until it gets an item (kBlockingCalls), each consumer stops at the first marker
 * it pops (there is one per consumer), since a pop after that might wait forever.
 *
 * Checks, each turning the run into an error rather than a number: every item pushed and
 * popped exactly (count and sum), no value from a producer that does not exist, each
 * producer's items seen in order by each consumer (for kFifoPerProducer = false adapters
 * the inversions are counted instead, MpmcResult::out_of_order), and completion before a
 * deadline.
 *
 * Optional: single-item calls or bursts of up to kBurst; producers that push chunk_items
 * at a time and then sleep pause_ns (the "bursty" workload: the time each chunk took to push
 * is recorded); threads placed as bench_common.h's Placement says; adapters with
 * static thread_enter() / thread_exit() (e.g. RCU registration) get them called in every
 * worker thread.
 *
 * Each run also measures its cost: on-CPU time summed over all threads and context switches
 * (getrusage of the process, from the gate opening to the last join). With MpmcParams::isolate
 * the run happens in a forked child that the parent kills if it outlives its deadline by
 * kIsolationGrace: a peer whose threads spin inside its own calls (waiting for a preempted
 * thread) cannot hold up the sweep, and the cell is reported stalled with the items it moved.
 */
#ifndef LFQ_BENCH_MPMC_H
#define LFQ_BENCH_MPMC_H

#include "bench_common.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <vector>

namespace lfqbench
{

using MpmcClock = std::chrono::steady_clock;

constexpr size_t kBurst = 32;
constexpr unsigned kSeqBits = 40;
constexpr uint64_t kSeqMask = (uint64_t{1} << kSeqBits) - 1;

inline void *encode_item(uint64_t producer, uint64_t seq)
{
	return reinterpret_cast<void *>(static_cast<uintptr_t>((producer << kSeqBits) + seq + 1));
}

/** What one run does. */
struct MpmcParams {
	unsigned producers = 1;
	unsigned consumers = 1;
	size_t capacity = 1024;
	uint64_t total = 1000000; /* items, split across producers */
	bool burst = false;	  /* push_burst / pop_burst of up to kBurst */
	Placement placement = Placement::kFree;
	bool isolate = false;	  /* run in a child process that is killed if it stalls */
	uint64_t chunk_items = 0; /* > 0: push this many, then sleep pause_ns */
	int64_t pause_ns = 0;
	MpmcClock::duration timeout = std::chrono::seconds(60);
};

struct MpmcResult {
	double seconds = 0;
	uint64_t push_eagain = 0;
	uint64_t pop_eagain = 0;
	std::vector<double> chunk_seconds; /* chunked producers: time to push each chunk */
	std::string error;		   /* empty if the run verified */
	/* The run made no progress until the deadline (a stalled implementation, e.g. a ring
	 * whose threads wait for a preempted one). Not an error: what moved was verified, and
	 * the throughput reported is `moved` over the time to the deadline, flagged. (Google
	 * Benchmark 1.7 also crashes computing the aggregates of repetitions whose first one
	 * was skipped with an error: upstream issues #1406 and #2206.) */
	bool stalled = false;
	uint64_t moved = 0;
	/* Per-producer order inversions seen by the consumers: always 0 for adapters that keep
	 * each producer's order (any inversion is an error), counted for the others. */
	uint64_t out_of_order = 0;
	ProcessCost cost; /* the whole run: all its threads */
};

/** How long past its own deadline an isolated run may take before its child is killed. */
constexpr std::chrono::seconds kIsolationGrace{2};

/* Adapters may have thread_enter() / thread_exit(); detected here. */
template <class I, class = void> struct HasThreadHooks : std::false_type {
};
template <class I>
struct HasThreadHooks<I, std::void_t<decltype(I::thread_enter()), decltype(I::thread_exit())>>
    : std::true_type {
};

template <class I> void thread_enter()
{
	if constexpr (HasThreadHooks<I>::value)
		I::thread_enter();
}
template <class I> void thread_exit()
{
	if constexpr (HasThreadHooks<I>::value)
		I::thread_exit();
}

namespace detail
{

/* Per-thread tallies, each on its own cache line. */
struct alignas(64) ProducerStats {
	uint64_t pushed = 0;
	uint64_t sum = 0; /* of the values pushed, modulo 2^64 */
	uint64_t eagain = 0;
	std::vector<double> chunk_seconds;
};

struct alignas(64) ConsumerStats {
	uint64_t popped = 0;
	uint64_t sum = 0;
	uint64_t eagain = 0;
	uint64_t out_of_order = 0;
	uint64_t bad_value = 0;
	std::vector<uint64_t> last; /* per producer: last seq seen + 1, 0 = none yet */
	MpmcClock::time_point end;
};

struct Shared {
	const MpmcParams *params;
	std::atomic<unsigned> producers_done{0};
	std::atomic<unsigned> markers_popped{0};
	/* Items popped, as the consumers have reported them so far: only kept for adapters
	 * that are not FIFO across producers (see done()). */
	std::atomic<uint64_t> items_reported{0};
	std::atomic<bool> abort{false};
	/* Items popped so far, published every kProgressEvery items and at the end: what an
	 * isolated run had moved when it was killed (NULL when not isolated). */
	std::atomic<uint64_t> *progress = nullptr;
	MpmcClock::time_point deadline;
	StartGate gate;

	/* Called on the slow path (after Retry yielded). @return true if the run must stop. */
	bool should_abort()
	{
		/* Relaxed: a stop request carries no data; results are read after join(). */
		if (abort.load(std::memory_order_relaxed))
			return true;
		if (MpmcClock::now() > deadline) {
			abort.store(true, std::memory_order_relaxed);
			return true;
		}
		return false;
	}
	/* Relaxed: a count of end markers; the popped items' tallies travel by join(). */
	bool all_markers_popped() const
	{
		return markers_popped.load(std::memory_order_relaxed) == params->consumers;
	}
	/* Whether a consumer that found the ring empty may stop. FIFO: once every marker is
	 * popped, so is every item. Per-producer FIFO only: also every item must have been
	 * popped; the consumer adds what it popped since its last report (@p unreported, reset
	 * here) and checks the total. Every consumer reports on each empty pop, so the last
	 * items popped are reported by their consumer as soon as it finds the queue empty. */
	template <class I> bool done(uint64_t &unreported)
	{
		if (!all_markers_popped())
			return false;
		if constexpr (markers_come_last<I>()) {
			return true;
		} else {
			/* Relaxed: a count; no data is published through it (see above). */
			uint64_t total =
				items_reported.fetch_add(unreported, std::memory_order_relaxed) +
				unreported;
			unreported = 0;
			return total == params->total;
		}
	}
};

constexpr uint64_t kProgressEvery = 4096;

inline void account(ConsumerStats &st, const Shared &sh, void *item)
{
	uint64_t v = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(item)) - 1;
	uint64_t producer = v >> kSeqBits;
	uint64_t seq = v & kSeqMask;
	st.popped++;
	st.sum += v + 1;
	/* Relaxed: a progress count for the parent, read only after the child ended or died. */
	if (sh.progress != nullptr && st.popped % kProgressEvery == 0)
		sh.progress->fetch_add(kProgressEvery, std::memory_order_relaxed);
	if (producer >= sh.params->producers) {
		st.bad_value++;
		return;
	}
	if (seq + 1 <= st.last[producer])
		st.out_of_order++;
	st.last[producer] = seq + 1;
}

template <class I> void push_end_markers(typename I::ring_type *ring, Shared &sh)
{
	/* acq_rel: the last producer's markers are pushed after every other producer's last
	 * push returned (pairs with the other producers' release increments). */
	if (sh.producers_done.fetch_add(1, std::memory_order_acq_rel) + 1 != sh.params->producers)
		return;
	Retry retry;
	for (unsigned i = 0; i < sh.params->consumers; i++) {
		while (I::push(ring, nullptr) != 0) {
			if (retry.backoff() && sh.should_abort())
				return;
		}
		retry.reset();
	}
}

/* Pushes items [seq, end) of producer id one at a time. @return false if aborted. */
template <class I>
bool push_range(typename I::ring_type *ring, Shared &sh, ProducerStats &st, uint64_t id,
		uint64_t seq, uint64_t end)
{
	Retry retry;
	for (; seq < end; seq++) {
		void *item = encode_item(id, seq);
		while (I::push(ring, item) != 0) {
			st.eagain++;
			if (retry.backoff() && sh.should_abort())
				return false;
		}
		retry.reset();
		st.pushed++;
		st.sum += reinterpret_cast<uintptr_t>(item);
	}
	return true;
}

template <class I>
bool push_range_burst(typename I::ring_type *ring, Shared &sh, ProducerStats &st, uint64_t id,
		      uint64_t seq, uint64_t end)
{
	static_assert(!BlockingCalls<I>::value, "an adapter with blocking calls has no bursts");
	Retry retry;
	void *items[kBurst];
	while (seq < end) {
		size_t n = static_cast<size_t>(std::min<uint64_t>(kBurst, end - seq));
		for (size_t i = 0; i < n; i++)
			items[i] = encode_item(id, seq + i);
		size_t done = 0;
		while (done < n) {
			size_t k = I::push_burst(ring, items + done, n - done);
			if (k == 0) {
				st.eagain++;
				if (retry.backoff() && sh.should_abort())
					return false;
				continue;
			}
			retry.reset();
			for (size_t i = done; i < done + k; i++)
				st.sum += reinterpret_cast<uintptr_t>(items[i]);
			done += k;
		}
		st.pushed += n;
		seq += n;
	}
	return true;
}

/* Pushes items [seq, end) with single-item calls or bursts, as the run asks. */
template <class I>
bool push_some(typename I::ring_type *ring, Shared &sh, ProducerStats &st, uint64_t id,
	       uint64_t seq, uint64_t end)
{
	if constexpr (!BlockingCalls<I>::value) {
		if (sh.params->burst)
			return push_range_burst<I>(ring, sh, st, id, seq, end);
	}
	return push_range<I>(ring, sh, st, id, seq, end);
}

template <class I>
void produce(typename I::ring_type *ring, Shared &sh, ProducerStats &st, uint64_t id,
	     uint64_t count)
{
	const MpmcParams &p = *sh.params;
	thread_enter<I>();
	sh.gate.arrive_and_wait();
	bool ok = true;
	if (p.chunk_items == 0) {
		ok = push_some<I>(ring, sh, st, id, 0, count);
	} else {
		for (uint64_t seq = 0; ok && seq < count; seq += p.chunk_items) {
			const uint64_t end = std::min(count, seq + p.chunk_items);
			const auto t0 = MpmcClock::now();
			ok = push_some<I>(ring, sh, st, id, seq, end);
			st.chunk_seconds.push_back(
				std::chrono::duration<double>(MpmcClock::now() - t0).count());
			if (end < count && p.pause_ns > 0) {
				struct timespec ts = {static_cast<time_t>(p.pause_ns / 1000000000),
						      static_cast<long>(p.pause_ns % 1000000000)};
				nanosleep(&ts, nullptr);
			}
		}
	}
	if (ok)
		push_end_markers<I>(ring, sh);
	thread_exit<I>();
}

template <class I> void consume(typename I::ring_type *ring, Shared &sh, ConsumerStats &st)
{
	Retry retry;
	void *items[kBurst];
	const bool burst = sh.params->burst;

	uint64_t unreported = 0; /* items popped since the last Shared::done() */
	bool got_marker = false;

	thread_enter<I>();
	sh.gate.arrive_and_wait();
	for (;;) {
		size_t n = 0;
		if constexpr (!BlockingCalls<I>::value) {
			if (burst)
				n = I::pop_burst(ring, items, kBurst);
			else
				n = I::pop(ring, &items[0]) == 0 ? 1 : 0;
		} else {
			n = I::pop(ring, &items[0]) == 0 ? 1 : 0; /* waits for an item */
		}
		if (n == 0) {
			st.eagain++;
			if (sh.done<I>(unreported))
				break;
			if (retry.backoff() && sh.should_abort())
				break;
			continue;
		}
		retry.reset();
		for (size_t i = 0; i < n; i++) {
			if (items[i] == nullptr) {
				sh.markers_popped.fetch_add(1, std::memory_order_relaxed);
				got_marker = true;
			} else {
				account(st, sh, items[i]);
				unreported++;
			}
		}
		if constexpr (BlockingCalls<I>::value) {
			if (got_marker)
				break;
		} else if (markers_come_last<I>() && sh.all_markers_popped()) {
			break;
		}
	}
	st.end = MpmcClock::now();
	if (sh.progress != nullptr) /* Relaxed: as in account(). */
		sh.progress->fetch_add(st.popped % kProgressEvery, std::memory_order_relaxed);
	thread_exit<I>();
}

} // namespace detail

/** One verified run; the time is from opening the gate to the last consumer finishing. */
template <class I>
MpmcResult run_mpmc(const MpmcParams &p, std::atomic<uint64_t> *progress = nullptr)
{
	using namespace detail;
	MpmcResult res;
	if (!supports_shape<I>(p.producers, p.consumers)) {
		res.error = "more producers or consumers than this adapter's mode allows";
		return res;
	}
	if (BlockingCalls<I>::value && p.burst) {
		res.error = "an adapter with blocking calls has no bursts";
		return res;
	}
	RingHandle<I> ring(p.capacity);
	if (!ring.ok()) {
		res.error = "create failed: " + std::to_string(ring.error());
		return res;
	}
	if (p.total / p.producers + 1 > kSeqMask) {
		res.error = "LFQ_BENCH_ITEMS too large for the item encoding";
		return res;
	}

	Shared sh;
	sh.params = &p;
	sh.progress = progress;
	std::vector<ProducerStats> pstats(p.producers);
	std::vector<ConsumerStats> cstats(p.consumers);
	for (auto &c : cstats)
		c.last.assign(p.producers, 0);

	std::vector<std::thread> threads;
	threads.reserve(p.producers + p.consumers);
	for (unsigned c = 0; c < p.consumers; c++) {
		threads.emplace_back(consume<I>, ring.get(), std::ref(sh), std::ref(cstats[c]));
		place_thread(threads.back().native_handle(), c, p.placement);
	}
	for (unsigned i = 0; i < p.producers; i++) {
		uint64_t count = p.total / p.producers + (i < p.total % p.producers ? 1 : 0);
		threads.emplace_back(produce<I>, ring.get(), std::ref(sh), std::ref(pstats[i]),
				     uint64_t{i}, count);
		place_thread(threads.back().native_handle(), p.consumers + i, p.placement);
	}

	sh.gate.wait_for(p.producers + p.consumers);
	const ProcessCost cost0 = ProcessCost::now();
	const MpmcClock::time_point start = MpmcClock::now();
	sh.deadline = start + p.timeout;
	sh.gate.open();
	for (auto &t : threads)
		t.join();
	res.cost = ProcessCost::now() - cost0;

	MpmcClock::time_point end = start;
	uint64_t pushed = 0, push_sum = 0, popped = 0, pop_sum = 0, disorder = 0, bad = 0;
	for (const auto &ps : pstats) {
		pushed += ps.pushed;
		push_sum += ps.sum;
		res.push_eagain += ps.eagain;
		res.chunk_seconds.insert(res.chunk_seconds.end(), ps.chunk_seconds.begin(),
					 ps.chunk_seconds.end());
	}
	for (const auto &c : cstats) {
		popped += c.popped;
		pop_sum += c.sum;
		disorder += c.out_of_order;
		bad += c.bad_value;
		res.pop_eagain += c.eagain;
		end = std::max(end, c.end);
	}
	res.seconds = std::chrono::duration<double>(end - start).count();
	res.out_of_order = disorder;
	if constexpr (!FifoPerProducer<I>::value)
		disorder = 0; /* counted, not an error (see FifoPerProducer) */

	char msg[256];
	if (sh.abort.load(std::memory_order_relaxed) && bad == 0 && disorder == 0) {
		res.stalled = true;
		res.moved = popped;
		res.seconds = std::chrono::duration<double>(p.timeout).count();
	} else if (sh.abort.load(std::memory_order_relaxed)) {
		std::snprintf(msg, sizeof(msg),
			      "no completion before the deadline and verification failed: pushed "
			      "%llu, popped %llu of %llu, %llu bad values, %llu out of order",
			      static_cast<unsigned long long>(pushed),
			      static_cast<unsigned long long>(popped),
			      static_cast<unsigned long long>(p.total),
			      static_cast<unsigned long long>(bad),
			      static_cast<unsigned long long>(disorder));
		res.error = msg;
	} else if (pushed != p.total || popped != p.total || pop_sum != push_sum || bad != 0 ||
		   disorder != 0) {
		std::snprintf(msg, sizeof(msg),
			      "verification failed: pushed %llu, popped %llu of %llu, sums %s, "
			      "%llu bad values, %llu out of order",
			      static_cast<unsigned long long>(pushed),
			      static_cast<unsigned long long>(popped),
			      static_cast<unsigned long long>(p.total),
			      pop_sum == push_sum ? "equal" : "differ",
			      static_cast<unsigned long long>(bad),
			      static_cast<unsigned long long>(disorder));
		res.error = msg;
	}
	return res;
}

namespace detail
{

/* What an isolated run's child hands back, in a shared anonymous mapping. */
struct IsolatedOutcome {
	std::atomic<uint64_t> progress;
	int finished;
	double seconds;
	uint64_t push_eagain, pop_eagain, out_of_order, moved;
	int stalled;
	double cpu_ns, switches;
	char error[256];
};

} // namespace detail

/**
 * run_mpmc<I>(p) in a forked child (p.isolate; otherwise in this process). The parent waits
 * up to p.timeout + kIsolationGrace, then kills the child and reports the run as stalled
 * with the items it had moved. Chunk times are not carried back (the bursty workload runs
 * in-process). Call it only while this process runs no other thread (Google Benchmark runs
 * its benchmarks on the main thread): the child has only the forking thread.
 */
template <class I> MpmcResult run_mpmc_isolated(const MpmcParams &p)
{
	using detail::IsolatedOutcome;
	if (!p.isolate)
		return run_mpmc<I>(p);
	MpmcResult res;
	void *mem = mmap(nullptr, sizeof(IsolatedOutcome), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		res.error = std::string("mmap: ") + std::strerror(errno);
		return res;
	}
	auto *out = new (mem) IsolatedOutcome{};
	std::fflush(nullptr);
	const pid_t pid = fork();
	if (pid < 0) {
		res.error = std::string("fork: ") + std::strerror(errno);
		munmap(mem, sizeof(IsolatedOutcome));
		return res;
	}
	if (pid == 0) {
		MpmcResult r = run_mpmc<I>(p, &out->progress);
		out->seconds = r.seconds;
		out->push_eagain = r.push_eagain;
		out->pop_eagain = r.pop_eagain;
		out->out_of_order = r.out_of_order;
		out->moved = r.moved;
		out->stalled = r.stalled;
		out->cpu_ns = r.cost.cpu_ns;
		out->switches = r.cost.switches;
		std::snprintf(out->error, sizeof(out->error), "%s", r.error.c_str());
		out->finished = 1;
		_exit(0);
	}
	const auto limit = MpmcClock::now() + p.timeout + kIsolationGrace;
	int status = 0;
	pid_t w;
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && MpmcClock::now() < limit) {
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, nullptr);
	}
	if (w == 0) { /* still running: its threads spin where no deadline reaches them */
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		res.stalled = true;
		/* Relaxed: the child is gone; its stores reached the mapping before it died. */
		res.moved = out->progress.load(std::memory_order_relaxed);
		res.seconds = std::chrono::duration<double>(p.timeout).count();
	} else if (!out->finished) {
		res.error = WIFSIGNALED(status)
				    ? std::string("the run died: ") + strsignal(WTERMSIG(status))
				    : std::string("the run exited without a result");
	} else {
		res.seconds = out->seconds;
		res.push_eagain = out->push_eagain;
		res.pop_eagain = out->pop_eagain;
		res.out_of_order = out->out_of_order;
		res.moved = out->moved;
		res.stalled = out->stalled != 0;
		res.cost.cpu_ns = out->cpu_ns;
		res.cost.switches = out->switches;
		res.error = out->error;
	}
	munmap(mem, sizeof(IsolatedOutcome));
	return res;
}

/** Nearest-rank percentile of @p v (sorted in place): the smallest value >= q of them. */
inline double percentile_of(std::vector<double> &v, double q)
{
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	const double rank = q * static_cast<double>(v.size());
	size_t i = static_cast<size_t>(rank);
	if (static_cast<double>(i) < rank)
		i++;
	i = std::min(std::max<size_t>(i, 1), v.size());
	return v[i - 1];
}

/** Threads per allowed CPU: above 1, the run is oversubscribed. */
inline double threads_per_cpu(unsigned threads)
{
	cpu_set_t allowed;
	int cpus = 0;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
		cpus = CPU_COUNT(&allowed);
	if (cpus <= 0)
		cpus = 1;
	return static_cast<double>(threads) / cpus;
}

/**
 * The body of a multi-thread benchmark: one run_mpmc<I>(p) per iteration, then the report.
 * items_per_second counts the items moved; a run that stalled (see MpmcResult) reports what
 * it moved before its deadline and sets the `stalled` counter. Also reports how often each
 * side found the queue full / empty per item moved, and the thread shape. If chunks is not
 * NULL, it receives every run's chunk times. Returns false after SkipWithError.
 */
template <class I>
bool run_mpmc_benchmark(benchmark::State &state, const MpmcParams &p,
			std::vector<double> *chunks = nullptr)
{
	uint64_t push_eagain = 0, pop_eagain = 0, out_of_order = 0;
	double moved = 0;
	bool stalled = false;
	ProcessCost cost;
	/* A cell that stalled once (a peer that waits for a preempted thread) is not run again
	 * in later repetitions: each would only wait out the deadline. It stays flagged. */
	static std::vector<std::string> stalled_before;
	const std::string cell = std::string(typeid(I).name()) + "/" + std::to_string(p.producers) +
				 "/" + std::to_string(p.consumers) + "/" +
				 std::to_string(p.capacity) + "/" + std::to_string(p.burst) + "/" +
				 placement_name(p.placement);
	const bool skip = std::find(stalled_before.begin(), stalled_before.end(), cell) !=
			  stalled_before.end();

	for (auto _ : state) {
		if (skip) {
			state.SetIterationTime(std::chrono::duration<double>(p.timeout).count());
			stalled = true;
			continue;
		}
		MpmcResult r = chunks != nullptr ? run_mpmc<I>(p) : run_mpmc_isolated<I>(p);
		if (!r.error.empty()) {
			state.SkipWithError(r.error.c_str());
			return false;
		}
		state.SetIterationTime(r.seconds);
		stalled |= r.stalled;
		moved += static_cast<double>(r.stalled ? r.moved : p.total);
		push_eagain += r.push_eagain;
		pop_eagain += r.pop_eagain;
		out_of_order += r.out_of_order;
		cost.cpu_ns += r.cost.cpu_ns;
		cost.switches += r.cost.switches;
		if (chunks)
			chunks->insert(chunks->end(), r.chunk_seconds.begin(),
				       r.chunk_seconds.end());
	}
	if (stalled && !skip)
		stalled_before.push_back(cell);
	const double items = moved > 0 ? moved : 1;
	state.SetItemsProcessed(static_cast<int64_t>(moved));
	state.counters["stalled"] = stalled ? 1 : 0;
	state.counters["push_eagain_per_item"] = static_cast<double>(push_eagain) / items;
	state.counters["pop_eagain_per_item"] = static_cast<double>(pop_eagain) / items;
	/* Cost per item moved, summed over every thread of the run (all sides). */
	state.counters["cpu_ns_per_item"] = cost.cpu_ns / items;
	state.counters["csw_per_item"] = cost.switches / items;
	if constexpr (!FifoPerProducer<I>::value)
		state.counters["out_of_order_per_item"] = static_cast<double>(out_of_order) / items;
	state.counters["producers"] = p.producers;
	state.counters["consumers"] = p.consumers;
	state.counters["threads_per_cpu"] = threads_per_cpu(p.producers + p.consumers);
	state.SetLabel(placement_name(p.placement));
	return true;
}

} // namespace lfqbench

#endif // LFQ_BENCH_MPMC_H
