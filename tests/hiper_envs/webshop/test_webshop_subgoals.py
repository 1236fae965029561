"""WebShop's task-level subgoals: what is offered on each page, that it is verifiable, and that the expert uses it."""

import pytest

from hiper_envs.webshop import WebShopEnv
from hiper_envs.webshop.subgoals import parse_subgoal, product_subgoal, search_candidates, subgoal_candidates

TASK = "i need a pack of blue running shoes with color: navy, and price lower than 40.00 dollars"


def test_candidates_per_page():
    queries = search_candidates(TASK)
    searches = [f"search for {q}" for q in queries]
    assert subgoal_candidates(TASK, "index") == [TASK, *searches, "open a matching product"]
    results = subgoal_candidates(TASK, "results", searched=[queries[0]])
    assert results == [TASK, *searches[1:], "open a matching product"]
    shown = [product_subgoal("B0ABC", "Navy  Running Shoes", "$12.5", rank=11), product_subgoal("b0def")]
    assert shown == ["open product b0abc, result 11: navy running shoes ($12.5)", "open product b0def"]
    assert subgoal_candidates(TASK, "results", searched=queries, products=shown) == [
        TASK,
        "open a matching product",
        *shown,
    ]
    assert shown[0] not in subgoal_candidates(TASK, "item", products=shown)
    assert parse_subgoal(shown[0]) == ("open", "b0abc")
    item = subgoal_candidates(TASK, "item", searched=queries, has_options=True)
    assert item == [TASK, "open a matching product", "choose the required options", "buy the product"]
    assert subgoal_candidates(TASK, "sub", searched=queries) == [TASK, "open a matching product", "buy the product"]
    assert subgoal_candidates(TASK, "done") == []
    searched_differently = [queries[0].upper() + "!"]  # typed by the agent: compared as the site normalizes it
    assert searches[0] not in subgoal_candidates(TASK, "index", searched=searched_differently)
    for candidate in item + searches:
        assert candidate == TASK or parse_subgoal(candidate) is not None, candidate


def _play(env: WebShopEnv, index: int) -> tuple[float, list[tuple[str, int]]]:
    """The expert, switching when its subgoal changes; checks candidates and statuses. Returns its options."""
    obs, info = env.reset(options={"game_index": index})
    options: list[tuple[str, int]] = []
    while True:
        candidates = info["subgoal_candidates"]
        assert not any(c.startswith("choose ") and c != "choose the required options" for c in candidates), candidates
        # on a results page, each product shown is offered by its ASIN, title and price, as the page shows them
        products = [c for c in candidates if c.startswith("open product ")]
        if env.state.page == "results":
            asins = [c[6:-1] for c in info["admissible_commands"] if c[6:-1].upper() in env.catalog.products]
            assert [parse_subgoal(c)[1] for c in products] == asins
            first = (env.state.page_num - 1) * 10 + 1  # the rank counts from the first page
            for rank, (candidate, asin) in enumerate(zip(products, asins, strict=True), start=first):
                assert candidate.startswith(f"open product {asin}, result {rank}: ")
                assert env.catalog.products[asin.upper()]["Title"].lower().split()[0] in candidate
        else:
            assert products == []
        for candidate in candidates:
            assert env._subgoal_status(candidate) in ("achieved", "pending"), candidate
        subgoal = info["expert_subgoal"]
        switch = not options or subgoal != options[-1][0]
        if switch:
            searched_title = subgoal.startswith("search for ") and subgoal not in candidates  # the fallback query
            assert subgoal in candidates or searched_title, (subgoal, candidates)
            options.append((subgoal, 0))
        options[-1] = (subgoal, options[-1][1] + 1)
        obs, reward, terminated, truncated, info = env.step(
            {"action": info["expert_action"], "switch": switch, "subgoal": subgoal}
        )
        assert not info["invalid_action"]
        next_subgoal = info.get("expert_subgoal")
        if terminated or next_subgoal != subgoal:  # the option ends: its subgoal was reached
            assert info["subgoal_status"] == "achieved", (subgoal, info["url"])
        if terminated or truncated:
            return reward, options


@pytest.mark.parametrize("split", ["test", "train"])
def test_expert_options_are_offered_and_verified(split):
    env = WebShopEnv(split=split, expert=True)
    lengths = []
    for index in range(25):
        reward, options = _play(env, index)
        assert reward == 1.0
        assert [s for s, _ in options][-1] == "buy the product"
        lengths += [n for _, n in options]
    assert max(lengths) >= 2  # "choose the required options" / paging last several clicks
    env.close()


def test_single_click_subgoals_are_still_verified():
    env = WebShopEnv(expert=True)
    _, info = env.reset(options={"game_index": 0})
    _, _, _, _, info = env.step(info["expert_action"])  # search
    asin = next(c[6:-1] for c in info["admissible_commands"] if c.startswith("click[b0"))
    assert env._subgoal_status(f"open product {asin}") == "pending"
    env.step(f"click[{asin}]")
    assert env._subgoal_status(f"Open product {asin.upper()}.") == "achieved"
    assert env._subgoal_status(f"open product {asin}: any title ($1.00)") == "achieved"
    env.close()


def test_expert_detour_opens_a_near_miss_then_recovers():
    env = WebShopEnv(split="train", expert=True, expert_detour=1.0)
    detours = 0
    for index in range(30):
        _, info = env.reset(options={"game_index": index})
        opened, left_by = [], []
        while True:
            action, subgoal = info["expert_action"], info["expert_subgoal"]
            if env.state.page == "item" and action == "click[< prev]":
                left_by.append(subgoal)
            _, reward, terminated, truncated, info = env.step(action)
            if env.state.page == "item" and env.state.asin not in opened:
                opened.append(env.state.asin)
            if terminated or truncated:
                break
        assert reward == 1.0  # the detour costs steps, never the win
        if len(opened) > 1:
            detours += 1
            assert not env.winnable(opened[0]) and env.winnable(opened[-1])
            assert left_by == ["open a matching product"]
    assert detours >= 5  # only where a loser is ranked above the winner on its page
    env.close()
    plain = WebShopEnv(split="train", expert=True)
    _, info = plain.reset(options={"game_index": 0})
    assert plain._expert_policy.near_miss is None
    with pytest.raises(ValueError, match="expert_detour"):
        WebShopEnv(expert=True, expert_detour=1.5)
