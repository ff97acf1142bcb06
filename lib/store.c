// SPDX-License-Identifier: BSD-2-Clause
#include "store.h"
#include "hist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Migration N takes the schema from user_version N to N + 1. */
static const char *const migrations[] = {
	/* 0 -> 1: the walking skeleton's graph */
	"CREATE TABLE services ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  kind TEXT NOT NULL,"		/* service|database|cache|queue|external */
	"  first_seen_ns INTEGER NOT NULL,"
	"  last_seen_ns INTEGER NOT NULL);"
	"CREATE TABLE edges ("
	"  id INTEGER PRIMARY KEY,"
	"  client_id INTEGER NOT NULL REFERENCES services(id),"
	"  server_id INTEGER NOT NULL REFERENCES services(id),"
	"  protocol TEXT NOT NULL,"	/* http|postgresql|redis|tcp|unknown */
	"  operation TEXT NOT NULL,"
	"  first_seen_ns INTEGER NOT NULL,"
	"  last_seen_ns INTEGER NOT NULL,"
	"  UNIQUE (client_id, server_id, protocol, operation));"
	"CREATE INDEX edges_server ON edges(server_id);"
	"CREATE TABLE edge_windows ("
	"  edge_id INTEGER NOT NULL REFERENCES edges(id),"
	"  window_start INTEGER NOT NULL,"	/* Unix s, multiple of 60 */
	"  requests INTEGER NOT NULL DEFAULT 0,"
	"  errors INTEGER NOT NULL DEFAULT 0,"
	"  client_errors INTEGER NOT NULL DEFAULT 0,"
	"  conn_errors INTEGER NOT NULL DEFAULT 0,"
	"  req_bytes INTEGER NOT NULL DEFAULT 0,"
	"  resp_bytes INTEGER NOT NULL DEFAULT 0,"
	"  latency_sum_ns INTEGER NOT NULL DEFAULT 0,"
	"  latency_hist BLOB,"
	"  PRIMARY KEY (edge_id, window_start)) WITHOUT ROWID;"
	"CREATE INDEX edge_windows_time ON edge_windows(window_start);"
	"CREATE TABLE agent_counters ("
	"  name TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL,"
	"  updated_ns INTEGER NOT NULL);",
	/* 1 -> 2: edges seen over TLS (plaintext from the SSL_* uprobes) */
	"ALTER TABLE edges ADD COLUMN tls INTEGER NOT NULL DEFAULT 0;",
	/*
	 * 2 -> 3: provenance (which source saw an edge), windows per source
	 * and width (hourly roll-ups), call-path links, import log.
	 */
	"CREATE TABLE edge_windows_v3 ("
	"  edge_id INTEGER NOT NULL REFERENCES edges(id),"
	"  source TEXT NOT NULL DEFAULT 'ebpf',"	/* ebpf|test|trace */
	"  window_start INTEGER NOT NULL,"	/* Unix s, multiple of width_s */
	"  width_s INTEGER NOT NULL DEFAULT 60,"	/* 60, or 3600 once rolled up */
	"  requests INTEGER NOT NULL DEFAULT 0,"
	"  errors INTEGER NOT NULL DEFAULT 0,"
	"  client_errors INTEGER NOT NULL DEFAULT 0,"
	"  conn_errors INTEGER NOT NULL DEFAULT 0,"
	"  req_bytes INTEGER NOT NULL DEFAULT 0,"
	"  resp_bytes INTEGER NOT NULL DEFAULT 0,"
	"  latency_sum_ns INTEGER NOT NULL DEFAULT 0,"
	"  latency_hist BLOB,"
	"  PRIMARY KEY (edge_id, source, window_start)) WITHOUT ROWID;"
	"INSERT INTO edge_windows_v3(edge_id, window_start, requests, errors,"
	"  client_errors, conn_errors, req_bytes, resp_bytes, latency_sum_ns,"
	"  latency_hist) SELECT edge_id, window_start, requests, errors,"
	"  client_errors, conn_errors, req_bytes, resp_bytes, latency_sum_ns,"
	"  latency_hist FROM edge_windows;"
	"DROP TABLE edge_windows;"
	"ALTER TABLE edge_windows_v3 RENAME TO edge_windows;"
	"CREATE INDEX edge_windows_time ON edge_windows(window_start);"
	"CREATE TABLE edge_sources ("
	"  edge_id INTEGER NOT NULL REFERENCES edges(id),"
	"  source TEXT NOT NULL,"		/* ebpf|test|trace|schema */
	"  samples INTEGER NOT NULL DEFAULT 0,"	/* requests + failed connects seen */
	"  first_seen_ns INTEGER NOT NULL,"
	"  last_seen_ns INTEGER NOT NULL,"
	"  PRIMARY KEY (edge_id, source)) WITHOUT ROWID;"
	"INSERT INTO edge_sources SELECT e.id, 'ebpf', coalesce((SELECT"
	"  sum(w.requests + w.conn_errors) FROM edge_windows w"
	"  WHERE w.edge_id = e.id), 0), e.first_seen_ns, e.last_seen_ns"
	"  FROM edges e;"
	"CREATE TABLE path_links ("
	"  parent_edge_id INTEGER NOT NULL REFERENCES edges(id),"
	"  child_edge_id INTEGER NOT NULL REFERENCES edges(id),"
	"  method TEXT NOT NULL,"		/* thread|traceparent|trace */
	"  window_start INTEGER NOT NULL,"
	"  width_s INTEGER NOT NULL DEFAULT 60,"
	"  count INTEGER NOT NULL DEFAULT 0,"	/* child requests made while serving a parent */
	"  PRIMARY KEY (parent_edge_id, child_edge_id, method, window_start))"
	"  WITHOUT ROWID;"
	"CREATE INDEX path_links_child ON path_links(child_edge_id);"
	"CREATE TABLE imports ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"		/* otlp|openapi */
	"  path TEXT NOT NULL,"
	"  service TEXT,"
	"  imported_ns INTEGER NOT NULL,"
	"  items INTEGER NOT NULL);",
	/*
	 * 3 -> 4: operations a service offers, known from an imported API
	 * description (OpenAPI) rather than from traffic: a server side
	 * without a client, merged with edges by (server, protocol, operation)
	 * when read.
	 */
	"CREATE TABLE operations ("
	"  service_id INTEGER NOT NULL REFERENCES services(id),"
	"  protocol TEXT NOT NULL,"		/* http */
	"  operation TEXT NOT NULL,"		/* "GET /users/{id}" */
	"  source TEXT NOT NULL DEFAULT 'schema',"	/* schema */
	"  import_id INTEGER REFERENCES imports(id),"	/* the latest import listing it */
	"  first_seen_ns INTEGER NOT NULL,"	/* first import listing it */
	"  last_seen_ns INTEGER NOT NULL,"	/* latest import listing it */
	"  PRIMARY KEY (service_id, protocol, operation, source)) WITHOUT ROWID;",
	/*
	 * 4 -> 5: the gate (docs/store.md "Schema 5"): the per-status
	 * breakdown of windows, test runs and their results, the footprint
	 * of each test (edges by name, so a footprint means the same in any
	 * store), gate runs and their predictions. The tables are those of
	 * COORD.md; the indexes are ours.
	 */
	"CREATE TABLE edge_window_statuses ("
	"  edge_id INTEGER NOT NULL REFERENCES edges(id),"
	"  source TEXT NOT NULL DEFAULT 'ebpf',"
	"  window_start INTEGER NOT NULL,"	/* Unix s, multiple of width_s */
	"  width_s INTEGER NOT NULL,"		/* 60, or 3600 once rolled up */
	"  status TEXT NOT NULL,"		/* "200", "grpc:14", "42P01", "ok", "_other" */
	"  requests INTEGER NOT NULL,"
	"  errors INTEGER NOT NULL,"
	"  PRIMARY KEY (edge_id, source, window_start, status)) WITHOUT ROWID;"
	"CREATE INDEX edge_window_statuses_time ON edge_window_statuses(window_start);"
	"CREATE TABLE test_runs ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"			/* learn|gate|rerun|deep */
	"  stack TEXT NOT NULL,"		/* the stack's name */
	"  versions TEXT,"			/* JSON {service: version id} */
	"  sandbox TEXT,"
	"  started_ns INTEGER NOT NULL,"
	"  ended_ns INTEGER,"
	"  agent_counters TEXT);"		/* JSON, at the end of the run */
	"CREATE INDEX test_runs_started ON test_runs(started_ns);"
	"CREATE TABLE test_results ("
	"  run_id INTEGER NOT NULL REFERENCES test_runs(id),"
	"  test TEXT NOT NULL,"
	"  result TEXT NOT NULL,"		/* pass|fail|skipped */
	"  class TEXT,"				/* app|infra|flaky|pre-existing|NULL */
	"  duration_ns INTEGER,"
	"  exit_code INTEGER,"
	"  message TEXT,"
	"  PRIMARY KEY (run_id, test)) WITHOUT ROWID;"
	"CREATE TABLE footprints ("
	"  run_id INTEGER NOT NULL,"		/* test_runs.id */
	"  test TEXT NOT NULL,"
	"  client TEXT NOT NULL,"		/* services.name */
	"  server TEXT NOT NULL,"
	"  protocol TEXT NOT NULL,"
	"  operation TEXT NOT NULL,"
	"  status TEXT NOT NULL,"		/* as edge_window_statuses.status */
	"  requests INTEGER NOT NULL,"
	"  errors INTEGER NOT NULL,"
	"  latency_sum_ns INTEGER NOT NULL DEFAULT 0,"
	"  latency_hist BLOB,"			/* lib/hist.h encoding */
	"  PRIMARY KEY (run_id, test, client, server, protocol, operation, status))"
	"  WITHOUT ROWID;"
	"CREATE INDEX footprints_edge ON footprints(server, client, protocol, operation);"
	"CREATE TABLE gate_runs ("
	"  id INTEGER PRIMARY KEY,"
	"  test_run_id INTEGER REFERENCES test_runs(id),"
	"  stack TEXT NOT NULL,"
	"  changed TEXT NOT NULL,"		/* JSON [{service, cmd}] */
	"  verdict TEXT,"			/* pass|fail|inconclusive */
	"  started_ns INTEGER NOT NULL,"
	"  ended_ns INTEGER,"
	"  report TEXT);"			/* the gate's -o json */
	"CREATE TABLE predictions ("
	"  id INTEGER PRIMARY KEY,"
	"  gate_run_id INTEGER NOT NULL REFERENCES gate_runs(id),"
	"  client TEXT NOT NULL,"
	"  server TEXT NOT NULL,"
	"  protocol TEXT NOT NULL,"
	"  operation TEXT NOT NULL,"
	"  expected TEXT NOT NULL,"		/* healthy|errors|latency|new|missing */
	"  status TEXT,"
	"  evidence TEXT,"			/* JSON {tests:[..], requests:N, errors:N} */
	"  confidence REAL NOT NULL);"
	"CREATE INDEX predictions_gate_run ON predictions(gate_run_id);",
	/*
	 * 5 -> 6: after the deploy (docs/store.md "Schema 6"): deployments
	 * (seen by the agent or told by CI), what the agent saw of each flush
	 * (so a quiet edge and an agent that was not running are told apart),
	 * verifications and the outcome of every prediction, and what the
	 * misses teach selection: edge risk weights, gate blind spots, and
	 * quarantined tests.
	 */
	"CREATE TABLE deployments ("
	"  id INTEGER PRIMARY KEY,"
	"  service TEXT NOT NULL,"		/* services.name */
	"  old_version TEXT,"			/* version id before; NULL if unknown */
	"  new_version TEXT NOT NULL,"		/* version id after */
	"  at_ns INTEGER NOT NULL,"		/* when the new version started */
	"  node TEXT NOT NULL,"			/* hostname of the agent or CI's --node */
	"  source TEXT NOT NULL,"		/* agent|ci */
	"  gate_run_id INTEGER REFERENCES gate_runs(id)," /* predictions to judge */
	"  pid INTEGER,"			/* agent: the new process */
	"  old_pid INTEGER,"			/* agent: the process it replaced */
	"  detail TEXT);"			/* JSON: exe, script, cmdline, service.version */
	"CREATE INDEX deployments_service ON deployments(service, at_ns);"
	"CREATE TABLE agent_flushes ("
	"  node TEXT NOT NULL,"
	"  source TEXT NOT NULL DEFAULT 'ebpf',"	/* as edge_windows.source */
	"  at_ns INTEGER NOT NULL,"		/* the flush's commit time */
	"  agent_start_ns INTEGER NOT NULL,"	/* the agent's start: a restart is a gap */
	"  flush_s INTEGER NOT NULL,"		/* configured interval between flushes */
	"  window_s INTEGER NOT NULL,"		/* the width of the windows it writes */
	"  lost INTEGER NOT NULL DEFAULT 0,"	/* events lost since the agent started */
	"  PRIMARY KEY (node, source, at_ns)) WITHOUT ROWID;"
	"CREATE INDEX agent_flushes_time ON agent_flushes(at_ns);"
	"CREATE TABLE verifications ("
	"  id INTEGER PRIMARY KEY,"
	"  deployment_id INTEGER NOT NULL REFERENCES deployments(id),"
	"  gate_run_id INTEGER REFERENCES gate_runs(id)," /* the one judged */
	"  started_ns INTEGER NOT NULL,"
	"  ended_ns INTEGER,"
	"  window_s INTEGER NOT NULL,"
	"  baseline_s INTEGER NOT NULL,"
	"  interval_s INTEGER NOT NULL,"
	"  verdict TEXT NOT NULL,"		/* pass|fail|inconclusive */
	"  intervals TEXT NOT NULL,"		/* JSON [{start, end, verdict, high, nodata}] */
	"  report TEXT);"			/* verify -o json */
	"CREATE INDEX verifications_deployment ON verifications(deployment_id);"
	"CREATE TABLE prediction_outcomes ("
	"  prediction_id INTEGER NOT NULL REFERENCES predictions(id),"
	"  verification_id INTEGER NOT NULL REFERENCES verifications(id),"
	"  outcome TEXT NOT NULL,"		/* hit|miss|unverifiable */
	"  reason TEXT NOT NULL,"
	"  predicted TEXT,"			/* JSON: the gate's evidence */
	"  observed TEXT,"			/* JSON: production before/after */
	"  scored_ns INTEGER NOT NULL,"
	"  PRIMARY KEY (prediction_id, verification_id)) WITHOUT ROWID;"
	"CREATE TABLE edge_risk ("		/* what misses taught select */
	"  client TEXT NOT NULL, server TEXT NOT NULL,"
	"  protocol TEXT NOT NULL, operation TEXT NOT NULL,"
	"  weight REAL NOT NULL DEFAULT 1,"	/* multiplies the edge's risk in select */
	"  misses INTEGER NOT NULL DEFAULT 0,"
	"  last_miss_ns INTEGER,"
	"  PRIMARY KEY (client, server, protocol, operation)) WITHOUT ROWID;"
	"CREATE TABLE blind_spots ("		/* failed in production, no footprint covers it */
	"  client TEXT NOT NULL, server TEXT NOT NULL,"
	"  protocol TEXT NOT NULL, operation TEXT NOT NULL,"
	"  status TEXT NOT NULL,"		/* the failing status ('' when not known) */
	"  prediction_id INTEGER REFERENCES predictions(id),"
	"  verification_id INTEGER REFERENCES verifications(id),"
	"  found_ns INTEGER NOT NULL,"
	"  covered_ns INTEGER,"		/* when a footprint first covered it */
	"  PRIMARY KEY (client, server, protocol, operation, status)) WITHOUT ROWID;"
	"CREATE TABLE test_quarantine ("
	"  test TEXT PRIMARY KEY,"
	"  since_ns INTEGER NOT NULL,"
	"  reason TEXT);",
	/*
	 * 6 -> 7: the deep suite (docs/store.md "Schema 7", docs/deep.md):
	 * each run, the outcome of every (edge, fault) it reached, and which
	 * tests detected which fault — what select's ranking reads as a
	 * test's effectiveness and what `select` names as the tests that catch
	 * an affected edge's faults.
	 */
	"CREATE TABLE deep_runs ("
	"  id INTEGER PRIMARY KEY,"
	"  stack TEXT NOT NULL,"
	"  started_ns INTEGER NOT NULL,"
	"  ended_ns INTEGER,"
	"  report TEXT);"			/* deep -o json */
	"CREATE TABLE fault_results ("
	"  deep_run_id INTEGER NOT NULL REFERENCES deep_runs(id),"
	"  client TEXT NOT NULL, server TEXT NOT NULL,"	/* services.name */
	"  fault TEXT NOT NULL,"		/* refuse|reset|blackhole|latency|bandwidth */
	"  param TEXT NOT NULL,"		/* "100ms", "64kbit", '' */
	"  test_run_id INTEGER REFERENCES test_runs(id)," /* the tests run under it */
	"  outcome TEXT NOT NULL,"		/* detected|cascaded|absorbed */
	"  retries INTEGER NOT NULL,"		/* extra requests on the edge */
	"  PRIMARY KEY (deep_run_id, client, server, fault, param)) WITHOUT ROWID;"
	"CREATE TABLE fault_detections ("
	"  deep_run_id INTEGER NOT NULL REFERENCES deep_runs(id),"
	"  client TEXT NOT NULL, server TEXT NOT NULL,"
	"  fault TEXT NOT NULL, param TEXT NOT NULL,"
	"  test TEXT NOT NULL,"			/* failed while the fault was on */
	"  PRIMARY KEY (deep_run_id, client, server, fault, param, test)) WITHOUT ROWID;"
	"CREATE INDEX fault_detections_test ON fault_detections(test);",
};

