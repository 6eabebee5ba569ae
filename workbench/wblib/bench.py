# SPDX-License-Identifier: GPL-2.0
"""make bench: the vanilla base kernel against ours, off and on.

One run builds the vanilla base (build/linux-vanilla, a worktree of
build/linux at wb-base, the Debian source as shipped; per base, README) with
the demo config, and boots three modes with the same module set: vanilla;
ours with vmalloc_contig=off; ours on. On 6.12 off turns off all we add; on
7.3 it turns off vmalloc_contig() (module images from vmalloc) only, and
execmem's data caches stay on: they have no switch of their own
(nohugevmalloc, their only off, takes mainline's 2M text with them), so
vanilla to off is what the caches do and off to on what the API adds.
Each mode gets two boots of guest/scenarios/bench.sh: one with R load and
unload repetitions of the module set (mapping, direct map, memory, time);
one, under the iTLB plugin (wblib/itlb.py; it slows the whole guest,
so no timing there), that loads the set once and runs the workload (files
on ext4 and xfs over loop, nftables-filtered traffic) inside the marker
window.  Once, on our kernel, the kselftest performance preset gives
alloc+free latency per size.

Writes out/bench.json, out/bench.md and the module map picture.
"""

import hashlib
import json
import math
import re
import shlex
import statistics
import subprocess
import time
from pathlib import Path

from . import (build, guest, itlb, kconfig, mapplot, report, results, source,
               userland)
from .common import BASE, BUILD, OUT, SRC, WbError, git, log, run

REPS = 5
CONFIG = "wb"                       # our kernel, built by 'wb build'
VANILLA = "vanilla"                 # build/obj-vanilla, same fragments
VANILLA_SRC = BUILD / "linux-vanilla"
# The demo boot's command line (flows.DEMO_APPEND): no KUnit suites.
APPEND = "kunit.enable=0"
# mode: (config, kernel command line)
MODES = {"vanilla": (VANILLA, ""), "off": (CONFIG, "vmalloc_contig=off"),
         "on": (CONFIG, "")}
BENCH_OUT = OUT / "bench"
# The timing boots (load/unload repetitions, allocation latency) run under
# TCG with a virtual clock: guest time is the count of instructions executed
# (shift=0: 1 ns each), and idle time jumps to the next timer (sleep=off).
# Wall-clock TCG time follows host load: the same boot measured 2.5 to 3.6 s
# for one load of the set. Instruction time does not depend on it.
ICOUNT = ("-icount", "shift=0,sleep=off")
BENCH_DATA = BUILD / "bench-data"
FS_IMAGE_MB = 64
PERF_SIZES = (4096, 16384, 65536, 262144, 1 << 20, 2 << 20, 4 << 20)
# Sizes that are not a power of two, as module images and most buffers are:
# 64K+4K, 256K+4K, 1M+4K, 2M-4K.
PERF_ODD_SIZES = (69632, 266240, 1052672, 2093056)
ALLOCATORS = ("vmalloc_contig", "vmalloc", "kvmalloc")
PMD = 2 << 20
# What off leaves on, per base (the module docstring).
OFF_KEEPS = {"7.3": "execmem's data caches stay on"}
# execmem's caches (debugfs execmem/caches on our 7.3 kernel) by the class
# of module memory each serves; ROX also serves ftrace, kprobes and BPF.
EXECMEM_CLASS = {"rox": "text", "ro": "rodata", "rw": "data"}


# ---- vanilla tree and kernel ------------------------------------------------

def vanilla_tree():
    """build/linux-vanilla: a detached worktree of build/linux at wb-base."""
    base = git("rev-parse", "wb-base^{commit}")
    if not (VANILLA_SRC / "Makefile").exists():
        git("worktree", "prune")
        git("worktree", "add", "--detach", str(VANILLA_SRC), "wb-base")
    head = git("rev-parse", "HEAD", cwd=VANILLA_SRC)
    if head != base:
        raise WbError(f"{VANILLA_SRC} is at {head[:12]}, not wb-base "
                      f"({base[:12]}): remove it with 'git -C {SRC} worktree "
                      f"remove --force {VANILLA_SRC}' and run again")
    if git("status", "--porcelain", "-uno", cwd=VANILLA_SRC):
        raise WbError(f"{VANILLA_SRC} has local changes: it must stay "
                      f"pristine")
    return VANILLA_SRC


def build_vanilla():
    """Vanilla needs build/linux only for its wb-base commit: the assembled
    tree, which other builds use, is not touched when it exists."""
    if not (SRC / ".git").exists():
        source.tree()
    build.build(VANILLA, vanilla_tree(), fragments_from=CONFIG)


def _order_names(config):
    path = BUILD / f"modset-{config}.order"
    if not path.exists():
        raise WbError(f"{path} missing: build '{config}' first")
    return [Path(p).name for p in path.read_text().split()]


