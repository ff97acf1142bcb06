// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * faultline collector: observes TCP conversations from syscall tracepoints.
 *
 * connect()/accept() exits register a TCP socket in `conns`, keyed by
 * (tgid, fd); at its exit tracepoint, a data syscall on a registered fd
 * copies up to `capture_len` bytes of payload into the ring buffer, with
 * the stream offset so userspace sees truncation and gaps; close()
 * unregisters. A data syscall's arguments are read from the user registers
 * saved at its entry, so it needs no enter hook. A fork copies the parent's
 * connections to a new process, exec forgets those it closed. sendfile and
 * splice bytes are counted without payload. For every other fd a data
 * syscall costs one `conns` lookup. Nothing here changes traffic. Events:
 * include/faultline/events.h.
 *
 * TLS: uprobes on SSL_read/SSL_write (+ _ex, and SSL_do_handshake) that the
 * agent attaches per library (agent/tls.c) remember the thread's SSL call
 * in `ssl_calls`. The read/write syscall nested in it names the socket: the
 * SSL object is mapped to that (fd, generation) in `ssl_conns`, the socket
 * is marked TLS and its ciphertext is not emitted. At the SSL call's return
 * the plaintext is emitted as FL_SRC_TLS data with its own stream offsets.
 * No struct offset of any TLS library is used.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include <faultline/events.h>

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EINPROGRESS 115
#define ECONNRESET 104
#define MSG_PEEK 2
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define IPPROTO_TCP 6
#define CLONE_FILES 0x00000400
#define CLONE_THREAD 0x00010000

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the agent between skeleton open and load. */
const volatile __u32 capture_len = FL_CAPTURE_DEFAULT; /* bytes per syscall */
const volatile __u32 self_tgid = 0;		       /* the agent: ignored */
const volatile __u32 netns_mode = FL_NETNS_ALL;	       /* enum fl_netns_mode */
const volatile __u8 sock_path = 0;	/* 1: the socket path is loaded (see below) */
const volatile __u8 no_paths = 0;	/* 1: --no-paths: mirrors' requests unneeded */

enum inflight_op {
	OP_CONNECT = 1,
	OP_CONNECT_FAILED,	/* failure already reported by the state hook */
};

/* A connect() between its enter and exit tracepoints, per thread: the
 * socket-state hook needs to know it is in flight (data syscalls need no
 * such state: the exit hook reads their arguments from the registers). */
struct inflight {
	__u64 ptr;		/* the sockaddr */
	__s32 fd;
	__u8 op;		/* enum inflight_op */
};

#define SSL_DIR_NONE 0xff	/* ssl_call.dir of SSL_do_handshake: no plaintext */

/* A thread inside an SSL_* call, between its uprobe and uretprobe. */
struct ssl_call {
	__u64 ssl;		/* SSL *: the key of ssl_conns */
	__u64 buf;		/* the caller's plaintext buffer */
	__u64 outlen;		/* size_t * of the _ex variants, else 0 */
	__u64 ts;		/* entry timestamp, ns */
	__u8 dir;		/* enum fl_direction, or SSL_DIR_NONE */
	__u8 nested;		/* socket path: a socket was read or written
				   inside it (else the SSL uses memory BIOs) */
};

struct ssl_key {
	__u32 tgid;
	__u32 pad;
	__u64 ssl;		/* SSL * in that process */
};

/* The socket an SSL object reads and writes, learned from a nested syscall. */
struct ssl_conn {
	__u64 gen;		/* fl_conn_info.gen (syscall path) or the connection
				   id (socket path): a reused fd is another socket */
	__s32 fd;
	__u8 role;		/* socket path: enum fl_role of the socket */
	__u8 mflags;		/* socket path: SSL_M_* */
	__u16 pad;
	__u64 tls_bytes[2];	/* socket path: plaintext offsets per direction */
};

#define SSL_M_MIRROR 1		/* a mirrored server end whose client's plaintext
				   is read too: not copied (see the socket path) */
#define SSL_M_ALL 2		/* ... and its requests are not needed either */
#define SSL_M_CHECKED 4		/* its first request bytes were looked at */
#define SSL_M_NESTED 8		/* mapped by socket I/O nested in its calls (a
				   socket BIO): what memory-BIO guesses never move */

struct stage_buf {
	struct fl_data_event ev;
	__u8 payload[2 * FL_CAPTURE_MAX]; /* 2x: lets the verifier bound copies */
	__u32 sent;		/* data events this CPU sent: see rb_flags() */
};

/*
 * Threads inside an SSL_* call (entries of ssl_calls), or more: a thread
 * killed inside one, or an entry the LRU evicted, leaves it counted. While
 * it is 0 a data syscall needs no ssl_calls lookup.
 */
__s64 ssl_inflight = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FL_MAX_CONNS);
	__type(key, struct fl_conn_key);
	__type(value, struct fl_conn_info);
} conns SEC(".maps");

/* LRU: a thread killed inside a syscall never reaches its exit tracepoint */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* LRU: a uretprobe that never fires (thread killed) must not leak */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);		/* pid_tgid: the thread */
	__type(value, struct ssl_call);
} ssl_calls SEC(".maps");

/* LRU: SSL objects are freed without a hook; stale ones age out */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FL_MAX_CONNS);
	__type(key, struct ssl_key);
	__type(value, struct ssl_conn);
} ssl_conns SEC(".maps");

/* Threads seen waiting on epoll (event loops), by tid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} evloop_tids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FL_RINGBUF_DEFAULT);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FL_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stage_buf);
} stage SEC(".maps");

/* Server ends whose payload the agent does not need (struct fl_mirror). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FL_MAX_CONNS);
	__type(key, struct fl_conn_key);
	__type(value, struct fl_mirror);
} mirrors SEC(".maps");

/* Set by the agent once `mirrors` has an entry: no lookup there before. */
volatile __u32 mirrors_on = 0;

/* Network namespaces of --netns / --exclude-netns, by ns.inum (value unused). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FL_NETNS_MAX);
	__type(key, __u32);
	__type(value, __u8);
} netns_inums SEC(".maps");

/* Processes with registered connections: what a fork walks (see below). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FL_MAX_CONNS);
	__type(key, __u32);		/* tgid */
	__type(value, struct fl_proc_fds);
} procs SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

/* The socket behind @fd of the current task, or NULL for any other file. */
static __always_inline struct socket *fd_socket(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	return BPF_CORE_READ(f, private_data);
}

/*
 * netns_tracked() - whether sockets of @sk's network namespace are traced
 * (--netns / --exclude-netns, enum fl_netns_mode): without a filter no
 * lookup at all, with one a single hash lookup of the namespace's inode
 * number. Self-contained on purpose: every point that registers a socket
 * or reports a failed connect calls it (register_conn(), the connect
 * failures below) and so must any new registration point (the socket-level
 * tp_btf hooks: pass the struct sock).
 */
static __always_inline bool netns_tracked(const struct sock *sk)
{
	__u32 inum;
	bool listed;

	if (netns_mode == FL_NETNS_ALL)
		return true;
	if (!sk)
		return false;
	inum = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	listed = bpf_map_lookup_elem(&netns_inums, &inum) != NULL;
	return netns_mode == FL_NETNS_ONLY ? listed : !listed;
}

/* Fill @t from TCP socket @sk; false if it is not AF_INET/6. */
static __always_inline bool sk_fill_tuple(struct sock *sk, struct fl_tuple *t)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == AF_INET) {
		__u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		/* IPv4-mapped IPv6: ::ffff:a.b.c.d */
		t->saddr[10] = t->saddr[11] = 0xff;
		t->daddr[10] = t->daddr[11] = 0xff;
		__builtin_memcpy(&t->saddr[12], &s, 4);
		__builtin_memcpy(&t->daddr[12], &d, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_v6_daddr);
	} else {
		return false;
	}
	t->family = family;
	t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return true;
}

/* Fill @t from a TCP socket; false if @sock is not AF_INET/6 stream. */
static __always_inline bool sock_tuple(struct socket *sock, struct fl_tuple *t)
{
	struct sock *sk;

	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return false;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return false;
	return sk_fill_tuple(sk, t);
}

/*
 * Data events wake the consumer only once a backlog builds up: a wake-up per
 * event cost a context switch each (22k/s at nginx saturation). The agent
 * also drains on its poll timeout, so an idle trickle waits at most that.
 */
#define FL_WAKEUP_BYTES (256 * 1024)

#define FL_WAKEUP_CHECK 16 /* data events per CPU between backlog checks */

