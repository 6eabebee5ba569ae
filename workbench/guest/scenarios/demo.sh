# SPDX-License-Identifier: GPL-2.0
# Load the realistic module set and report how module memory is mapped, what
# it holds (vmalloc's own areas: /proc/vmallocinfo) loaded and unloaded, and
# the global TLB flushes the load cost.
. /wb/lib.sh

wb_modset_costs "" || exit 1
exit 0
