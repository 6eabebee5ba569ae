// SPDX-License-Identifier: GPL-2.0
/*
 * finit_fail [-f] MODULE.ko [PARAMS]: load a module with finit_module(),
 * with fault injection (fail_page_alloc, failslab with task-filter=Y)
 * turned on for this task only, around the syscall alone, when -f is given.
 * Prints "ok" or the errno name; exits 0 on success, else the errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int make_it_fail(int fd, const char *on)
{
	return pwrite(fd, on, 1, 0) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	int fail = 0, fd, mif = -1, ret, err;
	const char *params = "";

	if (argc > 1 && !strcmp(argv[1], "-f")) {
		fail = 1;
		argv++;
		argc--;
	}
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: finit_fail [-f] MODULE.ko [PARAMS]\n");
		return 2;
	}
	if (argc == 3)
		params = argv[2];
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	if (fail) {
		mif = open("/proc/self/make-it-fail", O_WRONLY | O_CLOEXEC);
		if (mif < 0 || make_it_fail(mif, "1")) {
			perror("/proc/self/make-it-fail");
			return 2;
		}
	}
	ret = syscall(SYS_finit_module, fd, params, 0);
	err = errno;
	/* Off before anything else runs: printing allocates too. */
	if (fail && make_it_fail(mif, "0")) {
		perror("/proc/self/make-it-fail");
		return 2;
	}
	if (!ret) {
		printf("ok\n");
		return 0;
	}
	printf("%s\n", err == ENOMEM ? "ENOMEM" : strerror(err));
	return err;
}
