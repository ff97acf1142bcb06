// SPDX-License-Identifier: BSD-2-Clause
#include "netns.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#define NSFS_MAGIC_ 0x6e736673	/* linux/magic.h NSFS_MAGIC */

struct netns_name {
	char *const *name;	/* the operator's, borrowed */
	uint32_t inum;		/* 0: not resolved (does not exist yet) */
};

struct netns_filter {
	enum fl_netns_mode mode;
	struct netns_name names[NETNS_NAMES_MAX];
	int n;
	int map_fd;		/* -1 before attach */
	uint64_t next_ns;	/* monotonic: the next refresh */
};

static bool name_ok(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return s[0] == '/' || !strchr(s, '/');
}

struct netns_filter *netns_filter_new(enum fl_netns_mode mode,
				      char *const *names, int n)
{
	struct netns_filter *f;

	if (n < 1 || n > NETNS_NAMES_MAX ||
	    (mode != FL_NETNS_ONLY && mode != FL_NETNS_EXCLUDE)) {
		errno = EINVAL;
		return NULL;
	}
	for (int i = 0; i < n; i++)
		if (!name_ok(names[i])) {
			errno = EINVAL;
			return NULL;
		}
	if (!(f = calloc(1, sizeof(*f))))
		return NULL;
	f->mode = mode;
	f->n = n;
	f->map_fd = -1;
	for (int i = 0; i < n; i++)
		f->names[i].name = &names[i];
	return f;
}

void netns_filter_free(struct netns_filter *f)
{
	free(f);
}

/* The inode of namespace @name, or 0 when it is not (yet) a namespace. */
static uint32_t resolve(const char *name)
{
	char path[4096];
	struct statfs fs;
	struct stat sb;

	if (name[0] == '/')
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	/* `ip netns add` creates the file, then bind-mounts the namespace on
	 * it: until then it is a plain file of /run's file system */
	if (stat(path, &sb) || statfs(path, &fs) || fs.f_type != NSFS_MAGIC_)
		return 0;
	return (uint32_t)sb.st_ino;
}

/* Resolve name @i again; keep the map in step. Returns 0 or -errno. */
static int update(struct netns_filter *f, int i)
{
	struct netns_name *nn = &f->names[i];
	uint32_t inum = resolve(*nn->name);
	uint8_t one = 1;

	if (inum == nn->inum)
		return 0;
	if (nn->inum && f->map_fd >= 0)
		bpf_map_delete_elem(f->map_fd, &nn->inum);
	nn->inum = 0;
	if (inum && f->map_fd >= 0 &&
	    bpf_map_update_elem(f->map_fd, &inum, &one, BPF_ANY))
		return -errno;
	nn->inum = inum;
	return 0;
}

int netns_filter_attach(struct netns_filter *f, int map_fd, int *missing)
{
	int err = 0;

	f->map_fd = map_fd;
	*missing = 0;
	for (int i = 0; i < f->n && !err; i++) {
		err = update(f, i);
		*missing += !f->names[i].inum;
	}
	return err;
}

void netns_refresh(struct netns_filter *f, uint64_t now_ns, uint64_t period_ns)
{
	if (!f || now_ns < f->next_ns)
		return;
	f->next_ns = now_ns + period_ns;
	for (int i = 0; i < f->n; i++)
		update(f, i);
}

bool netns_pid_tracked(const struct netns_filter *f, uint32_t tgid)
{
	char path[64];
	struct stat sb;
	bool listed = false;

	if (!f)
		return true;
	snprintf(path, sizeof(path), "/proc/%u/ns/net", tgid);
	if (stat(path, &sb))
		return false;
	for (int i = 0; i < f->n; i++)
		listed |= f->names[i].inum && f->names[i].inum == (uint32_t)sb.st_ino;
	return f->mode == FL_NETNS_ONLY ? listed : !listed;
}

void netns_describe(const struct netns_filter *f, char *buf, size_t len)
{
	size_t n = strlen(buf);

	if (!f || n + 1 >= len)
		return;
	n += (size_t)snprintf(buf + n, len - n, " netns=%s:",
			      f->mode == FL_NETNS_ONLY ? "only" : "exclude");
	for (int i = 0; i < f->n && n < len; i++) {
		if (f->names[i].inum)
			n += (size_t)snprintf(buf + n, len - n, "%s%s=%u", i ? "," : "",
					      *f->names[i].name, f->names[i].inum);
		else
			n += (size_t)snprintf(buf + n, len - n, "%s%s=-", i ? "," : "",
					      *f->names[i].name);
	}
}
