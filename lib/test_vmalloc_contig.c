// SPDX-License-Identifier: GPL-2.0
/*
 * Stress and performance test module for vmalloc_contig(), driven by
 * tools/testing/selftests/vmalloc_contig/test_vmalloc_contig.sh.
 *
 * mode=stress: nr_threads threads (default: one per online CPU) allocate
 * random sizes up to max_size, keep a few allocations alive, check that each
 * one holds the pattern written into it, and free them.
 * mode=perf: alloc+free latency per size for vmalloc_contig(), vmalloc()
 * and kvmalloc().
 * mode=none: load and do nothing (the module image test uses it).
 * mode=fragment: fragment physical memory until unloaded: take every block
 * of PMD order or more that can be had (fragment_mb caps what is held), keep
 * every other page and free the rest, so no free block of order 1 or more
 * is left in them and contiguous allocations must fall back.
 *
 * Loading fails with -EINVAL if any check failed.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/vmalloc_contig.h>

static char *mode = "stress";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "stress, perf, fragment or none");

static unsigned int nr_threads;
module_param(nr_threads, uint, 0444);
MODULE_PARM_DESC(nr_threads, "stress threads (default: online CPUs)");

static unsigned int nr_iterations = 2000;
module_param(nr_iterations, uint, 0444);
MODULE_PARM_DESC(nr_iterations, "allocations per stress thread");

static unsigned long max_size = SZ_4M;
module_param(max_size, ulong, 0444);
MODULE_PARM_DESC(max_size, "largest stress allocation in bytes");

static unsigned int perf_loops = 200;
module_param(perf_loops, uint, 0444);
MODULE_PARM_DESC(perf_loops, "alloc+free pairs timed per size and allocator");

static unsigned long fragment_mb;
module_param(fragment_mb, ulong, 0444);
MODULE_PARM_DESC(fragment_mb, "mode=fragment: MiB of blocks to fragment (0: all)");

#define KEEP	8	/* allocations each stress thread keeps alive */

struct tvc_buf {
	u8 *p;
	unsigned long size;
	u8 tag;
};

static atomic_t tvc_errors;
static atomic_long_t tvc_kinds[3];

static void tvc_fill(struct tvc_buf *b)
{
	unsigned long off;

	for (off = 0; off < b->size; off += PAGE_SIZE)
		b->p[off] = b->tag;
	b->p[b->size - 1] = b->tag;
}

static bool tvc_check(const struct tvc_buf *b)
{
	unsigned long off;

	for (off = 0; off < b->size; off += PAGE_SIZE)
		if (b->p[off] != b->tag)
			return false;
	return b->p[b->size - 1] == b->tag;
}

static void tvc_release(struct tvc_buf *b)
{
	enum vmalloc_contig_kind kind;

	if (!b->p)
		return;
	if (!tvc_check(b)) {
		pr_err("%p (%lu bytes) lost its contents\n", b->p, b->size);
		atomic_inc(&tvc_errors);
	}
	kind = vmalloc_contig_kind(b->p);
	if (kind == VMALLOC_CONTIG_NONE) {
		pr_err("%p was not recognised before its free\n", b->p);
		atomic_inc(&tvc_errors);
	}
	vfree_contig(b->p);
	b->p = NULL;
}

static int tvc_stress_thread(void *data)
{
	struct completion *done = data;
	struct tvc_buf keep[KEEP] = { };
	unsigned int i;

	for (i = 0; i < nr_iterations; i++) {
		struct tvc_buf *b = &keep[get_random_u32_below(KEEP)];
		gfp_t gfp = GFP_KERNEL;

		tvc_release(b);
		b->size = get_random_u32_inclusive(1, max_size);
		b->tag = get_random_u8() | 1;
		if (get_random_u32_below(4) == 0)
			gfp |= __GFP_ZERO;
		b->p = vmalloc_contig(b->size, gfp);
		if (!b->p) {
			/* GFP_KERNEL has the vmalloc fallback: never NULL here. */
			pr_err("allocation of %lu bytes failed\n", b->size);
			atomic_inc(&tvc_errors);
			continue;
		}
		if ((gfp & __GFP_ZERO) && memchr_inv(b->p, 0, b->size)) {
			pr_err("%p (%lu bytes) not zeroed\n", b->p, b->size);
			atomic_inc(&tvc_errors);
		}
		atomic_long_inc(&tvc_kinds[vmalloc_contig_kind(b->p)]);
		tvc_fill(b);
		cond_resched();
	}
	for (i = 0; i < KEEP; i++)
		tvc_release(&keep[i]);
	complete(done);
	return 0;
}

