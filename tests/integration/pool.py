"""A client whose connections exist before the agent starts.

Opens one keep-alive HTTP connection, one PostgreSQL connection and one
Redis connection and uses each once, writes READY_FILE, waits for GO_FILE
(bounded), then sends on the same connections: 4 HTTP GETs, 3 queries and
1 failing query, 2 PINGs. Usage: pool.py HTTP_PORT PG_PORT REDIS_PORT READY GO
"""
import http.client
import os
import socket
import sys
import time

import psycopg2

http_port, pg_port, redis_port = (int(a) for a in sys.argv[1:4])
ready_file, go_file = sys.argv[4:6]

web = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
web.request("GET", "/api/items/0")
web.getresponse().read()
db = psycopg2.connect(host="127.0.0.1", port=pg_port, user="postgres",
                      dbname="postgres", sslmode="disable")
db.autocommit = True
cur = db.cursor()
cur.execute("SELECT 0 AS pooled")
cur.fetchall()
kv = socket.create_connection(("127.0.0.1", redis_port), timeout=10)
kv.sendall(b"*1\r\n$4\r\nPING\r\n")
kv.recv(64)

open(ready_file, "w").close()
deadline = time.monotonic() + 60
while not os.path.exists(go_file):
    if time.monotonic() > deadline:
        sys.exit("pool.py: no go signal in 60 s")
    time.sleep(0.05)

for i in range(1, 5):
    web.request("GET", "/api/items/%d" % i)
    web.getresponse().read()
for i in range(1, 4):
    cur.execute("SELECT %s AS pooled", (i,))
    cur.fetchall()
try:
    cur.execute("SELECT * FROM pool_missing")
except psycopg2.Error:
    pass
for _ in range(2):
    kv.sendall(b"*1\r\n$4\r\nPING\r\n")
    kv.recv(64)
web.close()
db.close()
kv.close()
