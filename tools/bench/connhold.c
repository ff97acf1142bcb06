// SPDX-License-Identifier: BSD-2-Clause
/*
 * connhold: open N live TCP connections on loopback, both ends in this
 * process tree, and hold them until told to stop. Used by `make bench` to
 * measure the agent's memory with that many connections to follow.
 *
 *   usage: connhold -n N [-l LISTENERS] [--no-ping] [--hold S]
 *
 * Each connection costs two fds and RLIMIT_NOFILE's hard limit may be low
 * (raising it needs CAP_SYS_RESOURCE), so the connections are spread over
 * worker processes of at most (soft limit, raised to the hard one) - 64 fds
 * each, started one after the other. A worker listens on LISTENERS ports
 * of 127.0.0.1 that the kernel picks (one destination port gives at most
 * one connection per ephemeral port, see net.ipv4.ip_local_port_range; the
 * default is enough listeners to stay under 70 % of that range per port),
 * then connects and accepts its share. Unless --no-ping, each connection
 * exchanges one small HTTP/1.1 request and response first, so an observer
 * has a live parsed stream, not only a socket.
 *
 * Prints "connhold: ready N connections in P processes over L listener
 * ports in S s" on stdout once every connection is open, then waits until stdin reaches EOF, a
 * SIGINT/SIGTERM, or --hold seconds (default 300: nothing outlives a
 * crashed caller for long). On exit it resets the client ends (SO_LINGER
 * 0), so no TIME_WAIT sockets are left behind. Exit 0, 1 on a socket
 * error (with the number of connections opened so far), 2 on usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_LISTENERS 64
#define MAX_WORKERS 256
#define PORT_SHARE 0.7	/* of the ephemeral range, per listener port */

static const char request[] = "GET /hold HTTP/1.1\r\nHost: connhold\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long parse_long(const char *arg, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, "connhold: invalid %s '%s' (expected %ld..%ld)\n",
			what, arg, min, max);
		exit(2);
	}
	return v;
}

/* Ports in net.ipv4.ip_local_port_range; 28232 (the default) if unreadable. */
static long ephemeral_ports(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	long lo, hi;

	if (!f)
		return 28232;
	if (fscanf(f, "%ld %ld", &lo, &hi) != 2 || hi < lo)
		lo = 32768, hi = 60999;
	fclose(f);
	return hi - lo + 1;
}

/*
 * Raise the soft RLIMIT_NOFILE to @n if the hard limit allows. Returns the
 * soft limit in force afterwards.
 */
static long nofile_raise(long n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1024;
	if (rl.rlim_cur < (rlim_t)n) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)n ? rl.rlim_max : (rlim_t)n;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur;
}

/* A listener on 127.0.0.1, port picked by the kernel. Returns fd or -errno. */
static int listener_open(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) ||
	    listen(fd, 4096) ||
	    getsockname(fd, (struct sockaddr *)addr, &len)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* read exactly @len bytes (blocking). Returns 0 or -errno (-EPIPE on EOF). */
