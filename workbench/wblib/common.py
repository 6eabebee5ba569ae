# SPDX-License-Identifier: GPL-2.0
"""Paths, constants and small process helpers shared by every subcommand."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

WB_DIR = Path(__file__).resolve().parent.parent
REPO = WB_DIR.parent
# The kernel the workbench builds on: Linux 6.12 LTS (the default) or
# mainline 7.3. WB_BASE picks it (make ... BASE=7.3). The default base keeps
# the top of build/ and out/; another base gets build/<base> and out/<base>.
BASES = ("6.12", "7.3")
DEFAULT_BASE = "6.12"
BASE = os.environ.get("WB_BASE") or DEFAULT_BASE
BUILD_ROOT = Path(os.environ.get("WB_BUILD_DIR", REPO / "build"))
OUT_ROOT = Path(os.environ.get("WB_OUT_DIR", REPO / "out"))


def base_dir(root, base):
    """A base's own place under build/ or out/: the root for the default
    base, root/BASE for another."""
    return root if base == DEFAULT_BASE else root / base


BUILD = base_dir(BUILD_ROOT, BASE)
OUT = base_dir(OUT_ROOT, BASE)
SRC = BUILD / "linux"
# Downloads are kept across bases and cleans.
DL = BUILD_ROOT / "dl"

ARCH = "x86_64"


class WbError(Exception):
    """An error the user can act on: printed as one message, exit status 1."""


def log(msg):
    print(f"wb: {msg}", file=sys.stderr, flush=True)


def run(cmd, cwd=None, env=None, check=True, capture=False, quiet=False,
        stdin=None):
    """Run @cmd (a list); raise WbError naming the command when it fails."""
    if not quiet:
        log("$ " + " ".join(shlex.quote(str(c)) for c in cmd))
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=full_env,
                             stdin=stdin,
                             stdout=subprocess.PIPE if capture else None,
                             stderr=subprocess.PIPE if capture else None,
                             text=True if capture else None)
    except FileNotFoundError as e:
        raise WbError(f"command not found: {cmd[0]} ({e})") from e
    if check and res.returncode != 0:
        detail = ""
        if capture and res.stderr:
            detail = ":\n" + res.stderr.strip()[-2000:]
        raise WbError(f"'{' '.join(str(c) for c in cmd)}' exited with "
                      f"status {res.returncode}{detail}")
    return res


def git(*args, cwd=SRC, env=None, capture=True, check=True):
    res = run(["git", *args], cwd=cwd, env=env, capture=capture,
              check=check, quiet=True)
    return res.stdout.strip() if capture else ""


def kmake(obj, *targets, env=None, capture=False, src=SRC, arch=ARCH):
    """make in the kernel tree @src (the assembled one by default), out of
    tree in @obj, for @arch."""
    jobs = os.environ.get("WB_JOBS", str(os.cpu_count() or 1))
    return run(["make", "-C", src, f"O={obj}", f"ARCH={arch}", f"-j{jobs}",
                *targets], env=env, capture=capture)
