# SPDX-License-Identifier: GPL-2.0
# Reliability of module memory under load, as KTAP on the results channel
# (reliability.ktap): parallel loads, load/unload cycles of the whole module
# set (wb.cycles=, default 300), module loads under fault injection, and
# loads while physical memory is fragmented. Then the kselftest fault and
# text-patcher tests on real modules of the set.
. /wb/lib.sh

CYCLES=$(wb_cmdline wb.cycles)
CYCLES=${CYCLES:-300}
# How far free memory may end below its start (kB); debug kernels pass more
# (KASAN's quarantine and stack depot keep memory across cycles).
SLACK=$(wb_cmdline wb.memfree_slack_kb)
SLACK=${SLACK:-4096}
VC=/sys/kernel/debug/vmalloc_contig/stats
KSFT=/wb/kselftest/vmalloc_contig
# module_map_enabled, module_map_sum COLUMN and MM_STATS
. "$KSFT/module_map_lib.sh"
N=0
FAILED=0

ok() { N=$((N + 1)); echo "ok $N $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N $*"; }
skip() { N=$((N + 1)); echo "ok $N $* # SKIP"; }
diag() { echo "# $*"; }

meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
vc() { awk -v k="$1" '$1 == k { print $2 }' "$VC" 2>/dev/null; }
vc_live() { echo $(($(vc contig_bytes) + $(vc vmalloc_bytes))); }
modset_loaded()
{
	n=0
	while read -r mod; do
		name=$(basename "$mod" .ko | tr - _)
		grep -q "^$name " /proc/modules && n=$((n + 1))
	done < /wb/modset.order
	echo "$n"
}
# Free memory (kB) after dropping caches: MemFree plus the pages parked on
# the per-CPU free lists (/proc/zoneinfo "count:"), which MemFree leaves
# out and which move it by megabytes between two readings.
free_kb()
{
	sync
	echo 3 > /proc/sys/vm/drop_caches
	pcp=$(awk '$1 == "count:" { n += $2 } END { print n + 0 }' /proc/zoneinfo)
	echo $(($(meminfo MemFree) + pcp * 4))
}
state()
{
	echo "free $(free_kb) kB (MemFree $(meminfo MemFree))," \
		"VmallocUsed $(meminfo VmallocUsed)" \
		"kB, vmalloc_contig live $(vc_live) B, module_map chunks" \
		"$(module_map_sum chunks) used $(module_map_sum used_bytes) B"
}

TOTAL=$(wc -l < /wb/modset.order)
NCPU=$(nproc)
# "CAL TLB": function call and TLB shootdown interrupts so far, all CPUs
# (x86's flush_tlb_all() IPIs count as CAL).
ipis()
{
	awk '$1 == "CAL:" || $1 == "TLB:" {
		for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n[$1] += $i
	} END { print n["CAL:"] + 0, n["TLB:"] + 0 }' /proc/interrupts
}

