#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Traffic of tests/reliability/crash.sh: while GOFILE exists, one Redis PING
per new connection to 127.0.0.1:PORT, as fast as it goes; each request's
start and end (CLOCK_REALTIME ns) on a line of LOG. Ends when STOPFILE
exists."""
import os
import socket
import sys
import time

port, gofile, stopfile, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
out = open(log, "w", buffering=1)
while not os.path.exists(stopfile):
    if not os.path.exists(gofile):
        time.sleep(0.005)
        continue
    t0 = time.time_ns()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    got = b""
    while not got.endswith(b"\r\n"):
        b = s.recv(64)
        if not b:
            sys.exit("server closed")
        got += b
    s.close()
    t1 = time.time_ns()
    out.write("%d %d\n" % (t0, t1))
    time.sleep(0.002)
out.close()
