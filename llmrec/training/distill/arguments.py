"""Script arguments of the distillation recipe (SLMRec): data and model shapes."""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import ScriptArguments


@dataclass
class DistillScriptArguments(ScriptArguments):
    """Data and model-shape arguments of the distillation recipe."""

    dataset_name: str = field(default="ml-100k", metadata={"help": "llmrec dataset name."})
    max_history: int = field(default=10, metadata={"help": "Most recent items per input."})
    examples_per_user: int = field(
        default=4, metadata={"help": "Last training positions per user (0 = every position)."}
    )
    item_dim: int = field(default=64, metadata={"help": "Item embedding width."})
    item_init: str = field(
        default="svd", metadata={"help": "'svd' (pretrained from train interactions) or 'random'."}
    )
    freeze_item_embeddings: bool = field(default=False, metadata={"help": "Keep items fixed."})
    teacher_layers: int = field(default=8, metadata={"help": "Blocks of the LM the teacher keeps."})
    student_layers: int = field(default=2, metadata={"help": "Blocks the student keeps."})
    teacher_path: str | None = field(
        default=None, metadata={"help": "A trained SLMRec teacher folder; trained here if unset."}
    )
    teacher_epochs: float = field(default=1.0, metadata={"help": "Epochs of teacher training."})
    student_init: str = field(
        default="teacher",
        metadata={"help": "'teacher' (cut of the trained teacher) or 'base' (cut of the raw LM)."},
    )
    train_undistilled_student: bool = field(
        default=False, metadata={"help": "Also train the same student with CE only (ablation)."}
    )
    instruction: str = field(
        default="Given the user's watch history, predict the next movie. History:",
        metadata={"help": "Text before the item embeddings."},
    )
    response_marker: str = field(default=" Next movie:", metadata={"help": "Text after them."})
    eval_users: int = field(default=0, metadata={"help": "Held-out users evaluated (0 = all)."})
    eval_batch_size: int = field(default=64, metadata={"help": "Users per scoring pass."})
    latency_rounds: int = field(default=5, metadata={"help": "Alternating timing rounds."})

    def check(self) -> None:
        """Refuse values the recipe cannot use, naming the field and what is allowed."""
        if self.item_init not in ("svd", "random"):
            raise ValueError(f"item_init must be 'svd' or 'random', got {self.item_init!r}")
        if self.student_init not in ("teacher", "base"):
            raise ValueError(f"student_init must be 'teacher' or 'base', got {self.student_init!r}")
