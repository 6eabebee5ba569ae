# SPDX-License-Identifier: GPL-2.0
"""Kernel and module build, module load order and the guest initramfs."""

import fnmatch
import shutil
import struct
import subprocess
from pathlib import Path

from . import kconfig, userland
from .common import BUILD, REPO, SRC, WB_DIR, WbError, kmake, log, run
from .source import kernel_release

SHF_ALLOC_EXEC = 0x2 | 0x4
GUEST = WB_DIR / "guest"
MODSET = WB_DIR / "configs" / "modset"
BUSYBOX = Path("/bin/busybox")


def modsdir(name):
    return BUILD / f"mods-{name}"


def initramfs(name):
    return BUILD / f"initramfs-{name}.cpio"


def bzimage(name):
    return kconfig.objdir(name) / "arch/x86/boot/bzImage"


def _moddir(name):
    return modsdir(name) / "lib/modules" / kernel_release(kconfig.objdir(name))


def _modname(path):
    return Path(path).name.removesuffix(".ko").replace("-", "_")


def read_modules_dep(moddir):
    """{module path: [(path to load first, soft)]} from depmod's output.

    Hard dependencies come from modules.dep; "pre:" soft dependencies from
    modules.softdep, resolved through modules.alias as modprobe would (every
    module matching an alias). A soft dependency nothing provides as a
    module is built in or absent, and modprobe skips it too.
    """
    dep = moddir / "modules.dep"
    if not dep.exists():
        raise WbError(f"{dep} missing: depmod did not run")
    graph = {}
    for ln in dep.read_text().splitlines():
        mod, _, rest = ln.partition(":")
        graph[mod.strip()] = [(d, False) for d in rest.split()]
    by_name = {_modname(p): p for p in graph}
    aliases = []
    alias_file = moddir / "modules.alias"
    if alias_file.exists():
        for ln in alias_file.read_text().splitlines():
            parts = ln.split()
            if len(parts) == 3 and parts[0] == "alias":
                aliases.append((parts[1], parts[2]))
    softdep = moddir / "modules.softdep"
    for ln in softdep.read_text().splitlines() if softdep.exists() else []:
        parts = ln.split()
        if len(parts) < 3 or parts[0] != "softdep":
            continue
        owner = by_name.get(parts[1].replace("-", "_"))
        if owner is None:
            continue
        pre = parts[parts.index("pre:") + 1:] if "pre:" in parts else []
        if "post:" in pre:
            pre = pre[:pre.index("post:")]
        for want in pre:
            norm = want.replace("-", "_")
            found = [by_name[norm]] if norm in by_name else [
                by_name[m.replace("-", "_")] for pat, m in aliases
                if fnmatch.fnmatchcase(want, pat)
                and m.replace("-", "_") in by_name]
            graph[owner] += [(f, True) for f in found
                             if f != owner and (f, False) not in graph[owner]]
    return graph


def load_order(graph, wanted):
    """Dependencies first, each module once, in a stable order.

    A soft dependency that would close a cycle (crypto_algapi wants cryptomgr,
    which needs crypto_algapi) is loaded as soon as nothing it needs is still
    being loaded, before anything that could use it.
    """
    by_name = {_modname(p): p for p in graph}
    order, state, deferred = [], {}, []

    def visit(path, chain):
        if state.get(path) == "done":
            return
        if state.get(path) == "active":
            raise WbError(f"dependency cycle: {' -> '.join(chain + [path])}")
        state[path] = "active"
        for dep, soft in graph[path]:
            if soft and state.get(dep) == "active":
                continue
            if soft and _reaches(dep, path):
                deferred.append(dep)
                continue
            visit(dep, chain + [path])
        state[path] = "done"
        order.append(path)
        for dep in list(deferred):
            if dep in deferred and not _reaches(dep):
                deferred.remove(dep)
                visit(dep, [])

    def _reaches(src, dst=None):
        """Whether @src needs @dst (any module being loaded if None)."""
        seen, todo = set(), [src]
        while todo:
            cur = todo.pop()
            if cur == dst or (dst is None and state.get(cur) == "active"):
                return True
            if cur not in seen:
                seen.add(cur)
                todo += [d for d, _ in graph[cur]]
        return False

    for name in wanted:
        match = by_name.get(name.replace("-", "_"))
        if match is None:
            raise WbError(f"module set names '{name}', which the kernel did not "
                          f"build (check workbench/configs/modules.config)")
        visit(match, [])
        while deferred:
            visit(deferred.pop(0), [])
    return order


def _names(path):
    names = []
    for ln in path.read_text().splitlines():
        names += ln.split("#")[0].split()
    return names


def modset():
    """The module set, less what the base no longer has (configs/<base>/
    modset-omit), which must name modules of the set."""
    names = _names(MODSET)
    if kconfig.BASE_CONFIGS is None:
        return names
    omit_file = kconfig.BASE_CONFIGS / "modset-omit"
    omit = _names(omit_file) if omit_file.exists() else []
    stray = [n for n in omit if n not in names]
    if stray:
        raise WbError(f"{omit_file} names {', '.join(stray)}, which "
                      f"{MODSET} does not")
    return [n for n in names if n not in omit]


