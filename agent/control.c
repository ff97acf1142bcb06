// SPDX-License-Identifier: BSD-2-Clause
#include "control.h"
#include "footprint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct client {
	int fd;			/* -1: free slot */
	char buf[CONTROL_LINE_MAX];
	size_t len;
	bool overlong;		/* discarding the rest of a line too long */
};

struct control {
	int fd;			/* listening socket */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct footprint *fp;
	sqlite3 *db;
	struct control_hooks h;
	struct client clients[CONTROL_CLIENTS_MAX];
};

/* A live agent answers on @path: connect() succeeds. */
static bool control_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = !connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	return live;
}

/* Bind @fd to @sa, replacing a stale socket file; mode 0600 from the start. */
static int control_bind(int fd, const struct sockaddr_un *sa, char *errbuf,
			size_t errlen)
{
	struct stat sb;
	mode_t old;
	int err = 0;

	if (!lstat(sa->sun_path, &sb)) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(errbuf, errlen, "cannot listen on '%s': not a socket",
				 sa->sun_path);
			return -EEXIST;
		}
		if (control_in_use(sa)) {
			snprintf(errbuf, errlen, "cannot listen on '%s': another "
				 "agent serves it", sa->sun_path);
			return -EADDRINUSE;
		}
		unlink(sa->sun_path);	/* stale: its agent is gone */
	}
	old = umask(0177);
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		err = -errno;
	umask(old);
	if (!err && chmod(sa->sun_path, 0600))
		err = -errno;
	if (err)
		snprintf(errbuf, errlen, "cannot listen on '%s': %s", sa->sun_path,
			 strerror(-err));
	return err;
}

struct control *control_open(const char *path, struct footprint *fp,
			     sqlite3 *db, const struct control_hooks *hooks,
			     char *errbuf, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *c;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(errbuf, errlen, "cannot listen on '%s': path too long "
			 "(at most %zu bytes)", path, sizeof(sa.sun_path) - 1);
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (!(c = calloc(1, sizeof(*c)))) {
		snprintf(errbuf, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
		c->clients[i].fd = -1;
	c->fp = fp;
	c->db = db;
	c->h = *hooks;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "cannot create a unix socket: %s",
			 strerror(errno));
		goto out_free;
	}
	if ((err = control_bind(c->fd, &sa, errbuf, errlen)))
		goto out_close;
	memcpy(c->path, sa.sun_path, sizeof(c->path));
	if (listen(c->fd, CONTROL_CLIENTS_MAX)) {
		err = -errno;
		snprintf(errbuf, errlen, "cannot listen on '%s': %s", path,
			 strerror(errno));
		unlink(path);
		goto out_close;
	}
	return c;
out_close:
	close(c->fd);
out_free:
	free(c);
	errno = -err;
	return NULL;
}

int control_pollfds(struct control *c, struct pollfd *pfd, int max)
{
	int n = 0;

	if (max < 1)
		return 0;
	pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	for (int i = 0; i < CONTROL_CLIENTS_MAX && n < max; i++)
		if (c->clients[i].fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = c->clients[i].fd,
						    .events = POLLIN };
	return n;
}

static void client_drop(struct client *cl)
{
	close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
	cl->overlong = false;
}

