#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""gate_bench.py - the gate against run-all, naive and random selection on a
change corpus (make bench's gate section; docs/gate.md "Measured").

    gate_bench.py --stack tools/estate/shop.json [--labels FILE] [--runs N]
                  [--only ID]... [--strategies gate,run-all,naive,random]
                  [--json OUT] [--gatectl build/gatectl]

One warm sandbox for everything: `sandbox up` cold (timed), `learn --runs
N`, then for every change of the labels file (breaking, benign, prod-only,
batch) each strategy gates the same change in the same sandbox:
  gate     gatectl gate's own selection
  run-all  every test (gate --tests all)
  naive    the tests tagged with a changed service
  random   a random set of tests with the gate's estimated test time
A change is COMMAND = the service's stack cmd with its script replaced by the
change's file (changes/ID/services/X.py), PYTHONPATH at the stack's
services/ so shared modules still import. Per strategy: recall (breaking
changes failed), false positives (benign changes failed; prod-only changes
are expected to pass a gate and are counted apart), cause right (the cause
boundary equals the label's, of the caught ones), share of the suite's test
time run, gate wall time p50/p95. The caller holds the host lock.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--stack", required=True)
ap.add_argument("--labels")
ap.add_argument("--db", default="/tmp/fl-gate-bench.db")
ap.add_argument("--state-dir", default="/run/faultline/sandbox/bench")
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--only", action="append")
ap.add_argument("--strategies", default="gate,run-all,naive,random")
ap.add_argument("--json")
ap.add_argument("--gatectl", default=os.path.join(os.path.dirname(__file__), "../../build/gatectl"))
a = ap.parse_args()

stack_dir = os.path.dirname(os.path.abspath(a.stack))
labels_path = a.labels or os.path.join(stack_dir, "changes", "labels.json")
with open(a.stack) as f:
    stack = json.load(f)
with open(labels_path) as f:
    labels = json.load(f)
if a.only:
    labels = [x for x in labels if x["id"] in a.only]
svc = {s["name"]: s for s in stack["services"]}
tests = [t["name"] for t in stack["tests"]]
strategies = a.strategies.split(",")


def gc(*args, check=True):
    t0 = time.monotonic()
    r = subprocess.run([a.gatectl, "--db", a.db, *args, "--stack", a.stack,
                        "--name", "bench", "--state-dir", a.state_dir], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    if check and r.returncode not in (0, 1, 3):
        sys.exit("gatectl %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.decode()))
    return r.returncode, r.stdout.decode(), r.stderr.decode(), dt


def change_cmd(lab, name):
    """The changed service's command: its stack argv, the script swapped."""
    argv = list(svc[name]["cmd"])
    for i, w in enumerate(argv):
        cand = os.path.join("changes", lab["id"], w)
        if w.endswith(".py") and os.path.exists(os.path.join(stack_dir, cand)):
            pp = os.path.join(stack_dir, os.path.dirname(w))
            argv[i] = cand
            return " ".join(["/usr/bin/env", "PYTHONPATH=" + pp] + ["'%s'" % x for x in argv])
    return None


def naive_tests(lab):
    return [t["name"] for t in stack["tests"] if set(t.get("tags", [])) & set(lab["services"])]


gc("sandbox", "down", check=False)
if os.path.exists(a.db):
    os.unlink(a.db)
rc, out, err, up_s = gc("sandbox", "up")
if rc:
    sys.exit("sandbox up failed: " + err)
rc, out, err, learn_s = gc("learn", "--runs", str(a.runs), "-o", "json")
learn = json.loads(out)
mean = {t["name"]: t["mean_duration_s"] for t in learn["by_test"]}
suite_s = sum(mean.values())
print("sandbox up (cold): %.1f s; learn %d runs: %.1f s, suite %.1f s of test time, %d flaky"
      % (up_s, a.runs, learn_s, suite_s, learn["flaky"]), flush=True)

rows = []
for lab in labels:
    changes = []
    for name in lab["services"]:
        cmd = change_cmd(lab, name)
        if cmd:
            changes += ["--change", "%s=%s" % (name, cmd)]
    if len(changes) != 2 * len(lab["services"]):
        print("%-32s skipped: no replacement script found" % lab["id"], flush=True)
        continue
    res = {}
    gate_est = None
    for st in strategies:
        extra = []
        if st == "run-all":
            extra = ["--tests", ",".join(tests)]
        elif st == "naive":
            nt = naive_tests(lab)
            extra = ["--tests", ",".join(nt)] if nt else None
        elif st == "random":
            rnd = random.Random(lab["id"])
            pool = tests[:]
            rnd.shuffle(pool)
            pick, tot = [], 0.0
            for t in pool:
                if tot + mean.get(t, 0) > (gate_est or suite_s * 0.3):
                    continue
                pick.append(t)
                tot += mean.get(t, 0)
            extra = ["--tests", ",".join(pick)] if pick else None
        if extra is None:
            res[st] = {"verdict": "pass", "cause": None, "test_s": 0, "wall_s": 0, "tests": 0}
            continue
        rc, out, err, wall = gc("gate", *changes, *extra, "-o", "json")
        if rc not in (0, 1, 3) or not out:
            res[st] = {"verdict": "error", "cause": None, "test_s": 0, "wall_s": wall, "tests": 0,
                       "err": err.strip()[-200:]}
            continue
        j = json.loads(out)
        ran = [t for t in j["tests"] if t["result"] != "skipped"]
        cause = next(((b["client"], b["server"], b["protocol"], b["operation"])
                      for b in j["boundaries"] if b["role"] == "cause"), None)
        res[st] = {"verdict": j["verdict"], "cause": cause, "wall_s": wall, "tests": len(ran),
                   "test_s": sum(t["duration_s"] for t in ran)}
        if st == "gate":
            gate_est = j["selection"]["estimated_s"]
    b = lab.get("boundary")
    want = (b["client"], b["server"], b["protocol"], b["operation"]) if b else None
    rows.append({"id": lab["id"], "kind": lab["kind"], "boundary": want, "res": res})
    print("%-32s %-9s " % (lab["id"], lab["kind"]) + "  ".join(
        "%s=%s%s" % (st, r["verdict"], "*" if r["cause"] and tuple(r["cause"]) == want else "")
        for st, r in res.items()), flush=True)

gc("sandbox", "down", check=False)


def pct(x, n):
    return "%.0f%% (%d/%d)" % (100.0 * x / n, x, n) if n else "-"


print()
print("| strategy | recall (breaking caught) | false positives (benign failed) | prod-only failed "
      "| cause right (of caught) | share of suite test time | gate p50 / p95 (s) |")
print("|---|---|---|---|---|---|---|")
summary = {}
for st in strategies:
    br = [r for r in rows if r["kind"] == "breaking"]
    be = [r for r in rows if r["kind"] == "benign"]
    po = [r for r in rows if r["kind"] == "prod-only"]
    caught = [r for r in br if r["res"][st]["verdict"] == "fail"]
    fp = [r for r in be if r["res"][st]["verdict"] == "fail"]
    pof = [r for r in po if r["res"][st]["verdict"] == "fail"]
    right = [r for r in caught if r["res"][st]["cause"] and tuple(r["res"][st]["cause"]) == r["boundary"]]
    walls = sorted(r["res"][st]["wall_s"] for r in rows if r["res"][st]["wall_s"])
    share = statistics.mean(r["res"][st]["test_s"] / suite_s for r in rows) if rows and suite_s else 0
    p50 = statistics.median(walls) if walls else 0
    p95 = walls[min(len(walls) - 1, int(0.95 * len(walls)))] if walls else 0
    summary[st] = {"recall": len(caught) / len(br) if br else None,
                   "false_positive_rate": len(fp) / len(be) if be else None,
                   "cause_right": len(right) / len(caught) if caught else None,
                   "share": share, "p50_s": p50, "p95_s": p95}
    print("| %s | %s | %s | %s | %s | %.0f%% | %.1f / %.1f |" % (
        st, pct(len(caught), len(br)), pct(len(fp), len(be)), pct(len(pof), len(po)),
        pct(len(right), len(caught)), 100 * share, p50, p95))
print("\nsandbox up (cold) %.1f s; learn --runs %d %.1f s" % (up_s, a.runs, learn_s))
if a.json:
    with open(a.json, "w") as f:
        json.dump({"up_s": up_s, "learn_s": learn_s, "suite_s": suite_s, "rows": rows,
                   "summary": summary}, f, indent=1)
