/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The agent's control socket (--control PATH): a unix stream socket, mode
 * 0600, through which the gate marks test boundaries. One command per
 * line, one reply line each (docs/agent.md "Control socket"):
 *
 *   begin RUN TEST   -> ok           records starting from now on are TEST's
 *   end RUN TEST     -> ok N         drain the ring buffer, write TEST's N
 *                                    footprint rows, stop attributing
 *   flush            -> ok           drain and write the windows now
 *   status           -> ok key=value ...
 *   anything else    -> err REASON
 *
 * Served from the agent's main loop: control_pollfds() adds the listening
 * socket and the clients to the loop's poll set, control_handle() serves
 * what is ready without ever blocking (a client that does not read its
 * replies is dropped), so the ring buffer keeps being consumed.
 */
#ifndef FAULTLINE_CONTROL_H
#define FAULTLINE_CONTROL_H

#include <poll.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROL_CLIENTS_MAX 16	/* connected at once; more are refused */
#define CONTROL_LINE_MAX 512	/* bytes of a command line, newline included */

struct footprint;

/* What the control socket needs of the agent. */
struct control_hooks {
	void *ctx;
	/* consume every event the ring buffer holds now; then, if the store is
	   busy (a compaction), keep consuming until it is free */
	void (*drain)(void *ctx);
	/* write the windows to the store now: 0, or -errno with @err set */
	int (*flush)(void *ctx, char *err, size_t errlen);
	/* append " key=value" counters to @buf (NUL-terminated, @len bytes) */
	void (*status)(void *ctx, char *buf, size_t len);
	/* the present on the aggregator's clock (wall ns of the collector's
	   monotonic clock: CLOCK_MONOTONIC + the agent's fixed offset) */
	uint64_t (*now_ns)(void *ctx);
};

struct control;

/*
 * control_open() - listen on @path (mode 0600; a stale socket file left by
 * a dead agent is replaced, a live one or a file that is not a socket is
 * refused). Footprints are kept in @fp and written to @db; both stay the
 * caller's. Returns the control, or NULL with errno set and a message in
 * @errbuf: EADDRINUSE (another agent serves @path), EEXIST (not a
 * socket), ENAMETOOLONG, or the socket call's errno.
 */
struct control *control_open(const char *path, struct footprint *fp,
			     sqlite3 *db, const struct control_hooks *hooks,
			     char *errbuf, size_t errlen);

/*
 * control_pollfds() - put the fds to poll for @c into @pfd (room for
 * @max, at least CONTROL_CLIENTS_MAX + 1). Returns how many.
 */
int control_pollfds(struct control *c, struct pollfd *pfd, int max);

/*
 * control_handle() - serve what control_pollfds()'s @n fds in @pfd (with
 * revents filled by poll) have ready: accept, read, run commands, reply.
 */
void control_handle(struct control *c, const struct pollfd *pfd, int n);

/* control_close() - close every client and the socket, remove @path; NULL ok. */
void control_close(struct control *c);

#endif /* FAULTLINE_CONTROL_H */
