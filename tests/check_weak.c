/* SPDX-License-Identifier: MIT */
/*
 * The weak-memory checker on the cell ring and lfq_queue's segment links (lfq_weak: lfq_testing
 * built with -DLFQ_WEAK_MODEL, tests/sched/weak.h): every scenario passes with the shipped
 * memory orders, and each memory order of the ring, the waitq and the queue weakened by one
 * step, one site at a time, is caught by a scenario or argued safe in `safe[]` and
 * `queue_safe[]` below. The sweep prints a Markdown table; with
 * LFQ_WEAK_TABLE=FILE it also writes it there (tests/gen_weak_table.sh puts it into
 * docs/design.md, "The weak-memory checker").
 *
 * Built a second time with LFQ_WEAK_SCQ on the SCQ ring (check_weak_scq): the same scenarios
 * with the shipped orders only. Its labels keep SCQ's proof's total order (docs/design.md, SCQ
 * "Memory orders"), which the checker's specification does not observe, so a sweep there
 * would mostly list weakenings it cannot judge.
 *
 * Search per scenario: every schedule with at most LFQ_WEAK_BOUND preemptions (default 1) and
 * LFQ_WEAK_STALE loads of an older store than the latest (default 1), then the stall search
 * (LFQ_WEAK_STALL schedules per pair of places, default 20; a thread held at a place while the
 * others go on, released only when nothing else can run), with the same stale bound.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <lfq/ring.h>

#include "sched/queue_check.h"
#include "sched/ring_check.h"
#include "sched/weak.h"
#include "testing.h"

#define SPSC (LFQ_RING_SP | LFQ_RING_SC)

/* Scripts: 'u' push, 'o' pop, 'U'n / 'O'n bursts, 'B'n / 'b'n bulk, 's' size, 'c' close,
 * 'w' push_wait, 'p' pop_wait.
 * Every pushed item carries a payload its consumer reads (ring_check_weak). */
static const struct ring_scenario scenarios[] = {
	/* Items handed from one thread to another through rings of 1-3, around laps. */
	{"mpmc_pass_cap1", 1, 0, {"uu", "oo"}, 0},
	{"mpmc_lap_cap2", 2, 0, {"uuu", "ooo"}, 0},
	{"mpmc_three_cap1", 1, 0, {"uo", "uo", "o"}, 0},
	{"mpmc_full_cap1", 1, 1, {"o", "u", "u"}, 0},
	{"mpmc_cap3", 3, 1, {"uuu", "oo", "o"}, 0},
	/* The hints: a thread that pushes after another one moved the tail on. */
	{"mpmc_two_pushers_cap2", 2, 0, {"u", "uo", "oo"}, 0},
	/* Close racing pushes and pops. */
	{"close_empty_cap1", 1, 0, {"u", "c", "o"}, 0},
	{"close_item_cap1", 1, 1, {"u", "c", "oo"}, 0},
	/* Bursts. */
	{"bursts_cap2", 2, 0, {"U2", "O2"}, 0},
	{"bursts_cap3", 3, 1, {"U3", "O2o"}, 0},
	/* size() while others push and pop. */
	{"size_cap2", 2, 0, {"uus", "os", "s"}, 0},
	/* The single-side modes, their bulk calls and size. */
	{"spsc_lap_cap2", 2, 0, {"uuu", "ooo"}, SPSC},
	{"spsc_lap_cap1", 1, 0, {"uuu", "ooo"}, SPSC},
	/* The producer's cached view of the head (O6): the fourth push fills a cell it did not
	 * read, after a pop (O4) and after a pop_bulk. */
	{"spsc_view_cap2", 2, 0, {"uuuu", "oooo"}, SPSC},
	{"spsc_view_bulk_cap2", 2, 0, {"uuuu", "b2b2"}, SPSC},
	{"spsc_bulk_cap2", 2, 0, {"B2B2", "b2b2"}, SPSC},
	/* push_bulk's look at its last cell vouches for the cells before it. */
	{"spsc_bulk_cap3", 3, 0, {"B3B3", "b3b3"}, SPSC},
	{"spsc_close_cap1", 1, 0, {"u", "c", "o"}, SPSC},
	{"spsc_size_cap2", 2, 0, {"uuus", "oos"}, SPSC},
	{"spsc_bursts_cap2", 2, 0, {"U2U2", "O2O2"}, SPSC},
	{"mpsc_lap_cap1", 1, 0, {"uu", "u", "ooo"}, LFQ_RING_SC},
	{"spmc_lap_cap1", 1, 0, {"uuu", "oo", "o"}, LFQ_RING_SP},
	{"spmc_lap_cap2", 2, 0, {"uuu", "ooo"}, LFQ_RING_SP},
	/* The waits' Dekker pairs: a sleeper announces itself, fences and re-checks; the
	 * waker publishes, then looks for sleepers. Also the single-side modes (an SC ring's
	 * push_wait sleepers fence with membarrier, W2a), and close waking a sleeper. */
	{"dekker_pop_wait_cap1", 1, 0, {"pp", "ww"}, 0},
	{"dekker_push_wait_cap1", 1, 1, {"ww", "pp"}, 0},
	{"spsc_dekker_pop_wait_cap1", 1, 0, {"pp", "ww"}, SPSC},
	{"spsc_dekker_push_wait_cap1", 1, 1, {"ww", "pp"}, SPSC},
	{"close_wakes_pop_wait", 1, 0, {"p", "c"}, 0},
	{"close_wakes_push_wait", 1, 1, {"w", "c"}, SPSC},
};
#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

