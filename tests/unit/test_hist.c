// SPDX-License-Identifier: BSD-2-Clause
/*
 * lib/hist.c (bucketing, quantiles, merge, blob encoding) and lib/store.c
 * (create, mode, schema version, WAL, read-only refusals).
 */
#include "harness.h"
#include "hist.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)	/* xorshift64*: a fixed, portable sequence */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

/* A latency-like value: uniform exponent 0..63, random mantissa. */
static uint64_t rng_value(void)
{
	unsigned bits = (unsigned)(rng() % 64);
	return rng() >> (63 - bits);
}

static int hist_equal(const struct fl_hist *a, const struct fl_hist *b)
{
	if (a->nbins != b->nbins || a->count != b->count)
		return 0;
	for (uint32_t i = 0; i < a->nbins; i++)
		if (a->bins[i].idx != b->bins[i].idx ||
		    a->bins[i].count != b->bins[i].count)
			return 0;
	return 1;
}

static int hist_copy(struct fl_hist *dst, const struct fl_hist *src)
{
	*dst = (struct fl_hist)FL_HIST_INIT;
	return fl_hist_merge(dst, src);
}

/* Relative error of bucket @idx's midpoint for @v is at most 1/64. */
static int within_1_64(uint64_t v, uint64_t mid)
{
	unsigned __int128 diff = v > mid ? v - mid : mid - v;
	return diff * 64 <= (unsigned __int128)v;
}

static void check_value(uint64_t v, uint32_t *prev_idx)
{
	uint32_t idx = fl_hist_index(v);
	uint64_t mid = fl_hist_bucket_mid(idx);

	if (idx >= FL_HIST_BUCKETS || !within_1_64(v, mid) ||
	    fl_hist_index(mid) != idx || (prev_idx && idx < *prev_idx)) {
		CHECK(!"bucket of value");
		fprintf(stderr, "    value %llu idx %u mid %llu\n",
			(unsigned long long)v, idx, (unsigned long long)mid);
	}
	if (prev_idx)
		*prev_idx = idx;
}

/* ---- bucketing ---- */

static void test_index_known(void)
{
	CHECK_EQ_INT(fl_hist_index(0), 0);
	CHECK_EQ_INT(fl_hist_index(31), 31);
	CHECK_EQ_INT(fl_hist_index(32), 32);
	CHECK_EQ_INT(fl_hist_index(63), 63);
	CHECK_EQ_INT(fl_hist_index(64), 64);
	CHECK_EQ_INT(fl_hist_index(65), 64);
	CHECK_EQ_INT(fl_hist_index(66), 65);
	CHECK_EQ_INT(fl_hist_index(1000000), 509);	/* 1 ms */
	CHECK_EQ_INT(fl_hist_bucket_mid(509), 1007616);
	CHECK_EQ_INT(fl_hist_index(UINT64_MAX), FL_HIST_BUCKETS - 1);
	CHECK_EQ_INT(FL_HIST_BUCKETS, 1920);
	CHECK_EQ_INT(fl_hist_bucket_mid(0), 0);
	CHECK_EQ_INT(fl_hist_bucket_mid(31), 31);
	CHECK_EQ_INT(fl_hist_bucket_mid(64), 65);	/* [64, 66) */
	/* the last bucket, [2^63 + 31 * 2^58, 2^64) */
	CHECK(fl_hist_bucket_mid(FL_HIST_BUCKETS - 1) ==
	      (1ull << 63) + 31 * (1ull << 58) + (1ull << 57));
}

static void test_index_error_sweep(void)
{
	uint32_t prev = 0;
	int before = h_failed_checks;

	/* every value below 2^17, then each power of two and its neighbours */
	for (uint64_t v = 0; v < (1u << 17); v++)
		check_value(v, &prev);
	for (unsigned k = 17; k < 64; k++) {
		uint64_t p = 1ull << k;
		check_value(p - 1, NULL);
		check_value(p, NULL);
		check_value(p + 1, NULL);
		check_value(p + p / 2, NULL);
	}
	check_value(UINT64_MAX, NULL);
	for (int i = 0; i < 200000 && h_failed_checks - before < 5; i++)
		check_value(rng_value(), NULL);
	/* values below 32 are exact */
	for (uint64_t v = 0; v < 32; v++)
		CHECK_EQ_INT(fl_hist_bucket_mid(fl_hist_index(v)), v);
}

