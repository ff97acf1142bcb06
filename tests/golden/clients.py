#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Raw-socket clients for golden captures, for what curl, psql, pgbench
and redis-cli do not send: pipelined HTTP, pipelined PostgreSQL Sync
batches, inline and pipelined Redis commands, RESP3 pushes; PyMySQL (a
second MySQL client implementation, without CLIENT_DEPRECATE_EOF); and
HTTP/2 with several requests on one connection (curl 7.88.1 fails to reuse
a prior-knowledge connection: "Error in the HTTP2 framing layer").

    clients.py CLIENT PORT [ARG...]

Each client talks to 127.0.0.1:PORT (the recording proxy) and stops once
it has every answer it waits for (or the server closes).
"""
import shlex
import socket
import struct
import sys
import time


def connect(port):
    return socket.create_connection(("127.0.0.1", port))


def drain(s, idle=0.3, until=None):
    """Read until @until(bytes) is true, EOF, or @idle seconds of silence."""
    buf = b""
    s.settimeout(idle)
    while not (until and until(buf)):
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return buf


# ---- HTTP -----------------------------------------------------------------

def http_pipelined(port):
    s = connect(port)
    host = "Host: 127.0.0.1:%d\r\n" % port
    s.sendall(("GET /index.html HTTP/1.1\r\n" + host + "Accept: */*\r\n\r\n"
               "HEAD /index.html HTTP/1.1\r\n" + host + "\r\n"
               "GET /orders/123/items?page=2 HTTP/1.1\r\n" + host +
               "Connection: close\r\n\r\n").encode())
    drain(s, idle=2)
    s.close()


# ---- PostgreSQL ---------------------------------------------------------------

def pg_msg(t, body):
    return t + struct.pack("!I", len(body) + 4) + body


def pg_read_until(s, n_ready):
    """Read until @n_ready ReadyForQuery messages have arrived."""
    buf, seen = b"", 0
    s.settimeout(5)
    while seen < n_ready:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        seen, off = 0, 0
        while off + 5 <= len(buf):
            t, ln = buf[off:off + 1], struct.unpack("!I", buf[off + 1:off + 5])[0]
            if off + 1 + ln > len(buf):
                break
            seen += t == b"Z"
            off += 1 + ln
    return buf


def cstr(s):
    return s.encode() + b"\0"


def pg_bind(portal, stmt, params):
    body = cstr(portal) + cstr(stmt) + struct.pack("!HH", 0, len(params))
    for p in params:
        body += struct.pack("!I", len(p)) + p
    return pg_msg(b"B", body + struct.pack("!H", 0))


def pg_pipelined(port):
    """Four Sync batches in one write: unnamed, error, named Parse, Bind-only."""
    s = connect(port)
    params = cstr("user") + cstr("postgres") + cstr("database") + cstr("shop") + b"\0"
    s.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
    pg_read_until(s, 1)
    execute = pg_msg(b"E", b"\0" + struct.pack("!I", 0))
    sync = pg_msg(b"S", b"")
    batches = (
        pg_msg(b"P", cstr("") + cstr("SELECT $1::int + 1") + struct.pack("!H", 0)) +
        pg_bind("", "", [b"41"]) + pg_msg(b"D", b"P\0") + execute + sync,
        pg_msg(b"P", cstr("") + cstr("SELECT * FROM nosuch WHERE id = $1") +
               struct.pack("!H", 0)) + pg_bind("", "", [b"7"]) + execute + sync,
        pg_msg(b"P", cstr("ins") + cstr("INSERT INTO t (id, name) VALUES ($1, $2)") +
               struct.pack("!H", 0)) + pg_bind("", "ins", [b"1", b"alice"]) + execute + sync,
        pg_bind("", "ins", [b"2", b"bob"]) + execute + sync,
    )
    s.sendall(b"".join(batches))
    pg_read_until(s, 4)
    s.sendall(pg_msg(b"X", b""))
    drain(s)
    s.close()


# ---- Redis --------------------------------------------------------------------

def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def redis_seq(port):
    """One command per stdin line (shell-like words), each sent as a RESP
    array once the previous reply has come: what redis-cli does, without
    the COMMAND DOCS it sends first."""
    s = connect(port)
    for line in sys.stdin:
        words = shlex.split(line)
        if words:
            s.sendall(resp(*words))
            drain(s)
    s.close()


def redis_pipelined(port):
    s = connect(port)
    s.sendall(resp("SET", "user:1", "alice") + resp("GET", "user:1") +
              resp("INCR", "hits") + resp("EXPIRE", "user:1", 60) +
              resp("DEL", "user:1", "hits"))
    drain(s)
    s.close()


def redis_inline(port):
    s = connect(port)
    s.sendall(b"PING\r\n")
    drain(s)
    s.sendall(b"set greeting hello\r\nget greeting\r\n\r\nEXISTS greeting nosuch\r\n")
    drain(s)
    s.close()


def redis_bigbulk(port):
    s = connect(port)
    s.sendall(resp("SET", "blob", b"v" * 3000))
    drain(s)
    s.sendall(resp("GET", "blob"))
    drain(s)
    s.sendall(resp("STRLEN", "blob"))
    drain(s)
    s.close()


def redis_push(port, sock_path):
    """RESP3 client-side caching: another client's SET sends an invalidate push."""
    s = connect(port)
    s.sendall(resp("HELLO", 3))
    drain(s)
    s.sendall(resp("CLIENT", "TRACKING", "on"))
    drain(s)
    s.sendall(resp("GET", "price:7"))
    drain(s)
    w = socket.socket(socket.AF_UNIX)
    w.connect(sock_path)
    w.sendall(resp("SET", "price:7", "99"))
    drain(w)
    w.close()
    time.sleep(0.2)
    s.sendall(resp("GET", "price:7"))
    drain(s)
    s.close()


