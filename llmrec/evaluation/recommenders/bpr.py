"""BPR matrix factorisation (Rendle et al., UAI 2009) in PyTorch.

Loss per sampled triple (user ``u``, positive ``i``, negative ``j``):
``-log sigmoid(p_u . q_i - p_u . q_j) + l2 (|p_u|^2 + |q_i|^2 + |q_j|^2)``.

Example:
    >>> rec = BPRMF(dim=64, epochs=30).fit(split.train)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

import numpy as np

from llmrec.data.records import InteractionDataset
from llmrec.evaluation.recommenders.base import Recommender

logger = logging.getLogger(__name__)


class BPRMF(Recommender):
    """Matrix factorisation trained with the BPR pairwise loss, uniform negatives.

    Args:
        dim: Latent dimension.
        epochs: Passes over the training interactions.
        lr: Adam learning rate.
        l2: Weight of the L2 penalty on the embeddings of each triple.
        batch_size: Triples per step.
        seed: Seed of initialisation, shuffling and negative sampling.
        device: Torch device (default: the GPU when present, else CPU).
    """

    name = "bpr_mf"

    def __init__(
        self,
        dim: int = 64,
        epochs: int = 30,
        lr: float = 0.01,
        l2: float = 1e-4,
        batch_size: int = 2048,
        seed: int = 0,
        device: str | None = None,
    ) -> None:
        self.dim = dim
        self.epochs = epochs
        self.lr = lr
        self.l2 = l2
        self.batch_size = batch_size
        self.seed = seed
        self.device = device

    def _fit(self, train: InteractionDataset) -> None:
        import torch

        from llmrec.models import default_device

        device = torch.device(self.device or default_device())
        coo = self.matrix_.tocoo()
        users = coo.row.astype(np.int64)
        items = coo.col.astype(np.int64)
        positive_keys = np.sort(users * self.n_items_ + items)
        rng = np.random.default_rng(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            user_emb = torch.nn.Embedding(self.n_users_, self.dim)
            item_emb = torch.nn.Embedding(self.n_items_, self.dim)
            torch.nn.init.normal_(user_emb.weight, std=0.1)
            torch.nn.init.normal_(item_emb.weight, std=0.1)
        user_emb, item_emb = user_emb.to(device), item_emb.to(device)
        params = list(user_emb.parameters()) + list(item_emb.parameters())
        opt = torch.optim.Adam(params, lr=self.lr)
        for epoch in range(self.epochs):
            order = rng.permutation(len(users))
            neg = rng.integers(0, self.n_items_, len(users))
            clash = np.isin(users[order] * self.n_items_ + neg, positive_keys)
            neg[clash] = rng.integers(0, self.n_items_, int(clash.sum()))  # one resample
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                sel = order[start : start + self.batch_size]
                u = torch.from_numpy(users[sel]).to(device)
                i = torch.from_numpy(items[sel]).to(device)
                j = torch.from_numpy(neg[start : start + self.batch_size]).to(device)
                pu, qi, qj = user_emb(u), item_emb(i), item_emb(j)  # (batch, dim) each
                diff = (pu * (qi - qj)).sum(dim=1)  # (batch,)
                reg = pu.pow(2).sum(1) + qi.pow(2).sum(1) + qj.pow(2).sum(1)
                loss = (-torch.nn.functional.logsigmoid(diff) + self.l2 * reg).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(sel)
            logger.debug("bpr epoch %d loss %.4f", epoch, total / len(order))
        self.user_factors_ = user_emb.weight.detach().cpu().numpy().copy()  # (n_users, dim)
        self.item_factors_ = item_emb.weight.detach().cpu().numpy().copy()  # (n_items, dim)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return self.user_factors_[np.asarray(user_idx)] @ self.item_factors_.T
