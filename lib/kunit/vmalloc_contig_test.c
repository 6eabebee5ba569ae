// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for vmalloc_contig(), vmalloc_contig_range() and
 * vfree_contig().
 */

#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/irq_work.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/rcupdate.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/vmalloc_contig.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>

#define LARGEST_BUDDY	(PAGE_SIZE << MAX_PAGE_ORDER)

struct vc_size_case {
	const char *name;
	unsigned long size;
	/* Sizes past the largest buddy order can only be vmalloc. */
	bool contig_possible;
};

static const struct vc_size_case vc_size_cases[] = {
	{ "1", 1, true },
	{ "PAGE_SIZE-1", PAGE_SIZE - 1, true },
	{ "PAGE_SIZE", PAGE_SIZE, true },
	{ "PAGE_SIZE+1", PAGE_SIZE + 1, true },
	{ "64K", SZ_64K, true },
	{ "64K+4K", SZ_64K + SZ_4K, true },
	{ "2M-4K", SZ_2M - SZ_4K, true },
	{ "2M-1", SZ_2M - 1, true },
	{ "2M", SZ_2M, true },
	{ "2M+1", SZ_2M + 1, true },
	{ "largest_buddy", LARGEST_BUDDY, true },
	{ "beyond_largest_buddy", LARGEST_BUDDY + PAGE_SIZE, false },
};

