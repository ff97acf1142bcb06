// SPDX-License-Identifier: BSD-2-Clause
/*
 * The local sandbox driver (gate/sandbox.h, docs/gate.md "Sandbox").
 *
 * Processes: every command is forked, moved into its cgroup, into the
 * sandbox namespace (setns), into the stack's directory, and exec'd; an
 * exec failure comes back over a close-on-exec pipe, so "the command does
 * not start" is told apart from "it started and failed". Services are
 * left running when gatectl exits (warm); what runs is found again from
 * sandbox.json, checked against /proc (start time guards pid reuse) and
 * the cgroup. Stopping is by cgroup: SIGTERM to its processes, then
 * cgroup.kill, which cannot miss a forked grandchild.
 */
#include "sandbox/sandbox.h"
#include "sandbox/fault.h"

/* paths are built in PATH_MAX-sized buffers from parts checked at sb_open() */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

volatile sig_atomic_t sb_interrupted;

static void on_signal(int sig)
{
	sb_interrupted = sig;
}

void sb_signals_install(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int sb_fail(struct sandbox *sb, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int sb_fail(struct sandbox *sb, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sb->err, sizeof(sb->err), fmt, ap);
	va_end(ap);
	return err;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- /proc ---- */

/* Field 22 of /proc/PID/stat, 0 when gone or a zombie. */
static uint64_t proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	p += 2;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		st = strtoull(p, NULL, 10);
	return st;
}

/* Reap every exited child of ours (services started by this gatectl). */
static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static bool proc_alive(pid_t pid, uint64_t starttime)
{
	reap();
	return pid > 0 && starttime && proc_starttime(pid) == starttime;
}

/* ---- cgroups ---- */

static char cg_mnt[4096];

/* The cgroup v2 mount (hybrid hosts: /sys/fs/cgroup/unified). */
static int cg_mount(struct sandbox *sb)
{
	char line[8192];
	FILE *f;

	if (cg_mnt[0])
		return 0;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return sb_fail(sb, -errno, "cannot read /proc/self/mountinfo: %s",
			       strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - cgroup2 ");
		char mnt[4096];
		if (!sep)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
			snprintf(cg_mnt, sizeof(cg_mnt), "%s", mnt);
			break;
		}
	}
	fclose(f);
	if (!cg_mnt[0])
		return sb_fail(sb, -ENOENT, "no cgroup v2 hierarchy is mounted "
			       "(mount -t cgroup2 none /sys/fs/cgroup)");
	return 0;
}

static void cg_path(const struct sandbox *sb, const char *leaf, const char *file,
		    char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", sb->cgroup, leaf ? "/" : "", leaf ? leaf : "",
		 file ? "/" : "", file ? file : "");
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* The pids of cgroup @dir (cgroup.procs). OUT: @pids, at most @max. */
static size_t cg_pids(const char *dir, pid_t *pids, size_t max)
{
	char path[4200];
	size_t n = 0;
	FILE *f;
	int p;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (n < max && fscanf(f, "%d", &p) == 1)
		pids[n++] = p;
	fclose(f);
	return n;
}

/* Whether cgroup @dir or a descendant holds a process (cgroup.events). */
static bool cg_populated(const char *dir)
{
	char path[4200], buf[256];
	bool pop = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "populated ", 10))
			pop = buf[10] == '1';
	fclose(f);
	return pop;
}

/*
 * Stop every process of cgroup @dir and its descendants: SIGTERM to the
 * processes (@grace_s to exit), then cgroup.kill; waits until empty (5 s).
 */
static int cg_stop(const char *dir, double grace_s)
{
	pid_t pids[1024];
	char path[4200];
	double end;

	if (access(dir, F_OK))
		return 0;
	if (grace_s > 0) {
		size_t n = cg_pids(dir, pids, 1024);
		/* descendants: one level is what the sandbox makes */
		DIR *d = opendir(dir);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			n += cg_pids(path, pids + n, 1024 - n);
		}
		if (d)
			closedir(d);
		for (size_t i = 0; i < n; i++)
			kill(pids[i], SIGTERM);
		end = mono_s() + grace_s;
		while (cg_populated(dir) && mono_s() < end) {
			reap();
			nap_ms(10);
		}
	}
	snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
	if (cg_populated(dir) && write_file(path, "1"))
		return -EIO;
	end = mono_s() + 5;
	while (cg_populated(dir) && mono_s() < end) {
		reap();
		nap_ms(5);
	}
	reap();
	return cg_populated(dir) ? -EBUSY : 0;
}

/* Remove cgroup @dir and its child cgroups (they must be empty). */
static int cg_remove(const char *dir)
{
	char path[4200];
	struct dirent *de;
	DIR *d = opendir(dir);
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (rmdir(path) && errno != ENOENT)
			err = -errno;
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT)
		err = -errno;
	return err;
}

/* ---- namespace ---- */

static int run_quiet(char *const argv[])
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (!pid) {
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -EIO;
}

static bool ns_exists(const struct sandbox *sb)
{
	char path[256];

	snprintf(path, sizeof(path), "/run/netns/%s", sb->netns);
	return !access(path, F_OK);
}

static int ns_leave(struct sandbox *sb)
{
	if (sb->in_ns && setns(sb->host_ns_fd, CLONE_NEWNET))
		return -errno;
	sb->in_ns = false;
	if (sb->ns_fd >= 0)
		close(sb->ns_fd);
	sb->ns_fd = -1;
	return 0;
}

static int ns_enter(struct sandbox *sb)
{
	char path[256];

	if (sb->in_ns)
		return 0;
	snprintf(path, sizeof(path), "/run/netns/%s", sb->netns);
	sb->ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (sb->ns_fd < 0)
		return sb_fail(sb, -errno, "cannot open namespace '%s': %s", path,
			       strerror(errno));
	if (setns(sb->ns_fd, CLONE_NEWNET))
		return sb_fail(sb, -errno, "cannot enter namespace '%s': %s",
			       sb->netns, strerror(errno));
	sb->in_ns = true;
	return 0;
}

