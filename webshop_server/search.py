"""BM25 product search over upstream's document text, with two embedded backends (no Java, no server).

Upstream indexes, per product, ``" ".join([Title, Description, BulletPoints[0], option text]).lower()`` with
pyserini's Lucene BM25 (k1=0.9, b=0.4, Porter stemming, English stop words) and returns the top 50. Backends:

- ``"bm25s"`` (default): ``bm25s`` with ``method="lucene"``, k1=0.9, b=0.4 and PyStemmer's English Porter
  stemmer: Lucene's scoring formula and parameters, sparse-matrix scoring in numpy.
- ``"fts5"``: SQLite FTS5 from the standard library (``porter unicode61``); its BM25 has k1=1.2, b=0.75 fixed.

Both drop English stop words from the query (as Lucene's analyzer does) and break score ties by catalog order, so
results are deterministic. ``docs/webshop.md`` gives the measurements behind the default.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from webshop_server.generator import option_text

__all__ = ["BACKENDS", "SEARCH_RETURN_N", "Bm25sIndex", "Fts5Index", "SearchIndex", "document_text", "make_index"]

#: How many results a search returns (upstream: 50, shown 10 a page).
SEARCH_RETURN_N = 50
BACKENDS = ("bm25s", "fts5")
_TOKEN = re.compile(r"\w+")  # one-character tokens count, as in Lucene ("usb c", "4 k")
#: Lucene's English stop words (the analyzer pyserini's BM25 uses).
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split()
)


def document_text(product: Mapping[str, Any]) -> str:
    """The text upstream indexes for a product (lower case; only the first bullet point)."""
    bullets = product.get("BulletPoints") or [""]
    parts = [product.get("Title", ""), product.get("Description", ""), bullets[0], option_text(product["options"])]
    return " ".join(str(p) for p in parts).lower()


def query_terms(query: str) -> list[str]:
    """The query's words (lower case, stop words dropped), in order, without repeats."""
    return list(dict.fromkeys(t for t in _TOKEN.findall(query.lower()) if t not in STOPWORDS))


class SearchIndex(ABC):
    """A BM25 index over a catalog's products; ``search`` returns ASINs, best first."""

    def __init__(self, asins: Sequence[str]) -> None:
        self.asins = list(asins)

    @abstractmethod
    def _search(self, terms: list[str], k: int) -> list[int]:
        """Document indices of the ``k`` best matches of ``terms``, best first, ties by index."""

    def search(self, query: str, k: int = SEARCH_RETURN_N) -> list[str]:
        """The ASINs of the ``k`` best products for ``query`` (empty when it has no searchable word)."""
        terms = query_terms(query)
        return [self.asins[i] for i in self._search(terms, k)] if terms else []


class Fts5Index(SearchIndex):
    """SQLite FTS5 (standard library), in memory; one connection guarded by a lock (the server is threaded)."""

    def __init__(self, asins: Sequence[str], texts: Sequence[str]) -> None:
        super().__init__(asins)
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute("CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='porter unicode61')")
        self._db.executemany("INSERT INTO docs(rowid, body) VALUES (?, ?)", enumerate(texts))
        self._db.commit()
        self._lock = threading.Lock()

    def _search(self, terms: list[str], k: int) -> list[int]:
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs), rowid LIMIT ?", (match, k)
            ).fetchall()
        return [r[0] for r in rows]


class Bm25sIndex(SearchIndex):
    """``bm25s`` with Lucene's BM25 (k1=0.9, b=0.4) and the English Porter stemmer."""

    def __init__(self, asins: Sequence[str], texts: Sequence[str], *, k1: float = 0.9, b: float = 0.4) -> None:
        import bm25s
        import numpy as np
        import Stemmer

        super().__init__(asins)
        self._np = np
        self._stemmer = Stemmer.Stemmer("english")
        corpus = [[t for t in _TOKEN.findall(text) if t not in STOPWORDS] for text in texts]
        stems = self._stemmer.stemWords([t for doc in corpus for t in doc])
        vocab: dict[str, int] = {}
        ids: list[list[int]] = []
        pos = 0
        for doc in corpus:
            ids.append([vocab.setdefault(s, len(vocab)) for s in stems[pos : pos + len(doc)]])
            pos += len(doc)
        self._vocab = vocab
        self._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        self._bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        self._lock = threading.Lock()

    def _search(self, terms: list[str], k: int) -> list[int]:
        np = self._np
        ids = [self._vocab[s] for s in dict.fromkeys(self._stemmer.stemWords(terms)) if s in self._vocab]
        if not ids:
            return []
        with self._lock:
            scores = self._bm25.get_scores(ids)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:  # keep the k best (and every document tied with the k-th), then sort them exactly
            kth = np.partition(scores[hits], len(hits) - k)[len(hits) - k]
            hits = hits[scores[hits] >= kth]
        order = np.lexsort((hits, -scores[hits]))[:k]
        return [int(i) for i in hits[order]]


def make_index(products: Sequence[Mapping[str, Any]], backend: str = "bm25s") -> SearchIndex:
    """Index ``products`` with ``backend`` (one of :data:`BACKENDS`)."""
    asins = [p["asin"] for p in products]
    texts = [document_text(p) for p in products]
    if backend == "bm25s":
        return Bm25sIndex(asins, texts)
    if backend == "fts5":
        return Fts5Index(asins, texts)
    raise ValueError(f"unknown search backend {backend!r}; choose one of {BACKENDS}")