#ifdef LFQ_WEAK_QUEUE
/*
 * lfq_queue (tests/sched/queue_check.h): segments of 1-2 items, so that a few calls link,
 * cross and retire segments. Besides the ring's calls: 'i' is_closed, 'L'n set_limit(n). A
 * segment set up by one thread and used by another without happening after its setup is a
 * data race ("publication", LFQ_PLAIN_INIT in queue.c). In the mutant runs these scenarios
 * run the depth-first search only (each weakening they catch needs no held thread, and the
 * stall search over their places would multiply the sweep's time); the shipped orders get
 * the stall search too. `stale`: older reads per schedule this one needs, if more than
 * LFQ_WEAK_STALE. Only where the library has the queue (LFQ_WEAK_QUEUE: not with ring_only,
 * nor in check_weak_scq).
 */
#define QUEUE(name, cap, limit, prefill, stale, ...)                                               \
	{                                                                                          \
		{name, cap, prefill, {__VA_ARGS__}, 0}, limit, stale                               \
	}
static const struct queue_scenario queue_scenarios[] = {
	/* A push links a segment (Q2) and a pop crosses into it (Q4, Q3, Q3h, retire). */
	QUEUE("queue_link_cross_cap1", 1, 0, 1, 0, "u", "oo"),
	/* Two pushers race to link (the loser's segment goes to the cache and is reused), or
	 * one helps the tail on (Q3 in grow) and pushes into the segment the other linked. */
	QUEUE("queue_two_linkers_cap1", 1, 0, 1, 0, "u", "u"),
	/* Calls that find a segment another thread linked and moved the head or tail to: a
	 * pop, a pop_burst, a push_burst. */
	QUEUE("queue_head_moved_cap1", 1, 0, 1, 0, "uoo", "o"),
	QUEUE("queue_pop_burst_cap1", 1, 0, 1, 0, "uoo", "O2"),
	QUEUE("queue_push_burst_cap1", 1, 0, 1, 0, "u", "U2"),
	/* A pop that finds the next segment before the tail moved (it moves the tail, Q3 in
	 * advance), and a push that reads that tail; the same for a pusher that helps. */
	QUEUE("queue_pop_moves_tail_cap1", 1, 0, 1, 0, "u", "oo", "u"),
	QUEUE("queue_help_tail_cap2", 2, 0, 2, 0, "u", "u", "u"),
	/* Close racing a push that links: the seal fails and close goes on to the new
	 * segment. is_closed after close. */
	QUEUE("queue_close_link_cap1", 1, 0, 1, 0, "u", "coo"),
	QUEUE("queue_is_closed", 1, 0, 0, 0, "c", "i"),
	/* Pops that start after close returned drain, then answer -EPIPE, never -EAGAIN: the
	 * last segment's next is read as sealed (Q4 in advance), and a link made before close
	 * is seen with it. */
	QUEUE("queue_pop_after_close_cap1", 1, 0, 1, 0, "c", "oo"),
	QUEUE("queue_pop_after_close_link_cap1", 1, 0, 1, 0, "u", "c", "oo"),
	/* A push at the limit that starts after close returned: -EPIPE, not -EAGAIN (Q5 in
	 * grow; two stale reads: the seal and the flag). */
	QUEUE("queue_close_at_limit_cap1", 1, 2, 2, 2, "u", "c", "u"),
	/* The waits' Dekker pairs: pop_wait against a push that links (Q2; a third thread
	 * drains the first segment), close waking pop_wait (the seal), push_wait at a limit of
	 * 3 against a pop that retires (Q3h, Q7) and at a limit of 2 against set_limit (Q7). */
	QUEUE("queue_pop_wait_link_cap1", 1, 0, 0, 0, "p", "uu", "o"),
	QUEUE("queue_close_wakes_pop_wait", 1, 0, 0, 0, "p", "c"),
	QUEUE("queue_limit_push_wait_cap1", 1, 3, 3, 0, "w", "oo"),
	QUEUE("queue_set_limit_push_wait", 1, 2, 2, 0, "w", "L0"),
	/* Pushes at a limit of 2 while pops retire the first segment. */
	QUEUE("queue_limit_cap2", 2, 2, 2, 0, "uuu", "oo"),
};
#define NQSCEN (sizeof(queue_scenarios) / sizeof(queue_scenarios[0]))