/* Send @line and a newline; a client that cannot take it now is dropped. */
static void client_reply(struct client *cl, const char *line)
{
	char out[CONTROL_LINE_MAX * 2];
	int n = snprintf(out, sizeof(out), "%s\n", line);

	if (n < 0 || (size_t)n >= sizeof(out))
		n = snprintf(out, sizeof(out), "err reply too long\n");
	/* a reply may quote the client's words: no control byte goes back to
	 * a terminal (found by tests/fuzz/fuzz_control.c) */
	for (int i = 0; i < n - 1; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
	if (send(cl->fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		client_drop(cl);
}

/* A run id: a positive decimal without sign or leading zeros. */
static bool parse_run(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s || *s == '0' || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		return false;
	*out = v;
	return true;
}

static void cmd_begin(struct control *c, char **argv, char *reply, size_t len)
{
	struct footprint_state st;
	int64_t run;
	int err;

	if (!parse_run(argv[1], &run)) {
		snprintf(reply, len, "err invalid run '%s' (a test_runs.id)", argv[1]);
		return;
	}
	err = footprint_begin(c->fp, run, argv[2], c->h.now_ns(c->h.ctx));
	if (err == -EINVAL) {
		snprintf(reply, len, "err invalid test name (1 to %d bytes, no blanks)",
			 FP_TEST_MAX - 1);
	} else if (err == -EBUSY) {
		footprint_state(c->fp, &st);
		snprintf(reply, len, "err busy: %lld %s is %s (tests are attributed "
			 "one at a time)", (long long)st.run, st.test,
			 st.open ? "open" : "ended but not written: end it again");
	} else {
		snprintf(reply, len, "ok");
	}
}

static void cmd_end(struct control *c, char **argv, char *reply, size_t len)
{
	char err[384];
	uint64_t rows;
	int64_t run;

	if (!parse_run(argv[1], &run)) {
		snprintf(reply, len, "err invalid run '%s' (a test_runs.id)", argv[1]);
		return;
	}
	if (footprint_mark_end(c->fp, run, argv[2], c->h.now_ns(c->h.ctx))) {
		snprintf(reply, len, "err not begun: %lld %.*s", (long long)run,
			 FP_TEST_MAX, argv[2]);
		return;
	}
	/* what the test did may still sit in the ring buffer: read it first */
	c->h.drain(c->h.ctx);
	if (footprint_write(c->fp, c->db, &rows, err, sizeof(err)))
		snprintf(reply, len, "err %s", err);
	else
		snprintf(reply, len, "ok %llu", (unsigned long long)rows);
}

static void cmd_status(struct control *c, char *reply, size_t len)
{
	struct footprint_state st;
	size_t n;

	footprint_state(c->fp, &st);
	if (st.open || st.unwritten)
		snprintf(reply, len, "ok run=%lld test=%s state=%s", (long long)st.run,
			 st.test, st.open ? "open" : "unwritten");
	else
		snprintf(reply, len, "ok run=- test=- state=idle");
	n = strlen(reply);
	snprintf(reply + n, len - n, " attributed=%llu tests_ended=%llu "
		 "footprint_rows=%llu outside=%llu",
		 (unsigned long long)st.attributed,
		 (unsigned long long)st.tests_ended,
		 (unsigned long long)st.rows_written,
		 (unsigned long long)st.outside);
	c->h.status(c->h.ctx, reply, len);
}

/* Run one command line (NUL-terminated, newline stripped). */
static void control_command(struct control *c, char *line, char *reply,
			    size_t len)
{
	char *argv[4], *save = NULL, *w;
	int argc = 0;

	if (strlen(line) && line[strlen(line) - 1] == '\r')
		line[strlen(line) - 1] = 0;	/* nc -C, telnet */
	for (w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (argc == 4) {
			snprintf(reply, len, "err too many words");
			return;
		}
		argv[argc++] = w;
	}
	if (!argc) {
		snprintf(reply, len, "err empty command");
	} else if (!strcmp(argv[0], "begin") || !strcmp(argv[0], "end")) {
		if (argc != 3)
			snprintf(reply, len, "err usage: %s RUN TEST", argv[0]);
		else if (argv[0][0] == 'b')
			cmd_begin(c, argv, reply, len);
		else
			cmd_end(c, argv, reply, len);
	} else if (!strcmp(argv[0], "flush") && argc == 1) {
		char err[384];
		c->h.drain(c->h.ctx);
		if (c->h.flush(c->h.ctx, err, sizeof(err)))
			snprintf(reply, len, "err %s", err);
		else
			snprintf(reply, len, "ok");
	} else if (!strcmp(argv[0], "status") && argc == 1) {
		cmd_status(c, reply, len);
	} else if (!strcmp(argv[0], "flush") || !strcmp(argv[0], "status")) {
		snprintf(reply, len, "err usage: %s", argv[0]);
	} else {
		snprintf(reply, len, "err unknown command '%.32s' (begin, end, "
			 "flush, status)", argv[0]);
	}
}

/* Read what @cl sent; run each complete line. */
static void client_read(struct control *c, struct client *cl)
{
	char reply[CONTROL_LINE_MAX];
	ssize_t n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len,
			 MSG_DONTWAIT);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_drop(cl);
		return;
	}
	cl->len += (size_t)n;
	while (cl->fd >= 0 && (nl = memchr(cl->buf, '\n', cl->len))) {
		size_t used = (size_t)(nl - cl->buf) + 1;
		*nl = 0;
		if (cl->overlong)
			cl->overlong = false;	/* the end of a line already refused */
		else if (memchr(cl->buf, 0, used - 1))
			client_reply(cl, "err invalid byte in command");
		else {
			control_command(c, cl->buf, reply, sizeof(reply));
			client_reply(cl, reply);
		}
		if (cl->fd < 0)
			return;
		memmove(cl->buf, cl->buf + used, cl->len - used);
		cl->len -= used;
	}
	if (cl->len == sizeof(cl->buf)) {
		/* no newline in CONTROL_LINE_MAX bytes: refuse, skip to the next */
		if (!cl->overlong)
			client_reply(cl, "err line too long");
		cl->overlong = true;
		cl->len = 0;
	}
}

static void control_accept(struct control *c)
{
	int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i].fd < 0) {
			c->clients[i].fd = fd;
			c->clients[i].len = 0;
			c->clients[i].overlong = false;
			return;
		}
	send(fd, "err too many clients\n", 21, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

void control_handle(struct control *c, const struct pollfd *pfd, int n)
{
	for (int k = 0; k < n; k++) {
		if (!pfd[k].revents)
			continue;
		if (pfd[k].fd == c->fd) {
			control_accept(c);
			continue;
		}
		for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
			if (c->clients[i].fd == pfd[k].fd) {
				client_read(c, &c->clients[i]);
				break;
			}
	}
}

void control_close(struct control *c)
{
	if (!c)
		return;
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i].fd >= 0)
			close(c->clients[i].fd);
	close(c->fd);
	unlink(c->path);
	free(c);
}
