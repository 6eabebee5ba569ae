#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Drive the test_vmalloc_contig module.
#
#   test_vmalloc_contig.sh [smoke|stress|performance]
#
# smoke (the default): a short stress run, then no live bytes and no bad
#   frees left in the vmalloc_contig counters.
# stress: threads on every CPU with random sizes up to 4M; then the same with
#   fail_page_alloc failing half of the page allocations of 64K and more, so
#   that the vmalloc fallback carries part of the load.
# performance: alloc+free latency per size for vmalloc_contig, vmalloc and
#   kvmalloc, printed as "# perf: <allocator> <bytes> <ns> <bytes held>".

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"

DRIVER=test_vmalloc_contig
STATS=/sys/kernel/debug/vmalloc_contig/stats
FAIL=/sys/kernel/debug/fail_page_alloc
NCPUS=$(grep -c ^processor /proc/cpuinfo)

usage()
{
	echo "usage: $0 [smoke|stress|performance]" >&2
	exit "$KSFT_FAIL"
}

counter()
{
	awk -v k="$1" '$1 == k { print $2 }' "$STATS"
}

# Bytes the test module can leave behind; vmalloc_contig_range() users (module
# memory chunks) keep theirs across module loads, so mapped_bytes is not one.
live_bytes()
{
	echo $(($(counter contig_bytes) + $(counter vmalloc_bytes)))
}

# run NAME PARAMS...: load the module with PARAMS (its init runs the test),
# unload it, report: both must succeed.
run()
{
	name=$1
	shift
	if ! modprobe "$DRIVER" "$@"; then
		ktap_test_fail "$name (modprobe $DRIVER $*)"
	elif ! rmmod "$DRIVER"; then
		ktap_test_fail "$name (rmmod $DRIVER)"
	else
		# Its counts and its allocation rate per thread.
		dmesg | sed -n "s/.*$DRIVER: \(stress: .*\)/\1/p" | tail -n 2 |
		while read -r line; do
			ktap_print_msg "$line"
		done
		ktap_test_pass "$name"
	fi
}

# run_contig NAME PARAMS...: run, then a result for "some of the
# allocations were contiguous" (a fresh guest has blocks to give).
run_contig()
{
	c0=$(counter contig_allocs)
	run "$@"
	c=$(($(counter contig_allocs) - c0))
	if [ "$c" -gt 0 ]; then
		ktap_test_pass "$1: $c allocations contiguous"
	else
		ktap_test_fail "$1: no allocation was contiguous"
	fi
}

check_counters()
{
	live=$(live_bytes)
	bad=$(counter bad_frees)
	if [ "$live" -eq "$LIVE0" ]; then
		ktap_test_pass "no live bytes left ($live)"
	else
		ktap_test_fail "live bytes $LIVE0 before, $live after"
	fi
	if [ "$bad" -eq "$BAD0" ]; then
		ktap_test_pass "no bad frees"
	else
		ktap_test_fail "bad frees $BAD0 before, $bad after"
	fi
}

# fail_page_alloc PERCENT: fail that share of page allocations of 64K and
# more; slab stays below that order, so only large buffers see failures.
# Fails if any knob cannot be set.
fail_page_alloc()
{
	echo "$1" > "$FAIL/probability" &&
	echo 1 > "$FAIL/interval" &&
	echo -1 > "$FAIL/times" &&
	echo 0 > "$FAIL/space" &&
	echo 0 > "$FAIL/verbose" &&
	echo N > "$FAIL/task-filter" &&
	echo 4 > "$FAIL/min-order" &&
	echo N > "$FAIL/ignore-gfp-wait" &&
	echo N > "$FAIL/ignore-gfp-highmem"
}

smoke()
{
	ktap_set_plan 4
	run_contig "stress smoke" mode=stress nr_iterations=200 \
		max_size=1048576
	check_counters
}

