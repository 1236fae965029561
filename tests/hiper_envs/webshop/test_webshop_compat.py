"""``upstream_compat=True``: upstream's invalid-action observation and ``get_available_actions()`` shape."""

from hiper_envs.options import OptionAction
from hiper_envs.webshop import WebShopEnv


def test_invalid_action_leaves_the_page_unchanged():
    env = WebShopEnv(upstream_compat=True, render_mode="ansi")
    obs, info = env.reset(seed=0)
    for bad in ("click[nowhere]", "search[]", "click[search]", OptionAction(action=None), 42):  # type: ignore[arg-type]
        after, reward, terminated, truncated, info = env.step(bad)
        assert after == obs and reward == 0.0 and not terminated and info["invalid_action"]
    obs, *_, info = env.step(f"search[{env.goal['query']}]")
    after, *_, info = env.step("click[no such product]")
    assert after == obs and info["invalid_action"] and env.render() == obs
    default = WebShopEnv()
    default.reset(seed=0)
    assert default.step("click[nowhere]")[0].startswith("Nothing happens. Invalid action:")


def test_available_actions_have_upstreams_shape():
    env = WebShopEnv(upstream_compat=True, expert=True)
    obs, info = env.reset(options={"game_index": 0})
    assert info["available_actions"] == {"has_search_bar": True, "clickables": ["search"]}
    assert info["available_actions"] == env.get_available_actions()
    while True:
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        actions = info["available_actions"]
        assert set(actions) == {"has_search_bar", "clickables"} and not actions["has_search_bar"]
        if env.state.page == "results":
            # Buttons first, then the product links (lower-case ASINs), as upstream lists them.
            products = [c for c in actions["clickables"] if c.startswith("b0")]
            assert actions["clickables"][0] == "back to search" and products
            assert actions["clickables"][-len(products) :] == products
        if env.state.page == "item":
            product = env.catalog.products[env.state.asin]
            values = list(dict.fromkeys(v for vs in product["options"].values() for v in vs))
            assert actions["clickables"][-len(values) :] == values if values else True
            assert "buy now" in actions["clickables"] and "< prev" in actions["clickables"]
        if terminated or truncated:
            break
    assert reward == 1.0 and actions["clickables"] == []


def test_search_works_from_any_page_as_upstream():
    compat, default = WebShopEnv(upstream_compat=True), WebShopEnv()
    for env in (compat, default):
        env.reset(seed=0)
        env.step(f"search[{env.goal['query']}]")
    product = next(c for c in compat.get_available_actions()["clickables"] if c.startswith("b0"))
    for env in (compat, default):
        env.step(f"click[{product}]")
    obs, *_, info = compat.step("search[blue shoes]")
    assert not info["invalid_action"] and compat.state.keywords == "blue shoes"
    assert default.step("search[blue shoes]")[4]["invalid_action"]