/* The wake-up flag of the data event @s sends. */
static __always_inline __u64 rb_flags(struct stage_buf *s)
{
	if (++s->sent % FL_WAKEUP_CHECK)
		return BPF_RB_NO_WAKEUP;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > FL_WAKEUP_BYTES
		       ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void emit_conn(__u8 type, __u64 ts, __u32 tgid, int fd,
				      __u64 gen, __u8 role,
				      const struct fl_tuple *t, int err,
				      const struct fl_conn_info *ci)
{
	struct fl_conn_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(FL_CNT_RINGBUF_DROPS);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->hdr.ts_ns = ts;
	e->hdr.cid.tgid = tgid;
	e->hdr.cid.fd = fd;
	e->hdr.cid.gen = gen;
	e->hdr.tid = (__u32)bpf_get_current_pid_tgid();
	e->hdr.type = type;
	e->hdr.role = role;
	if (t)
		e->tuple = *t;
	e->err = err;
	if (tgid)
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (ci) {
		e->bytes[0] = ci->bytes[0];
		e->bytes[1] = ci->bytes[1];
	}
	/* lifecycle events are rare and the agent acts on them at once
	 * (naming a short-lived process, attaching TLS probes after exec):
	 * always wake it, even behind data that did not */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

static __always_inline void save_inflight(__u8 op, int fd, __u64 ptr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight in = { .ptr = ptr, .fd = fd, .op = op };

	if (bpf_map_update_elem(&inflight, &id, &in, BPF_ANY))
		count(FL_CNT_ARGS_MAP_FULL);
}

/* ---- processes: connections inherited across fork ---------------------- */

/*
 * A fork copies the parent's fd table, connections included: a prefork or
 * fork-per-connection server (PostgreSQL's postmaster) accepts, forks, and
 * the child does every read and write. The child's (tgid, fd) keys are
 * made at the fork from the parent's, found without a lookup per possible
 * fd through `procs`: per process, its connection count and highest fd.
 */

/* @fd of process @tgid was registered in `conns`. */
static __always_inline void proc_note_conn(__u32 tgid, int fd)
{
	struct fl_proc_fds *p = bpf_map_lookup_elem(&procs, &tgid);
	struct fl_proc_fds init = { .nconns = 1, .max_fd = fd };

	if (!p) {
		if (!bpf_map_update_elem(&procs, &tgid, &init, BPF_NOEXIST))
			return;
		p = bpf_map_lookup_elem(&procs, &tgid); /* raced: it exists */
		if (!p)
			return;
	}
	__sync_fetch_and_add(&p->nconns, 1);
	/* an atomic max: another thread may register a higher fd at once */
	for (int i = 0; i < 4; i++) {
		__s64 old = p->max_fd;
		if (fd <= old ||
		    __sync_val_compare_and_swap(&p->max_fd, old, fd) == old)
			break;
	}
}

/* A connection of process @tgid left `conns` (max_fd stays). */
static __always_inline void proc_drop_conn(__u32 tgid)
{
	struct fl_proc_fds *p = bpf_map_lookup_elem(&procs, &tgid);

	if (p)
		__sync_fetch_and_add(&p->nconns, -1);
}

/* Read-only in the callbacks: a value changing per iteration would keep
 * the verifier from ever converging on them. */
struct inherit_ctx {
	__u64 ts;
	__u32 parent;
	__u32 child;
};

/* bpf_loop callback: copy the parent's connection at @fd to the child. */
static long inherit_fd(__u32 fd, void *arg)
{
	struct inherit_ctx *x = arg;
	struct fl_conn_key pk = { .tgid = x->parent, .fd = (int)fd };
	struct fl_conn_key ck = { .tgid = x->child, .fd = (int)fd };
	struct fl_conn_info *ci = bpf_map_lookup_elem(&conns, &pk);
	struct fl_conn_info nci;
	struct fl_tuple t = {};

	/* the parent's fd table is the child's: still this TCP socket? */
	if (!ci || !sock_tuple(fd_socket((int)fd), &t))
		return 0;
	nci = *ci;
	nci.gen = x->ts;
	if (bpf_map_update_elem(&conns, &ck, &nci, BPF_ANY)) {
		count(FL_CNT_CONN_MAP_FULL);
		return 0;
	}
	proc_note_conn(x->child, (int)fd);
	emit_conn(FL_EV_CONN_INHERIT, x->ts, x->child, (int)fd, x->ts, nci.role,
		  &t, 0, &nci);
	return 0;
}

/* bpf_loop callback: drop @fd's connection if exec closed the fd. */
static long exec_drop_fd(__u32 fd, void *arg)
{
	struct fl_conn_key key = { .tgid = *(__u32 *)arg, .fd = (int)fd };
	struct fl_conn_info *ci = bpf_map_lookup_elem(&conns, &key);

	if (!ci || fd_socket((int)fd))
		return 0;
	emit_conn(FL_EV_CONN_CLOSE, bpf_ktime_get_ns(), key.tgid, key.fd,
		  ci->gen, ci->role, NULL, 0, ci);
	bpf_map_delete_elem(&conns, &key);
	proc_drop_conn(key.tgid);
	return 0;
}

/*
 * After execve(): its close-on-exec fds are closed without close(), among
 * them most inherited connections of a fork+exec child. Forget those.
 */
static __always_inline void exec_drop_closed(__u32 tgid)
{
	struct fl_proc_fds *p = bpf_map_lookup_elem(&procs, &tgid);
	__u32 n;

	if (!p || p->nconns <= 0)
		return;
	n = (__u32)p->max_fd + 1;
	if (n > FL_MAX_INHERIT_FDS)
		n = FL_MAX_INHERIT_FDS;
	bpf_loop(n, exec_drop_fd, &tgid, 0);
}

/* ---- connection lifecycle --------------------------------------------- */

SEC("tracepoint/syscalls/sys_enter_connect")
int tp_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u16 family = 0;

	if (tgid == self_tgid)
		return 0;
	bpf_probe_read_user(&family, sizeof(family), (void *)ctx->args[1]);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	save_inflight(OP_CONNECT, (int)ctx->args[0], ctx->args[1]);
	return 0;
}

/* The peer a failed connect() aimed at, from its sockaddr argument. */
static __always_inline void sockaddr_peer(__u64 uaddr, struct fl_tuple *t)
{
	struct sockaddr_in6 sa = {};

	bpf_probe_read_user(&sa, sizeof(sa), (void *)uaddr);
	t->family = sa.sin6_family;
	t->dport = bpf_ntohs(sa.sin6_port);
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&sa;
		t->daddr[10] = t->daddr[11] = 0xff;
		__builtin_memcpy(&t->daddr[12], &in4->sin_addr.s_addr, 4);
	} else {
		__builtin_memcpy(t->daddr, &sa.sin6_addr, 16);
	}
}

static __always_inline void register_conn(__u32 tgid, int fd, __u8 role,
					  __u64 ts)
{
	struct fl_conn_key key = { .tgid = tgid, .fd = fd };
	struct fl_conn_info ci = { .gen = ts, .role = role };
	struct socket *sock = fd_socket(fd);
	struct fl_tuple t = {};

	if (!sock_tuple(sock, &t) || !netns_tracked(BPF_CORE_READ(sock, sk)))
		return;
	if (bpf_map_update_elem(&conns, &key, &ci, BPF_ANY)) {
		count(FL_CNT_CONN_MAP_FULL);
		return;
	}
	proc_note_conn(tgid, fd);
	emit_conn(FL_EV_CONN_OPEN, ts, tgid, fd, ts, role, &t, 0, NULL);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int tp_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight *in = bpf_map_lookup_elem(&inflight, &id);
	struct fl_tuple t = {};
	long ret = ctx->ret;
	__u64 ts;

	if (!in)
		return 0;
	ts = bpf_ktime_get_ns();
	if (in->op == OP_CONNECT) { /* OP_CONNECT_FAILED: already counted */
		if (ret == 0 || ret == -EINPROGRESS) {
			register_conn(id >> 32, in->fd, FL_ROLE_CLIENT, ts);
		} else {
			/* refused, unreachable, timed out: peer from the args */
			struct socket *sock = fd_socket(in->fd);
			sockaddr_peer(in->ptr, &t);
			if ((t.family == AF_INET || t.family == AF_INET6) &&
			    netns_tracked(BPF_CORE_READ(sock, sk)))
				emit_conn(FL_EV_CONN_FAIL, ts, id >> 32, in->fd,
					  ts, FL_ROLE_CLIENT, &t, (int)ret, NULL);
		}
	}
	bpf_map_delete_elem(&inflight, &id);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int tp_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	struct fl_conn_key key = {
		.tgid = bpf_get_current_pid_tgid() >> 32,
		.fd = (int)ctx->args[0],
	};
	struct fl_conn_info *ci = bpf_map_lookup_elem(&conns, &key);

	if (!ci)
		return 0;
	emit_conn(FL_EV_CONN_CLOSE, bpf_ktime_get_ns(), key.tgid, key.fd,
		  ci->gen, ci->role, NULL, 0, ci);
	bpf_map_delete_elem(&conns, &key);
	proc_drop_conn(key.tgid);
	return 0;
}

/*
 * A process that exits closes its fds without close(): userspace drops its
 * connections (and their `conns` entries) when it sees this event.
 */
SEC("tracepoint/sched/sched_process_exit")
int tp_sched_process_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	/* a thread killed inside SSL_*: its tid may be reused */
	if (!bpf_map_delete_elem(&ssl_calls, &id))
		__sync_fetch_and_add(&ssl_inflight, -1);
	if (!bpf_map_delete_elem(&evloop_tids, &(__u32){ (__u32)id }))
		emit_conn(FL_EV_THREAD_EXIT, bpf_ktime_get_ns(), tgid, -1, 0, 0,
			  NULL, 0, NULL);
	if ((__u32)id != tgid || tgid == self_tgid)
		return 0; /* a thread, not the process */
	bpf_map_delete_elem(&procs, &tgid);
	emit_conn(FL_EV_PROC_EXIT, bpf_ktime_get_ns(), tgid, -1, 0, 0, NULL, 0,
		  NULL);
	return 0;
}

__noinline int fl_exec_env(__u32 tgid);

/*
 * A new program image: the agent looks for TLS libraries to attach to, and
 * takes the service name from its environment now, before the program can
 * overwrite it with a process title (redis-server, nginx, PostgreSQL):
 * FL_EV_PROC_ENV first, so the agent has it when it handles the exec.
 */
SEC("tracepoint/sched/sched_process_exec")
int ev_process_exec(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (tgid == self_tgid)
		return 0;
	if (!sock_path)
		exec_drop_closed(tgid);
	fl_exec_env(tgid);
	emit_conn(FL_EV_PROC_EXEC, bpf_ktime_get_ns(), tgid, -1, 0, 0,
		  NULL, 0, NULL);
	return 0;
}

/*
 * A new task, in its parent's context before it first runs: a new process
 * (not a thread, not sharing the fd table) of a parent with connections
 * gets a copy of each, same role and stream offsets, under its own tgid.
 */
SEC("tracepoint/task/task_newtask")
int tp_task_newtask(struct trace_event_raw_task_newtask *ctx)
{
	__u32 parent = bpf_get_current_pid_tgid() >> 32;
	struct inherit_ctx x = {};
	struct fl_proc_fds *p;
	__u32 n;

	if (ctx->clone_flags & (CLONE_THREAD | CLONE_FILES))
		return 0;
	p = bpf_map_lookup_elem(&procs, &parent);
	if (!p || p->nconns <= 0 || parent == self_tgid)
		return 0;
	x.ts = bpf_ktime_get_ns();
	x.parent = parent;
	x.child = (__u32)ctx->pid; /* a new process: its pid is its tgid */
	n = (__u32)p->max_fd + 1;
	if (n > FL_MAX_INHERIT_FDS)
		n = FL_MAX_INHERIT_FDS;
	bpf_loop(n, inherit_fd, &x, 0);
	return 0;
}

/*
 * A thread that waits on epoll serves many connections in turn: the agent
 * must not tie the requests it makes to the request it read last. Told
 * once per thread (one lookup per call after that); forgotten at its exit.
 */
static __always_inline int epoll_waiter(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u8 one = 1;

	if (bpf_map_lookup_elem(&evloop_tids, &tid) || (id >> 32) == self_tgid)
		return 0;
	if (bpf_map_update_elem(&evloop_tids, &tid, &one, BPF_NOEXIST))
		return 0;
	emit_conn(FL_EV_THREAD_EVLOOP, bpf_ktime_get_ns(), id >> 32, -1, 0, 0,
		  NULL, 0, NULL);
	return 0;
}

