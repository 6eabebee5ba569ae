// SPDX-License-Identifier: GPL-2.0
/*
 * vmalloc_contig: physically contiguous memory first, vmalloc as fallback.
 *
 * Large buffers that are only ever touched through the kernel's own mapping
 * (module images, firmware, tables) do not need vmalloc's 4K pages: an exact
 * run of contiguous pages from the buddy allocator is used through the direct
 * map, costs no page tables and no vmap area, and for the range variant can
 * be mapped with PMDs.  When no such run is available the request is served
 * by vmalloc, as it would have been without this API.
 *
 * Every allocation is recorded in a small hash table keyed by its address,
 * so that vfree_contig() needs no size, tells which backend served the
 * pointer, and refuses pointers it did not hand out.
 */

#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/hashtable.h>
#include <linux/init.h>
#include <linux/kasan.h>
#include <linux/kmemleak.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
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

/* What vfree_contig() needs to know about a live allocation. */
struct vc_alloc {
	struct hlist_node node;
	const void *addr;
	unsigned long pages;
	enum vc_backing backing;
	/* VC_DIRECT: one unsplit block of order ilog2(pages) */
	bool block;
};

#define VC_HASH_BITS	8

static bool vc_enabled __ro_after_init = true;

/* vfree_contig() may run in interrupt context: irq-safe. */
static DEFINE_SPINLOCK(vc_lock);
static DEFINE_HASHTABLE(vc_allocs, VC_HASH_BITS);

static struct {
	atomic_long_t allocs[VC_NR_BACKINGS];
	atomic_long_t frees[VC_NR_BACKINGS];
	atomic_long_t live_pages[VC_NR_BACKINGS];
	atomic_long_t fallbacks;
	atomic_long_t bad_frees;
} vc_counters;

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
EXPORT_SYMBOL_GPL(vmalloc_contig_enabled);

/*
 * Flags for the contiguous attempt: no warning, no heavy reclaim, as kvmalloc
 * does for its kmalloc attempt. Split pages cannot be compound.
 */
static gfp_t vc_contig_gfp(gfp_t gfp)
{
	gfp |= __GFP_NOWARN;
	if (!(gfp & __GFP_RETRY_MAYFAIL))
		gfp |= __GFP_NORETRY;
	return gfp & ~(__GFP_NOFAIL | __GFP_COMP | __GFP_HIGHMEM);
}

/*
 * A power-of-two run stays one block, allocated and freed in one step; any
 * other size is split so that the tail of its block goes back at once, as
 * alloc_pages_exact() does.
 */
static bool vc_is_block(unsigned long pages, bool split)
{
	return !split && is_power_of_2(pages);
}

/**
 * vmalloc_contig_alloc_pages - the contiguous attempt, at the direct map
 * @size: bytes
 * @gfp: caller's GFP flags
 * @node: preferred node or %NUMA_NO_NODE
 * @split: return order-0 pages even for a power-of-two size
 *
 * Visible to KUnit so that the suite can force the fallback.
 *
 * Return: direct-map address of PAGE_ALIGN(@size) bytes, or %NULL.
 */
VISIBLE_IF_KUNIT void *vmalloc_contig_alloc_pages(unsigned long size,
						  gfp_t gfp, int node,
						  bool split)
{
	unsigned int order = get_order(size);
	struct page *page;

	KUNIT_STATIC_STUB_REDIRECT(vmalloc_contig_alloc_pages, size, gfp, node,
				   split);

	if (order > MAX_PAGE_ORDER)
		return NULL;
	gfp = vc_contig_gfp(gfp);
	if (!vc_is_block(PAGE_ALIGN(size) >> PAGE_SHIFT, split))
		return alloc_pages_exact_nid_noprof(node, size, gfp);
	page = alloc_pages_node_noprof(node, gfp, order);
	return page ? page_address(page) : NULL;
}
EXPORT_SYMBOL_IF_KUNIT(vmalloc_contig_alloc_pages);

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
EXPORT_SYMBOL_IF_KUNIT(vmalloc_contig_bad_free);

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
EXPORT_SYMBOL_IF_KUNIT(vmalloc_contig_bad_gfp);

