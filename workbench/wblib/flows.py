# SPDX-License-Identifier: GPL-2.0
"""The subcommands: each runs the steps it depends on, then its own."""

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from . import (bench, build, common, gate, guest, itlb, kconfig, profile,
               report, results, series, source)
from .common import OUT, REPO, WB_DIR, WbError, kmake, log

DEFAULT_CONFIG = "wb"
TESTDATA = WB_DIR / "testdata"
# The demo boot does not run the KUnit suites built into the same kernel.
DEMO_APPEND = "kunit.enable=0"
# Load/unload cycles of the module set: in make test, and in make soak.
# The default base gets the long run; another base, tested with make test
# BASE=..., a short one (make soak BASE=... for the long).
TEST_CYCLES = 300 if source.BASE == source.DEFAULT_BASE else 20
SOAK_CYCLES = 1000
DEBUG_CYCLES = 30
# The reliability scenario on 8 vCPUs (single-threaded TCG): parallel
# loads, one loader per CPU, a few cycles with their IPI counts, hotplug.
SMP8_CYCLES = 3
SMP8_QEMU = ("-smp", "8")
# The debug kernel's test boot: 534 s before upstream's suites, which take
# about 80 s on the test kernel; KASAN makes them several times slower.
DEBUG_TEST_TIMEOUT = 2400
# A test boot with upstream's kselftests in full: kmod.sh's own counts take
# about 25 minutes under TCG.
UPSTREAM_FULL_TIMEOUT = 5400
# KASAN's quarantine (up to 1/32 of memory) and its stack depot, which only
# grows, keep memory across load/unload cycles: 8.5 MiB after 30 cycles.
DEBUG_RELIABILITY_APPEND = "wb.memfree_slack_kb=65536"


# Each rmmod waits for an RCU grace period: expedited ones make a cycle of the
# module set about 5.5 s under TCG instead of 10. init_on_free: module memory
# freed into the caches of the backend (6.12) or of execmem (7.3) is cleared
# there, rodata made writable for it; every cycle takes that path (the boot
# proves the option is on, gate.init_on_free_check).
RELIABILITY_APPEND = "rcupdate.rcu_expedited=1 init_on_free=1"


def RELIABILITY_TIMEOUT(cycles):
    """Seconds for a reliability boot: about 5.5 s per cycle under TCG,
    22 s on the debug kernel."""
    return 900 + 40 * cycles


def cmd_deps(args):
    source.deps()


def cmd_fetch(args):
    deb, version = source.fetch()
    log(f"{deb} ({version}) sha256 verified")


def cmd_tree(args):
    source.tree()


def cmd_config(args):
    source.tree()
    kconfig.config(args.config)


def cmd_build(args):
    source.deps()
    source.tree()
    build.build(args.config)


def _scan(res):
    """Splat lines of a boot's console (a missing console is an error); the
    lines the boot declared it expects are listed, not returned."""
    if not res.console.exists():
        raise WbError(f"{res.console} missing: QEMU did not start")
    found, expected = results.scan(res.console.read_text(errors="replace"))
    for lineno, line in expected[:20]:
        log(f"expected by the test: {res.console}:{lineno}: {line}")
    return found


def _print_splats(res, found):
    for lineno, line in found[:20]:
        print(f"  {res.console}:{lineno}: {line}")


def cmd_run(args):
    if args.name is not None and not re.fullmatch(r"[A-Za-z0-9_][\w.-]*",
                                                  args.name):
        raise WbError(f"--name {args.name!r}: letters, digits, '_', '.' "
                      "and '-' only, not starting with '.' or '-'")
    initrd = build.initramfs_with(args.config, args.guest_files) \
        if args.guest_files else None
    # A scenario of its own may come with the guest files.
    brought = any((Path(d) / "wb/scenarios" / f"{args.scenario}.sh").is_file()
                  for d in args.guest_files)
    res = guest.boot(args.config, args.scenario, args.append, name=args.name,
                     timeout=args.timeout, initrd=initrd,
                     known_only=not brought,
                     oops_panic=not args.no_oops_panic)
    found = _scan(res)
    _print_splats(res, found)
    if res.status != 0 or found:
        raise WbError(f"scenario {args.scenario}: status {res.status}"
                      f"{' (' + res.reason + ')' if res.reason else ''}, "
                      f"{len(found)} splat lines")


