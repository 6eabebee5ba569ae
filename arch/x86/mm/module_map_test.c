// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the x86 module memory backend and the CPA collapse of its
 * chunks: arch/x86/mm/module_map.c, arch/x86/mm/pat/set_memory.c.
 */

#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/execmem.h>
#include <linux/jiffies.h>
#include <linux/kasan.h>
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/rcupdate.h>
#include <linux/set_memory.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/vmalloc_contig.h>

#include <asm/hardirq.h>
#include <asm/module_map.h>
#include <asm/setup.h>
#include <asm/text-patching.h>

/*
 * Lookups under RCU: a collapse frees the PTE table after a grace period.
 * PG_LEVEL_NONE if nothing maps @p (lookup_address() gives a level then).
 */
static unsigned int mmt_level(const void *p)
{
	unsigned int level = PG_LEVEL_NONE;
	pte_t *pte;

	guard(rcu)();
	pte = lookup_address((unsigned long)p, &level);
	return pte && pte_present(*pte) ? level : PG_LEVEL_NONE;
}

static bool mmt_writable(const void *p)
{
	unsigned int level;
	pte_t *pte;

	guard(rcu)();
	pte = lookup_address((unsigned long)p, &level);
	return pte && (pte_flags(*pte) & _PAGE_RW);
}

static void *mmt_alloc(struct kunit *test, enum execmem_type type,
		       size_t size)
{
	void *p = module_map_alloc(type, size);

	/* The backend is on (mmt_init) and a fresh guest has 2M blocks. */
	KUNIT_ASSERT_NOT_NULL_MSG(test, p, "module_map_alloc(%d, %zu) failed",
				  type, size);
	KUNIT_EXPECT_TRUE(test, module_map_owns((unsigned long)p));
	return p;
}

/*
 * A page of @type in the 2M page of @p, filled with a pattern: while it is
 * used, the chunk is not empty, so neither the release work nor the
 * shrinker can free it under a test that looks at @p after freeing it.
 * First fit puts it next to @p: the suite is built in and runs before any
 * module is loaded, with every earlier piece freed. If it does not, the
 * pin and @p are freed and the case fails.
 */
static u8 *mmt_pin(struct kunit *test, enum execmem_type type, void *p)
{
	u8 *pin = mmt_alloc(test, type, PAGE_SIZE);

	if (((unsigned long)pin ^ (unsigned long)p) & PMD_MASK) {
		module_map_free(pin);
		module_map_free(p);
		KUNIT_FAIL_AND_ABORT(test, "the pin is not in the piece's chunk");
	}
	memset(pin, 0x5a, PAGE_SIZE);
	return pin;
}

/* The pin is untouched by the frees next to it; free it. */
static void mmt_unpin(struct kunit *test, u8 *pin)
{
	KUNIT_EXPECT_NULL(test, memchr_inv(pin, 0x5a, PAGE_SIZE));
	KUNIT_EXPECT_TRUE(test, module_map_free(pin));
}

/* A freed piece is reused, first fit from the chunk's start, in its chunk. */
static void mmt_chunk_reuse(struct kunit *test)
{
	void *a, *b;

	a = mmt_alloc(test, EXECMEM_MODULE_DATA, 3 * PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED((unsigned long)a, PAGE_SIZE));
	KUNIT_EXPECT_TRUE(test, module_map_free(a));
	b = mmt_alloc(test, EXECMEM_MODULE_DATA, 3 * PAGE_SIZE);
	KUNIT_EXPECT_PTR_EQ(test, a, b);
	KUNIT_EXPECT_TRUE(test, module_map_free(b));
	/* Not a piece of ours: execmem will vfree() it. */
	KUNIT_EXPECT_FALSE(test, module_map_free(&a));
}

