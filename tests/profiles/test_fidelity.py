"""Liked-genre fidelity against hand-computed values."""

from __future__ import annotations

import pytest

from llmrec.data.records import Interaction, InteractionDataset, Item
from llmrec.data.synthetic import GoldProfile
from llmrec.profiles.fidelity import genre_mentions, liked_genre_fidelity, popular_genres
from llmrec.profiles.schema import ProfileRecord

GENRES = ["Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]


def test_genre_mentions_handle_inflections_and_word_bounds():
    text = "Loves comedies and science fiction, romantic films; not dramatically hard to please."
    assert genre_mentions(text, GENRES) == ["Comedy", "Romance", "Sci-Fi"]
    assert genre_mentions("SCI-FI and Horror", GENRES) == ["Horror", "Sci-Fi"]


def test_fidelity_equals_hand_computed_means():
    items = [
        Item("i1", "A", genres=("Comedy",)),
        Item("i2", "B", genres=("Drama",)),
        Item("i3", "C", genres=("Horror",)),
        Item("i4", "D", genres=("Romance",)),
    ]
    rows = [
        ("x", "i1"),
        ("x", "i2"),
        ("y", "i1"),
        ("y", "i2"),
        ("y", "i4"),
        ("z", "i1"),
        ("z", "i3"),
    ]
    train = InteractionDataset(
        items, [Interaction(u, i, timestamp=float(k)) for k, (u, i) in enumerate(rows)]
    )
    assert popular_genres(train)[:2] == ["Comedy", "Drama"]
    gold = {
        "x": GoldProfile("x", ("Comedy", "Drama"), ()),
        "y": GoldProfile("y", ("Drama", "Romance"), ()),
        "z": GoldProfile("z", ("Comedy",), ()),
    }
    records = {
        "x": ProfileRecord("x", "ok", "Loves comedies but hates horror.", "raw"),
        "y": ProfileRecord(
            "y",
            "ok",
            "t",
            "raw",
            structured={"liked_genres": ["Drama"], "disliked_genres": ["Comedy"]},
        ),
        "z": ProfileRecord("z", "failed", "", "garbage"),
    }
    report = liked_genre_fidelity(records, gold, train, GENRES)
    assert report.users == 3 and report.failed == 1
    assert report.recall == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert report.precision == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert report.genres_named == pytest.approx(1.0)
    assert report.popular_recall == pytest.approx((1 + 1 / 2 + 1) / 3)  # top-2, top-2, top-1
    assert report.history_recall == pytest.approx((1 + 1 / 2 + 1) / 3)
