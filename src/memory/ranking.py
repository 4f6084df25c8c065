"""A small BM25 index over one user's facts, kept in memory and changed fact by fact.

Why not a library: rank-bm25 and bm25s both need numpy (bm25s also scipy), which this
project does not otherwise install, and both build a static index over a fixed corpus, so
every remember or forget would rebuild it. Here an inverted index (term -> fact -> count)
takes a fact in or out in time proportional to its length, and a query scores only the
facts that share a term with it. No network, no model, no stemmer download: words are
Unicode word characters, case-folded, with a plural "s" and a few common English words
dropped.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter

K1 = 1.2
B = 0.75
_WORD = re.compile(r"\w+")
STOPWORDS = frozenset(
    "an and are as at be but by do does did for from has have had he her his in is it its me "
    "my of on or our she so that the their them they this to was we were what when where "
    "which who will with you your user".split()  # facts are often about "the user"
)


def terms(text: str) -> list[str]:
    """The words BM25 counts: case-folded, a trailing plural "s" removed; stopwords and
    single Latin letters (the "s" of "Emma's", the "t" of "don't") out."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    found = []
    for word in words:
        if word in STOPWORDS or (len(word) == 1 and word.isascii() and word.isalpha()):
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.append(word)
    return found


class BM25Index:
    """Documents by id; `search` returns (score, id) pairs, best first."""

    def __init__(self) -> None:
        self._postings: dict[str, dict[str, int]] = {}
        self._lengths: dict[str, int] = {}
        self._terms_of: dict[str, tuple[str, ...]] = {}
        self._total = 0

    def __len__(self) -> int:
        return len(self._lengths)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._lengths

    def add(self, doc_id: str, text: str) -> None:
        if doc_id in self._lengths:
            self.remove(doc_id)
        counts = Counter(terms(text))
        for term, count in counts.items():
            self._postings.setdefault(term, {})[doc_id] = count
        length = sum(counts.values())
        self._lengths[doc_id] = length
        self._total += length
        self._terms_of[doc_id] = tuple(counts)

    def remove(self, doc_id: str) -> None:
        length = self._lengths.pop(doc_id, None)
        if length is None:
            return
        self._total -= length
        for term in self._terms_of.pop(doc_id, ()):
            posting = self._postings.get(term)
            if posting is not None:
                posting.pop(doc_id, None)
                if not posting:
                    del self._postings[term]

    def scores(self, query: str) -> dict[str, float]:
        """Every document sharing a term with `query`, with its BM25 score (always > 0)."""
        count = len(self._lengths)
        if not count:
            return {}
        average = self._total / count or 1.0
        scores: dict[str, float] = {}
        for term in set(terms(query)):
            posting = self._postings.get(term)
            if not posting:
                continue
            # Lucene's idf: never negative, so a word most facts share still counts a little.
            idf = math.log(1 + (count - len(posting) + 0.5) / (len(posting) + 0.5))
            for doc_id, frequency in posting.items():
                norm = K1 * (1 - B + B * self._lengths[doc_id] / average)
                gain = idf * frequency * (K1 + 1) / (frequency + norm)
                scores[doc_id] = scores.get(doc_id, 0.0) + gain
        return scores

    def search(self, query: str, limit: int) -> list[tuple[float, str]]:
        """The `limit` best (score, id) pairs, best first."""
        found = self.scores(query)
        return heapq.nlargest(limit, ((score, doc) for doc, score in found.items()))