def check_same_modset():
    ours, van = _order_names(CONFIG), _order_names(VANILLA)
    if sorted(ours) != sorted(van):
        diff = sorted(set(ours) ^ set(van))
        raise WbError(f"module sets differ between {CONFIG} and vanilla: "
                      f"{' '.join(diff)}")
    return len(ours)


def ours_ready(wait=1800):
    """Our kernel as 'wb build' left it; never rebuilt here.  'wb build'
    writes the initramfs last: one older than the .config or the bzImage is
    a build in progress (or a failed one).  Wait up to @wait seconds."""
    cfg, cpio = kconfig.objdir(CONFIG) / ".config", build.initramfs(CONFIG)
    needs = (cfg, build.bzimage(CONFIG), BUILD / f"initramfs-{CONFIG}.list",
             cpio)
    for need in needs:
        if not need.exists():
            raise WbError(f"{need} missing: run 'workbench/wb build' first")
    deadline = time.monotonic() + wait
    while cpio.stat().st_mtime < max(p.stat().st_mtime for p in needs[:3]):
        if time.monotonic() > deadline:
            raise WbError(f"{cpio} is older than {cfg} or the bzImage: "
                          f"finish 'workbench/wb build' first")
        log(f"{cpio} is older than {cfg} or the bzImage (a build is "
            f"running?); waiting")
        time.sleep(60)


# ---- bench initramfs --------------------------------------------------------

def fs_images():
    """ext4 and xfs images (sparse, gzip'ed) for the guest's loop devices."""
    BENCH_DATA.mkdir(parents=True, exist_ok=True)
    # mkfs.xfs refuses file systems under 300 MB outside its QA setup.
    xfs_env = {"TEST_DIR": "/tmp", "TEST_DEV": "1", "QA_CHECK_FS": "1"}
    mkfs = {"ext4": (["mkfs.ext4", "-q", "-F"], None),
            "xfs": (["mkfs.xfs", "-q", "-f", "-d", f"size={FS_IMAGE_MB}m"],
                    xfs_env)}
    out = {}
    for fs, (cmd, env) in mkfs.items():
        gz = BENCH_DATA / f"{fs}.img.gz"
        if not gz.exists():
            img = BENCH_DATA / f"{fs}.img"
            img.unlink(missing_ok=True)
            with open(img, "wb") as f:
                f.truncate(FS_IMAGE_MB << 20)
            run([*cmd, img], env=env)
            with open(gz, "wb") as f:
                subprocess.run(["gzip", "-c", str(img)], stdout=f, check=True)
            img.unlink()
        out[fs] = gz
    return out


def nft_files():
    """{guest path: host path}: Debian's nft and its libraries."""
    return userland.with_libs(userland.host_binary("nft", "nftables"))


def bench_initramfs(config, mark):
    """build/initramfs-bench-@config.cpio: the config's initramfs list plus
    the current guest scripts, wbmark, the fs images and nft."""
    base = BUILD / f"initramfs-{config}.list"
    if not base.exists():
        raise WbError(f"{base} missing: build '{config}' first")
    guest_dir = build.GUEST
    scenarios = sorted((guest_dir / "scenarios").glob("*.sh"))
    ours = {"/wb/lib.sh", "/init"} | {f"/wb/scenarios/{s.name}"
                                      for s in scenarios}
    lines = [ln for ln in base.read_text().splitlines()
             if not (ln.startswith("file ") and ln.split()[1] in ours)]
    have = {ln.split()[1] for ln in lines if ln.startswith("dir ")}
    lines += [f"file /init {guest_dir / 'init'} 0755 0 0",
              f"file /wb/lib.sh {guest_dir / 'lib.sh'} 0644 0 0"]
    lines += [f"file /wb/scenarios/{s.name} {s} 0644 0 0"
              for s in scenarios]
    extra = {"/bin/wbmark": (mark, "0755")}
    for fs, gz in fs_images().items():
        extra[f"/wb/bench/{fs}.img.gz"] = (gz, "0644")
    # nft shares libc and more with the base list's kmod (userland.py).
    files = {ln.split()[1] for ln in lines if ln.startswith("file ")}
    for gpath, hpath in nft_files().items():
        if gpath not in files:
            extra[gpath] = (hpath, "0755")
    for d in userland.dirs_of(extra, have) + ["/mnt"]:
        lines.append(f"dir {d} 0755 0 0")
    lines += [f"file {g} {h} {mode} 0 0" for g, (h, mode) in extra.items()]
    lst = BUILD / f"initramfs-bench-{config}.list"
    lst.write_text("\n".join(lines) + "\n")
    cpio = BUILD / f"initramfs-bench-{config}.cpio"
    gen = kconfig.objdir(config) / "usr/gen_init_cpio"
    if not gen.exists():
        raise WbError(f"{gen} missing: build '{config}' first")
    with open(cpio, "wb") as f:
        subprocess.run([str(gen), str(lst)], stdout=f, check=True)
    return cpio


