// SPDX-License-Identifier: BSD-2-Clause
/*
 * gatectl fault: one fault on one edge by hand (what `deep` does per edge),
 * held for a duration or until SIGINT/SIGTERM, then removed; and `fault
 * sweep`, which removes what a killed run left in a namespace.
 */
#include "cmd/cmd.h"
#include "output/output.h"
#include "query/time.h"
#include "sandbox/fault.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void fault_usage(FILE *f)
{
	fprintf(f,
		"usage: gatectl fault run --netns NAME --client-cgroup DIR --server ADDR:PORT\n"
		"                         --fault SPEC [--duration DUR]\n"
		"       gatectl fault sweep --netns NAME\n"
		"\n"
		"Inject one network fault on one edge of a sandbox (client cgroup ->\n"
		"server address:port, inside the namespace) and remove it after DUR\n"
		"(default: until SIGINT or SIGTERM). 'sweep' deletes every fault a\n"
		"killed run left in the namespace.\n"
		"\n"
		"faults: refuse, reset, blackhole, latency:DUR[:JITTER], bandwidth:RATE\n"
		"\n"
		"examples:\n"
		"  gatectl fault run --netns fl-shop --client-cgroup /sys/fs/cgroup/unified/faultline/shop/cart \\\n"
		"      --server 127.0.0.1:17001 --fault latency:100ms --duration 30s\n"
		"  gatectl fault sweep --netns fl-shop\n");
}

/* "ADDR:PORT" or "[V6]:PORT" into @addr (>= 64 bytes) and @port. */
static int parse_server(struct gate_ctx *ctx, const char *s, char *addr, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	const char *a = s, *ae = colon;
	char *end;
	long p;

	if (!colon)
		return gate_fail(ctx, -EINVAL, "'--server' wants ADDR:PORT, not '%s'", s);
	if (*s == '[') {
		a = s + 1;
		ae = strchr(s, ']');
		if (!ae || ae + 1 != colon)
			return gate_fail(ctx, -EINVAL, "'--server' wants [ADDR]:PORT, not '%s'", s);
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end || p < 1 || p > 65535 || ae - a >= 64 || ae == a)
		return gate_fail(ctx, -EINVAL, "bad '--server' value '%s'", s);
	memcpy(addr, a, (size_t)(ae - a));
	addr[ae - a] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static void netns_path(const char *name, char *buf, size_t len)
{
	if (strchr(name, '/'))
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "/run/netns/%s", name);
}

/* Wait @ns (<0: forever) or until SIGINT/SIGTERM, which are blocked. */
static int hold(int64_t ns)
{
	sigset_t set;
	struct timespec ts = { .tv_sec = ns / GATE_NS_PER_S, .tv_nsec = ns % GATE_NS_PER_S };
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	do
		sig = ns < 0 ? sigwaitinfo(&set, NULL) : sigtimedwait(&set, NULL, &ts);
	while (sig < 0 && errno == EINTR);
	return sig;
}

static int fault_do_run(struct gate_ctx *ctx, const char *ns, const char *cg,
			const char *server, const char *spec, int64_t dur)
{
	struct fl_fault_target t = { .client_cgroup = cg };
	struct fl_fault_handle *h;
	struct fl_fault f;
	char addr[64], nsp[PATH_MAX], param[32];
	sigset_t set;
	int err, sig;

	if (!ns || !cg || !server || !spec)
		return gate_fail(ctx, -EINVAL,
				 "fault run needs '--netns', '--client-cgroup', '--server' and '--fault'");
	if ((err = parse_server(ctx, server, addr, &t.server_port)))
		return err;
	if ((err = fl_fault_parse(spec, &f, ctx->err, sizeof(ctx->err))))
		return err;
	netns_path(ns, nsp, sizeof(nsp));
	t.netns = nsp;
	t.server_addr = addr;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);	/* so the fault is always removed */
	if ((err = fl_fault_inject(&f, &t, &h, ctx->err, sizeof(ctx->err))))
		return err;
	fl_fault_param(&f, param, sizeof(param));
	printf("fault %s%s%s on %s -> %s installed%s\n", fl_fault_kind_name(f.kind),
	       *param ? ":" : "", param, cg, server,
	       fl_fault_new_conns_only(&f) ? " (new connections only)" : "");
	fflush(stdout);
	sig = hold(dur);
	err = fl_fault_clear(h, ctx->err, sizeof(ctx->err));
	if (!err)
		printf("fault removed%s\n", sig > 0 ? " (signal)" : "");
	return err;
}

static int fault_run(struct gate_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		GATE_COMMON_LONGOPTS,
		{ "netns", required_argument, NULL, 'n' },
		{ "client-cgroup", required_argument, NULL, 'c' },
		{ "server", required_argument, NULL, 's' },
		{ "fault", required_argument, NULL, 'f' },
		{ "duration", required_argument, NULL, 'd' },
		{ 0 }
	};
	const char *ns = NULL, *cg = NULL, *server = NULL, *spec = NULL, *verb;
	int64_t dur = -1, t;
	int c, err;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			fault_usage(stdout);
			return GATE_HELP_SHOWN;
		}
		return gate_fail(ctx, -EINVAL, "fault needs 'run' or 'sweep' (gatectl fault --help)");
	}
	verb = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, GATE_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		err = gate_common_opt(ctx, c, argv, fault_usage);
		if (err < 0 || err == GATE_HELP_SHOWN)
			return err;
		if (err)
			continue;
		switch (c) {
		case 'n': ns = optarg; break;
		case 'c': cg = optarg; break;
		case 's': server = optarg; break;
		case 'f': spec = optarg; break;
		case 'd':
			/* a duration parses as "that long before now" */
			if ((err = gate_time_arg(ctx, "--duration", optarg, &t)))
				return err;
			dur = ctx->now_ns - t;
			if (dur <= 0)
				return gate_fail(ctx, -EINVAL, "'--duration' must be positive");
			break;
		}
	}
	if ((err = gate_no_args(ctx, argc, argv)))
		return err;
	if (!strcmp(verb, "run"))
		return fault_do_run(ctx, ns, cg, server, spec, dur);
	if (!strcmp(verb, "sweep")) {
		char nsp[PATH_MAX];
		unsigned n;

		if (!ns)
			return gate_fail(ctx, -EINVAL, "fault sweep needs '--netns'");
		netns_path(ns, nsp, sizeof(nsp));
		if ((err = fl_fault_sweep(nsp, &n, ctx->err, sizeof(ctx->err))))
			return err;
		printf("%u leftover fault table(s) removed\n", n);
		return 0;
	}
	return gate_fail(ctx, -EINVAL, "unknown fault verb '%s' (run, sweep)", verb);
}

const struct gate_cmd gate_cmd_fault = {
	.name = "fault",
	.summary = "inject one network fault on one edge of a sandbox, then remove it",
	.run = fault_run,
	.store = GATE_CMD_READS,	/* opens no store */
	.formats = GATE_FMT_BIT(GATE_FMT_TABLE),	/* lines only */
};