def mysql_py(port, user, password, db):
    """PyMySQL: one statement per stdin line; errors are reported, not fatal."""
    import pymysql
    conn = pymysql.connect(host="127.0.0.1", port=port, user=user, password=password,
                           database=db, autocommit=True)
    with conn.cursor() as cur:
        for ln in sys.stdin.read().splitlines():
            if not ln.strip():
                continue
            try:
                cur.execute(ln)
                cur.fetchall()
            except pymysql.MySQLError as e:
                print("error:", e.args[0])
        conn.ping(reconnect=False)
    conn.close()


# ---- HTTP/2 ---------------------------------------------------------------

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def hpack_int(value, prefix_bits, first):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_str(s):
    return hpack_int(len(s), 7, 0) + s  # no Huffman


def hpack_field(name, value, index=True):
    """A literal field, with incremental indexing (0x40) or without (0x00)."""
    return bytes([0x40 if index else 0x00]) + hpack_str(name) + hpack_str(value)


def h2_request(sid, method, path, extra=()):
    """HEADERS (END_HEADERS|END_STREAM): :method GET is static index 2; the
    rest literal, :authority and user-agent indexed (the next requests
    refer to them in the dynamic table when @extra asks)."""
    block = (b"\x82" if method == b"GET" else hpack_field(b":method", method, False))
    block += b"\x86" + hpack_field(b":path", path, False)  # :scheme http
    block += b"".join(extra)
    return h2_frame(1, 0x05, sid, block)


def h2_read_ends(s, want):
    """Read frames until @want streams ended (END_STREAM or RST_STREAM),
    acknowledging the server's SETTINGS."""
    buf, ended = b"", set()
    s.settimeout(5)
    while len(ended) < want:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            ftype, flags = buf[3], buf[4]
            sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            if ftype == 4 and not flags & 1:
                s.sendall(h2_frame(4, 1, 0))
            if (ftype in (0, 1) and flags & 1) or ftype == 3:
                ended.add(sid)
            buf = buf[9 + n:]


def h2_connect(port):
    s = connect(port)
    s.sendall(H2_PREFACE + h2_frame(4, 0, 0, struct.pack(">HI", 3, 100)))
    return s


def h2_multiplexed(port):
    """Six requests in one write, streams 1..11, answered in any order: the
    first names :authority and user-agent with indexing, the others refer
    to them in the dynamic table (indexes 63 and 62); a secret query
    string and an authorization header that must not be kept."""
    s = h2_connect(port)
    first = [hpack_field(b":authority", b"127.0.0.1"),
             hpack_field(b"user-agent", b"clients.py")]
    again = [b"\xbf", b"\xbe"]  # dynamic 63 (:authority), 62 (user-agent)
    paths = [b"/big.txt", b"/index.html", b"/nosuch", b"/boom", b"/ping",
             b"/items/7?token=s3cr3t"]
    reqs = b""
    for i, path in enumerate(paths):
        extra = first if i == 0 else again
        if i == 5:
            extra = extra + [hpack_field(b"authorization", b"Bearer s3cr3t", False)]
        reqs += h2_request(2 * i + 1, b"GET", path, extra)
    s.sendall(reqs)
    h2_read_ends(s, len(paths))
    s.sendall(h2_frame(7, 0, 0, struct.pack(">II", 0, 0)))  # GOAWAY, NO_ERROR
    s.close()


def h2_sequential(port, *paths):
    """One request at a time on one connection, each after the last answer."""
    s = h2_connect(port)
    for i, path in enumerate(paths):
        extra = [hpack_field(b":authority", b"127.0.0.1")] if i == 0 else [b"\xbe"]
        s.sendall(h2_request(2 * i + 1, b"GET", path.encode(), extra))
        h2_read_ends(s, 1)
    s.close()


CLIENTS = {
    "http-pipelined": http_pipelined,
    "pg-pipelined": pg_pipelined,
    "redis-seq": redis_seq,
    "redis-pipelined": redis_pipelined,
    "redis-inline": redis_inline,
    "redis-bigbulk": redis_bigbulk,
    "redis-push": redis_push,
    "mysql-py": mysql_py,


    "h2-multiplexed": h2_multiplexed,
    "h2-sequential": h2_sequential,
}

if __name__ == "__main__":
    CLIENTS[sys.argv[1]](int(sys.argv[2]), *sys.argv[3:])
