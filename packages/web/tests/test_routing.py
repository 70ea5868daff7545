"""squall.routing: matchers, reversing, routers, and routing inside Application."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from squall import routing, web
from squall.httputil import (
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
    ResponseStartLine,
)
from squall.routing import (
    AnyMatches,
    DefaultHostMatches,
    HostMatches,
    PathMatches,
    ReversibleRuleRouter,
    Rule,
    RuleRouter,
    URLSpec,
    url,
)
from squall.testing import ExpectLog


def request(path: str, host: str = "example.com", **headers: str) -> HTTPServerRequest:
    return HTTPServerRequest("GET", path, headers=HTTPHeaders({"Host": host, **headers}))


# -- matchers ---------------------------------------------------------------------


def test_public_api() -> None:
    assert sorted(routing.__all__) == [
        "AnyMatches",
        "DefaultHostMatches",
        "HostMatches",
        "InvalidRuleError",
        "IrreversibleRouteError",
        "Matcher",
        "PathMatches",
        "ReversibleRouter",
        "ReversibleRuleRouter",
        "RouteNotFoundError",
        "Router",
        "RoutingError",
        "Rule",
        "RuleRouter",
        "URLSpec",
        "url",
    ]
    for name in routing.__all__:
        assert getattr(routing, name) is not None
    assert url is URLSpec
    assert PathMatches.__module__ == "squall.routing"


def test_path_matches_literal_and_anchoring() -> None:
    matcher = PathMatches("/about")
    assert matcher.regex.pattern == "/about$"
    assert matcher.match(request("/about")) == {}
    assert matcher.match(request("/about/more")) is None
    assert matcher.match(request("/abou")) is None
    assert matcher._literal == "/about"
    assert PathMatches(r"/a\.b")._literal == "/a.b"
    assert PathMatches(r"/a.b")._literal is None
    # A compiled pattern without $ is a prefix match: not a literal.
    assert PathMatches(re.compile("/prefix"))._literal is None
    assert PathMatches(re.compile("/x$", re.IGNORECASE))._literal is None


def test_path_matches_groups() -> None:
    positional = PathMatches(r"/user/(\d+)/(\w+)?")
    assert positional.match(request("/user/42/name")) == {
        "path_args": [b"42", b"name"],
        "path_kwargs": {},
    }
    assert positional.match(request("/user/42/")) == {"path_args": [b"42", None], "path_kwargs": {}}
    named = PathMatches(r"/(?P<a>[^/]+)/(?P<b>.*)")
    assert named.match(request("/x%20y/caf%C3%A9%2F")) == {
        "path_args": [],
        "path_kwargs": {"a": b"x y", "b": "café/".encode()},
    }
    # "+" is not a space in a path.
    assert positional.match(request("/user/1/a+b")) is None
    assert PathMatches(r"/(.*)").match(request("/a+b")) == {
        "path_args": [b"a+b"],
        "path_kwargs": {},
    }


@pytest.mark.parametrize(
    ("pattern", "args", "expected"),
    [
        ("/", (), "/"),
        (r"/user/(\d+)", (42,), "/user/42"),
        (r"/user/(\d+)$", ("7",), "/user/7"),
        (r"^/a/([^/]+)/b/(.*)", ("x y", "c/d"), "/a/x%20y/b/c/d"),
        (r"/(?P<slug>[a-z]+)/edit", ("post",), "/post/edit"),
        (r"/file\.txt/(.+)", ("ü",), "/file.txt/%C3%BC"),
        (r"/class/([)(]+)", ("a",), "/class/a"),
        (r"/percent%/(\d+)", (5,), "/percent%/5"),
        (r"/b/(\w+)", (b"raw",), "/b/raw"),
    ],
)
def test_reverse(pattern: str, args: tuple[Any, ...], expected: str) -> None:
    assert PathMatches(pattern).reverse(*args) == expected


@pytest.mark.parametrize(
    "pattern",
    [r"/a/?", r"/a|/b", r"/(?:x)(\d+)", r"/(a(b))", r"/\d+", r"/x*", r"/(?i:a)", r"/a{2}"],
)
def test_irreversible(pattern: str) -> None:
    matcher = PathMatches(pattern)
    with pytest.raises(routing.IrreversibleRouteError, match="cannot reverse"):
        matcher.reverse()
    assert matcher._path is None


def test_reverse_argument_count() -> None:
    matcher = PathMatches(r"/a/(\d+)/(\d+)")
    with pytest.raises(routing.IrreversibleRouteError, match="needs 2 argument"):
        matcher.reverse(1)
    with pytest.raises(ValueError):
        matcher.reverse(1, 2, 3)
    assert matcher._path == "/a/%s/%s"


def test_host_matchers() -> None:
    matcher = HostMatches(r"(www\.)?example\.com")
    assert matcher.match(request("/", host="www.example.com:8080")) == {}
    assert matcher.match(request("/", host="EXAMPLE.com")) == {}
    assert matcher.match(request("/", host="example.com.evil")) is None
    assert AnyMatches().match(request("/anything")) == {}

    class App:
        default_host = "main.example"

    default = DefaultHostMatches(App(), re.compile(r"main\.example$"))
    assert default.match(request("/", host="other")) == {}
    assert default.match(request("/", host="other", **{"X-Real-Ip": "1.2.3.4"})) is None


def test_rule_and_urlspec() -> None:
    spec = URLSpec(r"/u/(\d+)", "squall.web.RequestHandler", {"a": 1}, name="u")
    assert spec.handler_class is web.RequestHandler
    assert spec.target is web.RequestHandler
    assert spec.kwargs == {"a": 1}
    assert spec.regex.pattern == r"/u/(\d+)$"
    assert spec.reverse(5) == "/u/5"
    assert spec._path == "/u/%s"
    assert "URLSpec('/u/(\\\\d+)$'" in repr(spec)
    spec.kwargs = None
    assert spec.target_kwargs == {}
    rule = Rule(AnyMatches(), "squall.web.ErrorHandler")
    assert rule.target is web.ErrorHandler
    assert rule.reverse() is None


def test_invalid_rules() -> None:
    with pytest.raises(routing.InvalidRuleError, match="2 to 4 items"):
        RuleRouter([("/only-pattern",)])
    with pytest.raises(routing.InvalidRuleError, match="expected a Rule"):
        RuleRouter(["/not-a-tuple"])
    with pytest.raises(re.error):
        RuleRouter([("/(unclosed", lambda r: None)])


# -- the plan: exact paths first, same answers as trying every rule -------------------


def naive_first(rules: list[Rule], path: str) -> int | None:
    req = request(path)
    for index, rule in enumerate(rules):
        if rule.matcher.match(req) is not None:
            return index
    return None


def test_earlier_pattern_beats_later_literal() -> None:
    router = RuleRouter(
        [
            (r"/items/(.*)", 1),
            (r"/items/special", 2),
            (r"/items/special", 3),
            (r"/other", 4),
        ]
    )
    plan = router._get_plan()
    assert plan.exact is not None
    # The literal is answered by the earlier pattern rule, matched again.
    assert plan.exact["/items/special"] == (0, router.rules[0].matcher)
    assert plan.exact["/other"] == (3, None)
    assert plan.first_match(request("/items/special"), 0) == (0, None)
    assert plan.first_match(request("/items/x"), 0) == (0, {"path_args": [b"x"], "path_kwargs": {}})
    index, match = plan.match_path("/items/special")
    assert index == 0 and match is not None and match.groups() == ("special",)
    assert plan.match_path("/other") == (3, None)
    assert plan.match_path("/nowhere") is None


def test_plan_agrees_with_linear_scan() -> None:
    rng = random.Random(5)
    pieces = ["a", "b", "ab", "a.b", "x"]
    patterns = [
        "/",
        "/a",
        "/b",
        r"/a\.b",
        "/a.b",
        r"/(\w+)",
        "/a/(.*)",
        r"/b/(\d+)",
        "/(?P<n>a|b)",
        "/a/b",
        "/x/?",
        "/.*",
    ]
    paths = ["/"] + [
        "/" + "/".join(rng.choice(pieces) for _ in range(rng.randint(1, 3))) for _ in range(60)
    ]
    paths += ["/a\n", "/b/12", "/x/", "/x"]
    for _ in range(40):
        chosen = rng.sample(patterns, rng.randint(1, len(patterns)))
        router = RuleRouter([(pattern, i) for i, pattern in enumerate(chosen)])
        plan = router._get_plan()
        for path in paths:
            found = plan.first_match(request(path), 0)
            index = None if found is None else found[0]
            assert index == naive_first(router.rules, path), (chosen, path)
            if "\n" in path:
                continue  # (match_path is not asked about these)
            direct = plan.match_path(path)
            assert (None if direct is None else direct[0]) == index, (chosen, path)
            if direct is not None:
                # The match, when given, is the one the rule's matcher makes.
                matcher = router.rules[direct[0]].matcher
                expected = matcher.match(request(path))
                match = direct[1]
                assert match is not None or expected == {}, (chosen, path)
                if match is not None:
                    args, kwargs, decoded = matcher._path_params(match, False)
                    assert (args, kwargs) == (
                        expected["path_args"] if expected else [],
                        expected["path_kwargs"] if expected else {},
                    ), (chosen, path)
                    assert decoded == (not args and not kwargs), (chosen, path)


@pytest.mark.parametrize(
    ("pattern", "path", "text", "expected"),
    [
        # Raw bytes for a handler with its own decode_argument.
        (r"/u/(\w+)/(\d+)", "/u/ab/12", False, ([b"ab", b"12"], {}, False)),
        # Text for the default one, nothing left to decode ...
        (r"/u/(\w+)/(\d+)", "/u/ab/12", True, (["ab", "12"], {}, True)),
        (r"/n/(?P<a>\w+)", "/n/ab", True, ([], {"a": "ab"}, True)),
        # ... unless a group is escaped (it comes as bytes) or absent.
        (r"/u/([^/]+)/(\d+)", "/u/a%20b/1", True, ([b"a b", "1"], {}, False)),
        (r"/u/(\w+)/(\d+)?", "/u/ab/", True, (["ab", None], {}, False)),
        (r"/n/(?P<a>[^/]+)", "/n/a%2Fb", True, ([], {"a": b"a/b"}, False)),
        (r"/n/(?P<a>[^/]+)", "/n/a%2Fb", False, ([], {"a": b"a/b"}, False)),
        (r"/plain", "/plain", True, ([], {}, True)),
    ],
)
def test_path_params_for_the_dispatcher(
    pattern: str, path: str, text: bool, expected: tuple[Any, ...]
) -> None:
    matcher = PathMatches(pattern)
    match = matcher.regex.match(path)
    assert match is not None
    assert matcher._path_params(match, text) == expected


def test_plan_notices_direct_changes_to_rules() -> None:
    router = RuleRouter([("/a", 1)])
    assert router._get_plan().first_match(request("/b"), 0) is None
    router.rules.insert(0, Rule(PathMatches("/b"), 2))
    assert router._get_plan().first_match(request("/b"), 0) == (0, {})


def test_plan_without_path_rules_scans_in_order() -> None:
    router = RuleRouter([Rule(HostMatches("api"), 1), ("/a", 2)])
    plan = router._get_plan()
    assert plan.exact is None
    assert plan.first_match(request("/a", host="api"), 0) == (0, {})
    assert plan.first_match(request("/a"), 0) == (1, {})


# -- routers as server delegates --------------------------------------------------------


class Echo(HTTPMessageDelegate):
    def __init__(self, connection: Any, tag: str) -> None:
        self.connection = connection
        self.tag = tag

    def finish(self) -> None:
        body = self.tag.encode()
        self.connection.write_headers(
            ResponseStartLine("HTTP/1.1", 200, "OK"),
            HTTPHeaders({"Content-Length": str(len(body))}),
            body,
        )
        self.connection.finish()


class EchoDelegate(HTTPServerConnectionDelegate):
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
        return Echo(request_conn, self.tag)


def callable_target(request: HTTPServerRequest, tag: str = "callable") -> None:
    body = f"{tag}:{request.body.decode()}".encode()
    assert request.connection is not None
    request.connection.write_headers(
        ResponseStartLine("HTTP/1.1", 200, "OK"),
        HTTPHeaders({"Content-Length": str(len(body))}),
        body,
    )
    request.connection.finish()


async def async_callable_target(request: HTTPServerRequest) -> None:
    callable_target(request, "async")


class Hello(web.RequestHandler):
    def get(self, *args: str) -> None:
        self.write(f"hello {self.request.path}")

    post = get


class Nothing(ReversibleRuleRouter):
    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> HTTPMessageDelegate | None:
        return None


def build_router() -> ReversibleRuleRouter:
    web_app = web.Application([url(r"/app/(\w+)", Hello, name="inner")])
    return ReversibleRuleRouter(
        [
            Rule(PathMatches("/skip"), Nothing()),
            Rule(PathMatches("/skip"), EchoDelegate("after skip")),
            Rule(PathMatches("/delegate"), EchoDelegate("delegate")),
            Rule(PathMatches("/callable"), callable_target, {"tag": "with kwargs"}),
            Rule(PathMatches("/async"), async_callable_target),
            Rule(PathMatches("/app/.*"), web_app),
            Rule(
                HostMatches("api"), ReversibleRuleRouter([Rule(AnyMatches(), EchoDelegate("api"))])
            ),
            Rule(PathMatches("/named"), EchoDelegate("named"), name="named"),
        ]
    )


@pytest.mark.parametrize(
    ("path", "host", "code", "body"),
    [
        ("/skip", "x", 200, b"after skip"),
        ("/delegate", "x", 200, b"delegate"),
        ("/callable", "x", 200, b"with kwargs:payload"),
        ("/async", "x", 200, b"async:payload"),
        ("/app/abc", "x", 200, b"hello /app/abc"),
        ("/anything", "api", 200, b"api"),
        ("/nowhere", "x", 404, b""),
    ],
)
async def test_rule_router_targets(
    fake_client: Any, path: str, host: str, code: int, body: bytes
) -> None:
    response = await fake_client(build_router()).fetch(
        path, method="POST", headers={"Host": host}, body=b"payload"
    )
    assert response.code == code
    assert response.body == body


def test_reverse_url_nested() -> None:
    router = build_router()
    assert router.reverse_url("named") == "/named"
    assert router.reverse_url("inner", "x") == "/app/x"  # found in the nested Application
    assert router.reverse_url("nowhere") is None  # the Application's KeyError is not fatal
    nested = ReversibleRuleRouter(
        [Rule(AnyMatches(), ReversibleRuleRouter([url("/deep", 1, name="deep")]))]
    )
    assert nested.reverse_url("deep") == "/deep"
    assert nested.reverse_url("missing") is None


def test_duplicate_names_warn() -> None:
    with ExpectLog("squall.application", "Several routes are named 'dup'"):
        router = ReversibleRuleRouter([url("/a", 1, name="dup"), url("/b", 2, name="dup")])
    assert router.reverse_url("dup") == "/b"


async def test_rule_router_over_sockets(serve: Any, raw_client: Any) -> None:
    port = serve(build_router())
    client = await raw_client(port)
    response = await client.request("POST", "/callable", body="over the wire")
    assert (response.code, response.body) == (200, b"with kwargs:over the wire")
    response = await client.request("GET", "/app/sock")
    assert (response.code, response.body) == (200, b"hello /app/sock")
    response = await client.request("GET", "/missing")
    assert response.code == 404


# -- routing in an Application --------------------------------------------------------


class Named(web.RequestHandler):
    def initialize(self, label: str = "plain") -> None:
        self.label = label

    def get(self, *args: str, **kwargs: str) -> None:
        self.write(f"{self.label}:{list(args)}:{sorted(kwargs.items())}")


def test_application_reverse_url() -> None:
    app = web.Application(
        [
            url(r"/", Named, name="home"),
            url(r"/user/(\d+)", Named, name="user"),
            url(r"/post/(?P<slug>[\w-]+)", Named, name="post"),
            (r"/tuple/(\w+)", Named, {}, "tuple"),
        ]
    )
    assert app.reverse_url("home") == "/"
    assert app.reverse_url("user", 42) == "/user/42"
    assert app.reverse_url("post", "a b") == "/post/a%20b"
    assert app.reverse_url("tuple", "t") == "/tuple/t"
    with pytest.raises(routing.RouteNotFoundError) as info:
        app.reverse_url("nope")
    assert isinstance(info.value, KeyError)
    assert "'nope' not found" in str(info.value)


async def test_handler_reverse_url(fake_client: Any) -> None:
    class Links(web.RequestHandler):
        def get(self) -> None:
            self.write(self.reverse_url("user", "7"))

    app = web.Application([(r"/", Links), url(r"/user/(\d+)", Named, name="user")])
    assert (await fake_client(app).fetch("/")).text == "/user/7"


async def test_application_hosts(fake_client: Any) -> None:
    app = web.Application([(r"/", Named, {"label": "any"})], default_host="main.example")
    app.add_handlers(r"api\.example", [(r"/", Named, {"label": "api"})])
    app.add_handlers(r"main\.example", [(r"/only-main", Named, {"label": "main"})])
    client = fake_client(app)
    assert (await client.fetch("/", headers={"Host": "api.example"})).text.startswith("api:")
    assert (await client.fetch("/", headers={"Host": "other.example"})).text.startswith("any:")
    # Unknown hosts use the default host's rules ...
    response = await client.fetch("/only-main", headers={"Host": "other.example"})
    assert response.text.startswith("main:")
    # ... unless a proxy forwarded the request.
    response = await client.fetch(
        "/only-main", headers={"Host": "other.example", "X-Real-Ip": "10.0.0.1"}
    )
    assert response.code == 404


async def test_application_nested_and_other_targets(fake_client: Any) -> None:
    inner = web.Application([(r"/inner/(\w+)", Named, {"label": "inner app"})])
    app = web.Application(
        [
            (r"/list/.*", [(r"/list/(\w+)", Named, {"label": "nested list"})]),
            (r"/router/.*", RuleRouter([(r"/router/x", EchoDelegate("router"))])),
            (r"/inner/.*", inner),
            (r"/callable", callable_target),
            (r"/delegate", EchoDelegate("delegate")),
            (r"/(?P<name>\w+)", Named, {"label": "named"}),
        ]
    )
    client = fake_client(app)
    for _ in range(2):  # (the second round uses what the first cached per rule)
        assert (await client.fetch("/list/a")).text == "nested list:['a']:[]"
        assert (await client.fetch("/router/x")).text == "router"
        assert (await client.fetch("/inner/b")).text == "inner app:['b']:[]"
        assert (await client.fetch("/callable", method="POST", body="q")).text == "callable:q"
        assert (await client.fetch("/delegate")).text == "delegate"
        assert (await client.fetch("/zed")).text == "named:[]:[('name', 'zed')]"
        assert (await client.fetch("/list/a/b")).code == 404
        assert (await client.fetch("/router/y")).code == 404


async def test_overridden_find_handler_is_used(fake_client: Any) -> None:
    class Custom(web.Application):
        def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> HTTPMessageDelegate:
            request.path = "/rewritten"
            return super().find_handler(request, **kwargs)

    app = Custom([(r"/rewritten", Named, {"label": "rewritten"})])
    assert (await fake_client(app).fetch("/original")).text.startswith("rewritten:")


async def test_routes_can_be_added_after_start(fake_client: Any) -> None:
    app = web.Application([(r"/a", Named)])
    client = fake_client(app)
    assert (await client.fetch("/b")).code == 404
    app.wildcard_router.add_rules([(r"/b", Named, {"label": "late"})])
    assert (await client.fetch("/b")).text.startswith("late:")