static int ns_create(struct sandbox *sb)
{
	char *add[] = { "ip", "netns", "add", sb->netns, NULL };
	char *lo[] = { "ip", "-n", sb->netns, "link", "set", "lo", "up", NULL };

	if (run_quiet(add) || run_quiet(lo))
		return sb_fail(sb, -EIO, "cannot create network namespace '%s' "
			       "(ip netns add)", sb->netns);
	return ns_enter(sb);
}

static int ns_delete(struct sandbox *sb)
{
	char *del[] = { "ip", "netns", "del", sb->netns, NULL };

	ns_leave(sb);
	if (ns_exists(sb) && run_quiet(del))
		return sb_fail(sb, -EIO, "cannot delete network namespace '%s'",
			       sb->netns);
	return 0;
}

/* ---- state file ---- */

static void state_path(const struct sandbox *sb, const char *f, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", sb->state_dir, f);
}

static json_t *argv_json(const struct fl_argv *a)
{
	json_t *j = json_array();

	for (size_t i = 0; j && i < a->n; i++)
		json_array_append_new(j, json_string(a->v[i]));
	return j;
}

static int state_write(struct sandbox *sb, const char *phase)
{
	char path[4200], tmp[4300];
	json_t *root, *svcs;
	int err = 0;

	root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:{s:i, s:I, s:s, s:s}, "
			 "s:f, s:[]}",
			 "name", sb->name, "phase", phase, "stack", sb->stack_path,
			 "netns", sb->netns, "cgroup", sb->cgroup, "owner", (int)getpid(),
			 "agent", "pid", (int)sb->agent_pid,
			 "starttime", (json_int_t)sb->agent_starttime,
			 "control", sb->control, "db", sb->db, "up_s", sb->up_s,
			 "services");
	if (!root)
		return sb_fail(sb, -ENOMEM, "out of memory");
	svcs = json_object_get(root, "services");
	for (size_t i = 0; i < sb->stack->nsvcs; i++) {
		const struct sb_service *s = &sb->svcs[i];
		json_array_append_new(svcs, json_pack(
			"{s:s, s:i, s:I, s:i, s:b, s:o, s:I}",
			"name", sb->stack->svcs[i].name, "pid", (int)s->pid,
			"starttime", (json_int_t)s->starttime, "restarts", s->restarts,
			"swapped", s->swapped, "cmd",
			s->cmd.n ? argv_json(&s->cmd) : json_null(),
			"started_ns", (json_int_t)s->started_ns));
	}
	state_path(sb, "sandbox.json", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(root, tmp, JSON_INDENT(2)) || chmod(tmp, 0600) ||
	    rename(tmp, path))
		err = sb_fail(sb, -EIO, "cannot write '%s': %s", path, strerror(errno));
	json_decref(root);
	return err;
}

static int argv_from_json(json_t *j, struct fl_argv *a)
{
	size_t i;
	json_t *e;

	memset(a, 0, sizeof(*a));
	if (!json_is_array(j) || !json_array_size(j))
		return -EINVAL;
	a->v = calloc(json_array_size(j) + 1, sizeof(*a->v));
	if (!a->v)
		return -ENOMEM;
	json_array_foreach(j, i, e) {
		if (!json_is_string(e) || !(a->v[i] = strdup(json_string_value(e)))) {
			fl_argv_release(a);
			return -EINVAL;
		}
		a->n++;
	}
	return 0;
}

/* Read sandbox.json; a missing or unreadable one is no state (phase none). */
static void state_read(struct sandbox *sb, char *phase, size_t plen, char *db,
		       size_t dblen)
{
	char path[4200];
	json_t *root, *svcs, *e;
	size_t i;

	snprintf(phase, plen, "none");
	db[0] = 0;
	state_path(sb, "sandbox.json", path, sizeof(path));
	root = json_load_file(path, 0, NULL);
	if (!root)
		return;
	snprintf(phase, plen, "%s", json_string_value(json_object_get(root, "phase")) ?: "none");
	json_t *ag = json_object_get(root, "agent");
	sb->agent_pid = (pid_t)json_integer_value(json_object_get(ag, "pid"));
	sb->agent_starttime = (uint64_t)json_integer_value(json_object_get(ag, "starttime"));
	snprintf(db, dblen, "%s", json_string_value(json_object_get(ag, "db")) ?: "");
	sb->up_s = json_number_value(json_object_get(root, "up_s"));
	svcs = json_object_get(root, "services");
	json_array_foreach(svcs, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		for (size_t k = 0; name && k < sb->stack->nsvcs; k++) {
			struct sb_service *s = &sb->svcs[k];
			if (strcmp(sb->stack->svcs[k].name, name))
				continue;
			s->pid = (pid_t)json_integer_value(json_object_get(e, "pid"));
			s->starttime = (uint64_t)json_integer_value(json_object_get(e, "starttime"));
			s->restarts = (int)json_integer_value(json_object_get(e, "restarts"));
			s->swapped = json_is_true(json_object_get(e, "swapped"));
			s->started_ns = json_integer_value(json_object_get(e, "started_ns"));
			fl_argv_release(&s->cmd);
			argv_from_json(json_object_get(e, "cmd"), &s->cmd);
		}
	}
	json_decref(root);
}

/* ---- open / close ---- */

static int mkdirs(const char *path, mode_t mode)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

