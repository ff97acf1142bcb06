#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""report: turn the raw logs of one bench/run.sh run into the results.

    usage: report.py WORKDIR OUTDIR

Reads what bench/run.sh left in WORKDIR (wrk and redis-benchmark outputs,
the agent's counters and replay lines, RSS snapshots, hyperfine JSON,
gengraph's probes) and writes OUTDIR/latest.json, OUTDIR/latest.md and
dated copies of both (OUTDIR/YYYYMMDDTHHMMSSZ.{json,md}); prints the
Markdown on stdout. Nothing is computed here that the logs do not show:
every figure is min / median / max over the runs that were made, ratios are
per (none, agent) pair of the same round. Exit 0, 1 when a log is missing
or unreadable (the run is then not reported at all).
"""

import glob
import json
import os
import re
import shutil
import statistics
import sys

WORKLOADS = ["nginx-small", "nginx-64k", "redis-p1", "redis-p16"]
LABEL = {
    "nginx-small": "nginx, 100 B static, keep-alive",
    "nginx-64k": "nginx, 64 KiB static, keep-alive",
    "redis-p1": "redis-benchmark, pipeline 1",
    "redis-p16": "redis-benchmark, pipeline 16",
}
TARGETS = {
    "ratio": 0.97,
    "records_per_s": 500000,
    "rss_10k_mib": 64,
    "drops": 0,
    "scope_10k_ms": 100,
}


class ReportError(Exception):
    pass


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        raise ReportError("cannot read '%s': %s" % (path, e.strerror))


def kv_file(path):
    out = {}
    for line in read(path).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def mmm(values):
    """min / median / max of a list of numbers (None when empty)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values),
            "max": max(values), "n": len(values)}


def to_ms(num, unit):
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
    return float(num) * scale[unit]


def parse_wrk(path):
    text = read(path)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
    if not rps or not p99:
        raise ReportError("'%s' is not wrk --latency output" % path)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    reqs = re.search(r"(\d+) requests in ", text)
    errors = sum(int(x) for x in sock.groups()) if sock else 0
    errors += int(non2xx.group(1)) if non2xx else 0
    return {"": {"rps": float(rps.group(1)), "p99_ms": to_ms(*p99.groups()),
                 "errors": errors, "requests": int(reqs.group(1)) if reqs else None}}


def parse_redis(path):
    out = {}
    for line in read(path).splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if len(cells) == 8 and cells[0] in ("SET", "GET"):
            out[cells[0]] = {"rps": float(cells[1]), "p99_ms": float(cells[6]),
                             "errors": 0}
    if set(out) != {"SET", "GET"}:
        raise ReportError("'%s' is not redis-benchmark --csv output for SET and GET" % path)
    return out


def parse_counters(path):
    m = re.search(r"faultline-agent: counters:(.*)$", read(path), re.M)
    if not m:
        raise ReportError("no counters line in '%s'" % path)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def parse_replay(path):
    m = re.search(r"replay: (\d+) events, (\d+) records in ([\d.]+) s wall, "
                  r"([\d.]+) s CPU: (\d+) events/s, (\d+) records/s", read(path))
    if not m:
        raise ReportError("no replay line in '%s'" % path)
    ev, rec, wall, cpu, evs, recs = m.groups()
    return {"events": int(ev), "records": int(rec), "wall_s": float(wall),
            "cpu_s": float(cpu), "events_per_cpu_s": int(evs),
            "records_per_cpu_s": int(recs)}


def ctx_rates(work, tag, wall):
    """Context switches per second of a run: the server's voluntary and
    involuntary ones, and the machine's (every CPU)."""
    path = os.path.join(work, "overhead", tag + ".ctx")
    if not os.path.exists(path) or not wall:
        return None, None, None
    v, n, total = (int(x) for x in read(path).split())
    return v / wall, n / wall, total / wall


def run_wall(work, tag):
    return float(read(os.path.join(work, "overhead", "%s.wall" % tag)).strip() or 0)


def agent_on_cpu(work, tag, cpu):
    """Share of the agent's CPU samples (bench/run.sh cpu_sampler) on @cpu."""
    path = os.path.join(work, "overhead", tag + ".cpus")
    if not os.path.exists(path):
        return None
    cpus = [l.strip() for l in read(path).split("\n") if l.strip()]
    return sum(1 for c in cpus if c == str(cpu)) / len(cpus) if cpus else None


def agent_cpu_cores(work, tag):
    """The agent's CPU time over the load run's wall time, in cores."""
    ticks = int(read(os.path.join(work, "logs", "agent-%s.cpu" % tag)).strip() or 0)
    wall = float(read(os.path.join(work, "overhead", "%s.wall" % tag)).strip() or 0)
    hz = os.sysconf("SC_CLK_TCK")
    return ticks / hz / wall if wall > 0 else None


