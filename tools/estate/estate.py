#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""estate.py up|down|status|test|restart [--stack FILE] [--state DIR] - run a stack file.

The runner of the host ("production") estate and of `make demo`; the format
it reads is docs/stack.md. Only the stack file drives it: every command runs
with its working directory = the stack file's directory and with
STACK_STATE_DIR = the state directory (private to this instance: data
directories, certificates, logs, the pid table).

  up      start every service (all at once; each in a session of its own,
          output to STATE/logs/NAME.log), wait until each is ready, run its
          setup once it is; print the time it took. Holds the host lock
          (/run/lock/faultline-host.lock) until `down`, unless an ancestor
          already holds it (make test's suites). On any failure it stops what
          it started and exits 1.
  down    SIGTERM to each service's process group (newest first), SIGKILL
          after --stop-timeout, then checks that no process of the shop is
          left and that no port of the stack still listens; drops the
          databases' data directories (logs stay). Exit 1 if anything was
          left.
  restart NAME...  stop those services and start them again from --stack
          (which may be a copy of the stack directory with changed files:
          tools/estate/check-corpus.sh swaps changes in this way); waits
          until they are ready; their setup is not run again.
  status  every service: pid, alive|gone, listening or not.
  test    run the stack's tests[] one by one (each with its timeout), print
          "NAME pass|fail SECONDS", exit 1 if any failed. --junit FILE too.

Ready checks: {"tcp": PORT} a socket LISTENs on PORT (/proc/net/tcp, no
connection is made); {"http": PATH} listening, then GET PATH answers 2xx;
{"grpc": true} listening, then grpc.health.v1.Health/Check answers.
Default: {"tcp": port}.

Exit: 0 ok, 1 failed, 2 usage or an unreadable stack file.
"""

import argparse
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_STACK = os.path.join(HERE, "shop.json")
HOST_LOCK = os.environ.get("FL_HOST_LOCK", "/run/lock/faultline-host.lock")
KINDS = ("service", "database", "cache", "queue")


class StackError(Exception):
    pass


def die(code, msg):
    print("estate: %s" % msg, file=sys.stderr)
    sys.exit(code)


# --- the stack file ----------------------------------------------------------

def _line_col(text, pos):
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def load_stack(path):
    """The stack file as a dict, checked against docs/stack.md."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise StackError("cannot open '%s': %s" % (path, e.strerror))
    try:
        st = json.loads(text)
    except json.JSONDecodeError as e:
        line, col = _line_col(text, e.pos)
        raise StackError("%s:%d:%d: %s" % (path, line, col, e.msg))
    if not isinstance(st, dict) or not isinstance(st.get("name"), str):
        raise StackError("%s: need an object with a string 'name'" % path)
    names, ports = set(), set()
    for i, s in enumerate(st.get("services", [])):
        where = "%s: services[%d]" % (path, i)
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) or not s["name"]:
            raise StackError("%s: needs a name" % where)
        if s["name"] in names:
            raise StackError("%s: duplicate name '%s'" % (where, s["name"]))
        names.add(s["name"])
        cmd = s.get("cmd")
        if not isinstance(cmd, list) or not cmd or not all(isinstance(a, str) for a in cmd):
            raise StackError("%s (%s): cmd must be a non-empty list of strings" % (where, s["name"]))
        if s.get("kind", "service") not in KINDS:
            raise StackError("%s (%s): kind must be one of %s" % (where, s["name"], ", ".join(KINDS)))
        port = s.get("port")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise StackError("%s (%s): port must be 1..65535" % (where, s["name"]))
        if port in ports:
            raise StackError("%s (%s): port %d used twice" % (where, s["name"], port))
        ports.add(port)
        env = s.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise StackError("%s (%s): env must map names to strings" % (where, s["name"]))
        ready = s.get("ready", {"tcp": port})
        if not (isinstance(ready, dict) and len(ready) == 1 and (
                isinstance(ready.get("tcp"), int) or isinstance(ready.get("http"), str)
                or ready.get("grpc") is True)):
            raise StackError("%s (%s): ready must be {\"tcp\": PORT}, {\"http\": PATH} or "
                             "{\"grpc\": true}" % (where, s["name"]))
        setup = s.get("setup")
        if setup is not None and (not isinstance(setup, list) or not setup
                                  or not all(isinstance(a, str) for a in setup)):
            raise StackError("%s (%s): setup must be a non-empty list of strings" % (where, s["name"]))
    tnames = set()
    for i, t in enumerate(st.get("tests", [])):
        where = "%s: tests[%d]" % (path, i)
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not t["name"]:
            raise StackError("%s: needs a name" % where)
        if t["name"] in tnames:
            raise StackError("%s: duplicate test name '%s'" % (where, t["name"]))
        tnames.add(t["name"])
        cmd = t.get("cmd")
        if not isinstance(cmd, list) or not cmd or not all(isinstance(a, str) for a in cmd):
            raise StackError("%s (%s): cmd must be a non-empty list of strings" % (where, t["name"]))
        if not isinstance(t.get("timeout_s", 0), (int, float)) or t.get("timeout_s", 1) <= 0:
            raise StackError("%s (%s): timeout_s must be a positive number" % (where, t["name"]))
    st["_dir"] = os.path.dirname(os.path.abspath(path))
    return st