#define N_MIGRATIONS (int)(sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == FL_STORE_SCHEMA_VERSION,
	       "FL_STORE_SCHEMA_VERSION is the number of migrations");

static void sql_hist_merge(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct fl_hist h = FL_HIST_INIT;
	uint8_t *blob;
	size_t len;

	for (int i = 0; i < argc; i++) {
		if (sqlite3_value_type(argv[i]) != SQLITE_BLOB)
			continue;
		if (fl_hist_decode_merge(&h, sqlite3_value_blob(argv[i]),
					 (size_t)sqlite3_value_bytes(argv[i]))) {
			fl_hist_release(&h);
			sqlite3_result_error(ctx, "malformed latency histogram", -1);
			return;
		}
	}
	if (fl_hist_encode(&h, &blob, &len)) {
		fl_hist_release(&h);
		sqlite3_result_error_nomem(ctx);
		return;
	}
	fl_hist_release(&h);
	sqlite3_result_blob(ctx, blob, (int)len, free);
}

static int store_fail(sqlite3 *db, int err, char *errbuf, size_t errlen,
		      const char *what)
{
	snprintf(errbuf, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "");
	return err;
}

/*
 * Why the first read of a store failed, in words an operator can act on:
 * locked (-EBUSY, after the busy timeout), damaged (-EPROTO), not a store.
 */