# ------------------------------------------------------------------ sections

def overhead(work, machine):
    pairs = int(machine["pairs"])
    redis_n = {"redis-p1": int(machine["redis_n_p1"]), "redis-p16": int(machine["redis_n_p16"])}
    rows, loss = [], []
    for wl in WORKLOADS:
        parse = parse_wrk if wl.startswith("nginx") else parse_redis
        runs = {}
        sched = {}
        for r in range(1, pairs + 1):
            for cond in ("none", "agent", "tcplife"):
                tag = "%s-%d-%s" % (wl, r, cond)
                runs[(r, cond)] = parse(os.path.join(work, "overhead", tag + ".out"))
                sched[(r, cond)] = ctx_rates(work, tag, run_wall(work, tag))
        tests = sorted(runs[(1, "none")].keys(), key=lambda t: (t != "SET", t))
        for test in tests:
            name = wl if not test else "%s %s" % (wl, test)
            per = []
            for r in range(1, pairs + 1):
                n, a, t = (runs[(r, c)][test] for c in ("none", "agent", "tcplife"))
                per.append({"round": r, "none": n, "agent": a, "tcplife": t,
                            "agent_ratio": a["rps"] / n["rps"],
                            "tcplife_ratio": t["rps"] / n["rps"],
                            "agent_on_server_cpu": agent_on_cpu(
                                work, "%s-%d-agent" % (wl, r),
                                machine.get("server_cpu", "1"))})
            rows.append({
                "workload": name, "label": LABEL[wl] + (" " + test if test else ""),
                "rounds": per,
                "rps": {c: mmm([p[c]["rps"] for p in per]) for c in ("none", "agent", "tcplife")},
                "p99_ms": {c: mmm([p[c]["p99_ms"] for p in per]) for c in ("none", "agent", "tcplife")},
                "agent_ratio": mmm([p["agent_ratio"] for p in per]),
                "tcplife_ratio": mmm([p["tcplife_ratio"] for p in per]),
                "errors": sum(p[c]["errors"] for p in per for c in ("none", "agent", "tcplife")),
                "server_preemptions_per_s": {c: mmm([sched[(r, c)][1] for r in range(1, pairs + 1)])
                                             for c in ("none", "agent", "tcplife")},
                "machine_ctxsw_per_s": {c: mmm([sched[(r, c)][2] for r in range(1, pairs + 1)])
                                        for c in ("none", "agent", "tcplife")},
            })
        for r in range(1, pairs + 1):
            tag = "%s-%d-agent" % (wl, r)
            c = parse_counters(os.path.join(work, "logs", "agent-%s.log" % tag))
            if wl in redis_n:
                reqs = 2 * redis_n[wl]	# SET and GET
            else:
                reqs = runs[(r, "agent")][""]["requests"]
            wall = run_wall(work, tag)
            actx = os.path.join(work, "logs", "agent-%s.ctx" % tag)
            wakeups = int(read(actx).split()[0]) / wall if os.path.exists(actx) and wall else None
            loss.append({"workload": wl, "round": r, "counters": c, "requests": reqs,
                         "agent_cpu_cores": agent_cpu_cores(work, tag),
                         "agent_wakeups_per_s": wakeups})
    return rows, loss


def floor(work, machine):
    """The floor section: nginx-small with no BPF, empty socket hooks, empty
    syscall hooks (bench/run.sh floor())."""
    d = os.path.join(work, "floor")
    if not os.path.isdir(d) or not os.path.exists(os.path.join(d, "nginx-small-1-none.out")):
        return None
    pairs = int(machine["pairs"])
    per = []
    for r in range(1, pairs + 1):
        runs = {c: parse_wrk(os.path.join(d, "nginx-small-%d-%s.out" % (r, c)))[""]
                for c in ("none", "socket", "syscall")}
        per.append({"round": r, **{c: runs[c]["rps"] for c in runs},
                    "socket_ratio": runs["socket"]["rps"] / runs["none"]["rps"],
                    "syscall_ratio": runs["syscall"]["rps"] / runs["none"]["rps"]})
    return {"workload": "nginx-small", "rounds": per,
            "rps": {c: mmm([p[c] for p in per]) for c in ("none", "socket", "syscall")},
            "socket_ratio": mmm([p["socket_ratio"] for p in per]),
            "syscall_ratio": mmm([p["syscall_ratio"] for p in per])}


