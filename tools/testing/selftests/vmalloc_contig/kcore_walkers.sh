#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Page tables of module memory freed while walkers read them. Loaders (one
# per CPU, as far as there are modules for them) load and unload modules in
# a loop, so CPA splits 2M module mappings and collapses them back (freeing
# the PTE tables; the x86 module_map backend's chunks, or mainline's execmem
# ROX cache) while two walkers read the whole module area: /proc/kcore
# (vread_iter() looks pages up with vmalloc_to_page(), without page-table
# locks) and the kernel page-table dump (under init_mm's mmap lock). A
# walker that reads a freed table shows as a KASAN report, a WARNING or an
# oops: the kernel log may get no new report line during the test. Every
# load, unload and read must succeed, and with the backend on the reads
# must overlap collapses, or the test proved nothing: counted by the backend
# (module_map_level2_collapses) or, without it, by CPA itself where it counts
# the collapses outside the direct map (/sys/kernel/debug/x86/cpa_collapses:
# the execmem caches of mainline; the direct_map_level2_collapses event
# counts the direct map's only).
#
#   kcore_walkers.sh [MODULE...]   (default: the first two of
#                                   test_module_map, test_static_keys and
#                                   dummy that are built; give leaves, as each
#                                   loader removes its modules' dependencies)
#
# KCORE_SECONDS (default 20) is how long the walkers read.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/module_map_lib.sh"

DURATION=${KCORE_SECONDS:-20}
STOP=/tmp/kcore_walkers.stop
MODULES=$*

vmstat()
{
	awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat
}

CPA_COLLAPSES=/sys/kernel/debug/x86/cpa_collapses

# Collapses so far, by the counter chosen below.
collapse_count()
{
	case "$counter" in
	module_map_level2_collapses) vmstat "$counter" ;;
	cpa_collapses) awk '$1 == "level2" { print $2 }' "$CPA_COLLAPSES" ;;
	*) echo 0 ;;
	esac
}

# "START END" of the module area: the first and last range of its section
# of the page-table dump, which lists unmapped ranges too.
module_area()
{
	sed -n '/---\[ Modules \]---/,/---\[ End Modules \]---/p' "$PTDUMP" |
	awk '$1 ~ /^0x[0-9a-f]+-0x/ { split($1, r, "-"); if (!s) s = r[1]; e = r[2] }
	     END { if (s) print s, e }'
}

# Kernel log lines that report a bug, as the host's scanner would.
reports()
{
	dmesg | grep -cE 'BUG:|WARNING:|Oops|KASAN|general protection|Unable to handle'
}

# loader CPU MODULE...: load and unload the modules, pinned to CPU, until
# the stop file appears. Prints "loads N failures F".
loader()
{
	cpu=$1
	shift
	n=0
	f=0
	while [ ! -e "$STOP" ]; do
		for m in "$@"; do
			if taskset -c "$cpu" modprobe "$m"; then
				n=$((n + 1))
				taskset -c "$cpu" modprobe -r "$m" || f=$((f + 1))
			else
				f=$((f + 1))
			fi
		done
	done
	echo "loads $n failures $f"
}

ktap_print_header
if [ "$(id -u)" -ne 0 ]; then
	ktap_skip_all "must be run as root"
	exit "$KSFT_SKIP"
fi
if [ ! -r /proc/kcore ] || [ ! -r "$PTDUMP" ]; then
	ktap_skip_all "CONFIG_PROC_KCORE and CONFIG_PTDUMP_DEBUGFS needed"
	exit "$KSFT_SKIP"
fi
case "$DURATION" in
''|*[!0-9]*|0)
	ktap_exit_fail_msg "KCORE_SECONDS must be a positive number of seconds: '$DURATION'"
	;;
esac
if [ -z "$MODULES" ]; then
	MODULES=$(built_modules 2 test_module_map test_static_keys dummy)
	[ -n "$MODULES" ] || ktap_exit_fail_msg "none of the default modules is built"
