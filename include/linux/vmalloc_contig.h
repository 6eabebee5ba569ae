/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmalloc_contig: physically contiguous memory first, vmalloc as fallback.
 *
 * See Documentation/mm/vmalloc_contig.rst.
 */
#ifndef _LINUX_VMALLOC_CONTIG_H
#define _LINUX_VMALLOC_CONTIG_H

#include <linux/alloc_tag.h>
#include <linux/gfp.h>
#include <linux/limits.h>
#include <linux/mm.h>
#include <linux/numa.h>
#include <linux/pgtable.h>
#include <linux/slab.h>
#include <linux/types.h>
#include <linux/vmalloc.h>

/**
 * enum vmalloc_contig_kind - what backs an allocation of this API
 * @VMALLOC_CONTIG_NONE: not a live allocation of this API (or %NULL)
 * @VMALLOC_CONTIG_PAGES: physically contiguous pages
 * @VMALLOC_CONTIG_VMALLOC: the vmalloc fallback
 */
enum vmalloc_contig_kind {
	VMALLOC_CONTIG_NONE,
	VMALLOC_CONTIG_PAGES,
	VMALLOC_CONTIG_VMALLOC,
};

#ifdef CONFIG_VMALLOC_CONTIG

void *vmalloc_contig_node_noprof(unsigned long size, gfp_t gfp, int node)
	__alloc_size(1);
void vfree_contig(const void *addr);
enum vmalloc_contig_kind vmalloc_contig_kind(const void *addr);

/* For mm and architecture code: not exported. */
void *vmalloc_contig_range_noprof(unsigned long size, unsigned long align,
				  unsigned long start, unsigned long end,
				  gfp_t gfp, pgprot_t prot,
				  unsigned long vm_flags, int node,
				  const void *caller) __alloc_size(1);
bool vmalloc_contig_enabled(void);

#if IS_ENABLED(CONFIG_KUNIT)
/* Seams for the KUnit suite, replaced with kunit_activate_static_stub(). */
void *vmalloc_contig_alloc_pages(unsigned long size, gfp_t gfp, int node);
void vmalloc_contig_bad_free(const void *addr);
void vmalloc_contig_bad_gfp(gfp_t gfp);
#endif

#else /* !CONFIG_VMALLOC_CONTIG: kvmalloc, with this API's refusals */

static inline void *vmalloc_contig_node_noprof(unsigned long size, gfp_t gfp,
					       int node)
{
	if (!size || size > INT_MAX || (gfp & __GFP_COMP))
		return NULL;
	return kvmalloc_node_noprof(size, gfp, node);
}

static inline void *vmalloc_contig_range_noprof(unsigned long size,
						unsigned long align,
						unsigned long start,
						unsigned long end, gfp_t gfp,
						pgprot_t prot,
						unsigned long vm_flags,
						int node, const void *caller)
{
	if (!size || size > INT_MAX || !gfpflags_allow_blocking(gfp) ||
	    (gfp & __GFP_COMP))
		return NULL;
	return __vmalloc_node_range_noprof(size, align, start, end, gfp, prot,
					   vm_flags, node, caller);
}

static inline void vfree_contig(const void *addr)
{
	kvfree(addr);
}

/* No foreign pointers can be told apart without the API. */
static inline enum vmalloc_contig_kind vmalloc_contig_kind(const void *addr)
{
	if (!addr)
		return VMALLOC_CONTIG_NONE;
	return is_vmalloc_addr(addr) ? VMALLOC_CONTIG_VMALLOC :
				       VMALLOC_CONTIG_PAGES;
}

static inline bool vmalloc_contig_enabled(void)
{
	return false;
}

#endif /* CONFIG_VMALLOC_CONTIG */

#define vmalloc_contig_node(...)					\
	alloc_hooks(vmalloc_contig_node_noprof(__VA_ARGS__))
#define vmalloc_contig_range(...)					\
	alloc_hooks(vmalloc_contig_range_noprof(__VA_ARGS__))
/**
 * vmalloc_contig - allocate memory, physically contiguous if possible
 * @_size: bytes to allocate
 * @_gfp: GFP flags, see vmalloc_contig_node()
 *
 * Return: the allocation, to be freed with vfree_contig(), or %NULL.
 */
#define vmalloc_contig(_size, _gfp)					\
	vmalloc_contig_node(_size, _gfp, NUMA_NO_NODE)

#endif /* _LINUX_VMALLOC_CONTIG_H */