static int store_unreadable(sqlite3 *db, char *errbuf, size_t errlen)
{
	int rc = sqlite3_errcode(db);
	const char *msg = sqlite3_errmsg(db);

	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		snprintf(errbuf, errlen, "store is locked by another process "
			 "(%s; waited %d ms)", msg, FL_STORE_BUSY_MS);
		return -EBUSY;
	}
	if (rc == SQLITE_CORRUPT) {
		snprintf(errbuf, errlen, "damaged store (%s)", msg);
		return -EPROTO;
	}
	if (rc == SQLITE_CANTOPEN) {
		snprintf(errbuf, errlen, "cannot read the store (%s)", msg);
		return -EIO;
	}
	snprintf(errbuf, errlen, "not a faultline store (%s)", msg);
	return -EPROTO;
}

/*
 * A read-only open of a store on a read-only filesystem (a snapshot, a CI
 * artifact mounted ro): SQLite cannot create the WAL index there and says
 * "unable to open database file". With no WAL content beside it nobody can
 * have written it since, so it is opened immutable (no locks, no -shm). A
 * non-empty -wal there cannot be read: say how to make it readable.
 * Returns 1 (open immutable), 0 (open normally) or -EROFS (@errbuf set).
 */
static int store_readonly_fs(const char *path, char *errbuf, size_t errlen)
{
	char wal[4096];
	struct statvfs vfs;
	struct stat sb;

	if (statvfs(path, &vfs) || !(vfs.f_flag & ST_RDONLY))
		return 0;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (stat(wal, &sb) || sb.st_size == 0)
		return 1;
	snprintf(errbuf, errlen, "cannot open '%s': on a read-only filesystem "
		 "with unmerged WAL content ('%s'): run "
		 "\"sqlite3 FILE 'PRAGMA wal_checkpoint(TRUNCATE)'\" where it "
		 "was written, or copy both files to writable storage", path, wal);
	return -EROFS;
}

