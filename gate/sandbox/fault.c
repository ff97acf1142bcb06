// SPDX-License-Identifier: BSD-2-Clause
/*
 * fault: per-edge network faults inside a sandbox's network namespace,
 * through nftables (libnftables) and, for latency and bandwidth, a relay
 * process (fault.h has the contract, docs/deep.md the mechanism).
 */
#include "sandbox/fault.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TABLE_PREFIX "faultline_fault_"
#define CGROUP_FS "/sys/fs/cgroup/"	/* where nft resolves cgroupv2 paths */
#define RELAY_MAX_CONNS 256
#define RELAY_CHUNK 16384

struct fl_fault_handle {
	struct fl_fault fault;
	char netns[PATH_MAX];	/* "" for the caller's namespace */
	char table[64];
	pid_t relay;		/* 0 when the fault has no relay */
	struct fl_fault_handle *next;	/* live handles (fl_fault_clear_all) */
};

static struct fl_fault_handle *live;
static unsigned table_seq;

static const char *const kind_names[FL_FAULT_KIND_COUNT] = {
	[FL_FAULT_REFUSE] = "refuse",
	[FL_FAULT_RESET] = "reset",
	[FL_FAULT_BLACKHOLE] = "blackhole",
	[FL_FAULT_LATENCY] = "latency",
	[FL_FAULT_BANDWIDTH] = "bandwidth",
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

const char *fl_fault_kind_name(enum fl_fault_kind k)
{
	return k < FL_FAULT_KIND_COUNT ? kind_names[k] : "?";
}

/* "100ms" -> ns; units ns, us, ms, s. Returns 0 or -EINVAL. */
static int parse_dur(const char *s, uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	if (!strcmp(end, "ns"))
		;
	else if (!strcmp(end, "us"))
		v *= 1e3;
	else if (!strcmp(end, "ms"))
		v *= 1e6;
	else if (!strcmp(end, "s"))
		v *= 1e9;
	else
		return -EINVAL;
	if (v > 3600e9)
		return -EINVAL;
	*ns = (uint64_t)v;
	return 0;
}

/* "64kbit" -> bits/s; units bit, kbit, mbit, gbit. */
static int parse_rate(const char *s, uint64_t *bps)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		return -EINVAL;
	if (!strcmp(end, "bit"))
		;
	else if (!strcmp(end, "kbit"))
		v *= 1e3;
	else if (!strcmp(end, "mbit"))
		v *= 1e6;
	else if (!strcmp(end, "gbit"))
		v *= 1e9;
	else
		return -EINVAL;
	if (v < 8 || v > 100e9)
		return -EINVAL;
	*bps = (uint64_t)v;
	return 0;
}

int fl_fault_parse(const char *spec, struct fl_fault *f, char *err, size_t errlen)
{
	char buf[64], *arg, *arg2;
	int k;

	if (strlen(spec) >= sizeof(buf))
		return fail(err, errlen, -EINVAL, "fault '%s' is too long", spec);
	strcpy(buf, spec);
	arg = strchr(buf, ':');
	if (arg)
		*arg++ = '\0';
	for (k = 0; k < FL_FAULT_KIND_COUNT; k++)
		if (!strcmp(buf, kind_names[k]))
			break;
	if (k == FL_FAULT_KIND_COUNT)
		return fail(err, errlen, -EINVAL,
			    "unknown fault '%s' (refuse, reset, blackhole, latency:DUR, bandwidth:RATE)",
			    spec);
	memset(f, 0, sizeof(*f));
	f->kind = k;
	switch (f->kind) {
	case FL_FAULT_LATENCY:
		if (!arg)
			return fail(err, errlen, -EINVAL, "fault '%s' needs a delay (latency:100ms)", spec);
		arg2 = strchr(arg, ':');
		if (arg2)
			*arg2++ = '\0';
		if (parse_dur(arg, &f->delay_ns) || !f->delay_ns ||
		    (arg2 && parse_dur(arg2, &f->jitter_ns)))
			return fail(err, errlen, -EINVAL, "bad delay in fault '%s' (100ms, 1s, 100ms:10ms)", spec);
		if (!arg2)
			f->jitter_ns = f->delay_ns / 10;
		if (f->jitter_ns > f->delay_ns)
			return fail(err, errlen, -EINVAL, "jitter above the delay in fault '%s'", spec);
		return 0;
	case FL_FAULT_BANDWIDTH:
		if (!arg || parse_rate(arg, &f->rate_bps))
			return fail(err, errlen, -EINVAL, "bad rate in fault '%s' (bandwidth:64kbit)", spec);
		return 0;
	default:
		if (arg)
			return fail(err, errlen, -EINVAL, "fault '%s' takes no parameter", spec);
		return 0;
	}
}