def cmd_parse(args):
    text = Path(args.file).read_text(errors="replace")
    if args.kind == "splats":
        found = results.splats(text)
        for lineno, line in found:
            print(f"{args.file}:{lineno}: {line}")
        print(f"{len(found)} splat lines")
        return 1 if found else 0
    if args.kind in ("kunit", "ktap"):
        out = results.ktap(text)
        print(json.dumps({k: len(v) for k, v in out.items()}))
        return 1 if out["FAIL"] or out["ERROR"] else 0
    classes, wx = results.mapping_classes(text)
    print(json.dumps({"classes": classes, "wx_bytes": wx}, indent=2))
    return 0


def _mode(append, obj):
    m = re.search(r"\bvmalloc_contig=(\S+)", append)
    if m:
        return m.group(1)
    cfg = kconfig.parse((obj / ".config").read_text())
    return "on" if cfg.get("CONFIG_VMALLOC_CONTIG") == "y" else "vanilla"


def _demo_report(rundir, res_files, config, accel, append, off_files=None):
    """Write and print report.json of a demo boot; @off_files: those of a
    vmalloc_contig=off boot of the same kernel, whose costs it gains."""
    obj = kconfig.objdir(config)
    rep = report.demo_report(res_files, source.KERNEL_VERSION, accel,
                             _mode(append, obj))
    if off_files is not None:
        off = report.demo_report(off_files, source.KERNEL_VERSION, accel,
                                 "off")
        rep["off"] = {k: off[k] for k in ("memory_kb", "tlb_flushes")
                      if k in off}
    report.write_json(OUT / "report.json", rep)
    (rundir / "report.json").write_text(json.dumps(rep, indent=2) + "\n")
    print(report.table(rep))
    log(f"wrote {OUT / 'report.json'}")
    return rep


def cmd_report(args):
    rundir = Path(args.run_dir) if args.run_dir else OUT / "demo"
    files = {p.name: p.read_text() for p in rundir.iterdir() if p.is_file()}
    cmd = files.get("qemu.cmd", "")
    accel = "kvm" if "-accel kvm" in cmd else "tcg"
    m = re.search(r"\bvmalloc_contig=\S+", cmd)
    offdir = rundir.parent / f"{rundir.name}-off"
    off = None
    if not m and offdir.is_dir():
        off = {p.name: p.read_text() for p in offdir.iterdir()
               if p.is_file()}
    _demo_report(rundir, files, DEFAULT_CONFIG, accel, m.group(0) if m else "",
                 off)


def cmd_demo(args):
    source.deps()
    source.tree()
    build.build(args.config)
    append = f"{DEMO_APPEND} {args.append}".strip()
    res = _demo_boot(args.config, append, "demo")
    off = None
    # The costs beside those of the same kernel with the feature off.
    if _mode(append, kconfig.objdir(args.config)) == "on":
        off = _demo_boot(args.config, f"{append} vmalloc_contig=off",
                         "demo-off")
    rep = _demo_report(res.rundir, res.files, args.config, res.accel, append,
                       off.files if off else None)
    bench.demo_png(args.config, res.rundir, rep["mode"],
                   off.rundir if off else None)


def _demo_boot(config, append, name):
    res = guest.boot(config, "demo", append, name=name)
    found = _scan(res)
    _print_splats(res, found)
    if res.status != 0:
        raise WbError(f"demo guest failed with status {res.status}"
                      f"{' (' + res.reason + ')' if res.reason else ''}; "
                      f"see {res.console}")
    if found:
        raise WbError(f"{len(found)} splat lines in {res.console}")
    return res


# --- harness self-tests -------------------------------------------------------

KSFT_LIB = REPO / "tools/testing/selftests/vmalloc_contig/module_map_lib.sh"