static void vc_free_backing(const struct vc_alloc *a)
{
	switch (a->backing) {
	case VC_DIRECT:
		kmemleak_free(a->addr);
		if (a->block)
			__free_pages(virt_to_page(a->addr), ilog2(a->pages));
		else
			free_pages_exact((void *)a->addr, a->pages << PAGE_SHIFT);
		break;
	default:
		vfree(a->addr);
		break;
	}
}

static struct vc_alloc *vc_alloc_record(gfp_t gfp, int node)
{
	struct vc_alloc *a = kmalloc_node(sizeof(*a), gfp & GFP_RECLAIM_MASK,
					  node);

	/* Our own reference must not hide a leak of the allocation. */
	if (a)
		kmemleak_no_scan(a);
	return a;
}

/*
 * Make @addr (or nothing) the allocation recorded in @a; consumes @a.
 */
static void *vc_commit(struct vc_alloc *a, void *addr, unsigned long size,
		       enum vc_backing backing, bool split)
{
	unsigned long flags;

	if (!addr) {
		kfree(a);
		return NULL;
	}
	a->addr = addr;
	a->pages = PAGE_ALIGN(size) >> PAGE_SHIFT;
	a->backing = backing;
	a->block = backing == VC_DIRECT && vc_is_block(a->pages, split);

	spin_lock_irqsave(&vc_lock, flags);
	hash_add(vc_allocs, &a->node, (unsigned long)addr);
	spin_unlock_irqrestore(&vc_lock, flags);

	atomic_long_inc(&vc_counters.allocs[backing]);
	atomic_long_add(a->pages, &vc_counters.live_pages[backing]);
	return addr;
}

/* Caller holds vc_lock. */
static struct vc_alloc *vc_find(const void *addr)
{
	struct vc_alloc *a;

	hash_for_each_possible(vc_allocs, a, node, (unsigned long)addr)
		if (a->addr == addr)
			return a;
	return NULL;
}

/* kvmalloc's rules for the vmalloc fallback. */
static bool vc_may_vmalloc(unsigned long size, gfp_t gfp)
{
	/* A size no allocation here could serve is a plain failure. */
	return gfpflags_allow_blocking(gfp) && size <= INT_MAX;
}

/**
 * vmalloc_contig_node - allocate memory, physically contiguous if possible
 * @size: bytes to allocate
 * @gfp: GFP flags
 * @node: preferred node, or %NUMA_NO_NODE
 *
 * First tries an exact run of PAGE_ALIGN(@size) >> PAGE_SHIFT physically
 * contiguous pages (the tail of the power-of-two block goes back to the
 * allocator, as with alloc_pages_exact()), without heavy reclaim and without
 * an allocation-failure warning. The result is then a direct-map address.
 * If that fails, or with vmalloc_contig=off, the memory comes from vmalloc.
 *
 * @gfp follows kvmalloc(): %__GFP_ZERO is honoured by both backends; a
 * non-blocking mask (%GFP_NOWAIT, %GFP_ATOMIC) gets only the contiguous
 * attempt, as vmalloc cannot honour it; %__GFP_NOFAIL applies to the
 * fallback only; %__GFP_RETRY_MAYFAIL makes the contiguous attempt try
 * harder. Requests above %INT_MAX get %NULL, as from kvmalloc() (without
 * its warning), and so does a size of 0. %__GFP_COMP is not supported:
 * one warning, and %NULL.
 *
 * Context: may sleep if @gfp allows it.
 * Return: the allocation, to be freed with vfree_contig(), or %NULL.
 */
