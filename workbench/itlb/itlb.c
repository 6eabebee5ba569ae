// SPDX-License-Identifier: GPL-2.0
/*
 * itlb.c - QEMU TCG plugin: guest kernel instruction-fetch pages.
 *
 * Records, per vCPU, the sequence of 4K pages the guest kernel fetches
 * instructions from while a workload window is open, for the offline iTLB
 * model in workbench/wblib/itlb.py.  The window opens when a translation
 * block starting at the user virtual address @start executes and closes at
 * @stop: the guest marker program (workbench/itlb/mark.c) runs code there.
 *
 *   qemu-system-x86_64 ... -plugin itlb.so,out=FILE,start=0x..,stop=0x..
 *                                            [,counts=FILE2]
 *
 * Kernel fetches are those from vaddr >= 0xffff800000000000.  A TB is linear
 * guest code, so the pages it touches are the run from the page of its first
 * byte to the page of its last byte (usually one, two when it crosses).  They
 * are computed once at translation; each execution appends them, dropping a
 * page equal to the vCPU's previous recorded page: an immediate repeat always
 * hits in an LRU TLB, so the model loses nothing.  The instruction count is
 * per executed TB (a TB left early by an exception still counts whole).
 *
 * Output FILE, written at exit, all fields little-endian u64:
 *
 *   magic "WBITLB01" (8 bytes)
 *   version (1), nr_vcpus, start, stop, starts, stops, truncated
 *   nr_vcpus records of:
 *     insns      kernel instructions executed inside the window
 *     tb_execs   kernel TB executions inside the window
 *     nr_pages   length of the page list that follows
 *     pages[nr_pages]  4K page numbers (vaddr >> 12), no immediate repeats
 *
 * starts/stops count the marker executions seen; truncated is non-zero if a
 * page list could not grow (out of memory) and was cut short.
 *
 * counts=FILE2 (for wb profile --insns) also counts, per kernel translation,
 * its executions inside the window, and writes at exit one text line per
 * translation that ran there: "VADDR INSNS EXECS" (hex, decimal, decimal).
 * A TB translated twice has two lines.  With counts= alone, out= may be left
 * out and no page list is kept.
 *
 * QEMU runs vCPUs in parallel threads (MTTCG), so callbacks for different
 * vCPUs run concurrently: every vCPU owns its buffer and counters and only
 * the window flag is shared.  Debian's QEMU 7.2 ships no qemu-plugin.h; the
 * declarations below are written from the documented plugin API of QEMU 7.2
 * (QEMU_PLUGIN_VERSION 1) and cover only what this plugin calls.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API, version 1 (as in QEMU 7.2), the subset used ---- */

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
#define QEMU_PLUGIN_VERSION 1

typedef uint64_t qemu_plugin_id_t;

typedef struct {
	const char *target_name;
	struct {
		int min;
		int cur;
	} version;
	bool system_emulation;
	union {
		struct {
			int smp_vcpus;
			int max_vcpus;
		} system;
	};
} qemu_info_t;

struct qemu_plugin_tb;
struct qemu_plugin_insn;