static void vc_size_desc(const struct vc_size_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(vc_size, vc_size_cases, vc_size_desc);

static void *vc_no_pages(unsigned long size, gfp_t gfp, int node)
{
	return NULL;
}

static int vc_bad_frees;

static void vc_count_bad_free(const void *addr)
{
	vc_bad_frees++;
}

/* Every page of [addr, addr + size) is direct-mapped and pfn-consecutive. */
static void vc_expect_contiguous(struct kunit *test, const void *addr,
				 unsigned long size)
{
	unsigned long pfn = page_to_pfn(virt_to_page(addr));
	unsigned long off;

	KUNIT_ASSERT_TRUE(test, virt_addr_valid(addr));
	KUNIT_EXPECT_PTR_EQ(test, page_address(virt_to_page(addr)), addr);
	for (off = 0; off < size; off += PAGE_SIZE)
		KUNIT_ASSERT_EQ(test, page_to_pfn(virt_to_page(addr + off)),
				pfn + off / PAGE_SIZE);
}

static void vc_sizes(struct kunit *test)
{
	const struct vc_size_case *c = test->param_value;
	unsigned int order = get_order(c->size);
	enum vmalloc_contig_kind kind;
	struct page *room;
	u8 *p;

	/*
	 * Make room first: a block of the order, with reclaim and compaction
	 * if need be, given back at once for the API's light attempt to find.
	 * A machine that cannot make one is not a failure of the API.
	 */
	if (c->contig_possible) {
		room = alloc_pages(GFP_KERNEL | __GFP_NOWARN |
				   __GFP_RETRY_MAYFAIL, order);
		if (!room)
			kunit_skip(test, "no free block of order %u here", order);
		__free_pages(room, order);
	}
	p = vmalloc_contig(c->size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	kind = vmalloc_contig_kind(p);
	if (c->contig_possible) {
		KUNIT_EXPECT_EQ(test, kind, VMALLOC_CONTIG_PAGES);
	} else {
		KUNIT_EXPECT_EQ(test, kind, VMALLOC_CONTIG_VMALLOC);
		KUNIT_EXPECT_TRUE(test, is_vmalloc_addr(p));
	}
	if (kind == VMALLOC_CONTIG_PAGES)
		vc_expect_contiguous(test, p, c->size);

	/* The whole size is usable. */
	memset(p, 0x5a, c->size);
	KUNIT_EXPECT_EQ(test, p[c->size - 1], 0x5a);
	vfree_contig(p);
}

static void vc_forced_fallback(struct kunit *test)
{
	void *p;

	kunit_activate_static_stub(test, vmalloc_contig_alloc_pages,
				   vc_no_pages);
	p = vmalloc_contig(SZ_64K, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_TRUE(test, is_vmalloc_addr(p));
	KUNIT_EXPECT_EQ(test, vmalloc_contig_kind(p), VMALLOC_CONTIG_VMALLOC);
	vfree_contig(p);
}

/* vmalloc cannot honour a non-blocking mask: no fallback then. */
static void vc_nowait_no_fallback(struct kunit *test)
{
	void *p;

	p = vmalloc_contig(SZ_16K, GFP_NOWAIT);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, vmalloc_contig_kind(p), VMALLOC_CONTIG_PAGES);
	vfree_contig(p);

	kunit_activate_static_stub(test, vmalloc_contig_alloc_pages,
				   vc_no_pages);
	KUNIT_EXPECT_NULL(test, vmalloc_contig(SZ_16K, GFP_NOWAIT));
}

/*
 * A power-of-two size is one block, freed whole, so the next allocation
 * likely reuses it; any other size zeroes only its run, not the block.
 */
static void vc_expect_zeroed(struct kunit *test, bool contig,
			     unsigned long size)
{
	u8 *p;

	/* Dirty memory first so that zeroing is what makes it zero. */
	p = vmalloc_contig(size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	memset(p, 0xff, size);
	vfree_contig(p);

	p = vmalloc_contig(size, GFP_KERNEL | __GFP_ZERO);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, vmalloc_contig_kind(p),
			contig ? VMALLOC_CONTIG_PAGES : VMALLOC_CONTIG_VMALLOC);
	KUNIT_EXPECT_NULL(test, memchr_inv(p, 0, size));
	vfree_contig(p);
}

static void vc_zero_contig(struct kunit *test)
{
	vc_expect_zeroed(test, true, SZ_256K);
	vc_expect_zeroed(test, true, SZ_64K + SZ_4K);
}

static void vc_zero_fallback(struct kunit *test)
{
	kunit_activate_static_stub(test, vmalloc_contig_alloc_pages,
				   vc_no_pages);
	vc_expect_zeroed(test, false, SZ_256K);
	vc_expect_zeroed(test, false, SZ_64K + SZ_4K);
}

/*
 * A window in the middle of the vmalloc space, where nothing else allocates:
 * whatever the tests get there came from the window they passed.
 */
static unsigned long vc_window(void)
{
	return ALIGN(VMALLOC_START + (VMALLOC_END - VMALLOC_START) / 2,
		     PMD_SIZE);
}

static int vc_bad_gfps;

static void vc_count_bad_gfp(gfp_t gfp)
{
	vc_bad_gfps++;
}

/* Bad input: NULL, and one report for flags that cannot be honoured. */
static void vc_bad_input(struct kunit *test)
{
	unsigned long start = vc_window();

	vc_bad_gfps = 0;
	kunit_activate_static_stub(test, vmalloc_contig_bad_gfp,
				   vc_count_bad_gfp);
	KUNIT_EXPECT_NULL(test, vmalloc_contig(0, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, vmalloc_contig_range(0, PAGE_SIZE, start,
						     start + SZ_64M, GFP_KERNEL,
						     PAGE_KERNEL, 0,
						     NUMA_NO_NODE, NULL));
	/* More than vmalloc would take: NULL, and no warning. */
	KUNIT_EXPECT_NULL(test, vmalloc_contig((unsigned long)INT_MAX + 1,
					       GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, vc_bad_gfps, 0);

	KUNIT_EXPECT_NULL(test, vmalloc_contig(SZ_64K, GFP_KERNEL | __GFP_COMP));
	KUNIT_EXPECT_NULL(test, vmalloc_contig_range(SZ_64K, PAGE_SIZE, start,
						     start + SZ_64M, GFP_ATOMIC,
						     PAGE_KERNEL, 0,
						     NUMA_NO_NODE, NULL));
	KUNIT_EXPECT_EQ(test, vc_bad_gfps, 2);
}

static void vc_free_null(struct kunit *test)
{
	vc_bad_frees = 0;
	kunit_activate_static_stub(test, vmalloc_contig_bad_free,
				   vc_count_bad_free);
	vfree_contig(NULL);
	KUNIT_EXPECT_EQ(test, vc_bad_frees, 0);
}

/* Foreign pointers are reported once each and left alone. */
static void vc_free_foreign(struct kunit *test)
{
	u8 *kmem, *vmem, *mine, *page;

	vc_bad_frees = 0;
	kunit_activate_static_stub(test, vmalloc_contig_bad_free,
				   vc_count_bad_free);

	kmem = kmalloc(PAGE_SIZE, GFP_KERNEL);
	vmem = vmalloc(SZ_64K);
	mine = vmalloc_contig(SZ_64K, GFP_KERNEL);
	page = (u8 *)__get_free_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kmem);
	KUNIT_ASSERT_NOT_NULL(test, vmem);
	KUNIT_ASSERT_NOT_NULL(test, mine);
	KUNIT_ASSERT_NOT_NULL(test, page);

	vfree_contig(kmem);
	vfree_contig(vmem);
	vfree_contig(mine + PAGE_SIZE);
	vfree_contig(mine + 8);
	vfree_contig(page);
	KUNIT_EXPECT_EQ(test, vc_bad_frees, 5);
	KUNIT_EXPECT_EQ(test, vmalloc_contig_kind(kmem), VMALLOC_CONTIG_NONE);
	KUNIT_EXPECT_EQ(test, vmalloc_contig_kind(vmem), VMALLOC_CONTIG_NONE);
	KUNIT_EXPECT_EQ(test, vmalloc_contig_kind(mine + PAGE_SIZE),
			VMALLOC_CONTIG_NONE);
	KUNIT_EXPECT_EQ(test, vmalloc_contig_kind(page), VMALLOC_CONTIG_NONE);

	/* Nothing was freed: all of it is still usable. */
	memset(kmem, 1, PAGE_SIZE);
	memset(vmem, 2, SZ_64K);
	memset(mine, 3, SZ_64K);
	memset(page, 4, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, vmalloc_contig_kind(mine), VMALLOC_CONTIG_PAGES);
	kfree(kmem);
	vfree(vmem);
	free_page((unsigned long)page);
	vfree_contig(mine);
	KUNIT_EXPECT_EQ(test, vc_bad_frees, 5);
}

struct vc_irq_free {
	struct irq_work work;
	void *contig, *vmem;
};

static void vc_irq_free_fn(struct irq_work *work)
{
	struct vc_irq_free *f = container_of(work, struct vc_irq_free, work);

	vfree_contig(f->contig);
	vfree_contig(f->vmem);
}

/*
 * Frees from hard interrupt context: a run at once, a vmalloc address by a
 * work item later (its vm area lookup takes a lock that is not irq-safe;
 * lockdep reports it if that is done here).
 */
static void vc_free_in_irq(struct kunit *test)
{
	struct vc_irq_free f = { .work = IRQ_WORK_INIT_HARD(vc_irq_free_fn) };
	int i;

	vc_bad_frees = 0;
	kunit_activate_static_stub(test, vmalloc_contig_bad_free,
				   vc_count_bad_free);
	f.contig = vmalloc_contig(SZ_64K + SZ_4K, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f.contig);
	KUNIT_ASSERT_EQ(test, vmalloc_contig_kind(f.contig),
			VMALLOC_CONTIG_PAGES);
	kunit_activate_static_stub(test, vmalloc_contig_alloc_pages,
				   vc_no_pages);
	f.vmem = vmalloc_contig(SZ_64K, GFP_KERNEL);
	kunit_deactivate_static_stub(test, vmalloc_contig_alloc_pages);
	if (!f.vmem)
		vfree_contig(f.contig);
	KUNIT_ASSERT_NOT_NULL(test, f.vmem);
	KUNIT_ASSERT_EQ(test, vmalloc_contig_kind(f.vmem),
			VMALLOC_CONTIG_VMALLOC);

	irq_work_queue(&f.work);
	irq_work_sync(&f.work);
	/* The deferred free removes the vm area within a second. */
	for (i = 0; i < 50 && vmalloc_contig_kind(f.vmem); i++)
		msleep(20);
	KUNIT_EXPECT_EQ(test, vmalloc_contig_kind(f.vmem), VMALLOC_CONTIG_NONE);
	KUNIT_EXPECT_EQ(test, vc_bad_frees, 0);
}

#define VC_CYCLES	512
#define VC_ROUNDS	3

static void vc_drain_local(struct work_struct *work)
{
	drain_local_pages(NULL);
}

/*
 * Free pages, once freed xarray nodes have left RCU and the per-cpu lists
 * are back in the buddy lists (drain_all_pages() is mm-internal).
 */
static long vc_free_pages(void)
{
	rcu_barrier();
	schedule_on_each_cpu(vc_drain_local);
	return global_zone_page_state(NR_FREE_PAGES);
}

/*
 * Free pages are counted before and after many cycles of an odd size (the
 * tail of every power-of-two block must go back). Other activity (at boot,
 * the initramfs being unpacked) can take pages meanwhile, never give back
 * what a leak took: a leak of a page per cycle fails every round, noise
 * does not.
 */
static void *vc_alloc_direct(unsigned long size)
{
	return vmalloc_contig(size, GFP_KERNEL);
}

static void *vc_alloc_range(unsigned long size)
{
	return vmalloc_contig_range(size, PAGE_SIZE, vc_window(),
				    vc_window() + SZ_64M, GFP_KERNEL,
				    PAGE_KERNEL, VM_ALLOW_HUGE_VMAP,
				    NUMA_NO_NODE, __builtin_return_address(0));
}

static void vc_expect_no_loss(struct kunit *test,
			      void *(*alloc)(unsigned long size),
			      unsigned long size)
{
	long before = 0, loss = LONG_MAX;
	int i, round;

	for (round = 0; round < VC_ROUNDS && loss >= VC_CYCLES / 4; round++) {
		/* The first cycles may allocate page tables, kept for reuse. */
		for (i = -VC_CYCLES / 4; i < VC_CYCLES; i++) {
			void *p;

			if (!i)
				before = vc_free_pages();
			p = alloc(size);
			KUNIT_ASSERT_NOT_NULL(test, p);
			vfree_contig(p);
		}
		loss = before - vc_free_pages();
		kunit_info(test, "round %d: %ld pages fewer free after %d cycles\n",
			   round, loss, VC_CYCLES);
	}
	KUNIT_EXPECT_LT(test, loss, VC_CYCLES / 4);
}

static void vc_cycles_contig(struct kunit *test)
{
	vc_expect_no_loss(test, vc_alloc_direct, SZ_1M + PAGE_SIZE);
	vc_expect_no_loss(test, vc_alloc_direct, SZ_2M - PAGE_SIZE);
	vc_expect_no_loss(test, vc_alloc_direct, SZ_1M);
}

/*
 * KASAN_VMALLOC gives each new vmalloc range shadow pages and frees them
 * only in whole shadow pages when lazily freed ranges are purged: free page
 * counts then move by about 1300 pages per 512 cycles of vmalloc()ed
 * memory, whatever vmalloc_contig does.
 */
static void vc_skip_vmalloc_shadow(struct kunit *test)
{
	if (IS_ENABLED(CONFIG_KASAN_VMALLOC))
		kunit_skip(test, "KASAN_VMALLOC shadow pages blur free page counts");
}

static void vc_cycles_range(struct kunit *test)
{
	vc_skip_vmalloc_shadow(test);
	vc_expect_no_loss(test, vc_alloc_range, SZ_1M + PAGE_SIZE);
	vc_expect_no_loss(test, vc_alloc_range, PMD_SIZE);
}

static void vc_cycles_fallback(struct kunit *test)
{
	vc_skip_vmalloc_shadow(test);
	kunit_activate_static_stub(test, vmalloc_contig_alloc_pages,
				   vc_no_pages);
	vc_expect_no_loss(test, vc_alloc_direct, SZ_1M + PAGE_SIZE);
}

struct vc_range_case {
	const char *name;
	unsigned long size;
	unsigned long align;
	unsigned long vm_flags;
	/* Whether PMDs must map it (where the architecture has them). */
	bool pmd;
};

/* PMD-mapped 2M pages for whole 2M when huge mappings are allowed. */
static const struct vc_range_case vc_range_cases[] = {
	{ "64K_align_64K", SZ_64K, SZ_64K, VM_ALLOW_HUGE_VMAP, false },
	{ "PMD_huge", PMD_SIZE, PAGE_SIZE, VM_ALLOW_HUGE_VMAP, true },
	{ "PMD_not_huge", PMD_SIZE, PMD_SIZE, 0, false },
	{ "PMD+64K_huge", PMD_SIZE + SZ_64K, PAGE_SIZE, VM_ALLOW_HUGE_VMAP,
	  false },
	{ "2xPMD_huge", 2 * PMD_SIZE, PAGE_SIZE, VM_ALLOW_HUGE_VMAP, true },
	{ "1M+4K_align_1M", SZ_1M + PAGE_SIZE, SZ_1M, 0, false },
};

static void vc_range_desc(const struct vc_range_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(vc_range, vc_range_cases, vc_range_desc);

/* Whether PMD mappings of PAGE_KERNEL vmalloc memory exist here at all. */
static bool vc_huge_vmap(void)
{
	return IS_ENABLED(CONFIG_HAVE_ARCH_HUGE_VMALLOC) &&
	       vmap_huge_allowed() && arch_vmap_pmd_supported(PAGE_KERNEL);
}

/* Whether the kernel page table maps @addr with a PMD leaf. */
static bool vc_pmd_mapped(unsigned long addr)
{
	pgd_t *pgd = pgd_offset_k(addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;

	if (pgd_none(*pgd))
		return false;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d))
		return false;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || pud_leaf(*pud))
		return false;
	pmd = pmd_offset(pud, addr);
	return pmd_present(*pmd) && pmd_leaf(*pmd);
}

static void vc_range(struct kunit *test)
{
	const struct vc_range_case *c = test->param_value;
	unsigned long start = vc_window(), end = start + SZ_64M;
	bool want_pmd = c->pmd && vc_huge_vmap();
	/* vmalloc's own huge mappings (it rounds the size up) are its own. */
	bool check_map = want_pmd || !(c->vm_flags & VM_ALLOW_HUGE_VMAP);
	unsigned long addr, off, head;
	u8 *p;

	p = vmalloc_contig_range(c->size, c->align, start, end, GFP_KERNEL,
				 PAGE_KERNEL, c->vm_flags, NUMA_NO_NODE,
				 __builtin_return_address(0));
	KUNIT_ASSERT_NOT_NULL(test, p);
	addr = (unsigned long)p;
	KUNIT_EXPECT_GE(test, addr, start);
	KUNIT_EXPECT_LE(test, addr + c->size, end);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED(addr, c->align));
	if (want_pmd)
		KUNIT_EXPECT_TRUE(test, IS_ALIGNED(addr, PMD_SIZE));
	KUNIT_ASSERT_EQ(test, vmalloc_contig_kind(p),
			want_pmd ? VMALLOC_CONTIG_PAGES :
				   VMALLOC_CONTIG_VMALLOC);

	/* Each 2M of a PMD-mapped area is one contiguous run. */
	for (off = 0; off < c->size; off += PAGE_SIZE) {
		struct page *page = vmalloc_to_page(p + off);

		KUNIT_ASSERT_NOT_NULL(test, page);
		head = ALIGN_DOWN(off, PMD_SIZE);
		if (want_pmd)
			KUNIT_ASSERT_EQ(test, page_to_pfn(page),
					page_to_pfn(vmalloc_to_page(p + head)) +
					(off - head) / PAGE_SIZE);
		if (check_map)
			KUNIT_ASSERT_EQ_MSG(test, vc_pmd_mapped(addr + off),
					    want_pmd, "offset %#lx", off);
	}

	/* The window mapping and the direct map alias are the same memory. */
	memset(p, 0x3c, c->size);
	KUNIT_EXPECT_EQ(test,
			*(u8 *)page_address(vmalloc_to_page(p + c->size - 1)),
			0x3c);
	vfree_contig(p);
}

/*
 * vmalloc areas carry a guard page: a PMD fits a window of PMD + 4K, exactly
 * at its start, and does not fit a window of PMD.
 */
static void vc_range_window(struct kunit *test)
{
	unsigned long start = vc_window();
	void *p;

	p = vmalloc_contig_range(PMD_SIZE, PMD_SIZE, start, start + PMD_SIZE,
				 GFP_KERNEL | __GFP_NOWARN, PAGE_KERNEL,
				 VM_ALLOW_HUGE_VMAP, NUMA_NO_NODE,
				 __builtin_return_address(0));
	KUNIT_EXPECT_NULL(test, p);
	vfree_contig(p);

	p = vmalloc_contig_range(PMD_SIZE, PMD_SIZE, start,
				 start + PMD_SIZE + PAGE_SIZE, GFP_KERNEL,
				 PAGE_KERNEL, VM_ALLOW_HUGE_VMAP, NUMA_NO_NODE,
				 __builtin_return_address(0));
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, (unsigned long)p, start);
	KUNIT_EXPECT_EQ(test, vmalloc_contig_kind(p),
			vc_huge_vmap() ? VMALLOC_CONTIG_PAGES :
					 VMALLOC_CONTIG_VMALLOC);
	KUNIT_EXPECT_EQ(test, vc_pmd_mapped(start), vc_huge_vmap());
	vfree_contig(p);
}