def pipeline(work):
    out = []
    for tag, rec, what in (
            ("demo", "demo", "demo shop under load, replayed while its processes run"),
            ("demo-gone", "demo", "the same recording, replayed after its processes exited"),
            ("nginx", "nginx", "nginx keep-alive 100 B (wrk -c32, 2 s)")):
        reps = [parse_replay(p) for p in
                sorted(glob.glob(os.path.join(work, "pipeline", "%s-replay-*.log" % tag)))]
        if not reps:
            raise ReportError("no replays of %s" % tag)
        counters = parse_counters(os.path.join(work, "pipeline", "%s-replay-1.log" % tag))
        out.append({
            "recording": tag, "what": what,
            "file_bytes": int(read(os.path.join(work, "pipeline", rec + ".size"))),
            "events": reps[0]["events"], "records": reps[0]["records"],
            "unresolved_peers": counters.get("unresolved_peers"),
            "timewait_sockets_after": int(read(os.path.join(work, "pipeline", tag + ".timewait"))),
            "replays": reps,
            "events_per_cpu_s": mmm([r["events_per_cpu_s"] for r in reps]),
            "records_per_cpu_s": mmm([r["records_per_cpu_s"] for r in reps]),
        })
    demo_load = read(os.path.join(work, "pipeline", "demo-load.out"))
    m = re.search(r"Requests/sec:\s+([\d.]+)", demo_load)
    out[0]["load_rps"] = float(m.group(1)) if m else None
    return out


def live_profile(work, wl, ncpu, path=""):
    d = os.path.join(work, "overhead")
    tag = wl + "-profile" + ("-" + path if path else "")
    if not os.path.exists(os.path.join(d, tag + ".bpfstats")):
        return None
    parse = parse_wrk if wl.startswith("nginx") else parse_redis
    load = parse(os.path.join(d, tag + ".out"))
    wall = run_wall(work, tag)
    progs = []
    for line in read(os.path.join(d, tag + ".bpfstats")).splitlines():
        pid, name, runs, ns = line.split()
        if int(runs):
            progs.append({"name": name, "runs": int(runs), "ns": int(ns),
                          "avg_ns": int(ns) / int(runs)})
    progs.sort(key=lambda p: -p["ns"])
    bpf_s = sum(p["ns"] for p in progs) / 1e9
    comm = []
    for line in read(os.path.join(d, tag + ".perf-comm.txt")).splitlines():
        m = re.match(r"^\s*([\d.]+)%\s+(.+?)\s*$", line)
        if m and not line.lstrip().startswith("#"):
            comm.append({"pct": float(m.group(1)), "comm": m.group(2)})
    syms = []
    for line in read(os.path.join(d, tag + ".perf-sym.txt")).splitlines():
        m = re.match(r"^\s*([\d.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.+?)\s*$", line)
        if m:
            syms.append({"pct": float(m.group(1)), "comm": m.group(2), "dso": m.group(3),
                         "symbol": m.group(5)})
    actx = read(os.path.join(work, "logs", "agent-%s.ctx" % tag)).split()
    sctx = read(os.path.join(d, tag + ".ctx")).split()
    mctx = int(sctx[2]) / wall if wall else None
    m = re.search(r"faultline-agent: collector: (\w+)",
                  read(os.path.join(work, "logs", "agent-%s.log" % tag)))
    return {"workload": wl, "collector": m.group(1) if m else "?", "load": load, "wall_s": wall,
            "bpf_cpu_s": bpf_s, "bpf_share_of_machine": bpf_s / (wall * ncpu) if wall else None,
            "agent_cpu_cores": agent_cpu_cores(work, tag),
            "agent_wakeups_per_s": int(actx[0]) / wall if wall else None,
            "server_preemptions_per_s": int(sctx[1]) / wall if wall else None,
            "machine_ctxsw_per_s": mctx,
            "bpf_programs": progs, "cpu_by_process": comm, "top_symbols": syms[:20]}


def perf_rows(path, children):
    """Rows of `perf report --sort dso,sym -g none` (with --children: two %)."""
    rows = []
    pat = (r"^\s*([\d.]+)%\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.+?)\s*$" if children else
           r"^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.+?)\s*$")
    for line in read(path).splitlines():
        m = re.match(pat, line)
        if not m:
            continue
        if children:
            rows.append({"total_pct": float(m.group(1)), "self_pct": float(m.group(2)),
                         "dso": m.group(3), "symbol": m.group(5)})
        else:
            rows.append({"self_pct": float(m.group(1)), "dso": m.group(2),
                         "symbol": m.group(4)})
    return rows


