/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Events from the collector (bpf/collector.bpf.c) to the agent, through one
 * BPF ring buffer. Types and constants only: this header is included by the
 * BPF program and by userspace.
 *
 * Every event starts with struct fl_event_hdr. A data event is followed by
 * cap_len bytes of payload (cap_len <= orig_len <= INT_MAX): userspace can
 * always tell what it did not see (orig_len - cap_len bytes truncated, a
 * jump in `offset` is a gap, drops are counted in the counters map).
 */
#ifndef FAULTLINE_EVENTS_H
#define FAULTLINE_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FL_CAPTURE_DEFAULT 1024	 /* payload bytes captured per syscall */
#define FL_CAPTURE_MAX 8192	 /* upper bound of --capture (power of two; the
				    per-CPU staging is 2x and must stay < 32 KiB) */
#define FL_MAX_IOV 64		 /* iovec entries copied from readv/sendmsg (gRPC
				    writes one per slice: a frame header, a block) */
#define FL_MAX_MMSG 8		 /* messages of one sendmmsg/recvmmsg copied; the
				    bytes of later ones are counted, not copied */
#define FL_MAX_MMSG_IOV 8	 /* iovec entries copied per sendmmsg/recvmmsg message */
#define FL_MAX_MMSG_VLEN 1024	 /* messages per sendmmsg/recvmmsg (UIO_MAXIOV) */
#define FL_MAX_INHERIT_FDS 65536 /* fds a fork looks at for connections to copy */
#define FL_MAX_CONNS 65536	 /* compiled size of the connection map; the agent
				    sets --max-conns (default 131072) at load */
#define FL_RINGBUF_DEFAULT (8u << 20) /* ring buffer bytes */

enum fl_event_type {
	FL_EV_CONN_OPEN = 1,	/* connect() or accept() created a TCP connection
				   (socket path: sent at its first data; a
				   socket from before the agent has
				   FL_CONN_F_JOINED and role FL_ROLE_UNKNOWN) */
	FL_EV_CONN_FAIL = 2,	/* connect() failed (refused, timed out, reset) */
	FL_EV_CONN_CLOSE = 3,	/* close() of a tracked connection (socket path:
				   the socket reached TCP_CLOSE, opened only) */
	FL_EV_DATA = 4,		/* bytes read or written on a tracked connection */
	FL_EV_PROC_EXIT = 5,	/* a process exited: its fds closed without close()
				   (socket path: its sockets end by themselves) */
	FL_EV_PROC_EXEC = 6,	/* a process called execve(): the agent looks
				   for TLS libraries in it (fl_conn_event, no tuple) */
	FL_EV_THREAD_EVLOOP = 7, /* hdr.tid is an event loop, whose requests the
				    same-thread link cannot tell apart: it waits on
				    epoll (syscall path), or reads requests from a
				    non-blocking server socket (socket path)
				    (fl_conn_event, no tuple; once per thread) */
	FL_EV_THREAD_EXIT = 8,	/* a thread marked by FL_EV_THREAD_EVLOOP exited */
	FL_EV_CONN_INHERIT = 9,	/* fork(): the child's copy of a tracked
				   connection of its parent (fl_conn_event; bytes
				   = the stream offsets it continues from).
				   Syscall path only: the socket path follows the
				   socket itself */
	FL_EV_PROC_ENV = 10,	/* execve(): the environment of the new image,
				   read before it runs (fl_data_event layout:
				   orig_len its size, its first cap_len bytes
				   follow; hdr.cid.tgid the process). Sent just
				   before its FL_EV_PROC_EXEC */
};

enum fl_role {
	FL_ROLE_UNKNOWN = 0,
	FL_ROLE_CLIENT = 1,	/* this end called connect() */
	FL_ROLE_SERVER = 2,	/* this end came from accept() */
};

enum fl_direction {
	FL_DIR_EGRESS = 0,	/* written by the process: write, send*, writev */
	FL_DIR_INGRESS = 1,	/* read by the process: read, recv*, readv */
};

enum fl_source {
	FL_SRC_SYSCALL = 0,	/* plaintext from a read/write syscall */
	FL_SRC_TLS = 1,		/* plaintext from a TLS library uprobe; its
				   offsets count plaintext bytes only */
	FL_SRC_SPLICE = 2,	/* sendfile/splice: bytes counted in the syscall
				   offsets, never copied (cap_len 0); socket
				   path: also any send/receive without a user
				   buffer it can read (io_uring) */
};

/* Indexes of the per-CPU `counters` array: what the collector did not see. */
enum fl_counter {
	FL_CNT_RINGBUF_DROPS = 0,	/* events lost: ring buffer full */
	FL_CNT_CONN_MAP_FULL = 1,	/* connections not tracked: map full */
	FL_CNT_ARGS_MAP_FULL = 2,	/* syscalls not seen: in-flight map full */
	FL_CNT_READ_FAILED = 3,		/* payload copies that faulted */
	FL_CNT_TLS_UNMAPPED = 4,	/* TLS reads/writes dropped: no connection
					   known for their SSL object */
	FL_CNT_MAX = 8,
};

/*
 * A connection: unique for the life of the agent. Two collector paths
 * (docs/agent.md, "Collector paths") name it differently:
 *  - the socket path (default where the kernel has the sock tracepoints):
 *    fd is FL_CID_SOCK and gen alone is the connection, a counter the
 *    collector keeps per socket (a socket connected again after
 *    tcp_disconnect() is a new one). tgid is the process the event comes
 *    from: the owner (who connected, or first moved bytes) in lifecycle
 *    events, the current process in data events (a forked child, a dup'd or
 *    SCM_RIGHTS-passed socket keep the same connection). The fd is not
 *    known and not needed.
 *  - the syscall path (the fallback): (tgid, fd) is the connection and gen
 *    the ns timestamp of its registration (a reused fd is another one).
 */
