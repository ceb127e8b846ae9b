// SPDX-License-Identifier: GPL-2.0
/*
 * klpkit_target: the module the test livepatches. /sys/module/klpkit_target/parameters/value
 * prints what klpkit_target_report() writes; the patch replaces that function.
 * Like upstream's test_klp_convert_mod, the same static names exist in both of its units:
 * get_homonym_string() and homonym_string are sympos 1 here and 2 in target_b.c. It has a static
 * key, a static call and a static function for the patch's static branch, static call and
 * alternative.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/jump_label.h>
#include <linux/static_call.h>

static const char homonym_string[] = "homonym string A";

static noinline const char *get_homonym_string(void)
{
	return homonym_string;
}

/* A module static key the patch tests (static_key_enabled) or branches on (static_branch). */
DEFINE_STATIC_KEY_TRUE(klpkit_target_key);

/* A module static call the patch calls with static_call(); the "call" parameter retargets it. */
static int klpkit_call_one(void)
{
	return 1;
}

static int klpkit_call_two(void)
{
	return 2;
}

DEFINE_STATIC_CALL(klpkit_target_call, klpkit_call_one);

/* What the patch's alternative calls (alternative_call()): a static function of this module only. */
static __used noinline const char *klpkit_target_alt(void)
{
	return "alt";
}

const char *klpkit_target_b(void);

noinline int klpkit_target_report(char *buf)
{
	return sprintf(buf, "orig %s %s\n", get_homonym_string(), klpkit_target_b());
}

static int value_get(char *buf, const struct kernel_param *kp)
{
	return klpkit_target_report(buf);
}

static const struct kernel_param_ops value_ops = { .get = value_get };
module_param_cb(value, &value_ops, NULL, 0444);

/* Writing 0 or 1 flips the static key, so a test can see which patched code follows it. */
static int key_set(const char *val, const struct kernel_param *kp)
{
	bool on;
	int ret = kstrtobool(val, &on);

	if (ret)
		return ret;
	if (on)
		static_branch_enable(&klpkit_target_key);
	else
		static_branch_disable(&klpkit_target_key);
	return 0;
}

static const struct kernel_param_ops key_ops = { .set = key_set };
module_param_cb(key, &key_ops, NULL, 0200);

/* Writing 1 or 2 makes the static call call klpkit_call_one() or klpkit_call_two(). */
static int call_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret = kstrtouint(val, 10, &n);

	if (ret)
		return ret;
	if (n != 1 && n != 2)
		return -EINVAL;
	static_call_update(klpkit_target_call, n == 1 ? klpkit_call_one : klpkit_call_two);
	return 0;
}

static const struct kernel_param_ops call_ops = { .set = call_set };
module_param_cb(call, &call_ops, NULL, 0200);

static int klpkit_target_init(void)
{
	return 0;
}

static void klpkit_target_exit(void)
{
}

module_init(klpkit_target_init);
module_exit(klpkit_target_exit);
MODULE_LICENSE("GPL");
