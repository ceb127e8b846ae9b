// SPDX-License-Identifier: GPL-2.0
/*
 * klpkit_patch: replaces klpkit_target_report() in module klpkit_target. The replacement calls
 * the module's *static* get_homonym_string() (two of them: the conversion picks sympos 2, whose
 * string is "homonym string B") and vmlinux's non-exported nr_processes().
 * With -DKLPKIT_STATIC_BRANCH it branches on the module's static key with static_branch_likely()
 * (klp convert refuses that); otherwise it tests the key with static_key_enabled().
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/jump_label.h>
#include <linux/sched/stat.h>

extern const char *get_homonym_string(void);
extern struct static_key_true klpkit_target_key;

static int livepatch_klpkit_target_report(char *buf)
{
#ifdef KLPKIT_STATIC_BRANCH
	if (static_branch_likely(&klpkit_target_key))
		return sprintf(buf, "patched-branch %s\n", get_homonym_string());
#endif
	return sprintf(buf, "patched %s key=%d procs=%d\n", get_homonym_string(),
		       static_key_enabled(&klpkit_target_key), nr_processes() > 0);
}

static struct klp_func funcs[] = {
	{ .old_name = "klpkit_target_report", .new_func = livepatch_klpkit_target_report },
	{ }
};

static struct klp_object objs[] = {
	{ .name = "klpkit_target", .funcs = funcs },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int klpkit_patch_init(void)
{
	return klp_enable_patch(&patch);
}

static void klpkit_patch_exit(void)
{
}

module_init(klpkit_patch_init);
module_exit(klpkit_patch_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
