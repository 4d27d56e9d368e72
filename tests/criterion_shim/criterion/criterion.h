/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for <criterion/criterion.h>, used by the ThreadSanitizer build and by cross
 * builds that ask for it (cross/aarch64-linux-gnu.ini: under qemu-user, Criterion's runner
 * cannot re-execute the test program).
 *
 * Why: Criterion 2.4 cannot start under TSan ("Could not initialize inheritable arena",
 * Criterion issue #274, still open): its sandbox allocator looks for free address space
 * inside the range TSan reserves for shadow memory. Every other native build uses real
 * Criterion.
 * This header implements just the subset the suites use (Test, TestSuite, cr_assert*) so
 * that the very same test sources run under TSan: tests run in-process, one after the other;
 * the first failed assertion prints its location and message and fails the run. It prints
 * Criterion's synthesis line so the suite's counting is the same.
 */
#ifndef LFQ_TESTS_CRITERION_SHIM_H
#define LFQ_TESTS_CRITERION_SHIM_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct shim_test {
	const char *suite, *name;
	void (*fn)(void);
	struct shim_test *next;
};

static struct shim_test *shim_tests;
static const struct shim_test *shim_current;

/* TestSuite's options: .init and .fini run before and after each test of the suite; the
 * others (.timeout, ...) are accepted and ignored. `unused` lets the option list be empty. */
struct shim_suite_opts {
	void (*init)(void);
	void (*fini)(void);
	double timeout;
	int unused;
};

struct shim_suite {
	const char *name;
	struct shim_suite_opts opts;
	struct shim_suite *next;
};

static struct shim_suite *shim_suites;

static inline const struct shim_suite *shim_find_suite(const char *name)
{
	for (const struct shim_suite *s = shim_suites; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static inline void shim_register(struct shim_test *t)
{
	t->next = shim_tests;
	shim_tests = t;
}

__attribute__((format(printf, 4, 5))) static inline void
shim_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[----] %s:%d: Assertion failed: %s\n[----]   ", file, line, expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr,
		"\n[FAIL] %s::%s\n[====] Synthesis: Tested: 1 | Passing: 0 | Failing: 1 "
		"| Crashing: 0\n",
		shim_current ? shim_current->suite : "?", shim_current ? shim_current->name : "?");
	fflush(stderr);
	_Exit(1);
}

/* cr_skip(fmt, ...): ends the running test as skipped (its .fini still runs). */
static jmp_buf shim_skip_jmp;

__attribute__((format(printf, 1, 2), noreturn)) static inline void shim_skip(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[SKIP] %s::%s: ", shim_current ? shim_current->suite : "?",
		shim_current ? shim_current->name : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	longjmp(shim_skip_jmp, 1);
}
#define cr_skip(...) shim_skip(__VA_ARGS__)

/* Runs one test's body; false if it called cr_skip. setjmp lives here, not in main, so that
 * no local of main's loop is live across it (gcc's -Wclobbered, e.g. for riscv64). */
static bool shim_run_body(void (*fn)(void))
{
	if (setjmp(shim_skip_jmp) != 0)
		return false;
	fn();
	return true;
}

/* Test(suite, name, options...): options such as .timeout are accepted and ignored. */
#define Test(...) SHIM_TEST(__VA_ARGS__, 0)
#define SHIM_TEST(suite, name, ...)                                                                \
	static void suite##_##name##_fn(void);                                                     \
	static struct shim_test suite##_##name##_desc = {#suite, #name, suite##_##name##_fn,       \
							 NULL};                                    \
	__attribute__((constructor)) static void suite##_##name##_reg(void)                        \
	{                                                                                          \
		shim_register(&suite##_##name##_desc);                                             \
	}                                                                                          \
	static void suite##_##name##_fn(void)

/* TestSuite(suite, options...): .init / .fini for every test of the suite. */
#define TestSuite(...) SHIM_SUITE(__VA_ARGS__, .unused = 0)
#define SHIM_SUITE(suite, ...)                                                                     \
	static struct shim_suite suite##_suite_desc = {#suite, {__VA_ARGS__}, NULL};               \
	__attribute__((constructor)) static void suite##_suite_reg(void)                           \
	{                                                                                          \
		suite##_suite_desc.next = shim_suites;                                             \
		shim_suites = &suite##_suite_desc;                                                 \
	}                                                                                          \
	struct shim_suite_opts /* a declaration, so that the macro takes a semicolon */

/* Every assertion takes an optional printf-style message, as Criterion's do. */
#define SHIM_ASSERT(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond))                                                                       \
			shim_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                         \
	} while (0)
#define SHIM_CMP(op, a, b, ...) SHIM_ASSERT((a)op(b), __VA_ARGS__)

#define cr_assert(...) SHIM_ASSERT(__VA_ARGS__, "%s", "")
#define SHIM_NOT(x, ...) SHIM_ASSERT(!(x), __VA_ARGS__)
#define SHIM_NULL(op, p, ...) SHIM_ASSERT((p)op NULL, __VA_ARGS__)
#define cr_assert_not(...) SHIM_NOT(__VA_ARGS__, "%s", "")
#define cr_assert_null(...) SHIM_NULL(==, __VA_ARGS__, "%s", "")
#define cr_assert_not_null(...) SHIM_NULL(!=, __VA_ARGS__, "%s", "")
#define cr_assert_eq(...) SHIM_CMP(==, __VA_ARGS__, "%s", "")
#define cr_assert_neq(...) SHIM_CMP(!=, __VA_ARGS__, "%s", "")
#define cr_assert_lt(...) SHIM_CMP(<, __VA_ARGS__, "%s", "")
#define cr_assert_leq(...) SHIM_CMP(<=, __VA_ARGS__, "%s", "")
#define cr_assert_gt(...) SHIM_CMP(>, __VA_ARGS__, "%s", "")
#define cr_assert_geq(...) SHIM_CMP(>=, __VA_ARGS__, "%s", "")

/* Runs every test (or those whose "suite/name" contains argv's --filter text, if given). */
int main(int argc, char **argv)
{
	const char *filter = NULL;
	unsigned n = 0, n_skipped = 0;

	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--filter") == 0)
			filter = argv[i + 1];
	for (const struct shim_test *t = shim_tests; t; t = t->next) {
		char full[256];

		snprintf(full, sizeof(full), "%s/%s", t->suite, t->name);
		if (filter && !strstr(full, filter))
			continue;
		shim_current = t;
		const struct shim_suite *s = shim_find_suite(t->suite);
		if (s && s->opts.init)
			s->opts.init();
		const bool skipped = !shim_run_body(t->fn);

		if (s && s->opts.fini)
			s->opts.fini();
		if (skipped) {
			n_skipped++;
			continue;
		}
		fprintf(stderr, "[PASS] %s::%s\n", t->suite, t->name);
		n++;
	}
	fprintf(stderr,
		"[====] Synthesis: Tested: %u | Passing: %u | Failing: 0 | Crashing: 0 "
		"| Skipped: %u\n",
		n + n_skipped, n, n_skipped);
	return 0;
}

#endif /* LFQ_TESTS_CRITERION_SHIM_H */
