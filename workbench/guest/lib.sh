# SPDX-License-Identifier: GPL-2.0
# Helpers shared by the guest init and the scenarios.
#
# Results channel protocol (ttyS1, raw): one record per line,
#   @@wb begin NAME / <file contents> / @@wb end NAME
#   @@wb exit STATUS   (always last)

WB_CHANNEL=/dev/ttyS1
WB_MODDIR=/lib/modules/$(uname -r)

wb_cmdline() {
	for arg in $(cat /proc/cmdline); do
		case "$arg" in
		"$1"=*) echo "${arg#*=}" ;;
		esac
	done
}

wb_channel_open() {
	stty -F "$WB_CHANNEL" raw -echo 2>/dev/null
}

# wb_put NAME [FILE]: send FILE (default: stdin) to the host as NAME.
wb_put() {
	{
		echo "@@wb begin $1"
		if [ -n "$2" ]; then cat "$2"; else cat; fi
		echo "@@wb end $1"
	} > "$WB_CHANNEL"
}

# wb_put_file NAME FILE: send FILE as NAME; if it cannot be read, send one
# "wb-missing:" line instead, so that the host always gets NAME and can tell
# a file absent on the guest from one never sent (results.py MISSING).
wb_put_file() {
	if [ -r "$2" ] && cat "$2" > /tmp/wb_put_file 2>/dev/null; then
		wb_put "$1" /tmp/wb_put_file
	else
		echo "wb-missing: $2 cannot be read" | wb_put "$1"
	fi
	rm -f /tmp/wb_put_file
}

wb_exit() {
	echo "@@wb exit $1" > "$WB_CHANNEL"
	sync
	reboot -f
}

# wb_expect NAME begin|end: tell the host's splat scanner, through the
# kernel log, that the reports of class NAME (results.py EXPECTABLE) are
# expected from here on, or no longer. Anything else still fails the run.
wb_expect() {
	echo "wb: expect $1 $2" > /dev/kmsg
}

# Monotonic clock in microseconds. Not "%d": busybox awk clamps it to 32
# bits, which a boot passes after 2147 s.
wb_now_us() {
	awk '{ printf "%.0f\n", $1 * 1000000 }' /proc/uptime
}

# The kernel page-table dump between the module-area markers.
wb_ptdump_modules() {
	sed -n '/---\[ Modules \]---/,/---\[ End Modules \]---/p' \
		/sys/kernel/debug/page_tables/kernel
}

# Whether no chunk of the x86 backend (6.12) waits for its PMD back: it
# collapses the chunks a load changed 0.1 s after the last change, at most
# 1 s after the first.
# True where the backend has no stats (7.3, or the feature off).
wb_mm_collapsed() {
	awk '$1 == "collapses_pending" && $2 != 0 { busy = 1 } END { exit busy }' \
		/sys/kernel/debug/module_map/stats 2> /dev/null ||
		[ ! -r /sys/kernel/debug/module_map/stats ]
}

# The same once it holds still: the loader frees a module's init memory
# from a work item after an RCU grace period, so right after insmod returns
# a text piece may still be on its way back to execmem's cache, writable
# for its refill with trapping instructions; and the x86 backend collapses
# chunks a moment after their last change. Two dumps 0.1 s apart must agree
# with no collapse pending (up to 5 s; the last dump either way).
wb_ptdump_modules_settled() {
	wb_pt_prev=$(wb_ptdump_modules)
	wb_pt_tries=0
	while [ "$wb_pt_tries" -lt 50 ]; do
		sleep 0.1
		wb_pt_now=$(wb_ptdump_modules)
		[ "$wb_pt_now" = "$wb_pt_prev" ] && wb_mm_collapsed && break
		wb_pt_prev=$wb_pt_now
		wb_pt_tries=$((wb_pt_tries + 1))
	done
	printf '%s\n' "$wb_pt_prev"
}

# Point the kernel's request_module() at kmod's modprobe (/usr/sbin, see
# wblib/userland.py); without this it finds no /sbin/modprobe and fails at
# once, which every other scenario relies on.
wb_kmod_helper() {
	echo /usr/sbin/modprobe > /proc/sys/kernel/modprobe
}

# Load the module set in depmod order (/wb/modset.order, computed on the host
# from modules.dep). Prints one line per module; fails on the first error.
wb_load_modset() {
	while read -r mod; do
		if ! out=$(insmod "$WB_MODDIR/$mod" 2>&1); then
			echo "# wb: insmod $mod failed: $out"
			return 1
		fi
	done < /wb/modset.order
}

# Unload in reverse depmod order.
wb_unload_modset() {
	for mod in $(sed '1!G;h;$!d' /wb/modset.order); do
		name=$(basename "$mod" .ko)
		if ! out=$(rmmod "$name" 2>&1); then
			echo "# wb: rmmod $name failed: $out"
			return 1
		fi
	done
}

# Unload whatever of the module set is loaded, in reverse depmod order.
# Fails, after trying every module, if any rmmod failed.
wb_unload_modset_loaded() {
	rc=0
	for mod in $(sed '1!G;h;$!d' /wb/modset.order); do
		name=$(basename "$mod" .ko | tr - _)
		grep -q "^$name " /proc/modules || continue
		if ! out=$(rmmod "$name" 2>&1); then
			echo "# wb: rmmod $name failed: $out"
			rc=1
		fi
	done
	return "$rc"
}

