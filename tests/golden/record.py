#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Recording TCP proxy for golden cases.

    record.py LISTEN_PORT UPSTREAM_PORT OUTDIR

Listens on 127.0.0.1:LISTEN_PORT, relays every connection to
127.0.0.1:UPSTREAM_PORT and writes, per connection, OUTDIR/conn-NNN/ with
`request` (client -> server bytes), `response` (server -> client bytes) and
`script` (the order the bytes went by: "req N" / "resp N", consecutive reads
of one direction merged). A half-close is passed on. Prints "ready" once
listening; stops on SIGTERM/SIGINT after writing what it has. Single
threaded, for a handful of test connections only.
"""
import os
import selectors
import signal
import socket
import sys


class Conn:
    def __init__(self, n, client, upstream):
        self.n = n
        self.sock = {0: client, 1: upstream}  # 0 reads requests, 1 responses
        self.data = {0: bytearray(), 1: bytearray()}
        self.script = []  # [side, count]
        self.open = {0: True, 1: True}

    def record(self, side, chunk):
        self.data[side] += chunk
        if self.script and self.script[-1][0] == side:
            self.script[-1][1] += len(chunk)
        else:
            self.script.append([side, len(chunk)])

    def save(self, outdir):
        d = os.path.join(outdir, "conn-%03d" % self.n)
        os.makedirs(d, exist_ok=True)
        for side, name in ((0, "request"), (1, "response")):
            with open(os.path.join(d, name), "wb") as f:
                f.write(self.data[side])
        with open(os.path.join(d, "script"), "w") as f:
            for side, count in self.script:
                f.write("%s %d\n" % ("req" if side == 0 else "resp", count))


def main():
    listen_port, upstream_port, outdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(outdir, exist_ok=True)
    sel = selectors.DefaultSelector()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(16)
    sel.register(ls, selectors.EVENT_READ, None)
    conns = []
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    print("ready", flush=True)
    while not stop:
        try:
            events = sel.select(0.2)
        except InterruptedError:
            continue
        for key, _ in events:
            if key.data is None:
                client, _ = ls.accept()
                upstream = socket.create_connection(("127.0.0.1", upstream_port))
                c = Conn(len(conns) + 1, client, upstream)
                conns.append(c)
                sel.register(client, selectors.EVENT_READ, (c, 0))
                sel.register(upstream, selectors.EVENT_READ, (c, 1))
                continue
            c, side = key.data
            try:
                chunk = c.sock[side].recv(65536)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                c.record(side, chunk)
                c.sock[1 - side].sendall(chunk)
                continue
            sel.unregister(c.sock[side])
            c.open[side] = False
            try:
                c.sock[1 - side].shutdown(socket.SHUT_WR)
            except OSError:
                pass
            if not c.open[1 - side]:
                c.sock[0].close()
                c.sock[1].close()
                c.save(outdir)
    for c in conns:
        if c.open[0] or c.open[1]:
            c.save(outdir)


if __name__ == "__main__":
    main()
