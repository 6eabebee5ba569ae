# SPDX-License-Identifier: GPL-2.0
# The module set loaded and unloaded on machines that make 2M chunks harder
# than the test guest does, named by wb.degraded= on the kernel command line:
#   nohugevmalloc  huge vmalloc mappings are off: the backend must be off
#                  from setup, not make and throw away a chunk per piece.
#   numa           two nodes (numa=fake=2): every chunk comes whole from one
#                  node and is mapped by PMDs, none is made and thrown away.
#   gbpages        the direct map in 1G pages (QEMU pdpe1gb, 4 GiB): loading
#                  the set splits no direct-map page to 4K, and once every
#                  chunk is given back the 1G pages are as they were.
#   lowmem         a 512 MiB guest: the set loads into PMD-mapped chunks,
#                  fallbacks counted; nothing is held afterwards.
# KTAP on the results channel (degraded.ktap): the set loads and unloads, the
# counters show the path taken, nothing is held afterwards; load time and
# the direct map are reported.
. /wb/lib.sh
KSFT=/wb/kselftest/vmalloc_contig
. "$KSFT/module_map_lib.sh"

mode=$(wb_cmdline wb.degraded)
stat() {
	awk -v k="$1" '$1 == k { print $2 }' "$MM_STATS"
}
meminfo() {
	awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo
}

n=0
ok() { n=$((n + 1)); echo "ok $n $mode: $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n $mode: $*"; }

(
	echo "TAP version 13"
	echo "1..5"
	case "$mode" in
	nohugevmalloc|numa|gbpages|lowmem) ;;
	*)
		echo "Bail out! unknown wb.degraded='$mode'"
		exit 1
		;;
	esac
	# What makes this boot what it claims to be.
	case "$mode" in
	numa)
		if [ -d /sys/devices/system/node/node1 ]; then
			ok "two nodes: $(cat /sys/devices/system/node/online)"
		else
			not_ok "one node only: $(cat /sys/devices/system/node/online 2>&1)"
		fi
		;;
	lowmem)
		if [ "$(meminfo MemTotal)" -le 524288 ]; then
			ok "512 MiB guest: MemTotal $(meminfo MemTotal) kB"
		else
			not_ok "not a 512 MiB guest: MemTotal $(meminfo MemTotal) kB"
		fi
		;;
	gbpages)
		if [ "$(meminfo DirectMap1G)" -gt 0 ]; then
			ok "direct map in 1G pages: DirectMap1G $(meminfo DirectMap1G) kB"
		else
			not_ok "no 1G direct-map page: $(grep DirectMap /proc/meminfo | tr '\n' ' ')"
		fi
		;;
	esac
	wb_put module_map-stats-before "$MM_STATS"
	dm4k0=$(meminfo DirectMap4k)
	dm1g0=$(meminfo DirectMap1G)
	fb0=$(module_map_sum fallbacks)
	t0=$(wb_now_us)
	if out=$(wb_load_modset); then
		t1=$(wb_now_us)
		ok "module set of $(wc -l < /wb/modset.order) modules loads in $(((t1 - t0) / 1000)) ms (guest time)"
	else
		not_ok "module set load: $out"
	fi
	module_map_wait_mapped
	dm4k1=$(meminfo DirectMap4k)
	dm1g1=$(meminfo DirectMap1G)
	wb_put module_map-stats-loaded "$MM_STATS"
	wb_put_file vmallocinfo-loaded /proc/vmallocinfo
	created=$(stat chunks_created)
	fails=$(stat chunk_failures)
	allocs=$(module_map_sum allocs)
	chunks=$(module_map_sum chunks)
	mapped=$(($(module_map_sum mapped_2m_bytes) / 2097152))
	echo "# enabled $(stat enabled) chunks_created $created chunk_failures $fails allocs $allocs fallbacks $(module_map_sum fallbacks)"
	echo "# DirectMap4k $dm4k0 -> $dm4k1 kB, DirectMap1G ${dm1g0:-0} -> ${dm1g1:-0} kB by loading"
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
	numa)
		# Node-local chunks: vmalloc would spread a request for no node
		# over both, in pages too small for a PMD.
		across=$(module_map_chunks_across_nodes)
		if [ "$allocs" -gt 0 ] && [ "$fails" = 0 ] &&
		   [ "$chunks" -gt 0 ] && [ "$mapped" = "$chunks" ] &&
		   [ "$across" = none ]; then
			ok "$chunks chunk pages, each from one node and mapped by a PMD, none failed"
		else
			not_ok "$allocs pieces from chunks, $fails chunks failed, $mapped of $chunks chunk pages PMD-mapped, chunks across nodes: $across"
		fi
		;;
	lowmem)
		# Chunks there are, each mapped by a PMD; the pieces that
		# did not fit one are counted as fallbacks.
		fb=$(($(module_map_sum fallbacks) - fb0))
		what="$allocs pieces from chunks, $fb fallbacks while loading; $mapped of $chunks chunk pages PMD-mapped"
		if [ "$allocs" -gt 0 ] && [ "$chunks" -gt 0 ] &&
		   [ "$mapped" = "$chunks" ]; then
			ok "$what"
		else
			not_ok "$what"
		fi
		;;
	gbpages)
		# Chunks change their direct-map alias at 2M: never a 4K split.
		if [ "$allocs" -gt 0 ] && [ "$dm4k1" = "$dm4k0" ]; then
			ok "DirectMap4k unchanged by loading: $dm4k0 kB"
		else
			not_ok "$allocs pieces from chunks; DirectMap4k $dm4k0 -> $dm4k1 kB"
		fi
		;;
	esac
	if out=$(wb_unload_modset); then
		ok "module set unloads"
	else
		not_ok "module set unload: $out"
	fi
	released=yes
	module_map_wait_released || released=no
	dm4k2=$(meminfo DirectMap4k)
	dm1g2=$(meminfo DirectMap1G)
	echo "# DirectMap4k $dm4k2 kB, DirectMap1G ${dm1g2:-0} kB after unloading; since boot $(awk '$1 == "direct_map_level3_splits" { s = $2 } $1 == "direct_map_level3_collapses" { c = $2 } END { print s + 0 " 1G splits, " c + 0 " collapses" }' /proc/vmstat)"
	# Given back: every chunk, and with 1G pages the direct map as it was.
	if [ "$released" = no ]; then
		not_ok "$(module_map_sum chunks) chunk pages still held 10 s after unloading"
	elif [ "$mode" = gbpages ] &&
	     { [ "$dm1g2" != "$dm1g0" ] || [ "$dm4k2" != "$dm4k0" ]; }; then
		not_ok "direct map not restored: DirectMap1G $dm1g0 -> $dm1g2 kB, DirectMap4k $dm4k0 -> $dm4k2 kB"
	else
		ok "no chunk held after the release delay${dm1g0:+, DirectMap1G back to $dm1g2 kB}"
	fi
	wb_put module_map-stats "$MM_STATS"
) > /tmp/degraded.ktap 2>&1
rc=$?
wb_put degraded.ktap /tmp/degraded.ktap
wb_put_file vmalloc_contig-stats /sys/kernel/debug/vmalloc_contig/stats
exit "$rc"