stress()
{
	if [ ! -d "$FAIL" ]; then
		ktap_set_plan 5
		run_contig "stress" mode=stress nr_threads=$((NCPUS * 2))
		ktap_test_skip "stress with fail_page_alloc (CONFIG_FAIL_PAGE_ALLOC)"
		check_counters
		return
	fi
	ktap_set_plan 6
	run_contig "stress" mode=stress nr_threads=$((NCPUS * 2))
	fb0=$(counter fallbacks)
	if fail_page_alloc 50; then
		run "stress with fail_page_alloc" mode=stress \
			nr_threads=$((NCPUS * 2)) nr_iterations=1000
	else
		ktap_test_fail "stress with fail_page_alloc: cannot set up $FAIL"
	fi
	# Probability first: injection stops even if a later knob fails.
	off=0
	fail_page_alloc 0 || off=1
	fb=$(counter fallbacks)
	if [ "$off" != 0 ]; then
		ktap_test_fail "fail_page_alloc cannot be switched off again"
	elif [ "$fb" -gt "$fb0" ]; then
		ktap_test_pass "fallback taken under fail_page_alloc ($((fb - fb0)))"
	else
		ktap_test_fail "no fallback under fail_page_alloc"
	fi
	check_counters
}

performance()
{
	ktap_set_plan 1
	# Latencies of a few microseconds need a fine clock: without one (a
	# guest that could not calibrate its TSC) every median reads 0.
	cs=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)
	case "$cs" in
	*jiffies*)
		ktap_test_skip "performance: clocksource $cs is too coarse"
		return
		;;
	esac
	dmesg -c > /dev/null
	if modprobe "$DRIVER" mode=perf && rmmod "$DRIVER"; then
		pat=".*$DRIVER: perf: \([a-z_]*\) \([0-9]*\) bytes: "
		pat="$pat\([0-9]*\) ns.*, \([0-9]*\) bytes held"
		dmesg | sed -n "s/$pat/perf: \1 \2 \3 \4/p" > /tmp/vc_perf.$$
		while read -r line; do
			ktap_print_msg "$line"
		done < /tmp/vc_perf.$$
		# The bound: from 64K on, never slower than vmalloc.
		slow=$(awk '$3 >= 65536 { ns[$2 " " $3] = $4 }
			END { for (k in ns) { split(k, a, " ")
				if (a[1] == "vmalloc_contig" &&
				    ns[k] > ns["vmalloc " a[2]]) printf " %s", a[2] } }' \
			/tmp/vc_perf.$$)
		n=$(grep -c "^perf: vmalloc_contig " /tmp/vc_perf.$$)
		rm -f /tmp/vc_perf.$$
		if [ "$n" = 0 ]; then
			ktap_test_fail "performance: no perf lines in dmesg"
		elif [ -n "$slow" ]; then
			ktap_test_fail "performance: slower than vmalloc at$slow bytes"
		else
			ktap_test_pass "performance: $n sizes, from 64K never slower than vmalloc"
		fi
	else
		ktap_test_fail "performance (modprobe or rmmod $DRIVER mode=perf)"
	fi
}

preset=${1:-smoke}
case "$preset" in
smoke|stress|performance) ;;
*) usage ;;
esac

ktap_print_header
if [ "$(id -u)" -ne 0 ]; then
	ktap_skip_all "must be run as root"
	exit "$KSFT_SKIP"
fi
if [ ! -r "$STATS" ]; then
	ktap_skip_all "no $STATS: CONFIG_VMALLOC_CONTIG=y and debugfs needed"
	exit "$KSFT_SKIP"
fi
if ! modinfo "$DRIVER" > /dev/null 2>&1; then
	ktap_skip_all "no $DRIVER module: CONFIG_TEST_VMALLOC_CONTIG=m needed"
	exit "$KSFT_SKIP"
fi
if [ "$(counter enabled)" != 1 ]; then
	ktap_skip_all "booted with vmalloc_contig=off"
	exit "$KSFT_SKIP"
fi

LIVE0=$(live_bytes)
BAD0=$(counter bad_frees)
"$preset"
ktap_finished