static const char *queue_name(size_t i)
{
	return queue_scenarios[i].s.name;
}

/* Queue scenario i under o, with the older reads it needs. */
static int queue_run(size_t i, const struct sched_opts *o, struct sched_result *r)
{
	const struct queue_scenario *q = &queue_scenarios[i];
	struct sched_opts qo = *o;

	qo.stale = q->stale > o->stale ? q->stale : o->stale;
	return queue_check_weak(q, &qo, r);
}
#else
#define NQSCEN 0
static const char *queue_name(size_t i)
{
	(void)i;
	return NULL;
}

static int queue_run(size_t i, const struct sched_opts *o, struct sched_result *r)
{
	(void)i;
	(void)o;
	(void)r;
	return -1;
}
#endif

#ifndef LFQ_WEAK_SCQ
/*
 * Weakenings the checker does not catch, each with its reason: argued safe (the order is
 * stronger than this label needs), or needed for something outside what the checker can see
 * (then docs/design.md says where the argument is). Keyed by the site's label and the weakened
 * order; every other weakening must be caught.
 */
enum why_kind { SAFE, OUTSIDE };
static const struct {
	const char *label;
	const char *to;
	enum why_kind kind;
	const char *why;
	const char *file; /* only the sites of this file, or NULL: any */
} safe[] = {
	{"C1", "relaxed", SAFE,
	 "every cell write a push's C2 must see is a seq_cst RMW, and C2 is seq_cst: the cell "
	 "load reads the current lap whatever the hint's order",
	 NULL},
	{"C8", "relaxed", SAFE, "as C1, for the pop's C2", NULL},
	{"C6", "relaxed", SAFE, "pairs only with C1/C8, which need no acquire (above)", NULL},
	{"C5", "relaxed", SAFE,
	 "the failure order: a failed C5/C7 only retries, and the retry re-reads the cell "
	 "with C2",
	 NULL},
	{"O3", "relaxed", SAFE,
	 "the failure order: a failed O3 means a seal, and the push only returns -EPIPE", NULL},
	{"K1", "release", SAFE,
	 "K1f, a seq_cst fence, follows it: a later seq_cst K2 or N1 reads K1 or later (as W1 "
	 "before W2)",
	 "ring_cells.h"},
	{"K1f", "acq_rel", SAFE,
	 "redundant in C11: K1 and N1 are seq_cst; kept for emulators that do not order a "
	 "release store before a later acquire load (QEMU's TCG on x86-64 hosts)",
	 NULL},
	{"W1", "acq_rel", SAFE,
	 "W2, a seq_cst fence, follows it: a seq_cst N1 after W2 reads W1 or later whatever "
	 "W1's order (C11 7.17.3p10)",
	 NULL},
};

#endif

static unsigned long env_or(const char *name, unsigned long def)
{
	return sched_env(name, def);
}

