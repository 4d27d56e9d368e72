/* SPDX-License-Identifier: MIT */
/* include/lfq/version.h and lfq_version(): generated from the project's version. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <lfq/lfq.h>

/* LFQ_TEST_PROJECT_VERSION: meson.project_version(), passed by tests/meson.build. */
Test(version, macros_match_the_project_version)
{
	char expect[64];

	snprintf(expect, sizeof(expect), "%d.%d.%d", LFQ_VERSION_MAJOR, LFQ_VERSION_MINOR,
		 LFQ_VERSION_PATCH);
	cr_assert(strcmp(expect, LFQ_TEST_PROJECT_VERSION) == 0);
	cr_assert(strcmp(LFQ_VERSION_STRING, LFQ_TEST_PROJECT_VERSION) == 0);
}

Test(version, runtime_version_is_the_library_build)
{
	const char *v = lfq_version();

	cr_assert_not_null(v);
	cr_assert(strcmp(v, LFQ_TEST_PROJECT_VERSION) == 0);
	cr_assert_eq(lfq_version(), v, "a static string: the same pointer every call");
}

Test(version, at_least_compares_major_minor_patch)
{
	cr_assert(LFQ_VERSION_AT_LEAST(LFQ_VERSION_MAJOR, LFQ_VERSION_MINOR, LFQ_VERSION_PATCH));
	cr_assert(LFQ_VERSION_AT_LEAST(0, 0, 0));
	cr_assert(!LFQ_VERSION_AT_LEAST(LFQ_VERSION_MAJOR + 1, 0, 0));
	cr_assert(!LFQ_VERSION_AT_LEAST(LFQ_VERSION_MAJOR, LFQ_VERSION_MINOR + 1, 0));
	cr_assert(
		!LFQ_VERSION_AT_LEAST(LFQ_VERSION_MAJOR, LFQ_VERSION_MINOR, LFQ_VERSION_PATCH + 1));
	if (LFQ_VERSION_MINOR > 0)
		cr_assert(LFQ_VERSION_AT_LEAST(LFQ_VERSION_MAJOR, LFQ_VERSION_MINOR - 1, 99));
#if LFQ_VERSION_AT_LEAST(0, 1, 0)
	const bool in_preprocessor = true;
#else
	const bool in_preprocessor = false;
#endif
	cr_assert(in_preprocessor, "LFQ_VERSION_AT_LEAST must work in #if");
}
