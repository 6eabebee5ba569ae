# SPDX-License-Identifier: GPL-2.0
"""Parsers: console splats, x86 ptdump, /proc/meminfo and KTAP (via kunit.py)."""

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import SRC, WbError

# A console line matching any of these fails the run, whatever the tests said.
# Each class has a golden line in testdata/ (kernel-reports.splats.in), in the
# format of the kernel source named here.
SPLAT_PATTERNS = [
    # kernel/panic.c __warn(), include/asm-generic/bug.h CUT_HERE
    r"WARNING: CPU: \d+ PID: \d+",
    r"------------\[ cut here \]------------",
    # BUG: (KASAN, KFENCE, Bad page state, sleeping in atomic, soft lockup,
    # lockdep's "[ BUG: Invalid wait context ]", ...), BUG(), oopses, panics
    r"\bBUG: ",
    r"kernel BUG at ",
    r"\bOops: ",
    r"general protection fault",
    r"PANIC: double fault",
    r"Kernel panic - not syncing",
    # mm/slub.c __slab_bug(): "BUG <cache> (<print_tainted()>): <reason>"
    r"\bBUG \S+ \((?:Not tainted|Tainted: [^)]*)\): ",
    # mm/kasan/report.c, lib/ubsan.c
    r"KASAN: ",
    r"UBSAN: ",
    # kernel/locking/lockdep.c: every report header
    r"WARNING: possible (circular|recursive) locking",
    r"WARNING: inconsistent lock state",
    r"WARNING: .*lock.* detected",
    r"WARNING: suspicious RCU usage",
    r"WARNING: held lock freed!",
    r"WARNING: \S+ still has locks held!",
    r"WARNING: lock held when returning to user space!",
    r"WARNING: Nested lock was not taken",
    r"WARNING: bad contention detected!",
    r"WARNING: chain_key collision",
    r"INFO: possible .*locking",
    r"INFO: trying to register non-static key",
    # kernel/rcu/tree_stall.h, kernel/watchdog.c, kernel/hung_task.c
    r"rcu: INFO: .*detected stall",
    r"rcu_\w+ self-detected stall",
    r"watchdog: BUG: soft lockup",
    r"Watchdog detected hard LOCKUP",
    r"INFO: task .* blocked for more than",
    # arch/x86/mm/dump_pagetables.c
    r"Found insecure W\+X mapping",
    r"Checked W\+X mappings: FAILED",
    # mm/kmemleak.c
    r"kmemleak: \d+ new suspected memory leaks",
    r"unreferenced object 0x",
    # mm/oom_kill.c
    r"\binvoked oom-killer: ",
    r"Out of memory: Killed process",
    # mm/page_alloc.c warn_alloc(), mm/vmalloc.c: allocations made without
    # __GFP_NOWARN that failed. A test that expects them says so (EXPECTABLE).
    r": page allocation failure: order:\d+",
    r": vmalloc error: size \d+",
    # arch/x86/kernel/dumpstack.c: a stack dump, whoever asked for it
    r"(?:^|\] )Call Trace:\s*$",
]
_SPLAT = re.compile("|".join(f"(?:{p})" for p in SPLAT_PATTERNS))
BOOT_BANNER = "Linux version "

# Reports a test may declare it expects, by name, around the code that can
# cause them: it writes "wb: expect NAME begin" and "wb: expect NAME end" to
# /dev/kmsg (guest/lib.sh wb_expect). Between the two, lines of class NAME
# are listed as expected instead of failing the run, and so is the stack
# dump that belongs to one (a "Call Trace:" within CALL_TRACE_LINES after it,
# with no other report in between). Anything else still fails.
EXPECTABLE = {
    # Allocations of upstream code without __GFP_NOWARN that really fail
    # while a test holds memory fragmented on purpose. Failures injected by
    # fail_page_alloc or failslab print nothing (should_fail_alloc_page()
    # returns before warn_alloc()).
    "alloc-failure": [r": page allocation failure: order:\d+",
                      r": vmalloc error: size \d+"],
}
_EXPECTABLE = {k: re.compile("|".join(f"(?:{p})" for p in v))
               for k, v in EXPECTABLE.items()}
_EXPECT_MARK = re.compile(r"\bwb: expect (\S+) (begin|end)\s*$")
_CALL_TRACE = re.compile(SPLAT_PATTERNS[-1])
CALL_TRACE_LINES = 8