int sb_open(struct sandbox *sb, const struct fl_stack *stack, const char *name,
	    const char *state_dir, const char *db)
{
	char path[4200], *real;
	int err;

	memset(sb, 0, sizeof(*sb));
	sb->stack = stack;
	sb->lock_fd = sb->host_ns_fd = sb->ns_fd = -1;
	sb->local = !stack->driver.set;
	name = name ?: stack->name;
	if (strlen(name) >= FL_STACK_NAME_MAX || !name[0] || strpbrk(name, "/ \t\n"))
		return sb_fail(sb, -EINVAL, "invalid sandbox name '%s'", name);
	snprintf(sb->name, sizeof(sb->name), "%s", name);
	snprintf(sb->netns, sizeof(sb->netns), "fl-%s", name);
	if (geteuid() != 0)
		return sb_fail(sb, -EPERM, "the sandbox needs root (network namespaces, "
			       "cgroups, the BPF agent): run gatectl with sudo");
	if (!(sb->svcs = calloc(stack->nsvcs, sizeof(*sb->svcs))))
		return sb_fail(sb, -ENOMEM, "out of memory");
	if (state_dir)
		snprintf(sb->state_dir, sizeof(sb->state_dir), "%s", state_dir);
	else
		snprintf(sb->state_dir, sizeof(sb->state_dir), SB_STATE_ROOT "/%s", name);
	if ((err = mkdirs(sb->state_dir, 0755)))
		return sb_fail(sb, err, "cannot create '%s': %s", sb->state_dir,
			       strerror(-err));
	state_path(sb, "logs", path, sizeof(path));
	mkdirs(path, 0755);
	state_path(sb, "data", path, sizeof(path));
	mkdirs(path, 0755);
	if (sb->local)
		snprintf(sb->control, sizeof(sb->control), "%s/agent.sock", sb->state_dir);
	else
		snprintf(sb->control, sizeof(sb->control), "%s",
			 stack->driver.control ? stack->driver.control : "");
	if (strlen(sb->control) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return sb_fail(sb, -ENAMETOOLONG, "state directory '%s' is too long for "
			       "a unix socket path", sb->state_dir);
	if (!(real = realpath(stack->path, NULL)))
		return sb_fail(sb, -errno, "cannot open '%s': %s", stack->path,
			       strerror(errno));
	snprintf(sb->stack_path, sizeof(sb->stack_path), "%s", real);
	free(real);
	if (db[0] == '/')
		snprintf(sb->db, sizeof(sb->db), "%s", db);
	else {
		char cwd[2048];
		if (!getcwd(cwd, sizeof(cwd)))
			return sb_fail(sb, -errno, "cannot read the working directory");
		snprintf(sb->db, sizeof(sb->db), "%s/%s", cwd, db);
	}
	if ((err = cg_mount(sb)))
		return err;
	snprintf(sb->cgroup_rel, sizeof(sb->cgroup_rel), "/faultline/%s", name);
	snprintf(sb->cgroup, sizeof(sb->cgroup), "%s%s", cg_mnt, sb->cgroup_rel);
	state_path(sb, "lock", path, sizeof(path));
	sb->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sb->lock_fd < 0)
		return sb_fail(sb, -errno, "cannot open '%s': %s", path, strerror(errno));
	while (flock(sb->lock_fd, LOCK_EX))
		if (errno != EINTR || sb_interrupted)
			return sb_fail(sb, -EINTR, "interrupted waiting for the lock of '%s'",
				       path);
	sb->host_ns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (sb->host_ns_fd < 0)
		return sb_fail(sb, -errno, "cannot open /proc/self/ns/net: %s",
			       strerror(errno));
	return 0;
}

void sb_close(struct sandbox *sb)
{
	ns_leave(sb);
	if (sb->host_ns_fd >= 0)
		close(sb->host_ns_fd);
	if (sb->lock_fd >= 0)
		close(sb->lock_fd);	/* releases the flock */
	for (size_t i = 0; sb->svcs && i < sb->stack->nsvcs; i++)
		fl_argv_release(&sb->svcs[i].cmd);
	free(sb->svcs);
	sb->svcs = NULL;
	sb->lock_fd = sb->host_ns_fd = -1;
}

void sb_log_path(const struct sandbox *sb, const char *what, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/logs/", sb->state_dir);

	if (n < 0 || (size_t)n >= len)
		return;
	snprintf(buf + n, len - (size_t)n, "%s.log", what);
	for (char *p = buf + n; *p; p++)
		if (*p == '/')
			*p = '_';
}

/* ---- spawning ---- */

/* The environment of a command: ours, STACK_STATE_DIR, then @a and @b. */
static char **env_build(const struct sandbox *sb, char *const *a, char *const *b)
{
	size_t n = 0, k = 0;
	char **env;

	for (char **e = environ; *e; e++)
		n++;
	for (char *const *e = a; e && *e; e++)
		n++;
	for (char *const *e = b; e && *e; e++)
		n++;
	env = calloc(n + 4, sizeof(*env));
	if (!env)
		return NULL;
	if (asprintf(&env[k++], "STACK_STATE_DIR=%s/data", sb->state_dir) < 0 ||
	    asprintf(&env[k++], "STACK_DIR=%s", sb->stack->dir) < 0) {
		free(env);
		return NULL;
	}
	/* later entries win: getenv() takes the first match, so add in reverse */
	for (char *const *e = b; e && *e; e++)
		env[k++] = *e;
	for (char *const *e = a; e && *e; e++)
		env[k++] = *e;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "STACK_STATE_DIR=", 16) && strncmp(*e, "STACK_DIR=", 10))
			env[k++] = *e;
	return env;
}

struct spawn {
	const char *cgroup_leaf;	/* under the sandbox cgroup */
	bool in_ns;			/* the sandbox namespace, else the host's */
	const char *cwd;
	const char *log;
	char *const *env_a, *const *env_b;
	bool setsid;			/* detached from our session (services) */
};

/*
 * Start @argv as @sp says. OUT: *@pid. Returns 0, -EINVAL (exec failed:
 * the program is missing or not executable; errno text in sb->err) or
 * -errno.
 */