/* ---- quantiles ---- */

static void test_quantile_known(void)
{
	struct fl_hist h = FL_HIST_INIT;

	CHECK_EQ_INT(fl_hist_quantile(&h, 0.5), 0);	/* empty */
	for (uint64_t v = 1; v <= 100; v++)
		CHECK_EQ_INT(fl_hist_add(&h, v, 1), 0);
	CHECK_EQ_INT(h.count, 100);
	CHECK_EQ_INT(fl_hist_quantile(&h, 0.0), 1);
	CHECK_EQ_INT(fl_hist_quantile(&h, 0.5), 50);
	CHECK_EQ_INT(fl_hist_quantile(&h, 0.9), 91);	/* 90 in [90, 92) */
	CHECK_EQ_INT(fl_hist_quantile(&h, 0.99), 99);	/* 99 in [98, 100) */
	CHECK_EQ_INT(fl_hist_quantile(&h, 1.0), 101);	/* 100 in [100, 102) */
	CHECK_EQ_INT(fl_hist_quantile(&h, 7.0), 101);	/* clamped */
	CHECK_EQ_INT(fl_hist_quantile(&h, -1.0), 1);
	fl_hist_release(&h);

	/* 1000 requests at 1 ms, 10 at 5 ms */
	CHECK_EQ_INT(fl_hist_add(&h, 1000000, 1000), 0);
	CHECK_EQ_INT(fl_hist_add(&h, 5000000, 10), 0);
	CHECK_EQ_INT(fl_hist_add(&h, 7, 0), 0);		/* n = 0 adds nothing */
	CHECK_EQ_INT(h.count, 1010);
	CHECK_EQ_INT(h.nbins, 2);
	CHECK_EQ_INT(fl_hist_quantile(&h, 0.5), 1007616);
	CHECK_EQ_INT(fl_hist_quantile(&h, 0.99), 1007616);	/* rank 1000 */
	CHECK_EQ_INT(fl_hist_quantile(&h, 0.991), 5046272);	/* rank 1001 */
	CHECK_EQ_INT(fl_hist_quantile(&h, 1.0), 5046272);
	fl_hist_release(&h);
	fl_hist_release(&h);	/* twice, and NULL, are fine */
	fl_hist_release(NULL);
}

/* ---- merge ---- */

static void test_merge_equals_add(void)
{
	struct fl_hist all = FL_HIST_INIT, a = FL_HIST_INIT, b = FL_HIST_INIT;
	struct fl_hist empty = FL_HIST_INIT, c;

	rng_state = 42;
	for (int i = 0; i < 20000; i++) {
		uint64_t v = rng_value();
		uint32_t n = 1 + (uint32_t)(rng() % 3);
		CHECK_EQ_INT(fl_hist_add(&all, v, n), 0);
		CHECK_EQ_INT(fl_hist_add(i % 2 ? &a : &b, v, n), 0);
	}
	CHECK_EQ_INT(fl_hist_merge(&a, &b), 0);
	CHECK(hist_equal(&a, &all));
	CHECK(all.nbins > 1000);
	/* sorted, no duplicate, no zero bin; count is the sum */
	uint64_t sum = 0;
	for (uint32_t i = 0; i < all.nbins; i++) {
		CHECK(i == 0 || all.bins[i].idx > all.bins[i - 1].idx);
		CHECK(all.bins[i].count > 0);
		sum += all.bins[i].count;
	}
	CHECK_EQ_INT(sum, all.count);
	/* merging an empty histogram, or into one, changes nothing else */
	CHECK_EQ_INT(hist_copy(&c, &all), 0);
	CHECK_EQ_INT(fl_hist_merge(&c, &empty), 0);
	CHECK(hist_equal(&c, &all));
	CHECK_EQ_INT(fl_hist_merge(&empty, &all), 0);
	CHECK(hist_equal(&empty, &all));
	fl_hist_reset(&c);
	CHECK_EQ_INT(c.count, 0);
	CHECK_EQ_INT(c.nbins, 0);
	CHECK_EQ_INT(fl_hist_quantile(&c, 0.5), 0);
	fl_hist_release(&all);
	fl_hist_release(&a);
	fl_hist_release(&b);
	fl_hist_release(&c);
	fl_hist_release(&empty);
}