/* Free text is INT3, a loaded piece is refilled with INT3 when freed. */
static void mmt_text_int3(struct kunit *test)
{
	const size_t size = 3 * PAGE_SIZE;
	u8 *p, *pin;

	p = mmt_alloc(test, EXECMEM_MODULE_TEXT, size);
	pin = mmt_pin(test, EXECMEM_MODULE_TEXT, p);
	KUNIT_EXPECT_TRUE(test, mmt_writable(p));
	KUNIT_EXPECT_NULL(test, memchr_inv(p, INT3_INSN_OPCODE, size));
	memset(p, 0x90, size);
	KUNIT_ASSERT_EQ(test, set_memory_rox((unsigned long)p, size >> PAGE_SHIFT),
			0);
	KUNIT_EXPECT_FALSE(test, mmt_writable(p));
	KUNIT_EXPECT_TRUE(test, module_map_free(p));
	/* The piece is free now, and poisoned under KASAN: look anyway. */
	kasan_disable_current();
	KUNIT_EXPECT_NULL(test, memchr_inv(p, INT3_INSN_OPCODE, size));
	kasan_enable_current();
	KUNIT_EXPECT_FALSE(test, mmt_writable(p));
	mmt_unpin(test, pin);
}

/*
 * A text piece that never got its final permission (a failed load; an ITS
 * thunk page given back) can be freed under text_mutex, as ITS does: the
 * free takes no text_mutex, and the piece is INT3 and ROX afterwards.
 */
static void mmt_text_free_unfinished(struct kunit *test)
{
	const size_t size = 2 * PAGE_SIZE;
	u8 *p, *pin;

	p = mmt_alloc(test, EXECMEM_MODULE_TEXT, size);
	pin = mmt_pin(test, EXECMEM_MODULE_TEXT, p);
	memset(p, 0x90, size);
	mutex_lock(&text_mutex);
	KUNIT_EXPECT_TRUE(test, module_map_free(p));
	mutex_unlock(&text_mutex);
	kasan_disable_current();
	KUNIT_EXPECT_NULL(test, memchr_inv(p, INT3_INSN_OPCODE, size));
	kasan_enable_current();
	KUNIT_EXPECT_FALSE(test, mmt_writable(p));
	mmt_unpin(test, pin);
}

/*
 * Under init_on_free a freed data or rodata piece is zero, as the pages of
 * a vfree() are, whether it was read-only by then or not (a failed load);
 * rodata is read-only and, its pin read-only too, one PMD again after the
 * free. Without init_on_free the free path writes nothing to data.
 */
static void mmt_data_free_wipe(struct kunit *test)
{
	static const struct {
		enum execmem_type type;
		bool ro;
	} cases[] = {
		{ EXECMEM_MODULE_DATA, false },
		{ EXECMEM_MODULE_RODATA, true },
		{ EXECMEM_MODULE_RODATA, false },
	};
	const unsigned int pages = 2;
	const size_t size = pages * PAGE_SIZE;
	bool wipe = want_init_on_free();
	unsigned int i;
	u8 *p, *pin;

	kunit_info(test, "init_on_free %s\n", wipe ? "on" : "off");
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		p = mmt_alloc(test, cases[i].type, size);
		pin = mmt_pin(test, cases[i].type, p);
		memset(p, 0xa5, size);
		if (cases[i].ro)
			KUNIT_EXPECT_EQ(test,
					set_memory_ro((unsigned long)p, pages), 0);
		if (cases[i].type == EXECMEM_MODULE_RODATA)
			KUNIT_EXPECT_EQ(test,
					set_memory_ro((unsigned long)pin, 1), 0);
		KUNIT_EXPECT_TRUE(test, module_map_free(p));
		/* Free and poisoned under KASAN: look anyway. */
		kasan_disable_current();
		KUNIT_EXPECT_NULL_MSG(test, memchr_inv(p, wipe ? 0 : 0xa5, size),
				      "case %u", i);
		kasan_enable_current();
		KUNIT_EXPECT_EQ(test, mmt_writable(p),
				cases[i].type == EXECMEM_MODULE_DATA);
		/* Nothing else in the chunk is writable: p's free let it go 2M. */
		module_map_collapse_now();
		if (cases[i].type == EXECMEM_MODULE_RODATA)
			KUNIT_EXPECT_EQ(test, mmt_level(p), PG_LEVEL_2M);
		mmt_unpin(test, pin);
	}
}

/*
 * A piece made writable splits its chunk; the chunk is collapsed back once
 * every piece has the class permission again, not before.
 */
