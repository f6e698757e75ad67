"""The profile builder on the tiny model: records, provenance, leakage, sampling."""

from __future__ import annotations

from llmrec.data.splits import leave_one_out
from llmrec.profiles import ProfileBuilder, sample_profile_records, sample_profiles

from .conftest import SAMPLED


def test_records_follow_user_order_and_carry_provenance(tiny_profile_backend, small_dataset):
    builder = ProfileBuilder(tiny_profile_backend, strategy="recent", params=SAMPLED)
    records = builder.build(small_dataset, ["b", "c", "a"])
    assert [r.user_id for r in records] == ["b", "c", "a"]
    b, c, a = records
    assert a.ok and b.ok and a.text and a.text == a.raw
    assert a.prompt == "profile/free_text@v1"
    assert a.strategy == "recent(last_n=20, days=None)"
    assert a.model == tiny_profile_backend.fingerprint
    assert (a.n_interactions, b.n_interactions) == (10, 3)
    # no history: recorded as failed, never invented, and no model call made for it
    assert c.status == "failed" and c.error == "no training interactions" and c.attempts == 0


def test_only_training_interactions_reach_the_prompt(small_dataset, scripted):
    split = leave_one_out(small_dataset)  # a: test = Film 9, valid = Film 8
    backend = scripted(lambda chat, j: "profile")
    [record] = ProfileBuilder(backend, strategy="whole").build(split.train, ["a"])
    prompt = backend.chats[0][-1]["content"]
    assert "<<<Film 7>>>" in prompt
    assert "<<<Film 8>>>" not in prompt and "<<<Film 9>>>" not in prompt
    assert record.n_interactions == 8


def test_empty_free_reply_is_a_failure(small_dataset, scripted):
    [record] = ProfileBuilder(scripted(lambda chat, j: "   "), strategy="whole").build(
        small_dataset, ["a"]
    )
    assert record.status == "failed" and record.error == "empty reply" and record.raw == "   "


def test_sample_profiles_n_per_user_reproducible_and_batch_independent(
    tiny_profile_backend, small_dataset
):
    kwargs = {"n": 3, "temperature": 1.0, "seed": 4, "strategy": "recent", "max_new_tokens": 10}
    both = sample_profiles(tiny_profile_backend, small_dataset, ["a", "b"], **kwargs)
    assert set(both) == {"a", "b"} and all(len(v) == 3 for v in both.values())
    assert len(set(both["a"])) == 3  # three different samples
    alone = sample_profiles(tiny_profile_backend, small_dataset, ["b"], **kwargs)
    assert alone["b"] == both["b"]
    other = sample_profiles(tiny_profile_backend, small_dataset, ["b"], **{**kwargs, "seed": 5})
    assert other["b"] != both["b"]
    records = sample_profile_records(tiny_profile_backend, small_dataset, ["c"], **kwargs)
    assert [r.status for r in records["c"]] == ["failed"] * 3
