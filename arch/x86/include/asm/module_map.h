/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module memory in 2M chunks mapped by PMDs: arch/x86/mm/module_map.c.
 */
#ifndef _ASM_X86_MODULE_MAP_H
#define _ASM_X86_MODULE_MAP_H

#include <linux/execmem.h>
#include <linux/types.h>

/* Under KASLR a new chunk's first piece starts at one of this many pages. */
#define MODULE_MAP_KASLR_PAGES	64
/* After a chunk could not be had, its class tries none for this long. */
#define MODULE_MAP_BACKOFF_MS	100

#ifdef CONFIG_X86_MODULE_MAP

bool module_map_setup(unsigned long start, unsigned long end);
void *module_map_alloc(enum execmem_type type, size_t size);
bool module_map_free(void *ptr);
bool module_map_owns(unsigned long addr);
bool module_map_owns_range(unsigned long addr, unsigned long numpages);
void module_map_count_split(unsigned long addr);
void module_map_collapse_later(unsigned long addr, int numpages);
/* For the KUnit suite (CONFIG_X86_MODULE_MAP_KUNIT_TEST) only. */
void module_map_release_empty(void);
void module_map_collapse_now(void);
bool module_map_enabled(void);
long module_map_stat(const char *name);
unsigned long module_map_data_start(void);

#else

static inline bool module_map_setup(unsigned long start, unsigned long end)
{
	return false;
}

static inline void *module_map_alloc(enum execmem_type type, size_t size)
{
	return NULL;
}

static inline bool module_map_free(void *ptr)
{
	return false;
}

static inline bool module_map_owns(unsigned long addr)
{
	return false;
}

static inline bool module_map_owns_range(unsigned long addr,
					 unsigned long numpages)
{
	return false;
}

static inline void module_map_count_split(unsigned long addr)
{
}

static inline void module_map_collapse_later(unsigned long addr,
					     int numpages)
{
}

#endif /* CONFIG_X86_MODULE_MAP */

#endif /* _ASM_X86_MODULE_MAP_H */
