#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Draft the `expected` file of a golden case without gaps.

    expect.py http|postgresql|redis|mysql|http2|grpc CASE_DIR

A second, independent reading of the byte streams (whole messages, no
incremental state) that prints one record per line in the `expected`
format of tests/unit/test_golden.c. It is a cross-check for the parsers,
not their specification: review every line against the bytes before
committing it,

HTTP/2 (http2, grpc) is read at the frame level only (no HPACK decoder
here): one line per stream in the order responses end, with the bytes of
its frames; operation, status and error are "?", to be filled in from
what the client printed (curl -w, grpcpeer.py) and checked by a person; and write the expected records of cases with gaps, garbage
or lost framing by hand (docs/testing.md).
"""
import os
import re
import struct
import sys


def read(case, name):
    path = os.path.join(case, name)
    return open(path, "rb").read() if os.path.exists(path) else b""


def line(op, status, text, error, client_error, req, resp):
    op = op.encode()[:255].decode("utf-8", "ignore")  # FL_OP_MAX - 1 bytes
    return "%s\t%d\t%s\t%d\t%d\t%d\t%d" % (op, status, text, error, client_error, req, resp)


# ---- SQL: literals -> '?', whitespace folded, comments dropped ------------------

def sql_normalize(s):
    out, space, i, n = [], False, 0, len(s)

    def skip_quoted(i, backslash):
        i += 1
        while i < n:
            if backslash and s[i] == "\\":
                i += 2
                continue
            if s[i] == "'":
                if i + 1 < n and s[i + 1] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        return n

    while i < n:
        c = s[i]
        if c <= " " or c == "\x7f":
            space, i = True, i + 1
            continue
        if s.startswith("--", i):
            j = s.find("\n", i)
            space, i = True, (n if j < 0 else j + 1)
            continue
        if s.startswith("/*", i):
            depth = 0
            while i < n:
                if s.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif s.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                    if depth == 0:
                        break
                else:
                    i += 1
            space = True
            continue
        m = re.match(r"\$([A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$", s[i:])
        if c == "'":
            tok, i = "?", skip_quoted(i, False)
        elif c == '"':
            j = s.find('"', i + 1)
            while j >= 0 and s.startswith('""', j):
                j = s.find('"', j + 2)
            j = n if j < 0 else j + 1
            tok, i = s[i:j], j
        elif m:
            end = s.find(m.group(0), i + len(m.group(0)))
            tok, i = "?", (n if end < 0 else end + len(m.group(0)))
        elif c == "$" and i + 1 < n and s[i + 1].isdigit():
            m = re.match(r"\$[0-9]+", s[i:])
            tok, i = m.group(0), i + len(m.group(0))
        elif c.isdigit() or (c == "." and i + 1 < n and s[i + 1].isdigit()):
            m = re.match(r"([A-Za-z0-9_.]|[eE][+-][0-9])+", s[i:])
            tok, i = "?", i + len(m.group(0))
        elif c.isalpha() or c == "_" or ord(c) >= 0x80:
            m = re.match(r"[A-Za-z0-9_$\x80-\uffff]+", s[i:])
            w = m.group(0)
            if len(w) == 1 and w.upper() in "EBXN" and s[i + 1:i + 2] == "'":
                tok, i = "?", skip_quoted(i + 1, w.upper() == "E")
            elif w.upper() == "U" and s[i + 1:i + 3] == "&'":
                tok, i = "?", skip_quoted(i + 2, False)
            else:
                tok, i = w, i + len(w)
        else:
            tok, i = c, i + 1
        if space and out:
            out.append(" ")
        space = False
        out.append(tok)
    r = "".join(out)
    while r and r[-1] in "; ":
        r = r[:-1]
    return r


# ---- HTTP -------------------------------------------------------------------------

def http_route(method, target):
    path = re.split(r"[?#]", target, 1)[0]
    m = re.match(r"[A-Za-z0-9+.-]+://[^/?#]*", path)
    if m:
        path = path[m.end():] or "/"
    segs = []
    for seg in path.split("/"):
        seg = seg.split(";", 1)[0]
        if (seg.isdigit() or re.fullmatch(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", seg)
                or re.fullmatch(r"[0-9a-fA-F]{16,}", seg)):
            seg = "{id}"
        segs.append(seg)
    return "%s %s" % (method, "/".join(segs))


def http_body(data, off, headers, no_body, response):
    """Offset after the body that starts at @off."""
    te = headers.get("transfer-encoding", "")
    if no_body:
        return off
    if te.lower().split(",")[-1].strip().startswith("chunked"):
        while True:
            eol = data.index(b"\r\n", off)
            size = int(data[off:eol].split(b";")[0], 16)
            off = eol + 2
            if size == 0:
                return data.index(b"\r\n\r\n", off - 2) + 4
            off += size + 2
    if "content-length" in headers:
        return off + int(headers["content-length"])
    return len(data) if response else off


def http_head(data, off):
    end = data.index(b"\r\n\r\n", off) + 4
    lines = data[off:end - 4].decode("latin-1").split("\r\n")
    headers = {}
    for ln in lines[1:]:
        k, v = ln.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, end


def http(req, resp):
    reqs, off = [], 0
    while off < len(req):
        start, headers, body = http_head(req, off)
        method, target, _ = start.split(" ")
        end = http_body(req, body, headers, False, False)
        reqs.append((http_route(method, target), method, end - off))
        off = end
    out, off, k = [], 0, 0
    while off < len(resp):
        first = off
        while True:
            start, headers, body = http_head(resp, off)
            status = int(start.split(" ")[1])
            if status >= 200:
                break
            off = body  # interim 1xx: part of this response
        op, method, rq = reqs[k]
        end = http_body(resp, body, headers, method == "HEAD" or status in (204, 304), True)
        out.append(line(op, status, "", status >= 500, 400 <= status < 500, rq, end - first))
        off, k = end, k + 1
    return out


# ---- PostgreSQL ----------------------------------------------------------------------

def pg_messages(data, untyped_first):
    off, msgs = 0, []
    while untyped_first and off < len(data):
        ln, code = struct.unpack("!II", data[off:off + 8])
        msgs.append((None, data[off + 8:off + ln], ln))
        off += ln
        if code not in (80877103, 80877104):
            break
    while off < len(data):
        t = data[off:off + 1]
        ln = struct.unpack("!I", data[off + 1:off + 5])[0]
        msgs.append((t, data[off + 5:off + 1 + ln], ln + 1))
        off += 1 + ln
    return msgs


def cstrs(body):
    return body.split(b"\0")


def postgresql(req, resp, joined=False):
    """A Query is answered by its ReadyForQuery; each Execute by its
    CommandComplete / EmptyQueryResponse / PortalSuspended / ErrorResponse
    (the batch's later Executes are skipped by the server after an error);
    a Sync by its ReadyForQuery, without a record."""
    fe = pg_messages(req, not joined)
    be = pg_messages(resp, False)
    if resp[:1] == b"N":  # SSLRequest refused
        be = pg_messages(resp[1:], False)
    reqs, group, stmts, bound = [], 0, {}, None  # reqs: [answered by, op, bytes]
    for t, body, size in fe:
        if t is None or t in (b"p", b"X"):
            continue
        if t == b"Q":
            reqs.append(["Z", sql_normalize(cstrs(body)[0].decode()), group + size])
            group = 0
            continue
        if t in (b"d", b"c", b"f"):
            reqs[-1][2] += size
            continue
        if t == b"F":
            reqs.append(["Z", "FUNCTION CALL", size])
            continue
        group += size
        if t == b"P":
            name, q = cstrs(body)[:2]
            stmts[name] = sql_normalize(q.decode())
        elif t == b"B":
            bound = stmts.get(cstrs(body)[1])
        elif t == b"E":
            reqs.append(["C", bound or "EXECUTE", group])
            group = 0
        elif t == b"S":
            reqs.append(["S", None, group])
            group = 0
    out, k, ready, size, err = [], 0, joined, 0, ""

    def skip_executes():
        nonlocal k
        while k < len(reqs) and reqs[k][0] == "C":
            k += 1

    for t, body, n in be:
        if not ready:
            ready = t == b"Z"
            continue
        size += n
        if t == b"E" and not err:
            fields = {f[:1]: f[1:] for f in cstrs(body) if f}
            err = fields.get(b"C", b"").decode()
        execute = k < len(reqs) and reqs[k][0] == "C"
        if execute and t in (b"C", b"I", b"s", b"E"):
            out.append(line(reqs[k][1], 0, err, bool(err), 0, reqs[k][2], size))
            k += 1
            if t == b"E":
                skip_executes()
        elif t == b"Z":
            skip_executes()
            if reqs[k][0] == "Z":
                out.append(line(reqs[k][1], 0, err, bool(err), 0, reqs[k][2], size))
            k += 1
        else:
            continue
        size, err = 0, ""
    return out


# ---- Redis -------------------------------------------------------------------------------

def resp_value(d, off):
    """(type, children, end, first error word) of the value at @off."""
    t = d[off:off + 1]
    eol = d.index(b"\r\n", off)
    body, end = d[off + 1:eol], eol + 2
    if t in b"*%~>|":
        n = int(body)
        kids = []
        for _ in range(max(n, 0) * (2 if t in b"%|" else 1)):
            kid = resp_value(d, end)
            kids.append(kid)
            end = kid[2]
        return t, kids, end, None
    if t in b"$!=":
        n = int(body)
        if n < 0:
            return t, [], end, None
        payload = d[end:end + n]
        return t, [], end + n + 2, payload.split(b" ")[0][:7] if t == b"!" else None
    return t, [], end, body.split(b" ")[0][:7] if t == b"-" else None


def first_error(v):
    t, kids, _, word = v
    if t in b">|":
        return None
    if word is not None:
        return word
    for k in kids:
        e = first_error(k)
        if e is not None:
            return e
    return None


def redis(req, resp):
    reqs, off = [], 0
    while off < len(req):
        if req[off:off + 1] == b"*":
            end = resp_value(req, off)[2]
            hdr_end = req.index(b"\r\n", off) + 2
            n = int(req[hdr_end + 1:req.index(b"\r\n", hdr_end)])
            p = req.index(b"\r\n", hdr_end) + 2
            name = req[p:p + n].decode()
            reqs.append((name.upper(), end - off))
            off = end
        else:
            eol = req.index(b"\n", off) + 1
            words = req[off:eol].split()
            if words:
                reqs.append((words[0].decode().upper(), eol - off))
            off = eol
    out, off, k = [], 0, 0
    while off < len(resp):
        start = off
        v = resp_value(resp, off)
        off = v[2]
        if v[0] == b">":
            continue  # out-of-band push
        while v[0] == b"|":  # attribute: the value it annotates follows
            v = resp_value(resp, off)
            off = v[2]
        err = first_error(v)
        op, rq = reqs[k]
        out.append(line(op, 0, err.decode() if err else "", err is not None, 0, rq, off - start))
        k += 1
    return out


# ---- MySQL ---------------------------------------------------------------------------------

def my_packets(d):
    """(seq, payload, wire size) of each logical packet (0xffffff payloads joined)."""
    out, off = [], 0
    while off + 4 <= len(d):
        n = d[off] | d[off + 1] << 8 | d[off + 2] << 16
        seq, pay, size = d[off + 3], d[off + 4:off + 4 + n], n + 4
        off += size
        while n == 0xFFFFFF:
            n = d[off] | d[off + 1] << 8 | d[off + 2] << 16
            pay += d[off + 4:off + 4 + n]
            size += n + 4
            off += n + 4
        out.append((seq, pay, size))
    return out


def my_lenenc(b, i):
    c = b[i]
    if c < 0xFB:
        return c, i + 1
    w = {0xFC: 2, 0xFD: 3, 0xFE: 8}[c]
    return int.from_bytes(b[i + 1:i + 1 + w], "little"), i + 1 + w


def my_status(p):
    if p[0] == 0xFE and len(p) < 7:
        return struct.unpack("<H", p[3:5])[0]
    _, i = my_lenenc(p, 1)
    _, i = my_lenenc(p, i)
    return struct.unpack("<H", p[i:i + 2])[0]


MY_NAMES = {0x02: "USE ?", 0x0E: "PING", 0x09: "STATISTICS", 0x1A: "STMT_RESET",
            0x1F: "RESET_CONNECTION", 0x1B: "SET_OPTION"}


def mysql(req, resp, joined=False):
    """Whole packets; the response kind of each command decides its parse."""
    fe, be = my_packets(req), my_packets(resp)
    caps = 0
    reqs = []  # [op, kind, bytes]
    for seq, p, size in fe:
        if seq != 0:
            if not caps and seq in (1, 2) and len(p) >= 32:
                caps = struct.unpack("<I", p[:4])[0]
            continue
        cmd = p[0]
        if cmd == 0x03:
            reqs.append([sql_normalize_mysql(p[1:].decode("utf-8", "replace")), "gen", size])
        elif cmd == 0x16:
            reqs.append([sql_normalize_mysql(p[1:].decode("utf-8", "replace")), "prep", size])
        elif cmd in (0x17, 0xFA):
            reqs.append([("stmt", struct.unpack("<I", p[1:5])[0]), "gen", size])
        elif cmd in (0x01, 0x18, 0x19):
            continue
        else:
            reqs.append([MY_NAMES.get(cmd, "?"), "gen", size])
    deprecate = bool(caps & (1 << 24))
    stmts, out, k, i = {}, [], 0, 0
    if not joined:  # greeting, then authentication up to the server's OK/ERR
        i = 1
        while i < len(be) and be[i][1][0] not in (0x00, 0xFF):
            i += 1
        i += 1
    while i < len(be) and k < len(reqs):
        op, kind, rq = reqs[k]
        if isinstance(op, tuple):
            op = stmts.get(op[1], "EXECUTE")
        size, err, j = 0, "", i

        def take():
            nonlocal j, size
            pkt = be[j]
            size += pkt[2]
            j += 1
            return pkt[1]

        def defs(n):
            for _ in range(n):
                take()
            if not deprecate:
                take()  # EOF
        p = take()
        if kind == "prep" and p[0] == 0:
            stmt, cols, params = struct.unpack("<IHH", p[1:9])
            stmts[stmt] = op
            if params:
                defs(params)
            if cols:
                defs(cols)
        else:
            while True:
                if p[0] == 0xFF:
                    err = p[4:9].decode() if p[3:4] == b"#" else ""
                    break
                if p[0] == 0x00 or (p[0] == 0xFE and len(p) < 9):
                    status = my_status(p)
                else:
                    cols, end = my_lenenc(p, 0)
                    if len(p) == end + 1 and p[end] == 0:
                        cols = 0  # MariaDB cached metadata: no definitions sent
                    defs(cols)
                    while True:
                        p = take()
                        if p[0] == 0xFF or (p[0] == 0xFE and len(p) < 0xFFFFFF):
                            break
                    if p[0] == 0xFF:
                        err = p[4:9].decode() if p[3:4] == b"#" else ""
                        break
                    status = my_status(p)
                if not status & 0x0008:
                    break
                p = take()
        out.append(line(op, 0, err, bool(err), 0, rq, size))
        i, k = j, k + 1
    return out


def sql_normalize_mysql(s):
    """MySQL's lexical rules: '..' and ".." literals with backslash escapes,
    `..` identifiers, # comments; the rest as sql_normalize()."""
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c in "'\"":
            j = i + 1
            while j < n:
                if s[j] == "\\":
                    j += 2
                    continue
                if s[j] == c:
                    if j + 1 < n and s[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append("?")
            i = j + 1
        elif c == "`":
            j = s.find("`", i + 1)
            j = n if j < 0 else j + 1
            out.append(s[i:j])
            i = j
        elif c == "#":
            j = s.find("\n", i)
            out.append(" ")
            i = n if j < 0 else j + 1
        else:
            out.append(c)
            i += 1
    return sql_normalize("".join(out))


# ---- HTTP/2: frames only --------------------------------------------------------

def h2_frames(data, preface):
    off = 24 if preface and data.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") else 0
    while off + 9 <= len(data):
        n = int.from_bytes(data[off:off + 3], "big")
        yield data[off + 3], data[off + 4], int.from_bytes(data[off + 5:off + 9], "big") & 0x7FFFFFFF, 9 + n
        off += 9 + n


def http2(req, resp):
    """Streams opened by the client's HEADERS, ended by the server's
    END_STREAM (DATA or HEADERS) or an RST_STREAM from either side. The
    bytes of each direction are counted up to the end of the response,
    since the two directions are not interleaved here, a request frame
    after it (rare) would be counted by the parser but not here."""
    sizes, order, opened = {}, [], set()
    for t, fl, sid, n in h2_frames(req, True):
        if t == 1 and sid % 2 and sid not in opened:
            opened.add(sid)
            sizes[sid] = [0, 0]
        if sid in sizes:
            sizes[sid][0] += n
        if t == 3 and sid in sizes and sid not in order:
            order.append(sid)
    for t, fl, sid, n in h2_frames(resp, False):
        if sid in sizes and sid not in order:
            sizes[sid][1] += n
            if (t in (0, 1) and fl & 1) or t == 3:
                order.append(sid)
    return [line("? stream %d" % sid, 0, "", 0, 0, *sizes[sid]) for sid in order]


if __name__ == "__main__":
    proto, case = sys.argv[1], sys.argv[2]
    script = read(case, "script").decode().split("\n")
    if any(ln.startswith("gap") for ln in script):
        sys.exit("expect.py: %s has gaps: write its expected records by hand" % case)
    args = [read(case, "request"), read(case, "response")]
    if "join" in script:  # the startup phase went by before the capture
        args.append(True)
    for rec in {"http": http, "postgresql": postgresql, "redis": redis,
                "mysql": mysql, "http2": http2, "grpc": http2}[proto](*args):
        print(rec)
