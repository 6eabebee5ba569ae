# SPDX-License-Identifier: GPL-2.0
"""The upstream patch series: `make series` and `make series-check`.

workbench/series.map lists the commits in order; each takes the message and
diff of patches/ files and adds overlay files (format: the map's header).
The commits are made with plumbing in build/linux's object store on top of
wb-base (the Debian tree as shipped), under refs/wb/series, with a fixed
identity and fixed dates, so the same inputs give the same commits; `git
format-patch --cover-letter --base` writes them to out/series (the cover
letter as 0000-cover-letter.txt, so that `git am out/series/*.patch` works).

series-check applies out/series patch by patch to a clean worktree of
wb-base (build/series-check), builds every step with the demo config in
build/obj-series, runs checkpatch --strict on every patch, W=1 and sparse on
the C files each step touches (new warnings only, against wb-base), and
compares the last tree with the assembled one.
"""

import json
import os
import re
import shutil
import subprocess
import textwrap
import time
from datetime import datetime, timedelta, timezone

from . import bench, kconfig, source, sparse
from .common import (ARCH, BUILD, OUT, REPO, SRC, WB_DIR, WbError, base_dir,
                     git, log, run)

# Each base has its own plan: series.map (6.12), series-<base>.map.
MAP = WB_DIR / ("series.map" if source.BASE == source.DEFAULT_BASE
                else f"series-{source.BASE}.map")
SERIES_OUT = OUT / "series"
CHECK_OUT = OUT / "series-check"
SERIES_REF = "refs/wb/series"
WORKTREE = BUILD / "series-check"
OBJ = BUILD / "obj-series"
DEMO_CONFIG = BUILD / "series-demo.config"
CCACHE = BUILD / "ccache-series"
NAME = "Seed maintainers"
EMAIL = "maintainers@users.noreply.r-seed-36da1a05.example"
SOB = f"Signed-off-by: {NAME} <{EMAIL}>"
# Commit k is dated DATE + k minutes; the cover letter DATE + N + 1.
DATE = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
SUBJECT = "mm, x86/module: map module memory with 2M pages"
# Packages series-check needs besides the workbench's own.
CHECK_PACKAGES = ("sparse", "python3-ply", "python3-git", "ccache",
                  "dpkg-dev")
# Every patch that adds files also adds their MAINTAINERS entries, so
# checkpatch runs with no --ignore; get_maintainer.pl (below) checks that
# each new file has an entry of its own.

_WARN = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?:\d+:)? "
                   r"(?P<kind>warning|error): (?P<msg>.*)$")


