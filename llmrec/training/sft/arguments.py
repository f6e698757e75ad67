"""Script arguments of the SFT recipe (``recipes/sft.py``): the YAML keys beside trl's SFTConfig."""

from __future__ import annotations

from dataclasses import dataclass, field

TASKS = ("next_item", "tallrec")


@dataclass
class SFTScriptArguments:
    """What the SFT recipe trains on and how it is evaluated (YAML keys of the recipe config).

    Args:
        dataset: Dataset name for :func:`~llmrec.training.data.load_recipe_dataset`.
        task: ``"next_item"`` or ``"tallrec"``.
        train_users: Users whose training histories give the examples.
        eval_users: Disjoint users whose held-out test items are evaluated.
        history_len: Past items shown in a prompt.
        targets_per_user: Training examples per user (its last training interactions).
        n_negatives: Candidates besides the true item in next-item ranking.
        label: TALLRec labels, ``"rating"`` or ``"sampled_negative"``.
        like_threshold: Ratings at or above it count as liked (TALLRec).
        k: Cut-off of HR@K and NDCG@K.
        run_eval: Evaluate on held-out users at the end (off for throughput benchmarks).
        eval_baseline: Also evaluate the untuned model (adapter off) on the same cases.
        require_gpu: Fail on a machine without CUDA (set in the GPU configs).
        write_rank_fingerprints: Write a hash of each rank's trained weights (DDP checks).
    """

    dataset: str = field(default="ml-100k", metadata={"help": "ml-100k, synthetic, ..."})
    task: str = field(default="next_item", metadata={"help": f"one of {TASKS}"})
    train_users: int = field(default=200, metadata={"help": "users giving training examples"})
    eval_users: int = field(default=100, metadata={"help": "held-out users evaluated"})
    history_len: int = field(default=10, metadata={"help": "past items per prompt"})
    targets_per_user: int = field(default=1, metadata={"help": "training examples per user"})
    n_negatives: int = field(default=49, metadata={"help": "sampled candidates per ranking case"})
    label: str = field(default="rating", metadata={"help": "tallrec: rating | sampled_negative"})
    like_threshold: float = field(default=4.0, metadata={"help": "tallrec: liked if rating >= t"})
    k: int = field(default=10, metadata={"help": "cut-off of hr@k and ndcg@k"})
    run_eval: bool = field(default=True, metadata={"help": "evaluate on held-out users at the end"})
    eval_baseline: bool = field(default=True, metadata={"help": "evaluate the untuned model too"})
    require_gpu: bool = field(default=False, metadata={"help": "fail without CUDA"})
    write_rank_fingerprints: bool = field(
        default=False, metadata={"help": "hash each rank's weights into output_dir"}
    )

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        for name in ("train_users", "history_len", "targets_per_user", "k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
