"""Fusing per-source user embeddings into one vector with a small trainable adapter.

A multi-source user encoder embeds each source text (profile, attributes, history) with the same
sentence encoder and the instruction prefix, giving ``(batch, n_sources, dim)``; the adapter
turns that into ``(batch, dim)``. Sources a user lacks are masked out.

Modes:

- ``"attention"`` (the default): attention pooling with one learned query,
  ``w = softmax_s(<x_s, q> / sqrt(d) + b_s)`` over present sources, ``p = sum_s w_s x_s``,
  followed by a residual projection ``u = p + W p``. The query, biases and ``W`` start at zero,
  so an untrained adapter returns the mean of the present sources: training can only move away
  from a sensible baseline, and a model saved without training behaves like plain averaging.
- ``"concat_mlp"``: ``u = mean_s(x_s) + MLP([x_1; ...; x_S])`` (missing sources zeroed), the
  MLP's last layer zero-initialised for the same reason. More parameters (``S*d*h + h*d``).
- ``"mean"``: the masked mean, no parameters (the ablation).

Example:
    >>> import torch
    >>> from llmrec.embeddings.fusion import FusionAdapter
    >>> adapter = FusionAdapter(dim=4, sources=("attributes", "history"))
    >>> x = torch.randn(2, 2, 4)
    >>> torch.allclose(adapter(x), x.mean(dim=1))
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

MODES = ("attention", "concat_mlp", "mean")
CONFIG_NAME = "fusion_config.json"
WEIGHTS_NAME = "fusion.safetensors"


class FusionAdapter(nn.Module):
    """Pool ``(batch, n_sources, dim)`` source embeddings into ``(batch, dim)``.

    Args:
        dim: Embedding size of the sentence encoder.
        sources: Source names, in the order of axis 1 of the input.
        mode: One of :data:`MODES`; ``"attention"`` by default.
        hidden: Hidden width of the ``"concat_mlp"`` MLP.
    """

    def __init__(
        self,
        dim: int,
        sources: Sequence[str] = ("attributes", "history"),
        mode: str = "attention",
        hidden: int = 256,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown fusion mode {mode!r}; allowed: {list(MODES)}")
        if dim < 1 or not sources:
            raise ValueError(f"need dim >= 1 and at least one source, got {dim}, {list(sources)}")
        self.dim, self.sources, self.mode, self.hidden = dim, tuple(sources), mode, hidden
        n = len(self.sources)
        if mode == "attention":
            self.query = nn.Parameter(torch.zeros(dim))
            self.source_bias = nn.Parameter(torch.zeros(n))
            self.proj = nn.Linear(dim, dim)
            nn.init.zeros_(self.proj.weight)
            nn.init.zeros_(self.proj.bias)
        elif mode == "concat_mlp":
            self.mlp = nn.Sequential(nn.Linear(n * dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
            nn.init.zeros_(self.mlp[2].weight)
            nn.init.zeros_(self.mlp[2].bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse sources.

        Args:
            x: ``(batch, n_sources, dim)`` source embeddings.
            mask: ``(batch, n_sources)`` bool, True where the user has the source; all True if
                omitted. A user with no source at all gets a zero vector.

        Returns:
            ``(batch, dim)`` user embeddings.
        """
        if x.dim() != 3 or x.shape[1] != len(self.sources) or x.shape[2] != self.dim:
            raise ValueError(
                f"expected (batch, {len(self.sources)}, {self.dim}) input, got {tuple(x.shape)}"
            )
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        maskf = mask.to(x.dtype).unsqueeze(-1)  # (batch, S, 1)
        count = maskf.sum(dim=1).clamp(min=1.0)  # (batch, 1)
        mean = (x * maskf).sum(dim=1) / count  # (batch, dim)
        if self.mode == "mean":
            return mean
        if self.mode == "concat_mlp":
            flat = (x * maskf).flatten(1)  # (batch, S*dim)
            return mean + self.mlp(flat)
        logits = x @ self.query / math.sqrt(self.dim) + self.source_bias  # (batch, S)
        logits = logits.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(logits, dim=1).nan_to_num(0.0).unsqueeze(-1)  # (batch, S, 1)
        pooled = (weights * x).sum(dim=1)  # (batch, dim)
        return pooled + self.proj(pooled)

    def config(self) -> dict:
        return {
            "dim": self.dim,
            "sources": list(self.sources),
            "mode": self.mode,
            "hidden": self.hidden,
        }

    def save(self, folder: str | Path) -> Path:
        """Write ``fusion_config.json`` and ``fusion.safetensors`` into ``folder``."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_NAME).write_text(json.dumps(self.config(), indent=2))
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_NAME))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> FusionAdapter:
        """Load an adapter written by :meth:`save`."""
        from safetensors.torch import load_file

        folder = Path(folder)
        config_path = folder / CONFIG_NAME
        if not config_path.is_file():
            raise FileNotFoundError(f"{config_path} does not exist: not a saved fusion adapter")
        adapter = cls(**json.loads(config_path.read_text()))
        adapter.load_state_dict(load_file(str(folder / WEIGHTS_NAME)))
        return adapter

    @staticmethod
    def exists(folder: str | Path) -> bool:
        return (Path(folder) / CONFIG_NAME).is_file()
