from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from llmrec.embeddings.losses import PrefixAnswerHead, UserContrastiveLoss
from llmrec.embeddings.train import build_pairs, cut_examples, user_partition
from llmrec.embeddings.userqa import attribute_labels, build_userqa


def _batch_loss(trainer, loss, dataset):
    batch = trainer.data_collator([dataset[i] for i in range(len(dataset))])
    features, labels = trainer.collect_features(batch)
    trainer.model.eval()
    with torch.no_grad():
        parts = loss(features, labels)
    return {k: float(v) for k, v in parts.items()}


def test_user_partition_is_stable_and_disjoint():
    ids = [str(i) for i in range(1, 944)]
    train, evaluation = user_partition(ids, 0.5, seed=0)
    assert set(train).isdisjoint(evaluation) and len(train) + len(evaluation) == 943
    assert 400 < len(evaluation) < 543
    assert user_partition(list(reversed(ids)), 0.5, 0)[1] == sorted(evaluation, key=ids.index)[::-1]
    assert user_partition(ids, 0.5, seed=1)[1] != evaluation


def test_cut_examples_ask_about_windows_of_the_training_history(ml100k_split):
    train = ml100k_split.train
    users = train.active_users()[:6]
    tasks = ["next_item", "will_like", "gender", "occupation"]
    dataset, examples = cut_examples(train, users, 2, tasks, seed=0)
    assert len(examples) == 6 * 2 * 4
    assert [ex.task for ex in examples[:4]] == tasks
    gender = attribute_labels(train, "gender")
    frame = train.interactions
    for ex in examples:
        uid, t = ex.user_id.split("@")
        history = frame[frame["user_id"] == uid]
        prefix = dataset.interactions[dataset.interactions["user_id"] == ex.user_id]
        assert prefix["item_id"].tolist() == history["item_id"].tolist()[: int(t)]
        after = history.iloc[int(t)]  # the training interaction right after the cut
        if ex.task == "next_item":
            assert ex.label == after["item_id"]
        if ex.task == "will_like":
            assert ex.label == ("Yes" if after["rating"] >= 4 else "No")
            assert train.items[after["item_id"]].title in ex.instruction
        if ex.task == "gender":  # the user's own attribute
            assert ex.label == gender[uid]
    with pytest.raises(ValueError, match=r"unknown cut_tasks \['favourite_genre'\]"):
        cut_examples(train, users, 1, ["favourite_genre"])


def test_contrastive_training_on_a_few_pairs(tiny_st, ml100k_split, tmp_path):
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    from llmrec.embeddings.encoder import UserEncoder

    encoder = UserEncoder(tiny_st, sources=("history",), max_history_tokens=24)
    users = ml100k_split.train.active_users()[:16]
    examples = build_userqa(ml100k_split.train, ml100k_split.valid, users, tasks=("next_item",))
    dataset = build_pairs(encoder, ml100k_split.train, examples)
    assert dataset.column_names == ["user", "answer_text"]
    assert dataset[0]["user"].startswith("Instruct: Which movie will this user watch next?\nUser: ")
    loss = UserContrastiveLoss(tiny_st)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path),
        num_train_epochs=8,
        per_device_train_batch_size=16,
        learning_rate=2e-3,
        warmup_steps=0.0,
        batch_sampler="no_duplicates",
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=0,
        logging_steps=1,
        disable_tqdm=True,
    )
    trainer = SentenceTransformerTrainer(model=tiny_st, args=args, train_dataset=dataset, loss=loss)
    before_params = {k: v.clone() for k, v in tiny_st.state_dict().items()}
    before = _batch_loss(trainer, loss, dataset)["contrastive"]
    assert before == pytest.approx(np.log(16), abs=0.6)  # a random encoder is near chance
    trainer.train()
    after = _batch_loss(trainer, loss, dataset)["contrastive"]
    assert after < before - 0.7
    changed = [k for k, v in tiny_st.state_dict().items() if not torch.equal(before_params[k], v)]
    assert len(changed) > 10


def _fit(head, user, labels, steps=30, lr=0.05):
    params = [p for p in head.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=lr)
    first = head(user, labels).item()
    for _ in range(steps):
        loss = head(user, labels)
        optim.zero_grad()
        loss.backward()
        optim.step()
    return first, head(user, labels).item()


