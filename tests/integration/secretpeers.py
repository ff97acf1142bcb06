"""Raw protocol clients for the canary-secret test (tests/integration/secrets.sh).

  secretpeers.py pg PORT USER PASSWORD PARAM_CANARY ERR_CANARY
      PostgreSQL v3 over TCP: StartupMessage, cleartext password (the
      server's pg_hba says `password`), then ONE write holding a pipelined
      extended-protocol batch: Parse of a named statement, Bind/Execute
      with PARAM_CANARY, Sync; Bind of that statement again with
      PARAM_CANARY, Execute, Sync; an unnamed statement whose parameter
      ERR_CANARY fails a cast (the server's ErrorResponse quotes it), Sync.
      Prints "ok" after the three ReadyForQuery.

  secretpeers.py redis PORT PASSWORD KEY VALUE
      RESP over TCP, ONE write: AUTH PASSWORD, SET KEY VALUE, GET KEY,
      MSET KEY2 VALUE KEY3 VALUE, ECHO VALUE. Prints "ok" after 5 replies.
"""
import socket
import struct
import sys
import time


def pg_msg(t, body):
    return t + struct.pack("!I", len(body) + 4) + body


def pg_read(s, buf):
    """One backend message: (type, body), buf holds what was read ahead."""
    while len(buf) < 5 or len(buf) < 1 + struct.unpack("!I", bytes(buf[1:5]))[0]:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("pg: connection closed")
        buf += chunk
    n = struct.unpack("!I", bytes(buf[1:5]))[0]
    t, body = bytes(buf[:1]), bytes(buf[5:1 + n])
    del buf[:1 + n]
    return t, body


def pg_bind(stmt, params):
    body = b"\0" + stmt + b"\0" + struct.pack("!HH", 0, len(params))
    for p in params:
        body += struct.pack("!I", len(p)) + p
    return pg_msg(b"B", body + struct.pack("!H", 0))


def pg(port, user, password, param, err):
    s = socket.create_connection(("127.0.0.1", port))
    buf = bytearray()
    params = b"user\0" + user + b"\0database\0shop\0application_name\0pgpipe\0\0"
    s.sendall(struct.pack("!II", len(params) + 8, 196608) + params)
    while True:
        t, body = pg_read(s, buf)
        if t == b"R":
            code = struct.unpack("!I", body[:4])[0]
            if code == 3:  # AuthenticationCleartextPassword
                s.sendall(pg_msg(b"p", password + b"\0"))
            elif code != 0:
                raise SystemExit("pg: unexpected auth request %d" % code)
        elif t == b"E":
            raise SystemExit("pg: startup failed: %r" % body)
        elif t == b"Z":
            break
    execute = pg_msg(b"E", b"\0" + struct.pack("!I", 0))
    sync = pg_msg(b"S", b"")
    batch = (pg_msg(b"P", b"s1\0SELECT $1::text AS secret, $2::int AS n\0" + struct.pack("!H", 0))
             + pg_bind(b"s1", [param, b"7"]) + execute + sync
             + pg_bind(b"s1", [param + b"-2", b"8"]) + execute + sync
             + pg_msg(b"P", b"\0SELECT $1::int AS bad\0" + struct.pack("!H", 0))
             + pg_bind(b"", [err]) + execute + sync)
    s.sendall(batch)
    ready = errors = 0
    while ready < 3:
        t, body = pg_read(s, buf)
        ready += t == b"Z"
        errors += t == b"E"
    s.sendall(pg_msg(b"X", b""))
    s.close()
    time.sleep(0.5)  # alive while the agent names the connection's owner
    if errors != 1:
        raise SystemExit("pg: %d errors, expected 1" % errors)
    print("ok")


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def redis(port, password, key, value):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(resp(b"AUTH", password) + resp(b"SET", key, value) + resp(b"GET", key)
              + resp(b"MSET", key + b":2", value, key + b":3", value)
              + resp(b"ECHO", value))
    got = b""
    # replies: +OK, +OK, $len value, +OK, $len value
    while got.count(b"\r\n") < 7:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("redis: connection closed: %r" % got)
        got += chunk
    s.close()
    time.sleep(0.5)  # alive while the agent names the connection's owner
    if not got.startswith(b"+OK\r\n+OK\r\n"):
        raise SystemExit("redis: unexpected replies %r" % got)
    print("ok")


if __name__ == "__main__":
    a = [x.encode() for x in sys.argv[2:]]
    if sys.argv[1] == "pg":
        pg(int(a[0]), a[1], a[2], a[3], a[4])
    elif sys.argv[1] == "redis":
        redis(int(a[0]), a[1], a[2], a[3])
    else:
        raise SystemExit("usage: secretpeers.py pg|redis ...")
