// SPDX-License-Identifier: GPL-2.0
/*
 * vmalloc_contig: physically contiguous memory first, vmalloc as fallback.
 *
 * Large buffers that are only ever touched through the kernel's own mapping
 * (module images, firmware, tables) do not need vmalloc's 4K pages: an exact
 * run of contiguous pages from the buddy allocator is used through the direct
 * map and costs no page tables and no vmap area. The range variant, for
 * memory that must live in a virtual window, asks vmalloc for 2M pages
 * mapped by PMDs. When neither is available the request is served by
 * vmalloc, as it would have been without this API.
 *
 * vfree_contig() needs no size: a contiguous run is known by its head page,
 * which has the contig_run page type and the run's length in page->private,
 * and a vmalloc address by its vm area, which carries VM_CONTIG. Either way
 * a pointer this API did not hand out is refused. The API keeps no record or
 * table and takes no lock of its own: a run costs no lookup at all, a
 * vmalloc address one vm area lookup (under the lock of its vmap node).
 *
 * The pages of a run are not split into order-0 pages: like those of
 * alloc_pages() without split_page(), they must not be mapped to user space
 * or have references taken on them one by one. Memory of this API is freed
 * with vfree_contig() only: not kvfree(), kvrealloc() or vrealloc().
 */

#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/init.h>
#include <linux/highmem.h>
#include <linux/kmemleak.h>
#include <linux/kmsan.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/page-flags.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/vmalloc_contig.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>

#include "internal.h"

/* How an allocation is backed. */
enum vc_backing {
	VC_DIRECT,	/* contiguous pages used at their direct-map address */
	VC_MAPPED,	/* contiguous pages mapped in a caller-given window */
	VC_VMALLOC,	/* the vmalloc fallback */
	VC_NR_BACKINGS,
};

static bool vc_enabled __ro_after_init = true;

/*
 * Per-CPU, so that no cache line is shared by the allocations of all CPUs;
 * summed when read. An allocation may be freed on another CPU: only sums
 * are meaningful.
 */
struct vc_counts {
	long allocs[VC_NR_BACKINGS];
	long frees[VC_NR_BACKINGS];
	long pages[VC_NR_BACKINGS];
	long fallbacks;
	long bad_frees;
};

static DEFINE_PER_CPU(struct vc_counts, vc_counts);

static const char * const vc_backing_name[VC_NR_BACKINGS] = {
	[VC_DIRECT] = "contig",
	[VC_MAPPED] = "mapped",
	[VC_VMALLOC] = "vmalloc",
};

static int __init vmalloc_contig_setup(char *str)
{
	return kstrtobool(str, &vc_enabled);
}
early_param("vmalloc_contig", vmalloc_contig_setup);

/**
 * vmalloc_contig_enabled - whether contiguous allocations are tried at all
 *
 * Return: false when booted with vmalloc_contig=off: every allocation of this
 * API is then plain vmalloc.
 */
bool vmalloc_contig_enabled(void)
{
	return vc_enabled;
}

static void vc_count(enum vc_backing backing, long pages)
{
	this_cpu_inc(vc_counts.allocs[backing]);
	this_cpu_add(vc_counts.pages[backing], pages);
}

static void vc_uncount(enum vc_backing backing, long pages)
{
	this_cpu_inc(vc_counts.frees[backing]);
	this_cpu_sub(vc_counts.pages[backing], pages);
}

/*
 * Flags for the contiguous attempt, as kvmalloc() has them for its kmalloc
 * attempt: no warning, no OOM killer. Above the costly order no direct
 * reclaim or compaction at all (kswapd is still woken): the page allocator
 * would retry and compact for such an order, which costs more than the
 * vmalloc fallback it would spare. Up to it, reclaim once and fail
 * (__GFP_NORETRY), as kvmalloc() does. __GFP_RETRY_MAYFAIL asks for the
 * effort. Pieces of a run are not a compound page.
 */