# What a load keeps once the allocators have given empty areas back (the
# backend's chunks after 2 s, execmem's data areas after 1 s): wait for
# that, with the kselftest library's helpers; nothing to wait for without
# it.
wb_wait_released() {
	wb_mm_lib=/wb/kselftest/vmalloc_contig/module_map_lib.sh
	[ -r "$wb_mm_lib" ] || return 0
	# shellcheck source=/dev/null # the kselftest library, in the initramfs
	. "$wb_mm_lib"
	module_map_wait_released || echo "wb: module_map chunks still held"
	execmem_wait_released || echo "wb: execmem data areas still held"
}

# Whether no class of module_map holds a chunk it does not use (init
# memory's, given back 2 s after init is done); true without the backend.
wb_no_unused_chunk() {
	awk '$1 == "class" { on = 1; next }
	     on && $2 > 0 && $3 == 0 { busy = 1 }
	     END { exit busy }' /sys/kernel/debug/module_map/stats \
		2> /dev/null || [ ! -r /sys/kernel/debug/module_map/stats ]
}

# flush_tlb_all() calls, counted by the function profiler, filtered to it
# (only its own call site is patched): "wb_flush_profile on" starts it
# (false when tracing cannot count), "wb_flush_profile read" stops it and
# prints the count.
wb_flush_profile() {
	wb_tr=/sys/kernel/tracing
	[ -d "$wb_tr/events" ] || mount -t tracefs nodev "$wb_tr" 2>/dev/null
	case "$1" in
	on)
		[ -w "$wb_tr/function_profile_enabled" ] &&
		echo flush_tlb_all > "$wb_tr/set_ftrace_filter" 2>/dev/null &&
		echo 1 > "$wb_tr/function_profile_enabled"
		;;
	read)
		echo 0 > "$wb_tr/function_profile_enabled"
		cat "$wb_tr"/trace_stat/function* 2>/dev/null |
			awk '$1 == "flush_tlb_all" { n += $2; seen = 1 }
			     END { print seen ? n : 0 }'
		echo > "$wb_tr/set_ftrace_filter"
		;;
	esac
}

# wb_modset_costs PREFIX: load and unload the module set once and send, each
# name under PREFIX, what it costs as make demo reports it: vmallocinfo and
# module ptdumps before, loaded (once init memory's chunks are given back)
# and unloaded, the flush_tlb_all() calls and /proc/interrupts around the
# load, its time, meminfo, vmstat and the allocators' stats. Profiling
# first: its ftrace trampoline is part of the baseline.
wb_modset_costs() {
	wb_mm_stats=/sys/kernel/debug/module_map/stats
	wb_vc_stats=/sys/kernel/debug/vmalloc_contig/stats
	wb_em_caches=/sys/kernel/debug/execmem/caches
	# /proc/vmallocinfo prints real addresses (%pK) to a reader with
	# CAP_SYSLOG only when kptr_restrict is 1: they tell the module area.
	echo 1 > /proc/sys/kernel/kptr_restrict
	wb_profiling=no
	wb_flush_profile on && wb_profiling=yes
	wb_put "$1meminfo-before" /proc/meminfo
	wb_ptdump_modules | wb_put "$1ptdump-modules-before"
	wb_put "$1vmallocinfo-before" /proc/vmallocinfo
	cat /proc/interrupts > /tmp/interrupts-before
	wb_t0=$(wb_now_us)
	wb_load_modset || return 1
	wb_t1=$(wb_now_us)
	cat /proc/interrupts > /tmp/interrupts-loaded
	if [ "$wb_profiling" = yes ]; then
		echo "flush_tlb_all $(wb_flush_profile read)" |
			wb_put "$1flushes"
	fi
	echo "load_us $((wb_t1 - wb_t0))" | wb_put "$1timing"
	wb_wait_lib=/wb/kselftest/vmalloc_contig/module_map_lib.sh
	if [ -r "$wb_wait_lib" ]; then
		# shellcheck source=/dev/null # the kselftest library
		. "$wb_wait_lib"
		wait_until 100 wb_no_unused_chunk
	fi
	wb_put "$1interrupts-before-modset" /tmp/interrupts-before
	wb_put "$1interrupts-loaded" /tmp/interrupts-loaded
	wb_put "$1meminfo-after" /proc/meminfo
	wb_ptdump_modules_settled | wb_put "$1ptdump-modules-after"
	wb_put "$1vmallocinfo-loaded" /proc/vmallocinfo
	wb_put "$1modules" /proc/modules
	wb_put "$1vmstat" /proc/vmstat
	[ -r "$wb_mm_stats" ] && wb_put "$1module_map-stats" "$wb_mm_stats"
	[ -r "$wb_vc_stats" ] && wb_put "$1vmalloc_contig-stats" "$wb_vc_stats"
	[ -r "$wb_em_caches" ] && wb_put "$1execmem-caches" "$wb_em_caches"
	# Unloaded: module memory given back, chunks after their 2 s delay.
	wb_unload_modset || return 1
	wb_wait_released
	[ -r "$wb_em_caches" ] &&
		wb_put "$1execmem-caches-unloaded" "$wb_em_caches"
	wb_put "$1vmallocinfo-unloaded" /proc/vmallocinfo
	wb_ptdump_modules | wb_put "$1ptdump-modules-unloaded"
}