def profile(work, tag):
    d = os.path.join(work, "pipeline")
    if not os.path.exists(os.path.join(d, tag + "-perf-self.txt")):
        return None
    dsos = []
    for line in read(os.path.join(d, tag + "-perf-dso.txt")).splitlines():
        m = re.match(r"^\s*([\d.]+)%\s+(\S+)\s*$", line)
        if m:
            dsos.append({"self_pct": float(m.group(1)), "dso": m.group(2)})
    # the agent's own functions by inclusive time, below the replay loop
    skip = {"main", "replay", "_start", "__libc_start_main_impl", "__libc_start_call_main"}
    incl, seen = [], set()
    for r in perf_rows(os.path.join(d, tag + "-perf-children.txt"), True):
        name = r["symbol"].replace(" (inlined)", "")
        # the replay loop and what is above it hold everything: left out
        if r["dso"] != "faultline-agent" or name in skip or name in seen or r["total_pct"] >= 90:
            continue
        seen.add(name)
        incl.append(r)
    return {"recording": tag, "call_graph": "dwarf",
            "replay_under_perf": parse_replay(os.path.join(d, tag + "-perf-replay.log")),
            "dso": dsos, "self": perf_rows(os.path.join(d, tag + "-perf-self.txt"), False)[:15],
            "inclusive": incl[:20]}


def memory(work):
    out = []
    for path in sorted(glob.glob(os.path.join(work, "memory", "*.held")),
                       key=lambda p: int(os.path.basename(p).split(".")[0])):
        n = int(os.path.basename(path).split(".")[0])
        held = {k: int(v) for k, v in kv_file(path).items()}
        idle = {k: int(v) for k, v in kv_file(os.path.join(work, "memory", "%d.idle" % n)).items()}
        c = parse_counters(os.path.join(work, "logs", "agent-mem-%d.log" % n))
        hold = read(os.path.join(work, "memory", "%d.connhold" % n)).strip()
        out.append({"connections": n, "connhold": hold,
                     "rss_idle_kib": idle["VmRSS"], "rss_kib": held["VmRSS"],
                     "hwm_kib": held["VmHWM"], "anon_kib": held["RssAnon"],
                     "file_kib": held["RssFile"], "shmem_kib": held["RssShmem"],
                     "counters": {k: c.get(k) for k in (
                         "conn_opens", "conn_closes", "records", "ringbuf_drops",
                         "conn_map_full", "inflight_map_full", "unresolved_peers")}})
    return out


def hyperfine(path):
    r = json.loads(read(path))["results"][0]
    return {"min_ms": r["min"] * 1e3, "median_ms": r["median"] * 1e3,
            "max_ms": r["max"] * 1e3, "runs": len(r["times"])}


def gate(work):
    out = []
    for gen in sorted(glob.glob(os.path.join(work, "gate", "*.gen")),
                      key=lambda p: int(os.path.basename(p)[:-len("k.gen")])):
        tag = os.path.basename(gen)[:-len(".gen")]
        text = read(gen)
        m = re.search(r"gengraph: (\d+) services, (\d+) client/server pairs, (\d+) edges, (\d+) windows", text)
        if not m:
            raise ReportError("no summary in '%s'" % gen)
        store = {"store": tag, "services": int(m.group(1)), "pairs": int(m.group(2)),
                 "edges": int(m.group(3)), "windows_per_edge": int(m.group(4)),
                 "queries": []}
        q = {"query": "graph -o json"}
        q.update(hyperfine(os.path.join(work, "gate", tag + "-graph.json")))
        store["queries"].append(q)
        for probe in ("typical", "hub"):
            pm = re.search(r"gengraph: %s (\S+) fan_in (\d+)" % probe, text)
            res = json.loads(read(os.path.join(work, "gate", "%s-scope-%s.out" % (tag, probe))))
            q = {"query": "scope --changed (%s)" % probe, "service": pm.group(1),
                 "fan_in": int(pm.group(2)), "result_services": len(res.get("services", [])),
                 "result_edges": len(res.get("edges", []))}
            q.update(hyperfine(os.path.join(work, "gate", "%s-scope-%s.json" % (tag, probe))))
            store["queries"].append(q)
        for suffix, query in (("paths", "paths"), ("paths-typical", "paths --through (typical)")):
            rcfile = os.path.join(work, "gate", "%s-%s.rc" % (tag, suffix))
            if not os.path.exists(rcfile):
                continue
            rc = int(read(rcfile))
            said = read(os.path.join(work, "gate", "%s-%s.out" % (tag, suffix))).strip()
            q = {"query": query}
            if suffix == "paths-typical":
                pm = re.search(r"gengraph: typical (\S+) fan_in (\d+)", text)
                q.update({"service": pm.group(1), "fan_in": int(pm.group(2))})
            if rc == 0:
                m = re.match(r"paths: (\d+)", said)
                q["result_paths"] = int(m.group(1)) if m else 0
                q.update(hyperfine(os.path.join(work, "gate", "%s-%s.json" % (tag, suffix))))
            else:
                q["status"] = "failed (exit %d)" % rc
                q["gatectl_said"] = said
                q["exit"] = rc
            store["queries"].append(q)
        out.append(store)
    return out


