#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Draft the `expected` file of a golden case without gaps.

    expect.py http|postgresql|redis|http2|grpc CASE_DIR

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
    fe = pg_messages(req, not joined)
    be = pg_messages(resp, False)
    if resp[:1] == b"N":  # SSLRequest refused
        be = pg_messages(resp[1:], False)
    reqs, batch, stmts = [], None, {}
    for t, body, size in fe:
        if t is None or t in (b"p", b"X"):
            continue
        if t == b"Q":
            op = sql_normalize(cstrs(body)[0].decode())
            if batch:
                reqs.append([op, batch[1] + size])
                batch = None
            else:
                reqs.append([op, size])
            continue
        if t in (b"d", b"c", b"f"):
            reqs[-1][1] += size
            continue
        if batch is None:
            batch = [None, 0, False]
        batch[1] += size
        if t == b"P":
            name, q = cstrs(body)[:2]
            op = sql_normalize(q.decode())
            stmts[name] = op
            batch[2] = True
            batch[0] = batch[0] or op
        elif t == b"B":
            batch[2] = True
            stmt = cstrs(body)[1]
            batch[0] = batch[0] or stmts.get(stmt)
        elif t in (b"D", b"E", b"C"):
            batch[2] = True
        elif t == b"S":
            reqs.append([batch[0] or "EXECUTE", batch[1]] if batch[2] else None)
            batch = None
    out, k, ready, size, err = [], 0, joined, 0, ""
    for t, body, n in be:
        if not ready:
            ready = t == b"Z"
            continue
        size += n
        if t == b"E" and not err:
            fields = {f[:1]: f[1:] for f in cstrs(body) if f}
            err = fields.get(b"C", b"").decode()
        if t == b"Z":
            if reqs[k] is not None:
                out.append(line(reqs[k][0], 0, err, bool(err), 0, reqs[k][1], size))
            k, size, err = k + 1, 0, ""
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
    for rec in {"http": http, "postgresql": postgresql, "redis": redis, "http2": http2,
                "grpc": http2}[proto](*args):
        print(rec)
