# SPDX-License-Identifier: GPL-2.0
# wb profile: where one load and one unload of the module set spend their
# time, per kernel function. A first load and unload, then the wait for
# empty chunks and cache areas to be given back, leave the state of a bench
# repetition (warm caches, nothing held); then ftrace's function
# profiler, self time only (graph-time off), runs over one load, and again
# over one unload. The per-CPU tables go to the host as
# profile-load-cpuN and profile-unload-cpuN.
# With wb.insns=1 (wb profile --insns) the host's iTLB plugin counts kernel
# instructions instead: the load runs inside the wbmark window, and the text
# symbols of /proc/kallsyms, modules loaded, go to the host as kallsyms.
. /wb/lib.sh

if [ "$(wb_cmdline wb.insns)" = 1 ]; then
	wb_load_modset > /dev/null || exit 1
	wb_unload_modset > /dev/null || exit 1
	wb_wait_released
	sync
	echo 3 > /proc/sys/vm/drop_caches
	wbmark start
	wb_load_modset > /dev/null
	rc=$?
	wbmark stop
	[ $rc -eq 0 ] || exit 1
	grep -i '^[0-9a-f]* [tw] ' /proc/kallsyms | wb_put kallsyms
	[ -r /sys/kernel/debug/module_map/stats ] &&
		wb_put module_map-stats /sys/kernel/debug/module_map/stats
	exit 0
fi

T=/sys/kernel/tracing

# profile NAME CMD...: CMD under the profiler, its tables sent as NAME-cpuN.
# (CMD may set any plain variable: the helpers of lib.sh share them.)
profile() {
	prof_name=$1
	shift
	# Enabling resets the counts of the previous run.
	echo 1 > "$T/function_profile_enabled" || return 1
	"$@" > /dev/null
	prof_rc=$?
	echo 0 > "$T/function_profile_enabled"
	for f in "$T"/trace_stat/function*; do
		wb_put "$prof_name-cpu${f##*function}" "$f"
	done
	return $prof_rc
}

[ -e "$T/trace" ] || mount -t tracefs nodev "$T"
if [ ! -e "$T/function_profile_enabled" ]; then
	echo "wb: no function profiler (CONFIG_FUNCTION_PROFILER)"
	exit 1
fi
if [ -e "$T/options/graph-time" ]; then
	echo 0 > "$T/options/graph-time"
fi
wb_load_modset > /dev/null || exit 1
wb_unload_modset > /dev/null || exit 1
wb_wait_released
[ -r /sys/kernel/debug/module_map/stats ] &&
	wb_put module_map-stats /sys/kernel/debug/module_map/stats
profile profile-load wb_load_modset || exit 1
profile profile-unload wb_unload_modset || exit 1
exit 0
