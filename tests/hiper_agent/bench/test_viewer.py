"""``hiper-bench view``: one static HTML file per run, opened in headless Chromium (filters, segments, no errors)."""

from __future__ import annotations

import json

import pytest
from bench_helpers import bench

from hiper_agent.bench.cli import main
from hiper_agent.bench.results import load_results
from hiper_agent.bench.viewer import render_view, write_view
from tests.headless_chromium import headless_chromium, needs_browser


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An expert run (every type won, several options each) and a random run (lost episodes, failure classes)."""
    root = tmp_path_factory.mktemp("views")
    bench("expert", root / "expert", episodes=6, num_envs=3, max_steps=None)
    bench("random", root / "random", episodes=6, num_envs=3, max_steps=12)
    return root


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(
        "hiper-view-chromium-", ("--window-size=1280,1000",), {"goog:loggingPrefs": {"browser": "ALL"}}
    ) as driver:
        yield driver


def _open(browser, path):
    from selenium.webdriver.common.by import By

    browser.get(path.resolve().as_uri())
    assert browser.find_element(By.ID, "count").text.endswith("episodes")
    return By


def _count(browser, By):
    return browser.find_element(By.ID, "count").text


def _select(browser, By, element_id, value):
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, element_id)).select_by_value(value)


def _errors(browser):
    return [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


def test_view_is_one_self_contained_file(runs):
    path = write_view(runs / "random")
    html = path.read_text()
    assert path.name == "view.html" and html.startswith("<!DOCTYPE html>")
    assert "http://" not in html.split('<script id="data"')[0] and "src=" not in html  # nothing to fetch
    assert main(["view", str(runs / "random"), "--out", str(runs / "elsewhere.html")]) == 0
    assert (runs / "elsewhere.html").read_text() == html


def test_observations_cannot_break_out_of_the_data_block(runs):
    data = load_results(runs / "random")
    data["episodes"][0]["observation"] = '</script><script>document.title="owned"</script><!--'
    html = render_view(data)
    assert html.count("</script>") == 2  # the data block's and the program's, none from the data
    payload = html.split('<script id="data" type="application/json">')[1].split("</script>")[0]
    assert json.loads(payload)["episodes"][0]["observation"].startswith("</script>")


@needs_browser
def test_view_opens_filters_and_draws_options(runs, browser):
    write_view(runs / "random")
    By = _open(browser, runs / "random" / "view.html")
    data = load_results(runs / "random")
    lost = [e for e in data["episodes"] if not e["won"]]
    assert _count(browser, By) == "6 of 6 episodes"
    _select(browser, By, "f-outcome", "lost")
    assert _count(browser, By) == f"{len(lost)} of 6 episodes"
    _select(browser, By, "f-outcome", "")
    task_type = data["episodes"][2]["task_type"]
    _select(browser, By, "f-type", task_type)
    assert _count(browser, By) == f"{sum(e['task_type'] == task_type for e in data['episodes'])} of 6 episodes"
    _select(browser, By, "f-type", "")
    cls = lost[0]["failure_class"]
    _select(browser, By, "f-class", cls)
    assert _count(browser, By) == f"{sum(e['failure_class'] == cls for e in lost)} of 6 episodes"
    _select(browser, By, "f-class", "")
    # a random agent's commands are bare strings: one option per episode, as wide as the episode
    card = browser.find_element(By.CSS_SELECTOR, '.episode[data-index="0"]')
    segments = card.find_elements(By.CSS_SELECTOR, ".seg")
    assert len(segments) == data["episodes"][0]["options"] == 1
    segments[0].click()
    rows = card.find_elements(By.CSS_SELECTOR, ".detail .steps tbody tr")
    assert len(rows) == data["episodes"][0]["steps"]
    observation = rows[0].find_element(By.CSS_SELECTOR, "pre.obs")
    assert not observation.is_displayed()
    rows[0].find_element(By.CSS_SELECTOR, "button.show-obs").click()
    assert observation.is_displayed() and observation.text == data["episodes"][0]["transcript"][0]["observation"]
    assert not _errors(browser)


@needs_browser
def test_expert_view_shows_verified_subgoals(runs, browser):
    write_view(runs / "expert")
    By = _open(browser, runs / "expert" / "view.html")
    data = load_results(runs / "expert")
    assert _count(browser, By) == "6 of 6 episodes"
    segments = browser.find_elements(By.CSS_SELECTOR, ".seg")
    assert len(segments) == sum(e["options"] for e in data["episodes"])
    assert all("achieved" in s.get_attribute("class") for s in segments)  # the expert's subgoals are all verified
    first = data["episodes"][0]["transcript"][0]
    assert segments[0].get_attribute("title").startswith(first["subgoal"])
    _select(browser, By, "f-outcome", "lost")
    assert _count(browser, By) == "0 of 6 episodes"
    assert not _errors(browser)


@pytest.mark.slow
@needs_browser
def test_views_of_a_24_episode_expert_run_and_a_policy_run(tmp_path, browser):
    """Issue 19: the views of a 24-episode expert run and of a saved policy's run open in Chromium.

    The policy is a scorer policy saved as ``hiper-train`` saves it, untrained (training it takes minutes and the
    view does not depend on its weights: it draws whatever options the policy played).
    """
    torch = pytest.importorskip("torch")
    from hiper_agent.policies.scorer import make_scorer_policy

    torch.manual_seed(0)
    make_scorer_policy().save(tmp_path / "policy")
    bench("expert", tmp_path / "expert", episodes=24, num_envs=4, max_steps=None)
    bench(str(tmp_path / "policy"), tmp_path / "policy-run", episodes=12, num_envs=4, max_steps=20)
    for run, n in (("expert", 24), ("policy-run", 12)):
        write_view(tmp_path / run)
        By = _open(browser, tmp_path / run / "view.html")
        assert _count(browser, By) == f"{n} of {n} episodes"
        assert browser.find_elements(By.CSS_SELECTOR, ".seg")
        assert not _errors(browser)
