"""Multi-turn rollouts with simulated users, the GRPO dataset, and the GRPO recipe."""

from __future__ import annotations

import json

import pytest

from llmrec.backends.base import UsageStats
from llmrec.training.grpo.data import (
    grpo_dataset,
    profile_f1_report,
    rollout_dialogues,
    simulators_for,
    warm_start_dataset,
)
from llmrec.training.grpo.rewards import ProfileF1Reward, parse_reply
from llmrec.training.grpo.simulator import RevealPolicy

TINY_GRPO = "recipes/tiny-random/grpo/config_tiny.yaml"


@pytest.fixture(scope="module")
def world():
    from llmrec.data.synthetic import SyntheticConfig, generate_world

    return generate_world(SyntheticConfig(n_users=12, n_items=60, seed=0))


class EchoPolicy:
    """A policy double: one batched call per turn; replies list the user's turn number."""

    fingerprint = "echo"

    def __init__(self) -> None:
        self.calls = []
        self.usage = UsageStats()

    def generate(self, chats, params=None):
        self.calls.append(len(chats))
        return [
            f"<profile>\nlikes Drama\n</profile>\n<response>\nturn {len(c)}\n</response>"
            for c in chats
        ]


def test_template_rollouts_build_growing_chats(world):
    users = world.dataset.user_ids[:4]
    sims = simulators_for(world.gold, users, RevealPolicy(order="given", seed=0))
    dialogues = rollout_dialogues(sims, n_turns=3)
    assert [d.user_id for d in dialogues] == users
    d = dialogues[0]
    assert [len(t.prompt) for t in d.turns] == [2, 4, 6]  # system, then user/assistant pairs
    assert d.turns[0].prompt[0]["role"] == "system" and d.turns[2].prompt[-1]["role"] == "user"
    assert d.turns[1].prompt[2] == {"role": "assistant", "content": d.turns[0].reply}
    assert d.turns[2].revealed == world.gold[users[0]].traits()[:3]
    # Template replies restate exactly what was revealed: F1 against it is 1 at every turn.
    assert parse_reply(d.turns[1].reply).profile == d.turns[1].revealed
    report = profile_f1_report(dialogues, target="revealed")
    assert report["profile_f1"] == 1.0 and report["format_rate"] == 1.0
    gold_n = len(world.gold[users[0]].traits())
    assert profile_f1_report(dialogues[:1])["profile_f1_by_turn"][0] == pytest.approx(
        2 * (1 / gold_n) / (1 + 1 / gold_n)
    )


def test_policy_rollouts_are_batched_and_feed_back_replies(world):
    users = world.dataset.user_ids[:5]
    policy = EchoPolicy()
    dialogues = rollout_dialogues(simulators_for(world.gold, users), 2, policy=policy)
    assert policy.calls == [5, 5]
    assert dialogues[0].turns[0].reply.endswith("turn 2\n</response>")
    assert dialogues[0].turns[1].prompt[2]["content"] == dialogues[0].turns[0].reply


def test_grpo_dataset_columns_feed_the_rewards(world):
    users = world.dataset.user_ids[:3]
    dialogues = rollout_dialogues(simulators_for(world.gold, users, RevealPolicy(seed=1)), 2)
    ds = grpo_dataset(dialogues)
    assert ds.num_rows == 6
    assert ds.column_names == ["prompt", "gold_traits", "revealed_traits", "user_id", "turn"]
    assert ds["turn"] == [0, 1] * 3 and ds["user_id"] == [u for u in users for _ in range(2)]
    assert ds[1]["gold_traits"] == world.gold[users[0]].traits()
    assert grpo_dataset(dialogues, turns=[1]).num_rows == 3
    # The columns arrive at reward functions under their names, as trl passes them.
    rows = ds[:]
    completions = [[{"role": "assistant", "content": t.reply}] for d in dialogues for t in d.turns]
    rewards = ProfileF1Reward("revealed_traits")(completions, **rows)
    assert rewards == [1.0] * 6
    warm = warm_start_dataset(dialogues)
    assert warm.column_names == ["prompt", "completion"] and warm.num_rows == 6
    assert warm[0]["completion"][0]["content"] == dialogues[0].turns[0].reply


def test_rollout_rejects_bad_arguments(world):
    with pytest.raises(ValueError, match="n_turns"):
        rollout_dialogues(simulators_for(world.gold, world.dataset.user_ids[:1]), 0)
    with pytest.raises(ValueError, match="no gold profile"):
        simulators_for(world.gold, ["nobody"])


def test_tiny_grpo_recipe_logs_rewards_and_updates_the_policy(run_recipe, tmp_path):
    out = run_recipe("grpo", TINY_GRPO, "--output_dir", str(tmp_path))
    curve = out["curve"]
    assert [row["step"] for row in curve] == [1, 2, 3]
    for name in ("profile_f1", "response_relevance", "tag_count_reward"):
        assert all(f"rewards/{name}/mean" in row for row in curve)
    assert any(row["reward"] > 0 for row in curve)
    summary = out["summary"]
    assert summary["weights_changed"] is True
    assert summary["train_prompts"] == 16 and summary["eval_users"] == 4
    assert set(out["stages"]) == {"base", "warm start", "after GRPO"}
    for stage in out["stages"].values():
        assert 0.0 <= stage["profile_f1"] <= 1.0 and len(stage["profile_f1_by_turn"]) == 2
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["summary"]["steps"] == 3