static void mmt_collapse(struct kunit *test)
{
	u8 *a, *b;

	a = mmt_alloc(test, EXECMEM_MODULE_RODATA, PAGE_SIZE);
	b = mmt_alloc(test, EXECMEM_MODULE_RODATA, 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, mmt_level(a), PG_LEVEL_4K);
	KUNIT_EXPECT_TRUE(test, mmt_writable(a) && mmt_writable(b));

	/* Mixed flags: a read-only, b still writable. */
	KUNIT_ASSERT_EQ(test, set_memory_ro((unsigned long)a, 1), 0);
	KUNIT_EXPECT_EQ(test, mmt_level(a), PG_LEVEL_4K);
	KUNIT_EXPECT_FALSE(test, mmt_writable(a));

	/* Uniform again: one PMD, once the batch of changes is collapsed. */
	KUNIT_ASSERT_EQ(test, set_memory_ro((unsigned long)b, 2), 0);
	module_map_collapse_now();
	KUNIT_EXPECT_EQ(test, mmt_level(a), PG_LEVEL_2M);
	KUNIT_EXPECT_EQ(test, mmt_level(b), PG_LEVEL_2M);

	KUNIT_EXPECT_TRUE(test, module_map_free(a));
	KUNIT_EXPECT_TRUE(test, module_map_free(b));
	module_map_collapse_now();
	KUNIT_EXPECT_EQ(test, mmt_level(a), PG_LEVEL_2M);
}

/*
 * 512 alike PTEs that do not map contiguous memory stay PTEs: point one of
 * them elsewhere, with the same flags, and make the chunk uniform.
 */
static void mmt_no_collapse_noncontig(struct kunit *test)
{
	unsigned int level;
	struct page *other;
	pte_t *pte, old;
	u8 *p;

	p = mmt_alloc(test, EXECMEM_MODULE_RODATA, PAGE_SIZE);
	pte = lookup_address((unsigned long)p, &level);
	KUNIT_ASSERT_EQ(test, level, PG_LEVEL_4K);
	other = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, other);

	old = *pte;
	set_pte(pte, pfn_pte(page_to_pfn(other), pte_pgprot(old)));
	flush_tlb_kernel_range((unsigned long)p, (unsigned long)p + PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, set_memory_ro((unsigned long)p, 1), 0);
	module_map_collapse_now();
	KUNIT_EXPECT_EQ(test, mmt_level(p), PG_LEVEL_4K);

	/*
	 * The right page back: the next change collapses the chunk (a
	 * change, so writable first: a call that changes nothing does not
	 * try).
	 */
	set_pte(pte, pfn_pte(pte_pfn(old), pte_pgprot(*pte)));
	flush_tlb_kernel_range((unsigned long)p, (unsigned long)p + PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, set_memory_ro((unsigned long)p, 1), 0);
	module_map_collapse_now();
	KUNIT_EXPECT_EQ(test, mmt_level(p), PG_LEVEL_4K);
	KUNIT_EXPECT_EQ(test, set_memory_rw((unsigned long)p, 1), 0);
	KUNIT_EXPECT_EQ(test, set_memory_ro((unsigned long)p, 1), 0);
	module_map_collapse_now();
	KUNIT_EXPECT_EQ(test, mmt_level(p), PG_LEVEL_2M);

	__free_page(other);
	KUNIT_EXPECT_TRUE(test, module_map_free(p));
}

/* Permission changes inside a chunk leave the direct-map alias alone. */
static void mmt_alias_untouched(struct kunit *test)
{
	unsigned int before, after;
	u8 *p, *alias;

	p = mmt_alloc(test, EXECMEM_MODULE_RODATA, PAGE_SIZE);
	alias = page_address(vmalloc_to_page(p));
	before = mmt_level(alias);
	/* The alias has the class permission, for the whole chunk. */
	KUNIT_EXPECT_FALSE(test, mmt_writable(alias));
	KUNIT_EXPECT_TRUE(test, mmt_writable(p));
	KUNIT_ASSERT_EQ(test, set_memory_ro((unsigned long)p, 1), 0);
	after = mmt_level(alias);
	KUNIT_EXPECT_EQ(test, before, after);
	KUNIT_EXPECT_NE(test, after, PG_LEVEL_4K);
	KUNIT_EXPECT_TRUE(test, module_map_free(p));
}

/*
 * A range split on purpose by set_memory_4k() is never collapsed, whether
 * set_memory_4k() split a PMD (a data piece filling its own chunk, a PMD)
 * or found the range in 4K pages already (rodata: its chunk is split while
 * the piece is writable). The mark is in the PTEs asked for, so it cannot
 * be lost with a table.
 */
