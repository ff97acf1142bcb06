// SPDX-License-Identifier: BSD-2-Clause
#include "adopt.h"
#include "netns.h"
#include "procnet.h"
#include <faultline/events.h>

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AF_INET_ 2
#define AF_INET6_ 10

struct adopt_ctx {
	struct procnet_sock *est;	/* ESTABLISHED sockets, sorted by inode */
	size_t nest, cap;
	uint8_t listening[65536 / 8];	/* bitmap of listening local ports */
	int (*emit)(void *ctx, void *data, size_t len);
	void *ctx;
	int map_fd;
	int procs_fd;			/* the collector's procs map, or -1 */
	uint32_t self_tgid;
	uint64_t adopted, map_full;
	int err;
	uint32_t last_tgid;		/* the netns filter's last answer, */
	bool last_tracked;		/* cached per process */
};

static const struct netns_filter *adopt_netns;

void adopt_set_netns(const struct netns_filter *f)
{
	adopt_netns = f;
}

static int collect(const struct procnet_sock *s, void *arg)
{
	struct adopt_ctx *a = arg;

	if (s->state == PROCNET_LISTEN) {
		a->listening[s->lport / 8] |= (uint8_t)(1u << (s->lport % 8));
		return 0;
	}
	if (s->state != PROCNET_ESTABLISHED || !s->inode)
		return 0;
	if (a->nest == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		struct procnet_sock *e = realloc(a->est, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		a->est = e;
		a->cap = cap;
	}
	a->est[a->nest++] = *s;
	return 0;
}

/*
 * The LISTEN and ESTABLISHED sockets of @pid's namespace: sock_diag dumps
 * only those (with 100k connections on the node /proc/net/tcp is 200k
 * formatted lines, sscanf'd back), /proc/net/tcp{,6} where it is missing.
 */
static int collect_netns(struct adopt_ctx *a, uint32_t pid)
{
	size_t start = a->nest;
	int err = procnet_diag_foreach(pid, PROCNET_F(PROCNET_LISTEN) |
				       PROCNET_F(PROCNET_ESTABLISHED), collect, a);

	if (err == -ESRCH || err == -ENOMEM || err >= 0)
		return err == -ESRCH ? 0 : err;
	a->nest = start;
	return procnet_tcp_foreach_pid(pid, collect, a);
}

static int by_inode(const void *x, const void *y)
{
	const struct procnet_sock *a = x, *b = y;

	return a->inode < b->inode ? -1 : a->inode > b->inode;
}

static void read_comm(uint32_t tgid, char comm[16])
{
	char path[64];
	ssize_t n;
	int fd;

	memset(comm, 0, 16);
	snprintf(path, sizeof(path), "/proc/%u/comm", tgid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, 15);
	close(fd);
	if (n > 0 && comm[n - 1] == '\n')
		comm[n - 1] = 0;
}

/*
 * Count @fd of @tgid in the collector's procs map, so a fork of @tgid copies
 * the connection to the child. Not atomic with the collector's updates: a
 * concurrent register in the same process may lose one count (a hint only).
 */
static void note_proc_conn(int procs_fd, uint32_t tgid, int fd)
{
	struct fl_proc_fds p = { 0 };

	if (procs_fd < 0)
		return;
	if (bpf_map_lookup_elem(procs_fd, &tgid, &p))
		memset(&p, 0, sizeof(p));
	p.nconns++;
	if (fd > p.max_fd)
		p.max_fd = fd;
	bpf_map_update_elem(procs_fd, &tgid, &p, BPF_ANY);
}

static int adopt_fd(uint32_t tgid, int fd, uint64_t inode, void *arg)
{
	struct adopt_ctx *a = arg;
	struct procnet_sock key = { .inode = inode }, *s;
	struct fl_conn_key k = { tgid, fd };
	struct fl_conn_info info = { 0 };
	struct fl_conn_event e = { 0 };
	struct timespec now;
	static const uint8_t v4[12] = { [10] = 0xff, [11] = 0xff };

	if (tgid == a->self_tgid)
		return 0;
	if (adopt_netns && tgid != a->last_tgid) {
		a->last_tgid = tgid;
		a->last_tracked = netns_pid_tracked(adopt_netns, tgid);
	}
	if (adopt_netns && !a->last_tracked)
		return 0;
	s = bsearch(&key, a->est, a->nest, sizeof(*s), by_inode);
	if (!s)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now); /* bpf_ktime_get_ns's clock */
	info.gen = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	info.role = a->listening[s->lport / 8] & (1u << (s->lport % 8))
			    ? FL_ROLE_SERVER : FL_ROLE_CLIENT;
	if (bpf_map_update_elem(a->map_fd, &k, &info, BPF_NOEXIST)) {
		if (errno != EEXIST)
			a->map_full++;
		return 0;
	}
	note_proc_conn(a->procs_fd, tgid, fd);
	e.hdr.ts_ns = info.gen;
	e.hdr.cid.tgid = tgid;
	e.hdr.cid.fd = fd;
	e.hdr.cid.gen = info.gen;
	e.hdr.type = FL_EV_CONN_OPEN;
	e.hdr.role = info.role;
	memcpy(e.tuple.saddr, s->laddr, 16);
	memcpy(e.tuple.daddr, s->raddr, 16);
	e.tuple.sport = s->lport;
	e.tuple.dport = s->rport;
	e.tuple.family = memcmp(s->laddr, v4, 12) ? AF_INET6_ : AF_INET_;
	e.flags = FL_CONN_F_JOINED;
	read_comm(tgid, e.comm);
	if ((a->err = a->emit(a->ctx, &e, sizeof(e))))
		return a->err;
	a->adopted++;
	return 0;
}

int adopt_existing(int (*emit)(void *ctx, void *data, size_t len), void *ctx,
		   int conns_map_fd, int procs_map_fd, uint32_t self_tgid,
		   uint64_t *adopted, uint64_t *map_full)
{
	struct adopt_ctx *a = calloc(1, sizeof(*a));
	int err = 0;

	if (!a)
		return -ENOMEM;
	a->emit = emit;
	a->ctx = ctx;
	a->map_fd = conns_map_fd;
	a->procs_fd = procs_map_fd;
	a->self_tgid = self_tgid;
	uint32_t ns[64];
	int nns = procnet_netns(ns, 64);

	/* every namespace: socket inodes are unique across them */
	for (int i = 0; i < nns && !err; i++)
		err = collect_netns(a, ns[i]);
	if (!err) {
		qsort(a->est, a->nest, sizeof(*a->est), by_inode);
		err = procnet_fd_foreach(adopt_fd, a);
	}
	*adopted = a->adopted;
	*map_full = a->map_full;
	free(a->est);
	free(a);
	return err;
}
