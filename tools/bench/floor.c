// SPDX-License-Identifier: BSD-2-Clause
/*
 * floor: load the hooks of one collector path with programs that do
 * nothing but count (bpf/floor.bpf.c), for bench/run.sh's floor section.
 *
 *   floor socket|syscall
 *
 * Prints "floor: ready, N programs" once attached, runs until SIGINT or
 * SIGTERM, then prints "floor: N hits". Exit 0, 1 on a load or attach
 * failure, 2 on a usage error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "floor.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct floor_bpf *skel;
	struct bpf_program *prog;
	const char *prefix;
	unsigned long long total = 0;
	int n = 0, err, ncpu = libbpf_num_possible_cpus();

	if (argc != 2 || (strcmp(argv[1], "socket") && strcmp(argv[1], "syscall"))) {
		fprintf(stderr, "usage: floor socket|syscall\n");
		return 2;
	}
	prefix = !strcmp(argv[1], "socket") ? "fl_sk_" : "fl_sc_";
	skel = floor_bpf__open();
	if (!skel) {
		fprintf(stderr, "floor: cannot open BPF object: %s\n", strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		bool mine = !strncmp(bpf_program__name(prog), prefix, strlen(prefix));
		bpf_program__set_autoload(prog, mine);
		n += mine;
	}
	err = floor_bpf__load(skel);
	if (!err)
		err = floor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "floor: cannot load or attach: %s\n", strerror(-err));
		floor_bpf__destroy(skel);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("floor: ready, %d programs (%s)\n", n, argv[1]);
	fflush(stdout);
	while (!stop)
		pause();
	if (ncpu > 0) {
		unsigned long long vals[ncpu];
		unsigned int zero = 0;

		if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.hits), &zero, vals))
			for (int c = 0; c < ncpu; c++)
				total += vals[c];
	}
	printf("floor: %llu hits\n", total);
	floor_bpf__destroy(skel);
	return 0;
}