static void fmt_dur(uint64_t ns, char *buf, size_t len)
{
	if (ns % 1000000000ULL == 0)
		snprintf(buf, len, "%" PRIu64 "s", ns / 1000000000U);
	else if (ns % 1000000ULL == 0)
		snprintf(buf, len, "%" PRIu64 "ms", (ns / 1000000U));
	else if (ns % 1000ULL == 0)
		snprintf(buf, len, "%" PRIu64 "us", (ns / 1000U));
	else
		snprintf(buf, len, "%" PRIu64 "ns", ns);
}

void fl_fault_param(const struct fl_fault *f, char *buf, size_t len)
{
	uint64_t r = f->rate_bps;

	buf[0] = '\0';
	if (f->kind == FL_FAULT_LATENCY) {
		fmt_dur(f->delay_ns, buf, len);
	} else if (f->kind == FL_FAULT_BANDWIDTH) {
		if (r % 1000000000ULL == 0)
			snprintf(buf, len, "%" PRIu64 "gbit", r / 1000000000U);
		else if (r % 1000000ULL == 0)
			snprintf(buf, len, "%" PRIu64 "mbit", (r / 1000000U));
		else if (r % 1000ULL == 0)
			snprintf(buf, len, "%" PRIu64 "kbit", (r / 1000U));
		else
			snprintf(buf, len, "%" PRIu64 "bit", r);
	}
}

bool fl_fault_new_conns_only(const struct fl_fault *f)
{
	return f->kind == FL_FAULT_LATENCY || f->kind == FL_FAULT_BANDWIDTH;
}

/* ---- namespaces ---- */

/* Enter @netns (NULL/"": stay). OUT: *@back, the fd to return with. */
static int netns_enter(const char *netns, int *back, char *err, size_t errlen)
{
	int fd, rc;

	*back = -1;
	if (!netns || !*netns)
		return 0;
	*back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*back < 0)
		return fail(err, errlen, -errno, "cannot open '/proc/self/ns/net': %s", strerror(errno));
	fd = open(netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		close(*back);
		*back = -1;
		return fail(err, errlen, rc, "cannot open network namespace '%s': %s", netns, strerror(-rc));
	}
	if (setns(fd, CLONE_NEWNET)) {
		rc = -errno;
		close(fd);
		close(*back);
		*back = -1;
		return fail(err, errlen, rc, "cannot enter network namespace '%s': %s", netns, strerror(-rc));
	}
	close(fd);
	return 0;
}

static void netns_leave(int back)
{
	if (back < 0)
		return;
	if (setns(back, CLONE_NEWNET))
		abort();	/* we would go on in the wrong namespace */
	close(back);
}

/*
 * Run nft commands @cmds in @netns. OUT: @out (may be NULL) gets nft's
 * output (malloc'd, caller frees). Returns 0 or -EIO with nft's error.
 */
static int nft_run(const char *netns, const char *cmds, char **out, char *err, size_t errlen)
{
	struct nft_ctx *nft;
	int back, rc;

	rc = netns_enter(netns, &back, err, errlen);
	if (rc)
		return rc;
	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft) {
		netns_leave(back);
		return fail(err, errlen, -ENOMEM, "cannot start nftables");
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (nft_run_cmd_from_buffer(nft, cmds)) {
		const char *e = nft_ctx_get_error_buffer(nft);
		char line[256];
		size_t n = strcspn(e ? e : "", "\n");

		snprintf(line, sizeof(line), "%.*s", (int)(n < 200 ? n : 200), e ? e : "");
		rc = fail(err, errlen, -EIO, "nftables refused the fault: %s", line);
	} else if (out) {
		*out = strdup(nft_ctx_get_output_buffer(nft));
		if (!*out)
			rc = fail(err, errlen, -ENOMEM, "out of memory");
	}
	nft_ctx_free(nft);
	netns_leave(back);
	return rc;
}

