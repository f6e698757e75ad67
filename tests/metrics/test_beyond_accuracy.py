"""Beyond-accuracy metrics and LLM-output validity rates, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.metrics import evaluate
from llmrec.metrics.beyond_accuracy import (
    average_popularity,
    catalog_coverage,
    gini_index,
    intra_list_diversity,
    long_tail_items,
    long_tail_share,
    novelty,
)
from llmrec.metrics.llm_outputs import (
    TitleMatcher,
    duplicate_rate,
    hallucination_rate,
    in_history_rate,
    out_of_candidate_rate,
)

TOPK = np.array([[0, 1, 2], [0, 3, -1]])
POP = np.array([8, 4, 2, 1, 0])


def test_coverage_and_gini():
    assert catalog_coverage(TOPK, 5, k=3) == pytest.approx(4 / 5)
    assert catalog_coverage(TOPK, 5, k=1) == pytest.approx(1 / 5)
    # Exposures [2, 1, 1, 1, 0] sorted [0, 1, 1, 1, 2]: sum (2i - 6) x_i = 0 - 2 + 0 + 2 + 8.
    assert gini_index(TOPK, 5, k=3) == pytest.approx(8 / (5 * 5))
    assert gini_index(np.array([[0], [1], [2], [3], [4]]), 5, 1) == pytest.approx(0.0)


def test_popularity_metrics():
    np.testing.assert_allclose(average_popularity(TOPK, POP, 3), [14 / 3, 9 / 2])
    info = -np.log2(np.maximum(POP, 1) / 10)
    np.testing.assert_allclose(novelty(TOPK, POP, 10, 3), [info[:3].mean(), info[[0, 3]].mean()])
    np.testing.assert_array_equal(long_tail_items(POP, 0.2), [False, True, True, True, True])
    np.testing.assert_allclose(long_tail_share(TOPK, POP, 3), [2 / 3, 1 / 2])


def test_intra_list_diversity():
    emb = np.array([[1.0, 0], [0, 1.0], [1.0, 1.0], [2.0, 0]])
    topk = np.array([[0, 1], [0, 3], [0, 1, 2][:2]])
    np.testing.assert_allclose(intra_list_diversity(topk, emb, 2), [1.0, 0.0, 1.0])
    three = intra_list_diversity(np.array([[0, 1, 2]]), emb, 3)
    c = 1 / np.sqrt(2)
    np.testing.assert_allclose(three, [((1 - 0) + (1 - c) + (1 - c)) / 3])


def test_registry_errors_list_valid_names():
    with pytest.raises(ValueError, match=r"unknown metric 'ndgc@10'; valid: hr@k, recall@k"):
        evaluate(["ndgc@10"], ranks=np.array([1.0]))
    with pytest.raises(ValueError, match="needs a cut-off"):
        evaluate(["ndcg"], ranks=np.array([1.0]))
    with pytest.raises(ValueError, match="needs input"):
        evaluate(["coverage@10"], ranks=np.array([1.0]))
    out = evaluate(["coverage@3", "arp@3"], topk=TOPK, n_items=5, popularity=POP)
    assert out["coverage@3"] == pytest.approx(0.8)


def test_title_matching_is_explicit():
    titles = {"1": "Usual Suspects, The (1995)", "2": "Amélie (2001)", "3": "Heat (1995)"}
    m = TitleMatcher.from_titles(titles)
    assert m.match("The Usual Suspects") == "1"
    assert m.match("amelie") == "2"
    assert m.match("Heat!") == "3"
    assert m.match("Heated") is None
    strict = TitleMatcher.from_titles(titles, strip_accents=False, strip_year=False)
    assert strict.match("amelie") is None
    fuzzy = TitleMatcher.from_titles(titles, fuzzy_cutoff=0.8)
    assert fuzzy.match("The Usual Suspect") == "1"


def test_llm_output_rates():
    matched = [["1", None, "1", "2"], [None, None], []]
    np.testing.assert_allclose(hallucination_rate(matched), [1 / 4, 1.0, 0.0])
    np.testing.assert_allclose(duplicate_rate(matched), [1 / 3, 0.0, 0.0])
    np.testing.assert_allclose(in_history_rate(matched, [{"2"}, set(), set()]), [1 / 3, 0, 0])
    cands = [["1", "3"], ["1"], []]
    np.testing.assert_allclose(out_of_candidate_rate(matched, cands), [1 / 3, 0, 0])
    with pytest.raises(ValueError, match="3 lists but 1 histories"):
        in_history_rate(matched, [{"2"}])


def test_llm_output_rates_together():
    from llmrec.metrics.llm_outputs import llm_output_rates

    m = TitleMatcher.from_titles({"1": "Heat (1995)", "2": "Fargo (1996)"})
    out = llm_output_rates([["Heat", "fargo", "Nope"]], m, histories=[{"1"}], candidates=[{"2"}])
    np.testing.assert_allclose(out["hallucination_rate"], [1 / 3])
    np.testing.assert_allclose(out["in_history_rate"], [1 / 2])
    np.testing.assert_allclose(out["out_of_candidate_rate"], [1 / 2])
