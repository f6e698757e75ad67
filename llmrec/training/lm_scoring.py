"""Scoring with the model being trained, for evaluation inside a recipe.

A recipe evaluates the model it holds (a peft-wrapped model, possibly with the adapter switched
off to get the untuned baseline), so these helpers take ``(model, tokenizer)`` rather than a
:class:`~llmrec.backends.base.Backend`. They follow the backend protocol's definitions:

- :func:`next_token_logprobs`: log-probabilities of single-token candidates right after the
  chat's generation prompt, under the full vocabulary;
- :func:`continuation_logprobs`: summed log-probability of each candidate reply followed by
  the end-of-turn token, so a title's score is the probability of exactly that reply.

Sampling from the model being trained goes through
:meth:`llmrec.backends.hf.TransformersBackend.from_model` instead.

:func:`continuation_logprobs` runs the shared prompt once per chat and scores the candidates
as a batch on its KV cache, which makes ranking 50 candidate titles about as costly as 5 full
prompts.

Example:
    >>> from llmrec.models import load_causal_lm
    >>> model, tok = load_causal_lm("tiny-random-llama")  # doctest: +SKIP
    >>> chat = [{"role": "user", "content": "Will the user like Toy Story?"}]
    >>> next_token_logprobs(model, tok, [chat], ["Yes", "No"]).shape  # doctest: +SKIP
    (1, 2)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

Chat = list[dict[str, str]]


def prompt_ids(tokenizer: Any, chat: Chat) -> list[int]:
    """Token ids of a chat rendered with the generation prompt (as trl tokenizes prompts)."""
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def single_token_ids(tokenizer: Any, candidates: Sequence[str]) -> list[int]:
    """The token id of each candidate; ``ValueError`` names a candidate that is not one token."""
    ids = []
    for cand in candidates:
        toks = tokenizer(cand, add_special_tokens=False)["input_ids"]
        if len(toks) != 1:
            raise ValueError(f"candidate {cand!r} is {len(toks)} tokens {toks}, not a single token")
        ids.append(toks[0])
    return ids


def _device(model: Any):
    return next(model.parameters()).device


def _cache_kwarg(model: Any) -> str:
    """``"cache"`` (transformers >= 5.2x) or ``"past_key_values"``: the forward's KV-cache argument."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def next_token_logprobs(
    model: Any,
    tokenizer: Any,
    chats: Sequence[Chat],
    candidates: Sequence[str],
    batch_size: int = 16,
) -> np.ndarray:
    """Log-probabilities of single-token ``candidates`` after each chat's generation prompt.

    Args:
        model: A causal LM (plain or peft-wrapped).
        tokenizer: Its tokenizer, with a chat template.
        chats: Chats to score.
        candidates: Single-token strings such as ``"Yes"``, ``"No"``.
        batch_size: Prompts per forward pass (left-padded, last position only).

    Returns:
        Array of shape ``(len(chats), len(candidates))``, log-softmax over the full vocabulary.
    """
    import torch

    cand_ids = single_token_ids(tokenizer, candidates)
    device = _device(model)
    pad = tokenizer.pad_token_id
    out = np.zeros((len(chats), len(cand_ids)), dtype=np.float64)
    encoded = [prompt_ids(tokenizer, chat) for chat in chats]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(encoded), batch_size):
                batch = encoded[start : start + batch_size]
                width = max(len(ids) for ids in batch)
                input_ids = torch.full((len(batch), width), pad, dtype=torch.long)  # (B, T)
                mask = torch.zeros((len(batch), width), dtype=torch.long)  # (B, T)
                for row, ids in enumerate(batch):
                    input_ids[row, width - len(ids) :] = torch.tensor(ids)
                    mask[row, width - len(ids) :] = 1
                logits = model(
                    input_ids=input_ids.to(device), attention_mask=mask.to(device), logits_to_keep=1
                ).logits[:, -1, :]  # (B, V)
                logp = torch.log_softmax(logits.float(), dim=-1)[:, cand_ids]  # (B, C)
                out[start : start + len(batch)] = logp.cpu().numpy()
    finally:
        model.train(was_training)
    return out