# Eight loaders of one module spread over the CPUs: one load happens; each
# racing finit_module() of the same file joins it (0) or finds it live
# (EEXIST). Then one loader per CPU walks the same dependency order: each
# module is loaded by one and joined or found loaded by the others, so loads
# of the same module race and loads of different modules overlap.
parallel_loads()
{
	# A module nothing depends on: the backend's test module where the
	# series has one (6.12), else the static key test base (7.3).
	mod=$(built_modules 1 test_module_map test_static_key_base)
	ko=$(module_ko "$mod")
	bad=""
	for round in 1 2 3 4 5 6 7 8 9 10; do
		for i in 1 2 3 4 5 6 7 8; do
			(taskset -c $((i % NCPU)) insmod "$ko" > "/tmp/p$i" 2>&1 &&
			 echo loaded > "/tmp/p$i") &
		done
		wait
		loaded=$(cat /tmp/p[1-8] | grep -c '^loaded$')
		exists=$(cat /tmp/p[1-8] | grep -c 'File exists')
		inst=$(grep -c "^$mod " /proc/modules)
		if [ "$loaded" -lt 1 ] || [ $((loaded + exists)) != 8 ] ||
		   [ "$inst" != 1 ]; then
			bad="$bad round $round: $loaded ok, $exists EEXIST, $inst loaded;"
		fi
		rmmod "$mod" || bad="$bad rmmod failed;"
	done
	if [ -z "$bad" ]; then
		ok "parallel loads of one module ($mod), 8 loaders x 10 rounds: each joins the one load or gets EEXIST"
	else
		not_ok "parallel loads of one module:$bad"
	fi

	rm -f /tmp/loader*
	for cpu in $(seq 0 $((NCPU - 1))); do
		(
			n=0
			while read -r mod; do
				out=$(taskset -c "$cpu" insmod "$WB_MODDIR/$mod" 2>&1) &&
					n=$((n + 1)) && continue
				case "$out" in
				*"File exists"*) ;;
				*) echo "insmod $mod: $out" ;;
				esac
			done < /wb/modset.order
			echo "loaded $n"
		) > "/tmp/loader$cpu" 2>&1 &
	done
	wait
	# shellcheck disable=SC2046 # one word per loader
	loads=$(echo $(sed -n 's/^loaded //p' /tmp/loader*))
	sum=0
	for n in $loads; do
		sum=$((sum + n))
	done
	errs=$(grep -vh '^loaded ' /tmp/loader*)
	set -- $loads
	[ "$#" = "$NCPU" ] || errs="$errs only $# of $NCPU loaders finished;"
	have=$(modset_loaded)
	# The set must also unload, in order, after the racing loads.
	unload=$(wb_unload_modset 2>&1) || errs="$errs unload: $unload"
	if [ -z "$errs" ] && [ "$sum" -ge "$TOTAL" ] && [ "$have" = "$TOTAL" ]
	then
		ok "module set loaded by $NCPU loaders at once, one per CPU ($loads loads or joins, $TOTAL modules), then unloaded"
	else
		not_ok "$NCPU loaders: $loads loaded, $have of $TOTAL present; $errs"
	fi
	# Whatever a failure above left loaded must not spoil what follows.
	wb_unload_modset_loaded > /dev/null
}

cycles()
{
	# One warm-up cycle: the caches it leaves are not leaks. Readings are
	# taken once the backend has given its empty chunks back.
	if ! out=$(wb_load_modset && wb_unload_modset); then
		not_ok "warm-up load/unload cycle of the module set: $out"
		wb_unload_modset_loaded > /dev/null
		return
	fi
	module_map_wait_released
	free0=$(free_kb)
	vm0=$(meminfo VmallocUsed)
	live0=$(vc_live)
	diag "before $CYCLES cycles: $(state)"
	t0=$(wb_now_us)
	i=0
	err=""
	while [ "$i" -lt "$CYCLES" ]; do
		i=$((i + 1))
		[ "$i" = 1 ] && ipi0=$(ipis)
		c0=$(wb_now_us)
		if ! out=$(wb_load_modset); then
			err="cycle $i: $out"
			break
		fi
		c1=$(wb_now_us)
		[ "$i" = 1 ] && ipi1=$(ipis)
		if ! out=$(wb_unload_modset); then
			err="cycle $i: $out"
			break
		fi
		[ "$i" = 1 ] && diag "cycle 1: load $(((c1 - c0) / 1000)) ms, unload $((($(wb_now_us) - c1) / 1000)) ms; IPIs on $NCPU CPUs during the load: function call $((${ipi1% *} - ${ipi0% *})), TLB shootdown $((${ipi1#* } - ${ipi0#* }))"
		[ $((i % 50)) = 0 ] && diag "cycle $i: $(state)"
	done
	t1=$(wb_now_us)
	diag "after $i cycles in $(((t1 - t0) / 1000000)) s: $(state)"
	if [ -n "$err" ]; then
		not_ok "load/unload cycles of the module set: $err"
		return
	fi
	ok "$CYCLES load/unload cycles of the $TOTAL-module set"
	released=yes
	module_map_wait_released || released=no
	# execmem's data caches (7.3) keep an empty area for 1 s: not a leak.
	areas=yes
	execmem_wait_released || areas=no
	free1=$(free_kb)
	vm1=$(meminfo VmallocUsed)
	if [ "$free1" -ge $((free0 - SLACK)) ]; then
		ok "free memory back after the cycles ($free0 -> $free1 kB)"
	else
		not_ok "free memory $free0 -> $free1 kB after $CYCLES cycles (slack $SLACK kB)"
	fi
	if [ "$vm1" -le $((vm0 + 64)) ] && [ "$(vc_live)" = "$live0" ]; then
		ok "vmalloc usage back ($vm0 -> $vm1 kB, live $live0 -> $(vc_live) B)"
	else
		not_ok "vmalloc usage $vm0 -> $vm1 kB, live $live0 -> $(vc_live) B"
	fi
	if ! module_map_enabled; then
		skip "every chunk returned (module_map backend off)"
	elif [ "$released" = yes ]; then
		ok "every chunk returned to the page allocator within 10 s of the last unload"
	else
		not_ok "chunks 10 s after the cycles: $(module_map_sum chunks), used $(module_map_sum used_bytes) B"
	fi
	# Always one result, so that the plan is the same on every base.
	if [ ! -r "$EXECMEM_CACHES" ]; then
		skip "no empty execmem area held after the cycles (no execmem caches: CONFIG_ARCH_HAS_EXECMEM_ROX)"
	elif [ "$areas" = yes ]; then
		ok "no empty execmem area held 10 s after the cycles"
	else
		not_ok "execmem areas with nothing in use 10 s after the cycles: $(execmem_empty_areas)"
	fi
}

