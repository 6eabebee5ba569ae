# SPDX-License-Identifier: GPL-2.0
"""The sparse that series-check runs.

Debian 12's sparse (0.6.4) knows no __typeof_unqual__, and since 6.13
kbuild tests for it (scripts/checker-valid.sh) and, refused, builds without
sparse and exits 0. For such a base the workbench builds sparse from a
Debian source package that has it, pinned by version and sha256 and
fetched through an apt configuration of the workbench's own (build/apt),
into build/tools. The system's sparse and apt setup are left alone.
"""

import hashlib
import shutil
from pathlib import Path

from . import source
from .common import ARCH, BUILD_ROOT, DL, WbError, log, run

PIN = {"suite": "sid", "package": "sparse", "version": "0.6.5~rc1-2",
       "dir": "sparse-0.6.5~rc1",
       "files": {
           "sparse_0.6.5~rc1-2.dsc":
           "3520edb07c89820367b7fd99212236aaaf7bf4034ce06fdb7718da0c7e61e076",
           "sparse_0.6.5~rc1.orig.tar.gz":
           "3ac8855ec7f3ab92f325be0f64347ccc2b10f8b4d7c2906783ee8e2bdab3f0de",
           "sparse_0.6.5~rc1-2.debian.tar.xz":
           "0774bf1317531a03ccf5ebe1a3efa4140f2d7a8f17c823033493697fe6eb4b00",
       }}
TOOLS = BUILD_ROOT / "tools"
SRC_DL = DL / "sparse-src"


def accepted(tree, sparse="sparse"):
    """Whether the kernel @tree accepts @sparse: its own
    scripts/checker-valid.sh where it has one (6.13 on), else True."""
    script = Path(tree) / "scripts/checker-valid.sh"
    if not script.exists():
        return True
    res = run(["sh", script, sparse, f"--arch={ARCH}", "-m64",
               "-mlittle-endian"], cwd=tree, capture=True, check=False,
              quiet=True)
    return res.stdout.strip() == "1"


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _fetched():
    """The pinned source files in build/dl/sparse-src, sha256 checked."""
    files = PIN["files"]
    if all((SRC_DL / f).exists() and _sha256(SRC_DL / f) == h
           for f, h in files.items()):
        return SRC_DL / next(f for f in files if f.endswith(".dsc"))
    if SRC_DL.exists():
        shutil.rmtree(SRC_DL)
    SRC_DL.mkdir(parents=True)
    opts = source.apt_options(PIN["suite"], "deb deb-src")
    run(["apt-get", *opts, "update", "-q"], capture=True, check=False)
    spec = f"{PIN['package']}={PIN['version']}"
    res = run(["apt-get", *opts, "source", "--download-only", spec],
              cwd=SRC_DL, capture=True, check=False)
    if res.returncode:
        raise WbError(f"Debian {PIN['suite']} no longer serves the source "
                      f"package {spec} that the pin names (apt-get source: "
                      f"{(res.stderr or res.stdout).strip()[-300:]}): pin "
                      f"a version it serves in wblib/sparse.py")
    for f, h in files.items():
        got = _sha256(SRC_DL / f) if (SRC_DL / f).exists() else "missing"
        if got != h:
            raise WbError(f"{SRC_DL / f}: sha256 {got}, pinned {h}")
    return SRC_DL / next(f for f in files if f.endswith(".dsc"))


def tool(tree):
    """A sparse that the kernel @tree accepts: the system's, or the pinned
    one built in build/tools. WbError if neither is."""
    if shutil.which("sparse") and accepted(tree):
        return "sparse"
    built = TOOLS / PIN["dir"] / "sparse"
    if not built.exists():
        dsc = _fetched()
        TOOLS.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(TOOLS / PIN["dir"], ignore_errors=True)
        # Signatures aside (the files are sha256 pinned above).
        run(["dpkg-source", "-x", "--no-check", dsc, TOOLS / PIN["dir"]],
            capture=True)
        # The Debian package builds with gcc-16 (its use-gcc-16 patch);
        # the core sparse binary needs only the host's gcc.
        run(["make", "-C", TOOLS / PIN["dir"], "-j2", "CC=gcc", "HAVE_LLVM=no",
             "HAVE_GTK=no", "HAVE_LIBXML=no", "HAVE_SQLITE=no", "sparse"],
            capture=True)
        log(f"built sparse from Debian {PIN['suite']}'s {PIN['package']} "
            f"{PIN['version']} in {built.parent}")
    if not accepted(tree, built):
        raise WbError(f"{tree}/scripts/checker-valid.sh refuses both the "
                      f"system's sparse and {built}")
    return str(built)