static gfp_t vc_contig_gfp(gfp_t gfp, unsigned int order)
{
	gfp |= __GFP_NOWARN;
	if (!(gfp & __GFP_RETRY_MAYFAIL)) {
		if (order > PAGE_ALLOC_COSTLY_ORDER)
			gfp &= ~__GFP_DIRECT_RECLAIM;
		else
			gfp |= __GFP_NORETRY;
	}
	return gfp & ~(__GFP_NOFAIL | __GFP_COMP | __GFP_HIGHMEM);
}

/*
 * Keep the first @nr pages of the block of 2^@order pages at @page, nr below
 * 2^order, and give the rest back: halve the block, free an unused half
 * whole, go on in the half the run ends in. The run is left as its aligned
 * power-of-two blocks, largest first, one per bit of @nr; 1M+4K takes 8
 * frees here and 2 in vc_free_blocks(), not 255 and 257 as with
 * alloc_pages_exact().
 */
static void vc_trim_block(struct page *page, unsigned int order,
			  unsigned long nr)
{
	while (nr) {
		unsigned long half = 1UL << --order;

		split_page_to_order(page, order + 1, order);
		if (nr < half) {
			__free_pages(page + half, order);
			continue;
		}
		page += half;
		nr -= half;
		if (!nr)
			__free_pages(page, order);
	}
}

/* Free a run of @nr pages left by vc_trim_block() (or a whole block). */
static void vc_free_blocks(struct page *page, unsigned long nr)
{
	while (nr) {
		unsigned int order = __fls(nr);

		__free_pages(page, order);
		page += 1UL << order;
		nr -= 1UL << order;
	}
}

/**
 * vmalloc_contig_alloc_pages - the contiguous attempt, at the direct map
 * @size: bytes
 * @gfp: caller's GFP flags
 * @node: preferred node or %NUMA_NO_NODE
 *
 * The run is left as aligned power-of-two blocks (see vc_trim_block()) for
 * vc_free_blocks(). Visible to KUnit so that the suite can force the
 * fallback.
 *
 * Return: direct-map address of PAGE_ALIGN(@size) bytes, or %NULL.
 */
VISIBLE_IF_KUNIT void *vmalloc_contig_alloc_pages(unsigned long size,
						  gfp_t gfp, int node)
{
	unsigned long nr = PAGE_ALIGN(size) >> PAGE_SHIFT, i;
	unsigned int order = get_order(size);
	bool zero = false;
	struct page *page;

	KUNIT_STATIC_STUB_REDIRECT(vmalloc_contig_alloc_pages, size, gfp, node);

	if (order > MAX_PAGE_ORDER)
		return NULL;
	/*
	 * Zero the run, not the tail that goes back at once; unless
	 * init_on_alloc zeroes the whole block anyway, and then the flag
	 * stays, as KMSAN takes the memory as initialised from it.
	 */
	if ((gfp & __GFP_ZERO) && nr != 1UL << order &&
	    !want_init_on_alloc(gfp & ~__GFP_ZERO)) {
		gfp &= ~__GFP_ZERO;
		zero = true;
	}
	page = alloc_pages_node_noprof(node, vc_contig_gfp(gfp, order), order);
	if (!page)
		return NULL;
	if (nr != 1UL << order)
		vc_trim_block(page, order, nr);
	for (i = 0; zero && i < nr; i++) {
		clear_highpage(page + i);
		if (gfpflags_allow_blocking(gfp))
			cond_resched();
	}
	if (zero)
		kmsan_unpoison_memory(page_address(page), nr << PAGE_SHIFT);
	return page_address(page);
}

/**
 * vmalloc_contig_bad_free - report a pointer this API did not hand out
 * @addr: the pointer
 *
 * Visible to KUnit so that the suite can count the report instead of
 * leaving a warning in the log.
 */
VISIBLE_IF_KUNIT void vmalloc_contig_bad_free(const void *addr)
{
	KUNIT_STATIC_STUB_REDIRECT(vmalloc_contig_bad_free, addr);

	WARN(1, "vfree_contig(%p): not allocated by vmalloc_contig, not freed\n",
	     addr);
}