static int spawn(struct sandbox *sb, const struct spawn *sp, const struct fl_argv *argv0,
		 pid_t *pid_out)
{
	char procs[4200], **env = NULL;
	struct fl_argv argv = { 0 };
	int pfd[2], child_err = 0, err = 0;
	char *vars[3] = { NULL };
	pid_t pid;

	if (asprintf(&vars[0], "STACK_STATE_DIR=%s/data", sb->state_dir) < 0 ||
	    asprintf(&vars[1], "STACK_DIR=%s", sb->stack->dir) < 0 ||
	    fl_argv_copy(argv0, vars, &argv) || !(env = env_build(sb, sp->env_a, sp->env_b))) {
		err = sb_fail(sb, -ENOMEM, "out of memory");
		goto out;
	}
	cg_path(sb, sp->cgroup_leaf, NULL, procs, sizeof(procs));
	if (mkdir(procs, 0755) && errno != EEXIST) {
		err = sb_fail(sb, -EIO, "cannot create cgroup '%s': %s", procs,
			      strerror(errno));
		goto out;
	}
	cg_path(sb, sp->cgroup_leaf, "cgroup.procs", procs, sizeof(procs));
	if (pipe2(pfd, O_CLOEXEC)) {
		err = sb_fail(sb, -errno, "pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		err = sb_fail(sb, -errno, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		goto out;
	}
	if (!pid) {
		sigset_t all;
		int e, fd;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		/* nothing of ours leaks into a service that outlives us (a
		 * caller's flock on the host lock, the store, sockets) */
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		if (sp->setsid)
			setsid();
		else
			setpgid(0, 0);
		if (write_file(procs, "0") ||
		    setns(sp->in_ns ? sb->ns_fd : sb->host_ns_fd, CLONE_NEWNET) ||
		    chdir(sp->cwd))
			goto child_fail;
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0)
			goto child_fail;
		fd = open(sp->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			goto child_fail;
		execvpe(argv.v[0], argv.v, env);
child_fail:
		e = errno;
		if (write(pfd[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(pfd[1]);
	while (read(pfd[0], &child_err, sizeof(child_err)) < 0 && errno == EINTR)
		;
	close(pfd[0]);
	if (child_err) {
		waitpid(pid, NULL, 0);
		err = sb_fail(sb, -EINVAL, "cannot start '%s': %s", argv.v[0],
			      strerror(child_err));
		goto out;
	}
	*pid_out = pid;
out:
	free(vars[0]);
	free(vars[1]);
	if (env) {
		free(env[0]);
		free(env[1]);
		free(env);
	}
	fl_argv_release(&argv);
	return err;
}

/* ---- readiness ---- */

/* Does a socket LISTEN on @port in our namespace (/proc/net/tcp{,6})? */
static bool listening(int port)
{
	static const char *const files[] = { "/proc/thread-self/net/tcp",
					     "/proc/thread-self/net/tcp6" };
	char line[512];

	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char local[128];
			unsigned st;
			if (sscanf(line, " %*d: %127s %*s %x", local, &st) != 2 || st != 0x0A)
				continue;
			char *colon = strrchr(local, ':');
			if (colon && (int)strtol(colon + 1, NULL, 16) == port) {
				fclose(f);
				return true;
			}
		}
		fclose(f);
	}
	return false;
}

/* GET @path on 127.0.0.1:@port answers 2xx (1 s per try). */
static bool http_ok(int port, const char *path)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 1, 0 };
	char req[512], buf[64];
	ssize_t n;
	int fd, code = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n"
		 "User-Agent: gatectl-ready\r\n\r\n", path);
	if (!connect(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    write(fd, req, strlen(req)) == (ssize_t)strlen(req) &&
	    (n = read(fd, buf, sizeof(buf) - 1)) > 12) {
		buf[n] = 0;
		sscanf(buf, "HTTP/%*d.%*d %d", &code);
	}
	close(fd);
	return code >= 200 && code < 300;
}

/* The child @pid exited? OUT: *@status (raw wait status). */
static bool child_exited(pid_t pid, int *status)
{
	return waitpid(pid, status, WNOHANG) == pid;
}

static void describe_exit(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "was killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "ended");
}

/* Wait until service @i is ready, or died, or its deadline passed. */
static int wait_ready(struct sandbox *sb, size_t i)
{
	const struct fl_stack_service *sv = &sb->stack->svcs[i];
	double end = mono_s() + sv->ready_timeout_s;
	pid_t pid = sb->svcs[i].pid;
	char log[4200], how[64];
	int st;

	sb_log_path(sb, sv->name, log, sizeof(log));
	for (;;) {
		if (sb_interrupted)
			return sb_fail(sb, -EINTR, "interrupted");
		bool gone = child_exited(pid, &st);
		if (gone || !proc_starttime(pid)) {
			if (gone)
				describe_exit(st, how, sizeof(how));
			else
				snprintf(how, sizeof(how), "exited");
			sb->svcs[i].pid = 0;
			return sb_fail(sb, -EINVAL, "service '%s' %s before it was ready "
				       "(log: %s)", sv->name, how, log);
		}
		if (listening(sv->ready_port) &&
		    (sv->ready != FL_READY_HTTP || http_ok(sv->ready_port, sv->ready_path)))
			return 0;
		if (mono_s() > end)
			return sb_fail(sb, -ETIMEDOUT, "service '%s' was not ready within "
				       "%g s (%s on port %d; log: %s)", sv->name,
				       sv->ready_timeout_s,
				       sv->ready == FL_READY_HTTP ? "GET" : "listening",
				       sv->ready_port, log);
		nap_ms(20);
	}
}

/* ---- services ---- */

static int svc_spawn(struct sandbox *sb, size_t i, const struct fl_argv *argv)
{
	const struct fl_stack_service *sv = &sb->stack->svcs[i];
	struct sb_service *s = &sb->svcs[i];
	char log[4200], *otel[2] = { NULL };
	struct spawn sp = {
		.cgroup_leaf = sv->name, .in_ns = true, .cwd = sb->stack->dir,
		.log = log, .env_a = sv->env, .setsid = true,
	};
	bool has_otel = false;
	int err;

	for (size_t k = 0; k < sv->nenv; k++)
		has_otel |= !strncmp(sv->env[k], "OTEL_SERVICE_NAME=", 18);
	if (!has_otel && asprintf(&otel[0], "OTEL_SERVICE_NAME=%s", sv->name) < 0)
		return sb_fail(sb, -ENOMEM, "out of memory");
	sp.env_b = otel;
	sb_log_path(sb, sv->name, log, sizeof(log));
	err = spawn(sb, &sp, argv, &s->pid);
	free(otel[0]);
	if (err)
		return err;
	s->starttime = 0;
	for (int t = 0; t < 100 && !s->starttime; t++)
		s->starttime = proc_starttime(s->pid);
	s->started_ns = wall_ns();
	fl_argv_release(&s->cmd);
	if (fl_argv_copy(argv, NULL, &s->cmd))
		return sb_fail(sb, -ENOMEM, "out of memory");
	return 0;
}

static int svc_start(struct sandbox *sb, size_t i, const struct fl_argv *argv)
{
	int err = svc_spawn(sb, i, argv);

	return err ? err : wait_ready(sb, i);
}

static int svc_stop(struct sandbox *sb, size_t i)
{
	char dir[4200];

	cg_path(sb, sb->stack->svcs[i].name, NULL, dir, sizeof(dir));
	if (cg_stop(dir, 3))
		return sb_fail(sb, -EIO, "cannot stop service '%s' (cgroup %s)",
			       sb->stack->svcs[i].name, dir);
	sb->svcs[i].pid = 0;
	sb->svcs[i].starttime = 0;
	return 0;
}

bool sb_alive(struct sandbox *sb, size_t i)
{
	if (!sb->local)
		return true;	/* the driver's business */
	return proc_alive(sb->svcs[i].pid, sb->svcs[i].starttime);
}

static int run_setup(struct sandbox *sb, size_t i)
{
	const struct fl_stack_service *sv = &sb->stack->svcs[i];
	char log[4200], what[128], how[64];
	struct spawn sp = { .cgroup_leaf = "_setup", .in_ns = true,
			    .cwd = sb->stack->dir, .log = log, .env_a = sv->env };
	int err, st;

	snprintf(what, sizeof(what), "setup-%s", sv->name);
	sb_log_path(sb, what, log, sizeof(log));
	for (size_t k = 0; k < sv->nsetup; k++) {
		pid_t pid;
		double end = mono_s() + sv->ready_timeout_s;
		if ((err = spawn(sb, &sp, &sv->setup[k], &pid)))
			return err;
		while (!child_exited(pid, &st)) {
			if (sb_interrupted || mono_s() > end) {
				kill(-pid, SIGKILL);
				waitpid(pid, &st, 0);
				return sb_fail(sb, sb_interrupted ? -EINTR : -ETIMEDOUT,
					       "setup of '%s' %s (log: %s)", sv->name,
					       sb_interrupted ? "interrupted" : "timed out", log);
			}
			nap_ms(10);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			describe_exit(st, how, sizeof(how));
			return sb_fail(sb, -EIO, "setup of '%s' %s (log: %s)", sv->name, how,
				       log);
		}
	}
	return 0;
}

/* ---- the agent ---- */

static int agent_path(struct sandbox *sb, char *buf, size_t len)
{
	const char *env = getenv("FAULTLINE_AGENT");
	char self[4096];
	ssize_t n;

	if (env && env[0]) {
		snprintf(buf, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return sb_fail(sb, -errno, "cannot find gatectl's own path");
	self[n] = 0;
	*strrchr(self, '/') = 0;
	snprintf(buf, len, "%s/faultline-agent", self);
	if (access(buf, X_OK))
		return sb_fail(sb, -ENOENT, "no agent at '%s' (set FAULTLINE_AGENT)", buf);
	return 0;
}

static int write_mapping(struct sandbox *sb, char *path, size_t len)
{
	json_t *root = json_pack("{s:[]}", "services"), *list;
	char glob[600];
	int err = 0;

	if (!root)
		return sb_fail(sb, -ENOMEM, "out of memory");
	list = json_object_get(root, "services");
	for (size_t i = 0; i < sb->stack->nsvcs; i++) {
		snprintf(glob, sizeof(glob), "*%s/%s", sb->cgroup_rel, sb->stack->svcs[i].name);
		json_array_append_new(list, json_pack("{s:s, s:s, s:{s:s}}",
			"name", sb->stack->svcs[i].name, "kind", sb->stack->svcs[i].kind,
			"match", "cgroup", glob));
	}
	/* a peer nothing listens on (a refused connect) is named by its port:
	 * in the sandbox's namespace a port is exactly one service */
	for (size_t i = 0; i < sb->stack->nsvcs; i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:{s:i}}",
			"name", sb->stack->svcs[i].name, "kind", sb->stack->svcs[i].kind,
			"match", "port", sb->stack->svcs[i].port));
	snprintf(glob, sizeof(glob), "*%s/_test", sb->cgroup_rel);
	json_array_append_new(list, json_pack("{s:s, s:{s:s}}", "name", SB_TEST_CLIENT,
					      "match", "cgroup", glob));
	state_path(sb, "services.json", path, len);
	if (json_dump_file(root, path, JSON_INDENT(2)))
		err = sb_fail(sb, -EIO, "cannot write '%s'", path);
	json_decref(root);
	return err;
}

static int agent_start(struct sandbox *sb)
{
	char bin[4096], map[4200], log[4200], reply[512];
	struct spawn sp = { .cgroup_leaf = "_agent", .in_ns = false,
			    .cwd = sb->state_dir, .log = log, .setsid = true };
	int err;

	if ((err = agent_path(sb, bin, sizeof(bin))) ||
	    (err = write_mapping(sb, map, sizeof(map))))
		return err;
	unlink(sb->control);
	sb_log_path(sb, "agent", log, sizeof(log));
	char *v[] = { bin, "--db", sb->db, "--source", "test", "--netns", sb->netns,
		      "--control", sb->control, "--services", map, "--flush-interval",
		      "1", NULL };
	struct fl_argv argv = { v, sizeof(v) / sizeof(v[0]) - 1 };
	if ((err = spawn(sb, &sp, &argv, &sb->agent_pid)))
		return err;
	sb->agent_starttime = proc_starttime(sb->agent_pid);
	double end = mono_s() + 30;
	for (;;) {
		int st;
		if (sb_interrupted)
			return sb_fail(sb, -EINTR, "interrupted");
		if (child_exited(sb->agent_pid, &st)) {
			sb->agent_pid = 0;
			return sb_fail(sb, -EIO, "the sandbox agent exited at start (log: %s)",
				       log);
		}
		if (!access(sb->control, F_OK) &&
		    !sb_control(sb, "status", reply, sizeof(reply)))
			return 0;
		if (mono_s() > end)
			return sb_fail(sb, -EIO, "the sandbox agent did not answer on '%s' "
				       "within 30 s (log: %s)", sb->control, log);
		nap_ms(50);
	}
}

static bool agent_alive(struct sandbox *sb)
{
	return proc_alive(sb->agent_pid, sb->agent_starttime);
}

int sb_control(struct sandbox *sb, const char *line, char *reply, size_t len)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { 30, 0 };
	size_t n = 0;
	int fd, err = 0;

	reply[0] = 0;
	if (!sb->control[0])
		return sb_fail(sb, -EINVAL, "the stack's driver names no \"control\" socket of "
			       "its agent: learn and gate need one");
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sb->control);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sb_fail(sb, -errno, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		err = sb_fail(sb, -EIO, "cannot reach the sandbox agent on '%s': %s",
			      sb->control, strerror(errno));
		goto out;
	}
	if (dprintf(fd, "%s\n", line) < 0) {
		err = sb_fail(sb, -EIO, "cannot write to '%s'", sb->control);
		goto out;
	}
	while (n + 1 < len) {
		ssize_t r = read(fd, reply + n, 1);
		if (r < 0 && errno == EINTR && !sb_interrupted)
			continue;
		if (r <= 0 || reply[n] == '\n')
			break;
		n++;
	}
	reply[n] = 0;
	if (strncmp(reply, "ok", 2))
		err = sb_fail(sb, reply[0] ? -EPROTO : -EIO, "the sandbox agent answered "
			      "'%s' to '%s'", reply, line);