/*
 * A bin's count is 32 bits but a merge over many windows can exceed it
 * (a month of one-minute windows at 100k requests each): the invariant
 * count == sum of bin counts must hold after the merge.
 */
static void test_merge_bin_count_overflow(void)
{
	struct fl_hist a = FL_HIST_INIT, b = FL_HIST_INIT;
	uint64_t sum = 0;

	CHECK_EQ_INT(fl_hist_add(&a, 1000000, 3000000000u), 0);
	CHECK_EQ_INT(fl_hist_add(&b, 1000000, 3000000000u), 0);
	CHECK_EQ_INT(fl_hist_add(&b, 9000000, 1), 0);
	int err = fl_hist_merge(&a, &b);
	for (uint32_t i = 0; i < a.nbins; i++)
		sum += a.bins[i].count;
	CHECK(err == 0 || err == -EOVERFLOW);
	CHECK_EQ_INT(sum, a.count);
	if (!err)
		CHECK_EQ_INT(fl_hist_quantile(&a, 0.5), 1007616);
	fl_hist_release(&a);
	fl_hist_release(&b);
}

/* ---- blobs ---- */

static void test_encode_known_bytes(void)
{
	static const uint8_t want[] = { 1, 5, 3, 34, 0xAC, 0x02 };
	struct fl_hist h = FL_HIST_INIT, d = FL_HIST_INIT;
	uint8_t *blob = NULL;
	size_t len = 0;

	/* idx 5 x3; idx 40 x300: delta 40 - (5 + 1) = 34, 300 = AC 02 */
	CHECK_EQ_INT(fl_hist_add(&h, 5, 3), 0);
	CHECK_EQ_INT(fl_hist_add(&h, 40, 300), 0);
	CHECK_EQ_INT(fl_hist_encode(&h, &blob, &len), 0);
	CHECK_EQ_INT(len, sizeof(want));
	CHECK(len == sizeof(want) && !memcmp(blob, want, len));
	CHECK_EQ_INT(fl_hist_decode_merge(&d, blob, len), 0);
	CHECK(hist_equal(&d, &h));
	free(blob);

	/* the empty histogram is the version byte alone */
	fl_hist_release(&h);
	CHECK_EQ_INT(fl_hist_encode(&h, &blob, &len), 0);
	CHECK_EQ_INT(len, 1);
	CHECK_EQ_INT(blob[0], FL_HIST_BLOB_VERSION);
	CHECK_EQ_INT(fl_hist_decode_merge(&h, blob, len), 0);
	CHECK_EQ_INT(h.count, 0);
	free(blob);
	fl_hist_release(&d);
}