# --- processes -----------------------------------------------------------------

def starttime(pid):
    """Field 22 of /proc/PID/stat, or None if PID is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if rest[0] in ("Z", "X"):
        return None
    return int(rest[19])


def alive(pid, st):
    return st is not None and starttime(pid) == st


def listening(port):
    """True if a socket LISTENs on TCP PORT (any address), from /proc/net."""
    want = "%04X" % port
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                next(fh)
                for line in fh:
                    p = line.split()
                    if p[3] == "0A" and p[1].rsplit(":", 1)[1] == want:
                        return True
        except (OSError, StopIteration):
            pass
    return False


def session_pids(sid):
    """Every live pid whose session id is SID (the shop's processes: each
    service starts a session of its own)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if rest[0] not in ("Z", "X") and int(rest[3]) == sid:
            out.append(int(d))
    return out


def stack_env(st, state):
    env = dict(os.environ)
    env["STACK_STATE_DIR"] = state
    return env


def state_dir(args, st):
    if args.state:
        return os.path.abspath(args.state)
    return "/tmp/faultline-estate-%s" % st["name"]


# --- the host lock ---------------------------------------------------------------

def _ancestors():
    out, pid = [], os.getpid()
    while pid > 1:
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
        out.append(pid)
    return out


def lock_held_by_ancestor():
    """True if one of our ancestors holds the host lock: an open file of
    theirs on the lock file carries a granted FLOCK (its fdinfo shows the
    lock; the pid /proc/locks names is the one that took it, often a
    `flock` that has exited since)."""
    try:
        ino = os.stat(HOST_LOCK).st_ino
    except OSError:
        return False
    for pid in _ancestors():
        d = "/proc/%d/fdinfo" % pid
        try:
            fds = os.listdir(d)
        except OSError:
            continue
        for fd in fds:
            try:
                with open(os.path.join(d, fd)) as f:
                    info = f.read()
            except OSError:
                continue
            if "ino:\t%d\n" % ino not in info:
                continue
            for line in info.splitlines():
                if line.startswith("lock:") and "FLOCK" in line and "->" not in line:
                    return True
    return False


