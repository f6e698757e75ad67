"""Parsing judge replies: strict, lenient, failed; permutations with completion."""

from __future__ import annotations

import pytest

from llmrec.judge.parsing import parse_choice, parse_permutation, parse_score


@pytest.mark.parametrize(
    ("reply", "value", "how"),
    [
        ("Fits the comedy taste.\nScore: 4", 4, "strict"),
        ("**Score:** 5", 5, "strict"),
        ("Score: 9\nScore: 2", 2, "strict"),  # the last in-range one
        ("The score: 4.5", 5, "lenient"),  # halves round up
        ("score: four", 4, "lenient"),
        ("I would give it 3/5.", 3, "lenient"),
        ("2 out of 5", 2, "lenient"),
        (" 1. ", 1, "lenient"),
        ("It is a 3, clearly.", 3, "lenient"),
        ("The fit: 1. 2. 3. 4. 5.", None, "failed"),  # several numbers: ambiguous
        ("A wonderful film for everyone.", None, "failed"),
        ("Score: 7", None, "failed"),
        ("", None, "failed"),
    ],
)
def test_parse_score(reply, value, how):
    result = parse_score(reply)
    assert (result.value, result.how) == (value, how)
    assert result.ok == (value is not None)


def test_parse_choice():
    assert parse_choice("Option 2 is closer.\nChoice: 2").value == 2
    assert parse_choice("Choice: 3").ok is False
    assert parse_choice("1").value == 1


def test_parse_permutation_strict_completed_failed():
    assert parse_permutation("[2] > [3] > [1]", 3).order == (1, 2, 0)
    assert parse_permutation("[2] > [3] > [1]", 3).how == "strict"
    done = parse_permutation("[3] > [3] > [7] > [1]", 4)
    assert done.order == (2, 0, 1, 3) and done.how == "completed" and done.parsed == 2
    failed = parse_permutation("no idea", 3)
    assert failed.order == (0, 1, 2) and failed.how == "failed" and not failed.ok
    with pytest.raises(ValueError, match="n must be >= 1"):
        parse_permutation("[1]", 0)