static void mmt_no_collapse_4k(struct kunit *test)
{
	u8 *p;

	p = mmt_alloc(test, EXECMEM_MODULE_RODATA, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, mmt_level(p), PG_LEVEL_4K);
	KUNIT_ASSERT_EQ(test, set_memory_4k((unsigned long)p, 1), 0);
	/* A change that leaves the chunk uniform would collapse it. */
	KUNIT_ASSERT_EQ(test, set_memory_ro((unsigned long)p, 1), 0);
	module_map_collapse_now();
	KUNIT_EXPECT_EQ(test, mmt_level(p), PG_LEVEL_4K);
	KUNIT_EXPECT_TRUE(test, module_map_free(p));

	/* A whole chunk of the test's own: nothing else is in it. */
	p = mmt_alloc(test, EXECMEM_MODULE_INIT_DATA, PMD_SIZE);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED((unsigned long)p, PMD_SIZE));
	KUNIT_EXPECT_EQ(test, mmt_level(p), PG_LEVEL_2M);
	KUNIT_ASSERT_EQ(test, set_memory_4k((unsigned long)p, 1), 0);
	KUNIT_EXPECT_EQ(test, mmt_level(p), PG_LEVEL_4K);
	KUNIT_ASSERT_EQ(test, set_memory_ro((unsigned long)p, PTRS_PER_PMD), 0);
	module_map_collapse_now();
	KUNIT_EXPECT_EQ(test, mmt_level(p), PG_LEVEL_4K);
	KUNIT_ASSERT_EQ(test, set_memory_rw((unsigned long)p, PTRS_PER_PMD), 0);
	KUNIT_EXPECT_TRUE(test, module_map_free(p));
}

/*
 * An empty chunk stays for the next load, then goes back to the page
 * allocator: no chunk is kept for good.
 */
static void mmt_release_delayed(struct kunit *test)
{
	unsigned int level;
	u8 *p, *alias;

	p = mmt_alloc(test, EXECMEM_MODULE_INIT_RODATA, PAGE_SIZE);
	alias = page_address(vmalloc_to_page(p));
	level = mmt_level(alias);
	KUNIT_EXPECT_TRUE(test, module_map_free(p));
	KUNIT_EXPECT_TRUE(test, module_map_owns((unsigned long)p));
	/*
	 * Released with its collapse still pending: the chunk must go back
	 * by 2M pages, its direct-map alias not split.
	 */
	module_map_release_empty();
	KUNIT_EXPECT_FALSE(test, module_map_owns((unsigned long)p));
	if (level != PG_LEVEL_4K)
		KUNIT_EXPECT_NE_MSG(test, mmt_level(alias), PG_LEVEL_4K,
				    "alias of a released chunk split to 4K");
}

/* ROX for @pages from @p: every 2M page of the range is a PMD again. */
static void mmt_rox_collapsed(struct kunit *test, u8 *p, unsigned int pages)
{
	unsigned long pos, end = (unsigned long)p + pages * PAGE_SIZE;

	KUNIT_ASSERT_EQ(test, set_memory_rox((unsigned long)p, pages), 0);
	module_map_collapse_now();
	for (pos = (unsigned long)p; pos < end; pos += PMD_SIZE)
		if (mmt_level((void *)pos) != PG_LEVEL_2M)
			KUNIT_FAIL(test, "2M page %lu of the range not collapsed to a PMD",
				   (pos - (unsigned long)p) / PMD_SIZE);
}

/*
 * A piece over 2M gets a chunk of its own: both of its 2M pages collapse
 * to PMDs, the rest of the chunk is free text, nothing else is placed
 * there, and freeing the piece returns the whole chunk.
 */
