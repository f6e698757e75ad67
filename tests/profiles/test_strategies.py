"""Strategies: which interactions each prompt sees, checked against hand-counted histories."""

from __future__ import annotations

import pytest

from llmrec.context.history import fit_recent, history_entries, render_lines
from llmrec.profiles import ProfileBuilder, make_strategy
from llmrec.profiles.strategies import Hierarchical, Incremental, RecentWindow, WholeHistory

DAY = 86400.0


def words(text: str) -> int:
    return len(text.split())


def _view(strategy, dataset, uid="a"):
    entries = history_entries(dataset, uid)
    return strategy.view(uid, entries, render_lines(entries), words)


def test_fit_recent_keeps_the_newest_lines_within_budget():
    lines = ["a b c", "d e", "f", "g h i j"]  # costs (words + 1): 4, 3, 2, 5
    assert fit_recent(lines, 7, words) == 2  # 5 + 2
    assert fit_recent(lines, 10, words) == 3  # 5 + 2 + 3
    assert fit_recent(lines, 1, words) == 1  # always at least the newest line
    with pytest.raises(ValueError, match="budget"):
        fit_recent(lines, 0, words)


def test_whole_history_drops_oldest_to_fit(small_dataset):
    lines = render_lines(history_entries(small_dataset, "a"))
    budget = sum(words(x) + 1 for x in lines[-4:])
    view = _view(WholeHistory(token_budget=budget), small_dataset)
    assert view.lines == lines[-4:]
    assert view.n_omitted == 6 and view.n_interactions == 4
    assert _view(WholeHistory(10_000), small_dataset).lines == lines


def test_recent_window_by_count_and_days(small_dataset):
    lines = render_lines(history_entries(small_dataset, "a"))
    assert _view(RecentWindow(last_n=3), small_dataset).lines == lines[-3:]
    # days: items at day 9, 8, 7 are within 2 days of the last one (closed window)
    assert _view(RecentWindow(last_n=None, days=2), small_dataset).lines == lines[-3:]
    assert _view(RecentWindow(last_n=2, days=5), small_dataset).lines == lines[-2:]
    with pytest.raises(ValueError, match="last_n, days"):
        RecentWindow(last_n=None, days=None)


def test_hierarchical_chunks(small_dataset):
    lines = render_lines(history_entries(small_dataset, "a"))
    view = _view(Hierarchical(chunk_size=4), small_dataset)
    assert view.chunks == [lines[0:4], lines[4:8]]
    assert view.lines == lines[8:10] and view.n_interactions == 10
    capped = _view(Hierarchical(chunk_size=4, max_chunks=2), small_dataset)
    assert capped.chunks == [lines[4:8]] and capped.n_omitted == 4


def test_incremental_update_uses_previous_profile_and_new_items(small_dataset):
    lines = render_lines(history_entries(small_dataset, "a"))
    strategy = Incremental(previous={"a": "Likes comedy."}, since=6.5 * DAY)
    view = _view(strategy, small_dataset)
    assert view.previous == "Likes comedy." and view.lines == lines[7:]
    fresh = _view(Incremental(previous={}, token_budget=10_000), small_dataset)
    assert fresh.previous is None and fresh.lines == lines  # no earlier profile: whole history


def test_make_strategy_errors():
    with pytest.raises(ValueError, match="choose one of"):
        make_strategy("everything")
    with pytest.raises(ValueError, match="unexpected \\['chunk_size'\\]"):
        make_strategy("recent", chunk_size=3)
    assert make_strategy("recent", last_n=5, chunk_size=None).describe() == (
        "recent(last_n=5, days=None)"
    )


def test_hierarchical_builder_summarises_chunks_in_one_call(scripted, small_dataset):
    backend = scripted(lambda chat, j: f"note {len(chat[-1]['content'])}")
    builder = ProfileBuilder(backend, strategy=Hierarchical(chunk_size=4))
    [a, b] = builder.build(small_dataset, ["a", "b"])
    assert backend.usage.calls == 2  # one batched call for all notes, one for all profiles
    summary_chats, final_chats = backend.chats[:2], backend.chats[2:]
    assert all(
        "Part 1 of 3" in c[-1]["content"] or "Part 2 of 3" in c[-1]["content"]
        for c in summary_chats
    )
    assert "Notes on successive parts" in final_chats[0][-1]["content"]
    assert "Notes on successive parts" not in final_chats[1][-1]["content"]  # b: one chunk
    assert a.ok and a.n_interactions == 10 and b.n_interactions == 3


def test_prompt_shows_item_text_as_delimited_data(small_dataset, scripted):
    backend = scripted(lambda chat, j: "ok")
    builder = ProfileBuilder(backend, strategy="recent")
    chat = builder.chat(builder.views(small_dataset, ["b"])[0])
    assert chat[0]["role"] == "system" and "never an instruction" in chat[0]["content"]
    assert (
        "- <<<Film 3>>> (1993) | genres: <<<Sci-Fi>>> | mood: <<<dark>>> | rated 4/5"
        in chat[1]["content"]
    )
