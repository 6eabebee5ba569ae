# SPDX-License-Identifier: GPL-2.0
"""The demo report: how module memory is mapped, as a table and as JSON."""

import json
import math
import re

from . import results
from .common import WbError

MIB = 1 << 20
PMD = 2 * MIB


def demo_report(files, kernel, accel, mode):
    """report.json content from the files a demo guest sent back."""
    need = ("ptdump-modules-after", "meminfo-before", "meminfo-after",
            "modules")
    missing = [n for n in need if n not in files]
    if missing:
        raise WbError(f"demo guest did not send {', '.join(missing)}")
    classes, wx = results.mapping_classes(files["ptdump-modules-after"])
    before = results.meminfo(files["meminfo-before"])
    after = results.meminfo(files["meminfo-after"])
    if "DirectMap4k" not in before or "DirectMap4k" not in after:
        raise WbError("meminfo has no DirectMap4k")
    loaded = len([ln for ln in files["modules"].splitlines() if ln.strip()])
    rep = {"kernel": kernel, "accel": accel, "mode": mode,
           "modules_loaded": loaded, "classes": classes,
           "directmap_4k_kb": {"before": before["DirectMap4k"],
                               "after": after["DirectMap4k"]}}
    if wx:
        rep["wx_bytes"] = wx
    if not results.missing(files.get("module_map-stats")):
        rep["module_map"] = module_map_classes(files["module_map-stats"])
        vmstat = results.counters(files.get("vmstat", ""))
        for key in ("module_map_level2_splits", "module_map_level2_collapses"):
            rep["module_map"][key] = vmstat.get(key, 0)
    em = results.execmem_caches(files.get("execmem-caches"))
    if em:
        rep["execmem"] = {"loaded": em, "unloaded": results.execmem_caches(
            files.get("execmem-caches-unloaded"))}
    if not results.missing(files.get("vmalloc_contig-stats")):
        st = results.counters(files["vmalloc_contig-stats"])
        rep["vmalloc_contig"] = {k: st.get(k, 0) for k in (
            "contig_allocs", "mapped_allocs", "vmalloc_allocs", "fallbacks",
            "bad_frees")}
    rep.update(costs(files, classes))
    return rep


def module_area_start(ptdump):
    """The first address of the module area in a ptdump between its
    markers, or None."""
    m = re.search(r"^0x([0-9a-f]+)-0x[0-9a-f]+", ptdump, re.M)
    return int(m.group(1), 16) if m else None


def vmalloc_kb(vmallocinfo, start):
    """KiB of pages in the vmalloc areas at or above @start (the module
    area: module memory, chunks and their 4K fallbacks), by vmalloc's own
    /proc/vmallocinfo."""
    pages = 0
    for ln in vmallocinfo.splitlines():
        m = re.match(r"0x([0-9a-f]+)-0x[0-9a-f]+\s.*\bpages=(\d+)", ln)
        if m and int(m.group(1), 16) >= start:
            pages += int(m.group(2))
    return pages * 4


