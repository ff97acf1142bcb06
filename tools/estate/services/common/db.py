# SPDX-License-Identifier: BSD-2-Clause
"""Data-store clients whose every statement or command is a CALL line.

Pg(peer, dbname)     psycopg2, autocommit, a pool of lazily opened connections
My(peer, dbname)     PyMySQL, autocommit, the same pool
Redis(peer)          redis-py (its own pool)

query()/cmd() raise DBError(status, message) on a server error; status is
the SQLSTATE (PostgreSQL), the MySQL error number, or the Redis error prefix.
A connection that failed is discarded, never reused; one idle for more than
MAX_IDLE_S is closed instead of reused (as pgbouncer's server_idle_timeout
does), so after a quiet spell every connection is new.
"""

import threading
import time

from . import calls


class DBError(Exception):
    def __init__(self, status, message):
        super().__init__("%s: %s" % (status, message))
        self.status = status


MAX_IDLE_S = 2.0


class _Pool:
    def __init__(self, connect, size=8):
        self._connect = connect
        self._idle = []            # [(connection, monotonic time it was put back)]
        self._lock = threading.Lock()
        self._size = size

    def get(self):
        stale = []
        conn = None
        with self._lock:
            now = time.monotonic()
            while self._idle:
                c, since = self._idle.pop()
                if now - since <= MAX_IDLE_S:
                    conn = c
                    break
                stale.append(c)
        for c in stale:
            try:
                c.close()
            except Exception:
                pass
        return conn if conn is not None else self._connect()

    def put(self, conn, broken=False):
        if broken:
            try:
                conn.close()
            except Exception:
                pass
            return
        with self._lock:
            if len(self._idle) < self._size:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()


class Pg:
    def __init__(self, peer, dbname, user="postgres"):
        import psycopg2
        self.psycopg2 = psycopg2
        self.peer = peer
        host, _, port = peer.rpartition(":")

        def connect():
            c = psycopg2.connect(host=host, port=int(port), dbname=dbname, user=user,
                                 application_name=calls.SERVICE, sslmode="disable",
                                 connect_timeout=3)
            c.autocommit = True
            return c
        self.pool = _Pool(connect)

    def query(self, sql, params=()):
        """Run SQL (psycopg2 %s placeholders); rows as a list of tuples (an
        empty list for statements without a result)."""
        conn = self.pool.get()
        op = calls.sql_op(sql)
        t0 = calls.now_ns()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description else []
        except self.psycopg2.Error as e:
            code = e.pgcode or "conn_reset"
            calls.log(self.peer, "postgresql", op, code, 1, t0)
            self.pool.put(conn, broken=e.pgcode is None)
            raise DBError(code, str(e).strip())
        calls.log(self.peer, "postgresql", op, "ok", 0, t0)
        self.pool.put(conn)
        return rows


class My:
    def __init__(self, peer, dbname, user="shop", password="shop"):
        import pymysql
        self.pymysql = pymysql
        self.peer = peer
        host, _, port = peer.rpartition(":")

        def connect():
            return pymysql.connect(host=host, port=int(port), user=user, password=password,
                                   database=dbname, autocommit=True, connect_timeout=3,
                                   charset="utf8mb4")
        self.pool = _Pool(connect)

    def query(self, sql, params=()):
        """Run SQL (%s placeholders); rows, or for an INSERT the last id as
        [(id,)]."""
        conn = self.pool.get()
        op = calls.sql_op(sql)
        t0 = calls.now_ns()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                rows = list(cur.fetchall()) if cur.description else [(cur.lastrowid,)]
        except self.pymysql.err.MySQLError as e:
            num = e.args[0] if e.args and isinstance(e.args[0], int) else 0
            server_err = 1000 <= num < 2000 or num >= 3000
            status = str(num) if server_err else "conn_reset"
            calls.log(self.peer, "mysql", op, status, 1, t0)
            self.pool.put(conn, broken=not server_err)
            raise DBError(status, str(e))
        calls.log(self.peer, "mysql", op, "ok", 0, t0)
        self.pool.put(conn)
        return rows


class Redis:
    def __init__(self, peer, socket_timeout=5.0):
        import redis
        self.redis = redis
        self.peer = peer
        host, _, port = peer.rpartition(":")
        self.client = redis.Redis(host=host, port=int(port), socket_timeout=socket_timeout,
                                  socket_connect_timeout=3, decode_responses=True)

    def cmd(self, name, *args):
        t0 = calls.now_ns()
        try:
            out = self.client.execute_command(name, *args)
        except self.redis.exceptions.ResponseError as e:
            prefix = (str(e).split() or ["ERR"])[0]
            calls.log(self.peer, "redis", name.upper(), prefix, 1, t0)
            raise DBError(prefix, str(e))
        except self.redis.exceptions.ConnectionError as e:
            calls.log(self.peer, "redis", name.upper(), "conn_reset", 1, t0)
            raise DBError("conn_reset", str(e))
        calls.log(self.peer, "redis", name.upper(), "ok", 0, t0)
        return out
