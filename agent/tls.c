// SPDX-License-Identifier: BSD-2-Clause
#include "tls.h"
#include "collector.skel.h"

#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define TLS_PENDING_MAX 1024	/* exec'd processes waiting to be looked at */
#define TLS_RESCAN_NS (60ull * 1000000000ull) /* every process, again */
#define MS (1000000ull)

/* Looks at a process after its exec, ns after it: libraries are mapped by
 * ld.so right away, a dlopen()ed libssl (Python's `import ssl`) later. */
static const uint64_t look_after[] = { 10 * MS, 100 * MS, 500 * MS, 2000 * MS };
#define LOOKS (sizeof(look_after) / sizeof(look_after[0]))

/* A file as /proc/PID/maps shows it: the inode a uprobe attaches to. */
struct file_key {
	uint64_t dev;
	uint64_t ino;
};

/* Files looked at (attached, failed, or an executable without SSL_write). */
struct file_set {
	struct file_key *v;	/* open addressing; ino 0 is a free slot */
	size_t n, cap;		/* cap: a power of two, n <= cap / 2 */
};

struct pending {
	uint32_t pid;
	uint32_t looks;		/* looks done */
	uint64_t exec_ns;	/* CLOCK_MONOTONIC of the exec */
};

struct tls {
	struct collector_bpf *skel;
	struct agent_stats *stats;
	struct file_set seen;
	struct bpf_link **links;
	size_t nlinks, caplinks;
	struct pending pend[TLS_PENDING_MAX];
	size_t npend;
	uint64_t next_rescan_ns;
	struct stat root;	/* our "/": a process with another root is
				   attached through /proc/PID/root */
};

static uint64_t key_hash(const struct file_key *k)
{
	return (k->ino * 0x9E3779B97F4A7C15ull) ^ (k->dev * 0xC2B2AE3D27D4EB4Full);
}

/* Add @k to @s; 1 if it was new, 0 if present, -ENOMEM. */
static int file_set_add(struct file_set *s, const struct file_key *k)
{
	if ((s->n + 1) * 2 > s->cap) {
		struct file_set g = { .cap = s->cap ? s->cap * 2 : 64 };
		g.v = calloc(g.cap, sizeof(*g.v));
		if (!g.v)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i].ino)
				file_set_add(&g, &s->v[i]);
		free(s->v);
		*s = g;
	}
	for (size_t i = key_hash(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->v[i].ino) {
			s->v[i] = *k;
			s->n++;
			return 1;
		}
		if (s->v[i].ino == k->ino && s->v[i].dev == k->dev)
			return 0;
	}
}

struct tls *tls_new(struct collector_bpf *skel, struct agent_stats *stats)
{
	struct tls *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->skel = skel;
	t->stats = stats;
	stat("/", &t->root);
	return t;
}

void tls_free(struct tls *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nlinks; i++)
		bpf_link__destroy(t->links[i]);
	free(t->links);
	free(t->seen.v);
	free(t);
}

