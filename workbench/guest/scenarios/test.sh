# SPDX-License-Identifier: GPL-2.0
# The test boot: KUnit suites already ran during boot (console KTAP); here run
# the kselftests installed in /wb/kselftest and a load/unload pass of the
# module set, as KTAP on the results channel.
. /wb/lib.sh

ksft_rc=0
if [ -x /wb/kselftest/run_kselftest.sh ]; then
	(cd /wb/kselftest && ./run_kselftest.sh) > /tmp/kselftest.ktap 2>&1
	ksft_rc=$?
	wb_put kselftest.ktap /tmp/kselftest.ktap
fi

# The module set must load and unload cleanly on the test kernel too.
{
	echo "TAP version 13"
	echo "1..2"
	if wb_load_modset; then
		echo "ok 1 modset_load $(wc -l < /wb/modset.order) modules"
	else
		echo "not ok 1 modset_load"
	fi
	if wb_unload_modset; then
		echo "ok 2 modset_unload"
	else
		echo "not ok 2 modset_unload"
	fi
} > /tmp/modset.ktap 2>&1
wb_put modset.ktap /tmp/modset.ktap
exit "$ksft_rc"
