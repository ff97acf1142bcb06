/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The control socket (agent/control.c) without the kernel: the agent's
 * hooks are stubs, the footprint and the store are real. Served from a
 * poll loop like the agent's: mode 0600, the line protocol and its errors,
 * several clients at once (one sending half a line), a line too long, a
 * client that disconnects mid-line, a stale socket replaced, a live one and
 * a non-socket refused, drain before the footprint is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "footprint.h"
#include "harness.h"
#include "store.h"

#define T0 1795237200000000000ull

struct stub {
	uint64_t now;		/* the agent's clock */
	int drains, flushes;
	struct footprint *fp;
	bool add_on_drain;	/* a record "still in the ring buffer" at end */
};

static void stub_drain(void *ctx)
{
	struct stub *s = ctx;

	s->drains++;
	if (s->add_on_drain)	/* started inside the test, read at end */
		footprint_add(s->fp, "c", "s", "http", "GET /", "200", false,
			      true, 1000, s->now - 1);
}

static int stub_flush(void *ctx, char *err, size_t len)
{
	struct stub *s = ctx;

	(void)err, (void)len;
	s->flushes++;
	return 0;
}

static void stub_status(void *ctx, char *buf, size_t len)
{
	size_t n = strlen(buf);

	(void)ctx;
	snprintf(buf + n, len - n, " events=7");
}

static uint64_t stub_now(void *ctx)
{
	return ((struct stub *)ctx)->now;
}

static char dir[48], sock[80], dbp[80];

/* Serve @c until nothing is ready for 20 ms. */
static void serve(struct control *c)
{
	struct pollfd pfd[CONTROL_CLIENTS_MAX + 1];

	for (int i = 0; i < 200; i++) {
		int n = control_pollfds(c, pfd, CONTROL_CLIENTS_MAX + 1);
		if (poll(pfd, (nfds_t)n, 20) <= 0)
			return;
		control_handle(c, pfd, n);
	}
}

static int client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send @cmd, serve, read one reply line into @out. */
static const char *ask(struct control *c, int fd, const char *cmd, char *out,
		       size_t len)
{
	size_t n = 0;

	if (cmd && write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return "<write failed>";
	serve(c);
	while (n + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 500) <= 0 || read(fd, out + n, 1) != 1)
			break;
		if (out[n] == '\n')
			break;
		n++;
	}
	out[n] = 0;
	return out;
}

