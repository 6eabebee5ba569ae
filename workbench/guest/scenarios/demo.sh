# SPDX-License-Identifier: GPL-2.0
# Load the realistic module set and report how module memory is mapped, what
# it holds (vmalloc's own areas: /proc/vmallocinfo) loaded and unloaded, and
# the global TLB flushes the load cost.
. /wb/lib.sh

MM_STATS=/sys/kernel/debug/module_map/stats
EXECMEM_CACHES=/sys/kernel/debug/execmem/caches

# /proc/vmallocinfo prints real addresses (%pK) to a reader with
# CAP_SYSLOG only when kptr_restrict is 1: the module area is told by them.
echo 1 > /proc/sys/kernel/kptr_restrict
# Profiling first: its ftrace trampoline is part of the baseline.
profiling=no
wb_flush_profile on && profiling=yes
wb_put meminfo-before /proc/meminfo
wb_ptdump_modules | wb_put ptdump-modules-before
wb_put vmallocinfo-before /proc/vmallocinfo
cat /proc/interrupts > /tmp/interrupts-before
t0=$(wb_now_us)
wb_load_modset || exit 1
t1=$(wb_now_us)
cat /proc/interrupts > /tmp/interrupts-loaded
if [ "$profiling" = yes ]; then
	echo "flush_tlb_all $(wb_flush_profile read)" | wb_put flushes
fi
echo "load_us $((t1 - t0))" | wb_put timing
# Loaded, once init memory's chunks are given back: what the set holds.
wb_wait_empty_chunks
wb_put interrupts-before-modset /tmp/interrupts-before
wb_put interrupts-loaded /tmp/interrupts-loaded
wb_put meminfo-after /proc/meminfo
wb_ptdump_modules_settled | wb_put ptdump-modules-after
wb_put vmallocinfo-loaded /proc/vmallocinfo
wb_put modules /proc/modules
wb_put vmstat /proc/vmstat
[ -r "$MM_STATS" ] && wb_put module_map-stats "$MM_STATS"
[ -r /sys/kernel/debug/vmalloc_contig/stats ] &&
	wb_put vmalloc_contig-stats /sys/kernel/debug/vmalloc_contig/stats
[ -r "$EXECMEM_CACHES" ] && wb_put execmem-caches "$EXECMEM_CACHES"

# Unloaded: module memory must be given back, chunks after their 2 s delay.
wb_unload_modset || exit 1
wb_wait_released
[ -r "$EXECMEM_CACHES" ] && wb_put execmem-caches-unloaded "$EXECMEM_CACHES"
wb_put vmallocinfo-unloaded /proc/vmallocinfo
wb_ptdump_modules | wb_put ptdump-modules-unloaded
exit 0
