# SPDX-License-Identifier: GPL-2.0
"""Config fragments, merged with the kernel's merge_config.sh and verified."""

import re
from pathlib import Path

from .common import ARCH, BUILD, SRC, WB_DIR, WbError, kmake, log, run

CONFIGS = WB_DIR / "configs"
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


def objdir(name):
    return BUILD / f"obj-{name}"


def requested(name):
    want = {}
    for frag in fragments(name):
        want.update(parse(frag.read_text()))
    return want


_DEFINE = re.compile(r"^\s*(?:menu)?config\s+(\w+)", re.M)


def defined_symbols(src):
    """CONFIG_ names that some Kconfig file of the tree @src defines."""
    syms = set()
    for path in Path(src).rglob("Kconfig*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            syms.update("CONFIG_" + m for m in _DEFINE.findall(text))
    return syms


def verify(name, src=SRC, fragments_from=None):
    """Every option the fragments ask for must be in the final .config.

    For a tree other than the assembled one (vanilla), an option that no
    Kconfig file of @src defines is ours: it is skipped, and only it.
    """
    have = parse((objdir(name) / ".config").read_text())
    bad, absent = [], []
    known = defined_symbols(src) if Path(src) != SRC else None
    for sym, val in requested(fragments_from or name).items():
        got = have.get(sym, "n")
        if got != val and known is not None and sym not in known:
            absent.append(sym)
        elif got != val:
            bad.append(f"{sym}={val} (got {got})")
    if absent:
        log(f"config '{name}': {len(absent)} options not defined in {src}, "
            f"skipped: {' '.join(sorted(absent))}")
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
    # merge_config.sh runs make in its cwd: the kernel tree.
    run(["sh", Path(src) / "scripts/kconfig/merge_config.sh", "-n", "-Q",
         "-O", obj, *frags], cwd=src, env={"ARCH": ARCH}, capture=True)
    kmake(obj, "olddefconfig", capture=True, src=src)
    verify(name, src, fragments_from)
    merged.write_text(text)
    log(f"config '{name}': "
        f"{len(requested(fragments_from or name))} options from "
        f"{', '.join(f.name for f in frags)} verified")
    return obj