#ifdef LFQ_WEAK_QUEUE
/* The same for the sites of lfq_queue's segment links (queue.c). */
static const __typeof__(safe[0]) queue_safe[] = {
	{"Q3", "release", SAFE,
	 "the read half of a successful Q3 reads the segment this thread already reached with an "
	 "acquire (Q1, Q4) or set up itself, and nothing after it reads what that store's "
	 "writer published; the release half and the release sequence stay",
	 "queue.c"},
	{"Q3", "relaxed", SAFE,
	 "the failure order: a failed Q3 (another thread moved the tail on) drops the value it "
	 "read",
	 "queue.c"},
	{"Q3h", "relaxed", SAFE,
	 "the failure order: a failed Q3h drops the value it read, and the pop starts over with "
	 "Q1",
	 "queue.c"},
	{"Q2", "relaxed", SAFE,
	 "the failure order: a failed link only compares the value it read with SEALED and "
	 "takes its segment back; the retry reads the tail with Q1",
	 "queue.c"},
	{"Q7", "acquire", SAFE,
	 "the loads whose answer puts a push_wait to sleep are its re-check's, after W2, a "
	 "seq_cst fence: they read the latest seq_cst Q3h and Q7 store or later anyway (C11 "
	 "7.17.3p9); outside a wait the limit promises nothing to a call that does not happen "
	 "after the pop or set_limit",
	 "queue.c"},
	{"Q7", "release", SAFE,
	 "set_limit's store: Q7f, a seq_cst fence, follows it: a later seq_cst N1 or Q7 load "
	 "reads it or later (C11 7.17.3p10)",
	 "queue.c"},
	{"Q7f", "acq_rel", SAFE,
	 "redundant in C11: Q7 and N1 are seq_cst; kept for emulators that do not order a "
	 "release store before a later acquire load (QEMU's TCG on x86-64 hosts)",
	 "queue.c"},
	{"Q5", "release", SAFE,
	 "close finalizes the tail segment after it, and K1f, a seq_cst fence, ends that: a "
	 "seq_cst load of the flag after K1f (grow's Q5, is_closed) reads it or later (C11 "
	 "7.17.3p10)",
	 "queue.c"},
};
#endif

struct outcome {
	bool failed;
	char scenario[48];
	char msg[1024];
	unsigned long schedules;
};

/*
 * Runs every scenario (DFS, then the stall search) until one fails. out->scenario names the
 * one running, so that a parent that shares *out sees where a child aborted. In a mutant run
 * (mutant: the weakened site's file, "" for none; NULL: the shipped orders) the queue's
 * scenarios run without the stall search, and a weakening in queue.c runs only them (the
 * ring's scenarios never reach queue.c).
 */
static void run_all(struct outcome *out, unsigned long stall_limit, const char *mutant)
{
	const int stale = (int)env_or("LFQ_WEAK_STALE", 1);
	struct sched_opts dfs = {
		.strategy = SCHED_DFS, .bound = (int)env_or("LFQ_WEAK_BOUND", 1), .stale = stale};
	struct sched_opts stall = {.strategy = SCHED_STALL, .limit = stall_limit, .stale = stale};

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < NSCEN + NQSCEN && !out->failed; i++) {
		const struct sched_opts *os[] = {&dfs, &stall};
		const char *name = i < NSCEN ? scenarios[i].name : queue_name(i - NSCEN);

		if (i < NSCEN && mutant && strcmp(mutant, "queue.c") == 0)
			continue;
		snprintf(out->scenario, sizeof(out->scenario), "%s", name);
		for (int j = 0; j < (mutant && i >= NSCEN ? 1 : 2) && !out->failed; j++) {
			struct sched_result r;
			const int rc = i < NSCEN ? ring_check_weak(&scenarios[i], os[j], &r)
						 : queue_run(i - NSCEN, os[j], &r);

			if (rc != 0) {
				snprintf(out->msg, sizeof(out->msg),
					 "the scheduler could not start");
				out->failed = true;
				return;
			}
			out->schedules += r.schedules;
			if (getenv("LFQ_WEAK_VERBOSE"))
				fprintf(stderr, "%s: %s: %lu schedules%s\n", name,
					j ? "stall" : "dfs", r.schedules,
					r.failed ? " FAILED" : "");
			if (r.failed) {
				out->failed = true;
				snprintf(out->msg, sizeof(out->msg), "%s", r.msg);
			}
		}
	}
}

