# SPDX-License-Identifier: GPL-2.0
"""Boot a guest scenario in QEMU and collect what it sent back.

The console (ttyS0) is only a log.  Results and the exit status come over a
second UART (ttyS1) so that nothing the kernel prints can forge or hide them.
A guest that ends without an exit record (panic, reboot, QEMU death) or runs
past its timeout reports status 255.
"""

import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import build
from .common import BUILD, OUT, WbError, log

QEMU = "qemu-system-x86_64"
MEMORY = "2G"
CPUS = "2"
CMDLINE = "console=ttyS0 panic=-1 loglevel=7"
# An oops ends the boot (status 255) unless a run asks to go on after it.
OOPS_PANIC = "oops=panic"
# Only these scenarios run the KUnit suites built into the kernel; the
# others boot with kunit.enable=0 unless their command line says otherwise.
KUNIT_SCENARIOS = ("test",)
TIMEOUT = {"probe": 60, "demo": 600, "test": 1200, "hang": 20}
PROBE_TIMEOUT = 20
NO_STATUS = 255
QEMU_LOG = "qemu-debug.log"
# QEMU 7.2's multi-threaded TCG does not give the cross-modifying-code
# guarantee text_poke_bp() relies on: with 2 vCPUs, toggling the function
# tracer over all functions makes even a vanilla 6.12.117 guest hit a stray
# int3 ("Oops: int3" at a patched function + 1). One host thread running the
# vCPUs in turn does not, and the guest still sees 2 CPUs.
ACCEL_ARGS = {"tcg": "tcg,thread=single"}


@dataclass
class Result:
    scenario: str
    status: int
    accel: str
    rundir: Path
    files: dict = field(default_factory=dict)
    reason: str = ""

    @property
    def console(self):
        return self.rundir / "console.log"


def parse_channel(raw):
    """(files, status) from the results channel; status None if missing."""
    files, status, cur, buf = {}, None, None, []
    for ln in raw.replace("\r", "").split("\n"):
        if ln.startswith("@@wb begin ") and cur is None:
            cur, buf = ln[len("@@wb begin "):].strip(), []
        elif cur is not None and ln == f"@@wb end {cur}":
            files[cur] = "\n".join(buf) + ("\n" if buf else "")
            cur = None
        elif cur is not None:
            buf.append(ln)
        elif ln.startswith("@@wb exit "):
            try:
                status = int(ln.split()[2])
            except (IndexError, ValueError):
                status = None
    return files, status


def qemu_cmd(accel, kernel, initrd, append, console, channel, extra=()):
    return [QEMU, "-accel", ACCEL_ARGS.get(accel, accel), "-cpu", "max",
            "-smp", CPUS, "-m", MEMORY,
            "-nodefaults", "-display", "none", "-no-reboot",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", append,
            "-chardev", f"file,id=console,path={console}",
            "-serial", "chardev:console",
            "-chardev", f"file,id=results,path={channel}",
            "-serial", "chardev:results",
            # A CPU reset the guest did not ask for (a triple fault prints
            # nothing on the console) is named in this log.
            "-d", "cpu_reset,guest_errors",
            "-D", str(Path(console).parent / QEMU_LOG), *extra]


_TSC_LINE = re.compile(r"tsc: (?:Refined TSC clocksource calibration: |"
                       r"Detected )(\d+)\.(\d{3}) MHz")


def host_tsc_khz():
    """The host's TSC frequency in kHz, from its kernel log (the last
    calibration it printed), cached per host boot in build/; None if the
    log no longer has it."""
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    cache = BUILD / "host-tsc-khz"
    if cache.exists():
        cached_id, _, khz = cache.read_text().partition(" ")
        if cached_id == boot_id and khz.strip().isdigit():
            return int(khz)
    res = subprocess.run(["dmesg"], capture_output=True, text=True,
                         check=False)
    found = [m for m in _TSC_LINE.finditer(res.stdout)]
    if not found:
        return None
    khz = int(found[-1].group(1)) * 1000 + int(found[-1].group(2))
    BUILD.mkdir(parents=True, exist_ok=True)
    cache.write_text(f"{boot_id} {khz}\n")
    return khz


