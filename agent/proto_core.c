/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Parser core: what every protocol shares (capped buffer, line assembly,
 * FIFO pairing of requests and responses, the unparsed/give-up counters).
 * See proto_core.h for the pairing model. Detection and the parser table
 * are in proto_detect.c; no parser calls them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto_core.h"

#define FL_BUF_MIN 128		/* first allocation of a buffer, bytes */
#define FL_BUF_IDLE_MAX 4096	/* allocations above this are freed on reset */
#define FL_QUEUE_MIN 4		/* first allocation of the pending ring */

/* ---- buffers and lines ------------------------------------------------- */

/*
 * fl_buf_append() - append @n bytes of @src, never growing past @max.
 * Returns 0, -E2BIG (nothing appended) or -ENOMEM.
 */
int fl_buf_append(struct fl_buf *b, const void *src, size_t n, size_t max)
{
	size_t need = b->len + n, cap;
	uint8_t *data;

	if (need > max)
		return -E2BIG;
	if (need > b->cap) {
		cap = b->cap ? b->cap : FL_BUF_MIN;
		while (cap < need)
			cap *= 2;
		if (cap > max)
			cap = max;
		data = realloc(b->data, cap);
		if (!data)
			return -ENOMEM;
		b->data = data;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, src, n);
	b->len = need;
	return 0;
}

/* fl_buf_reset() - wipe and empty @b; allocations above FL_BUF_IDLE_MAX are freed. */
void fl_buf_reset(struct fl_buf *b)
{
	if (b->len)	/* header lines and query text may hold secrets */
		explicit_bzero(b->data, b->len);
	b->len = 0;
	if (b->cap > FL_BUF_IDLE_MAX)
		fl_buf_release(b);
}