def hold_lock_forever():
    """_hold-lock: take the host lock, say so on stdout, sleep until SIGTERM."""
    os.makedirs(os.path.dirname(HOST_LOCK), exist_ok=True)
    fd = os.open(HOST_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("waiting for %s (another faultline run holds it)" % HOST_LOCK, file=sys.stderr,
              flush=True)
        fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        signal.pause()


# --- readiness ---------------------------------------------------------------------

def probe(svc):
    """True once SVC is ready (see the module doc)."""
    ready = svc.get("ready", {"tcp": svc["port"]})
    if "tcp" in ready:
        return listening(ready["tcp"])
    if not listening(svc["port"]):
        return False
    if "http" in ready:
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", svc["port"], timeout=2)
        try:
            conn.request("GET", ready["http"], headers={"Connection": "close",
                                                        "User-Agent": "estate-ready"})
            return 200 <= conn.getresponse().status < 300
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()
    import grpc
    with grpc.insecure_channel("127.0.0.1:%d" % svc["port"],
                               options=[("grpc.enable_http_proxy", 0)]) as ch:
        try:
            return ch.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=2) == b"\x08\x01"
        except grpc.RpcError:
            return False


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            lines = f.readlines()[-n:]
    except OSError:
        return ""
    return "".join("    " + x for x in lines)


# --- up / down -------------------------------------------------------------------------

def table_path(state):
    return os.path.join(state, "estate.json")


def read_table(state):
    try:
        with open(table_path(state)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_table(state, table):
    tmp = table_path(state) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(table, f, indent=1)
    os.rename(tmp, table_path(state))


def spawn(argv, cwd, env, log, new_session=True):
    with open(log, "ab") as out:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=new_session)