/* What a child process hands back (shared memory): its outcome and the sites it met. */
struct shared {
	struct outcome o;
	bool done;
	int n;
	struct weak_site s[WEAK_MAX_SITES];
};

/*
 * Runs fn(sh, arg) in a child process and returns sh (munmap it): the scheduler's threads live
 * there, so that every test starts from a process without them (the Criterion stand-in of the
 * cross builds runs all tests in one process), and a mutant that trips an assertion of the
 * library ends only its child.
 */
static struct shared *in_child(void (*fn)(struct shared *sh, const void *arg), const void *arg)
{
	struct shared *sh =
		mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	cr_assert(sh != MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	fflush(NULL);
	const pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		alarm((unsigned)env_or("LFQ_WEAK_MUTANT_TIMEOUT", 300));
		fn(sh, arg);
		sh->done = true;
		_exit(0);
	}
	int status;

	waitpid(pid, &status, 0);
	if (!sh->done) {
		sh->o.failed = true;
		if (WIFSIGNALED(status))
			snprintf(sh->o.msg, sizeof(sh->o.msg), "the library aborted (%s)",
				 WTERMSIG(status) == SIGALRM ? "timeout" : "an assertion");
		else
			snprintf(sh->o.msg, sizeof(sh->o.msg), "the run ended early (status %d)",
				 WEXITSTATUS(status));
	}
	return sh;
}

static void run_shipped(struct shared *sh, const void *arg)
{
	(void)arg;
	run_all(&sh->o, env_or("LFQ_WEAK_STALL", 20), NULL);
}

/* Every scenario passes with the orders as shipped. */
Test(check_weak, shipped_orders_pass, .timeout = 600)
{
	struct shared *sh = in_child(run_shipped, NULL);
	const struct outcome out = sh->o;

	munmap(sh, sizeof(*sh));
	fprintf(stderr, "shipped orders: %lu schedules\n", out.schedules);
	cr_assert(!out.failed, "%s: %s", out.scenario, out.msg);
}

#ifndef LFQ_WEAK_SCQ /* the cell ring's O5, labels and table */
/*
 * The model has teeth for W2a too: when membarrier(2) fails (lfq__test_fail_membarrier), an SC
 * ring's consumer publishes with its plain O5 and nothing orders it against the sleeper's
 * re-check, so the notify can miss a push_wait sleeper. (The library then sleeps in 1 ms slices
 * and re-checks, waitq.h; the model's sleeps have no timeout, so the miss shows as a lost
 * wake-up.)
 */
static void run_unfenced(struct shared *sh, const void *arg)
{
	static const struct ring_scenario s = {
		"spsc_dekker_push_wait_unfenced", 1, 1, {"ww", "pp"}, SPSC};
	const struct sched_opts dfs = {.strategy = SCHED_DFS, .bound = 1, .stale = 1};
	struct sched_result r;

	(void)arg;
	/* Relaxed: set before the scheduler's threads start. */
	atomic_store_explicit(&lfq__test_fail_membarrier, 1, memory_order_relaxed);
	if (ring_check_weak(&s, &dfs, &r) != 0)
		snprintf(r.msg, sizeof(r.msg), "the scheduler could not start");
	sh->o.failed = r.failed;
	snprintf(sh->o.msg, sizeof(sh->o.msg), "%s", r.msg);
}

Test(check_weak, without_membarrier_a_push_wait_sleeper_misses_its_wake_up, .timeout = 600)
{
	struct shared *sh = in_child(run_unfenced, NULL);
	const struct outcome out = sh->o;

	munmap(sh, sizeof(*sh));
	cr_assert(out.failed, "no schedule lost a wake-up without W2a");
	cr_assert(strncmp(out.msg, "lost wake-up", 12) == 0, "%s", out.msg);
	fprintf(stderr, "without W2a: %s\n", out.msg);
}

/* The label comment on or up to four lines above a site's line: "C2" in a comment starting with it.
 */