def _ident_env(minutes):
    date = (DATE + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"GIT_AUTHOR_NAME": NAME, "GIT_AUTHOR_EMAIL": EMAIL,
            "GIT_COMMITTER_NAME": NAME, "GIT_COMMITTER_EMAIL": EMAIL,
            "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}


def _key(name):
    """A patch name without its NNNN- prefix and .patch suffix."""
    return re.sub(r"^\d{4}-", "", name.strip()).removesuffix(".patch")


def parse_map(text):
    """[{line, patches, add, drop, msg}] of series.map; WbError on bad
    syntax. drop maps a path added by the commit to the lines left out."""
    commits = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("|"):
            if not commits:
                raise WbError(f"series.map:{lineno}: message before 'commit'")
            body = stripped[1:]
            commits[-1]["msg"].append(body[1:] if body.startswith(" ")
                                      else body)
            continue
        line = raw.split("#")[0].strip()
        if not line:
            continue
        word, _, arg = line.partition(" ")
        arg = arg.strip()
        if word == "commit":
            commits.append({"line": lineno, "patches": [arg] if arg else [],
                            "add": [], "drop": {}, "msg": []})
        elif word in ("patch", "add") and arg and commits:
            commits[-1]["patches" if word == "patch" else "add"].append(arg)
        elif word == "drop" and arg and commits and commits[-1]["add"]:
            c = commits[-1]
            c["drop"].setdefault(c["add"][-1], []).append(arg)
        else:
            raise WbError(f"series.map:{lineno}: cannot parse '{line}' "
                          f"(commit [PATCH], patch PATCH, add PATH, "
                          f"drop LINE after add, | TEXT)")
    return commits


def plan():
    """The checked map: each patch once, in order; each overlay file added,
    the last time as it is in the repository."""
    commits = parse_map(MAP.read_text())
    names = source.series()
    by_key = {_key(n): n for n in names}
    overlay = source.overlay_files()
    errors, used, added = [], [], {}
    for c in commits:
        where = f"series.map:{c['line']}"
        resolved = []
        for p in c["patches"]:
            name = by_key.get(_key(p))
            if name is None:
                errors.append(f"{where}: '{p}' is not in patches/series")
            else:
                resolved.append(name)
        c["patches"] = resolved
        used += resolved
        for path in c["add"]:
            if path in added and not added[path][1]:
                errors.append(f"{where}: {path} is added again, but the "
                              f"commit at series.map:{added[path][0]} "
                              f"already added all of it")
            elif path not in overlay:
                errors.append(f"{where}: {path} is not an overlay file")
                continue
            drops = c["drop"].get(path, [])
            lines = [ln.strip() for ln in (REPO / path).read_text()
                     .splitlines()]
            for d in drops:
                if lines.count(d) != 1:
                    errors.append(f"{where}: drop '{d}': {path} has "
                                  f"{lines.count(d)} such lines, not one")
            added[path] = (c["line"], bool(drops))
        if not c["patches"] and not c["add"]:
            errors.append(f"{where}: empty commit")
        if not c["patches"] and not c["msg"]:
            errors.append(f"{where}: a commit without a patch needs a "
                          f"message ('| ...' lines)")
    for n in names:
        if used.count(n) > 1:
            errors.append(f"patches/{n} is used {used.count(n)} times")
        elif n not in used:
            errors.append(f"patches/{n} is not used: add 'commit {_key(n)}' "
                          f"(or 'patch {_key(n)}') to series.map")
    if not errors and used != names:
        errors.append("series.map uses the patches in another order than "
                      "patches/series:\n    " + "\n    ".join(used))
    for f in overlay:
        if f not in added:
            errors.append(f"overlay file {f} is not added by any commit: "
                          f"add 'add {f}' to its commit in series.map")
        elif added[f][1]:
            errors.append(f"{f} is last added with lines dropped "
                          f"(series.map:{added[f][0]}): a later commit must "
                          f"add all of it")
    if errors:
        raise WbError("workbench/series.map does not match the repository:\n"
                      "  " + "\n  ".join(errors))
    return commits


def _patch_message(name):
    """Subject and body of a patches/ file, as git am would take them."""
    tmp = SRC / ".git" / "wb-series-mailinfo"
    tmp.mkdir(exist_ok=True)
    with open(source.PATCHES / name, "rb") as f:
        res = subprocess.run(["git", "mailinfo", str(tmp / "msg"),
                              str(tmp / "patch")], stdin=f, cwd=SRC,
                             capture_output=True, text=True)
    if res.returncode:
        raise WbError(f"git mailinfo patches/{name}: {res.stderr.strip()}")
    subject = next((ln[len("Subject: "):] for ln in res.stdout.splitlines()
                    if ln.startswith("Subject: ")), "")
    body = (tmp / "msg").read_text().strip()
    if not subject:
        raise WbError(f"patches/{name} has no subject")
    return subject + ("\n\n" + body if body else "")


def message(c):
    text = "\n".join(c["msg"]).strip() if c["msg"] else \
        _patch_message(c["patches"][0])
    if SOB not in text.splitlines():
        last = text.splitlines()[-1]
        sep = "\n" if re.match(r"^[\w-]+: ", last) else "\n\n"
        text += sep + SOB
    return text + "\n"


def _blob(path, drops):
    """The blob of overlay file @path without the lines in @drops."""
    text = (REPO / path).read_text()
    if drops:
        text = "".join(ln for ln in text.splitlines(keepends=True)
                       if ln.strip() not in drops)
    return subprocess.run(["git", "-C", str(SRC), "hash-object", "-w",
                           "--stdin"], input=text, capture_output=True,
                          text=True, check=True).stdout.strip()


def make_commits(commits):
    """Commit the plan on top of wb-base; return [(commit, subject)]."""
    index = SRC / ".git" / "wb-series-index"
    env = {"GIT_INDEX_FILE": str(index)}
    git("read-tree", source.BASE_REF, env=env)
    parent = git("rev-parse", source.BASE_REF + "^{commit}")
    out = []
    msgfile = SRC / ".git" / "wb-series-msg"
    for k, c in enumerate(commits, 1):
        if c["add"]:
            shas = [_blob(f, c["drop"].get(f, [])) for f in c["add"]]
            info = "".join(
                f"{'100755' if os.access(REPO / f, os.X_OK) else '100644'} "
                f"{sha}\t{f}\n" for f, sha in zip(c["add"], shas))
            subprocess.run(["git", "-C", str(SRC), "update-index", "--add",
                            "--index-info"], input=info, text=True, check=True,
                           env={**os.environ, **env})
        for name in c["patches"]:
            res = run(["git", "apply", "--cached", "--whitespace=nowarn",
                       source.PATCHES / name], cwd=SRC, env=env, check=False,
                      capture=True, quiet=True)
            if res.returncode:
                raise WbError(f"series commit {k}: patches/{name} does not "
                              f"apply:\n{res.stderr}")
        tree = git("write-tree", env=env)
        text = message(c)
        msgfile.write_text(text)
        parent = git("commit-tree", tree, "-p", parent, "-F", str(msgfile),
                     env=_ident_env(k))
        out.append((parent, text.splitlines()[0]))
    git("update-ref", SERIES_REF, parent)
    return out


def _fmt_size(n):
    """4096 -> 4K, 69632 -> 64K+4K, 2093056 -> 2M-4K: a power of two plus
    or minus the rest, whichever is shorter."""
    n = int(n)
    if n & (n - 1):
        big = 1 << (n.bit_length() - 1)
        up = big << 1
        if up - n < n - big:
            return f"{_fmt_size(up)}-{_fmt_size(up - n)}"
        return f"{_fmt_size(big)}+{_fmt_size(n - big)}"
    for unit, shift in (("M", 20), ("K", 10)):
        if n >= 1 << shift:
            return f"{n >> shift}{unit}"
    return str(n)


def _get(d, *keys, default="-"):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [str(c).rjust(w) if i else str(c).ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        out.append(("  " + "  ".join(cells)).rstrip())
    return out


def _bench_numbers(b, path):
    modes = [m for m in ("vanilla", "off", "on") if m in b.get("modes", {})]
    clock = b.get("clock")
    if clock and "-icount" in clock:
        clock = f"QEMU instruction time ({clock})"
    clock = f" Times are {clock}." if clock else ""
    off_keeps = bench.OFF_KEEPS.get(b.get("base", "6.12"))
    off_keeps = f", where {off_keeps}" if off_keeps else ""
    lines = _wrap(f"""From `make bench` ({path},
                  {b.get('repetitions', '?')} repetitions; vanilla is the
                  kernel without this series, off the series booted with
                  vmalloc_contig=off{off_keeps}).{clock}""")
    rows = [["", *modes]]
    for cls in ("text", "rodata", "data"):
        rows.append([f"{cls} 4K/2M entries", *(
            f"{_get(b['modes'][m], 'classes', cls, 'entries_4k')}/"
            f"{_get(b['modes'][m], 'classes', cls, 'entries_2m')}"
            for m in modes)])

    def delta(m, key, a, z):
        x, y = _get(b["modes"][m], key, a), _get(b["modes"][m], key, z)
        return f"{y - x:+d}" if isinstance(x, int) and isinstance(y, int) \
            else "-"
    rows.append(["DirectMap4k kB on load", *(
        delta(m, "directmap_4k_kb", "before", "after") for m in modes)])
    rows.append(["kB held loaded", *(
        f"{_get(b['modes'][m], 'allocator', 'held_kb', 'loaded')}"
        for m in modes)])
    rows.append(["kB held unloaded", *(
        f"{_get(b['modes'][m], 'allocator', 'held_kb', 'unloaded')}"
        for m in modes)])
    rows.append(["CAL IPIs per load", *(
        f"{_get(b['modes'][m], 'load_ipis', 'CAL', 'median')}"
        for m in modes)])
    for key in ("load_ms", "unload_ms"):
        rows.append([f"{key.replace('_ms', '')} ms (median)", *(
            f"{_get(b['modes'][m], key, 'median')}" for m in modes)])
    rows.append(["iTLB misses", *(
        f"{_get(b['modes'][m], 'itlb', 'misses')}" for m in modes)])
    lines += _table(rows)
    model = next((_get(b["modes"][m], "itlb", "model") for m in modes
                  if _get(b["modes"][m], "itlb", "model") != "-"), None)
    if model:
        lines += ["", f"iTLB misses: {model}."]
    lat = b.get("alloc_latency_ns", {})
    apis = [a for a in ("vmalloc_contig", "vmalloc", "kvmalloc") if a in lat]
    if apis:
        sizes = sorted({int(s) for a in apis for s in lat[a]})
        rows = [["size", *apis]] + [
            [_fmt_size(s), *(str(lat[a].get(str(s), "-")) for a in apis)]
            for s in sizes]
        lines += ["", "Median alloc + first write + free, ns:", ""]
        lines += _table(rows)
    return lines


def _report_numbers(r):
    rows = [["class", "bytes mapped", "4K entries", "2M entries"]]
    for cls in ("text", "rodata", "data"):
        c = _get(r, "classes", cls, default={})
        rows.append([cls, _get(c, "bytes"), _get(c, "entries_4k"),
                     _get(c, "entries_2m")])
    mm = r.get("module_map", {})
    splits = sum(v.get("splits", 0) for v in mm.values()
                 if isinstance(v, dict))
    coll = sum(v.get("collapses", 0) for v in mm.values()
               if isinstance(v, dict))
    used = sum(_get(mm, c, "used_bytes", default=0)
               for c in ("text", "rodata", "data"))
    dm = r.get("directmap_4k_kb", {})
    mode = "vmalloc_contig=off" if r.get("mode") == "off" else \
        "the backend on"
    lines = _wrap(f"""From `make demo` (out/report.json):
                  {r.get('modules_loaded')} modules loaded in a QEMU guest
                  ({r.get('accel')}) with {mode}; the module area as mapped
                  by the page tables:""")
    lines += _table(rows)
    lines += [""] + textwrap.wrap(
        f"{used} bytes used in those chunks; DirectMap4k before/after "
        f"loading: {dm.get('before')}/{dm.get('after')} kB; {splits} PMD "
        f"splits while loading, {coll} collapses. The vmalloc_contig=off "
        f"baseline, load and unload times and iTLB misses come from `make "
        f"bench`, which had not been run for this posting.", 72)
    return lines


def numbers():
    """The cover letter's numbers: this tree's out/bench.json, else the run
    kept in workbench/results, else a demo report."""
    rep = OUT / "report.json"
    try:
        kept = base_dir(WB_DIR / "results", source.BASE) / "bench.json"
        for path in (OUT / "bench.json", kept):
            if path.exists():
                return _bench_numbers(json.loads(path.read_text()),
                                      path.relative_to(REPO))
        if rep.exists():
            return _report_numbers(json.loads(rep.read_text()))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        log(f"series: cannot read the numbers ({e}); cover letter without")
    return ["No measurement was available when this was generated; the",
            "numbers come from `make bench` (out/bench.json)."]


def _wrap(*paragraphs):
    out = []
    for p in paragraphs:
        out += textwrap.wrap(" ".join(p.split()), 72,
                             break_on_hyphens=False) + [""]
    return out


def _base_paragraph(n):
    return f"""The base-commit below is not an upstream commit: it is the
        Debian {source.DEB_PACKAGE} {source.pinned()[0]} tree
        ({source.KERNEL_VERSION} with Debian's patches) unpacked exactly as
        shipped and committed as one commit (the workbench's wb-base,
        `workbench/wb tree`). `git am` of these {n} patches on that tree
        gives the tree the workbench builds and tests."""


def cover_blurb_mainline(n):
    """The cover letter of the series on mainline (a base other than the
    default one)."""
    lines = _wrap(
        """Mainline maps module text with 2M pages through the execmem ROX
        cache (Mike Rapoport, v6.14), which hands out pieces of large ROX
        pages and, through CPA_COLLAPSE, maps a 2M page with one PMD again
        once the loader's temporary permission changes are undone. This
        series starts from there.""",
        """Patches 1-3 fix the collapse for walkers that take no lock: the
        tables it takes out were freed right after the TLB flush, while
        vmalloc_to_page() (iov_iter and scatterlist kvec helpers) and
        lookup_address() (slow_virt_to_phys(), kernel_page_present(),
        cpa_flush()) may still be reading them, and both re-read entries
        that a collapse or a split changes under them. Now each level is
        read once, the unlocked walkers hold RCU, and the tables are freed
        from an rcu_work after a grace period. They are candidates for the
        stable kernels that have CPA_COLLAPSE.""",
        """Patch 4 lets a vmalloc caller ask for huge mappings or nothing
        (VM_REQUIRE_HUGE_VMAP), where a fallback to small pages would only
        defeat the purpose of the allocation.""",
        """Patches 5-8 extend execmem beyond text. The cache becomes one
        instance per final permission: the ROX cache for text as before, a
        read-only cache and a writable cache for module rodata,
        ro_after_init and data and their init variants. A new 2M area takes
        its permission once, direct-map alias included; a piece is made
        writable for loading in its vmalloc mapping only
        (set_memory_rwnx_noalias(), used for text pieces too) and made
        read-only again with set_memory_ronx(), which collapses it back to a
        PMD as set_memory_rox() does for text. Module loads then split
        nothing in the direct map. A data cache takes a huge page on the
        local node or none, falls back to vmalloc when there is none (and
        does not try again for a second), and is off under nohugevmalloc.""",
        """Patches 9-15 add vmalloc_contig(), an allocator that tries an
        exact run of physically contiguous pages first (a block split in
        halves, each unused half given back whole) and falls back to
        vmalloc, with a free that needs no size; the module loader uses it
        for the module image buffers, read after the LSM hook through a new
        kernel_read_file_alloc(); a KUnit suite, kselftests and the
        documentation follow. vmalloc_contig_range() has no user here but
        the KUnit suite.""",
        """The same work exists against 6.12 LTS, where the series also
        carries its own text cache.""")
    lines += ["Numbers", "-------", ""] + numbers() + [""]
    lines += ["Base", "----", ""] + _wrap(
        _base_paragraph(n),
        """Tested with `make test BASE=7.3` (the vmalloc_contig KUnit suite,
        the vmalloc_contig kselftests including /proc/kcore and ptdump
        readers during module loads, load/unload passes of the module set
        of a Debian server with vmalloc_contig on and off, under QEMU), and
        checkpatch --strict on every patch. On its test boot, loading the
        118 modules of the set put their rodata in two and their data in two
        2M pages, no 4K entry, and DirectMap4k was the same before the load
        and after the unload (38784 kB); every cache area was given
        back. Against vanilla 7.3 (numbers above), loading the set costs
        1.1% more instruction time, the same with vmalloc_contig=off, so
        it is the data caches' cost; it is not traced yet. It calls
        flush_tlb_all() 706 times instead of 1462 (function profiler,
        one load of the set on each kernel). A KASAN and
        lockdep boot of patches 5-8 passed, but with most huge-page
        allocations failing; it has not been repeated since.""")
    return "\n".join(lines).rstrip() + "\n"


def cover_blurb(n):
    if source.BASE != source.DEFAULT_BASE:
        return cover_blurb_mainline(n)
    lines = _wrap(
        """Kernel text is mapped with 2M pages, but module memory comes from
        vmalloc in 4K pages: every module costs TLB entries, and the
        permission changes of module loading split the direct map into 4K
        pages for good. On a distribution kernel with a hundred modules
        loaded that is a few thousand 4K entries for module text, rodata
        and data, and a direct map that fragments as modules come and go.""",
        """This series adds vmalloc_contig(), an allocator that tries an
        exact run of physically contiguous pages first (a block split in
        halves, each unused half given back whole) and falls back to
        vmalloc, and vmalloc_contig_range(), which asks vmalloc for
        PMD-mapped 2M pages in a caller-given window. The module loader
        uses it for the module image buffers, read after the LSM hook
        through a new kernel_read_file_alloc(); its tests and documentation
        follow. execmem
        then tells an architecture which class of module memory it
        allocates and lets it install its own allocator. On x86, CPA
        collapses a split 2M chunk back to a PMD once its PTEs are uniform
        again, and the module memory backend places text, rodata and data
        in 2M chunks, one class per final permission, each chunk mapped by
        one PMD and its direct-map alias never split.
        The backend is on by default where its dependencies are met;
        vmalloc_contig=off turns everything back to 4K vmalloc memory.""")
    lines += ["Numbers", "-------", ""] + numbers() + [""]
    lines += ["Prior art", "---------", ""] + _wrap(
        """bpf_prog_pack (Song Liu, v5.18) packs BPF programs into shared 2M
        ROX pages and writes them with text_poke_copy(); Song Liu's later
        proposals to generalise it into an allocator for all executable
        memory (LWN, "Yet another try at the BPF program allocator", Nov
        2022) led to execmem. The execmem ROX cache (Mike Rapoport, v6.14)
        keeps module text in large ROX pages filled with invalid
        instructions and hands out pieces of them. This series follows
        both for text (free text is INT3 and ROX; a freed piece is made
        writable, refilled in place and made ROX again) but extends the
        idea to rodata and data, keeps the loader's write-then-protect flow
        instead of writing through text_poke(), and restores PMDs after the
        loader's temporary splits. It is based on 6.12, which has neither
        the ROX cache nor its EXECMEM_ROX_CACHE users.""",
        """Changes in v2, after a review: the replaced PTE table is freed
        after an RCU grace period and under init_mm's mmap lock, and
        vmalloc_to_page() and lookup_address() read the PMD once, so no
        walker (text_poke(), /proc/kcore, ptdump) reads a freed or changing
        table; CPA no longer takes text_mutex; set_memory_4k() ranges are
        marked in the PTEs; the free path reads no page table; empty chunks
        go back to the page allocator after 2 s or under memory pressure
        (shrinker), none kept for good; chunks are node-local, a failed
        chunk backs its class off for 100 ms, nohugevmalloc turns the
        backend off at setup; module_map=off turns off the backend
        alone. The API: exact runs are kept and freed as power-of-two blocks
        (split_page_to_order()), not page by page; no global table or lock:
        a run is known by a page type on its head page, a vmalloc area by
        VM_CONTIG; vmalloc_contig_range() uses a new huge-or-nothing vmalloc
        request instead of copying vmalloc's internals; nothing is exported
        that no module uses; frees from interrupt context are deferred.
        Under KASLR the first piece of a class's first chunk starts at one
        of its first 64 pages (about 14 bits for the first module, against
        execmem's 10). Where the direct map uses 1G pages, the 1G page that
        a chunk's alias split is mapped by one PUD again when the last
        chunk in it goes (new patch 13, with the walkers that re-read a
        PUD fixed to read it once under RCU). Collapses are batched: CPA
        tells the backend which chunks a change may have made uniform, and
        the backend collapses them with the new set_memory_collapse() once
        no chunk changed for 100 ms (at the latest 1 s after the first
        change); changes inside chunks skip vm_unmap_aliases(). Rodata is
        made writable with the new set_memory_rw_lazy() (patch 14), which
        flushes no other CPU for a change that only adds write permission
        to 4K entries. Loading the module set of the test guest calls
        flush_tlb_all() 58 times, against 428 with vmalloc_contig=off and
        934 before, and costs 5349 IPIs against 5249 (6398 before): each
        text piece is still made writable and non-executable by a CPA call
        of its own, flushed on every CPU, which vmalloc()ed module memory
        does not need, and freed init text is refilled between two
        flushes. Not yet done: a policy for machines
        with a handful of small modules. Goals missed: at 64K+4K
        vmalloc_contig() is about 20 % slower than kvmalloc() (a run of 17
        pages costs six block frees, kvmalloc's 128K block one), though it
        holds 68K where kvmalloc() holds 128K; IPIs per load, above.
        Loading the module set now takes 0.996 of vanilla's time (R = 9,
        instruction time; 1.004 before the collapses were batched).""")
    lines += ["Base", "----", ""] + _wrap(
        _base_paragraph(n),
        """Tested with `make test` (KUnit suites vmalloc_contig and
        x86_module_map, the vmalloc_contig kselftests including text
        patchers and fault injection on 2M-mapped module memory, and
        load/unload passes of the module set of a Debian server, with the
        backend on and off, under QEMU), and checkpatch --strict on every
        patch. `make series-check` (every step builds; W=1 and sparse) last
        ran on v1.""")
    return "\n".join(lines).rstrip() + "\n"


def write_series():
    """Assemble, commit the plan, check the last tree, format the patches."""
    source.tree()       # overlay_files() needs the tree's top-level dirs
    commits = plan()
    made = make_commits(commits)
    tip = made[-1][0]
    want = source._overlay_tree()
    head = git("rev-parse", "HEAD^{tree}")
    got = git("rev-parse", tip + "^{tree}")
    if got != want or got != head:
        stat = git("diff", "--stat", tip, want)
        raise WbError("the series does not end at the assembled tree:\n"
                      + stat)
    if SERIES_OUT.exists():
        shutil.rmtree(SERIES_OUT)
    SERIES_OUT.mkdir(parents=True)
    base = git("rev-parse", source.BASE_REF + "^{commit}")
    git("-c", "core.abbrev=12", "format-patch", "-q", "--cover-letter",
        f"--base={base}",
        "--no-signature", "-o", str(SERIES_OUT), f"{base}..{tip}",
        env=_ident_env(len(made) + 1))
    cover = next(SERIES_OUT.glob("0000-cover-letter.patch"))
    text = cover.read_text()
    if "*** SUBJECT HERE ***" not in text or "*** BLURB HERE ***" not in text:
        raise WbError("format-patch's cover letter has no placeholders")
    text = text.replace("*** SUBJECT HERE ***", SUBJECT)
    text = text.replace("*** BLURB HERE ***\n", cover_blurb(len(made)))
    # Not *.patch: `git am out/series/*.patch` stops at an empty patch.
    # `git send-email out/series` still sends it first.
    cover.with_suffix(".txt").write_text(text)
    cover.unlink()
    for k, (commit, subject) in enumerate(made, 1):
        print(f"  {k:2d}/{len(made)} {commit[:12]} {subject}")
    log(f"{len(made)} patches and the cover letter in {SERIES_OUT} "
        f"(base {base[:12]}, tip {tip[:12]} = assembled tree)")
    return made, base


# ---------------------------------------------------------------- check --


def _wt(*args, check=True, env=None):
    return git(*args, cwd=WORKTREE, check=check, env=env)


def _fresh_worktree(base):
    if WORKTREE.exists():
        ok = run(["git", "-C", WORKTREE, "rev-parse", "--git-dir"],
                 check=False, capture=True, quiet=True).returncode == 0
        if not ok:
            shutil.rmtree(WORKTREE)
    git("worktree", "prune")
    if not WORKTREE.exists():
        git("worktree", "add", "-q", "--detach", str(WORKTREE), base)
    else:
        _wt("am", "--abort", check=False)
        _wt("checkout", "-q", "-f", "--detach", base)
        _wt("clean", "-q", "-f", "-d", "-x")
    if _wt("status", "--porcelain") or _wt("rev-parse", "HEAD") != base:
        raise WbError(f"{WORKTREE} is not a clean wb-base checkout")


def _kmake(*targets, log_to=None, extra=()):
    """make in the check worktree, niced: other builds share the cores.

    Through ccache: a step whose headers change only under a symbol that is
    not set yet (vm_event_item.h before X86_MODULE_MAP) preprocesses to the
    same text, and a second run rebuilds from the cache.
    """
    jobs = os.environ.get("WB_JOBS", str(os.cpu_count() or 1))
    cmd = ["nice", "-n", "10", "make", "-C", str(WORKTREE), f"O={OBJ}",
           f"ARCH={ARCH}", f"-j{jobs}", *extra, *targets]
    env = dict(os.environ)
    if shutil.which("ccache"):
        cmd.insert(cmd.index(f"ARCH={ARCH}"), "CC=ccache gcc")
        env.update(CCACHE_DIR=str(CCACHE), CCACHE_MAXSIZE="4G")
    with open(log_to, "w") if log_to else open(os.devnull, "w") as f:
        res = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                             env=env)
    return res.returncode


def _warnings(logfile):
    """{(path, kind, message)} of compiler and sparse diagnostics in a log."""
    found = []
    prefix = str(WORKTREE) + "/"
    for ln in open(logfile, errors="replace"):
        m = _WARN.match(ln.strip())
        if not m:
            continue
        path = m.group("file")
        path = path[len(prefix):] if path.startswith(prefix) else \
            os.path.normpath(path).lstrip("./")
        found.append((path, m.group("kind"), m.group("msg").strip()))
    return found


def _config_step(final):
    """The demo .config for the checked-out step; options not there yet."""
    OBJ.mkdir(parents=True, exist_ok=True)
    if final:
        frags = kconfig.fragments(flows_config())
        run(["sh", WORKTREE / "scripts/kconfig/merge_config.sh", "-n", "-Q",
             "-O", OBJ, *frags], cwd=WORKTREE, env={"ARCH": ARCH},
            capture=True, quiet=True)
        if _kmake("olddefconfig"):
            raise WbError("olddefconfig failed on the last step")
        shutil.copy(OBJ / ".config", DEMO_CONFIG)
    else:
        shutil.copy(DEMO_CONFIG, OBJ / ".config")
        if _kmake("olddefconfig"):
            raise WbError("olddefconfig failed")
    have = kconfig.parse((OBJ / ".config").read_text())
    return sorted(f"{s}={v}" for s, v in kconfig.requested(
        flows_config()).items() if have.get(s, "n") != v)


def flows_config():
    return os.environ.get("WB_SERIES_CONFIG", "wb")


def _objects(cfiles):
    """The .o of each C file that the demo config builds (after a build)."""
    return [f[:-2] + ".o" for f in cfiles if (OBJ / (f[:-2] + ".o")).exists()]


# What kbuild prints, and goes on without sparse, when the base's
# scripts/checker-valid.sh (6.13 on) refuses the sparse it finds.
_CHECKER_SKIPPED = re.compile(r"C=\d+ specified, but \S+ is not available or "
                              r"not up to date")


_CHECKER = "sparse"


def checker_skipped(text):
    """The line of a build log saying that kbuild skipped sparse, or None."""
    for ln in text.splitlines():
        if _CHECKER_SKIPPED.search(ln):
            return ln.strip()
    return None


def _w1_sparse(cfiles, logfile):
    objs = _objects(cfiles)
    if not objs:
        return [], objs
    _kmake(*objs, log_to=logfile, extra=("W=1", "C=2", f"CHECK={_CHECKER}"))
    skipped = checker_skipped(logfile.read_text(errors="replace"))
    if skipped:
        raise WbError(f"sparse did not run ({logfile}: {skipped}): "
                      f"a W=1/sparse result would be W=1 only")
    return _warnings(logfile), objs


def _debian_env():
    """PATH with the system python first: the Debian packages installed
    (python3-ply for checkpatch's spdxcheck.py) are for /usr/bin/python3."""
    return {**os.environ,
            "PATH": "/usr/bin:/bin:" + os.environ.get("PATH", "")}


def _checkpatch(patch, logfile):
    with open(patch) as f:
        res = subprocess.run(
            ["perl", "scripts/checkpatch.pl", "--strict", "--terse",
             "--no-summary", "-"], stdin=f,
            cwd=WORKTREE, capture_output=True, text=True, env=_debian_env())
    logfile.write_text(res.stdout + res.stderr)
    issues = [ln for ln in res.stdout.splitlines()
              if re.search(r": (ERROR|WARNING|CHECK):", ln)]
    if "Traceback" in res.stderr:
        issues.append("a checkpatch helper failed (spdxcheck.py needs "
                      "python3-ply and python3-git): "
                      + res.stderr.strip().splitlines()[-1])
    if res.returncode and not issues:
        issues = [f"checkpatch exited {res.returncode}: "
                  f"{(res.stderr or res.stdout).strip()[-300:]}"]
    return issues


def _maintainers(added):
    """New files that only the catch-all 'open list' would be sent to."""
    orphans = []
    for f in added:
        res = subprocess.run(
            ["perl", "scripts/get_maintainer.pl", "--nogit",
             "--nogit-fallback", "--norolestats", "--nol", "-f", f],
            cwd=WORKTREE, capture_output=True, text=True)
        if res.returncode or not res.stdout.strip():
            orphans.append(f)
    return orphans


def check():
    t0 = time.monotonic()
    source.deps(extra=CHECK_PACKAGES)
    made, base = write_series()
    patches = sorted(SERIES_OUT.glob("*.patch"))
    if len(patches) != len(made):
        raise WbError(f"{len(patches)} patches in {SERIES_OUT}, "
                      f"{len(made)} commits")
    if CHECK_OUT.exists():
        shutil.rmtree(CHECK_OUT)
    CHECK_OUT.mkdir(parents=True)
    _fresh_worktree(base)
    # A sparse the base accepts (built from a pinned Debian source where
    # the system's is refused): else kbuild skips sparse and passes.
    global _CHECKER
    _CHECKER = sparse.tool(WORKTREE)
    log(f"sparse: {_CHECKER}")
    log(f"applying {len(patches)} patches to a clean wb-base in {WORKTREE}")
    steps = []
    for k, (patch, (commit, subject)) in enumerate(zip(patches, made), 1):
        st = {"k": k, "subject": subject, "problems": [], "notes": []}
        steps.append(st)
        res = run(["git", "-C", WORKTREE, "am", "-q", "--whitespace=error",
                   patch], env=_ident_env(k), check=False, capture=True,
                  quiet=True)
        if res.returncode:
            st["apply"] = "FAIL"
            st["problems"].append(f"git am: {res.stderr.strip()[-500:]}")
            break
        st["commit"] = _wt("rev-parse", "HEAD")
        st["apply"] = "ok" if _wt("rev-parse", "HEAD^{tree}") == \
            git("rev-parse", commit + "^{tree}") else "tree differs"
        if st["apply"] != "ok":
            st["problems"].append("the applied tree differs from the series "
                                  "commit")
        issues = _checkpatch(patch, CHECK_OUT / f"{k:02d}-checkpatch.log")
        st["checkpatch"] = f"{len(issues)} issues" if issues else "clean"
        st["problems"] += [f"checkpatch: {i}" for i in issues]
        st["files"] = _wt("diff", "--name-only", "HEAD~1", "HEAD").split()
    applied = [s for s in steps if "commit" in s]
    if len(applied) != len(made):
        return _summary(steps, t0, None)
    final = applied[-1]["commit"]
    touched = set(_wt("diff", "--name-only", base, final).split())
    added = _wt("diff", "--name-only", "--diff-filter=A", base,
                final).split()
    # Final tree against the assembled tree (build/linux HEAD).
    diff = git("diff", "--stat", final, "HEAD")
    # Demo config from the last step, then every step from the first.
    missing_final = _config_step(final=True)
    if missing_final:
        raise WbError("the demo config's options are not all met on the last "
                      "step:\n  " + "\n  ".join(missing_final))
    raw_w1 = {}
    for st in applied:
        k = st["k"]
        _wt("checkout", "-q", "--detach", st["commit"])
        missing = _config_step(final=False)
        if missing:
            st["notes"].append(f"{len(missing)} demo options not available "
                               f"yet: {' '.join(missing)}")
        t = time.monotonic()
        logfile = CHECK_OUT / f"{k:02d}-build.log"
        rc = _kmake("bzImage", "modules", log_to=logfile)
        st["build_s"] = time.monotonic() - t
        warns = _warnings(logfile)
        ours = [w for w in warns if w[0] in touched]
        if rc:
            st["build"] = "FAIL"
            tail = open(logfile, errors="replace").read().splitlines()[-15:]
            st["problems"].append(f"build failed (exit {rc}), {logfile}:\n"
                                  + "\n".join("      " + t for t in tail))
        else:
            st["build"] = "ok"
        for w in ours:
            st["problems"].append(f"build {w[1]}: {w[0]}: {w[2]}")
        if len(warns) > len(ours):
            st["notes"].append(f"{len(warns) - len(ours)} compiler warnings "
                               f"in files the series does not touch")
        cfiles = [f for f in (sorted(touched) if st is applied[-1]
                              else st["files"])
                  if f.endswith(".c") and not f.startswith("tools/")]
        if not rc:
            raw_w1[k], st["w1_objs"] = _w1_sparse(
                cfiles, CHECK_OUT / f"{k:02d}-w1-sparse.log")
        log(f"step {k}/{len(made)}: build {st['build']} "
            f"({st['build_s']:.0f}s), checkpatch {st['checkpatch']}")
    # W=1 and sparse on wb-base for the files that existed there: only new
    # diagnostics count.
    existing = sorted({o for objs in (s.get("w1_objs", []) for s in applied)
                       for o in objs if o[:-2] + ".c" not in added})
    _wt("checkout", "-q", "--detach", base)
    _config_step(final=False)
    base_w = []
    if existing:
        base_w, _ = _w1_sparse([o[:-2] + ".c" for o in existing],
                               CHECK_OUT / "00-base-w1-sparse.log")
    _wt("checkout", "-q", "--detach", final)
    for st in applied:
        if st["k"] not in raw_w1:
            st["w1"] = "not run"
            continue
        pool = list(base_w)
        new = []
        for w in raw_w1[st["k"]]:
            if w[0] not in touched:
                continue
            if w in pool:
                pool.remove(w)
            else:
                new.append(w)
        objs = st.get("w1_objs", [])
        st["w1"] = (f"{len(new)} new" if new else "clean") + \
            f" ({len(objs)} objects)"
        st["problems"] += [f"W=1/sparse {w[1]}: {w[0]}: {w[2]}" for w in new]
    orphans = _maintainers(added)
    return _summary(steps, t0, diff, orphans, added)


def _summary(steps, t0, diff, orphans=(), added=()):
    print()
    print("step  apply  build             checkpatch  W=1+sparse          "
          "subject")
    bad = 0
    for st in steps:
        build = st.get("build", "-")
        if "build_s" in st:
            build += f" {st['build_s'] / 60:.1f}min"
        print(f"{st['k']:2d}    {st.get('apply', '-'):5s}  {build:16s}  "
              f"{st.get('checkpatch', '-'):10s}  {st.get('w1', '-'):18s}  "
              f"{st['subject'][:60]}")
        for n in st["notes"]:
            print(f"        note: {n}")
        for p in st["problems"]:
            print(f"        PROBLEM: {p}")
        bad += len(st["problems"])
    if diff is None:
        print("final tree: not reached")
        bad += 1
    elif diff:
        print(f"final tree differs from the assembled tree:\n{diff}")
        bad += 1
    else:
        print("final tree: equal to the assembled tree (git diff empty)")
    if added:
        if orphans:
            print("MAINTAINERS: no entry for " + ", ".join(orphans))
            bad += 1
        else:
            print(f"MAINTAINERS: all {len(added)} new files have an entry")
    mins = (time.monotonic() - t0) / 60
    verdict = f"FAILED, {bad} problems" if bad else "passed"
    print(f"series-check: {verdict} in {mins:.1f} min; logs in {CHECK_OUT}")
    if bad:
        raise WbError(f"{bad} problems (see above)")
    return 0
