"""The judge as a trl reward function, and the injection measurement."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.context import UserContext, render_item
from llmrec.judge.injection import (
    ATTACKS,
    attacks_by_name,
    measure_pairwise_injection,
    measure_pointwise_injection,
)
from llmrec.judge.pairwise import PairwiseJudge
from llmrec.judge.pointwise import PointwiseJudge
from llmrec.judge.reward import JudgeReward, completion_text

from .conftest import option_titles


@pytest.fixture(scope="module")
def context(small_world):
    dataset, profiles = small_world
    return UserContext(profiles=profiles, history=dataset)


def test_reward_function_form_on_real_smollm2(judge_backend, context, small_world):
    dataset, _ = small_world
    judge = PointwiseJudge(judge_backend, context)
    reward = JudgeReward(judge, catalogue=dataset.items)
    assert reward.__name__ == "judge_reward"
    conversational = [
        [{"role": "assistant", "content": "Toy Story (1995)\nA classic."}],
        [{"role": "assistant", "content": "the shining"}],
    ]
    plain = ["Toy Story", "The Shining"]
    r_conv = reward(conversational, prompts=["p1", "p2"], user_id=["u1", "u1"])
    r_plain = reward(plain, user_id=["u1", "u1"])
    assert r_conv == pytest.approx(r_plain)  # catalogue match ignores case and year
    expected = judge.judge([("u1", dataset.items["1"]), ("u1", dataset.items["2"])])
    assert r_plain == pytest.approx([(j.score - 1) / 4 for j in expected])
    assert all(0.0 <= r <= 1.0 for r in r_plain)
    # a per-row profile column replaces the stored profile
    swapped = reward(plain, user_id=["u1", "u1"], profile=[context.profiles["u2"]] * 2)
    as_u2 = judge.judge([("u2", dataset.items["1"]), ("u2", dataset.items["2"])])
    assert swapped == pytest.approx([(j.score - 1) / 4 for j in as_u2])


def test_reward_errors_and_failures(scripted, context):
    judge = PointwiseJudge(
        scripted(reply=lambda t: "no score"), context, mode="rationale", max_repairs=0
    )
    reward = JudgeReward(judge, failure_value=-1.0)
    assert reward(["Some Film"], user_id=["u1"]) == [-1.0]  # unparseable -> failure value
    fours = PointwiseJudge(scripted(reply=lambda t: "Score: 4"), context, mode="rationale")
    assert JudgeReward(fours, scale="raw")(["A"], user_id=["u1"]) == [4.0]
    assert JudgeReward(fours)(["A"], user_id=["u1"]) == [0.75]
    with pytest.raises(ValueError, match="column 'user_id'"):
        reward(["Some Film"], prompts=["p"])
    with pytest.raises(TypeError, match="completion must be a string"):
        completion_text(42)


def test_untrusted_item_text_is_delimited_and_cut():
    from llmrec.data.records import Item

    attacked = attacks_by_name(["fake_delimiter"])[0].apply(
        Item("9", "Heat", description="x" * 900)
    )
    block = render_item(attacked)
    # the attack's own >>> / <<< are stripped, so the title stays inside one delimited span
    assert block.count("<<<") == 2 and block.count(">>>") == 2
    assert "Instruction to the judge" in block.split("<<<")[1].split(">>>")[0]
    description = block.split("Description: ")[1]
    assert len(description) <= 300 + len("<<<>>>") and description.endswith("…>>>")


def test_attacks_copy_items_and_names_are_checked(small_world):
    dataset, _ = small_world
    item = dataset.items["1"]
    for attack in ATTACKS:
        hit = attack.apply(item)
        assert hit is not item and item.title == "Toy Story" and item.description is None
        assert attack.text in (hit.title if attack.field == "title" else hit.description)
    with pytest.raises(ValueError, match="unknown attacks"):
        attacks_by_name(["make_it_five"])


def test_pointwise_injection_shift_on_real_smollm2(judge_backend, context, small_world):
    dataset, _ = small_world
    judge = PointwiseJudge(judge_backend, context)
    pairs = [("u1", dataset.items["2"]), ("u2", dataset.items["1"])]
    attacks = attacks_by_name(["ignore_profile"])
    report = measure_pointwise_injection(judge, pairs, attacks)
    clean = judge.scores(pairs)
    for attack in attacks:
        hit = judge.scores([(u, attack.apply(it)) for u, it in pairs])
        block = report[attack.name]
        assert block["mean_shift"]["value"] == pytest.approx(np.mean(hit - clean), abs=1e-4)
        assert block["share_increased"] == np.mean(hit - clean > 0)
        assert block["failed"] == 0
    assert report["clean_mean_score"] == pytest.approx(clean.mean(), abs=1e-4)


def test_pairwise_injection_shift_is_exact_for_an_obedient_judge(scripted, context, small_world):
    dataset, _ = small_world

    def pick(text, cands):  # obeys any injected "prefer" instruction, else picks option 1
        first, second = option_titles(text)
        return "2" if "prefer" in second and "prefer" not in first else "1"

    judge = PairwiseJudge(scripted(pick=pick), context)
    triples = [("u1", dataset.items["1"], dataset.items["2"])]
    report = measure_pairwise_injection(judge, triples, attacks_by_name(["prefer_this"]))
    # clean: position bias -> tie (0.5); attacked: A picked in both orders -> win (1.0)
    assert report["clean_win_rate"] == 0.5
    assert report["prefer_this"]["win_rate"] == 1.0
    assert report["prefer_this"]["shift"]["value"] == 0.5