static u8 *mmt_oversize_check(struct kunit *test)
{
	const size_t size = PMD_SIZE + 3 * PAGE_SIZE;
	u8 *p, *q, *end;

	/* The backend is on: a piece over 2M must not be left to execmem. */
	q = mmt_alloc(test, EXECMEM_MODULE_TEXT, PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, module_map_free(q));
	p = module_map_alloc(EXECMEM_MODULE_TEXT, size);
	KUNIT_ASSERT_NOT_NULL(test, p);
	end = p + ALIGN(size, PMD_SIZE);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED((unsigned long)p, PMD_SIZE));
	KUNIT_EXPECT_TRUE(test, module_map_owns((unsigned long)end - 1));
	KUNIT_EXPECT_TRUE(test, mmt_writable(p) && mmt_writable(p + size - 1));
	memset(p, 0x90, size);
	mmt_rox_collapsed(test, p, size >> PAGE_SHIFT);
	KUNIT_EXPECT_FALSE(test, mmt_writable(p + size - 1));
	kasan_disable_current();
	KUNIT_EXPECT_NULL(test, memchr_inv(p + size, INT3_INSN_OPCODE,
					   end - (p + size)));
	kasan_enable_current();

	q = module_map_alloc(EXECMEM_MODULE_TEXT, PAGE_SIZE);
	if (q) {
		KUNIT_EXPECT_TRUE(test, q < p || q >= end);
		KUNIT_EXPECT_TRUE(test, module_map_free(q));
	}
	return p;
}

static void mmt_oversize_free(struct kunit *test, u8 *p)
{
	u8 *end = p + 2 * PMD_SIZE;

	KUNIT_EXPECT_TRUE(test, module_map_free(p));
	KUNIT_EXPECT_FALSE(test, module_map_owns((unsigned long)p));
	KUNIT_EXPECT_FALSE(test, module_map_owns((unsigned long)end - 1));
}

static void mmt_oversize(struct kunit *test)
{
	mmt_oversize_free(test, mmt_oversize_check(test));
}

/*
 * Under KASLR the first piece of a class's first chunk starts at one of its
 * first MODULE_MAP_KASLR_PAGES pages, at random; without, at the chunk's
 * start. 32 draws of 64 give fewer than 8 distinct pages with a probability
 * under 1e-20.
 */
static void mmt_kaslr_range(struct kunit *test)
{
	DECLARE_BITMAP(seen, MODULE_MAP_KASLR_PAGES) = {};
	unsigned long off;
	unsigned int i;
	long created;
	u8 *p;

	for (i = 0; i < 32; i++) {
		/* No chunk of the class is left: the next is its first. */
		module_map_release_empty();
		created = module_map_stat("chunks_created");
		p = mmt_alloc(test, EXECMEM_MODULE_INIT_RODATA, PAGE_SIZE);
		KUNIT_EXPECT_TRUE(test, module_map_free(p));
		KUNIT_ASSERT_EQ_MSG(test, module_map_stat("chunks_created"),
				    created + 1, "piece not in a new chunk");
		off = ((unsigned long)p & ~PMD_MASK) >> PAGE_SHIFT;
		if (!kaslr_enabled()) {
			KUNIT_EXPECT_EQ(test, off, 0);
			continue;
		}
		KUNIT_EXPECT_LT(test, off, MODULE_MAP_KASLR_PAGES);
		if (off < MODULE_MAP_KASLR_PAGES)
			__set_bit(off, seen);
	}
	module_map_release_empty();
	if (kaslr_enabled())
		KUNIT_EXPECT_GE_MSG(test,
				    bitmap_weight(seen, MODULE_MAP_KASLR_PAGES),
				    8, "first pieces not randomised");
}

/*
 * Every free range of @size or more in [@start, MODULES_END) reserved, no
 * guard pages between: no 2M-aligned 2M is left there. Address space only,
 * no memory; the last reservation that fails logs vmalloc's "Address range
 * restricted" warning. Returns the areas, their number in @n.
 */
static struct vm_struct **mmt_reserve(struct kunit *test, unsigned long start,
				      unsigned long size, unsigned long *n)
{
	unsigned long nr_areas = (MODULES_END - start) / size + 1;
	struct vm_struct **areas;

	areas = kunit_kcalloc(test, nr_areas, sizeof(*areas), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, areas);
	for (*n = 0; *n < nr_areas; (*n)++) {
		areas[*n] = __get_vm_area_caller(size, VM_NO_GUARD, start,
						 MODULES_END,
						 __builtin_return_address(0));
		if (!areas[*n])
			break;
	}
	return areas;
}

static void mmt_unreserve(struct vm_struct **areas, unsigned long n)
{
	while (n)
		free_vm_area(areas[--n]);
}