static int tvc_stress(void)
{
	unsigned int i, n = nr_threads ?: num_online_cpus();
	struct completion *done;
	struct task_struct *t;
	u64 t0, ns;

	done = kcalloc(n, sizeof(*done), GFP_KERNEL);
	if (!done)
		return -ENOMEM;
	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		init_completion(&done[i]);
		t = kthread_run_on_cpu(tvc_stress_thread, &done[i],
				       cpumask_nth(i % num_online_cpus(),
						   cpu_online_mask), "tvc/%u");
		if (IS_ERR(t)) {
			/* Count it and let the threads already started finish. */
			atomic_inc(&tvc_errors);
			complete(&done[i]);
		}
	}
	for (i = 0; i < n; i++)
		wait_for_completion(&done[i]);
	ns = max(ktime_get_ns() - t0, 1ULL);
	kfree(done);
	pr_info("stress: %u threads x %u allocations up to %lu bytes: %ld contiguous, %ld vmalloc, %d errors\n",
		n, nr_iterations, max_size,
		atomic_long_read(&tvc_kinds[VMALLOC_CONTIG_PAGES]),
		atomic_long_read(&tvc_kinds[VMALLOC_CONTIG_VMALLOC]),
		atomic_read(&tvc_errors));
	/* Each thread allocates, fills and frees: a rate per thread. */
	pr_info("stress: %llu allocations per second per thread, %u threads on %u CPUs\n",
		div64_u64((u64)nr_iterations * NSEC_PER_SEC, ns), n,
		num_online_cpus());
	return 0;
}

enum tvc_allocator { TVC_CONTIG, TVC_VMALLOC, TVC_KVMALLOC, TVC_NR };

static const char * const tvc_allocator_name[TVC_NR] = {
	"vmalloc_contig", "vmalloc", "kvmalloc",
};

/*
 * Powers of two, and sizes that are not: the tail of their block goes back
 * (2M-4K leaves the most blocks, one per bit).
 */
static const unsigned long tvc_perf_sizes[] = {
	SZ_4K, SZ_16K, SZ_64K, SZ_256K, SZ_1M, SZ_2M, SZ_4M,
	SZ_64K + SZ_4K, SZ_256K + SZ_4K, SZ_1M + SZ_4K, SZ_2M - SZ_4K,
};

static int tvc_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Bytes of memory an allocation of @size at @p holds, by its allocator's own
 * rules: the slab allocator's size of the block (a power of two), or the
 * pages of the exact run or of vmalloc (page tables not counted).
 */
static unsigned long tvc_held_bytes(const void *p, unsigned long size)
{
	if (is_vmalloc_addr(p) || vmalloc_contig_kind(p) == VMALLOC_CONTIG_PAGES)
		return PAGE_ALIGN(size);
	return ksize(p);
}

