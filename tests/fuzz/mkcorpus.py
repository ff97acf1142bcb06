#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Write seed inputs for the fuzz targets, from real protocol bytes.

    mkcorpus.py OUTDIR

OUTDIR/<target>/ gets: every golden case (tests/golden/) and every chunk
array of tests/unit/test_proto_*.c encoded in the stream language of
tests/fuzz/fuzz.h (in script order, and as all requests then all
responses); SQL statements and request lines for fuzz_sql; connection
openings for fuzz_detect. The committed corpus, tests/fuzz/corpus/, is
these seeds plus what fuzzing found, minimised with libFuzzer's -merge=1
(docs/testing.md).
"""
import codecs
import hashlib
import os
import re
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TARGET = {"http": "http", "postgresql": "pg", "redis": "redis", "mysql": "mysql",
          "http2": "http2", "grpc": "http2"}
TICK = 1 << 5  # opcode bits 5-7: clock advance


def feed(side, data):
    out = b""
    for off in range(0, len(data), 0xFFFF):
        piece = data[off:off + 0xFFFF]
        out += bytes([side | 1 << 1 | TICK]) + struct.pack("<H", len(piece)) + piece
    return out


def gap(side, n):
    out = b""
    while n:
        k = min(n, 0xFFFF)
        out += bytes([side | 2 << 1 | TICK]) + struct.pack("<H", k)
        n -= k
    return out


def golden_cases():
    for proto in TARGET:
        top = os.path.join(ROOT, "tests", "golden", proto)
        for name in sorted(os.listdir(top)):
            d = os.path.join(top, name)
            if not os.path.isdir(d):
                continue
            streams = []
            for f in ("request", "response"):
                p = os.path.join(d, f)
                streams.append(open(p, "rb").read() if os.path.exists(p) else b"")
            sp = os.path.join(d, "script")
            script = open(sp).read().split("\n") if os.path.exists(sp) else ["req *", "resp *"]
            yield proto, streams, script


def encode_script(streams, script):
    pos, out = [0, 0], b""
    join = any(ln.strip() == "join" for ln in script)
    for ln in script:
        w = ln.split()
        if not w or w[0].startswith("#") or w[0] in ("close", "join"):
            continue
        is_gap = w[0] == "gap"
        if is_gap:
            w = w[1:]
        side = 0 if w[0] == "req" else 1
        n = len(streams[side]) - pos[side] if w[1] == "*" else int(w[1])
        out += gap(side, n) if is_gap else feed(side, streams[side][pos[side]:pos[side] + n])
        pos[side] += n
    if join and out:
        out = bytes([out[0] | 0x10]) + out[1:]  # opcode bit 4: fl_parser_join()
    return out


def c_strings(text):
    """Bytes of a run of adjacent C string literals."""
    out = b""
    for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', text, re.S):
        out += codecs.escape_decode(lit.encode("latin-1"))[0]
    return out


def unit_chunk_arrays():
    """(proto, [(side, bytes)]) for each `struct chunk x[]` of the unit tests."""
    names = {"http": "http", "pg": "postgresql", "redis": "redis"}
    for short, proto in names.items():
        src = open(os.path.join(ROOT, "tests", "unit", "test_proto_%s.c" % short),
                   encoding="latin-1").read()
        for body in re.findall(r"struct chunk \w+\[\] = \{(.*?)\n\};", src, re.S):
            chunks = re.findall(r"CHUNK\(\s*(REQ|RSP)\s*,\s*\w+\s*,((?:\s*\"(?:[^\"\\]|\\.)*\")+)\s*\)",
                                body, re.S)
            if chunks:
                yield proto, [(0 if s == "REQ" else 1, c_strings(lit)) for s, lit in chunks]


SQL_EXTRA = [
    "SELECT E'it\\'s', B'101', X'FF', N'x', U&'d\\0061t' FROM \"Weird \"\"Name\"",
    "SELECT $$a 'b' c$$, $fn$ body $$ inner $fn$, $1, $2::int",
    "SELECT 3.14, .5, 5., 1e10, 1.5E-3, 0x1F, 0o17, 0b101, 1_000_000, 123abc",
    "SELECT /* a /* nested */ still */ 1 -- to the end\nFROM t;;",
    "SELECT 'unterminated hunter2", "SELECT $tag$ unterminated", "SELECT \"open ident",
    "SELECT caf\u00e9, a$b FROM t WHERE x = :v AND y = ?",
]
ROUTES = [
    ("GET", "/api/users/42?token=abc#frag"), ("DELETE", "/v1/items/550e8400-e29b-41d4-a716-446655440000"),
    ("GET", "/blobs/9f86d081884c7d659a2feaa0c55ad015;jsessionid=XYZ/raw"),
    ("GET", "http://user:pw@example.com:8080/a/1?x=1"), ("CONNECT", "user:pw@db.internal:5432"),
    ("OPTIONS", "*"), ("GET", "//double//slash/"), ("PROPFIND", "/dav/%7Euser/123"),
]


def main():
    out = sys.argv[1]
    seeds = {t: set() for t in ("http", "pg", "redis", "mysql", "http2", "sql", "detect")}
    for proto, streams, script in golden_cases():
        t = TARGET[proto]
        prog = encode_script(streams, script)
        seeds[t].add(prog)
        whole = feed(0, streams[0]) + feed(1, streams[1])
        seeds[t].add(bytes([whole[0] | (prog[0] & 0x10)]) + whole[1:] if whole else whole)
        seeds["detect"].add(streams[0][:64])
        if proto == "mysql" and not script[0].startswith("join"):
            seeds["detect"].add(streams[1][:64])  # the greeting: server-first
        if proto in ("http2", "grpc") and len(streams[0]) > 24:
            seeds["detect"].add(streams[0][24:88])  # a frame header: joined
    for proto, chunks in unit_chunk_arrays():
        t = TARGET[proto]
        seeds[t].add(b"".join(feed(side, d) for side, d in chunks))
        req = b"".join(d for side, d in chunks if side == 0)
        if req:
            seeds["detect"].add(req[:64])
    for data in list(seeds["pg"]):  # SQL of every Query and Parse in the PG seeds
        for m in re.finditer(rb"Q....([^\0]{3,})\0|P....[^\0]*\0([^\0]{3,})\0", data, re.S):
            seeds["sql"].add(b"\xff\x00" + (m.group(1) or m.group(2)))
    for q in SQL_EXTRA:
        seeds["sql"].add(b"\xff\x00" + q.encode())
    for m, t in ROUTES:
        seeds["sql"].add(b"\xff" + bytes([len(m)]) + m.encode() + t.encode())
        seeds["sql"].add(b"\x10" + bytes([len(m)]) + m.encode() + t.encode())
    for t, items in seeds.items():
        d = os.path.join(out, t)
        os.makedirs(d, exist_ok=True)
        for data in items:
            with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
                f.write(data)
        print("%s: %d seeds, %d bytes" % (t, len(items), sum(map(len, items))))


if __name__ == "__main__":
    main()
