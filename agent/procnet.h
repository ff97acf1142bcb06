/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Readers of the kernel's socket tables: TCP sockets of a network namespace
 * by state through NETLINK_SOCK_DIAG (inet_diag), or /proc/net/tcp{,6} where
 * sock_diag is missing; and the socket fds of every process in /proc.
 */
#ifndef FAULTLINE_PROCNET_H
#define FAULTLINE_PROCNET_H

#include <stdint.h>

#define PROCNET_LISTEN 0x0A	/* TCP_LISTEN in /proc/net/tcp's st column */
#define PROCNET_ESTABLISHED 0x01
#define PROCNET_F(st) (1u << (st))	/* a state in a procnet_diag_foreach mask */

struct procnet_sock {
	uint8_t laddr[16];	/* local address, IPv4-mapped for IPv4 */
	uint8_t raddr[16];	/* remote address */
	uint16_t lport, rport;	/* host order */
	uint8_t state;		/* PROCNET_* */
	uint64_t inode;
};

/*
 * procnet_tcp_foreach() - call @cb for every TCP socket in /proc/net/tcp and
 * /proc/net/tcp6. A non-zero return from @cb stops the walk and is returned.
 * Unreadable files are skipped (returns 0).
 */
int procnet_tcp_foreach(int (*cb)(const struct procnet_sock *s, void *ctx),
			void *ctx);

/*
 * procnet_tcp_foreach_pid() - procnet_tcp_foreach() in the network namespace
 * of process @pid (its /proc/PID/net/tcp{,6}).
 */
int procnet_tcp_foreach_pid(uint32_t pid,
			    int (*cb)(const struct procnet_sock *s, void *ctx),
			    void *ctx);

/*
 * procnet_diag_foreach() - call @cb for every TCP socket, IPv4 then IPv6, of
 * the network namespace of process @pid whose state is in @states (a mask
 * of PROCNET_F(PROCNET_*)), as the kernel's inet_diag dump gives them
 * (NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY with idiag_states = @states): the
 * kernel walks only the tables those states live in, so a LISTEN dump costs
 * O(listeners), not O(sockets) as reading /proc/net/tcp does. A socket in
 * another namespace is opened on a short-lived thread that enters it
 * (setns(2), needs CAP_SYS_ADMIN); the caller's thread never moves.
 * Returns 0, the first non-zero return of @cb (the walk stops), -ESRCH
 * (@pid gone), or -EOPNOTSUPP when sock_diag (or inet_diag for TCP) is not
 * available: the caller then falls back to procnet_tcp_foreach_pid().
 * @cb may have been called for some sockets before an error.
 */
int procnet_diag_foreach(uint32_t pid, uint32_t states,
			 int (*cb)(const struct procnet_sock *s, void *ctx),
			 void *ctx);

/*
 * procnet_netns() - one process in each network namespace that has one:
 * @pids[0] is the caller's own namespace (its pid), then one pid for every
 * other, at most @max. Returns how many were written.
 */
int procnet_netns(uint32_t *pids, int max);

/*
 * procnet_local_addrs() - the local addresses of @pid's network namespace
 * (IPv4 from /proc/PID/net/fib_trie "/32 host LOCAL", IPv6 from
 * /proc/PID/net/if_inet6), IPv4-mapped, into @out (at most @max).
 * Returns how many were written.
 */
int procnet_local_addrs(uint32_t pid, uint8_t (*out)[16], int max);

/*
 * procnet_fd_foreach() - call @cb(tgid, fd, inode) for every socket fd of
 * every process (/proc/PID/fd/N -> "socket:[inode]"). Processes that vanish
 * during the walk are skipped. A non-zero return from @cb stops the walk.
 */
int procnet_fd_foreach(int (*cb)(uint32_t tgid, int fd, uint64_t inode,
				 void *ctx), void *ctx);

#endif /* FAULTLINE_PROCNET_H */
