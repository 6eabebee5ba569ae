#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Module loads under fault injection, limited to the loading task:
#
# - fail_page_alloc fails 10 %, 50 % and 100 % of its page allocations of
#   order 1 and more: the contiguous image buffers, the 2M chunks, and
#   whatever else load_module() allocates in blocks;
# - failslab fails 50 % and 100 % of the slab allocations made under the
#   vmalloc_contig API (it makes none of its own: only vmalloc's under its
#   fallback), then of those made under the module_map backend (its chunk
#   records, and the API's under it), through the stacktrace filter. Under
#   the API a load may succeed or fail; under the backend it must fail
#   none, as execmem falls back.
#
# Each load must either succeed (the API and the module_map backend fall
# back to 4K pages) or fail with ENOMEM, and either way leave nothing
# behind: no module, no live bytes in the vmalloc_contig counters, no used
# bytes in module_map chunks. With injection off every module loads again,
# its text 2M-mapped again.
#
# Order-0 pages and slab allocations elsewhere in the loader are left out:
# the module notifiers of jump labels and trace events WARN when their small
# allocations fail, which is their documented behaviour, not a fault of the
# paths tested here.
#
#   module_faults.sh [MODULE...]   (default: the test modules; dependencies
#                                   of the modules named are loaded first)

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/module_map_lib.sh"

VC_STATS=/sys/kernel/debug/vmalloc_contig/stats
FPA=/sys/kernel/debug/fail_page_alloc
FSL=/sys/kernel/debug/failslab
TRIES=${TRIES:-10}

vc_counter()
{
	awk -v k="$1" '$1 == k { print $2 }' "$VC_STATS"
}

# What a finished load or unload may not leave behind. The backend's chunks
# are vmalloc_contig_range() allocations (mapped or vmalloc bytes) that
# outlive a module by the release delay: they are not counted, the bytes in
# use in them are. A chunk being released is off its list but still in
# vmalloc_contig's counts (or already out of them and not yet counted
# released): read when no release runs and the chunk count holds still
# around the read, for up to 5 s.
footprint()
{
	i=0
	while [ "$i" -lt 50 ]; do
		i=$((i + 1))
		if ! c0=$(module_map_chunks_settled); then
			sleep 0.1
			continue
		fi
		live=$(($(vc_counter contig_bytes) + $(vc_counter mapped_bytes) +
			$(vc_counter vmalloc_bytes)))
		c1=$(module_map_chunks_settled) && [ "$c1" = "$c0" ] && break
	done
	echo "vc_live=$((live - c0 * 2097152))" \
		"mm_used=$(module_map_sum used_bytes)"
}

# inject DIR PERCENT: fail that share of the allocations of tasks that
# opted in (finit_fail -f), through the fault_attr in DIR.
inject()
{
	echo "$2" > "$1/probability"
	echo 1 > "$1/interval"
	echo -1 > "$1/times"
	echo 0 > "$1/space"
	echo 0 > "$1/verbose"
	echo Y > "$1/task-filter"
	echo N > "$1/ignore-gfp-wait"
}

# inject_pages PERCENT: page allocations of order 1 and more.
inject_pages()
{
	inject "$FPA" "$1"
	echo N > "$FPA/ignore-gfp-highmem"
	echo 1 > "$FPA/min-order"
}

# code_range SYMBOL REGEX: the start and end of the run of functions around
# SYMBOL in /proc/kallsyms whose names match REGEX: the text of one object
# file, with the padding symbols of call thunks and CFI between them.
code_range()
{
	sort /proc/kallsyms | awk -v sym="$1" -v re="^(__pfx_|__cfi_)?($2)" '
		NF == 3 && $2 ~ /^[tT]$/ { a[n] = $1; s[n] = $3; n++ }
		END {
			for (i = 0; i < n && s[i] != sym; i++)
				;
			if (i == n || a[i] ~ /^0+$/)
				exit 1
			for (lo = i; lo > 0 && s[lo - 1] ~ re; lo--)
				;
			for (hi = i; hi + 1 < n && s[hi + 1] ~ re; hi++)
				;
			if (hi + 1 == n)
				exit 1
			print "0x" a[lo], "0x" a[hi + 1]
		}'
}

# inject_slab PERCENT START END: slab allocations with a caller in
# [START, END) on their stack, but none in alloc_vmap_area(): vmalloc WARNs
# when the vmap_area it needs to split a free range cannot be allocated
# (va_clip()), its own behaviour, not a fault of the paths tested here.
inject_slab()
{
	inject "$FSL" "$1"
	echo N > "$FSL/cache-filter"
	echo 32 > "$FSL/stacktrace-depth"
	echo "$2" > "$FSL/require-start"
	echo "$3" > "$FSL/require-end"
	# shellcheck disable=SC2086 # two words
	set -- $VA_RANGE
	echo "$1" > "$FSL/reject-start"
	echo "$2" > "$FSL/reject-end"
}

inject_off()
{
	echo 0 > "$FPA/probability"
	[ -z "$SLAB" ] || echo 0 > "$FSL/probability"
}

# Leave the fault_attrs as found: later tests inject faults without
# task-filter. probability first, so injection stops before the rest.
FPA_KNOBS="probability interval times space verbose task-filter \
ignore-gfp-wait ignore-gfp-highmem min-order"
FSL_KNOBS="probability interval times space verbose task-filter \
ignore-gfp-wait cache-filter stacktrace-depth require-start require-end \
reject-start reject-end"
SAVED=""

