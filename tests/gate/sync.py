#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""gatectl's help, its option tables and docs/gatectl.md in step (the way
bpftool's test_bpftool_synctypes.py keeps bpftool's). Reads, per command:
  - the table: the commands of `gatectl --help` (built from gate/cmd/cmd.c)
    and the long options of the command's `struct option` table in
    gate/cmd/NAME.c (plus GATE_COMMON_LONGOPTS of gate/query/ctx.h);
  - the help: `gatectl NAME --help`, its usage and options blocks;
  - the docs: the `## NAME` section of docs/gatectl.md.
Checks that every command has a docs section, that every option of a
command's table is in its help and in its docs section, that help and docs
name no option the table lacks, that each numeric "(default X)" of the help
is a default the docs give, and that the writing commands of the table are the
ones the help and the docs say write.
Prints one line per check and "gatectl-sync: N passed, N failed"."""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GATECTL = os.environ.get("GATECTL", os.path.join(ROOT, "build", "gatectl"))
OPT = re.compile(r"--[a-z][a-z0-9-]*")
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + (("\n       " + detail) if detail else ""))


def run(*args):
    p = subprocess.run([GATECTL, *args], capture_output=True, text=True)
    return p.returncode, p.stdout


def blocks(text, heads):
    """The lines of @text from a line starting with one of @heads to the
    next blank line."""
    out, on = [], False
    for line in text.splitlines():
        if any(line.startswith(h) for h in heads):
            on = True
        elif not line.strip():
            on = False
        if on:
            out.append(line)
    return "\n".join(out)


def table_opts(name):
    src = open(os.path.join(ROOT, "gate", "cmd", name + ".c")).read()
    return set("--" + o for o in re.findall(r'\{ "([a-z0-9-]+)", (?:required|no|optional)_argument', src))


def common_opts():
    src = open(os.path.join(ROOT, "gate", "query", "ctx.h")).read()
    m = re.search(r"#define GATE_COMMON_LONGOPTS(.*?)\n\n", src, re.S)
    return set("--" + o for o in re.findall(r'\{ "([a-z0-9-]+)"', m.group(1)))


def docs_sections():
    text = open(os.path.join(ROOT, "docs", "gatectl.md")).read()
    parts = re.split(r"^## ", text, flags=re.M)
    return parts[0], {p.split("\n", 1)[0].strip(): p for p in parts[1:]}


def defaults(text):
    """{option: default} of "--opt ARG ... (default X)" lines."""
    out, last = {}, None
    for line in text.splitlines():
        m = OPT.search(line)
        if m and line.lstrip().startswith(("-", "--")):
            last = m.group(0)
        d = re.search(r"\(default:? ([^),]+)", line)
        if d and last:
            out.setdefault(last, d.group(1).strip())
    return out


def main():
    rc, top = run("--help")
    check("gatectl --help exits 0", rc == 0)
    cmds = re.findall(r"^  ([a-z]+)  +\S", blocks(top, ["commands:"]), re.M)
    check("gatectl --help lists commands", len(cmds) >= 9, top)
    intro, docs = docs_sections()
    common = common_opts()
    for c in cmds:
        sec = docs.get(c)
        check(f"{c}: a '## {c}' section in docs/gatectl.md", sec is not None)
        if sec is None:
            continue
        rc, h = run(c, "--help")
        check(f"{c}: --help exits 0", rc == 0)
        help_opts = set(OPT.findall(blocks(h, ["usage:", "       gatectl", "options:"])))
        docs_opts = set(OPT.findall(sec.split("\n```", 2)[1] if "```" in sec else sec))
        docs_opts |= set(re.findall(r"^\| `(--[a-z0-9-]+)", sec, re.M))
        own = table_opts(c) - common
        check(f"{c}: every option of its table is in --help", own <= help_opts,
              f"missing: {sorted(own - help_opts)}")
        check(f"{c}: every option of its table is in the docs", own <= docs_opts,
              f"missing: {sorted(own - docs_opts)}")
        check(f"{c}: --help names no option its table lacks",
              help_opts <= own | common, f"unknown: {sorted(help_opts - own - common)}")
        check(f"{c}: the docs name no option its table lacks",
              docs_opts <= own | common, f"unknown: {sorted(docs_opts - own - common)}")
        # numeric defaults (thresholds, ages) are the ones that drift
        hd = {o: v for o, v in defaults(blocks(h, ["options:"])).items()
              if o in own and v[:1].isdigit()}
        flat = " ".join(sec.split())
        bad = {o: v for o, v in hd.items()
               if not re.search(r"default[^.|]{0,60}?(?<![\w.])" + re.escape(v) + r"(?![\w.])", flat)}
        check(f"{c}: the docs give the defaults of --help", not bad, f"help says {bad}")
    # who writes: the table (help) against the docs
    m = re.search(r"read-only but by ([a-z, ]+)", top.replace("\n", " "))
    writers = set(re.findall(r"[a-z]+", m.group(1)) if m else []) - {"and"}
    check("gatectl --help names the writing commands", writers, top)
    common_sec = docs.get("Common to every command", "") + intro
    for w in sorted(writers):
        check(f"docs/gatectl.md says '{w}' writes", f"`{w}`" in common_sec)
    print(f"gatectl-sync: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
