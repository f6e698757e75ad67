"""SLMRec: truncation, the item-ID model, distillation losses in closed form, and the recipe."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from llmrec.training.distill.slmrec import (
    ItemSequenceCollator,
    SLMRecModel,
    base_decoder,
    count_parameters,
    evaluate_next_item,
    next_item_examples,
    num_decoder_layers,
    truncate_decoder,
)
from llmrec.training.distill.trainer import (
    DistillConfig,
    SLMRecDistillTrainer,
    block_pairs,
    hidden_alignment_loss,
    logit_kd_loss,
)

TINY_DISTILL = "recipes/tiny-random/distill/config_tiny.yaml"


@pytest.fixture(scope="module")
def loo(ml100k):
    from llmrec.data import leave_one_out

    return leave_one_out(ml100k)


@pytest.fixture(scope="module")
def tiny_slmrec(tiny_llama_path, ml100k):
    torch.manual_seed(0)
    return SLMRecModel.from_causal_lm(
        tiny_llama_path, len(ml100k.item_ids), 16, "Watch history:", " Next:"
    )


def test_block_pairs_are_evenly_spaced_and_end_at_the_last_layers():
    assert block_pairs(8, 4, 4) == [(2, 1), (4, 2), (6, 3), (8, 4)]
    assert block_pairs(8, 2, 2) == [(4, 1), (8, 2)]
    assert block_pairs(30, 3, 1) == [(30, 3)]
    with pytest.raises(ValueError, match="n_blocks"):
        block_pairs(8, 2, 3)
    with pytest.raises(ValueError, match="deeper"):
        block_pairs(2, 4, 1)


def test_hidden_alignment_loss_closed_form():
    s = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    t = torch.tensor([[0.0, 2.0], [3.0, 4.0]])
    # row 0: cos = 0, ||s - t|| = sqrt(5); row 1: identical -> 0.
    expected = (0.7 * (1 - 0) + 0.1 * math.sqrt(5)) / 2
    assert hidden_alignment_loss(s, t, 0.7, 0.1).item() == pytest.approx(expected, rel=1e-6)


def test_logit_kd_loss_closed_form_and_zero_at_equality():
    zs = torch.tensor([[1.0, 2.0, 0.5]])
    zt = torch.tensor([[0.0, 3.0, 1.0]])
    T = 2.0
    ps = np.exp(zs.numpy() / T) / np.exp(zs.numpy() / T).sum()
    pt = np.exp(zt.numpy() / T) / np.exp(zt.numpy() / T).sum()
    expected = T**2 * float((pt * (np.log(pt) - np.log(ps))).sum())
    assert logit_kd_loss(zs, zt, T).item() == pytest.approx(expected, rel=1e-5)
    assert logit_kd_loss(zt, zt, T).item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="temperature"):
        logit_kd_loss(zs, zt, 0.0)


def test_truncate_decoder_keeps_the_first_blocks(tiny_llama_path):
    from llmrec.models import load_causal_lm

    lm, _ = load_causal_lm(tiny_llama_path, device="cpu")
    full = base_decoder(lm)
    cut = truncate_decoder(full, 1)
    assert num_decoder_layers(full) == 2 and num_decoder_layers(cut) == 1
    assert cut.config.num_hidden_layers == 1 and full.config.num_hidden_layers == 2
    x = torch.randn(2, 5, full.config.hidden_size)
    with torch.no_grad():
        h_full = full(inputs_embeds=x, output_hidden_states=True).hidden_states
        h_cut = cut(inputs_embeds=x, output_hidden_states=True).hidden_states
    # The cut model's last state is block 1's output through the final norm.
    torch.testing.assert_close(h_cut[-1], full.norm(h_full[1]))
    assert num_decoder_layers(truncate_decoder(lm, 1)) == 1  # a causal LM works too
    with pytest.raises(ValueError, match=r"n_layers must be in \[1, 2\]"):
        truncate_decoder(full, 3)


def test_scores_do_not_depend_on_left_padding(tiny_slmrec):
    model = tiny_slmrec.eval()
    feats = [{"item_seq": [5, 17, 3]}, {"item_seq": [9]}]
    with torch.no_grad():
        short = model(**ItemSequenceCollator(3)(feats)).logits
        long = model(**ItemSequenceCollator(8)(feats)).logits
    assert short.shape == (2, model.config.n_items)
    torch.testing.assert_close(short, long, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(short[0], short[1])


def test_token_embeddings_frozen_and_heads_trainable(tiny_slmrec):
    assert not tiny_slmrec.decoder.get_input_embeddings().weight.requires_grad
    assert tiny_slmrec.input_proj.weight.requires_grad
    assert tiny_slmrec.item_embedding.weight.requires_grad
    trainable = count_parameters(tiny_slmrec, trainable_only=True)
    assert trainable < count_parameters(tiny_slmrec)


def test_save_and_load_round_trip(tiny_slmrec, tmp_path):
    tiny_slmrec.save_pretrained(tmp_path / "m")
    loaded = SLMRecModel.from_pretrained(tmp_path / "m").eval()
    batch = ItemSequenceCollator(4)([{"item_seq": [1, 2, 3]}, {"item_seq": [40, 7]}])
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, tiny_slmrec.eval()(**batch).logits)
    with pytest.raises(ValueError, match="slmrec.json"):
        SLMRecModel.from_pretrained(tmp_path)


def test_next_item_examples_use_training_history_only(loo):
    uid = "1"
    ex = next_item_examples(loo.train, max_history=3, per_user=2)
    codes = [loo.train.item_index[r.item_id] for r in loo.train.history(uid)]
    users = loo.train.interactions["user_id"].drop_duplicates().tolist()
    offset = 2 * users.index(uid)  # every user here has > 2 training items
    got = [(ex["item_seq"][offset + j], ex["labels"][offset + j]) for j in range(2)]
    assert got == [
        ([c + 1 for c in codes[-5:-2]], codes[-2]),
        ([c + 1 for c in codes[-4:-1]], codes[-1]),
    ]
    test_code = loo.train.item_index[loo.test.history(uid)[0].item_id]
    assert test_code not in ex["labels"][offset : offset + 2]


class _ConstantScorer(nn.Module):
    """Scores every item the same: with ties against the target, its rank is the last one."""

    def __init__(self, n_items: int) -> None:
        super().__init__()
        self.n_items = n_items

    def forward(self, item_seq):
        return type("Out", (), {"logits": torch.zeros(item_seq.shape[0], self.n_items)})()


def test_evaluation_masks_history_and_counts_ties_against_target(loo):
    n_items = len(loo.train.item_ids)
    report = evaluate_next_item(_ConstantScorer(n_items), loo, max_history=5, max_users=20)
    users = loo.test.interactions["user_id"].tolist()[:20]
    ranks = []
    for uid in users:
        seen = {r.item_id for r in loo.train.history(uid)} | {
            r.item_id for r in loo.valid.history(uid)
        }
        ranks.append(n_items - len(seen))  # every unmasked item ties with the target
    assert report.users == 20 and report.hr == 0.0 and report.ndcg == 0.0
    assert report.mrr == pytest.approx(np.mean([1 / r for r in ranks]))


def test_block_heads_get_their_own_cross_entropy(tiny_slmrec, loo, tmp_path):
    import datasets

    teacher = copy.deepcopy(tiny_slmrec)
    student = teacher.truncated(2)  # same depth: two blocks, a head on student layer 1
    data = datasets.Dataset.from_dict(next_item_examples(loo.train, 4, per_user=1))
    args = DistillConfig(
        output_dir=str(tmp_path),
        n_blocks=2,
        block_head_weight=0.5,
        kd_weight=1.0,
        max_steps=3,
        per_device_train_batch_size=16,
        learning_rate=1e-2,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
    )
    trainer = SLMRecDistillTrainer(
        teacher, model=student, args=args, train_dataset=data, data_collator=ItemSequenceCollator(4)
    )
    assert list(student.block_heads) == ["1"]
    head_before = student.block_heads["1"].weight.detach().clone()
    teacher_before = teacher.output_proj.weight.detach().clone()
    trainer.train()
    logged = [row for row in trainer.state.log_history if "loss" in row]
    assert {"ce", "align", "block_ce", "kd"} <= set(logged[0])
    assert not torch.equal(head_before, student.block_heads["1"].weight)
    assert torch.equal(teacher_before, teacher.output_proj.weight)  # the teacher stays frozen


def test_tiny_recipe_trains_teacher_and_distils_student(run_recipe, tmp_path):
    out = run_recipe("distill", TINY_DISTILL, "--output_dir", str(tmp_path))
    teacher_losses = [row["loss"] for row in out["teacher_log"] if "loss" in row]
    assert teacher_losses[-1] < teacher_losses[0]
    student_log = [row for row in out["student_log"] if "loss" in row]
    assert student_log[-1]["align"] < student_log[0]["align"]
    teacher, student = out["models"]["teacher"], out["models"]["student"]
    assert (teacher.num_layers, student.num_layers) == (2, 1)
    # The student started as the teacher's first block and was trained away from it.
    t_block = teacher.decoder.layers[0].mlp.down_proj.weight
    s_block = student.decoder.layers[0].mlp.down_proj.weight
    assert not torch.equal(t_block, s_block)
    summary = out["summary"]
    assert summary["layer_share"] == 0.5 and 0 < summary["param_share"] < 1
    assert summary["inference_speedup"] > 0 and summary["eval_users"] == 100
    for name in ("teacher", "student"):
        assert 0 <= out["metrics"][name]["ndcg@10"] <= out["metrics"][name]["hr@10"] <= 1
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["summary"]["student_ndcg@10"] == pytest.approx(summary["student_ndcg@10"])
    reloaded = SLMRecModel.from_pretrained(tmp_path / "student")
    assert reloaded.num_layers == 1
