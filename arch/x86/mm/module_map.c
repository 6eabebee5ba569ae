// SPDX-License-Identifier: GPL-2.0
/*
 * Module memory in 2M chunks mapped by PMDs.
 *
 * Kernel text is mapped with large pages; module memory comes from vmalloc
 * in 4K pages, each module costing TLB entries and, through the permission
 * changes of its direct-map alias, splitting the direct map. Here module
 * memory is carved out of physically contiguous, 2M-aligned chunks that
 * vmalloc_contig_range() maps with one PMD each in the module area.
 *
 * Every chunk holds one class of memory, by final permission: text (ROX),
 * rodata (RO+NX; ro_after_init data too, which is writable until init is
 * done), data (RW+NX), and the same three for the init sections, which are
 * freed after init and so get chunks of their own. A chunk always has its
 * class permission, so a 2M page never mixes them:
 *
 * - A piece handed to the loader is made writable (CPA splits the PMD; in
 *   a split chunk rodata, which only gains write permission, flushes no
 *   other CPU's TLB), the loader and every text patcher write as usual,
 *   then the strict-RWX calls give the piece its final permission, and the
 *   512 PTEs are collapsed back into one PMD once the chunk is uniform
 *   again. A split and a collapse each flush the TLB of every CPU, and
 *   modules loaded one after the other put pieces in the same chunks: the
 *   collapse waits until no chunk changed for MM_COLLAPSE_QUIET, or
 *   MM_COLLAPSE_MAX after the first change, so that a burst of loads
 *   splits and collapses a chunk once rather than for every piece. Loads
 *   further apart than that pay both for each, as an immediate collapse
 *   would.
 * - Free text is INT3 and ROX. A freed text piece is made writable again,
 *   refilled with INT3 in place and made ROX, whatever state the load left
 *   it in: the free path decides nothing from the page tables, and needs
 *   neither text_poke() nor text_mutex. Under init_on_free a freed data or
 *   rodata piece is cleared in place (rodata made writable for it), as the
 *   page allocator clears the pages of a vfree().
 * - The direct-map alias of a chunk takes the class permission once, for the
 *   whole 2M, when the chunk is created; CPA leaves the alias alone for the
 *   pieces, so loading modules does not split the direct map to 4K. Where
 *   the direct map has 1G pages, the one holding a chunk is split to 2M
 *   pages; it is mapped by 1G again when the last chunk in it is released.
 * - A piece over 2M gets a chunk of its own, of as many 2M pages as it
 *   needs, returned to the page allocator when the piece is freed.
 * - An empty chunk goes back to the page allocator after MM_RELEASE_DELAY,
 *   so that unloading and loading a module again does not churn chunks, or
 *   at once when the shrinker is asked for memory.
 * - Splits and collapses of chunk PMDs are counted in /proc/vmstat.
 *
 * When no chunk can be had the allocation returns NULL and execmem serves it
 * with 4K pages, as without this backend. A class whose chunk could not be
 * had tries none for MM_BACKOFF. With nohugevmalloc the backend is off from
 * setup. Chunks come from the allocating CPU's node: vmalloc spreads a
 * request for no node over all nodes, in pages too small for a PMD.
 */

#define pr_fmt(fmt) "module_map: " fmt

#include <linux/bitmap.h>
#include <linux/debug_locks.h>
#include <linux/debugfs.h>
#include <linux/debugobjects.h>
#include <linux/execmem.h>
#include <linux/kasan.h>
#include <linux/kmemleak.h>
#include <linux/kmsan-checks.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pgtable.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/set_memory.h>
#include <linux/shrinker.h>
#include <linux/vmalloc.h>
#include <linux/vmalloc_contig.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>

#include <asm/kaslr.h>
#include <asm/module_map.h>
#include <asm/sections.h>
#include <asm/setup.h>
#include <asm/text-patching.h>

#define MM_PIECES	PTRS_PER_PMD	/* pages per chunk */
#define MM_SLOTS	((MODULES_END - MODULES_VADDR) >> PMD_SHIFT)
/*
 * Under KASLR the first chunk goes to one of this many 2M slots, and the
 * first piece of a class's first chunk to one of MODULE_MAP_KASLR_PAGES
 * pages: about 14 bits for a blind guess of the first module's address
 * (execmem's page-granular base has 10). Later pieces and chunks follow at
 * offsets from those, as with execmem.
 */
#define MM_KASLR_SLOTS	256
/* How long an empty chunk is kept for the next load. */
#define MM_RELEASE_DELAY	(2 * HZ)
/* How long no chunk is tried after one could not be had. */
#define MM_BACKOFF		msecs_to_jiffies(MODULE_MAP_BACKOFF_MS)
/*
 * Changed chunks are collapsed once none changed for MM_COLLAPSE_QUIET, and
 * at the latest MM_COLLAPSE_MAX after the first change: the 2M mapping is
 * a steady-state gain, the flushes a cost per collapse.
 */
#define MM_COLLAPSE_QUIET	msecs_to_jiffies(100)
#define MM_COLLAPSE_MAX		msecs_to_jiffies(1000)

