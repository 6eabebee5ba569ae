# SPDX-License-Identifier: GPL-2.0
# make bench: wb.reps= load/unload repetitions of the module set, each with
# memory, mapping and timing; after them one more load and unload, untimed,
# that counts global flushes and vmalloc's areas; then one more load and,
# if wb.workload=1, the module-heavy workload inside the iTLB marker window
# (wbmark start|stop) and the full kernel ptdump the host replays the trace
# against.
#
# Clock: "now at N nsecs" of /proc/timer_list (ktime_get(), ns), since
# busybox date has no %N and /proc/uptime has 10 ms resolution.
. /wb/lib.sh

REPS=$(wb_cmdline wb.reps)
REPS=${REPS:-5}
WORKLOAD=$(wb_cmdline wb.workload)
# wb.permodule=1: also time each insmod (a diagnosis of where a slow
# repetition's time goes; it adds two clock reads per module).
PERMODULE=$(wb_cmdline wb.permodule)
MM_STATS=/sys/kernel/debug/module_map/stats
VC_STATS=/sys/kernel/debug/vmalloc_contig/stats
EXECMEM_CACHES=/sys/kernel/debug/execmem/caches
LOG=/tmp/workload.log

now_ns() {
	awk '/^now at/ { print $3; exit }' /proc/timer_list
}

# Page cache and slab caches out of the way before every memory reading.
settle() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
}

# put_state TAG: meminfo and the allocators' own counters, as NAME-TAG.
put_state() {
	settle
	wb_put "meminfo-$1" /proc/meminfo
	# compaction, reclaim, THP: what else ran around a load
	wb_put "vmstat-$1" /proc/vmstat
	[ -r "$MM_STATS" ] && wb_put "module_map-stats-$1" "$MM_STATS"
	[ -r "$VC_STATS" ] && wb_put "vmalloc_contig-stats-$1" "$VC_STATS"
	[ -r "$EXECMEM_CACHES" ] && wb_put "execmem-caches-$1" "$EXECMEM_CACHES"
	return 0
}

# ---- the workload: files on ext4 and xfs over loop, nftables traffic ----

# fs_mount FSTYPE: the host-made image on a loop device, at /mnt/FSTYPE.
fs_mount() {
	gunzip -c "/wb/bench/$1.img.gz" > "/tmp/$1.img" || return 1
	dev=$(losetup -f) || return 1
	losetup "$dev" "/tmp/$1.img" || return 1
	mkdir -p "/mnt/$1"
	mount -t "$1" "$dev" "/mnt/$1" && echo "$dev" > "/tmp/$1.dev"
}

fs_umount() {
	umount "/mnt/$1"
	losetup -d "$(cat "/tmp/$1.dev")"
	rm -f "/tmp/$1.img"
}