struct fl_conn_id {
	__u32 tgid;		/* process id (see above) */
	__s32 fd;		/* file descriptor, or FL_CID_SOCK */
	__u64 gen;		/* see above */
};

#define FL_CID_SOCK (-2)	/* fl_conn_id.fd of the socket path */

/* Key and value of the collector's `conns` map (userspace adopts sockets
 * that existed before the agent by inserting them). */
struct fl_conn_key {
	__u32 tgid;
	__s32 fd;
};

struct fl_conn_info {
	__u64 gen;		/* ns timestamp of registration */
	__u64 bytes[2];		/* bytes moved per fl_direction (syscalls) */
	__u8 role;		/* enum fl_role */
	__u8 tls;		/* 1 once a TLS library used this socket: its
				   syscall bytes are ciphertext, not emitted */
	__u8 pad[6];
	__u64 tls_bytes[2];	/* TLS plaintext bytes per fl_direction: the
				   offsets of FL_SRC_TLS data events */
};

/*
 * Network-namespace filter (the agent's --netns / --exclude-netns): the
 * collector's `netns_mode` rodata, and its `netns_inums` hash map whose
 * keys are the inode numbers (ns.inum) of the namespaces named.
 */
enum fl_netns_mode {
	FL_NETNS_ALL = 0,	/* no filter: every namespace (no lookup) */
	FL_NETNS_ONLY = 1,	/* only the namespaces in netns_inums */
	FL_NETNS_EXCLUDE = 2,	/* every namespace but those */
};
#define FL_NETNS_MAX 64		/* entries of netns_inums */

#define FL_CONN_F_JOINED 1	/* fl_conn_event.flags: existed before the agent */
#define FL_CONN_F_MIRROR 2	/* ... socket path: a mirrored server end (open,
				   close); one of a process that has no client
				   socket sends no data event at all, only its
				   byte totals in the close (fl_conn_event.bytes) */

/*
 * Value of the collector's `mirrors` map, keyed by fl_conn_key: the agent
 * asks the collector not to copy the payload of a server end whose client
 * end it also traces (it makes no records from it). Its data events keep
 * their offsets and lengths, and the tid (call paths need who answered),
 * with cap_len 0 and FL_DIR_F_MIRROR set in hdr.dir.
 */
struct fl_mirror {
	__u64 gen;		/* fl_conn_info.gen of the connection meant */
	__u32 dirs;		/* 1 << enum fl_direction: not copied */
	__u32 pad;
};

#define FL_DIR_MASK 1		/* hdr.dir: the enum fl_direction bit */
#define FL_DIR_F_MIRROR 0x80	/* hdr.dir: a mirrored server end (syscall path:
				   its payload not copied, see fl_mirror; socket
				   path: set on every data event of an end the
				   collector found mirrored, whose responses are
				   never copied and whose requests are copied only
				   while they look like HTTP/1 and call paths are
				   on; cap_len says what came) */

/*
 * Value of the collector's `procs` map, keyed by tgid: lets a fork find the
 * parent's connections without a lookup per possible fd. Kept at register
 * and close (and by userspace when it adopts connections).
 */
struct fl_proc_fds {
	__s64 nconns;		/* registered connections now (a hint) */
	__s64 max_fd;		/* highest fd ever registered */
};

struct fl_event_hdr {
	__u64 ts_ns;		/* CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
	struct fl_conn_id cid;
	__u32 tid;		/* thread that made the syscall */
	__u8 type;		/* enum fl_event_type */
	__u8 role;		/* enum fl_role */
	__u8 dir;		/* enum fl_direction (data events) */
	__u8 source;		/* enum fl_source (data events) */
};

/* Endpoint addresses; IPv4 is stored as an IPv4-mapped IPv6 address. */
struct fl_tuple {
	__u8 saddr[16];		/* local address (network order) */
	__u8 daddr[16];		/* peer address (network order) */
	__u16 sport;		/* local port (host order) */
	__u16 dport;		/* peer port (host order) */
	__u16 family;		/* AF_INET or AF_INET6 of the socket */
	__u16 pad;
};

/* FL_EV_CONN_OPEN, FL_EV_CONN_FAIL, FL_EV_CONN_CLOSE, FL_EV_PROC_EXIT,
 * FL_EV_PROC_EXEC, FL_EV_CONN_INHERIT */
struct fl_conn_event {
	struct fl_event_hdr hdr;
	struct fl_tuple tuple;
	__s32 err;		/* negative errno for FL_EV_CONN_FAIL, else 0 */
	__u32 flags;		/* FL_CONN_F_* */
	char comm[16];		/* task comm: a name for processes gone by lookup */
	__u64 bytes[2];		/* bytes per fl_direction (close events) */
};

/* FL_EV_DATA; the cap_len payload bytes follow the struct directly. */
struct fl_data_event {
	struct fl_event_hdr hdr;
	__u64 offset;		/* stream offset of the first byte, per direction */
	__u32 orig_len;		/* bytes the syscall moved */
	__u32 cap_len;		/* bytes that follow (<= orig_len, <= capture limit) */
};

#endif /* FAULTLINE_EVENTS_H */
