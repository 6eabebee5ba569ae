# SPDX-License-Identifier: GPL-2.0
"""Debian programs in the guest besides busybox, taken from the host's
installed packages (source.PACKAGES installs them), with the shared objects
they load.

- bash (bash-static) as /bin/bash: upstream's kselftest scripts are bash.
- kmod (modprobe, insmod, rmmod, modinfo, lsmod, depmod) under /usr/sbin:
  upstream's kmod.sh, test_vmalloc.sh and the livepatch scripts need kmod's
  semantics (busybox's insmod retries a failed init_module() with a second
  call, so a module's init can run twice). /sbin/modprobe, the kernel's
  default usermode helper, stays absent, so request_module() fails at once
  as before; wb_kmod_helper (guest/lib.sh) points the kernel at
  /usr/sbin/modprobe for the scenarios that want it.
- capsh (libcap2-bin) under /usr/sbin: kmod.sh's tests 0012 and 0013 drop
  CAP_SYSLOG with it.
- getconf (libc-bin) under /usr/bin: 7.3's test_vmalloc.sh sizes its
  per-CPU test by _AVPHYS_PAGES.
"""

import re
import shutil
from pathlib import Path

from .common import WbError, run

KMOD_TOOLS = ("modprobe", "insmod", "rmmod", "modinfo", "lsmod", "depmod")


def ldd(binary):
    """The shared objects @binary loads, loader included (absolute paths)."""
    res = run(["ldd", binary], capture=True, quiet=True)
    libs = []
    for ln in res.stdout.splitlines():
        m = re.search(r"(/\S+)\s+\(0x", ln)
        if m:
            libs.append(m.group(1))
    return libs


def host_binary(name, package):
    """The host's @name, or a WbError naming @package."""
    path = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not path:
        raise WbError(f"{name} missing: install {package} (wb deps)")
    return Path(path)


def with_libs(binary, guest_path=None):
    """{guest path: host path}: @binary (at @guest_path, default its own
    path) and the shared objects it loads, at the paths ldd names."""
    files = {guest_path or str(binary): Path(binary).resolve()}
    for lib in ldd(binary):
        files[lib] = Path(lib).resolve()
    return files


def dirs_of(paths, have):
    """The directories @paths need that @have (a set, updated) lacks,
    parents first."""
    out = []
    for p in sorted(paths):
        parts = Path(p).parent.parts
        for i in range(2, len(parts) + 1):
            d = "/".join(parts[:i]).replace("//", "/")
            if d not in have:
                have.add(d)
                out.append(d)
    return out


def cpio_lines(have):
    """gen_init_cpio lines for bash and kmod; @have: the directories the
    list already makes (updated)."""
    bash = host_binary("bash-static", "bash-static")
    # ldd refuses a static binary with status 1: check it is one.
    if run(["ldd", bash], capture=True, quiet=True, check=False).returncode \
            == 0:
        raise WbError(f"{bash} is not static")
    files = {"/bin/bash": bash.resolve()}
    files.update(with_libs(host_binary("kmod", "kmod"), "/usr/bin/kmod"))
    files.update(with_libs(host_binary("capsh", "libcap2-bin"),
                           "/usr/sbin/capsh"))
    files.update(with_libs(host_binary("getconf", "libc-bin"),
                           "/usr/bin/getconf"))
    links = {f"/usr/sbin/{t}": "/usr/bin/kmod" for t in KMOD_TOOLS}
    lines = [f"dir {d} 0755 0 0" for d in dirs_of([*files, *links], have)]
    lines += [f"file {g} {h} 0755 0 0" for g, h in files.items()]
    lines += [f"slink {g} {t} 0777 0 0" for g, t in links.items()]
    return lines
