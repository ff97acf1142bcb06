#!/usr/bin/env bash
# gatectl graph -o svg / -o html, drawn by libgvc, checked in a real
# browser: headless Chromium renders the page to a PNG that must not be
# blank (many colours, a good share of non-white pixels, the error-rate
# colours present), and its DOM must hold every service of the fixture as a
# node label, the arrow tooltips and the blind spots list. A page without
# the picture must fail the same checks (the test can fail).
#
# No network: file:// only, Chromium's background networking off.
# Prints "render: N passed, N failed". KEEP=1 keeps the PNG (path printed).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
gatectl=$root/build/gatectl
PY=/usr/bin/python3
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
finish() { echo "render: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

for c in chromium "$PY" cc; do
	command -v "$c" >/dev/null || { bad "missing $c (run: tools/install-deps.sh)"; finish; exit 1; }
done
[ -x "$gatectl" ] || { bad "missing $gatectl (run: make)"; finish; exit 1; }

work=$(mktemp -d /tmp/faultline-render.XXXXXX)
chmod 755 "$work"
cleanup() { [ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT

cc -O1 -std=gnu11 -D_GNU_SOURCE -Ilib tests/gate/mkfixture.c lib/*.c -lsqlite3 -ljansson -lm \
	-o "$work/mkfixture" 2>"$work/cc.err" || { bad "build mkfixture: $(cat "$work/cc.err")"; finish; exit 1; }
"$work/mkfixture" "$work/graph.db" <tests/gate/graph.spec || { bad "fixture"; finish; exit 1; }
"$work/mkfixture" "$work/blind.db" <tests/gate/blindspots.spec || { bad "fixture blind"; finish; exit 1; }

# --- svg --------------------------------------------------------------------------
if "$gatectl" --db "$work/graph.db" graph -o svg >"$work/g.svg" 2>"$work/svg.err" &&
	"$PY" - "$work/g.svg" <<'EOF'; then ok "graph -o svg: well-formed SVG, a node per service, an arrow per client/server/protocol"; else bad "graph -o svg: $(cat "$work/svg.err")"; fi
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
t = ET.parse(sys.argv[1]).getroot()
nodes = {g.find("s:title", ns).text for g in t.iter("{http://www.w3.org/2000/svg}g") if g.get("class", "").split()[0:1] == ["node"] or g.get("class") in ("service", "database", "cache", "queue", "external")}
want = {"gw", "web", "api", "auth", "pg", "redis", "batch", "10.0.0.9:443", "idle"}
edges = [g for g in t.iter("{http://www.w3.org/2000/svg}g") if "edge" in g.get("class", "")]
print("    nodes %s, arrows %d" % (sorted(nodes), len(edges)))
sys.exit(0 if want <= nodes and len(edges) >= 8 else 1)
EOF

# --- html in Chromium ---------------------------------------------------------------
"$gatectl" --db "$work/graph.db" graph -o html >"$work/graph.html" 2>"$work/html.err" ||
	bad "graph -o html: $(cat "$work/html.err")"
"$gatectl" --db "$work/blind.db" graph -o html >"$work/blind.html" 2>>"$work/html.err" ||
	bad "graph -o html (blind spots): $(cat "$work/html.err")"
# an empty graph (a range with no windows) draws nothing: the picture
# checks below must refuse it
"$gatectl" --db "$work/graph.db" graph --since @1900000000 -o svg >"$work/empty.svg" 2>>"$work/svg.err" ||
	bad "graph -o svg of an empty range: $(cat "$work/svg.err")"

chrome() {  # chrome OUT-DIR ARG...: headless, no network, a fresh profile
	local prof
	prof=$(mktemp -d "$work/profile.XXXXXX")
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --disable-dev-shm-usage --hide-scrollbars \
		--user-data-dir="$prof" "$@" 2>>"$work/chromium.err"
}

# png_check PNG: prints "colours non_white_share has_red has_green" and
# exits 1 unless the picture drew (PNG decoded here: zlib, no PIL)
png_check() {
	"$PY" - "$1" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if typ == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        bpp = {2: 3, 6: 4}[ctype]
        assert depth == 8
    elif typ == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, nonwhite, red, green, total = set(), 0, False, False, 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    for x in range(0, stride, bpp * 2):     # every other pixel: fast enough
        r, g, bl = line[x], line[x + 1], line[x + 2]
        total += 1
        colours.add((r >> 3, g >> 3, bl >> 3))
        if r + g + bl < 720:
            nonwhite += 1
        if r > 170 and g < 80 and bl < 80:
            red = True
        if g > 100 and r < 80 and bl < 80:
            green = True
share = nonwhite / total
print("%d %.4f %s %s" % (len(colours), share, red, green))
sys.exit(0 if len(colours) >= 20 and share >= 0.02 and red and green else 1)
EOF
}

chrome --window-size=1400,1000 --screenshot="$work/graph.png" "file://$work/graph.html" >/dev/null
if [ -s "$work/graph.png" ] && res=$(png_check "$work/graph.png"); then
	ok "chromium drew the page: screenshot not blank (colours, non-white share, red, green: $res)"
else
	bad "screenshot blank or missing: ${res:-none} $(tail -3 "$work/chromium.err")"
fi
chrome --window-size=900,400 --screenshot="$work/svg.png" "file://$work/g.svg" >/dev/null
if [ -s "$work/svg.png" ] && res=$(png_check "$work/svg.png"); then
	ok "chromium drew the SVG alone: arrows in red and green ($res)"
else
	bad "the SVG alone drew blank: ${res:-none}"
fi
chrome --window-size=900,400 --screenshot="$work/empty.png" "file://$work/empty.svg" >/dev/null
if res=$(png_check "$work/empty.png"); then
	bad "an empty graph passed the picture check ($res): the check cannot fail"
else
	ok "an empty graph fails the picture check ($res)"
fi

chrome --dump-dom "file://$work/graph.html" >"$work/dom.html"
if "$PY" - "$work/dom.html" <<'EOF'; then ok "DOM after rendering: every service a node label, arrows with hover details, blind spots section"; else bad "DOM lacks labels or details (see above)"; fi
import re, sys
dom = open(sys.argv[1]).read()
svg = dom[dom.find("<svg"):dom.find("</svg>")]
fails = 0
for name in ("gw", "web", "api", "auth", "pg", "redis", "batch", "10.0.0.9:443", "idle"):
    # graphviz puts the label in a <text> of the node's group
    if not re.search(r'class="node[^"]*"[^>]*>\s*<title>%s</title>.*?<text[^>]*>%s</text>' % (re.escape(name), re.escape(name)), svg, re.S):
        fails += 1
        print("    no node label %s" % name)
if "xlink:title=\"web -&gt; api (http)" not in svg and "web -> api (http)" not in svg:
    fails += 1
    print("    no hover details (tooltip) on web -> api")
if "<h2>Blind spots</h2>" not in dom:
    fails += 1
    print("    no blind spots section")
sys.exit(1 if fails else 0)
EOF
chrome --dump-dom "file://$work/blind.html" >"$work/blind-dom.html"
if grep -q '<ul id="blind-spots">' "$work/blind-dom.html" && grep -q "ringbuf_drops" "$work/blind-dom.html"; then
	ok "blind spots listed on the page (ringbuf_drops among them)"
else
	bad "blind spots not listed: $(grep -A3 'Blind spots' "$work/blind-dom.html" | head -5)"
fi
if [ "${KEEP:-0}" = 1 ]; then echo "screenshot: $work/graph.png"; fi
finish
