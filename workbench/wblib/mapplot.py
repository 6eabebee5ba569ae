# SPDX-License-Identifier: GPL-2.0
"""The module area as rows of 2M blocks, coloured by mapping size and
permission, two kernels side by side: out/module-map.png.

The workbench side (write_png) is stdlib only: it turns each ptdump of the
module area into rows and hands them, as JSON, to this same file run by
Debian's python3 (python3-matplotlib), which draws them.  Only blocks that
hold a present mapping are drawn; a gap between shown blocks is marked.

  /usr/bin/python3 workbench/wblib/mapplot.py ROWS.json OUT.png
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PMD = 2 << 20
PAGE = 4 << 10
DEBIAN_PYTHON = "/usr/bin/python3"
# (class, page size) -> colour; 2M dark, 4K light.
COLOURS = {("text", "2M"): "#b2182b", ("text", "4K"): "#f4a582",
           ("rodata", "2M"): "#2166ac", ("rodata", "4K"): "#92c5de",
           ("data", "2M"): "#1b7837", ("data", "4K"): "#a6dba0",
           ("wx", "4K"): "#000000", ("wx", "2M"): "#000000"}
LABELS = {"text": "text (ROX)", "rodata": "rodata (RO, NX)",
          "data": "data (RW, NX)", "wx": "W+X"}


def rows(ptdump_text):
    """[(block address, [(first 4K, last 4K + 1, class, "4K"|"2M")])] of the
    2M blocks that hold a present mapping, in address order."""
    from . import results       # package import: not needed to draw
    blocks = {}
    for start, end, flags, level in results.ptdump_entries(ptdump_text):
        cls = results.classify(flags)
        if cls is None:
            continue
        size = "2M" if level == "pmd" else "4K"
        addr = start
        while addr < end:
            block = addr - addr % PMD
            stop = min(end, block + PMD)
            blocks.setdefault(block, []).append(
                ((addr - block) // PAGE, (stop - block) // PAGE, cls, size))
            addr = stop
    return [(b, blocks[b]) for b in sorted(blocks)]


def write_png(ptdumps, out):
    """Draw {label: ptdump file} side by side into @out (a PNG)."""
    from .common import WbError
    data = {}
    for label, path in ptdumps.items():
        if not Path(path).exists():
            raise WbError(f"module map: {path} missing")
        data[label] = rows(Path(path).read_text())
    if not os.access(DEBIAN_PYTHON, os.X_OK):
        raise WbError(f"{DEBIAN_PYTHON} missing: install python3-matplotlib")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as tmp:
        json.dump(data, tmp)
        tmp.flush()
        res = subprocess.run([DEBIAN_PYTHON, __file__, tmp.name, str(out)],
                             capture_output=True, text=True)
    if res.returncode:
        raise WbError(f"drawing {out} failed (is python3-matplotlib "
                      f"installed?):\n{res.stderr.strip()[-1500:]}")
    return Path(out)


# ---- drawing, under Debian's python3 with matplotlib ------------------------

def _draw_panel(ax, label, blocks):
    prev = None
    for y, (block, segs) in enumerate(blocks):
        for first, last, cls, size in segs:
            ax.broken_barh([(first, last - first)], (y + 0.1, 0.8),
                           facecolors=COLOURS[(cls, size)])
        if prev is not None and block - prev > PMD:
            ax.axhline(y - 0.02, color="grey", lw=0.6, ls=":")
        prev = block
    ax.set_xlim(0, PMD // PAGE)
    ax.set_ylim(len(blocks), 0)
    ax.set_yticks([i + 0.5 for i in range(len(blocks))])
    ax.set_yticklabels([f"{b:#x}" for b, _ in blocks], fontsize=6,
                       family="monospace")
    ax.set_xticks([0, 128, 256, 384, 512])
    ax.set_xlabel("4K page within the 2M block")
    n2m = sum(1 for _, s in blocks for seg in s if seg[3] == "2M")
    n4k = sum(seg[1] - seg[0] for _, s in blocks for seg in s
              if seg[3] == "4K")
    ax.set_title(f"{label}: {len(blocks)} blocks, {n2m} 2M entries, "
                 f"{n4k} 4K entries", fontsize=9)


def draw(data, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    height = max(len(b) for b in data.values())
    fig, axes = plt.subplots(1, len(data), squeeze=False,
                             figsize=(6 * len(data), 1.5 + 0.22 * height))
    for ax, (label, blocks) in zip(axes[0], data.items()):
        _draw_panel(ax, label, blocks)
    handles = [Patch(color=c, label=f"{LABELS[cls]}, {size}")
               for (cls, size), c in COLOURS.items() if cls != "wx"]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("Module area, one row per 2M block holding module memory "
                 "(dotted line: gap)", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} ROWS.json OUT.png")
    draw(json.loads(Path(sys.argv[1]).read_text()), sys.argv[2])
