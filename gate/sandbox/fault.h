/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault: network faults on ONE edge of a sandbox (client service → server
 * address:port), injected with the kernel's own tools and removed again
 * (docs/deep.md "How a fault is injected").
 *
 * An edge is targeted by the client's cgroup2 directory (every sandbox
 * service has its own) and the server's address and port, so `a → db` can
 * be faulted while `b → db` stays clean. Everything a fault installs lives
 * inside the sandbox's network namespace:
 *   - refuse, reset, blackhole: one nftables table `faultline_fault_*` with
 *     an output-hook rule matching `socket cgroupv2` + daddr + dport
 *     (reject with tcp reset on the SYN / on the first data segment; drop);
 *   - latency, bandwidth: a nat-output rule of that table redirects the
 *     client's NEW connections to a relay process (a child of the caller,
 *     killed with it by PR_SET_PDEATHSIG) that delays or paces the data
 *     the server sends back. Connections opened before the fault are not
 *     redirected: fl_fault_info() says so, and the caller restarts the
 *     client (this kernel has no netem, so there is no in-kernel delay).
 * fl_fault_sweep() removes every `faultline_fault_*` table of a namespace:
 * what a killed run left behind.
 *
 * Errors: int functions return 0 or a negative errno and leave one
 * lowercase line in @err.
 */
#ifndef FAULTLINE_GATE_FAULT_H
#define FAULTLINE_GATE_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum fl_fault_kind {
	FL_FAULT_REFUSE = 0,	/* new connections refused (RST to the SYN) */
	FL_FAULT_RESET,		/* connections reset at their next data segment */
	FL_FAULT_BLACKHOLE,	/* every packet to the server dropped */
	FL_FAULT_LATENCY,	/* responses delayed by delay ± jitter */
	FL_FAULT_BANDWIDTH,	/* responses paced to a rate */
	FL_FAULT_KIND_COUNT
};

struct fl_fault {
	enum fl_fault_kind kind;
	uint64_t delay_ns;	/* latency: added to every response chunk */
	uint64_t jitter_ns;	/* latency: uniform in [-jitter, +jitter] */
	uint64_t rate_bps;	/* bandwidth: bits per second */
};

/* Where a fault goes. Strings are borrowed. */
struct fl_fault_target {
	const char *netns;		/* /run/netns/NAME, or NULL: the caller's */
	const char *client_cgroup;	/* absolute cgroup2 directory of the client */
	const char *server_addr;	/* IPv4 or IPv6 literal, e.g. "127.0.0.1" */
	uint16_t server_port;
};

struct fl_fault_handle;

/* fl_fault_kind_name() - "refuse", "reset", "blackhole", "latency", "bandwidth". */
const char *fl_fault_kind_name(enum fl_fault_kind k);

/*
 * fl_fault_parse() - one fault spec: refuse | reset | blackhole |
 * latency:DUR[:JITTER] (default jitter DUR/10) | bandwidth:RATE (bit, kbit,
 * mbit; "64kbit"). DUR is a number with ns/us/ms/s. OUT: *@f.
 * Returns 0 or -EINVAL.
 */
int fl_fault_parse(const char *spec, struct fl_fault *f, char *err, size_t errlen);

/*
 * fl_fault_param() - the parameter as written back ("100ms", "64kbit", ""
 * for faults without one) into @buf.
 */
void fl_fault_param(const struct fl_fault *f, char *buf, size_t len);

/*
 * fl_fault_new_conns_only() - true when the fault reaches only connections
 * opened after it was injected (latency, bandwidth: the relay).
 */
bool fl_fault_new_conns_only(const struct fl_fault *f);

/*
 * fl_fault_inject() - install @f on @t. OUT: *@out, released by
 * fl_fault_clear(). The nftables table is named faultline_fault_<pid>_<n>.
 * Returns 0, -EINVAL (bad target: not a cgroup2 directory under the
 * cgroup2 mount, bad address), -ENOENT (namespace), or -EIO (nftables or
 * the relay refused; the message says which), with nothing left installed.
 */
int fl_fault_inject(const struct fl_fault *f, const struct fl_fault_target *t,
		    struct fl_fault_handle **out, char *err, size_t errlen);

/*
 * fl_fault_clear() - remove what @h installed (table, relay) and free it;
 * NULL is a no-op. Returns 0 or -EIO (the table could not be deleted: the
 * next fl_fault_sweep() does it).
 */
int fl_fault_clear(struct fl_fault_handle *h, char *err, size_t errlen);

/*
 * fl_fault_sweep() - delete every faultline_fault_* nftables table in
 * @netns (NULL: the caller's): the leftovers of a run that was killed.
 * OUT: *@removed (may be NULL). Returns 0 or a negative errno.
 */
int fl_fault_sweep(const char *netns, unsigned *removed, char *err, size_t errlen);

/*
 * fl_fault_clear_all() - fl_fault_clear() on every live handle of this
 * process; async-signal-unsafe, meant for the SIGINT/SIGTERM path of a
 * command that runs faults (it sets a flag in the handler, then calls this).
 */
void fl_fault_clear_all(void);

#endif
