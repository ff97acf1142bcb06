/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * For the fuzz targets of loaders that take a path (the services mapping,
 * the stack file): the input as a file, one per process in /dev/shm
 * (tmpfs), rewritten in place for each input and removed at exit. A
 * memfd's /proc/self/fd path would do for fopen but not for realpath(3),
 * which the stack loader calls to resolve relative source paths.
 */
#ifndef FAULTLINE_FZ_FILE_H
#define FAULTLINE_FZ_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fz_path[64];

static inline void fz_file_remove(void)
{
	unlink(fz_path);
}

/* fz_file() - @d (@n bytes) as the whole content of a file: its path. */
static inline const char *fz_file(const uint8_t *d, size_t n)
{
	static int fd = -1;

	if (fd < 0) {
		snprintf(fz_path, sizeof(fz_path), "/dev/shm/fz-input.%d.json", (int)getpid());
		fd = open(fz_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			abort();
		atexit(fz_file_remove);
	}
	if (ftruncate(fd, 0) || pwrite(fd, d, n, 0) != (ssize_t)n)
		abort();
	return fz_path;
}

#endif /* FAULTLINE_FZ_FILE_H */