static void label_of(const char *file, int line, char *label, size_t len)
{
	char path[512], buf[256];
	char lines[5][256] = {{0}};

	snprintf(label, len, "?");
	snprintf(path, sizeof(path), "%s/lib/%s", LFQ_SOURCE_ROOT, file);
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	for (int n = 1; n <= line && fgets(buf, sizeof(buf), f); n++)
		if (n > line - 5)
			snprintf(lines[n - (line - 4)], sizeof(lines[0]), "%s", buf);
	fclose(f);
	for (int i = 4; i >= 0; i--) {
		for (const char *c = strstr(lines[i], "/*"); c; c = strstr(c + 2, "/*")) {
			const char *p = c + 2;

			while (*p == ' ')
				p++;
			size_t n = 0;

			while (p[n] >= 'A' && p[n] <= 'Z' && n < 2)
				n++;
			if (n == 0 || p[n] < '0' || p[n] > '9')
				continue;
			while (p[n] >= '0' && p[n] <= '9')
				n++;
			if (p[n] >= 'a' && p[n] <= 'z')
				n++;
			snprintf(label, len, "%.*s", (int)n, p);
			return;
		}
	}
}

/* The function a site is in: the last line before it that starts a definition (a name and
 * "(" at the start of a line), so that the table does not change when lines move. */
static void function_of(const char *file, int line, char *name, size_t len)
{
	char path[512], buf[256];

	snprintf(name, len, "?");
	snprintf(path, sizeof(path), "%s/lib/%s", LFQ_SOURCE_ROOT, file);
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	for (int n = 1; n <= line && fgets(buf, sizeof(buf), f); n++) {
		const char *paren = strchr(buf, '(');

		if (!paren || !((buf[0] >= 'a' && buf[0] <= 'z') || buf[0] == '_') ||
		    strchr(buf, ';') || strchr(buf, '#') || strchr(buf, '='))
			continue;
		const char *e = paren, *b = paren;

		while (b > buf && (b[-1] == '_' || (b[-1] >= 'a' && b[-1] <= 'z') ||
				   (b[-1] >= '0' && b[-1] <= '9')))
			b--;
		if (e > b)
			snprintf(name, len, "%.*s", (int)(e - b), b);
	}
	fclose(f);
}

/* The one-step weakenings of an order for a site of kind k (slot 1: a CAS's failure). */
static int weaker(enum weak_kind k, int slot, int order, int out[2])
{
	const bool rmw = k == WK_RMW || k == WK_CAS || k == WK_CAS128 || k == WK_FENCE;

	if (slot == 1 || k == WK_LOAD) {
		if (order == memory_order_seq_cst)
			return out[0] = memory_order_acquire, 1;
		if (order == memory_order_acquire)
			return out[0] = memory_order_relaxed, 1;
		return 0;
	}
	if (k == WK_STORE) {
		if (order == memory_order_seq_cst)
			return out[0] = memory_order_release, 1;
		if (order == memory_order_release)
			return out[0] = memory_order_relaxed, 1;
		return 0;
	}
	if (!rmw)
		return 0;
	switch (order) {
	case memory_order_seq_cst:
		return out[0] = memory_order_acq_rel, 1;
	case memory_order_acq_rel:
		out[0] = memory_order_acquire;
		out[1] = memory_order_release;
		return 2;
	case memory_order_acquire:
	case memory_order_release:
		return out[0] = memory_order_relaxed, 1;
	}
	return 0;
}

/* One weakened site (file NULL: none), run in a child by run_mutant. */
struct mutant {
	const char *file;
	int line, slot, order;
};

static void run_mutant(struct shared *sh, const void *arg)
{
	const struct mutant *m = arg;
	const struct weak_site *s;

	weak_mutate(m->file, m->line, m->slot, m->order);
	run_all(&sh->o, env_or("LFQ_WEAK_SWEEP_STALL", 5), m->file ? m->file : "");
	sh->n = weak_sites(&s);
	memcpy(sh->s, s, (size_t)sh->n * sizeof(*s));
}

static const char *safe_in(const __typeof__(safe[0]) *list, size_t n, const char *file,
			   const char *label, int to, enum why_kind *kind)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].label, label) == 0 &&
		    (!list[i].file || strcmp(list[i].file, file) == 0) &&
		    strcmp(list[i].to, weak_order_name(to)) == 0) {
			*kind = list[i].kind;
			return list[i].why;
		}
	return NULL;
}

static const char *safe_reason(const char *file, const char *label, int to, enum why_kind *kind)
{
	const char *why = safe_in(safe, sizeof(safe) / sizeof(safe[0]), file, label, to, kind);

#ifdef LFQ_WEAK_QUEUE
	if (!why)
		why = safe_in(queue_safe, sizeof(queue_safe) / sizeof(queue_safe[0]), file, label,
			      to, kind);
#endif
	return why;
}