/* "file:" URI of @path, immutable, into @uri (RFC 3986 percent-encoding). */
static int store_uri_immutable(const char *path, char *uri, size_t len)
{
	size_t n = (size_t)snprintf(uri, len, "file:");

	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		if (n + 4 >= len)
			return -ENAMETOOLONG;
		if (*c == '%' || *c == '?' || *c == '#' || *c <= 0x20 || *c >= 0x7f)
			n += (size_t)snprintf(uri + n, len - n, "%%%02X", *c);
		else
			uri[n++] = (char)*c;
	}
	if ((size_t)snprintf(uri + n, len - n, "?immutable=1") >= len - n)
		return -ENAMETOOLONG;
	return 0;
}

static int store_check(sqlite3 *db, bool writable, int *version,
		       char *errbuf, size_t errlen);

/*
 * Refuse a file that is not a store this build may open before SQLite opens
 * it for real: a store in WAL mode opened normally gets a -wal and a -shm
 * beside it, which a refused (newer, damaged, foreign) file must not. So
 * when no -wal exists yet, the checks run on an immutable connection (no
 * locks, no files created); where a -wal exists nothing new is created.
 */
static int store_precheck(const char *path, bool writable, char *errbuf,
			  size_t errlen)
{
	char wal[4096], uri[4200];
	sqlite3 *db = NULL;
	int err, version;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (!access(wal, F_OK) || store_uri_immutable(path, uri, sizeof(uri)))
		return 0;
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
			    SQLITE_OPEN_NOMUTEX, NULL)) {
		sqlite3_close(db);
		return 0;	/* the real open says why */
	}
	err = store_check(db, writable, &version, errbuf, errlen);
	sqlite3_close(db);
	return err;
}