/**
 * vmalloc_contig_bad_gfp - report GFP flags a call cannot honour
 * @gfp: the flags
 *
 * Visible to KUnit, as vmalloc_contig_bad_free().
 */
VISIBLE_IF_KUNIT void vmalloc_contig_bad_gfp(gfp_t gfp)
{
	KUNIT_STATIC_STUB_REDIRECT(vmalloc_contig_bad_gfp, gfp);

	WARN_ONCE(1, "vmalloc_contig: unsupported gfp %pGg\n", &gfp);
}

/* The run's head page: its length, and the type vfree_contig() claims. */
static void vc_mark_run(void *addr, unsigned long nr)
{
	struct page *page = virt_to_page(addr);

	set_page_private(page, nr);
	__folio_set_contig_run(page_folio(page));
}

/* The head page of the direct run at @addr, or %NULL if @addr is none. */
static struct page *vc_run_head(const void *addr)
{
	struct page *page;

	if (!PAGE_ALIGNED(addr) || !virt_addr_valid(addr))
		return NULL;
	page = virt_to_page(addr);
	return folio_test_contig_run(page_folio(page)) ? page : NULL;
}

/*
 * Take the page type off the run's head page, once: of two racing frees of
 * the same run, one frees it and the other finds no run.
 */
static bool vc_claim_run(struct page *page)
{
	unsigned int type = (unsigned int)PGTY_contig_run << 24;

	return try_cmpxchg(&page->page_type, &type, UINT_MAX);
}

/*
 * The vm area this API allocated at @addr, or %NULL. find_vm_area() takes
 * the lock of the vmap node that holds @addr, which is not irq-safe: not
 * from interrupt context. The caller owns @addr, so the area stays.
 */
static struct vm_struct *vc_area(const void *addr)
{
	struct vm_struct *area = find_vm_area(addr);

	return area && area->addr == addr && (area->flags & VM_CONTIG) ?
		area : NULL;
}

static enum vc_backing vc_area_backing(const struct vm_struct *area)
{
	return area->flags & VM_REQUIRE_HUGE_VMAP ? VC_MAPPED : VC_VMALLOC;
}

/* kvmalloc's rules for the vmalloc fallback. */
static bool vc_may_vmalloc(unsigned long size, gfp_t gfp)
{
	/* A size no allocation here could serve is a plain failure. */
	return gfpflags_allow_blocking(gfp) && size <= INT_MAX;
}

static void *vc_vmalloc(unsigned long size, unsigned long align,
			unsigned long start, unsigned long end, gfp_t gfp,
			pgprot_t prot, unsigned long vm_flags, int node,
			const void *caller)
{
	void *addr;

	addr = __vmalloc_node_range_noprof(size, align, start, end, gfp, prot,
					   vm_flags | VM_CONTIG, node, caller);
	if (addr && vc_enabled)
		vc_count(VC_VMALLOC, PAGE_ALIGN(size) >> PAGE_SHIFT);
	return addr;
}

/**
 * vmalloc_contig_node - allocate memory, physically contiguous if possible
 * @size: bytes to allocate
 * @gfp: GFP flags
 * @node: preferred node, or %NUMA_NO_NODE
 *
 * First tries an exact run of PAGE_ALIGN(@size) >> PAGE_SHIFT physically
 * contiguous pages: the smallest block that holds it, whose unused part goes
 * back to the allocator at once in power-of-two blocks. The result is then a
 * direct-map address. If that fails, or with vmalloc_contig=off, the memory
 * comes from vmalloc.
 *
 * The contiguous attempt never warns and never invokes the OOM killer; up to
 * %PAGE_ALLOC_COSTLY_ORDER it does light reclaim only (%__GFP_NORETRY),
 * above it no direct reclaim or compaction at all, as the vmalloc fallback
 * is cheaper than either. %__GFP_RETRY_MAYFAIL makes it try harder.
 * Otherwise @gfp follows kvmalloc(): %__GFP_ZERO is honoured by both
 * backends; a non-blocking mask (%GFP_NOWAIT, %GFP_ATOMIC) gets only the
 * contiguous attempt, as vmalloc cannot honour it; %__GFP_NOFAIL applies to
 * the fallback only. Requests above %INT_MAX get %NULL, as from kvmalloc()
 * (without its warning), and so does a size of 0. %__GFP_COMP is not
 * supported: one warning, and %NULL. With %__GFP_ACCOUNT the whole block is
 * charged until its tail goes back: near a memcg limit a run may fall back
 * where its exact size would have fit.
 *
 * With vmalloc_contig=off only a non-blocking mask gets contiguous pages;
 * everything else comes from vmalloc.
 *
 * Context: may sleep if @gfp allows it.
 * Return: the allocation, to be freed with vfree_contig(), or %NULL.
 */