# fs_work DIR: many small files, a few large ones; write, read, list, remove.
fs_work() {
	mkdir -p "$1/small"
	i=0
	while [ $i -lt 300 ]; do
		echo "file $i of the bench workload" > "$1/small/f$i"
		i=$((i + 1))
	done
	for n in 1 2 3; do
		dd if=/dev/zero of="$1/big$n" bs=64k count=32 2>/dev/null
	done
	sync
	echo 3 > /proc/sys/vm/drop_caches
	cat "$1"/small/* > /dev/null
	for n in 1 2 3; do
		dd if="$1/big$n" of=/dev/null bs=64k 2>/dev/null
	done
	ls -lR "$1" > /dev/null
	rm -rf "$1/small" "$1"/big*
	sync
}

NFT_RULES='
table inet wb {
	chain prerouting {
		type filter hook prerouting priority 0; policy accept;
		iifname "veth0" ip protocol icmp counter drop
	}
	chain input {
		type filter hook input priority 0; policy accept;
		ct state established,related counter accept
		tcp dport 8080 ct state new counter accept
		tcp dport 1-1023 counter drop
	}
	chain output {
		type filter hook output priority 0; policy accept;
		oifname "v0" ip protocol icmp counter accept
		tcp sport 8080 counter accept
	}
}'

# net_setup: nftables rules, lo and a veth pair (v0 -> veth0), a small httpd
# on loopback.  The kernel has no network namespaces, so TCP runs over
# loopback; ICMP goes out of v0 to a static neighbour whose MAC is veth0's,
# through the output and (on veth0) the prerouting hooks.
net_setup() {
	ip link set lo up
	ip link add v0 type veth || return 1
	ip addr add 10.9.0.1/24 dev v0
	ip link set v0 up
	ip link set veth0 up
	arp -i v0 -s 10.9.0.2 "$(cat /sys/class/net/veth0/address)" ||
		return 1
	echo "$NFT_RULES" > /tmp/wb.nft
	/usr/sbin/nft -f /tmp/wb.nft || { echo "# nft -f failed"; return 1; }
	mkdir -p /tmp/www
	dd if=/dev/zero of=/tmp/www/blob bs=64k count=16 2>/dev/null
	httpd -p 127.0.0.1:8080 -h /tmp/www
}

net_work() {
	for i in 1 2 3 4 5 6 7 8; do
		wget -q -O /dev/null http://127.0.0.1:8080/blob ||
			echo "# wget failed"
	done
	ping -q -c 40 -i 0.02 -w 5 10.9.0.2 > /dev/null 2>&1
	return 0
}

net_teardown() {
	killall httpd 2>/dev/null
	/usr/sbin/nft list ruleset > /tmp/nft.ruleset 2>&1
	/usr/sbin/nft delete table inet wb 2>/dev/null
	ip link del v0
}

workload() {
	for fs in ext4 xfs; do
		fs_mount $fs || { echo "# mount $fs failed"; return 1; }
	done
	net_setup || { echo "# network setup failed"; return 1; }
	t0=$(now_ns)
	wbmark start
	for fs in ext4 xfs; do
		fs_work "/mnt/$fs"
	done
	net_work
	wbmark stop
	t1=$(now_ns)
	echo "workload_ns $((t1 - t0))"
	wb_put ptdump-kernel /sys/kernel/debug/page_tables/kernel
	net_teardown
	wb_put nft-ruleset /tmp/nft.ruleset
	for fs in ext4 xfs; do
		fs_umount $fs
	done
}

# The set as wb_load_modset loads it, one "NS MODULE" line per insmod in
# /tmp/permodule.
load_modset_timed()
{
	: > /tmp/permodule
	while read -r mod; do
		a=$(now_ns)
		if ! out=$(insmod "$WB_MODDIR/$mod" 2>&1); then
			echo "# wb: insmod $mod failed: $out"
			return 1
		fi
		echo "$(($(now_ns) - a)) $mod" >> /tmp/permodule
	done < /wb/modset.order
}

# ---- repetitions ----

if ! grep -q '^now at' /proc/timer_list; then
	echo "wb: /proc/timer_list has no 'now at' line: no clock"
	exit 1
fi
put_state before
wb_ptdump_modules | wb_put ptdump-modules-before
i=1
while [ $i -le "$REPS" ]; do
	settle
	cat /proc/interrupts > /tmp/interrupts-pre
	t0=$(now_ns)
	if [ "$PERMODULE" = 1 ]; then
		load_modset_timed || exit 1
	else
		wb_load_modset || exit 1
	fi
	t1=$(now_ns)
	[ "$PERMODULE" = 1 ] && wb_put "permodule-$i" /tmp/permodule
	# The IPIs of the load: TLB shootdowns, function calls (flushes).
	cat /proc/interrupts > /tmp/interrupts-post
	wb_put "interrupts-pre-$i" /tmp/interrupts-pre
	wb_put "interrupts-loaded-$i" /tmp/interrupts-post
	put_state "loaded-$i"
	wb_ptdump_modules_settled | wb_put "ptdump-modules-loaded-$i"
	wb_put "modules-$i" /proc/modules
	settle
	t2=$(now_ns)
	wb_unload_modset || exit 1
	t3=$(now_ns)
	wb_wait_released
	put_state "unloaded-$i"
	printf 'load_ns %s\nunload_ns %s\n' $((t1 - t0)) $((t3 - t2)) |
		wb_put "timing-$i"
	echo "wb: repetition $i: load $(((t1 - t0) / 1000000)) ms, unload" \
		"$(((t3 - t2) / 1000000)) ms"
	i=$((i + 1))
done
# One more load, untimed, for its costs as make demo counts them (the
# function profiler would slow the timed loads).
if [ "$REPS" -gt 0 ]; then
	wb_modset_costs count- || exit 1
fi
if [ "$WORKLOAD" = 1 ]; then
	wb_load_modset || exit 1
	workload > "$LOG" 2>&1
	rc=$?
	wb_put workload.log "$LOG"
	[ $rc -eq 0 ] || exit 1
fi
exit 0
