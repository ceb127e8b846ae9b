// SPDX-License-Identifier: GPL-2.0
/*
 * klpkit_patch: replaces klpkit_target_report() in module klpkit_target. The replacement calls
 * the module's *static* get_homonym_string() (two of them: the conversion picks sympos 2, whose
 * string is "homonym string B") and vmlinux's non-exported nr_processes().
 * With -DKLPKIT_STATIC_BRANCH it branches on the module's static key with static_branch_likely()
 * (klp convert refuses that); otherwise it tests the key with static_key_enabled().
 * With -DKLPKIT_ARCH it also calls the module's static call (static_call()) and, through an
 * alternative whose replacement calls the module (alternative_call(), a feature every CPU has),
 * the module's static klpkit_target_alt(): both need --per-object. With -DKLPKIT_PRINT_ADDR it
 * prints the address of the get_homonym_string() it calls.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/jump_label.h>
#include <linux/sched/stat.h>
#ifdef KLPKIT_ARCH
#include <linux/static_call.h>
#include <asm/alternative.h>
#include <asm/cpufeatures.h>
#endif

extern const char *get_homonym_string(void);
extern struct static_key_true klpkit_target_key;

#ifdef KLPKIT_ARCH
int klpkit_target_call_type(void);
DECLARE_STATIC_CALL(klpkit_target_call, klpkit_target_call_type);
extern const char *klpkit_target_alt(void);

/* What the alternative's original instruction calls: never, on a CPU (X86_FEATURE_ALWAYS). */
static noinline const char *klpkit_patch_alt_orig(void)
{
	return "orig";
}

static const char *klpkit_patch_alt(void)
{
	const char *s;

	/* The callee may use every caller-saved register. */
	alternative_call(klpkit_patch_alt_orig, klpkit_target_alt, X86_FEATURE_ALWAYS, "=a" (s),
			 ASM_NO_INPUT_CLOBBER("memory", "cc", "rcx", "rdx", "rsi", "rdi",
					      "r8", "r9", "r10", "r11"));
	return s;
}
#endif

static int livepatch_klpkit_target_report(char *buf)
{
#ifdef KLPKIT_PRINT_ADDR
	/* Which get_homonym_string() the conversion bound the patch to: compared with kallsyms. */
	return sprintf(buf, "patched %s bound=%px\n", get_homonym_string(), get_homonym_string);
#endif
#ifdef KLPKIT_ARCH
	return sprintf(buf, "patched-arch %s call=%d alt=%s\n", get_homonym_string(),
		       static_call(klpkit_target_call)(), klpkit_patch_alt());
#endif
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