def _lib_call(func, text):
    """Words printed by the guest's shell helper @func (module_map_lib.sh)
    given @text as its input file."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write(text)
        f.flush()
        res = subprocess.run(["sh", "-c", f'. "$0"; {func} "$1"',
                              str(KSFT_LIB), f.name],
                             capture_output=True, text=True, check=False)
    return res.stdout.split() + ([f"exit {res.returncode}"]
                                 if res.returncode else [])


def _golden(kind, text):
    """What the parser of @kind makes of @text, as JSON-able data."""
    if kind == "splats":
        try:
            found, expected = results.scan(text)
        except WbError as e:
            return {"error": str(e)}
        out = {"splats": [ln for _, ln in found]}
        if expected:
            out["expected"] = [ln for _, ln in expected]
        return out
    if kind == "ptdump":
        classes, wx = results.mapping_classes(text)
        return {"classes": classes, "wx_bytes": wx}
    if kind == "nodes":
        return {"across": _lib_call("module_map_chunks_across_nodes", text)}
    if kind in ("wxloaded", "wxunloaded"):
        status, why = results.ptdump_check(text, kind == "wxloaded")
        return {"status": status}
    if kind == "vcoff":
        status, why = results.vmalloc_contig_off_check(text)
        return {"status": status}
    if kind == "gate":
        # A synthetic test boot: what gate.test_boot_checks makes of it.
        b = json.loads(text)
        checks = gate.test_boot_checks(
            b["name"], b["status"], b.get("reason", ""),
            "\n".join(b["console"]),
            {k: "\n".join(v) + "\n" if isinstance(v, list) else v
             for k, v in b["files"].items()},
            b["config"], b.get("append", ""), results.ktap,
            kunit=b.get("kunit", False))
        out = {"PASS": 0}
        for check, status, _ in checks:
            if status == "PASS":
                out["PASS"] += 1
            else:
                out.setdefault(status, []).append(check)
        return out
    if kind == "upstream":
        # Two boots' checks: what gate.upstream_compare makes of them.
        b = json.loads(text)
        on, off = gate.upstream_compare(
            "test", [tuple(c) for c in b["on"]], "test-off",
            [tuple(c) for c in b["off"]],
            known=[tuple(k) for k in b.get("known", [])])
        return {"on": [list(c) for c in on], "off": [list(c) for c in off]}
    if kind == "benchcosts":
        # A bench boot's files: what bench._costs makes of them.
        b = json.loads(text)
        files = {k: "\n".join(v) + "\n" for k, v in b["files"].items()}
        try:
            return bench._costs(files, b["classes"])
        except WbError as e:
            return {"error": str(e)}
    if kind == "kbuild":
        return {"sparse_skipped": series.checker_skipped(text) is not None}
    if kind == "channel":
        files, status = guest.parse_channel(text)
        return {"files": files, "status": status}
    if kind == "ktap":
        return {k: sorted(v) for k, v in results.ktap(text).items() if v}
    if kind == "profile":
        return profile.parse_stat(text)
    if kind == "insns":
        # kallsyms lines, a "--" line, then the plugin's counts= lines.
        syms, _, counts = text.partition("\n--\n")
        return profile.insns_table(counts, profile.parse_kallsyms(syms))
    raise WbError(f"unknown golden kind {kind}")


def golden_cases():
    """[(name, ok, detail)] for every testdata/NAME.KIND.in with its .json."""
    out = []
    for inp in sorted(TESTDATA.glob("*.in")):
        name, kind = inp.stem.rsplit(".", 1)
        exp = inp.with_suffix(".json")
        if not exp.exists():
            out.append((inp.stem, False, f"{exp.name} missing"))
            continue
        got = _golden(kind, inp.read_text())
        want = json.loads(exp.read_text())
        out.append((inp.stem, got == want,
                    "" if got == want else f"got {json.dumps(got)[:400]}"))
    if not out:
        raise WbError(f"no golden cases in {TESTDATA}")
    return out


def cmd_selftest(args):
    source.tree()       # the KTAP cases run the tree's kunit.py
    cases = golden_cases() + [(f"itlb {n}", ok, d)
                              for n, ok, d in itlb.selftest_cases()]
    for name, ok, detail in cases:
        print(f"{'ok' if ok else 'not ok'} golden {name}"
              + (f"  # {detail}" if detail else ""))
    failed = sum(1 for _, ok, _ in cases if not ok)
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


def guest_selftests(config):
    """Boots that must fail: they prove failures are never a pass."""
    out = []
    res = guest.boot(config, "panic", DEMO_APPEND, name="selftest-panic")
    found = _scan(res)
    out.append(("guest panic -> status 255 and a splat",
                res.status == guest.NO_STATUS and bool(found),
                f"status {res.status}, {len(found)} splats"))
    res = guest.boot(config, "hang", DEMO_APPEND, name="selftest-hang",
                     timeout=guest.TIMEOUT["hang"])
    out.append(("guest hang -> timeout and status 255",
                res.status == guest.NO_STATUS and "timed out" in res.reason,
                f"status {res.status}, {res.reason}"))
    res = guest.boot(config, "nosuch", DEMO_APPEND,
                     name="selftest-badscenario", known_only=False)
    out.append(("unknown guest scenario -> status 2", res.status == 2,
                f"status {res.status}"))
    return out


# --- make test ----------------------------------------------------------------

def kunit_expected(config):
    """KUnit options the fragments enable: if any, KTAP must appear."""
    return [s for s, v in kconfig.requested(config).items()
            if s.endswith("_KUNIT_TEST") and v in ("y", "m")]


def _config(config):
    """{CONFIG_X: value} of @config's built kernel."""
    return kconfig.parse((kconfig.objdir(config) / ".config").read_text())