/*
 * A connect() that fails: the socket goes SYN_SENT -> CLOSE. On loopback the
 * RST is processed at release_sock() inside connect() itself, before its
 * exit: then the thread's in-flight connect on this very socket names the
 * owner. Later (a non-blocking connect that returned EINPROGRESS) the owner
 * is unknown in softirq context and userspace matches the 4-tuple.
 *
 * Also a connection reset by its peer: any state -> CLOSE with sk_err
 * ECONNRESET (tcp_reset() sets it before tcp_done()), reported the same way
 * without an owner; userspace counts it on the client end it finds by the
 * 4-tuple (status conn_reset) and ignores a server end's. A reset this end
 * sends sets no sk_err: not reported.
 */
SEC("tracepoint/sock/inet_sock_set_state")
int tp_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct fl_tuple t = {};
	struct inflight *in;
	__u32 tgid = 0;
	int err, fd = -1;

	if (ctx->protocol != IPPROTO_TCP || ctx->newstate != TCP_CLOSE)
		return 0;
	if (ctx->oldstate != TCP_SYN_SENT &&
	    BPF_CORE_READ((struct sock *)ctx->skaddr, sk_err) != ECONNRESET)
		return 0;
	if (!netns_tracked((const struct sock *)ctx->skaddr))
		return 0;
	in = bpf_map_lookup_elem(&inflight, &id);
	if (in && in->op == OP_CONNECT && ctx->oldstate == TCP_SYN_SENT) {
		struct socket *sock = fd_socket(in->fd);
		if (sock && (void *)BPF_CORE_READ(sock, sk) == ctx->skaddr) {
			tgid = id >> 32;
			fd = in->fd;
			in->op = OP_CONNECT_FAILED;
		}
	}
	t.family = ctx->family;
	t.sport = ctx->sport;
	t.dport = ctx->dport;
	if (ctx->family == AF_INET) {
		t.saddr[10] = t.saddr[11] = 0xff;
		t.daddr[10] = t.daddr[11] = 0xff;
		bpf_probe_read_kernel(&t.saddr[12], 4, ctx->saddr);
		bpf_probe_read_kernel(&t.daddr[12], 4, ctx->daddr);
	} else {
		bpf_probe_read_kernel(t.saddr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(t.daddr, 16, ctx->daddr_v6);
	}
	err = BPF_CORE_READ((struct sock *)ctx->skaddr, sk_err);
	emit_conn(FL_EV_CONN_FAIL, bpf_ktime_get_ns(), tgid, fd, 0,
		  FL_ROLE_CLIENT, &t, err ? -err : -111 /* ECONNREFUSED */, NULL);
	return 0;
}

/* ---- data --------------------------------------------------------------- */

/*
 * A data syscall on the registered socket @key: true if its bytes are TLS
 * ciphertext, which is never emitted. Inside an SSL call of this thread it
 * is, and it names the SSL object's socket; outside one, a socket an SSL
 * object used before carries alerts or a renegotiation.
 */
static __always_inline bool tls_ciphertext(__u64 id,
					   const struct fl_conn_key *key,
					   struct fl_conn_info *ci)
{
	struct ssl_call *sc;
	struct ssl_key sk = {};
	struct ssl_conn *m, v = {};

	if (!ssl_inflight)
		return ci->tls;
	/* the one extra lookup, for registered sockets only */
	sc = bpf_map_lookup_elem(&ssl_calls, &id);
	if (!sc)
		return ci->tls;
	ci->tls = 1;
	sk.tgid = key->tgid;
	sk.ssl = sc->ssl;
	m = bpf_map_lookup_elem(&ssl_conns, &sk);
	if (!m || m->fd != key->fd || m->gen != ci->gen) {
		v.fd = key->fd;
		v.gen = ci->gen;
		bpf_map_update_elem(&ssl_conns, &sk, &v, BPF_ANY);
	}
	return true;
}

/* Keep the verifier's bounds on @v through clang's 32/64-bit rewrites. */
#define bound(v, max)                                                          \
	({                                                                     \
		__u64 _v = (v);                                                \
		asm volatile("" : "+r"(_v));                                   \
		_v > (max) ? (max) : _v;                                       \
	})

/*
 * Copy up to @cap bytes from the first @max_iov entries (a constant) of the
 * user iovec array at @iov into @s.
 */
static __always_inline __u64 copy_iov(struct stage_buf *s, __u64 iov,
				      __u32 iovcnt, __u64 cap, const int max_iov)
{
	__u64 copied = 0;

	for (int i = 0; i < max_iov; i++) {
		struct iovec v;
		__u64 n;

		if (i >= iovcnt || copied >= cap)
			break;
		if (bpf_probe_read_user(&v, sizeof(v),
					(void *)(iov + i * sizeof(v))))
			break;
		n = cap - copied;
		if (v.iov_len < n)
			n = v.iov_len;
		n = bound(n, FL_CAPTURE_MAX);
		copied = bound(copied, FL_CAPTURE_MAX - 1);
		if (bpf_probe_read_user(&s->payload[copied], n, v.iov_base)) {
			count(FL_CNT_READ_FAILED);
			break;
		}
		copied += n;
	}
	return copied;
}

/*
 * Fill the staged data event header of @len bytes moved in direction @dir
 * of connection @key; the offset is taken from @ci's syscall or TLS counter.
 */
static __always_inline void stage_hdr(struct stage_buf *s,
				      const struct fl_conn_key *key,
				      struct fl_conn_info *ci, __u64 id,
				      __u64 ts, __u8 dir, __u8 source,
				      __u64 len)
{
	s->ev.hdr.ts_ns = ts;
	s->ev.hdr.cid.tgid = key->tgid;
	s->ev.hdr.cid.fd = key->fd;
	s->ev.hdr.cid.gen = ci->gen;
	s->ev.hdr.tid = (__u32)id;
	s->ev.hdr.type = FL_EV_DATA;
	s->ev.hdr.role = ci->role;
	s->ev.hdr.dir = dir;
	s->ev.hdr.source = source;
	if (source == FL_SRC_TLS)
		s->ev.offset = __sync_fetch_and_add(&ci->tls_bytes[dir & 1], len);
	else
		s->ev.offset = __sync_fetch_and_add(&ci->bytes[dir & 1], len);
	s->ev.orig_len = len;
}

/*
 * True when the agent asked for @dir of server end @key (@ci) not to be
 * copied: the staged event @s is then marked and must be sent with no
 * payload.
 */
static __always_inline bool mirror_skip(struct stage_buf *s,
					const struct fl_conn_key *key,
					const struct fl_conn_info *ci, __u8 dir)
{
	struct fl_mirror *m;

	if (!mirrors_on || ci->role != FL_ROLE_SERVER)
		return false;
	m = bpf_map_lookup_elem(&mirrors, key);
	if (!m || m->gen != ci->gen || !((m->dirs >> (dir & FL_DIR_MASK)) & 1))
		return false;
	s->ev.hdr.dir |= FL_DIR_F_MIRROR;
	return true;
}

/* Send the staged event with @cap payload bytes. */
static __always_inline void stage_send(struct stage_buf *s, __u64 cap)
{
	cap = bound(cap, FL_CAPTURE_MAX);
	s->ev.cap_len = cap;
	if (bpf_ringbuf_output(&events, s, sizeof(s->ev) + cap, rb_flags(s)))
		count(FL_CNT_RINGBUF_DROPS);
}

/* Copy up to the capture limit of the @len bytes at user @ptr. */
static __always_inline __u64 copy_buf(struct stage_buf *s, __u64 ptr,
				      __u64 len)
{
	__u64 cap = capture_len;

	if (len < cap)
		cap = len;
	cap = bound(cap, FL_CAPTURE_MAX);
	if (bpf_probe_read_user(s->payload, cap, (void *)ptr)) {
		count(FL_CNT_READ_FAILED);
		cap = 0;
	}
	return cap;
}

/*
 * The registered, plaintext connection at @fd of the current process, for
 * a data syscall's exit: NULL for any other fd or a TLS socket's ciphertext.
 */
static __always_inline struct fl_conn_info *data_conn(__u64 id, int fd,
						      struct fl_conn_key *key)
{
	struct fl_conn_info *ci;

	key->tgid = id >> 32;
	key->fd = fd;
	/* the only cost for a non-socket fd: this lookup */
	ci = bpf_map_lookup_elem(&conns, key);
	if (!ci || tls_ciphertext(id, key, ci))
		return NULL;
	return ci;
}

/* This CPU's staging buffer for a data event. */
static __always_inline struct stage_buf *stage_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stage, &zero);
}

/*
 * The environment block of the current task, just exec'd (@tgid), as an
 * FL_EV_PROC_ENV event: its first FL_CAPTURE_MAX bytes. Returns 0.
 */
__noinline int fl_exec_env(__u32 tgid)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct stage_buf *s = stage_get();
	__u64 start, end, cap;

	if (!s)
		return 0;
	start = BPF_CORE_READ(task, mm, env_start);
	end = BPF_CORE_READ(task, mm, env_end);
	if (!start || end <= start)
		return 0;
	cap = bound(end - start, FL_CAPTURE_MAX);
	if (bpf_probe_read_user(s->payload, cap, (void *)start))
		cap = 0;
	__builtin_memset(&s->ev.hdr, 0, sizeof(s->ev.hdr));
	s->ev.hdr.ts_ns = bpf_ktime_get_ns();
	s->ev.hdr.cid.tgid = tgid;
	s->ev.hdr.cid.fd = -1;
	s->ev.hdr.tid = (__u32)bpf_get_current_pid_tgid();
	s->ev.hdr.type = FL_EV_PROC_ENV;
	s->ev.offset = 0;
	s->ev.orig_len = end - start > 0x7fffffff ? 0x7fffffff : end - start;
	s->ev.cap_len = cap;
	if (bpf_ringbuf_output(&events, s, sizeof(s->ev) + cap, 0))
		count(FL_CNT_RINGBUF_DROPS);
	return 0;
}

/*
 * The data syscalls' work, as global functions: the verifier checks each
 * once, not once per call site in the dispatcher. sys_exit() calls them
 * only for @ret > 0 (bytes moved). Each returns 0.
 */

/* read/write/recvfrom/sendto: @ret bytes moved at user @buf of @fd. */
__noinline int fl_data_buf(int fd, __u64 buf, long ret, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct fl_conn_key key;
	struct fl_conn_info *ci = data_conn(id, fd, &key);
	struct stage_buf *s = stage_get();

	if (!ci || !s)
		return 0;
	stage_hdr(s, &key, ci, id, bpf_ktime_get_ns(), dir, FL_SRC_SYSCALL, ret);
	stage_send(s, mirror_skip(s, &key, ci, dir) ? 0 : copy_buf(s, buf, ret));
	return 0;
}

/*
 * readv/writev (@msg 0: @vec is the iovec array, @n its entries) and
 * recvmsg/sendmsg (@msg 1: @vec is the user_msghdr; the kernel writes back
 * its lengths and flags, never msg_iov or msg_iovlen).
 */