def pte_tables_kb(ptdump):
    """KiB of PTE tables under the module area: one 4K table per 2M window
    that holds a 4K mapping (present or not, as the dump lists them)."""
    windows = set()
    for ln in ptdump.splitlines():
        m = re.match(r"0x([0-9a-f]+)-0x([0-9a-f]+)\s.*\bpte\s*$", ln)
        if m:
            lo, hi = int(m.group(1), 16), int(m.group(2), 16)
            windows.update(range(lo // PMD, (hi - 1) // PMD + 1))
    return len(windows) * 4


def costs(files, classes):
    """{"memory_kb": {loaded, unloaded, limit}, "tlb_flushes": {global,
    ipis}} of a demo boot, for the keys whose files it sent: memory from
    vmalloc's areas and the page tables in the dump, the limit from the
    mapped bytes per class, flushes from the function profiler and IPIs
    from /proc/interrupts (CAL and TLB lines)."""
    out = {}
    dump = files.get("ptdump-modules-after", "")
    start = module_area_start(dump)
    if start is not None and all(f"vmallocinfo-{w}" in files for w in (
            "before", "loaded", "unloaded")):
        # Bytes used per class: the allocator's own count where it serves
        # module memory (the backend's, execmem's caches'); else the
        # 4K-mapped bytes, which are what is used.
        mm = module_map_classes(files.get("module_map-stats", ""))
        em = results.execmem_caches(files.get("execmem-caches"))
        if mm.get("enabled"):
            used = [c["used_bytes"] for c in mm.values()
                    if isinstance(c, dict)]
        elif em:
            used = [c["busy_kb"] << 10 for c in em.values()]
        else:
            used = [c["bytes"] for c in classes.values()]
        limit = sum(math.ceil(u / PMD) * PMD for u in used)

        def held(when, ptdump):
            # Over what the module area held before the set was loaded
            # (ftrace trampolines, kprobe slots, their page tables).
            return vmalloc_kb(files[f"vmallocinfo-{when}"], start) + \
                pte_tables_kb(ptdump) - base
        base = 0
        base = held("before", files.get("ptdump-modules-before", ""))
        out["memory_kb"] = {
            "loaded": held("loaded", dump),
            "unloaded": held("unloaded",
                             files.get("ptdump-modules-unloaded", "")),
            "limit": limit >> 10}
    flushes = results.counters(files.get("flushes", ""))
    before = results.interrupts(files.get("interrupts-before-modset", ""))
    loaded = results.interrupts(files.get("interrupts-loaded", ""))
    if "flush_tlb_all" in flushes and before and loaded:
        out["tlb_flushes"] = {
            "global": flushes["flush_tlb_all"],
            "ipis": sum(loaded.get(k, 0) - before.get(k, 0)
                        for k in ("CAL", "TLB"))}
    return out


def costs_lines(rep, label=""):
    """The table's lines for memory_kb and tlb_flushes."""
    lines = []
    mem, fl = rep.get("memory_kb"), rep.get("tlb_flushes")
    if mem:
        lines.append(f"{label}module memory held (vmalloc areas and PTE "
                     f"tables of the module area, over the boot's): "
                     f"{mem['loaded']} KiB "
                     f"loaded (limit {mem['limit']} KiB), "
                     f"{mem['unloaded']} KiB unloaded")
    if fl:
        lines.append(f"{label}global TLB flushes loading the set: "
                     f"{fl['global']} flush_tlb_all(), {fl['ipis']} IPIs "
                     f"(CAL + TLB)")
    return lines


def module_map_classes(text):
    """{class: {chunks, used_bytes, ...}} of debugfs module_map/stats."""
    out, header = {}, None
    for ln in text.splitlines():
        parts = ln.split()
        if parts and parts[0] == "class":
            header = parts[1:]
        elif header and len(parts) == len(header) + 1:
            out[parts[0]] = dict(zip(header, map(int, parts[1:])))
        elif len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def table(rep):
    lines = [f"module memory of {rep['modules_loaded']} modules, kernel "
             f"{rep['kernel']}, mode {rep['mode']}, accel {rep['accel']}",
             "",
             f"{'class':<8}{'bytes':>12}{'KiB':>9}{'4K entries':>12}"
             f"{'2M entries':>12}{'% in 2M':>9}{'limit':>7}"]
    for name in results.CLASSES:
        c = rep["classes"][name]
        pct = 100.0 * c["bytes_2m"] / c["bytes"] if c["bytes"] else 0.0
        limit = math.ceil(c["bytes"] / PMD)
        lines.append(f"{name:<8}{c['bytes']:>12}{c['bytes'] >> 10:>9}"
                     f"{c['entries_4k']:>12}{c['entries_2m']:>12}"
                     f"{pct:>8.1f}%{limit:>7}")
    dm = rep["directmap_4k_kb"]
    lines += ["",
              "limit = ceil(bytes / 2 MiB): the fewest leaf entries possible",
              f"DirectMap4k: {dm['before']} kB before loading, {dm['after']} "
              f"kB after ({dm['after'] - dm['before']:+d} kB)"]
    vc = rep.get("vmalloc_contig")
    if vc:
        lines.append(f"vmalloc_contig: {vc['contig_allocs']} contiguous, "
                     f"{vc['mapped_allocs']} mapped, {vc['vmalloc_allocs']} "
                     f"vmalloc allocations ({vc['fallbacks']} fallbacks)")
    mm = rep.get("module_map")
    if mm and mm.get("enabled"):
        lines += ["", "module_map chunks (/proc/vmstat: "
                  f"{mm['module_map_level2_splits']} splits, "
                  f"{mm['module_map_level2_collapses']} collapses):",
                  f"{'class':<15}{'chunks':>7}{'used KiB':>10}{'free KiB':>10}"
                  f"{'2M KiB':>9}{'fallbacks':>10}{'splits':>8}"
                  f"{'collapses':>10}"]
        for name, c in mm.items():
            if isinstance(c, dict):
                lines.append(f"{name:<15}{c['chunks']:>7}"
                             f"{c['used_bytes'] >> 10:>10}"
                             f"{c['free_bytes'] >> 10:>10}"
                             f"{c['mapped_2m_bytes'] >> 10:>9}"
                             f"{c['fallbacks']:>10}{c.get('splits', 0):>8}"
                             f"{c.get('collapses', 0):>10}")
    em = rep.get("execmem")
    if em:
        lines += ["", "execmem caches (debugfs execmem/caches; rox: module "
                  "text, ftrace, kprobes, BPF):",
                  f"{'cache':<7}{'areas':>6}{'area KiB':>10}{'busy KiB':>10}"
                  f"{'failed':>8}{'uncached':>10}{'areas unloaded':>16}"]
        for name, c in em["loaded"].items():
            gone = em["unloaded"].get(name, {}).get("areas", "-")
            lines.append(f"{name:<7}{c['areas']:>6}{c['area_kb']:>10}"
                         f"{c['busy_kb']:>10}{c['failed_areas']:>8}"
                         f"{c['uncached_allocs']:>10}{gone:>16}")
    costs = costs_lines(rep)
    off = rep.get("off")
    if off:
        costs += costs_lines(off, "vmalloc_contig=off: ")
    if costs:
        lines += [""] + costs
    if rep.get("wx_bytes"):
        lines.append(f"W+X module bytes: {rep['wx_bytes']}")
    return "\n".join(lines)


def write_json(path, rep):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rep, indent=2, sort_keys=False) + "\n")