/*
 * A window with room for a 2M area, but not at a 2M boundary: no PMD
 * mapping fits, so vmalloc's 4K pages serve it; unless the caller asked
 * for huge pages only.
 */
static void vc_range_fallback(struct kunit *test)
{
	unsigned long start = vc_window() + PAGE_SIZE;
	unsigned long end = start + PMD_SIZE + 2 * PAGE_SIZE;
	void *p;

	p = vmalloc_contig_range(PMD_SIZE, PAGE_SIZE, start, end,
				 GFP_KERNEL | __GFP_NOWARN, PAGE_KERNEL,
				 VM_ALLOW_HUGE_VMAP | VM_REQUIRE_HUGE_VMAP,
				 NUMA_NO_NODE, __builtin_return_address(0));
	KUNIT_EXPECT_NULL(test, p);
	vfree_contig(p);

	p = vmalloc_contig_range(PMD_SIZE, PAGE_SIZE, start, end,
				 GFP_KERNEL | __GFP_NOWARN, PAGE_KERNEL,
				 VM_ALLOW_HUGE_VMAP, NUMA_NO_NODE,
				 __builtin_return_address(0));
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, vmalloc_contig_kind(p), VMALLOC_CONTIG_VMALLOC);
	KUNIT_EXPECT_FALSE(test, vc_pmd_mapped((unsigned long)p));
	vfree_contig(p);
}

