"""An E4SRec/SLMRec-style next-item recommender on a (truncated) causal LM.

The history is a sequence of item ids. Each id is looked up in an item embedding table
(trainable, or initialised from a pretrained table), projected into the LM's input space and
placed as ``inputs_embeds`` between the tokens of an instruction and a response marker::

    [instruction tokens] [proj(e_i1) ... proj(e_iL)] [response marker tokens]

The decoder's hidden state at the last position is projected back to item space and scored
against every item embedding (full softmax cross-entropy over the catalogue). The LM head and its
vocabulary-sized softmax are never computed.

SLMRec (Xu et al., ICLR 2025, arXiv 2405.17890) cuts the decoder to its first N layers:
:func:`truncate_decoder` does that for Llama-family models (and GPT-2-style ``transformer.h``).

Example:
    >>> model = SLMRecModel.from_causal_lm(
    ...     "tiny-random-llama", n_items=1682, item_dim=32, n_layers=1,
    ...     instruction="Given the history, predict the next movie.", response_marker="Next:",
    ... )  # doctest: +SKIP
    >>> out = model(item_seq=torch.tensor([[0, 5, 9]]), labels=torch.tensor([3]))  # doctest: +SKIP
    >>> out.logits.shape  # (batch, n_items)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers.utils import ModelOutput

from llmrec.data.records import InteractionDataset
from llmrec.data.splits import Split

logger = logging.getLogger(__name__)

CONFIG_NAME = "slmrec.json"
WEIGHTS_NAME = "slmrec_heads.safetensors"


# -- decoders --------------------------------------------------------------------------------
def _layer_list(model: nn.Module) -> tuple[nn.Module, str]:
    """The module holding the decoder's ``nn.ModuleList`` of layers, and its attribute name."""
    for owner in (model, getattr(model, "model", None), getattr(model, "transformer", None)):
        if owner is None:
            continue
        for name in ("layers", "h"):
            if isinstance(getattr(owner, name, None), nn.ModuleList):
                return owner, name
    raise ValueError(
        f"cannot find the decoder layers of {type(model).__name__}: expected a ModuleList at "
        "'.layers', '.model.layers' or '.transformer.h' (Llama, Qwen, Mistral, Gemma, GPT-2)"
    )


def num_decoder_layers(model: nn.Module) -> int:
    """Number of transformer blocks in a decoder or causal LM."""
    owner, name = _layer_list(model)
    return len(getattr(owner, name))


def truncate_decoder(model: nn.Module, n_layers: int, copy_model: bool = True) -> nn.Module:
    """Keep the first ``n_layers`` blocks of a decoder (or causal LM); drop the rest.

    The embeddings and the final norm stay, so the truncated model is a complete, smaller
    decoder. ``config.num_hidden_layers`` (and ``layer_types`` where present) follow.

    Args:
        model: A base decoder (``LlamaModel``) or causal LM (``LlamaForCausalLM``).
        n_layers: Blocks to keep, ``1 <= n_layers <= current layers``.
        copy_model: Work on a deep copy (default) instead of changing ``model`` in place.

    Returns:
        The truncated model.

    Example:
        >>> student = truncate_decoder(teacher_decoder, 2)  # doctest: +SKIP
    """
    total = num_decoder_layers(model)
    if not 1 <= n_layers <= total:
        raise ValueError(f"n_layers must be in [1, {total}] for this model, got {n_layers}")
    if copy_model:
        model = copy.deepcopy(model)
    owner, name = _layer_list(model)
    setattr(owner, name, nn.ModuleList(list(getattr(owner, name))[:n_layers]))
    config = getattr(model, "config", None)
    if config is not None:
        for attr in ("num_hidden_layers", "n_layer"):
            if hasattr(config, attr):
                setattr(config, attr, n_layers)
        if getattr(config, "layer_types", None):
            config.layer_types = list(config.layer_types)[:n_layers]
    return model


def base_decoder(causal_lm: nn.Module) -> nn.Module:
    """The transformer body of a causal LM (``model.model`` for Llama), without the LM head."""
    prefix = getattr(causal_lm, "base_model_prefix", "model")
    body = getattr(causal_lm, prefix, None)
    if body is None:
        raise ValueError(f"{type(causal_lm).__name__} has no base model at '.{prefix}'")
    return body


