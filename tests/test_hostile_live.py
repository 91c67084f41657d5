"""Hostile clients (issue 15) against the live demo shop: gunicorn (2 sync workers) with the demo's
production settings, over real sockets, each hole sent as the outside probe sent it. The demo is
the session's (trained once, shared with the other demo tests); the mechanisms behind each fix are
tested in-process in tests/test_hostile.py."""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request

import pytest

from bench.image_uploads import blank_png
from tests.demo import GunicornServer, production_environment, shell_json

API = "/api/shopguide/"


@pytest.fixture(scope="module")
def live(demo_env, demo_ready, tmp_path_factory):
    server = GunicornServer(production_environment(demo_env), tmp_path_factory.mktemp("live") / "gunicorn.log")
    yield server
    server.stop()


def send(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """(status, headers, body bytes) of one request; no redirects followed, HTTP errors returned."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response, data


def assert_json_client_error(status: int, response, data: bytes, expected: int) -> dict:
    assert status == expected, data[:300]
    assert response.getheader("Content-Type", "").startswith("application/json"), response.getheader("Content-Type")
    body = json.loads(data)
    assert body, body
    return body


def session_for(env, username: str, *, staff: bool = False) -> dict[str, str]:
    """Cookie and CSRF headers of a logged-in session for ``username`` (created in the demo's
    database without a login, so the failed-login counts of other tests do not matter)."""
    token = secrets.token_hex(16)  # a CSRF secret: 32 characters
    # With the server's settings: the session is signed with its SECRET_KEY.
    session = shell_json(
        production_environment(env),
        f"""
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user, _ = get_user_model().objects.get_or_create(username={username!r}, defaults={{"is_staff": {staff}}})
s = SessionStore()
s[SESSION_KEY] = str(user.pk)
s[BACKEND_SESSION_KEY] = "shopguide.auth.ThrottledModelBackend"
s[HASH_SESSION_KEY] = user.get_session_auth_hash()
s.create()
print(json.dumps(s.session_key))
""",
    )
    return {"Cookie": f"sessionid={session}; csrftoken={token}", "X-CSRFToken": token}


# -- 1. unknown category ------------------------------------------------------------------------------


def test_an_unknown_category_is_an_empty_list_in_every_space_and_in_search(live):
    for space in ("", "&space=image", "&space=text", "&space=behaviour"):
        status, _response, data = send(live, "GET", f"{API}products/1/related/?category=nosuch{space}")
        assert status == 200 and json.loads(data)["results"] == [], (space, data[:300])
    status, _response, data = send(live, "GET", f"{API}search/?q=a&category=nosuch")
    assert status == 200 and json.loads(data)["results"] == [], data[:300]


# -- 5. crafted input ---------------------------------------------------------------------------------


def test_crafted_bodies_are_json_400s(live):
    nested = b"[" * 10_000 + b"]" * 10_000
    body = assert_json_client_error(
        *send(live, "POST", f"{API}events/", nested, {"Content-Type": "application/json"}), 400
    )
    assert "nested" in body["detail"]
    big = b'{"type": "search", "query": "' + b"x" * 3_000_000 + b'"}'
    assert_json_client_error(*send(live, "POST", f"{API}events/", big, {"Content-Type": "application/json"}), 400)
    form = b"type=search&query=" + b"x" * 3_000_000
    assert_json_client_error(
        *send(live, "POST", f"{API}events/", form, {"Content-Type": "application/x-www-form-urlencoded"}), 400
    )
    boundary = "fuzzboundary"
    fields = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nx\r\n' for i in range(1_001))
    multipart = (fields + f"--{boundary}--\r\n").encode()
    for path in ("events/", "search/image/"):
        assert_json_client_error(
            *send(live, "POST", API + path, multipart, {"Content-Type": f"multipart/form-data; boundary={boundary}"}),
            400,
        )
    assert_json_client_error(*send(live, "GET", f"{API}no/such/endpoint/"), 404)


def test_the_demo_search_page_refuses_nul_with_a_400(live):
    status, _, data = send(live, "GET", "/search/?q=%00")
    assert status == 400 and b"NUL" in data


# -- 3. the image bomb ----------------------------------------------------------------------------------


def test_the_image_bomb_is_refused_with_a_json_400(live):
    boundary = "bombboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="bomb.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + blank_png(9400, 9400)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    result = assert_json_client_error(
        *send(live, "POST", f"{API}search/image/", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}),
        400,
    )
    assert "pixels" in result["image"][0]


# -- 6. staff without the permission ------------------------------------------------------------------


def test_staff_without_the_view_customer_permission_reads_no_customer(live, demo_env):
    customer = shell_json(
        demo_env,
        "import json; from shopguide.models import Interaction; "
        "print(json.dumps(Interaction.objects.filter(user__isnull=False).first().user.username))",
    )
    headers = session_for(demo_env, "live-staff", staff=True)
    for path in (f"profiles/{customer}/", f"recommendations/?user={customer}"):
        body = assert_json_client_error(*send(live, "GET", API + path, headers=headers), 403)
        assert "view_customer" in body["detail"]


# -- 2. spoofed X-Forwarded-For ----------------------------------------------------------------------


def test_a_rotating_x_forwarded_for_lifts_no_throttle(live):
    # 60 searches a minute per address, counted in a cache both workers share (the category test
    # above searched once too), however the header rotates.
    codes = [
        send(live, "GET", f"{API}search/?q=shirt", headers={"X-Forwarded-For": f"10.{i // 250}.{i % 250}.1"})[0]
        for i in range(80)
    ]
    assert 55 <= codes.count(200) <= 60 and codes[-20:] == [429] * 20, codes
    events = [
        send(
            live,
            "POST",
            f"{API}events/",
            json.dumps({"type": "search", "query": "x"}).encode(),
            {"Content-Type": "application/json", "X-Forwarded-For": f"10.9.{i % 250}.{i // 250}"},
        )[0]
        for i in range(140)
    ]
    assert events.count(201) <= 120 and events[-20:] == [429] * 20, events


# -- 4. password guessing (last: it locks this address out of logging in for the hour) -------------------


def test_a_failed_login_burst_gets_429_even_for_the_right_password(live):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def login(password: str) -> int:
        page = opener.open(f"{live.url}/accounts/login/", timeout=30).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode(
            {"username": "admin", "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        try:
            return opener.open(urllib.request.Request(f"{live.url}/accounts/login/", data=form), timeout=30).status
        except urllib.error.HTTPError as error:
            return error.code

    codes = [login(f"wrong-{i}") for i in range(32)]
    # 10 failures an hour per username (the form shows its error), then refused for the hour.
    assert codes == [200] * 10 + [429] * 22, codes
    assert login("shopguide-demo") == 429  # the right password, refused unchecked
