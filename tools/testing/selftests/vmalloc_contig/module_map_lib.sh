# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the tests of module memory mapped by 2M pages (x86 module_map
# backend), sourced after ktap_helpers.sh.

MM_STATS=/sys/kernel/debug/module_map/stats
EXECMEM_CACHES=/sys/kernel/debug/execmem/caches
PTDUMP=/sys/kernel/debug/page_tables/kernel
MODDIR=/lib/modules/$(uname -r)

# module_ko MODULE: the module's file, from modules.dep; nothing when the
# module is not built. (busybox modinfo exits 0 for unknown modules.)
module_ko()
{
	p=$(sed -n "s,^\(\(.*/\)\?$1\.ko[^:]*\):.*,\1,p" "$MODDIR/modules.dep" |
	    head -n 1)
	[ -n "$p" ] && echo "$MODDIR/$p"
}

# built_modules N MOD...: the first N of the modules that are built, one
# per line (test modules differ between kernels: test_module_map comes with
# the x86 backend).
built_modules()
{
	n=$1
	shift
	for m in "$@"; do
		[ "$n" -gt 0 ] || break
		[ -n "$(module_ko "$m")" ] || continue
		echo "$m"
		n=$((n - 1))
	done
}

# Whether the backend serves module memory on this boot.
module_map_enabled()
{
	[ -r "$MM_STATS" ] && [ "$(awk '$1 == "enabled" { print $2 }' \
		"$MM_STATS")" = 1 ]
}

# wait_until TENTHS CMD...: run CMD every 0.1s until it succeeds, for at
# most TENTHS tenths of a second. Fails if it never did.
wait_until()
{
	local tenths=$1 waited=0

	shift
	until "$@"; do
		[ "$waited" -ge "$tenths" ] && return 1
		sleep 0.1
		waited=$((waited + 1))
	done
}

module_map_backoff_over()
{
	[ ! -r "$MM_STATS" ] ||
	[ "$(awk '$1 == "backoff_ms" { print $2 }' "$MM_STATS")" = 0 ]
}

module_map_no_chunk()
{
	[ "$(module_map_sum chunks)" = 0 ]
}

module_map_all_mapped()
{
	[ $(($(module_map_sum mapped_2m_bytes) / 2097152)) = \
	  "$(module_map_sum chunks)" ]
}

# module_map_wait_backoff: after chunks could not be had, the backend tries
# none for a moment (backoff_ms in its stats); wait that out, up to 5s.
module_map_wait_backoff()
{
	wait_until 50 module_map_backoff_over
}

# module_map_wait_released: empty chunks go back to the page allocator 2s
# after they empty; wait until no class holds one (up to 10s). Fails if
# some chunk is still held then.
module_map_wait_released()
{
	wait_until 100 module_map_no_chunk
}

# execmem_empty_areas: the areas execmem's caches hold with nothing in use
# (mainline's execmem with data caches); 0 without the file.
execmem_empty_areas()
{
	[ -r "$EXECMEM_CACHES" ] || { echo 0; return; }
	awk 'NR > 1 && $4 == 0 { n += $2 } END { print n + 0 }' \
		"$EXECMEM_CACHES"
}

execmem_no_empty_area()
{
	[ "$(execmem_empty_areas)" = 0 ]
}

# execmem_wait_released: a cache gives a whole free area back to the page
# allocator once it is free (a data cache 1s later); wait until no cache
# holds an area with nothing in use (up to 10s). Fails if one still does.
execmem_wait_released()
{
	wait_until 100 execmem_no_empty_area
}

# module_map_wait_mapped: a piece being freed is split to 4K while it is
# refilled (init memory is freed by a work item after the module's init
# returns, so that goes on after insmod exits); wait until every chunk is
# mapped by PMDs again (up to 5s). Fails if some chunk is still split then.
module_map_wait_mapped()
{
	wait_until 50 module_map_all_mapped
}

# module_map_collapsed: no chunk waits for the backend to put its PMD back,
# which it does a moment after the permission changes of a load (true where
# the backend has no stats).
module_map_collapsed()
{
	[ ! -r "$MM_STATS" ] ||
	[ "$(awk '$1 == "collapses_pending" { print $2 }' "$MM_STATS")" = 0 ]
}