# ---- boots ------------------------------------------------------------------

def _check_boot(res, what):
    found = results.splats(res.console.read_text(errors="replace")) \
        if res.console.exists() else [(0, "no console log")]
    for lineno, line in found[:20]:
        print(f"  {res.console}:{lineno}: {line}")
    if res.status != 0 or found:
        raise WbError(f"{what}: status {res.status}"
                      f"{' (' + res.reason + ')' if res.reason else ''}, "
                      f"{len(found)} splat lines; see {res.console}")


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _clock_args(config):
    """QEMU arguments for the clock of a timing boot of @config."""
    return ICOUNT if guest.accel(config) == "tcg" else ()


def _reused(rundir, append, config, extra):
    """A finished boot in @rundir of the current @config kernel with the
    same command line (exit status 0), as a guest.Result; else None."""
    cmd, raw = rundir / "qemu.cmd", rundir / "channel.raw"
    sha = rundir / "bzImage.sha256"
    if not cmd.exists() or not raw.exists() or not sha.exists():
        return None
    if sha.read_text().strip() != _sha256(build.bzimage(config)):
        return None
    argv = shlex.split(cmd.read_text())
    if argv[argv.index("-append") + 1].split("wb.scenario=bench ")[-1] \
            != append:
        return None
    # Timing depends on how QEMU ran the vCPUs, too.
    acc = guest.accel(config)
    if argv[argv.index("-accel") + 1] != guest.ACCEL_ARGS.get(acc, acc):
        return None
    if ("-icount" in argv) != ("-icount" in extra):
        return None
    files, status = guest.parse_channel(raw.read_text(errors="replace"))
    if status != 0:
        return None
    log(f"reusing the boot in {rundir}")
    return guest.Result("bench", status, "tcg", rundir, files)


def boot_mode(mode, reps, mark, plugin=None, reuse=False):
    """One bench boot of @mode: @reps repetitions, then, with the iTLB
    @plugin, the workload.  The plugin slows the whole guest, so timing
    boots run without it.  Returns (guest.Result, trace path or None)."""
    config, cmdline = MODES[mode]
    name = f"bench/{mode}" + ("-itlb" if plugin else "")
    rundir = OUT / name
    rundir.mkdir(parents=True, exist_ok=True)
    trace = rundir / "itlb.trace"
    initrd = bench_initramfs(config, mark)
    append = (f"{APPEND} wb.reps={reps} wb.workload={int(bool(plugin))} "
              f"{cmdline}")
    extra = itlb.qemu_args(plugin, trace) if plugin else _clock_args(config)
    res = _reused(rundir, append.strip(), config, extra) if reuse else None
    if res is not None:
        return res, (trace if plugin else None)
    trace.unlink(missing_ok=True)
    # Another build may replace the kernel between boots: record which ran
    # (after the boot, which clears its run directory first).
    ran = _sha256(build.bzimage(config))
    res = guest.boot(config, "bench", append.strip(), name=name,
                     timeout=1200 + 120 * reps, initrd=initrd, extra=extra)
    (rundir / "bzImage.sha256").write_text(ran + "\n")
    _check_boot(res, f"bench {name}")
    return res, (trace if plugin else None)


def boot_perf(reuse=False):
    """The kselftest performance preset on our kernel, once: latencies and
    bytes held, as alloc_perf() returns them."""
    ktap = BENCH_OUT / "perf" / "perf.ktap"
    if reuse and ktap.exists():
        log(f"reusing {ktap}")
        return alloc_perf(ktap.read_text())
    ktap.unlink(missing_ok=True)
    res = guest.boot(CONFIG, "perf", APPEND, name="bench/perf",
                     extra=_clock_args(CONFIG))
    _check_boot(res, "bench perf")
    return alloc_perf(res.files.get("perf.ktap", ""))


_PERF = re.compile(r"perf: (\w+) (\d+) (\d+) (\d+)")


def alloc_perf(text):
    """({allocator: {"bytes": ns}}, {allocator: {"bytes": bytes held}}) of
    the preset's "perf: A BYTES NS HELD" lines; WbError if a size is
    missing."""
    lat = {a: {} for a in ALLOCATORS}
    held = {a: {} for a in ALLOCATORS}
    sizes = PERF_SIZES + PERF_ODD_SIZES
    for a, size, ns, h in _PERF.findall(text):
        if a in lat and int(size) in sizes:
            lat[a][size] = int(ns)
            held[a][size] = int(h)
    missing = [f"{a} {s}" for a in ALLOCATORS for s in sizes
               if str(s) not in lat[a]]
    if missing:
        raise WbError(f"perf preset did not report: {', '.join(missing)}")
    return lat, held


# ---- per-mode metrics -------------------------------------------------------

def _median(vals):
    return statistics.median_low(vals) if vals else None


