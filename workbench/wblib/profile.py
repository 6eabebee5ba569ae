# SPDX-License-Identifier: GPL-2.0
"""wb profile: where the load time of the module set goes, a baseline
against ours.

Boots two kernels, the baseline (--baseline: ours with vmalloc_contig=off,
or the vanilla base kernel) and ours on, under the bench's
instruction-time clock, with guest/scenarios/profile.sh: ftrace's function
profiler (self time, graph-time off) over one load and one unload of the
module set after a warm-up load and unload.  Under -icount shift=0 the
profiler's times are instruction counts (1 ns each), so the two boots can be
compared function by function (vanilla against on tells what the whole
series costs, execmem's caches included; off against on what the API adds).  The profiler adds its own cost to every
call, so totals are larger than the bench's; the differences are what
counts.

Writes out/profile.json and out/profile.md.

wb profile --insns counts instead of timing: the iTLB plugin counts the
executions of every kernel translation block while the one load of the set
runs inside its marker window, and each block's instructions go to the
text symbol at or below its first address (from the same boot's
/proc/kallsyms).  Nothing runs in the guest to measure, so the counts are
exact; what the profiler itself would add is not there.  Only the load
phase.  Writes out/profile-insns.json and out/profile-insns.md.
"""

import bisect
import json
import re

from . import bench, build, guest, itlb, source
from .common import BUILD, OUT, WbError, log

BASELINES = ("off", "vanilla")
PHASES = ("load", "unload")
TOP = 25
# "  name   hits    1234.567 us    ..." of trace_stat/functionN.
_ROW = re.compile(r"^\s*(\S+)\s+(\d+)\s+([\d.]+)\s+us\b")


def parse_stat(text):
    """{function: [hits, self time in us]} of one trace_stat/functionN."""
    rows = {}
    for ln in text.splitlines():
        m = _ROW.match(ln)
        if m:
            rows[m.group(1)] = [int(m.group(2)), float(m.group(3))]
    return rows


def phase_table(files, phase):
    """One phase's tables summed over the CPUs."""
    total = {}
    tables = [v for k, v in files.items()
              if re.fullmatch(rf"profile-{phase}-cpu\d+", k)]
    if not tables:
        raise WbError(f"no profile-{phase}-cpu* tables in the boot's files")
    for text in tables:
        for fn, (hits, us) in parse_stat(text).items():
            t = total.setdefault(fn, [0, 0.0])
            t[0] += hits
            t[1] += us
    return total


# "ffffffff81000000 T name" or "ffffffffc0001000 t name\t[module]".
_SYM = re.compile(r"^([0-9a-f]+) [tTwW] (\S+)")


def parse_kallsyms(text):
    """Sorted [(address, name)] of the text symbols in @text."""
    return sorted((int(m.group(1), 16), m.group(2))
                  for m in map(_SYM.match, text.splitlines()) if m)


def insns_table(counts, syms):
    """{function: [block executions, instructions]} of the plugin's counts=
    lines ("VADDR INSNS EXECS"), each block at the symbol at or below its
    first address of @syms (parse_kallsyms()), "?" below the first one."""
    addrs = [a for a, _ in syms]
    total = {}
    for ln in counts.splitlines():
        f = ln.split()
        try:
            va, insns, execs = int(f[0], 16), int(f[1]), int(f[2])
        except (IndexError, ValueError):
            raise WbError(f"bad line in the plugin's counts: {ln!r}")
        i = bisect.bisect_right(addrs, va) - 1
        t = total.setdefault(syms[i][1] if i >= 0 else "?", [0, 0])
        t[0] += execs
        t[1] += insns * execs
    return total


def compare(base, on, top=TOP):
    """Totals and the @top functions whose self cost differs most, @base
    (the baseline's table) against @on."""
    names = set(base) | set(on)
    rows = []
    for fn in names:
        h0, t0 = base.get(fn, (0, 0.0))
        h1, t1 = on.get(fn, (0, 0.0))
        rows.append({"function": fn, "hits_base": h0, "hits_on": h1,
                     "self_base": round(t0, 3), "self_on": round(t1, 3),
                     "delta": round(t1 - t0, 3)})
    rows.sort(key=lambda r: -abs(r["delta"]))
    return {"total": {"base": round(sum(t for _, t in base.values()), 3),
                      "on": round(sum(t for _, t in on.values()), 3)},
            "calls": {"base": sum(h for h, _ in base.values()),
                      "on": sum(h for h, _ in on.values())},
            "top": rows[:top]}