static void test_protocol(void)
{
	struct stub s = { .now = T0 };
	struct control_hooks h = { &s, stub_drain, stub_flush, stub_status, stub_now };
	char err[256], r[600];
	struct control *c;
	struct stat sb;
	sqlite3 *db = NULL;
	int fd, fd2;

	CHECK_EQ_INT(fl_store_open(dbp, true, &db, err, sizeof(err)), 0);
	s.fp = footprint_new();
	c = control_open(sock, s.fp, db, &h, err, sizeof(err));
	CHECK(c != NULL);
	if (!c || !db || !s.fp)
		goto out;
	CHECK_EQ_INT(stat(sock, &sb), 0);
	CHECK_EQ_INT(sb.st_mode & 07777, 0600);
	CHECK(S_ISSOCK(sb.st_mode));
	fd = client();
	CHECK(fd >= 0);
	CHECK_EQ_STR(ask(c, fd, "status\n", r, sizeof(r)),
		     "ok run=- test=- state=idle attributed=0 tests_ended=0 "
		     "footprint_rows=0 outside=0 events=7");
	CHECK_EQ_STR(ask(c, fd, "begin 3 login\n", r, sizeof(r)), "ok");
	/* a second client sees the open test and cannot begin another */
	fd2 = client();
	CHECK_EQ_STR(ask(c, fd2, "begin 3 other\n", r, sizeof(r)),
		     "err busy: 3 login is open (tests are attributed one at a time)");
	CHECK_EQ_STR(ask(c, fd2, "status\r\n", r, sizeof(r)),
		     "ok run=3 test=login state=open attributed=0 tests_ended=0 "
		     "footprint_rows=0 outside=0 events=7");
	s.now = T0 + 10;
	CHECK_EQ_INT(footprint_add(s.fp, "c", "s", "http", "GET /", "200", false,
				   true, 500, T0 + 5), 1);
	CHECK_EQ_INT(footprint_add(s.fp, "c", "s", "http", "GET /", "200", false,
				   true, 500, T0 - 1), 0);	/* before begin */
	s.add_on_drain = true;
	CHECK_EQ_STR(ask(c, fd2, "end 3 login\n", r, sizeof(r)), "ok 1");
	CHECK_EQ_INT(s.drains, 1);
	s.add_on_drain = false;
	{
		sqlite3_stmt *st;
		int64_t req = -1;
		sqlite3_prepare_v2(db, "SELECT requests FROM footprints WHERE run_id = 3 "
				   "AND test = 'login'", -1, &st, NULL);
		if (sqlite3_step(st) == SQLITE_ROW)
			req = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		CHECK_EQ_INT(req, 2);	/* one added, one drained at end */
	}
	CHECK_EQ_STR(ask(c, fd, "end 3 login\n", r, sizeof(r)), "err not begun: 3 login");
	CHECK_EQ_STR(ask(c, fd, "flush\n", r, sizeof(r)), "ok");
	CHECK_EQ_INT(s.flushes, 1);
	/* errors, one reply each, in order, on one write */
	CHECK_EQ_STR(ask(c, fd, "nope\nbegin\nbegin 01 x\nbegin -1 x\nbegin 9 a b\nend 1 a b c d\n"
			 "flush now\n\n", r, sizeof(r)),
		     "err unknown command 'nope' (begin, end, flush, status)");
	CHECK_EQ_STR(ask(c, fd, NULL, r, sizeof(r)), "err usage: begin RUN TEST");
	CHECK_EQ_STR(ask(c, fd, NULL, r, sizeof(r)), "err invalid run '01' (a test_runs.id)");
	CHECK_EQ_STR(ask(c, fd, NULL, r, sizeof(r)), "err invalid run '-1' (a test_runs.id)");
	CHECK_EQ_STR(ask(c, fd, NULL, r, sizeof(r)), "err usage: begin RUN TEST");
	CHECK_EQ_STR(ask(c, fd, NULL, r, sizeof(r)), "err too many words");
	CHECK_EQ_STR(ask(c, fd, NULL, r, sizeof(r)), "err usage: flush");
	CHECK_EQ_STR(ask(c, fd, NULL, r, sizeof(r)), "err empty command");
	/* a NUL byte, a line too long, then a good command */
	{
		char nul[] = "sta\0tus\n";
		CHECK_EQ_INT(write(fd, nul, sizeof(nul) - 1), (int)sizeof(nul) - 1);
		CHECK_EQ_STR(ask(c, fd, NULL, r, sizeof(r)), "err invalid byte in command");
	}
	{
		char big[CONTROL_LINE_MAX * 3];
		memset(big, 'x', sizeof(big));
		CHECK_EQ_INT(write(fd, big, sizeof(big)), (int)sizeof(big));
		CHECK_EQ_STR(ask(c, fd, "\nstatus\n", r, sizeof(r)), "err line too long");
		CHECK(!strncmp(ask(c, fd, NULL, r, sizeof(r)), "ok run=-", 8));
	}
	/* a client gone mid-line; the others go on */
	CHECK_EQ_INT(write(fd2, "begin 4", 7), 7);
	close(fd2);
	serve(c);
	CHECK(!strncmp(ask(c, fd, "status\n", r, sizeof(r)), "ok run=- test=- state=idle", 26));
	close(fd);
	/* a live socket is refused; a stale one (no server) replaced */
	CHECK(control_open(sock, s.fp, db, &h, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(errno, EADDRINUSE);
	CHECK(strstr(err, "another agent serves it") != NULL);
	control_close(c);
	c = NULL;
	CHECK_EQ_INT(access(sock, F_OK), -1);	/* removed at close */
out:
	control_close(c);
	footprint_free(s.fp);
	sqlite3_close(db);
}

static void test_open_refusals(void)
{
	struct stub s = { .now = T0 };
	struct control_hooks h = { &s, stub_drain, stub_flush, stub_status, stub_now };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *c;
	char err[256], longp[200];
	int fd;

	/* a stale socket file: bound, never listened, its owner gone */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	c = control_open(sock, NULL, NULL, &h, err, sizeof(err));
	CHECK(c != NULL);
	control_close(c);
	/* a regular file is not replaced */
	fd = open(sock, O_CREAT | O_WRONLY, 0600);
	close(fd);
	errno = 0;
	CHECK(control_open(sock, NULL, NULL, &h, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(errno, EEXIST);
	CHECK(strstr(err, "not a socket") != NULL);
	CHECK_EQ_INT(access(sock, F_OK), 0);
	unlink(sock);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	CHECK(control_open(longp, NULL, NULL, &h, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(errno, ENAMETOOLONG);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fl-test-ctl.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	snprintf(dbp, sizeof(dbp), "%s/fl.db", dir);
}

static void teardown(void)
{
	char p[160];
	static const char *const sfx[] = { "", "-wal", "-shm" };

	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", dbp, sfx[i]);
		unlink(p);
	}
	unlink(sock);
	rmdir(dir);
}

static void test_all(void)
{
	setup();
	test_protocol();
	test_open_refusals();
	teardown();
}

RUN_TESTS(test_all)