static void test_encode_roundtrip(void)
{
	struct fl_hist h = FL_HIST_INIT, d = FL_HIST_INIT, twice = FL_HIST_INIT;
	uint8_t *blob = NULL;
	size_t len = 0;

	rng_state = 7;
	for (int i = 0; i < 5000; i++)
		CHECK_EQ_INT(fl_hist_add(&h, rng_value(), 1 + (uint32_t)(rng() % 100000)), 0);
	CHECK_EQ_INT(fl_hist_add(&h, 0, 1), 0);
	CHECK_EQ_INT(fl_hist_encode(&h, &blob, &len), 0);
	CHECK(len <= 1 + (size_t)h.nbins * 7);
	CHECK_EQ_INT(fl_hist_decode_merge(&d, blob, len), 0);
	CHECK(hist_equal(&d, &h));
	/* decoding into a histogram adds: twice the blob == h merged twice */
	CHECK_EQ_INT(fl_hist_decode_merge(&twice, blob, len), 0);
	CHECK_EQ_INT(fl_hist_decode_merge(&twice, blob, len), 0);
	CHECK_EQ_INT(fl_hist_merge(&d, &h), 0);
	CHECK(hist_equal(&twice, &d));
	free(blob);
	fl_hist_release(&h);
	fl_hist_release(&d);
	fl_hist_release(&twice);

	/* the widest bin: last bucket, count 2^32 - 1 */
	static const uint8_t widest[] = { 1, 0xFF, 0x0E, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F };
	CHECK_EQ_INT(fl_hist_add(&h, UINT64_MAX, UINT32_MAX), 0);
	CHECK_EQ_INT(fl_hist_encode(&h, &blob, &len), 0);
	CHECK_EQ_INT(len, sizeof(widest));
	CHECK(len == sizeof(widest) && !memcmp(blob, widest, len));
	CHECK_EQ_INT(fl_hist_decode_merge(&d, blob, len), 0);
	CHECK(hist_equal(&d, &h));
	free(blob);
	fl_hist_release(&h);
	fl_hist_release(&d);
}

struct bad_blob {
	const char *what;
	uint8_t bytes[16];
	size_t len;
};

static const struct bad_blob bad_blobs[] = {
	{ "empty", { 0 }, 0 },
	{ "version 0", { 0, 5, 1 }, 3 },
	{ "version 2", { 2, 5, 1 }, 3 },
	{ "truncated idx varint", { 1, 0x80 }, 2 },
	{ "idx without count", { 1, 5 }, 2 },
	{ "truncated count varint", { 1, 5, 0x81 }, 3 },
	{ "second bin truncated", { 1, 5, 1, 0x02 }, 4 },
	{ "zero count", { 1, 5, 0 }, 3 },
	{ "idx 1920 (one past the last)", { 1, 0x80, 0x0F, 1 }, 4 },
	{ "idx past the last by delta", { 1, 0xFF, 0x0E, 1, 0, 1 }, 6 },
	{ "varint longer than 64 bits",
	  { 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 1 }, 13 },
};

static void test_decode_malformed(void)
{
	struct fl_hist h = FL_HIST_INIT, orig;

	CHECK_EQ_INT(fl_hist_add(&h, 5, 2), 0);
	CHECK_EQ_INT(fl_hist_add(&h, 123456, 7), 0);
	CHECK_EQ_INT(hist_copy(&orig, &h), 0);
	for (size_t i = 0; i < sizeof(bad_blobs) / sizeof(bad_blobs[0]); i++) {
		const struct bad_blob *b = &bad_blobs[i];
		int err = fl_hist_decode_merge(&h, b->bytes, b->len);
		if (err != -EINVAL || !hist_equal(&h, &orig)) {
			CHECK(!"malformed blob refused, target unchanged");
			fprintf(stderr, "    blob '%s': err %d\n", b->what, err);
		}
	}
	/* bin counts are 64-bit: a count of 2^32 is valid, not malformed */
	static const uint8_t big[] = { 1, 5, 0x80, 0x80, 0x80, 0x80, 0x10 };
	struct fl_hist b = FL_HIST_INIT;
	CHECK_EQ_INT(fl_hist_decode_merge(&b, big, sizeof(big)), 0);
	CHECK_EQ_INT(b.count, 1ull << 32);
	fl_hist_release(&b);
	/* the last valid bucket is accepted */
	static const uint8_t last[] = { 1, 0xFF, 0x0E, 1 };	/* idx 1919 */
	CHECK_EQ_INT(fl_hist_decode_merge(&h, last, sizeof(last)), 0);
	CHECK_EQ_INT(h.count, orig.count + 1);
	CHECK_EQ_INT(h.bins[h.nbins - 1].idx, FL_HIST_BUCKETS - 1);
	fl_hist_release(&h);
	fl_hist_release(&orig);
}