def targets(res):
    t = []
    for row in res["overhead"]:
        med = row["agent_ratio"]["median"]
        t.append({"what": "throughput with agent / without, %s" % row["workload"],
                  "target": ">= %.2f" % TARGETS["ratio"], "measured": round(med, 3),
                  "met": med >= TARGETS["ratio"]})
    demo = res["pipeline"][0]["records_per_cpu_s"]["median"]
    t.append({"what": "replay, L7 records/s per CPU second (demo recording, median)",
              "target": ">= %d" % TARGETS["records_per_s"], "measured": demo,
              "met": demo >= TARGETS["records_per_s"]})
    for m in res["memory"]:
        if m["connections"] == 10000:
            mib = m["rss_kib"] / 1024
            t.append({"what": "agent RSS at 10k live connections, MiB",
                      "target": "<= %d" % TARGETS["rss_10k_mib"], "measured": round(mib, 1),
                      "met": mib <= TARGETS["rss_10k_mib"]})
    drops = [l["counters"].get("ringbuf_drops", 0) for l in res["loss"]
             if l["workload"].startswith("nginx")]
    t.append({"what": "ring-buffer drops in the saturating wrk runs (max over runs)",
              "target": "0", "measured": max(drops), "met": max(drops) == 0})
    for g in res["gate"]:
        if g["services"] == 10000:
            q = [x for x in g["queries"] if x["query"] == "scope --changed (typical)"][0]
            t.append({"what": "gatectl scope, typical service, 10k services / 100k edges (median ms)",
                      "target": "< %d" % TARGETS["scope_10k_ms"], "measured": round(q["median_ms"], 1),
                      "met": q["median_ms"] < TARGETS["scope_10k_ms"]})
    return t


# ------------------------------------------------------------------ markdown

def f_num(v, digits=0):
    if v is None:
        return "–"
    if digits == 0:
        return "{:,.0f}".format(v)
    return "{:,.{d}f}".format(v, d=digits)


def f_mmm(m, digits=0, scale=1.0):
    if not m:
        return "–"
    return " / ".join(f_num(m[k] * scale, digits) for k in ("min", "median", "max"))


