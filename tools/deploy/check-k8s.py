#!/usr/bin/env python3
"""Validate tools/deploy/kubernetes/*.yaml: every document parses, and the
DaemonSet, ServiceAccount and NetworkPolicy have what the agent needs and no
more (docs/deploy.md). Prints one line per problem; exit 1 if any.

usage: check-k8s.py DIR
"""
import glob
import os
import sys

import yaml

NEEDED_CAPS = {"BPF", "PERFMON", "SYS_PTRACE"}
HOST_PATHS = {"/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/cgroup"}  # /proc: hostPID


def load(d):
    docs = []
    for p in sorted(glob.glob(os.path.join(d, "*.yaml"))):
        with open(p) as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    docs.append((os.path.basename(p), doc))
    return docs


def check(d):
    problems = []
    bad = problems.append
    docs = load(d)
    kinds = {}
    for name, doc in docs:
        for k in ("apiVersion", "kind", "metadata"):
            if k not in doc:
                bad("%s: no %s" % (name, k))
        kinds.setdefault(doc.get("kind"), []).append(doc)
    for k in ("DaemonSet", "ServiceAccount", "NetworkPolicy", "Namespace"):
        if len(kinds.get(k, [])) != 1:
            bad("expected one %s, found %d" % (k, len(kinds.get(k, []))))
    for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
        if kinds.get(k):
            bad("%s present: the agent makes no API call" % k)
    if problems:
        return problems
    ds, sa, np = kinds["DaemonSet"][0], kinds["ServiceAccount"][0], kinds["NetworkPolicy"][0]
    ns = kinds["Namespace"][0]["metadata"]["name"]
    for doc in (ds, sa, np):
        if doc["metadata"].get("namespace") != ns:
            bad("%s %s not in namespace %s" % (doc["kind"], doc["metadata"].get("name"), ns))
    spec = ds["spec"]
    tmpl = spec["template"]
    pod = tmpl["spec"]
    labels = tmpl["metadata"].get("labels", {})
    sel = spec.get("selector", {}).get("matchLabels", {})
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        bad("DaemonSet selector %s does not match the pod labels %s" % (sel, labels))
    if pod.get("hostPID") is not True:
        bad("DaemonSet: hostPID must be true (services are named from /proc/PID)")
    if pod.get("serviceAccountName") != sa["metadata"]["name"]:
        bad("DaemonSet: serviceAccountName is not the ServiceAccount")
    if sa.get("automountServiceAccountToken") is not False or \
            pod.get("automountServiceAccountToken") is not False:
        bad("the service account token must not be mounted (no API calls)")
    cs = pod.get("containers", [])
    if len(cs) != 1:
        bad("DaemonSet: expected one container")
        return problems
    c = cs[0]
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    if sc.get("privileged"):
        bad("container is privileged: capabilities instead")
    if "ALL" not in caps.get("drop", []):
        bad("capabilities: drop ALL first")
    missing = NEEDED_CAPS - set(caps.get("add", []))
    if missing:
        bad("capabilities: missing %s" % sorted(missing))
    if "SYS_ADMIN" in caps.get("add", []):
        bad("capabilities: SYS_ADMIN is not needed")
    if sc.get("allowPrivilegeEscalation") is not False:
        bad("allowPrivilegeEscalation must be false")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    paths = {v.get("hostPath", {}).get("path"): n for n, v in vols.items()}
    for hp in HOST_PATHS:
        n = paths.get(hp)
        if not n or n not in mounts:
            bad("no mount of the host's %s" % hp)
        elif not mounts[n].get("readOnly"):
            bad("%s must be mounted read-only" % hp)
    args = c.get("args", [])
    dbs = [a.split("=", 1)[1] for a in args if a.startswith("--db=")]
    if not dbs:
        bad("no --db argument")
    else:
        store = [n for n, m in mounts.items() if dbs[0].startswith(m["mountPath"] + "/")]
        if not store or "hostPath" not in vols.get(store[0], {}) or mounts[store[0]].get("readOnly"):
            bad("the store %s is not on a writable hostPath" % dbs[0])
    maddr = [a.split("=", 1)[1] for a in args if a.startswith("--metrics-addr=")]
    env = {e["name"]: e for e in c.get("env", [])}
    port = None
    if not maddr or not maddr[0].startswith("$(POD_IP):"):
        bad("--metrics-addr must be on the pod IP: --metrics-addr=$(POD_IP):PORT")
    else:
        port = int(maddr[0].rsplit(":", 1)[1])
        if env.get("POD_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "status.podIP":
            bad("POD_IP must come from the downward API (status.podIP)")
        if port not in [p.get("containerPort") for p in c.get("ports", [])]:
            bad("metrics port %d is not a containerPort" % port)
    ann = tmpl["metadata"].get("annotations", {})
    if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != str(port):
        bad("scrape annotations missing or not on port %s: %s" % (port, ann))
    req = c.get("resources", {}).get("requests", {})
    if not req.get("cpu") or not req.get("memory"):
        bad("resource requests (cpu, memory) missing")
    if not c.get("resources", {}).get("limits", {}).get("memory"):
        bad("memory limit missing")
    nps = np["spec"]
    if any(labels.get(k) != v for k, v in nps.get("podSelector", {}).get("matchLabels", {}).items()) \
            or not nps.get("podSelector", {}).get("matchLabels"):
        bad("NetworkPolicy does not select the agent's pods")
    if set(nps.get("policyTypes", [])) != {"Ingress", "Egress"}:
        bad("NetworkPolicy must restrict Ingress and Egress")
    ports = [p.get("port") for r in nps.get("ingress", []) for p in r.get("ports", [])]
    if ports != [port]:
        bad("NetworkPolicy ingress ports %s, expected only the metrics port %s" % (ports, port))
    if nps.get("egress"):
        bad("NetworkPolicy allows egress: the agent talks to nobody")
    return problems


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    problems = check(sys.argv[1])
    for p in problems:
        print("check-k8s: %s" % p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
