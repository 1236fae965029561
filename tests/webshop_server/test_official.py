"""``load_official_catalog`` on a small fixture in upstream's file schema."""

from pathlib import Path

import pytest

from webshop_server import get_reward, load_official_catalog

FIXTURE = Path(__file__).parent / "fixtures" / "official"


@pytest.fixture(scope="module")
def catalog():
    return load_official_catalog(FIXTURE)


def test_products_are_transformed_like_upstream(catalog):
    assert list(catalog.products) == ["B0FIXTURE1", "B0FIXTURE2", "B0FIXTURE3"]  # duplicates, 'nan', long skipped
    p = catalog.products["B0FIXTURE1"]
    assert p["Title"] == p["name"] and p["Description"] == "A gentle shampoo with argan oil."
    assert p["pricing"] == [12.99] and p["Price"] == "$12.99"
    assert p["options"] == {"size": ["8 fl oz", "16 fl oz | 2 pack"]}  # null option list skipped
    assert p["option_to_image"]["16 fl oz | 2 pack"] == "img.jpg"
    assert p["Attributes"] == ["sulfate free", "dry hair", "argan oil"] and p["query"] == "shampoo"
    assert p["instruction_text"] == "Find me sulfate free shampoos" and p["Reviews"] == [] and p["Rating"] == "N.A."
    assert p["MainImage"] == "https://example.invalid/1.jpg"
    jerky = catalog.products["B0FIXTURE2"]
    assert jerky["BulletPoints"] == ["High protein snack"] and jerky["pricing"] == [10.0, 20.0]
    assert jerky["Price"] == "$10.0 to $20.0" and 10.0 <= catalog.prices["B0FIXTURE2"] <= 20.0
    chair = catalog.products["B0FIXTURE3"]
    assert chair["pricing"] == [100.0] and chair["Price"] == "$100.0" and chair["Attributes"] == ["DUMMY_ATTR"]


def test_human_goals(catalog):
    goals = catalog.human_goals(seed=0)
    assert len(goals) == 3  # the instruction without attributes makes no goal
    keys = set(
        "asin instruction_text attributes goal_options price_upper query category name product_category weight".split()
    )
    for g in goals:
        assert set(g) == keys and g["weight"] == 1 and isinstance(g["goal_options"], list)
        assert g["instruction_text"].endswith(f", and price lower than {g['price_upper']:.2f} dollars")
        assert not g["instruction_text"].split(",")[0].endswith(".")
        product = catalog.products[g["asin"]]
        options = dict(zip(product["options"], g["goal_options"], strict=False))
        assert get_reward(product, g, catalog.prices[g["asin"]], options).total == 1.0
    assert goals == catalog.human_goals(seed=0) and catalog.goals == goals
    assert catalog.search("sulfate free shampoo")[0] == "B0FIXTURE1"


def test_missing_files_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no product file"):
        load_official_catalog(tmp_path)


def test_env_plays_the_official_goals():
    import gymnasium as gym

    import hiper_envs  # noqa: F401 - registers the ids

    env = gym.make("HiPER/WebShop-v0", catalog_dir=str(FIXTURE), expert=True)
    rewards = []
    for i in range(3):
        obs, info = env.reset(options={"game_index": i})
        assert info["task"] == load_official_catalog(FIXTURE).goals[i]["instruction_text"]
        while True:
            obs, reward, terminated, truncated, info = env.step(info["expert_action"])
            if terminated or truncated:
                rewards.append(reward)
                break
    assert rewards == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="no goals"):
        gym.make("HiPER/WebShop-v0", catalog_dir=str(FIXTURE), split="train")