/* Median nanoseconds of one alloc + first touch + free. */
static int tvc_time(enum tvc_allocator which, unsigned long size, u64 *ns,
		    u64 *median, unsigned long *held)
{
	unsigned int i;

	for (i = 0; i < perf_loops; i++) {
		u64 t0 = ktime_get_ns();
		u8 *p;

		switch (which) {
		case TVC_CONTIG:
			p = vmalloc_contig(size, GFP_KERNEL);
			break;
		case TVC_VMALLOC:
			p = vmalloc(size);
			break;
		default:
			p = kvmalloc(size, GFP_KERNEL);
			break;
		}
		if (!p)
			return -ENOMEM;
		WRITE_ONCE(p[0], 1);
		/* First round only: the median leaves its extra time out. */
		if (!i)
			*held = tvc_held_bytes(p, size);
		switch (which) {
		case TVC_CONTIG:
			vfree_contig(p);
			break;
		case TVC_VMALLOC:
			vfree(p);
			break;
		default:
			kvfree(p);
			break;
		}
		ns[i] = ktime_get_ns() - t0;
		cond_resched();
	}
	sort(ns, perf_loops, sizeof(*ns), tvc_cmp_u64, NULL);
	*median = ns[perf_loops / 2];
	return 0;
}

static int tvc_perf(void)
{
	unsigned long held = 0;
	unsigned int s, a;
	u64 *ns, median;
	int err = 0;

	if (!perf_loops)
		return -EINVAL;
	ns = kvmalloc_array(perf_loops, sizeof(*ns), GFP_KERNEL);
	if (!ns)
		return -ENOMEM;
	for (s = 0; s < ARRAY_SIZE(tvc_perf_sizes) && !err; s++) {
		for (a = 0; a < TVC_NR && !err; a++) {
			err = tvc_time(a, tvc_perf_sizes[s], ns, &median,
				       &held);
			if (!err)
				pr_info("perf: %s %lu bytes: %llu ns median of %u alloc+free, %lu bytes held\n",
					tvc_allocator_name[a],
					tvc_perf_sizes[s], median, perf_loops,
					held);
		}
	}
	kvfree(ns);
	return err;
}

/* The pages mode=fragment holds, linked through page->lru. */
static LIST_HEAD(tvc_held);
static unsigned long tvc_held_pages;

static unsigned long tvc_fragment_order(unsigned int order)
{
	unsigned long blocks = 0, i;
	struct page *page;

	while (!fragment_mb || (tvc_held_pages << (PAGE_SHIFT + 1)) <
	       (fragment_mb << 20)) {
		/* Reclaim and compact: leave no block that could be had. */
		page = alloc_pages(GFP_KERNEL | __GFP_RETRY_MAYFAIL |
				   __GFP_NOWARN, order);
		if (!page)
			break;
		split_page(page, order);
		for (i = 0; i < (1UL << order); i++) {
			if (i & 1) {
				list_add(&page[i].lru, &tvc_held);
				tvc_held_pages++;
			} else {
				__free_page(page + i);
			}
		}
		blocks++;
		cond_resched();
	}
	return blocks;
}

/* Every block of PMD order and up, largest first. */
static int tvc_fragment(void)
{
	unsigned int order;
	unsigned long blocks = 0;

	for (order = MAX_PAGE_ORDER; order >= PMD_SHIFT - PAGE_SHIFT; order--)
		blocks += tvc_fragment_order(order);
	pr_info("fragment: %lu blocks, holding %lu pages\n", blocks,
		tvc_held_pages);
	return blocks ? 0 : -ENOMEM;
}

static void tvc_unfragment(void)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, &tvc_held, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
	tvc_held_pages = 0;
}

static int __init test_vmalloc_contig_init(void)
{
	int err;

	if (!strcmp(mode, "none"))
		return 0;
	if (!max_size || max_size > INT_MAX)
		return -EINVAL;
	if (!strcmp(mode, "stress"))
		err = tvc_stress();
	else if (!strcmp(mode, "perf"))
		err = tvc_perf();
	else if (!strcmp(mode, "fragment"))
		return tvc_fragment();
	else
		return -EINVAL;
	if (err)
		return err;
	return atomic_read(&tvc_errors) ? -EINVAL : 0;
}

static void __exit test_vmalloc_contig_exit(void)
{
	tvc_unfragment();
}

module_init(test_vmalloc_contig_init);
module_exit(test_vmalloc_contig_exit);
MODULE_DESCRIPTION("Stress and performance test for vmalloc_contig");
MODULE_LICENSE("GPL");
