# SPDX-License-Identifier: GPL-2.0
"""The iTLB model: a QEMU TCG plugin traces the guest kernel's
instruction-fetch pages, and an offline model replays them through a named
TLB geometry using the page sizes of the same boot's kernel ptdump.

Pieces:
  workbench/itlb/itlb.c  the plugin; its header comment documents the trace
  workbench/itlb/mark.c  "wbmark start|stop", the guest side of the window
  this file              build, QEMU arguments, trace reader, ptdump page map,
                         the TLB model and its self-test

The model (SKYLAKE_SP, after Intel Skylake-SP, per vCPU, LRU everywhere):
  - L1 iTLB for 4K pages: 64 entries, fully associative.  The real part is
    128 entries 8-way; 64 fully associative is the model we name and keep.
  - L1 iTLB for 2M pages: a separate 8-entry fully associative array.
  - L2 (STLB): 1536 entries, 12-way (128 sets), unified: holds 4K and 2M
    entries; the set is the low bits of the page number at the entry's size.
    Non-inclusive: an L1 miss that hits L2 refills L1; a miss in both is a
    page walk and fills both.  L1 evictions do not touch L2.
  - 1G pages are held as 2M-class entries: each 2M slice of a 1G page is its
    own entry in the 2M array and in L2 (splintered).
  - An address the ptdump does not map counts as 4K and is reported apart.
Only kernel fetches are modelled: user-space entries competing for the same
TLB, and flushes, are not.
"""

import bisect
import shutil
import struct
import subprocess
import sys
import tempfile
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .common import WB_DIR, WbError
from .results import ptdump_entries

SRC_DIR = WB_DIR / "itlb"
PLUGIN_SRC = SRC_DIR / "itlb.c"
MARK_SRC = SRC_DIR / "mark.c"

# The window markers: the only place these addresses are chosen.  mark.c's
# two functions are linked here and the plugin is told the same values.
# Within 2G of the marker's .text (rel32 calls), far above the static
# busybox at 0x400000 and its brk, far below mmap and the stack.
MARK_START = 0x6a000000
MARK_STOP = 0x6a001000

KERNEL_BASE = 0xffff800000000000
PAGE_SHIFT = 12
SZ_4K, SZ_2M, SZ_1G = 4 << 10, 2 << 20, 1 << 30

TRACE_MAGIC = b"WBITLB01"
TRACE_VERSION = 1


# ---- build and QEMU arguments -----------------------------------------------

def _gcc(args, what):
    try:
        res = subprocess.run(["gcc", *args], capture_output=True, text=True)
    except FileNotFoundError as e:
        raise WbError(f"gcc not found: cannot build the {what} ({e})") from e
    if res.returncode != 0:
        raise WbError(f"building the {what} failed:\n"
                      + (res.stderr or res.stdout).strip()[-3000:])


def _symbols(binary):
    res = subprocess.run(["nm", str(binary)], capture_output=True, text=True)
    if res.returncode != 0:
        raise WbError(f"nm {binary} failed: {res.stderr.strip()}")
    out = {}
    for ln in res.stdout.splitlines():
        parts = ln.split()
        if len(parts) == 3:
            out[parts[2]] = int(parts[0], 16)
    return out


