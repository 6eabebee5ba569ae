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

# Wait (10 s at most) until module_map holds no chunk of a class that uses
# none (init memory's, given back 2 s after init is done); at once without
# the backend.
wb_wait_empty_chunks() {
	wb_mm_stats=/sys/kernel/debug/module_map/stats
	wb_waited=0
	while [ -r "$wb_mm_stats" ] && [ "$wb_waited" -lt 100 ] &&
	      awk '$1 == "class" { on = 1; next }
		   on && $2 > 0 && $3 == 0 { busy = 1 }
		   END { exit !busy }' "$wb_mm_stats"; do
		sleep 0.1
		wb_waited=$((wb_waited + 1))
	done
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
