// SPDX-License-Identifier: BSD-2-Clause
#include "footprint.h"
#include "hist.h"
#include "store_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FP_BUCKETS 256

/* One status of one edge of the test. */
struct fp_status {
	char status[16];
	uint64_t requests, errors, latency_sum_ns;
	struct fl_hist hist;	/* latency, ns; empty for failed connects */
};

/* One (client, server, protocol, operation) of the test. */
struct fp_edge {
	struct fp_edge *next;	/* hash chain */
	uint64_t hash;
	char *client, *server, *protocol, *operation; /* one allocation */
	struct fp_status *st;	/* nst named statuses, then "_other" at [nst]
				   once needed (FP_STATUS_MAX + 1 slots) */
	int nst;
	bool has_other;
};

enum fp_phase { FP_IDLE, FP_OPEN, FP_ENDING, FP_UNWRITTEN };

struct footprint {
	struct fp_edge *buckets[FP_BUCKETS];
	enum fp_phase phase;
	int64_t run;
	char test[FP_TEST_MAX];
	uint64_t begin_ns, end_ns;	/* wall clock; end_ns 0 while open */
	uint64_t attributed, tests_ended, rows_written, outside;
};

struct footprint *footprint_new(void)
{
	return calloc(1, sizeof(struct footprint));
}

static void fp_clear(struct footprint *fp)
{
	for (int b = 0; b < FP_BUCKETS; b++) {
		struct fp_edge *e = fp->buckets[b], *next;
		for (; e; e = next) {
			next = e->next;
			for (int i = 0; i < e->nst + e->has_other; i++)
				fl_hist_release(&e->st[i].hist);
			free(e->st);
			free(e->client);
			free(e);
		}
		fp->buckets[b] = NULL;
	}
}

void footprint_free(struct footprint *fp)
{
	if (!fp)
		return;
	fp_clear(fp);
	free(fp);
}

/* A test name: printable, no blanks (it is one word of the protocol). */
static bool fp_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= FP_TEST_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

int footprint_begin(struct footprint *fp, int64_t run, const char *test,
		    uint64_t wall_ns)
{
	if (!fp_name_ok(test))
		return -EINVAL;
	if (fp->phase != FP_IDLE)
		return -EBUSY;
	fp->phase = FP_OPEN;
	fp->run = run;
	snprintf(fp->test, sizeof(fp->test), "%s", test);
	fp->begin_ns = wall_ns;
	fp->end_ns = 0;
	fp->attributed = 0;
	return 0;
}

int footprint_mark_end(struct footprint *fp, int64_t run, const char *test,
		       uint64_t wall_ns)
{
	if (fp->phase == FP_IDLE || fp->run != run || strcmp(fp->test, test))
		return -ENOENT;
	if (fp->phase == FP_OPEN) {
		fp->phase = FP_ENDING;
		fp->end_ns = wall_ns;
	}
	return 0;
}

static uint64_t fp_hash(const char *const k[4])
{
	uint64_t h = 1469598103934665603ull;

	for (int i = 0; i < 4; i++)
		for (const char *p = k[i];; p++) {
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
			if (!*p)
				break;
		}
	return h;
}

static struct fp_edge *fp_edge_get(struct footprint *fp, const char *const k[4])
{
	uint64_t h = fp_hash(k);
	struct fp_edge **head = &fp->buckets[h % FP_BUCKETS], *e;
	size_t len[4], total = 0;
	char *p;

	for (e = *head; e; e = e->next)
		if (e->hash == h && !strcmp(e->client, k[0]) &&
		    !strcmp(e->server, k[1]) && !strcmp(e->protocol, k[2]) &&
		    !strcmp(e->operation, k[3]))
			return e;
	for (int i = 0; i < 4; i++)
		total += (len[i] = strlen(k[i]) + 1);
	e = calloc(1, sizeof(*e));
	p = e ? malloc(total) : NULL;
	if (e)
		e->st = calloc(FP_STATUS_MAX + 1, sizeof(*e->st));
	if (!p || !e->st) {
		if (e)
			free(e->st);
		free(e);
		free(p);
		return NULL;
	}
	e->client = p;
	for (int i = 0; i < 4; i++) {
		memcpy(p, k[i], len[i]);
		if (i == 1)
			e->server = p;
		else if (i == 2)
			e->protocol = p;
		else if (i == 3)
			e->operation = p;
		p += len[i];
	}
	e->hash = h;
	e->next = *head;
	*head = e;
	return e;
}

/* The slot of @status on @e: its own, a new one, or "_other" past the cap. */
static struct fp_status *fp_status_get(struct fp_edge *e, const char *status)
{
	struct fp_status *s;