enum mm_class {
	MM_TEXT,
	MM_RODATA,
	MM_DATA,
	MM_INIT_TEXT,
	MM_INIT_RODATA,
	MM_INIT_DATA,
	MM_NR_CLASSES,
};

struct mm_chunk {
	struct list_head node;
	unsigned long base;
	enum mm_class cls;
	unsigned int pmds;			/* 2M pages: over one, one piece */
	unsigned int used;			/* pages in use */
	unsigned int first;			/* where a search starts */
	DECLARE_BITMAP(map, MM_PIECES);		/* pages in use, if one 2M page */
	u16 len[MM_PIECES];			/* pages of the piece starting here */
};

static unsigned long mm_chunk_size(const struct mm_chunk *c)
{
	return c->pmds * PMD_SIZE;
}

struct mm_class_state {
	struct list_head chunks;
	unsigned long backoff_until;		/* jiffies; under mm_lock */
	atomic_long_t allocs;
	atomic_long_t fallbacks;
	atomic_long_t splits;			/* of chunk PMDs */
	atomic_long_t collapses;
};

static const struct mm_class_info {
	const char *name;
	enum execmem_type type;
	bool text;
	/* The class permission, from PAGE_KERNEL; NULL: PAGE_KERNEL itself. */
	int (*final)(unsigned long addr, int numpages);
	/*
	 * Back to PAGE_KERNEL: for loading a piece, or freeing a chunk.
	 * Rodata's only adds write permission, and set_memory_rw_lazy()
	 * flushes no other CPU for a piece's 4K entries. A released chunk's
	 * change flushes every CPU: it is no longer published, so CPA also
	 * changes its direct-map alias, and it is mapped by PMDs.
	 */
	int (*writable)(unsigned long addr, int numpages);
} mm_info[MM_NR_CLASSES] = {
	[MM_TEXT] = { "text", EXECMEM_MODULE_TEXT, true,
		      set_memory_rox, set_memory_rwnx },
	[MM_RODATA] = { "rodata", EXECMEM_MODULE_RODATA, false,
			set_memory_ro, set_memory_rw_lazy },
	[MM_DATA] = { "data", EXECMEM_MODULE_DATA, false, NULL, NULL },
	[MM_INIT_TEXT] = { "init_text", EXECMEM_MODULE_INIT_TEXT, true,
			   set_memory_rox, set_memory_rwnx },
	[MM_INIT_RODATA] = { "init_rodata", EXECMEM_MODULE_INIT_RODATA, false,
			     set_memory_ro, set_memory_rw_lazy },
	[MM_INIT_DATA] = { "init_data", EXECMEM_MODULE_INIT_DATA, false,
			   NULL, NULL },
};

static struct mm_class_state mm_state[MM_NR_CLASSES];
static DEFINE_MUTEX(mm_lock);
static unsigned long mm_start __ro_after_init;
static unsigned long mm_end __ro_after_init;
/* Where data chunks are looked for first: a fixed distance above text's. */
static unsigned long mm_data_start __ro_after_init;
static bool mm_enabled __ro_after_init;
static bool mm_param_on __initdata = true;

/* Counters of the chunks as a whole, in debugfs in this order. */
enum mm_count {
	MM_CREATED,		/* chunks, in 2M pages */
	MM_RELEASED,
	MM_FAILED,		/* chunk allocations that failed */
	MM_BACKED_OFF,		/* chunks not tried during a backoff */
	MM_RELEASE_FAILED,	/* permission not restored at 2M */
	MM_QUARANTINED,		/* pieces whose permission stuck */
	MM_UNCLEARED,		/* under init_on_free, pieces not cleared */
	MM_NR_COUNTS,
};

static const char * const mm_count_names[MM_NR_COUNTS] = {
	[MM_CREATED] = "chunks_created",
	[MM_RELEASED] = "chunks_released",
	[MM_FAILED] = "chunk_failures",
	[MM_BACKED_OFF] = "chunk_backoffs",
	[MM_RELEASE_FAILED] = "release_failures",
	[MM_QUARANTINED] = "quarantined_pieces",
	[MM_UNCLEARED] = "uncleared_pieces",
};

static atomic_long_t mm_counts[MM_NR_COUNTS];

static void mm_release_empty(struct work_struct *work);
static DECLARE_DELAYED_WORK(mm_release_work, mm_release_empty);
static void mm_collapse_pending(struct work_struct *work);
static DECLARE_DELAYED_WORK(mm_collapse_work, mm_collapse_pending);

/*
 * 2M slots of the module area that are chunks: read locklessly by CPA, set
 * under mm_lock, cleared under mm_collapse_lock.
 */
static DECLARE_BITMAP(mm_owned, MM_SLOTS);
static u8 mm_slot_class[MM_SLOTS];
/* Slots where a piece got its final permission since the last collapse. */
static DECLARE_BITMAP(mm_collapse_slots, MM_SLOTS);
/* When the first of those changes was (jiffies), if mm_collapse_armed. */
static unsigned long mm_collapse_first;
static atomic_t mm_collapse_armed;
/*
 * Serialises collapses with the withdrawal of chunks, so that none is
 * collapsed while it is released; not mm_lock, which allocations take,
 * since a collapse waits for init_mm's mmap lock (a page-table dump).
 */
