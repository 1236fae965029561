"""Text for the scorer: a cached word parser, stable hashed token ids, and a pooled embedding encoder.

Words are hashed into a fixed number of buckets (CRC-32, stable across processes, unlike Python's ``hash``), so
an object type never seen in training still gets an id and the encoder never fails on new text. Every distinct
text is parsed once (`TextCache`): ALFWorld repeats its commands and observations constantly, and parsing is
most of the CPU cost of a step.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["STOPWORDS", "ParsedText", "TextCache", "TextEncoder", "words_of"]

_WORD_RE = re.compile(r"[a-z]+|\d+")
#: Function words that say nothing about which object or receptacle a text is about.
STOPWORDS = frozenset(
    "a an the some any of to in on from with and it its is are at you your see nothing this that there "
    "then into onto for by as be".split()
)


#: Verbs that name one act: a task-level subgoal says "put mug 1 in/on cabinet", ALFWorld's command for it is
#: "move mug 1 to cabinet 3". Applied to content words only (the hashed ids keep the text's own words).
SYNONYMS = {"move": "put", "place": "put"}


def _stem(word: str) -> str:
    # "apples" -> "apple", "tomatoes" -> "tomatoe": the same rule on both sides is all overlap needs.
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def words_of(text: str) -> list[str]:
    """Lower-cased, stemmed words and numbers of ``text``."""
    return [_stem(w) for w in _WORD_RE.findall(text.lower())]


@dataclass(frozen=True)
class ParsedText:
    """One text as the scorer sees it.

    Attributes:
        ids: Hashed token ids (words, then word bigrams when enabled), int64.
        content: Content words (no stopwords, no numbers): what overlap features compare.
        entities: Numbered objects ("cabinet 1"), which tell instances of one type apart.
        head: The first content word, synonyms mapped ("move mug 1 to shelf 1" -> "put"): a command's verb.
    """

    ids: np.ndarray
    content: frozenset[str]
    entities: frozenset[str]
    head: str = ""


class TextCache:
    """Parses each distinct text once; bounded (cleared when it holds ``max_size`` texts)."""

    def __init__(self, num_buckets: int, *, bigrams: bool = True, max_size: int = 200_000) -> None:
        self.num_buckets, self.bigrams, self.max_size = num_buckets, bigrams, max_size
        self._cache: dict[str, ParsedText] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def _bucket(self, token: str) -> int:
        return zlib.crc32(token.encode()) % self.num_buckets

    def parse(self, text: str) -> ParsedText:
        """The cached `ParsedText` of ``text``."""
        parsed = self._cache.get(text)
        if parsed is None:
            if len(self._cache) >= self.max_size:
                self._cache.clear()
            words = words_of(text)
            pairs = list(itertools.pairwise(words))
            tokens = words + ([f"{a} {b}" for a, b in pairs] if self.bigrams else [])
            entities = frozenset(f"{a} {b}" for a, b in pairs if b.isdigit() and not a.isdigit())
            content = [SYNONYMS.get(w, w) for w in words if w not in STOPWORDS and not w.isdigit()]
            parsed = ParsedText(
                ids=np.fromiter((self._bucket(t) for t in tokens), dtype=np.int64, count=len(tokens)),
                content=frozenset(content),
                entities=entities,
                head=content[0] if content else "",
            )
            self._cache[text] = parsed
        return parsed


class TextEncoder(nn.Module):
    """Mean of hashed token embeddings (an ``EmbeddingBag``): one call embeds a whole batch of texts.

    Mean pooling over words and bigrams is what runs fast on two cores; order-sensitive detail ("take X from
    Y" vs "put X in Y") is carried by the bigrams and by the overlap features the heads receive.
    """

    def __init__(self, num_buckets: int, dim: int) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(num_buckets, dim, mode="mean")
        nn.init.normal_(self.bag.weight, std=0.1)

    def forward(self, parsed: Sequence[ParsedText]) -> torch.Tensor:
        """``(len(parsed), dim)`` embeddings; an empty text embeds to zeros."""
        device = self.bag.weight.device
        lengths = [len(p.ids) for p in parsed]
        ids = torch.from_numpy(np.concatenate([p.ids for p in parsed]) if parsed else np.zeros(0, np.int64))
        offsets = torch.tensor([0, *np.cumsum(lengths)[:-1].tolist()] if parsed else [], dtype=torch.long)
        return self.bag(ids.to(device), offsets.to(device))
