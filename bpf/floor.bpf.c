// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The floor of each collector path (`make bench`, "floor" section): the
 * same hooks as bpf/collector.bpf.c attaches on that path, each program
 * only bumping a per-CPU counter. What a workload loses with these loaded
 * is the price of the hook points themselves, before any work: for the
 * syscall path, every task of the node on the syscall slow path.
 * Loaded by tools/bench/floor.c: fl_sk_* (socket) or fl_sc_* (syscall).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline int hit(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&hits, &zero);

	if (v)
		*v += 1;
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(fl_sk_send) { return hit(); }
SEC("tp_btf/sock_recv_length")
int BPF_PROG(fl_sk_recv) { return hit(); }
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(fl_sk_state) { return hit(); }

#define SC(tp)                                                                 \
	SEC("tracepoint/syscalls/" #tp)                                        \
	int fl_sc_##tp(void *ctx) { return hit(); }

SC(sys_enter_connect)
SC(sys_exit_connect)
SC(sys_enter_close)
SC(sys_exit_read)
SC(sys_exit_recvfrom)
SC(sys_exit_write)
SC(sys_exit_sendto)
SC(sys_exit_readv)
SC(sys_exit_writev)
SC(sys_exit_recvmsg)
SC(sys_exit_sendmsg)
SC(sys_exit_recvmmsg)
SC(sys_exit_sendmmsg)
SC(sys_exit_sendfile64)
SC(sys_exit_splice)
SC(sys_exit_accept)
SC(sys_exit_accept4)
SC(sys_exit_epoll_wait)
SC(sys_exit_epoll_pwait)
SC(sys_exit_epoll_pwait2)