def yes_probability(model: Any, tokenizer: Any, chats: Sequence[Chat], batch_size: int = 16):
    """P("Yes") renormalised over {"Yes", "No"} at the answer position, shape ``(len(chats),)``."""
    logp = next_token_logprobs(model, tokenizer, chats, ["Yes", "No"], batch_size)  # (N, 2)
    return 1.0 / (1.0 + np.exp(logp[:, 1] - logp[:, 0]))


def continuation_logprobs(
    model: Any,
    tokenizer: Any,
    chats: Sequence[Chat],
    continuations: Sequence[Sequence[str]],
    batch_size: int = 64,
    end_of_turn: bool = True,
) -> list[np.ndarray]:
    """Summed log-probability of each candidate reply after each chat's generation prompt.

    The prompt runs once; its KV cache is repeated over a batch of candidates, which are padded
    on the right and read position by position.

    Args:
        model: A causal LM (plain or peft-wrapped).
        tokenizer: Its tokenizer, with a chat template and an eos (end-of-turn) token.
        chats: Prompts.
        continuations: ``continuations[i]`` holds the candidate replies for ``chats[i]``.
        batch_size: Candidates per forward pass.
        end_of_turn: Append the eos token to each candidate, so that a title scores as the
            complete reply rather than as a prefix of a longer one.

    Returns:
        One array per chat, shape ``(len(continuations[i]),)``.
    """
    import torch

    if len(chats) != len(continuations):
        raise ValueError(f"{len(chats)} chats but {len(continuations)} continuation lists")
    device = _device(model)
    pad = tokenizer.pad_token_id
    suffix = [tokenizer.eos_token_id] if end_of_turn else []
    results: list[np.ndarray] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for chat, conts in zip(chats, continuations):
                prefix = torch.tensor([prompt_ids(tokenizer, chat)], device=device)  # (1, P)
                first = model(input_ids=prefix, use_cache=True)
                first_logp = torch.log_softmax(first.logits[0, -1].float(), dim=-1)  # (V,)
                cache_arg = _cache_kwarg(model)
                cache = getattr(first, cache_arg)
                scores = np.zeros(len(conts), dtype=np.float64)
                cont_ids = [
                    tokenizer(c, add_special_tokens=False)["input_ids"] + suffix for c in conts
                ]
                for start in range(0, len(cont_ids), batch_size):
                    batch = cont_ids[start : start + batch_size]
                    if any(not ids for ids in batch):
                        raise ValueError("an empty continuation cannot be scored")
                    width = max(len(ids) for ids in batch)
                    ids_t = torch.full((len(batch), width), pad, dtype=torch.long)  # (B, L)
                    mask = torch.zeros((len(batch), width), dtype=torch.long)  # (B, L)
                    for row, ids in enumerate(batch):
                        ids_t[row, : len(ids)] = torch.tensor(ids)
                        mask[row, : len(ids)] = 1
                    ids_t, mask = ids_t.to(device), mask.to(device)
                    total = first_logp[ids_t[:, 0]]  # (B,)
                    if width > 1:
                        past = copy.deepcopy(cache)
                        past.batch_repeat_interleave(len(batch))
                        full_mask = torch.cat(
                            [
                                torch.ones(
                                    (len(batch), prefix.shape[1]), dtype=torch.long, device=device
                                ),
                                mask,
                            ],
                            dim=1,
                        )  # (B, P + L)
                        logits = model(
                            input_ids=ids_t[:, :-1],
                            attention_mask=full_mask[:, :-1],
                            **{cache_arg: past},
                            use_cache=True,
                        ).logits  # (B, L - 1, V)
                        logp = torch.log_softmax(logits.float(), dim=-1)
                        picked = logp.gather(-1, ids_t[:, 1:, None])[..., 0]  # (B, L - 1)
                        total = total + (picked * mask[:, 1:]).sum(dim=1)
                    scores[start : start + len(batch)] = total.cpu().numpy()
                results.append(scores)
    finally:
        model.train(was_training)
    return results