static DEFINE_MUTEX(mm_collapse_lock);

static int mm_class_of(enum execmem_type type)
{
	int i;

	/* Read-only once init is done: the same final permission. */
	if (type == EXECMEM_MODULE_RO_AFTER_INIT)
		return MM_RODATA;
	for (i = 0; i < MM_NR_CLASSES; i++)
		if (mm_info[i].type == type)
			return i;
	return -1;
}

/**
 * module_map_owns - whether @addr lies in a module memory chunk
 * @addr: kernel virtual address
 *
 * CPA leaves the direct-map alias of chunk pages alone and collapses chunk
 * ranges back to PMDs. Lockless: a chunk is published after its whole 2M
 * has the class permission and withdrawn before it is reset.
 */
bool module_map_owns(unsigned long addr)
{
	if (addr < MODULES_VADDR || addr >= MODULES_END)
		return false;
	return test_bit((addr - MODULES_VADDR) >> PMD_SHIFT, mm_owned);
}

/**
 * module_map_owns_range - whether a range lies in module memory chunks
 * @addr: kernel virtual address
 * @numpages: 4K pages from @addr
 *
 * Every 2M page of the range, as module_map_owns() tells for one address.
 */
bool module_map_owns_range(unsigned long addr, unsigned long numpages)
{
	unsigned long first, last;

	if (!numpages || addr < MODULES_VADDR || addr >= MODULES_END ||
	    numpages > (MODULES_END - addr) >> PAGE_SHIFT)
		return false;
	first = (addr - MODULES_VADDR) >> PMD_SHIFT;
	last = (addr - MODULES_VADDR + (numpages << PAGE_SHIFT) - 1) >>
	       PMD_SHIFT;
	return find_next_zero_bit(mm_owned, last + 1, first) > last;
}

static struct mm_class_state *mm_slot_state(unsigned long addr)
{
	return &mm_state[mm_slot_class[(addr - MODULES_VADDR) >> PMD_SHIFT]];
}

/* CPA split the PMD of the chunk at @addr: per class and in /proc/vmstat. */
void module_map_count_split(unsigned long addr)
{
	atomic_long_inc(&mm_slot_state(addr)->splits);
	count_vm_event(MODULE_MAP_LEVEL2_SPLIT);
}

/**
 * module_map_collapse_later - collapse chunks that a change may have made
 *                             uniform
 * @addr: start of the changed range, in chunks
 * @numpages: its length in 4K pages
 *
 * CPA calls this after it took write permission away from pages of chunks.
 * Context: process context; does not sleep.
 */
void module_map_collapse_later(unsigned long addr, int numpages)
{
	unsigned long slot = (addr - MODULES_VADDR) >> PMD_SHIFT;
	unsigned long last = (addr + numpages * PAGE_SIZE - 1 - MODULES_VADDR) >>
			     PMD_SHIFT;
	unsigned long deadline, delay = 0;

	for (; slot <= last; slot++)
		set_bit(slot, mm_collapse_slots);
	/* Racing callers may see an old start: an early collapse, no harm. */
	if (!atomic_xchg(&mm_collapse_armed, 1))
		WRITE_ONCE(mm_collapse_first, jiffies);
	deadline = READ_ONCE(mm_collapse_first) + MM_COLLAPSE_MAX;
	if (time_before(jiffies, deadline))
		delay = min(MM_COLLAPSE_QUIET, deadline - jiffies);
	mod_delayed_work(system_wq, &mm_collapse_work, delay);
}

/* Put PMDs back over the chunk pages at @addr; counted per class. */
static void mm_collapse(unsigned long addr, unsigned int pages)
{
	int n = set_memory_collapse(addr, pages);

	atomic_long_add(n, &mm_slot_state(addr)->collapses);
	count_vm_events(MODULE_MAP_LEVEL2_COLLAPSE, n);
}

/* Collapse the chunks changed since the last run that are still chunks. */
static void mm_collapse_pending(struct work_struct *work)
{
	unsigned long slot;

	/* A change from now on waits for a run of its own. */
	atomic_set(&mm_collapse_armed, 0);
	mutex_lock(&mm_collapse_lock);
	for_each_set_bit(slot, mm_collapse_slots, MM_SLOTS) {
		clear_bit(slot, mm_collapse_slots);
		if (!test_bit(slot, mm_owned))
			continue;
		mm_collapse(MODULES_VADDR + slot * PMD_SIZE, MM_PIECES);
	}
	mutex_unlock(&mm_collapse_lock);
}

static void mm_publish(const struct mm_chunk *c, enum mm_class cls,
		       bool owned)
{
	unsigned long slot = (c->base - MODULES_VADDR) >> PMD_SHIFT;
	unsigned int i;

	for (i = 0; i < c->pmds; i++, slot++) {
		if (owned) {
			mm_slot_class[slot] = cls;
			set_bit(slot, mm_owned);
		} else {
			clear_bit(slot, mm_owned);
		}
	}
}

