#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""check_corpus.py - swap each change of changes/labels.json in, run the whole
suite and a burst of production traffic, restore; print per change which
tests failed. Run through check-corpus.sh (it takes the host lock).

    check_corpus.py [--only ID]... [--traffic-s S] [--json FILE] [--keep]

The shop runs from a copy of tools/estate (WORK/estate): a change's files
are copied over the copy's, the changed services are restarted (estate.py
restart), the suite runs once (pytest, JUnit XML), then loadgen.py sends
S seconds of traffic (default 6, 20 req/s); then the baseline files are put
back and those services restarted again. The source tree is never touched.

For each change it also rebuilds, from the services' CALL logs over the
suite's run, the label's boundary edge (requests and errors) next to the
baseline's, so a change that fails no test but changes an edge (a retry
that doubles queries) shows up too.

Columns: tests failed (flaky ones in parentheses: they fail on the baseline
too, tests/labels.json), the boundary edge during the suite (requests/errors,
baseline -> change), loadgen (ok, or how many responses differed from the
plan), and whether that is what the label's kind predicts:
  breaking   a non-flaky test fails, or the boundary edge's errors rise or
             its requests grow >= 1.5x
  benign     no non-flaky test fails and loadgen is ok
  prod-only  no non-flaky test fails and loadgen is not ok
Exit 0 if every change behaves as labelled, 1 if not.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_truth  # noqa: E402

PY = "/usr/bin/python3"


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


