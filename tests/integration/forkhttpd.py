"""A fork-per-connection HTTP/1.1 server for tests/integration/sockpaths.sh.

The parent accept()s, forks a child per connection and closes its own copy;
the child serves that connection (keep-alive) and exits: the path of
PostgreSQL's postmaster and of prefork servers, which the collector follows
across fork. Every read is a recv, every write a send, except the bodies
below that are moved by sendfile or splice.

GET /items/<n>   200, a small JSON body
GET /fail        503
GET /sendfile    200, the file FILE, body by os.sendfile
GET /spliced     200, 20000 bytes, body by os.splice from a pipe
POST /upload     201, after reading the Content-Length bytes of the body
anything else    404

Usage: forkhttpd.py PORT FILE
"""
import os
import signal
import socket
import sys

SPLICED_LEN = 20000


def set_comm():
    """The kernel comm = OTEL_SERVICE_NAME: the agent names a process that
    exited before it looked at /proc by its comm, so a short-lived client
    or forked child keeps the name the test expects either way."""
    name = os.environ.get("OTEL_SERVICE_NAME")
    if name:
        import ctypes
        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def reply(conn, code, body=b"", length=None, close=False):
    head = "HTTP/1.1 %d X\r\nContent-Type: application/octet-stream\r\n" \
           "Content-Length: %d\r\n%s\r\n" % (
               code, len(body) if length is None else length,
               "Connection: close\r\n" if close else "")
    conn.sendall(head.encode() + body)


def serve(conn, path_file):
    buf = b""

    def readline():
        nonlocal buf
        while b"\n" not in buf:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        return line

    def readn(n):
        nonlocal buf
        while len(buf) < n:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk
        data, buf = buf[:n], buf[n:]
        return data

    while True:
        line = readline()
        if not line:
            return
        method, path, _ = line.decode().split(" ", 2)
        length, close = 0, False
        while True:
            h = readline()
            if h is None:
                return
            h = h.rstrip(b"\r")
            if not h:
                break
            name, _, value = h.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            if name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        if length and readn(length) is None:
            return
        if method == "POST" and path == "/upload":
            reply(conn, 201, b"{}", close=close)
        elif path.startswith("/items/"):
            reply(conn, 200, b'{"id": "%s"}' % path.rsplit("/", 1)[1].encode(),
                  close=close)
        elif path == "/fail":
            reply(conn, 503, b"{}", close=close)
        elif path == "/sendfile":
            with open(path_file, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                reply(conn, 200, length=size, close=close)
                off = 0
                while off < size:
                    off += os.sendfile(conn.fileno(), f.fileno(), off, size - off)
        elif path == "/spliced":
            reply(conn, 200, length=SPLICED_LEN, close=close)
            r, w = os.pipe()
            os.write(w, b"s" * SPLICED_LEN)    # fits the 64 KiB pipe
            left = SPLICED_LEN
            while left:
                left -= os.splice(r, conn.fileno(), left)
            os.close(r)
            os.close(w)
        else:
            reply(conn, 404, b"{}", close=close)
        if close:
            return


def main():
    set_comm()
    port, path_file = int(sys.argv[1]), sys.argv[2]
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children reaped by the kernel
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    while True:
        conn, _ = ls.accept()
        if os.fork() == 0:
            ls.close()
            try:
                serve(conn, path_file)
            finally:
                conn.close()
                os._exit(0)
        conn.close()   # the child has it


if __name__ == "__main__":
    main()
