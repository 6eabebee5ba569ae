# SPDX-License-Identifier: GPL-2.0
# The test boot: KUnit suites already ran during boot (console KTAP); here run
# the installed kselftests (default presets, then the stress preset of each
# collection that has one), a load/unload pass of the module set, then
# upstream's kselftests, each as KTAP on the results channel.
. /wb/lib.sh

# kcore_walkers.sh reads for 20 s; the debug kernel asks for longer.
KCORE_SECONDS=$(wb_cmdline wb.kcore_seconds)
export KCORE_SECONDS
if [ -x /wb/kselftest/run_kselftest.sh ]; then
	# Appending: the runner also appends each test's output via /dev/stdout.
	: > /tmp/kselftest.ktap
	(cd /wb/kselftest && ./run_kselftest.sh) >> /tmp/kselftest.ktap 2>&1
	wb_put kselftest.ktap /tmp/kselftest.ktap
	for t in /wb/kselftest/*/test_*.sh; do
		[ -x "$t" ] && grep -q "stress" "$t" || continue
		name=$(basename "$(dirname "$t")")
		"$t" stress > "/tmp/$name-stress.ktap" 2>&1
		wb_put "$name-stress.ktap" "/tmp/$name-stress.ktap"
	done
fi

# The module set must load and unload cleanly on the test kernel too.
wb_put meminfo-before-modset /proc/meminfo
wb_put_file module_map-stats-before-modset /sys/kernel/debug/module_map/stats
wb_put_file execmem-caches-before-modset /sys/kernel/debug/execmem/caches
cat /proc/interrupts > /tmp/interrupts-before
{
	echo "TAP version 13"
	echo "1..2"
	if wb_load_modset; then
		echo "ok 1 modset_load $(wc -l < /wb/modset.order) modules"
	else
		echo "not ok 1 modset_load"
	fi
	# The IPIs of the load (TLB shootdowns, function calls for flushes).
	cat /proc/interrupts > /tmp/interrupts-loaded
	wb_ptdump_modules_settled > /tmp/ptdump-loaded
	cat /sys/kernel/debug/execmem/caches > /tmp/execmem-caches-loaded \
		2>/dev/null
	if wb_unload_modset; then
		echo "ok 2 modset_unload"
	else
		echo "not ok 2 modset_unload"
	fi
} > /tmp/modset.ktap 2>&1
wb_put modset.ktap /tmp/modset.ktap
# Empty chunks and cache areas go back after their delay: wait (up to 10 s
# each), then take the counts, which the host checks.
wb_wait_released
wb_put interrupts-before-modset /tmp/interrupts-before
wb_put interrupts-loaded /tmp/interrupts-loaded
wb_put meminfo-after-modset /proc/meminfo
wb_put ptdump-modules-loaded /tmp/ptdump-loaded
wb_ptdump_modules | wb_put ptdump-modules-unloaded
# Always sent, "wb-missing:" if absent: the host decides whether this boot
# may lack them (a boot meant to be on may not).
wb_put_file module_map-stats /sys/kernel/debug/module_map/stats
wb_put_file vmalloc_contig-stats /sys/kernel/debug/vmalloc_contig/stats
wb_put_file execmem-caches-loaded /tmp/execmem-caches-loaded
wb_put_file execmem-caches /sys/kernel/debug/execmem/caches

# Upstream's kselftests (build.py UPSTREAM_*), unchanged, with kmod's tools
# and the kernel's modprobe helper, after everything above has been
# measured; the host compares this boot's results with the off boot's. They
# run as upstream's own runners call them (mm/run_vmtests.sh gives
# test_vmalloc.sh its "smoke" argument; kselftest's runner would give none,
# and the script then prints its usage and exits 0).
# - make test: kmod.sh runs each of its tests once (kmod.sh -s ID): its own
#   counts, up to 150 runs of a test, take about 25 minutes under TCG.
# - wb.upstream=full (make soak): kmod.sh as is, and test_vmalloc.sh smoke.
#   Its stress preset (10^6 loops x 20 repeats per case and thread) would
#   take hours under TCG.
# test_vmalloc.sh reports nothing itself: its verdict is test_vmalloc's
# "Summary: NAME passed: N failed: N ... repeat: N" lines in the kernel log:
# each must have passed every repeat, but align_shift_alloc_test, which
# lib/test_vmalloc.c says "is supposed to be failed" (alignments up to
# 2^63), and no worker may have failed to start. align_shift's failures
# print "vmalloc error" warnings, declared as expected around the run
# (wb_expect): test_vmalloc is all that allocates then, and any other
# failed allocation fails its case's summary.
# upstream_case DIR NAME COMMAND...: one KTAP result, as kselftest's runner
# writes it, of COMMAND run in /wb/upstream/DIR.
UP_N=0
upstream_case() {
	dir=$1
	name=$2
	shift 2
	UP_N=$((UP_N + 1))
	echo "# selftests: $dir: $name"
	rm -f /tmp/upstream-rc
	{ (cd "/wb/upstream/$dir" && "$@"); echo $? > /tmp/upstream-rc; } \
		2>&1 | sed 's/^/# /'
	rc=$(cat /tmp/upstream-rc 2>/dev/null)
	case ${rc:-none} in
	0) echo "ok $UP_N selftests: $dir: $name" ;;
	4) echo "ok $UP_N selftests: $dir: $name # SKIP" ;;
	*) echo "not ok $UP_N selftests: $dir: $name # exit=${rc:-none}" ;;
	esac
}

vmalloc_verdict() {
	mark="wb: test_vmalloc.sh $* begins $(wb_now_us)"
	echo "$mark" > /dev/kmsg
	wb_expect alloc-failure begin
	./test_vmalloc.sh "$@"
	rc=$?
	wb_expect alloc-failure end
	[ "$rc" = 0 ] || return "$rc"
	dmesg | sed -n "\|$mark|,\$p" > /tmp/vmalloc-log
	grep -e 'Summary: ' -e 'Failed to start' /tmp/vmalloc-log
	awk '/Summary: / {
		n++
		split("", v)
		for (i = 1; i < NF; i++) v[$i] = $(i + 1)
		if ($0 ~ /Summary: align_shift_alloc_test /) next
		if (v["failed:"] != 0 || v["passed:"] != v["repeat:"]) bad++
	}
	/Failed to start/ { bad++ }
	END {
		print "test_vmalloc: " n + 0 " summaries, " bad + 0 " bad" \
			" (align_shift_alloc_test is meant to fail)"
		exit !(n > 0 && bad == 0)
	}' /tmp/vmalloc-log
}

upstream_suites() {
	if [ "$1" = full ]; then
		echo "TAP version 13"
		echo "1..2"
		upstream_case kmod kmod.sh ./kmod.sh
	else
		list=$(cd /wb/upstream/kmod && ./kmod.sh -l 2>&1)
		ids=$(echo "$list" |
			sed -n 's/^\([0-9][0-9][0-9][0-9]\) x .*/\1/p')
		# One result per test, or one failure for the missing list.
		n=$(echo "$ids" | wc -w)
		[ "$n" -gt 0 ] || n=1
		echo "TAP version 13"
		echo "1..$((n + 1))"
		if [ -z "$ids" ]; then
			# kmod.sh -l checks its requirements (modprobe
			# test_kmod) first: without a list it failed them.
			echo "$list" | sed 's/^/# /'
			echo "not ok 1 selftests: kmod: kmod.sh -l lists no test"
			UP_N=1
		fi
		for id in $ids; do
			upstream_case kmod "kmod.sh -s $id" ./kmod.sh -s "$id"
		done
	fi
	upstream_case mm "test_vmalloc.sh smoke" vmalloc_verdict smoke
}

if [ -d /wb/upstream ]; then
	wb_kmod_helper
	(export PATH=/usr/sbin:/usr/bin:/bin
	 upstream_suites "$(wb_cmdline wb.upstream)") > /tmp/upstream.ktap 2>&1
	wb_put upstream.ktap /tmp/upstream.ktap
fi
exit 0
