// SPDX-License-Identifier: BSD-2-Clause
#include "identity.h"
#include "k8s.h"
#include "procnet.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROC_CACHE_SIZE 4096	/* direct-mapped tgid -> name cache */
#define PROC_TTL_NS (10ull * 1000000000)
#define LISTEN_MAX 4096
#define LISTEN_REFRESH_NS (1000000000ull) /* on a miss for a remote address */
#define LISTEN_REFRESH_LOCAL_NS (100000000ull) /* for an address of this node */
#define OWNER_RETRY_NS (10ull * 1000000000) /* owner not in any /proc/PID/fd */

struct proc_entry {
	uint32_t tgid;
	uint64_t expires_ns;
	char name[FL_NAME_MAX];
	bool observed;		/* the observer was told (not by an exec) */
};

#define NETNS_MAX 64
#define NETNS_ADDRS 32

struct listener {
	uint8_t addr[16];	/* bound address; all zero for a wildcard */
	uint16_t port;
	uint16_t ns;		/* index in identity.netns */
	uint64_t inode;
	uint32_t tgid;		/* owner, 0 until resolved */
	uint64_t tried_ns;	/* last fd walk that did not find the owner, or 0 */
};

/* An unresolved listener, in the index the fd walk searches by inode. */
struct listen_ref {
	uint64_t inode;
	int idx;		/* in identity.listeners */
};

/* A network namespace, seen through one of its processes. */
struct netns {
	uint32_t pid;
	int naddrs;
	uint8_t addrs[NETNS_ADDRS][16]; /* its local addresses */
};

#define RULES_MAX 1024

struct rule {
	char name[FL_NAME_MAX];
	const char *kind;	/* static */
	char *exe, *cmdline, *cgroup; /* globs, NULL: any */
	uint16_t port;		/* 0: any */
};

/* The service name a process's environment gave at its exec (FL_EV_PROC_ENV). */
struct exec_name {
	uint32_t tgid;		/* 0: empty slot */
	char name[FL_NAME_MAX];
};

