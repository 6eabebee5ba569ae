# SPDX-License-Identifier: GPL-2.0
# Every target runs the workbench, which installs what it needs (as root),
# fetches the pinned Debian kernel source, assembles it with our changes,
# builds, boots under QEMU and measures.

# BASE=6.12 (the default: the LTS the series was first built on) or
# BASE=7.3 (mainline); each has its own build/ and out/ place (README).
# make test without BASE tests both bases, 6.12 then 7.3; the 7.3 kernel
# builds on one core while the 6.12 boots (one single-threaded TCG guest at a
# time) use the other (wb test-bases, README). make test BASE=7.3 tests one.
TEST_BASES := $(if $(BASE),$(BASE),6.12 7.3)
BASE ?= 6.12
WB := WB_BASE=$(BASE) workbench/wb

.PHONY: demo test bench soak test-debug matrix deps fetch tree config build selftest clean distclean

demo:
	$(WB) demo

test:
	workbench/wb test-bases $(TEST_BASES)

# Not part of make test: 1000 load/unload cycles; the debug kernel; the
# build matrix. Each builds its own kernel.
soak:
	$(WB) soak

test-debug:
	$(WB) test-debug

matrix:
	$(WB) matrix

# The vanilla base against ours (off, on): out/bench.json, out/bench.md
# (out/7.3/ with BASE=7.3).
bench:
	$(WB) bench

deps fetch tree config build selftest:
	$(WB) $@

# The upstream patch series in out/series, and its patch-by-patch check.
.PHONY: series series-check
series series-check:
	$(WB) $@

# Build trees and run logs; the downloaded .deb in build/dl is kept.
clean:
	rm -rf out build/obj-* build/mods-* build/initramfs-* build/kselftest-* \
		build/7.3

distclean:
	rm -rf out build