def test_autoregressive_head_learns_the_answer(tiny_llama_path):
    from llmrec.models import load_causal_lm

    torch.manual_seed(0)
    lm, tok = load_causal_lm(tiny_llama_path, device="cpu")
    answers = ["Yes. No.", "Score from 1 to 5: 1 2 3 4 5."]
    ids = tok(answers, add_special_tokens=False)["input_ids"]
    width = max(map(len, ids))
    labels = torch.tensor([s + [-100] * (width - len(s)) for s in ids])  # (2, L)
    user = torch.randn(2, 8, requires_grad=True)

    # frozen LM: only the projection (and the user embedding upstream) learn
    head = PrefixAnswerHead(lm, dim=8, n_prefix=2)
    lm_before = {k: v.clone() for k, v in lm.state_dict().items()}
    proj_before = head.proj.weight.detach().clone()
    first, last = _fit(head, user, labels)
    assert last < first - 0.1
    assert all(torch.equal(lm_before[k], v) for k, v in lm.state_dict().items())
    assert not torch.equal(proj_before, head.proj.weight)
    assert user.grad is not None and user.grad.abs().sum() > 0  # gradient reaches the encoder

    # padding does not count: one answer scores the same with or without padding
    single = torch.tensor([ids[0]])
    padded = torch.tensor([ids[0] + [-100] * 5])
    with torch.no_grad():
        assert torch.allclose(head(user[:1], single), head(user[:1], padded), atol=1e-5)

    # trainable LM: the answers are memorised
    head = PrefixAnswerHead(lm, dim=8, n_prefix=2, train_lm=True)
    first, last = _fit(head, user.detach(), labels, steps=30, lr=0.01)
    assert last < first - 2.0


def test_tiny_recipe_trains_fusion_and_autoregressive(tiny_run, ml100k_split):
    from llmrec.embeddings.encoder import CONFIG_NAME, UserEncoder

    config = json.loads((tiny_run / CONFIG_NAME).read_text())
    logs = [e for e in config["training"]["log_history"] if "contrastive" in e]
    assert logs and all("autoregressive" in e for e in logs)
    # 24 users x 4 tasks, plus one cut per user asking next item and gender
    assert config["training"]["examples"] == 96 + 48 and config["training"]["users"] == 24
    assert config["training"]["examples_per_task"]["gender"] == 48
    # every genre but "unknown" (18), 4 eras, 2 genders; 8 items per step
    assert config["training"]["answer_bank"] == {"fixed": 24, "items": 8}
    assert (tiny_run / "answer_head_proj.safetensors").is_file()
    encoder = UserEncoder.load(tiny_run, device="cpu")
    assert encoder.fusion is not None and encoder.fusion.mode == "attention"
    # the adapter trained away from its mean-pooling start
    assert float(encoder.fusion.proj.weight.detach().abs().sum()) > 0
    # training users come from the training side of the partition only
    train_users, eval_users = user_partition(ml100k_split.train.active_users(), 0.5, 0)
    table = encoder.encode_users(ml100k_split.train, eval_users[:5])
    assert table.vectors.shape == (5, 64)


def test_cli_embed_users_writes_a_table(tiny_run, tmp_path):
    from llmrec.cli.main import main
    from llmrec.embeddings.store import EmbeddingTable

    out = tmp_path / "users.parquet"
    code = main(
        [
            "embed",
            "users",
            "--model",
            str(tiny_run),
            "--max-history-tokens",
            "16",
            "--instruction",
            "What is the gender of this user?",
            "--out",
            str(out),
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    table = EmbeddingTable.load(out)
    assert len(table) == 943 and table.dim == 64
    assert table.metadata["instruction"] == "What is the gender of this user?"
    assert table.metadata["split"] == "loo"


def test_cli_embed_eval_writes_results(tiny_run, tmp_path):
    from llmrec.cli.main import main

    out = tmp_path / "results.json"
    argv = ["embed", "eval", "--data", "ml-100k", "--base", str(tiny_run), "--trained",
            str(tiny_run), "--max-users", "16", "--max-history-tokens", "16", "--n-boot", "10",
            "--device", "cpu", "--methods", "trained_no_instruction", "trained_instruction",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(out.read_text())
    # the history mean (the baseline of the paired comparisons), the majority class and the
    # retrieval baselines are always computed
    assert list(result["methods"]) == [
        "history_mean",
        "trained_no_instruction",
        "trained_instruction",
        "majority",
        "most_popular",
        "ease",
    ]
    assert result["config"]["users"] == 16
    trained = result["methods"]["trained_instruction"]
    assert result["methods"]["trained_no_instruction"]["neighbour_change_gender"]["value"] == 0.0
    assert trained["neighbour_change_gender"]["value"] > 0.0  # the instruction moves users
    for metric in ("probe_gender_balanced_accuracy", "recall@10", "pm_recall@10"):
        assert trained[metric]["low"] <= trained[metric]["value"] <= trained[metric]["high"]
    diff = result["vs_baseline"]["trained_instruction"]["recall@10"]["value"]
    base = result["methods"]["history_mean"]["recall@10"]["value"]
    assert diff == pytest.approx(trained["recall@10"]["value"] - base, abs=1e-3)
