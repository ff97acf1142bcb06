/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * myprep - server-side prepared statements through MariaDB Connector/C
 * (libmariadb), for the golden captures and the MySQL integration test:
 * no Debian command-line client speaks COM_STMT_*.
 *
 *   myprep PORT USER PASSWORD DB SQL N [TEXT]
 *
 * Connects to 127.0.0.1:PORT, prepares SQL (COM_STMT_PREPARE), executes
 * it N times (COM_STMT_EXECUTE; the first '?' is bound to the loop index,
 * every other one to TEXT), reads every row, and closes the statement
 * (COM_STMT_CLOSE). A statement that fails to prepare is reported and
 * counts as done (its ERR is part of what the tests want to see). Exit 0,
 * or 1 with a message on stderr.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	MYSQL *db;
	MYSQL_STMT *st;
	MYSQL_BIND bind[8];
	long long idx = 0;
	const char *text = argc > 7 ? argv[7] : "";
	unsigned long text_len = strlen(text);
	unsigned params;
	int n, rc = 1;

	if (argc < 7) {
		fprintf(stderr, "usage: myprep PORT USER PASSWORD DB SQL N [TEXT]\n");
		return 2;
	}
	n = atoi(argv[6]);
	db = mysql_init(NULL);
	if (!db || !mysql_real_connect(db, "127.0.0.1", argv[2], argv[3], argv[4],
				       (unsigned)atoi(argv[1]), NULL, 0)) {
		fprintf(stderr, "myprep: cannot connect: %s\n", db ? mysql_error(db) : "no memory");
		return 1;
	}
	st = mysql_stmt_init(db);
	if (!st)
		goto out;
	if (mysql_stmt_prepare(st, argv[5], strlen(argv[5]))) {
		printf("prepare failed: %s\n", mysql_stmt_sqlstate(st));
		rc = 0;
		goto out_close;
	}
	params = mysql_stmt_param_count(st);
	if (params > 8) {
		fprintf(stderr, "myprep: more than 8 parameters\n");
		goto out_close;
	}
	memset(bind, 0, sizeof(bind));
	for (unsigned i = 0; i < params; i++) {
		if (i == 0) {
			bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
			bind[i].buffer = &idx;
		} else {
			bind[i].buffer_type = MYSQL_TYPE_STRING;
			bind[i].buffer = (void *)text;
			bind[i].buffer_length = text_len;
			bind[i].length = &text_len;
		}
	}
	if (params && mysql_stmt_bind_param(st, bind))
		goto err;
	for (idx = 1; idx <= n; idx++) {
		if (mysql_stmt_execute(st) || mysql_stmt_store_result(st))
			goto err;
		while (mysql_stmt_fetch(st) == 0)
			;
		mysql_stmt_free_result(st);
	}
	rc = 0;
	goto out_close;
err:
	fprintf(stderr, "myprep: %s\n", mysql_stmt_error(st));
out_close:
	mysql_stmt_close(st);
out:
	mysql_close(db);
	return rc;
}