/* ---- targets ---- */

/*
 * The cgroupv2 match of @dir: the path nft resolves under /sys/fs/cgroup
 * and the level (depth below the cgroup2 root). Returns 0 or -EINVAL.
 */
static int cgroup_match(const char *dir, char *path, size_t len, int *level,
			char *err, size_t errlen)
{
	char mnt[PATH_MAX] = "", line[1024], real[PATH_MAX];
	FILE *f = fopen("/proc/self/mounts", "re");
	struct stat st;
	size_t ml;

	if (!realpath(dir, real) || stat(real, &st) || !S_ISDIR(st.st_mode)) {
		if (f)
			fclose(f);
		return fail(err, errlen, -EINVAL, "client cgroup '%s' is not a directory", dir);
	}
	while (f && fgets(line, sizeof(line), f)) {
		char dev[256], mp[PATH_MAX], type[64];

		if (sscanf(line, "%255s %4095s %63s", dev, mp, type) == 3 &&
		    !strcmp(type, "cgroup2"))
			snprintf(mnt, sizeof(mnt), "%s", mp);
	}
	if (f)
		fclose(f);
	ml = strlen(mnt);
	if (!ml || strncmp(real, mnt, ml) || (real[ml] != '/' && real[ml]))
		return fail(err, errlen, -EINVAL, "client cgroup '%s' is not under the cgroup2 mount%s%s",
			    dir, ml ? " " : "", mnt);
	if (strncmp(real, CGROUP_FS, strlen(CGROUP_FS)))
		return fail(err, errlen, -EINVAL,
			    "the cgroup2 mount '%s' is not under " CGROUP_FS ", where nftables looks", mnt);
	*level = 0;
	for (const char *p = real + ml; *p; p++)
		if (*p == '/' && p[1])
			(*level)++;
	if (!*level)
		return fail(err, errlen, -EINVAL, "client cgroup '%s' is the cgroup2 root", dir);
	snprintf(path, len, "%s", real + strlen(CGROUP_FS));
	return 0;
}

/* "ip daddr A" or "ip6 daddr A" for @addr. Returns 0 or -EINVAL. */
static int daddr_match(const char *addr, char *buf, size_t len)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		snprintf(buf, len, "ip daddr %s", addr);
	else if (inet_pton(AF_INET6, addr, &a6) == 1)
		snprintf(buf, len, "ip6 daddr %s", addr);
	else
		return -EINVAL;
	return 0;
}

/* ---- the relay (latency, bandwidth) ---- */

struct chunk {
	uint64_t due_ns;
	size_t len, off;
	struct chunk *next;
	char data[];
};

struct pipe_dir {		/* one direction of a relayed connection */
	int from, to;
	struct chunk *head, *tail;
	bool eof;		/* `from` said EOF; shut `to` down once drained */
	bool shut;
	bool delayed;		/* the direction the fault applies to */
};

struct relay_conn {
	struct pipe_dir up, down;	/* client→server, server→client */
	double tokens;			/* bandwidth: bytes allowed now */
	uint64_t last_ns;
	bool used;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void dir_free(struct pipe_dir *d)
{
	while (d->head) {
		struct chunk *c = d->head;

		d->head = c->next;
		free(c);
	}
	d->tail = NULL;
}

static void conn_close(struct relay_conn *c, bool abort_conn)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (abort_conn)		/* the peer saw a reset: pass it on as one */
		setsockopt(c->up.from, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->up.from);
	close(c->up.to);
	dir_free(&c->up);
	dir_free(&c->down);
	memset(c, 0, sizeof(*c));
}

/* Read what @d's source has into a chunk due at now + delay ± jitter. */
static int dir_read(struct pipe_dir *d, const struct fl_fault *f, uint64_t now)
{
	struct chunk *c = malloc(sizeof(*c) + RELAY_CHUNK);
	ssize_t n;

	if (!c)
		return -ENOMEM;
	n = read(d->from, c->data, RELAY_CHUNK);
	if (n <= 0) {
		free(c);
		if (n == 0) {
			d->eof = true;
			return 0;
		}
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	}
	c->len = (size_t)n;
	c->off = 0;
	c->next = NULL;
	c->due_ns = now;
	if (d->delayed && f->kind == FL_FAULT_LATENCY) {
		int64_t j = f->jitter_ns ? (int64_t)(random() % (2 * f->jitter_ns + 1)) -
					   (int64_t)f->jitter_ns : 0;

		c->due_ns = now + (uint64_t)((int64_t)f->delay_ns + j);
	}
	if (d->tail && c->due_ns < d->tail->due_ns)
		c->due_ns = d->tail->due_ns;	/* never reorder a stream */
	if (d->tail)
		d->tail->next = c;
	else
		d->head = c;
	d->tail = c;
	return 0;
}