enum qemu_plugin_cb_flags {
	QEMU_PLUGIN_CB_NO_REGS,
	QEMU_PLUGIN_CB_R_REGS,
	QEMU_PLUGIN_CB_RW_REGS,
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index,
					    void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
					       struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
					   qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
					  qemu_plugin_vcpu_udata_cb_t cb,
					  enum qemu_plugin_cb_flags flags,
					  void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
				    qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *
qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

/* QEMU refuses a plugin that does not export the API version it targets. */
QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* ---- the plugin ---- */

#define KERNEL_BASE	0xffff800000000000ULL
#define PAGE_SHIFT	12
#define TRACE_MAGIC	"WBITLB01"
#define TRACE_VERSION	1
#define MIN_CAP		(1UL << 16)

/* What a kernel TB contributes each time it executes; made at translation. */
struct tb_pages {
	uint64_t first;		/* first 4K page number */
	uint32_t nr;		/* consecutive pages from @first */
	uint32_t insns;
	uint64_t vaddr;		/* for counts= */
	uint64_t execs;		/* inside the window, for counts= */
	struct tb_pages *next;	/* all translations, for counts= */
};

/* One per vCPU, on its own cache lines: only that vCPU's thread writes it. */
struct vcpu_trace {
	uint64_t *pages;
	uint64_t nr, cap;
	uint64_t last;		/* previous recorded page, 0 = none */
	uint64_t insns;
	uint64_t tb_execs;
	bool truncated;
} __attribute__((aligned(64)));

static struct vcpu_trace *vcpus;
static unsigned int nr_vcpus;
static uint64_t mark_start, mark_stop;
static const char *out_path, *counts_path;
static struct tb_pages *all_tbs;	/* every kernel translation */

/* Shared between vCPU threads: the window flag and the marker counters. */
static int recording;
static uint64_t starts, stops;

static bool trace_grow(struct vcpu_trace *vt)
{
	uint64_t cap = vt->cap ? vt->cap * 2 : MIN_CAP;
	uint64_t *p = realloc(vt->pages, cap * sizeof(*p));

	if (!p)
		return false;
	vt->pages = p;
	vt->cap = cap;
	return true;
}

static void vcpu_kernel_tb_exec(unsigned int cpu, void *udata)
{
	struct tb_pages *tp = udata;
	struct vcpu_trace *vt;
	uint64_t page;

	/* Relaxed: a TB or two of slack at the window edges does not matter. */
	if (!__atomic_load_n(&recording, __ATOMIC_RELAXED) || cpu >= nr_vcpus)
		return;
	vt = &vcpus[cpu];
	vt->insns += tp->insns;
	vt->tb_execs++;
	if (counts_path)
		__atomic_fetch_add(&tp->execs, 1, __ATOMIC_RELAXED);
	if (!out_path)
		return;
	for (page = tp->first; page < tp->first + tp->nr; page++) {
		if (page == vt->last)
			continue;
		if (vt->nr == vt->cap && (vt->truncated || !trace_grow(vt))) {
			vt->truncated = true;
			return;
		}
		vt->pages[vt->nr++] = page;
		vt->last = page;
	}
}

static void vcpu_mark_start(unsigned int cpu, void *udata)
{
	__atomic_fetch_add(&starts, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&recording, 1, __ATOMIC_RELEASE);
}

static void vcpu_mark_stop(unsigned int cpu, void *udata)
{
	__atomic_fetch_add(&stops, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&recording, 0, __ATOMIC_RELEASE);
}

static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
	size_t i, n = qemu_plugin_tb_n_insns(tb);
	uint64_t lo = UINT64_MAX, hi = 0;
	struct tb_pages *tp;

	if (vaddr == mark_start) {
		qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_mark_start,
						     QEMU_PLUGIN_CB_NO_REGS, NULL);
		return;
	}
	if (vaddr == mark_stop) {
		qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_mark_stop,
						     QEMU_PLUGIN_CB_NO_REGS, NULL);
		return;
	}
	if (vaddr < KERNEL_BASE || !n)
		return;

	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint64_t va = qemu_plugin_insn_vaddr(insn);
		uint64_t end = va + qemu_plugin_insn_size(insn) - 1;

		if (va < lo)
			lo = va;
		if (end > hi)
			hi = end;
	}

	/*
	 * Never freed: QEMU keeps calling the exec callback with this pointer
	 * for as long as the TB lives and tells the plugin nothing when it
	 * goes.  16 bytes per kernel translation is small.
	 */
	tp = malloc(sizeof(*tp));
	if (!tp) {
		qemu_plugin_outs("itlb: out of memory at translation\n");
		abort();
	}
	tp->first = lo >> PAGE_SHIFT;
	tp->nr = (hi >> PAGE_SHIFT) - tp->first + 1;
	tp->insns = n;
	tp->vaddr = vaddr;
	tp->execs = 0;
	/* vCPU threads translate concurrently under MTTCG: push atomically. */
	tp->next = __atomic_load_n(&all_tbs, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&all_tbs, &tp->next, tp, true,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
	qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_kernel_tb_exec,
					     QEMU_PLUGIN_CB_NO_REGS, tp);
}

static int put_u64s(FILE *f, const uint64_t *v, size_t n)
{
	return fwrite(v, sizeof(*v), n, f) == n ? 0 : -1;
}

/* counts=: one line per translation that ran inside the window. */
static void write_counts(void)
{
	const struct tb_pages *tp;
	char msg[160];
	uint64_t n = 0;
	int err = 0;
	FILE *f;

	f = fopen(counts_path, "w");
	if (!f) {
		snprintf(msg, sizeof(msg), "itlb: cannot write %s\n",
			 counts_path);
		qemu_plugin_outs(msg);
		return;
	}
	for (tp = all_tbs; tp; tp = tp->next) {
		if (!tp->execs)
			continue;
		if (fprintf(f, "%llx %u %llu\n", (unsigned long long)tp->vaddr,
			    tp->insns, (unsigned long long)tp->execs) < 0)
			err = 1;
		n++;
	}
	err |= fclose(f) != 0;
	snprintf(msg, sizeof(msg), "itlb: %s: %llu translations%s\n",
		 counts_path, (unsigned long long)n, err ? ", WRITE ERROR" : "");
	qemu_plugin_outs(msg);
}