out:
	close(fd);
	return err;
}

/* ---- up / down ---- */

/* ---- the hook driver ---- */

/*
 * Run hook @hook with @svc (and @argv) appended, in the stack's directory,
 * host namespace, cgroup _hook; SANDBOX_NAME in its environment. Its
 * output goes to logs/hook.log; exit 0 is success.
 */
static int hook_run(struct sandbox *sb, const char *what, const struct fl_argv *hook,
		    const char *svc, const struct fl_argv *argv)
{
	char log[4200], env_name[128], *env[] = { env_name, NULL }, how[64];
	struct spawn sp = { .cgroup_leaf = "_hook", .in_ns = false, .cwd = sb->stack->dir,
			    .log = log, .env_a = env };
	struct fl_argv a = { 0 };
	double end = mono_s() + 600;
	pid_t pid;
	int err, st;

	snprintf(env_name, sizeof(env_name), "SANDBOX_NAME=%s", sb->name);
	sb_log_path(sb, "hook", log, sizeof(log));
	if (fl_argv_copy(hook, NULL, &a))
		return sb_fail(sb, -ENOMEM, "out of memory");
	for (size_t i = 0; svc && i < 1 + (argv ? argv->n : 0); i++) {
		char **v = realloc(a.v, (a.n + 2) * sizeof(*v));
		if (!v || !(v[a.n] = strdup(i ? argv->v[i - 1] : svc))) {
			if (v)
				a.v = v;
			fl_argv_release(&a);
			return sb_fail(sb, -ENOMEM, "out of memory");
		}
		a.v = v;
		v[++a.n] = NULL;
	}
	err = mkdirs(sb->cgroup, 0755);
	if (!err)
		err = spawn(sb, &sp, &a, &pid);
	fl_argv_release(&a);
	if (err)
		return err;
	while (!child_exited(pid, &st)) {
		if (sb_interrupted || mono_s() > end) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			return sb_fail(sb, sb_interrupted ? -EINTR : -ETIMEDOUT,
				       "the driver's %s hook %s (log: %s)", what,
				       sb_interrupted ? "was interrupted" : "timed out", log);
		}
		nap_ms(10);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		describe_exit(st, how, sizeof(how));
		return sb_fail(sb, -EIO, "the driver's %s hook %s (log: %s)", what, how, log);
	}
	return 0;
}