__noinline int fl_data_iov(int fd, __u64 vec, __u64 n, long ret, __u32 msg)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct fl_conn_key key;
	struct fl_conn_info *ci = data_conn(id, fd, &key);
	struct stage_buf *s = stage_get();
	struct user_msghdr mh = {};
	__u8 dir = msg >> 8;
	__u64 cap;

	if (!ci || !s)
		return 0;
	stage_hdr(s, &key, ci, id, bpf_ktime_get_ns(), dir, FL_SRC_SYSCALL, ret);
	if (mirror_skip(s, &key, ci, dir)) {
		stage_send(s, 0);
		return 0;
	}
	if (msg & 1) {
		if (bpf_probe_read_user(&mh, sizeof(mh), (void *)vec)) {
			count(FL_CNT_READ_FAILED);
			return 0;
		}
		vec = (__u64)mh.msg_iov;
		n = mh.msg_iovlen;
	}
	cap = capture_len;
	if ((__u64)ret < cap)
		cap = ret;
	cap = copy_iov(s, vec, (__u32)n, bound(cap, FL_CAPTURE_MAX), FL_MAX_IOV);
	stage_send(s, cap);
	return 0;
}

struct mmsg_rest {
	__u64 vec;		/* the user's struct mmsghdr array */
	__u64 bytes;		/* OUT: msg_len summed */
};

/* bpf_loop callback: add message FL_MAX_MMSG + @i's length. */
static long mmsg_len_add(__u32 i, void *arg)
{
	struct mmsg_rest *r = arg;
	__u32 len = 0;
	__u64 at = r->vec + (FL_MAX_MMSG + (__u64)i) * sizeof(struct mmsghdr) +
		   __builtin_offsetof(struct mmsghdr, msg_len);

	if (bpf_probe_read_user(&len, sizeof(len), (void *)at))
		return 1;
	r->bytes += len;
	return 0;
}

/*
 * recvmmsg/sendmmsg: @ret messages moved, msgvec[i].msg_len bytes each.
 * The first FL_MAX_MMSG are emitted one event each, like sendmsg; the bytes
 * of the rest as one event without payload (cap_len 0), so the stream
 * offsets stay exact and userspace sees a gap of known size.
 */
__noinline int fl_data_mmsg(int fd, __u64 vec, long ret, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct fl_conn_key key;
	struct fl_conn_info *ci = data_conn(id, fd, &key);
	struct stage_buf *s = stage_get();
	struct mmsg_rest rest = {};
	__u64 ts;
	int i;

	if (!ci || !s)
		return 0;
	ts = bpf_ktime_get_ns();
	for (i = 0; i < FL_MAX_MMSG; i++) {
		struct mmsghdr m;
		__u64 cap = capture_len;

		if (i >= ret)
			break;
		if (bpf_probe_read_user(&m, sizeof(m),
					(void *)(vec + i * sizeof(m)))) {
			count(FL_CNT_READ_FAILED);
			return 0;
		}
		if (!m.msg_len)
			continue;
		stage_hdr(s, &key, ci, id, ts, dir, FL_SRC_SYSCALL, m.msg_len);
		if (mirror_skip(s, &key, ci, dir)) {
			stage_send(s, 0);
			continue;
		}
		if (m.msg_len < cap)
			cap = m.msg_len;
		/* FL_MAX_MMSG x FL_MAX_IOV would be too much for the verifier */
		cap = copy_iov(s, (__u64)m.msg_hdr.msg_iov,
			       (__u32)m.msg_hdr.msg_iovlen,
			       bound(cap, FL_CAPTURE_MAX), FL_MAX_MMSG_IOV);
		stage_send(s, cap);
	}
	if (ret <= FL_MAX_MMSG)
		return 0;
	rest.vec = vec;
	bpf_loop(bound(ret - FL_MAX_MMSG, FL_MAX_MMSG_VLEN), mmsg_len_add, &rest,
		 0);
	if (rest.bytes) {
		stage_hdr(s, &key, ci, id, ts, dir, FL_SRC_SYSCALL, rest.bytes);
		stage_send(s, 0);
	}
	return 0;
}

/*
 * sendfile(out_fd, in_fd, offset, count) and splice(fd_in, off_in, fd_out,
 * off_out, len, flags): bytes between a socket and a file or pipe that never
 * pass through user memory. They are counted in the socket's stream offsets
 * and emitted without payload (FL_SRC_SPLICE, cap_len 0): userspace skips
 * them as a gap of known size (an HTTP body by its Content-Length).
 */
__noinline int fl_data_splice(int fd, long ret, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct fl_conn_key key;
	struct fl_conn_info *ci = data_conn(id, fd, &key);
	struct stage_buf *s = stage_get();

	if (!ci || !s)
		return 0;
	stage_hdr(s, &key, ci, id, bpf_ktime_get_ns(), dir, FL_SRC_SPLICE, ret);
	stage_send(s, 0);
	return 0;
}

/* accept()/accept4() returned @ret: a new server-side connection. */
__noinline int fl_accepted(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (ret < 0 || (id >> 32) == self_tgid)
		return 0;
	register_conn(id >> 32, (int)ret, FL_ROLE_SERVER, bpf_ktime_get_ns());
	return 0;
}

/*
 * Data syscalls are seen at their exit tracepoint only: their arguments are
 * still in the user registers saved at syscall entry (bpf_task_pt_regs()),
 * so no enter hook and no per-thread map of arguments is needed. Measured
 * against the enter + exit pairs with a hash map between them (bench/results)
 * and against one raw tracepoint at every syscall's exit, which runs for
 * every syscall (issue 6 note). The cost of a data syscall on any other fd:
 * one `conns` lookup.
 */

/* What the exit of a hooked syscall does. */
enum sc_op {
	SC_READ,		/* read(fd, buf, count) */
	SC_RECVFROM,		/* recvfrom(fd, buf, len, flags, ...) */
	SC_WRITE,		/* write(fd, buf, count), sendto(fd, buf, len, ...) */
	SC_READV,		/* readv(fd, iov, iovcnt) */
	SC_WRITEV,		/* writev(fd, iov, iovcnt) */
	SC_RECVMSG,		/* recvmsg(fd, msg, flags) */
	SC_SENDMSG,		/* sendmsg(fd, msg, flags) */
	SC_RECVMMSG,		/* recvmmsg(fd, msgvec, vlen, flags, timeout) */
	SC_SENDMMSG,		/* sendmmsg(fd, msgvec, vlen, flags) */
	SC_SENDFILE,		/* sendfile(out_fd, in_fd, offset, count) */
	SC_SPLICE,		/* splice(fd_in, off_in, fd_out, off_out, len, flags) */
	SC_ACCEPT,		/* accept(), accept4(): ret is the new fd */
	SC_EPOLL,		/* epoll_wait(), epoll_pwait(), epoll_pwait2() */
};

/*
 * The exit of syscall @op that returned @ret, its arguments read from the
 * current task's saved user registers. A data syscall's timestamp is its
 * exit, in both directions.
 */
static __always_inline int sys_exit(enum sc_op op, long ret)
{
	struct pt_regs *regs;
	int fd;

	if (op == SC_EPOLL)
		return epoll_waiter();
	if (op == SC_ACCEPT)
		return fl_accepted(ret);
	if (ret <= 0)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	fd = (int)PT_REGS_PARM1_SYSCALL(regs);
	switch (op) {
	case SC_READ:
		return fl_data_buf(fd, PT_REGS_PARM2_SYSCALL(regs), ret,
				   FL_DIR_INGRESS);
	case SC_RECVFROM:
		/* MSG_PEEK: the same bytes are read again later */
		if (PT_REGS_PARM4_SYSCALL(regs) & MSG_PEEK)
			return 0;
		return fl_data_buf(fd, PT_REGS_PARM2_SYSCALL(regs), ret,
				   FL_DIR_INGRESS);
	case SC_WRITE:
		return fl_data_buf(fd, PT_REGS_PARM2_SYSCALL(regs), ret,
				   FL_DIR_EGRESS);
	case SC_READV:
		return fl_data_iov(fd, PT_REGS_PARM2_SYSCALL(regs),
				   PT_REGS_PARM3_SYSCALL(regs), ret,
				   FL_DIR_INGRESS << 8);
	case SC_WRITEV:
		return fl_data_iov(fd, PT_REGS_PARM2_SYSCALL(regs),
				   PT_REGS_PARM3_SYSCALL(regs), ret,
				   FL_DIR_EGRESS << 8);
	case SC_RECVMSG:
		if (PT_REGS_PARM3_SYSCALL(regs) & MSG_PEEK)
			return 0;
		return fl_data_iov(fd, PT_REGS_PARM2_SYSCALL(regs), 0, ret,
				   FL_DIR_INGRESS << 8 | 1);
	case SC_SENDMSG:
		return fl_data_iov(fd, PT_REGS_PARM2_SYSCALL(regs), 0, ret,
				   FL_DIR_EGRESS << 8 | 1);
	case SC_RECVMMSG:
		if (PT_REGS_PARM4_SYSCALL(regs) & MSG_PEEK)
			return 0;
		return fl_data_mmsg(fd, PT_REGS_PARM2_SYSCALL(regs), ret,
				    FL_DIR_INGRESS);
	case SC_SENDMMSG:
		return fl_data_mmsg(fd, PT_REGS_PARM2_SYSCALL(regs), ret,
				    FL_DIR_EGRESS);
	case SC_SENDFILE:
		return fl_data_splice(fd, ret, FL_DIR_EGRESS);
	case SC_SPLICE:
		/* one end is a pipe: at most one of the two is a connection */
		fl_data_splice(fd, ret, FL_DIR_INGRESS);
		return fl_data_splice((int)PT_REGS_PARM3_SYSCALL(regs), ret,
				      FL_DIR_EGRESS);
	default:
		return 0;
	}
}

#define SYS_EXIT(name, op)                                                     \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int tp_exit_##name(struct trace_event_raw_sys_exit *ctx)               \
	{                                                                      \
		return sys_exit(op, ctx->ret);                                 \
	}

SYS_EXIT(read, SC_READ)
SYS_EXIT(recvfrom, SC_RECVFROM)
SYS_EXIT(write, SC_WRITE)
SYS_EXIT(sendto, SC_WRITE)
SYS_EXIT(readv, SC_READV)
SYS_EXIT(writev, SC_WRITEV)
SYS_EXIT(recvmsg, SC_RECVMSG)
SYS_EXIT(sendmsg, SC_SENDMSG)
SYS_EXIT(recvmmsg, SC_RECVMMSG)
SYS_EXIT(sendmmsg, SC_SENDMMSG)
SYS_EXIT(sendfile64, SC_SENDFILE)
SYS_EXIT(splice, SC_SPLICE)
SYS_EXIT(accept, SC_ACCEPT)
SYS_EXIT(accept4, SC_ACCEPT)
SYS_EXIT(epoll_wait, SC_EPOLL)
SYS_EXIT(epoll_pwait, SC_EPOLL)
SYS_EXIT(epoll_pwait2, SC_EPOLL)

