# SPDX-License-Identifier: GPL-2.0
"""wb profile: where the load time of the module set goes, off against on.

Boots our kernel twice, with vmalloc_contig=off and on, under the bench's
instruction-time clock, with guest/scenarios/profile.sh: ftrace's function
profiler (self time, graph-time off) over one load and one unload of the
module set after a warm-up load and unload.  Under -icount shift=0 the
profiler's times are instruction counts (1 ns each), so the two boots can be
compared function by function.  The profiler adds its own cost to every
call, so totals are larger than the bench's; the differences are what
counts.

Writes out/profile.json and out/profile.md.
"""

import json
import re

from . import bench, build, guest, source
from .common import OUT, WbError, log

MODES = ("off", "on")
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


def compare(off, on, top=TOP):
    """Totals and the @top functions whose self time differs most."""
    names = set(off) | set(on)
    rows = []
    for fn in names:
        h0, t0 = off.get(fn, (0, 0.0))
        h1, t1 = on.get(fn, (0, 0.0))
        rows.append({"function": fn, "hits_off": h0, "hits_on": h1,
                     "us_off": round(t0, 3), "us_on": round(t1, 3),
                     "delta_us": round(t1 - t0, 3)})
    rows.sort(key=lambda r: -abs(r["delta_us"]))
    tot_off = sum(t for _, t in off.values())
    tot_on = sum(t for _, t in on.values())
    return {"total_us": {"off": round(tot_off, 3), "on": round(tot_on, 3)},
            "calls": {"off": sum(h for h, _ in off.values()),
                      "on": sum(h for h, _ in on.values())},
            "top": rows[:top]}


def markdown(p):
    lines = ["# wb profile: function self time, vmalloc_contig=off vs on",
             "",
             f"Clock: {p['clock']}; {p['cpus']} vCPU(s). One warm-up load "
             "and unload, then the profiler over one load and one unload of "
             "the module set.",
             ""]
    for phase in PHASES:
        c = p["phases"][phase]
        d = c["total_us"]["on"] - c["total_us"]["off"]
        lines += [f"## {phase}", "",
                  f"Total self time: off {c['total_us']['off']:.0f} us, on "
                  f"{c['total_us']['on']:.0f} us ({d:+.0f} us); calls: off "
                  f"{c['calls']['off']}, on {c['calls']['on']}.", "",
                  "| function | hits off | hits on | us off | us on | "
                  "on - off |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| `{r['function']}` | {r['hits_off']} | {r['hits_on']} "
                  f"| {r['us_off']:.1f} | {r['us_on']:.1f} | "
                  f"{r['delta_us']:+.1f} |" for r in c["top"]]
        lines.append("")
    return "\n".join(lines)


def cmd_profile(args):
    source.deps()
    source.tree()
    build.build(bench.CONFIG)
    # A later -smp overrides the boot's own.
    extra = (*bench._clock_args(bench.CONFIG), "-smp", str(args.cpus))
    phases = {ph: {} for ph in PHASES}
    for mode in MODES:
        cmdline = bench.MODES[mode][1]
        res = guest.boot(bench.CONFIG, "profile",
                         f"{bench.APPEND} {cmdline}".strip(),
                         name=f"profile/{mode}", timeout=args.timeout,
                         extra=extra)
        bench._check_boot(res, f"profile {mode}")
        for ph in PHASES:
            phases[ph][mode] = phase_table(res.files, ph)
    p = {"clock": " ".join(extra[:-2]) or "wall clock", "cpus": args.cpus,
         "phases": {ph: compare(t["off"], t["on"])
                    for ph, t in phases.items()}}
    (OUT / "profile.json").write_text(json.dumps(p, indent=2) + "\n")
    (OUT / "profile.md").write_text(markdown(p))
    log(f"wrote {OUT / 'profile.json'} and {OUT / 'profile.md'}")
    print(markdown(p))
    return 0
