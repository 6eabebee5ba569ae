// SPDX-License-Identifier: GPL-2.0
/*
 * Livepatch of a function in module text mapped by 2M pages: once the
 * transition is done, test_module_map_func() in test_module_map returns
 * 2 * x + 2 instead of 2 * x + 1. Applied and removed while the target's
 * loop thread calls the function, which must only ever see one of the two
 * results.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>

static int livepatch_test_module_map_func(int x)
{
	return 2 * x + 2;
}

static struct klp_func funcs[] = {
	{
		.old_name = "test_module_map_func",
		.new_func = livepatch_test_module_map_func,
	}, { }
};

static struct klp_object objs[] = {
	{
		.name = "test_module_map",
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init test_module_map_klp_init(void)
{
	return klp_enable_patch(&patch);
}
module_init(test_module_map_klp_init);

static void __exit test_module_map_klp_exit(void)
{
}
module_exit(test_module_map_klp_exit);

MODULE_DESCRIPTION("Livepatch of a function in 2M-mapped module text");
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