/*
 * With no 2M of the module area left, a class tries a chunk once, then
 * none until its backoff is over: pieces go to execmem's 4K path without
 * an attempt (a vmap area search and a lazy purge) each. A data class's
 * try is two searches, from the data start and from the start of the area.
 */
static void mmt_full_area(struct kunit *test)
{
	const unsigned long size = PMD_SIZE - PAGE_SIZE;
	unsigned long n, elapsed, start;
	long failures, backoffs, created;
	struct vm_struct **areas;
	unsigned int i, tries = 64;
	void *p;

	/* Reserving address space populates its shadow: 1/8 of the area. */
	if (IS_ENABLED(CONFIG_KASAN_VMALLOC))
		kunit_skip(test, "CONFIG_KASAN_VMALLOC: a full module area costs its shadow");
	module_map_release_empty();
	for (i = 0; i < 50 && module_map_stat("backoff_ms") > 0; i++)
		msleep(MODULE_MAP_BACKOFF_MS / 4);
	KUNIT_ASSERT_EQ(test, module_map_stat("backoff_ms"), 0);
	areas = mmt_reserve(test, MODULES_VADDR, size, &n);

	created = module_map_stat("chunks_created");
	failures = module_map_stat("chunk_failures");
	backoffs = module_map_stat("chunk_backoffs");
	start = jiffies;
	for (i = 0; i < tries; i++) {
		p = module_map_alloc(EXECMEM_MODULE_DATA, PAGE_SIZE);
		KUNIT_EXPECT_NULL(test, p);
		if (p)
			module_map_free(p);
	}
	elapsed = jiffies - start;
	created = module_map_stat("chunks_created") - created;
	failures = module_map_stat("chunk_failures") - failures;
	backoffs = module_map_stat("chunk_backoffs") - backoffs;
	mmt_unreserve(areas, n);

	KUNIT_EXPECT_EQ(test, created, 0);
	/* One try, and one more per backoff period that went by. */
	KUNIT_EXPECT_GE(test, failures, 1);
	KUNIT_EXPECT_LE(test, failures,
			1 + elapsed / msecs_to_jiffies(MODULE_MAP_BACKOFF_MS));
	KUNIT_EXPECT_EQ(test, failures + backoffs, tries);
	kunit_info(test, "%u pieces: %ld chunk tries, %ld backed off, in %u ms\n",
		   tries, failures, backoffs, jiffies_to_msecs(elapsed));
	/* Leave the backend as found: no class backing off. */
	msleep(MODULE_MAP_BACKOFF_MS + 20);
}

/*
 * Text chunks come first-fit from the start of the area, chunks of the data
 * classes from the data start first, a quarter of the area higher; with
 * every 2M from the data start up taken, a data chunk is still made, below
 * it. Runs after mmt_full_area: its lazily freed areas go first.
 */
static void mmt_data_above_text(struct kunit *test)
{
	const unsigned long size = PMD_SIZE - PAGE_SIZE;
	unsigned long data_start = module_map_data_start();
	unsigned long n;
	long created, failures;
	struct vm_struct **areas;
	u8 *text, *data, *ro;
	unsigned int i;

	module_map_release_empty();
	vm_unmap_aliases();
	for (i = 0; i < 50 && module_map_stat("backoff_ms") > 0; i++)
		msleep(MODULE_MAP_BACKOFF_MS / 4);
	KUNIT_ASSERT_EQ(test, module_map_stat("backoff_ms"), 0);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED(data_start, PMD_SIZE));
	KUNIT_EXPECT_GE(test, data_start,
			MODULES_VADDR + (MODULES_END - MODULES_VADDR) / 4);
	KUNIT_EXPECT_LT(test, data_start, MODULES_END);

	text = mmt_alloc(test, EXECMEM_MODULE_TEXT, PAGE_SIZE);
	data = mmt_alloc(test, EXECMEM_MODULE_DATA, PAGE_SIZE);
	ro = mmt_alloc(test, EXECMEM_MODULE_RODATA, PAGE_SIZE);
	KUNIT_EXPECT_LT(test, (unsigned long)text, data_start);
	KUNIT_EXPECT_GE(test, (unsigned long)data, data_start);
	KUNIT_EXPECT_GE(test, (unsigned long)ro, data_start);
	KUNIT_EXPECT_TRUE(test, module_map_free(ro));
	KUNIT_EXPECT_TRUE(test, module_map_free(data));
	KUNIT_EXPECT_TRUE(test, module_map_free(text));
	module_map_release_empty();

	/* Reserving address space populates its shadow. */
	if (IS_ENABLED(CONFIG_KASAN_VMALLOC))
		kunit_skip(test, "CONFIG_KASAN_VMALLOC: the fallback half costs its shadow");
	areas = mmt_reserve(test, data_start, size, &n);
	created = module_map_stat("chunks_created");
	failures = module_map_stat("chunk_failures");
	data = module_map_alloc(EXECMEM_MODULE_DATA, PAGE_SIZE);
	created = module_map_stat("chunks_created") - created;
	failures = module_map_stat("chunk_failures") - failures;
	mmt_unreserve(areas, n);

	KUNIT_ASSERT_NOT_NULL(test, data);
	KUNIT_EXPECT_LT(test, (unsigned long)data, data_start);
	KUNIT_EXPECT_EQ(test, created, 1);
	KUNIT_EXPECT_EQ(test, failures, 0);
	KUNIT_EXPECT_TRUE(test, module_map_free(data));
	module_map_release_empty();
}