/* The check that failed: the start of the message, up to the colon. */
static void check_name(const char *msg, char *out, size_t len)
{
	size_t n = strcspn(msg, ":;(");

	while (n > 0 && msg[n - 1] == ' ')
		n--;
	snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), msg);
}

/* The sites in the model's files that no scenario reached (other builds' code: the blind
 * push, TSan, mutants), listed under the table. */
static void unreached(FILE *t, const struct weak_site *sites, int nsites)
{
	static const char *const files[] = {"ring_cells.h", "ring_cells.c", "waitq.h", "waitq.c",
#ifdef LFQ_WEAK_QUEUE
					    "queue.c"
#endif
	};
	static const char *const macros[] = {"LFQ_LOAD(",      "LFQ_STORE(",	 "LFQ_CAS(",
					     "LFQ_CAS_WEAK(",  "LFQ_CAS128(",	 "LFQ_FENCE(",
					     "LFQ_FETCH_ADD(", "LFQ_FETCH_SUB(", "LFQ_FETCH_OR("};
	bool first = true;

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char path[512], buf[256];

		snprintf(path, sizeof(path), "%s/lib/%s", LFQ_SOURCE_ROOT, files[f]);
		FILE *in = fopen(path, "r");

		if (!in)
			continue;
		for (int line = 1; fgets(buf, sizeof(buf), in); line++) {
			bool site = false, seen = false;

			for (size_t m = 0; m < sizeof(macros) / sizeof(macros[0]); m++)
				site |= strstr(buf, macros[m]) != NULL && !strstr(buf, "#define");
			if (!site || strstr(buf, "memory_order_relaxed"))
				continue;
			for (int i = 0; i < nsites; i++)
				seen |= sites[i].line == line &&
					strcmp(sites[i].file, files[f]) == 0;
			if (seen)
				continue;
			char label[16], fn[64];

			label_of(files[f], line, label, sizeof(label));
			function_of(files[f], line, fn, sizeof(fn));
			fprintf(t, "%s%s in `%s`", first ? "\nNot reached in this build: " : ", ",
				label, fn);
			first = false;
		}
		fclose(in);
	}
	if (!first)
		fprintf(t, ".\n");
}

/*
 * Whether docs/design.md holds this table between its weak-mutants markers. Only with the
 * default search (the table's numbers are its), on x86-64 (where it was made) and outside the
 * sanitizer builds.
 */
static bool doc_is_current(const char *table)
{
#if defined(LFQ_CHECK_REDUCED) || !defined(__x86_64__) || !defined(LFQ_WEAK_QUEUE)
	(void)table;
	return true;
#else
	static const char *const knobs[] = {"LFQ_WEAK_STALE", "LFQ_WEAK_BOUND",
					    "LFQ_WEAK_SWEEP_STALL", "LFQ_WEAK_NO_DOC_CHECK",
					    "LFQ_WEAK_ONLY"};

	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (getenv(knobs[i]))
			return true;
	FILE *f = fopen(LFQ_SOURCE_ROOT "/docs/design.md", "r");

	if (!f)
		return false;
	static char doc[1 << 20];
	const size_t n = fread(doc, 1, sizeof(doc) - 1, f);

	fclose(f);
	doc[n] = 0;
	static const char begin[] = "<!-- weak-mutants:begin -->\n";
	const char *b = strstr(doc, begin), *e = strstr(doc, "<!-- weak-mutants:end -->");

	if (!b || !e || e < b + strlen(begin))
		return false;
	b += strlen(begin);
	return (size_t)(e - b) == strlen(table) && memcmp(b, table, strlen(table)) == 0;
#endif
}

/* LFQ_WEAK_ONLY=file:line (a site of the table) limits the sweep to that site, to study one
 * weakening; the table is then not compared with the document. */
static bool only_this(const struct weak_site *s)
{
	const char *only = getenv("LFQ_WEAK_ONLY");
	char here[128];

	if (!only)
		return true;
	snprintf(here, sizeof(here), "%s:%d", s->file, s->line);
	return strcmp(only, here) == 0;
}

