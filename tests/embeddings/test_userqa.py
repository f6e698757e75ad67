from __future__ import annotations

import pytest

from llmrec.data.records import Interaction, InteractionDataset, Item, User
from llmrec.embeddings.userqa import (
    ATTRIBUTE_TASKS,
    PAST_TASKS,
    apply_paraphrases,
    build_userqa,
    favourite_genres,
    paraphrase_instructions,
    typical_eras,
)


def test_past_questions_do_not_depend_on_heldout(ml100k_split):
    split = ml100k_split
    users = split.train.active_users()[:60]
    real = build_userqa(split.train, split.valid, users)
    # Swap every held-out item for another catalogue item: only future answers may change.
    frame = split.valid.interactions.copy()
    ids = split.train.item_ids
    frame["item_id"] = [ids[(ids.index(i) + 7) % len(ids)] for i in frame["item_id"]]
    frame["rating"] = 6.0 - frame["rating"]
    other = build_userqa(split.train, split.valid.with_interactions(frame), users)
    stable = lambda exs: [e for e in exs if e.task in PAST_TASKS + ATTRIBUTE_TASKS]  # noqa: E731
    assert stable(real) == stable(other)
    assert len(stable(real)) >= 4 * len(users)
    future_real = {(e.user_id, e.task): e.answer for e in real if e.kind == "future"}
    future_other = {(e.user_id, e.task): e.answer for e in other if e.kind == "future"}
    assert future_real.keys() == future_other.keys()
    assert sum(future_real[k] != future_other[k] for k in future_real) >= len(users)


def test_future_answers_come_from_the_heldout_item(ml100k_split):
    split = ml100k_split
    examples = build_userqa(split.train, split.test, ["1", "2"], tasks=("next_item", "will_like"))
    test = split.test.interactions.set_index("user_id")
    for ex in examples:
        item = split.test.items[test.loc[ex.user_id, "item_id"]]
        if ex.task == "next_item":
            assert ex.label == item.item_id and item.title in ex.answer
        else:
            assert item.title in ex.instruction
            assert ex.label == ("Yes" if test.loc[ex.user_id, "rating"] >= 4 else "No")
        # the held-out item is not in the training history the encoder reads
        assert item.item_id not in {r.item_id for r in split.train.history(ex.user_id)}


def _toy() -> InteractionDataset:
    items = [
        Item("a", "A", ("Drama",), 1970),
        Item("b", "B", ("Drama", "War"), 1985),
        Item("c", "C", ("Comedy",), 1996),
        Item("d", "D", ("War",), 1997),
    ]
    rows = [
        # u1 likes Drama/War; u2 likes Comedy mostly
        ("u1", "a", 1, 5),
        ("u1", "b", 2, 5),
        ("u1", "d", 3, 4),
        ("u1", "c", 4, 2),
        ("u2", "c", 1, 5),
        ("u2", "a", 2, 4),
        ("u2", "d", 3, 1),
        ("u2", "c", 5, 5),
    ]
    inter = [Interaction(u, i, t, r) for u, i, t, r in rows]
    users = [
        User("u1", {"age": 30, "gender": "F", "occupation": "writer"}),
        User("u2", {"age": 50}),
    ]
    return InteractionDataset(items, inter, users, name="toy")


def test_favourite_genre_and_era_closed_form():
    ds = _toy()
    # liked (>= 4): u1 a(Drama) b(Drama,War) d(War); u2 c(Comedy) a(Drama) c(Comedy)
    # global liked genre counts: Drama 3, War 2, Comedy 2 (n=7)
    # u1 shares: Drama 2/4, War 2/4 -> lifts (0.5/(3/7))=1.167, (0.5/(2/7))=1.75 -> War
    # u2 shares: Comedy 2/3 (lift 2.33), Drama 1/3 (count 1 < 2, skipped) -> Comedy
    assert favourite_genres(ds) == {"u1": "War", "u2": "Comedy"}
    # median years: u1 [1970, 1985, 1997, 1996] -> 1990.5; u2 [1996, 1970, 1997, 1996] -> 1996
    assert typical_eras(ds) == {"u1": "1990 to 1994", "u2": "1995 or later"}
    examples = build_userqa(ds, None, min_history=1)
    tasks = {(e.user_id, e.task): e for e in examples}
    assert tasks[("u1", "gender")].answer == "This user is female."
    assert tasks[("u2", "age_band")].label == "45 or older"
    assert ("u2", "gender") not in tasks  # no gender field
    assert not any(e.kind == "future" for e in examples)  # no held-out part given


def test_unknown_task_is_rejected():
    with pytest.raises(ValueError, match="unknown UserQA task 'shoe_size'"):
        build_userqa(_toy(), None, tasks=("shoe_size",))


def test_paraphrases_through_a_backend(tiny_llama_path):
    from llmrec.backends.base import GenerationParams

    class Scripted:
        """A backend double that answers from a fixed script (checks the chat it receives)."""

        fingerprint, usage = "scripted", None

        def __init__(self):
            self.chats = []

        def generate(self, chats, params=None):
            self.chats.extend(chats)
            return ['"What genre does this person love?"', "no question here"] * len(chats)

    backend = Scripted()
    params = GenerationParams(max_new_tokens=8, n=2)
    out = paraphrase_instructions(
        ["Which movie genre does this user like most?"], backend, params=params
    )
    assert out == {
        "Which movie genre does this user like most?": ["What genre does this person love?"]
    }
    assert "<<<Which movie genre does this user like most?>>>" in backend.chats[0][-1]["content"]
    examples = build_userqa(_toy(), None, min_history=1, tasks=("favourite_genre",))
    swapped = apply_paraphrases(examples, out, seed=0, keep_original=0.0)
    assert all(e.instruction == "What genre does this person love?" for e in swapped)
    assert [e.answer for e in swapped] == [e.answer for e in examples]


def test_paraphrase_with_real_backend_returns_a_mapping(tiny_llama_path):
    from llmrec.backends.base import GenerationParams
    from llmrec.backends.hf import TransformersBackend

    backend = TransformersBackend(tiny_llama_path, device="cpu")
    params = GenerationParams(max_new_tokens=4, temperature=1.0, seed=0, n=2)
    out = paraphrase_instructions(["What is the gender of this user?"], backend, params=params)
    # a random model writes no valid question: the cleaning drops everything, nothing crashes
    assert set(out) == {"What is the gender of this user?"}
    assert all(p.endswith("?") for p in out["What is the gender of this user?"])


def test_history_cuts_answer_with_the_next_training_item(ml100k_split):
    from llmrec.embeddings.userqa import next_item_cuts

    train = ml100k_split.train
    dataset, examples = next_item_cuts(train, ["1", "2"], n_cuts=3, min_prefix=5, seed=0)
    assert len(examples) == 6 and len(dataset.interactions) > len(train.interactions)
    for ex in examples:
        uid, t = ex.user_id.split("@")
        full = [r.item_id for r in train.history(uid)]
        assert [r.item_id for r in dataset.history(ex.user_id)] == full[: int(t)]
        assert ex.label == full[int(t)] and ex.task == "next_item"
        assert dataset.users[ex.user_id].attributes == train.users[uid].attributes
    # only training interactions are used: nothing of the held-out parts appears
    heldout = set(
        ml100k_split.valid.interactions["item_id"][
            ml100k_split.valid.interactions["user_id"] == "1"
        ]
    )
    assert not any(ex.label in heldout and ex.user_id.startswith("1@") for ex in examples)