	for (int i = 0; i < e->nst; i++)
		if (!strcmp(e->st[i].status, status))
			return &e->st[i];
	if (e->nst < FP_STATUS_MAX && !e->has_other) {
		s = &e->st[e->nst++];
		snprintf(s->status, sizeof(s->status), "%s", status);
		return s;
	}
	/* the cap: "_other" lives right after the named ones, for good */
	s = &e->st[e->nst];
	if (!e->has_other) {
		e->has_other = true;
		snprintf(s->status, sizeof(s->status), FP_STATUS_OTHER);
	}
	return s;
}

int footprint_add(struct footprint *fp, const char *client, const char *server,
		  const char *protocol, const char *operation,
		  const char *status, bool error, bool has_latency,
		  uint64_t latency_ns, uint64_t wall_ns)
{
	const char *k[4] = { client, server, protocol, operation };
	struct fp_status *s;
	struct fp_edge *e;

	if (fp->phase != FP_OPEN && fp->phase != FP_ENDING)
		return 0;
	if (wall_ns < fp->begin_ns) {
		fp->outside++;
		return 0;
	}
	if (fp->end_ns && wall_ns > fp->end_ns)
		return 0;
	if (!(e = fp_edge_get(fp, k)))
		return -ENOMEM;
	s = fp_status_get(e, status);
	s->requests++;
	s->errors += error;
	fp->attributed++;
	if (!has_latency)
		return 1;
	s->latency_sum_ns += latency_ns;
	return fl_hist_add(&s->hist, latency_ns, 1) ? -ENOMEM : 1;
}

/* ---- the store ----------------------------------------------------------- */

/* One footprints row, through the write layer. Returns 0, -ENOMEM or -EIO. */
static int fp_put_row(struct fl_sw *w, int64_t run, const char *test,
		      const struct fp_edge *e, const struct fp_status *s)
{
	struct fl_sw_footprint row = {
		.run_id = run, .test = test, .client = e->client,
		.server = e->server, .protocol = e->protocol,
		.operation = e->operation, .status = s->status,
		.requests = s->requests, .errors = s->errors,
		.latency_sum_ns = s->latency_sum_ns,
	};
	uint8_t *blob = NULL;
	size_t len = 0;
	int err;

	if (s->hist.count && fl_hist_encode(&s->hist, &blob, &len))
		return -ENOMEM;
	row.hist = blob;
	row.hist_len = len;
	err = fl_sw_footprint(w, &row);
	free(blob);
	return err;
}

int footprint_write(struct footprint *fp, sqlite3 *db, uint64_t *rows,
		    char *errbuf, size_t errlen)
{
	struct fl_sw w;
	uint64_t n = 0;
	int err = -EIO;

	errbuf[0] = 0;
	*rows = 0;
	if (fp->phase == FP_IDLE || fp->phase == FP_OPEN)
		return -ENOENT;
	fl_sw_init(&w, db, NULL);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) {
		snprintf(errbuf, errlen, "cannot write footprint: %s",
			 sqlite3_errmsg(db));
		goto out_keep;
	}
	for (int b = 0; b < FP_BUCKETS; b++)
		for (struct fp_edge *e = fp->buckets[b]; e; e = e->next)
			for (int i = 0; i < e->nst + e->has_other; i++) {
				if ((err = fp_put_row(&w, fp->run, fp->test, e,
						      &e->st[i])))
					goto out_rollback;
				n++;
			}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) {
		snprintf(w.err, sizeof(w.err), "%s", sqlite3_errmsg(db));
		err = -EIO;
		goto out_rollback;
	}
	fl_sw_release(&w);
	fp_clear(fp);
	fp->phase = FP_IDLE;
	fp->tests_ended++;
	fp->rows_written += n;
	*rows = n;
	return 0;
out_rollback:
	snprintf(errbuf, errlen, "cannot write footprint: %s",
		 err == -ENOMEM && !w.err[0] ? "out of memory" : w.err);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out_keep:
	fl_sw_release(&w);
	fp->phase = FP_UNWRITTEN;	/* attribution is over; the rows stay */
	return err == -ENOMEM ? -ENOMEM : -EIO;
}

void footprint_state(const struct footprint *fp, struct footprint_state *st)
{
	memset(st, 0, sizeof(*st));
	st->open = fp->phase == FP_OPEN || fp->phase == FP_ENDING;
	st->unwritten = fp->phase == FP_UNWRITTEN;
	if (fp->phase != FP_IDLE) {
		st->run = fp->run;
		snprintf(st->test, sizeof(st->test), "%s", fp->test);
	}
	st->attributed = fp->attributed;
	st->tests_ended = fp->tests_ended;
	st->rows_written = fp->rows_written;
	st->outside = fp->outside;
}