void *vmalloc_contig_node_noprof(unsigned long size, gfp_t gfp, int node)
{
	void *addr;

	if (!size)
		return NULL;
	/* Pieces of a run are not a compound page. */
	if (unlikely(gfp & __GFP_COMP)) {
		vmalloc_contig_bad_gfp(gfp);
		return NULL;
	}
	/* Off, still contiguous where vmalloc cannot serve the mask. */
	if (vc_enabled || !gfpflags_allow_blocking(gfp)) {
		addr = vmalloc_contig_alloc_pages(size, gfp, node);
		if (addr) {
			vc_mark_run(addr, PAGE_ALIGN(size) >> PAGE_SHIFT);
			kmemleak_alloc(addr, size, 1, gfp);
			vc_count(VC_DIRECT, PAGE_ALIGN(size) >> PAGE_SHIFT);
			return addr;
		}
	}
	if (!vc_may_vmalloc(size, gfp))
		return NULL;
	if (vc_enabled)
		this_cpu_inc(vc_counts.fallbacks);
	return vc_vmalloc(size, 1, VMALLOC_START, VMALLOC_END, gfp,
			  PAGE_KERNEL, 0, node, __builtin_return_address(0));
}
EXPORT_SYMBOL_GPL(vmalloc_contig_node_noprof);

/**
 * vmalloc_contig_range - memory in a virtual window, in PMD-mapped pages
 * @size: bytes to allocate
 * @align: alignment of the virtual address
 * @start: lowest address of the window
 * @end: end of the window (exclusive)
 * @gfp: GFP flags for vmalloc (blocking)
 * @prot: protection of the mapping
 * @vm_flags: VM_* flags for the vm area
 * @node: node of the pages, or %NUMA_NO_NODE for the local one
 * @caller: caller's return address, for /proc/vmallocinfo
 *
 * Like __vmalloc_node_range(), but with %VM_ALLOW_HUGE_VMAP in @vm_flags
 * and a multiple of PMD_SIZE it first asks vmalloc for huge pages only
 * (%VM_REQUIRE_HUGE_VMAP): physically contiguous 2M pages, preferably from
 * @node, one light attempt (%__GFP_NORETRY) for each, no warning, mapped by
 * PMDs where the architecture allows (callers that need PMDs check). If
 * that fails it fails too when the caller passed %VM_REQUIRE_HUGE_VMAP;
 * otherwise it is __vmalloc_node_range() in 4K pages. For mm and
 * architecture code, such as a module memory allocator: not exported.
 *
 * Context: process context, may sleep.
 * Return: the address, to be freed with vfree_contig(), or %NULL.
 */
