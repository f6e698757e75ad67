"""The contrastive-autoregressive objective of instruction-aware user encoders.

Contrastive term (InfoNCE with in-batch negatives, as sentence-transformers'
``MultipleNegativesRankingLoss``): for a batch of users ``u_i = f(X_i, I_i)`` and answer
embeddings ``a_i = g(A_i)`` (same encoder),

    L_con = -1/B sum_i log( exp(s * cos(u_i, a_i)) / sum_j exp(s * cos(u_i, a_j)) ),  s = 20,

where ``j`` ranges over the distinct candidate texts: the batch's answers plus, optionally, an
:class:`~llmrec.embeddings.negatives.AnswerBank` (every answer of each closed-set task and a
sample of catalogue items). Copies of a row's own answer are removed from its negatives, so
repeated answers in a batch ("This user is male.") are not false negatives.

Autoregressive term (optional): a small causal LM generates the answer's tokens from the user
embedding, which a linear map turns into ``P`` prefix vectors in the LM's input space
(``(B, dim) -> (B, P, hidden)``):

    L_ar = -1/T sum_t log p_LM(A_t | prefix(u), A_<t).

The LM is frozen by default, so the gradient flows into the projection and, through ``u``, into
the user encoder. Total loss ``L_con + ar_weight * L_ar``; both parts are logged separately by
the trainer. The dataset carries the LM's answer token ids (padded with -100) in its ``label``
column, which the sentence-transformers collator passes to the loss untouched.

Example:
    >>> loss = UserContrastiveLoss(model)  # doctest: +SKIP
    >>> trainer = SentenceTransformerTrainer(model=model, train_dataset=ds, loss=loss)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn


class PrefixAnswerHead(nn.Module):
    """A causal LM that scores an answer given the user embedding as a soft prefix.

    Args:
        lm: A Hugging Face causal LM (``AutoModelForCausalLM``).
        dim: User embedding size.
        n_prefix: Prefix vectors the embedding is projected to.
        train_lm: Train the LM too (default: frozen, only the projection learns).
        pad_token_id: Id used for padding positions (default the LM's pad or eos id).
    """

    def __init__(
        self,
        lm: Any,
        dim: int,
        n_prefix: int = 4,
        train_lm: bool = False,
        pad_token_id: int | None = None,
    ) -> None:
        super().__init__()
        if n_prefix < 1:
            raise ValueError(f"n_prefix must be >= 1, got {n_prefix}")
        self.lm = lm
        self.n_prefix = n_prefix
        hidden = int(lm.config.hidden_size)
        self.hidden = hidden
        self.proj = nn.Linear(dim, n_prefix * hidden)
        nn.init.normal_(self.proj.weight, std=0.02)
        nn.init.zeros_(self.proj.bias)
        for p in self.lm.parameters():
            p.requires_grad_(train_lm)
        if pad_token_id is None:
            pad_token_id = lm.config.pad_token_id
            if pad_token_id is None:
                pad_token_id = lm.config.eos_token_id
        self.pad_token_id = int(pad_token_id if isinstance(pad_token_id, int) else pad_token_id[0])

    def forward(self, user: torch.Tensor, answer_ids: torch.Tensor) -> torch.Tensor:
        """Mean token cross-entropy of the answers.

        Args:
            user: ``(batch, dim)`` user embeddings.
            answer_ids: ``(batch, length)`` answer token ids, ``-100`` at padding.

        Returns:
            Scalar loss.
        """
        batch = user.shape[0]
        prefix = self.proj(user).view(batch, self.n_prefix, self.hidden)  # (B, P, H)
        valid = answer_ids != -100  # (B, L)
        ids = answer_ids.masked_fill(~valid, self.pad_token_id)  # (B, L)
        embed = self.lm.get_input_embeddings()(ids)  # (B, L, H)
        inputs = torch.cat([prefix.to(embed.dtype), embed], dim=1)  # (B, P+L, H)
        ones = torch.ones(batch, self.n_prefix, dtype=torch.long, device=user.device)
        attention = torch.cat([ones, valid.long()], dim=1)  # (B, P+L)
        ignore = torch.full((batch, self.n_prefix), -100, dtype=torch.long, device=user.device)
        labels = torch.cat([ignore, answer_ids], dim=1)  # (B, P+L)
        return self.lm(inputs_embeds=inputs, attention_mask=attention, labels=labels).loss


def text_keys(features: Sequence[dict[str, torch.Tensor]]) -> torch.Tensor:
    """One integer per row of the tokenised columns, equal for equal token sequences.

    Args:
        features: Tokenised columns (``input_ids`` and ``attention_mask`` each), concatenated
            row-wise in order; padding is ignored, so columns padded to different widths compare.

    Returns:
        ``(total_rows,)`` long tensor of text ids.
    """
    ids: dict[tuple[int, ...], int] = {}
    keys = []
    for feature in features:
        tokens, mask = feature["input_ids"].tolist(), feature["attention_mask"].tolist()
        for row, keep in zip(tokens, mask):
            text = tuple(t for t, m in zip(row, keep) if m)
            keys.append(ids.setdefault(text, len(ids)))
    return torch.tensor(keys, dtype=torch.long)


def masked_infonce(
    users: torch.Tensor, candidates: torch.Tensor, keys: torch.Tensor | None, scale: float
) -> torch.Tensor:
    """InfoNCE over the distinct candidate texts.

    Row ``i`` of ``users`` has candidate ``i`` as its positive. With ``keys``, each distinct text
    counts once in each row's softmax: copies of the row's own answer (another user with the
    same answer, or the same text in the bank) are removed, as are repeated copies of any other
    text. Without ``keys`` this is sentence-transformers' ``MultipleNegativesRankingLoss``.

    Args:
        users: ``(B, dim)`` user embeddings.
        candidates: ``(C, dim)`` candidate embeddings, ``C >= B``, the positives first.
        keys: ``(C,)`` text ids (:func:`text_keys`), or ``None`` for no de-duplication.
        scale: Inverse temperature.

    Returns:
        Scalar mean cross-entropy.
    """
    batch = users.shape[0]
    scores = scale * (
        nn.functional.normalize(users, dim=-1) @ nn.functional.normalize(candidates, dim=-1).T
    )  # (B, C)
    rows = torch.arange(batch, device=users.device)
    if keys is not None:
        keys = keys.to(users.device)
        order = torch.arange(len(keys), device=users.device)
        first = torch.full((int(keys.max()) + 1,), len(keys), device=users.device)
        first = first.scatter_reduce(0, keys, order, reduce="amin")  # first row of each text
        keep = order == first[keys]  # (C,) first copy of each text
        same = keys[None, :] == keys[:batch, None]  # (B, C) same text as row i's answer
        valid = keep[None, :] & ~same
        valid[rows, rows] = True
        scores = scores.masked_fill(~valid, float("-inf"))
    return nn.functional.cross_entropy(scores, rows)


class UserContrastiveLoss(nn.Module):
    """InfoNCE of user(X, I) against the answer, with optional fusion and autoregressive term.

    Column layout the loss expects (in dataset order): ``n_sources`` anchor columns (one per
    source when a fusion adapter is used, else one joined text), then the answer column, then
    optionally ``label`` (answer token ids for the autoregressive term).

    Candidates of each row: the answers of the batch, plus the texts of ``bank``, encoded at
    every step. With ``bank_grad`` (the default) the bank's embeddings get gradient like any
    candidate: answers of one task ("This user is male." / "This user is female.") start
    almost identical (cosine about 0.95 under MiniLM), and only a gradient on the answers as
    negatives pulls them apart; without it (a forward pass only, cheaper) a measured run
    collapsed every answer of a task onto the same point. With ``dedupe`` (the default), each
    distinct candidate text counts once (:func:`masked_infonce`), so batches may repeat answers
    ("This user is male.") without turning a user's own answer into a negative; no
    duplicate-free batch sampler is needed.

    Args:
        model: The ``SentenceTransformer`` being trained.
        fusion: A :class:`~llmrec.embeddings.fusion.FusionAdapter` (its parameters are trained),
            or ``None`` for a single anchor column.
        answer_head: A :class:`PrefixAnswerHead` for the autoregressive term, or ``None``.
        ar_weight: Weight of the autoregressive term.
        scale: Inverse temperature of the InfoNCE softmax (20 = sentence-transformers default).
        bank: An :class:`~llmrec.embeddings.negatives.AnswerBank` of extra candidates, or
            ``None``.
        dedupe: Count each distinct candidate text once; ``False`` gives plain
            ``MultipleNegativesRankingLoss`` (repeated answers become false negatives).
        bank_grad: Back-propagate through the bank's embeddings (default); ``False`` treats
            them as constants.
    """

    def __init__(
        self,
        model: Any,
        fusion: nn.Module | None = None,
        answer_head: PrefixAnswerHead | None = None,
        ar_weight: float = 0.5,
        scale: float = 20.0,
        bank: Any = None,
        dedupe: bool = True,
        bank_grad: bool = True,
    ) -> None:
        super().__init__()
        self.model = model
        self.fusion = fusion
        self.answer_head = answer_head
        self.ar_weight = ar_weight
        self.scale = scale
        self.bank = bank
        self.dedupe = dedupe
        self.bank_grad = bank_grad
        self.n_sources = len(fusion.sources) if fusion is not None else 1

    def user_embeddings(self, sentence_features: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """``(batch, dim)`` user embeddings from the anchor columns."""
        anchors = [
            self.model(f)["sentence_embedding"] for f in sentence_features[: self.n_sources]
        ]  # n_sources x (B, dim)
        if self.fusion is None:
            return anchors[0]
        return self.fusion(torch.stack(anchors, dim=1))  # (B, S, dim) -> (B, dim)

    def _bank_features(self, device: torch.device) -> list[dict[str, torch.Tensor]]:
        """The bank's texts tokenised: the fixed answers, then the sampled items (two
        batches, so short answers are not padded to the length of item titles)."""
        if self.bank is None:
            return []
        texts = self.bank.draw()
        parts = [texts[: len(self.bank.fixed)], texts[len(self.bank.fixed) :]]
        out = []
        for part in parts:
            if part:
                features = self.model.preprocess(part)
                out.append(
                    {k: v.to(device) for k, v in features.items() if isinstance(v, torch.Tensor)}
                )
        return out

    def forward(
        self, sentence_features: Iterable[dict[str, torch.Tensor]], labels: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        features = list(sentence_features)
        if len(features) != self.n_sources + 1:
            raise ValueError(
                f"expected {self.n_sources} anchor column(s) and one answer column, "
                f"got {len(features)} text columns"
            )
        user = self.user_embeddings(features)  # (B, dim)
        answers = self.model(features[-1])["sentence_embedding"]  # (B, dim)
        bank = self._bank_features(user.device)
        with torch.set_grad_enabled(self.bank_grad and torch.is_grad_enabled()):
            banked = [self.model(f)["sentence_embedding"] for f in bank]  # parts x (n, dim)
        candidates = torch.cat([answers, *banked])  # (B + len(bank), dim)
        keys = text_keys([features[-1], *bank]) if self.dedupe else None
        losses = {"contrastive": masked_infonce(user, candidates, keys, self.scale)}
        if self.answer_head is not None:
            if labels is None or labels.dim() != 2:
                raise ValueError(
                    "the autoregressive term needs answer token ids in a 'label' column "
                    "(build the dataset with an answer tokenizer)"
                )
            losses["autoregressive"] = self.ar_weight * self.answer_head(user, labels.long())
        return losses


class ResidualContrastiveLoss(nn.Module):
    """InfoNCE of the residual user model against frozen candidates, plus hard negatives.

    For example ``i`` (the ``label`` column holds its index into the tables below),
    ``u_i = m_i + W f(X_i, I_i)`` (:class:`~llmrec.embeddings.residual.ResidualHead`), and

        L_i = -log( exp(s cos(u_i, c_pos)) / sum_{j in G_i} exp(s cos(u_i, c_j)) )
              + hard_weight * -log( exp(s cos(u_i, c_pos)) / sum_{j in {pos} + H_i} exp(s cos(u_i, c_j)) )

    where the candidates ``c`` (every catalogue item and every answer of each closed-set task)
    are embedded once by the frozen tower, ``G_i`` is the candidate group of the example's task
    (the whole catalogue minus the items in the user's history for ``next_item``; the task's
    answers otherwise) and ``H_i`` its hard negatives (popularity-matched items for
    ``next_item``; none, ``-1``, elsewhere). The softmax over ``G_i`` is exact: no sampled
    negatives, so no false negatives from repeated answers.

    Args:
        model: The ``SentenceTransformer`` being trained (the text side ``f``).
        head: The residual head (trained, typically with a larger learning rate).
        means: ``(N, dim)`` history means ``m_i`` of the examples (frozen tower).
        positives: ``(N,)`` candidate index of each example's answer.
        groups: ``(N,)`` candidate group of each example.
        candidates: ``(C, dim)`` frozen candidate embeddings.
        candidate_groups: ``(C,)`` group of each candidate.
        seen: ``(N, C)`` bool, candidates left out of example ``i``'s softmax (its history).
        hard: ``(N, K)`` hard-negative candidate indices, ``-1`` for none, or ``None``.
        scale: Inverse temperature.
        hard_weight: Weight of the hard-negative term.
        freeze_text: Keep the text encoder fixed (in eval mode, no gradient) and train the head
            alone; each example's text embedding is then computed once and cached, so every
            epoch after the first costs almost nothing.
    """

    def __init__(
        self,
        model: Any,
        head: nn.Module,
        means: torch.Tensor,
        positives: torch.Tensor,
        groups: torch.Tensor,
        candidates: torch.Tensor,
        candidate_groups: torch.Tensor,
        seen: torch.Tensor,
        hard: torch.Tensor | None = None,
        scale: float = 20.0,
        hard_weight: float = 1.0,
        freeze_text: bool = False,
    ) -> None:
        super().__init__()
        n = len(positives)
        if means.shape[0] != n or groups.shape[0] != n or seen.shape != (n, len(candidates)):
            raise ValueError(
                f"tables disagree: {n} positives, means {tuple(means.shape)}, groups "
                f"{tuple(groups.shape)}, seen {tuple(seen.shape)} for {len(candidates)} candidates"
            )
        self.model, self.head = model, head
        self.scale, self.hard_weight = scale, hard_weight
        # Buffers, not parameters: frozen, and moved with the module.
        self.register_buffer("means", means.float(), persistent=False)
        self.register_buffer("positives", positives.long(), persistent=False)
        self.register_buffer("groups", groups.long(), persistent=False)
        self.register_buffer(
            "candidates", nn.functional.normalize(candidates.float(), dim=-1), persistent=False
        )
        self.register_buffer("candidate_groups", candidate_groups.long(), persistent=False)
        self.register_buffer("seen", seen.bool(), persistent=False)
        self.register_buffer("hard", None if hard is None else hard.long(), persistent=False)
        self.freeze_text = freeze_text
        if freeze_text:
            for p in model.parameters():
                p.requires_grad_(False)
            dim = int(candidates.shape[1])
            self.register_buffer("text_cache", torch.zeros(n, dim), persistent=False)
            self.register_buffer("cached", torch.zeros(n, dtype=torch.bool), persistent=False)

    def text_embeddings(self, features: dict[str, torch.Tensor], idx: torch.Tensor) -> torch.Tensor:
        """``(B, dim)`` normalised text embeddings of the examples ``idx``."""
        if not self.freeze_text:
            return nn.functional.normalize(self.model(features)["sentence_embedding"], dim=-1)
        todo = ~self.cached[idx]
        if todo.any():
            training = self.model.training
            self.model.eval()  # no dropout: the cached embedding is the one inference sees
            with torch.no_grad():
                out = self.model(features)["sentence_embedding"]  # (B, dim)
            self.model.train(training)
            self.text_cache[idx[todo]] = nn.functional.normalize(out[todo].float(), dim=-1)
            self.cached[idx[todo]] = True
        return self.text_cache[idx]

    def forward(
        self, sentence_features: Iterable[dict[str, torch.Tensor]], labels: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        features = list(sentence_features)
        if len(features) != 1 or labels is None or labels.dim() != 1:
            raise ValueError(
                "the residual loss expects one text column ('user') and a 'label' column of "
                f"example indices; got {len(features)} text column(s) and labels {labels!r}"
            )
        idx = labels.long().to(self.means.device)  # (B,)
        text = self.text_embeddings(features[0], idx)  # (B, dim)
        user = nn.functional.normalize(self.head(self.means[idx], text), dim=-1)  # (B, dim)
        scores = self.scale * user @ self.candidates.T  # (B, C)
        rows = torch.arange(len(idx), device=idx.device)
        pos = self.positives[idx]  # (B,)
        allowed = (self.candidate_groups[None, :] == self.groups[idx, None]) & ~self.seen[idx]
        allowed[rows, pos] = True
        losses = {
            "contrastive": nn.functional.cross_entropy(
                scores.masked_fill(~allowed, float("-inf")), pos
            )
        }
        if self.hard is not None and self.hard_weight > 0:
            hard = self.hard[idx]  # (B, K)
            has = (hard >= 0).any(dim=1)  # (B,)
            if has.any():
                picked = torch.cat([pos[:, None], hard.clamp(min=0)], dim=1)  # (B, 1 + K)
                sub = scores.gather(1, picked).masked_fill(
                    torch.cat([torch.zeros_like(pos[:, None], dtype=torch.bool), hard < 0], 1),
                    float("-inf"),
                )
                target = torch.zeros(int(has.sum()), dtype=torch.long, device=idx.device)
                losses["hard_negatives"] = self.hard_weight * nn.functional.cross_entropy(
                    sub[has], target
                )
        return losses