static void plugin_exit(qemu_plugin_id_t id, void *udata)
{
	uint64_t hdr[7], total = 0, truncated = 0;
	char msg[160];
	unsigned int i;
	int err;
	FILE *f;

	/*
	 * Recording stopped at the stop marker long before QEMU exits, and the
	 * vCPUs are halted by now; closing the window again only guards a run
	 * that never reached its stop marker.
	 */
	__atomic_store_n(&recording, 0, __ATOMIC_SEQ_CST);
	if (counts_path)
		write_counts();
	if (!out_path)
		return;
	for (i = 0; i < nr_vcpus; i++)
		truncated |= vcpus[i].truncated;

	f = fopen(out_path, "wb");
	if (!f) {
		snprintf(msg, sizeof(msg), "itlb: cannot write %s\n", out_path);
		qemu_plugin_outs(msg);
		return;
	}
	hdr[0] = TRACE_VERSION;
	hdr[1] = nr_vcpus;
	hdr[2] = mark_start;
	hdr[3] = mark_stop;
	hdr[4] = __atomic_load_n(&starts, __ATOMIC_RELAXED);
	hdr[5] = __atomic_load_n(&stops, __ATOMIC_RELAXED);
	hdr[6] = truncated;
	err = fwrite(TRACE_MAGIC, 8, 1, f) == 1 ? 0 : -1;
	err |= put_u64s(f, hdr, 7);
	for (i = 0; i < nr_vcpus; i++) {
		struct vcpu_trace *vt = &vcpus[i];
		uint64_t rec[3] = { vt->insns, vt->tb_execs, vt->nr };

		err |= put_u64s(f, rec, 3);
		err |= put_u64s(f, vt->pages, vt->nr);
		total += vt->nr;
	}
	err |= fclose(f);
	snprintf(msg, sizeof(msg),
		 "itlb: %s: %u vCPUs, %llu pages, window %llu/%llu%s%s\n",
		 out_path, nr_vcpus, (unsigned long long)total,
		 (unsigned long long)hdr[4], (unsigned long long)hdr[5],
		 truncated ? ", TRUNCATED" : "", err ? ", WRITE ERROR" : "");
	qemu_plugin_outs(msg);
}

static int parse_addr(const char *val, uint64_t *addr)
{
	char *end;

	*addr = strtoull(val, &end, 0);
	return (*val && !*end) ? 0 : -1;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	bool have_start = false, have_stop = false;
	int i;

	/* Version 1 passes "key=value" strings. */
	for (i = 0; i < argc; i++) {
		const char *arg = argv[i];

		if (!strncmp(arg, "out=", 4) && arg[4]) {
			out_path = arg + 4;
		} else if (!strncmp(arg, "counts=", 7) && arg[7]) {
			counts_path = arg + 7;
		} else if (!strncmp(arg, "start=", 6)) {
			if (parse_addr(arg + 6, &mark_start))
				goto bad;
			have_start = true;
		} else if (!strncmp(arg, "stop=", 5)) {
			if (parse_addr(arg + 5, &mark_stop))
				goto bad;
			have_stop = true;
		} else {
			goto bad;
		}
	}
	if ((!out_path && !counts_path) || !have_start || !have_stop || mark_start == mark_stop ||
	    mark_start >= KERNEL_BASE || mark_stop >= KERNEL_BASE) {
		fprintf(stderr, "itlb: need out=FILE and/or counts=FILE, "
			"start=ADDR,stop=ADDR (two distinct user addresses)\n");
		return -1;
	}
	if (!info->system_emulation) {
		fprintf(stderr, "itlb: system emulation only\n");
		return -1;
	}

	nr_vcpus = info->system.max_vcpus > 0 ? info->system.max_vcpus : 1;
	vcpus = aligned_alloc(64, nr_vcpus * sizeof(*vcpus));
	if (!vcpus)
		return -1;
	memset(vcpus, 0, nr_vcpus * sizeof(*vcpus));

	qemu_plugin_register_vcpu_tb_trans_cb(id, vcpu_tb_trans);
	qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
	return 0;
bad:
	fprintf(stderr, "itlb: bad argument '%s'\n", argv[i]);
	return -1;
}
