// SPDX-License-Identifier: BSD-2-Clause
#include "procnet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIAG_BUF (32 * 1024)	/* one recv of a dump: many messages */

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

int procnet_tcp_foreach_pid(uint32_t pid,
			    int (*cb)(const struct procnet_sock *s, void *ctx),
			    void *ctx)
{
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%u/net/tcp", pid);
	ret = tcp_file(path, cb, ctx);
	snprintf(path, sizeof(path), "/proc/%u/net/tcp6", pid);
	return ret ? ret : tcp_file(path, cb, ctx);
}

/* A NETLINK_SOCK_DIAG socket opened inside another network namespace. */
struct ns_sock {
	int nsfd;		/* /proc/PID/ns/net */
	int sock;		/* OUT: the socket, or -1 */
	int err;		/* OUT: 0 or a negative errno */
};

static int diag_socket(void)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (fd >= 0)
		return fd;
	return errno == EPROTONOSUPPORT || errno == EAFNOSUPPORT ? -EOPNOTSUPP
								 : -errno;
}

/* Runs on its own thread: setns() moves only this thread, which then ends;
 * the socket stays bound to the namespace it was created in. */
static void *ns_sock_open(void *arg)
{
	struct ns_sock *o = arg;

	if (setns(o->nsfd, CLONE_NEWNET)) {
		o->err = -errno;
		return NULL;
	}
	o->sock = diag_socket();
	if (o->sock < 0) {
		o->err = o->sock;
		o->sock = -1;
	}
	return NULL;
}

/* A sock_diag socket in @pid's network namespace, or a negative errno. */
static int diag_socket_pid(uint32_t pid)
{
	struct ns_sock o = { .sock = -1 };
	struct stat self, other;
	char path[64];
	pthread_t t;
	int err;

	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	if (stat(path, &other))
		return -ESRCH;
	if (!stat("/proc/thread-self/ns/net", &self) &&
	    self.st_ino == other.st_ino && self.st_dev == other.st_dev)
		return diag_socket();
	o.nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (o.nsfd < 0)
		return -ESRCH;
	err = pthread_create(&t, NULL, ns_sock_open, &o);
	if (err) {
		close(o.nsfd);
		return -err;
	}
	pthread_join(t, NULL);
	close(o.nsfd);
	return o.sock >= 0 ? o.sock : o.err;
}

static void diag_sock_from(const struct inet_diag_msg *m, struct procnet_sock *s)
{
	memset(s, 0, sizeof(*s));
	if (m->idiag_family == AF_INET) {
		s->laddr[10] = s->laddr[11] = 0xff;
		s->raddr[10] = s->raddr[11] = 0xff;
		memcpy(s->laddr + 12, m->id.idiag_src, 4);
		memcpy(s->raddr + 12, m->id.idiag_dst, 4);
	} else {
		memcpy(s->laddr, m->id.idiag_src, 16);
		memcpy(s->raddr, m->id.idiag_dst, 16);
	}
	s->lport = ntohs(m->id.idiag_sport);
	s->rport = ntohs(m->id.idiag_dport);
	s->state = m->idiag_state;
	s->inode = m->idiag_inode;
}

/* Handle one recv'd chunk of a dump. OUT: *@done when the dump ended.
 * Returns 0, @cb's non-zero return, or a negative errno. */
static int diag_chunk(const void *buf, size_t len, bool *done,
		      int (*cb)(const struct procnet_sock *s, void *ctx),
		      void *ctx)
{
	for (const struct nlmsghdr *h = buf; NLMSG_OK(h, len);
	     h = NLMSG_NEXT(h, len)) {
		struct procnet_sock s;
		int ret;

		if (h->nlmsg_type == NLMSG_DONE) {
			*done = true;
			return 0;
		}
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			return e->error ? e->error : -EBADMSG;
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
		    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
			continue;
		diag_sock_from(NLMSG_DATA(h), &s);
		if ((ret = cb(&s, ctx)))
			return ret;
	}
	return 0;
}

/* One family's dump over @fd; see procnet_diag_foreach(). */
static int diag_dump(int fd, uint8_t family, uint32_t states, void *buf,
		     int (*cb)(const struct procnet_sock *s, void *ctx),
		     void *ctx)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req),
			 .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = family, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = states },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	bool done = false;
	int ret = 0;

	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -errno;
	while (!ret && !done) {
		ssize_t n = recv(fd, buf, DIAG_BUF, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EBADMSG;
		ret = diag_chunk(buf, (size_t)n, &done, cb, ctx);
	}
	if (ret != -ENOENT)
		return ret;
	/* no handler: inet_diag is missing, or this family (IPv6 off) */
	return family == AF_INET ? -EOPNOTSUPP : 0;
}

int procnet_diag_foreach(uint32_t pid, uint32_t states,
			 int (*cb)(const struct procnet_sock *s, void *ctx),
			 void *ctx)
{
	void *buf = malloc(DIAG_BUF);
	int fd, ret;

	if (!buf)
		return -ENOMEM;
	fd = diag_socket_pid(pid);
	if (fd < 0) {
		ret = fd;
		goto out_free;
	}
	ret = diag_dump(fd, AF_INET, states, buf, cb, ctx);
	if (!ret)
		ret = diag_dump(fd, AF_INET6, states, buf, cb, ctx);
	close(fd);
out_free:
	free(buf);
	return ret;
}

int procnet_local_addrs(uint32_t pid, uint8_t (*out)[16], int max)
{
	char path[64], line[256], last[64] = "";
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/net/fib_trie", pid);
	if ((f = fopen(path, "re"))) {
		/* "|-- 10.0.0.2" then "   /32 host LOCAL" */
		while (n < max && fgets(line, sizeof(line), f)) {
			char *leaf = strstr(line, "|-- ");
			if (leaf) {
				sscanf(leaf + 4, "%63s", last);
			} else if (strstr(line, "/32 host LOCAL") && last[0]) {
				memset(out[n], 0, 16);
				out[n][10] = out[n][11] = 0xff;
				if (inet_pton(AF_INET, last, out[n] + 12) == 1)
					n++;
				last[0] = 0;
			}
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%u/net/if_inet6", pid);
	if ((f = fopen(path, "re"))) {
		char hex[33];
		while (n < max && fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%32s", hex) != 1 || strlen(hex) != 32)
				continue;
			for (int i = 0; i < 16; i++) {
				unsigned b;
				sscanf(hex + 2 * i, "%2x", &b);
				out[n][i] = (uint8_t)b;
			}
			n++;
		}
		fclose(f);
	}
	return n;
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

static uint64_t netns_ino(const char *pid)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 6)
		return 0;
	link[n] = 0;
	return strtoull(link + 5, NULL, 10); /* "net:[4026531840]" */
}

int procnet_netns(uint32_t *pids, int max)
{
	uint64_t inos[256];
	DIR *proc;
	struct dirent *de;
	int n = 0;

	if (max < 1)
		return 0;
	if (max > 256)
		max = 256;
	inos[0] = netns_ino("self");
	pids[n++] = (uint32_t)getpid();
	if (!(proc = opendir("/proc")))
		return n;
	while (n < max && (de = readdir(proc))) {
		uint32_t pid = (uint32_t)strtoul(de->d_name, NULL, 10);
		uint64_t ino;
		int i;

		if (!pid || !(ino = netns_ino(de->d_name)))
			continue;
		for (i = 0; i < n && inos[i] != ino; i++)
			;
		if (i == n) {
			inos[n] = ino;
			pids[n++] = pid;
		}
	}
	closedir(proc);
	return n;
}