/*
 * A delta that wraps idx around 2^64 back below FL_HIST_BUCKETS is
 * malformed (deltas only move forward) and must be refused too.
 */
static void test_decode_delta_wraps(void)
{
	/* bin idx 5, then delta 2^64 - 1: idx 6 + 2^64 - 1 wraps to 5 */
	static const uint8_t wrap[] = { 1, 5, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
					0xFF, 0xFF, 0xFF, 0xFF, 0x01, 1 };
	struct fl_hist h = FL_HIST_INIT;

	CHECK_EQ_INT(fl_hist_decode_merge(&h, wrap, sizeof(wrap)), -EINVAL);
	CHECK_EQ_INT(h.count, 0);
	fl_hist_release(&h);
}

/* ---- store ---- */

static char tmpdir[64];

static void path_in_tmp(char *buf, size_t len, const char *name)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/fl-test-hist-XXXXXX");
		if (!mkdtemp(tmpdir))
			tmpdir[0] = '\0';
	}
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static long long query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, len, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static void test_store_create(void)
{
	char path[128], errbuf[256], mode[16];
	sqlite3 *db = NULL;
	struct stat sb;
	mode_t old = umask(0);	/* a wide umask must not widen the file */

	path_in_tmp(path, sizeof(path), "new.db");
	CHECK_EQ_INT(fl_store_open(path, true, &db, errbuf, sizeof(errbuf)), 0);
	umask(old);
	CHECK(db != NULL);
	if (!db)
		return;
	CHECK_EQ_INT(stat(path, &sb), 0);
	CHECK_EQ_INT(sb.st_mode & 07777, 0600);
	CHECK_EQ_INT(query_int(db, "PRAGMA user_version"), 7);
	CHECK_EQ_INT(FL_STORE_SCHEMA_VERSION, 7);
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM pragma_table_info('edges') "
			       "WHERE name = 'tls' AND dflt_value = '0'"), 1);
	query_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
	CHECK_EQ_STR(mode, "wal");
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
			       "AND name IN ('services', 'edges', 'edge_windows', 'agent_counters')"), 4);
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
			       "AND name IN ('edges_server', 'edge_windows_time')"), 2);
	/* fl_hist_merge(): {idx 5: 1} + {idx 5: 2, idx 7: 1} */
	CHECK_EQ_INT(query_int(db, "SELECT fl_hist_merge(x'010501', x'0105020101') = x'0105030101'"), 1);
	CHECK_EQ_INT(query_int(db, "SELECT fl_hist_merge(x'010501', NULL) = x'010501'"), 1);
	sqlite3_close(db);

	/* reopening migrates nothing; read-only opens it */
	db = NULL;
	CHECK_EQ_INT(fl_store_open(path, true, &db, errbuf, sizeof(errbuf)), 0);
	CHECK_EQ_INT(query_int(db, "PRAGMA user_version"), 7);
	sqlite3_close(db);
	db = NULL;
	CHECK_EQ_INT(fl_store_open(path, false, &db, errbuf, sizeof(errbuf)), 0);
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM edges"), 0);
	sqlite3_close(db);

	/* an existing wider file is narrowed to 0600 */
	path_in_tmp(path, sizeof(path), "wide.db");
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	if (fd >= 0) {
		fchmod(fd, 0644);
		close(fd);
	}
	db = NULL;
	CHECK_EQ_INT(fl_store_open(path, true, &db, errbuf, sizeof(errbuf)), 0);
	sqlite3_close(db);
	CHECK_EQ_INT(stat(path, &sb), 0);
	CHECK_EQ_INT(sb.st_mode & 07777, 0600);
}

