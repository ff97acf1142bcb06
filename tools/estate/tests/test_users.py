# SPDX-License-Identifier: BSD-2-Clause
"""users (PostgreSQL accounts, Redis sessions)."""
from conftest import api, http, login


def test_login():
    r = api("POST", "/api/login", {"email": "user2@test.example", "password": "pw-2"})
    assert r.status == 200
    assert r.body["user_id"] == 2 and len(r.body["token"]) == 32


def test_login_wrong_password_is_401():
    r = api("POST", "/api/login", {"email": "user2@test.example", "password": "nope"})
    assert r.status == 401


def test_login_unknown_email_is_401():
    r = api("POST", "/api/login", {"email": "nobody@test.example", "password": "pw-1"})
    assert r.status == 401


def test_me():
    token, uid = login(5)
    r = api("GET", "/api/me", token=token)
    assert r.status == 200
    assert r.body == {"user_id": 5, "email": "user5@test.example", "name": "Test User 5"}


def test_me_without_login_is_401():
    assert api("GET", "/api/me").status == 401
    assert api("GET", "/api/me", token="0" * 32).status == 401


def test_session_header_is_required():
    r = http("users", "GET", "/session")
    assert r.status == 400 and "X-Session-Token" in r.body["error"]


def test_user_directly():
    r = http("users", "GET", "/users/3")
    assert r.status == 200 and r.body["email"] == "user3@test.example"
    assert http("users", "GET", "/users/999").status == 404
