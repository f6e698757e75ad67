"""Profile generation speed: the batched backend against a one-prompt-at-a-time loop.

    python eval/bench/profiles.py                       # 64 ml-100k users, SmolLM2, 160 tokens
    python eval/bench/profiles.py --users 16 --max-new-tokens 32   # a quick look

The reply budget defaults to the profile builder's own (160 tokens for free text): SmolLM2's
three-to-five-sentence profiles average about 150 tokens, so a smaller budget would time
truncated profiles, not the job users run.

Both sides build the same prompts (ml-100k training histories, the ``recent`` strategy) and
decode greedily with the same reply budget:

* naive: ``model.generate`` on one chat-templated prompt at a time, as a plain script would;
* batched: :class:`llmrec.profiles.ProfileBuilder` over :class:`TransformersBackend` (length-
  sorted, left-padded batches, batch size from memory; the prompts' common system prefix
  prefilled once and the rest in sub-batches of 4, :mod:`llmrec.backends.prefill`), through a
  fresh SQLite response cache;
* cached: the same job again on the warm cache (no model calls).

Prints a table and ends with one JSON line holding ``speedup`` (batched over naive, profiles/s)
and ``cached_speedup`` (first batched run over the cached re-run). Timings share the machine
with whatever else runs: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def naive_generate(model, tokenizer, chats, max_new_tokens: int) -> tuple[list[str], int]:
    """One prompt at a time with ``model.generate``; returns replies and generated tokens."""
    import torch

    replies, tokens = [], 0
    stops = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    for chat in chats:
        enc = tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
        new = out[0, enc["input_ids"].shape[1] :].tolist()
        cut = next((k for k, t in enumerate(new) if t in stops), len(new))
        tokens += cut
        replies.append(tokenizer.decode(new[:cut], skip_special_tokens=True).strip())
    return replies, tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument(
        "--max-new-tokens", type=int, default=None, help="default: the builder's (160 for free)"
    )
    parser.add_argument("--last-n", type=int, default=10, help="history items per prompt")
    parser.add_argument("--batch-size", type=int, default=None, help="default: auto")
    args = parser.parse_args()

    from llmrec.backends.base import GenerationParams
    from llmrec.backends.cache import CachedBackend
    from llmrec.backends.hf import TransformersBackend
    from llmrec.data import leave_one_out, load_dataset
    from llmrec.models import load_causal_lm
    from llmrec.profiles import ProfileBuilder, make_strategy, read_profiles, run_profile_job
    from llmrec.profiles.builder import DEFAULT_MAX_NEW_TOKENS

    args.max_new_tokens = args.max_new_tokens or DEFAULT_MAX_NEW_TOKENS["free"]

    train = leave_one_out(load_dataset("ml-100k")).train
    users = train.active_users()[: args.users]
    model, tokenizer = load_causal_lm(args.model, device="cpu")
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    strategy = make_strategy("recent", last_n=args.last_n)

    with tempfile.TemporaryDirectory() as tmp:
        backend = TransformersBackend.from_model(model, tokenizer, batch_size=args.batch_size)
        cached = CachedBackend(backend, Path(tmp) / "cache.sqlite")
        builder = ProfileBuilder(cached, strategy=strategy, params=params)
        chats = [builder.chat(v) for v in builder.views(train, users)]

        start = time.perf_counter()
        naive_replies, naive_tokens = naive_generate(model, tokenizer, chats, args.max_new_tokens)
        naive_s = time.perf_counter() - start

        start = time.perf_counter()
        run_profile_job(builder, train, users, Path(tmp) / "first.jsonl", batch_size=len(users))
        batched_s = time.perf_counter() - start
        batched_tokens = backend.usage.completion_tokens
        calls = backend.usage.calls

        start = time.perf_counter()
        run_profile_job(builder, train, users, Path(tmp) / "again.jsonl", batch_size=len(users))
        cached_s = time.perf_counter() - start
        if backend.usage.calls != calls:
            raise RuntimeError("the cached re-run called the model")

        first = [r.text for r in read_profiles(Path(tmp) / "first.jsonl").values()]
        again = [r.text for r in read_profiles(Path(tmp) / "again.jsonl").values()]
        agreement = sum(a == b for a, b in zip(first, naive_replies)) / len(users)

    n = len(users)
    rows = [
        ("naive loop", naive_s, n / naive_s, naive_tokens / naive_s),
        ("batched backend", batched_s, n / batched_s, batched_tokens / batched_s),
        ("cached re-run", cached_s, n / cached_s, float("nan")),
    ]
    print(f"{n} ml-100k users, {args.model}, last {args.last_n} items, "
          f"{args.max_new_tokens} new tokens, greedy, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'':<16} {'seconds':>9} {'profiles/s':>11} {'gen tokens/s':>13}")
    for name, secs, pps, tps in rows:
        print(f"{name:<16} {secs:>9.2f} {pps:>11.2f} {tps:>13.1f}")
    summary = {
        "users": n,
        "max_new_tokens": args.max_new_tokens,
        "naive_s": round(naive_s, 3),
        "batched_s": round(batched_s, 3),
        "cached_s": round(cached_s, 4),
        "naive_profiles_per_s": round(n / naive_s, 3),
        "batched_profiles_per_s": round(n / batched_s, 3),
        "naive_tokens_per_s": round(naive_tokens / naive_s, 2),
        "batched_tokens_per_s": round(batched_tokens / batched_s, 2),
        "token_speedup": round((batched_tokens / batched_s) / (naive_tokens / naive_s), 2),
        "speedup": round(naive_s / batched_s, 2),
        "cached_speedup": round(batched_s / cached_s, 1),
        "same_text_as_naive": round(agreement, 3),
        "cached_equals_first": first == again,
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