static void test_store_readonly_missing(void)
{
	char path[128], errbuf[256], want[256];
	sqlite3 *db = NULL;

	path_in_tmp(path, sizeof(path), "missing.db");
	CHECK_EQ_INT(fl_store_open(path, false, &db, errbuf, sizeof(errbuf)), -ENOENT);
	CHECK(db == NULL);
	snprintf(want, sizeof(want), "cannot open '%s': No such file or directory", path);
	CHECK_EQ_STR(errbuf, want);
	CHECK_EQ_INT(access(path, F_OK), -1);	/* not created */
}

static int file_bytes(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len, f);
	fclose(f);
	return (int)n;
}

static void test_store_not_faultline(void)
{
	char path[128], errbuf[256], before[65536], after[65536];
	sqlite3 *db = NULL;
	int nb, na;

	/* a SQLite file of something else */
	path_in_tmp(path, sizeof(path), "other.db");
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)",
				  NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	nb = file_bytes(path, before, sizeof(before));
	db = NULL;
	CHECK_EQ_INT(fl_store_open(path, false, &db, errbuf, sizeof(errbuf)), -EPROTO);
	CHECK(db == NULL);
	CHECK(strstr(errbuf, "not a faultline store") != NULL);
	na = file_bytes(path, after, sizeof(after));
	CHECK(nb > 0 && na == nb && !memcmp(before, after, (size_t)nb));

	/* a newer schema than this build: refused read-only and writable */
	path_in_tmp(path, sizeof(path), "newer.db");
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_close(db);
	nb = file_bytes(path, before, sizeof(before));
	db = NULL;
	CHECK_EQ_INT(fl_store_open(path, false, &db, errbuf, sizeof(errbuf)), -EPROTO);
	CHECK_EQ_INT(fl_store_open(path, true, &db, errbuf, sizeof(errbuf)), -EPROTO);
	CHECK(db == NULL);
	CHECK(strstr(errbuf, "99") != NULL);
	na = file_bytes(path, after, sizeof(after));
	CHECK(nb > 0 && na == nb && !memcmp(before, after, (size_t)nb));

	/* not SQLite at all: an error, and no store handed out */
	path_in_tmp(path, sizeof(path), "text.db");
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("this is not a database, just some text long enough to matter\n", f);
		fclose(f);
	}
	CHECK(fl_store_open(path, false, &db, errbuf, sizeof(errbuf)) < 0);
	CHECK(db == NULL);
}

/*
 * The schema as released at version 1, frozen here: a migration test must
 * start from what old agents really wrote, not from today's tables.
 */
static const char schema_v1[] =
	"CREATE TABLE services (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" kind TEXT NOT NULL, first_seen_ns INTEGER NOT NULL, last_seen_ns INTEGER NOT NULL);"
	"CREATE TABLE edges (id INTEGER PRIMARY KEY,"
	" client_id INTEGER NOT NULL REFERENCES services(id),"
	" server_id INTEGER NOT NULL REFERENCES services(id),"
	" protocol TEXT NOT NULL, operation TEXT NOT NULL,"
	" first_seen_ns INTEGER NOT NULL, last_seen_ns INTEGER NOT NULL,"
	" UNIQUE (client_id, server_id, protocol, operation));"
	"CREATE INDEX edges_server ON edges(server_id);"
	"CREATE TABLE edge_windows (edge_id INTEGER NOT NULL REFERENCES edges(id),"
	" window_start INTEGER NOT NULL, requests INTEGER NOT NULL DEFAULT 0,"
	" errors INTEGER NOT NULL DEFAULT 0, client_errors INTEGER NOT NULL DEFAULT 0,"
	" conn_errors INTEGER NOT NULL DEFAULT 0, req_bytes INTEGER NOT NULL DEFAULT 0,"
	" resp_bytes INTEGER NOT NULL DEFAULT 0, latency_sum_ns INTEGER NOT NULL DEFAULT 0,"
	" latency_hist BLOB, PRIMARY KEY (edge_id, window_start)) WITHOUT ROWID;"
	"CREATE INDEX edge_windows_time ON edge_windows(window_start);"
	"CREATE TABLE agent_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL,"
	" updated_ns INTEGER NOT NULL);"
	"PRAGMA user_version = 1;"
	"INSERT INTO services VALUES (1, 'a', 'service', 0, 0);"
	"INSERT INTO services VALUES (2, 'b', 'database', 0, 0);"
	"INSERT INTO edges(client_id, server_id, protocol, operation,"
	" first_seen_ns, last_seen_ns) VALUES (1, 2, 'http', 'GET /', 5, 9);"
	"INSERT INTO edge_windows(edge_id, window_start, requests, conn_errors,"
	" latency_hist) VALUES (1, 60, 3, 1, x'010501'), (1, 120, 4, 0, NULL);";

