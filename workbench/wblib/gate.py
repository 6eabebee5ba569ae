# SPDX-License-Identifier: GPL-2.0
"""What make test's boots are judged by, from what a boot left behind.

Pure functions of a boot's exit status, console and received files (and of
the kernel config it ran), so that testdata/*.gate.in can feed them
synthetic boots: a check that cannot fail on bad input is no check.

A boot is meant to be "on" (the feature built and not switched off on the
command line) or "off" (vmalloc_contig=off). An on boot must prove it is on:
both stats files present and enabled. Each boot's skips are compared with
what that boot may skip: an off boot what needs the feature, an on boot only
what its config lacks, named in the skip (or listed in ON_SKIPS).
"""

import re

from . import report, results

PMD_KB = 2048

# Skips an on boot may have although its config has everything the skip
# names: (regex on "check name + reason", config option that must be y, why).
ON_SKIPS = [
    (r"\bkunit mmt_full_area\b", "CONFIG_KASAN_VMALLOC",
     "reserving the whole module area populates its KASAN shadow, 1/8 of "
     "it (arch/x86/mm/module_map_test.c)"),
    (r"\bkunit vc_cycles_(?:fallback|range)\b", "CONFIG_KASAN_VMALLOC",
     "KASAN_VMALLOC shadow pages blur free page counts "
     "(lib/kunit/vmalloc_contig_test.c)"),
]
# How the tests say that the x86 backend is not running: on a base whose
# series has no backend (7.3), that is what its config lacks.
_MM_OFF = r"module_map backend off|module_map is off|module_map not running"
MM_OFF_REASON = re.compile(_MM_OFF)
# How the tests say that they skipped because the feature is off.
OFF_REASON = re.compile(r"vmalloc_contig=off|vmalloc_contig off|" + _MM_OFF)
_CONFIG = re.compile(r"\bCONFIG_(\w+)")


def expectation(cfg, append=""):
    """{"vmalloc_contig": bool, "module_map": bool}: what a boot of @cfg
    with kernel command line @append must have on (None: not built)."""
    vc = cfg.get("CONFIG_VMALLOC_CONTIG") == "y"
    on = vc and not re.search(r"\bvmalloc_contig=(?:off|0|n)", append)
    mm = cfg.get("CONFIG_X86_MODULE_MAP") == "y"
    mm_on = on and not re.search(r"\brodata=off\b|\bnohugevmalloc\b|"
                                 r"\bmodule_map=off\b", append)
    # execmem's data caches (the 7.3 series): wherever the ROX cache is
    # built, unless huge vmalloc mappings are off.
    em = cfg.get("CONFIG_ARCH_HAS_EXECMEM_ROX") == "y"
    em_on = em and not re.search(r"\bnohugevmalloc\b", append)
    return {"vmalloc_contig": on if vc else None,
            "module_map": mm_on if mm else None,
            "execmem": em_on if em else None,
            "init_on_free": bool(re.search(r"\binit_on_free=(?:1|y|on)\b",
                                           append)) or None}


def skip_allowed(check, reason, on, cfg):
    """(allowed, why) for a skip of @check with @reason on a boot that is
    meant to be @on, built with @cfg."""
    text = f"{check} {reason}"
    lacking = [f"CONFIG_{o}" for o in _CONFIG.findall(text)
               if cfg.get(f"CONFIG_{o}") not in ("y", "m")]
    if lacking:
        return True, f"config lacks {lacking[0]}"
    if MM_OFF_REASON.search(text) and cfg.get("CONFIG_X86_MODULE_MAP") != "y":
        return True, "config lacks CONFIG_X86_MODULE_MAP (not in this base)"
    for pat, opt, why in ON_SKIPS:
        if re.search(pat, text) and cfg.get(opt) == "y":
            return True, f"{opt}=y: {why}"
    if not on and OFF_REASON.search(text):
        return True, "the feature is off on this boot"
    return False, ("not allowed on a boot meant to be on" if on else
                   "not a skip for the feature being off")