struct identity {
	struct rule *rules;
	int nrules;
	struct proc_entry procs[PROC_CACHE_SIZE];
	struct exec_name execs[PROC_CACHE_SIZE]; /* direct-mapped by tgid */
	struct listener listeners[LISTEN_MAX];
	int nlisteners;
	struct listener prev[LISTEN_MAX]; /* the last refresh's, by inode */
	struct listen_ref unowned[LISTEN_MAX]; /* the fd walk's, by inode */
	int nindex;			/* entries in unowned */
	int nunowned;			/* of which not found yet */
	bool diag_off;			/* no sock_diag: /proc/net/tcp (logged) */
	struct netns netns[NETNS_MAX];	/* [0]: the agent's own */
	int nnetns;
	int cur_ns;			/* namespace being read */
	uint64_t listen_read_ns;
	identity_observer_fn observer;	/* told of each live process named */
	void *observer_ctx;
	bool in_exec;			/* naming at exec: not a service yet */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct identity *identity_new(void)
{
	return calloc(1, sizeof(struct identity));
}

static void rules_free(struct rule *r, int n)
{
	for (int i = 0; i < n; i++) {
		free(r[i].exe);
		free(r[i].cmdline);
		free(r[i].cgroup);
	}
	free(r);
}

void identity_set_observer(struct identity *id, identity_observer_fn fn,
			   void *ctx)
{
	id->observer = fn;
	id->observer_ctx = ctx;
}

void identity_free(struct identity *id)
{
	if (!id)
		return;
	rules_free(id->rules, id->nrules);
	free(id);
}

/* Read a whole small /proc file; returns bytes read or -1. NUL-terminated. */
static ssize_t read_proc(uint32_t tgid, const char *file, char *buf, size_t len)
{
	char path[64];
	ssize_t n, total = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/%s", tgid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((size_t)total < len - 1 &&
	       (n = read(fd, buf + total, len - 1 - (size_t)total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	return total;
}

static void copy_name(char *out, const char *s, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < n && s[i] && j < FL_NAME_MAX - 1; i++) {
		unsigned char c = (unsigned char)s[i];
		out[j++] = (isalnum(c) || strchr("-_.@/", c)) ? (char)c : '_';
	}
	out[j] = 0;
}

/*
 * OTEL_SERVICE_NAME, or service.name inside OTEL_RESOURCE_ATTRIBUTES, in
 * the environment block @buf (@n bytes of NUL-terminated "K=V" strings;
 * the last one may be cut).
 */
static bool name_from_env_block(const char *buf, size_t n, char *out)
{
	static const char key[] = "OTEL_SERVICE_NAME=";
	static const char rkey[] = "OTEL_RESOURCE_ATTRIBUTES=";
	const char *attrs = NULL;
	size_t attrs_len = 0;

	for (size_t off = 0; off < n;) {
		const char *v = buf + off;
		size_t len = strnlen(v, n - off);
		if (len > sizeof(key) - 1 && !strncmp(v, key, sizeof(key) - 1)) {
			copy_name(out, v + sizeof(key) - 1, len - (sizeof(key) - 1));
			return out[0] != 0;
		}
		if (len >= sizeof(rkey) - 1 && !strncmp(v, rkey, sizeof(rkey) - 1)) {
			attrs = v + sizeof(rkey) - 1;
			attrs_len = len - (sizeof(rkey) - 1);
		}
		off += len + 1;
	}
	for (const char *p = attrs, *stop = attrs + attrs_len; p && p < stop;) {
		const char *end = memchr(p, ',', (size_t)(stop - p));
		size_t len = end ? (size_t)(end - p) : (size_t)(stop - p);
		if (len > 13 && !strncmp(p, "service.name=", 13)) {
			copy_name(out, p + 13, len - 13);
			return out[0] != 0;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* The same from /proc/@tgid/environ (what the process has not overwritten). */
static bool name_from_environ(uint32_t tgid, char *out)
{
	char buf[32768];
	ssize_t n = read_proc(tgid, "environ", buf, sizeof(buf));

	return n > 0 && name_from_env_block(buf, (size_t)n, out);
}

/* The parent of @tgid (its PPid), or 0. */
static uint32_t parent_of(uint32_t tgid)
{
	char buf[1024];
	const char *p;
	ssize_t n = read_proc(tgid, "status", buf, sizeof(buf));

	if (n <= 0 || !(p = strstr(buf, "\nPPid:")))
		return 0;
	return (uint32_t)strtoul(p + 7, NULL, 10);
}

/* The name @tgid's environment gave at its exec, or at its parent's when
 * it is a fork that did not exec (nginx workers, redis's children). */
static bool name_from_exec(struct identity *id, uint32_t tgid, char *out)
{
	for (int depth = 0; depth < 2 && tgid > 1; depth++) {
		const struct exec_name *x = &id->execs[tgid % PROC_CACHE_SIZE];
		if (x->tgid == tgid) {
			memcpy(out, x->name, FL_NAME_MAX);
			return true;
		}
		if (depth == 0) {
			char self[512], par[512], path[64];
			uint32_t pp = parent_of(tgid);
			ssize_t a, b;

			/* the same program image: a fork, not a new exec */
			snprintf(path, sizeof(path), "/proc/%u/exe", tgid);
			a = readlink(path, self, sizeof(self));
			snprintf(path, sizeof(path), "/proc/%u/exe", pp);
			b = readlink(path, par, sizeof(par));
			if (!pp || a <= 0 || a != b || memcmp(self, par, (size_t)a))
				return false;
			tgid = pp;
		}
	}
	return false;
}

void identity_exec_env(struct identity *id, uint32_t tgid, const char *env,
		       size_t len)
{
	struct exec_name *x = &id->execs[tgid % PROC_CACHE_SIZE];
	char name[FL_NAME_MAX];

	if (name_from_env_block(env, len, name)) {
		x->tgid = tgid;
		memcpy(x->name, name, FL_NAME_MAX);
	} else if (x->tgid == tgid) {
		x->tgid = 0;	/* an exec without one: forget the old name */
	}
}

size_t identity_env_filter(const char *env, size_t len, char *out, size_t outlen)
{
	size_t n = 0;

	for (size_t off = 0; off < len;) {
		const char *v = env + off;
		size_t l = strnlen(v, len - off);
		if (l >= 5 && !strncmp(v, "OTEL_", 5) && n + l + 1 <= outlen) {
			memcpy(out + n, v, l);
			out[n + l] = 0;
			n += l + 1;
		}
		off += l + 1;
	}
	return n;
}

void identity_exit(struct identity *id, uint32_t tgid)
{
	struct exec_name *x = &id->execs[tgid % PROC_CACHE_SIZE];

	if (x->tgid == tgid)
		x->tgid = 0;
}

/* A 64-hex container id inside @comp ("docker-<id>.scope", "<id>"). */
static const char *container_id(const char *comp)
{
	static const char *const prefixes[] = { "docker-", "cri-containerd-",
						"crio-", "libpod-" };
	const char *p = comp;

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(p, prefixes[i], strlen(prefixes[i])))
			p += strlen(prefixes[i]);
	if (strspn(p, "0123456789abcdef") == 64 &&
	    (p[64] == 0 || !strcmp(p + 64, ".scope")))
		return p;
	return NULL;
}

/* A systemd service unit or a container id from /proc/PID/cgroup. */
static bool name_from_cgroup(uint32_t tgid, char *out)
{
	char buf[4096], *save = NULL;

	if (read_proc(tgid, "cgroup", buf, sizeof(buf)) <= 0)
		return false;
	for (char *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *path = strchr(line, ':');
		path = path ? strchr(path + 1, ':') : NULL;
		/* walk components from the leaf up */
		for (char *c = path ? strrchr(path, '/') : NULL; c;
		     *c = 0, c = strrchr(path, '/')) {
			const char *comp = c + 1, *cid = container_id(comp);
			size_t len = strlen(comp);
			if (cid) {
				/* a Kubernetes pod: its workload (agent/k8s.h) */
				char pod[FL_NAME_MAX];
				char id64[65];
				memcpy(id64, cid, 64);
				id64[64] = 0;
				if (k8s_pod_of(NULL, id64, pod, NULL, NULL, sizeof(pod)))
					k8s_workload(pod, out, FL_NAME_MAX);
				else
					copy_name(out, cid, 12);
				return true;
			}
			if (len > 8 && !strcmp(comp + len - 8, ".service") &&
			    strncmp(comp, "user@", 5)) {
				copy_name(out, comp, len - 8);
				return true;
			}
		}
	}
	return false;
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static bool is_interpreter(const char *exe)
{
	static const char *const names[] = { "python", "node", "ruby", "perl",
					     "php", "bash", "sh", "dash" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(exe, names[i], strlen(names[i])))
			return true;
	return false;
}

/* For `python3 -u app.py` -> "app", `python3 -m pkg.mod` -> "pkg.mod". */
static bool name_from_script(const char *cmd, ssize_t n, char *out)
{
	const char *arg = cmd + strlen(cmd) + 1; /* skip argv[0] */

	while (arg < cmd + n && *arg == '-') {
		if (!strcmp(arg, "-m") || !strcmp(arg, "-c")) {
			const char *next = arg + strlen(arg) + 1;
			if (arg[1] == 'c' || next >= cmd + n)
				return false;
			copy_name(out, next, FL_NAME_MAX);
			return true;
		}
		arg += strlen(arg) + 1;
	}
	if (arg >= cmd + n || !*arg)
		return false;
	const char *b = base(arg), *dot = strrchr(b, '.');
	copy_name(out, b, dot && dot != b ? (size_t)(dot - b) : strlen(b));
	return out[0] != 0;
}

/* The program name: argv[0] as shown ("postgres: x y" -> "postgres"). */
static bool name_from_program(uint32_t tgid, char *out)
{
	char cmd[4096], exe[512];
	ssize_t n = read_proc(tgid, "cmdline", cmd, sizeof(cmd));
	ssize_t e;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%u/exe", tgid);
	e = readlink(path, exe, sizeof(exe) - 1);
	exe[e > 0 ? e : 0] = 0;
	if (n > 0 && e > 0 && is_interpreter(base(exe)) &&
	    name_from_script(cmd, n, out))
		return true;
	if (n > 0 && cmd[0]) {
		const char *b = base(strtok(cmd, " :"));
		copy_name(out, b, strlen(b));
		return out[0] != 0;
	}
	if (e > 0) {
		copy_name(out, base(exe), FL_NAME_MAX);
		return true;
	}
	return false;
}

int identity_process(struct identity *id, uint32_t tgid, const char *comm,
		     char *out)
{
	struct proc_entry *pe = &id->procs[tgid % PROC_CACHE_SIZE];
	uint64_t now = now_ns();
	bool live = true;

	if (pe->tgid == tgid && pe->expires_ns > now) {
		memcpy(out, pe->name, FL_NAME_MAX);
		if (!pe->observed && id->observer && !id->in_exec) {
			pe->observed = true;
			id->observer(id->observer_ctx, tgid, out);
		}
		return 0;
	}
	if (!identity_match(id, tgid, 0, out, NULL) &&
	    !name_from_exec(id, tgid, out) &&
	    !name_from_environ(tgid, out) && !name_from_cgroup(tgid, out) &&
	    !name_from_program(tgid, out)) {
		/* gone: its comm, cached too, so its next connections (a replay,
		 * a burst of events behind an exit) cost no /proc walk */
		live = false;
		if (comm && comm[0])
			copy_name(out, comm, 16);
		else
			snprintf(out, FL_NAME_MAX, "pid-%u", tgid);
		if (!comm || !comm[0])
			return -ESRCH; /* no name at all: not cached */
	}
	/* a process named at its exec is not known to be a service yet */
	pe->observed = live && !id->in_exec && id->observer;
	if (pe->observed)
		id->observer(id->observer_ctx, tgid, out);
	pe->tgid = tgid;
	pe->expires_ns = now + PROC_TTL_NS;
	memcpy(pe->name, out, FL_NAME_MAX);
	return 0;
}

static int add_listener(const struct procnet_sock *s, void *ctx)
{
	struct identity *id = ctx;
	struct listener *l;

	if (s->state != PROCNET_LISTEN)
		return 0;
	if (id->nlisteners == LISTEN_MAX)
		return 1;
	l = &id->listeners[id->nlisteners++];
	memcpy(l->addr, s->laddr, 16);
	l->port = s->lport;
	l->ns = (uint16_t)id->cur_ns;
	l->inode = s->inode;
	l->tgid = 0;
	l->tried_ns = 0;
	return 0;
}

static int by_inode(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static int by_listener_inode(const void *x, const void *y)
{
	const struct listener *a = x, *b = y;

	return a->inode < b->inode ? -1 : a->inode > b->inode;
}

/* The listeners of namespace @pid: sock_diag, else /proc/PID/net/tcp{,6}. */
static void read_listeners(struct identity *id, uint32_t pid)
{
	int start = id->nlisteners, err = -EOPNOTSUPP;

	if (!id->diag_off) {
		err = procnet_diag_foreach(pid, PROCNET_F(PROCNET_LISTEN),
					   add_listener, id);
		if (err == -EOPNOTSUPP) {
			id->diag_off = true;
			fprintf(stderr, "faultline-agent: sock_diag unavailable: "
				"listening sockets read from /proc/net/tcp\n");
		}
	}
	if (err >= 0 || err == -ESRCH)
		return;
	id->nlisteners = start; /* e.g. setns refused: this namespace by /proc */
	procnet_tcp_foreach_pid(pid, add_listener, id);
}

/* The fd walk's callback: the first process (in /proc order) holding an
 * unowned listener owns it; stops the walk once every one is found. */
static int own_listener(uint32_t tgid, int fd, uint64_t inode, void *ctx)
{
	struct identity *id = ctx;
	struct listen_ref key = { .inode = inode }, *r;
	struct listener *l;

	r = bsearch(&key, id->unowned, (size_t)id->nindex, sizeof(*r), by_inode);
	if (!r)
		return 0;
	l = &id->listeners[r->idx];
	if (!l->tgid) {
		l->tgid = tgid;
		id->nunowned--;
	}
	return id->nunowned == 0;
}

/* Is @tgid still a live process? (its listener may have outlived it) */
static bool alive(uint32_t tgid)
{
	return !kill((pid_t)tgid, 0) || errno == EPERM;
}

/*
 * Owners known from the last refresh stay while they live: the walk of
 * every process's fds (O(all fds on the node)) is only for listeners new
 * since, and one whose owner no walk finds (a kernel socket, a process in
 * a pid namespace we cannot see) is looked for again after OWNER_RETRY_NS.
 */
static void resolve_owners(struct identity *id, int nprev, uint64_t now)
{
	id->nindex = 0;
	for (int i = 0; i < id->nlisteners; i++) {
		struct listener *l = &id->listeners[i];
		const struct listener *old = bsearch(l, id->prev, (size_t)nprev,
						     sizeof(*old), by_listener_inode);
		if (old && old->tgid && alive(old->tgid)) {
			l->tgid = old->tgid;
			continue;
		}
		l->tried_ns = old ? old->tried_ns : 0;
		if (l->tried_ns && now - l->tried_ns < OWNER_RETRY_NS)
			continue;
		id->unowned[id->nindex].inode = l->inode;
		id->unowned[id->nindex++].idx = i;
	}
	if (!id->nindex)
		return;
	id->nunowned = id->nindex;
	qsort(id->unowned, (size_t)id->nindex, sizeof(*id->unowned), by_inode);
	procnet_fd_foreach(own_listener, id);
	for (int i = 0; i < id->nindex; i++) {
		struct listener *l = &id->listeners[id->unowned[i].idx];
		if (!l->tgid)
			l->tried_ns = now;
	}
}

static void refresh_listeners(struct identity *id)
{
	uint32_t pids[NETNS_MAX];
	int nprev = id->nlisteners;
	uint64_t now = now_ns();

	memcpy(id->prev, id->listeners, (size_t)nprev * sizeof(*id->prev));
	qsort(id->prev, (size_t)nprev, sizeof(*id->prev), by_listener_inode);
	id->nlisteners = 0;
	id->nnetns = procnet_netns(pids, NETNS_MAX);
	for (int i = 0; i < id->nnetns; i++)
		id->netns[i].pid = pids[i];
	for (id->cur_ns = 0; id->cur_ns < id->nnetns; id->cur_ns++) {
		struct netns *ns = &id->netns[id->cur_ns];
		read_listeners(id, ns->pid);
		ns->naddrs = procnet_local_addrs(ns->pid, ns->addrs, NETNS_ADDRS);
	}
	resolve_owners(id, nprev, now);
	id->listen_read_ns = now;
}

static bool netns_owns(const struct identity *id, int ns, const uint8_t a[16])
{
	const struct netns *n = &id->netns[ns];

	if (identity_is_local(a))
		return ns == 0;
	for (int i = 0; i < n->naddrs; i++)
		if (!memcmp(n->addrs[i], a, 16))
			return true;
	/* an address no namespace owns (NAT, a VIP): the agent's own binds */
	if (ns == 0) {
		for (int k = 0; k < id->nnetns; k++)
			for (int i = 0; i < id->netns[k].naddrs; i++)
				if (!memcmp(id->netns[k].addrs[i], a, 16))
					return false;
		return true;
	}
	return false;
}

static uint32_t find_listener(struct identity *id, const uint8_t addr[16],
			      uint16_t port)
{
	static const uint8_t any[16];
	static const uint8_t any4[16] = { [10] = 0xff, [11] = 0xff };
	uint32_t wildcard = 0;

	/* an exact bind wins; a wildcard bind counts in the namespace that
	 * owns @addr (loopback: the agent's own) */
	for (int i = 0; i < id->nlisteners; i++) {
		struct listener *l = &id->listeners[i];
		if (l->port != port || !l->tgid)
			continue;
		if (!memcmp(l->addr, addr, 16))
			return l->tgid;
		if ((!memcmp(l->addr, any, 16) || !memcmp(l->addr, any4, 16)) &&
		    (!wildcard || l->ns == 0) && netns_owns(id, l->ns, addr))
			wildcard = l->tgid;
	}
	return wildcard;
}

void identity_exec(struct identity *id, uint32_t tgid, const char *comm)
{
	struct proc_entry *pe = &id->procs[tgid % PROC_CACHE_SIZE];
	char name[FL_NAME_MAX];

	if (pe->tgid == tgid)
		pe->tgid = 0;
	id->in_exec = true;
	identity_process(id, tgid, comm, name);
	id->in_exec = false;
}

/* Is @a loopback or an address of one of the namespaces last read? */
static bool node_addr(const struct identity *id, const uint8_t a[16])
{
	if (identity_is_local(a))
		return true;
	for (int k = 0; k < id->nnetns; k++)
		for (int i = 0; i < id->netns[k].naddrs; i++)
			if (!memcmp(id->netns[k].addrs[i], a, 16))
				return true;
	return false;
}

uint32_t identity_listener(struct identity *id, const uint8_t addr[16],
			   uint16_t port)
{
	uint32_t tgid = find_listener(id, addr, port), now;
	uint64_t age = now_ns() - id->listen_read_ns;
	/* an owner that exited was replaced (a deploy) or is gone: read again */
	bool dead = tgid && !alive(tgid);

	/* a connection to this node proves a listener we have not read yet;
	 * a remote peer is found here only behind NAT: rarely worth a read */
	if ((tgid && !dead) || age < LISTEN_REFRESH_LOCAL_NS ||
	    (age < LISTEN_REFRESH_NS && !node_addr(id, addr)))
		return tgid;
	refresh_listeners(id);
	now = find_listener(id, addr, port);
	return now ? now : tgid;	/* none yet: the old name, as before */
}

bool identity_is_local(const uint8_t a[16])
{
	static const uint8_t lo6[16] = { [15] = 1 };

	if (!memcmp(a, lo6, 16))
		return true;
	return a[10] == 0xff && a[11] == 0xff && a[12] == 127;
}

void identity_addr_str(const uint8_t a[16], uint16_t port, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	static const uint8_t v4prefix[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(a, v4prefix, 12)) {
		inet_ntop(AF_INET, a + 12, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, port);
	} else {
		inet_ntop(AF_INET6, a, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, port);
	}
}

/* ---- the operator's mapping file ---------------------------------------- */

static const char *const kinds[] = { "service", "database", "cache", "queue",
				     "external" };

/* jansson keeps no positions on values: errors name the rule instead. */
static int rule_fail(char *err, size_t errlen, const char *path,
		     const char *fmt, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, what);
	snprintf(err, errlen, "%s: %s", path, msg);
	return -EINVAL;
}

static int rule_glob(json_t *match, const char *key, char **out)
{
	json_t *v = json_object_get(match, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || !json_string_length(v))
		return -EINVAL;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static int rule_parse(json_t *j, struct rule *r, int idx, const char *path,
		      char *err, size_t errlen)
{
	json_t *name = json_object_get(j, "name"), *kind = json_object_get(j, "kind");
	json_t *match = json_object_get(j, "match"), *port;
	char where[64];
	const char *key;
	json_t *v;

	snprintf(where, sizeof(where), "services[%d]", idx);
	if (!json_is_object(j))
		return rule_fail(err, errlen, path, "%s: not an object", where);
	if (!json_is_string(name) || !json_string_length(name) ||
	    json_string_length(name) >= FL_NAME_MAX)
		return rule_fail(err, errlen, path,
				 "%s: \"name\" must be a non-empty string", where);
	snprintf(r->name, sizeof(r->name), "%s", json_string_value(name));
	r->kind = kinds[0];
	if (kind) {
		size_t k = 0;
		while (k < 5 && (!json_is_string(kind) ||
				 strcmp(json_string_value(kind), kinds[k])))
			k++;
		if (k == 5)
			return rule_fail(err, errlen, path, "%s: \"kind\" must be "
					 "service, database, cache, queue or external", where);
		r->kind = kinds[k];
	}
	if (!json_is_object(match) || !json_object_size(match))
		return rule_fail(err, errlen, path,
				 "%s: \"match\" must be a non-empty object", where);
	json_object_foreach(match, key, v)
		if (strcmp(key, "exe") && strcmp(key, "cmdline") &&
		    strcmp(key, "cgroup") && strcmp(key, "port"))
			return rule_fail(err, errlen, path,
					 "unknown match key in %s", where);
	if (rule_glob(match, "exe", &r->exe) ||
	    rule_glob(match, "cmdline", &r->cmdline) ||
	    rule_glob(match, "cgroup", &r->cgroup))
		return rule_fail(err, errlen, path,
				 "%s: exe, cmdline and cgroup must be non-empty strings",
				 where);
	port = json_object_get(match, "port");
	if (port && (!json_is_integer(port) || json_integer_value(port) < 1 ||
		     json_integer_value(port) > 65535))
		return rule_fail(err, errlen, path,
				 "%s: \"port\" must be an integer 1..65535", where);
	r->port = port ? (uint16_t)json_integer_value(port) : 0;
	return 0;
}

int identity_load_rules(struct identity *id, const char *path, char *err,
			size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	json_t *list;
	struct rule *rules = NULL;
	int n = 0, ret = -EINVAL;

	if (!root) {
		if (jerr.line > 0)
			snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line,
				 jerr.column, jerr.text);
		else
			snprintf(err, errlen, "%s", jerr.text);
		return -EINVAL;
	}
	list = json_object_get(root, "services");
	if (!json_is_array(list) || json_array_size(list) > RULES_MAX) {
		rule_fail(err, errlen, path, "%s", "\"services\" must be an "
			  "array of at most 1024 rules");
		goto out_put;
	}
	rules = calloc(json_array_size(list) + 1, sizeof(*rules));
	if (!rules) {
		ret = -ENOMEM;
		goto out_put;
	}
	for (; n < (int)json_array_size(list); n++)
		if ((ret = rule_parse(json_array_get(list, (size_t)n), &rules[n], n,
				      path, err, errlen))) {
			n++; /* free what the failed rule allocated */
			goto out_put;
		}
	rules_free(id->rules, id->nrules);
	id->rules = rules;
	id->nrules = n;
	rules = NULL;
	memset(id->procs, 0, sizeof(id->procs)); /* names may change */
	ret = 0;
out_put:
	rules_free(rules, rules ? n : 0);
	json_decref(root);
	return ret;
}

static bool glob_cmdline(const char *glob, uint32_t tgid)
{
	char buf[4096];
	ssize_t n = read_proc(tgid, "cmdline", buf, sizeof(buf));

	for (ssize_t i = 0; i + 1 < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	return n > 0 && !fnmatch(glob, buf, 0);
}

static bool glob_cgroup(const char *glob, uint32_t tgid)
{
	char buf[4096], *save = NULL;

	if (read_proc(tgid, "cgroup", buf, sizeof(buf)) <= 0)
		return false;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *p = strchr(l, ':');
		p = p ? strchr(p + 1, ':') : NULL;
		if (p && !fnmatch(glob, p + 1, 0))
			return true;
	}
	return false;
}

static bool glob_exe(const char *glob, uint32_t tgid)
{
	char path[64], exe[512];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/exe", tgid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = 0;
	return !fnmatch(glob, exe, 0);
}

bool identity_match(struct identity *id, uint32_t tgid, uint16_t port,
		    char *out, const char **kind)
{
	for (int i = 0; i < id->nrules; i++) {
		const struct rule *r = &id->rules[i];
		if ((r->port && r->port != port) ||
		    ((r->exe || r->cmdline || r->cgroup) && !tgid) ||
		    (r->exe && !glob_exe(r->exe, tgid)) ||
		    (r->cmdline && !glob_cmdline(r->cmdline, tgid)) ||
		    (r->cgroup && !glob_cgroup(r->cgroup, tgid)))
			continue;
		memcpy(out, r->name, FL_NAME_MAX);
		if (kind)
			*kind = r->kind;
		return true;
	}
	return false;
}
