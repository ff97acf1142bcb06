// SPDX-License-Identifier: BSD-2-Clause
#include "caps.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define TRACEFS "/sys/kernel/tracing"

/* "tracepoint/syscalls/sys_enter_read" -> "syscalls/sys_enter_read" */
static const char *tp_of(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	return strncmp(sec, "tracepoint/", 11) ? NULL : sec + 11;
}

static bool tp_exists(const char *tp)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), TRACEFS "/events/%s", tp);
	return !stat(path, &st);
}

int caps_prepare(struct bpf_object *obj)
{
	struct bpf_program *prog;
	struct utsname u;
	struct stat st;
	int off = 0;

	uname(&u);
	fprintf(stderr, "faultline-agent: kernel %s %s, BTF %s, kprobes %s, "
			"fentry not used (tracepoints and uprobes are the primary "
			"path)\n", u.release, u.machine,
		stat("/sys/kernel/btf/vmlinux", &st) ? "absent (CO-RE will fail)"
						     : "present",
		stat(TRACEFS "/kprobe_events", &st) ? "unavailable"
						    : "available (not used)");
	bpf_object__for_each_program(prog, obj) {
		const char *tp = tp_of(prog);
		if (tp && !tp_exists(tp)) {
			bpf_program__set_autoload(prog, false);
			off++;
		}
	}
	return off;
}

static void list_hooks(struct bpf_object *obj, bool loaded)
{
	struct bpf_program *prog;
	char line[4096];
	size_t n = 0;
	int count = 0;

	line[0] = 0;
	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);
		const char *tp = tp_of(prog);
		if (bpf_program__autoload(prog) != loaded)
			continue;
		count++;
		if (n >= sizeof(line) - 1)
			continue;
		if (tp)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s", tp);
		else /* uprobes are attached per library by agent/tls.c */
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s:%s",
					      sec, bpf_program__name(prog));
	}
	fprintf(stderr, "faultline-agent: hooks %s (%d):%s\n",
		loaded ? "loaded" : "not loaded", count, count ? line : " none");
}

void caps_report(struct bpf_object *obj)
{
	list_hooks(obj, true);
	list_hooks(obj, false);
}
