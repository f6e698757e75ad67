"""Untrusted text never becomes special-token ids, on every backend's tokenizer path.

The property: for a prompt holding hostile item text, the special ids in its token ids are
exactly those of the same prompt with a clean item, in the same order, i.e. only where the
chat template put them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llmrec.control_tokens import neutralise, tokenizer_special_tokens
from llmrec.data.records import Item
from llmrec.prompts import render_chat, untrusted

PAYLOADS = [
    json.loads(line)
    for line in (Path(__file__).parents[1] / "data" / "injection" / "payloads.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
]
HOSTILE = [p["text"] for p in PAYLOADS if p["class"] in ("fake_role", "own_tokens")]


@pytest.fixture(scope="module")
def smol_tokenizer(smollm2_path):
    from llmrec.models import load_tokenizer

    return load_tokenizer(smollm2_path)


@pytest.fixture(scope="module")
def tiny(tiny_llama_path):
    from llmrec.backends.hf import TransformersBackend

    return TransformersBackend(tiny_llama_path, device="cpu", batch_size=4)


def special_ids(tokenizer) -> set[int]:
    return set(tokenizer.convert_tokens_to_ids(list(tokenizer_special_tokens(tokenizer))))


def parsed_specials(tokenizer, text: str) -> list[int]:
    """Special ids of ``text`` tokenised the way a server does: special strings parsed."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    specials = special_ids(tokenizer)
    return [i for i in ids if i in specials]


def judge_chat(title: str, description: str | None = None):
    from llmrec.context.items import render_item

    item = Item("1", title, ("Drama",), 1995, description)
    return render_chat(
        "judge/pointwise",
        user_context="Likes dramas.",
        item_text=render_item(item),
        rationale=False,
    )


def test_clean_text_is_unchanged(ml100k):
    texts = [it.title for it in ml100k.items.values()]
    texts += [g for it in ml100k.items.values() for g in it.genres]
    texts += [
        "Amélie (2001)",
        "千と千尋の神隠し",
        "a < b > c",
        "1<2 and 3>2",
        "<3",
        "x | y",
        "[1] (a)",
    ]
    assert [neutralise(t) for t in texts] == texts


@pytest.mark.parametrize("payload", HOSTILE)
def test_untrusted_filter_leaves_no_special_string(smol_tokenizer, payload):
    # What leaves us for any server: the rendered text, tokenised with special strings parsed.
    assert parsed_specials(smol_tokenizer, untrusted(payload, max_chars=10_000)) == []


def test_generic_markers_of_other_families_are_defanged():
    families = {
        "<|eot_id|>": "‹|eot_id|›",
        "<|start_header_id|>": "‹|start_header_id|›",
        "</s>": "‹/s›",
        "[INST]": "(INST)",
        "<<SYS>>": "‹‹SYS››",
        "<start_of_turn>": "‹start_of_turn›",
        "<｜Assistant｜>": "‹|Assistant|›",
        "<filename>": "‹filename›",
        "<b>": "‹b›",
        "<|im_\u200bstart|>": "‹|im_start|›",
    }
    for marker, expected in families.items():
        assert neutralise(f"a {marker} b") == f"a {expected} b"
    # idempotent: a second pass changes nothing
    for marker in families:
        once = neutralise(marker)
        assert neutralise(once) == once


def test_delimiter_removal_cannot_assemble_a_marker():
    assert untrusted("<|<<<im_start|>") == "<<<‹|im_start|›>>>"
    assert untrusted("<>>><<") == "<<<>>>"


@pytest.mark.parametrize("payload", HOSTILE)
def test_transformers_encode_chat_puts_specials_only_where_the_template_does(tiny, payload):
    clean = [
        {"role": "system", "content": "Judge."},
        {"role": "user", "content": "Item: Toy Story"},
    ]
    # Raw content, not through the filter: the backend's own tokenisation must hold.
    hostile = [clean[0], {"role": "user", "content": f"Item: Toy Story {payload}"}]
    specials = special_ids(tiny.tokenizer)
    want = [i for i in tiny.encode_chat(clean) if i in specials]
    got = [i for i in tiny.encode_chat(hostile) if i in specials]
    assert got == want
    assert len(want) >= 4  # the template's own markers are still there


def test_real_smollm2_template_keeps_its_own_markers_only(smol_tokenizer, smollm2):
    from llmrec.backends.hf import TransformersBackend

    model, tokenizer = smollm2
    backend = TransformersBackend.from_model(model, tokenizer, batch_size=4)
    specials = special_ids(smol_tokenizer)
    want = [i for i in backend.encode_chat(judge_chat("Toy Story")) if i in specials]
    for payload in HOSTILE:
        for chat in (judge_chat(f"Toy Story {payload}"), judge_chat("Toy Story", payload)):
            assert [i for i in backend.encode_chat(chat) if i in specials] == want
            # and each message, as sent to a server, parses to no special id at all
            for message in chat:
                assert parsed_specials(smol_tokenizer, message["content"]) == []


def test_grouped_and_served_paths_score_the_neutralised_prompt(tiny):
    from llmrec.backends.grouped import grouped_next_token_logprobs
    from llmrec.backends.openai_compat import OpenAIBackend
    from llmrec.backends.server import serve_in_thread

    system = {"role": "system", "content": "Rate the item from 1 to 5. " * 4}
    hostile = [
        [system, {"role": "user", "content": f"Item {k}: {p}"}]
        for k, p in enumerate([p for p in HOSTILE if neutralise(p) != p][:4])
    ]
    safe = [[m | {"content": tiny.safe_text(m["content"])} for m in c] for c in hostile]
    assert all(h != s for h, s in zip(hostile, safe))
    cands = ["1", "2", "3", "4", "5"]
    direct = tiny.next_token_logprobs(safe, cands)
    grouped = grouped_next_token_logprobs(tiny, hostile, ["u"] * len(hostile), cands)
    np.testing.assert_allclose(grouped, direct, atol=1e-4)
    want = tiny.top_next_tokens(safe, 5)
    with serve_in_thread(tiny, "tiny") as server:
        client = OpenAIBackend("tiny", server.url, max_retries=0)
        for chat, top in zip(hostile, want):
            body = {"messages": chat, "max_tokens": 1, "logprobs": True, "top_logprobs": 5}
            reply = client.request("POST", "chat/completions", body)
            alts = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            assert [a["token"] for a in alts] == [t for t, _ in top]
            np.testing.assert_allclose([a["logprob"] for a in alts], [v for _, v in top], atol=1e-4)
