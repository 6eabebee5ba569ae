# SPDX-License-Identifier: GPL-2.0
# Load the realistic module set and report how module memory is mapped.
. /wb/lib.sh

wb_put meminfo-before /proc/meminfo
wb_ptdump_modules | wb_put ptdump-modules-before
t0=$(wb_now_us)
wb_load_modset || exit 1
t1=$(wb_now_us)
echo "load_us $((t1 - t0))" | wb_put timing
wb_put meminfo-after /proc/meminfo
wb_ptdump_modules | wb_put ptdump-modules-after
wb_put modules /proc/modules
wb_put vmstat /proc/vmstat
[ -r /sys/kernel/debug/module_map/stats ] &&
	wb_put module_map-stats /sys/kernel/debug/module_map/stats
[ -r /sys/kernel/debug/vmalloc_contig/stats ] &&
	wb_put vmalloc_contig-stats /sys/kernel/debug/vmalloc_contig/stats
exit 0
