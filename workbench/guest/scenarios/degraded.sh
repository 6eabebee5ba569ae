# SPDX-License-Identifier: GPL-2.0
# The module set loaded and unloaded where the backend cannot have 2M
# chunks, named by wb.degraded= on the kernel command line:
#   nohugevmalloc  huge vmalloc mappings are off: the backend must be off
#                  from setup, not make and throw away a chunk per piece.
# KTAP on the results channel (degraded.ktap): the set loads and unloads, the
# counters show the path taken, nothing is held afterwards; load time and
# the direct map's growth are reported.
. /wb/lib.sh
KSFT=/wb/kselftest/vmalloc_contig
. "$KSFT/module_map_lib.sh"

mode=$(wb_cmdline wb.degraded)
stat() {
	awk -v k="$1" '$1 == k { print $2 }' "$MM_STATS"
}
dm4k() {
	awk '$1 == "DirectMap4k:" { print $2 }' /proc/meminfo
}

n=0
ok() { n=$((n + 1)); echo "ok $n $mode: $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n $mode: $*"; }

(
	echo "TAP version 13"
	echo "1..4"
	case "$mode" in
	nohugevmalloc) ;;
	*)
		echo "Bail out! unknown wb.degraded='$mode'"
		exit 1
		;;
	esac
	wb_put module_map-stats-before "$MM_STATS"
	dm0=$(dm4k)
	t0=$(wb_now_us)
	if out=$(wb_load_modset); then
		t1=$(wb_now_us)
		ok "module set of $(wc -l < /wb/modset.order) modules loads in $(((t1 - t0) / 1000)) ms (guest time)"
	else
		not_ok "module set load: $out"
	fi
	dm1=$(dm4k)
	wb_put module_map-stats-loaded "$MM_STATS"
	created=$(stat chunks_created)
	fails=$(stat chunk_failures)
	allocs=$(module_map_sum allocs)
	echo "# enabled $(stat enabled) chunks_created $created chunk_failures $fails allocs $allocs"
	echo "# DirectMap4k $dm0 -> $dm1 kB by loading"
	case "$mode" in
	nohugevmalloc)
		# Off from setup, saying why: no chunk is even tried.
		if [ "$(stat enabled)" = 0 ] &&
		   dmesg | grep -q "module memory in 4K pages: nohugevmalloc"; then
			ok "backend off at setup, with the reason in the log"
		else
			not_ok "backend: enabled $(stat enabled), log: $(dmesg | grep 'module_map:' | tr '\n' ' ')"
		fi
		if [ "$created" = 0 ] && [ "$fails" = 0 ] && [ "$allocs" = 0 ]; then
			ok "no chunk made or tried: every piece from execmem's 4K path"
		else
			not_ok "$created chunks made, $fails failed, $allocs pieces from chunks"
		fi
		;;
	esac
	if out=$(wb_unload_modset); then
		ok "module set unloads"
	else
		not_ok "module set unload: $out"
	fi
	wb_put module_map-stats "$MM_STATS"
) > /tmp/degraded.ktap 2>&1
rc=$?
wb_put degraded.ktap /tmp/degraded.ktap
wb_put_file vmalloc_contig-stats /sys/kernel/debug/vmalloc_contig/stats
exit "$rc"
