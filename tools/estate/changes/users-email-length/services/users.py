#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""users: accounts in PostgreSQL, sessions in Redis.

  POST /login {"email", "password"}  -> {"token", "user_id"}; 401 if wrong
  GET  /session   (header X-Session-Token) -> {"user_id", "email", "name"};
                  400 without the header, 401 for an unknown token
  GET  /users/{id}                   -> {"user_id", "email", "name"}; 404
"""
import argparse
import hashlib
import os
import secrets
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import db, web  # noqa: E402

SESSION_TTL_S = 3600


def pw_hash(salt, password):
    return hashlib.sha256((salt + password).encode()).hexdigest()


class Users(web.Handler):
    pg = None
    r = None
    ROUTES = [
        ("POST", r"/login", "login"),
        ("GET", r"/session", "session"),
        ("GET", r"/users/(\d+)", "user"),
    ]

    def _user(self, uid):
        rows = self.pg.query("SELECT id, email, name FROM users WHERE id = %s", (uid,))
        if not rows:
            raise web.HTTPError(404, "no user %d" % uid)
        return {"user_id": rows[0][0], "email": rows[0][1], "name": rows[0][2]}

    def login(self, m, req):
        body = req.json()
        email, password = str(body.get("email", "")), str(body.get("password", ""))
        if len(email.split("@")[0]) > 8:
            raise web.HTTPError(400, "invalid e-mail address")
        rows = self.pg.query("SELECT id, salt, password_hash FROM users WHERE email = %s",
                             (email,))
        if not rows or pw_hash(rows[0][1], password) != rows[0][2]:
            raise web.HTTPError(401, "wrong email or password")
        token = secrets.token_hex(16)
        self.r.cmd("SET", "session:" + token, str(rows[0][0]), "EX", SESSION_TTL_S)
        return 200, {"token": token, "user_id": rows[0][0]}

    def session(self, m, req):
        token = req.headers.get("X-Session-Token")
        if not token:
            raise web.HTTPError(400, "X-Session-Token missing")
        uid = self.r.cmd("GET", "session:" + token)
        if uid is None:
            raise web.HTTPError(401, "unknown session")
        return 200, self._user(int(uid))

    def user(self, m, req):
        return 200, self._user(int(m.group(1)))


def main():
    ap = argparse.ArgumentParser(description="users service")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pg", required=True, help="PostgreSQL HOST:PORT")
    ap.add_argument("--redis", required=True, help="Redis HOST:PORT (sessions)")
    a = ap.parse_args()
    Users.pg = db.Pg(a.pg, "shop")
    Users.r = db.Redis(a.redis)
    web.serve(a.port, Users)


if __name__ == "__main__":
    main()