/* Write what is due of @d; @budget bytes at most (SIZE_MAX: no limit). */
static int dir_write(struct pipe_dir *d, uint64_t now, size_t *budget)
{
	while (d->head && d->head->due_ns <= now && *budget) {
		struct chunk *c = d->head;
		size_t want = c->len - c->off;
		ssize_t n;

		if (want > *budget)
			want = *budget;
		n = write(d->to, c->data + c->off, want);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->off += (size_t)n;
		if (*budget != SIZE_MAX)
			*budget -= (size_t)n;
		if (c->off < c->len)
			return 0;
		d->head = c->next;
		if (!d->head)
			d->tail = NULL;
		free(c);
	}
	if (!d->head && d->eof && !d->shut) {
		shutdown(d->to, SHUT_WR);
		d->shut = true;
	}
	return 0;
}

static int connect_server(const struct sockaddr_storage *srv, socklen_t slen)
{
	int fd = socket(srv->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)srv, slen)) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void relay_accept(int lfd, struct relay_conn *conns,
			 const struct sockaddr_storage *srv, socklen_t slen)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int sfd, i;

	if (cfd < 0)
		return;
	for (i = 0; i < RELAY_MAX_CONNS && conns[i].used; i++)
		;
	sfd = i < RELAY_MAX_CONNS ? connect_server(srv, slen) : -1;
	if (sfd < 0) {		/* the server refused: the client sees a reset */
		setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(cfd);
		return;
	}
	conns[i] = (struct relay_conn){
		.up = { .from = cfd, .to = sfd },
		.down = { .from = sfd, .to = cfd, .delayed = true },
		.last_ns = mono_ns(),
		.used = true,
	};
}

/* Bytes @c may send downstream now under the bandwidth fault. */
static size_t relay_budget(struct relay_conn *c, const struct fl_fault *f, uint64_t now)
{
	double rate = (double)f->rate_bps / 8.0;	/* bytes/s */

	if (f->kind != FL_FAULT_BANDWIDTH)
		return SIZE_MAX;
	c->tokens += rate * (double)(now - c->last_ns) / 1e9;
	if (c->tokens > rate / 10 + 1500)	/* a burst of 100 ms, one MTU at least */
		c->tokens = rate / 10 + 1500;
	c->last_ns = now;
	return c->tokens >= 1 ? (size_t)c->tokens : 0;
}

