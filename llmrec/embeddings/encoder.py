"""The instruction-aware user encoder, u = f(X, I), on sentence-transformers.

:class:`UserEncoder` wraps any sentence-transformers model (by default the embedded
all-MiniLM-L6-v2). A user's data ``X`` is serialised per source
(:mod:`llmrec.embeddings.sources`); the instruction ``I`` goes in front as the
sentence-transformers ``prompt`` (:mod:`llmrec.embeddings.instructions`). Two ways to combine
sources:

- single text (``fusion=None``, the default): the sources are joined into one text and encoded
  once; the encoder's attention does the fusion.
- multi-source (``fusion=FusionAdapter(...)``): each source is encoded separately, with the
  instruction, and a small trainable adapter pools them (:mod:`llmrec.embeddings.fusion`).

Identical texts are encoded once (many users share attribute strings; many items repeat), which
is where the encoder gains over a plain ``SentenceTransformer.encode`` on the same list.

Example:
    >>> from llmrec.embeddings import UserEncoder
    >>> encoder = UserEncoder("all-minilm-l6-v2")  # doctest: +SKIP
    >>> table = encoder.encode_users(split.train, instruction="What is the gender of this user?")  # doctest: +SKIP
    >>> table.vectors.shape  # doctest: +SKIP
    (943, 384)
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.data.records import InteractionDataset, Item
from llmrec.embeddings.instructions import instruction_prefix
from llmrec.embeddings.sources import join_sources, user_sources
from llmrec.embeddings.store import EmbeddingTable

logger = logging.getLogger(__name__)

CONFIG_NAME = "llmrec_user_encoder.json"
# Tokens left free for the instruction prefix and source labels when fitting histories.
DEFAULT_RESERVE = 64


class UserEncoder:
    """Encode users (and items) into one normalised vector each.

    Args:
        model: A loaded ``SentenceTransformer``, or an alias, hub id or path to load (a folder
            written by :meth:`save` brings its fusion adapter and settings).
        fusion: ``None`` for single-text encoding, or a
            :class:`~llmrec.embeddings.fusion.FusionAdapter` whose ``sources`` are used.
        sources: Sources of single-text encoding (ignored with a fusion adapter); default the
            saved ones of a trained folder, else ``("attributes", "history")``.
        max_history_tokens: Token budget of the history; default the model's
            ``max_seq_length`` minus 64 for the instruction and the other sources.
        batch_size: Texts per forward pass.
        show_progress: Show a tqdm bar while encoding (off in the library, on in the CLI).
        device: Where to load ``model`` when it is a name.
    """

    def __init__(
        self,
        model: Any = "all-minilm-l6-v2",
        fusion: Any = None,
        sources: Sequence[str] | None = None,
        max_history_tokens: int | None = None,
        batch_size: int = 32,
        show_progress: bool = False,
        device: str | None = None,
    ) -> None:
        if isinstance(model, str | Path):
            from llmrec.embeddings.fusion import FusionAdapter
            from llmrec.models import load_sentence_transformer

            self.name = str(model)
            folder = Path(str(model))
            model = load_sentence_transformer(str(model), device=device)
            # A folder written by save(): its adapter and settings, unless given explicitly.
            if (folder / CONFIG_NAME).is_file():
                saved = json.loads((folder / CONFIG_NAME).read_text())
                sources = sources or saved.get("sources")
                max_history_tokens = max_history_tokens or saved.get("max_history_tokens")
            if fusion is None and folder.is_dir() and FusionAdapter.exists(folder):
                fusion = FusionAdapter.load(folder).to(model.device)
        else:
            self.name = type(model).__name__
        self.model = model
        self.fusion = fusion
        if fusion is not None:
            self.sources = tuple(fusion.sources)
        else:
            self.sources = tuple(sources or ("attributes", "history"))
        limit = int(getattr(model, "max_seq_length", None) or 256)
        self.max_history_tokens = max_history_tokens or max(16, limit - DEFAULT_RESERVE)
        self.batch_size = batch_size
        self.show_progress = show_progress
        self._fingerprint: str | None = None

    # -- persistence ----------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Save the sentence encoder, the fusion adapter (if any) and the encoder settings."""
        folder = Path(folder)
        self.model.save(str(folder))
        if self.fusion is not None:
            self.fusion.save(folder)
        config = {"sources": list(self.sources), "max_history_tokens": self.max_history_tokens}
        (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2))
        return folder

    @classmethod
    def load(
        cls, name_or_path: str | Path, device: str | None = None, **kwargs: Any
    ) -> UserEncoder:
        """Load a folder written by :meth:`save` (with its adapter and settings), or any
        sentence-transformers model or alias; ``kwargs`` override the saved settings."""
        return cls(str(name_or_path), device=device, **kwargs)

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    def fingerprint(self) -> str:
        """A hash of the weights (encoder and adapter), for embedding caches."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            modules = [self.model] + ([self.fusion] if self.fusion is not None else [])
            for module in modules:
                for name, tensor in module.state_dict().items():
                    digest.update(name.encode())
                    digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    # -- texts ----------------------------------------------------------------------------
    def user_texts(
        self,
        dataset: InteractionDataset,
        user_ids: Sequence[str],
        profiles: Mapping[str, str] | None = None,
    ) -> dict[str, list[str]]:
        """Per-source texts of ``user_ids`` (see :func:`~llmrec.embeddings.sources.user_sources`)."""
        return user_sources(
            dataset,
            user_ids,
            profiles=profiles,
            sources=self.sources,
            tokenizer=self.tokenizer,
            max_history_tokens=self.max_history_tokens,
        )

    # -- encoding -------------------------------------------------------------------------
    def encode_texts(
        self,
        texts: Sequence[str],
        instruction: str | Sequence[str] | None = None,
        normalize: bool = True,
    ) -> np.ndarray:
        """Encode texts with the instruction prefix; identical inputs are encoded once.

        Args:
            texts: Texts to encode.
            instruction: One instruction for all texts (passed as the sentence-transformers
                ``prompt``), one per text, or ``None``.
            normalize: L2-normalise the vectors.

        Returns:
            ``(len(texts), dim)`` float32 array.
        """
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        prompt = None
        if isinstance(instruction, str) or instruction is None:
            prompt = instruction_prefix(instruction) or None
        else:
            if len(instruction) != len(texts):
                raise ValueError(
                    f"got {len(instruction)} instructions for {len(texts)} texts; "
                    "pass one instruction or one per text"
                )
            texts = [instruction_prefix(i) + t for i, t in zip(instruction, texts)]
        unique = list(dict.fromkeys(texts))
        vectors = self.model.encode(
            unique,
            prompt=prompt,
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress,
            convert_to_numpy=True,
            normalize_embeddings=normalize,
        )  # (n_unique, dim)
        if len(unique) == len(texts):
            return vectors.astype(np.float32, copy=False)
        where = {t: i for i, t in enumerate(unique)}
        return vectors[[where[t] for t in texts]].astype(np.float32, copy=False)

    def encode_sources(
        self,
        texts: Mapping[str, Sequence[str]],
        instruction: str | Sequence[str] | None = None,
    ) -> np.ndarray:
        """User vectors from per-source texts: joined text, or fused per-source embeddings.

        Returns:
            ``(n_users, dim)`` float32 array, L2-normalised.
        """
        if self.fusion is None:
            return self.encode_texts(join_sources(texts), instruction)
        import torch

        n = len(next(iter(texts.values())))
        stacked = np.zeros((n, len(self.sources), self.dim), np.float32)  # (users, S, dim)
        mask = np.zeros((n, len(self.sources)), bool)  # (users, S)
        for s, source in enumerate(self.sources):
            present = [i for i, t in enumerate(texts[source]) if t]
            if present:
                sub = instruction
                if instruction is not None and not isinstance(instruction, str):
                    sub = [instruction[i] for i in present]
                vectors = self.encode_texts([texts[source][i] for i in present], sub)
                stacked[present, s] = vectors
                mask[present, s] = True
        device = next(self.fusion.parameters(), torch.empty(0)).device
        with torch.inference_mode():
            fused = self.fusion(
                torch.from_numpy(stacked).to(device), torch.from_numpy(mask).to(device)
            )  # (users, dim)
            fused = torch.nn.functional.normalize(fused, dim=-1)
        return fused.cpu().numpy().astype(np.float32)

    def encode_users(
        self,
        dataset: InteractionDataset,
        user_ids: Sequence[str] | None = None,
        instruction: str | None = None,
        profiles: Mapping[str, str] | None = None,
    ) -> EmbeddingTable:
        """Embed users from ``dataset`` (pass ``split.train``), optionally under an instruction.

        Args:
            dataset: Interactions and user attributes.
            user_ids: Users to embed (default: the users with interactions).
            instruction: The instruction ``I``; ``None`` gives the general embedding.
            profiles: ``{user_id: profile text}`` when ``"profile"`` is a source.

        Returns:
            An :class:`EmbeddingTable` of L2-normalised vectors with provenance metadata.
        """
        ids = [str(u) for u in (dataset.active_users() if user_ids is None else user_ids)]
        texts = self.user_texts(dataset, ids, profiles)
        vectors = self.encode_sources(texts, instruction)
        meta = {
            "kind": "users",
            "model": self.name,
            "fingerprint": self.fingerprint(),
            "instruction": instruction,
            "sources": list(self.sources),
            "fusion": None if self.fusion is None else self.fusion.config(),
            "dataset": dataset.name,
        }
        return EmbeddingTable(ids, vectors, meta)

    def encode_items(
        self,
        items: Mapping[str, Item] | Sequence[Item],
        cache_dir: str | Path | None = None,
    ) -> EmbeddingTable:
        """Embed items from their text (``Title (year; genres)``), cached on disk if asked.

        Args:
            items: The catalogue (``dataset.items``) or a list of items.
            cache_dir: Folder for a cache keyed by the weights' fingerprint and the item texts;
                a second call with the same model and catalogue loads instead of encoding.
        """
        from llmrec.embeddings.sources import item_text

        records = list(items.values()) if isinstance(items, Mapping) else list(items)
        ids = [it.item_id for it in records]
        texts = [item_text(it) for it in records]
        path = None
        if cache_dir is not None:
            key = hashlib.sha256(("\n".join(ids + texts) + self.fingerprint()).encode()).hexdigest()
            path = Path(cache_dir) / f"items-{key[:20]}.safetensors"
            if path.is_file():
                logger.info("item embeddings from cache %s", path)
                return EmbeddingTable.load(path)
        vectors = self.encode_texts(texts)
        table = EmbeddingTable(
            ids, vectors, {"kind": "items", "model": self.name, "fingerprint": self.fingerprint()}
        )
        if path is not None:
            table.save(path)
        return table


def history_mean(
    dataset: InteractionDataset, item_table: EmbeddingTable, user_ids: Sequence[str] | None = None
) -> EmbeddingTable:
    """Users as the normalised mean of their history items' embeddings (the simplest baseline).

    A user without history gets a zero vector.
    """
    ids = [str(u) for u in (dataset.active_users() if user_ids is None else user_ids)]
    frame = dataset.interactions
    rows = frame["item_id"].map(item_table.index)
    if rows.isna().any():
        missing = frame.loc[rows.isna(), "item_id"].iloc[0]
        raise ValueError(f"item {missing!r} of the history has no embedding in the item table")
    from scipy.sparse import csr_matrix

    user_pos = {u: i for i, u in enumerate(ids)}
    keep = frame["user_id"].map(user_pos)
    mask = keep.notna().to_numpy()
    matrix = csr_matrix(
        (
            np.ones(int(mask.sum()), np.float32),
            (keep[mask].to_numpy(np.int64), rows[mask].to_numpy(np.int64)),
        ),
        shape=(len(ids), len(item_table)),
    )  # (users, items)
    sums = matrix @ item_table.vectors  # (users, dim)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    vectors = (sums / np.maximum(norms, 1e-12)).astype(np.float32)
    meta = {
        "kind": "users",
        "method": "history_mean",
        **{k: item_table.metadata.get(k) for k in ("model", "fingerprint")},
    }
    return EmbeddingTable(ids, vectors, meta)
