"""A user model that starts as the history mean: ``u(X, I) = norm(m(X) + W f(I, X))``.

``m(X)`` is the history mean (:func:`~llmrec.embeddings.encoder.history_mean`): the normalised
mean of the user's item embeddings over the whole training history, under a frozen copy of the
base encoder (the *tower*, which also embeds items and answer texts). ``f(I, X)`` is the
trainable instruction-aware text encoder (:class:`~llmrec.embeddings.encoder.UserEncoder`) on
the user's text sources, and ``W`` is a linear map initialised to zero. Hence:

- untrained, the model IS the history mean, on every task (items and answers live in the
  tower's space, the same space as the history-mean baseline); training moves it away only
  where the instruction-conditioned residual lowers the loss;
- items and answers are embedded by the frozen tower once, so training back-propagates
  through the user side only (cheaper than training both sides).

Example:
    >>> import torch
    >>> head = ResidualHead(4)
    >>> mean, text = torch.randn(2, 4), torch.randn(2, 4)
    >>> torch.equal(head(mean, text), mean)
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from llmrec.data.records import InteractionDataset, Item
from llmrec.embeddings.store import EmbeddingTable

CONFIG_NAME = "residual_config.json"
WEIGHTS_NAME = "residual.safetensors"
TOWER_FOLDER = "tower"


class ResidualHead(nn.Module):
    """``mean + W text``, with ``W`` (and its bias) zero at initialisation.

    Args:
        dim: Embedding size.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.proj = nn.Linear(dim, dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, mean: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Args: ``mean`` ``(batch, dim)`` history means, ``text`` ``(batch, dim)`` instruction-
        aware text embeddings. Returns ``(batch, dim)`` unnormalised user vectors."""
        return mean + self.proj(text)

    def save(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(Path(folder) / WEIGHTS_NAME))

    @classmethod
    def load(cls, folder: str | Path, dim: int) -> ResidualHead:
        from safetensors.torch import load_file

        head = cls(dim)
        head.load_state_dict(load_file(str(Path(folder) / WEIGHTS_NAME)))
        return head


def is_residual(folder: str | Path) -> bool:
    """Whether ``folder`` holds a saved :class:`ResidualUserModel`."""
    return (Path(folder) / CONFIG_NAME).is_file()


class ResidualUserModel:
    """History mean plus an instruction-conditioned residual (see the module docstring).

    Args:
        encoder: The trainable text side ``f``, a
            :class:`~llmrec.embeddings.encoder.UserEncoder`.
        tower: The frozen encoder of items and answers (and of the history mean).
        head: The :class:`ResidualHead` ``W``.
        cache_dir: Folder for the text side's embeddings, keyed by the text encoder's weights,
            the instruction and the texts: models that share a text encoder (several heads
            trained on one frozen encoder) then encode each user text once.
    """

    def __init__(
        self, encoder: Any, tower: Any, head: ResidualHead, cache_dir: str | Path | None = None
    ) -> None:
        if encoder.dim != tower.dim or head.dim != tower.dim:
            raise ValueError(
                f"encoder ({encoder.dim}), tower ({tower.dim}) and head ({head.dim}) "
                "must share one embedding size"
            )
        self.encoder, self.tower, self.head = encoder, tower, head
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._items: dict[str, EmbeddingTable] = {}

    @property
    def dim(self) -> int:
        return self.tower.dim

    # -- persistence ----------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the text encoder, the tower (``tower/``) and the head into ``folder``."""
        folder = Path(folder)
        self.encoder.save(folder)
        self.tower.save(folder / TOWER_FOLDER)
        self.head.save(folder)
        (folder / CONFIG_NAME).write_text(json.dumps({"dim": self.dim}, indent=2))
        return folder

    @classmethod
    def load(
        cls,
        folder: str | Path,
        device: str | None = None,
        cache_dir: str | Path | None = None,
        **kwargs: Any,
    ) -> ResidualUserModel:
        """Load a folder written by :meth:`save`; ``kwargs`` go to the text encoder."""
        from llmrec.embeddings.encoder import UserEncoder

        folder = Path(folder)
        if not is_residual(folder):
            raise FileNotFoundError(f"{folder / CONFIG_NAME} does not exist: not a residual model")
        config = json.loads((folder / CONFIG_NAME).read_text())
        encoder = UserEncoder.load(folder, device=device, **kwargs)
        tower = UserEncoder.load(folder / TOWER_FOLDER, device=device)
        head = ResidualHead.load(folder, int(config["dim"]))
        return cls(encoder, tower, head, cache_dir)

    # -- encoding -------------------------------------------------------------------------
    def encode_items(self, items: Mapping[str, Item] | Sequence[Item]) -> EmbeddingTable:
        """Item embeddings under the tower (computed once per catalogue)."""
        records = list(items.values()) if isinstance(items, Mapping) else list(items)
        key = "\n".join(it.item_id for it in records)
        if key not in self._items:
            self._items[key] = self.tower.encode_items(records)
        return self._items[key]

    def use_item_table(
        self, items: Mapping[str, Item] | Sequence[Item], table: EmbeddingTable
    ) -> None:
        """Take ``table`` as the tower's embeddings of ``items`` (computed elsewhere with the
        same weights, e.g. by the history-mean baseline), instead of encoding them again."""
        records = list(items.values()) if isinstance(items, Mapping) else list(items)
        if table.ids != [it.item_id for it in records]:
            raise ValueError("the table's ids are not the items' ids, in order")
        self._items["\n".join(it.item_id for it in records)] = table

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Answer texts under the tower, ``(n, dim)``."""
        return self.tower.encode_texts(list(texts))

    def history_means(self, dataset: InteractionDataset, user_ids: Sequence[str]) -> np.ndarray:
        """``m(X)``: the history mean under the tower, ``(n_users, dim)``."""
        from llmrec.embeddings.encoder import history_mean

        return history_mean(dataset, self.encode_items(dataset.items), user_ids).vectors

    def combine(
        self,
        means: np.ndarray,
        texts: Mapping[str, Sequence[str]],
        instruction: str | Sequence[str] | None = None,
    ) -> np.ndarray:
        """``norm(means + W f(instruction, texts))``, ``(n_users, dim)`` float32.

        Args:
            means: ``(n_users, dim)`` history means (:meth:`history_means`).
            texts: Per-source user texts (``encoder.user_texts``).
            instruction: One instruction, one per user, or ``None``.
        """
        text = self._text(texts, instruction)  # (n, dim)
        with torch.inference_mode():
            user = self.head(torch.from_numpy(means).float(), torch.from_numpy(text))
            user = nn.functional.normalize(user, dim=-1)  # (n, dim)
        return user.numpy().astype(np.float32)

    def _text(
        self, texts: Mapping[str, Sequence[str]], instruction: str | Sequence[str] | None
    ) -> np.ndarray:
        """``f(instruction, texts)``, from ``cache_dir`` when an identical call was cached."""
        if self.cache_dir is None:
            return self.encoder.encode_sources(texts, instruction)
        import hashlib

        digest = hashlib.sha256(self.encoder.fingerprint().encode())
        digest.update(json.dumps([instruction, {k: list(v) for k, v in texts.items()}]).encode())
        path = self.cache_dir / f"text-{digest.hexdigest()[:24]}.npy"
        if path.is_file():
            return np.load(path)
        vectors = self.encoder.encode_sources(texts, instruction)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        return vectors

    def encode_users(
        self,
        dataset: InteractionDataset,
        user_ids: Sequence[str] | None = None,
        instruction: str | None = None,
        profiles: Mapping[str, str] | None = None,
    ) -> EmbeddingTable:
        """Embed users from ``dataset`` (pass ``split.train``), optionally under an instruction."""
        ids = [str(u) for u in (dataset.active_users() if user_ids is None else user_ids)]
        texts = self.encoder.user_texts(dataset, ids, profiles)
        vectors = self.combine(self.history_means(dataset, ids), texts, instruction)
        meta = {
            "kind": "users",
            "method": "residual",
            "model": self.encoder.name,
            "instruction": instruction,
            "sources": list(self.encoder.sources),
            "dataset": dataset.name,
        }
        return EmbeddingTable(ids, vectors, meta)


def load_user_model(folder: str | Path, device: str | None = None, **kwargs: Any):
    """Load a saved user encoder of either kind: a :class:`ResidualUserModel` folder or a
    :class:`~llmrec.embeddings.encoder.UserEncoder` (any sentence-transformers model or alias).

    Both have ``encode_users`` and ``encode_items``, so callers need not know which it is.
    """
    if is_residual(folder):
        return ResidualUserModel.load(folder, device=device, **kwargs)
    from llmrec.embeddings.encoder import UserEncoder

    return UserEncoder.load(folder, device=device, **kwargs)
