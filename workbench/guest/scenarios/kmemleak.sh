# SPDX-License-Identifier: GPL-2.0
# Load the module set, keep it loaded, scan with kmemleak; then unload it
# and scan again. Any suspected leak is reported and fails the scenario.
. /wb/lib.sh

K=/sys/kernel/debug/kmemleak
[ -w "$K" ] || { echo "wb: $K missing: CONFIG_DEBUG_KMEMLEAK=y needed"; exit 4; }

scan()
{
	echo clear > "$K"
	sleep 6		# kmemleak ignores objects younger than 5 s
	echo scan > "$K"
	echo scan > "$K"
	cat "$K" > "/tmp/kmemleak-$1"
	wb_put "kmemleak-$1" "/tmp/kmemleak-$1"
	[ ! -s "/tmp/kmemleak-$1" ]
}

rc=0
wb_load_modset || exit 1
scan loaded || rc=1
wb_unload_modset || exit 1
scan unloaded || rc=1
exit "$rc"
