"""The nouns of a product name, for the type reward's title score (upstream: spaCy's NOUN/PROPN tokens).

Upstream tags each product ``name`` with spaCy (``en_core_web_sm`` on master, ``en_core_web_lg`` in the paper)
and keeps the lower-cased tokens tagged ``NOUN`` or ``PROPN``. spaCy's English models are not on PyPI, so:

- when a spaCy English model is installed (``en_core_web_sm``, else ``en_core_web_lg``; or the model named by
  ``$WEBSHOP_SPACY_MODEL``, ``none`` to never load one), its tags are used, exactly as upstream;
- otherwise :func:`approx_nouns`, a tagger-free approximation: product names are title-cased phrases, which spaCy
  tags almost entirely as nouns and proper nouns, so the approximation keeps every word except numbers and the
  closed classes spaCy never tags as nouns (prepositions, determiners, conjunctions, pronouns, auxiliaries, the
  possessive ``'s``). Its agreement with spaCy is measured in ``docs/webshop.md`` (and tested).

Products of the generated catalog carry their type nouns (``type_tokens``) and use neither.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from typing import Any

__all__ = ["approx_nouns", "noun_source", "spacy_nouns", "title_nouns"]

# spaCy-like word tokens: letters/digits runs ("men's" -> "men", "x-large" -> "x", "large"; "3.4" stays whole).
_POSSESSIVE = re.compile(r"['\u2019]s\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:[.,][0-9]+)*")
_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)*(?:st|nd|rd|th|s|x)?")
#: Closed-class words (spaCy's ADP, DET, CCONJ, SCONJ, PRON, AUX, PART): never nouns, whatever the casing.
_FUNCTION_WORDS = frozenset(
    "a an the this that these those and or nor but so yet for with without of in on at by to from into onto upon "
    "over under about above below between among through during before after against within along across per via "
    "than as if is are was were be been being am do does did has have had can could will would shall should may "
    "might must it its i me my mine we us our ours you your yours he him his she her hers they them their theirs "
    "who whom whose which what "
    "not no n't up out off down all any each every both either neither some such".split()
)


@functools.lru_cache(maxsize=65536)
def approx_nouns(name: str) -> tuple[str, ...]:
    """The tagger-free stand-in for spaCy's nouns of a product name (lower case, in order)."""
    words = _WORD.findall(_POSSESSIVE.sub(" ", name).lower())
    return tuple(w for w in words if w not in _FUNCTION_WORDS and not _NUMBER.fullmatch(w))


@functools.lru_cache(maxsize=1)
def _spacy() -> Any:
    wanted = os.environ.get("WEBSHOP_SPACY_MODEL", "")
    if wanted.lower() == "none":
        return None
    # Look for a model package before importing spaCy (which imports thinc and perhaps torch: seconds).
    models = [wanted] if wanted else [m for m in ("en_core_web_sm", "en_core_web_lg") if importlib.util.find_spec(m)]
    if not models:
        return None
    try:
        import spacy
    except ImportError:
        return None
    for model in models:
        try:
            return spacy.load(model, disable=["parser", "ner", "lemmatizer"])
        except OSError:  # not a loadable model
            continue
    return None


@functools.lru_cache(maxsize=65536)
def spacy_nouns(name: str) -> tuple[str, ...] | None:
    """SpaCy's nouns of ``name`` as upstream reads them (``NOUN``/``PROPN``, lower case); ``None`` without a model."""
    nlp = _spacy()
    if nlp is None:
        return None
    return tuple(t.text.lower() for t in nlp(name) if t.pos_ in ("NOUN", "PROPN", "PNOUN"))


def title_nouns(name: str) -> tuple[str, ...]:
    """The nouns of a product name: spaCy's when a model is installed, else :func:`approx_nouns`."""
    nouns = spacy_nouns(name)
    return approx_nouns(name) if nouns is None else nouns


def noun_source() -> str:
    """Which noun source :func:`title_nouns` uses here: ``"spacy:<model> <version>"`` or ``"approximation"``."""
    nlp = _spacy()
    if nlp is None:
        return "approximation"
    return f"spacy:{nlp.meta.get('lang', '')}_{nlp.meta.get('name', '')} {nlp.meta.get('version', '')}"