static int read_full(int fd, char *buf, size_t len)
{
	while (len) {
		ssize_t n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EPIPE;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One request/response over the pair: client writes, server answers. */
static int ping(int cfd, int sfd)
{
	char buf[128];
	int err;

	if (write(cfd, request, sizeof(request) - 1) != sizeof(request) - 1)
		return -EIO;
	if ((err = read_full(sfd, buf, sizeof(request) - 1)))
		return err;
	if (write(sfd, response, sizeof(response) - 1) != sizeof(response) - 1)
		return -EIO;
	return read_full(cfd, buf, sizeof(response) - 1);
}

/* Open one connection to @addr and accept it on @lfd. OUT: fds[0..1]. */
static int pair_open(int lfd, const struct sockaddr_in *addr, bool do_ping,
		     int fds[2])
{
	int one = 1;
	int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int sfd, err;

	if (cfd < 0)
		return -errno;
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(cfd, (const struct sockaddr *)addr, sizeof(*addr))) {
		err = -errno;
		goto out_close_client;
	}
	sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (sfd < 0) {
		err = -errno;
		goto out_close_client;
	}
	setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (do_ping && (err = ping(cfd, sfd))) {
		close(sfd);
		goto out_close_client;
	}
	fds[0] = cfd;
	fds[1] = sfd;
	return 0;
out_close_client:
	close(cfd);
	return err;
}

/*
 * wait_for_stop() - until a signal, @hold_s seconds, or (with @watch_stdin)
 * EOF on stdin.
 */
static void wait_for_stop(long hold_s, bool watch_stdin)
{
	double end = now_s() + (double)hold_s;
	struct pollfd pfd = { .fd = watch_stdin ? 0 : -1, .events = POLLIN };
	char buf[256];

	while (!stop && now_s() < end) {
		int r = poll(&pfd, 1, 200);
		if (r > 0 && read(0, buf, sizeof(buf)) <= 0)
			break;	/* EOF (or error) on stdin: the caller is done */
	}
}

static void pairs_close(int *fds, long n)
{
	struct linger lg = { 1, 0 };

	for (long i = 0; i < n; i++) {
		setsockopt(fds[2 * i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fds[2 * i]);
		close(fds[2 * i + 1]);
	}
}

struct worker_cfg {
	long n;			/* connections this worker opens */
	long listeners;		/* listener ports it spreads them over */
	bool ping;		/* one request/response per connection */
	long hold_s;		/* upper bound on the hold */
};

/*
 * worker_run() - open @cfg->n connections, write one status byte to
 * @report ('+' all open, '-' failed), hold them until SIGTERM or the hold
 * ends, reset them. Returns the exit code.
 */
static int worker_run(const struct worker_cfg *cfg, int report)
{
	struct sockaddr_in addrs[MAX_LISTENERS];
	int lfds[MAX_LISTENERS];
	long opened = 0, nl = cfg->listeners;
	int *fds, err = 0;

	fds = calloc((size_t)cfg->n * 2, sizeof(*fds));
	if (!fds) {
		fprintf(stderr, "connhold: out of memory\n");
		err = -ENOMEM;
		nl = 0;
		goto out_report;
	}
	for (long i = 0; i < nl; i++) {
		lfds[i] = listener_open(&addrs[i]);
		if (lfds[i] < 0) {
			err = lfds[i];
			fprintf(stderr, "connhold: cannot listen on 127.0.0.1: %s\n",
				strerror(-err));
			nl = i;
			goto out_close;
		}
	}
	for (; opened < cfg->n && !stop; opened++) {
		long l = opened % nl;
		err = pair_open(lfds[l], &addrs[l], cfg->ping, &fds[2 * opened]);
		if (err) {
			fprintf(stderr, "connhold: connection %ld to 127.0.0.1:%u: %s\n",
				opened + 1, ntohs(addrs[l].sin_port), strerror(-err));
			break;
		}
	}
	if (stop && !err)
		err = -EINTR;
out_report:
	if (write(report, err ? "-" : "+", 1) != 1)
		err = err ? err : -EIO;
	close(report);
	if (!err)
		wait_for_stop(cfg->hold_s, false);
out_close:
	pairs_close(fds, opened);
	for (long i = 0; i < nl; i++)
		close(lfds[i]);
	free(fds);
	return err ? 1 : 0;
}

/* Fork a worker for @cfg; its status byte arrives on *@rfd. */
static pid_t worker_start(const struct worker_cfg *cfg, int *rfd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		_exit(worker_run(cfg, p[1]));
	}
	close(p[1]);
	if (pid < 0)
		close(p[0]);
	*rfd = p[0];
	return pid;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: connhold -n N [-l LISTENERS] [--no-ping] [--hold S]\n"
		"\n"
		"Open N TCP connections on 127.0.0.1 (both ends in this process tree),\n"
		"print 'connhold: ready ...', hold them until stdin closes, a signal,\n"
		"or S seconds (default 300), then reset them. -l: listener ports per\n"
		"worker process (default: enough to use <= 70%% of the ephemeral range\n"
		"per port).\n"
		"\n"
		"examples:\n"
		"  connhold -n 10000 < fifo\n"
		"  connhold -n 100000 --hold 60\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "no-ping", no_argument, NULL, 'P' },
		{ "hold", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct worker_cfg cfg = { .ping = true, .hold_s = 300 };
	pid_t pids[MAX_WORKERS];
	int rfds[MAX_WORKERS];
	long n = 0, per_worker, nworkers, per_port, started = 0;
	int c, failed = 0;
	double t0;

	while ((c = getopt_long(argc, argv, "n:l:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'n': n = parse_long(optarg, 1, 10000000, "count"); break;
		case 'l': cfg.listeners = parse_long(optarg, 1, MAX_LISTENERS, "listeners"); break;
		case 'P': cfg.ping = false; break;
		case 'H': cfg.hold_s = parse_long(optarg, 1, 86400, "hold"); break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (!n || optind != argc) {
		usage();
		return 2;
	}
	/* two fds per connection; a worker keeps 64 fds spare */
	per_worker = (nofile_raise(2 * n + 64) - 64) / 2;
	if (per_worker < 1) {
		fprintf(stderr, "connhold: RLIMIT_NOFILE too low\n");
		return 1;
	}
	nworkers = (n + per_worker - 1) / per_worker;
	if (nworkers > MAX_WORKERS) {
		fprintf(stderr, "connhold: %ld connections need %ld processes at "
				"RLIMIT_NOFILE %ld (at most %d)\n", n, nworkers,
			2 * per_worker + 64, MAX_WORKERS);
		return 2;
	}
	per_worker = (n + nworkers - 1) / nworkers;
	per_port = (long)(PORT_SHARE * (double)ephemeral_ports());
	if (!cfg.listeners)
		cfg.listeners = (per_worker + per_port - 1) / per_port;
	if (cfg.listeners > MAX_LISTENERS) {
		fprintf(stderr, "connhold: too few ephemeral ports: widen "
				"net.ipv4.ip_local_port_range\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	t0 = now_s();
	/* one worker at a time: each opens its share, then the next starts */
	for (long left = n; left > 0 && !stop && !failed; started++) {
		char st = '-';
		cfg.n = left < per_worker ? left : per_worker;
		pids[started] = worker_start(&cfg, &rfds[started]);
		if (pids[started] < 0) {
			fprintf(stderr, "connhold: cannot fork: %s\n", strerror(errno));
			failed = 1;
			break;
		}
		if (read(rfds[started], &st, 1) != 1 || st != '+')
			failed = 1;
		close(rfds[started]);
		left -= cfg.n;
	}
	if (!failed && !stop) {
		printf("connhold: ready %ld connections in %ld processes over %ld "
		       "listener ports in %.2f s\n", n, started,
		       started * cfg.listeners, now_s() - t0);
		fflush(stdout);
		wait_for_stop(cfg.hold_s, true);
	}
	for (long i = 0; i < started; i++)
		kill(pids[i], SIGTERM);
	for (long i = 0; i < started; i++)
		waitpid(pids[i], NULL, 0);
	return failed ? 1 : 0;
}