def _spread(vals):
    return {"median": statistics.median(vals), "min": min(vals),
            "max": max(vals)}


def _classes(files, reps, mm_used):
    """Median over repetitions of each class's mapping, plus its limit."""
    per = [results.mapping_classes(files[f"ptdump-modules-loaded-{i}"])[0]
           for i in range(1, reps + 1)]
    out = {}
    for cls in results.CLASSES:
        c = {k: _median([p[cls][k] for p in per])
             for k in ("bytes", "bytes_2m", "entries_4k", "entries_2m")}
        # Bytes the modules use: the backend's count when it is on, else
        # what is mapped (4K-granular, so the same thing).
        used = mm_used.get(cls, c["bytes"])
        c["used_bytes"] = used
        c["limit"] = math.ceil(used / PMD)
        c["pct_2m"] = round(100.0 * c["bytes_2m"] / c["bytes"], 1) \
            if c["bytes"] else 0.0
        out[cls] = c
    return out


def _held(files, when):
    """{class: {"held": bytes, "used": bytes}} of what our allocator holds
    for module memory at @when: module_map/stats when the backend is on,
    execmem/caches where it exists; {} otherwise (vanilla, backend off)."""
    mm = report.module_map_classes(files.get(f"module_map-stats-{when}", ""))
    if mm.get("enabled"):
        return {cls: {"held": mm[cls]["chunks"] * PMD,
                      "used": mm[cls]["used_bytes"]}
                for cls in results.CLASSES}
    em = results.execmem_caches(files.get(f"execmem-caches-{when}", ""))
    if set(em) != set(EXECMEM_CLASS):
        return {}
    return {EXECMEM_CLASS[c]: {"held": v["area_kb"] << 10,
                               "used": v["busy_kb"] << 10}
            for c, v in em.items()}


def _backend_used(files, reps):
    """{class: median used bytes} from our allocator's own counts; {}
    where there are none."""
    per = [_held(files, f"loaded-{i}") for i in range(1, reps + 1)]
    if not all(per):
        return {}
    return {cls: _median([p[cls]["used"] for p in per])
            for cls in results.CLASSES}


def _held_kb(files, reps):
    """Memory our allocator holds, from its own counts (kB): before the
    first load, after the last load and after its unload (empty areas
    given back), and the limit sum(ceil(used / 2M)) * 2M of the last
    load; None where there are no counts."""
    st = {when: _held(files, when) for when in
          ("before", f"loaded-{reps}", f"unloaded-{reps}")}
    if not all(st.values()):
        return None

    def total(key, when):
        return sum(v[key] for v in st[when].values()) >> 10

    loaded = st[f"loaded-{reps}"]
    return {"before": total("held", "before"),
            "loaded": total("held", f"loaded-{reps}"),
            "unloaded": total("held", f"unloaded-{reps}"),
            "used_loaded": total("used", f"loaded-{reps}"),
            "limit_loaded": sum(math.ceil(v["used"] / PMD) * PMD
                                for v in loaded.values()) >> 10,
            "per_class_loaded": {c: {k: v[k] >> 10 for k in v}
                                 for c, v in loaded.items()}}


def _ipis(files, reps):
    """{"TLB"|"CAL": spread}: the IPIs each load of the set took (TLB
    shootdowns; function calls, which carry kernel TLB flushes)."""
    out = {}
    for name in ("TLB", "CAL"):
        vals = []
        for i in range(1, reps + 1):
            pre = results.interrupts(files.get(f"interrupts-pre-{i}", ""))
            post = results.interrupts(
                files.get(f"interrupts-loaded-{i}", ""))
            if name not in pre or name not in post:
                raise WbError(f"bench guest sent no {name} line in "
                              f"interrupts-pre/loaded-{i}")
            vals.append(post[name] - pre[name])
        out[name] = _spread(vals)
    return out


