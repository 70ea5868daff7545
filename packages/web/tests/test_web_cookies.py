"""squall.web: cookies, signed cookies, the current user and XSRF protection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.cookies
import re
from typing import Any

import pytest
from squall import web
from squall.testing import ExpectLog

SECRET = "0123456789abcdef"


def set_cookies(response: Any) -> dict[str, str]:
    """name -> full Set-Cookie line."""
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("Set-Cookie")}


def cookie_value(response: Any, name: str) -> str:
    jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    jar.load(set_cookies(response)[name])
    return jar[name].value


def cookie_header(response: Any, name: str) -> str:
    line = set_cookies(response)[name]
    return line.split(";", 1)[0]


# -- plain cookies ------------------------------------------------------------------


class CookieHandler(web.RequestHandler):
    def get(self) -> None:
        what = self.get_argument("what", "")
        if what == "read":
            self.write(
                f"{self.get_cookie('a')}|{self.get_cookie('missing', 'dflt')}|{sorted(self.cookies)}"
            )
        elif what == "set":
            self.set_cookie("plain", "v1")
            self.set_cookie(
                "full",
                "v2",
                domain="example.com",
                path="/app",
                expires_days=1,
                max_age=60,
                httponly=True,
                secure=True,
                samesite="Lax",
            )
            self.set_cookie("quoted", "a;b,c")
            self.set_cookie("plain", "v1-replaced")
        elif what == "clear":
            self.clear_cookie("gone", path="/p", domain="d.example")
        elif what == "clear-all":
            self.clear_all_cookies()
        elif what == "extra-attr":
            self.set_cookie("x", "1", comment="hello")
        elif what == "bad":
            kind = self.get_argument("kind")
            if kind == "domain":
                self.set_cookie("c", "v", domain="example.com; HttpOnly")
            elif kind == "path":
                self.set_cookie("c", "v", path="/\r\nSet-Cookie: evil=1")
            elif kind == "samesite":
                self.set_cookie("c", "v", samesite="Lax; Domain=evil.example")
            elif kind == "expires":
                self.set_cookie("c", "v", expires="Wed; Domain=evil")
            elif kind == "name":
                self.set_cookie("bad name", "v")
            elif kind == "value":
                self.set_cookie("c", "has space")
            elif kind == "unknown":
                self.set_cookie("c", "v", flavour="chocolate")
            elif kind == "max_age":
                self.set_cookie("c", "v", max_age="60; Domain=x")  # type: ignore[arg-type]


async def test_read_cookies(fake_client: Any) -> None:
    app = web.Application([(r"/", CookieHandler)])
    response = await fake_client(app).fetch("/?what=read", headers={"Cookie": 'a=1; b="two"'})
    assert response.text == "1|dflt|['a', 'b']"


async def test_set_cookie_attributes(fake_client: Any) -> None:
    response = await fake_client(web.Application([(r"/", CookieHandler)])).fetch("/?what=set")
    cookies = set_cookies(response)
    assert cookies["plain"] == "plain=v1-replaced; Path=/"
    full = cookies["full"]
    for part in (
        "full=v2",
        "Domain=example.com",
        "Path=/app",
        "Max-Age=60",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
    ):
        assert part in full.split("; "), part
    assert re.search(r"expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", full)
    assert cookies["quoted"].startswith('quoted="a\\073b\\054c"')
    assert cookie_value(response, "quoted") == "a;b,c"


async def test_clear_cookies(fake_client: Any) -> None:
    client = fake_client(web.Application([(r"/", CookieHandler)]))
    response = await client.fetch("/?what=clear")
    line = set_cookies(response)["gone"]
    assert line.startswith('gone=""; ')
    assert "Max-Age=0" in line and "Path=/p" in line and "Domain=d.example" in line
    assert "expires=" in line
    response = await client.fetch("/?what=clear-all", headers={"Cookie": "x=1; y=2"})
    assert sorted(set_cookies(response)) == ["x", "y"]


async def test_extra_morsel_attribute(fake_client: Any) -> None:
    response = await fake_client(web.Application([(r"/", CookieHandler)])).fetch(
        "/?what=extra-attr"
    )
    assert "Comment=hello" in set_cookies(response)["x"]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("domain", "unsafe 'domain' attribute for cookie 'c'"),
        ("path", "unsafe 'path' attribute for cookie 'c'"),
        ("samesite", "unsafe 'samesite' attribute for cookie 'c'"),
        ("expires", "unsafe 'expires' attribute for cookie 'c'"),
        ("name", "invalid cookie name 'bad name'"),
        ("value", "invalid value for cookie 'c'"),
        ("unknown", "unknown attribute 'flavour' for cookie 'c'"),
        ("max_age", "max_age of cookie 'c' must be an int"),
    ],
)
async def test_cookie_injection_refused(fake_client: Any, kind: str, message: str) -> None:
    app = web.Application([(r"/", CookieHandler)])
    with ExpectLog("squall.application", "Uncaught exception") as log:
        response = await fake_client(app).fetch(f"/?what=bad&kind={kind}")
    assert response.code == 500
    error = log.records[0].exc_info[1]  # type: ignore[index]
    assert isinstance(error, web.UnsafeCookieError)
    assert isinstance(error, ValueError)
    assert message in str(error)
    assert "Set-Cookie" not in response.headers


# -- signed values --------------------------------------------------------------------


def test_signed_value_v2_format() -> None:
    """The documented format, built by hand, is what create_signed_value writes."""
    signed = web.create_signed_value(SECRET, "user", "alice", clock=lambda: 1_700_000_000)
    payload = base64.b64encode(b"alice")
    to_sign = b"2|1:0|10:1700000000|4:user|%d:%s|" % (len(payload), payload)
    signature = hmac.new(SECRET.encode(), to_sign, hashlib.sha256).hexdigest().encode()
    assert signed == to_sign + signature
    assert web.decode_signed_value(SECRET, "user", signed, clock=lambda: 1_700_000_100) == b"alice"


def test_signed_value_v1_format() -> None:
    signed = web.create_signed_value(SECRET, "user", "bob", version=1, clock=lambda: 1_700_000_000)
    payload = base64.b64encode(b"bob")
    signature = hmac.new(SECRET.encode(), b"user" + payload + b"1700000000", hashlib.sha1)
    assert signed == payload + b"|1700000000|" + signature.hexdigest().encode()
    assert web.decode_signed_value(SECRET, "user", signed, clock=lambda: 1_700_000_000) == b"bob"
    assert (
        web.decode_signed_value(SECRET, "user", signed, clock=lambda: 1_700_000_000, min_version=2)
        is None
    )


@pytest.mark.parametrize("version", [1, 2])
def test_signed_value_checks(version: int) -> None:
    now = 1_700_000_000.0
    signed = web.create_signed_value(SECRET, "n", "value", version=version, clock=lambda: now)
    decode = web.decode_signed_value
    assert decode(SECRET, "n", signed, clock=lambda: now) == b"value"
    assert decode(SECRET, "n", signed.decode(), clock=lambda: now) == b"value"
    assert decode("other secret", "n", signed, clock=lambda: now) is None
    assert decode(SECRET, "other name", signed, clock=lambda: now) is None
    # Too old, and from too far in the future.
    assert decode(SECRET, "n", signed, clock=lambda: now + 32 * 86400) is None
    assert decode(SECRET, "n", signed, max_age_days=1, clock=lambda: now + 2 * 86400) is None
    assert decode(SECRET, "n", signed, clock=lambda: now - 32 * 86400) is None
    # Tampering anywhere breaks it.
    for i in range(len(signed)):
        tampered = signed[:i] + bytes([signed[i] ^ 1]) + signed[i + 1 :]
        assert decode(SECRET, "n", tampered, clock=lambda: now) is None
    for garbage in (None, "", "|||", b"2|", b"2|x:y|", "\u2603", b"2|1:0|10:abcdefghij|1:n|0:|"):
        assert decode(SECRET, "n", garbage, clock=lambda: now) is None


def test_signed_value_key_versions() -> None:
    secrets = {0: "old secret", 1: "new secret"}
    signed = web.create_signed_value(secrets, "n", "v", key_version=1)
    assert web.get_signature_key_version(signed) == 1
    assert web.decode_signed_value(secrets, "n", signed) == b"v"
    assert web.decode_signed_value({0: "old secret"}, "n", signed) is None
    assert web.decode_signed_value("new secret", "n", signed) == b"v"
    assert web.get_signature_key_version(web.create_signed_value("s", "n", "v", version=1)) is None
    assert web.get_signature_key_version("garbage") is None
    with pytest.raises(web.UsageError, match="key_version"):
        web.create_signed_value(secrets, "n", "v")
    with pytest.raises(web.UsageError, match="version 1"):
        web.create_signed_value(secrets, "n", "v", version=1, key_version=1)
    with pytest.raises(web.UsageError, match="unsupported signed value version"):
        web.create_signed_value("s", "n", "v", version=3)
    with pytest.raises(web.UsageError, match="min_version"):
        web.decode_signed_value("s", "n", "v", min_version=3)


class SecureHandler(web.RequestHandler):
    def get_current_user(self) -> Any:
        value = self.get_secure_cookie("user")
        return value.decode() if value else None

    def get(self) -> None:
        action = self.get_argument("action", "whoami")
        if action == "login":
            self.set_secure_cookie("user", self.get_argument("name"))
            self.write("logged in")
        elif action == "version":
            self.write(str(self.get_secure_cookie_key_version("user")))
        else:
            self.write(f"user={self.current_user}")


async def test_secure_cookie_roundtrip(fake_client: Any) -> None:
    client = fake_client(web.Application([(r"/", SecureHandler)], cookie_secret=SECRET))
    response = await client.fetch("/?action=login&name=carol")
    cookie = cookie_header(response, "user")
    assert "expires=" in set_cookies(response)["user"]
    response = await client.fetch("/", headers={"Cookie": cookie})
    assert response.text == "user=carol"
    assert (await client.fetch("/")).text == "user=None"
    carol = base64.b64encode(b"carol").decode()
    mallory = base64.b64encode(b"mallory").decode()
    assert f"{len(carol)}:{carol}" in cookie
    forged = cookie.replace(f"{len(carol)}:{carol}", f"{len(mallory)}:{mallory}")
    assert (await client.fetch("/", headers={"Cookie": forged})).text == "user=None"


async def test_secure_cookie_key_rotation(fake_client: Any) -> None:
    secrets = {1: "first secret", 2: "second secret"}
    old_app = web.Application([(r"/", SecureHandler)], cookie_secret=secrets, key_version=1)
    new_app = web.Application([(r"/", SecureHandler)], cookie_secret=secrets, key_version=2)
    response = await fake_client(old_app).fetch("/?action=login&name=dave")
    cookie = cookie_header(response, "user")
    assert (await fake_client(new_app).fetch("/", headers={"Cookie": cookie})).text == "user=dave"
    response = await fake_client(new_app).fetch("/?action=version", headers={"Cookie": cookie})
    assert response.text == "1"
    no_key_version = web.Application([(r"/", SecureHandler)], cookie_secret=secrets)
    with ExpectLog("squall.application", "Uncaught exception"):
        assert (await fake_client(no_key_version).fetch("/?action=login&name=x")).code == 500


async def test_secure_cookie_needs_secret(fake_client: Any) -> None:
    with ExpectLog("squall.application", "Uncaught exception") as log:
        response = await fake_client(web.Application([(r"/", SecureHandler)])).fetch("/")
    assert response.code == 500
    assert "cookie_secret" in str(log.records[0].exc_info[1])  # type: ignore[index]


# -- authenticated ---------------------------------------------------------------------


class Private(web.RequestHandler):
    def get_current_user(self) -> Any:
        return self.get_cookie("who")

    @web.authenticated
    def get(self) -> None:
        self.write(f"secret for {self.current_user}")

    @web.authenticated
    def post(self) -> None:
        self.write("posted")


@pytest.mark.parametrize(
    ("login_url", "location"),
    [
        ("/login", "/login?next=%2Fprivate%3Fa%3D1"),
        ("/login?x=1", "/login?x=1"),
        (
            "https://auth.example/login",
            "https://auth.example/login?next=http%3A%2F%2Fexample.com%2Fprivate%3Fa%3D1",
        ),
    ],
)
async def test_authenticated(fake_client: Any, login_url: str, location: str) -> None:
    client = fake_client(web.Application([(r"/private", Private)], login_url=login_url))
    response = await client.fetch("/private?a=1")
    assert (response.code, response.headers["Location"]) == (302, location)
    assert (await client.fetch("/private", method="POST", body=b"")).code == 403
    response = await client.fetch("/private", headers={"Cookie": "who=erin"})
    assert response.text == "secret for erin"


async def test_authenticated_needs_login_url(fake_client: Any) -> None:
    with ExpectLog("squall.application", "Uncaught exception") as log:
        response = await fake_client(web.Application([(r"/private", Private)])).fetch("/private")
    assert response.code == 500
    assert "login_url" in str(log.records[0].exc_info[1])  # type: ignore[index]


# -- XSRF -----------------------------------------------------------------------------


class Form(web.RequestHandler):
    def get(self) -> None:
        self.write(self.xsrf_form_html() + "\n" + self.xsrf_token.decode())

    def post(self) -> None:
        self.write("accepted")

    put = delete = patch = post


class Exempt(Form):
    def check_xsrf_cookie(self) -> None:
        pass


def xsrf_app(**settings: Any) -> web.Application:
    return web.Application([(r"/", Form), (r"/exempt", Exempt)], xsrf_cookies=True, **settings)


async def get_token(client: Any) -> tuple[str, str]:
    response = await client.fetch("/")
    token = response.text.split("\n", 1)[1]
    return cookie_header(response, "_xsrf"), token


async def test_xsrf_form_html_sets_cookie(fake_client: Any) -> None:
    response = await fake_client(xsrf_app()).fetch("/")
    html, token = response.text.split("\n", 1)
    assert html == f'<input type="hidden" name="_xsrf" value="{token}"/>'
    assert re.fullmatch(r"2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d+", token)
    assert cookie_value(response, "_xsrf") == token


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_xsrf_required(fake_client: Any, method: str) -> None:
    client = fake_client(xsrf_app())
    cookie, token = await get_token(client)
    with ExpectLog("squall.general", r"403 .*'_xsrf' argument missing"):
        assert (await client.fetch("/", method=method, body=b"")).code == 403
    response = await client.fetch(
        "/",
        method=method,
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        body=f"_xsrf={token}",
    )
    assert (response.code, response.text) == (200, "accepted")
    for header in ("X-XSRFToken", "X-CSRFToken"):
        response = await client.fetch(
            "/", method=method, headers={"Cookie": cookie, header: token}, body=b""
        )
        assert response.code == 200, header


async def test_xsrf_tokens_are_masked_per_request(fake_client: Any) -> None:
    client = fake_client(xsrf_app())
    cookie, token = await get_token(client)
    response = await client.fetch("/", headers={"Cookie": cookie})
    second = response.text.split("\n", 1)[1]
    assert second != token  # a new mask ...
    assert "Set-Cookie" not in response.headers  # ... the same cookie
    # Any masking of the cookie's token is accepted.
    response = await client.fetch(
        "/", method="POST", headers={"Cookie": cookie, "X-XSRFToken": second}, body=b""
    )
    assert response.code == 200


@pytest.mark.parametrize(
    ("submitted", "log"),
    [
        ("2|00000000|" + "00" * 16 + "|1", "XSRF cookie does not match"),
        ("garbage|with|pipes", "XSRF cookie does not match"),
        ("2|zz|zz|1", "'_xsrf' argument has invalid format"),
    ],
)
async def test_xsrf_mismatch(fake_client: Any, submitted: str, log: str) -> None:
    client = fake_client(xsrf_app())
    cookie, _ = await get_token(client)
    with ExpectLog("squall.general", f"403 .*{re.escape(log)}"):
        response = await client.fetch(
            "/", method="POST", headers={"Cookie": cookie, "X-XSRFToken": submitted}, body=b""
        )
    assert response.code == 403


async def test_xsrf_without_cookie_fails(fake_client: Any) -> None:
    client = fake_client(xsrf_app())
    _, token = await get_token(client)
    with ExpectLog("squall.general", "403 .*does not match"):
        response = await client.fetch("/", method="POST", headers={"X-XSRFToken": token}, body=b"")
    assert response.code == 403


async def test_xsrf_version_1_and_settings(fake_client: Any) -> None:
    client = fake_client(
        xsrf_app(
            xsrf_cookie_version=1,
            xsrf_cookie_name="csrf",
            xsrf_cookie_kwargs={"samesite": "Strict"},
        )
    )
    response = await client.fetch("/")
    token = response.text.split("\n", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert "SameSite=Strict" in set_cookies(response)["csrf"]
    cookie = cookie_header(response, "csrf")
    response = await client.fetch(
        "/", method="POST", headers={"Cookie": cookie, "X-XSRFToken": token}, body=b""
    )
    assert response.code == 200
    # A v1 cookie also accepts a v2-masked form of its token (and the other way).
    v2_client = fake_client(xsrf_app(xsrf_cookie_name="csrf"))
    response = await v2_client.fetch("/", headers={"Cookie": cookie})
    masked = response.text.split("\n", 1)[1]
    assert masked.startswith("2|")
    response = await v2_client.fetch(
        "/", method="POST", headers={"Cookie": cookie, "X-XSRFToken": masked}, body=b""
    )
    assert response.code == 200


async def test_xsrf_exemptions(fake_client: Any) -> None:
    client = fake_client(xsrf_app())
    assert (await client.fetch("/exempt", method="POST", body=b"")).code == 200
    assert (
        await client.fetch("/", method="OPTIONS")
    ).code == 405  # checked only for unsafe methods


async def test_bad_xsrf_cookie_version_setting(fake_client: Any) -> None:
    with ExpectLog("squall.application", "Uncaught exception") as log:
        response = await fake_client(xsrf_app(xsrf_cookie_version=9)).fetch("/")
    assert response.code == 500
    assert "xsrf_cookie_version" in str(log.records[0].exc_info[1])  # type: ignore[index]
