// SPDX-License-Identifier: GPL-2.0
/*
 * The module loader keeps the module image in vmalloc_contig() memory: the
 * copy init_module() takes and the buffer finit_module() reads the file into
 * (the compressed file, for in-kernel decompression). Load test_vmalloc_contig.ko (with
 * mode=none, it does nothing) every way, and feed the loader bad input, and
 * check with the vmalloc_contig counters that each image buffer was
 * allocated and is gone when the syscall returns.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../kselftest_harness.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE	4
#endif

#define STATS	"/sys/kernel/debug/vmalloc_contig/stats"
#define MODNAME	"test_vmalloc_contig"

/*
 * Image buffers come from vmalloc_contig(): contiguous or vmalloc. The
 * "mapped" counters belong to vmalloc_contig_range(), whose users (module
 * memory chunks) may keep allocations across a module load.
 */
struct counters {
	long allocs;		/* contig + vmalloc allocations */
	long contig_allocs;
	long fallbacks;		/* contiguous attempts that fell back */
	long live;		/* bytes still allocated by them */
	long bad_frees;
};

static long counter(const char *key)
{
	char name[64];
	long val, found = -1;
	FILE *f = fopen(STATS, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", name, &val) == 2)
		if (!strcmp(name, key))
			found = val;
	fclose(f);
	return found;
}

static void snapshot(struct counters *c)
{
	c->contig_allocs = counter("contig_allocs");
	c->fallbacks = counter("fallbacks");
	c->allocs = c->contig_allocs + counter("vmalloc_allocs");
	c->live = counter("contig_bytes") + counter("vmalloc_bytes");
	c->bad_frees = counter("bad_frees");
}

static int finit_module(int fd, const char *params, int flags)
{
	return syscall(__NR_finit_module, fd, params, flags);
}

static int init_module(void *image, unsigned long len, const char *params)
{
	return syscall(__NR_init_module, image, len, params);
}

static int delete_module(const char *name)
{
	return syscall(__NR_delete_module, name, O_NONBLOCK);
}

/* Whole file in malloc()ed memory; *len gets its size. */
static void *slurp(const char *path, size_t *len)
{
	struct stat st;
	void *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	buf = fstat(fd, &st) ? NULL : malloc(st.st_size);
	if (!buf) {
		close(fd);
		return NULL;
	}
	if (read(fd, buf, st.st_size) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	*len = st.st_size;
	return buf;
}

FIXTURE(image) {
	char path[512];
	struct counters before;
};

FIXTURE_SETUP(image)
{
	struct utsname u;

	if (access(STATS, R_OK))
		SKIP(return, "no %s: CONFIG_VMALLOC_CONTIG and debugfs needed",
		     STATS);
	if (counter("enabled") != 1)
		SKIP(return, "booted with vmalloc_contig=off");
	ASSERT_EQ(0, uname(&u));
	snprintf(self->path, sizeof(self->path),
		 "/lib/modules/%s/kernel/lib/" MODNAME ".ko", u.release);
	if (access(self->path, R_OK))
		SKIP(return, "no %s: CONFIG_TEST_VMALLOC_CONTIG=m needed",
		     self->path);
	delete_module(MODNAME);
	snapshot(&self->before);
}

FIXTURE_TEARDOWN(image)
{
	delete_module(MODNAME);
}

/* Every image buffer is freed by the time the syscall returns. */
static void expect_nothing_left(struct __test_metadata *_metadata,
				const struct counters *before)
{
	struct counters now;

	snapshot(&now);
	EXPECT_EQ(before->live, now.live);
	EXPECT_EQ(before->bad_frees, now.bad_frees);
}

TEST_F(image, finit_module)
{
	struct counters after;
	int fd = open(self->path, O_RDONLY);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, finit_module(fd, "mode=none", 0));
	close(fd);
	snapshot(&after);
	/* The file buffer: contiguous, or a counted fallback. */
	EXPECT_EQ(self->before.allocs + 1, after.allocs);
	EXPECT_EQ(1, after.contig_allocs - self->before.contig_allocs +
		     after.fallbacks - self->before.fallbacks);
	expect_nothing_left(_metadata, &self->before);
}

TEST_F(image, init_module)
{
	struct counters after;
	size_t len;
	void *image = slurp(self->path, &len);

	ASSERT_NE(NULL, image);
	ASSERT_EQ(0, init_module(image, len, "mode=none"));
	free(image);
	snapshot(&after);
	EXPECT_EQ(self->before.allocs + 1, after.allocs);
	EXPECT_EQ(1, after.contig_allocs - self->before.contig_allocs +
		     after.fallbacks - self->before.fallbacks);
	expect_nothing_left(_metadata, &self->before);
}

TEST_F(image, finit_module_compressed)
{
	char xz[520];
	struct counters after;
	int fd, ret;

	snprintf(xz, sizeof(xz), "%s.xz", self->path);
	fd = open(xz, O_RDONLY);
	if (fd < 0)
		SKIP(return, "no %s", xz);
	ret = finit_module(fd, "mode=none", MODULE_INIT_COMPRESSED_FILE);
	close(fd);
	if (ret && errno == EOPNOTSUPP)
		SKIP(return, "CONFIG_MODULE_DECOMPRESS not set");
	ASSERT_EQ(0, ret);
	snapshot(&after);
	/*
	 * The compressed file only: the decompressed image stays in the
	 * decompressor's pages (a copy would hold two images at once).
	 */
	EXPECT_EQ(self->before.allocs + 1, after.allocs);
	expect_nothing_left(_metadata, &self->before);
}

TEST_F(image, bad_pointer)
{
	EXPECT_EQ(-1, init_module((void *)4096, 1 << 20, ""));
	EXPECT_EQ(EFAULT, errno);
	expect_nothing_left(_metadata, &self->before);
}

TEST_F(image, bad_length)
{
	size_t len;
	void *image = slurp(self->path, &len);

	ASSERT_NE(NULL, image);
	EXPECT_EQ(-1, init_module(image, 0, ""));
	EXPECT_EQ(ENOEXEC, errno);
	/* Far more than the mapping: the copy faults or cannot be had. */
	EXPECT_EQ(-1, init_module(image, 1UL << 31, ""));
	EXPECT_TRUE(errno == EFAULT || errno == ENOMEM);
	EXPECT_EQ(-1, init_module(image, 1UL << 40, ""));
	EXPECT_TRUE(errno == EFAULT || errno == ENOMEM);
	free(image);
	expect_nothing_left(_metadata, &self->before);
}

TEST_F(image, truncated)
{
	size_t len;
	void *image = slurp(self->path, &len);

	ASSERT_NE(NULL, image);
	EXPECT_EQ(-1, init_module(image, len / 2, ""));
	EXPECT_EQ(ENOEXEC, errno);
	free(image);
	expect_nothing_left(_metadata, &self->before);
}

TEST_F(image, garbage)
{
	size_t i, len = 256 << 10;
	unsigned char *junk = malloc(len);

	ASSERT_NE(NULL, junk);
	srandom(1);
	for (i = 0; i < len; i++)
		junk[i] = random();
	EXPECT_EQ(-1, init_module(junk, len, ""));
	EXPECT_EQ(ENOEXEC, errno);
	free(junk);
	expect_nothing_left(_metadata, &self->before);
}

/*
 * A read-only descriptor of a sparse file of @size bytes (the loader refuses
 * a file open for writing), or -1.
 */
static int sparse_file(off_t size)
{
	char tmpl[] = "/tmp/module_image.XXXXXX";
	int fd = mkstemp(tmpl);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, size)) {
		close(fd);
		unlink(tmpl);
		return -1;
	}
	close(fd);
	fd = open(tmpl, O_RDONLY);
	unlink(tmpl);
	return fd;
}

/* finit_module() of a sparse file of @size bytes fails with @err. */
static void finit_refused(struct __test_metadata *_metadata,
			  const struct counters *before, off_t size, int err)
{
	int fd = sparse_file(size);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, finit_module(fd, "", 0));
	EXPECT_EQ(err, errno);
	close(fd);
	expect_nothing_left(_metadata, before);
}

TEST_F(image, finit_empty_file)
{
	finit_refused(_metadata, &self->before, 0, EINVAL);
}

/* Beyond what the loader reads (INT_MAX): refused before any buffer. */
TEST_F(image, finit_huge_file)
{
	finit_refused(_metadata, &self->before, 3L << 30, EFBIG);
}

/* 64M of zeros: read into a buffer of that size, no ELF, buffer freed. */
TEST_F(image, finit_large_zero_file)
{
	finit_refused(_metadata, &self->before, 64L << 20, ENOEXEC);
}

TEST_HARNESS_MAIN
