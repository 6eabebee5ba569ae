#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Text patchers on module text mapped by 2M pages: alternatives, jump labels,
# the function tracer, kprobes, kretprobes and livepatch on test_module_map,
# each checked by what the patched code does. The target's text is checked to
# be 2M-mapped before the patchers run and after each one is gone.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/module_map_lib.sh"

MOD=test_module_map
KLP=test_module_map_klp
FUNC=test_module_map_func
D=/sys/kernel/debug/$MOD
TR=/sys/kernel/tracing
ORIG=41
PATCHED=42

# loop_field NAME: a counter of the target's loop thread.
loop_field()
{
	awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' \
		"$D/loop"
}

# field_above NAME VALUE: the loop counter NAME has passed VALUE.
field_above()
{
	[ "$(loop_field "$1")" -gt "$2" ]
}

# wait_for CMD...: poll CMD for up to 30s.
wait_for()
{
	wait_until 300 "$@"
}

klp_transition_done()
{
	[ "$(cat "/sys/kernel/livepatch/$KLP/transition" 2>/dev/null)" = 0 ]
}

klp_gone()
{
	[ ! -d "/sys/kernel/livepatch/$KLP" ]
}

test_alternatives()
{
	v=$(cat "$D/alt")
	if [ "$v" = 1 ]; then
		ktap_test_pass "alternatives applied in module text"
	else
		ktap_test_fail "alternatives: replacement not applied (read $v)"
	fi
}

test_static_keys()
{
	a=$(cat "$D/key")
	echo 1 > "$D/key"
	b=$(cat "$D/key")
	echo 0 > "$D/key"
	c=$(cat "$D/key")
	if [ "$a$b$c" = 010 ]; then
		ktap_test_pass "jump label follows its static key (0 -> 1 -> 0)"
	else
		ktap_test_fail "jump label read $a $b $c for key off, on, off"
	fi
	# The in-tree test flips keys of another module and checks every
	# branch from its init; loading is the verdict.
	if [ -z "$(module_ko test_static_keys)" ]; then
		ktap_test_skip "test_static_keys (CONFIG_TEST_STATIC_KEYS=m)"
	elif modprobe test_static_keys; then
		rmmod test_static_keys test_static_key_base
		ktap_test_pass "test_static_keys"
	else
		ktap_test_fail "test_static_keys failed to load"
	fi
}

test_ftrace()
{
	if [ ! -w "$TR/current_tracer" ] ||
	   ! grep -qw function "$TR/available_tracers"; then
		ktap_test_skip "function tracer (CONFIG_FUNCTION_TRACER)"
		ktap_test_skip "function tracer: loop unharmed"
		return
	fi
	# Without the filter the tracer would patch every function in the
	# kernel: the module's own call site must be traceable.
	if ! echo "$FUNC" > "$TR/set_ftrace_filter" ||
	   ! grep -q "^$FUNC" "$TR/set_ftrace_filter"; then
		ktap_test_fail "function tracer: $FUNC is not traceable"
		ktap_test_skip "function tracer: loop unharmed"
		echo > "$TR/set_ftrace_filter"
		return
	fi
	echo 1 > "$D/loop"
	echo > "$TR/trace"
	hits=0
	seen=0
	# Enable and disable under the running loop, ten times.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		echo function > "$TR/current_tracer"
		# Until the running loop hits it (bounded): no fixed window.
		wait_for grep -q "$FUNC" "$TR/trace"
		# Count before the switch to nop, which empties the buffer.
		echo 0 > "$TR/tracing_on"
		n=$(grep -c "$FUNC" "$TR/trace")
		hits=$((hits + n))
		[ "$n" -gt 0 ] && seen=$((seen + 1))
		echo nop > "$TR/current_tracer"
		echo 1 > "$TR/tracing_on"
	done
	echo > "$TR/set_ftrace_filter"
	c0=$(loop_field calls)
	wait_for field_above calls "$c0"
	c1=$(loop_field calls)
	echo 0 > "$D/loop"
	if [ "$seen" = 10 ]; then
		ktap_test_pass "function tracer records $FUNC each time on ($hits events)"
	else
		ktap_test_fail "function tracer recorded $FUNC in $seen of 10 rounds"
	fi
	other=$(loop_field other)
	if [ "$other" = 0 ] && [ "$c1" -gt "$c0" ]; then
		ktap_test_pass "function tracer: loop unharmed ($c1 calls)"
	else
		ktap_test_fail "function tracer: loop other=$other calls $c0 -> $c1"
	fi
}

# profile_hits EVENT: hits of a kprobe event.
profile_hits()
{
	awk -v e="$1" '$1 == e { print $2 }' "$TR/kprobe_profile"
}