_RESULT = re.compile(r"^(?:\[[^\]]*\]\s*)?\s*(not ok|ok) \d+ (.*)$")
_DIRECTIVE = re.compile(r"^(.*?)\s*#\s*(SKIP|TODO|XFAIL|XPASS)\b\s*(.*)$")
_SKIP_ALL = re.compile(r"^1\.\.0\s*#\s*SKIP\b\s*(.*)$")
_SECTION = re.compile(r"^# (selftests: \S+: \S+)")


def skip_reasons(text):
    """{case name: reason} of every "ok N name # SKIP reason" line (KUnit on
    the console, a kselftest's own KTAP): kunit.py keeps no reasons."""
    out = {}
    for ln in text.splitlines():
        m = _RESULT.match(ln)
        d = m and _DIRECTIVE.match(m.group(2))
        if d and d.group(2) == "SKIP":
            out.setdefault(d.group(1).strip(), d.group(3).strip())
    return out


def inner_results(text):
    """[(status, section, description, reason)] of the results a kselftest
    runner hides in "# " lines: each script's own KTAP, under the runner's
    "# selftests: DIR: NAME" header (or a scenario's copy of that header).
    A skip of the whole script ("1..0 # SKIP reason") has description None."""
    out, section = [], "(no section)"
    for ln in text.splitlines():
        m = _SECTION.match(ln)
        if m:
            section = m.group(1)
            continue
        if not ln.startswith("# "):
            continue
        body = ln[2:]
        m = _SKIP_ALL.match(body)
        if m:
            out.append(("SKIP", section, None, m.group(1).strip()))
            continue
        m = _RESULT.match(body)
        if not m or body.startswith((" ", "#")):
            continue
        d = _DIRECTIVE.match(m.group(2))
        desc, directive, reason = (d.groups() if d
                                   else (m.group(2), None, ""))
        if directive == "SKIP":
            out.append(("SKIP", section, desc.strip(), reason.strip()))
        elif m.group(1) == "not ok" and directive not in ("TODO", "XFAIL"):
            out.append(("FAIL", section, desc.strip(), reason.strip()))
    return out


def ktap_checks(name, label, text, parse):
    """Checks of one KTAP text: each case kunit.py found (@parse is
    results.ktap), then the inner skips and failures of kselftest scripts
    by name, with their reasons."""
    checks = []
    reasons = skip_reasons(text)
    inner = inner_results(text)
    whole = {sec: r for st, sec, desc, r in inner if desc is None}
    for status, names in parse(text).items():
        for n in names:
            why = reasons.get(n, "")
            if status == "SKIP" and not why:
                # A script that skipped: its "1..0 # SKIP" reason, else
                # those of the skips inside it.
                why = whole.get(n) or "; ".join(sorted(
                    {r or d for st, sec, d, r in inner
                     if sec == n and st == "SKIP" and d is not None}))
            checks.append((f"{name}: {label}{n}", status, why))
    for status, sec, desc, why in inner:
        if desc is not None:
            checks.append((f"{name}: {label}{sec}: {desc}", status, why))
    return checks


def judge_skips(checks, on, cfg):
    """@checks with every SKIP this boot may not have turned into a FAIL;
    the allowed ones keep their reason and say why they are allowed."""
    out = []
    for check, status, detail in checks:
        if status == "SKIP":
            ok, why = skip_allowed(check, detail, on, cfg)
            status = "SKIP" if ok else "FAIL"
            detail = f"{detail}; {why}" if detail else why
        out.append((check, status, detail))
    return out


def boot_checks(name, status, reason, console, files, cfg, expect,
                parse, kunit=False, required=()):
    """[(check, status, detail)] of a finished boot: its exit status, the
    console's splats, KUnit on the console (@kunit), every KTAP file it sent
    (each of @required must be there), the feature on or off as @expect
    says, and the skips this boot may have."""
    checks = [(f"{name}: exit status", "PASS" if status == 0 else "FAIL",
               f"status {status} {reason}".strip())]
    found = results.splats(console)
    checks.append((f"{name}: console has no splat",
                   "FAIL" if found else "PASS", f"{len(found)} splat lines"))
    if kunit:
        checks += ktap_checks(name, "kunit ", console, parse)
    for want in required:
        if want not in files:
            checks.append((f"{name}: {want}", "FAIL", "guest did not send it"))
    for ktapfile in sorted(f for f in files if f.endswith(".ktap")):
        checks += ktap_checks(name, f"{ktapfile} ", files[ktapfile], parse)
    checks += feature_checks(name, files, expect)
    if expect.get("init_on_free"):
        checks.append(init_on_free_check(name, console))
    on = bool(expect.get("vmalloc_contig"))
    return judge_skips(checks, on, cfg)


