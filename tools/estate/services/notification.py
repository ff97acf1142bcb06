#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""notification: order e-mails, fed by a Redis list used as a queue.

A worker thread BRPOPs "notifications" (blocking until a message comes,
on a connection of its own) and "sends" each one
(10-90 ms), then records it: SET notification:{order_id} EX 3600, INCR
notifications:sent.

  GET /notifications/{order_id} -> {"order_id", "email", "status": "sent"}; 404
  GET /stats                    -> {"sent": N}
"""
import argparse
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import calls, db, web  # noqa: E402

QUEUE = "notifications"


def worker(r, stop):
    while not stop.is_set():
        try:
            item = r.cmd("BRPOP", QUEUE, 0)
        except db.DBError as e:
            calls.info("worker: %s", e)
            time.sleep(0.5)
            continue
        if not item:
            continue
        try:
            msg = json.loads(item[1])
            oid = int(msg["order_id"])
        except (ValueError, KeyError, TypeError, IndexError):
            calls.info("worker: dropped a malformed message")
            continue
        time.sleep(random.uniform(0.01, 0.09))    # the mail relay
        rec = {"order_id": oid, "email": msg.get("email", ""), "status": "sent"}
        r.cmd("SET", "notification:%d" % oid, json.dumps(rec), "EX", 3600)
        r.cmd("INCR", "notifications:sent")


class Notification(web.Handler):
    r = None
    ROUTES = [
        ("GET", r"/notifications/(\d+)", "get"),
        ("GET", r"/stats", "stats"),
    ]

    def get(self, m, req):
        v = self.r.cmd("GET", "notification:%s" % m.group(1))
        if v is None:
            raise web.HTTPError(404, "no notification for order %s" % m.group(1))
        return 200, json.loads(v)

    def stats(self, m, req):
        return 200, {"sent": int(self.r.cmd("GET", "notifications:sent") or 0)}


def main():
    ap = argparse.ArgumentParser(description="notification service")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--redis", required=True, help="Redis HOST:PORT (the queue)")
    a = ap.parse_args()
    Notification.r = db.Redis(a.redis)
    stop = threading.Event()
    t = threading.Thread(target=worker, args=(db.Redis(a.redis, socket_timeout=None), stop),
                         daemon=True)
    t.start()
    try:
        web.serve(a.port, Notification)
    finally:
        stop.set()


if __name__ == "__main__":
    main()
