/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Adopting TCP connections that existed before the agent started: pooled
 * database connections and keep-alive HTTP connections live for hours, and
 * an agent deployed on a running node must see them.
 */
#ifndef FAULTLINE_ADOPT_H
#define FAULTLINE_ADOPT_H

#include <stddef.h>
#include <stdint.h>
#include <stddef.h>

/*
 * adopt_existing() - register every ESTABLISHED TCP socket, in any network
 * namespace, that some process holds (except @self_tgid's) in the collector's
 * conns map (@conns_map_fd, BPF_NOEXIST: a socket the collector registered
 * itself since attach is left alone) and hand an FL_EV_CONN_OPEN event with
 * FL_CONN_F_JOINED to @emit(@ctx, event, size), as if from the ring buffer.
 * Call after the programs are attached. Role: server if the socket's local
 * port is listening on this node, else client. Stream offsets start at 0
 * from adoption. Each adopted socket is also counted for its process in the
 * collector's procs map (@procs_map_fd, -1: none), so a later fork of that
 * process hands it to the child. OUT: *@adopted, the connections adopted; *@map_full, those
 * refused for lack of room in the map.
 * Returns 0, -ENOMEM, or the first error @emit returned.
 */
int adopt_existing(int (*emit)(void *ctx, void *data, size_t len), void *ctx,
		   int conns_map_fd, int procs_map_fd, uint32_t self_tgid,
		   uint64_t *adopted, uint64_t *map_full);

struct netns_filter;

/*
 * adopt_set_netns() - from now on adopt_existing() adopts only the sockets
 * of processes whose network namespace @f traces (agent/netns.h); NULL:
 * every process. @f stays the caller's.
 */
void adopt_set_netns(const struct netns_filter *f);

#endif /* FAULTLINE_ADOPT_H */