def scan(text):
    """([(line number, line)] of splat lines, [(line number, line)] of the
    lines a test declared it expects).

    A log without the kernel banner cannot have been scanned meaningfully, so
    it raises instead of looking clean.
    """
    if BOOT_BANNER not in text:
        raise WbError("console log has no kernel banner: nothing to scan")
    found, expected = [], []
    windows = set()
    last_expected = None    # line number of the last expected report header
    for i, ln in enumerate(text.splitlines()):
        mark = _EXPECT_MARK.search(ln)
        if mark:
            (windows.add if mark.group(2) == "begin"
             else windows.discard)(mark.group(1))
            continue
        if not _SPLAT.search(ln):
            continue
        entry = (i + 1, ln.strip())
        if any(_EXPECTABLE[w].search(ln) for w in windows
               if w in _EXPECTABLE):
            expected.append(entry)
            last_expected = i
        elif (_CALL_TRACE.search(ln) and last_expected is not None
              and i - last_expected <= CALL_TRACE_LINES):
            expected.append(entry)
            last_expected = None
        else:
            found.append(entry)
            last_expected = None
    return found, expected


def splats(text):
    """[(line number, line)] of every splat line in a console log that no
    test declared it expects (see scan())."""
    return scan(text)[0]


_PTDUMP = re.compile(r"^0x([0-9a-f]+)-0x([0-9a-f]+)\s+(\d+)([KMGT])\s(.*?)"
                     r"\s*(pgd|p4d|pud|pmd|pte)\s*$")
LEVEL_SIZE = {"pte": 4 << 10, "pmd": 2 << 20, "pud": 1 << 30}
CLASSES = ("text", "rodata", "data")


def ptdump_entries(text):
    """[(start, end, flags, level)] for every line of an x86 ptdump."""
    out = []
    for ln in text.splitlines():
        m = _PTDUMP.match(ln.strip())
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16),
                        set(m.group(5).split()), m.group(6)))
    return out


def classify(flags):
    """Final permission class of a present leaf, None if not present."""
    if not flags & {"RW", "ro"}:
        return None
    if "NX" not in flags:
        return "wx" if "RW" in flags else "text"
    return "data" if "RW" in flags else "rodata"


def mapping_classes(text):
    """Per class: bytes, bytes_2m, entries_4k, entries_2m (and W+X bytes)."""
    res = {c: {"bytes": 0, "bytes_2m": 0, "entries_4k": 0, "entries_2m": 0}
           for c in CLASSES}
    wx = 0
    for start, end, flags, level in ptdump_entries(text):
        cls = classify(flags)
        if cls is None:
            continue
        size = end - start
        if cls == "wx":
            wx += size
            continue
        if level not in ("pte", "pmd") or size % LEVEL_SIZE[level]:
            raise WbError(f"unexpected module mapping {start:#x}-{end:#x} "
                          f"at level {level}")
        c = res[cls]
        c["bytes"] += size
        if level == "pmd":
            c["bytes_2m"] += size
            c["entries_2m"] += size // LEVEL_SIZE["pmd"]
        else:
            c["entries_4k"] += size // LEVEL_SIZE["pte"]
    return res, wx


# What the guest sends in place of a file it could not read (guest/lib.sh
# wb_put_file), so that "absent on the guest" and "never sent" both show.
MISSING = "wb-missing:"
MODULES_BEGIN, MODULES_END = "---[ Modules ]---", "---[ End Modules ]---"


def missing(text):
    """Whether @text stands for a file the guest did not (or could not) send."""
    return text is None or text.startswith(MISSING)


def ptdump_check(text, loaded):
    """("PASS"|"FAIL", detail) of a module-area ptdump (guest/lib.sh
    wb_ptdump_modules): no W+X byte, and nothing vacuous. The dump must hold
    both module-area markers and only lines the parser reads; with the module
    set @loaded, it must map text, rodata and data."""
    if missing(text):
        return "FAIL", "guest did not send the ptdump"
    lines = [ln.strip() for ln in text.splitlines()]
    if MODULES_BEGIN not in lines or MODULES_END not in lines:
        return "FAIL", "no module area in the dump: empty or truncated"
    body = [ln for ln in lines[lines.index(MODULES_BEGIN) + 1:
                               lines.index(MODULES_END)] if ln]
    bad = [ln for ln in body if not _PTDUMP.match(ln)]
    if bad:
        return "FAIL", f"{len(bad)} unparsable lines, first {bad[0][:80]!r}"
    try:
        classes, wx = mapping_classes("\n".join(body))
    except WbError as e:
        return "FAIL", str(e)
    if wx:
        return "FAIL", f"{wx} W+X bytes"
    sizes = ", ".join(f"{c} {classes[c]['bytes']}" for c in CLASSES)
    empty = [c for c in CLASSES if not classes[c]["bytes"]]
    if loaded and empty:
        return "FAIL", (f"no {'/'.join(empty)} mapping with the module set "
                        f"loaded: not a dump of it ({sizes} bytes)")
    return "PASS", f"0 W+X bytes ({sizes} bytes)"