static void mmt_read_byte(void *p)
{
	READ_ONCE(*(u8 *)p);
}

static void mmt_write_byte(void *p)
{
	WRITE_ONCE(*(u8 *)p, 0xa5);
}

/*
 * A write from another CPU after rodata's lazy grant (set_memory_rw_lazy(),
 * no flush of that CPU's TLB, where a read cached the read-only entry)
 * succeeds. Whether it took a spurious fault on the way, this cannot tell:
 * some CPUs walk the page tables again instead, and QEMU TCG refills its
 * TLB on a permission miss.
 */
static void mmt_rodata_grant_remote_write(struct kunit *test)
{
	int other, read, write;
	u8 *p, *pin;

	if (num_online_cpus() < 2)
		kunit_skip(test, "one CPU online");
	p = mmt_alloc(test, EXECMEM_MODULE_RODATA, PAGE_SIZE);
	pin = mmt_pin(test, EXECMEM_MODULE_RODATA, p);
	KUNIT_EXPECT_EQ(test, set_memory_ro((unsigned long)p, 1), 0);

	migrate_disable();
	other = cpumask_any_but(cpu_online_mask, smp_processor_id());
	read = smp_call_function_single(other, mmt_read_byte, p, 1);
	if (!read)
		read = set_memory_rw_lazy((unsigned long)p, 1);
	write = read ? 0 : smp_call_function_single(other, mmt_write_byte,
						     p, 1);
	migrate_enable();

	KUNIT_EXPECT_EQ(test, read, 0);
	KUNIT_EXPECT_EQ(test, write, 0);
	KUNIT_EXPECT_EQ(test, READ_ONCE(*p), 0xa5);
	mmt_unpin(test, pin);
	KUNIT_EXPECT_TRUE(test, module_map_free(p));
	module_map_release_empty();
}

#ifdef CONFIG_SMP
/*
 * Function-call IPIs taken so far by every CPU: a CPU's on_each_cpu() runs
 * its own part without one, so this counts the flushes of other CPUs, from
 * whichever CPU the caller runs on.
 */
static unsigned long mmt_calls(void)
{
	unsigned long n = 0;
	int cpu;

	for_each_online_cpu(cpu)
		n += READ_ONCE(per_cpu(irq_stat, cpu).irq_call_count);
	return n;
}

#define MMT_GRANTS	16

/*
 * IPIs of MMT_GRANTS allocations of @type, each freed after; a freed piece
 * must have its class permission back, or the next grant changes nothing.
 */
static unsigned long mmt_alloc_ipis(struct kunit *test, enum execmem_type type,
				    bool *freed_ro)
{
	unsigned long ipis = 0, n;
	void *q;
	int i;

	for (i = 0; i < MMT_GRANTS; i++) {
		n = mmt_calls();
		q = mmt_alloc(test, type, PAGE_SIZE);
		ipis += mmt_calls() - n;
		KUNIT_EXPECT_TRUE(test, module_map_free(q));
		*freed_ro &= !mmt_writable(q);
	}
	return ipis;
}

