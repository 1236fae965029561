"""The Flask site: upstream's pages, ids and buttons; escaped input; 4xx with a message for bad requests."""

import json
from urllib.parse import quote

import pytest

from webshop_server import create_app


def test_factory_reads_test_config():
    app = create_app({"TESTING": True, "NUM_PRODUCTS": 60})
    assert app.testing and len(app.extensions["webshop"].catalog) == 60


def test_search_page_has_upstreams_elements(client):
    html = client.get("/fixed_0").get_data(as_text=True)
    for fragment in ('id="search_input"', 'name="search_query"', 'id="instruction-text"', ">Search</button>"):
        assert fragment in html
    assert "<h2>WebShop</h2>" in html


def test_a_purchase_through_the_site(client, app):
    shop = app.extensions["webshop"]
    goal = shop.goal("fixed_5")
    r = client.get("/search/fixed_5", query_string={"search_query": goal["query"].upper() + "  "})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/{quote(goal['query'])}/1")
    results = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Back to Search" in results and "Page 1 (Total results:" in results and 'class="product-link"' in results
    options = json.dumps(goal["goal_options"], sort_keys=True, separators=(",", ":"))
    item = client.get(f"/item_page/fixed_5/{goal['asin']}/{quote(goal['query'])}/1/{quote(options, safe='')}")
    text = item.get_data(as_text=True)
    for label in ("Back to Search", "&lt; Prev", "Description", "Features", "Reviews", "Buy Now"):
        assert f">{label}</button>" in text
    assert text.count(" checked>") == len(goal["goal_options"])
    for sub in ("Description", "Features", "Reviews"):
        page = client.get(f"/item_sub_page/fixed_5/{goal['asin']}/{quote(goal['query'])}/1/{sub}/%7B%7D")
        assert page.status_code == 200
    done = client.get(f"/done/fixed_5/{goal['asin']}/{quote(options, safe='')}").get_data(as_text=True)
    assert "Thank you for shopping with us!" in done and 'data-reward="1.0"' in done and "r_type" in done


def test_sessions_are_isolated(client, app):
    shop = app.extensions["webshop"]
    a, b = shop.goal("fixed_1"), shop.goal("fixed_2")
    assert a["instruction_text"] in client.get("/fixed_1").get_data(as_text=True)
    assert b["instruction_text"] in client.get("/fixed_2").get_data(as_text=True)
    # The same purchase scores against each session's own goal.
    path = f"{a['asin']}/{quote(json.dumps(a['goal_options']), safe='')}"
    assert 'data-reward="1.0"' in client.get(f"/done/fixed_1/{path}").get_data(as_text=True)
    assert 'data-reward="1.0"' not in client.get(f"/done/fixed_2/{path}").get_data(as_text=True)
    # Any other id draws a goal by weight, the same one every time.
    assert shop.goal_index("alice") == shop.goal_index("alice")


def test_home_starts_a_session(client):
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/session_")


def test_script_is_escaped(client, app):
    r = client.get("/search/fixed_0", query_string={"search_query": "<script>alert(1)</script>"}, follow_redirects=True)
    assert r.status_code == 200 and "<script>" not in r.get_data(as_text=True)
    r = client.get("/search_results/fixed_0/%3Cscript%3Ealert(xyzzy)/1")
    assert r.status_code == 200 and "<script>" not in r.get_data(as_text=True)
    assert "Total results: 0" in r.get_data(as_text=True)
    r = client.get("/item_page/fixed_0/B0NOTHERE1/x/1/%7B%22%3Cb%3E%22%3A%22%7B%7B7*7%7D%7D%22%7D")
    assert r.status_code == 404 and r.mimetype == "text/plain" and "49" not in r.get_data(as_text=True)


@pytest.mark.parametrize(
    "url, status",
    [
        ("/fixed_999999", 404),
        ("/search/fixed_0", 400),
        ("/search/fixed_0?search_query=%20%20", 400),
        ("/search_results/fixed_0/shampoo/0", 404),
        ("/search_results/fixed_0/shampoo/99", 404),
        ("/search_results/fixed_0/shampoo/-1", 404),
        ("/search_results/fixed_0/shampoo/abc", 404),
        ("/search_results/fixed_0/Shampoo/1", 400),
        ("/item_page/fixed_0/B0NOTHERE1/x/1/%7B%7D", 404),
        ("/item_page/fixed_0/{asin}/x/1/not-json", 400),
        ("/item_page/fixed_0/{asin}/x/1/%5B1%2C2%5D", 400),
        ("/item_page/fixed_0/{asin}/x/1/%7B%22color%22%3A%22no%20such%20colour%22%7D", 400),
        ("/item_page/fixed_0/{asin}/x/0/%7B%7D", 400),
        ("/item_sub_page/fixed_0/{asin}/x/1/Secrets/%7B%7D", 404),
        ("/done/fixed_0/{asin}/%7B%22x%22%3A1%7D", 400),
        ("/done/fixed_0/{asin}", 404),
        ("/no/such/route/at/all/here/really", 404),
        ("/" + "s" * 300, 400),
    ],
)
def test_bad_requests_get_4xx_with_a_message(client, app, url, status):
    asin = app.extensions["webshop"].goal("fixed_0")["asin"]
    r = client.get(url.format(asin=asin))
    assert r.status_code == status and len(r.get_data(as_text=True)) > 10


def test_post_without_a_query_shows_the_page(client):
    # Upstream's routes answer GET and POST alike; a POST without search_query is the page itself.
    r = client.post("/fixed_0")
    assert r.status_code == 200 and 'id="search_input"' in r.get_data(as_text=True)
    assert client.put("/fixed_0").status_code == 405


def test_catalog_text_is_escaped():
    from webshop_server.catalog import Catalog
    from webshop_server.engine import WebShop
    from webshop_server.generator import generate_products
    from webshop_server.state import State

    products = generate_products(30)
    products[0] = dict(products[0], Title="<script>alert(1)</script> {{7*7}} shampoo", Description="<b>bold</b>")
    goal = {"instruction_text": "<img src=x onerror=alert(1)>", "asin": products[0]["asin"], "weight": 1}
    shop = WebShop(Catalog(products, [goal]))
    html = shop.render("fixed_0", State("results", "shampoo", 1)).html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}}" in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    sub = shop.render("fixed_0", State("sub", "shampoo", 1, products[0]["asin"], {}, "Description")).html
    assert "&lt;b&gt;bold&lt;/b&gt;" in sub