/* ==== the socket path ==================================================== */

/*
 * The default where the kernel has them (Linux 6.3+): tp_btf programs on
 * the socket-layer tracepoints, no syscall tracepoint at all. An attached
 * syscalls:* tracepoint puts every task of the node on the syscall slow
 * path (syscall_regfunc() sets the work flag on all threads): about 10 %
 * of nginx's throughput here with programs that do nothing (issue 13).
 *
 *  - sock_send_length / sock_recv_length fire inside sock_sendmsg() and
 *    sock_recvmsg(), in the calling task, for read/write, readv/writev,
 *    send*, recv*, each message of sendmmsg/recvmmsg, and sendfile/splice
 *    to a socket. The socket is the argument; the user buffer comes from
 *    the registers saved at syscall entry (orig_ax names the syscall).
 *  - inet_sock_set_state gives the lifecycle: CLOSE -> SYN_SENT in
 *    connect() (the owner), the server child at SYN_RECV, failed connects,
 *    and every end (a full TCP socket always leaves through TCP_CLOSE).
 *  - Per-socket state lives in socket storage, so forked children, dup()
 *    and SCM_RIGHTS-passed sockets are followed with no fd walk; the
 *    connection is its id (fl_conn_id.gen, fd FL_CID_SOCK), not an fd.
 */

#define O_NONBLOCK 04000
#define RCV_SHUTDOWN 1
#define PF_KTHREAD 0x00200000
#define TCP_ESTABLISHED 1
#define TCP_SYN_RECV 3

/* x86-64 syscall numbers, from orig_ax */
#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_splice 275
#define NR_recvmmsg 299
#define NR_sendmmsg 307
#define MSG_WAITFORONE 0x10000
#define MSG_DONTWAIT 0x40

enum sk_flag {
	SK_F_OPENED = 1,	/* FL_EV_CONN_OPEN sent (at the first data) */
	SK_F_TLS = 2,		/* a TLS library used it: syscall bytes are ciphertext */
	SK_F_MIRROR = 4,	/* a server end whose client end is traced here */
	SK_F_MIRROR_ALL = 8,	/* ... whose requests are not needed either */
	SK_F_CHECKED = 16,	/* the mirror's first request bytes were looked at */
	SK_F_CLIENT_KEY = 32,	/* its 4-tuple is in `clients` */
	SK_F_JOINED = 64,	/* existed before the agent: first seen mid-life */
	SK_F_SEQ = 128,		/* rcv_seq is known */
	SK_F_FIN = 256,		/* rcv_seq is past the peer's FIN */
	SK_F_QUIET = 512,	/* a mirror of a process with no client socket:
				   its responses are not sent (see sk_data) */
	SK_F_NB_CHECKED = 1024,	/* SK_F_NB is known */
	SK_F_NB = 2048,		/* its file is O_NONBLOCK */
	SK_F_IGNORED = 4096,	/* of a network namespace not traced (--netns,
				   --exclude-netns): decided once, at creation */
};

/* Socket storage of a TCP socket the collector has seen. */
struct sk_state {
	__u64 id;		/* fl_conn_id.gen: unique per connection */
	__u64 bytes[2];		/* bytes moved per fl_direction */
	__u32 owner;		/* tgid that connected, or first moved bytes */
	__u8 role;		/* enum fl_role */
	__u8 pad;
	__u16 flags;		/* enum sk_flag */
	__u32 rcv_seq;		/* tcp copied_seq after the bytes counted in
				   bytes[FL_DIR_INGRESS]: what a read that the
				   hooks do not see (splice from the socket)
				   skipped shows as a jump of copied_seq */
	__u32 quiet_gen;	/* outbound_gen when SK_F_QUIET was decided */
	char comm[16];		/* the owner's, for events outside its context */
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_state);
} sk_states SEC(".maps");

/* Per-thread state of the socket path. */
struct task_state {
	__u64 mmsg_vec;		/* the mmsghdr array of its sendmmsg/recvmmsg */
	__u32 mmsg_idx;		/* ... the message the next event is */
	__u32 mmsg_vlen;	/* ... the messages of that call */
	__u8 evloop;		/* FL_EV_THREAD_EVLOOP sent */
	__u8 rd_role;		/* last_rd's role */
	__u8 rd_mflags;		/* last_rd's SSL_M_MIRROR|SSL_M_ALL */
	__u8 pad;
	__u64 last_rd;		/* memory BIOs: the connection this thread last
				   read outside an SSL call (its ciphertext feeds
				   the next SSL_read), 0 once an SSL call took it */
	__u64 pending_ssl;	/* memory BIOs: an SSL object whose last call
				   wrote no socket: its output goes out with the
				   thread's next socket write */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_state);
} task_states SEC(".maps");

/* A traced client's 4-tuple, local end first (recorded when it connects). */
struct client_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
};

struct client_val {
	__u8 tls;		/* its TLS plaintext is read (an SSL object mapped) */
};

/* Clients traced on this node: their server ends are mirrors. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FL_MAX_CONNS);
	__type(key, struct client_key);
	__type(value, struct client_val);
} clients SEC(".maps");

/*
 * Processes with a client socket (they make outbound calls): a mirror of
 * any other process feeds no call path, so it sends nothing but its byte
 * totals. `outbound_gen` moves when one is added: mirrors decide again.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);		/* tgid */
	__type(value, __u8);
} procs_out SEC(".maps");

__u32 outbound_gen = 1;

static __always_inline void note_outbound(__u32 tgid)
{
	__u8 one = 1;

	if (!bpf_map_update_elem(&procs_out, &tgid, &one, BPF_NOEXIST))
		__sync_fetch_and_add(&outbound_gen, 1);
}

/* Connection ids of the socket path: a counter, never reused. */
__u64 next_conn_id = 0;

static __always_inline bool sk_is_tcp(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;

	return sk->sk_protocol == IPPROTO_TCP && sk->sk_type == SOCK_STREAM &&
	       (family == AF_INET || family == AF_INET6);
}

/* The 4-tuple of @sk, local end first, as `clients` keys it. */
static __always_inline void sk_client_key(struct sock *sk,
					  struct client_key *k, bool reverse)
{
	struct fl_tuple t = {};
	sk_fill_tuple(sk, &t);
	if (!reverse) {
		__builtin_memcpy(k->saddr, t.saddr, 16);
		__builtin_memcpy(k->daddr, t.daddr, 16);
		k->sport = t.sport;
		k->dport = t.dport;
	} else {
		__builtin_memcpy(k->saddr, t.daddr, 16);
		__builtin_memcpy(k->daddr, t.saddr, 16);
		k->sport = t.dport;
		k->dport = t.sport;
	}
}

/* A new connection on @sk (storage @st), owned by @owner. */
static __always_inline void sk_state_init(struct sk_state *st, __u8 role,
					  __u32 owner, __u16 flags)
{
	st->id = __sync_fetch_and_add(&next_conn_id, 1) + 1;
	st->bytes[0] = st->bytes[1] = 0;
	st->owner = owner;
	st->role = role;
	st->flags = flags;
	if (owner)
		bpf_get_current_comm(st->comm, sizeof(st->comm));
}

/* A lifecycle event of socket @sk (@st): open, close, failure. */
static __always_inline void sk_emit_conn(__u8 type, struct sock *sk,
					 const struct sk_state *st, int err)
{
	struct fl_conn_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(FL_CNT_RINGBUF_DROPS);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->hdr.cid.tgid = st->owner;
	e->hdr.cid.fd = FL_CID_SOCK;
	e->hdr.cid.gen = st->id;
	e->hdr.tid = (__u32)bpf_get_current_pid_tgid();
	e->hdr.type = type;
	e->hdr.role = st->role;
	sk_fill_tuple(sk, &e->tuple);
	e->err = err;
	e->flags = (st->flags & SK_F_JOINED ? FL_CONN_F_JOINED : 0) |
		   (st->flags & SK_F_MIRROR ? FL_CONN_F_MIRROR : 0);
	__builtin_memcpy(e->comm, st->comm, sizeof(e->comm));
	e->bytes[0] = st->bytes[0];
	e->bytes[1] = st->bytes[1];
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

static __always_inline __u32 sk_copied_seq(struct sock *sk)
{
	return BPF_CORE_READ((struct tcp_sock *)sk, copied_seq);
}

/*
 * Bytes the process took from @sk without a hook seeing them (splice from
 * the socket; tcp_read_sock users): a data event without payload
 * (FL_SRC_SPLICE), so the stream offsets stay exact and userspace skips
 * them as a gap of known size. @now: copied_seq before the bytes of the
 * read being counted.
 */
static __always_inline void sk_ingress_gap(struct sock *sk, struct sk_state *st,
					   __u32 now)
{
	struct fl_data_event *e;
	__u32 gap;

	if (!(st->flags & SK_F_SEQ)) {
		st->rcv_seq = now;
		st->flags |= SK_F_SEQ;
		return;
	}
	gap = now - st->rcv_seq;
	/* a read that reaches the FIN takes its sequence number too */
	if (gap && !(st->flags & SK_F_FIN) &&
	    (BPF_CORE_READ(sk, sk_shutdown) & RCV_SHUTDOWN)) {
		st->flags |= SK_F_FIN;
		gap--;
	}
	st->rcv_seq = now;
	if (!gap || gap > 0x7fffffff)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(FL_CNT_RINGBUF_DROPS);
		return;
	}
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->hdr.cid.tgid = st->owner;
	e->hdr.cid.fd = FL_CID_SOCK;
	e->hdr.cid.gen = st->id;
	e->hdr.tid = (__u32)bpf_get_current_pid_tgid();
	e->hdr.type = FL_EV_DATA;
	e->hdr.role = st->role;
	e->hdr.dir = FL_DIR_INGRESS |
		     (st->flags & SK_F_MIRROR ? FL_DIR_F_MIRROR : 0);
	e->hdr.source = FL_SRC_SPLICE;
	e->offset = __sync_fetch_and_add(&st->bytes[FL_DIR_INGRESS], gap);
	e->orig_len = gap;
	e->cap_len = 0;
	bpf_ringbuf_submit(e, 0);
}

