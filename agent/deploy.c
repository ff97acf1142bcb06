// SPDX-License-Identifier: BSD-2-Clause
/*
 * Deploys seen by the agent (deploy.h): a fingerprint of what each named
 * process runs, a version per service, and a deployments row when a
 * process starts running a version the service did not run.
 */
#include "deploy.h"
#include "store_write.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SCRIPT_HASH_MAX (1u << 20)	/* hash scripts up to 1 MiB by content */
#define SERVICES_MAX 1024		/* services tracked; more are not followed */
#define PROCS_MAX 64			/* live processes tracked per service */
#define PENDING_MAX 256			/* deployments waiting for a flush */
#define NAME_MAX_LEN 128
#define DEPLOY_SETTLE_NS (5 * 1000000000LL) /* a process this old is a service's */

struct proc {
	uint32_t tgid;
	char version[DEPLOY_VERSION_LEN];
	int64_t start_ns;	/* wall clock: process start, or its last exec */
	bool fresh;		/* started (or exec'd) while the agent watched */
	bool judged;		/* compared with the service's version already */
};

struct service {
	char name[NAME_MAX_LEN];
	char current[DEPLOY_VERSION_LEN];	/* "" until a process settled */
	uint32_t current_pid;			/* the last process judged running it */
	struct proc procs[PROCS_MAX];
	int nprocs;
};

struct pending {
	char service[NAME_MAX_LEN];
	char old_version[DEPLOY_VERSION_LEN];
	char new_version[DEPLOY_VERSION_LEN];
	int64_t at_ns;
	uint32_t pid, old_pid;
	char *detail;				/* JSON, owned */
};

struct deploy_tracker {
	const char *source;
	unsigned flush_s, window_s;
	char node[256];
	int64_t start_ns;		/* the agent's start, wall clock */
	uint64_t start_ticks;		/* the same, in /proc/PID/stat ticks since boot */
	int64_t boot_ns;		/* wall clock at boot */
	struct service *svcs;
	int nsvcs;
	struct pending pending[PENDING_MAX];
	int npending;
	uint64_t count;
	int schema_ok;			/* -1 unknown, 0 store < 6, 1 ok */
	/* the last script hashed, so a python process costs one stat later */
	char script_path[512];
	int64_t script_size, script_mtime_ns;
	uint64_t script_hash;
};

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < len && (n = read(fd, buf + total, len - (size_t)total)) > 0)
		total += n;
	close(fd);
	return total;
}

/* Start time of @tgid in clock ticks since boot (/proc/PID/stat field 22). */
static uint64_t proc_start_ticks(uint32_t tgid)
{
	char path[64], buf[1024], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/stat", tgid);
	n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');	/* comm may hold blanks and parentheses */
	if (!p)
		return 0;
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static int64_t boot_wall_ns(void)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000 + (rt.tv_nsec - bt.tv_nsec);
}

static bool is_interpreter(const char *exe)
{
	static const char *const names[] = { "python", "node", "ruby", "perl",
					     "php", "bash", "sh", "dash" };
	const char *b = strrchr(exe, '/');

	b = b ? b + 1 : exe;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(b, names[i], strlen(names[i])))
			return true;
	return false;
}

/* The script argument of an interpreter's argv (NUL-separated, @n bytes). */
static const char *script_arg(const char *cmd, ssize_t n)
{
	const char *arg = cmd + strlen(cmd) + 1;

	while (arg < cmd + n && *arg == '-') {
		if (!strcmp(arg, "-m") || !strcmp(arg, "-c"))
			return NULL;	/* a module or a string: no file */
		arg += strlen(arg) + 1;
	}
	return arg < cmd + n && *arg ? arg : NULL;
}

