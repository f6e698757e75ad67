"""Next-token log-probabilities with a shared prompt prefix computed once per group.

A judge or a reranker scores many items for the same user: the prompts share the system text
and the whole user block, and differ only in the item block at the end. For an in-process transformers model
this computes the shared prefix once (one forward pass, its KV cache kept), copies the cache
across the group, and runs only the differing suffixes, left-padded so that every row's last
token sits at the final position and ``logits_to_keep=1`` suffices. The pads sit between prefix
and suffix; the attention mask hides them and the position ids continue from the prefix, so
the result equals the full forward pass (to float error).

Backends other than :class:`~llmrec.backends.hf.TransformersBackend` (servers, response caches)
get the plain ``next_token_logprobs`` call.

Example:
    >>> lp = grouped_next_token_logprobs(backend, chats, groups, ["1", "2", "3", "4", "5"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence

import numpy as np

from llmrec.backends.base import Backend, Chat
from llmrec.backends.prefill import (
    MIN_SHARED_TOKENS,
    _cache_of,
    cache_kwarg,
    common_prefix_length,
    layout,
)

logger = logging.getLogger(__name__)


def supports_prefix_sharing(backend: Backend) -> bool:
    """True for an in-process transformers backend whose model takes a KV cache."""
    from llmrec.backends.hf import TransformersBackend

    return isinstance(backend, TransformersBackend)


def grouped_next_token_logprobs(
    backend: Backend,
    chats: Sequence[Chat],
    groups: Sequence[Hashable],
    candidates: Sequence[str],
    max_group: int = 64,
) -> np.ndarray:
    """Like ``backend.next_token_logprobs`` but sharing each group's common prompt prefix.

    Args:
        backend: Any backend; only a TransformersBackend shares prefixes.
        chats: The prompts.
        groups: One key per chat (the user id); chats with the same key share a prefix.
        candidates: Single-token candidates (``"1"``..``"5"``).
        max_group: Suffix rows per forward pass.

    Returns:
        Log-probabilities, shape ``(len(chats), len(candidates))``, float32.
    """
    if len(groups) != len(chats):
        raise ValueError(f"got {len(groups)} group keys for {len(chats)} chats")
    if not supports_prefix_sharing(backend):
        return np.asarray(backend.next_token_logprobs(chats, candidates))
    import torch

    token_ids = backend.candidate_token_ids(candidates)
    encoded = [backend.encode_chat(c) for c in chats]
    members: dict[Hashable, list[int]] = {}
    for k, key in enumerate(groups):
        members.setdefault(key, []).append(k)
    out = np.zeros((len(chats), len(candidates)), dtype=np.float32)
    singles: list[int] = []
    index = torch.tensor(token_ids, device=backend.device)
    for rows in members.values():
        # keep at least one token of every suffix, so each row has a last position to score
        shared = min(
            common_prefix_length([encoded[k] for k in rows]), *(len(encoded[k]) - 1 for k in rows)
        )
        if len(rows) < 2 or shared < MIN_SHARED_TOKENS:
            singles.extend(rows)
            continue
        for start in range(0, len(rows), max_group):
            part = rows[start : start + max_group]
            out[part] = _score_group(backend, [encoded[k] for k in part], shared, index)
    if singles:
        out[singles] = backend.next_token_logprobs([chats[k] for k in singles], candidates)
    backend.usage.prompts += len(chats) - len(singles)
    return out


def _score_group(backend, rows: list[list[int]], shared: int, index) -> np.ndarray:
    import torch

    model, device = backend.model, backend.device
    ids, mask = layout(rows, shared, backend.tokenizer.pad_token_id)  # [prefix][pads][suffix]
    prefix = ids[:1, :shared].to(device)  # (1, P)
    attention = mask.to(device)  # (n, P + S)
    input_ids, suffix_mask = ids[:, shared:].to(device), attention[:, shared:]  # (n, S)
    n = len(rows)
    with torch.inference_mode():
        cache = _cache_of(model(input_ids=prefix, use_cache=True, logits_to_keep=1))
        cache.batch_repeat_interleave(n)
        positions = (shared + suffix_mask.cumsum(-1) - 1).clamp(min=shared)  # (n, S)
        logits = model(
            input_ids=input_ids,
            attention_mask=attention,
            position_ids=positions,
            use_cache=True,
            **{cache_kwarg(model): cache},
            logits_to_keep=1,
        ).logits[:, -1, :]  # (n, vocab)
        logprobs = torch.log_softmax(logits.float(), dim=-1)[:, index]  # (n, n_candidates)
    backend.usage.calls += 2
    backend.usage.prompt_tokens += shared + int(suffix_mask.sum())
    return logprobs.cpu().numpy()


def shared_continuation_logprobs(
    backend: Backend,
    chats: Sequence[Chat],
    continuations: Sequence[Sequence[str]],
    end_of_turn: bool = False,
    max_group: int = 64,
) -> list[np.ndarray]:
    """Summed log-probability of each candidate reply, each chat's prompt run once.

    The prompt's KV cache is repeated over a batch of its candidates, which are padded on the
    right and read position by position: ranking 50 candidate titles costs about as much as 5
    full prompts. Equal to ``backend.score_continuations`` to float error; backends other than
    an in-process transformers one get that call.

    Args:
        backend: Any backend.
        chats: Prompts.
        continuations: ``continuations[i]`` holds the candidate replies of ``chats[i]``.
        end_of_turn: Append the end-of-turn (eos) token to every candidate, so that a title
            scores as the complete reply rather than as the prefix of a longer one (needs an
            in-process transformers backend, which knows its eos token).
        max_group: Candidates per forward pass.

    Returns:
        One array per chat, shape ``(len(continuations[i]),)``, float64.
    """
    if len(continuations) != len(chats):
        raise ValueError(
            f"continuations has {len(continuations)} lists for {len(chats)} chats; "
            "give one list of candidate replies per chat"
        )
    if not supports_prefix_sharing(backend):
        if end_of_turn:
            raise ValueError(
                f"end_of_turn scoring needs an in-process transformers backend, got "
                f"{type(backend).__name__}"
            )
        return [
            np.asarray(a, dtype=np.float64)
            for a in backend.score_continuations(chats, continuations)
        ]
    import torch

    tokenizer, device = backend.tokenizer, backend.device
    suffix = [tokenizer.eos_token_id] if end_of_turn else []
    results = []
    for i, (chat, conts) in enumerate(zip(chats, continuations)):
        ids = [tokenizer(c, add_special_tokens=False)["input_ids"] + suffix for c in conts]
        for j, row in enumerate(ids):
            if not row:
                raise ValueError(f"continuation {j} of chat {i} is empty: {conts[j]!r}")
        prompt = backend.encode_chat(chat)
        scores = np.zeros(len(conts), dtype=np.float64)
        with torch.inference_mode():
            prefix = torch.tensor([prompt], device=device)  # (1, P)
            first = backend.model(input_ids=prefix, use_cache=True)
            first_logp = torch.log_softmax(first.logits[0, -1].float(), dim=-1)  # (vocab,)
            backend.usage.calls += 1
            backend.usage.prompt_tokens += len(prompt)
            for start in range(0, len(ids), max_group):
                scores[start : start + max_group] = _score_continuations_on_cache(
                    backend, first.cache, first_logp, len(prompt), ids[start : start + max_group]
                )
        results.append(scores)
    backend.usage.prompts += sum(len(c) for c in continuations)
    return results


def _score_continuations_on_cache(backend, cache, first_logp, prefix_len: int, rows) -> np.ndarray:
    import copy

    import torch

    device, pad = backend.device, backend.tokenizer.pad_token_id
    n, width = len(rows), max(len(r) for r in rows)
    ids = torch.full((n, width), pad, dtype=torch.long)  # (n, L), right-padded
    mask = torch.zeros((n, width), dtype=torch.long)  # (n, L)
    for b, row in enumerate(rows):
        ids[b, : len(row)] = torch.tensor(row)
        mask[b, : len(row)] = 1
    ids, mask = ids.to(device), mask.to(device)
    total = first_logp[ids[:, 0]]  # (n,)
    if width > 1:
        past = copy.deepcopy(cache)
        past.batch_repeat_interleave(n)
        full_mask = torch.cat(
            [torch.ones((n, prefix_len), dtype=torch.long, device=device), mask], dim=1
        )  # (n, P + L)
        logits = backend.model(
            input_ids=ids[:, :-1], attention_mask=full_mask[:, :-1], cache=past, use_cache=True
        ).logits  # (n, L - 1, vocab)
        picked = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
        total = total + (picked * mask[:, 1:]).sum(dim=1)  # (n,)
        backend.usage.calls += 1
        backend.usage.prompt_tokens += int(mask.sum())
    return total.cpu().numpy()
