#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""gatectl's help, its option tables and docs/gatectl.md in step (the way
bpftool's test_bpftool_synctypes.py keeps bpftool's). Reads, per command:
  - the table: the commands of `gatectl --help` (built from gate/cmd/cmd.c)
    and the long options of the command's `struct option` table in
    gate/cmd/NAME.c (plus GATE_COMMON_LONGOPTS of gate/query/ctx.h);
  - the help: `gatectl NAME --help`, its usage and options blocks;
  - the docs: the `## NAME` section of docs/gatectl.md or docs/gate.md.
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


OPTION = r'\{ "([a-z0-9-]+)", (?:required|no|optional)_argument'


def option_macros():
    """{MACRO: options} of the #defines of gate/ that list long options
    (GATE_COMMON_LONGOPTS and the like, spread into commands' tables)."""
    out = {}
    for d, _, files in os.walk(os.path.join(ROOT, "gate")):
        for f in files:
            if f.endswith(".h"):
                text = open(os.path.join(d, f)).read()
                for m in re.finditer(r"#define (\w+)[ \t]*((?:[^\n]*\\\n)+[^\n]*)", text):
                    opts = set("--" + o for o in re.findall(OPTION, m.group(2)))
                    if opts:
                        out[m.group(1)] = opts
    return out


def cmd_file(name):
    """The file of gate/cmd/ that defines gate_cmd_NAME."""
    cmd = os.path.join(ROOT, "gate", "cmd")
    for f in sorted(os.listdir(cmd)):
        if f.endswith(".c") and re.search(r"const struct gate_cmd gate_cmd_%s\b" % name,
                                          open(os.path.join(cmd, f)).read()):
            return os.path.join(cmd, f)
    return None


def table_opts(name, macros):
    """The long options of the file defining command @name: its own
    entries and those of the option macros it spreads in."""
    src = open(cmd_file(name)).read()
    opts = set("--" + o for o in re.findall(OPTION, src))
    for mac, mopts in macros.items():
        if re.search(r"\b%s\b" % mac, src) and mac != "GATE_COMMON_LONGOPTS":
            opts |= mopts
    return opts


def common_opts():
    src = open(os.path.join(ROOT, "gate", "query", "ctx.h")).read()
    m = re.search(r"#define GATE_COMMON_LONGOPTS(.*?)\n\n", src, re.S)
    return set("--" + o for o in re.findall(r'\{ "([a-z0-9-]+)"', m.group(1)))


DOCS = ("gatectl.md", "gate.md")	# the commands' pages


def docs_sections():
    """The intro of docs/gatectl.md and {command: its section} of the
    pages: a heading "## NAME" or "## NAME, NAME", any case."""
    intro, secs = "", {}
    for page in DOCS:
        text = open(os.path.join(ROOT, "docs", page)).read()
        parts = re.split(r"^## ", text, flags=re.M)
        if page == DOCS[0]:
            intro = parts[0]
        for p in parts[1:]:
            head = p.split("\n", 1)[0].strip()
            secs.setdefault(head, p)
            for name in head.split(","):
                secs.setdefault(name.strip().lower(), p)
    return intro, secs


def defaults(text):
    """{option: default} of "--opt ARG ... (default X)" lines."""
    out, last = {}, None
    for line in text.splitlines():
        m = OPT.search(line)
        if m and line.lstrip().startswith(("-", "--")):
            last = m.group(0)
        d = re.search(r"\(default:? ([^),;]+)", line)
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
    macros = option_macros()
    shared = {}	# files that define more than one command
    for c in cmds:
        f = cmd_file(c)
        shared.setdefault(f, []).append(c)
    for c in cmds:
        sec = docs.get(c)
        check(f"{c}: a '## {c}' section in docs/{' or '.join(DOCS)}", sec is not None)
        if sec is None:
            continue
        rc, h = run(c, "--help")
        check(f"{c}: --help exits 0", rc == 0)
        help_opts = set(OPT.findall(blocks(h, ["usage:", "       gatectl"])))
        for line in blocks(h, ["options:"]).splitlines():
            # the option column only: "  --a X, --b Y   text"
            col = re.split(r"(?<=\S)\s{2,}", line.strip(), maxsplit=1)[0] if line.startswith("  -") else ""
            help_opts |= set(OPT.findall(col))
        # the usage lines ("gatectl NAME ..." and their indented continuations)
        # of the section's code blocks, its option tables and option blocks
        docs_opts, on = set(), False
        for line in sec.splitlines():
            if re.match(r"(\$ )?gatectl (\[[^]]*\] )*%s\b" % c, line):
                on = True
            elif not line.startswith(" "):
                on = False
            if on:
                docs_opts |= set(OPT.findall(line))
        docs_opts |= set(re.findall(r"^\| `(--[a-z0-9-]+)", sec, re.M))
        for line in sec.splitlines():
            if line.startswith("  -"):
                col = re.split(r"(?<=\S)\s{2,}", line.strip(), maxsplit=1)[0]
                docs_opts |= set(OPT.findall(col))
        own = table_opts(c, macros) - common
        if len(shared[cmd_file(c)]) == 1:
            check(f"{c}: every option of its table is in --help", own <= help_opts,
                  f"missing: {sorted(own - help_opts)}")
        if len(shared[cmd_file(c)]) == 1:
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
               if not re.search(r"default[^.|]{0,60}?(?<![\w.])" + re.escape(v) + r"(?![\w.])", flat)
               and not re.search(re.escape(o) + r"[ =]" + re.escape(v) + r"(?![\w.])", flat)}
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