def markdown(p):
    """@p: "title", "about", "baseline" (its mode), "unit" (of self cost),
    "hits" (what a hit is), "phases": {phase: compare()}."""
    unit, hits, b = p["unit"], p["hits"], p["baseline"]
    lines = [f"# {p['title']}", "", p["about"], ""]
    for phase, c in p["phases"].items():
        tot, calls = c["total"], c["calls"]
        d = tot["on"] - tot["base"]
        lines += [f"## {phase}", "",
                  f"Total: {b} {tot['base']:.0f} {unit}, on "
                  f"{tot['on']:.0f} {unit} ({d:+.0f}); {hits}: {b} "
                  f"{calls['base']}, on {calls['on']}.", "",
                  f"| function | {hits} {b} | {hits} on | {unit} {b} | "
                  f"{unit} on | on - {b} |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| `{r['function']}` | {r['hits_base']} | {r['hits_on']} "
                  f"| {r['self_base']:.1f} | {r['self_on']:.1f} | "
                  f"{r['delta']:+.1f} |" for r in c["top"]]
        lines.append("")
    return "\n".join(lines)


def _write(p, name):
    (OUT / f"{name}.json").write_text(json.dumps(p, indent=2) + "\n")
    (OUT / f"{name}.md").write_text(markdown(p))
    log(f"wrote {OUT / (name + '.json')} and {OUT / (name + '.md')}")
    print(markdown(p))


def _modes(args):
    """The two modes to compare, baseline first."""
    if args.baseline not in BASELINES:
        raise WbError(f"profile: --baseline {args.baseline!r}: one of "
                      f"{', '.join(BASELINES)}")
    return (args.baseline, "on")


def _title(what, args):
    return (f"wb profile{' --insns' if args.insns else ''}: {what}, "
            f"{args.baseline} vs on ({bench.BASE})")


def _profile_insns(args, modes):
    plugin, mark = itlb.build(BUILD / "itlb")
    tables = {}
    for mode in modes:
        config, cmdline = bench.MODES[mode]
        name = f"profile-insns/{mode}"
        counts = OUT / name / "tb-counts.txt"
        counts.unlink(missing_ok=True)
        extra = (*itlb.qemu_args(plugin, counts_path=counts),
                 "-smp", str(args.cpus))
        res = guest.boot(config, "profile",
                         f"{bench.APPEND} wb.insns=1 {cmdline}".strip(),
                         name=name, timeout=args.timeout,
                         initrd=bench.bench_initramfs(config, mark),
                         extra=extra)
        bench._check_boot(res, f"profile --insns {mode}")
        syms = parse_kallsyms(res.files.get("kallsyms", ""))
        if not syms or not counts.exists():
            raise WbError(f"profile --insns {mode}: no kallsyms from the "
                          f"guest or no {counts}")
        tables[mode] = insns_table(counts.read_text(), syms)
    _write({"title": _title("kernel instructions per function", args),
            "about": f"{args.cpus} vCPU(s). One warm-up load and unload, "
                     "the caches' empty areas given back, then one load of "
                     "the module set inside the iTLB plugin's window; every "
                     "executed kernel translation block counted, its "
                     "instructions given to the text symbol at or below it.",
            "baseline": modes[0], "unit": "insns", "hits": "blocks",
            "cpus": args.cpus,
            "phases": {"load": compare(*(tables[m] for m in modes))}},
           "profile-insns")
    return 0


def cmd_profile(args):
    modes = _modes(args)
    source.deps()
    source.tree()
    build.build(bench.CONFIG)
    if "vanilla" in modes:
        bench.build_vanilla()
    if args.insns:
        return _profile_insns(args, modes)
    phases = {ph: {} for ph in PHASES}
    for mode in modes:
        config, cmdline = bench.MODES[mode]
        # A later -smp overrides the boot's own.
        extra = (*bench._clock_args(config), "-smp", str(args.cpus))
        res = guest.boot(config, "profile",
                         f"{bench.APPEND} {cmdline}".strip(),
                         name=f"profile/{mode}", timeout=args.timeout,
                         extra=extra)
        bench._check_boot(res, f"profile {mode}")
        for ph in PHASES:
            phases[ph][mode] = phase_table(res.files, ph)
    clock = " ".join(extra[:-2]) or "wall clock"
    _write({"title": _title("function self time", args),
            "about": f"Clock: {clock}; {args.cpus} vCPU(s). One warm-up "
                     "load and unload, the caches' empty areas given back, "
                     "then the profiler over one load and one unload of "
                     "the module set.",
            "baseline": modes[0], "unit": "us", "hits": "hits",
            "clock": clock, "cpus": args.cpus,
            "phases": {ph: compare(*(t[m] for m in modes))
                       for ph, t in phases.items()}}, "profile")
    return 0