def _boot_checks(name, res, config, append="", required=()):
    """[(check, status, detail)] of a finished boot (gate.boot_checks): its
    exit status, the console's splats, every KTAP file it sent (each of
    @required must be there), the feature on or off as @config and @append
    say, and the skips this boot may have."""
    found = _scan(res)
    _print_splats(res, found)
    cfg = _config(config)
    return gate.boot_checks(name, res.status, res.reason,
                            res.console.read_text(errors="replace"),
                            res.files, cfg, gate.expectation(cfg, append),
                            results.ktap, required=required)


def _test_boot(config, name, append, timeout=None):
    """Boot the test scenario; [(check, status, detail)] of everything in it
    (gate.test_boot_checks), KUnit on the console included."""
    res = guest.boot(config, "test", append, name=name, timeout=timeout)
    found = _scan(res)
    _print_splats(res, found)
    before = results.interrupts(res.files.get("interrupts-before-modset", ""))
    loaded = results.interrupts(res.files.get("interrupts-loaded", ""))
    if before and loaded:
        log(f"{name}: IPIs while loading the set: " + ", ".join(
            f"{k} {loaded.get(k, 0) - before.get(k, 0)}"
            for k in ("TLB", "CAL") if k in loaded))
    return gate.test_boot_checks(name, res.status, res.reason,
                                 res.console.read_text(errors="replace"),
                                 res.files, _config(config), append,
                                 results.ktap,
                                 kunit=bool(kunit_expected(config))), res


def _reliability_boot(config, name, cycles, append="", extra=()):
    """Parallel loads, @cycles load/unload cycles of the module set, faults,
    fragmentation, CPU hotplug (guest/scenarios/reliability.sh); @extra:
    QEMU arguments."""
    append = f"{DEMO_APPEND} {RELIABILITY_APPEND} wb.cycles={cycles}" \
             f" {append}".strip()
    res = guest.boot(config, "reliability", append, extra=extra,
                     name=name, timeout=RELIABILITY_TIMEOUT(cycles))
    for ln in res.files.get("reliability.ktap", "").splitlines():
        if ln.startswith("# ") and ("cycle" in ln or "start:" in ln
                                     or "end:" in ln):
            log(f"{name}: {ln[2:]}")
    return _boot_checks(name, res, config, append,
                        required=("reliability.ktap",)), res


# Boots on machines that make 2M chunks harder than the test guest
# (guest/scenarios/degraded.sh): name -> (extra kernel command line, extra
# QEMU arguments, which override the defaults before them).
DEGRADED = {
    "nohugevmalloc": ("nohugevmalloc", ()),
    # The test config has no PCI, so no ACPI SRAT: emulated nodes.
    "numa": ("numa=fake=2", ()),
    # TCG's "max" CPU has no 1G pages unless asked; 4 GiB for 1G-aligned
    # memory above the first gigabyte.
    "gbpages": ("", ("-cpu", "max,pdpe1gb=on", "-m", "4G")),
    "lowmem": ("", ("-m", "512M")),
}


