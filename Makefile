# SPDX-License-Identifier: GPL-2.0
# Every target runs the workbench, which installs what it needs (as root),
# fetches the pinned Debian kernel source, assembles it with our changes,
# builds, boots under QEMU and measures.

WB := workbench/wb

.PHONY: demo test deps fetch tree config build selftest clean distclean

demo:
	$(WB) demo

test:
	$(WB) test

deps fetch tree config build selftest:
	$(WB) $@

# Build trees and run logs; the downloaded .deb in build/dl is kept.
clean:
	rm -rf out build/obj-* build/mods-* build/initramfs-* build/kselftest-*

distclean:
	rm -rf out build
