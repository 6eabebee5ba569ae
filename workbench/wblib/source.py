# SPDX-License-Identifier: GPL-2.0
"""Host packages, the pinned Debian kernel source and the assembled tree.

The tree in build/linux is a git repository with two commits: the Debian
linux-source tarball exactly as shipped, and on top of it this repository's
overlay (new files at their kernel paths) plus patches/ applied in the order
of patches/series.  Re-assembling only rewrites files whose content changed,
so an incremental kernel build recompiles only what we touched.
"""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from .common import (BASE, BASES, BUILD, BUILD_ROOT, DEFAULT_BASE, DL, REPO,
                     SRC, WbError, git, log, run)

# Each base: the Debian package that ships its source, pinned by version and
# sha256, and the suite that serves it. A suite of None is the system's own
# apt sources; any other suite is reached through an apt configuration of
# the workbench's own under build/apt, so the system's apt setup is never
# changed.
PINS = {
    "6.12": {"package": "linux-source-6.12", "version": "6.12.117-1~deb12u1",
             "sha256": "e849faf31ca3555757f3a8877cb01af92122f744f75d1f3102734651c4e14703",
             "kernel": "6.12.117", "suite": None},
    "7.3": {"package": "linux-source-7.3", "version": "7.3.4-1~bpo13+1",
            "sha256": "703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3",
            "kernel": "7.3.4", "suite": "trixie-backports"},
}
assert set(PINS) == set(BASES)
if BASE not in PINS:
    raise SystemExit(f"wb: error: unknown base '{BASE}' (known: "
                     f"{', '.join(BASES)}; default {DEFAULT_BASE})")
PIN = PINS[BASE]
DEB_PACKAGE = PIN["package"]
DEB_VERSION = PIN["version"]
DEB_SHA256 = PIN["sha256"]
KERNEL_VERSION = PIN["kernel"]
# The mirror the workbench's own apt configuration uses.
MIRROR = os.environ.get("WB_DEB_MIRROR", "http://deb.debian.org/debian")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
APT = BUILD_ROOT / "apt"

# Debian packages the workbench needs, with a command that proves each one.
PACKAGES = {
    "build-essential": "make",
    "flex": "flex",
    "bison": "bison",
    "bc": "bc",
    "libelf-dev": None,
    "libssl-dev": None,
    "python3": "python3",
    "git": "git",
    "xz-utils": "xz",
    "kmod": "depmod",
    "cpio": "cpio",
    # kselftest's install target copies the test files with it.
    "rsync": "rsync",
    "busybox-static": None,
    # The guest's bash, for upstream's kselftest scripts (userland.py).
    "bash-static": "bash-static",
    "libcap2-bin": "capsh",
    "qemu-system-x86": "qemu-system-x86_64",
    # make bench: file system images, nft for the guest, the map picture.
    "e2fsprogs": "mkfs.ext4",
    "xfsprogs": "mkfs.xfs",
    "nftables": "nft",
    "python3-matplotlib": None,
}

# The default base's series is patches/series; another base has its own in
# patches/<base>/. New files are shared: the overlay is the same for both.
PATCHES = REPO / "patches" if BASE == DEFAULT_BASE else REPO / "patches" / BASE
BASE_REF = "refs/tags/wb-base"
# Fixed identity and dates: the same inputs always give the same commits.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "workbench", "GIT_AUTHOR_EMAIL": "workbench@localhost",
    "GIT_COMMITTER_NAME": "workbench",
    "GIT_COMMITTER_EMAIL": "workbench@localhost",
    "GIT_AUTHOR_DATE": "2024-11-17T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-11-17T00:00:00Z",
}


def _installed(pkg):
    res = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                         capture_output=True, text=True)
    # "unknown ok not-installed" is what dpkg says of a package it has
    # only heard of (one that was removed, or named in its database).
    return res.returncode == 0 and res.stdout.split()[-1:] == ["installed"]


