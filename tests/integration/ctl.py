"""Talk to the agent's control socket: ctl.py SOCKET COMMAND... sends each
COMMAND as one line on one connection and prints each reply line."""
import socket
import sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rb")
for cmd in sys.argv[2:]:
    s.sendall(cmd.encode() + b"\n")
    line = f.readline()
    if not line:
        print("<closed>")
        sys.exit(1)
    print(line.decode().rstrip("\n"))