/*
 * The lifecycle of TCP sockets. Runs in the connecting task for SYN_SENT,
 * in softirq for most other transitions: the owner comes from the storage.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sk_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct sk_state *st;
	struct client_key k = {};
	struct client_val cv = {};
	__u32 tgid;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_SENT) {
		tgid = bpf_get_current_pid_tgid() >> 32;
		if (tgid == self_tgid)
			return 0;
		st = bpf_sk_storage_get(&sk_states, sk, 0,
					BPF_SK_STORAGE_GET_F_CREATE);
		if (!st) {
			count(FL_CNT_CONN_MAP_FULL);
			return 0;
		}
		/* the netns filter: one lookup here, none per event */
		if (!netns_tracked(sk)) {
			st->flags = SK_F_IGNORED;
			return 0;
		}
		sk_state_init(st, FL_ROLE_CLIENT, tgid, 0);
		note_outbound(tgid);
		return 0;
	}
	if (newstate == TCP_SYN_RECV) {
		if (oldstate == TCP_SYN_SENT)
			return 0; /* a simultaneous open: still the client */
		/* the child of a listener, created in softirq: its owner is
		 * the process that first moves its bytes */
		st = bpf_sk_storage_get(&sk_states, sk, 0,
					BPF_SK_STORAGE_GET_F_CREATE);
		if (!st) {
			count(FL_CNT_CONN_MAP_FULL);
			return 0;
		}
		sk_state_init(st, FL_ROLE_SERVER, 0,
			      netns_tracked(sk) ? 0 : SK_F_IGNORED);
		return 0;
	}
	st = bpf_sk_storage_get(&sk_states, sk, 0, 0);
	if (!st || (st->flags & SK_F_IGNORED))
		return 0;
	if (newstate == TCP_ESTABLISHED) {
		/* the first byte the process will read */
		st->rcv_seq = sk_copied_seq(sk);
		st->flags |= SK_F_SEQ;
	}
	if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_SENT &&
	    st->role == FL_ROLE_CLIENT) {
		/* a server end on this node with this tuple is a mirror */
		sk_client_key(sk, &k, false);
		if (!bpf_map_update_elem(&clients, &k, &cv, BPF_ANY))
			st->flags |= SK_F_CLIENT_KEY;
		/* a client is opened when it connects (its owner is known),
		 * as on the syscall path; a server end at its first bytes */
		st->flags |= SK_F_OPENED;
		sk_emit_conn(FL_EV_CONN_OPEN, sk, st, 0);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	if (oldstate == TCP_SYN_SENT) {
		int err = sk->sk_err;
		sk_emit_conn(FL_EV_CONN_FAIL, sk, st,
			     err ? -err : -111 /* ECONNREFUSED */);
	} else if (st->flags & SK_F_OPENED) {
		if (st->role == FL_ROLE_CLIENT && sk->sk_err == ECONNRESET) {
			/* reset by the peer: as on the syscall path, without an
			 * owner; the agent counts it (conn_reset) on the client
			 * end it finds by the 4-tuple when requests waited */
			struct sk_state r = *st;

			r.owner = 0;
			sk_emit_conn(FL_EV_CONN_FAIL, sk, &r, -ECONNRESET);
		}
		/* a last body spliced out before the end (a mirror's unsent
		 * bytes are not one: its client end has them) */
		if (!(st->flags & SK_F_MIRROR))
			sk_ingress_gap(sk, st, sk_copied_seq(sk));
		sk_emit_conn(FL_EV_CONN_CLOSE, sk, st, 0);
	}
	if (st->flags & SK_F_CLIENT_KEY) {
		sk_client_key(sk, &k, false);
		bpf_map_delete_elem(&clients, &k);
	}
	/* ended: bytes still queued and read after a reset are not a new
	 * connection (no close would follow); tcp_disconnect() and connect()
	 * again is one, from its SYN_SENT */
	st->flags = SK_F_IGNORED;
	return 0;
}

/* First data on @sk in this task: it is opened now (and named by it). */
static __always_inline void sk_open(struct sock *sk, struct sk_state *st,
				    __u32 tgid)
{
	struct client_key k = {};

	if (!st->owner) {
		st->owner = tgid;
		bpf_get_current_comm(st->comm, sizeof(st->comm));
	}
	if (st->role == FL_ROLE_SERVER) {
		sk_client_key(sk, &k, true);
		if (bpf_map_lookup_elem(&clients, &k))
			st->flags |= SK_F_MIRROR | (no_paths ? SK_F_MIRROR_ALL : 0);
	}
	st->flags |= SK_F_OPENED;
	sk_emit_conn(FL_EV_CONN_OPEN, sk, st, 0);
}

/*
 * TLS on the socket path. An SSL object is mapped to its socket by the
 * socket I/O of its calls: the read or write nested in SSL_read/SSL_write
 * (OpenSSL on a socket BIO), or, for memory BIOs (node, and any runtime
 * that moves the ciphertext itself), the thread's socket read just before
 * an SSL call that did no socket I/O (its input) and the thread's next
 * socket write after one (its output). Each such pairing confirms or moves
 * the mapping, so a wrong guess lasts one call at most.
 */

/*
 * Threads that may be using memory BIOs: set once an SSL call did no socket
 * I/O. While 0 a socket read costs no task-storage lookup for them.
 */
__u32 bio_seen = 0;
/* Threads with a pending_ssl (see task_state): while 0, no lookup. */
__s64 bio_pending = 0;

/* Map SSL object @skey to socket @sk (@st): its syscall bytes are ciphertext. */
static __always_inline void ssl_map_sk(struct sock *sk, struct sk_state *st,
				       const struct ssl_key *skey, __u8 nested)
{
	struct ssl_conn *m, v = {};
	struct client_key k = {};
	struct client_val cv = { .tls = 1 }, *peer;

	m = bpf_map_lookup_elem(&ssl_conns, skey);
	if (m && m->gen != st->id && (m->mflags & SSL_M_NESTED) && !nested)
		return;	/* a guess never moves what a nested call showed */
	if (!(st->flags & SK_F_TLS) && (st->flags & SK_F_CLIENT_KEY)) {
		/* its server end, a mirror, need not copy the plaintext */
		sk_client_key(sk, &k, false);
		bpf_map_update_elem(&clients, &k, &cv, BPF_ANY);
	}
	st->flags |= SK_F_TLS;
	if (m && m->gen == st->id) {
		m->mflags |= nested;
		return;
	}
	v.gen = st->id;
	v.mflags = nested;
	v.fd = FL_CID_SOCK;
	v.role = st->role;
	if (st->flags & SK_F_MIRROR) {
		sk_client_key(sk, &k, true);
		peer = bpf_map_lookup_elem(&clients, &k);
		if (peer && peer->tls)
			v.mflags |= SSL_M_MIRROR |
				    (st->flags & SK_F_MIRROR_ALL ? SSL_M_ALL : 0);
	}
	bpf_map_update_elem(&ssl_conns, skey, &v, BPF_ANY);
}

/*
 * Inside an SSL call of this thread, a socket's bytes are ciphertext and
 * name the SSL object's socket. Outside one, a socket an SSL object used
 * before carries alerts or a renegotiation; a write after a memory-BIO SSL
 * call carries that call's output. True: the bytes are not emitted.
 */
static __always_inline bool sk_tls_ciphertext(struct sock *sk,
					      struct sk_state *st, __u64 id,
					      __u8 dir)
{
	struct ssl_call *sc;
	struct ssl_key skey = { .tgid = id >> 32 };
	struct task_state *ts;

	if (ssl_inflight && (sc = bpf_map_lookup_elem(&ssl_calls, &id))) {
		sc->nested = 1;
		skey.ssl = sc->ssl;
		ssl_map_sk(sk, st, &skey, SSL_M_NESTED);
		return true;
	}
	if (!bio_seen)
		return st->flags & SK_F_TLS;
	ts = bpf_task_storage_get(&task_states, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts)
		return st->flags & SK_F_TLS;
	if (dir == FL_DIR_INGRESS) {
		/* what the next SSL call of this thread may decrypt */
		ts->last_rd = st->id;
		ts->rd_role = st->role;
		ts->rd_mflags = 0;
		if (st->flags & SK_F_MIRROR) {
			struct client_key k = {};
			struct client_val *peer;

			sk_client_key(sk, &k, true);
			peer = bpf_map_lookup_elem(&clients, &k);
			if (peer && peer->tls)
				ts->rd_mflags = SSL_M_MIRROR |
					(st->flags & SK_F_MIRROR_ALL ? SSL_M_ALL : 0);
		}
	} else if (ts->pending_ssl) {
		struct ssl_conn *m;

		skey.ssl = ts->pending_ssl;
		ts->pending_ssl = 0;
		__sync_fetch_and_add(&bio_pending, -1);
		m = bpf_map_lookup_elem(&ssl_conns, &skey);
		/* a socket that has carried plaintext is not taken, unless
		 * the SSL object's input came from it already */
		if ((st->flags & SK_F_TLS) || !st->bytes[FL_DIR_EGRESS] ||
		    (m && m->gen == st->id))
			ssl_map_sk(sk, st, &skey, 0);
		return st->flags & SK_F_TLS;
	}
	return st->flags & SK_F_TLS;
}

/*
 * The end of SSL call @sc that did no socket I/O (memory BIOs): its input
 * came from the thread's last socket read, its output goes with the next
 * socket write. Before any plaintext is emitted for it.
 */
static __always_inline void ssl_bio_call(__u64 id, const struct ssl_call *sc)
{
	struct ssl_key skey = { .tgid = id >> 32, .ssl = sc->ssl };
	struct task_state *ts;
	struct ssl_conn *m, v = {};

	m = bpf_map_lookup_elem(&ssl_conns, &skey);
	if (m && (m->mflags & SSL_M_NESTED))
		return;	/* a socket BIO served this call from its buffer */
	if (!bio_seen)
		bio_seen = 1;
	ts = bpf_task_storage_get(&task_states, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts)
		return;
	/* SSL_write may take input too (it finishes a handshake): it maps
	 * an SSL object not mapped yet, never moves a mapping */
	if (ts->last_rd && (sc->dir != FL_DIR_EGRESS || !m)) {
		if (m && m->gen == ts->last_rd) {
			/* its client's plaintext may be known only now */
			m->mflags |= ts->rd_mflags;
		} else {
			v.gen = ts->last_rd;
			v.fd = FL_CID_SOCK;
			v.role = ts->rd_role;
			v.mflags = ts->rd_mflags;
			bpf_map_update_elem(&ssl_conns, &skey, &v, BPF_ANY);
		}
	}
	ts->last_rd = 0;
	if (sc->dir == FL_DIR_INGRESS)
		return; /* SSL_read: its output, if any, is rare */
	if (!ts->pending_ssl)
		__sync_fetch_and_add(&bio_pending, 1);
	ts->pending_ssl = sc->ssl;
}

/*
 * A thread that reads requests from a non-blocking server socket serves
 * connections as they become ready (nginx, node, Go): the agent must not
 * tie the requests it makes to the request it read last. Told once per
 * thread. Replaces the epoll_wait hooks of the syscall path.
 */