/*
 * The direct map's 1G pages that giving the chunk's alias its class
 * permission split: put them back where the alias was the last thing that
 * kept them split.
 */
static void mm_chunk_restore_direct_map(struct mm_chunk *c)
{
	unsigned long pfn;
	unsigned int i;

	/* A chunk's 2M pages need not be contiguous with each other. */
	for (i = 0; i < c->pmds; i++) {
		pfn = vmalloc_to_pfn((void *)(c->base + i * PMD_SIZE));
		if (WARN_ON_ONCE(!pfn))
			continue;
		direct_map_collapse_1g((unsigned long)pfn_to_kaddr(pfn),
				       MM_PIECES);
	}
}

static void mm_chunk_release(struct mm_chunk *c)
{
	struct vm_struct *vm = find_vm_area((void *)c->base);
	enum mm_class cls = c->cls;
	int err = 0;

	/* No collapse from now on: the work skips a chunk no longer owned. */
	mutex_lock(&mm_collapse_lock);
	mm_publish(c, cls, false);
	mutex_unlock(&mm_collapse_lock);
	if (mm_info[cls].writable) {
		/*
		 * Whole 2M pages, so that the alias changes by large pages too:
		 * an empty chunk is uniform, but its collapse may still be
		 * pending, and CPA would split the alias for a chunk in PTEs.
		 */
		mm_collapse(c->base, c->pmds * MM_PIECES);
		err = mm_info[cls].writable(c->base, c->pmds * MM_PIECES);
		if (!err)
			mm_chunk_restore_direct_map(c);
	}
	if (vm) {
		/*
		 * Done above, at 2M; vfree() would do it page by page, which
		 * it must still do if CPA failed part way.
		 */
		if (err) {
			atomic_long_inc(&mm_counts[MM_RELEASE_FAILED]);
			vm->flags |= VM_FLUSH_RESET_PERMS;
		} else {
			vm->flags &= ~VM_FLUSH_RESET_PERMS;
		}
	}
	vfree_contig((void *)c->base);
	atomic_long_add(c->pmds, &mm_counts[MM_RELEASED]);
	kfree(c);
}

/* Whether the 2M page at @addr is mapped by a PMD now. */
static bool mm_pmd_mapped(unsigned long addr)
{
	unsigned int level;

	/* CPA frees a collapsed PTE table after a grace period. */
	guard(rcu)();
	return lookup_address(addr, &level) && level == PG_LEVEL_2M;
}

/* Whether every 2M page of the @size bytes at @p got a PMD. */
static bool mm_all_pmd_mapped(void *p, unsigned long size)
{
	unsigned long pos;

	for (pos = (unsigned long)p; pos < (unsigned long)p + size;
	     pos += PMD_SIZE)
		if (!mm_pmd_mapped(pos))
			return false;
	return true;
}

/* A chunk of huge pages only, from @start up, from this node. */
static void *mm_vmalloc_from(unsigned long start, unsigned long size,
			     const void *caller)
{
	return vmalloc_contig_range(size, PMD_SIZE, start, mm_end,
				    GFP_KERNEL | __GFP_NOWARN, PAGE_KERNEL,
				    VM_ALLOW_HUGE_VMAP | VM_REQUIRE_HUGE_VMAP,
				    numa_node_id(), caller);
}

/*
 * Text chunks are taken first-fit from mm_start, chunks of the data classes
 * from mm_data_start first, the whole area being the fallback: the two
 * kinds tend not to interleave, and whether a load's data lie above its
 * text no longer depends on the holes that earlier loads and lazily freed
 * areas left. A miss from mm_data_start repeats the whole attempt from
 * mm_start (another address search, and another 2M allocation when pages
 * were what was missing): a class backs off after a failed 2M chunk, and
 * larger chunks are one per module that needs one.
 */
static void *mm_chunk_vmalloc(enum mm_class cls, unsigned long size,
			      const void *caller)
{
	void *p;

	if (!mm_info[cls].text) {
		p = mm_vmalloc_from(mm_data_start, size, caller);
		if (p)
			return p;
	}
	return mm_vmalloc_from(mm_start, size, caller);
}

/*
 * A chunk of @pmds 2M pages, each mapped by a PMD, from this node: vmalloc's
 * huge pages or nothing (no 4K area to allocate and throw away when there is
 * no free 2M block). mm_lock held.
 */
static struct mm_chunk *mm_chunk_create(enum mm_class cls, unsigned int pmds)
{
	struct mm_class_state *st = &mm_state[cls];
	unsigned long size = pmds * PMD_SIZE;
	struct mm_chunk *c;
	void *p;

