// SPDX-License-Identifier: GPL-2.0
/*
 * Target module for the text patchers on module text mapped by 2M pages.
 *
 * Every kernel facility that rewrites module text (ftrace, kprobes,
 * livepatch, jump labels, alternatives) must behave on text that lives in
 * a chunk of the x86 module_map backend as it does on 4K-mapped vmalloc
 * text. This module gives them a target whose behaviour user space can
 * observe through debugfs (test_module_map/):
 *
 * func	  read: test_module_map_func(20): 41 unpatched, 42 once
 *	  test_module_map_klp is applied
 * calls  write N: call test_module_map_func() N times (probe hit counts)
 * loop	  write 1/0: start/stop a kthread calling test_module_map_func()
 *	  without pause; read: calls, unpatched and patched results and any
 *	  other result seen (must stay 0 while patchers come and go)
 * key	  write 1/0: enable/disable a static key defined here; read: the
 *	  branch its jump label takes
 * alt	  read: 1 once the module's alternatives are applied (the original
 *	  instruction yields 0, the replacement for X86_FEATURE_ALWAYS 1)
 *
 * Its data is over 2M, so every load also takes the backend's path for a
 * piece over 2M: a chunk of its own, created for the load and freed with
 * the module (module_faults.sh relies on it).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/jump_label.h>
#include <linux/kstrtox.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>

#include <asm/alternative.h>
#include <asm/cpufeatures.h>

#define TEST_ARG	20

static DEFINE_STATIC_KEY_FALSE(test_module_map_key);
static DEFINE_MUTEX(loop_lock);
static struct task_struct *loop_task;
static atomic_long_t loop_calls, loop_orig, loop_patched, loop_other;
static struct dentry *test_dir;
/* Read at each call, so the compiler cannot specialise the target. */
static int test_arg = TEST_ARG;
/* Makes the data piece of the module larger than 2M; never accessed. */
static u8 test_module_map_big[SZ_2M + PAGE_SIZE] __used;

/* The target of ftrace, the kprobes and the livepatch. */
static noinline int test_module_map_func(int x)
{
	return 2 * x + 1;
}

static noinline int test_module_map_branch(void)
{
	if (static_branch_unlikely(&test_module_map_key))
		return 1;
	return 0;
}

static noinline int test_module_map_alt(void)
{
	int v;

	asm volatile(ALTERNATIVE("mov $0, %0", "mov $1, %0",
				 X86_FEATURE_ALWAYS) : "=r" (v));
	return v;
}

static int loop_fn(void *unused)
{
	unsigned long i = 0;
	int v;

	while (!kthread_should_stop()) {
		v = test_module_map_func(READ_ONCE(test_arg));
		atomic_long_inc(&loop_calls);
		if (v == 2 * TEST_ARG + 1)
			atomic_long_inc(&loop_orig);
		else if (v == 2 * TEST_ARG + 2)
			atomic_long_inc(&loop_patched);
		else
			atomic_long_inc(&loop_other);
		/* Sleep now and then: a livepatch transition needs it. */
		if (!(++i % 1024))
			usleep_range(100, 200);
	}
	return 0;
}

static int loop_start(void)
{
	struct task_struct *t;

	if (loop_task)
		return -EBUSY;
	t = kthread_run(loop_fn, NULL, "test_module_map");
	if (IS_ERR(t))
		return PTR_ERR(t);
	loop_task = t;
	return 0;
}

static void loop_stop(void)
{
	if (loop_task)
		kthread_stop(loop_task);
	loop_task = NULL;
}

static int func_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\n", test_module_map_func(READ_ONCE(test_arg)));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(func);

static int loop_show(struct seq_file *m, void *v)
{
	seq_printf(m, "running %d calls %ld orig %ld patched %ld other %ld\n",
		   !!READ_ONCE(loop_task), atomic_long_read(&loop_calls),
		   atomic_long_read(&loop_orig),
		   atomic_long_read(&loop_patched),
		   atomic_long_read(&loop_other));
	return 0;
}

static ssize_t loop_write(struct file *file, const char __user *buf,
			  size_t len, loff_t *ppos)
{
	bool on;
	int ret;

	ret = kstrtobool_from_user(buf, len, &on);
	if (ret)
		return ret;
	mutex_lock(&loop_lock);
	if (on)
		ret = loop_start();
	else
		loop_stop();
	mutex_unlock(&loop_lock);
	return ret ?: len;
}

DEFINE_SHOW_STORE_ATTRIBUTE(loop);

static ssize_t calls_write(struct file *file, const char __user *buf,
			   size_t len, loff_t *ppos)
{
	unsigned int i, n;
	int ret;

	ret = kstrtouint_from_user(buf, len, 0, &n);
	if (ret)
		return ret;
	if (n > 1000000)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (test_module_map_func(READ_ONCE(test_arg)) < 0)
			return -EIO;
		cond_resched();
	}
	return len;
}

static const struct file_operations calls_fops = {
	.owner = THIS_MODULE,
	.write = calls_write,
};

static int key_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\n", test_module_map_branch());
	return 0;
}

static ssize_t key_write(struct file *file, const char __user *buf,
			 size_t len, loff_t *ppos)
{
	bool on;
	int ret;

	ret = kstrtobool_from_user(buf, len, &on);
	if (ret)
		return ret;
	if (on)
		static_branch_enable(&test_module_map_key);
	else
		static_branch_disable(&test_module_map_key);
	return len;
}

DEFINE_SHOW_STORE_ATTRIBUTE(key);

static int alt_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\n", test_module_map_alt());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(alt);

static int __init test_module_map_init(void)
{
	test_dir = debugfs_create_dir("test_module_map", NULL);
	debugfs_create_file("func", 0444, test_dir, NULL, &func_fops);
	debugfs_create_file("calls", 0200, test_dir, NULL, &calls_fops);
	debugfs_create_file("loop", 0644, test_dir, NULL, &loop_fops);
	debugfs_create_file("key", 0644, test_dir, NULL, &key_fops);
	debugfs_create_file("alt", 0444, test_dir, NULL, &alt_fops);
	return 0;
}
module_init(test_module_map_init);

static void __exit test_module_map_exit(void)
{
	debugfs_remove_recursive(test_dir);
	mutex_lock(&loop_lock);
	loop_stop();
	mutex_unlock(&loop_lock);
}
module_exit(test_module_map_exit);

MODULE_DESCRIPTION("Text patchers on module text mapped by 2M pages");
MODULE_LICENSE("GPL");
