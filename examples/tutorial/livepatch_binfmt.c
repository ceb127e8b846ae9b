// SPDX-License-Identifier: GPL-2.0
/*
 * livepatch_binfmt: the tutorial's livepatch (docs/tutorial.md). It replaces bm_status_read(), a
 * static function of Debian's binfmt_misc module, which is not loaded at boot: reading the
 * status file of a binfmt_misc mount then says "(livepatched)". The replacement reads the
 * module's static `enabled`, which no module exports: klp convert turns that reference into a
 * livepatch relocation for binfmt_misc, which the kernel writes when binfmt_misc loads, before or
 * after the patch.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/fs.h>
#include <linux/string.h>

extern int enabled;	/* fs/binfmt_misc.c: static int enabled = 1; */

static ssize_t livepatch_bm_status_read(struct file *file, char __user *buf, size_t nbytes, loff_t *ppos)
{
	const char *s = enabled ? "enabled (livepatched)\n" : "disabled (livepatched)\n";

	return simple_read_from_buffer(buf, nbytes, ppos, s, strlen(s));
}

static struct klp_func funcs[] = {
	{ .old_name = "bm_status_read", .new_func = livepatch_bm_status_read },
	{ }
};

static struct klp_object objs[] = {
	{ .name = "binfmt_misc", .funcs = funcs },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int livepatch_binfmt_init(void)
{
	return klp_enable_patch(&patch);
}

static void livepatch_binfmt_exit(void)
{
}

module_init(livepatch_binfmt_init);
module_exit(livepatch_binfmt_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
