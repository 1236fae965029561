"""The URL scheme and its one bounded decoder; upstream's porting surface (literal options, POST search, ``<pre>``)."""

import json
import re
from html.parser import HTMLParser
from urllib.parse import quote, urljoin

import pytest

from webshop_server.engine import WebShop
from webshop_server.search import query_terms
from webshop_server.state import MAX_KEYWORDS_CHARS, ROUTES, State, decode_options, parse_path


def _goal(app, i=0):
    return app.extensions["webshop"].goal(f"fixed_{i}")


def _options_of(app, goal):
    product = app.extensions["webshop"].catalog.products[goal["asin"]]
    return {name: values[0] for name, values in product["options"].items()}


@pytest.mark.parametrize(
    "route", ["item_page/fixed_0/{asin}/x/1", "item_sub_page/fixed_0/{asin}/x/1/Reviews", "done/fixed_0/{asin}"]
)
@pytest.mark.parametrize("segment", ["[" * 5000, "{" * 5000, '{"a":' * 900 + '"b"' + "}" * 900, "[" * 900, "(" * 500])
def test_deep_nesting_is_a_4xx_with_a_message(client, app, route, segment):
    r = client.get("/" + route.format(asin=_goal(app)["asin"]) + "/" + quote(segment, safe=""))
    assert r.status_code == 400 and "options" in r.get_data(as_text=True)


def test_deep_nesting_in_keywords_is_a_4xx(client, app):
    asin = _goal(app)["asin"]
    for keywords in ("[" * 5000, "['a'" + ", ['b'" * 300 + "]" * 301):
        r = client.get(f"/item_page/fixed_0/{asin}/{quote(keywords, safe='')}/1/%7B%7D")
        assert r.status_code == 400 and "keywords" in r.get_data(as_text=True)


def test_options_in_upstreams_python_literal_form(client, app):
    goal = _goal(app, 3)
    options = _options_of(app, goal)
    as_json = quote(json.dumps(options), safe="")
    as_literal = quote(str(options), safe="")  # upstream writes str(dict): {'color': 'black'}
    assert "'" in str(options) or not options
    for kind in (f"item_page/fixed_3/{goal['asin']}/x/1", f"done/fixed_3/{goal['asin']}"):
        a = client.get(f"/{kind}/{as_json}")
        b = client.get(f"/{kind}/{as_literal}")
        assert a.status_code == b.status_code == 200 and a.data == b.data
    assert decode_options("{'size': 'large', \"color\": 'navy blue'}") == {"size": "large", "color": "navy blue"}
    for bad in ("{'a': 1}", "{'a': __import__('os').getcwd()}", "{'a': 'b'}.keys()", "[('a', 'b')]", "{**x}", "{}{}"):
        with pytest.raises(ValueError):
            decode_options(bad)


def test_upstreams_list_form_of_keywords(client):
    a = client.get("/search_results/fixed_0/" + quote(str(["blue", "shoes"]), safe="") + "/1")
    b = client.get("/search_results/fixed_0/blue%20shoes/1")
    assert a.status_code == 200 and a.data == b.data


def test_search_by_post_to_the_session(client):
    # Upstream's search form POSTs search_query to /<session>.
    r = client.post("/fixed_0", data={"search_query": "Blue  Shoes"})
    assert r.status_code == 302 and r.headers["Location"] == "/search_results/fixed_0/blue%20shoes/1"
    assert client.post("/search/fixed_0", data={"search_query": "x"}).status_code == 302
    assert client.post("/fixed_0", data={"search_query": "  "}).status_code == 400


class _RewardReader(HTMLParser):
    """Reads #reward's first <pre> child, as upstream's WebAgentSiteEnv.get_reward does with BeautifulSoup."""

    def __init__(self):
        super().__init__()
        self.depth, self.in_pre, self.pre = 0, False, None

    def handle_starttag(self, tag, attrs):
        if dict(attrs).get("id") == "reward":
            self.depth = 1
        elif self.depth and tag == "pre" and self.pre is None:
            self.in_pre, self.pre = True, ""

    def handle_endtag(self, tag):
        if tag == "pre":
            self.in_pre = False
        elif tag == "h3" and self.depth:
            self.depth = 0

    def handle_data(self, data):
        if self.in_pre:
            self.pre += data


