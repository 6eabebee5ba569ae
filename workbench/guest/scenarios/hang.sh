# SPDX-License-Identifier: GPL-2.0
# Harness self-test: a guest that never finishes must hit the host timeout.
echo "wb: hanging on purpose"
while :; do sleep 3600; done
