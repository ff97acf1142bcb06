"""Clients for tests/integration/sockpaths.sh, one socket path each.

Every request is HTTP/1.1 on 127.0.0.1 and must get its response, or the
script exits non-zero. Usage: sockclient.py MODE ARGS...

  reuse PORT_A PORT_B N   N times: a GET on a new connection to PORT_A,
                          close, at once a GET on a new connection to
                          PORT_B, close; each pair must get the same fd
  threads PORT N          one connection: a writer thread sends N GETs, a
                          reader thread reads the N responses
  turns PORT N            one keep-alive connection, two threads taking
                          turns: N GETs in all, one at a time
  fork PORT N             connect, one GET, fork: the child sends N GETs on
                          the inherited socket and exits; the parent closes
                          its copy right after the fork
  splice PORT             keep-alive: GET /spliced, GET /sendfile, each
                          body read by os.splice into a pipe; POST /upload
                          whose 5000-byte body is spliced from a pipe
  untraced PORT PATH...   connect, dup the fd, close the original: the
                          collector follows connections it saw opened, not
                          dup()s, so this client end is not traced; GET
                          each PATH on the duplicate (keep-alive)
  untraced-pg PORT N      the same for PostgreSQL: startup (user postgres,
                          trust), N times "SELECT <i> AS untraced", Terminate
"""
import os
import socket
import struct
import sys
import threading


def set_comm():
    """The kernel comm = OTEL_SERVICE_NAME: the agent names a process that
    exited before it looked at /proc by its comm, so a short-lived client
    or forked child keeps the name the test expects either way."""
    name = os.environ.get("OTEL_SERVICE_NAME")
    if name:
        import ctypes
        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(None)   # blocking: os.splice and dup()s need it
    return s


def request(path, method="GET", length=None):
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
    if length is not None:
        head += "Content-Length: %d\r\n" % length
    return (head + "\r\n").encode()


