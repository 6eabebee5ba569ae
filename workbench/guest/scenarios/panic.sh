# SPDX-License-Identifier: GPL-2.0
# Harness self-test: a guest that panics must end the run with an error.
echo "wb: crashing the kernel on purpose"
echo c > /proc/sysrq-trigger
sleep 60
