# SPDX-License-Identifier: BSD-2-Clause
"""Shared plumbing of the estate's services (stdlib + Debian's python3-*).

web    HTTP/1.1 JSON server (ThreadingHTTPServer) and client (one
       connection per call), TLS on either side
rpc    gRPC server/client with generic handlers and JSON payloads
calls  the CALL log: every outgoing request a service makes, one JSON line
       on stderr, normalised the way faultline's agent names operations
       (tools/estate/check_truth.py rebuilds the graph from these lines)
db     PostgreSQL / MariaDB / Redis clients whose every statement or command
       is logged as a CALL
"""