# save_attr DIR NAME KNOBS / restore_attr DIR NAME KNOBS: a fault_attr's knobs.
save_attr()
{
	mkdir "$SAVED/$2"
	for k in $3; do
		cat "$1/$k" > "$SAVED/$2/$k"
	done
}

restore_attr()
{
	for k in $3; do
		cat "$SAVED/$2/$k" > "$1/$k"
	done
}

save_knobs()
{
	SAVED=$(mktemp -d)
	save_attr "$FPA" fpa "$FPA_KNOBS"
	[ -z "$SLAB" ] || save_attr "$FSL" fsl "$FSL_KNOBS"
}

restore_knobs()
{
	[ -n "$SAVED" ] || return
	restore_attr "$FPA" fpa "$FPA_KNOBS"
	[ -z "$SLAB" ] || restore_attr "$FSL" fsl "$FSL_KNOBS"
	rm -rf "$SAVED"
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

# faulty MODULE PERCENT WHAT EXPECT INJECT [ARGS...]: TRIES loads with
# "INJECT PERCENT ARGS..." on. Each load succeeds or gets ENOMEM; EXPECT
# "loaded" or "ENOMEM" requires every load to end so, "either" accepts
# both. At 100 % no module_map chunk may appear during a load: creating one
# takes a 2M block and a slab record, both failed. A module with a piece
# over 2M (test_module_map) needs a new chunk at every load, so there each
# load at 100 % must have taken the 4K fallback.
faulty()
{
	mod=$1
	pct=$2
	what=$3
	expect=$4
	inj=$5
	shift 5
	file=$(module_ko "$mod")
	name=$(echo "$mod" | tr - _)
	ok=0
	nomem=0
	bad=""
	base=$(footprint)
	chunks=$(module_map_sum chunks)
	fb=$(module_map_sum fallbacks)
	"$inj" "$pct" "$@"
	i=0
	while [ "$i" -lt "$TRIES" ]; do
		i=$((i + 1))
		res=$("$DIR/finit_fail" -f "$file")
		if [ "$pct" = 100 ] &&
		   [ "$(module_map_sum chunks)" -gt "$chunks" ]; then
			bad="$bad chunk-created"
		fi
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
	inject_off
	fb=$(($(module_map_sum fallbacks) - fb))
	case "$expect" in
	loaded)
		[ "$ok" = "$TRIES" ] || bad="$bad not-all-loaded"
		;;
	ENOMEM)
		[ "$nomem" = "$TRIES" ] || bad="$bad not-all-ENOMEM"
		;;
	esac
	if [ "$pct" = 100 ] && [ "$name" = test_module_map ] &&
	   [ "$ok" -gt "$fb" ] && module_map_enabled; then
		bad="$bad $ok-loads-but-$fb-fallbacks"
	fi
	msg="$ok loaded, $nomem ENOMEM, $fb module_map fallbacks"
	if [ -z "$bad" ]; then
		ktap_test_pass "$mod, $what: $msg, nothing left"
	else
		ktap_test_fail "$mod, $what: $msg,$bad"
	fi
}

# slab_faults MODULE LABEL RANGE EXPECT_AT_100: failslab at 50 and 100 %
# under the code in RANGE ("START END"), or two skips without it.
slab_faults()
{
	if [ -z "$SLAB" ] || [ -z "$3" ]; then
		ktap_test_skip "$1, failslab under $2: ${SLAB_WHY:-$2 not running}"
		ktap_test_skip "$1, failslab under $2: ${SLAB_WHY:-$2 not running}"
		return
	fi
	# shellcheck disable=SC2086 # RANGE is two words
	faulty "$1" 50 "failslab 50 % under $2" either inject_slab $3
	# shellcheck disable=SC2086
	faulty "$1" 100 "failslab 100 % under $2" "$4" inject_slab $3
}

# again MODULE: loads with injection off, text 2M-mapped when the backend is on.
again()
{
	mod=$1
	name=$(echo "$mod" | tr - _)
	module_map_wait_backoff
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
# By default two of test_module_map (the x86 backend's test module),
# test_static_key_base and dummy.
# shellcheck disable=SC2046 # one word per module
[ $# -gt 0 ] || set -- $(built_modules 2 test_module_map test_static_key_base dummy)
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

# Slab failures need failslab and its stacktrace filter, and addresses in
# /proc/kallsyms to point it at the API and at the backend.
SLAB=""
SLAB_WHY=""
VC_RANGE=""
MM_RANGE=""
VA_RANGE=""
if [ ! -d "$FSL" ] || [ ! -e "$FSL/require-start" ]; then
	SLAB_WHY="CONFIG_FAILSLAB and CONFIG_FAULT_INJECTION_STACKTRACE_FILTER needed"
elif ! VC_RANGE=$(code_range vmalloc_contig_node_noprof \
		  'vc_|vmalloc_contig|vfree_contig'); then
	SLAB_WHY="no address of the vmalloc_contig API in /proc/kallsyms"
elif ! VA_RANGE=$(code_range alloc_vmap_area 'alloc_vmap_area$'); then
	SLAB_WHY="no address of alloc_vmap_area() in /proc/kallsyms"
else
	SLAB=1
	module_map_enabled && MM_RANGE=$(code_range module_map_alloc \
					 'mm_|module_map_')
fi

save_knobs
trap restore_knobs EXIT

ktap_set_plan $(($# * 8))
for mod in "$@"; do
	for pct in 10 50 100; do
		faulty "$mod" "$pct" "fail_page_alloc $pct %" either inject_pages
	done
	slab_faults "$mod" vmalloc_contig "$VC_RANGE" either
	slab_faults "$mod" module_map "$MM_RANGE" loaded
	again "$mod"
done
ktap_finished
