/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: the agent's control socket (agent/control.c), over a real Unix
 * socket: the input is what one client writes (then it shuts its writing
 * end); every reply line must be "ok..." or "err ...", printable, and the
 * server must never hang, crash or leak. `end` writes footprints to a
 * scratch store made once per process.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "footprint.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(void *ctx) { (void)ctx; }
static int flush(void *ctx, char *err, size_t len) { (void)ctx; (void)err; (void)len; return 0; }
static void status(void *ctx, char *buf, size_t len)
{
	size_t n = strlen(buf);
	(void)ctx;
	snprintf(buf + n, len - n, " events=1");
}
static uint64_t clock_now;
static uint64_t now_ns(void *ctx) { (void)ctx; return clock_now += 1000; }

static struct control *ctl;
static struct sockaddr_un sa;

static void setup(void)
{
	static const struct control_hooks hooks = { NULL, drain, flush, status, now_ns };
	static char dir[] = "/tmp/fz-control.XXXXXX", db_path[64];
	char err[512];
	sqlite3 *db;
	struct footprint *fp = footprint_new();

	if (!fp || !mkdtemp(dir))
		abort();
	snprintf(db_path, sizeof(db_path), "%s/s.db", dir);
	if (fl_store_open(db_path, true, &db, err, sizeof(err)))
		abort();
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/agent.sock", dir);
	ctl = control_open(sa.sun_path, fp, db, &hooks, err, sizeof(err));
	if (!ctl)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pollfd pfd[CONTROL_CLIENTS_MAX + 1];
	char replies[8192];
	size_t got = 0;
	int fd, n;

	if (!ctl)
		setup();
	if (size > 4096)
		size = 4096;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	shutdown(fd, SHUT_WR);
	for (int round = 0; round < 64; round++) {
		n = control_pollfds(ctl, pfd, CONTROL_CLIENTS_MAX + 1);
		if (poll(pfd, (nfds_t)n, round ? 0 : 100) < 0)
			abort();
		control_handle(ctl, pfd, n);
		struct pollfd me = { fd, POLLIN, 0 };
		if (poll(&me, 1, 0) > 0) {
			ssize_t r = read(fd, replies + got, sizeof(replies) - 1 - got);
			if (r <= 0)
				break;	/* the server closed: done */
			got += (size_t)r;
		}
	}
	close(fd);
	replies[got] = 0;
	for (char *line = replies, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;	/* a reply cut by our buffer */
		*nl = 0;
		if (strncmp(line, "ok", 2) && strncmp(line, "err ", 4)) {
			fprintf(stderr, "bad reply: '%s'\n", line);
			abort();
		}
		for (char *c = line; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				abort();
	}
	/* the client is gone: one more pass lets the server drop it */
	n = control_pollfds(ctl, pfd, CONTROL_CLIENTS_MAX + 1);
	if (poll(pfd, (nfds_t)n, 0) > 0)
		control_handle(ctl, pfd, n);
	return 0;
}
