# ruff: noqa: B905, UP004, UP031  (Tornado 4 era code, kept as written)
"""A weather service written for Tornado 4.5 / 5.1: the "before" of the migration guide.

It aggregates an upstream JSON service (``GET /weather/<city>`` answering
``{"temp": 21, "sky": "sunny"}`` and ``GET /cities``) and uses the classic
APIs that Tornado 6 removed. The migration guide ports it by renaming the
imports, and nothing else; a test does exactly that and runs the result.
"""

import json

from tornado import gen, stack_context, template, web
from tornado.httpclient import AsyncHTTPClient, HTTPError
from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.log import app_log
from tornado.options import define, options, parse_command_line
from tornado.platform.asyncio import AsyncIOMainLoop

define("port", default=8000, help="port to listen on")
define("upstream", default="http://127.0.0.1:8001", help="the weather service")

REPORT = template.Template(
    "<table>{% for city, w in rows %}"
    "<tr><td>{{ city }}</td><td>{{ w['temp'] }}</td><td>{{ w['sky'] }}</td></tr>"
    "{% end %}</table>"
)


class NowHandler(web.RequestHandler):
    """Style 1: @web.asynchronous, a callback, and self.finish()."""

    @web.asynchronous
    def get(self, city):
        url = "%s/weather/%s" % (self.settings["upstream"], city)
        AsyncHTTPClient().fetch(url, callback=self.on_response)

    def on_response(self, response):
        if response.code == 404:
            raise web.HTTPError(404)
        if response.error:
            raise web.HTTPError(502)
        weather = json.loads(response.body)
        self.write({"city": self.path_args[0], "temp": weather["temp"]})
        self.finish()


class CompareHandler(web.RequestHandler):
    """Style 2: @gen.engine with gen.Task (two fetches in parallel)."""

    @web.asynchronous
    @gen.engine
    def get(self, first, second):
        client = AsyncHTTPClient()
        base = self.settings["upstream"] + "/weather/"
        responses = yield [
            gen.Task(client.fetch, base + first),
            gen.Task(client.fetch, base + second),
        ]
        if any(r.error for r in responses):
            raise web.HTTPError(502)
        temps = [json.loads(r.body)["temp"] for r in responses]
        self.write({"warmer": first if temps[0] >= temps[1] else second})
        self.finish()


@gen.coroutine
def fetch_json(url):
    response = yield AsyncHTTPClient().fetch(url)
    raise gen.Return(json.loads(response.body))


class ReportHandler(web.RequestHandler):
    """Style 3: @gen.coroutine, with a Tornado template."""

    @gen.coroutine
    def get(self):
        upstream = self.settings["upstream"]
        try:
            cities = yield fetch_json(upstream + "/cities")
            weathers = yield [fetch_json(upstream + "/weather/" + c) for c in cities]
        except HTTPError as e:
            app_log.warning("upstream failed: %s", e)
            raise web.HTTPError(502)
        self.write(REPORT.generate(rows=zip(cities, weathers)))


class VisitsHandler(web.RequestHandler):
    """Style 4 (Tornado 5): async def; and a secure cookie."""

    async def get(self):
        await gen.sleep(0)
        visits = int(self.get_secure_cookie("visits") or 0) + 1
        self.set_secure_cookie("visits", str(visits))
        self.write({"visits": visits})


class CityCache(object):
    """Refreshed in the background; errors caught by an ExceptionStackContext."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.cities = []
        self.errors = 0

    def refresh(self):
        with stack_context.ExceptionStackContext(self.on_error):
            AsyncHTTPClient().fetch(self.upstream + "/cities", callback=self.on_cities)

    def on_cities(self, response):
        self.cities = json.loads(response.body)  # may raise: goes to on_error

    def on_error(self, typ, value, tb):
        self.errors += 1
        app_log.warning("refreshing the city list failed: %s", value)
        return True


class CitiesHandler(web.RequestHandler):
    def get(self):
        self.write({"cities": self.settings["cache"].cities})


def make_app(upstream):
    cache = CityCache(upstream)
    return web.Application(
        [
            (r"/now/(\w+)", NowHandler),
            (r"/compare/(\w+)/(\w+)", CompareHandler),
            (r"/report", ReportHandler),
            (r"/visits", VisitsHandler),
            (r"/cities", CitiesHandler),
        ],
        upstream=upstream,
        cache=cache,
        cookie_secret="change me",
    )


def main():
    AsyncIOMainLoop().install()
    parse_command_line()
    app = make_app(options.upstream)
    app.listen(options.port, "127.0.0.1")
    cache = app.settings["cache"]
    IOLoop.instance().add_callback(cache.refresh)
    PeriodicCallback(cache.refresh, 60 * 1000).start()
    IOLoop.instance().start()


if __name__ == "__main__":
    main()