/* Take the schema from @version to the newest, one transaction a step. */
static int store_migrate(sqlite3 *db, int version, char *errbuf, size_t errlen)
{
	for (; version < N_MIGRATIONS; version++) {
		char pragma[64];
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ||
		    sqlite3_exec(db, migrations[version], NULL, NULL, NULL))
			goto fail;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d",
			 version + 1);
		if (sqlite3_exec(db, pragma, NULL, NULL, NULL) ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
			goto fail;
	}
	return 0;
fail:
	store_fail(db, -EIO, errbuf, errlen, "cannot migrate schema");
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -EIO;
}

/*
 * Before anything is read or written: refuse a file that is not a faultline
 * store (a newer schema; any other SQLite database; for a read-only open,
 * also an empty one). OUT: *@version, the schema version found.
 */
static int store_check(sqlite3 *db, bool writable, int *version,
		       char *errbuf, size_t errlen)
{
	sqlite3_stmt *st;
	int tables = -1;

	*version = -1;
	if (sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM pragma_user_version),"
				   " (SELECT count(*) FROM sqlite_master)", -1, &st, NULL))
		return store_unreadable(db, errbuf, errlen);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*version = sqlite3_column_int(st, 0);
		tables = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	if (*version > N_MIGRATIONS) {
		snprintf(errbuf, errlen,
			 "schema version %d is newer than this build (%d)",
			 *version, N_MIGRATIONS);
		return -EPROTO;
	}
	if (*version < 0 || (*version == 0 && (tables != 0 || !writable))) {
		snprintf(errbuf, errlen, "not a faultline store (schema version %d)",
			 *version);
		return -EPROTO;
	}
	return 0;
}