class Reader:
    """Reads whole responses (Content-Length framing) from a socket."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SystemExit("sockclient: connection closed early")
        self.buf += chunk

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buf) < length:
            self.fill()
        self.buf = self.buf[length:]
        return status


def get(sock, reader, path):
    sock.sendall(request(path))
    return reader.response()


def mode_reuse(port_a, port_b, n):
    for i in range(n):
        a = connect(port_a)
        fd = a.fileno()
        get(a, Reader(a), "/items/%d" % i)
        a.close()
        b = connect(port_b)
        if b.fileno() != fd:
            sys.exit("sockclient: fd %d not reused (got %d)" % (fd, b.fileno()))
        get(b, Reader(b), "/api/items/%d" % i)
        b.close()
    print("reuse: %d pairs on fd %d" % (n, fd))


def mode_threads(port, n):
    s = connect(port)
    statuses = []

    def writer():
        for i in range(n):
            s.sendall(request("/items/%d" % i))

    def reader():
        r = Reader(s)
        for _ in range(n):
            statuses.append(r.response())

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.close()
    if statuses != [200] * n:
        sys.exit("sockclient: threads got %s" % statuses)
    print("threads: %d responses" % n)


def mode_turns(port, n):
    s = connect(port)
    r = Reader(s)
    turn = threading.Condition()
    state = {"next": 0, "done": 0}

    def worker(me):
        while True:
            with turn:
                turn.wait_for(lambda: state["done"] >= n or state["next"] == me)
                if state["done"] >= n:
                    return
                if get(s, r, "/items/%d" % state["done"]) != 200:
                    sys.exit("sockclient: turns: bad status")
                state["done"] += 1
                state["next"] = 1 - me
                turn.notify_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.close()
    print("turns: %d requests by 2 threads" % state["done"])


def mode_fork(port, n):
    s = connect(port)
    r = Reader(s)
    get(s, r, "/items/0")
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            for i in range(1, n + 1):
                if get(s, r, "/items/%d" % i) != 200:
                    code = 1
        except BaseException:
            code = 1
        os._exit(code)
    s.close()
    _, status = os.waitpid(pid, 0)
    if status:
        sys.exit("sockclient: fork child failed (%d)" % status)
    print("fork: 1 request before, %d in the child" % n)


def splice_body(sock, r, length):
    """Read @length body bytes: what the reader holds, the rest by splice."""
    have = min(len(r.buf), length)
    r.buf = r.buf[have:]
    left = length - have
    pr, pw = os.pipe()
    while left:
        n = os.splice(sock.fileno(), pw, min(left, 65536))
        if not n:
            raise SystemExit("sockclient: closed in a spliced body")
        left -= n
        while n:
            n -= len(os.read(pr, n))
    os.close(pr)
    os.close(pw)


def head_only(sock):
    """Read one response head, exactly: peeked (not seen) first, then read."""
    while True:
        peek = sock.recv(65536, socket.MSG_PEEK)
        end = peek.find(b"\r\n\r\n")
        if end >= 0:
            break
    head = b""
    while len(head) < end + 4:
        head += sock.recv(end + 4 - len(head))
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return int(head.split(b" ", 2)[1]), length


def mode_splice(port):
    s = connect(port)
    r = Reader(s)
    for path in ("/spliced", "/sendfile"):
        s.sendall(request(path))
        status, length = head_only(s)
        splice_body(s, r, length)
        if status != 200:
            sys.exit("sockclient: %s: %d" % (path, status))
    s.sendall(request("/upload", "POST", 5000))
    pr, pw = os.pipe()
    os.write(pw, b"u" * 5000)
    left = 5000
    while left:
        left -= os.splice(pr, s.fileno(), left)
    if r.response() != 201:
        sys.exit("sockclient: upload failed")
    s.close()
    print("splice: 3 requests")


def untraced(port):
    s = connect(port)
    fd = os.dup(s.fileno())
    s.close()
    return socket.socket(fileno=fd)


def mode_untraced(port, paths):
    s = untraced(port)
    r = Reader(s)
    for p in paths:
        get(s, r, p)
    s.close()
    print("untraced: %d requests" % len(paths))


def pg_read(s, buf):
    """One backend message: (type, body, rest of buf)."""
    while len(buf) < 5 or len(buf) < 1 + struct.unpack("!I", buf[1:5])[0]:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("sockclient: postgres closed")
        buf += chunk
    n = 1 + struct.unpack("!I", buf[1:5])[0]
    return buf[:1], buf[5:n], buf[n:]


def pg_until_ready(s, buf):
    while True:
        t, body, buf = pg_read(s, buf)
        if t == b"E":
            raise SystemExit("sockclient: postgres error %r" % body)
        if t == b"R" and struct.unpack("!I", body[:4])[0] != 0:
            raise SystemExit("sockclient: postgres wants a password")
        if t == b"Z":
            return buf


def mode_untraced_pg(port, n):
    s = untraced(port)
    params = b"user\0postgres\0database\0postgres\0\0"
    s.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
    buf = pg_until_ready(s, b"")
    for i in range(1, n + 1):
        q = b"SELECT %d AS untraced\0" % i
        s.sendall(b"Q" + struct.pack("!I", 4 + len(q)) + q)
        buf = pg_until_ready(s, buf)
    s.sendall(b"X" + struct.pack("!I", 4))
    s.close()
    print("untraced-pg: %d queries" % n)


def main():
    set_comm()
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "reuse":
        mode_reuse(int(args[0]), int(args[1]), int(args[2]))
    elif mode == "threads":
        mode_threads(int(args[0]), int(args[1]))
    elif mode == "turns":
        mode_turns(int(args[0]), int(args[1]))
    elif mode == "fork":
        mode_fork(int(args[0]), int(args[1]))
    elif mode == "splice":
        mode_splice(int(args[0]))
    elif mode == "untraced":
        mode_untraced(int(args[0]), args[1:])
    elif mode == "untraced-pg":
        mode_untraced_pg(int(args[0]), int(args[1]))
    else:
        sys.exit("sockclient: unknown mode %r" % mode)


if __name__ == "__main__":
    main()
