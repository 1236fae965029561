"""The title-noun source: spaCy when a model is installed, else an approximation whose agreement is measured here.

``fixtures/spacy_title_nouns.json`` holds spaCy's nouns (``en_core_web_sm`` 3.8.0) of 1,395 product names: the
names of two upstream-format fixture catalogs (``upstream_format.py``, seeds 0 and 1) and of the generated
catalog (1,000 products). The thresholds below are the measured agreement, rounded down.
"""

import json
import random
from pathlib import Path

import pytest

from webshop_server import nouns
from webshop_server.nouns import approx_nouns

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "spacy_title_nouns.json").read_text())["nouns"]


def _r_type(score: float, other_match: bool) -> float:
    r = 1.0 if (other_match or score > 0.2) else 0.5
    return 0.0 if score == 0 else 0.1 if score < 0.1 else r


def _title_score(bought: list[str], wanted: list[str]) -> float:
    return len(set(bought) & set(wanted)) / len(wanted) if wanted else 0.2


def test_approximation_agrees_with_spacy_on_the_fixture():
    names = list(FIXTURE)
    same_set = sum(set(approx_nouns(n)) == set(FIXTURE[n]) for n in names) / len(names)
    assert same_set >= 0.77  # measured: 1,079 of 1,395 names (77.3 %) get exactly spaCy's noun set
    # What the reward uses: the type multiplier of a purchase. Random (goal, product) name pairs, a fifth of them
    # the goal's own product, half with a query or category match.
    rng = random.Random(0)
    pairs = 20_000
    agree = 0
    for _ in range(pairs):
        goal = rng.choice(names)
        bought = goal if rng.random() < 0.2 else rng.choice(names)
        match = rng.random() < 0.5
        spacy_r = _r_type(_title_score(FIXTURE[bought], FIXTURE[goal]), match)
        approx_r = _r_type(_title_score(list(approx_nouns(bought)), list(approx_nouns(goal))), match)
        agree += spacy_r == approx_r
    assert agree / pairs >= 0.99  # measured: 99.3 % of r_type values agree


def test_spacy_is_used_when_a_model_is_installed():
    if nouns.noun_source() == "approximation":
        assert nouns.spacy_nouns("Acme Shampoo") is None
        assert nouns.title_nouns("Acme Shampoo") == approx_nouns("Acme Shampoo") == ("acme", "shampoo")
        pytest.skip("no spaCy English model installed: the approximation is in use (the assertions above hold)")
    names = list(FIXTURE)[:200]
    assert sum(list(nouns.spacy_nouns(n)) == FIXTURE[n] for n in names) >= 0.95 * len(names)


def test_no_model_is_chosen_with_none(monkeypatch):
    monkeypatch.setenv("WEBSHOP_SPACY_MODEL", "none")
    nouns._spacy.cache_clear()
    try:
        assert nouns.noun_source() == "approximation"
    finally:
        monkeypatch.undo()
        nouns._spacy.cache_clear()
