// SPDX-License-Identifier: BSD-2-Clause
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
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

struct record_reader {
	const uint8_t *map;	/* the mapped file, or NULL: read through @f */
	size_t size;		/* bytes mapped */
	size_t off;		/* next length field in @map */
	FILE *f;		/* the file when not mapped */
	uint8_t *buf;		/* FL_RECORD_EVENT_MAX bytes, 8-byte aligned:
				 * events read from @f or misaligned in @map */
};

static int map_file(struct record_reader *r, int fd)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < 16)
		return -1;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	r->map = p;
	r->size = (size_t)st.st_size;
	return 0;
}

struct record_reader *record_open(const char *path, int64_t *mono_to_wall_ns)
{
	struct record_reader *r = calloc(1, sizeof(*r));
	char magic[8];
	int fd = -1, err = EPROTO;

	if (!r || !(r->buf = aligned_alloc(8, FL_RECORD_EVENT_MAX))) {
		err = ENOMEM;
		goto out_free;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		goto out_free;
	}
	if (!map_file(r, fd)) {
		close(fd);
		if (memcmp(r->map, FL_RECORD_MAGIC, 8))
			goto out_free;
		memcpy(mono_to_wall_ns, r->map + 8, sizeof(*mono_to_wall_ns));
		r->off = 16;
		return r;
	}
	if (!(r->f = fdopen(fd, "r"))) {
		err = errno;
		close(fd);
		goto out_free;
	}
	setvbuf(r->f, NULL, _IOFBF, 1 << 20);
	if (fread(magic, 8, 1, r->f) != 1 || memcmp(magic, FL_RECORD_MAGIC, 8) ||
	    fread(mono_to_wall_ns, sizeof(*mono_to_wall_ns), 1, r->f) != 1)
		goto out_free;
	return r;
out_free:
	record_close(r);
	errno = err;
	return NULL;
}

static int read_next(struct record_reader *r, const void **data, size_t *len)
{
	uint32_t n;
	size_t got = fread(&n, 1, sizeof(n), r->f);

	if (got == 0 && feof(r->f) && !ferror(r->f))
		return 0;
	if (got != sizeof(n))
		return -EPROTO;
	if (n > FL_RECORD_EVENT_MAX || fread(r->buf, 1, n, r->f) != n)
		return -EPROTO;
	*data = r->buf;
	*len = n;
	return 1;
}

int record_next(struct record_reader *r, const void **data, size_t *len)
{
	const uint8_t *p;
	uint32_t n;

	if (!r->map)
		return read_next(r, data, len);
	if (r->off == r->size)
		return 0;
	if (r->size - r->off < sizeof(n))
		return -EPROTO;
	memcpy(&n, r->map + r->off, sizeof(n));
	if (n > FL_RECORD_EVENT_MAX || r->size - r->off - sizeof(n) < n)
		return -EPROTO;
	p = r->map + r->off + sizeof(n);
	r->off += sizeof(n) + n;
	if ((uintptr_t)p & 7) { /* the event structs want their alignment */
		memcpy(r->buf, p, n);
		p = r->buf;
	}
	*data = p;
	*len = n;
	return 1;
}

void record_close(struct record_reader *r)
{
	if (!r)
		return;
	if (r->map)
		munmap((void *)r->map, r->size);
	if (r->f)
		fclose(r->f);
	free(r->buf);
	free(r);
}
