// SPDX-License-Identifier: GPL-2.0
/*
 * klpkit_conv2: a livepatch in the shape of upstream klp-convert's selftest patch 2. It patches no
 * function: both klp_objects hold only the terminating klp_func, and exist so that the kernel
 * applies their relocations. Every non-exported symbol is resolved by KLP_MODULE_RELOC
 * annotations alone (homonyms at sympos 2). Writing to its print_debug parameter prints what
 * the relocations reach. Built by Kbuild with Debian's flags (-g included).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include "klpkit_reloc.h"

extern char *saved_command_line;		/* vmlinux, not exported */
extern char driver_name[];			/* klpkit_conv_mod (and vmlinux, several times) */
extern char homonym_string[];			/* klpkit_conv_mod, twice */
extern const char *get_homonym_string(void);	/* klpkit_conv_mod, twice */
extern const char *klpkit_conv_driver_name(void);	/* klpkit_conv_mod, unique */

static int print_debug_set(const char *val, const struct kernel_param *kp)
{
	pr_info("saved_command_line: %s\n", saved_command_line);
	pr_info("driver_name, 0: %s\n", driver_name);
	pr_info("klpkit_conv_driver_name(), 0: %s\n", klpkit_conv_driver_name());
	pr_info("homonym_string, 2: %s\n", homonym_string);
	pr_info("get_homonym_string(), 2: %s\n", get_homonym_string());
	return 0;
}

static int print_debug;
static const struct kernel_param_ops print_debug_ops = {
	.set = print_debug_set,
	.get = param_get_int,
};
module_param_cb(print_debug, &print_debug_ops, &print_debug, 0200);

KLP_MODULE_RELOC(klpkit_conv_mod) conv_mod_relocs[] = {
	KLP_SYMPOS(driver_name, 0),
	KLP_SYMPOS(homonym_string, 2),
	KLP_SYMPOS(get_homonym_string, 2),
	KLP_SYMPOS(klpkit_conv_driver_name, 0),
};

static struct klp_func funcs[] = {
	{ }, { }
};

static struct klp_object objs[] = {
	{ .funcs = funcs },	/* vmlinux */
	{ .name = "klpkit_conv_mod", .funcs = funcs },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int klpkit_conv_init(void)
{
	return klp_enable_patch(&patch);
}

static void klpkit_conv_exit(void)
{
}

module_init(klpkit_conv_init);
module_exit(klpkit_conv_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