def deps(extra=()):
    """Install missing Debian packages as root, else name the apt-get line."""
    wanted = list(PACKAGES) + list(extra)
    missing = [p for p in wanted if not _installed(p)]
    if not missing:
        return
    line = "apt-get install -y " + " ".join(missing)
    if os.geteuid() != 0:
        raise WbError(f"missing Debian packages; as root run:\n  {line}")
    log(f"installing {' '.join(missing)}")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if run(["apt-get", "install", "-y", "-q", *missing], env=env,
           check=False).returncode != 0:
        run(["apt-get", "update", "-q"], env=env)
        run(["apt-get", "install", "-y", "-q", *missing], env=env)
    still = [p for p in missing if not _installed(p)]
    if still:
        raise WbError(f"packages still missing after apt-get: {still}")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def apt_options(suite, types="deb"):
    """apt -o options for @suite through the workbench's own configuration
    under build/apt/@suite (@types: "deb", or "deb deb-src" for source
    packages); the system's apt setup is not touched."""
    state = APT / suite
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True,
                                                     exist_ok=True)
    (state / "parts").mkdir(exist_ok=True)
    src = state / "parts" / "wb.sources"
    text = (f"Types: {types}\nURIs: {MIRROR}\nSuites: {suite}\n"
            f"Components: main\nSigned-By: {KEYRING}\n")
    if not src.exists() or src.read_text() != text:
        src.write_text(text)
    status = state / "status"
    status.touch()
    opts = {"Dir::Etc::sourcelist": "/dev/null",
            "Dir::Etc::sourceparts": state / "parts",
            "Dir::State::Lists": state / "lists",
            "Dir::Cache": state / "cache",
            "Dir::State::status": status,
            "Acquire::Languages": "none"}
    return [a for k, v in opts.items() for a in ("-o", f"{k}={v}")]


def _apt_options():
    """apt -o options for the pin's suite: [] for the system's sources."""
    return [] if PIN["suite"] is None else apt_options(PIN["suite"])


def _apt(tool, *args, **kw):
    return run([tool, *_apt_options(), *args], **kw)


def _served_versions():
    res = _apt("apt-cache", "madison", DEB_PACKAGE, capture=True,
               check=False, quiet=True)
    return [ln.split("|")[1].strip() for ln in res.stdout.splitlines()
            if ln.count("|") >= 2]


def _index_sha256(version):
    res = _apt("apt-cache", "show", f"{DEB_PACKAGE}={version}",
               capture=True, check=False, quiet=True)
    for ln in res.stdout.splitlines():
        if ln.startswith("SHA256:"):
            return ln.split()[1]
    return None


def pinned():
    """(version, sha256): the pin, or the WB_DEB_VERSION/WB_DEB_SHA256 override."""
    version = os.environ.get("WB_DEB_VERSION", DEB_VERSION)
    sha = os.environ.get("WB_DEB_SHA256")
    if sha is None and version == DEB_VERSION:
        sha = DEB_SHA256
    return version, sha


def fetch():
    """Download the pinned linux-source .deb and check its sha256."""
    version, sha = pinned()
    deb = DL / f"{DEB_PACKAGE}_{version.replace(':', '%3a')}_all.deb"
    if deb.exists() and sha and _sha256(deb) == sha:
        return deb, version
    DL.mkdir(parents=True, exist_ok=True)
    served = _served_versions()
    if not served:
        _apt("apt-get", "update", "-q", check=False)
        served = _served_versions()
    if version not in served:
        raise WbError(
            f"{DEB_PACKAGE} {version} is not served by the configured apt "
            f"sources.\n  served: {', '.join(served) or 'none'}\n"
            f"  pick one with: WB_DEB_VERSION=<version> "
            f"[WB_DEB_SHA256=<sha256>] make ...")
    if sha is None:
        sha = _index_sha256(version)
        if not sha:
            raise WbError(f"no SHA256 for {DEB_PACKAGE}={version} in the apt "
                          f"index; set WB_DEB_SHA256")
        log(f"override {version}: checking against the apt index sha256 {sha}")
    for stale in DL.glob(f"{DEB_PACKAGE}_*.deb"):
        stale.unlink()
    _apt("apt-get", "download", "-q", f"{DEB_PACKAGE}={version}", cwd=DL)
    got = _sha256(deb) if deb.exists() else "missing"
    if got != sha:
        deb.unlink(missing_ok=True)
        raise WbError(f"{deb.name}: sha256 {got} does not match the pinned "
                      f"{sha}; the download was removed, run again")
    return deb, version