static int driver_down(struct sandbox *sb)
{
	char phase[32], db[4096], path[4200];
	int err = 0;

	state_read(sb, phase, sizeof(phase), db, sizeof(db));
	if (strcmp(phase, "none"))
		err = hook_run(sb, "down", &sb->stack->driver.down, NULL, NULL);
	if (cg_stop(sb->cgroup, 3) || cg_remove(sb->cgroup))
		err = err ? err : sb_fail(sb, -EIO, "cannot remove cgroup '%s'", sb->cgroup);
	state_path(sb, "sandbox.json", path, sizeof(path));
	if (!err)
		unlink(path);
	sb->up = false;
	return err;
}

static int driver_up(struct sandbox *sb, bool *cold)
{
	char phase[32], db[4096];
	double t0 = mono_s();
	int err;

	state_read(sb, phase, sizeof(phase), db, sizeof(db));
	if (!strcmp(phase, "up")) {
		for (size_t i = 0; i < sb->stack->nsvcs; i++)
			if (sb->svcs[i].swapped &&
			    (err = hook_run(sb, "restore", &sb->stack->driver.restore,
					    sb->stack->svcs[i].name, NULL)))
				return err;
			else
				sb->svcs[i].swapped = false;
		sb->up = true;
		return state_write(sb, "up");
	}
	*cold = true;
	if ((err = state_write(sb, "starting")) ||
	    (err = hook_run(sb, "up", &sb->stack->driver.up, NULL, NULL)))
		return err;
	sb->up_s = mono_s() - t0;
	sb->up = true;
	return state_write(sb, "up");
}