# Free blocks of 2M (order 9, and order 10 as two) over every zone.
free_2m_blocks()
{
	awk '$3 == "zone" { s += $14 + 2 * $15 } END { print s + 0 }' \
		/proc/buddyinfo
}

enough_2m_blocks()
{
	[ "$(free_2m_blocks)" -ge 16 ]
}

# Loads while test_vmalloc_contig holds every other page of every 2M block
# it can get: 4K fallbacks that the counters show; then 2M again.
fragmentation()
{
	if ! module_map_enabled; then
		skip "loads under fragmentation fall back (module_map backend off)"
		skip "loads after fragmentation get 2M again (module_map backend off)"
		return
	fi
	# Empty chunks of the last unload are kept for 2 s: loads under the
	# fragmenter would reuse them and need no new 2M block. Start with
	# none held.
	if ! module_map_wait_released; then
		not_ok "fragmentation: $(module_map_sum chunks) chunk pages still held 10 s after the last unload"
		skip "loads after fragmentation get 2M again"
		return
	fi
	mfb0=$(module_map_sum fallbacks)
	vfb0=$(vc fallbacks)
	if ! insmod "$WB_MODDIR/kernel/lib/test_vmalloc_contig.ko" mode=fragment
	then
		not_ok "fragmenting memory failed"
		skip "loads after fragmentation get 2M again"
		return
	fi
	diag "fragmented: $(dmesg | grep 'fragment:' | tail -n 1)"
	# Every free block of 2M and more is held: an allocation of upstream
	# code without __GFP_NOWARN (ftrace's records, say) may really fail
	# and warn, as it would on any fragmented machine. Ours never warn:
	# the API and the backend try with __GFP_NOWARN and fall back.
	wb_expect alloc-failure begin
	out=$(wb_load_modset)
	loaded=$?
	mfb=$(($(module_map_sum fallbacks) - mfb0))
	vfb=$(($(vc fallbacks) - vfb0))
	unload=$(wb_unload_modset 2>&1)
	unloaded=$?
	rmmod test_vmalloc_contig
	unfrag=$?
	wb_expect alloc-failure end
	if [ "$loaded" = 0 ] && [ "$unloaded" = 0 ] && [ "$unfrag" = 0 ] &&
	   [ "$mfb" -gt 0 ] && [ "$vfb" -gt 0 ]; then
		ok "loads under fragmentation fall back: $mfb module_map, $vfb vmalloc_contig fallbacks"
	else
		not_ok "under fragmentation: load status $loaded ($out), unload $unloaded ($unload), rmmod test_vmalloc_contig $unfrag, fallbacks module_map $mfb vmalloc_contig $vfb"
		wb_unload_modset_loaded > /dev/null
		rmmod test_vmalloc_contig 2>/dev/null
	fi
	module_map_wait_backoff
	# The fragmenter's pages went back through the per-CPU lists: 2M
	# blocks form again only as those drain. Compact where the kernel can
	# (CONFIG_COMPACTION; it drains them), and wait, 10 s at most, for 16
	# free 2M blocks, the chunks the set needs with room to spare; the
	# load below then says whether it got 2M again, not whether the lists
	# happened to drain in time.
	if [ -w /proc/sys/vm/compact_memory ]; then
		echo 1 > /proc/sys/vm/compact_memory
	fi
	wait_until 100 enough_2m_blocks
	diag "free 2M blocks after the fragmenter: $(free_2m_blocks)"
	mfb0=$(module_map_sum fallbacks)
	out=$(wb_load_modset 2>&1)
	loaded=$?
	mfb=$(($(module_map_sum fallbacks) - mfb0))
	module_map_wait_mapped
	chunks=$(module_map_sum chunks)
	mapped=$(($(module_map_sum mapped_2m_bytes) / 2097152))
	unload=$(wb_unload_modset 2>&1)
	unloaded=$?
	if [ "$loaded" = 0 ] && [ "$unloaded" = 0 ] && [ "$mfb" = 0 ] &&
	   [ "$mapped" = "$chunks" ]; then
		ok "loads after fragmentation get 2M again"
	else
		not_ok "after fragmentation: load $loaded ($out), unload $unloaded ($unload), $mfb fallbacks, $mapped of $chunks chunk pages 2M-mapped"
		wb_unload_modset_loaded > /dev/null
	fi
}