void *vmalloc_contig_node_noprof(unsigned long size, gfp_t gfp, int node)
{
	struct vc_alloc *a;
	void *addr;

	if (!size)
		return NULL;
	/* Pieces of a run are not a compound page. */
	if (unlikely(gfp & __GFP_COMP)) {
		vmalloc_contig_bad_gfp(gfp);
		return NULL;
	}
	if (!vc_enabled) {
		if (!vc_may_vmalloc(size, gfp))
			return NULL;
		return __vmalloc_node_noprof(size, 1, gfp, node,
					     __builtin_return_address(0));
	}

	a = vc_alloc_record(gfp, node);
	if (!a)
		return NULL;
	addr = vmalloc_contig_alloc_pages(size, gfp, node, false);
	if (addr) {
		kmemleak_alloc(addr, size, 1, gfp);
		return vc_commit(a, addr, size, VC_DIRECT, false);
	}
	if (!vc_may_vmalloc(size, gfp)) {
		kfree(a);
		return NULL;
	}
	atomic_long_inc(&vc_counters.fallbacks);
	addr = __vmalloc_node_noprof(size, 1, gfp, node,
				     __builtin_return_address(0));
	return vc_commit(a, addr, size, VC_VMALLOC, false);
}
EXPORT_SYMBOL_GPL(vmalloc_contig_node_noprof);

/*
 * PMDs map the run only if the caller allows huge mappings, as for
 * vmalloc(), and the run is whole 2M pages: a vm area has one page order.
 */
static bool vc_map_huge(struct page *first, unsigned long nr, pgprot_t prot,
			unsigned long vm_flags)
{
	return IS_ENABLED(CONFIG_HAVE_ARCH_HUGE_VMALLOC) &&
	       (vm_flags & VM_ALLOW_HUGE_VMAP) && vmap_huge_allowed() &&
	       arch_vmap_pmd_supported(prot) && IS_ALIGNED(nr, PTRS_PER_PMD) &&
	       IS_ALIGNED(page_to_pfn(first), PTRS_PER_PMD);
}

/* Map the contiguous run at @addr (direct map) into a vm area. */
static void *vc_map_range(void *addr, unsigned long size, unsigned long align,
			  unsigned long start, unsigned long end, gfp_t gfp,
			  pgprot_t prot, unsigned long vm_flags, int node,
			  const void *caller)
{
	unsigned long nr = PAGE_ALIGN(size) >> PAGE_SHIFT;
	kasan_vmalloc_flags_t kasan_flags = KASAN_VMALLOC_VM_ALLOC;
	struct page *first = virt_to_page(addr);
	unsigned int shift = PAGE_SHIFT;
	struct vm_struct *area;
	struct page **pages;
	unsigned int flags = 0;
	unsigned long i;
	int err;

	if (vc_map_huge(first, nr, prot, vm_flags)) {
		shift = PMD_SHIFT;
		align = max(align, PMD_SIZE);
	}

	pages = kvmalloc_array_node_noprof(nr, sizeof(*pages),
					   gfp & GFP_RECLAIM_MASK, node);
	if (!pages)
		return NULL;
	for (i = 0; i < nr; i++)
		pages[i] = first + i;

	/*
	 * VM_MAP_PUT_PAGES: vfree() frees the pages and the array, and does
	 * not undo vmalloc's accounting we never did.
	 */
	area = __get_vm_area_node(size, align, PAGE_SHIFT,
				  VM_ALLOC | VM_UNINITIALIZED | VM_MAP_PUT_PAGES |
				  vm_flags, start, end, node, gfp, caller);
	if (!area) {
		kvfree(pages);
		return NULL;
	}
	area->pages = pages;
	area->nr_pages = nr;
	if (shift != PAGE_SHIFT)
		set_vm_area_page_order(area, shift - PAGE_SHIFT);

	/* Page tables are allocated with GFP_KERNEL: scope the caller's mask. */
	if ((gfp & (__GFP_FS | __GFP_IO)) == __GFP_IO)
		flags = memalloc_nofs_save();
	else if (!(gfp & (__GFP_FS | __GFP_IO)))
		flags = memalloc_noio_save();
	err = vmap_pages_range_noflush((unsigned long)area->addr,
				       (unsigned long)area->addr +
				       (nr << PAGE_SHIFT), prot, pages, shift);
	if ((gfp & (__GFP_FS | __GFP_IO)) == __GFP_IO)
		memalloc_nofs_restore(flags);
	else if (!(gfp & (__GFP_FS | __GFP_IO)))
		memalloc_noio_restore(flags);
	flush_cache_vmap((unsigned long)area->addr,
			 (unsigned long)area->addr + (nr << PAGE_SHIFT));
	if (err) {
		/* The pages stay the caller's until we return success. */
		free_vm_area(area);
		kvfree(pages);
		return NULL;
	}

	if (pgprot_val(prot) == pgprot_val(PAGE_KERNEL))
		kasan_flags |= KASAN_VMALLOC_PROT_NORMAL;
	area->addr = kasan_unpoison_vmalloc(area->addr, size, kasan_flags);

	/* Pairs with smp_rmb() in vread_iter() and vmalloc_info_show(). */
	smp_wmb();
	area->flags &= ~VM_UNINITIALIZED;
	if (!(vm_flags & VM_DEFER_KMEMLEAK))
		kmemleak_vmalloc(area, size, gfp);
	return area->addr;
}

