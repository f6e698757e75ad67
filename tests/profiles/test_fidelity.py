"""Profile fidelity against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data.records import Interaction, InteractionDataset, Item
from llmrec.profiles.fidelity import (
    Gold,
    count_baseline,
    fidelity_table,
    genre_mentions,
    heldout_gold,
    per_user,
    polar_mentions,
    record_stated,
)
from llmrec.profiles.schema import ProfileRecord

GENRES = ["Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]


def test_genre_mentions_handle_inflections_and_word_bounds():
    text = "Loves comedies and science fiction, romantic films; not dramatically hard to please."
    assert genre_mentions(text, GENRES) == ["Comedy", "Romance", "Sci-Fi"]
    assert genre_mentions("SCI-FI and Horror", GENRES) == ["Horror", "Sci-Fi"]


def test_polarity_keeps_dislikes_out_of_likes():
    text = "Loves comedies but hates horror. Rarely watches dramas; enjoys romance."
    assert polar_mentions(text, GENRES) == (["Comedy", "Romance"], ["Drama", "Horror"])


def _train():
    items = [Item(f"i{k}", f"T{k}", genres=(g,)) for k, g in enumerate(GENRES)]
    rows = [("x", "i0", 5), ("x", "i0", 4), ("x", "i1", 4), ("x", "i2", 1), ("x", "i3", 3)]
    return InteractionDataset(
        items, [Interaction(u, i, float(k), float(r)) for k, (u, i, r) in enumerate(rows)]
    )


def test_count_baseline_ranks_genres_of_four_and_five_star_items():
    assert count_baseline(_train(), "x") == (["Comedy", "Drama"], [])
    assert count_baseline(_train(), "x", k=1) == (["Comedy"], [])


def test_per_user_measures_and_table_equal_hand_computed_values():
    gold = {
        "x": Gold(frozenset({"Comedy", "Drama"}), frozenset({"Horror"}), "Drama", "Sci-Fi"),
        "y": Gold(frozenset({"Romance"})),
    }
    stated = {"x": (["Comedy", "Horror", "Sci-Fi"], []), "y": ([], ["Romance"])}
    values = per_user(stated, gold)
    np.testing.assert_allclose(values["recall"], [1 / 2, 0.0])
    np.testing.assert_allclose(values["precision"], [1 / 3, 0.0])
    np.testing.assert_allclose(values["disliked_as_liked"], [1.0, np.nan])
    np.testing.assert_allclose(values["drift_new"], [0.0, np.nan])
    np.testing.assert_allclose(values["drift_dropped"], [0.0, np.nan])
    table = fidelity_table({"sys": stated}, gold, n_resamples=50)
    assert table["users"] == 2 and table["users_per_measure"]["drift_new"] == 1
    assert table["systems"]["sys"]["recall"]["value"] == pytest.approx(0.25)
    assert table["named_liked"]["sys"] == pytest.approx(1.5)


def test_records_are_read_by_field_or_by_polarity():
    free = ProfileRecord("x", "ok", "Loves comedies but hates horror.", "raw")
    structured = ProfileRecord(
        "x", "ok", "t", "raw", structured={"liked_genres": ["Drama"], "disliked_genres": ["Sci-Fi"]}
    )
    failed = ProfileRecord("x", "failed", "", "Comedy")
    assert record_stated(free, GENRES) == (["Comedy"], ["Horror"])
    assert record_stated(structured, GENRES) == (["Drama"], ["Sci-Fi"])
    assert record_stated(failed, GENRES) == ([], [])


def test_heldout_gold_reads_only_the_held_out_part():
    items = [Item(f"i{k}", f"T{k}", genres=(g,)) for k, g in enumerate(GENRES)]
    rows = [("x", "i0", 5), ("x", "i0", 4), ("x", "i1", 5), ("x", "i2", 1), ("x", "i2", 2)]
    held = InteractionDataset(
        items, [Interaction(u, i, float(k), float(r)) for k, (u, i, r) in enumerate(rows)]
    )
    gold = heldout_gold(held, ["x"])  # Comedy: 2 of 3 liked items; Drama: 1 (< min_items)
    assert gold["x"] == Gold(frozenset({"Comedy"}), frozenset({"Horror"}))
