# SPDX-License-Identifier: GPL-2.0
"""Config fragments, merged with the kernel's merge_config.sh and verified."""

import re
from pathlib import Path

from . import source
from .common import (ARCH, BASE, BUILD, DEFAULT_BASE, SRC, WB_DIR, WbError,
                     kmake, log, run)

CONFIGS = WB_DIR / "configs"
# What differs on another base: configs/<base>/<fragment>.config is merged
# right after configs/<fragment>.config, and wins.
BASE_CONFIGS = CONFIGS / BASE if BASE != DEFAULT_BASE else None
# Configs of another architecture: name -> (ARCH, the kernel's defconfig
# their fragments are merged on).  The others start from allnoconfig and
# are x86-64.
OTHER_ARCH = {"i386": ("i386", "i386_defconfig")}
_SET = re.compile(r"^(CONFIG_\w+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_\w+) is not set$")


def fragments(name):
    lst = CONFIGS / f"{name}.list"
    if not lst.exists():
        known = sorted(p.stem for p in CONFIGS.glob("*.list"))
        raise WbError(f"unknown config '{name}' (known: {', '.join(known)})")
    frags = []
    for ln in lst.read_text().split("\n"):
        ln = ln.split("#")[0].strip()
        if ln:
            path = CONFIGS / f"{ln}.config"
            if not path.exists():
                raise WbError(f"{lst.name} names {path.name}, which is missing")
            frags.append(path)
            if BASE_CONFIGS and (BASE_CONFIGS / path.name).exists():
                frags.append(BASE_CONFIGS / path.name)
    return frags


def parse(text):
    """{symbol: value} of a fragment or .config; 'n' for '# ... is not set'."""
    vals = {}
    for ln in text.splitlines():
        m = _SET.match(ln.strip())
        if m:
            vals[m.group(1)] = m.group(2)
            continue
        m = _UNSET.match(ln.strip())
        if m:
            vals[m.group(1)] = "n"
    return vals


def arch(name):
    """ARCH of config @name."""
    return OTHER_ARCH.get(name, (ARCH, None))[0]


def objdir(name):
    return BUILD / f"obj-{name}"


def requested(name):
    want = {}
    for frag in fragments(name):
        want.update(parse(frag.read_text()))
    return want


_DEFINE = re.compile(r"^\+[ \t]*(?:menu)?config[ \t]+(\w+)", re.M)


def our_symbols():
    """CONFIG_ names our patches add to Kconfig files."""
    return {"CONFIG_" + m for p in source.PATCHES.glob("*.patch")
            for m in _DEFINE.findall(p.read_text(errors="replace"))}


def verify(name, src=SRC, fragments_from=None):
    """Every option the fragments ask for must be in the final .config.

    For a tree other than the assembled one (vanilla), the options our
    patches add are skipped, and only they.
    """
    have = parse((objdir(name) / ".config").read_text())
    bad, absent = [], []
    ours = our_symbols() if Path(src) != SRC else set()
    for sym, val in requested(fragments_from or name).items():
        got = have.get(sym, "n")
        if got != val and sym in ours:
            absent.append(sym)
        elif got != val:
            bad.append(f"{sym}={val} (got {got})")
    if absent:
        log(f"config '{name}': {len(absent)} options of our patches, not "
            f"in {src}, skipped: {' '.join(sorted(absent))}")
    if bad:
        raise WbError(f"config '{name}': requested options missing after "
                      f"olddefconfig (unmet dependency or unknown symbol):\n  "
                      + "\n  ".join(bad))


def config(name, src=SRC, fragments_from=None):
    """Object dir build/obj-@name configured in the tree @src from the
    fragments of configs/@fragments_from.list (default: @name)."""
    obj = objdir(name)
    obj.mkdir(parents=True, exist_ok=True)
    frags = fragments(fragments_from or name)
    dot = obj / ".config"
    merged = BUILD / f"fragments-{name}.config"
    text = "".join(f.read_text() for f in frags)
    if (dot.exists() and merged.exists() and merged.read_text() == text
            and (obj / "include/config/auto.conf").exists()):
        verify(name, src, fragments_from)
        return obj
    # merge_config.sh runs make in its cwd: the kernel tree.  It starts
    # from allnoconfig (-n), or from the defconfig of another architecture.
    march, defconfig = OTHER_ARCH.get(name, (ARCH, None))
    start = ["-n"]
    if defconfig is not None:
        start = [Path(src) / "arch/x86/configs" / defconfig]
        if not start[0].exists():
            raise WbError(f"config '{name}': {start[0]} missing")
    run(["sh", Path(src) / "scripts/kconfig/merge_config.sh", "-Q",
         "-O", obj, *start, *frags], cwd=src, env={"ARCH": march},
        capture=True)
    kmake(obj, "olddefconfig", capture=True, src=src, arch=march)
    verify(name, src, fragments_from)
    merged.write_text(text)
    log(f"config '{name}': "
        f"{len(requested(fragments_from or name))} options from "
        f"{', '.join(str(f.relative_to(CONFIGS)) for f in frags)} verified")
    return obj