def vmalloc_contig_off_check(text):
    """("PASS"|"FAIL", detail) of vmalloc_contig/stats on a vmalloc_contig=off
    boot: off, and no allocation served by contiguous or mapped pages. Every
    counter must be there: a missing one is not a zero."""
    if missing(text):
        return "FAIL", "guest did not send vmalloc_contig/stats"
    st = counters(text)
    need = ("enabled", "contig_allocs", "mapped_allocs")
    absent = [k for k in need if k not in st]
    if absent:
        return "FAIL", f"stats lack {', '.join(absent)}: {st}"
    ok = st["enabled"] == 0 and st["contig_allocs"] == 0 \
        and st["mapped_allocs"] == 0
    return ("PASS" if ok else "FAIL"), \
        ", ".join(f"{k} {st[k]}" for k in need)


def meminfo(text):
    """{field: kB} of /proc/meminfo."""
    out = {}
    for ln in text.splitlines():
        key, _, rest = ln.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0])
    return out


def interrupts(text):
    """{name: count summed over CPUs} of /proc/interrupts, for the named
    (non-numeric) lines: CAL, TLB, RES, LOC, ..."""
    lines = text.splitlines()
    ncpu = len(lines[0].split()) if lines else 0
    out = {}
    for ln in lines[1:]:
        name, _, rest = ln.partition(":")
        name = name.strip()
        counts = rest.split()[:ncpu]
        if name and not name.isdigit() and counts and \
           all(c.isdigit() for c in counts):
            out[name] = sum(int(c) for c in counts)
    return out


EXECMEM_FIELDS = ("areas", "area_kb", "busy_kb", "failed_areas",
                  "uncached_allocs")


def execmem_caches(text):
    """{cache: {field: int}} of /sys/kernel/debug/execmem/caches (a header
    line, then one line per cache); {} for a missing or unreadable file."""
    out = {}
    if missing(text):
        return out
    lines = text.splitlines()
    if not lines or lines[0].split() != ["cache", *EXECMEM_FIELDS]:
        return out
    for ln in lines[1:]:
        parts = ln.split()
        if len(parts) == 1 + len(EXECMEM_FIELDS) and \
                all(p.isdigit() for p in parts[1:]):
            out[parts[0]] = dict(zip(EXECMEM_FIELDS, map(int, parts[1:])))
    return out


def counters(text):
    """{key: int} of a "key value" per line file (debugfs stats)."""
    out = {}
    for ln in text.splitlines():
        parts = ln.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _cases(group):
    for case in group.get("test_cases", []):
        yield case
    for sub in group.get("sub_groups", []):
        yield from _cases(sub)


_SKIP_ALL = re.compile(r"^\s*1\.\.0\s*#\s*SKIP\b(.*)$", re.M)


def ktap(log_text, kunit_py=None):
    """Parse KTAP/TAP with the kernel's kunit.py; {status: [case names]}."""
    kunit_py = kunit_py or SRC / "tools/testing/kunit/kunit.py"
    if not Path(kunit_py).exists():
        raise WbError(f"{kunit_py} missing: run 'wb tree' first")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "log", Path(tmp) / "result.json"
        src.write_text(log_text)
        proc = subprocess.run([sys.executable, str(kunit_py), "parse",
                               f"--json={dst}", str(src)],
                              capture_output=True, text=True,
                              env={"PYTHONDONTWRITEBYTECODE": "1",
                                   "PATH": "/usr/bin:/bin"})
        if not dst.exists():
            raise WbError(f"kunit.py parse produced no result:\n"
                          f"{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
        data = json.loads(dst.read_text())
    out = {"PASS": [], "FAIL": [], "SKIP": [], "ERROR": []}
    skip_all = _SKIP_ALL.search(log_text)
    if skip_all and not any(True for _ in _cases(data)):
        # A plan of 0 with a SKIP directive: the whole test skipped itself.
        out["SKIP"].append(skip_all.group(1).strip())
        return out
    for case in _cases(data):
        out.setdefault(case["status"], []).append(
            case["name"] or "(result missing: crashed or truncated)")
    if not any(out.values()):
        # No result at all: no KTAP, or nothing kunit.py could read.
        # Its [ERROR] lines say why, without their wall-clock timestamps.
        why = [re.sub(r"^\[[\d:]+\]\s*", "", ln)
               for ln in proc.stdout.splitlines() if "[ERROR]" in ln]
        out["ERROR"].append("kunit.py parse found no results: " +
                            " ".join(why or ["no error given"]))
    return out