def _tree_lines(top, gdir, have):
    """gen_init_cpio lines of the tree @top at @gdir in the guest, each
    file with its exec bit; @have: directories already made (updated)."""
    lines = []
    for path in sorted(top.rglob("*")):
        rpath = f"{gdir.rstrip('/')}/{path.relative_to(top)}"
        if path.is_dir() and rpath not in have:
            have.add(rpath)
            lines.append(f"dir {rpath} 0755 0 0")
        elif path.is_file():
            mode = "0755" if path.stat().st_mode & 0o111 else "0644"
            lines.append(f"file {rpath} {path.resolve()} {mode} 0 0")
    return lines


def _cpio_list(name, order):
    """gen_init_cpio input: busybox, the guest scripts, the modules, bash
    and kmod (userland.py)."""
    moddir = _moddir(name)
    rel = moddir.name
    lines = ["dir /dev 0755 0 0", "nod /dev/console 0600 0 0 c 5 1",
             "dir /proc 0755 0 0", "dir /sys 0755 0 0", "dir /tmp 1777 0 0",
             "dir /bin 0755 0 0", "dir /lib 0755 0 0",
             "dir /lib/modules 0755 0 0", "dir /wb 0755 0 0",
             "dir /wb/scenarios 0755 0 0",
             f"file /bin/busybox {BUSYBOX} 0755 0 0",
             f"file /init {GUEST / 'init'} 0755 0 0",
             f"file /wb/lib.sh {GUEST / 'lib.sh'} 0644 0 0",
             f"file /wb/modset.order {BUILD / f'modset-{name}.order'} 0644 0 0"]
    for s in sorted((GUEST / "scenarios").glob("*.sh")):
        lines.append(f"file /wb/scenarios/{s.name} {s} 0644 0 0")
    seen = set()
    for path in sorted(modsdir(name).rglob("*")):
        rpath = "/" + str(path.relative_to(modsdir(name)))
        if path.is_symlink():
            continue
        if path.is_dir():
            lines.append(f"dir {rpath} 0755 0 0")
        elif path.is_file():
            lines.append(f"file {rpath} {path} 0644 0 0")
        seen.add(rpath)
    for ksft, gdir in ((BUILD / f"kselftest-{name}", "/wb/kselftest"),
                       (BUILD / f"kselftest-upstream-{name}",
                        "/wb/upstream")):
        if ksft.is_dir():
            lines.append(f"dir {gdir} 0755 0 0")
            lines += _tree_lines(ksft, gdir, set())
    assert f"/lib/modules/{rel}" in seen
    have = {ln.split()[1] for ln in lines if ln.startswith("dir ")}
    lines += userland.cpio_lines(have)
    return "\n".join(lines) + "\n"


def kselftest_targets():
    """The selftest directories this repository adds to the kernel."""
    top = REPO / "tools/testing/selftests"
    return sorted(p.name for p in top.iterdir() if p.is_dir()) \
        if top.is_dir() else []


def build_kselftests(name):
    """Build and install our kselftests (static: the guest has no libc)."""
    dest = BUILD / f"kselftest-{name}"
    if dest.exists():
        shutil.rmtree(dest)
    targets = kselftest_targets()
    if not targets:
        return
    run(["make", "-C", SRC / "tools/testing/selftests",
         f"O={BUILD / f'kselftest-obj-{name}'}", f"INSTALL_PATH={dest}",
         f"TARGETS={' '.join(targets)}", "LDFLAGS=-static", "install"],
        capture=True)
    log(f"kselftests: {', '.join(targets)} installed in {dest}")


# Upstream's kselftests in the test boots (guest/scenarios/test.sh): whole
# collections, and single scripts of collections whose other programs the
# static guest cannot build or run.
UPSTREAM_TARGETS = ("kmod",)
UPSTREAM_SCRIPTS = {"mm": "test_vmalloc.sh"}


def upstream_kselftests(name):
    """Install UPSTREAM_* from the tree's tools/testing/selftests, unchanged,
    through kselftest's install targets, in build/kselftest-upstream-@name
    (guest/scenarios/test.sh runs the scripts as upstream's own runners
    call them)."""
    dest = BUILD / f"kselftest-upstream-{name}"
    if dest.exists():
        shutil.rmtree(dest)
    top = SRC / "tools/testing/selftests"
    obj = BUILD / f"kselftest-upstream-obj-{name}"
    run(["make", "-C", top, f"O={obj}", f"INSTALL_PATH={dest}",
         f"TARGETS={' '.join(UPSTREAM_TARGETS)}", "install"], capture=True)
    # One script of a collection: its Makefile's lists, overridden on the
    # command line, name only that script.
    for target, script in UPSTREAM_SCRIPTS.items():
        run(["make", "-C", top / target, "TEST_GEN_PROGS=", "TEST_GEN_FILES=",
             "TEST_FILES=", "TEST_GEN_MODS_DIR=", f"TEST_PROGS={script}",
             f"OUTPUT={obj / target}", f"INSTALL_PATH={dest / target}",
             "install"], capture=True)
        if not (dest / target / script).is_file():
            raise WbError(f"{target}: install left no {script}")
    log(f"upstream kselftests in {dest}: {', '.join(UPSTREAM_TARGETS)}, "
        + ", ".join(f"{t}/{s}" for t, s in UPSTREAM_SCRIPTS.items()))