	/* Chunks over 2M are rare (one per huge module): not backed off. */
	if (pmds == 1 && time_before(jiffies, st->backoff_until)) {
		atomic_long_inc(&mm_counts[MM_BACKED_OFF]);
		return NULL;
	}
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		goto fail;
	p = mm_chunk_vmalloc(cls, size, __builtin_return_address(0));
	if (!p)
		goto fail;
	/*
	 * Pieces are the kmemleak objects, as vmalloc()ed module memory was:
	 * forget the chunk, which would overlap them.
	 */
	kmemleak_free(p);
	/*
	 * 2M pages, but the mapping can still be PTEs where x86 refuses a
	 * PMD (a memory type that is not uniform over the 2M, or an old PTE
	 * table vmap could not free while ptdump holds init_mm): never used,
	 * counted as a failure, and the class backs off.
	 */
	if (!mm_all_pmd_mapped(p, size)) {
		pr_info_ratelimited("%lu-byte chunk not mapped by PMDs, backing off\n",
				    size);
		vfree_contig(p);
		goto fail;
	}
	c->base = (unsigned long)p;
	c->cls = cls;
	c->pmds = pmds;
	/*
	 * Under KASLR the searches of a class's first chunk start at one of
	 * its first pages, and so does its first piece; the pages before it
	 * take pieces that no longer fit after it. Only the first chunk: a
	 * random start strands up to 252K for larger pieces.
	 */
	if (pmds == 1 && list_empty(&st->chunks) && kaslr_enabled())
		c->first = get_random_u32_below(MODULE_MAP_KASLR_PAGES);
	if (mm_info[cls].text)
		memset(p, INT3_INSN_OPCODE, size);
	/* KASAN sees pieces, as it saw vmalloc()ed module memory. */
	kasan_poison_vmalloc(p, size);
	atomic_long_add(pmds, &mm_counts[MM_CREATED]);
	/*
	 * CPA skips vm_unmap_aliases() for changes inside chunks: no stale
	 * TLB entry of a lazily freed vmap area may map a chunk's pages by
	 * the time it is published. The class permission's CPA call purges
	 * them; the data classes have none, so purge here.
	 */
	if (!mm_info[cls].final)
		vm_unmap_aliases();
	if (mm_info[cls].final &&
	    mm_info[cls].final(c->base, pmds * MM_PIECES)) {
		/* Part of it may have the class permission: undo, then free. */
		mm_chunk_release(c);
		c = NULL;
		goto fail;
	}
	mm_publish(c, cls, true);
	list_add_tail(&c->node, &st->chunks);
	return c;
fail:
	kfree(c);
	atomic_long_inc(&mm_counts[MM_FAILED]);
	if (pmds == 1)
		st->backoff_until = jiffies + MM_BACKOFF;
	return NULL;
}

/*
 * A free range of @pages in @c, first fit from where the chunk's searches
 * start, then from its beginning; MM_PIECES if there is none.
 */
static unsigned long mm_find_free(struct mm_chunk *c, unsigned int pages)
{
	unsigned long idx;

	idx = bitmap_find_next_zero_area(c->map, MM_PIECES, c->first, pages,
					 0);
	if (idx >= MM_PIECES && c->first)
		idx = bitmap_find_next_zero_area(c->map, MM_PIECES, 0, pages,
						 0);
	return idx;
}

/* Reserve @pages in a chunk of @cls; mm_lock held. */
static unsigned long mm_reserve(enum mm_class cls, unsigned int pages)
{
	struct mm_class_state *st = &mm_state[cls];
	unsigned long idx;
	struct mm_chunk *c;

	if (pages > MM_PIECES) {
		c = mm_chunk_create(cls, DIV_ROUND_UP(pages, MM_PIECES));
		if (!c)
			return 0;
		c->len[0] = pages;
		c->used = pages;
		return c->base;
	}
	list_for_each_entry(c, &st->chunks, node) {
		if (c->pmds > 1 || MM_PIECES - c->used < pages)
			continue;
		idx = mm_find_free(c, pages);
		if (idx < MM_PIECES)
			goto found;
	}
	c = mm_chunk_create(cls, 1);
	if (!c)
		return 0;
	idx = mm_find_free(c, pages);
	/* A new chunk is empty: the search from its beginning finds room. */
	if (WARN_ON_ONCE(idx >= MM_PIECES))
		return 0;
found:
	bitmap_set(c->map, idx, pages);
	c->len[idx] = pages;
	c->used += pages;
	return c->base + idx * PAGE_SIZE;
}

/* The chunk holding @addr, an address module_map_owns(); mm_lock held. */
static struct mm_chunk *mm_find(unsigned long addr, enum mm_class *cls)
{
	struct mm_chunk *c;

	*cls = mm_slot_class[(addr - MODULES_VADDR) >> PMD_SHIFT];
	list_for_each_entry(c, &mm_state[*cls].chunks, node)
		if (addr - c->base < mm_chunk_size(c))
			return c;
	return NULL;
}

/*
 * Give a piece back; @filled: the loader may have written it, so text is
 * refilled with INT3 and, under init_on_free, other classes are cleared.
 */
