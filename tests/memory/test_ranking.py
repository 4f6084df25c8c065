"""The BM25 index over one user's facts: words, scores, and facts taken in and out."""

from __future__ import annotations

import math

import pytest

from src.memory.ranking import BM25Index, terms


def index_of(**docs: str) -> BM25Index:
    index = BM25Index()
    for key, text in docs.items():
        index.add(key, text)
    return index


def test_terms_fold_case_drop_stopwords_and_a_plural_s() -> None:
    assert terms("My KIDS go to the Schools in Lyon") == ["kid", "go", "school", "lyon"]
    assert terms("Ich mag Käse, ÇA VA") == ["ich", "mag", "käse", "ça", "va"]
    assert terms("glass bus") == ["glass", "bus"]  # -ss and short words keep their s
    assert terms("...!?") == []


def test_the_fact_that_shares_the_rare_word_ranks_first() -> None:
    index = index_of(
        diet="The user is vegetarian and eats no fish",
        kids="Her kids go to Jules Ferry school",
        car="She drives a blue car to work",
        work="She works as a nurse at the hospital",
    )
    best = index.search("which school do my kids attend?", 2)
    assert [key for _, key in best] == ["kids"]  # only one fact shares a word
    assert [key for _, key in index.search("vegetarian recipes", 5)] == ["diet"]
    assert index.search("completely unrelated words", 5) == []


def test_a_rarer_word_counts_more_and_a_longer_fact_a_little_less() -> None:
    index = index_of(
        a="coffee in the morning",
        b="coffee with milk",
        c="coffee beans from Kenya",
        d="tea with lemon",
    )
    scores = index.scores("coffee kenya")
    assert max(scores, key=lambda key: scores[key]) == "c"
    assert set(scores) == {"a", "b", "c"}
    assert all(score > 0 for score in scores.values())
    # Two facts with the same word once: the shorter scores higher.
    short_long = index_of(s="coffee", l="coffee every single morning before work")
    both = short_long.scores("coffee")
    assert both["s"] > both["l"] > 0


def test_scores_are_okapi_bm25_with_lucene_idf() -> None:
    index = index_of(a="apple banana", b="banana cherry cherry", c="date")
    n, df, avg = 3, 2, (2 + 3 + 1) / 3
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    expected_b = idf * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 3 / avg))
    assert index.scores("banana")["b"] == pytest.approx(expected_b)


def test_remove_and_re_add_keep_the_index_exact() -> None:
    index = index_of(a="red apple", b="green apple", c="blue sky")
    index.remove("a")
    index.remove("missing")  # nothing to do
    assert len(index) == 2 and "a" not in index
    assert set(index.scores("apple red")) == {"b"}
    index.add("b", "yellow banana")  # a new text for the same id replaces the old one
    assert index.scores("apple") == {}
    assert set(index.scores("banana")) == {"b"}
    fresh = index_of(b="yellow banana", c="blue sky")
    assert index.scores("banana sky") == pytest.approx(fresh.scores("banana sky"))
    for key in ("b", "c"):
        index.remove(key)
    assert len(index) == 0 and index.scores("sky") == {}