fi
for m in $MODULES; do
	[ -n "$(module_ko "$m")" ] ||
		ktap_exit_fail_msg "module $m is not built (modules.dep)"
done
if module_map_enabled; then
	counter=module_map_level2_collapses
elif [ -r "$CPA_COLLAPSES" ]; then
	counter=cpa_collapses
else
	counter=""
fi
cpus=$(nproc)
ktap_set_plan 4

area=$(module_area)
[ -n "$area" ] || ktap_exit_fail_msg "no module area in $PTDUMP"
start=${area% *}
start=${start#0x}
end=${area#* }
end=${end#0x}
reports0=$(reports)

rm -f "$STOP" /tmp/kcore_walkers.[0-9]*
collapses=$(collapse_count)
i=0
for m in $MODULES; do
	cpu=$((i % cpus))
	eval "mods_$cpu=\"\$mods_$cpu $m\""
	i=$((i + 1))
done
cpu=0
while [ "$cpu" -lt "$cpus" ]; do
	eval "mods=\$mods_$cpu"
	# shellcheck disable=SC2086 # one word per module
	[ -n "$mods" ] && loader "$cpu" $mods > "/tmp/kcore_walkers.$cpu" 2>&1 &
	cpu=$((cpu + 1))
done

"$DIR/kcore_read" "$start" "$end" "$DURATION" > /tmp/kcore_walkers.kcore 2>&1 &
kcore=$!
dumps=0
dump_err=0
t_end=$(($(cut -d. -f1 /proc/uptime) + DURATION))
while [ "$(cut -d. -f1 /proc/uptime)" -lt "$t_end" ]; do
	if cat "$PTDUMP" > /dev/null; then
		dumps=$((dumps + 1))
	else
		dump_err=$((dump_err + 1))
	fi
done
wait "$kcore"
kcore_rc=$?
touch "$STOP"
wait
rm -f "$STOP"
collapses=$(($(collapse_count) - ${collapses:-0}))

loads=0
bad=""
cpu=0
while [ "$cpu" -lt "$cpus" ]; do
	if [ -e "/tmp/kcore_walkers.$cpu" ]; then
		r=$(tail -n 1 "/tmp/kcore_walkers.$cpu")
		# shellcheck disable=SC2086 # its words: loads N failures F
		set -- $r
		if [ "$1" = loads ] && [ "$4" = 0 ] && [ "$2" -gt 0 ]; then
			loads=$((loads + $2))
		else
			bad="$bad cpu$cpu:'$(tr '\n' ' ' < "/tmp/kcore_walkers.$cpu")'"
		fi
	fi
	cpu=$((cpu + 1))
done
if [ -z "$bad" ]; then
	ktap_test_pass "kcore_walkers: $loads loads and unloads on $cpus CPUs"
else
	ktap_test_fail "kcore_walkers: loaders failed:$bad"
fi

read_msg="kcore 0x$start-0x$end $(cat /tmp/kcore_walkers.kcore), $dumps page-table dumps"
if [ "$kcore_rc" = 0 ] && [ "$dumps" -gt 0 ] && [ "$dump_err" = 0 ]; then
	ktap_test_pass "kcore_walkers: readers: $read_msg"
else
	ktap_test_fail \
		"kcore_walkers: readers: kcore status $kcore_rc, $dump_err dump errors; $read_msg"
fi

n=$(($(reports) - reports0))
if [ "$n" = 0 ]; then
	ktap_test_pass "kcore_walkers: no kernel report during the test"
else
	ktap_test_fail "kcore_walkers: $n kernel report lines during the test"
fi

if [ -z "$counter" ]; then
	ktap_test_skip "kcore_walkers: collapses during the reads (module_map backend off)"
elif [ "$collapses" -gt 0 ]; then
	ktap_test_pass "kcore_walkers: $collapses collapses ($counter) during the reads"
else
	ktap_test_fail "kcore_walkers: no chunk collapse during the reads: nothing was tested"
fi
ktap_finished