static void mm_put(void *ptr, bool filled)
{
	unsigned long addr = (unsigned long)ptr, idx;
	enum mm_class cls;
	unsigned int pages;
	struct mm_chunk *c;
	bool empty;
	int err = 0;

	mutex_lock(&mm_lock);
	c = mm_find(addr, &cls);
	idx = c ? (addr - c->base) >> PAGE_SHIFT : 0;
	/* Past the first 2M of a chunk over 2M: inside its one piece. */
	pages = c && !offset_in_page(addr) && idx < MM_PIECES ?
		c->len[idx] : 0;
	mutex_unlock(&mm_lock);
	if (WARN(!pages, "module_map: %p is not a module memory piece\n", ptr))
		return;

	kmemleak_free(ptr);
	if (c->pmds > 1) {
		/*
		 * The chunk of a piece over 2M holds nothing else and goes
		 * with it: no class permission or INT3 refill to restore.
		 * vfree() checks it for locks and debug objects, and the page
		 * allocator clears it under init_on_free.
		 */
		mutex_lock(&mm_lock);
		list_del(&c->node);
		mutex_unlock(&mm_lock);
		mm_chunk_release(c);
		return;
	}
	/* What vfree() checks of the module memory range it frees. */
	debug_check_no_locks_freed(ptr, pages * PAGE_SIZE);
	debug_check_no_obj_freed(ptr, pages * PAGE_SIZE);
	kasan_poison_vmalloc(ptr, pages * PAGE_SIZE);
	/*
	 * Free text is INT3 before it is executable again. Whether the load
	 * got as far as ROX or not, make the piece writable, fill it in place
	 * and give it the class permission again: for a piece that is still
	 * writable (a failed load, an ITS thunk page) the first step changes
	 * nothing. Under init_on_free, rodata and data are cleared the same
	 * way (data has no permission to change), as the page allocator
	 * clears the pages of a vfree(); if rodata cannot be made writable
	 * (no memory to split its PMD, which changes nothing then), it is
	 * given back uncleared and counted: the loader clears what it hands
	 * out, and the page allocator the chunk. Poisoned already, as free
	 * memory: not via KASAN.
	 */
	if (filled && mm_info[cls].text) {
		err = mm_info[cls].writable(addr, pages);
		if (!err)
			__memset(ptr, INT3_INSN_OPCODE, pages * PAGE_SIZE);
	} else if (filled && want_init_on_free()) {
		/* Data is writable: no class permission, none left by users. */
		if (!mm_info[cls].writable || !mm_info[cls].writable(addr, pages))
			__memset(ptr, 0, pages * PAGE_SIZE);
		else
			atomic_long_inc(&mm_counts[MM_UNCLEARED]);
	}
	if (filled)
		kmsan_poison_memory(ptr, pages * PAGE_SIZE, GFP_KERNEL);
	/* Back to the class permission (a failed load may not have it). */
	if (!err && mm_info[cls].final)
		err = mm_info[cls].final(addr, pages);
	if (err) {
		/*
		 * CPA could not change the piece (no memory for a split):
		 * never hand it out again with the wrong permission or old
		 * code. It stays used, and so does its chunk.
		 */
		atomic_long_inc(&mm_counts[MM_QUARANTINED]);
		pr_warn_ratelimited("piece %p kept out of use: permission change failed (%d)\n",
				    ptr, err);
		return;
	}

	mutex_lock(&mm_lock);
	bitmap_clear(c->map, idx, pages);
	c->len[idx] = 0;
	c->used -= pages;
	empty = !c->used;
	mutex_unlock(&mm_lock);
	/* A pending release (the shrinker's, at once) is not put off. */
	if (empty)
		queue_delayed_work(system_wq, &mm_release_work,
				   MM_RELEASE_DELAY);
}

/* Give every empty chunk back to the page allocator. */
static void mm_release_empty(struct work_struct *work)
{
	struct mm_chunk *c, *tmp;
	LIST_HEAD(empty);

	int i;

	mutex_lock(&mm_lock);
	for (i = 0; i < MM_NR_CLASSES; i++)
		list_for_each_entry_safe(c, tmp, &mm_state[i].chunks, node)
			if (!c->used)
				list_move_tail(&c->node, &empty);
	mutex_unlock(&mm_lock);
	list_for_each_entry_safe(c, tmp, &empty, node) {
		list_del(&c->node);
		mm_chunk_release(c);
	}
}

/* How long until every class may try a chunk again. */
static unsigned int mm_backoff_ms(void)
{
	unsigned long backoff = 0, now = jiffies;
	int i;

	lockdep_assert_held(&mm_lock);
	for (i = 0; i < MM_NR_CLASSES; i++)
		if (time_before(now, mm_state[i].backoff_until))
			backoff = max(backoff, mm_state[i].backoff_until - now);
	return jiffies_to_msecs(backoff);
}

#if IS_ENABLED(CONFIG_X86_MODULE_MAP_KUNIT_TEST)
/**
 * module_map_release_empty - give every empty chunk back now
 *
 * Without waiting for MM_RELEASE_DELAY; for the KUnit suite.
 */
void module_map_release_empty(void)
{
	mod_delayed_work(system_wq, &mm_release_work, 0);
	flush_delayed_work(&mm_release_work);
}

/**
 * module_map_collapse_now - collapse the chunks changed since the last run
 *
 * Without waiting for MM_COLLAPSE_DELAY; for the KUnit suite.
 */
