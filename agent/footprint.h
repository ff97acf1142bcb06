/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Footprints: what one test did, attributed by time (docs/agent.md
 * "Control socket"). The gate marks a test's interval with `begin RUN
 * TEST` / `end RUN TEST` on the control socket (agent/control.c); every
 * record whose request *started* inside [begin, end] is counted for that
 * test, per (client, server, protocol, operation, status): requests,
 * errors, latency sum and histogram. At `end` the rows are written to the
 * store's `footprints` table (docs/store.md "Footprints").
 *
 * One test at a time: attribution by time cannot tell two tests that run
 * at once apart (their requests interleave on the same services), so a
 * `begin` while another test is open is refused (-EBUSY). The statuses of
 * one edge are capped at FP_STATUS_MAX; the rest are counted as "_other".
 *
 * Times are wall-clock ns (the aggregator's clock: the collector's
 * monotonic timestamps plus the agent's fixed offset).
 */
#ifndef FAULTLINE_FOOTPRINT_H
#define FAULTLINE_FOOTPRINT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_TEST_MAX 128		/* test name bytes, NUL included */
#define FP_STATUS_MAX 16	/* distinct statuses per edge; then "_other" */
#define FP_STATUS_OTHER "_other"

struct footprint;

/* What footprint_state() reports. */
struct footprint_state {
	bool open;		/* a test is between begin and end */
	bool unwritten;		/* an ended test's rows failed to be written */
	int64_t run;		/* its run (open or unwritten), else 0 */
	char test[FP_TEST_MAX];	/* its test, else "" */
	uint64_t attributed;	/* records + failed connects counted for it */
	uint64_t tests_ended;	/* tests whose rows were written */
	uint64_t rows_written;	/* footprint rows written, all tests */
	uint64_t outside;	/* records seen while a test was open that
				   started before its begin (not counted) */
};

/* footprint_new() - an accumulator with no test open. NULL on ENOMEM. */
struct footprint *footprint_new(void);

/* footprint_free() - release @fp and any rows not written; NULL is fine. */
void footprint_free(struct footprint *fp);

/*
 * footprint_begin() - records starting at or after @wall_ns belong to
 * (@run, @test) from now on. @test: 1..FP_TEST_MAX-1 bytes, no blanks or
 * control characters. Returns 0, -EINVAL (a bad name), -EBUSY (a test is
 * open, or an ended one's rows are not written yet).
 */
int footprint_begin(struct footprint *fp, int64_t run, const char *test,
		    uint64_t wall_ns);

/*
 * footprint_mark_end() - the open test is (@run, @test) and ends at
 * @wall_ns: records that started after it are no longer counted; records
 * that started before and are still arriving (the caller drains its ring
 * buffer next) still are. Returns 0 or -ENOENT (not the open test; an
 * unwritten one with these names is fine: its write is retried).
 */
int footprint_mark_end(struct footprint *fp, int64_t run, const char *test,
		       uint64_t wall_ns);

/*
 * footprint_write() - write the ended test's rows to @db (one
 * transaction, added to rows already there), then forget them and close
 * the test. OUT: *@rows, the rows written. Returns 0 or -EIO with the
 * SQLite message in @errbuf; the rows are then kept and a later call
 * retries.
 */
int footprint_write(struct footprint *fp, sqlite3 *db, uint64_t *rows,
		    char *errbuf, size_t errlen);

/*
 * footprint_add() - count one request (or, @has_latency false, one failed
 * connect) on (@client, @server, @protocol, @operation) with @status that
 * started at @wall_ns, if a test is open and @wall_ns is in its interval.
 * Strings are copied. Returns 1 if counted, 0 if not, -ENOMEM.
 */
int footprint_add(struct footprint *fp, const char *client, const char *server,
		  const char *protocol, const char *operation,
		  const char *status, bool error, bool has_latency,
		  uint64_t latency_ns, uint64_t wall_ns);

/* footprint_state() - OUT: *@st, the current test and counters. */
void footprint_state(const struct footprint *fp, struct footprint_state *st);

#endif /* FAULTLINE_FOOTPRINT_H */