class Shop:
    def __init__(self, work):
        self.work = work
        self.dir = os.path.join(work, "estate")
        self.state = os.path.join(work, "st")
        shutil.copytree(HERE, self.dir, ignore=shutil.ignore_patterns(
            "__pycache__", ".pytest_cache", "changes"))
        self.stack = os.path.join(self.dir, "shop.json")
        with open(self.stack) as f:
            self.ports = {s["port"]: s["name"] for s in json.load(f)["services"]}

    def estate(self, *args):
        r = run([PY, os.path.join(self.dir, "estate.py")] + list(args) +
                ["--stack", self.stack, "--state", self.state])
        if r.returncode != 0:
            raise SystemExit("check_corpus: estate.py %s failed:\n%s" % (
                " ".join(args), r.stdout.decode(errors="replace")))
        return r.stdout.decode()

    def reseed_redis(self):
        """Redis fixtures again (a change may have left a key of the wrong type)."""
        with open(self.stack) as f:
            for s in json.load(f)["services"]:
                if s.get("kind") in ("cache", "queue") and s.get("setup"):
                    r = run(s["setup"], cwd=self.dir, env=dict(os.environ, STACK_STATE_DIR=self.state))
                    if r.returncode:
                        raise SystemExit("check_corpus: re-seeding %s failed" % s["name"])

    def suite(self, tag):
        junit = os.path.join(self.work, "junit-%s.xml" % tag)
        t0 = time.time_ns()
        run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/",
             "--junitxml=" + junit], cwd=self.dir, env=dict(os.environ, STACK_STATE_DIR=self.state))
        t1 = time.time_ns()
        failed = []
        try:
            for c in ET.parse(junit).getroot().iter("testcase"):
                if c.find("failure") is not None or c.find("error") is not None:
                    n = c.get("name")
                    failed.append(n[5:] if n.startswith("test_") else n)
        except (OSError, ET.ParseError):
            failed.append("<no junit>")
        return failed, (t0, t1)

    def traffic(self, seconds, seed):
        if seconds <= 0:
            return None
        r = run([PY, os.path.join(self.dir, "loadgen.py"), "--stack", self.stack,
                 "--rate", "20", "--duration", str(seconds), "--seed", str(seed),
                 "--timeout", "3", "--json", os.path.join(self.work, "lg.json")],
                env=dict(os.environ, OTEL_SERVICE_NAME="loadgen"))
        try:
            with open(os.path.join(self.work, "lg.json")) as f:
                lg = json.load(f)
        except (OSError, ValueError):
            return "loadgen crashed"
        if lg["unexpected"]:
            return "%d/%d bad" % (lg["unexpected"], lg["requests"])
        return "ok" if r.returncode == 0 else "exit %d" % r.returncode

    def edges(self, window):
        files = [os.path.join(self.state, "logs", f) for f in os.listdir(
            os.path.join(self.state, "logs")) if f.endswith(".log")]
        calls = check_truth.load_calls(files, window[0], window[1])
        raw = {}
        for c in calls:      # tcp connects stay (a refused connect is an edge's error)
            port = int(c["peer"].rsplit(":", 1)[1])
            key = (c["client"], self.ports.get(port, c["peer"]), c["proto"], c["op"])
            e = raw.setdefault(key, [0, 0])
            e[0] += 1
            e[1] += c["err"] == 1
        return raw


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append")
    ap.add_argument("--traffic-s", type=float, default=6.0)
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    with open(os.path.join(HERE, "changes", "labels.json")) as f:
        labels = json.load(f)
    with open(os.path.join(HERE, "tests", "labels.json")) as f:
        flaky = {x["test"] for x in json.load(f)["flaky"]}
    if a.only:
        labels = [x for x in labels if x["id"] in a.only]
    work = tempfile.mkdtemp(prefix="fl-corpus.", dir="/tmp")
    os.chmod(work, 0o755)
    shop = Shop(work)
    rows = []
    t_start = time.monotonic()
    try:
        print(shop.estate("up").strip(), flush=True)
        base_failed, base_win = shop.suite("baseline")
        base_edges = shop.edges(base_win)
        base_traffic = shop.traffic(a.traffic_s, 11)
        print("baseline: tests failed %s, loadgen %s" % (base_failed or "none", base_traffic),
              flush=True)
        for i, lab in enumerate(labels):
            t0 = time.monotonic()
            cdir = os.path.join(HERE, "changes", lab["id"])
            swapped = []
            for dp, dirs, fs in os.walk(cdir):
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                for fn in fs:
                    if fn.endswith(".pyc"):
                        continue
                    rel = os.path.relpath(os.path.join(dp, fn), cdir)
                    shutil.copyfile(os.path.join(dp, fn), os.path.join(shop.dir, rel))
                    swapped.append(rel)
            shop.estate("restart", *lab["services"])
            failed, win = shop.suite(lab["id"])
            edges = shop.edges(win)
            traffic = shop.traffic(a.traffic_s, 11 + i)
            for rel in swapped:
                shutil.copyfile(os.path.join(HERE, rel), os.path.join(shop.dir, rel))
            shop.estate("restart", *lab["services"])
            shop.reseed_redis()
            real = [t for t in failed if t not in flaky]
            b = lab["boundary"]
            edge = None
            if b:
                key = (b["client"], b["server"], b["protocol"], b["operation"])
                edge = (base_edges.get(key, [0, 0]), edges.get(key, [0, 0]))
            if lab["kind"] == "breaking":
                moved = edge and (edge[1][1] > edge[0][1] or edge[1][0] >= 1.5 * max(1, edge[0][0])
                                  or (edge[0][0] == 0 and edge[1][0] > 0))
                as_labelled = bool(real) or bool(moved)
            elif lab["kind"] == "benign":
                as_labelled = not real and traffic in (None, "ok")
            else:
                as_labelled = not real and traffic not in (None, "ok")
            row = {"id": lab["id"], "kind": lab["kind"], "failed": failed, "real_failed": real,
                   "edge": edge, "traffic": traffic, "as_labelled": as_labelled,
                   "seconds": round(time.monotonic() - t0, 1)}
            rows.append(row)
            print("%-30s %-9s %-3s tests failed: %s; edge %s; loadgen %s (%.0fs)" % (
                lab["id"], lab["kind"], "ok" if as_labelled else "NO",
                ", ".join(t if t not in flaky else "(%s)" % t for t in failed) or "none",
                "%d/%d -> %d/%d" % (edge[0][0], edge[0][1], edge[1][0], edge[1][1]) if edge else "-",
                traffic, row["seconds"]), flush=True)
    finally:
        try:
            shop.estate("down")
        except SystemExit as e:
            print(e, file=sys.stderr)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("| change | kind | tests failed | boundary edge in the suite (reqs/errs, base -> change) "
          "| loadgen | as labelled |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        e = r["edge"]
        print("| %s | %s | %s | %s | %s | %s |" % (
            r["id"], r["kind"],
            ", ".join(t if t in r["real_failed"] else "(%s)" % t for t in r["failed"]) or "none",
            "%d/%d -> %d/%d" % (e[0][0], e[0][1], e[1][0], e[1][1]) if e else "-",
            r["traffic"], "yes" if r["as_labelled"] else "**no**"))
    n_ok = sum(r["as_labelled"] for r in rows)
    print("\ncheck-corpus: %d of %d changes behave as labelled (%.0fs)" % (
        n_ok, len(rows), time.monotonic() - t_start))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if n_ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