def build(outdir):
    """Compile the plugin and the guest marker into @outdir.

    Returns (plugin .so, marker binary).  The marker's entry addresses are
    checked against MARK_START/MARK_STOP so the plugin cannot be told stale
    values.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    so, mark = outdir / "itlb.so", outdir / "wbmark"
    # No QEMU header: itlb.c declares the API itself.
    _gcc(["-O2", "-Wall", "-shared", "-fPIC", "-fvisibility=hidden",
          "-o", str(so), str(PLUGIN_SRC)], "iTLB plugin")
    # No libc in the guest: static, no start files, raw system calls.
    _gcc(["-O2", "-Wall", "-static", "-nostdlib", "-fno-pie", "-no-pie",
          "-fno-stack-protector", "-fcf-protection=none",
          "-fno-asynchronous-unwind-tables", "-Wl,--build-id=none",
          f"-Wl,--section-start=.wbmark_start={MARK_START:#x}",
          f"-Wl,--section-start=.wbmark_stop={MARK_STOP:#x}",
          "-o", str(mark), str(MARK_SRC)], "guest marker")
    syms = _symbols(mark)
    for name, want in (("wbmark_start", MARK_START),
                       ("wbmark_stop", MARK_STOP)):
        if syms.get(name) != want:
            raise WbError(f"{mark}: {name} linked at "
                          f"{syms.get(name, 0):#x}, expected {want:#x}")
    return so, mark


def qemu_args(plugin_so, trace_path=None, counts_path=None):
    """Extra QEMU arguments that load the plugin, tracing into @trace_path
    and/or counting translation block executions into @counts_path.

    "-d plugin" lets the plugin's one-line summary reach QEMU's stderr.
    """
    opts = {"out": trace_path, "counts": counts_path}
    paths = {k: Path(v).resolve() for k, v in opts.items() if v}
    if not paths:
        raise WbError("the iTLB plugin needs a trace or a counts file")
    so = Path(plugin_so).resolve()
    # QEMU splits -plugin's value at commas and has no escape for them.
    for p in (so, *paths.values()):
        if "," in str(p):
            raise WbError(f"{p}: QEMU cannot take a comma in a plugin path")
    files = "".join(f"{k}={v}," for k, v in paths.items())
    return ["-plugin", f"{so},{files}start={MARK_START:#x},"
            f"stop={MARK_STOP:#x}", "-d", "plugin"]


# ---- trace ------------------------------------------------------------------

def read_trace(path):
    """The plugin's output file as {"vcpus": [{"insns", "tb_execs",
    "pages"}], "starts", "stops", "truncated"}; pages is an array('Q') of 4K
    page numbers (vaddr >> 12)."""
    data = Path(path).read_bytes()
    if len(data) < 64 or data[:8] != TRACE_MAGIC:
        raise WbError(f"{path}: not an iTLB trace (bad magic or too short)")
    ver, nr, start, stop, starts, stops, trunc = struct.unpack_from("<7Q",
                                                                    data, 8)
    if ver != TRACE_VERSION:
        raise WbError(f"{path}: trace version {ver}, expected "
                      f"{TRACE_VERSION}")
    off, vcpus = 64, []
    for cpu in range(nr):
        if off + 24 > len(data):
            raise WbError(f"{path}: truncated at vCPU {cpu} header")
        insns, tbs, n = struct.unpack_from("<3Q", data, off)
        off += 24
        if off + 8 * n > len(data):
            raise WbError(f"{path}: truncated in vCPU {cpu} pages")
        pages = array("Q")
        pages.frombytes(data[off:off + 8 * n])
        if sys.byteorder != "little":
            pages.byteswap()
        off += 8 * n
        vcpus.append({"insns": insns, "tb_execs": tbs, "pages": pages})
    if off != len(data):
        raise WbError(f"{path}: {len(data) - off} trailing bytes")
    return {"vcpus": vcpus, "start": start, "stop": stop, "starts": starts,
            "stops": stops, "truncated": bool(trunc)}


def write_trace(path, vcpus, starts=1, stops=1):
    """Write @vcpus ([(insns, tb_execs, pages)]) in the plugin's format."""
    out = [TRACE_MAGIC, struct.pack("<7Q", TRACE_VERSION, len(vcpus),
                                    MARK_START, MARK_STOP, starts, stops, 0)]
    for insns, tbs, pages in vcpus:
        out.append(struct.pack("<3Q", insns, tbs, len(pages)))
        out.append(struct.pack(f"<{len(pages)}Q", *pages))
    Path(path).write_bytes(b"".join(out))


# ---- page-size map ----------------------------------------------------------

LEVEL_PAGE = {"pte": SZ_4K, "pmd": SZ_2M, "pud": SZ_1G}


