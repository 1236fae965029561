"""Pages as URL paths: every state survives the round trip; malformed paths are rejected with a reason."""

import pytest

from webshop_server.state import State, normalize_keywords, parse_path, search_path, search_session

STATES = [
    State(),
    State("results", "blue running shoes", 3),
    State("item", "a & b ? #x %y", 1, "B0ABCDEFGH", {"color": "navy blue", "size": "x-large"}),
    State("sub", "shoes", 2, "B0ABCDEFGH", {"flavor name": "dark roast"}, "Reviews"),
    State("done", asin="B0ABCDEFGH", options={"size": "16 fl oz | 2 pack"}),
]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("session", ["fixed_0", "alice", "a b/c?d"])
def test_round_trip(state, session):
    assert parse_path(state.path(session)) == (session, state)


def test_keywords_are_normalised():
    assert normalize_keywords("  Blue/Red  SHOES ") == "blue red shoes"
    assert len(normalize_keywords("x" * 500)) == 200
    assert search_path("a/b") == "/search/a%2Fb" and search_session(search_path("a/b")) == "a/b"


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "/search_results/s/kw",
        "/search_results/s/kw/one",
        "/item_page/s/A/kw/1/notjson",
        "/item_page/s/A/kw/1/%5B%5D",
        "/done/s/A/%7B%22a%22%3A1%7D",
        "/what/is/this",
    ],
)
def test_malformed_paths(path):
    with pytest.raises(ValueError):
        parse_path(path)