static int links_push(struct tls *t, struct bpf_link *l)
{
	if (t->nlinks == t->caplinks) {
		size_t cap = t->caplinks ? t->caplinks * 2 : 32;
		struct bpf_link **v = realloc(t->links, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->links = v;
		t->caplinks = cap;
	}
	t->links[t->nlinks++] = l;
	return 0;
}

/*
 * Attach @prog to function @func of @path as a uprobe (or uretprobe) for
 * every process. Returns 0 or a negative errno (-ENOENT: no such symbol).
 */
static int attach_one(struct tls *t, struct bpf_program *prog,
		      const char *path, const char *func, bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = func, .retprobe = ret);
	struct bpf_link *l;
	int err;

	l = bpf_program__attach_uprobe_opts(prog, -1, path, 0, &opts);
	if (!l) {
		err = -errno;
		return err ? err : -EINVAL;
	}
	if (links_push(t, l)) {
		bpf_link__destroy(l);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Attach every SSL_* probe to @path. SSL_read and SSL_write are what it
 * takes (else nothing stays attached); the others are used when present
 * (OpenSSL 1.1.0 has no _ex variants).
 */
static void attach_file(struct tls *t, const char *path)
{
	size_t first = t->nlinks;
	struct collector_bpf *s = t->skel;
	const struct {
		const char *func;
		struct bpf_program *prog;
		bool needed;
	} fns[] = {
		{ "SSL_write", s->progs.up_ssl_write, true },
		{ "SSL_read", s->progs.up_ssl_read, true },
		{ "SSL_write_ex", s->progs.up_ssl_write_ex, false },
		{ "SSL_read_ex", s->progs.up_ssl_read_ex, false },
		{ "SSL_do_handshake", s->progs.up_ssl_do_handshake, false },
	};
	const char *failed[2] = { NULL, NULL }; /* [needed], first of each */
	int err[2] = { 0, 0 };

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		/* the return probe first: an entry without it leaks ssl_calls */
		int e = attach_one(t, s->progs.urp_ssl, path, fns[i].func, true);
		if (!e)
			e = attach_one(t, fns[i].prog, path, fns[i].func, false);
		/* an optional function this version lacks is no failure */
		if (e && (fns[i].needed || e != -ENOENT))
			t->stats->tls_attach_failures++;
		if (e && !failed[fns[i].needed]) {
			failed[fns[i].needed] = fns[i].func;
			err[fns[i].needed] = e;
		}
	}
	if (failed[1]) {
		while (t->nlinks > first)
			bpf_link__destroy(t->links[--t->nlinks]);
		fprintf(stderr, "faultline-agent: tls: cannot attach to %s "
				"(%s: %s)\n", path, failed[1], strerror(-err[1]));
		return;
	}
	t->stats->tls_libraries++;
	if (failed[0])
		fprintf(stderr, "faultline-agent: tls: attached to %s (not to "
				"%s: %s)\n", path, failed[0], strerror(-err[0]));
	else
		fprintf(stderr, "faultline-agent: tls: attached to %s\n", path);
}

/* True if @path is an ELF file whose dynamic symbols define SSL_write. */
static bool exports_ssl(const char *path)
{
	Elf_Scn *scn = NULL;
	bool found = false;
	GElf_Shdr sh;
	Elf *e;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (e && !found && (scn = elf_nextscn(e, scn))) {
		Elf_Data *d;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM ||
		    !sh.sh_entsize || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && !found; i++) {
			GElf_Sym sym;
			const char *n;
			if (!gelf_getsym(d, (int)i, &sym) ||
			    sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			n = elf_strptr(e, sh.sh_link, sym.st_name);
			found = n && !strcmp(n, "SSL_write");
		}
	}
	elf_end(e);
	close(fd);
	return found;
}

/* libssl.so, libssl.so.3, libssl.so.1.1 (not NSS's libssl3.so) */
static bool is_libssl(const char *path)
{
	const char *base = strrchr(path, '/');

	return base && !strncmp(base + 1, "libssl.so", 9);
}

/*
 * The path of @file of process @pid as this process can open it: the same
 * when both have the same root, else through /proc/PID/root.
 */
static void reach(uint32_t pid, const char *file, const struct stat *root,
		  char *out, size_t len)
{
	char proot[64];
	struct stat st;

	snprintf(proot, sizeof(proot), "/proc/%u/root", pid);
	if (!stat(proot, &st) && st.st_dev == root->st_dev &&
	    st.st_ino == root->st_ino)
		snprintf(out, len, "%s", file);
	else
		snprintf(out, len, "%s%s", proot, file);
}

/* One line of /proc/PID/maps: a file not looked at yet that may be TLS. */
static void look_at_mapping(struct tls *t, uint32_t pid, char *line,
			    const char *exe)
{
	unsigned int maj, min;
	unsigned long ino;
	char path[PATH_MAX + 32];
	struct file_key k;
	int n = 0;
	char *file;

	if (sscanf(line, "%*x-%*x %*s %*x %x:%x %lu %n", &maj, &min, &ino, &n) != 3 ||
	    !n || !ino)
		return;
	file = line + n;
	file[strcspn(file, "\n")] = 0;
	if (file[0] != '/' || strstr(file, " (deleted)"))
		return;
	bool is_exe = !strcmp(file, exe);
	if (!is_exe && !is_libssl(file))
		return;
	k.dev = makedev(maj, min);
	k.ino = ino;
	if (file_set_add(&t->seen, &k) != 1)
		return; /* looked at already (or out of memory: next time) */
	reach(pid, file, &t->root, path, sizeof(path));
	if (is_exe && !exports_ssl(path))
		return;
	attach_file(t, path);
}

/* Look at process @pid's mappings. Returns 0, or -ENOENT once it is gone. */
static int look_at(struct tls *t, uint32_t pid)
{
	char p[64], exe[PATH_MAX], line[PATH_MAX + 128];
	ssize_t n;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%u/exe", pid);
	n = readlink(p, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	snprintf(p, sizeof(p), "/proc/%u/maps", pid);
	f = fopen(p, "re");
	if (!f)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : 0;
	while (fgets(line, sizeof(line), f))
		look_at_mapping(t, pid, line, exe);
	fclose(f);
	return 0;
}

void tls_scan_all(struct tls *t, uint64_t now_ns)
{
	uint32_t self = (uint32_t)getpid();
	struct dirent *d;
	DIR *dir;

	t->next_rescan_ns = now_ns + TLS_RESCAN_NS;
	dir = opendir("/proc");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		char *end;
		unsigned long pid = strtoul(d->d_name, &end, 10);
		if (!isdigit((unsigned char)d->d_name[0]) || *end || pid == self)
			continue;
		look_at(t, (uint32_t)pid);
	}
	closedir(dir);
}

void tls_on_exec(struct tls *t, uint32_t pid, uint64_t now_ns)
{
	if (t->npend == TLS_PENDING_MAX)
		return; /* an exec storm: the periodic rescan finds it */
	t->pend[t->npend++] = (struct pending){ .pid = pid, .exec_ns = now_ns };
}

static uint64_t due(const struct pending *p)
{
	return p->exec_ns + look_after[p->looks];
}

void tls_poll(struct tls *t, uint64_t now_ns)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->npend;) {
		struct pending *p = &t->pend[i];
		if (now_ns < due(p)) {
			i++;
			continue;
		}
		if (look_at(t, p->pid) == -ENOENT || ++p->looks == LOOKS)
			*p = t->pend[--t->npend];	/* gone, or done */
		else
			i++;
	}
	if (now_ns >= t->next_rescan_ns)
		tls_scan_all(t, now_ns);
}

int tls_timeout_ms(const struct tls *t, uint64_t now_ns, int max_ms)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; t && i < t->npend; i++)
		if (due(&t->pend[i]) < next)
			next = due(&t->pend[i]);
	if (next == UINT64_MAX || next >= now_ns + (uint64_t)max_ms * MS)
		return max_ms;
	return next <= now_ns ? 0 : (int)((next - now_ns + MS - 1) / MS);
}