/* fl_buf_release() - wipe and free what @b holds; @b is empty and reusable. */
void fl_buf_release(struct fl_buf *b)
{
	if (b->len)
		explicit_bzero(b->data, b->len);
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* A line that is whole in the input: point into it, copy nothing. */
static void line_from_input(const uint8_t *d, size_t body, size_t keep,
			    struct fl_span *out)
{
	if (body && d[body - 1] == '\r')
		body--;
	out->p = d;
	out->len = body < keep ? body : keep;
	out->truncated = body > keep;
}

/*
 * fl_line_take() - consume input up to and including the next LF, keeping
 * at most @keep bytes of the line. OUT: *@used, *@out. Returns FL_LINE_MORE,
 * FL_LINE_DONE, -E2BIG (line over @max, nothing consumed) or -ENOMEM.
 */
int fl_line_take(struct fl_line *l, const uint8_t *d, size_t n, size_t keep,
		 size_t max, size_t *used, struct fl_span *out)
{
	const uint8_t *lf = memchr(d, '\n', n);
	size_t take = lf ? (size_t)(lf - d) + 1 : n;
	size_t body = lf ? take - 1 : take, room, content;
	int err;

	if (l->total + take > max)
		return -E2BIG;
	*used = take;
	if (lf && l->total == 0) {
		l->total = take;
		line_from_input(d, body, keep, out);
		return FL_LINE_DONE;
	}
	room = l->kept.len < keep ? keep - l->kept.len : 0;
	err = fl_buf_append(&l->kept, d, body < room ? body : room, FL_BUF_CAP);
	if (err)
		return err;
	if (body)
		l->last_cr = d[body - 1] == '\r';
	l->total += take;
	if (!lf)
		return FL_LINE_MORE;
	content = l->total - 1 - l->last_cr;
	out->p = l->kept.data;
	out->len = content < l->kept.len ? content : l->kept.len;
	out->truncated = content > l->kept.len;
	return FL_LINE_DONE;
}

/* fl_line_reset() - forget the line in progress (keeps small buffers). */
void fl_line_reset(struct fl_line *l)
{
	fl_buf_reset(&l->kept);
	l->total = 0;
	l->last_cr = false;
}

/* fl_copy_op() - copy @src into @dst, truncated to FL_OP_MAX - 1 bytes. */
void fl_copy_op(char dst[FL_OP_MAX], const char *src)
{
	size_t n = strnlen(src, FL_OP_MAX - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- pending requests -------------------------------------------------- */

static struct fl_pending *q_at(const struct fl_queue *q, uint32_t i)
{
	return &q->slots[(q->head + i) % q->cap];
}

static int q_grow(struct fl_queue *q)
{
	uint32_t cap = q->cap ? q->cap * 2 : FL_QUEUE_MIN;
	struct fl_pending *slots;

	if (cap > FL_PENDING_MAX)
		cap = FL_PENDING_MAX;
	slots = malloc(sizeof(*slots) * cap);
	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->count; i++)
		slots[i] = *q_at(q, i);
	free(q->slots);
	q->slots = slots;
	q->head = 0;
	q->cap = cap;
	return 0;
}

static void q_pop(struct fl_queue *q)
{
	q->head = (q->head + 1) % q->cap;
	q->count--;
}

/* Overflow: the oldest entry goes; its response, when it comes, too. */
static void q_drop_oldest(struct fl_parser *p)
{
	if (q_at(&p->q, 0)->kind == FL_PEND_REQUEST)
		p->stats.unpaired++;
	q_pop(&p->q);
	p->q.lost_head++;
}

/*
 * fl_pending_push() - a new zeroed entry of @kind at the tail; the oldest is
 * dropped (counted unpaired) at FL_PENDING_MAX. Returns NULL on ENOMEM.
 */
struct fl_pending *fl_pending_push(struct fl_parser *p, enum fl_pend_kind kind)
{
	struct fl_queue *q = &p->q;
	struct fl_pending *e;

	if (q->count == FL_PENDING_MAX)
		q_drop_oldest(p);
	else if (q->count == q->cap && q_grow(q))
		return NULL;
	e = q_at(q, q->count++);
	memset(e, 0, sizeof(*e));
	e->seq = ++q->next_seq;
	e->kind = kind;
	return e;
}

/* fl_pending_find() - the waiting entry numbered @seq, or NULL. */
struct fl_pending *fl_pending_find(struct fl_parser *p, uint64_t seq)
{
	struct fl_queue *q = &p->q;

	for (uint32_t i = q->count; i > 0; i--) {
		struct fl_pending *e = q_at(q, i - 1);

		if (e->seq == seq)
			return e;
		if (e->seq < seq)
			break;	/* sequence numbers grow from head to tail */
	}
	return NULL;
}

/*
 * Resolve the markers at the head for a response that began at @start:
 * the index of the entry it answers, or -1 to discard it (OUT: *@lost, the
 * marker index that discards it, or -1 when nothing waits).
 */
static int resolve(const struct fl_queue *q, uint64_t start, int *lost)
{
	uint32_t i = 0;

	*lost = -1;
	while (i < q->count) {
		const struct fl_pending *e = q_at(q, i);

		if (e->kind == FL_PEND_REQUEST || e->kind == FL_PEND_SILENT)
			return (int)i;
		if (e->kind == FL_PEND_LOST || i + 1 == q->count ||
		    start < q_at(q, i + 1)->start_ns) {
			*lost = (int)i;
			return -1;
		}
		i++;	/* a maybe-lost marker resolved: nothing was lost */
	}
	return -1;
}

/* fl_pending_next() - the entry a response begun at @resp_start_ns answers. */
const struct fl_pending *fl_pending_next(const struct fl_parser *p,
					 uint64_t resp_start_ns)
{
	int lost, i;

	if (p->q.lost_head)
		return NULL;
	i = resolve(&p->q, resp_start_ns, &lost);
	return i < 0 ? NULL : q_at(&p->q, (uint32_t)i);
}

static void emit(struct fl_parser *p, const struct fl_pending *e,
		 const struct fl_resp *r)
{
	struct fl_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.proto = p->proto;
	fl_copy_op(rec.operation, e->operation);
	rec.status = r->status;
	memcpy(rec.status_text, r->status_text, sizeof(rec.status_text));
	rec.status_text[sizeof(rec.status_text) - 1] = '\0';
	rec.error = r->error;
	rec.client_error = r->client_error;
	rec.start_ns = e->start_ns;
	rec.end_ns = r->end_ns;
	rec.req_bytes = e->req_bytes;
	rec.resp_bytes = r->bytes;
	rec.has_trace_id = e->has_trace_id;
	memcpy(rec.trace_id, e->trace_id, sizeof(rec.trace_id));
	if (p->cb)
		p->cb(&rec, p->ctx);
}

/*
 * fl_pending_complete() - pair response @r with the oldest request, past
 * the markers it resolves, and emit its record; or count it unpaired.
 */
void fl_pending_complete(struct fl_parser *p, const struct fl_resp *r)
{
	struct fl_queue *q = &p->q;
	struct fl_pending *e;
	int lost, i;

	if (q->lost_head) {
		q->lost_head--;	/* its request was counted when dropped */
		return;
	}
	i = resolve(q, r->start_ns, &lost);
	if (i < 0) {
		p->stats.unpaired++;
		if (lost >= 0) { /* one lost request is accounted for */
			p->stats.requests_lost++;
			q_at(q, (uint32_t)lost)->kind = FL_PEND_MAYBE_LOST;
		}
		return;
	}
	while (i-- > 0)
		q_pop(q);	/* resolved markers */
	e = q_at(q, 0);
	if (e->kind == FL_PEND_REQUEST) {
		emit(p, e, r);
		p->bad_streak = 0;
		p->bad_bytes = 0;
	}
	q_pop(q);
}

/* fl_pending_clear() - drop all entries, counting requests unpaired. */
void fl_pending_clear(struct fl_parser *p)
{
	struct fl_queue *q = &p->q;

	for (uint32_t i = 0; i < q->count; i++)
		if (q_at(q, i)->kind == FL_PEND_REQUEST)
			p->stats.unpaired++;
	free(q->slots);
	q->slots = NULL;
	q->head = 0;
	q->count = 0;
	q->cap = 0;
	q->lost_head = 0;
}

void fl_parser_drop_pending(struct fl_parser *p)
{
	if (!p)
		return;
	p->q.head = 0;
	p->q.count = 0;
	p->q.lost_head = 0;
}

/* fl_pending_lose() - response framing lost: every pending request goes. */
void fl_pending_lose(struct fl_parser *p)
{
	for (uint32_t i = 0; i < p->q.count; i++)
		if (q_at(&p->q, i)->kind == FL_PEND_REQUEST)
			p->stats.requests_lost++;
	fl_pending_clear(p);
}

/* fl_parser_unparsed() - count @n bytes not understood; maybe give up. */
void fl_parser_unparsed(struct fl_parser *p, uint64_t n, bool parse_error)
{
	p->stats.unparsed_bytes += n;
	p->bad_bytes += n;
	if (parse_error)
		p->bad_streak++;
	if (p->bad_streak >= FL_BAD_STREAK_MAX || p->bad_bytes >= FL_BAD_BYTES_MAX)
		fl_parser_give_up(p);
}

/* fl_parser_give_up() - stop parsing this connection; pending are unpaired. */
void fl_parser_give_up(struct fl_parser *p)
{
	if (p->stats.given_up)
		return;
	p->stats.given_up = 1;
	fl_pending_clear(p);
}

/* fl_parser_pending() - requests queued without a response (see proto.h). */
size_t fl_parser_pending(const struct fl_parser *p)
{
	return p ? p->q.count : 0;
}

/* fl_parser_last_request() - the newest request queued (see proto.h). */
bool fl_parser_last_request(const struct fl_parser *p, uint64_t *seen,
			    struct fl_request_info *out)
{
	const struct fl_pending *e;

	if (!p->q.count)
		return false;
	e = q_at(&p->q, p->q.count - 1);
	if (e->kind != FL_PEND_REQUEST || e->seq <= *seen)
		return false;
	*seen = e->seq;
	out->seq = e->seq;
	out->start_ns = e->start_ns;
	fl_copy_op(out->operation, e->operation);
	out->has_trace_id = e->has_trace_id;
	memcpy(out->trace_id, e->trace_id, sizeof(out->trace_id));
	return true;
}