def markdown(res):
    m = res["machine"]
    L = []
    L.append("# faultline benchmark, %s" % m["date"])
    L.append("")
    L.append("Machine: %s, %s CPUs, %.0f GiB, kernel %s. Commit `%s`%s; agent sha256 `%s…`. "
             "nginx %s, redis %s, wrk %s, libbpf-tools %s. Load average %s at start, %s at end. "
             "Run took %s s." % (
                 m["model"], m["nproc"], int(m["mem_kib"]) / 1048576, m["kernel"],
                 m["commit"][:12],
                 " (+%s modified files)" % m["dirty_files"] if m["dirty_files"] != "0" else "",
                 m["agent_sha256"], m["nginx"], m["redis"], m["wrk"], m["libbpf_tools"],
                 m["loadavg_start"], m.get("loadavg_end", "?"), m.get("wall_s", "?")))
    L.append("CPUs busy with other work in the 2 s before the start: %s %%. "
             "Collector of the agent runs: %s." % (m.get("busy_pct_start", "?"),
                                                   m.get("collector", "?")))
    if int(m.get("busy_pct_start", "0")) >= 10:
        L.append("")
        L.append("**Warning:** the CPUs were %s %% busy with other work in the 2 s before the "
                 "benchmark started: the figures below are noisier than they should be." % m["busy_pct_start"])
    if m.get("other_agents", "0") != "0":
        L.append("")
        L.append("**Warning:** %s other faultline-agent process(es) ran when the benchmark started; "
                 "they observe this traffic too." % m["other_agents"])
    L.append("")
    L.append("Every cell with three numbers is min / median / max over the runs. "
             "How each number is measured: bench/README.md.")
    L.append("")

    L.append("## Targets")
    L.append("")
    L.append("| target | wanted | measured | met |")
    L.append("|---|---|---|---|")
    for t in res["targets"]:
        meas = t["measured"]
        meas = f_num(meas, 3 if isinstance(meas, float) and meas < 10 else (1 if isinstance(meas, float) else 0))
        L.append("| %s | %s | %s | %s |" % (t["what"], t["target"], meas, "yes" if t["met"] else "**no**"))
    L.append("")

    fl = res.get("floor")
    if fl:
        L.append("## 0. Floor: the hook points alone (%s rounds, nginx-small)" % m["pairs"])
        L.append("")
        L.append("Programs that only bump a per-CPU counter, on the hooks of each collector "
                 "path (tools/bench/floor): the socket path's tp_btf on sock_send_length, "
                 "sock_recv_length, inet_sock_set_state; the syscall path's 20 syscall "
                 "tracepoints. Any attached syscall tracepoint puts every task on the syscall "
                 "slow path.")
        L.append("")
        L.append("| hooks | req/s | / none per round | / none |")
        L.append("|---|---|---|---|")
        L.append("| none | %s | - | - |" % f_mmm(fl["rps"]["none"]))
        for c in ("socket", "syscall"):
            L.append("| empty %s hooks | %s | %s | %s |" % (
                c, f_mmm(fl["rps"][c]), ", ".join("%.3f" % p[c + "_ratio"] for p in fl["rounds"]),
                f_mmm(fl[c + "_ratio"], 3)))
        L.append("")

    L.append("## 1. Overhead at saturation (%s pairs, alternating none, agent, tcplife; %s s wrk runs)" % (
        m["pairs"], m["duration_s"]))
    L.append("")
    L.append("Server pinned to CPU 1, load generator to CPU 0 (wrk -t1 -c32, redis-benchmark -c32); "
             "the agent and tcplife run unpinned. \"Agent on server CPU\": the share of 50 ms samples "
             "in which the agent's consumer thread had last run on the server's CPU; there it "
             "costs the server more than its CPU time, because the load generator then idles.")
    L.append("")
    L.append("| workload | req/s none | req/s agent | req/s tcplife | agent/none per pair | agent on server CPU per pair | agent/none | tcplife/none | p99 ms none | p99 ms agent | p99 ms tcplife |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in res["overhead"]:
        per = ", ".join("%.3f" % p["agent_ratio"] for p in row["rounds"])
        where = ", ".join("-" if p.get("agent_on_server_cpu") is None else
                          "%.0f %%" % (100 * p["agent_on_server_cpu"]) for p in row["rounds"])
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["workload"], f_mmm(row["rps"]["none"]), f_mmm(row["rps"]["agent"]),
            f_mmm(row["rps"]["tcplife"]), per, where, f_mmm(row["agent_ratio"], 3),
            f_mmm(row["tcplife_ratio"], 3), f_mmm(row["p99_ms"]["none"], 2),
            f_mmm(row["p99_ms"]["agent"], 2), f_mmm(row["p99_ms"]["tcplife"], 2)))
    L.append("")

    L.append("Context switches per second during the runs, min / median / max: of the whole "
             "machine (/proc/stat), and the server's involuntary ones (preempted on its own CPU):")
    L.append("")
    L.append("| workload | machine, none | machine, agent | machine, tcplife | server preempted, none | server preempted, agent |")
    L.append("|---|---|---|---|---|---|")
    for row in res["overhead"]:
        sp, mc = row["server_preemptions_per_s"], row["machine_ctxsw_per_s"]
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            row["workload"], f_mmm(mc["none"]), f_mmm(mc["agent"]), f_mmm(mc["tcplife"]),
            f_mmm(sp["none"]), f_mmm(sp["agent"])))
    L.append("")
    for pr in res.get("overhead_profile") or []:
        tests = sorted(pr["load"].items())
        rate = ", ".join(("%s " % t if t else "") + "%s req/s" % f_num(v["rps"]) for t, v in tests)
        L.append("### Where the overhead goes: %s, %s collector (one extra agent run, not in the table above)" % (
            pr["workload"], pr.get("collector", "?")))
        L.append("")
        L.append("%s with the agent, BPF run-time statistics on and `perf record -a` (both add "
                 "a little cost). Time in the agent's BPF programs: %.2f CPU s of %.1f s × %s CPUs "
                 "(%.0f %% of the machine); the agent's userspace: %.2f cores; the agent woke up "
                 "%s times/s; the machine switched context %s times/s." % (
                     rate, pr["bpf_cpu_s"], pr["wall_s"], res["machine"]["nproc"],
                     100 * (pr["bpf_share_of_machine"] or 0), pr["agent_cpu_cores"] or 0,
                     f_num(pr["agent_wakeups_per_s"]), f_num(pr["machine_ctxsw_per_s"])))
        L.append("")
        L.append("| BPF program | runs | avg ns | CPU s |")
        L.append("|---|---|---|---|")
        for p in pr["bpf_programs"][:8]:
            L.append("| `%s` | %s | %s | %.3f |" % (p["name"], f_num(p["runs"]), f_num(p["avg_ns"]),
                                                  p["ns"] / 1e9))
        L.append("")
        ours = {"nginx", "wrk", "redis-server", "redis-benchmark", "faultline-agent", "swapper",
                "perf", "taskset", "timeout"}
        foreign = sum(c["pct"] for c in pr["cpu_by_process"] if c["comm"] not in ours)
        L.append("CPU samples by process (perf, both CPUs; `swapper` is idle): " + ", ".join(
            "%s %.1f %%" % (c["comm"], c["pct"]) for c in pr["cpu_by_process"][:6]) +
            ". Processes outside the benchmark: %.1f %% of the samples%s." % (
                foreign, " (**the machine was not quiet**)" if foreign >= 5 else ""))
        L.append("")
        L.append("| % of samples | process | symbol |")
        L.append("|---|---|---|")
        for t in pr["top_symbols"][:10]:
            sym = t["symbol"] if len(t["symbol"]) <= 60 else t["symbol"][:57] + "..."
            L.append("| %.1f | %s | `%s` |" % (t["pct"], t["comm"], sym))
        L.append("")

    L.append("## 4. Loss during the agent runs")
    L.append("")
    L.append("Per agent run, from the counters the agent prints on exit. Truncation is by design "
             "(--capture 1024 bytes per syscall); it is counted, never silent.")
    L.append("")
    L.append("| workload | round | requests sent | L7 records | ringbuf_drops | bytes_truncated / bytes_seen | gap_bytes | conn_map_full | inflight_map_full | payload_read_failed | agent CPU (cores) | agent wakeups/s |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for l in res["loss"]:
        c = l["counters"]
        seen = c.get("bytes_seen", 0)
        trunc = c.get("bytes_truncated", 0)
        L.append("| %s | %d | %s | %s | %s | %s / %s (%.1f %%) | %s | %s | %s | %s | %s | %s |" % (
            l["workload"], l["round"], f_num(l["requests"]), f_num(c.get("records")),
            f_num(c.get("ringbuf_drops")), f_num(trunc), f_num(seen),
            100.0 * trunc / seen if seen else 0.0, f_num(c.get("gap_bytes")),
            f_num(c.get("conn_map_full")), f_num(c.get("inflight_map_full")),
            f_num(c.get("payload_read_failed")),
            f_num(l["agent_cpu_cores"], 2) if l["agent_cpu_cores"] is not None else "–",
            f_num(l["agent_wakeups_per_s"])))
    L.append("")

    L.append("## 2. Pipeline capacity (--replay: the whole userspace pipeline, no kernel, one thread)")
    L.append("")
    L.append("| recording | events | L7 records | file MiB | events/s per CPU s | records/s per CPU s | unresolved peers | TIME_WAIT sockets on host |")
    L.append("|---|---|---|---|---|---|---|---|")
    for p in res["pipeline"]:
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            p["what"], f_num(p["events"]), f_num(p["records"]),
            f_num(p["file_bytes"] / 1048576, 1), f_mmm(p["events_per_cpu_s"]),
            f_mmm(p["records_per_cpu_s"]), f_num(p["unresolved_peers"]),
            f_num(p["timewait_sockets_after"])))
    L.append("")
    if res["pipeline"][0].get("load_rps"):
        L.append("The demo recording: loadgen.py once, then wrk -c8 for %s s on bench/demo-mix.lua "
                 "at %s req/s through nginx.\n" % (res["config"]["demo_load_s"],
                                                   f_num(res["pipeline"][0]["load_rps"])))
    for prof in res.get("profile") or []:
        what = [p["what"] for p in res["pipeline"] if p["recording"] == prof["recording"]][0]
        L.append("Where the time goes: %s (`perf record --call-graph dwarf`; that replay ran at "
                 "%s records/s per CPU s under perf). Self time, by DSO and by symbol:" % (
                     what, f_num(prof["replay_under_perf"]["records_per_cpu_s"])))
        L.append("")
        L.append("| self % | where | symbol |")
        L.append("|---|---|---|")
        for d in prof["dso"][:4]:
            L.append("| %.1f | %s | (all) |" % (d["self_pct"], d["dso"]))
        for t in prof["self"][:10]:
            L.append("| %.1f | %s | `%s` |" % (t["self_pct"], t["dso"], t["symbol"]))
        L.append("")
        L.append("The agent's own functions by inclusive time (callees included):")
        L.append("")
        L.append("| total % | function |")
        L.append("|---|---|")
        for t in prof["inclusive"][:12]:
            L.append("| %.1f | `%s` |" % (t["total_pct"], t["symbol"]))
        L.append("")

    L.append("## 3. Memory (agent VmRSS with N live loopback connections, tools/bench/connhold)")
    L.append("")
    L.append("| connections | RSS idle MiB | RSS held MiB | anon MiB | file MiB | peak (HWM) MiB | conn_opens | conn_map_full | ringbuf_drops |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for x in res["memory"]:
        c = x["counters"]
        L.append("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %s | %s |" % (
            f_num(x["connections"]), x["rss_idle_kib"] / 1024, x["rss_kib"] / 1024,
            x["anon_kib"] / 1024, x["file_kib"] / 1024, x["hwm_kib"] / 1024,
            f_num(c["conn_opens"]), f_num(c["conn_map_full"]), f_num(c["ringbuf_drops"])))
    L.append("")
    L.append("File pages include the ring buffer's mapping (consumer page + data pages, "
             "mapped twice) and the binary and libraries.")
    L.append("")

    L.append("## 5. gatectl on synthetic stores (tools/bench/gengraph; hyperfine, 1 warm-up + 5 runs)")
    L.append("")
    L.append("| store | query | changed service (fan-in) | result | ms |")
    L.append("|---|---|---|---|---|")
    for g in res["gate"]:
        name = "%s services, %s edges × %d windows" % (f_num(g["services"]), f_num(g["edges"]),
                                                      g["windows_per_edge"])
        for q in g["queries"]:
            if q.get("status"):
                L.append("| %s | %s | – | – | %s |" % (name, q["query"], q["status"]))
                continue
            svc = "%s (%d)" % (q["service"], q["fan_in"]) if "service" in q else "–"
            result = "%s services, %s edges" % (f_num(q["result_services"]), f_num(q["result_edges"])) \
                if "result_edges" in q else "%s paths" % f_num(q["result_paths"]) \
                if "result_paths" in q else "–"
            L.append("| %s | %s | %s | %s | %s |" % (
                name, q["query"], svc, result,
                " / ".join(f_num(q[k], 1) for k in ("min_ms", "median_ms", "max_ms"))))
    L.append("")
    return "\n".join(L)


def main():
    if len(sys.argv) != 3:
        print("usage: report.py WORKDIR OUTDIR", file=sys.stderr)
        return 2
    work, outdir = sys.argv[1], sys.argv[2]
    try:
        machine = kv_file(os.path.join(work, "machine.env"))
        res = {"schema": 1, "machine": machine,
               "config": {"pairs": int(machine["pairs"]),
                          "duration_s": int(machine["duration_s"]),
                          "wrk": "wrk -t1 -c32 -d%ss --latency" % machine["duration_s"],
                          "redis": "redis-benchmark -c32 -t set,get -d 64 -r 100000 "
                                   "(-n %s at -P 1, -n %s at -P 16)" % (
                                       machine["redis_n_p1"], machine["redis_n_p16"]),
                          "demo_load_s": int(machine["demo_load_s"])}}
        res["overhead"], res["loss"] = overhead(work, machine)
        m = re.search(r"faultline-agent: collector: (\w+)",
                      read(os.path.join(work, "logs", "agent-nginx-small-1-agent.log")))
        machine["collector"] = m.group(1) if m else "?"
        res["floor"] = floor(work, machine)
        res["overhead_profile"] = [p for p in (live_profile(work, wl, int(machine["nproc"]), path)
                                               for wl in WORKLOADS for path in ("", "syscall"))
                                   if p]
        res["pipeline"] = pipeline(work)
        res["profile"] = [p for p in (profile(work, t) for t in ("demo", "demo-gone")) if p]
        res["memory"] = memory(work)
        res["gate"] = gate(work)
        res["targets"] = targets(res)
    except ReportError as e:
        print("report: %s" % e, file=sys.stderr)
        return 1
    md = markdown(res)
    os.makedirs(outdir, exist_ok=True)
    stamp = machine["date"].replace("-", "").replace(":", "")
    with open(os.path.join(outdir, "latest.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    with open(os.path.join(outdir, "latest.md"), "w") as f:
        f.write(md + "\n")
    shutil.copyfile(os.path.join(outdir, "latest.json"), os.path.join(outdir, stamp + ".json"))
    shutil.copyfile(os.path.join(outdir, "latest.md"), os.path.join(outdir, stamp + ".md"))
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