static __always_inline void sk_evloop_mark(struct sock *sk, struct sk_state *st,
					   __u64 id)
{
	struct task_state *ts;

	if (!(st->flags & SK_F_NB_CHECKED)) {
		/* looked at once: set at accept (accept4's SOCK_NONBLOCK) or
		 * before the first read */
		struct file *f = BPF_CORE_READ(sk, sk_socket, file);

		st->flags |= SK_F_NB_CHECKED;
		if (f && (BPF_CORE_READ(f, f_flags) & O_NONBLOCK))
			st->flags |= SK_F_NB;
	}
	if (!(st->flags & SK_F_NB))
		return;
	ts = bpf_task_storage_get(&task_states, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts || ts->evloop)
		return;
	ts->evloop = 1;
	emit_conn(FL_EV_THREAD_EVLOOP, bpf_ktime_get_ns(), id >> 32, -1, 0, 0,
		  NULL, 0, NULL);
}

/* Looks like the start of an HTTP/1 request (a method, not "PRI "). */
static __always_inline bool http1_start(const __u8 *p, __u64 n)
{
	if (n < 4 || p[0] < 'A' || p[0] > 'Z')
		return false;
	return !(p[0] == 'P' && p[1] == 'R' && p[2] == 'I' && p[3] == ' ');
}

#define SKE_NOCOPY (1u << 8)	/* sk_emit_data(): count, do not copy */
#define SKE_CHECK (1u << 9)	/* ... and say whether it looks like HTTP/1 */

/* Message @idx of the mmsghdr array at @vec: copy from its iovec. */
static __always_inline __u64 copy_mmsg(struct stage_buf *s, __u64 vec,
				       __u32 idx, __u64 len)
{
	struct mmsghdr m;
	__u64 cap = capture_len;

	if (idx >= FL_MAX_MMSG)
		return 0; /* counted, not copied (as on the syscall path) */
	if (bpf_probe_read_user(&m, sizeof(m),
				(void *)(vec + idx * sizeof(m)))) {
		count(FL_CNT_READ_FAILED);
		return 0;
	}
	if (len < cap)
		cap = len;
	return copy_iov(s, (__u64)m.msg_hdr.msg_iov, (__u32)m.msg_hdr.msg_iovlen,
			bound(cap, FL_CAPTURE_MAX), FL_MAX_MMSG_IOV);
}

/*
 * The message of the current sendmmsg/recvmmsg this event is: messages
 * come in order, one event each, so the thread counts them (task storage)
 * and starts again at a new array or after the last message of one. A
 * recvmmsg(MSG_WAITFORONE) adds MSG_DONTWAIT after its first message,
 * which tells the first one apart. Not exact after a call that stopped
 * early on the same array: then the payload may be another message's
 * (the stream offsets stay exact).
 */
static __always_inline __u32 mmsg_index(__u64 vec, __u64 vlen, __u64 uflags,
					__u32 kflags)
{
	struct task_state *ts;
	__u32 idx;

	ts = bpf_task_storage_get(&task_states, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts)
		return FL_MAX_MMSG;
	idx = ts->mmsg_idx;
	if (ts->mmsg_vec != vec || idx >= ts->mmsg_vlen || vlen != ts->mmsg_vlen ||
	    ((uflags & MSG_WAITFORONE) && !(uflags & MSG_DONTWAIT) &&
	     !(kflags & MSG_DONTWAIT)))
		idx = 0;
	ts->mmsg_vec = vec;
	ts->mmsg_vlen = vlen;
	ts->mmsg_idx = idx + 1;
	return idx;
}

/* Linux 6.16+: user memory read straight into a ring buffer record. */
extern int bpf_probe_read_user_dynptr(struct bpf_dynptr *dptr, __u64 off,
				      __u64 size, const void *unsafe_ptr__ign) __ksym __weak;
const volatile __u8 use_dynptr = 0;	/* the agent found that kfunc */

/*
 * The data event of a plain buffer (read/write/send/recv): reserved in the
 * ring buffer at its size and the payload read into it, no staging copy.
 */
static __always_inline void sk_emit_buf(struct stage_buf *s, __u64 cid,
					__u64 offset, __u64 len, __u32 meta,
					__u64 ptr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct fl_data_event *e;
	struct bpf_dynptr dp;
	__u64 cap = len < capture_len ? len : capture_len;

	cap = bound(cap, FL_CAPTURE_MAX);
	if (bpf_ringbuf_reserve_dynptr(&events, sizeof(*e) + cap, 0, &dp)) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		count(FL_CNT_RINGBUF_DROPS);
		return;
	}
	e = bpf_dynptr_data(&dp, 0, sizeof(*e));
	if (!e) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		return;
	}
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->hdr.cid.tgid = id >> 32;
	e->hdr.cid.fd = FL_CID_SOCK;
	e->hdr.cid.gen = cid;
	e->hdr.tid = (__u32)id;
	e->hdr.type = FL_EV_DATA;
	e->hdr.role = (meta >> 16) & 0xff;
	e->hdr.dir = meta & (FL_DIR_MASK | FL_DIR_F_MIRROR);
	e->hdr.source = FL_SRC_SYSCALL;
	e->offset = offset;
	e->orig_len = len;
	e->cap_len = cap;
	if (cap && bpf_probe_read_user_dynptr(&dp, sizeof(*e), cap, (void *)ptr)) {
		count(FL_CNT_READ_FAILED);
		e->cap_len = 0;	/* the record keeps its size; cap_len says */
	}
	bpf_ringbuf_submit_dynptr(&dp, rb_flags(s));
}

/*
 * Emit the data event of @len bytes at stream @offset of connection @cid
 * in direction (@meta & FL_DIR_MASK, plus FL_DIR_F_MIRROR), of role
 * @meta >> 16, copying the payload from the current syscall's user buffer
 * unless SKE_NOCOPY. A global function: verified once. Returns 1 when
 * SKE_CHECK asked and the bytes start like an HTTP/1 request, else 0.
 */
__noinline int sk_emit_data(__u64 cid, __u64 offset, __u64 len, __u32 meta,
			    __u32 kflags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct stage_buf *s = stage_get();
	struct pt_regs *regs;
	__u8 source = FL_SRC_SYSCALL;
	__u64 cap = 0, ptr, nr;
	int http = 0;

	if (!s)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	nr = regs->orig_ax; /* a trusted pointer: a direct load */
	if (nr == NR_sendfile || nr == NR_splice ||
	    (nr != NR_read && nr != NR_write && nr != NR_readv &&
	     nr != NR_writev && nr != NR_sendto && nr != NR_recvfrom &&
	     nr != NR_sendmsg && nr != NR_recvmsg && nr != NR_sendmmsg &&
	     nr != NR_recvmmsg)) {
		/* no user buffer (sendfile, splice, io_uring): counted */
		source = FL_SRC_SPLICE;
		meta |= SKE_NOCOPY;
	}
	if (use_dynptr && !(meta & (SKE_NOCOPY | SKE_CHECK)) &&
	    (nr == NR_read || nr == NR_write || nr == NR_sendto ||
	     nr == NR_recvfrom)) {
		sk_emit_buf(s, cid, offset, len, meta, PT_REGS_PARM2_SYSCALL(regs));
		return 0;
	}
	s->ev.hdr.ts_ns = bpf_ktime_get_ns();
	s->ev.hdr.cid.tgid = id >> 32;
	s->ev.hdr.cid.fd = FL_CID_SOCK;
	s->ev.hdr.cid.gen = cid;
	s->ev.hdr.tid = (__u32)id;
	s->ev.hdr.type = FL_EV_DATA;
	s->ev.hdr.role = (meta >> 16) & 0xff;
	s->ev.hdr.dir = meta & (FL_DIR_MASK | FL_DIR_F_MIRROR);
	s->ev.hdr.source = source;
	s->ev.offset = offset;
	s->ev.orig_len = len;
	if (!(meta & SKE_NOCOPY)) {
		ptr = PT_REGS_PARM2_SYSCALL(regs);
		cap = capture_len;
		if (len < cap)
			cap = len;
		cap = bound(cap, FL_CAPTURE_MAX);
		if (nr == NR_read || nr == NR_write || nr == NR_sendto ||
		    nr == NR_recvfrom) {
			cap = copy_buf(s, ptr, len);
		} else if (nr == NR_readv || nr == NR_writev) {
			cap = copy_iov(s, ptr, (__u32)PT_REGS_PARM3_SYSCALL(regs),
				       cap, FL_MAX_IOV);
		} else if (nr == NR_sendmsg || nr == NR_recvmsg) {
			struct user_msghdr mh = {};
			if (bpf_probe_read_user(&mh, sizeof(mh), (void *)ptr)) {
				count(FL_CNT_READ_FAILED);
				cap = 0;
			} else {
				cap = copy_iov(s, (__u64)mh.msg_iov,
					       (__u32)mh.msg_iovlen, cap,
					       FL_MAX_IOV);
			}
		} else {
			__u32 idx = mmsg_index(ptr, PT_REGS_PARM3_SYSCALL(regs),
					       nr == NR_recvmmsg ?
					       PT_REGS_PARM4_SYSCALL(regs) : 0,
					       kflags);
			cap = copy_mmsg(s, ptr, idx, len);
		}
		if ((meta & SKE_CHECK) && http1_start(s->payload, cap))
			http = 1;
	}
	stage_send(s, cap);
	return http;
}

/* The current syscall moves bytes without a user buffer (sendfile, splice):
 * counted in bytes_spliced by the agent, so sent even by a quiet mirror. */
static __always_inline bool sk_spliced(void)
{
	struct pt_regs *regs;
	__u64 nr;

	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	nr = regs->orig_ax; /* a trusted pointer: a direct load */
	return nr == NR_sendfile || nr == NR_splice;
}