def test_boot_checks(name, status, reason, console, files, cfg, append,
                     parse, kunit=False):
    """Everything a test boot (guest/scenarios/test.sh) is judged by: the
    boot's own checks, W+X in the module area, and on a boot meant to be on
    the backend's state after the module set."""
    expect = expectation(cfg, append)
    # Upstream's suites run wherever their test modules are built.
    upstream = ("upstream.ktap",) if all(
        cfg.get(o) in ("y", "m") for o in UPSTREAM_CONFIG) else ()
    checks = boot_checks(name, status, reason, console, files, cfg, expect,
                         parse, kunit=kunit,
                         required=("modset.ktap",) + upstream)
    checks += wx_checks(name, files)
    if expect["module_map"]:
        checks += module_map_checks(name, files)
    if expect["execmem"]:
        checks += execmem_checks(name, files)
    return checks


def feature_checks(name, files, expect):
    """On a boot meant to be on, both stats files must be there and say
    enabled; on an off boot, both must say off and vmalloc_contig must have
    served nothing from contiguous or mapped pages."""
    checks = []
    vc, mm = expect.get("vmalloc_contig"), expect.get("module_map")
    if vc is not None:
        text = files.get("vmalloc_contig-stats")
        if vc:
            st = {} if results.missing(text) else results.counters(text)
            checks.append((f"{name}: vmalloc_contig: enabled",
                           "PASS" if st.get("enabled") == 1 else "FAIL",
                           _state(text, st.get("enabled"))))
        else:
            st, why = results.vmalloc_contig_off_check(text)
            checks.append((f"{name}: vmalloc_contig: off, no contiguous "
                           "allocation", st, why))
    if mm is not None:
        text = files.get("module_map-stats")
        en = None if results.missing(text) else \
            report.module_map_classes(text).get("enabled")
        want = 1 if mm else 0
        checks.append((f"{name}: module_map: {'enabled' if mm else 'off'}",
                       "PASS" if en == want else "FAIL", _state(text, en)))
    return checks


_AUTO_INIT = re.compile(r"mem auto-init: .*\bheap free:(\w+)")


def init_on_free_check(name, console):
    """A boot given init_on_free=1 proves that it has it: the kernel's
    "mem auto-init" line says "heap free:on" (page poisoning, for one,
    turns it off with a message of its own)."""
    m = _AUTO_INIT.search(console)
    state = m.group(1) if m else None
    return (f"{name}: init_on_free on", "PASS" if state == "on" else "FAIL",
            f"heap free:{state}" if state else "no mem auto-init line")


def _state(text, enabled):
    if text is None:
        return "guest did not send the stats"
    if results.missing(text):
        return text.strip()
    return f"enabled {enabled}" if enabled is not None else \
        "stats have no enabled line"


def wx_checks(name, files):
    """No module page writable and executable, loaded and after unloading,
    in dumps that really show the module area (results.ptdump_check)."""
    checks = []
    for when in ("loaded", "unloaded"):
        status, why = results.ptdump_check(
            files.get(f"ptdump-modules-{when}"), when == "loaded")
        checks.append((f"{name}: no W+X module mapping, {when}", status, why))
    return checks