def page_map(ptdump_text):
    """Sorted [(start, end, page size)] of the present leaves of an x86 ptdump
    (/sys/kernel/debug/page_tables/kernel).

    A ptdump line merges neighbouring leaves of one level and one set of
    flags, so its level gives the page size and its range may span many
    pages.  Not-present ranges are left out: nothing is fetched from them.
    """
    out = []
    for start, end, flags, level in ptdump_entries(ptdump_text):
        if not flags & {"RW", "ro"}:
            continue
        size = LEVEL_PAGE.get(level)
        if size is None or start % size or end % size:
            raise WbError(f"ptdump: unexpected leaf {start:#x}-{end:#x} "
                          f"at level {level}")
        out.append((start, end, size))
    out.sort()
    for (_, e0, _), (s1, _, _) in zip(out, out[1:]):
        if s1 < e0:
            raise WbError(f"ptdump: overlapping ranges at {s1:#x}")
    return out


class _PageSizes:
    """4K page number -> (entry class, tag, unmapped), memoised: a trace
    revisits a small set of pages millions of times.  Class 0 is a 4K entry
    tagged by the 4K page number, class 1 a 2M one tagged by vaddr >> 21."""

    def __init__(self, pmap):
        self.pmap = pmap
        self.starts = [r[0] for r in pmap]
        self.memo = {}

    def lookup(self, page):
        hit = self.memo.get(page)
        if hit is not None:
            return hit
        va = page << PAGE_SHIFT
        i = bisect.bisect_right(self.starts, va) - 1
        size, unmapped = SZ_4K, True
        if i >= 0 and va < self.pmap[i][1]:
            size, unmapped = self.pmap[i][2], False
        # 1G pages are held as 2M-class entries, one per 2M slice.
        if size == SZ_4K:
            hit = (0, page, unmapped)
        else:
            hit = (1, va >> 21, False)
        self.memo[page] = hit
        return hit


# ---- TLB model --------------------------------------------------------------

@dataclass(frozen=True)
class Geometry:
    name: str
    l1_4k_entries: int
    l1_4k_ways: int
    l1_2m_entries: int
    l1_2m_ways: int
    l2_entries: int
    l2_ways: int

    def describe(self):
        def assoc(entries, ways):
            if entries == ways:
                return f"{entries}-entry fully associative"
            return f"{entries}-entry {ways}-way"
        return (f"{self.name}: per-vCPU LRU; L1 iTLB 4K "
                f"{assoc(self.l1_4k_entries, self.l1_4k_ways)}; L1 iTLB 2M "
                f"{assoc(self.l1_2m_entries, self.l1_2m_ways)} "
                f"(1G pages held as 2M-class entries); L2 STLB "
                f"{assoc(self.l2_entries, self.l2_ways)} unified 4K+2M, "
                f"non-inclusive; unmapped fetches as 4K")


SKYLAKE_SP = Geometry("skylake-sp-itlb", 64, 64, 8, 8, 1536, 12)


class _Lru:
    """A set-associative LRU array; fully associative when sets == 1."""

    def __init__(self, entries, ways):
        if entries % ways:
            raise WbError(f"TLB of {entries} entries is not {ways}-way")
        self.nsets, self.ways = entries // ways, ways
        self.sets = [OrderedDict() for _ in range(self.nsets)]

    def access(self, key, index):
        """True on a hit (made most recent); on a miss, fill and evict LRU."""
        s = self.sets[index % self.nsets]
        if key in s:
            s.move_to_end(key)
            return True
        if len(s) >= self.ways:
            s.popitem(last=False)
        s[key] = True
        return False


def _pages_of(trace):
    """[(insns or None, pages)] per vCPU from a read_trace() dict or a plain
    list of per-vCPU page sequences."""
    if isinstance(trace, dict):
        return [(v["insns"], v["pages"]) for v in trace["vcpus"]]
    return [(None, pages) for pages in trace]


