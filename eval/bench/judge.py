"""Judge speed: logprob mode vs batched rationale mode vs a one-at-a-time generate-and-parse loop.

The same (user, item) pairs from ml-100k (leave-one-out test item and sampled negatives, the
judge shown each user's recent training history) are judged three ways with SmolLM2:

1. logprob: one forward pass per batch reads P("1".."5"); expected score, nothing to parse;
2. rationale (batched): the judge writes a sentence and "Score: N", parsed with repair;
3. loop: the same rationale prompt, one pair per generate call (how a naive judge runs).

Prints a table (judgments/s, seconds, parse failures) and the Kendall tau between the modes'
scores, and ends with one line of JSON holding ``speedup_vs_loop`` and ``speedup_vs_rationale``.

Run:
    OMP_NUM_THREADS=2 .venv/bin/python eval/bench/judge.py --pairs 64
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--pairs", type=int, default=64, help="(user, item) pairs (default 64)")
    parser.add_argument("--per-user", type=int, default=4, help="items per user (default 4)")
    parser.add_argument("--max-history", type=int, default=10, help="history items shown")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="rationale budget")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-share-prefix",
        action="store_true",
        help="logprob mode without per-user prefix sharing (the plain batched forward pass)",
    )
    args = parser.parse_args()

    import numpy as np

    from llmrec.backends.hf import TransformersBackend
    from llmrec.context.view import UserContext
    from llmrec.data import leave_one_out, load_dataset
    from llmrec.data.sampling import sample_users
    from llmrec.judge.pointwise import PointwiseJudge, parse_summary
    from llmrec.judge.validate import heldout_candidates
    from llmrec.metrics.stats import kendall_tau

    split = leave_one_out(load_dataset("ml-100k"))
    n_users = -(-args.pairs // args.per_user)
    eligible = list(dict.fromkeys(split.test.interactions["user_id"].tolist()))
    users = sample_users(eligible, n_users, args.seed)
    cands = heldout_candidates(split, users, args.per_user - 1, args.seed)
    items = split.train.items
    pairs = [(u, items[i]) for u, pos, negs in cands for i in [pos, *negs]][: args.pairs]

    backend = TransformersBackend(args.model, batch_size=args.batch_size)
    context = UserContext(history=split.train, max_history=args.max_history)
    logprob = PointwiseJudge(
        backend, context, sees="history", mode="logprob", share_prefix=not args.no_share_prefix
    )
    rationale = PointwiseJudge(
        backend, context, sees="history", mode="rationale", max_new_tokens=args.max_new_tokens
    )
    prompt_tokens = [len(backend.encode_chat(logprob.chat(u, it))) for u, it in pairs]
    logprob.judge(pairs[:2])  # warm-up (first-call allocations), not timed

    runs = {}
    start = time.perf_counter()
    runs["logprob"] = logprob.judge(pairs)
    t_logprob = time.perf_counter() - start
    start = time.perf_counter()
    runs["rationale"] = rationale.judge(pairs)
    t_rationale = time.perf_counter() - start
    start = time.perf_counter()
    runs["loop"] = [rationale.judge([pair])[0] for pair in pairs]
    t_loop = time.perf_counter() - start

    seconds = {"logprob": t_logprob, "rationale": t_rationale, "loop": t_loop}
    scores = {
        k: np.array([np.nan if j.score is None else j.score for j in v]) for k, v in runs.items()
    }

    def tau(a: str, b: str) -> float:
        ok = ~np.isnan(scores[a]) & ~np.isnan(scores[b])
        return kendall_tau(scores[a][ok], scores[b][ok]) if ok.sum() > 2 else float("nan")

    print(
        f"{len(pairs)} pairs, {len(users)} users, prompt tokens mean "
        f"{np.mean(prompt_tokens):.0f} (max {max(prompt_tokens)}), model {args.model}, "
        f"batch {args.batch_size}, rationale budget {args.max_new_tokens} tokens, "
        f"shared prefix {'off' if args.no_share_prefix else 'on'}"
    )
    print(f"{'mode':<22}{'seconds':>10}{'judgments/s':>14}{'unparsed':>10}  parse outcomes")
    for name, label in [
        ("logprob", "logprob (batched)"),
        ("rationale", "rationale (batched)"),
        ("loop", "rationale loop (1 by 1)"),
    ]:
        summary = parse_summary(runs[name])
        print(
            f"{label:<22}{seconds[name]:>10.1f}{len(pairs) / seconds[name]:>14.2f}"
            f"{summary.get('failed', 0):>10}  {summary}"
        )
    taus = {
        "logprob_vs_rationale": tau("logprob", "rationale"),
        "logprob_vs_loop": tau("logprob", "loop"),
        "rationale_vs_loop": tau("rationale", "loop"),
    }
    for key, value in taus.items():
        print(f"Kendall tau {key}: {value:.3f}")
    result = {
        "pairs": len(pairs),
        "model": args.model,
        "per_user": args.per_user,
        "share_prefix": not args.no_share_prefix,
        "judgments_per_s": {k: len(pairs) / v for k, v in seconds.items()},
        "seconds": seconds,
        "unparsed": {k: parse_summary(v).get("failed", 0) for k, v in runs.items()},
        "kendall_tau": taus,
        "speedup_vs_loop": t_loop / t_logprob,
        "speedup_vs_rationale": t_rationale / t_logprob,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
