// SPDX-License-Identifier: GPL-2.0
/* The second unit of klpkit_conv_mod: the same static names again (sympos 2). */
#include <linux/compiler.h>

static char homonym_string[] = "homonym string B";

__used static char *get_homonym_string(void)
{
	return homonym_string;
}