void module_map_collapse_now(void)
{
	mod_delayed_work(system_wq, &mm_collapse_work, 0);
	flush_delayed_work(&mm_collapse_work);
}

/**
 * module_map_enabled - whether the backend serves module memory on this boot
 *
 * For the KUnit suite: with the backend on, a failed allocation is a failure.
 */
bool module_map_enabled(void)
{
	return mm_enabled;
}

/**
 * module_map_data_start - where data chunks are looked for first
 *
 * For the KUnit suite.
 */
unsigned long module_map_data_start(void)
{
	return mm_data_start;
}

/**
 * module_map_stat - a counter of the backend, by its name in debugfs stats
 * @name: "chunks_created", "chunk_failures", ..., or "backoff_ms"
 *
 * For the KUnit suite. Return: the value, or -1 for an unknown name.
 */
long module_map_stat(const char *name)
{
	long ms;
	int i;

	for (i = 0; i < MM_NR_COUNTS; i++)
		if (!strcmp(name, mm_count_names[i]))
			return atomic_long_read(&mm_counts[i]);
	if (WARN_ON_ONCE(strcmp(name, "backoff_ms")))
		return -1;
	mutex_lock(&mm_lock);
	ms = mm_backoff_ms();
	mutex_unlock(&mm_lock);
	return ms;
}
#endif

/* Pages of empty chunks, which the release work gives back. */
static unsigned long mm_shrink_count(struct shrinker *shrink,
				     struct shrink_control *sc)
{
	unsigned long pages = 0;
	struct mm_chunk *c;
	int i;

	if (!mutex_trylock(&mm_lock))
		return 0;
	for (i = 0; i < MM_NR_CLASSES; i++)
		list_for_each_entry(c, &mm_state[i].chunks, node)
			if (!c->used)
				pages += MM_PIECES;
	mutex_unlock(&mm_lock);
	return pages;
}

/*
 * Release the empty chunks now, from the work item: a release changes
 * permissions through CPA, which may allocate and takes vmalloc's locks,
 * none of which reclaim may wait for.
 */
static unsigned long mm_shrink_scan(struct shrinker *shrink,
				    struct shrink_control *sc)
{
	mod_delayed_work(system_wq, &mm_release_work, 0);
	return SHRINK_STOP;
}

/**
 * module_map_alloc - module memory from a 2M chunk of its class
 * @type: execmem type, one per module memory class
 * @size: bytes
 *
 * The piece is writable and not executable until the loader sets its final
 * permission. A piece over 2M gets a chunk of its own. Types that are not
 * module memory are left to execmem's vmalloc path.
 *
 * Return: the piece, or %NULL for execmem to fall back to 4K pages.
 */
void *module_map_alloc(enum execmem_type type, size_t size)
{
	unsigned int pages = PAGE_ALIGN(size) >> PAGE_SHIFT;
	int cls = mm_class_of(type);
	unsigned long addr;

	if (!mm_enabled || cls < 0)
		return NULL;
	/* The length of a piece is kept in a u16: 256M with 4K pages. */
	if (!pages || pages > U16_MAX)
		goto fallback;

	mutex_lock(&mm_lock);
	addr = mm_reserve(cls, pages);
	mutex_unlock(&mm_lock);
	if (!addr)
		goto fallback;

	kasan_unpoison_vmalloc((void *)addr, size, mm_info[cls].text ?
			       KASAN_VMALLOC_VM_ALLOC :
			       KASAN_VMALLOC_VM_ALLOC | KASAN_VMALLOC_PROT_NORMAL);
	kmemleak_alloc((void *)addr, size, 1, GFP_KERNEL);
	if (mm_info[cls].writable && mm_info[cls].writable(addr, pages)) {
		/* Nothing was written: nothing to refill or clear. */
		mm_put((void *)addr, false);
		goto fallback;
	}
	atomic_long_inc(&mm_state[cls].allocs);
	return (void *)addr;

fallback:
	atomic_long_inc(&mm_state[cls].fallbacks);
	return NULL;
}

/**
 * module_map_free - give a piece back to its chunk
 * @ptr: a piece from module_map_alloc(), or any other pointer
 *
 * Context: process context; text_mutex may be held (ITS frees its thunk
 * pages under it): the free path does not take it.
 * Return: false if @ptr is not in a chunk, for execmem to vfree() it.
 */
bool module_map_free(void *ptr)
{
	if (!module_map_owns((unsigned long)ptr))
		return false;
	mm_put(ptr, true);
	return true;
}