/**
 * vmalloc_contig_range - contiguous pages mapped in a virtual window
 * @size: bytes to allocate
 * @align: alignment of the virtual address
 * @start: lowest address of the window
 * @end: end of the window (exclusive)
 * @gfp: GFP flags, as for vmalloc_contig_node() but blocking: the vm area
 *	and the page tables are allocated with GFP_KERNEL
 * @prot: protection of the mapping
 * @vm_flags: VM_* flags for the vm area
 * @node: preferred node, or %NUMA_NO_NODE
 * @caller: caller's return address, for /proc/vmallocinfo
 *
 * Like __vmalloc_node_range(), but first maps an exact run of physically
 * contiguous pages inside [@start, @end). With %VM_ALLOW_HUGE_VMAP in
 * @vm_flags, a run of whole 2M pages is mapped by PMDs where the
 * architecture supports them for @prot (the address is then aligned to
 * PMD_SIZE); otherwise by PTEs. Falls back to __vmalloc_node_range() with
 * the caller's arguments.
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
	struct vc_alloc *a;
	void *pages, *addr;

	if (!size)
		return NULL;
	if (unlikely(!gfpflags_allow_blocking(gfp) || (gfp & __GFP_COMP))) {
		vmalloc_contig_bad_gfp(gfp);
		return NULL;
	}
	if (!vc_enabled)
		return __vmalloc_node_range_noprof(size, align, start, end,
						   gfp, prot, vm_flags, node,
						   caller);

	a = vc_alloc_record(gfp, node);
	if (!a)
		return NULL;
	/* vfree() frees the pages of a vm area one by one: split them. */
	pages = vmalloc_contig_alloc_pages(size, gfp, node, true);
	if (pages) {
		addr = vc_map_range(pages, size, align, start, end, gfp, prot,
				    vm_flags, node, caller);
		if (addr)
			return vc_commit(a, addr, size, VC_MAPPED, true);
		free_pages_exact(pages, size);
	}
	if (!vc_may_vmalloc(size, gfp)) {
		kfree(a);
		return NULL;
	}
	atomic_long_inc(&vc_counters.fallbacks);
	addr = __vmalloc_node_range_noprof(size, align, start, end, gfp, prot,
					   vm_flags, node, caller);
	return vc_commit(a, addr, size, VC_VMALLOC, true);
}
EXPORT_SYMBOL_GPL(vmalloc_contig_range_noprof);

