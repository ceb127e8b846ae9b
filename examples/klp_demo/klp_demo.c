// SPDX-License-Identifier: GPL-2.0
/*
 * klp_demo: a livepatch for /proc/cmdline whose replacement calls a function and reads a variable
 * that vmlinux does not export (nr_processes(), saved_command_line). Built with Kbuild against
 * Debian's linux-headers with KBUILD_MODPOST_WARN=1, the module cannot load as it is ("Unknown
 * symbol"); `klp convert` turns those two references into livepatch relocations.
 *
 * This is the bundled example of the README (examples/klp_demo.ko is this file, built and
 * stripped of debug info; examples/klp_demo/build.sh rebuilds it).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>
#include <linux/sched/stat.h>	/* nr_processes(): not exported */
#include <linux/init.h>		/* saved_command_line: not exported */

static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "klp_demo: nr_processes=%d cmdline=%s\n", nr_processes(), saved_command_line);
	return 0;
}

static struct klp_func funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = livepatch_cmdline_proc_show,
	}, { }
};

static struct klp_object objs[] = {
	{
		/* name being NULL means vmlinux */
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int klp_demo_init(void)
{
	return klp_enable_patch(&patch);
}

static void klp_demo_exit(void)
{
}

module_init(klp_demo_init);
module_exit(klp_demo_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("klpkit demo: livepatch calling non-exported vmlinux symbols");