# CPU hotplug during loads: the last CPU goes offline and online in a loop
# while the set loads and unloads twice (CPA's flushes and the backend's
# release work meet CPUs coming and going). Then nothing is left: every
# chunk and execmem area given back, vmalloc_contig's live bytes as before.
HOTPLUG_ROUNDS=2
hotplug()
{
	# The highest CPU of those online, read once.
	last=$(sed 's/.*[-,]//' /sys/devices/system/cpu/online)
	cpu=/sys/devices/system/cpu/cpu$last/online
	if [ "$last" = 0 ] || [ ! -w "$cpu" ]; then
		skip "hotplug: CPU offline/online during loads (CONFIG_HOTPLUG_CPU, a second CPU)"
		return
	fi
	live0=$(vc_live)
	rm -f /tmp/hotplug-stop /tmp/hotplug-end
	(
		n=0
		end="stopped"
		while [ ! -e /tmp/hotplug-stop ]; do
			if ! err=$(echo 0 2>&1 > "$cpu"); then
				end="offline failed: $err"
				break
			fi
			if ! err=$(echo 1 2>&1 > "$cpu"); then
				end="online failed: $err"
				break
			fi
			n=$((n + 1))
		done
		echo "$n $end" > /tmp/hotplug-end
	) &
	toggler=$!
	err=""
	i=0
	while [ "$i" -lt "$HOTPLUG_ROUNDS" ]; do
		i=$((i + 1))
		out=$(wb_load_modset) || { err="round $i load: $out"; break; }
		out=$(wb_unload_modset) || { err="round $i unload: $out"; break; }
	done
	touch /tmp/hotplug-stop
	wait "$toggler"
	read -r toggles end < /tmp/hotplug-end
	[ "$(cat "$cpu")" = 1 ] || echo 1 > "$cpu"
	released=yes
	module_map_wait_released || released=no
	execmem_wait_released || released=no
	if [ -z "$err" ] && [ "$end" = stopped ] && [ "$toggles" -gt 0 ] &&
	   [ "$(cat "$cpu")" = 1 ] && [ "$released" = yes ] &&
	   [ "$(vc_live)" = "$live0" ]; then
		ok "hotplug: $HOTPLUG_ROUNDS loads and unloads of the set while CPU $last went offline and online $toggles times; nothing left"
	else
		not_ok "hotplug: ${err:-loads ok}; CPU $last offline/online $toggles times, then $end; online now $(cat "$cpu"); released $released; vmalloc_contig live $live0 -> $(vc_live) B"
		wb_unload_modset_loaded > /dev/null
	fi
}