/* service.version from OTEL_RESOURCE_ATTRIBUTES into @out; false if none. */
static bool otel_version(uint32_t tgid, char *out)
{
	static const char rkey[] = "OTEL_RESOURCE_ATTRIBUTES=";
	char path[64], buf[32768];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/environ", tgid);
	n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = 0;
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(buf + off) + 1) {
		const char *p = buf + off;

		if (strncmp(p, rkey, sizeof(rkey) - 1))
			continue;
		for (p += sizeof(rkey) - 1; p && *p;) {
			const char *end = strchr(p, ',');
			size_t len = end ? (size_t)(end - p) : strlen(p);

			if (len > 16 && !strncmp(p, "service.version=", 16)) {
				len -= 16;
				if (len >= DEPLOY_VERSION_LEN)
					len = DEPLOY_VERSION_LEN - 1;
				memcpy(out, p + 16, len);
				out[len] = 0;
				return out[0] != 0;
			}
			p = end ? end + 1 : NULL;
		}
	}
	return false;
}

/* Hash of the script file (content up to 1 MiB, else size and mtime). */
static uint64_t script_hash(struct deploy_tracker *t, const char *path,
			    const struct stat *st)
{
	int64_t mt = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	uint64_t h = FNV_INIT;
	char *buf;
	ssize_t n;

	if (t && !strcmp(t->script_path, path) && t->script_size == st->st_size &&
	    t->script_mtime_ns == mt)
		return t->script_hash;
	if (st->st_size > SCRIPT_HASH_MAX || !(buf = malloc(SCRIPT_HASH_MAX))) {
		h = fnv(h, &st->st_size, sizeof(st->st_size));
		return fnv(h, &mt, sizeof(mt));
	}
	n = read_file(path, buf, SCRIPT_HASH_MAX);
	h = fnv(h, buf, n > 0 ? (size_t)n : 0);
	free(buf);
	if (t) {
		snprintf(t->script_path, sizeof(t->script_path), "%s", path);
		t->script_size = st->st_size;
		t->script_mtime_ns = mt;
		t->script_hash = h;
	}
	return h;
}

static int fingerprint(struct deploy_tracker *t, uint32_t tgid, char *out,
		       char **detail)
{
	char path[600], exe[512] = "", cmd[4096], script[600] = "";
	struct stat st = { 0 }, sst = { 0 };
	uint64_t h = FNV_INIT, sh = 0;
	char otel[DEPLOY_VERSION_LEN] = "";
	bool have_script = false;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/exe", tgid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0 || stat(path, &st))
		return -ESRCH;
	exe[n] = 0;
	snprintf(path, sizeof(path), "/proc/%u/cmdline", tgid);
	n = read_file(path, cmd, sizeof(cmd) - 1);
	if (n <= 0)
		return -ESRCH;
	cmd[n] = 0;
	h = fnv(h, exe, strlen(exe) + 1);
	h = fnv(h, &st.st_size, sizeof(st.st_size));
	h = fnv(h, &st.st_mtim, sizeof(st.st_mtim));
	h = fnv(h, cmd, (size_t)n);
	if (is_interpreter(exe)) {
		const char *arg = script_arg(cmd, n);

		if (arg) {
			if (arg[0] == '/')
				snprintf(script, sizeof(script), "%s", arg);
			else {
				char cwd[256] = "";
				ssize_t m;

				snprintf(path, sizeof(path), "/proc/%u/cwd", tgid);
				m = readlink(path, cwd, sizeof(cwd) - 1);
				cwd[m > 0 ? m : 0] = 0;
				snprintf(script, sizeof(script), "%s/%s", cwd, arg);
			}
			if (!stat(script, &sst) && S_ISREG(sst.st_mode)) {
				sh = script_hash(t, script, &sst);
				h = fnv(h, &sh, sizeof(sh));
				have_script = true;
			}
		}
	}
	if (otel_version(tgid, otel))
		snprintf(out, DEPLOY_VERSION_LEN, "%s", otel);
	else
		snprintf(out, DEPLOY_VERSION_LEN, "%012llx",
			 (unsigned long long)(h >> 16));
	if (detail) {
		char hex[32];
		json_t *j;

		for (ssize_t i = 0; i < n - 1; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)sh);
		j = json_pack("{s:s, s:I, s:I, s:s}", "exe", exe,
			      "exe_size", (json_int_t)st.st_size, "exe_mtime_ns",
			      (json_int_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
			      "cmdline", cmd);
		if (j && have_script) {
			json_object_set_new(j, "script", json_string(script));
			json_object_set_new(j, "script_hash", json_string(hex));
		}
		if (j && otel[0])
			json_object_set_new(j, "service_version", json_string(otel));
		*detail = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
	}
	return 0;
}