void *vmalloc_contig_range_noprof(unsigned long size, unsigned long align,
				  unsigned long start, unsigned long end,
				  gfp_t gfp, pgprot_t prot,
				  unsigned long vm_flags, int node,
				  const void *caller)
{
	gfp_t huge_gfp = (gfp | __GFP_NOWARN) & ~__GFP_NOFAIL;
	bool huge_only = vm_flags & VM_REQUIRE_HUGE_VMAP;
	void *addr;

	if (!size)
		return NULL;
	if (unlikely(!gfpflags_allow_blocking(gfp) || (gfp & __GFP_COMP))) {
		vmalloc_contig_bad_gfp(gfp);
		return NULL;
	}
	if (size > INT_MAX)
		return NULL;
	/* Ours: they tell vfree_contig() what backs the area. */
	vm_flags &= ~(VM_REQUIRE_HUGE_VMAP | VM_CONTIG);
	if (vc_enabled && (vm_flags & VM_ALLOW_HUGE_VMAP) &&
	    IS_ALIGNED(size, PMD_SIZE)) {
		/* The page allocator takes it for the 2M pages only. */
		if (!(gfp & __GFP_RETRY_MAYFAIL))
			huge_gfp |= __GFP_NORETRY;
		addr = __vmalloc_node_range_noprof(size, align, start, end,
						   huge_gfp, prot,
						   vm_flags | VM_CONTIG |
						   VM_REQUIRE_HUGE_VMAP,
						   node == NUMA_NO_NODE ?
						   numa_node_id() : node,
						   caller);
		if (addr) {
			vc_count(VC_MAPPED, size >> PAGE_SHIFT);
			return addr;
		}
		if (huge_only)
			return NULL;
		this_cpu_inc(vc_counts.fallbacks);
		/* No second, heavier attempt at 2M pages inside vmalloc. */
		vm_flags &= ~VM_ALLOW_HUGE_VMAP;
	} else if (huge_only) {
		return NULL;
	}
	return vc_vmalloc(size, align, start, end, gfp, prot, vm_flags, node,
			  caller);
}

/**
 * vmalloc_contig_kind - which backend served an allocation
 * @addr: a pointer returned by this API
 *
 * @addr must be owned by the caller (not freed meanwhile).
 *
 * Context: a vmalloc address is looked up under a lock that is not irq-safe:
 * task context, as for find_vm_area(); a contiguous run, any context.
 * Return: %VMALLOC_CONTIG_PAGES, %VMALLOC_CONTIG_VMALLOC, or
 * %VMALLOC_CONTIG_NONE if @addr is not an allocation of this API.
 */
enum vmalloc_contig_kind vmalloc_contig_kind(const void *addr)
{
	struct vm_struct *area;

	if (!addr)
		return VMALLOC_CONTIG_NONE;
	if (is_vmalloc_or_module_addr(addr)) {
		if (WARN_ON_ONCE(!in_task()))
			return VMALLOC_CONTIG_NONE;
		area = vc_area(addr);
		if (!area)
			return VMALLOC_CONTIG_NONE;
		return vc_area_backing(area) == VC_MAPPED ?
			VMALLOC_CONTIG_PAGES : VMALLOC_CONTIG_VMALLOC;
	}
	return vc_run_head(addr) ? VMALLOC_CONTIG_PAGES : VMALLOC_CONTIG_NONE;
}
EXPORT_SYMBOL_GPL(vmalloc_contig_kind);

static void vc_bad_free(const void *addr)
{
	this_cpu_inc(vc_counts.bad_frees);
	vmalloc_contig_bad_free(addr);
}

/* Give a claimed run back: its blocks, its counters. */
static void vc_free_run(struct page *page)
{
	unsigned long nr = page_private(page);

	set_page_private(page, 0);
	kmemleak_free(page_address(page));
	vc_free_blocks(page, nr);
	vc_uncount(VC_DIRECT, nr);
}

/*
 * What is freed from interrupt context waits here, linked through its own
 * memory as vfree_atomic() does, for a work item: vmalloc addresses, whose
 * vm area lookup takes a lock that is not irq-safe, and runs, claimed
 * already, as the page allocator's locks may sleep on PREEMPT_RT.
 */
static void vc_free_deferred(struct work_struct *work);
static LLIST_HEAD(vc_deferred_vmalloc);
static LLIST_HEAD(vc_deferred_runs);
static DECLARE_WORK(vc_deferred_work, vc_free_deferred);