def module_map_checks(name, files):
    """The x86 backend on an on boot, after the module set was loaded and
    unloaded: spare chunks, the direct map, free memory."""
    text = files.get("module_map-stats")
    if results.missing(text):
        return [(f"{name}: module_map: state after unloading", "FAIL",
                 _state(text, None))]
    checks = []
    classes = report.module_map_classes(text)
    classes.pop("enabled", None)
    per_class = {c: v for c, v in classes.items() if isinstance(v, dict)}
    if not per_class:
        return [(f"{name}: module_map: state after unloading", "FAIL",
                 "stats have no class lines")]
    # Empty chunks go back to the page allocator after a 2 s delay, which
    # the guest waits out (test.sh): none may be held then.
    extra = {c: v["chunks"] for c, v in per_class.items()
             if v["chunks"] or v["used_bytes"]}
    checks.append((f"{name}: module_map: no chunk held after unloading and "
                   "the release delay", "FAIL" if extra else "PASS",
                   f"{extra}"))
    before = results.meminfo(files.get("meminfo-before-modset") or "")
    after = results.meminfo(files.get("meminfo-after-modset") or "")
    checks.append(directmap_check(name, files, per_class))
    # What unloading may keep: one spare 2M chunk per class.
    spares_kb = PMD_KB * len(per_class)
    free = (before.get("MemFree"), after.get("MemFree"))
    if None in free:
        status, why = "FAIL", "meminfo before or after the set missing"
    else:
        status = "PASS" if free[1] >= free[0] - spares_kb else "FAIL"
        why = f"{free[0]} kB -> {free[1]} kB, spares {spares_kb} kB"
    checks.append((f"{name}: module_map: MemFree back after unloading, "
                   "within the spare chunks", status, why))
    return checks


def execmem_checks(name, files):
    """execmem's read-only and writable data caches on a boot meant to have
    them, over a load and unload of the module set: module rodata and data
    in 2M pages while loaded unless allocations went outside the caches,
    every cache area given back after unloading, and a direct map that
    only the allocations outside the caches may have split."""
    after = results.execmem_caches(files.get("execmem-caches"))
    loaded = results.execmem_caches(files.get("execmem-caches-loaded"))
    was = results.execmem_caches(files.get("execmem-caches-before-modset"))
    if not all(c in d for d in (after, loaded, was) for c in ("ro", "rw")):
        return [(f"{name}: execmem: data caches on", "FAIL",
                 _state(files.get("execmem-caches"), None))]
    checks = [(f"{name}: execmem: data caches on", "PASS",
               f"loaded: ro {loaded['ro']['areas']} areas, rw "
               f"{loaded['rw']['areas']} areas")]
    outside = sum(loaded[c][k] - was[c][k] for c in ("ro", "rw")
                  for k in ("uncached_allocs", "failed_areas"))
    classes = _loaded_classes(files)
    check = f"{name}: execmem: module rodata and data in 2M pages, loaded"
    if classes is None:
        checks.append((check, "FAIL", "no usable loaded ptdump"))
    else:
        pages = sum(classes[c]["entries_4k"] for c in ("rodata", "data"))
        why = ", ".join(f"{c} {classes[c]['entries_2m']} x 2M + "
                        f"{classes[c]['entries_4k']} x 4K"
                        for c in ("rodata", "data"))
        checks.append((check, "PASS" if not pages or outside else "FAIL",
                       f"{why}; {outside} allocations or areas outside "
                       "the caches"))
    # Nothing but modules uses the data caches; text's is shared (ftrace,
    # kprobes, BPF), but an area of it with nothing in use goes back too.
    held = {c: after[c]["areas"] for c in after if after[c]["areas"] and (
        c in ("ro", "rw") or not after[c]["busy_kb"])}
    checks.append((f"{name}: execmem: no data cache area held after "
                   "unloading, nor an empty one", "FAIL" if held else "PASS",
                   f"{held}"))
    checks.append(_directmap_growth(
        f"{name}: execmem: DirectMap4k growth within what allocations "
        "outside the caches explain", files, outside,
        f"{outside} allocations or areas outside the caches"))
    return checks


def _loaded_classes(files):
    """mapping_classes() of the loaded module-area dump, None if the dump
    is not one the parser can trust (results.ptdump_check)."""
    dump = files.get("ptdump-modules-loaded") or ""
    if results.ptdump_check(dump, True)[0] != "PASS":
        return None
    return results.mapping_classes(dump)[0]