def compress_test_modules(name):
    """An xz copy of each test module, for the in-kernel decompression path."""
    cfg = kconfig.parse((kconfig.objdir(name) / ".config").read_text())
    if cfg.get("CONFIG_MODULE_DECOMPRESS") != "y":
        return
    for ko in _moddir(name).glob("kernel/lib/test_*.ko"):
        # The options scripts/Makefile.modinst uses, which the kernel's
        # xz decoder supports.
        with open(f"{ko}.xz", "wb") as out:
            subprocess.run(["xz", "--check=crc32", "--lzma2=dict=1MiB",
                            "-c", str(ko)], stdout=out, check=True)


def build(name, src=SRC, fragments_from=None):
    """Kernel, modules and initramfs of build/obj-@name from the tree @src
    (default: the assembled one); our kselftests only exist there."""
    obj = kconfig.config(name, src, fragments_from)
    kmake(obj, "bzImage", "modules", src=src)
    mods = modsdir(name)
    if mods.exists():
        shutil.rmtree(mods)
    kmake(obj, "modules_install", f"INSTALL_MOD_PATH={mods}",
          "INSTALL_MOD_STRIP=1", capture=True, src=src)
    compress_test_modules(name)
    if Path(src) == SRC:
        build_kselftests(name)
        upstream_kselftests(name)
    else:
        for d in (f"kselftest-{name}", f"kselftest-upstream-{name}"):
            shutil.rmtree(BUILD / d, ignore_errors=True)
    graph = read_modules_dep(_moddir(name))
    order = load_order(graph, modset())
    (BUILD / f"modset-{name}.order").write_text("\n".join(order) + "\n")
    text = sum(module_text_size(_moddir(name) / p) for p in order)
    log(f"module set: {len(order)} modules, {text / 2**20:.2f} MiB .text "
        f"(of {len(graph)} built)")
    if not BUSYBOX.exists():
        raise WbError(f"{BUSYBOX} missing: install busybox-static")
    lst = BUILD / f"initramfs-{name}.list"
    lst.write_text(_cpio_list(name, order))
    gen = obj / "usr/gen_init_cpio"
    if not gen.exists():
        kmake(obj, "usr/gen_init_cpio", capture=True, src=src)
    with open(initramfs(name), "wb") as f:
        subprocess.run([str(gen), str(lst)], stdout=f, check=True)
    log(f"initramfs {initramfs(name)} "
        f"({initramfs(name).stat().st_size >> 20} MiB)")
    return obj


def initramfs_with(name, dirs):
    """@name's initramfs followed by a second cpio archive of the trees
    @dirs (each file at its path under its directory, with its mode): the
    kernel unpacks both, the second over the first. For guest files of a
    run (wb run --guest-files) without a rebuild."""
    base = initramfs(name)
    if not base.exists():
        raise WbError(f"{base} missing: run 'wb build --config {name}'")
    lines, have = [], set()
    for top in map(Path, dirs):
        if not top.is_dir():
            raise WbError(f"--guest-files {top}: not a directory")
        lines += _tree_lines(top, "/", have)
    if not any(ln.startswith("file ") for ln in lines):
        raise WbError(f"--guest-files {' '.join(map(str, dirs))}: no file")
    gen = kconfig.objdir(name) / "usr/gen_init_cpio"
    if not gen.exists():
        raise WbError(f"{gen} missing: run 'wb build --config {name}'")
    lst = BUILD / f"initramfs-{name}-extra.list"
    lst.write_text("\n".join(lines) + "\n")
    out = BUILD / f"initramfs-{name}-extra.cpio"
    with open(out, "wb") as f:
        f.write(base.read_bytes())
        subprocess.run([str(gen), str(lst)], stdout=f, check=True)
    return out


def module_text_size(ko):
    """Bytes of the executable sections of @ko that stay after init."""
    data = Path(ko).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise WbError(f"{ko}: not an ELF64 object")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)

    def shdr(i):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size
        return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)

    strtab_off = shdr(shstrndx)[4]
    total = 0
    for i in range(shnum):
        name_off, _, flags, _, _, size = shdr(i)
        end = data.index(b"\0", strtab_off + name_off)
        name = data[strtab_off + name_off:end].decode()
        if flags & SHF_ALLOC_EXEC == SHF_ALLOC_EXEC and \
                not name.startswith((".init", ".exit")):
            total += size
    return total