/* The relay's loop: never returns. */
static void relay_run(int lfd, const struct fl_fault *f,
		      const struct sockaddr_storage *srv, socklen_t slen)
{
	static struct relay_conn conns[RELAY_MAX_CONNS];
	struct pollfd pfd[1 + 2 * RELAY_MAX_CONNS];
	int idx[1 + 2 * RELAY_MAX_CONNS];

	for (;;) {
		uint64_t now = mono_ns(), next = UINT64_MAX;
		int n = 0, timeout;

		pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < RELAY_MAX_CONNS; i++) {
			struct relay_conn *c = &conns[i];

			if (!c->used)
				continue;
			for (int d = 0; d < 2; d++) {
				struct pipe_dir *p = d ? &c->down : &c->up;
				short ev = p->eof ? 0 : POLLIN;

				if (p->head) {
					if (p->head->due_ns <= now)
						ev |= POLLOUT;
					else if (p->head->due_ns < next)
						next = p->head->due_ns;
				}
				idx[n] = i * 2 + d;
				pfd[n++] = (struct pollfd){ .fd = d ? c->down.from : c->up.from,
							    .events = ev & POLLIN };
				/* paced: the 10 ms tick writes, not POLLOUT */
				if ((ev & POLLOUT) && !(d && f->kind == FL_FAULT_BANDWIDTH)) {
					idx[n] = -(i * 2 + d) - 1;
					pfd[n++] = (struct pollfd){ .fd = p->to, .events = POLLOUT };
				}
			}
		}
		if (f->kind == FL_FAULT_BANDWIDTH && next == UINT64_MAX)
			next = now + 10000000ULL;	/* refill tokens every 10 ms */
		timeout = next == UINT64_MAX ? 1000 :
			  (int)((next > now ? next - now : 0) / 1000000ULL) + 1;
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			_exit(1);
		if (pfd[0].revents & POLLIN)
			relay_accept(lfd, conns, srv, slen);
		now = mono_ns();
		for (int k = 1; k < n; k++) {
			int id = idx[k] >= 0 ? idx[k] : -idx[k] - 1;
			struct relay_conn *c = &conns[id / 2];
			struct pipe_dir *p = id % 2 ? &c->down : &c->up;
			int rc = 0;

			if (!c->used || !pfd[k].revents)
				continue;
			if (idx[k] >= 0 && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
				rc = dir_read(p, f, now);
			if (rc) {
				conn_close(c, rc == -ECONNRESET);
				continue;
			}
		}
		for (int i = 0; i < RELAY_MAX_CONNS; i++) {
			struct relay_conn *c = &conns[i];
			size_t up = SIZE_MAX, down;

			if (!c->used)
				continue;
			down = relay_budget(c, f, now);
			if (dir_write(&c->up, now, &up) || dir_write(&c->down, now, &down)) {
				conn_close(c, true);
				continue;
			}
			if (f->kind == FL_FAULT_BANDWIDTH)
				c->tokens = (double)down;
			if (c->up.shut && c->down.shut)
				conn_close(c, false);
		}
	}
}

/*
 * Start the relay for @f toward @t inside @t->netns. OUT: *@pid, *@port
 * (the relay's listening port, 127.0.0.1 or ::1 like the server).
 */
static int relay_start(const struct fl_fault *f, const struct fl_fault_target *t,
		       pid_t *pid, uint16_t *port, char *err, size_t errlen)
{
	struct sockaddr_storage srv = { 0 };
	socklen_t slen;
	int pfd[2], rc;
	uint16_t p = 0;
	bool v6 = strchr(t->server_addr, ':') != NULL;

	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&srv;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(t->server_port);
		inet_pton(AF_INET6, t->server_addr, &s6->sin6_addr);
		slen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&srv;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(t->server_port);
		inet_pton(AF_INET, t->server_addr, &s4->sin_addr);
		slen = sizeof(*s4);
	}
	if (pipe2(pfd, O_CLOEXEC))
		return fail(err, errlen, -errno, "cannot start the fault relay: %s", strerror(errno));
	*pid = fork();
	if (*pid < 0) {
		rc = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return fail(err, errlen, rc, "cannot start the fault relay: %s", strerror(-rc));
	}
	if (*pid == 0) {
		struct sockaddr_storage a = { 0 };
		socklen_t al = slen;
		int back, lfd, one = 1;

		close(pfd[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (netns_enter(t->netns, &back, NULL, 0))
			_exit(1);
		lfd = socket(srv.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memcpy(&a, &srv, slen);
		if (v6)
			((struct sockaddr_in6 *)&a)->sin6_port = 0;
		else
			((struct sockaddr_in *)&a)->sin_port = 0;
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, slen) || listen(lfd, 128) ||
		    getsockname(lfd, (struct sockaddr *)&a, &al))
			_exit(1);
		p = ntohs(v6 ? ((struct sockaddr_in6 *)&a)->sin6_port
			     : ((struct sockaddr_in *)&a)->sin_port);
		if (write(pfd[1], &p, sizeof(p)) != sizeof(p))
			_exit(1);
		close(pfd[1]);
		srandom((unsigned)getpid());
		relay_run(lfd, f, &srv, slen);
	}
	close(pfd[1]);
	rc = read(pfd[0], &p, sizeof(p)) == sizeof(p) ? 0 : -EIO;
	close(pfd[0]);
	if (rc) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
		return fail(err, errlen, rc, "the fault relay did not start in '%s'",
			    t->netns ? t->netns : "this namespace");
	}
	*port = p;
	return 0;
}

static void relay_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* ---- inject / clear / sweep ---- */