def _memory(files, reps):
    """MemFree and VmallocUsed deltas (kB) of each repetition against the
    state just before its load (the boot's 'before', then the previous
    unload): early-boot freeing drifts MemFree up between repetitions."""
    pre = [results.meminfo(files["meminfo-before"])]
    loaded = [results.meminfo(files[f"meminfo-loaded-{i}"])
              for i in range(1, reps + 1)]
    unloaded = [results.meminfo(files[f"meminfo-unloaded-{i}"])
                for i in range(1, reps + 1)]
    pre += unloaded[:-1]

    def delta(states, key, sign=1):
        return _spread([sign * (s[key] - p[key])
                        for s, p in zip(states, pre)])

    mods = [sum(int(ln.split()[1]) for ln in
                files[f"modules-{i}"].splitlines() if ln.strip())
            for i in range(1, reps + 1)]
    alloc = {"vmalloc_used_kb": {"loaded": delta(loaded, "VmallocUsed"),
                                 "unloaded": delta(unloaded, "VmallocUsed")},
             "proc_modules_kb": _spread([m // 1024 for m in mods])}
    held = _held_kb(files, reps)
    if held:
        alloc["held_kb"] = held
    memfree = {"loaded": delta(loaded, "MemFree", -1),
               "unloaded": delta(unloaded, "MemFree", -1)}
    return ({"loaded": memfree["loaded"]["median"],
             "unloaded": memfree["unloaded"]["median"]},
            {"memfree_delta_kb": memfree, **alloc})


def _timing(files, reps, key):
    vals = []
    for i in range(1, reps + 1):
        t = results.counters(files[f"timing-{i}"])
        vals.append(t[key] / 1e6)
    return {k: round(v, 1) for k, v in _spread(vals).items()}, vals


def itlb_metrics(files, trace):
    """{misses, fetches, model, ...}: @trace replayed against the kernel
    ptdump of the same boot."""
    if "ptdump-kernel" not in files or not trace.exists():
        raise WbError(f"iTLB: no kernel ptdump or no trace ({trace}); see "
                      f"{BENCH_OUT}/*/workload.log")
    t = itlb.read_trace(trace)
    if t["starts"] != 1 or t["stops"] != 1 or t["truncated"]:
        raise WbError(f"iTLB trace {trace}: {t['starts']} starts, "
                      f"{t['stops']} stops, truncated {t['truncated']}")
    sim = itlb.simulate(t, itlb.page_map(files["ptdump-kernel"]))
    return {k: sim[k] for k in ("misses", "fetches", "model", "lookups",
                                "l1_misses", "unmapped")}


def _kernel_sha(res):
    path = res.rundir / "bzImage.sha256"
    return path.read_text().strip() if path.exists() else "unknown"


def mode_metrics(files, reps):
    """The M object of bench.json for one mode's boot."""
    missing = [n for n in ["meminfo-before"] + [
        f"{w}-{i}" for i in range(1, reps + 1)
        for w in ("meminfo-loaded", "meminfo-unloaded", "timing", "modules",
                  "ptdump-modules-loaded", "interrupts-pre",
                  "interrupts-loaded")] if n not in files]
    if missing:
        raise WbError(f"bench guest did not send {', '.join(missing[:6])}")
    mm_used = _backend_used(files, reps)
    mem, alloc = _memory(files, reps)
    before = results.meminfo(files["meminfo-before"])["DirectMap4k"]
    after = [results.meminfo(files[f"meminfo-loaded-{i}"])["DirectMap4k"]
             for i in range(1, reps + 1)]
    load, load_s = _timing(files, reps, "load_ns")
    unload, unload_s = _timing(files, reps, "unload_ns")
    m = {"classes": _classes(files, reps, mm_used),
         "directmap_4k_kb": {"before": before, "after": max(after)},
         "module_mem_kb": mem, "allocator": alloc,
         "load_ms": load, "unload_ms": unload,
         "load_ipis": _ipis(files, reps),
         "samples": {"load_ms": [round(v, 1) for v in load_s],
                     "unload_ms": [round(v, 1) for v in unload_s],
                     "directmap_4k_kb_after": after},
         "modules": len([ln for ln in files["modules-1"].splitlines()
                         if ln.strip()])}
    m.update(_costs(files, m["classes"]))
    return m


# The untimed counted load after the repetitions (guest bench.sh), under
# the names make demo's files have, for report.costs().
COUNT_PREFIX = "count-"


def _costs(files, classes):
    """memory_kb {loaded, unloaded, limit} and tlb_flushes {global, ipis}
    of the counted load, as make demo computes them (report.costs()): the
    memory from vmalloc's areas and PTE tables of the module area over the
    boot's, flushes from the function profiler. An error if the guest sent
    none of it."""
    counted = {k[len(COUNT_PREFIX):]: v for k, v in files.items()
               if k.startswith(COUNT_PREFIX)}
    out = report.costs(counted, classes)
    missing = [k for k in ("memory_kb", "tlb_flushes") if k not in out]
    if missing:
        raise WbError(f"bench guest sent no counted load for "
                      f"{', '.join(missing)} (count-* files: "
                      f"{', '.join(sorted(counted)) or 'none'})")
    return out


# ---- report -----------------------------------------------------------------

def _pct(base, new):
    if not base:
        return "n/a"
    return f"{100.0 * (new - base) / base:+.1f}%"


def _row(name, vals, base_key="vanilla", cmp_key="on", fmt="{}"):
    cells = [fmt.format(vals[k]) for k in ("vanilla", "off", "on")]
    return (f"| {name} | " + " | ".join(cells) + " | "
            + _pct(vals[base_key], vals[cmp_key]) + " |")


def _spread_row(name, spreads):
    def cell(s):
        return f"{s['median']} ({s['min']} / {s['max']})"
    cells = [cell(spreads[k]) for k in ("vanilla", "off", "on")]
    return (f"| {name} | " + " | ".join(cells) + " | "
            + _pct(spreads["vanilla"]["median"], spreads["on"]["median"])
            + " |")


HEAD = ("| metric | vanilla | off | on | on vs vanilla |\n"
        "| --- | ---: | ---: | ---: | ---: |")


def goals(b):
    """[(goal, met, detail)]: the issue's targets, each judged plainly."""
    modes, out = b["modes"], []
    on = modes["on"]
    for cls in results.CLASSES:
        c = on["classes"][cls]
        entries = c["entries_4k"] + c["entries_2m"]
        out.append((f"on: >= 95% of {cls} in 2M, entries <= limit + 1",
                    c["pct_2m"] >= 95 and entries <= c["limit"] + 1,
                    f"{c['pct_2m']}% in 2M, {entries} entries, limit "
                    f"{c['limit']}"))
    h = on["allocator"].get("held_kb")
    if h:
        out.append(("on: memory held loaded <= sum(ceil(used/2M)) * 2M",
                    h["loaded"] <= h["limit_loaded"],
                    f"{h['loaded']} kB held, limit {h['limit_loaded']} kB"))
        out.append(("on: unloaded, nothing held beyond before loading",
                    h["unloaded"] <= h["before"],
                    f"{h['before']} kB before, {h['unloaded']} kB after "
                    f"unloading"))
    else:
        out.append(("on: memory held from the allocator's counts", False,
                    "no counts"))
    off = modes["off"]
    for what, key in (("flush_tlb_all() calls", "global"), ("IPIs", "ipis")):
        n, o = on["tlb_flushes"][key], off["tlb_flushes"][key]
        out.append((f"on: {what} per load of the set <= off's", n <= o,
                    f"{n} on, {o} off"))
    dm = on["directmap_4k_kb"]
    out.append(("on: DirectMap4k growth 0", dm["after"] == dm["before"],
                f"{dm['before']} -> {dm['after']} kB"))
    ratio = on["load_ms"]["median"] / modes["vanilla"]["load_ms"]["median"]
    out.append(("load time median on / vanilla <= 1.00", ratio <= 1.0,
                f"{ratio:.3f}"))
    lat = b["alloc_latency_ns"]
    slow = [f"{int(s) >> 10}K "
            f"{lat['vmalloc'][s] / lat['vmalloc_contig'][s]:.1f}x"
            for s in map(str, PERF_SIZES[2:6])]
    fast = all(lat["vmalloc"][str(s)] >= 2 * lat["vmalloc_contig"][str(s)]
               for s in PERF_SIZES[2:6])
    out.append(("vmalloc_contig >= 2x faster than vmalloc, 64K-2M", fast,
                ", ".join(slow)))
    odd = [str(s) for s in PERF_ODD_SIZES]
    out.append(("vmalloc_contig >= 2x faster than vmalloc, 64K+4K-2M-4K",
                all(lat["vmalloc"][s] >= 2 * lat["vmalloc_contig"][s]
                    for s in odd),
                ", ".join(f"{_kib(s)} "
                          f"{lat['vmalloc'][s] / lat['vmalloc_contig'][s]:.1f}x"
                          for s in odd)))
    out.append(("vmalloc_contig never slower than kvmalloc, 64K+4K-2M-4K",
                all(lat["vmalloc_contig"][s] <= lat["kvmalloc"][s]
                    for s in odd),
                ", ".join(f"{_kib(s)} {lat['vmalloc_contig'][s]} vs "
                          f"{lat['kvmalloc'][s]} ns" for s in odd)))
    if BASE != "6.12":
        # Mainline maps module text in 2M itself: the series keeps it so.
        v, o = (m["classes"]["text"]["pct_2m"] for m in (modes["vanilla"],
                                                         on))
        out.append(("on: text in 2M as much as vanilla's", o >= v,
                    f"{v}% vanilla, {o}% on"))
    elif "itlb" in on and "itlb" in modes["vanilla"]:
        v, o = modes["vanilla"]["itlb"]["misses"], on["itlb"]["misses"]
        red = 100.0 * (v - o) / v if v else 0.0
        out.append(("iTLB misses >= 80% fewer on the workload", red >= 80,
                    f"{v} -> {o} ({red:.1f}% fewer)"))
    return out


def _kib(size):
    """64K, 68K, 2044K: a size in KiB as the tables show it."""
    return f"{int(size) >> 10}K"


def markdown(b, command):
    modes = b["modes"]
    off = f"vmalloc_contig=off ({OFF_KEEPS[BASE]})" if BASE in OFF_KEEPS \
        else "vmalloc_contig=off"
    md = [f"# make bench: vanilla {b.get('kernel', BASE)} vs ours, off / on",
          "", f"Modes: vanilla, the Debian source as shipped; off, ours with "
          f"{off}; on, ours. "
          f"R = {b['repetitions']} load/unload repetitions in one boot per "
          f"mode, the iTLB workload in a second boot; QEMU TCG, 2 vCPUs, "
          f"2 GiB; {modes['on']['modules']} modules. Times and latencies "
          f"are in instruction time (QEMU `{' '.join(ICOUNT)}`: 1 ns per "
          f"guest instruction, idle time skipped to the next timer), so host "
          f"load does not move them. Repeated values: "
          f"median (min / max); memory deltas are against the state just "
          f"before each load. Command: `{command}`", "",
          "## Mapping of module memory (median over R)", ""]
    md.append("| mode | class | bytes | used | 4K entries | 2M entries | "
              "% in 2M | limit ceil(used/2M) |")
    md.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mode in ("vanilla", "off", "on"):
        for cls in results.CLASSES:
            c = modes[mode]["classes"][cls]
            md.append(f"| {mode} | {cls} | {c['bytes']} | {c['used_bytes']} "
                      f"| {c['entries_4k']} | {c['entries_2m']} | "
                      f"{c['pct_2m']} | {c['limit']} |")
    md += ["", "## Direct map and memory (kB)", "", HEAD]
    for when in ("before", "after"):
        md.append(_row(f"DirectMap4k {when} loading",
                       {k: m["directmap_4k_kb"][when]
                        for k, m in modes.items()}))
    for when in ("loaded", "unloaded"):
        md.append(_spread_row(
            f"MemFree delta, {when}",
            {k: m["allocator"]["memfree_delta_kb"][when]
             for k, m in modes.items()}))
        md.append(_spread_row(
            f"VmallocUsed delta, {when}",
            {k: m["allocator"]["vmalloc_used_kb"][when]
             for k, m in modes.items()}))
    md.append(_spread_row("sum of /proc/modules sizes",
                          {k: m["allocator"]["proc_modules_kb"]
                           for k, m in modes.items()}))
    md += ["", "Memory held by our allocator, from its own counts "
           f"({'module_map/stats' if BASE == '6.12' else 'execmem/caches'}"
           "; kB):", "",
           "| mode | before loading | loaded | used loaded | limit "
           "sum(ceil(used/2M))*2M | unloaded, empty areas given back |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for mode in ("vanilla", "off", "on"):
        h = modes[mode]["allocator"].get("held_kb")
        md.append(f"| {mode} | " + (" | ".join(
            str(h[k]) for k in ("before", "loaded", "used_loaded",
                                "limit_loaded", "unloaded")) if h else
            "no counts | | | |") + " |")
    md += ["", "Costs of one more load of the set after the repetitions, "
           "untimed, counted as `make demo` counts them: memory held by "
           "module memory from vmalloc's own areas and the PTE tables of "
           "the module area over the boot's (kB), `flush_tlb_all()` calls "
           "(function profiler) and the IPIs of the load (CAL + TLB):", "",
           HEAD]
    for name, key, sub in (("memory held, loaded", "memory_kb", "loaded"),
                           ("memory held, unloaded", "memory_kb",
                            "unloaded"),
                           ("limit sum(ceil(used/2M))*2M", "memory_kb",
                            "limit"),
                           ("flush_tlb_all() calls", "tlb_flushes",
                            "global"),
                           ("IPIs", "tlb_flushes", "ipis")):
        md.append(_row(name, {k: m[key][sub] for k, m in modes.items()}))
    md += ["", "## Time (ms of instruction time, in-guest ktime from "
           "/proc/timer_list)", "", HEAD,
           _spread_row("load the module set", {k: m["load_ms"]
                                               for k, m in modes.items()}),
           _spread_row("unload the module set", {k: m["unload_ms"]
                                                 for k, m in modes.items()})]
    md += ["", "## IPIs per load of the set (/proc/interrupts; CAL carries "
           "kernel TLB flushes to the other vCPU, 2 vCPUs)", "", HEAD]
    for name in ("CAL", "TLB"):
        md.append(_spread_row(name, {k: m["load_ipis"][name]
                                     for k, m in modes.items()}))
    if all("itlb" in m for m in modes.values()):
        md += ["", "## Simulated iTLB (workload: ext4 + xfs files over loop, "
               "nftables-filtered TCP on lo and ICMP over veth)", "", HEAD]
        for key in ("fetches", "lookups", "l1_misses", "misses"):
            md.append(_row(key, {k: m["itlb"][key] for k, m in modes.items()}))
        md += ["", f"Model: {modes['on']['itlb']['model']}"]
    lat = b["alloc_latency_ns"]
    md += ["", "## alloc+free latency (ns, median of the kselftest "
           "performance preset, our kernel)", "",
           "| size | vmalloc_contig | vmalloc | kvmalloc | vmalloc / "
           "vmalloc_contig |", "| ---: | ---: | ---: | ---: | ---: |"]
    for s in map(str, PERF_SIZES + PERF_ODD_SIZES):
        md.append(f"| {_kib(s)} | {lat['vmalloc_contig'][s]} | "
                  f"{lat['vmalloc'][s]} | {lat['kvmalloc'][s]} | "
                  f"{lat['vmalloc'][s] / lat['vmalloc_contig'][s]:.1f}x |")
    held = b.get("alloc_held_bytes")
    if held:
        md += ["", "## bytes held per allocation (the allocators' own "
               "sizes: slab's block, the run's or vmalloc's pages)", "",
               "| size | vmalloc_contig | vmalloc | kvmalloc |",
               "| ---: | ---: | ---: | ---: |"]
        for s in map(str, PERF_SIZES + PERF_ODD_SIZES):
            md.append(f"| {_kib(s)} | {held['vmalloc_contig'][s]} | "
                      f"{held['vmalloc'][s]} | {held['kvmalloc'][s]} |")
    md += ["", "## Goals", "", "| goal | met | measured |",
           "| --- | --- | --- |"]
    md += [f"| {g} | {'yes' if ok else '**NO**'} | {d} |"
           for g, ok, d in goals(b)]
    return "\n".join(md) + "\n"


# ---- the subcommand ---------------------------------------------------------

def run_bench(reps, workload=True, reuse=False):
    source.deps()
    build_vanilla()
    ours_ready()
    n = check_same_modset()
    log(f"module set: {n} modules in both kernels")
    plugin, mark = itlb.build(BUILD / "itlb")
    modes = {}
    for mode in MODES:
        res, _ = boot_mode(mode, reps, mark, reuse=reuse)
        modes[mode] = mode_metrics(res.files, reps)
        modes[mode]["bzimage_sha256"] = _kernel_sha(res)
        log(f"{mode}: load median {modes[mode]['load_ms']['median']} ms")
    for mode in MODES if workload else ():
        res, trace = boot_mode(mode, 0, mark, plugin, reuse)
        modes[mode]["itlb"] = itlb_metrics(res.files, trace)
        modes[mode]["itlb"]["bzimage_sha256"] = _kernel_sha(res)
        modes[mode]["itlb"]["workload_ms"] = round(results.counters(
            res.files.get("workload.log", "")).get("workload_ns", 0) / 1e6)
        log(f"{mode}: {modes[mode]['itlb']['misses']} simulated iTLB misses")
    if modes["off"]["bzimage_sha256"] != modes["on"]["bzimage_sha256"]:
        raise WbError(f"{build.bzimage(CONFIG)} changed between the off and "
                      f"on boots (another build): run the bench again")
    lat, held = boot_perf(reuse)
    return {"kernel": source.KERNEL_VERSION, "base": BASE,
            "repetitions": reps, "modes": modes,
            "clock": " ".join(_clock_args(CONFIG)) or
            f"{guest.accel(CONFIG)} wall clock",
            "alloc_latency_ns": lat, "alloc_held_bytes": held}


def write(b, command):
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench.json").write_text(json.dumps(b, indent=2) + "\n")
    (OUT / "bench.md").write_text(markdown(b, command))
    log(f"wrote {OUT / 'bench.json'} and {OUT / 'bench.md'}")


def cmd_bench(args):
    if args.reps < 5:
        raise WbError(f"--reps {args.reps}: the bench needs R >= 5")
    command = "workbench/wb bench" + (f" --reps {args.reps}"
                                      if args.reps != REPS else "") + (
        " --reuse" if args.reuse else "")
    log(f"$ {command}")
    b = run_bench(args.reps, reuse=args.reuse)
    write(b, command)
    print((OUT / "bench.md").read_text())
    png = mapplot.write_png(
        {"vanilla": BENCH_OUT / "vanilla" / "ptdump-modules-loaded-1",
         "on": BENCH_OUT / "on" / "ptdump-modules-loaded-1"},
        OUT / "module-map.png")
    log(f"wrote {png}")


def demo_png(config, rundir, mode, off_dir=None):
    """out/module-map.png for make demo: the demo boot (@mode) beside a
    baseline: a bench run's vanilla or off boot if there is one, else the
    demo's own vmalloc_contig=off boot (@off_dir), else one more demo boot
    of our kernel with vmalloc_contig=off."""
    for base in ("vanilla", "off"):
        ptdump = BENCH_OUT / base / "ptdump-modules-loaded-1"
        if ptdump.exists():
            break
    else:
        base = "off"
    if not ptdump.exists() and off_dir is not None:
        ptdump = Path(off_dir) / "ptdump-modules-after"
    if not ptdump.exists():
        res = guest.boot(config, "demo", f"{APPEND} vmalloc_contig=off",
                         name="demo-off")
        _check_boot(res, "demo vmalloc_contig=off")
        ptdump = res.rundir / "ptdump-modules-after"
    png = mapplot.write_png({base: ptdump,
                             mode: Path(rundir) / "ptdump-modules-after"},
                            OUT / "module-map.png")
    log(f"wrote {png} ({base} beside {mode})")
    return png