def test_done_page_reward_has_upstreams_pre(client, app):
    goal = _goal(app, 4)
    options = quote(json.dumps(_options_of(app, goal)), safe="")
    for path in (f"{goal['asin']}/{options}", f"{_goal(app, 9)['asin']}/%7B%7D"):
        r = client.get(f"/done/fixed_4/{path}")
        assert r.status_code == 200
        html = r.get_data(as_text=True)
        reader = _RewardReader()
        reader.feed(html)
        assert reader.pre is not None
        assert float(reader.pre) == float(re.search(r'data-reward="([^"]+)"', html).group(1))


@pytest.mark.parametrize("query", [".", "..", "...", "./..", "a.b"])
def test_dots_in_queries_survive_url_normalisation(client, query):
    r = client.get("/search/fixed_0", query_string={"search_query": query})
    location = r.headers["Location"]
    # A client resolves the Location against the page (RFC 3986 removes "." and ".." segments): nothing may change.
    assert urljoin("http://shop.invalid/fixed_0", location) == "http://shop.invalid" + location
    assert client.get(location).status_code == 200
    assert parse_path(location)[1] == State("results", query.replace("/", " "), 1)


def test_keywords_and_options_are_capped(client, app):
    asin = _goal(app)["asin"]
    long = "x" * 60_000
    r = client.get(f"/item_page/fixed_0/{asin}/{long}/1/%7B%7D")
    assert r.status_code == 400 and f"at most {MAX_KEYWORDS_CHARS} characters" in r.get_data(as_text=True)
    r = client.get(f"/item_page/fixed_0/{asin}/x/1/" + quote(json.dumps({"k": "v" * 3000}), safe=""))
    assert r.status_code == 400 and "at most 2048 characters" in r.get_data(as_text=True)
    # The search box's documented cut: the keywords keep their first 200 characters.
    r = client.get("/search/fixed_0", query_string={"search_query": "y" * 5000})
    assert r.status_code == 302 and r.headers["Location"] == f"/search_results/fixed_0/{'y' * 200}/1"


def test_huge_form_is_a_413(client):
    r = client.post("/fixed_0", data={"search_query": "q" * 200_000})
    assert r.status_code == 413 and len(r.data) > 10


def test_no_answer_echoes_a_huge_path(client):
    # Werkzeug would 308-redirect "//" to "/", echoing the whole path in a Location header no client can read.
    for path in ("/search_results/fixed_0//" + "x" * 60_000 + "/1", "/item_page//fixed_0/B0X/x/1/%7B%7D", "/fixed_0/"):
        r = client.get(path)
        assert r.status_code == 404 and "Location" not in r.headers and len(r.data) < 500


def test_page_cache_is_bounded_in_bytes(app):
    catalog = app.extensions["webshop"].catalog
    shop = WebShop(catalog, page_cache=4096, page_cache_bytes=300_000)
    asins = list(catalog.products)[:50]
    for i in range(300):  # 300 distinct item pages of ~10 kB each: 3 MB unbounded
        shop.render("fixed_0", State("item", f"query {i}", 1, asins[i % 50]))
    assert shop.page_cache.bytes <= 300_000 and 0 < len(shop.page_cache) < 300
    assert shop.render("fixed_0", State("item", "query 299", 1, asins[299 % 50])) is not None


def test_every_page_route_comes_from_the_route_table(app):
    rules = {r.rule: r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("shop.")}
    for route in ROUTES.values():
        assert rules.pop(route.rule) == f"shop.{route.page}"
    assert set(rules) == {"/", "/healthz", "/search/<session>"}  # the rest are not pages


def test_one_character_search_tokens_count():
    assert query_terms("USB C cable, 4 k") == ["usb", "c", "cable", "4", "k"]
    assert query_terms("a cup of tea") == ["cup", "tea"]  # stop words still go