static enum vmalloc_contig_kind vc_kind(enum vc_backing backing)
{
	return backing == VC_VMALLOC ? VMALLOC_CONTIG_VMALLOC :
				       VMALLOC_CONTIG_PAGES;
}

/**
 * vmalloc_contig_kind - which backend served an allocation
 * @addr: a pointer returned by this API
 *
 * Return: %VMALLOC_CONTIG_PAGES, %VMALLOC_CONTIG_VMALLOC, or
 * %VMALLOC_CONTIG_NONE if @addr is not a live allocation of this API.
 * With vmalloc_contig=off every vmalloc address reports as vmalloc.
 */
enum vmalloc_contig_kind vmalloc_contig_kind(const void *addr)
{
	enum vmalloc_contig_kind kind = VMALLOC_CONTIG_NONE;
	struct vc_alloc *a;
	unsigned long flags;

	if (!addr)
		return VMALLOC_CONTIG_NONE;
	if (!vc_enabled)
		return is_vmalloc_or_module_addr(addr) ?
			VMALLOC_CONTIG_VMALLOC : VMALLOC_CONTIG_NONE;
	spin_lock_irqsave(&vc_lock, flags);
	a = vc_find(addr);
	if (a)
		kind = vc_kind(a->backing);
	spin_unlock_irqrestore(&vc_lock, flags);
	return kind;
}
EXPORT_SYMBOL_GPL(vmalloc_contig_kind);

/**
 * vfree_contig - free memory allocated by this API
 * @addr: the allocation, or %NULL
 *
 * Frees exactly what was allocated, whichever backend served it; no size is
 * needed. A pointer this API did not hand out is reported with one warning
 * and not freed.
 *
 * Context: any context but NMI, like vfree(): from interrupt context the
 * vmalloc backend defers the work.
 * Return: the backend that served @addr, %VMALLOC_CONTIG_NONE if nothing was
 * freed.
 */
enum vmalloc_contig_kind vfree_contig(const void *addr)
{
	enum vmalloc_contig_kind kind;
	struct vc_alloc *a;
	unsigned long flags;

	if (!addr)
		return VMALLOC_CONTIG_NONE;
	if (!vc_enabled && is_vmalloc_or_module_addr(addr)) {
		vfree(addr);
		return VMALLOC_CONTIG_VMALLOC;
	}

	spin_lock_irqsave(&vc_lock, flags);
	a = vc_find(addr);
	if (a)
		hash_del(&a->node);
	spin_unlock_irqrestore(&vc_lock, flags);
	if (!a) {
		atomic_long_inc(&vc_counters.bad_frees);
		vmalloc_contig_bad_free(addr);
		return VMALLOC_CONTIG_NONE;
	}

	vc_free_backing(a);
	atomic_long_inc(&vc_counters.frees[a->backing]);
	atomic_long_sub(a->pages, &vc_counters.live_pages[a->backing]);
	kind = vc_kind(a->backing);
	kfree(a);
	return kind;
}
EXPORT_SYMBOL_GPL(vfree_contig);

static int vc_stats_show(struct seq_file *m, void *v)
{
	int i;

	seq_printf(m, "enabled %d\n", vc_enabled);
	for (i = 0; i < VC_NR_BACKINGS; i++) {
		seq_printf(m, "%s_allocs %ld\n", vc_backing_name[i],
			   atomic_long_read(&vc_counters.allocs[i]));
		seq_printf(m, "%s_frees %ld\n", vc_backing_name[i],
			   atomic_long_read(&vc_counters.frees[i]));
		seq_printf(m, "%s_bytes %ld\n", vc_backing_name[i],
			   atomic_long_read(&vc_counters.live_pages[i]) << PAGE_SHIFT);
	}
	seq_printf(m, "fallbacks %ld\n", atomic_long_read(&vc_counters.fallbacks));
	seq_printf(m, "bad_frees %ld\n", atomic_long_read(&vc_counters.bad_frees));
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