/* Schema 1 and 2 stores: read-only as they are, migrated when written. */
static void test_store_migrate_v1(void)
{
	char path[128], errbuf[256];
	sqlite3 *db = NULL;

	path_in_tmp(path, sizeof(path), "v1.db");
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, schema_v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	db = NULL;
	CHECK_EQ_INT(fl_store_open(path, false, &db, errbuf, sizeof(errbuf)), 0);
	CHECK_EQ_INT(query_int(db, "PRAGMA user_version"), 1);
	sqlite3_close(db);
	db = NULL;
	CHECK_EQ_INT(fl_store_open(path, true, &db, errbuf, sizeof(errbuf)), 0);
	if (!db)
		return;
	CHECK_EQ_INT(query_int(db, "PRAGMA user_version"), 7);
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM edges WHERE tls = 0"), 1);
	/* 2 -> 3: windows kept, tagged ebpf and 60 s wide; provenance derived */
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM edge_windows WHERE "
			       "source = 'ebpf' AND width_s = 60"), 2);
	CHECK_EQ_INT(query_int(db, "SELECT sum(requests) FROM edge_windows"), 7);
	CHECK_EQ_INT(query_int(db, "SELECT latency_hist = x'010501' FROM edge_windows "
			       "WHERE window_start = 60"), 1);
	CHECK_EQ_INT(query_int(db, "SELECT samples FROM edge_sources WHERE "
			       "edge_id = 1 AND source = 'ebpf' AND first_seen_ns = 5 "
			       "AND last_seen_ns = 9"), 8);
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
			       "AND name IN ('path_links', 'imports', 'edge_sources')"), 3);
	/* 3 -> 4: schema-only operations */
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM pragma_table_info('operations')"), 7);
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
			       "AND name = 'edge_windows_time'"), 1);
	/* 4 -> 5: the gate's tables, with the columns both gate helpers use */
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
			       "AND name IN ('edge_window_statuses', 'test_runs', "
			       "'test_results', 'footprints', 'gate_runs', 'predictions')"), 6);
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM pragma_table_info('footprints')"), 11);
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM pragma_table_info('edge_window_statuses')"), 7);
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM pragma_table_info('test_runs')"), 8);
	CHECK_EQ_INT(query_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	sqlite3_close(db);
}

static void test_cleanup(void)
{
	static const char *const names[] = {
		"new.db", "new.db-wal", "new.db-shm", "wide.db", "wide.db-wal",
		"wide.db-shm", "other.db", "newer.db", "text.db", "v1.db",
		"v1.db-wal", "v1.db-shm",
	};
	char path[128];

	if (!tmpdir[0])
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in_tmp(path, sizeof(path), names[i]);
		unlink(path);
	}
	CHECK_EQ_INT(rmdir(tmpdir), 0);
}

RUN_TESTS(test_index_known, test_index_error_sweep, test_quantile_known,
	  test_merge_equals_add, test_merge_bin_count_overflow,
	  test_encode_known_bytes, test_encode_roundtrip, test_decode_malformed,
	  test_decode_delta_wraps, test_store_create, test_store_readonly_missing,
	  test_store_not_faultline, test_store_migrate_v1, test_cleanup)