/*
 * Rodata is made writable for loading without a flush of the other CPUs'
 * TLBs (set_memory_rw_lazy()); text, which loses execute permission, with
 * one. Count function-call IPIs over MMT_GRANTS lazy grants against as many
 * set_memory_rw() ones, each after a set_memory_ro(), and over allocations
 * of rodata against text pieces. The pins keep both chunks split (never
 * uniform, so never collapsed): no split, a global flush, is counted. An
 * idle CPU that polls takes no IPI: with too few counted for the full
 * grants, the case cannot tell and skips, before it checks anything.
 */
static void mmt_rodata_grant_local(struct kunit *test)
{
	unsigned long lazy = 0, full = 0, rodata, text, n;
	bool writable = true, freed_ro = true;
	int i, err = 0;
	u8 *p, *pin, *tpin;

	if (num_online_cpus() < 2)
		kunit_skip(test, "one CPU online: no remote flush to count");
	p = mmt_alloc(test, EXECMEM_MODULE_RODATA, PAGE_SIZE);
	pin = mmt_pin(test, EXECMEM_MODULE_RODATA, p);
	tpin = mmt_alloc(test, EXECMEM_MODULE_TEXT, PAGE_SIZE);

	for (i = 0; i < MMT_GRANTS; i++) {
		err |= set_memory_ro((unsigned long)p, 1);
		n = mmt_calls();
		err |= set_memory_rw_lazy((unsigned long)p, 1);
		lazy += mmt_calls() - n;
		writable &= mmt_writable(p);

		err |= set_memory_ro((unsigned long)p, 1);
		n = mmt_calls();
		err |= set_memory_rw((unsigned long)p, 1);
		full += mmt_calls() - n;
	}
	rodata = mmt_alloc_ipis(test, EXECMEM_MODULE_RODATA, &freed_ro);
	text = mmt_alloc_ipis(test, EXECMEM_MODULE_TEXT, &freed_ro);
	KUNIT_EXPECT_TRUE(test, module_map_free(tpin));
	mmt_unpin(test, pin);
	KUNIT_EXPECT_TRUE(test, module_map_free(p));
	module_map_release_empty();

	kunit_info(test, "IPIs over %d: lazy grants %lu, full grants %lu, rodata allocations %lu, text allocations %lu\n",
		   MMT_GRANTS, lazy, full, rodata, text);
	if (test->status == KUNIT_SUCCESS &&
	    (full < MMT_GRANTS || text < MMT_GRANTS))
		kunit_skip(test, "full grants took %lu IPIs, text allocations %lu: idle CPUs poll",
			   full, text);
	KUNIT_EXPECT_EQ(test, err, 0);
	KUNIT_EXPECT_TRUE(test, writable);
	KUNIT_EXPECT_TRUE(test, freed_ro);
	/* Each full grant flushes every other CPU: lazy ones only by chance. */
	KUNIT_EXPECT_LT(test, lazy * 4, full);
	KUNIT_EXPECT_LT(test, rodata * 4, text);
}
#endif

static struct kunit_case module_map_cases[] = {
	KUNIT_CASE(mmt_chunk_reuse),
	KUNIT_CASE(mmt_text_int3),
	KUNIT_CASE(mmt_text_free_unfinished),
	KUNIT_CASE(mmt_data_free_wipe),
	KUNIT_CASE(mmt_collapse),
	KUNIT_CASE(mmt_no_collapse_noncontig),
	KUNIT_CASE(mmt_alias_untouched),
	KUNIT_CASE(mmt_no_collapse_4k),
	KUNIT_CASE(mmt_release_delayed),
	KUNIT_CASE(mmt_oversize),
	KUNIT_CASE(mmt_kaslr_range),
	KUNIT_CASE(mmt_full_area),
	KUNIT_CASE(mmt_data_above_text),
	KUNIT_CASE(mmt_rodata_grant_remote_write),
#ifdef CONFIG_SMP
	KUNIT_CASE(mmt_rodata_grant_local),
#endif
	{}
};

/* Off is a boot choice (or a missing feature, logged): skip, not fail. */
static int mmt_init(struct kunit *test)
{
	if (!module_map_enabled())
		kunit_skip(test, "module_map backend off on this boot");
	return 0;
}

static struct kunit_suite module_map_suite = {
	.name = "x86_module_map",
	.init = mmt_init,
	.test_cases = module_map_cases,
};

kunit_test_suite(module_map_suite);
