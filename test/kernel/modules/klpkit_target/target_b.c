// SPDX-License-Identifier: GPL-2.0
/* Second unit of klpkit_target: the homonyms with sympos 2. */
#include <linux/module.h>

static const char homonym_string[] = "homonym string B";

static noinline const char *get_homonym_string(void)
{
	return homonym_string;
}

const char *klpkit_target_b(void)
{
	return get_homonym_string();
}