int deploy_fingerprint(uint32_t tgid, char *out, char **detail)
{
	return fingerprint(NULL, tgid, out, detail);
}

struct deploy_tracker *deploy_new(const char *source, unsigned flush_s,
				  unsigned window_s)
{
	struct deploy_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->svcs = calloc(SERVICES_MAX, sizeof(*t->svcs));
	if (!t->svcs) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->source = source;
	t->flush_s = flush_s;
	t->window_s = window_s;
	t->schema_ok = -1;
	if (gethostname(t->node, sizeof(t->node) - 1))
		snprintf(t->node, sizeof(t->node), "localhost");
	t->start_ns = wall_ns();
	t->boot_ns = boot_wall_ns();
	t->start_ticks = proc_start_ticks((uint32_t)getpid());
	return t;
}

void deploy_free(struct deploy_tracker *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->npending; i++)
		free(t->pending[i].detail);
	free(t->svcs);
	free(t);
}

uint64_t deploy_count(const struct deploy_tracker *t)
{
	return t->count;
}

static struct service *service_get(struct deploy_tracker *t, const char *name)
{
	for (int i = 0; i < t->nsvcs; i++)
		if (!strcmp(t->svcs[i].name, name))
			return &t->svcs[i];
	if (t->nsvcs == SERVICES_MAX)
		return NULL;
	struct service *s = &t->svcs[t->nsvcs++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

static bool alive(uint32_t tgid)
{
	return !kill((pid_t)tgid, 0) || errno == EPERM;
}

/* The wall-clock start of @tgid, 0 when unknown. */
static int64_t proc_start_ns(const struct deploy_tracker *t, uint32_t tgid,
			     uint64_t *ticks)
{
	*ticks = proc_start_ticks(tgid);
	if (!*ticks)
		return 0;
	return t->boot_ns + (int64_t)(*ticks * (1000000000ull /
				      (uint64_t)sysconf(_SC_CLK_TCK)));
}

void deploy_process(void *tracker, uint32_t tgid, const char *service)
{
	struct deploy_tracker *t = tracker;
	char version[DEPLOY_VERSION_LEN];
	struct service *s;
	struct proc *p = NULL;
	uint64_t ticks;

	if (!t || fingerprint(t, tgid, version, NULL) || !(s = service_get(t, service)))
		return;
	/* a process belongs to one service: the name it has now */
	for (int i = 0; i < t->nsvcs; i++) {
		struct service *o = &t->svcs[i];

		for (int j = 0; j < o->nprocs; j++) {
			if (o->procs[j].tgid != tgid)
				continue;
			if (o == s)
				p = &o->procs[j];
			else
				o->procs[j--] = o->procs[--o->nprocs];
		}
	}
	if (p && !strcmp(p->version, version))
		return;			/* nothing new about this process */
	if (p) {			/* it exec'd another program */
		p->start_ns = wall_ns();
		p->fresh = true;
	} else {
		if (s->nprocs == PROCS_MAX)
			return;
		p = &s->procs[s->nprocs++];
		p->tgid = tgid;
		p->start_ns = proc_start_ns(t, tgid, &ticks);
		p->fresh = ticks && ticks >= t->start_ticks;
		if (!p->start_ns)
			p->start_ns = wall_ns();
	}
	memcpy(p->version, version, sizeof(version));
	p->judged = false;
}

static void deploy_add(struct deploy_tracker *t, struct service *s,
		       const struct proc *p)
{
	struct pending *d = &t->pending[t->npending++];
	char version[DEPLOY_VERSION_LEN];

	memset(d, 0, sizeof(*d));
	snprintf(d->service, sizeof(d->service), "%s", s->name);
	memcpy(d->old_version, s->current, sizeof(d->old_version));
	memcpy(d->new_version, p->version, sizeof(d->new_version));
	d->pid = p->tgid;
	d->old_pid = s->current_pid;
	d->at_ns = p->start_ns;
	fingerprint(t, p->tgid, version, &d->detail);
	memcpy(s->current, p->version, sizeof(s->current));
	s->current_pid = p->tgid;
	t->count++;
}

/*
 * At a flush: forget dead processes; judge each process that has lived
 * DEPLOY_SETTLE_NS, once. Short-lived commands never settle, so they are
 * never a service's version; a replica that settled earlier never flips
 * the version back.
 */
static void deploy_judge(struct deploy_tracker *t, int64_t now)
{
	for (int i = 0; i < t->nsvcs; i++) {
		struct service *s = &t->svcs[i];
		int k = 0;

		for (int j = 0; j < s->nprocs; j++)
			if (alive(s->procs[j].tgid))
				s->procs[k++] = s->procs[j];
		s->nprocs = k;
		for (int j = 0; j < s->nprocs; j++) {
			struct proc *p = &s->procs[j];

			char v[DEPLOY_VERSION_LEN];

			if (p->judged || now - p->start_ns < DEPLOY_SETTLE_NS)
				continue;
			if (!fingerprint(t, p->tgid, v, NULL) && strcmp(v, p->version)) {
				/* it exec'd unseen: settle again */
				memcpy(p->version, v, sizeof(v));
				p->start_ns = now;
				p->fresh = true;
				continue;
			}
			p->judged = true;
			if (!s->current[0]) {	/* the baseline */
				memcpy(s->current, p->version, sizeof(s->current));
				s->current_pid = p->tgid;
				continue;
			}
			if (!strcmp(s->current, p->version)) {
				s->current_pid = p->tgid;
				continue;
			}
			if (!p->fresh || t->npending == PENDING_MAX)
				continue;	/* predates the agent: not a deploy we saw */
			deploy_add(t, s, p);
		}
	}
}

static int schema_check(struct deploy_tracker *t, sqlite3 *db)
{
	sqlite3_stmt *st;

	if (t->schema_ok >= 0)
		return t->schema_ok;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE "
			       "name IN ('deployments', 'agent_flushes')", -1, &st, NULL))
		return 0;
	t->schema_ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2;
	sqlite3_finalize(st);
	return t->schema_ok;
}

