// SPDX-License-Identifier: GPL-2.0
/*
 * Read a range of kernel virtual addresses through /proc/kcore, over and
 * over, until a deadline: a lockless walker of the kernel page tables
 * (vread_iter() looks pages up with vmalloc_to_page()) for kcore_walkers.sh.
 *
 *   kcore_read START END SECONDS
 *
 * START and END are kernel addresses (hex); the part of [START, END) that
 * /proc/kcore's program headers cover is read in 64K blocks. Prints
 * "passes N bytes B" and exits 0 if at least one whole pass was read, 1 on
 * a read error, 2 on bad input, 4 (KSFT_SKIP) without /proc/kcore.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK		(64 * 1024)
#define MAX_PHDRS	128
#define PT_LOAD		1

/* The ELF64 headers, as /proc/kcore on x86-64 writes them. */
struct elf64_ehdr {
	unsigned char ident[16];	/* "\177ELF", class 2 (64-bit), ... */
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_addr(const char *s, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 16);
	return errno || end == s || *end ? -1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long long start, end, bytes = 0, passes = 0;
	static char buf[BLOCK];
	struct elf64_phdr ph[MAX_PHDRS];
	struct elf64_ehdr eh;
	double deadline;
	int fd, i, n;
	long secs;

	secs = argc == 4 ? strtol(argv[3], NULL, 10) : 0;
	if (argc != 4 || parse_addr(argv[1], &start) ||
	    parse_addr(argv[2], &end) || start >= end || secs <= 0) {
		fprintf(stderr,
			"usage: %s START END SECONDS (hex, START < END, SECONDS > 0)\n",
			argv[0]);
		return 2;
	}
	fd = open("/proc/kcore", O_RDONLY);
	if (fd < 0) {
		perror("/proc/kcore");
		return 4;
	}
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.ident, "\177ELF", 4) || eh.ident[4] != 2 ||
	    eh.phentsize != sizeof(struct elf64_phdr)) {
		fprintf(stderr, "/proc/kcore: not a 64-bit ELF core\n");
		return 1;
	}
	n = eh.phnum < MAX_PHDRS ? eh.phnum : MAX_PHDRS;
	if (pread(fd, ph, n * sizeof(*ph), eh.phoff) !=
	    (ssize_t)(n * sizeof(*ph))) {
		perror("/proc/kcore program headers");
		return 1;
	}

	deadline = now() + secs;
	do {
		unsigned long long pass = 0;

		for (i = 0; i < n; i++) {
			unsigned long long lo, hi, a;

			if (ph[i].type != PT_LOAD)
				continue;
			lo = ph[i].vaddr > start ? ph[i].vaddr : start;
			hi = ph[i].vaddr + ph[i].memsz < end ?
			     ph[i].vaddr + ph[i].memsz : end;
			for (a = lo; a < hi; a += BLOCK) {
				size_t len = hi - a < BLOCK ? hi - a : BLOCK;
				ssize_t got = pread(fd, buf, len, ph[i].offset +
						    (a - ph[i].vaddr));

				if (got < 0) {
					fprintf(stderr, "/proc/kcore at %#llx: %s\n",
						a, strerror(errno));
					return 1;
				}
				pass += got;
			}
		}
		if (!pass) {
			fprintf(stderr, "/proc/kcore covers nothing of %#llx-%#llx\n",
				start, end);
			return 1;
		}
		bytes += pass;
		passes++;
	} while (now() < deadline);
	printf("passes %llu bytes %llu\n", passes, bytes);
	close(fd);
	return 0;
}