static int by_place(const void *a, const void *b)
{
	const struct weak_site *x = a, *y = b;
	const int f = strcmp(x->file, y->file);

	return f ? f : x->line - y->line;
}

/*
 * Every one-step weakening of every non-relaxed site the scenarios reach is caught, or argued
 * safe; the shipped orders pass.
 */
Test(check_weak, every_weakening_is_caught_or_argued_safe, .timeout = 1200)
{
	static struct weak_site sites[WEAK_MAX_SITES];
	int nsites = 0;
	const struct mutant none = {NULL, 0, 0, 0};
	struct shared *sh = in_child(run_mutant, &none);
	const struct outcome base = sh->o;

	if (sh->done) {
		nsites = sh->n;
		memcpy(sites, sh->s, (size_t)nsites * sizeof(sites[0]));
	}
	munmap(sh, sizeof(*sh));
	cr_assert(!base.failed, "shipped orders: %s: %s", base.scenario, base.msg);
	cr_assert(nsites > 0, "no site reached");
	qsort(sites, (size_t)nsites, sizeof(sites[0]), by_place);

	char *table = NULL;
	size_t table_len = 0;
	FILE *t = open_memstream(&table, &table_len);

	cr_assert(t);
	fprintf(t, "| function (file) | label | access | shipped | weakened to | result |\n"
		   "|---|---|---|---|---|---|\n");
	int bad = 0, caught = 0, argued = 0;

	for (int i = 0; i < nsites; i++) {
		const struct weak_site *s = &sites[i];
		char label[16];

		if (!only_this(s))
			continue;
		label_of(s->file, s->line, label, sizeof(label));
		char fn[64];

		function_of(s->file, s->line, fn, sizeof(fn));
		for (int slot = 0; slot < (s->kind == WK_CAS ? 2 : 1); slot++) {
			const int from = slot ? s->fail : s->order;
			int to[2];
			const int nto = weaker(s->kind, slot, from, to);

			for (int j = 0; j < nto; j++) {
				const struct mutant m = {s->file, s->line, slot, to[j]};
				struct shared *sh = in_child(run_mutant, &m);
				const struct outcome o = sh->o;
				char result[300], check[48];

				munmap(sh, sizeof(*sh));
				enum why_kind kind = SAFE;
				const char *why = safe_reason(s->file, label, to[j], &kind);

				if (o.failed) {
					check_name(o.msg, check, sizeof(check));
					snprintf(result, sizeof(result),
						 "caught: `%s`, %s (%lu schedules)", o.scenario,
						 check, o.schedules);
					caught++;
					if (why)
						fprintf(stderr,
							"%s:%d %s: argued safe but caught: %s\n",
							s->file, s->line, label, o.msg);
				} else if (why) {
					snprintf(result, sizeof(result), "%s: %s",
						 kind == SAFE
							 ? "argued safe"
							 : "not caught, needed outside the model",
						 why);
					argued++;
				} else {
					snprintf(result, sizeof(result), "**NOT CAUGHT**");
					bad++;
				}
				fprintf(t, "| `%s` (%s) | %s | %s%s | %s | %s | %s |\n", fn,
					s->file, label, weak_kind_name(s->kind),
					slot ? " (failure)" : "", weak_order_name(from),
					weak_order_name(to[j]), result);
				fprintf(stderr, "%s:%d %s %s -> %s: %s%s%s\n", s->file, s->line,
					label, weak_order_name(from), weak_order_name(to[j]),
					result, o.failed ? ": " : "", o.failed ? o.msg : "");
			}
		}
	}
	unreached(t, sites, nsites);
	fclose(t);
	fprintf(stderr, "%d caught, %d argued safe, %d not caught\n", caught, argued, bad);
	const char *path = getenv("LFQ_WEAK_TABLE");

	if (path) {
		FILE *f = fopen(path, "w");

		cr_assert(f, "cannot write %s", path);
		fputs(table, f);
		fclose(f);
	}
	printf("%s", table);
	const bool current = doc_is_current(table);

	free(table);
	cr_assert_eq(bad, 0, "%d weakenings neither caught nor argued safe", bad);
	cr_assert(current, "docs/design.md's weak-mutants table is not this run's: run "
			   "tests/gen_weak_table.sh");
}
#endif /* LFQ_WEAK_SCQ */
