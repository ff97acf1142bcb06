// SPDX-License-Identifier: BSD-2-Clause
/* Output helpers: aligned text tables and the JSON conventions. */
#include "grow.h"
#include "output/output.h"
#include "query/time.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Characters (code points) of valid UTF-8 @s. */
static size_t utf8_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

void gate_cell_op(const char *op, char *buf, size_t len)
{
	size_t chars = utf8_width(op), out = 0, seen = 0;
	bool cut = chars > GATE_OP_TABLE_MAX;

	if (!*op) {		/* an empty column would read as missing */
		snprintf(buf, len, "-");
		return;
	}

	for (const unsigned char *p = (const unsigned char *)op; *p;) {
		size_t n = fl_utf8_seq(p);
		if (!n)
			n = 1;
		if (cut && seen == GATE_OP_TABLE_MAX - 1)
			break;
		if (out + n + 4 > len)	/* room for "…" and NUL */
			break;
		if (*p < 0x20 || *p == 0x7f) {
			buf[out++] = ' ';
		} else {
			memcpy(buf + out, p, n);
			out += n;
		}
		p += n;
		seen++;
	}
	if (cut) {
		memcpy(buf + out, "\xe2\x80\xa6", 3);
		out += 3;
	}
	buf[out] = '\0';
}

void gate_table_init(struct gate_table *t, const char *const *heads,
		     const char *align, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->heads = heads;
	t->align = align;
	t->ncols = ncols;
}

int gate_table_row(struct gate_table *t, const char *const *cells)
{
	char **c = fl_grow(t->cells, &t->cap, t->nrows, t->ncols * sizeof(*c), 16);

	if (!c)
		return -ENOMEM;
	t->cells = c;
	char **row = &t->cells[t->nrows * t->ncols];
	for (size_t i = 0; i < t->ncols; i++) {
		row[i] = strdup(cells[i] ? cells[i] : "");
		if (!row[i]) {
			while (i--)
				free(row[i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

static void table_line(const struct gate_table *t, const char *const *cells,
		       const size_t *w, FILE *f)
{
	for (size_t i = 0; i < t->ncols; i++) {
		size_t pad = w[i] - utf8_width(cells[i]);
		bool last = i + 1 == t->ncols;
		if (i)
			fputs("  ", f);
		if (t->align[i] == 'r')
			fprintf(f, "%*s%s", (int)pad, "", cells[i]);
		else
			fprintf(f, "%s%*s", cells[i], last ? 0 : (int)pad, "");
	}
	fputc('\n', f);
}

void gate_table_print(const struct gate_table *t, FILE *f)
{
	/* no allocation for the widths of any real table: a failed calloc
	 * printed nothing, and the command exited 0 (tests/alloc/run.sh) */
	size_t wbuf[32], *w = t->ncols <= 32 ? wbuf : calloc(t->ncols, sizeof(*w));

	if (!w) {	/* print unaligned rather than nothing */
		for (size_t i = 0; i < t->ncols; i++)
			fprintf(f, "%s%s", i ? "  " : "", t->heads[i]);
		fputc('\n', f);
		for (size_t r = 0; r < t->nrows; r++) {
			for (size_t i = 0; i < t->ncols; i++)
				fprintf(f, "%s%s", i ? "  " : "", t->cells[r * t->ncols + i]);
			fputc('\n', f);
		}
		return;
	}
	memset(w, 0, t->ncols * sizeof(*w));
	for (size_t i = 0; i < t->ncols; i++)
		w[i] = utf8_width(t->heads[i]);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			size_t cw = utf8_width(t->cells[r * t->ncols + i]);
			if (cw > w[i])
				w[i] = cw;
		}
	table_line(t, t->heads, w, f);
	for (size_t r = 0; r < t->nrows; r++)
		table_line(t, (const char *const *)&t->cells[r * t->ncols], w, f);
	if (w != wbuf)
		free(w);
}

void gate_table_release(struct gate_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

void gate_ms_str(bool have, double ms, char *buf, size_t len)
{
	if (have)
		snprintf(buf, len, "%.3f", ms);
	else
		snprintf(buf, len, "-");
}

json_t *gate_json_ms(bool have, double ms)
{
	return have ? json_real(round(ms * 1000.0) / 1000.0) : json_null();
}

json_t *gate_json_rate(double rate)
{
	return json_real(round(rate * 1e6) / 1e6);
}

json_t *gate_json_time(int64_t ns)
{
	char buf[40];

	gate_time_format(ns, buf, sizeof(buf));
	return json_string(buf);
}

int gate_json_print(struct gate_ctx *ctx, json_t *root)
{
	/* 15 significant digits print 3- and 6-decimal values exactly */
	size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15);

	if (json_dumpf(root, stdout, flags) || fputc('\n', stdout) == EOF)
		return gate_fail(ctx, -EIO, "cannot write output: %s", strerror(errno));
	return 0;
}
