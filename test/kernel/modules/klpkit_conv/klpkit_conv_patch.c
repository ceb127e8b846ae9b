// SPDX-License-Identifier: GPL-2.0
/*
 * klpkit_conv1 and klpkit_conv2 (conv1.c, conv2.c: CONV_POS 1 and 2): livepatches in the shape of
 * upstream klp-convert's two selftest patches. They patch no function: both klp_objects hold only
 * the terminating klp_func, and exist so that the kernel applies their relocations. Every
 * non-exported symbol of klpkit_conv_mod is resolved by KLP_MODULE_RELOC annotations alone
 * (homonyms at sympos CONV_POS); conv1 annotates vmlinux's saved_command_line too (sympos 0),
 * conv2 leaves it to klp convert (unique). Writing to print_debug prints what the relocations
 * reach. Built by Kbuild with Debian's flags (-g included).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/stringify.h>
#include "klpkit_reloc.h"

extern char *saved_command_line;		/* vmlinux, not exported */
extern char driver_name[];			/* klpkit_conv_mod (a common name: the annotation says which object) */
extern char homonym_string[];			/* klpkit_conv_mod, twice */
extern const char *get_homonym_string(void);	/* klpkit_conv_mod, twice */
extern const char *klpkit_conv_driver_name(void);	/* klpkit_conv_mod, unique */

static int print_debug_set(const char *val, const struct kernel_param *kp)
{
	pr_info("saved_command_line: %s\n", saved_command_line);
	pr_info("driver_name, 0: %s\n", driver_name);
	pr_info("klpkit_conv_driver_name(), 0: %s\n", klpkit_conv_driver_name());
	pr_info("homonym_string, " __stringify(CONV_POS) ": %s\n", homonym_string);
	pr_info("get_homonym_string(), " __stringify(CONV_POS) ": %s\n", get_homonym_string());
	return 0;
}

static int print_debug;
static const struct kernel_param_ops print_debug_ops = {
	.set = print_debug_set,
	.get = param_get_int,
};
module_param_cb(print_debug, &print_debug_ops, &print_debug, 0200);

#if CONV_POS == 1
KLP_MODULE_RELOC(vmlinux) vmlinux_relocs[] = {
	KLP_SYMPOS(saved_command_line, 0)
};
#endif
KLP_MODULE_RELOC(klpkit_conv_mod) conv_mod_relocs[] = {
	KLP_SYMPOS(driver_name, 0),
	KLP_SYMPOS(homonym_string, CONV_POS),
	KLP_SYMPOS(get_homonym_string, CONV_POS),
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
