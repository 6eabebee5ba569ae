# SPDX-License-Identifier: GPL-2.0
# The performance preset of the vmalloc_contig kselftest: alloc+free latency
# per size for vmalloc_contig, vmalloc and kvmalloc, as KTAP comments.
. /wb/lib.sh

t=/wb/kselftest/vmalloc_contig/test_vmalloc_contig.sh
[ -x "$t" ] || { echo "wb: $t missing"; exit 1; }
"$t" performance > /tmp/perf.ktap 2>&1
rc=$?
wb_put perf.ktap /tmp/perf.ktap
exit "$rc"