def _degraded_boot(config, mode):
    """The module set where chunks are harder to have: the backend must not
    make a chunk per piece, nor split the direct map (degraded.ktap)."""
    cmdline, extra = DEGRADED[mode]
    append = " ".join(filter(None, (DEMO_APPEND, cmdline,
                                    f"wb.degraded={mode}")))
    res = guest.boot(config, "degraded", append, name=f"degraded-{mode}",
                     extra=extra)
    for ln in res.files.get("degraded.ktap", "").splitlines():
        if ln.startswith("# "):
            log(f"degraded-{mode}: {ln[2:]}")
    return _boot_checks(f"degraded-{mode}", res, config, append,
                        required=("degraded.ktap",)), res


def _wb(base, *argv, **kw):
    env = dict(os.environ, WB_BASE=base)
    env.update(kw.pop("env", {}))
    return subprocess.Popen([str(WB_DIR / "wb"), *argv], env=env, **kw)


def cmd_test_bases(args):
    """make test: `wb test` on each base in @args.bases, the first one's
    boots overlapping the next one's kernel build. A guest is one
    single-threaded TCG process, so while the first base boots, the next
    base's kernel builds with one job on the other core (its log in its own
    out/ place); the bases' boots never overlap each other."""
    bases = args.bases
    for b in bases:
        if b not in common.BASES:
            raise WbError(f"unknown base {b!r}; known: {' '.join(common.BASES)}")
    source.deps()
    rc = 0
    if _wb(bases[0], "build", "--config", args.config).wait():
        raise WbError(f"Linux {bases[0]}: build failed")
    for i, base in enumerate(bases):
        nxt = bases[i + 1] if i + 1 < len(bases) else None
        pending = None
        if nxt:
            out = common.base_dir(common.OUT_ROOT, nxt)
            out.mkdir(parents=True, exist_ok=True)
            logf = out / "build-during-test.log"
            log(f"Linux {nxt}: building with one job during the Linux "
                f"{base} boots ({logf})")
            with open(logf, "w") as f:
                pending = _wb(nxt, "build", "--config", args.config,
                              stdout=f, stderr=subprocess.STDOUT,
                              env={"WB_JOBS": "1"})
        log(f"== make test: Linux {base}")
        if _wb(base, "test", "--config", args.config).wait():
            rc = 1
        if pending and pending.wait():
            raise WbError(f"Linux {nxt}: build failed, see {logf}")
    return rc


def cmd_test(args):
    source.deps()
    source.tree()
    build.build(args.config)
    checks = []   # (name, "PASS"|"FAIL"|"SKIP"|"ERROR", detail)

    for name, ok, detail in golden_cases():
        checks.append((f"golden {name}", "PASS" if ok else "FAIL", detail))
    for name, ok, detail in itlb.selftest_cases():
        checks.append((f"itlb model {name}", "PASS" if ok else "FAIL",
                       detail))
    # The harness's own failure boots do not depend on the kernel under
    # them: once, on the default base.
    if source.BASE == source.DEFAULT_BASE:
        for name, ok, detail in guest_selftests(args.config):
            checks.append((name, "PASS" if ok else "FAIL", detail))
    if not kunit_expected(args.config):
        log("no KUnit suite configured")

    on = _test_boot(args.config, "test", "")[0]
    # vmalloc_contig=off: the same tests must pass (or skip what needs the
    # feature), and nothing may be served by contiguous pages.
    off = _test_boot(args.config, "test-off", "vmalloc_contig=off")[0]
    # Upstream's kselftests: what fails in both boots is upstream's.
    on, off = gate.upstream_compare("test", on, "test-off", off)
    checks += on + off
    # The degraded boots are the x86 backend's (its fallbacks and back-off).
    if _config(args.config).get("CONFIG_X86_MODULE_MAP") == "y":
        for mode in DEGRADED:
            checks += _degraded_boot(args.config, mode)[0]

    checks += _reliability_boot(args.config, "reliability", TEST_CYCLES)[0]
    # On the default base only, for make test's time budget; make soak
    # boots it on every base.
    if source.BASE == source.DEFAULT_BASE:
        checks += _smp8_boot(args.config)
    return _summarise(checks, OUT / "test-results.txt")


def _smp8_boot(config):
    return _reliability_boot(config, "reliability-smp8", SMP8_CYCLES,
                             extra=SMP8_QEMU)[0]