def simulate(trace, pmap, geometry=SKYLAKE_SP):
    """Replay @trace through @geometry, one TLB set per vCPU.

    @trace: read_trace() output, or a list (one per vCPU) of 4K page number
    sequences; @pmap: page_map() output.  Returns {"fetches", "lookups",
    "l1_misses", "misses", "unmapped", "per_vcpu", "model"}: fetches are
    kernel instructions executed (the lookup count for a plain list),
    lookups the page references replayed (a trace drops immediate repeats,
    which always hit), misses the page walks (missed L1 and L2), unmapped
    the lookups whose page the ptdump does not map.
    """
    sizes = _PageSizes(pmap)
    lookup = sizes.lookup
    res = {"fetches": 0, "lookups": 0, "l1_misses": 0, "misses": 0,
           "unmapped": 0, "per_vcpu": [], "model": geometry.describe()}
    for insns, pages in _pages_of(trace):
        l1 = (_Lru(geometry.l1_4k_entries, geometry.l1_4k_ways),
              _Lru(geometry.l1_2m_entries, geometry.l1_2m_ways))
        l2 = _Lru(geometry.l2_entries, geometry.l2_ways)
        l1_misses = misses = unmapped = 0
        for page in pages:
            cls, tag, unmap = lookup(page)
            unmapped += unmap
            if l1[cls].access(tag, tag):
                continue
            l1_misses += 1
            # The fill of L1 happened in access(); L2 holds both classes.
            if not l2.access((cls, tag), tag):
                misses += 1
        cpu = {"fetches": len(pages) if insns is None else insns,
               "lookups": len(pages), "l1_misses": l1_misses,
               "misses": misses, "unmapped": unmapped}
        res["per_vcpu"].append(cpu)
        for k in ("fetches", "lookups", "l1_misses", "misses", "unmapped"):
            res[k] += cpu[k]
    return res


# ---- self-test --------------------------------------------------------------

_TEXT = 0xffffffff81000000          # 2M aligned, like the kernel text


def _ptdump(*ranges):
    """Synthetic ptdump text for [(start, end, level)]."""
    lines = ["---[ High Kernel Mapping ]---"]
    for start, end, level in ranges:
        pse = "PSE" if level != "pte" else "   "
        lines.append(f"0x{start:016x}-0x{end:016x}  {(end - start) >> 10}K"
                     f"     ro         {pse}         GLB x  {level}")
    return "\n".join(lines) + "\n"


def _check(name, got, want):
    sub = {k: got[k] for k in want}
    return (name, sub == want, f"got {sub}, want {want}")


def _model_cases():
    base = _TEXT >> PAGE_SHIFT
    pte_map = page_map(_ptdump((_TEXT, _TEXT + 8 * SZ_2M, "pte")))
    pmd_map = page_map(_ptdump((_TEXT, _TEXT + 8 * SZ_2M, "pmd")))
    p65 = [base + i for i in range(65)] * 100
    yield _check("65 4K pages x100, 64-entry L1: every lookup misses L1, "
                 "L2 keeps all", simulate([p65], pte_map),
                 {"lookups": 6500, "l1_misses": 6500, "misses": 65})
    yield _check("65 4K pages x100 inside one 2M page: 1 L1 miss, 1 walk",
                 simulate([p65], pmd_map),
                 {"lookups": 6500, "l1_misses": 1, "misses": 1})
    p64 = [base + i for i in range(64)] * 100
    yield _check("64 4K pages x100 fit L1: only cold misses",
                 simulate([p64], pte_map),
                 {"l1_misses": 64, "misses": 64})
    big = [base + i for i in range(2000)] * 3
    big_map = page_map(_ptdump((_TEXT, _TEXT + 2000 * SZ_4K, "pte")))
    yield _check("2000 4K pages x3 (> 12 per L2 set): every lookup walks",
                 simulate([big], big_map),
                 {"lookups": 6000, "l1_misses": 6000, "misses": 6000})
    nine = [base + 512 * i for i in range(9)] * 50
    wide = page_map(_ptdump((_TEXT, _TEXT + 16 * SZ_2M, "pmd")))
    yield _check("9 2M pages x50, 8-entry 2M L1: all miss L1, 9 walks",
                 simulate([nine], wide),
                 {"l1_misses": 450, "misses": 9})
    a = [base + i for i in range(40)] * 10
    b = [base + 1024 + i for i in range(40)] * 10
    two = simulate([a, b], pte_map)
    yield _check("two vCPUs, 40 pages each (80 > 64 if shared): TLBs are "
                 "per CPU, cold misses only", two,
                 {"lookups": 800, "l1_misses": 80, "misses": 80})
    shared = simulate([a, a], pte_map)
    yield _check("two vCPUs, same 40 pages: each CPU walks them once",
                 shared, {"l1_misses": 80, "misses": 80})
    g1 = 0xffff888000000000
    gmap = page_map(_ptdump((g1, g1 + SZ_1G, "pud")))
    gp = [(g1 >> PAGE_SHIFT) + 512 * i for i in range(3)] * 10
    yield _check("3 2M slices of one 1G page: 3 2M-class entries",
                 simulate([gp], gmap), {"l1_misses": 3, "misses": 3})
    un = [0xffffffffa0000 + i for i in range(4)] * 5
    yield _check("unmapped pages count as 4K and are reported",
                 simulate([un], pmd_map),
                 {"lookups": 20, "unmapped": 20, "misses": 4})


