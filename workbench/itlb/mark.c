// SPDX-License-Identifier: GPL-2.0
/*
 * mark.c - guest marker for the iTLB plugin: "wbmark start" / "wbmark stop".
 *
 * Each verb calls a function that sits alone in its own section, placed by
 * the link at a fixed user address (-Wl,--section-start, addresses chosen in
 * workbench/wblib/itlb.py, which also hands them to the plugin).  x86 ends a
 * translation block at every call, so the callee's first instruction always
 * starts a TB, and that TB executing is what opens or closes the plugin's
 * recording window.  The addresses lie far from the static busybox (loaded
 * at 0x400000) and from the brk, mmap and stack areas, so no other guest
 * code starts a TB there.
 *
 * The guest has no libc: built with -static -nostdlib, raw system calls.
 */

#define __NR_write	1
#define __NR_exit_group	231

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	asm volatile("syscall"
		     : "=a"(ret)
		     : "a"(nr), "D"(a), "S"(b), "d"(c)
		     : "rcx", "r11", "memory");
	return ret;
}

/* noipa: the call must stay a real call to exactly this address. */
__attribute__((noipa, used, section(".wbmark_start")))
void wbmark_start(void)
{
	asm volatile("" ::: "memory");
}

__attribute__((noipa, used, section(".wbmark_stop")))
void wbmark_stop(void)
{
	asm volatile("" ::: "memory");
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static void say(const char *s)
{
	const char *e = s;

	while (*e)
		e++;
	sys3(__NR_write, 2, (long)s, e - s);
}

__attribute__((noreturn, used))
void wbmark_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	int rc = 0;

	if (argc == 2 && streq(argv[1], "start")) {
		wbmark_start();
	} else if (argc == 2 && streq(argv[1], "stop")) {
		wbmark_stop();
	} else {
		say("usage: wbmark start|stop\n");
		rc = 2;
	}
	sys3(__NR_exit_group, rc, 0, 0);
	__builtin_unreachable();
}

/* The kernel enters with argc at the stack pointer; realign for the ABI. */
asm(".text\n"
    ".globl _start\n"
    "_start:\n"
    "	xor %ebp, %ebp\n"
    "	mov %rsp, %rdi\n"
    "	and $-16, %rsp\n"
    "	call wbmark_main\n"
    "	ud2\n");