int fl_store_open(const char *path, bool writable, sqlite3 **out,
		  char *errbuf, size_t errlen)
{
	int flags = writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
			     : SQLITE_OPEN_READONLY;
	sqlite3 *db = NULL;
	const char *name = path;
	char uri[4200];
	int err, version;

	if (!writable && access(path, F_OK)) {
		snprintf(errbuf, errlen, "cannot open '%s': %s", path, strerror(errno));
		return -ENOENT;
	}
	err = store_precheck(path, writable, errbuf, errlen);
	if (err)
		return err;
	if (!writable) {
		err = store_readonly_fs(path, errbuf, errlen);
		if (err < 0)
			return err;
		if (err && store_uri_immutable(path, uri, sizeof(uri)) == 0) {
			name = uri;
			flags |= SQLITE_OPEN_URI;
		}
	}
	/* create 0600 before SQLite does, so the file is never wider; only
	 * when missing: closing any fd of an open store drops every POSIX
	 * lock this process holds on it (fcntl semantics), so another
	 * connection of the process (the agent's compactor beside its main
	 * one) would lose its locks, and a second process then checkpoints
	 * and deletes the WAL under it: a corrupt store */
	if (writable && access(path, F_OK)) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			err = -errno;
			snprintf(errbuf, errlen, "cannot open '%s': %s", path,
				 strerror(errno));
			return err;
		}
		close(fd);
	} else if (writable && access(path, R_OK | W_OK)) {
		/* an existing store we may not write (a read-only filesystem):
		 * access(2) says why and opens nothing */
		err = -errno;
		snprintf(errbuf, errlen, "cannot open '%s': %s", path, strerror(errno));
		return err;
	}
	if (sqlite3_open_v2(name, &db, flags | SQLITE_OPEN_NOMUTEX, NULL)) {
		err = store_fail(db, -EIO, errbuf, errlen, "cannot open store");
		goto out_close;
	}
	sqlite3_busy_timeout(db, FL_STORE_BUSY_MS);
	sqlite3_create_function(db, "fl_hist_merge", 2,
				SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				sql_hist_merge, NULL, NULL);
	err = store_check(db, writable, &version, errbuf, errlen);
	if (err || !writable)
		goto out_check;
	/* an existing store may have been created wider by someone else */
	if (chmod(path, 0600) ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL;"
			     "PRAGMA synchronous=NORMAL;"
			     "PRAGMA foreign_keys=ON;", NULL, NULL, NULL)) {
		err = store_fail(db, -EIO, errbuf, errlen, "cannot open store");
		goto out_close;
	}
	err = store_migrate(db, version, errbuf, errlen);
out_check:
	if (err)
		goto out_close;
	*out = db;
	return 0;
out_close:
	sqlite3_close(db);
	return err;
}
