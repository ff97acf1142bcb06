/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Name resolution of the network-namespace filter (agent/netns.c) without
 * the collector's map: names checked, a path to a namespace file resolved
 * to its inode, a name that does not exist yet counted missing, a plain
 * file (what `ip netns add` makes before its mount) not taken for a
 * namespace, and the per-process check used for adopted sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "netns.h"

static void test_names(void)
{
	char *bad[][1] = { { "a/b" }, { "." }, { ".." }, { "" } };
	char *good[] = { "sandbox", "/proc/self/ns/net" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		CHECK(netns_filter_new(FL_NETNS_ONLY, bad[i], 1) == NULL);
		CHECK_EQ_INT(errno, EINVAL);
	}
	CHECK(netns_filter_new(FL_NETNS_ALL, good, 1) == NULL);
	CHECK(netns_filter_new(FL_NETNS_ONLY, good, 0) == NULL);
	struct netns_filter *f = netns_filter_new(FL_NETNS_EXCLUDE, good, 2);
	CHECK(f != NULL);
	netns_filter_free(f);
}

static void test_resolve(void)
{
	char path[64], plain[64], buf[256] = "", want[256];
	char *names[] = { path, "fl-test-netns-never-made", plain };
	struct stat sb;
	int missing = -1, fd;
	struct netns_filter *f;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)getpid());
	snprintf(plain, sizeof(plain), "/tmp/fl-test-netns.%d", (int)getpid());
	fd = open(plain, O_CREAT | O_WRONLY, 0600);
	close(fd);
	CHECK_EQ_INT(stat(path, &sb), 0);
	f = netns_filter_new(FL_NETNS_ONLY, names, 3);
	CHECK(f != NULL);
	if (!f)
		goto out;
	CHECK_EQ_INT(netns_filter_attach(f, -1, &missing), 0);
	CHECK_EQ_INT(missing, 2);	/* the name never made, the plain file */
	netns_describe(f, buf, sizeof(buf));
	snprintf(want, sizeof(want), " netns=only:%s=%lu,fl-test-netns-never-made=-,%s=-",
		 path, (unsigned long)sb.st_ino, plain);
	CHECK_EQ_STR(buf, want);
	/* this process is in the namespace listed: traced */
	CHECK(netns_pid_tracked(f, (uint32_t)getpid()));
	CHECK(!netns_pid_tracked(f, 999999999));	/* gone: not traced */
	netns_filter_free(f);
	f = netns_filter_new(FL_NETNS_EXCLUDE, names, 1);
	CHECK(f != NULL);
	if (!f)
		goto out;
	CHECK_EQ_INT(netns_filter_attach(f, -1, &missing), 0);
	CHECK_EQ_INT(missing, 0);
	CHECK(!netns_pid_tracked(f, (uint32_t)getpid()));
	CHECK(netns_pid_tracked(NULL, (uint32_t)getpid()));
	netns_refresh(f, 1, 100);	/* the same inode: nothing changes */
	buf[0] = 0;
	netns_describe(f, buf, sizeof(buf));
	snprintf(want, sizeof(want), " netns=exclude:%s=%lu", path,
		 (unsigned long)sb.st_ino);
	CHECK_EQ_STR(buf, want);
out:
	netns_filter_free(f);
	unlink(plain);
}

RUN_TESTS(test_names, test_resolve)