int sb_down(struct sandbox *sb)
{
	if (!sb->local)
		return driver_down(sb);
	{
	char path[4200];
	int err = 0;

	if (agent_alive(sb)) {
		kill(sb->agent_pid, SIGINT);
		for (int t = 0; t < 1000 && agent_alive(sb); t++)
			nap_ms(10);
	}
	if (cg_stop(sb->cgroup, 3) || cg_remove(sb->cgroup))
		err = sb_fail(sb, -EIO, "cannot remove cgroup '%s'", sb->cgroup);
	char parent[4200];
	snprintf(parent, sizeof(parent), "%s/faultline", cg_mnt);
	rmdir(parent);	/* only when no other sandbox uses it */
	if (ns_delete(sb))
		err = -EIO;
	unlink(sb->control);
	state_path(sb, "sandbox.json", path, sizeof(path));
	unlink(path);
	state_path(sb, "services.json", path, sizeof(path));
	unlink(path);
	sb->agent_pid = 0;
	sb->agent_starttime = 0;
	for (size_t i = 0; i < sb->stack->nsvcs; i++) {
		sb->svcs[i].pid = 0;
		sb->svcs[i].swapped = false;
		sb->svcs[i].restarts = 0;
	}
	sb->up = false;
	return err;
	}
}

static int up_cold(struct sandbox *sb)
{
	double t0 = mono_s();
	int err;

	if ((err = state_write(sb, "starting")) || (err = ns_create(sb)) ||
	    mkdirs(sb->cgroup, 0755)) {
		if (!err)
			err = sb_fail(sb, -EIO, "cannot create cgroup '%s': %s", sb->cgroup,
				      strerror(errno));
		return err;
	}
	/* all at once (services connect to their peers lazily, docs/stack.md),
	 * then each waited for in order and set up as soon as it is ready */
	for (size_t i = 0; i < sb->stack->nsvcs; i++) {
		if ((err = svc_spawn(sb, i, &sb->stack->svcs[i].cmd)))
			return err;
		sb->svcs[i].swapped = false;
	}
	if ((err = state_write(sb, "starting")))
		return err;
	for (size_t i = 0; i < sb->stack->nsvcs; i++)
		if ((err = wait_ready(sb, i)) || (err = run_setup(sb, i)))
			return err;
	if ((err = agent_start(sb)))
		return err;
	sb->up_s = mono_s() - t0;
	sb->up = true;
	return state_write(sb, "up");
}

/* A warm sandbox: check and repair. -ESTALE when it must start cold. */
static int up_warm(struct sandbox *sb)
{
	int err;

	if (!ns_exists(sb) || access(sb->cgroup, F_OK) || !agent_alive(sb))
		return -ESTALE;
	if ((err = ns_enter(sb)))
		return err;
	for (size_t i = 0; i < sb->stack->nsvcs; i++) {
		struct sb_service *s = &sb->svcs[i];
		if (!s->swapped && sb_alive(sb, i))
			continue;
		/* dead, or swapped by a gatectl that never restored it */
		if ((err = svc_stop(sb, i)))
			return err;
		bool died = !s->swapped;
		if (died)
			s->restarts++;
		s->swapped = false;
		/* a service that died may have lost what its setup seeded */
		if ((err = svc_start(sb, i, &sb->stack->svcs[i].cmd)) ||
		    (died && (err = run_setup(sb, i))) || (err = state_write(sb, "up")))
			return err;
	}
	sb->up = true;
	return 0;
}

/* Remove the faults a killed `gatectl deep` left in the namespace. */
static int up_sweep_faults(struct sandbox *sb)
{
	char ns[128], err[256];
	unsigned n;

	snprintf(ns, sizeof(ns), "/run/netns/%s", sb->netns);
	if (fl_fault_sweep(ns, &n, err, sizeof(err)))
		return sb_fail(sb, -EIO, "cannot remove leftover faults: %s", err);
	if (n)
		fprintf(stderr, "gatectl: removed %u fault(s) a killed run left in '%s'\n",
			n, sb->netns);
	return 0;
}

int sb_up(struct sandbox *sb, bool *cold)
{
	char phase[32], db[4096];
	int err;

	*cold = false;
	if (!sb->local)
		return driver_up(sb, cold);
	state_read(sb, phase, sizeof(phase), db, sizeof(db));
	if (!strcmp(phase, "up") && db[0] && strcmp(db, sb->db))
		return sb_fail(sb, -EINVAL, "sandbox '%s' records into '%s', not '%s' "
			       "(use that --db, or 'gatectl sandbox down' first)",
			       sb->name, db, sb->db);
	if (!strcmp(phase, "up")) {
		err = up_warm(sb);
		if (!err)
			err = up_sweep_faults(sb);
		if (err != -ESTALE)
			return err;
	}
	/* nothing, or what a failed or killed gatectl left: remove it all */
	sb_down(sb);
	*cold = true;
	err = up_cold(sb);
	if (err) {
		char keep[sizeof(sb->err)];
		memcpy(keep, sb->err, sizeof(keep));
		sb_down(sb);
		memcpy(sb->err, keep, sizeof(keep));
	}
	return err;
}