def cmd_up(args, st):
    state = state_dir(args, st)
    old = read_table(state)
    if old and any(alive(p["pid"], p["starttime"]) for p in old["procs"]):
        die(1, "a stack already runs from %s (estate.py down --state %s)" % (state, state))
    busy = [s["name"] + ":%d" % s["port"] for s in st["services"] if listening(s["port"])]
    if busy:
        die(1, "ports already in use: %s (see: ss -ltnp)" % ", ".join(busy))
    if os.path.isdir(state):
        shutil.rmtree(state)
    os.makedirs(os.path.join(state, "logs"))
    os.chmod(state, 0o755)
    t0 = time.monotonic()
    table = {"stack": os.path.join(st["_dir"], os.path.basename(args.stack)),
             "state": state, "procs": [], "lock": None}
    if not lock_held_by_ancestor():
        keeper = spawn([sys.executable, os.path.abspath(__file__), "_hold-lock"], "/",
                       os.environ, os.path.join(state, "logs", "host-lock.log"))
        table["lock"] = {"pid": keeper.pid, "starttime": starttime(keeper.pid)}
        write_table(state, table)
        while True:
            with open(os.path.join(state, "logs", "host-lock.log")) as f:
                if "locked" in f.read():
                    break
            if keeper.poll() is not None:
                die(1, "cannot take the host lock %s" % HOST_LOCK)
            time.sleep(0.05)
        t0 = time.monotonic()       # the wait for the lock is not start-up time
    env = stack_env(st, state)
    procs = {}
    try:
        for s in st["services"]:
            e = dict(env, **s.get("env", {}))
            p = spawn(s["cmd"], st["_dir"], e, os.path.join(state, "logs", s["name"] + ".log"))
            procs[s["name"]] = p
            table["procs"].append({"name": s["name"], "pid": p.pid, "starttime": starttime(p.pid),
                                   "port": s["port"]})
        write_table(state, table)
        pending = list(st["services"])
        deadline = time.monotonic() + args.timeout
        while pending:
            for s in list(pending):
                p = procs[s["name"]]
                if p.poll() is not None:
                    raise StackError("%s exited with status %d while starting:\n%s" % (
                        s["name"], p.returncode, tail(os.path.join(state, "logs", s["name"] + ".log"))))
                if not probe(s):
                    continue
                pending.remove(s)
                ready_s = time.monotonic() - t0
                if s.get("setup"):
                    log = os.path.join(state, "logs", s["name"] + ".setup.log")
                    r = spawn(s["setup"], st["_dir"], dict(env, **s.get("env", {})), log,
                              new_session=False)
                    try:
                        rc = r.wait(timeout=max(1.0, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        r.kill()
                        r.wait()
                        rc = "timeout"
                    if rc != 0:
                        raise StackError("setup of %s failed (%s):\n%s" % (s["name"], rc, tail(log)))
                if args.verbose:
                    print("  %-16s ready after %.2fs%s" % (s["name"], ready_s,
                          ", set up after %.2fs" % (time.monotonic() - t0) if s.get("setup") else ""))
            if pending and time.monotonic() > deadline:
                raise StackError("not ready after %.0fs: %s" % (
                    args.timeout, ", ".join(s["name"] for s in pending)))
            if pending:
                time.sleep(0.05)
    except StackError as e:
        print("estate: %s" % e, file=sys.stderr)
        print("estate: start failed, stopping what was started", file=sys.stderr)
        stop_all(state, table, args.stop_timeout, quiet=True)
        return 1
    print("estate: %s up in %.2fs: %d services, state %s" % (
        st["name"], time.monotonic() - t0, len(st["services"]), state))
    return 0


def stop_all(state, table, timeout, quiet=False, keep_table=False):
    """Stop every process of TABLE; return the list of leftovers (strings).
    Without KEEP_TABLE, also release the host lock and drop the databases'
    data and the pid table (the whole stack is stopped)."""
    procs = table["procs"]
    # a service's pid is its session (and process group) leader
    for p in reversed(procs):
        if alive(p["pid"], p["starttime"]):
            try:
                os.killpg(p["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(session_pids(p["pid"]) for p in procs):
            break
        time.sleep(0.05)
    left = []
    for p in procs:
        pids = session_pids(p["pid"])
        if pids:
            if not quiet:
                print("estate: %s did not stop within %.0fs: SIGKILL to %s" % (
                    p["name"], timeout, " ".join(map(str, pids))), file=sys.stderr)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    time.sleep(0.1)
    for p in procs:
        for pid in session_pids(p["pid"]):
            left.append("%s: pid %d still alive" % (p["name"], pid))
    # reap our own children (up's failure path)
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
    deadline = time.monotonic() + 2
    for p in procs:
        while listening(p["port"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        if listening(p["port"]):
            left.append("%s: port %d still listens" % (p["name"], p["port"]))
    if keep_table:
        return left
    lock = table.get("lock")
    if lock and alive(lock["pid"], lock["starttime"]):
        os.kill(lock["pid"], signal.SIGTERM)
        for _ in range(100):
            if not alive(lock["pid"], lock["starttime"]):
                break
            time.sleep(0.02)
    for d in ("postgres/data", "mariadb/data"):
        shutil.rmtree(os.path.join(state, d), ignore_errors=True)
    try:
        os.unlink(table_path(state))
    except OSError:
        pass
    return left


def cmd_down(args, st):
    state = state_dir(args, st)
    table = read_table(state)
    if table is None:
        print("estate: nothing runs from %s" % state)
        return 0
    t0 = time.monotonic()
    left = stop_all(state, table, args.stop_timeout)
    for x in left:
        print("estate: LEFTOVER %s" % x, file=sys.stderr)
    print("estate: %s down in %.2fs%s (logs in %s/logs)" % (
        st["name"], time.monotonic() - t0, ", %d leftovers" % len(left) if left else
        ", nothing left", state))
    return 1 if left else 0


def cmd_restart(args, st):
    state = state_dir(args, st)
    table = read_table(state)
    if table is None:
        die(1, "nothing runs from %s" % state)
    svcs = {s["name"]: s for s in st["services"]}
    unknown = [n for n in args.names if n not in svcs]
    if unknown or not args.names:
        die(2, "restart: name services of the stack (unknown: %s)" % ", ".join(unknown))
    t0 = time.monotonic()
    mine = [p for p in table["procs"] if p["name"] in args.names]
    left = stop_all(state, {"procs": mine}, args.stop_timeout, keep_table=True)
    if left:
        die(1, "restart: %s" % "; ".join(left))
    env = stack_env(st, state)
    procs = {}
    for name in args.names:
        s = svcs[name]
        p = spawn(s["cmd"], st["_dir"], dict(env, **s.get("env", {})),
                  os.path.join(state, "logs", name + ".log"))
        procs[name] = p
        for entry in table["procs"]:
            if entry["name"] == name:
                entry.update(pid=p.pid, starttime=starttime(p.pid))
    write_table(state, table)
    deadline = time.monotonic() + args.timeout
    pending = list(args.names)
    while pending:
        for name in list(pending):
            if procs[name].poll() is not None:
                die(1, "%s exited with status %d while starting:\n%s" % (
                    name, procs[name].returncode, tail(os.path.join(state, "logs", name + ".log"))))
            if probe(svcs[name]):
                pending.remove(name)
        if pending and time.monotonic() > deadline:
            die(1, "not ready after %.0fs: %s" % (args.timeout, ", ".join(pending)))
        time.sleep(0.05)
    print("estate: restarted %s in %.2fs" % (", ".join(args.names), time.monotonic() - t0))
    return 0


def cmd_status(args, st):
    state = state_dir(args, st)
    table = read_table(state)
    if table is None:
        print("estate: nothing runs from %s" % state)
        return 1
    bad = 0
    for p in table["procs"]:
        up = alive(p["pid"], p["starttime"])
        lis = listening(p["port"])
        bad += not (up and lis)
        print("%-16s pid %-7d %-5s port %d %s" % (p["name"], p["pid"], "alive" if up else "gone",
                                                 p["port"], "listening" if lis else "CLOSED"))
    return 1 if bad else 0


def cmd_test(args, st):
    state = state_dir(args, st)
    env = stack_env(st, state)
    results = []
    for t in st.get("tests", []):
        if args.only and not any(o in t["name"] for o in args.only):
            continue
        t0 = time.monotonic()
        try:
            r = subprocess.run(t["cmd"], cwd=st["_dir"], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=t.get("timeout_s", 60))
            rc, out = r.returncode, r.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            rc, out = "timeout", (e.stdout or b"").decode(errors="replace")
        dt = time.monotonic() - t0
        ok = rc == 0
        results.append((t["name"], ok, dt, out))
        print("%-48s %s %6.2fs" % (t["name"], "pass" if ok else "FAIL", dt), flush=True)
        if not ok and args.verbose:
            print(out)
    n_fail = sum(1 for r in results if not r[1])
    print("estate tests: %d passed, %d failed" % (len(results) - n_fail, n_fail))
    if args.junit:
        from xml.sax.saxutils import escape, quoteattr
        with open(args.junit, "w") as f:
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name=%s tests="%d" '
                    'failures="%d">\n' % (quoteattr(st["name"]), len(results), n_fail))
            for name, ok, dt, out in results:
                f.write('  <testcase name=%s time="%.3f">' % (quoteattr(name), dt))
                if not ok:
                    f.write('<failure message="exit status">%s</failure>' % escape(out[-4000:]))
                f.write('</testcase>\n')
            f.write('</testsuite>\n')
    return 1 if n_fail else 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "_hold-lock":
        hold_lock_forever()
    ap = argparse.ArgumentParser(description="start/stop a stack file (docs/stack.md)",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("command", choices=("up", "down", "status", "test", "restart"))
    ap.add_argument("names", nargs="*", help="restart: the services")
    ap.add_argument("--stack", default=DEFAULT_STACK, help="stack file (%(default)s)")
    ap.add_argument("--state", help="state directory (default /tmp/faultline-estate-NAME)")
    ap.add_argument("--timeout", type=float, default=60.0, help="up: seconds to be ready")
    ap.add_argument("--stop-timeout", type=float, default=10.0, help="down: seconds before SIGKILL")
    ap.add_argument("--junit", help="test: JUnit XML file")
    ap.add_argument("--only", action="append", help="test: names containing this")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    try:
        st = load_stack(args.stack)
    except StackError as e:
        die(2, str(e))
    return {"up": cmd_up, "down": cmd_down, "status": cmd_status, "test": cmd_test,
            "restart": cmd_restart}[
        args.command](args, st)


if __name__ == "__main__":
    sys.exit(main())