def _summarise(checks, path):
    """Print and save one line per check, then "N passed, N failed"."""
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    lines = []
    for name, status, detail in checks:
        status = "FAIL" if status == "ERROR" else status
        counts[status] = counts.get(status, 0) + 1
        lines.append(f"{status:<5} {name}" + (f"  # {detail}"
                                               if detail and status != "PASS"
                                               else ""))
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    summary = f"{counts['PASS']} passed, {counts['FAIL']} failed"
    if counts["SKIP"]:
        summary += f", {counts['SKIP']} skipped"
    print(summary)
    log(f"results in {path}")
    return 1 if counts["FAIL"] else 0


def cmd_soak(args):
    """The reliability scenario with many more load/unload cycles; the
    test boots with upstream's kselftests in full."""
    source.deps()
    source.tree()
    build.build(args.config)
    checks, _ = _reliability_boot(args.config, "soak", args.cycles)
    checks += _smp8_boot(args.config)
    # Upstream's kselftests in full (kmod.sh with its own counts), on and
    # off.
    on = _test_boot(args.config, "soak-upstream", "wb.upstream=full",
                    timeout=UPSTREAM_FULL_TIMEOUT)[0]
    off = _test_boot(args.config, "soak-upstream-off",
                     "wb.upstream=full vmalloc_contig=off",
                     timeout=UPSTREAM_FULL_TIMEOUT)[0]
    on, off = gate.upstream_compare("soak-upstream", on, "soak-upstream-off",
                                    off)
    checks += on + off
    return _summarise(checks, OUT / "soak-results.txt")


def cmd_test_debug(args):
    """make test's boots on the debug kernel (KASAN, lockdep, kmemleak,
    DEBUG_VM), with fewer cycles."""
    config = "debug"
    source.deps()
    source.tree()
    build.build(config)
    # kcore_walkers.sh: the walkers read for 2 minutes under KASAN. The
    # KUnit case mmt_data_free_wipe checks the clearing of init_on_free
    # here; the test boot checks that nothing is cleared without it.
    checks = _test_boot(config, "debug-test",
                        "wb.kcore_seconds=120 init_on_free=1",
                        timeout=DEBUG_TEST_TIMEOUT)[0]
    checks += _reliability_boot(config, "debug-reliability", args.cycles,
                                DEBUG_RELIABILITY_APPEND)[0]
    return _summarise(checks, OUT / "test-debug-results.txt")


# --- build matrix -------------------------------------------------------------

# (what, config, kernel command line to boot the module set with, or None to
# compile only). x86 has no prompt for STRICT_MODULE_RWX (it is always on with
# MODULES): rodata=off is its switch, and turns the backend off at boot.
MATRIX = [
    ("CONFIG_VMALLOC_CONTIG=n", "novc", ""),
    ("STRICT_MODULE_RWX off (rodata=off)", "wb", "rodata=off"),
    ("CONFIG_MODULES=n", "nomodules", None),
    ("CONFIG_KASAN=y", "debug", None),
    ("CONFIG_X86_KERNEL_IBT=y", "ibt", None),
    ("ARCH=i386 (i386_defconfig, PAE)", "i386", None),
]


def cmd_matrix(args):
    source.deps()
    source.tree()
    checks = []
    for what, config, append in MATRIX:
        try:
            if append is None:
                obj = kconfig.config(config)
                cfg = kconfig.parse((obj / ".config").read_text())
                kmake(obj, "bzImage", *(["modules"]
                                        if cfg.get("CONFIG_MODULES") == "y"
                                        else []),
                      arch=kconfig.arch(config))
                checks.append((f"matrix {what}: builds", "PASS", ""))
                continue
            build.build(config)
            checks.append((f"matrix {what}: builds", "PASS", ""))
        except WbError as e:
            checks.append((f"matrix {what}: builds", "FAIL", str(e)[:300]))
            continue
        res = guest.boot(config, "demo", f"{DEMO_APPEND} {append}".strip(),
                         name=f"matrix-{config}-{append or 'default'}")
        found = _scan(res)
        _print_splats(res, found)
        ok = res.status == 0 and not found
        checks.append((f"matrix {what}: boots and loads the module set",
                       "PASS" if ok else "FAIL",
                       f"status {res.status}, {len(found)} splat lines"))
    return _summarise(checks, OUT / "matrix-results.txt")