module_map_wait_collapsed()
{
	wait_until 50 module_map_collapsed
}

# module_map_chunks_across_nodes [FILE]: the start addresses of the chunks
# (module_map's areas in /proc/vmallocinfo, or FILE) whose pages are not
# all on one node; "none" if each chunk is on one.
module_map_chunks_across_nodes()
{
	awk '/ (mm_reserve|mm_chunk_create|module_map_alloc)\+/ {
		n = 0
		for (i = 1; i <= NF; i++) if ($i ~ /^N[0-9]+=/) n++
		if (n != 1) { print $1; bad = 1 }
	} END { if (!bad) print "none" }' "${1:-/proc/vmallocinfo}"
}

# module_map_sum COLUMN: a stats column summed over the classes
# (chunks, used_bytes, free_bytes, mapped_2m_bytes, allocs, fallbacks, ...).
module_map_sum()
{
	[ -r "$MM_STATS" ] || { echo 0; return; }
	awk -v col="$1" '
		$1 == "class" { for (i = 2; i <= NF; i++) if ($i == col) c = i }
		c && $1 != "class" && $1 != "enabled" { s += $c }
		END { print s + 0 }' "$MM_STATS"
}

# module_map_chunks_settled: the chunk pages alive (created, not yet
# released), when the release work is not in the middle of a release: it
# takes chunks off their lists first and counts them released only after
# vfree_contig() has returned. Fails during a release; 0 without the backend.
module_map_chunks_settled()
{
	[ -r "$MM_STATS" ] || { echo 0; return; }
	awk '
		$1 == "chunks_created" { alive += $2 }
		$1 == "chunks_released" { alive -= $2 }
		$1 == "class" { for (i = 2; i <= NF; i++) if ($i == "chunks") c = i }
		c && $1 != "class" { listed += $c }
		END { print alive + 0; exit (alive != listed) }' "$MM_STATS"
}

# symbol_addr SYM MODULE: the address of SYM in MODULE, from kallsyms.
symbol_addr()
{
	awk -v s="$1" -v m="[$2]" '$3 == s && $4 == m { print "0x" $1; exit }' \
		/proc/kallsyms
}

# mapping_of ADDR: "SIZE FLAGS..." of the module-area mapping holding ADDR,
# from the kernel page table dump. Shell arithmetic is signed 64-bit: every
# kernel address is negative, so the comparisons still order them.
mapping_of()
{
	a=$(($1))
	sed -n '/---\[ Modules \]---/,/---\[ End Modules \]---/p' "$PTDUMP" |
	while read -r range size rest; do
		case "$range" in
		0x*-0x*) ;;
		*) continue ;;
		esac
		if [ "$a" -ge $((${range%-*})) ] && [ "$a" -lt $((${range#*-})) ]
		then
			echo "$size $rest"
			break
		fi
	done
}

# text_is_2m SYM MODULE: SYM's text is mapped by 2M, read-only, executable
# pages (ptdump merges neighbours alike: 4M for a text piece over 2M, or for
# two text chunks side by side). Prints the mapping found on failure.
text_is_2m()
{
	addr=$(symbol_addr "$1" "$2")
	if [ -z "$addr" ]; then
		echo "no address for $1 in /proc/kallsyms"
		return 1
	fi
	m=$(mapping_of "$addr")
	case " $m " in
	" "[0-9]*M" ro "*" x "*"pmd ") return 0 ;;
	esac
	echo "$1 at $addr mapped as '$m'"
	return 1
}

# check_2m NAME SYM MODULE: a KTAP result for "SYM's text is 2M-mapped";
# a skip when the backend is off (vmalloc_contig=off, no PSE, ...).
check_2m()
{
	if ! module_map_enabled; then
		ktap_test_skip "$1 (module_map backend off)"
		return
	fi
	module_map_wait_collapsed
	if why=$(text_is_2m "$2" "$3"); then
		ktap_test_pass "$1"
	else
		ktap_test_fail "$1: $why"
	fi
}
