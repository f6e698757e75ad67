"""SLMRec distillation: a shallow student learns next-item prediction and the teacher's blocks.

Losses, for a batch of histories with next items ``y`` (Xu et al., ICLR 2025, arXiv 2405.17890):

* next-item cross-entropy ``CE(student_logits, y)`` over the whole catalogue;
* block-wise hidden-state alignment over ``B`` evenly spaced layer pairs: student layer
  ``s_i = round(N_s * i / B)``, teacher layer ``t_i = round(N_t * i / B)``, ``i = 1..B``, on the
  last-token state: ``loss_i = lambda * (1 - cos(h_s, h_t)) + mu * ||h_s - h_t||_2`` (``mu = 0.1``
  in the paper), averaged over the batch and summed over blocks;
* optional per-block heads: a separate output projector on each intermediate student block with
  its own cross-entropy to ``y`` (weight ``block_head_weight``);
* optional logit KD: ``T^2 * KL(softmax(z_t / T) || softmax(z_s / T))`` (weight ``kd_weight``).

Example:
    >>> trainer = SLMRecDistillTrainer(
    ...     teacher=teacher, model=student, args=DistillConfig(output_dir="out", n_blocks=2),
    ...     train_dataset=ds, data_collator=ItemSequenceCollator(10),
    ... )  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch import nn
from transformers import Trainer, TrainingArguments

from llmrec.training.distill.slmrec import SLMRecModel

logger = logging.getLogger(__name__)


def block_pairs(n_teacher: int, n_student: int, n_blocks: int) -> list[tuple[int, int]]:
    """Evenly spaced ``(teacher_layer, student_layer)`` pairs, 1-based layer numbers.

    Block ``i`` (1..B) pairs teacher layer ``round(N_t * i / B)`` with student layer
    ``round(N_s * i / B)``; the last pair is always the two final layers.

    Example:
        >>> block_pairs(8, 4, 4)
        [(2, 1), (4, 2), (6, 3), (8, 4)]
    """
    if not 1 <= n_blocks <= n_student:
        raise ValueError(f"n_blocks must be in [1, n_student={n_student}], got {n_blocks}")
    if n_student > n_teacher:
        raise ValueError(
            f"the student ({n_student} layers) is deeper than the teacher ({n_teacher})"
        )
    return [
        (round(n_teacher * i / n_blocks), round(n_student * i / n_blocks))
        for i in range(1, n_blocks + 1)
    ]


def hidden_alignment_loss(
    student: torch.Tensor, teacher: torch.Tensor, cos_weight: float = 1.0, l2_weight: float = 0.1
) -> torch.Tensor:
    """``mean_b[cos_weight * (1 - cos(s_b, t_b)) + l2_weight * ||s_b - t_b||_2]``.

    Args:
        student: (batch, d) student states.
        teacher: (batch, d) teacher states (no gradient needed).
        cos_weight: lambda of SLMRec.
        l2_weight: Weight of the Euclidean distance (0.1 in SLMRec).
    """
    cos = nn.functional.cosine_similarity(student, teacher, dim=-1)  # (batch,)
    dist = (student - teacher).norm(dim=-1)  # (batch,)
    return (cos_weight * (1.0 - cos) + l2_weight * dist).mean()


def logit_kd_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Hinton KD: ``T^2 * KL(softmax(z_t / T) || softmax(z_s / T))``, mean over the batch.

    Args:
        student_logits: (batch, n_items).
        teacher_logits: (batch, n_items).
        temperature: Softening temperature ``T > 0``.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    log_p_s = nn.functional.log_softmax(student_logits / temperature, dim=-1)
    log_p_t = nn.functional.log_softmax(teacher_logits / temperature, dim=-1)
    kl = nn.functional.kl_div(log_p_s, log_p_t, log_target=True, reduction="batchmean")
    return kl * temperature**2


@dataclass
class DistillConfig(TrainingArguments):
    """``TrainingArguments`` plus the weights of SLMRec's losses.

    Args:
        n_blocks: Number of aligned layer pairs ``B`` (<= student layers).
        align_weight: lambda, weight of ``1 - cos`` per block (0 turns alignment off).
        l2_weight: Weight of the L2 distance per block (0.1 in SLMRec).
        block_head_weight: Weight of the per-block heads' cross-entropy (0 = no extra heads).
        kd_weight: Weight of the logit KL term (0 = off).
        kd_temperature: Its temperature.
    """

    n_blocks: int = field(default=2, metadata={"help": "Aligned layer pairs B."})
    align_weight: float = field(default=1.0, metadata={"help": "lambda of 1 - cos per block."})
    l2_weight: float = field(default=0.1, metadata={"help": "Weight of ||s - t||_2 per block."})
    block_head_weight: float = field(default=0.0, metadata={"help": "Per-block heads' CE."})
    kd_weight: float = field(default=0.0, metadata={"help": "Weight of the logit KL."})
    kd_temperature: float = field(default=2.0, metadata={"help": "Temperature of the logit KL."})


class SLMRecDistillTrainer(Trainer):
    """A ``Trainer`` whose loss is CE + block alignment (+ per-block heads CE) (+ logit KD).

    Args:
        teacher: The trained teacher (frozen here, moved to the training device).
        *args, **kwargs: As for ``transformers.Trainer``; ``model`` is the student
            :class:`~llmrec.training.distill.slmrec.SLMRecModel` and ``args`` a :class:`DistillConfig`.

    The loss parts are averaged between logging steps and logged as ``ce``, ``align``,
    ``block_ce`` and ``kd`` next to ``loss``.
    """

    def __init__(self, teacher: SLMRecModel, *args, **kwargs) -> None:
        model: SLMRecModel | None = kwargs.get("model", args[0] if args else None)
        config = kwargs.get("args", args[1] if len(args) > 1 else None)
        if not isinstance(model, SLMRecModel) or not isinstance(config, DistillConfig):
            raise TypeError(
                "SLMRecDistillTrainer needs model=<SLMRecModel> (the student) and "
                f"args=<DistillConfig>, got {type(model).__name__} and {type(config).__name__}"
            )
        self.pairs = block_pairs(teacher.num_layers, model.num_layers, config.n_blocks)
        if config.block_head_weight > 0 and not hasattr(model, "block_heads"):
            hidden = model.decoder.config.hidden_size
            heads = {str(s): nn.Linear(hidden, model.config.item_dim) for _, s in self.pairs[:-1]}
            # Registered on the model so the optimizer, DDP and checkpoints all see them.
            model.add_module("block_heads", nn.ModuleDict(heads))
        teacher.eval().requires_grad_(False)
        self.teacher = teacher
        self._parts: dict[str, list[float]] = defaultdict(list)
        super().__init__(*args, **kwargs)
        self.teacher.to(self.args.device)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        cfg: DistillConfig = self.args
        out = model(**inputs, output_hidden_states=True)
        with torch.no_grad():
            t_out = self.teacher(item_seq=inputs["item_seq"], output_hidden_states=True)
        parts = {"ce": out.loss}
        if cfg.align_weight > 0 or cfg.l2_weight > 0:
            parts["align"] = sum(
                hidden_alignment_loss(
                    out.hidden_states[s], t_out.hidden_states[t], cfg.align_weight, cfg.l2_weight
                )
                for t, s in self.pairs
            )
        if out.block_logits and cfg.block_head_weight > 0:
            ce = [
                nn.functional.cross_entropy(z, inputs["labels"]) for z in out.block_logits.values()
            ]
            parts["block_ce"] = cfg.block_head_weight * torch.stack(ce).sum()
        if cfg.kd_weight > 0:
            parts["kd"] = cfg.kd_weight * logit_kd_loss(
                out.logits, t_out.logits, cfg.kd_temperature
            )
        loss = sum(parts.values())
        for name, value in parts.items():
            self._parts[name].append(float(value.detach()))
        return (loss, out) if return_outputs else loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs and self._parts:
            logs.update({k: round(sum(v) / len(v), 6) for k, v in self._parts.items()})
            self._parts.clear()
        super().log(logs, *args, **kwargs)