def _extract(deb, version):
    log(f"extracting {deb.name} into {SRC}")
    if SRC.exists():
        shutil.rmtree(SRC)
    SRC.mkdir(parents=True)
    inner = f"./usr/src/{DEB_PACKAGE}.tar.xz"
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                          stdout=subprocess.PIPE) as outer:
        tarball = subprocess.Popen(["tar", "-xO", inner], stdin=outer.stdout,
                                   stdout=subprocess.PIPE)
        untar = subprocess.run(["tar", "-xJ", "--strip-components=1",
                                "-C", str(SRC)], stdin=tarball.stdout)
        tarball.wait()
    if untar.returncode or tarball.returncode or outer.returncode:
        raise WbError(f"could not extract {inner} from {deb}")
    git("init", "-q")
    git("config", "gc.auto", "0")
    git("config", "core.untrackedCache", "true")
    git("add", "-A", "-f", ".")
    git("commit", "-q", "--no-verify", "-m",
        f"Debian {DEB_PACKAGE} {version}, as shipped", env=GIT_ENV)
    git("tag", "-f", "wb-base", env=GIT_ENV)
    git("tag", "-f", f"wb-deb-{version.replace('~', '_').replace(':', '_')}")


def overlay_dirs():
    """Top-level directories of this repo that are kernel top-level directories."""
    return sorted(p.name for p in REPO.iterdir()
                  if p.is_dir() and (SRC / p.name).is_dir()
                  and not p.name.startswith("."))


def series():
    path = PATCHES / "series"
    if not path.exists():
        return []
    names = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
    names = [n for n in names if n]
    for n in names:
        if not (PATCHES / n).is_file():
            raise WbError(f"patches/series names {n}, which does not exist")
    return names


def overlay_omitted():
    """New files this base does not carry: overlay-omit beside its series
    (patches/ for the default base, patches/<base>/ for another)."""
    path = PATCHES / "overlay-omit"
    if not path.exists():
        return set()
    names = {ln.split("#")[0].strip() for ln in path.read_text().splitlines()}
    names.discard("")
    missing = sorted(n for n in names if not (REPO / n).is_file())
    if missing:
        raise WbError(f"{path} names {', '.join(missing)}, which the "
                      f"repository does not have")
    return names


def overlay_files():
    """Every overlay file of the base, relative to the repo, sorted by
    directory."""
    files = []
    omit = overlay_omitted()
    for d in overlay_dirs():
        files += sorted(str(p.relative_to(REPO)) for p in (REPO / d).rglob("*")
                        if p.is_file() and str(p.relative_to(REPO)) not in omit)
    return files


def _overlay_tree():
    """Write base + overlay + patches into a scratch index; return its tree."""
    index = SRC / ".git" / "wb-overlay-index"
    env = {"GIT_INDEX_FILE": str(index)}
    git("read-tree", BASE_REF, env=env)
    files = overlay_files()
    if files:
        shas = subprocess.run(["git", "-C", str(SRC), "hash-object", "-w",
                               "--stdin-paths"],
                              input="\n".join(str(REPO / f) for f in files),
                              capture_output=True, text=True, check=True)
        info = []
        for f, sha in zip(files, shas.stdout.split()):
            mode = "100755" if os.access(REPO / f, os.X_OK) else "100644"
            info.append(f"{mode} {sha}\t{f}")
        subprocess.run(["git", "-C", str(SRC), "update-index", "--add",
                        "--index-info"], input="\n".join(info) + "\n",
                       text=True, check=True, env={**os.environ, **env})
    for name in series():
        res = run(["git", "apply", "--cached", "--whitespace=nowarn",
                   PATCHES / name], cwd=SRC, env=env, check=False,
                  capture=True, quiet=True)
        if res.returncode:
            raise WbError(f"patches/{name} does not apply:\n{res.stderr}")
    return git("write-tree", env=env)


def tree():
    """Fetch if needed, then bring build/linux to base + overlay + patches."""
    deb, version = fetch()
    stamp = SRC / ".git" / "wb-deb-version"
    if not stamp.exists() or stamp.read_text().strip() != version:
        _extract(deb, version)
        stamp.write_text(version + "\n")
    want = _overlay_tree()
    head = git("rev-parse", "HEAD^{tree}")
    if want != head or git("status", "--porcelain", "-uno"):
        commit = git("commit-tree", want, "-p", BASE_REF, "-m",
                     "workbench: overlay and patches/series", env=GIT_ENV)
        git("reset", "-q", "--hard", commit)
        log(f"tree at {commit[:12]} ({len(series())} patches, overlay "
            f"{', '.join(overlay_dirs()) or 'empty'})")
    return SRC


def kernel_release(obj):
    path = Path(obj) / "include" / "config" / "kernel.release"
    if not path.exists():
        raise WbError(f"{obj} has no kernel.release: build the kernel first")
    return path.read_text().strip()


def ensure_dirs():
    BUILD.mkdir(parents=True, exist_ok=True)
