#!/usr/bin/env python3
"""Generate a man page from a program's own --help text (the one source:
the man page cannot drift from what the binary says).

usage: mkman.py NAME SECTION PROGRAM [SUBCOMMAND... | --subcommands] > NAME.SECTION

For each SUBCOMMAND, `PROGRAM SUBCOMMAND --help` becomes a subsection of
COMMANDS. The text is set verbatim (.nf) so the layout of the help is kept;
roff's special characters are escaped.
"""
import subprocess
import sys
import time

TITLES = {
    "faultline-agent": "observe TCP conversations with eBPF and record the "
                       "service interaction graph of this node",
    "gatectl": "query faultline's interaction graph and gate changes against it",
}
SEE_ALSO = {
    "faultline-agent": "gatectl(1), systemd.exec(5); docs/agent.md, "
                       "docs/metrics.md and docs/deploy.md in the source tree",
    "gatectl": "faultline-agent(8); docs/gatectl.md and docs/store.md in the "
               "source tree",
}


def helptext(argv):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, check=False)
    if r.returncode != 0:
        sys.exit("mkman: '%s' exited %d" % (" ".join(argv), r.returncode))
    return r.stdout.rstrip("\n")


def roff(text):
    out = []
    for line in text.split("\n"):
        line = line.replace("\\", "\\e")
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    return "\n".join(out)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    name, section, prog, subs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    if subs == ["--subcommands"]:
        # the commands the program lists under "commands:" in its help
        lines = helptext([prog, "--help"]).split("\n")
        start = lines.index("commands:") + 1 if "commands:" in lines else len(lines)
        subs = []
        for line in lines[start:]:
            if not line.strip():
                break
            subs.append(line.split()[0])
    date = time.strftime("%Y-%m-%d", time.gmtime(int(
        __import__("os").environ.get("SOURCE_DATE_EPOCH", time.time()))))
    print('.TH %s %s "%s" "faultline" "faultline manual"' % (name.upper(), section, date))
    print(".SH NAME")
    print("%s \\- %s" % (name, TITLES.get(name, name)))
    print(".SH DESCRIPTION")
    print(".nf")
    print(roff(helptext([prog, "--help"])))
    print(".fi")
    if subs:
        print(".SH COMMANDS")
        for sub in subs:
            print(".SS %s" % sub)
            print(".nf")
            print(roff(helptext([prog, sub, "--help"])))
            print(".fi")
    print(".SH SEE ALSO")
    print(SEE_ALSO.get(name, ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
