"""A keep-alive HTTP client whose connection exists before the agent starts.

Usage: keepalive_client.py PORT GO_FILE N READY_FILE
One request, writes READY_FILE, then waits (bounded) for GO_FILE, then N more on the same
connection (the server must speak HTTP/1.1 keep-alive: tests/integration/httpd.py).
"""
import http.client
import os
import sys
import time

port, go, n, ready = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
c.request("GET", "/api/items/0")
c.getresponse().read()
open(ready, "w").close()
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("keepalive_client.py: no go signal in 60 s")
    time.sleep(0.05)
for i in range(1, n + 1):
    c.request("GET", "/api/items/%d" % i)
    c.getresponse().read()
c.close()
