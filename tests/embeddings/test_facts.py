"""The ``facts`` source: counts over the whole history, in one line."""

from __future__ import annotations

from llmrec.data.records import Interaction, InteractionDataset, Item
from llmrec.embeddings.sources import history_facts, join_sources, user_sources


def _dataset() -> InteractionDataset:
    items = [
        Item("a", "A", genres=("Drama",), year=1990),
        Item("b", "B", genres=("Drama", "Comedy"), year=1995),
        Item("c", "C", genres=("Comedy",), year=1970),
        Item("d", "D", genres=("Horror",), year=2000),
    ]
    rows = [
        Interaction("u", "a", timestamp=1.0, rating=5.0),
        Interaction("u", "b", timestamp=2.0, rating=4.0),
        Interaction("u", "c", timestamp=3.0, rating=2.0),
        Interaction("u", "d", timestamp=4.0, rating=1.0),
        Interaction("v", "d", timestamp=1.0, rating=3.0),
    ]
    return InteractionDataset(items, rows, name="hand-made")


def test_facts_count_the_whole_history():
    data = _dataset()
    # Drama 2/4, Comedy 2/4 (ties by name), Horror 1/4; years 1970, 1990, 1995, 2000 -> the
    # upper median 1995; ratings mean 3.0
    assert history_facts(data, "u") == (
        "4 movies; genres Comedy 50%, Drama 50%, Horror 25%; median year 1995; mean rating 3.0"
    )
    assert history_facts(data, "v", top_genres=1) == (
        "1 movies; genres Horror 100%; median year 2000; mean rating 3.0"
    )
    texts = user_sources(data, ["u", "v"], sources=("facts", "history"), max_history_tokens=6)
    assert texts["facts"][0].startswith("4 movies")
    joined = join_sources(texts)[0]
    assert joined.startswith("Facts: 4 movies") and "\nHistory (most recent first): D" in joined
