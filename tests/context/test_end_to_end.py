"""``llmrec profile`` output feeds the embedder, the judge, the reranker and DPO unchanged.

One synthetic world on disk, one profile file written by the CLI with the tiny random Llama;
every consumer reads that file as it is.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from llmrec.cli.main import main
from llmrec.context import AnswerScale, AnswerScorer, read_profile_file
from llmrec.prompts import untrusted

NEW_TOKENS = 12
LAST_N = 5


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from llmrec.data import leave_one_out, load_dataset
    from llmrec.data.export import write_tables
    from llmrec.data.synthetic import SyntheticConfig, generate_world

    folder = tmp_path_factory.mktemp("world")
    world = generate_world(SyntheticConfig(n_users=10, n_items=40, mean_history=8, seed=3))
    write_tables(world.dataset, folder)
    return folder, leave_one_out(load_dataset(folder))


def _profile_cli(folder, model, out, *extra) -> None:
    code = main(
        ["profile", "--data", str(folder), "--model", model, "--out", str(out),
         "--strategy", "recent", "--last-n", str(LAST_N), "--max-new-tokens", str(NEW_TOKENS),
         "--temperature", "1.0", "--seed", "0", "--no-cache", "--quiet", *extra]
    )  # fmt: skip
    assert code == 0


@pytest.fixture(scope="module")
def profile_file(world, tiny_llama_path, tmp_path_factory):
    folder, _ = world
    out = tmp_path_factory.mktemp("profiles") / "profiles.jsonl"
    _profile_cli(folder, tiny_llama_path, out)
    return out


def test_the_file_is_read_as_written(profile_file, world):
    from llmrec.profiles import read_profiles

    _, split = world
    records = read_profiles(profile_file)
    read = read_profile_file(profile_file)
    assert read.texts == {u: r.text for u, r in records.items() if r.ok}
    assert set(read.failed) == {u for u, r in records.items() if not r.ok}
    assert set(records) == set(split.train.active_users())
    assert len(read.texts) >= 8  # the tiny random model writes (gibberish) text for most


def test_embed_users_takes_the_file(profile_file, world, tmp_path):
    from llmrec.embeddings.encoder import UserEncoder
    from llmrec.embeddings.store import EmbeddingTable

    folder, split = world
    out = tmp_path / "users.parquet"
    code = main(
        ["embed", "users", "--data", str(folder), "--sources", "profile", "history",
         "--profiles", str(profile_file), "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    table = EmbeddingTable.load(out)
    encoder = UserEncoder.load("all-minilm-l6-v2", sources=("profile", "history"))
    texts = read_profile_file(profile_file).texts
    direct = encoder.encode_users(split.train, list(table.ids), profiles=texts)
    np.testing.assert_allclose(table.vectors, direct.vectors, atol=1e-5)
    without = encoder.encode_users(split.train, list(table.ids), profiles={})
    assert np.abs(table.vectors - without.vectors).max() > 1e-3  # the profiles were used


def test_judge_validate_takes_the_file(profile_file, world, tiny_llama_path, tmp_path):
    from llmrec.context import UserContext
    from llmrec.judge import PointwiseJudge

    folder, split = world
    out = tmp_path / "judge"
    code = main(
        ["judge", "validate", "--data", str(folder), "--model", tiny_llama_path,
         "--profiles", str(profile_file), "--views", "profile", "--users", "4",
         "--candidates", "2", "--n-boot", "20", "--calibrator", "none", "--no-pairwise",
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    result = json.loads((out / f"validate_{folder.name}_logprob.json").read_text())
    assert result["users"] == 4 and result["judgments_per_view"] == 12
    assert result["profiles"]["users"] == 10
    # what the judge is shown is the file's text, delimited
    ctx = UserContext.from_profile_file(profile_file)
    user, text = next(iter(ctx.profiles.items()))
    judge = PointwiseJudge(_tiny(tiny_llama_path), ctx)
    chat = judge.chat(user, split.train.items[split.train.item_ids[0]])
    assert untrusted(text, 1500) in chat[-1]["content"]


def _tiny(path):
    from llmrec.backends.hf import TransformersBackend

    return TransformersBackend(path, device="cpu", batch_size=32)


def test_llm_reranker_takes_the_file(profile_file, world, tiny_llama_path):
    from llmrec.evaluation.recommenders import build_recommender

    _, split = world
    rec = build_recommender(
        "llm_reranker",
        {"backend": tiny_llama_path, "profiles": str(profile_file), "n_candidates": 3,
         "base": {"type": "most_popular"}},
    )  # fmt: skip
    assert rec.profiles == read_profile_file(profile_file).texts
    rec.fit(split.train)
    uid = split.train.user_ids[0]
    scores = rec.score(np.array([0]))[0]
    top = np.argsort(-scores, kind="stable")[:3]  # the reranked candidates sit on top
    chats = [rec._chat(uid, int(j)) for j in top]
    assert untrusted(rec.profiles[uid], 1500) in chats[0][-1]["content"]
    odds = AnswerScorer(rec.backend, AnswerScale(("Yes", "No"))).score(chats).log_odds("Yes", "No")
    assert np.all(np.diff(odds) <= 1e-6)  # ordered by the LLM's yes/no log-odds


def test_dpo_samples_with_the_prompt_llmrec_profile_runs(profile_file, world, tiny_llama_path):
    """The DPO generator's profiles equal the CLI's: same builder prompt, model and seed.

    (Seeded sampling: the tiny random model's greedy replies are empty.)
    """
    from llmrec.training.dpo.lettingo import (
        heldout_tasks,
        profile_builder,
        sample_profiles,
        score_profiles,
    )

    _, split = world
    generator = _tiny(tiny_llama_path)
    users = split.train.active_users()
    tasks = heldout_tasks(profile_builder(generator, LAST_N), split, users, n_negatives=3)
    sampled = sample_profiles(generator, tasks, n=1, max_new_tokens=NEW_TOKENS, seed=0)
    records = _records(profile_file)
    assert [p[0] for p in sampled] == [records[t.user_id].raw for t in tasks]
    texts = read_profile_file(profile_file).texts
    scored = [t for t in tasks if t.user_id in texts]
    auc = score_profiles(generator, split.train, scored, [[texts[t.user_id]] for t in scored])
    assert auc.shape == (len(scored), 1) and np.all((auc >= 0) & (auc <= 1))


def _records(path):
    from llmrec.profiles import read_profiles

    return read_profiles(path)


def test_llmrec_profile_runs_a_trained_adapter(world, profile_file, tiny_llama_path, tmp_path):
    """``--adapter`` writes the profiles of base + LoRA, not of the base model."""
    import torch
    from peft import LoraConfig, get_peft_model

    from llmrec.backends.base import GenerationParams
    from llmrec.backends.hf import TransformersBackend
    from llmrec.models import load_causal_lm
    from llmrec.profiles import ProfileBuilder, make_strategy

    folder, split = world
    base, tokenizer = load_causal_lm(tiny_llama_path, device="cpu")
    torch.manual_seed(0)
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft_model = get_peft_model(base, config)
    peft_model.save_pretrained(tmp_path / "adapter")
    out = tmp_path / "adapted.jsonl"
    _profile_cli(folder, tiny_llama_path, out, "--adapter", str(tmp_path / "adapter"))
    adapted = {u: r.raw for u, r in _records(out).items()}
    backend = TransformersBackend.from_model(peft_model.eval(), tokenizer, batch_size=32)
    builder = ProfileBuilder(backend, strategy=make_strategy("recent", last_n=LAST_N))
    builder.params = GenerationParams(max_new_tokens=NEW_TOKENS, temperature=1.0, seed=0)
    users = split.train.active_users()
    expected = {r.user_id: r.raw for r in builder.build(split.train, users)}
    assert adapted == expected
    assert adapted != {u: r.raw for u, r in _records(profile_file).items()}  # not the base model
