"""Structured profiles: extraction, local fixes, validation, and the bounded repair loop."""

from __future__ import annotations

import json

import pytest

from llmrec.profiles import ProfileBuilder, StructuredProfile, parse_structured

GOOD = {"liked_genres": ["Comedy"], "disliked_genres": ["Horror"], "summary": "Likes to laugh."}


@pytest.mark.parametrize(
    ("reply", "liked", "note"),
    [
        (json.dumps(GOOD), ["Comedy"], None),
        ("Sure! Here it is:\n```json\n" + json.dumps(GOOD) + "\n```\nEnjoy.", ["Comedy"], None),
        ('{"liked_genres": ["Comedy", "Drama",], "summary": "x"}', ["Comedy", "Drama"], "fixed"),
        ("{'liked_genres': ['Comedy'], 'summary': None}", ["Comedy"], "fixed"),
        ('{"liked_genres": "Comedy, Drama; Sci-Fi"}', ["Comedy", "Drama", "Sci-Fi"], None),
        # cut by the token limit: the partial last genre is dropped, not kept as a fragment
        ('{"liked_genres": ["Comedy", "Dra', ["Comedy"], "closed"),
        ('{"liked_genres": ["Comedy"], "summary": "Likes to la', ["Comedy"], "closed"),
    ],
)
def test_parse_accepts_and_fixes(reply, liked, note):
    result = parse_structured(reply)
    assert result.error is None
    assert result.profile.liked_genres == liked
    assert (result.note is None) if note is None else note in result.note


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("I cannot do that.", "no JSON object"),
        ("{}", "empty"),
        ('{"liked_genres": [], "summary": "  "}', "empty"),
        ('{"liked_genres": ["Comedy"] "summary": "x"}', "invalid JSON"),
    ],
)
def test_parse_rejects_with_a_reason(reply, error):
    result = parse_structured(reply)
    assert result.profile is None
    assert error in result.error


def test_to_text_and_coercions():
    p = StructuredProfile(liked_genres="Drama", style="harsh critic", behaviour=["binges", "late"])
    assert p.style == ["harsh critic"] and p.behaviour == "binges; late"
    assert StructuredProfile(liked_genres=["Drama", "drama", "Comedy", "Drama"]).liked_genres == [
        "Drama",
        "Comedy",
    ]
    assert p.to_text() == "Likes genres: Drama. Style: harsh critic. Behaviour: binges; late."


def test_invalid_reply_is_repaired_by_regeneration(scripted, small_dataset):
    def reply(chat, j):
        if "not valid" in chat[-1]["content"]:  # the repair prompt
            return json.dumps(GOOD)
        return "The user likes comedy."  # no JSON at all

    backend = scripted(reply)
    records = ProfileBuilder(backend, "whole", format="structured", max_repairs=2).build(
        small_dataset, ["a"]
    )
    assert records[0].ok and records[0].attempts == 2
    assert records[0].structured["liked_genres"] == ["Comedy"]
    assert "valid after 1 regeneration" in records[0].error
    repair_prompt = backend.chats[-1][-1]["content"]
    assert "no JSON object found" in repair_prompt and "The user likes comedy." in repair_prompt


def test_profile_that_never_validates_is_recorded_failed_with_raw_text(scripted, small_dataset):
    backend = scripted(lambda chat, j: f"still no json ({len(backend.chats)})")
    builder = ProfileBuilder(backend, "whole", format="structured", max_repairs=2)
    [record] = builder.build(small_dataset, ["b"])
    assert record.status == "failed" and record.attempts == 3
    assert record.text == "" and record.structured is None
    assert record.raw == "still no json (3)"  # the last reply, verbatim
    assert "no JSON object" in record.error
    assert len(backend.chats) == 3  # one generation + max_repairs regenerations, no more