int fl_fault_inject(const struct fl_fault *f, const struct fl_fault_target *t,
		    struct fl_fault_handle **out, char *err, size_t errlen)
{
	struct fl_fault_handle *h;
	char cg[PATH_MAX], dst[96], match[PATH_MAX + 160], cmds[2 * PATH_MAX + 1024];
	const char *verdict = NULL;
	uint16_t rport = 0;
	int level, rc;

	*out = NULL;
	if (!t->client_cgroup || !t->server_addr || !t->server_port)
		return fail(err, errlen, -EINVAL, "a fault needs a client cgroup and a server address and port");
	rc = cgroup_match(t->client_cgroup, cg, sizeof(cg), &level, err, errlen);
	if (rc)
		return rc;
	if (daddr_match(t->server_addr, dst, sizeof(dst)))
		return fail(err, errlen, -EINVAL, "bad server address '%s'", t->server_addr);
	h = calloc(1, sizeof(*h));
	if (!h)
		return fail(err, errlen, -ENOMEM, "out of memory");
	h->fault = *f;
	snprintf(h->netns, sizeof(h->netns), "%s", t->netns ? t->netns : "");
	snprintf(h->table, sizeof(h->table), TABLE_PREFIX "%d_%u", (int)getpid(), table_seq++);
	snprintf(match, sizeof(match), "socket cgroupv2 level %d \"%s\" %s tcp dport %u",
		 level, cg, dst, t->server_port);
	switch (f->kind) {
	case FL_FAULT_REFUSE:
		verdict = "tcp flags & (syn|ack) == syn reject with tcp reset";
		break;
	case FL_FAULT_RESET:	/* a data segment after the handshake */
		verdict = "tcp flags & (syn|rst|psh) == psh reject with tcp reset";
		break;
	case FL_FAULT_BLACKHOLE:
		verdict = "drop";
		break;
	default:
		rc = relay_start(f, t, &h->relay, &rport, err, errlen);
		if (rc) {
			free(h);
			return rc;
		}
	}
	if (verdict)
		snprintf(cmds, sizeof(cmds),
			 "add table inet %s\n"
			 "add chain inet %s out { type filter hook output priority 0 ; policy accept ; }\n"
			 "add rule inet %s out %s %s\n",
			 h->table, h->table, h->table, match, verdict);
	else
		snprintf(cmds, sizeof(cmds),
			 "add table inet %s\n"
			 "add chain inet %s nat_out { type nat hook output priority -100 ; policy accept ; }\n"
			 "add rule inet %s nat_out %s redirect to :%u\n",
			 h->table, h->table, h->table, match, rport);
	rc = nft_run(h->netns, cmds, NULL, err, errlen);
	if (rc) {
		char e2[16];
		char del[128];

		snprintf(del, sizeof(del), "delete table inet %s\n", h->table);
		nft_run(h->netns, del, NULL, e2, sizeof(e2));	/* a half-made table */
		relay_stop(h->relay);
		free(h);
		return rc;
	}
	h->next = live;
	live = h;
	*out = h;
	return 0;
}

int fl_fault_clear(struct fl_fault_handle *h, char *err, size_t errlen)
{
	char cmd[128];
	int rc;

	if (!h)
		return 0;
	for (struct fl_fault_handle **p = &live; *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	snprintf(cmd, sizeof(cmd), "delete table inet %s\n", h->table);
	rc = nft_run(h->netns, cmd, NULL, err, errlen);
	relay_stop(h->relay);
	free(h);
	return rc;
}

void fl_fault_clear_all(void)
{
	char err[16];

	while (live)
		fl_fault_clear(live, err, sizeof(err));
}

int fl_fault_sweep(const char *netns, unsigned *removed, char *err, size_t errlen)
{
	char *out = NULL, *line, *save = NULL;
	unsigned n = 0;
	int rc;

	if (removed)
		*removed = 0;
	rc = nft_run(netns, "list tables inet\n", &out, err, errlen);
	if (rc)
		return rc;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], cmd[192];

		if (sscanf(line, "table inet %127s", name) != 1 ||
		    strncmp(name, TABLE_PREFIX, strlen(TABLE_PREFIX)))
			continue;
		snprintf(cmd, sizeof(cmd), "delete table inet %s\n", name);
		rc = nft_run(netns, cmd, NULL, err, errlen);
		if (rc)
			break;
		n++;
	}
	free(out);
	if (removed)
		*removed = n;
	return rc;
}