static int vc_test_init(struct kunit *test)
{
	if (!vmalloc_contig_enabled())
		kunit_skip(test, "booted with vmalloc_contig=off");
	return 0;
}

static struct kunit_case vmalloc_contig_cases[] = {
	KUNIT_CASE_PARAM(vc_sizes, vc_size_gen_params),
	KUNIT_CASE(vc_forced_fallback),
	KUNIT_CASE(vc_nowait_no_fallback),
	KUNIT_CASE(vc_zero_contig),
	KUNIT_CASE(vc_zero_fallback),
	KUNIT_CASE(vc_free_null),
	KUNIT_CASE(vc_bad_input),
	KUNIT_CASE(vc_free_foreign),
	KUNIT_CASE(vc_free_in_irq),
	KUNIT_CASE(vc_cycles_contig),
	KUNIT_CASE(vc_cycles_fallback),
	KUNIT_CASE(vc_cycles_range),
	KUNIT_CASE_PARAM(vc_range, vc_range_gen_params),
	KUNIT_CASE(vc_range_window),
	KUNIT_CASE(vc_range_fallback),
	{}
};

static struct kunit_suite vmalloc_contig_suite = {
	.name = "vmalloc_contig",
	.init = vc_test_init,
	.test_cases = vmalloc_contig_cases,
};

kunit_test_suite(vmalloc_contig_suite);