test_kprobes()
{
	if [ ! -w "$TR/kprobe_events" ]; then
		ktap_test_skip "kprobe (CONFIG_KPROBE_EVENTS)"
		ktap_test_skip "kretprobe (CONFIG_KPROBE_EVENTS)"
		return
	fi
	n=1000
	echo "p:wbtest/kp $MOD:$FUNC" >> "$TR/kprobe_events"
	echo "r:wbtest/krp $MOD:$FUNC ret=\$retval:s32" >> "$TR/kprobe_events"
	echo > "$TR/trace"
	echo 1 > "$TR/events/wbtest/enable"
	echo "$n" > "$D/calls"
	echo 0 > "$TR/events/wbtest/enable"
	kp=$(profile_hits kp)
	krp=$(profile_hits krp)
	rets=$(grep -c "ret=$ORIG\$" "$TR/trace")
	echo "-:wbtest/kp" >> "$TR/kprobe_events"
	echo "-:wbtest/krp" >> "$TR/kprobe_events"
	if [ "$kp" = "$n" ]; then
		ktap_test_pass "kprobe on $FUNC hit $n times"
	else
		ktap_test_fail "kprobe on $FUNC hit ${kp:-no} times, not $n"
	fi
	if [ "$krp" = "$n" ] && [ "$rets" = "$n" ] &&
	   [ "$(cat "$D/func")" = "$ORIG" ]; then
		ktap_test_pass "kretprobe on $FUNC hit $n times, returns $ORIG"
	else
		ktap_test_fail "kretprobe hit ${krp:-no} times, ret=$ORIG $rets times"
	fi
}

test_livepatch()
{
	if [ ! -d /sys/kernel/livepatch ] || [ -z "$(module_ko "$KLP")" ]
	then
		ktap_test_skip "livepatch applied under load (CONFIG_LIVEPATCH)"
		ktap_test_skip "livepatch removed under load (CONFIG_LIVEPATCH)"
		return
	fi
	echo 1 > "$D/loop"
	if modprobe "$KLP" && wait_for klp_transition_done; then
		wait_for field_above patched 0
		v=$(cat "$D/func")
		p=$(loop_field patched)
		if [ "$v" = "$PATCHED" ] && [ "$p" -gt 0 ]; then
			ktap_test_pass "livepatch applied under load ($p patched calls)"
		else
			ktap_test_fail "livepatch applied: func $v, $p patched calls"
		fi
	else
		ktap_test_fail "livepatch: $KLP did not load or finish its transition"
	fi
	echo 0 > "/sys/kernel/livepatch/$KLP/enabled" 2>/dev/null
	if wait_for klp_gone && rmmod "$KLP"; then
		o0=$(loop_field orig)
		wait_for field_above orig "$o0"
		o1=$(loop_field orig)
		v=$(cat "$D/func")
		other=$(loop_field other)
		if [ "$v" = "$ORIG" ] && [ "$o1" -gt "$o0" ] && [ "$other" = 0 ]
		then
			ktap_test_pass "livepatch removed under load"
		else
			ktap_test_fail "livepatch removed: func $v, other $other"
		fi
	else
		ktap_test_fail "livepatch: $KLP did not go away"
	fi
	echo 0 > "$D/loop"
}

ktap_print_header
if [ "$(id -u)" -ne 0 ]; then
	ktap_skip_all "must be run as root"
	exit "$KSFT_SKIP"
fi
if [ -z "$(module_ko "$MOD")" ]; then
	ktap_skip_all "no $MOD module: CONFIG_TEST_MODULE_MAP=m needed"
	exit "$KSFT_SKIP"
fi
[ -d "$TR/events" ] || mount -t tracefs nodev "$TR" 2>/dev/null
if ! modprobe "$MOD"; then
	ktap_exit_fail_msg "modprobe $MOD failed"
fi

ktap_set_plan 15
check_2m "$MOD text is 2M-mapped after loading" "$FUNC" "$MOD"
test_alternatives
test_static_keys
check_2m "text still 2M-mapped after the jump labels" "$FUNC" "$MOD"
test_ftrace
check_2m "text still 2M-mapped after the function tracer" "$FUNC" "$MOD"
test_kprobes
check_2m "text still 2M-mapped after the kprobes" "$FUNC" "$MOD"
test_livepatch
check_2m "text still 2M-mapped after the livepatch" "$FUNC" "$MOD"
if rmmod "$MOD"; then
	ktap_test_pass "$MOD unloads"
else
	ktap_test_fail "rmmod $MOD"
fi
ktap_finished