/* A send or receive of @ret bytes on @sk by the current task. */
static __always_inline int sk_data(struct sock *sk, long ret, __u8 dir,
				   __u32 kflags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct sk_state *st;
	__u32 meta;
	__u64 off;

	if (!sk_is_tcp(sk) || (id >> 32) == self_tgid)
		return 0;
	st = bpf_sk_storage_get(&sk_states, sk, 0, 0);
	if (!st) {
		/* not seen connecting or accepted: from before the agent,
		 * unless a kernel socket (no file, or a kernel thread) */
		task = bpf_get_current_task_btf();
		if ((task->flags & PF_KTHREAD) || !BPF_CORE_READ(sk, sk_socket, file))
			return 0;
		st = bpf_sk_storage_get(&sk_states, sk, 0,
					BPF_SK_STORAGE_GET_F_CREATE);
		if (!st) {
			count(FL_CNT_CONN_MAP_FULL);
			return 0;
		}
		if (!netns_tracked(sk)) {
			st->flags = SK_F_IGNORED;
			return 0;
		}
		sk_state_init(st, FL_ROLE_UNKNOWN, 0, SK_F_JOINED);
		/* it may be a client (a pool from before the agent) */
		note_outbound(id >> 32);
	}
	if (st->role == FL_ROLE_CLIENT && st->owner != (__u32)(id >> 32))
		note_outbound(id >> 32); /* a fork or a passed socket */
	if (st->flags & SK_F_IGNORED)
		return 0;
	if (!(st->flags & SK_F_OPENED))
		sk_open(sk, st, id >> 32);
	if (sk_tls_ciphertext(sk, st, id, dir))
		return 0;
	if (st->flags & SK_F_MIRROR) {
		if (st->quiet_gen != outbound_gen) {
			st->quiet_gen = outbound_gen;
			if (!bpf_map_lookup_elem(&procs_out, &(__u32){ id >> 32 }))
				st->flags |= SK_F_QUIET;
			else
				st->flags &= ~SK_F_QUIET;
		}
		/*
		 * Not needed at all: --no-paths, or not HTTP (no call path).
		 * Its responses, while its process has no client socket: they
		 * only end a serving that no outbound call can follow. Its
		 * requests are sent even then: the first outbound call may be
		 * made while serving the first request.
		 */
		if ((no_paths || (st->flags & SK_F_MIRROR_ALL) ||
		     (dir == FL_DIR_EGRESS && (st->flags & SK_F_QUIET))) &&
		    !sk_spliced()) {
			__sync_fetch_and_add(&st->bytes[dir], ret);
			return 0;
		}
	}
	if (dir == FL_DIR_INGRESS) {
		__u32 cs = sk_copied_seq(sk);

		sk_ingress_gap(sk, st, cs - (__u32)ret);
		st->rcv_seq = cs;
		if (st->role == FL_ROLE_SERVER)
			sk_evloop_mark(sk, st, id);
	}
	off = __sync_fetch_and_add(&st->bytes[dir], ret);
	meta = dir | (__u32)st->role << 16;
	if (st->flags & SK_F_MIRROR) {
		meta |= FL_DIR_F_MIRROR;
		if (dir == FL_DIR_EGRESS || (st->flags & SK_F_MIRROR_ALL))
			meta |= SKE_NOCOPY;
		else if (!(st->flags & SK_F_CHECKED))
			meta |= SKE_CHECK;
	}
	if (sk_emit_data(st->id, off, ret, meta, kflags) == 0 &&
	    (meta & SKE_CHECK))
		st->flags |= SK_F_MIRROR_ALL; /* not HTTP: no call paths */
	if (meta & SKE_CHECK)
		st->flags |= SK_F_CHECKED;
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sk_send, struct sock *sk, int ret, int flags)
{
	if (ret <= 0)
		return 0;
	return sk_data(sk, ret, FL_DIR_EGRESS, flags);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sk_recv, struct sock *sk, int ret, int flags)
{
	struct sk_state *st;

	/* MSG_PEEK: the same bytes are read again later */
	if (ret < 0 || (flags & MSG_PEEK))
		return 0;
	if (ret > 0)
		return sk_data(sk, ret, FL_DIR_INGRESS, flags);
	/* end of stream: the read took the FIN's sequence number, no byte */
	if (!sk_is_tcp(sk))
		return 0;
	st = bpf_sk_storage_get(&sk_states, sk, 0, 0);
	if (st && (st->flags & SK_F_SEQ)) {
		st->rcv_seq = sk_copied_seq(sk);
		st->flags |= SK_F_FIN;
	}
	return 0;
}

/* A thread or process exited (socket path: sockets end by themselves). */
SEC("tracepoint/sched/sched_process_exit")
int sk_process_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct task_state *ts;

	if (!bpf_map_delete_elem(&ssl_calls, &id))
		__sync_fetch_and_add(&ssl_inflight, -1);
	ts = bpf_task_storage_get(&task_states, bpf_get_current_task_btf(), 0, 0);
	if (ts && ts->evloop)
		emit_conn(FL_EV_THREAD_EXIT, bpf_ktime_get_ns(), tgid, -1, 0, 0,
			  NULL, 0, NULL);
	if ((__u32)id != tgid || tgid == self_tgid)
		return 0;
	bpf_map_delete_elem(&procs_out, &tgid);
	emit_conn(FL_EV_PROC_EXIT, bpf_ktime_get_ns(), tgid, -1, 0, 0, NULL, 0,
		  NULL);
	return 0;
}

/* The plaintext of SSL call @sc (@n bytes) on the socket path. */
static __always_inline void ssl_emit_sk(__u64 id, const struct ssl_call *sc,
					__u64 n)
{
	struct ssl_key skey = { .tgid = id >> 32, .ssl = sc->ssl };
	struct ssl_conn *m = bpf_map_lookup_elem(&ssl_conns, &skey);
	struct stage_buf *s;
	__u8 dir = sc->dir & FL_DIR_MASK;
	__u64 cap = 0;
	bool copy = true;

	if (!m || m->fd != FL_CID_SOCK) {
		count(FL_CNT_TLS_UNMAPPED);
		return;
	}
	s = stage_get();
	if (!s)
		return;
	if (n > 0x7fffffff) /* orig_len <= INT_MAX */
		n = 0x7fffffff;
	s->ev.hdr.ts_ns = dir == FL_DIR_EGRESS ? sc->ts : bpf_ktime_get_ns();
	s->ev.hdr.cid.tgid = id >> 32;
	s->ev.hdr.cid.fd = FL_CID_SOCK;
	s->ev.hdr.cid.gen = m->gen;
	s->ev.hdr.tid = (__u32)id;
	s->ev.hdr.type = FL_EV_DATA;
	s->ev.hdr.role = m->role;
	s->ev.hdr.dir = dir;
	s->ev.hdr.source = FL_SRC_TLS;
	s->ev.offset = __sync_fetch_and_add(&m->tls_bytes[dir], n);
	s->ev.orig_len = n;
	if (m->mflags & SSL_M_MIRROR) {
		s->ev.hdr.dir |= FL_DIR_F_MIRROR;
		copy = dir == FL_DIR_INGRESS && !(m->mflags & SSL_M_ALL);
	}
	if (copy)
		cap = copy_buf(s, sc->buf, n);
	if ((m->mflags & SSL_M_MIRROR) && copy && !(m->mflags & SSL_M_CHECKED)) {
		if (!http1_start(s->payload, cap))
			m->mflags |= SSL_M_ALL;
		m->mflags |= SSL_M_CHECKED;
	}
	stage_send(s, cap);
}

/* ---- TLS: uprobes on the SSL_* functions of OpenSSL 1.1/3.x ------------- */

static __always_inline int ssl_enter(void *ssl, const void *buf, void *outlen,
				     __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call sc = {
		.ssl = (__u64)ssl,
		.buf = (__u64)buf,
		.outlen = (__u64)outlen,
		.ts = bpf_ktime_get_ns(),
		.dir = dir,
	};

	if ((id >> 32) == self_tgid)
		return 0;
	if (bpf_map_update_elem(&ssl_calls, &id, &sc, BPF_ANY))
		count(FL_CNT_ARGS_MAP_FULL);
	else
		__sync_fetch_and_add(&ssl_inflight, 1);
	return 0;
}

/* Emit the @n plaintext bytes of SSL call @sc on the socket of its SSL. */
static __always_inline void ssl_emit(__u64 id, const struct ssl_call *sc,
				     __u64 n)
{
	struct ssl_key sk = { .tgid = id >> 32, .ssl = sc->ssl };
	struct fl_conn_key key = { .tgid = id >> 32 };
	struct fl_conn_info *ci = NULL;
	struct ssl_conn *m;
	struct stage_buf *s;

	m = bpf_map_lookup_elem(&ssl_conns, &sk);
	if (m) {
		key.fd = m->fd;
		ci = bpf_map_lookup_elem(&conns, &key);
	}
	if (!ci || ci->gen != m->gen) {
		/* no nested syscall on a registered socket named it yet */
		count(FL_CNT_TLS_UNMAPPED);
		return;
	}
	s = stage_get();
	if (!s)
		return;
	if (n > 0x7fffffff) /* orig_len <= INT_MAX */
		n = 0x7fffffff;
	stage_hdr(s, &key, ci, id,
		  sc->dir == FL_DIR_EGRESS ? sc->ts : bpf_ktime_get_ns(),
		  sc->dir, FL_SRC_TLS, n);
	stage_send(s, mirror_skip(s, &key, ci, sc->dir) ? 0
						       : copy_buf(s, sc->buf, n));
}

/* SSL_read/SSL_write: bytes or <= 0; the _ex variants: 1 and *outlen. */
static __always_inline int ssl_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call *sc = bpf_map_lookup_elem(&ssl_calls, &id);
	__u64 n = 0;

	if (!sc)
		return 0;
	if (sock_path && !sc->nested)
		ssl_bio_call(id, sc);
	if (sc->dir != SSL_DIR_NONE && (int)ret > 0) {
		if (!sc->outlen)
			n = (int)ret;
		else if (bpf_probe_read_user(&n, sizeof(n), (void *)sc->outlen))
			n = 0;
		if (n && sock_path)
			ssl_emit_sk(id, sc, n);
		else if (n)
			ssl_emit(id, sc, n);
	}
	if (!bpf_map_delete_elem(&ssl_calls, &id))
		__sync_fetch_and_add(&ssl_inflight, -1);
	return 0;
}

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(up_ssl_write, void *ssl, const void *buf)
{
	return ssl_enter(ssl, buf, NULL, FL_DIR_EGRESS);
}

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(up_ssl_read, void *ssl, void *buf)
{
	return ssl_enter(ssl, buf, NULL, FL_DIR_INGRESS);
}

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int BPF_KPROBE(up_ssl_write_ex, void *ssl, const void *buf, size_t num,
	       size_t *written)
{
	return ssl_enter(ssl, buf, written, FL_DIR_EGRESS);
}

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(up_ssl_read_ex, void *ssl, void *buf, size_t num,
	       size_t *readbytes)
{
	return ssl_enter(ssl, buf, readbytes, FL_DIR_INGRESS);
}

/*
 * int SSL_do_handshake(SSL *s), also under SSL_connect/SSL_accept: its
 * syscalls map the SSL object to its socket before any plaintext, and the
 * handshake's ciphertext is not emitted.
 */
SEC("uprobe")
int BPF_KPROBE(up_ssl_do_handshake, void *ssl)
{
	return ssl_enter(ssl, NULL, NULL, SSL_DIR_NONE);
}

/* The return of every function above. */
SEC("uretprobe")
int BPF_KRETPROBE(urp_ssl, long ret)
{
	return ssl_exit(ret);
}