# The kselftest fault test on real modules of the set: leaves, whose
# dependencies stay loaded while they are loaded under fault injection.
FAULT_MODULES="xfs btrfs wireguard"
kselftest_on_modset()
{
	if [ ! -x "$KSFT/module_faults.sh" ]; then
		skip "module_faults.sh on $FAULT_MODULES (not installed)"
		return
	fi
	# The leaves' dependencies stay loaded; the leaves themselves go.
	setup=""
	out=$(wb_load_modset) || setup="$setup load: $out;"
	for m in $FAULT_MODULES; do
		rmmod "$m" || setup="$setup rmmod $m failed;"
	done
	if [ -n "$setup" ]; then
		not_ok "module_faults.sh on $FAULT_MODULES: setup failed:$setup"
		wb_unload_modset_loaded > /dev/null
		return
	fi
	(cd "$KSFT" && TRIES=5 ./module_faults.sh $FAULT_MODULES) \
		> /tmp/faults.ktap 2>&1
	rc=$?
	# The runner's header, so that the host names the inner results
	# (skips above all) by their script (gate.py inner_results).
	diag "selftests: vmalloc_contig: module_faults.sh"
	sed 's/^/# /' /tmp/faults.ktap
	unload=$(wb_unload_modset_loaded 2>&1)
	unloaded=$?
	if [ "$rc" = 0 ] && [ "$unloaded" = 0 ]; then
		ok "module_faults.sh on $FAULT_MODULES"
	elif [ "$rc" = 0 ]; then
		not_ok "module_faults.sh on $FAULT_MODULES: the set does not unload after it: $unload"
	else
		not_ok "module_faults.sh on $FAULT_MODULES (exit $rc)"
		wb_unload_modset_loaded > /dev/null
	fi
}

# kmemleak (debug kernels): what the boot left is not ours; scan at the end.
KMEMLEAK=/sys/kernel/debug/kmemleak
[ -w "$KMEMLEAK" ] && echo clear > "$KMEMLEAK"

kmemleak_scan()
{
	if [ ! -w "$KMEMLEAK" ]; then
		skip "kmemleak finds no leak (CONFIG_DEBUG_KMEMLEAK)"
		return
	fi
	sleep 6		# kmemleak ignores objects younger than 5 s
	echo scan > "$KMEMLEAK"
	echo scan > "$KMEMLEAK"
	cat "$KMEMLEAK" > /tmp/kmemleak
	if [ -s /tmp/kmemleak ]; then
		sed 's/^/# /' /tmp/kmemleak | head -n 60
		not_ok "kmemleak: $(grep -c '^unreferenced' /tmp/kmemleak) leaks"
	else
		ok "kmemleak finds no leak after the scenarios"
	fi
}

{
	echo "TAP version 13"
	echo "1..12"
	diag "start: $(state)"
	parallel_loads
	cycles
	fragmentation
	hotplug
	kselftest_on_modset
	kmemleak_scan
	diag "end: $(state)"
	while [ "$N" -lt 12 ]; do not_ok "missing result"; done
} > /tmp/reliability.ktap 2>&1
wb_put reliability.ktap /tmp/reliability.ktap
wb_put meminfo-end /proc/meminfo
wb_put_file module_map-stats "$MM_STATS"
wb_put_file vmalloc_contig-stats "$VC"
exit 0