def _directmap_growth(check, files, fallbacks, why):
    """(check, status, detail): DirectMap4k after loading and unloading the
    set. Memory in 2M pages never splits the direct map (an area's alias
    takes its permission once, for the whole 2M), so without fallbacks it
    must not grow at all. A piece outside it changes the permission of each
    of its pages, which splits the 2M direct-map page around that page's
    alias, as in vanilla: at most 2048 kB of 4K mappings per 4K page mapped
    in the module area."""
    before = results.meminfo(files.get("meminfo-before-modset") or "")
    after = results.meminfo(files.get("meminfo-after-modset") or "")
    dm = (before.get("DirectMap4k"), after.get("DirectMap4k"))
    if None in dm:
        return check, "FAIL", "meminfo before or after the set has no " \
                              "DirectMap4k"
    pages = 0
    if fallbacks:
        classes = _loaded_classes(files) or {}
        pages = sum(c["entries_4k"] for c in classes.values())
    bound = PMD_KB * pages
    grew = dm[1] - dm[0]
    return check, "PASS" if grew <= bound else "FAIL", \
        f"{dm[0]} kB -> {dm[1]} kB ({grew:+d} kB); {why}, {pages} 4K " \
        f"module pages: at most {bound} kB"


def directmap_check(name, files, per_class):
    """DirectMap4k against what the backend's 4K fallbacks explain."""
    was = report.module_map_classes(
        files.get("module_map-stats-before-modset") or "")
    fallbacks = sum(v["fallbacks"] - was.get(c, {}).get("fallbacks", 0)
                    for c, v in per_class.items())
    return _directmap_growth(
        f"{name}: module_map: DirectMap4k growth within what the 4K "
        "fallbacks explain", files, fallbacks,
        f"{fallbacks} pieces took the 4K fallback")


# Upstream's kselftests (guest/scenarios/test.sh, upstream.ktap) run on the
# on boot and on the off boot. A failure in both is upstream's, not ours,
# only once its reason is known: (regex on the check name past the boot's
# name, the reason).
UPSTREAM_KTAP = "upstream.ktap "
UPSTREAM_KNOWN = []
# The test modules of those suites (workbench/configs/test.config).
UPSTREAM_CONFIG = ("CONFIG_TEST_KMOD", "CONFIG_TEST_VMALLOC")


def _upstream_key(name, check):
    prefix = f"{name}: {UPSTREAM_KTAP}"
    return check[len(prefix):] if check.startswith(prefix) else None


def upstream_compare(on_name, on, off_name, off, known=None):
    """(@on, @off) with their upstream failures judged against each other:
    a failure on the on boot where the off boot passed stays a FAIL (ours);
    one in both boots becomes a SKIP naming the reason if @known (default
    UPSTREAM_KNOWN) explains it, and stays a FAIL saying "fails off too"
    if nothing does; an off boot failure that the on boot does not have
    stays a FAIL; a case that only one boot ran is a FAIL on the other."""
    known = UPSTREAM_KNOWN if known is None else known
    fails, ran = {}, {}
    for name, checks in ((on_name, on), (off_name, off)):
        fails[name] = {_upstream_key(name, c) for c, s, _ in checks
                       if s == "FAIL"} - {None}
        ran[name] = {_upstream_key(name, c) for c, _, _ in checks} - {None}
    both = fails[on_name] & fails[off_name]

    def judge(name, checks):
        out = []
        for check, status, detail in checks:
            key = _upstream_key(name, check)
            if status == "FAIL" and key in both:
                why = next((r for pat, r in known if re.search(pat, key)),
                           None)
                if why:
                    status, detail = "SKIP", f"fails with vmalloc_contig=" \
                        f"off too; upstream's: {why}"
                else:
                    detail = (f"{detail}; " if detail else "") + \
                        "fails with vmalloc_contig=off too, reason unknown"
            out.append((check, status, detail))
        # A case one boot ran and the other did not: neither judges it.
        other = off_name if name == on_name else on_name
        for key in sorted(ran[other] - ran[name]):
            out.append((f"{name}: {UPSTREAM_KTAP}{key}", "FAIL",
                        f"ran on the {other} boot, not on this one"))
        return out
    return judge(on_name, on), judge(off_name, off)
