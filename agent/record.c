// SPDX-License-Identifier: BSD-2-Clause
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

FILE *record_create(const char *path, int64_t mono_to_wall_ns)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f;

	if (fd < 0)
		return NULL;
	fchmod(fd, 0600);
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return NULL;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	if (fwrite(FL_RECORD_MAGIC, 8, 1, f) != 1 ||
	    fwrite(&mono_to_wall_ns, sizeof(mono_to_wall_ns), 1, f) != 1) {
		fclose(f);
		errno = EIO;
		return NULL;
	}
	return f;
}

int record_write(FILE *f, const void *data, size_t len)
{
	uint32_t n = (uint32_t)len;

	if (fwrite(&n, sizeof(n), 1, f) != 1 || fwrite(data, 1, len, f) != len)
		return -EIO;
	return 0;
}

FILE *record_open(const char *path, int64_t *mono_to_wall_ns)
{
	FILE *f = fopen(path, "re");
	char magic[8];

	if (!f)
		return NULL;
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	if (fread(magic, 8, 1, f) != 1 || memcmp(magic, FL_RECORD_MAGIC, 8) ||
	    fread(mono_to_wall_ns, sizeof(*mono_to_wall_ns), 1, f) != 1) {
		fclose(f);
		errno = EPROTO;
		return NULL;
	}
	return f;
}

int record_read(FILE *f, void *buf, size_t *len)
{
	uint32_t n;
	size_t got = fread(&n, 1, sizeof(n), f);

	if (got == 0 && feof(f) && !ferror(f))
		return 0;
	if (got != sizeof(n))
		return -EPROTO;
	if (n > FL_RECORD_EVENT_MAX || fread(buf, 1, n, f) != n)
		return -EPROTO;
	*len = n;
	return 1;
}