static int mm_stats_show(struct seq_file *m, void *v)
{
	struct mm_chunk *c;
	int i;

	seq_printf(m, "enabled %d\n", mm_enabled);
	for (i = 0; i < MM_NR_COUNTS; i++)
		seq_printf(m, "%s %ld\n", mm_count_names[i],
			   atomic_long_read(&mm_counts[i]));
	mutex_lock(&mm_lock);
	seq_printf(m, "backoff_ms %u\n", mm_backoff_ms());
	seq_printf(m, "collapses_pending %u\n",
		   bitmap_weight(mm_collapse_slots, MM_SLOTS));
	seq_puts(m, "class chunks used_bytes free_bytes mapped_2m_bytes allocs fallbacks splits collapses\n");
	for (i = 0; i < MM_NR_CLASSES; i++) {
		struct mm_class_state *st = &mm_state[i];
		unsigned long chunks = 0, used = 0, mapped = 0, pos;

		/* In 2M pages: a piece over 2M has a chunk of several. */
		list_for_each_entry(c, &st->chunks, node) {
			chunks += c->pmds;
			used += c->used * PAGE_SIZE;
			for (pos = c->base; pos < c->base + mm_chunk_size(c);
			     pos += PMD_SIZE)
				if (mm_pmd_mapped(pos))
					mapped += PMD_SIZE;
		}
		seq_printf(m, "%s %lu %lu %lu %lu %ld %ld %ld %ld\n",
			   mm_info[i].name, chunks, used,
			   chunks * PMD_SIZE - used, mapped,
			   atomic_long_read(&st->allocs),
			   atomic_long_read(&st->fallbacks),
			   atomic_long_read(&st->splits),
			   atomic_long_read(&st->collapses));
	}
	mutex_unlock(&mm_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mm_stats);

static int __init module_map_late_init(void)
{
	struct dentry *dir = debugfs_create_dir("module_map", NULL);
	struct shrinker *shrinker;

	debugfs_create_file("stats", 0444, dir, NULL, &mm_stats_fops);
	if (!mm_enabled)
		return 0;
	shrinker = shrinker_alloc(0, "module_map");
	if (!shrinker) {
		/* Empty chunks still go after MM_RELEASE_DELAY. */
		pr_warn("no shrinker: empty chunks kept until their delay\n");
		return 0;
	}
	shrinker->count_objects = mm_shrink_count;
	shrinker->scan_objects = mm_shrink_scan;
	shrinker_register(shrinker);
	return 0;
}
late_initcall(module_map_late_init);

static int __init module_map_param(char *arg)
{
	return kstrtobool(arg, &mm_param_on);
}
early_param("module_map", module_map_param);

/*
 * Why the backend cannot be used here, or NULL. Large pages need PSE (not
 * on Xen PV); uniform chunks need every permission change that strict RWX
 * makes; without KASAN_VMALLOC, KASAN's module shadow is allocated per
 * execmem allocation, and DEBUG_PAGEALLOC maps the direct map page by page.
 */
static const char * __init mm_unusable(void)
{
	if (!mm_param_on)
		return "module_map=off";
	if (!vmalloc_contig_enabled())
		return "vmalloc_contig=off";
	if (!boot_cpu_has(X86_FEATURE_PSE))
		return "no PSE";
	/* No PMD mappings in vmalloc space: a chunk would be 512 PTEs. */
	if (!vmap_huge_allowed())
		return "nohugevmalloc";
	if (!IS_ENABLED(CONFIG_STRICT_MODULE_RWX) || !rodata_enabled)
		return "no strict module RWX";
	if (IS_ENABLED(CONFIG_KASAN) && !IS_ENABLED(CONFIG_KASAN_VMALLOC))
		return "KASAN without KASAN_VMALLOC";
	if (debug_pagealloc_enabled())
		return "debug_pagealloc";
	return NULL;
}

/**
 * module_map_setup - enable the backend for module memory in [@start, @end)
 * @start: lowest module address (randomised by execmem under KASLR)
 * @end: end of the module area
 *
 * Return: whether execmem should route module memory here.
 */
bool __init module_map_setup(unsigned long start, unsigned long end)
{
	const char *why = mm_unusable();
	int i;

	/* The stats walk the lists whether or not the backend is used. */
	for (i = 0; i < MM_NR_CLASSES; i++)
		INIT_LIST_HEAD(&mm_state[i].chunks);
	if (why) {
		pr_info("module memory in 4K pages: %s\n", why);
		return false;
	}

	mm_start = ALIGN(start, PMD_SIZE);
	/* KASLR at chunk granularity, as execmem does at page granularity. */
	if (kaslr_enabled())
		mm_start += get_random_u32_below(MM_KASLR_SLOTS) * PMD_SIZE;
	mm_end = end;
	if (mm_start + MM_NR_CLASSES * 4 * PMD_SIZE > mm_end) {
		pr_info("module memory in 4K pages: module area too small\n");
		return false;
	}
	/*
	 * A quarter of the module area above mm_start: far above where text
	 * chunks go, and inside the area from the highest KASLR slot too (on
	 * x86-64 the slots span half of it), so that data chunks keep
	 * mm_start's random slot. A 2M multiple, as mm_start is 2M-aligned.
	 */
	mm_data_start = mm_start +
			ALIGN_DOWN((MODULES_END - MODULES_VADDR) / 4, PMD_SIZE);
	if (mm_data_start >= mm_end)
		mm_data_start = mm_start;
	mm_enabled = true;
	pr_info("module memory in 2M chunks from %#lx\n", mm_start);
	return true;
}