static void vc_free_deferred(struct work_struct *work)
{
	struct llist_node *node, *next;

	llist_for_each_safe(node, next, llist_del_all(&vc_deferred_vmalloc))
		vfree_contig(node);
	llist_for_each_safe(node, next, llist_del_all(&vc_deferred_runs))
		vc_free_run(virt_to_page(node));
}

static void vc_defer(const void *addr, struct llist_head *list)
{
	if (llist_add((struct llist_node *)addr, list))
		schedule_work(&vc_deferred_work);
}

/**
 * vfree_contig - free memory allocated by this API
 * @addr: the allocation, or %NULL
 *
 * Frees exactly what was allocated, whichever backend served it; no size is
 * needed. A vmalloc address goes to vfree(), as with kvfree(); a contiguous
 * run goes back in its power-of-two blocks. A pointer this API did not hand
 * out (another allocator's, an interior pointer, a run freed already) is
 * reported with one warning and not freed. Use vmalloc_contig_kind() first
 * to know which backend served @addr.
 *
 * Context: as vfree(): may sleep, except in interrupt context, where the
 * memory is freed later by a work item. A run is checked (and claimed) at
 * once; a vmalloc address only when the work runs, after its first word has
 * linked it in, as vfree() does in interrupt context: there, only pass what
 * this API handed out.
 */
void vfree_contig(const void *addr)
{
	struct vm_struct *area;
	struct page *page;

	might_sleep_if(!in_interrupt());
	/* As vfree(): nothing can be queued from NMI; leak rather than crash. */
	if (!addr || WARN_ON_ONCE(in_nmi()))
		return;
	if (is_vmalloc_or_module_addr(addr)) {
		if (in_interrupt()) {
			vc_defer(addr, &vc_deferred_vmalloc);
			return;
		}
		area = vc_area(addr);
		if (!area) {
			vc_bad_free(addr);
			return;
		}
		/* Counted at allocation only with the API on. */
		if (vc_enabled)
			vc_uncount(vc_area_backing(area),
				   PAGE_ALIGN(area->requested_size) >> PAGE_SHIFT);
		vfree(addr);
		return;
	}
	page = vc_run_head(addr);
	if (!page || !vc_claim_run(page)) {
		vc_bad_free(addr);
		return;
	}
	if (in_interrupt())
		vc_defer(addr, &vc_deferred_runs);
	else
		vc_free_run(page);
}
EXPORT_SYMBOL_GPL(vfree_contig);

static int vc_stats_show(struct seq_file *m, void *v)
{
	struct vc_counts sum = { };
	int cpu, i;

	for_each_possible_cpu(cpu) {
		const struct vc_counts *c = per_cpu_ptr(&vc_counts, cpu);

		for (i = 0; i < VC_NR_BACKINGS; i++) {
			sum.allocs[i] += READ_ONCE(c->allocs[i]);
			sum.frees[i] += READ_ONCE(c->frees[i]);
			sum.pages[i] += READ_ONCE(c->pages[i]);
		}
		sum.fallbacks += READ_ONCE(c->fallbacks);
		sum.bad_frees += READ_ONCE(c->bad_frees);
	}
	seq_printf(m, "enabled %d\n", vc_enabled);
	for (i = 0; i < VC_NR_BACKINGS; i++) {
		seq_printf(m, "%s_allocs %ld\n", vc_backing_name[i],
			   sum.allocs[i]);
		seq_printf(m, "%s_frees %ld\n", vc_backing_name[i],
			   sum.frees[i]);
		seq_printf(m, "%s_bytes %ld\n", vc_backing_name[i],
			   sum.pages[i] * (long)PAGE_SIZE);
	}
	seq_printf(m, "fallbacks %ld\n", sum.fallbacks);
	seq_printf(m, "bad_frees %ld\n", sum.bad_frees);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vc_stats);

static int __init vmalloc_contig_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("vmalloc_contig", NULL);

	debugfs_create_file("stats", 0444, dir, NULL, &vc_stats_fops);
	return 0;
}
late_initcall(vmalloc_contig_debugfs_init);
