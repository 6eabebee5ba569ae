#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Module loads under fault injection: fail_page_alloc, limited to the
# loading task, fails 10 %, 50 % and 100 % of its page allocations of order
# 1 and more: the contiguous image buffers, the 2M chunks, and whatever else
# load_module() allocates in blocks. Each load must either succeed (the API
# and the module_map backend fall back to 4K pages) or fail with ENOMEM, and
# either way leave nothing behind: no module, no live bytes in the
# vmalloc_contig counters, no used bytes in module_map chunks. With
# injection off every module loads again, its text 2M-mapped again.
#
# Order-0 and slab failures are left out: the module notifiers of jump
# labels and trace events WARN when their small allocations fail, which is
# their documented behaviour, not a fault of the paths tested here.
#
#   module_faults.sh [MODULE...]   (default: the test modules; dependencies
#                                   of the modules named are loaded first)

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/module_map_lib.sh"

VC_STATS=/sys/kernel/debug/vmalloc_contig/stats
FPA=/sys/kernel/debug/fail_page_alloc
TRIES=${TRIES:-10}

vc_counter()
{
	awk -v k="$1" '$1 == k { print $2 }' "$VC_STATS"
}

# What a finished load or unload may not leave behind.
footprint()
{
	echo "vc_live=$(($(vc_counter contig_bytes) + $(vc_counter vmalloc_bytes)))" \
		"mm_used=$(module_map_sum used_bytes)"
}

# inject PERCENT: fail that share of the block allocations of tasks that
# opted in (finit_fail -f).
inject()
{
	echo "$1" > "$FPA/probability"
	echo 1 > "$FPA/interval"
	echo -1 > "$FPA/times"
	echo 0 > "$FPA/space"
	echo 0 > "$FPA/verbose"
	echo Y > "$FPA/task-filter"
	echo N > "$FPA/ignore-gfp-wait"
	echo N > "$FPA/ignore-gfp-highmem"
	echo 1 > "$FPA/min-order"
}

# Leave fail_page_alloc as found: later tests inject faults without
# task-filter. probability first, so injection stops before the rest.
FPA_KNOBS="probability interval times space verbose task-filter \
ignore-gfp-wait ignore-gfp-highmem min-order"
FPA_SAVED=""
restore_fpa()
{
	[ -n "$FPA_SAVED" ] || return
	for k in $FPA_KNOBS; do
		cat "$FPA_SAVED/$k" > "$FPA/$k"
	done
	rm -rf "$FPA_SAVED"
}

loaded()
{
	grep -q "^$1 " /proc/modules
}

# deps MODULE: load what MODULE needs, not MODULE itself.
deps()
{
	for d in $(modinfo -F depends "$1" | tr ',' ' '); do
		loaded "$d" || modprobe "$d" || return 1
	done
}

# faulty MODULE PERCENT: TRIES loads with injection on.
faulty()
{
	mod=$1
	pct=$2
	file=$(module_ko "$mod")
	name=$(echo "$mod" | tr - _)
	ok=0
	nomem=0
	bad=""
	base=$(footprint)
	inject "$pct"
	i=0
	while [ "$i" -lt "$TRIES" ]; do
		i=$((i + 1))
		res=$("$DIR/finit_fail" -f "$file")
		case "$res" in
		ok)
			ok=$((ok + 1))
			rmmod "$name" || bad="$bad rmmod-failed"
			;;
		ENOMEM)
			nomem=$((nomem + 1))
			loaded "$name" && bad="$bad loaded-after-ENOMEM"
			;;
		*)
			bad="$bad '$res'"
			loaded "$name" && rmmod "$name"
			;;
		esac
		now=$(footprint)
		[ "$now" = "$base" ] || bad="$bad left:$now(was:$base)"
	done
	inject 0
	if [ -z "$bad" ]; then
		ktap_test_pass "$mod at $pct %: $ok loaded, $nomem ENOMEM, nothing left"
	else
		ktap_test_fail "$mod at $pct %: $ok loaded, $nomem ENOMEM,$bad"
	fi
}

# again MODULE: loads with injection off, text 2M-mapped when the backend is on.
again()
{
	mod=$1
	name=$(echo "$mod" | tr - _)
	if ! res=$("$DIR/finit_fail" "$(module_ko "$mod")"); then
		ktap_test_fail "$mod loads again without injection: $res"
		return
	fi
	sym=$(awk -v m="[$name]" '$4 == m && ($2 == "t" || $2 == "T") \
		{ print $3; exit }' /proc/kallsyms)
	if module_map_enabled && ! why=$(text_is_2m "$sym" "$name"); then
		ktap_test_fail "$mod loads again, but $why"
	else
		ktap_test_pass "$mod loads again without injection"
	fi
	rmmod "$name"
}

ktap_print_header
if [ "$(id -u)" -ne 0 ]; then
	ktap_skip_all "must be run as root"
	exit "$KSFT_SKIP"
fi
if [ ! -d "$FPA" ]; then
	ktap_skip_all "CONFIG_FAIL_PAGE_ALLOC and debugfs needed"
	exit "$KSFT_SKIP"
fi
if [ ! -r "$VC_STATS" ] || [ "$(vc_counter enabled)" != 1 ]; then
	ktap_skip_all "vmalloc_contig off or not built"
	exit "$KSFT_SKIP"
fi
[ $# -gt 0 ] || set -- test_module_map test_static_key_base
for mod in "$@"; do
	if [ -z "$(module_ko "$mod")" ]; then
		ktap_skip_all "no module $mod"
		exit "$KSFT_SKIP"
	fi
	if ! deps "$mod"; then
		ktap_skip_all "dependencies of $mod do not load"
		exit "$KSFT_SKIP"
	fi
done

FPA_SAVED=$(mktemp -d)
for k in $FPA_KNOBS; do
	cat "$FPA/$k" > "$FPA_SAVED/$k"
done
trap restore_fpa EXIT

ktap_set_plan $(($# * 4))
for mod in "$@"; do
	for pct in 10 50 100; do
		faulty "$mod" "$pct"
	done
	again "$mod"
done
ktap_finished
