// SPDX-License-Identifier: BSD-2-Clause
#include "procnet.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parse "0100007F:1F90" (the kernel's 32-bit words in host order). */
static int parse_addr(const char *s, uint8_t addr[16], uint16_t *port)
{
	const char *colon = strchr(s, ':');
	size_t hexlen = colon ? (size_t)(colon - s) : 0;

	memset(addr, 0, 16);
	if (hexlen != 8 && hexlen != 32)
		return -EINVAL;
	for (size_t w = 0; w < hexlen / 8; w++) {
		char word[9];
		uint32_t v;

		memcpy(word, s + w * 8, 8);
		word[8] = 0;
		v = (uint32_t)strtoul(word, NULL, 16);
		if (hexlen == 8) {
			addr[10] = addr[11] = 0xff;
			memcpy(addr + 12, &v, 4);
		} else {
			memcpy(addr + w * 4, &v, 4);
		}
	}
	*port = (uint16_t)strtoul(colon + 1, NULL, 16);
	return 0;
}

static int tcp_file(const char *path,
		    int (*cb)(const struct procnet_sock *s, void *ctx), void *ctx)
{
	char line[512], local[64], remote[64];
	FILE *f = fopen(path, "re");
	int ret = 0;

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f)) /* header */
		goto out_close;
	while (!ret && fgets(line, sizeof(line), f)) {
		struct procnet_sock s;
		unsigned st;
		unsigned long long inode;

		if (sscanf(line, "%*d: %63s %63s %x %*s %*s %*s %*u %*u %llu",
			   local, remote, &st, &inode) != 4 ||
		    parse_addr(local, s.laddr, &s.lport) ||
		    parse_addr(remote, s.raddr, &s.rport))
			continue;
		s.state = (uint8_t)st;
		s.inode = inode;
		ret = cb(&s, ctx);
	}
out_close:
	fclose(f);
	return ret;
}

int procnet_tcp_foreach(int (*cb)(const struct procnet_sock *s, void *ctx),
			void *ctx)
{
	int ret = tcp_file("/proc/net/tcp", cb, ctx);

	return ret ? ret : tcp_file("/proc/net/tcp6", cb, ctx);
}

int procnet_fd_foreach(int (*cb)(uint32_t tgid, int fd, uint64_t inode,
				 void *ctx), void *ctx)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int ret = 0;

	if (!proc)
		return 0;
	while (!ret && (de = readdir(proc))) {
		char path[64], link[64];
		uint32_t tgid = (uint32_t)strtoul(de->d_name, NULL, 10);
		struct dirent *fe;
		DIR *fds;

		if (!tgid)
			continue;
		snprintf(path, sizeof(path), "/proc/%u/fd", tgid);
		if (!(fds = opendir(path)))
			continue;
		while (!ret && (fe = readdir(fds))) {
			ssize_t n = readlinkat(dirfd(fds), fe->d_name, link,
					       sizeof(link) - 1);
			if (n < 9 || strncmp(link, "socket:[", 8))
				continue;
			link[n] = 0;
			ret = cb(tgid, atoi(fe->d_name), strtoull(link + 8, NULL, 10),
				 ctx);
		}
		closedir(fds);
	}
	closedir(proc);
	return ret;
}
