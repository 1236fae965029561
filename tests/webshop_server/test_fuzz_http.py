"""Fuzzed HTTP requests on every route: never a 5xx, a message with every 4xx, memory bounded.

The default run sends 2,000 requests straight to the WSGI app; the ``slow`` run sends 24,000 over real HTTP to
a ``python -m webshop_server`` child process and checks that its resident memory stays bounded.
"""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from urllib.parse import quote, unquote_to_bytes, urlencode

import pytest

from webshop_server.state import SUB_PAGES

_JUNK = "abc <>/|{}[]()#;\"'\\\n\t%?&=.\x00\x1b\u00e9\u4e2d\U0001f600\u202e\u0301\u203a"
# literals a server might evaluate (a Python or JSON parser on a path segment)
_LITERALS = [
    "{'color': 'black'}",
    "{'a': 1}",
    "{'a': __import__('os')}",
    "[1, 2]",
    "1e999",
    '{"a": "b"}',
    "['blue', 'shoes']",
    "[]",
    "null",
    "-1",
    "0",
    "99999999999",
]


def _junk(rng: random.Random, n: int = 40) -> str:
    return "".join(rng.choice(_JUNK) for _ in range(rng.randint(0, n)))


def _segment(rng: random.Random, valid: str, big: bool = False) -> str:
    """A path segment: the valid one, or one of the shapes that broke servers."""
    roll = rng.random()
    if roll < 0.45:
        return quote(valid, safe="")
    shapes = [
        lambda: "[" * rng.choice([10, 1000, 5000, 20000] if big else [10, 5000]),
        lambda: "{" * (3000 if big else 600),
        lambda: '{"a":' * (1500 if big else 300) + '"b"' + "}" * (1500 if big else 300),
        lambda: "(" * 300,
        lambda: rng.choice([".", "..", "%2E", "%2E%2E", "...", "%2F", "%00", "%ED%A0%80", "%FF", "%"]),
        lambda: "x" * rng.choice([101, 5000, 60_000] if big else [101, 3000]),
        lambda: quote(_junk(rng), safe=""),
        lambda: quote(rng.choice(_LITERALS), safe=""),
        lambda: quote(json.dumps({f"k{i}": "v" for i in range(rng.choice([5, 40, 400]))}), safe=""),
        lambda: "",
    ]
    return rng.choice(shapes)()


def random_request(rng: random.Random, asins: list[str], goals: int, big: bool = False) -> tuple[str, str, dict | None]:
    """``(method, path with query, form)`` of one fuzzed request (``big``: segments up to 60,000 characters)."""
    session = f"fixed_{rng.randrange(goals)}" if rng.random() < 0.8 else _junk(rng, 12) or "s"
    asin = rng.choice(asins)
    options = json.dumps({})
    seg = {
        "session": _segment(rng, session, big),
        "asin": _segment(rng, asin, big),
        "kw": _segment(rng, rng.choice(["shampoo", "blue shoes", "x", ".", "..", "usb c"]), big),
        "page": _segment(rng, str(rng.randint(1, 6)), big),
        "sub": _segment(rng, rng.choice(SUB_PAGES), big),
        "opts": _segment(rng, options, big),
    }
    templates = [
        "/{session}",
        "/search/{session}?search_query="
        + quote(rng.choice(["shoes", "", ".", "..", _junk(rng), "y" * (9000 if big else 900)])),
        "/search_results/{session}/{kw}/{page}",
        "/item_page/{session}/{asin}/{kw}/{page}/{opts}",
        "/item_sub_page/{session}/{asin}/{kw}/{page}/{sub}/{opts}",
        "/done/{session}/{asin}/{opts}",
        "/{any}",
        "/healthz",
        "/",
    ]
    seg["any"] = "/".join(_segment(rng, "x", big) for _ in range(rng.randint(0, 9)))
    template = rng.choice(templates)
    path = template
    for name, value in seg.items():  # not str.format: the values hold braces
        path = path.replace("{" + name + "}", value)
    path = "/" + path.lstrip("/")  # "//x" would read as a host name
    method = rng.choice(["GET", "GET", "GET", "POST", "POST", "HEAD", "PUT", "DELETE"])
    form = (
        {"search_query": rng.choice(["shoes", "", ".", _junk(rng), "z" * (5000 if big else 500)])}
        if method == "POST"
        else None
    )
    return method, path, form


def _check(status: int, body: bytes, method: str, path: str, counts: Counter) -> None:
    counts[status // 100] += 1
    assert status < 500, f"{status} for {method} {path[:200]!r}: {body[:200]!r}"
    if status >= 400 and method != "HEAD":
        assert len(body) > 8, f"a {status} without a message for {method} {path[:200]!r}"


def _wsgi(app, method: str, path: str, form: dict | None) -> tuple[int, bytes]:
    """Call the WSGI app as a server would (path percent-decoded to latin-1); cheaper than the test client."""
    path_part, _, query = path.partition("?")
    body = urlencode(form).encode() if form else b""
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path_part).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_TYPE": "application/x-www-form-urlencoded" if form else "",
        "CONTENT_LENGTH": str(len(body)),
    }
    status: list[str] = []
    chunks = app(environ, lambda s, headers, exc_info=None: status.append(s))
    return int(status[0].split()[0]), b"".join(chunks)


def test_fuzzed_requests_never_5xx(app):
    catalog = app.extensions["webshop"].catalog
    asins, goals = list(catalog.products), len(catalog.goals)
    rng = random.Random(0)
    counts: Counter = Counter()
    for _ in range(2000):
        method, path, form = random_request(rng, asins, goals)
        status, body = _wsgi(app, method, path, form)
        _check(status, body, method, path, counts)
    assert counts[4] > 400 and counts[2] + counts[3] > 400, counts


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_24000_http_requests_and_bounded_memory():
    requests = pytest.importorskip("requests")
    from tests.webshop_server.serve import running_server
    from webshop_server import generate_catalog

    catalog = generate_catalog(1000, 0)
    asins, goals = list(catalog.products), len(catalog.goals)
    with running_server("--page-cache-mb", "16", "--threads", "4") as server, requests.Session() as http:
        rng = random.Random(1)
        counts: Counter = Counter()
        rss = []
        for i in range(24_000):
            method, path, form = random_request(rng, asins, goals, big=True)
            r = http.request(method, server.url + path, data=form, timeout=30, allow_redirects=False)
            _check(r.status_code, r.content, method, path, counts)
            if i % 2000 == 0:
                rss.append(server.rss_mb())
        # Then the load that took the old server from 114 to 495 MB: 300 distinct heavy item pages.
        for i in range(300):
            http.get(f"{server.url}/item_page/fixed_0/{asins[i]}/{'k' * 60_000}/1/%7B%7D", timeout=30)
            http.get(f"{server.url}/item_page/fixed_0/{asins[i]}/query%20{i}/1/%7B%7D", timeout=30)
        rss.append(server.rss_mb())
    print(f"\nHTTP fuzz: {sum(counts.values())} requests, status classes {dict(counts)}, server RSS MiB {rss}")
    assert counts[5] == 0
    assert max(rss[1:]) - rss[1] < 16 + 64, rss  # the 16 MiB page cache plus allocator slack