int sb_swap(struct sandbox *sb, size_t i, const struct fl_argv *argv)
{
	char keep[sizeof(sb->err)];
	int err;

	if (!sb->local) {
		sb->svcs[i].swapped = true;
		if ((err = state_write(sb, "up")) ||
		    (err = hook_run(sb, "swap", &sb->stack->driver.swap,
				    sb->stack->svcs[i].name, argv)))
			return err == -EIO ? sb_fail(sb, -EINVAL, "%s", sb->err) : err;
		return 0;
	}
	if ((err = svc_stop(sb, i)))
		return err;
	sb->svcs[i].swapped = true;
	if ((err = state_write(sb, "up")))
		return err;
	err = svc_start(sb, i, argv);
	if (!err)
		return state_write(sb, "up");
	memcpy(keep, sb->err, sizeof(keep));
	svc_stop(sb, i);
	if (!sb_interrupted)
		sb_restore(sb, i);
	memcpy(sb->err, keep, sizeof(keep));
	return err;
}

int sb_restore(struct sandbox *sb, size_t i)
{
	int err;

	if (!sb->local) {
		if (!sb->svcs[i].swapped)
			return 0;
		if ((err = hook_run(sb, "restore", &sb->stack->driver.restore,
				    sb->stack->svcs[i].name, NULL)))
			return err;
		sb->svcs[i].swapped = false;
		return state_write(sb, "up");
	}
	if (!sb->svcs[i].swapped && sb_alive(sb, i))
		return 0;
	if ((err = svc_stop(sb, i)))
		return err;
	sb->svcs[i].swapped = false;
	if ((err = svc_start(sb, i, &sb->stack->svcs[i].cmd)))
		return err == -EINVAL ? sb_fail(sb, -EIO, "%s", sb->err) : err;
	return state_write(sb, "up");
}

int sb_restart(struct sandbox *sb, size_t i)
{
	struct fl_argv *cmd = &sb->svcs[i].cmd;
	int err;

	if (!sb->local)
		return sb_fail(sb, -EINVAL, "service '%s' cannot be restarted by a hook driver",
			       sb->stack->svcs[i].name);
	if ((err = svc_stop(sb, i)))
		return err;
	if (!cmd->n)	/* never started by this state: the stack's own */
		cmd = &sb->stack->svcs[i].cmd;
	if ((err = svc_start(sb, i, cmd)))
		return err == -EINVAL ? sb_fail(sb, -EIO, "%s", sb->err) : err;
	return state_write(sb, "up");
}

/* ---- running a test ---- */

int sb_run(struct sandbox *sb, const struct fl_argv *argv, char *const *extra_env,
	   const char *log, double timeout_s, struct sb_result *res)
{
	struct spawn sp = { .cgroup_leaf = "_test", .in_ns = sb->local,
			    .cwd = sb->stack->dir, .log = log, .env_a = extra_env };
	char dir[4200];
	double t0 = mono_s();
	pid_t pid;
	int err, st = 0;

	res->exit_code = -1;
	res->timed_out = false;
	res->duration_s = 0;
	unlink(log);
	if ((err = spawn(sb, &sp, argv, &pid)))
		return err;
	cg_path(sb, "_test", NULL, dir, sizeof(dir));
	for (;;) {
		if (child_exited(pid, &st))
			break;
		if (sb_interrupted) {
			cg_stop(dir, 0);
			waitpid(pid, &st, 0);
			return sb_fail(sb, -EINTR, "interrupted");
		}
		if (mono_s() - t0 > timeout_s) {
			res->timed_out = true;
			cg_stop(dir, 0);
			waitpid(pid, &st, 0);
			break;
		}
		nap_ms(5);
	}
	res->duration_s = mono_s() - t0;
	/* what the test left behind (a background client) goes with it */
	cg_stop(dir, 0);
	res->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

/* ---- status ---- */

json_t *sb_status_json(struct sandbox *sb)
{
	char phase[32], db[4096];
	json_t *root, *svcs;

	state_read(sb, phase, sizeof(phase), db, sizeof(db));
	bool up = !strcmp(phase, "up") && (!sb->local || (ns_exists(sb) && agent_alive(sb)));
	root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:{s:i, s:b, s:s}, s:f, s:[]}",
			 "name", sb->name, "state", up ? "up" : strcmp(phase, "none") ?
			 "stale" : "down", "stack", sb->stack_path, "netns", sb->netns,
			 "cgroup", sb->cgroup, "db", db[0] ? json_string(db) : json_null(),
			 "agent", "pid", agent_alive(sb) ? (int)sb->agent_pid : 0,
			 "alive", agent_alive(sb), "control", sb->control,
			 "up_s", sb->up_s, "services");
	if (!root)
		return NULL;
	svcs = json_object_get(root, "services");
	json_object_set_new(root, "driver", json_string(sb->local ? "local" : "hook"));
	if (sb->local && ns_exists(sb))
		ns_enter(sb);
	for (size_t i = 0; i < sb->stack->nsvcs; i++) {
		const struct fl_stack_service *sv = &sb->stack->svcs[i];
		struct sb_service *s = &sb->svcs[i];
		bool alive = sb->local ? sb_alive(sb, i) : up;
		bool ready = sb->local ? alive && sb->in_ns && listening(sv->ready_port) : up;
		json_array_append_new(svcs, json_pack("{s:s, s:i, s:b, s:b, s:i, s:b, s:i}",
			"name", sv->name, "pid", alive ? (int)s->pid : 0, "alive", alive,
			"ready", ready, "restarts", s->restarts, "swapped", s->swapped,
			"port", sv->port));
	}
	return root;
}
