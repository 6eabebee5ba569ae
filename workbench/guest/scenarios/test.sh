# SPDX-License-Identifier: GPL-2.0
# The test boot: KUnit suites already ran during boot (console KTAP); here run
# the installed kselftests (default presets, then the stress preset of each
# collection that has one) and a load/unload pass of the module set, each as
# KTAP on the results channel.
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
exit 0
