from __future__ import annotations

import pytest
import torch

from llmrec.embeddings.losses import UserContrastiveLoss, masked_infonce, text_keys
from llmrec.embeddings.negatives import AnswerBank, answer_bank
from llmrec.embeddings.userqa import answer, answer_classes


def test_masked_infonce_is_mnrl_when_all_texts_differ(tiny_st):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    torch.manual_seed(0)
    users, answers, extra = torch.randn(4, 8), torch.randn(4, 8), torch.randn(3, 8)
    mnrl = MultipleNegativesRankingLoss(tiny_st, scale=20.0)
    expected = mnrl.compute_loss_from_embeddings([users, answers, extra], None)
    candidates = torch.cat([answers, extra])
    assert masked_infonce(users, candidates, torch.arange(7), 20.0) == pytest.approx(
        float(expected), rel=1e-5
    )
    assert masked_infonce(users, candidates, None, 20.0) == pytest.approx(float(expected), rel=1e-5)


def test_masked_infonce_drops_copies_of_the_answer_and_repeated_negatives():
    torch.manual_seed(1)
    users, candidates = torch.randn(3, 8), torch.randn(4, 8)
    keys = torch.tensor([0, 1, 0, 2])  # rows 0 and 2 share their answer; candidate 3 is a bank text
    s = 5.0 * (
        torch.nn.functional.normalize(users, dim=-1)
        @ torch.nn.functional.normalize(candidates, dim=-1).T
    )
    valid = [[0, 1, 3], [0, 1, 3], [1, 2, 3]]  # own answer kept, its copy and 2nd copies dropped
    expected = torch.stack([torch.logsumexp(s[i, valid[i]], 0) - s[i, i] for i in range(3)]).mean()
    assert masked_infonce(users, candidates, keys, 5.0) == pytest.approx(float(expected), rel=1e-5)
    # without de-duplication the copy is a (false) negative and the loss is higher
    assert masked_infonce(users, candidates, None, 5.0) > expected


def test_text_keys_ignore_padding_across_columns():
    first = {
        "input_ids": torch.tensor([[101, 5, 102, 0], [101, 6, 7, 102]]),
        "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]),
    }
    second = {
        "input_ids": torch.tensor([[101, 6, 7, 102, 0], [101, 5, 102, 0, 0], [101, 8, 102, 0, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0], [1, 1, 1, 0, 0]]),
    }
    assert text_keys([first, second]).tolist() == [0, 1, 1, 0, 2]


def test_answer_bank_holds_every_class_answer_and_samples_items(ml100k_split):
    train = ml100k_split.train
    bank = answer_bank(train, ["gender", "age_band", "next_genres", "next_item"], n_items=5, seed=3)
    assert bank.fixed == tuple(
        [answer("gender", v) for v in ("male", "female")]
        + [answer("age_band", v) for v in answer_classes(train, "age_band")]
    )  # next_genres has no closed answer set
    assert len(bank.pool) > 1600 and len(bank) == 11
    draws = [bank.draw() for _ in range(3)]
    assert all(d[:6] == list(bank.fixed) and len(set(d[6:])) == 5 for d in draws)
    assert draws[0] != draws[1]  # a new sample every step ...
    again = answer_bank(train, ["gender", "age_band", "next_item"], n_items=5, seed=3)
    assert [again.draw() for _ in range(3)] == draws  # ... the same sequence for the same seed
    assert answer_bank(train, ["gender"], n_items=5).n_sampled == 0  # no next_item, no items
    assert len(answer_classes(train, "occupation")) == 21
    with pytest.raises(ValueError, match=r"n_sampled must be in \[0, 2\]"):
        AnswerBank(pool=("a", "b"), n_sampled=3)
    with pytest.raises(ValueError, match="'next_item' has no closed answer set"):
        answer_classes(train, "next_item")


def test_loss_softmax_ranges_over_distinct_answers_of_batch_and_bank(tiny_st):
    texts = [
        "Instruct: What is the gender of this user?\nUser: History: Heat (1995)",
        "User: Fargo",
    ]
    male, female = answer("gender", "male"), answer("gender", "female")
    bank = AnswerBank(fixed=(male, female))
    loss = UserContrastiveLoss(tiny_st, bank=bank, scale=20.0)
    features = [tiny_st.preprocess(texts), tiny_st.preprocess([male, male])]
    tiny_st.eval()
    with torch.no_grad():
        got = loss(features, None)["contrastive"]
        users = tiny_st.encode(texts, convert_to_tensor=True)  # (2, dim)
        cands = tiny_st.encode([male, female], convert_to_tensor=True)  # (2, dim)
    # both rows answer "male": each row's softmax is over {male, female}, once each
    s = (
        20.0
        * torch.nn.functional.normalize(users, dim=-1)
        @ torch.nn.functional.normalize(cands, dim=-1).T
    )
    expected = (torch.logsumexp(s, 1) - s[:, 0]).mean()
    assert float(got) == pytest.approx(float(expected), rel=1e-4)


def test_bank_gradient_can_be_switched_off(tiny_st):
    texts = ["Instruct: What is the gender of this user?\nUser: History: Heat (1995)"]
    bank = AnswerBank(fixed=(answer("gender", "female"),))
    features = [tiny_st.preprocess(texts), tiny_st.preprocess([answer("gender", "male")])]
    tiny_st.eval()  # no dropout: both passes see the same embeddings
    grads, values = [], []
    for bank_grad in (True, False):
        tiny_st.zero_grad()
        loss = UserContrastiveLoss(tiny_st, bank=bank, bank_grad=bank_grad)
        value = loss(features, None)["contrastive"]
        value.backward()
        values.append(float(value.detach()))
        grads.append(
            torch.cat([p.grad.flatten() for p in tiny_st.parameters() if p.grad is not None])
        )
    assert values[0] == pytest.approx(values[1])  # the same loss ...
    assert not torch.allclose(grads[0], grads[1])  # ... but the negative's gradient only with it