def _parse_cases():
    text = (WB_DIR / "testdata" / "synthetic.ptdump.in").read_text()
    got = page_map(text)
    want = [(0xffffffffc0000000, 0xffffffffc0002000, SZ_4K),
            (0xffffffffc0002000, 0xffffffffc0003000, SZ_4K),
            (0xffffffffc0003000, 0xffffffffc0005000, SZ_4K),
            (0xffffffffc0200000, 0xffffffffc0600000, SZ_2M),
            (0xffffffffc0600000, 0xffffffffc0800000, SZ_2M),
            (0xffffffffc0800000, 0xffffffffc0801000, SZ_4K)]
    yield ("page_map of testdata/synthetic.ptdump.in", got == want,
           f"{len(got)} ranges")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t"
        write_trace(path, [(7, 3, [1, 2, 3]), (0, 0, [])])
        t = read_trace(path)
        ok = ([list(v["pages"]) for v in t["vcpus"]] == [[1, 2, 3], []]
              and t["vcpus"][0]["insns"] == 7 and t["starts"] == 1)
        yield ("trace file round trip", ok, f"{t['vcpus']}")


def plugin_smoke(outdir=None):
    """(ok, detail): the plugin builds, QEMU 7.2 loads it and it writes an
    empty, well-formed trace.  No guest runs (-machine none), so it costs a
    compile and a QEMU start; a real trace needs a boot (see module doc)."""
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu or not shutil.which("gcc"):
        return False, "gcc or qemu-system-x86_64 missing"
    with tempfile.TemporaryDirectory() as tmp:
        so, _ = build(outdir or tmp)
        trace = Path(tmp) / "trace"
        cmd = [qemu, "-machine", "none", "-accel", "tcg", "-nodefaults",
               "-display", "none", "-monitor", "stdio",
               *qemu_args(so, trace)]
        try:
            res = subprocess.run(cmd, input="quit\n", capture_output=True,
                                 text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return False, "QEMU did not quit within 60s"
        if res.returncode != 0 or not trace.exists():
            return False, (f"QEMU exit {res.returncode}: "
                           f"{res.stderr.strip()[-500:]}")
        t = read_trace(trace)
        ok = t["starts"] == 0 and all(not v["pages"] for v in t["vcpus"])
        return ok, f"{len(t['vcpus'])} vCPU record(s), window never opened"


def selftest_cases(plugin=True):
    """[(name, ok, detail)]: the model on synthetic traces with known answers,
    the ptdump parser, the trace format and (if @plugin) a plugin load."""
    cases = []
    for gen in (_model_cases, _parse_cases):
        try:
            cases.extend(gen())
        except WbError as e:
            cases.append((gen.__name__, False, str(e)))
    if plugin:
        try:
            ok, detail = plugin_smoke()
        except WbError as e:
            ok, detail = False, str(e)
        cases.append(("plugin builds, loads in QEMU, writes a trace", ok,
                      detail))
    return cases


if __name__ == "__main__":
    # python3 -m wblib.itlb [TRACE PTDUMP]: self-test, or model one run.
    if len(sys.argv) == 3:
        import json
        print(json.dumps(simulate(read_trace(sys.argv[1]),
                                  page_map(Path(sys.argv[2]).read_text())),
                         indent=1))
        sys.exit(0)
    bad = 0
    for name, ok, detail in selftest_cases():
        print(f"{'ok' if ok else 'FAIL'}: {name} ({detail})")
        bad += not ok
    sys.exit(1 if bad else 0)
