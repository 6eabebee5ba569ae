# SPDX-License-Identifier: GPL-2.0
"""The demo report: how module memory is mapped, as a table and as JSON."""

import json
import math

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
    if "module_map-stats" in files:
        rep["module_map"] = module_map_classes(files["module_map-stats"])
        vmstat = results.counters(files.get("vmstat", ""))
        for key in ("module_map_level2_splits", "module_map_level2_collapses"):
            rep["module_map"][key] = vmstat.get(key, 0)
    if "vmalloc_contig-stats" in files:
        st = results.counters(files["vmalloc_contig-stats"])
        rep["vmalloc_contig"] = {k: st.get(k, 0) for k in (
            "contig_allocs", "mapped_allocs", "vmalloc_allocs", "fallbacks",
            "bad_frees")}
    return rep


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
    if rep.get("wx_bytes"):
        lines.append(f"W+X module bytes: {rep['wx_bytes']}")
    return "\n".join(lines)


def write_json(path, rep):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rep, indent=2, sort_keys=False) + "\n")