int deploy_flush(struct deploy_tracker *t, sqlite3 *db, uint64_t lost,
		 char *errbuf, size_t errlen)
{
	struct fl_sw w;
	int err = -EIO;

	errbuf[0] = 0;
	deploy_judge(t, wall_ns());
	if (!schema_check(t, db))
		return 0;
	fl_sw_init(&w, db, NULL);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
		goto out_release;
	for (int i = 0; i < t->npending; i++) {
		struct pending *p = &t->pending[i];
		struct fl_sw_deployment d = {
			.service = p->service, .old_version = p->old_version,
			.new_version = p->new_version, .at_ns = p->at_ns,
			.node = t->node, .source = "agent", .has_pids = true,
			.pid = p->pid, .old_pid = p->old_pid, .detail = p->detail,
		};

		if (fl_sw_deployment(&w, &d, NULL))
			goto out_rollback;
	}
	if (fl_sw_agent_flush(&w, t->node, t->source, wall_ns(), t->start_ns,
			      t->flush_s, t->window_s, (int64_t)lost) ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
		goto out_rollback;
	for (int i = 0; i < t->npending; i++)
		free(t->pending[i].detail);
	t->npending = 0;
	err = 0;
	goto out_release;
out_rollback:
	snprintf(errbuf, errlen, "cannot write deployments: %s", sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out_release:
	if (err && !errbuf[0])
		snprintf(errbuf, errlen, "cannot write deployments: %s",
			 sqlite3_errmsg(db));
	fl_sw_release(&w);
	return err;
}
