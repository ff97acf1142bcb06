// SPDX-License-Identifier: BSD-2-Clause
/*
 * The TCP socket readers of agent/procnet.c: the sock_diag dump finds the
 * listening sockets this test opens (address, port, inode, state), agrees
 * with /proc/net/tcp{,6} on them, and reads another network namespace
 * (a child in a fresh one) without moving the calling thread.
 *
 * Listening only: no connection is made, so no host lock is needed.
 */
#include "harness.h"
#include "procnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct want {
	uint64_t inode;
	uint8_t addr[16];
	uint16_t port;
	int seen;		/* times reported */
	int wrong_state;	/* sockets reported outside the mask */
};

static int on_sock(const struct procnet_sock *s, void *ctx)
{
	struct want *w = ctx;

	if (s->state != PROCNET_LISTEN)
		w->wrong_state++;
	if (s->inode == w->inode && s->lport == w->port &&
	    !memcmp(s->laddr, w->addr, 16))
		w->seen++;
	return 0;
}

/* A socket of @family listening on loopback, port picked by the kernel. */
static int listen_lo(int family, struct want *w)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	struct stat st;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(w, 0, sizeof(*w));
	if (fd < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		w->addr[10] = w->addr[11] = 0xff;
		w->addr[12] = 127;
		w->addr[15] = 1;
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		w->addr[15] = 1;
		len = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) || fstat(fd, &st)) {
		close(fd);
		return -1;
	}
	w->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	w->inode = st.st_ino;
	return fd;
}

static void test_diag_finds_own_listeners(void)
{
	struct want w4, w6;
	int fd4 = listen_lo(AF_INET, &w4), fd6 = listen_lo(AF_INET6, &w6);

	CHECK(fd4 >= 0);
	CHECK_EQ_INT(procnet_diag_foreach(getpid(), PROCNET_F(PROCNET_LISTEN),
					  on_sock, &w4), 0);
	CHECK_EQ_INT(w4.seen, 1);
	CHECK_EQ_INT(w4.wrong_state, 0);
	if (fd6 >= 0) { /* IPv6 may be off on this host */
		CHECK_EQ_INT(procnet_diag_foreach(getpid(),
			PROCNET_F(PROCNET_LISTEN), on_sock, &w6), 0);
		CHECK_EQ_INT(w6.seen, 1);
		close(fd6);
	}
	/* not in an ESTABLISHED-only dump */
	w4.seen = 0;
	CHECK_EQ_INT(procnet_diag_foreach(getpid(), PROCNET_F(PROCNET_ESTABLISHED),
					  on_sock, &w4), 0);
	CHECK_EQ_INT(w4.seen, 0);
	close(fd4);
}

static void test_diag_agrees_with_proc(void)
{
	struct want wd, wp;
	int fd = listen_lo(AF_INET, &wd);

	CHECK(fd >= 0);
	wp = wd;
	CHECK_EQ_INT(procnet_diag_foreach(getpid(), PROCNET_F(PROCNET_LISTEN),
					  on_sock, &wd), 0);
	CHECK_EQ_INT(procnet_tcp_foreach_pid(getpid(), on_sock, &wp), 0);
	CHECK_EQ_INT(wd.seen, 1);
	CHECK_EQ_INT(wp.seen, 1);
	close(fd);
}

static int stop_at_first(const struct procnet_sock *s, void *ctx)
{
	(*(int *)ctx)++;
	return 7;
}

static void test_diag_callback_stops(void)
{
	struct want w;
	int n = 0, fd = listen_lo(AF_INET, &w);

	CHECK(fd >= 0);
	CHECK_EQ_INT(procnet_diag_foreach(getpid(), PROCNET_F(PROCNET_LISTEN),
					  stop_at_first, &n), 7);
	CHECK_EQ_INT(n, 1);
	close(fd);
}

/* A child in a network namespace of its own listens; the parent's dump of
 * the child's namespace finds it and its own namespace's dump does not. */
static void test_diag_other_netns(void)
{
	int pipefd[2];
	struct want w, mine;
	char self_before[64] = "", self_after[64] = "";
	pid_t child;

	CHECK(!pipe(pipefd));
	child = fork();
	if (child == 0) {
		close(pipefd[0]);
		if (unshare(CLONE_NEWNET)) {
			w.inode = 0;
			w.port = (uint16_t)errno;
		} else {
			/* lo is down in a fresh namespace: bind the wildcard */
			struct sockaddr_in a = { .sin_family = AF_INET };
			struct stat st;
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			socklen_t len = sizeof(a);
			memset(&w, 0, sizeof(w));
			w.addr[10] = w.addr[11] = 0xff;
			if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
			    listen(fd, 1) || getsockname(fd, (struct sockaddr *)&a, &len) ||
			    fstat(fd, &st))
				_exit(1);
			w.inode = st.st_ino;
			w.port = ntohs(a.sin_port);
		}
		if (write(pipefd[1], &w, sizeof(w)) != sizeof(w))
			_exit(1);
		pause(); /* killed by the parent */
		_exit(0);
	}
	close(pipefd[1]);
	CHECK(child > 0);
	CHECK_EQ_INT(read(pipefd[0], &w, sizeof(w)), sizeof(w));
	close(pipefd[0]);
	if (!w.inode) {
		const char *ci = getenv("CI");
		fprintf(stderr, "  test_diag_other_netns: unshare(CLONE_NEWNET): %s%s\n",
			strerror(w.port), ci && !strcmp(ci, "true") ? "" : " (skipped)");
		CHECK(!(ci && !strcmp(ci, "true")));
		goto out_kill;
	}
	readlink("/proc/thread-self/ns/net", self_before, sizeof(self_before) - 1);
	mine = w;
	CHECK_EQ_INT(procnet_diag_foreach((uint32_t)child,
		PROCNET_F(PROCNET_LISTEN), on_sock, &w), 0);
	CHECK_EQ_INT(w.seen, 1);
	CHECK_EQ_INT(procnet_diag_foreach(getpid(), PROCNET_F(PROCNET_LISTEN),
					  on_sock, &mine), 0);
	CHECK_EQ_INT(mine.seen, 0);
	readlink("/proc/thread-self/ns/net", self_after, sizeof(self_after) - 1);
	CHECK_EQ_STR(self_after, self_before); /* the caller never moved */
out_kill:
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

static void test_diag_gone_pid(void)
{
	struct want w = { 0 };
	pid_t child = fork();

	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	CHECK_EQ_INT(procnet_diag_foreach((uint32_t)child,
		PROCNET_F(PROCNET_LISTEN), on_sock, &w), -ESRCH);
}

RUN_TESTS(test_diag_finds_own_listeners, test_diag_agrees_with_proc,
	  test_diag_callback_stops, test_diag_other_netns, test_diag_gone_pid)