def clock_args(accel, extra):
    """Kernel command line that pins the guest's TSC frequency. Under TCG
    the guest's TSC counts at the host's rate, and the guest calibrates it
    against emulated timers: on a loaded host that failed (133 MHz for
    2594), and guest time ran 20 times too fast. Not with -icount, where
    the TSC follows the instruction count, nor under KVM."""
    if accel != "tcg" or "-icount" in extra:
        return ""
    khz = host_tsc_khz()
    if khz is None:
        log("host TSC frequency not in the host's kernel log: the guest "
            "calibrates its TSC itself")
        return ""
    return f"tsc_early_khz={khz}"


def cmdline(scenario, append, oops_panic=True, clock=""):
    """The guest kernel command line of @scenario with @append (what comes
    after wb.scenario= is the caller's alone)."""
    kunit = scenario in KUNIT_SCENARIOS or "kunit.enable=" in append
    parts = [CMDLINE, OOPS_PANIC if oops_panic else "", clock,
             "" if kunit else "kunit.enable=0", f"wb.scenario={scenario}",
             append]
    return " ".join(p for p in parts if p).strip()


def _boot(config, scenario, accel, append, rundir, timeout, show=True,
          initrd=None, extra=(), oops_panic=True):
    rundir.mkdir(parents=True, exist_ok=True)
    console, channel = rundir / "console.log", rundir / "channel.raw"
    # A boot that dies early must not leave the last boot's files looking
    # like its own.
    for f in rundir.iterdir():
        if f.is_file() or f.is_symlink():
            f.unlink()
    full = cmdline(scenario, append, oops_panic, clock_args(accel, extra))
    cmd = qemu_cmd(accel, build.bzimage(config),
                   initrd or build.initramfs(config), full, console, channel,
                   extra)
    (rundir / "qemu.cmd").write_text(shlex.join(cmd) + "\n")
    if show:
        log(f"boot {scenario} ({accel}, timeout {timeout}s):\n  "
            + shlex.join(cmd))
    start = time.monotonic()
    reason = ""
    with open(rundir / "qemu.stderr", "w") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                stdout=err, stderr=err)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            reason = f"timed out after {timeout}s"
    elapsed = time.monotonic() - start
    raw = channel.read_text(errors="replace") if channel.exists() else ""
    files, status = parse_channel(raw)
    if status is None:
        status = NO_STATUS
        qlog = rundir / QEMU_LOG
        if not reason and qlog.exists() and \
                "Triple fault" in qlog.read_text(errors="replace"):
            reason = f"guest CPU triple fault (see {qlog})"
        reason = reason or (f"guest ended without an exit status (QEMU exit "
                            f"{proc.returncode}: panic, crash or early reboot)")
    for name, text in files.items():
        (rundir / name).write_text(text)
    res = Result(scenario, status, accel, rundir, files, reason)
    if show:
        log(f"{scenario}: status {status} in {elapsed:.1f}s"
            + (f" ({reason})" if reason else "") + f"; console {console}")
    return res


def accel(config):
    """kvm if a guest really boots under it within seconds, else tcg."""
    forced = os.environ.get("WB_ACCEL")
    if forced:
        if forced not in ("kvm", "tcg"):
            raise WbError(f"WB_ACCEL={forced}: use kvm or tcg")
        return forced
    cache = BUILD / "accel"
    if cache.exists():
        return cache.read_text().strip()
    choice = "tcg"
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        res = _boot(config, "probe", "kvm", "", OUT / "accel-probe",
                    PROBE_TIMEOUT, show=False)
        if res.status == 0:
            choice = "kvm"
        else:
            log(f"KVM probe failed ({res.reason or res.status}); using TCG")
    else:
        log("/dev/kvm not usable; using TCG")
    cache.write_text(choice + "\n")
    return choice


def boot(config, scenario, append="", name=None, timeout=None,
         known_only=True, initrd=None, extra=(), oops_panic=True):
    """Boot @scenario on @config's kernel; @initrd replaces its initramfs,
    @extra is appended to the QEMU command; @oops_panic: an oops ends the
    boot."""
    if known_only and not (build.GUEST / "scenarios" / f"{scenario}.sh").exists():
        known = sorted(p.stem for p in (build.GUEST / "scenarios").glob("*.sh"))
        raise WbError(f"unknown scenario '{scenario}' (known: "
                      f"{', '.join(known)})")
    for need in (build.bzimage(config), initrd or build.initramfs(config)):
        if not need.exists():
            raise WbError(f"{need} missing: run 'wb build --config {config}'")
    acc = accel(config)
    return _boot(config, scenario, acc, append, OUT / (name or scenario),
                 timeout or TIMEOUT.get(scenario, 600), initrd=initrd,
                 extra=extra, oops_panic=oops_panic)
