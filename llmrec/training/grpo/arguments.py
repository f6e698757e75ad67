"""Script arguments of the GRPO recipe (RLPA): simulated users, dialogue shape and rewards."""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import ScriptArguments


@dataclass
class GRPOScriptArguments(ScriptArguments):
    """Simulated users, dialogue shape and rewards of the RLPA recipe."""

    dataset_name: str = field(default="synthetic", metadata={"help": "Only 'synthetic'."})
    world_users: int = field(default=200, metadata={"help": "Users in the synthetic world."})
    world_items: int = field(default=300, metadata={"help": "Items in the synthetic world."})
    train_users: int = field(default=64, metadata={"help": "Users whose dialogues train."})
    eval_users: int = field(default=16, metadata={"help": "Held-out users evaluated."})
    n_turns: int = field(default=3, metadata={"help": "User messages per dialogue."})
    traits_per_turn: int = field(default=1, metadata={"help": "Traits revealed per turn."})
    reveal_order: str = field(default="shuffled", metadata={"help": "'shuffled' or 'given'."})
    silent_prob: float = field(default=0.0, metadata={"help": "Chance a turn reveals nothing."})
    simulator_model: str | None = field(
        default=None, metadata={"help": "Backend spec writing user messages (default: template)."}
    )
    context: str = field(
        default="template",
        metadata={"help": "Earlier assistant turns of training prompts: 'template' or 'policy'."},
    )
    profile_target: str = field(
        default="gold_traits", metadata={"help": "'gold_traits' (RLPA) or 'revealed_traits'."}
    )
    response_reward: str = field(
        default="relevance",
        metadata={"help": "'relevance', 'judge' (keep talking?), 'item_judge' or 'none'."},
    )
    judge_model: str | None = field(default=None, metadata={"help": "Backend spec of the judge."})
    tag_shaping: bool = field(default=True, metadata={"help": "Add the tag-count reward."})
    warm_start_steps: int = field(
        default=0, metadata={"help": "SFT steps on templated well-formed replies before GRPO."}
    )
    warm_start_learning_rate: float = field(default=1e-4, metadata={"help": "Its learning rate."})
    eval_max_new_tokens: int = field(default=128, metadata={"help": "Reply budget in evaluation."})

    def check(self) -> None:
        """Refuse settings the recipe cannot run, naming the field and what is allowed."""
        if self.dataset_name != "synthetic":
            raise ValueError(
                f"dataset_name: GRPO needs users with gold traits; only 'synthetic' is supported, "
                f"got {self.dataset_name!r}"
            )
        if self.context not in ("template", "policy"):
            raise ValueError(f"context must be 'template' or 'policy', got {self.context!r}")