# -- the model -------------------------------------------------------------------------------
@dataclass
class SLMRecConfig:
    """What, besides the decoder's weights, defines an :class:`SLMRecModel`.

    Args:
        n_items: Catalogue size; item code ``j`` is embedding row ``j + 1`` (row 0 = padding).
        item_dim: Width of the item embeddings.
        prefix_ids: Token ids of the instruction placed before the history.
        suffix_ids: Token ids of the response marker placed after it.
        freeze_item_embeddings: Keep the item table fixed (e.g. pretrained SASRec/SVD vectors).
        train_token_embeddings: Train the LM's token embedding table too. Off by default: it
            only embeds the few instruction tokens, and for SmolLM2 it is half of a cut
            model's weights (49k x 576), so training it costs optimizer time for nothing.
    """

    n_items: int
    item_dim: int
    prefix_ids: list[int]
    suffix_ids: list[int]
    freeze_item_embeddings: bool = False
    train_token_embeddings: bool = False


@dataclass
class SLMRecOutput(ModelOutput):
    """``loss`` (scalar), ``logits`` (batch, n_items), ``hidden_states`` (per layer, (batch, d)),
    ``block_logits`` (layer index -> (batch, n_items)) when per-block heads are attached."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    block_logits: dict[str, torch.Tensor] | None = None


class SLMRecModel(nn.Module):
    """Item-ID embeddings in, a decoder in the middle, scores over all items out.

    Args:
        decoder: A base decoder (no LM head), e.g. ``LlamaModel``, possibly truncated.
        config: :class:`SLMRecConfig`.
        item_embeddings: Optional ``(n_items, item_dim)`` initial table (pretrained vectors).

    Per-block heads (SLMRec's multi-head supervision) are attached from outside as
    ``model.add_module("block_heads", nn.ModuleDict({"<layer>": nn.Linear(d, item_dim)}))``;
    the forward pass then also returns their logits.
    """

    def __init__(
        self,
        decoder: nn.Module,
        config: SLMRecConfig,
        item_embeddings: np.ndarray | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.decoder = decoder
        hidden = decoder.config.hidden_size
        self.item_embedding = nn.Embedding(config.n_items + 1, config.item_dim, padding_idx=0)
        if item_embeddings is not None:
            table = torch.as_tensor(np.asarray(item_embeddings), dtype=torch.float32)
            if tuple(table.shape) != (config.n_items, config.item_dim):
                raise ValueError(
                    f"item_embeddings has shape {tuple(table.shape)}, expected "
                    f"({config.n_items}, {config.item_dim})"
                )
            with torch.no_grad():
                self.item_embedding.weight[1:] = table
                self.item_embedding.weight[0] = 0.0
        self.item_embedding.weight.requires_grad_(not config.freeze_item_embeddings)
        decoder.get_input_embeddings().weight.requires_grad_(config.train_token_embeddings)
        self.input_proj = nn.Linear(config.item_dim, hidden)
        self.output_proj = nn.Linear(hidden, config.item_dim)
        self.register_buffer("prefix_ids", torch.tensor(config.prefix_ids, dtype=torch.long))
        self.register_buffer("suffix_ids", torch.tensor(config.suffix_ids, dtype=torch.long))

    @property
    def num_layers(self) -> int:
        return num_decoder_layers(self.decoder)

    def score(self, hidden: torch.Tensor, head: nn.Module | None = None) -> torch.Tensor:
        """Scores of every item for last-token states ``hidden`` (batch, d) -> (batch, n_items)."""
        head = head or self.output_proj
        query = head(hidden.to(head.weight.dtype))  # (batch, item_dim)
        return query @ self.item_embedding.weight[1:].T  # (batch, n_items)

    def _embed(self, item_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, _ = item_seq.shape
        tokens = self.decoder.get_input_embeddings()
        prefix = tokens(self.prefix_ids).unsqueeze(0).expand(batch, -1, -1)  # (batch, P, d)
        suffix = tokens(self.suffix_ids).unsqueeze(0).expand(batch, -1, -1)  # (batch, S, d)
        items = self.input_proj(self.item_embedding(item_seq))  # (batch, L, d)
        embeds = torch.cat([prefix, items.to(prefix.dtype), suffix], dim=1)  # (batch, T, d)
        ones = lambda n: torch.ones(batch, n, dtype=torch.long, device=item_seq.device)  # noqa: E731
        mask = torch.cat([ones(prefix.shape[1]), (item_seq != 0).long(), ones(suffix.shape[1])], 1)
        # Padding sits between the instruction and the items; positions skip it.
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)  # (batch, T)
        return embeds, mask, positions

    def forward(
        self,
        item_seq: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> SLMRecOutput:
        """Score all items after each history.

        Args:
            item_seq: (batch, L) item codes + 1, left-padded with 0.
            labels: (batch,) item codes of the next item; gives the cross-entropy loss.
            output_hidden_states: Return the last-token state after the embeddings and after
                every layer (``hidden_states[k]`` = output of layer k; the last one is normed).
        """
        embeds, mask, positions = self._embed(item_seq)
        heads = getattr(self, "block_heads", None)
        need_all = output_hidden_states or heads is not None
        out = self.decoder(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=positions,
            output_hidden_states=need_all,
            use_cache=False,
        )
        last = out.last_hidden_state[:, -1, :]  # (batch, d)
        logits = self.score(last)  # (batch, n_items)
        states = tuple(h[:, -1, :] for h in out.hidden_states) if need_all else None
        block_logits = None
        if heads is not None:
            block_logits = {k: self.score(states[int(k)], head) for k, head in heads.items()}
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits, labels)
        return SLMRecOutput(
            loss=loss,
            logits=logits,
            hidden_states=states if output_hidden_states else None,
            block_logits=block_logits,
        )

    # -- construction and persistence -------------------------------------------------------
    @classmethod
    def from_causal_lm(
        cls,
        name_or_path: str,
        n_items: int,
        item_dim: int,
        instruction: str,
        response_marker: str,
        n_layers: int | None = None,
        item_embeddings: np.ndarray | None = None,
        freeze_item_embeddings: bool = False,
        train_token_embeddings: bool = False,
        dtype: Any = None,
    ) -> SLMRecModel:
        """Build from a causal LM (alias, hub id or folder), cut to its first ``n_layers``.

        Args:
            name_or_path: e.g. ``"smollm2-135m-instruct"``.
            n_items: Catalogue size.
            item_dim: Item embedding width (``item_embeddings.shape[1]`` when given).
            instruction: Text placed before the history.
            response_marker: Text placed after it; the last token's state is the query.
            n_layers: Blocks to keep (default: all).
            item_embeddings: Optional pretrained ``(n_items, item_dim)`` table.
            freeze_item_embeddings: Keep that table fixed.
            train_token_embeddings: Also train the LM's token embeddings (see SLMRecConfig).
            dtype: torch dtype of the decoder (default fp32 on CPU).
        """
        from llmrec.models import load_causal_lm

        lm, tokenizer = load_causal_lm(name_or_path, dtype=dtype, device="cpu")
        decoder = base_decoder(lm)
        if n_layers is not None:
            decoder = truncate_decoder(decoder, n_layers, copy_model=False)
        del lm
        config = SLMRecConfig(
            n_items=n_items,
            item_dim=item_dim,
            prefix_ids=tokenizer(instruction, add_special_tokens=False)["input_ids"],
            suffix_ids=tokenizer(response_marker, add_special_tokens=False)["input_ids"],
            freeze_item_embeddings=freeze_item_embeddings,
            train_token_embeddings=train_token_embeddings,
        )
        model = cls(decoder, config, item_embeddings)
        model.decoder.train()
        return model

    def truncated(self, n_layers: int) -> SLMRecModel:
        """A copy with the decoder cut to its first ``n_layers`` and the same heads and items."""
        student = copy.deepcopy(self)
        student.decoder = truncate_decoder(student.decoder, n_layers, copy_model=False)
        if hasattr(student, "block_heads"):
            del student.block_heads
        return student

    def save_pretrained(self, folder: str | Path) -> None:
        """Write the decoder (``decoder/``), the item table and projectors, and the config."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.decoder.save_pretrained(folder / "decoder", safe_serialization=True)
        state = {
            k: v.detach().contiguous().cpu()
            for k, v in self.state_dict().items()
            if not k.startswith("decoder.")
        }
        save_file(state, str(folder / WEIGHTS_NAME))
        (folder / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2))

    @classmethod
    def from_pretrained(cls, folder: str | Path, dtype: Any = None) -> SLMRecModel:
        """Load a model written by :meth:`save_pretrained`."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        folder = Path(folder)
        config_file = folder / CONFIG_NAME
        if not config_file.is_file():
            raise ValueError(f"{folder} is not an SLMRec model folder: {CONFIG_NAME} is missing")
        config = SLMRecConfig(**json.loads(config_file.read_text()))
        decoder = AutoModel.from_pretrained(
            folder / "decoder", dtype=dtype or torch.float32, use_safetensors=True
        )
        model = cls(decoder, config)
        state = load_file(str(folder / WEIGHTS_NAME))
        heads = {k for k in state if k.startswith("block_heads.")}
        if heads:
            logger.info("ignoring %d per-block head tensors (training-only)", len(heads))
        missing, unexpected = model.load_state_dict(
            {k: v for k, v in state.items() if k not in heads}, strict=False
        )
        missing = [k for k in missing if not k.startswith("decoder.")]
        if missing or unexpected:
            raise ValueError(f"{folder / WEIGHTS_NAME}: missing {missing}, unexpected {unexpected}")
        return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors counted once)."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


# -- data ------------------------------------------------------------------------------------
def svd_item_embeddings(train: InteractionDataset, dim: int, seed: int = 0) -> np.ndarray:
    """A pretrained item table from training interactions: scaled item factors of a truncated
    SVD of the binary user-item matrix, ``(n_items, dim)``, rows in ``train.item_ids`` order.

    A cheap stand-in for SLMRec's frozen SASRec embeddings; items never seen in training get a
    zero row. Vectors are rescaled to unit mean norm so the input projector starts well.
    """
    from scipy.sparse.linalg import svds

    matrix = train.interaction_matrix(binary=True).astype(np.float64)
    k = min(dim, min(matrix.shape) - 1)
    rng = np.random.default_rng(seed)
    v0 = rng.standard_normal(min(matrix.shape))
    _, s, vt = svds(matrix, k=k, v0=v0)
    order = np.argsort(-s)
    factors = vt[order].T * np.sqrt(s[order])  # (n_items, k)
    if k < dim:
        factors = np.pad(factors, ((0, 0), (0, dim - k)))
    norms = np.linalg.norm(factors, axis=1)
    scale = norms[norms > 0].mean() if (norms > 0).any() else 1.0
    return (factors / scale).astype(np.float32)


def next_item_examples(
    train: InteractionDataset, max_history: int, per_user: int = 0
) -> dict[str, list]:
    """Training examples ``(item_seq, labels)`` from every user's training sequence.

    Position ``t >= 1`` of a user's sequence gives the example (items before ``t``, at most
    ``max_history``) -> item ``t``. ``per_user > 0`` keeps only each user's last ``per_user``
    positions (the most recent, closest to the held-out items).

    Returns:
        Columns ``item_seq`` (lists of item codes + 1, unpadded) and ``labels`` (item codes),
        ready for ``datasets.Dataset.from_dict``.
    """
    if max_history < 1:
        raise ValueError(f"max_history must be >= 1, got {max_history}")
    codes = train.item_codes() + 1
    users = train.interactions["user_id"].to_numpy()
    seqs, labels = [], []
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    for start, end in zip(starts, ends):
        seq = codes[start:end]
        first = 1 if per_user <= 0 else max(1, len(seq) - per_user)
        for t in range(first, len(seq)):
            seqs.append(seq[max(0, t - max_history) : t].tolist())
            labels.append(int(seq[t] - 1))
    return {"item_seq": seqs, "labels": labels}


@dataclass
class ItemSequenceCollator:
    """Left-pads ``item_seq`` lists with 0 into a (batch, max_history) tensor."""

    max_history: int

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = torch.zeros(len(features), self.max_history, dtype=torch.long)
        for row, feature in enumerate(features):
            seq = list(feature["item_seq"])[-self.max_history :]
            if seq:
                batch[row, -len(seq) :] = torch.as_tensor(seq, dtype=torch.long)
        out = {"item_seq": batch}
        if "labels" in features[0]:
            out["labels"] = torch.tensor([int(f["labels"]) for f in features], dtype=torch.long)
        return out


# -- evaluation ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NextItemReport:
    """Full-ranking leave-one-out metrics plus inference cost."""

    k: int
    hr: float
    ndcg: float
    mrr: float
    users: int
    seconds: float
    ms_per_user: float

    def to_dict(self) -> dict[str, float]:
        """Flat metrics with the cut-off in the name: ``hr@10``, ``ndcg@10``, ``mrr``, ..."""
        return {
            f"hr@{self.k}": self.hr,
            f"ndcg@{self.k}": self.ndcg,
            "mrr": self.mrr,
            "users": self.users,
            "ms_per_user": self.ms_per_user,
        }


@torch.no_grad()
def evaluate_next_item(
    model: SLMRecModel,
    split: Split,
    max_history: int,
    part: str = "test",
    max_users: int = 0,
    batch_size: int = 64,
    k: int = 10,
    device: str | torch.device = "cpu",
) -> NextItemReport:
    """HR@k, NDCG@k and MRR of the held-out item under full ranking of the catalogue.

    The input history is everything before the held-out item (training items, plus the
    validation item when ``part == "test"``); items in that history are masked out of the
    ranking (except the target itself, for repeat consumption); ties count against the target
    (:func:`llmrec.metrics.ranking.rank_targets` with ``tie="pessimistic"``; metrics from
    :mod:`llmrec.metrics.ranking`).

    Args:
        model: The recommender.
        split: A leave-one-out :class:`~llmrec.data.splits.Split`.
        max_history: Most recent items fed to the model.
        part: ``"test"`` or ``"valid"``.
        max_users: Evaluate the first ``max_users`` held-out users (0 = all).
        batch_size: Users per forward pass.
        k: Cut-off of HR and NDCG.
        device: Where to run.

    Returns:
        A :class:`NextItemReport`; ``ms_per_user`` is the wall time of the forward passes only.
    """
    heldout = split.heldout(part)
    index = split.train.item_index
    users = heldout.interactions["user_id"].tolist()
    targets = heldout.interactions["item_id"].map(index).to_numpy()
    if max_users:
        users, targets = users[:max_users], targets[:max_users]
    histories = []
    for uid in users:
        items = [r.item_id for r in split.train.history(uid)]
        if part == "test":
            items += [r.item_id for r in split.valid.history(uid)]
        histories.append([index[i] for i in items])
    from llmrec.metrics.ranking import hit_rate, mrr, ndcg, rank_targets

    collate = ItemSequenceCollator(max_history)
    model.eval().to(device)
    ranks, elapsed = [], 0.0
    for start in range(0, len(users), batch_size):
        chunk = histories[start : start + batch_size]
        batch = collate([{"item_seq": [c + 1 for c in h]} for h in chunk])
        tic = time.perf_counter()
        scores = model(item_seq=batch["item_seq"].to(device)).logits.float().cpu().numpy()
        elapsed += time.perf_counter() - tic
        excluded = np.zeros(scores.shape, dtype=bool)  # (batch, n_items): the history
        for row, hist in enumerate(chunk):
            excluded[row, hist] = True
        target = targets[start : start + batch_size]
        ranks.append(rank_targets(scores, target, tie="pessimistic", excluded=excluded)[:, 0])
    rank = np.concatenate(ranks) if ranks else np.zeros(0)
    n = max(len(rank), 1)
    return NextItemReport(
        k=k,
        hr=float(hit_rate(rank, k).sum() / n),
        ndcg=float(ndcg(rank, k).sum() / n),
        mrr=float(mrr(rank).sum() / n),
        users=len(rank),
        seconds=elapsed,
        ms_per_user=1000.0 * elapsed / n,
    )


@torch.no_grad()
def measure_latency(
    models: Sequence[SLMRecModel],
    collator: ItemSequenceCollator,
    train: InteractionDataset,
    batch_size: int = 64,
    rounds: int = 5,
    device: str | torch.device = "cpu",
) -> list[float]:
    """Median milliseconds per scoring pass of a batch of ``batch_size`` histories, per model.

    The models are timed in alternation (round ``r`` times every model once after a warm-up
    pass), so a shared machine's load shifts all of them alike and the ratio stays fair.

    Args:
        models: Models scored on the same batch.
        collator: Pads the histories (its ``max_history`` sets the input length).
        train: Histories are the first ``batch_size`` users' training sequences.
        batch_size: Histories per pass.
        rounds: Timed passes per model (the median is returned).
        device: Where to run.
    """
    codes = train.item_codes() + 1
    users = train.interactions["user_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])[:batch_size]
    ends = np.r_[np.flatnonzero(np.r_[True, users[1:] != users[:-1]])[1:], len(users)]
    batch = collator([{"item_seq": codes[s:e].tolist()} for s, e in zip(starts, ends)])
    item_seq = batch["item_seq"].to(device)
    for model in models:
        model.eval().to(device)
        model(item_seq=item_seq)  # warm-up
    times: list[list[float]] = [[] for _ in models]
    for _ in range(rounds):
        for i, model in enumerate(models):
            tic = time.perf_counter()
            model(item_seq=item_seq)
            times[i].append(1000.0 * (time.perf_counter() - tic))
    return [float(np.median(t)) for t in times]
