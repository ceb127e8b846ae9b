// SPDX-License-Identifier: GPL-2.0
/*
 * klpkit_conv_mod: the module patched by klpkit_conv1 and klpkit_conv2, in the shape of upstream
 * klp-convert's selftest module: statics that only annotations can reach. driver_name is also a
 * name in vmlinux (several times), so the annotation's object is what picks this one; the
 * homonyms exist in both units (sympos 1 here, 2 in conv_mod_b.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>

static const char driver_name[] = KBUILD_MODNAME;

/* Unique in the module: sympos 0 works. */
__used static const char *klpkit_conv_driver_name(void)
{
	return driver_name;
}

static const char homonym_string[] = "homonym string A";

__used static const char *get_homonym_string(void)
{
	return homonym_string;
}

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("klpkit test: the module annotated livepatches patch");
