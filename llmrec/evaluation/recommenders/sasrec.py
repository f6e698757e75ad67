"""SASRec (Kang and McAuley, ICDM 2018): causal self-attention over the item sequence.

A compact PyTorch version trained with full-softmax cross-entropy over the catalogue at every
position (which trains faster and ranks better than the original one-negative BCE; Klenitskiy
and Vasilev, RecSys 2023). Long histories are cut into windows of ``max_len + 1`` items from the
most recent end, so every training interaction is used. Trains on CPU on ml-100k in about a
minute with the defaults.

Example:
    >>> rec = SASRec(epochs=40).fit(split.train)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

import numpy as np

from llmrec.data.records import InteractionDataset
from llmrec.evaluation.recommenders.base import Recommender

logger = logging.getLogger(__name__)


def _build_model(n_items: int, dim: int, heads: int, layers: int, max_len: int, dropout: float):
    import torch
    from torch import nn

    class SASRecNet(nn.Module):
        """Item and position embeddings, pre-norm causal Transformer blocks."""

        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)  # index 0 = padding
            self.positions = nn.Embedding(max_len, dim)
            self.dropout = nn.Dropout(dropout)
            block = nn.TransformerEncoderLayer(
                dim, heads, dim_feedforward=dim, dropout=dropout, batch_first=True,
                norm_first=True,
            )  # fmt: skip
            self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(dim)
            nn.init.normal_(self.items.weight, std=dim**-0.5)  # unit-scale logits at the start
            nn.init.normal_(self.positions.weight, std=0.02)
            with torch.no_grad():
                self.items.weight[0].zero_()

        def forward(self, seq: torch.Tensor) -> torch.Tensor:
            batch, length = seq.shape  # (batch, length) item ids, 0 = padding (left)
            pos = torch.arange(length, device=seq.device)
            x = self.items(seq) + self.positions(pos)[None]  # (batch, length, dim)
            x = self.dropout(x) * (seq > 0).unsqueeze(-1)
            dev = seq.device
            causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=dev), 1)
            blocked = causal[None] | (seq == 0)[:, None, :]  # (batch, L, L): no future, no pad
            eye = torch.eye(length, dtype=torch.bool, device=dev)
            blocked = blocked & ~eye[None]  # self always visible: no all-masked row, no NaN
            mask = torch.zeros(blocked.shape, device=dev).masked_fill(blocked, float("-inf"))
            mask = mask.repeat_interleave(heads, dim=0)  # (batch * heads, L, L)
            return self.norm(self.encoder(x, mask=mask))  # (batch, length, dim)

        def logits(self, hidden: torch.Tensor) -> torch.Tensor:
            return hidden @ self.items.weight[1:].T  # (..., n_items)

    return SASRecNet()


class SASRec(Recommender):
    """Self-attentive sequential recommender.

    Args:
        dim: Hidden size.
        heads: Attention heads.
        layers: Transformer blocks.
        max_len: Items of history the model sees.
        dropout: Dropout rate.
        epochs: Training epochs.
        lr: Adam learning rate.
        batch_size: Sequences per step.
        seed: Seed of initialisation and shuffling.
        device: Torch device (default: the GPU when present, else CPU).
    """

    name = "sasrec"

    def __init__(
        self,
        dim: int = 64,
        heads: int = 2,
        layers: int = 2,
        max_len: int = 50,
        dropout: float = 0.2,
        epochs: int = 40,
        lr: float = 1e-3,
        batch_size: int = 128,
        seed: int = 0,
        device: str | None = None,
    ) -> None:
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.dim = dim
        self.heads = heads
        self.layers = layers
        self.max_len = max_len
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.seed = seed
        self.device = device

    def _sequences(self, train: InteractionDataset) -> list[np.ndarray]:
        codes = train.item_codes() + 1  # shift: 0 is padding
        users = train.user_codes()
        seqs: list[np.ndarray] = [np.zeros(0, np.int64)] * self.n_users_
        bounds = np.flatnonzero(np.diff(users)) + 1  # frame is sorted by user, then time
        for chunk, u in zip(np.split(codes, bounds), users[np.r_[0, bounds]] if len(users) else []):
            seqs[int(u)] = chunk
        return seqs

    def _windows(self, seqs: list[np.ndarray]) -> np.ndarray:
        width = self.max_len + 1
        rows = []
        for s in seqs:
            for end in range(len(s), 1, -self.max_len):
                w = s[max(0, end - width) : end]
                rows.append(np.pad(w, (width - len(w), 0)))
        return np.array(rows, dtype=np.int64).reshape(-1, width)  # (n_windows, max_len + 1)

    def _fit(self, train: InteractionDataset) -> None:
        import torch

        self.sequences_ = self._sequences(train)
        windows = self._windows(self.sequences_)
        from llmrec.models import default_device

        device = torch.device(self.device or default_device())
        rng = np.random.default_rng(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = _build_model(
                self.n_items_, self.dim, self.heads, self.layers, self.max_len, self.dropout
            ).to(device)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            net.train()
            for epoch in range(self.epochs):
                total, count = 0.0, 0
                order = rng.permutation(len(windows))
                for start in range(0, len(order), self.batch_size):
                    block = torch.from_numpy(windows[order[start : start + self.batch_size]])
                    block = block.to(device)
                    inputs, targets = block[:, :-1], block[:, 1:]  # (batch, max_len) each
                    hidden = net(inputs)  # (batch, max_len, dim)
                    keep = targets > 0
                    logits = net.logits(hidden[keep])  # (n_tokens, n_items)
                    loss = torch.nn.functional.cross_entropy(logits, targets[keep] - 1)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item() * int(keep.sum())
                    count += int(keep.sum())
                logger.debug("sasrec epoch %d loss %.4f", epoch, total / max(count, 1))
        net.eval()
        self.net_ = net
        self.device_ = device

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        import torch

        self._check_fitted()
        rows = np.zeros((len(user_idx), self.max_len), dtype=np.int64)
        for i, u in enumerate(np.asarray(user_idx)):
            s = self.sequences_[int(u)][-self.max_len :]
            if len(s):
                rows[i, -len(s) :] = s
        out = np.empty((len(user_idx), self.n_items_), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(rows), 512):
                seq = torch.from_numpy(rows[start : start + 512]).to(self.device_)
                hidden = self.net_(seq)[:, -1]  # (batch, dim) state after the latest item
                out[start : start + 512] = self.net_.logits(hidden).float().cpu().numpy()
        return out
